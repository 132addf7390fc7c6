"""``dnnlik archive``: publish bundles on Zenodo (the ``zenodo`` extra)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ._common import clean_errors, format_option

if TYPE_CHECKING:
    from ..report import Report

__all__ = ["archive", "upload", "validate_target", "zoo_reports", "receipt_reports"]


@click.group("archive")
def archive() -> None:
    """Archive bundles on Zenodo: one DOI per bundle version."""


@archive.command("upload")
@click.argument("bundle", type=click.Path(exists=True, path_type=Path))
@click.option("--sandbox", is_flag=True, help="Use sandbox.zenodo.org (for trials; its DOIs are not real).")
@click.option("--new-version-of", "new_version_of", metavar="RECORD", default=None,
              help="Publish as a new version of this record (zenodo:NNN, a record number or its DOI).")
@click.option("--publish/--draft", "publish", default=True, show_default=True,
              help="Publish, or leave the verified draft for review (run again with --publish to publish it).")
@click.option("--receipts", "receipts", type=click.Path(file_okay=False, path_type=Path),
              default=Path("archive") / "receipts", show_default=True,
              help="Folder of receipts and draft states (an interrupted upload resumes from its draft state).")
@click.option("--token-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Read the access token from this file (default: $ZENODO_TOKEN, then "
                   "$XDG_CONFIG_HOME/dnnlik/zenodo-token).")
@click.option("--metadata-template", "template", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="JSON template for what bundle.json does not say (upload_type, communities, ...).")
@click.option("--write-back", is_flag=True, help="Also write the archive section (DOI) into the local bundle.")
@format_option
@clean_errors
def upload(bundle: Path, sandbox: bool, new_version_of: str | None, publish: bool, receipts: Path,
           token_file: Path | None, template: Path | None, write_back: bool, fmt: str) -> None:
    """Upload BUNDLE (a folder or .zip) to Zenodo with its DOI in bundle.json, verify, publish."""
    from ..zenodo import upload_bundle

    result = upload_bundle(
        bundle, sandbox=sandbox, publish=publish, new_version_of=new_version_of, token_file=token_file,
        receipts_dir=receipts, template=template, write_back=write_back,
        progress=lambda message: click.echo(message, err=True),
    )
    if fmt == "json":
        click.echo(json.dumps(result.to_json(), indent=2))
        return
    state = "published" if result.published else "verified draft (not published)"
    click.echo(f"{state}: record {result.record_id}, DOI {result.doi}")
    if result.concept_doi:
        click.echo(f"concept DOI (all versions): {result.concept_doi}")
    click.echo(f"url: {result.url}")
    if result.receipt:
        click.echo(f"{'receipt' if result.published else 'draft state'}: {result.receipt}")


# --- helpers of `dnnlik validate --zoo / --archived` (kept here, with the archive commands) ---


def validate_target(target: str) -> "Report":
    """Validate a bundle path or a Zenodo reference; a Zenodo record that cannot be fetched is a failed report."""
    from ..api import validate as validate_one
    from ..errors import DnnlikError
    from ..report import Report
    from ..zenodo.records import is_zenodo_source

    if not is_zenodo_source(target):
        return validate_one(Path(target))
    try:
        return validate_one(target)
    except DnnlikError as exc:
        report = Report(target)
        report.checks.append("zenodo")
        report.add("zenodo:fetch-failed", exc.bare_message, exc.where or target)
        return report


def _archived_reports(label: str, refs: list[tuple[str, str | None]]) -> list["Report"]:
    """Reports of the archived copies ``refs`` (reference, expected document_sha256 from a receipt)."""
    import json as _json

    from ..bundle import DOCUMENT_NAME, open_source
    from ..errors import DnnlikError
    from ..zenodo import fetch as fetch_record

    reports = []
    for ref, expected in refs:
        report = validate_target(ref)
        report.target = f"{ref} (archived {label})"
        if expected and report.ok:
            try:
                bundle = fetch_record(ref).bundle_path  # in the cache by now: no network
                digest = _json.loads(open_source(bundle).read(DOCUMENT_NAME)).get("document_sha256")
            except (DnnlikError, ValueError) as exc:
                report.add("zenodo:fetch-failed", str(exc), ref)
            else:
                if digest != expected:
                    report.add("zenodo:receipt-mismatch",
                               f"the archived bundle.json has document_sha256 {digest}, the receipt says {expected}",
                               "bundle.json#/document_sha256")
        reports.append(report)
    return reports


def _receipt_ref(receipt: dict) -> str:
    return f"{'zenodo-sandbox' if receipt.get('sandbox') else 'zenodo'}:{receipt['record_id']}"


def receipt_reports(receipts_dir: Path) -> list["Report"]:
    """Validate the archived copy named by every receipt in ``receipts_dir``."""
    from ..zenodo import read_receipts

    reports = []
    for path, receipt in read_receipts(receipts_dir):
        label = f"{receipt.get('name')}@{receipt.get('version')}, receipt {path.name}"
        reports += _archived_reports(label, [(_receipt_ref(receipt), receipt.get("document_sha256"))])
    return reports


def zoo_reports(index_path: Path, archived: bool, receipts_dir: Path) -> list["Report"]:
    """Validate every entry of a zoo index ``{name, version, kind, path, sha256, size, tags, doi?}``.

    Besides the bundle itself: the entry's ``sha256`` and ``size`` (for a folder, as ``dnnlik.zoo`` writes
    them: the bundle's ``document_sha256`` and the bytes of all its files; for a .zip, the file's SHA-256
    and size), and that ``name``, ``version`` and ``kind`` agree with its bundle.json. With ``archived``, also its archived copies: its ``doi`` and
    the receipts of the same name and version.
    """
    import json as _json

    from ..bundle import DOCUMENT_NAME, open_source
    from ..digest import sha256_file
    from ..errors import DnnlikError, InvalidInputError
    from ..report import Report
    from ..zenodo import read_receipts

    try:
        index = _json.loads(index_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInputError("no zoo index here (is the zoo empty?)", where=str(index_path)) from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read the zoo index ({exc})", where=str(index_path)) from None
    entries = index.get("entries") if isinstance(index, dict) else index
    if not isinstance(entries, list):
        raise InvalidInputError("a zoo index is a list of entries, or an object with an 'entries' list",
                                where=str(index_path))
    receipts = read_receipts(receipts_dir) if archived else []
    reports: list = []
    for i, entry in enumerate(entries):
        pointer = f"{index_path}#/entries/{i}" if isinstance(index, dict) else f"{index_path}#/{i}"
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) for k in ("name", "version", "path")):
            report = Report(f"zoo entry {i}")
            report.add("zoo:entry", "needs string members 'name', 'version' and 'path'", pointer)
            reports.append(report)
            continue
        name, version = entry["name"], entry["version"]
        label = f"zoo:{name}@{version}"
        path = (index_path.parent / entry["path"]).resolve()
        try:
            report = validate_target(str(path))
        except DnnlikError as exc:
            report = Report(label)
            report.add("zoo:unreadable", exc.bare_message, f"{pointer}/path")
            reports.append(report)
            continue
        report.target = label
        report.checks.append("zoo")
        document = None
        try:
            document = _json.loads(open_source(path).read(DOCUMENT_NAME))
        except (DnnlikError, ValueError, UnicodeDecodeError):
            pass
        if path.is_file():
            digest, size = sha256_file(path)
            if entry.get("sha256") not in (None, digest):
                report.add("zoo:sha256", f"the file's SHA-256 is {digest}, the index says {entry['sha256']}",
                           f"{pointer}/sha256")
            if entry.get("size") not in (None, size):
                report.add("zoo:size", f"the file has {size} bytes, the index says {entry['size']}", f"{pointer}/size")
        elif path.is_dir():
            if isinstance(document, dict) and entry.get("sha256") not in (None, document.get("document_sha256")):
                report.add("zoo:sha256", f"the bundle's document_sha256 is {document.get('document_sha256')}, the "
                                         f"index says {entry['sha256']}", f"{pointer}/sha256")
            size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
            if entry.get("size") not in (None, size):
                report.add("zoo:size", f"the bundle's files have {size} bytes in all, the index says {entry['size']}",
                           f"{pointer}/size")
        if isinstance(document, dict):
            for key in ("name", "version", "kind"):
                if entry.get(key) is not None and document.get(key) != entry[key]:
                    report.add("zoo:mismatch", f"{key} is {entry[key]!r} in the index but {document.get(key)!r} in "
                                               "bundle.json", f"{pointer}/{key}")
        reports.append(report)
        if archived:
            refs: list[tuple[str, str | None]] = []
            if entry.get("doi"):
                refs.append((str(entry["doi"]), None))
            for _, receipt in receipts:
                if receipt.get("name") == name and receipt.get("version") == version:
                    ref = _receipt_ref(receipt)
                    refs = [(r, e) for r, e in refs if r != receipt.get("doi")]
                    refs.append((ref, receipt.get("document_sha256")))
            if not refs:
                report.add("zoo:not-archived", "has no DOI in the index and no receipt: no archived copy to check",
                           pointer, level="warning")
            reports += _archived_reports(label, refs)
    return reports
