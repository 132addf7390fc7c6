"""Plots a physicist would rather look at than read (the ``plot`` extra: matplotlib).

Each function writes one PNG and returns its path, or None when matplotlib is
not installed (the caller says so; nothing fails).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInputError

__all__ = ["tmu_plot", "marginals_plot", "hpdi_plot", "training_plot", "pick_marginals"]

_HPDI_SOURCES = (
    ("exact", "exact (test sample)", "k"),
    ("reweighted", "test sample reweighted to the DNN", "C0"),
    ("independent_reweighted", "independent sample reweighted to the DNN", "C1"),
    ("sampled", "sampled on the DNN itself", "C2"),
    ("independent_exact", "independent exact sample (noise)", "0.6"),
)


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def _target(path: str | Path) -> Path:
    path = Path(path)
    if not path.parent.is_dir():
        raise InvalidInputError("the plot's folder does not exist", where=str(path))
    return path


def _save(plt: Any, fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def tmu_plot(
    path: str | Path,
    values: Sequence[float] | np.ndarray,
    surrogate: Sequence[float] | np.ndarray,
    exact: Sequence[float] | np.ndarray | None = None,
    spread: Sequence[float] | np.ndarray | None = None,
    poi: str = "mu",
) -> Path | None:
    """t_mu of the surrogate (with a +-2 spread band for an ensemble) beside the exact one.

    With the exact curve, a lower panel shows the difference surrogate - exact, where the
    fidelity targets live (a few thousandths, invisible on the t_mu scale).

    Args:
        path: the image file to write (its suffix picks the format).
        values: the POI values scanned.
        surrogate: t_mu of the surrogate at ``values``.
        exact: t_mu of the exact likelihood at ``values`` (None: no exact curve, no lower panel).
        spread: the ensemble's log L spread at ``values`` (None: no band).
        poi: the POI's name, for the axis label.

    Returns:
        The path written, or None without matplotlib (the ``plot`` extra).

    Raises:
        InvalidInputError: the folder of ``path`` does not exist.
    """
    plt = _pyplot()
    if plt is None:
        return None
    path = _target(path)
    t = np.asarray(surrogate, dtype=np.float64)
    if exact is None:
        fig, ax = plt.subplots(figsize=(5.5, 3.8))
        low = None
    else:
        fig, (ax, low) = plt.subplots(2, 1, figsize=(5.5, 5.2), sharex=True, height_ratios=(3, 1.4))
        ax.plot(values, exact, "k-", label="exact")
    ax.plot(values, t, "o--", label="DNNLikelihood")
    if spread is not None:
        s = np.asarray(spread, dtype=np.float64)
        ax.fill_between(values, t - 2 * s, t + 2 * s, alpha=0.3, label="ensemble spread (x2)")
    ax.set_ylabel("t_mu")
    ax.legend()
    if low is not None:
        delta = t - np.asarray(exact, dtype=np.float64)
        low.axhline(0.0, color="k", lw=0.8)
        low.plot(values, delta, "o--", color="C0")
        if spread is not None:
            low.fill_between(values, delta - 2 * s, delta + 2 * s, alpha=0.3, color="C0")
        low.set_ylabel("DNN - exact")
        low.set_xlabel(poi)
    else:
        ax.set_xlabel(poi)
    return _save(plt, fig, path)


def pick_marginals(names: Sequence[str], pvalues: Sequence[float], poi: str | None = None, n: int = 9) -> list[int]:
    """Columns worth looking at: the POI, then the parameters with the lowest K-S p-values.

    >>> pick_marginals(["mu", "a", "b", "c"], [0.9, 0.5, 0.01, 0.2], poi="mu", n=3)
    [0, 2, 3]

    Args:
        names: the parameter names.
        pvalues: one K-S p-value per parameter.
        poi: the parameter of interest, put first (when among ``names``).
        n: at most this many columns.

    Returns:
        Column indices.
    """
    order = [int(i) for i in np.argsort(np.asarray(pvalues, dtype=np.float64), kind="stable")]
    first = [list(names).index(poi)] if poi is not None and poi in names else []
    return (first + [i for i in order if i not in first])[:n]


def marginals_plot(
    path: str | Path,
    exact_x: np.ndarray,
    surrogate_x: np.ndarray,
    names: Sequence[str],
    columns: Sequence[int],
    *,
    exact_weight: np.ndarray | None = None,
    surrogate_weight: np.ndarray | None = None,
    pvalues: Sequence[float] | None = None,
    bins: int = 40,
) -> Path | None:
    """1-D marginals of ``columns``: the exact posterior against the surrogate's (reweighted) one.

    Args:
        path: the PNG to write, in an existing folder.
        exact_x: a sample of the exact posterior, (N, P).
        surrogate_x: a sample of the surrogate's posterior (or one reweighted to it), (M, P).
        names: the P parameter names.
        columns: the columns to draw, three per row.
        exact_weight: weights of ``exact_x``, (N,); default equal.
        surrogate_weight: weights of ``surrogate_x``, (M,); default equal.
        pvalues: one K-S p-value per parameter, shown in the titles.
        bins: histogram bins between the 0.1 and 99.9 percentiles.

    Returns:
        ``path``, or None when matplotlib is not installed.

    Raises:
        InvalidInputError: the folder of ``path`` does not exist, or ``columns`` is empty.
    """
    plt = _pyplot()
    if plt is None:
        return None
    path = _target(path)
    exact_x, surrogate_x = np.asarray(exact_x, dtype=np.float64), np.asarray(surrogate_x, dtype=np.float64)
    cols = list(columns)
    if not cols:
        raise InvalidInputError("no parameter to plot", where="columns")
    ncol = min(3, len(cols))
    nrow = -(-len(cols) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.4 * ncol, 2.6 * nrow), squeeze=False)
    for ax, j in zip(axes.flat, cols, strict=False):  # the grid may hold more axes than columns (hidden below)
        lo, hi = np.percentile(np.concatenate([exact_x[:, j], surrogate_x[:, j]]), [0.1, 99.9])
        edges = np.linspace(lo, hi, bins + 1)
        ax.hist(exact_x[:, j], edges, weights=exact_weight, density=True, histtype="step", color="k", label="exact")
        ax.hist(
            surrogate_x[:, j], edges, weights=surrogate_weight, density=True, histtype="step", color="C0", label="DNN"
        )
        title = names[j] if pvalues is None else f"{names[j]}  (K-S p = {pvalues[j]:.2f})"
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(cols) :]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7)
    return _save(plt, fig, path)


def hpdi_plot(path: str | Path, detail: Mapping[str, Mapping[str, Sequence[float]]], poi: str = "mu") -> Path | None:
    """The POI's HPDI at each credibility, one bar per posterior (exact, reweighted, sampled...).

    Args:
        path: the PNG to write, in an existing folder.
        detail: the ``detail`` of the ``hpdi_max_abs_delta`` metric:
            ``{level: {"exact": [low, high], "reweighted": [low, high], ...}}``.
        poi: the parameter's name, for the axis.

    Returns:
        ``path``, or None when matplotlib is not installed.

    Raises:
        InvalidInputError: the folder of ``path`` does not exist.
    """
    plt = _pyplot()
    if plt is None:
        return None
    path = _target(path)
    levels = sorted(detail, key=float)
    fig, ax = plt.subplots(figsize=(8.0, 1.0 + 0.8 * len(levels)))
    ticks = []
    for k, level in enumerate(levels):
        present = [s for s in _HPDI_SOURCES if s[0] in detail[level]]
        for m, (key, label, color) in enumerate(present):
            lo, hi = detail[level][key]
            y = k + (m - (len(present) - 1) / 2) * 0.15
            ax.plot([lo, hi], [y, y], color=color, lw=3, solid_capstyle="butt", label=label if k == 0 else None)
        ticks.append(f"{100 * float(level):.2f}%")
    ax.set_yticks(range(len(levels)), ticks)
    ax.set_xlabel(f"{poi} HPDI")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(plt, fig, path)


def training_plot(path: str | Path, members: Sequence[Mapping[str, Any]], output_scale: float = 1.0) -> Path | None:
    """Training and validation loss per epoch (log-likelihood units squared) and the learning rate.

    Args:
        path: the PNG to write, in an existing folder.
        members: ``training.history.members`` of ``bundle.json``; those with ``curves``
            (``loss``, ``val_loss``, ``learning_rate`` per epoch) are drawn.
        output_scale: the factor from the network's scaled output to log L, so
            the losses are in log-likelihood units squared.

    Returns:
        ``path``, or None when matplotlib is not installed.

    Raises:
        InvalidInputError: the folder of ``path`` does not exist, or no member has curves.
    """
    plt = _pyplot()
    if plt is None:
        return None
    path = _target(path)
    curves = [m["curves"] for m in members if isinstance(m.get("curves"), Mapping)]
    if not curves:
        raise InvalidInputError("the training history has no per-epoch curves", where="training.history")
    s2 = float(output_scale) ** 2
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(5.5, 4.6), sharex=True, height_ratios=(3, 1))
    for i, c in enumerate(curves):
        epochs = np.arange(1, len(c["loss"]) + 1)
        tag = f" (member {i})" if len(curves) > 1 else ""
        top.semilogy(epochs, np.asarray(c["loss"]) * s2, color=f"C{i}", ls="--", label="training" + tag)
        top.semilogy(epochs, np.asarray(c["val_loss"]) * s2, color=f"C{i}", label="validation" + tag)
        bottom.semilogy(epochs, c["learning_rate"], color=f"C{i}")
    top.set_ylabel("MSE of log L")
    top.legend(fontsize=7)
    bottom.set_ylabel("learning rate")
    bottom.set_xlabel("epoch")
    return _save(plt, fig, path)
