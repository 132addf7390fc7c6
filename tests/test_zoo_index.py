"""The zoo index: entries pinned by digest, zoo:NAME loading, the zoo CLI."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

import dnnlik
from dnnlik import zoo
from dnnlik.cli.main import cli
from dnnlik.errors import BundleError, InvalidInputError


@pytest.fixture
def tmp_zoo(gaussian_bundle, tmp_path, monkeypatch):
    root = tmp_path / "zoo"
    shutil.copytree(gaussian_bundle, root / "gaussian" / "bundle")
    entry = zoo.make_entry(root / "gaussian" / "bundle", root, tags=("example",))
    zoo.write_index([entry], root)
    monkeypatch.setattr("dnnlik.zoo.index.zoo_root", lambda: root)
    return root


def test_index_round_trip(tmp_zoo):
    (entry,) = zoo.load_index(tmp_zoo)
    doc = json.loads((tmp_zoo / "gaussian" / "bundle" / "bundle.json").read_text())
    assert (entry.name, entry.path, entry.sha256) == ("gaussian-4d", "gaussian/bundle", doc["document_sha256"])
    assert entry.size == sum(p.stat().st_size for p in (tmp_zoo / "gaussian" / "bundle").rglob("*") if p.is_file())
    assert entry.tags == ("example",)


def test_load_by_zoo_name(tmp_zoo, gaussian_bundle):
    b = dnnlik.load("zoo:gaussian-4d")
    assert b.logpdf([0.1, 0.2, 0.3, 0.4]) == dnnlik.load(gaussian_bundle).logpdf([0.1, 0.2, 0.3, 0.4])
    assert dnnlik.validate("zoo:gaussian-4d").ok


def test_unknown_entry_lists_the_others(tmp_zoo):
    with pytest.raises(InvalidInputError, match="no zoo entry 'nope'; the zoo has: gaussian-4d"):
        dnnlik.load("zoo:nope")


def test_swapped_entry_is_refused(tmp_zoo):
    doc_path = tmp_zoo / "gaussian" / "bundle" / "bundle.json"
    doc = json.loads(doc_path.read_text())
    doc["document_sha256"] = "0" * 64
    doc_path.write_text(json.dumps(doc))
    with pytest.raises(BundleError, match="differs from the index"):
        dnnlik.load("zoo:gaussian-4d")


@pytest.mark.parametrize(
    "content, words",
    [
        ("not json", "not valid JSON"),
        ('{"entries": []}', "index_version"),
        ('{"index_version": 1, "entries": [{"name": "a"}]}', "lacks version"),
        (
            '{"index_version": 1, "entries": [{"name": "a", "version": "1", "kind": "likelihood", "path": "../x", '
            '"sha256": "' + "0" * 64 + '", "size": 1}]}',
            "inside the zoo",
        ),
    ],
)
def test_bad_index_is_one_clear_error(tmp_path, content, words):
    (tmp_path / "index.json").write_text(content)
    with pytest.raises(BundleError, match=words):
        zoo.load_index(tmp_path)


def test_cli_list_and_info(tmp_zoo):
    runner = CliRunner()
    listed = runner.invoke(cli, ["zoo", "list"])
    assert listed.exit_code == 0 and "gaussian-4d" in listed.output
    as_json = json.loads(runner.invoke(cli, ["zoo", "list", "--format", "json"]).output)
    assert as_json[0]["path"] == "gaussian/bundle"
    info = runner.invoke(cli, ["zoo", "info", "gaussian-4d"])
    assert info.exit_code == 0 and "theta_3" in info.output
    missing = runner.invoke(cli, ["zoo", "info", "nope"])
    assert missing.exit_code == 1 and "no zoo entry" in missing.output


def test_cli_show_without_reference(tmp_zoo, tmp_path):
    result = CliRunner().invoke(
        cli, ["zoo", "show", "gaussian-4d", "--values", "0,0.5", "--plot", str(tmp_path / "t.png")]
    )
    assert result.exit_code == 0, result.output
    assert "not available here: surrogate only" in result.output
    assert "fidelity verdict recorded in the bundle: NOT-RUN" in result.output
    assert "plot: " in result.output


@pytest.mark.parametrize(
    "option, expected", [([], 14.0), (["--train-minutes", "0"], None), (["--train-minutes", "30"], 30.0)]
)
def test_cli_build_train_minutes(monkeypatch, tmp_path, option, expected):
    from dataclasses import replace

    from dnnlik.zoo import build as build_module
    from dnnlik.zoo.build import BuildConfig

    seen = {}

    def fake_build(name, zoo_dir, work, config, log):
        seen["config"], seen["name"] = config, name
        return build_module.BuildResult(tmp_path, tmp_path / "bundle", "", "pass", {"training": 1.0})

    monkeypatch.setattr(build_module, "build_entry", fake_build)
    result = CliRunner().invoke(
        cli, ["zoo", "build", "toy-lhc-like", "--zoo-dir", str(tmp_path / "z"), "--work", str(tmp_path / "w"), *option]
    )
    assert result.exit_code == 0, result.output
    assert seen["config"].train_minutes == expected and seen["name"] == "toy-lhc-like"
    assert replace(seen["config"], train_minutes=None) == replace(BuildConfig(), train_minutes=None)
    bad = CliRunner().invoke(cli, ["zoo", "build", "toy-lhc-like", "--train-minutes", "-1"])
    assert bad.exit_code == 2 and "--train-minutes" in bad.output


def test_build_config_spells_its_command():
    from dataclasses import replace

    from dnnlik.zoo.build import BuildConfig

    assert BuildConfig().command() == "dnnlik zoo build toy-lhc-like"
    assert replace(BuildConfig(), train_minutes=None).command() == "dnnlik zoo build toy-lhc-like --train-minutes 0"
    assert (
        replace(BuildConfig.quick(), train_minutes=2.5).command()
        == "dnnlik zoo build toy-lhc-like --quick --train-minutes 2.5"
    )
    assert "n_train=7" in replace(BuildConfig(), n_train=7).command()


def test_show_names_the_metrics_that_failed():
    from dnnlik.zoo.show import _failed

    validation = {
        "verdict": "fail",
        "metrics": [
            {
                "name": "tmu_mean_abs_delta",
                "value": {"value": 0.003, "detail": {}},
                "threshold": 0.005,
                "comparison": "<=",
                "passed": True,
            },
            {
                "name": "ks_median_pvalue",
                "value": {"value": 0.39791, "detail": {}},
                "threshold": 0.4,
                "comparison": ">=",
                "passed": False,
            },
            {"name": "odd", "value": "n/a", "passed": False},
        ],
    }
    assert _failed(validation) == " (fails: ks_median_pvalue 0.3979, needs >= 0.4; odd)"
    assert _failed({"verdict": "pass", "metrics": []}) == ""


def test_validate_all_from_python(tmp_zoo):
    (report,) = zoo.validate_all()
    assert report.ok and report.target.startswith("zoo:gaussian-4d@")
    assert "zoo" in report.checks
    # the same index read through the one reader, with a pin broken: the report says which member
    data = json.loads((tmp_zoo / "index.json").read_text())
    data["entries"][0]["size"] += 1
    (tmp_zoo / "index.json").write_text(json.dumps(data))
    (report,) = zoo.validate_all(tmp_zoo / "index.json")
    assert [p.code for p in report.problems] == ["zoo:size"]
    assert report.problems[0].location.endswith("index.json#/entries/0/size")


@pytest.mark.parametrize(
    "content, words",
    [
        ('[{"name": "a"}]', "index_version"),  # a bare list is not an index (one reader, one rule)
        ('{"index_version": 2, "entries": []}', "index_version 1"),
        (
            '{"index_version": 1, "entries": [{"name": "a", "version": "1", "kind": "likelihood", "path": "a", '
            '"sha256": "'
            + "0"
            * 64
            + '", "size": 1}, {"name": "b", "version": "1", "kind": "likelihood", "path": "a", '
            '"sha256": "' + "0" * 64 + '", "size": 1}]}',
            "more than once",
        ),
    ],
)
def test_validate_all_uses_the_strict_reader(tmp_path, content, words):
    (tmp_path / "index.json").write_text(content)
    with pytest.raises(BundleError, match=words):
        zoo.validate_all(tmp_path / "index.json")


def test_an_ambiguous_name_is_refused(tmp_zoo):
    entry = zoo.load_index(tmp_zoo)[0]
    shutil.copytree(tmp_zoo / "gaussian" / "bundle", tmp_zoo / "copy")
    zoo.write_index([entry, zoo.make_entry(tmp_zoo / "copy", tmp_zoo)], tmp_zoo)
    with pytest.raises(InvalidInputError, match="lists 'gaussian-4d' 2 times"):
        dnnlik.load("zoo:gaussian-4d")


def test_stored_metrics_read_back_with_their_structure():
    from dnnlik.fidelity.metrics import Metric

    m = Metric("ks_median_pvalue", 0.39791, threshold=0.4, comparison=">=", detail={"n": 3}, description="d")
    back = Metric.from_json(m.to_json())
    assert (back.name, back.value, back.threshold, back.comparison, back.detail) == (
        m.name,
        m.value,
        m.threshold,
        m.comparison,
        m.detail,
    )
    assert back.passed is m.passed is False
    assert Metric.from_json({"name": "x", "value": {"non_finite": "nan"}}).value != 0  # NaN
