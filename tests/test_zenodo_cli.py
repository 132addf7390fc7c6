"""The command line: archive upload, fetch, validate zenodo:NNN, --zoo, --archived."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("requests")
pytest.importorskip("requests")

from zenodo_server import EXPIRED_TOKEN, GOOD_TOKEN, block_network, zenodo_server  # noqa: F401

# no test here reaches a host other than 127.0.0.1; Zenodo round trips against the local server, through the CLI
pytestmark = [pytest.mark.usefixtures("block_network"), pytest.mark.slow]

from dnnlik.cli.main import cli  # noqa: E402
from dnnlik.digest import sha256_file  # noqa: E402


def run(*args: str, ok: bool | None = True):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    if ok is True:
        assert result.exit_code == 0, result.output
    elif ok is False:
        assert result.exit_code != 0, result.output
    return result


def _upload(bundle: Path, receipts: Path) -> dict:
    out = run("archive", "upload", str(bundle), "--receipts", str(receipts), "--format", "json").stdout
    return json.loads(out[out.index("{") :])


def test_upload_fetch_validate_eval(zenodo_server, bundle_copy, tmp_path):
    receipts = tmp_path / "receipts"
    result = run("archive", "upload", str(bundle_copy), "--receipts", str(receipts))
    assert "published: record" in result.output and "receipt:" in result.output
    assert GOOD_TOKEN not in result.output
    (receipt,) = receipts.glob("*.json")
    record = json.loads(receipt.read_text())["record_id"]
    fetched = run("fetch", f"10.5281/zenodo.{record}")
    path = fetched.stdout.strip().splitlines()[-1]
    assert Path(path, "bundle.json").is_file()
    again = run("fetch", f"zenodo:{record}")
    assert "from the cache" in again.output
    report = json.loads(run("validate", f"zenodo:{record}", "--format", "json").stdout)
    assert report["valid"] and report["reports"][0]["target"] == f"zenodo:{record}"
    local = json.loads(run("eval", str(bundle_copy), "-p", "mu=0.3", "--format", "json").stdout)
    remote = json.loads(run("eval", path, "-p", "mu=0.3", "--format", "json").stdout)
    assert local["logpdf"] == remote["logpdf"]


def test_missing_and_expired_tokens_are_one_line_errors(zenodo_server, bundle_copy, tmp_path, monkeypatch):
    monkeypatch.delenv("ZENODO_TOKEN")
    result = run("archive", "upload", str(bundle_copy), "--receipts", str(tmp_path / "r"), ok=False)
    assert "Error: no Zenodo access token" in result.output and "Traceback" not in result.output
    monkeypatch.setenv("ZENODO_TOKEN", EXPIRED_TOKEN)
    result = run("archive", "upload", str(bundle_copy), "--receipts", str(tmp_path / "r"), ok=False)
    assert "refused the access token" in result.output and EXPIRED_TOKEN not in result.output
    token_file = tmp_path / "token"
    token_file.write_text(GOOD_TOKEN + "\n")
    monkeypatch.delenv("ZENODO_TOKEN")
    run(
        "archive",
        "upload",
        str(bundle_copy),
        "--receipts",
        str(tmp_path / "r"),
        "--token-file",
        str(token_file),
        "--draft",
    )
    assert zenodo_server.depositions and not zenodo_server.records


def test_validate_reports_a_broken_record_in_json_and_junit(zenodo_server, tmp_path):
    rec = zenodo_server.publish_raw({"bundle.json": b"{}", "model.onnx": b"junk"})
    junit = tmp_path / "junit.xml"
    result = run("validate", f"zenodo:{rec}", "zenodo:424242", "--format", "json", "--junit", str(junit), ok=False)
    out = json.loads(result.stdout)
    assert not out["valid"]
    broken, missing = out["reports"]
    assert broken["problems"] and missing["problems"][0]["code"] == "zenodo:fetch-failed"
    assert "404" in missing["problems"][0]["message"]
    xml = junit.read_text()
    assert f"zenodo:{rec}" in xml and "<failure" in xml


def _index(tmp_path: Path, entries: list[dict]) -> Path:
    zoo = tmp_path / "zoo"
    zoo.mkdir(exist_ok=True)
    index = zoo / "index.json"
    index.write_text(json.dumps({"index_version": 1, "entries": entries}))
    return index


def test_validate_zoo_and_archived_copies(zenodo_server, gaussian_bundle, gaussian_zip, tmp_path):
    zoo = tmp_path / "zoo"
    zoo.mkdir()
    shutil.copytree(gaussian_bundle, zoo / "gaussian-4d")
    shutil.copy(gaussian_zip, zoo / "gaussian-4d.zip")
    document = json.loads((gaussian_bundle / "bundle.json").read_text())
    digest, size = sha256_file(zoo / "gaussian-4d.zip")
    folder_size = sum(p.stat().st_size for p in (zoo / "gaussian-4d").iterdir())
    entries = [
        {
            "name": document["name"],
            "version": document["version"],
            "kind": "likelihood",
            "path": "gaussian-4d",
            "sha256": document["document_sha256"],
            "size": folder_size,
            "tags": ["example"],
        },
        {
            "name": document["name"],
            "version": document["version"],
            "kind": "likelihood",
            "path": "gaussian-4d.zip",
            "sha256": digest,
            "size": size,
            "tags": [],
        },
    ]
    index = _index(tmp_path, entries)
    out = json.loads(run("validate", "--zoo", "--zoo-index", str(index), "--format", "json").stdout)
    assert out["valid"] and len(out["reports"]) == 2

    # a wrong size and a wrong digest in the index, and a broken entry
    entries[0]["size"] += 1
    entries[1]["sha256"] = "0" * 64
    entries.append(
        {
            "name": "x",
            "version": "1.0.0",
            "kind": "likelihood",
            "path": "missing",
            "sha256": "1" * 64,
            "size": 1,
            "tags": [],
        }
    )
    index = _index(tmp_path, entries)
    out = json.loads(run("validate", "--zoo", "--zoo-index", str(index), "--format", "json", ok=False).stdout)
    codes = [[p["code"] for p in r["problems"]] for r in out["reports"]]
    assert codes[0] == ["zoo:size"] and "zoo:sha256" in codes[1] and codes[2] and not out["reports"][2]["valid"]

    # --archived: upload the folder entry, then validate the zoo with its archived copy
    receipts = tmp_path / "receipts"
    uploaded = _upload(zoo / "gaussian-4d", receipts)
    entries = entries[:1]
    entries[0]["size"] -= 1
    index = _index(tmp_path, entries)
    out = json.loads(
        run(
            "validate",
            "--zoo",
            "--zoo-index",
            str(index),
            "--archived",
            "--receipts",
            str(receipts),
            "--format",
            "json",
        ).stdout
    )
    targets = [r["target"] for r in out["reports"]]
    assert out["valid"] and targets[1].startswith(f"zenodo:{uploaded['record_id']} (archived")
    # the archived copy is tampered with: --archived catches it, also without --zoo
    files = zenodo_server.records[uploaded["record_id"]]["files"]
    files["bundle.json"] = files["bundle.json"].replace(b'"title": "', b'"title": "X')
    shutil.rmtree(tmp_path / "cache", ignore_errors=True)
    out = json.loads(run("validate", "--archived", "--receipts", str(receipts), "--format", "json", ok=False).stdout)
    (report,) = out["reports"]
    assert any(p["code"] == "files:document-digest" for p in report["problems"]), report


def test_validate_zoo_without_index_is_a_clear_error(tmp_path):
    result = run("validate", "--zoo", "--zoo-index", str(tmp_path / "none.json"), ok=False)
    assert "no zoo index here" in result.output


def test_validate_needs_something_to_do():
    result = run("validate", ok=False)
    assert result.exit_code == 2 and "--zoo" in result.output


def test_fetch_rejects_what_is_not_a_zenodo_reference():
    result = run("fetch", "10.1000/foo.1", ok=False)
    assert "is not a Zenodo reference" in result.output
