"""Highest-posterior-density intervals of one parameter from (weighted) samples.

The HPDI at credibility ``p`` is the shortest interval holding a fraction ``p``
of the posterior mass; for a unimodal marginal it is one interval. From
samples it is the shortest window of sorted values whose weights sum to ``p``.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidInputError

__all__ = ["HPDI_LEVELS", "hpdi", "hpdi_levels"]

HPDI_LEVELS = (0.6827, 0.9545, 0.9973)
"""The 1, 2 and 3 sigma credibilities the paper quotes."""


def hpdi(values: np.ndarray, level: float, weights: np.ndarray | None = None) -> tuple[float, float]:
    """Shortest interval ``(low, high)`` holding ``level`` of the (weighted) samples' mass.

    >>> hpdi(np.array([0.0, 1.0, 1.5, 2.0, 9.0]), 0.6)
    (1.0, 2.0)

    Args:
        values: the samples (any shape, flattened).
        level: the probability mass, strictly between 0 and 1.
        weights: one non-negative weight per value (None: all equal).

    Returns:
        The interval's ends, both sample values.

    Raises:
        InvalidInputError: fewer than 2 values, non-finite values, a level outside (0, 1), or bad weights.
    """
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    if not 0.0 < level < 1.0:
        raise InvalidInputError(f"must be between 0 and 1, got {level!r}", where="level")
    if x.size < 2 or not np.isfinite(x).all():
        raise InvalidInputError("needs at least 2 finite values", where="values")
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.shape != x.shape or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise InvalidInputError("must be finite, non-negative, not all zero, one per value", where="weights")
    order = np.argsort(x, kind="stable")
    x, w = x[order], w[order]
    cum = np.concatenate([[0.0], np.cumsum(w) / w.sum()])
    # for each start i, the first end j with mass(i..j) >= level
    ends = np.searchsorted(cum, cum[:-1] + level - 1e-12, side="left") - 1
    valid = ends < x.size
    if not valid.any():  # pragma: no cover - level < 1 always fits
        return float(x[0]), float(x[-1])
    starts = np.nonzero(valid)[0]
    widths = x[ends[valid]] - x[starts]
    k = int(np.argmin(widths))
    return float(x[starts[k]]), float(x[ends[valid][k]])


def hpdi_levels(
    values: np.ndarray, weights: np.ndarray | None = None, levels: tuple[float, ...] = HPDI_LEVELS
) -> dict[float, tuple[float, float]]:
    """:func:`hpdi` at each of ``levels``.

    Args:
        values: the samples (any shape, flattened).
        weights: one non-negative weight per value (None: all equal).
        levels: the probability masses, each strictly between 0 and 1; default 1, 2 and 3 sigma.

    Returns:
        ``{level: (low, high)}``.

    Raises:
        InvalidInputError: as :func:`hpdi`.
    """
    return {lv: hpdi(values, lv, weights) for lv in levels}
