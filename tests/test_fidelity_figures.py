"""Figures of a validated bundle (the plot extra), the sampled HPDI, and ``dnnlik plot``."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

import dnnlik
from dnnlik import fidelity
from dnnlik.bundle.write import update_bundle
from dnnlik.cli.main import cli
from dnnlik.errors import InvalidInputError
from dnnlik.examples import gaussian_reference, gaussian_spec
from dnnlik.fidelity.figures import bundle_figures
from dnnlik.fidelity.plots import pick_marginals
from dnnlik.fidelity.reproduce import DATA_FILE, reproducible_evidence
from dnnlik.likelihoods import CallableLikelihood

MEAN, COV, PARAMS = gaussian_spec(4)
PNG = b"\x89PNG\r\n\x1a\n"


def _reference() -> CallableLikelihood:
    return CallableLikelihood(
        lambda x: gaussian_reference(x, MEAN, COV)[0],
        PARAMS,
        grad=lambda x: gaussian_reference(x, MEAN, COV)[1],
        name="gaussian",
    )


def _data(seed: int, n: int = 4000) -> fidelity.FidelityData:
    rng = np.random.default_rng(seed)
    ref = _reference()
    test, train = rng.multivariate_normal(MEAN, COV, n), rng.multivariate_normal(MEAN, COV, n)
    return fidelity.FidelityData(test, ref.logpdf(test), train, ref.logpdf(train))


def test_sampled_hpdi_is_within_the_sampling_noise(gaussian_bundle):
    data = _data(21)
    own = np.random.default_rng(22).multivariate_normal(MEAN, COV, 4000)  # "sampled on the surrogate"
    report = fidelity.assess(
        dnnlik.load(gaussian_bundle),
        data,
        _reference(),
        grid=[0.0, 1.0],
        surrogate_samples=own,
        quadratic=False,
        intervals=False,
    )
    sampled, noise = report.metric("hpdi_sampled_max_abs_delta"), report.metric("hpdi_sampling_noise")
    assert sampled.threshold is None and noise.threshold is None  # informative: they hold sampling noise
    # the 99.73% endpoint of n = 4000 normal draws has a standard error ~ 0.1 sigma (sigma_mu ~ 1 here)
    sigma = np.sqrt(COV[0, 0])
    assert 0 < sampled.value < 0.5 * sigma and 0 < noise.value < 0.5 * sigma
    detail = report.metric("hpdi_max_abs_delta").detail
    assert set(detail["0.9545"]) >= {"exact", "reweighted", "sampled", "independent_exact"}
    # a posterior shifted by one sigma is far outside that noise
    shifted = own + np.array([sigma, 0, 0, 0])
    bad = fidelity.assess(
        dnnlik.load(gaussian_bundle),
        data,
        _reference(),
        grid=[0.0, 1.0],
        surrogate_samples=shifted,
        quadratic=False,
        intervals=False,
    )
    assert bad.metric("hpdi_sampled_max_abs_delta").value > 0.8 * sigma


def test_sampled_hpdi_uses_the_multiplicities_of_a_thinned_chain(gaussian_bundle):
    """A dnnlik dataset stores each point once with its multiplicity: weights == repeated rows."""
    data, surrogate = _data(23), dnnlik.load(gaussian_bundle)
    own = np.random.default_rng(24).multivariate_normal(MEAN, COV, 3000)
    counts = np.where(own[:, 0] > MEAN[0], 3, 1)  # an MCMC that stayed 3 steps on each upper point

    def sampled(points, weights=None):
        report = fidelity.assess(
            surrogate,
            data,
            _reference(),
            grid=[0.0, 1.0],
            surrogate_samples=points,
            surrogate_weights=weights,
            quadratic=False,
            intervals=False,
        )
        return report.metric("hpdi_max_abs_delta").detail["0.6827"]["sampled"]

    assert sampled(own, counts) == pytest.approx(sampled(np.repeat(own, counts, axis=0)), abs=1e-12)
    assert sampled(own, counts)[0] > sampled(own)[0] + 0.1 * np.sqrt(COV[0, 0])  # ignoring them is biased
    with pytest.raises(dnnlik.errors.InvalidInputError, match="one weight per row"):
        sampled(own, counts[:-1])


def test_pick_marginals_puts_the_poi_first_then_the_worst():
    names = ["mu", "a", "b", "c"]
    assert pick_marginals(names, [0.9, 0.5, 0.01, 0.2], "mu", n=3) == [0, 2, 3]
    assert pick_marginals(names, [0.9, 0.5, 0.01, 0.2], None, n=2) == [2, 3]


@pytest.fixture
def validated_bundle(bundle_copy):
    """The Gaussian bundle with a validation section, stored evidence and per-epoch training curves."""
    bundle = dnnlik.load(bundle_copy)
    data = _data(23, 1500)
    report = fidelity.assess(bundle, data, _reference(), grid=[0.0, 0.5, 1.0], intervals=False)
    section = report.to_validation_section({"name": "gaussian"})
    section["reproducible"], blob = reproducible_evidence(bundle, data, "mu", [0.0, 0.5], 0.0, n=500)
    curves = {"loss": [1.0, 0.5, 0.2], "val_loss": [1.1, 0.6, 0.3], "learning_rate": [1e-3, 1e-3, 2e-4]}
    training = {
        **bundle.document.get("training", {}),
        "history": {"members": [{"best_val_loss": 0.3, "best_val_mse_logpdf": 0.3, "curves": curves}]},
    }
    update_bundle(bundle_copy, {"validation": section, "training": training}, {DATA_FILE: blob})
    return bundle_copy


@pytest.mark.slow
def test_bundle_figures_draw_everything_stored(validated_bundle, tmp_path):
    pytest.importorskip("matplotlib")
    out = bundle_figures(dnnlik.load(validated_bundle), tmp_path)
    assert set(out) == set(fidelity.FIGURES)
    for name, path in out.items():
        assert path is not None, name
        assert path.read_bytes().startswith(PNG) and path.stat().st_size > 5000


def test_bundle_without_validation_draws_nothing(gaussian_bundle, tmp_path):
    out = bundle_figures(dnnlik.load(gaussian_bundle), tmp_path)
    assert out == dict.fromkeys(fidelity.FIGURES) and not list(tmp_path.iterdir())
    with pytest.raises(InvalidInputError, match="is not a folder"):
        bundle_figures(dnnlik.load(gaussian_bundle), tmp_path / "missing")


@pytest.mark.slow
def test_cli_plot(validated_bundle, tmp_path):
    result = CliRunner().invoke(cli, ["plot", str(validated_bundle), "--out", str(tmp_path / "figs")])
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert result.exit_code == 1 and "pip install 'dnnlik[plot]'" in result.output
        return
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == [
        "hpdi.png",
        "marginals.png",
        "tmu.png",
        "training.png",
    ]
    assert "training: " + str(tmp_path / "figs" / "training.png") in result.output
