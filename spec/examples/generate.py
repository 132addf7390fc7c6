"""Generate the example bundles of spec/examples: valid ones, and invalid ones with the problems they must raise.

Run with the project's Python::

    .venv/bin/python spec/examples/generate.py            # rewrites spec/examples/valid and invalid
    .venv/bin/python spec/examples/generate.py OUT_DIR    # writes OUT_DIR/valid and OUT_DIR/invalid

The output is deterministic: ``provenance.created`` and ``provenance.dnnlik_version``
are fixed, the Gaussian examples are seeded, the numbers that come out of
linear algebra are rounded so that they do not depend on the machine's BLAS
(see ``SIGNIFICANT_DIGITS``), and every file is written byte for byte from
Python values. Running it again, here or on another machine, gives identical
files; tests/test_spec_examples.py checks that the committed files are what
this script writes.

The valid examples follow format 1.1.0, except ``gaussian-3d-float64-format-1.0.0``,
the same bundle in the frozen format 1.0.0, so that reading 1.0.0 stays tested.
Every invalid bundle is the valid ``gaussian-2d-float32`` (1.1.0) with exactly one
thing broken (the folder's name says what). ``invalid/expected.json`` maps each folder to the problem codes
a validator must report for it (the codes of dnnlik's reference validator, see
spec/README.md, "Validation"). Apart from the breakage the invalid bundles are
consistent: where the breakage is in ``bundle.json``, the document digest is
recomputed, so that only the intended problem shows.
"""

from __future__ import annotations

import copy
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dnnlik.bundle.write import dump_document, finalize_document, write_bundle
from dnnlik.digest import DIGEST_FIELD, document_digest
from dnnlik.examples import gaussian_document, gaussian_model, gaussian_spec

CREATED = "2026-11-25T00:00:00Z"
"""Fixed creation time of every example (the release date of format 1.0.0)."""

FORMAT_1_0 = "1.0.0"
"""The frozen first release: one valid example stays in it, so that reading it stays tested."""

DEPTH_LIMIT = 64
"""Maximum nesting depth of bundle.json (spec/README.md, section 2): the valid float32
example reaches it exactly, the invalid example ``nesting-too-deep`` goes one beyond."""

DNNLIK_VERSION = "0.1.0"
"""The dnnlik release that first generated these examples; fixed so that they do not change with each release."""

MODEL = "model.onnx"

Files = dict[str, bytes]
Document = dict[str, Any]


SIGNIFICANT_DIGITS = 12
"""Significant digits kept of every number computed with numpy's linear algebra.

Matrix products, inverses and determinants differ in their last bits from one
BLAS kernel to another (with or without fused multiply-add, AVX-512 or not).
Rounding the covariance, the precision matrix and normalisation written into
the graph, and the reference values of the test vectors and ``best_fit``,
makes the files the same on every machine (up to a rare value straddling a
rounding boundary). The rounding stays far inside the test-vector tolerances
(absolute 1e-9 plus relative 1e-12 for float64)."""

_ROUNDED_INITIALIZERS = ("minus_precision", "normalisation")


def _rounded(value: Any, digits: int = SIGNIFICANT_DIGITS) -> Any:
    if isinstance(value, list):
        return [_rounded(v, digits) for v in value]
    return float(f"{value:.{digits}g}")


def _round_initializers(model: Any) -> None:
    """Round the graph's linear-algebra constants in place (see SIGNIFICANT_DIGITS)."""
    from onnx import numpy_helper

    for i, tensor in enumerate(model.graph.initializer):
        if tensor.name in _ROUNDED_INITIALIZERS:
            array = numpy_helper.to_array(tensor)
            rounded = np.asarray(_rounded(array.astype(np.float64).tolist()), dtype=array.dtype)
            model.graph.initializer[i].CopyFrom(numpy_helper.from_array(rounded, tensor.name))


def gaussian(dim: int, dtype: str) -> tuple[Document, Files]:
    """The example Gaussian bundle's document (before digests) and files."""
    mean, cov, params = gaussian_spec(dim)
    cov = np.asarray(_rounded(cov.tolist(), SIGNIFICANT_DIGITS - 2))
    model = gaussian_model(mean, cov, dtype=dtype)
    _round_initializers(model)
    doc = gaussian_document(dim, mean, cov, params, dtype=dtype)
    for case in doc["test_vectors"]["cases"]:
        case["outputs"] = {name: _rounded(value) for name, value in case["outputs"].items()}
    best = doc["output"]["best_fit"]
    best["logpdf"] = _rounded(best["logpdf"])
    doc["provenance"] = {**doc["provenance"], "created": CREATED, "dnnlik_version": DNNLIK_VERSION}
    return doc, {MODEL: model.SerializeToString()}


# ----------------------------------------------------------------------------- valid


def nested(depth: int, leaf: Any = 0) -> Any:
    """``leaf`` inside ``depth`` nested arrays: a value of nesting depth ``depth`` (``[0]`` is 1)."""
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def as_format_1_0(doc: Document) -> Document:
    """A 1.1.0 example document written in format 1.0.0: the same, without the 1.1.0 additions."""
    doc = copy.deepcopy(doc)
    doc["format_version"] = FORMAT_1_0
    del doc["test_vectors"]["tolerances"]
    return doc


def valid_examples() -> dict[str, tuple[Document, Files]]:
    doc3, files3 = gaussian(3, "float64")
    doc2, files2 = gaussian(2, "float32")
    doc2["x-spec-example"] = {
        "note": "keys starting with 'x-' are producers' extensions; readers ignore them",
        # the top-level object is depth 1, this object depth 2: 62 arrays reach the limit, 64
        "at_the_depth_limit": nested(DEPTH_LIMIT - 2),
    }
    return {
        "gaussian-3d-float64": (doc3, files3),
        "gaussian-2d-float32": (doc2, files2),
        "gaussian-3d-float64-format-1.0.0": (as_format_1_0(doc3), files3),
    }


# --------------------------------------------------------------------------- invalid
#
# Each breaker takes the finalized document (digests filled in) and the files,
# both private copies, and returns the files of the broken bundle, bundle.json
# included. ``redigest`` writes the document with its digest recomputed, for
# breakages meant to be seen by a check other than the document digest.


def redigest(doc: Document, files: Files) -> Files:
    doc = dict(doc)
    doc.pop(DIGEST_FIELD, None)
    doc[DIGEST_FIELD] = document_digest(doc)
    return {**files, "bundle.json": dump_document(doc)}


def as_is(doc: Document, files: Files) -> Files:
    return {**files, "bundle.json": dump_document(doc)}


def _model_proto(files: Files) -> Any:
    import onnx

    return onnx.load_model_from_string(files[MODEL])


def digest_mismatch(doc: Document, files: Files) -> Files:
    """model.onnx changed after bundle.json was written (same size, other bytes)."""
    model = _model_proto(files)
    assert "dnnlik" in model.doc_string
    model.doc_string = model.doc_string.replace("dnnlik", "edited")
    return as_is(doc, {**files, MODEL: model.SerializeToString()})


def document_digest_mismatch(doc: Document, files: Files) -> Files:
    """bundle.json edited by hand without updating document_sha256."""
    doc["title"] += " (edited)"
    return as_is(doc, files)


def size_mismatch(doc: Document, files: Files) -> Files:
    doc["files"][0]["size"] += 1
    return redigest(doc, files)


def missing_model_file(doc: Document, files: Files) -> Files:
    files.pop(MODEL)
    return as_is(doc, files)


def unlisted_file(doc: Document, files: Files) -> Files:
    files["notes.txt"] = b"A file that bundle.json does not list.\n"
    return as_is(doc, files)


def missing_bundle_json(doc: Document, files: Files) -> Files:
    return files


def byte_order_mark(doc: Document, files: Files) -> Files:
    return {**files, "bundle.json": b"\xef\xbb\xbf" + dump_document(doc)}


def duplicate_json_key(doc: Document, files: Files) -> Files:
    """ "title" twice in one object (same value, so the digest still matches)."""
    data = dump_document(doc)
    line = b'\n "title": ' + json.dumps(doc["title"], ensure_ascii=False).encode("utf-8") + b","
    assert data.count(line) == 1
    return {**files, "bundle.json": data.replace(line, line + line)}


def nan_in_test_vectors(doc: Document, files: Files) -> Files:
    """An expected output written as the literal NaN (not JSON, though some writers produce it)."""
    doc["test_vectors"]["cases"][0]["outputs"]["logpdf"][0] = float("nan")
    text = json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=True) + "\n"
    assert text.count("NaN") == 1
    return {**files, "bundle.json": text.encode("utf-8")}


def wrong_format_version(doc: Document, files: Files) -> Files:
    doc["format_version"] = "2.0.0"
    return redigest(doc, files)


def missing_required_field(doc: Document, files: Files) -> Files:
    del doc["license"]
    return redigest(doc, files)


def bad_semver(doc: Document, files: Files) -> Files:
    doc["version"] = "1.0"
    return redigest(doc, files)


def unknown_top_level_key(doc: Document, files: Files) -> Files:
    """A key outside the schema without the 'x-' prefix of extensions."""
    doc["comment"] = "extensions must start with 'x-'"
    return redigest(doc, files)


def negative_shape(doc: Document, files: Files) -> Files:
    doc["model"]["inputs"][0]["shape"][1] = -2
    return redigest(doc, files)


def path_traversal(doc: Document, files: Files) -> Files:
    """bundle.json points at a file outside the bundle; the model actually present is then unlisted."""
    doc["model"]["file"] = "../" + MODEL
    doc["files"][0]["path"] = "../" + MODEL
    return redigest(doc, files)


def duplicate_parameter_names(doc: Document, files: Files) -> Files:
    doc["parameters"][1]["name"] = doc["parameters"][0]["name"]
    return redigest(doc, files)


def inverted_bounds(doc: Document, files: Files) -> Files:
    doc["parameters"][0]["bounds"] = [10.0, -10.0]
    return redigest(doc, files)


def nominal_outside_bounds(doc: Document, files: Files) -> Files:
    doc["parameters"][0]["nominal"] = 20.0
    return redigest(doc, files)


def training_range_outside_bounds(doc: Document, files: Files) -> Files:
    doc["parameters"][1]["training_range"] = [-20.0, 6.0]
    return redigest(doc, files)


def test_vectors_not_reproduced(doc: Document, files: Files) -> Files:
    doc["test_vectors"]["cases"][1]["outputs"]["logpdf"][2] += 1.0
    return redigest(doc, files)


def input_name_mismatch(doc: Document, files: Files) -> Files:
    """bundle.json (and its test vectors) call the input 'theta'; the ONNX graph calls it 'x'."""
    doc["model"]["inputs"][0]["name"] = "theta"
    for case in doc["test_vectors"]["cases"]:
        case["inputs"] = {"theta": case["inputs"].pop("x")}
    return redigest(doc, files)


def output_dtype_mismatch(doc: Document, files: Files) -> Files:
    out = doc["model"]["outputs"][0]
    assert out["name"] == "logpdf" and out["dtype"] == "float32"
    out["dtype"] = "float64"
    return redigest(doc, files)


def opset_mismatch(doc: Document, files: Files) -> Files:
    doc["model"]["opset"] += 1
    return redigest(doc, files)


def custom_operator(doc: Document, files: Files) -> Files:
    """One node moved to a custom operator domain, which would need code from outside the bundle."""
    from onnx import helper

    model = _model_proto(files)
    model.graph.node[0].domain = "com.example"
    model.opset_import.append(helper.make_opsetid("com.example", 1))
    data = model.SerializeToString()
    files = {**files, MODEL: data}
    return _relist(doc, files)


def external_data(doc: Document, files: Files) -> Files:
    """An initializer whose data lives in an external file (here pointing outside the bundle)."""
    from onnx import TensorProto

    model = _model_proto(files)
    tensor = next(t for t in model.graph.initializer if t.name == "mean")
    tensor.ClearField("raw_data")
    tensor.ClearField("float_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "../weights.bin"), ("offset", "0"), ("length", "8")):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    return _relist(doc, {**files, MODEL: model.SerializeToString()})


def per_output_tolerance_violated(doc: Document, files: Files) -> Files:
    """An expected gradient off by 2e-5: within the default tolerance, beyond grad_logpdf's own."""
    tv = doc["test_vectors"]
    grad = tv["cases"][1]["outputs"]["grad_logpdf"]
    grad[2][1] = _rounded(grad[2][1] + 2e-5)
    default, own = tv["tolerance"], tv["tolerances"]["grad_logpdf"]
    assert 2e-5 < default["abs"] and 2e-5 > own["abs"] + own["rel"] * abs(grad[2][1]) * 2
    return redigest(doc, files)


def tolerance_unknown_output(doc: Document, files: Files) -> Files:
    """A per-output tolerance for an output the model does not have (a typo would silently fall back)."""
    tols = doc["test_vectors"]["tolerances"]
    tols["logpfd"] = tols.pop("logpdf")
    return redigest(doc, files)


def parameter_name_trailing_newline(doc: Document, files: Files) -> Files:
    """Parameter 1 renamed "mu\\n" next to "mu": a pattern ending in $ must not accept the newline (ECMA-262)."""
    assert doc["parameters"][0]["name"] == "mu"
    doc["parameters"][1]["name"] = "mu\n"
    return redigest(doc, files)


def _digest_replacing(doc: Document, key: str, canonical_value: bytes) -> str:
    """``document_sha256`` of ``doc`` whose top-level member ``key`` has the canonical form
    ``canonical_value``: for values that dnnlik's own canonicaliser refuses to write."""
    import hashlib

    from dnnlik.digest import canonical_json

    placeholder = f"placeholder of {key}"
    body = {k: v for k, v in doc.items() if k != DIGEST_FIELD}
    body[key] = placeholder
    canonical = canonical_json(body)
    assert canonical.count(json.dumps(placeholder).encode()) == 1
    return hashlib.sha256(canonical.replace(json.dumps(placeholder).encode(), canonical_value)).hexdigest()


def nesting_too_deep(doc: Document, files: Files) -> Files:
    """An extension nested one level beyond the limit: the top-level object is 1, 64 arrays make 65.

    ``document_sha256`` is that of the whole document: a reader that misses the depth
    rule finds nothing else wrong.
    """
    doc["x-deep"] = nested(DEPTH_LIMIT)
    doc[DIGEST_FIELD] = _digest_replacing(doc, "x-deep", b"[" * DEPTH_LIMIT + b"0" + b"]" * DEPTH_LIMIT)
    return as_is(doc, files)


def boolean_in_float_tensor(doc: Document, files: Files) -> Files:
    """A test-vector input element written true in a float32 tensor (booleans are for bool tensors only)."""
    doc["test_vectors"]["cases"][0]["inputs"]["x"][0][0] = True
    return redigest(doc, files)


def lone_surrogate(doc: Document, files: Files) -> Files:
    """An escaped unpaired UTF-16 surrogate in the title (JSON.parse accepts it; a strict reader must not).

    ``document_sha256`` is what a reader that accepts it computes, writing the string as
    JavaScript's JSON.stringify does (the surrogate as the escape ``\\ud800``): such a reader
    finds nothing else wrong.
    """
    title = json.dumps(doc["title"], ensure_ascii=False).encode("utf-8")
    with_surrogate = title[:-1] + b' \\ud800"'
    doc[DIGEST_FIELD] = _digest_replacing(doc, "title", with_surrogate)
    data = as_is(doc, files)["bundle.json"]
    assert data.count(title) == 1
    return {**files, "bundle.json": data.replace(title, with_surrogate)}


def unbounded_loop(doc: Document, files: Files) -> Files:
    """logpdf passed through a Loop of 2**62 iterations: a reader that runs it never returns.

    The Loop carries the value unchanged, so the graph computes the same function and
    passes the ONNX checker; only the static cost rule (spec 4.4: a Loop's trip count is a
    constant of at most 10 000) or a time limit on the run stops it.
    """
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    model = _model_proto(files)
    graph = model.graph
    (producer,) = [n for n in graph.node if "logpdf" in n.output]
    producer.output[list(producer.output).index("logpdf")] = "logpdf_before_loop"
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"], name="keep_going"),
            helper.make_node("Identity", ["value_in"], ["value_out"], name="carry"),
        ],
        "forever",
        [
            helper.make_tensor_value_info("iteration", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("value_in", TensorProto.FLOAT, ["N"]),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("value_out", TensorProto.FLOAT, ["N"]),
        ],
    )
    graph.initializer.extend(
        [
            numpy_helper.from_array(np.array(2**62, np.int64), "trip_count"),
            numpy_helper.from_array(np.array(True), "keep_going"),
        ]
    )
    graph.node.append(
        helper.make_node(
            "Loop", ["trip_count", "keep_going", "logpdf_before_loop"], ["logpdf"], name="loop_2_to_the_62", body=body
        )
    )
    return _relist(doc, {**files, MODEL: model.SerializeToString()})


def _relist(doc: Document, files: Files) -> Files:
    """Re-finalize after changing file contents: the bundle is consistent except for what the file holds."""
    body = {k: v for k, v in doc.items() if k != "files"}
    return as_is(finalize_document(body, {k: v for k, v in files.items() if k != "bundle.json"}), files)


INVALID: dict[str, Callable[[Document, Files], Files]] = {
    "digest-mismatch": digest_mismatch,
    "document-digest-mismatch": document_digest_mismatch,
    "size-mismatch": size_mismatch,
    "missing-model-file": missing_model_file,
    "unlisted-file": unlisted_file,
    "missing-bundle-json": missing_bundle_json,
    "byte-order-mark": byte_order_mark,
    "duplicate-json-key": duplicate_json_key,
    "nan-in-test-vectors": nan_in_test_vectors,
    "wrong-format-version": wrong_format_version,
    "missing-required-field": missing_required_field,
    "bad-semver": bad_semver,
    "unknown-top-level-key": unknown_top_level_key,
    "negative-shape": negative_shape,
    "path-traversal": path_traversal,
    "duplicate-parameter-names": duplicate_parameter_names,
    "inverted-bounds": inverted_bounds,
    "nominal-outside-bounds": nominal_outside_bounds,
    "training-range-outside-bounds": training_range_outside_bounds,
    "test-vectors-not-reproduced": test_vectors_not_reproduced,
    "input-name-mismatch": input_name_mismatch,
    "output-dtype-mismatch": output_dtype_mismatch,
    "opset-mismatch": opset_mismatch,
    "custom-operator": custom_operator,
    "external-data": external_data,
    "per-output-tolerance-violated": per_output_tolerance_violated,
    "tolerance-unknown-output": tolerance_unknown_output,
    "parameter-name-trailing-newline": parameter_name_trailing_newline,
    "nesting-too-deep": nesting_too_deep,
    "boolean-in-float-tensor": boolean_in_float_tensor,
    "lone-surrogate": lone_surrogate,
    "unbounded-loop": unbounded_loop,
}

EXPECTED: dict[str, list[str]] = {
    "digest-mismatch": ["files:digest-mismatch"],
    "document-digest-mismatch": ["files:document-digest"],
    "size-mismatch": ["files:size-mismatch"],
    "missing-model-file": ["files:missing"],
    "unlisted-file": ["files:unlisted"],
    "missing-bundle-json": ["json:missing"],
    "byte-order-mark": ["json:bom"],
    "duplicate-json-key": ["json:duplicate-key"],
    # NaN cannot be canonicalised, so the document digest cannot be verified either; nor is
    # it an element of a float tensor.
    "nan-in-test-vectors": ["files:document-digest", "json:non-finite", "test-vectors:bad-array"],
    "wrong-format-version": ["schema:format-version"],
    "missing-required-field": ["schema:required"],
    "bad-semver": ["schema:pattern"],
    "unknown-top-level-key": ["schema:additionalProperties"],
    "negative-shape": ["schema:minimum"],
    # The listed path is refused by the schema and absent; the model actually there is unlisted.
    "path-traversal": ["files:missing", "files:unlisted", "schema:pattern"],
    "duplicate-parameter-names": ["semantics:duplicate-name"],
    "inverted-bounds": ["semantics:bounds-order"],
    "nominal-outside-bounds": ["semantics:nominal-outside"],
    "training-range-outside-bounds": ["semantics:range-outside"],
    "test-vectors-not-reproduced": ["test-vectors:mismatch"],
    # The test vectors feed the declared name, which the model does not have.
    "input-name-mismatch": ["contract:input-names", "test-vectors:run-failed"],
    "output-dtype-mismatch": ["contract:output-dtype"],
    "opset-mismatch": ["contract:opset"],
    "custom-operator": ["onnx:custom-op"],
    "external-data": ["onnx:external-data"],
    "per-output-tolerance-violated": ["test-vectors:mismatch"],
    "tolerance-unknown-output": ["test-vectors:tolerance-name"],
    "parameter-name-trailing-newline": ["schema:pattern"],
    "nesting-too-deep": ["json:too-deep"],
    "boolean-in-float-tensor": ["test-vectors:bad-array"],
    "lone-surrogate": ["json:lone-surrogate"],
    # refused before it runs (the checker, the test vectors and the behaviour checks do not run)
    "unbounded-loop": ["onnx:unbounded"],
}

INVALID_BASE = "gaussian-2d-float32"


# ----------------------------------------------------------------------------- write


def _write_files(folder: Path, files: Files) -> None:
    folder.mkdir(parents=True)
    for name, data in sorted(files.items()):
        (folder / name).write_bytes(data)


def generate(out: Path) -> None:
    """Write ``out/valid``, ``out/invalid`` and ``out/invalid/expected.json``, replacing what was there."""
    assert set(INVALID) == set(EXPECTED)
    for sub in ("valid", "invalid"):
        shutil.rmtree(out / sub, ignore_errors=True)
        (out / sub).mkdir(parents=True)
    examples = valid_examples()
    for name, (doc, files) in examples.items():
        write_bundle(out / "valid" / name, doc, files)
    base_doc, base_files = examples[INVALID_BASE]
    final = finalize_document(base_doc, base_files)
    for name, breaker in INVALID.items():
        _write_files(out / "invalid" / name, breaker(copy.deepcopy(final), dict(base_files)))
    expected = {name: sorted(codes) for name, codes in sorted(EXPECTED.items())}
    (out / "invalid" / "expected.json").write_text(json.dumps(expected, indent=2) + "\n", encoding="utf-8")


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        print("\n\n".join(__doc__.split("\n\n")[1:3]), file=sys.stderr)
        return 2
    out = Path(argv[0]) if argv else Path(__file__).resolve().parent
    generate(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
