"""Build the ONNX graph of a multilayer perceptron log-likelihood and its exact gradient.

The graph is written out node by node with :mod:`onnx.helper` from the weights
alone, so no deep-learning framework is needed to export a trained network and
the gradient needs no automatic differentiation at run time: the backward pass
is an explicit chain of ``Mul``/``MatMul`` nodes using the transposed weights.

Model, for each ensemble member ``m`` (see :func:`build_mlp_model`)::

    z      = (x - input_shift) / input_scale
    h      = act(h @ W_i + b_i)                  hidden layers, h_0 = z
    net_m  = h @ W_L + b_L                       linear output, one unit
    y_m    = output_scale * net_m + output_shift + baseline(x)
    baseline(x) = value_at_center + 0.5 (x - center)^T H (x - center)

``logpdf`` is ``y`` (one network) or the members' mean (ensemble, with
``logpdf_spread`` their standard deviation, ddof=0); ``grad_logpdf`` is
``dy/dx`` (or its members' mean).

The network always runs in float32; the input scaling, the baseline and the
final sums run in the input dtype, so a float64 model keeps a precise baseline
around a float32 network.

:mod:`onnx` is imported only by :func:`build_mlp_model`, so the dataclasses,
the validation and :mod:`dnnlik.graph.reference` work with numpy alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..errors import InvalidInputError

if TYPE_CHECKING:  # pragma: no cover
    import onnx

__all__ = [
    "ACTIVATIONS",
    "SELU_ALPHA",
    "SELU_LAMBDA",
    "QuadraticBaseline",
    "MLPWeights",
    "random_mlp_weights",
    "build_mlp_model",
    "DEFAULT_OPSET",
    "SUPPORTED_OPSETS",
    "OUTPUT_LOGPDF",
    "OUTPUT_GRAD",
    "OUTPUT_SPREAD",
]

#: Standard SELU constants (Klambauer et al. 2017), as in Keras and ONNX ``Selu``.
SELU_LAMBDA = 1.0507009873554805
SELU_ALPHA = 1.6732632423543772

ACTIVATIONS = ("selu", "relu", "tanh", "swish", "linear")
DTYPES = ("float32", "float64")
DEFAULT_OPSET = 17
#: Opsets of the default domain the builder can write (13: ``axes`` as inputs; 21: ORT 1.16+ limit is 19).
SUPPORTED_OPSETS = range(13, 22)

OUTPUT_LOGPDF = "logpdf"
OUTPUT_GRAD = "grad_logpdf"
OUTPUT_SPREAD = "logpdf_spread"

# Relative asymmetry of a Hessian tolerated (and then removed by symmetrising).
_HESSIAN_SYMMETRY_RTOL = 1e-6


# --------------------------------------------------------------------------- data


@dataclass(frozen=True, eq=False)
class QuadraticBaseline:
    """``baseline(x) = value_at_center + 0.5 (x-center)^T H (x-center)``; ``grad = H (x-center)``.

    ``hessian`` is the (P, P) symmetric matrix ``H`` (the Hessian of log L at
    ``center``, so negative definite around a maximum).
    """

    center: np.ndarray
    hessian: np.ndarray
    value_at_center: float


@dataclass(frozen=True, eq=False)
class MLPWeights:
    """One network: ``layers[i] = (W, b)`` with ``W`` of shape (n_in, n_out), ``b`` of shape (n_out,).

    Every layer but the last is followed by the activation; the last one is
    linear with ``n_out == 1``.
    """

    layers: tuple[tuple[np.ndarray, np.ndarray], ...]

    @property
    def sizes(self) -> tuple[int, ...]:
        """Layer widths ``(n_in, n_1, ..., 1)``."""
        if not self.layers:
            return ()
        return (int(np.shape(self.layers[0][0])[0]),) + tuple(
            int(np.shape(w)[-1]) for w, _ in self.layers
        )

    @property
    def n_parameters(self) -> int:
        """Number of trainable numbers (weights and biases)."""
        return int(sum(np.size(w) + np.size(b) for w, b in self.layers))


def random_mlp_weights(sizes: Sequence[int], seed: int) -> MLPWeights:
    """Random float32 weights for widths ``sizes`` (e.g. ``[95, 512, 512, 1]``).

    LeCun-normal initialisation (``W ~ N(0, 1/n_in)``, the one SELU networks
    use) and small random biases (``N(0, 0.05^2)``), from ``numpy``'s
    ``default_rng(seed)``.
    """
    try:
        sizes = [int(s) for s in sizes]
    except (TypeError, ValueError):
        raise InvalidInputError("must be a sequence of integers", where="sizes") from None
    if len(sizes) < 2:
        raise InvalidInputError("needs at least an input and an output width", where="sizes")
    if any(s < 1 for s in sizes):
        raise InvalidInputError(f"widths must be >= 1, got {sizes}", where="sizes")
    if sizes[-1] != 1:
        raise InvalidInputError(f"the last width must be 1 (one log-likelihood), got {sizes[-1]}", where="sizes")
    rng = np.random.default_rng(seed)
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        w = rng.normal(0.0, 1.0 / math.sqrt(n_in), size=(n_in, n_out)).astype(np.float32)
        b = rng.normal(0.0, 0.05, size=(n_out,)).astype(np.float32)
        layers.append((w, b))
    return MLPWeights(tuple(layers))


# --------------------------------------------------------------------- validation


@dataclass(frozen=True, eq=False)
class _Spec:
    """Validated, normalised arguments shared by the builder and the numpy reference."""

    members: tuple[MLPWeights, ...]  # weights as float64 arrays
    ensemble: bool
    activation: str
    n_par: int
    sizes: tuple[int, ...]
    input_shift: np.ndarray  # (P,) float64
    input_scale: np.ndarray  # (P,) float64
    output_shift: float
    output_scale: float
    baseline: QuadraticBaseline | None  # float64, hessian symmetrised

    @property
    def has_shift(self) -> bool:
        return bool(np.any(self.input_shift != 0.0))

    @property
    def has_scale(self) -> bool:
        return bool(np.any(self.input_scale != 1.0))


def _finite_array(value: Any, where: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"cannot be read as numbers ({exc})", where=where) from None
    if not np.all(np.isfinite(arr)):
        raise InvalidInputError("contains NaN or infinite values", where=where)
    return arr


def _finite_float(value: Any, where: str) -> float:
    arr = _finite_array(value, where)
    if arr.ndim != 0:
        raise InvalidInputError(f"must be a number, got an array of shape {arr.shape}", where=where)
    return float(arr)


def _check_member(member: Any, where: str) -> MLPWeights:
    if not isinstance(member, MLPWeights):
        raise InvalidInputError(f"must be an MLPWeights, got {type(member).__name__}", where=where)
    layers = member.layers
    if not isinstance(layers, (tuple, list)) or len(layers) == 0:
        raise InvalidInputError("has no layers", where=where)
    out = []
    prev = None
    for i, layer in enumerate(layers):
        lw = f"{where}.layers[{i}]"
        if not isinstance(layer, (tuple, list)) or len(layer) != 2:
            raise InvalidInputError("must be a pair (W, b)", where=lw)
        w = _finite_array(layer[0], lw + ".W")
        b = _finite_array(layer[1], lw + ".b")
        if w.ndim != 2 or 0 in w.shape:
            raise InvalidInputError(f"must be a non-empty (n_in, n_out) matrix, got shape {w.shape}", where=lw + ".W")
        if b.shape != (w.shape[1],):
            raise InvalidInputError(
                f"must have shape ({w.shape[1]},) to match W of shape {w.shape}, got {b.shape}", where=lw + ".b"
            )
        if prev is not None and w.shape[0] != prev:
            raise InvalidInputError(
                f"W has {w.shape[0]} inputs but the previous layer has {prev} outputs", where=lw + ".W"
            )
        prev = w.shape[1]
        out.append((w, b))
    if prev != 1:
        raise InvalidInputError(
            f"the last layer must have exactly one output (the log-likelihood), got {prev}",
            where=f"{where}.layers[{len(layers) - 1}].W",
        )
    return MLPWeights(tuple(out))


def _validate(
    members: MLPWeights | Sequence[MLPWeights],
    *,
    activation: str,
    input_shift: Any,
    input_scale: Any,
    output_shift: Any,
    output_scale: Any,
    baseline: QuadraticBaseline | None,
) -> _Spec:
    """Check every argument and return them normalised (float64 arrays); raise InvalidInputError."""
    if isinstance(members, MLPWeights):
        member_list = [members]
        ensemble = False
    elif isinstance(members, (str, bytes)) or not isinstance(members, Sequence):
        raise InvalidInputError(
            f"must be an MLPWeights or a sequence of them, got {type(members).__name__}", where="members"
        )
    else:
        member_list = list(members)
        if not member_list:
            raise InvalidInputError("is an empty sequence", where="members")
        ensemble = len(member_list) >= 2
    checked = tuple(
        _check_member(m, "members" if not ensemble and isinstance(members, MLPWeights) else f"members[{k}]")
        for k, m in enumerate(member_list)
    )
    sizes = tuple(int(s) for s in checked[0].sizes)
    for k, m in enumerate(checked[1:], start=1):
        if m.sizes != sizes:
            raise InvalidInputError(
                f"has layer sizes {list(m.sizes)} but members[0] has {list(sizes)}; "
                "ensemble members must share one architecture",
                where=f"members[{k}]",
            )
    n_par = sizes[0]

    if not isinstance(activation, str) or activation.lower() not in ACTIVATIONS:
        raise InvalidInputError(f"must be one of {list(ACTIVATIONS)}, got {activation!r}", where="activation")
    activation = activation.lower()

    def vector(value: Any, default: float, where: str) -> np.ndarray:
        if value is None:
            return np.full(n_par, default)
        arr = _finite_array(value, where)
        if arr.ndim == 0:
            arr = np.full(n_par, float(arr))
        if arr.shape != (n_par,):
            raise InvalidInputError(
                f"must have length P={n_par} (the network's inputs), got shape {arr.shape}", where=where
            )
        return arr

    shift = vector(input_shift, 0.0, "input_shift")
    scale = vector(input_scale, 1.0, "input_scale")
    if np.any(scale == 0.0):
        zeros = np.flatnonzero(scale == 0.0).tolist()
        raise InvalidInputError(f"must not contain zeros (entries {zeros} are 0)", where="input_scale")
    o_shift = _finite_float(output_shift, "output_shift")
    o_scale = _finite_float(output_scale, "output_scale")

    base = None
    if baseline is not None:
        if not isinstance(baseline, QuadraticBaseline):
            raise InvalidInputError(
                f"must be a QuadraticBaseline or None, got {type(baseline).__name__}", where="baseline"
            )
        center = _finite_array(baseline.center, "baseline.center")
        if center.shape != (n_par,):
            raise InvalidInputError(f"must have shape ({n_par},), got {center.shape}", where="baseline.center")
        hess = _finite_array(baseline.hessian, "baseline.hessian")
        if hess.shape != (n_par, n_par):
            raise InvalidInputError(
                f"must have shape ({n_par}, {n_par}), got {hess.shape}", where="baseline.hessian"
            )
        asym = float(np.max(np.abs(hess - hess.T), initial=0.0))
        size = float(np.max(np.abs(hess), initial=0.0))
        if asym > _HESSIAN_SYMMETRY_RTOL * size:
            raise InvalidInputError(
                f"must be symmetric (max |H - H^T| = {asym:.3g}, max |H| = {size:.3g})", where="baseline.hessian"
            )
        v0 = _finite_float(baseline.value_at_center, "baseline.value_at_center")
        base = QuadraticBaseline(center=center, hessian=0.5 * (hess + hess.T), value_at_center=v0)

    return _Spec(
        members=checked,
        ensemble=ensemble,
        activation=activation,
        n_par=n_par,
        sizes=sizes,
        input_shift=shift,
        input_scale=scale,
        output_shift=o_shift,
        output_scale=o_scale,
        baseline=base,
    )


def _check_dtype(dtype: Any) -> str:
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = None
    if name not in DTYPES:
        raise InvalidInputError(f"must be 'float32' or 'float64', got {dtype!r}", where="dtype")
    return name


# ----------------------------------------------------------------------- builder


class _GraphWriter:
    """Collects nodes and initializers with readable, unique names."""

    def __init__(self, onnx_mod: Any, opset: int) -> None:
        self.onnx = onnx_mod
        self.helper = onnx_mod.helper
        self.opset = opset
        self.nodes: list = []
        self.initializers: list = []
        self._names: set[str] = set()

    def _unique(self, name: str) -> str:
        base, i = name, 1
        while name in self._names:
            i += 1
            name = f"{base}_{i}"
        self._names.add(name)
        return name

    def reserve(self, name: str) -> None:
        self._names.add(name)

    def const(self, name: str, value: Any, dtype: str) -> str:
        from onnx import numpy_helper

        name = self._unique(name)
        arr = np.ascontiguousarray(np.asarray(value, dtype=np.dtype(dtype)))
        self.initializers.append(numpy_helper.from_array(arr, name))
        return name

    def op(self, op_type: str, inputs: Sequence[str], name: str, **attrs: Any) -> str:
        """Add one node named ``name``; its single output is also called ``name``."""
        name = self._unique(name)
        self.nodes.append(self.helper.make_node(op_type, list(inputs), [name], name=name, **attrs))
        return name

    def reduce_mean0(self, inp: str, name: str) -> str:
        """Mean over axis 0, dropped (``axes`` is an attribute before opset 18, an input after)."""
        if self.opset >= 18:
            axes = self.const(name + "_axes", [0], "int64")
            return self.op("ReduceMean", [inp, axes], name, keepdims=0)
        return self.op("ReduceMean", [inp], name, axes=[0], keepdims=0)

    def rename(self, old: str, new: str) -> None:
        """Make the tensor ``old`` (a node output) be called ``new`` (a graph output name)."""
        for node in self.nodes:
            for seq in (node.output, node.input):
                for i, t in enumerate(seq):
                    if t == old:
                        seq[i] = new


def build_mlp_model(
    members: MLPWeights | Sequence[MLPWeights],
    *,
    activation: str = "selu",
    input_shift: Any = None,
    input_scale: Any = None,
    output_shift: float = 0.0,
    output_scale: float = 1.0,
    baseline: QuadraticBaseline | None = None,
    dtype: str = "float32",
    with_gradient: bool = True,
    input_name: str = "x",
    opset: int = DEFAULT_OPSET,
    producer: str = "dnnlik",
) -> "onnx.ModelProto":
    """Return the ONNX model of an MLP log-likelihood (and its gradient), ready to serialise.

    ``members`` is one :class:`MLPWeights` or a sequence of them (an
    ensemble when there are two or more; they must share one architecture).
    The graph has one input ``input_name`` of shape ``[N, P]`` (``N`` a
    symbolic dimension) and dtype ``dtype``, and outputs, all in that dtype:

    - ``logpdf`` [N]: the log-likelihood (members' mean for an ensemble);
    - ``grad_logpdf`` [N, P]: its exact gradient w.r.t. the input (members'
      mean), when ``with_gradient``;
    - ``logpdf_spread`` [N]: the members' standard deviation (ddof=0), for
      ensembles only.

    See the module docstring for the formula. ``input_shift``/``input_scale``
    are length-P vectors (or scalars; default 0 and 1), ``input_scale`` has no
    zeros. Ensemble weights are stacked into (K, n_in, n_out) initializers and
    evaluated with broadcasting ``MatMul``.

    Raises :class:`~dnnlik.errors.InvalidInputError` for malformed arguments.
    """
    spec = _validate(
        members,
        activation=activation,
        input_shift=input_shift,
        input_scale=input_scale,
        output_shift=output_shift,
        output_scale=output_scale,
        baseline=baseline,
    )
    dtype = _check_dtype(dtype)
    if not isinstance(input_name, str) or not input_name.strip():
        raise InvalidInputError(f"must be a non-empty string, got {input_name!r}", where="input_name")
    if input_name in (OUTPUT_LOGPDF, OUTPUT_GRAD, OUTPUT_SPREAD):
        raise InvalidInputError(f"{input_name!r} is the name of an output", where="input_name")
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)) or int(opset) not in SUPPORTED_OPSETS:
        raise InvalidInputError(
            f"must be an integer from {SUPPORTED_OPSETS.start} to {SUPPORTED_OPSETS.stop - 1}, got {opset!r}",
            where="opset",
        )
    if not isinstance(producer, str) or not producer:
        raise InvalidInputError(f"must be a non-empty string, got {producer!r}", where="producer")
    return _build(spec, dtype=dtype, with_gradient=bool(with_gradient), input_name=input_name,
                  opset=int(opset), producer=producer, ensemble_layout="batched")


def _build(
    spec: _Spec,
    *,
    dtype: str,
    with_gradient: bool,
    input_name: str,
    opset: int,
    producer: str,
    ensemble_layout: str = "batched",
) -> "onnx.ModelProto":
    """Write the graph of a validated ``spec``.

    ``ensemble_layout`` is ``"batched"`` (stacked (K, n_in, n_out) weights,
    one broadcasting MatMul per layer) or ``"separate"`` (one subgraph per
    member, kept for benchmarks).
    """
    import onnx
    from onnx import TensorProto, helper

    f32 = "float32"
    elem = TensorProto.DOUBLE if dtype == "float64" else TensorProto.FLOAT
    gw = _GraphWriter(onnx, opset)
    for reserved in (input_name, OUTPUT_LOGPDF, OUTPUT_GRAD, OUTPUT_SPREAD):
        gw.reserve(reserved)
    x = input_name
    k_members = len(spec.members)
    n_hidden = len(spec.sizes) - 2
    act = spec.activation

    # ---- input scaling, in the input dtype, then to float32 for the network
    z = x
    scale_name = None
    if spec.has_shift:
        z = gw.op("Sub", [z, gw.const("input_shift", spec.input_shift, dtype)], "input/sub_shift")
    if spec.has_scale:
        scale_name = gw.const("input_scale", spec.input_scale, dtype)
        z = gw.op("Div", [z, scale_name], "input/div_scale")
    if dtype != f32:
        z = gw.op("Cast", [z], "input/cast_float32", to=TensorProto.FLOAT)

    # ---- the networks: (name prefix, weight stack axis) per evaluated block
    if spec.ensemble and ensemble_layout == "batched":
        blocks = [("", list(spec.members))]  # one block of K stacked members
    else:
        blocks = [(f"member{k}/" if spec.ensemble else "", [m]) for k, m in enumerate(spec.members)]

    def stacked(ms: list[MLPWeights], i: int, part: str) -> np.ndarray:
        """Layer ``i``'s W, W^T or b of the members ``ms``: 2-D/1-D for one, stacked 3-D for several."""
        arrs = []
        for m in ms:
            w, b = m.layers[i]
            arrs.append({"W": w, "WT": w.T, "b": b}[part])
        if len(ms) == 1:
            return arrs[0]
        if part == "b":
            return np.stack(arrs)[:, None, :]  # (K, 1, n_out)
        return np.stack(arrs)  # (K, n_in, n_out) or (K, n_out, n_in)

    nets: list[str] = []  # float32 net outputs: [N] each, or one [K, N]
    grads: list[str] = []  # float32 d net / dz (output_scale folded in): [N,P] each, or one [K,N,P]
    for prefix, ms in blocks:
        batched = len(ms) > 1
        h = z
        pre: list[str] = []
        post: list[str] = []
        exps: list[str] = []  # SELU: exp(min(a, 0)); swish: sigmoid(a); of each hidden layer, for the backward pass
        for i in range(n_hidden):
            lp = f"{prefix}layer{i}"
            a = gw.op("MatMul", [h, gw.const(f"{lp}_W", stacked(ms, i, "W"), f32)], f"{lp}/matmul")
            a = gw.op("Add", [a, gw.const(f"{lp}_b", stacked(ms, i, "b"), f32)], f"{lp}/add_bias")
            if act == "selu":
                # selu(a) = lambda * (relu(a) + alpha * (exp(min(a, 0)) - 1)), written out rather than
                # as the ``Selu`` operator: onnxruntime's CPU Selu is not vectorised (~0.75 ns per
                # element, as much as a quarter of the forward pass); these seven vectorised ops make
                # the 95-512-512-1 forward pass ~25% faster, give the same values to float32 rounding,
                # and share exp(min(a, 0)) with the gradient (benchmarks/bench_bundle.py).
                # min(a, 0) = a - relu(a) exactly (a - a = 0 for a > 0).
                r = gw.op("Relu", [a], f"{lp}/selu_relu")
                e = gw.op("Exp", [gw.op("Sub", [a, r], f"{lp}/selu_min_zero")], f"{lp}/selu_exp")
                neg = gw.op("Sub", [e, gw.const(f"{lp}_one", 1.0, f32)], f"{lp}/selu_expm1")
                neg = gw.op("Mul", [neg, gw.const(f"{lp}_alpha", SELU_ALPHA, f32)], f"{lp}/selu_alpha")
                h = gw.op("Add", [r, neg], f"{lp}/selu_sum")
                h = gw.op("Mul", [h, gw.const(f"{lp}_lambda", SELU_LAMBDA, f32)], f"{lp}/selu")
                exps.append(e)
            elif act == "relu":
                h = gw.op("Relu", [a], f"{lp}/relu")
            elif act == "tanh":
                h = gw.op("Tanh", [a], f"{lp}/tanh")
            elif act == "swish":
                # swish(a) = a * sigmoid(a) (SiLU): smooth, so the surrogate's gradient is continuous
                sig = gw.op("Sigmoid", [a], f"{lp}/swish_sigmoid")
                h = gw.op("Mul", [a, sig], f"{lp}/swish")
                exps.append(sig)
            else:  # linear
                h = a
            pre.append(a)
            post.append(h)
        lp = f"{prefix}layer{n_hidden}"
        out = gw.op("MatMul", [h, gw.const(f"{lp}_W", stacked(ms, n_hidden, "W"), f32)], f"{lp}/matmul")
        out = gw.op("Add", [out, gw.const(f"{lp}_b", stacked(ms, n_hidden, "b"), f32)], f"{lp}/add_bias")
        squeeze_axis = 2 if batched else 1
        net = gw.op("Squeeze", [out, gw.const(f"{prefix}output_axes", [squeeze_axis], "int64")],
                    f"{prefix}output/squeeze")
        nets.append(net)

        if not with_gradient:
            continue
        # ---- explicit backward pass: g = output_scale * w_L, then g = (g * act'(a)) @ W^T
        seed = np.stack([spec.output_scale * m.layers[n_hidden][0][:, 0] for m in ms])  # (K, n_L)
        seed = seed[:, None, :] if batched else seed[0]  # (K, 1, n_L) or (n_L,)
        g = gw.const(f"{prefix}grad_seed", seed, f32)  # broadcasts against [N, n_L] / [K, N, n_L]
        for i in reversed(range(n_hidden)):
            lp = f"{prefix}grad/layer{i}"
            a, h = pre[i], post[i]
            # The derivatives are written with arithmetic on a 0/1 mask rather than ``Where``:
            # onnxruntime's CPU ``Where`` with a broadcast scalar branch is ~20x slower than
            # Cast + Mul and dominated the gradient's cost (benchmarks/bench_bundle.py).
            if act == "selu":
                # selu'(a) = lambda for a > 0, lambda*alpha*exp(a) for a <= 0
                #          = lambda*alpha*exp(min(a, 0)) + lambda*(1 - alpha)*[a > 0]
                # (exp(min(a, 0)) is 1 for a > 0 and cannot overflow).
                pos = gw.op("Greater", [a, gw.const(f"{lp}_zero", 0.0, f32)], f"{lp}/is_positive")
                pos = gw.op("Cast", [pos], f"{lp}/positive_mask", to=TensorProto.FLOAT)
                neg = gw.op("Mul", [exps[i], gw.const(f"{lp}_lambda_alpha", SELU_LAMBDA * SELU_ALPHA, f32)],
                            f"{lp}/selu_deriv_exp")
                step = gw.op("Mul", [pos, gw.const(f"{lp}_lambda_step", SELU_LAMBDA * (1.0 - SELU_ALPHA), f32)],
                             f"{lp}/selu_deriv_step")
                d = gw.op("Add", [neg, step], f"{lp}/selu_deriv")
                g = gw.op("Mul", [g, d], f"{lp}/mul_deriv")
            elif act == "relu":
                # relu'(a) = [a > 0] (0 at a = 0, as in the reference)
                pos = gw.op("Greater", [a, gw.const(f"{lp}_zero", 0.0, f32)], f"{lp}/is_positive")
                pos = gw.op("Cast", [pos], f"{lp}/positive_mask", to=TensorProto.FLOAT)
                g = gw.op("Mul", [g, pos], f"{lp}/relu_mask")
            elif act == "tanh":
                sq = gw.op("Mul", [h, h], f"{lp}/tanh_squared")
                d = gw.op("Sub", [gw.const(f"{lp}_one", 1.0, f32), sq], f"{lp}/tanh_deriv")
                g = gw.op("Mul", [g, d], f"{lp}/mul_deriv")
            elif act == "swish":
                # swish'(a) = s + a s (1 - s) = s + h (1 - s), s = sigmoid(a)
                rest = gw.op("Sub", [gw.const(f"{lp}_one", 1.0, f32), exps[i]], f"{lp}/swish_one_minus_s")
                d = gw.op("Add", [exps[i], gw.op("Mul", [h, rest], f"{lp}/swish_h_rest")], f"{lp}/swish_deriv")
                g = gw.op("Mul", [g, d], f"{lp}/mul_deriv")
            # linear: act' = 1
            wt = gw.const(f"{prefix}layer{i}_WT", stacked(ms, i, "WT"), f32)
            g = gw.op("MatMul", [g, wt], f"{lp}/matmul_WT")
        if n_hidden == 0 or act == "linear":
            # a linear model: g never met a per-point tensor, it is one row (per member) for
            # every point; broadcast it to [N, P] / [K, N, P] (the output's shape is [N,1] / [K,N,1])
            shape = gw.op("Shape", [out], f"{prefix}grad/shape")
            g = gw.op("Expand", [g, shape], f"{prefix}grad/expand")
        grads.append(g)

    # ---- combine members (float32), then to the input dtype
    def to_dtype(t: str, name: str) -> str:
        return t if dtype == f32 else gw.op("Cast", [t], name, to=elem)

    spread = None
    if spec.ensemble:
        if len(nets) > 1:
            unsq = gw.const("member_axes", [0], "int64")
            nets = [gw.op("Unsqueeze", [n, unsq], f"member{k}/output/unsqueeze") for k, n in enumerate(nets)]
            net_all = gw.op("Concat", nets, "ensemble/concat_members", axis=0)
            if with_gradient:
                gs = [gw.op("Unsqueeze", [g, unsq], f"member{k}/grad/unsqueeze") for k, g in enumerate(grads)]
                grads = [gw.op("Concat", gs, "ensemble/concat_member_grads", axis=0)]
        else:
            net_all = nets[0]
        net_all = to_dtype(net_all, "ensemble/cast_members")  # [K, N] in the input dtype
        net = gw.reduce_mean0(net_all, "ensemble/mean")
        dev = gw.op("Sub", [net_all, net], "ensemble/deviation")
        var = gw.reduce_mean0(gw.op("Mul", [dev, dev], "ensemble/deviation_squared"), "ensemble/variance")
        spread = gw.op("Sqrt", [var], "ensemble/std")
        if abs(spec.output_scale) != 1.0:
            spread = gw.op("Mul", [spread, gw.const("abs_output_scale", abs(spec.output_scale), dtype)],
                           "output/scale_spread")
        grad = gw.reduce_mean0(grads[0], "ensemble/grad_mean") if with_gradient else None
    else:
        net = to_dtype(nets[0], "output/cast")
        grad = grads[0] if with_gradient else None

    # ---- output transform and baseline, in the input dtype
    y = net
    if spec.output_scale != 1.0:
        y = gw.op("Mul", [y, gw.const("output_scale", spec.output_scale, dtype)], "output/mul_scale")
    offset = spec.output_shift + (spec.baseline.value_at_center if spec.baseline is not None else 0.0)
    if offset != 0.0:
        y = gw.op("Add", [y, gw.const("output_offset", offset, dtype)], "output/add_offset")
    hd = None
    if spec.baseline is not None:
        b = spec.baseline
        dx = gw.op("Sub", [x, gw.const("baseline_center", b.center, dtype)], "baseline/sub_center")
        hd = gw.op("MatMul", [dx, gw.const("baseline_hessian", b.hessian, dtype)], "baseline/matmul_hessian")
        quad = gw.op("Mul", [dx, hd], "baseline/mul")
        quad = gw.op("ReduceSum", [quad, gw.const("baseline_axes", [1], "int64")], "baseline/reduce_sum",
                     keepdims=0)
        quad = gw.op("Mul", [quad, gw.const("baseline_half", 0.5, dtype)], "baseline/half")
        y = gw.op("Add", [y, quad], "output/add_baseline")
    if y == x:  # pragma: no cover - impossible: the network always adds nodes
        raise AssertionError
    gw.rename(y, OUTPUT_LOGPDF)

    outputs = [helper.make_tensor_value_info(OUTPUT_LOGPDF, elem, ["N"])]
    if with_gradient:
        grad = to_dtype(grad, "grad/cast")
        if scale_name is not None:
            grad = gw.op("Div", [grad, scale_name], "grad/div_input_scale")
        if hd is not None:
            grad = gw.op("Add", [grad, hd], "grad/add_baseline")
        gw.rename(grad, OUTPUT_GRAD)
        outputs.append(helper.make_tensor_value_info(OUTPUT_GRAD, elem, ["N", spec.n_par]))
    if spread is not None:
        gw.rename(spread, OUTPUT_SPREAD)
        outputs.append(helper.make_tensor_value_info(OUTPUT_SPREAD, elem, ["N"]))

    graph = helper.make_graph(
        gw.nodes,
        "dnnlik_mlp",
        [helper.make_tensor_value_info(x, elem, ["N", spec.n_par])],
        outputs,
        initializer=gw.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", opset)],
        producer_name=producer,
        doc_string=_doc_string(spec, dtype, with_gradient, x),
    )
    model.ir_version = max(9, onnx.helper.find_min_ir_version_for(list(model.opset_import)))
    from .. import _version

    model.producer_version = str(getattr(_version, "__version__", ""))
    return model


def _doc_string(spec: _Spec, dtype: str, with_gradient: bool, x: str) -> str:
    k = len(spec.members)
    arch = "->".join(str(s) for s in spec.sizes)
    what = f"ensemble of {k} MLPs" if spec.ensemble else "MLP"
    lines = [
        f"dnnlik log-likelihood: {what} {arch}, activation {spec.activation}, network in float32, "
        f"input/outputs in {dtype}.",
        f"logpdf = output_scale * net(({x} - input_shift) / input_scale) + output_shift + baseline({x})"
        + (", averaged over the members; logpdf_spread = their std (ddof=0)" if spec.ensemble else "") + ".",
    ]
    if spec.baseline is not None:
        lines.append("baseline(x) = value_at_center + 0.5 (x - center)^T H (x - center).")
    if with_gradient:
        lines.append("grad_logpdf = d logpdf / d x, by an explicit backward pass through the weights.")
    return "\n".join(lines)
