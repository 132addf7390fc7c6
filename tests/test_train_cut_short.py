"""Training cut short (wall-time cap, early stopping on the cosine schedule): one warning, recorded in the bundle."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from dnnlik.graph import MLPWeights
from dnnlik.train import TrainConfig
from dnnlik.train.cut_short import ScheduleCutShortWarning, cut_short_record, relay_cut_short
from dnnlik.train.fit import MemberResult

COSINE = TrainConfig(layers=(8,), epochs=20, lr_schedule="cosine", max_minutes=2.0, early_stopping_patience=5)


def _member(seed: int, epochs: int, stopped: str) -> MemberResult:
    """A trained member as train_member returns it; the learning rates follow the cosine schedule."""
    lrs = [COSINE.learning_rate_at(e) for e in range(epochs)]
    weights = MLPWeights(((np.zeros((2, 8), np.float32), np.zeros(8, np.float32)),))
    return MemberResult(
        weights=weights,
        seed=seed,
        history={"loss": [1.0] * epochs, "val_loss": [1.0] * epochs, "lr": lrs},
        epochs=epochs,
        best_epoch=1,
        best_val_loss=1.0,
        stopped=stopped,
        wall_time_s=1.0,
        n_train=100,
        subset_fraction=1.0,
        batch_size=32,
        heldout_net=np.zeros(0, np.float32),
    )


@pytest.mark.parametrize(
    ("stopped", "epochs", "schedule", "cut"),
    [
        ("time-cap", 7, "cosine", True),
        ("early-stopping", 9, "cosine", True),
        ("time-cap", 7, "plateau", True),  # the cap cuts any schedule
        ("early-stopping", 9, "plateau", False),  # the plateau recipe's planned end
        ("epoch-cap", 20, "cosine", False),
        ("time-cap", 20, "cosine", False),  # the cap came with the last epoch: the schedule ran to its end
        ("interrupted", 3, "cosine", False),  # a Ctrl-C has its own note
    ],
)
def test_which_stops_cut_the_schedule_short(stopped, epochs, schedule, cut):
    record = cut_short_record([_member(1, epochs, stopped)], COSINE.with_(lr_schedule=schedule))
    assert (record is not None) == cut
    if cut:
        assert record["planned_epochs"] == 20 and record["lr_schedule"] == schedule
        assert record["members"] == [
            {"seed": 1, "epochs": epochs, "stopped": stopped, "learning_rate": COSINE.learning_rate_at(epochs - 1)}
        ]


def test_the_message_says_what_stopped_which_member_and_what_to_change():
    members = [_member(5, 20, "epoch-cap"), _member(6, 7, "time-cap"), _member(7, 9, "early-stopping")]
    record = cut_short_record(members, COSINE.with_(ensemble=3))
    assert [m["seed"] for m in record["members"]] == [6, 7]
    text = record["message"]
    assert "cosine learning-rate schedule (20 epochs" in text
    assert "the 2-minute cap (max_minutes) stopped member seed 6 after 7 epochs" in text
    assert "early stopping (no improvement for 5 epochs) stopped member seed 7 after 9 epochs" in text
    assert "raise max_minutes" in text and "raise early_stopping_patience" in text and "\n" not in text
    assert "seed 5" not in text


def test_relay_hands_the_finding_to_the_log_and_passes_other_warnings_on():
    told: list[ScheduleCutShortWarning] = []
    record = cut_short_record([_member(1, 7, "time-cap")], COSINE)
    with warnings.catch_warnings(record=True) as outside:
        warnings.simplefilter("always")
        with pytest.raises(RuntimeError), relay_cut_short(told.append):
            warnings.warn(ScheduleCutShortWarning(record), stacklevel=1)
            warnings.warn("something else", UserWarning, stacklevel=1)
            raise RuntimeError("training failed later")  # told even so
    assert [w.record for w in told] == [record]
    assert [str(w.message) for w in outside] == ["something else"]


# ---------------------------------------------------------------------------------------------- TensorFlow
@pytest.fixture(scope="module")
def data():  # type: ignore[no-untyped-def]
    pytest.importorskip("tensorflow")
    from train_helpers import PARAMETERS, logpdf, points

    from dnnlik.train import from_arrays

    x = points(1200)
    return from_arrays(x, logpdf(x), PARAMETERS, seed=0)


TINY = TrainConfig(layers=(8,), epochs=50, batch_size=64, target="logpdf", lr_schedule="cosine")


def _cut_short_warnings(caught: list[warnings.WarningMessage]) -> list[ScheduleCutShortWarning]:
    return [w.message for w in caught if isinstance(w.message, ScheduleCutShortWarning)]


@pytest.mark.slow  # TensorFlow training
def test_time_cap_warns_once_per_run_and_the_bundle_records_it(data, tmp_path):
    from dnnlik.train import train_bundle

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result, exported = train_bundle(data, tmp_path / "b", TINY.with_(ensemble=2, max_minutes=1e-6))
    [warning] = _cut_short_warnings(caught)  # one for the run, not one per member
    assert [m.stopped for m in result.members] == ["time-cap", "time-cap"]
    section = json.loads((exported.path / "bundle.json").read_text())["training"]
    recorded = section["schedule_cut_short"]
    assert recorded == json.loads(json.dumps(warning.record))
    history = {m["seed"]: m for m in section["history"]["members"]}
    for m in recorded["members"]:
        assert m["epochs"] == history[m["seed"]]["epochs"] < TINY.epochs
        assert m["learning_rate"] == history[m["seed"]]["curves"]["learning_rate"][-1] > TINY.min_lr


@pytest.mark.slow  # TensorFlow training
def test_early_stopping_cuts_the_cosine_schedule_but_not_the_plateau_one(data):
    from dnnlik.train import train_ensemble

    stalls = TINY.with_(early_stopping_patience=2, min_delta=10.0)  # nothing improves by 10: stops at epoch 3
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cosine = train_ensemble(data, stalls)
        plateau = train_ensemble(data, stalls.with_(lr_schedule="plateau"))
    assert cosine.members[0].stopped == plateau.members[0].stopped == "early-stopping"
    [warning] = _cut_short_warnings(caught)
    assert warning.record == cosine.schedule_cut_short and "early stopping" in str(warning)
    assert plateau.schedule_cut_short is None


@pytest.mark.slow  # TensorFlow training
def test_the_command_line_says_it_once_after_the_progress_line(tmp_path):
    pytest.importorskip("tensorflow")
    from click.testing import CliRunner
    from train_helpers import logpdf, points, write_samples

    from dnnlik.cli.train import train

    x = points(1200, seed=9)
    samples = write_samples(tmp_path / "samples.h5", x, logpdf(x))
    args = [str(samples), "--out", str(tmp_path / "b"), "--layers", "8", "--epochs", "50"]
    result = CliRunner().invoke(train, [*args, "--lr-schedule", "cosine", "--max-minutes", "1e-6"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if "stopped before the end" in line]
    assert len(lines) == 1 and lines[0].startswith("Warning: training stopped before the end of its cosine")
    assert "ScheduleCutShortWarning" not in result.stderr  # not Python's own warning format
