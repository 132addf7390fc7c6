"""Sampling bounded and degenerate parameters: the log/logit transforms, held parameters, ridge points.

Statistical checks use fixed seeds; each tolerance is a number of standard errors of
the quantity checked, the standard error computed from the run's own effective
sample size (so a correct sampler fails with probability < 1e-6 at 5 sigma), or an
exact identity (round trips, derivatives against finite differences).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from dnnlik.errors import InvalidInputError
from dnnlik.likelihoods import CallableLikelihood
from dnnlik.parameters import Constraint, Parameter
from dnnlik.sample import read_dataset, sample
from dnnlik.sample.proposal import GuidedSamplerDensity, SamplerDensity
from dnnlik.sample.ridge import ridge_samples
from dnnlik.sample.segment import Segment
from dnnlik.sample.transform import AT_BOUND, FLAT_FRACTION, BoundTransform, choose_kinds

INF = math.inf
TRANSFORM = BoundTransform(
    ("logit", "log", "neglog", "identity"), np.array([-1.0, 0.5, -INF, -INF]), np.array([5.0, INF, 2.0, INF])
)


def _points(rng: np.random.Generator, n: int = 50) -> np.ndarray:
    return rng.normal(0.0, 2.0, (n, 4))


def test_round_trip_and_bounds() -> None:
    y = _points(np.random.default_rng(0))
    x = TRANSFORM.to_bounded(y)
    assert np.all((x[:, 0] > -1.0) & (x[:, 0] < 5.0)) and np.all(x[:, 1] > 0.5) and np.all(x[:, 2] < 2.0)
    np.testing.assert_allclose(TRANSFORM.to_unbounded(x), y, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(x[:, 3], y[:, 3])
    # a bound maps to an infinity; inside() moves it in by a relative 1e-9 first
    edge = np.array([[-1.0, 0.5, 2.0, 0.0]])
    assert np.all(np.isinf(TRANSFORM.to_unbounded(edge)[0, :3]))
    assert np.all(np.isfinite(TRANSFORM.to_unbounded(TRANSFORM.inside(edge))))


def test_derivatives_match_finite_differences() -> None:
    y = _points(np.random.default_rng(1), 20)
    h = 1e-6
    eye = np.eye(4)
    fd_dx = np.column_stack(
        [
            (TRANSFORM.to_bounded(y + h * eye[j]) - TRANSFORM.to_bounded(y - h * eye[j]))[:, j] / (2 * h)
            for j in range(4)
        ]
    )
    np.testing.assert_allclose(TRANSFORM.dx_dy(y), fd_dx, rtol=1e-6, atol=1e-9)
    # log |dx/dy| is the sum of log |dx_j/dy_j| (the maps are coordinate-wise)
    np.testing.assert_allclose(TRANSFORM.log_jacobian(y), np.log(np.abs(fd_dx)).sum(axis=1), rtol=1e-6)
    fd_glj = np.column_stack(
        [(TRANSFORM.log_jacobian(y + h * eye[j]) - TRANSFORM.log_jacobian(y - h * eye[j])) / (2 * h) for j in range(4)]
    )
    np.testing.assert_allclose(TRANSFORM.grad_log_jacobian(y), fd_glj, rtol=1e-5, atol=1e-7)
    fd_d2 = np.column_stack(
        [(TRANSFORM.dx_dy(y + h * eye[j]) - TRANSFORM.dx_dy(y - h * eye[j]))[:, j] / (2 * h) for j in range(4)]
    )
    np.testing.assert_allclose(TRANSFORM.d2x_dy2(y), fd_d2, rtol=1e-5, atol=1e-7)
    fd_hlj = np.column_stack(
        [
            (TRANSFORM.grad_log_jacobian(y + h * eye[j]) - TRANSFORM.grad_log_jacobian(y - h * eye[j]))[:, j] / (2 * h)
            for j in range(4)
        ]
    )
    np.testing.assert_allclose(TRANSFORM.hess_log_jacobian(y), fd_hlj, rtol=1e-5, atol=1e-7)


def test_bad_transforms_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="finite bounds"):
        BoundTransform(("logit",), np.array([0.0]), np.array([INF]))
    with pytest.raises(InvalidInputError, match="unknown kind"):
        BoundTransform(("probit",), np.array([0.0]), np.array([1.0]))
    with pytest.raises(InvalidInputError, match="unknown mode"):
        choose_kinds([Parameter("a")], np.array([0]), np.array([0.0]), np.array([1.0]), "sometimes")


def test_auto_transforms_only_where_the_laplace_approximation_says_nothing() -> None:
    gamma = Constraint("gamma", tau=0.06)
    params = [
        Parameter("truncated", bounds=(-1.0, 5.0)),  # maximum 1 sigma above the bound: kept as it is
        Parameter("on_bound", bounds=(0.0, 10.0)),  # maximum on the bound
        Parameter("flat", bounds=(0.0, 10.0)),  # Laplace sigma above a quarter of the width
        Parameter("free"),  # no bounds: nothing to transform
        Parameter("positive", bounds=(0.0, INF)),  # one bound, far away
        Parameter("window", bounds=(0.0, 10.0)),  # kept: a POI confined to a window
        Parameter("gamma_near", bounds=(1e-10, 10.0), constraint=gamma),  # a gamma 2 sigma above its bound
        Parameter("gamma_far", bounds=(1e-10, 10.0), constraint=gamma),  # a gamma 3 sigma above it: kept
    ]
    idx = np.arange(len(params))
    centre = np.array([0.0, 0.0, 5.0, 0.0, 10.0, 0.0, 2.0, 3.0])
    sigma = np.array([1.0, 1.0, FLAT_FRACTION * 10.0 * 1.01, 1.0, 1.0, 1.0, 1.0, 1.0])
    auto = choose_kinds(params, idx, centre, sigma, "auto", keep=[5])
    expected = ("identity", "logit", "logit", "identity", "identity", "identity", "logit", "identity")
    assert auto.kinds == expected
    assert (
        choose_kinds(params, idx, centre, sigma, "all").kinds == ("logit",) * 3 + ("identity", "log") + ("logit",) * 3
    )
    assert choose_kinds(params, idx, centre, sigma, "none").is_identity
    # just inside the bound by more than AT_BOUND sigma: kept; no Laplace approximation: every bounded one
    nudged = centre.copy()
    nudged[1] = 2 * AT_BOUND
    assert choose_kinds(params, idx, nudged, sigma, "auto").kinds[1] == "identity"
    assert choose_kinds(params, idx, centre, None, "auto").kinds[:3] == ("logit",) * 3


def _flat_and_exponential() -> CallableLikelihood:
    """x ~ U(0, 10) (flat: the posterior fills the box), z ~ Exp(1) on [0, 5] (maximum on the bound), w ~ N(0, 1)."""

    def logl(p: np.ndarray) -> np.ndarray:
        return -p[:, 1] - 0.5 * p[:, 2] ** 2 - 1e-3 * (p[:, 0] - 5.0) ** 2

    def grad(p: np.ndarray) -> np.ndarray:
        return np.column_stack([-2e-3 * (p[:, 0] - 5.0), -np.ones(len(p)), -p[:, 2]])

    params = [
        Parameter("x", bounds=(0.0, 10.0), nominal=5.0),
        Parameter("z", bounds=(0.0, 5.0), nominal=1.0),
        Parameter("w", "poi", bounds=(-5.0, 5.0)),
    ]
    return CallableLikelihood(logl, params, grad=grad, name="flat_and_exponential")


def _weighted(a: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    mean = float(np.average(a, weights=w))
    return mean, float(np.sqrt(np.average((a - mean) ** 2, weights=w)))


def test_flat_and_bounded_directions_are_sampled_correctly(tmp_path) -> None:
    lik = _flat_and_exponential()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = sample(lik, tmp_path / "s.h5", n=6000, seed=2, progress=False)
    ds = read_dataset(result.path)
    options = ds.sampling["strategy_options"]
    assert options["transform"] == {"mode": "auto", "logit": ["x", "z"]}
    # the stored log-likelihood is the source's, without the Jacobian
    np.testing.assert_allclose(ds.logpdf, lik.logpdf(ds.points), rtol=1e-12, atol=1e-12)
    assert np.all((ds.points[:, 0] > 0) & (ds.points[:, 0] < 10) & (ds.points[:, 1] > 0) & (ds.points[:, 1] < 5))
    per_parameter = np.array(ds.sampling["diagnostics"]["effective_samples_per_parameter"])
    assert per_parameter.shape == (3,) and np.all(per_parameter > 500)
    # each marginal's mean, standard deviation and kurtosis by quadrature of its exact density; the sample's
    # mean and sd within 5 standard errors (sd / sqrt(n), and sd sqrt((kurtosis - 1) / 4n)), n the effective size
    densities = [
        (np.linspace(0.0, 10.0, 200_001), lambda v: np.exp(-1e-3 * (v - 5.0) ** 2)),
        (np.linspace(0.0, 5.0, 200_001), lambda v: np.exp(-v)),
        (np.linspace(-5.0, 5.0, 200_001), lambda v: np.exp(-0.5 * v * v)),
    ]
    for k, (grid, f) in enumerate(densities):
        p = f(grid) / f(grid).sum()
        mean = float((grid * p).sum())
        var = float(((grid - mean) ** 2 * p).sum())
        kurtosis = float(((grid - mean) ** 4 * p).sum()) / var**2
        sd, n_eff = math.sqrt(var), per_parameter[k]
        m, s = _weighted(ds.points[:, k], ds.weight)
        assert abs(m - mean) < 5 * sd / math.sqrt(n_eff), (k, m, mean)
        assert abs(s - sd) < 5 * sd * math.sqrt((kurtosis - 1) / (4 * n_eff)), (k, s, sd)
    assert ds.sampling["diagnostics"]["acceptance_fraction"] > 0.3


def test_transform_none_is_the_plain_sampler(tmp_path) -> None:
    # without the transform, the Laplace approximation at z's maximum (on its bound, with no curvature) is
    # useless: its draws fall outside the bounds and the walkers cannot even start
    from dnnlik.errors import DnnlikError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DnnlikError, match="starting points"):
            sample(_flat_and_exponential(), tmp_path / "s.h5", n=500, seed=2, transform="none", progress=False)
        result = sample(_with_degenerate(), tmp_path / "t.h5", n=500, seed=2, transform="none", progress=False)
    options = result.sampling["strategy_options"]
    assert options["transform"] == {"mode": "none"} and "held" not in options
    assert all("transformed" not in s and s["n_dimensions"] == 2 for s in options["segments"])


def _with_degenerate() -> CallableLikelihood:
    """a ~ N(1, 0.5); b has a normal constraint of width 1e-7 (too narrow to sample: held at its centre 2)."""

    def logl(p: np.ndarray) -> np.ndarray:
        return -0.5 * ((p[:, 0] - 1.0) / 0.5) ** 2 - 0.5 * ((p[:, 1] - 2.0) / 1e-7) ** 2

    def grad(p: np.ndarray) -> np.ndarray:
        return np.column_stack([-(p[:, 0] - 1.0) / 0.25, -(p[:, 1] - 2.0) / 1e-14])

    params = [
        Parameter("a", "poi", bounds=(-5.0, 5.0)),
        Parameter("b", bounds=(0.0, 4.0), nominal=2.0, constraint=Constraint("normal", 2.0, 1e-7)),
    ]
    return CallableLikelihood(logl, params, grad=grad, name="with_degenerate")


def test_degenerate_parameters_are_held(tmp_path) -> None:
    lik = _with_degenerate()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = sample(lik, tmp_path / "s.h5", strategy="mixed", n=3000, seed=1, poi_grid=3, progress=False)
    ds = read_dataset(result.path)
    held = ds.sampling["strategy_options"]["held"]
    assert held["parameters"] == ["b"] and "too narrow" in held["notes"][0]
    assert np.all(ds.points[:, 1] == 2.0)
    assert all(s["n_dimensions"] == 1 for s in ds.sampling["strategy_options"]["segments"][:2])
    m, s = _weighted(ds.points[ds.segment < 2, 0], ds.weight[ds.segment < 2])  # the unbiased segments
    n_eff = sum(seg["effective_samples"] for seg in ds.sampling["strategy_options"]["segments"][:2])
    assert abs(m - 1.0) < 5 * 0.5 / math.sqrt(n_eff)


def test_sampler_density_gradient_and_hessian_follow_the_chain_rule() -> None:
    lik = _flat_and_exponential()
    t = BoundTransform(("logit", "log", "identity"), np.array([0.0, 0.0, -INF]), np.array([10.0, INF, INF]))
    seg = Segment(0, "unbiased", 0, np.arange(3), np.zeros(3), transform=t)
    density = SamplerDensity(lik, seg)
    y = np.array([[0.3, -0.7, 0.4], [-1.2, 0.2, -0.5]])
    value, grad = density.logpdf_and_grad(y)
    np.testing.assert_allclose(value, lik.logpdf(t.to_bounded(y)) + t.log_jacobian(y))
    h = 1e-6
    fd = np.column_stack([(density.logpdf(y + h * e) - density.logpdf(y - h * e)) / (2 * h) for e in np.eye(3)])
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)

    class Guided(CallableLikelihood):  # a source with its own Hessian (as a PreconditionedSource has)
        def hessian(self, x: np.ndarray, indices: np.ndarray) -> np.ndarray:
            return np.diag([-2e-3, 0.0, -1.0])[np.ix_(indices, indices)]

    guided = GuidedSamplerDensity(Guided(lik._func, lik.parameters, grad=lik._grad), seg)
    fd_h = np.column_stack(
        [(density.grad_logpdf(y[0] + h * e) - density.grad_logpdf(y[0] - h * e)) / (2 * h) for e in np.eye(3)]
    )
    np.testing.assert_allclose(guided.hessian(y[0]), fd_h, rtol=1e-5, atol=1e-6)


def test_ridge_points_stay_inside_the_bounds() -> None:
    lik = _flat_and_exponential()
    points, values, meta = ridge_samples(lik, 2000, (-2.0, 2.0), n_grid=5, seed=3)
    assert meta["transformed"] == {"logit": ["x", "z"]}
    assert meta["n_outside_bounds"] == 0 and meta["fraction_dropped"] == 0.0 and len(points) == 2000
    np.testing.assert_allclose(values, lik.logpdf(points))
    # without the transform, the Laplace widths of x (flat) and z (on its bound) put points outside
    _, _, plain = ridge_samples(lik, 2000, (-2.0, 2.0), n_grid=5, seed=3, transform="none")
    assert plain["n_outside_bounds"] > 200 and plain["fraction_dropped"] == plain["n_outside_bounds"] / 2000
