"""Training points on and near the POI line at nominal nuisances: where users evaluate a likelihood.

``lik.logpdf({"mu": values})`` evaluates the likelihood with every other
parameter at its nominal value. Neither the posterior bulk nor the profile
ridge passes there when the nuisances' best fit is away from nominal (on a
published HistFactory workspace a surrogate trained on those alone was off by
up to 0.29 in log L on that line). :func:`poi_line_samples` adds points
there: the POI uniform over a range, every other parameter at its nominal
value plus a small Gaussian scatter, ``scatter`` times its width:

- a constrained parameter's width is its constraint's standard deviation
  (:func:`dnnlik.infer.scales.constraint_scale`);
- an unconstrained one's is its Laplace standard deviation at the maximum
  (when there is one);
- either is capped at a quarter of the bounds' width; without either, a
  quarter of the bounds' width, else ``max(1, |nominal|)``.

Parameters too narrow to sample (held by the fits: a constraint width below
1e-5 of its centre) stay at their nominal value. A point that falls outside
the bounds is drawn again (up to :data:`MAX_REDRAWS` times), then clipped into
them; the metadata counts both. Every point gets the exact log-likelihood.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..density import LogDensity
from ..errors import InvalidInputError

__all__ = ["poi_line_samples", "line_widths", "MAX_REDRAWS"]

MAX_REDRAWS = 100
"""Draws of a point outside the bounds before it is clipped into them."""


def line_widths(
    source: LogDensity, held: np.ndarray | None = None, skip: Sequence[int] = ()
) -> tuple[np.ndarray, list[str]]:
    """Each parameter's width for the scatter (see the module docstring); 0 for held and skipped parameters.

    Args:
        source: the likelihood.
        held: indices of parameters to keep at nominal; default those too narrow to sample
            (:func:`dnnlik.infer.scales.degenerate_parameters`).
        skip: indices of parameters that get no scatter (the POI): width 0, no Laplace needed for them.

    Returns:
        ``(widths (P,), how each was chosen)``.
    """
    from ..infer.scales import constraint_scale, degenerate_parameters

    params = tuple(source.parameters)
    everything = np.arange(len(params))
    if held is None:
        held = degenerate_parameters(params, everything)[0]
    widths = np.full(len(params), np.nan)
    rules = ["" for _ in params]
    for i, p in enumerate(params):
        scale = constraint_scale(p)
        if scale is not None:
            widths[i], rules[i] = scale[1], "constraint"
    missing = np.array(
        [i for i in everything if np.isnan(widths[i]) and i not in held and i not in skip], dtype=np.intp
    )
    if missing.size:
        sigma = _laplace_sigma(source, held)
        for i in missing:
            if sigma is not None and math.isfinite(sigma[i]) and sigma[i] > 0:
                widths[i], rules[i] = sigma[i], "Laplace"
    for i, p in enumerate(params):
        quarter = 0.25 * (p.upper - p.lower)
        if np.isnan(widths[i]):
            widths[i], rules[i] = (quarter, "bounds") if math.isfinite(quarter) else (max(1.0, abs(p.nominal)), "unit")
        elif widths[i] > quarter:
            widths[i], rules[i] = quarter, "bounds"
    for i in np.asarray(held, dtype=np.intp):
        widths[int(i)], rules[int(i)] = 0.0, "held"
    for i in skip:
        widths[int(i)], rules[int(i)] = 0.0, "none"
    return widths, rules


def _laplace_sigma(source: LogDensity, held: np.ndarray) -> np.ndarray | None:
    """Laplace standard deviations at the maximum (NaN for held parameters), or None without them."""
    from ..errors import DnnlikError
    from ..infer import maximize
    from .laplace import laplace_at

    try:
        best = maximize(source)
        free = np.setdiff1d(np.arange(len(source.parameters)), held)
        lap = laplace_at(source, best.point, free)
    except DnnlikError:
        return None
    out = np.full(len(source.parameters), np.nan)
    out[lap.indices] = lap.sigma
    return out


def poi_line_samples(
    source: LogDensity,
    n: int,
    poi_range: tuple[float, float],
    *,
    poi: str | None = None,
    scatter: float = 0.1,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """``(points, logpdf, metadata)``: ``n`` points on and near the POI line at nominal nuisances.

    >>> from dnnlik import likelihoods
    >>> toy = likelihoods.get("toy-lhc-like-cat2")
    >>> x, logl, meta = poi_line_samples(toy, 1000, (0.0, 2.0), seed=1)
    >>> x.shape, meta["n_kept"], meta["scatter"]
    ((1000, 35), 1000, 0.1)

    Args:
        source: the likelihood.
        n: points to draw (those with a -inf log-density are dropped).
        poi_range: (lo, hi) of the POI values (drawn uniformly), inside the POI's bounds.
        poi: the parameter of interest (default: the one with role 'poi').
        scatter: the Gaussian scatter of the other parameters around nominal, in units of
            their widths (see the module docstring); 0 puts every point on the line.
        seed: seed of the draws.

    Returns:
        The points (n_kept, P), their exact log-densities, and a record of the recipe
        (for :func:`.dataset.augment_dataset`): ``kind`` ``"poi_line"``, the widths
        and how they were chosen, ``n_redrawn``, ``n_clipped``, ``fraction_dropped``.

    Raises:
        InvalidInputError: ``n < 1``, ``scatter < 0`` or not finite, an unknown ``poi``,
            or a POI range that is empty or not inside the POI's bounds.
    """
    from ..infer import default_poi, poi_index

    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InvalidInputError(f"must be an integer >= 1, got {n!r}", where="n")
    if not (math.isfinite(scatter) and scatter >= 0):
        raise InvalidInputError(f"must be a finite number >= 0, got {scatter!r}", where="scatter")
    params = tuple(source.parameters)
    poi = default_poi(source) if poi is None else poi
    j = poi_index(poi, params, where="poi")
    lo, hi = (float(v) for v in poi_range)
    p = params[j]
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi and p.lower <= lo and hi <= p.upper):
        raise InvalidInputError(
            f"must be lo < hi inside the bounds [{p.lower:g}, {p.upper:g}] of {poi!r}, got {poi_range!r}",
            where="poi_range",
        )
    widths, rules = line_widths(source, skip=(j,))
    nominal = np.array([q.nominal for q in params], dtype=np.float64)
    lower = np.array([q.lower for q in params])
    upper = np.array([q.upper for q in params])

    rng = np.random.default_rng(seed)
    points = np.repeat(nominal[None, :], n, axis=0)
    points[:, j] = rng.uniform(lo, hi, n)
    points += rng.standard_normal((n, len(params))) * (scatter * widths)  # widths[j] = 0: the POI stays
    bad = np.any((points < lower) | (points > upper), axis=1)
    redrawn = int(bad.sum())
    for _ in range(MAX_REDRAWS):
        if not bad.any():
            break
        k = int(bad.sum())
        fresh = nominal + rng.standard_normal((k, len(params))) * (scatter * widths)
        fresh[:, j] = points[bad, j]
        points[bad] = fresh
        bad = np.any((points < lower) | (points > upper), axis=1)
    clipped = int(bad.sum())
    points = np.clip(points, lower, upper)
    values = np.asarray(source.logpdf(points), dtype=np.float64)
    keep = np.isfinite(values)
    names = [q.name for q in params]
    meta = {
        "kind": "poi_line",
        "n_requested": int(n),
        "n_kept": int(keep.sum()),
        "poi": poi,
        "poi_range": [lo, hi],
        "scatter": float(scatter),
        "seed": int(seed),
        "widths": {name: float(w) for name, w, q in zip(names, widths, params, strict=True) if q.name != poi},
        "width_rules": {name: rule for name, rule in zip(names, rules, strict=True) if name != poi},
        "n_redrawn": redrawn,
        "n_clipped": clipped,
        "fraction_dropped": float(1.0 - keep.mean()),
        "rule": "POI ~ U(lo, hi); every other parameter at nominal + N(0, (scatter x width)^2), redrawn when "
        "outside its bounds (see dnnlik.sample.poi_line)",
    }
    return points[keep], values[keep], meta
