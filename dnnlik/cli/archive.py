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
@click.option(
    "--new-version-of",
    "new_version_of",
    metavar="RECORD",
    default=None,
    help="Publish as a new version of this record (zenodo:NNN, a record number or its DOI).",
)
@click.option(
    "--publish/--draft",
    "publish",
    default=True,
    show_default=True,
    help="Publish, or leave the verified draft for review (run again with --publish to publish it).",
)
@click.option(
    "--receipts",
    "receipts",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("archive") / "receipts",
    show_default=True,
    help="Folder of receipts and draft states (an interrupted upload resumes from its draft state).",
)
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Read the access token from this file (default: $ZENODO_TOKEN, then $XDG_CONFIG_HOME/dnnlik/zenodo-token).",
)
@click.option(
    "--metadata-template",
    "template",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="JSON template for what bundle.json does not say (upload_type, communities, ...).",
)
@click.option("--write-back", is_flag=True, help="Also write the archive section (DOI) into the local bundle.")
@format_option
@clean_errors
def upload(
    bundle: Path,
    sandbox: bool,
    new_version_of: str | None,
    publish: bool,
    receipts: Path,
    token_file: Path | None,
    template: Path | None,
    write_back: bool,
    fmt: str,
) -> None:
    """Upload BUNDLE (a folder or .zip) to Zenodo with its DOI in bundle.json, verify, publish."""
    from ..zenodo import upload_bundle

    result = upload_bundle(
        bundle,
        sandbox=sandbox,
        publish=publish,
        new_version_of=new_version_of,
        token_file=token_file,
        receipts_dir=receipts,
        template=template,
        write_back=write_back,
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


# --- what `dnnlik validate` needs of the archive and the zoo: thin over the library ---


def validate_target(target: str) -> Report:
    """A bundle path or a Zenodo reference, validated (:func:`dnnlik.zenodo.validate_target`)."""
    from ..zenodo import validate_target as validate_one

    return validate_one(target)


def receipt_reports(receipts_dir: Path) -> list[Report]:
    """The archived copy named by every receipt (:func:`dnnlik.zenodo.receipt_reports`)."""
    from ..zenodo import receipt_reports as reports

    return reports(receipts_dir)


def zoo_reports(index_path: Path, archived: bool, receipts_dir: Path) -> list[Report]:
    """Every entry of a zoo index (:func:`dnnlik.zoo.validate_all`); a missing or malformed index is a usage error."""
    from ..errors import BundleError, InvalidInputError
    from ..zoo import validate_all

    try:
        return validate_all(index_path, archived=archived, receipts_dir=receipts_dir)
    except BundleError as exc:
        raise InvalidInputError(exc.bare_message, where=exc.where) from None
