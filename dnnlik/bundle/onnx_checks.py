"""Static checks of a bundle's ONNX model: readable, standard, bounded, and as declared.

- the file parses as an ONNX ModelProto (a truncated file does not);
- only operators of the standard domains are used: no custom-domain ops,
  which would need code from outside the bundle to run;
- no external-data tensors (their paths could point outside the bundle),
  wherever a tensor can be: initializers, sparse initializers, node
  attributes, in the main graph and in every subgraph;
- its cost can be bounded before it runs (code ``onnx:unbounded``, see below);
- ``onnx.checker`` passes (with shape inference);
- IR version, default-domain opset, inputs and outputs (names, element types,
  shapes, order) match ``bundle.json``.

Bounded cost (``onnx:unbounded``)
---------------------------------
A bundle comes from strangers, and a graph can ask for unbounded work: a
``Loop`` of 2**62 iterations, a tensor of 2**62 elements, or heavy arithmetic
on constants, which runtimes (onnxruntime's constant folding) do while they
*load* the model, before any time limit on a run applies. A model is refused,
and never run, unless all of the following hold (the limits are the module
constants below):

1. **Control-flow depth.** A node with a graph attribute (``If``, ``Loop``,
   ``Scan``, ``SequenceMap``) opens a subgraph one level deeper than the graph
   that holds it; the main graph is level 0. No subgraph may be deeper than
   :data:`MAX_CONTROL_FLOW_DEPTH` (a Loop inside a Loop is allowed, a third
   level is not). Subgraphs are walked iteratively, so a model nested
   arbitrarily deep gets this problem, not a crash. (Protobuf parsers stop
   earlier: the Python one refuses messages nested more than 100 deep, about
   32 control-flow levels, and such a file is ``onnx:unreadable``.)
2. **Loop trip counts.** Every ``Loop`` has a trip count ``M`` (its first
   input) that is a constant: the name of an initializer or of a ``Constant``
   node's output, in its own graph or an enclosing one, not shadowed by a
   graph input or another node's output in a nearer graph. Its value is one
   integer ``0 <= M <=`` :data:`MAX_LOOP_TRIPS`. A Loop without ``M`` (which
   runs until its condition turns false) or with ``M`` computed at run time is
   refused, whatever its condition. The product of the trip counts of a
   Loop and of the Loops enclosing it is at most :data:`MAX_NESTED_TRIPS`.
   ``Scan``, ``SequenceMap`` and ``If`` run their bodies at most once per
   element of their inputs (or once): they count for rule 1, not here.
3. **Tensor sizes.** No tensor of the model has more than
   :data:`MAX_TENSOR_ELEMENTS` elements where that can be known before
   running it: every tensor stored in the model (initializers, sparse
   initializers by their dense shape, tensor attributes such as a
   ``Constant``'s value), and every value whose shape ONNX shape inference
   determines when each dimension of the model's inputs that the model leaves
   free (the batch size ``N``) is set to 1, counting dimensions it cannot
   determine as 1. This covers ``ConstantOfShape``, ``Expand``, ``Tile``,
   ``Range``, ``Pad``, ``Resize``, ``OneHot``, ``Random*`` and any other op
   whose output size comes from a constant. (``Reshape`` never changes a
   tensor's size.) Moreover, an operator whose output size is the value of
   one of its inputs (``ConstantOfShape`` input 0, ``Expand`` 1, ``Tile`` 1,
   ``Range`` 0-2, ``Pad`` 1, ``Resize`` 2 and 3, ``Upsample`` 1, ``OneHot`` 1,
   ``CenterCropPad`` 1, ``MaxUnpool`` 2, ``Col2Im`` 1 and 2) must have a shape
   that inference determines whenever such an input is *computed from
   constants* (rule 4) rather than stored: ``Expand(x, Mul(a, b))`` hides a
   constant size that inference cannot follow.
4. **Work done at load time.** A value is *computed from constants* when it
   is the output of a node that has at least one input, all of them constants
   (initializers, ``Constant`` outputs, or values computed from constants),
   no graph attribute, and is not a random-number op. Runtimes may compute
   such values when they load the model, outside any time limit. Each must
   have a shape that shape inference determines (as in rule 3), and their
   estimated total cost is at most :data:`MAX_CONSTANT_WORK` element
   operations: a node costs its input plus output elements; ``MatMul`` and
   ``Gemm`` add output elements times the contracted dimension; operators
   outside a list of linear-time ones (elementwise, layout, reductions) cost
   input plus output elements plus output times input elements.

The rules are checked in two passes: rules 1, 2 and the stored tensors of
rule 3 by walking the protobuf (before ``onnx.checker``, which recurses into
subgraphs and so must not see a model nested too deeply), the rest on the
shapes that ``onnx.shape_inference`` infers once the checker has passed
(without its data propagation, which computes ``Range`` outputs element by
element).

What these rules leave open is bounded at run time: sizes that depend on the
input's values or shape (``ConstantOfShape(Shape(x) ...)``), and loop-carried
tensors that grow with each iteration (shape inference cannot follow them).
Validation runs the model through :func:`dnnlik.evaluate.session.run_bounded`,
which stops a run after ``RUN_SECONDS`` (between two nodes: one huge node runs
to its end), and onnxruntime refuses allocations the process cannot make (the
doubling Loop of 60 iterations fails after 1.5 s at 2.2 GB under
``ulimit -v 4194304``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..report import Problem, one_line

__all__ = [
    "STANDARD_DOMAINS",
    "MAX_CONTROL_FLOW_DEPTH",
    "MAX_LOOP_TRIPS",
    "MAX_NESTED_TRIPS",
    "MAX_TENSOR_ELEMENTS",
    "MAX_CONSTANT_WORK",
    "load_onnx",
    "iter_onnx_problems",
]

STANDARD_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml"})

#: Deepest subgraph allowed: a node with a graph attribute (If, Loop, Scan, SequenceMap) puts
#: its subgraphs one level below the graph holding it; the main graph is level 0. 2 allows a
#: Loop in a Loop (or an If in a Scan), not a third level.
MAX_CONTROL_FLOW_DEPTH = 2
#: Largest trip count ``M`` of one Loop (M must be a constant: rule 2 of the module docstring).
MAX_LOOP_TRIPS = 10_000
#: Largest product of the trip counts of a Loop and of the Loops enclosing it.
MAX_NESTED_TRIPS = 100_000
#: Largest tensor whose size is known before running the model: 2**26 elements
#: (256 MiB of float32, 512 MiB of float64), so that a few live tensors fit well within a
#: 4 GiB address space. The widest layers of a likelihood network hold ~10**6 weights.
MAX_TENSOR_ELEMENTS = 2**26
#: Largest estimated cost, in element operations, of the values computed from constants alone
#: (which runtimes may compute while loading the model): a fraction of a second.
MAX_CONSTANT_WORK = 2**26
#: Cost problems reported one by one; any further ones are summed up in one more problem.
MAX_COST_PROBLEMS = 10

_DTYPES = {1: "float32", 11: "float64", 7: "int64", 6: "int32", 9: "bool", 10: "float16", 16: "bfloat16"}
_DEFAULT_DOMAINS = frozenset({"", "ai.onnx"})
_INTEGER_TYPES = frozenset({2, 3, 4, 5, 6, 7, 12, 13})  # uint8, int8, uint16, int16, int32, int64, uint32, uint64
_NOT_FOLDED = frozenset(
    {"RandomUniform", "RandomNormal", "RandomUniformLike", "RandomNormalLike", "Multinomial", "Bernoulli"}
)
_CONTRACTIONS = frozenset({"MatMul", "MatMulInteger", "Gemm"})
# Operators whose output size is given by the value of some of their inputs (by position).
_SIZE_INPUTS = {
    "ConstantOfShape": (0,),
    "Expand": (1,),
    "Tile": (1,),
    "Range": (0, 1, 2),
    "Pad": (1,),
    "Resize": (2, 3),
    "Upsample": (1,),
    "OneHot": (1,),
    "CenterCropPad": (1,),
    "MaxUnpool": (2,),
    "Col2Im": (1, 2),
}
# Operators whose cost is linear in the sizes of their inputs and outputs.
_LINEAR_OPS = frozenset(
    """Abs Acos Acosh Add And Asin Asinh Atan Atanh BitShift BitwiseAnd BitwiseNot BitwiseOr BitwiseXor Cast CastLike
    Ceil Celu Clip Compress Concat ConstantOfShape Cos Cosh CumSum DepthToSpace DequantizeLinear Div Elu Equal Erf Exp
    Expand EyeLike Flatten Floor Gather GatherElements GatherND Gelu Greater GreaterOrEqual HardSigmoid HardSwish
    Identity IsInf IsNaN LeakyRelu Less LessOrEqual Log Max Mean Min Mish Mod Mul Neg Not OneHot Or PRelu Pad Pow
    QuantizeLinear Range Reciprocal ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceMax ReduceMean ReduceMin
    ReduceProd ReduceSum ReduceSumSquare Relu Reshape ReverseSequence Round ScatterElements ScatterND Selu Shape Shrink
    Sigmoid Sign Sin Sinh Size Slice Softplus Softsign SpaceToDepth Split Sqrt Squeeze Sub Sum Tan Tanh ThresholdedRelu
    Tile Transpose Trilu Unsqueeze Where Xor ArgMax ArgMin""".split()
)


def load_onnx(data: bytes, file: str) -> tuple[Any, list[Problem]]:
    """Parse ONNX bytes; return ``(model, problems)`` with model None if unreadable.

    Args:
        data: the model file's bytes.
        file: its name in the bundle (the problems' location).

    Returns:
        The ``onnx.ModelProto``, or None, and the problems (``onnx:unreadable``).
    """
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load_model_from_string(data)
    except (DecodeError, ValueError, RuntimeError) as exc:  # RecursionError is a RuntimeError
        text = one_line(exc)
        hint = (
            "nested too deeply to parse"
            if ("depth" in text.lower() or "recursion" in text.lower())
            else "truncated or corrupt?"
        )
        return None, [Problem("onnx:unreadable", f"is not a readable ONNX model ({hint}): {text}", file)]
    if not model.HasField("graph") or not model.graph.output:
        return None, [
            Problem("onnx:unreadable", "is not an ONNX model (no graph or no outputs); truncated or corrupt?", file)
        ]
    return model, []


# walking the graphs -------------------------------------------------------------------


def _subgraphs(node: Any) -> list[Any]:
    subs = []
    for attr in node.attribute:
        if attr.HasField("g"):
            subs.append(attr.g)
        subs.extend(attr.graphs)
    return subs


def _iter_graphs(graph: Any) -> Iterator[Any]:
    """The graph and every subgraph nested in node attributes (If, Loop, Scan), at any depth.

    Iterative (an explicit stack), so that a model nested thousands deep cannot exhaust
    Python's recursion limit.
    """
    stack = [graph]
    while stack:
        g = stack.pop()
        yield g
        for node in g.node:
            stack.extend(reversed(_subgraphs(node)))


def _attr_tensors(node: Any) -> Iterator[tuple[Any, bool]]:
    """``(tensor, is_sparse)`` for every tensor held in the node's attributes."""
    for attr in node.attribute:
        if attr.HasField("t"):
            yield attr.t, False
        for t in attr.tensors:
            yield t, False
        if attr.HasField("sparse_tensor"):
            yield attr.sparse_tensor, True
        for t in attr.sparse_tensors:
            yield t, True


def _iter_stored(model: Any) -> Iterator[tuple[Any, bool, Any, Any]]:
    """``(tensor, is_sparse, graph, node or None)`` for every tensor stored in the model."""
    for graph in _iter_graphs(model.graph):
        for t in graph.initializer:
            yield t, False, graph, None
        for t in graph.sparse_initializer:
            yield t, True, graph, None
        for node in graph.node:
            for t, sparse in _attr_tensors(node):
                yield t, sparse, graph, node


def _iter_tensors(model: Any) -> Iterator[Any]:
    """Every dense TensorProto of the model, the parts of sparse ones included."""
    for tensor, sparse, _, _ in _iter_stored(model):
        if sparse:
            yield tensor.values
            yield tensor.indices
        else:
            yield tensor


def _shown(name: str, limit: int = 40) -> str:
    text = repr(str(name))
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def _node_label(node: Any) -> str:
    op = _shown(node.op_type, 30).strip("'")
    return f"node {_shown(node.name)} ({op})" if node.name else f"an unnamed {op} node"


#: Products of dimensions stop growing here: a crafted shape of a million dimensions of 2**62 would
#: otherwise cost a multiplication of million-digit numbers for each one.
_SATURATED = 2**80


def _product(factors: Any) -> int:
    """The product of non-negative ints, saturated at :data:`_SATURATED` (0 if any factor is 0)."""
    factors = list(factors)
    if any(f <= 0 for f in factors):
        return 0
    n = 1
    for f in factors:
        n *= f
        if n >= _SATURATED:
            return _SATURATED
    return n


def _elements(dims: Any) -> int:
    """Number of elements of a shape given as ints (negative dims count as 0), saturated."""
    return _product(int(d) for d in dims)


def _fmt_count(n: int) -> str:
    """``n`` in digits, or as a power of two when it is astronomically large (a crafted shape's product)."""
    if n >= _SATURATED:
        return f"more than 2**{_SATURATED.bit_length() - 1}"
    return str(n) if n < 10**15 else f"about 2**{math.log2(n):.0f}"


class _Scope:
    """The names a graph defines, chained to those of the enclosing graphs."""

    __slots__ = ("defs", "parent", "folded")

    def __init__(self, graph: Any, parent: _Scope | None) -> None:
        defs: dict[str, tuple[str, Any]] = {}
        for t in graph.initializer:
            defs[t.name] = ("init", t)
        for t in graph.sparse_initializer:
            defs[t.values.name] = ("value", None)
        for v in graph.input:  # an initializer that is also an input can be overridden by a feed
            defs[v.name] = ("input", None)
        for node in graph.node:
            kind = "const" if (node.op_type == "Constant" and node.domain in _DEFAULT_DOMAINS) else "value"
            for name in node.output:
                if name:
                    defs[name] = (kind, node)
        self.defs = defs
        self.parent = parent
        self.folded: set[str] = set()  # values of this graph found to be computed from constants

    def _owner(self, name: str) -> tuple[_Scope, tuple[str, Any]] | None:
        scope: _Scope | None = self
        while scope is not None:
            found = scope.defs.get(name)
            if found is not None:
                return scope, found
            scope = scope.parent
        return None

    def lookup(self, name: str) -> tuple[str, Any] | None:
        """``(kind, payload)`` of the nearest definition of ``name``: kind is init, const, input or value."""
        owner = self._owner(name)
        return None if owner is None else owner[1]

    def is_folded(self, name: str) -> bool:
        """Whether ``name`` is computed from constants by a node (not stored in the model)."""
        owner = self._owner(name)
        return owner is not None and name in owner[0].folded

    def is_constant(self, name: str) -> bool:
        """Whether ``name`` is an initializer, a Constant's output, or a value computed from constants."""
        owner = self._owner(name)
        if owner is None:
            return False
        scope, (kind, _) = owner
        return kind in ("init", "const") or name in scope.folded


def _single_integer(kind: str, payload: Any) -> int | None:
    """The value of a constant that holds exactly one integer, else None."""
    if kind == "init":
        return _tensor_integer(payload)
    node = payload
    for attr in node.attribute:
        if attr.name == "value" and attr.HasField("t"):
            return _tensor_integer(attr.t)
        if attr.name == "value_int":
            return int(attr.i)
        if attr.name == "value_ints" and len(attr.ints) == 1:
            return int(attr.ints[0])
    return None


def _tensor_integer(tensor: Any) -> int | None:
    import onnx
    from onnx import numpy_helper

    if tensor.data_type not in _INTEGER_TYPES or _elements(tensor.dims) != 1:
        return None
    if tensor.data_location == onnx.TensorProto.EXTERNAL:
        return None
    try:
        return int(numpy_helper.to_array(tensor).reshape(-1)[0])
    except Exception:  # malformed tensor data (onnx and numpy raise various classes)
        return None


# rules 1 and 2, and the stored tensors of rule 3 (before the checker) ----------------------


@dataclass
class _Collector:
    """Cost problems, at most MAX_COST_PROBLEMS of them, the rest counted."""

    file: str
    problems: list[Problem] = field(default_factory=list)
    dropped: int = 0

    def add(self, message: str) -> None:
        if len(self.problems) < MAX_COST_PROBLEMS:
            self.problems.append(Problem("onnx:unbounded", message, self.file))
        else:
            self.dropped += 1

    def result(self) -> list[Problem]:
        if self.dropped:
            self.problems.append(
                Problem(
                    "onnx:unbounded",
                    f"{self.dropped} more node(s) or tensor(s) whose cost cannot be bounded",
                    self.file,
                )
            )
        return self.problems


def _in(where: str) -> str:
    return f"in {where}"


def _loop_trips(node: Any, scope: _Scope, outer: int, where: str, out: _Collector) -> int:
    """The trip count product inside ``node`` (a Loop); reports a problem and returns ``outer`` if unbounded."""
    label = f"{_node_label(node)} {_in(where)}"
    limit = f"M must be a constant (an initializer or a Constant node) of at most {MAX_LOOP_TRIPS}"
    name = node.input[0] if len(node.input) else ""
    if not name:
        out.add(
            f"{label} has no trip count M: it runs until its condition turns false, which cannot be bounded "
            f"before running it; {limit}"
        )
        return outer
    found = scope.lookup(name)
    if found is not None and found[0] == "input":
        out.add(
            f"{label} takes its trip count M from {_shown(name)}, an input of its graph (whose value is fed "
            f"when the model runs, even where an initializer gives a default); {limit}"
        )
        return outer
    if found is None or found[0] not in ("init", "const"):
        out.add(f"{label} takes its trip count M from {_shown(name)}, which is computed when the model runs; {limit}")
        return outer
    trips = _single_integer(*found)
    if trips is None:
        out.add(f"{label}: its trip count M ({_shown(name)}) is not a single integer; {limit}")
        return outer
    if trips < 0:
        out.add(f"{label} has a negative trip count M ({trips}); M must be an integer from 0 to {MAX_LOOP_TRIPS}")
        return outer
    if trips > MAX_LOOP_TRIPS:
        out.add(
            f"{label} runs {_fmt_count(trips)} iterations (its trip count M); a Loop may run at most {MAX_LOOP_TRIPS}"
        )
        return outer
    total = outer * trips
    if total > MAX_NESTED_TRIPS:
        out.add(
            f"{label} runs {trips} iterations inside enclosing loops of {outer}: {_fmt_count(total)} in all, "
            f"at most {MAX_NESTED_TRIPS} are allowed"
        )
        return outer
    return total


def _control_flow_problems(model: Any, out: _Collector) -> None:
    """Rules 1 and 2: control-flow depth and Loop trip counts, walking the graphs iteratively."""
    stack: list[tuple[Any, int, _Scope, int, str]] = [(model.graph, 0, _Scope(model.graph, None), 1, "the main graph")]
    while stack:
        graph, depth, scope, trips, where = stack.pop()
        for node in graph.node:
            inner = trips
            if node.op_type == "Loop" and node.domain in _DEFAULT_DOMAINS:
                inner = _loop_trips(node, scope, trips, where, out)
            subs = _subgraphs(node)
            if not subs:
                continue
            if depth + 1 > MAX_CONTROL_FLOW_DEPTH:
                out.add(
                    f"{_node_label(node)} {_in(where)} opens a subgraph at control-flow depth {depth + 1}; "
                    f"If, Loop and Scan may be nested at most {MAX_CONTROL_FLOW_DEPTH} deep"
                )
                continue
            for sub in subs:
                label = f"subgraph {_shown(sub.name)} of {_node_label(node)}"
                stack.append((sub, depth + 1, _Scope(sub, scope), inner, label))


def _stored_size_problems(model: Any, out: _Collector) -> None:
    """Rule 3 for tensors stored in the model: declared dense shapes of at most MAX_TENSOR_ELEMENTS."""
    for tensor, sparse, graph, node in _iter_stored(model):
        n = _elements(tensor.dims)
        if n <= MAX_TENSOR_ELEMENTS:
            continue
        name = _shown(tensor.values.name if sparse else tensor.name)
        if node is not None:
            what = f"a {'sparse ' if sparse else ''}tensor attribute of {_node_label(node)}"
        else:
            what = f"{'sparse ' if sparse else ''}initializer {name}"
        shape = f" ({'dense ' if sparse else ''}shape {list(tensor.dims)})" if len(tensor.dims) <= 4 else ""
        out.add(
            f"{what} in graph {_shown(graph.name)} has {_fmt_count(n)} elements{shape}; "
            f"at most {MAX_TENSOR_ELEMENTS} are allowed"
        )


# rules 3 and 4 on inferred shapes (after the checker) -----------------------------------------


def _inferred(model: Any) -> Any:
    """The model with shapes inferred, each free dimension of its inputs set to 1 (None if inference fails)."""
    import onnx

    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    stored = {t.name for t in copy.graph.initializer}
    for v in copy.graph.input:
        if v.name in stored or not v.type.HasField("tensor_type") or not v.type.tensor_type.HasField("shape"):
            continue
        for dim in v.type.tensor_type.shape.dim:
            if not dim.HasField("dim_value") or dim.dim_value < 0:
                dim.dim_value = 1
    for candidate in (copy, model):
        try:
            return onnx.shape_inference.infer_shapes(candidate, check_type=False, strict_mode=False, data_prop=False)
        except Exception:  # onnx raises InferenceError, ValueError, RuntimeError...
            continue
    return None


def _value_shapes(graph: Any) -> dict[str, list[int | None] | None]:
    """Shapes known in ``graph`` by value name: None for an unknown shape (or a non-tensor), None dims unknown."""
    shapes: dict[str, list[int | None] | None] = {}
    for v in list(graph.input) + list(graph.value_info) + list(graph.output):
        t = v.type
        if t.HasField("tensor_type") and t.tensor_type.HasField("shape"):
            shapes[v.name] = [
                d.dim_value if (d.HasField("dim_value") and d.dim_value >= 0) else None for d in t.tensor_type.shape.dim
            ]
        else:
            shapes.setdefault(v.name, None)
    for t in graph.initializer:
        shapes[t.name] = [int(d) for d in t.dims]
    for t in graph.sparse_initializer:
        shapes[t.values.name] = [int(d) for d in t.dims]
    return shapes


def _lower_bound(shape: list[int | None]) -> int:
    return _product(1 if d is None else d for d in shape)


def _node_work(node: Any, in_shapes: list[list[int]], out_shapes: list[list[int]]) -> int:
    n_in = sum(_elements(s) for s in in_shapes)
    n_out = sum(_elements(s) for s in out_shapes)
    op = node.op_type
    if op in _LINEAR_OPS:
        return n_in + n_out
    if op in _CONTRACTIONS and in_shapes and in_shapes[0]:
        a = in_shapes[0]
        k = a[-1]
        if op == "Gemm" and len(a) == 2 and any(at.name == "transA" and at.i for at in node.attribute):
            k = a[0]
        return n_in + n_out + n_out * max(k, 1)
    return n_in + n_out + n_out * max(n_in, 1)


def _inferred_problems(model: Any, out: _Collector) -> None:
    """Rules 3 (inferred shapes) and 4 (values computed from constants)."""
    inferred = _inferred(model)
    if inferred is None:
        return
    work = 0
    heaviest: tuple[int, str] = (0, "")
    stack: list[tuple[Any, _Scope | None, dict[str, Any], str]] = [(inferred.graph, None, {}, "the main graph")]
    while stack:
        graph, parent, outer_shapes, where = stack.pop()
        scope = _Scope(graph, parent)
        shapes = {**outer_shapes, **_value_shapes(graph)}
        for node in graph.node:
            outputs = [o for o in node.output if o]
            for name in outputs:
                shape = shapes.get(name)
                if shape is not None and _lower_bound(shape) > MAX_TENSOR_ELEMENTS:
                    out.add(
                        f"{_shown(name)}, computed by {_node_label(node)} {_in(where)}, would have "
                        f"{_fmt_count(_lower_bound(shape))} elements or more for a single point; "
                        f"at most {MAX_TENSOR_ELEMENTS} are allowed"
                    )
            sized_by = [
                node.input[i] for i in _SIZE_INPUTS.get(node.op_type, ()) if i < len(node.input) and node.input[i]
            ]
            sized_by_folded = any(scope.is_folded(i) for i in sized_by)
            if sized_by_folded and any(shapes.get(o) is None or None in shapes[o] for o in outputs):  # (rule 3)
                out.add(
                    f"{_node_label(node)} {_in(where)} takes its output size from a value computed from constants "
                    "that shape inference cannot follow, so its size cannot be bounded before running it; "
                    "store that value as an initializer instead"
                )
            subs = _subgraphs(node)
            for sub in subs:
                stack.append((sub, scope, shapes, f"subgraph {_shown(sub.name)} of {_node_label(node)}"))
            inputs = [i for i in node.input if i]
            if (
                subs
                or not inputs
                or node.op_type in _NOT_FOLDED
                or node.op_type == "Constant"
                or node.domain not in STANDARD_DOMAINS
                or not all(scope.is_constant(i) for i in inputs)
            ):
                continue
            in_shapes = [shapes.get(i) for i in inputs]
            out_shapes = [shapes.get(o) for o in outputs]
            unknown = [o for o, s in zip(outputs, out_shapes, strict=True) if s is None or None in s]
            if unknown or any(s is None or None in s for s in in_shapes):
                if sized_by_folded:
                    continue  # said above
                name = unknown[0] if unknown else outputs[0] if outputs else "?"
                out.add(
                    f"{_node_label(node)} {_in(where)} computes {_shown(name)} from constants alone (runtimes "
                    "do so while loading the model, before any time limit applies), but its size cannot be "
                    "determined from the graph; store the result as an initializer instead"
                )
                continue
            scope.folded.update(outputs)
            cost = _node_work(node, in_shapes, out_shapes)  # type: ignore[arg-type]  # every shape known: checked above
            work += cost
            if cost > heaviest[0]:
                heaviest = (cost, f"{_node_label(node)} {_in(where)}")
    if work > MAX_CONSTANT_WORK:
        out.add(
            f"the values computed from constants alone (which runtimes compute while loading the model, before "
            f"any time limit applies) cost an estimated {_fmt_count(work)} element operations, the heaviest "
            f"{heaviest[1]}; at most {MAX_CONSTANT_WORK} are allowed"
        )


# structure, contract ------------------------------------------------------------------------


def _structure_problems(model: Any, file: str) -> list[Problem]:
    import onnx

    problems = []
    for opset in model.opset_import:
        if opset.domain not in STANDARD_DOMAINS:
            problems.append(
                Problem(
                    "onnx:custom-op",
                    f"imports custom operator domain {opset.domain!r}; only standard ONNX operators are allowed",
                    file,
                )
            )
    for graph in _iter_graphs(model.graph):
        for node in graph.node:
            if node.domain not in STANDARD_DOMAINS:
                problems.append(
                    Problem(
                        "onnx:custom-op",
                        f"node {node.name or node.op_type!r} uses operator {node.op_type!r} of custom domain "
                        f"{node.domain!r}; only standard ONNX operators are allowed",
                        file,
                    )
                )
    if model.functions:
        problems.append(
            Problem(
                "onnx:custom-op",
                f"defines {len(model.functions)} local function(s); only standard ONNX operators are allowed",
                file,
            )
        )
    for tensor in _iter_tensors(model):
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            problems.append(
                Problem(
                    "onnx:external-data",
                    f"tensor {tensor.name!r} keeps its data in an external file; bundles embed all weights",
                    file,
                )
            )
    costs = _Collector(file)
    _control_flow_problems(model, costs)
    _stored_size_problems(model, costs)
    problems.extend(costs.result())
    return problems


def _shape_of(value_info: Any) -> list[int | None] | None:
    t = value_info.type.tensor_type
    if not t.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]


def _contract_problems(model: Any, declared: dict[str, Any], file: str) -> Iterator[Problem]:
    default_opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    if default_opset != declared["opset"]:
        yield Problem(
            "contract:opset",
            f"declares opset {declared['opset']}, the model imports opset {default_opset}",
            "bundle.json#/model/opset",
        )
    if model.ir_version != declared["ir_version"]:
        yield Problem(
            "contract:ir-version",
            f"declares IR version {declared['ir_version']}, the model has {model.ir_version}",
            "bundle.json#/model/ir_version",
        )
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
                yield Problem(
                    f"contract:{side[:-1]}-dtype",
                    f"{t['name']!r} is {dtype} in the model, declared {t['dtype']}",
                    f"{where}/dtype",
                )
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
    """Problems of a parsed ONNX model; contract checks run when ``declared`` (bundle.json's model) is given.

    Args:
        model: the parsed model (:func:`load_onnx`).
        declared: ``bundle.json#/model``, when it passed its schema.
        file: the model's name in the bundle.

    Yields:
        The problems: ``onnx:*`` (operators, external data, cost bounds, the ONNX
        checker) then ``contract:*`` (inputs and outputs as declared).
    """
    import onnx

    structure = _structure_problems(model, file)
    yield from structure
    if not structure:  # (the checker recurses into subgraphs: only a model of bounded depth gets there)
        try:
            onnx.checker.check_model(model, full_check=True)
        except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError, ValueError, RuntimeError) as exc:
            yield Problem("onnx:checker", f"fails the ONNX checker: {one_line(exc)}", file)
        else:
            costs = _Collector(file)
            _inferred_problems(model, costs)
            yield from costs.result()
    if declared is not None:
        yield from _contract_problems(model, declared, file)
