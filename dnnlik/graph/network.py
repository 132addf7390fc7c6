"""What a likelihood network is: its weights, its scalings and baseline, in one checked object.

:class:`NetworkSpec` describes the model completely; the ONNX writer
(:func:`dnnlik.graph.build_mlp_model`), the float64 numpy reference
(:func:`dnnlik.graph.mlp_reference`) and the bundle writer
(:func:`dnnlik.graph.mlp_bundle_document`) all take one. Its arguments are
checked once, when it is made.

Model, for each ensemble member ``m``::

    z      = (x - input_shift) / input_scale
    h      = act(h @ W_i + b_i)                  hidden layers, h_0 = z
    net_m  = h @ W_L + b_L                       linear output, one unit
    y_m    = output_scale * net_m + output_shift + baseline(x)
    baseline(x) = value_at_center + 0.5 (x - center)^T H (x - center)

``logpdf`` is ``y`` (one network) or the members' mean (ensemble, with
``logpdf_spread`` their standard deviation, ddof=0); ``grad_logpdf`` is
``dy/dx`` (or its members' mean).

Needs numpy only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..errors import InvalidInputError

__all__ = [
    "ACTIVATIONS",
    "DTYPES",
    "SELU_ALPHA",
    "SELU_LAMBDA",
    "OUTPUT_LOGPDF",
    "OUTPUT_GRAD",
    "OUTPUT_SPREAD",
    "QuadraticBaseline",
    "MLPWeights",
    "NetworkSpec",
    "random_mlp_weights",
    "require_network_spec",
]

#: Standard SELU constants (Klambauer et al. 2017), as in Keras and ONNX ``Selu``.
SELU_LAMBDA = 1.0507009873554805
SELU_ALPHA = 1.6732632423543772

#: Hidden-layer activations a network can have.
ACTIVATIONS = ("selu", "relu", "tanh", "swish", "linear")
#: Tensor types of a model's input and outputs (the network itself always runs in float32).
DTYPES = ("float32", "float64")

OUTPUT_LOGPDF = "logpdf"
OUTPUT_GRAD = "grad_logpdf"
OUTPUT_SPREAD = "logpdf_spread"

# Relative asymmetry of a Hessian tolerated (and then removed by symmetrising).
_HESSIAN_SYMMETRY_RTOL = 1e-6


# --------------------------------------------------------------------------- weights


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
        return (int(np.shape(self.layers[0][0])[0]),) + tuple(int(np.shape(w)[-1]) for w, _ in self.layers)

    @property
    def n_parameters(self) -> int:
        """Number of trainable numbers (weights and biases)."""
        return int(sum(np.size(w) + np.size(b) for w, b in self.layers))


def random_mlp_weights(sizes: Sequence[int], seed: int) -> MLPWeights:
    """Random float32 weights for widths ``sizes`` (e.g. ``[95, 512, 512, 1]``).

    LeCun-normal initialisation (``W ~ N(0, 1/n_in)``, the one SELU networks
    use) and small random biases (``N(0, 0.05^2)``), from ``numpy``'s
    ``default_rng(seed)``.

    Args:
        sizes: The layer widths, input first; the last must be 1.
        seed: Seed of the random generator.

    Returns:
        The weights of one network.

    Raises:
        InvalidInputError: ``sizes`` is not a list of at least two widths >= 1 ending in 1.
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
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        w = rng.normal(0.0, 1.0 / math.sqrt(n_in), size=(n_in, n_out)).astype(np.float32)
        b = rng.normal(0.0, 0.05, size=(n_out,)).astype(np.float32)
        layers.append((w, b))
    return MLPWeights(tuple(layers))


# --------------------------------------------------------------------- the network


# A hand-written __init__ (init=False): the constructor accepts what a caller has (one
# MLPWeights or a list, scalars or lists for the scalings) and stores the checked, normalised
# values, so that every attribute has one precise type.
@dataclass(frozen=True, eq=False, init=False)
class NetworkSpec:
    """One likelihood network (or an ensemble), with everything that defines its output.

    Made from loose arguments, checked once and stored normalised: weights as
    float64 arrays, scalings as length-P float64 vectors, the Hessian of the
    baseline symmetrised. Use :func:`dataclasses.replace` for a variant (it is
    checked again). See the module docstring for the formula.

    Args:
        members: One :class:`MLPWeights`, or a sequence of them (an ensemble
            when there are two or more; they must share one architecture).
        activation: The hidden layers' activation, one of :data:`ACTIVATIONS`
            (case-insensitive).
        input_shift: Subtracted from the input: a length-P vector or a scalar
            (default 0).
        input_scale: Divides the shifted input: a length-P vector or a scalar
            without zeros (default 1).
        output_shift: Added to the scaled network output.
        output_scale: Multiplies the network output.
        baseline: A :class:`QuadraticBaseline` added to the output, or None.
        dtype: Tensor type of the model's input and outputs, ``"float32"`` or
            ``"float64"`` (the network runs in float32 either way; the scalings,
            the baseline and the final sums run in this type).
        with_gradient: Whether the model also returns ``grad_logpdf``.

    Raises:
        InvalidInputError: An argument is malformed; the message names it
            (``members[1]``, ``input_scale``, ``baseline.hessian``, ...).
    """

    members: tuple[MLPWeights, ...] = field(repr=False)  # float64 arrays
    activation: str
    input_shift: np.ndarray  # (P,) float64
    input_scale: np.ndarray  # (P,) float64, no zeros
    output_shift: float
    output_scale: float
    baseline: QuadraticBaseline | None = field(repr=False)  # float64, Hessian symmetrised
    dtype: str
    with_gradient: bool

    def __init__(
        self,
        members: MLPWeights | Sequence[MLPWeights],
        *,
        activation: str = "selu",
        input_shift: ArrayLike | None = None,
        input_scale: ArrayLike | None = None,
        output_shift: float = 0.0,
        output_scale: float = 1.0,
        baseline: QuadraticBaseline | None = None,
        dtype: str = "float32",
        with_gradient: bool = True,
    ) -> None:
        checked = _checked_members(members)
        n_inputs = checked[0].sizes[0]
        values = {  # checked in this order: the first problem is the one reported
            "members": checked,
            "activation": _checked_activation(activation),
            "input_shift": _checked_vector(input_shift, 0.0, n_inputs, "input_shift"),
            "input_scale": _checked_input_scale(input_scale, n_inputs),
            "output_shift": _finite_float(output_shift, "output_shift"),
            "output_scale": _finite_float(output_scale, "output_scale"),
            "baseline": _checked_baseline(baseline, n_inputs),
            "dtype": _checked_dtype(dtype),
            "with_gradient": bool(with_gradient),
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @property
    def ensemble(self) -> bool:
        """Two or more members, whose mean is ``logpdf`` (and standard deviation ``logpdf_spread``)."""
        return len(self.members) >= 2

    @property
    def sizes(self) -> tuple[int, ...]:
        """Layer widths ``(P, n_1, ..., 1)``, shared by every member."""
        return self.members[0].sizes

    @property
    def n_inputs(self) -> int:
        """``P``, the number of parameters the network takes."""
        return self.sizes[0]

    @property
    def architecture(self) -> str:
        """The layer widths as text, e.g. ``"5->24->16->1"``."""
        return "->".join(str(s) for s in self.sizes)

    @property
    def has_input_shift(self) -> bool:
        """Whether ``input_shift`` is not all zeros (the graph then subtracts it)."""
        return bool(np.any(self.input_shift != 0.0))

    @property
    def has_input_scale(self) -> bool:
        """Whether ``input_scale`` is not all ones (the graph then divides by it)."""
        return bool(np.any(self.input_scale != 1.0))


def require_network_spec(network: Any) -> NetworkSpec:
    """``network`` itself, if it is a :class:`NetworkSpec`.

    Args:
        network: What a caller passed as the network.

    Returns:
        ``network``.

    Raises:
        InvalidInputError: ``network`` is something else (weights given directly, say).
    """
    if not isinstance(network, NetworkSpec):
        raise InvalidInputError(
            f"must be a NetworkSpec (dnnlik.graph.NetworkSpec(members, activation=..., ...)), "
            f"got {type(network).__name__}",
            where="network",
        )
    return network


# --------------------------------------------------------------------------- checks


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


def _checked_member(member: Any, where: str) -> MLPWeights:
    """One network's layers as float64 arrays whose shapes chain to one output."""
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


def _checked_members(members: Any) -> tuple[MLPWeights, ...]:
    """One network (named ``members``) or a non-empty sequence of networks of one architecture."""
    if isinstance(members, MLPWeights):
        return (_checked_member(members, "members"),)
    if isinstance(members, (str, bytes)) or not isinstance(members, Sequence):
        raise InvalidInputError(
            f"must be an MLPWeights or a sequence of them, got {type(members).__name__}", where="members"
        )
    if not members:
        raise InvalidInputError("is an empty sequence", where="members")
    checked = tuple(_checked_member(m, f"members[{k}]") for k, m in enumerate(members))
    sizes = checked[0].sizes
    for k, m in enumerate(checked[1:], start=1):
        if m.sizes != sizes:
            raise InvalidInputError(
                f"has layer sizes {list(m.sizes)} but members[0] has {list(sizes)}; "
                "ensemble members must share one architecture",
                where=f"members[{k}]",
            )
    return checked


def _checked_activation(activation: Any) -> str:
    if not isinstance(activation, str) or activation.lower() not in ACTIVATIONS:
        raise InvalidInputError(f"must be one of {list(ACTIVATIONS)}, got {activation!r}", where="activation")
    return activation.lower()


def _checked_vector(value: Any, default: float, n_inputs: int, where: str) -> np.ndarray:
    """A length-P float64 vector from a vector, a scalar or None (``default`` everywhere)."""
    if value is None:
        return np.full(n_inputs, default)
    arr = _finite_array(value, where)
    if arr.ndim == 0:
        arr = np.full(n_inputs, float(arr))
    if arr.shape != (n_inputs,):
        raise InvalidInputError(
            f"must have length P={n_inputs} (the network's inputs), got shape {arr.shape}", where=where
        )
    return arr


def _checked_input_scale(value: Any, n_inputs: int) -> np.ndarray:
    scale = _checked_vector(value, 1.0, n_inputs, "input_scale")
    if np.any(scale == 0.0):
        zeros = np.flatnonzero(scale == 0.0).tolist()
        raise InvalidInputError(f"must not contain zeros (entries {zeros} are 0)", where="input_scale")
    return scale


def _checked_baseline(baseline: Any, n_inputs: int) -> QuadraticBaseline | None:
    """The baseline in float64, its Hessian checked symmetric and then symmetrised exactly."""
    if baseline is None:
        return None
    if not isinstance(baseline, QuadraticBaseline):
        raise InvalidInputError(f"must be a QuadraticBaseline or None, got {type(baseline).__name__}", where="baseline")
    center = _finite_array(baseline.center, "baseline.center")
    if center.shape != (n_inputs,):
        raise InvalidInputError(f"must have shape ({n_inputs},), got {center.shape}", where="baseline.center")
    hess = _finite_array(baseline.hessian, "baseline.hessian")
    if hess.shape != (n_inputs, n_inputs):
        raise InvalidInputError(f"must have shape ({n_inputs}, {n_inputs}), got {hess.shape}", where="baseline.hessian")
    asym = float(np.max(np.abs(hess - hess.T), initial=0.0))
    size = float(np.max(np.abs(hess), initial=0.0))
    if asym > _HESSIAN_SYMMETRY_RTOL * size:
        raise InvalidInputError(
            f"must be symmetric (max |H - H^T| = {asym:.3g}, max |H| = {size:.3g})", where="baseline.hessian"
        )
    v0 = _finite_float(baseline.value_at_center, "baseline.value_at_center")
    return QuadraticBaseline(center=center, hessian=0.5 * (hess + hess.T), value_at_center=v0)


def _checked_dtype(dtype: Any) -> str:
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = None
    if name not in DTYPES:
        raise InvalidInputError(f"must be 'float32' or 'float64', got {dtype!r}", where="dtype")
    return name
