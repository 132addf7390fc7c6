"""dnnlik.infer: maxima, profiles, t_mu, and the ``tmu`` command.

Toy numbers come from /work/shared/data/toy_lhc_like/README.md: an independent
gradient-based re-evaluation gave max logprob = -285.778 at mu_hat ~ -0.01,
t_mu(0.5) = 1.777 and t_mu(1) = 7.374 (the original DNNLikelihood code, with
Powell fits, reported -285.7815, 1.771 and 7.368).
"""

from __future__ import annotations

import json
import math
import time
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from dnnlik.cli.tmu import parse_values, tmu
from dnnlik.errors import InvalidInputError, NoGradientError, OptimizationError
from dnnlik.infer import FitResult, TmuScan, default_poi, maximize, profile, tmu_scan
from dnnlik.likelihoods import CallableLikelihood, get
from dnnlik.parameters import Parameter

# --------------------------------------------------------------------------- an analytic Gaussian
MEAN = np.array([0.4, -1.0, 2.0])
COV = np.array([[0.25, 0.12, -0.05], [0.12, 1.0, 0.3], [-0.05, 0.3, 0.64]])
PREC = np.linalg.inv(COV)
GAUSS_PARAMS = (
    Parameter("mu", role="poi", bounds=(-10.0, 10.0)),
    Parameter("a", bounds=(-20.0, 20.0)),
    Parameter("b", bounds=(-20.0, 20.0)),
)


def gauss_lik() -> CallableLikelihood:
    def f(x: np.ndarray) -> np.ndarray:
        d = x - MEAN
        return -0.5 * np.einsum("ni,ij,nj->n", d, PREC, d) + 3.0

    return CallableLikelihood(f, GAUSS_PARAMS, grad=lambda x: -(x - MEAN) @ PREC, name="gauss")


class DuckSource:
    """Not a ReferenceLikelihood: just .parameters/.logpdf/.grad_logpdf, as a bundle has."""

    def __init__(self, logpdf, grad=None, parameters=GAUSS_PARAMS) -> None:
        self.parameters = parameters
        self._logpdf, self._grad = logpdf, grad
        self.calls = 0

    def logpdf(self, x: np.ndarray) -> np.ndarray:
        self.calls += 1
        return np.asarray(self._logpdf(np.asarray(x, dtype=float)), dtype=np.float64)

    def grad_logpdf(self, x: np.ndarray) -> np.ndarray:
        if self._grad is None:
            raise NoGradientError("this bundle's model has no gradient output")
        return self._grad(np.asarray(x, dtype=float))


@pytest.fixture(scope="module")
def toy():
    return get("toy-lhc-like")


def test_gaussian_maximum() -> None:
    fit = maximize(gauss_lik())
    assert isinstance(fit, FitResult)
    np.testing.assert_allclose(fit.point, MEAN, atol=1e-6)
    assert fit.logpdf == pytest.approx(3.0, abs=1e-10)
    assert fit.fixed == () and fit.converged_starts == 1 and fit.n_evaluations > 1


def test_gaussian_profile_closed_form() -> None:
    """t_mu = (mu - mu_hat)^2 / sigma_mu^2, with sigma_mu^2 = Cov[mu, mu] (the profiled variance)."""
    lik = gauss_lik()
    values = [-0.6, 0.0, 0.4, 0.9, 1.7]
    scan = tmu_scan(lik, values)
    assert isinstance(scan, TmuScan) and scan.poi == "mu"
    expected = (np.array(values) - MEAN[0]) ** 2 / COV[0, 0]
    np.testing.assert_allclose(scan.tmu, expected, rtol=1e-6, atol=1e-9)
    assert scan.poi_hat == pytest.approx(MEAN[0], abs=1e-6)
    # profiled nuisances = conditional means: theta_hat(mu) = m_theta + C_theta,mu / C_mu,mu (mu - m_mu)
    for v, fit in zip(values, scan.profiles, strict=True):
        cond = MEAN[1:] + COV[1:, 0] / COV[0, 0] * (v - MEAN[0])
        np.testing.assert_allclose(fit.point[1:], cond, atol=1e-5)
        assert fit.value("mu") == v and fit.fixed == ("mu",)
    assert scan.profiled_logpdf == tuple(p.logpdf for p in scan.profiles)


def test_profile_keeps_input_order_and_warm_starts() -> None:
    lik = gauss_lik()
    values = [1.5, -0.5, 0.9, 0.1]
    fits = profile(lik, "a", values)
    assert [f.value("a") for f in fits] == values
    # profiling a (not the poi): t = (a - a_hat)^2 / Cov[a, a]
    best = maximize(lik)
    t = [-2 * (f.logpdf - best.logpdf) for f in fits]
    np.testing.assert_allclose(t, (np.array(values) - MEAN[1]) ** 2 / COV[1, 1], rtol=1e-6)


def test_fixed_parameters_and_bounds() -> None:
    lik = gauss_lik()
    fit = maximize(lik, fixed={"b": 0.0, "a": 1.0})
    assert fit.fixed == ("a", "b") and fit.value("a") == 1.0 and fit.value("b") == 0.0
    d = np.array([0.0, 1.0 - MEAN[1], 0.0 - MEAN[2]])
    # conditional maximum of mu: m_mu - (P_mu,rest . (rest - m_rest)) / P_mu,mu
    assert fit.value("mu") == pytest.approx(MEAN[0] - PREC[0, 1:] @ d[1:] / PREC[0, 0], abs=1e-6)
    # a maximum outside the bounds ends on the bound
    tight = CallableLikelihood(
        lambda x: -((x[:, 0] - 10.0) ** 2), [Parameter("x", bounds=(-1.0, 2.0))], grad=lambda x: -2 * (x - 10.0)
    )
    assert maximize(tight).value("x") == 2.0
    everything = maximize(lik, fixed={"mu": 0.4, "a": -1.0, "b": 2.0})
    assert everything.logpdf == pytest.approx(3.0) and everything.n_iterations == 0
    with pytest.raises(InvalidInputError, match=r"fixed\['a'\]: value 30 is not inside the bounds"):
        maximize(lik, fixed={"a": 30.0})
    with pytest.raises(InvalidInputError, match="unknown parameter 'zz'"):
        maximize(lik, fixed={"zz": 1.0})
    with pytest.raises(InvalidInputError, match="starts"):
        maximize(lik, starts=0)


def test_multiple_seeded_starts_find_the_global_maximum() -> None:
    # two modes: a low one at -2 (where the nominal start sits) and the global one at 3
    def f(x: np.ndarray) -> np.ndarray:
        z = x[:, 0]
        return np.logaddexp(np.log(0.2) - 2 * (z + 2) ** 2, np.log(0.8) - 2 * (z - 3) ** 2)

    lik = CallableLikelihood(f, [Parameter("z", bounds=(-6.0, 6.0), nominal=-2.0)])
    local = maximize(lik)
    assert local.value("z") == pytest.approx(-2.0, abs=1e-3)
    best = maximize(lik, starts=6, seed=1)
    assert best.value("z") == pytest.approx(3.0, abs=1e-3)
    assert best.logpdf == pytest.approx(math.log(0.8), abs=1e-6) and best.starts == 6
    again = maximize(lik, starts=6, seed=1)
    assert again == best


def test_walls_inside_the_bounds_do_not_fool_lbfgsb() -> None:
    # logpdf = log x - x (max at x = 1), -inf for x <= 0 while the bounds allow [-5, 5];
    # bare scipy L-BFGS-B started at 4 stops at 3.25 and reports success.
    def f(x: np.ndarray) -> np.ndarray:
        z = x[:, 0]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(z > 0, np.log(np.abs(z)) - z, -np.inf)

    lik = CallableLikelihood(f, [Parameter("x", bounds=(-5.0, 5.0), nominal=4.0)], grad=lambda x: 1 / x - 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the user's grad divides by zero at x = 0
        fit = maximize(lik)
    assert fit.value("x") == pytest.approx(1.0, abs=1e-5)


def test_maximum_at_a_kink() -> None:
    lik = CallableLikelihood(
        lambda x: -np.abs(x[:, 0] - 0.3),
        [Parameter("x", bounds=(-5.0, 5.0), nominal=4.0)],
        grad=lambda x: -np.sign(x - 0.3),
    )
    assert maximize(lik).value("x") == pytest.approx(0.3, abs=1e-6)


@pytest.mark.parametrize(
    "func",
    [lambda x: np.full(len(x), np.nan), lambda x: np.full(len(x), -np.inf)],
    ids=["nan-everywhere", "minus-inf-everywhere"],
)
def test_pathological_functions_raise(func) -> None:
    source = DuckSource(func, grad=lambda x: np.zeros_like(x))
    with pytest.raises(OptimizationError, match="failed from every start") as info:
        maximize(source, starts=3, seed=0)
    assert (
        "not finite at the starting point" in str(info.value)
        or "is nan" in str(info.value)
        or "-inf" in str(info.value)
    )
    with pytest.raises(OptimizationError):
        tmu_scan(source, [0.0, 1.0])


def test_unbounded_function_raises() -> None:
    lik = CallableLikelihood(lambda x: x[:, 0], ["x"], grad=lambda x: np.ones_like(x))
    with pytest.raises(OptimizationError, match="'x' ran away"):
        maximize(lik, x0=[1.0])


def test_non_finite_gradient_raises() -> None:
    source = DuckSource(lambda x: -(x**2).sum(axis=1), grad=lambda x: np.full_like(x, np.nan))
    with pytest.raises(OptimizationError, match="gradient is not finite"):
        maximize(source)


def test_no_gradient_falls_back_to_finite_differences() -> None:
    d = lambda x: x - MEAN  # noqa: E731
    source = DuckSource(lambda x: -0.5 * np.einsum("ni,ij,nj->n", d(x), PREC, d(x)))
    fit = maximize(source)
    assert "finite-difference" in fit.method
    np.testing.assert_allclose(fit.point, MEAN, atol=1e-5)
    scan = tmu_scan(source, [0.0, 1.0])
    np.testing.assert_allclose(scan.tmu, (np.array([0.0, 1.0]) - MEAN[0]) ** 2 / COV[0, 0], rtol=1e-5)


def test_results_are_frozen_and_serialise() -> None:
    scan = tmu_scan(gauss_lik(), [0.0, 0.5])
    with pytest.raises(AttributeError):
        scan.best.logpdf = 0.0  # type: ignore[misc]
    data = json.loads(json.dumps(scan.to_json()))
    assert data["poi"] == "mu" and len(data["points"]) == 2
    assert data["points"][1]["tmu"] == pytest.approx(scan.tmu[1])
    assert set(data["best"]["parameters"]) == {"mu", "a", "b"}
    assert json.loads(json.dumps(scan.best.to_json()))["logpdf"] == scan.max_logpdf


def test_poi_choice() -> None:
    assert default_poi(gauss_lik()) == "mu"
    no_poi = CallableLikelihood(lambda x: -(x**2).sum(axis=1), ["a", "b"])
    with pytest.raises(InvalidInputError, match="0 parameters have role 'poi'"):
        tmu_scan(no_poi, [0.0])
    assert tmu_scan(no_poi, [1.0], poi="b").tmu[0] == pytest.approx(2.0, abs=1e-8)
    with pytest.raises(InvalidInputError, match=r"mu = 11 is outside its bounds \[-10, 10\]"):
        tmu_scan(gauss_lik(), [0.0, 11.0])
    with pytest.raises(InvalidInputError, match="no values"):
        tmu_scan(gauss_lik(), [])


# --------------------------------------------------------------------------- the toy LHC-like likelihood
def test_toy_global_maximum(toy) -> None:
    fit = maximize(toy)
    assert fit.logpdf == pytest.approx(-285.78, abs=0.01)  # README: -285.778
    assert abs(fit.value("mu")) < 0.05  # README: mu_hat ~ -0.01


def test_toy_tmu_values(toy) -> None:
    scan = tmu_scan(toy, [0.5, 1.0])
    assert scan.tmu[0] == pytest.approx(1.777, abs=0.01)  # README, independent check
    assert scan.tmu[1] == pytest.approx(7.374, abs=0.01)  # README, independent check (original: 7.368)
    assert scan.max_logpdf == pytest.approx(-285.778, abs=0.01)


def test_toy_scan_is_fast_and_monotone(toy) -> None:
    values = parse_values("0:1:0.1")
    start = time.perf_counter()
    scan = tmu_scan(toy, values)
    elapsed = time.perf_counter() - start
    assert elapsed < 2.0, f"11-point scan took {elapsed:.2f} s"
    assert len(scan.tmu) == 11 and np.all(np.diff(scan.tmu) > 0)  # mu_hat < 0: t_mu grows on [0, 1]
    assert scan.tmu[5] == pytest.approx(1.777, abs=0.01)


def test_toy_seeded_multistart_agrees(toy) -> None:
    fit = maximize(toy, starts=3, seed=5)
    assert fit.converged_starts == 3
    assert fit.logpdf == pytest.approx(-285.7783, abs=1e-3)


# --------------------------------------------------------------------------- the tmu command
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0:1:0.1", [round(0.1 * i, 10) for i in range(11)]),
        ("0:1:0.25", [0.0, 0.25, 0.5, 0.75, 1.0]),
        ("1:0:-0.5", [1.0, 0.5, 0.0]),
        ("0:0.95:0.1", [round(0.1 * i, 10) for i in range(10)]),
        ("0.5", [0.5]),
        (" 0, 0.5 ,1", [0.0, 0.5, 1.0]),
    ],
)
def test_parse_values(text: str, expected: list[float]) -> None:
    assert parse_values(text) == expected


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "empty"),
        ("0:1", "start:stop:step"),
        ("0:1:0", "step must not be 0"),
        ("0:1:-0.1", "goes away from stop"),
        ("0:x:1", "stop 'x' is not a number"),
        ("1,,2", "item 2 '' is not a number"),
        ("0,nan", "not finite"),
        ("0:1e9:1", "more than the 10000"),
    ],
)
def test_parse_values_errors(text: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_values(text)


def test_cli_text_and_json(toy) -> None:
    runner = CliRunner()
    res = runner.invoke(tmu, ["toy-lhc-like", "--values", "0,0.5,1"])
    assert res.exit_code == 0, res.output
    lines = res.output.strip().splitlines()
    assert lines[0].split()[:2] == ["mu", "t_mu"] and len(lines) == 2 + 3 + 1
    assert lines[3].split()[:2] == ["0.5", "1.7765"]
    assert len({line.index("t_mu") for line in lines[:1]}) == 1
    res = runner.invoke(tmu, ["toy-lhc-like", "--values", "0.5,1", "--format", "json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["source"] == "toy-lhc-like" and data["poi"] == "mu"
    assert [p["mu"] for p in data["points"]] == [0.5, 1.0]
    assert data["points"][1]["tmu"] == pytest.approx(7.374, abs=0.01)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["toy-lhc-like", "--values", "0:1:0"], "Invalid value for '--values': .*step must not be 0"),
        (["no-such-thing", "--values", "0"], "neither a reference likelihood"),
        (["toy-lhc-like", "--values", "9"], "mu = 9 is outside its bounds"),
        (["toy-lhc-like", "--values", "0", "--poi", "zz"], "unknown parameter 'zz'"),
    ],
)
def test_cli_errors(args: list[str], match: str) -> None:
    res = CliRunner().invoke(tmu, args)
    assert res.exit_code != 0
    assert res.exception is None or isinstance(res.exception, SystemExit)
    assert __import__("re").search(match, res.output), res.output
