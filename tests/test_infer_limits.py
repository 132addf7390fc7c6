"""Upper limits (dnnlik.infer.limits, ``dnnlik limit``) against closed forms, exact asymptotic formulae and pyhf.

Three checks of the asymptotic CLs code (Cowan, Cranmer, Gross, Vitells,
arXiv:1007.1727, "CCGV"):

1. a Gaussian measurement, where the CLs and profile limits have closed forms;
2. a single-bin Poisson counting experiment, against an independent float64
   implementation of the same asymptotic formulae on the closed-form
   likelihood ratio, solved to 1e-13 (no fits);
3. pyhf's ``infer.hypotest`` and ``upper_limits.upper_limit`` (asymptotic
   calculator, ``test_stat="qtilde"``) on a small HistFactory model, wrapped
   here as a LogDensity.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.optimize import brentq
from scipy.stats import norm

from dnnlik import infer
from dnnlik.cli.main import cli
from dnnlik.errors import InvalidInputError, OptimizationError
from dnnlik.examples import gaussian_spec
from dnnlik.infer import UpperLimit, asymptotic_cls, cls_scan, profile_level, upper_limit
from dnnlik.likelihoods import CallableLikelihood
from dnnlik.parameters import Parameter

ALPHA = 0.05


# ---------------------------------------------------------------------- 1. Gaussian: closed forms
def gaussian_measurement(x: float, sigma: float, bounds=(-10.0, 20.0)) -> CallableLikelihood:
    """log L(mu) = -0.5 ((x - mu) / sigma)^2: one measurement x of mu with resolution sigma."""
    return CallableLikelihood(
        lambda m: -0.5 * ((x - m[:, 0]) / sigma) ** 2,
        [Parameter("mu", role="poi", bounds=bounds)],
        grad=lambda m: ((x - m[:, 0]) / sigma**2)[:, None],
    )


def gaussian_cls_limit(x: float, sigma: float, alpha: float = ALPHA) -> float:
    """The asymptotic CLs limit of a Gaussian measurement, in closed form.

    Here mu_hat = x and -2 ln lambda(mu) = (mu - x)^2 / sigma^2 exactly, so the
    Wald sigma is sigma. For mu above max(mu_hat, 0), with r = mu / sigma:

    - 0 <= mu_hat <= mu: q~ = (mu - mu_hat)^2 / sigma^2 <= r^2, so (CCGV eq. 65)
      p_{s+b} = 1 - Phi(sqrt q~) = Phi((mu_hat - mu) / sigma) and
      1 - p_b = 1 - Phi(sqrt q~ - r) = 1 - Phi(-mu_hat / sigma) = Phi(mu_hat / sigma);
    - mu_hat < 0: q~ = (mu^2 - 2 mu mu_hat) / sigma^2 > r^2, so
      p_{s+b} = 1 - Phi((q~ + r^2) / 2r) = 1 - Phi((mu - mu_hat) / sigma) = Phi((mu_hat - mu) / sigma) and
      1 - p_b = 1 - Phi((q~ - r^2) / 2r) = 1 - Phi(-mu_hat / sigma) = Phi(mu_hat / sigma): the same.

    So CLs = Phi((mu_hat - mu) / sigma) / Phi(mu_hat / sigma) for every mu_hat, and
    CLs = alpha at mu_up = mu_hat + sigma Phi^-1(1 - alpha Phi(mu_hat / sigma)).
    """
    return x + sigma * norm.ppf(1.0 - alpha * norm.cdf(x / sigma))


@pytest.mark.parametrize("x", [1.3, 0.0, -0.7, -2.5])
@pytest.mark.parametrize("sigma", [0.8, 3.0])
def test_gaussian_cls_limit_has_its_closed_form(x, sigma):
    result = upper_limit(gaussian_measurement(x, sigma))
    assert result.limit == pytest.approx(gaussian_cls_limit(x, sigma), abs=1e-6 * sigma)
    assert result.sigma == pytest.approx(sigma, rel=1e-6)
    assert result.sigma_source == "wald"
    assert result.statistic == "qtilde_mu" and result.level == ALPHA
    assert result.poi_hat == pytest.approx(x, abs=1e-6)


@pytest.mark.parametrize("x", [1.3, -0.7])
def test_gaussian_profile_limit_is_best_fit_plus_sigma_root_q(x):
    # one-sided q_mu: p_mu = 1 - Phi(sqrt(q_mu)) = alpha at q_mu = Phi^-1(0.95)^2 = 2.7055 (CCGV eq. 59)
    sigma = 0.8
    result = upper_limit(gaussian_measurement(x, sigma), method="profile")
    assert result.limit == pytest.approx(x + sigma * math.sqrt(2.705543454095404), abs=1e-6)
    assert result.level == pytest.approx(2.705543454095404, rel=1e-12)
    assert result.sigma is None and result.sigma_source is None and result.statistic == "q_mu"
    assert any("negative" in w for w in result.warnings) == (x < 0)


def test_cls_limit_at_other_confidence_levels():
    for cl in (0.9, 0.99):
        result = upper_limit(gaussian_measurement(0.4, 1.0), cl=cl)
        assert result.limit == pytest.approx(gaussian_cls_limit(0.4, 1.0, 1.0 - cl), abs=1e-6)
        assert upper_limit(gaussian_measurement(0.4, 1.0), cl=cl, method="profile").limit == pytest.approx(
            0.4 + norm.ppf(cl), abs=1e-6
        )


def correlated_gaussian(dim: int) -> tuple[CallableLikelihood, np.ndarray, np.ndarray]:
    """The example bundle's correlated Gaussian (mu, dim - 1 nuisances) as a callable; its mean and covariance."""
    mean, cov, params = gaussian_spec(dim)
    precision = np.linalg.inv(cov)

    def logpdf(x):
        return -0.5 * np.einsum("ni,ij,nj->n", x - mean, precision, x - mean)

    return CallableLikelihood(logpdf, params, grad=lambda x: -(x - mean) @ precision), mean, cov


def test_profiling_nuisance_parameters_keeps_the_closed_form(gaussian_bundle):
    # a 4-D correlated Gaussian (bundle and callable): profiled over 3 nuisances, mu has sigma = sqrt(cov[0, 0])
    import dnnlik

    lik, mean, cov = correlated_gaussian(4)
    expected = gaussian_cls_limit(mean[0], math.sqrt(cov[0, 0]))
    assert upper_limit(lik).limit == pytest.approx(expected, abs=1e-5)
    assert upper_limit(dnnlik.load(gaussian_bundle)).limit == pytest.approx(expected, abs=1e-4)


def test_asymptotic_cls_formulae():
    assert profile_level(0.95) == pytest.approx(norm.ppf(0.95) ** 2, rel=1e-14)
    # r = 0: no sensitivity, nothing excluded
    assert asymptotic_cls(3.0, 0.0)[0] == 1.0
    # continuous where the two branches of eq. 65 meet, q = r^2
    r = 1.7
    below, above = asymptotic_cls(r * r * (1 - 1e-12), r), asymptotic_cls(r * r * (1 + 1e-12), r)
    np.testing.assert_allclose(below, above, rtol=1e-9)
    # the definitions, term by term
    cls, clsb, clb = asymptotic_cls(1.0, 2.0)
    assert clsb == pytest.approx(norm.sf(1.0), rel=1e-12)
    assert clb == pytest.approx(norm.sf(1.0 - 2.0), rel=1e-12)
    assert cls == pytest.approx(clsb / clb, rel=1e-12)
    cls, clsb, clb = asymptotic_cls(9.0, 2.0)
    assert clsb == pytest.approx(norm.sf((9.0 + 4.0) / 4.0), rel=1e-12)
    assert clb == pytest.approx(norm.sf((9.0 - 4.0) / 4.0), rel=1e-12)
    # far tails stay finite and exact (computed as logarithms)
    assert asymptotic_cls(400.0, 30.0)[0] == pytest.approx(norm.sf(20.0) / norm.sf(-10.0), rel=1e-9)
    for bad in ((-1.0, 1.0), (1.0, -1.0), (math.nan, 1.0), (1.0, math.inf)):
        with pytest.raises(InvalidInputError):
            asymptotic_cls(*bad)


# ---------------------------------------------------------------------- 2. single-bin Poisson
B, S = 10.0, 5.0


def poisson_bin(n: float) -> CallableLikelihood:
    """n observed, b known, expected b + mu s (lgamma dropped); mu down to just above -b/s."""
    return CallableLikelihood(
        lambda m: n * np.log(B + S * m[:, 0]) - (B + S * m[:, 0]),
        [Parameter("mu", role="poi", bounds=(-0.99 * B / S, 30.0))],
        grad=lambda m: (n * S / (B + S * m[:, 0]) - S)[:, None],
    )


def reference_poisson_limit(n: float, *, sigma: str, method: str = "cls") -> float:
    """The same asymptotic formulae, written out independently on the closed-form likelihood ratio."""

    def ell(mu, counts=n):
        lam = B + S * mu
        return counts * math.log(lam) - lam

    hat = (n - B) / S

    def t(mu):
        return -2.0 * (ell(mu) - ell(hat))

    if method == "profile":
        return brentq(lambda mu: t(mu) - norm.ppf(0.95) ** 2, hat + 1e-9, 30.0, xtol=1e-13)

    def cls(mu):
        qt = t(mu) if hat >= 0 else -2.0 * (ell(mu) - ell(0.0))  # CCGV eq. 16, mu > max(hat, 0)
        if sigma == "wald":
            r = mu * math.sqrt(t(mu)) / (mu - hat)  # sigma^2 = (mu - hat)^2 / t_mu
        else:
            r = math.sqrt(-2.0 * (ell(mu, B) - ell(0.0, B)))  # Asimov data n_A = b: q~_A = mu^2 / sigma_A^2
        if qt <= r * r:
            return norm.sf(math.sqrt(qt)) / norm.sf(math.sqrt(qt) - r)
        return norm.sf((qt + r * r) / (2 * r)) / norm.sf((qt - r * r) / (2 * r))

    return brentq(lambda mu: cls(mu) - ALPHA, max(hat, 0.0) + 1e-6, 30.0, xtol=1e-13)


@pytest.mark.parametrize("n", [10.0, 17.0, 6.0, 2.0])
def test_poisson_counting_matches_the_asymptotic_formulae(n):
    lik = poisson_bin(n)
    wald = upper_limit(lik)
    assert wald.sigma_source == "wald"
    assert wald.limit == pytest.approx(reference_poisson_limit(n, sigma="wald"), rel=1e-6)
    asimov = upper_limit(lik, asimov=poisson_bin(B))  # the Asimov data of the background-only hypothesis: n = b
    assert asimov.sigma_source == "asimov" and "Asimov" in asimov.approximation
    assert asimov.limit == pytest.approx(reference_poisson_limit(n, sigma="asimov"), rel=1e-6)
    assert upper_limit(lik, method="profile").limit == pytest.approx(
        reference_poisson_limit(n, sigma="wald", method="profile"), rel=1e-6
    )
    # the Wald sigma of the observed profile equals the Asimov one when n = b, and is larger after an excess
    if n == B:
        assert wald.limit == pytest.approx(asimov.limit, rel=1e-6)
    elif n > B:
        assert wald.sigma > asimov.sigma


# ---------------------------------------------------------------------- 3. pyhf
class PyhfLikelihood(CallableLikelihood):
    """A pyhf model with its data as a LogDensity over pyhf's parameters (finite-difference gradient).

    Parameters, bounds and nominal values are pyhf's suggested ones; ``logpdf``
    is ``model.logpdf`` (auxiliary data included, so the constraint terms are
    in). ``asimov_logdensity`` makes it an :class:`~dnnlik.infer.AsimovSource`.
    """

    def __init__(self, model, data) -> None:
        cfg = model.config
        bounds, init = cfg.suggested_bounds(), cfg.suggested_init()
        params = []
        for name in cfg.par_order:
            where = cfg.par_slice(name)
            for k in range(where.start, where.stop):
                label = name if where.stop - where.start == 1 else f"{name}[{k - where.start}]"
                role = "poi" if name == cfg.poi_name else "nuisance"
                params.append(Parameter(label, role=role, bounds=tuple(map(float, bounds[k])), nominal=float(init[k])))
        self.model, self.data = model, np.asarray(data, dtype=np.float64)
        super().__init__(self._logpdf_rows, params, name="pyhf")

    def _logpdf_rows(self, x: np.ndarray) -> np.ndarray:
        return np.array([float(self.model.logpdf(row, self.data)[0]) for row in x])

    def asimov_logdensity(self, point: np.ndarray) -> PyhfLikelihood:
        return PyhfLikelihood(self.model, self.model.expected_data(point))


@pytest.fixture(scope="module")
def pyhf_case():
    pyhf = pytest.importorskip("pyhf")
    pyhf.set_backend("numpy")
    model = pyhf.simplemodels.uncorrelated_background(signal=[5.0, 10.0], bkg=[50.0, 60.0], bkg_uncertainty=[5.0, 12.0])
    return pyhf, model


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:jsonschema.RefResolver is deprecated:DeprecationWarning")
@pytest.mark.parametrize("observed", [[53, 65], [62, 80], [45, 50]])
def test_cls_and_limit_match_pyhf(pyhf_case, observed):
    # data near the background, an excess, a deficit (mu_hat at pyhf's lower bound 0)
    pyhf, model = pyhf_case
    data = np.asarray(observed + model.config.auxdata, dtype=np.float64)
    lik = PyhfLikelihood(model, data)
    mus = [0.5, 1.0, 2.0, 3.0]
    ours = cls_scan(lik, mus)
    assert ours.sigma_source == "asimov"  # found through asimov_logdensity, like pyhf's calculator
    theirs = [pyhf.infer.hypotest(m, data, model, test_stat="qtilde", return_tail_probs=True) for m in mus]
    np.testing.assert_allclose(ours.cls, [float(c[0]) for c in theirs], atol=1e-3)
    np.testing.assert_allclose(ours.clsb, [float(c[1][0]) for c in theirs], atol=1e-3)
    np.testing.assert_allclose(ours.clb, [float(c[1][1]) for c in theirs], atol=1e-3)
    limit = upper_limit(lik)
    # pyhf's root finder from just above 0 (at 0 its CLs is 0/0 when mu_hat = 0)
    pyhf_limit = float(
        pyhf.infer.intervals.upper_limits.toms748_scan(data, model, 0.05, 10.0, rtol=1e-4, test_stat="qtilde")[0]
    )
    assert limit.limit == pytest.approx(pyhf_limit, rel=1e-2)
    # without the Asimov data, the Wald sigma of the observed profile: within 0.2% of pyhf here, except
    # after the deficit, where mu_hat sits at the bound 0 and t_mu is measured from there: then it says so
    wald = upper_limit(lik, sigma="wald", best=limit.best)
    assert wald.sigma_source == "wald"
    if observed == [45, 50]:
        assert wald.limit < 0.9 * pyhf_limit and any("lower bound" in w for w in wald.warnings)
    else:
        assert wald.limit == pytest.approx(pyhf_limit, rel=2e-3) and not wald.warnings


# ---------------------------------------------------------------------- what has no limit, and bad input
def test_best_fit_above_the_search_range_gives_no_number():
    for method in ("cls", "profile"):
        result = upper_limit(gaussian_measurement(5.0, 1.0), method=method, high=3.0)
        assert result.limit is None and not result.found
        assert "at or above the top of the search range" in result.reason
        assert json.loads(json.dumps(result.to_json(), allow_nan=False))["limit"] is None


def test_bound_reached_before_the_limit_gives_no_number():
    lik = gaussian_measurement(1.0, 1.0, bounds=(-5.0, 2.0))
    for method in ("cls", "profile"):
        result = upper_limit(lik, method=method)
        assert result.limit is None
        assert "the parameter's bound" in result.reason and "2" in result.reason
        assert result.search[1] == 2.0


def test_fit_failures_propagate():
    # the log-density grows without bound along a nuisance parameter: no maximum, an error, never a number
    lik = CallableLikelihood(
        lambda x: -0.5 * x[:, 0] ** 2 + x[:, 1], [Parameter("mu", role="poi"), Parameter("nu")], grad=None
    )
    with pytest.raises(OptimizationError):
        upper_limit(lik)


def test_a_flat_unbounded_direction_is_an_error():
    lik = CallableLikelihood(lambda x: -0.5 * np.minimum(x[:, 0], 0.0) ** 2, [Parameter("mu", role="poi")])
    with pytest.raises(OptimizationError, match="not reached"):
        upper_limit(lik, method="profile")


def test_a_better_maximum_found_later_restarts_the_search():
    # `best` given with the nuisance held away from its best value: the first profile fit beats it
    lik, mean, cov = correlated_gaussian(2)
    poor = infer.maximize(lik, fixed={"theta_1": mean[1] + 3.0})
    result = upper_limit(lik, best=poor, method="profile")
    assert result.best.logpdf > poor.logpdf
    assert result.limit == pytest.approx(mean[0] + math.sqrt(cov[0, 0] * profile_level(0.95)), abs=1e-5)


def test_bad_arguments():
    lik = gaussian_measurement(0.5, 1.0)
    for kwargs, where in [
        ({"cl": 0.4}, "cl"),
        ({"cl": 1.0}, "cl"),
        ({"cl": True}, "cl"),
        ({"method": "bayes"}, "method"),
        ({"sigma": "guess"}, "sigma"),
        ({"sigma": "asimov"}, "sigma"),  # no Asimov log-density to be had
        ({"poi": "nope"}, "poi"),
        ({"high": 50.0}, "high"),
        ({"step": 0.0}, "step"),
        ({"asimov": CallableLikelihood(lambda m: -(m[:, 0] ** 2), [Parameter("nu", role="poi")])}, "asimov"),
    ]:
        with pytest.raises(InvalidInputError) as info:
            upper_limit(lik, **kwargs)
        assert info.value.where == where, (kwargs, str(info.value))
    # CLs needs the background-only hypothesis mu = 0 within the bounds; the profile limit does not
    positive = gaussian_measurement(2.0, 1.0, bounds=(0.5, 10.0))
    with pytest.raises(InvalidInputError, match="background-only"):
        upper_limit(positive)
    assert upper_limit(positive, method="profile").limit == pytest.approx(
        2.0 + math.sqrt(profile_level(0.95)), abs=1e-6
    )
    with pytest.raises(InvalidInputError, match="mu > 0"):
        cls_scan(lik, [0.0, 1.0])


def test_results_are_frozen_and_strict_json():
    lik = gaussian_measurement(0.3, 1.0, bounds=(-math.inf, math.inf))
    result = upper_limit(lik)
    assert isinstance(result, UpperLimit)
    with pytest.raises(AttributeError):
        result.limit = 0.0  # type: ignore[misc]
    data = json.loads(json.dumps(result.to_json(), allow_nan=False))
    assert data["search"][0] == pytest.approx(0.3, abs=1e-6) and data["search"][1] is None  # unbounded above
    assert data["limit"] == pytest.approx(result.limit) and data["sigma_source"] == "wald"
    assert "Wald" in data["approximation"] and "Asimov" in data["approximation"]
    scan = cls_scan(lik, [0.3, 1.0])  # at mu = mu_hat the Wald sigma is undefined: null, not NaN
    points = json.loads(json.dumps(scan.to_json(), allow_nan=False))["points"]
    assert points[0]["cls"] is None and points[1]["cls"] == pytest.approx(norm.cdf(0.3 - 1.0) / norm.cdf(0.3), rel=1e-6)


# ---------------------------------------------------------------------- the command
def invoke(*args):
    return CliRunner().invoke(cli, ["limit", *map(str, args)], catch_exceptions=False)


def test_command_text_and_json(gaussian_bundle):
    mean, cov, _ = gaussian_spec(4)
    expected = gaussian_cls_limit(mean[0], math.sqrt(cov[0, 0]))
    text = invoke(gaussian_bundle)
    assert text.exit_code == 0, text.output
    assert (
        "CLs (asymptotic, q~_mu): mu < " in text.output and "profile likelihood (one-sided q_mu): mu < " in text.output
    )
    assert "Wald" in text.output and "best fit: mu = " in text.output
    out = invoke(gaussian_bundle, "--method", "cls", "--format", "json", "--cl", "0.95")
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert [lim["method"] for lim in data["limits"]] == ["cls"]
    assert data["limits"][0]["limit"] == pytest.approx(expected, abs=1e-4)
    assert "NaN" not in out.output and "Infinity" not in out.output


def test_command_errors():
    usage = invoke("no-such-source")
    assert usage.exit_code == 2 and "neither a reference likelihood" in usage.output
    assert invoke("toy-lhc-like", "--cl", "1.5").exit_code == 2
    assert invoke("toy-lhc-like", "--method", "bayes").exit_code == 2
    failed = invoke("toy-lhc-like", "--poi", "nope")
    assert failed.exit_code == 1
    assert failed.output.strip().splitlines() == [failed.output.strip()]  # one line
    assert failed.output.startswith("Error: --poi: unknown parameter 'nope'") and "Traceback" not in failed.output
    missing = invoke("zoo:no-such-entry")
    assert missing.exit_code == 1 and "no-such-entry" in missing.output
