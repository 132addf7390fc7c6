"""The Laplace approximation at a maximum: the covariance from the Hessian of the log-density.

The Hessian is built from central finite differences of the source's
gradient (analytic for the reference likelihoods), all 2P shifted points in one
batched call; a step that would leave a parameter's bounds is made one-sided.
The negated Hessian (the precision matrix) is symmetrised and, scaled to a unit
diagonal, its eigenvalues are floored so that it is positive definite; how many
were floored is recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..density import LogDensity
from ..errors import InvalidInputError, NoGradientError

__all__ = ["Laplace", "PreconditionedSource", "hessian", "laplace_at"]

FD_REL_STEP = 1e-5
"""Relative step of the finite differences of the gradient."""
EIGEN_FLOOR = 1e-8
"""Smallest eigenvalue kept of the precision scaled to a unit diagonal, relative to its largest."""


@dataclass(frozen=True)
class Laplace:
    """A Gaussian approximation N(mean, precision^-1) of a log-density near its maximum.

    ``mean`` and ``precision`` are in the coordinates of ``indices`` (positions
    in the source's parameter vector).
    """

    mean: np.ndarray
    precision: np.ndarray
    indices: np.ndarray
    floored_eigenvalues: int = 0
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def covariance(self) -> np.ndarray:
        """The inverse of the precision."""
        return np.linalg.inv(self.precision)

    @property
    def sigma(self) -> np.ndarray:
        """Marginal standard deviations."""
        return np.sqrt(np.diag(self.covariance))


def _grad(source: Any, x: np.ndarray) -> np.ndarray:
    combined = getattr(source, "logpdf_and_grad", None)
    try:
        if combined is not None:
            _, g = combined(x)
        else:
            g = source.grad_logpdf(x)
    except NoGradientError:
        raise InvalidInputError(
            "the source has no gradient, so no Hessian for the Laplace-preconditioned moves; "
            "choose moves without 'laplace'",
            where="moves",
        ) from None
    return np.asarray(g, dtype=np.float64)


def hessian(source: LogDensity, x: np.ndarray, indices: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
    """Hessian of ``source.logpdf`` at ``x`` over the parameters ``indices`` (all by default).

    A source with its own ``hessian(x, indices)`` method supplies it (see
    :class:`PreconditionedSource`); otherwise central differences of its gradient.

    Args:
        source: the log-density (with ``grad_logpdf`` or ``logpdf_and_grad``).
        x: the point, (P,).
        indices: the parameters to differentiate over.

    Returns:
        The symmetric (k, k) Hessian, k = ``len(indices)``.

    Raises:
        InvalidInputError: the source has no gradient (``where="moves"``), or
            it is not finite next to ``x`` (``where="hessian"``).
    """
    own = getattr(source, "hessian", None)
    if callable(own):
        h = np.asarray(own(np.asarray(x, dtype=np.float64).reshape(-1), indices), dtype=np.float64)
        return 0.5 * (h + h.T)
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    params = tuple(source.parameters)
    idx = np.arange(x.size) if indices is None else np.asarray(indices, dtype=np.intp)
    lower = np.array([p.lower for p in params])[idx]
    upper = np.array([p.upper for p in params])[idx]
    k = idx.size
    step = FD_REL_STEP * np.maximum(1.0, np.abs(x[idx]))
    up = np.minimum(x[idx] + step, upper)
    down = np.maximum(x[idx] - step, lower)
    batch = np.repeat(x[None, :], 2 * k, axis=0)
    rows = np.arange(k)
    batch[rows, idx] = up
    batch[k + rows, idx] = down
    g = _grad(source, batch)[:, idx]
    if not np.all(np.isfinite(g)):
        raise InvalidInputError(
            "the gradient is not finite next to the point where the Hessian is wanted", where="hessian"
        )
    width = (up - down)[:, None]
    h = (g[:k] - g[k:]) / width
    return 0.5 * (h + h.T)


def laplace_at(source: LogDensity, x: np.ndarray, indices: Sequence[int] | np.ndarray | None = None) -> Laplace:
    """The Laplace approximation at ``x`` (normally a maximum) over ``indices``.

    The precision is minus the Hessian; scaled to a unit diagonal, its eigenvalues are
    floored at :data:`EIGEN_FLOOR` times the largest (how many, recorded).

    Args:
        source: the log-density.
        x: the point, (P,).
        indices: the parameters the approximation covers (all by default).

    Returns:
        Mean ``x[indices]``, precision, and how it was made.

    Raises:
        InvalidInputError: no gradient, or no downward curvature at ``x``.
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    idx = np.arange(x.size) if indices is None else np.asarray(indices, dtype=np.intp)
    precision = -hessian(source, x, idx)
    diag = np.diag(precision)
    top_diag = float(diag.max()) if diag.size else 1.0
    if not np.isfinite(top_diag) or top_diag <= 0.0:
        raise InvalidInputError(
            "the log-density has no curvature downwards at its maximum: no Laplace approximation", where="hessian"
        )
    # The floor applies to the precision scaled to a unit diagonal, so that it is relative to each direction's
    # own curvature: relative to the largest eigenvalue of the raw matrix, one parameter a million times
    # narrower than the rest (a HistFactory gamma with tau = 1e11) would floor every other direction.
    scale = 1.0 / np.sqrt(np.maximum(diag, EIGEN_FLOOR * top_diag))
    scaled = precision * scale[:, None] * scale[None, :]
    vals, vecs = np.linalg.eigh(scaled)
    top = float(vals.max()) if vals.size else 1.0
    if not np.isfinite(top) or top <= 0.0:
        raise InvalidInputError(
            "the log-density has no curvature downwards at its maximum: no Laplace approximation", where="hessian"
        )
    floor = EIGEN_FLOOR * top
    floored = int(np.count_nonzero(vals < floor))
    if floored:
        vals = np.maximum(vals, floor)
        scaled = (vecs * vals) @ vecs.T
        precision = scaled / scale[:, None] / scale[None, :]
        precision = 0.5 * (precision + precision.T)
    return Laplace(
        mean=x[idx].copy(),
        precision=precision,
        indices=idx,
        floored_eigenvalues=floored,
        info={
            "hessian": "central differences of the gradient",
            "relative_step": FD_REL_STEP,
            "floored_eigenvalues": floored,
        },
    )


class PreconditionedSource:
    """``target``'s log-density, with the Hessian (for Laplace-preconditioned moves) taken from ``guide``.

    A network surrogate is piecewise smooth (SELU's derivative jumps at 0), so
    finite differences of its gradient can straddle a kink and give a useless
    Hessian, often right at its maximum. The Laplace moves only precondition the
    Metropolis-Hastings proposals: any fixed Gaussian keeps the chain exact, so
    the reference likelihood's Hessian serves and the samples are still those of
    ``target`` (every log-density and gradient comes from it).

    Args:
        target: the log-density sampled (a bundle, say).
        guide: a log-density over the same parameters whose Hessian
            preconditions the moves (the reference likelihood).

    Raises:
        InvalidInputError: the two have different parameters.
    """

    def __init__(self, target: LogDensity, guide: LogDensity) -> None:
        a = [p.name for p in target.parameters]
        b = [p.name for p in guide.parameters]
        if a != b:
            raise InvalidInputError(
                f"the guide's parameters {b[:3]}... differ from the target's {a[:3]}...", where="PreconditionedSource"
            )
        self.target, self.guide = target, guide
        self.parameters = tuple(target.parameters)
        self.name = getattr(target, "name", "surrogate")

    @property
    def exact_gradient(self) -> bool:
        """The target's (every gradient comes from it)."""
        return bool(getattr(self.target, "exact_gradient", False))

    def logpdf(self, x: Any) -> np.ndarray:
        """The target's log-density."""
        return self.target.logpdf(x)

    def grad_logpdf(self, x: Any) -> np.ndarray:
        """The target's gradient."""
        return self.target.grad_logpdf(x)

    def hessian(self, x: np.ndarray, indices: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """The guide's Hessian (:func:`hessian`)."""
        return hessian(self.guide, x, indices)

    def describe(self) -> dict[str, Any]:
        """The target's description, with the guide's under ``proposals_preconditioned_by``."""

        def info(s: Any) -> Any:
            return s.describe() if hasattr(s, "describe") else {"name": getattr(s, "name", type(s).__name__)}

        return {**info(self.target), "proposals_preconditioned_by": info(self.guide)}
