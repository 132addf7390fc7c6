"""Broken-bundle catalog entries of one hostile-input class (issue 12): archive.

Imported at the end of tests/broken_catalog.py; each entry registers itself with
:func:`broken_catalog.broken` exactly like the entries there.

The class: reading a folder or a zip must stay bounded in memory and never
return bytes the scan did not see. Zips whose headers lie about sizes (a
stream that inflates past, or short of, its declared size; a local header
that disagrees with the central directory; entries sharing their bytes; a
central directory too large to parse), and files too large to read (a model
over the reader's 512 MiB limit, any file over 2 GiB, a bundle over 8 GiB:
sparse files, so they cost no disk). Races between scanning a folder and
reading it cannot be staged by a builder; tests/test_bundle_source_hostile.py
stages them deterministically.

The zips here are written byte by byte by :func:`write_raw_zip` (the zipfile
module refuses to write lies), and the large deflate streams are built
cheaply by :func:`deflate_zeros`.
"""

from __future__ import annotations

import hashlib
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from broken_catalog import broken, copy_of, model_bytes, read_document, restamp

from dnnlik.bundle.write import dump_document

__all__ = ["RawEntry", "write_raw_zip", "deflate_zeros", "bundle_with_raw_entry", "sparse_file", "nested_folders"]

MiB = 1024 * 1024
GiB = 1024 * MiB


# helpers -------------------------------------------------------------------------


@dataclass
class RawEntry:
    """One zip entry as written: ``stream`` is stored as is; the headers say what the fields say.

    ``local`` overrides fields of the local header only (``name``, ``crc``,
    ``csize``, ``usize``, ``method``): a header that disagrees with the
    central directory.
    """

    name: str
    stream: bytes
    method: int
    crc: int
    size: int
    local: dict[str, Any] = field(default_factory=dict)


def _local_header(name: bytes, method: int, crc: int, csize: int, usize: int) -> bytes:
    return (
        struct.pack("<4s2B4HL2L2H", b"PK\x03\x04", 20, 0, 0x800, method, 0, 0x21, crc, csize, usize, len(name), 0)
        + name
    )


def write_raw_zip(
    out: Path, entries: list[RawEntry], *, central_size: int | None = None, entry_count: int | None = None
) -> Path:
    """A zip written by hand, so that its headers can say anything."""
    offsets = []
    with open(out, "wb") as f:
        for e in entries:
            offsets.append(f.tell())
            name = e.local.get("name", e.name).encode()
            f.write(
                _local_header(
                    name,
                    e.local.get("method", e.method),
                    e.local.get("crc", e.crc),
                    e.local.get("csize", len(e.stream)),
                    e.local.get("usize", e.size),
                )
            )
            f.write(e.stream)
        start = f.tell()
        for e, off in zip(entries, offsets, strict=True):
            f.write(_central_header(e, off, len(e.stream)))
        size = f.tell() - start
        n = len(entries) if entry_count is None else entry_count
        f.write(
            struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, n, n, size if central_size is None else central_size, start, 0)
        )
    return out


def _central_header(e: Any, offset: int, compressed_size: int) -> bytes:
    """The central-directory record of entry ``e`` (a regular file, mode 0644, UTF-8 name) at ``offset``."""
    name = e.name.encode()
    fixed = struct.pack(
        "<4s4B4HL2L5H2L", b"PK\x01\x02", 20, 3, 20, 0, 0x800, e.method, 0, 0x21, e.crc, compressed_size, e.size,
        len(name), 0, 0, 0, 0, 0o100644 << 16, offset,
    )  # fmt: skip
    return fixed + name


def deflate_zeros(prefix: bytes, zeros: int, *, noise: int = 0) -> bytes:
    """A raw deflate stream of ``prefix`` followed by ``zeros`` zero bytes, built in O(output) time.

    Each MiB is compressed after a full flush, so every MiB block has the same
    compressed form: it is computed once and repeated. With ``noise`` > 0,
    each MiB starts with that many pseudo-random bytes (the same in every
    MiB), which bounds the compression ratio (``zeros`` is then the size of
    the content after the prefix, noise included).
    """
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    parts = [c.compress(prefix), c.flush(zlib.Z_FULL_FLUSH)]
    whole, rest = divmod(zeros, MiB)
    if whole:
        block = _noise(noise) + bytes(MiB - noise)
        first = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
        if whole > 1:
            second = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
            third = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
            assert second == third, "a full flush should make every block compress alike"
            parts += [first, second * (whole - 1)]
        else:
            parts.append(first)
    tail = (_noise(noise) + bytes(MiB))[:rest] if rest else b""
    parts += [c.compress(tail), c.flush()]
    return b"".join(parts)


def _noise(n: int) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(counter.to_bytes(8, "little")).digest()
        counter += 1
    return bytes(out[:n])


def content_of_noise_block(noise: int) -> bytes:
    """One MiB of what :func:`deflate_zeros` repeats with ``noise``."""
    return _noise(noise) + bytes(MiB - noise)


def bundle_with_raw_entry(
    valid: Path, out: Path, entry: RawEntry, *, listed: tuple[int, str] | None = None, extra: list[RawEntry] = ()
) -> Path:
    """The valid bundle as a hand-written zip, plus ``entry``.

    ``entry`` is listed in bundle.json with ``listed`` = (size, sha256)."""
    doc = read_document(valid)
    if listed is not None:
        doc["files"].append({"path": entry.name, "sha256": listed[1], "size": listed[0], "role": "other"})
        doc = restamp(doc)
    entries = [_deflated_entry("bundle.json", dump_document(doc)), _deflated_entry("model.onnx", model_bytes(valid))]
    entries = [e for e in entries if e.name != entry.name] + [entry, *extra]
    return write_raw_zip(out, entries)


def _deflated_entry(name: str, data: bytes) -> RawEntry:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return RawEntry(name, c.compress(data) + c.flush(), 8, zlib.crc32(data), len(data))


def sparse_file(path: Path, size: int) -> Path:
    """A file of ``size`` zero bytes that uses no disk (a hole)."""
    with open(path, "wb") as f:
        f.truncate(size)
    return path


def _listed_sparse(valid: Path, tmp: Path, name: str, size: int, *, digest: str | None = None) -> Path:
    dest = copy_of(valid, tmp)
    sparse_file(dest / name, size)
    doc = read_document(valid)
    if name == "model.onnx":
        (entry,) = [f for f in doc["files"] if f["path"] == name]
        entry["size"] = size
        entry["sha256"] = digest or "0" * 64
    else:
        doc["files"].append({"path": name, "sha256": digest or "0" * 64, "size": size, "role": "other"})
    (dest / "bundle.json").write_bytes(dump_document(restamp(doc)))
    return dest


# zips whose stream says more, or less, than their headers ------------------------------


@broken("zip-lying-size-bomb", "archive:size-mismatch")
def _zip_lying_bomb(valid: Path, tmp: Path) -> Path:
    """A listed data.bin whose headers declare 4 KiB (with that prefix's CRC) but whose stream inflates to 256 MiB."""
    declared = 4096
    entry = RawEntry("data.bin", deflate_zeros(b"", 256 * MiB), 8, zlib.crc32(bytes(declared)), declared)
    return bundle_with_raw_entry(
        valid, tmp / "bundle.zip", entry, listed=(declared, hashlib.sha256(bytes(declared)).hexdigest())
    )


@broken("zip-lying-size-model-tail", "archive:size-mismatch")
def _zip_lying_model(valid: Path, tmp: Path) -> Path:
    """model.onnx's stream holds the real model (its size and CRC declared) and then 64 MiB of zeros.

    A reader that trusts the declared size sees a valid model and never notices the tail.
    """
    data = model_bytes(valid)
    entry = RawEntry("model.onnx", deflate_zeros(data, 64 * MiB), 8, zlib.crc32(data), len(data))
    return bundle_with_raw_entry(valid, tmp / "bundle.zip", entry)


@broken("zip-lying-size-document", "archive:size-mismatch")
def _zip_lying_document(valid: Path, tmp: Path) -> Path:
    """bundle.json's stream goes on past its declared size (and CRC) with 32 MiB of zeros."""
    data = (valid / "bundle.json").read_bytes()
    entry = RawEntry("bundle.json", deflate_zeros(data, 32 * MiB), 8, zlib.crc32(data), len(data))
    return bundle_with_raw_entry(valid, tmp / "bundle.zip", entry)


@broken("zip-lying-size-wrong-crc", "files:unreadable")
def _zip_lying_bad_crc(valid: Path, tmp: Path) -> Path:
    """As zip-lying-size-bomb, but the CRC is that of the whole stream.

    A corrupt entry, read no further than declared."""
    declared = 4096
    entry = RawEntry("data.bin", deflate_zeros(b"", 64 * MiB), 8, zlib.crc32(bytes(64 * MiB)), declared)
    return bundle_with_raw_entry(
        valid, tmp / "bundle.zip", entry, listed=(declared, hashlib.sha256(bytes(declared)).hexdigest())
    )


@broken("zip-stream-shorter-than-declared", "archive:size-mismatch")
def _zip_short_stream(valid: Path, tmp: Path) -> Path:
    """A listed data.bin declared as 1 MiB whose stream ends after 512 KiB (CRC and listing of what is there)."""
    body = bytes(512 * 1024)
    entry = RawEntry("data.bin", deflate_zeros(b"", len(body)), 8, zlib.crc32(body), MiB)
    return bundle_with_raw_entry(valid, tmp / "bundle.zip", entry, listed=(MiB, hashlib.sha256(body).hexdigest()))


@broken("zip-stored-longer-than-declared", "archive:size-mismatch")
def _zip_stored_long(valid: Path, tmp: Path) -> Path:
    """A stored (uncompressed) model.onnx entry holding 1 MiB more than the size its headers declare."""
    data = model_bytes(valid)
    entry = RawEntry("model.onnx", data + bytes(MiB), 0, zlib.crc32(data), len(data))
    return bundle_with_raw_entry(valid, tmp / "bundle.zip", entry)


@broken("zip-local-header-lies", "archive:header-mismatch")
def _zip_local_lies(valid: Path, tmp: Path) -> Path:
    """model.onnx's local header declares another size than its central directory entry."""
    data = model_bytes(valid)
    entry = _deflated_entry("model.onnx", data)
    entry.local = {"usize": len(data) + 1000}
    return bundle_with_raw_entry(valid, tmp / "bundle.zip", entry)


@broken("zip-local-name-differs", "archive:header-mismatch")
def _zip_local_name(valid: Path, tmp: Path) -> Path:
    """An entry named notes.txt in the central directory and ../notes.txt in its local header."""
    entry = _deflated_entry("notes.txt", b"hello\n")
    entry.local = {"name": "../notes.txt"}
    return bundle_with_raw_entry(valid, tmp / "bundle.zip", entry)


@broken("zip-overlapping-entries", "archive:overlap")
def _zip_overlap(valid: Path, tmp: Path) -> Path:
    """Two entries sharing their compressed bytes (the overlapping-file zip bomb, in small)."""
    inner_data = bytes(64 * 1024)
    inner = _deflated_entry("inner.bin", inner_data)
    # outer's stream: a stored deflate block quoting inner's local header, then inner's stream
    inner_header = _local_header(b"inner.bin", 8, inner.crc, len(inner.stream), inner.size)
    quoted = b"\x00" + struct.pack("<HH", len(inner_header), 0xFFFF ^ len(inner_header)) + inner_header
    outer_data = inner_header + inner_data
    outer = RawEntry("outer.bin", quoted, 8, zlib.crc32(outer_data), len(outer_data))
    # outer's data run on through inner's local header and stream: written by hand
    doc_entries = [
        _deflated_entry("bundle.json", (valid / "bundle.json").read_bytes()),
        _deflated_entry("model.onnx", model_bytes(valid)),
    ]
    out = tmp / "bundle.zip"
    offsets = []
    with open(out, "wb") as f:
        for e in doc_entries:
            offsets.append(f.tell())
            f.write(_local_header(e.name.encode(), e.method, e.crc, len(e.stream), e.size) + e.stream)
        outer_off = f.tell()
        f.write(_local_header(b"outer.bin", 8, outer.crc, len(quoted) + len(inner.stream), outer.size))
        f.write(quoted[: len(quoted) - len(inner_header)])
        inner_off = f.tell()
        f.write(inner_header + inner.stream)
        start = f.tell()
        rows = [(e, off, len(e.stream)) for e, off in zip(doc_entries, offsets, strict=True)]
        rows += [(outer, outer_off, len(quoted) + len(inner.stream)), (inner, inner_off, len(inner.stream))]
        for e, off, csize in rows:
            f.write(_central_header(e, off, csize))
        size = f.tell() - start
        f.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(rows), len(rows), size, start, 0))
    return out


@broken("zip-huge-central-directory", "archive:unreadable")
def _zip_huge_directory(valid: Path, tmp: Path) -> Path:
    """An end record claiming a central directory of 1 GiB (it must not be read)."""
    entries = [
        _deflated_entry("bundle.json", (valid / "bundle.json").read_bytes()),
        _deflated_entry("model.onnx", model_bytes(valid)),
    ]
    return write_raw_zip(tmp / "bundle.zip", entries, central_size=GiB - 1)


@broken("zip-too-many-entries-declared", "archive:unreadable")
def _zip_many_entries(valid: Path, tmp: Path) -> Path:
    """An end record claiming 65 535 entries, more than the 10 000 allowed (refused before parsing)."""
    entries = [
        _deflated_entry("bundle.json", (valid / "bundle.json").read_bytes()),
        _deflated_entry("model.onnx", model_bytes(valid)),
    ]
    return write_raw_zip(tmp / "bundle.zip", entries, entry_count=65535)


@broken("zip-model-declared-over-limit", "files:too-large")
def _zip_model_too_large(valid: Path, tmp: Path) -> Path:
    """model.onnx declared as 600 MiB (not a zip-bomb ratio: 4 MiB compressed); refused before inflating."""
    declared = 600 * MiB
    filler = os.urandom(4 * MiB)
    entry = RawEntry("model.onnx", filler, 8, 0, declared)
    doc = read_document(valid)
    (listed,) = [f for f in doc["files"] if f["path"] == "model.onnx"]
    listed["size"] = declared
    entries = [_deflated_entry("bundle.json", dump_document(restamp(doc))), entry]
    return write_raw_zip(tmp / "bundle.zip", entries)


# folders too large to read -------------------------------------------------------


@broken("folder-model-over-limit", "files:too-large")
def _folder_model_too_large(valid: Path, tmp: Path) -> Path:
    """model.onnx a 1.5 GiB sparse file, listed with that size: over the 512 MiB model limit, never read."""
    return _listed_sparse(valid, tmp, "model.onnx", 3 * GiB // 2)


@broken("folder-listed-file-over-2gib", "files:too-large")
def _folder_file_too_large(valid: Path, tmp: Path) -> Path:
    """A listed data.bin one byte over 2 GiB (sparse): over the per-file limit, never read."""
    return _listed_sparse(valid, tmp, "data.bin", 2 * GiB + 1)


@broken("folder-over-8gib", "archive:unreadable")
def _folder_total_too_large(valid: Path, tmp: Path) -> Path:
    """Five unlisted sparse files of 1.9 GiB each: 9.5 GiB of bundle, refused as a whole."""
    dest = copy_of(valid, tmp)
    for i in range(5):
        sparse_file(dest / f"part{i}.bin", 19 * GiB // 10)
    return dest


@broken("folder-nested-too-deep", "archive:too-deep")
def _folder_too_deep(valid: Path, tmp: Path) -> Path:
    """Folders nested 130 deep (the limit is 128; a 255-character bundle path reaches 127)."""
    dest = copy_of(valid, tmp)
    nested_folders(dest, 130)
    return dest


def nested_folders(root: Path, depth: int, name: str = "d") -> None:
    """``depth`` folders one inside the other under ``root``, a file deep.txt in the last."""
    fd = os.open(root, os.O_RDONLY)
    try:
        for _ in range(depth):  # relative to descriptors: a full path could pass PATH_MAX
            os.mkdir(name, dir_fd=fd)
            sub = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = sub
        os.close(os.open("deep.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
    finally:
        os.close(fd)


@broken("folder-control-character-name", "archive:unsafe-path")
def _folder_newline_name(valid: Path, tmp: Path) -> Path:
    """A file whose name holds a newline (it would break every one-line report)."""
    dest = copy_of(valid, tmp)
    (dest / "notes\n[ok] model.onnx").write_text("hello\n")
    return dest


@broken("folder-name-not-utf8", "archive:unsafe-path")
def _folder_bad_bytes_name(valid: Path, tmp: Path) -> Path:
    """A file whose name is not UTF-8 (byte 0xff)."""
    dest = copy_of(valid, tmp)
    with open(os.path.join(os.fsencode(dest), b"notes\xff.txt"), "wb") as f:
        f.write(b"hello\n")
    return dest
