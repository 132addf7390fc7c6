"""``dnnlik sample``: invoked directly with click's CliRunner (registered in the main group elsewhere)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from dnnlik.cli.sample import sample
from dnnlik.sample import read_dataset

SMALL = ["--n", "3000", "--tune-steps", "60", "--chains", "1", "--checkpoint-every", "100"]


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("cli") / "samples.h5"
    result = CliRunner().invoke(
        sample, ["toy-lhc-like", "--strategy", "mixed", "--poi-grid", "3", "--seed", "3", "--out", str(out), *SMALL]
    )
    return out, result


@pytest.mark.slow
def test_toy_mixed_run_prints_a_summary(toy_run: tuple[Path, object]) -> None:
    out, result = toy_run
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"wrote 3000 samples to {out} (mixed, seed 3, 200 walkers")
    assert any(line.startswith("moves: laplace (weight 0.90, acceptance") for line in lines)
    assert any(line.startswith("autocorrelation time:") for line in lines)
    assert any(line.startswith("acceptance fraction:") and "R-hat" in line for line in lines)
    assert "sampling:" not in result.output  # no progress bar off a terminal
    data = read_dataset(out)
    assert data.points.shape == (3000, 95) and data.parameter_names[0] == "mu"
    assert data.sampling["strategy"] == "mixed" and data.sampling["n_walkers"] == 200
    assert data.sampling["strategy_options"]["profile"]["poi"] == "mu"


def test_existing_output_is_a_usage_error(toy_run: tuple[Path, object]) -> None:
    out, _ = toy_run
    before = out.read_bytes()
    result = CliRunner().invoke(sample, ["toy-lhc-like", "--out", str(out), *SMALL])
    assert result.exit_code == 2
    assert "already exists; use resume" in result.output and "Traceback" not in result.output
    assert out.read_bytes() == before


@pytest.mark.parametrize(
    "args, message",
    [
        (["nope", "--out", "x.h5"], "'nope' is not a reference likelihood; available: toy-lhc-like"),
        (["toy-lhc-like", "--out", "x.h5", "--walkers", "50"], "50 walkers are too few for 95 dimensions"),
        (["toy-lhc-like", "--out", "x.h5", "--poi-range", "1"], "expected lo:hi"),
        (["toy-lhc-like", "--out", "x.h5", "--split", "0.8,0.2"], "expected three non-negative numbers"),
        (["toy-lhc-like", "--out", "x.h5", "--resume", "--overwrite"], "--resume and --overwrite exclude each other"),
        (["toy-lhc-like", "--out", "x.h5", "--moves", "hop"], "unknown move 'hop'"),
        (["toy-lhc-like", "--out", "x.h5", "--n", "0"], "Invalid value for '--n'"),
    ],
)
def test_usage_errors_exit_2_with_one_message(tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "x.h5"
    result = CliRunner().invoke(sample, [str(out) if a == "x.h5" else a for a in args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_json_summary(tmp_path: Path) -> None:
    import json

    out = tmp_path / "s.h5"
    result = CliRunner().invoke(sample, ["toy-lhc-like", "--out", str(out), "--format", "json", "--seed", "1", *SMALL])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["n_samples"] == 3000 and doc["sampling"]["seeds"] == [1]
    assert doc["sampling"] == read_dataset(out).sampling


def test_missing_folder_exits_1(tmp_path: Path) -> None:
    result = CliRunner().invoke(sample, ["toy-lhc-like", "--out", str(tmp_path / "no" / "s.h5"), *SMALL])
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {tmp_path / 'no'}: the output folder does not exist"


@pytest.mark.filterwarnings("ignore::dnnlik.sample.ShortChainWarning")
def test_progress_bar_only_when_asked_or_on_a_terminal(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from dnnlik.likelihoods import CallableLikelihood
    from dnnlik.sample import sample as run_sample

    lik = CallableLikelihood(lambda x: -0.5 * (x**2).sum(axis=1), ["x", "y"], grad=lambda x: -x)
    opts = dict(n=500, n_walkers=8, tune_steps=30, n_chains=1)
    run_sample(lik, tmp_path / "a.h5", **opts)  # stderr is not a terminal here: no bar
    assert "sampling" not in capsys.readouterr().err
    run_sample(lik, tmp_path / "b.h5", progress=True, **opts)
    err = capsys.readouterr().err
    assert "sampling" in err and "500/500" in err
