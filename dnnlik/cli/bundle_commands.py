"""``dnnlik validate``, ``dnnlik info`` and ``dnnlik eval``: commands on bundles."""

from __future__ import annotations

import json
import math
from pathlib import Path

import click

from ._common import clean_errors, format_option

__all__ = ["validate", "info", "eval_", "parse_assignments"]


@click.command("validate")
@click.argument("targets", nargs=-1, type=str, metavar="[BUNDLE | zenodo:NNN | DOI]...")
@format_option
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write a JUnit XML report to this file (for CI systems).")
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@click.option("--zoo", is_flag=True, help="Also validate every entry of the zoo index (see --zoo-index).")
@click.option("--zoo-index", type=click.Path(dir_okay=False, path_type=Path), default=Path("zoo") / "index.json",
              show_default=True, help="The zoo index that --zoo reads.")
@click.option("--archived", is_flag=True,
              help="Also validate archived copies on Zenodo: of the zoo entries with --zoo (their DOIs and "
                   "receipts), otherwise of every receipt in --receipts. Needs the zenodo extra.")
@click.option("--receipts", type=click.Path(file_okay=False, path_type=Path), default=Path("archive") / "receipts",
              show_default=True, help="The folder of archive receipts that --archived reads.")
@click.option("--reproduce", is_flag=True,
              help="Also recompute the bundle's stored fidelity evidence (no reference likelihood needed) "
                   "and fail where it disagrees with the stored metrics. Local bundles only.")
@clean_errors
def validate(targets: tuple[str, ...], fmt: str, junit: Path | None, strict: bool, zoo: bool, zoo_index: Path,
             archived: bool, receipts: Path, reproduce: bool) -> None:
    """Validate bundles (folders, .zip files, or Zenodo records: zenodo:NNN, 10.5281/zenodo.NNN)
    and report every problem with its location.

    Exit status: 0 when all are valid, 1 when any is not, 2 on usage errors.
    """
    from ..fsutil import atomic_write_text
    from ..report import reports_to_json, reports_to_junit
    from .archive import receipt_reports, validate_target, zoo_reports

    if not targets and not zoo and not archived:
        raise click.UsageError("give bundles to validate, or --zoo, or --archived")
    if reproduce:
        from ..fidelity.reproduce import reproduce_report

        reports = [reproduce_report(target) for target in targets]
    else:
        reports = [validate_target(target) for target in targets]
    if zoo:
        reports += zoo_reports(zoo_index, archived, receipts)
    elif archived:
        reports += receipt_reports(receipts)
    if strict:
        import dataclasses

        for report in reports:
            report.problems = [dataclasses.replace(p, level="error") for p in report.problems]
    if fmt == "json":
        click.echo(reports_to_json(reports))
    else:
        for report in reports:
            click.echo(report.to_text())
        if not reports:
            click.echo("nothing to validate")
    if junit is not None:
        atomic_write_text(junit, reports_to_junit(reports))
    if not all(r.ok for r in reports):
        raise SystemExit(1)


@click.command("info")
@click.argument("path", type=click.Path(path_type=Path))
@format_option
@clean_errors
def info(path: Path, fmt: str) -> None:
    """Print a readable summary of the bundle at PATH (validated first)."""
    from ..api import load

    bundle = load(path)
    if fmt == "json":
        document = dict(bundle.document)
        cases = document.get("test_vectors", {}).get("cases", [])
        document["test_vectors"] = {**document.get("test_vectors", {}), "cases": f"{len(cases)} case(s), omitted"}
        click.echo(json.dumps(document, indent=2))
    else:
        click.echo(bundle.summary())


def parse_assignments(items: tuple[str, ...], names: list[str]) -> dict[str, float]:
    """``("mu=0.5", "jes=-1")`` -> ``{"mu": 0.5, "jes": -1.0}``; raises click.BadParameter."""
    values: dict[str, float] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--param")
        if name not in names:
            shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
            raise click.BadParameter(f"{name!r} is not a parameter of this bundle ({shown})", param_hint="--param")
        if name in values:
            raise click.BadParameter(f"{name!r} is given twice", param_hint="--param")
        try:
            value = float(text)
        except ValueError:
            raise click.BadParameter(f"{name}={text!r}: {text!r} is not a number", param_hint="--param") from None
        if math.isnan(value):
            raise click.BadParameter(f"{name}={text}: NaN is not a parameter value", param_hint="--param")
        values[name] = value
    return values


@click.command("eval")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--param", "-p", "params", multiple=True, metavar="NAME=VALUE",
              help="A parameter value; repeat for several. Parameters not given are at their nominal value.")
@click.option("--grad", is_flag=True, help="Also print the gradient of the log-likelihood.")
@format_option
@clean_errors
def eval_(path: Path, params: tuple[str, ...], grad: bool, fmt: str) -> None:
    """Evaluate the log-likelihood of the bundle at PATH at one point."""
    from ..api import load

    bundle = load(path)
    names = [p.name for p in bundle.parameters]
    point = parse_assignments(params, names)
    full = {p.name: point.get(p.name, p.nominal) for p in bundle.parameters}
    value = float(bundle.logpdf(point))
    gradient = [float(g) for g in bundle.grad_logpdf(point)] if grad else None
    if fmt == "json":
        out: dict[str, object] = {"point": full, "logpdf": value if math.isfinite(value) else None}
        if gradient is not None:
            out["grad_logpdf"] = dict(zip(names, gradient))
        click.echo(json.dumps(out, indent=2))
        return
    if not math.isfinite(value):
        click.echo("-inf  (the point is outside the parameters' allowed bounds)")
    else:
        click.echo(f"{value:.10g}")
    if gradient is not None:
        width = max(len(n) for n in names)
        for name, g in zip(names, gradient):
            click.echo(f"  d/d{name:<{width}}  {g:.10g}")
