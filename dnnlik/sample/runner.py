"""The run itself: segment after segment of emcee ensembles, a checkpoint after each chunk.

Every run goes through the same deterministic schedule: segment after
segment, ``checkpoint_every`` steps at a time (fewer at the end of a segment),
a checkpoint written after each chunk. The first ("reference") segment first
runs ``tune_steps`` steps, stored in full, from which the autocorrelation time
fixes burn-in and thinning for every segment. A segment then runs until it has
``n_target`` distinct kept samples (kept: steps ``burn_in, burn_in + thin,
...``). Because the schedule depends only on the options and on the chain,
and each checkpoint holds the full sampler state (walkers, log-densities,
emcee's random state; moves keep no state across checkpoints), a resumed run
gives exactly the samples of an uninterrupted one.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import emcee
import numpy as np

from ..density import LogDensity
from ..errors import DnnlikError, InvalidInputError
from .diagnostics import (
    TRUST_FACTOR,
    BurnThin,
    ShortChainWarning,
    SplitRhatAccumulator,
    choose_burn_in_and_thin,
    integrated_time,
)
from .moves import CountingMove, LaplaceIndependenceMove, build_moves
from .options import TUNE_DISCARD, MoveSpec, SampleOptions
from .segment import Segment
from .storage import CheckpointStore, Chunk

__all__ = ["Runner", "Chains", "checked_target", "multiplicities", "TAU_MAX_WALKERS", "TAU_MAX_STEPS", "RHAT_MIN_HALF"]

TAU_MAX_WALKERS = 64
TAU_MAX_STEPS = 4000
"""The per-segment tau of the kept chain uses at most these walkers and (last) kept steps."""
RHAT_MIN_HALF = 10
"""R-hat is computed only for chains of at least 2 x this many kept steps per walker."""
MAX_INIT_TRIES = 100
MAX_STEPS_FACTOR = 50
"""A segment stops with an error after this many times the steps its target needs at full acceptance."""


def checked_target(fn: Callable[[np.ndarray], np.ndarray], where: str) -> Callable[[np.ndarray], np.ndarray]:
    """``fn`` checked at every call: one value per point, each finite or -inf (InvalidInputError at ``where``).

    Args:
        fn: a vectorised log-density, (n, d) -> (n,).
        where: what an error names (the source and segment).

    Returns:
        ``fn`` wrapped: the same values, as float64; it raises
        :class:`~dnnlik.errors.InvalidInputError` on a wrong shape, NaN or +inf.
    """

    def log_prob(z: np.ndarray) -> np.ndarray:
        out = np.asarray(fn(z), dtype=np.float64)
        if out.shape != (z.shape[0],):
            raise InvalidInputError(f"logpdf returned shape {out.shape} for {z.shape[0]} points", where=where)
        bad = np.isnan(out) | np.isposinf(out)
        if bad.any():
            raise InvalidInputError(f"logpdf returned {out[bad][0]} (must be finite or -inf)", where=where)
        return out

    return log_prob


@dataclass
class Chains:
    """What the segments of a run produced (:meth:`Runner.extract`): samples, diagnostics and totals.

    Per segment (in order): its first ``n_target`` distinct kept samples
    (``points``, in the source's parameters), their ``logpdf``, segment index
    and multiplicity (``weight``), and its ``infos`` (the metadata's
    ``strategy_options.segments``).
    """

    tuning: BurnThin
    n_walkers: int
    infos: list[dict[str, Any]] = field(default_factory=list)
    points: list[np.ndarray] = field(default_factory=list)
    logpdf: list[np.ndarray] = field(default_factory=list)
    segment: list[np.ndarray] = field(default_factory=list)
    weight: list[np.ndarray] = field(default_factory=list)
    total_steps: int = 0
    wall_time_s: float = 0.0
    """Seconds spent in the chunks (this run and the runs it resumed)."""
    move_counts: dict[str, list[int]] = field(default_factory=dict)
    """Move name -> [proposed, accepted], summed over segments."""
    moved: int = 0
    """Walker steps that moved, summed over segments."""
    rhat: np.ndarray | None = None
    """R-hat per parameter pooled over the walkers of all unbiased segments (None: too short or none)."""
    effective_per_parameter: np.ndarray | None = None
    """Effective samples per parameter of the source, (P,), summed over segments."""

    @property
    def acceptance_fraction(self) -> float:
        """Fraction of walker steps that moved, over the whole run."""
        return self.moved / max(1, self.total_steps * self.n_walkers)


@dataclass
class _Walk:
    """Where a segment's walkers are between chunks: the state each checkpoint stores (see :class:`Chunk`)."""

    coords: np.ndarray
    log_prob: np.ndarray
    random_state: Any
    """emcee's ``numpy.random.RandomState`` state tuple."""
    step: int
    index: int
    """The index of the next chunk."""
    counters: dict[str, Any]
    last_kept: np.ndarray | None
    moved: np.ndarray


class Runner:
    """Runs (or resumes) the segments of one run into its checkpoint folder, then extracts the samples.

    Args:
        source: the likelihood.
        opts: the run's options.
        store: its checkpoint folder.
        segments: the planned segments (reference first).
        specs: the moves (the plan's move set).
        n_walkers: walkers per segment.
        initial: the unbiased segments' starting walkers, or None (drawn).
        notes: the run's warnings, appended to.
    """

    def __init__(
        self,
        source: LogDensity,
        opts: SampleOptions,
        store: CheckpointStore,
        segments: list[Segment],
        *,
        specs: Sequence[MoveSpec],
        n_walkers: int,
        initial: np.ndarray | None,
        notes: list[str],
    ) -> None:
        self.source = source
        self.opts = opts
        self.store = store
        self.segments = segments
        self.specs = tuple(specs)
        self.n_walkers = n_walkers
        self.initial = initial
        self.notes = notes
        self.tuning: BurnThin | None = None
        self.seeds = np.random.SeedSequence(opts.seed).spawn(len(segments))

    # ------------------------------------------------------------------ tuning
    def kept(self, steps: np.ndarray) -> np.ndarray:
        """Which of the step numbers ``steps`` are kept (``burn_in, burn_in + thin, ...``, never step 0).

        Args:
            steps: step numbers (after :meth:`tune`).

        Returns:
            A boolean mask, shaped like ``steps``.
        """
        t = self.tuning
        assert t is not None
        return (steps >= max(t.burn_in, 1)) & ((steps - t.burn_in) % t.thin == 0)

    def next_kept(self, step: int) -> int:
        """The first kept step number after ``step`` (after :meth:`tune`)."""
        t = self.tuning
        assert t is not None
        s = max(step + 1, t.burn_in, 1)
        return s + (-(s - t.burn_in)) % t.thin

    def tune(self) -> None:
        """Burn-in and thinning from the reference segment's first ``tune_steps`` steps (its warnings noted).

        ``burn_in``/``thin`` options, when given, replace the chosen values.

        Raises:
            ChainTooShortError: the tuning chain is too short to trust and
                ``on_short_chain`` is ``"error"``.
        """
        ref = self.segments[0]
        chains = [self.store.read_chunk(p) for seg, _, p in self.store.chunk_names() if seg == ref.index]
        steps = np.concatenate([c.steps for c in chains])
        chain = ref.to_parameters(np.concatenate([c.chain for c in chains])[steps <= self.opts.tune_steps])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            bt = choose_burn_in_and_thin(
                chain,
                burn_factor=self.opts.burn_factor,
                thin_factor=self.opts.thin_factor,
                discard_fraction=TUNE_DISCARD,
                on_short=self.opts.on_short_chain,
                what="tuning chain",
            )
        if self.opts.burn_in is not None or self.opts.thin is not None:
            bt = BurnThin(
                burn_in=bt.burn_in if self.opts.burn_in is None else self.opts.burn_in,
                thin=bt.thin if self.opts.thin is None else self.opts.thin,
                tau_max=bt.tau_max,
                tau=bt.tau,
                steps=bt.steps,
                trusted=bt.trusted,
                warning=bt.warning,
            )
        for w in caught:
            self.notes.append(str(w.message))
            warnings.warn(str(w.message), ShortChainWarning, stacklevel=4)
        self.tuning = bt

    # ------------------------------------------------------------------ one segment
    def initial_walkers(
        self, seg: Segment, target: Callable[[np.ndarray], np.ndarray], rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Starting walkers with a finite log-density: the given ones (unbiased segments), or draws.

        Draws come from the segment's Laplace proposal, else a small ball
        around its centre (the POI uniform in its window).

        Args:
            seg: the segment.
            target: its checked log-density (:func:`checked_target`).
            rng: the generator of the draws.

        Returns:
            ``(coords (n_walkers, d), log-densities (n_walkers,))``.

        Raises:
            InvalidInputError: a given starting walker has log-density -inf.
            DnnlikError: no finite starting points after 100 redraws.
        """
        w = self.n_walkers
        if seg.kind == "unbiased" and self.initial is not None:
            coords = seg.to_sampler(self.initial[:, seg.free])
            lp = target(coords)
            if not np.all(np.isfinite(lp)):
                bad = int(np.flatnonzero(~np.isfinite(lp))[0])
                raise InvalidInputError(
                    f"the log-density is -inf at walker {bad} (outside the support)", where="initial"
                )
            return coords, lp
        if seg.laplace_mean is not None and seg.laplace_precision is not None:
            proposal = LaplaceIndependenceMove(seg.laplace_mean, seg.laplace_precision, df=None, uniform=seg.window)

            def draw(k: int) -> np.ndarray:
                return proposal.draw(k, rng)

        else:
            x_centre = seg.base[seg.free]
            centre = seg.to_sampler(x_centre if seg.transform is None else seg.transform.inside(x_centre))

            def draw(k: int) -> np.ndarray:
                z = centre + 1e-3 * np.maximum(1.0, np.abs(centre)) * rng.standard_normal((k, centre.size))
                if seg.window is not None:
                    j, lo, hi = seg.window
                    z[:, j] = rng.uniform(lo, hi, k)
                return z

        coords = draw(w)
        lp = target(coords)
        for _ in range(MAX_INIT_TRIES):
            bad = ~np.isfinite(lp)
            if not bad.any():
                return coords, lp
            coords[bad] = draw(int(bad.sum()))
            lp[bad] = target(coords[bad])
        raise DnnlikError(
            f"could not find {w} starting points with a finite log-density for segment "
            f"{seg.index} ({seg.kind}) in {MAX_INIT_TRIES} tries",
            where="sample",
        )

    def run_segment(self, seg: Segment, resume: Chunk | None, bar: Any) -> None:
        """Run one segment chunk by chunk, from its start or from its last checkpoint ``resume``, to its target.

        Args:
            seg: the segment.
            resume: its last stored chunk (read without data), or None to start.
            bar: a progress bar with ``update(n)``, or None.

        Raises:
            InvalidInputError: the source returns a wrong shape, NaN or +inf.
            DnnlikError: the segment cannot start, or its moves hardly ever accept
                (no target after many times the steps it needs).
        """
        target = checked_target(seg.target(self.source), where=f"source (segment {seg.index})")
        moves = build_moves(
            self.specs,
            ndim=seg.ndim,
            mean=seg.laplace_mean,
            precision=seg.laplace_precision,
            df=self.opts.df,
            uniform=seg.window,
        )
        sampler = emcee.EnsembleSampler(self.n_walkers, seg.ndim, target, vectorize=True, moves=moves)
        walk = self._start(seg, resume, target, len(moves))
        for (m, _), (proposed, accepted) in zip(moves, walk.counters["moves"], strict=True):
            m.proposed, m.accepted = int(proposed), int(accepted)
        max_steps = (
            MAX_STEPS_FACTOR * (self.opts.tune_steps + math.ceil(seg.n_target / self.n_walkers) * (self.opts.thin or 1))
            + 10_000
        )
        while True:
            if seg.reference and self.tuning is None and walk.step >= self.opts.tune_steps:
                self.tune()
                walk.counters["n_kept"], walk.counters["n_unique"], walk.last_kept = self.count_tune_samples(seg)
                if bar is not None:
                    bar.update(min(walk.counters["n_unique"], seg.n_target))
            n_steps = self._chunk_steps(seg, walk, max_steps)
            if n_steps == 0:
                break
            self._run_chunk(seg, sampler, moves, walk, n_steps, bar)

    def _start(
        self, seg: Segment, resume: Chunk | None, target: Callable[[np.ndarray], np.ndarray], n_moves: int
    ) -> _Walk:
        """A segment's walk: fresh (seeded from the run's seed and the segment's index) or from a checkpoint."""
        if resume is not None:
            moved = resume.moved if resume.moved is not None else np.zeros(self.n_walkers, dtype=np.int64)
            return _Walk(
                resume.coords,
                resume.state_log_prob,
                resume.random_state,
                resume.step_end,
                resume.index + 1,
                dict(resume.counters),
                resume.last_kept,
                moved,
            )
        init_seq, mcmc_seq = self.seeds[seg.index].spawn(2)
        coords, lp = self.initial_walkers(seg, target, np.random.default_rng(init_seq))
        random_state = np.random.RandomState(np.random.MT19937(mcmc_seq)).get_state()
        counters: dict[str, Any] = {"n_unique": 0, "n_kept": 0, "moves": [[0, 0] for _ in range(n_moves)]}
        return _Walk(coords, lp, random_state, 0, 0, counters, None, np.zeros(self.n_walkers, dtype=np.int64))

    def _chunk_steps(self, seg: Segment, walk: _Walk, max_steps: int) -> int:
        """Steps of the next chunk: to the end of tuning, or to the last kept step the target needs (0: done).

        Never more than ``checkpoint_every``; the schedule depends only on the
        options and the chain, so a resumed run takes the same chunks.
        """
        opts = self.opts
        if self.tuning is None:
            return min(opts.checkpoint_every, opts.tune_steps - walk.step)
        n_unique, n_kept = walk.counters["n_unique"], walk.counters["n_kept"]
        if n_unique >= seg.n_target:
            return 0
        if walk.step > max_steps:
            raise DnnlikError(
                f"segment {seg.index} ({seg.kind}) has only {n_unique} distinct samples "
                f"of {seg.n_target} after {walk.step} steps: the moves hardly ever accept (acceptance "
                f"{walk.moved.mean() / max(walk.step, 1):.2g}); try other moves",
                where="sample",
            )
        rate = n_unique / n_kept if n_kept else 1.0
        need = math.ceil((seg.n_target - n_unique) / (self.n_walkers * max(rate, 0.05)))
        last = self.next_kept(walk.step) + (need - 1) * self.tuning.thin
        return min(opts.checkpoint_every, last - walk.step)

    def _run_chunk(
        self,
        seg: Segment,
        sampler: emcee.EnsembleSampler,
        moves: list[tuple[CountingMove, float]],
        walk: _Walk,
        n_steps: int,
        bar: Any,
    ) -> None:
        """``n_steps`` steps from ``walk`` (advanced in place), then the checkpoint of the chunk.

        While tuning every step is stored; afterwards only the kept ones.
        """
        w = self.n_walkers
        store_all = self.tuning is None
        t0 = time.perf_counter()
        kept_steps: list[int] = []
        kept_chain: list[np.ndarray] = []
        kept_lp: list[np.ndarray] = []
        prev = walk.coords
        for m, _ in moves:
            m.reset_cache()  # every chunk starts from the checkpointed state alone
        start = emcee.State(walk.coords, log_prob=walk.log_prob, random_state=walk.random_state)
        state = start  # the last state, also after zero steps
        s = walk.step
        for state in sampler.sample(start, iterations=n_steps, store=False, skip_initial_state_check=True):
            s += 1
            now = state.coords
            walk.moved += np.any(now != prev, axis=1)
            prev = now.copy()
            keep = self.tuning is not None and bool(self.kept(np.array([s]))[0])
            if store_all or keep:
                kept_steps.append(s)
                kept_chain.append(prev)
                kept_lp.append(state.log_prob.copy())
            if keep:
                self._count_kept(seg, walk, prev, bar)
        walk.coords, walk.log_prob = prev, state.log_prob.copy()
        walk.random_state = sampler.random_state
        walk.counters["moves"] = [[m.proposed, m.accepted] for m, _ in moves]
        self.store.write_chunk(
            Chunk(
                segment=seg.index,
                index=walk.index,
                step_start=walk.step,
                step_end=s,
                steps=np.asarray(kept_steps, dtype=np.int64),
                chain=np.asarray(kept_chain).reshape(len(kept_steps), w, seg.ndim),
                log_prob=np.asarray(kept_lp).reshape(len(kept_steps), w),
                coords=walk.coords,
                state_log_prob=walk.log_prob,
                random_state=walk.random_state,
                counters=walk.counters,
                last_kept=walk.last_kept,
                moved=walk.moved,
                wall_time_s=time.perf_counter() - t0,
            )
        )
        walk.step, walk.index = s, walk.index + 1

    def _count_kept(self, seg: Segment, walk: _Walk, row: np.ndarray, bar: Any) -> None:
        """Count a kept step: its walkers, and those that moved since the last kept step (fresh samples)."""
        w = self.n_walkers
        walk.counters["n_kept"] += w
        fresh = w if walk.last_kept is None else int(np.count_nonzero(np.any(row != walk.last_kept, axis=1)))
        walk.counters["n_unique"] += fresh
        walk.last_kept = row
        if bar is not None:
            bar.update(min(fresh, max(0, seg.n_target - (walk.counters["n_unique"] - fresh))))

    def count_tune_samples(self, seg: Segment) -> tuple[int, int, np.ndarray | None]:
        """After tuning: the kept samples already stored during the tuning steps.

        Returns:
            ``(n_kept, n_unique, last_kept)``: walker samples kept, how many
            of them are fresh, and the last kept row (None if none).
        """
        w = self.n_walkers
        last_kept = None
        n_kept = n_unique = 0
        for sg, _, p in self.store.chunk_names():
            if sg != seg.index:
                continue
            c = self.store.read_chunk(p)
            for s, x in zip(c.steps, c.chain, strict=True):
                if self.kept(np.array([s]))[0]:
                    n_kept += w
                    n_unique += w if last_kept is None else int(np.count_nonzero(np.any(x != last_kept, axis=1)))
                    last_kept = x
        return n_kept, n_unique, last_kept

    # ------------------------------------------------------------------ all of it
    def execute(self, bar: Any) -> None:
        """Run every segment that has not reached its target yet (the reference one tunes on the way).

        Args:
            bar: a progress bar with ``update(n)``, or None.

        Raises:
            DnnlikError: as :meth:`run_segment` and :meth:`tune`.
        """
        last: dict[int, Path] = {}
        for index, _, p in self.store.chunk_names():
            last[index] = p
        for seg in self.segments:
            resume = self.store.read_chunk(last[seg.index], data=False) if seg.index in last else None
            if self.tuning is None and seg.index > 0:
                self.tune()
            if resume is not None and bar is not None:
                bar.update(min(seg.n_target, int(resume.counters.get("n_unique", 0))))
            if resume is not None and self.tuning is not None and resume.counters.get("n_unique", 0) >= seg.n_target:
                continue
            self.run_segment(seg, resume, bar)

    # ------------------------------------------------------------------ the output
    def extract(self) -> Chains:
        """Per segment: kept, de-duplicated samples (first n_target), and diagnostics.

        Chunks are read one at a time (a run of 10^6 samples holds about 1 GB of
        chain); R-hat is accumulated on the way, tau uses the last kept steps.

        Returns:
            The samples, weights and per-segment diagnostics of the whole run.
        """
        assert self.tuning is not None
        paths: dict[int, list[Path]] = {}
        for index, _, p in self.store.chunk_names():
            paths.setdefault(index, []).append(p)
        metas = {i: [self.store.read_chunk(p, data=False) for p in ps] for i, ps in paths.items()}
        n_kept = {i: int(sum(np.count_nonzero(self.kept(c.steps)) for c in cs)) for i, cs in metas.items()}
        unbiased = [s.index for s in self.segments if s.kind == "unbiased"]
        n_pool = min((n_kept[i] for i in unbiased), default=0)
        pooled = unbiased and n_pool >= 2 * RHAT_MIN_HALF
        pool = {i: SplitRhatAccumulator(n_pool) for i in unbiased} if pooled else {}
        out = Chains(tuning=self.tuning, n_walkers=self.n_walkers)
        for seg in self.segments:
            kept = self._read_kept(seg, paths[seg.index], n_kept[seg.index], pool.get(seg.index))
            chunks = metas[seg.index]
            out.points.append(seg.full_points(kept.z))
            out.logpdf.append(kept.logpdf)
            out.weight.append(kept.weight)
            out.segment.append(np.full(kept.z.shape[0], seg.index, dtype=np.int32))
            out.total_steps += chunks[-1].step_end
            out.wall_time_s += sum(c.wall_time_s for c in chunks)
            moved = chunks[-1].moved
            out.moved += int(moved.sum()) if moved is not None else 0
            for name, (prop, acc) in zip([s.name for s in self.specs], chunks[-1].counters["moves"], strict=True):
                mc = out.move_counts.setdefault(name, [0, 0])
                mc[0] += prop
                mc[1] += acc
            info, per_parameter = self._segment_info(seg, kept, chunks[-1], n_kept[seg.index])
            out.infos.append(info)
            total = out.effective_per_parameter
            out.effective_per_parameter = per_parameter if total is None else total + per_parameter
        out.rhat = SplitRhatAccumulator.pooled_rhat(list(pool.values())) if pool else None
        return out

    def _read_kept(self, seg: Segment, paths: list[Path], k_seg: int, pooled: SplitRhatAccumulator | None) -> _Kept:
        """One segment's kept steps, a chunk at a time: its samples, their multiplicities, tau's tail, R-hat.

        ``pooled``: the segment's share of the R-hat pooled over unbiased segments, fed on the way.
        """
        own = SplitRhatAccumulator(k_seg) if k_seg >= 2 * RHAT_MIN_HALF else None
        prev_row: np.ndarray | None = None
        fresh_parts: list[np.ndarray] = []
        z_parts: list[np.ndarray] = []
        lp_parts: list[np.ndarray] = []
        tau_parts: list[np.ndarray] = []
        n_z = 0
        index = 0
        for p in paths:
            c = self.store.read_chunk(p)
            keep = self.kept(c.steps)
            if not keep.any():
                continue
            rows, logp = c.chain[keep], c.log_prob[keep]
            if seg.transform is not None:  # the stored log-density is the source's, without the Jacobian
                logp = logp - seg.log_jacobian(rows.reshape(-1, seg.ndim)).reshape(rows.shape[:2])
            params = seg.to_parameters(rows)  # diagnostics of the parameters themselves
            fr = np.empty(rows.shape[:2], dtype=bool)
            fr[0] = True if prev_row is None else np.any(rows[0] != prev_row, axis=1)
            fr[1:] = np.any(rows[1:] != rows[:-1], axis=2)
            prev_row = rows[-1]
            fresh_parts.append(fr)
            if n_z < seg.n_target:
                z_parts.append(rows[fr])
                lp_parts.append(logp[fr])
                n_z += z_parts[-1].shape[0]
            if own is not None:
                own.add(params, index)
            if pooled is not None:
                pooled.add(params, index)
            first_tau = k_seg - TAU_MAX_STEPS
            if index + rows.shape[0] > first_tau:
                tau_parts.append(params[max(0, first_tau - index) :, :TAU_MAX_WALKERS].copy())
            index += rows.shape[0]
        return _Kept(
            z=np.concatenate(z_parts)[: seg.n_target],
            logpdf=np.concatenate(lp_parts)[: seg.n_target],
            weight=multiplicities(np.concatenate(fresh_parts))[: seg.n_target],
            tau_tail=np.concatenate(tau_parts),
            rhat=own.rhat() if own is not None else np.full(seg.ndim, np.nan),
        )

    def _segment_info(self, seg: Segment, kept: _Kept, last: Chunk, k_seg: int) -> tuple[dict[str, Any], np.ndarray]:
        """A segment's entry in the metadata's ``strategy_options.segments`` (its plan and its diagnostics),
        and its effective samples per parameter of the source (its sample size for the parameters it holds).

        The effective samples of a parameter are ``min(n_samples, kept chain length / tau)``, tau the
        parameter's integrated autocorrelation time in kept steps (0 where it cannot be estimated).
        """
        tail = kept.tau_tail
        tau_kept = integrated_time(tail) if tail.shape[0] >= 2 else np.full(seg.ndim, np.nan)
        tau_kept_max = float(np.nanmax(tau_kept)) if np.isfinite(tau_kept).any() else float("nan")
        n_samples = float(kept.z.shape[0])
        n_eff = min(n_samples, k_seg * self.n_walkers / tau_kept_max) if math.isfinite(tau_kept_max) else 0.0
        per_parameter = np.full(seg.base.size, n_samples)
        with np.errstate(invalid="ignore", divide="ignore"):
            free_eff = np.minimum(n_samples, k_seg * self.n_walkers / tau_kept)
        per_parameter[seg.free] = np.where(np.isfinite(free_eff), free_eff, 0.0)
        n_steps, moved = last.step_end, last.moved
        info = {
            **seg.describe(),
            "n_steps": int(n_steps),
            "n_kept_steps": k_seg,
            "n_samples": int(kept.z.shape[0]),
            "acceptance_fraction": float(moved.mean() / n_steps) if moved is not None and n_steps else None,
            "autocorrelation_time_kept": tau_kept_max if math.isfinite(tau_kept_max) else None,
            "rhat_max": float(np.nanmax(kept.rhat)) if np.isfinite(kept.rhat).any() else None,
            "effective_samples": n_eff,
            "trusted": bool(k_seg >= TRUST_FACTOR * tau_kept_max),
        }
        return info, per_parameter


@dataclass(frozen=True)
class _Kept:
    """One segment's share of the output (see :meth:`Runner._read_kept`)."""

    z: np.ndarray
    """The first ``n_target`` fresh kept samples, in sampler coordinates."""
    logpdf: np.ndarray
    weight: np.ndarray
    tau_tail: np.ndarray
    """The last kept steps of the first walkers, for the autocorrelation time."""
    rhat: np.ndarray


def multiplicities(fresh: np.ndarray) -> np.ndarray:
    """For a (steps, walkers) mask of fresh samples: how many kept steps each fresh sample lasted.

    Returned in the order of ``chain[fresh]`` (step-major). Row 0 must be all True.

    >>> multiplicities(np.array([[True, True], [False, True], [True, False]]))
    array([2, 1, 2, 1])

    Args:
        fresh: (steps, walkers): True where a walker's kept sample differs from its previous one.

    Returns:
        (number of True,) integer multiplicities.
    """
    k, w = fresh.shape
    flat = fresh.T.reshape(-1)  # walker-major: runs never cross walkers
    starts = np.flatnonzero(flat)
    runs = np.diff(np.append(starts, flat.size))
    counts = np.zeros(flat.size, dtype=np.int64)
    counts[starts] = runs
    return counts.reshape(w, k).T[fresh]
