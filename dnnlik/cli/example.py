"""``dnnlik example``: write the analytic example bundle, which needs no training."""

from __future__ import annotations

from pathlib import Path

import click

from ._common import clean_errors

__all__ = ["example"]


@click.command("example")
@click.argument("out", type=click.Path(path_type=Path))
@click.option(
    "--dim", default=4, show_default=True, type=click.IntRange(1, 1000), help="Number of parameters of the Gaussian."
)
@click.option(
    "--dtype",
    type=click.Choice(["float64", "float32"]),
    default="float64",
    show_default=True,
    help="Tensor type of the ONNX graph.",
)
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists.")
@clean_errors
def example(out: Path, dim: int, dtype: str, overwrite: bool) -> None:
    """Write an analytic multivariate-Gaussian likelihood bundle to OUT (a folder, or a .zip)."""
    from ..examples import build_gaussian_bundle

    build_gaussian_bundle(out, dim=dim, dtype=dtype, overwrite=overwrite)
    click.echo(f"wrote {out}")
