"""The JSON Schemas of the bundle format: documents they must reject (with the right JSON pointer),
documents they must accept, and the schema files themselves (valid draft 2020-12, stable $ids,
every $ref resolvable offline)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from dnnlik import schema as dschema

SCHEMA_ROOT = Path(__file__).resolve().parent.parent / "spec" / "schemas"
# the bundle format's (spec/schemas/<version>/) and the combination file format's (spec/schemas/combination/<version>/)
SCHEMA_FILES = sorted(SCHEMA_ROOT.glob("*/*.schema.json")) + sorted(SCHEMA_ROOT.glob("combination/*/*.schema.json"))

ID_PREFIX = "https://schemas.dnnlik.org/"


def _label(path: Path) -> str:
    return str(path.relative_to(SCHEMA_ROOT))


@pytest.fixture(scope="module")
def document(gaussian_bundle: Path) -> dict[str, Any]:
    return json.loads((gaussian_bundle / "bundle.json").read_text(encoding="utf-8"))


def problems(doc: Any) -> set[tuple[str, str]]:
    return {(p.code, p.location) for p in dschema.iter_schema_problems(doc)}


def test_the_base_document_is_valid(document: dict[str, Any]) -> None:
    assert problems(document) == set()


# --------------------------------------------------------------------- must fail

Mutation = Callable[[dict[str, Any]], None]


def _delete(*path: Any) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


def _set(value: Any, *path: Any) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = copy.deepcopy(value)

    return mutate


def _spectrum_kind(doc: dict[str, Any]) -> None:
    doc["kind"] = "spectrum-fit"


def _likelihood_without_output(doc: dict[str, Any]) -> None:
    del doc["output"]


def _quadratic_without_hessian(doc: dict[str, Any]) -> None:
    n = len(doc["parameters"])
    doc["model"]["transform"]["baseline"] = {"type": "quadratic", "center": [0.0] * n, "value_at_center": 0.0}


# (id, mutation, expected schema code, expected location)
MUST_FAIL: list[tuple[str, Mutation, str, str]] = [
    ("missing-format-version", _delete("format_version"), "schema:required", "bundle.json"),
    ("missing-license", _delete("license"), "schema:required", "bundle.json"),
    ("missing-document-sha256", _delete("document_sha256"), "schema:required", "bundle.json"),
    ("missing-test-vectors", _delete("test_vectors"), "schema:required", "bundle.json"),
    ("format-version-2", _set("2.0.0", "format_version"), "schema:const", "bundle.json#/format_version"),
    ("format-version-number", _set(1.0, "format_version"), "schema:const", "bundle.json#/format_version"),
    ("name-upper-case", _set("Gaussian-4d", "name"), "schema:pattern", "bundle.json#/name"),
    ("version-not-semver", _set("1.0", "version"), "schema:pattern", "bundle.json#/version"),
    ("version-leading-zero", _set("1.01.0", "version"), "schema:pattern", "bundle.json#/version"),
    ("title-empty", _set("", "title"), "schema:minLength", "bundle.json#/title"),
    ("title-not-string", _set(42, "title"), "schema:type", "bundle.json#/title"),
    ("no-authors", _set([], "authors"), "schema:minItems", "bundle.json#/authors"),
    ("author-without-name", _set([{"affiliation": "CERN"}], "authors"), "schema:required", "bundle.json#/authors/0"),
    (
        "bad-orcid",
        _set([{"name": "A", "orcid": "0000-0002-1825"}], "authors"),
        "schema:pattern",
        "bundle.json#/authors/0/orcid",
    ),
    ("license-with-spaces", _set("CC BY 4.0", "license"), "schema:pattern", "bundle.json#/license"),
    ("license-lower-case-operator", _set("MIT or Apache-2.0", "license"), "schema:pattern", "bundle.json#/license"),
    (
        "reference-type",
        _set([{"type": "isbn", "id": "x"}], "references"),
        "schema:enum",
        "bundle.json#/references/0/type",
    ),
    ("unknown-kind", _set("regression", "kind"), "schema:enum", "bundle.json#/kind"),
    ("spectrum-fit-without-spectrum", _spectrum_kind, "schema:required", "bundle.json"),
    ("likelihood-without-output", _likelihood_without_output, "schema:required", "bundle.json"),
    ("unknown-top-level-key", _set("hello", "comment"), "schema:additionalProperties", "bundle.json"),
    ("extension-in-output", _set("free", "output", "x-note"), "schema:additionalProperties", "bundle.json#/output"),
    (
        "extension-in-files-entry",
        _set("free", "files", 0, "x-note"),
        "schema:additionalProperties",
        "bundle.json#/files/0",
    ),
    ("unknown-model-key", _set(1, "model", "weights"), "schema:additionalProperties", "bundle.json#/model"),
    ("no-parameters", _set([], "parameters"), "schema:minItems", "bundle.json#/parameters"),
    (
        "parameter-name-starts-with-digit",
        _set("1mu", "parameters", 0, "name"),
        "schema:pattern",
        "bundle.json#/parameters/0/name",
    ),
    ("parameter-role", _set("signal", "parameters", 0, "role"), "schema:enum", "bundle.json#/parameters/0/role"),
    ("bounds-one-value", _set([0.0], "parameters", 0, "bounds"), "schema:minItems", "bundle.json#/parameters/0/bounds"),
    (
        "bound-string",
        _set(["-inf", 1.0], "parameters", 0, "bounds"),
        "schema:type",
        "bundle.json#/parameters/0/bounds/0",
    ),
    ("nominal-null", _set(None, "parameters", 0, "nominal"), "schema:type", "bundle.json#/parameters/0/nominal"),
    (
        "training-range-null-side",
        _set([None, 1.0], "parameters", 0, "training_range"),
        "schema:type",
        "bundle.json#/parameters/0/training_range/0",
    ),
    (
        "normal-without-sigma",
        _set({"type": "normal", "mean": 0.0}, "parameters", 0, "constraint"),
        "schema:required",
        "bundle.json#/parameters/0/constraint",
    ),
    (
        "none-with-sigma",
        _set({"type": "none", "sigma": 1.0}, "parameters", 0, "constraint"),
        "schema:not",
        "bundle.json#/parameters/0/constraint",
    ),
    (
        "zero-sigma",
        _set({"type": "normal", "mean": 0.0, "sigma": 0}, "parameters", 0, "constraint"),
        "schema:exclusiveMinimum",
        "bundle.json#/parameters/0/constraint/sigma",
    ),
    ("model-format", _set("tensorflow", "model", "format"), "schema:const", "bundle.json#/model/format"),
    ("opset-too-old", _set(6, "model", "opset"), "schema:minimum", "bundle.json#/model/opset"),
    ("opset-string", _set("17", "model", "opset"), "schema:type", "bundle.json#/model/opset"),
    (
        "ort-version-not-semver",
        _set("1.16", "model", "onnxruntime_min_version"),
        "schema:pattern",
        "bundle.json#/model/onnxruntime_min_version",
    ),
    ("model-file-traversal", _set("../model.onnx", "model", "file"), "schema:pattern", "bundle.json#/model/file"),
    (
        "negative-shape",
        _set([None, -4], "model", "inputs", 0, "shape"),
        "schema:minimum",
        "bundle.json#/model/inputs/0/shape/1",
    ),
    (
        "zero-shape",
        _set([None, 0], "model", "inputs", 0, "shape"),
        "schema:minimum",
        "bundle.json#/model/inputs/0/shape/1",
    ),
    (
        "symbolic-shape",
        _set(["N", 4], "model", "inputs", 0, "shape"),
        "schema:anyOf",
        "bundle.json#/model/inputs/0/shape/0",
    ),
    (
        "dtype-float16",
        _set("float16", "model", "outputs", 0, "dtype"),
        "schema:enum",
        "bundle.json#/model/outputs/0/dtype",
    ),
    ("tensor-role", _set("loglik", "model", "outputs", 0, "role"), "schema:enum", "bundle.json#/model/outputs/0/role"),
    ("no-outputs", _set([], "model", "outputs"), "schema:minItems", "bundle.json#/model/outputs"),
    (
        "quadratic-without-hessian",
        _quadratic_without_hessian,
        "schema:required",
        "bundle.json#/model/transform/baseline",
    ),
    (
        "ensemble-median",
        _set({"size": 3, "combination": "median"}, "model", "ensemble"),
        "schema:enum",
        "bundle.json#/model/ensemble/combination",
    ),
    ("output-quantity", _set("chi2", "output", "quantity"), "schema:enum", "bundle.json#/output/quantity"),
    ("output-offset-string", _set("0", "output", "offset"), "schema:type", "bundle.json#/output/offset"),
    ("output-without-offset", _delete("output", "offset"), "schema:required", "bundle.json#/output"),
    ("files-empty", _set([], "files"), "schema:minItems", "bundle.json#/files"),
    ("file-absolute-path", _set("/etc/passwd", "files", 0, "path"), "schema:pattern", "bundle.json#/files/0/path"),
    ("file-dot-dot-path", _set("data/../../x", "files", 0, "path"), "schema:pattern", "bundle.json#/files/0/path"),
    (
        "file-backslash-path",
        _set("data\\model.onnx", "files", 0, "path"),
        "schema:pattern",
        "bundle.json#/files/0/path",
    ),
    ("file-empty-segment", _set("data//model.onnx", "files", 0, "path"), "schema:pattern", "bundle.json#/files/0/path"),
    ("file-trailing-slash", _set("data/", "files", 0, "path"), "schema:pattern", "bundle.json#/files/0/path"),
    ("file-sha256-upper-case", _set("A" * 64, "files", 0, "sha256"), "schema:pattern", "bundle.json#/files/0/sha256"),
    ("file-negative-size", _set(-1, "files", 0, "size"), "schema:minimum", "bundle.json#/files/0/size"),
    ("file-unknown-key", _set("x", "files", 0, "url"), "schema:additionalProperties", "bundle.json#/files/0"),
    ("document-sha256-short", _set("abc", "document_sha256"), "schema:pattern", "bundle.json#/document_sha256"),
    (
        "tolerance-negative",
        _set(-1e-9, "test_vectors", "tolerance", "rel"),
        "schema:minimum",
        "bundle.json#/test_vectors/tolerance/rel",
    ),
    ("no-test-cases", _set([], "test_vectors", "cases"), "schema:minItems", "bundle.json#/test_vectors/cases"),
    (
        "test-case-without-outputs",
        _delete("test_vectors", "cases", 0, "outputs"),
        "schema:required",
        "bundle.json#/test_vectors/cases/0",
    ),
    (
        "test-vector-string",
        _set("0.5", "test_vectors", "cases", 0, "inputs", "x"),
        "schema:anyOf",
        "bundle.json#/test_vectors/cases/0/inputs/x",
    ),
    (
        "created-not-rfc3339",
        _set("25/11/2026", "provenance", "created"),
        "schema:pattern",
        "bundle.json#/provenance/created",
    ),
    (
        "provenance-without-version",
        _delete("provenance", "dnnlik_version"),
        "schema:required",
        "bundle.json#/provenance",
    ),
    ("verdict", _set({"verdict": "ok"}, "validation"), "schema:enum", "bundle.json#/validation/verdict"),
    ("archive-doi", _set({"doi": "zenodo-123"}, "archive"), "schema:pattern", "bundle.json#/archive/doi"),
]


@pytest.mark.parametrize("mutate,code,location", [m[1:] for m in MUST_FAIL], ids=[m[0] for m in MUST_FAIL])
def test_schema_rejects(document: dict[str, Any], mutate: Mutation, code: str, location: str) -> None:
    doc = copy.deepcopy(document)
    mutate(doc)
    found = problems(doc)
    assert (code, location) in found, found
    for problem_code, problem_location in found:
        assert problem_code.startswith("schema:")
        assert problem_location == "bundle.json" or problem_location.startswith("bundle.json#/")


def test_a_non_object_document_is_rejected() -> None:
    assert ("schema:type", "bundle.json") in problems(["not", "an", "object"])


# --------------------------------------------------------------------- must pass


def _extensions(doc: dict[str, Any]) -> None:
    doc["x-producer"] = {"anything": [1, "two", None]}
    doc["model"]["x-note"] = "free"
    doc["parameters"][0]["x-latex"] = r"\mu"


def _unbounded(doc: dict[str, Any]) -> None:
    doc["parameters"][1]["bounds"] = [None, None]
    doc["parameters"][1]["constraint"] = {"type": "normal", "mean": 0.0, "sigma": 1.0}


def _classifier(doc: dict[str, Any]) -> None:
    doc["kind"] = "classifier"
    doc["classifier"] = {
        "features": [{"name": "m_jj", "unit": "GeV"}],
        "score": {"meaning": "probability-signal", "range": [0.0, 1.0]},
        "statistical_model": {"type": "binned-poisson", "bin_edges": [0.0, 0.5, 1.0]},
    }


def _spectrum(doc: dict[str, Any]) -> None:
    doc["kind"] = "spectrum-fit"
    doc["spectrum"] = {"observable": "m_jj", "unit": "TeV", "bin_edges": [1.0, 1.5, 2.0], "luminosity": 139.0}


def _quadratic(doc: dict[str, Any]) -> None:
    n = len(doc["parameters"])
    doc["model"]["transform"] = {
        "input_shift": [0.0] * n,
        "input_scale": [1.0] * n,
        "output_shift": 0.0,
        "output_scale": 1.0,
        "baseline": {
            "type": "quadratic",
            "center": [0.0] * n,
            "value_at_center": -1.0,
            "hessian": [[-1.0 if i == j else 0.0 for j in range(n)] for i in range(n)],
        },
    }
    doc["model"]["ensemble"] = {
        "size": 2,
        "combination": "mean",
        "spread": "std",
        "members": [{"seed": 1}, {"seed": 2}],
    }


def _optional_sections(doc: dict[str, Any]) -> None:
    doc["sampling"] = {"tool": "emcee", "strategy": "mixed", "seeds": [1, 2], "n_walkers": 64, "extra": True}
    doc["training"] = {"framework": "keras", "epochs": 10, "target": "residual-over-quadratic"}
    doc["validation"] = {
        "verdict": "pass",
        "metrics": [{"name": "ks_pvalue_min", "value": 0.3, "threshold": 0.05, "comparison": ">="}],
    }
    doc["archive"] = {"doi": "10.5281/zenodo.1234567", "record_id": 1234567}


MUST_PASS: list[tuple[str, Mutation]] = [
    ("x-extensions", _extensions),
    ("unbounded-normal-constraint", _unbounded),
    ("classifier-with-section", _classifier),
    ("spectrum-fit-with-section", _spectrum),
    ("quadratic-baseline-and-ensemble", _quadratic),
    ("optional-sections", _optional_sections),
    ("spdx-expression", _set("Apache-2.0 WITH LLVM-exception OR MIT", "license")),
    ("semver-prerelease", _set("2.1.0-rc.1+build.5", "version")),
    ("no-optional-identity", lambda d: [d.pop(k) for k in ("references", "keywords")]),
]


@pytest.mark.parametrize("mutate", [m[1] for m in MUST_PASS], ids=[m[0] for m in MUST_PASS])
def test_schema_accepts(document: dict[str, Any], mutate: Mutation) -> None:
    doc = copy.deepcopy(document)
    mutate(doc)
    assert problems(doc) == set()


# ------------------------------------------------------------------ schema files


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def test_every_supported_version_has_its_schemas() -> None:
    versions = sorted(p.name for p in SCHEMA_ROOT.iterdir() if p.is_dir() and p.name != "combination")
    assert versions == sorted(dschema.SUPPORTED_VERSIONS)
    for version in versions:
        assert (SCHEMA_ROOT / version / "bundle.schema.json").is_file()
    combination = sorted(p.name for p in (SCHEMA_ROOT / "combination").iterdir() if p.is_dir())
    assert combination == sorted(dschema.COMBINATION_VERSIONS)
    for version in combination:
        assert (SCHEMA_ROOT / "combination" / version / "combination.schema.json").is_file()


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=_label)
def test_schema_file_is_valid_draft_2020_12(path: Path) -> None:
    contents = _load(path)
    assert contents["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(contents)


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=_label)
def test_schema_file_has_a_stable_id(path: Path) -> None:
    version = path.parent.name
    family = "combination" if path.parent.parent.name == "combination" else "bundle"
    schema_id = _load(path)["$id"]
    assert schema_id == f"{ID_PREFIX}{family}/{version}/{path.name}"
    assert version in schema_id


def test_schema_ids_are_unique() -> None:
    ids = [_load(p)["$id"] for p in SCHEMA_FILES]
    assert len(ids) == len(set(ids))
    for version in dschema.SUPPORTED_VERSIONS:
        assert dschema.bundle_schema_id(version) in ids
    for version in dschema.COMBINATION_VERSIONS:
        assert dschema.combination_schema_id(version) in ids


def _refs(node: Any, pointer: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield pointer, value
            else:
                yield from _refs(value, f"{pointer}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _refs(value, f"{pointer}/{i}")


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=_label)
def test_every_ref_resolves_offline(path: Path) -> None:
    """Every $ref resolves through the local registry (which has no way to fetch anything)."""
    contents = _load(path)
    registry = dschema.registry()
    resolver = registry.resolver(base_uri=contents["$id"])
    refs = list(_refs(contents))
    for where, ref in refs:
        resolved = resolver.lookup(ref)  # raises referencing.exceptions.Unresolvable otherwise
        assert isinstance(resolved.contents, dict), f"{path.name}#{where}: {ref} is not a schema"
        target = resolved.resolver.lookup("")  # the resource the ref landed in is a registered schema file
        assert target.contents.get("$id", "").startswith(ID_PREFIX)


def test_refs_are_walked() -> None:
    """The walk above does find refs, including cross-file ones and ones with JSON pointers."""
    refs = [ref for p in SCHEMA_FILES for _, ref in _refs(_load(p))]
    assert any(r.startswith("defs.schema.json#/$defs/") for r in refs)
    assert any(r == "parameters.schema.json" for r in refs)
    assert any(r.startswith("#/$defs/") for r in refs)


def test_unknown_ref_is_not_resolvable() -> None:
    """The registry really is offline: a ref to a file it does not hold fails instead of being fetched."""
    from referencing.exceptions import Unresolvable

    resolver = dschema.registry().resolver(base_uri=dschema.bundle_schema_id())
    with pytest.raises(Unresolvable):
        resolver.lookup("https://json-schema.org/draft/2020-12/schema-that-does-not-exist")
    with pytest.raises(Unresolvable):
        resolver.lookup("defs.schema.json#/$defs/no-such-definition")
