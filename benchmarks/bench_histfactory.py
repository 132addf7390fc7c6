"""HistFactory (pyhf) likelihood speed: batched evaluation against a per-point loop. Prints figures, asserts nothing.

    python benchmarks/bench_histfactory.py [--quick]

Issue 15, section 1: many points per call, not a Python loop per point. For
each workspace (pyhf's ``uncorrelated_background``; the generated
every-modifier workspace; the generated ~100-parameter, 10-channel one, from
``tests/histfactory_workspaces.py``) it prints points/s of:

- the loop a user's glue code would write: pyhf's ``model.logpdf`` one point
  at a time (NumPy backend);
- ``from_pyhf(..., backend="numpy").logpdf`` on all points (pyhf models built
  with ``batch_size``), and its finite-difference ``grad_logpdf``;
- ``from_pyhf(..., backend="jax")``: ``logpdf`` and ``logpdf_and_grad``
  (``jit(vmap(...))``, exact gradient), after a first call that compiles (its
  time printed), and the same one point per call.

pyhf's tensors scale with modifiers x samples x bins per point, so the batched
NumPy gain is modest on large models; JAX compiles that away. On the shared
2-core VM figures move by tens of percent from run to run: compare within one run.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from histfactory_workspaces import every_modifier_workspace, realistic_workspace

from dnnlik.likelihoods import from_pyhf


def best_of(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def simple_workspace() -> dict[str, Any]:
    import pyhf

    model = pyhf.simplemodels.uncorrelated_background(signal=[5.0, 10.0], bkg=[50.0, 60.0], bkg_uncertainty=[5.0, 12.0])
    return dict(pyhf.Workspace.build(model, [62.0, 75.0] + model.config.auxdata))


def points_near_nominal(lik: Any, n: int) -> np.ndarray:
    nominal = np.array([p.nominal for p in lik.parameters])
    lower = np.array([p.lower for p in lik.parameters])
    upper = np.array([p.upper for p in lik.parameters])
    return np.clip(nominal + np.random.default_rng(0).normal(0.0, 0.02, (n, nominal.size)), lower, upper)


def bench_workspace(label: str, spec: dict[str, Any], n: int, n_loop: int, repeats: int) -> list[tuple[str, str]]:
    import pyhf

    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        pyhf.set_backend("numpy")
        workspace = pyhf.Workspace(spec)
        model = workspace.model()
        data = np.asarray(workspace.data(model))
        lik = from_pyhf(spec, backend="numpy")
    x = points_near_nominal(lik, n)
    full = lik.pyhf_parameters(x)
    rows.append((f"{label}: {len(lik.parameters)} parameters", ""))

    def loop() -> None:
        for p in full[:n_loop]:
            model.logpdf(p, data)

    t = best_of(loop, repeats)
    rows.append(("  pyhf model.logpdf, one point per call", f"{n_loop / t:12,.0f} points/s"))
    t = best_of(lambda: lik.logpdf(x), repeats)
    rows.append(("  numpy backend, logpdf batched", f"{n / t:12,.0f} points/s"))
    m = max(1, n // (2 * len(lik.parameters) + 1))
    t = best_of(lambda: lik.grad_logpdf(x[:m]), repeats)
    rows.append(("  numpy backend, finite-difference gradient", f"{m / t:12,.0f} points/s"))

    jax_lik = from_pyhf(spec, backend="jax")
    t0 = time.perf_counter()
    jax_lik.logpdf_and_grad(x)  # compiles the buckets these calls use
    jax_lik.logpdf(x)
    jax_lik.logpdf_and_grad(x[0])
    jax_lik.logpdf(x[0])
    rows.append(("  jax backend, first calls (compilation)", f"{time.perf_counter() - t0:12.1f} s"))
    t = best_of(lambda: jax_lik.logpdf(x), repeats)
    rows.append(("  jax backend, logpdf batched", f"{n / t:12,.0f} points/s"))
    t = best_of(lambda: jax_lik.logpdf_and_grad(x), repeats)
    rows.append(("  jax backend, logpdf and exact gradient batched", f"{n / t:12,.0f} points/s"))

    def jax_loop() -> None:
        for p in x[:n_loop]:
            jax_lik.logpdf_and_grad(p)

    t = best_of(jax_loop, repeats)
    rows.append(("  jax backend, logpdf and gradient one point per call", f"{n_loop / t:12,.0f} points/s"))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer points and repeats")
    args = ap.parse_args()
    n, n_loop, repeats = (512, 64, 1) if args.quick else (4096, 256, 3)
    rows = []
    for label, spec in (
        ("pyhf uncorrelated_background", simple_workspace()),
        ("every-modifier workspace", every_modifier_workspace()),
        ("realistic workspace (10 channels)", realistic_workspace()),
    ):
        rows += bench_workspace(label, spec, n, n_loop, repeats)
    width = max(len(r[0]) for r in rows)
    for what, figure in rows:
        print(f"{what:<{width}}  {figure}")


if __name__ == "__main__":
    main()
