"""Parse ``bundle.json`` strictly, turning every defect into a located problem.

Strict means: UTF-8 without a byte-order mark; valid JSON; no duplicate keys
(readers in other languages would silently keep different ones); no NaN or
Infinity (not JSON, though Python writes them); a JSON object at the top.
"""

from __future__ import annotations

import json
import math
from typing import Any, Iterator

from ..report import Problem, json_pointer

__all__ = ["parse_document", "iter_nonfinite"]


class _DuplicateKeys(list):
    """Duplicate keys seen while parsing (collected by the object hook)."""


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
    duplicates = _DuplicateKeys()

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                duplicates.append(key)
            out[key] = value
        return out

    try:
        document = json.loads(text, object_pairs_hook=pairs_hook, parse_constant=float)
    except json.JSONDecodeError as exc:
        return None, [Problem("json:invalid", f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", file)]
    except RecursionError:
        return None, [Problem("json:too-deep", "nests arrays or objects too deeply to be read", file)]
    problems = [
        Problem("json:duplicate-key", f"key {key!r} appears more than once in one object", file) for key in duplicates
    ]
    if not isinstance(document, dict):
        problems.append(Problem("json:not-object", f"must hold a JSON object, not a {type(document).__name__}", file))
        return None, problems
    problems += [
        Problem("json:non-finite", f"{value} is not a JSON number (JSON has no NaN or Infinity)", f"{file}#{pointer}")
        for pointer, value in iter_nonfinite(document)
    ]
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
