"""Broken-bundle catalog entries of one hostile-input class (issue 12): onnx.

Imported at the end of tests/broken_catalog.py; each entry registers itself with
:func:`broken_catalog.broken` exactly like the entries there.

Models whose cost cannot be bounded before running them (``onnx:unbounded``, the
rules of :mod:`dnnlik.bundle.onnx_checks`), models nested too deeply to parse, and
external data hidden in attributes, sparse initializers and subgraphs. Each model is
the valid example's graph with a few extra nodes whose result is multiplied by zero
and added to ``logpdf``: were the model run, it would still reproduce its test
vectors, so the costly part is the only defect.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from broken_catalog import broken, model_bytes, rebuild

__all__ = ["add_zero_term", "loop_model_edit", "heavy_loop_edit", "deeply_nested_model"]


def _elem_type(model: Any, name: str) -> int:
    return next(v.type.tensor_type.elem_type for v in model.graph.output if v.name == name)


def add_zero_term(
    make_nodes: Callable[[Any], tuple[list[Any], str]], *, initializers: Sequence[Any] = (), sparse: Sequence[Any] = ()
) -> Callable[[Any], None]:
    """An ``edit_model``: ``logpdf`` becomes ``logpdf + 0 * sum(term)``.

    ``make_nodes(helper)`` returns ``(nodes, term)``: nodes that may read the graph input
    ``x`` and write the float32 tensor ``term``. The term is summed, cast to logpdf's type,
    multiplied by zero and added, so that the outputs keep their values.
    """

    def edit(model: Any) -> None:
        from onnx import TensorProto, helper, numpy_helper

        for node in model.graph.node:
            for i, name in enumerate(node.output):
                if name == "logpdf":
                    node.output[i] = "logpdf_raw"
        nodes, term = make_nodes(helper)
        elem = _elem_type(model, "logpdf")
        np_type = np.float64 if elem == TensorProto.DOUBLE else np.float32
        model.graph.initializer.extend(
            list(initializers) + [numpy_helper.from_array(np.asarray(0.0, np_type), "zt_zero")]
        )
        model.graph.sparse_initializer.extend(sparse)
        model.graph.node.extend(
            nodes
            + [
                helper.make_node("ReduceSum", [term], ["zt_sum"], keepdims=0),
                helper.make_node("Cast", ["zt_sum"], ["zt_cast"], to=elem),
                helper.make_node("Mul", ["zt_cast", "zt_zero"], ["zt_nothing"]),
                helper.make_node("Add", ["logpdf_raw", "zt_nothing"], ["logpdf"], name="add_zero_term"),
            ]
        )

    return edit


def _int64(name: str, value: Any) -> Any:
    from onnx import numpy_helper

    return numpy_helper.from_array(np.asarray(value, np.int64), name)


def _float32(name: str, value: Any) -> Any:
    from onnx import numpy_helper

    return numpy_helper.from_array(np.asarray(value, np.float32), name)


def _body(helper: Any, name: str, nodes: list[Any], carried: str = "acc") -> Any:
    """A Loop body carrying one float32 tensor: ``{carried}_in`` -> ``{carried}_out`` (nodes write it)."""
    from onnx import TensorProto

    return helper.make_graph(
        [helper.make_node("Identity", [f"{name}_cond_in"], [f"{name}_cond_out"])] + nodes,
        name,
        [
            helper.make_tensor_value_info(f"{name}_i", TensorProto.INT64, []),
            helper.make_tensor_value_info(f"{name}_cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info(f"{name}_{carried}_in", TensorProto.FLOAT, None),
        ],
        [
            helper.make_tensor_value_info(f"{name}_cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info(f"{name}_{carried}_out", TensorProto.FLOAT, None),
        ],
    )


def _counting_body(helper: Any, name: str) -> Any:
    """A Loop body adding 1 to its carried scalar."""
    return _body(helper, name, [helper.make_node("Add", [f"{name}_acc_in", "lp_one"], [f"{name}_acc_out"])])


def loop_model_edit(
    trips: int | None, *, trip_nodes: Callable[[Any], list[Any]] | None = None
) -> Callable[[Any], None]:
    """An ``edit_model`` adding ``Loop(M, true, 0)`` that adds 1 per iteration.

    ``M`` is an int64 initializer ``lp_M`` of value ``trips``; with ``trip_nodes`` (nodes
    writing ``lp_M`` from ``x``) it is computed instead, and with ``trips=None`` and no
    ``trip_nodes`` the Loop has no trip count (only its condition, computed from ``x``).
    """

    def make(helper: Any) -> tuple[list[Any], str]:
        nodes = list(trip_nodes(helper)) if trip_nodes else []
        m = "lp_M" if (trips is not None or trip_nodes) else ""
        if m:
            cond = "lp_true"
        else:  # condition from the data: x has no NaN
            nodes += [
                helper.make_node("ReduceSum", ["x"], ["lp_xsum"], keepdims=0),
                helper.make_node("Equal", ["lp_xsum", "lp_xsum"], ["lp_cond"]),
            ]
            cond = "lp_cond"
        nodes.append(
            helper.make_node(
                "Loop", [m, cond, "lp_zero"], ["lp_count"], body=_counting_body(helper, "lp_body"), name="count_forever"
            )
        )
        return nodes, "lp_count"

    inits = [_float32("lp_zero", 0.0), _float32("lp_one", 1.0)]
    from onnx import numpy_helper

    inits.append(numpy_helper.from_array(np.array(True), "lp_true"))
    if trips is not None and trip_nodes is None:
        inits.append(_int64("lp_M", trips))
    return add_zero_term(make, initializers=inits)


def heavy_loop_edit(trips: int = 10_000, size: int = 1024) -> Callable[[Any], None]:
    """An ``edit_model`` that passes every static rule but runs for minutes: a Loop of ``trips``
    (a legal constant) whose body multiplies two ``size`` x ``size`` matrices computed from ``x``."""

    def make(helper: Any) -> tuple[list[Any], str]:
        body = _body(
            helper, "hv_body", [helper.make_node("MatMul", ["hv_body_acc_in", "hv_start"], ["hv_body_acc_out"])]
        )
        nodes = [
            helper.make_node("ReduceSum", ["x"], ["hv_xsum"], keepdims=0),
            helper.make_node("Cast", ["hv_xsum"], ["hv_xsum32"], to=1),
            helper.make_node("Mul", ["hv_xsum32", "hv_tiny"], ["hv_scale"]),
            helper.make_node("Expand", ["hv_scale", "hv_shape"], ["hv_start"]),
            helper.make_node("Loop", ["hv_M", "hv_true", "hv_start"], ["hv_product"], body=body, name="heavy_loop"),
        ]
        return nodes, "hv_product"

    from onnx import numpy_helper

    inits = [
        _int64("hv_M", trips),
        _int64("hv_shape", [size, size]),
        _float32("hv_tiny", 1e-30),
        numpy_helper.from_array(np.array(True), "hv_true"),
    ]
    return add_zero_term(make, initializers=inits)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def deeply_nested_model(valid_model: bytes, depth: int) -> bytes:
    """The model with one more node: ``If`` nodes nested ``depth`` deep, written as raw protobuf bytes
    (protobuf's own serialiser refuses to build them). Each level is GraphProto.node -> NodeProto.attribute
    -> AttributeProto.g, so the bytes nest 3 * depth messages deep."""
    from onnx import AttributeProto, TensorProto, helper

    leaf = helper.make_graph(
        [helper.make_node("Identity", ["nest_c"], ["nest_o"])],
        "leaf",
        [],
        [helper.make_tensor_value_info("nest_o", TensorProto.BOOL, [])],
    ).SerializeToString()
    graph = leaf
    for level in range(depth):
        attr = _field(1, b"then_branch") + _varint(20 << 3) + _varint(AttributeProto.GRAPH) + _field(6, graph)
        node = (
            _field(1, b"nest_c")
            + _field(2, b"nest_o")
            + _field(3, f"if{level}".encode())
            + _field(4, b"If")
            + _field(5, attr)
        )
        graph = _field(1, node) + _field(2, f"level{level}".encode())
    # a second ModelProto.graph field is merged into the first: the node is appended to the main graph
    return valid_model + _field(7, _field(1, node))


# Loops ---------------------------------------------------------------------------------------


@broken("onnx-loop-2-to-the-62", "onnx:unbounded")
def _loop_huge(valid: Path, tmp: Path) -> Path:
    """A Loop whose constant trip count is 2**62 (validate, info, eval and load would never return)."""
    return rebuild(valid, tmp / "bundle", edit_model=loop_model_edit(2**62))


@broken("onnx-loop-trip-count-from-data", "onnx:unbounded")
def _loop_from_data(valid: Path, tmp: Path) -> Path:
    """A Loop whose trip count is computed from the input (1e9 * |x| summed), in a zip."""

    def trip_nodes(helper: Any) -> list[Any]:
        return [
            helper.make_node("Abs", ["x"], ["lp_abs"]),
            helper.make_node("ReduceSum", ["lp_abs"], ["lp_sum"], keepdims=0),
            helper.make_node("Mul", ["lp_sum", "lp_billion"], ["lp_big"]),
            helper.make_node("Cast", ["lp_big"], ["lp_M"], to=7),
        ]

    def edit(model: Any) -> None:
        from onnx import numpy_helper

        dtype = np.float64 if _elem_type(model, "logpdf") == 11 else np.float32
        model.graph.initializer.append(numpy_helper.from_array(np.asarray(1e9, dtype), "lp_billion"))
        loop_model_edit(None, trip_nodes=trip_nodes)(model)

    return rebuild(valid, tmp / "bundle.zip", edit_model=edit)


@broken("onnx-loop-without-trip-count", "onnx:unbounded")
def _loop_no_trip_count(valid: Path, tmp: Path) -> Path:
    """A Loop with no trip count M, whose condition (computed from x) stays true forever."""
    return rebuild(valid, tmp / "bundle", edit_model=loop_model_edit(None))


@broken("onnx-loop-nested-product", "onnx:unbounded")
def _loop_nested_product(valid: Path, tmp: Path) -> Path:
    """A Loop of 5000 iterations inside a Loop of 5000: each legal alone, 25 million in all."""

    def make(helper: Any) -> tuple[list[Any], str]:
        inner = helper.make_node(
            "Loop",
            ["np_M", "np_true", "np_outer_acc_in"],
            ["np_outer_acc_out"],
            body=_counting_body(helper, "np_inner"),
            name="inner_loop",
        )
        outer = _body(helper, "np_outer", [inner])
        return [
            helper.make_node("Loop", ["np_M", "np_true", "lp_zero"], ["np_count"], body=outer, name="outer_loop")
        ], "np_count"

    from onnx import numpy_helper

    inits = [
        _int64("np_M", 5000),
        numpy_helper.from_array(np.array(True), "np_true"),
        _float32("lp_zero", 0.0),
        _float32("lp_one", 1.0),
    ]
    return rebuild(valid, tmp / "bundle", edit_model=add_zero_term(make, initializers=inits))


@broken("onnx-control-flow-too-deep", "onnx:unbounded")
def _control_flow_deep(valid: Path, tmp: Path) -> Path:
    """Three Loops of 2 iterations nested in one another (8 iterations in all, but 3 levels deep)."""

    def make(helper: Any) -> tuple[list[Any], str]:
        body = _counting_body(helper, "cf_b3")
        for level, name in ((3, "cf_b2"), (2, "cf_b1")):
            loop = helper.make_node(
                "Loop", ["cf_M", "cf_true", f"{name}_acc_in"], [f"{name}_acc_out"], body=body, name=f"loop_level{level}"
            )
            body = _body(helper, name, [loop])
        return [
            helper.make_node("Loop", ["cf_M", "cf_true", "lp_zero"], ["cf_count"], body=body, name="loop_level1")
        ], "cf_count"

    from onnx import numpy_helper

    inits = [
        _int64("cf_M", 2),
        numpy_helper.from_array(np.array(True), "cf_true"),
        _float32("lp_zero", 0.0),
        _float32("lp_one", 1.0),
    ]
    return rebuild(valid, tmp / "bundle", edit_model=add_zero_term(make, initializers=inits))


@broken("onnx-nested-1000-deep", "onnx:unreadable")
def _nested_deep(valid: Path, tmp: Path) -> Path:
    """If nodes nested 1000 deep (beyond any parser's nesting limit; a recursive walk would crash)."""
    return rebuild(valid, tmp / "bundle", model=deeply_nested_model(model_bytes(valid), 1000))


# sizes ---------------------------------------------------------------------------------------


@broken("onnx-constant-of-shape-huge", "onnx:unbounded")
def _constant_of_shape(valid: Path, tmp: Path) -> Path:
    """ConstantOfShape with the constant shape [2**31, 2**31] (2**62 elements, filled when the model loads)."""

    def make(helper: Any) -> tuple[list[Any], str]:
        value = helper.make_tensor("cs_value", 1, [1], [1.0])
        return [
            helper.make_node("Constant", [], ["cs_shape"], value=_int64("cs_shape_value", [2**31, 2**31])),
            helper.make_node("ConstantOfShape", ["cs_shape"], ["cs_big"], value=value),
        ], "cs_big"

    return rebuild(valid, tmp / "bundle", edit_model=add_zero_term(make))


@broken("onnx-expand-input-huge", "onnx:unbounded")
def _expand_huge(valid: Path, tmp: Path) -> Path:
    """The input expanded to the constant shape [2**20, 2**20, N, P] (2**40 elements per point)."""

    def make(helper: Any) -> tuple[list[Any], str]:
        return [
            helper.make_node("Cast", ["x"], ["ex_x"], to=1),
            helper.make_node("Expand", ["ex_x", "ex_shape"], ["ex_big"]),
        ], "ex_big"

    return rebuild(
        valid, tmp / "bundle", edit_model=add_zero_term(make, initializers=[_int64("ex_shape", [2**20, 2**20, 1, 1])])
    )


@broken("onnx-range-from-constants-huge", "onnx:unbounded")
def _range_huge(valid: Path, tmp: Path) -> Path:
    """Range(0, 2**40, 1): 2**40 elements computed from constants while the model loads."""

    def make(helper: Any) -> tuple[list[Any], str]:
        return [
            helper.make_node("Range", ["rg_start", "rg_limit", "rg_delta"], ["rg_big"]),
            helper.make_node("Cast", ["rg_big"], ["rg_float"], to=1),
        ], "rg_float"

    inits = [_int64("rg_start", 0), _int64("rg_limit", 2**40), _int64("rg_delta", 1)]
    return rebuild(valid, tmp / "bundle", edit_model=add_zero_term(make, initializers=inits))


@broken("onnx-size-computed-from-constants", "onnx:unbounded")
def _size_from_constants(valid: Path, tmp: Path) -> Path:
    """Tile repeats computed as 2**20 * 2**20 from two constants: no literal is large, the result is
    2**40 elements, folded while the model loads."""

    def make(helper: Any) -> tuple[list[Any], str]:
        return [
            helper.make_node("Mul", ["sz_a", "sz_b"], ["sz_repeats"]),
            helper.make_node("Tile", ["sz_one", "sz_repeats"], ["sz_big"]),
        ], "sz_big"

    inits = [_int64("sz_a", [2**20]), _int64("sz_b", [2**20]), _float32("sz_one", [1.0])]
    return rebuild(valid, tmp / "bundle", edit_model=add_zero_term(make, initializers=inits))


@broken("onnx-constant-folding-matmul", "onnx:unbounded")
def _folding_matmul(valid: Path, tmp: Path) -> Path:
    """Two 4096 x 4096 matrices of ones (legal sizes) multiplied three times, all from constants:
    about 2 * 10**11 multiply-adds that onnxruntime's constant folding would do while loading."""

    def make(helper: Any) -> tuple[list[Any], str]:
        value = helper.make_tensor("fm_value", 1, [1], [1.0])
        return [
            helper.make_node("ConstantOfShape", ["fm_shape"], ["fm_a"], value=value),
            helper.make_node("MatMul", ["fm_a", "fm_a"], ["fm_b"]),
            helper.make_node("MatMul", ["fm_b", "fm_a"], ["fm_c"]),
            helper.make_node("MatMul", ["fm_c", "fm_a"], ["fm_d"]),
        ], "fm_d"

    return rebuild(
        valid, tmp / "bundle", edit_model=add_zero_term(make, initializers=[_int64("fm_shape", [4096, 4096])])
    )


@broken("onnx-sparse-constant-huge", "onnx:unbounded")
def _sparse_huge(valid: Path, tmp: Path) -> Path:
    """A Constant whose sparse value holds one number in a dense shape of [2**31, 2**31] (densified on load)."""

    def make(helper: Any) -> tuple[list[Any], str]:
        sparse = helper.make_sparse_tensor(_float32("sp_values", [1.0]), _int64("sp_indices", [0]), [2**31, 2**31])
        return [helper.make_node("Constant", [], ["sp_big"], sparse_value=sparse)], "sp_big"

    return rebuild(valid, tmp / "bundle", edit_model=add_zero_term(make))


# external data where a flat scan of initializers does not look --------------------------------


def _external(tensor: Any, location: str) -> Any:
    import onnx

    tensor.ClearField("raw_data")
    tensor.ClearField("float_data")
    tensor.data_location = onnx.TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "4")):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    return tensor


@broken("onnx-external-data-in-subgraph-attribute", "onnx:external-data")
def _external_in_subgraph(valid: Path, tmp: Path) -> Path:
    """A Constant node inside a Loop body whose value lives in ../../etc/passwd."""

    def make(helper: Any) -> tuple[list[Any], str]:
        const = helper.make_node(
            "Constant", [], ["ed_value"], value=_external(_float32("ed_value_t", 1.0), "../../etc/passwd")
        )
        body = _body(
            helper, "ed_body", [const, helper.make_node("Add", ["ed_body_acc_in", "ed_value"], ["ed_body_acc_out"])]
        )
        return [
            helper.make_node("Loop", ["ed_M", "ed_true", "lp_zero"], ["ed_sum"], body=body, name="loop_external")
        ], "ed_sum"

    from onnx import numpy_helper

    inits = [_int64("ed_M", 1), numpy_helper.from_array(np.array(True), "ed_true"), _float32("lp_zero", 0.0)]
    return rebuild(valid, tmp / "bundle", edit_model=add_zero_term(make, initializers=inits))


@broken("onnx-external-data-in-sparse-initializer", "onnx:external-data")
def _external_sparse(valid: Path, tmp: Path) -> Path:
    """A sparse initializer whose values live in /etc/passwd."""
    from onnx import helper

    sparse = helper.make_sparse_tensor(
        _external(_float32("es_values", [1.0]), "/etc/passwd"), _int64("es_indices", [0]), [4]
    )

    def make(h: Any) -> tuple[list[Any], str]:
        return [], "es_values"

    return rebuild(valid, tmp / "bundle", edit_model=add_zero_term(make, sparse=[sparse]))
