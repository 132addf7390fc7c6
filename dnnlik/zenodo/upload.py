"""Archive a bundle on Zenodo: one DOI per bundle version.

:func:`upload_bundle` validates the bundle, then

1. creates a draft deposition (or, with ``new_version_of``, a new version of
   a published record) and records it in a draft state file next to the
   receipts, so that an interrupted upload resumes with the same deposition;
2. takes the DOI Zenodo reserved for the draft and writes it into the
   ``archive`` section of ``bundle.json`` (``doi``, ``concept_doi``,
   ``record_id``, ``url``), recomputing ``document_sha256``; the changed
   bundle is staged in a temporary folder and validated again;
3. uploads every file to the deposition's bucket, skipping files Zenodo
   already holds with the same size and MD5 and deleting files that do not
   belong (so a resumed or new-version upload has no duplicates or leftovers);
   a bundle with sub-folders is uploaded as one ``NAME-VERSION.zip``;
4. sets the metadata mapped from ``bundle.json`` (:mod:`dnnlik.zenodo.metadata`);
5. lists the files Zenodo reports, in both listings (bucket and deposition),
   and refuses to publish unless names, sizes and MD5s match exactly;
6. publishes, and writes the receipt ``NAME-VERSION.json`` atomically
   (``NAME-VERSION.sandbox.json`` for the sandbox).

Nothing here prints or logs the token.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..bundle import DOCUMENT_NAME, open_source
from ..bundle.document import loads_bounded
from ..bundle.write import dump_document, zip_bundle
from ..digest import DIGEST_FIELD, document_digest, md5_file, sha256_file
from ..errors import InvalidBundleError, InvalidInputError
from ..evaluate import validate_local
from ..fsutil import atomic_write_bytes, atomic_write_text
from .client import Token, ZenodoAuthError, ZenodoClient, ZenodoError, ZenodoHTTPError, load_token, require_requests
from .metadata import load_template, zenodo_metadata
from .records import RecordFile, file_entries, parse_reference, safe_file_name

__all__ = ["DEFAULT_RECEIPTS", "RECEIPT_VERSION", "UploadResult", "receipt_paths", "upload_bundle", "read_receipts"]

log = logging.getLogger("dnnlik.zenodo")

DEFAULT_RECEIPTS = Path("archive") / "receipts"
"""Where receipts and draft states go unless told otherwise (relative to the working folder)."""

RECEIPT_VERSION = 1


@dataclass
class UploadResult:
    """What was archived, and where."""

    record_id: int
    doi: str
    concept_doi: str | None
    url: str
    published: bool
    sandbox: bool
    deposition_id: int
    document_sha256: str
    files: list[dict[str, Any]]
    receipt: Path | None
    resumed: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "record_id": self.record_id,
            "doi": self.doi,
            "concept_doi": self.concept_doi,
            "url": self.url,
            "published": self.published,
            "sandbox": self.sandbox,
            "deposition_id": self.deposition_id,
            "document_sha256": self.document_sha256,
            "files": self.files,
            "receipt": str(self.receipt) if self.receipt else None,
            "resumed": self.resumed,
        }


def receipt_paths(receipts_dir: str | Path, name: str, version: str, sandbox: bool) -> tuple[Path, Path]:
    """``(receipt, draft state)`` paths for one bundle version.

    Args:
        receipts_dir: the receipts folder.
        name: the bundle's name.
        version: its version.
        sandbox: whether the record is on the sandbox.

    Returns:
        The receipt's path and the draft state's.
    """
    stem = f"{name}-{version}" + (".sandbox" if sandbox else "")
    directory = Path(receipts_dir)
    return directory / f"{stem}.json", directory / f"{stem}.draft.json"


def read_receipts(receipts_dir: str | os.PathLike[str]) -> list[tuple[Path, dict[str, Any]]]:
    """Every published receipt in ``receipts_dir`` (draft states are skipped), sorted by file name.

    Args:
        receipts_dir: the receipts folder (missing: no receipts).

    Returns:
        ``(path, receipt)`` pairs.

    Raises:
        InvalidInputError: a receipt cannot be read, or is not a dnnlik receipt.
    """
    directory = Path(receipts_dir)
    out: list[tuple[Path, dict[str, Any]]] = []
    if not directory.is_dir():
        return out
    for path in sorted(directory.glob("*.json")):
        if path.name.endswith(".draft.json"):
            continue
        try:
            receipt = loads_bounded(path.read_bytes(), where=str(path))
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise InvalidInputError(f"cannot read this receipt ({exc})", where=str(path)) from None
        if not isinstance(receipt, dict) or not isinstance(receipt.get("record_id"), int):
            raise InvalidInputError("not a dnnlik receipt (no integer 'record_id')", where=str(path))
        out.append((path, receipt))
    return out


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _write_json(path: Path, value: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(value, indent=2, sort_keys=False) + "\n")


def _compare(local: Mapping[str, RecordFile], remote: list[RecordFile]) -> list[str]:
    """Human-readable differences between the files we mean to publish and those Zenodo holds."""
    remote_by_name = {f.name: f for f in remote}
    problems = [f"{n} is missing" for n in sorted(set(local) - set(remote_by_name))]
    problems += [f"{n} does not belong to the bundle" for n in sorted(set(remote_by_name) - set(local))]
    for name in sorted(set(local) & set(remote_by_name)):
        want, got = local[name], remote_by_name[name]
        if want.size != got.size:
            problems.append(f"{name} has {got.size} bytes, not {want.size}")
        elif want.md5 != got.md5:
            problems.append(f"{name} has MD5 {got.md5}, not {want.md5}")
    return problems


class _Say:
    def __init__(self, progress: Callable[[str], None] | None) -> None:
        self.progress = progress

    def __call__(self, message: str) -> None:
        log.info(message)
        if self.progress is not None:
            self.progress(message)


def upload_bundle(
    bundle: str | Path,
    *,
    sandbox: bool = False,
    publish: bool = True,
    new_version_of: int | str | None = None,
    client: ZenodoClient | None = None,
    token: Token | None = None,
    token_file: str | Path | None = None,
    receipts_dir: str | Path = DEFAULT_RECEIPTS,
    template: Mapping[str, Any] | str | Path | None = None,
    write_back: bool = False,
    progress: Callable[[str], None] | None = None,
) -> UploadResult:
    """Archive the bundle at ``bundle`` (folder or .zip) on Zenodo; see the module docstring.

    Run it again after an interruption: it resumes the same deposition. With
    ``publish=False`` the complete, verified draft is left for review and a later
    call with ``publish=True`` publishes it. ``write_back`` also writes the
    ``archive`` section into the local bundle.

    Args:
        bundle: the bundle folder or ``.zip``.
        sandbox: archive on sandbox.zenodo.org.
        publish: publish the verified deposition (else leave the draft).
        new_version_of: a record to add this bundle to as a new version.
        client: the Zenodo client to use (tests; default: one made with the token).
        token: the access token.
        token_file: the file holding the token.
        receipts_dir: where the receipt and the draft state are written.
        template: the Zenodo metadata template (a mapping or a file).
        write_back: write the ``archive`` section into the local bundle too.
        progress: called with a line for each step.

    Returns:
        What was archived: record, DOI, files, receipt.

    Raises:
        InvalidBundleError: the bundle is not valid.
        ZenodoError: Zenodo refused a step, or the uploaded files differ.
        MissingExtraError: the ``zenodo`` extra is not installed.
    """
    say = _Say(progress)
    if client is None:
        require_requests("Archiving on Zenodo")
    bundle = Path(bundle)
    source, document = _read_valid(bundle)
    name, version = document["name"], document["version"]
    receipt_path, draft_path = receipt_paths(receipts_dir, name, version, sandbox)
    _refuse_archived(receipt_path, name, version)
    if isinstance(template, (str, Path)) or template is None:
        template = load_template(template)
    if client is None:
        client = ZenodoClient(sandbox=sandbox, token=token or load_token(sandbox=sandbox, token_file=token_file))
    elif not client.has_token:
        raise ZenodoError("the Zenodo client given has no access token")

    deposition, resumed = _draft(client, draft_path, sandbox, new_version_of, say)
    target = _reserve(client, deposition, document, template, say)
    archived = {k: v for k, v in document.items() if k != DIGEST_FIELD}
    archived["archive"] = target.archive_section()
    archived[DIGEST_FIELD] = document_digest(archived)
    state = _draft_state(name, version, sandbox, client.base_url, target)
    if not resumed:
        _write_json(draft_path, state)
    files, layout, published = _upload_verified(
        client, target, source, archived, template, publish, say, write_back=bundle if write_back else None
    )

    result = UploadResult(
        record_id=target.record_id,
        doi=target.doi,
        concept_doi=str(target.concept_doi) if target.concept_doi else None,
        url=target.url,
        published=published,
        sandbox=sandbox,
        deposition_id=target.deposition_id,
        document_sha256=archived[DIGEST_FIELD],
        files=files,
        receipt=None,
        resumed=resumed,
    )
    entry = {
        **state,
        "status": "published" if published else "draft-verified",
        "concept_doi": result.concept_doi,
        "kind": document.get("kind"),
        "date": _now(),
        "document_sha256": archived[DIGEST_FIELD],
        "source_document_sha256": document.get(DIGEST_FIELD),
        "layout": layout,
        "files": files,
    }
    result.receipt = _write_receipt(entry, published, receipt_path, draft_path, say)
    return result


def _draft_state(name: str, version: str, sandbox: bool, base_url: str, target: _Target) -> dict[str, Any]:
    """The draft state written beside the receipts (what a resumed upload reads back)."""
    return {
        "receipt_version": RECEIPT_VERSION,
        "status": "draft",
        "name": name,
        "version": version,
        "sandbox": sandbox,
        "base_url": base_url,
        "deposition_id": target.deposition_id,
        "record_id": target.record_id,
        "doi": target.doi,
        "concept_doi": target.concept_doi,
        "url": target.url,
        "bucket": target.bucket,
        "created": _now(),
    }


def _upload_verified(
    client: ZenodoClient,
    target: _Target,
    source: Any,
    archived: dict[str, Any],
    template: Mapping[str, Any],
    publish: bool,
    say: _Say,
    *,
    write_back: Path | None,
) -> tuple[list[dict[str, Any]], str, bool]:
    """Stage the files, upload what is missing, set the metadata, verify, publish; closes ``source``.

    Returns:
        ``(files, layout, published)``: the archived files' entries for the receipt, the layout
        staged, and whether the record is published.
    """
    staging = Path(tempfile.mkdtemp(prefix="dnnlik-upload-"))
    try:
        uploads, layout = _stage(source, archived, staging)
        local = {n: RecordFile(n, p.stat().st_size, md5_file(p)) for n, p in uploads.items()}
        if not target.submitted:
            _sync_files(client, target.bucket, uploads, local, say)
            say("setting the metadata")
            client.update_metadata(
                target.deposition_id,
                zenodo_metadata(archived, template=template, doi=target.doi, record_id=target.record_id),
            )
        _verify_files(client, target, local, say)
        published = target.submitted
        if publish and not target.submitted:
            final = _publish(client, target.deposition_id, say)
            published = True
            if final.get("doi") and final["doi"] != target.doi:
                raise ZenodoError(
                    f"Zenodo published the record as {final['doi']}, not as the reserved {target.doi} "
                    "written into bundle.json",
                    where=f"deposition {target.deposition_id}",
                )
            target.concept_doi = final.get("conceptdoi") or target.concept_doi
        files = [{**local[n].to_json(), "sha256": sha256_file(p)[0]} for n, p in sorted(uploads.items())]
        if write_back is not None:
            _write_back(write_back, staging / "bundle", archived)
            say(f"wrote the archive section into {write_back}")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        source.close()
    return files, layout, published


def _read_valid(bundle: Path) -> tuple[Any, dict[str, Any]]:
    """The bundle's source (open) and document, once it has validated."""
    report = validate_local(bundle)
    if not report.ok:
        listing = "\n".join(f"  - {p}" for p in report.errors[:20])
        raise InvalidBundleError(
            f"is not a valid bundle; fix it before archiving:\n{listing}", report=report, where=str(bundle)
        )
    source = open_source(bundle)
    try:
        return source, loads_bounded(source.read(DOCUMENT_NAME), where=str(bundle))
    except BaseException:
        source.close()
        raise


def _refuse_archived(receipt_path: Path, name: str, version: str) -> None:
    """A bundle version is archived once: refuse it when its receipt exists."""
    if receipt_path.exists():
        previous = loads_bounded(receipt_path.read_bytes(), where=str(receipt_path))
        raise ZenodoError(
            f"{name} {version} is already archived as {previous.get('doi')} (record {previous.get('record_id')}); "
            f"give the bundle a new version and upload it with --new-version-of {previous.get('record_id')}",
            where=str(receipt_path),
        )


@dataclass
class _Target:
    """Where the bundle goes: the draft deposition, the DOI and record Zenodo reserved for it, its bucket."""

    deposition_id: int
    doi: str
    record_id: int
    concept_doi: str | None
    url: str
    bucket: str
    submitted: bool

    def archive_section(self) -> dict[str, Any]:
        """The ``archive`` section of ``bundle.json`` (spec: ``doi``, ``record_id``, ``url``, ``concept_doi``)."""
        archive: dict[str, Any] = {"doi": self.doi, "record_id": self.record_id, "url": self.url}
        if self.concept_doi:
            archive["concept_doi"] = str(self.concept_doi)
        return archive


def _reserve(
    client: ZenodoClient,
    deposition: dict[str, Any],
    document: Mapping[str, Any],
    template: Mapping[str, Any],
    say: _Say,
) -> _Target:
    """The DOI of the draft (reserved now unless it already is) and the rest of where the bundle goes."""
    deposition_id = int(deposition["id"])
    reserved = (deposition.get("metadata") or {}).get("prereserve_doi")
    if not (isinstance(reserved, dict) and reserved.get("doi") and reserved.get("recid")):
        say(f"reserving a DOI for deposition {deposition_id}")
        deposition = client.update_metadata(
            deposition_id, {**zenodo_metadata(document, template=template), "prereserve_doi": True}
        )
        reserved = (deposition.get("metadata") or {}).get("prereserve_doi")
        if not (isinstance(reserved, dict) and reserved.get("doi") and reserved.get("recid")):
            raise ZenodoError("Zenodo did not reserve a DOI for the draft", where=f"deposition {deposition_id}")
    doi, record_id = str(reserved["doi"]), int(reserved["recid"])
    concept_doi = deposition.get("conceptdoi")
    if not concept_doi and deposition.get("conceptrecid"):
        concept_doi = f"{doi.split('/', 1)[0]}/zenodo.{deposition['conceptrecid']}"
    bucket = (deposition.get("links") or {}).get("bucket")
    if not bucket:
        raise ZenodoError("the deposition has no bucket link (links.bucket)", where=f"deposition {deposition_id}")
    return _Target(
        deposition_id,
        doi,
        record_id,
        concept_doi,
        f"{client.base_url}/records/{record_id}",
        bucket,
        bool(deposition.get("submitted")),
    )


def _verify_files(client: ZenodoClient, target: _Target, local: Mapping[str, RecordFile], say: _Say) -> None:
    """Refuse to go on unless both of Zenodo's listings (bucket, deposition) hold exactly the local files."""
    deposition_id = target.deposition_id
    problems = _compare(
        local, file_entries(client.list_bucket(target.bucket), where=f"bucket of deposition {deposition_id}")
    )
    problems += [
        p
        for p in _compare(
            local,
            file_entries(client.list_deposition_files(deposition_id), where=f"files of deposition {deposition_id}"),
        )
        if p not in problems
    ]
    if problems:
        what = "the published record" if target.submitted else "the draft"
        raise ZenodoError(
            "refusing to publish: the files Zenodo reports do not match the bundle: "
            + "; ".join(problems)
            + (f". {what} is kept; run the same command again to re-upload" if not target.submitted else ""),
            where=f"deposition {deposition_id}",
        )
    say(f"verified {len(local)} file(s) on Zenodo: names, sizes and MD5s match")


def _write_receipt(entry: dict[str, Any], published: bool, receipt_path: Path, draft_path: Path, say: _Say) -> Path:
    """Write the receipt of a published record (and remove the draft state), or the verified draft's state."""
    entry = dict(entry)
    bucket = entry.pop("bucket", None)
    if published:
        entry.pop("created", None)
        _write_json(receipt_path, entry)
        draft_path.unlink(missing_ok=True)
        say(f"receipt written to {receipt_path}")
        return receipt_path
    _write_json(draft_path, {**entry, "bucket": bucket})
    return draft_path


def _draft(
    client: ZenodoClient, draft_path: Path, sandbox: bool, new_version_of: int | str | None, say: _Say
) -> tuple[dict[str, Any], bool]:
    """The draft deposition to fill: resumed from the draft state, a new version, or a new deposition."""
    if draft_path.exists():
        try:
            state = loads_bounded(draft_path.read_bytes(), where=str(draft_path))
            deposition_id = int(state["deposition_id"])
        except (OSError, ValueError, KeyError, TypeError):
            raise ZenodoError(
                "the draft state is unreadable; delete it to start a new deposition", where=str(draft_path)
            ) from None
        if bool(state.get("sandbox")) != sandbox or state.get("base_url") not in (None, client.base_url):
            raise ZenodoError(
                f"the draft state is for {state.get('base_url')}, not {client.base_url}", where=str(draft_path)
            )
        try:
            deposition = client.get_deposition(deposition_id)
        except ZenodoHTTPError as exc:
            if exc.status not in (404, 410) or isinstance(exc, ZenodoAuthError):
                raise
            say(f"deposition {deposition_id} of the draft state no longer exists; starting a new one")
            draft_path.unlink(missing_ok=True)
        else:
            say(f"resuming deposition {deposition_id}")
            return deposition, True
    if new_version_of is not None:
        previous = parse_reference(new_version_of, sandbox=sandbox).record
        say(f"creating a new version of record {previous}")
        return client.new_version(previous), False
    say("creating a deposition")
    return client.create_deposition(), False


def _stage(source: Any, archived: Mapping[str, Any], staging: Path) -> tuple[dict[str, Path], str]:
    """Write the bundle with its archive section under ``staging``; return the files to upload and the layout."""
    folder = staging / "bundle"
    folder.mkdir()
    names = sorted(n for n in source.files if n != DOCUMENT_NAME)
    for name in names:
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read(name))
    (folder / DOCUMENT_NAME).write_bytes(dump_document(archived))
    report = validate_local(folder)
    if not report.ok:  # cannot happen unless the archive section itself is refused
        raise InvalidBundleError(
            "the bundle with its archive section is not valid:\n" + "\n".join(f"  - {p}" for p in report.errors[:20]),
            report=report,
            where="bundle.json#/archive",
        )
    if all(safe_file_name(n) for n in names):
        return {n: folder / n for n in [DOCUMENT_NAME, *names]}, "files"
    zip_name = f"{archived['name']}-{archived['version']}.zip"
    zip_bundle(folder, staging / zip_name)
    return {zip_name: staging / zip_name}, "zip"


def _sync_files(
    client: ZenodoClient, bucket: str, uploads: Mapping[str, Path], local: Mapping[str, RecordFile], say: _Say
) -> None:
    remote = {f.name: f for f in file_entries(client.list_bucket(bucket), where="bucket")}
    for name in sorted(set(remote) - set(local)):
        say(f"deleting {name}, which is not part of the bundle")
        client.delete_file(bucket, name)
    for name, path in uploads.items():
        if remote.get(name) == local[name]:
            say(f"{name} is already uploaded")
            continue
        say(f"uploading {name} ({local[name].size} bytes)")
        client.put_file(bucket, name, path)


def _publish(client: ZenodoClient, deposition_id: int, say: _Say) -> dict[str, Any]:
    say(f"publishing deposition {deposition_id}")
    try:
        return client.publish(deposition_id)
    except ZenodoAuthError:
        raise
    except ZenodoError as exc:
        # The publish may have gone through although its answer was lost: look.
        try:
            deposition = client.get_deposition(deposition_id)
        except ZenodoError:
            deposition = {}
        if deposition.get("submitted"):
            return deposition
        raise ZenodoError(
            f"publishing failed ({exc}); the verified draft is kept: run the same command again to publish it",
            where=f"deposition {deposition_id}",
        ) from None


def _write_back(bundle: Path, staged: Path, archived: Mapping[str, Any]) -> None:
    if bundle.is_dir():
        atomic_write_bytes(bundle / DOCUMENT_NAME, dump_document(archived))
    else:
        zip_bundle(staged, bundle, overwrite=True)
