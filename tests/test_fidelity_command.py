"""``dnnlik fidelity BUNDLE --reference NAME`` and :mod:`dnnlik.fidelity.bundle_fidelity`, on the analytic example."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from train_helpers import write_samples

import dnnlik
from dnnlik import fidelity
from dnnlik.cli.main import cli
from dnnlik.errors import InvalidInputError
from dnnlik.examples import build_gaussian_bundle, gaussian_reference, gaussian_spec
from dnnlik.fidelity.bundle_fidelity import assess_bundle, read_fidelity_data, write_validation
from dnnlik.fidelity.reproduce import reproduce_report
from dnnlik.likelihoods import CallableLikelihood

MEAN, COV, PARAMS = gaussian_spec(4)
GRID = [0.0, 0.5, 1.0]
NAME = "gaussian-4d-exact"


def _exact(x):  # type: ignore[no-untyped-def]
    return gaussian_reference(x, MEAN, COV)[0]


@pytest.fixture
def reference(monkeypatch):  # type: ignore[no-untyped-def]
    """The example bundle's exact likelihood, registered for the command line under NAME."""
    import dnnlik.likelihoods as likelihoods

    ref = CallableLikelihood(_exact, PARAMS, grad=lambda x: gaussian_reference(x, MEAN, COV)[1], name=NAME)
    monkeypatch.setitem(likelihoods._REGISTRY, NAME, lambda: ref)
    return ref


@pytest.fixture(scope="module")
def posterior(tmp_path_factory):  # type: ignore[no-untyped-def]
    """Two independent exact samples of the Gaussian posterior, as samples files, and their points."""
    folder = tmp_path_factory.mktemp("posterior")
    rng = np.random.default_rng(21)
    points = [rng.multivariate_normal(MEAN, COV, 3000) for _ in range(2)]
    files = [write_samples(folder / f"posterior-{k}.h5", x, _exact(x), name=NAME) for k, x in enumerate(points, 1)]
    return files, points


@pytest.mark.slow  # assess: t_mu scans and interval fits, twice
def test_assess_bundle_is_assess_on_the_same_samples_and_writes_a_valid_section(bundle_copy, reference, posterior):
    files, (a, b) = posterior
    checked = assess_bundle(
        bundle_copy, reference, read_fidelity_data(files, reference), reference_name=NAME, samples=["a", "b"], grid=GRID
    )
    direct = fidelity.assess(
        dnnlik.load(bundle_copy), fidelity.FidelityData(a, _exact(a), b, _exact(b)), reference, grid=GRID
    )
    assert [(m.name, m.value) for m in checked.report.metrics] == [(m.name, m.value) for m in direct.metrics]
    assert checked.report.metric("tmu_mean_abs_delta").value < 1e-6  # the example bundle is exact
    assert checked.reference == {"name": NAME, "samples": ["a", "b"], "n_test": 3000, "n_reweighted": 3000}
    write_validation(bundle_copy, checked)
    assert dnnlik.validate(bundle_copy).ok
    stored = dnnlik.load(bundle_copy).document["validation"]
    assert stored["verdict"] == direct.verdict and stored["reference"]["name"] == NAME
    assert reproduce_report(bundle_copy).ok  # the evidence recomputes from the bundle alone


@pytest.mark.slow  # assess: t_mu scans and interval fits, three times
def test_the_command_prints_the_report_and_writes_it(bundle_copy, reference, posterior):
    files, (a, b) = posterior
    args = ["fidelity", str(bundle_copy), "--reference", NAME, "--values", "0,0.5,1", "--format", "json"]
    result = CliRunner().invoke(cli, [*args, "--samples", str(files[0]), "--samples", str(files[1]), "--write"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    direct = fidelity.assess(
        dnnlik.load(bundle_copy), fidelity.FidelityData(a, _exact(a), b, _exact(b)), reference, grid=GRID
    )
    assert out["verdict"] == direct.verdict and out["written"] is True and out["poi"] == "mu"
    got = {m["name"]: m["value"] for m in out["metrics"]}
    assert got["logpdf_mse"] == direct.metric("logpdf_mse").value
    stored = dnnlik.load(bundle_copy).document["validation"]
    assert stored["reference"]["samples"] == ["posterior-1.h5", "posterior-2.h5"]
    assert [m["name"] for m in stored["metrics"]] == [m["name"] for m in out["metrics"]]
    assert CliRunner().invoke(cli, ["validate", "--reproduce", str(bundle_copy)]).exit_code == 0
    text = CliRunner().invoke(cli, ["fidelity", str(bundle_copy), "--reference", NAME, "--samples", str(files[0]),
                                    "--samples", str(files[1])])  # fmt: skip
    assert text.exit_code == 0 and f"verdict: {direct.verdict.upper()}" in text.output


@pytest.mark.slow  # samples the reference four times
def test_without_samples_it_draws_the_same_ones_every_time(gaussian_bundle, reference):
    args = ["fidelity", str(gaussian_bundle), "--reference", NAME, "--values", "0,1", "--n", "2000", "--seed", "5"]
    first, second = (CliRunner().invoke(cli, [*args, "--format", "json"]) for _ in range(2))
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["metrics"] == json.loads(second.stdout)["metrics"]
    sampled = json.loads(first.stdout)["reference"]["sampled"]
    assert sampled == {"strategy": "unbiased", "n": 2000, "seeds": [6, 7]}
    assert json.loads(first.stdout)["reference"]["n_test"] >= 1000  # de-duplicated, but most points kept


def test_write_refuses_a_zip_before_any_work(gaussian_zip, reference):
    before = gaussian_zip.read_bytes()
    result = CliRunner().invoke(cli, ["fidelity", str(gaussian_zip), "--reference", NAME, "--write"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and "--write updates a bundle folder" in result.output
    assert "Traceback" not in result.output and gaussian_zip.read_bytes() == before


def test_bad_references_and_samples_are_one_clear_message(gaussian_bundle, reference, posterior, tmp_path):
    files, (a, _) = posterior
    run = lambda *extra: CliRunner().invoke(cli, ["fidelity", str(gaussian_bundle), *extra])  # noqa: E731
    unknown = run("--reference", "no-such-likelihood")
    assert unknown.exit_code == 2 and "available:" in unknown.output
    one = run("--reference", NAME, "--samples", str(files[0]))
    assert one.exit_code == 2 and "give two samples files" in one.output
    other = write_samples(tmp_path / "other.h5", a, _exact(a) + 1.0)  # another likelihood's values
    wrong = run("--reference", NAME, "--samples", str(other), "--samples", str(files[1]))
    assert wrong.exit_code == 1 and "not samples of this reference" in wrong.output and str(other) in wrong.output
    renamed = CallableLikelihood(_exact, ["mu", "a", "b", "c"])
    with pytest.raises(InvalidInputError, match="not the reference's") as info:
        read_fidelity_data(files, renamed)
    assert info.value.where == str(files[0])


def test_a_bundle_that_does_not_match_the_reference_is_refused_before_sampling(tmp_path, reference, monkeypatch):
    import dnnlik.fidelity.bundle_fidelity as module

    def must_not_sample(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("sampled before checking the pairing")

    monkeypatch.setattr(module, "sample_fidelity_data", must_not_sample)
    build_gaussian_bundle(tmp_path / "b5", dim=5)
    other = CliRunner().invoke(cli, ["fidelity", str(tmp_path / "b5"), "--reference", NAME])
    assert other.exit_code == 1 and "the surrogate has 5 parameters, the reference 4" in other.output
    build_gaussian_bundle(tmp_path / "b4", dim=4)
    poi = CliRunner().invoke(cli, ["fidelity", str(tmp_path / "b4"), "--reference", NAME, "--poi", "nope"])
    assert poi.exit_code == 1 and "nope" in poi.output and "Traceback" not in poi.output
