"""Fidelity metrics: K-S and HPDI against known answers, and assess() on exact and broken surrogates."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import dnnlik
from dnnlik import fidelity
from dnnlik.errors import InvalidInputError
from dnnlik.examples import gaussian_reference, gaussian_spec
from dnnlik.likelihoods import CallableLikelihood
from dnnlik.schema import iter_schema_problems

MEAN, COV, PARAMS = gaussian_spec(4)


def test_ks_matches_scipy_without_weights():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=1500), rng.normal(0.05, 1.0, size=2500)
    ours = fidelity.weighted_ks_2samp(a, b)
    ref = stats.ks_2samp(a, b, method="asymp")
    assert ours.statistic == pytest.approx(ref.statistic, abs=1e-12)
    # same asymptotic distribution; ours adds Stephens' small-sample correction (a ~1% effect here)
    assert ours.pvalue == pytest.approx(ref.pvalue, rel=0.05)


def test_ks_integer_weights_equal_repeated_values():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=300), rng.normal(size=200)
    w = rng.integers(1, 4, size=200)
    weighted = fidelity.weighted_ks_2samp(a, b, None, w)
    repeated = stats.ks_2samp(a, np.repeat(b, w))
    assert weighted.statistic == pytest.approx(repeated.statistic, abs=1e-12)
    assert weighted.n_eff_b == pytest.approx(w.sum() ** 2 / (w**2).sum())


def test_ks_pvalues_are_uniform_under_the_null():
    rng = np.random.default_rng(3)
    p = np.array([fidelity.weighted_ks_2samp(rng.normal(size=400), rng.normal(size=400)).pvalue for _ in range(400)])
    # binomial(400, 0.05): sd 4.4 counts; allow 4 sd
    assert abs(np.sum(p < 0.05) - 20) <= 4 * np.sqrt(400 * 0.05 * 0.95)
    # median of 400 uniforms: sd 0.025
    assert abs(np.median(p) - 0.5) <= 4 * 0.025


def test_ks_detects_a_shift_with_weights():
    rng = np.random.default_rng(4)
    a = rng.normal(size=5000)
    u = rng.uniform(-6, 6, size=50000)
    good = fidelity.weighted_ks_2samp(a, u, None, np.exp(-0.5 * u**2))
    bad = fidelity.weighted_ks_2samp(a, u, None, np.exp(-0.5 * (u - 0.2) ** 2))
    assert good.pvalue > 0.01 and bad.pvalue < 1e-6


def test_hpdi_of_a_normal_sample():
    x = np.random.default_rng(5).normal(size=200_000)
    for level, z in ((0.6827, 1.0), (0.9545, 2.0)):
        lo, hi = fidelity.hpdi(x, level)
        # quantile standard error sqrt(p(1-p)/n)/pdf(z) (~0.004 at z=2): allow 5 of them
        se = np.sqrt(level * (1 - level) / x.size) / stats.norm.pdf(z)
        assert lo == pytest.approx(-z, abs=5 * se) and hi == pytest.approx(z, abs=5 * se)


def test_hpdi_weighted_equals_repeated_and_is_shortest():
    rng = np.random.default_rng(6)
    x = rng.gamma(2.0, size=3000)  # skewed: the HPDI is not the central interval
    w = rng.integers(1, 5, size=3000)
    assert fidelity.hpdi(x, 0.9, w) == fidelity.hpdi(np.repeat(x, w), 0.9)
    lo, hi = fidelity.hpdi(x, 0.9)
    central = np.quantile(x, [0.05, 0.95])
    assert hi - lo < central[1] - central[0]
    assert np.mean((x >= lo) & (x <= hi)) >= 0.9


@pytest.mark.parametrize("bad", [[1.0], [1.0, np.nan]])
def test_hpdi_bad_input(bad):
    with pytest.raises(InvalidInputError):
        fidelity.hpdi(np.array(bad), 0.68)


@pytest.fixture(scope="module")
def reference():
    return CallableLikelihood(
        lambda x: gaussian_reference(x, MEAN, COV)[0],
        PARAMS,
        grad=lambda x: gaussian_reference(x, MEAN, COV)[1],
        name="gaussian",
    )


@pytest.fixture(scope="module")
def data(reference):
    rng = np.random.default_rng(7)
    test, train = rng.multivariate_normal(MEAN, COV, 5000), rng.multivariate_normal(MEAN, COV, 5000)
    return fidelity.FidelityData(test, reference.logpdf(test), train, reference.logpdf(train))


def test_exact_surrogate_passes(gaussian_bundle, reference, data):
    # the median of only 4 uniform p-values has a standard deviation of ~0.2: no threshold on it here
    thresholds = {k: v for k, v in fidelity.DEFAULT_THRESHOLDS.items() if k != "ks_median_pvalue"}
    report = fidelity.assess(dnnlik.load(gaussian_bundle), data, reference, grid=[0.0, 0.5, 1.0], thresholds=thresholds)
    assert report.verdict == "pass", report.to_text()
    assert report.metric("tmu_mean_abs_delta").value < 1e-6
    assert report.metric("hpdi_max_abs_delta").value < 1e-9
    section = report.to_validation_section({"name": "gaussian"})
    doc = dnnlik.load(gaussian_bundle).document
    problems = list(iter_schema_problems({**doc, "validation": section}))
    assert not problems, problems
    assert {m["name"] for m in section["metrics"]} >= {"ks_median_pvalue", "quadratic/tmu_mean_abs_delta"}


def test_wrong_surrogate_fails_and_is_named(reference, data):
    shifted = fidelity.QuadraticApproximation(
        PARAMS, MEAN + np.array([0.1, 0, 0, 0]), np.linalg.inv(COV), float(reference.logpdf(MEAN))
    )
    report = fidelity.assess(shifted, data, reference, grid=[0.0, 0.5, 1.0], intervals=False)
    assert report.verdict == "fail"
    failed = {m.name for m in report.metrics if m.passed is False}
    assert {"tmu_mean_abs_delta", "best_fit_poi_abs_delta", "hpdi_max_abs_delta"} <= failed
    assert report.beats_quadratic() is False
    assert "does NOT beat the quadratic" in report.to_text()


def test_ks_noise_floor_is_the_exact_likelihoods_score(gaussian_bundle, reference, data):
    direct = [fidelity.weighted_ks_2samp(data.test_x[:, i], data.train_x[:, i]).pvalue for i in range(4)]
    exact_report = fidelity.assess(
        dnnlik.load(gaussian_bundle), data, reference, grid=[0.0, 1.0], quadratic=False, intervals=False
    )
    floor = exact_report.metric("ks_median_pvalue_exact")
    assert floor.value == pytest.approx(np.median(direct), abs=1e-12)
    assert floor.threshold is None and floor.passed is None  # reported, never part of the verdict
    # a surrogate equal to the reference scores the floor itself; a shifted one scores below it
    assert exact_report.metric("ks_median_pvalue").value == pytest.approx(floor.value, abs=1e-4)
    shifted = fidelity.QuadraticApproximation(
        PARAMS, MEAN + np.array([0.1, 0, 0, 0]), np.linalg.inv(COV), float(reference.logpdf(MEAN))
    )
    report = fidelity.assess(shifted, data, reference, grid=[0.0, 1.0], quadratic=False, intervals=False)
    assert report.metric("ks_median_pvalue_exact").value == floor.value  # a property of the samples alone
    assert report.metric("ks_median_pvalue").value < floor.value
    names = [m.name for m in report.metrics]
    assert names.index("ks_median_pvalue_exact") == names.index("ks_fraction_below_0.05") + 1
    assert "ks_median_pvalue_exact" in report.to_text()


@pytest.mark.parametrize("limit, noted", [(1.0, True), (0.0, False)])
def test_a_ks_threshold_the_exact_likelihood_misses_is_noted(reference, data, limit, noted):
    report = fidelity.assess(
        reference,
        data,
        reference,
        grid=[0.0, 1.0],
        quadratic=False,
        intervals=False,
        thresholds={"ks_median_pvalue": limit},
    )
    said = [n for n in report.notes if "the exact likelihood itself scores ks_median_pvalue" in n]
    assert bool(said) is noted
    assert not any("ks_fraction_below_0.05 =" in n for n in report.notes)  # no threshold given for it
    ks, floor = report.metric("ks_median_pvalue"), report.metric("ks_median_pvalue_exact")
    # a threshold beyond the samples' noise is replaced by the exact likelihood's own score: the
    # exact likelihood as its own surrogate then passes; an attainable threshold is kept as given
    assert ks.threshold == (floor.value if noted else limit)
    assert ks.passed is True


def test_a_surrogate_worse_than_the_noise_floor_still_fails(reference, data):
    shifted = fidelity.QuadraticApproximation(
        PARAMS, MEAN + np.array([0.3, 0, 0, 0]), np.linalg.inv(COV), float(reference.logpdf(MEAN))
    )
    report = fidelity.assess(
        shifted,
        data,
        reference,
        grid=[0.0, 1.0],
        quadratic=False,
        intervals=False,
        thresholds={"ks_median_pvalue": 1.0},
    )
    ks, floor = report.metric("ks_median_pvalue"), report.metric("ks_median_pvalue_exact")
    assert ks.threshold == floor.value and ks.value < floor.value and ks.passed is False
    assert report.verdict == "fail"


def test_parameter_mismatch_is_refused(reference, data):
    renamed = CallableLikelihood(lambda x: gaussian_reference(x, MEAN, COV)[0], ["mu", "a", "b", "c"])
    with pytest.raises(InvalidInputError, match="position 1 is 'a'"):
        fidelity.assess(renamed, data, reference)
    fewer = CallableLikelihood(lambda x: -0.5 * (x**2).sum(axis=1), ["mu", "theta_1"])
    with pytest.raises(InvalidInputError, match="2 parameters, the reference 4"):
        fidelity.assess(fewer, data, reference)


def test_too_few_points_are_flagged(gaussian_bundle, reference):
    rng = np.random.default_rng(8)
    test, train = rng.multivariate_normal(MEAN, COV, 200), rng.multivariate_normal(MEAN, COV, 200)
    small = fidelity.FidelityData(test, reference.logpdf(test), train, reference.logpdf(train))
    report = fidelity.assess(
        dnnlik.load(gaussian_bundle), small, reference, grid=[0.0, 1.0], quadratic=False, intervals=False
    )
    assert any("too few to be meaningful" in n for n in report.notes)


def test_multiplicities_count_like_repeated_points(gaussian_bundle, reference):
    rng = np.random.default_rng(9)
    test, train = rng.multivariate_normal(MEAN, COV, 3000), rng.multivariate_normal(MEAN, COV, 3000)
    wt = rng.integers(1, 4, size=3000)
    weighted = fidelity.FidelityData(test, reference.logpdf(test), train, reference.logpdf(train), test_weight=wt)
    rep = np.repeat(test, wt, axis=0)
    repeated = fidelity.FidelityData(rep, reference.logpdf(rep), train, reference.logpdf(train))
    kw = dict(grid=[0.0], quadratic=False, intervals=False)
    a = fidelity.assess(dnnlik.load(gaussian_bundle), weighted, reference, **kw)
    b = fidelity.assess(dnnlik.load(gaussian_bundle), repeated, reference, **kw)
    assert a.metric("hpdi_max_abs_delta").detail == b.metric("hpdi_max_abs_delta").detail
    # the same K-S distance; the p-value differs, as it should, since multiplicities are not
    # independent points (Kish's effective size of the weights, not the repeated count)
    da, db = (r.metric("ks_median_pvalue").detail for r in (a, b))
    np.testing.assert_allclose(da["statistics"], db["statistics"], rtol=1e-12)
    assert db["n_eff_test"] == wt.sum() and da["n_eff_test"] < wt.sum()


def test_an_unknown_poi_is_one_clear_error() -> None:
    from dnnlik.errors import InvalidInputError
    from dnnlik.fidelity import FidelityData, assess
    from dnnlik.likelihoods import CallableLikelihood
    from dnnlik.parameters import Parameter

    params = (Parameter("mu", role="poi", bounds=(-5.0, 5.0)),)
    lik = CallableLikelihood(lambda x: -0.5 * x[:, 0] ** 2, params)
    x = np.linspace(-1, 1, 50)[:, None]
    data = FidelityData(x, -0.5 * x[:, 0] ** 2, x, -0.5 * x[:, 0] ** 2)
    with pytest.raises(InvalidInputError, match="poi='nope'"):
        assess(lik, data, lik, poi="nope")
