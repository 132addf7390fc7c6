"""``dnnlik plot BUNDLE --out DIR``: the figures of a validated bundle, from what it stores."""

from __future__ import annotations

from pathlib import Path

import click

from ._common import clean_errors

__all__ = ["plot"]


@click.command("plot")
@click.argument("target", type=str, metavar="BUNDLE | zoo:NAME")
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder to write the PNG files into (created if missing).",
)
@clean_errors
def plot(target: str, out: Path) -> None:
    """Draw a bundle's t_mu curve, mu HPDI bars, training curves and marginals (the 'plot' extra).

    Everything comes from the bundle itself: its validation metrics, its training
    history and its stored fidelity sample. Nothing is recomputed against a reference.
    """
    from ..api import load
    from ..fidelity.figures import bundle_figures
    from ..fidelity.plots import _pyplot

    if _pyplot() is None:
        raise click.ClickException("plots need matplotlib: pip install 'dnnlik[plot]'")
    bundle = load(target)
    out.mkdir(parents=True, exist_ok=True)
    for name, path in bundle_figures(bundle, out).items():
        click.echo(f"{name:>10}: {path if path is not None else 'nothing stored to draw it from'}")
