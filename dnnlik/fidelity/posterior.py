"""The posterior metrics of a fidelity check: log L errors, weighted K-S tests, HPDI.

The test sample is compared with the train sample reweighted to the surrogate by
``exp(log L_surrogate - log L_true)`` (K-S, per parameter) and with itself
reweighted (HPDI of the POI), after the DNNLikelihood paper (arXiv:1911.03305).
K-S p-values use each sample's effective size (:func:`.data.ks_effective_sizes`:
the MCMC one where the draws are autocorrelated). The exact likelihood's own K-S
figures on the same two samples are the noise floor of the surrogate's
(:func:`ks_noise_floor`, :func:`ks_floor_notes`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from ..density import LogDensity
from .data import MIN_POINTS, FidelityData, ks_effective_sizes
from .hpdi import HPDI_LEVELS, hpdi_levels
from .ks import KSResult, effective_size, weighted_ks_2samp
from .metrics import Metric

__all__ = ["posterior_metrics", "ks_noise_floor", "ks_floor_notes", "reweight"]


def posterior_metrics(
    source: LogDensity,
    data: FidelityData,
    poi_index: int,
    poi: str,
    thresholds: Mapping[str, float],
    offset: float,
    source_samples: np.ndarray | None,
    source_weights: np.ndarray | None = None,
    ks_floor: Sequence[Metric] = (),
) -> tuple[list[Metric], list[str]]:
    """The posterior metrics, in report order: log L errors, K-S (then ``ks_floor``, the exact
    likelihood's own K-S figures, when given), HPDI, and the HPDI of ``source_samples``."""
    s_test = np.asarray(source.logpdf(data.test_x), dtype=np.float64) - offset
    metrics, notes = _logpdf_metrics(s_test, data)
    s_train = np.asarray(source.logpdf(data.train_x), dtype=np.float64) - offset
    weights = reweight(data.train_weight, s_train - data.train_logpdf)
    n_eff = effective_size(weights)
    assert data.test_weight is not None  # FidelityData.__post_init__ makes every weight an array
    n_min = min(n_eff, effective_size(data.test_weight))
    if n_min < MIN_POINTS:
        notes.append(
            f"K-S and HPDI use {n_min:.0f} effective points, fewer than {MIN_POINTS}: too few to be meaningful"
        )
    metrics += _ks_metrics(data, weights, thresholds)
    metrics += ks_floor
    hpdi_metric, exact, detail = _hpdi_metric(data, s_test, weights, poi_index, poi, thresholds)
    metrics.append(hpdi_metric)
    if source_samples is not None:
        metrics += _sampled_hpdi(
            np.asarray(source_samples, dtype=np.float64)[:, poi_index],
            source_weights,
            data,
            poi_index,
            exact,
            detail,
            poi,
        )
    return metrics, notes


def reweight(weights: np.ndarray | None, log_ratio: np.ndarray) -> np.ndarray:
    """``weights`` times exp(``log_ratio``), scaled to a largest factor of 1 (non-finite ratios weigh 0).

    ``log_ratio`` is overwritten.
    """
    log_ratio[~np.isfinite(log_ratio)] = -np.inf
    return weights * np.exp(log_ratio - np.max(log_ratio))


def _logpdf_metrics(s_test: np.ndarray, data: FidelityData) -> tuple[list[Metric], list[str]]:
    """The errors of the surrogate's log L (``s_test``, offset removed) on the test sample, and a note
    when it is not finite somewhere."""
    err = s_test - data.test_logpdf
    finite = np.isfinite(err)
    metrics = [
        Metric(
            "logpdf_mse",
            float(np.mean(err[finite] ** 2)) if finite.any() else float("inf"),
            description="mean squared error of log L on the test sample (log-likelihood units squared).",
        ),
        Metric(
            "logpdf_mean_error",
            float(np.mean(err[finite])) if finite.any() else float("inf"),
            description="mean of (surrogate - exact) log L on the test sample.",
        ),
    ]
    notes = [] if finite.all() else [f"{int((~finite).sum())} test point(s) where the surrogate is not finite"]
    return metrics, notes


def _ks_metrics(data: FidelityData, weights: np.ndarray, thresholds: Mapping[str, float]) -> list[Metric]:
    """The weighted K-S figures: the test sample against the train sample reweighted to the surrogate."""
    ks = _ks_tests(data, weights)
    p = np.array([k.pvalue for k in ks])
    return [
        Metric(
            "ks_median_pvalue",
            float(np.median(p)),
            thresholds.get("ks_median_pvalue"),
            ">=",
            "median over parameters of the weighted K-S p-value, test sample vs the train sample "
            "reweighted to the surrogate (about 0.5 for a perfect surrogate).",
            detail={
                "pvalues": [float(v) for v in p],
                "statistics": [k.statistic for k in ks],
                "n_eff_test": min(k.n_eff_a for k in ks),
                "n_eff_reweighted": min(k.n_eff_b for k in ks),
                "n_eff_rule": "per parameter: Kish's size of the weights, or the MCMC effective size where smaller",
            },
        ),
        Metric(
            "ks_fraction_below_0.05",
            float(np.mean(p < 0.05)),
            thresholds.get("ks_fraction_below_0.05"),
            "<=",
            "fraction of parameters whose weighted K-S p-value is below 0.05.",
        ),
    ]


def _hpdi_metric(
    data: FidelityData,
    s_test: np.ndarray,
    weights: np.ndarray,
    poi_index: int,
    poi: str,
    thresholds: Mapping[str, float],
) -> tuple[Metric, dict[float, tuple[float, float]], dict[str, Any]]:
    """``hpdi_max_abs_delta``, the exact HPDI and the metric's detail (which :func:`_sampled_hpdi` extends).

    The test sample, and the same sample reweighted to the surrogate, so that the difference
    measures the surrogate and not the sampling noise between two samples.
    """
    exact = hpdi_levels(data.test_x[:, poi_index], data.test_weight)
    reweighted = hpdi_levels(data.test_x[:, poi_index], reweight(data.test_weight, s_test - data.test_logpdf))
    independent = hpdi_levels(data.train_x[:, poi_index], weights)
    detail: dict[str, Any] = {
        str(lv): {
            "exact": list(exact[lv]),
            "reweighted": list(reweighted[lv]),
            "independent_reweighted": list(independent[lv]),
        }
        for lv in HPDI_LEVELS
    }
    deltas = [abs(a - b) for lv in HPDI_LEVELS for a, b in zip(exact[lv], reweighted[lv], strict=True)]
    metric = Metric(
        "hpdi_max_abs_delta",
        float(max(deltas)),
        thresholds.get("hpdi_max_abs_delta"),
        "<=",
        f"largest |difference| of the {poi} HPDI endpoints (68.27/95.45/99.73%) between the "
        "test sample and the same sample reweighted to the surrogate.",
        detail=detail,
    )
    return metric, exact, detail


def _sampled_hpdi(
    own_poi: np.ndarray,
    own_weights: np.ndarray | None,
    data: FidelityData,
    poi_index: int,
    exact: dict[float, tuple[float, float]],
    detail: dict[str, Any],
    poi: str,
) -> list[Metric]:
    """HPDI from samples drawn on the surrogate itself, and the noise two exact samples show."""
    own = hpdi_levels(own_poi, own_weights)
    other = hpdi_levels(data.train_x[:, poi_index], data.train_weight)
    for lv in HPDI_LEVELS:
        detail[str(lv)]["sampled"] = list(own[lv])
        detail[str(lv)]["independent_exact"] = list(other[lv])
    sampled = max(abs(a - b) for lv in HPDI_LEVELS for a, b in zip(exact[lv], own[lv], strict=True))
    noise = max(abs(a - b) for lv in HPDI_LEVELS for a, b in zip(exact[lv], other[lv], strict=True))
    return [
        Metric(
            "hpdi_sampled_max_abs_delta",
            float(sampled),
            description=f"largest |difference| of the {poi} HPDI endpoints between the test sample and a "
            f"posterior sampled on the surrogate itself ({own_poi.size} points); it includes "
            "the sampling noise of two independent samples (see hpdi_sampling_noise).",
        ),
        Metric(
            "hpdi_sampling_noise",
            float(noise),
            description="the same difference between two independent samples of the exact posterior: the "
            "noise floor of hpdi_sampled_max_abs_delta.",
        ),
    ]


def _ks_tests(data: FidelityData, train_weight: np.ndarray) -> list[KSResult]:
    """Per parameter, the weighted K-S test of the test sample against the train sample weighted by
    ``train_weight``, at the samples' effective sizes (:func:`.data.ks_effective_sizes`)."""
    n_test, n_train = ks_effective_sizes(data, train_weight)
    return [
        weighted_ks_2samp(
            data.test_x[:, i], data.train_x[:, i], data.test_weight, train_weight, n_eff_a=n_test[i], n_eff_b=n_train[i]
        )
        for i in range(data.test_x.shape[1])
    ]


def ks_noise_floor(data: FidelityData) -> list[Metric]:
    """The K-S figures with the exact likelihood as the surrogate: no reweighting, the two samples as drawn."""
    assert data.train_weight is not None  # FidelityData makes every weight an array
    p = np.array([k.pvalue for k in _ks_tests(data, data.train_weight)])
    return [
        Metric(
            "ks_median_pvalue_exact",
            float(np.median(p)),
            description="ks_median_pvalue with the exact likelihood in place of the surrogate: what a perfect "
            "surrogate scores on these two samples (p-values of equal distributions are uniform, "
            "so this median scatters by about 0.5/sqrt(n_parameters) from sample to sample).",
            detail={"pvalues": [float(v) for v in p]},
        ),
        Metric(
            "ks_fraction_below_0.05_exact",
            float(np.mean(p < 0.05)),
            description="ks_fraction_below_0.05 with the exact likelihood in place of the surrogate.",
        ),
    ]


def ks_floor_notes(floor: list[Metric], metrics: list[Metric]) -> list[str]:
    """Judge a K-S figure against its noise where the exact likelihood itself misses its threshold.

    A perfect surrogate scores what the exact likelihood scores on these two
    samples; when that is beyond the threshold, the threshold is within the
    noise of the K-S test here, and the surrogate's figure is judged against
    the exact one instead (its ``threshold`` becomes that score), with a note.
    """
    twins = {m.name: m for m in metrics}
    notes = []
    for m in floor:
        twin = twins[m.name.removesuffix("_exact")]
        if replace(m, threshold=twin.threshold, comparison=twin.comparison).passed is False:
            notes.append(
                f"the exact likelihood itself scores {twin.name} = {m.value:.4g} on these two samples, "
                f"beyond the threshold {twin.threshold:g}: that threshold is within the noise of the "
                f"K-S test here, so the surrogate's {twin.name} is judged against the exact likelihood's own "
                "score instead"
            )
            twin.threshold = m.value
    return notes
