"""Write a complete likelihood bundle from MLP weights.

:func:`mlp_bundle_document` assembles ``bundle.json`` (before digests) and the
model bytes for one network or an ensemble, described by a
:class:`~dnnlik.graph.NetworkSpec`; :func:`write_mlp_bundle` writes them as a
bundle folder or ``.zip`` (digests filled in by
:func:`dnnlik.bundle.write.write_bundle`). This is how trained networks are
exported: the weights (from any framework) go in as :class:`MLPWeights`, the
graph is written by :func:`build_mlp_model`, and the test vectors are the
model's own outputs, computed with onnxruntime on points near the best fit
and spread over the training range (spec/README.md, section 6), and checked
against the float64 reference :func:`mlp_reference` before anything is
written.

The two public writers come first; the steps of :func:`mlp_bundle_document`
follow in the order it takes them: argument checks, test points, the model run
on them and the tolerances, then one function per section of ``bundle.json``
that is computed here (``model``, its parts, ``test_vectors``).

Like the rest of :mod:`dnnlik.graph`, nothing here imports TensorFlow.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import BundleError, InvalidInputError
from ..parameters import Parameter
from .mlp import DEFAULT_OPSET, build_mlp_model
from .network import OUTPUT_GRAD, OUTPUT_LOGPDF, OUTPUT_SPREAD, NetworkSpec, require_network_spec
from .reference import mlp_reference

__all__ = [
    "mlp_bundle_document",
    "write_mlp_bundle",
    "make_test_points",
    "measured_tolerances",
    "DEFAULT_TOLERANCE",
    "TOLERANCE_SAFETY",
    "MODEL_FILE",
]

MODEL_FILE = "model.onnx"

#: Largest disagreement accepted between the exported float32 network and its float64
#: reference (``check_reference``): a different CPU (other SIMD kernels, other summation
#: order) or onnxruntime version moves each value by a few float32 ulps of the largest terms
#: summed, ~sqrt(width) * depth * 6e-8 relative, i.e. ~1e-5 for 512-wide layers; ``rel``
#: covers that with a margin of ten, ``abs`` (scaled by the largest expected magnitude)
#: values that cancel to ~0. A model beyond it is ill-conditioned, and refused. The test
#: vectors' own tolerances are much tighter: see :func:`measured_tolerances`.
DEFAULT_TOLERANCE = {"abs": 1e-4, "rel": 1e-4}

#: Safety factor between an output's measured float32 error and its test-vector tolerance
#: (:func:`measured_tolerances`). The expected values are this runtime's outputs; another
#: runtime or CPU rounds the same float32 sums in another order, so its error is of the same
#: size as ours and the two differ by up to about twice the error measured; a factor of 4
#: leaves another factor of 2 for a point where its error exceeds the largest we measured.
TOLERANCE_SAFETY = 4.0

_FLOAT32_ULP = 2.0**-23  # the spacing of float32 numbers in [1, 2)

# Oldest onnxruntime that runs each default-domain opset / IR version (onnxruntime's
# compatibility table); the bundle declares the later of the two.
_ORT_FOR_OPSET = {
    13: "1.8.0",
    14: "1.10.0",
    15: "1.11.0",
    16: "1.12.0",
    17: "1.13.0",
    18: "1.14.0",
    19: "1.16.0",
    20: "1.17.0",
    21: "1.18.0",
}
_ORT_FOR_IR = {7: "1.8.0", 8: "1.10.0", 9: "1.15.0", 10: "1.17.0"}


#: Top-level members of ``bundle.json`` that :func:`mlp_bundle_document` computes (``sections`` cannot replace them).
_WRITTEN_HERE = ("format_version", "kind", "model", "parameters", "test_vectors", "files", "document_sha256")


# Over 80 lines only by its docstring (every argument documented); the body is 40 lines of named steps.
def mlp_bundle_document(
    network: NetworkSpec,
    parameters: Sequence[Parameter] | Sequence[Mapping[str, Any]],
    *,
    name: str,
    version: str = "1.0.0",
    title: str | None = None,
    description: str | None = None,
    authors: Sequence[Mapping[str, Any]] | None = None,
    license: str = "CC-BY-4.0",
    output: Mapping[str, Any] | None = None,
    input_name: str = "x",
    opset: int = DEFAULT_OPSET,
    n_test_points: int = 8,
    extra_test_points: Any = None,
    seed: int = 0,
    tolerance: Mapping[str, float] | None = None,
    sections: Mapping[str, Any] | None = None,
    check_reference: bool = True,
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """``(document, files)`` of a likelihood bundle holding this MLP (or ensemble).

    ``document`` is ``bundle.json`` without digests; ``files`` is
    ``{"model.onnx": bytes}``; pass both to
    :func:`dnnlik.bundle.write.write_bundle` (or use :func:`write_mlp_bundle`).
    The network's settings are recorded in ``model.transform``,
    ``model.ensemble`` and ``model.architecture``.

    Test vectors: two cases, the nominal point (and the baseline centre, if
    any) alone, then ``n_test_points`` points (the rows of
    ``extra_test_points``, then random ones in the training range, from
    ``seed``). Expected outputs are computed by onnxruntime on the model as
    written. Without ``tolerance``, each output gets its own tolerance
    (``test_vectors.tolerances``, format 1.1.0) from the model's measured
    float32 error against the float64 numpy reference on these points,
    times :data:`TOLERANCE_SAFETY` (:func:`measured_tolerances`); a given
    ``tolerance`` is written as the one tolerance of every output. With
    ``check_reference``, a disagreement with the float64 reference beyond
    ``tolerance`` (or, without it, beyond :data:`DEFAULT_TOLERANCE`, which
    float32 rounding never reaches in a well-conditioned network) raises
    :class:`~dnnlik.errors.BundleError` (nothing is written).

    Args:
        network: The network, as for :func:`build_mlp_model`.
        parameters: One :class:`~dnnlik.parameters.Parameter` (or its JSON
            dict) per network input, in input order.
        name: The bundle's identifier (lower case, the spec's ``identifier``).
        version: The bundle's semantic version.
        title: ``title``; default ``"Neural-network likelihood <name>"``.
        description: ``description``; default, one sentence on the network.
        authors: ``authors``; default ``[{"name": "dnnlik"}]``.
        license: ``license``, an SPDX identifier.
        output: The ``output`` section (what ``logpdf`` means); default
            ``{"quantity": "log-likelihood", "includes_constraints": True, "offset": 0.0}``.
        input_name: Name of the model's input, as for :func:`build_mlp_model`.
        opset: ONNX opset, as for :func:`build_mlp_model`.
        n_test_points: Number of points of the second test-vector case (>= 1).
        extra_test_points: Points (n, P) that case starts with, or None.
        seed: Seed of the random test points.
        tolerance: ``{"abs": ..., "rel": ...}`` for every output, or None to
            measure one per output.
        sections: Further top-level members (``training``, ``sampling``,
            ``validation``, ``provenance``, ``references``, ``keywords``,
            ``x-...``), overriding the defaults here.
        check_reference: Whether to refuse a model that disagrees with the
            float64 reference (see above).

    Returns:
        ``(document, files)``.

    Raises:
        InvalidInputError: An argument is malformed.
        BundleError: The model returns non-finite values on the test points,
            or disagrees with the float64 reference.
    """
    from ..parameters import parameters_to_json
    from ..schema import LATEST_VERSION

    network = require_network_spec(network)
    if tolerance is not None:
        _given_tolerance(tolerance)
    params = _as_parameters(parameters, network.n_inputs)
    name = _check_schema_string(
        name, "identifier", "a lower-case identifier (letters, digits, '.', '_', '-'; at most 128)", "name"
    )
    version = _check_schema_string(version, "semver", "a semantic version like '1.0.0'", "version")
    _check_test_point_count(n_test_points)
    _check_sections(sections)

    model = build_mlp_model(network, input_name=input_name, opset=opset)
    model_bytes = model.SerializeToString()
    points = _test_point_sets(network, params, n_test_points, extra_test_points, seed)
    cases = _run_on_points(model_bytes, input_name, network.dtype, points)
    tol, tolerances = _test_vector_tolerances(network, cases, tolerance, check_reference)

    document: dict[str, Any] = {
        "format_version": LATEST_VERSION,
        "name": name,
        "version": version,
        "title": title or f"Neural-network likelihood {name}",
        "description": description or _default_description(network),
        "authors": [dict(a) for a in authors] if authors else [{"name": "dnnlik"}],
        "license": license,
        "kind": "likelihood",
        "parameters": parameters_to_json(params),
        "model": _model_section(network, model, input_name, int(opset)),
        "output": dict(output)
        if output is not None
        else {
            "quantity": "log-likelihood",
            "includes_constraints": True,
            "offset": 0.0,
        },
        "test_vectors": _test_vectors_section(network, cases, input_name, tol, tolerances),
        "validation": {"verdict": "not-run"},
        "provenance": {"command": "dnnlik.graph.write_mlp_bundle"},
    }
    if sections:
        document.update({k: v for k, v in sections.items()})
    return document, {MODEL_FILE: model_bytes}


def write_mlp_bundle(
    out: str | os.PathLike[str],
    network: NetworkSpec,
    parameters: Sequence[Parameter] | Sequence[Mapping[str, Any]],
    *,
    overwrite: bool = False,
    **options: Any,
) -> dict[str, Any]:
    """Write the bundle of :func:`mlp_bundle_document` to ``out`` (a folder, or a ``.zip``).

    The bundle validates: ``dnnlik.load(out)`` works on it.

    Args:
        out: The bundle folder, or a path ending in ``.zip``.
        network: The network, as for :func:`build_mlp_model`.
        parameters: As for :func:`mlp_bundle_document`.
        overwrite: Whether an existing ``out`` may be replaced.
        **options: The keyword arguments of :func:`mlp_bundle_document`
            (``name`` is required).

    Returns:
        The final document (with digests).

    Raises:
        InvalidInputError: An argument is malformed (nothing is written).
        BundleError: As for :func:`mlp_bundle_document`.
    """
    from ..bundle.write import write_bundle

    document, files = mlp_bundle_document(network, parameters, **options)
    return write_bundle(out, document, files, overwrite=overwrite)


# ------------------------------------------------------------------ argument checks


def _as_parameters(parameters: Any, n_par: int) -> list[Parameter]:
    if isinstance(parameters, (str, bytes)) or not isinstance(parameters, Sequence):
        raise InvalidInputError(
            f"must be a sequence of Parameter (or parameter dicts), got {type(parameters).__name__}",
            where="parameters",
        )
    out = []
    for i, p in enumerate(parameters):
        if isinstance(p, Parameter):
            out.append(p)
        elif isinstance(p, Mapping):
            try:
                out.append(Parameter.from_json(p))
            except (KeyError, TypeError, ValueError) as exc:
                raise InvalidInputError(f"is not a valid parameter entry ({exc!r})", where=f"parameters[{i}]") from None
        else:
            raise InvalidInputError(f"must be a Parameter or a dict, got {type(p).__name__}", where=f"parameters[{i}]")
    if len(out) != n_par:
        raise InvalidInputError(f"has {len(out)} entries but the network takes P={n_par} inputs", where="parameters")
    names = [p.name for p in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InvalidInputError(f"names must be unique, repeated: {dupes}", where="parameters")
    for i, p in enumerate(out):
        if not p.lower < p.upper:
            raise InvalidInputError(f"bounds {list(p.bounds)} are empty", where=f"parameters[{i}] ({p.name})")
        if not p.lower <= p.nominal <= p.upper:
            raise InvalidInputError(
                f"nominal {p.nominal} lies outside the bounds {list(p.bounds)}", where=f"parameters[{i}] ({p.name})"
            )
    return out


def _check_schema_string(value: Any, rule: str, what: str, where: str) -> str:
    """``value`` if it passes the spec's string rule ``rule`` (``$defs`` of defs.schema.json)."""
    from ..schema import matches_string_rule

    if not isinstance(value, str) or not matches_string_rule(f"defs.schema.json#/$defs/{rule}", value):
        raise InvalidInputError(f"must be {what}, got {value!r}", where=where)
    return value


def _given_tolerance(tolerance: Mapping[str, float]) -> dict[str, float]:
    try:
        tol = {"abs": float(tolerance["abs"]), "rel": float(tolerance["rel"])}
    except (KeyError, TypeError, ValueError):
        raise InvalidInputError("must be a mapping with numbers 'abs' and 'rel'", where="tolerance") from None
    if not all(np.isfinite(v) and v >= 0 for v in tol.values()):
        raise InvalidInputError(f"abs and rel must be finite and >= 0, got {tol}", where="tolerance")
    return tol


def _check_test_point_count(n_test_points: Any) -> None:
    if isinstance(n_test_points, bool) or not isinstance(n_test_points, (int, np.integer)) or n_test_points < 1:
        raise InvalidInputError(f"must be an integer >= 1, got {n_test_points!r}", where="n_test_points")


def _check_sections(sections: Any) -> None:
    if sections is not None and not isinstance(sections, Mapping):
        raise InvalidInputError(f"must be a mapping, got {type(sections).__name__}", where="sections")
    for key in _WRITTEN_HERE:
        if sections and key in sections:
            raise InvalidInputError(
                f"{key!r} is written by mlp_bundle_document and cannot be overridden", where="sections"
            )


# ---------------------------------------------------------------------- test points


def _sampling_box(parameters: Sequence[Parameter]) -> tuple[np.ndarray, np.ndarray]:
    """Per parameter, the interval test points are drawn from: the training range, else the
    bounds, with an infinite side replaced by nominal -/+ max(1, |nominal|)."""
    lo, hi = [], []
    for p in parameters:
        a, b = p.training_range if p.training_range is not None else p.bounds
        width = max(1.0, abs(p.nominal))
        a = a if np.isfinite(a) else min(p.nominal, b if np.isfinite(b) else p.nominal) - width
        b = b if np.isfinite(b) else max(p.nominal, a) + width
        a, b = max(a, p.lower), min(b, p.upper)
        lo.append(a)
        hi.append(b)
    return np.array(lo, dtype=np.float64), np.array(hi, dtype=np.float64)


def make_test_points(
    parameters: Sequence[Parameter],
    n: int,
    *,
    seed: int = 0,
    anchors: Sequence[Any] = (),
    decimals: int = 6,
) -> np.ndarray:
    """``anchors`` (e.g. the nominal point, the best fit) then random points, ``n`` rows in all.

    Random points are uniform in each parameter's training range (or its
    bounds, see :func:`_sampling_box`), rounded to ``decimals`` so they are
    exact in JSON, and clipped to the bounds. Every row lies inside the bounds.

    Args:
        parameters: The parameters, in input order.
        n: Number of rows.
        seed: Seed of the random points.
        anchors: Points the rows start with (at most ``n`` are used).
        decimals: Decimals the points are rounded to.

    Returns:
        The (n, P) points.
    """
    lo, hi = _sampling_box(parameters)
    lower = np.array([p.lower for p in parameters])
    upper = np.array([p.upper for p in parameters])
    rows = [np.clip(np.asarray(a, dtype=np.float64), lower, upper) for a in anchors]
    rows = rows[:n]
    rng = np.random.default_rng(seed)
    k = n - len(rows)
    rand = rng.uniform(lo, hi, size=(k, len(parameters))) if k > 0 else np.empty((0, len(parameters)))
    pts = np.vstack([np.reshape(r, (-1, len(parameters))) for r in rows] + [rand]) if rows else rand
    return np.clip(np.round(pts, decimals), lower, upper)


def _extra_points(extra_test_points: Any, n_inputs: int) -> list[np.ndarray]:
    """The rows of ``extra_test_points`` (finite, P columns), or none."""
    if extra_test_points is None:
        return []
    try:
        extra_arr = np.atleast_2d(np.asarray(extra_test_points, dtype=np.float64))
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"cannot be read as numbers ({exc})", where="extra_test_points") from None
    if extra_arr.ndim != 2 or extra_arr.shape[1] != n_inputs or not np.all(np.isfinite(extra_arr)):
        raise InvalidInputError(
            f"must be finite points of shape (n, {n_inputs}), got {extra_arr.shape}", where="extra_test_points"
        )
    return list(extra_arr)


def _test_point_sets(
    network: NetworkSpec, params: Sequence[Parameter], n_test_points: int, extra_test_points: Any, seed: int
) -> list[np.ndarray]:
    """The points of the two cases: the anchors (nominal, baseline centre) alone, then a spread of points."""
    anchors = [np.array([p.nominal for p in params])]
    if network.baseline is not None:
        anchors.append(network.baseline.center)
    extra = _extra_points(extra_test_points, network.n_inputs)
    first = make_test_points(params, len(anchors), anchors=anchors, seed=seed)
    spread = make_test_points(params, max(int(n_test_points), len(extra)), anchors=extra, seed=seed)
    return [first, spread]


# ------------------------------------------------ the model run on them, tolerances


def _run_on_points(
    model_bytes: bytes, input_name: str, dtype: str, point_sets: Sequence[np.ndarray]
) -> list[tuple[np.ndarray, dict[str, np.ndarray]]]:
    """``(points, outputs)`` per set of points, the outputs computed by onnxruntime (as float64)."""
    from ..evaluate.session import NUMPY_DTYPES, make_session

    session = make_session(model_bytes)
    out_names = [o.name for o in session.get_outputs()]
    cases = []
    for pts in point_sets:
        got = dict(zip(out_names, session.run(out_names, {input_name: pts.astype(NUMPY_DTYPES[dtype])}), strict=True))
        got = {n: np.asarray(v, dtype=np.float64) for n, v in got.items()}
        for n, v in got.items():
            if not np.all(np.isfinite(v)):
                raise BundleError(f"the model returns non-finite {n!r} on test points (overflowing weights?)")
        cases.append((pts, got))
    return cases


def _test_vector_tolerances(
    network: NetworkSpec,
    cases: Sequence[tuple[np.ndarray, dict[str, np.ndarray]]],
    tolerance: Mapping[str, float] | None,
    check_reference: bool,
) -> tuple[dict[str, float], dict[str, dict[str, float]] | None]:
    """``test_vectors.tolerance`` and ``.tolerances`` (None when ``tolerance`` is given), checked.

    The outputs are compared with the float64 evaluation of the same model on all the
    test points (as fed: in the input dtype); the per-output tolerances also need the
    part of it that the network computes in float32.
    """
    from ..evaluate.session import NUMPY_DTYPES

    all_pts = np.vstack([pts.astype(NUMPY_DTYPES[network.dtype]).astype(np.float64) for pts, _ in cases])
    all_got = {n: np.concatenate([got[n] for _, got in cases]) for n in cases[0][1]}
    reference = mlp_reference(all_pts, network)
    tolerances: dict[str, dict[str, float]] | None = None
    if tolerance is not None:
        tol = _given_tolerance(tolerance)
        bound = tol
    else:
        float32_part = mlp_reference(all_pts, dataclasses.replace(network, baseline=None, output_shift=0.0))
        tol, tolerances = measured_tolerances(all_got, reference, float32_part)
        bound = _reference_bound(all_got)
    if check_reference:
        _check_against_reference(all_got, reference, bound, given=tolerance is not None)
    return tol, tolerances


def measured_tolerances(
    got: Mapping[str, np.ndarray],
    reference: Mapping[str, np.ndarray],
    float32_part: Mapping[str, np.ndarray],
    *,
    safety: float = TOLERANCE_SAFETY,
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """The default and per-output test-vector tolerances (format 1.1.0) of an exported model.

    ``got`` holds the model's outputs on the test points (what the test vectors will
    expect), ``reference`` the float64 evaluation of the same model on the same points
    (:func:`~dnnlik.graph.mlp_reference`), ``float32_part`` the part of each output that the
    network computes in float32 (the outputs without the baseline and output shift, which
    the graph adds in the input dtype). Each output's tolerance is
    ``{"abs": safety * max(error, ulp), "rel": 0}``, rounded up to two digits, where
    ``error`` is the largest ``|got - reference|`` over the points and ``ulp`` one float32
    ulp of the largest ``float32_part`` (a floor for an error that happens to be ~0). The
    default tolerance, for an output not listed, is the loosest of them.

    Args:
        got: The model's outputs on the test points, by output name.
        reference: Their float64 evaluation, by output name.
        float32_part: The part of each computed in float32, by output name.
        safety: The factor between the measured error and the tolerance.

    Returns:
        ``(tolerance, tolerances)``: ``test_vectors.tolerance`` and ``test_vectors.tolerances``.
    """
    per_output: dict[str, dict[str, float]] = {}
    for name, value in got.items():
        error = float(np.max(np.abs(np.asarray(value, np.float64) - reference[name]), initial=0.0))
        ulp = _FLOAT32_ULP * max(float(np.max(np.abs(float32_part[name]), initial=0.0)), 1e-30)
        per_output[name] = {"abs": _ceil_2(safety * max(error, ulp)), "rel": 0.0}
    default = {"abs": max(t["abs"] for t in per_output.values()), "rel": 0.0}
    return default, per_output


def _ceil_2(x: float) -> float:
    """``x`` rounded up to two significant digits (so that the JSON number is short)."""
    if not x > 0:
        return 0.0
    e = math.floor(math.log10(x)) - 1
    return float(f"{math.ceil(x / 10.0**e - 1e-9)}e{e}")


def _reference_bound(expected: Mapping[str, np.ndarray]) -> dict[str, float]:
    """:data:`DEFAULT_TOLERANCE` with ``abs`` scaled by the largest expected magnitude."""
    scale = max([1.0] + [float(np.max(np.abs(v), initial=0.0)) for v in expected.values()])
    return {"abs": float(f"{DEFAULT_TOLERANCE['abs'] * scale:.3g}"), "rel": DEFAULT_TOLERANCE["rel"]}


def _check_against_reference(
    got: Mapping[str, np.ndarray], reference: Mapping[str, np.ndarray], bound: Mapping[str, float], *, given: bool
) -> None:
    """Raise BundleError when an output lies beyond ``bound`` of the float64 reference."""
    from ..bundle.tolerance import tolerance_excess

    for n, v in got.items():
        excess = tolerance_excess(v, reference[n], bound["abs"], bound["rel"])
        if np.any(excess > 0):
            raise BundleError(
                f"the ONNX model's {n!r} differs from the float64 reference by more than "
                + ("the test-vector tolerance" if given else "float32 rounding explains")
                + f" (abs {bound['abs']:g}, rel {bound['rel']:g}; worst excess {float(np.max(excess)):.3g}): "
                "pass a looser tolerance if the network is ill-conditioned"
            )


# ---------------------------------------------------------- sections of bundle.json


def _default_description(network: NetworkSpec) -> str:
    """``description``, when none is given: what the network is."""
    arch = network.architecture
    what = f"an ensemble of {len(network.members)} MLPs {arch}" if network.ensemble else f"an MLP {arch}"
    return (
        f"A likelihood surrogate: {what}, activation {network.activation}, over {network.n_inputs} parameters, "
        "written as an ONNX graph with " + ("its exact gradient." if network.with_gradient else "no gradient output.")
    )


def _model_section(network: NetworkSpec, model: Any, input_name: str, opset: int) -> dict[str, Any]:
    """``model``: the file, its opset and runtime, input and outputs, transform, architecture, ensemble."""
    dtype = network.dtype
    section: dict[str, Any] = {
        "format": "onnx",
        "file": MODEL_FILE,
        "opset": opset,
        "ir_version": int(model.ir_version),
        "onnxruntime_min_version": _ort_min_version(opset, int(model.ir_version)),
        "inputs": [{"name": input_name, "role": "parameters", "dtype": dtype, "shape": [None, network.n_inputs]}],
        "outputs": _model_outputs(network),
        "transform": _model_transform(network),
        "architecture": {
            "type": "mlp",
            "layers": list(network.sizes),
            "activation": network.activation,
            "network_dtype": "float32",
            "n_weights": int(sum(m.n_parameters for m in network.members)),
            "gradient": "explicit backward pass in the graph" if network.with_gradient else "none",
            "writer": "dnnlik.graph.build_mlp_model",
        },
    }
    if network.ensemble:
        section["ensemble"] = {"size": len(network.members), "combination": "mean", "spread": "std"}
    return section


def _ort_min_version(opset: int, ir_version: int) -> str:
    candidates = [_ORT_FOR_OPSET.get(opset, "1.18.0"), _ORT_FOR_IR.get(ir_version, "1.18.0")]
    return max(candidates, key=_version_key)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def _model_outputs(network: NetworkSpec) -> list[dict[str, Any]]:
    """``model.outputs``: logpdf, then grad_logpdf and logpdf_spread when the model has them."""
    dtype = network.dtype
    outputs: list[dict[str, Any]] = [{"name": OUTPUT_LOGPDF, "role": "logpdf", "dtype": dtype, "shape": [None]}]
    if network.with_gradient:
        outputs.append({"name": OUTPUT_GRAD, "role": "grad_logpdf", "dtype": dtype, "shape": [None, network.n_inputs]})
    if network.ensemble:
        outputs.append({"name": OUTPUT_SPREAD, "role": "logpdf_spread", "dtype": dtype, "shape": [None]})
    return outputs


def _model_transform(network: NetworkSpec) -> dict[str, Any]:
    """``model.transform``: the scalings and the baseline, as numbers."""
    transform: dict[str, Any] = {
        "input_shift": network.input_shift.tolist(),
        "input_scale": network.input_scale.tolist(),
        "output_shift": network.output_shift,
        "output_scale": network.output_scale,
    }
    if network.baseline is None:
        transform["baseline"] = {"type": "none"}
    else:
        transform["baseline"] = {
            "type": "quadratic",
            "center": network.baseline.center.tolist(),
            "value_at_center": network.baseline.value_at_center,
            "hessian": network.baseline.hessian.tolist(),
        }
    return transform


def _test_vectors_section(
    network: NetworkSpec,
    cases: Sequence[tuple[np.ndarray, dict[str, np.ndarray]]],
    input_name: str,
    tol: dict[str, float],
    tolerances: dict[str, dict[str, float]] | None,
) -> dict[str, Any]:
    """``test_vectors``: the tolerances and the two cases with the model's own outputs."""
    labels = [
        "nominal point" + (" and baseline centre" if network.baseline is not None else ""),
        "points across the training range",
    ]
    tv_cases = [
        {
            "description": label,
            "inputs": {input_name: pts.tolist()},
            "outputs": {n: v.tolist() for n, v in got.items()},
        }
        for label, (pts, got) in zip(labels, cases, strict=True)
    ]
    return {"tolerance": tol, **({"tolerances": tolerances} if tolerances else {}), "cases": tv_cases}
