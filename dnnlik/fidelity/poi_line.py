"""Fidelity where users evaluate: log L on the POI line with every other parameter at its nominal value.

``lik.logpdf({"mu": values})`` is what a user of a published likelihood calls
first; the posterior and the profile ridge, where the other metrics look, need
not pass there. :func:`poi_line_metrics` compares the surrogate's log L with
the exact one on the POI grid, the other parameters at nominal, with the same
offset handling as the ``logpdf_*`` metrics (the surrogate's ``output.offset``
subtracted, no constant fitted). Issue 15's target is 0.05 at most
(:data:`POI_LINE_THRESHOLDS`; :data:`~dnnlik.fidelity.DEFAULT_THRESHOLDS`
does not include it, so the toy entries' verdicts keep their meaning).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..density import LogDensity
from .metrics import Metric

__all__ = ["poi_line_metrics", "poi_line_points", "POI_LINE_THRESHOLDS"]

POI_LINE_THRESHOLDS: dict[str, float] = {"poi_line_max_abs_delta_logpdf": 0.05}
"""Issue 15's target for a HistFactory build: |delta log L| <= 0.05 on the POI line at nominal nuisances."""


def poi_line_points(reference: LogDensity, poi_index: int, values: Sequence[float]) -> np.ndarray:
    """The points of the POI line: every parameter at its nominal value, the POI at each of ``values``.

    >>> from dnnlik.likelihoods import get
    >>> poi_line_points(get("toy-lhc-like-cat2"), 0, [0.0, 1.0])[:, :3]
    array([[0., 0., 0.],
           [1., 0., 0.]])

    Args:
        reference: the likelihood (its parameters' nominal values).
        poi_index: the POI's column.
        values: the POI values.

    Returns:
        (len(values), P) points.
    """
    nominal = np.array([p.nominal for p in reference.parameters], dtype=np.float64)
    points = np.repeat(nominal[None, :], len(values), axis=0)
    points[:, poi_index] = np.asarray(values, dtype=np.float64)
    return points


def poi_line_metrics(
    surrogate: LogDensity,
    reference: LogDensity,
    poi_index: int,
    values: Sequence[float],
    *,
    offset: float = 0.0,
    thresholds: Mapping[str, float] | None = None,
) -> list[Metric]:
    """``poi_line_mean_abs_delta_logpdf`` and ``poi_line_max_abs_delta_logpdf`` (see the module docstring).

    Args:
        surrogate: the log-density under test (``logpdf = log L + offset``).
        reference: the exact log-density, same parameters.
        poi_index: the POI's column.
        values: the POI grid.
        offset: the constant the surrogate adds to log L (its ``output.offset``).
        thresholds: ``{metric name: threshold}``; a metric not named is reported, not judged.

    Returns:
        The two metrics; the max carries the grid, both log L and their difference in its detail.
        Where the surrogate or the reference is not finite, the values are infinite.
    """
    thresholds = {} if thresholds is None else thresholds
    points = poi_line_points(reference, poi_index, values)
    exact = np.asarray(reference.logpdf(points), dtype=np.float64).reshape(-1)
    own = np.asarray(surrogate.logpdf(points), dtype=np.float64).reshape(-1) - offset
    with np.errstate(invalid="ignore"):
        delta = own - exact
    finite = bool(np.isfinite(delta).all())
    abs_delta = np.abs(delta)
    name = reference.parameters[poi_index].name
    where = f"{name} = {[float(v) for v in values]}, every other parameter at its nominal value"
    return [
        Metric(
            "poi_line_mean_abs_delta_logpdf",
            float(abs_delta.mean()) if finite else float("inf"),
            thresholds.get("poi_line_mean_abs_delta_logpdf"),
            "<=",
            f"mean |log L(surrogate) - log L(exact)| on the POI line: {where} (offset removed).",
        ),
        Metric(
            "poi_line_max_abs_delta_logpdf",
            float(abs_delta.max()) if finite else float("inf"),
            thresholds.get("poi_line_max_abs_delta_logpdf"),
            "<=",
            "largest |log L(surrogate) - log L(exact)| on the same line.",
            detail={
                "values": [float(v) for v in values],
                "exact": [_json_number(v) for v in exact],
                "surrogate": [_json_number(v) for v in own],
            },
        ),
    ]


def _json_number(value: float) -> float | str:
    """A float, or its text for -inf/nan (JSON has neither)."""
    return float(value) if np.isfinite(value) else str(value)
