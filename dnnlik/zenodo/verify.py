"""Validate what is archived on Zenodo: a record, a local-or-archived target, the receipts' records.

Reports, never exceptions, for what a CI job checks: a record whose files are
not a valid bundle gives its report; a record that cannot be fetched gives a
report with one ``zenodo:fetch-failed`` problem. Published files never change,
so a cached copy that fails validation is damaged locally and is fetched again.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..bundle import DOCUMENT_NAME, open_source
from ..bundle.document import loads_bounded
from ..errors import DnnlikError, InvalidBundleError
from ..evaluate import validate_local
from ..report import Report
from .fetch import fetch
from .records import is_zenodo_source
from .upload import read_receipts

__all__ = ["validate_record", "validate_target", "archived_reports", "receipt_reference", "receipt_reports"]


def validate_record(source: str, *, refresh: bool = False) -> Report:
    """Fetch (or read from the cache) the Zenodo record ``source`` and validate its bundle.

    Args:
        source: ``zenodo:NNN``, ``zenodo-sandbox:NNN``, a Zenodo DOI or record URL.
        refresh: fetch again even when the record is in the cache.

    Returns:
        The validation report, with ``target`` set to ``source``.

    Raises:
        DnnlikError: the record cannot be fetched (network, HTTP, integrity).
    """
    try:
        result = fetch(source, refresh=refresh)
    except InvalidBundleError as exc:
        if isinstance(exc.report, Report):
            return exc.report
        report = Report(source)
        report.add("zenodo:not-a-bundle", exc.bare_message, exc.where or "")
        return report
    report = validate_local(result.bundle_path)
    if not report.ok and result.from_cache and not refresh:
        return validate_record(source, refresh=True)
    report.target = source
    return report


def validate_target(target: str | os.PathLike[str]) -> Report:
    """Validate a bundle path or a Zenodo reference; a record that cannot be fetched is a failed report."""
    if not (isinstance(target, str) and is_zenodo_source(target)):
        return validate_local(Path(target))
    try:
        return validate_record(target)
    except DnnlikError as exc:
        report = Report(target)
        report.checks.append("zenodo")
        report.add("zenodo:fetch-failed", exc.bare_message, exc.where or target)
        return report


def archived_reports(label: str, refs: list[tuple[str, str | None]]) -> list[Report]:
    """Reports of the archived copies ``refs``: (reference, expected ``document_sha256`` or None)."""

    reports = []
    for ref, expected in refs:
        report = validate_target(ref)
        report.target = f"{ref} (archived {label})"
        if expected and report.ok:
            try:
                bundle = fetch(ref).bundle_path  # in the cache by now: no network
                digest = loads_bounded(open_source(bundle).read(DOCUMENT_NAME), where=ref).get("document_sha256")
            except (DnnlikError, ValueError) as exc:
                report.add("zenodo:fetch-failed", str(exc), ref)
            else:
                if digest != expected:
                    report.add(
                        "zenodo:receipt-mismatch",
                        f"the archived bundle.json has document_sha256 {digest}, the receipt says {expected}",
                        "bundle.json#/document_sha256",
                    )
        reports.append(report)
    return reports


def receipt_reference(receipt: dict) -> str:
    """``zenodo:NNN`` (or ``zenodo-sandbox:NNN``) of an upload receipt."""
    return f"{'zenodo-sandbox' if receipt.get('sandbox') else 'zenodo'}:{receipt['record_id']}"


def receipt_reports(receipts_dir: str | os.PathLike[str]) -> list[Report]:
    """Validate the archived copy named by every receipt in ``receipts_dir``."""
    reports = []
    for path, receipt in read_receipts(receipts_dir):
        label = f"{receipt.get('name')}@{receipt.get('version')}, receipt {path.name}"
        reports += archived_reports(label, [(receipt_reference(receipt), receipt.get("document_sha256"))])
    return reports
