"""Reading bundle folders and zips stays bounded and cannot be raced (issue 12, 1 and 2).

- A folder is read through descriptors held from the scan, component by
  component: swapping a sub-folder for a link (or a real folder from
  elsewhere), replacing, growing or shrinking a file, or moving the bundle
  itself between the scan and the read never returns bytes the scan did not
  see; it is a located ``archive:changed`` problem.
- Zip entries are inflated as streams capped by their declared size; listed
  files are hashed as streams; only bundle.json and the model are held whole.
- Under a 4 GiB address-space limit, ``dnnlik validate`` on a 2 GiB lying-header
  zip bomb, on a folder with 2 GiB sparse files and on a spec-legal 2 GiB zip
  entry ends with problems (or "valid"), never a traceback, with little memory.
"""

from __future__ import annotations

import hashlib
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
import tracemalloc
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import broken_catalog
from broken_catalog import read_document, restamp
from broken_catalog_archive import (
    GiB,
    MiB,
    RawEntry,
    bundle_with_raw_entry,
    content_of_noise_block,
    deflate_zeros,
    nested_folders,
    sparse_file,
)

import dnnlik
from dnnlik.bundle import inspect as inspect_module
from dnnlik.bundle import source as source_module
from dnnlik.bundle.source import ChangedError, DirectorySource, SourceError, open_source
from dnnlik.bundle.write import dump_document, write_bundle

SECRET = b"outside the bundle: must never be returned\n"


def _codes(report: Any) -> list[str]:
    return [p.code for p in report.errors]


@pytest.fixture
def nested_bundle(gaussian_bundle: Path, tmp_path: Path) -> Path:
    """A valid bundle with a listed file in a sub-folder, sub/data.bin."""
    doc = read_document(gaussian_bundle)
    doc.pop("files")
    doc.pop("document_sha256")
    files = {"model.onnx": (gaussian_bundle / "model.onnx").read_bytes(), "sub/data.bin": b"inside the bundle\n" * 3}
    out = tmp_path / "bundle"
    write_bundle(out, doc, files)
    assert dnnlik.validate(out).ok
    return out


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside the bundle holding data.bin (same name, other bytes) and model.onnx."""
    out = tmp_path / "outside"
    out.mkdir()
    (out / "data.bin").write_bytes(SECRET)
    (out / "model.onnx").write_bytes(SECRET)
    return out


# races between the scan and the read -------------------------------------------


def test_subfolder_swapped_for_a_link_after_the_scan_is_refused(nested_bundle: Path, outside: Path) -> None:
    with open_source(nested_bundle) as source:
        assert "sub/data.bin" in source.files
        (nested_bundle / "sub").rename(nested_bundle.parent / "sub-moved")
        os.symlink(outside, nested_bundle / "sub")
        # the path-based view now shows the outside bytes: the race is real
        assert (nested_bundle / "sub" / "data.bin").read_bytes() == SECRET
        for read in (source.read, source.sha256, lambda n: b"".join(source.chunks(n))):
            with pytest.raises(ChangedError) as info:
                read("sub/data.bin")
            assert info.value.where == "sub/data.bin"
            assert info.value.code == "archive:changed"


def test_subfolder_swapped_during_validation_is_a_located_problem(
    nested_bundle: Path, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scan = DirectorySource.scan

    def scan_then_swap(self: DirectorySource) -> DirectorySource:
        result = scan(self)
        (nested_bundle / "sub").rename(nested_bundle.parent / "sub-moved")
        os.symlink(outside, nested_bundle / "sub")
        return result

    monkeypatch.setattr(DirectorySource, "scan", scan_then_swap)
    report = dnnlik.validate(nested_bundle)
    assert not report.ok
    (problem,) = [p for p in report.errors if p.code == "archive:changed"]
    assert problem.location == "sub/data.bin"
    text = report.to_text()
    assert hashlib.sha256(SECRET).hexdigest() not in text
    assert "Traceback" not in text


def test_subfolder_replaced_by_a_real_folder_from_outside_is_refused(nested_bundle: Path, outside: Path) -> None:
    with open_source(nested_bundle) as source:
        (nested_bundle / "sub").rename(nested_bundle.parent / "sub-moved")
        outside.rename(nested_bundle / "sub")  # no link at all: a whole other folder moved in
        with pytest.raises(ChangedError):
            source.read("sub/data.bin")


def test_root_file_swapped_for_a_link_is_refused(nested_bundle: Path, outside: Path) -> None:
    with open_source(nested_bundle) as source:
        (nested_bundle / "model.onnx").unlink()
        os.symlink(outside / "model.onnx", nested_bundle / "model.onnx")
        with pytest.raises(ChangedError) as info:
            source.read("model.onnx")
        assert info.value.where == "model.onnx"


@pytest.mark.parametrize("change", ["replaced", "grown", "shrunk", "fifo"])
def test_file_changed_after_the_scan_is_refused(nested_bundle: Path, change: str) -> None:
    target = nested_bundle / "sub" / "data.bin"
    size = target.stat().st_size
    with open_source(nested_bundle) as source:
        if change == "replaced":  # same size, another file (the old one kept, so that its inode is not reused)
            target.rename(target.with_name("old.bin"))
            target.write_bytes(b"X" * size)
        elif change == "grown":  # same file, appended to
            with open(target, "ab") as f:
                f.write(SECRET)
        elif change == "shrunk":
            os.truncate(target, size // 2)
        else:  # a named pipe: opening it to read must not block
            target.unlink()
            os.mkfifo(target)
        outcome: list[object] = []

        def read() -> None:
            try:
                outcome.append(source.read("sub/data.bin"))
            except SourceError as exc:
                outcome.append(exc)

        worker = threading.Thread(target=read, daemon=True)
        worker.start()
        worker.join(timeout=10)
        assert outcome, "reading blocked"
        assert isinstance(outcome[0], ChangedError), outcome
        assert outcome[0].where == "sub/data.bin"


def test_file_growing_while_being_streamed_never_yields_more_than_scanned(nested_bundle: Path) -> None:
    target = nested_bundle / "sub" / "data.bin"
    size = target.stat().st_size
    with open_source(nested_bundle) as source:
        chunks = source.chunks("sub/data.bin")
        first = next(chunks)
        with open(target, "ab") as f:
            f.write(SECRET)
        got = first
        with pytest.raises(ChangedError):
            for chunk in chunks:
                got += chunk
        assert len(got) <= size and SECRET not in got


def test_the_bundle_moved_after_the_scan_is_still_read_from_the_scanned_folder(
    nested_bundle: Path, outside: Path
) -> None:
    original = (nested_bundle / "sub" / "data.bin").read_bytes()
    with open_source(nested_bundle) as source:
        nested_bundle.rename(nested_bundle.parent / "moved")
        os.symlink(outside, nested_bundle)  # the bundle's path now leads elsewhere
        assert source.read("sub/data.bin") == original


def test_a_zip_replaced_after_the_scan_is_still_read_from_the_scanned_file(gaussian_zip: Path, tmp_path: Path) -> None:
    path = tmp_path / "bundle.zip"
    shutil.copy(gaussian_zip, path)
    with zipfile.ZipFile(path) as zf:
        original = zf.read("model.onnx")
    with open_source(path) as source:
        path.unlink()
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("model.onnx", SECRET)
            zf.writestr("bundle.json", b"{}")
        assert source.read("model.onnx") == original


# names and nesting ---------------------------------------------------------------------------


def test_folder_nesting_limit_is_exact(gaussian_bundle: Path, tmp_path: Path) -> None:
    from dnnlik.bundle.source import MAX_DEPTH

    for depth, refused in ((MAX_DEPTH, False), (MAX_DEPTH + 1, True)):
        bundle = tmp_path / f"b{depth}"
        shutil.copytree(gaussian_bundle, bundle)
        nested_folders(bundle, depth)
        codes = _codes(dnnlik.validate(bundle))
        assert ("archive:too-deep" in codes) is refused, (depth, codes)
        assert "files:unlisted" in codes or refused  # within the limit the deep file is seen (and unlisted)


def test_zip_nesting_limit_is_exact(gaussian_bundle: Path, tmp_path: Path) -> None:
    from dnnlik.bundle.source import MAX_DEPTH

    for depth, refused in ((MAX_DEPTH, False), (MAX_DEPTH + 1, True)):
        path = tmp_path / f"b{depth}.zip"
        with zipfile.ZipFile(path, "w") as zf:
            for p in sorted(gaussian_bundle.iterdir()):
                zf.writestr(p.name, p.read_bytes())
            zf.writestr("d/" * depth + "deep.txt", b"deep\n")
        codes = _codes(dnnlik.validate(path))
        assert ("archive:too-deep" in codes) is refused, (depth, codes)


# descriptors: closed, and never leaked ----------------------------------------------------


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_no_descriptor_leaks_across_many_validations(
    nested_bundle: Path, gaussian_zip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    broken = tmp_path / "broken"
    shutil.copytree(nested_bundle, broken)
    (broken / "sub" / "data.bin").write_bytes(b"modified")  # a files:size-mismatch and digest mismatch
    for path in (nested_bundle, gaussian_zip, broken):
        dnnlik.validate(path)  # warm up imports and caches
    gc.collect()
    before = _open_fds()
    for _ in range(60):
        for path in (nested_bundle, gaussian_zip, broken):
            inspection = inspect_module.inspect_bundle(path)
            with pytest.raises(SourceError, match="closed"):  # closed by inspect_bundle itself, not by the collector
                inspection.source.read("model.onnx")
    # the race path: every read refused, descriptors still closed
    scan = DirectorySource.scan

    def scan_then_unlink(self: DirectorySource) -> DirectorySource:
        result = scan(self)
        for name in result.files:
            p = Path(self.root) / name
            p.rename(p.with_name(p.name + ".gone"))
        return result

    monkeypatch.setattr(DirectorySource, "scan", scan_then_unlink)
    for i in range(30):
        copy = tmp_path / f"race{i}"
        shutil.copytree(nested_bundle, copy)
        assert "archive:changed" in _codes(inspect_module.inspect_bundle(copy).report)
    assert _open_fds() <= before + 2


def test_a_source_is_closed_by_its_context_and_refuses_reads_after(nested_bundle: Path, gaussian_zip: Path) -> None:
    for path in (nested_bundle, gaussian_zip):
        with open_source(path) as source:
            assert source.read("model.onnx")
        with pytest.raises(SourceError, match="closed"):
            source.read("model.onnx")
        source.close()  # idempotent


# memory: streamed digests, capped inflation, MemoryError as a problem -----------------------


def _peak_python_memory(fn) -> int:  # type: ignore[no-untyped-def]
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _with_listed_file(valid: Path, out: Path, name: str, content_chunks: list[bytes]) -> Path:
    """The valid folder bundle plus a listed file written from chunks (digest computed as a stream)."""
    shutil.copytree(valid, out)
    h = hashlib.sha256()
    size = 0
    with open(out / name, "wb") as f:
        for chunk in content_chunks:
            f.write(chunk)
            h.update(chunk)
            size += len(chunk)
    doc = read_document(valid)
    doc["files"].append({"path": name, "sha256": h.hexdigest(), "size": size, "role": "other"})
    (out / "bundle.json").write_bytes(dump_document(restamp(doc)))
    return out


def test_listed_files_are_hashed_as_streams_in_folders(gaussian_bundle: Path, tmp_path: Path) -> None:
    block = content_of_noise_block(8192)
    bundle = _with_listed_file(gaussian_bundle, tmp_path / "b", "data.bin", [block] * 64)
    dnnlik.validate(bundle)  # imports and caches out of the measurement
    holder: list[Any] = []
    peak = _peak_python_memory(lambda: holder.append(dnnlik.validate(bundle)))
    assert holder[0].ok, holder[0].to_text()
    assert peak < 16 * MiB, f"validating held {peak / MiB:.0f} MiB for a 64 MiB file"


def test_listed_zip_entries_are_inflated_and_hashed_as_streams(gaussian_bundle: Path, tmp_path: Path) -> None:
    size = 64 * MiB
    block = content_of_noise_block(8192)
    content_hash = hashlib.sha256()
    crc = 0
    for _ in range(size // MiB):
        content_hash.update(block)
        crc = zlib.crc32(block, crc)
    entry = RawEntry("data.bin", deflate_zeros(b"", size, noise=8192), 8, crc, size)
    bundle = bundle_with_raw_entry(gaussian_bundle, tmp_path / "b.zip", entry, listed=(size, content_hash.hexdigest()))
    dnnlik.validate(bundle)
    holder: list[Any] = []
    peak = _peak_python_memory(lambda: holder.append(dnnlik.validate(bundle)))
    assert holder[0].ok, holder[0].to_text()
    assert peak < 16 * MiB, f"validating held {peak / MiB:.0f} MiB for a 64 MiB entry"


def test_a_lying_zip_entry_is_never_inflated_past_its_declared_size(gaussian_bundle: Path, tmp_path: Path) -> None:
    declared = 4096
    entry = RawEntry("data.bin", deflate_zeros(b"", 512 * MiB), 8, zlib.crc32(bytes(declared)), declared)
    bundle = bundle_with_raw_entry(
        gaussian_bundle, tmp_path / "b.zip", entry, listed=(declared, hashlib.sha256(bytes(declared)).hexdigest())
    )
    with open_source(bundle) as source:
        got = b""
        with pytest.raises(SourceError) as info:
            for chunk in source.chunks("data.bin"):
                got += chunk
        assert info.value.code == "archive:size-mismatch"
        assert len(got) <= declared and got == bytes(len(got))  # never more than declared was handed over
    start = time.monotonic()
    peak = _peak_python_memory(lambda: dnnlik.validate(bundle))
    assert time.monotonic() - start < 60  # stopped after a few MiB, not after 512 MiB (generous: shared machines)
    assert peak < 16 * MiB


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_every_supported_compression_is_read_and_size_checked(
    gaussian_bundle: Path, tmp_path: Path, compression: int
) -> None:
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w", compression=compression) as zf:
        for p in sorted(gaussian_bundle.iterdir()):
            zf.writestr(p.name, p.read_bytes())
    assert dnnlik.validate(good).ok
    # the same zip with model.onnx's declared size cut by 100 bytes, CRC of what is declared
    data = (gaussian_bundle / "model.onnx").read_bytes()
    raw = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as zf:
        info = zf.getinfo("model.onnx")
    central = bytes(raw).find(b"PK\x01\x02")
    while bytes(raw[central + 46 : central + 46 + len("model.onnx")]) != b"model.onnx":
        central = bytes(raw).find(b"PK\x01\x02", central + 4)
    short = len(data) - 100
    for at in (central + 16, info.header_offset + 14):  # CRC, in both headers
        raw[at : at + 4] = zlib.crc32(data[:short]).to_bytes(4, "little")
    for at in (central + 24, info.header_offset + 22):  # uncompressed size, in both headers
        raw[at : at + 4] = short.to_bytes(4, "little")
    lying = tmp_path / "lying.zip"
    lying.write_bytes(bytes(raw))
    report = dnnlik.validate(lying)
    assert "archive:size-mismatch" in _codes(report), report.to_text()
    (problem,) = [p for p in report.errors if p.code == "archive:size-mismatch"]
    assert problem.location == "model.onnx"


def test_memory_errors_become_problems(nested_bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_memory(*args: object, **kwargs: object) -> object:
        raise MemoryError

    with monkeypatch.context() as m:
        m.setattr(DirectorySource, "_read_whole", no_memory)
        report = dnnlik.validate(nested_bundle)
        assert ("json:too-large", "bundle.json") in [(p.code, p.location) for p in report.errors]
    with monkeypatch.context() as m:
        m.setattr(DirectorySource, "_member_chunks", no_memory)
        report = dnnlik.validate(nested_bundle)
        assert ("files:too-large", "sub/data.bin") in [(p.code, p.location) for p in report.errors]
    with monkeypatch.context() as m:
        m.setattr(inspect_module, "load_onnx", no_memory)
        report = dnnlik.validate(nested_bundle)
        assert ("onnx:unreadable", "model.onnx") in [(p.code, p.location) for p in report.errors]
    with monkeypatch.context() as m:
        m.setattr(inspect_module, "parse_document", no_memory)
        assert "json:too-large" in _codes(dnnlik.validate(nested_bundle))
    with monkeypatch.context() as m:
        m.setattr(source_module.DirectorySource, "scan", no_memory)
        assert "archive:unreadable" in _codes(dnnlik.validate(nested_bundle))


def test_the_model_limit_is_checked_before_reading(
    gaussian_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = broken_catalog.by_name("folder-model-over-limit").build(gaussian_bundle, tmp_path)
    read: list[str] = []
    real = DirectorySource._open_member

    def spy(self: DirectorySource, name: str) -> tuple[int, int]:
        read.append(name)
        return real(self, name)

    monkeypatch.setattr(DirectorySource, "_open_member", spy)
    report = dnnlik.validate(target)
    (problem,) = [p for p in report.errors if p.code == "files:too-large"]
    assert problem.location == "model.onnx" and "512 MiB" in problem.message
    assert "model.onnx" not in read


# the worst cases, through the CLI, under a 4 GiB address-space limit -------------------


ADDRESS_SPACE = 4 * GiB


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def _validate_limited(path: Path, tmp_path: Path) -> tuple[int, str, float, int]:
    """Exit status, output, wall seconds and peak resident KiB of ``dnnlik validate path`` under the limit."""
    log = tmp_path / "validate.log"
    start = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dnnlik", "validate", str(path)],
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_limited,
        )
        try:
            _, status, usage = os.wait4(proc.pid, 0)  # this child's own usage, not every child's
        finally:
            proc.returncode = 0
    seconds = time.monotonic() - start
    code = os.waitstatus_to_exitcode(status)
    text = log.read_text()
    print(f"{path.name}: exit {code}, {seconds:.1f} s, peak RSS {usage.ru_maxrss / 1024:.0f} MiB")
    return code, text, seconds, usage.ru_maxrss


@pytest.fixture(scope="session")
def two_gib_bomb(gaussian_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A zip whose listed data.bin declares 4 KiB (CRC and digest of those) and inflates to 2 GiB (a 2 MiB file)."""
    declared = 4096
    entry = RawEntry("data.bin", deflate_zeros(b"", 2 * GiB), 8, zlib.crc32(bytes(declared)), declared)
    return bundle_with_raw_entry(
        gaussian_bundle,
        tmp_path_factory.mktemp("bomb") / "bomb.zip",
        entry,
        listed=(declared, hashlib.sha256(bytes(declared)).hexdigest()),
    )


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS semantics")
def test_cli_on_a_two_gib_lying_zip_bomb_under_4_gib(two_gib_bomb: Path, tmp_path: Path) -> None:
    code, text, _, rss = _validate_limited(two_gib_bomb, tmp_path)
    assert code == 1, text
    assert "[archive:size-mismatch]" in text and "data.bin" in text
    assert "Traceback" not in text and "MemoryError" not in text
    assert rss < GiB  # it never held the inflated stream


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS semantics")
def test_cli_on_a_folder_with_two_gib_sparse_files_under_4_gib(gaussian_bundle: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(gaussian_bundle, bundle)
    size = 2 * GiB
    sparse_file(bundle / "listed.bin", size)
    sparse_file(bundle / "unlisted.bin", size)
    doc = read_document(gaussian_bundle)
    doc["files"].append({"path": "listed.bin", "sha256": "0" * 64, "size": size, "role": "other"})
    (bundle / "bundle.json").write_bytes(dump_document(restamp(doc)))
    zeros = hashlib.sha256()
    block = bytes(MiB)
    for _ in range(size // MiB):
        zeros.update(block)

    code, text, _, rss = _validate_limited(bundle, tmp_path)

    assert code == 1, text
    assert "[files:unlisted]" in text and "unlisted.bin" in text
    assert "[files:digest-mismatch]" in text and zeros.hexdigest() in text  # hashed to the end, as a stream
    assert "Traceback" not in text and "MemoryError" not in text
    assert rss < GiB


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS semantics")
def test_cli_on_a_spec_legal_two_gib_zip_entry_under_4_gib(gaussian_bundle: Path, tmp_path: Path) -> None:
    size = 2 * GiB - MiB  # within the 2 GiB limit; 8 KiB of noise per MiB keeps the ratio under 200
    block = content_of_noise_block(8192)
    digest = hashlib.sha256()
    crc = 0
    for _ in range(size // MiB):
        digest.update(block)
        crc = zlib.crc32(block, crc)
    entry = RawEntry("data.bin", deflate_zeros(b"", size, noise=8192), 8, crc, size)
    bundle = bundle_with_raw_entry(gaussian_bundle, tmp_path / "legal.zip", entry, listed=(size, digest.hexdigest()))
    assert size / bundle.stat().st_size < 200

    code, text, _, rss = _validate_limited(bundle, tmp_path)

    assert code == 0, text
    assert "valid" in text and "Traceback" not in text
    assert rss < GiB
