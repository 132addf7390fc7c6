"""Evaluate a bundle the way a user of another language would: no dnnlik involved.

The functions in the "foreign reader" section use only json, hashlib, re,
numpy and onnxruntime, and follow the published procedure step by step:

1. read bundle.json strictly (no NaN/Infinity, no duplicate key, no unpaired
   surrogate, nesting at most 64 deep), check format_version (1.0.0 or 1.1.0);
2. check every listed file's size and sha256, and the document's own digest
   (RFC 8785 canonical JSON without ``document_sha256``);
3. open the ONNX file named in ``model.file`` (from bytes, CPU provider);
4. build the [N, P] input in the declared dtype, columns in the order of
   ``parameters``;
5. run, and compare every expected output of the test vectors within its
   tolerance: its entry of ``test_vectors.tolerances`` (format 1.1.0), else
   ``test_vectors.tolerance``; elements of float tensors must be numbers.

dnnlik appears only afterwards, as the thing compared against.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

# --- the foreign reader (json, hashlib, re, numpy, onnxruntime only) -----------------

SUPPORTED = ("1.0.0", "1.1.0")
DTYPES = {"float32": np.float32, "float64": np.float64}
MAX_DEPTH = 64


class ForeignError(Exception):
    pass


def _reject_constant(name: str) -> Any:
    raise ForeignError(f"bundle.json holds {name}, which is not JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ForeignError("bundle.json repeats a key in one object")
    return dict(pairs)


def _check_depth_and_strings(doc: Any) -> None:
    """Nesting at most MAX_DEPTH (the top-level object is 1); no string or key with an unpaired surrogate.

    json decodes an escaped surrogate pair into one character, so any surrogate left is unpaired.
    """
    todo = [(doc, 1)]
    while todo:
        value, depth = todo.pop()
        if isinstance(value, (dict, list)):
            if depth > MAX_DEPTH:
                raise ForeignError(f"bundle.json nests deeper than {MAX_DEPTH}")
            items = list(value.items()) if isinstance(value, dict) else [(None, v) for v in value]
            for key, item in items:
                todo.append((key, depth))
                todo.append((item, depth + 1))
        elif isinstance(value, str) and any(0xD800 <= ord(c) <= 0xDFFF for c in value):
            raise ForeignError("bundle.json holds an unpaired surrogate")


def read_document(folder: Path) -> dict[str, Any]:
    data = (folder / "bundle.json").read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        raise ForeignError("bundle.json has a byte-order mark")
    try:
        doc = json.loads(data.decode("utf-8"), parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)
    except RecursionError:
        raise ForeignError("bundle.json nests too deep") from None
    _check_depth_and_strings(doc)
    if doc.get("format_version") not in SUPPORTED:
        raise ForeignError(f"unsupported format_version {doc.get('format_version')!r}")
    return doc


def _es_number(x: float) -> str:
    """ECMAScript Number.prototype.toString for a finite double (RFC 8785, 3.2.2.3)."""
    if x == 0:
        return "0"
    if x < 0:
        return "-" + _es_number(-x)
    m = re.fullmatch(r"(\d+)(?:\.(\d+))?(?:e([+-]\d+))?", repr(float(x)))
    assert m, repr(x)
    int_part, frac, exp = m.group(1), m.group(2) or "", int(m.group(3) or 0)
    all_digits = int_part + frac  # value = 0.<all_digits> * 10**(len(int_part) + exp)
    leading_zeros = len(all_digits) - len(all_digits.lstrip("0"))
    digits = all_digits.strip("0")
    k, n = len(digits), len(int_part) + exp - leading_zeros  # value = 0.<digits> * 10**n
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * -n + digits
    e = n - 1
    return (digits[0] + ("." + digits[1:] if k > 1 else "")) + ("e+" if e >= 0 else "e-") + str(abs(e))


def canonical(value: Any) -> str:
    """RFC 8785 JSON Canonicalization Scheme."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, (int, float)):
        if isinstance(value, int) and abs(value) < 2**53:
            return str(value)
        if not math.isfinite(value):
            raise ForeignError("non-finite number")
        return _es_number(float(value))
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(canonical(v) for v in value) + "]"
    items = sorted(value.items(), key=lambda kv: kv[0].encode("utf-16-be"))
    return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + canonical(v) for k, v in items) + "}"


def check_files(folder: Path, doc: dict[str, Any]) -> dict[str, bytes]:
    out = {}
    for entry in doc["files"]:
        path = entry["path"]
        if path.startswith("/") or ".." in path.split("/") or "\\" in path:
            raise ForeignError(f"unsafe path {path!r}")
        data = (folder / path).read_bytes()
        if len(data) != entry["size"]:
            raise ForeignError(f"{path}: size {len(data)} != {entry['size']}")
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise ForeignError(f"{path}: sha256 mismatch")
        out[path] = data
    body = {k: v for k, v in doc.items() if k != "document_sha256"}
    if hashlib.sha256(canonical(body).encode("utf-8")).hexdigest() != doc["document_sha256"]:
        raise ForeignError("document_sha256 mismatch")
    return out


class ForeignLikelihood:
    def __init__(self, folder: Path) -> None:
        self.doc = doc = read_document(folder)
        files = check_files(folder, doc)
        model = doc["model"]
        self.session = ort.InferenceSession(files[model["file"]], providers=["CPUExecutionProvider"])
        (self.input,) = model["inputs"]
        self.outputs = {t["role"]: t["name"] for t in model["outputs"]}
        self.names = [p["name"] for p in doc["parameters"]]
        self.dtype = DTYPES[self.input["dtype"]]
        if [i.name for i in self.session.get_inputs()] != [self.input["name"]]:
            raise ForeignError("model inputs differ from bundle.json")
        if [o.name for o in self.session.get_outputs()] != [t["name"] for t in model["outputs"]]:
            raise ForeignError("model outputs differ from bundle.json")
        if self.input["shape"] != [None, len(self.names)]:
            raise ForeignError("input shape is not [N, P]")

    def points(self, by_name: dict[str, np.ndarray]) -> np.ndarray:
        """The [N, P] input: one column per parameter, in the declared order."""
        return np.stack([np.asarray(by_name[n], dtype=np.float64) for n in self.names], axis=1).astype(self.dtype)

    def run(self, x: np.ndarray, roles: list[str]) -> list[np.ndarray]:
        names = [self.outputs[r] for r in roles]
        outs = self.session.run(names, {self.input["name"]: np.ascontiguousarray(x, dtype=self.dtype)})
        return [np.asarray(o, dtype=np.float64) for o in outs]

    def check_test_vectors(self) -> int:
        tv = self.doc["test_vectors"]
        per_output = tv.get("tolerances", {})
        declared_outputs = [t["name"] for t in self.doc["model"]["outputs"]]
        if any(name not in declared_outputs for name in per_output):
            raise ForeignError("test_vectors.tolerances names an output the model does not have")
        n = 0
        for case in tv["cases"]:
            if set(case["inputs"]) != {self.input["name"]}:
                raise ForeignError("a test-vector case does not give exactly the model's inputs")
            feeds = {name: _float_tensor(v).astype(self.dtype) for name, v in case["inputs"].items()}
            names = list(case["outputs"])
            for name, got in zip(names, self.session.run(names, feeds), strict=True):
                tol = per_output.get(name, tv["tolerance"])
                expected = _float_tensor(case["outputs"][name])
                got = np.asarray(got, dtype=np.float64)
                if got.shape != expected.shape:
                    raise ForeignError(f"{name}: shape {got.shape} != {expected.shape}")
                if not np.all(np.abs(got - expected) <= tol["abs"] + tol["rel"] * np.abs(expected)):
                    raise ForeignError(f"{name}: test vector not reproduced")
                n += 1
        return n


def _float_tensor(value: Any) -> np.ndarray:
    """A test-vector tensor of a float dtype: nested arrays of numbers (true/false are bool elements)."""
    todo = [value]
    while todo:
        v = todo.pop()
        if isinstance(v, list):
            todo.extend(v)
        elif isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ForeignError(f"{v!r} is not an element of a float tensor")
    try:
        return np.asarray(value, dtype=np.float64)
    except ValueError:
        raise ForeignError("a test-vector tensor is ragged") from None


FOREIGN_CODE = [
    _no_duplicates,
    _check_depth_and_strings,
    read_document,
    _es_number,
    canonical,
    check_files,
    ForeignLikelihood,
    _float_tensor,
]

# --- tests ------------------------------------------------------------------------------


def test_foreign_reader_does_not_use_dnnlik() -> None:
    for obj in FOREIGN_CODE:
        assert "dnnlik" not in inspect.getsource(obj), obj.__name__


def test_foreign_reader_reproduces_test_vectors(gaussian_bundle: Path) -> None:
    lik = ForeignLikelihood(gaussian_bundle)
    n = lik.check_test_vectors()
    assert n == 2 * len(lik.doc["test_vectors"]["cases"])  # logpdf and grad_logpdf of every case
    assert set(lik.outputs) >= {"logpdf", "grad_logpdf"}


def test_foreign_reader_agrees_with_dnnlik_in_bounds(gaussian_bundle: Path) -> None:
    lik = ForeignLikelihood(gaussian_bundle)
    rng = np.random.default_rng(12345)
    by_name = {}
    for p in lik.doc["parameters"]:
        lo, hi = p["bounds"]
        lo = p["training_range"][0] if lo is None else lo
        hi = p["training_range"][1] if hi is None else hi
        by_name[p["name"]] = rng.uniform(lo, hi, 257)
    x = lik.points(by_name)
    value, grad = lik.run(x, ["logpdf", "grad_logpdf"])
    assert value.shape == (257,) and grad.shape == (257, len(lik.names))
    assert np.isfinite(value).all() and np.isfinite(grad).all()

    import dnnlik  # only now: dnnlik is what the foreign result is compared with

    bundle = dnnlik.load(gaussian_bundle)
    assert bundle.parameter_names == tuple(lik.names)
    np.testing.assert_allclose(bundle.logpdf(x), value, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(bundle.grad_logpdf(x), grad, rtol=1e-12, atol=1e-12)
    # named input in another order: dnnlik must place the columns as declared
    shuffled = dict(reversed(list(by_name.items())))
    np.testing.assert_allclose(bundle.logpdf(shuffled), value, rtol=1e-12, atol=1e-12)
    # and the gradient is the gradient: a central difference in float64
    h = 1e-6
    j = 2
    step = np.zeros(len(lik.names))
    step[j] = h
    (up,) = lik.run(x[:5] + step, ["logpdf"])
    (down,) = lik.run(x[:5] - step, ["logpdf"])
    np.testing.assert_allclose((up - down) / (2 * h), grad[:5, j], rtol=1e-5, atol=1e-6)


def test_foreign_digest_matches_dnnlik(gaussian_bundle: Path) -> None:
    from dnnlik.digest import canonical_json

    doc = read_document(gaussian_bundle)
    body = {k: v for k, v in doc.items() if k != "document_sha256"}
    assert canonical(body).encode("utf-8") == canonical_json(body)
    for x in (
        1e-7,
        1e21,
        1e23,
        5e-324,
        0.1,
        123456789012345680000.0,
        1.5,
        -1e-300,
        1e20,
        1e-6,
        2.5e-7,
        1.7976931348623157e308,
    ):
        assert canonical(x).encode() == canonical_json(x), x


@pytest.mark.parametrize("tamper", ["model-byte", "document-edit", "nan"])
def test_foreign_reader_refuses_tampered_bundles(gaussian_bundle: Path, tmp_path: Path, tamper: str) -> None:
    folder = tmp_path / "b"
    shutil.copytree(gaussian_bundle, folder)
    if tamper == "model-byte":
        data = bytearray((folder / "model.onnx").read_bytes())
        data[-1] ^= 1
        (folder / "model.onnx").write_bytes(bytes(data))
    elif tamper == "document-edit":
        text = (folder / "bundle.json").read_text()
        (folder / "bundle.json").write_text(text.replace('"nominal": 0.0', '"nominal": 0.5', 1))
    else:
        text = (folder / "bundle.json").read_text()
        (folder / "bundle.json").write_text(text.replace('"offset": 0.0', '"offset": NaN', 1))
    with pytest.raises(ForeignError):
        ForeignLikelihood(folder)


EXAMPLES = Path(__file__).resolve().parent.parent / "spec" / "examples"

#: Invalid spec examples whose defect lies in what the foreign reader checks (reading, digests,
#: test vectors); the others need a schema validator or an ONNX model inspection.
FOREIGN_REFUSES = [
    "byte-order-mark",
    "digest-mismatch",
    "document-digest-mismatch",
    "duplicate-json-key",
    "lone-surrogate",
    "missing-model-file",
    "nan-in-test-vectors",
    "nesting-too-deep",
    "size-mismatch",
    "test-vectors-not-reproduced",
    "per-output-tolerance-violated",
    "tolerance-unknown-output",
    "boolean-in-float-tensor",
    "wrong-format-version",
]


@pytest.mark.parametrize("name", sorted(p.name for p in (EXAMPLES / "valid").iterdir() if p.is_dir()))
def test_foreign_reader_accepts_the_valid_spec_examples(name: str) -> None:
    lik = ForeignLikelihood(EXAMPLES / "valid" / name)
    outputs = {t["name"] for t in lik.doc["model"]["outputs"]}
    assert lik.check_test_vectors() == sum(len(c["outputs"]) for c in lik.doc["test_vectors"]["cases"])
    assert set(lik.doc["test_vectors"].get("tolerances", {})) <= outputs


@pytest.mark.parametrize("name", FOREIGN_REFUSES)
def test_foreign_reader_refuses_the_invalid_spec_examples(name: str) -> None:
    folder = EXAMPLES / "invalid" / name
    assert folder.is_dir(), name
    with pytest.raises((ForeignError, FileNotFoundError)):
        ForeignLikelihood(folder).check_test_vectors()


def test_per_output_tolerance_is_what_refuses_the_example() -> None:
    """Without 'tolerances' (the default alone) the example passes: the per-output rule does the work."""
    folder = EXAMPLES / "invalid" / "per-output-tolerance-violated"
    lik = ForeignLikelihood(folder)
    with pytest.raises(ForeignError, match="grad_logpdf"):
        lik.check_test_vectors()
    del lik.doc["test_vectors"]["tolerances"]
    assert lik.check_test_vectors() == 4


def test_module_imports_only_the_allowed_libraries() -> None:
    source = Path(__file__).read_text()
    top = source.split("# --- tests", 1)[0]
    imports = set(re.findall(r"^(?:import|from) ([\w.]+)", top, flags=re.M))
    assert imports <= {
        "__future__",
        "hashlib",
        "inspect",
        "json",
        "math",
        "re",
        "shutil",
        "pathlib",
        "typing",
        "numpy",
        "onnxruntime",
        "pytest",
    }, imports
    assert not any(i.startswith("dnnlik") for i in imports)
