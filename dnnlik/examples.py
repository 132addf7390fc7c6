"""An example likelihood bundle with no training: an analytic Gaussian as ONNX.

``build_gaussian_bundle`` writes a complete, valid bundle whose model is the
multivariate normal log-density

    logpdf(x) = -0.5 (x - m)^T Q (x - m) - 0.5 log det(2 pi Q^-1),   Q = Sigma^-1

written directly with ``onnx.helper`` (value and exact gradient ``-Q (x - m)``),
with test vectors computed independently in numpy. It exercises every part of
the format, and is what ``dnnlik example`` builds.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .bundle.write import write_bundle
from .parameters import Constraint, Parameter, parameters_to_json
from .schema import LATEST_VERSION

__all__ = [
    "gaussian_spec",
    "gaussian_model",
    "gaussian_reference",
    "gaussian_document",
    "build_gaussian_bundle",
    "ONNX_OPSET",
    "ONNX_IR_VERSION",
]

ONNX_OPSET = 17
ONNX_IR_VERSION = 8
ORT_MIN_VERSION = "1.16.0"


def gaussian_spec(dim: int) -> tuple[np.ndarray, np.ndarray, list[Parameter]]:
    """The example's mean, covariance and parameters in ``dim`` dimensions (reproducible: seeded by ``dim``).

    Args:
        dim: the number of parameters, at least 1.

    Returns:
        ``(mean (dim,), covariance (dim, dim), parameters)``: ``mu`` (the POI) then
        ``theta_1``, ...; bounds (-10, 10), nominal 0, training range (-6, 6).
    """
    rng = np.random.default_rng(20191108 + dim)
    mean = np.round(rng.normal(0.0, 0.5, dim), 3)
    a = rng.normal(0.0, 1.0, (dim, dim))
    cov = a @ a.T / dim + np.eye(dim) * 0.5
    params = [
        Parameter(
            name="mu" if i == 0 else f"theta_{i}",
            role="poi" if i == 0 else "nuisance",
            bounds=(-10.0, 10.0),
            nominal=0.0,
            training_range=(-6.0, 6.0),
            constraint=Constraint("none"),
            description="signal strength" if i == 0 else f"nuisance parameter {i}",
        )
        for i in range(dim)
    ]
    return mean, cov, params


def gaussian_reference(x: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log-density and gradient of N(mean, cov) at the rows of ``x``, in float64 numpy.

    >>> value, grad = gaussian_reference(np.array([[1.0, 2.0]]), np.zeros(2), np.eye(2))
    >>> round(float(value[0]), 6), grad.tolist()  # -0.5 * (1 + 4) - log(2 pi)
    (-4.337877, [[-1.0, -2.0]])

    Args:
        x: the points, (N, P) (one (P,) point counts as N = 1).
        mean: the mean, (P,).
        cov: the covariance, (P, P), positive definite.

    Returns:
        ``(logpdf (N,), gradient (N, P))``.
    """
    precision = np.linalg.inv(cov)
    d = np.atleast_2d(x) - mean
    _, logdet = np.linalg.slogdet(2 * np.pi * cov)
    value = -0.5 * np.einsum("ni,ij,nj->n", d, precision, d) - 0.5 * logdet
    return value, -d @ precision


def gaussian_model(mean: np.ndarray, cov: np.ndarray, *, dtype: str = "float64") -> Any:
    """ONNX ModelProto computing the Gaussian log-density ('logpdf') and its gradient ('grad_logpdf').

    Args:
        mean: the mean, (P,).
        cov: the covariance, (P, P), positive definite.
        dtype: the tensors' type, ``"float64"`` (anything else means float32).

    Returns:
        The model (input ``x`` of shape (N, P)), checked by ``onnx.checker``.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    np_dtype = np.float64 if dtype == "float64" else np.float32
    onnx_dtype = TensorProto.DOUBLE if dtype == "float64" else TensorProto.FLOAT
    dim = len(mean)
    precision = np.linalg.inv(cov)
    precision = 0.5 * (precision + precision.T)
    _, logdet = np.linalg.slogdet(2 * np.pi * cov)
    inits = [
        numpy_helper.from_array(np.asarray(mean, np_dtype), "mean"),
        numpy_helper.from_array(np.asarray(-precision, np_dtype), "minus_precision"),
        numpy_helper.from_array(np.asarray(0.5, np_dtype), "half"),
        numpy_helper.from_array(np.asarray(-0.5 * logdet, np_dtype), "normalisation"),
        numpy_helper.from_array(np.array([1], np.int64), "axis1"),
    ]
    nodes = [
        helper.make_node("Sub", ["x", "mean"], ["d"], name="centre"),
        helper.make_node("MatMul", ["d", "minus_precision"], ["grad_logpdf"], name="gradient"),
        helper.make_node("Mul", ["d", "grad_logpdf"], ["d_grad"], name="quadratic_terms"),
        helper.make_node("ReduceSum", ["d_grad", "axis1"], ["quad"], keepdims=0, name="quadratic_form"),
        helper.make_node("Mul", ["quad", "half"], ["half_quad"], name="halve"),
        helper.make_node("Add", ["half_quad", "normalisation"], ["logpdf"], name="normalise"),
    ]
    graph = helper.make_graph(
        nodes,
        "gaussian_logpdf",
        [helper.make_tensor_value_info("x", onnx_dtype, ["N", dim])],
        [
            helper.make_tensor_value_info("logpdf", onnx_dtype, ["N"]),
            helper.make_tensor_value_info("grad_logpdf", onnx_dtype, ["N", dim]),
        ],
        initializer=inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", ONNX_OPSET)],
        producer_name="dnnlik",
        doc_string="Multivariate normal log-density and its gradient (dnnlik example).",
    )
    model.ir_version = ONNX_IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def _tolerances(dtype: str) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """The default test-vector tolerance and the per-output ones (format 1.1.0).

    The graph computes in its dtype only, with a handful of operations per value, so
    any runtime reproduces the reference to a few units in the last place of that dtype
    (measured: float32 values ~5 and gradients ~1 within 5e-7; float64 within 1e-15).
    The per-output float32 tolerances keep a margin of ten or more over that, scaled by
    each output's magnitude; the float64 ones leave room for the 12 significant digits
    that spec/examples/generate.py keeps of the numbers. The default (as in format
    1.0.0) applies to any other output.
    """
    if dtype == "float64":
        return (
            {"abs": 1e-9, "rel": 1e-12},
            {"logpdf": {"abs": 1e-9, "rel": 1e-12}, "grad_logpdf": {"abs": 1e-10, "rel": 1e-12}},
        )
    return (
        {"abs": 1e-4, "rel": 1e-6},
        {"logpdf": {"abs": 1e-5, "rel": 1e-6}, "grad_logpdf": {"abs": 2e-6, "rel": 1e-6}},
    )


def gaussian_document(
    dim: int, mean: np.ndarray, cov: np.ndarray, params: list[Parameter], *, dtype: str
) -> dict[str, Any]:
    """``bundle.json`` (before digests) of the example Gaussian bundle.

    Args:
        dim: the number of parameters.
        mean: the mean, (dim,).
        cov: the covariance, (dim, dim).
        params: the parameters (:func:`gaussian_spec`).
        dtype: the model's tensor type, ``"float64"`` or ``"float32"`` (sets the
            test-vector tolerances too).

    Returns:
        The document, with test vectors (one point and five) computed in numpy.
    """
    rng = np.random.default_rng(7)
    cases = []
    for n in (1, 5):
        x = rng.normal(mean, 1.0, (n, dim)).round(6)
        value, grad = gaussian_reference(x, mean, cov)
        cases.append({"inputs": {"x": x.tolist()}, "outputs": {"logpdf": value.tolist(), "grad_logpdf": grad.tolist()}})
    best_value, _ = gaussian_reference(mean[None, :], mean, cov)
    tol, tols = _tolerances(dtype)
    return {
        "format_version": LATEST_VERSION,
        "name": f"gaussian-{dim}d",
        "version": "1.0.0",
        "title": f"Analytic {dim}-dimensional Gaussian likelihood (example)",
        "description": (
            "A multivariate normal log-density written directly as an ONNX graph, with its exact gradient. "
            "No network and no training: it exercises the bundle format end to end."
        ),
        "authors": [{"name": "dnnlik developers"}],
        "license": "CC0-1.0",
        "references": [{"type": "arxiv", "id": "1911.03305", "relation": "method", "description": "The DNNLikelihood"}],
        "keywords": ["example", "gaussian"],
        "kind": "likelihood",
        "parameters": parameters_to_json(params),
        "model": {
            "format": "onnx",
            "file": "model.onnx",
            "opset": ONNX_OPSET,
            "ir_version": ONNX_IR_VERSION,
            "onnxruntime_min_version": ORT_MIN_VERSION,
            "inputs": [{"name": "x", "role": "parameters", "dtype": dtype, "shape": [None, dim]}],
            "outputs": [
                {"name": "logpdf", "role": "logpdf", "dtype": dtype, "shape": [None]},
                {"name": "grad_logpdf", "role": "grad_logpdf", "dtype": dtype, "shape": [None, dim]},
            ],
            "transform": {"baseline": {"type": "none"}},
            "architecture": {"type": "analytic", "formula": "-0.5 (x-m)^T Q (x-m) - 0.5 log det(2 pi Q^-1)"},
        },
        "output": {
            "quantity": "log-likelihood",
            "includes_constraints": True,
            "offset": 0.0,
            "best_fit": {"point": mean.tolist(), "logpdf": float(best_value[0]), "source": "reference"},
        },
        "test_vectors": {"tolerance": tol, "tolerances": tols, "cases": cases},
        "validation": {"verdict": "not-run"},
        "provenance": {
            "command": f"dnnlik example gaussian --dim {dim}",
            "source_likelihood": {"name": f"analytic-gaussian-{dim}d"},
        },
    }


def build_gaussian_bundle(
    out: str | os.PathLike[str], *, dim: int = 4, dtype: str = "float64", overwrite: bool = False
) -> dict[str, Any]:
    """Write the example Gaussian bundle to ``out`` (a folder, or a .zip); return its document.

    Args:
        out: The bundle folder, or a path ending in ``.zip``.
        dim: Number of parameters.
        dtype: Tensor type of the model, ``"float64"`` or ``"float32"``.
        overwrite: Whether an existing ``out`` may be replaced.

    Returns:
        The final ``bundle.json`` document (with digests).

    Raises:
        OutputExistsError: ``out`` exists and ``overwrite`` is false.
        DnnlikError: ``out`` cannot be written.
    """
    mean, cov, params = gaussian_spec(dim)
    model = gaussian_model(mean, cov, dtype=dtype)
    document = gaussian_document(dim, mean, cov, params, dtype=dtype)
    return write_bundle(out, document, {"model.onnx": model.SerializeToString()}, overwrite=overwrite)
