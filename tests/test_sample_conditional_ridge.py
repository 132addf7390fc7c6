"""Training points on conditional profile ridges (dnnlik.sample.conditional_ridge)."""

from __future__ import annotations

import numpy as np
import pytest

from dnnlik.errors import InvalidInputError
from dnnlik.likelihoods import CallableLikelihood
from dnnlik.parameters import Parameter
from dnnlik.sample.conditional_ridge import conditional_ridge_samples

F = 9  # nuisance parameters
RNG = np.random.default_rng(4)
A = RNG.normal(size=(F + 1, F + 1))
PRECISION = A @ A.T + (F + 1) * np.eye(F + 1)  # a correlated Gaussian: its ridges are linear and known
CENTRE = np.linspace(-0.5, 0.5, F + 1)
PARAMS = [Parameter("mu", "poi", (-10.0, 10.0))] + [Parameter(f"t{i}", bounds=(-10.0, 10.0)) for i in range(F)]


def _gauss() -> CallableLikelihood:
    def logl(x: np.ndarray) -> np.ndarray:
        d = x - CENTRE
        return -0.5 * np.einsum("ni,ij,nj->n", d, PRECISION, d)

    return CallableLikelihood(logl, PARAMS, grad=lambda x: -(x - CENTRE) @ PRECISION)


def test_points_sit_on_conditional_ridges_of_a_gaussian() -> None:
    # For a Gaussian, a point on the ridge conditional on its held parameters (and mu) has a zero
    # gradient in every other parameter, exactly. Each parameter is held with probability q, and
    # one more is forced (see below for the expected count).
    lik, q, n = _gauss(), 0.15, 4000
    points, values, meta = conditional_ridge_samples(lik, n, (-1.0, 1.0), held_fraction=q, seed=3)
    assert points.shape == (n, F + 1) and meta["n_kept"] == n
    np.testing.assert_allclose(values, lik.logpdf(points))
    grad = lik.grad_logpdf(points)[:, 1:]
    zero = np.abs(grad) < 1e-6  # the profile fits converge to ~1e-8 here; held components are O(1)
    held = F - zero.sum(axis=1)
    assert held.min() >= 1  # the forced one: never on the unconditional ridge itself
    # each of the F others is held if picked (q) or forced (1/F): P(held) = 1 - (1 - q)(1 - 1/F)
    expected = F * (1 - (1 - q) * (1 - 1 / F))
    sd = np.sqrt(F * 0.25 / n)  # the mean of n counts of F Bernoullis: sd <= sqrt(F / 4 / n)
    assert abs(held.mean() - expected) < 5 * sd
    assert np.all(np.abs(points[:, 0]) <= 1.0)


def test_held_parameters_move_by_the_laplace_width() -> None:
    lik = _gauss()
    points, _, _ = conditional_ridge_samples(lik, 3000, (0.0, 0.0 + 1e-9), held_fraction=1.0, max_scale=1.0, seed=5)
    # every parameter held: moves are s * N(0, cov) with s ~ U(0, 1): variance E[s^2] cov = cov / 3
    cov = np.linalg.inv(PRECISION[1:, 1:])
    d = points[:, 1:] - points[:, 1:].mean(axis=0)
    np.testing.assert_allclose(np.var(d, axis=0), np.diag(cov) / 3, rtol=0.15)  # 3000 draws: ~3% sd


@pytest.mark.parametrize(
    "kwargs",
    [{"poi_range": (1.0, 0.0)}, {"n": 0}, {"held_fraction": 0.0}, {"held_fraction": 1.5}, {"max_scale": 0.0}],
)
def test_bad_arguments_are_refused(kwargs) -> None:
    args = {"n": 10, "poi_range": (0.0, 1.0), **kwargs}
    with pytest.raises(InvalidInputError, match="conditional_ridge_samples"):
        conditional_ridge_samples(_gauss(), args.pop("n"), args.pop("poi_range"), **args)
