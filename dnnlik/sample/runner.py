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
from pathlib import Path
from typing import Any, Callable

import emcee
import numpy as np

from ..errors import DnnlikError, InvalidInputError
from .diagnostics import (
    TRUST_FACTOR,
    BurnThin,
    ShortChainWarning,
    SplitRhatAccumulator,
    choose_burn_in_and_thin,
    integrated_time,
)
from .moves import LaplaceIndependenceMove, build_moves, parse_moves
from .options import TUNE_DISCARD, SampleOptions
from .storage import CheckpointStore, Chunk
from .strategies import Segment

__all__ = ["Runner", "checked_target", "multiplicities", "TAU_MAX_WALKERS", "TAU_MAX_STEPS", "RHAT_MIN_HALF"]

TAU_MAX_WALKERS = 64
TAU_MAX_STEPS = 4000
"""The per-segment tau of the kept chain uses at most these walkers and (last) kept steps."""
RHAT_MIN_HALF = 10
"""R-hat is computed only for chains of at least 2 x this many kept steps per walker."""
MAX_INIT_TRIES = 100
MAX_STEPS_FACTOR = 50
"""A segment stops with an error after this many times the steps its target needs at full acceptance."""


def checked_target(fn: Callable[[np.ndarray], np.ndarray], where: str) -> Callable[[np.ndarray], np.ndarray]:
    def log_prob(z: np.ndarray) -> np.ndarray:
        out = np.asarray(fn(z), dtype=np.float64)
        if out.shape != (z.shape[0],):
            raise InvalidInputError(f"logpdf returned shape {out.shape} for {z.shape[0]} points", where=where)
        bad = np.isnan(out) | np.isposinf(out)
        if bad.any():
            raise InvalidInputError(f"logpdf returned {out[bad][0]} (must be finite or -inf)", where=where)
        return out

    return log_prob


class Runner:
    """Runs (or resumes) the segments of one run into its checkpoint folder, then extracts the samples."""

    def __init__(self, source: Any, opts: SampleOptions, store: CheckpointStore, segments: list[Segment],
                 n_walkers: int, initial: np.ndarray | None, progress: bool, notes: list[str]) -> None:
        self.source = source
        self.opts = opts
        self.store = store
        self.segments = segments
        self.n_walkers = n_walkers
        self.initial = initial
        self.specs = parse_moves(opts.moves)
        self.notes = notes
        self.tuning: BurnThin | None = None
        self.progress = progress
        children = np.random.SeedSequence(opts.seed).spawn(len(segments))
        self.seeds = children

    # ------------------------------------------------------------------ tuning
    def kept(self, steps: np.ndarray) -> np.ndarray:
        t = self.tuning
        assert t is not None
        return (steps >= max(t.burn_in, 1)) & ((steps - t.burn_in) % t.thin == 0)

    def next_kept(self, step: int) -> int:
        """The first kept step number after ``step``."""
        t = self.tuning
        assert t is not None
        s = max(step + 1, t.burn_in, 1)
        return s + (-(s - t.burn_in)) % t.thin

    def tune(self) -> None:
        ref = self.segments[0]
        chains = [self.store.read_chunk(p) for seg, _, p in self.store.chunk_names() if seg == ref.index]
        steps = np.concatenate([c.steps for c in chains])
        chain = np.concatenate([c.chain for c in chains])[steps <= self.opts.tune_steps]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            bt = choose_burn_in_and_thin(chain, burn_factor=self.opts.burn_factor,
                                         thin_factor=self.opts.thin_factor, discard_fraction=TUNE_DISCARD,
                                         on_short=self.opts.on_short_chain, what="tuning chain")
        if self.opts.burn_in is not None or self.opts.thin is not None:
            bt = BurnThin(burn_in=bt.burn_in if self.opts.burn_in is None else self.opts.burn_in,
                          thin=bt.thin if self.opts.thin is None else self.opts.thin,
                          tau_max=bt.tau_max, tau=bt.tau, steps=bt.steps, trusted=bt.trusted, warning=bt.warning)
        for w in caught:
            self.notes.append(str(w.message))
            warnings.warn(str(w.message), ShortChainWarning, stacklevel=4)
        self.tuning = bt

    # ------------------------------------------------------------------ one segment
    def initial_walkers(self, seg: Segment, target: Callable[[np.ndarray], np.ndarray],
                        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        w = self.n_walkers
        if seg.kind == "unbiased" and self.initial is not None:
            coords = self.initial[:, seg.free].copy()
            lp = target(coords)
            if not np.all(np.isfinite(lp)):
                bad = int(np.flatnonzero(~np.isfinite(lp))[0])
                raise InvalidInputError(f"the log-density is -inf at walker {bad} (outside the support)",
                                        where="initial")
            return coords, lp
        if seg.laplace_mean is not None:
            proposal = LaplaceIndependenceMove(seg.laplace_mean, seg.laplace_precision, df=None,
                                               uniform=seg.window)
            draw: Callable[[int], np.ndarray] = lambda k: proposal.draw(k, rng)  # noqa: E731
        else:
            centre = seg.base[seg.free]

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
        raise DnnlikError(f"could not find {w} starting points with a finite log-density for segment "
                          f"{seg.index} ({seg.kind}) in {MAX_INIT_TRIES} tries", where="sample")

    def run_segment(self, seg: Segment, resume: Chunk | None, bar: Any) -> None:
        opts = self.opts
        w = self.n_walkers
        target = checked_target(seg.target(self.source), where=f"source (segment {seg.index})")
        moves = build_moves(self.specs, ndim=seg.ndim, mean=seg.laplace_mean, precision=seg.laplace_precision,
                            df=opts.df, uniform=seg.window)
        sampler = emcee.EnsembleSampler(w, seg.ndim, target, vectorize=True, moves=moves)
        init_seq, mcmc_seq = self.seeds[seg.index].spawn(2)
        if resume is None:
            coords, lp = self.initial_walkers(seg, target, np.random.default_rng(init_seq))
            rstate = np.random.RandomState(np.random.MT19937(mcmc_seq)).get_state()
            step, index = 0, 0
            counters: dict[str, Any] = {"n_unique": 0, "n_kept": 0, "moves": [[0, 0] for _ in moves]}
            last_kept: np.ndarray | None = None
            moved = np.zeros(w, dtype=np.int64)
        else:
            coords, lp, rstate = resume.coords, resume.state_log_prob, resume.random_state
            step, index = resume.step_end, resume.index + 1
            counters = dict(resume.counters)
            last_kept = resume.last_kept
            moved = resume.moved if resume.moved is not None else np.zeros(w, dtype=np.int64)
        for (m, _), (proposed, accepted) in zip(moves, counters["moves"]):
            m.proposed, m.accepted = int(proposed), int(accepted)
        max_steps = MAX_STEPS_FACTOR * (opts.tune_steps + math.ceil(seg.n_target / w) * (opts.thin or 1)) + 10_000

        while True:
            if seg.reference and self.tuning is None and step >= opts.tune_steps:
                self.tune()
                self.count_tune_samples(seg, counters)
                last_kept = counters.pop("_last_kept")
                if bar is not None:
                    bar.update(min(counters["n_unique"], seg.n_target))
            if self.tuning is None:
                n_steps = min(opts.checkpoint_every, opts.tune_steps - step)
            else:
                if counters["n_unique"] >= seg.n_target:
                    break
                if step > max_steps:
                    raise DnnlikError(
                        f"segment {seg.index} ({seg.kind}) has only {counters['n_unique']} distinct samples "
                        f"of {seg.n_target} after {step} steps: the moves hardly ever accept (acceptance "
                        f"{moved.mean() / max(step, 1):.2g}); try other moves", where="sample")
                rate = counters["n_unique"] / counters["n_kept"] if counters["n_kept"] else 1.0
                need = math.ceil((seg.n_target - counters["n_unique"]) / (w * max(rate, 0.05)))
                last = self.next_kept(step) + (need - 1) * self.tuning.thin
                n_steps = min(opts.checkpoint_every, last - step)
            store_all = self.tuning is None
            t0 = time.perf_counter()
            kept_steps: list[int] = []
            kept_chain: list[np.ndarray] = []
            kept_lp: list[np.ndarray] = []
            prev = coords
            for m, _ in moves:
                m.reset_cache()  # every chunk starts from the checkpointed state alone
            state = emcee.State(coords, log_prob=lp, random_state=rstate)
            s = step
            for state in sampler.sample(state, iterations=n_steps, store=False, skip_initial_state_check=True):
                s += 1
                now = state.coords
                moved += np.any(now != prev, axis=1)
                prev = now.copy()
                keep = self.tuning is not None and bool(self.kept(np.array([s]))[0])
                if store_all or keep:
                    kept_steps.append(s)
                    kept_chain.append(prev)
                    kept_lp.append(state.log_prob.copy())
                if keep:
                    counters["n_kept"] += w
                    fresh = w if last_kept is None else int(np.count_nonzero(np.any(prev != last_kept, axis=1)))
                    counters["n_unique"] += fresh
                    last_kept = prev
                    if bar is not None:
                        bar.update(min(fresh, max(0, seg.n_target - (counters["n_unique"] - fresh))))
            coords, lp = prev, state.log_prob.copy()
            rstate = sampler.random_state
            counters["moves"] = [[m.proposed, m.accepted] for m, _ in moves]
            d = seg.ndim
            self.store.write_chunk(Chunk(
                segment=seg.index, index=index, step_start=step, step_end=s,
                steps=np.asarray(kept_steps, dtype=np.int64),
                chain=np.asarray(kept_chain).reshape(len(kept_steps), w, d),
                log_prob=np.asarray(kept_lp).reshape(len(kept_steps), w),
                coords=coords, state_log_prob=lp, random_state=rstate, counters=counters,
                last_kept=last_kept, moved=moved, wall_time_s=time.perf_counter() - t0))
            step, index = s, index + 1

    def count_tune_samples(self, seg: Segment, counters: dict[str, Any]) -> None:
        """After tuning: count the kept samples already stored during the tuning steps."""
        w = self.n_walkers
        last_kept = None
        n_kept = n_unique = 0
        for sg, _, p in self.store.chunk_names():
            if sg != seg.index:
                continue
            c = self.store.read_chunk(p)
            for s, x in zip(c.steps, c.chain):
                if self.kept(np.array([s]))[0]:
                    n_kept += w
                    n_unique += w if last_kept is None else int(np.count_nonzero(np.any(x != last_kept, axis=1)))
                    last_kept = x
        counters["n_kept"], counters["n_unique"], counters["_last_kept"] = n_kept, n_unique, last_kept

    # ------------------------------------------------------------------ all of it
    def execute(self, bar: Any) -> None:
        names = self.store.chunk_names()
        last: dict[int, Path] = {}
        for seg, _, p in names:
            last[seg] = p
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
    def extract(self) -> tuple[list[dict[str, Any]], list[np.ndarray], list[np.ndarray], list[np.ndarray],
                               dict[str, Any]]:
        """Per segment: kept, de-duplicated samples (first n_target), and diagnostics.

        Chunks are read one at a time (a run of 10^6 samples holds about 1 GB of
        chain); R-hat is accumulated on the way, tau uses the last kept steps.
        """
        assert self.tuning is not None
        paths: dict[int, list[Path]] = {}
        for seg, _, p in self.store.chunk_names():
            paths.setdefault(seg, []).append(p)
        metas = {seg: [self.store.read_chunk(p, data=False) for p in ps] for seg, ps in paths.items()}
        n_kept = {seg: int(sum(np.count_nonzero(self.kept(c.steps)) for c in cs)) for seg, cs in metas.items()}
        unbiased = [s.index for s in self.segments if s.kind == "unbiased"]
        n_pool = min((n_kept[i] for i in unbiased), default=0)
        pooled = unbiased and n_pool >= 2 * RHAT_MIN_HALF
        pool = {i: SplitRhatAccumulator(n_pool) for i in unbiased} if pooled else {}
        infos, pts, lps, segids, wts = [], [], [], [], []
        move_counts: dict[str, list[int]] = {}
        total_steps = 0
        wall = 0.0
        moved_total = 0
        for seg in self.segments:
            k_seg = n_kept[seg.index]
            own = SplitRhatAccumulator(k_seg) if k_seg >= 2 * RHAT_MIN_HALF else None
            prev_row: np.ndarray | None = None
            fresh_parts: list[np.ndarray] = []
            z_parts: list[np.ndarray] = []
            lp_parts: list[np.ndarray] = []
            tau_parts: list[np.ndarray] = []
            n_z = 0
            index = 0
            for p in paths[seg.index]:
                c = self.store.read_chunk(p)
                keep = self.kept(c.steps)
                if not keep.any():
                    continue
                rows, logp = c.chain[keep], c.log_prob[keep]
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
                    own.add(rows, index)
                if seg.index in pool:
                    pool[seg.index].add(rows, index)
                first_tau = k_seg - TAU_MAX_STEPS
                if index + rows.shape[0] > first_tau:
                    tau_parts.append(rows[max(0, first_tau - index):, :TAU_MAX_WALKERS].copy())
                index += rows.shape[0]
            fresh = np.concatenate(fresh_parts)
            z = np.concatenate(z_parts)[:seg.n_target]
            lp = np.concatenate(lp_parts)[:seg.n_target]
            pts.append(seg.full_points(z))
            lps.append(lp)
            wts.append(multiplicities(fresh)[:seg.n_target])
            segids.append(np.full(z.shape[0], seg.index, dtype=np.int32))
            last = metas[seg.index][-1]
            n_steps = last.step_end
            total_steps += n_steps
            wall += sum(c.wall_time_s for c in metas[seg.index])
            moved = last.moved
            moved_total += int(moved.sum()) if moved is not None else 0
            for (name, (prop, acc)) in zip([s.name for s in self.specs], last.counters["moves"]):
                mc = move_counts.setdefault(name, [0, 0])
                mc[0] += prop
                mc[1] += acc
            tail = np.concatenate(tau_parts)
            tau_kept = integrated_time(tail) if tail.shape[0] >= 2 else np.full(seg.ndim, np.nan)
            tau_kept_max = float(np.nanmax(tau_kept)) if np.isfinite(tau_kept).any() else float("nan")
            rhat = own.rhat() if own is not None else np.full(seg.ndim, np.nan)
            n_eff = min(float(z.shape[0]), k_seg * self.n_walkers / tau_kept_max) \
                if math.isfinite(tau_kept_max) else 0.0
            info = {**seg.describe(), "n_steps": int(n_steps), "n_kept_steps": k_seg,
                    "n_samples": int(z.shape[0]),
                    "acceptance_fraction": float(moved.mean() / n_steps) if moved is not None and n_steps else None,
                    "autocorrelation_time_kept": tau_kept_max if math.isfinite(tau_kept_max) else None,
                    "rhat_max": float(np.nanmax(rhat)) if np.isfinite(rhat).any() else None,
                    "effective_samples": n_eff,
                    "trusted": bool(k_seg >= TRUST_FACTOR * tau_kept_max)}
            infos.append(info)
        extra = {"total_steps": total_steps, "wall_time_s": wall, "move_counts": move_counts,
                 "acceptance_fraction": moved_total / max(1, total_steps * self.n_walkers),
                 "rhat": SplitRhatAccumulator.pooled_rhat(list(pool.values())) if pool else None,
                 "weights": wts}
        return infos, pts, lps, segids, extra


def multiplicities(fresh: np.ndarray) -> np.ndarray:
    """For a (steps, walkers) mask of fresh samples: how many kept steps each fresh sample lasted.

    Returned in the order of ``chain[fresh]`` (step-major). Row 0 must be all True.
    """
    k, w = fresh.shape
    flat = fresh.T.reshape(-1)                    # walker-major: runs never cross walkers
    starts = np.flatnonzero(flat)
    runs = np.diff(np.append(starts, flat.size))
    counts = np.zeros(flat.size, dtype=np.int64)
    counts[starts] = runs
    return counts.reshape(w, k).T[fresh]
