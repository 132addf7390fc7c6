"""Parameter metadata shared by bundles and reference likelihoods.

A :class:`Parameter` carries the same fields as an entry of a bundle's
``parameters`` array (spec/README.md, section "parameters"). JSON has no
infinity, so an unbounded side is written ``null`` there and held as
``-inf``/``+inf`` here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Constraint", "Parameter", "parameters_from_json", "parameters_to_json", "ROLES"]

ROLES = ("poi", "nuisance", "auxiliary")
"""Allowed parameter roles: parameters of interest, nuisance parameters, anything else."""

ConstraintType = Literal["none", "normal", "lognormal", "uniform"]


@dataclass(frozen=True)
class Constraint:
    """The constraint (prior) term a parameter carries in the likelihood.

    ``normal``/``lognormal`` use ``mean`` and ``sigma``; ``uniform`` uses the
    parameter's bounds; ``none`` means the likelihood has no term for it.
    """

    type: ConstraintType = "none"
    mean: float | None = None
    sigma: float | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.type in ("normal", "lognormal"):
            out["mean"] = self.mean
            out["sigma"] = self.sigma
        return out

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Constraint:
        return cls(type=obj["type"], mean=obj.get("mean"), sigma=obj.get("sigma"))


def _bound_to_json(value: float) -> float | None:
    return None if math.isinf(value) else value


def _bound_from_json(value: float | None, default: float) -> float:
    return default if value is None else float(value)


@dataclass(frozen=True)
class Parameter:
    """One parameter of a likelihood, in the order the model takes them."""

    name: str
    role: str = "nuisance"
    bounds: tuple[float, float] = (-math.inf, math.inf)
    nominal: float = 0.0
    training_range: tuple[float, float] | None = None
    constraint: Constraint = field(default_factory=Constraint)
    unit: str = ""
    description: str = ""

    @property
    def lower(self) -> float:
        return self.bounds[0]

    @property
    def upper(self) -> float:
        return self.bounds[1]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "role": self.role,
            "bounds": [_bound_to_json(self.lower), _bound_to_json(self.upper)],
            "nominal": self.nominal,
            "constraint": self.constraint.to_json(),
            "unit": self.unit,
            "description": self.description,
        }
        if self.training_range is not None:
            out["training_range"] = list(self.training_range)
        return out

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Parameter:
        lo, hi = obj["bounds"]
        tr = obj.get("training_range")
        return cls(
            name=obj["name"],
            role=obj["role"],
            bounds=(_bound_from_json(lo, -math.inf), _bound_from_json(hi, math.inf)),
            nominal=float(obj["nominal"]),
            training_range=None if tr is None else (float(tr[0]), float(tr[1])),
            constraint=Constraint.from_json(obj.get("constraint", {"type": "none"})),
            unit=obj.get("unit", ""),
            description=obj.get("description", ""),
        )


def parameters_from_json(items: Sequence[Mapping[str, Any]]) -> tuple[Parameter, ...]:
    """Parameters from the ``parameters`` array of a (schema-valid) ``bundle.json``."""
    return tuple(Parameter.from_json(item) for item in items)


def parameters_to_json(params: Sequence[Parameter]) -> list[dict[str, Any]]:
    """The ``parameters`` array of ``bundle.json`` for these parameters."""
    return [p.to_json() for p in params]
