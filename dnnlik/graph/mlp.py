"""Write the ONNX graph of a multilayer perceptron log-likelihood and its exact gradient.

The graph is written out node by node with :mod:`onnx.helper` from the weights
alone, so no deep-learning framework is needed to export a trained network and
the gradient needs no automatic differentiation at run time: the backward pass
is an explicit chain of ``Mul``/``MatMul`` nodes using the transposed weights.
The model it computes is described by a :class:`~dnnlik.graph.NetworkSpec`
(formula in :mod:`dnnlik.graph.network`).

The network always runs in float32; the input scaling, the baseline and the
final sums run in the input dtype, so a float64 model keeps a precise baseline
around a float32 network.

The graph is written in the order of its parts (:func:`_build`): the scaled
input, each block of members (forward pass, then backward pass), the members
combined, the output transform and baseline, the named outputs.

:mod:`onnx` is imported only by :func:`build_mlp_model`, so
:mod:`dnnlik.graph.network` and :mod:`dnnlik.graph.reference` work with numpy alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidInputError
from .network import (
    OUTPUT_GRAD,
    OUTPUT_LOGPDF,
    OUTPUT_SPREAD,
    SELU_ALPHA,
    SELU_LAMBDA,
    MLPWeights,
    NetworkSpec,
    require_network_spec,
)

if TYPE_CHECKING:  # pragma: no cover
    import onnx

__all__ = [
    "build_mlp_model",
    "DEFAULT_OPSET",
    "SUPPORTED_OPSETS",
]

DEFAULT_OPSET = 17
#: Opsets of the default domain the builder can write (13: ``axes`` as inputs; 21: ORT 1.16+ limit is 19).
SUPPORTED_OPSETS = range(13, 22)

_F32 = "float32"  # the network's dtype, whatever the model's


def build_mlp_model(
    network: NetworkSpec,
    *,
    input_name: str = "x",
    opset: int = DEFAULT_OPSET,
    producer: str = "dnnlik",
) -> onnx.ModelProto:
    """Return the ONNX model of an MLP log-likelihood (and its gradient), ready to serialise.

    The graph has one input ``input_name`` of shape ``[N, P]`` (``N`` a
    symbolic dimension) and dtype ``network.dtype``, and outputs, all in that dtype:

    - ``logpdf`` [N]: the log-likelihood (members' mean for an ensemble);
    - ``grad_logpdf`` [N, P]: its exact gradient w.r.t. the input (members'
      mean), when ``network.with_gradient``;
    - ``logpdf_spread`` [N]: the members' standard deviation (ddof=0), for
      ensembles only.

    See :mod:`dnnlik.graph.network` for the formula. Ensemble weights are
    stacked into (K, n_in, n_out) initializers and evaluated with broadcasting
    ``MatMul``.

    Args:
        network: The network, its scalings and baseline, the model's dtype and
            whether it has a gradient output.
        input_name: Name of the graph's input (not one of the output names).
        opset: Opset of the default ONNX domain, one of :data:`SUPPORTED_OPSETS`.
        producer: The model's ``producer_name``.

    Returns:
        The ``onnx.ModelProto``.

    Raises:
        InvalidInputError: ``network`` is not a NetworkSpec, or another argument is malformed.
    """
    network = require_network_spec(network)
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
    return _build(network, input_name=input_name, opset=int(opset), producer=producer, ensemble_layout="batched")


def _build(
    spec: NetworkSpec,
    *,
    input_name: str,
    opset: int,
    producer: str,
    ensemble_layout: str = "batched",
) -> onnx.ModelProto:
    """Write the graph of ``spec``, part after part.

    ``ensemble_layout`` is ``"batched"`` (stacked (K, n_in, n_out) weights,
    one broadcasting MatMul per layer) or ``"separate"`` (one subgraph per
    member, kept for benchmarks).
    """
    import onnx

    gw = _GraphWriter(onnx, opset)
    for reserved in (input_name, OUTPUT_LOGPDF, OUTPUT_GRAD, OUTPUT_SPREAD):
        gw.reserve(reserved)
    z, scale_name = _scaled_input(gw, spec, input_name)
    nets: list[str] = []  # float32 net outputs: [N] each, or one [K, N]
    grads: list[str] = []  # float32 d net / dz (output_scale folded in): [N,P] each, or one [K,N,P]
    for prefix, ms in _member_blocks(spec, ensemble_layout):
        forward = _forward_pass(gw, spec.activation, z, prefix, ms)
        nets.append(forward.net)
        if spec.with_gradient:
            grads.append(_backward_pass(gw, spec, prefix, ms, forward))
    net, grad, spread = _combined_members(gw, spec, nets, grads)
    logpdf, baseline_grad = _logpdf(gw, spec, net, input_name)
    gw.rename(logpdf, OUTPUT_LOGPDF)
    if grad is not None:
        gw.rename(_grad_logpdf(gw, spec, grad, scale_name, baseline_grad), OUTPUT_GRAD)
    if spread is not None:
        gw.rename(spread, OUTPUT_SPREAD)
    return _model(gw, spec, input_name, opset, producer)


# ------------------------------------------------------------------- graph writer


class _GraphWriter:
    """Collects nodes and initializers with readable, unique names."""

    def __init__(self, onnx_mod: Any, opset: int) -> None:
        self.onnx = onnx_mod
        self.helper = onnx_mod.helper
        self.opset = opset
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
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


def _elem_type(dtype: str) -> int:
    from onnx import TensorProto

    return int(TensorProto.DOUBLE if dtype == "float64" else TensorProto.FLOAT)


def _to_io_dtype(gw: _GraphWriter, spec: NetworkSpec, tensor: str, name: str) -> str:
    """``tensor`` (float32) cast to the model's dtype, if that is not float32."""
    return tensor if spec.dtype == _F32 else gw.op("Cast", [tensor], name, to=_elem_type(spec.dtype))


# ----------------------------------------------------------------- input scaling


def _scaled_input(gw: _GraphWriter, spec: NetworkSpec, x: str) -> tuple[str, str | None]:
    """``z = (x - input_shift) / input_scale`` in the input dtype, then to float32 for the network.

    Returns ``z`` and the ``input_scale`` constant (None when the scale is all ones), which
    the gradient divides by again.
    """
    z = x
    scale_name = None
    if spec.has_input_shift:
        z = gw.op("Sub", [z, gw.const("input_shift", spec.input_shift, spec.dtype)], "input/sub_shift")
    if spec.has_input_scale:
        scale_name = gw.const("input_scale", spec.input_scale, spec.dtype)
        z = gw.op("Div", [z, scale_name], "input/div_scale")
    if spec.dtype != _F32:
        z = gw.op("Cast", [z], "input/cast_float32", to=_elem_type(_F32))
    return z, scale_name


# ---------------------------------------------------------------- the networks


def _member_blocks(spec: NetworkSpec, ensemble_layout: str) -> list[tuple[str, list[MLPWeights]]]:
    """``(name prefix, members)`` of each block of members evaluated together."""
    if spec.ensemble and ensemble_layout == "batched":
        return [("", list(spec.members))]  # one block of K stacked members
    return [(f"member{k}/" if spec.ensemble else "", [m]) for k, m in enumerate(spec.members)]


def _stacked(ms: list[MLPWeights], i: int, part: str) -> np.ndarray:
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


@dataclass
class _ForwardPass:
    """The tensors of one block's forward pass that the backward pass reads."""

    pre: list[str]  # each hidden layer's pre-activation a
    post: list[str]  # each hidden layer's output h = act(a)
    saved: list[str]  # selu: exp(min(a, 0)); swish: sigmoid(a); of each hidden layer (none for others)
    out: str  # the output layer, [N, 1] or [K, N, 1]
    net: str  # the same, squeezed: [N] or [K, N]


def _forward_pass(gw: _GraphWriter, act: str, z: str, prefix: str, ms: list[MLPWeights]) -> _ForwardPass:
    """The hidden layers and the linear output layer of the members ``ms`` (stacked when several)."""
    n_hidden = len(ms[0].layers) - 1
    h = z
    pre: list[str] = []
    post: list[str] = []
    saved: list[str] = []
    for i in range(n_hidden):
        lp = f"{prefix}layer{i}"
        a = gw.op("MatMul", [h, gw.const(f"{lp}_W", _stacked(ms, i, "W"), _F32)], f"{lp}/matmul")
        a = gw.op("Add", [a, gw.const(f"{lp}_b", _stacked(ms, i, "b"), _F32)], f"{lp}/add_bias")
        h, kept = _activation(gw, act, a, lp)
        if kept is not None:
            saved.append(kept)
        pre.append(a)
        post.append(h)
    lp = f"{prefix}layer{n_hidden}"
    out = gw.op("MatMul", [h, gw.const(f"{lp}_W", _stacked(ms, n_hidden, "W"), _F32)], f"{lp}/matmul")
    out = gw.op("Add", [out, gw.const(f"{lp}_b", _stacked(ms, n_hidden, "b"), _F32)], f"{lp}/add_bias")
    squeeze_axis = 2 if len(ms) > 1 else 1
    net = gw.op("Squeeze", [out, gw.const(f"{prefix}output_axes", [squeeze_axis], "int64")], f"{prefix}output/squeeze")
    return _ForwardPass(pre=pre, post=post, saved=saved, out=out, net=net)


def _activation(gw: _GraphWriter, act: str, a: str, lp: str) -> tuple[str, str | None]:
    """``h = act(a)``, and the intermediate the derivative reuses (selu, swish) or None."""
    if act == "selu":
        # selu(a) = lambda * (relu(a) + alpha * (exp(min(a, 0)) - 1)), written out rather than
        # as the ``Selu`` operator: onnxruntime's CPU Selu is not vectorised (~0.75 ns per
        # element, as much as a quarter of the forward pass); these seven vectorised ops make
        # the 95-512-512-1 forward pass ~25% faster, give the same values to float32 rounding,
        # and share exp(min(a, 0)) with the gradient (benchmarks/bench_bundle.py).
        # min(a, 0) = a - relu(a) exactly (a - a = 0 for a > 0).
        r = gw.op("Relu", [a], f"{lp}/selu_relu")
        e = gw.op("Exp", [gw.op("Sub", [a, r], f"{lp}/selu_min_zero")], f"{lp}/selu_exp")
        neg = gw.op("Sub", [e, gw.const(f"{lp}_one", 1.0, _F32)], f"{lp}/selu_expm1")
        neg = gw.op("Mul", [neg, gw.const(f"{lp}_alpha", SELU_ALPHA, _F32)], f"{lp}/selu_alpha")
        h = gw.op("Add", [r, neg], f"{lp}/selu_sum")
        return gw.op("Mul", [h, gw.const(f"{lp}_lambda", SELU_LAMBDA, _F32)], f"{lp}/selu"), e
    if act == "relu":
        return gw.op("Relu", [a], f"{lp}/relu"), None
    if act == "tanh":
        return gw.op("Tanh", [a], f"{lp}/tanh"), None
    if act == "swish":
        # swish(a) = a * sigmoid(a) (SiLU): smooth, so the surrogate's gradient is continuous
        sig = gw.op("Sigmoid", [a], f"{lp}/swish_sigmoid")
        return gw.op("Mul", [a, sig], f"{lp}/swish"), sig
    return a, None  # linear


def _backward_pass(
    gw: _GraphWriter, spec: NetworkSpec, prefix: str, ms: list[MLPWeights], forward: _ForwardPass
) -> str:
    """``d net / dz`` (output_scale folded in): ``g = output_scale * w_L``, then ``g = (g * act'(a)) @ W^T``."""
    n_hidden = len(forward.pre)
    seed = np.stack([spec.output_scale * m.layers[n_hidden][0][:, 0] for m in ms])  # (K, n_L)
    seed = seed[:, None, :] if len(ms) > 1 else seed[0]  # (K, 1, n_L) or (n_L,)
    g = gw.const(f"{prefix}grad_seed", seed, _F32)  # broadcasts against [N, n_L] / [K, N, n_L]
    for i in reversed(range(n_hidden)):
        lp = f"{prefix}grad/layer{i}"
        saved = forward.saved[i] if forward.saved else None
        g = _times_activation_derivative(gw, spec.activation, g, forward.pre[i], forward.post[i], saved, lp)
        wt = gw.const(f"{prefix}layer{i}_WT", _stacked(ms, i, "WT"), _F32)
        g = gw.op("MatMul", [g, wt], f"{lp}/matmul_WT")
    if n_hidden == 0 or spec.activation == "linear":
        # a linear model: g never met a per-point tensor, it is one row (per member) for
        # every point; broadcast it to [N, P] / [K, N, P] (the output's shape is [N,1] / [K,N,1])
        shape = gw.op("Shape", [forward.out], f"{prefix}grad/shape")
        g = gw.op("Expand", [g, shape], f"{prefix}grad/expand")
    return g


def _times_activation_derivative(gw: _GraphWriter, act: str, g: str, a: str, h: str, saved: str | None, lp: str) -> str:
    """``g * act'(a)``, from the layer's pre-activation ``a``, output ``h`` and ``saved`` intermediate."""
    # The derivatives are written with arithmetic on a 0/1 mask rather than ``Where``:
    # onnxruntime's CPU ``Where`` with a broadcast scalar branch is ~20x slower than
    # Cast + Mul and dominated the gradient's cost (benchmarks/bench_bundle.py).
    if act == "selu":
        # selu'(a) = lambda for a > 0, lambda*alpha*exp(a) for a <= 0
        #          = lambda*alpha*exp(min(a, 0)) + lambda*(1 - alpha)*[a > 0]
        # (exp(min(a, 0)) is 1 for a > 0 and cannot overflow).
        assert saved is not None
        pos = gw.op("Greater", [a, gw.const(f"{lp}_zero", 0.0, _F32)], f"{lp}/is_positive")
        pos = gw.op("Cast", [pos], f"{lp}/positive_mask", to=_elem_type(_F32))
        neg = gw.op(
            "Mul", [saved, gw.const(f"{lp}_lambda_alpha", SELU_LAMBDA * SELU_ALPHA, _F32)], f"{lp}/selu_deriv_exp"
        )
        step = gw.op(
            "Mul", [pos, gw.const(f"{lp}_lambda_step", SELU_LAMBDA * (1.0 - SELU_ALPHA), _F32)], f"{lp}/selu_deriv_step"
        )
        d = gw.op("Add", [neg, step], f"{lp}/selu_deriv")
        return gw.op("Mul", [g, d], f"{lp}/mul_deriv")
    if act == "relu":
        # relu'(a) = [a > 0] (0 at a = 0, as in the reference)
        pos = gw.op("Greater", [a, gw.const(f"{lp}_zero", 0.0, _F32)], f"{lp}/is_positive")
        pos = gw.op("Cast", [pos], f"{lp}/positive_mask", to=_elem_type(_F32))
        return gw.op("Mul", [g, pos], f"{lp}/relu_mask")
    if act == "tanh":
        sq = gw.op("Mul", [h, h], f"{lp}/tanh_squared")
        d = gw.op("Sub", [gw.const(f"{lp}_one", 1.0, _F32), sq], f"{lp}/tanh_deriv")
        return gw.op("Mul", [g, d], f"{lp}/mul_deriv")
    if act == "swish":
        # swish'(a) = s + a s (1 - s) = s + h (1 - s), s = sigmoid(a)
        assert saved is not None
        rest = gw.op("Sub", [gw.const(f"{lp}_one", 1.0, _F32), saved], f"{lp}/swish_one_minus_s")
        d = gw.op("Add", [saved, gw.op("Mul", [h, rest], f"{lp}/swish_h_rest")], f"{lp}/swish_deriv")
        return gw.op("Mul", [g, d], f"{lp}/mul_deriv")
    return g  # linear: act' = 1


# -------------------------------------------------------------- members combined


def _combined_members(
    gw: _GraphWriter, spec: NetworkSpec, nets: list[str], grads: list[str]
) -> tuple[str, str | None, str | None]:
    """``(net, grad, spread)`` in the input dtype: one network's, or the members' mean and std.

    ``grad`` is None without a gradient output, ``spread`` None for one network.
    """
    if not spec.ensemble:
        return _to_io_dtype(gw, spec, nets[0], "output/cast"), (grads[0] if grads else None), None
    if len(nets) > 1:  # separate blocks: stack them to [K, N] (and [K, N, P])
        unsq = gw.const("member_axes", [0], "int64")
        nets = [gw.op("Unsqueeze", [n, unsq], f"member{k}/output/unsqueeze") for k, n in enumerate(nets)]
        net_all = gw.op("Concat", nets, "ensemble/concat_members", axis=0)
        if grads:
            gs = [gw.op("Unsqueeze", [g, unsq], f"member{k}/grad/unsqueeze") for k, g in enumerate(grads)]
            grads = [gw.op("Concat", gs, "ensemble/concat_member_grads", axis=0)]
    else:
        net_all = nets[0]
    net_all = _to_io_dtype(gw, spec, net_all, "ensemble/cast_members")  # [K, N] in the input dtype
    net = gw.reduce_mean0(net_all, "ensemble/mean")
    dev = gw.op("Sub", [net_all, net], "ensemble/deviation")
    var = gw.reduce_mean0(gw.op("Mul", [dev, dev], "ensemble/deviation_squared"), "ensemble/variance")
    spread = gw.op("Sqrt", [var], "ensemble/std")
    if abs(spec.output_scale) != 1.0:
        spread = gw.op(
            "Mul", [spread, gw.const("abs_output_scale", abs(spec.output_scale), spec.dtype)], "output/scale_spread"
        )
    grad = gw.reduce_mean0(grads[0], "ensemble/grad_mean") if grads else None
    return net, grad, spread


# -------------------------------------------------------- output transform, baseline


def _logpdf(gw: _GraphWriter, spec: NetworkSpec, net: str, x: str) -> tuple[str, str | None]:
    """``output_scale * net + output_shift + baseline(x)`` in the input dtype.

    Returns it and the baseline's gradient ``H (x - center)`` (None without a baseline).
    """
    y = net
    dtype = spec.dtype
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
        quad = gw.op("ReduceSum", [quad, gw.const("baseline_axes", [1], "int64")], "baseline/reduce_sum", keepdims=0)
        quad = gw.op("Mul", [quad, gw.const("baseline_half", 0.5, dtype)], "baseline/half")
        y = gw.op("Add", [y, quad], "output/add_baseline")
    if y == x:  # pragma: no cover - impossible: the network always adds nodes
        raise AssertionError
    return y, hd


def _grad_logpdf(
    gw: _GraphWriter, spec: NetworkSpec, grad: str, scale_name: str | None, baseline_grad: str | None
) -> str:
    """``d logpdf / dx``: the network's ``d net / dz`` in the input dtype, over ``input_scale``, plus the baseline's."""
    grad = _to_io_dtype(gw, spec, grad, "grad/cast")
    if scale_name is not None:
        grad = gw.op("Div", [grad, scale_name], "grad/div_input_scale")
    if baseline_grad is not None:
        grad = gw.op("Add", [grad, baseline_grad], "grad/add_baseline")
    return grad


# --------------------------------------------------------------------- the model


def _model(gw: _GraphWriter, spec: NetworkSpec, x: str, opset: int, producer: str) -> onnx.ModelProto:
    """The model around the written nodes: its input, its outputs (already named), metadata."""
    import onnx
    from onnx import helper

    elem = _elem_type(spec.dtype)
    outputs = [helper.make_tensor_value_info(OUTPUT_LOGPDF, elem, ["N"])]
    if spec.with_gradient:
        outputs.append(helper.make_tensor_value_info(OUTPUT_GRAD, elem, ["N", spec.n_inputs]))
    if spec.ensemble:
        outputs.append(helper.make_tensor_value_info(OUTPUT_SPREAD, elem, ["N"]))
    graph = helper.make_graph(
        gw.nodes,
        "dnnlik_mlp",
        [helper.make_tensor_value_info(x, elem, ["N", spec.n_inputs])],
        outputs,
        initializer=gw.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", opset)],
        producer_name=producer,
        doc_string=_doc_string(spec, x),
    )
    model.ir_version = max(9, onnx.helper.find_min_ir_version_for(list(model.opset_import)))
    from .. import _version

    model.producer_version = str(getattr(_version, "__version__", ""))
    return model


def _doc_string(spec: NetworkSpec, x: str) -> str:
    k = len(spec.members)
    what = f"ensemble of {k} MLPs" if spec.ensemble else "MLP"
    lines = [
        f"dnnlik log-likelihood: {what} {spec.architecture}, activation {spec.activation}, network in float32, "
        f"input/outputs in {spec.dtype}.",
        f"logpdf = output_scale * net(({x} - input_shift) / input_scale) + output_shift + baseline({x})"
        + (", averaged over the members; logpdf_spread = their std (ddof=0)" if spec.ensemble else "")
        + ".",
    ]
    if spec.baseline is not None:
        lines.append("baseline(x) = value_at_center + 0.5 (x - center)^T H (x - center).")
    if spec.with_gradient:
        lines.append("grad_logpdf = d logpdf / d x, by an explicit backward pass through the weights.")
    return "\n".join(lines)
