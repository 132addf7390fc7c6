"""Broken-bundle catalog entries of one hostile-input class (issue 12): runtime.

Imported at the end of tests/broken_catalog.py; each entry registers itself with
:func:`broken_catalog.broken` exactly like the entries there.

Models whose test vectors pass but which do not compute a log-likelihood of each
point: NaN or +inf inside the bounds, an output whose length is not the batch
size, rows that depend on the other rows of the batch. Only the ``behaviour``
stage of validation (dnnlik/evaluate/behaviour.py) can catch them. Each model is
the valid example's graph with its ``logpdf`` (or ``grad_logpdf``) output renamed
``*_raw`` and a few ``onnx.helper`` nodes computing the published output from it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from broken_catalog import broken, rebuild

__all__ = ["tamper_output", "keep_single_row_cases"]


def tamper_output(output: str, make_nodes: Callable[[str, Any], list[Any]]) -> Callable[[Any], None]:
    """An ``edit_model`` for :func:`broken_catalog.rebuild`: ``output`` is recomputed from its old value.

    ``make_nodes(raw, helper_module)`` returns the nodes that read ``raw`` (the old output,
    renamed) and the graph input ``x`` and write ``output``; constants are Constant nodes.
    """

    def edit(model: Any) -> None:
        from onnx import helper

        raw = f"{output}_raw"
        for node in model.graph.node:
            for i, name in enumerate(node.output):
                if name == output:
                    node.output[i] = raw
            for i, name in enumerate(node.input):
                if name == output:
                    node.input[i] = raw
        model.graph.node.extend(make_nodes(raw, helper))

    return edit


def _const(helper: Any, name: str, value: Any) -> Any:
    from onnx import numpy_helper

    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.asarray(value), name))


def _column0(helper: Any) -> list[Any]:
    """Nodes writing ``t_x0``: column 0 of the input (mu), shape [N]."""
    return [
        _const(helper, "t_col0", np.array(0, np.int64)),
        helper.make_node("Gather", ["x", "t_col0"], ["t_x0"], axis=1),
    ]


def keep_single_row_cases(doc: dict[str, Any]) -> None:
    """Keep only the test-vector cases of one point (a model can agree with them and break on batches)."""
    doc["test_vectors"]["cases"] = [c for c in doc["test_vectors"]["cases"] if len(c["inputs"]["x"]) == 1]


@broken("runtime-nan-inside-bounds", "behaviour:non-finite")
def _nan_inside(valid: Path, tmp: Path) -> Path:
    """logpdf is NaN where mu > 9, inside the bounds [-10, 10]; the test vectors lie where it is finite."""

    def nodes(raw: str, helper: Any) -> list[Any]:
        return _column0(helper) + [
            _const(helper, "t_nine", np.float64(9.0)),
            _const(helper, "t_nan", np.float64(np.nan)),
            helper.make_node("Greater", ["t_x0", "t_nine"], ["t_far"]),
            helper.make_node("Where", ["t_far", "t_nan", raw], ["logpdf"]),
        ]

    return rebuild(valid, tmp / "bundle", edit_model=tamper_output("logpdf", nodes))


@broken("runtime-posinf-inside-bounds", "behaviour:non-finite")
def _posinf_inside(valid: Path, tmp: Path) -> Path:
    """logpdf is +inf where mu < -9, inside the bounds; the test vectors lie where it is finite."""

    def nodes(raw: str, helper: Any) -> list[Any]:
        return _column0(helper) + [
            _const(helper, "t_minus_nine", np.float64(-9.0)),
            _const(helper, "t_inf", np.float64(np.inf)),
            helper.make_node("Less", ["t_x0", "t_minus_nine"], ["t_far"]),
            helper.make_node("Where", ["t_far", "t_inf", raw], ["logpdf"]),
        ]

    return rebuild(valid, tmp / "bundle", edit_model=tamper_output("logpdf", nodes))


@broken("runtime-nan-gradient-inside-bounds", "behaviour:non-finite")
def _nan_gradient(valid: Path, tmp: Path) -> Path:
    """grad_logpdf is NaN in every column where mu > 9 (logpdf finite there)."""

    def nodes(raw: str, helper: Any) -> list[Any]:
        return _column0(helper) + [
            _const(helper, "t_nine", np.float64(9.0)),
            _const(helper, "t_nan", np.float64(np.nan)),
            _const(helper, "t_axis1", np.array([1], np.int64)),
            helper.make_node("Greater", ["t_x0", "t_nine"], ["t_far"]),
            helper.make_node("Unsqueeze", ["t_far", "t_axis1"], ["t_far_2d"]),
            helper.make_node("Where", ["t_far_2d", "t_nan", raw], ["grad_logpdf"]),
        ]

    return rebuild(valid, tmp / "bundle", edit_model=tamper_output("grad_logpdf", nodes))


@broken("runtime-output-shape-one", "behaviour:batch-size")
def _shape_one(valid: Path, tmp: Path) -> Path:
    """logpdf has shape [1] whatever the batch (the first point's value); test vectors of one point only."""

    def nodes(raw: str, helper: Any) -> list[Any]:
        return [
            _const(helper, "t_zero", np.array([0], np.int64)),
            _const(helper, "t_one", np.array([1], np.int64)),
            helper.make_node("Slice", [raw, "t_zero", "t_one"], ["logpdf"]),
        ]

    return rebuild(
        valid, tmp / "bundle", edit_model=tamper_output("logpdf", nodes), edit_document=keep_single_row_cases
    )


@broken("runtime-output-too-short", "behaviour:batch-size")
def _too_short(valid: Path, tmp: Path) -> Path:
    """logpdf has min(N, 5) rows: right for the test vectors' batches of 1 and 5, wrong for 7 or more."""

    def nodes(raw: str, helper: Any) -> list[Any]:
        return [
            _const(helper, "t_zero", np.array([0], np.int64)),
            _const(helper, "t_five", np.array([5], np.int64)),
            helper.make_node("Slice", [raw, "t_zero", "t_five"], ["logpdf"]),
        ]

    return rebuild(valid, tmp / "bundle.zip", edit_model=tamper_output("logpdf", nodes))


@broken("runtime-batch-mean-dependence", "behaviour:batch-dependence")
def _batch_mean(valid: Path, tmp: Path) -> Path:
    """logpdf + 0.5 (mu - mean of mu over the batch): exact for one point, wrong in any larger batch."""

    def nodes(raw: str, helper: Any) -> list[Any]:
        return _column0(helper) + [
            _const(helper, "t_half", np.float64(0.5)),
            helper.make_node("ReduceMean", ["t_x0"], ["t_x0_mean"], keepdims=1),
            helper.make_node("Sub", ["t_x0", "t_x0_mean"], ["t_x0_centred"]),
            helper.make_node("Mul", ["t_x0_centred", "t_half"], ["t_shift"]),
            helper.make_node("Add", [raw, "t_shift"], ["logpdf"]),
        ]

    return rebuild(
        valid, tmp / "bundle", edit_model=tamper_output("logpdf", nodes), edit_document=keep_single_row_cases
    )


@broken("runtime-row-position-dependence", "behaviour:batch-dependence")
def _row_position(valid: Path, tmp: Path) -> Path:
    """The gradient of row i gets 0.01 * i added (its position in the batch); test vectors of one point only."""

    def nodes(raw: str, helper: Any) -> list[Any]:
        return _column0(helper) + [
            _const(helper, "t_zeros_like_axis", np.array(0, np.int64)),
            _const(helper, "t_step", np.float64(0.01)),
            _const(helper, "t_axis1", np.array([1], np.int64)),
            helper.make_node("Mul", ["t_x0", "t_step"], ["t_x0_scaled"]),
            helper.make_node("Sub", ["t_x0_scaled", "t_x0_scaled"], ["t_zeros"]),
            helper.make_node("Add", ["t_zeros", "t_step"], ["t_steps"]),
            helper.make_node("CumSum", ["t_steps", "t_zeros_like_axis"], ["t_position"], exclusive=1),
            helper.make_node("Unsqueeze", ["t_position", "t_axis1"], ["t_position_2d"]),
            helper.make_node("Add", [raw, "t_position_2d"], ["grad_logpdf"]),
        ]

    return rebuild(
        valid, tmp / "bundle", edit_model=tamper_output("grad_logpdf", nodes), edit_document=keep_single_row_cases
    )
