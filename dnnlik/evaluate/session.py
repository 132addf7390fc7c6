"""onnxruntime sessions for bundle models, and chunked evaluation.

Sessions are built from the model's bytes (never from a path the bundle
names), with no custom-operator libraries registered, on the CPU provider
unless told otherwise. Large batches run in chunks of ``chunk_size`` rows:
onnxruntime is fastest on a few thousand rows at a time, and chunks bound the
memory of intermediate activations.

onnxruntime computes every node of the graph on each run, whichever outputs
are asked for: a model with a gradient output pays for the backward pass
(about twice the forward cost) even when only ``logpdf`` is fetched.
:class:`SessionPool` therefore keeps, next to the session of the whole model,
sessions of the model *pruned* to the outputs a call needs (built in memory
on first use from the same bytes; the bundle keeps its single model file).
Sessions stop their threads' spinning at the end of each run, so that two
sessions of one bundle do not slow each other down (see :func:`_session_options`).
See ``benchmarks/bench_bundle.py`` for the figures.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import BundleError, ModelTimeoutError

__all__ = [
    "DEFAULT_CHUNK",
    "NUMPY_DTYPES",
    "make_session",
    "session_model_bytes",
    "prune_model",
    "SessionPool",
    "run_chunked",
    "onnxruntime_version",
    "RUN_SECONDS",
    "run_bounded",
]

#: Rows per ``session.run`` call. Measured on 2 cores with the 95-512-512-1 MLP
#: (benchmarks/bench_bundle.py): one thread runs it at the same speed from 256 to 1024 rows,
#: 5% slower at 2048 and 17% at 4096 (the 512-wide activations leave the core's L2 cache);
#: below ~256 rows the per-call overhead (~20 us) starts to show.
DEFAULT_CHUNK = 1024
NUMPY_DTYPES = {"float32": np.float32, "float64": np.float64, "int64": np.int64, "int32": np.int32, "bool": np.bool_}

#: A pruned session is built only when it skips at least this fraction of the graph's work
#: (each session holds its own copy of the weights, so a small saving is not worth it).
PRUNE_MIN_FRACTION = 0.25

_MODEL_BYTES_ATTR = "_dnnlik_model_bytes"


def onnxruntime_version() -> str:
    """The installed onnxruntime's version (imports it)."""
    import onnxruntime

    return onnxruntime.__version__


#: Wall-clock seconds one model run may take while a bundle is being validated (test vectors and
#: behaviour checks). A valid model runs its test vectors in milliseconds; this bound only stops a
#: hostile or broken graph (a Loop of 2**62 iterations, a huge MatMul) from hanging validation.
RUN_SECONDS = 30.0


def run_bounded(
    session: Any, output_names: Sequence[str], feeds: dict[str, Any], *, seconds: float | None = None
) -> list[Any]:
    """``session.run`` stopped after ``seconds``: raises :class:`~dnnlik.errors.ModelTimeoutError` then.

    ``seconds=None`` means the module's :data:`RUN_SECONDS` as it is at call time (so that a
    test or an embedding application can change the bound for every caller at once).

    onnxruntime checks ``RunOptions.terminate`` between the nodes it executes, inside
    Loop/Scan/If bodies too, so a watchdog timer that sets it ends the run. Other failures
    of the run propagate unchanged (onnxruntime's own exception classes).

    Args:
        session: an onnxruntime session.
        output_names: the outputs to compute.
        feeds: the inputs, by name.
        seconds: the time allowed (None: :data:`RUN_SECONDS` now).

    Returns:
        The outputs, in the order of ``output_names``.

    Raises:
        ModelTimeoutError: the run took longer than ``seconds``.
    """
    import onnxruntime as ort

    if seconds is None:
        seconds = RUN_SECONDS
    options = ort.RunOptions()
    options.log_severity_level = 4  # the terminated run would otherwise log an error line
    timer = threading.Timer(seconds, setattr, (options, "terminate", True))
    timer.daemon = True
    timer.start()
    try:
        return session.run(list(output_names), feeds, options)
    except Exception:
        if options.terminate:
            raise ModelTimeoutError(f"the model ran longer than the {seconds:g} s allowed and was stopped") from None
        raise
    finally:
        timer.cancel()


def _session_options(threads: int | None) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    # Explicit (these are onnxruntime's defaults): all graph optimisations (MatMul+Add -> Gemm
    # fusion, constant folding), one operator at a time (the parallelism is inside each
    # MatMul), memory arena and pattern planning so repeated chunks reuse their buffers.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.enable_cpu_mem_arena = True
    options.enable_mem_pattern = True
    # intra_op_num_threads = 0 lets onnxruntime use one thread per physical core.
    options.intra_op_num_threads = int(threads) if threads else 0
    options.inter_op_num_threads = 1
    # Each session has its own thread pool, whose threads keep spinning for a while after a
    # run returns. A Bundle holds two sessions (the whole model, and the model pruned to
    # 'logpdf'): without this, the idle pool's spinning threads steal the cores from the busy
    # one, and logpdf and grad_logpdf ran up to 2x slower, alternating calls 3x slower, on 2
    # cores. With it, threads spin inside a run (no wake-up between nodes) and stop at its end.
    # (A global thread pool would avoid the duplication too, but once set it makes every other
    # onnxruntime session in the process fail unless built for it.)
    options.add_session_config_entry("session.force_spinning_stop", "1")
    return options


def make_session(model_bytes: bytes, *, threads: int | None = None, providers: Sequence[str] | None = None) -> Any:
    """An ``onnxruntime.InferenceSession`` for a model given as bytes.

    The bytes stay attached to the session (see :func:`session_model_bytes`),
    so that pruned sessions can be derived from it later.

    Args:
        model_bytes: the ONNX model.
        threads: intra-operator threads (None: one per physical core).
        providers: onnxruntime execution providers (default: the CPU one).

    Returns:
        The session.

    Raises:
        BundleError: onnxruntime cannot load the model.
    """
    import onnxruntime as ort

    try:
        # No constant folding: it computes at load time, where no time bound applies, whatever a
        # graph computes from its constants (a 4096^2 MatMul of constants took 7 s to load). The
        # static cost rule refuses such graphs in validated bundles; this keeps session creation
        # cheap for any bytes. dnnlik's own graphs have nothing to fold.
        session = ort.InferenceSession(
            model_bytes,
            sess_options=_session_options(threads),
            providers=list(providers or ["CPUExecutionProvider"]),
            disabled_optimizers=["ConstantFolding"],
        )
    except Exception as exc:  # onnxruntime raises its own exception classes
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BundleError(f"onnxruntime cannot load the model: {first}") from None
    try:
        setattr(session, _MODEL_BYTES_ATTR, bytes(model_bytes))
    except AttributeError:  # pragma: no cover - a session class with __slots__
        pass
    return session


def session_model_bytes(session: Any) -> bytes | None:
    """The model bytes a session was made from by :func:`make_session`, or None."""
    return getattr(session, _MODEL_BYTES_ATTR, None)


def _needed_nodes(graph: Any, outputs: Sequence[str]) -> list[int]:
    """Indices (in graph order) of the nodes needed to compute ``outputs``."""
    producer = {}
    for i, node in enumerate(graph.node):
        for name in node.output:
            if name:
                producer[name] = i
    needed: set[int] = set()
    stack = [producer[n] for n in outputs if n in producer]
    while stack:
        i = stack.pop()
        if i in needed:
            continue
        needed.add(i)
        inputs = _reads(graph.node[i])
        stack.extend(producer[n] for n in inputs if n in producer and producer[n] not in needed)
    return sorted(needed)


def _reads(node: Any) -> set[str]:
    """Names a node reads: its inputs and, recursively, those of its subgraphs (If, Loop, Scan),
    a superset of what the subgraphs capture from the outer graph."""
    names = set(node.input)
    for attr in node.attribute:
        for sub in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
            for inner in sub.node:
                names |= _reads(inner)
    return names


def prune_model(model_bytes: bytes, outputs: Sequence[str], *, min_fraction: float = 0.0) -> bytes | None:
    """The model reduced to the nodes that ``outputs`` need, serialised; None if not worth it.

    Returns None when ``outputs`` are not all graph outputs, when nothing can
    be dropped, or when the dropped nodes do less than ``min_fraction`` of the
    work (estimated as one per node plus the size of the constant tensors each
    node reads, so that MatMuls weigh by their weights). Graph inputs are all kept, so the pruned
    model takes the same feeds; unused initializers are dropped.

    Args:
        model_bytes: the ONNX model.
        outputs: the graph outputs to keep.
        min_fraction: the least fraction of the work the pruning must save.

    Returns:
        The pruned model's bytes, or None.
    """
    import onnx

    model = onnx.load_model_from_string(model_bytes)
    graph = model.graph
    declared = [o.name for o in graph.output]
    if not outputs or any(name not in declared for name in outputs):
        return None
    keep = _needed_nodes(graph, outputs)
    n_nodes = len(graph.node)
    if n_nodes == 0 or len(keep) == n_nodes:
        return None
    # the work a node does, roughly: 1 + the elements of the constant tensors it reads
    # (a MatMul's weights dominate; elementwise nodes count little)
    sizes = {t.name: int(np.prod(t.dims)) for t in graph.initializer}
    cost = [1 + sum(sizes.get(name, 0) for name in node.input) for node in graph.node]
    kept_cost = sum(cost[i] for i in keep)
    if sum(cost) - kept_cost < min_fraction * sum(cost):
        return None
    nodes = [graph.node[i] for i in keep]
    used: set[str] = set(outputs)
    for node in nodes:
        used |= _reads(node)
    wanted = set(outputs)
    del graph.node[:]
    graph.node.extend(nodes)
    kept_init = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept_init)
    kept_sparse = [t for t in graph.sparse_initializer if t.values.name in used]
    del graph.sparse_initializer[:]
    graph.sparse_initializer.extend(kept_sparse)
    kept_out = [o for o in graph.output if o.name in wanted]
    del graph.output[:]
    graph.output.extend(kept_out)
    kept_vi = [v for v in graph.value_info if v.name in used]
    del graph.value_info[:]
    graph.value_info.extend(kept_vi)
    return model.SerializeToString()


class SessionPool:
    """The session of a whole model plus, on demand, sessions pruned to fewer outputs.

    ``for_outputs(names)`` returns the session to run for those output names:
    a pruned one when the model bytes are known and pruning skips at least
    :data:`PRUNE_MIN_FRACTION` of the work, the full session otherwise.
    Pruned sessions are built once (thread-safely) and cached.
    """

    def __init__(
        self,
        session: Any,
        model_bytes: bytes | None = None,
        *,
        threads: int | None = None,
        min_fraction: float = PRUNE_MIN_FRACTION,
    ) -> None:
        self.full = session
        self._bytes = model_bytes if model_bytes is not None else session_model_bytes(session)
        self._threads = threads
        self._min_fraction = min_fraction
        self._all_outputs = tuple(o.name for o in session.get_outputs())
        self._cache: dict[frozenset[str], Any] = {}
        self._lock = threading.Lock()

    def for_outputs(self, names: Sequence[str]) -> Any:
        key = frozenset(names)
        if self._bytes is None or key == frozenset(self._all_outputs):
            return self.full
        session = self._cache.get(key)
        if session is not None:
            return session
        with self._lock:
            session = self._cache.get(key)
            if session is None:
                session = self._build(key)
                self._cache[key] = session
        return session

    def _build(self, key: frozenset[str]) -> Any:
        ordered = [n for n in self._all_outputs if n in key]
        try:
            pruned = None if self._bytes is None else prune_model(self._bytes, ordered, min_fraction=self._min_fraction)
        except Exception:  # pragma: no cover - the full session always works
            pruned = None
        if pruned is None:
            return self.full
        try:
            return make_session(pruned, threads=self._threads)
        except BundleError:  # pragma: no cover - fall back to the validated full model
            return self.full

    @property
    def pruned_sessions(self) -> dict[frozenset[str], Any]:
        """The sessions built so far, by output set (the full session where pruning was not worth it)."""
        return dict(self._cache)


def run_chunked(
    session: Any,
    input_name: str,
    x: np.ndarray,
    output_names: Sequence[str],
    *,
    dtype: Any = np.float32,
    chunk_size: int = DEFAULT_CHUNK,
    row_filter: Callable[[np.ndarray], np.ndarray | None] | None = None,
    fill_values: Sequence[float] | None = None,
) -> list[np.ndarray]:
    """Run ``session`` on the rows of ``x`` in chunks; outputs are float64, stacked along rows.

    Each chunk is converted to ``dtype`` in one preallocated buffer (no
    full-size converted copy of ``x``). ``row_filter(chunk)``, if given,
    returns a boolean mask of rows *not* to evaluate (or None for none); those
    rows get ``fill_values[k]`` in output ``k``. Filtering chunk by chunk keeps
    the mask in cache instead of one more pass over all of ``x``.

    Args:
        session: the session (or anything with its ``run``).
        input_name: the model's one input.
        x: the rows, shape (N, ...).
        output_names: the outputs to compute.
        dtype: the input's dtype.
        chunk_size: rows per run.
        row_filter: the rows of a chunk not to evaluate (a mask, or None).
        fill_values: what those rows get, one value per output.

    Returns:
        One float64 array per output, N rows each.
    """
    x = np.asarray(x)
    n = x.shape[0]
    names = list(output_names)
    dtype = np.dtype(dtype)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    if n <= chunk_size:
        skip = row_filter(x) if (row_filter is not None and n) else None
        if skip is None or not skip.any():  # the common small call: one run, no copies but the dtype's
            outs = session.run(names, {input_name: np.ascontiguousarray(x, dtype=dtype)})
            return [np.asarray(o, dtype=np.float64) for o in outs]
    buf = None if x.dtype == dtype else np.empty((min(n, chunk_size),) + x.shape[1:], dtype=dtype)
    results: list[np.ndarray] | None = None
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        chunk = x[start:stop]
        skip = row_filter(chunk) if row_filter is not None else None
        rows = None
        if skip is not None and skip.any():
            rows = np.flatnonzero(~skip)
            chunk = chunk[rows]
        m = chunk.shape[0]
        if m == 0:
            outs = None
        else:
            if buf is None:
                feed = np.ascontiguousarray(chunk)
            else:
                feed = buf[:m]
                np.copyto(feed, chunk, casting="unsafe")
            outs = session.run(names, {input_name: feed})
        if results is None:
            if outs is None:
                # every row of the first chunk is skipped: learn the output shapes from one row
                probe = np.ascontiguousarray(x[:1], dtype=dtype)
                shapes = [np.shape(o)[1:] for o in session.run(names, {input_name: probe})]
            else:
                shapes = [np.shape(o)[1:] for o in outs]
            results = [np.empty((n,) + s, dtype=np.float64) for s in shapes]
        if rows is None:
            for res, o in zip(results, outs, strict=True):
                res[start:stop] = o
        else:
            for k, res in enumerate(results):
                block = res[start:stop]
                block[...] = np.nan if fill_values is None else fill_values[k]
                if outs is not None:
                    block[rows] = outs[k]
    assert results is not None
    return results
