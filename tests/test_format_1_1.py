"""Format 1.1.0 (draft): per-output test-vector tolerances, how test-vector tensors are written,
the measured tolerances of the MLP writer and the zoo entry, and the spec text's facts that
code can check (ONNX field numbers, the depth limit, the frozen 1.0.0 schemas)."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import dnnlik
from dnnlik.evaluate.session import make_session
from dnnlik.evaluate.test_vectors import MAX_SAFE_INTEGER, iter_test_vector_problems, tensor_from_json
from dnnlik.examples import gaussian_model, gaussian_spec
from dnnlik.schema import SUPPORTED_VERSIONS, iter_schema_problems

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "spec"
EXAMPLES = SPEC / "examples"
ZOO_BUNDLE = ROOT / "zoo" / "toy-lhc-like" / "bundle"


def _codes(problems: Any) -> list[str]:
    return sorted(p.code for p in problems)


# ----------------------------------------------------------------------------- versions and schemas


def test_both_versions_are_read_and_1_1_0_is_written(gaussian_bundle: Path) -> None:
    assert SUPPORTED_VERSIONS == ("1.0.0", "1.1.0")
    doc = json.loads((gaussian_bundle / "bundle.json").read_text())
    assert doc["format_version"] == "1.1.0" and set(doc["test_vectors"]["tolerances"]) == {"logpdf", "grad_logpdf"}
    old = json.loads((EXAMPLES / "valid" / "gaussian-3d-float64-format-1.0.0" / "bundle.json").read_text())
    assert old["format_version"] == "1.0.0" and "tolerances" not in old["test_vectors"]


#: SHA-256 of the 1.0.0 schema files as released (3d57a9f, the last commit before the
#: 2026-11-25 release that touched them). 1.0.0 is frozen: these never change.
FROZEN_1_0_0 = {
    "bundle.schema.json": "5f94fea2057a3b46dc3fbb6cb9ffd610c667d0ca6d78dfb1bd1885802084b864",
    "defs.schema.json": "3ab9190259e33a5bab29c14d4748312311541886f31e3293920abb5fbbe10524",
    "kinds.schema.json": "d5c6a444b0eb3560295a5975ad963afd33a6c51c24818362f638c588316cae76",
    "model.schema.json": "fc9704a4166ded81aa9ee498cfe0441432c6242ca8315c95679485075ef57946",
    "parameters.schema.json": "c73469a2871a38ff12cb1599d4f3bbeb2bf2fd671ac8ca216ce1eea96ded8528",
    "sections.schema.json": "1e4f6e814557cb02c80dd04cad5863e16d2619cb333a177190c998e8b3bc5915",
}


def test_1_0_0_schemas_are_frozen() -> None:
    folder = SPEC / "schemas" / "1.0.0"
    assert sorted(p.name for p in folder.iterdir()) == sorted(FROZEN_1_0_0)
    for name, digest in FROZEN_1_0_0.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, (
            f"spec/schemas/1.0.0/{name} was edited: 1.0.0 is frozen (a change is a new version)"
        )


def test_1_1_0_schemas_differ_from_1_0_0_only_by_additions() -> None:
    """Same files; ids and titles of 1.1.0; everything 1.0.0 has is still there (MINOR only adds)."""
    old_dir, new_dir = SPEC / "schemas" / "1.0.0", SPEC / "schemas" / "1.1.0"
    assert sorted(p.name for p in old_dir.glob("*.json")) == sorted(p.name for p in new_dir.glob("*.json"))
    for path in old_dir.glob("*.json"):
        old = json.loads(path.read_text())
        new = json.loads((new_dir / path.name).read_text())
        assert new["$id"] == old["$id"].replace("/1.0.0/", "/1.1.0/")
        old_defs, new_defs = old.get("$defs", {}), new.get("$defs", {})
        assert set(old_defs) <= set(new_defs), path.name


def _example_doc() -> dict[str, Any]:
    return json.loads((EXAMPLES / "valid" / "gaussian-2d-float32" / "bundle.json").read_text())


def test_schema_of_tolerances() -> None:
    doc = _example_doc()
    assert _codes(iter_schema_problems(doc, "1.1.0")) == []
    bad = copy.deepcopy(doc)
    bad["test_vectors"]["tolerances"]["logpdf"]["abs"] = -1e-9
    assert _codes(iter_schema_problems(bad, "1.1.0")) == ["schema:minimum"]
    bad["test_vectors"]["tolerances"]["logpdf"] = {"abs": 1e-9}
    assert _codes(iter_schema_problems(bad, "1.1.0")) == ["schema:required"]
    bad["test_vectors"]["tolerances"]["logpdf"] = {"abs": 1e-9, "rel": 0, "ulps": 4}
    assert _codes(iter_schema_problems(bad, "1.1.0")) == ["schema:additionalProperties"]
    # 1.0.0 is closed and frozen: no tolerances there
    old = copy.deepcopy(doc)
    old["format_version"] = "1.0.0"
    assert _codes(iter_schema_problems(old, "1.0.0")) == ["schema:additionalProperties"]
    del old["test_vectors"]["tolerances"]
    assert _codes(iter_schema_problems(old, "1.0.0")) == []


def test_schema_of_boolean_tensor_elements() -> None:
    doc = _example_doc()
    doc["test_vectors"]["cases"][0]["outputs"]["flag"] = [True, False]
    assert _codes(iter_schema_problems(doc, "1.1.0")) == []
    doc["format_version"] = "1.0.0"
    del doc["test_vectors"]["tolerances"]
    assert "schema:type" in _codes(iter_schema_problems(doc, "1.0.0")) or "schema:anyOf" in _codes(
        iter_schema_problems(doc, "1.0.0")
    )


# ----------------------------------------------------------------------------- tensors in JSON


@pytest.mark.parametrize(
    "value, dtype, declared, shape",
    [
        ([[1.5, 2.0]], "float64", [None, 2], (1, 2)),
        ([], "float64", [None, 3], (0, 3)),  # an empty batch takes the declared dimensions
        ([], "float32", [None], (0,)),
        ([[], []], "float64", [None, None], (2, 0)),
        ([], "float64", [None, None], (0, 0)),  # a null after the empty dimension is 0
        (3.0, "float64", [], ()),
        ([True, False], "bool", [None], (2,)),
        ([MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, 1.0, 1e0], "int64", [None], (4,)),
        ([2**31 - 1, -(2**31)], "int32", [None], (2,)),
        ([3.4028234663852886e38], "float32", [None], (1,)),  # float32's largest value
    ],
)
def test_tensor_from_json_reads(value: Any, dtype: str, declared: list, shape: tuple) -> None:
    array = tensor_from_json(value, dtype, declared)
    assert isinstance(array, np.ndarray), array
    assert array.shape == shape and array.dtype == np.dtype({"bool": np.bool_}.get(dtype, dtype))


def test_tensor_from_json_values_are_exact() -> None:
    assert tensor_from_json([MAX_SAFE_INTEGER], "int64", [None])[0] == 2**53 - 1
    assert tensor_from_json([True, False], "bool", [None]).tolist() == [True, False]
    # float32 through the double: numpy's rounding of the double, as the spec says
    x = 0.1234567
    assert tensor_from_json([x], "float32", [None])[0] == np.float32(np.float64(x))


@pytest.mark.parametrize(
    "value, dtype, words",
    [
        ([1, 0], "bool", "true or false"),  # numbers in a bool tensor (1.1.0)
        ([True, 2.0], "float32", "not a number"),  # true in a float tensor
        ([False], "int64", "not a number"),
        ([1.5], "int64", "not an integer"),
        ([2**53], "int64", "outside"),  # beyond what a double holds exactly
        ([-(2**53) - 2], "int64", "outside"),
        ([2**31], "int32", "outside"),
        ([1e39], "float32", "overflows float32"),
        ([[1.0], [1.0, 2.0]], "float64", "ragged"),
        ([[1.0], 2.0], "float64", "ragged"),
        (["1.0"], "float64", "not a number"),
        ([None], "float64", "not a number"),
        ([float("nan")], "float64", "not a finite"),
    ],
)
def test_tensor_from_json_refuses(value: Any, dtype: str, words: str) -> None:
    message = tensor_from_json(value, dtype, None)
    assert isinstance(message, str) and words in message, message


def test_bool_as_numbers_in_1_0_0() -> None:
    assert tensor_from_json([1, 0], "bool", [None], bool_as_number=True).tolist() == [True, False]
    assert "0 and 1" in tensor_from_json([2], "bool", [None], bool_as_number=True)


def test_deep_tensor_is_refused_without_recursion() -> None:
    value: Any = 1.0
    for _ in range(20_000):  # far beyond any recursion limit (the document's limit is 64 anyway)
        value = [value]
    assert "deeper than 2 level(s), its declared rank" in tensor_from_json(value, "float64", [None, 3])
    assert "deeper than 64" in tensor_from_json(value, "float64", None)
    assert tensor_from_json([[1.0]], "float64", [None, 1]).shape == (1, 1)


# ----------------------------------------------------------------------------- the runner


def _gaussian(dim: int = 2, dtype: str = "float64") -> tuple[Any, dict[str, Any]]:
    """A session of the example Gaussian and a minimal 1.1.0 document for iter_test_vector_problems."""
    from dnnlik.examples import gaussian_document

    mean, cov, params = gaussian_spec(dim)
    session = make_session(gaussian_model(mean, cov, dtype=dtype).SerializeToString())
    return session, gaussian_document(dim, mean, cov, params, dtype=dtype)


def test_per_output_tolerance_overrides_the_default() -> None:
    session, doc = _gaussian()
    assert list(iter_test_vector_problems(session, doc)) == []
    grad = doc["test_vectors"]["cases"][1]["outputs"]["grad_logpdf"]
    grad[0][1] += 1e-8  # within a default of 1e-6, beyond grad_logpdf's own 1e-9 ...
    doc["test_vectors"]["tolerance"] = {"abs": 1e-6, "rel": 0.0}
    doc["test_vectors"]["tolerances"] = {"grad_logpdf": {"abs": 1e-9, "rel": 0.0}}
    (problem,) = iter_test_vector_problems(session, doc)
    assert problem.code == "test-vectors:mismatch"
    assert problem.location == "bundle.json#/test_vectors/cases/1/outputs/grad_logpdf"
    assert "tolerances['grad_logpdf']" in problem.message
    # ... the same error passes once grad_logpdf has no tolerance of its own (the default applies)
    doc["test_vectors"]["tolerances"] = {"logpdf": {"abs": 1e-9, "rel": 0.0}}
    assert list(iter_test_vector_problems(session, doc)) == []
    # and the default no longer covers logpdf, which has its own
    doc["test_vectors"]["cases"][0]["outputs"]["logpdf"][0] += 1e-8
    (problem,) = iter_test_vector_problems(session, doc)
    assert problem.location.endswith("/cases/0/outputs/logpdf") and "tolerances['logpdf']" in problem.message


def test_tolerance_for_an_unknown_output_is_refused() -> None:
    session, doc = _gaussian()
    doc["test_vectors"]["tolerances"]["logpdf/x"] = {"abs": 1.0, "rel": 0.0}
    (problem,) = iter_test_vector_problems(session, doc)
    assert problem.code == "test-vectors:tolerance-name"
    assert problem.location == "bundle.json#/test_vectors/tolerances/logpdf~1x"


def test_empty_batch_runs_and_matches() -> None:
    session, doc = _gaussian(dim=3)
    doc["test_vectors"]["cases"] = [{"inputs": {"x": []}, "outputs": {"logpdf": [], "grad_logpdf": []}}]
    assert list(iter_test_vector_problems(session, doc)) == []
    doc["test_vectors"]["cases"][0]["outputs"]["logpdf"] = [1.0]
    assert _codes(iter_test_vector_problems(session, doc)) == ["test-vectors:shape"]


def test_true_in_a_float_input_is_refused_not_run() -> None:
    session, doc = _gaussian()
    doc["test_vectors"]["cases"][0]["inputs"]["x"][0][0] = True
    (problem,) = iter_test_vector_problems(session, doc)
    assert problem.code == "test-vectors:bad-array" and problem.location.endswith("/cases/0/inputs/x")


def _model(nodes: list, inputs: list, outputs: list, inits: list = ()) -> bytes:
    from onnx import helper

    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def _doc(inputs: list[dict], outputs: list[dict], cases: list[dict], version: str = "1.1.0") -> dict[str, Any]:
    return {
        "format_version": version,
        "model": {"inputs": inputs, "outputs": outputs},
        "test_vectors": {"tolerance": {"abs": 0.5, "rel": 0.0}, "cases": cases},
    }


def test_bool_and_int64_tensors() -> None:
    from onnx import TensorProto, helper, numpy_helper

    data = _model(
        [helper.make_node("Greater", ["x", "zero"], ["positive"]), helper.make_node("Identity", ["n"], ["same"])],
        [
            helper.make_tensor_value_info("x", TensorProto.DOUBLE, ["N"]),
            helper.make_tensor_value_info("n", TensorProto.INT64, ["N"]),
        ],
        [
            helper.make_tensor_value_info("positive", TensorProto.BOOL, ["N"]),
            helper.make_tensor_value_info("same", TensorProto.INT64, ["N"]),
        ],
        [numpy_helper.from_array(np.array(0.0), "zero")],
    )
    session = make_session(data)
    inputs = [{"name": "x", "dtype": "float64", "shape": [None]}, {"name": "n", "dtype": "int64", "shape": [None]}]
    outputs = [
        {"name": "positive", "dtype": "bool", "shape": [None]},
        {"name": "same", "dtype": "int64", "shape": [None]},
    ]
    big = MAX_SAFE_INTEGER
    case = {"inputs": {"x": [-1.0, 2.0], "n": [big, -big]}, "outputs": {"positive": [False, True], "same": [big, -big]}}
    assert list(iter_test_vector_problems(session, _doc(inputs, outputs, [case]))) == []
    # a wrong bool is a mismatch whatever the tolerance (0.5 would let 0 and 1 pass as numbers)
    wrong = copy.deepcopy(case)
    wrong["outputs"]["positive"] = [True, True]
    (problem,) = iter_test_vector_problems(session, _doc(inputs, outputs, [wrong]))
    assert problem.code == "test-vectors:mismatch" and "bool values must be equal" in problem.message
    # 1.0.0 writes bools as 0/1; 1.1.0 as true/false only
    numeric = copy.deepcopy(case)
    numeric["outputs"]["positive"] = [0, 1]
    assert list(iter_test_vector_problems(session, _doc(inputs, outputs, [numeric], "1.0.0"))) == []
    assert _codes(iter_test_vector_problems(session, _doc(inputs, outputs, [numeric]))) == ["test-vectors:bad-array"]
    # int64 beyond 2**53 - 1 cannot be written
    beyond = copy.deepcopy(case)
    beyond["inputs"]["n"] = [2**53 + 1, 0]
    (problem,) = iter_test_vector_problems(session, _doc(inputs, outputs, [beyond]))
    assert problem.code == "test-vectors:bad-array" and problem.location.endswith("/inputs/n")


def _endless_loop_model() -> bytes:
    """Adds 1 to x 2**62 times: a run that never ends on its own."""
    from onnx import TensorProto, helper, numpy_helper

    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("Add", ["acc_in", "one"], ["acc_out"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("acc_in", TensorProto.DOUBLE, ["N"]),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("acc_out", TensorProto.DOUBLE, ["N"]),
        ],
        [numpy_helper.from_array(np.array(1.0), "one")],
    )
    return _model(
        [helper.make_node("Loop", ["trips", "cond", "x"], ["y"], body=body)],
        [helper.make_tensor_value_info("x", TensorProto.DOUBLE, ["N"])],
        [helper.make_tensor_value_info("y", TensorProto.DOUBLE, ["N"])],
        [numpy_helper.from_array(np.array(2**62, np.int64), "trips"), numpy_helper.from_array(np.array(True), "cond")],
    )


def test_a_model_that_runs_forever_is_stopped() -> None:
    session = make_session(_endless_loop_model())
    tensor = {"dtype": "float64", "shape": [None]}
    case = {"inputs": {"x": [0.0]}, "outputs": {"y": [1.0]}}
    doc = _doc([{"name": "x", **tensor}], [{"name": "y", **tensor}], [case, case])
    start = time.monotonic()
    problems = list(iter_test_vector_problems(session, doc, seconds=0.5))
    assert time.monotonic() - start < 20  # stopped, and the second case not run
    (problem,) = problems
    assert problem.code == "test-vectors:timeout" and problem.location == "bundle.json#/test_vectors/cases/0"
    assert "no further case" in problem.message


# ----------------------------------------------------------------------------- the writer's tolerances


def test_writer_tolerances_are_a_few_times_the_float32_error() -> None:
    from dnnlik.graph import NetworkSpec, mlp_bundle_document, mlp_reference, random_mlp_weights
    from dnnlik.graph.mlp_bundle import TOLERANCE_SAFETY
    from dnnlik.parameters import Parameter

    params = [
        Parameter(
            name=f"p{i}",
            role="poi" if i == 0 else "nuisance",
            bounds=(-4.0, 4.0),
            nominal=0.0,
            training_range=(-2.0, 2.0),
        )
        for i in range(5)
    ]
    members = random_mlp_weights([5, 64, 64, 1], seed=3)
    kwargs = {"output_shift": -300.0, "output_scale": 5.0}  # a log L of about -300, as in a real analysis
    doc, _ = mlp_bundle_document(NetworkSpec(members, dtype="float64", **kwargs), params, name="tol-test")
    tv = doc["test_vectors"]
    assert doc["format_version"] == "1.1.0" and set(tv["tolerances"]) == {"logpdf", "grad_logpdf"}
    x = np.vstack([np.asarray(c["inputs"]["x"]) for c in tv["cases"]])
    ref = mlp_reference(x, NetworkSpec(members, **kwargs))
    for name, tol in tv["tolerances"].items():
        got = np.concatenate([np.ravel(c["outputs"][name]) for c in tv["cases"]])
        error = float(np.max(np.abs(got - ref[name].ravel())))
        assert tol["rel"] == 0.0
        assert TOLERANCE_SAFETY * error <= tol["abs"] * (1 + 1e-9), (name, error, tol)
        # a few times the error (or a few float32 ulps of the output's float32 part), not hundreds
        floor = TOLERANCE_SAFETY * 2.0**-23 * float(np.max(np.abs(got - (-300.0) if name == "logpdf" else got)))
        assert tol["abs"] <= 1.1 * max(TOLERANCE_SAFETY * error, floor) + 1e-300, (name, error, tol)
    # the -300 shift (added in float64) does not inflate logpdf's tolerance: it stays far below 1e-4 * 300
    assert tv["tolerances"]["logpdf"]["abs"] < 1e-3
    assert tv["tolerance"]["abs"] == max(t["abs"] for t in tv["tolerances"].values())


def test_writer_tolerance_catches_what_the_old_one_missed(tmp_path: Path) -> None:
    """An expected gradient off by 1e-3 fails now; the 1.0.0-style tolerance (abs 1e-4 x |log L|) let it pass."""
    from dnnlik.bundle.write import read_bundle_files, write_bundle
    from dnnlik.graph import NetworkSpec, random_mlp_weights, write_mlp_bundle
    from dnnlik.parameters import Parameter

    params = [
        Parameter(
            name=f"p{i}",
            role="poi" if i == 0 else "nuisance",
            bounds=(-4.0, 4.0),
            nominal=0.0,
            training_range=(-2.0, 2.0),
        )
        for i in range(3)
    ]
    out = tmp_path / "b"
    write_mlp_bundle(
        out,
        NetworkSpec(random_mlp_weights([3, 32, 1], seed=1), dtype="float64", output_shift=-300.0),
        params,
        name="catch",
    )
    assert dnnlik.validate(out).ok
    doc, files = read_bundle_files(out)
    doc["test_vectors"]["cases"][1]["outputs"]["grad_logpdf"][0][0] += 1e-3
    write_bundle(out, doc, files, overwrite=True)
    assert "test-vectors:mismatch" in _codes(dnnlik.validate(out).errors)
    old_style = {"abs": 1e-4 * 300, "rel": 1e-4}
    doc["test_vectors"] = {"tolerance": old_style, "cases": doc["test_vectors"]["cases"]}
    write_bundle(out, doc, files, overwrite=True)
    assert "test-vectors:mismatch" not in _codes(dnnlik.validate(out).errors)


# ----------------------------------------------------------------------------- the zoo entry


def test_zoo_entry_is_1_1_0_with_measured_tolerances() -> None:
    import onnx
    from onnx import numpy_helper

    from dnnlik.graph import MLPWeights, NetworkSpec, QuadraticBaseline, mlp_reference

    doc = json.loads((ZOO_BUNDLE / "bundle.json").read_text())
    assert doc["format_version"] == "1.1.0"
    tv = doc["test_vectors"]
    assert set(tv["tolerances"]) == {o["name"] for o in doc["model"]["outputs"]}
    mu = next(p for p in doc["parameters"] if p["name"] == "mu")
    assert (
        mu["bounds"] == [-1.0, 5.0]
        and "-1 <= mu <= 5" in mu["description"]
        and "<" not in mu["description"].replace("<=", "")
    )
    # the tolerances are 4x the model's float32 error against a float64 evaluation of its weights
    model = doc["model"]
    inits = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(ZOO_BUNDLE / model["file"])).graph.initializer}
    n = len(model["architecture"]["layers"]) + 1
    weights = MLPWeights(
        tuple((inits[f"layer{i}_W"].astype(float), inits[f"layer{i}_b"].astype(float)) for i in range(n))
    )
    tr = model["transform"]
    base = tr["baseline"]
    x = np.vstack([np.asarray(c["inputs"]["x"]) for c in tv["cases"]])
    ref = mlp_reference(
        x,
        NetworkSpec(
            weights,
            activation=model["architecture"]["activation"],
            input_shift=tr["input_shift"],
            input_scale=tr["input_scale"],
            output_shift=tr["output_shift"],
            output_scale=tr["output_scale"],
            baseline=QuadraticBaseline(
                np.asarray(base["center"]), np.asarray(base["hessian"]), base["value_at_center"]
            ),
        ),
    )
    for name, tol in tv["tolerances"].items():
        got = np.concatenate([np.ravel(c["outputs"][name]) for c in tv["cases"]])
        error = float(np.max(np.abs(got - ref[name].ravel())))
        assert 3 * error <= tol["abs"] <= 10 * error, (name, error, tol)
    assert tv["tolerances"]["grad_logpdf"]["abs"] < 1e-4 and tv["tolerances"]["logpdf"]["abs"] < 1e-4


# ----------------------------------------------------------------------------- the spec's text


def test_spec_onnx_field_numbers_are_those_of_onnx_proto() -> None:
    """Every `field` (number) the spec's table of section 4.3 gives is the field's number in onnx.proto."""
    import onnx

    text = (SPEC / "README.md").read_text(encoding="utf-8")
    section = text.split("### 4.3 ONNX facts a reader checks", 1)[1].split("\n## ", 1)[0]
    seen = 0
    for row in re.findall(r"^\| `(\w+Proto)` \| (.*?) \| .*$", section, flags=re.M):
        message, fields = row
        descriptor = getattr(onnx, message).DESCRIPTOR
        for field, number in re.findall(r"`(\w+)` \((\d+)\)", fields):
            assert descriptor.fields_by_name[field].number == int(number), f"{message}.{field}"
            seen += 1
        for name, value in re.findall(r"`(\w+)` = (\d+)", fields):  # enum values (DataLocation)
            assert onnx.TensorProto.DataLocation.Value(name) == int(value)
    assert seen >= 20
    cost = text.split("### 4.4 Bounded cost (control flow)", 1)[1].split("\n## ", 1)[0]
    named = re.findall(r"`(\w+Proto)\.(\w+)` \((\d+)\)", cost)
    for message, field, number in named:
        assert getattr(onnx, message).DESCRIPTOR.fields_by_name[field].number == int(number), f"{message}.{field}"
    assert len(named) >= 8


def test_spec_states_the_cost_limits_the_code_applies() -> None:
    """Section 4.4 gives the numbers of dnnlik's static cost rule (onnx:unbounded)."""
    from dnnlik.bundle import onnx_checks

    text = (SPEC / "README.md").read_text(encoding="utf-8")
    cost = text.split("### 4.4 Bounded cost (control flow)", 1)[1].split("\n## ", 1)[0]

    def spaced(n: int) -> str:
        return f"{n:,}".replace(",", " ")

    def power(n: int) -> str:
        exponent = n.bit_length() - 1
        assert n == 2**exponent
        return "2" + str(exponent).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))

    assert f"Control-flow depth ≤ {onnx_checks.MAX_CONTROL_FLOW_DEPTH}." in cost
    assert f"deeper than level {onnx_checks.MAX_CONTROL_FLOW_DEPTH}" in cost
    assert f"0 ≤ M ≤ {spaced(onnx_checks.MAX_LOOP_TRIPS)}" in cost
    assert f"is at most {spaced(onnx_checks.MAX_NESTED_TRIPS)}" in cost
    assert f"Tensor sizes ≤ {power(onnx_checks.MAX_TENSOR_ELEMENTS)} elements" in cost
    assert f"Work at load time ≤ {power(onnx_checks.MAX_CONSTANT_WORK)} element operations" in cost
    assert "`onnx:unbounded`" in cost


def test_spec_states_the_depth_limit_the_code_applies() -> None:
    from dnnlik.digest import MAX_JSON_DEPTH

    text = (SPEC / "README.md").read_text(encoding="utf-8")
    assert f"**nested at most {MAX_JSON_DEPTH} deep**" in text
    deep = EXAMPLES / "valid" / "gaussian-2d-float32" / "bundle.json"
    from dnnlik.bundle.document import find_too_deep

    assert find_too_deep(deep.read_text()) is None
    assert find_too_deep(deep.read_text(), MAX_JSON_DEPTH - 1) is not None  # the example reaches the limit exactly


def test_frozen_1_0_0_text_is_kept() -> None:
    text = (SPEC / "README-1.0.0.md").read_text(encoding="utf-8")
    assert text.startswith("# dnnlik bundle format 1.0.0 (frozen text)")
    assert "This document is the normative description of format version **1.0.0**" in text
