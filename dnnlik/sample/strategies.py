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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np

from ..density import LogDensity
from ..errors import InvalidInputError
from .laplace import Laplace, laplace_at
from .options import FALLBACK_MOVE_SET, STRATEGIES, MoveSpec, SampleOptions, needs_laplace, parse_moves

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


@dataclass
class Segment:
    """One independent ensemble of a run.

    The sampler works in coordinates ``free`` (indices of the source's
    parameters); the others stay at their value in ``base``. With
    ``window=(k, lo, hi)``, sampler coordinate ``k`` (the POI) is confined to
    [lo, hi].

    Attributes:
        index: its place in the run (0: the reference segment).
        kind: ``"unbiased"`` (posterior) or ``"profile"`` (a chain along the profile ridge).
        n_target: distinct samples it is to contribute.
        free: indices of the sampled parameters, (d,).
        base: a full (P,) point giving the other parameters' values.
        window: ``(k, lo, hi)`` confining sampler coordinate ``k``; None: unconfined.
        laplace_mean: the Laplace approximation's mean in sampler coordinates, (d,), if any.
        laplace_precision: its precision, (d, d).
        poi_value: the POI value a profile segment is centred on.
        reference: whether this is the segment whose tuning chain fixes burn-in and thinning.
        info: more of its plan, for the metadata.
    """

    index: int
    kind: str
    n_target: int
    free: np.ndarray
    base: np.ndarray
    window: tuple[int, float, float] | None = None
    laplace_mean: np.ndarray | None = None
    laplace_precision: np.ndarray | None = None
    poi_value: float | None = None
    reference: bool = False
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def ndim(self) -> int:
        """The number of sampler coordinates."""
        return int(self.free.size)

    def full_points(self, z: np.ndarray) -> np.ndarray:
        """Sampler coordinates (n, d) -> the source's parameter points (n, P).

        Args:
            z: points in sampler coordinates, (n, d).

        Returns:
            The full points, (n, P): ``base`` with the free columns set to ``z``.
        """
        if self.free.size == self.base.size:  # all parameters sampled, in order
            return np.asarray(z, dtype=np.float64)
        x = np.repeat(self.base[None, :], z.shape[0], axis=0)
        x[:, self.free] = z
        return x

    def target(self, source: LogDensity) -> Callable[[np.ndarray], np.ndarray]:
        """The vectorised log-density emcee samples for this segment.

        Args:
            source: the log-density.

        Returns:
            ``log_prob(z)``: (n, d) sampler points -> (n,) log-densities, ``-inf``
            outside the POI window.
        """
        window = self.window

        def log_prob(z: np.ndarray) -> np.ndarray:
            z = np.asarray(z, dtype=np.float64)
            if window is None:
                return np.asarray(source.logpdf(self.full_points(z)), dtype=np.float64)
            k, lo, hi = window
            inside = (z[:, k] >= lo) & (z[:, k] <= hi)
            out = np.full(z.shape[0], -np.inf)
            if inside.any():
                out[inside] = source.logpdf(self.full_points(z[inside]))
            return out

        return log_prob

    def describe(self) -> dict[str, Any]:
        """The segment's plan for the metadata (``strategy_options.segments``).

        Returns:
            ``index``, ``kind``, ``n_target``, ``n_dimensions``, ``reference``, then
            ``poi_value`` and ``poi_window`` when set, and ``info``.
        """
        out: dict[str, Any] = {
            "index": self.index,
            "kind": self.kind,
            "n_target": self.n_target,
            "n_dimensions": self.ndim,
            "reference": self.reference,
        }
        if self.poi_value is not None:
            out["poi_value"] = self.poi_value
        if self.window is not None:
            out["poi_window"] = [self.window[1], self.window[2]]
        out.update(self.info)
        return out


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


def _laplace_or_none(source: LogDensity, x: np.ndarray, idx: np.ndarray, need: bool) -> Laplace | None:
    try:
        return laplace_at(source, x, idx)
    except InvalidInputError:
        if need:
            raise
        return None


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
) -> tuple[list[Segment], dict[str, Any]]:
    """The segments of a run and the choices made (for the metadata).

    Args:
        source: the likelihood (``parameters``, ``logpdf``; a gradient for the
            maximum and the Laplace approximation).
        strategy, n, n_chains, profile_fraction, poi, poi_grid, poi_range,
            poi_sigmas, window: the fields of :class:`~.options.SampleOptions`.
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
    everything = np.arange(len(params))
    lap = _laplace_or_none(source, best.point, everything, need_laplace)
    choices: dict[str, Any] = {"maximum": {"logpdf": best.logpdf, "point": list(best.x)}}
    if lap is not None:
        choices["laplace"] = {**lap.info}

    n_unbiased, n_profile = _sample_counts(strategy, n, profile_fraction)
    segments = [
        Segment(
            index=0,
            kind="unbiased",
            n_target=count,
            free=everything.copy(),
            base=best.point.copy(),
            laplace_mean=None if lap is None else lap.mean,
            laplace_precision=None if lap is None else lap.precision,
            info={"centre": "global maximum"},
        )
        for count in (split_counts(n_unbiased, n_chains) if n_unbiased else [])
    ]
    if n_profile:
        grid = _profile_grid(source, poi, poi_grid, poi_range, poi_sigmas, window, best.point, lap)
        segments += _profile_segments(source, grid, n_profile, best.point, need_laplace)
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
        sigma = float(lap.sigma[j])
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
    source: LogDensity, grid: _ProfileGrid, n_profile: int, best: np.ndarray, need_laplace: bool
) -> list[Segment]:
    """One segment per POI value, started at the profiled maximum there (the POI fixed for a zero window)."""
    from ..infer import profile

    fits = profile(source, grid.poi, grid.centres, x0=best)
    everything = np.arange(best.size)
    others = np.array([i for i in everything if i != grid.index], dtype=np.intp)
    segments = []
    for count, c, (wlo, whi), fit in zip(
        split_counts(n_profile, len(grid.centres)), grid.centres, grid.windows, fits, strict=True
    ):
        fixed = whi <= wlo
        free = others if fixed else everything.copy()
        plap = _laplace_or_none(source, fit.point, free, need_laplace)
        segments.append(
            Segment(
                index=0,
                kind="profile",
                n_target=count,
                free=free,
                base=fit.point.copy(),
                window=None if fixed else (grid.index, float(wlo), float(whi)),
                laplace_mean=None if plap is None else plap.mean,
                laplace_precision=None if plap is None else plap.precision,
                poi_value=float(c),
                info={"centre": "profiled maximum", "profiled_logpdf": fit.logpdf},
            )
        )
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


def segments_to_h5(group: h5py.Group, segments: Sequence[Segment]) -> None:
    """Store the segments in ``group``, one subgroup ``<index>`` each.

    Args:
        group: an HDF5 group open for writing.
        segments: the segments (subgroups named by index, three digits).
    """
    import json

    for s in segments:
        g = group.create_group(f"{s.index:03d}")
        g.attrs["kind"] = s.kind
        g.attrs["n_target"] = s.n_target
        g.attrs["reference"] = s.reference
        g.attrs["info"] = json.dumps(s.info)
        if s.poi_value is not None:
            g.attrs["poi_value"] = s.poi_value
        if s.window is not None:
            g.attrs["window"] = np.array([s.window[0], s.window[1], s.window[2]], dtype=np.float64)
        g.create_dataset("free", data=s.free)
        g.create_dataset("base", data=s.base)
        if s.laplace_mean is not None:
            g.create_dataset("laplace_mean", data=s.laplace_mean)
            g.create_dataset("laplace_precision", data=s.laplace_precision)


def segments_from_h5(group: h5py.Group) -> list[Segment]:
    """The segments stored by :func:`segments_to_h5`, in order.

    Args:
        group: the group :func:`segments_to_h5` wrote.

    Returns:
        The segments.
    """
    import json

    out = []
    for key in sorted(group):
        g = group[key]
        w = g.attrs.get("window")
        out.append(
            Segment(
                index=int(key),
                kind=str(g.attrs["kind"]),
                n_target=int(g.attrs["n_target"]),
                free=g["free"][()],
                base=g["base"][()],
                window=None if w is None else (int(w[0]), float(w[1]), float(w[2])),
                laplace_mean=g["laplace_mean"][()] if "laplace_mean" in g else None,
                laplace_precision=g["laplace_precision"][()] if "laplace_precision" in g else None,
                poi_value=float(g.attrs["poi_value"]) if "poi_value" in g.attrs else None,
                reference=bool(g.attrs["reference"]),
                info=json.loads(g.attrs["info"]),
            )
        )
    return out
