"""The data of a fidelity check: two samples of the reference posterior, and how well each converged.

MCMC samples are worth what their chains converged to. A sample whose chains
disagree (R-hat above :data:`~dnnlik.sample.options.RHAT_TARGET`) or that holds
too few effective samples is not a sample of the posterior yet: K-S tests and
HPDI computed on it measure the chains, not the surrogate, so
:func:`~dnnlik.fidelity.assess` reports them without judging them
(:func:`convergence_problems`). And autocorrelated draws carry less
information than their number: the K-S p-values use each parameter's MCMC
effective sample size where it is below Kish's size of the weights
(:func:`ks_effective_sizes`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from .ks import effective_size

__all__ = ["FidelityData", "SampleConvergence", "convergence_problems", "ks_effective_sizes", "MIN_POINTS"]

MIN_POINTS = 1000
"""Fewer (effective) points than this make K-S and HPDI figures too noisy to trust."""


@dataclass(frozen=True)
class SampleConvergence:
    """How well the chains of one fidelity sample converged (a samples file's ``sampling.diagnostics``).

    >>> SampleConvergence.from_sampling({"diagnostics": {"rhat_max": 1.06, "effective_samples": 5e3}}).rhat_max
    1.06

    Attributes:
        rhat_max: the largest split R-hat over the parameters; None when not measured.
        effective_samples: the sample's effective size (its least well mixed parameter's); None when unknown.
        effective_samples_per_parameter: each parameter's effective size, when recorded.
    """

    rhat_max: float | None = None
    effective_samples: float | None = None
    effective_samples_per_parameter: tuple[float, ...] | None = None

    @classmethod
    def from_sampling(cls, sampling: Mapping[str, Any]) -> SampleConvergence:
        """Read a samples file's ``sampling`` metadata (:func:`dnnlik.sample.read_dataset`).

        Entries that are missing or not numbers read as unknown (None).

        Args:
            sampling: the ``sampling`` section.

        Returns:
            Its R-hat and effective sizes.
        """
        diagnostics = sampling.get("diagnostics") if isinstance(sampling, Mapping) else None
        diagnostics = diagnostics if isinstance(diagnostics, Mapping) else {}
        per = diagnostics.get("effective_samples_per_parameter")
        per_parameter = None
        if isinstance(per, list) and all(_number(v) is not None for v in per):
            per_parameter = tuple(float(v) for v in per)
        return cls(_number(diagnostics.get("rhat_max")), _number(diagnostics.get("effective_samples")), per_parameter)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


@dataclass(frozen=True)
class FidelityData:
    """Two independent samples of the reference posterior with exact log-likelihoods.

    ``*_weight`` are the points' multiplicities (deduplicated MCMC samples carry
    them; see :mod:`dnnlik.sample.dataset`); ones by default. ``*_convergence``
    say how well each sample's chains converged (:func:`~dnnlik.fidelity.read_fidelity_data`
    reads them from the samples files); None: unknown (independent draws, say).

    Attributes:
        test_x: the held-out sample, (N, P), stored as float64.
        test_logpdf: the exact log-likelihood at each test point, (N,).
        train_x: an independent sample, (M, P).
        train_logpdf: the exact log-likelihood at each train point, (M,).
        test_weight: the test points' multiplicities, (N,); ones when not given.
        train_weight: the train points' multiplicities, (M,); ones when not given.
        test_convergence: the test sample's convergence, or None.
        train_convergence: the train sample's convergence, or None.

    Raises:
        InvalidInputError: on construction, when a sample's points, log-likelihoods
            and weights do not match in length (or the points are not 2-D), hold NaN
            or infinities, or the weights are negative or all zero; or when a sample's
            per-parameter effective sizes are not one per column.
    """

    test_x: np.ndarray
    test_logpdf: np.ndarray
    train_x: np.ndarray
    train_logpdf: np.ndarray
    test_weight: np.ndarray | None = None
    train_weight: np.ndarray | None = None
    test_convergence: SampleConvergence | None = None
    train_convergence: SampleConvergence | None = None

    def __post_init__(self) -> None:
        for name in ("test", "train"):
            x = np.asarray(getattr(self, f"{name}_x"), dtype=np.float64)
            y = np.asarray(getattr(self, f"{name}_logpdf"), dtype=np.float64).reshape(-1)
            w_in = getattr(self, f"{name}_weight")
            w = np.ones(y.shape) if w_in is None else np.asarray(w_in, dtype=np.float64).reshape(-1)
            if x.ndim != 2 or x.shape[0] != y.shape[0] or w.shape != y.shape:
                raise InvalidInputError(
                    f"points {x.shape}, log-likelihoods {y.shape} and weights {w.shape} do not match",
                    where=f"{name} sample",
                )
            if not (np.isfinite(x).all() and np.isfinite(y).all()):
                raise InvalidInputError("holds NaN or infinite values", where=f"{name} sample")
            if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
                raise InvalidInputError("weights must be finite, non-negative, not all zero", where=f"{name} sample")
            conv = getattr(self, f"{name}_convergence")
            per = None if conv is None else conv.effective_samples_per_parameter
            if per is not None and len(per) != x.shape[1]:
                raise InvalidInputError(
                    f"{len(per)} effective sizes per parameter for {x.shape[1]} columns", where=f"{name} sample"
                )
            object.__setattr__(self, f"{name}_x", x)
            object.__setattr__(self, f"{name}_logpdf", y)
            object.__setattr__(self, f"{name}_weight", w)


def convergence_problems(
    data: FidelityData, *, rhat_target: float | None = None, min_effective: float = MIN_POINTS
) -> list[str]:
    """Why the samples of ``data`` are not yet samples of the posterior (empty: converged, or unknown).

    >>> x = np.zeros((3, 1))
    >>> bad = SampleConvergence(rhat_max=1.06, effective_samples=5e4)
    >>> convergence_problems(FidelityData(x, np.zeros(3), x, np.zeros(3), test_convergence=bad))
    ['test sample: R-hat 1.06 > 1.01']

    Args:
        data: the two samples.
        rhat_target: the largest acceptable R-hat; default :data:`~dnnlik.sample.options.RHAT_TARGET`.
        min_effective: the smallest acceptable effective size.

    Returns:
        One phrase per problem, naming the sample.
    """
    from ..sample.options import RHAT_TARGET

    target = RHAT_TARGET if rhat_target is None else rhat_target
    out = []
    for name in ("test", "train"):
        conv = getattr(data, f"{name}_convergence")
        if conv is None:
            continue
        if conv.rhat_max is not None and conv.rhat_max > target:
            out.append(f"{name} sample: R-hat {conv.rhat_max:.5g} > {target:g}")
        if conv.effective_samples is not None and conv.effective_samples < min_effective:
            out.append(f"{name} sample: {conv.effective_samples:.0f} effective samples < {min_effective:g}")
    return out


def ks_effective_sizes(data: FidelityData, train_weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per parameter, the effective sizes of the two samples in their K-S p-values.

    The test sample's is the smaller of Kish's size of its multiplicities and the
    parameter's MCMC effective size. The train sample is reweighted (``train_weight``:
    multiplicities times the surrogate-to-exact ratio); reweighting costs the factor
    ``Kish(train_weight) / Kish(multiplicities)`` whatever the autocorrelation, so its
    size is the smaller of ``Kish(train_weight)`` and the MCMC effective size times that
    factor. Without MCMC effective sizes, Kish's sizes.

    Args:
        data: the two samples.
        train_weight: the train sample's weights in the test.

    Returns:
        ``(test sizes, train sizes)``, (P,) each.
    """
    assert data.test_weight is not None and data.train_weight is not None  # FidelityData makes them arrays
    p = data.test_x.shape[1]
    kish_test = effective_size(data.test_weight)
    kish_train = effective_size(train_weight)
    efficiency = kish_train / effective_size(data.train_weight)
    test = np.full(p, kish_test)
    train = np.full(p, kish_train)
    for sizes, conv, kish, factor in (
        (test, data.test_convergence, kish_test, 1.0),
        (train, data.train_convergence, kish_train, efficiency),
    ):
        per = None if conv is None else conv.effective_samples_per_parameter
        if per is not None:
            mcmc = np.asarray(per, dtype=np.float64) * factor
            sizes[:] = np.minimum(kish, np.where(mcmc > 0, mcmc, kish))
    return test, train
