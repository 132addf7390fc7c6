"""Sampling speed on the 95-parameter toy: prints tables, asserts nothing.

    python benchmarks/bench_sampling.py [--quick] [--steps N] [--n N]

1. Per move set, 200 walkers in 95 dimensions, started from draws of the
   Laplace normal at the maximum: sampler steps/s, acceptance, the integrated
   autocorrelation time tau (max over parameters, on the chain after its
   first quarter), effective samples/s = steps * walkers / tau / seconds, and
   split R-hat over the walkers. tau is only trustworthy when the chain is
   longer than 50 tau (marked "tau>=" otherwise: a lower bound, and the
   effective rate an upper bound).
2. Per strategy, the wall time of ``dnnlik.sample.sample`` (setup, maxima,
   sampling, diagnostics, writing the file) to 10^6 samples (10^5 with --quick).

Target (issue 3): >= 10,000 effective unbiased samples/s on 2 cores for the
toy, with R-hat < 1.01.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import emcee
import numpy as np

from dnnlik import infer, likelihoods
from dnnlik.sample import integrated_time, laplace_at, sample, split_rhat
from dnnlik.sample.diagnostics import TRUST_FACTOR
from dnnlik.sample.moves import MOVE_SETS, LaplaceIndependenceMove, build_moves, parse_moves

WALKERS = 200
SETS = ["stretch", "de", "laplace-rw", "laplace", "laplace-stretch", "auto"]


def bench_moves(steps: int) -> list[tuple[str, ...]]:
    toy = likelihoods.get("toy-lhc-like")
    best = infer.maximize(toy)
    lap = laplace_at(toy, best.point)
    init = LaplaceIndependenceMove(lap.mean, lap.precision, df=None).draw(WALKERS, np.random.default_rng(0))
    bad = ~np.isfinite(toy.logpdf(init))
    init[bad] = best.point
    rows: list[tuple[str, ...]] = []
    for name in SETS:
        moves = build_moves(parse_moves(name), ndim=95, mean=lap.mean, precision=lap.precision)
        sampler = emcee.EnsembleSampler(WALKERS, 95, toy.logpdf, vectorize=True, moves=moves)
        sampler.random_state = np.random.RandomState(1).get_state()
        t0 = time.perf_counter()
        sampler.run_mcmc(init, steps, progress=False, skip_initial_state_check=True)
        dt = time.perf_counter() - t0
        chain = sampler.get_chain()[steps // 4 :]
        tau = float(integrated_time(chain).max())
        trusted = chain.shape[0] >= TRUST_FACTOR * tau
        rhat = float(np.nanmax(split_rhat(chain)))
        eff = steps * WALKERS / tau / dt
        rows.append(
            (
                name,
                MOVE_SETS[name],
                f"{steps / dt:,.0f}",
                f"{sampler.acceptance_fraction.mean():.3f}",
                ("" if trusted else ">=") + f"{tau:.1f}",
                ("" if trusted else "<=") + f"{eff:,.0f}",
                f"{rhat:.4f}",
            )
        )
    return rows


def bench_strategies(n: int) -> list[tuple[str, ...]]:
    toy = likelihoods.get("toy-lhc-like")
    rows: list[tuple[str, ...]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for strategy in ("unbiased", "profile", "mixed"):
            out = Path(tmp) / f"{strategy}.h5"
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = sample(toy, out, strategy=strategy, n=n, seed=1, progress=False)
            dt = time.perf_counter() - t0
            d = result.sampling["diagnostics"]
            rows.append(
                (
                    strategy,
                    f"{n:,}",
                    f"{dt:.1f}",
                    f"{result.sampling['n_steps']:,}",
                    f"{result.sampling['thin']}",
                    f"{d['autocorrelation_time']:.2f}",
                    f"{d['effective_samples']:,.0f}",
                    f"{d['effective_samples'] / dt:,.0f}",
                    f"{d.get('rhat_max', float('nan')):.4f}",
                    f"{out.stat().st_size / 2**20:.0f}",
                )
            )
    return rows


def table(head: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[k]) for r in [head, *rows]) for k in range(len(head))]
    lines = [
        "  ".join(c.ljust(w) if k < 2 else c.rjust(w) for k, (c, w) in enumerate(zip(r, widths, strict=True)))
        for r in [head, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="shorter chains, 10^5 samples per strategy")
    ap.add_argument("--steps", type=int, default=None, help="steps per move set (default 3000, quick 600)")
    ap.add_argument("--n", type=int, default=None, help="samples per strategy (default 10^6, quick 10^5)")
    ap.add_argument("--skip-strategies", action="store_true", help="only the move-set table")
    args = ap.parse_args()
    steps = args.steps or (600 if args.quick else 3000)
    n = args.n or (100_000 if args.quick else 1_000_000)

    print(f"Move sets: toy-lhc-like, {WALKERS} walkers, 95 dimensions, {steps} steps each")
    print(table(("move set", "moves", "steps/s", "accept", "tau", "eff. samples/s", "R-hat"), bench_moves(steps)))
    if not args.skip_strategies:
        print()
        print(f"Strategies: dnnlik.sample.sample(toy, n={n:,}), defaults (auto moves, {WALKERS} walkers)")
        print(
            table(
                ("strategy", "samples", "wall s", "steps", "thin", "tau", "eff. samples", "eff./s", "R-hat", "MiB"),
                bench_strategies(n),
            )
        )
    print("\ntarget: >= 10,000 effective unbiased samples/s with R-hat < 1.01 (2 cores)")


if __name__ == "__main__":
    main()
