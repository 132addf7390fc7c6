"""``dnnlik zoo list`` and ``dnnlik zoo info NAME``: the published entries."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ._common import clean_errors, format_option

__all__ = ["zoo"]


@click.group("zoo")
def zoo() -> None:
    """The zoo of published bundles."""


@zoo.command("list")
@format_option
@clean_errors
def list_(fmt: str) -> None:
    """List the zoo's entries."""
    from ..zoo import load_index

    entries = load_index()
    if fmt == "json":
        click.echo(json.dumps([e.to_json() for e in entries], indent=2))
        return
    if not entries:
        click.echo("the zoo is empty")
    for e in entries:
        doi = f"  doi:{e.doi}" if e.doi else ""
        click.echo(f"{e.name:<24} {e.version:<8} {e.kind:<12} {e.size / 1e6:6.1f} MB  {e.title}{doi}")


@zoo.command("info")
@click.argument("name")
@format_option
@clean_errors
def info(name: str, fmt: str) -> None:
    """Summary of the zoo entry NAME (validated on load)."""
    from ..api import load

    bundle = load(f"zoo:{name}")
    if fmt == "json":
        click.echo(json.dumps({k: v for k, v in bundle.document.items() if k != "test_vectors"}, indent=2))
    else:
        click.echo(bundle.summary())


@zoo.command("build")
@click.argument("name")
@click.option(
    "--zoo-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("zoo"),
    show_default=True,
    help="The zoo folder to publish into.",
)
@click.option(
    "--work",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Work folder: samples, checkpoints, the trained bundle (reused on a rerun). Default: out/zoo-build/NAME.",
)
@click.option(
    "--quick", is_flag=True, help="A few-minute smoke build (small samples and network); not for publication."
)
@click.option(
    "--train-minutes",
    type=click.FloatRange(min=0),
    default=None,
    help="Cap on training wall time (0: none, train every epoch of the recipe). Default: the recipe's.",
)
@clean_errors
def build(name: str, zoo_dir: Path, work: Path | None, quick: bool, train_minutes: float | None) -> None:
    """Build the zoo entry NAME from scratch (sample, train, validate) with fixed seeds.

    Training stops after the recipe's number of epochs, or earlier at its minutes cap on a slow host
    (the build then warns that the network is not the published one).
    """
    from dataclasses import replace

    from ..zoo.build import build_entry, recipe

    config = recipe(name).quick if quick else recipe(name).config
    if train_minutes is not None:
        config = replace(config, train_minutes=train_minutes or None)
    work = work if work is not None else Path("out") / "zoo-build" / name
    result = build_entry(name, zoo_dir, work, config, log=click.echo)
    click.echo(
        f"wrote {result.entry_dir} (verdict {result.verdict}); stage times (s): "
        + ", ".join(f"{k} {v:.0f}" for k, v in result.stage_seconds.items())
    )


@zoo.command("show")
@click.argument("name")
@click.option(
    "--values", default="0:1:0.1", show_default=True, help="POI values of the t_mu scan: start:stop:step or a,b,c."
)
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the t_mu plot here (needs the 'plot' extra).",
)
@clean_errors
def show(name: str, values: str, plot: Path | None) -> None:
    """Validate the zoo entry NAME, print its t_mu against the exact one and its fidelity verdict."""
    from ..zoo.show import show_entry
    from .tmu import parse_values

    try:
        grid = parse_values(values)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--values") from None
    click.echo(show_entry(name, grid, plot))
