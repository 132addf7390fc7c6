"""``dnnlik limit SOURCE``: the upper limit on the parameter of interest (asymptotic CLs and profile likelihood).

SOURCE is a reference likelihood name (``dnnlik.likelihoods.available()``), a
bundle folder or ``.zip``, ``zoo:NAME``, a Zenodo reference (``zenodo:RECORD``)
or a combination file (``.json``, spec/combination.md; its first ``poi`` is the
default parameter of interest). The methods and their approximations are those of
:func:`dnnlik.infer.upper_limit`; every result says which was used.
"""

from __future__ import annotations

import json
import math
from typing import Any

import click

from ..errors import DnnlikError
from ._common import cli_message, format_option

__all__ = ["limit", "load_limit_source", "limit_source_and_poi"]

_METHODS = {"both": ("cls", "profile"), "cls": ("cls",), "profile": ("profile",)}
_FLAGS = {"poi": "--poi", "cl": "--cl", "method": "--method"}


def load_limit_source(source: str) -> Any:
    """The log-density SOURCE names: a reference likelihood, a bundle (path, ``zoo:NAME``, Zenodo), a combination file.

    Args:
        source: the command's SOURCE argument.

    Returns:
        A :class:`~dnnlik.density.LogDensity`.

    Raises:
        click.BadParameter: SOURCE is none of these (a usage error).
        DnnlikError: the bundle or combination file cannot be loaded or is not valid.
    """
    return limit_source_and_poi(source, None)[0]


def limit_source_and_poi(source: str, poi: str | None) -> tuple[Any, str | None]:
    """The log-density SOURCE names (as :func:`load_limit_source`), and the POI to use.

    Args:
        source: the command's SOURCE argument.
        poi: the ``--poi`` given, or None.

    Returns:
        ``(log-density, poi)``: ``poi`` as given; if None, a combination file's first
        ``poi`` (None otherwise: the source's parameter with role ``poi``).

    Raises:
        click.BadParameter: SOURCE is none of these (a usage error).
        DnnlikError: the bundle or combination file cannot be loaded or is not valid.
    """
    import os

    from ..api import load
    from ..combine.file import read_combination
    from ..combine.pins import is_combination_path
    from ..likelihoods import available, get

    if source in available():
        return get(source), poi
    if is_combination_path(source):  # a combination file: a LogDensity like the others, its POIs listed
        found = read_combination(source)
        return found.density, found.pois[0] if poi is None else poi
    if source.startswith("zoo:") or os.path.exists(source) or _is_zenodo(source):
        return load(source), poi
    raise click.BadParameter(
        f"{source!r} is neither a reference likelihood ({', '.join(available())}), an existing bundle path, "
        "a combination file, zoo:NAME nor a Zenodo reference",
        param_hint="SOURCE",
    )


def _is_zenodo(source: str) -> bool:
    from ..zenodo.records import is_zenodo_source  # light: no requests

    return is_zenodo_source(source)


def _text(source: str, limits: list[Any]) -> str:
    first = limits[0]
    poi = first.poi
    lines = [
        f"{source}: upper limit on {poi} at {100 * first.cl:g}% CL",
        f"  best fit: {poi} = {first.poi_hat:.6g} (log-density {first.max_logpdf:.6g})",
    ]
    for lim in limits:
        name = "CLs (asymptotic, q~_mu)" if lim.method == "cls" else "profile likelihood (one-sided q_mu)"
        value = f"{poi} < {lim.limit:.6g}" if lim.limit is not None else f"none: {lim.reason}"
        lines.append(f"  {name}: {value}")
        if lim.method == "cls":
            sigma = f", sigma at the limit {lim.sigma:.4g}" if lim.sigma is not None else ""
            lines.append(f"    CLs = {lim.level:.6g} at the limit; sigma: {lim.sigma_source}{sigma}")
        else:
            lines.append(f"    t_mu = {lim.level:.6g} at the limit")
        lines.append(f"    method: {lim.approximation}")
        lines.extend(f"    warning: {w}" for w in lim.warnings)
    return "\n".join(lines)


@click.command("limit")
@click.argument("source")
@click.option("--poi", default=None, help="Parameter of interest (default: the one with role 'poi').")
@click.option(
    "--cl",
    default=0.95,
    show_default=True,
    type=click.FloatRange(0.5, 1.0, min_open=True, max_open=True),
    help="Confidence level, between 0.5 and 1.",
)
@click.option(
    "--method",
    type=click.Choice(sorted(_METHODS)),
    default="both",
    show_default=True,
    help="Asymptotic CLs with q~_mu, the one-sided profile likelihood, or both.",
)
@format_option
def limit(source: str, poi: str | None, cl: float, method: str, fmt: str) -> None:
    """Upper limit on the parameter of interest of SOURCE: asymptotic CLs and/or profile likelihood.

    SOURCE is a reference likelihood name (e.g. toy-lhc-like), a bundle path,
    zoo:NAME, zenodo:RECORD or a combination file (.json). CLs uses the q~_mu statistic of Cowan, Cranmer,
    Gross and Vitells (2011); without an Asimov (expected) likelihood, sigma
    comes from the Wald approximation of the observed profile, as the output says.
    """
    from ..infer import upper_limit

    try:
        lik, poi = limit_source_and_poi(source, poi)
        results: list[Any] = []
        for m in _METHODS[method]:
            best = results[0].best if results else None
            results.append(upper_limit(lik, poi=poi, cl=cl, method=m, best=best))
    except DnnlikError as exc:
        raise click.ClickException(cli_message(exc, _FLAGS)) from None
    if fmt == "json":
        out = {"source": source, "limits": [r.to_json() for r in results]}
        click.echo(json.dumps(_strict(out), indent=1, allow_nan=False))
    else:
        click.echo(_text(source, results))


def _strict(obj: Any) -> Any:
    """Any non-finite float left in ``obj`` as null (strict JSON has no NaN or infinity)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_strict(v) for v in obj]
    return obj
