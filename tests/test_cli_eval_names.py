"""``dnnlik eval --param``: an unknown name's message lists the POI first, then the other names (or how many more)."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from dnnlik.bundle.write import read_bundle_files, update_bundle
from dnnlik.cli.bundle_commands import SHOWN_NAMES
from dnnlik.cli.main import cli
from dnnlik.examples import build_gaussian_bundle


def _bundle(path, dim: int, poi: int):  # type: ignore[no-untyped-def]
    """The example bundle in ``dim`` dimensions, with parameter ``poi`` (not the first) as the POI."""
    build_gaussian_bundle(path, dim=dim)
    doc, _ = read_bundle_files(path)
    params = doc["parameters"]
    params[0]["role"], params[poi]["role"] = "nuisance", "poi"
    update_bundle(path, {"parameters": params})
    return [p["name"] for p in params]


def _listed(output: str) -> list[str]:
    """The names the message lists, in order (click may wrap the line)."""
    text = " ".join(output.split())
    listed = text.split("Its parameters: ", 1)[1]
    listed = re.split(r" and \d+ more", listed)[0]
    return [item.removesuffix(" (parameter of interest)") for item in listed.split(", ")]


def test_a_long_list_starts_with_the_poi_and_says_how_many_more(tmp_path):
    names = _bundle(tmp_path / "b", dim=30, poi=17)
    result = CliRunner().invoke(cli, ["eval", str(tmp_path / "b"), "--param", "signal_strength=1"])
    assert result.exit_code == 2
    listed = _listed(result.output)
    assert listed[0] == "theta_17" and "theta_17 (parameter of interest)" in " ".join(result.output.split())
    others = [n for n in names if n != "theta_17"]
    assert listed[1:] == others[: SHOWN_NAMES - 1]
    assert f"and {len(names) - SHOWN_NAMES} more (dnnlik info {tmp_path / 'b'} lists them all)" in " ".join(
        result.output.split()
    )


@pytest.mark.parametrize("guess", ["theta_9x", "theta9"])
def test_a_short_list_is_complete_and_a_near_miss_is_suggested(tmp_path, guess):
    names = _bundle(tmp_path / "b", dim=10, poi=9)
    result = CliRunner().invoke(cli, ["eval", str(tmp_path / "b"), "--param", f"{guess}=1"])
    assert result.exit_code == 2
    assert sorted(_listed(result.output)) == sorted(names) and _listed(result.output)[0] == "theta_9"
    assert "more" not in result.output
    assert "did you mean 'theta_9'?" in " ".join(result.output.split())
