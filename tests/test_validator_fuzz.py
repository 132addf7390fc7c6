"""Property: whatever is done to bundle.json, validate() returns a Report and never raises.

A valid bundle.json is mutated at random JSON paths (members deleted, values
replaced by random JSON of other types, huge and tiny numbers, long strings,
nested lists, extra members), then written either with ``document_sha256``
recomputed (so schema, semantic, ONNX-contract and test-vector stages all see
the mutated document) or without (the digest check fails, later stages still
run). Raw byte edits are fuzzed too. Every problem in the report must have a
code, a one-line message and a location.
"""

from __future__ import annotations

import copy
import functools
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dnnlik
from dnnlik.bundle.write import dump_document
from dnnlik.digest import DIGEST_FIELD, MAX_JSON_DEPTH, document_digest
from dnnlik.report import Report

pytestmark = pytest.mark.slow  # property-based fuzzing of the validator

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@functools.lru_cache(maxsize=1)
def _valid_bundle() -> Path:
    """The example bundle, built once per test process in a private folder."""
    from dnnlik.examples import build_gaussian_bundle

    path = Path(tempfile.mkdtemp(prefix="dnnlik-fuzz-")) / "valid"
    build_gaussian_bundle(path)
    return path


@functools.lru_cache(maxsize=1)
def _valid_document() -> dict[str, Any]:
    return json.loads((_valid_bundle() / "bundle.json").read_bytes())


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every JSON path inside ``value`` (not the root itself)."""
    out: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        for k, v in value.items():
            out.append(prefix + (k,))
            out.extend(_paths(v, prefix + (k,)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.append(prefix + (i,))
            out.extend(_paths(v, prefix + (i,)))
    return out


SPECIAL_NUMBERS = st.sampled_from(
    [
        0,
        -0.0,
        1,
        -1,
        2**53 + 1,
        2**63,
        -(2**63) - 1,
        2**64 + 7,
        10**30,
        1e308,
        -1e308,
        1.7976931348623157e308,
        5e-324,
        1e-300,
        0.5,
        3.0,
        17,
        8,
        1e21,
    ]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | SPECIAL_NUMBERS
    | st.text(max_size=12)
    | st.sampled_from(
        ["", "x", "float32", "float64", "model.onnx", "../etc/passwd", "/abs", "logpdf", "2.0.0", "é" * 3000]
    )
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)
DEEP_LISTS = st.integers(min_value=1, max_value=60).map(lambda n: functools.reduce(lambda acc, _: [acc], range(n), 1.0))

MUTATION = st.tuples(
    # "perturb" keeps the JSON type (numbers stay numbers, lists stay lists), so that
    # many mutants pass the schema and reach the semantic, ONNX and test-vector stages
    st.sampled_from(
        ["delete", "replace", "replace", "add-member", "stringify", "wrap", "perturb", "perturb", "perturb"]
    ),
    st.integers(min_value=0, max_value=10**6),  # which path (modulo their number)
    JSON_VALUES | DEEP_LISTS,
)


NUMBERS = [0, -0.0, 1, -1, 3, 4, 5, 17, 0.5, -10.0, 10.0, 1e-300, 5e-324, 1e21, 1e300, -1e300, 2**53 + 1, 2**63]


def _perturb(old: Any, which: int, value: Any) -> Any:
    """A value of the same JSON type as ``old``."""
    if isinstance(old, bool):
        return not old
    if isinstance(old, (int, float)):
        return NUMBERS[which % len(NUMBERS)] if which % 3 else old * -1.5 + 1
    if isinstance(old, str):
        return value if isinstance(value, str) else old[: which % (len(old) + 1)]
    if isinstance(old, list):
        if not old:
            return [value]
        i = which % len(old)
        choice = which % 4
        if choice == 0:
            return old[:i] + old[i + 1 :]  # drop one element
        if choice == 1:
            return old + [copy.deepcopy(old[i])]  # repeat one element
        if choice == 2:
            return old[::-1]
        return [copy.deepcopy(old[i])] * len(old)
    if isinstance(old, dict):
        return {k: (v if k != "type" else value) for k, v in old.items()}
    return value


def _mutate(doc: dict[str, Any], mutations: list[tuple[str, int, Any]]) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    for action, which, value in mutations:
        paths = _paths(doc)
        if not paths:
            doc[str(which)] = value
            continue
        path = paths[which % len(paths)]
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        key = path[-1]
        if action == "delete":
            del parent[key]
        elif action == "replace":
            parent[key] = value
        elif action == "add-member":
            target = parent[key]
            if isinstance(target, dict):
                target[f"extra_{which % 7}"] = value
            elif isinstance(target, list):
                target.append(value)
            else:
                parent[key] = [target, value]
        elif action == "perturb":
            parent[key] = _perturb(parent[key], which, value)
        elif action == "stringify":
            parent[key] = json.dumps(parent[key])
        else:  # wrap in a list
            parent[key] = [parent[key]]
    return doc


def _depth(value: Any) -> int:
    """How deep arrays and objects nest in ``value`` (the top one is depth 1; a scalar is 0)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is not None:
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _too_deep_is_all_that_is_reported(doc: dict[str, Any]) -> bool:
    """A mutant nested beyond the spec's limit has no canonical form: it is refused as too deep, and only so."""
    if _depth(doc) <= MAX_JSON_DEPTH:
        return False
    report = _validate_document_bytes(dump_document(doc))
    assert [p.code for p in report.errors] == ["json:too-deep"], report.to_text()
    return True


def _restamp(doc: dict[str, Any]) -> dict[str, Any]:
    doc = dict(doc)
    doc.pop(DIGEST_FIELD, None)
    doc[DIGEST_FIELD] = document_digest(doc)
    return doc


def _validate_document_bytes(data: bytes) -> Report:
    with tempfile.TemporaryDirectory(prefix="dnnlik-fuzz-case-") as tmp:
        bundle = Path(tmp) / "bundle"
        shutil.copytree(_valid_bundle(), bundle)
        (bundle / "bundle.json").write_bytes(data)
        report = dnnlik.validate(bundle)  # must never raise
    _check_report(report)
    return report


def _check_report(report: Any) -> None:
    assert isinstance(report, Report)
    assert isinstance(report.ok, bool)
    for p in report.problems:
        assert isinstance(p.code, str) and p.code.count(":") == 1 and all(p.code.split(":")), p
        assert isinstance(p.message, str) and p.message.strip(), p
        assert "\n" not in p.message and "Traceback" not in p.message, p
        assert isinstance(p.location, str) and p.location, p
        file, hash_, pointer = p.location.partition("#")
        assert file, p
        assert not hash_ or pointer.startswith("/"), p
        assert p.level in ("error", "warning"), p
    report.to_text()
    report.to_json()


@SETTINGS
@given(mutations=st.lists(MUTATION, min_size=1, max_size=4), recompute_digest=st.booleans())
def test_mutated_document_never_crashes_validate(mutations: list[tuple[str, int, Any]], recompute_digest: bool) -> None:
    original = _valid_document()
    doc = _mutate(original, mutations)
    if _too_deep_is_all_that_is_reported(doc):
        return
    if recompute_digest:
        doc = _restamp(doc)
    report = _validate_document_bytes(dump_document(doc))
    if doc == original:
        assert report.ok, report.to_text()
    elif not recompute_digest and doc.get(DIGEST_FIELD) == original[DIGEST_FIELD]:
        # the document changed under its old digest: whatever else broke, that is reported
        assert "files:document-digest" in [p.code for p in report.errors], report.to_text()


@SETTINGS
@given(
    mutations=st.lists(
        st.tuples(st.just("perturb"), st.integers(min_value=0, max_value=10**6), JSON_VALUES), min_size=1, max_size=2
    )
)
def test_type_preserving_mutations_never_crash_deep_stages(mutations: list[tuple[str, int, Any]]) -> None:
    # digest recomputed and JSON types kept: most mutants pass the schema, so the
    # semantic, file, ONNX-contract and test-vector checks run on odd values
    doc = _mutate(_valid_document(), mutations)
    if _too_deep_is_all_that_is_reported(doc):
        return
    _validate_document_bytes(dump_document(_restamp(doc)))


@SETTINGS
@given(
    edits=st.lists(
        st.tuples(
            st.sampled_from(["flip", "delete", "insert"]),
            st.integers(min_value=0, max_value=10**6),
            st.binary(min_size=1, max_size=3),
        ),
        min_size=1,
        max_size=3,
    )
)
def test_byte_edited_document_never_crashes_validate(edits: list[tuple[str, int, bytes]]) -> None:
    data = bytearray((_valid_bundle() / "bundle.json").read_bytes())
    for action, where, chunk in edits:
        i = where % len(data)
        if action == "flip":
            data[i] ^= chunk[0] or 0x20
        elif action == "delete":
            del data[i : i + len(chunk)]
        else:
            data[i:i] = chunk
    _validate_document_bytes(bytes(data))


@functools.lru_cache(maxsize=1)
def _valid_zip_bytes() -> bytes:
    from dnnlik.bundle.write import zip_bundle

    out = _valid_bundle().parent / "valid.zip"
    zip_bundle(_valid_bundle(), out, overwrite=True)
    return out.read_bytes()


@SETTINGS
@given(
    edits=st.lists(
        st.tuples(st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=255)),
        min_size=1,
        max_size=4,
    ),
    cut=st.none() | st.integers(min_value=1, max_value=10**6),
)
def test_corrupted_zip_never_crashes_validate(edits: list[tuple[int, int]], cut: int | None) -> None:
    # damaged deflate streams, headers and central directory; truncated archives
    data = bytearray(_valid_zip_bytes())
    for where, byte in edits:
        data[where % len(data)] = byte
    if cut is not None:
        del data[cut % len(data) :]
    with tempfile.TemporaryDirectory(prefix="dnnlik-fuzz-zip-") as tmp:
        path = Path(tmp) / "bundle.zip"
        path.write_bytes(bytes(data))
        report = dnnlik.validate(path)  # must never raise
    _check_report(report)


@SETTINGS
@given(value=JSON_VALUES)
def test_any_json_document_never_crashes_validate(value: Any) -> None:
    # bundle.json holding arbitrary JSON (objects, and other values at the top)
    _validate_document_bytes(json.dumps(value).encode())


def test_unmutated_document_is_valid() -> None:
    # the property above is only meaningful if the starting point validates
    report = _validate_document_bytes(dump_document(_valid_document()))
    assert report.ok, report.to_text()
