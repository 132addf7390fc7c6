"""Full validation of a local bundle (static checks, test vectors, behaviour), and loading it.

:func:`validate_local` never raises for a bad bundle: it returns a report
holding every problem. :func:`load_local` validates and raises
:class:`~dnnlik.errors.InvalidBundleError` (carrying that report) unless the
bundle is valid, so a loaded :class:`~dnnlik.evaluate.Bundle` is always one
whose model reproduces its own test vectors and behaves as a function of each
point (:mod:`dnnlik.evaluate.behaviour`).

These take a path only; :func:`dnnlik.validate` and :func:`dnnlik.load` take
Zenodo references and zoo names as well, and call these.
"""

from __future__ import annotations

import os
import re
from typing import Any

from packaging.version import InvalidVersion, Version

from ..bundle import Inspection, inspect_bundle
from ..errors import BundleError, InvalidBundleError
from ..report import Report
from .behaviour import iter_behaviour_problems
from .loaded_bundle import Bundle
from .session import make_session, onnxruntime_version
from .test_vectors import iter_test_vector_problems

__all__ = ["validate_local", "load_local", "version_at_least"]

_NOT_RUNNABLE = {"test-vectors:timeout", "test-vectors:run-failed"}
_RELEASE = re.compile(r"[0-9]+(\.[0-9]+)*", re.ASCII)


def _version(text: str) -> Version:
    """``text`` as a version (PEP 440, which reads semver's ``1.18.0-rc1`` too); a form it cannot read is
    taken by its leading release numbers (``1.18.0-foo`` as ``1.18.0``)."""
    try:
        return Version(text)
    except InvalidVersion:
        match = _RELEASE.match(text.strip().lstrip("vV"))
        return Version(match.group(0) if match else "0")


def version_at_least(version: str, minimum: str) -> bool:
    """Whether ``version`` is ``minimum`` or later, pre-releases before their release.

    >>> version_at_least("1.18.0rc1", "1.18.0"), version_at_least("1.18.1", "1.18.0")
    (False, True)
    >>> version_at_least("1.18.0", "1.18.0-rc.1")
    True

    Args:
        version: the version at hand (e.g. onnxruntime's ``__version__``).
        minimum: the least version wanted (e.g. a bundle's ``onnxruntime_min_version``).

    Returns:
        True when ``version >= minimum``.
    """
    return _version(version) >= _version(minimum)


def _runtime_checks(inspection: Inspection) -> Any:
    """Create the session, run the test vectors, then the behaviour checks; return the session (or None)."""
    report, doc = inspection.report, inspection.document
    report.checks += ["test-vectors", "behaviour"]
    if not (inspection.model_structure_ok and inspection.schema_valid and doc is not None and inspection.model_bytes):
        return None
    wanted = doc["model"]["onnxruntime_min_version"]
    if not version_at_least(onnxruntime_version(), wanted):
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
    malformed = inspection.malformed_cases  # running them would only repeat what the static checks said
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


def validate_local(path: str | os.PathLike[str]) -> Report:
    """Every problem of the bundle at ``path``; ``report.ok`` tells whether it is valid.

    Runs the static checks (:func:`dnnlik.bundle.inspect_bundle`), then the
    model on its test vectors and the behaviour checks.

    Args:
        path: a bundle folder, or a ``.zip`` of one.

    Returns:
        The report of every problem found (never raises for a bad bundle).
    """
    inspection = inspect_bundle(path)
    _runtime_checks(inspection)
    return inspection.report


def load_local(path: str | os.PathLike[str], *, chunk_size: int | None = None) -> Bundle:
    """Validate the bundle folder or zip at ``path`` and return it as a :class:`Bundle`.

    Args:
        path: a bundle folder, or a ``.zip`` of one.
        chunk_size: rows per model run (default :data:`dnnlik.evaluate.session.DEFAULT_CHUNK`).

    Returns:
        The loaded bundle.

    Raises:
        InvalidBundleError: the bundle is not valid; ``report`` holds every problem,
            the message lists the first 20.
        InvalidInputError: ``chunk_size`` is not an integer >= 1.
    """
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
