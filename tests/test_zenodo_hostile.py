"""A hostile Zenodo record never makes the fetch write outside the cache (issue 12, section 1).

The local test server (tests/zenodo_server.py) answers as an attacker would: file entries whose
``filename`` (or ``key``) is ``../``-laden, absolute, or the path of an existing file outside the
cache; ``key`` and ``filename`` that disagree; a listing that changes between two requests; a file
that streams far more bytes than the record lists; download links and redirects to another host;
malformed and oversized listings. For each: nothing is written outside the cache (a sentinel file
is untouched and no new file appears around the cache), the library raises one clear one-line
``ZenodoError``, and ``dnnlik fetch`` / ``dnnlik validate zenodo:N`` exit non-zero with one line and
no traceback.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

pytest.importorskip("requests")

from zenodo_server import ZenodoServer, block_network, zenodo_server  # noqa: F401

pytestmark = pytest.mark.usefixtures("block_network")  # no test here reaches a host other than 127.0.0.1

import dnnlik  # noqa: E402
from dnnlik.cli.main import cli  # noqa: E402
from dnnlik.zenodo import ZenodoError, ZenodoIntegrityError, cache_root, fetch  # noqa: E402

SENTINEL = b"sentinel: must never change\n"


class Outside:
    """Files outside the cache that a hostile record would like to overwrite, and a snapshot of everything
    around the cache (``tmp_path`` less the cache root) to compare after the fetch."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.base = tmp_path
        self.root = cache_root()
        self.root.mkdir(parents=True)
        # nothing else may appear around the cache either: not even onnxruntime's device id under
        # $XDG_CACHE_HOME/Microsoft (dnnlik turns its telemetry off)
        self.dir = tmp_path / "outside"
        self.dir.mkdir()
        self.sentinel = self.dir / "sentinel.txt"
        self.sentinel.write_bytes(SENTINEL)
        work = tmp_path / "work"  # the current folder holds files named like the record's
        work.mkdir()
        for name in ("bundle.json", "model.onnx", "x", "evil"):
            (work / name).write_bytes(SENTINEL)
        monkeypatch.chdir(work)
        self.before = self.snapshot()

    def snapshot(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for folder, dirs, files in os.walk(self.base):
            here = Path(folder)
            if here == self.root:
                dirs[:] = []  # inside the cache: checked separately
                continue
            for name in dirs:
                out[str((here / name).relative_to(self.base))] = "dir"
            for name in files:
                path = here / name
                out[str(path.relative_to(self.base))] = hashlib.sha256(path.read_bytes()).hexdigest()
        return out

    def staging(self, record: int) -> Path:
        return self.root / ".partial" / str(record) / "files"

    def relative_to_staging(self, record: int, target: Path) -> str:
        return os.path.relpath(target, self.staging(record))

    def assert_untouched(self) -> None:
        assert self.sentinel.read_bytes() == SENTINEL
        assert self.snapshot() == self.before
        for path in self.root.rglob("*"):  # nothing in the cache points outside it either
            assert not path.is_symlink(), path


@pytest.fixture
def outside(zenodo_server: ZenodoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Outside:
    return Outside(tmp_path, monkeypatch)


@pytest.fixture
def bundle_files(gaussian_bundle: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in gaussian_bundle.iterdir()}


@pytest.fixture
def record(zenodo_server: ZenodoServer, bundle_files: dict[str, bytes]) -> int:
    return zenodo_server.publish_raw(bundle_files)


def _downloads(server: ZenodoServer) -> list[str]:
    return [p for m, p in server.log if m == "GET" and "/files/" in p and not p.startswith("/api/files/")]


def _listings(server: ZenodoServer, record: int) -> int:
    return len(server.requests("GET", rf"^/api/records/{record}$"))


def _cache_entries() -> list[str]:
    return sorted(p.name for p in cache_root().iterdir() if not p.name.startswith("."))


def _cli(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _assert_one_line_error(exc: BaseException, *fragments: str) -> None:
    text = str(exc)
    assert "\n" not in text and len(text) < 1000, text
    for fragment in fragments:
        assert fragment in text, (fragment, text)


def _assert_cli_refuses(record: int, *fragments: str) -> None:
    """``dnnlik fetch`` and ``dnnlik validate`` both fail with one line naming the problem, no traceback."""
    result = _cli("fetch", f"zenodo:{record}")
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: zenodo:{record}: "), result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    result = _cli("validate", f"zenodo:{record}")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    problems = [line for line in result.output.splitlines() if "zenodo:fetch-failed" in line]
    assert len(problems) == 1, result.output
    for fragment in fragments:
        assert fragment in problems[0], (fragment, problems[0])


def _entry_editor(name: str, edit: Callable[[dict[str, Any], ZenodoServer, Outside, int], None]) -> Callable:
    def hook_for(server: ZenodoServer, outside: Outside) -> Callable[[int, dict, int], dict]:
        def hook(rec: int, listing: dict[str, Any], n: int) -> dict[str, Any]:
            for entry in listing["files"]:
                if entry.get("key", entry.get("filename")) == name:
                    edit(entry, server, outside, rec)
            return listing

        return hook

    return hook_for


def _set(field: str, value: Callable[[ZenodoServer, Outside, int], Any], drop: str | None = None) -> Callable:
    def edit(entry: dict[str, Any], server: ZenodoServer, outside: Outside, rec: int) -> None:
        entry[field] = value(server, outside, rec)
        if drop:
            entry.pop(drop, None)

    return edit


def _link(url: Callable[[ZenodoServer, Outside, int], str]) -> Callable:
    def edit(entry: dict[str, Any], server: ZenodoServer, outside: Outside, rec: int) -> None:
        entry["links"] = {"self": url(server, outside, rec)}

    return edit


# (the refused entry's edit, fragments of the message)
HOSTILE_ENTRIES: dict[str, tuple[Callable, tuple[str, ...]]] = {
    "filename-dotdot": (_set("filename", lambda s, o, r: "../x"), ("'../x'", "'filename'", "not a plain file name")),
    "filename-dotdot-to-an-existing-file": (
        _set("filename", lambda s, o, r: o.relative_to_staging(r, o.sentinel)),
        ("'filename'", "path separator"),
    ),
    "filename-dotdot-to-the-current-folder": (
        _set("filename", lambda s, o, r: o.relative_to_staging(r, Path.cwd() / "model.onnx")),
        ("path separator",),
    ),
    "filename-absolute-existing-file": (_set("filename", lambda s, o, r: str(o.sentinel)), ("absolute path",)),
    "filename-windows-absolute": (_set("filename", lambda s, o, r: "C:\\outside\\x"), ("absolute path",)),
    "filename-backslashes": (_set("filename", lambda s, o, r: "..\\..\\x"), ("path separator",)),
    "key-absolute": (_set("key", lambda s, o, r: str(o.sentinel)), ("'key'", "absolute path")),
    "key-dotdot-legacy-shape": (_set("filename", lambda s, o, r: "../../evil", drop="key"), ("path separator",)),
    "key-and-filename-disagree": (
        _set("filename", lambda s, o, r: "other.onnx"),
        ("names two different files", "'model.onnx'", "'other.onnx'"),
    ),
    "filename-dot-dot": (_set("filename", lambda s, o, r: ".."), ("'.' or '..'",)),
    "filename-nul": (_set("filename", lambda s, o, r: "model.onnx\x00../../x"), ("NUL",)),
    "filename-newline": (_set("filename", lambda s, o, r: "model\n.onnx"), ("control character", "\\n")),
    "filename-unicode": (_set("filename", lambda s, o, r: "mod\u0065\u0301l.onnx"), ("not ASCII",)),
    "filename-rtl-override": (_set("filename", lambda s, o, r: "model\u202e.onnx"), ("\\u202e",)),
    "filename-too-long": (_set("filename", lambda s, o, r: "m" * 300), ("longer than 255",)),
    "filename-device": (_set("filename", lambda s, o, r: "NUL.onnx"), ("Windows device",)),
    "filename-not-a-string": (_set("filename", lambda s, o, r: ["..", "x"]), ("not a string",)),
    "sizes-disagree": (_set("filesize", lambda s, o, r: 10**12), ("two different sizes",)),
    "url-other-host": (
        _link(lambda s, o, r: f"http://evil.example/api/records/{r}/files/model.onnx/content"),
        ("evil.example", "not to the record's Zenodo host"),
    ),
    "url-other-port": (
        _link(lambda s, o, r: f"http://127.0.0.1:{s.port + 1}/api/records/{r}/files/model.onnx"),
        ("not to the record's Zenodo host",),
    ),
    "url-other-scheme": (
        _link(lambda s, o, r: f"https://127.0.0.1:{s.port}/api/records/{r}/files/model.onnx"),
        ("not to the record's Zenodo host",),
    ),
    "url-file-scheme": (_link(lambda s, o, r: f"file://{o.sentinel}"), ("not to the record's Zenodo host",)),
    "url-user-info": (
        _link(lambda s, o, r: f"http://evil.example@127.0.0.1:{s.port}/x"),
        ("not to the record's Zenodo host",),
    ),
    "url-scheme-relative": (_link(lambda s, o, r: "//evil.example/x"), ("not to the record's Zenodo host",)),
    "url-with-spaces": (_link(lambda s, o, r: f"http://127.0.0.1:{s.port}/x y"), ("not a plain URL",)),
    "links-not-an-object": (_set("links", lambda s, o, r: "http://evil.example/"), ("'links' is not an object",)),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(HOSTILE_ENTRIES))
def test_a_hostile_file_entry_is_refused_before_anything_is_written(zenodo_server, outside, record, case):
    edit, fragments = HOSTILE_ENTRIES[case]
    zenodo_server.record_hook = _entry_editor("model.onnx", edit)(zenodo_server, outside)
    with pytest.raises(ZenodoError) as info:
        fetch(f"zenodo:{record}")
    outside.assert_untouched()
    _assert_one_line_error(info.value, f"zenodo:{record}: ", *fragments)
    assert _listings(zenodo_server, record) == 1
    assert _downloads(zenodo_server) == []  # refused from the listing: nothing downloaded at all
    assert _cache_entries() == []
    _assert_cli_refuses(record, *fragments)
    with pytest.raises(ZenodoError):
        dnnlik.load(f"zenodo:{record}")
    outside.assert_untouched()
    assert _downloads(zenodo_server) == []


def test_names_that_differ_only_in_case_are_refused(zenodo_server, outside, bundle_files):
    files = {**bundle_files, "MODEL.onnx": bundle_files["model.onnx"]}
    rec = zenodo_server.publish_raw(files)
    with pytest.raises(ZenodoError) as info:
        fetch(f"zenodo:{rec}")
    _assert_one_line_error(info.value, "differing in case only")
    assert _downloads(zenodo_server) == []
    outside.assert_untouched()


def test_plain_names_of_files_outside_the_cache_are_written_only_inside_it(zenodo_server, outside, record):
    # the current folder holds bundle.json and model.onnx: the record's files land in the cache, not there
    result = fetch(f"zenodo:{record}")
    assert result.path.parent == cache_root() and dnnlik.validate(result.bundle_path).ok
    outside.assert_untouched()


def test_the_listing_that_was_checked_is_the_one_downloaded(zenodo_server, outside, record, bundle_files):
    # the first answer is benign, every later one hostile: dnnlik reads the listing once and downloads that
    def hook(rec: int, listing: dict[str, Any], n: int) -> dict[str, Any]:
        if n > 1:
            for entry in listing["files"]:
                entry["filename"] = outside.relative_to_staging(rec, outside.sentinel)
                entry["links"] = {"self": "http://evil.example/x"}
        return listing

    zenodo_server.record_hook = hook
    try:
        result = fetch(f"zenodo:{record}")
    finally:
        outside.assert_untouched()
    assert _listings(zenodo_server, record) == 1
    assert {p.name: p.read_bytes() for p in result.bundle_path.iterdir()} == bundle_files


def test_a_listing_that_turns_benign_later_is_still_refused(zenodo_server, outside, record):
    def hook(rec: int, listing: dict[str, Any], n: int) -> dict[str, Any]:
        if n == 1:
            listing["files"][0]["filename"] = "../../../../evil"
        return listing

    zenodo_server.record_hook = hook
    with pytest.raises(ZenodoError) as info:
        fetch(f"zenodo:{record}")
    _assert_one_line_error(info.value, "'../../../../evil'")
    assert _listings(zenodo_server, record) == 1 and _downloads(zenodo_server) == []
    outside.assert_untouched()


def _disk_watch(outside: Outside, record: int) -> tuple[list[int], Callable[[int], None]]:
    """Record, at each piece the server sends, the largest file in the record's staging folder."""
    seen = [0]

    def on_chunk(sent: int) -> None:
        try:
            sizes = [
                e.stat(follow_symlinks=False).st_size
                for e in os.scandir(outside.staging(record))
                if e.name != "bundle.json"
            ]
        except FileNotFoundError:
            sizes = []
        seen[0] = max([seen[0], *sizes])

    return seen, on_chunk


@pytest.mark.parametrize("content_length", [False, True], ids=["chunked", "honest-length"])
def test_a_file_longer_than_announced_is_stopped_while_it_streams(
    zenodo_server, outside, record, bundle_files, content_length
):
    announced = len(bundle_files["model.onnx"])
    seen, on_chunk = _disk_watch(outside, record)
    spec = zenodo_server.stream(
        record, "model.onnx", 50 * announced, chunk=128, content_length=content_length, on_chunk=on_chunk
    )
    with pytest.raises(ZenodoIntegrityError) as info:
        fetch(f"zenodo:{record}", retries=2)
    assert seen[0] <= announced
    _assert_one_line_error(info.value, "'model.onnx'", f"more than the {announced} bytes", "stopped")
    assert seen[0] <= announced
    assert len([p for p in _downloads(zenodo_server) if "model.onnx" in p]) == 1  # refused, not retried
    staging = outside.staging(record)
    assert sorted(p.name for p in staging.iterdir()) == ["bundle.json"]  # the partial file was deleted
    assert _cache_entries() == []
    outside.assert_untouched()
    _assert_cli_refuses(record, f"more than the {announced} bytes")
    assert spec.sent > 0


def test_a_large_oversized_file_is_cut_off_long_before_its_end(zenodo_server, outside):
    announced = 1024 * 1024
    rec = zenodo_server.publish_raw({"bundle.zip": bytes(announced)})
    seen, on_chunk = _disk_watch(outside, rec)
    spec = zenodo_server.stream(rec, "bundle.zip", 50 * announced, on_chunk=on_chunk)
    with pytest.raises(ZenodoError) as info:
        fetch(f"zenodo:{rec}")
    assert seen[0] <= announced
    assert isinstance(info.value, ZenodoIntegrityError) and "stopped and discarded" in str(info.value)
    assert not spec.finished and spec.sent < 25 * announced  # the client hung up: the body was never all read
    assert list(outside.staging(rec).iterdir()) == []
    outside.assert_untouched()


def test_a_redirect_to_another_host_is_refused(zenodo_server, outside, record):
    zenodo_server.redirects[(record, "model.onnx")] = "http://evil.example/model.onnx"
    with pytest.raises(ZenodoError) as info:
        fetch(f"zenodo:{record}")
    _assert_one_line_error(info.value, "http://evil.example/model.onnx", "not on the Zenodo host")
    assert _cache_entries() == []
    outside.assert_untouched()
    _assert_cli_refuses(record, "not on the Zenodo host")


def test_a_redirect_on_the_same_host_is_followed(zenodo_server, outside, record):
    zenodo_server.redirects[(record, "model.onnx")] = f"/records/{record}/files/model.onnx"
    assert dnnlik.validate(fetch(f"zenodo:{record}").bundle_path).ok
    assert f"/records/{record}/files/model.onnx" in _downloads(zenodo_server)
    outside.assert_untouched()


def _raw(body: bytes) -> Callable[[int, dict, int], bytes]:
    return lambda rec, listing, n: body


def _listing(edit: Callable[[dict[str, Any]], Any]) -> Callable[[int, dict, int], dict]:
    def hook(rec: int, listing: dict[str, Any], n: int) -> Any:
        return edit(listing)

    return hook


def _many_files(listing: dict[str, Any]) -> dict[str, Any]:
    entry = listing["files"][0]
    listing["files"] = [{**entry, "key": f"f{i}.json", "links": {}} for i in range(1001)]
    return listing


MALFORMED_LISTINGS: dict[str, tuple[Callable[[int, dict, int], Any], str]] = {
    "not-json": (_raw(b"<html>Zenodo is down</html>"), "not valid JSON"),
    "not-utf8": (_raw(b'{"id": 1, "files": ["\xff"]}'), "not valid JSON"),
    "deep-nesting": (_raw(b'{"id": 1, "metadata": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"), "more than 64 deep"),
    "too-large": (_raw(b'{"id": 1, "pad": "' + b"x" * (5 * 1024 * 1024) + b'"}'), "more than the 4194304 bytes"),
    "an-array": (_raw(b"[]"), "not answer with a JSON object"),
    "files-not-a-list": (_listing(lambda d: {**d, "files": {"model.onnx": {}}}), "file listing is not a list"),
    "too-many-files": (_listing(_many_files), "more than the 1000"),
    "entry-not-an-object": (_listing(lambda d: {**d, "files": ["model.onnx"]}), "file entry 0 is not an object"),
    "size-a-string": (_listing(lambda d: {**d, "files": [{**d["files"][0], "size": "740"}]}), "no valid size"),
    "no-checksum": (
        _listing(lambda d: {**d, "files": [{k: v for k, v in d["files"][0].items() if k != "checksum"}]}),
        "no checksum",
    ),
    "id-missing": (_listing(lambda d: {k: v for k, v in d.items() if k != "id"}), "no valid 'id'"),
    "id-a-path": (_listing(lambda d: {**d, "id": "../../x"}), "no valid 'id'"),
    "id-a-bool": (_listing(lambda d: {**d, "id": True}), "no valid 'id'"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED_LISTINGS))
def test_a_malformed_listing_is_one_clear_error(zenodo_server, outside, record, case):
    hook, fragment = MALFORMED_LISTINGS[case]
    zenodo_server.record_hook = hook
    with pytest.raises(ZenodoError) as info:
        fetch(f"zenodo:{record}")
    _assert_one_line_error(info.value, fragment)
    assert _downloads(zenodo_server) == []
    outside.assert_untouched()
    _assert_cli_refuses(record, fragment)


@pytest.mark.parametrize(
    "location", ["http://evil.example/api/records/1", "https://127.0.0.1/api/records/1", "file:///etc/passwd"]
)
def test_a_listing_redirected_to_another_host_is_refused(zenodo_server, outside, record, location):
    zenodo_server.record_redirects[record] = location
    with pytest.raises(ZenodoError) as info:
        fetch(f"zenodo:{record}")
    _assert_one_line_error(info.value, "not on the Zenodo host")
    assert _downloads(zenodo_server) == []
    outside.assert_untouched()


def test_a_doi_with_control_characters_is_not_kept(zenodo_server, outside, record):
    def hook(rec: int, listing: dict[str, Any], n: int) -> dict[str, Any]:
        return {**listing, "doi": "10.5281/zenodo.1\x1b[2J\nowned"}

    zenodo_server.record_hook = hook
    result = fetch(f"zenodo:{record}")
    assert result.doi is None
    meta = json.loads((result.path / "record.json").read_text())
    assert meta["doi"] is None
    cached = fetch(f"zenodo:{record}")
    assert cached.from_cache and cached.doi is None


def _plant(outside: Outside, record: int, how: str) -> Path:
    """Links planted in the cache's staging folder, pointing outside (a leftover, or another local user)."""
    target = outside.dir
    partial = outside.root / ".partial"
    if how == "partial-folder-link":
        partial.symlink_to(target, target_is_directory=True)
    elif how == "files-folder-link":
        (partial / str(record)).mkdir(parents=True)
        (partial / str(record) / "files").symlink_to(target, target_is_directory=True)
    elif how == "file-link":
        outside.staging(record).mkdir(parents=True)
        (outside.staging(record) / "model.onnx").symlink_to(outside.sentinel)
    elif how == "part-file-link":
        outside.staging(record).mkdir(parents=True)
        (outside.staging(record) / "#part-1").symlink_to(outside.sentinel)
    elif how == "locks-folder-link":
        (outside.root / ".locks").symlink_to(target, target_is_directory=True)
    elif how == "lock-file-link":
        (outside.root / ".locks").mkdir()
        (outside.root / ".locks" / f"{record}.lock").symlink_to(outside.sentinel)
    outside.before = outside.snapshot()
    return target


@pytest.mark.slow
@pytest.mark.parametrize(
    "how",
    ["partial-folder-link", "files-folder-link", "file-link", "part-file-link", "locks-folder-link", "lock-file-link"],
)
def test_links_in_the_staging_folder_are_never_followed(zenodo_server, outside, record, bundle_files, how):
    target = _plant(outside, record, how)
    names_before = sorted(p.name for p in target.iterdir())
    result = fetch(f"zenodo:{record}")
    assert {p.name: p.read_bytes() for p in result.bundle_path.iterdir()} == bundle_files
    assert sorted(p.name for p in target.iterdir()) == names_before
    outside.assert_untouched()


def test_resume_checks_what_an_interrupted_attempt_left(zenodo_server, outside, record, bundle_files):
    staging = outside.staging(record)
    staging.mkdir(parents=True)
    (staging / "bundle.json").write_bytes(bundle_files["bundle.json"])  # complete: kept
    (staging / "model.onnx").write_bytes(bundle_files["model.onnx"][:100])  # cut short by a crash: fetched again
    (staging / "#part-1").write_bytes(b"half")  # an attempt killed mid-file
    (staging / "stray.txt").write_bytes(b"not listed")
    result = fetch(f"zenodo:{record}")
    assert [p.rsplit("/", 2)[-2] for p in _downloads(zenodo_server)] == ["model.onnx"]
    assert {p.name: p.read_bytes() for p in result.bundle_path.iterdir()} == bundle_files
    outside.assert_untouched()
