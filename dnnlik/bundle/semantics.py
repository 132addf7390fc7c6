"""Checks of ``bundle.json`` that a JSON Schema cannot express.

Each check reads only sections that passed the schema (the caller passes the
set of top-level sections with schema errors, and checks needing them are
skipped), so malformed documents never crash a check.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..digest import MAX_JSON_DEPTH
from ..report import Problem

__all__ = ["iter_semantic_problems"]

FILE = "bundle.json"
Check = Callable[[dict[str, Any]], Iterator[Problem]]


def _at(pointer: str) -> str:
    return f"{FILE}#{pointer}"


def _problem(code: str, message: str, pointer: str) -> Problem:
    return Problem(f"semantics:{code}", message, _at(pointer))


def _parameters(doc: dict[str, Any]) -> Iterator[Problem]:
    seen: dict[str, int] = {}
    for i, p in enumerate(doc["parameters"]):
        where = f"/parameters/{i}"
        if p["name"] in seen:
            yield _problem(
                "duplicate-name",
                f"parameter name {p['name']!r} is also used by /parameters/{seen[p['name']]}",
                f"{where}/name",
            )
        seen.setdefault(p["name"], i)
        lo, hi = p["bounds"]
        lo_v = -np.inf if lo is None else lo
        hi_v = np.inf if hi is None else hi
        if lo_v >= hi_v:
            yield _problem("bounds-order", f"lower bound {lo} is not below upper bound {hi}", f"{where}/bounds")
            continue
        if not lo_v <= p["nominal"] <= hi_v:
            yield _problem(
                "nominal-outside", f"nominal {p['nominal']} lies outside the bounds [{lo}, {hi}]", f"{where}/nominal"
            )
        tr = p.get("training_range")
        if tr is not None:
            if tr[0] > tr[1]:
                yield _problem(
                    "range-order", f"training_range low {tr[0]} exceeds high {tr[1]}", f"{where}/training_range"
                )
            elif tr[0] < lo_v or tr[1] > hi_v:
                yield _problem(
                    "range-outside",
                    f"training_range {tr} extends outside the bounds [{lo}, {hi}]",
                    f"{where}/training_range",
                )
        if p["constraint"]["type"] == "uniform" and (lo is None or hi is None):
            yield _problem("uniform-unbounded", "a uniform constraint needs both bounds finite", f"{where}/constraint")
        if p["constraint"]["type"] == "gamma" and not hi_v > 0:
            yield _problem(
                "gamma-support",
                f"a gamma constraint is -inf for x <= 0, but the bounds [{lo}, {hi}] allow no x > 0",
                f"{where}/constraint",
            )
    if doc["kind"] == "likelihood" and not any(p["role"] == "poi" for p in doc["parameters"]):
        yield Problem("semantics:no-poi", "no parameter has role 'poi'", _at("/parameters"), "warning")


def _fixed_parameters(doc: dict[str, Any]) -> Iterator[Problem]:
    """Fixed parameters (1.1.0): unique names, none of them also a parameter (an input of the model)."""
    if doc.get("format_version") == "1.0.0":
        return  # 1.0.0 has no such section: its schema refused the member (at the root), whatever its value
    free: dict[str, int] = {}
    for i, p in enumerate(doc["parameters"]):
        free.setdefault(p["name"], i)
    seen: dict[str, int] = {}
    for i, p in enumerate(doc["fixed_parameters"]):
        where = f"/fixed_parameters/{i}/name"
        if p["name"] in free:
            yield _problem(
                "fixed-parameter-clash",
                f"{p['name']!r} is fixed here and also a parameter of the model (/parameters/{free[p['name']]}); "
                "a parameter is either an input or fixed",
                where,
            )
        elif p["name"] in seen:
            yield _problem(
                "duplicate-name",
                f"fixed parameter {p['name']!r} is also listed at /fixed_parameters/{seen[p['name']]}",
                where,
            )
        seen.setdefault(p["name"], i)


_INPUT_ROLES = {"likelihood": {"parameters"}, "spectrum-fit": {"histogram"}, "classifier": {"features", "parameters"}}
_OUTPUT_ROLES = {
    "likelihood": {"logpdf", "grad_logpdf", "logpdf_spread", "other"},
    "spectrum-fit": {"background", "other"},
    "classifier": {"score", "other"},
}
_REQUIRED_OUTPUT = {"likelihood": "logpdf", "spectrum-fit": "background", "classifier": "score"}


def _model(doc: dict[str, Any]) -> Iterator[Problem]:
    model, kind = doc["model"], doc["kind"]
    n_par = len(doc["parameters"])
    for side, allowed in (("inputs", _INPUT_ROLES[kind]), ("outputs", _OUTPUT_ROLES[kind])):
        names: set[str] = set()
        for i, t in enumerate(model[side]):
            where = f"/model/{side}/{i}"
            if t["name"] in names:
                yield _problem("duplicate-tensor", f"tensor name {t['name']!r} is used twice", f"{where}/name")
            names.add(t["name"])
            if t["role"] not in allowed:
                yield _problem(
                    "tensor-role",
                    f"role {t['role']!r} does not fit kind {kind!r} (allowed: {sorted(allowed)})",
                    f"{where}/role",
                )
    roles_out = [t["role"] for t in model["outputs"]]
    if _REQUIRED_OUTPUT[kind] not in roles_out:
        yield _problem(
            "missing-output", f"kind {kind!r} needs an output with role {_REQUIRED_OUTPUT[kind]!r}", "/model/outputs"
        )
    for role in set(roles_out) - {"other"}:
        if roles_out.count(role) > 1:
            yield _problem("duplicate-role", f"{roles_out.count(role)} outputs have role {role!r}", "/model/outputs")
    if kind != "likelihood":
        return
    params_in = [i for i, t in enumerate(model["inputs"]) if t["role"] == "parameters"]
    if len(model["inputs"]) != 1 or len(params_in) != 1:
        yield _problem("inputs", "a likelihood model takes exactly one input, with role 'parameters'", "/model/inputs")
    expected: dict[str, list[int | None]] = {
        "parameters": [None, n_par],
        "logpdf": [None],
        "logpdf_spread": [None],
        "grad_logpdf": [None, n_par],
    }
    for side in ("inputs", "outputs"):
        for i, t in enumerate(model[side]):
            want = expected.get(t["role"])
            if want is not None and t["shape"] != want:
                yield _problem(
                    "tensor-shape",
                    f"role {t['role']!r} needs shape {_shape_str(want)} for {n_par} parameters, "
                    f"got {_shape_str(t['shape'])}",
                    f"/model/{side}/{i}/shape",
                )
    if "logpdf_spread" in roles_out and "ensemble" not in model:
        yield Problem(
            "semantics:spread-without-ensemble",
            "a 'logpdf_spread' output but no 'ensemble' section",
            _at("/model"),
            "warning",
        )
    ensemble = model.get("ensemble")
    if ensemble and "members" in ensemble and len(ensemble["members"]) != ensemble["size"]:
        yield _problem(
            "ensemble-size", f"size {ensemble['size']} but {len(ensemble['members'])} members listed", "/model/ensemble"
        )
    yield from _transform(model.get("transform", {}), n_par)
    best = doc.get("output", {}).get("best_fit")
    if best is not None and len(best["point"]) != n_par:
        yield _problem(
            "length", f"best_fit point has {len(best['point'])} values for {n_par} parameters", "/output/best_fit/point"
        )


def _transform(transform: dict[str, Any], n_par: int) -> Iterator[Problem]:
    for key in ("input_shift", "input_scale"):
        if key in transform and len(transform[key]) != n_par:
            yield _problem(
                "length", f"{key} has {len(transform[key])} values for {n_par} parameters", f"/model/transform/{key}"
            )
    if any(v == 0 for v in transform.get("input_scale", [])):
        yield _problem("zero-scale", "input_scale contains 0", "/model/transform/input_scale")
    baseline = transform.get("baseline", {})
    if baseline.get("type") == "quadratic":
        if len(baseline["center"]) != n_par:
            yield _problem(
                "length",
                f"center has {len(baseline['center'])} values for {n_par} parameters",
                "/model/transform/baseline/center",
            )
        h = baseline["hessian"]
        if len(h) != n_par or any(len(row) != n_par for row in h):
            yield _problem("hessian-shape", f"hessian must be {n_par} x {n_par}", "/model/transform/baseline/hessian")
        elif not np.allclose(np.asarray(h), np.asarray(h).T, rtol=1e-9, atol=1e-12):
            yield _problem("hessian-asymmetric", "hessian is not symmetric", "/model/transform/baseline/hessian")


def _shape_str(shape: list[Any]) -> str:
    return "[" + ", ".join("N" if d is None else str(d) for d in shape) + "]"


def _files(doc: dict[str, Any]) -> Iterator[Problem]:
    seen: set[str] = set()
    for i, f in enumerate(doc["files"]):
        if f["path"] in seen:
            yield _problem("duplicate-file", f"{f['path']!r} is listed twice", f"/files/{i}/path")
        if f["path"] == "bundle.json":
            yield _problem(
                "self-listed", "bundle.json cannot list itself (its digest is document_sha256)", f"/files/{i}/path"
            )
        seen.add(f["path"])
    if doc["model"]["file"] not in seen:
        yield _problem("model-unlisted", f"model file {doc['model']['file']!r} is not listed in 'files'", "/model/file")


def _test_vectors(doc: dict[str, Any]) -> Iterator[Problem]:
    """Problems of the test-vector cases; each carries its case's index (``Problem.test_vector_case``)."""
    tensors = {side: {t["name"]: t for t in doc["model"][side]} for side in ("inputs", "outputs")}
    for i, case in enumerate(doc["test_vectors"]["cases"]):
        for problem in _test_vector_case(case, tensors, f"/test_vectors/cases/{i}"):
            yield dataclasses.replace(problem, test_vector_case=i)


def _test_vector_case(case: dict[str, Any], tensors: dict[str, dict[str, Any]], where: str) -> Iterator[Problem]:
    """Problems of one case: inputs missing, names the model does not declare, shapes."""
    missing = sorted(set(tensors["inputs"]) - set(case["inputs"]))
    if missing:
        yield _problem("test-vector-inputs", f"inputs {missing} are missing", f"{where}/inputs")
    for side, declared in tensors.items():
        for name, value in case[side].items():
            at = f"{where}/{side}/{name}"
            if name not in declared:
                yield _problem(
                    "test-vector-name", f"{name!r} is not a model {side[:-1]} (declared: {sorted(declared)})", at
                )
                continue
            want = declared[name]["shape"]
            shape = _tensor_shape(value, min(len(want), MAX_JSON_DEPTH))
            if shape == "ragged":
                yield _problem("test-vector-ragged", "is a ragged array", at)
            elif isinstance(shape, str):
                yield _problem("test-vector-shape", f"{shape}, the model declares {_shape_str(want)}", at)
            elif len(shape) != len(want) or any(w is not None and w != s for w, s in zip(want, shape, strict=False)):
                yield _problem(
                    "test-vector-shape", f"has shape {list(shape)}, the model declares {_shape_str(want)}", at
                )


def _tensor_shape(value: Any, max_rank: int) -> list[int] | str:
    """The shape of a tensor written as nested arrays, level by level (no recursion, linear time).

    Returns ``"ragged"`` when sibling arrays differ in length or mix arrays with numbers, and a
    sentence when the nesting goes beyond ``max_rank`` dimensions (it stops reading there).
    """
    shape: list[int] = []
    level = [value]
    while level and any(isinstance(v, list) for v in level):
        if not all(isinstance(v, list) for v in level):
            return "ragged"
        n = len(level[0])
        if any(len(v) != n for v in level):
            return "ragged"
        if len(shape) == max_rank:
            return f"nests arrays more than {max_rank} deep (shape {_shape_str(shape + [n])}...)"
        shape.append(n)
        level = [x for v in level for x in v]
    return shape


_CHECKS: list[tuple[Check, set[str]]] = [
    (_parameters, {"parameters", "kind"}),
    (_fixed_parameters, {"fixed_parameters", "parameters"}),
    (_model, {"model", "parameters", "kind", "output"}),
    (_files, {"files", "model"}),
    (_test_vectors, {"test_vectors", "model"}),
]


def iter_semantic_problems(doc: dict[str, Any], broken_sections: set[str]) -> Iterator[Problem]:
    """Semantic problems of ``doc``, skipping checks that need a section with schema errors.

    Args:
        doc: the parsed ``bundle.json``.
        broken_sections: its top-level keys with schema errors.

    Yields:
        Each problem; those of a test-vector case carry its index
        (``Problem.test_vector_case``).
    """
    for check, needs in _CHECKS:
        if needs & broken_sections or not all(k in doc for k in needs - {"output"}):
            continue
        yield from check(doc)
