"""Re-evaluate a bundle's test vectors with onnxruntime and compare.

Each case feeds ``inputs`` to the model and compares every listed output
with ``|got - expected| <= abs + rel * |expected|`` (spec/README.md, "Test
vectors"), using the output's entry of ``test_vectors.tolerances`` when it
has one (format 1.1.0) and the default ``test_vectors.tolerance`` otherwise.
Mismatches are reported with the case, the output, the worst element and the
tolerance. Every run goes through :func:`~dnnlik.evaluate.session.run_bounded`:
a model that runs too long is stopped and reported as ``test-vectors:timeout``.

JSON values become tensors by :func:`tensor_from_json` (spec/README.md, 6.1):
numbers for the numeric dtypes (integers exactly, within +-(2**53 - 1)),
``true``/``false`` for ``bool`` (``0``/``1`` in 1.0.0 documents), and ``[]``
for an empty dimension, the dimensions after it taken from the declaration.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterator, Sequence
from typing import Any

import numpy as np

from ..bundle.tolerance import tolerance_excess
from ..errors import ModelTimeoutError
from ..report import Problem, json_pointer, one_line
from .session import NUMPY_DTYPES, run_bounded

__all__ = ["iter_test_vector_problems", "tensor_from_json", "tolerance_for", "MAX_SAFE_INTEGER"]

#: Integers in test vectors lie within +-MAX_SAFE_INTEGER: every JSON number is read as a
#: double, and doubles hold every integer exactly only up to 2**53 - 1.
MAX_SAFE_INTEGER = 2**53 - 1

#: Most dimensions of a tensor whose declared shape is unknown (numpy's own limit; the
#: document's depth limit, 64, is lower for any tensor inside it).
MAX_RANK = 64

_INT_RANGE = {"int64": (-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER), "int32": (-(2**31), 2**31 - 1)}
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def tolerance_for(test_vectors: dict[str, Any], output: str) -> tuple[float, float, str]:
    """``(abs, rel, where)`` of the tolerance that applies to ``output``; ``where`` names its member.

    Args:
        test_vectors: ``bundle.json#/test_vectors``.
        output: the output's name.

    Returns:
        The absolute and relative tolerances and the member that sets them.
    """
    per_output = test_vectors.get("tolerances") or {}
    if output in per_output:
        tol = per_output[output]
        return float(tol["abs"]), float(tol["rel"]), f"test_vectors.tolerances[{output!r}]"
    tol = test_vectors["tolerance"]
    return float(tol["abs"]), float(tol["rel"]), "test_vectors.tolerance"


def tensor_from_json(
    value: Any, dtype: str, declared: Sequence[int | None] | None = None, *, bool_as_number: bool = False
) -> np.ndarray | str:
    """The tensor a test-vector value denotes, or a message saying why it denotes none.

    ``dtype`` is the declared element type; ``declared`` the declared shape, which
    completes a tensor holding an empty array: ``[]`` at depth *d* has size 0 in
    dimension *d*, and its further dimensions are the declared ones (a ``null``
    one taken as 0). ``bool_as_number`` reads ``bool`` elements written as the
    numbers 0 and 1 (format 1.0.0, whose schema has no booleans in tensors).
    The walk is iterative, level by level, so no nesting depth can exhaust the stack.

    Args:
        value: the nested arrays of the test vector.
        dtype: the declared element type.
        declared: the declared shape (``None`` for a dimension of any size).
        bool_as_number: read 0 and 1 as ``bool`` elements.

    Returns:
        The tensor, or a message saying why ``value`` is none.
    """
    shape: list[int] = []
    max_rank = len(declared) if declared is not None else MAX_RANK
    level = [value]
    while level and all(isinstance(v, list) for v in level):
        sizes = {len(v) for v in level}
        if len(sizes) != 1:
            return "is a ragged array (rows of different lengths)"
        if len(shape) == max_rank:
            return f"nests arrays deeper than {max_rank} level(s), its " + (
                "declared rank" if declared is not None else "most a tensor may have"
            )
        shape.append(sizes.pop())
        level = [x for v in level for x in v]
    if any(isinstance(v, list) for v in level):
        return "is a ragged array (numbers and arrays at the same depth)"
    if not level and declared is not None:  # an empty dimension: the rest come from the declaration
        rest = list(declared[len(shape) :])
        shape.extend(0 if d is None else int(d) for d in rest)
    message = _element_problem(level, dtype, bool_as_number)
    if message:
        return message
    np_dtype = NUMPY_DTYPES[dtype]
    if dtype == "bool":
        flat = np.array([bool(v) for v in level], dtype=np.bool_)
    elif dtype in _INT_RANGE:
        flat = np.array([int(v) for v in level], dtype=np_dtype)
    else:
        flat = np.array(level, dtype=np.float64).astype(np_dtype)
    return flat.reshape(shape)


def _element_problem(elements: list[Any], dtype: str, bool_as_number: bool) -> str | None:
    """Why ``elements`` (the scalars of a tensor, row-major) cannot be ``dtype`` values; None if they can."""
    for k, v in enumerate(elements):
        at = f"element {k} ({_shown(v)})"
        if dtype == "bool":
            if isinstance(v, bool) or (bool_as_number and type(v) in (int, float) and v in (0, 1)):
                continue
            return f"{at} is not a bool value: bool elements are written true or false" + (
                " (or 0 and 1 in format 1.0.0)" if bool_as_number else ""
            )
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return f"{at} is not a number (a {dtype} tensor holds numbers; true/false are for bool tensors)"
        if isinstance(v, float) and not math.isfinite(v):
            return f"{at} is not a finite number"
        if dtype in _INT_RANGE:
            low, high = _INT_RANGE[dtype]
            if isinstance(v, float) and not v.is_integer():
                return f"{at} is not an integer ({dtype} tensor)"
            if not low <= v <= high:
                return f"{at} lies outside [{low}, {high}], the integers a {dtype} test vector may hold" + (
                    " (JSON numbers are doubles: beyond 2**53 - 1 they are not exact)" if dtype == "int64" else ""
                )
        elif dtype == "float32" and abs(float(v)) > _FLOAT32_MAX:
            with np.errstate(over="ignore"):
                overflows = not np.isfinite(np.float32(float(v)))
            if overflows:
                return f"{at} overflows float32"
    return None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def iter_test_vector_problems(
    session: Any, document: dict[str, Any], skip: Collection[int] = (), *, seconds: float | None = None
) -> Iterator[Problem]:
    """Problems found by running every test-vector case through ``session``.

    Cases in ``skip`` (already reported as malformed by the static checks) are not run.
    Each run is stopped after ``seconds`` (None: :data:`~dnnlik.evaluate.session.RUN_SECONDS`);
    after a timeout no further case is run.

    Args:
        session: the model's onnxruntime session.
        document: the schema-valid ``bundle.json``.
        skip: indices of cases not to run (:attr:`dnnlik.bundle.Inspection.malformed_cases`).
        seconds: the time each run may take.

    Yields:
        The problems (``test-vectors:*``), each at its case and output.
    """
    tv = document["test_vectors"]
    inputs = {t["name"]: t for t in document["model"]["inputs"]}
    outputs = {t["name"]: t for t in document["model"]["outputs"]}
    bool_as_number = document.get("format_version") == "1.0.0"
    for name in tv.get("tolerances") or {}:
        if name not in outputs:
            yield Problem(
                "test-vectors:tolerance-name",
                f"names no model output (declared: {sorted(outputs)}), so it would apply to nothing",
                "bundle.json#" + json_pointer(["test_vectors", "tolerances", name]),
            )
    for i, case in enumerate(tv["cases"]):
        if i in skip:
            continue
        where = f"bundle.json#/test_vectors/cases/{i}"
        feeds: dict[str, np.ndarray] = {}
        bad = False
        for name, value in case["inputs"].items():
            declared = inputs.get(name)
            dtype = declared["dtype"] if declared else "float32"
            array = tensor_from_json(
                value, dtype, declared["shape"] if declared else None, bool_as_number=bool_as_number
            )
            if isinstance(array, str):
                bad = True
                yield Problem(
                    "test-vectors:bad-array",
                    f"is not a {dtype} tensor: {array}",
                    where + json_pointer(["inputs", name]),
                )
            else:
                feeds[name] = array
        if bad:
            continue
        names = list(case["outputs"])
        try:
            outs = run_bounded(session, names, feeds, seconds=seconds)
        except ModelTimeoutError as exc:
            yield Problem("test-vectors:timeout", f"{exc.bare_message}; no further case was run", where)
            return
        except Exception as exc:  # onnxruntime's own exception classes
            yield Problem("test-vectors:run-failed", f"the model fails on this case: {one_line(exc)}", where)
            continue
        for name, got in zip(names, outs, strict=True):
            at = where + json_pointer(["outputs", name])
            declared = outputs.get(name)
            dtype = declared["dtype"] if declared else "float64"
            # expected values of a float output are kept as doubles (the comparison is in double)
            read_as = "float64" if dtype in ("float32", "float64") else dtype
            expected = tensor_from_json(
                case["outputs"][name], read_as, declared["shape"] if declared else None, bool_as_number=bool_as_number
            )
            if isinstance(expected, str):
                yield Problem("test-vectors:bad-array", f"is not a {dtype} tensor: {expected}", at)
                continue
            yield from _compare(np.asarray(got), expected, dtype, tolerance_for(tv, name), at)


def _compare(
    got: np.ndarray, expected: np.ndarray, dtype: str, tolerance: tuple[float, float, str], at: str
) -> Iterator[Problem]:
    if got.shape != expected.shape:
        yield Problem(
            "test-vectors:shape", f"model returned shape {list(got.shape)}, expected {list(expected.shape)}", at
        )
        return
    if dtype == "bool" or got.dtype == np.bool_:
        differ = np.asarray(got != expected)
        if differ.any():
            k = int(np.argmax(differ))
            yield Problem(
                "test-vectors:mismatch",
                f"{int(differ.sum())} value(s) differ; first at index {_index(k, expected.shape)}: "
                f"got {bool(got.flat[k])}, expected {bool(expected.flat[k])} (bool values must be equal)",
                at,
            )
        return
    got = got.astype(np.float64)
    want = expected.astype(np.float64)
    if not np.isfinite(got).all():
        yield Problem("test-vectors:non-finite", "model returned NaN or infinity", at)
        return
    tol_abs, tol_rel, source = tolerance
    excess = tolerance_excess(got, want, tol_abs, tol_rel)
    if (excess > 0).any():
        k = int(np.argmax(excess))
        yield Problem(
            "test-vectors:mismatch",
            f"{int((excess > 0).sum())} value(s) off; worst at index {_index(k, want.shape)}: got {got.flat[k]:.10g}, "
            f"expected {want.flat[k]:.10g} (tolerance abs {tol_abs:g} + rel {tol_rel:g}, from {source})",
            at,
        )


def _index(k: int, shape: tuple[int, ...]) -> list[int]:
    return [int(j) for j in np.unravel_index(k, shape)] if shape else []
