"""SHA-256 digests of files and of ``bundle.json`` in canonical form.

The canonical form of a JSON document is the JSON Canonicalization Scheme,
RFC 8785 (JCS): object members sorted by the UTF-16 code units of their names,
no insignificant white space, strings with minimal escapes, numbers written as
ECMAScript writes doubles. Any language with a JCS library can recompute a
bundle's ``document_sha256`` (spec/README.md, "Digests").
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

__all__ = [
    "md5_file",
    "sha256_bytes",
    "sha256_chunks",
    "sha256_file",
    "sha256_stream",
    "canonical_json",
    "document_digest",
    "DIGEST_FIELD",
    "MAX_JSON_DEPTH",
]

DIGEST_FIELD = "document_sha256"
"""The top-level member of ``bundle.json`` that holds the document's own digest."""

MAX_JSON_DEPTH = 64
"""The deepest nesting of arrays and objects in ``bundle.json`` (the top-level object is depth 1).

One limit for every stage: parsing (``json:too-deep``), canonicalisation, schema
validation and test-vector tensors. Documents dnnlik writes nest about 8 deep.
"""

_CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``.

    >>> sha256_bytes(b"")[:16]
    'e3b0c44298fc1c14'

    Args:
        data: the bytes.

    Returns:
        64 lower-case hex digits.
    """
    return hashlib.sha256(data).hexdigest()


def sha256_stream(stream: IO[bytes]) -> tuple[str, int]:
    """Hex SHA-256 and byte count of everything left in a binary stream.

    Args:
        stream: a binary file object, read from its current position to the end in 1 MiB chunks.

    Returns:
        ``(hex digest, bytes read)``.
    """
    h = hashlib.sha256()
    size = 0
    while chunk := stream.read(_CHUNK):
        h.update(chunk)
        size += len(chunk)
    return h.hexdigest(), size


def sha256_chunks(chunks: Iterable[bytes]) -> tuple[str, int]:
    """Hex SHA-256 and byte count of a sequence of chunks, hashed as they come (never joined).

    Args:
        chunks: the bytes, in order.

    Returns:
        ``(hex digest, total bytes)``.
    """
    h = hashlib.sha256()
    size = 0
    for chunk in chunks:
        h.update(chunk)
        size += len(chunk)
    return h.hexdigest(), size


def sha256_file(path: str | Path) -> tuple[str, int]:
    """Hex SHA-256 and size in bytes of a file, read in chunks.

    Args:
        path: the file.

    Returns:
        ``(hex digest, size in bytes)``.

    Raises:
        OSError: the file cannot be read.
    """
    with open(path, "rb") as f:
        return sha256_stream(f)


def md5_file(path: str | Path) -> str:
    """Hex MD5 of a file (what Zenodo reports for its files; not a security digest).

    Args:
        path: the file.

    Returns:
        32 lower-case hex digits.

    Raises:
        OSError: the file cannot be read.
    """
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _format_number(x: float) -> str:
    """A double as ECMAScript's Number.prototype.toString writes it (RFC 8785, 3.2.2.3)."""
    if math.isnan(x) or math.isinf(x):
        raise ValueError(f"{x} has no JSON representation")
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    # repr() gives the shortest digit string that round-trips, as ECMAScript requires.
    _, digits_t, exp = Decimal(repr(abs(x))).as_tuple()
    assert isinstance(exp, int)  # x is finite: never the 'n', 'N' or 'F' of NaN and infinity
    digits = "".join(map(str, digits_t)).rstrip("0")
    exp += len(digits_t) - len(digits)
    k = len(digits)
    n = exp + k  # value = 0.digits * 10**n
    if k <= n <= 21:
        body = digits + "0" * (n - k)
    elif 0 < n <= 21:
        body = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        body = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
        body = f"{mantissa}e{'+' if e > 0 else '-'}{abs(e)}"
    return sign + body


def _write_scalar(value: Any, out: list[str]) -> None:
    if isinstance(value, float):
        out.append(_format_number(value))
    elif isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        # JSON numbers are doubles in JCS; integers beyond 2**53 would be rounded.
        if abs(value) < 2**53:
            out.append(str(value))
        else:
            try:
                out.append(_format_number(float(value)))
            except OverflowError:
                raise ValueError(f"integer {str(value)[:12]}... is beyond the range of a double") from None
    else:
        raise TypeError(f"{type(value).__name__} is not a JSON value")


def _write(value: Any, out: list[str], max_depth: int = MAX_JSON_DEPTH) -> None:
    """Append the canonical form of ``value`` to ``out``, without recursion.

    Raises ValueError for a value JCS cannot write (NaN, a number beyond a double) or one
    nesting arrays and objects deeper than ``max_depth``; TypeError for a non-JSON value.
    """
    # one entry per open array or object: an iterator over its (index, child), and whether it is an object
    stack: list[tuple[Iterator[tuple[int, Any]], bool]] = []
    item = value
    while True:
        if isinstance(item, Mapping):
            if len(stack) >= max_depth:
                raise ValueError(f"arrays and objects nest more than {max_depth} deep (the limit of a JSON document)")
            for key in item:
                if not isinstance(key, str):
                    raise TypeError(f"JSON object keys must be strings, got {type(key).__name__}")
            out.append("{")
            stack.append(
                (enumerate(sorted(item.items(), key=lambda kv: kv[0].encode("utf-16-be", "surrogatepass"))), True)
            )
        elif isinstance(item, (list, tuple)):
            if len(stack) >= max_depth:
                raise ValueError(f"arrays and objects nest more than {max_depth} deep (the limit of a JSON document)")
            out.append("[")
            stack.append((enumerate(item), False))
        else:
            _write_scalar(item, out)
        while stack:  # the next value to write, closing what is finished
            children, is_object = stack[-1]
            step = next(children, None)
            if step is None:
                out.append("}" if is_object else "]")
                stack.pop()
                continue
            i, item = step
            if is_object:
                key, item = item
                out.append(("," if i else "") + json.dumps(key, ensure_ascii=False) + ":")
            elif i:
                out.append(",")
            break
        else:
            return


def canonical_json(value: Any, *, max_depth: int = MAX_JSON_DEPTH) -> bytes:
    """The RFC 8785 canonical UTF-8 serialisation of a JSON value.

    Members sorted, no whitespace, numbers written as ECMAScript writes them:
    the same bytes from every implementation, so a digest of them is too.

    >>> canonical_json({"b": [1.0, 1e21, 1e-7, 0.1], "a": None})
    b'{"a":null,"b":[1,1e+21,1e-7,0.1]}'

    Args:
        value: a JSON value (dicts with string keys, lists, strings, finite numbers, booleans, None).
        max_depth: the deepest nesting of arrays and objects accepted (the top level is depth 1).

    Returns:
        The canonical form, UTF-8 encoded.

    Raises:
        ValueError: arrays and objects nest deeper than ``max_depth`` (:data:`MAX_JSON_DEPTH`
            by default; never RecursionError), or a number is NaN, infinite or beyond a double.
    """
    out: list[str] = []
    _write(value, out, max_depth)
    return "".join(out).encode("utf-8")


def document_digest(document: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical form of ``document`` without its ``document_sha256`` member.

    >>> document_digest({"a": 1, "document_sha256": "ignored"}) == sha256_bytes(b'{"a":1}')
    True

    Args:
        document: the parsed ``bundle.json``.

    Returns:
        The hex digest ``document_sha256`` must hold.

    Raises:
        ValueError: as :func:`canonical_json` (too deep, or a non-finite number).
    """
    body = {k: v for k, v in document.items() if k != DIGEST_FIELD}
    return sha256_bytes(canonical_json(body))
