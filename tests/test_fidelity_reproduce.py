"""validate --reproduce: stored fidelity evidence recomputed from the bundle alone."""

from __future__ import annotations

import numpy as np
from click.testing import CliRunner

import dnnlik
from dnnlik import fidelity
from dnnlik.bundle.write import read_bundle_files, update_bundle
from dnnlik.cli.main import cli
from dnnlik.examples import gaussian_reference, gaussian_spec
from dnnlik.fidelity.reproduce import DATA_FILE, reproduce_report, reproducible_evidence

MEAN, COV, PARAMS = gaussian_spec(4)


def _with_evidence(bundle_dir):
    rng = np.random.default_rng(11)
    test, train = rng.multivariate_normal(MEAN, COV, 800), rng.multivariate_normal(MEAN, COV, 800)
    ref = lambda x: gaussian_reference(x, MEAN, COV)[0]  # noqa: E731
    data = fidelity.FidelityData(test, ref(test), train, ref(train), test_weight=rng.integers(1, 3, 800))
    section, blob = reproducible_evidence(dnnlik.load(bundle_dir), data, "mu", [0.0, 0.5], 0.0, n=500)
    update_bundle(bundle_dir, {"validation": {"verdict": "not-run", "reproducible": section}}, {DATA_FILE: blob})
    return section


def test_evidence_reproduces(bundle_copy):
    section = _with_evidence(bundle_copy)
    assert section["n_test"] == 500 and len(section["ks_pvalues"]) == 4
    report = reproduce_report(bundle_copy)
    assert report.ok, report.to_text()
    assert "reproduce" in report.checks


def test_tampered_metric_fails_with_its_location(bundle_copy):
    section = _with_evidence(bundle_copy)
    section["metrics"]["logpdf_mean_error"] += 0.01
    section["tmu"]["surrogate"][1] += 0.1
    update_bundle(bundle_copy, {"validation": {"verdict": "not-run", "reproducible": section}})
    report = reproduce_report(bundle_copy)
    locations = {p.location for p in report.errors if p.code == "reproduce:mismatch"}
    assert locations == {
        "bundle.json#/validation/reproducible/metrics/logpdf_mean_error",
        "bundle.json#/validation/reproducible/tmu/surrogate/1",
    }
    result = CliRunner().invoke(cli, ["validate", "--reproduce", str(bundle_copy)])
    assert result.exit_code == 1 and "recomputes to" in result.output


def test_bundle_without_evidence_says_so(bundle_copy):
    report = reproduce_report(bundle_copy)
    assert [p.code for p in report.errors] == ["reproduce:absent"]


def test_missing_data_file(bundle_copy):
    section = _with_evidence(bundle_copy)
    doc, files = read_bundle_files(bundle_copy)
    files.pop(DATA_FILE)
    doc["validation"] = {"verdict": "not-run", "reproducible": section}
    from dnnlik.bundle.write import write_bundle

    write_bundle(bundle_copy, doc, files, overwrite=True)
    assert [p.code for p in reproduce_report(bundle_copy).errors] == ["reproduce:data"]
