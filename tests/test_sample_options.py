"""dnnlik.sample's options: one home for every default and rule, read by the library and by ``dnnlik sample``.

Also: the library names its own arguments in errors and the command line
translates them to flags; the plan stores its move set; the ``sampling``
section follows the schema's order; atomic replaces leave nothing behind.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner

from dnnlik.cli import sample as cli_module
from dnnlik.errors import DnnlikError, InvalidInputError
from dnnlik.likelihoods import CallableLikelihood
from dnnlik.sample import SampleOptions
from dnnlik.sample.options import check_walkers

ROOT = Path(__file__).resolve().parents[1]
FIELDS = {f.name: f for f in dataclasses.fields(SampleOptions)}


def _command_options() -> dict[str, click.Option]:
    return {p.name: p for p in cli_module.sample.params if isinstance(p, click.Option) and p.name in FIELDS}


# ---------------------------------------------------------------------------------------------- one source of defaults
def test_every_option_is_offered_or_named_library_only() -> None:
    offered = set(_command_options())
    assert offered | set(cli_module.LIBRARY_ONLY) == set(FIELDS)
    assert not offered & set(cli_module.LIBRARY_ONLY)


def test_command_line_defaults_are_the_library_defaults() -> None:
    for name, option in _command_options().items():
        default = FIELDS[name].default
        if name == "split":  # offered as text, parsed back by the option's callback
            assert tuple(float(v) for v in option.default.split(",")) == default
        else:
            assert option.default == default, name
        assert option.show_default, name  # --help states it


def test_command_line_ranges_are_the_library_rules() -> None:
    for name, option in _command_options().items():
        meta = FIELDS[name].metadata
        if meta["minimum"] is not None:
            assert isinstance(option.type, click.IntRange) and option.type.min == meta["minimum"], name
        if meta["interval"] is not None:
            assert isinstance(option.type, click.FloatRange)
            assert (option.type.min, option.type.max) == meta["interval"], name


def test_help_states_the_defaults() -> None:
    result = CliRunner().invoke(cli_module.sample, ["--help"], terminal_width=200)
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for expected in (
        "[default: unbiased]",
        "[default: 100000; x>=1]",
        "[default: auto]",
        "max(64, 2 x dimensions + 10)",
        "[default: 500; x>=27]",
        "[default: 0.8,0.1,0.1]",
        "best fit +- 5 Laplace sigma, within the bounds",
        "[default: tile]",
    ):
        assert expected in text, expected


def test_a_tuning_chain_too_short_is_refused_by_the_option_itself(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli_module.sample, ["toy-lhc-like", "--out", str(tmp_path / "s.h5"), "--tune-steps", "20"]
    )
    assert result.exit_code == 2 and "Invalid value for '--tune-steps'" in result.output
    assert list(tmp_path.iterdir()) == []


def test_the_command_and_the_options_import_light() -> None:
    code = textwrap.dedent("""
        import sys
        from click.testing import CliRunner
        from dnnlik.cli.sample import sample
        from dnnlik.sample.options import SampleOptions
        assert CliRunner().invoke(sample, ["--help"]).exit_code == 0
        heavy = [m for m in ("emcee", "h5py", "scipy", "onnxruntime", "tensorflow") if m in sys.modules]
        assert not heavy, heavy
    """)
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ---------------------------------------------------------------------------------------------- the rules
@pytest.mark.parametrize(
    "bad, message",
    [
        ({"burn_in": -1}, "burn_in: must be a non-negative integer"),
        ({"thin": 0}, "thin: must be an integer >= 1"),
        ({"n_walkers": 1}, "n_walkers: must be an integer >= 2"),
        ({"n": 2.5}, "n: must be an integer >= 1"),
        ({"n": True}, "n: must be an integer >= 1"),
        ({"profile_fraction": 1.5}, r"profile_fraction: must be a number in \[0, 1\]"),
        ({"poi_sigmas": 0.0}, "poi_sigmas: must be a positive number"),
        ({"burn_factor": float("inf")}, "burn_factor: must be a positive number"),
        ({"window": -1.0}, "window: must be 'tile' or a width >= 0"),
        ({"df": 0}, "df: must be a positive number or None"),
        ({"on_short_chain": "ignore"}, "on_short_chain: must be 'warn' or 'error'"),
    ],
)
def test_each_option_has_its_rule(bad: dict, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        SampleOptions.from_keywords(bad)


def test_numpy_integers_are_integers() -> None:
    assert SampleOptions.from_keywords({"n": np.int64(10), "seed": np.uint32(3)}).n == 10


def test_the_walker_rule_covers_the_fallback_move_set() -> None:
    check_walkers(3, 2, "laplace")  # no ensemble move: any number of walkers
    with pytest.raises(InvalidInputError, match=r"n_walkers: 3 walkers are too few for 2 dimensions"):
        check_walkers(3, 2, "auto")
    check_walkers(4, 2, "auto")


# ------------------------------------------------------------------------------------------ errors: arguments, flags
def _string_constants(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    docstrings = {
        id(n.body[0].value)
        for n in ast.walk(tree)
        if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef))
        and n.body
        and isinstance(n.body[0], ast.Expr)
        and isinstance(n.body[0].value, ast.Constant)
    }
    return [
        (n.lineno, n.value)
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings
    ]


def test_the_library_never_names_command_line_flags() -> None:
    flag = re.compile(r"(?<![\w-])--[a-z]")
    found = [
        f"{path.relative_to(ROOT)}:{line}: {text!r}"
        for path in sorted((ROOT / "dnnlik" / "sample").glob("*.py"))
        for line, text in _string_constants(path)
        if flag.search(text)
    ]
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    "error, message",
    [
        (InvalidInputError("50 walkers are too few", where="n_walkers"), "--walkers: 50 walkers are too few"),
        (
            InvalidInputError("must be an integer >= 27, got 20", where="tune_steps"),
            "--tune-steps: must be an integer >= 27, got 20",
        ),
        (InvalidInputError("nothing to sample", where="n"), "--n: nothing to sample"),
        (
            DnnlikError("unreadable checkpoint (x); start again with overwrite=True", where="/a/s.h5.partial/plan.h5"),
            "/a/s.h5.partial/plan.h5: unreadable checkpoint (x); start again with --overwrite",
        ),
        (
            InvalidInputError("is complete: nothing to resume (use overwrite=True to sample again)", where="/a/s.h5"),
            "/a/s.h5: is complete: nothing to resume (use --overwrite to sample again)",
        ),
    ],
)
def test_the_command_line_names_its_flags(error: DnnlikError, message: str) -> None:
    assert cli_module.cli_message(error) == message


def test_a_complete_output_cannot_be_resumed_on_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "s.h5"
    out.write_bytes(b"complete")
    result = CliRunner().invoke(cli_module.sample, ["toy-lhc-like", "--out", str(out), "--resume"])
    assert result.exit_code == 2
    assert f"{out}: is complete: nothing to resume (use --overwrite to sample again)" in " ".join(result.output.split())
    assert out.read_bytes() == b"complete"


# ---------------------------------------------------------------------------------------------- the plan, the metadata
def test_the_plan_keeps_its_move_set_and_fallback(tmp_path: Path) -> None:
    import h5py

    from dnnlik.sample.strategies import Plan, Segment

    seg = Segment(index=0, kind="unbiased", n_target=10, free=np.arange(2), base=np.zeros(2), reference=True)
    for plan, asked in (
        (Plan([seg], {"maximum": {"logpdf": 0.0}}, "de", "no Laplace approximation"), "auto"),
        (Plan([seg], {"maximum": {"logpdf": 0.0}}, "stretch"), "stretch"),
    ):
        with h5py.File(tmp_path / "plan.h5", "w") as f:
            plan.to_h5(f)
        with h5py.File(tmp_path / "plan.h5", "r") as f:
            back = Plan.from_h5(f, asked)
        assert (back.move_set, back.fallback, back.choices) == (plan.move_set, plan.fallback, plan.choices)
        assert [s.describe() for s in back.segments] == [seg.describe()]


@pytest.mark.filterwarnings("ignore::dnnlik.sample.ShortChainWarning")
def test_the_sampling_section_follows_the_schema(tmp_path: Path) -> None:
    """Built by one function (dnnlik.sample.metadata), its fields in the order of the schema's section."""
    from dnnlik.errors import NoGradientError
    from dnnlik.sample import sample

    class NoGradient:  # no gradient, so no Laplace approximation: 'auto' falls back to 'de'
        parameters = CallableLikelihood(lambda x: x[:, 0], ["x", "y"]).parameters

        def logpdf(self, x: np.ndarray) -> np.ndarray:
            return -0.5 * (np.asarray(x) ** 2).sum(axis=1)

        def grad_logpdf(self, x: np.ndarray) -> np.ndarray:
            raise NoGradientError("no gradient")

    result = sample(NoGradient(), tmp_path / "s.h5", n=400, seed=1, n_walkers=8, tune_steps=30, n_chains=1)
    schema = json.loads((ROOT / "spec" / "schemas" / "1.0.0" / "sections.schema.json").read_text())
    named = list(schema["$defs"]["sampling"]["properties"])
    assert [k for k in result.sampling if k in named] == named
    options = result.sampling["strategy_options"]
    assert options["move_set"] == "de" and options["moves_fallback"].startswith("no Laplace approximation")
    assert [m["name"] for m in result.sampling["moves"]] == ["de", "snooker"]


# ---------------------------------------------------------------------------------------------- atomic writes
def test_an_interrupted_atomic_replace_leaves_the_old_file(tmp_path: Path) -> None:
    from dnnlik.fsutil import atomic_replace

    target = tmp_path / "f.h5"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_replace(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("killed")
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["f.h5"]
    with atomic_replace(target) as tmp:
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new" and sorted(p.name for p in tmp_path.iterdir()) == ["f.h5"]
