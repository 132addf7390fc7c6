"""The zoo's index: ``zoo/index.json`` lists the published entries.

An installed package carries the zoo as ``dnnlik/_zoo`` (see ``pyproject.toml``);
a source checkout reads the repository's ``zoo/``. Each entry names a bundle
folder relative to the zoo root, and pins it: ``sha256`` is the bundle's
``document_sha256`` (which covers every file through its digest) and ``size``
the bytes of all its files, so a tampered or swapped entry is refused.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..bundle.document import loads_bounded
from ..errors import BundleError, InvalidInputError
from ..fsutil import atomic_write_text
from ..report import one_line

__all__ = [
    "ZooEntry",
    "zoo_root",
    "read_index",
    "load_index",
    "find_entry",
    "entry_path",
    "make_entry",
    "write_index",
    "bundle_size",
    "INDEX_NAME",
    "INDEX_VERSION",
]

INDEX_NAME = "index.json"
INDEX_VERSION = 1


@dataclass(frozen=True)
class ZooEntry:
    """One published bundle of the zoo.

    Attributes:
        name: the bundle's name (``bundle.json``'s ``name``).
        version: its version.
        kind: its kind.
        path: its folder (or .zip), relative to the zoo root.
        sha256: the pin: the bundle's ``document_sha256`` (for a .zip, the file's SHA-256).
        size: the bytes of its files (:func:`bundle_size`).
        title: its title.
        tags: free-form tags.
        doi: the DOI of its archived copy on Zenodo, when there is one.
        extra: any other members of the index entry, kept as they are.
    """

    name: str
    version: str
    kind: str
    path: str
    sha256: str
    size: int
    title: str = ""
    tags: tuple[str, ...] = ()
    doi: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The entry as ``index.json`` holds it (empty ``title`` and absent ``doi`` left out; ``extra`` merged in)."""
        out = {k: v for k, v in asdict(self).items() if k != "extra" and v not in (None, "")}
        out["tags"] = list(self.tags)
        return {**out, **self.extra}


def zoo_root() -> Path:
    """The folder holding ``index.json``: the packaged copy, else the repository's ``zoo/``.

    Returns:
        ``dnnlik/_zoo`` of an installed package, else ``zoo/`` of a source checkout.

    Raises:
        BundleError: neither holds an ``index.json``.
    """
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "_zoo", here.parent / "zoo"):
        if (candidate / INDEX_NAME).is_file():
            return candidate
    raise BundleError("no zoo index found in this installation (dnnlik/_zoo/index.json or zoo/index.json)")


_KEYS = {"name", "version", "kind", "path", "sha256", "size", "title", "tags", "doi"}


def _entry(raw: Any, where: str) -> ZooEntry:
    if not isinstance(raw, dict):
        raise BundleError("is not an object", where=where)
    missing = [k for k in ("name", "version", "kind", "path", "sha256", "size") if k not in raw]
    if missing:
        raise BundleError(f"lacks {', '.join(missing)}", where=where)
    path = raw["path"]
    if not isinstance(path, str) or path.startswith("/") or ".." in path.split("/"):
        raise BundleError(f"path {path!r} must be relative, inside the zoo", where=where)
    if not isinstance(raw["size"], int) or not isinstance(raw["sha256"], str) or len(raw["sha256"]) != 64:
        raise BundleError("size must be an integer and sha256 64 hex digits", where=where)
    return ZooEntry(
        name=str(raw["name"]),
        version=str(raw["version"]),
        kind=str(raw["kind"]),
        path=path,
        sha256=raw["sha256"],
        size=raw["size"],
        title=str(raw.get("title", "")),
        tags=tuple(raw.get("tags", ())),
        doi=raw.get("doi"),
        extra={k: v for k, v in raw.items() if k not in _KEYS},
    )


def read_index(file: str | Path) -> list[ZooEntry]:
    """Every entry of the zoo index ``file``: the one reader of ``index.json``.

    Args:
        file: the ``index.json`` file.

    Returns:
        The entries, in the file's order.

    Raises:
        BundleError: the file is missing, unreadable, not JSON, not an object with
            ``index_version`` 1 and a list ``entries``, or an entry is malformed or repeated
            (the message names the entry by its JSON pointer).
    """
    file = Path(file)
    try:
        data = loads_bounded(file.read_bytes(), where=str(file))
    except FileNotFoundError:
        raise BundleError("no zoo index here (is the zoo empty?)", where=str(file)) from None
    except OSError as exc:
        raise BundleError(f"cannot be read ({exc.strerror})", where=str(file)) from None
    except (ValueError, RecursionError) as exc:
        raise BundleError(f"is not valid JSON ({one_line(exc)})", where=str(file)) from None
    if (
        not isinstance(data, dict)
        or data.get("index_version") != INDEX_VERSION
        or not isinstance(data.get("entries"), list)
    ):
        raise BundleError(f"must be an object with index_version {INDEX_VERSION} and a list 'entries'", where=str(file))
    entries = [_entry(e, f"{file}#/entries/{i}") for i, e in enumerate(data["entries"])]
    paths = [e.path for e in entries]
    dup = sorted({p for p in paths if paths.count(p) > 1})
    if dup:
        raise BundleError(f"lists the bundle(s) {dup} more than once", where=str(file))
    return entries


def load_index(root: str | Path | None = None) -> list[ZooEntry]:
    """Every entry of ``root/index.json`` (default :func:`zoo_root`); see :func:`read_index`.

    Args:
        root: the zoo folder; default the installed zoo.

    Returns:
        The entries, in the index's order.

    Raises:
        BundleError: no zoo is installed, or the index is missing or malformed (as :func:`read_index`).
    """
    return read_index((zoo_root() if root is None else Path(root)) / INDEX_NAME)


def bundle_size(path: str | Path) -> int:
    """Bytes of a bundle as the index records them: a .zip's size, or a folder's regular files in all.

    Args:
        path: a bundle folder or .zip.

    Returns:
        The size in bytes (links inside a folder are not counted).
    """
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def find_entry(name: str, root: str | Path | None = None) -> ZooEntry:
    """The entry called ``name``; a clear error listing the others when there is none.

    Args:
        name: the bundle's name.
        root: the zoo folder; default the installed zoo.

    Returns:
        The entry.

    Raises:
        InvalidInputError: no entry of that name (the message lists the zoo's
            entries), or more than one.
        BundleError: as :func:`load_index`.
    """
    entries = load_index(root)
    found = [e for e in entries if e.name == name]
    if len(found) > 1:
        raise InvalidInputError(
            f"the zoo lists {name!r} {len(found)} times ({', '.join(e.path for e in found)}); "
            "give the bundle's path instead",
            where="zoo",
        )
    if found:
        return found[0]
    raise InvalidInputError(
        f"no zoo entry {name!r}; the zoo has: {', '.join(e.name for e in entries) or 'nothing'}", where="zoo"
    )


def entry_path(entry: ZooEntry, root: str | Path | None = None) -> Path:
    """The bundle folder of ``entry``, after checking it is the one the index pins.

    Only ``document_sha256`` is compared here; loading the bundle then checks
    every file against its digest.

    Args:
        entry: an index entry.
        root: the zoo folder; default the installed zoo.

    Returns:
        The bundle folder.

    Raises:
        BundleError: its ``bundle.json`` is missing or unreadable, or its
            ``document_sha256`` differs from the entry's ``sha256``.
    """
    root = zoo_root() if root is None else Path(root)
    path = root / entry.path
    document = path / "bundle.json"
    try:
        digest = loads_bounded(document.read_bytes(), where=str(document)).get("document_sha256")
    except (OSError, ValueError, AttributeError):
        raise BundleError("the entry's bundle.json is missing or unreadable", where=str(document)) from None
    if digest != entry.sha256:
        raise BundleError(
            f"document_sha256 {digest} differs from the index's {entry.sha256}: the entry was modified or replaced",
            where=str(document),
        )
    return path


def make_entry(
    bundle_dir: str | Path, root: str | Path, *, tags: tuple[str, ...] = (), doi: str | None = None
) -> ZooEntry:
    """An index entry describing the bundle folder ``bundle_dir`` (inside ``root``).

    Args:
        bundle_dir: the bundle folder, inside ``root``.
        root: the zoo folder the entry's path is relative to.
        tags: free-form tags.
        doi: the archived copy's DOI; default the bundle's ``archive.doi``, if any.

    Returns:
        The entry, pinned to the bundle's ``document_sha256`` and size.

    Raises:
        InvalidInputError: ``bundle.json`` is not valid JSON (or too large or deep).
        OSError: ``bundle.json`` cannot be read.
        KeyError: ``bundle.json`` lacks ``name``, ``version``, ``kind`` or ``document_sha256``.
        ValueError: ``bundle_dir`` is not inside ``root``.
    """
    bundle_dir, root = Path(bundle_dir), Path(root)
    doc = loads_bounded((bundle_dir / "bundle.json").read_bytes(), where=str(bundle_dir / "bundle.json"))
    size = bundle_size(bundle_dir)
    return ZooEntry(
        name=doc["name"],
        version=doc["version"],
        kind=doc["kind"],
        path=bundle_dir.resolve().relative_to(root.resolve()).as_posix(),
        sha256=doc["document_sha256"],
        size=size,
        title=doc.get("title", ""),
        tags=tuple(tags),
        doi=doi or doc.get("archive", {}).get("doi"),
    )


def write_index(entries: list[ZooEntry], root: str | Path) -> Path:
    """Write ``root/index.json`` atomically, entries sorted by name.

    Args:
        entries: the entries.
        root: the zoo folder.

    Returns:
        The index file written.

    Raises:
        DnnlikError: the file cannot be written (disk full, not writable...).
    """
    file = Path(root) / INDEX_NAME
    data = {"index_version": INDEX_VERSION, "entries": [e.to_json() for e in sorted(entries, key=lambda e: e.name)]}
    atomic_write_text(file, json.dumps(data, indent=2) + "\n")
    return file
