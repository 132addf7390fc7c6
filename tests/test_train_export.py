"""Export: a validated bundle with parity checks, training and sampling sections; atomic writes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from train_helpers import logpdf, points, write_samples

import dnnlik
from dnnlik.errors import DnnlikError, InvalidBundleError
from dnnlik.report import Report
from dnnlik.train import TrainConfig, export_bundle, load_samples, predict, train_bundle, train_ensemble

pytestmark = pytest.mark.slow  # TensorFlow training

CONFIG = TrainConfig(layers=(16, 16), epochs=5, batch_size=64, ensemble=2, baseline="fit", seed=7)


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    x = points(2000, seed=5)
    return write_samples(
        tmp_path_factory.mktemp("samples") / "samples.h5",
        x,
        logpdf(x),
        maximum={"point": [0.0, 0.0, 0.0, 0.0], "logpdf": -3.0},
    )


@pytest.fixture(scope="module")
def trained(samples: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("bundles") / "bent-gaussian"
    result, exported = train_bundle(samples, out, CONFIG)
    return result, exported, out


def test_bundle_validates_and_evaluates_like_the_network(trained, samples: Path) -> None:  # type: ignore
    result, exported, out = trained
    report = dnnlik.validate(out)
    assert report.ok, report.summary()
    bundle = dnnlik.load(out)
    data = load_samples(samples)
    x = data.x_test[:50]
    expected = predict(result, x, with_gradient=True)
    np.testing.assert_allclose(bundle.logpdf(x), expected["logpdf"], atol=1e-4)
    np.testing.assert_allclose(bundle.grad_logpdf(x), expected["grad_logpdf"], atol=1e-4)


def test_parity_is_measured_and_recorded(trained) -> None:  # type: ignore[no-untyped-def]
    _, exported, out = trained
    doc = json.loads((out / "bundle.json").read_text())
    parity = doc["training"]["parity"]
    assert parity == exported.parity
    assert parity["n_points"] == 200  # the whole test split (fewer than 10^4 points)
    assert parity["onnx_vs_tensorflow_max_abs"] < 1e-4 and parity["onnx_vs_tensorflow_passed"]
    assert parity["onnx_vs_reference_max_abs"] < 1e-4
    assert parity["grad_vs_finite_differences_max_rel"] < 1e-2
    assert parity["heldout_mean_spread"] > 0


def test_document_records_training_sampling_transform_and_ensemble(trained, samples: Path) -> None:  # type: ignore
    result, _, out = trained
    doc = json.loads((out / "bundle.json").read_text())
    tr = doc["training"]
    assert tr["framework"] == "tensorflow" and tr["framework_version"]
    assert tr["target"] == "residual-over-quadratic"
    assert tr["architecture"]["layers"] == [16, 16] and tr["architecture"]["activation"] == "selu"
    assert tr["optimizer"]["name"] == "adam" and tr["optimizer"]["reduce_lr_on_plateau"]["factor"] == 0.2
    assert tr["epochs"] == 5 and tr["seed"] == 7 and tr["batch_size"] == 64
    assert [m["seed"] for m in tr["history"]["members"]] == [7, 8]
    curves = tr["history"]["members"][0]["curves"]  # per epoch, for the training-curve plot
    assert len(curves["loss"]) == len(curves["val_loss"]) == len(curves["learning_rate"]) == 5
    assert tr["samples_file"]["name"] == "samples.h5" and len(tr["samples_file"]["sha256"]) == 64
    assert doc["sampling"]["tool"] == "numpy" and doc["sampling"]["split"]["seed"] == 3
    model = doc["model"]
    assert model["ensemble"]["size"] == 2 and model["ensemble"]["members"][1]["seed"] == 8
    assert [o["role"] for o in model["outputs"]] == ["logpdf", "grad_logpdf", "logpdf_spread"]
    t = model["transform"]
    prep = result.preprocessing
    np.testing.assert_allclose(t["input_shift"], prep.input_shift)
    assert t["output_scale"] == prep.output_scale and t["baseline"]["type"] == "quadratic"
    np.testing.assert_allclose(t["baseline"]["hessian"], prep.baseline.hessian)
    assert doc["output"]["best_fit"] == {"point": [0.0] * 4, "logpdf": -3.0, "source": "reference"}
    for p in doc["parameters"]:
        lo, hi = p["training_range"]
        assert -10 < lo < 0 < hi < 10
    assert len(doc["test_vectors"]["cases"]) == 2


def test_existing_output_is_refused_then_replaced_with_overwrite(trained, samples: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result, _, _ = trained
    data = load_samples(samples)
    out = tmp_path / "b"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(DnnlikError, match="already exists"):
        export_bundle(result, data, out)
    assert (out / "keep.txt").exists()
    export_bundle(result, data, out, overwrite=True)
    assert not (out / "keep.txt").exists() and dnnlik.validate(out).ok


@pytest.mark.parametrize("failure", ["invalid", "ctrl-c"])
def test_a_failed_export_leaves_nothing(
    trained, samples: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:  # type: ignore[no-untyped-def]
    result, _, _ = trained
    data = load_samples(samples)

    def fake_validate(path):  # type: ignore[no-untyped-def]
        assert (Path(path) / "bundle.json").exists()  # the complete folder, still under its temporary name
        if failure == "ctrl-c":
            raise KeyboardInterrupt
        report = Report(target=str(path))
        report.add("test:broken", "broken on purpose")
        return report

    import dnnlik.evaluate

    monkeypatch.setattr(dnnlik.evaluate, "validate_local", fake_validate)
    out = tmp_path / "b"
    with pytest.raises(InvalidBundleError if failure == "invalid" else KeyboardInterrupt):
        export_bundle(result, data, out)
    assert list(tmp_path.iterdir()) == []  # no bundle and no temporary folder left


def test_single_network_logpdf_target_float32(samples: Path, tmp_path: Path) -> None:
    cfg = TrainConfig(layers=(8,), epochs=2, batch_size=64, target="logpdf", export_dtype="float32")
    data = load_samples(samples)
    result = train_ensemble(data, cfg)
    exported = export_bundle(result, data, tmp_path / "b", name="my-bundle")
    doc = exported.document
    assert doc["name"] == "my-bundle" and "ensemble" not in doc["model"]
    assert [o["role"] for o in doc["model"]["outputs"]] == ["logpdf", "grad_logpdf"]
    assert doc["model"]["inputs"][0]["dtype"] == "float32"
    assert doc["model"]["transform"]["baseline"] == {"type": "none"}
    assert doc["training"]["target"] == "logpdf"
    assert exported.parity["onnx_vs_tensorflow_max_abs"] < 1e-4
    assert dnnlik.validate(tmp_path / "b").ok


def test_swish_network_exports_with_parity(samples: Path, tmp_path: Path) -> None:
    """The smooth activation: ONNX forward and explicit backward pass agree with TensorFlow."""
    from dataclasses import replace

    result, exported = train_bundle(samples, tmp_path / "swish", replace(CONFIG, activation="swish", ensemble=1))
    parity = exported.parity
    assert parity["onnx_vs_tensorflow_max_abs"] < 1e-4 and parity["onnx_grad_vs_reference_max_rel"] < 1e-3
    assert parity["grad_vs_finite_differences_max_rel"] < 1e-2
    doc = json.loads((tmp_path / "swish" / "bundle.json").read_text())
    assert doc["training"]["architecture"]["activation"] == "swish"
