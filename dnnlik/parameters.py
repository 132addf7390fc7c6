"""Parameter metadata shared by bundles and reference likelihoods.

A :class:`Parameter` carries the same fields as an entry of a bundle's
``parameters`` array (spec/README.md, section "parameters"). JSON has no
infinity, so an unbounded side is written ``null`` there and held as
``-inf``/``+inf`` here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

__all__ = ["Constraint", "Parameter", "parameters_from_json", "parameters_to_json", "ROLES", "CONSTRAINT_TYPES"]

ROLES = ("poi", "nuisance", "auxiliary")
"""Allowed parameter roles: parameters of interest, nuisance parameters, anything else."""

ConstraintType = Literal["none", "normal", "lognormal", "uniform", "gamma"]

CONSTRAINT_TYPES: tuple[ConstraintType, ...] = ("none", "normal", "lognormal", "uniform", "gamma")
"""Every constraint type a bundle may declare (``gamma`` since format 1.1.0)."""


@dataclass(frozen=True)
class Constraint:
    """The constraint (prior) term a parameter carries in the likelihood.

    ``normal``/``lognormal`` use ``mean`` and ``sigma``; ``gamma`` (format
    1.1.0: HistFactory's ``shapesys``, an auxiliary Poisson count ``aux``
    observed with mean ``tau * x``) uses ``tau`` and ``aux`` (``aux`` absent:
    ``tau``); ``uniform`` uses the parameter's bounds; ``none`` means the
    likelihood has no term for it.

    >>> Constraint("gamma", tau=25.0).to_json()
    {'type': 'gamma', 'tau': 25.0}
    >>> Constraint("gamma", tau=25.0).resolved() == Constraint("gamma", tau=25.0, aux=25.0)
    True

    Attributes:
        type: one of :data:`CONSTRAINT_TYPES`.
        mean: the centre of a normal (or the median of a lognormal) term.
        sigma: its width (a lognormal's in log space).
        tau: a gamma term's rate: the auxiliary count's mean is ``tau * x``.
        aux: a gamma term's observed auxiliary count; None means ``tau``.
    """

    type: ConstraintType = "none"
    mean: float | None = None
    sigma: float | None = None
    tau: float | None = None
    aux: float | None = None

    def resolved(self) -> Constraint:
        """The same term with its defaults written out (a gamma's absent ``aux`` is ``tau``).

        Two constraints describe the same term exactly when their ``resolved()`` are equal.

        Returns:
            A constraint equal to this one but for the filled-in default.
        """
        if self.type == "gamma" and self.aux is None:
            return replace(self, aux=self.tau)
        return self

    def to_json(self) -> dict[str, Any]:
        """A parameter's ``constraint`` object in ``bundle.json``.

        Returns:
            ``{"type"}``, with ``mean``/``sigma`` for normal and lognormal, ``tau``
            (and ``aux`` when given) for gamma.
        """
        out: dict[str, Any] = {"type": self.type}
        if self.type in ("normal", "lognormal"):
            out["mean"] = self.mean
            out["sigma"] = self.sigma
        elif self.type == "gamma":
            out["tau"] = self.tau
            if self.aux is not None:
                out["aux"] = self.aux
        return out

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Constraint:
        """The constraint stored as ``obj`` (schema-valid: ``type`` present; no further check).

        Args:
            obj: a parameter's ``constraint`` object.

        Returns:
            The constraint.

        Raises:
            KeyError: ``obj`` has no ``type``.
        """
        return cls(
            type=obj["type"], mean=obj.get("mean"), sigma=obj.get("sigma"), tau=obj.get("tau"), aux=obj.get("aux")
        )


def _bound_to_json(value: float) -> float | None:
    return None if math.isinf(value) else value


def _bound_from_json(value: float | None, default: float) -> float:
    return default if value is None else float(value)


@dataclass(frozen=True)
class Parameter:
    """One parameter of a likelihood, in the order the model takes them.

    >>> mu = Parameter("mu", "poi", bounds=(0.0, 10.0), nominal=1.0)
    >>> mu.lower, mu.upper, mu.to_json()["bounds"]
    (0.0, 10.0, [0.0, 10.0])
    >>> Parameter("theta").to_json()["bounds"]  # unbounded: null in JSON
    [None, None]

    Attributes:
        name: the parameter's name (a bundle allows letters, digits, '_', '.', ':', '-').
        role: ``"poi"``, ``"nuisance"`` or ``"auxiliary"`` (:data:`ROLES`).
        bounds: ``(lower, upper)``; ``-inf``/``+inf`` for an open side. Points
            outside have log-likelihood ``-inf``.
        nominal: the value used when a point does not give it.
        training_range: the range the training samples covered, when known.
        constraint: the parameter's constraint term in the likelihood.
        unit: its unit, if any.
        description: what it is, in words.
    """

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
        """The lower bound (``-inf`` when there is none)."""
        return self.bounds[0]

    @property
    def upper(self) -> float:
        """The upper bound (``+inf`` when there is none)."""
        return self.bounds[1]

    def to_json(self) -> dict[str, Any]:
        """The entry of ``bundle.json``'s ``parameters`` array (infinite bounds as ``null``)."""
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
        """The parameter stored as ``obj``, an entry of a schema-valid ``parameters`` array.

        Raises:
            KeyError: ``name``, ``role``, ``bounds`` or ``nominal`` is missing.
            ValueError: a bound or the nominal value is not a number (TypeError for a null nominal).
        """
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
    """Parameters from the ``parameters`` array of a (schema-valid) ``bundle.json``.

    Args:
        items: the array's entries.

    Returns:
        The parameters, in order.

    Raises:
        KeyError: an entry lacks a required member (see :meth:`Parameter.from_json`).
        ValueError: a bound or nominal value is not a number.
    """
    return tuple(Parameter.from_json(item) for item in items)


def parameters_to_json(params: Sequence[Parameter]) -> list[dict[str, Any]]:
    """The ``parameters`` array of ``bundle.json`` for these parameters.

    Args:
        params: the parameters, in order.

    Returns:
        One JSON object per parameter (:meth:`Parameter.to_json`).
    """
    return [p.to_json() for p in params]
