"""onnxruntime sessions for bundle models, and chunked evaluation.

Sessions are built from the model's bytes (never from a path the bundle
names), with no custom-operator libraries registered, on the CPU provider
unless told otherwise. Large batches run in chunks of ``chunk_size`` rows:
onnxruntime is fastest on a few thousand rows at a time, and chunks bound the
memory of intermediate activations.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import BundleError

__all__ = ["DEFAULT_CHUNK", "NUMPY_DTYPES", "make_session", "run_chunked", "onnxruntime_version"]

DEFAULT_CHUNK = 2048
NUMPY_DTYPES = {"float32": np.float32, "float64": np.float64, "int64": np.int64, "int32": np.int32, "bool": np.bool_}


def onnxruntime_version() -> str:
    import onnxruntime

    return onnxruntime.__version__


def make_session(model_bytes: bytes, *, threads: int | None = None, providers: Sequence[str] | None = None) -> Any:
    """An ``onnxruntime.InferenceSession`` for a model given as bytes."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(model_bytes, sess_options=options, providers=list(providers or ["CPUExecutionProvider"]))
    except Exception as exc:  # onnxruntime raises its own exception classes
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BundleError(f"onnxruntime cannot load the model: {first}") from None


def run_chunked(
    session: Any,
    input_name: str,
    x: np.ndarray,
    output_names: Sequence[str],
    *,
    dtype: Any = np.float32,
    chunk_size: int = DEFAULT_CHUNK,
) -> list[np.ndarray]:
    """Run ``session`` on the rows of ``x`` in chunks; outputs are float64, stacked along rows."""
    n = x.shape[0]
    if n <= chunk_size:
        outs = session.run(list(output_names), {input_name: np.ascontiguousarray(x, dtype=dtype)})
        return [np.asarray(o, dtype=np.float64) for o in outs]
    results: list[np.ndarray] | None = None
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        outs = session.run(list(output_names), {input_name: np.ascontiguousarray(x[start:stop], dtype=dtype)})
        if results is None:
            results = [np.empty((n,) + np.shape(o)[1:], dtype=np.float64) for o in outs]
        for res, o in zip(results, outs):
            res[start:stop] = o
    assert results is not None
    return results
