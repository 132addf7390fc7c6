"""Zenodo references (``zenodo:NNN``, DOIs, record URLs) and file entries in both of Zenodo's shapes.

Zenodo lists a record's files either as ``{"key", "size", "checksum": "md5:..."}``
(records API, bucket listings) or as ``{"filename", "filesize", "checksum": "..."}``
(legacy deposition files). :func:`file_entries` reads both into :class:`RecordFile`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from ..errors import InvalidInputError
from .client import DOI_PREFIXES, ZenodoError

__all__ = ["RecordFile", "ZenodoReference", "file_entries", "parse_reference", "looks_like_zenodo_reference",
           "safe_file_name", "record_doi", "is_zenodo_source"]

_MD5 = re.compile(r"^[0-9a-f]{32}$")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9._+-][A-Za-z0-9._+ -]{0,254}$")


@dataclass(frozen=True)
class RecordFile:
    """One file of a Zenodo record or deposition: name, size in bytes, MD5 (hex)."""

    name: str
    size: int
    md5: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "size": self.size, "md5": self.md5}


def safe_file_name(name: str) -> bool:
    """A plain file name (no folder, no '..', no control characters) that is safe to create locally."""
    return bool(_SAFE_NAME.match(name)) and name not in (".", "..") and not name.endswith((" ", "."))


def file_entries(entries: Iterable[Any], *, where: str) -> list[RecordFile]:
    """Read file entries of either shape; raise :class:`ZenodoError` on a malformed or unsafe one."""
    out: list[RecordFile] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise ZenodoError(f"file entry {i} is not an object", where=where)
        name = entry.get("key", entry.get("filename"))
        size = entry.get("size", entry.get("filesize"))
        checksum = entry.get("checksum")
        if not isinstance(name, str) or not name:
            raise ZenodoError(f"file entry {i} has no name ('key' or 'filename')", where=where)
        if not safe_file_name(name):
            raise ZenodoError(f"file name {name!r} is not a plain file name; refused", where=where)
        if name in seen:
            raise ZenodoError(f"file {name!r} is listed twice", where=where)
        seen.add(name)
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ZenodoError(f"file {name!r} has no valid size ('size' or 'filesize')", where=where)
        if not isinstance(checksum, str):
            raise ZenodoError(f"file {name!r} has no checksum", where=where)
        algo, _, value = checksum.rpartition(":")
        value = value.strip().lower()
        if algo not in ("", "md5") or not _MD5.match(value):
            raise ZenodoError(f"file {name!r} has checksum {checksum!r}, not an MD5", where=where)
        out.append(RecordFile(name, size, value))
    return out


@dataclass(frozen=True)
class ZenodoReference:
    """A Zenodo record: its id and whether it lives on the sandbox."""

    record: int
    sandbox: bool = False

    @property
    def scheme(self) -> str:
        return "zenodo-sandbox" if self.sandbox else "zenodo"

    def __str__(self) -> str:
        return f"{self.scheme}:{self.record}"


def record_doi(record: int, sandbox: bool = False) -> str:
    """The DOI Zenodo gives record ``record``."""
    return f"{DOI_PREFIXES[sandbox]}/zenodo.{record}"


_PATTERNS = [
    (re.compile(r"^zenodo:(\d+)$"), None),
    (re.compile(r"^zenodo-sandbox:(\d+)$"), True),
    (re.compile(r"^(?:doi:|https?://(?:dx\.)?doi\.org/)?10\.5281/zenodo\.(\d+)$", re.IGNORECASE), False),
    (re.compile(r"^(?:doi:|https?://(?:dx\.)?doi\.org/)?10\.5072/zenodo\.(\d+)$", re.IGNORECASE), True),
    (re.compile(r"^https?://(?:www\.)?zenodo\.org/(?:records?|api/records)/(\d+)/?$"), False),
    (re.compile(r"^https?://sandbox\.zenodo\.org/(?:records?|api/records)/(\d+)/?$"), True),
]


def looks_like_zenodo_reference(text: str) -> bool:
    """Whether ``text`` has the form of a Zenodo reference (``zenodo:NNN``, a Zenodo DOI or record URL)."""
    return any(p.match(text.strip()) for p, _ in _PATTERNS)


def parse_reference(text: str | int, *, sandbox: bool | None = None) -> ZenodoReference:
    """``zenodo:NNN``, ``zenodo-sandbox:NNN``, ``10.5281/zenodo.NNN`` (``doi:`` or ``https://doi.org/``
    prefixed or not), a record URL, or a bare record number."""
    raw = str(text).strip()
    if raw.isdigit():
        matched: tuple[str, bool | None] | None = (raw, None)
    else:
        matched = next(((m.group(1), s) for p, s in _PATTERNS if (m := p.match(raw))), None)
    if matched is None:
        raise InvalidInputError(
            "is not a Zenodo reference: give zenodo:RECORD, a Zenodo DOI (10.5281/zenodo.RECORD) or a record URL",
            where=raw)
    number, implied = matched
    record = int(number)
    if record < 1:
        raise InvalidInputError("Zenodo record numbers start at 1", where=raw)
    if implied is not None and sandbox is not None and implied != sandbox:
        which = "the sandbox" if implied else "zenodo.org"
        raise InvalidInputError(f"names a record of {which}, which contradicts the sandbox option", where=raw)
    resolved = implied if implied is not None else bool(sandbox)
    return ZenodoReference(record, resolved)


def is_zenodo_source(source: object) -> bool:
    """Whether ``source`` (as given to ``dnnlik.load``) names a Zenodo record rather than a local bundle.

    ``zenodo:``/``zenodo-sandbox:`` references always do; a DOI or record URL does unless a local
    file or folder of that name exists.
    """
    if not isinstance(source, str) or not looks_like_zenodo_reference(source):
        return False
    if source.strip().startswith(("zenodo:", "zenodo-sandbox:")):
        return True
    try:
        return not os.path.lexists(source)
    except (OSError, ValueError):
        return True
