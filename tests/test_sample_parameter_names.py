"""Parameter names a bundle cannot hold are refused where the pipeline starts: sampling, then training."""

from __future__ import annotations

import numpy as np
import pytest

from dnnlik.bundle.parameter_names import check_parameter_names, is_parameter_name, suggested_name
from dnnlik.errors import InvalidInputError
from dnnlik.likelihoods import CallableLikelihood
from dnnlik.parameters import Parameter
from dnnlik.schema import validator

BAD_NAMES = ["gamma_stat[0]", "2016_lumi", "alpha JES", "", "x" * 129, "mu\n", "é"]


def _schema_accepts(name: str) -> bool:
    """The bundle schema itself, on a one-parameter list: the independent judge of a name."""
    schema = {"$ref": "https://schemas.dnnlik.org/bundle/1.1.0/parameters.schema.json"}
    doc = [{"name": name, "role": "poi", "bounds": [None, None], "nominal": 0.0, "constraint": {"type": "none"}}]
    return not list(validator().evolve(schema=schema).iter_errors(doc))


@pytest.mark.parametrize("name", [*BAD_NAMES, "mu", "gamma_stat.0", "a:b-c.d_e", "_", "x" * 128])
def test_the_check_agrees_with_the_schema(name):
    assert is_parameter_name(name) == _schema_accepts(name)


@pytest.mark.parametrize("name", BAD_NAMES)
def test_every_suggestion_is_a_name_the_schema_accepts(name):
    assert not _schema_accepts(name)
    assert _schema_accepts(suggested_name(name))


def test_a_valid_name_is_its_own_suggestion():
    for name in ("mu", "gamma_stat.0", "alpha_EG:2eSCALE"):
        assert suggested_name(name) == name


def test_the_message_names_the_parameter_the_rule_and_the_fix():
    with pytest.raises(InvalidInputError) as info:
        check_parameter_names(["mu", "gamma_stat[0]"], "source")
    assert info.value.where == "source: parameter 1 ('gamma_stat[0]')"
    message = str(info.value)
    assert "a letter or '_'" in message and "'gamma_stat.0'" in message and "\n" not in message
    with pytest.raises(InvalidInputError, match="more than once") as twice:
        check_parameter_names(["mu", "theta", "mu"], "source")
    assert twice.value.where == "source: parameter 2 ('mu')"


def _counting_likelihood(names):
    calls = []

    def logpdf(x):
        calls.append(len(x))
        return -0.5 * np.sum(np.asarray(x) ** 2, axis=1)

    params = [Parameter(name=n, role="poi" if i == 0 else "nuisance", bounds=(-5.0, 5.0)) for i, n in enumerate(names)]
    return CallableLikelihood(logpdf, params), calls


def test_sampling_refuses_a_bad_name_before_any_work(tmp_path):
    from dnnlik.sample import sample

    lik, calls = _counting_likelihood(["mu_SIG", "gamma_stat[0]"])
    out = tmp_path / "samples.h5"
    with pytest.raises(InvalidInputError, match=r"gamma_stat\.0") as info:
        sample(lik, out, strategy="unbiased", n=1000, seed=1, progress=False)
    assert "gamma_stat[0]" in info.value.where
    assert calls == []  # the likelihood was never evaluated
    assert list(tmp_path.iterdir()) == []  # nothing written, no checkpoints


def test_sampling_still_runs_with_valid_names(tmp_path):
    from dnnlik.sample import sample

    lik, calls = _counting_likelihood(["mu_SIG", "gamma_stat.0"])
    result = sample(lik, tmp_path / "samples.h5", strategy="unbiased", n=200, seed=1, progress=False)
    assert calls and result.path.exists()


def test_training_refuses_a_bad_name_before_training(tmp_path, monkeypatch):
    pytest.importorskip("h5py")
    import dnnlik.train.pipeline as pipeline
    from dnnlik.train import from_arrays

    def must_not_run(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(pipeline, "prepare", must_not_run)
    monkeypatch.setattr(pipeline, "train_ensemble", must_not_run)
    x = np.random.default_rng(0).normal(size=(400, 2))
    params = [
        Parameter(name="mu", role="poi", bounds=(-10.0, 10.0)),
        Parameter(name="staterror_SR[3]", bounds=(-10.0, 10.0)),
    ]
    data = from_arrays(x, -0.5 * np.sum(x**2, axis=1), params, seed=0)
    with pytest.raises(InvalidInputError, match=r"staterror_SR\.3"):
        pipeline.train_bundle(data, tmp_path / "bundle")
    assert not (tmp_path / "bundle").exists()
