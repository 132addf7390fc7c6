"""Weighted two-sample Kolmogorov-Smirnov test.

The DNNLikelihood paper compares, parameter by parameter, the true posterior
(a held-out sample) with the surrogate's posterior (an independent sample
reweighted by ``exp(log L_surrogate - log L_true)``). With weights the sample
sizes in the asymptotic Kolmogorov distribution are the effective ones,
``n_eff = (sum w)^2 / sum w^2``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InvalidInputError

__all__ = ["KSResult", "weighted_ks_2samp", "effective_size"]


@dataclass(frozen=True)
class KSResult:
    """The statistic ``D = sup |F_a - F_b|``, its asymptotic p-value and the effective sizes.

    Attributes:
        statistic: ``D``, the largest distance between the two weighted empirical CDFs.
        pvalue: the asymptotic (Kolmogorov) p-value, with Stephens' small-sample correction.
        n_eff_a: the effective size of sample ``a``.
        n_eff_b: the effective size of sample ``b``.
    """

    statistic: float
    pvalue: float
    n_eff_a: float
    n_eff_b: float


def effective_size(weights: np.ndarray) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum w^2``.

    >>> effective_size(np.ones(10))
    10.0
    >>> round(effective_size(np.array([1.0, 1.0, 2.0])), 3)
    2.667

    Args:
        weights: the samples' non-negative weights.

    Returns:
        How many unweighted samples would carry the same information.
    """
    w = np.asarray(weights, dtype=np.float64)
    return float(w.sum() ** 2 / np.square(w).sum())


def _weights(values: np.ndarray, weights: np.ndarray | None, name: str) -> np.ndarray:
    if weights is None:
        return np.ones_like(values)
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.shape != values.shape:
        raise InvalidInputError(f"has {w.size} weights for {values.size} values", where=name)
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise InvalidInputError("weights must be finite, non-negative and not all zero", where=name)
    return w


def _positive(value: float, name: str) -> float:
    v = float(value)
    if not (np.isfinite(v) and v > 0):
        raise InvalidInputError(f"must be a positive number, got {value!r}", where=name)
    return v


def _ecdf(sorted_values: np.ndarray, cumulative: np.ndarray, at: np.ndarray) -> np.ndarray:
    idx = np.searchsorted(sorted_values, at, side="right")
    return np.where(idx > 0, cumulative[np.maximum(idx - 1, 0)], 0.0)


def weighted_ks_2samp(
    a: np.ndarray,
    b: np.ndarray,
    weights_a: np.ndarray | None = None,
    weights_b: np.ndarray | None = None,
    *,
    n_eff_a: float | None = None,
    n_eff_b: float | None = None,
) -> KSResult:
    """Two-sample K-S test of 1-D samples ``a`` and ``b`` with optional non-negative weights.

    The Kolmogorov distribution assumes independent draws. Autocorrelated ones (an
    MCMC chain) carry less information than their number: give their effective sizes
    ``n_eff_a``/``n_eff_b`` (from the chain's autocorrelation time) to use instead of
    Kish's size of the weights.

    >>> rng = np.random.default_rng(1)
    >>> a, b = rng.normal(size=500), rng.normal(size=500)
    >>> weighted_ks_2samp(a, b).pvalue > 0.05, weighted_ks_2samp(a, b + 1.0).pvalue < 1e-6
    (True, True)

    Args:
        a: the first sample (flattened).
        b: the second sample (flattened).
        weights_a: one weight per value of ``a``; default all equal.
        weights_b: one weight per value of ``b``; default all equal.
        n_eff_a: the effective size of ``a`` in the p-value; default Kish's, ``(sum w)^2 / sum w^2``.
        n_eff_b: the same for ``b``.

    Returns:
        ``D``, its p-value (the Kolmogorov distribution at the effective sizes) and the effective sizes.

    Raises:
        InvalidInputError: a sample has fewer than 2 values or non-finite ones; the
            weights do not match their sample, are negative or non-finite, or are all zero;
            an effective size that is not a positive number.
    """
    from scipy.stats import kstwobign

    a = np.asarray(a, dtype=np.float64).reshape(-1)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    for arr, name in ((a, "a"), (b, "b")):
        if arr.size < 2:
            raise InvalidInputError(f"needs at least 2 values, got {arr.size}", where=name)
        if not np.isfinite(arr).all():
            raise InvalidInputError("holds NaN or infinite values", where=name)
    wa, wb = _weights(a, weights_a, "weights_a"), _weights(b, weights_b, "weights_b")
    ia, ib = np.argsort(a, kind="stable"), np.argsort(b, kind="stable")
    sa, sb = a[ia], b[ib]
    ca, cb = np.cumsum(wa[ia]), np.cumsum(wb[ib])
    ca /= ca[-1]
    cb /= cb[-1]
    at = np.concatenate([sa, sb])
    d = float(np.max(np.abs(_ecdf(sa, ca, at) - _ecdf(sb, cb, at))))
    na = effective_size(wa) if n_eff_a is None else _positive(n_eff_a, "n_eff_a")
    nb = effective_size(wb) if n_eff_b is None else _positive(n_eff_b, "n_eff_b")
    en = np.sqrt(na * nb / (na + nb))
    # Stephens' small-sample correction of the asymptotic distribution
    p = float(kstwobign.sf((en + 0.12 + 0.11 / en) * d))
    return KSResult(statistic=d, pvalue=min(max(p, 0.0), 1.0), n_eff_a=na, n_eff_b=nb)
