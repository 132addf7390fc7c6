"""Fidelity of a surrogate likelihood against its reference: every metric, thresholds, verdict.

The data are two independent samples of the reference posterior with their
exact log-likelihoods: ``test`` (held out) and ``train``. The metrics, after
the DNNLikelihood paper (arXiv:1911.03305):

- ``logpdf_mse`` and ``logpdf_mean_error`` on the test sample;
- weighted 1-D Kolmogorov-Smirnov p-values per parameter, test sample against
  the train sample reweighted by ``exp(log L_surrogate - log L_true)``
  (``ks_median_pvalue``, ``ks_fraction_below_0.05``);
- HPDI of the POI at 68.27/95.45/99.73% from the test sample, from the
  reweighted one and (if given) from samples drawn from the surrogate itself;
- the profiled t_mu of the surrogate against the exact one on a grid
  (``tmu_mean_abs_delta``, ``tmu_max_abs_delta``), the best-fit POI, and the
  intervals at t_mu = 1 and 3.84;
- the ensemble spread along the profile, when the surrogate is an ensemble;
- the K-S figures of the exact likelihood itself on the same two samples
  (``ks_median_pvalue_exact``, ``ks_fraction_below_0.05_exact``): what a
  perfect surrogate scores, so the reader sees how much of a K-S shortfall is
  the noise of these samples rather than the surrogate. Where the exact
  likelihood itself misses a K-S threshold, that threshold is within the noise
  and the surrogate is judged against the exact likelihood's score instead.

The same metrics for the quadratic (Laplace) approximation of the reference
are reported beside them, with no network at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..density import LogDensity
from ..errors import InvalidInputError
from ..infer import TmuScan, poi_index, tmu_interval, tmu_scan
from .hpdi import HPDI_LEVELS, hpdi_levels
from .ks import KSResult, effective_size, weighted_ks_2samp
from .metrics import Metric, verdict

__all__ = ["FidelityData", "FidelityReport", "assess", "DEFAULT_THRESHOLDS", "DEFAULT_GRID", "MIN_POINTS"]

DEFAULT_THRESHOLDS: dict[str, float] = {
    "tmu_mean_abs_delta": 0.005,
    "tmu_max_abs_delta": 0.015,
    "best_fit_poi_abs_delta": 0.01,
    "ks_median_pvalue": 0.4,
    "ks_fraction_below_0.05": 0.1,
    "hpdi_max_abs_delta": 0.005,
}
"""The zoo's publication thresholds (issue 5); pass ``thresholds`` to change them."""

DEFAULT_GRID = tuple(round(0.1 * i, 10) for i in range(11))
MIN_POINTS = 1000
"""Fewer (effective) points than this make K-S and HPDI figures too noisy to trust: the report says so."""


@dataclass(frozen=True)
class FidelityData:
    """Two independent samples of the reference posterior with exact log-likelihoods.

    ``*_weight`` are the points' multiplicities (deduplicated MCMC samples carry
    them; see :mod:`dnnlik.sample.dataset`); ones by default.

    Attributes:
        test_x: the held-out sample, (N, P), stored as float64.
        test_logpdf: the exact log-likelihood at each test point, (N,).
        train_x: an independent sample, (M, P).
        train_logpdf: the exact log-likelihood at each train point, (M,).
        test_weight: the test points' multiplicities, (N,); ones when not given.
        train_weight: the train points' multiplicities, (M,); ones when not given.

    Raises:
        InvalidInputError: on construction, when a sample's points, log-likelihoods
            and weights do not match in length (or the points are not 2-D), hold NaN
            or infinities, or the weights are negative or all zero.
    """

    test_x: np.ndarray
    test_logpdf: np.ndarray
    train_x: np.ndarray
    train_logpdf: np.ndarray
    test_weight: np.ndarray | None = None
    train_weight: np.ndarray | None = None

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
            object.__setattr__(self, f"{name}_x", x)
            object.__setattr__(self, f"{name}_logpdf", y)
            object.__setattr__(self, f"{name}_weight", w)


@dataclass
class FidelityReport:
    """The metrics of a surrogate, those of the quadratic approximation, and the verdict.

    Attributes:
        metrics: the surrogate's metrics, in report order.
        quadratic: the same metrics for the quadratic approximation of the
            reference (empty when not computed).
        exact_scan: the reference's t_mu scan (:meth:`~dnnlik.infer.TmuScan.to_json`).
        notes: warnings on the report as a whole (too few points, K-S noise).
    """

    metrics: list[Metric]
    quadratic: list[Metric] = field(default_factory=list)
    exact_scan: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """``"pass"`` when every surrogate metric with a threshold passes, else ``"fail"``."""
        return verdict(self.metrics)

    def metric(self, name: str) -> Metric:
        """The surrogate's metric called ``name``.

        Args:
            name: a metric name, e.g. ``"tmu_mean_abs_delta"``.

        Returns:
            That metric.

        Raises:
            KeyError: the report has no metric of that name.
        """
        for m in self.metrics:
            if m.name == name:
                return m
        raise KeyError(name)

    def all_notes(self) -> list[str]:
        """The report's notes, then each metric's."""
        return self.notes + [n for m in self.metrics for n in m.notes]

    def beats_quadratic(self) -> bool | None:
        """Whether the surrogate's mean |delta t_mu| is below the quadratic approximation's.

        Returns:
            True or False; None when the quadratic approximation was not assessed.
        """
        q = {m.name: m for m in self.quadratic}
        if "tmu_mean_abs_delta" not in q:
            return None
        return self.metric("tmu_mean_abs_delta").value < q["tmu_mean_abs_delta"].value

    def to_validation_section(self, reference: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The bundle's ``validation`` section.

        Args:
            reference: what the surrogate was compared with (the reference
                likelihood's provenance), stored as ``reference``; omitted when None.

        Returns:
            ``verdict`` and ``metrics``: the surrogate's, then the quadratic
            approximation's named ``quadratic/<name>`` (without thresholds).
        """
        metrics = [m.to_json() for m in self.metrics]
        metrics += [
            {**Metric(f"quadratic/{m.name}", m.value, description=m.description, detail=m.detail).to_json()}
            for m in self.quadratic
        ]
        out: dict[str, Any] = {"verdict": self.verdict, "metrics": metrics}
        if reference is not None:
            out["reference"] = dict(reference)
        return out

    def to_text(self) -> str:
        """The report as a plain-text table, then the verdict and the notes.

        One row per metric: the surrogate's value, the quadratic approximation's,
        the threshold and pass/FAIL; then whether the surrogate beats the
        quadratic approximation on mean |delta t_mu|.
        """
        q = {m.name: m for m in self.quadratic}
        rows = [("metric", "surrogate", "quadratic", "threshold", "")]
        for m in self.metrics:
            qv = f"{q[m.name].value:.4g}" if m.name in q else ""
            th = f"{m.comparison} {m.threshold:g}" if m.threshold is not None else ""
            ok = {True: "pass", False: "FAIL", None: ""}[m.passed]
            rows.append((m.name, f"{m.value:.4g}", qv, th, ok))
        widths = [max(len(r[k]) for r in rows) for k in range(5)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        lines.append(f"verdict: {self.verdict.upper()}")
        beats = self.beats_quadratic()
        if beats is False:
            lines.append(
                "the surrogate does NOT beat the quadratic approximation on mean |delta t_mu|: "
                "not worth publishing as it is"
            )
        elif beats:
            lines.append("the surrogate beats the quadratic approximation on mean |delta t_mu|")
        lines += [f"note: {n}" for n in self.all_notes()]
        return "\n".join(lines)


def _check_parameters(surrogate: LogDensity, reference: LogDensity) -> None:
    a = [p.name for p in surrogate.parameters]
    b = [p.name for p in reference.parameters]
    if a == b:
        return
    if len(a) != len(b):
        raise InvalidInputError(f"the surrogate has {len(a)} parameters, the reference {len(b)}", where="parameters")
    i = next(k for k, (x, y) in enumerate(zip(a, b, strict=True)) if x != y)
    what = "in another order" if sorted(a) == sorted(b) else "with other names"
    raise InvalidInputError(
        f"the parameters differ {what}: position {i} is {a[i]!r} in the surrogate, {b[i]!r} in the reference",
        where="parameters",
    )


def _posterior_metrics(
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
    weights = _reweighted(data.train_weight, s_train - data.train_logpdf)
    n_eff = effective_size(weights)
    assert data.test_weight is not None  # FidelityData.__post_init__ makes every weight an array
    n_min = min(n_eff, effective_size(data.test_weight))
    if n_min < MIN_POINTS:
        notes.append(
            f"K-S and HPDI use {n_min:.0f} effective points, fewer than {MIN_POINTS}: too few to be meaningful"
        )
    metrics += _ks_metrics(data, weights, n_eff, thresholds)
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


def _reweighted(weights: np.ndarray | None, log_ratio: np.ndarray) -> np.ndarray:
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


def _ks_metrics(data: FidelityData, weights: np.ndarray, n_eff: float, thresholds: Mapping[str, float]) -> list[Metric]:
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
                "n_eff_test": ks[0].n_eff_a,
                "n_eff_reweighted": n_eff,
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
    reweighted = hpdi_levels(data.test_x[:, poi_index], _reweighted(data.test_weight, s_test - data.test_logpdf))
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


def _ks_tests(data: FidelityData, train_weight: np.ndarray | None) -> list[KSResult]:
    """Per parameter, the weighted K-S test of the test sample against the train sample weighted by ``train_weight``."""
    return [
        weighted_ks_2samp(data.test_x[:, i], data.train_x[:, i], data.test_weight, train_weight)
        for i in range(data.test_x.shape[1])
    ]


def _ks_noise_floor(data: FidelityData) -> list[Metric]:
    """The K-S figures with the exact likelihood as the surrogate: no reweighting, the two samples as drawn."""
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


def _ks_floor_notes(floor: list[Metric], metrics: list[Metric]) -> list[str]:
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


def _scan_metrics(source: LogDensity, exact: TmuScan, thresholds: Mapping[str, float]) -> tuple[list[Metric], TmuScan]:
    scan = tmu_scan(source, exact.values, poi=exact.poi)
    delta = np.abs(np.array(scan.tmu) - np.array(exact.tmu))
    grid = {"values": list(exact.values), "exact": list(exact.tmu), "surrogate": list(scan.tmu)}
    metrics = [
        Metric(
            "tmu_mean_abs_delta",
            float(delta.mean()),
            thresholds.get("tmu_mean_abs_delta"),
            "<=",
            f"mean |t_mu(surrogate) - t_mu(exact)| over {exact.poi} = {list(exact.values)}.",
            detail=grid,
        ),
        Metric(
            "tmu_max_abs_delta",
            float(delta.max()),
            thresholds.get("tmu_max_abs_delta"),
            "<=",
            "largest |t_mu(surrogate) - t_mu(exact)| on the same grid.",
        ),
        Metric(
            "best_fit_poi_abs_delta",
            abs(scan.poi_hat - exact.poi_hat),
            thresholds.get("best_fit_poi_abs_delta"),
            "<=",
            f"|best-fit {exact.poi} of the surrogate - exact|.",
            detail={"surrogate": scan.poi_hat, "exact": exact.poi_hat},
        ),
    ]
    return metrics, scan


def _interval_metric(source: LogDensity, reference: LogDensity, poi: str, scan: TmuScan, exact: TmuScan) -> Metric:
    detail = {}
    worst = 0.0
    for level in (1.0, 3.84):
        a = tmu_interval(source, level, poi, best=scan.best)
        b = tmu_interval(reference, level, poi, best=exact.best)
        detail[f"tmu<={level:g}"] = {"surrogate": [a.low, a.high], "exact": [b.low, b.high]}
        worst = max(worst, abs(a.low - b.low), abs(a.high - b.high))
    return Metric(
        "interval_max_abs_delta",
        worst,
        description=f"largest |difference| of the {poi} interval endpoints at t_mu = 1 and 3.84, surrogate vs exact.",
        detail=detail,
    )


def assess(
    surrogate: LogDensity,
    data: FidelityData,
    reference: LogDensity,
    *,
    poi: str | None = None,
    grid: Sequence[float] = DEFAULT_GRID,
    thresholds: Mapping[str, float] | None = None,
    offset: float = 0.0,
    surrogate_samples: np.ndarray | None = None,
    surrogate_weights: np.ndarray | None = None,
    quadratic: bool = True,
    intervals: bool = True,
) -> FidelityReport:
    """Every fidelity metric of ``surrogate`` against ``reference`` (see the module docstring).

    ``offset`` is the additive constant in the surrogate's output (the bundle's
    ``output.offset``): ``surrogate.logpdf = log L + offset``. ``surrogate_samples``
    (rows of parameters) is a posterior sampled on the surrogate itself, with
    ``surrogate_weights`` its multiplicities when the sample stores them (a dnnlik
    dataset does: its ``weight``; ignoring them biases every quantile).

    Args:
        surrogate: the log-density under test (a loaded bundle, an ensemble).
        data: two samples of the reference posterior with exact log-likelihoods.
        reference: the exact log-density; same parameters, same order, as ``surrogate``.
        poi: the parameter of interest; default the reference's one parameter with role ``"poi"``.
        grid: the values of ``poi`` at which t_mu is compared.
        thresholds: ``{metric name: threshold}``; default :data:`DEFAULT_THRESHOLDS`.
            A metric not named has no threshold (reported, not judged).
        offset: the constant the surrogate adds to log L (its ``output.offset``).
        surrogate_samples: a posterior sampled on the surrogate, (K, P); adds
            ``hpdi_sampled_max_abs_delta`` and ``hpdi_sampling_noise``.
        surrogate_weights: multiplicities of ``surrogate_samples``, (K,).
        quadratic: also assess the quadratic approximation of the reference at its maximum.
        intervals: also compare the intervals at t_mu = 1 and 3.84
            (``interval_max_abs_delta``; several profile fits per side).

    Returns:
        The report: metrics, the quadratic approximation's, the exact t_mu scan, notes.

    Raises:
        InvalidInputError: the parameters of ``surrogate`` and ``reference`` differ
            (number, names or order); the samples do not have one column per
            parameter; ``poi`` is not given and not exactly one parameter has role
            ``"poi"``; ``surrogate_weights`` without one weight per row of
            ``surrogate_samples``; or the reference has no downward curvature at its
            maximum (with ``quadratic``).
        ValueError: ``poi`` is given but names no parameter (a plain ValueError,
            not yet an :class:`~dnnlik.errors.InvalidInputError`).
        OptimizationError: a fit of the t_mu scans or intervals failed.
    """
    from ..infer import default_poi

    _check_parameters(surrogate, reference)
    thresholds = DEFAULT_THRESHOLDS if thresholds is None else thresholds
    if data.test_x.shape[1] != len(reference.parameters) or data.train_x.shape[1] != len(reference.parameters):
        raise InvalidInputError(
            f"the samples have {data.test_x.shape[1]} columns for {len(reference.parameters)} parameters", where="data"
        )
    poi = default_poi(reference) if poi is None else poi
    j = poi_index(poi, reference.parameters, where=f"poi={poi!r}")
    exact = tmu_scan(reference, list(grid), poi=poi)

    if surrogate_weights is not None and (
        surrogate_samples is None or np.shape(surrogate_weights) != (np.shape(surrogate_samples)[0],)
    ):
        raise InvalidInputError("needs one weight per row of surrogate_samples", where="surrogate_weights")
    floor = _ks_noise_floor(data)
    metrics, notes = _posterior_metrics(
        surrogate, data, j, poi, thresholds, offset, surrogate_samples, surrogate_weights, ks_floor=floor
    )
    notes += _ks_floor_notes(floor, metrics)
    scan_metrics, scan = _scan_metrics(surrogate, exact, thresholds)
    metrics += scan_metrics
    if intervals:
        metrics.append(_interval_metric(surrogate, reference, poi, scan, exact))
    if getattr(surrogate, "is_ensemble", False):
        points = np.array([p.point for p in scan.profiles])
        ensemble: Any = surrogate  # an ensemble bundle: beyond LogDensity, it has logpdf_spread
        spread = np.asarray(ensemble.logpdf_spread(points), dtype=np.float64)
        metrics.append(
            Metric(
                "ensemble_spread_max_on_profile",
                float(spread.max()),
                description="largest spread (std) of the ensemble members' log L along the profile.",
                detail={"values": list(exact.values), "spread": [float(s) for s in spread]},
            )
        )
    report = FidelityReport(metrics=metrics, exact_scan=exact.to_json(), notes=notes)
    if quadratic:
        from .quadratic import QuadraticApproximation

        quad = QuadraticApproximation.at_maximum(reference, exact.best.point)
        q_metrics, _ = _posterior_metrics(quad, data, j, poi, thresholds, 0.0, None)
        q_scan, q = _scan_metrics(quad, exact, thresholds)
        report.quadratic = q_metrics + q_scan
        if intervals:
            report.quadratic.append(_interval_metric(quad, reference, poi, q, exact))
    return report
