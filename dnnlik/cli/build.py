"""``dnnlik build pyhf WORKSPACE --out DIR``: a HistFactory workspace to a validated bundle, in one command.

Every input is checked before anything is written (pyhf's schema, the patch,
the measurement, the yields, the patchset's digest): a bad one is one line and
exit status 1. ``DIR`` receives the bundle (``DIR/bundle``), its card
(``DIR/README.md``) and plots; the work (samples, checkpoints, the trained
network) stays in ``DIR/.work``, so that the same command, rerun after it was
stopped, continues; another command's ``DIR`` is refused. On a terminal a line
on stderr shows each stage's start and end with the time elapsed and left.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

import click

from ..builder.config import BuildConfig
from ..errors import DnnlikError
from ._common import clean_errors, config_default

__all__ = ["build"]


@click.group("build")
def build() -> None:
    """Build a validated bundle from a reference likelihood (sample, train, validate)."""


def _layers_callback(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, ...] | None:
    from ..train.config import parse_layers

    if value is None:
        return None
    try:
        return parse_layers(value)
    except DnnlikError as exc:
        raise click.BadParameter(exc.bare_message, ctx=ctx, param=param) from None


def _command_line(workspace: str, options: dict[str, Any]) -> str:
    """The command as it ran (recorded in the bundle's provenance)."""
    parts = ["dnnlik", "build", "pyhf", workspace]
    for key, value in options.items():
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            parts.append(flag)
        elif isinstance(value, tuple):
            parts += [flag, ",".join(map(str, value))]
        else:
            parts += [flag, str(value)]
    return " ".join(shlex.quote(p) for p in parts)


@build.command("pyhf")
@click.argument("workspace", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--patch", type=click.Path(dir_okay=False, path_type=Path), help="A JSON patch to apply.")
@click.option("--patchset", type=click.Path(dir_okay=False, path_type=Path), help="A patchset (with --name).")
@click.option("--name", "patch_name", help="The patchset's entry (a signal point) to apply.")
@click.option("--measurement", help="The measurement [default: the first].")
@click.option("--asimov", is_flag=True, help="The background-only Asimov data instead of the observed.")
@click.option("--hepdata", help="The HEPData record (ins1234567/...), recorded in the bundle.")
@click.option(
    "--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder (new or empty)."
)
@click.option("--minutes", type=click.FloatRange(min=0, min_open=True), help="Time budget of the whole command.")
@click.option("--quick", is_flag=True, help="A few-minute smoke build (tiny samples and network); not for publication.")
@click.option(
    "--train-minutes",
    type=click.FloatRange(min=0),
    help=f"Cap on training (0: none) [default: {config_default(BuildConfig, 'train_minutes'):g}, or what the "
    "--minutes budget leaves].",
)
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    help=f"Epochs of the cosine schedule [default: {config_default(BuildConfig, 'epochs')}].",
)
@click.option(
    "--layers",
    callback=_layers_callback,
    help="Hidden layers, e.g. 256,256,256 or 3x256 [default: 3x256 from 50 parameters on, else 3x192].",
)
@click.option(
    "--ensemble",
    type=click.IntRange(min=1),
    help=f"Networks in the ensemble [default: {config_default(BuildConfig, 'ensemble')}].",
)
@click.option(
    "--seed", type=click.IntRange(min=0), help=f"Seed of every stage [default: {config_default(BuildConfig, 'seed')}]."
)
@click.option("--bundle-name", help="The bundle's name [default: from the workspace's file name and the patch].")
@click.option(
    "--progress/--no-progress", "show_progress", default=None, help="Stage lines on stderr [default: on a terminal]."
)
@clean_errors
def pyhf(
    workspace: Path, out: Path, minutes: float | None, quick: bool, show_progress: bool | None, **options: Any
) -> None:
    """Build a validated bundle of the HistFactory WORKSPACE (pyhf JSON) into --out.

    Samples the likelihood (sizes from the model's size), trains a network on the residual
    over its Laplace approximation, checks it against pyhf's exact likelihood (t_mu over a POI
    grid chosen from the exact profile, the best fit, intervals, posterior marginals) and writes
    the bundle with its validation section, a card (README.md) and plots.
    """
    from ..builder.pyhf import PyhfSource, build_pyhf

    if options["patch"] is not None and options["patchset"] is not None:
        raise click.UsageError("give --patch or --patchset with --name, not both")
    if (options["patchset"] is None) != (options["patch_name"] is None):
        raise click.UsageError("--patchset needs --name (the patch to apply), and --name needs --patchset")
    source = PyhfSource(
        workspace,
        patch=options["patch"],
        patchset=options["patchset"],
        patch_name=options["patch_name"],
        measurement=options["measurement"],
        asimov=bool(options["asimov"]),
        hepdata=options["hepdata"],
    )
    recipe = {k: options[k] for k in ("train_minutes", "epochs", "layers", "ensemble", "seed")}
    spelled = {
        "patch": options["patch"],
        "patchset": options["patchset"],
        "name": options["patch_name"],
        "measurement": options["measurement"],
        "asimov": options["asimov"],
        "hepdata": options["hepdata"],
        "out": out,
        "minutes": minutes,
        "quick": quick,
        **recipe,
        "bundle_name": options["bundle_name"],
    }
    if show_progress is None:
        show_progress = sys.stderr.isatty()
    result = build_pyhf(
        source,
        out,
        quick=quick,
        recipe=recipe,
        minutes=minutes,
        bundle_name=options["bundle_name"],
        command=_command_line(str(workspace), spelled),
        log=click.echo,
        progress=(lambda line: click.echo(line, err=True)) if show_progress else None,
    )
    click.echo(
        f"wrote {result.bundle_dir} and its card {result.entry_dir / 'README.md'} (verdict {result.verdict}); "
        "stage times (s): " + ", ".join(f"{k} {v:.0f}" for k, v in result.stage_seconds.items())
    )
