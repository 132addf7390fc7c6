"""Full validation (static checks, test vectors, behaviour) and :func:`load`.

``validate`` never raises for a bad bundle: it returns a report holding every
problem. ``load`` validates and raises :class:`InvalidBundleError` (carrying
that report) unless the bundle is valid, so a loaded Bundle is always one
whose model reproduces its own test vectors and behaves as a function of each
point (:mod:`dnnlik.evaluate.behaviour`).
"""

from __future__ import annotations

import os
import re
from typing import Any

from ..bundle import Inspection, inspect_bundle
from ..errors import BundleError, InvalidBundleError
from ..report import Report
from .behaviour import iter_behaviour_problems
from .model import Bundle
from .session import make_session, onnxruntime_version
from .test_vectors import iter_test_vector_problems

__all__ = ["validate", "load_local"]

_NOT_RUNNABLE = {"test-vectors:timeout", "test-vectors:run-failed"}
_CASE = re.compile(r"#/test_vectors/cases/(\d+)(/|$)")


def _version_tuple(version: str) -> tuple[int, ...]:
    core = version.split("+")[0].split("-")[0]
    return tuple(int(p) for p in core.split(".") if p.isdigit())


def _runtime_checks(inspection: Inspection) -> Any:
    """Create the session, run the test vectors, then the behaviour checks; return the session (or None)."""
    report, doc = inspection.report, inspection.document
    report.checks += ["test-vectors", "behaviour"]
    if not (inspection.model_structure_ok and inspection.schema_valid and doc is not None and inspection.model_bytes):
        return None
    wanted = doc["model"]["onnxruntime_min_version"]
    if _version_tuple(onnxruntime_version()) < _version_tuple(wanted):
        report.add(
            "test-vectors:onnxruntime-version",
            f"needs onnxruntime >= {wanted}, this one is {onnxruntime_version()}",
            "bundle.json#/model/onnxruntime_min_version",
            level="warning",
        )
    try:
        session = make_session(inspection.model_bytes)
    except BundleError as exc:
        report.add("test-vectors:session", exc.bare_message, doc["model"]["file"])
        return None
    malformed = _malformed_cases(report)
    before = len(report.problems)
    report.extend(iter_test_vector_problems(session, doc, skip=malformed))
    # the behaviour stage runs when the test vectors could run: not after a timeout (it would
    # only wait again), nor when the model fails on its own test vectors (it would only fail
    # again), nor when the model is not the one the document declares (contract errors)
    if not any(p.code in _NOT_RUNNABLE for p in report.problems[before:]) and not any(
        p.code.startswith("contract:") and p.level == "error" for p in report.problems
    ):
        report.extend(iter_behaviour_problems(session, doc, skip=malformed))
    return session


def _malformed_cases(report: Report) -> set[int]:
    """Test-vector cases the static checks already found malformed (running them would repeat it)."""
    cases = set()
    for problem in report.problems:
        if problem.code.startswith("semantics:test-vector"):
            match = _CASE.search(problem.location)
            if match:
                cases.add(int(match.group(1)))
    return cases


def validate(path: str | os.PathLike[str]) -> Report:
    """Every problem of the bundle at ``path``; ``report.ok`` tells whether it is valid."""
    inspection = inspect_bundle(path)
    _runtime_checks(inspection)
    return inspection.report


def load_local(path: str | os.PathLike[str], *, chunk_size: int | None = None) -> Bundle:
    """Validate the bundle folder or zip at ``path`` and return it as a :class:`Bundle`."""
    inspection = inspect_bundle(path)
    session = _runtime_checks(inspection)
    report = inspection.report
    if not report.ok or session is None or inspection.document is None:
        errors = report.errors
        listing = "\n".join(f"  - {p}" for p in errors[:20])
        more = f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else ""
        raise InvalidBundleError(
            f"is not a valid bundle ({len(errors)} problem(s)):\n{listing}{more}", report=report, where=str(path)
        )
    kwargs = {} if chunk_size is None else {"chunk_size": chunk_size}
    return Bundle(path, inspection.document, session, **kwargs)
