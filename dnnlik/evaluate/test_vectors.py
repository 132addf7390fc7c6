"""Re-evaluate a bundle's test vectors with onnxruntime and compare.

Each case feeds ``inputs`` to the model and compares every listed output
with ``|got - expected| <= abs + rel * |expected|`` (spec/README.md, "Test
vectors"). Mismatches are reported with the case, the output, the worst
element and the tolerance.
"""

from __future__ import annotations

from typing import Any, Collection, Iterator

import numpy as np

from ..report import Problem, one_line
from .session import NUMPY_DTYPES

__all__ = ["iter_test_vector_problems"]


def iter_test_vector_problems(session: Any, document: dict[str, Any],
                              skip: Collection[int] = ()) -> Iterator[Problem]:
    """Problems found by running every test-vector case through ``session``.

    Cases in ``skip`` (already reported as malformed by the static checks) are not run.
    """
    tv = document["test_vectors"]
    tol_abs, tol_rel = tv["tolerance"]["abs"], tv["tolerance"]["rel"]
    dtypes = {t["name"]: NUMPY_DTYPES[t["dtype"]] for t in document["model"]["inputs"]}
    for i, case in enumerate(tv["cases"]):
        if i in skip:
            continue
        where = f"bundle.json#/test_vectors/cases/{i}"
        feeds: dict[str, np.ndarray] = {}
        for name, value in case["inputs"].items():
            dtype = dtypes.get(name, np.float32)
            feeds[name] = array = _as_array(value, dtype)
            if array is None:
                yield Problem("test-vectors:bad-array", f"is not a rectangular array of {np.dtype(dtype).name} values", f"{where}/inputs/{name}")
        if any(a is None for a in feeds.values()):
            continue
        names = list(case["outputs"])
        try:
            outs = session.run(names, feeds)
        except Exception as exc:  # onnxruntime's own exception classes
            yield Problem("test-vectors:run-failed", f"the model fails on this case: {one_line(exc)}", where)
            continue
        for name, got in zip(names, outs):
            expected = _as_array(case["outputs"][name], np.float64)
            got = np.asarray(got, dtype=np.float64)
            at = f"{where}/outputs/{name}"
            if expected is None:
                yield Problem("test-vectors:bad-array", "is not a rectangular array of numbers", at)
                continue
            if got.shape != expected.shape:
                yield Problem("test-vectors:shape", f"model returned shape {list(got.shape)}, expected {list(expected.shape)}", at)
                continue
            if not np.isfinite(got).all():
                yield Problem("test-vectors:non-finite", "model returned NaN or infinity", at)
                continue
            excess = np.abs(got - expected) - (tol_abs + tol_rel * np.abs(expected))
            excess[np.isnan(excess)] = np.inf  # a NaN expected value is never reproduced
            if (excess > 0).any():
                k = int(np.argmax(excess))
                idx = [int(j) for j in np.unravel_index(k, expected.shape)] if expected.ndim else []
                yield Problem(
                    "test-vectors:mismatch",
                    f"{int((excess > 0).sum())} value(s) off; worst at index {idx}: got {got.flat[k]:.10g}, "
                    f"expected {expected.flat[k]:.10g} (tolerance abs {tol_abs:g} + rel {tol_rel:g})",
                    at,
                )


def _as_array(value: Any, dtype: Any) -> np.ndarray | None:
    """``value`` as a numpy array of ``dtype``; None when it is ragged or holds non-numbers."""
    try:
        return np.asarray(value, dtype=dtype)
    except (ValueError, TypeError, OverflowError):
        return None
