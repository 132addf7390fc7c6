"""Write bundles: fill in file digests and the document digest, write atomically.

Producers (the example builder, training, the zoo) assemble ``bundle.json``
as a dict and the files as bytes; :func:`write_bundle` completes the
``files`` list, stamps ``provenance`` and ``document_sha256``, and writes the
folder (or zip) in one atomic step, so that a crash never leaves a bundle
that half exists.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._version import __version__
from ..digest import DIGEST_FIELD, document_digest, sha256_bytes
from ..errors import InvalidInputError
from ..fsutil import atomic_directory, atomic_write_bytes, refuse_existing
from ..schema import is_relative_path
from .source import DOCUMENT_NAME

__all__ = ["finalize_document", "dump_document", "write_bundle", "zip_bundle", "read_bundle_files", "update_bundle"]

_ROLES = {
    ".onnx": "model",
    ".h5": "data",
    ".hdf5": "data",
    ".md": "card",
    ".png": "plot",
    ".svg": "plot",
    ".pdf": "plot",
}


def finalize_document(document: Mapping[str, Any], files: Mapping[str, bytes]) -> dict[str, Any]:
    """A copy of ``document`` with ``files``, ``provenance`` defaults and ``document_sha256`` filled in.

    Args:
        document: ``bundle.json`` as assembled by a producer; what it says of a file
            in ``files`` (role, media type...) is kept.
        files: the bundle's other files, by relative path.

    Returns:
        The complete document: every file listed with its size and SHA-256, the
        ``provenance`` creation time and dnnlik version (unless given), the digest.
    """
    doc = dict(document)
    given = {f["path"]: f for f in doc.get("files", []) if isinstance(f, dict) and "path" in f}
    doc["files"] = [
        {
            **given.get(name, {}),  # keeps what the writer said of the file (role, media_type, ...)
            "path": name,
            "sha256": sha256_bytes(data),
            "size": len(data),
            "role": given.get(name, {}).get("role") or _ROLES.get(Path(name).suffix.lower(), "other"),
        }
        for name, data in sorted(files.items())
    ]
    provenance = dict(doc.get("provenance", {}))
    provenance.setdefault(
        "created", _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    )
    provenance.setdefault("dnnlik_version", __version__)
    doc["provenance"] = provenance
    doc.pop(DIGEST_FIELD, None)
    doc[DIGEST_FIELD] = document_digest(doc)
    return doc


def dump_document(document: Mapping[str, Any]) -> bytes:
    """``bundle.json`` bytes: UTF-8, indented, refusing NaN and Infinity.

    Args:
        document: the document.

    Returns:
        Its bytes, ending in a newline.

    Raises:
        InvalidInputError: it holds a NaN or an infinity.
    """
    try:
        text = json.dumps(document, indent=1, ensure_ascii=False, allow_nan=False)
    except ValueError as exc:
        raise InvalidInputError(f"bundle.json cannot hold non-finite numbers ({exc})", where=DOCUMENT_NAME) from None
    return (text + "\n").encode("utf-8")


def write_bundle(
    out: str | os.PathLike[str],
    document: Mapping[str, Any],
    files: Mapping[str, bytes],
    *,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Write a bundle folder (or a ``.zip`` when ``out`` ends in .zip); return the final document.

    The bundle appears whole or not at all (:mod:`dnnlik.fsutil`).

    Args:
        out: the folder (or ``.zip``) to write.
        document: ``bundle.json``, completed by :func:`finalize_document`.
        files: the other files, by relative POSIX path.
        overwrite: replace an existing ``out`` (only once the new one is complete).

    Returns:
        The document as written.

    Raises:
        InvalidInputError: a file name cannot be a bundle's, or the document holds NaN or infinity.
        OutputExistsError: ``out`` exists and ``overwrite`` is false.
        DnnlikError: ``out`` cannot be written.
    """
    for name in files:
        if name == DOCUMENT_NAME or not is_relative_path(name):
            raise InvalidInputError(
                f"{name!r} cannot be a bundle file name (a relative POSIX path of letters, digits, '._-/')",
                where="files",
            )
    doc = finalize_document(document, files)
    out = Path(out)
    if out.suffix == ".zip":
        refuse_existing(out, overwrite)
        atomic_write_bytes(out, _zip_bytes(doc, files))
        return doc
    with atomic_directory(out, overwrite=overwrite) as tmp:
        for name, data in files.items():
            target = tmp / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        (tmp / DOCUMENT_NAME).write_bytes(dump_document(doc))
    return doc


def _zip_bytes(doc: Mapping[str, Any], files: Mapping[str, bytes]) -> bytes:
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        fixed_time = (1980, 1, 1, 0, 0, 0)  # reproducible archives
        for name, data in [(DOCUMENT_NAME, dump_document(doc)), *sorted(files.items())]:
            info = zipfile.ZipInfo(name, date_time=fixed_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return buf.getvalue()


def zip_bundle(bundle_dir: str | os.PathLike[str], out: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Pack an existing bundle folder into a reproducible zip, atomically.

    Args:
        bundle_dir: a bundle folder written by this module.
        out: the ``.zip`` to write.
        overwrite: replace an existing ``out``.

    Returns:
        ``out``.

    Raises:
        OutputExistsError: ``out`` exists and ``overwrite`` is false.
        DnnlikError: ``out`` cannot be written.
    """
    bundle_dir, out = Path(bundle_dir), Path(out)
    refuse_existing(out, overwrite)
    doc, files = read_bundle_files(bundle_dir)
    atomic_write_bytes(out, _zip_bytes(doc, files))
    return out


def read_bundle_files(bundle_dir: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The document and the other files' bytes of a bundle folder written by this module (trusted input).

    Args:
        bundle_dir: the folder (links are skipped; nothing is checked: use
            :func:`dnnlik.bundle.open_source` for a folder from elsewhere).

    Returns:
        ``(document, files)``, files by relative POSIX path.
    """
    bundle_dir = Path(bundle_dir)
    doc = json.loads((bundle_dir / DOCUMENT_NAME).read_bytes())
    files = {
        p.relative_to(bundle_dir).as_posix(): p.read_bytes()
        for p in sorted(bundle_dir.rglob("*"))
        if p.is_file() and not p.is_symlink() and p.name != DOCUMENT_NAME
    }
    return doc, files


def update_bundle(
    bundle_dir: str | os.PathLike[str],
    changes: Mapping[str, Any],
    extra_files: Mapping[str, bytes] | None = None,
) -> dict[str, Any]:
    """Replace top-level members of a bundle folder's document (and add files); re-digest; rewrite atomically.

    Args:
        bundle_dir: a bundle folder written by this module.
        changes: top-level members of ``bundle.json`` to set.
        extra_files: files to add (or replace), by relative path.

    Returns:
        The document as written.
    """
    doc, files = read_bundle_files(bundle_dir)
    doc.update(changes)
    files.update(extra_files or {})
    return write_bundle(bundle_dir, doc, files, overwrite=True)
