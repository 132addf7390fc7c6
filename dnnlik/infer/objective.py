"""A log-density source seen as a minimisation objective over its free parameters.

``source`` is anything with ``.parameters``, ``.logpdf(X)`` and
``.grad_logpdf(X)`` on (N, P) arrays (reference likelihoods, bundles); a
``logpdf_and_grad(X)`` method is used when present. When the gradient raises
:class:`~dnnlik.errors.NoGradientError`, it is replaced by central finite
differences of ``logpdf`` (all 2P shifted points in one batched call).

Points where the log-density is -inf or NaN (outside the support) get a
finite penalty growing quadratically away from the best point seen so far,
so that L-BFGS-B's line search backs off instead of being fed infinities
(which it mistakes for convergence).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..density import LogDensity
from ..errors import NoGradientError, OptimizationError
from ..parameters import Parameter
from .scales import PROBE_STEPS

__all__ = ["Objective", "DEFAULT_FD_STEP", "PROBE_TOLERANCE"]

DEFAULT_FD_STEP = 1e-4
"""Relative step of the finite-difference gradient used when a source has none."""

RUNAWAY = 1e12
"""A free parameter beyond this magnitude means the log-density grows without bound."""

PROBE_TOLERANCE = 1e-10
"""A probed point counts as better when it beats the centre by more than this times ``max(1, |log-density|)``
(and by more than :data:`NOISE_FACTOR` times the source's round-off noise there)."""

NOISE_STEP = 1e-7
"""Relative size (of each parameter's probe scale) of the jitters that measure the round-off noise."""

NOISE_FACTOR = 8.0
"""How many times the measured noise a probed point must beat the centre by."""

_NOISE_SIGNS = np.random.default_rng(0).choice([-1.0, 1.0], size=(8, 4096))
"""Fixed sign patterns of the noise jitters (deterministic fits)."""


class Objective:
    """``f(z) = -logpdf(x(z))`` and its gradient, where ``z`` are the free parameters of ``x``.

    Args:
        source: the log-density.
        base_point: a (P,) point giving the fixed parameters' values.
        free: indices of the free parameters, the columns ``z`` fills.
        fd_step: relative step of the finite-difference gradient, used once the
            source raises :class:`~dnnlik.errors.NoGradientError`.
    """

    def __init__(
        self,
        source: LogDensity,
        base_point: np.ndarray,
        free: np.ndarray,
        *,
        fd_step: float = DEFAULT_FD_STEP,
    ) -> None:
        self.source = source
        self.parameters: Sequence[Parameter] = tuple(source.parameters)
        self.base = np.array(base_point, dtype=np.float64)
        self.free = np.asarray(free, dtype=np.intp)
        self.lower = np.array([p.lower for p in self.parameters], dtype=np.float64)[self.free]
        self.upper = np.array([p.upper for p in self.parameters], dtype=np.float64)[self.free]
        self.fd_step = float(fd_step)
        self.n_evaluations = 0
        self.finite_differences = False
        self._combined = getattr(source, "logpdf_and_grad", None)
        self._best: tuple[float, np.ndarray] | None = None

    @property
    def method(self) -> str:
        """``"L-BFGS-B"``, with "(finite-difference gradient)" once the source had no gradient."""
        return "L-BFGS-B (finite-difference gradient)" if self.finite_differences else "L-BFGS-B"

    def full_point(self, z: np.ndarray) -> np.ndarray:
        """The (P,) point: the base point with the free parameters set to ``z``."""
        x = self.base.copy()
        x[self.free] = z
        return x

    def reset_best(self) -> None:
        """Forget the best point seen, the centre of the penalty (before a new start)."""
        self._best = None

    # ------------------------------------------------------------------ values
    def logpdf(self, z: np.ndarray) -> float:
        """The source's log-density at the free parameters ``z`` (no penalty).

        Args:
            z: the free parameters' values, shape (number free,).

        Returns:
            The log-density (may be -inf).

        Raises:
            OptimizationError: the log-density is +inf there (unbounded above).
        """
        self.n_evaluations += 1
        out = np.asarray(self.source.logpdf(self.full_point(z)[None, :]), dtype=np.float64)
        value = float(out.reshape(-1)[0])
        self._check_not_plus_inf(value, z)
        return value

    def __call__(self, z: np.ndarray) -> tuple[float, np.ndarray]:
        """``(-logpdf, -gradient)`` over the free parameters, penalised outside the support.

        Args:
            z: the free parameters' values, shape (number free,).

        Returns:
            The value to minimise and its gradient, shape (number free,).

        Raises:
            OptimizationError: a parameter ran beyond 1e12 (the log-density grows
                without bound), the log-density is +inf, the gradient is not finite
                where the log-density is, or the log-density is not finite and no
                finite point has been seen since :meth:`reset_best`.
        """
        far = np.abs(z) > RUNAWAY
        if far.any():
            j = int(np.flatnonzero(far)[0])
            raise OptimizationError(
                f"parameter '{self._name(j)}' ran away to {z[j]:.3g}: the log-density seems to grow "
                "without bound in that direction (give the parameter finite bounds)",
                where="maximize",
            )
        value, grad = self._value_and_grad(z)
        if not np.isfinite(value):
            return self._penalty(z)
        if not np.all(np.isfinite(grad)):
            raise OptimizationError(
                f"the gradient is not finite at a point where the log-density is finite ({value:.6g}); "
                f"first free parameter with a bad gradient: "
                f"{self._name(int(np.flatnonzero(~np.isfinite(grad))[0]))}",
                where="maximize",
            )
        if self._best is None or -value < self._best[0]:
            self._best = (-value, np.array(z, dtype=np.float64))
        return -value, -grad

    def _value_and_grad(self, z: np.ndarray) -> tuple[float, np.ndarray]:
        x = self.full_point(z)[None, :]
        if not self.finite_differences:
            try:
                self.n_evaluations += 1
                if self._combined is not None:
                    value, grad = self._combined(x)
                else:
                    value = self.source.logpdf(x)
                    grad = self.source.grad_logpdf(x)
                value = float(np.asarray(value, dtype=np.float64).reshape(-1)[0])
                self._check_not_plus_inf(value, z)
                grad = np.asarray(grad, dtype=np.float64).reshape(-1)[self.free]
                return value, grad
            except NoGradientError:
                self.finite_differences = True
        return self._value_and_fd_grad(z)

    def _value_and_fd_grad(self, z: np.ndarray) -> tuple[float, np.ndarray]:
        n_free = z.shape[0]
        step = self.fd_step * np.maximum(1.0, np.abs(z))
        up = np.minimum(z + step, self.upper)
        down = np.maximum(z - step, self.lower)
        batch = np.repeat(self.full_point(z)[None, :], 2 * n_free + 1, axis=0)
        cols = self.free
        rows = np.arange(n_free)
        batch[1 + rows, cols] = up
        batch[1 + n_free + rows, cols] = down
        self.n_evaluations += 1
        values = np.asarray(self.source.logpdf(batch), dtype=np.float64).reshape(-1)
        value = float(values[0])
        self._check_not_plus_inf(value, z)
        width = up - down
        with np.errstate(invalid="ignore", divide="ignore"):
            grad = (values[1 : 1 + n_free] - values[1 + n_free :]) / width
        grad[width == 0.0] = 0.0
        return value, grad

    # ------------------------------------------------------------------ a derivative-free check
    def probe(self, z: np.ndarray, value: float, scales: np.ndarray) -> tuple[float, np.ndarray] | None:
        """The best point one coordinate step from ``z``, if it beats ``value`` by more than the tolerance.

        The steps are ``PROBE_STEPS`` times ``scales`` up and down each free
        parameter (clipped into the bounds), all evaluated in one batched call.
        At a smooth maximum, or at a kink, none improves; where L-BFGS-B stopped
        short (a failed line search, a gradient spoilt by round-off) one does.

        Args:
            z: the free parameters' values.
            value: the log-density at ``z``.
            scales: each free parameter's scale (:func:`~dnnlik.infer.scales.probe_steps`).

        The same batch holds a few jitters of ``z`` itself (every parameter moved
        by ``NOISE_STEP`` of its scale, signs fixed): at a maximum they change the
        log-density by round-off alone (a network evaluated in float32, say,
        scatters by ~1e-7 in log L), so a probed point must also beat ``value`` by
        more than ``NOISE_FACTOR`` times that scatter: noise is never taken for
        an improvement.

        Returns:
            ``(log-density, point)`` of the best step when it improves on ``value``
            by more than ``PROBE_TOLERANCE * max(1, |value|)`` and the noise; None otherwise.

        Raises:
            OptimizationError: the log-density is +inf at a probed point.
        """
        z = np.asarray(z, dtype=np.float64)
        n = z.size
        rows = []
        for rel in PROBE_STEPS:
            for sign in (1.0, -1.0):
                shifted = np.repeat(z[None, :], n, axis=0)
                shifted[np.arange(n), np.arange(n)] = np.clip(z + sign * rel * scales, self.lower, self.upper)
                rows.append(shifted)
        candidates = np.concatenate(rows)
        candidates = candidates[np.any(candidates != z, axis=1)]
        if candidates.shape[0] == 0:
            return None
        signs = _NOISE_SIGNS[:, np.arange(n) % _NOISE_SIGNS.shape[1]]
        jitters = np.clip(z + NOISE_STEP * signs * scales, self.lower, self.upper)
        points = np.concatenate([candidates, jitters])
        full = np.repeat(self.base[None, :], points.shape[0], axis=0)
        full[:, self.free] = points
        self.n_evaluations += 1
        every = np.asarray(self.source.logpdf(full), dtype=np.float64).reshape(-1)
        values, jittered = every[: candidates.shape[0]], every[candidates.shape[0] :]
        values[np.isnan(values)] = -np.inf
        best = int(np.argmax(values))
        self._check_not_plus_inf(float(values[best]), candidates[best])
        finite = jittered[np.isfinite(jittered)]
        noise = float(np.max(np.abs(finite - value))) if finite.size else 0.0
        if values[best] - value > max(PROBE_TOLERANCE * max(1.0, abs(value)), NOISE_FACTOR * noise):
            return float(values[best]), candidates[best].copy()
        return None

    # ------------------------------------------------------------------ helpers
    def _penalty(self, z: np.ndarray) -> tuple[float, np.ndarray]:
        if self._best is None:
            raise OptimizationError("the log-density is not finite at the starting point", where="maximize")
        f_best, z_best = self._best
        scale = max(1.0, abs(f_best))
        d = np.asarray(z, dtype=np.float64) - z_best
        return f_best + scale * (1.0 + float(d @ d)), 2.0 * scale * d

    def _check_not_plus_inf(self, value: float, z: np.ndarray) -> None:
        if value == np.inf:
            raise OptimizationError(
                f"the log-density is +inf at {self._describe_point(z)}: it is unbounded above, no maximum exists",
                where="maximize",
            )

    def _name(self, j: int) -> str:
        return self.parameters[int(self.free[j])].name

    def _describe_point(self, z: np.ndarray) -> str:
        items = [f"{self._name(j)}={v:.6g}" for j, v in enumerate(np.asarray(z)[:4])]
        return "{" + ", ".join(items) + (", ...}" if len(z) > 4 else "}")
