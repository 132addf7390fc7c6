"""Reinterpretation: a likelihood over a new model's parameters, through the signal strengths it predicts.

A model of the user's own (a mass ``m``, a coupling ``g``) predicts for each
analysis the signal strength it would see, ``mu_i(m, g)``. The reinterpreted
log-density is the base's (a :class:`~dnnlik.combine.Combination`, one bundle,
a reference likelihood) with each mapped parameter computed from the new ones:

``log p(new, theta) = log p_base(mu_1(new), mu_2(new), ..., theta) + sum_k c_k(new_k)``

where ``theta`` are the base's other parameters, passed through, and ``c_k``
the constraint term a new parameter declares (none by default). The gradient
is the chain rule: ``d/d new_k = sum_i d log p_base / d mu_i * d mu_i / d new_k``.

>>> from dnnlik import likelihoods
>>> from dnnlik.combine import reinterpret
>>> model = reinterpret(likelihoods.get("toy-lhc-like"), [("g", 0.0, 2.0, 1.0)], {"mu": {"power": ["g", 2]}})
>>> model.parameter_names[:2], bool(model.logpdf({"g": 0.5}) == model.base.logpdf({"mu": 0.25}))
(('g', 'mcstat_0'), True)

A signal strength is a declarative expression (:mod:`dnnlik.combine.expressions`;
the form a combination file stores) or a Python callable
``f({name: (N,) array}) -> (N,) array``, with an optional exact gradient
``g({name: (N,) array}) -> {name: (N,) array}`` (central finite differences
otherwise, and ``exact_gradient`` is False). Points outside a new parameter's
bounds, and points where a signal strength falls outside its target's bounds
or is infinite, have log-density ``-inf`` (gradient NaN), as everywhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..parameters import Parameter
from ..points import as_points
from .combination import COMBINED_OUTPUT, Combination
from .constraints import term_grad, term_logpdf
from .expressions import Expression
from .mapping import mapping_from_json, new_parameter, unused_parameters
from .members import describe_source, resolve_members
from .tables import Table, parse_tables
from .targets import CallableStrength

__all__ = ["Reinterpretation", "reinterpret", "mapping_from_json"]

Strength = Expression | CallableStrength


class Reinterpretation:
    """A base log-density re-expressed in a new model's parameters: a :class:`~dnnlik.density.LogDensity`.

    Its parameters are the new ones first, then every base parameter that is
    not mapped, in the base's order. See the module docstring for the formula.

    Args:
        base: any log-density of kind likelihood (a combination, a bundle, a reference
            likelihood), or anything :func:`dnnlik.load` reads. One whose output
            convention is not :data:`~dnnlik.combine.COMBINED_OUTPUT` (an offset, constraint
            terms left out) is first made so, as a one-member combination.
        parameters: the new model's parameters: :class:`~dnnlik.parameters.Parameter`
            objects, or ``(name, lower, upper[, nominal])`` (role ``poi``, no constraint,
            nominal default the middle of finite bounds); ``None`` for an open side.
        signal_strengths: ``{base parameter: expression or callable}``.
        gradient: ``{base parameter: gradient callable}`` for callable signal strengths.
        name: the reinterpretation's name.
        tables: ``{name: table}`` that expressions may name (JSON objects or parsed tables).

    Raises:
        InvalidInputError: one message naming the target or parameter: a target that is not
            a base parameter; a base ``poi`` left unmapped; an expression naming an unknown
            parameter or table; a new parameter no expression reads; duplicate names or a
            new name that is also a remaining base parameter; a gradient for a target that
            has no callable; a malformed parameter, table or expression.
    """

    kind = "likelihood"

    def __init__(
        self,
        base: Any,
        parameters: Sequence[Parameter | Sequence[Any]],
        signal_strengths: Mapping[str, Any],
        *,
        gradient: Mapping[str, Callable[..., Any]] | None = None,
        name: str = "reinterpretation",
        tables: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise InvalidInputError(f"must be a non-empty string, got {name!r}", where="name")
        self.name = name
        (member,) = resolve_members([base], None)
        source: Any = member.source
        if member.output != dict(COMBINED_OUTPUT):  # remove its offset, add its missing terms
            source = Combination([source], names=[member.name], name=member.name)
        self.base = source
        base_params: tuple[Parameter, ...] = tuple(source.parameters)
        if isinstance(parameters, (str, bytes)) or not isinstance(parameters, Sequence) or not parameters:
            raise InvalidInputError("must be a non-empty list of the new model's parameters", where="parameters")
        new = [new_parameter(item, i) for i, item in enumerate(parameters)]
        names = [p.name for p in new]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise InvalidInputError(f"duplicate parameter names {twice}", where="parameters")
        self._strengths = self._parse_strengths(signal_strengths, gradient, new, parse_tables(tables), base_params)
        clash = [p.name for p in base_params if p.name in names and p.name not in self._strengths]
        if clash:
            raise InvalidInputError(
                f"new parameter {clash[0]!r} is also a parameter of the base that is not mapped; rename one",
                where="parameters",
            )
        base_names = [p.name for p in base_params]
        self._targets = np.array([base_names.index(t) for t in self._strengths], dtype=np.intp)
        kept = [j for j, p in enumerate(base_params) if p.name not in self._strengths]
        self._kept = np.array(kept, dtype=np.intp)
        self._target_nominal = np.array([base_params[j].nominal for j in self._targets])
        self.parameters: tuple[Parameter, ...] = tuple(new) + tuple(base_params[j] for j in kept)
        self._k = len(new)
        self._lower = np.array([p.lower for p in new])
        self._upper = np.array([p.upper for p in new])
        self._constrained = [(k, p) for k, p in enumerate(new) if p.constraint.type != "none"]

    @staticmethod
    def _parse_strengths(
        strengths: Any,
        gradient: Mapping[str, Any] | None,
        new: list[Parameter],
        tables: dict[str, Table],
        base_params: tuple[Parameter, ...],
    ) -> dict[str, Strength]:
        if not isinstance(strengths, Mapping) or not strengths:
            raise InvalidInputError(
                "must be a non-empty mapping {base parameter: expression}", where="signal_strengths"
            )
        base_names = [p.name for p in base_params]
        gradient = dict(gradient or {})
        out: dict[str, Strength] = {}
        section = "signal_strengths"
        for target, item in strengths.items():
            where = f"{section}/{target}"
            if isinstance(item, Expression):  # from a file: its errors name the place in the file
                where = item.where
                if where.endswith(f"/signal_strengths/{target}"):
                    section = where[: -len(target) - 1]
            if target not in base_names:
                raise InvalidInputError(
                    f"{target!r} is not a parameter of the base; its parameters: {base_names[:8]}"
                    + (" ..." if len(base_names) > 8 else ""),
                    where=where,
                )
            if isinstance(item, Expression):
                out[target] = Expression(item.source, new, {**tables, **item.tables}, where=item.where)
            elif callable(item):
                out[target] = CallableStrength(item, gradient.pop(target, None), new, where=where)
            else:
                out[target] = Expression(item, new, tables, where=where)
        if gradient:
            extra = next(iter(gradient))
            raise InvalidInputError(
                f"{extra!r} has no callable signal strength to be the gradient of", where="gradient"
            )
        unmapped = [p.name for p in base_params if p.role == "poi" and p.name not in out]
        if unmapped:
            raise InvalidInputError(
                f"the base's parameter(s) of interest {unmapped} are left unmapped; give each a signal strength",
                where=section,
            )
        if all(isinstance(s, Expression) for s in out.values()):  # a callable may read any parameter
            unused = unused_parameters(new, [s for s in out.values() if isinstance(s, Expression)])
            if unused:
                raise InvalidInputError(
                    f"parameter {unused[0]!r} is read by no signal strength: it would be a flat direction "
                    "of the likelihood",
                    where=section.removesuffix("signal_strengths") + "parameters",
                )
        return out

    # ------------------------------------------------------------------ identity
    @property
    def parameter_names(self) -> tuple[str, ...]:
        """The parameters' names: the new model's, then the base's unmapped ones."""
        return tuple(p.name for p in self.parameters)

    @property
    def n_parameters(self) -> int:
        """The number of parameters."""
        return len(self.parameters)

    @property
    def output(self) -> dict[str, Any]:
        """What :meth:`logpdf` is: a log-likelihood with every constraint term, no offset."""
        return dict(COMBINED_OUTPUT)

    @property
    def exact_gradient(self) -> bool:
        """True when the base's gradient and every signal strength's are exact (no finite differences)."""
        return bool(self.base.exact_gradient) and all(s.exact_gradient for s in self._strengths.values())

    @property
    def signal_strengths(self) -> dict[str, Strength]:
        """``{base parameter: its compiled expression or callable}``."""
        return dict(self._strengths)

    def __repr__(self) -> str:
        return f"<Reinterpretation {self.name}: {list(self._strengths)} of {getattr(self.base, 'name', 'base')}>"

    # ------------------------------------------------------------------ evaluation
    def _base_points(self, points: np.ndarray, grad: bool) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """The base's points, the rows that are -inf whatever the base says, and each target's (N, K) gradient."""
        k = self._k
        x_new = np.clip(points[:, :k], self._lower, self._upper)
        bad = np.any((points[:, :k] < self._lower) | (points[:, :k] > self._upper), axis=1)
        y = np.empty((points.shape[0], len(self._targets) + self._kept.size))
        y[:, self._kept] = points[:, k:]
        jacobians = []
        for j, strength in zip(self._targets, self._strengths.values(), strict=True):
            if grad:
                value, jac = strength.value_and_grad(x_new)
                jacobians.append(jac)
            else:
                value = strength.value(x_new)
            y[:, j] = value
            bad |= ~np.isfinite(value)
        if bad.any():
            y[np.ix_(bad, self._targets)] = self._target_nominal  # any point the base accepts
        return y, bad, jacobians

    def _terms(self, points: np.ndarray, total: np.ndarray, grad: np.ndarray | None) -> None:
        """Add the new parameters' own constraint terms (and their derivatives), in place."""
        for k, p in self._constrained:
            x = points[:, k]
            total += term_logpdf(p.constraint, p.bounds, x)
            if grad is not None:
                grad[:, k] += term_grad(p.constraint, x)

    def logpdf(self, x: Any) -> np.ndarray:
        """The log-density at the point(s) ``x``.

        Args:
            x: an (N, P) array, one length-P point, or a ``{name: value or array}`` mapping
                (missing names at their nominal value).

        Returns:
            float64 (N,), or a scalar for one point; ``-inf`` outside the bounds, where a
            signal strength leaves its target's bounds or is infinite.

        Raises:
            InvalidInputError: ``x`` is malformed; a callable signal strength returned NaN or a
                wrong shape; a negative base of a non-integer power.
        """
        points, single = as_points(x, self.parameters)
        y, bad, _ = self._base_points(points, grad=False)
        total = np.array(self.base.logpdf(y), dtype=np.float64, copy=True).reshape(-1)
        self._terms(points, total, None)
        total[bad] = -np.inf
        return total[0] if single else total

    def grad_logpdf(self, x: Any) -> np.ndarray:
        """The gradient of :meth:`logpdf` (chain rule through the signal strengths).

        Args:
            x: the point(s), as for :meth:`logpdf`.

        Returns:
            float64 (N, P), or (P,) for one point; NaN rows where the log-density is ``-inf``.

        Raises:
            InvalidInputError: as :meth:`logpdf`.
            NoGradientError: the base has no gradient.
        """
        return self.logpdf_and_grad(x)[1]

    def logpdf_and_grad(self, x: Any) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`logpdf` and :meth:`grad_logpdf` at once (one call of the base).

        Args:
            x: the point(s), as for :meth:`logpdf`.

        Returns:
            ``(logpdf, grad_logpdf)``, shaped as those methods return them.

        Raises:
            InvalidInputError: as :meth:`logpdf`.
            NoGradientError: the base has no gradient.
        """
        points, single = as_points(x, self.parameters)
        y, bad, jacobians = self._base_points(points, grad=True)
        both = getattr(self.base, "logpdf_and_grad", None)
        value, base_grad = both(y) if callable(both) else (self.base.logpdf(y), self.base.grad_logpdf(y))
        total = np.array(value, dtype=np.float64, copy=True).reshape(-1)
        base_grad = np.asarray(base_grad, dtype=np.float64).reshape(y.shape)
        grad = np.empty(points.shape)
        grad[:, self._k :] = base_grad[:, self._kept]
        with np.errstate(invalid="ignore", over="ignore"):
            chain = np.zeros((points.shape[0], self._k))
            for j, jac in zip(self._targets, jacobians, strict=True):
                chain += base_grad[:, j, None] * jac
        grad[:, : self._k] = chain
        self._terms(points, total, grad)
        total[bad] = -np.inf
        grad[np.isneginf(total)] = np.nan
        return (total[0], grad[0]) if single else (total, grad)

    # ------------------------------------------------------------------ description
    def describe(self) -> dict[str, Any]:
        """What the reinterpretation is, JSON-ready.

        Returns:
            ``name``, ``class``, ``base`` (its description), ``parameters`` (the new ones, as
            JSON entries), ``signal_strengths`` (each target's expression, or its callable and
            whether its gradient is exact or finite differences), ``tables`` (those read),
            ``passed_through`` (how many base parameters), ``output`` and ``exact_gradient``.
        """
        tables: dict[str, Any] = {}
        strengths: dict[str, Any] = {}
        for target, s in self._strengths.items():
            if isinstance(s, Expression):
                strengths[target] = {"expression": s.source}
                tables.update({n: t.to_json() for n, t in s.tables.items()})
            else:
                strengths[target] = s.describe()
        return {
            "name": self.name,
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "n_parameters": self.n_parameters,
            "base": describe_source(self.base),
            "parameters": [p.to_json() for p in self.parameters[: self._k]],
            "signal_strengths": strengths,
            "tables": tables,
            "passed_through": int(self._kept.size),
            "output": self.output,
            "exact_gradient": self.exact_gradient,
        }

    def summary(self) -> str:
        """A readable multi-line summary of :meth:`describe`.

        Returns:
            The new parameters, each signal strength, and what is passed through, as text.
        """
        info = self.describe()
        new = ", ".join(f"{p['name']} in [{p['bounds'][0]}, {p['bounds'][1]}]" for p in info["parameters"])
        lines = [f"{self.name}: {self.n_parameters} parameters; new model: {new}"]
        for target, s in info["signal_strengths"].items():
            if "expression" in s:
                lines.append(f"  {target} = {s['expression']}")
            else:
                lines.append(f"  {target} = {s['callable']} (gradient: {s['gradient']})")
        lines.append(f"  passed through from the base: {info['passed_through']} parameters")
        if not info["exact_gradient"]:
            lines.append("  gradient: not exact (finite differences somewhere)")
        return "\n".join(lines)


def reinterpret(
    base: Any,
    parameters: Sequence[Parameter | Sequence[Any]],
    signal_strengths: Mapping[str, Any],
    *,
    gradient: Mapping[str, Callable[..., Any]] | None = None,
    name: str = "reinterpretation",
    tables: Mapping[str, Any] | None = None,
) -> Reinterpretation:
    """The base likelihood as a function of a new model's parameters (see :class:`Reinterpretation`).

    Args:
        base: a combination, bundle, reference likelihood, or anything :func:`dnnlik.load` reads.
        parameters: the new parameters: :class:`~dnnlik.parameters.Parameter` or
            ``(name, lower, upper[, nominal])``.
        signal_strengths: ``{base parameter: declarative expression or callable}``.
        gradient: ``{base parameter: callable}``, exact gradients of callable signal strengths.
        name: the result's name.
        tables: ``{name: table}`` the expressions may read.

    Returns:
        The :class:`Reinterpretation`.

    Raises:
        InvalidInputError: see :class:`Reinterpretation`.
    """
    return Reinterpretation(base, parameters, signal_strengths, gradient=gradient, name=name, tables=tables)
