"""Every broken combination file of the catalog (tests/broken_combinations.py) is refused, clearly.

For each entry: ``validate_combination`` returns (never raises) a report that is
not ok and holds the expected code, with the message fragment that names the
member and the parameter, every problem located in a file of the combination,
one line each, no traceback; ``read_combination`` raises one error with the same
code and fragment; ``dnnlik validate`` exits 1 naming the code, ``dnnlik
combine``, ``dnnlik limit`` and ``dnnlik info`` exit 1 with one line ``Error: ...``
(a few entries in the quick loop, all of them in the slow one); and nothing is
written.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent))

from broken_combinations import CATALOG, BrokenCombination, Kit

from dnnlik.cli.main import cli
from dnnlik.combine.file import read_combination, validate_combination
from dnnlik.errors import DnnlikError

EXCEPTION_REPR = re.compile(r"\b[A-Z][A-Za-z]*(Error|Exception|Warning)\(")


@pytest.fixture(scope="session")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    from dnnlik.examples import build_gaussian_bundle

    folder = tmp_path_factory.mktemp("members")
    build_gaussian_bundle(folder / "a", dim=2)
    build_gaussian_bundle(folder / "b", dim=3)
    return Kit(folder / "a", folder / "b")


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


def test_catalog_covers_the_defects() -> None:
    names = [b.name for b in CATALOG]
    assert len(set(names)) == len(names), "catalog names must be distinct"
    assert all(b.about and b.fragment and b.code.count(":") == 1 for b in CATALOG)
    codes = {b.code for b in CATALOG}
    for code in (
        "combination:conflict",
        "combination:rename",
        "combination:separate",
        "combination:duplicate-member",
        "member:missing",
        "member:digest-mismatch",
        "member:invalid",
        "member:not-likelihood",
        "member:cycle",
        "member:too-deep",
        "schema:additionalProperties",
        "schema:format-version",
        "reinterpretation:invalid",
        "poi:unknown",
        "json:duplicate-key",
        "json:too-large",
        "json:too-deep",
    ):
        assert code in codes, code
    conflicts = " ".join(b.fragment for b in CATALOG if b.code == "combination:conflict")
    for what in ("constraint", "role", "bounds", "unit"):
        assert f"the {what} of parameter" in conflicts, what


@pytest.mark.parametrize("entry", CATALOG, ids=str)
def test_broken_combination_is_refused_clearly(entry: BrokenCombination, kit: Kit, tmp_path: Path) -> None:
    path = entry.build(tmp_path, kit)
    before = _snapshot(tmp_path)

    report = validate_combination(path)
    assert not report.ok
    matching = [p for p in report.errors if p.code == entry.code]
    assert matching, report.to_text()
    assert any(entry.fragment in p.message for p in matching), report.to_text()
    for p in report.problems:
        assert p.location.startswith(str(tmp_path)), p  # a file of the combination, with a JSON pointer inside it
        assert "\n" not in p.message and "Traceback" not in p.message and not EXCEPTION_REPR.search(p.message), p

    with pytest.raises(DnnlikError) as raised:
        read_combination(path)
    text = str(raised.value)
    assert f"[{entry.code}]" in text and entry.fragment in text and "\n" not in text, text
    assert _snapshot(tmp_path) == before, "nothing is written"


def _check_cli(entry: BrokenCombination, kit: Kit, tmp_path: Path) -> None:
    path = entry.build(tmp_path, kit)
    before = _snapshot(tmp_path)
    runner = CliRunner()
    result = runner.invoke(cli, ["validate", str(path)])
    assert result.exit_code == 1 and entry.code in result.output, result.output
    assert "Traceback" not in result.output
    for command in (["combine", str(path), "--tmu", "0:1:0.5"], ["limit", str(path)], ["info", str(path)]):
        result = runner.invoke(cli, command)
        assert result.exit_code == 1, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ") and entry.fragment in lines[0], result.output
    assert _snapshot(tmp_path) == before, "nothing is written"


QUICK_CLI = ("digest-mismatch", "constraint-conflict", "cycle", "wrong-format")


@pytest.mark.parametrize("entry", [b for b in CATALOG if b.name in QUICK_CLI], ids=str)
def test_cli_refuses_broken_combinations(entry: BrokenCombination, kit: Kit, tmp_path: Path) -> None:
    _check_cli(entry, kit, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("entry", [b for b in CATALOG if b.name not in QUICK_CLI], ids=str)
def test_cli_refuses_every_broken_combination(entry: BrokenCombination, kit: Kit, tmp_path: Path) -> None:
    _check_cli(entry, kit, tmp_path)
