"""Sampling strategies: the segments (independent emcee ensembles) a run is made of.

- ``unbiased``: ``n_chains`` independent ensembles sampling the full
  posterior (the likelihood times its flat or constraint priors), started
  from draws of the Laplace approximation at the global maximum.
- ``profile``: one short ensemble per value of a grid of the parameter of
  interest (POI), started around the profiled maximum there, with the POI
  confined to a narrow window around that value (by default the windows tile
  the POI range) or fixed (window width 0). The training data then cover the
  profile ridge that frequentist t_mu needs.
- ``mixed``: both, ``profile_fraction`` of the samples from the profile grid.

The default POI range is the best fit +- ``poi_sigmas`` Laplace standard
deviations, within the POI's bounds (+-5 sigma covers t_mu up to about 25).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import h5py
import numpy as np

from ..density import LogDensity
from ..errors import InvalidInputError
from .laplace import Laplace
from .options import FALLBACK_MOVE_SET, STRATEGIES, MoveSpec, SampleOptions, needs_laplace, parse_moves
from .proposal import held_indices, plan_proposal
from .segment import Segment, segments_from_h5, segments_to_h5

__all__ = [
    "STRATEGIES",
    "Segment",
    "Plan",
    "plan_run",
    "split_counts",
    "build_segments",
    "segments_to_h5",
    "segments_from_h5",
]


def split_counts(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` near-equal non-negative integers (the first ones larger).

    >>> split_counts(10, 3)
    [4, 3, 3]

    Args:
        total: what to split, >= 0.
        parts: how many parts, >= 1.

    Returns:
        ``parts`` integers adding up to ``total``.
    """
    base, extra = divmod(int(total), int(parts))
    return [base + (1 if i < extra else 0) for i in range(parts)]


def build_segments(
    source: LogDensity,
    *,
    strategy: str,
    n: int,
    n_chains: int,
    profile_fraction: float,
    poi: str | None,
    poi_grid: int,
    poi_range: tuple[float, float] | None,
    poi_sigmas: float,
    window: str | float,
    need_laplace: bool,
    transform: str = "none",
) -> tuple[list[Segment], dict[str, Any]]:
    """The segments of a run and the choices made (for the metadata).

    Parameters the maximum holds (a constraint too narrow to sample: see
    :func:`dnnlik.infer.scales.degenerate_parameters`) stay at their value in
    every segment, unless ``transform`` is ``"none"``; the bounded parameters
    are transformed as ``transform`` says (:mod:`.transform`, :func:`.proposal.plan_proposal`).

    Args:
        source: the likelihood (``parameters``, ``logpdf``; a gradient for the
            maximum and the Laplace approximation).
        strategy, n, n_chains, profile_fraction, poi, poi_grid, poi_range,
            poi_sigmas, window, transform: the fields of :class:`~.options.SampleOptions`.
        need_laplace: fail when a Laplace approximation is missing (the moves
            need it) instead of leaving the segment without one.

    Returns:
        The segments (the reference one first, indices in order) and the
        choices made (maximum, Laplace, profile grid), for the metadata.

    Raises:
        InvalidInputError: an unknown POI, an empty POI range, nothing to
            sample, or (with ``need_laplace``) no Laplace approximation.
        OptimizationError: the maximum of ``source`` was not found.
    """
    from ..infer import maximize

    params = tuple(source.parameters)
    best = maximize(source)
    held = held_indices(source, best.held) if transform != "none" else np.empty(0, dtype=np.intp)
    sampled = np.setdiff1d(np.arange(len(params)), held)
    centre = Segment(0, "unbiased", 0, sampled, best.point.copy(), info={"centre": "global maximum"})
    lap = plan_proposal(source, centre, transform, need=need_laplace)
    choices: dict[str, Any] = {"maximum": {"logpdf": best.logpdf, "point": list(best.x)}}
    if lap is not None:
        choices["laplace"] = {**lap.info}
    choices["transform"] = {"mode": transform, **centre.info.get("transformed", {})}
    if held.size:
        choices["held"] = {"parameters": list(best.held), "notes": [n for n in best.notes if " held at " in n]}

    n_unbiased, n_profile = _sample_counts(strategy, n, profile_fraction)
    segments = [
        replace(centre, n_target=count, free=sampled.copy(), base=best.point.copy(), info=dict(centre.info))
        for count in (split_counts(n_unbiased, n_chains) if n_unbiased else [])
    ]
    if n_profile:
        grid = _profile_grid(source, poi, poi_grid, poi_range, poi_sigmas, window, best.point, lap)
        segments += _profile_segments(source, grid, n_profile, best.point, sampled, transform, need_laplace)
        choices["profile"] = grid.choices()

    segments = [s for s in segments if s.n_target > 0]  # fewer samples than ensembles
    if not segments:
        raise InvalidInputError("nothing to sample", where="n")
    return _reference_first(segments, best.point, choices, [p.name for p in params]), choices


def _sample_counts(strategy: str, n: int, profile_fraction: float) -> tuple[int, int]:
    """How many of the ``n`` samples are unbiased and how many come from the profile grid."""
    if strategy == "unbiased":
        return n, 0
    if strategy == "profile":
        return 0, n
    n_profile = int(round(n * profile_fraction))
    return n - n_profile, n_profile


@dataclass(frozen=True)
class _ProfileGrid:
    """The profile grid of a run: POI values, their windows, and how they were chosen."""

    poi: str
    index: int
    lo: float
    hi: float
    rule: str
    centres: np.ndarray
    windows: list[tuple[float, float]]
    width_text: str

    def choices(self) -> dict[str, Any]:
        return {
            "poi": self.poi,
            "poi_range": [float(self.lo), float(self.hi)],
            "poi_range_rule": self.rule,
            "grid": [float(c) for c in self.centres],
            "window": self.width_text,
        }


def _profile_grid(
    source: LogDensity,
    poi: str | None,
    poi_grid: int,
    poi_range: tuple[float, float] | None,
    poi_sigmas: float,
    window: str | float,
    best: np.ndarray,
    lap: Laplace | None,
) -> _ProfileGrid:
    """The POI, its range (given, or the best fit +- ``poi_sigmas`` Laplace sigma, within the bounds), the grid."""
    from ..infer import default_poi

    params = tuple(source.parameters)
    names = [p.name for p in params]
    poi_name = default_poi(source) if poi is None else poi
    if poi_name not in names:
        raise InvalidInputError(
            f"unknown parameter {poi_name!r}; known: {names[:8]}" + (" ..." if len(names) > 8 else ""), where="poi"
        )
    j = names.index(poi_name)
    p = params[j]
    if poi_range is None:
        if lap is None:
            raise InvalidInputError("no Laplace approximation to choose the POI range from; give it", where="poi_range")
        if j not in lap.indices:
            raise InvalidInputError(f"the POI {poi_name!r} is held: no profile grid", where="poi")
        sigma = float(lap.sigma[int(np.flatnonzero(lap.indices == j)[0])])
        lo, hi = best[j] - poi_sigmas * sigma, best[j] + poi_sigmas * sigma
        rule = f"best fit +- {poi_sigmas:g} Laplace sigma ({sigma:.4g}), within the bounds"
    else:
        lo, hi = poi_range
        rule = "given"
    lo, hi = max(lo, p.lower), min(hi, p.upper)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise InvalidInputError(
            f"empty or infinite POI range [{lo:g}, {hi:g}] (bounds [{p.lower:g}, {p.upper:g}])", where="poi_range"
        )
    edges = np.linspace(lo, hi, poi_grid + 1)
    centres = 0.5 * (edges[:-1] + edges[1:])
    if window == "tile":
        windows = list(zip(edges[:-1], edges[1:], strict=True))
        width_text = f"tiles of width {(hi - lo) / poi_grid:.4g}"
    else:
        w = float(window)
        windows = [(max(c - w / 2, p.lower), min(c + w / 2, p.upper)) for c in centres]
        width_text = "POI fixed" if w == 0 else f"width {w:g}"
    return _ProfileGrid(poi_name, j, lo, hi, rule, centres, windows, width_text)


def _profile_segments(
    source: LogDensity,
    grid: _ProfileGrid,
    n_profile: int,
    best: np.ndarray,
    sampled: np.ndarray,
    transform: str,
    need_laplace: bool,
) -> list[Segment]:
    """One segment per POI value, started at the profiled maximum there (the POI fixed for a zero window)."""
    from ..infer import profile

    fits = profile(source, grid.poi, grid.centres, x0=best)
    others = sampled[sampled != grid.index]
    k = int(np.flatnonzero(sampled == grid.index)[0]) if grid.index in sampled else -1
    segments = []
    for count, c, (wlo, whi), fit in zip(
        split_counts(n_profile, len(grid.centres)), grid.centres, grid.windows, fits, strict=True
    ):
        fixed = whi <= wlo or k < 0
        seg = Segment(
            index=0,
            kind="profile",
            n_target=count,
            free=others.copy() if fixed else sampled.copy(),
            base=fit.point.copy(),
            window=None if fixed else (k, float(wlo), float(whi)),
            poi_value=float(c),
            info={"centre": "profiled maximum", "profiled_logpdf": fit.logpdf},
        )
        plan_proposal(source, seg, transform, need=need_laplace)
        segments.append(seg)
    return segments


def _reference_first(
    segments: list[Segment], best: np.ndarray, choices: dict[str, Any], names: list[str]
) -> list[Segment]:
    """The reference segment (tuned first; its burn-in and thinning serve all) first, then number them.

    The reference is the first unbiased segment, else the profile segment nearest the best fit.
    """
    ref = 0
    if segments[0].kind != "unbiased":
        poi_hat = best[names.index(choices["profile"]["poi"])]
        ref = int(np.argmin([abs((s.poi_value or 0.0) - poi_hat) for s in segments]))
    segments.insert(0, segments.pop(ref))
    for k, s in enumerate(segments):
        s.index = k
        s.reference = k == 0
    return segments


# ---------------------------------------------------------------------------------------------- the plan
@dataclass
class Plan:
    """What a run does, decided once and stored in its checkpoint folder (``plan.h5``).

    ``move_set`` is the set the run uses: the one asked for, or
    :data:`~.options.FALLBACK_MOVE_SET` when ``auto`` found a segment without
    a Laplace approximation (``fallback`` then says so).

    Attributes:
        segments: the run's ensembles, the reference one first.
        choices: what was decided (maximum, Laplace, profile grid), for the metadata.
        move_set: the move set the run uses.
        fallback: why ``auto`` fell back, or None.
    """

    segments: list[Segment]
    choices: dict[str, Any]
    move_set: str
    fallback: str | None = None

    @property
    def specs(self) -> tuple[MoveSpec, ...]:
        """The moves of :attr:`move_set`."""
        return parse_moves(self.move_set)

    def to_h5(self, f: h5py.File) -> None:
        """Store the plan in an open HDF5 file (the fallback note among the choices, as ``moves_fallback``).

        Args:
            f: a file open for writing; the attribute ``choices`` and the group ``segments`` are created.
        """
        import json

        choices = {**self.choices, **({"moves_fallback": self.fallback} if self.fallback else {})}
        f.attrs["choices"] = json.dumps(choices)
        segments_to_h5(f.create_group("segments"), self.segments)

    @classmethod
    def from_h5(cls, f: h5py.File, moves: str) -> Plan:
        """The plan stored by :meth:`to_h5` for a run asked for the move set ``moves``.

        Args:
            f: the file :meth:`to_h5` wrote.
            moves: the move set the run asks for (a stored fallback replaces it).

        Returns:
            The plan.

        Raises:
            KeyError: ``f`` holds no plan.
        """
        import json

        choices = json.loads(f.attrs["choices"])
        fallback = choices.pop("moves_fallback", None)
        return cls(segments_from_h5(f["segments"]), choices, FALLBACK_MOVE_SET if fallback else moves, fallback)


def plan_run(source: LogDensity, opts: SampleOptions) -> Plan:
    """Build the segments of a run (:func:`build_segments`) and decide its moves.

    This is the one place where ``auto`` falls back to :data:`~.options.FALLBACK_MOVE_SET`
    (a segment without a Laplace approximation).

    Args:
        source: the log-density to sample.
        opts: the run's options (checked).

    Returns:
        The plan: segments, choices, the move set and any fallback.

    Raises:
        InvalidInputError: as :func:`build_segments`.
        OptimizationError: the maximum of ``source`` was not found.
    """
    segments, choices = build_segments(
        source,
        strategy=opts.strategy,
        n=opts.n,
        n_chains=opts.n_chains,
        profile_fraction=opts.profile_fraction,
        poi=opts.poi,
        poi_grid=opts.poi_grid,
        poi_range=opts.poi_range,
        poi_sigmas=opts.poi_sigmas,
        window=opts.window,
        transform=opts.transform,
        need_laplace=needs_laplace(parse_moves(opts.moves)) and opts.moves != "auto",
    )
    if opts.moves == "auto" and any(s.laplace_mean is None for s in segments):
        return Plan(
            segments,
            choices,
            FALLBACK_MOVE_SET,
            f"no Laplace approximation: moves '{FALLBACK_MOVE_SET}' instead of 'auto'",
        )
    return Plan(segments, choices, opts.moves)
