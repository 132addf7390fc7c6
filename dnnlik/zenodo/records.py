"""Zenodo references (``zenodo:NNN``, DOIs, record URLs) and file entries in both of Zenodo's shapes.

Zenodo lists a record's files either as ``{"key", "size", "checksum": "md5:..."}``
(records API, bucket listings) or as ``{"filename", "filesize", "checksum": "..."}``
(legacy deposition files). :func:`file_entries` reads both into :class:`RecordFile`.

Every name a listing gives, in whichever field (``key``, ``filename``), is checked by
one rule, :func:`file_name_problem`: a single path component of at most 255 ASCII
characters from ``A-Z a-z 0-9 . _ + - space``; not ``.`` or ``..``; no ``/``, ``\\``,
NUL or other control character; not absolute; not ending in a space or a dot; not a
Windows device name (``CON``, ``NUL``, ``COM1``...). Names that are not ASCII are refused
rather than normalised, so that no name can change meaning under Unicode
normalisation, and two names that differ only in case are refused as a pair (they
would be one file on a case-insensitive file system). An entry whose ``key`` and
``filename`` disagree, or whose ``size`` and ``filesize`` disagree, is refused.

:func:`file_url` gives the URL a file is downloaded from: its ``links`` (``content``,
else ``self``) when the entry has them, else the records API's
``/api/records/<id>/files/<name>/content``; either way it must be on the record's
own Zenodo host (same scheme, host and port), or the record is refused.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from ..errors import InvalidInputError
from .client import DOI_PREFIXES, ZenodoError, same_origin

__all__ = [
    "RecordFile",
    "ZenodoReference",
    "file_entries",
    "file_url",
    "file_name_problem",
    "parse_reference",
    "looks_like_zenodo_reference",
    "safe_file_name",
    "show_name",
    "record_doi",
    "is_zenodo_source",
    "MAX_FILES",
    "MAX_NAME_LENGTH",
    "NAME_FIELDS",
]

MAX_FILES = 1000
"""Most file entries a listing may hold (Zenodo itself allows 100 files per record)."""

MAX_NAME_LENGTH = 255
"""Longest file name accepted (characters; names are ASCII, so bytes too)."""

MAX_URL_LENGTH = 2048

NAME_FIELDS = ("key", "filename")
"""The fields of a file entry that name the file: each one present is checked, and they must agree."""

SIZE_FIELDS = ("size", "filesize")

_MD5 = re.compile(r"^[0-9a-f]{32}\Z")
_NAME_CHARS = re.compile(r"[A-Za-z0-9._+ -]*")
_WINDOWS_DEVICES = {
    "con",
    "prn",
    "aux",
    "nul",
    "conin$",
    "conout$",
    *(f"com{i}" for i in range(10)),
    *(f"lpt{i}" for i in range(10)),
}


@dataclass(frozen=True)
class RecordFile:
    """One file of a Zenodo record or deposition: name, size in bytes, MD5 (hex)."""

    name: str
    size: int
    md5: str

    def to_json(self) -> dict[str, Any]:
        """``{"name", "size", "md5"}``."""
        return {"name": self.name, "size": self.size, "md5": self.md5}


def show_name(name: object, limit: int = 80) -> str:
    """``name`` for a one-line message: quoted, non-ASCII and control characters escaped, shortened.

    >>> show_name("model.onnx"), show_name(None)
    ("'model.onnx'", 'a NoneType')

    Args:
        name: a name from a listing (anything: a non-string is described by its type).
        limit: the most characters shown.

    Returns:
        The text to put in a message.
    """
    text = ascii(name) if isinstance(name, str) else f"a {type(name).__name__}"
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def file_name_problem(name: object) -> str | None:
    """Why ``name`` is not a safe plain file name (see the module docstring), or None when it is.

    >>> file_name_problem("model.onnx") is None, file_name_problem("CON.txt")
    (True, 'is a Windows device name')

    Args:
        name: a file name from a listing.

    Returns:
        The reason, worded to follow "it" ("contains a control character"), or None.
    """
    if not isinstance(name, str):
        return "is not a string"
    if not name:
        return "is empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"is longer than {MAX_NAME_LENGTH} characters"
    if "\x00" in name:
        return "contains a NUL character"
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name):
        return "is an absolute path"
    if "/" in name or "\\" in name:
        return "contains a path separator ('/' or '\\')"
    if name in (".", ".."):
        return "is '.' or '..'"
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in name):
        return "contains a control character"
    if not name.isascii():
        return (
            "is not ASCII (dnnlik accepts ASCII file names only, so that no name changes under Unicode normalisation)"
        )
    if not _NAME_CHARS.fullmatch(name):
        return "contains characters other than A-Z a-z 0-9 . _ + - and space"
    if name.endswith((" ", ".")):
        return "ends with a space or a dot"
    if name.split(".", 1)[0].rstrip(" ").lower() in _WINDOWS_DEVICES:
        return "is a Windows device name"
    return None


def safe_file_name(name: str) -> bool:
    """A plain file name (no folder, no '..', no control characters) that is safe to create locally.

    Args:
        name: a file name.

    Returns:
        Whether :func:`file_name_problem` finds nothing wrong with it.
    """
    return file_name_problem(name) is None


def _entry_name(entry: Mapping[str, Any], i: int, where: str) -> str:
    names: dict[str, str] = {}
    for key in NAME_FIELDS:
        if key not in entry:
            continue
        value = entry[key]
        problem = file_name_problem(value)
        if problem is not None:
            raise ZenodoError(
                f"file entry {i}: {show_name(value)} (its '{key}') is not a plain file name: it {problem}; refused",
                where=where,
            )
        names[key] = value
    if not names:
        raise ZenodoError(f"file entry {i} has no name ('key' or 'filename')", where=where)
    if len(set(names.values())) > 1:
        shown = " and ".join(f"'{k}' {show_name(v)}" for k, v in names.items())
        raise ZenodoError(f"file entry {i} names two different files ({shown}); refused", where=where)
    return next(iter(names.values()))


def _entry_size(entry: Mapping[str, Any], name: str, where: str) -> int:
    sizes = [entry[k] for k in SIZE_FIELDS if k in entry]
    if not sizes or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in sizes):
        raise ZenodoError(f"file {show_name(name)} has no valid size ('size' or 'filesize')", where=where)
    if len(set(sizes)) > 1:
        raise ZenodoError(
            f"file {show_name(name)} has two different sizes ({sizes[0]} and {sizes[1]}); refused", where=where
        )
    return sizes[0]


def file_entries(entries: Any, *, where: str) -> list[RecordFile]:
    """Read the file entries of a listing (a list, either shape); :class:`ZenodoError` on a malformed or unsafe one.

    Checks each name with :func:`file_name_problem`, that names are unique (also ignoring
    case), and that there are at most :data:`MAX_FILES` entries.

    Args:
        entries: the listing's ``files`` (or bucket ``contents``).
        where: the record or deposition, for messages.

    Returns:
        One entry per file, in the listing's order.

    Raises:
        ZenodoError: not a list; too many entries; an entry that is not an object,
            has no name or an unsafe one, two names or sizes that disagree, no
            valid size, or a checksum that is not an MD5; a name listed twice
            (also ignoring case).
    """
    if not isinstance(entries, list):
        raise ZenodoError(f"the file listing is not a list but {show_name(entries)}", where=where)
    if len(entries) > MAX_FILES:
        raise ZenodoError(
            f"the file listing has {len(entries)} entries, more than the {MAX_FILES} dnnlik accepts", where=where
        )
    out: list[RecordFile] = []
    seen: dict[str, str] = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise ZenodoError(f"file entry {i} is not an object", where=where)
        name = _entry_name(entry, i, where)
        folded = name.lower()
        if folded in seen:
            other = seen[folded]
            what = "listed twice" if other == name else f"listed twice (as {show_name(other)}, differing in case only)"
            raise ZenodoError(f"file {show_name(name)} is {what}", where=where)
        seen[folded] = name
        size = _entry_size(entry, name, where)
        checksum = entry.get("checksum")
        if not isinstance(checksum, str) or len(checksum) > 100:
            raise ZenodoError(f"file {show_name(name)} has no checksum", where=where)
        algo, _, value = checksum.rpartition(":")
        value = value.strip().lower()
        if algo not in ("", "md5") or not _MD5.match(value):
            raise ZenodoError(f"file {show_name(name)} has checksum {show_name(checksum)}, not an MD5", where=where)
        out.append(RecordFile(name, size, value))
    return out


def file_url(entry: Mapping[str, Any], name: str, *, record_id: int, base_url: str, where: str) -> str:
    """The URL to download the file ``name`` (already checked) of ``entry`` from; it must be on ``base_url``'s host.

    ``links.content``, else ``links.self``, else ``<base_url>/api/records/<record_id>/files/<name>/content``.

    Args:
        entry: the file's entry in the listing.
        name: its name, already checked by :func:`file_entries`.
        record_id: the record number.
        base_url: the Zenodo instance, e.g. ``https://zenodo.org``.
        where: the record, for messages.

    Returns:
        The download URL.

    Raises:
        ZenodoError: ``links`` is not an object, or the link is not a plain URL
            or is not on ``base_url``'s scheme, host and port.
    """
    links = entry.get("links")
    if links is not None and not isinstance(links, Mapping):
        raise ZenodoError(f"file {show_name(name)}: its 'links' is not an object", where=where)
    key = next((k for k in ("content", "self") if links and k in links), None)
    if links is None or key is None:
        return f"{base_url.rstrip('/')}/api/records/{record_id}/files/{quote(name, safe='')}/content"
    url = links[key]
    if not isinstance(url, str) or len(url) > MAX_URL_LENGTH or any(ord(c) <= 32 or ord(c) >= 127 for c in url):
        raise ZenodoError(
            f"file {show_name(name)}: its download link {show_name(url)} is not a plain URL; refused", where=where
        )
    if not same_origin(url, base_url):
        parts = urlsplit(url)
        raise ZenodoError(
            f"file {show_name(name)}: its download link points to {show_name(f'{parts.scheme}://{parts.netloc}')}, "
            f"not to the record's Zenodo host {show_name(base_url)}; refused",
            where=where,
        )
    return url


@dataclass(frozen=True)
class ZenodoReference:
    """A Zenodo record: its id and whether it lives on the sandbox.

    ``str()`` gives the reference back, ``zenodo:NNN`` or ``zenodo-sandbox:NNN``.

    Attributes:
        record: the record number.
        sandbox: whether it is on sandbox.zenodo.org.
    """

    record: int
    sandbox: bool = False

    @property
    def scheme(self) -> str:
        """``"zenodo"`` or ``"zenodo-sandbox"``."""
        return "zenodo-sandbox" if self.sandbox else "zenodo"

    def __str__(self) -> str:
        return f"{self.scheme}:{self.record}"


def record_doi(record: int, sandbox: bool = False) -> str:
    """The DOI Zenodo gives record ``record``.

    >>> record_doi(1234), record_doi(1234, sandbox=True)
    ('10.5281/zenodo.1234', '10.5072/zenodo.1234')

    Args:
        record: the record number.
        sandbox: whether the record is on the sandbox.

    Returns:
        The DOI, without ``doi:`` or a URL prefix.
    """
    return f"{DOI_PREFIXES[sandbox]}/zenodo.{record}"


_PATTERNS = [
    (re.compile(r"^zenodo:([0-9]+)\Z"), None),
    (re.compile(r"^zenodo-sandbox:([0-9]+)\Z"), True),
    (re.compile(r"^(?:doi:|https?://(?:dx\.)?doi\.org/)?10\.5281/zenodo\.([0-9]+)\Z", re.IGNORECASE), False),
    (re.compile(r"^(?:doi:|https?://(?:dx\.)?doi\.org/)?10\.5072/zenodo\.([0-9]+)\Z", re.IGNORECASE), True),
    (re.compile(r"^https?://(?:www\.)?zenodo\.org/(?:records?|api/records)/([0-9]+)/?\Z"), False),
    (re.compile(r"^https?://sandbox\.zenodo\.org/(?:records?|api/records)/([0-9]+)/?\Z"), True),
]


def looks_like_zenodo_reference(text: str) -> bool:
    """Whether ``text`` has the form of a Zenodo reference (``zenodo:NNN``, a Zenodo DOI or record URL).

    A bare record number does not count here (it may be a file name); see :func:`parse_reference`.

    Args:
        text: what the user gave.

    Returns:
        True for a form :func:`parse_reference` reads.
    """
    return any(p.match(text.strip()) for p, _ in _PATTERNS)


def parse_reference(text: str | int, *, sandbox: bool | None = None) -> ZenodoReference:
    """The Zenodo record ``text`` names.

    Accepted: ``zenodo:NNN``, ``zenodo-sandbox:NNN``, ``10.5281/zenodo.NNN``
    (``doi:`` or ``https://doi.org/`` prefixed or not; ``10.5072`` for the
    sandbox), a record URL, or a bare record number.

    >>> parse_reference("https://doi.org/10.5281/zenodo.1234")
    ZenodoReference(record=1234, sandbox=False)
    >>> str(parse_reference(1234, sandbox=True))
    'zenodo-sandbox:1234'

    Args:
        text: the reference, or a record number.
        sandbox: whether the record is on the sandbox, for forms that do not say
            (None: not); a form that says must agree.

    Returns:
        The record number and instance.

    Raises:
        InvalidInputError: not one of these forms, record number 0, or a form
            naming the other instance than ``sandbox``.
    """
    raw = str(text).strip()
    if raw.isdigit():
        matched: tuple[str, bool | None] | None = (raw, None)
    else:
        matched = next(((m.group(1), s) for p, s in _PATTERNS if (m := p.match(raw))), None)
    if matched is None:
        raise InvalidInputError(
            "is not a Zenodo reference: give zenodo:RECORD, a Zenodo DOI (10.5281/zenodo.RECORD) or a record URL",
            where=raw,
        )
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

    Args:
        source: what ``dnnlik.load`` was given.

    Returns:
        True when it should be fetched from Zenodo.
    """
    if not isinstance(source, str) or not looks_like_zenodo_reference(source):
        return False
    if source.strip().startswith(("zenodo:", "zenodo-sandbox:")):
        return True
    try:
        return not os.path.lexists(source)
    except (OSError, ValueError):
        return True
