"""Profile likelihoods and the test statistic t_mu along a scan of one parameter.

``profile`` fixes the parameter of interest at each scanned value and
maximises over the others, walking outwards from the starting point so that
each fit starts from its neighbour's best fit (warm starts). ``tmu_scan``
adds the global maximum and returns t_mu(mu) = -2 [max_theta logL(mu, theta) - max logL].
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..density import LogDensity
from ..errors import InvalidInputError
from ..parameters import Parameter
from .maximize import SeedLike, _start_point, maximize
from .objective import DEFAULT_FD_STEP
from .results import FitResult, TmuScan

__all__ = ["profile", "tmu_scan", "default_poi", "poi_index"]


def default_poi(source: LogDensity) -> str:
    """The name of the single parameter whose role is ``"poi"``.

    Args:
        source: the log-density whose parameters are searched.

    Returns:
        That parameter's name.

    Raises:
        InvalidInputError: no parameter, or more than one, has role ``"poi"``
            (then name the parameter of interest explicitly).
    """
    pois = [p.name for p in source.parameters if p.role == "poi"]
    if len(pois) != 1:
        raise InvalidInputError(
            f"cannot choose the parameter of interest: {len(pois)} parameters have role 'poi' "
            f"({pois}); name one explicitly",
            where="poi",
        )
    return pois[0]


def _check_values(values: Any) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"cannot be read as numbers ({exc})", where="values") from None
    if arr.size == 0:
        raise InvalidInputError("no values to scan", where="values")
    if not np.all(np.isfinite(arr)):
        raise InvalidInputError(f"values must be finite, got {arr[~np.isfinite(arr)][0]}", where="values")
    return arr


def poi_index(poi: str, params: Sequence[Parameter], values: np.ndarray | None = None, *, where: str = "poi") -> int:
    """The column of parameter ``poi`` among ``params`` (and, given ``values``, a check they lie in its bounds).

    Args:
        poi: the parameter's name.
        params: the parameters, in column order.
        values: values of ``poi`` that will be used (a scan's), checked against its bounds.
        where: how the caller names its argument, for the message.

    Returns:
        The index of ``poi`` in ``params``.

    Raises:
        InvalidInputError: ``poi`` is not one of ``params``, or a value is outside its bounds.
    """
    names = [p.name for p in params]
    if poi not in names:
        raise InvalidInputError(
            f"unknown parameter {poi!r}; known: {names[:8]}" + (" ..." if len(names) > 8 else ""), where=where
        )
    j = names.index(poi)
    if values is not None:
        p = params[j]
        bad = values[(values < p.lower) | (values > p.upper)]
        if bad.size:
            raise InvalidInputError(
                f"{poi} = {bad[0]:g} is outside its bounds [{p.lower:g}, {p.upper:g}]"
                + (f" ({bad.size} values are)" if bad.size > 1 else ""),
                where="values",
            )
    return j


def profile(
    source: LogDensity,
    poi: str,
    values: Sequence[float] | np.ndarray,
    *,
    fixed: Mapping[str, float] | None = None,
    x0: Any = None,
    starts: int = 1,
    seed: SeedLike = None,
    fd_step: float = DEFAULT_FD_STEP,
) -> list[FitResult]:
    """Maximum of the log-density with ``poi`` fixed at each of ``values`` (same order).

    Fits are done from the value nearest ``x0``'s (default: nominal) outwards,
    each starting at the previous fit's best point.

    >>> from dnnlik.likelihoods import CallableLikelihood
    >>> from dnnlik.parameters import Parameter
    >>> def logl(x):  # mu = 1 +- 0.5, theta correlated with mu
    ...     mu, theta = x[:, 0], x[:, 1]
    ...     return -0.5 * ((mu - 1.0) ** 2 / 0.5**2 + (theta - 0.5 * mu) ** 2)
    >>> lik = CallableLikelihood(logl, [Parameter("mu", "poi", (-5.0, 5.0)), Parameter("theta", bounds=(-5.0, 5.0))])
    >>> fits = profile(lik, "mu", [0.0, 2.0])
    >>> [round(f.value("theta"), 4) for f in fits]  # the best theta follows mu
    [0.0, 1.0]
    >>> [round(f.logpdf, 4) for f in fits]
    [-2.0, -2.0]

    Args:
        source: the log-density.
        poi: the name of the scanned parameter.
        values: the values of ``poi`` to fix, finite and inside its bounds.
        fixed: ``{name: value}`` of other parameters held fixed in every fit.
        x0: where the walk starts (see above); default the nominal point.
        starts: starts per fit, as in :func:`~dnnlik.infer.maximize`.
        seed: seed or generator of the random starts (one generator for all fits).
        fd_step: finite-difference step, as in :func:`~dnnlik.infer.maximize`.

    Returns:
        One fit per value, in the order of ``values``, each with ``poi`` among its ``fixed``.

    Raises:
        InvalidInputError: ``poi`` is unknown or also in ``fixed``; ``values`` is
            empty, not numbers, not finite or outside ``poi``'s bounds; or as
            :func:`~dnnlik.infer.maximize`.
        OptimizationError: a fit failed.
    """
    params = tuple(source.parameters)
    arr = _check_values(values)
    j = poi_index(poi, params, arr)
    if fixed and poi in fixed:
        raise InvalidInputError(f"{poi!r} is the scanned parameter and cannot also be fixed", where="fixed")
    start = _start_point(x0, params)
    rng = np.random.default_rng(seed)
    centre = start[j]
    above = [int(i) for i in np.argsort(arr, kind="stable") if arr[i] >= centre]
    below = [int(i) for i in np.argsort(-arr, kind="stable") if arr[i] < centre]
    results: list[FitResult | None] = [None] * arr.size
    for chain in (above, below):
        warm = start
        for i in chain:
            fit = maximize(
                source, fixed={**(fixed or {}), poi: float(arr[i])}, x0=warm, starts=starts, seed=rng, fd_step=fd_step
            )
            results[i] = fit
            warm = fit.point
    return [r for r in results if r is not None]


def tmu_scan(
    source: LogDensity,
    values: Sequence[float] | np.ndarray,
    poi: str | None = None,
    *,
    starts: int = 1,
    seed: SeedLike = None,
    fd_step: float = DEFAULT_FD_STEP,
) -> TmuScan:
    """t_mu at each of ``values`` of ``poi`` (default: the parameter with role "poi").

    The global maximum comes first; the profiles then walk out from it. Should a
    profile fit beat that maximum, the global fit is redone from there, so that
    t_mu is measured from the better one.

    >>> from dnnlik.likelihoods import CallableLikelihood
    >>> from dnnlik.parameters import Parameter
    >>> def logl(x):  # mu = 1 +- 0.5, theta correlated with mu
    ...     mu, theta = x[:, 0], x[:, 1]
    ...     return -0.5 * ((mu - 1.0) ** 2 / 0.5**2 + (theta - 0.5 * mu) ** 2)
    >>> lik = CallableLikelihood(logl, [Parameter("mu", "poi", (-5.0, 5.0)), Parameter("theta", bounds=(-5.0, 5.0))])
    >>> scan = tmu_scan(lik, [0.0, 1.0, 2.0])
    >>> [round(t, 4) for t in scan.tmu]  # ((mu - 1) / 0.5)**2
    [4.0, 0.0, 4.0]
    >>> round(scan.poi_hat, 4)
    1.0

    Args:
        source: the log-density.
        values: the values of ``poi`` to scan, finite and inside its bounds.
        poi: the parameter of interest; default the one parameter with role ``"poi"``.
        starts: starts per fit, as in :func:`~dnnlik.infer.maximize`.
        seed: seed or generator of the random starts (one generator for all fits).
        fd_step: finite-difference step, as in :func:`~dnnlik.infer.maximize`.

    Returns:
        The scan: ``tmu[i] = -2 [profiled logpdf at values[i] - global maximum]``,
        never below 0, with the profile fits and the global fit.

    Raises:
        InvalidInputError: ``poi`` is unknown, or not given and not exactly one
            parameter has role ``"poi"``; ``values`` is empty, not finite or
            outside ``poi``'s bounds.
        OptimizationError: a fit failed.
    """
    poi = default_poi(source) if poi is None else poi
    arr = _check_values(values)
    poi_index(poi, tuple(source.parameters), arr)
    rng = np.random.default_rng(seed)
    best = maximize(source, starts=starts, seed=rng, fd_step=fd_step)
    profiles = profile(source, poi, arr, x0=best.point, starts=starts, seed=rng, fd_step=fd_step)
    top = max(profiles, key=lambda f: f.logpdf)
    if top.logpdf > best.logpdf + 1e-8 * max(1.0, abs(best.logpdf)):
        # A profile beat the "global" maximum: that fit missed it; search again from there.
        again = maximize(source, x0=top.point, starts=1, fd_step=fd_step)
        best = again if again.logpdf > best.logpdf else best
    tmu = tuple(max(0.0, -2.0 * (p.logpdf - best.logpdf)) for p in profiles)
    if not all(math.isfinite(t) for t in tmu):
        raise AssertionError("non-finite t_mu from finite fits")  # pragma: no cover
    return TmuScan(poi=poi, values=tuple(map(float, arr)), tmu=tmu, profiles=tuple(profiles), best=best)
