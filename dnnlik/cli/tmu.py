"""``dnnlik tmu SOURCE --values ...``: the profile-likelihood statistic t_mu along a scan.

SOURCE is a reference likelihood name (``dnnlik.likelihoods.available()``) or
the path of a bundle (folder or ``.zip``). ``--values`` is ``start:stop:step``
(stop included, within rounding) or a comma-separated list.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from typing import Any

import click

from ..errors import DnnlikError
from ._common import format_option

__all__ = ["tmu", "parse_values", "scan_options", "MAX_VALUES"]

MAX_VALUES = 10000
"""Most values one scan may have."""


def parse_values(text: str) -> list[float]:
    """``"0:1:0.1"`` -> [0.0, 0.1, ..., 1.0]; ``"0,0.5,1"`` -> [0.0, 0.5, 1.0]. Raises ValueError."""
    text = text.strip()
    if not text:
        raise ValueError("empty; give start:stop:step or a comma-separated list")
    if ":" in text:
        parts = text.split(":")
        if len(parts) != 3:
            raise ValueError(f"{text!r}: a range needs exactly start:stop:step")
        start, stop, step = (_number(p, name) for p, name in zip(parts, ("start", "stop", "step"), strict=True))
        if step == 0.0:
            raise ValueError(f"{text!r}: step must not be 0")
        if (stop - start) * step < 0:
            raise ValueError(f"{text!r}: step {step:g} goes away from stop {stop:g}")
        count = math.floor((stop - start) / step + 1e-9) + 1
        if count > MAX_VALUES:
            raise ValueError(f"{text!r}: {count} values, more than the {MAX_VALUES} allowed")
        return [_tidy(start + i * step) for i in range(count)]
    values = [_number(p, f"item {i + 1}") for i, p in enumerate(text.split(","))]
    if len(values) > MAX_VALUES:
        raise ValueError(f"{len(values)} values, more than the {MAX_VALUES} allowed")
    return values


def _number(text: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} {text.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} {text.strip()!r} is not finite")
    return value


def _tidy(value: float) -> float:
    # 0.1 * 3 -> 0.3, not 0.30000000000000004
    return float(f"{value:.12g}")


def _values_callback(ctx: click.Context, param: click.Parameter, value: str) -> list[float]:
    try:
        return parse_values(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


def _load_source(source: str) -> Any:
    from ..likelihoods import available, get

    if source in available():
        return get(source)
    if os.path.exists(source):
        from ..api import load

        return load(source)
    raise click.BadParameter(
        f"{source!r} is neither a reference likelihood ({', '.join(available())}) nor an existing bundle path",
        param_hint="SOURCE",
    )


def _text_table(scan: Any) -> str:
    head = (scan.poi, "t_mu", "profiled logL", f"{scan.poi} best fit")
    rows = [
        (f"{v:.6g}", f"{t:.4f}", f"{p.logpdf:.4f}", "")
        for v, t, p in zip(scan.values, scan.tmu, scan.profiles, strict=True)
    ]
    rows.append((f"{scan.poi_hat:.6g}", f"{0.0:.4f}", f"{scan.max_logpdf:.4f}", "yes (global maximum)"))
    widths = [max(len(r[k]) for r in [head, *rows]) for k in range(4)]
    lines = [
        "  ".join(c.rjust(w) if k < 3 else c for k, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()
        for r in [head, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def scan_options(values_flag: str, poi_default: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The options of a t_mu scan: the values (as ``values_flag``), --poi, --starts, --seed, --format.

    Args:
        values_flag: the option that takes the POI values (``--values``, ``--tmu``).
        poi_default: what ``--poi`` defaults to, in words (its help).
    """

    def apply(command: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(
            [
                click.option(
                    values_flag,
                    "values",
                    required=True,
                    callback=_values_callback,
                    help="Values of the parameter of interest: start:stop:step (stop included) or a,b,c.",
                ),
                click.option("--poi", default=None, help=f"Parameter to scan (default: {poi_default})."),
                click.option(
                    "--starts",
                    default=1,
                    show_default=True,
                    type=click.IntRange(min=1),
                    help="Starting points per fit (extra ones random, seeded by --seed).",
                ),
                click.option("--seed", default=0, show_default=True, type=int, help="Seed of the random starts."),
                format_option(help="Aligned table or machine-readable JSON."),
            ]
        ):
            command = option(command)
        return command

    return apply


@click.command("tmu")
@click.argument("source")
@scan_options("--values", "the one with role 'poi'")
def tmu(source: str, values: list[float], poi: str | None, starts: int, seed: int, fmt: str) -> None:
    """Profile-likelihood test statistic t_mu of SOURCE along a scan of its parameter of interest.

    SOURCE is a reference likelihood name (e.g. toy-lhc-like) or a bundle path.
    """
    from ..infer import tmu_scan

    try:
        lik = _load_source(source)
        scan = tmu_scan(lik, values, poi=poi, starts=starts, seed=seed)
    except DnnlikError as exc:
        raise click.ClickException(str(exc)) from None
    if fmt == "json":
        out = {"source": source, **scan.to_json()}
        click.echo(json.dumps(out, indent=1))
    else:
        click.echo(_text_table(scan))
