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

__all__ = ["ridge_samples", "RIDGE_CLIP"]

RIDGE_CLIP = 3.0
"""In a transformed coordinate, ridge points are scattered from at most this many Laplace sigma from the maximum."""


def ridge_samples(
    source: LogDensity,
    n: int,
    poi_range: tuple[float, float],
    *,
    poi: str | None = None,
    n_grid: int = 41,
    seed: int = 0,
    scale_power: float = 1.0,
    transform: str = "auto",
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """``(points, logpdf, metadata)``: ``n`` points around the profile ridge of ``poi`` over ``poi_range``.

    The scale is ``s = u ** scale_power`` with ``u ~ U(0, 1)``: powers above 1 put more points near the ridge.

    Parameters whose constraint is too narrow to sample (held by the maximum,
    :func:`dnnlik.infer.scales.degenerate_parameters`) stay at their value; the
    bounded parameters that :func:`.proposal.plan_proposal` samples through a
    log/logit transform are scattered in those coordinates (with the Laplace
    covariance there), so that the points stay inside the bounds; a ridge point
    further than :data:`RIDGE_CLIP` Laplace sigma from the maximum in such a
    coordinate (a profiled maximum on a bound) is scattered from that distance.
    ``transform="none"`` scatters every parameter in its own coordinates
    (points outside the bounds are dropped; the metadata counts them).

    Args:
        source: the likelihood (with a gradient: profile fits and Laplace).
        n: points to draw (those with a -inf log-density are dropped).
        poi_range: (lo, hi) of the POI values.
        poi: the parameter of interest (default: the one with role 'poi').
        n_grid: exact profile fits between which the ridge is interpolated.
        seed: seed of the draws.
        scale_power: see above.
        transform: ``"auto"``, ``"all"`` or ``"none"`` (:data:`~.options.TRANSFORM_MODES`).

    Returns:
        The points (n_kept, P), their exact log-densities, and a record of
        the recipe (for :func:`.dataset.augment_dataset`): with ``n_outside_bounds``
        and ``fraction_dropped``, the parameters ``held`` and ``transformed``.

    Raises:
        InvalidInputError: ``lo >= hi``, ``n < 1``, ``n_grid < 2``, ``scale_power <= 0``,
            an unknown ``transform``, or no Laplace approximation at the maximum.
    """
    from ..infer import default_poi, maximize, profile
    from .options import TRANSFORM_MODES
    from .proposal import held_indices, plan_proposal
    from .segment import Segment

    lo, hi = (float(v) for v in poi_range)
    if not lo < hi or n < 1 or n_grid < 2 or not scale_power > 0:
        raise InvalidInputError(
            f"needs lo < hi, n >= 1 and n_grid >= 2 (got {poi_range}, {n}, {n_grid})", where="ridge_samples"
        )
    if transform not in TRANSFORM_MODES:
        raise InvalidInputError(f"must be one of {', '.join(TRANSFORM_MODES)}, got {transform!r}", where="transform")
    params = list(source.parameters)
    names = [p.name for p in params]
    poi = default_poi(source) if poi is None else poi
    j = names.index(poi)
    best = maximize(source)
    held = held_indices(source, best.held) if transform != "none" else np.empty(0, dtype=np.intp)
    sampled = np.setdiff1d(np.arange(len(params)), held)
    free = sampled[sampled != j]
    centre = Segment(0, "unbiased", 0, sampled, best.point.copy())
    lap_x = plan_proposal(source, centre, transform, need=True)
    pos = np.flatnonzero(sampled != j)
    t = None if centre.transform is None else centre.transform.subset(pos)
    if t is None or t.is_identity:  # only the POI (or nothing) transformed: scatter in the parameters themselves
        if lap_x is None:
            raise InvalidInputError("no Laplace approximation at the maximum", where="ridge_samples")
        t, found = None, (lap_x.precision, lap_x.mean)
    else:
        assert centre.laplace_precision is not None and centre.laplace_mean is not None  # need=True
        found = (centre.laplace_precision, centre.laplace_mean)
    precision, mean = found
    chol = np.linalg.cholesky(np.linalg.inv(precision[np.ix_(pos, pos)]))
    grid = np.linspace(lo, hi, n_grid)
    ridge = np.array([f.point for f in profile(source, poi, grid, x0=best.point)])

    rng = np.random.default_rng(seed)
    mu = rng.uniform(lo, hi, n)
    base = np.column_stack([np.interp(mu, grid, ridge[:, k]) for k in range(len(params))])
    scale = rng.uniform(0.0, 1.0, n) ** scale_power
    step = scale[:, None] * (rng.standard_normal((n, free.size)) @ chol.T)
    if t is None:
        base[:, free] += step
    else:
        reach = RIDGE_CLIP * np.sqrt(np.diag(np.linalg.inv(precision))[pos])
        y = np.clip(t.to_unbounded(t.inside(base[:, free])), mean[pos] - reach, mean[pos] + reach)
        base[:, free] = t.to_bounded(y + step)
    lower = np.array([p.lower for p in params])
    upper = np.array([p.upper for p in params])
    outside = np.any((base < lower) | (base > upper), axis=1)
    values = np.full(n, -np.inf)
    values[~outside] = np.asarray(source.logpdf(base[~outside]), dtype=np.float64)
    keep = np.isfinite(values)
    meta = {
        "kind": "ridge",
        "n_requested": int(n),
        "n_kept": int(keep.sum()),
        "n_outside_bounds": int(outside.sum()),
        "fraction_dropped": float(1.0 - keep.mean()),
        "poi": poi,
        "poi_range": [lo, hi],
        "n_grid": int(n_grid),
        "seed": int(seed),
        "scale_power": float(scale_power),
        "transform": transform,
        "transformed": {} if t is None else t.describe([names[int(i)] for i in free]),
        "held": list(best.held) if held.size else [],
        "rule": "profiled maximum (interpolated) + U(0,1)**scale_power x Laplace-covariance draw of the others"
        + ("" if t is None else " (in log/logit coordinates for the transformed ones)"),
    }
    return base[keep], values[keep], meta
