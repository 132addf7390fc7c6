"""Fetch an archived bundle from Zenodo into a per-user cache, verified.

:func:`fetch` reads the record from Zenodo's records API (file entries of
either shape), downloads its files with the ``zenodo-get`` package into a
staging folder ``<cache>/.partial/<record>/``, then checks

1. Zenodo's MD5 of every file (``zenodo-get`` checks too) and that the
   record holds exactly the files it lists;
2. the bundle's own SHA-256 digests and everything else
   :func:`dnnlik.validate` checks (schema, ONNX contract, test vectors);

and only then renames the staging folder to ``<cache>/<record>/`` in one
step. The cache is ``$XDG_CACHE_HOME/dnnlik/zenodo/`` (``zenodo-sandbox/``
for the sandbox). Published files never change, so a record in the cache is
returned at once, without network. A file that fails its MD5 is deleted; a
record that is not a valid bundle is deleted entirely: nothing unverified is
ever in ``<cache>/<record>/``. An interrupted download leaves the files
completed so far in the staging folder, and the next fetch resumes from them.

A cache entry holds ``files/`` (exactly the record's files: a bundle folder,
or one bundle ``.zip``) and ``record.json`` (the record's metadata).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from ..bundle import DOCUMENT_NAME
from ..digest import md5_file
from ..errors import BundleError, InvalidBundleError, MissingExtraError
from ..evaluate import validate as validate_bundle
from ..fsutil import atomic_write_text
from ..report import Report, one_line
from .client import ZenodoClient, ZenodoError
from .records import RecordFile, ZenodoReference, file_entries, parse_reference

__all__ = ["FetchResult", "ZenodoIntegrityError", "cache_root", "fetch", "cached_entry"]

MAX_RECORD_BYTES = 8 * 1024**3
"""Largest record dnnlik downloads (the bundle reader's own limit)."""

RETRY_PAUSE = 2.0
"""Seconds between zenodo-get's attempts at one file."""


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
        return {"record_id": self.record_id, "doi": self.doi, "sandbox": self.reference.sandbox,
                "path": str(self.path), "bundle": str(self.bundle_path), "from_cache": self.from_cache,
                "files": [f.to_json() for f in self.files]}


def cache_root(sandbox: bool = False) -> Path:
    """``$XDG_CACHE_HOME/dnnlik/zenodo`` (``~/.cache`` when unset; ``zenodo-sandbox`` for the sandbox)."""
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
        report=None, where=where)


def cached_entry(reference: ZenodoReference, cache_dir: Path | None = None) -> FetchResult | None:
    """The cache entry of ``reference`` if it is complete (files present with their sizes), else None."""
    entry = (cache_dir or cache_root(reference.sandbox)) / str(reference.record)
    try:
        meta = json.loads((entry / "record.json").read_text(encoding="utf-8"))
        files = [RecordFile(f["name"], int(f["size"]), f["md5"]) for f in meta["dnnlik"]["files"]]
        files_dir = entry / "files"
        present = sorted(p.name for p in files_dir.iterdir())
        if present != sorted(f.name for f in files):
            return None
        if any((files_dir / f.name).stat().st_size != f.size for f in files):
            return None
        bundle = _bundle_path(files_dir, present, str(reference))
    except (OSError, ValueError, KeyError, TypeError, InvalidBundleError):
        return None
    return FetchResult(reference, reference.record, meta.get("doi"), entry, bundle, files, from_cache=True)


@contextlib.contextmanager
def _lock(root: Path, record: int) -> Iterator[None]:
    """Serialise fetches of one record across processes (POSIX); no-op elsewhere."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    locks = root / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    with open(locks / f"{record}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


_IMPORT_LOCK = threading.Lock()


def import_zenodo_get() -> Any:
    """``zenodo_get``, without letting its import take over Ctrl+C, and with its logging silenced.

    zenodo-get installs a SIGINT handler when imported (for its own command line);
    dnnlik restores the previous handler, so Ctrl+C still interrupts a fetch.
    """
    with _IMPORT_LOCK:
        main = threading.current_thread() is threading.main_thread()
        previous = signal.getsignal(signal.SIGINT) if main else None
        original_signal = signal.signal
        if not main:  # signal.signal would raise outside the main thread
            signal.signal = lambda *args, **kwargs: None  # type: ignore[assignment]
        try:
            import zenodo_get
            import zenodo_get.zget  # noqa: F401
        except ImportError:
            raise MissingExtraError("zenodo", "Fetching from Zenodo") from None
        finally:
            signal.signal = original_signal  # type: ignore[assignment]
            if main and previous is not None:
                signal.signal(signal.SIGINT, previous)
        try:
            from loguru import logger

            logger.disable("zenodo_get")  # dnnlik reports its failures itself
        except ImportError:  # pragma: no cover
            pass
        return zenodo_get


def _download(record_id: int, out: Path, sandbox: bool, retries: int, retry_pause: float, where: str) -> None:
    zenodo_get = import_zenodo_get()
    try:
        zenodo_get.download(
            record=str(record_id), output_dir=str(out), sandbox_url=sandbox, retry_attempts=retries,
            retry_pause=retry_pause, timeout=60.0, verbosity=0, exceptions_on_failure=True, start_fresh=False,
            existing_file_mode="overwrite", max_http_retries=3, backoff_factor=retry_pause / 4,
        )
    except Exception as exc:  # noqa: BLE001 - zenodo-get raises RuntimeError, ValueError, OSError, httpx2 errors
        text = one_line(exc, 300)
        if "checksum" in text.lower():
            raise ZenodoIntegrityError(
                f"a downloaded file does not match the MD5 checksum Zenodo lists ({text}): corrupted in transfer "
                "or tampered with; it was discarded and nothing was stored in the cache", where=where) from None
        raise ZenodoError(
            f"download failed ({text}); the files completed so far are kept: run the same command again to "
            "resume", where=where) from None


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
    say. A concept record (all versions) gives its latest version. Raises
    :class:`~dnnlik.errors.InvalidBundleError` (with its report) when the record
    is not a valid bundle, :class:`ZenodoIntegrityError` on a checksum mismatch.
    """
    ref = reference if isinstance(reference, ZenodoReference) else parse_reference(reference, sandbox=sandbox)
    root = Path(cache_dir) if cache_dir is not None else cache_root(ref.sandbox)
    if not refresh:
        hit = cached_entry(ref, root)
        if hit is not None:
            return hit
    if client is None:
        client = ZenodoClient(sandbox=ref.sandbox, max_retries=3)
    record = client.get_record(ref.record)
    try:
        record_id = int(record["id"])
    except (KeyError, TypeError, ValueError):
        raise ZenodoError("the record has no integer 'id'", where=str(ref)) from None
    where = f"{ref.scheme}:{record_id}"
    resolved = ZenodoReference(record_id, ref.sandbox)
    if record_id != ref.record and not refresh:  # a concept record: its latest version may be cached
        hit = cached_entry(resolved, root)
        if hit is not None:
            return hit
    files = file_entries(record.get("files") or [], where=where)
    if not files:
        raise InvalidBundleError("does not hold a dnnlik bundle: the record has no files (or they are restricted)",
                                 report=None, where=where)
    total = sum(f.size for f in files)
    if total > MAX_RECORD_BYTES:
        raise ZenodoError(f"the record holds {total} bytes, more than the {MAX_RECORD_BYTES} dnnlik downloads",
                          where=where)
    names = sorted(f.name for f in files)
    _bundle_path(Path("files"), names, where)  # refuse a record that cannot be a bundle before downloading
    pause = RETRY_PAUSE if retry_pause is None else retry_pause
    with _lock(root, record_id):
        return _fetch_locked(resolved, record, files, root, where, refresh, retries, pause)


def _fetch_locked(ref: ZenodoReference, record: dict[str, Any], files: list[RecordFile], root: Path, where: str,
                  refresh: bool, retries: int, retry_pause: float) -> FetchResult:
    if not refresh:
        hit = cached_entry(ref, root)  # another process may have fetched it meanwhile
        if hit is not None:
            return hit
    staging = root / ".partial" / str(ref.record)
    files_dir = staging / "files"
    files_dir.mkdir(parents=True, exist_ok=True)
    wanted = {f.name: f for f in files}
    for path in list(files_dir.iterdir()):  # leftovers of an older attempt that the record does not list
        if path.name not in wanted or not path.is_file() or path.is_symlink():
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    _download(ref.record, files_dir, ref.sandbox, retries, retry_pause, where)

    present = sorted(p.name for p in files_dir.iterdir())
    missing = sorted(set(wanted) - set(present))
    extra = sorted(set(present) - set(wanted))
    if missing or extra:
        raise ZenodoError(
            "the download is incomplete" + (f": missing {', '.join(missing)}" if missing else "")
            + (f"; unexpected {', '.join(extra)}" if extra else "") + "; run the same command again to resume",
            where=where)
    for f in files:
        path = files_dir / f.name
        size, md5 = path.stat().st_size, md5_file(path)
        if size != f.size or md5 != f.md5:
            path.unlink()
            raise ZenodoIntegrityError(
                f"{f.name} does not match what Zenodo lists (size {size} vs {f.size}, MD5 {md5} vs {f.md5}): "
                "corrupted in transfer or tampered with; it was discarded and nothing was stored in the cache",
                where=where)

    bundle = _bundle_path(files_dir, present, where)
    report = _validate(bundle, ref, where)
    if not report.ok:
        shutil.rmtree(staging, ignore_errors=True)
        listing = "\n".join(f"  - {p}" for p in report.errors[:20])
        raise InvalidBundleError(
            f"the record's files are not a valid dnnlik bundle; nothing was stored in the cache:\n{listing}",
            report=report, where=where)

    meta = {
        "id": ref.record, "doi": record.get("doi"), "conceptdoi": record.get("conceptdoi"),
        "conceptrecid": record.get("conceptrecid"), "metadata": record.get("metadata"),
        "dnnlik": {"sandbox": ref.sandbox, "files": [f.to_json() for f in files]},
    }
    atomic_write_text(staging / "record.json", json.dumps(meta, indent=2) + "\n")
    entry = root / str(ref.record)
    old = None
    if entry.exists():  # refresh, or a broken entry: swap it out only now that the new one is complete
        old = root / ".partial" / f"{ref.record}.old"
        shutil.rmtree(old, ignore_errors=True)
        os.replace(entry, old)
    os.replace(staging, entry)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return FetchResult(ref, ref.record, record.get("doi"), entry, _relocate(bundle, staging, entry), files)


def _relocate(path: Path, old_root: Path, new_root: Path) -> Path:
    return new_root / path.relative_to(old_root)


def _validate(bundle: Path, ref: ZenodoReference, where: str) -> Report:
    try:
        report = validate_bundle(bundle)
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
        document = json.loads(open_source(bundle).read(DOCUMENT_NAME))
    except (BundleError, ValueError, UnicodeDecodeError):
        return
    archive = document.get("archive") if isinstance(document, dict) else None
    if isinstance(archive, dict) and isinstance(archive.get("record_id"), int) and archive["record_id"] != ref.record:
        report.add("zenodo:record-mismatch",
                   f"the bundle says it is archived as record {archive['record_id']}, but it was fetched from "
                   f"record {ref.record}", "bundle.json#/archive/record_id", level="warning")
