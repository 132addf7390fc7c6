"""The interface every reference likelihood implements.

A reference likelihood is a log-density known in closed form (or given as
Python code), against which a published neural-network bundle is compared.
:class:`ReferenceLikelihood` fixes the calling conventions shared with bundles:

- ``x`` is anything :func:`dnnlik.points.as_points` accepts: an (N, P)
  array, one length-P point, or a ``{name: value}`` mapping;
- ``logpdf`` returns an (N,) float64 array, or a numpy float64 scalar when one
  point was given; points outside a parameter's bounds give ``-inf`` (no
  error); NaN input raises :class:`~dnnlik.errors.InvalidInputError`;
- ``grad_logpdf`` returns (N, P) float64, or (P,) for one point; rows where
  the log-density is ``-inf`` (outside bounds, impossible model) are NaN,
  since no gradient exists there.

Subclasses implement :meth:`ReferenceLikelihood._logpdf` (and usually
:meth:`ReferenceLikelihood._grad_logpdf`) on (n, P) arrays of in-bounds points;
the public methods handle the input forms, the bounds and the output shape.
"""

from __future__ import annotations

import abc
from typing import Any

import numpy as np

from ..parameters import Parameter
from ..points import as_points, outside_bounds

__all__ = ["ReferenceLikelihood"]


class ReferenceLikelihood(abc.ABC):
    """Abstract base of reference likelihoods (toy models, user callables)."""

    #: Short registry name, e.g. ``"toy-lhc-like"``.
    name: str = ""
    #: The parameters, in the order the points' columns take them.
    parameters: tuple[Parameter, ...] = ()

    # ------------------------------------------------------------------ to implement
    @abc.abstractmethod
    def _logpdf(self, points: np.ndarray) -> np.ndarray:
        """Log-density of an (n, P) C-contiguous float64 array of in-bounds points -> (n,)."""

    @abc.abstractmethod
    def _grad_logpdf(self, points: np.ndarray) -> np.ndarray:
        """Gradient of the log-density at (n, P) in-bounds points -> (n, P)."""

    def _logpdf_and_grad(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Both at once; subclasses that share work between the two override this."""
        return self._logpdf(points), self._grad_logpdf(points)

    @property
    @abc.abstractmethod
    def exact_gradient(self) -> bool:
        """True when :meth:`grad_logpdf` is analytic, False when it is a numerical estimate."""

    @abc.abstractmethod
    def describe(self) -> dict[str, Any]:
        """Provenance: ``name``, ``version`` (a digest of its data or code), ``source``, ..."""

    # ------------------------------------------------------------------ public API
    @property
    def n_parameters(self) -> int:
        """P, the number of parameters."""
        return len(self.parameters)

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """The parameter names, in order."""
        return tuple(p.name for p in self.parameters)

    def logpdf(self, x: Any) -> np.ndarray:
        """Log-density at the point(s) ``x``: (N,) float64, or a float64 scalar for one point.

        Args:
            x: an (N, P) array, one length-P point, or a ``{name: value(s)}``
                mapping (missing names at their nominal value).

        Returns:
            The log-density, ``-inf`` at points outside the bounds.

        Raises:
            InvalidInputError: ``x`` is malformed or holds NaN or non-numbers
                (see :mod:`dnnlik.points`), or the model's own output is invalid.
        """
        points, single = as_points(x, self.parameters)
        out = np.full(points.shape[0], -np.inf)
        inside = ~outside_bounds(points, self.parameters)
        if inside.all():
            out = np.asarray(self._logpdf(points), dtype=np.float64)
        elif inside.any():
            out[inside] = self._logpdf(np.ascontiguousarray(points[inside]))
        return out[0] if single else out

    def grad_logpdf(self, x: Any) -> np.ndarray:
        """Gradient of the log-density: (N, P) float64, or (P,) for one point (NaN rows where -inf).

        Args:
            x: the point(s), in any form :meth:`logpdf` accepts.

        Returns:
            The gradient with respect to the parameters, NaN where the log-density is -inf.

        Raises:
            InvalidInputError: as :meth:`logpdf`.
        """
        return self.logpdf_and_grad(x)[1]

    def logpdf_and_grad(self, x: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(logpdf(x), grad_logpdf(x))`` in one call (cheaper when work is shared).

        Args:
            x: the point(s), in any form :meth:`logpdf` accepts.

        Returns:
            ``(value, gradient)``, of shapes (N,) and (N, P), or a scalar and (P,) for one point.

        Raises:
            InvalidInputError: as :meth:`logpdf`.
        """
        points, single = as_points(x, self.parameters)
        n, n_par = points.shape
        value = np.full(n, -np.inf)
        grad = np.full((n, n_par), np.nan)
        inside = ~outside_bounds(points, self.parameters)
        if inside.all():
            value, grad = self._logpdf_and_grad(points)
        elif inside.any():
            value[inside], grad[inside] = self._logpdf_and_grad(np.ascontiguousarray(points[inside]))
        value = np.asarray(value, dtype=np.float64)
        grad = np.asarray(grad, dtype=np.float64)
        grad[np.isneginf(value)] = np.nan
        if single:
            return value[0], grad[0]
        return value, grad

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, n_parameters={self.n_parameters})"
