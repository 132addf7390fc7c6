"""Matching the members' parameters by name: renames, prefixes, conflicts, the combined list.

The HistFactory convention (as pyhf's ``Workspace.combine``): after each
member's renames, parameters with the same name are one parameter, shared by
the members that have it; a parameter in one member only belongs to it. A name
in ``separate`` is kept apart instead: each member's copy becomes
``"<member>:<name>"`` (:data:`SEPARATOR`).

The combined list takes the first member's parameters in its order, then each
further member's new parameters in that member's order. A shared parameter's
entry is the first member's (description, unit, nominal), with:

- bounds: all members must declare the same; with ``bounds="intersect"`` the
  intersection (it must not be empty), and the nominal value moved to the
  nearest bound if the intersection excludes it;
- training range: the intersection of the declared ones (none if they do not overlap).

Refused, with one message naming both members and the parameter
(:class:`~dnnlik.errors.InvalidInputError`): shared parameters that disagree on
role, constraint (type, mean, sigma, tau, aux), unit (when both give one) or bounds.

Fixed parameters (a bundle's ``fixed_parameters``; any other source's attribute
``fixed_parameters``, a mapping name -> value, when it has one) are not
parameters of the combination; they are refused, naming both members and the
parameter, when one member fixes a name another member has free (after renames
and prefixes), or two members fix it at different values. The combination's
own fixed parameters are the union of its members'.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..parameters import Constraint, Parameter
from .members import Member

__all__ = ["SEPARATOR", "BOUNDS_MODES", "Layout", "member_names", "layout"]

SEPARATOR = ":"
"""Between a member's name and a parameter's, in the names of parameters kept apart."""

BOUNDS_MODES = ("strict", "intersect")
"""``strict``: shared parameters must have equal bounds; ``intersect``: they get the intersection."""


@dataclass
class Layout:
    """The combined parameters and where each member's columns are in them.

    Attributes:
        parameters: the combined parameters, in order.
        columns: for each member, the combined column of each of its parameters (in its order).
        holders: for each combined parameter, the indices of the members that have it.
        renamed: for each member, ``{its name: combined name}`` where they differ.
        intersected: ``{name: (lower, upper)}`` of the shared parameters whose bounds were intersected.
        fixed: ``{name: value}`` of the parameters some member holds fixed (not combined parameters).
    """

    parameters: list[Parameter] = field(default_factory=list)
    columns: list[np.ndarray] = field(default_factory=list)
    holders: list[list[int]] = field(default_factory=list)
    renamed: list[dict[str, str]] = field(default_factory=list)
    intersected: dict[str, tuple[float, float]] = field(default_factory=dict)
    fixed: dict[str, float] = field(default_factory=dict)


def _rename_maps(renames: Any, members: Sequence[Member]) -> list[dict[str, str]]:
    """One ``{old: new}`` map per member, from a mapping by member name or a list aligned with the members."""
    n = len(members)
    if renames is None:
        return [{} for _ in range(n)]
    if isinstance(renames, Mapping):
        known = [m.name for m in members]
        unknown = [k for k in renames if k not in known]
        if unknown:
            raise InvalidInputError(f"no member is named {unknown[0]!r}; members: {known}", where="renames")
        items = [renames.get(m.name) for m in members]
    elif isinstance(renames, Sequence) and not isinstance(renames, str):
        if len(renames) != n:
            raise InvalidInputError(f"{len(renames)} rename map(s) for {n} member(s)", where="renames")
        items = list(renames)
    else:
        raise InvalidInputError(
            f"must be a mapping member name -> {{old: new}}, or a list of such maps, got {type(renames).__name__}",
            where="renames",
        )
    maps = []
    for m, item in zip(members, items, strict=True):
        item = {} if item is None else item
        if not isinstance(item, Mapping):
            raise InvalidInputError(
                f"must map old names to new ones, got {type(item).__name__}", where=f"renames[{m.name!r}]"
            )
        own = {p.name for p in m.parameters}
        for old, new in item.items():
            if old not in own:
                raise InvalidInputError(f"member {m.name!r} has no parameter {old!r}", where=f"renames[{m.name!r}]")
            if not isinstance(new, str) or not new:
                raise InvalidInputError(
                    f"{old!r} must be renamed to a non-empty string, got {new!r}", where=f"renames[{m.name!r}]"
                )
        maps.append(dict(item))
    return maps


def member_names(members: Sequence[Member], renames: Any = None, separate: Iterable[str] = ()) -> list[list[str]]:
    """Each member's parameter names in the combination, after renames and prefixes.

    Args:
        members: the checked members.
        renames: ``{member name: {old: new}}``, or a list of ``{old: new}`` aligned with the members.
        separate: names (after renames) whose copies stay apart, as ``"<member>:<name>"``.

    Returns:
        For each member, the combined names of its parameters, in its order.

    Raises:
        InvalidInputError: an unknown member or parameter, two parameters of one
            member renamed to the same name, a name in ``separate`` that no member
            has, or a prefixed name that another member already uses.
    """
    maps = _rename_maps(renames, members)
    out = []
    for m, names_map in zip(members, maps, strict=True):
        names = [names_map.get(p.name, p.name) for p in m.parameters]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise InvalidInputError(
                f"two parameters of member {m.name!r} would both be called {twice[0]!r}", where="renames"
            )
        out.append(names)
    if isinstance(separate, str):
        separate = (separate,)
    apart = list(dict.fromkeys(separate))
    everywhere = {n for names in out for n in names}
    for name in apart:
        if not isinstance(name, str) or name not in everywhere:
            raise InvalidInputError(f"no member has a parameter {name!r} (after renames)", where="separate")
    keep = set(apart)
    prefixed = [
        [f"{m.name}{SEPARATOR}{n}" if n in keep else n for n in names] for m, names in zip(members, out, strict=True)
    ]
    plain = {n for names in out for n in names if n not in keep}
    for m, own, names in zip(members, out, prefixed, strict=True):
        clash = [new for old, new in zip(own, names, strict=True) if new != old and new in plain]
        if clash:
            raise InvalidInputError(
                f"keeping {clash[0].split(SEPARATOR, 1)[1]!r} apart names member {m.name!r}'s copy {clash[0]!r}, "
                "which another member already uses; rename one of them",
                where="separate",
            )
    return prefixed


def _constraint_text(c: Constraint) -> str:
    c = c.resolved()
    if c.tau is not None and c.aux is not None:
        return f"{c.type}(tau={c.tau:g}, aux={c.aux:g})"
    return f"{c.type}(mean={c.mean:g}, sigma={c.sigma:g})" if c.mean is not None and c.sigma is not None else c.type


def _bounds_text(b: tuple[float, float]) -> str:
    return f"[{b[0]:g}, {b[1]:g}]"


def _conflict(name: str, first: str, other: str, what: str, a: str, b: str) -> InvalidInputError:
    return InvalidInputError(
        f"members {first!r} and {other!r} disagree on the {what} of parameter {name!r}: {a} in {first!r}, "
        f"{b} in {other!r}",
        where="combine",
    )


def _merge(
    held: Parameter, first: str, p: Parameter, other: str, name: str, bounds: str
) -> tuple[Parameter, tuple[float, float] | None]:
    """``held`` (the combined entry so far) merged with member ``other``'s ``p``; the new bounds if intersected."""
    if p.role != held.role:
        raise _conflict(name, first, other, "role", repr(held.role), repr(p.role))
    if p.constraint.resolved() != held.constraint.resolved():
        raise _conflict(
            name, first, other, "constraint", _constraint_text(held.constraint), _constraint_text(p.constraint)
        )
    if held.unit and p.unit and held.unit != p.unit:
        raise _conflict(name, first, other, "unit", repr(held.unit), repr(p.unit))
    new_range = held.training_range
    if p.training_range is not None:
        if new_range is None:
            new_range = p.training_range
        else:
            lo, hi = max(new_range[0], p.training_range[0]), min(new_range[1], p.training_range[1])
            new_range = (lo, hi) if lo <= hi else None
    if p.bounds == held.bounds:
        return replace(held, training_range=new_range, unit=held.unit or p.unit), None
    if bounds != "intersect":
        raise InvalidInputError(
            f"members {first!r} and {other!r} disagree on the bounds of parameter {name!r}: "
            f"{_bounds_text(held.bounds)} in {first!r}, {_bounds_text(p.bounds)} in {other!r} "
            "(pass bounds='intersect' to use their intersection)",
            where="combine",
        )
    lo, hi = max(held.lower, p.lower), min(held.upper, p.upper)
    if not lo < hi:
        raise InvalidInputError(
            f"the bounds of parameter {name!r} do not intersect: {_bounds_text(held.bounds)} up to member "
            f"{first!r}, {_bounds_text(p.bounds)} in {other!r}",
            where="combine",
        )
    nominal = min(max(held.nominal, lo), hi)
    if new_range is not None:
        new_range = (max(new_range[0], lo), min(new_range[1], hi))
        new_range = new_range if new_range[0] <= new_range[1] else None
    merged = replace(held, bounds=(lo, hi), nominal=nominal, training_range=new_range, unit=held.unit or p.unit)
    return merged, (lo, hi)


def _fixed_of(m: Member) -> dict[str, float]:
    """``{name: value}`` of the parameters member ``m``'s source holds fixed (none when it says nothing)."""
    raw = getattr(m.source, "fixed_parameters", None)
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise InvalidInputError(
            f"its fixed_parameters must be a mapping name -> value, got {type(raw).__name__}",
            where=f"member {m.name!r}",
        )
    out = {}
    for name, value in raw.items():
        number = isinstance(value, (int, float, np.number)) and not isinstance(value, bool)
        if not isinstance(name, str) or not number or not math.isfinite(value):
            raise InvalidInputError(
                f"its fixed_parameters must map names to finite numbers, got {name!r}: {value!r}",
                where=f"member {m.name!r}",
            )
        out[name] = float(value)
    return out


def _check_fixed(members: Sequence[Member], names: Sequence[Sequence[str]]) -> dict[str, float]:
    """The members' fixed parameters, merged; refused where they clash (see the module docstring)."""
    fixed: dict[str, tuple[float, str]] = {}  # name -> (value, the first member fixing it)
    for m in members:
        for name, value in _fixed_of(m).items():
            if name in (p.name for p in m.parameters):
                raise InvalidInputError(
                    f"member {m.name!r} both fixes parameter {name!r} (at {value:g}) and has it free", where="combine"
                )
            held = fixed.setdefault(name, (value, m.name))
            if held[0] != value:
                raise InvalidInputError(
                    f"members {held[1]!r} and {m.name!r} fix parameter {name!r} at different values: {held[0]:g} in "
                    f"{held[1]!r}, {value:g} in {m.name!r}",
                    where="combine",
                )
    for m, combined_names in zip(members, names, strict=True):
        for name in combined_names:
            if name in fixed:
                value, by = fixed[name]
                raise InvalidInputError(
                    f"member {by!r} fixes parameter {name!r} at {value:g}, but member {m.name!r} has it free; "
                    "rename one of them if they are different parameters",
                    where="combine",
                )
    return {name: value for name, (value, _) in fixed.items()}


def layout(members: Sequence[Member], names: Sequence[Sequence[str]], bounds: str = "strict") -> Layout:
    """The combined parameter list, and each member's columns in it.

    Args:
        members: the checked members.
        names: each member's parameter names in the combination (:func:`member_names`).
        bounds: ``"strict"`` or ``"intersect"`` (see the module docstring).

    Returns:
        The :class:`Layout`.

    Raises:
        InvalidInputError: an unknown ``bounds`` mode, shared parameters that
            disagree, or fixed parameters that clash (the message names both
            members and the parameter).
    """
    if bounds not in BOUNDS_MODES:
        raise InvalidInputError(f"must be one of {list(BOUNDS_MODES)}, got {bounds!r}", where="bounds")
    out = Layout(fixed=_check_fixed(members, names))
    index: dict[str, int] = {}
    for i, (m, combined_names) in enumerate(zip(members, names, strict=True)):
        cols = []
        out.renamed.append({p.name: n for p, n in zip(m.parameters, combined_names, strict=True) if p.name != n})
        for p, name in zip(m.parameters, combined_names, strict=True):
            j = index.get(name)
            if j is None:
                index[name] = j = len(out.parameters)
                out.parameters.append(replace(p, name=name))
                out.holders.append([i])
            else:
                first = members[out.holders[j][0]].name
                merged, cut = _merge(out.parameters[j], first, p, m.name, name, bounds)
                out.parameters[j] = merged
                out.holders[j].append(i)
                if cut is not None:
                    out.intersected[name] = cut
            cols.append(j)
        out.columns.append(np.array(cols, dtype=np.intp))
    return out
