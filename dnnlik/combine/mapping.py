"""The new model of a reinterpretation: its parameters, checked, and the mapping section of a combination file.

The section (spec/combination.md, section 3;
``spec/schemas/combination/1.0.0/reinterpretation.schema.json``)::

    {"parameters": [{"name": "m", "bounds": [200, 1000], "nominal": 500, "unit": "GeV"},
                    {"name": "g", "bounds": [0, 3], "nominal": 1}],
     "tables": {"xsec_ratio": {"inputs": ["m"], "grid": [[200, 600, 1000]], "values": [2.0, 0.6, 0.3]}},
     "signal_strengths": {"mu": {"product": [{"table": "xsec_ratio"}, {"power": ["g", 2]}]}}}

A parameter entry is a bundle's (spec 3.2) with ``role`` optional (default
``poi``) and ``constraint`` optional (default none); ``training_range`` has no
meaning here and is refused. Keys starting with ``x-`` are ignored.

>>> import numpy as np
>>> params, mus = mapping_from_json({"parameters": [{"name": "g", "bounds": [0, 2], "nominal": 1}],
...                                  "signal_strengths": {"mu": {"power": ["g", 2]}}})
>>> params[0].role, mus["mu"].value(np.array([[1.5]])).tolist()
('poi', [2.25])
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeGuard

from ..errors import InvalidInputError
from ..parameters import ROLES, Constraint, Parameter
from .expressions import Expression
from .tables import NAME_PATTERN, is_number, parse_tables

__all__ = ["mapping_from_json", "parameter_from_json", "new_parameter", "check_new_parameter", "unused_parameters"]

_SECTION_KEYS = ("parameters", "tables", "signal_strengths")
_PARAMETER_KEYS = ("name", "role", "bounds", "nominal", "constraint", "unit", "description")
_CONSTRAINT_TYPES = ("none", "normal", "lognormal", "uniform")


def _unknown_keys(obj: Mapping[str, Any], allowed: Sequence[str], what: str, where: str, *, x: bool = True) -> None:
    """Refuse a key not in ``allowed`` (but one starting with ``x-`` when ``x``)."""
    extra = [k for k in obj if k not in allowed and not (x and isinstance(k, str) and k.startswith("x-"))]
    if extra:
        raise InvalidInputError(f"unknown key {extra[0]!r}; {what} has {', '.join(allowed)}", where=where)


def _finite(value: object) -> TypeGuard[float]:
    return is_number(value) and math.isfinite(float(value))  # type: ignore[arg-type]


def check_new_parameter(p: Parameter, where: str) -> None:
    """Refuse a new-model parameter that no log-density could have.

    Args:
        p: the parameter.
        where: its place, for the message.

    Raises:
        InvalidInputError: an empty name, an unknown role, bounds not ``lower < upper``, a
            nominal value that is not finite or outside the bounds, or a malformed constraint.
    """
    if not isinstance(p.name, str) or not p.name:
        raise InvalidInputError(f"a parameter's name must be a non-empty string, got {p.name!r}", where=where)
    if p.role not in ROLES:
        raise InvalidInputError(f"parameter {p.name!r}: role {p.role!r} is not one of {list(ROLES)}", where=where)
    lo, hi = p.bounds
    if not lo < hi:
        raise InvalidInputError(f"parameter {p.name!r}: bounds [{lo}, {hi}] must have lower < upper", where=where)
    if not (math.isfinite(p.nominal) and lo <= p.nominal <= hi):
        raise InvalidInputError(
            f"parameter {p.name!r}: nominal {p.nominal} must be a finite number inside [{lo:.12g}, {hi:.12g}]",
            where=where,
        )
    c = p.constraint
    if c.type in ("normal", "lognormal"):
        mean, sigma = c.mean, c.sigma
        if not (_finite(mean) and _finite(sigma) and sigma > 0 and (c.type == "normal" or mean > 0)):
            raise InvalidInputError(
                f"parameter {p.name!r}: a {c.type} constraint needs a finite mean (> 0 for lognormal) and "
                f"0 < sigma < inf, got mean={c.mean!r}, sigma={c.sigma!r}",
                where=where,
            )
    elif c.type == "uniform" and not (math.isfinite(lo) and math.isfinite(hi)):
        raise InvalidInputError(f"parameter {p.name!r}: a uniform constraint needs finite bounds", where=where)
    elif c.type not in _CONSTRAINT_TYPES:
        raise InvalidInputError(f"parameter {p.name!r}: unknown constraint type {c.type!r}", where=where)


def _constraint_from_json(obj: Any, where: str) -> Constraint:
    if not isinstance(obj, Mapping) or obj.get("type") not in _CONSTRAINT_TYPES:
        raise InvalidInputError(f"must be an object with type one of {list(_CONSTRAINT_TYPES)}", where=where)
    _unknown_keys(obj, ("type", "mean", "sigma"), "a constraint", where, x=False)
    kind = obj["type"]
    if kind in ("normal", "lognormal"):
        for key in ("mean", "sigma"):
            if not is_number(obj.get(key)):
                raise InvalidInputError(f"a {kind} constraint needs a number {key}", where=f"{where}/{key}")
        return Constraint(kind, float(obj["mean"]), float(obj["sigma"]))
    if "mean" in obj or "sigma" in obj:
        raise InvalidInputError(f"a {kind} constraint has no mean or sigma", where=where)
    return Constraint(kind)


def parameter_from_json(obj: Any, where: str) -> Parameter:
    """A new-model parameter from its JSON entry (a bundle's parameter entry; role defaults to ``poi``).

    Args:
        obj: ``{"name", "bounds", "nominal"}`` and optionally ``role``, ``constraint``, ``unit``, ``description``.
        where: its path, for messages.

    Returns:
        The parameter.

    Raises:
        InvalidInputError: a missing, unknown or ill-typed key, or a parameter
            :func:`check_new_parameter` refuses.
    """
    if not isinstance(obj, Mapping):
        raise InvalidInputError(f"a parameter must be an object, got {type(obj).__name__}", where=where)
    _unknown_keys(obj, _PARAMETER_KEYS, "a parameter", where)
    for key in ("name", "bounds", "nominal"):
        if key not in obj:
            raise InvalidInputError(f"missing key {key!r}", where=where)
    name = obj["name"]
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise InvalidInputError(
            f"{name!r} is not a name: a letter or '_' then letters, digits, '_', '.', ':' or '-' (<= 128)",
            where=f"{where}/name",
        )
    bounds = obj["bounds"]
    if not isinstance(bounds, list) or len(bounds) != 2 or not all(b is None or is_number(b) for b in bounds):
        raise InvalidInputError(f"must be [lower, upper], numbers or null, got {bounds!r}", where=f"{where}/bounds")
    if not is_number(obj["nominal"]):
        raise InvalidInputError(f"must be a number, got {obj['nominal']!r}", where=f"{where}/nominal")
    for key, limit in (("role", 16), ("unit", 64), ("description", 100_000)):
        if key in obj and (not isinstance(obj[key], str) or len(obj[key]) > limit):
            raise InvalidInputError(f"must be a string of at most {limit} characters", where=f"{where}/{key}")
    p = Parameter(
        name=name,
        role=obj.get("role", "poi"),
        bounds=(
            -math.inf if bounds[0] is None else float(bounds[0]),
            math.inf if bounds[1] is None else float(bounds[1]),
        ),
        nominal=float(obj["nominal"]),
        constraint=_constraint_from_json(obj["constraint"], f"{where}/constraint")
        if "constraint" in obj
        else Constraint(),
        unit=obj.get("unit", ""),
        description=obj.get("description", ""),
    )
    check_new_parameter(p, where)
    return p


def new_parameter(item: Any, index: int) -> Parameter:
    """A new-model parameter given in Python, checked.

    Args:
        item: a :class:`~dnnlik.parameters.Parameter`, or ``(name, lower, upper[, nominal])``
            (role ``poi``, no constraint; ``None`` for an open side; nominal default the
            middle of finite bounds, else 0).
        index: its place in the list, for messages.

    Returns:
        The parameter.

    Raises:
        InvalidInputError: neither form, or a parameter :func:`check_new_parameter` refuses.
    """
    where = f"parameters[{index}]"
    if isinstance(item, Parameter):
        p = item
    elif isinstance(item, (tuple, list)) and len(item) in (3, 4) and isinstance(item[0], str):
        try:
            lo, hi = (
                (-math.inf if item[1] is None else float(item[1])),
                (math.inf if item[2] is None else float(item[2])),
            )
            nominal = float(item[3]) if len(item) == 4 else (lo + hi) / 2 if math.isfinite(lo + hi) else 0.0
        except (TypeError, ValueError):
            raise InvalidInputError(f"bounds and nominal must be numbers, got {item!r}", where=where) from None
        p = Parameter(item[0], "poi", (lo, hi), nominal=nominal)
    else:
        raise InvalidInputError(
            f"expected a Parameter or (name, lower, upper[, nominal]), got {item!r:.80}", where=where
        )
    check_new_parameter(p, where)
    return p


def unused_parameters(parameters: Iterable[Parameter], expressions: Iterable[Expression]) -> list[str]:
    """The names of the parameters that no expression reads (each would be a flat direction).

    Args:
        parameters: the new model's parameters.
        expressions: the signal strengths' expressions.

    Returns:
        The unused names, in the parameters' order.
    """
    used: set[str] = set()
    for e in expressions:
        used |= e.used_parameters
    return [p.name for p in parameters if p.name not in used]


def mapping_from_json(
    section: Mapping[str, Any], where: str = "reinterpretation"
) -> tuple[list[Parameter], dict[str, Expression]]:
    """The new parameters and the signal strengths of a combination file's reinterpretation section.

    Args:
        section: the parsed section (read with the bounded JSON reader), see the module docstring.
        where: its path in the file, the start of every message's place.

    Returns:
        ``(parameters, {target: Expression})``, ready for :func:`~dnnlik.combine.reinterpret`.

    Raises:
        InvalidInputError: one message, its place the JSON path of the problem: a missing,
            unknown or ill-typed key; a bad or repeated parameter; a malformed table or
            expression; an expression naming an unknown parameter or table; a parameter whose
            bounds leave the grid of a table that reads it; a parameter no expression reads.
    """
    if not isinstance(section, Mapping):
        raise InvalidInputError(f"must be an object, got {type(section).__name__}", where=where)
    _unknown_keys(section, _SECTION_KEYS, "the section", where)
    for key in ("parameters", "signal_strengths"):
        if key not in section:
            raise InvalidInputError(f"missing key {key!r}", where=where)
    items = section["parameters"]
    if not isinstance(items, list) or not items:
        raise InvalidInputError("must be a non-empty list of parameters", where=f"{where}/parameters")
    params = [parameter_from_json(item, f"{where}/parameters/{i}") for i, item in enumerate(items)]
    names = [p.name for p in params]
    for i, n in enumerate(names):
        if n in names[:i]:
            raise InvalidInputError(f"parameter {n!r} is declared twice", where=f"{where}/parameters/{i}/name")
    tables = parse_tables(section.get("tables", {}), f"{where}/tables")
    strengths = section["signal_strengths"]
    if not isinstance(strengths, Mapping) or not strengths:
        raise InvalidInputError(
            "must be a non-empty object {base parameter: expression}", where=f"{where}/signal_strengths"
        )
    expressions = {}
    for target, tree in strengths.items():
        at = f"{where}/signal_strengths/{target}"
        if not isinstance(target, str) or not NAME_PATTERN.fullmatch(target):
            raise InvalidInputError(f"{target!r} is not a parameter name", where=at)
        expressions[target] = Expression(tree, params, tables, where=at)
    unused = unused_parameters(params, expressions.values())
    if unused:
        raise InvalidInputError(
            f"parameter {unused[0]!r} is read by no signal strength: it would be a flat direction of the likelihood",
            where=f"{where}/parameters/{names.index(unused[0])}",
        )
    return params, expressions
