"""The POI grid of a fidelity check, chosen from the exact profile likelihood.

A t_mu comparison is only as good as its grid: it must reach from the best fit
out to where t_mu is large (an analysis's POI may live on [0, 10] with the
best fit near 1 and a width of 0.3). :func:`choose_poi_grid` fits the global
maximum, then walks out on each side of the best-fit POI with exact profile
fits until t_mu reaches :data:`TMU_REACH` or the POI's bound, each step aimed
by the curvature the previous one showed (``t ~ (d / sigma)^2``; a fit that
fails from the previous fit's point is tried again from the global best), and
lays a grid with a round step over that range.

>>> from dnnlik.likelihoods import CallableLikelihood
>>> from dnnlik.parameters import Parameter
>>> lik = CallableLikelihood(lambda x: -0.5 * ((x[:, 0] - 1.0) / 0.3) ** 2,
...                          [Parameter("mu", "poi", (0.0, 10.0))])
>>> plan = choose_poi_grid(lik)
>>> round(plan.best_fit, 3), plan.tmu_low >= 6.0, plan.tmu_high >= 6.0
(1.0, True, True)
>>> plan.grid[:3], len(plan.grid)
((0.2, 0.3, 0.4), 17)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..density import LogDensity
from ..errors import OptimizationError

__all__ = ["PoiGrid", "choose_poi_grid", "TMU_REACH", "GRID_POINTS"]

TMU_REACH = 6.0
"""t_mu the grid reaches on each side (unless the POI's bound comes first)."""
GRID_POINTS = 13
"""Values in the grid."""
_AIM = 7.0
"""t_mu each step aims at (above :data:`TMU_REACH`, so that one step usually does)."""
_STEPS = 8
"""The most profile fits on each side."""


@dataclass(frozen=True)
class PoiGrid:
    """The POI grid, and what the exact profile showed.

    Attributes:
        poi: the parameter of interest.
        best_fit: its best-fit value.
        grid: the values where t_mu is compared: a round step, from at or below the low end to at or
            above the high end, within the bounds.
        ridge_range: the POI range of the training points along the profile ridge (the grid's, a
            quarter of its span wider on each side, within the bounds).
        tmu_low: exact t_mu where the search stopped below the best fit (the grid starts there or beyond).
        tmu_high: the same above the best fit.
        fits: profile fits made.
    """

    poi: str
    best_fit: float
    grid: tuple[float, ...]
    ridge_range: tuple[float, float]
    tmu_low: float
    tmu_high: float
    fits: int

    def to_json(self) -> dict[str, Any]:
        """A JSON object of the fields."""
        return {
            "poi": self.poi,
            "best_fit": self.best_fit,
            "grid": list(self.grid),
            "ridge_range": list(self.ridge_range),
            "tmu_low": self.tmu_low,
            "tmu_high": self.tmu_high,
            "fits": self.fits,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> PoiGrid:
        """The inverse of :meth:`to_json`."""
        return cls(
            str(value["poi"]),
            float(value["best_fit"]),
            tuple(float(v) for v in value["grid"]),
            (float(value["ridge_range"][0]), float(value["ridge_range"][1])),
            float(value["tmu_low"]),
            float(value["tmu_high"]),
            int(value["fits"]),
        )


def choose_poi_grid(likelihood: LogDensity, poi: str | None = None, *, points: int = GRID_POINTS) -> PoiGrid:
    """The grid over which t_mu goes from 0 to at least :data:`TMU_REACH` on each side (or to the bound).

    Args:
        likelihood: the exact likelihood.
        poi: its parameter of interest; default the one with role ``poi``.
        points: values in the grid (>= 3).

    Returns:
        The grid and what the profile showed.

    Raises:
        InvalidInputError: ``poi`` is not a parameter, or not given and not exactly one has role ``poi``.
        OptimizationError: a fit failed.
    """
    from ..infer import default_poi, maximize, poi_index, profile

    poi = default_poi(likelihood) if poi is None else poi
    params = tuple(likelihood.parameters)
    j = poi_index(poi, params)
    lower, upper = params[j].bounds
    best = maximize(likelihood)
    hat = float(best.point[j])
    fits = 0

    def tmu(value: float, start: np.ndarray) -> tuple[float, np.ndarray]:
        nonlocal fits
        for k, x0 in enumerate((start, best.point)):  # the last fit's point, else the global best's
            fits += 1
            try:
                [fit] = profile(likelihood, poi, [value], x0=x0)
                break
            except OptimizationError:
                if k == 1:
                    raise
        return max(0.0, -2.0 * (fit.logpdf - best.logpdf)), fit.point

    ends = []
    for side, bound in ((-1.0, lower), (1.0, upper)):
        room = abs(bound - hat) if math.isfinite(bound) else math.inf
        if room <= 1e-12 * max(1.0, abs(hat)):
            ends.append((hat, 0.0))  # the best fit sits on this bound
            continue
        step = min(room, 0.1 * max(1.0, abs(hat)))
        start, value, t = best.point, hat, 0.0
        for _ in range(_STEPS):
            value = hat + side * step
            t, start = tmu(value, start)
            if t >= TMU_REACH or step >= room:
                break
            grow = math.sqrt(_AIM / t) if t > 1e-9 else 10.0
            step = min(room, step * min(10.0, max(1.2, grow)))
        ends.append((value, t))
    (lo, t_lo), (hi, t_hi) = ends
    grid = _even_grid(lo, hi, lower, upper, points)
    span = hi - lo
    ridge = (max(lower, lo - 0.25 * span), min(upper, hi + 0.25 * span))
    return PoiGrid(poi, hat, grid, ridge, t_lo, t_hi, fits)


def _even_grid(lo: float, hi: float, lower: float, upper: float, points: int) -> tuple[float, ...]:
    """About ``points`` values with a round step (1, 2, 2.5 or 5 times a power of ten, the nearest to an even
    split) from at or below ``lo`` to at or above ``hi``, within [``lower``, ``upper``]."""
    span = hi - lo
    if not span > 0:
        return (lo,)
    raw = span / (max(3, points) - 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = min((m * power for m in (1.0, 2.0, 2.5, 5.0, 10.0)), key=lambda v: abs(math.log(v / raw)))
    first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
    values = [k * step for k in range(first, last + 1)]
    digits = max(0, 2 - int(math.floor(math.log10(step))))
    return tuple(sorted({min(max(round(v, digits), lower), upper) for v in values}))
