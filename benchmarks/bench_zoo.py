"""The zoo entry's t_mu scan: in-graph exact gradient (L-BFGS-B) against the paper's way (Powell).

    python benchmarks/bench_zoo.py [--quick] [--entry toy-lhc-like]

Prints both wall times and their ratio, measured in one run on the same
surrogate, and the pipeline's wall time by stage when a build left
``out/zoo-build/build-times.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

import dnnlik
from dnnlik.infer import maximize, tmu_scan


def powell_profile(bundle, j: int, value: float, x0: np.ndarray) -> float:
    free = np.array([k for k in range(len(bundle.parameters)) if k != j])
    bounds = [(p.lower, p.upper) for k, p in enumerate(bundle.parameters) if k != j]

    def neg(z: np.ndarray) -> float:
        x = x0.copy()
        x[j], x[free] = value, z
        v = float(bundle.logpdf(x))
        return -v if np.isfinite(v) else 1e300

    res = minimize(neg, x0[free], method="Powell", bounds=bounds, options={"xtol": 1e-4, "ftol": 1e-8})
    return -float(res.fun)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 POI values instead of 11")
    ap.add_argument("--entry", default="toy-lhc-like")
    args = ap.parse_args()
    values = [0.0, 0.5, 1.0] if args.quick else [round(0.1 * i, 10) for i in range(11)]
    bundle = dnnlik.load(f"zoo:{args.entry}")
    poi = next(p.name for p in bundle.parameters if p.role == "poi")
    j = [p.name for p in bundle.parameters].index(poi)

    t0 = time.perf_counter()
    scan = tmu_scan(bundle, values)
    t_grad = time.perf_counter() - t0

    t0 = time.perf_counter()
    best = maximize(bundle).point
    top = powell_profile(bundle, j, float(best[j]), best)
    tmu_powell = [max(0.0, -2 * (powell_profile(bundle, j, v, best) - top)) for v in values]
    t_powell = time.perf_counter() - t0

    print(f"t_mu scan of zoo:{args.entry} over {len(values)} values of {poi}")
    print(f"  gradient (in-graph exact gradient, L-BFGS-B): {t_grad:8.2f} s")
    print(f"  Powell (derivative-free, the paper's way):    {t_powell:8.2f} s")
    print(f"  ratio Powell / gradient:                      {t_powell / t_grad:8.1f}x")
    print(f"  max |t_mu(gradient) - t_mu(Powell)|:          {np.max(np.abs(np.array(scan.tmu) - tmu_powell)):8.4f}")
    times = Path("out/zoo-build/build-times.json")
    if times.exists():
        print("pipeline wall time by stage (s):", json.loads(times.read_text()))


if __name__ == "__main__":
    main()
