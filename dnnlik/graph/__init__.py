"""ONNX graphs of likelihood networks, written from their weights.

:func:`build_mlp_model` writes a multilayer perceptron (or an ensemble of them)
that returns ``logpdf`` and its exact gradient ``grad_logpdf`` (an explicit
backward pass), with input/output scaling and an optional quadratic baseline
inside the graph. :func:`mlp_reference` computes the same in float64 numpy.
:func:`write_mlp_bundle` (and :func:`mlp_bundle_document`) turn weights into a
complete, valid likelihood bundle: model, metadata, test vectors and digests.
"""

from .mlp import (
    ACTIVATIONS,
    DEFAULT_OPSET,
    OUTPUT_GRAD,
    OUTPUT_LOGPDF,
    OUTPUT_SPREAD,
    SELU_ALPHA,
    SELU_LAMBDA,
    SUPPORTED_OPSETS,
    MLPWeights,
    QuadraticBaseline,
    build_mlp_model,
    random_mlp_weights,
)
from .reference import activation_and_derivative, mlp_reference
from .bundle_writer import make_test_points, mlp_bundle_document, write_mlp_bundle

__all__ = [
    "ACTIVATIONS",
    "DEFAULT_OPSET",
    "OUTPUT_GRAD",
    "OUTPUT_LOGPDF",
    "OUTPUT_SPREAD",
    "SELU_ALPHA",
    "SELU_LAMBDA",
    "SUPPORTED_OPSETS",
    "MLPWeights",
    "QuadraticBaseline",
    "build_mlp_model",
    "random_mlp_weights",
    "mlp_reference",
    "activation_and_derivative",
    "make_test_points",
    "mlp_bundle_document",
    "write_mlp_bundle",
]
