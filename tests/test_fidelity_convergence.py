"""Fidelity judged only on converged samples, with K-S p-values at the samples' effective sizes.

The K-S statistics here: a chain that repeats each independent draw m times has
an exact MCMC effective size N / m for every function of the draws, and its
empirical CDF is that of its N / m distinct draws. So its K-S p-value at the
effective size must equal, to the last bit, the p-value of the distinct draws
treated as independent, whose p-values are uniform under equal distributions;
at the naive size N the statistic is scaled up by sqrt(m) and almost every
p-value falls below 0.05. Fixed seeds; the bounds on counts are binomial tails
below 1e-3 (stated at each).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from dnnlik.errors import InvalidInputError
from dnnlik.fidelity import FidelityData, SampleConvergence, assess, convergence_problems, read_fidelity_data
from dnnlik.fidelity.data import ks_effective_sizes
from dnnlik.fidelity.ks import effective_size, weighted_ks_2samp
from dnnlik.fidelity.posterior import ks_noise_floor
from dnnlik.likelihoods import CallableLikelihood
from dnnlik.parameters import Parameter


def test_convergence_is_read_from_the_sampling_metadata() -> None:
    sampling = {
        "diagnostics": {"rhat_max": 1.02, "effective_samples": 800.0, "effective_samples_per_parameter": [1, 2]}
    }
    conv = SampleConvergence.from_sampling(sampling)
    assert conv == SampleConvergence(1.02, 800.0, (1.0, 2.0))
    # missing or malformed entries are unknown, never an error
    assert SampleConvergence.from_sampling({}) == SampleConvergence()
    odd = SampleConvergence.from_sampling(
        {"diagnostics": {"rhat_max": "x", "effective_samples_per_parameter": [1, None]}}
    )
    assert odd == SampleConvergence()


def test_convergence_problems_name_the_sample_and_the_figure() -> None:
    x = np.zeros((4, 2))
    ok = SampleConvergence(1.005, 5e4)
    data = FidelityData(x, np.zeros(4), x, np.zeros(4), test_convergence=ok, train_convergence=ok)
    assert convergence_problems(data) == []
    assert convergence_problems(FidelityData(x, np.zeros(4), x, np.zeros(4))) == []  # unknown: nothing to say
    bad = FidelityData(
        x, np.zeros(4), x, np.zeros(4), test_convergence=ok, train_convergence=SampleConvergence(1.06, 640.0)
    )
    assert convergence_problems(bad) == [
        "train sample: R-hat 1.06 > 1.01",
        "train sample: 640 effective samples < 1000",
    ]
    with pytest.raises(InvalidInputError, match="3 effective sizes per parameter for 2 columns"):
        FidelityData(x, np.zeros(4), x, np.zeros(4), test_convergence=SampleConvergence(1.0, 10.0, (1.0, 2.0, 3.0)))


def test_effective_sizes_take_the_smaller_and_carry_the_reweighting_cost() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, 2))
    mult = rng.integers(1, 4, 1000).astype(float)
    per = (200.0, 5000.0)  # parameter 0 autocorrelated below Kish's size, parameter 1 above it
    data = FidelityData(
        x,
        np.zeros(1000),
        x,
        np.zeros(1000),
        mult,
        mult,
        SampleConvergence(1.0, 200.0, per),
        SampleConvergence(1.0, 200.0, per),
    )
    reweighted = mult * rng.uniform(0.2, 1.0, 1000)
    test, train = ks_effective_sizes(data, reweighted)
    kish, kish_rw = effective_size(mult), effective_size(reweighted)
    np.testing.assert_allclose(test, [200.0, kish])
    np.testing.assert_allclose(train, [200.0 * kish_rw / kish, kish_rw])
    # without MCMC sizes, Kish's: the p-values of samples of independent draws do not change
    plain = FidelityData(x, np.zeros(1000), x, np.zeros(1000), mult, mult)
    np.testing.assert_array_equal(ks_effective_sizes(plain, reweighted), (np.full(2, kish), np.full(2, kish_rw)))


def _repeated(rng: np.random.Generator, distinct: int, m: int, columns: int) -> np.ndarray:
    """``distinct`` independent N(0, 1) draws per column, each repeated m times in a row (a sticky chain)."""
    return np.repeat(rng.normal(size=(distinct, columns)), m, axis=0)


def test_ks_pvalues_of_autocorrelated_samples_use_their_effective_size() -> None:
    rng = np.random.default_rng(11)
    distinct, m, columns = 300, 8, 60
    a, b = _repeated(rng, distinct, m, columns), _repeated(rng, distinct, m, columns)
    zeros = np.zeros(len(a))
    conv = SampleConvergence(1.0, float(distinct), (float(distinct),) * columns)
    naive = FidelityData(a, zeros, b, zeros)
    aware = FidelityData(a, zeros, b, zeros, test_convergence=conv, train_convergence=conv)

    p_aware = np.array(ks_noise_floor(aware)[0].detail["pvalues"])
    p_distinct = [weighted_ks_2samp(a[::m, i], b[::m, i]).pvalue for i in range(columns)]
    np.testing.assert_array_equal(p_aware, p_distinct)  # the p-values of the distinct draws, exactly
    # uniform p-values: the count below 0.05 is Binomial(60, 0.05) (mean 3); P(count > 10) = 1.4e-4
    assert np.sum(p_aware < 0.05) <= 10
    # at the naive size the statistic is sqrt(8) = 2.8 times too large: a p-value stays above 0.05 only
    # when D sqrt(150) < 0.48, which happens with probability 0.025; P(more than 20 of 60) < 1e-12
    p_naive = np.array(ks_noise_floor(naive)[0].detail["pvalues"])
    assert np.sum(p_naive < 0.05) >= 40


# ---------------------------------------------------------------------------------------------- assess
def _gauss() -> CallableLikelihood:
    """mu ~ N(1, 0.5), theta ~ N(0.5 mu, 1): a likelihood whose posterior is drawn exactly below."""

    def logl(x: np.ndarray) -> np.ndarray:
        mu, theta = x[:, 0], x[:, 1]
        return -0.5 * (((mu - 1.0) / 0.5) ** 2 + (theta - 0.5 * mu) ** 2)

    def grad(x: np.ndarray) -> np.ndarray:
        mu, theta = x[:, 0], x[:, 1]
        return np.column_stack([-(mu - 1.0) / 0.25 + 0.5 * (theta - 0.5 * mu), -(theta - 0.5 * mu)])

    return CallableLikelihood(
        logl, [Parameter("mu", "poi", (-5.0, 5.0)), Parameter("theta", bounds=(-8.0, 8.0))], grad=grad
    )


def _draws(lik: CallableLikelihood, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    mu = rng.normal(1.0, 0.5, n)
    x = np.column_stack([mu, 0.5 * mu + rng.normal(size=n)])
    return x, lik.logpdf(x)


def test_assess_does_not_judge_ks_and_hpdi_on_unconverged_samples() -> None:
    lik = _gauss()
    (a, la), (b, lb) = _draws(lik, 4000, 1), _draws(lik, 4000, 2)
    converged = SampleConvergence(1.004, 4000.0, (4000.0, 4000.0))
    good = FidelityData(a, la, b, lb, test_convergence=converged, train_convergence=converged)
    kwargs = {"quadratic": False, "intervals": False, "grid": (0.5, 1.0, 1.5)}
    judged = assess(lik, good, lik, **kwargs)
    assert all(judged.metric(n).threshold is not None for n in ("ks_median_pvalue", "hpdi_max_abs_delta"))

    bad = FidelityData(a, la, b, lb, test_convergence=SampleConvergence(1.06, 4000.0), train_convergence=converged)
    report = assess(lik, bad, lik, **kwargs)
    for name, kind in (("ks_median_pvalue", "K-S"), ("ks_fraction_below_0.05", "K-S"), ("hpdi_max_abs_delta", "HPDI")):
        m = report.metric(name)
        assert m.threshold is None and m.passed is None and m.value == judged.metric(name).value
        assert m.notes == [
            f"samples not converged (test sample: R-hat 1.06 > 1.01): {kind} not judged "
            f"(threshold {judged.metric(name).comparison} {judged.metric(name).threshold:g} not applied)"
        ]
    assert any("not converged" in n and "reported, not judged" in n for n in report.notes)
    assert report.metric("tmu_mean_abs_delta").threshold is not None  # the profile metrics are judged as ever
    assert "poi_line_max_abs_delta_logpdf" in {m.name for m in report.metrics}


def test_read_fidelity_data_carries_each_files_convergence(tmp_path) -> None:
    from dnnlik.sample import read_dataset, sample

    lik = _gauss()
    paths = [tmp_path / "a.h5", tmp_path / "b.h5"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k, p in enumerate(paths):
            sample(lik, p, n=1500, seed=k, progress=False)
    data = read_fidelity_data(paths, lik)
    for conv, p in ((data.test_convergence, paths[0]), (data.train_convergence, paths[1])):
        diagnostics = read_dataset(p).sampling["diagnostics"]
        assert conv is not None and conv.rhat_max == diagnostics["rhat_max"]
        assert conv.effective_samples == diagnostics["effective_samples"]
        assert conv.effective_samples_per_parameter == tuple(diagnostics["effective_samples_per_parameter"])
        assert all(0 < v <= 1500 for v in conv.effective_samples_per_parameter) and math.isfinite(conv.rhat_max)
