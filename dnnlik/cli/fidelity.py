"""``dnnlik fidelity BUNDLE --reference NAME``: a bundle's fidelity against its reference likelihood.

The bundle is assessed on two posterior samples of the reference: the
``--samples`` files (written by ``dnnlik sample``; the test sample, then an
independent one), or, when none are given, two drawn here with fixed seeds
(``--n`` points each, seeds ``--seed`` + 1 and + 2; the same command gives the
same samples). It prints the report (every metric, the quadratic
approximation's beside it, the verdict); ``--write`` also stores it as the
bundle's ``validation`` section, with the evidence ``dnnlik validate
--reproduce`` recomputes, atomically (a bundle folder only).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from typing import Any

import click

from ._common import clean_errors, format_option
from .tmu import parse_values

__all__ = ["fidelity", "DEFAULT_SAMPLE_SIZE"]

DEFAULT_SAMPLE_SIZE = 100_000
"""Points in each sample drawn when no ``--samples`` are given (the zoo build's ``n_fidelity``)."""

_DEFAULT_VALUES = "0:1:0.1"


def _values_callback(ctx: click.Context, param: click.Parameter, value: str) -> list[float]:
    try:
        return parse_values(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


def _reference(name: str) -> Any:
    from ..likelihoods import available, get

    if name not in available():
        raise click.BadParameter(
            f"{name!r} is not a reference likelihood; available: {', '.join(available())}", param_hint="--reference"
        )
    return get(name)


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _header(bundle: str, checked: Any) -> str:
    ref = checked.reference
    drawn = ref.get("sampled")
    how = (
        f"drawn here ({drawn['strategy']}, {drawn['n']} points each, seeds {drawn['seeds']})"
        if drawn
        else ", ".join(ref["samples"])
    )
    return (
        f"bundle: {bundle}\nreference: {ref['name']}\nsamples: {how}; {ref['n_test']} test points, "
        f"{ref['n_reweighted']} reweighted\nt_mu of {checked.poi} at {list(checked.grid)}\n"
    )


@click.command("fidelity")
@click.argument("bundle")
@click.option("--reference", "reference_name", required=True, help="Reference likelihood (dnnlik.likelihoods).")
@click.option(
    "--samples",
    "samples",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="A samples file of the reference posterior (dnnlik sample); give two: the test sample, then an "
    "independent one. Default: draw both here.",
)
@click.option(
    "--n",
    "n",
    default=DEFAULT_SAMPLE_SIZE,
    show_default=True,
    type=click.IntRange(min=1),
    help="Points in each sample drawn when no --samples are given.",
)
@click.option("--seed", default=1, show_default=True, type=int, help="Base seed of the drawn samples (+1, +2).")
@click.option("--poi", default=None, help="Parameter of interest (default: the one with role 'poi').")
@click.option(
    "--values",
    "values",
    default=_DEFAULT_VALUES,
    show_default=True,
    callback=_values_callback,
    help="Values of the POI where t_mu is compared: start:stop:step or a,b,c.",
)
@click.option("--write", is_flag=True, help="Store the report as the bundle's validation section (a folder).")
@format_option(help="The report as a table, or as JSON (the validation section).")
@clean_errors
def fidelity(
    bundle: str,
    reference_name: str,
    samples: tuple[str, ...],
    n: int,
    seed: int,
    poi: str | None,
    values: list[float],
    write: bool,
    fmt: str,
) -> None:
    """Assess BUNDLE against the reference likelihood it stands for, on posterior samples of the reference."""
    from ..api import load
    from ..errors import InvalidInputError
    from ..fidelity.bundle_fidelity import (
        assess_bundle,
        check_pairing,
        read_fidelity_data,
        sample_fidelity_data,
        write_validation,
    )

    if write and not os.path.isdir(bundle):
        raise InvalidInputError(
            "--write updates a bundle folder in place; unzip a .zip (or fetch the bundle) first", where=bundle
        )
    if samples and len(samples) != 2:
        raise click.BadParameter(
            f"give two samples files (the test sample, then an independent one), got {len(samples)}",
            param_hint="--samples",
        )
    reference = _reference(reference_name)
    loaded = load(bundle)
    poi = check_pairing(loaded, reference, poi)  # before hours of sampling
    with tempfile.TemporaryDirectory(prefix="dnnlik-fidelity-") as work:
        if samples:
            data, names, sampled = read_fidelity_data(samples, reference), [os.path.basename(s) for s in samples], None
        else:
            data, paths = sample_fidelity_data(reference, work, n=n, seed=seed, progress=None)
            names = [p.name for p in paths]
            sampled = {"strategy": "unbiased", "n": n, "seeds": [seed + 1, seed + 2]}
        checked = assess_bundle(
            loaded, reference, data, reference_name=reference_name, samples=names, sampled=sampled, poi=poi, grid=values
        )
    if write:
        write_validation(bundle, checked)
    if fmt == "json":
        section = checked.report.to_validation_section(checked.reference)
        out = {"bundle": bundle, "poi": checked.poi, **section, "notes": checked.report.all_notes(), "written": write}
        click.echo(json.dumps(_finite(out), indent=1))
        return
    click.echo(_header(bundle, checked) + checked.report.to_text())
    if write:
        click.echo(f"validation section written to {os.path.join(bundle, 'bundle.json')}")
