"""Evaluating a pyhf model on many parameter points at once: NumPy batches, or JAX with exact gradients.

Both evaluators take full pyhf parameter vectors (fixed parameters included)
in (n, npars) arrays and the data (main and auxiliary) as a separate argument,
so that one evaluator serves the observed and the Asimov data alike. Points go
through in chunks of one of :data:`BUCKETS` rows, the last chunk padded by
repeating its first row, so that pyhf builds (NumPy, ``batch_size``) or JAX
compiles (``jax.jit(jax.vmap(...))``) a handful of shapes only, each once.

pyhf's backend is process-wide. An evaluator switches it to its own (64-bit
precision, the user's optimizer kept) only while it builds a model, traces a
function or (NumPy) evaluates, and restores the previous one afterwards; a
compiled JAX function runs without it. Loading the JAX evaluator turns on
``jax_enable_x64`` for the process (JAX's default float32 is too coarse for
log-likelihood differences).

pyhf's log-density is NaN where an expected yield is negative; it is returned
as ``-inf`` (outside the support), with a NaN gradient.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import numpy as np

__all__ = ["NumpyEvaluator", "JaxEvaluator", "using_backend", "BUCKETS", "jax_available"]

BUCKETS = (1, 16, 128)
"""The numbers of rows a model is built (NumPy) or compiled (JAX) for."""

ModelFactory = Callable[[int | None], Any]
"""Builds the pyhf model for a batch size (None: one point), under the current backend."""


def jax_available() -> bool:
    """Whether JAX (and pyhf's JAX backend) can be imported."""
    import importlib.util

    return importlib.util.find_spec("jax") is not None and importlib.util.find_spec("jaxlib") is not None


@contextlib.contextmanager
def using_backend(pyhf: ModuleType, name: str) -> Iterator[None]:
    """pyhf's backend set to ``name`` in 64-bit precision for the block, the previous one restored after.

    Args:
        pyhf: the pyhf module.
        name: ``"numpy"`` or ``"jax"``.
    """
    backend, optimizer = pyhf.get_backend()
    if backend.name == name and backend.precision == "64b":
        yield
        return
    pyhf.set_backend(name, custom_optimizer=optimizer, precision="64b")
    try:
        yield
    finally:
        pyhf.set_backend(backend, custom_optimizer=optimizer)


def _chunks(n: int) -> Iterator[tuple[int, int, int]]:
    """``(start, stop, bucket)`` covering n rows: full chunks of the largest bucket, then the smallest that fits."""
    start = 0
    largest = BUCKETS[-1]
    while start < n:
        left = n - start
        bucket = largest if left >= largest else next(b for b in BUCKETS if b >= left)
        stop = min(n, start + bucket)
        yield start, stop, bucket
        start = stop


def _padded(rows: np.ndarray, bucket: int) -> np.ndarray:
    if rows.shape[0] == bucket:
        return rows
    pad = np.repeat(rows[:1], bucket - rows.shape[0], axis=0)
    return np.concatenate([rows, pad])


def _finite_or_minus_inf(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    values[np.isnan(values)] = -np.inf
    return values


class NumpyEvaluator:
    """pyhf's NumPy backend with batched models (``batch_size`` = each of :data:`BUCKETS`); no gradient.

    Args:
        pyhf: the pyhf module.
        build_model: the factory of the model for a batch size.
    """

    exact_gradient = False
    backend = "numpy"

    def __init__(self, pyhf: ModuleType, build_model: ModelFactory) -> None:
        self._pyhf = pyhf
        self._build = build_model
        self._models: dict[int, Any] = {}
        self.model = self._model(1)

    def _model(self, bucket: int) -> Any:
        if bucket not in self._models:
            with using_backend(self._pyhf, "numpy"):
                self._models[bucket] = self._build(None if bucket == 1 else bucket)
        return self._models[bucket]

    def logpdf(self, full: np.ndarray, data: np.ndarray) -> np.ndarray:
        """pyhf's ``logpdf`` at each row of ``full`` (n, npars): (n,), -inf where pyhf gives NaN."""
        out = np.empty(full.shape[0])
        with using_backend(self._pyhf, "numpy"):
            for start, stop, bucket in _chunks(full.shape[0]):
                model = self._model(bucket)
                rows = full[start:stop]
                arg = rows[0] if bucket == 1 else _padded(rows, bucket)
                values = np.asarray(model.logpdf(arg, data), dtype=np.float64).reshape(-1)
                out[start:stop] = values[: stop - start]
        return _finite_or_minus_inf(out)

    def expected_data(self, full_point: np.ndarray) -> np.ndarray:
        """Main and auxiliary data expected at one full point (npars,)."""
        with using_backend(self._pyhf, "numpy"):
            return np.asarray(self.model.expected_data(full_point), dtype=np.float64)


class JaxEvaluator:
    """pyhf's JAX backend: ``jit(vmap(logpdf))`` and ``jit(vmap(value_and_grad(logpdf)))`` in float64.

    Each (function, bucket) pair is compiled on first use (seconds for a model
    of a hundred parameters) and kept.

    Args:
        pyhf: the pyhf module.
        build_model: the factory of the model for a batch size (called with None once).
    """

    exact_gradient = True
    backend = "jax"

    def __init__(self, pyhf: ModuleType, build_model: ModelFactory) -> None:
        import jax

        jax.config.update("jax_enable_x64", True)
        self._jax = jax
        self._pyhf = pyhf
        with using_backend(pyhf, "jax"):
            self.model = build_model(None)
        self._compiled: dict[tuple[bool, int], Any] = {}

    def _function(self, with_grad: bool, bucket: int, data: np.ndarray) -> Any:
        key = (with_grad, bucket)
        if key not in self._compiled:
            jax = self._jax
            model = self.model

            def one(point: Any, observed: Any) -> Any:
                return model.logpdf(point, observed)[0]

            inner = jax.value_and_grad(one) if with_grad else one
            batched = jax.jit(jax.vmap(inner, in_axes=(0, None)))
            example = np.zeros((bucket, len(model.config.suggested_init())))
            with using_backend(self._pyhf, "jax"):
                self._compiled[key] = batched.lower(example, data).compile()
        return self._compiled[key]

    def logpdf(self, full: np.ndarray, data: np.ndarray) -> np.ndarray:
        """pyhf's ``logpdf`` at each row of ``full`` (n, npars): (n,), -inf where pyhf gives NaN."""
        out = np.empty(full.shape[0])
        for start, stop, bucket in _chunks(full.shape[0]):
            values = self._function(False, bucket, data)(_padded(full[start:stop], bucket), data)
            out[start:stop] = np.asarray(values, dtype=np.float64)[: stop - start]
        return _finite_or_minus_inf(out)

    def logpdf_and_grad(self, full: np.ndarray, data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(logpdf, gradient)`` at each row of ``full``: (n,) and (n, npars), the gradient with respect to all."""
        value = np.empty(full.shape[0])
        grad = np.empty(full.shape)
        for start, stop, bucket in _chunks(full.shape[0]):
            v, g = self._function(True, bucket, data)(_padded(full[start:stop], bucket), data)
            value[start:stop] = np.asarray(v, dtype=np.float64)[: stop - start]
            grad[start:stop] = np.asarray(g, dtype=np.float64)[: stop - start]
        value = _finite_or_minus_inf(value)
        grad[~np.isfinite(value)] = np.nan
        return value, grad

    def expected_data(self, full_point: np.ndarray) -> np.ndarray:
        """Main and auxiliary data expected at one full point (npars,)."""
        with using_backend(self._pyhf, "jax"):
            return np.asarray(self.model.expected_data(full_point), dtype=np.float64)
