"""``dnnlik sample SOURCE --strategy mixed --n 500000 --out samples.h5``: training data from emcee.

SOURCE is a reference likelihood name (``dnnlik.likelihoods.available()``).
The run checkpoints to ``OUT.partial/``; ``--resume`` continues an
interrupted run (same options), ``--overwrite`` starts again. A progress bar
is shown on a terminal only; a summary of the diagnostics ends the run.

The sampling options are made from the fields of
:class:`dnnlik.sample.SampleOptions` (their defaults, help texts and ranges);
this module adds only their flags and text forms (``--poi-range lo:hi``,
``--split 0.8,0.1,0.1``), and reports library errors in terms of its flags.
"""

from __future__ import annotations

import dataclasses
import json
import math
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..errors import DnnlikError, InvalidInputError
from ..sample.options import STRATEGIES, TRANSFORM_MODES, SampleOptions
from ._common import cli_message as common_cli_message
from ._common import config_default, format_option

__all__ = ["sample", "cli_message", "LIBRARY_ONLY"]

F = TypeVar("F", bound=Callable[..., Any])


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
        raise click.BadParameter(
            f"{value!r}: expected three numbers train,validation,test", ctx=ctx, param=param
        ) from None
    if len(parts) != 3 or any(not math.isfinite(p) or p < 0 for p in parts) or sum(parts) <= 0:
        raise click.BadParameter(
            f"{value!r}: expected three non-negative numbers train,validation,test", ctx=ctx, param=param
        )
    return parts


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
        raise click.BadParameter(
            f"{source!r} is not a reference likelihood; available: {', '.join(available())}", param_hint="SOURCE"
        )
    return get(source)


# ---------------------------------------------------------------------------------------------- options
# The sampling options, in the order --help lists them: SampleOptions field -> (flag, what the command line
# adds: a parser of its text form, a shorter help). Defaults, help texts and integer and interval rules come
# from the field (dnnlik.sample.options), so each default lives there only; --help states it.
_FLAGS: dict[str, tuple[str, dict[str, Any]]] = {
    "strategy": ("--strategy", {"type": click.Choice(STRATEGIES)}),
    "n": ("--n", {}),
    "seed": ("--seed", {}),
    "n_walkers": ("--walkers", {}),
    "moves": ("--moves", {}),
    "transform": ("--transform", {"type": click.Choice(TRANSFORM_MODES)}),
    "n_chains": ("--chains", {}),
    "profile_fraction": ("--profile-fraction", {}),
    "poi": ("--poi", {}),
    "poi_grid": ("--poi-grid", {}),
    "poi_range": ("--poi-range", {"callback": _parse_range, "help": "lo:hi of the profile grid."}),
    "window": ("--window", {"callback": _parse_window}),
    "tune_steps": ("--tune-steps", {}),
    "burn_in": ("--burn-in", {}),
    "thin": ("--thin", {}),
    "checkpoint_every": ("--checkpoint-every", {}),
    "split": (
        "--split",
        {
            "callback": _parse_split,
            "help": "train,validation,test fractions.",
            "to_text": lambda v: ",".join(f"{x:g}" for x in v),
        },
    ),
}
LIBRARY_ONLY = {
    "df": None,
    "poi_sigmas": None,
    "burn_factor": None,
    "thin_factor": None,
    "split_seed": None,
    "on_short_chain": "--strict",
}
"""Fields of SampleOptions the command line does not offer as options (or offers in another form)."""

_ARGUMENTS = (
    {name: flag for name, (flag, _) in _FLAGS.items()}
    | {k: v for k, v in LIBRARY_ONLY.items() if v}
    | {"resume": "--resume", "overwrite": "--overwrite"}
)
"""Library argument -> the flag that sets it: errors are reported in the command line's terms."""


def _option(name: str, flag: str, extra: dict[str, Any]) -> Callable[[F], F]:
    """The click option of the SampleOptions field ``name``."""
    meta = next(f.metadata for f in dataclasses.fields(SampleOptions) if f.name == name)
    default, extra = config_default(SampleOptions, name), dict(extra)
    to_text = extra.pop("to_text", None)
    kwargs: dict[str, Any] = {
        "default": default if to_text is None else to_text(default),
        "show_default": meta["default_text"] or True,
        "help": meta["help"],
    }
    if meta["minimum"] is not None:
        kwargs["type"] = click.IntRange(min=meta["minimum"])
    if meta["interval"] is not None:
        kwargs["type"] = click.FloatRange(*meta["interval"])
    return click.option(flag, name, **{**kwargs, **extra})


def _sampling_options(func: F) -> F:
    for name, (flag, extra) in reversed(_FLAGS.items()):
        func = _option(name, flag, extra)(func)
    return func


def cli_message(exc: DnnlikError) -> str:
    """A library error in this command's terms (:func:`dnnlik.cli._common.cli_message` with this
    command's map of arguments to flags): the argument it names (``where``) as its flag, and
    ``overwrite=True``/``resume=True`` as ``--overwrite``/``--resume``.

    >>> cli_message(InvalidInputError("50 walkers are too few", where="n_walkers"))
    '--walkers: 50 walkers are too few'

    Args:
        exc: the library's error.

    Returns:
        Its message, naming this command's flags.
    """
    return common_cli_message(exc, _ARGUMENTS)


# ---------------------------------------------------------------------------------------------- the command
@click.command("sample")
@click.argument("source")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="Samples file (HDF5) to write.")
@click.option("--resume", is_flag=True, help="Continue the interrupted run writing OUT (same options).")
@click.option("--overwrite", is_flag=True, help="Replace OUT (only once the new file is complete).")
@_sampling_options
@click.option("--strict", is_flag=True, help="Chains too short to trust their diagnostics are an error.")
@click.option("--progress/--no-progress", default=None, help="Progress bar [default: on a terminal only].")
@format_option(help="Summary as readable text, or the run's sampling metadata as JSON.")
def sample(
    source: str, out: str, resume: bool, overwrite: bool, strict: bool, progress: bool | None, fmt: str, **options: Any
) -> None:
    """Sample SOURCE with emcee and write training data (points, exact logpdf, split, metadata) to OUT."""
    from ..sample import sample as run_sample

    if resume and overwrite:
        raise click.UsageError("--resume and --overwrite exclude each other")
    lik = _load(source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the summary lists them
            result = run_sample(
                lik,
                out,
                resume=resume,
                overwrite=overwrite,
                progress=progress,
                on_short_chain="error" if strict else "warn",
                **options,
            )
    except InvalidInputError as exc:
        raise click.UsageError(cli_message(exc)) from None
    except DnnlikError as exc:
        raise click.ClickException(cli_message(exc)) from None
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "out": str(result.path),
                    "n_samples": result.n_samples,
                    "resumed": result.resumed,
                    "warnings": result.warnings,
                    "sampling": result.sampling,
                },
                indent=1,
            )
        )
    else:
        click.echo(result.summary())
