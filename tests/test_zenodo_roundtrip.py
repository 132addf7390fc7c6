"""Round trip through a local Zenodo: build -> upload -> publish -> fetch -> validate -> evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("requests")
pytest.importorskip("requests")

from zenodo_server import ZenodoServer, block_network, zenodo_server  # noqa: F401

# no test here reaches a host other than 127.0.0.1; Zenodo round trips against the local server
pytestmark = [pytest.mark.usefixtures("block_network"), pytest.mark.slow]

import dnnlik  # noqa: E402
from dnnlik.zenodo import fetch, upload_bundle  # noqa: E402


def _upload(bundle: Path, tmp_path: Path, **kwargs):
    return upload_bundle(bundle, receipts_dir=tmp_path / "receipts", **kwargs)


def test_round_trip_gives_identical_results(zenodo_server: ZenodoServer, bundle_copy: Path, tmp_path: Path):
    result = _upload(bundle_copy, tmp_path)
    assert result.published and result.record_id in zenodo_server.records
    assert result.doi == f"10.5281/zenodo.{result.record_id}"
    # the published bundle.json names its own DOI, and its digest was recomputed
    stored = zenodo_server.records[result.record_id]["files"]
    archived = json.loads(stored["bundle.json"])
    assert archived["archive"]["doi"] == result.doi
    assert archived["archive"]["record_id"] == result.record_id
    assert archived["archive"]["concept_doi"].startswith("10.5281/zenodo.")
    assert archived["document_sha256"] == result.document_sha256
    assert set(stored) == {"bundle.json", "model.onnx"}
    # the receipt
    receipt = json.loads(result.receipt.read_text())
    assert receipt["doi"] == result.doi and receipt["published"] if "published" in receipt else True
    assert receipt["status"] == "published"
    assert {f["name"] for f in receipt["files"]} == {"bundle.json", "model.onnx"}
    assert not list((tmp_path / "receipts").glob("*.draft.json"))

    fetched = fetch(f"zenodo:{result.record_id}")
    assert not fetched.from_cache
    assert fetched.path.parent.name == "zenodo" and fetched.path.name == str(result.record_id)
    local, remote = dnnlik.load(bundle_copy), dnnlik.load(f"zenodo:{result.record_id}")
    points = np.random.default_rng(1).uniform(-3, 3, (17, 4))
    np.testing.assert_array_equal(local.logpdf(points), remote.logpdf(points))
    np.testing.assert_array_equal(local.grad_logpdf(points), remote.grad_logpdf(points))
    report = dnnlik.validate(f"10.5281/zenodo.{result.record_id}")
    assert report.ok, report.to_text()
