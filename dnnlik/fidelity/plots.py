"""Plots a physicist would rather look at than read (the ``plot`` extra: matplotlib)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import InvalidInputError

__all__ = ["tmu_plot"]


def tmu_plot(path: str | Path, values: Sequence[float], surrogate: Sequence[float],
             exact: Sequence[float] | None = None, spread: Sequence[float] | None = None,
             poi: str = "mu") -> Path | None:
    """t_mu of the surrogate (with a +-2 spread band for an ensemble) beside the exact one, as an image.

    Returns the path written, or None when matplotlib is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    path = Path(path)
    if not path.parent.is_dir():
        raise InvalidInputError("the plot's folder does not exist", where=str(path))
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    if exact is not None:
        ax.plot(values, exact, "k-", label="exact")
    ax.plot(values, surrogate, "o--", label="DNNLikelihood")
    if spread is not None:
        t, s = np.asarray(surrogate), np.asarray(spread)
        ax.fill_between(values, t - 2 * s, t + 2 * s, alpha=0.3, label="ensemble spread (x2)")
    ax.set_xlabel(poi)
    ax.set_ylabel("t_mu")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
