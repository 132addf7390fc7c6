"""A model must behave as a log-likelihood of each point (issue 12, section 3).

Validation (the ``behaviour`` stage) and every evaluation refuse a model that
returns NaN or +inf inside the bounds, an output whose length is not the batch
size, or rows that depend on the other rows of the batch. Bad points given to
``logpdf`` (overflowing integers, complex numbers, infinities on an unbounded
side) are one clear InvalidInputError. ``dnnlik eval`` prints strict JSON and
never calls a point inside the bounds "outside".

The broken models come from tests/broken_catalog_runtime.py (also run by
tests/test_broken_bundles.py through validate and load); here they are also
evaluated directly, bypassing validation, to test the run-time checks.
"""

from __future__ import annotations

import fractions
import functools
import importlib
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent))

import broken_catalog
from broken_catalog import read_document, rebuild
from broken_catalog_runtime import tamper_output

import dnnlik
from dnnlik.cli import cli
from dnnlik.errors import BundleError, InvalidInputError
from dnnlik.evaluate import behaviour
from dnnlik.evaluate.loaded_bundle import Bundle
from dnnlik.evaluate.session import make_session
from dnnlik.parameters import Constraint, Parameter


def unvalidated(path: Path) -> Bundle:
    """The bundle at ``path`` as a Bundle without validation (to reach the run-time checks)."""
    doc = read_document(path)
    return Bundle(path, doc, make_session((path / "model.onnx").read_bytes()))


def catalog_bundle(name: str, valid: Path, tmp: Path) -> Bundle:
    path = broken_catalog.by_name(name).build(valid, tmp)
    assert not dnnlik.validate(path).ok  # validation refuses it; the run-time checks are the second line
    if path.suffix == ".zip":
        import zipfile

        folder = tmp / "unzipped"
        zipfile.ZipFile(path).extractall(folder)
        path = folder
    return unvalidated(path)


def points(*mus: float) -> np.ndarray:
    x = np.zeros((len(mus), 4))
    x[:, 0] = mus
    return x


# run-time checks of Bundle ------------------------------------------------------------------


@pytest.mark.parametrize("name, what", [("runtime-nan-inside-bounds", "NaN"), ("runtime-posinf-inside-bounds", "+inf")])
def test_logpdf_refuses_nan_or_plus_inf_inside_the_bounds(name, what, gaussian_bundle, tmp_path):
    b = catalog_bundle(name, gaussian_bundle, tmp_path)
    bad_mu = 9.5 if what == "NaN" else -9.5
    finite = b.logpdf(points(0.0, 1.0))
    assert np.isfinite(finite).all()
    # outside the bounds the model is not run: -inf, no error
    assert b.logpdf(points(0.0, 11.0 if what == "NaN" else -11.0))[1] == -np.inf
    for call in (b.logpdf, b.logpdf_and_grad):
        with pytest.raises(BundleError) as info:
            call(points(0.0, 1.0, bad_mu))
        message = str(info.value)
        assert what in message and "'logpdf'" in message and "point 2" in message and "inside the bounds" in message
    with pytest.raises(BundleError, match="point 0"):
        b.logpdf([bad_mu, 0, 0, 0])
    # the chunked path (several runs) checks too
    b.chunk_size = 2
    with pytest.raises(BundleError, match="point 4"):
        b.logpdf(points(0, 1, 2, 11, bad_mu, 0))


def test_nan_gradient_inside_the_bounds_raises(gaussian_bundle, tmp_path):
    b = catalog_bundle("runtime-nan-gradient-inside-bounds", gaussian_bundle, tmp_path)
    assert np.isfinite(b.logpdf(points(9.5))).all()  # logpdf alone is fine
    for call in (b.grad_logpdf, b.logpdf_and_grad):
        with pytest.raises(BundleError, match=r"NaN for output 'grad_logpdf' at point 1"):
            call(points(0.0, 9.5))
    grads = b.grad_logpdf(points(0.0, 10.5))  # outside: NaN rows by convention, no error
    assert np.isnan(grads[1]).all() and np.isfinite(grads[0]).all()


def test_minus_inf_inside_the_bounds_is_a_legal_value(gaussian_bundle, tmp_path):
    """A model whose logpdf is -inf (and gradient NaN) where mu > 9: valid, and evaluated without error."""

    def logpdf_nodes(raw: str, helper: Any) -> list[Any]:
        return _where_mu_above_9(helper, raw, "logpdf", -np.inf, unsqueeze=False)

    def grad_nodes(raw: str, helper: Any) -> list[Any]:
        return _where_mu_above_9(helper, raw, "grad_logpdf", np.nan, unsqueeze=True, prefix="g_")

    def edit(model: Any) -> None:
        tamper_output("logpdf", logpdf_nodes)(model)
        tamper_output("grad_logpdf", grad_nodes)(model)

    path = rebuild(gaussian_bundle, tmp_path / "b", edit_model=edit)
    report = dnnlik.validate(path)
    assert report.ok, report.to_text()
    assert "behaviour" in report.checks
    b = dnnlik.load(path)
    values = b.logpdf(points(0.0, 9.5))
    assert np.isfinite(values[0]) and values[1] == -np.inf
    grads = b.grad_logpdf(points(0.0, 9.5))  # the error path finds logpdf -inf there: no error
    assert np.isfinite(grads[0]).all()
    v, g = b.logpdf_and_grad(points(9.5, 0.0))
    assert v[0] == -np.inf and np.isfinite(g[1]).all()


def _where_mu_above_9(helper: Any, raw: str, out: str, value: float, *, unsqueeze: bool, prefix: str = "") -> list[Any]:
    from onnx import numpy_helper

    def const(name: str, v: Any) -> Any:
        return helper.make_node(
            "Constant", [], [prefix + name], value=numpy_helper.from_array(np.asarray(v), prefix + name)
        )

    nodes = [
        const("col0", np.array(0, np.int64)),
        helper.make_node("Gather", ["x", prefix + "col0"], [prefix + "x0"], axis=1),
        const("nine", np.float64(9.0)),
        const("value", np.float64(value)),
        helper.make_node("Greater", [prefix + "x0", prefix + "nine"], [prefix + "far"]),
    ]
    cond = prefix + "far"
    if unsqueeze:
        nodes += [
            const("axis1", np.array([1], np.int64)),
            helper.make_node("Unsqueeze", [cond, prefix + "axis1"], [prefix + "far2"]),
        ]
        cond = prefix + "far2"
    return nodes + [helper.make_node("Where", [cond, prefix + "value", raw], [out])]


@pytest.mark.parametrize("name", ["runtime-output-shape-one", "runtime-output-too-short"])
def test_output_length_is_checked_on_every_call(name, gaussian_bundle, tmp_path):
    b = catalog_bundle(name, gaussian_bundle, tmp_path)
    assert np.isfinite(b.logpdf([0.0, 0, 0, 0]))  # one point: one value, right
    with pytest.raises(BundleError, match=r"output 'logpdf' has shape \[\d\] for a batch of 7 point"):
        b.logpdf(points(*range(7)))
    # 2,500 points in chunks of 1,024: one value must not be broadcast to a chunk
    x = np.random.default_rng(0).uniform(-5, 5, (2500, 4))
    with pytest.raises(BundleError, match="for a batch of 1024 point"):
        b.logpdf(x)
    # and a chunk whose rows outside the bounds are not run
    b.chunk_size = 7
    with pytest.raises(BundleError, match="for a batch of 6 point"):
        b.logpdf(points(11, 0, 1, 2, 3, 4, 5, 6))


def test_a_model_failing_at_run_time_is_a_bundle_error(gaussian_bundle, tmp_path):
    """A model that cannot run on a batch size (a Reshape to 5 rows) raises BundleError, not onnxruntime's error."""

    def nodes(raw: str, helper: Any) -> list[Any]:
        from onnx import numpy_helper

        shape = numpy_helper.from_array(np.array([5], np.int64), "t_shape")
        return [
            helper.make_node("Constant", [], ["t_shape"], value=shape),
            helper.make_node("Reshape", [raw, "t_shape"], ["logpdf"]),
        ]

    path = rebuild(
        gaussian_bundle,
        tmp_path / "b",
        edit_model=tamper_output("logpdf", nodes),
        edit_document=lambda d: d["test_vectors"].update(cases=d["test_vectors"]["cases"][1:]),
    )
    report = dnnlik.validate(path)
    assert "behaviour:run-failed" in [p.code for p in report.errors], report.to_text()
    b = unvalidated(path)
    with pytest.raises(BundleError, match="the model failed on a batch of 3 point"):
        b.logpdf(points(0, 1, 2))


# the behaviour stage ----------------------------------------------------------------------


def test_valid_bundles_pass_the_behaviour_stage(gaussian_bundle, gaussian_zip):
    for path in (gaussian_bundle, gaussian_zip):
        report = dnnlik.validate(path)
        assert report.ok, report.to_text()
        assert report.checks.index("behaviour") == report.checks.index("test-vectors") + 1


def test_points_are_deterministic_inside_the_bounds_and_cover_edges():
    params = [
        Parameter("mu", "poi", bounds=(-1.0, 5.0), nominal=0.0, training_range=(-0.5, 2.0)),
        Parameter("a", bounds=(0.0, np.inf), nominal=1.0, constraint=Constraint("lognormal", 1.0, 0.1)),
        Parameter("b", bounds=(-np.inf, np.inf), nominal=3.0),
        Parameter("c", bounds=(-np.inf, np.inf), nominal=0.0, training_range=(-2.0, 2.0)),
    ]
    x1, labels = behaviour.likelihood_points(params, best_fit=[1.0, 1.0, 3.0, 0.0])
    x2, _ = behaviour.likelihood_points(params, best_fit=[1.0, 1.0, 3.0, 0.0])
    np.testing.assert_array_equal(x1, x2)
    assert len(labels) == len(x1) and len(x1) > 100
    lower = np.array([p.lower for p in params])
    upper = np.array([p.upper for p in params])
    assert np.isfinite(x1).all() and ((x1 >= lower) & (x1 <= upper)).all()
    assert labels[0] == "the nominal point" and (x1[0] == [0, 1, 3, 0]).all()
    assert "the best-fit point" in labels
    for value in (-1.0, 5.0):  # mu on each bound, the others nominal
        assert any((row == [value, 1, 3, 0]).all() for row in x1)
    assert any((row == [0, 0, 3, 0]).all() for row in x1)  # a on its lower bound 0
    # unbounded sides: the training range, or nominal -+ max(1, |nominal|)
    assert x1[:, 2].min() >= 0.0 and x1[:, 2].max() <= 6.0 and np.ptp(x1[:, 2]) > 3.0
    assert x1[:, 3].min() >= -2.0 and x1[:, 3].max() <= 2.0
    # a best fit outside the bounds is not used
    _, labels3 = behaviour.likelihood_points(params, best_fit=[9.0, 1.0, 3.0, 0.0])
    assert "the best-fit point" not in labels3


def test_points_are_capped_for_many_parameters():
    params = [Parameter(f"p{i}", bounds=(-1.0, 1.0)) for i in range(5000)]
    x, labels = behaviour.likelihood_points(params, max_values=100_000)
    assert x.shape == (20, 5000) and len(labels) == 20


def test_a_reversed_training_range_is_reported_not_a_crash(gaussian_bundle, tmp_path):
    # found by tests/test_validator_fuzz.py: the behaviour stage drew points between the reversed ends
    def reverse(doc: dict[str, Any]) -> None:
        doc["parameters"][0]["training_range"] = [1.5, -1.5]

    path = rebuild(gaussian_bundle, tmp_path / "b", edit_document=reverse)
    report = dnnlik.validate(path)  # must not raise
    assert [p.code for p in report.errors] == ["semantics:range-order"], report.to_text()
    assert "behaviour" in report.checks


def _slow_model_nodes(raw: str, helper: Any) -> list[Any]:
    """logpdf + 0 * (a Loop of 10,000 trips, each summing a tensor of 1 element, or 4e6 when some mu > 9).

    Statically bounded (a constant trip count; the tensor's size is only known at run time),
    fast at the test vectors, some minutes of work at the stage's points on the upper bound of mu.
    """
    from onnx import TensorProto, numpy_helper

    def const(name: str, v: Any) -> Any:
        return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.asarray(v), name))

    body = helper.make_graph(
        [
            helper.make_node("Identity", ["b_cond"], ["b_cond_out"]),
            const("b_one", np.array([1.0])),
            helper.make_node("Tile", ["b_one", "t_reps"], ["b_big"]),
            helper.make_node("ReduceSum", ["b_big"], ["b_sum"], keepdims=0),
            helper.make_node("Add", ["b_v", "b_sum"], ["b_v_out"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("b_i", TensorProto.INT64, []),
            helper.make_tensor_value_info("b_cond", TensorProto.BOOL, []),
            helper.make_tensor_value_info("b_v", TensorProto.DOUBLE, []),
        ],
        [
            helper.make_tensor_value_info("b_cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("b_v_out", TensorProto.DOUBLE, []),
        ],
    )
    return [
        const("t_col0", np.array(0, np.int64)),
        helper.make_node("Gather", ["x", "t_col0"], ["t_x0"], axis=1),
        helper.make_node("ReduceMax", ["t_x0"], ["t_max"], keepdims=1),
        const("t_nine", np.float64(9.0)),
        const("t_big", np.float64(4e6)),
        const("t_unit", np.float64(1.0)),
        const("t_zero", np.float64(0.0)),
        const("t_trips", np.array(10_000, np.int64)),
        const("t_true", np.array(True)),
        helper.make_node("Sub", ["t_max", "t_nine"], ["t_over"]),
        helper.make_node("Relu", ["t_over"], ["t_pos"]),
        helper.make_node("Mul", ["t_pos", "t_big"], ["t_scaled"]),
        helper.make_node("Add", ["t_scaled", "t_unit"], ["t_reps_f"]),
        helper.make_node("Cast", ["t_reps_f"], ["t_reps"], to=TensorProto.INT64),
        helper.make_node("Loop", ["t_trips", "t_true", "t_zero"], ["t_count"], body=body),
        helper.make_node("Mul", ["t_count", "t_zero"], ["t_nothing"]),
        helper.make_node("Add", [raw, "t_nothing"], ["logpdf"]),
    ]


@pytest.mark.slow
def test_a_model_slow_inside_the_bounds_is_stopped(gaussian_bundle, tmp_path, monkeypatch):
    path = rebuild(gaussian_bundle, tmp_path / "b", edit_model=tamper_output("logpdf", _slow_model_nodes))
    doc = read_document(path)
    session = make_session((path / "model.onnx").read_bytes())
    start = time.monotonic()
    problems = list(behaviour.iter_behaviour_problems(session, doc, seconds=1.0))
    assert time.monotonic() - start < 15  # stopped, not 1e12 iterations
    assert [p.code for p in problems] == ["behaviour:timeout"]
    assert problems[0].location == "model.onnx" and "1 s" in problems[0].message
    # through validate (the test vectors, at mu < 9, run quickly and pass)
    validate_module = importlib.import_module("dnnlik.evaluate.validation")

    monkeypatch.setattr(
        validate_module, "iter_behaviour_problems", functools.partial(behaviour.iter_behaviour_problems, seconds=1.0)
    )
    report = dnnlik.validate(path)
    assert [p.code for p in report.errors] == ["behaviour:timeout"], report.to_text()


def test_behaviour_does_not_run_after_a_test_vector_timeout(gaussian_bundle, monkeypatch):
    validate_module = importlib.import_module("dnnlik.evaluate.validation")
    from dnnlik.report import Problem

    calls = []
    monkeypatch.setattr(
        validate_module,
        "iter_test_vector_problems",
        lambda *a, **k: iter([Problem("test-vectors:timeout", "stopped", "bundle.json#/test_vectors/cases/0")]),
    )
    monkeypatch.setattr(validate_module, "iter_behaviour_problems", lambda *a, **k: calls.append(1) or iter(()))
    report = dnnlik.validate(gaussian_bundle)
    assert [p.code for p in report.errors] == ["test-vectors:timeout"] and not calls


# other kinds: the rows of the test vectors ------------------------------------------------------


def spectrum_bundle(out: Path, *, batch_dependent: bool) -> Path:
    """A spectrum-fit bundle: background = 0.9 * histogram + 1 (+ 0.9 * (h - batch mean of h) if dependent)."""
    from onnx import TensorProto, helper, numpy_helper

    from dnnlik.bundle.write import write_bundle
    from dnnlik.examples import ONNX_IR_VERSION, ONNX_OPSET, gaussian_document, gaussian_spec

    bins = 6
    last = "background" if not batch_dependent else "bg_raw"
    nodes = [
        helper.make_node("Mul", ["hist", "scale"], ["scaled"]),
        helper.make_node("Add", ["scaled", "shift"], [last]),
    ]
    inits = [numpy_helper.from_array(np.float32(0.9), "scale"), numpy_helper.from_array(np.float32(1.0), "shift")]
    if batch_dependent:
        nodes += [
            helper.make_node("ReduceMean", ["hist"], ["mean"], axes=[0], keepdims=1),
            helper.make_node("Sub", ["hist", "mean"], ["centred"]),
            helper.make_node("Mul", ["centred", "scale"], ["dev"]),
            helper.make_node("Add", ["bg_raw", "dev"], ["background"]),
        ]
    graph = helper.make_graph(
        nodes,
        "spectrum",
        [helper.make_tensor_value_info("hist", TensorProto.FLOAT, ["N", bins])],
        [helper.make_tensor_value_info("background", TensorProto.FLOAT, ["N", bins])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET)])
    model.ir_version = ONNX_IR_VERSION
    mean, cov, params = gaussian_spec(2)
    doc = gaussian_document(2, mean, cov, params, dtype="float32")
    doc["kind"] = "spectrum-fit"
    doc.pop("output")
    doc["spectrum"] = {"observable": "m_jj", "bin_edges": list(range(bins + 1))}
    doc["model"]["inputs"] = [{"name": "hist", "role": "histogram", "dtype": "float32", "shape": [None, bins]}]
    doc["model"]["outputs"] = [{"name": "background", "role": "background", "dtype": "float32", "shape": [None, bins]}]
    doc["model"].pop("transform", None)
    # two cases of one row each: each agrees with the model, whatever it does with a batch
    cases = []
    for k in range(2):
        h = np.arange(bins, dtype=np.float32)[None, :] * (k + 1) + 10
        cases.append({"inputs": {"hist": h.tolist()}, "outputs": {"background": (h * np.float32(0.9) + 1).tolist()}})
    doc["test_vectors"] = {"tolerance": {"abs": 1e-4, "rel": 1e-6}, "cases": cases}
    write_bundle(out, doc, {"model.onnx": model.SerializeToString()})
    return out


def test_other_kinds_use_the_test_vector_rows(tmp_path):
    good = dnnlik.validate(spectrum_bundle(tmp_path / "good", batch_dependent=False))
    assert good.ok, good.to_text()
    bad = dnnlik.validate(spectrum_bundle(tmp_path / "bad", batch_dependent=True))
    assert [p.code for p in bad.errors] == ["behaviour:batch-dependence"], bad.to_text()
    assert "'background'" in bad.errors[0].message


# bad points given to logpdf ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "x, words",
    [
        ([10**400, 0, 0, 0], "beyond the range of a double"),
        (np.array([[10**400, 0, 0, 0]], dtype=object), "beyond the range of a double"),
        ([fractions.Fraction(10**400, 3), 0, 0, 0], "beyond the range of a double"),
        ([1 + 2j, 0, 0, 0], "complex"),
        (np.zeros(4, dtype=complex), "complex"),  # refused even with a zero imaginary part
        ({"mu": 1j}, "complex"),
        (["0", "0", "0", "0"], "strings"),
        ([None, 0, 0, 0], "not a real number"),
        ({"mu": 10**400}, "beyond the range of a double"),
    ],
)
def test_unreadable_points_are_one_invalid_input_error(x, words, gaussian_bundle):
    b = dnnlik.load(gaussian_bundle)
    with pytest.raises(InvalidInputError, match=words) as info:
        b.logpdf(x)
    assert info.value.where in ("x", "x['mu']")


def test_long_double_beyond_a_double_is_refused(gaussian_bundle):
    if np.finfo(np.longdouble).max <= np.finfo(np.float64).max:
        pytest.skip("long double is a double on this platform")
    b = dnnlik.load(gaussian_bundle)
    x = np.zeros(4, dtype=np.longdouble)
    x[0] = np.longdouble("1e4000")
    with pytest.raises(InvalidInputError, match="beyond the range of a double"):
        b.logpdf(x)


def test_infinite_parameter_values():
    """-inf/+inf beyond a finite bound is outside (-inf); on an unbounded side it is refused."""
    from dnnlik.points import as_points

    params = [
        Parameter("mu", bounds=(-1.0, 5.0)),
        Parameter("free", bounds=(-np.inf, np.inf)),
        Parameter("pos", bounds=(0.0, np.inf)),
    ]
    x, _ = as_points([[np.inf, 0, 1], [-np.inf, 0, 1], [0, 0, -np.inf]], params)
    assert np.isinf(x).sum() == 3
    for bad, name in (
        ([0, -np.inf, 1], "'free' = -inf"),
        ([0, np.inf, 1], "'free' = +inf"),
        ([0, 0, np.inf], "'pos' = +inf"),
    ):
        with pytest.raises(InvalidInputError, match=re.escape(name)):
            as_points(bad, params)


def test_infinity_beyond_a_bound_gives_minus_inf(gaussian_bundle):
    b = dnnlik.load(gaussian_bundle)
    values = b.logpdf(points(np.inf, -np.inf, 0.0))
    assert values[0] == -np.inf and values[1] == -np.inf and np.isfinite(values[2])
    grads = b.grad_logpdf(points(np.inf, 0.0))
    assert np.isnan(grads[0]).all() and np.isfinite(grads[1]).all()


# dnnlik eval ----------------------------------------------------------------------------------------


def _strict_json(text: str) -> Any:
    def refuse(token: str) -> Any:
        raise AssertionError(f"not JSON: {token}")

    return json.loads(text, parse_constant=refuse)


def test_eval_json_is_strict_json_outside_the_bounds(gaussian_bundle):
    result = CliRunner().invoke(cli, ["eval", str(gaussian_bundle), "-p", "mu=11", "--grad", "--format", "json"])
    assert result.exit_code == 0, result.output
    out = _strict_json(result.output)
    assert out["logpdf"] is None and out["inside_bounds"] is False and "outside" in out["logpdf_note"]
    assert out["grad_logpdf"] is None and out["grad_logpdf_note"]
    inside = _strict_json(
        CliRunner().invoke(cli, ["eval", str(gaussian_bundle), "-p", "mu=1", "--format", "json"]).output
    )
    assert inside["inside_bounds"] is True and isinstance(inside["logpdf"], float) and "logpdf_note" not in inside


@pytest.mark.parametrize("value", ["inf", "-inf", "1e400", "-Infinity"])
def test_eval_refuses_infinite_parameter_values(value, gaussian_bundle):
    result = CliRunner().invoke(cli, ["eval", str(gaussian_bundle), "-p", f"mu={value}", "--format", "json"])
    assert result.exit_code == 2 and "not a finite number" in result.output


def test_eval_minus_inf_inside_the_bounds_is_not_called_outside(gaussian_bundle, tmp_path):
    def nodes(raw: str, helper: Any) -> list[Any]:
        return _where_mu_above_9(helper, raw, "logpdf", -np.inf, unsqueeze=False)

    path = rebuild(gaussian_bundle, tmp_path / "b", edit_model=tamper_output("logpdf", nodes))
    text = CliRunner().invoke(cli, ["eval", str(path), "-p", "mu=9.5"])
    assert text.exit_code == 0, text.output
    assert text.output.startswith("-inf") and "inside the bounds" in text.output and "outside" not in text.output
    out = _strict_json(CliRunner().invoke(cli, ["eval", str(path), "-p", "mu=9.5", "--format", "json"]).output)
    assert out["logpdf"] is None and out["inside_bounds"] is True and "inside the bounds" in out["logpdf_note"]


def test_eval_reports_a_model_failure_the_validation_did_not_see(gaussian_bundle, tmp_path):
    """NaN only for 1.2345 < mu < 1.2346: too narrow for the stage's points, caught when evaluated there."""

    def nodes(raw: str, helper: Any) -> list[Any]:
        from onnx import numpy_helper

        def const(name: str, v: Any) -> Any:
            return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.asarray(v), name))

        return [
            const("t_col0", np.array(0, np.int64)),
            helper.make_node("Gather", ["x", "t_col0"], ["t_x0"], axis=1),
            const("t_lo", np.float64(1.2345)),
            const("t_hi", np.float64(1.2346)),
            const("t_nan", np.float64(np.nan)),
            helper.make_node("Greater", ["t_x0", "t_lo"], ["t_above"]),
            helper.make_node("Less", ["t_x0", "t_hi"], ["t_below"]),
            helper.make_node("And", ["t_above", "t_below"], ["t_hole"]),
            helper.make_node("Where", ["t_hole", "t_nan", raw], ["logpdf"]),
        ]

    path = rebuild(gaussian_bundle, tmp_path / "b", edit_model=tamper_output("logpdf", nodes))
    assert dnnlik.validate(path).ok
    for fmt in ("text", "json"):
        result = CliRunner().invoke(cli, ["eval", str(path), "-p", "mu=1.23455", "--format", fmt])
        assert result.exit_code == 1
        assert result.output.startswith("Error: ") and "NaN" in result.output and "'logpdf'" in result.output
        assert "outside the" not in result.output.replace("outside the training range", "")
        assert "Traceback" not in result.output
