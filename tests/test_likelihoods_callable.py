"""CallableLikelihood: user functions as reference likelihoods."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from dnnlik.errors import InvalidInputError
from dnnlik.likelihoods import CallableLikelihood, ReferenceLikelihood
from dnnlik.parameters import Parameter

MEAN = np.array([0.5, -1.0, 2.0])
PRECISION = np.array([[2.0, 0.3, 0.0], [0.3, 1.0, -0.2], [0.0, -0.2, 0.5]])


def gauss(x: np.ndarray) -> np.ndarray:
    d = x - MEAN
    return -0.5 * np.einsum("ni,ij,nj->n", d, PRECISION, d)


def gauss_grad(x: np.ndarray) -> np.ndarray:
    return -(x - MEAN) @ PRECISION


def gauss_one(x: np.ndarray) -> float:
    d = x - MEAN
    return float(-0.5 * d @ PRECISION @ d)


PARAMS = [
    Parameter("a", bounds=(-10.0, 10.0)),
    Parameter("b", bounds=(-10.0, 10.0)),
    Parameter("c", bounds=(-10.0, 10.0)),
]


@pytest.fixture()
def points() -> np.ndarray:
    return np.random.default_rng(11).uniform(-3, 3, (7, 3))


def test_vectorized_values_and_forms(points: np.ndarray) -> None:
    lik = CallableLikelihood(gauss, PARAMS, name="gauss3")
    assert isinstance(lik, ReferenceLikelihood)
    assert lik.name == "gauss3" and lik.parameter_names == ("a", "b", "c")
    values = lik.logpdf(points)
    assert values.shape == (7,) and values.dtype == np.float64
    np.testing.assert_allclose(values, gauss(points), rtol=1e-15)
    single = lik.logpdf(points[0])
    assert isinstance(single, np.float64) and single == pytest.approx(gauss(points[:1])[0])
    assert lik.logpdf({"a": 0.5, "b": -1.0, "c": 2.0}) == 0.0
    assert lik.logpdf({"a": [0.5, 1.5]}).shape == (2,)


def test_non_vectorized_is_called_per_point(points: np.ndarray) -> None:
    calls: list[tuple[int, ...]] = []

    def one(x: np.ndarray) -> float:
        calls.append(x.shape)
        return gauss_one(x)

    lik = CallableLikelihood(one, PARAMS, vectorized=False)
    np.testing.assert_allclose(lik.logpdf(points), gauss(points), rtol=1e-14)
    assert calls == [(3,)] * 7
    assert lik.name == "one"


def test_exact_gradient_when_given(points: np.ndarray) -> None:
    lik = CallableLikelihood(gauss, PARAMS, grad=gauss_grad)
    assert lik.exact_gradient is True
    np.testing.assert_allclose(lik.grad_logpdf(points), gauss_grad(points), rtol=1e-15)
    assert lik.grad_logpdf(points[0]).shape == (3,)
    lik1 = CallableLikelihood(gauss_one, PARAMS, vectorized=False, grad=lambda x: -(x - MEAN) @ PRECISION)
    np.testing.assert_allclose(lik1.grad_logpdf(points), gauss_grad(points), rtol=1e-14)


@pytest.mark.parametrize("vectorized", [True, False])
def test_finite_difference_fallback(points: np.ndarray, vectorized: bool) -> None:
    lik = CallableLikelihood(gauss if vectorized else gauss_one, PARAMS, vectorized=vectorized)
    assert lik.exact_gradient is False
    grad = lik.grad_logpdf(points)
    assert grad.shape == (7, 3)
    # central differences are exact for a quadratic up to rounding: eps |f| / h, h ~ 6e-6 |x|
    np.testing.assert_allclose(grad, gauss_grad(points), rtol=0, atol=1e-8)
    assert not np.allclose(grad, 0.0)


def test_finite_differences_stay_inside_bounds() -> None:
    params = [Parameter("x", bounds=(0.0, 1.0)), Parameter("y", bounds=(-1.0, 1.0))]

    def f(x: np.ndarray) -> np.ndarray:
        assert np.all((x[:, 0] >= 0.0) & (x[:, 0] <= 1.0)), "called outside the bounds"
        return -((x[:, 0] - 2.0) ** 2) + 3.0 * x[:, 1]

    lik = CallableLikelihood(f, params)
    grad = lik.grad_logpdf(np.array([[0.0, 0.0], [1.0, 0.5], [0.5, 1.0]]))
    # one-sided at the bounds: first order, error ~ step ~ 6e-6
    np.testing.assert_allclose(grad[:, 0], [4.0, 2.0, 3.0], atol=1e-4)
    np.testing.assert_allclose(grad[:, 1], 3.0, atol=1e-8)


def test_outside_bounds_is_minus_inf_and_not_evaluated() -> None:
    seen: list[np.ndarray] = []

    def f(x: np.ndarray) -> np.ndarray:
        seen.append(x.copy())
        return -0.5 * (x**2).sum(axis=1)

    lik = CallableLikelihood(f, [Parameter("x", bounds=(-1.0, 1.0)), Parameter("y")])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        values, grad = lik.logpdf_and_grad(np.array([[0.5, 0.0], [2.0, 0.0], [-1.0, 1e6]]))
    assert values[0] == -0.125 and values[1] == -np.inf and values[2] == -0.5e12 - 0.5
    assert np.all(np.isnan(grad[1])) and np.isfinite(grad[0]).all()
    assert all(np.all(np.abs(s[:, 0]) <= 1.0) for s in seen)
    assert lik.logpdf([3.0, 0.0]) == -np.inf


def test_minus_inf_output_is_allowed() -> None:
    lik = CallableLikelihood(lambda x: np.where(x[:, 0] > 0, -x[:, 0], -np.inf), ["x"])
    np.testing.assert_array_equal(lik.logpdf([[1.0], [-1.0]]), [-1.0, -np.inf])


@pytest.mark.parametrize(
    ("func", "vectorized", "match"),
    [
        (lambda x: np.zeros((len(x), 1)), True, r"shape \(3, 1\) for 3 point"),
        (lambda x: np.zeros(len(x) + 1), True, r"shape \(4,\)"),
        (lambda x: 0.0, True, r"shape \(\) for 3"),
        (lambda x: np.array(["a"] * len(x)), True, "dtype <U1"),
        (lambda x: [None] * len(x), True, "dtype object"),
        (lambda x: np.full(len(x), np.nan), True, "returned nan"),
        (lambda x: np.full(len(x), np.inf), True, "returned inf"),
        (lambda x: np.zeros(2), False, r"shape \(2,\).*one number"),
        (lambda x: "1.0", False, "dtype <U3"),
        (lambda x: complex(1, 1), False, "dtype complex128"),
    ],
)
def test_bad_outputs_are_reported(func, vectorized: bool, match: str) -> None:
    lik = CallableLikelihood(func, ["a", "b"], vectorized=vectorized)
    with pytest.raises(InvalidInputError, match=match) as info:
        lik.logpdf(np.zeros((3, 2)))
    assert str(info.value).startswith("func")


def test_bad_gradient_outputs_are_reported() -> None:
    lik = CallableLikelihood(lambda x: -x.sum(axis=1), ["a", "b"], grad=lambda x: np.zeros(len(x)))
    with pytest.raises(InvalidInputError, match=r"grad: returned shape \(3,\); expected \(3, 2\)"):
        lik.grad_logpdf(np.zeros((3, 2)))
    lik1 = CallableLikelihood(lambda x: -x.sum(), ["a", "b"], vectorized=False, grad=lambda x: [1.0])
    with pytest.raises(InvalidInputError, match=r"grad \(point 0\): returned shape \(1,\)"):
        lik1.grad_logpdf(np.zeros((3, 2)))


def test_bad_construction() -> None:
    with pytest.raises(InvalidInputError, match="func: expected a callable"):
        CallableLikelihood(3.0, ["a"])  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match=r"duplicate parameter names \['a'\]"):
        CallableLikelihood(gauss, ["a", "b", "a"])
    with pytest.raises(InvalidInputError, match=r"parameters\[1\]"):
        CallableLikelihood(gauss, ["a", 2])  # type: ignore[list-item]
    with pytest.raises(InvalidInputError, match="at least one parameter"):
        CallableLikelihood(gauss, [])


def test_nan_input_and_wrong_width() -> None:
    lik = CallableLikelihood(gauss, PARAMS)
    with pytest.raises(InvalidInputError, match="NaN"):
        lik.logpdf([0.0, np.nan, 0.0])
    with pytest.raises(InvalidInputError, match="expected 3 parameters"):
        lik.logpdf(np.zeros((2, 4)))


def test_describe() -> None:
    info = CallableLikelihood(gauss, PARAMS, grad=gauss_grad).describe()
    assert info["name"] == "gauss" and info["exact_gradient"] is True
    assert info["source"].endswith("gauss") and info["version"].startswith("sha256:")
    other = CallableLikelihood(gauss_one, PARAMS, vectorized=False).describe()
    assert other["version"] != info["version"] and other["vectorized"] is False
