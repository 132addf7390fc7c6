"""``dnnlik fetch``: download an archived bundle from Zenodo into the cache, verified."""

from __future__ import annotations

import json

import click

from ._common import clean_errors, format_option

__all__ = ["fetch"]


@click.command("fetch")
@click.argument("reference")
@click.option("--sandbox", is_flag=True, help="The record is on sandbox.zenodo.org.")
@click.option("--refresh", is_flag=True, help="Download again even if the record is in the cache.")
@format_option
@clean_errors
def fetch(reference: str, sandbox: bool, refresh: bool, fmt: str) -> None:
    """Fetch REFERENCE (10.5281/zenodo.NNN, zenodo:NNN or a record URL), check it, cache it; print its path.

    MD5s from Zenodo and the bundle's own SHA-256 digests are checked, and the bundle
    is validated, before anything enters the cache; a second fetch is instant.
    """
    from ..zenodo import fetch as fetch_record

    result = fetch_record(reference, sandbox=sandbox or None, refresh=refresh)
    if fmt == "json":
        click.echo(json.dumps(result.to_json(), indent=2))
        return
    how = "from the cache" if result.from_cache else "downloaded and verified"
    click.echo(f"record {result.record_id} ({result.doi or 'no DOI'}), {how}", err=True)
    click.echo(str(result.bundle_path))
