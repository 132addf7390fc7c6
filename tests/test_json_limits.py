"""One explicit nesting limit for JSON (issue 12): 64 levels, the top-level value being level 1.

The same limit in every stage, each refusing deeper input with a clear message and never
with RecursionError: the parser (a linear pre-scan of the text, ``json:too-deep``), the
canonical form behind ``document_sha256`` (ValueError), schema validation
(``json:too-deep`` before the validator recurses), the test-vector shape check (level by
level), and :func:`loads_bounded` for every other JSON dnnlik reads from outside. Depth
exactly 64 is valid everywhere; what dnnlik itself writes is far below it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from broken_catalog import read_document, rebuild

import dnnlik
from dnnlik.bundle.document import MAX_JSON_DEPTH, find_too_deep, loads_bounded, parse_document
from dnnlik.bundle.semantics import iter_semantic_problems
from dnnlik.digest import canonical_json, document_digest
from dnnlik.errors import InvalidInputError
from dnnlik.report import json_pointer
from dnnlik.schema import iter_schema_problems

ROOT = Path(__file__).resolve().parents[1]


def nested_list(depth: int, leaf: Any = 1) -> Any:
    """``depth`` lists one inside the other (built without recursion): depth 1 is ``[leaf]``."""
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def nested_text(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


def max_depth(value: Any) -> int:
    """Nesting depth of arrays and objects (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is not None:
            deepest = max(deepest, depth)
            stack.extend((c, depth + 1) for c in children)
    return deepest


def test_the_limit_is_64() -> None:
    assert MAX_JSON_DEPTH == 64
    assert max_depth(nested_list(64)) == 64 and max_depth({"a": [{}]}) == 3  # the helper counts as the spec does


# -- the text pre-scan -----------------------------------------------------------------


@pytest.mark.parametrize("depth", [1, 2, 63, 64])
def test_prescan_accepts_up_to_the_limit(depth: int) -> None:
    assert find_too_deep(nested_text(depth)) is None
    assert find_too_deep("{" + '"a":{' * (depth - 1) + "}" * depth) is None


@pytest.mark.parametrize("depth", [65, 66, 1000, 1_000_000])
def test_prescan_finds_the_first_bracket_beyond_the_limit(depth: int) -> None:
    offset, place = find_too_deep(nested_text(depth))
    assert offset == 64  # the 65th '['
    assert "line 1, column 65" in place


def test_prescan_ignores_brackets_inside_strings_and_names_the_place() -> None:
    tricky = '{"k[[[[": "]]]]\\"[[[[", "a": [0, {"b\\\\": [[[1]]]}]}'
    assert find_too_deep(tricky, max_depth=6) is None
    offset, place = find_too_deep(tricky, max_depth=5)
    assert tricky[offset] == "["
    assert place.startswith("/a/1/b\\/0/0 ")  # the key "b\" decoded; index 1 of "a"; two arrays down
    assert find_too_deep('["' + "[" * 100, max_depth=1) is None  # an unterminated string: not brackets
    text = "{\n" + '"x": ' + nested_text(70) + "\n}"
    assert "line 2, column 69" in find_too_deep(text)[1]


def test_prescan_is_linear_on_a_large_document() -> None:
    import time

    text = json.dumps({"a": [[0.123456789] * 50] * 8_000, "s": ['\\"[' * 1000] * 100})
    assert len(text) > 4_000_000
    started = time.monotonic()
    assert find_too_deep(text) is None
    assert find_too_deep(nested_text(1_000_000)) is not None
    assert time.monotonic() - started < 30  # generous: about 0.3 s here; a quadratic scan takes hours


def _reference_scan(text: str, limit: int) -> tuple[int, str] | None:
    """A plain character-by-character reader of JSON text: the offset of the first bracket beyond
    ``limit`` and the JSON pointer of that bracket, tracking keys and indices as a parser would."""
    frames: list[list[Any]] = []  # [is_array, index or key, expecting_key]
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            if j >= n:
                return None  # a string that never ends
            if frames and not frames[-1][0] and frames[-1][2]:
                frames[-1][1] = json.loads(text[i : j + 1])
            i = j + 1
            continue
        if c in "[{":
            if len(frames) + 1 > limit:
                return i, json_pointer([f[1] for f in frames])
            frames.append([c == "[", 0 if c == "[" else "", c == "{"])
        elif c in "]}" and frames:
            frames.pop()
        elif c == "," and frames:
            if frames[-1][0]:
                frames[-1][1] += 1
            else:
                frames[-1][2] = True
        elif c == ":" and frames:
            frames[-1][2] = False
        i += 1
    return None


def _random_json(rng: Any, depth: int) -> Any:
    if depth > 9 or rng.random() < 0.25:
        return rng.choice([0, -1.5, "s", 'q"[{\\', "\u00e9]", "", None, True, "\\", '\\\\"', "a\u2028b"])
    if rng.random() < 0.5:
        return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    keys = ["a", 'k"]', "[{", "\\", "x/y~z", "é", ""]
    return {rng.choice(keys): _random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))}


@pytest.mark.slow
@pytest.mark.parametrize("chunk", [1, 3, 7, 64, 1 << 20])
def test_prescan_agrees_with_a_plain_reader(chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The vectorised scan, in chunks of every size (state carried across: escapes, strings, depth),
    finds the same bracket and the same JSON pointer as a character-by-character reader."""
    import random

    from dnnlik.bundle import document as module

    monkeypatch.setattr(module, "_CHUNK", chunk)
    rng = random.Random(chunk)
    checked = found = 0
    for _ in range(150):
        text = json.dumps(_random_json(rng, 0), ensure_ascii=rng.random() < 0.5, indent=rng.choice([None, 1]))
        if rng.random() < 0.1:
            text = text[: rng.randint(0, len(text))]  # not JSON any more: still scanned the same way
        for limit in (1, 2, 3, 5, 8):
            want = _reference_scan(text, limit)
            got = find_too_deep(text, limit)
            assert (got is None) == (want is None), (text, limit, got, want)
            if got is not None:
                assert got[0] == want[0] and got[1].startswith((want[1] or "/") + " ("), (text, limit, got, want)
                found += 1
            checked += 1
    assert found > 100 and checked == 750


# -- the strict parser of bundle.json ------------------------------------------------------


@pytest.mark.parametrize("depth", [65, 980, 100_000])
def test_parse_document_refuses_deep_documents(depth: int) -> None:
    data = ('{"format_version": "1.0.0", "x-deep": ' + nested_text(depth - 1) + "}").encode()
    if depth < 900:
        assert max_depth(json.loads(data)) == depth
    document, problems = parse_document(data)
    assert document is None
    assert [p.code for p in problems] == ["json:too-deep"]
    (problem,) = problems
    assert problem.location == "bundle.json"
    assert "64" in problem.message and "/x-deep/0/0" in problem.message
    assert "\n" not in problem.message and len(problem.message) <= 400


def test_parse_document_accepts_depth_64_and_still_refuses_it_with_a_small_stack() -> None:
    data = ('{"x-deep": ' + nested_text(63) + "}").encode()
    document, problems = parse_document(data)
    assert problems == [] and max_depth(document) == 64
    # the depth check does not lean on Python's recursion limit: with little stack left, a
    # deeper document is still refused by the pre-scan rather than by a RecursionError
    deeper = ('{"x-deep": ' + nested_text(5000) + "}").encode()
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(120)
    try:
        document, problems = parse_document(deeper)
    finally:
        sys.setrecursionlimit(limit)
    assert document is None and [p.code for p in problems] == ["json:too-deep"]


def test_problems_deep_inside_are_located_exactly() -> None:
    """The walks that find non-finite numbers, unpaired surrogates and duplicate keys name the exact
    place at the deepest allowed level (and keep document order)."""
    from dnnlik.bundle.document import iter_nonfinite

    inner = nested_text(60, '{"k": NaN, "k": 1e400, "s": "\\ud800"}')
    text = '{"a": [0, 1, ' + inner + '], "b": -Infinity}'
    document, problems = parse_document(text.encode())
    assert document is None and [p.code for p in problems] == ["json:lone-surrogate"]
    assert problems[0].location == "bundle.json#/a/2" + "/0" * 60 + "/s"
    document, problems = parse_document(text.replace("\\ud800", "ok").encode())
    assert [(p.code, p.location) for p in problems] == [
        ("json:duplicate-key", "bundle.json#/a/2" + "/0" * 60 + "/k"),
        ("json:number-range", "bundle.json#/a/2" + "/0" * 60 + "/k"),
        ("json:non-finite", "bundle.json#/b"),
    ]
    assert [pointer for pointer, _ in iter_nonfinite([1.0, {"x": [float("nan")]}, float("inf")], ("t",))] == [
        "/t/1/x/0",
        "/t/2",
    ]
    assert list(iter_nonfinite(float("-inf"), ("t",)))[0][0] == "/t"


@pytest.mark.slow
def test_a_document_dense_at_the_limit_is_read_in_bounded_time() -> None:
    """Many arrays exactly 64 deep, about 1 MB: every stage is linear in the size (a walk that copies
    the path of every value is size x depth), so this takes well under a second per stage."""
    import time

    unit = "[" * 62 + "0" + "]" * 62
    text = '{"x-wide": [' + ",".join([unit] * 8_000) + "]}"
    started = time.monotonic()
    document, problems = parse_document(text.encode())
    assert problems == [] and max_depth(document) == 64
    codes = {p.code for p in iter_schema_problems(document, "1.0.0")}
    assert codes and "json:too-deep" not in codes  # not a bundle, but within the limit
    document_digest(document)
    assert time.monotonic() - started < 20  # about 1 s here; a size x depth walk takes about 30 s


# -- canonical form, schema, semantics -------------------------------------------------------


def test_canonical_json_accepts_depth_64_and_refuses_deeper_with_value_error() -> None:
    assert canonical_json(nested_list(64)) == nested_text(64).encode()
    assert canonical_json({"a": nested_list(63)}) == ('{"a":' + nested_text(63) + "}").encode()
    for depth in (65, 100_000):
        with pytest.raises(ValueError, match="64"):
            canonical_json(nested_list(depth))
    with pytest.raises(ValueError, match="64"):
        document_digest({"x-deep": nested_list(5000)})
    cycle: list[Any] = []
    cycle.append(cycle)
    with pytest.raises(ValueError):
        canonical_json(cycle)  # was RecursionError
    assert canonical_json(nested_list(70), max_depth=70) == nested_text(70).encode()


def test_canonical_json_is_unchanged_by_being_iterative() -> None:
    value = {"b": [1, 2.5, None, True, False, "é\u2028"], "a": {"y": [], "x": {}}, "\u20ac": [[1e21, 1e-7]]}
    assert (
        canonical_json(value)
        == '{"a":{"x":{},"y":[]},"b":[1,2.5,null,true,false,"é\u2028"],"\u20ac":[[1e+21,1e-7]]}'.encode()
    )


@pytest.fixture(scope="module")
def document(gaussian_bundle: Path) -> dict[str, Any]:
    return read_document(gaussian_bundle)


def test_schema_validation_refuses_deep_documents_before_recursing(document: dict[str, Any]) -> None:
    doc = dict(document, **{"x-deep": nested_list(20_000)})
    problems = list(iter_schema_problems(doc))
    assert [p.code for p in problems] == ["json:too-deep"]
    assert "/x-deep/0/0" in problems[0].message
    deep_tensor = json.loads(json.dumps(document))
    deep_tensor["test_vectors"]["cases"][0]["inputs"]["x"] = nested_list(200, 0.5)
    assert [p.code for p in iter_schema_problems(deep_tensor)] == ["json:too-deep"]


def test_schema_validation_works_at_the_limit(document: dict[str, Any]) -> None:
    doc = json.loads(json.dumps(document))
    # the innermost array of the tensor is at depth 64: the schema recurses into nested numbers
    doc["test_vectors"]["cases"][0]["inputs"]["x"] = nested_list(59, 0.5)
    assert max_depth(doc) == 64
    assert list(iter_schema_problems(doc)) == []
    shape = [p for p in iter_semantic_problems(doc, set()) if p.code.startswith("semantics:test-vector")]
    assert [p.code for p in shape] == ["semantics:test-vector-shape"]
    assert shape[0].location == "bundle.json#/test_vectors/cases/0/inputs/x"


def test_test_vector_shape_check_does_not_recurse(document: dict[str, Any]) -> None:
    # a tensor built in Python (no parser in front of it) far deeper than any stack
    doc = json.loads(json.dumps(document))
    doc["test_vectors"]["cases"][0]["inputs"]["x"] = nested_list(100_000, 0.5)
    doc["test_vectors"]["cases"][1]["outputs"]["logpdf"] = [[1.0], 2.0]
    problems = {p.location.rsplit("/", 3)[-3]: p.code for p in iter_semantic_problems(doc, set())}
    assert problems == {"0": "semantics:test-vector-shape", "1": "semantics:test-vector-ragged"}


def test_depth_64_bundle_is_valid_end_to_end(gaussian_bundle: Path, tmp_path: Path) -> None:
    """Not a catalog entry: the deepest document the limit allows validates and loads."""

    def edit(d: dict[str, Any]) -> None:
        d["x-deep"] = nested_list(61, {"leaf": []})  # x-deep is level 2, the object 63, its array 64

    target = rebuild(gaussian_bundle, tmp_path / "bundle", edit_document=edit)
    assert max_depth(json.loads((target / "bundle.json").read_bytes())) == 64
    report = dnnlik.validate(target)
    assert report.ok, report.to_text()
    dnnlik.load(target)


# -- loads_bounded: the limit for every other JSON read from outside -------------------------


def test_loads_bounded_reads_what_json_reads() -> None:
    text = '{"a": [1, 2.5, "x"], "b": null}'
    assert loads_bounded(text) == json.loads(text)
    assert loads_bounded(text.encode()) == json.loads(text)
    assert loads_bounded("\ufeff[1]".encode()) == [1]  # a BOM in bytes is tolerated, as json.load of a file
    assert loads_bounded(nested_text(64)) == nested_list(64)


@pytest.mark.parametrize(
    "data, words",
    [
        (nested_text(65), ["64", "/0/0"]),
        (nested_text(500_000), ["64"]),
        ('{"a": ' * 100_000 + "1" + "}" * 100_000, ["64", "/a/a"]),
        ("[1, 2", ["not valid JSON"]),
        (b"\xff[]", ["not UTF-8"]),
        ("1" * 5000, ["cannot be read"]),  # beyond Python's integer digit limit: ValueError, not JSONDecodeError
    ],
)
def test_loads_bounded_refuses_with_one_clear_error(data: str | bytes, words: list[str]) -> None:
    with pytest.raises(InvalidInputError) as info:
        loads_bounded(data, where="record.json")
    message = str(info.value)
    assert message.startswith("record.json: ")
    assert "\n" not in message and len(message) < 400
    for word in words:
        assert word in message


def test_loads_bounded_limits_size_and_depth_as_asked() -> None:
    with pytest.raises(InvalidInputError, match="more than the 100"):
        loads_bounded("[" + "1," * 100 + "1]", max_bytes=100)
    with pytest.raises(InvalidInputError, match="more than the 100"):
        loads_bounded(b" " * 101, max_bytes=100)
    with pytest.raises(InvalidInputError, match="more than 3 deep"):
        loads_bounded("[[[[1]]]]", max_depth=3)
    assert loads_bounded("[[[1]]]", max_depth=3) == [[[1]]]
    with pytest.raises(ValueError):  # InvalidInputError is a ValueError: old `except ValueError` still works
        loads_bounded("{")


# -- what dnnlik writes is far below the limit ---------------------------------------------------


def _written_documents() -> list[Path]:
    paths = sorted((ROOT / "spec" / "examples" / "valid").glob("*/bundle.json"))
    paths += sorted((ROOT / "zoo").glob("*/bundle/bundle.json"))
    return paths


def test_documents_dnnlik_writes_are_far_from_the_limit(gaussian_bundle: Path) -> None:
    paths = _written_documents() + [gaussian_bundle / "bundle.json"]
    assert any("zoo" in p.parts for p in paths) and any("examples" in p.parts for p in paths)
    for path in paths:
        document = json.loads(path.read_bytes())
        assert max_depth(document) <= MAX_JSON_DEPTH, path
        # producers' extensions aside (a spec example deliberately holds one at the limit)
        depth = max_depth({k: v for k, v in document.items() if not k.startswith("x-")})
        assert depth <= MAX_JSON_DEPTH // 4, f"{path}: nests {depth} deep"
    zoo_index = ROOT / "zoo" / "index.json"
    if zoo_index.exists():
        assert max_depth(json.loads(zoo_index.read_bytes())) <= MAX_JSON_DEPTH // 4
