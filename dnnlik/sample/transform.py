"""Sampling bounded parameters in an unbounded space: log and logit transforms with their Jacobian.

A Gaussian proposal built from the Hessian at the maximum (the Laplace moves)
fails where the posterior is cut by a bound: a maximum on the bound (a
normalisation factor at 0, a nearly free shapefactor at its upper bound), or a
direction so flat that the posterior fills the whole box (a HistFactory gamma
with tau ~ 0.05 on [0, 10]). Proposals then fall outside the bounds, the
curvature at the maximum says nothing about the width, and acceptance drops
to a few percent.

The remedy is the one Stan applies to every constrained parameter (Stan
Reference Manual, "Constraint transforms"; PyMC's default ``interval`` and
``log`` transforms do the same), and the one the emcee documentation suggests
for positive parameters (sample their logarithm): sample ``y`` in an
unbounded space and map it into the bounds,

- lower and upper bound: ``x = a + (b - a) * sigmoid(y)`` (logit);
- lower bound only: ``x = a + exp(y)`` (log); upper bound only: ``x = b - exp(y)``;
- no bound: ``x = y``;

with the target ``log p(x(y)) + log |dx/dy|`` (the Jacobian keeps the samples
distributed as the posterior in ``x``). A flat direction in ``[a, b]`` becomes
a logistic density in ``y``, well described by a Gaussian; a maximum on a
bound moves inside, where the Jacobian bends the density down.

Transforming does not help a posterior that a bound merely truncates: its
density in ``y`` gets an exponential tail towards the bound (``p(a) e^y``),
heavier than the Gaussian proposal's, where an independence proposal gets
stuck. Measured with 2 x 100,000 samples: the toy's categories, whose POI is
cut at -1 about one Laplace sigma below its maximum, went from R-hat 1.004 to
1.02 with it; the 98-parameter test workspace, whose POI sits 0.1 sigma above 0,
from 1.015 to 1.03. A HistFactory ``gamma`` (shapesys) parameter is another
matter: its Poisson constraint makes its posterior Gamma-like, skewed, with a
long tail away from the bound that a Gaussian in ``x`` misses (two gammas with
tau = 0.06 near 0: acceptance 0.21 -> 0.60, effective samples x 2 with the
transform). :func:`choose_kinds` with ``mode="auto"`` therefore transforms
only the bounded parameters whose Laplace approximation says nothing or
misleads: a maximum on a bound (:data:`AT_BOUND`), a Laplace width that is a
large part of the bounds' width (:data:`FLAT_FRACTION`: a nearly flat
direction), a gamma-constrained parameter whose Laplace marginal reaches a
bound (:data:`GAMMA_REACH` sigma), or no Laplace approximation at all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..parameters import Parameter
from .options import TRANSFORM_MODES

__all__ = [
    "KINDS",
    "TRANSFORM_MODES",
    "AT_BOUND",
    "FLAT_FRACTION",
    "GAMMA_REACH",
    "INSIDE_MARGIN",
    "BoundTransform",
    "choose_kinds",
]

KINDS = ("identity", "log", "neglog", "logit")
"""How a coordinate is mapped: none, ``a + exp(y)``, ``b - exp(y)``, ``a + (b - a) sigmoid(y)``."""

AT_BOUND = 1e-3
"""``auto`` transforms a parameter whose maximum is within this many Laplace sigma of a bound (on it)."""

FLAT_FRACTION = 0.25
"""``auto`` transforms a parameter with two bounds whose Laplace sigma exceeds this fraction of their
distance (a uniform density on the interval has 0.29)."""

GAMMA_REACH = 2.33
"""``auto`` transforms a gamma-constrained parameter whose maximum is within this many Laplace sigma of a
bound (more than 1% of its Laplace marginal beyond it)."""

INSIDE_MARGIN = 1e-9
"""A point on a bound is moved this fraction of the bounds' width (or of ``max(1, |bound|)``) inside before
it is transformed (the transform of a bound itself is infinite)."""


_EXP_MAX = 700.0


def _softplus(y: np.ndarray) -> np.ndarray:
    """``log(1 + exp(y))`` without overflow."""
    return np.logaddexp(0.0, y)


@dataclass(frozen=True, eq=False)
class BoundTransform:
    """Per-coordinate maps between bounded coordinates ``x`` and unbounded ones ``y``.

    >>> inf = np.inf
    >>> t = BoundTransform(("logit", "log", "identity"), np.array([0.0, 1.0, -inf]), np.array([10.0, inf, inf]))
    >>> y = t.to_unbounded(np.array([[5.0, 2.0, 3.0]]))
    >>> y.round(6).tolist(), t.to_bounded(y).round(12).tolist()
    ([[0.0, 0.0, 3.0]], [[5.0, 2.0, 3.0]])

    Attributes:
        kinds: one of :data:`KINDS` per coordinate.
        lower: the lower bounds, (d,) (``-inf`` where there is none).
        upper: the upper bounds, (d,).

    Raises:
        InvalidInputError: a kind that is not one of :data:`KINDS`, or one whose bounds it needs are missing.
    """

    kinds: tuple[str, ...]
    lower: np.ndarray
    upper: np.ndarray
    _cols: tuple[np.ndarray, ...] = field(init=False, repr=False)
    """The coordinates of each kind, in the order of :data:`KINDS`."""

    def __post_init__(self) -> None:
        lower = np.asarray(self.lower, dtype=np.float64).reshape(-1)
        upper = np.asarray(self.upper, dtype=np.float64).reshape(-1)
        kinds = tuple(str(k) for k in self.kinds)
        if lower.shape != (len(kinds),) or upper.shape != (len(kinds),):
            raise InvalidInputError(
                f"{len(kinds)} kinds for bounds of shapes {lower.shape}, {upper.shape}", where="BoundTransform"
            )
        for j, k in enumerate(kinds):
            needs = {"identity": (), "log": ("lower",), "neglog": ("upper",), "logit": ("lower", "upper")}.get(k)
            if needs is None:
                raise InvalidInputError(f"unknown kind {k!r}; kinds: {', '.join(KINDS)}", where="BoundTransform")
            if ("lower" in needs and not math.isfinite(lower[j])) or ("upper" in needs and not math.isfinite(upper[j])):
                raise InvalidInputError(
                    f"coordinate {j}: {k} needs finite bounds, got [{lower[j]}, {upper[j]}]", where="BoundTransform"
                )
        object.__setattr__(self, "kinds", kinds)
        object.__setattr__(self, "lower", lower)
        object.__setattr__(self, "upper", upper)
        codes = np.array([KINDS.index(k) for k in kinds], dtype=np.intp)
        object.__setattr__(self, "_cols", tuple(np.flatnonzero(codes == c) for c in range(len(KINDS))))

    @classmethod
    def identity(cls, d: int) -> BoundTransform:
        """No transform of ``d`` coordinates.

        Args:
            d: the number of coordinates.

        Returns:
            The identity transform.
        """
        return cls(("identity",) * d, np.full(d, -np.inf), np.full(d, np.inf))

    @property
    def is_identity(self) -> bool:
        """True when no coordinate is transformed."""
        return all(k == "identity" for k in self.kinds)

    def _parts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        cols = self._cols
        return cols[0], cols[1], cols[2], cols[3]

    def subset(self, columns: Sequence[int] | np.ndarray) -> BoundTransform:
        """The transform of some of the coordinates.

        Args:
            columns: the coordinates to keep, in order.

        Returns:
            Their transform.
        """
        cols = np.asarray(columns, dtype=np.intp)
        return BoundTransform(tuple(self.kinds[int(c)] for c in cols), self.lower[cols], self.upper[cols])

    # ------------------------------------------------------------------ maps
    def inside(self, x: np.ndarray) -> np.ndarray:
        """``x`` moved :data:`INSIDE_MARGIN` inside the bounds of its transformed coordinates (others as given).

        Args:
            x: points, (n, d) or (d,).

        Returns:
            A copy whose transformed coordinates lie strictly inside their bounds.
        """
        x = np.array(x, dtype=np.float64)
        _, lg, nl, lt = self._parts()
        width = np.where(
            np.isfinite(self.upper - self.lower),
            self.upper - self.lower,
            np.maximum(1.0, np.abs(np.where(np.isfinite(self.lower), self.lower, self.upper))),
        )
        margin = INSIDE_MARGIN * width
        for cols, lo_side, hi_side in ((lg, True, False), (nl, False, True), (lt, True, True)):
            if cols.size:
                lo = self.lower[cols] + margin[cols] if lo_side else -np.inf
                hi = self.upper[cols] - margin[cols] if hi_side else np.inf
                x[..., cols] = np.clip(x[..., cols], lo, hi)
        return x

    def to_unbounded(self, x: np.ndarray) -> np.ndarray:
        """``y`` of points ``x`` (a bound maps to an infinity: see :meth:`inside`).

        Args:
            x: points, (n, d) or (d,).

        Returns:
            ``y``, the same shape.
        """
        x = np.asarray(x, dtype=np.float64)
        y = x.copy()
        _, lg, nl, lt = self._parts()
        with np.errstate(divide="ignore", invalid="ignore"):
            if lg.size:
                y[..., lg] = np.log(x[..., lg] - self.lower[lg])
            if nl.size:
                y[..., nl] = np.log(self.upper[nl] - x[..., nl])
            if lt.size:
                y[..., lt] = np.log(x[..., lt] - self.lower[lt]) - np.log(self.upper[lt] - x[..., lt])
        return y

    def to_bounded(self, y: np.ndarray) -> np.ndarray:
        """``x`` of points ``y``, inside the bounds (a bound itself only where ``y`` is extreme).

        Args:
            y: points, (n, d) or (d,).

        Returns:
            ``x``, the same shape.
        """
        y = np.asarray(y, dtype=np.float64)
        x = y.copy()
        _, lg, nl, lt = self._parts()
        with np.errstate(over="ignore"):
            if lg.size:  # exp(700) ~ 1e304: finite, so never an infinity a parameter without bound refuses
                x[..., lg] = self.lower[lg] + np.exp(np.minimum(y[..., lg], _EXP_MAX))
            if nl.size:
                x[..., nl] = self.upper[nl] - np.exp(np.minimum(y[..., nl], _EXP_MAX))
            if lt.size:
                s = 0.5 * (1.0 + np.tanh(0.5 * y[..., lt]))  # sigmoid, stable for either sign
                lo, hi = self.lower[lt], self.upper[lt]
                x[..., lt] = np.clip(lo + (hi - lo) * s, lo, hi)
        return x

    def log_jacobian(self, y: np.ndarray) -> np.ndarray:
        """``log |dx/dy|`` summed over the coordinates, per point.

        Args:
            y: points, (n, d).

        Returns:
            (n,); ``-inf`` where ``y`` is so extreme that ``x`` sits on a bound.
        """
        y = np.asarray(y, dtype=np.float64)
        out = np.zeros(y.shape[0])
        _, lg, nl, lt = self._parts()
        for cols in (lg, nl):
            if cols.size:
                out += y[:, cols].sum(axis=1)
        if lt.size:
            yl = y[:, lt]
            out += (np.log(self.upper[lt] - self.lower[lt]) - _softplus(yl) - _softplus(-yl)).sum(axis=1)
        return np.where(np.isfinite(out), out, -np.inf)

    def dx_dy(self, y: np.ndarray) -> np.ndarray:
        """``dx/dy`` per coordinate (the maps are coordinate-wise, so the Jacobian is diagonal).

        Args:
            y: points, (n, d).

        Returns:
            (n, d).
        """
        y = np.asarray(y, dtype=np.float64)
        out = np.ones_like(y)
        _, lg, nl, lt = self._parts()
        if lg.size:
            out[:, lg] = np.exp(y[:, lg])
        if nl.size:
            out[:, nl] = -np.exp(y[:, nl])
        if lt.size:
            s = 0.5 * (1.0 + np.tanh(0.5 * y[:, lt]))
            out[:, lt] = (self.upper[lt] - self.lower[lt]) * s * (1.0 - s)
        return out

    def grad_log_jacobian(self, y: np.ndarray) -> np.ndarray:
        """The gradient of :meth:`log_jacobian` with respect to ``y``.

        Args:
            y: points, (n, d).

        Returns:
            (n, d): 1 for log coordinates, ``1 - 2 sigmoid(y)`` for logit ones, 0 otherwise.
        """
        y = np.asarray(y, dtype=np.float64)
        out = np.zeros_like(y)
        _, lg, nl, lt = self._parts()
        out[:, lg] = 1.0
        out[:, nl] = 1.0
        if lt.size:
            out[:, lt] = -np.tanh(0.5 * y[:, lt])  # 1 - 2 sigmoid(y)
        return out

    def d2x_dy2(self, y: np.ndarray) -> np.ndarray:
        """``d^2x/dy^2`` per coordinate: ``dx/dy`` times ``d log(dx/dy) / dy``, the log-Jacobian's gradient.

        Args:
            y: points, (n, d).

        Returns:
            (n, d).
        """
        return self.dx_dy(y) * self.grad_log_jacobian(y)

    def hess_log_jacobian(self, y: np.ndarray) -> np.ndarray:
        """The diagonal of the Hessian of :meth:`log_jacobian` (it has no other entries).

        Args:
            y: points, (n, d).

        Returns:
            (n, d): ``-2 sigmoid(y) (1 - sigmoid(y))`` for logit coordinates, 0 otherwise.
        """
        y = np.asarray(y, dtype=np.float64)
        out = np.zeros_like(y)
        lt = self._parts()[3]
        if lt.size:
            s = 0.5 * (1.0 + np.tanh(0.5 * y[:, lt]))
            out[:, lt] = -2.0 * s * (1.0 - s)
        return out

    # ------------------------------------------------------------------ records
    def describe(self, names: Sequence[str]) -> dict[str, Any]:
        """The transformed coordinates by kind, for the metadata.

        Args:
            names: the coordinates' parameter names.

        Returns:
            ``{kind: [names]}`` for every kind but identity that is used.
        """
        out: dict[str, Any] = {}
        for name, kind in zip(names, self.kinds, strict=True):
            if kind != "identity":
                out.setdefault(kind, []).append(name)
        return out

    def to_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(kind codes, lower, upper)``: the transform as arrays (a checkpoint stores them).

        Returns:
            Integer codes (indices into :data:`KINDS`), and the bounds.
        """
        return np.array([KINDS.index(k) for k in self.kinds], dtype=np.int64), self.lower, self.upper

    @classmethod
    def from_arrays(cls, codes: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> BoundTransform:
        """The transform :meth:`to_arrays` gave.

        Args:
            codes: indices into :data:`KINDS`.
            lower: the lower bounds.
            upper: the upper bounds.

        Returns:
            The transform.
        """
        return cls(tuple(KINDS[int(c)] for c in codes), np.asarray(lower), np.asarray(upper))


def _kind(lower: float, upper: float) -> str:
    if math.isfinite(lower) and math.isfinite(upper):
        return "logit"
    if math.isfinite(lower):
        return "log"
    if math.isfinite(upper):
        return "neglog"
    return "identity"


def _laplace_fits(p: Parameter, centre: float, sigma: float) -> bool:
    """Whether the Laplace marginal describes a bounded parameter in its own coordinates (see the module docstring)."""
    if not (math.isfinite(sigma) and sigma > 0):
        return False
    distance = min(centre - p.lower, p.upper - centre)
    if distance <= AT_BOUND * sigma or (p.constraint.type == "gamma" and distance <= GAMMA_REACH * sigma):
        return False
    return not (math.isfinite(p.upper - p.lower) and sigma > FLAT_FRACTION * (p.upper - p.lower))


def choose_kinds(
    params: Sequence[Parameter],
    indices: np.ndarray,
    centre: np.ndarray,
    sigma: np.ndarray | None,
    mode: str,
    *,
    keep: Sequence[int] = (),
) -> BoundTransform:
    """The transform of the sampled coordinates ``indices`` (see the module docstring).

    Args:
        params: all parameters of the source.
        indices: the sampled parameters' indices, (d,).
        centre: their values at the maximum, (d,).
        sigma: their Laplace standard deviations, (d,), or None when there is no Laplace approximation.
        mode: one of :data:`TRANSFORM_MODES`.
        keep: sampler coordinates never transformed (a POI confined to a window inside its bounds).

    Returns:
        The transform, with the parameters' bounds.

    Raises:
        InvalidInputError: an unknown ``mode`` (``where="transform"``).
    """
    if mode not in TRANSFORM_MODES:
        raise InvalidInputError(f"unknown mode {mode!r}; modes: {', '.join(TRANSFORM_MODES)}", where="transform")
    idx = np.asarray(indices, dtype=np.intp)
    lower = np.array([params[int(i)].lower for i in idx], dtype=np.float64)
    upper = np.array([params[int(i)].upper for i in idx], dtype=np.float64)
    kinds = []
    for j in range(idx.size):
        kind = "identity" if mode == "none" or j in keep else _kind(lower[j], upper[j])
        if (
            kind != "identity"
            and mode == "auto"
            and sigma is not None
            and _laplace_fits(params[int(idx[j])], float(centre[j]), float(sigma[j]))
        ):
            kind = "identity"
        kinds.append(kind)
    return BoundTransform(tuple(kinds), lower, upper)
