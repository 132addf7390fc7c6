"""Bounded time and memory for ONNX models (issue 12, section 2).

Two defences, both tested here:

- the static rules of :mod:`dnnlik.bundle.onnx_checks` (``onnx:unbounded``): each
  limit is tested on both sides of its boundary, on graphs built here, and the
  models dnnlik itself writes must pass them;
- the run-time bound (:func:`dnnlik.evaluate.session.run_bounded`): a model that
  passes every static rule but runs for minutes is stopped, and validation says so.

End to end, the Loop-of-2**62 bundle of the catalog is refused promptly by
``dnnlik validate``, ``info``, ``eval`` and ``dnnlik.load`` (run in subprocesses
with a timeout, so that a regression fails instead of hanging the suite).
"""

from __future__ import annotations

import contextlib
import faulthandler
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

import broken_catalog  # noqa: E402
from broken_catalog import rebuild  # noqa: E402
from broken_catalog_onnx import heavy_loop_edit  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import dnnlik  # noqa: E402
from dnnlik.bundle import onnx_checks  # noqa: E402
from dnnlik.bundle.inspect import inspect_bundle  # noqa: E402
from dnnlik.bundle.onnx_checks import (  # noqa: E402
    MAX_CONSTANT_WORK,
    MAX_CONTROL_FLOW_DEPTH,
    MAX_LOOP_TRIPS,
    MAX_NESTED_TRIPS,
    MAX_TENSOR_ELEMENTS,
    iter_onnx_problems,
)
from dnnlik.errors import InvalidBundleError, ModelTimeoutError  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
F32 = TensorProto.FLOAT
PROMPT_SECONDS = 20.0  # "does not hang": the refusals below take well under a second


# small graphs: x [N] float32 -> z = x + sum(term) ---------------------------------------------------


def _i64(name: str, value: Any) -> Any:
    return numpy_helper.from_array(np.asarray(value, np.int64), name)


def _f32(name: str, value: Any) -> Any:
    return numpy_helper.from_array(np.asarray(value, np.float32), name)


def _model(nodes: list[Any], term: str, initializers: list[Any] = ()) -> Any:
    """``z = x + sum(term)``, with ``nodes`` computing ``term``; opset 17, IR 8."""
    graph = helper.make_graph(
        list(nodes)
        + [
            helper.make_node("ReduceSum", [term], ["t_sum"], keepdims=0),
            helper.make_node("Add", ["x", "t_sum"], ["z"]),
        ],
        "main",
        [helper.make_tensor_value_info("x", F32, ["N"])],
        [helper.make_tensor_value_info("z", F32, ["N"])],
        list(initializers) + [numpy_helper.from_array(np.array(True), "true"), _f32("zero", 0.0), _f32("one", 1.0)],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def _body(name: str, nodes: list[Any], inputs: tuple[str, str, str] | None = None) -> Any:
    """A Loop body: (iteration, condition, carried float32) -> (condition, carried); ``nodes`` write ``{name}_out``."""
    it, cond, acc = inputs or (f"{name}_i", f"{name}_cond", f"{name}_in")
    return helper.make_graph(
        [helper.make_node("Identity", [cond], [f"{name}_cond_out"])] + nodes,
        name,
        [
            helper.make_tensor_value_info(it, TensorProto.INT64, []),
            helper.make_tensor_value_info(cond, TensorProto.BOOL, []),
            helper.make_tensor_value_info(acc, F32, None),
        ],
        [
            helper.make_tensor_value_info(f"{name}_cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info(f"{name}_out", F32, None),
        ],
    )


def _counting(name: str) -> Any:
    return _body(name, [helper.make_node("Add", [f"{name}_in", "one"], [f"{name}_out"])])


def _loop(m: str, body: Any, carried: str = "zero", out: str = "count", name: str = "loop") -> Any:
    return helper.make_node("Loop", [m, "true", carried], [out], body=body, name=name)


def _codes(model: Any) -> list[str]:
    return [p.code for p in iter_onnx_problems(model, None, "model.onnx")]


def _unbounded(model: Any) -> list[str]:
    return [p.message for p in iter_onnx_problems(model, None, "model.onnx") if p.code == "onnx:unbounded"]


def _loop_of(trips: int) -> Any:
    return _model([_loop("M", _counting("body"))], "count", [_i64("M", trips)])


def _nested_loops(outer: int, inner: int) -> Any:
    inner_loop = _loop("M_inner", _counting("inner"), carried="outer_in", out="outer_out", name="inner_loop")
    return _model(
        [_loop("M_outer", _body("outer", [inner_loop]))], "count", [_i64("M_outer", outer), _i64("M_inner", inner)]
    )


def _loops_nested(depth: int) -> Any:
    """``depth`` Loops of 2 iterations nested in one another (subgraphs down to level ``depth``)."""
    body = _counting(f"b{depth}")
    for level in range(depth - 1, 0, -1):
        body = _body(
            f"b{level}", [_loop("M", body, carried=f"b{level}_in", out=f"b{level}_out", name=f"loop{level + 1}")]
        )
    return _model([_loop("M", body)], "count", [_i64("M", 2)])


# rule 2: Loop trip counts -----------------------------------------------------------------------------------


def test_a_loop_of_the_largest_trip_count_passes_and_one_more_is_refused() -> None:
    assert _codes(_loop_of(MAX_LOOP_TRIPS)) == []
    (message,) = _unbounded(_loop_of(MAX_LOOP_TRIPS + 1))
    assert f"{MAX_LOOP_TRIPS + 1} iterations" in message and "'loop' (Loop)" in message


def test_the_trip_count_of_2_to_the_62_is_refused() -> None:
    (message,) = _unbounded(_loop_of(2**62))
    assert "2**62" in message


def test_a_negative_trip_count_is_refused() -> None:
    (message,) = _unbounded(_loop_of(-1))
    assert "negative" in message


@pytest.mark.parametrize("kind", ["value_int", "value_ints", "value"])
def test_a_trip_count_from_a_constant_node_is_read(kind: str) -> None:
    for trips, refused in ((7, False), (MAX_LOOP_TRIPS + 1, True)):
        attrs = (
            {"value_int": trips}
            if kind == "value_int"
            else {"value_ints": [trips]}
            if kind == "value_ints"
            else {"value": _i64("M_value", trips)}
        )
        model = _model([helper.make_node("Constant", [], ["M"], **attrs), _loop("M", _counting("body"))], "count")
        assert bool(_unbounded(model)) is refused, (kind, trips)


def test_a_loop_without_trip_count_is_refused_whatever_its_condition() -> None:
    model = _model(
        [helper.make_node("Loop", ["", "true", "zero"], ["count"], body=_counting("body"), name="loop")], "count"
    )
    (message,) = _unbounded(model)
    assert "no trip count" in message


def test_a_trip_count_computed_at_run_time_is_refused() -> None:
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("ReduceSum", ["shape"], ["M"], keepdims=0),
        _loop("M", _counting("body")),
    ]
    (message,) = _unbounded(_model(nodes, "count"))
    assert "computed when the model runs" in message


def test_a_trip_count_computed_from_constants_is_refused_too() -> None:
    # 2**31 * 2**31: two small literals, a product computed when the model runs (or loads)
    nodes = [helper.make_node("Mul", ["a", "a"], ["M"]), _loop("M", _counting("body"))]
    assert _unbounded(_model(nodes, "count", [_i64("a", 2**31)]))


@pytest.mark.parametrize("value", [[3, 4], 3.0, True])
def test_a_trip_count_that_is_not_one_integer_is_refused(value: Any) -> None:
    tensor = numpy_helper.from_array(np.asarray(value), "M")
    (message,) = _unbounded(_model([_loop("M", _counting("body"))], "count", [tensor]))
    assert "not a single integer" in message


def test_an_initializer_that_is_also_a_graph_input_is_not_a_constant() -> None:
    # a caller may feed a graph input that has an initializer (IR >= 4): its value is not fixed
    model = _loop_of(5)
    model.graph.input.append(helper.make_tensor_value_info("M", TensorProto.INT64, []))
    (message,) = _unbounded(model)
    assert "'M'" in message


def test_a_trip_count_name_shadowed_by_a_nearer_graph_is_not_the_outer_constant() -> None:
    # the body's own input named like the outer constant M hides it: the inner Loop's M is data
    inner = _loop("M", _counting("inner"), carried="M", out="outer_out", name="inner_loop")
    body = _body("outer", [inner], inputs=("outer_i", "outer_cond", "M"))
    model = _model([_loop("M", body)], "count", [_i64("M", 3)])
    (message,) = _unbounded(model)
    assert "inner_loop" in message


def test_nested_trip_counts_multiply() -> None:
    side = int(MAX_NESTED_TRIPS**0.5)
    assert side * side <= MAX_NESTED_TRIPS and MAX_NESTED_TRIPS // side <= MAX_LOOP_TRIPS
    assert _codes(_nested_loops(side, MAX_NESTED_TRIPS // side)) == []
    (message,) = _unbounded(_nested_loops(side, MAX_NESTED_TRIPS // side + 1))
    assert "inner_loop" in message and "in all" in message


# rule 1: control-flow depth ---------------------------------------------------------------------------------


def test_control_flow_nested_to_the_limit_passes_and_one_level_more_is_refused() -> None:
    assert _codes(_loops_nested(MAX_CONTROL_FLOW_DEPTH)) == []
    (message,) = _unbounded(_loops_nested(MAX_CONTROL_FLOW_DEPTH + 1))
    assert f"depth {MAX_CONTROL_FLOW_DEPTH + 1}" in message


def test_scan_and_if_count_for_the_depth_but_not_for_the_trip_counts() -> None:
    scan_body = helper.make_graph(
        [
            helper.make_node("Add", ["s_acc", "s_elem"], ["s_acc_out"]),
            helper.make_node("Identity", ["s_acc_out"], ["s_scan_out"]),
        ],
        "scan_body",
        [helper.make_tensor_value_info("s_acc", F32, []), helper.make_tensor_value_info("s_elem", F32, [])],
        [helper.make_tensor_value_info("s_acc_out", F32, []), helper.make_tensor_value_info("s_scan_out", F32, [])],
    )
    scan = helper.make_node("Scan", ["zero", "x"], ["total", "partial"], body=scan_body, num_scan_inputs=1)
    model = _model([scan], "partial")
    assert _codes(model) == []
    # a Scan inside If inside a Loop: three levels
    then = helper.make_graph(
        [helper.make_node("Scan", ["zero", "x"], ["then_total", "then_partial"], body=scan_body, num_scan_inputs=1)],
        "then",
        [],
        [helper.make_tensor_value_info("then_total", F32, [])],
    )
    other = helper.make_graph(
        [helper.make_node("Identity", ["zero"], ["else_total"])],
        "else",
        [],
        [helper.make_tensor_value_info("else_total", F32, [])],
    )
    body = _body(
        "body", [helper.make_node("If", ["true"], ["body_out"], then_branch=then, else_branch=other, name="if")]
    )
    (message,) = _unbounded(_model([_loop("M", body)], "count", [_i64("M", 2)]))
    assert "Scan" in message


def test_nesting_thousands_deep_is_refused_without_recursion() -> None:
    # built in memory (a protobuf parser refuses such bytes: see the catalog's onnx-nested-1000-deep)
    model = _loop_of(2)
    graph = model.graph.node[0].attribute[0].g
    for k in range(3000):
        node = graph.node.add()
        node.op_type, node.name = "If", f"if{k}"
        node.input.append("true")
        attr = node.attribute.add()
        attr.name, attr.type = "then_branch", onnx.AttributeProto.GRAPH
        graph = attr.g
        graph.name = f"level{k}"
    node = graph.node.add()
    node.op_type, node.domain = "Hidden", "com.example"  # 3000 levels down: the structure walk sees it too
    assert sys.getrecursionlimit() < 3000 * 3  # a recursive walk would fail here
    problems = list(iter_onnx_problems(model, None, "model.onnx"))
    codes = [p.code for p in problems]
    assert codes.count("onnx:unbounded") == 1, codes
    assert "onnx:custom-op" in codes
    assert "onnx:checker" not in codes  # the checker (which recurses) is not run on such a model


def test_unreadable_nesting_says_so(gaussian_bundle: Path, tmp_path: Path) -> None:
    target = broken_catalog.by_name("onnx-nested-1000-deep").build(gaussian_bundle, tmp_path)
    report = dnnlik.validate(target)
    (problem,) = [p for p in report.errors if p.code == "onnx:unreadable"]
    assert "nested too deeply" in problem.message


# rule 3: tensor sizes -----------------------------------------------------------------------------------------


def _expand_of(shape: list[int]) -> Any:
    return _model([helper.make_node("Expand", ["x", "shape"], ["big"])], "big", [_i64("shape", shape)])


def test_a_tensor_of_the_largest_size_passes_and_one_element_more_is_refused() -> None:
    # x [N] expanded to [S, 1]: S elements for a single point (N = 1)
    assert _codes(_expand_of([MAX_TENSOR_ELEMENTS, 1])) == []
    (message,) = _unbounded(_expand_of([MAX_TENSOR_ELEMENTS + 1, 1]))
    assert f"{MAX_TENSOR_ELEMENTS + 1} elements" in message and "Expand" in message


def test_the_batch_dimension_counts_as_one() -> None:
    # [N, 2**20] is fine whatever N; the limit applies to what the graph fixes
    assert _codes(_expand_of([2**20, 1])) == []
    assert _unbounded(_expand_of([2**14, 2**14, 1]))


@pytest.mark.parametrize("op", ["Tile", "Pad", "ConstantOfShape", "RandomNormal", "OneHot", "Resize"])
def test_every_op_whose_size_comes_from_a_constant_is_bounded(op: str) -> None:
    big = 2**40
    if op == "Tile":
        nodes, inits = [helper.make_node("Tile", ["x", "size"], ["big"])], [_i64("size", [big])]
    elif op == "Pad":
        nodes, inits = [helper.make_node("Pad", ["x", "size"], ["big"])], [_i64("size", [0, big])]
    elif op == "ConstantOfShape":
        nodes = [helper.make_node("ConstantOfShape", ["size"], ["big"], value=helper.make_tensor("v", F32, [1], [1.0]))]
        inits = [_i64("size", [big])]
    elif op == "RandomNormal":
        nodes, inits = [helper.make_node("RandomNormal", [], ["big"], shape=[2**20, 2**20])], []
    elif op == "OneHot":
        nodes = [
            helper.make_node("Cast", ["x"], ["idx"], to=TensorProto.INT64),
            helper.make_node("OneHot", ["idx", "size", "values"], ["big"]),
        ]
        inits = [_i64("size", big), _f32("values", [0.0, 1.0])]
    else:
        nodes = [helper.make_node("Resize", ["x", "", "", "size"], ["big"])]
        inits = [_i64("size", [big])]
    messages = _unbounded(_model(nodes, "big", inits))
    assert messages and f" {op} node" in messages[0], messages


def test_a_size_computed_from_constants_that_inference_cannot_follow_is_refused() -> None:
    # Expand's output is not computed from constants alone (x is data), but its shape is: 2**20 * 2**20
    nodes = [helper.make_node("Mul", ["a", "a"], ["shape"]), helper.make_node("Expand", ["x", "shape"], ["big"])]
    (message,) = _unbounded(_model(nodes, "big", [_i64("a", [2**20, 1])]))
    assert "Expand node" in message and "cannot follow" in message
    # the same with a stored shape is followed (and then bounded by its size)
    assert (
        _codes(_model([helper.make_node("Expand", ["x", "shape"], ["big"])], "big", [_i64("shape", [2**10, 1])])) == []
    )


def test_stored_tensors_are_bounded_by_their_declared_shape() -> None:
    # dims that promise 2**62 elements, with one value: refused before anything reads the data
    lying = onnx.TensorProto(name="W", data_type=F32, dims=[2**31, 2**31], float_data=[1.0])
    (message,) = _unbounded(_model([helper.make_node("Identity", ["W"], ["w"])], "w", [lying]))
    assert "initializer 'W'" in message
    sparse = helper.make_sparse_tensor(_f32("S", [1.0]), _i64("S_idx", [0]), [2**31, 2**31])
    model = _model([helper.make_node("Constant", [], ["s"], sparse_value=sparse)], "s")
    (message,) = _unbounded(model)
    assert "sparse tensor attribute" in message


def test_a_shape_of_a_million_huge_dimensions_is_refused_promptly() -> None:
    # the product of 10**6 factors of 2**62 is never computed in full
    lying = onnx.TensorProto(name="W", data_type=F32, dims=[2**62] * 10**6, float_data=[1.0])
    start = time.monotonic()
    (message,) = _unbounded(_model([helper.make_node("Identity", ["W"], ["w"])], "w", [lying]))
    assert time.monotonic() - start < PROMPT_SECONDS
    assert "more than 2**80 elements" in message and len(message) <= 400


# rule 4: work computed from constants --------------------------------------------------------------------------


def test_small_shape_arithmetic_on_constants_passes() -> None:
    nodes = [
        helper.make_node("Mul", ["a", "b"], ["shape"]),
        helper.make_node("Reshape", ["x", "shape"], ["r"]),
        helper.make_node("Transpose", ["W"], ["WT"]),
        helper.make_node("MatMul", ["r", "WT"], ["term"]),
    ]
    inits = [_i64("a", [1, -1]), _i64("b", [1, 1]), _f32("W", np.ones((8, 1)))]
    assert _codes(_model(nodes, "term", inits)) == []


def test_a_size_computed_from_constants_must_be_known() -> None:
    nodes = [
        helper.make_node("Mul", ["a", "a"], ["shape"]),
        helper.make_node("ConstantOfShape", ["shape"], ["big"], value=helper.make_tensor("v", F32, [1], [1.0])),
    ]
    (message,) = _unbounded(_model(nodes, "big", [_i64("a", [2**20])]))
    assert "ConstantOfShape node" in message and "cannot follow" in message
    # any value computed from constants alone, whatever the operator
    nodes = [helper.make_node("NonZero", ["a"], ["nz"]), helper.make_node("Cast", ["nz"], ["big"], to=F32)]
    (message,) = _unbounded(_model(nodes, "big", [_i64("a", [1, 0, 1])]))
    assert "NonZero node" in message and "from constants alone" in message and "cannot be determined" in message


def test_work_on_constants_is_bounded() -> None:
    def matmuls(n: int) -> Any:
        value = helper.make_tensor("v", F32, [1], [1.0])
        nodes = [
            helper.make_node("ConstantOfShape", ["shape"], ["a"], value=value),
            helper.make_node("MatMul", ["a", "a"], ["big"]),
        ]
        return _model(nodes, "big", [_i64("shape", [n, n])])

    assert _codes(matmuls(64)) == []  # 64**3: nothing
    (message,) = _unbounded(matmuls(512))  # 512**3 > 2**26
    assert "MatMul" in message and f"{MAX_CONSTANT_WORK}" in message


# messages ------------------------------------------------------------------------------------------------------


def test_problems_are_one_short_line_whatever_the_names() -> None:
    model = _loop_of(2**62)
    model.graph.node[0].name = "loop\nTraceback (most recent call last):" + "x" * 5000
    model.graph.node[0].attribute[0].g.name = "b" * 5000
    for _ in range(40):  # many offending nodes: a bounded number of problems
        model.graph.node.append(helper.make_node("Loop", ["", "true", "zero"], ["c"], body=_counting("body")))
    problems = list(iter_onnx_problems(model, None, "model.onnx"))
    assert len(problems) == onnx_checks.MAX_COST_PROBLEMS + 1
    assert "more node" in problems[-1].message
    for p in problems:
        assert p.code == "onnx:unbounded" and p.location == "model.onnx"
        assert "\n" not in p.message and len(p.message) <= 400, p.message


# models dnnlik writes, and the published bundles ----------------------------------------------------------------


@pytest.mark.parametrize("activation", ["selu", "swish", "relu", "tanh", "linear"])
@pytest.mark.parametrize("k", [1, 3])
def test_the_networks_dnnlik_writes_pass(activation: str, k: int) -> None:
    from dnnlik.graph import NetworkSpec, QuadraticBaseline, build_mlp_model, random_mlp_weights

    sizes = [6, 32, 32, 1] if activation != "linear" else [6, 1]
    members = random_mlp_weights(sizes, seed=1) if k == 1 else [random_mlp_weights(sizes, seed=s) for s in range(k)]
    baseline = QuadraticBaseline(center=np.zeros(6), hessian=-np.eye(6), value_at_center=-3.0)
    for dtype in ("float32", "float64"):
        model = build_mlp_model(
            NetworkSpec(
                members, activation=activation, dtype=dtype, input_shift=0.5, input_scale=2.0, baseline=baseline
            )
        )
        assert _codes(model) == [], (activation, k, dtype)


@pytest.mark.parametrize(
    "path",
    sorted(p.parent for p in (REPO / "spec" / "examples" / "valid").glob("*/model.onnx"))
    + [REPO / "zoo" / "toy-lhc-like" / "bundle"],
    ids=lambda p: p.name if p.name != "bundle" else p.parent.name,
)
def test_published_models_pass(path: Path) -> None:
    model = onnx.load_model_from_string((path / "model.onnx").read_bytes())
    assert _codes(model) == []


# the run-time bound -------------------------------------------------------------------------------------------------


@pytest.fixture
def heavy_bundle(gaussian_bundle: Path, tmp_path: Path) -> Path:
    """A bundle every static rule accepts whose model runs for minutes: a Loop of 10,000 (a legal
    constant) 1024 x 1024 matrix products computed from the input."""
    return rebuild(gaussian_bundle, tmp_path / "heavy", edit_model=heavy_loop_edit())


def test_the_heavy_model_passes_the_static_rules(heavy_bundle: Path) -> None:
    inspection = inspect_bundle(heavy_bundle)
    assert inspection.report.ok, inspection.report.to_text()
    assert inspection.model_structure_ok


def test_run_bounded_reads_run_seconds_when_called(heavy_bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dnnlik.evaluate import session as session_module

    session = session_module.make_session((heavy_bundle / "model.onnx").read_bytes())
    monkeypatch.setattr("dnnlik.evaluate.session.RUN_SECONDS", 0.5)
    start = time.monotonic()
    with pytest.raises(ModelTimeoutError) as info:
        session_module.run_bounded(session, ["logpdf"], {"x": np.zeros((1, 4))})
    assert time.monotonic() - start < PROMPT_SECONDS
    assert "0.5 s" in str(info.value)


@pytest.mark.slow
def test_validation_stops_a_model_that_runs_too_long(heavy_bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Needs every model run of validation to go through run_bounded with the module's RUN_SECONDS
    # read at call time (test vectors and behaviour checks).
    monkeypatch.setattr("dnnlik.evaluate.session.RUN_SECONDS", 1.0)
    start = time.monotonic()
    report = dnnlik.validate(heavy_bundle)
    assert time.monotonic() - start < PROMPT_SECONDS
    assert not report.ok
    stopped = [p for p in report.errors if p.code.endswith(":timeout")]
    assert stopped, report.to_text()
    assert all("stopped" in p.message and p.location for p in stopped)
    assert not [p for p in report.errors if p.code.startswith("onnx:")]
    with pytest.raises(InvalidBundleError) as info:
        dnnlik.load(heavy_bundle)
    assert ":timeout" in str(info.value)


# end to end: the Loop of 2**62 ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def loop_bundle(gaussian_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return broken_catalog.by_name("onnx-loop-2-to-the-62").build(gaussian_bundle, tmp_path_factory.mktemp("loop"))


@contextlib.contextmanager
def _no_hang() -> Iterator[None]:
    """Fail (ending the test process, with every thread's traceback) rather than hang, and time the block."""
    faulthandler.dump_traceback_later(PROMPT_SECONDS + 10, exit=True)
    start = time.monotonic()
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
    assert time.monotonic() - start < PROMPT_SECONDS


@pytest.mark.parametrize("command", [["validate"], ["info"], ["eval", "--param", "mu=0.5"]])
def test_the_cli_refuses_the_loop_promptly(command: list[str], loop_bundle: Path) -> None:
    from click.testing import CliRunner

    from dnnlik.cli.main import cli

    with _no_hang():
        result = CliRunner().invoke(cli, [command[0], str(loop_bundle), *command[1:]])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "onnx:unbounded" in result.output and "model.onnx" in result.output, result.output
    assert "2**62" in result.output
    assert "Traceback" not in result.output, result.output


def test_load_refuses_the_loop_promptly(loop_bundle: Path) -> None:
    with _no_hang(), pytest.raises(InvalidBundleError) as info:
        dnnlik.load(loop_bundle)
    assert [p.code for p in info.value.report.errors] == ["onnx:unbounded"]
    assert "2**62" in str(info.value)


@pytest.mark.slow
def test_the_dnnlik_command_refuses_the_loop_promptly(loop_bundle: Path) -> None:
    # the real command line, in a process of its own (a regression would be killed, not hang the suite)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "dnnlik", "validate", str(loop_bundle)],
            capture_output=True,
            check=False,
            text=True,
            timeout=PROMPT_SECONDS,
            cwd=REPO,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"dnnlik validate did not return within {PROMPT_SECONDS} s")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "onnx:unbounded" in done.stdout and "Traceback" not in done.stdout + done.stderr
