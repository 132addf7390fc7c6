"""``dnnlik combine FILE --tmu ...``: the profiled t_mu of the combination a combination file describes.

FILE is a combination file (spec/combination.md): its members are loaded and
their pins checked first. ``--tmu`` takes the values as ``dnnlik tmu --values``
does (``start:stop:step``, stop included, or a comma-separated list); the
output is ``dnnlik tmu``'s, after one line naming the combination.
"""

from __future__ import annotations

import json

import click

from ..errors import DnnlikError
from ._common import cli_message
from .tmu import _text_table, scan_options

__all__ = ["combine"]

_FLAGS = {"poi": "--poi", "values": "--tmu"}


@click.command("combine")
@click.argument("file", metavar="FILE")
@scan_options("--tmu", "the file's first poi")
def combine(file: str, values: list[float], poi: str | None, starts: int, seed: int, fmt: str) -> None:
    """Profile-likelihood t_mu of the combination described by FILE (a combination file).

    Every member is loaded and checked against its pin before anything is
    evaluated. Exit status: 0 on success, 1 when the file or a member is not
    valid (one line naming the member and the parameter), 2 on usage errors.
    """
    from ..combine.file import read_combination
    from ..infer import tmu_scan

    try:
        found = read_combination(file)
        poi = found.pois[0] if poi is None else poi
        scan = tmu_scan(found.density, values, poi=poi, starts=starts, seed=seed)
    except DnnlikError as exc:
        raise click.ClickException(cli_message(exc, _FLAGS)) from None
    if fmt == "json":
        out = {"source": file, "combination": found.name, "pois": list(found.pois), **scan.to_json()}
        click.echo(json.dumps(out, indent=1))
    else:
        n = len(found.members)
        click.echo(f"{found.name}: {n} member{'s' if n != 1 else ''}, t_mu of {poi}")
        click.echo(_text_table(scan))
