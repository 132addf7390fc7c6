"""What a member of a combination is, and what its output means.

A member is any :class:`~dnnlik.density.LogDensity` (a loaded bundle, a
reference likelihood, another combination), or a string or path that
:func:`dnnlik.load` reads (a bundle folder or zip, ``zoo:NAME``,
``zenodo:RECORD``). To be multiplied with others, its output's meaning must be
known, as a bundle's ``output`` section says it (spec 3.4):

- a :class:`~dnnlik.evaluate.Bundle`: its ``bundle.json#/output``;
- any other source: its attribute ``output``, a mapping with the same members
  (``quantity``, ``includes_constraints``, ``offset``) when it has one (the toy
  likelihoods and combinations do); else :data:`DEFAULT_OUTPUT`: a
  log-likelihood that includes the constraint terms of all its declared
  parameters, with no offset. A :class:`~dnnlik.likelihoods.CallableLikelihood`
  whose function follows another convention says so by setting ``output`` on
  the instance (``lik.output = {"quantity": "log-likelihood",
  "includes_constraints": False, "offset": 0.0}``).

A member is refused (:class:`~dnnlik.errors.InvalidInputError`, naming it) when
its ``kind`` is not ``likelihood``; when its offset is unknown (``None``) or not
a finite number; and when it is a ``log-posterior`` whose prior cannot be
separated. A log-posterior's prior is separable, and the member accepted, when
its output includes its constraint terms and **every** parameter declares a
constraint other than ``none`` (``uniform`` for a flat prior): the prior is
then the product of the declared terms, and is counted like constraint terms
(a parameter with ``none`` would leave part of the prior undescribed, so
nothing could say how much of it to remove).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..density import LogDensity
from ..errors import InvalidInputError
from ..evaluate import Bundle
from ..parameters import Parameter

__all__ = ["Member", "DEFAULT_OUTPUT", "QUANTITIES", "resolve_members", "describe_source"]

DEFAULT_OUTPUT: Mapping[str, Any] = {"quantity": "log-likelihood", "includes_constraints": True, "offset": 0.0}
"""The output convention of a source that declares none: log L with every declared constraint term, no offset."""

QUANTITIES = ("log-likelihood", "log-posterior")
"""The ``output.quantity`` values a member may have (spec 3.4)."""


@dataclass(frozen=True)
class Member:
    """One member of a combination, checked: its source, name, parameters and output convention.

    Attributes:
        name: the member's name in messages, descriptions and prefixes.
        source: the log-density itself.
        parameters: its parameters, under their own names, in its own order.
        quantity: ``log-likelihood`` or ``log-posterior``.
        includes_constraints: whether its output contains its declared constraint terms.
        offset: the constant its producer added (removed by the combination).
        declared: False when the convention is :data:`DEFAULT_OUTPUT`, assumed.
    """

    name: str
    source: LogDensity
    parameters: tuple[Parameter, ...]
    quantity: str
    includes_constraints: bool
    offset: float
    declared: bool

    @property
    def output(self) -> dict[str, Any]:
        """The convention as a bundle's ``output`` section writes it."""
        return {"quantity": self.quantity, "includes_constraints": self.includes_constraints, "offset": self.offset}


def _load(item: str | os.PathLike[str]) -> LogDensity:
    """A member given by reference, loaded and validated (an error names the reference)."""
    from ..api import load

    return load(item)


def _name_of(source: Any, index: int) -> str:
    name = getattr(source, "name", None)
    return name if isinstance(name, str) and name else f"member{index + 1}"


def _raw_output(source: Any) -> tuple[Any, bool]:
    """The source's output declaration, and whether it declared one."""
    if isinstance(source, Bundle):
        return source.document.get("output"), True
    declared = getattr(source, "output", None)
    if declared is None:
        return DEFAULT_OUTPUT, False
    return declared, True


def _check_output(source: Any, name: str) -> tuple[str, bool, float, bool]:
    raw, declared = _raw_output(source)
    if not isinstance(raw, Mapping):
        raise InvalidInputError(
            f"its output convention must be a mapping with quantity, includes_constraints and offset, got {raw!r}",
            where=f"member {name!r}",
        )
    quantity = raw.get("quantity")
    if quantity not in QUANTITIES:
        raise InvalidInputError(
            f"cannot be multiplied: its output quantity is {quantity!r}, not one of {list(QUANTITIES)}",
            where=f"member {name!r}",
        )
    includes = raw.get("includes_constraints")
    if not isinstance(includes, bool):
        raise InvalidInputError(
            f"cannot be multiplied: output.includes_constraints is {includes!r}, not true or false",
            where=f"member {name!r}",
        )
    offset = raw.get("offset")
    if isinstance(offset, bool) or not isinstance(offset, (int, float)) or not math.isfinite(offset):
        raise InvalidInputError(
            f"cannot be multiplied: its offset is unknown ({offset!r}); the constant added to its "
            "log-likelihood must be a finite number to be removed",
            where=f"member {name!r}",
        )
    return quantity, includes, float(offset), declared


def _finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_parameters(params: tuple[Parameter, ...], name: str, quantity: str, includes: bool) -> None:
    where = f"member {name!r}"
    if not params:
        raise InvalidInputError("has no parameters", where=where)
    names = [p.name for p in params]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InvalidInputError(f"has duplicate parameter names {twice}", where=where)
    for p in params:
        c = p.constraint
        if c.type in ("normal", "lognormal"):
            if c.mean is None or c.sigma is None or not c.sigma > 0 or not math.isfinite(c.sigma):
                raise InvalidInputError(
                    f"parameter {p.name!r}: a {c.type} constraint needs a finite mean and sigma > 0, "
                    f"got mean={c.mean!r}, sigma={c.sigma!r}",
                    where=where,
                )
            if c.type == "lognormal" and not c.mean > 0:
                raise InvalidInputError(
                    f"parameter {p.name!r}: a lognormal constraint needs mean > 0 (its median), got {c.mean!r}",
                    where=where,
                )
        elif c.type == "gamma":
            tau, aux = c.tau, c.tau if c.aux is None else c.aux
            if tau is None or aux is None or not (_finite_number(tau) and tau > 0 and _finite_number(aux) and aux >= 0):
                raise InvalidInputError(
                    f"parameter {p.name!r}: a gamma constraint needs a finite tau > 0 and aux >= 0, "
                    f"got tau={c.tau!r}, aux={c.aux!r}",
                    where=where,
                )
        elif c.type == "uniform" and not (math.isfinite(p.lower) and math.isfinite(p.upper)):
            raise InvalidInputError(
                f"parameter {p.name!r}: a uniform constraint needs finite bounds, got [{p.lower}, {p.upper}]",
                where=where,
            )
        elif c.type not in ("none", "uniform", "gamma"):
            raise InvalidInputError(f"parameter {p.name!r}: unknown constraint type {c.type!r}", where=where)
    if quantity == "log-posterior":
        if not includes:
            raise InvalidInputError(
                "cannot be multiplied: a log-posterior whose output excludes its constraint terms has a prior "
                "they do not describe, so it cannot be separated",
                where=where,
            )
        bare = [p.name for p in params if p.constraint.type == "none"]
        if bare:
            raise InvalidInputError(
                f"cannot be multiplied: it is a log-posterior and parameter {bare[0]!r} declares no constraint "
                f"({len(bare)} parameter(s) do), so its prior cannot be separated; declare every parameter's "
                "prior (uniform for a flat one)",
                where=where,
            )


def _member(item: Any, index: int, name: str | None) -> Member:
    source = _load(item) if isinstance(item, (str, os.PathLike)) else item
    name = _name_of(source, index) if name is None else name
    kind = getattr(source, "kind", "likelihood")
    if kind != "likelihood":
        raise InvalidInputError(
            f"cannot be multiplied: it is a {kind!r} bundle, not a likelihood", where=f"member {name!r}"
        )
    if not isinstance(source, LogDensity):
        raise InvalidInputError(
            f"is a {type(source).__name__}, not a log-density (a bundle, a reference likelihood, a combination) "
            "nor a path to load",
            where=f"member {name!r}",
        )
    params = tuple(source.parameters)
    quantity, includes, offset, declared = _check_output(source, name)
    _check_parameters(params, name, quantity, includes)
    return Member(name, source, params, quantity, includes, offset, declared)


def resolve_members(members: Any, names: Sequence[str] | None) -> list[Member]:
    """Load, name and check the members of a combination.

    Args:
        members: a sequence of members (log-densities, or paths/strings for
            :func:`dnnlik.load`), or a mapping ``{name: member}``.
        names: the members' names, one per member (default: each source's
            ``name``, ``member1``, ``member2``... for those without one).

    Returns:
        The checked members, in order.

    Raises:
        InvalidInputError: no members, names that are missing, repeated or
            not one per member, or a member that cannot be multiplied.
    """
    if isinstance(members, Mapping):
        if names is not None:
            raise InvalidInputError("give the names either as the members' keys or as names=, not both", where="names")
        names = list(members.keys())
        items = list(members.values())
    elif isinstance(members, (str, os.PathLike)) or not isinstance(members, Sequence):
        raise InvalidInputError(
            f"must be a list of members (or a mapping name -> member), got {type(members).__name__}", where="members"
        )
    else:
        items = list(members)
    if not items:
        raise InvalidInputError("no members to combine", where="members")
    if names is not None:
        names = list(names)
        if len(names) != len(items):
            raise InvalidInputError(f"{len(names)} name(s) for {len(items)} member(s)", where="names")
        bad = [n for n in names if not isinstance(n, str) or not n]
        if bad:
            raise InvalidInputError(f"member names must be non-empty strings, got {bad[0]!r}", where="names")
    out = [_member(item, i, None if names is None else names[i]) for i, item in enumerate(items)]
    seen: dict[str, int] = {}
    for i, m in enumerate(out):
        if m.name in seen:
            raise InvalidInputError(
                f"members {seen[m.name]} and {i} are both named {m.name!r}; give each its own name (names=[...])",
                where="members",
            )
        seen[m.name] = i
    return out


def describe_source(source: Any) -> dict[str, Any]:
    """A JSON-ready description of where a member comes from.

    Args:
        source: the member's log-density.

    Returns:
        For a bundle: name, version, path and ``document_sha256``; for a source
        with ``describe()``: what it says; else its class.
    """
    if isinstance(source, Bundle):
        return {
            "bundle": source.name,
            "version": source.version,
            "path": str(source.path),
            "document_sha256": source.document.get("document_sha256"),
        }
    describe = getattr(source, "describe", None)
    if callable(describe):
        info = describe()
        if isinstance(info, Mapping):
            return dict(info)
    return {"class": f"{type(source).__module__}.{type(source).__qualname__}"}
