"""Confidence intervals of the parameter of interest from the profile likelihood.

The interval at ``t_mu = level`` (1 for 68.27% CL, 3.84 for 95% CL, Wilks) runs
between the two values of the POI where the profiled t_mu crosses ``level``.
Each crossing is found with Brent's method on warm-started profile fits; a
side where t_mu stays below ``level`` up to the parameter's bound is open
(reported as that bound, with ``closed`` False on that side).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..density import LogDensity
from ..errors import InvalidInputError, OptimizationError
from .maximize import maximize
from .profile import default_poi
from .results import FitResult

__all__ = ["Interval", "tmu_interval", "WILKS_LEVELS"]

WILKS_LEVELS = {0.6827: 1.0, 0.95: 3.841458820694124}
"""Confidence level -> t_mu threshold for one parameter of interest (Wilks)."""


@dataclass(frozen=True)
class Interval:
    """``[low, high]`` where t_mu <= ``level``; ``closed`` tells, per side, whether t_mu crossed it.

    Attributes:
        poi: the parameter of interest.
        level: the t_mu threshold (1 for 68.27% CL, 3.84 for 95% CL).
        low: the lower end, or ``poi``'s lower bound when that side is open.
        high: the upper end, or ``poi``'s upper bound when that side is open.
        closed: ``(low side, high side)``: True where t_mu reached ``level``.
        poi_hat: the best-fit value of ``poi``.
    """

    poi: str
    level: float
    low: float
    high: float
    closed: tuple[bool, bool]
    poi_hat: float

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict; the level is written ``tmu_level``, ``closed`` a two-item list."""
        return {
            "poi": self.poi,
            "tmu_level": self.level,
            "low": self.low,
            "high": self.high,
            "closed": list(self.closed),
            "poi_hat": self.poi_hat,
        }


def tmu_interval(
    source: LogDensity,
    level: float = 1.0,
    poi: str | None = None,
    *,
    best: FitResult | None = None,
    step: float | None = None,
    xtol: float = 1e-5,
) -> Interval:
    """The interval of ``poi`` where the profiled t_mu of ``source`` stays at or below ``level``.

    From the best fit, each side steps outwards (doubling the step) until t_mu
    exceeds ``level`` or the bound is reached, then Brent's method finds the
    crossing.

    >>> from dnnlik.likelihoods import CallableLikelihood
    >>> from dnnlik.parameters import Parameter
    >>> def logl(x):  # mu = 1 +- 0.5, theta correlated with mu
    ...     mu, theta = x[:, 0], x[:, 1]
    ...     return -0.5 * ((mu - 1.0) ** 2 / 0.5**2 + (theta - 0.5 * mu) ** 2)
    >>> lik = CallableLikelihood(logl, [Parameter("mu", "poi", (-5.0, 5.0)), Parameter("theta", bounds=(-5.0, 5.0))])
    >>> interval = tmu_interval(lik)  # 68.27% CL
    >>> round(interval.low, 3), round(interval.high, 3), interval.closed
    (0.5, 1.5, (True, True))

    Args:
        source: the log-density.
        level: the t_mu threshold, a positive number: 1 for 68.27% CL, 3.84 for
            95% CL (:data:`WILKS_LEVELS`).
        poi: the parameter of interest; default the one parameter with role ``"poi"``.
        best: the global maximum, when already known; default ``maximize(source)``.
        step: the first step away from the best fit, in units of ``poi``; default
            ``min(0.1, (upper - lower) / 20)``, or 0.1 when a bound is infinite.
        xtol: the absolute tolerance of each end, in units of ``poi``.

    Returns:
        The interval; a side where t_mu stays below ``level`` up to a finite bound
        ends at that bound, with ``closed`` False on that side.

    Raises:
        InvalidInputError: ``level`` is not a positive finite number; ``poi`` is
            unknown, or not given and not exactly one parameter has role ``"poi"``.
        OptimizationError: a fit failed, or t_mu never reaches ``level`` on a side
            without a finite bound (searched up to 1e6 from the best fit).
    """
    from scipy.optimize import brentq

    if not (isinstance(level, (int, float)) and math.isfinite(level) and level > 0):
        raise InvalidInputError(f"must be a positive number, got {level!r}", where="level")
    params = tuple(source.parameters)
    poi = default_poi(source) if poi is None else poi
    names = [p.name for p in params]
    if poi not in names:
        raise InvalidInputError(f"unknown parameter {poi!r}", where="poi")
    j = names.index(poi)
    lower, upper = params[j].lower, params[j].upper
    best = maximize(source) if best is None else best
    hat = best.value(poi)
    warm = {"x": best.point}

    def excess(value: float) -> float:
        fit = maximize(source, fixed={poi: float(value)}, x0=warm["x"])
        warm["x"] = fit.point
        return -2.0 * (fit.logpdf - best.logpdf) - level

    if step is None:
        width = (upper - lower) if math.isfinite(upper - lower) else 2.0
        step = min(0.1, width / 20.0) if math.isfinite(width) else 0.1
    ends, closed = [], []
    for direction, bound in ((-1.0, lower), (+1.0, upper)):
        warm["x"] = best.point
        inner, h = hat, step
        found = False
        while True:
            outer = hat + direction * h
            at_bound = (outer <= lower) if direction < 0 else (outer >= upper)
            if at_bound:
                outer = bound if math.isfinite(bound) else outer
            if excess(outer) >= 0.0:
                found = True
                break
            if at_bound and math.isfinite(bound):
                break
            inner, h = outer, h * 2.0
            if h > 1e6:
                raise OptimizationError(
                    f"t_mu never reaches {level:g} on the {'low' if direction < 0 else 'high'} side", where=poi
                )
        if found:
            warm["x"] = best.point
            ends.append(float(brentq(excess, inner, outer, xtol=xtol)) if outer != inner else float(outer))
        else:
            ends.append(float(bound))
        closed.append(found)
    return Interval(
        poi=poi, level=float(level), low=ends[0], high=ends[1], closed=(closed[0], closed[1]), poi_hat=float(hat)
    )
