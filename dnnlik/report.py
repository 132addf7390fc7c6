"""Validation reports: every problem found, each with its location.

A :class:`Problem` names what is wrong (``code``, a stable slug such as
``digest-mismatch``), says it in words (``message``) and where (``location``:
a file inside the bundle, optionally with a JSON pointer, e.g.
``bundle.json#/parameters/3/bounds``). A :class:`Report` collects the problems
of one bundle, and renders as text, JSON or JUnit XML.

What later checks need to know of a problem travels in fields, never parsed
back out of its text: ``Problem.test_vector_case`` is the test-vector case a
problem is about (the runtime checks skip cases the static checks found
malformed). Such fields are not part of the JSON, which says the same in
``location``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from xml.sax.saxutils import escape, quoteattr

__all__ = ["Problem", "Report", "json_pointer", "one_line", "reports_to_json", "reports_to_junit"]

Level = Literal["error", "warning"]


def json_pointer(path: Iterable[Any]) -> str:
    """RFC 6901 pointer for a sequence of keys and indices.

    >>> json_pointer(["parameters", 3, "a/b"])
    '/parameters/3/a~1b'

    Args:
        path: the keys and indices, outermost first.

    Returns:
        The pointer ("" for the whole document).
    """
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in path]
    return "/" + "/".join(parts) if parts else ""


def one_line(text: object, limit: int = 300) -> str:
    """``text`` (often a third-party exception) as one line of at most ``limit`` characters.

    >>> one_line(ValueError("bad   value"))
    'bad value'

    Args:
        text: anything; its ``str`` is used (its type's name when that is empty).
        limit: the longest line returned (cut with "...").

    Returns:
        The text on one line, whitespace runs as one space.
    """
    line = " ".join(str(text).split()) or type(text).__name__
    return line if len(line) <= limit else line[: limit - 3] + "..."


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a bundle.

    Attributes:
        code: a stable slug, ``check:what`` (e.g. ``files:digest-mismatch``).
        message: what is wrong, in words.
        location: where: a file of the bundle, optionally with a JSON pointer.
        level: ``error`` (the bundle is invalid) or ``warning``.
        test_vector_case: the index of the test-vector case the problem is about,
            when it is about one (not in :meth:`to_json`, nor compared).
    """

    code: str
    message: str
    location: str = ""
    level: Level = "error"
    test_vector_case: int | None = field(default=None, compare=False, kw_only=True)

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        tag = "" if self.level == "error" else f"[{self.level}] "
        return f"{tag}{where}{self.message} [{self.code}]"

    def to_json(self) -> dict[str, str]:
        """``code``, ``level``, ``location`` and ``message``, as JSON (the report's format)."""
        return {"code": self.code, "level": self.level, "location": self.location, "message": self.message}


@dataclass
class Report:
    """All problems found in one bundle, and which checks ran."""

    target: str
    problems: list[Problem] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        """The problems of level ``error``."""
        return [p for p in self.problems if p.level == "error"]

    @property
    def warnings(self) -> list[Problem]:
        """The problems of level ``warning``."""
        return [p for p in self.problems if p.level == "warning"]

    @property
    def ok(self) -> bool:
        """Whether the bundle is valid: no problem of level ``error``."""
        return not self.errors

    def add(self, code: str, message: str, location: str = "", level: Level = "error") -> None:
        """Add a :class:`Problem` made of these fields."""
        self.problems.append(Problem(code, message, location, level))

    def extend(self, problems: Iterable[Problem]) -> None:
        """Add problems found by a check."""
        self.problems.extend(problems)

    def summary(self) -> str:
        """One line: the target, and whether it is valid (with the count of errors or warnings)."""
        if self.ok:
            extra = f" ({len(self.warnings)} warning(s))" if self.warnings else ""
            return f"{self.target}: valid{extra}"
        return f"{self.target}: INVALID, {len(self.errors)} error(s)"

    def to_text(self) -> str:
        """The summary, then one line per problem."""
        lines = [self.summary()]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """``target``, ``valid``, ``checks`` and ``problems`` (each :meth:`Problem.to_json`)."""
        return {
            "target": self.target,
            "valid": self.ok,
            "checks": list(self.checks),
            "problems": [p.to_json() for p in self.problems],
        }


def reports_to_json(reports: Sequence[Report]) -> str:
    """Machine-readable JSON for several reports.

    Args:
        reports: the reports, one per bundle.

    Returns:
        ``{"valid": ..., "reports": [...]}`` (each :meth:`Report.to_json`), indented.
    """
    return json.dumps({"valid": all(r.ok for r in reports), "reports": [r.to_json() for r in reports]}, indent=2)


def reports_to_junit(reports: Sequence[Report]) -> str:
    """JUnit XML: one test suite per bundle, one test case per check, failures carry the problems.

    A problem belongs to the check named by its code's prefix (``files:`` to ``files``).

    Args:
        reports: the reports, one per bundle.

    Returns:
        The XML document, for CI systems.
    """
    out = ['<?xml version="1.0" encoding="UTF-8"?>']
    n_fail = sum(1 for r in reports if not r.ok)
    out.append(f'<testsuites name="dnnlik validate" tests="{len(reports)}" failures="{n_fail}">')
    for r in reports:
        checks = r.checks or ["validate"]
        failures = {c: [p for p in r.errors if _check_of(p) == c] for c in checks}
        unassigned = [p for p in r.errors if _check_of(p) not in failures]
        if unassigned:
            failures.setdefault(checks[0], []).extend(unassigned)
        n = sum(1 for c in checks if failures.get(c))
        out.append(f'  <testsuite name={quoteattr(r.target)} tests="{len(checks)}" failures="{n}">')
        for c in checks:
            out.append(f"    <testcase classname={quoteattr(r.target)} name={quoteattr(c)}>")
            if failures.get(c):
                body = "\n".join(str(p) for p in failures[c])
                msg = f"{len(failures[c])} problem(s)"
                out.append(f"      <failure message={quoteattr(msg)}>{escape(body)}</failure>")
            out.append("    </testcase>")
        out.append("  </testsuite>")
    out.append("</testsuites>")
    return "\n".join(out) + "\n"


def _check_of(problem: Problem) -> str:
    """The check a problem belongs to: the part of its code before the first ':'."""
    return problem.code.split(":", 1)[0]
