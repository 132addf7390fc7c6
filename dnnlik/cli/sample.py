"""``dnnlik sample SOURCE --strategy mixed --n 500000 --out samples.h5``: training data from emcee.

SOURCE is a reference likelihood name (``dnnlik.likelihoods.available()``).
The run checkpoints to ``OUT.partial/``; ``--resume`` continues an
interrupted run (same options), ``--overwrite`` starts again. A progress bar
is shown on a terminal only; a summary of the diagnostics ends the run.
"""

from __future__ import annotations

import json
import math
import warnings
from typing import Any

import click

from ..errors import DnnlikError, InvalidInputError

__all__ = ["sample"]


def _parse_range(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[float, float] | None:
    if value is None:
        return None
    parts = value.split(":")
    try:
        lo, hi = (float(p) for p in parts)
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected lo:hi, two numbers", ctx=ctx, param=param) from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise click.BadParameter(f"{value!r}: expected finite lo < hi", ctx=ctx, param=param)
    return lo, hi


def _parse_split(ctx: click.Context, param: click.Parameter, value: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(p) for p in value.split(","))
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected three numbers train,validation,test", ctx=ctx,
                                 param=param) from None
    if len(parts) != 3 or any(not math.isfinite(p) or p < 0 for p in parts) or sum(parts) <= 0:
        raise click.BadParameter(f"{value!r}: expected three non-negative numbers train,validation,test",
                                 ctx=ctx, param=param)
    return parts  # type: ignore[return-value]


def _parse_window(ctx: click.Context, param: click.Parameter, value: str) -> str | float:
    if value == "tile":
        return value
    try:
        w = float(value)
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected 'tile' or a width >= 0", ctx=ctx, param=param) from None
    if not (math.isfinite(w) and w >= 0):
        raise click.BadParameter(f"{value!r}: expected 'tile' or a width >= 0", ctx=ctx, param=param)
    return w


def _load(source: str) -> Any:
    from ..likelihoods import available, get

    if source not in available():
        raise click.BadParameter(f"{source!r} is not a reference likelihood; available: {', '.join(available())}",
                                 param_hint="SOURCE")
    return get(source)


@click.command("sample")
@click.argument("source")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False),
              help="Samples file (HDF5) to write.")
@click.option("--strategy", type=click.Choice(["unbiased", "profile", "mixed"]), default="unbiased",
              show_default=True, help="Posterior samples, chains along the profile ridge, or both.")
@click.option("--n", "n", type=click.IntRange(min=1), default=100_000, show_default=True,
              help="Number of distinct samples to write.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of everything random.")
@click.option("--resume", is_flag=True, help="Continue the interrupted run writing OUT (same options).")
@click.option("--overwrite", is_flag=True, help="Replace OUT (only once the new file is complete).")
@click.option("--walkers", "n_walkers", type=click.IntRange(min=2), default=None,
              help="Walkers per ensemble [default: max(64, 2 x dimensions + 10)].")
@click.option("--moves", default="auto", show_default=True,
              help="Move set: auto, laplace, laplace-de, laplace-stretch, laplace-rw, de, stretch, kde, "
                   "or name:weight,... of laplace, laplace-rw, stretch, de, snooker, kde.")
@click.option("--chains", "n_chains", type=click.IntRange(min=1), default=2, show_default=True,
              help="Independent unbiased ensembles (R-hat is computed over all their walkers).")
@click.option("--profile-fraction", type=click.FloatRange(0.0, 1.0), default=0.5, show_default=True,
              help="Fraction of profile samples in a mixed run.")
@click.option("--poi", default=None, help="Parameter of interest (default: the one with role 'poi').")
@click.option("--poi-grid", type=click.IntRange(min=1), default=20, show_default=True,
              help="POI values of the profile grid.")
@click.option("--poi-range", callback=_parse_range, default=None,
              help="lo:hi of the profile grid [default: best fit +- 5 Laplace sigma, within the bounds].")
@click.option("--window", callback=_parse_window, default="tile", show_default=True,
              help="POI window of each profile chain: 'tile' (windows tile the range), a width, or 0 (POI fixed).")
@click.option("--tune-steps", type=click.IntRange(min=1), default=500, show_default=True,
              help="Steps of the tuning chain that fixes burn-in and thinning.")
@click.option("--burn-in", type=click.IntRange(min=0), default=None, help="Override the burn-in (steps).")
@click.option("--thin", type=click.IntRange(min=1), default=None, help="Override the thinning.")
@click.option("--checkpoint-every", type=click.IntRange(min=1), default=500, show_default=True,
              help="Steps between checkpoints.")
@click.option("--split", callback=_parse_split, default="0.8,0.1,0.1", show_default=True,
              help="train,validation,test fractions.")
@click.option("--strict", is_flag=True, help="Chains too short to trust their diagnostics are an error.")
@click.option("--progress/--no-progress", default=None, help="Progress bar [default: on a terminal only].")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Summary as readable text, or the run's sampling metadata as JSON.")
def sample(source: str, out: str, strategy: str, n: int, seed: int, resume: bool, overwrite: bool,
           n_walkers: int | None, moves: str, n_chains: int, profile_fraction: float, poi: str | None,
           poi_grid: int, poi_range: tuple[float, float] | None, window: str | float, tune_steps: int,
           burn_in: int | None, thin: int | None, checkpoint_every: int, split: tuple[float, float, float],
           strict: bool, progress: bool | None, fmt: str) -> None:
    """Sample SOURCE with emcee and write training data (points, exact logpdf, split, metadata) to OUT."""
    from ..sample import sample as run_sample

    if resume and overwrite:
        raise click.UsageError("--resume and --overwrite exclude each other")
    lik = _load(source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the summary lists them
            result = run_sample(
                lik, out, resume=resume, overwrite=overwrite, progress=progress, strategy=strategy, n=n,
                seed=seed, n_walkers=n_walkers, moves=moves, n_chains=n_chains,
                profile_fraction=profile_fraction, poi=poi, poi_grid=poi_grid, poi_range=poi_range,
                window=window, tune_steps=tune_steps, burn_in=burn_in, thin=thin,
                checkpoint_every=checkpoint_every, split=split, on_short_chain="error" if strict else "warn")
    except InvalidInputError as exc:
        raise click.UsageError(str(exc)) from None
    except DnnlikError as exc:
        raise click.ClickException(str(exc)) from None
    if fmt == "json":
        click.echo(json.dumps({"out": str(result.path), "n_samples": result.n_samples, "resumed": result.resumed,
                               "warnings": result.warnings, "sampling": result.sampling}, indent=1))
    else:
        click.echo(result.summary())
