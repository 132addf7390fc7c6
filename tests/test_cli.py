"""The command line: exit codes, formats, messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import dnnlik
from dnnlik.cli.main import COMMANDS, cli


def invoke(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_version_matches_package():
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"dnnlik {dnnlik.__version__}"


def test_every_registered_command_loads():
    for name in COMMANDS:
        assert cli.get_command(None, name) is not None, name  # type: ignore[arg-type]


def test_validate_valid_bundle_exits_0(gaussian_bundle, gaussian_zip):
    result = invoke("validate", gaussian_bundle, gaussian_zip)
    assert result.exit_code == 0, result.output
    assert result.output.count(": valid") == 2


def test_validate_reports_every_problem_and_exits_1(bundle_copy):
    doc = json.loads((bundle_copy / "bundle.json").read_text())
    doc["parameters"][1]["name"] = doc["parameters"][0]["name"]  # duplicate names
    doc["parameters"][2]["bounds"] = [5.0, -5.0]  # inverted bounds
    (bundle_copy / "bundle.json").write_text(json.dumps(doc))
    (bundle_copy / "stray.txt").write_text("not listed")
    result = invoke("validate", bundle_copy)
    assert result.exit_code == 1
    out = result.output
    assert "INVALID" in out
    # each problem on its own line with its location; at least: digest, duplicate, bounds, unlisted file
    problems = [line for line in out.splitlines() if line.startswith("  - ")]
    assert len(problems) >= 4, out
    assert "stray.txt" in out and "#/parameters/1/name" in out and "#/parameters/2/bounds" in out
    assert "Traceback" not in out


def test_validate_json_and_junit(bundle_copy, gaussian_bundle, tmp_path):
    (bundle_copy / "model.onnx").write_bytes(b"\x08\x07truncated")
    junit = tmp_path / "report.xml"
    result = invoke("validate", gaussian_bundle, bundle_copy, "--format", "json", "--junit", junit)
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["valid"] is False
    assert [r["valid"] for r in data["reports"]] == [True, False]
    bad = data["reports"][1]["problems"]
    assert bad and all(p["code"] and p["message"] and p["location"] for p in bad)
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites" and root.get("failures") == "1"
    suites = root.findall("testsuite")
    assert len(suites) == 2
    assert suites[0].find(".//failure") is None
    assert suites[1].find(".//failure") is not None


def test_validate_missing_path_is_a_clear_problem(tmp_path):
    result = invoke("validate", tmp_path / "nope")
    assert result.exit_code == 1
    assert "no such file or folder" in result.output


@pytest.mark.parametrize("args", [["validate"], ["validate", "--format", "xml", "x"], ["nosuchcommand"]])
def test_usage_errors_exit_2(args):
    assert invoke(*args).exit_code == 2


def test_info_text_and_json(gaussian_bundle):
    text = invoke("info", gaussian_bundle)
    assert text.exit_code == 0
    assert "gaussian-4d" in text.output and "theta_3" in text.output
    js = invoke("info", gaussian_bundle, "--format", "json")
    doc = json.loads(js.output)
    assert doc["name"] == "gaussian-4d" and len(doc["parameters"]) == 4


def test_eval_matches_api_with_nominal_defaults(gaussian_bundle):
    bundle = dnnlik.load(gaussian_bundle)
    result = invoke("eval", gaussian_bundle, "--param", "mu=0.5", "-p", "theta_2=-1.25", "--format", "json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    point = bundle.nominal.copy()
    point[0], point[2] = 0.5, -1.25
    assert out["point"]["theta_1"] == bundle.parameters[1].nominal
    assert out["logpdf"] == pytest.approx(float(bundle.logpdf(point)), rel=1e-12)
    text = invoke("eval", gaussian_bundle, "-p", "mu=0.5", "-p", "theta_2=-1.25", "--grad")
    lines = text.output.splitlines()
    assert float(lines[0]) == pytest.approx(out["logpdf"], rel=1e-9)
    grad = np.array([float(line.split()[-1]) for line in lines[1:]])
    np.testing.assert_allclose(grad, bundle.grad_logpdf(point), rtol=1e-8)


def test_eval_outside_bounds_says_so(gaussian_bundle):
    result = invoke("eval", gaussian_bundle, "-p", "mu=1e3")
    assert result.exit_code == 0
    assert result.output.startswith("-inf") and "outside" in result.output


@pytest.mark.parametrize(
    "arg, words",
    [("nope=1", "not a parameter"), ("mu", "NAME=VALUE"), ("mu=abc", "not a number"), ("mu=nan", "NaN")],
)
def test_eval_bad_params_exit_2(gaussian_bundle, arg, words):
    result = CliRunner().invoke(cli, ["eval", str(gaussian_bundle), "--param", arg])
    assert result.exit_code == 2
    assert words in result.output


def test_eval_invalid_bundle_is_one_clear_error(bundle_copy):
    (bundle_copy / "model.onnx").unlink()
    result = CliRunner().invoke(cli, ["eval", str(bundle_copy)])
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and "model.onnx" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_example_writes_valid_bundle_and_refuses_overwrite(tmp_path):
    out = tmp_path / "ex.zip"
    assert invoke("example", out, "--dim", "3", "--dtype", "float32").exit_code == 0
    assert dnnlik.validate(out).ok
    again = CliRunner().invoke(cli, ["example", str(out)])
    assert again.exit_code == 1 and "exists" in again.output
    assert invoke("example", out, "--dim", "2", "--overwrite").exit_code == 0
    assert len(dnnlik.load(out).parameters) == 2


@pytest.mark.slow
def test_entry_point_runs_as_module(gaussian_bundle):
    env = {**os.environ, "PYTHONPATH": str(Path(dnnlik.__file__).parents[1])}
    proc = subprocess.run(
        [sys.executable, "-m", "dnnlik", "validate", str(gaussian_bundle)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "valid" in proc.stdout


def test_the_one_translation_of_arguments_to_flags():
    from dnnlik.cli._common import cli_message
    from dnnlik.errors import DnnlikError, InvalidInputError, OutputExistsError

    flags = {"n_walkers": "--walkers", "overwrite": "--overwrite", "resume": "--resume"}
    assert cli_message(OutputExistsError("out")) == "out: already exists (use --overwrite to replace it)"
    assert (
        cli_message(OutputExistsError("out", argument="keep_going"))
        == "out: already exists (use --keep-going to replace it)"
    )
    assert (
        cli_message(OutputExistsError("out", argument="keep_going"), {"keep_going": "-k"})
        == "out: already exists (use -k to replace it)"
    )
    hinted = OutputExistsError("s.h5", hint="use resume to continue an interrupted run or overwrite to replace it")
    assert cli_message(hinted, flags) == str(hinted)  # the alternatives, as the library words them
    assert (
        cli_message(InvalidInputError("too few (use overwrite=True)", where="n_walkers"), flags)
        == "--walkers: too few (use --overwrite)"
    )
    # only whole argument names are flags; without a map, the library's message as it is
    assert cli_message(DnnlikError("rerun=True, resume=True", where="x"), flags) == "x: rerun=True, --resume"
    assert cli_message(DnnlikError("resume=True", where="n_walkers")) == "n_walkers: resume=True"
