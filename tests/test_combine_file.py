"""Combination files on the good path (issue 14, section 4): written with pins, loaded, nested, used by the CLI.

The members are the analytic Gaussian example bundles (``a``: mu, theta_1;
``b``: mu, theta_1, theta_2; ``c``: mu, theta_1..3), whose combination is a
Gaussian again: its profiled t_mu and one-sided profile limit have closed forms
(the Gaussian product's precision is the sum of the members' precisions),
against which the file's results are checked, besides ``dnnlik.combine`` of the
same bundles.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import dnnlik
from dnnlik import infer
from dnnlik.cli.main import cli
from dnnlik.combine.file import is_combination_file, read_combination, validate_combination
from dnnlik.combine.file_write import write_combination
from dnnlik.combine.pins import pin
from dnnlik.errors import InvalidInputError, OutputExistsError
from dnnlik.examples import gaussian_spec

DIMS = {"a": 2, "b": 3, "c": 4}


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The three example bundles, built once (do not modify: copy them)."""
    from dnnlik.examples import build_gaussian_bundle

    folder = tmp_path_factory.mktemp("gaussians")
    for name, dim in DIMS.items():
        build_gaussian_bundle(folder / name, dim=dim)
    return folder


@pytest.fixture
def members(built: Path, tmp_path: Path) -> Path:
    """A folder holding copies of a, b and c (a combination file's folder)."""
    for name in DIMS:
        shutil.copytree(built / name, tmp_path / name)
    return tmp_path


def ab_file(folder: Path, check: bool = False, **kwargs: object) -> Path:
    """a and b combined in ``folder/ab.json`` (not loaded before writing unless ``check``: the tests load it)."""
    path = folder / "ab.json"
    entries = [{"name": "a", "source": "a"}, {"name": "b", "source": "b"}]
    write_combination(path, entries, name="ab", check=check, **kwargs)
    return path


def gaussian_product(names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of the product of the members' Gaussians over the union of their parameters."""
    dim = max(DIMS[n] for n in names)
    precision, shift = np.zeros((dim, dim)), np.zeros(dim)
    for n in names:
        mean, cov, _ = gaussian_spec(DIMS[n])
        q = np.linalg.inv(cov)
        k = DIMS[n]
        precision[:k, :k] += q
        shift[:k] += q @ mean
    cov = np.linalg.inv(precision)
    return cov @ shift, cov


def test_file_equals_dnnlik_combine(members: Path) -> None:
    path = ab_file(members, poi=["mu"])
    found = read_combination(path)
    joint = dnnlik.combine([str(members / "a"), str(members / "b")], names=["a", "b"])
    assert found.density.parameter_names == joint.parameter_names == ("mu", "theta_1", "theta_2")
    x = np.random.default_rng(5).normal(0.0, 1.0, (50, 3))
    np.testing.assert_allclose(found.density.logpdf(x), joint.logpdf(x), rtol=1e-13)
    np.testing.assert_allclose(found.density.grad_logpdf(x), joint.grad_logpdf(x), rtol=1e-13, atol=1e-13)
    assert found.pois == ("mu",) and infer.default_poi(found.density) == "mu"
    assert [m.name for m in found.members] == ["a", "b"] and {m.kind for m in found.members} == {"bundle"}
    for m in found.members:  # each pin is the bundle's document_sha256, which its validation checked
        document = json.loads((members / m.source / "bundle.json").read_text(encoding="utf-8"))
        assert m.document_sha256 == document["document_sha256"]


def test_own_digest_is_the_canonical_json_of_the_document(members: Path) -> None:
    path = ab_file(members, poi=["mu"])
    document = json.loads(path.read_text(encoding="utf-8"))
    body = {k: v for k, v in document.items() if k != "document_sha256"}
    # no floats and ASCII only: RFC 8785's form is json.dumps with sorted keys and no white space
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    expected = hashlib.sha256(canonical).hexdigest()
    assert document["document_sha256"] == expected == pin("ab.json", members) == read_combination(path).digest
    path.write_text(json.dumps(document, indent=7), encoding="utf-8")  # re-indenting changes no digest
    assert pin(path) == expected


def test_nested_combination_equals_the_flat_one(members: Path) -> None:
    ab_file(members, poi=["mu"])
    nested = members / "abc.json"
    entries = [{"name": "ab", "source": "ab.json"}, {"name": "c", "source": "c"}]
    write_combination(nested, entries, name="abc", poi="mu", check=False)
    flat = members / "flat.json"
    entries = [{"name": n, "source": n} for n in ("a", "b", "c")]
    write_combination(flat, entries, name="flat", poi="mu", check=False)
    inner, outer = read_combination(nested), read_combination(flat)
    assert inner.members[0].kind == "combination" and inner.members[0].document_sha256 == pin("ab.json", members)
    assert inner.density.parameter_names == outer.density.parameter_names == ("mu", "theta_1", "theta_2", "theta_3")
    x = np.random.default_rng(6).normal(0.0, 1.0, (40, 4))
    np.testing.assert_allclose(inner.density.logpdf(x), outer.density.logpdf(x), rtol=1e-12)
    np.testing.assert_allclose(inner.density.grad_logpdf(x), outer.density.grad_logpdf(x), rtol=1e-12, atol=1e-12)
    mean, cov = gaussian_product(["a", "b", "c"])  # and both are the product of the three Gaussians
    d = x - mean
    expected = -0.5 * np.einsum("ni,ij,nj->n", d, np.linalg.inv(cov), d)
    got = outer.density.logpdf(x)
    np.testing.assert_allclose(got - got[0], expected - expected[0], atol=1e-9)


def test_poi_list_sets_the_roles(members: Path) -> None:
    found = read_combination(ab_file(members, poi=["theta_1", "mu"]))
    roles = {p.name: p.role for p in found.density.parameters}
    assert roles == {"mu": "poi", "theta_1": "poi", "theta_2": "nuisance"} and found.pois == ("theta_1", "mu")
    with pytest.raises(InvalidInputError, match="2 parameters have role 'poi'"):
        infer.default_poi(found.density)  # two POIs: Python names one; the CLI takes the file's first
    only = read_combination(ab_file(members, poi=["theta_2"], overwrite=True))
    assert [p.name for p in only.density.parameters if p.role == "poi"] == ["theta_2"]  # mu: now a nuisance


def test_cli_combine_agrees_with_tmu_scan(members: Path) -> None:
    path = ab_file(members, poi=["mu"])
    values = [-1.0, -0.5, 0.0, 0.5, 1.0]
    scan = infer.tmu_scan(dnnlik.combine([str(members / "a"), str(members / "b")], names=["a", "b"]), values)
    runner = CliRunner()
    result = runner.invoke(cli, ["combine", str(path), "--tmu", "-1:1:0.5", "--format", "json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["combination"] == "ab" and out["poi"] == "mu" and out["pois"] == ["mu"]
    got = [p["tmu"] for p in out["points"]]
    np.testing.assert_allclose(got, scan.tmu, atol=1e-6)
    mean, cov = gaussian_product(["a", "b"])  # closed form: (mu - mu_hat)^2 / var(mu)
    np.testing.assert_allclose(got, (np.array(values) - mean[0]) ** 2 / cov[0, 0], atol=1e-6)
    text = runner.invoke(cli, ["combine", str(path), "--tmu", "-1:1:0.5"])
    assert text.exit_code == 0 and text.output.startswith("ab: 2 members, t_mu of mu\n"), text.output
    rows = [line.split() for line in text.output.splitlines()[3:-1]]
    np.testing.assert_allclose([float(r[1]) for r in rows], got, atol=1e-4)
    two = runner.invoke(cli, ["combine", str(ab_file(members, poi=["theta_1", "mu"], overwrite=True)), "--tmu", "0"])
    assert two.exit_code == 0 and "t_mu of theta_1" in two.output  # the file's first POI is the default


def test_cli_limit_on_a_combination_file(members: Path) -> None:
    path = ab_file(members, poi=["mu"])
    result = CliRunner().invoke(cli, ["limit", str(path), "--method", "profile", "--format", "json"])
    assert result.exit_code == 0, result.output
    (limit,) = json.loads(result.output)["limits"]
    mean, cov = gaussian_product(["a", "b"])  # one-sided profile limit: mu_hat + Phi^-1(0.95) sigma
    assert limit["poi"] == "mu" and limit["limit"] == pytest.approx(mean[0] + 1.6448536 * np.sqrt(cov[0, 0]), abs=1e-4)


def test_cli_info_and_validate(built: Path, tmp_path: Path) -> None:
    normal = {"type": "normal", "mean": 0.0, "sigma": 1.0}
    for name in ("a", "b"):  # theta_1 constrained in both, both outputs include the term: one copy removed
        document = json.loads((built / name / "bundle.json").read_text(encoding="utf-8"))
        document["parameters"][1]["constraint"] = normal
        from dnnlik.bundle.write import write_bundle

        write_bundle(tmp_path / name, document, {"model.onnx": (built / name / "model.onnx").read_bytes()})
    path = ab_file(tmp_path, poi=["mu"])
    runner = CliRunner()
    text = runner.invoke(cli, ["info", str(path)])
    assert text.exit_code == 0, text.output
    for expected in (
        "ab: 2 members, 3 parameters",
        "member a: 2 parameters",
        "member b: 3 parameters",
        "shared parameters (2): mu, theta_1",
        "constraint of theta_1 (normal): 1 copy removed",
        "parameters of interest: mu",
        f"pin of b: b (bundle) document_sha256 {pin('b', tmp_path)}",
    ):
        assert expected in text.output, text.output
    info = json.loads(runner.invoke(cli, ["info", str(path), "--format", "json"]).output)
    assert info["name"] == "ab" and info["poi"] == ["mu"] and info["document_sha256"] == pin(path)
    assert info["combination"]["constraints"] == [
        {"parameter": "theta_1", "type": "normal", "included_by": ["a", "b"], "removed": 1, "added": 0}
    ]
    result = runner.invoke(cli, ["validate", str(path), str(tmp_path / "a")])
    assert result.exit_code == 0 and result.output.count(": valid") == 2, result.output
    assert validate_combination(path).ok


def test_write_refuses_and_writes_nothing(members: Path) -> None:
    path = ab_file(members, poi=["mu"])
    with pytest.raises(OutputExistsError):
        ab_file(members, poi=["mu"])
    before = path.read_bytes()
    with pytest.raises(InvalidInputError, match=r"no parameter 'nu'.*\[poi:unknown\]"):
        ab_file(members, check=True, poi=["nu"], overwrite=True)  # loaded before writing: the old file stays
    with pytest.raises(InvalidInputError, match="no member has a parameter 'lumi'"):
        ab_file(members, check=True, poi=["mu"], separate=["lumi"], overwrite=True)
    with pytest.raises(InvalidInputError, match="must end in .json"):
        write_combination(members / "ab.txt", [{"name": "a", "source": "a"}], name="x", poi="mu")
    with pytest.raises(InvalidInputError, match="no such file or folder"):
        write_combination(members / "z.json", [{"name": "a", "source": "nope"}], name="x", poi="mu")
    assert path.read_bytes() == before and sorted(p.name for p in members.iterdir()) == ["a", "ab.json", "b", "c"]


def test_is_combination_file(members: Path) -> None:
    path = ab_file(members, poi=["mu"])
    assert is_combination_file(path)
    (members / "other.json").write_text('{"format_version": "1.1.0"}', encoding="utf-8")
    (members / "bad.json").write_text("{", encoding="utf-8")
    assert not is_combination_file(members / "other.json") and not is_combination_file(members / "bad.json")
    assert not is_combination_file(members / "a") and not is_combination_file(members / "missing.json")


def test_reinterpretation_in_a_file(members: Path) -> None:
    grid, ratio = [200.0, 600.0, 1000.0], [2.0, 0.6, 0.3]
    mapping = {
        "parameters": [
            {"name": "m", "bounds": [200.0, 1000.0], "nominal": 500.0, "unit": "GeV"},
            {"name": "g", "bounds": [0.0, 2.0], "nominal": 1.0},
        ],
        "tables": {"ratio": {"inputs": ["m"], "grid": [grid], "values": ratio}},
        "signal_strengths": {"mu": {"product": [{"table": "ratio"}, {"power": ["g", 2]}]}},
    }
    path = ab_file(members, poi=["g", "m"], reinterpretation=mapping)
    found = read_combination(path)
    assert found.density.parameter_names == ("m", "g", "theta_1", "theta_2")
    assert [p.name for p in found.density.parameters if p.role == "poi"] == ["m", "g"]
    rng = np.random.default_rng(8)
    m, g, theta = rng.uniform(200, 1000, 30), rng.uniform(0, 2, 30), rng.normal(0, 1, (30, 2))
    joint = dnnlik.combine([str(members / "a"), str(members / "b")], names=["a", "b"])
    mu = np.interp(m, grid, ratio) * g**2  # the mapping, computed independently
    expected = joint.logpdf(np.column_stack([mu, theta]))
    np.testing.assert_allclose(found.density.logpdf(np.column_stack([m, g, theta])), expected, rtol=1e-12)
    result = CliRunner().invoke(cli, ["combine", str(path), "--tmu", "0.5,1", "--format", "json"])
    assert result.exit_code == 0 and json.loads(result.output)["poi"] == "g", result.output


@pytest.mark.slow
def test_zoo_member(tmp_path: Path) -> None:
    path = tmp_path / "zoo.json"
    write_combination(path, [{"name": "toy", "source": "zoo:toy-lhc-like"}], name="zoo-only", poi="mu")
    found = read_combination(path)
    bundle = dnnlik.load("zoo:toy-lhc-like")
    assert found.members[0].document_sha256 == bundle.document["document_sha256"]
    x = {"mu": np.array([0.0, 0.5, 1.0])}
    np.testing.assert_allclose(found.density.logpdf(x), bundle.logpdf(x), rtol=1e-12)


def test_cli_combine_names_its_flags(members: Path) -> None:
    path = ab_file(members, poi=["mu"])
    runner = CliRunner()
    unknown = runner.invoke(cli, ["combine", str(path), "--tmu", "0", "--poi", "nu"])
    assert unknown.exit_code == 1 and unknown.output.startswith("Error: --poi: unknown parameter 'nu'"), unknown.output
    outside = runner.invoke(cli, ["combine", str(path), "--tmu", "0,20"])
    assert outside.exit_code == 1 and "--tmu: mu = 20 is outside its bounds" in outside.output, outside.output
    assert runner.invoke(cli, ["combine", str(path), "--tmu", "0:1:0"]).exit_code == 2  # a usage error
