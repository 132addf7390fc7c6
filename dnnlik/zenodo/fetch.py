"""Fetch an archived bundle from Zenodo into a per-user cache, verified.

:func:`fetch` reads the record from Zenodo's records API once (file entries of
either shape; at most 4 MiB of JSON nested at most 64 deep, at most 1000 files),
and that one listing decides everything: dnnlik checks every name it gives
(``key`` and ``filename`` alike, by the one rule of
:func:`dnnlik.zenodo.records.file_name_problem`: a single plain ASCII file name,
nothing that could name a folder or a path outside), that each file's URL is on
the record's own Zenodo host (same scheme, host and port; redirects too), and
then downloads each listed file by its checked URL itself, into the staging
folder ``<cache>/.partial/<record>/files/`` under the checked name. While a
file streams in, its bytes are counted (a file that grows past the size the
record lists is stopped at once and discarded: never more than that size on
disk) and its MD5 is computed; a mismatch discards it. Files are created
new (``O_EXCL``), never through a link (``O_NOFOLLOW``), relative to the
staging folder held open (``dir_fd``), under a temporary name, and renamed
to their own name only once complete and verified. Then

1. the staging folder must hold exactly the files the record lists;
2. the bundle's own SHA-256 digests and everything else
   :func:`dnnlik.validate` checks (schema, ONNX contract, test vectors) must pass;

and only then is the staging folder renamed to ``<cache>/<record>/`` in one
step. The cache is ``$XDG_CACHE_HOME/dnnlik/zenodo/`` (``zenodo-sandbox/``
for the sandbox). Published files never change, so a record in the cache is
returned at once, without network. A file that fails its MD5 or size is
deleted; a record that is not a valid bundle is deleted entirely: nothing
unverified is ever in ``<cache>/<record>/``. An interrupted download leaves
the files completed so far in the staging folder, and the next fetch resumes
from them (each is checked again: size and MD5).

A cache entry holds ``files/`` (exactly the record's files: a bundle folder,
or one bundle ``.zip``) and ``record.json`` (the record's metadata).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..bundle import DOCUMENT_NAME
from ..bundle.document import loads_bounded
from ..errors import BundleError, InvalidBundleError
from ..evaluate import validate_local
from ..report import Report, one_line
from .client import ZenodoClient, ZenodoError, require_requests
from .records import RecordFile, ZenodoReference, file_entries, file_name_problem, file_url, parse_reference, show_name

__all__ = ["FetchResult", "ZenodoIntegrityError", "cache_root", "fetch", "cached_entry"]

MAX_RECORD_BYTES = 8 * 1024**3
"""Largest record dnnlik downloads (the bundle reader's own limit)."""

RETRY_PAUSE = 2.0
"""Seconds between two attempts at downloading one file."""


class ZenodoIntegrityError(ZenodoError):
    """A downloaded file does not match the checksum Zenodo lists for it."""


@dataclass
class FetchResult:
    """A record in the cache: ``bundle_path`` is what :func:`dnnlik.load` takes."""

    reference: ZenodoReference
    record_id: int
    doi: str | None
    path: Path
    bundle_path: Path
    files: list[RecordFile] = field(default_factory=list)
    from_cache: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "record_id": self.record_id,
            "doi": self.doi,
            "sandbox": self.reference.sandbox,
            "path": str(self.path),
            "bundle": str(self.bundle_path),
            "from_cache": self.from_cache,
            "files": [f.to_json() for f in self.files],
        }


def cache_root(sandbox: bool = False) -> Path:
    """``$XDG_CACHE_HOME/dnnlik/zenodo`` (``~/.cache`` when unset; ``zenodo-sandbox`` for the sandbox).

    Args:
        sandbox: the cache of sandbox.zenodo.org's records.

    Returns:
        The cache folder (it may not exist yet).
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dnnlik" / ("zenodo-sandbox" if sandbox else "zenodo")


def _bundle_path(files_dir: Path, names: list[str], where: str) -> Path:
    if DOCUMENT_NAME in names:
        return files_dir
    zips = [n for n in names if n.lower().endswith(".zip")]
    if len(names) == 1 and len(zips) == 1:
        return files_dir / zips[0]
    raise InvalidBundleError(
        f"does not hold a dnnlik bundle: no {DOCUMENT_NAME}, nor a single .zip (files: {', '.join(names) or 'none'})",
        report=None,
        where=where,
    )


def cached_entry(reference: ZenodoReference, cache_dir: Path | None = None) -> FetchResult | None:
    """The cache entry of ``reference`` if it is complete (files present with their sizes), else None.

    Args:
        reference: the record.
        cache_dir: the cache (default :func:`cache_root`).

    Returns:
        The entry (``from_cache`` true), or None when there is no complete one.
    """
    entry = (cache_dir or cache_root(reference.sandbox)) / str(reference.record)
    try:
        meta = loads_bounded((entry / "record.json").read_bytes(), where=str(entry / "record.json"))
        files = [RecordFile(f["name"], int(f["size"]), f["md5"]) for f in meta["dnnlik"]["files"]]
        if any(file_name_problem(f.name) is not None for f in files):
            return None
        files_dir = entry / "files"
        present = sorted(p.name for p in files_dir.iterdir())
        if present != sorted(f.name for f in files):
            return None
        if any((files_dir / f.name).stat().st_size != f.size for f in files):
            return None
        bundle = _bundle_path(files_dir, present, str(reference))
    except (OSError, ValueError, KeyError, TypeError, InvalidBundleError):
        return None
    return FetchResult(reference, reference.record, _doi(meta.get("doi")), entry, bundle, files, from_cache=True)


@contextlib.contextmanager
def _lock(root: Path, record: int) -> Iterator[None]:
    """Serialise fetches of one record across processes (POSIX); no-op elsewhere."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    name = f"{record}.lock"
    try:
        with _Folder.open(root) as top, top.subfolder(".locks") as locks:
            try:
                fd = locks.open_lock(name)
            except OSError as exc:
                if exc.errno != errno.ELOOP:
                    raise
                locks.remove(name)  # a link where our lock file belongs: never followed, replaced
                fd = locks.open_lock(name)
    except OSError as exc:
        raise ZenodoError(f"cannot lock the cache ({exc.strerror or one_line(exc)})", where=str(root)) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


CHUNK_BYTES = 64 * 1024
"""Bytes read from the network at a time."""

PART_PREFIX = "#part-"
"""Names of files being downloaded: '#' is not allowed in a record's file names, so they cannot clash."""

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_FLAGS = getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
_DIR_FD = bool(_O_NOFOLLOW and _O_DIRECTORY) and os.open in os.supports_dir_fd and os.listdir in os.supports_fd


class _Folder:
    """A folder of the cache held open: names inside it are resolved relative to it and never through a link.

    Where the platform has no ``dir_fd`` (Windows), it falls back to paths.
    """

    def __init__(self, path: Path, fd: int | None) -> None:
        self.path = path
        self.fd = fd

    @classmethod
    def open(cls, path: Path) -> _Folder:
        path.mkdir(parents=True, exist_ok=True)
        return cls(path, os.open(path, os.O_RDONLY | _O_DIRECTORY | _O_FLAGS) if _DIR_FD else None)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> _Folder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _name(self, name: str) -> str:
        return name if self.fd is not None else str(self.path / name)

    def lstat(self, name: str) -> os.stat_result | None:
        try:
            return os.stat(self._name(name), dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def names(self) -> list[str]:
        return os.listdir(self.fd if self.fd is not None else self.path)

    def remove(self, name: str) -> None:
        """Remove ``name`` (a file, a link, or a folder with its content); nothing if absent. Never follows a link."""
        info = self.lstat(name)
        if info is None:
            return
        if stat.S_ISDIR(info.st_mode):
            shutil.rmtree(self._name(name), dir_fd=self.fd)
        else:
            os.unlink(self._name(name), dir_fd=self.fd)

    def subfolder(self, name: str) -> _Folder:
        """The folder ``name`` inside this one, created if missing; a link or a file of that name is replaced."""
        for attempt in range(2):
            with contextlib.suppress(FileExistsError):
                os.mkdir(self._name(name), dir_fd=self.fd)
            info = self.lstat(name)
            if info is not None and stat.S_ISDIR(info.st_mode):
                if self.fd is None:
                    return _Folder(self.path / name, None)
                try:
                    fd = os.open(name, os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_FLAGS, dir_fd=self.fd)
                except OSError as exc:
                    if exc.errno not in (errno.ELOOP, errno.ENOTDIR) or attempt:
                        raise
                else:
                    return _Folder(self.path / name, fd)
            if attempt:
                break
            self.remove(name)  # a link (never followed) or a file where our folder belongs
        raise NotADirectoryError(errno.ENOTDIR, "cannot make a folder here", str(self.path / name))

    def create(self, name: str) -> int:
        """A new file ``name``, open for writing: never an existing file, never through a link."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_FLAGS
        return os.open(self._name(name), flags, 0o666, dir_fd=self.fd)

    def open_lock(self, name: str) -> int:
        """``name`` opened for writing, created if missing, not truncated, never through a link."""
        return os.open(self._name(name), os.O_WRONLY | os.O_CREAT | _O_NOFOLLOW | _O_FLAGS, 0o666, dir_fd=self.fd)

    def open_read(self, name: str) -> int:
        return os.open(self._name(name), os.O_RDONLY | _O_NOFOLLOW | _O_FLAGS, dir_fd=self.fd)

    def move(self, name: str, target: _Folder, new_name: str) -> None:
        """Rename ``name`` to ``target/new_name`` (replacing a file there)."""
        os.replace(self._name(name), target._name(new_name), src_dir_fd=self.fd, dst_dir_fd=target.fd)

    def write_file(self, name: str, data: bytes) -> None:
        """Write ``name`` atomically: a new temporary file, flushed, renamed over ``name``.

        Not :func:`dnnlik.fsutil.atomic_replace`, on purpose: that one works on
        paths (``mkstemp`` in a folder named by its path, ``os.replace`` of paths),
        so a folder of the cache swapped for a link between two steps would be
        followed. This one creates the file new (``O_EXCL``), never through a
        link (``O_NOFOLLOW``), and renames it, all relative to this folder held
        open (``dir_fd``).
        """
        part = PART_PREFIX + name
        self.remove(part)
        fd = self.create(part)
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        self.move(part, self, name)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _md5_fd(fd: int) -> str:
    digest = hashlib.md5()
    while chunk := os.read(fd, 1 << 20):
        digest.update(chunk)
    return digest.hexdigest()


class _Retry(Exception):
    """One download attempt failed in a way that another attempt may not (``corrupt``: the MD5 differed)."""

    def __init__(self, message: str, *, corrupt: bool = False) -> None:
        super().__init__(message)
        self.corrupt = corrupt


class _CacheWriteError(Exception):
    """Writing to the cache failed (full disk, permissions): not the server's fault, not retried."""


def _oversize(f: RecordFile, where: str, detail: str) -> ZenodoIntegrityError:
    return ZenodoIntegrityError(
        f"{show_name(f.name)}: the server sends more than the {f.size} bytes the record lists for it ({detail}); "
        "the download was stopped and discarded, and nothing was stored in the cache",
        where=where,
    )


def _download_once(client: ZenodoClient, folder: _Folder, part: str, f: RecordFile, url: str, where: str) -> None:
    """Stream ``url`` into ``folder/part``, checking the size as bytes arrive and the MD5; then rename it ``f.name``."""
    requests = require_requests()
    response = client.get_same_origin(url, headers={"Accept": "*/*", "Accept-Encoding": "identity"}, where=where)
    fd: int | None = None
    done = False
    try:
        if response.status_code != 200:
            raise ZenodoError(
                f"{show_name(f.name)}: Zenodo answered the download with HTTP {response.status_code}, not 200",
                where=where,
            )
        length = (response.headers.get("Content-Length") or "").strip()
        if length.isdigit() and int(length) > f.size:
            raise _oversize(f, where, f"it announces {int(length)} bytes")
        try:
            folder.remove(part)
            fd = folder.create(part)
        except OSError as exc:
            raise _CacheWriteError(exc.strerror or one_line(exc)) from None
        digest = hashlib.md5()
        written = 0
        try:
            for chunk in response.iter_content(CHUNK_BYTES):
                if written + len(chunk) > f.size:  # checked before writing: never more than f.size on disk
                    raise _oversize(f, where, f"more than {written + len(chunk)} bytes so far")
                try:
                    _write_all(fd, chunk)
                except OSError as exc:
                    raise _CacheWriteError(exc.strerror or one_line(exc)) from None
                digest.update(chunk)
                written += len(chunk)
        except (requests.RequestException, OSError) as exc:
            raise _Retry(f"the connection failed after {written} of {f.size} bytes ({type(exc).__name__})") from None
        if written != f.size:
            raise _Retry(f"the server sent {written} of {f.size} bytes")
        if digest.hexdigest() != f.md5:
            raise _Retry(f"the bytes received have MD5 {digest.hexdigest()}, the record lists {f.md5}", corrupt=True)
        try:
            os.fsync(fd)
            os.close(fd)
            fd = None
            folder.move(part, folder, f.name)
        except OSError as exc:
            raise _CacheWriteError(exc.strerror or one_line(exc)) from None
        done = True
    finally:
        response.close()
        if fd is not None:
            os.close(fd)
        if not done:
            with contextlib.suppress(OSError):
                folder.remove(part)


def _download(
    client: ZenodoClient,
    folder: _Folder,
    index: int,
    f: RecordFile,
    url: str,
    where: str,
    retries: int,
    retry_pause: float,
) -> None:
    """Download one checked file by its checked URL, with ``retries`` more attempts after a transient failure."""
    failure = _Retry("no attempt")
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(retry_pause)
        try:
            _download_once(client, folder, f"{PART_PREFIX}{index}", f, url, where)
            return
        except _Retry as exc:
            failure = exc
        except _CacheWriteError as exc:
            raise ZenodoError(
                f"cannot write {show_name(f.name)} into the cache ({exc})", where=str(folder.path)
            ) from None
    if failure.corrupt:
        raise ZenodoIntegrityError(
            f"{show_name(f.name)} does not match the MD5 checksum Zenodo lists ({failure}): corrupted in transfer or "
            "tampered with; it was discarded and nothing was stored in the cache",
            where=where,
        )
    raise ZenodoError(
        f"download failed ({show_name(f.name)}: {failure}); the files completed so far are kept: run "
        "the same command again to resume",
        where=where,
    )


def _complete(folder: _Folder, f: RecordFile) -> bool:
    """Whether ``folder`` already holds ``f`` from an earlier attempt (a regular file, its size and MD5); if it
    holds something else of that name, remove it."""
    info = folder.lstat(f.name)
    if info is None:
        return False
    if stat.S_ISREG(info.st_mode) and info.st_size == f.size:
        fd = folder.open_read(f.name)
        try:
            if _md5_fd(fd) == f.md5:
                return True
        finally:
            os.close(fd)
    folder.remove(f.name)
    return False


_DOI = re.compile(r"10\.\d{4,9}/[!-~]{1,200}")


def _doi(value: Any) -> str | None:
    """A DOI as listed by the record, or None when it is missing or not a plain DOI (it is printed)."""
    return value if isinstance(value, str) and _DOI.fullmatch(value) else None


def _record_id(record: dict[str, Any], where: str) -> int:
    value = record.get("id")
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 15:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < 10**15:
        raise ZenodoError(f"the record has no valid 'id' (a positive integer) but {show_name(value)}", where=where)
    return value


def _plan(record: dict[str, Any], record_id: int, base_url: str, where: str) -> list[tuple[RecordFile, str]]:
    """The record's files, each name checked, with the URL it is downloaded from (on ``base_url``'s host)."""
    entries = record.get("files")
    if entries is None:
        entries = []
    files = file_entries(entries, where=where)
    return [
        (f, file_url(entry, f.name, record_id=record_id, base_url=base_url, where=where))
        for f, entry in zip(files, entries, strict=True)
    ]


def fetch(
    reference: str | int | ZenodoReference,
    *,
    sandbox: bool | None = None,
    refresh: bool = False,
    client: ZenodoClient | None = None,
    cache_dir: str | Path | None = None,
    retries: int = 2,
    retry_pause: float | None = None,
) -> FetchResult:
    """Download, verify and cache the bundle of a Zenodo record; see the module docstring.

    ``reference`` is ``zenodo:NNN``, ``10.5281/zenodo.NNN``, a record URL or a
    record number; ``sandbox`` selects sandbox.zenodo.org for forms that do not
    say. A concept record (all versions) gives its latest version.

    Args:
        reference: the record, in any of the forms above.
        sandbox: whether a bare record number is on the sandbox.
        refresh: download again even when the record is in the cache.
        client: the Zenodo client to use (tests; default: a new one).
        cache_dir: the cache (default :func:`cache_root`).
        retries: more attempts at a file after a transient failure.
        retry_pause: seconds between attempts (default :data:`RETRY_PAUSE`).

    Returns:
        The cache entry; its ``bundle_path`` is what :func:`dnnlik.load` takes.

    Raises:
        InvalidBundleError: the record is not a valid bundle (with its report);
            nothing is cached.
        ZenodoIntegrityError: a file does not match its size or MD5 checksum.
        ZenodoError: the record cannot be read or downloaded, or the cache written.
    """
    ref = reference if isinstance(reference, ZenodoReference) else parse_reference(reference, sandbox=sandbox)
    root = Path(cache_dir) if cache_dir is not None else cache_root(ref.sandbox)
    if not refresh:
        hit = cached_entry(ref, root)
        if hit is not None:
            return hit
    if client is None:
        client = ZenodoClient(sandbox=ref.sandbox, max_retries=3)
    record = client.get_record(
        ref.record, where=str(ref)
    )  # the one listing read: what it says is checked, then downloaded
    record_id = _record_id(record, str(ref))
    where = f"{ref.scheme}:{record_id}"
    resolved = ZenodoReference(record_id, ref.sandbox)
    if record_id != ref.record and not refresh:  # a concept record: its latest version may be cached
        hit = cached_entry(resolved, root)
        if hit is not None:
            return hit
    plan = _plan(record, record_id, client.base_url, where)
    files = [f for f, _ in plan]
    if not files:
        raise InvalidBundleError(
            "does not hold a dnnlik bundle: the record has no files (or they are restricted)", report=None, where=where
        )
    total = sum(f.size for f in files)
    if total > MAX_RECORD_BYTES:
        raise ZenodoError(
            f"the record holds {total} bytes, more than the {MAX_RECORD_BYTES} dnnlik downloads", where=where
        )
    names = sorted(f.name for f in files)
    _bundle_path(Path("files"), names, where)  # refuse a record that cannot be a bundle before downloading
    pause = RETRY_PAUSE if retry_pause is None else retry_pause
    with _lock(root, record_id):
        return _fetch_locked(resolved, record, plan, root, where, refresh, retries, pause, client)


def _fetch_locked(
    ref: ZenodoReference,
    record: dict[str, Any],
    plan: list[tuple[RecordFile, str]],
    root: Path,
    where: str,
    refresh: bool,
    retries: int,
    retry_pause: float,
    client: ZenodoClient,
) -> FetchResult:
    if not refresh:
        hit = cached_entry(ref, root)  # another process may have fetched it meanwhile
        if hit is not None:
            return hit
    files = [f for f, _ in plan]
    wanted = {f.name for f in files}
    name = str(ref.record)
    try:
        with contextlib.ExitStack() as stack:
            top = stack.enter_context(_Folder.open(root))
            partial = stack.enter_context(top.subfolder(".partial"))
            staging = stack.enter_context(partial.subfolder(name))
            for leftover in staging.names():  # only files/ belongs here before the record is verified
                if leftover != "files":
                    staging.remove(leftover)
            folder = stack.enter_context(staging.subfolder("files"))
            for leftover in folder.names():  # older attempts' partial files, files the record does not list
                if leftover not in wanted:
                    folder.remove(leftover)
            for index, (f, url) in enumerate(plan):
                if not _complete(folder, f):
                    _download(client, folder, index, f, url, where, retries, retry_pause)
            present = sorted(folder.names())
            if present != sorted(wanted):
                raise ZenodoError(
                    "the download is incomplete (the staging folder changed meanwhile); run the same "
                    "command again to resume",
                    where=where,
                )

            bundle = _bundle_path(folder.path, present, where)
            report = _validate_fetched(bundle, ref, where)
            if not report.ok:
                stack.close()  # release the folders before removing them
                with _Folder.open(root) as top_again, top_again.subfolder(".partial") as partial_again:
                    partial_again.remove(name)
                listing = "\n".join(f"  - {p}" for p in report.errors[:20])
                raise InvalidBundleError(
                    f"the record's files are not a valid dnnlik bundle; nothing was stored in the cache:\n{listing}",
                    report=report,
                    where=where,
                )

            meta = {
                "id": ref.record,
                "doi": _doi(record.get("doi")),
                "conceptdoi": _doi(record.get("conceptdoi")),
                "conceptrecid": record.get("conceptrecid"),
                "metadata": record.get("metadata"),
                "dnnlik": {"sandbox": ref.sandbox, "files": [f.to_json() for f in files]},
            }
            staging.write_file("record.json", (json.dumps(meta, indent=2) + "\n").encode("utf-8"))
            old = f"{name}.old"
            if top.lstat(name) is not None:  # refresh, or a broken entry: swapped out only now the new one is complete
                partial.remove(old)
                top.move(name, partial, old)
            partial.move(name, top, name)
            partial.remove(old)
    except OSError as exc:
        what = f"{exc.strerror or one_line(exc)}" + (f": {show_name(str(exc.filename))}" if exc.filename else "")
        raise ZenodoError(f"cannot write into the cache ({what})", where=str(root)) from None
    entry = root / name
    return FetchResult(
        ref, ref.record, _doi(record.get("doi")), entry, _relocate(bundle, root / ".partial" / name, entry), files
    )


def _relocate(path: Path, old_root: Path, new_root: Path) -> Path:
    return new_root / path.relative_to(old_root)


def _validate_fetched(bundle: Path, ref: ZenodoReference, where: str) -> Report:
    """The report of the bundle just downloaded (staged, not yet in the cache), with the archive's own check."""
    try:
        report = validate_local(bundle)
    except BundleError as exc:
        report = Report(where)
        report.add("archive:unreadable", exc.bare_message, exc.where or "")
        return report
    report.target = where
    _check_archive_section(bundle, ref, report)
    return report


def _check_archive_section(bundle: Path, ref: ZenodoReference, report: Report) -> None:
    """Warn when the bundle's own archive section names another record."""
    from ..bundle import open_source

    try:
        document = loads_bounded(open_source(bundle).read(DOCUMENT_NAME), where=str(bundle))
    except (BundleError, ValueError, UnicodeDecodeError):
        return
    archive = document.get("archive") if isinstance(document, dict) else None
    if isinstance(archive, dict) and isinstance(archive.get("record_id"), int) and archive["record_id"] != ref.record:
        report.add(
            "zenodo:record-mismatch",
            f"the bundle says it is archived as record {archive['record_id']}, but it was fetched from "
            f"record {ref.record}",
            "bundle.json#/archive/record_id",
            level="warning",
        )
