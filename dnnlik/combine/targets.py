"""A signal strength given as a Python callable, with its exact gradient or central finite differences.

The callable takes ``{parameter name: (N,) float64 array}`` (each new-model
parameter's values at N points, copies) and returns N signal strengths; an
optional gradient callable returns ``{parameter name: (N,) partial
derivatives}`` (a name left out: derivative 0). Without one, the gradient is
central differences with a step relative to each value (one-sided at a
bound), as :class:`~dnnlik.likelihoods.CallableLikelihood` does, and
``exact_gradient`` is False.

>>> import numpy as np
>>> from dnnlik.parameters import Parameter
>>> mu = CallableStrength(lambda v: 2.0 * v["g"] ** 2, None, [Parameter("g", "poi", (0.0, 3.0))], where="mu")
>>> value, grad = mu.value_and_grad(np.array([[1.0]]))
>>> value.tolist(), np.round(grad, 6).tolist(), mu.exact_gradient
([2.0], [[4.0]], False)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..parameters import Parameter

__all__ = ["CallableStrength", "FD_RELATIVE_STEP"]

FD_RELATIVE_STEP = float(np.finfo(np.float64).eps) ** (1.0 / 3.0)
"""The finite-difference step, relative to ``max(1, |value|)`` (the optimum for central differences)."""


class CallableStrength:
    """One signal strength computed by user code, vectorised over points.

    Args:
        func: ``f({name: (N,) array}) -> (N,) array`` (a scalar is broadcast).
        grad: ``g({name: (N,) array}) -> {name: (N,) array}``, or None for finite differences.
        parameters: the new model's K parameters (column order of the points).
        where: the target's place, for messages.

    Raises:
        InvalidInputError: ``func`` or ``grad`` is not callable. Later (at evaluation), a result
            that is not real numbers of the right shape, or NaN.
    """

    def __init__(
        self,
        func: Callable[[Mapping[str, np.ndarray]], Any],
        grad: Callable[[Mapping[str, np.ndarray]], Mapping[str, Any]] | None,
        parameters: Sequence[Parameter],
        *,
        where: str,
    ) -> None:
        if not callable(func):
            raise InvalidInputError(f"expected a callable, got {type(func).__name__}", where=where)
        if grad is not None and not callable(grad):
            raise InvalidInputError(
                f"expected a callable gradient, got {type(grad).__name__}", where=f"gradient/{where}"
            )
        self.func = func
        self.grad = grad
        self.where = where
        self.parameter_names = tuple(p.name for p in parameters)
        self.used_parameters = frozenset(self.parameter_names)  # a callable may read any of them
        self._lower = np.array([p.lower for p in parameters])
        self._upper = np.array([p.upper for p in parameters])

    @property
    def exact_gradient(self) -> bool:
        """True when a gradient callable was given, False for finite differences."""
        return self.grad is not None

    def describe(self) -> dict[str, Any]:
        """The callable's qualified name and how its gradient is computed.

        Returns:
            ``{"callable": "module.qualname", "gradient": "exact" or "finite differences"}``.
        """
        f = self.func
        return {
            "callable": f"{getattr(f, '__module__', '?')}.{getattr(f, '__qualname__', type(f).__qualname__)}",
            "gradient": "exact" if self.exact_gradient else "finite differences",
        }

    def _named(self, cols: np.ndarray) -> dict[str, np.ndarray]:
        return {n: cols[:, k].copy() for k, n in enumerate(self.parameter_names)}

    def _numbers(self, result: Any, n: int, where: str) -> np.ndarray:
        try:
            arr = np.asarray(result)
        except Exception as exc:  # any conversion failure is the caller's bug, reported the same way
            raise InvalidInputError(f"returned something that is not an array ({exc})", where=where) from None
        if arr.dtype.kind not in "iuf":
            raise InvalidInputError(f"returned {arr.dtype} values; expected real numbers", where=where)
        if arr.shape not in ((), (n,)):
            raise InvalidInputError(
                f"returned shape {arr.shape} for {n} point(s); expected ({n},): one value per point", where=where
            )
        return np.broadcast_to(arr.astype(np.float64), (n,))

    def value(self, cols: np.ndarray) -> np.ndarray:
        """The signal strength at N points.

        Args:
            cols: (N, K) values of the new parameters.

        Returns:
            (N,) float64, finite or infinite.

        Raises:
            InvalidInputError: the callable returned a wrong shape, non-numbers or NaN.
        """
        out = self._numbers(self.func(self._named(cols)), cols.shape[0], self.where)
        nan = np.flatnonzero(np.isnan(out))
        if nan.size:
            at = dict(zip(self.parameter_names, cols[nan[0]].tolist(), strict=True))
            more = f" and {nan.size - 1} more" if nan.size > 1 else ""
            raise InvalidInputError(
                f"returned NaN at point {nan[0]} ({at}){more}; a signal strength must be a number",
                where=self.where,
            )
        return out

    def value_and_grad(self, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The signal strength and its (N, K) gradient with respect to the new parameters.

        Args:
            cols: (N, K) values of the new parameters, inside their bounds.

        Returns:
            ``(value, grad)``.

        Raises:
            InvalidInputError: either callable returned a malformed result, or the gradient
                named an unknown parameter or gave NaN where the value is finite.
        """
        value = self.value(cols)
        n, k = cols.shape
        if self.grad is None:
            return value, self._finite_differences(cols)
        where = f"gradient/{self.where}"
        partials = self.grad(self._named(cols))
        if not isinstance(partials, Mapping):
            raise InvalidInputError(f"must return {{parameter name: derivatives}}, got {partials!r:.60}", where=where)
        grad = np.zeros((n, k))
        for name, d in partials.items():
            if name not in self.parameter_names:
                raise InvalidInputError(
                    f"returned a derivative by {name!r}, not a parameter; parameters: {list(self.parameter_names)}",
                    where=where,
                )
            grad[:, self.parameter_names.index(name)] = self._numbers(d, n, f"{where}/{name}")
        bad = np.isnan(grad).any(axis=1) & np.isfinite(value)
        if bad.any():
            raise InvalidInputError(f"returned NaN at point {np.flatnonzero(bad)[0]}", where=where)
        return value, grad

    def _finite_differences(self, cols: np.ndarray) -> np.ndarray:
        """Central differences, one-sided where a step would leave the bounds: one call of ``func``."""
        n, k = cols.shape
        step = FD_RELATIVE_STEP * np.maximum(1.0, np.abs(cols))
        up = np.minimum(cols + step, self._upper)
        down = np.maximum(cols - step, self._lower)
        batch = np.broadcast_to(cols, (2, k, n, k)).copy()  # [side, stepped parameter, point, column]
        for j in range(k):
            batch[0, j, :, j] = up[:, j]
            batch[1, j, :, j] = down[:, j]
        values = self.value(batch.reshape(-1, k)).reshape(2, k, n)
        width = (up - down).T  # (k, n)
        with np.errstate(invalid="ignore", divide="ignore"):
            g = (values[0] - values[1]) / width
        g[width == 0.0] = 0.0
        return np.ascontiguousarray(g.T)
