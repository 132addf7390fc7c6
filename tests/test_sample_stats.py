"""dnnlik.sample: moves, diagnostics and the statistics of the samples (fixed seeds).

Tolerances come from the statistics: a mean is checked to k * sigma / sqrt(N_eff)
with N_eff the effective sample size the run reports (k = 5: a false failure
has probability ~ 1e-6 per check, and the seeds are fixed anyway).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.special
import scipy.stats

from dnnlik.likelihoods import CallableLikelihood
from dnnlik.parameters import Constraint, Parameter
from dnnlik.sample import (
    LaplaceIndependenceMove,
    deduplicate,
    integrated_time,
    laplace_at,
    parse_moves,
    read_dataset,
    sample,
    split_indices,
    split_rhat,
)
from dnnlik.sample.diagnostics import ChainTooShortError, ShortChainWarning, choose_burn_in_and_thin

K = 5.0
MEAN = np.array([0.5, 0.2, -0.3, 0.1])
COV = np.array([[0.30, 0.10, 0.05, 0.00], [0.10, 1.00, 0.30, 0.10], [0.05, 0.30, 0.80, 0.20], [0.00, 0.10, 0.20, 0.50]])
PREC = np.linalg.inv(COV)


def gaussian() -> CallableLikelihood:
    params = [Parameter("mu", role="poi", bounds=(-5.0, 5.0), constraint=Constraint("uniform"))]
    params += [
        Parameter(f"theta_{i}", bounds=(-10.0, 10.0), constraint=Constraint("normal", 0.0, 1.0)) for i in range(3)
    ]

    def logpdf(x: np.ndarray) -> np.ndarray:
        d = x - MEAN
        return -0.5 * np.einsum("ij,jk,ik->i", d, PREC, d)

    def grad(x: np.ndarray) -> np.ndarray:
        return -(x - MEAN) @ PREC

    return CallableLikelihood(logpdf, params, grad=grad, name="gauss4")


# ------------------------------------------------------------------------------------------ moves
def test_laplace_at_recovers_the_gaussian_covariance() -> None:
    lap = laplace_at(gaussian(), MEAN)
    np.testing.assert_allclose(lap.precision, PREC, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(lap.covariance, COV, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("df", [None, 7.0])
def test_independence_move_log_q_is_the_proposal_density(df: float | None) -> None:
    move = LaplaceIndependenceMove(MEAN, PREC, df=df)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(6, 4))
    if df is None:
        exact = scipy.stats.multivariate_normal(MEAN, COV).logpdf(x)
    else:
        exact = scipy.stats.multivariate_t(MEAN, COV, df=df).logpdf(x)
    ours = move.log_q(x)
    np.testing.assert_allclose(ours - ours[0], exact - exact[0], rtol=1e-10, atol=1e-10)


def test_independence_move_draws_follow_the_proposal() -> None:
    move = LaplaceIndependenceMove(MEAN, PREC, df=None)
    x = move.draw(40000, np.random.RandomState(1))
    se = np.sqrt(np.diag(COV) / x.shape[0])
    assert np.all(np.abs(x.mean(axis=0) - MEAN) < K * se)
    np.testing.assert_allclose(np.cov(x.T), COV, atol=K * np.sqrt(2.0 / x.shape[0]) * np.diag(COV).max())


def test_windowed_move_draws_the_conditional() -> None:
    lo, hi = 0.4, 0.6
    move = LaplaceIndependenceMove(MEAN, PREC, df=None, uniform=(0, lo, hi))
    x = move.draw(40000, np.random.RandomState(2))
    assert x[:, 0].min() >= lo and x[:, 0].max() <= hi
    slope = COV[1:, 0] / COV[0, 0]
    resid = x[:, 1:] - MEAN[1:] - np.outer(x[:, 0] - MEAN[0], slope)
    cond = COV[1:, 1:] - np.outer(COV[1:, 0], COV[0, 1:]) / COV[0, 0]
    assert np.all(np.abs(resid.mean(axis=0)) < K * np.sqrt(np.diag(cond) / x.shape[0]))
    # log q ratio: equal to the conditional normal's (the uniform part cancels)
    exact = scipy.stats.multivariate_normal(np.zeros(3), cond).logpdf(resid[:5])
    q = move.log_q(x[:5])
    np.testing.assert_allclose(q - q[0], exact - exact[0], atol=1e-9)


def test_parse_moves() -> None:
    assert [s.name for s in parse_moves("auto")] == ["laplace", "de"]
    specs = parse_moves("stretch:3, de")
    assert [(s.name, s.weight) for s in specs] == [("stretch", 3.0), ("de", 1.0)]


# ------------------------------------------------------------------------------------------ diagnostics
def _ar1(n: int, walkers: int, dims: int, phi: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    e = rng.normal(size=(n, walkers, dims))
    x = np.empty_like(e)
    x[0] = e[0] / math.sqrt(1 - phi**2)
    for t in range(1, n):
        x[t] = phi * x[t - 1] + e[t]
    return x


def test_integrated_time_of_an_ar1_process() -> None:
    phi = 0.7
    tau_true = (1 + phi) / (1 - phi)
    tau = integrated_time(_ar1(4000, 16, 2, phi, 0))
    # the estimator's relative error is about sqrt(2 * (2M + 1) / N) with window M ~ 5 tau
    rel = math.sqrt(2 * (10 * tau_true + 1) / (4000 * 16))
    assert np.all(np.abs(tau / tau_true - 1) < K * rel)


@pytest.mark.parametrize("phi, shape", [(0.7, (3000, 16, 3)), (0.95, (800, 32, 2)), (0.3, (150, 200, 5))])
def test_integrated_time_is_emcees_where_both_apply(phi: float, shape: tuple[int, int, int]) -> None:
    """Ours is kept for speed and robustness (see its docstring); on ordinary chains it is emcee's estimator."""
    import emcee

    chain = _ar1(*shape, phi, 4)
    ours = integrated_time(chain)
    theirs = emcee.autocorr.integrated_time(chain, quiet=True)
    assert np.all(theirs > 1)  # where ours is floored at 1 the two differ on purpose
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=0)


def test_split_rhat_detects_disagreeing_chains() -> None:
    x = _ar1(2000, 8, 2, 0.5, 1)
    assert np.all(split_rhat(x) < 1.01)
    x[:, :4, 0] += 1.0
    assert split_rhat(x)[0] > 1.1


def test_burn_in_and_thin_from_tau_and_short_chains() -> None:
    bt = choose_burn_in_and_thin(_ar1(800, 16, 2, 0.7, 2), burn_factor=5, thin_factor=0.5)
    assert bt.trusted and bt.burn_in == math.ceil(5 * bt.tau_max) and bt.thin == max(1, int(0.5 * bt.tau_max))
    short = _ar1(60, 16, 2, 0.9, 3)
    with pytest.warns(ShortChainWarning, match="autocorrelation times"):
        assert not choose_burn_in_and_thin(short).trusted
    with pytest.raises(ChainTooShortError, match="tuning chain"):
        choose_burn_in_and_thin(short, on_short="error")
    with pytest.raises(ChainTooShortError, match="at least 20"):
        choose_burn_in_and_thin(short[:10])


def test_deduplicate_and_split_are_reproducible() -> None:
    pts = np.array([[1.0, 2.0], [0.0, 1.0], [1.0, 2.0], [-0.0, 1.0], [3.0, 3.0]])
    assert deduplicate(pts).tolist() == [0, 1, 4]
    a = split_indices(1000, (0.8, 0.1, 0.1), 7)
    b = split_indices(1000, (0.8, 0.1, 0.1), 7)
    c = split_indices(1000, (0.8, 0.1, 0.1), 8)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["test"], c["test"])
    assert [a[k].size for k in ("train", "validation", "test")] == [800, 100, 100]
    assert np.array_equal(np.sort(np.concatenate(list(a.values()))), np.arange(1000))


# ------------------------------------------------------------------------------------------ sampling
@pytest.fixture(scope="module")
def unbiased(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("unbiased") / "gauss.h5"
    sample(gaussian(), out, strategy="unbiased", n=30000, seed=11, n_chains=2, tune_steps=300)
    return out


def test_unbiased_samples_have_the_right_moments(unbiased: Path) -> None:
    data = read_dataset(unbiased)
    n_eff = data.sampling["diagnostics"]["effective_samples"]
    assert data.points.shape == (30000, 4)
    assert 1000 < n_eff <= 30000
    sigma = np.sqrt(np.diag(COV))
    w = data.weight / data.weight.sum()
    mean = w @ data.points
    assert np.all(np.abs(mean - MEAN) < K * sigma / math.sqrt(n_eff)), (mean, MEAN, n_eff)
    var = w @ (data.points - mean) ** 2
    # Var(s^2) = 2 sigma^4 / N_eff for a normal
    assert np.all(np.abs(var - sigma**2) < K * sigma**2 * math.sqrt(2.0 / n_eff)), (var, sigma**2)
    assert data.sampling["diagnostics"]["rhat_max"] < 1.01


def test_samples_are_unique_exact_and_split(unbiased: Path) -> None:
    data = read_dataset(unbiased)
    assert deduplicate(data.points).size == data.points.shape[0]
    np.testing.assert_allclose(gaussian().logpdf(data.points), data.logpdf, rtol=1e-12, atol=1e-12)
    s = data.sampling["split"]
    assert (s["train"], s["validation"], s["test"]) == (24000, 3000, 3000)
    expected = split_indices(30000, (0.8, 0.1, 0.1), 11)
    assert all(np.array_equal(data.split[k], expected[k]) for k in expected)


def test_metadata_fits_the_bundle_schema(unbiased: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    root = Path(__file__).resolve().parents[1] / "spec" / "schemas" / "1.0.0" / "sections.schema.json"
    schema = json.loads(root.read_text())
    meta = read_dataset(unbiased).sampling
    jsonschema.validate(meta, {**schema, "$ref": "#/$defs/sampling"})
    assert meta["tool"] == "emcee" and meta["strategy"] == "unbiased" and meta["seeds"] == [11]
    assert [m["name"] for m in meta["moves"]] == ["laplace", "de"]
    assert all(0 < m["acceptance_fraction"] <= 1 for m in meta["moves"])
    assert meta["burn_in"] >= 0 and meta["thin"] >= 1 and meta["n_samples"] == 30000
    assert len(meta["strategy_options"]["segments"]) == 2


def test_profile_chains_cover_the_ridge(tmp_path: Path) -> None:
    out = tmp_path / "profile.h5"
    result = sample(
        gaussian(),
        out,
        strategy="mixed",
        profile_fraction=0.5,
        n=12000,
        seed=5,
        poi_grid=4,
        poi_range=(-0.5, 1.5),
        tune_steps=200,
        n_chains=1,
    )
    data = read_dataset(out)
    opts = result.sampling["strategy_options"]
    assert opts["profile"]["poi_range"] == [-0.5, 1.5]
    edges = np.linspace(-0.5, 1.5, 5)
    slope = COV[1:, 0] / COV[0, 0]
    cond_sd = np.sqrt(np.diag(COV[1:, 1:] - np.outer(COV[1:, 0], COV[0, 1:]) / COV[0, 0]))
    profile_segments = [s for s in opts["segments"] if s["kind"] == "profile"]
    assert len(profile_segments) == 4
    for seg in profile_segments:
        pts = data.points[data.segment == seg["index"]]
        assert pts.shape[0] == seg["n_samples"] == 1500
        lo, hi = seg["poi_window"]
        assert any(np.isclose(lo, e) for e in edges) and pts[:, 0].min() >= lo and pts[:, 0].max() <= hi
        # the nuisances follow the profile ridge: E[theta | mu] = m + slope (mu - m_mu)
        resid = pts[:, 1:] - MEAN[1:] - np.outer(pts[:, 0] - MEAN[0], slope)
        n_eff = max(seg["effective_samples"], 50.0)
        assert np.all(np.abs(resid.mean(axis=0)) < K * cond_sd / math.sqrt(n_eff))
    assert np.count_nonzero(data.segment == 0) == 6000


def test_fixed_poi_profile_chains(tmp_path: Path) -> None:
    out = tmp_path / "fixed.h5"
    sample(
        gaussian(),
        out,
        strategy="profile",
        n=3000,
        seed=2,
        poi_grid=3,
        poi_range=(0.0, 1.0),
        window=0.0,
        tune_steps=200,
    )
    data = read_dataset(out)
    assert sorted(np.unique(np.round(data.points[:, 0], 12)).tolist()) == pytest.approx([1 / 6, 0.5, 5 / 6])


def log_gamma_pair() -> CallableLikelihood:
    """x_i = log of a Gamma(a_i) variable: skewed, so the Laplace normal is only an approximation."""
    a = np.array([3.0, 5.0])

    def logpdf(x: np.ndarray) -> np.ndarray:
        return (a * x - np.exp(x)).sum(axis=1)

    return CallableLikelihood(
        logpdf,
        [Parameter("u", bounds=(-20.0, 5.0)), Parameter("v", bounds=(-20.0, 5.0))],
        grad=lambda x: a - np.exp(x),
        name="log_gamma_pair",
    )


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::dnnlik.sample.ShortChainWarning")
@pytest.mark.parametrize("moves", ["laplace", "laplace-rw", "de", "stretch"])
def test_moves_sample_a_skewed_target_exactly(tmp_path: Path, moves: str) -> None:
    """The independence move's log q ratio matters here: without it the mean would be log(a) (the mode)."""
    a = np.array([3.0, 5.0])
    mean = scipy.special.digamma(a)
    sd = np.sqrt(scipy.special.polygamma(1, a))
    result = sample(
        log_gamma_pair(),
        tmp_path / "g.h5",
        strategy="unbiased",
        n=20000,
        seed=3,
        n_walkers=32,
        moves=moves,
        tune_steps=400,
    )
    data = read_dataset(result.path)
    n_eff = result.sampling["diagnostics"]["effective_samples"]
    w = data.weight / data.weight.sum()
    mean_hat = w @ data.points
    assert np.all(np.abs(mean_hat - mean) < K * sd / math.sqrt(n_eff)), (mean_hat, mean)
    assert np.all(np.abs(np.log(a) - mean) > 10 * sd / math.sqrt(n_eff))  # the test can tell the mode apart
    sd_hat = np.sqrt(w @ (data.points - mean_hat) ** 2)
    # excess kurtosis of a log-gamma variable is below 3, so Var(s^2) < (2 + 3) sigma^4 / N_eff
    assert np.all(np.abs(sd_hat / sd - 1) < K * 0.5 * math.sqrt(5.0 / n_eff)), (sd_hat, sd)


# ------------------------------------------------------------------------------------------ preconditioning
def test_preconditioned_source_samples_the_target_with_the_guides_hessian(tmp_path: Path) -> None:
    from dnnlik.sample import PreconditionedSource

    shift = np.array([0.4, -0.3, 0.2, 0.0])
    base = gaussian()
    target = CallableLikelihood(
        lambda x: base.logpdf(x - shift), base.parameters, grad=lambda x: base.grad_logpdf(x - shift), name="shifted"
    )
    source = PreconditionedSource(target, base)
    lap = laplace_at(source, MEAN + shift)
    np.testing.assert_allclose(lap.precision, PREC, rtol=1e-5)  # from the guide
    result = sample(source, tmp_path / "s.h5", n=20_000, seed=3, progress=False)
    data = read_dataset(tmp_path / "s.h5")
    n_eff = result.sampling["diagnostics"]["effective_samples"]
    tol = K * np.sqrt(np.diag(COV) / n_eff)
    assert np.all(np.abs(data.points.mean(axis=0) - (MEAN + shift)) < tol)  # the target's mean
    assert result.sampling["strategy_options"]["source"]["proposals_preconditioned_by"]["name"] == "gauss4"


def test_preconditioned_source_refuses_other_parameters() -> None:
    from dnnlik.errors import InvalidInputError
    from dnnlik.sample import PreconditionedSource

    other = CallableLikelihood(lambda x: -0.5 * (x**2).sum(axis=1), ["a", "b", "c", "d"])
    with pytest.raises(InvalidInputError, match="differ"):
        PreconditionedSource(gaussian(), other)


def test_many_short_profile_segments_give_strict_json_metadata(tmp_path: Path) -> None:
    """Segments too short to estimate tau record None (JSON null), never NaN: bundles digest their metadata."""
    with pytest.warns(ShortChainWarning):
        result = sample(gaussian(), tmp_path / "short.h5", strategy="mixed", n=2000, seed=3, poi_grid=20, tune_steps=60)
    taus = [s["autocorrelation_time_kept"] for s in result.sampling["strategy_options"]["segments"]]
    assert None in taus
    assert all(t is None or (math.isfinite(t) and t >= 1.0) for t in taus)
    json.dumps(result.sampling, allow_nan=False)
    json.dumps(read_dataset(tmp_path / "short.h5").sampling, allow_nan=False)
