"""Read the files of a bundle, from a folder or a ``.zip``, safely.

Nothing is extracted to disk and nothing outside the bundle is ever read:

- links are refused (a folder's symbolic links are not followed, a zip's
  link entries are not read), as are special files, and names that cannot be
  shown on one line (control characters, bytes that are not UTF-8);
- a folder is opened once, and every later step works relative to that open
  folder: the scan and every read open each sub-folder and file relative to
  the descriptor of its parent, one path component at a time, never following
  a link (``O_NOFOLLOW``) and never blocking on a special file
  (``O_NONBLOCK``); a file is read only if it is still the regular file the
  scan saw (same device, inode and size; a file deleted and recreated under
  the same inode number is the only thing that passes, and its bytes were
  written inside the bundle). A sub-folder swapped for a link, or
  a file replaced, grown or shrunk between the scan and the read is refused
  (``archive:changed``), so a race cannot make the reader return bytes from
  outside the bundle;
- zip entry names that are absolute, contain ``..`` or backslashes, repeat,
  or are encrypted are refused, as are entries whose local header disagrees
  with the central directory (name, method, sizes, CRC) and entries whose
  data overlap (``archive:header-mismatch``, ``archive:overlap``);
- a zip entry is decompressed here, not by :mod:`zipfile`, as a stream in
  chunks of at most :data:`CHUNK_BYTES`: the size its central directory
  declares is a hard cap, never exceeded, and a stream that inflates to more
  (or fewer) bytes than declared is refused (``archive:size-mismatch``).

Limits (the spec's safety rules):

- ``bundle.json``: :data:`MAX_DOCUMENT_BYTES` (16 MiB);
- the ONNX model, the only other file read whole into memory:
  :data:`MAX_MODEL_BYTES` (512 MiB), refused before any byte is read
  (``files:too-large``). Checking and loading a model takes about five times
  its size (the bytes, the parsed protobuf, the checker's copy, the runtime's
  copies): measured under a 4 GiB address-space limit (``ulimit -v
  4194304``), a valid 512 MiB model validates (peak resident memory 2.6 GiB),
  a valid 1 GiB model cannot;
- any other file: :data:`MAX_FILE_BYTES` (2 GiB, the protobuf limit), read
  only as a stream to compute its digest (memory used: one chunk);
- a bundle (folder or zip): at most :data:`MAX_ENTRIES` (10 000) entries,
  :data:`MAX_TOTAL_BYTES` (8 GiB) of files, and folders nested at most
  :data:`MAX_DEPTH` (128; a 255-character bundle path reaches 127) deep;
- a zip entry larger than 1 MiB may not expand more than
  :data:`MAX_COMPRESSION_RATIO` (200) fold (``archive:zip-bomb``), and the
  central directory may not exceed :data:`MAX_CENTRAL_DIRECTORY_BYTES`
  (16 MiB), checked before it is parsed.

A source holds an open descriptor (the folder, or the zip file) from the scan
until :meth:`close`; use it as a context manager, or let it be garbage
collected (a finalizer closes the descriptor).

Problems found while scanning are collected in ``problems``; problems found
while reading raise :class:`SourceError` (a :class:`BundleError`) whose
``code`` names the problem, or is None when the caller's code applies. Only a
path that is neither a folder nor a zip makes :func:`open_source` raise.
"""

from __future__ import annotations

import bz2
import errno
import os
import stat
import struct
import weakref
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from ..digest import sha256_chunks
from ..errors import BundleError
from ..report import Problem, one_line

__all__ = [
    "DOCUMENT_NAME",
    "MAX_DOCUMENT_BYTES",
    "MAX_MODEL_BYTES",
    "MAX_FILE_BYTES",
    "MAX_TOTAL_BYTES",
    "MAX_ENTRIES",
    "MAX_DEPTH",
    "BundleSource",
    "SourceError",
    "TooLargeError",
    "ChangedError",
    "SizeMismatchError",
    "open_source",
]

DOCUMENT_NAME = "bundle.json"
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
MAX_MODEL_BYTES = 512 * 1024**2  # read whole (the runtime needs the bytes); checking and loading take ~5x
MAX_FILE_BYTES = 2 * 1024**3  # ONNX protobufs cannot be larger; other files are only streamed
MAX_TOTAL_BYTES = 8 * 1024**3
MAX_COMPRESSION_RATIO = 200
MAX_ENTRIES = 10000
MAX_DEPTH = 128  # folders; a bundle path has at most 255 characters, so at most 127 folders
MAX_CENTRAL_DIRECTORY_BYTES = 16 * 1024 * 1024
CHUNK_BYTES = 1 << 20  # the most a stream hands over (or inflates) at once
_INPUT_BYTES = 64 * 1024  # compressed bytes fed to a decompressor at once

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_FILE_FLAGS = os.O_RDONLY | _O_NOFOLLOW | _O_NONBLOCK | _O_CLOEXEC
_DIR_FLAGS = _FILE_FLAGS | _O_DIRECTORY


class BundleSource(Protocol):
    """The regular files of one bundle, by relative POSIX path, with their sizes."""

    display: str
    files: dict[str, int]
    problems: list[Problem]

    def read(self, name: str, limit: int | None = None) -> bytes:
        """The whole file ``name``; :class:`TooLargeError` beyond ``limit`` bytes (refused before reading)."""
        ...

    def chunks(self, name: str, limit: int = MAX_FILE_BYTES) -> Iterator[bytes]:
        """The file ``name`` in pieces (memory holds one), refused beyond ``limit`` bytes."""
        ...

    def sha256(self, name: str, limit: int = MAX_FILE_BYTES) -> str:
        """The SHA-256 of the file ``name`` (hex), read as a stream."""
        ...

    def close(self) -> None:
        """Release the folder or zip."""
        ...

    def __enter__(self) -> BundleSource: ...

    def __exit__(self, *exc: object) -> None: ...


class SourceError(BundleError):
    """A file of the bundle cannot be read; ``code`` is the problem code (None: the caller's)."""

    code: str | None = None

    def __init__(self, message: str, *, where: str | None = None, code: str | None = None) -> None:
        super().__init__(message, where=where)
        if code is not None:
            self.code = code


class TooLargeError(SourceError):
    """A file of the bundle is larger than the reader allows."""

    code = "files:too-large"


class ChangedError(SourceError):
    """A file or folder of the bundle changed between the scan and the read."""

    code = "archive:changed"


class SizeMismatchError(SourceError):
    """A zip entry's stream holds more, or fewer, bytes than its headers declare."""

    code = "archive:size-mismatch"


def _size_text(n: int) -> str:
    if n >= 1024**3 and n % 1024**3 == 0:
        return f"{n // 1024**3} GiB"
    if n >= 1024**2:
        return f"{n // 1024**2} MiB" if n % 1024**2 == 0 else f"{n / 1024**2:.1f} MiB"
    return f"{n} bytes"


def _too_large(name: str, size: int, limit: int) -> TooLargeError:
    return TooLargeError(f"has {size} bytes, more than the {_size_text(limit)} a reader allows; not read", where=name)


def _shown(name: str) -> str:
    """``name`` as it can be printed on one line (escapes where it is not plain text)."""
    if name.isprintable():
        try:
            name.encode("utf-8")
            return name
        except UnicodeEncodeError:  # surrogate-escaped bytes that are not UTF-8
            pass
    return ascii(name)[1:-1]


def _unprintable(name: str) -> str | None:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid UTF-8"
    if not name.isprintable():
        return "contains a control or non-printable character"
    return None


class _Source:
    """What folder and zip sources share: the listing, the limits, the streaming helpers."""

    display: str
    files: dict[str, int]
    problems: list[Problem]
    _finalizer: Any

    def _member_chunks(self, name: str) -> Iterator[bytes]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _check(self, name: str, limit: int) -> int:
        if self._finalizer is not None and not self._finalizer.alive:
            raise SourceError("cannot be read: the bundle was closed", where=name)
        if name not in self.files:
            raise SourceError("no such file in the bundle", where=name)
        size = self.files[name]
        if size > limit:
            raise _too_large(name, size, limit)
        return size

    def chunks(self, name: str, limit: int = MAX_FILE_BYTES) -> Iterator[bytes]:
        """The bytes of ``name`` in chunks of at most :data:`CHUNK_BYTES`, never more than its scanned size.

        Refused before anything is read when that size exceeds ``limit``; the
        checks that the bytes are what the scan saw end the iteration (or
        raise :class:`SourceError`).
        """
        self._check(name, limit)
        return self._member_chunks(name)

    def sha256(self, name: str, limit: int = MAX_FILE_BYTES) -> str:
        """Hex SHA-256 of ``name``, computed as a stream (memory: one chunk)."""
        return sha256_chunks(self.chunks(name, limit))[0]

    def read(self, name: str, limit: int | None = None) -> bytes:
        """The whole of ``name`` in memory; refused before reading when larger than ``limit``.

        The default limit is :data:`MAX_DOCUMENT_BYTES` for ``bundle.json``,
        :data:`MAX_FILE_BYTES` for any other file.
        """
        if limit is None:
            limit = MAX_DOCUMENT_BYTES if name == DOCUMENT_NAME else MAX_FILE_BYTES
        size = self._check(name, limit)
        return self._read_whole(name, size)

    def _read_whole(self, name: str, size: int) -> bytes:
        parts = list(self._member_chunks(name))
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def close(self) -> None:
        """Close the descriptor held since the scan (idempotent)."""
        if self._finalizer is not None:
            self._finalizer()

    def __enter__(self) -> _Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# Folders ------------------------------------------------------------------------


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


class DirectorySource(_Source):
    """A bundle folder, read through a descriptor of its root held from the scan."""

    def __init__(self, root_fd: int, root: Path, display: str) -> None:
        self.root = root  # for messages only: nothing is opened by path after the root
        self.display = display
        self.files: dict[str, int] = {}
        self.problems: list[Problem] = []
        self._ids: dict[str, tuple[int, int]] = {}
        self._fd = root_fd
        self._entries = 0
        self._total = 0
        self._finalizer = weakref.finalize(self, os.close, root_fd)

    # scan

    def scan(self) -> DirectorySource:
        self._walk(self._fd, "", 0)
        return self

    def _unreadable(self, rel: str, exc: OSError) -> None:
        self.problems.append(
            Problem("archive:unreadable", f"cannot be examined ({exc.strerror or one_line(exc)})", rel or ".")
        )

    def _walk(self, dir_fd: int, prefix: str, depth: int) -> None:
        try:
            names: list[str] = []
            with os.scandir(dir_fd) as it:
                for entry in it:
                    self._entries += 1
                    if self._entries > MAX_ENTRIES:
                        raise BundleError(f"holds more than the {MAX_ENTRIES} entries allowed", where=self.display)
                    names.append(entry.name)
        except OSError as exc:
            self._unreadable(prefix.rstrip("/"), exc)
            return
        for name in sorted(names):
            rel = prefix + name
            bad = _unprintable(name)
            if bad:
                self.problems.append(
                    Problem("archive:unsafe-path", f"the name '{_shown(rel)}' {bad}; refused", _shown(rel))
                )
                continue
            try:
                st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except OSError as exc:  # unreadable, or removed since it was listed
                self._unreadable(rel, exc)
                continue
            if stat.S_ISLNK(st.st_mode):
                self.problems.append(Problem("archive:link", self._link_message(dir_fd, name, rel), rel))
            elif stat.S_ISREG(st.st_mode):
                self.files[rel] = st.st_size
                self._ids[rel] = (st.st_dev, st.st_ino)
                self._total += st.st_size
                if self._total > MAX_TOTAL_BYTES:
                    raise BundleError(
                        f"holds more than the {_size_text(MAX_TOTAL_BYTES)} of files allowed", where=self.display
                    )
            elif stat.S_ISDIR(st.st_mode):
                if depth + 1 > MAX_DEPTH:
                    self.problems.append(
                        Problem(
                            "archive:too-deep",
                            f"folders nest more than {MAX_DEPTH} deep here (deeper than a "
                            "bundle path can reach); not read",
                            rel,
                        )
                    )
                    continue
                self._walk_into(dir_fd, name, rel, st, depth)
            else:
                self.problems.append(Problem("archive:special-file", "is not a regular file", rel))

    def _walk_into(self, dir_fd: int, name: str, rel: str, st: os.stat_result, depth: int) -> None:
        try:
            sub = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                self.problems.append(
                    Problem("archive:changed", "was replaced while the bundle was scanned; refused", rel)
                )
            else:
                self._unreadable(rel, exc)
            return
        try:
            if not _same_file(st, os.fstat(sub)):
                self.problems.append(
                    Problem("archive:changed", "was replaced while the bundle was scanned; refused", rel)
                )
                return
            self._walk(sub, rel + "/", depth + 1)
        finally:
            os.close(sub)

    def _link_message(self, dir_fd: int, name: str, rel: str) -> str:
        try:
            link = os.readlink(name, dir_fd=dir_fd)
        except OSError:
            return "is a symbolic link; bundles may not contain links"
        # Resolved as a string, for the message only: the link itself is never followed.
        root_real = os.path.realpath(self.root)
        target = os.path.realpath(os.path.join(self.root, rel))
        inside = os.path.commonpath([root_real, target]) == root_real
        where = "inside" if inside else "outside"
        return f"is a symbolic link to {_shown(link)!r} ({where} the bundle); bundles may not contain links"

    # read

    def _open_member(self, name: str) -> tuple[int, int]:
        """A descriptor of ``name``, opened component by component from the root, and its size.

        Raises :class:`ChangedError` unless it is still the regular file the scan saw.
        """
        parts = name.split("/")
        dir_fd = self._fd
        opened: list[int] = []
        try:
            for part in parts[:-1]:
                dir_fd = os.open(part, _DIR_FLAGS, dir_fd=dir_fd)
                opened.append(dir_fd)
            fd = os.open(parts[-1], _FILE_FLAGS, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENOENT, errno.EMLINK):
                # a folder on its path, or the file, became a link or vanished since the scan
                raise ChangedError(
                    "changed since the bundle was scanned (a folder on its path or the file itself was "
                    "replaced, moved or made a link); refused",
                    where=name,
                ) from None
            raise SourceError(f"cannot be read ({exc.strerror or one_line(exc)})", where=name) from None
        finally:
            for d in opened:
                os.close(d)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                now = "is no longer a regular file"
            elif (st.st_dev, st.st_ino) != self._ids[name]:
                now = "was replaced by another file"
            elif st.st_size != self.files[name]:
                now = f"now has {st.st_size} bytes, {self.files[name]} when scanned"
            else:
                now = ""
            if now:
                raise ChangedError(f"changed since the bundle was scanned: it {now}; refused", where=name)
        except BaseException:
            os.close(fd)
            raise
        return fd, st.st_size

    def _member_chunks(self, name: str) -> Iterator[bytes]:
        fd, size = self._open_member(name)
        with os.fdopen(fd, "rb", buffering=0) as f:
            left = size
            while left:
                chunk = self._read_os(f, name, min(CHUNK_BYTES, left))
                if not chunk:
                    raise ChangedError(
                        f"shrank to {size - left} bytes while being read (scanned: {size}); refused", where=name
                    )
                left -= len(chunk)
                yield chunk
            self._check_end(f, name, size)

    def _read_whole(self, name: str, size: int) -> bytes:
        fd, size = self._open_member(name)
        with os.fdopen(fd, "rb", buffering=0) as f:
            data = self._read_os(f, name, size) if size else b""  # one allocation of the exact size
            while len(data) < size:  # a short read (rare): append the rest
                more = self._read_os(f, name, size - len(data))
                if not more:
                    raise ChangedError(
                        f"shrank to {len(data)} bytes while being read (scanned: {size}); refused", where=name
                    )
                data += more
            self._check_end(f, name, size)
        return data

    @staticmethod
    def _read_os(f: BinaryIO, name: str, n: int) -> bytes:
        try:
            return f.read(n) or b""
        except OSError as exc:
            raise SourceError(f"cannot be read ({exc.strerror or one_line(exc)})", where=name) from None

    def _check_end(self, f: BinaryIO, name: str, size: int) -> None:
        if self._read_os(f, name, 1):
            raise ChangedError(f"grew past the {size} bytes it had when the bundle was scanned; refused", where=name)


# Zips ---------------------------------------------------------------------------

# What a corrupt or crafted zip makes the zipfile module raise (besides BadZipFile):
# truncated or lying headers, unknown zip versions, undecodable names.
try:
    import lzma

    _LZMA_ERRORS: tuple[type[Exception], ...] = (lzma.LZMAError,)
except ImportError:  # Python built without lzma: such entries cannot be read
    lzma = None  # type: ignore[assignment]
    _LZMA_ERRORS = ()
_ZIP_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile,
    OSError,
    EOFError,
    RuntimeError,
    ValueError,
    NotImplementedError,
    zlib.error,
    struct.error,
    OverflowError,
    *_LZMA_ERRORS,
)
_INFLATE_ERRORS: tuple[type[BaseException], ...] = (zlib.error, OSError, EOFError, ValueError, *_LZMA_ERRORS)
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_LOCAL_SIGNATURE = b"PK\x03\x04"
_ZIP64_MARK = 0xFFFFFFFF


class _Inflate:
    """zlib's raw-deflate decompressor with the ``needs_input``/``max_length`` interface of bz2 and lzma."""

    def __init__(self) -> None:
        self._d = zlib.decompressobj(-15)

    @property
    def eof(self) -> bool:
        return self._d.eof

    @property
    def needs_input(self) -> bool:
        return not self._d.unconsumed_tail

    def decompress(self, data: bytes, max_length: int) -> bytes:
        return self._d.decompress(self._d.unconsumed_tail + data, max_length)


class _ZipLzma:
    """A zip entry's LZMA stream: a 4-byte header and the properties, then raw LZMA1."""

    def __init__(self) -> None:
        self._head = b""
        self._d: Any = None

    @property
    def eof(self) -> bool:
        return self._d is not None and self._d.eof

    @property
    def needs_input(self) -> bool:
        return self._d is None or self._d.needs_input

    def decompress(self, data: bytes, max_length: int) -> bytes:
        if self._d is None:
            self._head += data
            if len(self._head) < 4:
                return b""
            (psize,) = struct.unpack("<H", self._head[2:4])
            if len(self._head) < 4 + psize:
                return b""
            self._d = lzma.LZMADecompressor(
                lzma.FORMAT_RAW,
                # the zip entry stores the LZMA1 properties in its header: stdlib's private parser, not in typeshed
                filters=[lzma._decode_filter_properties(lzma.FILTER_LZMA1, self._head[4 : 4 + psize])],  # type: ignore[attr-defined]
            )
            data, self._head = self._head[4 + psize :], b""
        return self._d.decompress(data, max_length)


def _decompressor(method: int, name: str) -> Any:
    if method == zipfile.ZIP_DEFLATED:
        return _Inflate()
    if method == zipfile.ZIP_BZIP2:
        return bz2.BZ2Decompressor()
    if method == zipfile.ZIP_LZMA and lzma is not None:
        return _ZipLzma()
    label = getattr(zipfile, "compressor_names", {}).get(method, "unknown")
    raise SourceError(
        f"uses compression method {method} ({label}), which this reader does not support "
        "(stored, deflate, bzip2 and lzma are)",
        where=name,
    )


class _Entry:
    """Where a zip entry's data lie and what its central directory declares."""

    __slots__ = ("raw", "data_offset", "compress_size", "file_size", "method", "crc")

    def __init__(self, info: zipfile.ZipInfo, data_offset: int) -> None:
        self.raw = info.filename
        self.data_offset = data_offset
        self.compress_size = info.compress_size
        self.file_size = info.file_size
        self.method = info.compress_type
        self.crc = info.CRC


class ZipSource(_Source):
    """A bundle zip, read through the file object held from the scan; entries inflated here, as streams."""

    def __init__(self, file: BinaryIO, path: Path, display: str) -> None:
        self.path = path
        self.display = display
        self.files: dict[str, int] = {}
        self.problems: list[Problem] = []
        self._file = file
        self._entries: dict[str, _Entry] = {}
        self._finalizer = weakref.finalize(self, file.close)

    # scan

    def _refuse(self, message: str) -> BundleError:
        return BundleError(message, where=self.display)

    def _precheck(self) -> None:
        """Refuse, before :mod:`zipfile` parses it, a central directory too large to hold in memory."""
        end_record = getattr(zipfile, "_EndRecData", None)
        if end_record is None:  # pragma: no cover - a future zipfile without it
            return
        try:
            endrec = end_record(self._file)
        except _ZIP_ERRORS as exc:
            raise self._refuse(f"not a readable zip file ({one_line(exc)})") from None
        if not endrec:
            raise self._refuse("not a readable zip file (no end of central directory record)")
        entries, size_cd = endrec[4], endrec[5]
        if entries > MAX_ENTRIES:
            raise self._refuse(f"zip declares {entries} entries, more than the {MAX_ENTRIES} allowed")
        if size_cd > MAX_CENTRAL_DIRECTORY_BYTES:
            raise self._refuse(
                f"zip declares a central directory of {size_cd} bytes, more than the "
                f"{_size_text(MAX_CENTRAL_DIRECTORY_BYTES)} allowed"
            )

    def scan(self) -> ZipSource:
        self._precheck()
        try:
            with zipfile.ZipFile(self._file) as zf:  # a file object passed in: closing the ZipFile leaves it open
                infos = zf.infolist()
                start_dir = zf.start_dir
        except _ZIP_ERRORS as exc:
            raise self._refuse(f"not a readable zip file ({one_line(exc)})") from None
        if len(infos) > MAX_ENTRIES:
            raise self._refuse(f"zip holds {len(infos)} entries, more than the {MAX_ENTRIES} allowed")
        spans = self._local_headers(infos, start_dir)
        overlapping = _overlapping(spans)
        prefix = _common_root(infos)
        total = 0
        for info in infos:
            raw = info.filename
            reason = _unsafe_name(raw)
            if reason:
                self.problems.append(
                    Problem("archive:unsafe-path", f"zip entry '{_shown(raw)}' {reason}; refused", _shown(raw))
                )
                continue
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                self.problems.append(Problem("archive:link", f"zip entry {raw!r} is a symbolic link; refused", raw))
                continue
            if info.is_dir():
                continue
            if info.flag_bits & 0x1:
                self.problems.append(Problem("archive:encrypted", f"zip entry {raw!r} is encrypted", raw))
                continue
            name = raw[len(prefix) :]
            if name in self.files or name in self._entries:
                self.problems.append(Problem("archive:duplicate", f"zip entry {raw!r} appears twice", raw))
                continue
            if info.file_size > 1 << 20 and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
                ratio = info.file_size // max(info.compress_size, 1)
                self.problems.append(Problem("archive:zip-bomb", f"zip entry {raw!r} expands {ratio}x; refused", raw))
                continue
            span = spans.get(id(info))
            if isinstance(span, Problem):
                self.problems.append(span)
                continue
            if span is None:  # pragma: no cover - every entry has a span or a problem
                continue
            if id(info) in overlapping:
                self.problems.append(
                    Problem(
                        "archive:overlap",
                        f"zip entry {raw!r} shares its bytes with another entry (a zip bomb?); refused",
                        raw,
                    )
                )
                continue
            if name.count("/") > MAX_DEPTH:
                self.problems.append(
                    Problem("archive:too-deep", f"zip entry {raw!r} nests more than {MAX_DEPTH} deep; refused", raw)
                )
                continue
            total += info.file_size
            self.files[name] = info.file_size
            self._entries[name] = _Entry(info, span[1])
        if total > MAX_TOTAL_BYTES:
            raise self._refuse(f"zip expands to {total} bytes, more than the {_size_text(MAX_TOTAL_BYTES)} allowed")
        return self

    def _local_headers(self, infos: list[zipfile.ZipInfo], start_dir: int) -> dict[int, Any]:
        """For each entry (by id): (header offset, data offset, data end), or the Problem its local header has."""
        out: dict[int, Any] = {}
        for info in infos:
            raw = info.filename
            try:
                out[id(info)] = self._local_header(info, start_dir)
            except _ZIP_ERRORS as exc:
                out[id(info)] = Problem(
                    "archive:header-mismatch",
                    f"zip entry '{_shown(raw)}' has an unreadable local header ({one_line(exc)})",
                    _shown(raw),
                )
            except _HeaderMismatch as exc:
                out[id(info)] = Problem(
                    "archive:header-mismatch", f"zip entry '{_shown(raw)}': {exc}; refused", _shown(raw)
                )
        return out

    def _local_header(self, info: zipfile.ZipInfo, start_dir: int) -> tuple[int, int, int]:
        f = self._file
        f.seek(info.header_offset)
        head = f.read(_LOCAL_HEADER.size)
        if len(head) != _LOCAL_HEADER.size:
            raise _HeaderMismatch("its local header lies beyond the end of the file")
        (sig, _, _, flags, method, _, _, crc, csize, usize, name_len, extra_len) = _LOCAL_HEADER.unpack(head)
        if sig != _LOCAL_SIGNATURE:
            raise _HeaderMismatch("the central directory points to something that is not a local header")
        fname = f.read(name_len)
        local_name = fname.decode("utf-8" if flags & 0x800 else "cp437")
        if local_name != info.orig_filename:
            raise _HeaderMismatch(f"its local header names it '{_shown(local_name)}'")
        if method != info.compress_type:
            raise _HeaderMismatch(
                f"its local header says compression method {method}, the central directory {info.compress_type}"
            )
        if not (flags & 0x8):  # no data descriptor: the local header carries the real sizes and CRC
            for label, local, central in (
                ("CRC", crc, info.CRC),
                ("compressed size", csize, info.compress_size),
                ("size", usize, info.file_size),
            ):
                if local != central and not (label != "CRC" and local == _ZIP64_MARK):
                    raise _HeaderMismatch(f"its local header declares {label} {local}, the central directory {central}")
        data_offset = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len
        data_end = data_offset + info.compress_size
        if data_end > start_dir:
            raise _HeaderMismatch(
                f"its {info.compress_size} compressed bytes run past the start of the central directory"
            )
        return info.header_offset, data_offset, data_end

    # read

    def _member_chunks(self, name: str) -> Iterator[bytes]:
        entry = self._entries[name]
        declared = entry.file_size
        verb = "holds" if entry.method == zipfile.ZIP_STORED else "inflates to"
        crc = 0
        produced = 0
        for chunk in self._inflate(entry, name):
            if produced + len(chunk) > declared:
                # A longer stream than declared: a header that lies consistently (the declared
                # CRC is that of the declared bytes) is a crafted entry; otherwise the data are corrupt.
                crc = zlib.crc32(chunk[: declared - produced], crc)
                raise self._mismatch(
                    name,
                    entry,
                    crc,
                    f"{verb} more than the {declared} bytes its zip headers declare; reading stopped there",
                )
            produced += len(chunk)
            crc = zlib.crc32(chunk, crc)
            yield chunk
        if produced < declared:
            raise self._mismatch(name, entry, crc, f"{verb} {produced} bytes, its zip headers declare {declared}")
        if crc != entry.crc:
            raise SourceError(
                f"fails its CRC-32 check (0x{crc:08x}, the zip says 0x{entry.crc:08x}): corrupt", where=name
            )

    @staticmethod
    def _mismatch(name: str, entry: _Entry, crc: int, what: str) -> SourceError:
        if crc == entry.crc:
            return SizeMismatchError(f"{what} (a lying header or a zip bomb); refused", where=name)
        return SourceError(f"{what}, and fails its CRC-32 check: corrupt", where=name)

    def _raw(self, entry: _Entry, name: str) -> Iterator[bytes]:
        """The entry's compressed bytes, in pieces of at most :data:`_INPUT_BYTES`."""
        offset, left = entry.data_offset, entry.compress_size
        while left:
            try:
                self._file.seek(offset)
                piece = self._file.read(min(_INPUT_BYTES, left))
            except (OSError, ValueError) as exc:
                raise SourceError(f"cannot be read from the zip ({one_line(exc)})", where=name) from None
            if not piece:
                raise SourceError("cannot be read from the zip: the file ends inside its data (truncated)", where=name)
            offset += len(piece)
            left -= len(piece)
            yield piece

    def _inflate(self, entry: _Entry, name: str) -> Iterator[bytes]:
        """The entry's bytes, never more than ``file_size + 1`` of them, in chunks of at most :data:`CHUNK_BYTES`."""
        cap = entry.file_size + 1  # one byte past the declared size proves the stream is longer
        if entry.method == zipfile.ZIP_STORED:
            produced = 0
            for piece in self._raw(entry, name):
                piece = piece[: cap - produced]
                produced += len(piece)
                yield piece
                if produced >= cap:
                    return
            return
        dec = _decompressor(entry.method, name)
        raw = self._raw(entry, name)
        produced = 0
        exhausted = False
        idle = 0  # calls in a row that got no new input and gave no output
        try:
            while not dec.eof and produced < cap:
                data = b""
                if dec.needs_input and not exhausted:
                    data = next(raw, b"")
                    exhausted = not data
                out = dec.decompress(data, min(CHUNK_BYTES, cap - produced))
                if out:
                    idle = 0
                    produced += len(out)
                    yield out
                elif not data:
                    idle += 1
                    if idle >= 3:
                        break  # no input left to give and no output coming: the stream is cut short
        except _INFLATE_ERRORS as exc:
            raise SourceError(f"cannot be decompressed: {one_line(exc)} (corrupt)", where=name) from None
        if produced < cap and not dec.eof:
            raise SourceError(
                "cannot be decompressed: its compressed stream ends early (truncated or corrupt)", where=name
            )


class _HeaderMismatch(Exception):
    """A zip entry's local header disagrees with the central directory."""


def _overlapping(spans: dict[int, Any]) -> set[int]:
    """Ids of entries whose header or data overlap those of another entry."""
    ranges = sorted((v[0], v[2], k) for k, v in spans.items() if isinstance(v, tuple))
    out: set[int] = set()
    reach, reach_id = -1, None
    for start, end, key in ranges:
        if start < reach:
            out.add(key)
            if reach_id is not None:
                out.add(reach_id)
        if end > reach:
            reach, reach_id = end, key
    return out


def _unsafe_name(name: str) -> str | None:
    if "\\" in name:
        return "contains a backslash"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "is an absolute path"
    if any(part in ("..", ".") for part in name.rstrip("/").split("/")):
        return "contains a '..' or '.' segment (path traversal)"
    if "\x00" in name:
        return "contains a NUL character"
    return _unprintable(name)


def _common_root(infos: list[zipfile.ZipInfo]) -> str:
    """'top/' when every entry lies in one folder that holds bundle.json, else ''."""
    names = [i.filename for i in infos]
    if DOCUMENT_NAME in names or not names:
        return ""
    first = names[0].split("/", 1)[0]
    prefix = first + "/"
    if all(n == prefix or n.startswith(prefix) for n in names) and prefix + DOCUMENT_NAME in names:
        return prefix
    return ""


# Opening ------------------------------------------------------------------------


def open_source(path: str | os.PathLike[str]) -> BundleSource:
    """Scan a bundle folder or zip; raise :class:`BundleError` when it is neither.

    The path is resolved and opened once (the bundle's own path may be a
    link; nothing inside it may); everything after works on that descriptor.

    Args:
        path: a bundle folder, or a ``.zip`` of one.

    Returns:
        The source: its ``files`` (relative path -> size), the ``problems`` the
        scan found (unsafe names, links, zip bombs...: those entries are left out),
        and ``read``/``chunks``/``sha256`` to read a file within limits. Close it
        (or use it as a context manager).

    Raises:
        BundleError: ``path`` is missing, not a folder nor a zip, cannot be opened,
            or changed while it was opened.
    """
    display = str(path)

    def cannot(exc: BaseException) -> BundleError:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else one_line(exc)
        return BundleError(f"cannot be opened ({reason})", where=display)

    try:
        p = Path(os.path.realpath(path))
        st = os.stat(p)  # stat first: a device or pipe is never opened
    except FileNotFoundError:
        if os.path.lexists(path):
            raise BundleError("is neither a bundle folder nor a .zip of one (a broken link?)", where=display) from None
        raise BundleError("no such file or folder", where=display) from None
    except (OSError, ValueError) as exc:  # a NUL in the path, a name too long, a permission denied
        raise cannot(exc) from None
    if not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
        raise BundleError(
            "is neither a bundle folder nor a .zip of one (a device, pipe or broken link?)", where=display
        )
    try:
        fd = os.open(p, (_DIR_FLAGS if stat.S_ISDIR(st.st_mode) else _FILE_FLAGS))
    except OSError as exc:
        raise cannot(exc) from None
    try:
        now = os.fstat(fd)
        if not _same_file(st, now) or stat.S_IFMT(st.st_mode) != stat.S_IFMT(now.st_mode):
            raise BundleError("changed while it was being opened; refused", where=display)
    except BaseException:
        os.close(fd)
        raise
    if stat.S_ISDIR(st.st_mode):
        source = DirectorySource(fd, p, display)
        try:
            return source.scan()
        except BaseException:
            source.close()
            raise
    file = os.fdopen(fd, "rb")
    try:
        if not zipfile.is_zipfile(file):
            raise BundleError("is neither a bundle folder nor a .zip of one", where=display)
        file.seek(0)
        zsource = ZipSource(file, p, display)
    except BaseException:
        file.close()
        raise
    try:
        return zsource.scan()
    except BaseException:
        zsource.close()
        raise
