"""Training points on and near the POI line at nominal nuisances (dnnlik.sample.poi_line).

Statistical checks use a fixed seed and 5-standard-error tolerances: a mean of n
draws within 5 sd / sqrt(n), a standard deviation within 5 sd / sqrt(2n) (Gaussian
draws), so that a correct implementation fails with probability below 1e-6.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from dnnlik.errors import InvalidInputError
from dnnlik.likelihoods import CallableLikelihood
from dnnlik.parameters import Constraint, Parameter
from dnnlik.sample.poi_line import line_widths, poi_line_samples


def _likelihood() -> CallableLikelihood:
    """mu (POI, [0, 10]); a (normal constraint, width 0.5); k (free, Laplace width 0.2); g (held: width 1e-8)."""

    def logl(x: np.ndarray) -> np.ndarray:
        mu, a, k, g = x.T
        return -0.5 * ((mu - 1.0 - a) ** 2 + (a / 0.5) ** 2 + ((k - 2.0) / 0.2) ** 2 + ((g - 1.0) / 1e-8) ** 2)

    params = [
        Parameter("mu", "poi", (0.0, 10.0), nominal=1.0),
        Parameter("a", bounds=(-5.0, 5.0), constraint=Constraint("normal", 0.0, 0.5)),
        Parameter("k", bounds=(0.0, 5.0), nominal=1.0),
        Parameter("g", bounds=(0.0, 2.0), nominal=1.0, constraint=Constraint("normal", 1.0, 1e-8)),
    ]
    return CallableLikelihood(logl, params, name="line")


def test_widths_come_from_constraints_the_laplace_approximation_and_the_bounds() -> None:
    widths, rules = line_widths(_likelihood(), skip=(0,))
    assert rules == ["none", "constraint", "Laplace", "held"]
    np.testing.assert_allclose(widths[:3], [0.0, 0.5, 0.2], rtol=1e-4)  # k's Laplace sigma is 0.2 exactly
    assert widths[3] == 0.0


def test_points_scatter_around_nominal_with_the_asked_width() -> None:
    lik = _likelihood()
    n, scatter = 20_000, 0.1
    x, values, meta = poi_line_samples(lik, n, (0.0, 4.0), scatter=scatter, seed=5)
    assert x.shape == (n, 4) and meta["n_kept"] == n and meta["kind"] == "poi_line"
    np.testing.assert_allclose(values, lik.logpdf(x))
    # the POI is uniform on [0, 4]: mean 2, sd 4 / sqrt(12)
    assert abs(x[:, 0].mean() - 2.0) < 5 * (4 / math.sqrt(12)) / math.sqrt(n)
    assert x[:, 0].min() >= 0.0 and x[:, 0].max() <= 4.0
    # the others: nominal + N(0, (0.1 x width)^2); the held g stays exactly at nominal
    for k, (nominal, width) in enumerate([(0.0, 0.5), (1.0, 0.2)], start=1):
        sd = scatter * width
        assert abs(x[:, k].mean() - nominal) < 5 * sd / math.sqrt(n)
        assert abs(x[:, k].std() - sd) < 5 * sd / math.sqrt(2 * n)
    assert np.all(x[:, 3] == 1.0)
    assert meta["width_rules"] == {"a": "constraint", "k": "Laplace", "g": "held"}


def test_no_scatter_puts_every_point_on_the_line() -> None:
    x, _, _ = poi_line_samples(_likelihood(), 100, (0.5, 1.5), scatter=0.0, seed=1)
    np.testing.assert_array_equal(x[:, 1:], np.tile([0.0, 1.0, 1.0], (100, 1)))


def test_points_outside_the_bounds_are_redrawn() -> None:
    # with 3 widths of scatter k ~ N(1, 0.6^2) falls below its bound 0 for 4.8% of the points (about 240)
    lik = _likelihood()
    x, _, meta = poi_line_samples(lik, 5000, (0.0, 1.0), scatter=3.0, seed=2)
    lower = np.array([p.lower for p in lik.parameters])
    upper = np.array([p.upper for p in lik.parameters])
    assert np.all((x >= lower) & (x <= upper))
    assert meta["n_redrawn"] > 0 and meta["n_clipped"] == 0


@pytest.mark.parametrize(
    ("kwargs", "where"),
    [
        ({"n": 0}, "n"),
        ({"scatter": -1.0}, "scatter"),
        ({"poi_range": (2.0, 1.0)}, "poi_range"),
        ({"poi_range": (-1.0, 1.0)}, "poi_range"),
        ({"poi": "nope"}, "poi"),
    ],
)
def test_bad_input(kwargs, where) -> None:
    args = {"n": 10, "poi_range": (0.0, 1.0), **kwargs}
    with pytest.raises(InvalidInputError) as info:
        poi_line_samples(_likelihood(), args.pop("n"), args.pop("poi_range"), **args)
    assert info.value.where == where
