"""``dnnlik build pyhf``: a HistFactory workspace to a validated bundle in one command (issue 15, section 3).

Fast: every bad input (pyhf's schema, a patch that does not apply, unknown
measurement or patch, no POI, negative or NaN yields, a patchset made for
another workspace, a bad HEPData record, an output folder that is not ours):
one line, exit status 1, nothing written. The POI grid against a closed form,
the work folder's record, the budget's arithmetic on a fake clock.

Slow (a whole build, ``--quick``): pyhf's ``correlated_background`` simple model
and the every-modifier workspace with a patch; the bundle validates and records
what pyhf itself says (digests, fixed parameters, version); a rerun continues
without retraining; another command's folder is refused.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from dnnlik.cli.main import cli

pyhf = pytest.importorskip("pyhf")

from histfactory_workspaces import every_modifier_workspace, signal_patch, simple_workspace  # noqa: E402

# ----------------------------------------------------------------------------- bad inputs (fast)


def _patchset(background: dict, digest: str | None = None) -> dict:
    return {
        "metadata": {
            "description": "signal scaled",
            "digests": {"sha256": digest or pyhf.utils.digest(background)},
            "labels": ["scale"],
            "references": {"hepdata": "ins0000000"},
        },
        "patches": [{"metadata": {"name": "signal_x2", "values": [2.0]}, "patch": signal_patch(2.0)}],
        "version": "1.0.0",
    }


def _with(path: str, value) -> dict:
    """The every-modifier workspace with the member at JSON pointer ``path`` replaced by ``value``."""
    ws = every_modifier_workspace()
    *parents, last = path.strip("/").split("/")
    node = ws
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    node[int(last) if isinstance(node, list) else last] = value
    return ws


# (case id, workspace, extra arguments (files named {tmp}), expected message, expected place)
BAD_INPUTS = [
    ("schema", _with("/channels/0/samples/0/modifiers/1/type", "nosuchsys"), [], "pyhf's workspace schema",
     "workspace/channels/0/samples/0/modifiers/1"),
    ("patch-does-not-apply", every_modifier_workspace(), ["--patch", "{tmp}/bad-patch.json"], "does not apply",
     "patch"),
    ("unknown-measurement", every_modifier_workspace(), ["--measurement", "nope"], "no measurement 'nope'",
     "measurement"),
    ("unknown-patch", every_modifier_workspace(), ["--patchset", "{tmp}/patchset.json", "--name", "signal_x9"],
     "no patch 'signal_x9'", "patch"),
    ("no-poi", _with("/measurements/0/config/poi", ""), [], "names no parameter of interest", "measurement 'meas'"),
    ("negative-yield", _with("/channels/0/samples/1/data", [40.0, -80.0, 12.0]), [], "negative expected yield",
     "workspace/channels/0"),
    ("nan-yield", _with("/channels/0/samples/1/data/1", float("nan")), [], "nan is not a finite number",
     "workspace/channels/0/samples/1/data/1"),
    ("patchset-digest", every_modifier_workspace(), ["--patchset", "{tmp}/other-patchset.json", "--name",
     "signal_x2"], "was made for another background-only workspace", "patchset"),
    ("hepdata", every_modifier_workspace(), ["--hepdata", "1234567"], "is not a HEPData record", "hepdata"),
    ("bundle-name", every_modifier_workspace(), ["--bundle-name", "Has Spaces"], "is not a bundle name",
     "bundle_name"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "workspace", "extra", "message", "where"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_is_one_message_exit_1_and_nothing_written(tmp_path, case, workspace, extra, message, where):
    background = every_modifier_workspace()
    files = {
        "ws.json": workspace,
        "bad-patch.json": [{"op": "replace", "path": "/channels/7/samples", "value": []}],
        "patchset.json": _patchset(background),
        "other-patchset.json": _patchset(background, "0" * 64),
    }
    for name, value in files.items():
        (tmp_path / name).write_text(json.dumps(value))  # NaN written as NaN, as a careless producer would
    out = tmp_path / "out"
    args = ["build", "pyhf", str(tmp_path / "ws.json"), "--out", str(out), "--quick"]
    result = CliRunner().invoke(cli, args + [a.format(tmp=tmp_path) for a in extra])
    assert result.exit_code == 1, result.output
    [line] = result.output.strip().splitlines()  # one line, no traceback
    assert line.startswith(f"Error: {where}: ") and message in line, line
    assert not out.exists()


def test_an_output_folder_that_is_not_a_build_is_refused_untouched(tmp_path):
    (tmp_path / "ws.json").write_text(json.dumps(simple_workspace("correlated")))
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.tex").write_text("keep me")
    result = CliRunner().invoke(cli, ["build", "pyhf", str(tmp_path / "ws.json"), "--out", str(out), "--quick"])
    assert result.exit_code == 1 and "is not empty and holds no build" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["thesis.tex"]


def test_patch_flags_that_contradict_each_other_are_usage_errors(tmp_path):
    (tmp_path / "ws.json").write_text("{}")
    base = ["build", "pyhf", str(tmp_path / "ws.json"), "--out", str(tmp_path / "out")]
    both = CliRunner().invoke(cli, [*base, "--patch", "p.json", "--patchset", "s.json", "--name", "x"])
    alone = CliRunner().invoke(cli, [*base, "--patchset", "s.json"])
    assert both.exit_code == 2 and "not both" in both.output
    assert alone.exit_code == 2 and "--patchset needs --name" in alone.output
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------------------------------- the parts (fast)


def test_poi_grid_reaches_tmu_6_on_each_side_and_stops_at_a_bound():
    from dnnlik.builder.poi_grid import choose_poi_grid
    from dnnlik.likelihoods import CallableLikelihood
    from dnnlik.parameters import Parameter

    def logl(x):  # mu = 1.2 +- 0.3 on [0, 10], theta correlated with it: t_mu = ((mu - 1.2) / 0.3)^2 exactly
        mu, theta = x[:, 0], x[:, 1]
        return -0.5 * (((mu - 1.2) / 0.3) ** 2 + (theta - 0.5 * mu) ** 2)

    params = [Parameter("mu", "poi", (0.0, 10.0)), Parameter("theta", bounds=(-5.0, 5.0))]
    plan = choose_poi_grid(CallableLikelihood(logl, params))
    tmu = [((v - 1.2) / 0.3) ** 2 for v in plan.grid]
    assert plan.best_fit == pytest.approx(1.2, abs=1e-4)
    assert min(tmu) < 0.05 and tmu[0] >= 6.0 - 1e-3 and tmu[-1] >= 6.0 - 1e-3  # 0 to at least 6 on each side
    assert max(tmu) < 40  # not far beyond
    assert plan.tmu_low >= 6.0 and tmu[0] >= plan.tmu_low - 1e-3 and tmu[-1] >= plan.tmu_high - 1e-3
    assert plan.ridge_range[0] <= plan.grid[0] and plan.ridge_range[1] >= plan.grid[-1]

    # best fit on the lower bound: the grid starts there
    edge = CallableLikelihood(lambda x: -0.5 * ((x[:, 0] + 0.5) / 0.3) ** 2, [Parameter("mu", "poi", (0.0, 10.0))])
    plan = choose_poi_grid(edge)
    assert plan.grid[0] == 0.0 and ((plan.grid[-1] + 0.5) / 0.3) ** 2 - (0.5 / 0.3) ** 2 >= 6.0 - 1e-3


def test_the_work_folder_continues_its_own_command_and_refuses_another(tmp_path):
    from dnnlik.builder.workdir import check_output_folder, command_record, open_work
    from dnnlik.errors import InvalidInputError

    mine = command_record({"histfactory": {"workspace_sha256": "a" * 64}, "quick": True, "recipe": {}})
    other = command_record({"histfactory": {"workspace_sha256": "b" * 64}, "quick": True, "recipe": {"seed": 3}})
    out = tmp_path / "out"
    assert check_output_folder(out, mine) is False and not out.exists()
    open_work(out, mine)
    assert check_output_folder(out, mine) is True
    with pytest.raises(InvalidInputError, match=r"another command \(it differs in: histfactory, recipe\)"):
        check_output_folder(out, other)
    (tmp_path / "file").write_text("")
    with pytest.raises(InvalidInputError, match="is not a folder"):
        check_output_folder(tmp_path / "file", mine)


def test_budget_cuts_sample_sizes_and_gives_training_what_is_left():
    from dnnlik.builder.budget import Budget, CallCost, fit_sample_sizes, sampling_seconds, training_cap
    from dnnlik.builder.config import sizes_for

    now = [0.0]
    budget = Budget(10.0, clock=lambda: now[0])
    config = sizes_for(98)
    cost = CallCost(per_call=5e-3, per_point=1.3e-4)  # the ~100-parameter workspace's measured cost
    lines: list[str] = []
    cut = fit_sample_sizes(config, 98, cost, budget, lines.append)
    # the cut estimate fits the share, unless the floor (the quick sizes) stops it
    floor = sizes_for(98, quick=True)
    assert cut.n_train < config.n_train and cut.n_fidelity < config.n_fidelity and cut.n_train >= floor.n_train
    assert sampling_seconds(cut, 98, cost) <= 0.4 * 600 * 1.01 or cut.n_train == floor.n_train
    assert any("too short for the model's sample sizes" in line for line in lines)
    assert fit_sample_sizes(config, 98, cost, Budget(None), lines.append) == config

    now[0] = 300.0  # 5 of 10 minutes spent: 5 left, 1 kept for fidelity -> training gets 4
    assert training_cap(config, budget, 60.0, lines.append).train_minutes == pytest.approx(4.0)
    assert training_cap(sizes_for(98, quick=True), budget, 60.0, lines.append).train_minutes == 1.0  # own cap
    now[0] = 590.0
    assert training_cap(config, budget, 60.0, lines.append).train_minutes == 0.5
    assert "the budget is spent" in lines[-1] and "will overrun" in lines[-1]


# ----------------------------------------------------------------------------- whole builds (slow)


def _build(args: list[str]):
    pytest.importorskip("tensorflow")
    return CliRunner().invoke(cli, ["build", "pyhf", *args])


@pytest.fixture(scope="module")
def simple_build(tmp_path_factory):
    root = tmp_path_factory.mktemp("build-simple")
    workspace = simple_workspace("correlated")
    (root / "ws.json").write_text(json.dumps(workspace))
    args = [str(root / "ws.json"), "--out", str(root / "out"), "--quick", "--hepdata", "ins1234567/v1/t1"]
    return root, workspace, args, _build(args + ["--minutes", "20", "--progress"])


@pytest.mark.slow
def test_simple_model_build_validates_and_records_its_source(simple_build):
    import dnnlik

    root, workspace, _, result = simple_build
    assert result.exit_code == 0, result.output
    out = root / "out"
    assert dnnlik.validate(out / "bundle").ok
    doc = json.loads((out / "bundle" / "bundle.json").read_text())
    digest = pyhf.utils.digest(workspace)  # pyhf's own digest of what was given
    record = doc["provenance"]["histfactory"]
    assert record["workspace_sha256"] == record["patched_sha256"] == digest and "patch" not in record
    assert record["pyhf_version"] == pyhf.__version__ and record["hepdata"] == "ins1234567/v1/t1"
    assert record["measurement"] == workspace["measurements"][0]["name"] and record["poi"] == "mu"
    model = pyhf.Workspace(workspace).model()
    data = np.asarray(pyhf.Workspace(workspace).data(model), dtype="<f8")
    assert record["data"] == "observed" and record["data_sha256"] == __import__("hashlib").sha256(data).hexdigest()
    assert doc["provenance"]["source_likelihood"]["sha256"] == digest
    assert "fixed_parameters" not in doc  # pyhf fixes nothing in this model
    assert doc["validation"]["verdict"] in ("pass", "fail")
    assert {"tmu_mean_abs_delta", "best_fit_poi_abs_delta"} <= {m["name"] for m in doc["validation"]["metrics"]}
    card = (out / "README.md").read_text()
    assert "ins1234567/v1/t1" in card and digest in card and "dnnlik build pyhf" in card
    assert "sampling start:" in result.output and "left of 20:00" in result.output  # the progress lines


@pytest.mark.slow
def test_rerun_continues_without_retraining_and_another_command_is_refused(simple_build):
    root, _, args, first = simple_build
    assert first.exit_code == 0, first.output
    out = root / "out"
    model = (out / "bundle" / "model.onnx").read_bytes()
    trained_at = json.loads((out / ".work" / "bundle" / "bundle.json").read_text())["training"]["wall_time_s"]
    (out / "README.md").unlink()  # as if killed while publishing
    again = _build(args)  # no --minutes: the budget is not part of the command's record
    assert again.exit_code == 0, again.output
    assert "continuing the build" in again.output and "[3/5] reusing the trained bundle" in again.output
    assert "reusing the plan" in again.output and "[3/5] training" not in again.output
    assert (out / "bundle" / "model.onnx").read_bytes() == model and (out / "README.md").exists()
    assert json.loads((out / ".work" / "bundle" / "bundle.json").read_text())["training"]["wall_time_s"] == trained_at

    record = (out / ".work" / "command.json").read_bytes()
    other = _build([*args, "--seed", "7"])
    assert other.exit_code == 1 and "holds the work of another command (it differs in: recipe)" in other.output
    assert (out / ".work" / "command.json").read_bytes() == record


@pytest.mark.slow
def test_every_modifier_build_records_fixed_parameters_and_the_patch(tmp_path):
    import dnnlik
    from dnnlik.likelihoods import dnnlik_name

    workspace = every_modifier_workspace()
    (tmp_path / "ws.json").write_text(json.dumps(workspace))
    (tmp_path / "patchset.json").write_text(json.dumps(_patchset(workspace)))
    result = _build(
        [str(tmp_path / "ws.json"), "--patchset", str(tmp_path / "patchset.json"), "--name", "signal_x2"]
        + ["--out", str(tmp_path / "out"), "--quick", "--epochs", "20"]
    )
    assert result.exit_code == 0, result.output
    bundle = dnnlik.load(tmp_path / "out" / "bundle")
    patched = pyhf.PatchSet(_patchset(workspace)).apply(pyhf.Workspace(workspace), "signal_x2")
    model = patched.model()
    fixed = {  # what pyhf itself holds fixed: the measurement's and the staterror bin without uncertainty
        dnnlik_name(name): float(init)
        for name, init, is_fixed in zip(
            model.config.par_names, model.config.suggested_init(), model.config.suggested_fixed(), strict=True
        )
        if is_fixed
    }
    assert len(fixed) == 2 and dict(bundle.fixed_parameters) == fixed
    record = bundle.document["provenance"]["histfactory"]
    assert record["workspace_sha256"] == pyhf.utils.digest(workspace)
    assert record["patched_sha256"] == pyhf.utils.digest(dict(patched))
    assert record["patch"]["name"] == "signal_x2" and record["patch"]["values"] == [2.0]
    assert record["patch"]["sha256"] == pyhf.utils.digest(signal_patch(2.0))
    gammas = [p for p in bundle.parameters if p.constraint.type == "gamma"]
    assert len(gammas) == 3  # shapesys_wjets_SR, one per bin
    card = (tmp_path / "out" / "README.md").read_text()
    assert "held fixed" in card and "signal_x2" in card
