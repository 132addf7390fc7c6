"""The zoo build recipe end to end on a tiny configuration: sample, train, validate, publish, card."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pytest

pytest.importorskip("tensorflow")

from dnnlik.api import load
from dnnlik.zoo.build import BuildConfig, build_toy_lhc_like
from dnnlik.zoo.index import load_index

pytestmark = pytest.mark.slow  # a whole zoo build: sampling and TensorFlow training

TINY = BuildConfig(
    n_train=3000, n_ridge=600, n_fidelity=3000, layers=(32, 32), epochs=4, train_minutes=None, grid=(0.0, 0.5, 1.0)
)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("zoo-build")
    lines: list[str] = []
    result = build_toy_lhc_like(root / "zoo", root / "work", TINY, log=lines.append)
    return root, result, lines


def test_build_publishes_a_valid_entry_listed_in_the_index(built):
    root, result, _ = built
    bundle = load(result.bundle_dir)
    doc = bundle.document
    assert doc["validation"]["verdict"] in ("pass", "fail")
    names = {m["name"] for m in doc["validation"]["metrics"]}
    assert {"tmu_mean_abs_delta", "best_fit_poi_abs_delta", "hpdi_sampled_max_abs_delta"} <= names
    [entry] = [e for e in load_index(root / "zoo") if e.name == "toy-lhc-like"]
    assert (root / "zoo" / entry.path).resolve() == result.bundle_dir.resolve()
    assert set(result.stage_seconds) == {"sampling", "training", "fidelity", "publishing"}
    assert set(json.loads((root / "work" / "build-times.json").read_text())) == set(result.stage_seconds)
    assert doc["provenance"]["command"] == TINY.command()


def test_recipe_epochs_stop_training_deterministically(built):
    _, result, lines = built
    member = load(result.bundle_dir).document["training"]["history"]["members"][0]
    assert member["epochs"] == TINY.epochs
    assert member["stopped"] == "epoch-cap"
    assert not any("stopped before the end" in line for line in lines)


def test_card_names_the_recipe_and_links_the_plots(built):
    _, result, _ = built
    card = (result.entry_dir / "README.md").read_text()
    assert "32 x 32 SWISH" in card
    assert f"at most {TINY.epochs} epochs: trained {TINY.epochs} epochs (epoch-cap" in card
    assert TINY.lr_schedule == "cosine" and "learning rate: cosine from 0.001 to 1e-06 over the epochs" in card
    pytest.importorskip("matplotlib")
    for name in ("tmu.png", "hpdi.png", "training.png", "marginals.png"):
        assert (result.entry_dir / name).stat().st_size > 1000
        assert f"]({name})" in card


def test_minutes_cap_before_the_recipe_epochs_warns(built, tmp_path):
    root, _, _ = built
    work = tmp_path / "work"
    shutil.copytree(root / "work", work, ignore=shutil.ignore_patterns("bundle", "surrogate-posterior-*"))
    lines: list[str] = []
    config = replace(TINY, epochs=100_000, train_minutes=0.05)
    result = build_toy_lhc_like(tmp_path / "zoo", work, config, log=lines.append)
    member = json.loads((result.bundle_dir / "bundle.json").read_text())["training"]["history"]["members"][0]
    assert member["stopped"] == "time-cap" and member["epochs"] < 100_000
    [warning] = [line for line in lines if "stopped before the end of its cosine" in line]  # said once
    assert "(100000 epochs" in warning and f"stopped it after {member['epochs']} epochs" in warning
    assert "--train-minutes 0" in warning
    assert any(line.startswith("  reusing") for line in lines)  # the samples were not drawn again


def test_rerun_after_a_crash_reuses_the_trained_bundle_and_its_time(built, tmp_path):
    root, first, _ = built
    work = tmp_path / "work"
    shutil.copytree(root / "work", work)
    (work / "build-times.json").unlink()  # as if the first build died before writing it
    lines: list[str] = []
    result = build_toy_lhc_like(tmp_path / "zoo", work, TINY, log=lines.append)
    assert any(line.startswith("[3/5] reusing the trained bundle") for line in lines)
    recorded = json.loads((work / "bundle" / "bundle.json").read_text())["training"]["wall_time_s"]
    assert result.stage_seconds["training"] == pytest.approx(recorded)
    assert load(result.bundle_dir).document["model"] == load(first.bundle_dir).document["model"]


def test_card_carries_the_reports_notes(built, tmp_path):
    from dataclasses import replace as with_

    from dnnlik import likelihoods
    from dnnlik.fidelity import FidelityData, assess
    from dnnlik.sample.dataset import read_dataset
    from dnnlik.zoo.card import write_card

    root, result, _ = built
    bundle = load(result.bundle_dir)
    a, b = (read_dataset(root / "work" / f"posterior-{k}.h5") for k in (1, 2))
    data = FidelityData(a.points, a.logpdf, b.points, b.logpdf, test_weight=a.weight, train_weight=b.weight)
    report = assess(
        bundle,
        data,
        likelihoods.get("toy-lhc-like"),
        grid=(0.0, 1.0),
        quadratic=False,
        intervals=False,
        offset=float(bundle.document["output"].get("offset", 0.0)),
    )
    report = with_(report, notes=["the K-S thresholds are within the noise here"])
    write_card(tmp_path, bundle, report, {"training": 1.0}, TINY)
    card = (tmp_path / "README.md").read_text()
    assert "Note: the K-S thresholds are within the noise here." in card
    assert "| ks_median_pvalue_exact |" in card
