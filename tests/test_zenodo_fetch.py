"""Fetching from a local Zenodo: checks, cache, faults."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("requests")
pytest.importorskip("requests")

from zenodo_server import ZenodoServer, block_network, zenodo_server  # noqa: F401

# no test here reaches a host other than 127.0.0.1; Zenodo round trips against the local server
pytestmark = [pytest.mark.usefixtures("block_network"), pytest.mark.slow]

import dnnlik  # noqa: E402
from dnnlik.errors import InvalidBundleError  # noqa: E402
from dnnlik.zenodo import ZenodoError, ZenodoIntegrityError, cache_root, fetch, upload_bundle  # noqa: E402


@pytest.fixture
def record(zenodo_server: ZenodoServer, bundle_copy: Path, tmp_path: Path) -> int:
    result = upload_bundle(bundle_copy, receipts_dir=tmp_path / "receipts")
    zenodo_server.log.clear()
    return result.record_id


def _cache_entries() -> list[str]:
    root = cache_root()
    return sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) if root.exists() else []


def _downloads(server: ZenodoServer) -> list[str]:
    return [
        p.rsplit("/files/", 1)[1].removesuffix("/content")
        for m, p in server.log
        if m == "GET" and "/files/" in p and not p.startswith("/api/files/")
    ]


@pytest.mark.slow
@pytest.mark.parametrize("shape", ["key", "filename"])
def test_both_file_entry_shapes(zenodo_server, record, shape):
    zenodo_server.file_shape = shape
    result = fetch(f"10.5281/zenodo.{record}")
    assert sorted(f.name for f in result.files) == ["bundle.json", "model.onnx"]
    assert sorted(_downloads(zenodo_server)) == ["bundle.json", "model.onnx"]
    # with links (key shape) their URL is used; without (legacy shape) dnnlik builds the records API's
    assert sorted(p for m, p in zenodo_server.log if "/files/" in p) == [
        f"/api/records/{record}/files/bundle.json/content",
        f"/api/records/{record}/files/model.onnx/content",
    ]
    assert len(zenodo_server.requests("GET", rf"^/api/records/{record}$")) == 1  # one listing read
    assert len(dnnlik.load(result.bundle_path).parameters) == 4


def test_second_fetch_is_served_from_the_cache_without_network(zenodo_server, record):
    first = fetch(f"zenodo:{record}")
    assert not first.from_cache
    zenodo_server.log.clear()
    second = fetch(f"zenodo:{record}")
    assert second.from_cache and second.bundle_path == first.bundle_path
    assert zenodo_server.log == []
    dnnlik.load(f"zenodo:{record}")
    assert zenodo_server.log == []


def test_concept_record_gives_the_latest_version(zenodo_server, record):
    concept = int(zenodo_server.records[record]["deposition"].conceptrecid)
    result = fetch(f"zenodo:{concept}")
    assert result.record_id == record


def test_a_dropped_connection_is_retried(zenodo_server, record):
    zenodo_server.fault("GET", r"/model\.onnx", "drop")
    result = fetch(f"zenodo:{record}", retries=1)
    assert _downloads(zenodo_server).count("model.onnx") == 2
    assert dnnlik.validate(result.bundle_path).ok


def test_an_interrupted_download_resumes(zenodo_server, record):
    zenodo_server.fault("GET", r"/model\.onnx", "drop", times=5)
    with pytest.raises(ZenodoError, match="download failed.*run the same command again to resume"):
        fetch(f"zenodo:{record}", retries=0)
    assert _cache_entries() == []  # nothing half-downloaded in the cache itself
    partial = cache_root() / ".partial" / str(record) / "files"
    assert (partial / "bundle.json").is_file()  # the completed file is kept for the next attempt
    zenodo_server.faults.clear()
    zenodo_server.log.clear()
    result = fetch(f"zenodo:{record}", retries=0)
    assert _downloads(zenodo_server) == ["model.onnx"]  # bundle.json was not downloaded again
    assert _cache_entries() == [str(record)] and not partial.exists()
    assert dnnlik.validate(result.bundle_path).ok


def test_a_file_served_with_a_wrong_checksum_is_refused(zenodo_server, record):
    zenodo_server.fault("GET", r"/model\.onnx", "corrupt", times=10)
    with pytest.raises(ZenodoIntegrityError, match="MD5.*nothing was stored in the cache"):
        fetch(f"zenodo:{record}", retries=0)
    assert _cache_entries() == []
    partial = cache_root() / ".partial" / str(record) / "files"
    assert not (partial / "model.onnx").exists()  # the corrupt file was discarded
    zenodo_server.faults.clear()
    assert fetch(f"zenodo:{record}").bundle_path.is_dir()  # a later fetch works


def test_tampered_record_with_consistent_md5_fails_the_sha256_check(zenodo_server, record):
    # whoever tampered also fixed Zenodo's MD5 (the server lists the served bytes): only sha256 catches it
    files = zenodo_server.records[record]["files"]
    files["model.onnx"] = files["model.onnx"][:-1] + bytes([files["model.onnx"][-1] ^ 1])
    with pytest.raises(InvalidBundleError, match="not a valid dnnlik bundle") as info:
        fetch(f"zenodo:{record}")
    assert any(p.code.startswith("files:") for p in info.value.report.errors)
    assert _cache_entries() == [] and not (cache_root() / ".partial" / str(record)).exists()
    report = dnnlik.validate(f"zenodo:{record}")
    assert not report.ok and report.target == f"zenodo:{record}"


def test_a_record_that_is_not_a_bundle_is_refused(zenodo_server):
    rec = zenodo_server.publish_raw({"data.csv": b"a,b\n1,2\n"})
    with pytest.raises(InvalidBundleError, match="does not hold a dnnlik bundle"):
        fetch(f"zenodo:{rec}")
    assert not _downloads(zenodo_server)  # refused from the listing, before downloading
    rec2 = zenodo_server.publish_raw({"bundle.json": b'{"not": "a bundle"}', "model.onnx": b"junk"})
    with pytest.raises(InvalidBundleError, match="not a valid dnnlik bundle"):
        fetch(f"zenodo:{rec2}")
    assert _cache_entries() == []
    assert not dnnlik.validate(f"zenodo:{rec2}").ok


def test_unsafe_file_names_in_a_record_are_refused(zenodo_server):
    rec = zenodo_server.publish_raw({"../evil.json": b"{}"})
    with pytest.raises(ZenodoError, match="not a plain file name"):
        fetch(f"zenodo:{rec}")
    assert not _downloads(zenodo_server)


def test_unknown_record_gives_a_clear_message(zenodo_server):
    with pytest.raises(ZenodoError, match="HTTP 404.*PID does not exist"):
        fetch("zenodo:999")


def test_a_corrupted_cache_entry_is_fetched_again(zenodo_server, record):
    first = fetch(f"zenodo:{record}")
    (first.bundle_path / "model.onnx").write_bytes(b"x")  # size differs: not a cache hit any more
    zenodo_server.log.clear()
    again = fetch(f"zenodo:{record}")
    assert not again.from_cache and dnnlik.validate(again.bundle_path).ok


def test_sandbox_records_have_their_own_cache(zenodo_server, record):
    result = fetch(f"zenodo-sandbox:{record}")
    assert result.path.parent.name == "zenodo-sandbox"
    assert fetch(f"10.5072/zenodo.{record}").from_cache


def test_the_guard_blocks_every_other_host(zenodo_server):
    import requests

    with pytest.raises(requests.ConnectionError):
        requests.get("https://zenodo.org/api/records/1", timeout=5)
    import socket

    with pytest.raises(OSError):
        socket.create_connection(("93.184.216.34", 443), timeout=5)


@pytest.mark.slow
def test_a_cached_copy_damaged_in_place_is_replaced_by_load_and_validate(zenodo_server, record):
    first = fetch(f"zenodo:{record}")
    model = first.bundle_path / "model.onnx"
    data = model.read_bytes()
    model.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # same size: still looks like a cache hit
    assert fetch(f"zenodo:{record}").from_cache
    assert dnnlik.validate(f"zenodo:{record}").ok  # judged on a fresh copy
    assert model.read_bytes() == data
    model.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    zenodo_server.log.clear()
    dnnlik.load(f"zenodo:{record}")  # reloads
    assert "model.onnx" in _downloads(zenodo_server) and model.read_bytes() == data
