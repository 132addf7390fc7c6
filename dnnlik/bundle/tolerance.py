"""The format's tolerance rule for test vectors: ``|got - expected| <= abs + rel * |expected|``.

One implementation, used where test vectors are checked
(:mod:`dnnlik.evaluate.test_vectors`) and where they are written
(:mod:`dnnlik.graph.mlp_bundle`, against the float64 reference).
spec/README.md, "Test vectors", states the rule.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["tolerance_excess"]


def tolerance_excess(got: ArrayLike, expected: ArrayLike, abs_tol: float, rel_tol: float) -> np.ndarray:
    """How far each value lies beyond its tolerance: ``|got - expected| - (abs + rel * |expected|)``.

    A value passes when its excess is ``<= 0``. A NaN excess (a NaN value)
    is ``+inf``: never a pass.

    Args:
        got: The values computed, any shape.
        expected: The values expected, of the same shape (or broadcastable).
        abs_tol: The absolute tolerance ``abs``.
        rel_tol: The relative tolerance ``rel``.

    Returns:
        The excess of each value, float64, of the broadcast shape.

    Examples:
        >>> tolerance_excess([1.0, 2.5], [1.0, 2.0], 0.1, 0.0).tolist()
        [-0.1, 0.4]
    """
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(expected, dtype=np.float64)
    excess = np.abs(got - want) - (abs_tol + rel_tol * np.abs(want))
    return np.asarray(np.where(np.isnan(excess), np.inf, excess))
