"""The second reader, in JavaScript (readers/js), against the spec's examples and the zoo.

readers/js/reader.mjs is written from spec/README.md and spec/schemas/ alone,
with onnxruntime-node and ajv from npm: it keeps the spec's promise that a
program in another language can validate and evaluate a bundle without
guessing. These tests run it (one node process for all the bundles, one per
``eval``) and check that

- it accepts every valid example without any problem and refuses every
  invalid one (other validators MUST detect the same defects but MAY use other
  codes: refusal is asserted, the codes it reports are compared with
  expected.json and shown, not asserted);
- it accepts every zoo entry (zoo/*/bundle), and its ``eval`` at the nominal point gives
  dnnlik's ``logpdf`` within the bundle's own float32-derived tolerance;
- the test-vector tensors it feeds the model are bit for bit those dnnlik
  builds (spec 6.1 makes the JSON-to-tensor conversion exact), and the outputs
  it gets agree with dnnlik's within the tolerances (spec 6.3; two onnxruntime
  versions need not agree to the bit, so identical bits are counted, not required);
- it refuses every bundle of the broken-bundle catalog (tests/broken_catalog*.py).

The module is skipped when node is not on PATH or readers/js/node_modules is
missing (``make test`` installs it with ``npm ci`` when npm is present).
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
READER_DIR = ROOT / "readers" / "js"
READER = READER_DIR / "reader.mjs"
EXAMPLES = ROOT / "spec" / "examples"
ZOO = sorted(p for p in (ROOT / "zoo").glob("*/bundle") if p.is_dir())  # the zoo entries
NODE = shutil.which("node")


def _node_major() -> int:
    try:
        out = subprocess.run([NODE, "--version"], check=False, capture_output=True, text=True, timeout=30).stdout  # type: ignore[list-item]
        return int(out.strip().lstrip("v").split(".")[0])
    except (OSError, ValueError, subprocess.SubprocessError):
        return 0


if NODE is None:
    pytestmark = pytest.mark.skip(reason="node is not on PATH: the JavaScript reader (readers/js) cannot run")
elif _node_major() < 18:
    pytestmark = pytest.mark.skip(reason=f"node at {NODE} is older than 18, which readers/js needs")
elif not (READER_DIR / "node_modules").is_dir():
    pytestmark = pytest.mark.skip(
        reason="readers/js/node_modules is missing: install it with "
        "`cd readers/js && ONNXRUNTIME_NODE_INSTALL=skip npm ci` (make test does)"
    )
else:
    pytestmark = pytest.mark.slow  # one Node process per bundle


def _folders(where: Path) -> list[Path]:
    return sorted(p for p in where.iterdir() if p.is_dir()) if where.is_dir() else []


VALID = _folders(EXAMPLES / "valid")
INVALID = _folders(EXAMPLES / "invalid")


def _expected_codes() -> dict[str, list[str]]:
    path = EXAMPLES / "invalid" / "expected.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def run_reader(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NODE, str(READER), *args], check=False, capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )  # type: ignore[list-item]


def _no_trace(text: str) -> None:
    assert "Traceback" not in text and "    at " not in text and "internal error" not in text, text


@pytest.fixture(scope="module")
def reports() -> dict[str, dict[str, Any]]:
    """The reader's JSON report of every example and the zoo entry, from one node process."""
    paths = [*VALID, *INVALID, *ZOO]
    proc = run_reader("validate", "--json", *(str(p.relative_to(ROOT)) for p in paths))
    _no_trace(proc.stderr)
    assert proc.returncode in (0, 1), proc.stderr
    out = {}
    for line in proc.stdout.splitlines():
        report = json.loads(line)
        out[report["path"]] = report
    assert len(out) == len(paths), proc.stdout[-2000:]
    return out


def _report(reports: dict[str, dict[str, Any]], folder: Path) -> dict[str, Any]:
    return reports[str(folder.relative_to(ROOT))]


def _errors(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in report["problems"] if p["level"] == "error"]


def test_examples_exist() -> None:
    # without examples the parametrized tests below would check nothing
    assert VALID and INVALID and ZOO


@pytest.mark.parametrize("folder", VALID, ids=lambda p: p.name)
def test_valid_example_is_accepted_without_any_problem(folder: Path, reports: dict[str, dict[str, Any]]) -> None:
    report = _report(reports, folder)
    assert report["valid"], report["problems"]
    assert report["problems"] == []
    # every test-vector case ran
    doc = json.loads((folder / "bundle.json").read_text(encoding="utf-8"))
    assert len(report["test_vectors"]) == len(doc["test_vectors"]["cases"])
    assert all(case and case["outputs"] for case in report["test_vectors"])


@pytest.mark.parametrize("folder", INVALID, ids=lambda p: p.name)
def test_invalid_example_is_refused(folder: Path, reports: dict[str, dict[str, Any]], record_property: Any) -> None:
    report = _report(reports, folder)
    errors = _errors(report)
    assert not report["valid"] and errors, f"{folder.name}: the JavaScript reader accepted an invalid example"
    for problem in errors:
        stage, _, detail = problem["code"].partition(":")
        assert stage and detail, problem
        assert problem["message"] and "\n" not in problem["message"], problem
    detected = sorted({p["code"] for p in errors})
    expected = _expected_codes().get(folder.name, [])
    record_property("expected_codes", expected)
    record_property("detected_codes", detected)
    record_property("same_codes_detected", sorted(set(expected) & set(detected)))


def test_report_codes_against_expected(reports: dict[str, dict[str, Any]], capsys: pytest.CaptureFixture[str]) -> None:
    """Which of dnnlik's codes (expected.json) the JavaScript reader reports too: shown, not asserted."""
    expected = _expected_codes()
    assert expected, "spec/examples/invalid/expected.json is missing or empty"
    rows = []
    for folder in INVALID:
        want = set(expected.get(folder.name, []))
        got = {p["code"] for p in _errors(_report(reports, folder))}
        assert got, folder.name  # refused, whatever the codes
        rows.append(
            f"{folder.name:34} same: {', '.join(sorted(want & got)) or '-':40} "
            f"dnnlik only: {', '.join(sorted(want - got)) or '-':40} js only: {', '.join(sorted(got - want)) or '-'}"
        )
    with capsys.disabled():
        print("\nJavaScript reader vs expected.json (codes may differ; refusal is what counts):")
        print("\n".join(rows))


@pytest.mark.parametrize("entry", ZOO, ids=lambda p: p.parent.name)
def test_zoo_entry_is_valid(entry: Path, reports: dict[str, dict[str, Any]]) -> None:
    report = _report(reports, entry)
    assert report["valid"], _errors(report)


def _logpdf_tolerance(doc: dict[str, Any]) -> tuple[float, float]:
    tv = doc["test_vectors"]
    name = next(t["name"] for t in doc["model"]["outputs"] if t["role"] == "logpdf")
    tol = (tv.get("tolerances") or {}).get(name, tv["tolerance"])
    return float(tol["abs"]), float(tol["rel"])


@pytest.mark.slow
@pytest.mark.parametrize("entry", ZOO, ids=lambda p: p.parent.name)
def test_zoo_eval_at_nominal_equals_dnnlik(entry: Path) -> None:
    import dnnlik

    proc = run_reader("eval", str(entry.relative_to(ROOT)))
    _no_trace(proc.stderr)
    assert proc.returncode == 0, proc.stderr
    got = float(proc.stdout.strip())
    bundle = dnnlik.load(entry)
    want = float(bundle.logpdf(bundle.nominal))
    abs_tol, rel_tol = _logpdf_tolerance(bundle.document)
    assert math.isfinite(got)
    assert abs(got - want) <= abs_tol + rel_tol * abs(want), (got, want)


@pytest.mark.slow
def test_eval_bounds_and_usage() -> None:
    """eval on the float32 example: on a bound (inside), beyond it (-inf), and usage errors (exit 2)."""
    import dnnlik

    folder = EXAMPLES / "valid" / "gaussian-2d-float32"
    if not folder.is_dir():
        pytest.skip("the example gaussian-2d-float32 is gone")
    bundle = dnnlik.load(folder)
    first = bundle.document["parameters"][0]
    upper = first["bounds"][1]
    assert upper is not None
    on_bound = run_reader("eval", str(folder), f"{first['name']}={upper!r}")
    assert on_bound.returncode == 0, on_bound.stderr
    x = bundle.nominal.copy()
    x[0] = upper
    want = float(bundle.logpdf(x))
    abs_tol, rel_tol = _logpdf_tolerance(bundle.document)
    assert abs(float(on_bound.stdout) - want) <= abs_tol + rel_tol * abs(want)

    beyond = run_reader("eval", str(folder), f"{first['name']}={upper + 0.5!r}")
    assert beyond.returncode == 0, beyond.stderr
    assert beyond.stdout.strip() == "-inf"

    for args in (["eval", str(folder), "no_such_parameter=1"], ["eval"], ["validate"], ["frobnicate"]):
        proc = run_reader(*args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        _no_trace(proc.stderr)


def test_validate_exit_codes(reports: dict[str, dict[str, Any]]) -> None:
    valid = run_reader("validate", str(VALID[0].relative_to(ROOT)))
    assert valid.returncode == 0 and valid.stdout == "", valid.stdout
    # an example refused at the json stage, so that no model runs
    cheap = next((p for p in INVALID if p.name == "byte-order-mark"), INVALID[0])
    invalid = run_reader("validate", str(cheap.relative_to(ROOT)))
    assert invalid.returncode == 1
    lines = invalid.stdout.splitlines()
    assert lines and all(len(line.split(" ", 2)) == 3 for line in lines), lines  # "code location message"


def _as_array(t: dict[str, Any]) -> np.ndarray:
    values = [float(v) for v in t["values"]]  # "NaN", "Infinity", "-Infinity" included
    return np.array(values, dtype=np.float64).reshape(t["dims"])


@pytest.mark.slow
@pytest.mark.parametrize("folder", [*VALID, *ZOO], ids=lambda p: f"zoo-{p.parent.name}" if p in ZOO else p.name)
def test_test_vectors_agree_with_dnnlik(folder: Path, reports: dict[str, dict[str, Any]], record_property: Any) -> None:
    import dnnlik
    from dnnlik.evaluate.test_vectors import tensor_from_json

    report = _report(reports, folder)
    bundle = dnnlik.load(folder)
    doc = bundle.document
    tv = doc["test_vectors"]
    inputs = {t["name"]: t for t in doc["model"]["inputs"]}
    outputs = {t["name"]: t for t in doc["model"]["outputs"]}
    identical = total = 0
    for i, case in enumerate(tv["cases"]):
        js = report["test_vectors"][i]
        feeds = {}
        for name, value in case["inputs"].items():
            t = inputs[name]
            mine = tensor_from_json(value, t["dtype"], t["shape"], bool_as_number=doc["format_version"] == "1.0.0")
            assert not isinstance(mine, str), mine
            feeds[name] = mine
            theirs = _as_array(js["inputs"][name])
            # spec 6.1: the JSON-to-tensor conversion is exact, so the tensors agree to the bit
            assert theirs.shape == mine.shape, (i, name)
            assert theirs.tobytes() == mine.astype(np.float64).tobytes(), (i, name)
        ours = bundle.run(feeds)
        for name in case["outputs"]:
            tol = (tv.get("tolerances") or {}).get(name, tv["tolerance"])
            want = np.asarray(ours[name], dtype=np.float64)
            got = _as_array(js["outputs"][name])
            assert got.shape == want.shape, (i, name)
            assert np.all(np.abs(got - want) <= tol["abs"] + tol["rel"] * np.abs(want)), (
                i,
                name,
                outputs[name]["dtype"],
            )
            identical += int(np.sum(got.view(np.uint64) == want.view(np.uint64)))
            total += got.size
    assert total
    record_property("bit_identical_outputs", f"{identical}/{total}")


@pytest.mark.slow
def test_every_broken_catalog_bundle_is_refused(gaussian_bundle: Path, tmp_path: Path) -> None:
    """The broken-bundle catalog (tests/broken_catalog*.py) through the second reader: all refused.

    One node process for the valid base bundle and every entry; the base must be valid, so
    that the refusals mean something. Codes are not compared (other validators may use others).
    """
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import broken_catalog

    targets: dict[str, str] = {str(gaussian_bundle): "(the valid base bundle)"}
    for entry in broken_catalog.CATALOG:
        where = tmp_path / entry.name
        where.mkdir()
        target = str(entry.build(gaussian_bundle, where))
        if "\0" not in target:  # a path with a NUL byte cannot be passed to a program at all
            targets[target] = entry.name
    proc = run_reader("validate", "--json", "--run-seconds", "10", *targets)
    _no_trace(proc.stderr)
    reports = {}
    for line in proc.stdout.splitlines():
        report = json.loads(line)
        reports[report["path"]] = report
    assert set(reports) == set(targets)
    assert reports[str(gaussian_bundle)]["valid"], reports[str(gaussian_bundle)]["problems"]
    accepted = [targets[p] for p, r in reports.items() if r["valid"] and p != str(gaussian_bundle)]
    assert not accepted, f"the JavaScript reader accepted broken bundles: {accepted}"
    for report in reports.values():
        for problem in report["problems"]:
            assert problem["message"] and "\n" not in problem["message"] and "\n" not in problem["location"], problem
