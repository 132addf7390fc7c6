"""Static checks of a bundle's ONNX model: readable, standard, and as declared.

- the file parses as an ONNX ModelProto (a truncated file does not);
- only operators of the standard domains are used: no custom-domain ops,
  which would need code from outside the bundle to run;
- no external-data tensors (their paths could point outside the bundle);
- ``onnx.checker`` passes (with shape inference);
- IR version, default-domain opset, inputs and outputs (names, element types,
  shapes, order) match ``bundle.json``.
"""

from __future__ import annotations

from typing import Any, Iterator

from ..report import Problem, one_line

__all__ = ["STANDARD_DOMAINS", "load_onnx", "iter_onnx_problems"]

STANDARD_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml"})

_DTYPES = {1: "float32", 11: "float64", 7: "int64", 6: "int32", 9: "bool", 10: "float16", 16: "bfloat16"}


def load_onnx(data: bytes, file: str) -> tuple[Any, list[Problem]]:
    """Parse ONNX bytes; return ``(model, problems)`` with model None if unreadable."""
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load_model_from_string(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        return None, [Problem("onnx:unreadable", f"is not a readable ONNX model (truncated or corrupt?): {one_line(exc)}", file)]
    if not model.HasField("graph") or not model.graph.output:
        return None, [Problem("onnx:unreadable", "is not an ONNX model (no graph or no outputs); truncated or corrupt?", file)]
    return model, []


def _iter_graphs(graph: Any) -> Iterator[Any]:
    """The graph and every subgraph nested in node attributes (If, Loop, Scan)."""
    yield graph
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("g"):
                yield from _iter_graphs(attr.g)
            for sub in attr.graphs:
                yield from _iter_graphs(sub)


def _iter_tensors(model: Any) -> Iterator[Any]:
    for graph in _iter_graphs(model.graph):
        yield from graph.initializer
        for node in graph.node:
            for attr in node.attribute:
                if attr.HasField("t"):
                    yield attr.t


def _structure_problems(model: Any, file: str) -> list[Problem]:
    import onnx

    problems = []
    for opset in model.opset_import:
        if opset.domain not in STANDARD_DOMAINS:
            problems.append(Problem("onnx:custom-op", f"imports custom operator domain {opset.domain!r}; only standard ONNX operators are allowed", file))
    for graph in _iter_graphs(model.graph):
        for node in graph.node:
            if node.domain not in STANDARD_DOMAINS:
                problems.append(
                    Problem(
                        "onnx:custom-op",
                        f"node {node.name or node.op_type!r} uses operator {node.op_type!r} of custom domain {node.domain!r}; "
                        "only standard ONNX operators are allowed",
                        file,
                    )
                )
    if model.functions:
        problems.append(Problem("onnx:custom-op", f"defines {len(model.functions)} local function(s); only standard ONNX operators are allowed", file))
    for tensor in _iter_tensors(model):
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            problems.append(Problem("onnx:external-data", f"tensor {tensor.name!r} keeps its data in an external file; bundles embed all weights", file))
    return problems


def _shape_of(value_info: Any) -> list[int | None] | None:
    t = value_info.type.tensor_type
    if not t.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]


def _contract_problems(model: Any, declared: dict[str, Any], file: str) -> Iterator[Problem]:
    default_opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    if default_opset != declared["opset"]:
        yield Problem("contract:opset", f"declares opset {declared['opset']}, the model imports opset {default_opset}", "bundle.json#/model/opset")
    if model.ir_version != declared["ir_version"]:
        yield Problem("contract:ir-version", f"declares IR version {declared['ir_version']}, the model has {model.ir_version}", "bundle.json#/model/ir_version")
    initializers = {t.name for t in model.graph.initializer}
    actual = {
        "inputs": [v for v in model.graph.input if v.name not in initializers],
        "outputs": list(model.graph.output),
    }
    for side in ("inputs", "outputs"):
        got = [v.name for v in actual[side]]
        want = [t["name"] for t in declared[side]]
        if got != want:
            yield Problem(
                f"contract:{side[:-1]}-names",
                f"model {side} are {got}, bundle.json declares {want}",
                f"bundle.json#/model/{side}",
            )
        by_name = {v.name: v for v in actual[side]}
        for i, t in enumerate(declared[side]):
            v = by_name.get(t["name"])
            if v is None:
                continue
            where = f"bundle.json#/model/{side}/{i}"
            dtype = _DTYPES.get(v.type.tensor_type.elem_type, str(v.type.tensor_type.elem_type))
            if dtype != t["dtype"]:
                yield Problem(f"contract:{side[:-1]}-dtype", f"{t['name']!r} is {dtype} in the model, declared {t['dtype']}", f"{where}/dtype")
            shape = _shape_of(v)
            if shape is not None and shape != t["shape"]:
                yield Problem(
                    f"contract:{side[:-1]}-shape",
                    f"{t['name']!r} has shape {_fmt(shape)} in the model, declared {_fmt(t['shape'])}",
                    f"{where}/shape",
                )


def _fmt(shape: list[int | None]) -> str:
    return "[" + ", ".join("N" if d is None else str(d) for d in shape) + "]"


def iter_onnx_problems(model: Any, declared: dict[str, Any] | None, file: str) -> Iterator[Problem]:
    """Problems of a parsed ONNX model; contract checks run when ``declared`` (bundle.json's model) is given."""
    import onnx

    structure = _structure_problems(model, file)
    yield from structure
    if not structure:
        try:
            onnx.checker.check_model(model, full_check=True)
        except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError, ValueError, RuntimeError) as exc:
            yield Problem("onnx:checker", f"fails the ONNX checker: {one_line(exc)}", file)
    if declared is not None:
        yield from _contract_problems(model, declared, file)
