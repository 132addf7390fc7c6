"""``dnnlik validate``, ``dnnlik info`` and ``dnnlik eval``: commands on bundles."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ._common import clean_errors, format_option

if TYPE_CHECKING:
    from ..report import Report

__all__ = ["validate", "info", "eval_", "parse_assignments", "known_names", "SHOWN_NAMES"]


@click.command("validate")
@click.argument("targets", nargs=-1, type=str, metavar="[BUNDLE | COMBINATION.json | zenodo:NNN | DOI]...")
@format_option
@click.option(
    "--junit",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write a JUnit XML report to this file (for CI systems).",
)
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@click.option("--zoo", is_flag=True, help="Also validate every entry of the zoo index (see --zoo-index).")
@click.option(
    "--zoo-index",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("zoo") / "index.json",
    show_default=True,
    help="The zoo index that --zoo reads.",
)
@click.option(
    "--archived",
    is_flag=True,
    help="Also validate archived copies on Zenodo: of the zoo entries with --zoo (their DOIs and "
    "receipts), otherwise of every receipt in --receipts. Needs the zenodo extra.",
)
@click.option(
    "--receipts",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("archive") / "receipts",
    show_default=True,
    help="The folder of archive receipts that --archived reads.",
)
@click.option(
    "--reproduce",
    is_flag=True,
    help="Also recompute the bundle's stored fidelity evidence (no reference likelihood needed) "
    "and fail where it disagrees with the stored metrics. Local bundles only.",
)
@clean_errors
def validate(
    targets: tuple[str, ...],
    fmt: str,
    junit: Path | None,
    strict: bool,
    zoo: bool,
    zoo_index: Path,
    archived: bool,
    receipts: Path,
    reproduce: bool,
) -> None:
    """Validate bundles (folders, .zip files, or Zenodo records: zenodo:NNN, 10.5281/zenodo.NNN)
    and combination files (.json: every member loaded and checked against its pin),
    and report every problem with its location.

    Exit status: 0 when all are valid, 1 when any is not, 2 on usage errors.
    """
    from ..combine.file import validate_combination
    from ..combine.pins import is_combination_path
    from ..fsutil import atomic_write_text
    from ..report import reports_to_json, reports_to_junit
    from .archive import receipt_reports, zoo_reports

    if not targets and not zoo and not archived:
        raise click.UsageError("give bundles to validate, or --zoo, or --archived")
    reports = [validate_combination(t) if is_combination_path(t) else _bundle_report(t, reproduce) for t in targets]
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


def _bundle_report(target: str, reproduce: bool) -> Report:
    """A bundle's report: validated, or (``--reproduce``) its fidelity evidence recomputed too."""
    if reproduce:
        from ..fidelity.reproduce import reproduce_report

        return reproduce_report(target)
    from .archive import validate_target

    return validate_target(target)


@click.command("info")
@click.argument("path", type=click.Path(path_type=Path))
@format_option
@clean_errors
def info(path: Path, fmt: str) -> None:
    """Print a readable summary of the bundle or combination file at PATH (validated first).

    For a combination file: its members, the shared parameters, the constraint
    terms removed or added, and the parameters of interest.
    """
    from ..api import load
    from ..combine.pins import is_combination_path

    if is_combination_path(path):
        _combination_info(path, fmt)
        return
    bundle = load(path)
    if fmt == "json":
        document = dict(bundle.document)
        cases = document.get("test_vectors", {}).get("cases", [])
        document["test_vectors"] = {**document.get("test_vectors", {}), "cases": f"{len(cases)} case(s), omitted"}
        click.echo(json.dumps(document, indent=2))
    else:
        click.echo(bundle.summary())


def _combination_info(path: Path, fmt: str) -> None:
    from ..combine.file import read_combination

    found = read_combination(path)
    describe = getattr(found.density, "describe", None)
    if fmt == "json":
        out = {**found.to_json(), "combination": describe() if callable(describe) else None}
        click.echo(json.dumps(out, indent=2, allow_nan=False))
        return
    summary = getattr(found.density, "summary", None)
    click.echo(summary() if callable(summary) else repr(found.density))
    click.echo(f"  parameters of interest: {', '.join(found.pois)} (default {found.pois[0]})")
    for m in found.members:
        click.echo(f"  pin of {m.name}: {m.source} ({m.kind}) document_sha256 {m.document_sha256}")


SHOWN_NAMES = 20
"""Most parameter names an unknown ``--param`` name's message lists (the POIs always among them)."""


def known_names(names: list[str], pois: list[str], path: object = None) -> str:
    """The parameter names for a message: the parameters of interest first, then the others.

    >>> known_names(["a", "b", "mu"], ["mu"])
    'mu (parameter of interest), a, b'
    >>> text = known_names([f"x{i}" for i in range(30)] + ["mu"], ["mu"], "b.zip")
    >>> text.split(", ")[0], text.split(" and ")[1]
    ('mu (parameter of interest)', '11 more (dnnlik info b.zip lists them all)')

    Args:
        names: every parameter name, in the bundle's order.
        pois: the names with role ``poi``.
        path: the bundle, for the hint when names are left out.

    Returns:
        All names when there are at most :data:`SHOWN_NAMES`, else the first of them and how many more.
    """
    ordered = [n for n in names if n in pois] + [n for n in names if n not in pois]
    shown = [f"{n} (parameter of interest)" if n in pois else n for n in ordered[:SHOWN_NAMES]]
    text = ", ".join(shown)
    if len(ordered) > SHOWN_NAMES:
        text += f" and {len(ordered) - SHOWN_NAMES} more (dnnlik info {path or 'BUNDLE'} lists them all)"
    return text


def parse_assignments(
    items: tuple[str, ...], names: list[str], pois: list[str] | None = None, path: object = None
) -> dict[str, float]:
    """``("mu=0.5", "jes=-1")`` -> ``{"mu": 0.5, "jes": -1.0}``; raises click.BadParameter.

    Args:
        items: the ``--param`` values.
        names: the bundle's parameter names.
        pois: the names of its parameters of interest (listed first when a name is unknown).
        path: the bundle, named in the message when not every name can be listed.

    Returns:
        The values by name.

    Raises:
        click.BadParameter: an item is not ``NAME=VALUE`` of a parameter, given once, with a finite number.
    """
    import difflib

    values: dict[str, float] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--param")
        if name not in names:
            close = difflib.get_close_matches(name, names, n=1)
            guess = f"; did you mean {close[0]!r}?" if close else "."
            raise click.BadParameter(
                f"{name!r} is not a parameter of this bundle{guess} Its parameters: "
                f"{known_names(names, pois or [], path)}",
                param_hint="--param",
            )
        if name in values:
            raise click.BadParameter(f"{name!r} is given twice", param_hint="--param")
        try:
            value = float(text)
        except ValueError:
            raise click.BadParameter(f"{name}={text!r}: {text!r} is not a number", param_hint="--param") from None
        if math.isnan(value):
            raise click.BadParameter(f"{name}={text}: NaN is not a parameter value", param_hint="--param")
        if math.isinf(value):
            raise click.BadParameter(
                f"{name}={text}: not a finite number (parameter values must be finite doubles, |x| < 1.8e308)",
                param_hint="--param",
            )
        values[name] = value
    return values


_EVAL_HELP = """Evaluate the log-likelihood of the bundle at PATH at one point.

\b
Text output: the value on the first line. A value of -inf says why:
  -inf  (the point is outside the parameters' allowed bounds)
  -inf  (the model's value at this point, which is inside the bounds)
With --grad, one line per parameter follows (nan where no gradient exists:
outside the bounds, or where the log-likelihood is -inf).

\b
JSON output (--format json) is strict JSON (RFC 8259: no NaN or Infinity):
  point          every parameter's value (those not given at nominal)
  inside_bounds  true when the point is inside the allowed bounds
  logpdf         the value, or null when it is -inf
  logpdf_note    present only when logpdf is null, saying why (as above)
  grad_logpdf    with --grad: the gradient by parameter name, or null
                 where no gradient exists (then grad_logpdf_note says why)

A model that returns NaN or +inf, or a malformed output, at the point is an
error (exit status 1, one line naming the point and the output), never a
number. Parameter values must be finite numbers.
"""


@click.command("eval", help=_EVAL_HELP)
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--param",
    "-p",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="A parameter value; repeat for several. Parameters not given are at their nominal value.",
)
@click.option("--grad", is_flag=True, help="Also print the gradient of the log-likelihood.")
@format_option
@clean_errors
def eval_(path: Path, params: tuple[str, ...], grad: bool, fmt: str) -> None:
    from ..api import load

    bundle = load(path)
    names = [p.name for p in bundle.parameters]
    point = parse_assignments(params, names, [p.name for p in bundle.parameters if p.role == "poi"], path)
    full = {p.name: point.get(p.name, p.nominal) for p in bundle.parameters}
    inside = all(p.lower <= full[p.name] <= p.upper for p in bundle.parameters)
    if grad:
        value_, gradient_ = bundle.logpdf_and_grad(point)
        value, gradient = float(value_), [float(g) for g in gradient_]
    else:
        value, gradient = float(bundle.logpdf(point)), None
    # the Bundle raises on NaN and +inf: the only non-finite value left is -inf
    note = None
    if not math.isfinite(value):
        note = (
            "-inf: the point is outside the parameters' allowed bounds"
            if not inside
            else "-inf: the model's value at this point, which is inside the bounds"
        )
    if fmt == "json":
        out: dict[str, object] = {"point": full, "inside_bounds": inside, "logpdf": value if note is None else None}
        if note is not None:
            out["logpdf_note"] = note
        if gradient is not None:
            finite = all(math.isfinite(g) for g in gradient)
            out["grad_logpdf"] = dict(zip(names, gradient, strict=True)) if finite else None
            if not finite:
                out["grad_logpdf_note"] = (
                    "no gradient exists where the log-likelihood is -inf"
                    if note is not None
                    else "the gradient is not finite at this point"
                )
        click.echo(json.dumps(out, indent=2, allow_nan=False))
        return
    if note is not None:
        click.echo(f"-inf  ({note.removeprefix('-inf: ')})")
    else:
        click.echo(f"{value:.10g}")
    if gradient is not None:
        width = max(len(n) for n in names)
        for name, g in zip(names, gradient, strict=True):
            click.echo(f"  d/d{name:<{width}}  {g:.10g}")
