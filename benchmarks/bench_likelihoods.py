"""Reference likelihood and t_mu speed: prints figures, asserts nothing.

    python benchmarks/bench_likelihoods.py [--quick]

Targets (issue 3): toy logpdf >= 200,000 points/s, its gradient >= 50,000 points/s,
and the 11-point t_mu scan of the toy in under 2 s, on 2 cores.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from dnnlik import infer, likelihoods


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer points and repeats")
    args = ap.parse_args()
    n, repeats = (20_000, 2) if args.quick else (200_000, 5)

    toy = likelihoods.get("toy-lhc-like")
    nominal = np.array([p.nominal for p in toy.parameters])
    x = nominal + np.random.default_rng(0).normal(0.0, 0.3, size=(n, len(nominal)))
    x[:, 0] = np.random.default_rng(1).uniform(-0.5, 2.0, size=n)

    rows = []
    t = best_of(lambda: toy.logpdf(x), repeats)
    rows.append(("toy logpdf", f"{n / t:,.0f} points/s", n / t >= 200_000, ">= 200,000 points/s"))
    t = best_of(lambda: toy.grad_logpdf(x), repeats)
    rows.append(("toy grad_logpdf", f"{n / t:,.0f} points/s", n / t >= 50_000, ">= 50,000 points/s"))
    values = np.linspace(0.0, 1.0, 11)
    t = best_of(lambda: infer.tmu_scan(toy, values), repeats)
    rows.append(("11-point t_mu scan", f"{t:.3f} s", t < 2.0, "< 2 s"))

    width = max(len(r[0]) for r in rows)
    print(f"{'what':<{width}}  {'measured':>22}  target")
    for what, figure, ok, target in rows:
        print(f"{what:<{width}}  {figure:>22}  {target}  {'PASS' if ok else 'MISS'}")


if __name__ == "__main__":
    main()
