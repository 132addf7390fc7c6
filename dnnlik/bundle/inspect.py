"""Static inspection of a bundle: every check that needs no ONNX runtime.

Stages, each named in the report's ``checks`` (and in JUnit output):

``archive``   the folder or zip is readable and safe (no links, no traversal);
``json``      ``bundle.json`` exists, is small enough, UTF-8, strict JSON;
``schema``    it validates against the JSON Schema of its ``format_version``;
``semantics`` cross-field rules (unique names, bound order, shapes vs P);
``files``     every listed file is present with its size and sha256, nothing
              unlisted is present, ``document_sha256`` matches;
``onnx``      the model parses, uses only standard operators, passes the checker;
``contract``  its inputs and outputs are those declared.

Every problem found is reported; later stages run on whatever earlier ones
could establish. Test vectors need a runtime and are run by
:mod:`dnnlik.evaluate.validation`.

Memory: only ``bundle.json`` (at most 16 MiB) and the model file (at most
:data:`~dnnlik.bundle.source.MAX_MODEL_BYTES`, 512 MiB, refused before it
is read) are read whole; every other listed file is hashed as a stream, and
unlisted files are never read. Running out of memory anyway (a
``MemoryError``) becomes a problem of the stage it happened in, not a crash.
The bundle's source is closed when :func:`inspect_bundle` returns (its
``files`` listing stays available).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any

from packaging.version import Version

from ..digest import DIGEST_FIELD, document_digest, sha256_bytes
from ..errors import BundleError
from ..report import Problem, Report
from ..schema import SUPPORTED_VERSIONS, iter_schema_problems
from .document import parse_document
from .onnx_checks import iter_onnx_problems, load_onnx
from .semantics import iter_semantic_problems
from .source import (
    DOCUMENT_NAME,
    MAX_DOCUMENT_BYTES,
    MAX_FILE_BYTES,
    MAX_MODEL_BYTES,
    BundleSource,
    SourceError,
    TooLargeError,
    open_source,
)

__all__ = ["Inspection", "inspect_bundle", "STATIC_CHECKS"]

STATIC_CHECKS = ("archive", "json", "schema", "semantics", "files", "onnx", "contract")


@dataclass
class Inspection:
    """What static inspection established: the report, and what later stages can use.

    Attributes:
        report: every problem found so far.
        source: the bundle's files (closed once :func:`inspect_bundle` returns).
        document: ``bundle.json``, when it could be parsed.
        schema_valid: whether it passed its schema.
        broken_sections: top-level keys with schema errors; None when the schema did not run.
        model_bytes: the model file, when it could be read.
        model_structure_ok: whether the model passed the ONNX checks.
        malformed_cases: test-vector cases the semantic checks found malformed
            (the runtime checks do not run them).
    """

    report: Report
    source: BundleSource | None = None
    document: dict[str, Any] | None = None
    schema_valid: bool = False
    broken_sections: frozenset[str] | None = None
    model_bytes: bytes | None = None
    model_structure_ok: bool = False
    malformed_cases: frozenset[int] = frozenset()


def inspect_bundle(path: str | os.PathLike[str]) -> Inspection:
    """Run every static check on the bundle at ``path`` (a folder or a zip).

    Never raises for a bad bundle: what is wrong is in ``report``.

    Args:
        path: a bundle folder, or a ``.zip`` of one.

    Returns:
        The report (every problem, checks :data:`STATIC_CHECKS`) and what later
        stages can use (the document, the model's bytes).
    """
    report = Report(str(path), checks=list(STATIC_CHECKS))
    result = Inspection(report)
    try:
        source = open_source(path)
    except BundleError as exc:
        report.add("archive:unreadable", exc.bare_message, exc.where or str(path))
        return result
    except MemoryError:
        report.add("archive:unreadable", "cannot be scanned in the memory available", str(path))
        return result
    result.source = source
    with source:
        _inspect_source(result, source)
    return result


def _inspect_source(result: Inspection, source: BundleSource) -> None:
    report = result.report
    report.extend(source.problems)
    if DOCUMENT_NAME not in source.files:
        report.add("json:missing", "the bundle has no bundle.json at its root", DOCUMENT_NAME)
        return
    try:
        data = source.read(DOCUMENT_NAME, limit=MAX_DOCUMENT_BYTES)
    except TooLargeError as exc:
        report.add("json:too-large", exc.bare_message, DOCUMENT_NAME)
        return
    except BundleError as exc:
        report.extend([_read_problem(exc, "json:unreadable", DOCUMENT_NAME)])
        return
    except MemoryError:
        report.add("json:too-large", _NO_MEMORY, DOCUMENT_NAME)
        return
    try:
        document, problems = parse_document(data, DOCUMENT_NAME)
    except MemoryError:
        report.add("json:too-large", "cannot be parsed in the memory available", DOCUMENT_NAME)
        return
    del data
    report.extend(problems)
    if document is None:
        return
    result.document = document
    try:
        _check_schema(result)
    except MemoryError:
        report.add("json:too-large", "cannot be checked against the schema in the memory available", DOCUMENT_NAME)
        return
    if "files" in document and isinstance(document.get("files"), list):
        _check_files(result)
    try:
        _check_document_digest(result)
    except MemoryError:
        report.add(
            "files:document-digest", "cannot be canonicalised in the memory available", f"bundle.json#/{DIGEST_FIELD}"
        )
    try:
        _check_model(result)
    except MemoryError:
        result.model_bytes = None
        result.model_structure_ok = False
        report.add(
            "onnx:unreadable",
            "cannot be parsed and checked in the memory available",
            _model_file(document) or DOCUMENT_NAME,
        )


_NO_MEMORY = "cannot be read in the memory available; refused"


def _read_problem(exc: BundleError, default: str, where: str) -> Problem:
    """The problem a failed read of ``where`` reports: the source's own code, else ``default``."""
    code = exc.code if isinstance(exc, SourceError) and exc.code else default
    return Problem(code, exc.bare_message, exc.where or where)


def _read_model(source: BundleSource, name: str) -> bytes:
    """The model file, whole; refused before reading when over :data:`MAX_MODEL_BYTES`."""
    try:
        return source.read(name, limit=MAX_MODEL_BYTES)
    except MemoryError:
        raise TooLargeError(_NO_MEMORY, where=name) from None


def _check_schema(result: Inspection) -> None:
    doc, report = result.document, result.report
    assert doc is not None
    version = doc.get("format_version")
    if version not in SUPPORTED_VERSIONS:
        report.add("schema:format-version", _version_message(doc), "bundle.json#/format_version")
        return
    problems = list(iter_schema_problems(doc, version))
    report.extend(problems)
    result.schema_valid = not problems
    broken = {_section(p.location) for p in problems}
    result.broken_sections = frozenset(broken)
    semantic = list(iter_semantic_problems(doc, broken))
    report.extend(semantic)
    result.malformed_cases = frozenset(p.test_vector_case for p in semantic if p.test_vector_case is not None)


def _version_message(doc: dict[str, Any]) -> str:
    readable = ", ".join(SUPPORTED_VERSIONS)
    if "format_version" not in doc:
        return f"format_version is missing; this dnnlik reads {readable}"
    version = doc["format_version"]
    if not (isinstance(version, str) and re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", version)):
        return f"format_version must be a version string such as {SUPPORTED_VERSIONS[-1]!r}, got {_shown(version)}"
    newer = Version(version) > max(Version(v) for v in SUPPORTED_VERSIONS)
    return f"format_version is {version!r}; this dnnlik reads {readable}" + (
        " (a newer dnnlik may read this bundle)" if newer else ""
    )


def _shown(value: Any, limit: int = 40) -> str:
    try:
        text = json.dumps(value, allow_nan=True)
    except (TypeError, ValueError):
        text = type(value).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _section(location: str) -> str:
    pointer = location.partition("#")[2]
    return pointer.split("/")[1] if pointer.count("/") >= 1 else ""


def _listed_files(doc: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    files = doc.get("files")
    if not isinstance(files, list):
        return []
    return [(i, f) for i, f in enumerate(files) if isinstance(f, dict) and isinstance(f.get("path"), str)]


def _check_files(result: Inspection) -> None:
    doc, source, report = result.document, result.source, result.report
    assert doc is not None and source is not None
    listed = _listed_files(doc)
    listed_paths = {f["path"] for _, f in listed}
    for i, entry in listed:
        name = entry["path"]
        where = f"bundle.json#/files/{i}"
        if name not in source.files:
            report.add("files:missing", f"listed file {name!r} is not in the bundle", where)
            continue
        if isinstance(entry.get("size"), int) and entry["size"] != source.files[name]:
            report.add(
                "files:size-mismatch",
                f"{name!r} has {source.files[name]} bytes, bundle.json says {entry['size']}",
                where,
            )
        is_model = name == _model_file(doc)
        try:
            if is_model:  # the only listed file read whole: the runtime needs its bytes
                data = _read_model(source, name)
                digest = sha256_bytes(data)
            else:  # streamed: memory holds one chunk, whatever the file's size
                digest = source.sha256(name, limit=MAX_FILE_BYTES)
        except BundleError as exc:
            report.extend([_read_problem(exc, "files:unreadable", name)])
            continue
        except MemoryError:
            report.add("files:too-large", _NO_MEMORY, name)
            continue
        if isinstance(entry.get("sha256"), str) and digest != entry["sha256"]:
            report.add(
                "files:digest-mismatch",
                f"sha256 of {name!r} is {digest}, bundle.json says {entry['sha256']} (modified or corrupted)",
                where,
            )
        if is_model:
            result.model_bytes = data
    for name in sorted(set(source.files) - listed_paths - {DOCUMENT_NAME}):
        report.add("files:unlisted", "is in the bundle but not listed in bundle.json 'files'", name)


def _check_document_digest(result: Inspection) -> None:
    doc, report = result.document, result.report
    assert doc is not None
    stored = doc.get(DIGEST_FIELD)
    if isinstance(stored, str):
        try:
            actual = document_digest(doc)
        except (TypeError, ValueError) as exc:
            report.add("files:document-digest", f"cannot be canonicalised: {exc}", f"bundle.json#/{DIGEST_FIELD}")
        else:
            if actual != stored:
                report.add(
                    "files:document-digest",
                    f"document_sha256 is {stored}, the canonical document hashes to {actual} "
                    "(bundle.json was edited or corrupted)",
                    f"bundle.json#/{DIGEST_FIELD}",
                )


def _model_file(doc: dict[str, Any]) -> str | None:
    model = doc.get("model")
    return model.get("file") if isinstance(model, dict) and isinstance(model.get("file"), str) else None


def _check_model(result: Inspection) -> None:
    doc, source, report = result.document, result.source, result.report
    assert doc is not None and source is not None
    name = _model_file(doc)
    if name is None:
        return
    if result.model_bytes is None:
        if name in {f["path"] for _, f in _listed_files(doc)}:
            return  # listed: the files check found it missing or unreadable, and said so
        if name not in source.files:
            report.add("files:missing", f"model file {name!r} is not in the bundle", "bundle.json#/model/file")
            return
        try:
            result.model_bytes = _read_model(source, name)
        except BundleError as exc:
            report.extend([_read_problem(exc, "files:unreadable", name)])
            return
    model, problems = load_onnx(result.model_bytes, name)
    report.extend(problems)
    if model is None:
        result.model_bytes = None
        return
    model_ok = result.broken_sections is not None and "model" not in result.broken_sections
    declared = doc["model"] if model_ok and "model" in doc else None
    onnx_problems = list(iter_onnx_problems(model, declared, name))
    report.extend(onnx_problems)
    result.model_structure_ok = not any(p.code.startswith("onnx:") for p in onnx_problems)
