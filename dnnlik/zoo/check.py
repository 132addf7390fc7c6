"""Validate a whole zoo: every entry of its index, pinned as the index says, and optionally its archived copies.

What ``dnnlik validate --zoo`` runs, callable from Python::

    from dnnlik.zoo import validate_all
    reports = validate_all()                  # the installed zoo
    all(r.ok for r in reports)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..bundle import DOCUMENT_NAME, open_source
from ..bundle.document import loads_bounded
from ..digest import sha256_file
from ..errors import DnnlikError
from ..report import Report
from . import index as _index
from .index import INDEX_NAME, ZooEntry, bundle_size, read_index

__all__ = ["validate_all"]


def validate_all(
    index: str | os.PathLike[str] | None = None,
    *,
    archived: bool = False,
    receipts_dir: str | os.PathLike[str] | None = None,
) -> list[Report]:
    """One report per zoo entry (and per archived copy, with ``archived``), in index order.

    Besides validating each bundle, checks the entry's pin: for a folder, ``sha256`` is the
    bundle's ``document_sha256`` and ``size`` the bytes of its files; for a .zip, the file's
    SHA-256 and size; and ``name``, ``version`` and ``kind`` agree with its ``bundle.json``.

    Args:
        index: the ``index.json`` file (default: the installed zoo's).
        archived: also validate archived copies on Zenodo: the entry's ``doi``, and the receipts
            in ``receipts_dir`` of the same name and version (needs the ``zenodo`` extra).
        receipts_dir: folder of upload receipts (default ``archive/receipts``).

    Returns:
        The reports, entries first, each followed by its archived copies.

    Raises:
        BundleError: the index itself is missing or malformed (see :func:`read_index`).
    """
    file = Path(index) if index is not None else _index.zoo_root() / INDEX_NAME
    entries = read_index(file)
    receipts: list[tuple[Path, dict[str, Any]]] = []
    if archived:
        from ..zenodo import read_receipts

        receipts = read_receipts(receipts_dir if receipts_dir is not None else Path("archive") / "receipts")
    reports: list[Report] = []
    for i, entry in enumerate(entries):
        report = _entry_report(entry, file.parent / entry.path, f"{file}#/entries/{i}")
        reports.append(report)
        if archived:
            reports += _archived(entry, receipts, report, f"{file}#/entries/{i}")
    return reports


def _entry_report(entry: ZooEntry, path: Path, pointer: str) -> Report:
    from ..evaluate import validate_local

    label = f"zoo:{entry.name}@{entry.version}"
    try:
        report = validate_local(path.resolve())
    except DnnlikError as exc:
        report = Report(label)
        report.add("zoo:unreadable", exc.bare_message, f"{pointer}/path")
        return report
    report.target = label
    report.checks.append("zoo")
    document = _document(path)
    if path.is_file():
        digest, _ = sha256_file(path)
        if entry.sha256 != digest:
            report.add(
                "zoo:sha256", f"the file's SHA-256 is {digest}, the index says {entry.sha256}", f"{pointer}/sha256"
            )
    elif isinstance(document, dict) and entry.sha256 != document.get("document_sha256"):
        report.add(
            "zoo:sha256",
            f"the bundle's document_sha256 is {document.get('document_sha256')}, the index says {entry.sha256}",
            f"{pointer}/sha256",
        )
    if path.exists():
        size = bundle_size(path)
        if entry.size != size:
            what = "the file has" if path.is_file() else "the bundle's files have"
            report.add(
                "zoo:size",
                f"{what} {size} bytes{'' if path.is_file() else ' in all'}, the index says {entry.size}",
                f"{pointer}/size",
            )
    if isinstance(document, dict):
        for key in ("name", "version", "kind"):
            if document.get(key) != getattr(entry, key):
                report.add(
                    "zoo:mismatch",
                    f"{key} is {getattr(entry, key)!r} in the index but {document.get(key)!r} in bundle.json",
                    f"{pointer}/{key}",
                )
    return report


def _document(path: Path) -> Any:
    try:
        return loads_bounded(open_source(path).read(DOCUMENT_NAME), where=str(path))
    except (DnnlikError, ValueError, UnicodeDecodeError, RecursionError):
        return None


def _archived(
    entry: ZooEntry, receipts: list[tuple[Path, dict[str, Any]]], report: Report, pointer: str
) -> list[Report]:
    from ..zenodo import archived_reports
    from ..zenodo.verify import receipt_reference

    refs: list[tuple[str, str | None]] = [(entry.doi, None)] if entry.doi else []
    for _, receipt in receipts:
        if receipt.get("name") == entry.name and receipt.get("version") == entry.version:
            refs = [(r, e) for r, e in refs if r != receipt.get("doi")]
            refs.append((receipt_reference(receipt), receipt.get("document_sha256")))
    if not refs:
        report.add(
            "zoo:not-archived",
            "has no DOI in the index and no receipt: no archived copy to check",
            pointer,
            level="warning",
        )
    return archived_reports(f"zoo:{entry.name}@{entry.version}", refs)
