"""The network description (dnnlik.graph.NetworkSpec): checked once, normalised, frozen, taken by every writer.

The checks' messages are pinned in test_graph_mlp.py (test_bad_arguments_raise_invalid_input);
here: what a NetworkSpec holds once made, and that the builder, the reference and the bundle
writer take one and nothing else. Also the tolerance rule the bundle writer shares with the
test-vector check. Needs numpy only (plus onnx for the builder).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from dnnlik.bundle.tolerance import tolerance_excess
from dnnlik.errors import InvalidInputError
from dnnlik.graph import (
    NetworkSpec,
    QuadraticBaseline,
    build_mlp_model,
    mlp_bundle_document,
    mlp_reference,
    random_mlp_weights,
    write_mlp_bundle,
)
from dnnlik.parameters import Parameter

P = 3


def test_arguments_are_stored_normalised() -> None:
    w = random_mlp_weights([P, 4, 1], seed=1)
    hessian = np.array([[-2.0, 0.5, 0.0], [0.5 + 1e-9, -1.0, 0.0], [0.0, 0.0, -1.0]])
    spec = NetworkSpec(
        w,
        activation="SELU",
        input_shift=0.5,
        input_scale=[1, 2, 4],
        output_shift=3,
        baseline=QuadraticBaseline(center=np.zeros(P), hessian=hessian, value_at_center=-1),
        dtype=np.float64,
        with_gradient=0,
    )  # type: ignore[arg-type]  # numpy dtypes are understood
    assert spec.activation == "selu" and spec.dtype == "float64" and spec.with_gradient is False
    assert spec.input_shift.dtype == np.float64 and spec.input_shift.tolist() == [0.5] * P
    assert spec.input_scale.tolist() == [1.0, 2.0, 4.0] and spec.has_input_shift and spec.has_input_scale
    assert isinstance(spec.output_shift, float) and spec.output_shift == 3.0 and spec.output_scale == 1.0
    assert spec.baseline is not None and np.array_equal(spec.baseline.hessian, spec.baseline.hessian.T)
    assert spec.baseline.value_at_center == -1.0
    assert len(spec.members) == 1 and spec.members[0].layers[0][0].dtype == np.float64
    assert not spec.ensemble and spec.sizes == (P, 4, 1) and spec.n_inputs == P and spec.architecture == "3->4->1"
    plain = NetworkSpec([w])
    assert not plain.ensemble and not plain.has_input_shift and not plain.has_input_scale
    assert plain.input_scale.tolist() == [1.0] * P and plain.baseline is None and plain.with_gradient
    assert NetworkSpec([w, w]).ensemble


def test_it_is_frozen_and_a_variant_is_checked_again() -> None:
    spec = NetworkSpec(random_mlp_weights([P, 1], seed=2), output_shift=2.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.activation = "tanh"  # type: ignore[misc]
    variant = dataclasses.replace(spec, output_shift=0.0, activation="tanh")
    assert variant.output_shift == 0.0 and variant.activation == "tanh" and spec.output_shift == 2.0
    assert np.array_equal(variant.members[0].layers[0][0], spec.members[0].layers[0][0])
    with pytest.raises(InvalidInputError, match=r"input_scale: must not contain zeros"):
        dataclasses.replace(spec, input_scale=np.zeros(P))


def test_the_first_problem_in_argument_order_is_reported() -> None:
    with pytest.raises(InvalidInputError, match=r"^members"):
        NetworkSpec([], activation="gelu", dtype="int8")
    with pytest.raises(InvalidInputError, match=r"^activation"):
        NetworkSpec(random_mlp_weights([P, 1], seed=1), activation="gelu", dtype="int8")
    with pytest.raises(InvalidInputError, match=r"^dtype"):
        NetworkSpec(random_mlp_weights([P, 1], seed=1), dtype="int8")


def test_the_writers_take_a_network_spec_and_nothing_else(tmp_path) -> None:
    weights = random_mlp_weights([P, 1], seed=3)
    params = [Parameter(f"p{i}") for i in range(P)]
    calls = [
        lambda: build_mlp_model(weights),  # type: ignore[arg-type]
        lambda: mlp_reference(np.zeros((1, P)), weights),  # type: ignore[arg-type]
        lambda: mlp_bundle_document(weights, params, name="x"),  # type: ignore[arg-type]
        lambda: write_mlp_bundle(tmp_path / "b", weights, params, name="x"),  # type: ignore[arg-type]
    ]
    for call in calls:
        with pytest.raises(InvalidInputError, match=r"network: must be a NetworkSpec .* got MLPWeights"):
            call()
    assert not (tmp_path / "b").exists()


def test_tolerance_rule_shared_by_the_writer_and_the_test_vector_check() -> None:
    excess = tolerance_excess([1.0, 2.5, np.nan, 10.0], [1.0, 2.0, 1.0, 11.0], 0.1, 0.1)
    assert np.allclose(excess[:2], [-0.2, 0.2]) and excess[2] == np.inf and np.isclose(excess[3], -0.2)
    scalar = tolerance_excess(1.0, 1.0, 0.0, 0.0)
    assert scalar.shape == () and scalar == 0.0  # exactly equal passes with a zero tolerance
