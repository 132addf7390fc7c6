"""The POI-line metric: log L of the surrogate against the exact one, the other parameters at nominal.

Each expected value is a closed form of a surrogate that differs from the exact
likelihood by a known function of the POI.
"""

from __future__ import annotations

import numpy as np

from dnnlik.fidelity import POI_LINE_THRESHOLDS, poi_line_metrics
from dnnlik.fidelity.poi_line import poi_line_points
from dnnlik.likelihoods import CallableLikelihood
from dnnlik.parameters import Parameter

PARAMS = [Parameter("mu", "poi", (0.0, 5.0)), Parameter("a", bounds=(-5.0, 5.0), nominal=0.3)]


def _exact(x: np.ndarray) -> np.ndarray:
    return -0.5 * ((x[:, 0] - 1.0) ** 2 + (x[:, 1] - 0.2 * x[:, 0]) ** 2)


def _surrogate(shift, offset: float = 0.0) -> CallableLikelihood:
    """The exact log L + shift(mu, a) + offset."""
    return CallableLikelihood(lambda x: _exact(x) + shift(x[:, 0], x[:, 1]) + offset, PARAMS)


def test_points_are_the_poi_grid_at_nominal() -> None:
    exact = CallableLikelihood(_exact, PARAMS)
    np.testing.assert_array_equal(poi_line_points(exact, 0, [0.0, 2.0]), [[0.0, 0.3], [2.0, 0.3]])


def test_metric_measures_the_error_on_the_line_with_the_offset_removed() -> None:
    exact = CallableLikelihood(_exact, PARAMS)
    grid = [0.0, 0.5, 1.0, 2.0]
    # off by 0.1 mu (a - 0.3) + 0.02 mu: on the line (a = 0.3 nominal) only 0.02 mu remains
    surrogate = _surrogate(lambda mu, a: 0.1 * mu * (a - 0.3) + 0.02 * mu, offset=7.5)
    mean, worst = poi_line_metrics(surrogate, exact, 0, grid, offset=7.5, thresholds=POI_LINE_THRESHOLDS)
    assert mean.name == "poi_line_mean_abs_delta_logpdf" and mean.threshold is None
    np.testing.assert_allclose(mean.value, 0.02 * np.mean(grid), rtol=1e-9)
    np.testing.assert_allclose(worst.value, 0.02 * 2.0, rtol=1e-9)
    assert worst.threshold == 0.05 and worst.passed is True
    diff = np.subtract(worst.detail["surrogate"], worst.detail["exact"])
    np.testing.assert_allclose(diff, 0.02 * np.array(grid), atol=1e-12)
    # the same surrogate judged without removing its offset is 7.5 off everywhere
    assert poi_line_metrics(surrogate, exact, 0, grid)[1].value > 7.4


def test_a_surrogate_that_is_not_finite_on_the_line_fails() -> None:
    exact = CallableLikelihood(_exact, PARAMS)
    broken = _surrogate(lambda mu, a: np.where(mu > 1.5, -np.inf, 0.0))
    _, worst = poi_line_metrics(broken, exact, 0, [0.0, 2.0], thresholds=POI_LINE_THRESHOLDS)
    assert worst.value == np.inf and worst.passed is False
    assert worst.detail["surrogate"][1] == "-inf"
