"""Training speed, export time and parity, and the residual-vs-direct comparison: prints figures.

    python benchmarks/bench_train.py [--quick] [--compare] [--minutes M] [--samples FILE]

Figures (issue 4), on the 95-parameter toy likelihood:

- seconds per epoch on 10^5 training points for 3 x 512 and 2 x 1024 SELU
  networks (batch N/200 -> 512), the second epoch timed (the first traces);
- export time (ONNX graph from the weights, parity checks, validated bundle)
  and the parity figures: ONNX vs TensorFlow on up to 10^4 held-out points
  (target < 1e-4), ONNX gradient vs finite differences;
- ``--compare``: a scaled-down reproduction of the residual-vs-direct
  comparison: 3 x 512 learning the residual over the Laplace baseline, and
  3 x 512 learning log L directly, each for ``--minutes`` on the same data;
  prints their validation MSE in log-likelihood units (issue: 0.003 against
  0.53-0.62 after 12 minutes each on 2 cores with 10^5 points).

Without ``--samples`` the points are drawn from the Laplace normal at the
toy's maximum (a stand-in for ``dnnlik sample``),
and their exact log-likelihoods computed. Needs the ``train`` extra.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from dnnlik import infer, likelihoods
from dnnlik.sample.laplace import laplace_at
from dnnlik.train import (
    TrainConfig,
    TrainingData,
    export_bundle,
    from_arrays,
    load_samples,
    prepare,
    train_ensemble,
    train_member,
)


def toy_data(n: int, seed: int = 0) -> TrainingData:
    toy = likelihoods.get("toy-lhc-like")
    best = infer.maximize(toy)
    lap = laplace_at(toy, best.point)
    rng = np.random.default_rng(seed)
    x = rng.multivariate_normal(best.point, lap.covariance, size=int(n * 1.2), method="cholesky")
    y = toy.logpdf(x)
    keep = np.isfinite(y)
    x, y = x[keep][:n], y[keep][:n]
    sampling = {
        "tool": "numpy",
        "strategy": "other",
        "strategy_options": {
            "draws": "Laplace normal at the maximum",
            "maximum": {"point": best.point.tolist(), "logpdf": best.logpdf},
        },
    }
    return from_arrays(
        x, y, toy.parameters, fractions=(0.8, 0.1, 0.1), seed=seed, sampling=sampling, source={"name": toy.name}
    )


def epoch_seconds(data: TrainingData, layers: tuple[int, ...], epochs: int = 3) -> float:
    """Shortest wall time of epochs 2..``epochs`` of one network (the first includes tracing)."""
    cfg = TrainConfig(layers=layers, epochs=epochs, target="logpdf")
    stamps: list[float] = []
    train_member(data, cfg, 0, progress=lambda r: stamps.append(time.monotonic()))
    return float(np.min(np.diff(stamps)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10^4 points instead of 10^5, short comparison")
    ap.add_argument("--compare", action="store_true", help="run the residual-vs-direct comparison")
    ap.add_argument("--minutes", type=float, default=None, help="budget per network in the comparison")
    ap.add_argument("--samples", default=None, help="use this samples file instead of Laplace draws")
    ap.add_argument("--skip-speed", action="store_true", help="skip the per-epoch timings")
    args = ap.parse_args()
    n = 10_000 if args.quick else 100_000
    minutes = args.minutes if args.minutes is not None else (0.5 if args.quick else 3.0)

    t0 = time.perf_counter()
    if args.samples:
        data = load_samples(args.samples)
        origin = args.samples
    else:
        data = toy_data(int(n / 0.8))
        origin = "Laplace draws"
    print(
        f"data: {data.n_train} training, {data.n_validation} validation, {data.n_test} test points, "
        f"{data.n_parameters} parameters ({origin}; {time.perf_counter() - t0:.1f}s)"
    )
    print(f"cores: {os.cpu_count()}")

    if not args.skip_speed:
        for layers in ((512, 512, 512), (1024, 1024)):
            s = epoch_seconds(data, layers)
            name = f"{len(layers)} x {layers[0]}"
            print(
                f"epoch time {name:>10}: {s:7.2f} s/epoch on {data.n_train} points ({data.n_train / s:,.0f} points/s)"
            )

    # export time and parity, on a 3 x 512 network trained briefly
    cfg = TrainConfig(layers=(512, 512, 512), epochs=2 if args.quick else 5, target="residual")
    result = train_ensemble(data, cfg)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        exported = export_bundle(result, data, Path(tmp) / "bundle")
        t_export = time.perf_counter() - t
        size = (Path(tmp) / "bundle" / "model.onnx").stat().st_size
    p = exported.parity
    print(f"export 3 x 512: {t_export:.2f} s (model.onnx {size / 1e6:.1f} MB, includes validation)")
    print(
        f"parity: ONNX vs TensorFlow max |diff| {p['onnx_vs_tensorflow_max_abs']:.2e} on {p['n_points']} "
        f"held-out points (target < 1e-4: {'PASS' if p['onnx_vs_tensorflow_passed'] else 'MISS'}); "
        f"ONNX vs float64 reference {p['onnx_vs_reference_max_abs']:.2e}; gradient vs finite differences "
        f"max rel {p['grad_vs_finite_differences_max_rel']:.2e}, vs reference max rel "
        f"{p['onnx_grad_vs_reference_max_rel']:.2e}"
    )

    if args.compare:
        print(f"comparison: 3 x 512, {minutes:g} min each, same data, seed 0")
        prep_res = prepare(data, TrainConfig(target="residual"))
        for target in ("residual", "logpdf"):
            cfg = TrainConfig(
                layers=(512, 512, 512), target=target, epochs=100_000, max_minutes=minutes, early_stopping_patience=50
            )
            prep = prep_res if target == "residual" else None
            res = train_ensemble(data, cfg, preprocessing=prep)
            m = res.members[0]
            val_mse = m.best_val_loss * res.preprocessing.output_scale**2
            print(
                f"  target {target:>8}: best validation MSE {val_mse:.4g} (log L units) after {m.epochs} "
                f"epochs, {m.wall_time_s / 60:.1f} min, stopped: {m.stopped}"
            )


if __name__ == "__main__":
    main()
