"""Training points between the profile ridge and the typical set: what MCMC alone never visits.

In 95 dimensions posterior samples sit in a thin shell about ``P/2`` units of
log-likelihood below the maximum; the global maximum and the profiled maxima
that frequentist t_mu is made of lie far inside it, where no MCMC point falls.
A network trained on MCMC samples alone is therefore unconstrained exactly
where profiling looks (and profiling exploits every positive error there).

``ridge_samples`` fills that gap without MCMC: for POI values drawn uniformly
over a range, it starts from the profiled maximum (interpolated between exact
profile fits on a grid) and moves the other parameters along the Laplace
covariance scaled by ``s ~ U(0, 1)``, so the points span the whole way from
the ridge (s = 0) to the typical set of the conditional posterior (s = 1).
Every point gets the exact log-likelihood; they are training data, not a
posterior sample.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..density import LogDensity
from ..errors import InvalidInputError

__all__ = ["ridge_samples"]


def ridge_samples(
    source: LogDensity,
    n: int,
    poi_range: tuple[float, float],
    *,
    poi: str | None = None,
    n_grid: int = 41,
    seed: int = 0,
    scale_power: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """``(points, logpdf, metadata)``: ``n`` points around the profile ridge of ``poi`` over ``poi_range``.

    The scale is ``s = u ** scale_power`` with ``u ~ U(0, 1)``: powers above 1 put more points near the ridge.

    Args:
        source: the likelihood (with a gradient: profile fits and Laplace).
        n: points to draw (those with a -inf log-density are dropped).
        poi_range: (lo, hi) of the POI values.
        poi: the parameter of interest (default: the one with role 'poi').
        n_grid: exact profile fits between which the ridge is interpolated.
        seed: seed of the draws.
        scale_power: see above.

    Returns:
        The points (n_kept, P), their exact log-densities, and a record of
        the recipe (for :func:`.dataset.augment_dataset`).

    Raises:
        InvalidInputError: ``lo >= hi``, ``n < 1``, ``n_grid < 2`` or ``scale_power <= 0``.
    """
    from ..infer import default_poi, maximize, profile
    from .laplace import laplace_at

    lo, hi = (float(v) for v in poi_range)
    if not lo < hi or n < 1 or n_grid < 2 or not scale_power > 0:
        raise InvalidInputError(
            f"needs lo < hi, n >= 1 and n_grid >= 2 (got {poi_range}, {n}, {n_grid})", where="ridge_samples"
        )
    params = list(source.parameters)
    poi = default_poi(source) if poi is None else poi
    j = [p.name for p in params].index(poi)
    free = np.array([k for k in range(len(params)) if k != j])
    best = maximize(source)
    lap = laplace_at(source, best.point)
    precision = np.zeros((len(params), len(params)))
    precision[np.ix_(lap.indices, lap.indices)] = lap.precision
    chol = np.linalg.cholesky(np.linalg.inv(precision[np.ix_(free, free)]))
    grid = np.linspace(lo, hi, n_grid)
    ridge = np.array([f.point for f in profile(source, poi, grid, x0=best.point)])

    rng = np.random.default_rng(seed)
    mu = rng.uniform(lo, hi, n)
    base = np.column_stack([np.interp(mu, grid, ridge[:, k]) for k in range(len(params))])
    scale = rng.uniform(0.0, 1.0, n) ** scale_power
    base[:, free] += scale[:, None] * (rng.standard_normal((n, free.size)) @ chol.T)
    values = np.asarray(source.logpdf(base), dtype=np.float64)
    keep = np.isfinite(values)
    meta = {
        "kind": "ridge",
        "n_requested": int(n),
        "n_kept": int(keep.sum()),
        "poi": poi,
        "poi_range": [lo, hi],
        "n_grid": int(n_grid),
        "seed": int(seed),
        "scale_power": float(scale_power),
        "rule": "profiled maximum (interpolated) + U(0,1)**scale_power x Laplace-covariance draw of the others",
    }
    return base[keep], values[keep], meta
