"""ONNX graphs of likelihood networks, written from their weights.

A :class:`NetworkSpec` (:mod:`~dnnlik.graph.network`) describes one network or
an ensemble: its :class:`MLPWeights`, activation, input and output scaling, an
optional :class:`QuadraticBaseline`, the model's dtype and whether it has a
gradient output; its arguments are checked once, when it is made.
:func:`build_mlp_model` (:mod:`~dnnlik.graph.mlp`) writes it as an ONNX graph
that returns ``logpdf`` and its exact gradient ``grad_logpdf`` (an explicit
backward pass). :func:`mlp_reference` (:mod:`~dnnlik.graph.reference`)
computes the same in float64 numpy. :func:`write_mlp_bundle` (and
:func:`mlp_bundle_document`, :mod:`~dnnlik.graph.mlp_bundle`) turn it into a
complete, valid likelihood bundle: model, metadata, test vectors and digests.
"""

from .mlp import DEFAULT_OPSET, SUPPORTED_OPSETS, build_mlp_model
from .mlp_bundle import make_test_points, mlp_bundle_document, write_mlp_bundle
from .network import (
    ACTIVATIONS,
    OUTPUT_GRAD,
    OUTPUT_LOGPDF,
    OUTPUT_SPREAD,
    SELU_ALPHA,
    SELU_LAMBDA,
    MLPWeights,
    NetworkSpec,
    QuadraticBaseline,
    random_mlp_weights,
)
from .reference import activation_and_derivative, mlp_reference

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
    "NetworkSpec",
    "QuadraticBaseline",
    "build_mlp_model",
    "random_mlp_weights",
    "mlp_reference",
    "activation_and_derivative",
    "make_test_points",
    "mlp_bundle_document",
    "write_mlp_bundle",
]
