"""Plain-numpy float64 reference of the model :func:`dnnlik.graph.build_mlp_model` writes.

Same :class:`~dnnlik.graph.NetworkSpec`, same formula (see :mod:`dnnlik.graph.network`),
computed entirely in float64 with a hand-written backward pass. Tests compare
the ONNX graph against it; later parity checks compare exported Keras networks
against it too. Needs numpy only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidInputError
from .network import (
    OUTPUT_GRAD,
    OUTPUT_LOGPDF,
    OUTPUT_SPREAD,
    SELU_ALPHA,
    SELU_LAMBDA,
    NetworkSpec,
    require_network_spec,
)

__all__ = ["mlp_reference", "activation_and_derivative"]


def activation_and_derivative(name: str, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(act(a), act'(a))`` for ``name`` in ``ACTIVATIONS`` (act'(0) = 0 for relu).

    >>> h, d = activation_and_derivative("relu", np.array([-1.0, 0.0, 2.0]))
    >>> h.tolist(), d.tolist()
    ([0.0, 0.0, 2.0], [0.0, 0.0, 1.0])

    Args:
        name: ``selu``, ``relu``, ``tanh``, ``swish`` or ``linear``.
        a: the pre-activations, any shape.

    Returns:
        The activation and its derivative, elementwise, shaped like ``a``.

    Raises:
        InvalidInputError: an unknown activation.
    """
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


def mlp_reference(x: Any, network: NetworkSpec) -> dict[str, np.ndarray]:
    """Evaluate the model on the (N, P) points ``x`` in float64.

    ``network.dtype`` only concerns the ONNX graph: this evaluation is float64
    throughout.

    Args:
        x: The points, shape (N, P).
        network: The network, as for :func:`dnnlik.graph.build_mlp_model`.

    Returns:
        ``{'logpdf': (N,), 'grad_logpdf': (N, P)}`` (the gradient only when
        ``network.with_gradient``), plus ``'logpdf_spread': (N,)`` for
        ensembles of two or more members.

    Raises:
        InvalidInputError: ``network`` is not a NetworkSpec, or ``x`` is not (N, P) numbers.
    """
    network = require_network_spec(network)
    try:
        xs = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"cannot be read as numbers ({exc})", where="x") from None
    if xs.ndim != 2 or xs.shape[1] != network.n_inputs:
        raise InvalidInputError(f"must have shape (N, {network.n_inputs}), got {xs.shape}", where="x")

    z = (xs - network.input_shift) / network.input_scale
    ys, grads = [], []
    for m in network.members:
        h = z
        derivs = []
        for w, b in m.layers[:-1]:
            h, d = activation_and_derivative(network.activation, h @ w + b)
            derivs.append(d)
        w_last, b_last = m.layers[-1]
        ys.append(network.output_scale * (h @ w_last + b_last)[:, 0] + network.output_shift)
        if network.with_gradient:
            g = np.broadcast_to(network.output_scale * w_last[:, 0], h.shape)
            for (w, _), d in zip(reversed(m.layers[:-1]), reversed(derivs), strict=True):
                g = (g * d) @ w.T
            grads.append(g / network.input_scale)

    base = np.zeros(len(xs))
    base_grad = np.zeros_like(xs)
    if network.baseline is not None:
        dx = xs - network.baseline.center
        base_grad = dx @ network.baseline.hessian
        base = network.baseline.value_at_center + 0.5 * np.einsum("ij,ij->i", dx, base_grad)

    y_all = np.stack(ys)  # (K, N), without the baseline (common to all members)
    out = {OUTPUT_LOGPDF: y_all.mean(axis=0) + base}
    if network.with_gradient:
        out[OUTPUT_GRAD] = np.mean(np.stack(grads), axis=0) + base_grad
    if network.ensemble:
        out[OUTPUT_SPREAD] = y_all.std(axis=0)
    return out
