"""The toy LHC-like likelihood: formula, gradient, support, speed-independent checks.

Reference numbers come from /work/shared/data/toy_lhc_like/README.md: the
original DNNLikelihood code (Powell fits) reported max logprob = -285.7815;
an independent gradient-based re-evaluation gave -285.778 at mu_hat ~ -0.01.
"""

from __future__ import annotations

import json
import math
import warnings
from importlib import resources

import numpy as np
import pytest
from scipy.optimize import minimize

from dnnlik.errors import InvalidInputError
from dnnlik.likelihoods import ReferenceLikelihood, available, get
from dnnlik.likelihoods.toy_lhc_like import CHUNK_ROWS, ToyLHCLike

N_PAR = 95


@pytest.fixture(scope="module")
def toy() -> ToyLHCLike:
    lik = get("toy-lhc-like")
    assert isinstance(lik, ToyLHCLike)
    return lik


@pytest.fixture(scope="module")
def data() -> dict:
    raw = resources.files("dnnlik.likelihoods").joinpath("data").joinpath("toy_lhc_like.json").read_text()
    return json.loads(raw)


# --------------------------------------------------------------------------- an independent implementation
def plain_expected(x: list[float], data: dict, round_backgrounds: bool = True) -> list[float]:
    """Expected counts n_I, bin by bin, written from the README formula (no numpy)."""
    mu, delta = x[0], x[1:]
    d_isr, d_jes = delta[90], delta[91]
    d_norm = {"ISR": delta[90], "JES": delta[91], "LV": delta[92], "CR": delta[93]}
    background = [round(v, 1) if round_backgrounds else v for v in data["background_nominal"]]

    def p(d: float, kp: float, km: float) -> float:
        if abs(d) <= 1:
            return 0.5 * d * (d - 1) * km - (d - 1) * (d + 1) + 0.5 * d * (d + 1) * kp
        if d > 1:
            return (0.5 * (3 * kp + km) - 2) * d - 0.5 * (kp + km) + 2
        return (2 - 0.5 * (3 * km + kp)) * d - 0.5 * (kp + km) + 2

    def g(d: float, k_plus: float, k_minus: float) -> float:
        return (1 + k_plus) ** d if d >= 0 else (1 + k_minus) ** (-d)

    expected = []
    for c in range(3):
        bins = range(30 * c, 30 * c + 30)
        n_c = sum(background[i] for i in bins)
        shapes = {}
        for i in bins:
            f_i = background[i] / n_c
            shapes[i] = (
                f_i
                * p(d_isr, data["kappa_plus_ISR"][i], data["kappa_minus_ISR"][i])
                * p(d_jes, data["kappa_plus_JES"][i], data["kappa_minus_JES"][i])
            )
        denominator = sum(shapes.values())
        norm = 1.0
        for name, d in d_norm.items():
            norm *= g(d, data[f"K_plus_{name}"][c], data[f"K_minus_{name}"][c])
        for i in bins:
            nb = n_c * norm * shapes[i] / denominator * (1 + data["eps_MCstat"][i]) ** delta[i]
            expected.append(mu * data["signal_nominal"][i] + nb)
    return expected


def plain_logpdf(x: list[float], data: dict, round_backgrounds: bool = True) -> float:
    mu, delta = x[0], x[1:]
    if not -1 < mu < 5:
        return -math.inf
    log_l = 0.0
    for n_obs, n in zip(data["observed"], plain_expected(x, data, round_backgrounds), strict=True):
        if n <= 0:
            return -math.inf
        log_l += n_obs * math.log(n) - n - math.lgamma(n_obs + 1)
    log_prior = -0.5 * sum(d * d + math.log(2 * math.pi) for d in delta) - math.log(5)
    return log_l + log_prior


def random_points(rng: np.random.Generator, n: int, sys_scale: float = 2.5) -> np.ndarray:
    x = np.empty((n, N_PAR))
    x[:, 0] = rng.uniform(-0.3, 3.0, n)
    x[:, 1:91] = np.clip(rng.normal(0.0, 1.0, (n, 90)), -4.5, 4.5)
    x[:, 91:] = rng.uniform(-sys_scale, sys_scale, (n, 4))
    return x


# --------------------------------------------------------------------------- metadata
def test_registry_and_metadata(toy: ToyLHCLike, data: dict) -> None:
    assert "toy-lhc-like" in available()
    assert isinstance(toy, ReferenceLikelihood)
    assert toy.exact_gradient is True
    names = toy.parameter_names
    assert len(names) == N_PAR
    assert names[:3] == ("mu", "mcstat_0", "mcstat_1")
    assert names[90] == "mcstat_89" and names[91:] == ("isr", "jes", "lv", "cr")
    mu = toy.parameters[0]
    assert (mu.role, mu.bounds, mu.constraint.type, mu.nominal) == ("poi", (-1.0, 5.0), "uniform", 0.0)
    for p in toy.parameters[1:]:
        assert (p.role, p.bounds, p.nominal) == ("nuisance", (-5.0, 5.0), 0.0)
        assert (p.constraint.type, p.constraint.mean, p.constraint.sigma) == ("normal", 0.0, 1.0)
        assert p.description
    info = toy.describe()
    assert info["name"] == "toy-lhc-like"
    assert info["version"].startswith("sha256:") and len(info["version"]) == 7 + 64
    assert info["data_source"]["commit"] == "c293308a005c73798f94ab65608b3b7065ebfa6a"
    assert data["_source"]["repo"] == "DNNLikelihood/DNNLikelihood"
    # the README's sums of the raw inputs
    assert sum(data["observed"]) == 1335
    assert sum(data["background_nominal"]) == pytest.approx(1315.72, abs=0.01)


def test_unknown_name_lists_available() -> None:
    with pytest.raises(InvalidInputError, match="toy-lhc-like"):
        get("no-such-likelihood")


# --------------------------------------------------------------------------- formula
def test_matches_plain_per_bin_implementation(toy: ToyLHCLike, data: dict) -> None:
    rng = np.random.default_rng(20240601)
    points = random_points(rng, 6, sys_scale=3.0)
    points[0] = 0.0  # nominal
    points[1, 91:] = [1.5, -1.7, -0.4, 2.2]  # linear extrapolation of both shapes
    points[2, 91:] = [-0.5, 0.8, 0.0, -3.0]  # quadratic region, g at exactly 0
    values = toy.logpdf(points)
    for x, value in zip(points, values, strict=True):
        assert value == pytest.approx(plain_logpdf(list(x), data), rel=1e-12, abs=1e-9)
    # the nominal value, as an anchor against regressions of both implementations
    assert values[0] == pytest.approx(-289.31991050, abs=1e-6)


def test_rounding_of_backgrounds_matters(toy: ToyLHCLike, data: dict) -> None:
    # The DNNLikelihood code rounds the nominal backgrounds to 1 decimal (20.81 -> 20.8)
    # and recomputes the fractions: without that rounding the value is visibly different.
    x = [0.3] + [0.1] * 94
    value = float(toy.logpdf(x))
    assert plain_logpdf(x, data) == pytest.approx(value, abs=1e-9)
    assert abs(plain_logpdf(x, data, round_backgrounds=False) - value) > 1e-3


def test_global_maximum(toy: ToyLHCLike) -> None:
    """Max of logpdf = -285.78 at mu_hat ~ -0.01 (README); found here with scipy directly."""

    def neg(x: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = toy.logpdf_and_grad(x)
        return -float(value), -grad

    res = minimize(
        neg,
        np.zeros(N_PAR),
        jac=True,
        method="L-BFGS-B",
        bounds=[p.bounds for p in toy.parameters],
        options={"ftol": 1e-13, "gtol": 1e-8},
    )
    assert res.success
    assert -res.fun == pytest.approx(-285.78, abs=0.01)
    assert abs(res.x[0]) < 0.05
    assert np.max(np.abs(toy.grad_logpdf(res.x))) < 1e-3


# --------------------------------------------------------------------------- gradient
def test_gradient_matches_finite_differences(toy: ToyLHCLike) -> None:
    rng = np.random.default_rng(7)
    points = random_points(rng, 8, sys_scale=3.0)
    # keep the systematics away from the kink of g at 0 and the C1 joins at +-1
    sys = points[:, 91:]
    sys[np.abs(sys) < 0.01] += 0.05
    sys[np.abs(np.abs(sys) - 1) < 0.01] += 0.05
    h = 1e-5
    values, grad = toy.logpdf_and_grad(points)
    assert np.all(np.isfinite(values))
    numeric = np.empty_like(grad)
    for j in range(N_PAR):
        step = np.zeros(N_PAR)
        step[j] = h
        numeric[:, j] = (toy.logpdf(points + step) - toy.logpdf(points - step)) / (2 * h)
    # central differences: truncation ~ h^2 |f'''| and rounding ~ eps |f| / h
    rounding = np.finfo(float).eps * np.max(np.abs(values)) / h
    tol = 100 * (h**2 + rounding)
    assert tol < 1e-5
    np.testing.assert_allclose(grad, numeric, rtol=0, atol=tol)
    np.testing.assert_array_equal(toy.grad_logpdf(points), grad)


def test_gradient_is_not_trivially_zero(toy: ToyLHCLike) -> None:
    g = toy.grad_logpdf(np.zeros(N_PAR))
    assert g.shape == (N_PAR,)
    assert np.all(g[91:] != 0) and g[0] != 0


# --------------------------------------------------------------------------- shapes, inputs
def test_shapes_and_input_forms(toy: ToyLHCLike) -> None:
    single = toy.logpdf(np.zeros(N_PAR))
    assert isinstance(single, np.float64)
    assert toy.logpdf({"mu": 0.0}) == single
    batch = toy.logpdf({"mu": [0.0, 0.5, 1.0]})
    assert batch.shape == (3,) and batch.dtype == np.float64
    assert batch[0] == pytest.approx(single, rel=1e-13)
    assert toy.grad_logpdf(np.zeros((4, N_PAR))).shape == (4, N_PAR)


def test_chunked_batch_equals_row_by_row(toy: ToyLHCLike) -> None:
    rng = np.random.default_rng(3)
    points = random_points(rng, CHUNK_ROWS * 2 + 17)
    values, grad = toy.logpdf_and_grad(points)
    for i in (0, CHUNK_ROWS - 1, CHUNK_ROWS, 2 * CHUNK_ROWS + 16):
        v, g = toy.logpdf_and_grad(points[i])
        assert v == pytest.approx(values[i], rel=1e-13)
        np.testing.assert_allclose(g, grad[i], rtol=1e-12, atol=1e-12)


def test_nan_input_raises(toy: ToyLHCLike) -> None:
    x = np.zeros((2, N_PAR))
    x[1, 92] = np.nan
    with pytest.raises(InvalidInputError, match="jes"):
        toy.logpdf(x)


# --------------------------------------------------------------------------- support
def test_minus_inf_outside_bounds_without_warnings(toy: ToyLHCLike) -> None:
    x = np.zeros((7, N_PAR))
    x[0, 0] = 5.5  # mu above 5
    x[1, 0] = -1.0001  # mu below -1
    x[2, 0] = 5.0001
    x[3, 17] = 5.01  # a nuisance outside [-5, 5]
    x[4, 94] = -7.0
    x[5, 0] = 0.2  # a valid point
    x[6, 0] = 5.0  # the bounds are closed: the flat prior is -1 <= mu <= 5 (spec 3.2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        values, grad = toy.logpdf_and_grad(x)
    assert np.all(np.isneginf(values[:5]))
    assert np.isfinite(values[5:]).all()
    assert np.all(np.isnan(grad[:5])) and np.all(np.isfinite(grad[5:]))
    assert toy.logpdf(x[3]) == -np.inf


def test_minus_inf_for_non_positive_expected_counts(toy: ToyLHCLike, data: dict) -> None:
    x = np.zeros((3, N_PAR))
    x[:, 0] = -0.99
    x[:, 1:91] = -5.0  # MC-stat factors (1 + eps)^-5 shrink every background
    x[1, 91:] = 5.0
    x[2] = 0.0  # a valid point in the same batch
    # the independent implementation confirms some expected count is <= 0
    assert min(plain_expected(list(x[0]), data)) <= 0
    assert min(plain_expected(list(x[1]), data)) <= 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        values, grad = toy.logpdf_and_grad(x)
        single = toy.logpdf(x[0])
    assert values[0] == -np.inf and values[1] == -np.inf and single == -np.inf
    assert np.isfinite(values[2])
    assert np.all(np.isnan(grad[:2])) and np.all(np.isfinite(grad[2]))


def test_instances_are_independent_and_data_cached() -> None:
    a, b = get("toy-lhc-like"), ToyLHCLike()
    assert a is not b
    assert a.describe()["version"] == b.describe()["version"]
    assert a.logpdf(np.zeros(N_PAR)) == b.logpdf(np.zeros(N_PAR))
