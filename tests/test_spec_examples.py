"""The spec's example bundles (spec/examples): valid ones validate, invalid ones fail as documented,
and the committed files are exactly what spec/examples/generate.py writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import dnnlik

EXAMPLES = Path(__file__).resolve().parent.parent / "spec" / "examples"
VALID = sorted(p.name for p in (EXAMPLES / "valid").iterdir() if p.is_dir())
INVALID = sorted(p.name for p in (EXAMPLES / "invalid").iterdir() if p.is_dir())


def _expected() -> dict[str, list[str]]:
    return json.loads((EXAMPLES / "invalid" / "expected.json").read_text(encoding="utf-8"))


def test_enough_examples() -> None:
    assert len(VALID) >= 2
    assert len(INVALID) >= 10


@pytest.mark.parametrize("name", VALID)
def test_valid_example(name: str) -> None:
    report = dnnlik.validate(EXAMPLES / "valid" / name)
    assert report.ok, report.to_text()
    assert report.problems == [], report.to_text()
    assert "test-vectors" in report.checks  # the model was actually run


@pytest.mark.parametrize("name", VALID)
def test_valid_example_loads_and_matches_its_best_fit(name: str) -> None:
    bundle = dnnlik.load(EXAMPLES / "valid" / name)
    best = bundle.document["output"]["best_fit"]
    tol = bundle.document["test_vectors"]["tolerance"]
    got = bundle.logpdf(best["point"])
    assert abs(got - best["logpdf"]) <= tol["abs"] + tol["rel"] * abs(best["logpdf"])
    outside = [p.upper + 1.0 for p in bundle.parameters]
    assert bundle.logpdf(outside) == -float("inf")


def test_expected_lists_exactly_the_invalid_folders() -> None:
    assert sorted(_expected()) == INVALID


def test_invalid_folders_hold_only_bundle_files() -> None:
    """Nothing but bundle files in the example folders (a stray file would be an unlisted-file problem)."""
    for name in INVALID:
        for path in (EXAMPLES / "invalid" / name).rglob("*"):
            assert path.is_file() and not path.is_symlink(), path
            assert path.name in {"bundle.json", "model.onnx"} or name == "unlisted-file", path


@pytest.mark.parametrize("name", INVALID)
def test_invalid_example(name: str) -> None:
    expected = _expected()[name]
    assert expected, f"expected.json lists no problem for {name}"
    report = dnnlik.validate(EXAMPLES / "invalid" / name)
    assert not report.ok, report.to_text()
    codes = sorted({p.code for p in report.problems})
    assert codes == sorted(expected), report.to_text()
    for problem in report.problems:
        assert problem.location, f"{problem} has no location"
        assert problem.message
    with pytest.raises(dnnlik.DnnlikError):
        dnnlik.load(EXAMPLES / "invalid" / name)


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_generator_reproduces_the_committed_files(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, str(EXAMPLES / "generate.py"), str(tmp_path)],
        cwd=EXAMPLES.parent.parent,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(EXAMPLES.parent.parent), os.environ.get("PYTHONPATH")])),
        },
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    for sub in ("valid", "invalid"):
        committed, generated = _tree(EXAMPLES / sub), _tree(tmp_path / sub)
        assert sorted(generated) == sorted(committed), f"{sub}: the generator writes other files"
        differing = [name for name in committed if committed[name] != generated[name]]
        assert not differing, f"regenerate spec/examples (generate.py): these differ: {differing}"


def test_spec_documents_every_problem_code() -> None:
    """Every problem code written literally in dnnlik's validator appears in spec/README.md."""
    import re

    package = EXAMPLES.parent.parent / "dnnlik"
    spec = (EXAMPLES.parent / "README.md").read_text(encoding="utf-8")
    codes: set[str] = set()
    for path in package.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        codes.update(re.findall(r'"((?:archive|json|schema|files|onnx|contract|test-vectors):[a-z][a-z-]*)"', text))
        if path.name == "semantics.py":
            codes.update("semantics:" + c for c in re.findall(r'_problem\(\s*"([a-z][a-z-]*)"', text))
            codes.update(re.findall(r'"(semantics:[a-z][a-z-]*)"', text))
    assert len(codes) > 40  # the scan finds the codes at all
    missing = sorted(c for c in codes if f"`{c}`" not in spec)
    assert not missing, f"spec/README.md does not document {missing}"
