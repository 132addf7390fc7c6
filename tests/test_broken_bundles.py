"""Every broken bundle of the catalog (tests/broken_catalog.py) is refused, clearly.

For each entry: ``validate`` returns (never raises) a report that is not ok
and holds the expected problem code; every error has a location naming a
file (with a JSON pointer for problems inside bundle.json) and a one-line
message with no traceback or exception repr; ``load`` raises
InvalidBundleError whose text names the problem.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import broken_catalog
from broken_catalog import CATALOG, Broken

import dnnlik
from dnnlik.errors import InvalidBundleError
from dnnlik.report import Problem, reports_to_json, reports_to_junit

# Problems about bundle.json as a whole (no member to point at).
WHOLE_DOCUMENT = {
    "json:missing",
    "json:too-large",
    "json:bom",
    "json:not-utf8",
    "json:invalid",
    "json:too-deep",
    "json:not-object",
}
# Problems that are always about one member of bundle.json, so must carry a pointer.
NEEDS_POINTER = (
    "json:non-finite",
    "json:number-range",
    "json:duplicate-key",
    "semantics:",
    "contract:",
    "test-vectors:mismatch",
    "files:digest-mismatch",
    "files:size-mismatch",
    "files:document-digest",
)
EXCEPTION_REPR = re.compile(r"\b[A-Z][A-Za-z]*(Error|Exception|Warning)\(")


def test_catalog_is_large_and_distinct() -> None:
    names = [b.name for b in CATALOG]
    assert len(CATALOG) >= 30
    assert len(set(names)) == len(names), "catalog names must be distinct"
    assert all(b.code.count(":") == 1 for b in CATALOG)
    assert all(b.about for b in CATALOG), "each entry says what it breaks"


def test_catalog_covers_required_defects() -> None:
    codes = {b.code for b in CATALOG}
    for code in (
        "archive:unreadable",
        "archive:unsafe-path",
        "archive:link",
        "archive:zip-bomb",
        "json:missing",
        "json:too-large",
        "json:not-utf8",
        "json:bom",
        "json:invalid",
        "json:duplicate-key",
        "json:non-finite",
        "schema:format-version",
        "files:missing",
        "files:unlisted",
        "files:digest-mismatch",
        "files:document-digest",
        "semantics:duplicate-name",
        "semantics:bounds-order",
        "semantics:nominal-outside",
        "semantics:test-vector-shape",
        "semantics:tensor-shape",
        "onnx:unreadable",
        "onnx:custom-op",
        "onnx:external-data",
        "contract:input-names",
        "contract:input-shape",
        "contract:output-dtype",
        "test-vectors:mismatch",
    ):
        assert code in codes, code


def test_the_valid_bundle_is_valid(gaussian_bundle: Path, gaussian_zip: Path) -> None:
    # The baseline every entry breaks: without this, "not ok" below would prove nothing.
    for path in (gaussian_bundle, gaussian_zip):
        report = dnnlik.validate(path)
        assert report.ok, report.to_text()


def _check_location(problem: Problem, target: Path) -> None:
    loc = problem.location
    assert loc, f"{problem.code} has no location"
    assert "\n" not in loc
    file, hash_, pointer = loc.partition("#")
    assert file, f"{problem.code}: location {loc!r} names no file"
    if hash_:
        assert pointer.startswith("/"), f"{problem.code}: {loc!r} has an empty or malformed JSON pointer"
        assert file == "bundle.json", f"{problem.code}: JSON pointer into {file!r}"
    if problem.code.startswith(NEEDS_POINTER):
        assert file == "bundle.json" and pointer.startswith("/"), f"{problem.code}: {loc!r} needs a bundle.json pointer"
    if problem.code in WHOLE_DOCUMENT:
        assert loc == "bundle.json", f"{problem.code}: {loc!r}"
    if problem.code == "archive:unreadable":
        assert loc == str(target)


def _check_message(problem: Problem) -> None:
    msg = problem.message
    assert msg and msg == msg.strip(), f"{problem.code}: empty or padded message {msg!r}"
    assert "\n" not in msg and "\r" not in msg, f"{problem.code}: multi-line message {msg!r}"
    assert "Traceback" not in msg and 'File "' not in msg, f"{problem.code}: traceback in {msg!r}"
    assert not EXCEPTION_REPR.search(msg), f"{problem.code}: exception repr in {msg!r}"
    assert "np.int64(" not in msg and "np.float64(" not in msg, f"{problem.code}: numpy repr in {msg!r}"
    assert len(msg) <= 400, f"{problem.code}: message too long ({len(msg)} characters)"


@pytest.mark.parametrize("entry", CATALOG, ids=str)
def test_broken_bundle_is_refused(entry: Broken, gaussian_bundle: Path, tmp_path: Path) -> None:
    target = entry.build(gaussian_bundle, tmp_path)

    report = dnnlik.validate(target)  # must not raise

    assert not report.ok, f"{entry.name}: a broken bundle validated"
    codes = [p.code for p in report.errors]
    assert entry.code in codes, f"{entry.name}: expected {entry.code}, got\n{report.to_text()}"
    for problem in report.problems:
        _check_location(problem, target)
        _check_message(problem)
        assert problem.level in ("error", "warning")
    # a malformed test vector is reported by the static check, not again by running it
    static = {p.location for p in report.errors if p.code.startswith("semantics:test-vector")}
    ran = {p.location for p in report.errors if p.code.startswith("test-vectors:")}
    assert not static & ran, f"{entry.name}: reported twice\n{report.to_text()}"
    # every rendering works for every broken bundle
    assert entry.code in report.to_text()
    json.loads(reports_to_json([report]))
    assert entry.code in reports_to_junit([report])

    with pytest.raises(InvalidBundleError) as info:
        dnnlik.load(target)
    text = str(info.value)
    assert entry.code in text
    assert "Traceback" not in text
    assert info.value.report is not None
    assert entry.code in [p.code for p in info.value.report.errors]


@pytest.mark.parametrize(
    "entry", [broken_catalog.by_name("zip-parent-traversal"), broken_catalog.by_name("zip-symlink-entry")], ids=str
)
def test_unsafe_zip_entries_are_not_extracted(entry: Broken, gaussian_bundle: Path, tmp_path: Path) -> None:
    target = entry.build(gaussian_bundle, tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    dnnlik.validate(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert not (tmp_path.parent / "evil.txt").exists()


def test_huge_document_is_refused_by_size_without_being_opened(
    gaussian_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    target = broken_catalog.by_name("json-huge-sparse").build(gaussian_bundle, tmp_path)
    doc = target / "bundle.json"
    assert doc.stat().st_size >= 256 * 1024 * 1024
    real_open = os.open
    opened: list[str] = []

    def spying_open(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        opened.append(str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", spying_open)
    report = dnnlik.validate(target)
    assert [p.code for p in report.errors] == ["json:too-large"]
    assert not [p for p in opened if p.endswith("bundle.json")], opened


@pytest.mark.parametrize(
    "name, words",
    [
        ("format-version-future-major", ["'2.0.0'", "newer"]),
        ("format-version-wrong", ["version string", "1.0"]),
        ("format-version-missing", ["missing"]),
        ("json-duplicate-key", ["'name'"]),
        ("json-nan-literal", ["NaN"]),
        ("json-infinity-literal", ["Infinity"]),
        ("json-huge-integer", ["range of a double"]),
        ("inverted-bounds", ["10.0", "-10.0"]),
        ("onnx-input-name", ["theta", "x"]),
        ("test-vectors-not-reproduced", ["index [3]", "tolerance"]),
        ("zip-parent-traversal", ["../evil.txt"]),
    ],
)
def test_messages_say_what_is_wrong(name: str, words: list[str], gaussian_bundle: Path, tmp_path: Path) -> None:
    entry = broken_catalog.by_name(name)
    report = dnnlik.validate(entry.build(gaussian_bundle, tmp_path))
    (problem, *_) = [p for p in report.errors if p.code == entry.code]
    for word in words:
        assert word in problem.message, (word, str(problem))
    if name != "format-version-future-major":
        assert "newer" not in problem.message


@pytest.mark.slow
def test_the_cli_refuses_every_entry_under_a_4_gib_address_space(gaussian_bundle: Path, tmp_path: Path) -> None:
    """Issue 12's promise, for the whole catalog at once: ``dnnlik validate`` under ``ulimit -v 4194304``
    reports every entry as invalid (exit 1) with its code, in a bounded time, and never prints a traceback."""
    import os
    import resource
    import subprocess

    targets = []
    for i, entry in enumerate(CATALOG):
        if entry.name.startswith("path-"):  # the path itself is the defect (missing, NUL, a FIFO): no bundle to pass
            continue
        (tmp_path / str(i)).mkdir()
        targets.append((entry, entry.build(gaussian_bundle, tmp_path / str(i))))

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (LIMIT_BYTES, LIMIT_BYTES))

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(
        [sys.executable, "-m", "dnnlik", "validate", "--format", "json", *[str(t) for _, t in targets]],
        capture_output=True,
        text=True,
        timeout=900,
        preexec_fn=limit,
        env=env,
    )
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr[-3000:]
    assert proc.returncode == 1, proc.stderr[-3000:]
    reports = json.loads(proc.stdout)["reports"]
    assert len(reports) == len(targets)
    for (entry, _), report in zip(targets, reports, strict=True):
        assert not report["valid"], entry.name
        assert entry.code in [p["code"] for p in report["problems"]], (entry.name, report["problems"])


LIMIT_BYTES = 4 * 1024**3  # ulimit -v 4194304
