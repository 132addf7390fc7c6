"""The Python API: load, evaluate in every input form, bounds, NaN, gradients."""

from __future__ import annotations

import numpy as np
import pytest

import dnnlik
from dnnlik.bundle.write import write_bundle
from dnnlik.errors import InvalidBundleError, InvalidInputError, NoGradientError, OutOfBoundsError
from dnnlik.examples import gaussian_document, gaussian_model, gaussian_reference, gaussian_spec

MEAN, COV, PARAMS = gaussian_spec(4)


@pytest.fixture(scope="module")
def lik(gaussian_bundle):
    return dnnlik.load(gaussian_bundle)


def random_points(n, seed=0):
    return np.random.default_rng(seed).normal(MEAN, 1.0, size=(n, len(MEAN)))


def test_load_folder_and_zip_agree(lik, gaussian_zip):
    z = dnnlik.load(gaussian_zip)
    x = random_points(50)
    np.testing.assert_array_equal(lik.logpdf(x), z.logpdf(x))
    assert [p.name for p in lik.parameters] == ["mu", "theta_1", "theta_2", "theta_3"]


def test_logpdf_matches_reference_for_many_chunks(gaussian_bundle):
    small_chunks = dnnlik.load(gaussian_bundle, chunk_size=7)
    x = random_points(1000, seed=1)
    ref, ref_grad = gaussian_reference(x, MEAN, COV)
    values = small_chunks.logpdf(x)
    assert values.dtype == np.float64 and values.shape == (1000,)
    np.testing.assert_allclose(values, ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(small_chunks.grad_logpdf(x), ref_grad, rtol=1e-10, atol=1e-12)


def test_input_forms_agree(lik):
    x = random_points(3, seed=2)
    batch = lik.logpdf(x)
    assert np.isscalar(lik.logpdf(x[0])) or np.ndim(lik.logpdf(x[0])) == 0
    assert lik.logpdf(x[0]) == pytest.approx(batch[0], rel=1e-14)
    assert lik.logpdf(list(map(float, x[1]))) == pytest.approx(batch[1], rel=1e-14)
    mapping = {p.name: x[:, i] for i, p in enumerate(lik.parameters)}
    np.testing.assert_allclose(lik.logpdf(mapping), batch, rtol=1e-14)


def test_mapping_defaults_to_nominal_and_broadcasts(lik):
    mus = np.array([0.0, 0.5, 1.0])
    out = lik.logpdf({"mu": mus})
    expected = lik.logpdf(np.column_stack([mus, np.tile(lik.nominal[1:], (3, 1))]))
    np.testing.assert_allclose(out, expected, rtol=1e-14)
    assert lik.logpdf({"theta_1": 0.3}) == pytest.approx(lik.logpdf(lik.nominal + [0, 0.3, 0, 0]))


def test_outside_bounds_gives_minus_inf_or_raises(lik):
    x = random_points(4, seed=3)
    x[1, 0] = 11.0  # bounds are [-10, 10]
    values = lik.logpdf(x)
    assert values[1] == -np.inf and np.isfinite(np.delete(values, 1)).all()
    grads = lik.grad_logpdf(x)
    assert np.isnan(grads[1]).all() and np.isfinite(np.delete(grads, 1, axis=0)).all()
    with pytest.raises(OutOfBoundsError, match="mu"):
        lik.logpdf(x, strict=True)


@pytest.mark.parametrize(
    "bad, words",
    [
        (np.array([[0.0, np.nan, 0.0, 0.0]]), "NaN"),
        (np.zeros((2, 3)), "4"),
        (np.zeros((2, 2, 4)), "shape"),
        ({"nope": 1.0}, "nope"),
        ({"mu": [1.0, 2.0], "theta_1": [1.0, 2.0, 3.0]}, "broadcast"),
        ("abc", "number"),
    ],
)
def test_bad_input_is_one_clear_error(lik, bad, words):
    with pytest.raises(InvalidInputError, match=words):
        lik.logpdf(bad)


def test_logpdf_and_grad_in_one_run(lik):
    x = random_points(20, seed=4)
    v, g = lik.logpdf_and_grad(x)
    np.testing.assert_array_equal(v, lik.logpdf(x))
    np.testing.assert_array_equal(g, lik.grad_logpdf(x))


def test_gradient_is_the_derivative(lik):
    x = random_points(5, seed=5)
    h = 1e-5
    for i in range(4):
        e = np.zeros(4)
        e[i] = h
        fd = (lik.logpdf(x + e) - lik.logpdf(x - e)) / (2 * h)
        # central differences of a quadratic are exact up to rounding: ~eps*|logpdf|/h
        np.testing.assert_allclose(lik.grad_logpdf(x)[:, i], fd, atol=1e-8)


def test_model_without_gradient_says_so(tmp_path):
    model = gaussian_model(MEAN, COV)
    kept = [o for o in model.graph.output if o.name == "logpdf"]
    del model.graph.output[:]
    model.graph.output.extend(kept)
    doc = gaussian_document(4, MEAN, COV, PARAMS, dtype="float64")
    doc["model"]["outputs"] = [t for t in doc["model"]["outputs"] if t["role"] != "grad_logpdf"]
    for case in doc["test_vectors"]["cases"]:
        case["outputs"].pop("grad_logpdf")
    doc["test_vectors"]["tolerances"].pop("grad_logpdf")
    write_bundle(tmp_path / "nograd", doc, {"model.onnx": model.SerializeToString()})
    b = dnnlik.load(tmp_path / "nograd")
    assert np.isfinite(b.logpdf(random_points(3))).all()
    with pytest.raises(NoGradientError, match="no 'grad_logpdf' output"):
        b.grad_logpdf(random_points(3))


def test_load_refuses_invalid_bundle_listing_problems(bundle_copy):
    (bundle_copy / "model.onnx").write_bytes(b"garbage")
    with pytest.raises(InvalidBundleError) as info:
        dnnlik.load(bundle_copy)
    assert "model.onnx" in str(info.value)
    assert not info.value.report.ok


@pytest.mark.parametrize(
    "name", ["./x.onnx", "a//b.onnx", "a\\b.onnx", "../x.onnx", "/abs.onnx", "dir/", "bundle.json"]
)
def test_writer_refuses_names_the_spec_forbids(tmp_path, name):
    doc = gaussian_document(4, MEAN, COV, PARAMS, dtype="float64")
    with pytest.raises(InvalidInputError, match="cannot be a bundle file name"):
        write_bundle(tmp_path / "b", doc, {name: b"x"})
    assert not (tmp_path / "b").exists()


def test_nan_expected_test_vector_is_never_reproduced():
    from dnnlik.evaluate.session import make_session
    from dnnlik.evaluate.test_vectors import iter_test_vector_problems

    doc = gaussian_document(4, MEAN, COV, PARAMS, dtype="float64")
    doc["test_vectors"]["cases"][0]["outputs"]["logpdf"] = [float("nan")]
    session = make_session(gaussian_model(MEAN, COV).SerializeToString())
    codes = [p.code for p in iter_test_vector_problems(session, doc)]
    assert codes == ["test-vectors:bad-array"]  # NaN is no element of a float tensor (spec 6.1)


def test_atomic_writes_give_normal_permissions(tmp_path):
    import os
    import stat

    from dnnlik.fsutil import atomic_directory, atomic_write_text

    mask = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "f.txt", "x")
        with atomic_directory(tmp_path / "d") as d:
            (d / "a").write_text("y")
    finally:
        os.umask(mask)
    assert stat.S_IMODE((tmp_path / "f.txt").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o755


def test_update_bundle_redigests_and_stays_valid(bundle_copy):
    from dnnlik.bundle.write import update_bundle

    section = {"verdict": "pass", "metrics": [{"name": "x", "value": 1.0, "threshold": 2.0, "comparison": "<="}]}
    doc = update_bundle(bundle_copy, {"validation": section}, {"data/extra.h5": b"\x89HDF-not-really"})
    assert doc["validation"] == section
    assert "data/extra.h5" in {f["path"] for f in doc["files"]}
    assert dnnlik.validate(bundle_copy).ok


def test_finalize_keeps_what_the_writer_said_of_a_file():
    from dnnlik.bundle.write import finalize_document

    doc = {"files": [{"path": "card.md", "role": "card", "media_type": "text/markdown", "sha256": "stale", "size": 1}]}
    [entry] = finalize_document(doc, {"card.md": b"# hi\n"})["files"]
    assert entry["media_type"] == "text/markdown" and entry["role"] == "card"
    assert entry["size"] == 5 and entry["sha256"] != "stale"  # recomputed, never trusted


# ---------------------------------------------------------------------------------------------- issue 13
def test_a_bundle_is_a_log_density(lik):
    from dnnlik.density import LogDensity, parameter_names
    from dnnlik.likelihoods import get

    assert isinstance(lik, LogDensity)
    assert lik.exact_gradient is True and lik.has_gradient
    assert lik.parameter_names == parameter_names(lik) == ("mu", "theta_1", "theta_2", "theta_3")
    assert type(lik.parameter_names) is type(get("toy-lhc-like").parameter_names) is tuple
    assert dnnlik.Bundle is dnnlik.evaluate.Bundle
    assert dnnlik.evaluate.Bundle.__module__ == "dnnlik.evaluate.loaded_bundle"


@pytest.mark.parametrize(
    "runtime, minimum, warned",
    [
        ("{v}rc1", "{v}", True),  # a release candidate comes before its release
        ("{v}", "{v}", False),
        ("{v}.post1", "{v}", False),
        ("{v}", "{v}-rc.1", False),  # semver pre-release in bundle.json: before the release
        ("{v}.dev3", "{v}", True),
    ],
)
def test_the_onnxruntime_version_check_orders_pre_releases(gaussian_bundle, monkeypatch, runtime, minimum, warned):
    from dnnlik.bundle.inspect import inspect_bundle
    from dnnlik.evaluate import validation

    wanted = inspect_bundle(gaussian_bundle).document["model"]["onnxruntime_min_version"]
    assert validation.version_at_least(runtime.format(v=wanted), minimum.format(v=wanted)) is not warned
    monkeypatch.setattr(validation, "onnxruntime_version", lambda: runtime.format(v=wanted))
    report = dnnlik.validate(gaussian_bundle)
    assert report.ok
    assert ("test-vectors:onnxruntime-version" in [p.code for p in report.warnings]) is warned


def test_a_newer_format_version_is_compared_as_a_version(bundle_copy):
    import json

    document = json.loads((bundle_copy / "bundle.json").read_text())
    for version, newer in (("1.10.0", True), ("0.9.0", False)):
        document["format_version"] = version
        (bundle_copy / "bundle.json").write_text(json.dumps(document))
        (problem,) = [p for p in dnnlik.validate(bundle_copy).errors if p.code == "schema:format-version"]
        assert ("a newer dnnlik may read this bundle" in problem.message) is newer, problem.message


def test_malformed_test_vector_cases_travel_as_numbers_not_text(bundle_copy):
    import json

    from dnnlik.bundle.inspect import inspect_bundle
    from dnnlik.report import Problem

    document = json.loads((bundle_copy / "bundle.json").read_text())
    cases = document["test_vectors"]["cases"]
    cases.append(json.loads(json.dumps(cases[0])))
    cases[-1]["inputs"]["nonsense"] = [1.0]
    (bundle_copy / "bundle.json").write_text(json.dumps(document))
    inspection = inspect_bundle(bundle_copy)
    assert inspection.malformed_cases == {len(cases) - 1}
    (problem,) = [p for p in inspection.report.problems if p.code == "semantics:test-vector-name"]
    assert problem.test_vector_case == len(cases) - 1
    assert problem.to_json() == {
        "code": problem.code,
        "level": "error",
        "location": problem.location,
        "message": problem.message,
    }  # the JSON is what it was
    assert problem == Problem(problem.code, problem.message, problem.location)
    assert f"#/test_vectors/cases/{len(cases) - 1}/inputs/nonsense" in problem.location
