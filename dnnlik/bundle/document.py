"""Parse ``bundle.json`` strictly, turning every defect into a located problem.

Strict means: UTF-8 without a byte-order mark; valid JSON; no duplicate keys
(readers in other languages would silently keep different ones); no NaN or
Infinity (not JSON, though Python writes them) and no number beyond the range
of a double (such as 1e400 or a 400-digit integer); no unpaired surrogate
(``"\\ud800"``), which RFC 8785 cannot canonicalise; a JSON object at the top;
arrays and objects nested at most :data:`MAX_JSON_DEPTH` (64) deep, the top-level
object being depth 1 (``json:too-deep``). The depth is checked on the text, in
linear time and without recursion, before any parser sees it; canonicalisation,
schema validation and the test-vector checks apply the same limit.

:func:`loads_bounded` is the same depth and size limit for any other JSON that
dnnlik reads from outside (indexes, records, metadata).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..digest import MAX_JSON_DEPTH
from ..errors import InvalidInputError
from ..report import Problem, json_pointer
from .source import MAX_DOCUMENT_BYTES

__all__ = ["parse_document", "iter_nonfinite", "loads_bounded", "find_too_deep", "json_depth", "MAX_JSON_DEPTH"]


_QUOTE, _BACKSLASH, _COMMA, _COLON = 0x22, 0x5C, 0x2C, 0x3A
_OPENERS, _CLOSERS = (0x5B, 0x7B), (0x5D, 0x7D)
_CHUNK = 1 << 20


def _profile(
    a: np.ndarray, backslashes: int, in_string: int, depth: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Nesting depth after each byte of ``a`` (a slice of UTF-8 JSON text), given the state before it.

    The state: how many backslashes end the text before ``a``, whether it ends inside a string,
    and the depth there. Returns ``(depth, step, outside, backslashes, in_string)``: the depth
    after each byte, +1/-1/0 per byte (brackets outside strings), whether each byte is outside a
    string, and the state after ``a``. A quote preceded by an odd run of backslashes is escaped;
    in any prefix of valid JSON backslashes occur only inside strings, so this is exact where a
    JSON parser would get to. Multi-byte UTF-8 never holds ASCII bytes, so bytes can be scanned.
    """
    n = a.size
    index_type = np.int32 if n < 2**31 else np.int64
    is_backslash = a == _BACKSLASH
    quotes = np.flatnonzero(a == _QUOTE)
    if backslashes or is_backslash.any():  # (a quote first in ``a`` may be escaped by the text before it)
        last = np.where(is_backslash, np.array(-1 - backslashes, index_type), np.arange(n, dtype=index_type))
        np.maximum.accumulate(last, out=last)
        before = quotes - 1
        run = np.where(before >= 0, before - last[np.maximum(before, 0)], backslashes)
        quotes = quotes[run % 2 == 0]
        backslashes = int(n - 1 - last[-1])
    else:
        backslashes = 0
    toggles = np.zeros(n, np.uint8)
    toggles[quotes] = 1
    toggles[0] ^= in_string
    inside = np.bitwise_xor.accumulate(toggles)
    outside = inside == 0
    step = np.zeros(n, np.int8)
    step[np.isin(a, _OPENERS) & outside] = 1
    step[np.isin(a, _CLOSERS) & outside] = -1
    depths: np.ndarray = np.cumsum(step, dtype=np.int64 if n >= 2**31 else np.int32)
    depths += depth
    return depths, step, outside, backslashes, int(inside[-1])


def find_too_deep(text: str | bytes, max_depth: int = MAX_JSON_DEPTH) -> tuple[int, str] | None:
    """Where JSON ``text`` first nests arrays and objects deeper than ``max_depth``: None if it never does.

    The top-level value is depth 1. Returns the offset (in ``text``'s own units: characters or
    bytes) of the first bracket beyond the limit and a description of the place (JSON pointer,
    line and column). Linear time in chunks of a megabyte, no recursion; brackets inside strings
    do not count. The text need not be valid JSON; after a string that never ends nothing counts.

    >>> find_too_deep("[[[1]]]", max_depth=2)
    (2, '/0/0 (line 1, column 3)')

    Args:
        text: JSON text, as characters or UTF-8 bytes.
        max_depth: the deepest nesting allowed.

    Returns:
        ``(offset, place)`` of the first bracket beyond ``max_depth``, or None.
    """
    data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    a = np.frombuffer(data, dtype=np.uint8)
    state = (0, 0, 0)  # backslashes, in_string, depth
    for start in range(0, a.size, _CHUNK):
        depths, _, _, backslashes, in_string = _profile(a[start : start + _CHUNK], *state)
        beyond = depths > max_depth
        if beyond.any():
            offset = start + int(np.argmax(beyond))
            place = _place(data, offset)
            if not isinstance(text, bytes):
                offset = len(data[:offset].decode("utf-8", "surrogatepass"))
            return offset, place
        state = (backslashes, in_string, int(depths[-1]))
    return None


def json_depth(text: str | bytes) -> int:
    """The deepest nesting of arrays and objects in JSON ``text`` (strings skipped; the top level is 1).

    The same linear, chunked scan as :func:`find_too_deep`, without recursion.

    >>> json_depth('{"a": [1, "[[["], "b": {}}')
    2
    """
    data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    a = np.frombuffer(data, dtype=np.uint8)
    state, deepest = (0, 0, 0), 0
    for start in range(0, a.size, _CHUNK):
        depths, _, _, backslashes, in_string = _profile(a[start : start + _CHUNK], *state)
        deepest = max(deepest, int(depths.max()))
        state = (backslashes, in_string, int(depths[-1]))
    return deepest


def _place(data: bytes, offset: int) -> str:
    """The JSON pointer of the array or object opening at byte ``offset``, with its line and column.

    Vectorised over the text before it (used once, for the message): the enclosing openers are
    the ones the depth never falls below afterwards; an array's index counts its own commas, an
    object's key is the string before its own last colon.
    """
    a = np.frombuffer(data, dtype=np.uint8)[: offset + 1]
    depths, step, outside, _, _ = _profile(a, 0, 0, 0)
    lowest_after = np.minimum.accumulate(depths[::-1])[::-1]
    openers = np.flatnonzero((step == 1) & (lowest_after == depths))
    commas = np.flatnonzero((a == _COMMA) & outside)
    colons = np.flatnonzero((a == _COLON) & outside)
    # the quotes that open or close a string: where the byte's side differs from the one before it
    quotes = np.flatnonzero((a == _QUOTE) & (outside != np.concatenate(([True], outside[:-1]))))
    parts: list[Any] = []
    for level, (here, child) in enumerate(zip(openers[:-1], openers[1:], strict=True), start=1):
        lo, hi = np.searchsorted(commas, here), np.searchsorted(commas, child)
        if a[here] == 0x5B:
            parts.append(int(np.count_nonzero(depths[commas[lo:hi]] == level)))
            continue
        lo, hi = np.searchsorted(colons, here), np.searchsorted(colons, child)
        own = colons[lo:hi][depths[colons[lo:hi]] == level]
        if own.size == 0:
            parts.append("")
            continue
        end = int(np.searchsorted(quotes, own[-1])) - 1  # the key's closing quote, then its opening one
        key = data[int(quotes[end - 1]) : int(quotes[end]) + 1] if end >= 1 else b'""'
        try:
            parts.append(json.loads(key.decode("utf-8", "replace")))
        except ValueError:
            parts.append(key[1:-1].decode("utf-8", "replace"))
    pointer = json_pointer(parts)
    if len(pointer) > 120:
        pointer = pointer[:117] + "..."
    line = data.count(b"\n", 0, offset) + 1
    column = len(data[data.rfind(b"\n", 0, offset) + 1 : offset].decode("utf-8", "replace")) + 1
    return f"{pointer or '/'} (line {line}, column {column})"


def _too_deep_message(place: str, max_depth: int) -> str:
    return f"nests arrays and objects more than {max_depth} deep (the limit) at {place}"


def loads_bounded(
    data: str | bytes,
    *,
    max_depth: int = MAX_JSON_DEPTH,
    max_bytes: int = MAX_DOCUMENT_BYTES,
    where: str | None = None,
) -> Any:
    """``json.loads`` for JSON from outside (a file, a download), with explicit limits.

    Refuses, with :class:`~dnnlik.errors.InvalidInputError` (a ValueError) naming ``where``:
    more than ``max_bytes`` bytes (UTF-8), bytes that are not UTF-8, nesting deeper than
    ``max_depth`` (checked on the text first, without recursion), and text that is not JSON
    (including integers too long for Python to read). Never raises RecursionError, however
    deep the input. NaN and Infinity literals are read as Python reads them;
    :func:`parse_document` is the strict reader of ``bundle.json``.

    Args:
        data: the JSON text, as characters or bytes (UTF-8, a byte-order mark allowed).
        max_depth: the deepest nesting allowed.
        max_bytes: the largest size allowed, in UTF-8 bytes.
        where: the place named in errors (a file, a URL).

    Returns:
        The value, as ``json.loads`` gives it.

    Raises:
        InvalidInputError: the text is too large, too deep, not UTF-8 or not JSON.
    """
    if isinstance(data, (bytes, bytearray)) or len(data) > max_bytes:  # a character is 1 to 4 bytes
        size = len(data)
    else:
        size = len(data.encode("utf-8", "surrogatepass")) if len(data) * 4 > max_bytes else 0
    if size > max_bytes:
        raise InvalidInputError(f"holds at least {size} bytes of JSON, more than the {max_bytes} allowed", where=where)
    if isinstance(data, (bytes, bytearray)):
        try:
            text = bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InvalidInputError(f"is not UTF-8 (byte offset {exc.start})", where=where) from None
    else:
        text = data
    deep = find_too_deep(text, max_depth)
    if deep is not None:
        raise InvalidInputError(_too_deep_message(deep[1], max_depth), where=where)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", where=where
        ) from None
    except (ValueError, RecursionError) as exc:  # an integer beyond Python's digit limit; a deep stack
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        raise InvalidInputError(f"cannot be read as JSON: {reason}", where=where) from None


class _NonFinite(float):
    """A number Python's parser accepts but a double cannot hold: NaN, +-Infinity, or
    a literal beyond the range of a double (1e400, a 400-digit integer). Its value is
    NaN or +-inf; ``text`` keeps the literal for the message."""

    text: str

    def __new__(cls, text: str) -> _NonFinite:
        value = math.nan if text == "NaN" else -math.inf if text.startswith("-") else math.inf
        obj = super().__new__(cls, value)
        obj.text = text
        return obj

    @property
    def out_of_range(self) -> bool:
        return self.text not in ("NaN", "Infinity", "-Infinity")


_MAX_INT_DIGITS = 400  # beyond any double, and below Python's int-parsing limit (4300 digits)


def _parse_float(text: str) -> float:
    value = float(text)
    return value if math.isfinite(value) else _NonFinite(text)


def _parse_int(text: str) -> int | float:
    if len(text) > _MAX_INT_DIGITS:
        return _NonFinite(text)
    value = int(text)
    try:
        float(value)
    except OverflowError:
        return _NonFinite(text)
    return value


def _literal(text: str, limit: int = 24) -> str:
    return text if len(text) <= limit else f"{text[:12]}... ({len(text)} characters)"


def _nonfinite_problem(value: float, location: str) -> Problem:
    if isinstance(value, _NonFinite) and value.out_of_range:
        return Problem(
            "json:number-range",
            f"number {_literal(value.text)} is beyond the range of a double (JSON numbers must be IEEE 754 doubles)",
            location,
        )
    text = value.text if isinstance(value, _NonFinite) else str(value)
    return Problem("json:non-finite", f"{text} is not a JSON number (JSON has no NaN or Infinity)", location)


_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # the only way a surrogate gets into parsed UTF-8 text

# A place in a document, as a linked list: None for the root, else (parent place, key or index).
# Walks keep one small tuple per value instead of a copy of the whole path (linear, not depth x size).
_Place = Any


def _pointer(place: _Place) -> str:
    parts = []
    while place is not None:
        place, key = place
        parts.append(key)
    return json_pointer(parts[::-1])


def _children(item: Any) -> Iterator[tuple[Any, Any]]:
    """(key, value) of an object's members or (index, value) of an array's elements, in order."""
    return iter(item.items()) if isinstance(item, dict) else enumerate(item)


def _has_surrogate_key(item: Any) -> bool:
    return isinstance(item, dict) and any(_SURROGATE.search(k) for k in item)


def _lone_surrogate(document: Any) -> str | None:
    """Pointer to the first string holding an unpaired surrogate (for a key: to its object); None if none.

    Python's parser turns an escaped pair into one character, so any surrogate left is unpaired.
    Depth-first in document order, without recursion (a stack of iterators, one per open container).
    """
    if isinstance(document, str):
        return "" if _SURROGATE.search(document) else None
    if not isinstance(document, (dict, list)):
        return None
    if _has_surrogate_key(document):
        return ""
    stack: list[tuple[Iterator[tuple[Any, Any]], _Place]] = [(_children(document), None)]
    while stack:
        children, place = stack[-1]
        for key, item in children:
            if isinstance(item, str):
                if _SURROGATE.search(item):
                    return _pointer((place, key))
            elif isinstance(item, (dict, list)):
                if _has_surrogate_key(item):
                    return _pointer((place, key))
                stack.append((_children(item), (place, key)))
                break
        else:
            stack.pop()
    return None


def _pointers_of_objects(document: Any, wanted: set[int]) -> dict[int, str]:
    """``id(obj) -> JSON pointer`` for the objects (dicts) inside ``document`` whose ids are ``wanted``."""
    out: dict[int, str] = {}
    if not isinstance(document, (dict, list)):
        return out
    if id(document) in wanted:
        out[id(document)] = ""
    stack: list[tuple[Iterator[tuple[Any, Any]], _Place]] = [(_children(document), None)]
    while stack:
        children, place = stack[-1]
        for key, item in children:
            if isinstance(item, (dict, list)):
                if id(item) in wanted:
                    out[id(item)] = _pointer((place, key))
                stack.append((_children(item), (place, key)))
                break
        else:
            stack.pop()
    return out


def parse_document(data: bytes, file: str = "bundle.json") -> tuple[dict[str, Any] | None, list[Problem]]:
    """Return ``(document, problems)``; the document is None when it cannot be used at all.

    The strict reader of ``bundle.json``: UTF-8 without a byte-order mark,
    JSON (RFC 8259) within the spec's limits, no NaN or infinity.

    Args:
        data: the file's bytes.
        file: its name in the bundle (the problems' location).

    Returns:
        The document (an object), or None, and every problem found.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return None, [Problem("json:bom", "starts with a UTF-8 byte-order mark, which JSON text must not have", file)]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, [
            Problem(
                "json:not-utf8",
                f"is not UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start} (line {line}) is invalid",
                file,
            )
        ]
    deep = find_too_deep(data)
    if deep is not None:
        return None, [Problem("json:too-deep", _too_deep_message(deep[1], MAX_JSON_DEPTH), file)]
    duplicates: list[tuple[str, dict[str, Any]]] = []  # (key, the object holding it twice)
    nonfinite: list[float] = []  # the numbers no double holds, as the hooks below read them

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                duplicates.append((key, out))
            out[key] = value
        return out

    def noting(parse: Any) -> Any:
        def hook(literal: str) -> Any:
            value = parse(literal)
            if isinstance(value, _NonFinite):
                nonfinite.append(value)
            return value

        return hook

    try:
        document = json.loads(
            text,
            object_pairs_hook=pairs_hook,
            parse_constant=noting(_NonFinite),
            parse_float=noting(_parse_float),
            parse_int=noting(_parse_int),
        )
    except json.JSONDecodeError as exc:
        return None, [
            Problem("json:invalid", f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", file)
        ]
    except RecursionError:
        return None, [Problem("json:too-deep", "nests arrays or objects too deeply to be read", file)]
    surrogate = _lone_surrogate(document) if _SURROGATE_ESCAPE.search(text) else None
    if surrogate is not None:
        return None, [
            Problem(
                "json:lone-surrogate",
                "holds a \\u escape of an unpaired UTF-16 surrogate, which is not a Unicode character "
                "(readers would decode it differently)",
                f"{file}#{surrogate}" if surrogate else file,
            )
        ]
    objects = _pointers_of_objects(document, {id(obj) for _, obj in duplicates}) if duplicates else {}
    problems = [
        Problem(
            "json:duplicate-key",
            f"key {key!r} appears more than once in one object (readers would disagree on its value)",
            f"{file}#{objects[id(obj)]}{json_pointer([key])}" if id(obj) in objects else file,
        )
        for key, obj in duplicates
    ]
    if not isinstance(document, dict):
        problems.append(Problem("json:not-object", f"must hold a JSON object, not a {type(document).__name__}", file))
        return None, problems
    if nonfinite:
        problems += [_nonfinite_problem(value, f"{file}#{pointer}") for pointer, value in iter_nonfinite(document)]
    return document, problems


def iter_nonfinite(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[str, float]]:
    """JSON pointers and values of every NaN or infinite float inside ``value``, in document order.

    Linear time, no recursion (a stack of iterators, one per open array or object).

    >>> list(iter_nonfinite({"a": [1.0, float("inf")]}))
    [('/a/1', inf)]

    Args:
        value: a JSON value, as Python reads it.
        path: the keys and indices leading to ``value`` (the pointers start with them).

    Yields:
        ``(pointer, value)`` for each non-finite float.
    """
    if isinstance(value, float):
        if not math.isfinite(value):
            yield json_pointer(path), value
        return
    if not isinstance(value, (dict, list)):
        return
    root: _Place = None
    for key in path:
        root = (root, key)
    stack: list[tuple[Iterator[tuple[Any, Any]], _Place]] = [(_children(value), root)]
    while stack:
        children, place = stack[-1]
        for key, item in children:
            if isinstance(item, float):
                if not math.isfinite(item):
                    yield _pointer((place, key)), item
            elif isinstance(item, (dict, list)):
                stack.append((_children(item), (place, key)))
                break
        else:
            stack.pop()
