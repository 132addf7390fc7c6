"""Uploading to a local Zenodo: DOI first, verified files, retries, resumption, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("requests")
pytest.importorskip("requests")

from zenodo_server import EXPIRED_TOKEN, ZenodoServer, block_network, zenodo_server  # noqa: F401

# no test here reaches a host other than 127.0.0.1; Zenodo uploads against the local server
pytestmark = [pytest.mark.usefixtures("block_network"), pytest.mark.slow]

from dnnlik.errors import InvalidBundleError  # noqa: E402
from dnnlik.zenodo import MissingTokenError, ZenodoAuthError, ZenodoError, upload_bundle  # noqa: E402


def _upload(bundle: Path, tmp_path: Path, **kwargs):
    return upload_bundle(bundle, receipts_dir=tmp_path / "receipts", **kwargs)


def _published(server: ZenodoServer) -> list[int]:
    return sorted(server.records)


def test_doi_is_reserved_before_any_upload_and_metadata_is_mapped(zenodo_server, bundle_copy, tmp_path):
    result = _upload(bundle_copy, tmp_path)
    calls = [(m, p) for m, p in zenodo_server.log if p.startswith("/api/")]
    first_put = next(i for i, (m, p) in enumerate(calls) if m == "PUT" and p.startswith("/api/files/"))
    create = next(i for i, (m, p) in enumerate(calls) if m == "POST" and p == "/api/deposit/depositions")
    assert create < first_put
    dep = zenodo_server.depositions[result.record_id]
    document = json.loads((bundle_copy / "bundle.json").read_text())
    meta = dep.metadata
    assert meta["title"] == document["title"]
    assert meta["version"] == document["version"]
    assert [c["name"] for c in meta["creators"]] == [a["name"] for a in document["authors"]]
    assert meta["license"] == document["license"].lower()
    assert meta["upload_type"] == "dataset"
    assert "dnnlik" in meta["keywords"]
    assert meta["prereserve_doi"]["doi"] == result.doi
    # the local bundle is untouched unless write_back is asked for
    assert "archive" not in document


def test_write_back_puts_the_archive_section_into_the_local_bundle(zenodo_server, bundle_copy, tmp_path):
    import dnnlik

    result = _upload(bundle_copy, tmp_path, write_back=True)
    document = json.loads((bundle_copy / "bundle.json").read_text())
    assert document["archive"]["doi"] == result.doi
    assert document["document_sha256"] == result.document_sha256
    assert dnnlik.validate(bundle_copy).ok


def test_a_500_in_the_middle_of_the_upload_is_retried(zenodo_server, bundle_copy, tmp_path):
    # the second file upload fails twice with 500, then goes through
    zenodo_server.fault("PUT", r"^/api/files/", 500, times=2, skip=1)
    zenodo_server.fault("GET", r"^/api/files/[0-9a-f]+$", 429, times=1)
    result = _upload(bundle_copy, tmp_path)
    assert result.published
    assert len(zenodo_server.requests("PUT", r"^/api/files/")) == 4
    assert set(zenodo_server.records[result.record_id]["files"]) == {"bundle.json", "model.onnx"}


def test_an_interrupted_upload_resumes_without_duplicates(zenodo_server, bundle_copy, tmp_path):
    # model.onnx (the second upload) keeps failing: the client gives up, nothing is published
    zenodo_server.fault("PUT", r"/model\.onnx$", 503, times=50)
    with pytest.raises(ZenodoError, match="HTTP 503"):
        _upload(bundle_copy, tmp_path)
    assert _published(zenodo_server) == []
    drafts = list((tmp_path / "receipts").glob("*.draft.json"))
    assert len(drafts) == 1
    (dep_id,) = zenodo_server.depositions
    assert set(zenodo_server.depositions[dep_id].files) == {"bundle.json"}
    zenodo_server.faults.clear()
    puts_before = len(zenodo_server.requests("PUT", r"^/api/files/"))
    result = _upload(bundle_copy, tmp_path)
    assert result.resumed and result.record_id == dep_id
    assert list(zenodo_server.depositions) == [dep_id]  # no second deposition
    new_puts = zenodo_server.requests("PUT", r"^/api/files/")[puts_before:]
    assert [p.rsplit("/", 1)[1] for _, p in new_puts] == ["model.onnx"]  # bundle.json was not sent again
    assert set(zenodo_server.records[dep_id]["files"]) == {"bundle.json", "model.onnx"}
    assert not list((tmp_path / "receipts").glob("*.draft.json"))


def test_a_corrupted_upload_is_never_published_and_a_rerun_repairs_it(zenodo_server, bundle_copy, tmp_path):
    zenodo_server.fault("PUT", r"/model\.onnx$", "corrupt-store")
    with pytest.raises(ZenodoError, match="refusing to publish.*model.onnx has MD5"):
        _upload(bundle_copy, tmp_path)
    assert _published(zenodo_server) == []
    assert not zenodo_server.requests("POST", "actions/publish")
    result = _upload(bundle_copy, tmp_path)  # resumes: re-uploads only the bad file
    assert result.published
    stored = zenodo_server.records[result.record_id]["files"]["model.onnx"]
    assert stored == (bundle_copy / "model.onnx").read_bytes()


def test_extra_files_in_the_draft_are_removed_before_publishing(zenodo_server, bundle_copy, tmp_path):
    zenodo_server.fault("PUT", r"/model\.onnx$", 500, times=50)
    with pytest.raises(ZenodoError):
        _upload(bundle_copy, tmp_path)
    zenodo_server.faults.clear()
    (dep_id,) = zenodo_server.depositions
    zenodo_server.depositions[dep_id].files["stray.txt"] = b"left over"
    zenodo_server.depositions[dep_id].file_ids["stray.txt"] = "x"
    result = _upload(bundle_copy, tmp_path)
    assert set(zenodo_server.records[result.record_id]["files"]) == {"bundle.json", "model.onnx"}


def test_draft_then_publish(zenodo_server, bundle_copy, tmp_path):
    draft = _upload(bundle_copy, tmp_path, publish=False)
    assert not draft.published and _published(zenodo_server) == []
    assert draft.receipt.name.endswith(".draft.json")
    result = _upload(bundle_copy, tmp_path)
    assert result.published and result.record_id == draft.record_id


def test_expired_or_bad_token_gives_one_clear_message(zenodo_server, bundle_copy, tmp_path, monkeypatch):
    monkeypatch.setenv("ZENODO_TOKEN", EXPIRED_TOKEN)
    with pytest.raises(ZenodoAuthError) as info:
        _upload(bundle_copy, tmp_path)
    message = str(info.value)
    assert "refused the access token" in message and "expired" in message and "$ZENODO_TOKEN" in message
    assert EXPIRED_TOKEN not in message
    monkeypatch.setenv("ZENODO_TOKEN", "no-such-token")
    with pytest.raises(ZenodoAuthError, match="HTTP 401"):
        _upload(bundle_copy, tmp_path)
    assert not zenodo_server.depositions and not _published(zenodo_server)


def test_token_expiring_mid_upload_leaves_a_resumable_draft(zenodo_server, bundle_copy, tmp_path):
    zenodo_server.fault("PUT", r"/model\.onnx$", 403)
    with pytest.raises(ZenodoAuthError, match="HTTP 403"):
        _upload(bundle_copy, tmp_path)
    assert _published(zenodo_server) == []
    assert _upload(bundle_copy, tmp_path).published


def test_missing_token(zenodo_server, bundle_copy, tmp_path, monkeypatch):
    monkeypatch.delenv("ZENODO_TOKEN")
    with pytest.raises(MissingTokenError, match="no Zenodo access token: set ZENODO_TOKEN"):
        _upload(bundle_copy, tmp_path)
    assert not zenodo_server.log


def test_invalid_bundle_is_refused_before_contacting_zenodo(zenodo_server, bundle_copy, tmp_path):
    (bundle_copy / "model.onnx").write_bytes(b"not onnx")
    with pytest.raises(InvalidBundleError, match="fix it before archiving"):
        _upload(bundle_copy, tmp_path)
    assert not zenodo_server.log


def test_same_version_twice_is_refused_and_new_versions_use_versioning(zenodo_server, bundle_copy, tmp_path):
    first = _upload(bundle_copy, tmp_path)
    with pytest.raises(ZenodoError, match="already archived.*--new-version-of"):
        _upload(bundle_copy, tmp_path)
    # a new version of the bundle, as a new version of the record
    from dnnlik.bundle.write import dump_document, finalize_document

    document = json.loads((bundle_copy / "bundle.json").read_text())
    document["version"] = "1.0.1"
    document = finalize_document(document, {"model.onnx": (bundle_copy / "model.onnx").read_bytes()})
    (bundle_copy / "bundle.json").write_bytes(dump_document(document))
    second = _upload(bundle_copy, tmp_path, new_version_of=f"zenodo:{first.record_id}")
    assert second.record_id != first.record_id and second.published
    assert second.concept_doi == first.concept_doi
    archived = json.loads(zenodo_server.records[second.record_id]["files"]["bundle.json"])
    assert archived["archive"]["record_id"] == second.record_id and archived["version"] == "1.0.1"
    # the first version is immutable
    assert json.loads(zenodo_server.records[first.record_id]["files"]["bundle.json"])["version"] != "1.0.1"
    receipts = sorted(p.name for p in (tmp_path / "receipts").iterdir())
    assert len(receipts) == 2 and not any(r.endswith(".draft.json") for r in receipts)


def test_published_files_are_immutable_on_the_server(zenodo_server, bundle_copy, tmp_path):
    from dnnlik.zenodo import ZenodoClient, load_token

    result = _upload(bundle_copy, tmp_path)
    dep = zenodo_server.depositions[result.record_id]
    client = ZenodoClient(token=load_token())
    with pytest.raises(ZenodoError, match="HTTP 403.*locked"):
        client.put_file(f"{zenodo_server.url}/api/files/{dep.bucket}", "model.onnx", b"changed")


def test_nested_bundles_are_uploaded_as_one_zip(zenodo_server, bundle_copy, tmp_path):
    import dnnlik
    from dnnlik.bundle.write import dump_document, finalize_document

    (bundle_copy / "docs").mkdir()
    (bundle_copy / "docs" / "card.md").write_text("# card\n")
    document = json.loads((bundle_copy / "bundle.json").read_text())
    files = {"model.onnx": (bundle_copy / "model.onnx").read_bytes(), "docs/card.md": b"# card\n"}
    (bundle_copy / "bundle.json").write_bytes(dump_document(finalize_document(document, files)))
    result = _upload(bundle_copy, tmp_path)
    assert list(zenodo_server.records[result.record_id]["files"]) == [f"{document['name']}-{document['version']}.zip"]
    fetched = dnnlik.zenodo.fetch(f"zenodo:{result.record_id}")
    assert fetched.bundle_path.suffix == ".zip"
    assert dnnlik.validate(f"zenodo:{result.record_id}").ok
