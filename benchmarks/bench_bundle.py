"""Bundle start-up and evaluation speed: prints figures side by side, asserts nothing.

    python benchmarks/bench_bundle.py [--quick]

Measured in one run, on this machine:

(a) ``import dnnlik`` (fresh interpreter, best of several, minus a bare
    interpreter's start), ``dnnlik.validate`` of the example Gaussian bundle
    in-process, and ``python -m dnnlik validate`` / the ``dnnlik`` script when
    they exist;
(b) ``Bundle.logpdf`` of a 95 -> 512 -> 512 -> 1 SELU MLP bundle (float32
    graph with its gradient output, random weights) at batches of 1, 100, 1e4
    and 1e6 points: points/s, GFLOP/s as a fraction of this machine's float32
    matrix-multiply peak (measured here too), and the overhead against bare
    ``onnxruntime.InferenceSession.run`` calls on the same graph (one call,
    and chunked), plus dnnlik's own time (outside onnxruntime) measured
    inside the same ``Bundle.logpdf`` calls;
(c) ``Bundle.grad_logpdf`` cost as a ratio to ``logpdf``.

Targets (issue: bundle evaluation speed): >= 60% of the float32 peak for
batches >= 1e4; <= 10% overhead against bare onnxruntime for batches >= 1e4;
grad_logpdf <= 3x the cost of logpdf. The machine is shared: every figure is a
best-of-N, and a MISS printed here can be noise; rerun before concluding.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SIZES = (95, 512, 512, 1)
FLOP_PER_POINT = 2 * sum(a * b for a, b in zip(SIZES[:-1], SIZES[1:], strict=True))  # forward MatMuls only
PEAK_SHAPE = (2048, 512, 512)  # (M, K, N): one chunk through the 512x512 layer


def best_of(fn, repeats: int, inner: int = 1) -> float:
    """Best time of ``repeats`` runs of ``inner`` calls, per call."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        best = min(best, (time.perf_counter() - t0) / inner)
    return best


def best_of_interleaved(fns: dict, repeats: int, inner: int = 1) -> dict:
    """Like :func:`best_of` for several functions, taking turns within each repeat, so
    that another process's load on this shared machine hits all of them alike."""
    best = {name: float("inf") for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(inner):
                fn()
            best[name] = min(best[name], (time.perf_counter() - t0) / inner)
    return best


class TimedSession:
    """Wraps a session and adds up the time spent inside ``run`` (onnxruntime's own time)."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.inside = 0.0

    def run(self, *args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return self.session.run(*args, **kwargs)
        finally:
            self.inside += time.perf_counter() - t0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.session, name)


def own_time_fraction(bundle: Any, x: np.ndarray, repeats: int, inner: int) -> float:
    """dnnlik's own time in ``bundle.logpdf(x)`` (everything outside onnxruntime's ``run``)
    over onnxruntime's time, from the fastest of ``repeats`` trials. Less sensitive to other
    processes' load than a comparison of two separately timed loops."""
    pool = bundle._sessions  # benchmark only: peek at the pruned session Bundle.logpdf uses
    key = frozenset(["logpdf"])
    original = pool.for_outputs(["logpdf"])
    timed = TimedSession(original)
    pool._cache[key] = timed
    try:
        best = (float("inf"), 0.0)
        for _ in range(repeats):
            timed.inside = 0.0
            t0 = time.perf_counter()
            for _ in range(inner):
                bundle.logpdf(x)
            total = time.perf_counter() - t0
            best = min(best, (total, timed.inside))
    finally:
        pool._cache[key] = original
    total, inside = best
    return (total - inside) / inside


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def time_subprocess(argv: list[str], repeats: int, env: dict[str, str] | None = None) -> tuple[float, int]:
    """Best wall time of a command and its last exit code."""
    best, rc = float("inf"), 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        proc = subprocess.run(argv, cwd=ROOT, env=env or _env(), capture_output=True, text=True)
        best = min(best, time.perf_counter() - t0)
        rc = proc.returncode
    return best, rc


# ---------------------------------------------------------------------------- peak

_NUMPY_PEAK_CODE = """
import time, numpy as np
m, k, n = {shape}
rng = np.random.default_rng(0)
a = rng.standard_normal((m, k)).astype(np.float32); b = rng.standard_normal((k, n)).astype(np.float32)
best = min((lambda t0: (a @ b, time.perf_counter() - t0)[1])(time.perf_counter()) for _ in range({reps}))
print(2 * m * k * n / best / 1e9)
"""


def numpy_peak(repeats: int) -> float:
    m, k, n = PEAK_SHAPE
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    return 2 * m * k * n / best_of(lambda: a @ b, repeats) / 1e9


def numpy_peak_native(repeats: int) -> float | None:
    """numpy's peak in a child without OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE (set on some
    machines for old OpenBLAS builds; they pin a slower kernel, e.g. Haswell's AVX2)."""
    if not any(k in os.environ for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")):
        return None
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    code = _NUMPY_PEAK_CODE.format(shape=PEAK_SHAPE, reps=repeats)
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    try:
        return float(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


def ort_matmul_peak(repeats: int) -> tuple[float, Any]:
    """onnxruntime's own float32 MatMul (same shape, one node, B an initializer): GFLOP/s,
    and a function running it once (to re-measure the peak beside each workload)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from dnnlik.evaluate.session import make_session

    m, k, n = PEAK_SHAPE
    rng = np.random.default_rng(0)
    w = rng.standard_normal((k, n)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "w"], ["y"])],
        "peak",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["M", k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["M", n])],
        initializer=[numpy_helper.from_array(w, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    sess = make_session(model.SerializeToString())
    a = rng.standard_normal((m, k)).astype(np.float32)

    def once() -> None:
        sess.run(["y"], {"a": a})

    return 2 * m * k * n / best_of(once, repeats) / 1e9, once


# -------------------------------------------------------------------------- bundles


def build_mlp_bundle(out: Path) -> Path:
    from dnnlik.graph import NetworkSpec, random_mlp_weights, write_mlp_bundle
    from dnnlik.parameters import Parameter

    params = [
        Parameter(
            name="mu" if i == 0 else f"theta_{i}",
            role="poi" if i == 0 else "nuisance",
            bounds=(-10.0, 10.0),
            nominal=0.0,
            training_range=(-3.0, 3.0),
        )
        for i in range(SIZES[0])
    ]
    network = NetworkSpec(
        random_mlp_weights(SIZES, seed=20240601), activation="selu", dtype="float32", with_gradient=True
    )
    write_mlp_bundle(out, network, params, name="bench-mlp-95")
    return out


def mem_available() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4 << 30


# ----------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller batches, fewer repeats (a smoke run)")
    args = ap.parse_args()
    quick = args.quick
    reps = 2 if quick else 5
    batches = [1, 100, 10_000, 100_000] if quick else [1, 100, 10_000, 1_000_000]

    import dnnlik
    from dnnlik.evaluate.session import DEFAULT_CHUNK, make_session, prune_model, run_chunked
    from dnnlik.examples import build_gaussian_bundle

    load_start = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="dnnlik-bench-"))
    rows: list[tuple[str, str, str, str]] = []  # (what, figure, target, verdict)
    try:
        gauss = tmp / "gaussian-4d"
        build_gaussian_bundle(gauss)
        mlp = build_mlp_bundle(tmp / "mlp-95")

        # ---------------------------------------------------------------- (a) start-up
        t_bare = t_imp = float("inf")
        for _ in range(2 * reps):  # alternate, so that load from other processes hits both alike
            t_bare = min(t_bare, time_subprocess([sys.executable, "-c", "pass"], 1)[0])
            t_imp = min(t_imp, time_subprocess([sys.executable, "-c", "import dnnlik"], 1)[0])
        rows.append(("python -c 'import dnnlik' (wall)", f"{t_imp * 1e3:.0f} ms", "", ""))
        rows.append(("  of which import dnnlik (minus bare python)", f"{(t_imp - t_bare) * 1e3:.0f} ms", "", ""))
        t_first, _ = time_subprocess(
            [sys.executable, "-c", f"import dnnlik; assert dnnlik.validate({str(gauss)!r}).ok"], reps
        )
        rows.append(("validate gaussian, fresh process (wall)", f"{t_first * 1e3:.0f} ms", "", ""))
        assert dnnlik.validate(gauss).ok
        t_val = best_of(lambda: dnnlik.validate(gauss), reps * 2)
        rows.append(("dnnlik.validate(gaussian), warm, in-process", f"{t_val * 1e3:.1f} ms", "", ""))
        if importlib.util.find_spec("dnnlik.__main__") is not None:
            t_cli, rc = time_subprocess([sys.executable, "-m", "dnnlik", "validate", str(gauss)], reps)
            rows.append(
                (
                    "python -m dnnlik validate gaussian (wall)",
                    f"{t_cli * 1e3:.0f} ms" + ("" if rc == 0 else f" (exit {rc})"),
                    "",
                    "",
                )
            )
        else:
            rows.append(("python -m dnnlik validate gaussian", "skipped: no dnnlik/__main__.py", "", ""))
        script = shutil.which("dnnlik") or str(Path(sys.executable).with_name("dnnlik"))
        if Path(script).exists():
            t_cli2, rc = time_subprocess([script, "validate", str(gauss)], reps)
            rows.append(
                (
                    "dnnlik validate gaussian (entry point, wall)",
                    f"{t_cli2 * 1e3:.0f} ms" + ("" if rc == 0 else f" (exit {rc})"),
                    "",
                    "",
                )
            )
        else:
            rows.append(("dnnlik validate gaussian (entry point)", "skipped: no 'dnnlik' script installed", "", ""))

        # ---------------------------------------------------------------- peak
        p_np = numpy_peak(reps * 4)
        p_native = numpy_peak_native(reps * 4)
        p_ort, peak_once = ort_matmul_peak(reps * 4)
        m, k, n = PEAK_SHAPE
        peak_flop = 2 * m * k * n
        peak_rows = len(rows)  # filled in at the end, with the peak re-measured beside each workload

        # ---------------------------------------------------------------- (b) logpdf
        bundle = dnnlik.load(mlp)
        chunk = bundle.chunk_size
        full_bytes = (mlp / "model.onnx").read_bytes()
        pruned_bytes = prune_model(full_bytes, ["logpdf"]) or full_bytes
        bare_full = make_session(full_bytes)
        bare = make_session(pruned_bytes)
        rng = np.random.default_rng(1)
        frac_rows: list[tuple[int, float, bool]] = []
        bytes_per_row = 6 * 1024  # measured peak memory of one un-chunked run of the pruned graph
        for nb in batches:
            x64 = rng.uniform(-3.0, 3.0, size=(nb, SIZES[0]))
            x32 = x64.astype(np.float32)
            inner = {1: 300, 100: 30}.get(nb, 1)
            r = (2 * reps if nb <= 10_000 else reps) if nb < 1_000_000 else max(2, reps - 2)
            bundle.logpdf(x64[: min(nb, 4096)])  # warm the pruned session
            fits = nb * bytes_per_row < 0.4 * mem_available()
            fns = {
                "bundle": partial(bundle.logpdf, x64),
                "chunked": partial(run_chunked, bare, "x", x32, ["logpdf"], dtype=np.float32, chunk_size=chunk),
            }
            if fits:
                fns["single"] = partial(bare.run, ["logpdf"], {"x": x32})
            if nb <= 100_000 or not quick:
                fns["full"] = partial(run_chunked, bare_full, "x", x32, ["logpdf"], dtype=np.float32, chunk_size=chunk)
            big = nb >= 10_000
            if big:
                fns["peak"] = peak_once
            t = best_of_interleaved(fns, r, inner)
            t_b, t_chunk, t_single, t_full = t["bundle"], t["chunked"], t.get("single"), t.get("full")
            if big:
                p_ort = max(p_ort, peak_flop / t["peak"] / 1e9)
            gflops = nb * FLOP_PER_POINT / t_b / 1e9
            rows.append((f"Bundle.logpdf, batch {nb:,}", f"{nb / t_b:,.0f} pts/s", "", ""))
            frac_rows.append((len(rows), gflops, big))
            bare_best = min(t for t in (t_single, t_chunk) if t is not None)
            if t_single is not None:
                rows.append(("  bare ORT run, one call (pruned graph)", f"{nb / t_single:,.0f} pts/s", "", ""))
            else:
                rows.append(("  bare ORT run, one call (pruned graph)", "skipped: not enough free memory", "", ""))
            rows.append((f"  bare ORT run, chunks of {chunk} (pruned graph)", f"{nb / t_chunk:,.0f} pts/s", "", ""))
            if t_full is not None:
                rows.append(("  bare ORT run on the bundle's full model, chunked", f"{nb / t_full:,.0f} pts/s", "", ""))
            over_single = t_b / t_single - 1 if t_single is not None else None
            over_chunk = t_b / t_chunk - 1
            over = t_b / bare_best - 1
            if over_single is not None:
                rows.append(("  overhead vs bare one call", f"{over_single:+.1%}", "", ""))
            rows.append(("  overhead vs bare chunked", f"{over_chunk:+.1%}", "", ""))
            rows.append(
                (
                    "  overhead vs the faster bare run",
                    f"{over:+.1%}",
                    "<= 10%" if big else "(info)",
                    ("PASS" if over <= 0.10 else "MISS") if big else "",
                )
            )
            own = own_time_fraction(bundle, x64, r, inner)
            rows.append(
                (
                    "  dnnlik's own time / time inside onnxruntime",
                    f"{own:+.1%}",
                    "<= 10%" if big else "(info)",
                    ("PASS" if own <= 0.10 else "MISS") if big else "",
                )
            )

        # ---------------------------------------------------------------- (c) gradient
        for nb in [10_000] if quick else [10_000, 1_000_000]:
            x64 = rng.uniform(-3.0, 3.0, size=(nb, SIZES[0]))
            r = reps if nb < 1_000_000 else max(2, reps - 2)
            bundle.grad_logpdf(x64[:4096])
            t = best_of_interleaved(
                {
                    "logpdf": partial(bundle.logpdf, x64),
                    "grad": partial(bundle.grad_logpdf, x64),
                    "both": partial(bundle.logpdf_and_grad, x64),
                },
                r,
            )
            t_l, t_g, t_lg = t["logpdf"], t["grad"], t["both"]
            rows.append((f"Bundle.grad_logpdf, batch {nb:,}", f"{nb / t_g:,.0f} pts/s", "", ""))
            rows.append(("  cost / logpdf cost", f"{t_g / t_l:.2f}x", "<= 3x", "PASS" if t_g / t_l <= 3.0 else "MISS"))
            rows.append(("  logpdf_and_grad cost / logpdf cost", f"{t_lg / t_l:.2f}x", "", ""))
        # ---------------------------------------------------------------- peak rows
        peak = max(p for p in (p_np, p_native, p_ort) if p is not None)
        for at, gflops, big in reversed(frac_rows):
            frac = gflops / peak
            rows.insert(
                at,
                (
                    "  GFLOP/s, fraction of peak",
                    f"{gflops:.0f} = {frac:.0%}",
                    ">= 60%" if big else "",
                    ("PASS" if frac >= 0.60 else "MISS") if big else "",
                ),
            )
        peak_lines = [(f"float32 matmul ({m}x{k})@({k}x{n}): numpy", f"{p_np:.0f} GFLOP/s", "", "")]
        if p_native is not None:
            peak_lines.append(("  numpy without OPENBLAS_CORETYPE/L2_SIZE", f"{p_native:.0f} GFLOP/s", "", ""))
        peak_lines.append(("  onnxruntime MatMul (best, also beside each batch)", f"{p_ort:.0f} GFLOP/s", "", ""))
        peak_lines.append(("  peak used below (the largest)", f"{peak:.0f} GFLOP/s", "", ""))
        rows[peak_rows:peak_rows] = peak_lines
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    import onnxruntime

    load_end = os.getloadavg()
    print(
        f"dnnlik {dnnlik.__version__}, onnxruntime {onnxruntime.__version__}, numpy {np.__version__}, "
        f"{os.cpu_count()} CPUs, chunk {DEFAULT_CHUNK}, MLP {'-'.join(map(str, SIZES))} SELU float32"
        + (" (--quick)" if quick else "")
    )
    print(
        f"load average (1 min) at start {load_start[0]:.2f}, at end {load_end[0]:.2f} on {os.cpu_count()} CPUs"
        + (
            "  <- other processes were running: figures are pessimistic"
            if max(load_start[0], load_end[0]) > 0.5
            else ""
        )
    )
    width = max(len(r[0]) for r in rows)
    fig = max(len(r[1]) for r in rows)
    print(f"{'what':<{width}}  {'measured':>{fig}}  target")
    for what, figure, target, verdict in rows:
        print(f"{what:<{width}}  {figure:>{fig}}  {target} {verdict}".rstrip())


if __name__ == "__main__":
    main()
