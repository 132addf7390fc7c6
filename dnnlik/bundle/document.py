"""Parse ``bundle.json`` strictly, turning every defect into a located problem.

Strict means: UTF-8 without a byte-order mark; valid JSON; no duplicate keys
(readers in other languages would silently keep different ones); no NaN or
Infinity (not JSON, though Python writes them) and no number beyond the range
of a double (such as 1e400 or a 400-digit integer); no unpaired surrogate
(``"\\ud800"``), which RFC 8785 cannot canonicalise; a JSON object at the top.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Iterator

from ..report import Problem, json_pointer

__all__ = ["parse_document", "iter_nonfinite"]


class _NonFinite(float):
    """A number Python's parser accepts but a double cannot hold: NaN, +-Infinity, or
    a literal beyond the range of a double (1e400, a 400-digit integer). Its value is
    NaN or +-inf; ``text`` keeps the literal for the message."""

    text: str

    def __new__(cls, text: str) -> "_NonFinite":
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


def _lone_surrogate(document: Any) -> str | None:
    """Pointer to the first string holding an unpaired surrogate (for a key: to its object); None if none.

    Python's parser turns an escaped pair into one character, so any surrogate left is unpaired.
    """
    stack: list[tuple[Any, tuple[Any, ...]]] = [(document, ())]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return json_pointer(where)
        elif isinstance(item, dict):
            if any(_SURROGATE.search(k) for k in item):
                return json_pointer(where)
            stack.extend((v, where + (k,)) for k, v in reversed(list(item.items())))
        elif isinstance(item, list):
            stack.extend((v, where + (i,)) for i, v in reversed(list(enumerate(item))))
    return None


def _pointers_of_objects(document: Any) -> dict[int, str]:
    """``id(obj) -> JSON pointer`` for every object (dict) inside ``document``."""
    out: dict[int, str] = {}
    stack: list[tuple[Any, tuple[Any, ...]]] = [(document, ())]
    while stack:
        item, where = stack.pop()
        if isinstance(item, dict):
            out[id(item)] = json_pointer(where)
            stack.extend((v, where + (k,)) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((v, where + (i,)) for i, v in enumerate(item))
    return out


def parse_document(data: bytes, file: str = "bundle.json") -> tuple[dict[str, Any] | None, list[Problem]]:
    """Return ``(document, problems)``; the document is None when it cannot be used at all."""
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
    duplicates: list[tuple[str, dict[str, Any]]] = []  # (key, the object holding it twice)

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                duplicates.append((key, out))
            out[key] = value
        return out

    try:
        document = json.loads(
            text, object_pairs_hook=pairs_hook, parse_constant=_NonFinite, parse_float=_parse_float, parse_int=_parse_int
        )
    except json.JSONDecodeError as exc:
        return None, [Problem("json:invalid", f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", file)]
    except RecursionError:
        return None, [Problem("json:too-deep", "nests arrays or objects too deeply to be read", file)]
    surrogate = _lone_surrogate(document)
    if surrogate is not None:
        return None, [
            Problem(
                "json:lone-surrogate",
                "holds a \\u escape of an unpaired UTF-16 surrogate, which is not a Unicode character "
                "(readers would decode it differently)",
                f"{file}#{surrogate}" if surrogate else file,
            )
        ]
    objects = _pointers_of_objects(document) if duplicates else {}
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
    problems += [_nonfinite_problem(value, f"{file}#{pointer}") for pointer, value in iter_nonfinite(document)]
    return document, problems


def iter_nonfinite(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[str, float]]:
    """JSON pointers and values of every NaN or infinite float inside ``value``."""
    stack = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, float):
            if not math.isfinite(item):
                yield json_pointer(where), item
        elif isinstance(item, dict):
            stack.extend((v, where + (k,)) for k, v in reversed(list(item.items())))
        elif isinstance(item, list):
            stack.extend((v, where + (i,)) for i, v in reversed(list(enumerate(item))))
