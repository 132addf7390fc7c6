"""Read the files of a bundle, from a folder or a ``.zip``, safely.

Nothing is extracted to disk and nothing outside the bundle is ever read:

- links are refused (a folder's symbolic links are not followed, a zip's
  link entries are not read), as are special files;
- zip entry names that are absolute, contain ``..`` or backslashes, repeat,
  or are encrypted are refused;
- sizes are capped (``bundle.json`` at :data:`MAX_DOCUMENT_BYTES`, every file
  at :data:`MAX_FILE_BYTES`), reading stops past the cap whatever a zip
  header claims, and a zip's compression ratio is capped against zip bombs.

Problems are collected into the report; only a path that is neither a folder
nor a zip raises.
"""

from __future__ import annotations

import os
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Protocol

from ..errors import BundleError
from ..report import Problem, one_line

__all__ = [
    "DOCUMENT_NAME",
    "MAX_DOCUMENT_BYTES",
    "MAX_FILE_BYTES",
    "BundleSource",
    "TooLargeError",
    "open_source",
]

DOCUMENT_NAME = "bundle.json"
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
MAX_FILE_BYTES = 2 * 1024**3  # ONNX protobufs cannot be larger
MAX_TOTAL_BYTES = 8 * 1024**3
MAX_COMPRESSION_RATIO = 200
MAX_ENTRIES = 10000


class BundleSource(Protocol):
    """The regular files of one bundle, by relative POSIX path."""

    display: str
    files: dict[str, int]
    problems: list[Problem]

    def read(self, name: str, limit: int = MAX_FILE_BYTES) -> bytes: ...


class TooLargeError(BundleError):
    """A file of the bundle is larger than the reader allows."""


def _too_large(name: str, limit: int) -> BundleError:
    return TooLargeError(f"larger than the {limit // (1024 * 1024)} MiB allowed", where=name)


# What a corrupt or crafted zip makes the zipfile module raise (besides BadZipFile):
# truncated or lying headers, unknown compression methods or zip versions, bad
# deflate/bzip2/lzma streams, undecodable names.
try:
    import lzma

    _LZMA_ERRORS: tuple[type[Exception], ...] = (lzma.LZMAError,)
except ImportError:  # Python built without lzma: zipfile cannot read such entries either
    _LZMA_ERRORS = ()
_ZIP_ERRORS = (
    zipfile.BadZipFile, OSError, EOFError, RuntimeError, ValueError, NotImplementedError, zlib.error, struct.error,
    *_LZMA_ERRORS,
)


@dataclass
class DirectorySource:
    root: Path
    display: str
    files: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def _rel(self, full: str) -> str:
        return PurePosixPath(Path(full).relative_to(self.root)).as_posix()

    def _unreadable(self, exc: OSError) -> None:
        rel = self._rel(exc.filename) if exc.filename else "."
        self.problems.append(Problem("archive:unreadable", f"cannot be examined ({exc.strerror or one_line(exc)})", rel))

    def scan(self) -> "DirectorySource":
        root_real = os.path.realpath(self.root)
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=False, onerror=self._unreadable):
            for name in sorted(dirnames + filenames):
                full = os.path.join(dirpath, name)
                rel = self._rel(full)
                try:
                    st = os.lstat(full)
                    link = os.readlink(full) if stat.S_ISLNK(st.st_mode) else None
                except OSError as exc:  # unreadable, or removed since it was listed
                    self._unreadable(exc)
                    if name in dirnames:
                        dirnames.remove(name)
                    continue
                if link is not None:
                    target = os.path.realpath(full)
                    inside = os.path.commonpath([root_real, target]) == root_real
                    where = "inside" if inside else "outside"
                    self.problems.append(
                        Problem(
                            "archive:link",
                            f"is a symbolic link to {link!r} ({where} the bundle); bundles may not contain links",
                            rel,
                        )
                    )
                    if name in dirnames:
                        dirnames.remove(name)
                elif stat.S_ISREG(st.st_mode):
                    self.files[rel] = st.st_size
                elif not stat.S_ISDIR(st.st_mode):
                    self.problems.append(Problem("archive:special-file", "is not a regular file", rel))
        return self

    def read(self, name: str, limit: int = MAX_FILE_BYTES) -> bytes:
        if name not in self.files:
            raise BundleError("no such file in the bundle", where=name)
        if self.files[name] > limit:
            raise _too_large(name, limit)
        # O_NOFOLLOW: a file swapped for a link after the scan is still not followed.
        try:
            fd = os.open(self.root / name, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            with os.fdopen(fd, "rb") as f:
                data = f.read(limit + 1)
        except OSError as exc:  # unreadable, or replaced by a link or removed since the scan
            raise BundleError(f"cannot be read ({exc.strerror or one_line(exc)})", where=name) from None
        if len(data) > limit:
            raise _too_large(name, limit)
        return data


@dataclass
class ZipSource:
    path: Path
    display: str
    files: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    _infos: dict[str, zipfile.ZipInfo] = field(default_factory=dict)

    def scan(self) -> "ZipSource":
        try:
            zf = zipfile.ZipFile(self.path)
        except _ZIP_ERRORS as exc:
            raise BundleError(f"not a readable zip file ({one_line(exc)})", where=self.display) from None
        with zf:
            infos = zf.infolist()
        if len(infos) > MAX_ENTRIES:
            raise BundleError(f"zip holds {len(infos)} entries, more than the {MAX_ENTRIES} allowed", where=self.display)
        prefix = _common_root(infos)
        total = 0
        for info in infos:
            raw = info.filename
            reason = _unsafe_name(raw)
            if reason:
                self.problems.append(Problem("archive:unsafe-path", f"zip entry {raw!r} {reason}; refused", raw))
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
            name = raw[len(prefix):]
            if name in self.files:
                self.problems.append(Problem("archive:duplicate", f"zip entry {raw!r} appears twice", raw))
                continue
            if info.compress_size and info.file_size / info.compress_size > MAX_COMPRESSION_RATIO and info.file_size > 1 << 20:
                self.problems.append(
                    Problem("archive:zip-bomb", f"zip entry {raw!r} expands {info.file_size // info.compress_size}x; refused", raw)
                )
                continue
            total += info.file_size
            self.files[name] = info.file_size
            self._infos[name] = info
        if total > MAX_TOTAL_BYTES:
            raise BundleError(f"zip expands to {total} bytes, more than the {MAX_TOTAL_BYTES} allowed", where=self.display)
        return self

    def read(self, name: str, limit: int = MAX_FILE_BYTES) -> bytes:
        info = self._infos.get(name)
        if info is None:
            raise BundleError("no such file in the bundle", where=name)
        if info.file_size > limit:
            raise _too_large(name, limit)
        try:
            with zipfile.ZipFile(self.path) as zf, zf.open(info) as f:
                data = f.read(limit + 1)
        except _ZIP_ERRORS as exc:
            raise BundleError(f"cannot be read from the zip ({one_line(exc)})", where=name) from None
        if len(data) > limit:
            raise _too_large(name, limit)
        return data


def _unsafe_name(name: str) -> str | None:
    if "\\" in name:
        return "contains a backslash"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "is an absolute path"
    if any(part in ("..", ".") for part in name.rstrip("/").split("/")):
        return "contains a '..' or '.' segment (path traversal)"
    if "\x00" in name:
        return "contains a NUL character"
    return None


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


def open_source(path: str | os.PathLike[str]) -> BundleSource:
    """Scan a bundle folder or zip; raise :class:`BundleError` when it is neither."""
    display = str(path)
    try:
        p = Path(os.path.realpath(path))  # the bundle's own path may be a link; its contents may not
        is_dir, is_file = p.is_dir(), p.is_file()
        exists = is_dir or is_file or os.path.lexists(p)
    except (OSError, ValueError) as exc:  # a NUL in the path, a name too long, a permission denied
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else one_line(exc)
        raise BundleError(f"cannot be opened ({reason})", where=display) from None
    if is_dir:
        return DirectorySource(p, display).scan()
    if is_file:
        if zipfile.is_zipfile(p):
            return ZipSource(p, display).scan()
        raise BundleError("is neither a bundle folder nor a .zip of one", where=display)
    if exists:
        raise BundleError("is neither a bundle folder nor a .zip of one (a device, pipe or broken link?)", where=display)
    raise BundleError("no such file or folder", where=display)
