"""The quadratic (Laplace) approximation of a likelihood, as a source like any other.

``log L(x) ~ log L(x_hat) - 0.5 (x - x_hat)^T Q (x - x_hat)`` with ``Q`` the
precision (minus the Hessian) at the maximum. Every fidelity report carries
its metrics as a reference row: a network that does not clearly beat it is
not worth publishing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..density import LogDensity
from ..parameters import Parameter
from ..points import as_points, outside_bounds

__all__ = ["QuadraticApproximation"]


class QuadraticApproximation:
    """A Gaussian log-density with ``logpdf``/``grad_logpdf`` and the source's parameters and bounds.

    Args:
        parameters: the source's parameters (their bounds still apply: -inf outside).
        center: the maximum ``x_hat``, (P,).
        precision: ``Q``, minus the Hessian at ``x_hat``, (P, P).
        value_at_center: ``log L(x_hat)``.
    """

    def __init__(
        self, parameters: Sequence[Parameter], center: np.ndarray, precision: np.ndarray, value_at_center: float
    ) -> None:
        self.parameters = tuple(parameters)
        self.center = np.asarray(center, dtype=np.float64)
        self.precision = np.asarray(precision, dtype=np.float64)
        self.value_at_center = float(value_at_center)
        self.name = "quadratic approximation"

    @property
    def exact_gradient(self) -> bool:
        """The gradient of a quadratic form is analytic."""
        return True

    @classmethod
    def at_maximum(cls, source: LogDensity, best_point: np.ndarray | None = None) -> QuadraticApproximation:
        """The Laplace approximation of ``source`` at its maximum (found if not given).

        Args:
            source: the log-density to approximate.
            best_point: its maximum, (P,); default ``maximize(source).point``.

        Returns:
            The approximation, with the precision from finite differences of the
            gradient at ``best_point`` (eigenvalues floored, see
            :func:`dnnlik.sample.laplace.laplace_at`).

        Raises:
            InvalidInputError: the source has no gradient, its gradient is not finite
                next to ``best_point``, or it has no downward curvature there.
            OptimizationError: the maximum had to be found, and the fit failed.
        """
        from ..infer import maximize
        from ..sample.laplace import laplace_at

        if best_point is None:
            best_point = maximize(source).point
        lap = laplace_at(source, np.asarray(best_point, dtype=np.float64))
        n = len(source.parameters)
        precision = np.zeros((n, n))
        precision[np.ix_(lap.indices, lap.indices)] = lap.precision
        value = float(np.asarray(source.logpdf(np.asarray(best_point)[None, :])).reshape(-1)[0])
        return cls(source.parameters, np.asarray(best_point), precision, value)

    def _points(self, x: Any) -> tuple[np.ndarray, bool, np.ndarray]:
        points, single = as_points(x, self.parameters)
        return points, single, outside_bounds(points, self.parameters)

    def logpdf(self, x: Any) -> np.ndarray:
        """``log L(x_hat) - 0.5 (x - x_hat)^T Q (x - x_hat)``; -inf outside the bounds.

        Args:
            x: the point(s), in any form :func:`dnnlik.points.as_points` accepts.

        Returns:
            (N,), or a scalar for one point.

        Raises:
            InvalidInputError: ``x`` is malformed (see :mod:`dnnlik.points`).
        """
        points, single, outside = self._points(x)
        d = points - self.center
        values = self.value_at_center - 0.5 * np.einsum("ij,jk,ik->i", d, self.precision, d)
        values[outside] = -np.inf
        return values[0] if single else values

    def grad_logpdf(self, x: Any) -> np.ndarray:
        """``-Q (x - x_hat)``; NaN rows outside the bounds.

        Args:
            x: the point(s), in any form :func:`dnnlik.points.as_points` accepts.

        Returns:
            (N, P), or (P,) for one point.

        Raises:
            InvalidInputError: ``x`` is malformed (see :mod:`dnnlik.points`).
        """
        points, single, outside = self._points(x)
        grads = -(points - self.center) @ self.precision
        grads[outside] = np.nan
        return grads[0] if single else grads
