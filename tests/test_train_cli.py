"""``dnnlik train``: from a samples file to a validated bundle on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("tensorflow")

from train_helpers import logpdf, points, write_samples

import dnnlik
from dnnlik.cli.train import train

pytestmark = pytest.mark.slow  # TensorFlow training


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    x = points(1500, seed=9)
    y = logpdf(x)
    y[:4] = float("nan")
    return write_samples(tmp_path_factory.mktemp("cli") / "samples.h5", x, y)


def test_train_writes_a_valid_bundle_and_a_summary(samples: Path, tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    args = [
        str(samples),
        "--out",
        str(out),
        "--layers",
        "2x8",
        "--epochs",
        "3",
        "--ensemble",
        "2",
        "--batch-size",
        "32",
        "--seed",
        "4",
        "--baseline",
        "fit",
    ]
    result = CliRunner().invoke(train, args)
    assert result.exit_code == 0, result.output
    assert "dropped 4 of 1500 points" in result.output
    assert f"bundle: {out} (valid)" in result.output
    assert "seed 4: 3 epochs" in result.output and "seed 5: 3 epochs" in result.output
    assert "ONNX vs TensorFlow max |diff|" in result.output
    assert "epoch 1/3" not in result.output  # no progress line off a terminal
    assert dnnlik.validate(out).ok
    doc = json.loads((out / "bundle.json").read_text())
    assert doc["training"]["architecture"]["layers"] == [8, 8]
    assert doc["training"]["dropped_non_finite_points"] == 4
    # a second run into the same folder is refused, then allowed with --overwrite
    again = CliRunner().invoke(train, args)
    assert again.exit_code == 1 and "already exists" in again.output
    forced = CliRunner().invoke(train, [*args, "--overwrite", "--progress", "--format", "json", "--target", "logpdf"])
    assert forced.exit_code == 0, forced.output
    assert "epoch 3/3" in forced.output and "lr 0.001" in forced.output
    summary = json.loads(forced.stdout)
    assert summary["parity"]["onnx_vs_tensorflow_max_abs"] < 1e-4
    assert json.loads((out / "bundle.json").read_text())["training"]["target"] == "logpdf"


def test_the_command_is_recorded(samples: Path, tmp_path: Path) -> None:
    out = tmp_path / "b"
    result = CliRunner().invoke(
        train,
        [
            str(samples),
            "-o",
            str(out),
            "--layers",
            "4",
            "--epochs",
            "1",
            "--batch-size",
            "64",
            "--target",
            "logpdf",
            "--name",
            "tiny",
            "--activation",
            "swish",
            "--lr-schedule",
            "cosine",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "bundle.json").read_text())
    assert doc["name"] == "tiny"
    assert doc["training"]["config"]["activation"] == "swish"
    assert doc["training"]["config"]["lr_schedule"] == "cosine"
    assert "cosine_decay" in doc["training"]["optimizer"] and "reduce_lr_on_plateau" not in doc["training"]["optimizer"]
    assert doc["provenance"]["command"] == (
        f"dnnlik train {samples} --out {out} --layers 4 --activation swish --ensemble 1 --epochs 1 --seed 0 "
        "--target logpdf "
        "--baseline auto --batch-size 64 --learning-rate 0.001 --lr-schedule cosine --no-jit --name tiny"
    )


def test_ctrl_c_during_training_exports_the_best_so_far(
    samples: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dnnlik.cli import train as train_module

    def interrupt_at_epoch_2(self, report) -> None:  # type: ignore[no-untyped-def]
        if report.epoch == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(train_module.ProgressLine, "__call__", interrupt_at_epoch_2)
    out = tmp_path / "b"
    result = CliRunner().invoke(
        train,
        [str(samples), "-o", str(out), "--layers", "4", "--epochs", "50", "--batch-size", "64", "--baseline", "fit"],
    )
    assert result.exit_code == 0, result.output
    assert "Interrupted: the best weights so far were exported." in result.output
    assert "2 epochs (best" in result.output and "stopped: interrupted" in result.output
    assert dnnlik.validate(out).ok


def test_ctrl_c_during_export_writes_nothing(samples: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupt(path):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    import dnnlik.evaluate

    monkeypatch.setattr(dnnlik.evaluate, "validate_local", interrupt)
    out = tmp_path / "b"
    result = CliRunner().invoke(
        train,
        [str(samples), "-o", str(out), "--layers", "4", "--epochs", "1", "--batch-size", "64", "--baseline", "fit"],
    )
    assert result.exit_code == 130
    assert f"nothing written to {out}" in result.output
    assert list(tmp_path.iterdir()) == []


def test_activation_choices_are_the_recipes() -> None:
    from dnnlik.graph import ACTIVATIONS as GRAPH
    from dnnlik.train.config import ACTIVATIONS

    [option] = [p for p in train.params if p.name == "activation"]
    assert tuple(option.type.choices) == ACTIVATIONS == tuple(a for a in GRAPH if a != "linear")


def test_cli_defaults_are_the_configs() -> None:
    """Every option that sets a TrainConfig field shows that field's default (one source of defaults)."""
    from dataclasses import fields

    from dnnlik.train import TrainConfig

    defaults = {f.name: f.default for f in fields(TrainConfig)}
    renamed = {"jit": "jit_compile"}
    checked = 0
    for option in train.params:
        field = renamed.get(option.name, option.name)
        if field not in defaults or option.name in ("out",):
            continue
        expected = ",".join(map(str, defaults[field])) if field == "layers" else defaults[field]
        assert option.default == expected, (option.name, option.default, expected)
        checked += 1
    assert checked >= 12


def test_lr_schedule_choices_are_the_configs() -> None:
    from dnnlik.train.config import LR_SCHEDULES

    [option] = [p for p in train.params if p.name == "lr_schedule"]
    assert tuple(option.type.choices) == LR_SCHEDULES
