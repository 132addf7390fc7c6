"""dnnlik.zenodo pieces: references, file entries, metadata, tokens, the client's retries, missing extras."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from zenodo_server import block_network, zenodo_server  # noqa: F401

from dnnlik.errors import InvalidInputError, MissingExtraError
from dnnlik.zenodo import (
    DEFAULT_TEMPLATE,
    MissingTokenError,
    ZenodoError,
    file_entries,
    load_template,
    load_token,
    parse_reference,
    zenodo_metadata,
)
from dnnlik.zenodo.records import ZenodoReference, is_zenodo_source

pytestmark = pytest.mark.usefixtures("block_network")  # no test here reaches a host other than 127.0.0.1

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "text, record, sandbox",
    [
        ("zenodo:123", 123, False),
        ("zenodo-sandbox:9", 9, True),
        ("10.5281/zenodo.77", 77, False),
        ("doi:10.5281/zenodo.77", 77, False),
        ("https://doi.org/10.5281/zenodo.77", 77, False),
        ("10.5072/zenodo.5", 5, True),
        ("https://zenodo.org/records/42", 42, False),
        ("https://zenodo.org/record/42", 42, False),
        ("https://sandbox.zenodo.org/records/42", 42, True),
        ("42", 42, False),
    ],
)
def test_references(text, record, sandbox):
    assert parse_reference(text) == ZenodoReference(record, sandbox)


def test_reference_errors():
    with pytest.raises(InvalidInputError, match="not a Zenodo reference"):
        parse_reference("10.1000/xyz")
    with pytest.raises(InvalidInputError, match="contradicts the sandbox"):
        parse_reference("10.5281/zenodo.1", sandbox=True)
    assert parse_reference("zenodo:3", sandbox=True).sandbox


def test_zenodo_sources_versus_local_paths(tmp_path, monkeypatch):
    assert is_zenodo_source("zenodo:1") and is_zenodo_source("10.5281/zenodo.1")
    assert not is_zenodo_source("bundle.zip") and not is_zenodo_source(Path("zenodo:1"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "10.5281").mkdir()
    (tmp_path / "10.5281" / "zenodo.1").mkdir()
    assert not is_zenodo_source("10.5281/zenodo.1")  # a local folder of that name wins
    assert is_zenodo_source("zenodo:1")


def test_file_entries_in_both_shapes():
    new = [{"key": "a.json", "size": 3, "checksum": "md5:" + "a" * 32}]
    old = [{"filename": "a.json", "filesize": 3, "checksum": "A" * 32}]
    assert file_entries(new, where="x") == file_entries(old, where="x")
    for bad, message in [
        ([{"key": "a", "size": 1}], "no checksum"),
        ([{"key": "a", "size": 1, "checksum": "sha256:" + "a" * 64}], "not an MD5"),
        ([{"key": "a/b", "size": 1, "checksum": "a" * 32}], "not a plain file name"),
        ([{"key": "..", "size": 1, "checksum": "a" * 32}], "not a plain file name"),
        ([{"size": 1, "checksum": "a" * 32}], "no name"),
        ([{"key": "a", "size": -1, "checksum": "a" * 32}], "no valid size"),
        ([{"key": "a", "size": 1, "checksum": "a" * 32}] * 2, "listed twice"),
    ]:
        with pytest.raises(ZenodoError, match=message):
            file_entries(bad, where="record 1")


def _document() -> dict:
    return {
        "format_version": "1.0.0",
        "name": "toy",
        "version": "1.2.0",
        "kind": "likelihood",
        "title": "A toy",
        "description": "First <b>para</b>.\n\nSecond.",
        "authors": [{"name": "Doe, Jane", "orcid": "0000-0002-1825-0097", "affiliation": "Lab"}, {"name": "Roe, R"}],
        "license": "CC-BY-4.0",
        "keywords": ["toy", "dnnlik"],
        "references": [
            {"type": "arxiv", "id": "1911.03305", "relation": "describes"},
            {"type": "doi", "id": "https://doi.org/10.1000/abc", "relation": "data"},
            {"type": "inspire", "id": "1762345", "relation": "method"},
            {"type": "hepdata", "id": "ins1762345", "relation": "source-likelihood"},
        ],
        "provenance": {
            "created": "2026-11-25T00:00:00Z",
            "dnnlik_version": "0.1",
            "source_likelihood": {"name": "toy", "reference": "10.1000/src"},
        },
    }


def test_metadata_mapping():
    meta = zenodo_metadata(_document(), doi="10.5281/zenodo.5", record_id=5)
    assert meta["title"] == "A toy" and meta["version"] == "1.2.0" and meta["upload_type"] == "dataset"
    assert meta["creators"][0] == {"name": "Doe, Jane", "affiliation": "Lab", "orcid": "0000-0002-1825-0097"}
    assert meta["license"] == "cc-by-4.0" and meta["access_right"] == "open"
    assert "&lt;b&gt;para&lt;/b&gt;" in meta["description"] and "zenodo:5" in meta["description"]
    assert meta["keywords"][:2] == ["toy", "dnnlik"] and meta["keywords"].count("dnnlik") == 1
    assert "likelihood" in meta["keywords"]
    related = {(r["identifier"], r["relation"], r["scheme"]) for r in meta["related_identifiers"]}
    assert related == {
        ("arXiv:1911.03305", "isSupplementTo", "arxiv"),
        ("10.1000/abc", "isDerivedFrom", "doi"),
        ("https://inspirehep.net/literature/1762345", "references", "url"),
        ("https://www.hepdata.net/record/ins1762345", "isDerivedFrom", "url"),
        ("10.1000/src", "isDerivedFrom", "doi"),
    }
    assert meta["prereserve_doi"] is True


def test_metadata_license_expressions_and_required_fields():
    doc = _document()
    doc["license"] = "MIT OR Apache-2.0"
    meta = zenodo_metadata(doc)
    assert "license" not in meta and "MIT OR Apache-2.0" in meta["notes"]
    del doc["title"]
    with pytest.raises(ZenodoError, match="no 'title'"):
        zenodo_metadata(doc)


def test_template_file_matches_the_default_and_templates_are_checked(tmp_path):
    shipped = json.loads((ROOT / "archive" / "zenodo-metadata.template.json").read_text())
    shipped.pop("$comment", None)
    assert shipped == DEFAULT_TEMPLATE
    custom = tmp_path / "t.json"
    custom.write_text(json.dumps({"upload_type": "software", "communities": ["hep"]}))
    meta = zenodo_metadata(_document(), template=load_template(custom))
    assert meta["upload_type"] == "software" and meta["communities"] == [{"identifier": "hep"}]
    custom.write_text(json.dumps({"title": "no"}))
    with pytest.raises(InvalidInputError, match="unknown member"):
        load_template(custom)


def test_tokens(tmp_path, monkeypatch):
    for var in ("ZENODO_TOKEN", "ZENODO_SANDBOX_TOKEN", "ZENODO_TOKEN_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    with pytest.raises(MissingTokenError) as info:
        load_token()
    message = str(info.value)
    assert "ZENODO_TOKEN" in message and "deposit:write" in message and "zenodo-token" in message
    monkeypatch.setenv("ZENODO_TOKEN", "s3cret-value")
    token = load_token()
    assert token.reveal() == "s3cret-value"
    assert "s3cret" not in repr(token) and "s3cret" not in str(token) and "$ZENODO_TOKEN" in repr(token)
    monkeypatch.setenv("ZENODO_SANDBOX_TOKEN", "sandbox-value")
    assert load_token(sandbox=True).reveal() == "sandbox-value"
    monkeypatch.delenv("ZENODO_TOKEN")
    default = tmp_path / "config" / "dnnlik" / "zenodo-token"
    default.parent.mkdir(parents=True)
    default.write_text("from-file\n")
    assert load_token().reveal() == "from-file"
    other = tmp_path / "other"
    other.write_text("two words")
    with pytest.raises(MissingTokenError, match="on one line"):
        load_token(token_file=other)


def test_client_retries_with_backoff_and_never_repeats_a_processed_post(zenodo_server):
    from dnnlik.zenodo import ZenodoClient, load_token

    waits: list[float] = []
    client = ZenodoClient(token=load_token(), backoff=0.5, sleep=waits.append)
    zenodo_server.fault("GET", r"^/api/records/", 503, times=2)
    with pytest.raises(ZenodoError, match="404"):
        client.get_record(1)
    assert waits == [0.5, 1.0]  # exponential backoff
    # a POST answered with 500 may have been processed: it is not repeated (no duplicate deposition)
    zenodo_server.fault("POST", r"^/api/deposit/depositions$", 500)
    with pytest.raises(ZenodoError, match="HTTP 500: Internal server error"):
        client.create_deposition()
    assert len(zenodo_server.requests("POST", r"^/api/deposit/depositions$")) == 1
    # ... but a 429 (not processed) is
    zenodo_server.fault("POST", r"^/api/deposit/depositions$", 429)
    assert client.create_deposition()["id"]
    # persistent failure: gives up after max_retries with the status
    client = ZenodoClient(token=load_token(), max_retries=2, sleep=waits.append)
    zenodo_server.fault("GET", r"^/api/deposit/depositions/", 502, times=10)
    with pytest.raises(ZenodoError, match="HTTP 502 after 3 attempts"):
        client.get_deposition(1)


def test_zenodo_error_bodies_are_reported(zenodo_server):
    from dnnlik.zenodo import ZenodoClient, load_token

    client = ZenodoClient(token=load_token())
    dep = client.create_deposition()
    with pytest.raises(ZenodoError, match=r"Validation error\. \(metadata\.title: Missing data"):
        client.publish(dep["id"])


def test_missing_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "requests", None)
    from dnnlik.zenodo import ZenodoClient, fetch

    with pytest.raises(MissingExtraError, match=r"pip install 'dnnlik\[zenodo\]'"):
        ZenodoClient()
    with pytest.raises(MissingExtraError, match=r"dnnlik\[zenodo\]"):
        fetch("zenodo:1", cache_dir=tmp_path / "cache")


def test_importing_is_light():
    code = (
        "import sys\n"
        "import dnnlik.zenodo, dnnlik.cli.archive, dnnlik.cli.fetch\n"
        "assert not [m for m in ('requests', 'zenodo_get', 'httpx2') if m in sys.modules]\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_an_unreachable_server_is_one_clear_message(block_network):
    pytest.importorskip("requests")
    import socket

    from dnnlik.zenodo import ZenodoClient

    with socket.socket() as s:  # a free port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    waits: list[float] = []
    client = ZenodoClient(base_url=f"http://127.0.0.1:{port}", max_retries=2, sleep=waits.append)
    with pytest.raises(ZenodoError, match=r"GET http://127\.0\.0\.1:\d+/api/records/7: cannot reach Zenodo"):
        client.get_record(7)
    assert len(waits) == 2  # GETs are retried


@pytest.mark.parametrize(
    "name, reason",
    [
        ("", "is empty"),
        ("../x", "path separator"),
        ("a/b", "path separator"),
        ("a\\b", "path separator"),
        ("/etc/passwd", "absolute path"),
        ("\\\\server\\share", "absolute path"),
        ("C:x", "absolute path"),
        (".", "'.' or '..'"),
        ("..", "'.' or '..'"),
        ("a\x00b", "NUL"),
        ("a\nb", "control character"),
        ("a\x1b[2Jb", "control character"),
        ("a\x85b", "control character"),
        ("caf\u00e9.json", "not ASCII"),
        ("cafe\u0301.json", "not ASCII"),
        ("\uff0e\uff0e", "not ASCII"),  # fullwidth dots: '..' after NFKC normalisation
        ("a" * 256, "longer than 255"),
        ("a:b", "absolute path"),  # drive-relative on Windows
        ("ab:c", "characters other than"),
        ("a*b", "characters other than"),
        ("#part-0", "characters other than"),  # the fetch's own temporary names can never be a record's
        ("model.onnx ", "ends with a space or a dot"),
        ("model.", "ends with a space or a dot"),
        ("CON", "Windows device"),
        ("nul.txt", "Windows device"),
        ("com1.onnx", "Windows device"),
        (None, "not a string"),
        (7, "not a string"),
    ],
)
def test_one_rule_for_every_file_name(name, reason):
    from dnnlik.zenodo.records import file_name_problem, safe_file_name

    problem = file_name_problem(name)
    assert problem is not None and reason in problem
    assert not safe_file_name(name)
    for field in ("key", "filename"):  # the same rule whichever field the listing names the file in
        entry = {field: name, "size": 1, "checksum": "a" * 32}
        with pytest.raises(ZenodoError, match="not a plain file name") as info:
            file_entries([entry], where="record 1")
        assert "\n" not in str(info.value) and f"'{field}'" in str(info.value)


@pytest.mark.parametrize(
    "name",
    ["bundle.json", "model.onnx", "toy-1.0.0.zip", "a b+c_d.onnx", "-x", ".hidden", "a" * 255, "console.txt", "com10"],
)
def test_plain_names_pass_the_rule(name):
    from dnnlik.zenodo.records import file_name_problem, safe_file_name

    assert file_name_problem(name) is None and safe_file_name(name)
    assert file_entries([{"key": name, "filename": name, "size": 1, "checksum": "a" * 32}], where="r")[0].name == name


def test_key_and_filename_must_agree_and_names_differ_beyond_case():
    with pytest.raises(ZenodoError, match="names two different files"):
        file_entries([{"key": "a.json", "filename": "b.json", "size": 1, "checksum": "a" * 32}], where="r")
    with pytest.raises(ZenodoError, match="two different sizes"):
        file_entries([{"key": "a.json", "size": 1, "filesize": 2, "checksum": "a" * 32}], where="r")
    with pytest.raises(ZenodoError, match="differing in case only"):
        file_entries([{"key": n, "size": 1, "checksum": "a" * 32} for n in ("a.json", "A.json")], where="r")
    with pytest.raises(ZenodoError, match="more than the 1000"):
        file_entries([{"key": f"f{i}", "size": 1, "checksum": "a" * 32} for i in range(1001)], where="r")
    with pytest.raises(ZenodoError, match="not a list"):
        file_entries({"key": "a.json"}, where="r")


def test_download_urls_stay_on_the_records_host():
    from dnnlik.zenodo.records import file_url

    base = "https://zenodo.org"
    assert (
        file_url({}, "a b.json", record_id=5, base_url=base, where="r")
        == "https://zenodo.org/api/records/5/files/a%20b.json/content"
    )
    same = "https://zenodo.org/api/records/5/files/a.json/content"
    assert file_url({"links": {"self": same}}, "a.json", record_id=5, base_url=base, where="r") == same
    assert (
        file_url(
            {"links": {"self": "https://evil/x", "content": same}}, "a.json", record_id=5, base_url=base, where="r"
        )
        == same
    )  # 'content' is the file itself, 'self' may be its metadata
    assert file_url({"links": {"self": "https://ZENODO.org:443/x"}}, "a", record_id=5, base_url=base, where="r")
    for url in [
        "http://zenodo.org/x",
        "https://zenodo.org:8443/x",
        "https://zenodo.org.evil.example/x",
        "https://evil.example/x",
        "https://user:pw@zenodo.org/x",
        "https://evil.example\\@zenodo.org/x",
        "ftp://zenodo.org/x",
        "file:///etc/passwd",
        "/api/records/5/files/a/content",
        "//evil.example/x",
        "https://zenodo.org/x\n",
        7,
        None,
    ]:
        with pytest.raises(ZenodoError, match="refused|not an object") as info:
            file_url({"links": {"self": url}}, "a.json", record_id=5, base_url=base, where="record 5")
        assert "\n" not in str(info.value)


def test_listing_json_is_bounded_in_depth_without_recursion():
    from dnnlik.bundle.document import json_depth
    from dnnlik.zenodo.client import MAX_JSON_DEPTH, parse_json_bounded

    ok = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    assert json_depth(ok) == MAX_JSON_DEPTH and parse_json_bounded(ok, what="x", where="w")
    deep = b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1)
    with pytest.raises(ZenodoError, match="more than 64 deep"):
        parse_json_bounded(deep, what="x", where="w")
    with pytest.raises(ZenodoError, match="more than 64 deep"):
        parse_json_bounded(b'{"a": ' + b"[" * 1_000_000, what="x", where="w")  # unterminated too
    brackets_in_strings = b'{"a": "' + b"[" * 1000 + b'\\"[[["}'
    assert json_depth(brackets_in_strings) == 1
    assert parse_json_bounded(brackets_in_strings, what="x", where="w")["a"].startswith("[[[")
    for bad in [b"", b"{", b"\xff", b'{"a": NaN', b"[1,]"]:
        with pytest.raises(ZenodoError, match="not valid JSON"):
            parse_json_bounded(bad, what="the record listing", where="w")
