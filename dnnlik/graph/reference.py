"""Plain-numpy float64 reference of the model :func:`dnnlik.graph.build_mlp_model` writes.

Same arguments, same validation, same formula (see :mod:`dnnlik.graph.mlp`),
computed entirely in float64 with a hand-written backward pass. Tests compare
the ONNX graph against it; later parity checks compare exported Keras networks
against it too. Needs numpy only.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import InvalidInputError
from .mlp import (
    OUTPUT_GRAD,
    OUTPUT_LOGPDF,
    OUTPUT_SPREAD,
    SELU_ALPHA,
    SELU_LAMBDA,
    MLPWeights,
    QuadraticBaseline,
    _validate,
)

__all__ = ["mlp_reference", "activation_and_derivative"]


def activation_and_derivative(name: str, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(act(a), act'(a))`` for ``name`` in ``ACTIVATIONS`` (act'(0) = 0 for relu)."""
    if name == "selu":
        pos = a > 0
        e = np.exp(np.minimum(a, 0.0))
        h = np.where(pos, SELU_LAMBDA * a, SELU_LAMBDA * SELU_ALPHA * (e - 1.0))
        d = np.where(pos, SELU_LAMBDA, SELU_LAMBDA * SELU_ALPHA * e)
        return h, d
    if name == "relu":
        pos = a > 0
        return np.where(pos, a, 0.0), pos.astype(a.dtype)
    if name == "tanh":
        h = np.tanh(a)
        return h, 1.0 - h * h
    if name == "swish":
        sig = 1.0 / (1.0 + np.exp(-a))
        h = a * sig
        return h, sig + h * (1.0 - sig)
    if name == "linear":
        return a, np.ones_like(a)
    raise InvalidInputError(f"unknown activation {name!r}", where="activation")


def mlp_reference(
    x: Any,
    members: MLPWeights | Sequence[MLPWeights],
    *,
    activation: str = "selu",
    input_shift: Any = None,
    input_scale: Any = None,
    output_shift: float = 0.0,
    output_scale: float = 1.0,
    baseline: QuadraticBaseline | None = None,
    with_gradient: bool = True,
    dtype: Any = None,
    input_name: Any = None,
    opset: Any = None,
    producer: Any = None,
) -> dict[str, np.ndarray]:
    """Evaluate the model on the (N, P) points ``x`` in float64.

    Returns ``{'logpdf': (N,), 'grad_logpdf': (N, P)}`` (the gradient only
    when ``with_gradient``), plus ``'logpdf_spread': (N,)`` for ensembles of
    two or more members. ``dtype``, ``input_name``, ``opset`` and ``producer``
    only concern the ONNX graph; they are accepted and ignored so that one
    keyword dict serves both :func:`build_mlp_model` and this function.
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
    try:
        xs = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"cannot be read as numbers ({exc})", where="x") from None
    if xs.ndim != 2 or xs.shape[1] != spec.n_par:
        raise InvalidInputError(f"must have shape (N, {spec.n_par}), got {xs.shape}", where="x")

    z = (xs - spec.input_shift) / spec.input_scale
    ys, grads = [], []
    for m in spec.members:
        h = z
        derivs = []
        for w, b in m.layers[:-1]:
            h, d = activation_and_derivative(spec.activation, h @ w + b)
            derivs.append(d)
        w_last, b_last = m.layers[-1]
        ys.append(spec.output_scale * (h @ w_last + b_last)[:, 0] + spec.output_shift)
        if with_gradient:
            g = np.broadcast_to(spec.output_scale * w_last[:, 0], h.shape)
            for (w, _), d in zip(reversed(m.layers[:-1]), reversed(derivs)):
                g = (g * d) @ w.T
            grads.append(g / spec.input_scale)

    base = np.zeros(len(xs))
    base_grad = np.zeros_like(xs)
    if spec.baseline is not None:
        dx = xs - spec.baseline.center
        base_grad = dx @ spec.baseline.hessian
        base = spec.baseline.value_at_center + 0.5 * np.einsum("ij,ij->i", dx, base_grad)

    y_all = np.stack(ys)  # (K, N), without the baseline (common to all members)
    out = {OUTPUT_LOGPDF: y_all.mean(axis=0) + base}
    if with_gradient:
        out[OUTPUT_GRAD] = np.mean(np.stack(grads), axis=0) + base_grad
    if spec.ensemble:
        out[OUTPUT_SPREAD] = y_all.std(axis=0)
    return out
