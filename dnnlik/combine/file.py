"""Combination files (format 1.0.0, draft): a combination written down, its members pinned.

A combination file (spec/combination.md) is a JSON document that says which
published likelihoods to multiply and how: members by reference (a path,
``zoo:NAME``, ``zenodo:RECORD``, or another combination file), each pinned by
its ``document_sha256`` (:mod:`dnnlik.combine.pins`); renames, ``separate``,
``bounds``; an optional reinterpretation mapping; the parameters of interest::

    found = read_combination("analyses.json")   # checked, members loaded, pins verified
    found.density                                # a Combination (or Reinterpretation): a LogDensity
    found.pois                                   # ("mu",): the default first

What is checked, in order, each problem reported with its place (a file and a
JSON pointer in it): the file as strict JSON (at most 16 MiB, 64 deep, no
duplicate keys); ``combination_format``; the schema; the file's own
``document_sha256`` when it has one; member names distinct; then each member:
found, not a cycle of combination files (nor nested more than
:data:`MAX_NESTING` deep, nor more than :data:`MAX_MEMBERS` references in all),
its pin equal to its digest (before anything of it runs), a valid bundle of
kind ``likelihood`` (or a valid combination file, checked the same way); then
the combination (names, constraints, roles, units, bounds), the
reinterpretation, and the ``poi`` names (:mod:`dnnlik.combine.file_checks`).
:func:`validate_combination` reports every problem; :func:`read_combination`
and :func:`load_combination` raise on the first, with one message naming the
member and the parameter. :mod:`dnnlik.combine.file_write` writes such files.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..density import LogDensity
from ..errors import InvalidInputError
from ..report import Report
from .file_checks import CHECKS, MAX_MEMBERS, MAX_NESTING, CombinationFile, FileReading, StopReading
from .pins import MemberPin, is_combination_path, read_json_file

__all__ = [
    "CombinationFile",
    "MemberPin",
    "read_combination",
    "load_combination",
    "validate_combination",
    "is_combination_file",
    "CHECKS",
    "MAX_NESTING",
    "MAX_MEMBERS",
]


def validate_combination(path: str | os.PathLike[str]) -> Report:
    """Every problem of the combination file at ``path``, each with its location; never raises for bad content.

    Loads its members (validating each bundle in full) as :func:`read_combination` does.

    Args:
        path: the combination file.

    Returns:
        The report (checks :data:`CHECKS`); ``report.ok`` tells whether the file is valid.

    Raises:
        MissingExtraError: a Zenodo member without the ``zenodo`` extra installed.
    """
    reading = FileReading(str(path), fail_fast=False)
    reading.file(Path(path), str(path))
    return reading.report


def read_combination(path: str | os.PathLike[str], document: dict[str, Any] | None = None) -> CombinationFile:
    """Read, check and load the combination file at ``path``: its members, their pins, the result.

    Args:
        path: the combination file.
        document: its content, when it is in memory (a file about to be written):
            then ``path`` only places it (relative sources start from its folder).

    Returns:
        The :class:`CombinationFile`, its ``density`` the joint log-density, whose
        parameters named in ``poi`` have role ``poi`` (and no other has).

    Raises:
        InvalidInputError: the first problem found (the message names the member and
            the parameter, the place is the file and a JSON pointer in it).
        InvalidBundleError: a member is not a valid bundle (``report`` holds its problems).
        MissingExtraError: a Zenodo member without the ``zenodo`` extra installed.
    """
    reading = FileReading(str(path), fail_fast=True)
    try:
        found = reading.file(Path(path), str(path), document)
    except StopReading as stop:
        raise stop.error() from None
    if found is None:  # every error stops a fail-fast read: only a warning-free None gets here
        raise InvalidInputError("cannot be read as a combination file", where=str(path))
    return found


def load_combination(path: str | os.PathLike[str]) -> LogDensity:
    """The joint log-density a combination file describes: ``read_combination(path).density``.

    Args:
        path: the combination file.

    Returns:
        A :class:`~dnnlik.combine.Combination`, or the reinterpretation of one.

    Raises:
        InvalidInputError: as :func:`read_combination`.
        InvalidBundleError: a member is not a valid bundle.
    """
    return read_combination(path).density


def is_combination_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a regular ``.json`` file whose top-level object has ``combination_format``.

    A bounded read (at most 16 MiB, 64 deep); False for anything unreadable.

    Args:
        path: any path.

    Returns:
        True for a combination file (valid or not otherwise).
    """
    if not is_combination_path(path) or not os.path.isfile(path):
        return False
    document, _ = read_json_file(path, os.fspath(path))
    return isinstance(document, dict) and "combination_format" in document
