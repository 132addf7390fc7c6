"""What ``dnnlik zoo show NAME`` prints: the entry validated, its t_mu against the exact one, its verdict."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import InvalidInputError

__all__ = ["show_entry"]


def show_entry(name: str, values: Sequence[float], plot: str | Path | None = None) -> str:
    """Load ``zoo:name`` (validated), scan t_mu on it and on its reference likelihood, and report."""
    from .. import likelihoods
    from ..api import load
    from ..infer import tmu_scan

    bundle = load(f"zoo:{name}")
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
    head = f"{scan.poi:>6}  {'t_mu exact':>10}  {'t_mu DNN':>10}  {'delta':>8}" + ("  logL spread" if spread is not None else "")
    lines += [head, "-" * len(head)]
    for i, v in enumerate(scan.values):
        e = exact.tmu[i] if exact is not None else float("nan")
        row = f"{v:>6.3g}  {e:>10.4f}  {scan.tmu[i]:>10.4f}  {scan.tmu[i] - e:>+8.4f}"
        if spread is not None:
            row += f"  {spread[i]:>11.4f}"
        lines.append(row)
    if exact is not None:
        d = np.abs(np.array(scan.tmu) - np.array(exact.tmu))
        lines.append(f"mean |delta t_mu| = {d.mean():.4f}, max = {d.max():.4f}; best-fit {scan.poi}: "
                     f"DNN {scan.poi_hat:.4f}, exact {exact.poi_hat:.4f}")
    verdict = bundle.document.get("validation", {}).get("verdict", "not-run")
    lines.append(f"fidelity verdict recorded in the bundle: {verdict.upper()}")
    if plot is not None:
        written = _plot(Path(plot), scan, exact, spread)
        lines.append(f"plot: {written}" if written else "plot: skipped (install the 'plot' extra: pip install 'dnnlik[plot]')")
    return "\n".join(lines)


def _plot(path: Path, scan: Any, exact: Any, spread: Any) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    if path.parent and not path.parent.exists():
        raise InvalidInputError("the plot's folder does not exist", where=str(path))
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    if exact is not None:
        ax.plot(exact.values, exact.tmu, "k-", label="exact")
    ax.plot(scan.values, scan.tmu, "o--", label="DNNLikelihood")
    if spread is not None:
        t = np.array(scan.tmu)
        ax.fill_between(scan.values, t - 2 * spread, t + 2 * spread, alpha=0.3, label="ensemble spread (x2)")
    ax.set_xlabel(scan.poi)
    ax.set_ylabel("t_mu")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
