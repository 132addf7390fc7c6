"""Members of a combination file by reference: where a source is, and its pin (``document_sha256``).

A member of a combination file (spec/combination.md) names its source as

- ``zoo:NAME``: an entry of the installed zoo;
- a Zenodo reference (``zenodo:RECORD``, ``zenodo-sandbox:RECORD``, a DOI or
  record URL), fetched into the cache as :func:`dnnlik.load` fetches it;
- a path, relative to the combination file's folder (or absolute): a bundle
  folder or ``.zip``, or, ending in ``.json``, another combination file.

and pins it by its digest: a bundle's ``document_sha256``, the SHA-256 of the
RFC 8785 canonical form of its ``bundle.json`` without that member (spec/README.md
section 7), or, for a combination file, the same digest of the combination
file's document (:func:`combination_digest`). The pin is computed from the
document's content, never taken from the member it holds: a document whose
recorded ``document_sha256`` lies does not match.

>>> combination_digest({"combination_format": "1.0.0", "document_sha256": "ignored"}) == combination_digest(
...     {"combination_format": "1.0.0"})
True
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..bundle.document import parse_document
from ..bundle.source import DOCUMENT_NAME, MAX_DOCUMENT_BYTES, open_source
from ..digest import document_digest
from ..errors import BundleError, InvalidInputError
from ..report import Problem

__all__ = [
    "MemberPin",
    "ResolvedSource",
    "resolve_source",
    "is_combination_path",
    "read_json_file",
    "bundle_digest",
    "combination_digest",
    "pin",
    "ZOO_SCHEME",
    "COMBINATION_SUFFIX",
    "MAX_COMBINATION_BYTES",
]

ZOO_SCHEME = "zoo:"
COMBINATION_SUFFIX = ".json"
"""A source whose name ends so (any case) is a combination file; a bundle is a folder or a ``.zip``."""

MAX_COMBINATION_BYTES = MAX_DOCUMENT_BYTES
"""The largest combination file read (16 MiB, the limit of a ``bundle.json``)."""


@dataclass(frozen=True)
class MemberPin:
    """A member as its combination file references it.

    Attributes:
        name: its name in the combination.
        source: where it is, as written.
        document_sha256: its pin.
        kind: ``"bundle"`` or ``"combination"``.
    """

    name: str
    source: str
    document_sha256: str
    kind: str


@dataclass(frozen=True)
class ResolvedSource:
    """Where a member's source is.

    Attributes:
        source: the source as the file writes it.
        kind: ``"bundle"`` or ``"combination"``.
        path: the local bundle folder or zip, or combination file (for a Zenodo
            record: its copy in the cache).
        load_as: what :func:`dnnlik.load` is given (the Zenodo reference itself, so
            that a damaged cached copy is fetched again; else ``path``).
    """

    source: str
    kind: str
    path: Path
    load_as: str | Path


def is_combination_path(source: str | os.PathLike[str]) -> bool:
    """Whether ``source`` names a combination file by its form: a name ending in ``.json`` (any case).

    The content is not read (:func:`dnnlik.combine.file.is_combination_file` does).

    >>> is_combination_path("combo.JSON"), is_combination_path("bundle.zip"), is_combination_path("zoo:x.json")
    (True, False, False)

    Args:
        source: a member's source or a command's argument.

    Returns:
        True for a path (not ``zoo:``, not a Zenodo reference) ending in ``.json``.
    """
    text = os.fspath(source)
    return text.lower().endswith(COMBINATION_SUFFIX) and not text.startswith(ZOO_SCHEME) and not _is_zenodo(text)


def _is_zenodo(source: str) -> bool:
    from ..zenodo.records import is_zenodo_source  # light: no requests

    return is_zenodo_source(source)


def resolve_source(source: str, base: str | os.PathLike[str] | None = None) -> ResolvedSource:
    """Find a member's source: a zoo entry, a Zenodo record (fetched, or from the cache), or a local path.

    Args:
        source: the member's ``source``.
        base: the folder relative paths start from (the combination file's; default the current one).

    Returns:
        Where it is.

    Raises:
        InvalidInputError: no such file or folder, no such zoo entry, an empty ``zoo:``.
        BundleError: the zoo entry differs from its index's pin.
        DnnlikError: a Zenodo record cannot be fetched (network, integrity, not a valid bundle).
        MissingExtraError: a Zenodo reference without the ``zenodo`` extra.
    """
    if source.startswith(ZOO_SCHEME):
        from ..zoo import entry_path, find_entry

        name = source[len(ZOO_SCHEME) :]
        if not name:
            raise InvalidInputError("names no zoo entry (zoo:NAME)", where=source)
        path = entry_path(find_entry(name))
        return ResolvedSource(source, "bundle", path, path)
    if _is_zenodo(source):
        from ..zenodo import fetch

        return ResolvedSource(source, "bundle", Path(fetch(source).bundle_path), source)
    path = Path(source)
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    if not os.path.lexists(path):
        raise InvalidInputError(f"no such file or folder: {path}", where=source)
    kind = "combination" if is_combination_path(source) else "bundle"
    return ResolvedSource(source, kind, path, path)


def read_json_file(path: str | os.PathLike[str], display: str) -> tuple[dict[str, Any] | None, list[Problem]]:
    """A combination file read strictly: at most :data:`MAX_COMBINATION_BYTES`, as ``bundle.json`` is read.

    UTF-8 without a byte-order mark, no duplicate keys, no NaN or infinity, at
    most 64 deep, an object at the top (:func:`dnnlik.bundle.document.parse_document`).

    Args:
        path: the file.
        display: its name in the problems' locations.

    Returns:
        The document (None when it cannot be used) and every problem found
        (``json:missing``, ``json:unreadable``, ``json:too-large`` and the ``json:``
        problems of ``parse_document``).
    """
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # before opening: a FIFO would block
            return None, [Problem("json:unreadable", "is not a regular file", display)]
        with open(path, "rb") as f:
            data = f.read(MAX_COMBINATION_BYTES + 1)
    except FileNotFoundError:
        return None, [Problem("json:missing", "no such file", display)]
    except OSError as exc:
        return None, [Problem("json:unreadable", f"cannot be read: {exc.strerror or exc}", display)]
    if len(data) > MAX_COMBINATION_BYTES:
        message = f"is larger than {MAX_COMBINATION_BYTES} bytes, the limit of a combination file"
        return None, [Problem("json:too-large", message, display)]
    return parse_document(data, display)


def bundle_digest(path: str | os.PathLike[str]) -> str:
    """The digest of a bundle's ``bundle.json``, from its content: what its pin must be.

    Reads only ``bundle.json`` (strictly, at most 16 MiB); nothing is validated or run.

    Args:
        path: a bundle folder or ``.zip``.

    Returns:
        64 lower-case hex digits.

    Raises:
        InvalidInputError: the bundle or its ``bundle.json`` cannot be read as strict JSON
            (validating the bundle says why in full).
    """
    try:
        with open_source(path) as source:
            if DOCUMENT_NAME not in source.files:
                raise InvalidInputError("is not a bundle: it has no bundle.json", where=str(path))
            data = source.read(DOCUMENT_NAME, limit=MAX_DOCUMENT_BYTES)
    except BundleError as exc:
        raise InvalidInputError(f"cannot be read as a bundle: {exc.bare_message}", where=str(path)) from None
    document, problems = parse_document(data, DOCUMENT_NAME)
    errors = [p for p in problems if p.level == "error"]
    if document is None or errors:
        why = f": {errors[0].message} [{errors[0].code}]" if errors else ""
        raise InvalidInputError(f"its bundle.json cannot be read{why}", where=str(path))
    return combination_digest(document)


def combination_digest(document: dict[str, Any]) -> str:
    """The digest of a combination file's (or a bundle's) document: its pin.

    SHA-256 of the RFC 8785 canonical form of the document without its top-level
    ``document_sha256`` member (:func:`dnnlik.digest.document_digest`).

    Args:
        document: the parsed document.

    Returns:
        64 lower-case hex digits.

    Raises:
        InvalidInputError: the document has no canonical form (a number beyond a double).
    """
    try:
        return document_digest(document)
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(f"has no canonical form: {exc}", where="document_sha256") from None


def pin(source: str | os.PathLike[str], base: str | os.PathLike[str] | None = None) -> str:
    """The ``document_sha256`` a combination file pins ``source`` with.

    >>> import tempfile, pathlib, json, shutil
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "c.json").write_text(json.dumps({"combination_format": "1.0.0", "name": "c"}))
    >>> pin("c.json", base=folder) == combination_digest({"name": "c", "combination_format": "1.0.0"})
    True
    >>> shutil.rmtree(folder)

    Args:
        source: ``zoo:NAME``, a Zenodo reference, a bundle folder or zip, or a combination file (``.json``).
        base: the folder a relative path starts from (default: the current one).

    Returns:
        64 lower-case hex digits: for a bundle its document digest, for a combination
        file the digest of its document.

    Raises:
        InvalidInputError: the source is missing, or cannot be read (a ``.json`` file
            that is not a combination file included).
        DnnlikError: as :func:`resolve_source` (zoo index, Zenodo).
    """
    resolved = resolve_source(os.fspath(source), base)
    if resolved.kind == "bundle":
        return bundle_digest(resolved.path)
    document, problems = read_json_file(resolved.path, str(resolved.path))
    errors = [p for p in problems if p.level == "error"]
    if document is None or errors:
        first = errors[0]
        raise InvalidInputError(f"{first.message} [{first.code}]", where=first.location)
    if "combination_format" not in document:
        raise InvalidInputError("is not a combination file: it has no combination_format", where=str(resolved.path))
    return combination_digest(document)
