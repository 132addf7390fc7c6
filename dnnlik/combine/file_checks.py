"""Checking a combination file: the walk through it and the files it nests, problem by problem.

:class:`FileReading` reads one combination file and every combination file it
nests, checks them in the order spec/combination.md gives (JSON, format,
schema, own digest, member names; each member found, not in a cycle, its pin
before anything of it runs, valid, a likelihood; the combination, the
reinterpretation, the ``poi`` names), loads the members and builds the result.
Each problem is added to its report with its place (a file and a JSON pointer);
in fail-fast mode (loading) the first error stops the walk (:class:`StopReading`).
The entry points are in :mod:`dnnlik.combine.file`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..density import LogDensity
from ..errors import DnnlikError, InvalidBundleError, InvalidInputError, MissingExtraError
from ..report import Problem, Report, one_line
from ..schema import COMBINATION_VERSIONS, iter_schema_problems
from .combination import Combination
from .pins import (
    MemberPin,
    ResolvedSource,
    bundle_digest,
    combination_digest,
    is_combination_path,
    read_json_file,
    resolve_source,
)

__all__ = ["FileReading", "StopReading", "CombinationFile", "CHECKS", "MAX_NESTING", "MAX_MEMBERS"]

MAX_NESTING = 8
"""The most combination files in a chain of nested ones (the top file included)."""

MAX_MEMBERS = 256
"""The most member references in a combination file and all the files it nests, together."""

CHECKS = ("json", "schema", "member", "combination", "reinterpretation", "poi")
"""The stages of a combination file's check, the prefixes of its problem codes."""


@dataclass(frozen=True)
class CombinationFile:
    """A combination file, read and checked, its members loaded.

    Attributes:
        path: the file.
        document: its content.
        digest: its own ``document_sha256`` (what another file pins it with).
        pois: the parameters of interest of the result, the default one first.
        members: the members, as referenced.
        density: the result, a :class:`~dnnlik.combine.Combination` (or the
            reinterpretation of one); its parameters' roles say which are POIs.
    """

    path: Path
    document: dict[str, Any]
    digest: str
    pois: tuple[str, ...]
    members: tuple[MemberPin, ...]
    density: LogDensity

    @property
    def name(self) -> str:
        """The combination's name."""
        return str(self.document["name"])

    def to_json(self) -> dict[str, Any]:
        """What the file says, JSON-ready: name, format, digest, POIs, members and their pins."""
        return {
            "file": str(self.path),
            "combination_format": self.document["combination_format"],
            "name": self.name,
            "document_sha256": self.digest,
            "poi": list(self.pois),
            "members": [
                {"name": m.name, "source": m.source, "kind": m.kind, "document_sha256": m.document_sha256}
                for m in self.members
            ],
            "reinterpretation": "reinterpretation" in self.document,
        }


class StopReading(Exception):
    """The first problem, when reading stops there (loading)."""

    def __init__(self, problem: Problem, member_report: Report | None) -> None:
        super().__init__(problem.message)
        self.problem = problem
        self.member_report = member_report

    def error(self) -> DnnlikError:
        """The error to raise: InvalidBundleError for a member that is not a valid bundle, else InvalidInputError."""
        message = f"{self.problem.message} [{self.problem.code}]"
        if self.member_report is not None:
            return InvalidBundleError(message, report=self.member_report, where=self.problem.location)
        return InvalidInputError(message, where=self.problem.location)


def _nested_display(display: str, source: str) -> str:
    return source if os.path.isabs(source) else os.path.normpath(os.path.join(os.path.dirname(display), source))


class FileReading:
    """One read of a combination file and those it nests: the problems found, the chain of files open.

    Args:
        target: the report's target (the top file, as given).
        fail_fast: stop at the first error (:class:`StopReading`) instead of going on.
    """

    def __init__(self, target: str, fail_fast: bool) -> None:
        self.report = Report(target, checks=list(CHECKS))
        self.fail_fast = fail_fast
        self.chain: list[tuple[str, str]] = []  # (real path, display) of the files being read, outermost first
        self.count = 0

    def add(self, problem: Problem, member_report: Report | None = None) -> None:
        """Record ``problem`` (``member_report``: the report of the invalid bundle it is about).

        Raises:
            StopReading: in fail-fast mode, for an error.
        """
        self.report.problems.append(problem)
        if self.fail_fast and problem.level == "error":
            raise StopReading(problem, member_report)

    def problem(self, code: str, message: str, location: str, member_report: Report | None = None) -> None:
        """Record a problem made of these fields (as :meth:`add`)."""
        self.add(Problem(code, message, location), member_report)

    @property
    def n_errors(self) -> int:
        """The errors recorded so far."""
        return len(self.report.errors)

    # ------------------------------------------------------------------ one file
    def file(self, path: Path, display: str, document: dict[str, Any] | None = None) -> CombinationFile | None:
        """Check one combination file and load what it describes.

        Args:
            path: the file.
            display: its name in locations.
            document: its content when already read (a nested file, read to check its pin;
                a file about to be written).

        Returns:
            The file, loaded; None when it has an error (recorded).
        """
        if document is None:
            document, problems = read_json_file(path, display)
            for p in problems:
                self.add(p)
            if document is None or any(p.level == "error" for p in problems):
                return None
        start = self.n_errors
        version = document.get("combination_format")
        if version not in COMBINATION_VERSIONS:
            self._format_problem(document, version, display)
            return None
        for p in iter_schema_problems(document, version, display, family="combination"):
            self.add(p)
        if self.n_errors > start:
            return None
        digest = combination_digest(document)
        recorded = document.get("document_sha256")
        if recorded is not None and recorded != digest:
            self.problem(
                "combination:document-digest",
                f"document_sha256 is {recorded}, but the document's digest is {digest} (edited after it was written?)",
                f"{display}#/document_sha256",
            )
        entries = document["members"]
        self._check_names(entries, display)
        self.count += len(entries)
        if self.count > MAX_MEMBERS:
            self.problem(
                "combination:too-many-members",
                f"more than {MAX_MEMBERS} member references in this file and the files it nests",
                f"{display}#/members",
            )
            return None
        self.chain.append((os.path.realpath(path), display))
        try:
            loaded = [self.member(i, entry, path.parent, display) for i, entry in enumerate(entries)]
        finally:
            self.chain.pop()
        if self.n_errors > start:
            return None
        density = self.build(document, [m for m, _ in loaded if m is not None], display)
        if density is None:
            return None
        pois = tuple(document["poi"])
        density = self.set_pois(density, pois, display)
        if density is None:
            return None
        pins = tuple(
            MemberPin(e["name"], e["source"], e["document_sha256"], k)
            for e, (_, k) in zip(entries, loaded, strict=True)
        )
        return CombinationFile(path, document, digest, pois, pins, density)

    def _format_problem(self, document: dict[str, Any], version: Any, display: str) -> None:
        if version is None:
            hint = (
                " (this is a bundle's bundle.json: give the bundle's folder instead)"
                if "format_version" in document
                else ""
            )
            self.problem("schema:format-version", f"has no combination_format: not a combination file{hint}", display)
        else:
            self.problem(
                "schema:format-version",
                f"combination_format {one_line(repr(version), 40)} is not one this reader knows "
                f"({', '.join(COMBINATION_VERSIONS)})",
                f"{display}#/combination_format",
            )

    def _check_names(self, entries: Sequence[dict[str, Any]], display: str) -> None:
        seen: dict[str, int] = {}
        for i, entry in enumerate(entries):
            name = entry["name"]
            if name in seen:
                self.problem(
                    "combination:duplicate-member",
                    f"members {seen[name]} and {i} are both named {name!r}; each member needs its own name",
                    f"{display}#/members/{i}/name",
                )
            seen.setdefault(name, i)

    # ------------------------------------------------------------------ members
    def member(self, i: int, entry: dict[str, Any], base: Path, display: str) -> tuple[LogDensity | None, str]:
        """Member ``i`` of the file ``display``, found, pinned and loaded; its kind (bundle or combination).

        Returns:
            ``(log-density or None when it has an error, kind)``.
        """
        name, source = entry["name"], entry["source"]
        here = f"{display}#/members/{i}"
        who = f"member {name!r} ({source})"
        kind = "combination" if is_combination_path(source) else "bundle"
        try:
            resolved = resolve_source(source, base)
        except MissingExtraError:
            raise
        except InvalidInputError as exc:
            self.problem("member:missing", f"{who}: {exc.bare_message}", f"{here}/source")
            return None, kind
        except InvalidBundleError as exc:  # a Zenodo record whose files are not a valid bundle
            self.problem("member:invalid", f"{who}: {one_line(exc)}", f"{here}/source")
            return None, kind
        except DnnlikError as exc:
            self.problem("member:unreadable", f"{who}: {one_line(exc)}", f"{here}/source")
            return None, kind
        if resolved.kind == "combination":
            return self.nested(resolved, entry, who, here, display), resolved.kind
        return self.bundle(resolved, entry, who, here), resolved.kind

    def _mismatch(self, who: str, pinned: str, found: str, here: str) -> None:
        self.problem(
            "member:digest-mismatch",
            f"{who}: pinned document_sha256 {pinned}, found {found}: not the document the file was written "
            "for (dnnlik.combine.pins.pin computes a pin)",
            f"{here}/document_sha256",
        )

    def bundle(self, resolved: ResolvedSource, entry: dict[str, Any], who: str, here: str) -> LogDensity | None:
        """A bundle member: its pin checked from bundle.json alone, then loaded (validated), then its kind."""
        from ..api import load

        pinned = entry["document_sha256"]
        try:
            found: str | None = bundle_digest(resolved.path)
        except InvalidInputError:
            found = None  # not readable as a bundle: loading says why, in full
        if found is not None and found != pinned:
            self._mismatch(who, pinned, found, here)
            return None
        try:
            bundle = load(resolved.load_as)
        except InvalidBundleError as exc:
            report = exc.report if isinstance(exc.report, Report) else None
            errors = report.errors if report is not None else []
            first = str(errors[0]) if errors else one_line(exc.bare_message)
            message = f"{who} is not a valid bundle ({len(errors)} problem(s)); the first: {first}"
            self.problem("member:invalid", message, f"{here}/source", member_report=report)
            return None
        except MissingExtraError:
            raise
        except DnnlikError as exc:
            self.problem("member:unreadable", f"{who}: {one_line(exc)}", f"{here}/source")
            return None
        if found is None and bundle.document.get("document_sha256") != pinned:
            self._mismatch(who, pinned, str(bundle.document.get("document_sha256")), here)
            return None
        if bundle.kind != "likelihood":
            self.problem(
                "member:not-likelihood",
                f"{who} is a {bundle.kind!r} bundle, not a likelihood: only likelihoods can be multiplied",
                f"{here}/source",
            )
            return None
        return bundle

    def nested(
        self, resolved: ResolvedSource, entry: dict[str, Any], who: str, here: str, display: str
    ) -> LogDensity | None:
        """A nested combination file: not in a cycle, not too deep, its pin checked, then read as a file."""
        real = os.path.realpath(resolved.path)
        inner_display = _nested_display(display, resolved.source)
        reals = [r for r, _ in self.chain]
        if real in reals:
            files = [d for _, d in self.chain[reals.index(real) :]] + [inner_display]
            self.problem("member:cycle", f"{who} makes a cycle of combination files: {' -> '.join(files)}", here)
            return None
        if len(self.chain) >= MAX_NESTING:
            self.problem(
                "member:too-deep",
                f"{who}: combination files nest more than {MAX_NESTING} deep "
                f"({' -> '.join([d for _, d in self.chain] + [inner_display])})",
                here,
            )
            return None
        document, problems = read_json_file(resolved.path, inner_display)
        for p in problems:
            self.add(p)
        if document is None or any(p.level == "error" for p in problems):
            return None
        if "combination_format" not in document:
            self.problem(
                "member:not-a-combination",
                f"{who}: a source ending in .json is a combination file, and this one has no combination_format",
                f"{here}/source",
            )
            return None
        found = combination_digest(document)
        if found != entry["document_sha256"]:
            self._mismatch(who, entry["document_sha256"], found, here)
            return None
        inner = self.file(resolved.path, inner_display, document)
        return None if inner is None else inner.density

    # ------------------------------------------------------------------ the result
    def build(self, document: dict[str, Any], members: list[LogDensity], display: str) -> LogDensity | None:
        """The combination of the loaded members, reinterpreted when the file says so; None on an error."""
        entries = document["members"]
        names = [e["name"] for e in entries]
        renames = {e["name"]: e["renames"] for e in entries if e.get("renames")}
        try:
            combined = Combination(
                members,
                names=names,
                renames=renames or None,
                separate=document.get("separate", ()),
                bounds=document.get("bounds", "strict"),
                name=document["name"],
            )
        except InvalidInputError as exc:
            code, pointer, message = _located(exc, names)
            self.problem(code, message, f"{display}#{pointer}")
            return None
        section = document.get("reinterpretation")
        if section is None:
            return combined
        from .reinterpret import mapping_from_json, reinterpret

        where = f"{display}#/reinterpretation"
        try:
            parameters, strengths = mapping_from_json(section, where=where)
            return reinterpret(combined, parameters, strengths, name=document["name"])
        except InvalidInputError as exc:
            self.problem("reinterpretation:invalid", exc.bare_message, exc.where or where)
            return None

    def set_pois(self, density: LogDensity, pois: tuple[str, ...], display: str) -> LogDensity | None:
        """``density`` with role ``poi`` on exactly the parameters ``pois`` names; None when one is unknown."""
        names = [p.name for p in density.parameters]
        for k, poi in enumerate(pois):
            if poi not in names:
                shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
                self.problem(
                    "poi:unknown",
                    f"no parameter {poi!r} in the result (after renames and the reinterpretation); "
                    f"its parameters: {shown}",
                    f"{display}#/poi/{k}",
                )
        if any(poi not in names for poi in pois):
            return None
        roles = tuple(
            replace(p, role="poi" if p.name in pois else ("nuisance" if p.role == "poi" else p.role))
            for p in density.parameters
        )
        density.parameters = roles  # type: ignore[misc]  # both results hold their parameters in an attribute
        return density


# where= of Combination's errors -> (problem code, JSON pointer in the file)
_WHERE = {
    "combine": ("combination:conflict", "/members"),
    "separate": ("combination:separate", "/separate"),
    "renames": ("combination:rename", "/members"),
    "bounds": ("combination:bounds", "/bounds"),
    "members": ("combination:duplicate-member", "/members"),
}


def _located(exc: InvalidInputError, names: list[str]) -> tuple[str, str, str]:
    """Problem code, JSON pointer and message of an error :class:`Combination` raised."""
    where = exc.where or ""
    if where in _WHERE:
        return (*_WHERE[where], exc.bare_message)
    for i, name in enumerate(names):
        if where == f"member {name!r}":
            return "member:refused", f"/members/{i}", str(exc)
        if where == f"renames[{name!r}]":
            return "combination:rename", f"/members/{i}/renames", f"member {name!r}: {exc.bare_message}"
    return "combination:invalid", "", str(exc)
