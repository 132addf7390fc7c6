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
- log L on the POI line with every other parameter at its nominal value, where
  users evaluate (``poi_line_mean_abs_delta_logpdf``, ``poi_line_max_abs_delta_logpdf``:
  :mod:`.poi_line`);
- the ensemble spread along the profile, when the surrogate is an ensemble;
- the K-S figures of the exact likelihood itself on the same two samples
  (``ks_median_pvalue_exact``, ``ks_fraction_below_0.05_exact``): what a
  perfect surrogate scores, so the reader sees how much of a K-S shortfall is
  the noise of these samples rather than the surrogate. Where the exact
  likelihood itself misses a K-S threshold, that threshold is within the noise
  and the surrogate is judged against the exact likelihood's score instead.

The posterior samples are MCMC samples. K-S p-values use each sample's
effective size (the MCMC one where the draws are autocorrelated:
:func:`.data.ks_effective_sizes`), and when a sample's chains did not converge
(R-hat above 1.01, or fewer than :data:`MIN_POINTS` effective samples:
:func:`.data.convergence_problems`) the K-S and HPDI metrics
(:data:`JUDGED_ON_SAMPLES`) are reported but not judged, with a note saying why.

The same metrics for the quadratic (Laplace) approximation of the reference
are reported beside them, with no network at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..density import LogDensity
from ..errors import InvalidInputError
from ..infer import TmuScan, poi_index, tmu_interval, tmu_scan
from .data import MIN_POINTS, FidelityData, SampleConvergence, convergence_problems
from .metrics import Metric, verdict
from .poi_line import POI_LINE_THRESHOLDS, poi_line_metrics
from .posterior import ks_floor_notes, ks_noise_floor
from .posterior import posterior_metrics as _posterior_metrics

__all__ = [
    "FidelityData",
    "SampleConvergence",
    "FidelityReport",
    "assess",
    "DEFAULT_THRESHOLDS",
    "DEFAULT_GRID",
    "MIN_POINTS",
    "POI_LINE_THRESHOLDS",
    "JUDGED_ON_SAMPLES",
]

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

JUDGED_ON_SAMPLES = ("ks_median_pvalue", "ks_fraction_below_0.05", "hpdi_max_abs_delta")
"""The metrics that measure the posterior samples as much as the surrogate: not judged on unconverged samples."""


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
    floor = ks_noise_floor(data)
    metrics, notes = _posterior_metrics(
        surrogate, data, j, poi, thresholds, offset, surrogate_samples, surrogate_weights, ks_floor=floor
    )
    problems = convergence_problems(data)
    notes += _not_judged(metrics, problems) if problems else ks_floor_notes(floor, metrics)
    scan_metrics, scan = _scan_metrics(surrogate, exact, thresholds)
    metrics += scan_metrics
    if intervals:
        metrics.append(_interval_metric(surrogate, reference, poi, scan, exact))
    metrics += poi_line_metrics(surrogate, reference, j, list(grid), offset=offset, thresholds=thresholds)
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
        report.quadratic += poi_line_metrics(quad, reference, j, list(grid))
    return report


def _not_judged(metrics: list[Metric], problems: list[str]) -> list[str]:
    """Report the K-S and HPDI metrics without judging them: the samples are not converged.

    Each keeps its value; its threshold is dropped (so the verdict ignores it) and named in a note.
    """
    why = "; ".join(problems)
    for m in metrics:
        if m.name in JUDGED_ON_SAMPLES and m.threshold is not None:
            kind = "HPDI" if m.name.startswith("hpdi") else "K-S"
            threshold = f"{m.comparison} {m.threshold:g}"
            m.notes.append(f"samples not converged ({why}): {kind} not judged (threshold {threshold} not applied)")
            m.threshold = None
    return [
        f"the fidelity samples are not converged ({why}): K-S and HPDI are reported, not judged; "
        "their chains disagree, so these figures measure the sampling rather than the surrogate "
        "(sample longer, or with fewer walkers, until R-hat <= 1.01)"
    ]
