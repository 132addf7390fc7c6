"""Wrap any Python callable as a :class:`~dnnlik.likelihoods.base.ReferenceLikelihood`.

>>> import numpy as np
>>> from dnnlik.likelihoods import CallableLikelihood
>>> gauss = CallableLikelihood(lambda x: -0.5 * (x ** 2).sum(axis=1), ["a", "b"])
>>> float(gauss.logpdf([1.0, 1.0]))
-1.0

The callable gets an (n, P) float64 array of in-bounds points (``vectorized=True``)
or one (P,) point at a time (``vectorized=False``), and must return n (or one)
finite-or-minus-infinity real numbers. Without ``grad``, gradients are central
finite differences (one-sided at a bound) and ``exact_gradient`` is False.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any, overload

import numpy as np

from ..errors import InvalidInputError
from ..parameters import Parameter
from .base import ReferenceLikelihood

__all__ = ["CallableLikelihood"]

_FD_REL_STEP = float(np.finfo(np.float64).eps) ** (1.0 / 3.0)
_FD_MAX_ROWS = 65536


def _as_parameter(item: Parameter | str, index: int) -> Parameter:
    if isinstance(item, Parameter):
        return item
    if isinstance(item, str) and item:
        return Parameter(name=item)
    raise InvalidInputError(
        f"expected a Parameter or a non-empty name, got {type(item).__name__}",
        where=f"parameters[{index}]",
    )


def _code_digest(func: Callable[..., Any]) -> str | None:
    code = getattr(func, "__code__", None)
    if code is None:
        return None
    return "sha256:" + hashlib.sha256(code.co_code + repr(code.co_consts).encode()).hexdigest()


class CallableLikelihood(ReferenceLikelihood):
    """A reference likelihood defined by a user's log-density function (and optional gradient).

    >>> import numpy as np
    >>> from dnnlik.parameters import Parameter
    >>> lik = CallableLikelihood(
    ...     lambda x: -0.5 * ((x[:, 0] - 1.0) / 0.5) ** 2 - 0.5 * x[:, 1] ** 2,
    ...     [Parameter("mu", "poi", bounds=(0.0, 5.0)), "theta"],
    ... )
    >>> lik.logpdf({"mu": [1.5, 2.0, -1.0]})  # theta at its nominal 0; mu = -1 is out of bounds
    array([-0.5, -2. , -inf])
    >>> np.round(lik.grad_logpdf([2.0, 1.0]), 6), lik.exact_gradient  # finite differences
    (array([-4., -1.]), False)

    Args:
        func: the log-density: (n, P) array -> (n,) numbers (or (P,) -> one number
            with ``vectorized=False``), each finite or -inf. It is only called on
            points inside the bounds.
        parameters: the P parameters, as :class:`~dnnlik.parameters.Parameter` or
            bare names (a name gets role "nuisance", no bounds, nominal 0).
        vectorized: whether ``func`` (and ``grad``) take all points at once.
        grad: the gradient, (n, P) -> (n, P) (or (P,) -> (P,)); default central
            finite differences of ``func``.
        name: the name in :meth:`describe`; default ``func.__name__``.

    Raises:
        InvalidInputError: ``func`` or ``grad`` is not callable; no parameters, an
            item that is neither a Parameter nor a non-empty name, or a duplicate
            name. Later, when ``func`` or ``grad`` returns the wrong shape, not real
            numbers, NaN or +inf (raised by :meth:`logpdf` / :meth:`grad_logpdf`).
    """

    def __init__(
        self,
        func: Callable[[np.ndarray], Any],
        parameters: Sequence[Parameter | str],
        *,
        vectorized: bool = True,
        grad: Callable[[np.ndarray], Any] | None = None,
        name: str | None = None,
    ) -> None:
        if not callable(func):
            raise InvalidInputError(f"expected a callable, got {type(func).__name__}", where="func")
        if grad is not None and not callable(grad):
            raise InvalidInputError(f"expected a callable or None, got {type(grad).__name__}", where="grad")
        params = tuple(_as_parameter(p, i) for i, p in enumerate(parameters))
        if not params:
            raise InvalidInputError("at least one parameter is needed", where="parameters")
        names = [p.name for p in params]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise InvalidInputError(f"duplicate parameter names {duplicates}", where="parameters")
        self.parameters = params
        self.name = name if name is not None else getattr(func, "__name__", "callable")
        self._func = func
        self._grad = grad
        self._vectorized = bool(vectorized)
        self._lower = np.array([p.lower for p in params])
        self._upper = np.array([p.upper for p in params])

    @property
    def exact_gradient(self) -> bool:
        """True when ``grad`` was given, False for finite differences."""
        return self._grad is not None

    @property
    def vectorized(self) -> bool:
        """Whether ``func`` takes all points at once."""
        return self._vectorized

    def describe(self) -> dict[str, Any]:
        """Provenance: ``name``, ``version`` (a digest of ``func``'s bytecode, or None), ``source``, ...

        Returns:
            ``name``, ``class``, ``version``, ``source`` (module and qualified name of
            ``func``), ``vectorized``, ``exact_gradient`` and ``n_parameters``.
        """
        func = self._func
        return {
            "name": self.name,
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "version": _code_digest(func),
            "source": f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', repr(func))}",
            "vectorized": self._vectorized,
            "exact_gradient": self.exact_gradient,
            "n_parameters": len(self.parameters),
        }

    # ------------------------------------------------------------------ evaluation
    def _logpdf(self, points: np.ndarray) -> np.ndarray:
        if self._vectorized:
            return self._check_values(self._func(points.copy()), points.shape[0], "func")
        out = np.empty(points.shape[0])
        for i, point in enumerate(points):
            out[i] = self._check_values(self._func(point.copy()), None, f"func (point {i})")
        return out

    def _grad_logpdf(self, points: np.ndarray) -> np.ndarray:
        if self._grad is None:
            return self._finite_differences(points)
        if self._vectorized:
            return self._check_grad(self._grad(points.copy()), points.shape, "grad")
        out = np.empty(points.shape)
        for i, point in enumerate(points):
            out[i] = self._check_grad(self._grad(point.copy()), (points.shape[1],), f"grad (point {i})")
        return out

    def _finite_differences(self, points: np.ndarray) -> np.ndarray:
        """Central differences, one-sided where a step would leave the bounds."""
        n, n_par = points.shape
        grad = np.empty((n, n_par))
        rows = max(1, _FD_MAX_ROWS // (2 * n_par))
        for start in range(0, n, rows):
            x = points[start : start + rows]
            m = x.shape[0]
            step = _FD_REL_STEP * np.maximum(1.0, np.abs(x))
            up = np.minimum(x + step, self._upper)
            down = np.maximum(x - step, self._lower)
            eye = np.eye(n_par, dtype=bool)
            # batch (m, 2, P, P): for each point, P "up" then P "down" points
            batch = np.broadcast_to(x[:, None, None, :], (m, 2, n_par, n_par)).copy()
            batch[:, 0][:, eye] = up
            batch[:, 1][:, eye] = down
            values = self._logpdf(batch.reshape(-1, n_par)).reshape(m, 2, n_par)
            width = up - down
            with np.errstate(invalid="ignore", divide="ignore"):
                g = (values[:, 0] - values[:, 1]) / width
            g[width == 0.0] = 0.0
            grad[start : start + m] = g
        return grad

    # ------------------------------------------------------------------ output checks
    @overload
    def _check_values(self, result: Any, n: int, where: str) -> np.ndarray: ...
    @overload
    def _check_values(self, result: Any, n: None, where: str) -> float: ...
    def _check_values(self, result: Any, n: int | None, where: str) -> np.ndarray | float:
        """``result`` checked as ``n`` log-densities (an (n,) array), or as one number (a float) for ``n=None``."""
        arr = self._as_real_array(result, where)
        if n is None:
            if arr.size != 1 or arr.ndim > 1:
                raise InvalidInputError(
                    f"returned shape {arr.shape}; a non-vectorized log-density must return one number per point",
                    where=where,
                )
            arr = arr.reshape(())
        elif arr.shape != (n,):
            raise InvalidInputError(
                f"returned shape {arr.shape} for {n} point(s); expected ({n},): one log-density per "
                "row (use vectorized=False if it takes one point at a time)",
                where=where,
            )
        bad = np.isnan(arr) | np.isposinf(arr)
        if bad.any():
            first = int(np.flatnonzero(bad.ravel())[0])
            raise InvalidInputError(
                f"returned {arr.ravel()[first]} (first at result index {first}); a log-density must be finite or -inf",
                where=where,
            )
        return arr if n is not None else float(arr)

    def _check_grad(self, result: Any, shape: tuple[int, ...], where: str) -> np.ndarray:
        arr = self._as_real_array(result, where)
        if arr.shape != shape:
            raise InvalidInputError(f"returned shape {arr.shape}; expected {shape}", where=where)
        return arr

    @staticmethod
    def _as_real_array(result: Any, where: str) -> np.ndarray:
        try:
            arr = np.asarray(result)
        except Exception as exc:  # report any conversion failure the same way
            raise InvalidInputError(f"returned something that is not an array ({exc})", where=where) from None
        if arr.dtype.kind not in "iuf":
            raise InvalidInputError(
                f"returned dtype {arr.dtype} ({type(result).__name__}); expected real numbers", where=where
            )
        return arr.astype(np.float64, copy=False)
