"""A segment's proposal: its coordinates (bounded parameters transformed where needed) and its Laplace approximation.

:func:`plan_proposal` completes a :class:`~.segment.Segment` whose sampled
parameters and centre are known: it takes the Laplace approximation at the
centre in the parameters' own coordinates, decides which bounded parameters to
sample through a log/logit transform (:func:`~.transform.choose_kinds`), and,
when some are, finds the maximum of the segment's target in the transformed
coordinates (the log-Jacobian moves it off a bound) and the Laplace
approximation there. The independence and random-walk moves then propose in
those coordinates, where a Gaussian describes the target.

:class:`SamplerDensity` is that target as a :class:`~dnnlik.density.LogDensity`
over the sampler coordinates, so that :func:`dnnlik.infer.maximize` and
:func:`~.laplace.laplace_at` work on it unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from ..density import LogDensity
from ..errors import DnnlikError, InvalidInputError, NoGradientError
from ..parameters import Constraint, Parameter
from ..points import as_points
from .laplace import Laplace, laplace_at
from .segment import Segment
from .transform import choose_kinds

__all__ = ["SamplerDensity", "GuidedSamplerDensity", "sampler_density", "plan_proposal", "held_indices"]


class SamplerDensity:
    """A segment's target over its sampler coordinates: the source's log-density plus the log-Jacobian.

    Transformed coordinates are unbounded; the others keep their parameter's
    bounds (the POI window for a windowed profile segment). The gradient follows
    by the chain rule from the source's; when the source brings its own Hessian
    (:class:`~.laplace.PreconditionedSource`), so does this density.

    Args:
        source: the log-density sampled.
        segment: the segment (``free``, ``base``, ``window``, ``transform``).
    """

    def __init__(self, source: LogDensity, segment: Segment) -> None:
        self.source = source
        self.segment = segment
        params = tuple(source.parameters)
        kinds = segment.transform.kinds if segment.transform is not None else ("identity",) * segment.ndim
        out = []
        for j, i in enumerate(segment.free):
            p = params[int(i)]
            if kinds[j] != "identity":
                p = Parameter(p.name, p.role, (-math.inf, math.inf), 0.0, constraint=Constraint("none"))
            elif segment.window is not None and j == segment.window[0]:
                lo, hi = segment.window[1], segment.window[2]
                p = replace(p, bounds=(lo, hi), nominal=min(max(p.nominal, lo), hi))
            out.append(p)
        self.parameters: tuple[Parameter, ...] = tuple(out)
        self.name = f"{getattr(source, 'name', 'source')} (sampler coordinates)"
        self._lower = np.array([p.lower for p in out])
        self._upper = np.array([p.upper for p in out])

    @property
    def exact_gradient(self) -> bool:
        """The source's."""
        return bool(getattr(self.source, "exact_gradient", False))

    def _inside(self, y: np.ndarray) -> np.ndarray:
        return np.all((y >= self._lower) & (y <= self._upper), axis=1)

    def logpdf(self, x: Any) -> np.ndarray:
        """The target at sampler points ``x`` (-inf outside the untransformed coordinates' bounds).

        Args:
            x: points in sampler coordinates, in any form :func:`~dnnlik.points.as_points` accepts.

        Returns:
            (n,), or a scalar for one point.
        """
        y, single = as_points(x, self.parameters)
        out = np.full(y.shape[0], -np.inf)
        inside = self._inside(y)
        if inside.any():
            yi = y[inside]
            out[inside] = np.asarray(self.source.logpdf(self.segment.full_points(yi)), dtype=np.float64)
            out[inside] += self.segment.log_jacobian(yi)
        return out[0] if single else out

    def logpdf_and_grad(self, x: Any) -> tuple[np.ndarray, np.ndarray]:
        """The target and its gradient (chain rule through the transform).

        Args:
            x: points in sampler coordinates.

        Returns:
            ``(values (n,), gradients (n, d))``; NaN gradient rows where the value is -inf.

        Raises:
            NoGradientError: the source has no gradient.
        """
        y, single = as_points(x, self.parameters)
        full = self.segment.full_points(y)
        combined = getattr(self.source, "logpdf_and_grad", None)
        if combined is not None:
            value, grad = combined(full)
        else:
            value, grad = self.source.logpdf(full), self.source.grad_logpdf(full)
        value = np.asarray(value, dtype=np.float64).reshape(-1) + self.segment.log_jacobian(y)
        g = np.asarray(grad, dtype=np.float64).reshape(y.shape[0], -1)[:, self.segment.free]
        t = self.segment.transform
        if t is not None:
            g = g * t.dx_dy(y) + t.grad_log_jacobian(y)
        bad = ~self._inside(y) | ~np.isfinite(value)
        value[bad] = -np.inf
        g[bad] = np.nan
        return (value[0], g[0]) if single else (value, g)

    def grad_logpdf(self, x: Any) -> np.ndarray:
        """The gradient of :meth:`logpdf` (see :meth:`logpdf_and_grad`).

        Args:
            x: points in sampler coordinates.

        Returns:
            (n, d), or (d,) for one point.
        """
        return self.logpdf_and_grad(x)[1]

    def describe(self) -> dict[str, Any]:
        """The source's description, noting the coordinates."""
        base = self.source.describe() if hasattr(self.source, "describe") else {"name": self.name}
        return {**base, "coordinates": "sampler (bounded parameters transformed)"}


class GuidedSamplerDensity(SamplerDensity):
    """A :class:`SamplerDensity` whose source brings its own Hessian (:class:`~.laplace.PreconditionedSource`).

    Args:
        source: the log-density sampled, with ``hessian(x, indices)``.
        segment: the segment.
    """

    def hessian(self, y: np.ndarray, indices: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """The Hessian from the source's own: ``H_y = J H_x J + diag(g_x x'' + (log J)'')``.

        Args:
            y: one point in sampler coordinates.
            indices: the sampler coordinates to differentiate over (all by default).

        Returns:
            The (k, k) Hessian.
        """
        y = np.asarray(y, dtype=np.float64).reshape(1, -1)
        seg = self.segment
        full = seg.full_points(y)[0]
        h = np.asarray(self.source.hessian(full, seg.free), dtype=np.float64)  # type: ignore[attr-defined]
        t = seg.transform
        if t is not None:
            g = np.asarray(self.source.grad_logpdf(full[None, :]), dtype=np.float64).reshape(-1)[seg.free]
            jac = t.dx_dy(y)[0]
            h = jac[:, None] * h * jac[None, :]
            h[np.diag_indices_from(h)] += g * t.d2x_dy2(y)[0] + t.hess_log_jacobian(y)[0]
        idx = np.arange(seg.ndim) if indices is None else np.asarray(indices, dtype=np.intp)
        return h[np.ix_(idx, idx)]


def sampler_density(source: LogDensity, segment: Segment) -> SamplerDensity:
    """The segment's target over its sampler coordinates (a :class:`GuidedSamplerDensity` when the
    source brings its own Hessian).

    Args:
        source: the log-density sampled.
        segment: the segment.

    Returns:
        The density.
    """
    guided = callable(getattr(source, "hessian", None))
    return GuidedSamplerDensity(source, segment) if guided else SamplerDensity(source, segment)


def held_indices(source: LogDensity, held: Sequence[str]) -> np.ndarray:
    """The indices of the parameters a fit held (:attr:`dnnlik.infer.FitResult.held`).

    Args:
        source: the log-density.
        held: the held parameters' names.

    Returns:
        Their indices, increasing.
    """
    names = [p.name for p in source.parameters]
    return np.array(sorted(names.index(n) for n in held), dtype=np.intp)


def _laplace(source: LogDensity, x: np.ndarray, idx: np.ndarray) -> tuple[Laplace | None, InvalidInputError | None]:
    try:
        return laplace_at(source, x, idx), None
    except InvalidInputError as exc:
        return None, exc


def _has_gradient(source: LogDensity, x: np.ndarray) -> bool:
    try:
        source.grad_logpdf(np.asarray(x, dtype=np.float64)[None, :])
    except NoGradientError:
        return False
    return True


def plan_proposal(source: LogDensity, segment: Segment, mode: str, *, need: bool) -> Laplace | None:
    """Choose ``segment``'s coordinates and set its Laplace approximation there (in place).

    Args:
        source: the log-density sampled.
        segment: a segment with ``free``, ``base`` (its centre: the maximum or a profiled
            maximum) and ``window`` set; ``transform`` and the Laplace fields are filled in.
        mode: ``"auto"``, ``"all"`` or ``"none"`` (:data:`~.options.TRANSFORM_MODES`).
        need: fail when there is no Laplace approximation (the moves need it)
            instead of leaving the segment without one.

    Returns:
        The Laplace approximation at the centre in the parameters' own coordinates
        (None when there is none), from which the POI range is chosen.

    Raises:
        InvalidInputError: ``need`` and no Laplace approximation (no gradient, no curvature).
        OptimizationError: ``need`` and the maximum in the transformed coordinates was not found.
    """
    lap_x, error = _laplace(source, segment.base, segment.free)
    keep = [segment.window[0]] if segment.window is not None else []
    sigma = None if lap_x is None else lap_x.sigma
    transform = choose_kinds(source.parameters, segment.free, segment.base[segment.free], sigma, mode, keep=keep)
    names = [source.parameters[int(i)].name for i in segment.free]
    if transform.is_identity or (lap_x is None and not _has_gradient(source, segment.base)):
        segment.transform = None
        _set_laplace(segment, lap_x)
        if lap_x is None and need and error is not None:
            raise error
        return lap_x
    segment.transform = transform
    density = sampler_density(source, segment)
    start = transform.to_unbounded(transform.inside(segment.base[segment.free]))
    try:
        from ..infer import maximize

        fit = maximize(density, x0=start)
        lap_y = laplace_at(density, fit.point)
    except (DnnlikError, np.linalg.LinAlgError) as exc:
        if need and lap_x is None:
            raise
        segment.transform = None
        _set_laplace(segment, lap_x)
        segment.info["transform_failed"] = f"{type(exc).__name__}: {exc}; sampled in the parameters' own coordinates"
        return lap_x
    _set_laplace(segment, lap_y)
    segment.info["transformed"] = transform.describe(names)
    segment.info["transformed_centre"] = [float(v) for v in segment.to_parameters(lap_y.mean)]
    return lap_x


def _set_laplace(segment: Segment, lap: Laplace | None) -> None:
    segment.laplace_mean = None if lap is None else lap.mean
    segment.laplace_precision = None if lap is None else lap.precision
