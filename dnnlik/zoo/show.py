"""What ``dnnlik zoo show NAME`` prints: the entry validated, its t_mu against the exact one, its verdict."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["show_entry"]


def show_entry(name: str, values: Sequence[float], plot: str | Path | None = None) -> str:
    """Load ``zoo:name`` (validated), scan t_mu on it and on its reference likelihood, and report.

    Args:
        name: the zoo entry's name.
        values: the values of the parameter of interest to scan.
        plot: a PNG to draw t_mu into (needs the ``plot`` extra; skipped, and said, without it).

    Returns:
        The text: the bundle's summary, a table of t_mu (exact, DNN, difference,
        and the ensemble's spread), the best fits and the recorded fidelity verdict.

    Raises:
        InvalidInputError: no such entry (or two), or bad ``values``.
        BundleError: the index is missing or malformed, the entry's pin does not
            match, or the bundle does not validate (:class:`~dnnlik.errors.InvalidBundleError`).
        OptimizationError: a fit of the scan failed.
    """
    from .. import likelihoods
    from ..evaluate import load_local
    from ..fidelity.plots import tmu_plot
    from ..infer import tmu_scan
    from .index import entry_path, find_entry

    bundle = load_local(entry_path(find_entry(name)))
    lines = [bundle.summary(), ""]
    source = bundle.document.get("provenance", {}).get("source_likelihood", {}).get("name")
    exact = None
    if source in likelihoods.available():
        exact = tmu_scan(likelihoods.get(source), values)
    elif source:
        lines.append(f"(the reference likelihood {source!r} is not available here: surrogate only)")
    scan = tmu_scan(bundle, values)
    spread = None
    if bundle.is_ensemble:
        spread = np.asarray(bundle.logpdf_spread(np.array([p.point for p in scan.profiles])))
    head = f"{scan.poi:>6}  {'t_mu exact':>10}  {'t_mu DNN':>10}  {'delta':>8}" + (
        "  logL spread" if spread is not None else ""
    )
    lines += [head, "-" * len(head)]
    for i, v in enumerate(scan.values):
        e = exact.tmu[i] if exact is not None else float("nan")
        row = f"{v:>6.3g}  {e:>10.4f}  {scan.tmu[i]:>10.4f}  {scan.tmu[i] - e:>+8.4f}"
        if spread is not None:
            row += f"  {spread[i]:>11.4f}"
        lines.append(row)
    if exact is not None:
        d = np.abs(np.array(scan.tmu) - np.array(exact.tmu))
        lines.append(
            f"mean |delta t_mu| = {d.mean():.4f}, max = {d.max():.4f}; best-fit {scan.poi}: "
            f"DNN {scan.poi_hat:.4f}, exact {exact.poi_hat:.4f}"
        )
    validation = bundle.document.get("validation", {})
    verdict = validation.get("verdict", "not-run")
    lines.append(f"fidelity verdict recorded in the bundle: {verdict.upper()}{_failed(validation)}")
    if plot is not None:
        written = tmu_plot(plot, scan.values, scan.tmu, None if exact is None else exact.tmu, spread, scan.poi)
        lines.append(
            f"plot: {written}" if written else "plot: skipped (install the 'plot' extra: pip install 'dnnlik[plot]')"
        )
    return "\n".join(lines)


def _failed(validation: dict[str, Any]) -> str:
    """`` (fails: name value vs threshold, ...)`` for the stored metrics that missed their threshold."""
    from ..fidelity.metrics import Metric

    missed = []
    for entry in validation.get("metrics", []):
        if not isinstance(entry, dict) or entry.get("passed") is not False:
            continue
        m = Metric.from_json(entry)
        missed.append(f"{m.name} {m.value:.4g}, needs {m.comparison} {m.threshold}" if np.isfinite(m.value) else m.name)
    return f" (fails: {'; '.join(missed)})" if missed else ""
