"""The joint log-density of several likelihoods: :class:`Combination` and :func:`combine`.

>>> import dnnlik
>>> from dnnlik import likelihoods
>>> cats = [likelihoods.get(f"toy-lhc-like-cat{c}") for c in (1, 2, 3)]
>>> joint = dnnlik.combine(cats)
>>> len(joint.parameters), joint.parameter_names[:2], joint.exact_gradient
(95, ('mu', 'mcstat_0'), True)
>>> full = likelihoods.get("toy-lhc-like")
>>> x = {"mu": 0.5, "jes": 0.3}
>>> round(float(joint.logpdf(x) - full.logpdf(x)), 6)  # 2 log(6/5): mu's flat term, see toy_categories
0.364643

The combined log-density, for members ``i`` with outputs ``f_i`` (spec section
"Combining bundles"):

``log p(theta) = sum_i [f_i(theta_i) - offset_i] - sum_i sum_{j in i, i includes} c_ij(theta_j) + sum_j c_j(theta_j)``

where ``theta_i`` are member ``i``'s parameters (gathered from the combined
point, one ``take`` per member), ``c_ij`` the constraint term member ``i``
declares for parameter ``j`` and includes in its output, and ``c_j`` the
combined parameter's term (:mod:`dnnlik.combine.constraints`): each constraint
term is counted exactly once, whether its members included it (``k`` copies:
``k - 1`` removed) or not (added once). The result is a log-likelihood that
includes every constraint term, with no offset: its ``output`` says so, and a
combination can be a member of another.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..parameters import Parameter
from ..points import as_points
from .constraints import ConstraintCorrection, uniform_log_density
from .gather import MemberColumns
from .members import describe_source, resolve_members
from .names import SEPARATOR, layout, member_names

__all__ = ["Combination", "combine", "COMBINED_OUTPUT"]

COMBINED_OUTPUT: Mapping[str, Any] = {"quantity": "log-likelihood", "includes_constraints": True, "offset": 0.0}
"""What a combination's ``logpdf`` is: log L with every constraint term counted once, no offset."""

_Evaluate = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


CHUNK_ROWS = 8192
"""Rows per evaluation of the members: keeps each chunk's gathered points and gradients in the cache."""


def _bound(value: float) -> float | None:
    return None if not np.isfinite(value) else float(value)


class Combination:
    """The joint log-density of several members: a :class:`~dnnlik.density.LogDensity` like the others.

    ``infer`` (maxima, profiles, t_mu scans, intervals), ``sample`` and
    ``fidelity`` take it as they take a bundle. Parameters are matched by name
    (after ``renames``); ``separate`` keeps same-named ones apart; constraint
    terms are counted once and offsets removed (see the module docstring).

    The combined parameters are the first member's, in its order, then each
    further member's new ones in its order (:mod:`dnnlik.combine.names`).

    Args:
        members: the members: log-densities (bundles, reference likelihoods,
            combinations) or anything :func:`dnnlik.load` reads (a folder, a
            zip, ``zoo:NAME``, ``zenodo:RECORD``); a list, or a mapping
            ``{name: member}``.
        renames: ``{member name: {its parameter name: combined name}}``, or a
            list of ``{old: new}`` maps aligned with ``members``.
        separate: names (after renames) to keep apart: each member's copy is
            called ``"<member>:<name>"``.
        bounds: ``"strict"`` (shared parameters must declare equal bounds) or
            ``"intersect"`` (they get the intersection, which must not be empty).
        names: the members' names (default: each source's ``name``); used in
            messages, ``describe()``, ``renames`` keys and prefixes.
        name: the combination's own name (when it is a member of another).

    Raises:
        InvalidInputError: a member that cannot be multiplied (not a likelihood,
            an unknown offset, a log-posterior whose prior cannot be separated),
            repeated member names, a bad rename, or shared parameters that
            disagree on role, constraint, unit or bounds; the message names the
            members and the parameter.
        InvalidBundleError: a member given as a path fails validation.
    """

    kind = "likelihood"

    def __init__(
        self,
        members: Sequence[Any] | Mapping[str, Any],
        *,
        renames: Mapping[str, Mapping[str, str]] | Sequence[Mapping[str, str] | None] | None = None,
        separate: Iterable[str] = (),
        bounds: str = "strict",
        names: Sequence[str] | None = None,
        name: str = "combination",
    ) -> None:
        if not isinstance(name, str) or not name:
            raise InvalidInputError(f"must be a non-empty string, got {name!r}", where="name")
        self.name = name
        self._members = tuple(resolve_members(members, names))
        lay = layout(self._members, member_names(self._members, renames, separate), bounds)
        self._bounds_mode = bounds
        self._layout = lay
        self.parameters: tuple[Parameter, ...] = tuple(lay.parameters)
        self._columns = tuple(lay.columns)
        firsts = [np.array([lay.holders[j][0] == i for j in c], dtype=bool) for i, c in enumerate(self._columns)]
        self._gather = tuple(
            MemberColumns(c, first=f, n_combined=len(self.parameters))
            for c, f in zip(self._columns, firsts, strict=True)
        )
        self._lower = np.array([p.lower for p in self.parameters])
        self._upper = np.array([p.upper for p in self.parameters])
        self._narrowed = self._narrowed_columns()
        self._correction, self._terms = self._constraint_terms()
        self._may_nan = any(p.constraint.type == "lognormal" for p in self.parameters)
        self._evaluators: tuple[_Evaluate, ...] = tuple(self._evaluator(m.source) for m in self._members)

    # ------------------------------------------------------------------ construction helpers
    def _narrowed_columns(self) -> np.ndarray:
        """Columns where some member's bounds are wider than the combination's (checked at evaluation)."""
        cols = set()
        for m, cols_m in zip(self._members, self._columns, strict=True):
            for p, j in zip(m.parameters, cols_m, strict=True):
                if p.lower < self._lower[j] or p.upper > self._upper[j]:
                    cols.add(int(j))
        return np.array(sorted(cols), dtype=np.intp)

    def _constraint_terms(self) -> tuple[ConstraintCorrection, list[dict[str, Any]]]:
        """The correction that counts every constraint term once, and what it does, parameter by parameter."""
        own: list[dict[int, Parameter]] = [
            {int(j): p for p, j in zip(m.parameters, cols, strict=True)}
            for m, cols in zip(self._members, self._columns, strict=True)
        ]
        constant = -sum(m.offset for m in self._members)
        columns, weights, constraints, terms = [], [], [], []
        for j, p in enumerate(self.parameters):
            c = p.constraint
            if c.type == "none":
                continue
            holders = self._layout.holders[j]
            included = [i for i in holders if self._members[i].includes_constraints]
            k = len(included)
            if c.type == "uniform":  # a constant inside the bounds: each member's over its own bounds
                constant += uniform_log_density(p.bounds) - sum(uniform_log_density(own[i][j].bounds) for i in included)
            elif k != 1:
                columns.append(j)
                weights.append(1.0 - k)
                constraints.append(c)
            if k != 1:
                terms.append(
                    {
                        "parameter": p.name,
                        "type": c.type,
                        "included_by": [self._members[i].name for i in included],
                        "removed": max(k - 1, 0),
                        "added": int(k == 0),
                    }
                )
        return ConstraintCorrection(columns, weights, constraints, constant), terms

    @staticmethod
    def _evaluator(source: Any) -> _Evaluate:
        both = getattr(source, "logpdf_and_grad", None)
        if callable(both):
            return both  # a LogDensity's optional method (a bundle's, a reference likelihood's)

        def separately(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return source.logpdf(x), source.grad_logpdf(x)

        return separately

    # ------------------------------------------------------------------ identity
    @property
    def members(self) -> tuple[Any, ...]:
        """The members' log-densities, in order."""
        return tuple(m.source for m in self._members)

    @property
    def member_names(self) -> tuple[str, ...]:
        """The members' names, in order."""
        return tuple(m.name for m in self._members)

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """The combined parameters' names, in the order of the points' columns."""
        return tuple(p.name for p in self.parameters)

    @property
    def fixed_parameters(self) -> Mapping[str, float]:
        """``{name: value}`` of the parameters the members hold fixed (not parameters of the combination)."""
        return MappingProxyType(self._layout.fixed)

    @property
    def n_parameters(self) -> int:
        """The number of combined parameters."""
        return len(self.parameters)

    @property
    def output(self) -> dict[str, Any]:
        """What :meth:`logpdf` is, as a bundle's ``output`` section says it (spec 3.4)."""
        return dict(COMBINED_OUTPUT)

    @property
    def exact_gradient(self) -> bool:
        """True when every member's gradient is exact."""
        return all(bool(m.source.exact_gradient) for m in self._members)

    def columns(self, member: str | int) -> tuple[int, ...]:
        """The combined columns of a member's parameters, in the member's order.

        Args:
            member: the member's name or index.

        Returns:
            Column ``k`` of the member's points is column ``columns(member)[k]`` of the combination's.

        Raises:
            InvalidInputError: no such member.
        """
        names = self.member_names
        if isinstance(member, str) and member in names:
            return tuple(int(j) for j in self._columns[names.index(member)])
        if isinstance(member, int) and not isinstance(member, bool) and 0 <= member < len(names):
            return tuple(int(j) for j in self._columns[member])
        raise InvalidInputError(f"no member {member!r}; members: {list(names)}", where="member")

    def __repr__(self) -> str:
        return (
            f"<Combination {self.name} of {len(self._members)} members "
            f"({', '.join(self.member_names)}), {len(self.parameters)} parameters>"
        )

    # ------------------------------------------------------------------ evaluation
    def _outside(self, points: np.ndarray) -> np.ndarray | None:
        """Rows outside the bounds that some member does not check itself (intersected bounds)."""
        if not self._narrowed.size:
            return None
        x = np.take(points, self._narrowed, axis=1)
        bad = ((x < self._lower[self._narrowed]) | (x > self._upper[self._narrowed])).any(axis=1)
        return bad if bad.any() else None

    def _buffers(self, n: int) -> list[np.ndarray | None]:
        """Per-member gather buffers for a call over ``n`` points, reused chunk after chunk.

        Reusing them saves a fresh allocation, and its page faults, per chunk; None where
        one chunk does it all (or the member needs no gather).
        """
        if n <= CHUNK_ROWS:
            return [None] * len(self._gather)
        return [None if c.identity else np.empty((CHUNK_ROWS, c.size)) for c in self._gather]

    def _member_points(self, points: np.ndarray, buffers: list[np.ndarray | None]) -> list[np.ndarray]:
        """Every member's points, gathered one after the other while the chunk is in the cache."""
        n = points.shape[0]
        return [c.gather(points, None if b is None else b[:n]) for c, b in zip(self._gather, buffers, strict=True)]

    def logpdf(self, x: Any) -> np.ndarray:
        """The combined log-density at the point(s) ``x``.

        Args:
            x: an (N, P) array, one length-P point, or a ``{name: value or array}``
                mapping (missing names at their nominal value), as
                :func:`dnnlik.points.as_points` reads them.

        Returns:
            float64 of shape (N,), or a scalar for one point; ``-inf`` outside the
            bounds or where a member's log-density is ``-inf``.

        Raises:
            InvalidInputError: ``x`` is malformed (shape, NaN, unknown name).
            BundleError: a bundle member's model gave values no log-likelihood takes.
        """
        points, single = as_points(x, self.parameters)
        n = points.shape[0]
        buffers = self._buffers(n)
        if n <= CHUNK_ROWS:
            total = self._logpdf_rows(points, buffers)
        else:
            total = np.empty(n)
            for start in range(0, n, CHUNK_ROWS):
                total[start : start + CHUNK_ROWS] = self._logpdf_rows(points[start : start + CHUNK_ROWS], buffers)
        return total[0] if single else total

    def _logpdf_rows(self, points: np.ndarray, buffers: list[np.ndarray | None]) -> np.ndarray:
        own = self._member_points(points, buffers)
        total = self._correction.value(points)
        for m, xi in zip(self._members, own, strict=True):
            total += m.source.logpdf(xi)
        return self._finish(points, total)

    def grad_logpdf(self, x: Any) -> np.ndarray:
        """The gradient of :meth:`logpdf`, the sum of the members' (exact when all of theirs are).

        Args:
            x: the point(s), as for :meth:`logpdf`.

        Returns:
            float64 of shape (N, P), or (P,) for one point; NaN rows where the log-density is ``-inf``.

        Raises:
            NoGradientError: a member has no gradient (a bundle without a gradient output).
            InvalidInputError: ``x`` is malformed.
        """
        return self.logpdf_and_grad(x)[1]

    def logpdf_and_grad(self, x: Any) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`logpdf` and :meth:`grad_logpdf` at once (each member's in one call).

        Args:
            x: the point(s), as for :meth:`logpdf`.

        Returns:
            ``(logpdf, grad_logpdf)``, shaped as those methods return them.

        Raises:
            NoGradientError: a member has no gradient.
            InvalidInputError: ``x`` is malformed.
        """
        points, single = as_points(x, self.parameters)
        n = points.shape[0]
        buffers = self._buffers(n)
        total, grad = np.empty(n), np.empty(points.shape)  # every column is some member's: all written
        for start in range(0, n, CHUNK_ROWS):
            stop = start + CHUNK_ROWS
            total[start:stop] = self._logpdf_and_grad_rows(points[start:stop], grad[start:stop], buffers)
        return (total[0], grad[0]) if single else (total, grad)

    def _logpdf_and_grad_rows(
        self, points: np.ndarray, grad: np.ndarray, buffers: list[np.ndarray | None]
    ) -> np.ndarray:
        """The log-density of ``points``; their gradient is written into ``grad``, in place."""
        own = self._member_points(points, buffers)
        values = []
        for evaluate, columns, xi in zip(self._evaluators, self._gather, own, strict=True):
            value, g = evaluate(xi)
            columns.scatter(grad, g)  # the first member to hold a column assigns it, the others add
            values.append(value)
        total = self._correction.value_and_grad(points, grad)  # adds: after every member's scatter
        for value in values:
            total += value
        total = self._finish(points, total)
        grad[np.isneginf(total)] = np.nan
        return total

    def _finish(self, points: np.ndarray, total: np.ndarray) -> np.ndarray:
        """``-inf`` outside the bounds and wherever a term is not finite (a member's -inf)."""
        total = np.asarray(total, dtype=np.float64)
        if self._may_nan:  # -inf from a member plus a removed log-normal term's +inf
            total[np.isnan(total)] = -np.inf
        outside = self._outside(points)
        if outside is not None:
            total[outside] = -np.inf
        return total

    # ------------------------------------------------------------------ description
    def describe(self) -> dict[str, Any]:
        """What the combination is made of, JSON-ready.

        Returns:
            ``name``; ``members`` (each with its name, source, output convention,
            number of parameters and renamed parameters); ``shared`` (each parameter
            held by two or more members, with their names); ``constraints`` (each
            term not simply kept from one member: which members included it, how
            many copies were ``removed`` and whether it was ``added``);
            ``offsets_removed``; ``bounds`` (the mode) and ``intersected`` (bounds
            made the intersection); ``output``; ``exact_gradient``.
        """
        lay = self._layout
        members = []
        for m, renamed in zip(self._members, lay.renamed, strict=True):
            members.append(
                {
                    "name": m.name,
                    "source": describe_source(m.source),
                    "output": m.output,
                    "output_declared": m.declared,
                    "n_parameters": len(m.parameters),
                    "renamed": dict(renamed),
                    "exact_gradient": bool(m.source.exact_gradient),
                }
            )
        shared = {
            p.name: [self._members[i].name for i in holders]
            for p, holders in zip(self.parameters, lay.holders, strict=True)
            if len(holders) > 1
        }
        return {
            "name": self.name,
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "n_parameters": len(self.parameters),
            "members": members,
            "shared": shared,
            "separator": SEPARATOR,
            "constraints": [dict(t) for t in self._terms],
            "offsets_removed": {m.name: m.offset for m in self._members if m.offset != 0.0},
            "bounds": self._bounds_mode,
            "intersected": {k: [_bound(lo), _bound(hi)] for k, (lo, hi) in lay.intersected.items()},
            "output": self.output,
            "exact_gradient": self.exact_gradient,
        }

    def summary(self) -> str:
        """A readable multi-line summary of :meth:`describe`.

        Returns:
            Members, shared parameters, and the constraint terms removed or added, as text.
        """
        info = self.describe()
        lines = [f"{self.name}: {len(self._members)} members, {len(self.parameters)} parameters"]
        for m in info["members"]:
            out = m["output"]
            lines.append(
                f"  member {m['name']}: {m['n_parameters']} parameters, {out['quantity']} "
                f"{'with' if out['includes_constraints'] else 'without'} constraint terms, offset {out['offset']:g}"
                + ("" if m["output_declared"] else " (assumed: not declared)")
                + (f", renamed {m['renamed']}" if m["renamed"] else "")
            )
        shared = info["shared"]
        lines.append(f"  shared parameters ({len(shared)}): " + (", ".join(shared) if shared else "none"))
        for t in info["constraints"]:
            what = f"{t['removed']} cop{'y' if t['removed'] == 1 else 'ies'} removed" if t["removed"] else "added once"
            lines.append(f"  constraint of {t['parameter']} ({t['type']}): {what}")
        for member, offset in info["offsets_removed"].items():
            lines.append(f"  offset {offset:g} of {member} removed")
        return "\n".join(lines)


def combine(
    members: Sequence[Any] | Mapping[str, Any],
    *,
    renames: Mapping[str, Mapping[str, str]] | Sequence[Mapping[str, str] | None] | None = None,
    separate: Iterable[str] = (),
    bounds: str = "strict",
    names: Sequence[str] | None = None,
    name: str = "combination",
) -> Combination:
    """The joint log-density of ``members``, their constraint terms counted once.

    Args:
        members: log-densities (bundles, reference likelihoods, combinations) or
            anything :func:`dnnlik.load` reads; a list, or a mapping ``{name: member}``.
        renames: ``{member name: {its parameter name: combined name}}``, or a list
            of ``{old: new}`` maps aligned with ``members``.
        separate: names (after renames) to keep apart, as ``"<member>:<name>"``.
        bounds: ``"strict"`` (equal bounds required) or ``"intersect"``.
        names: the members' names (default: each source's ``name``).
        name: the combination's own name.

    Returns:
        The :class:`Combination`.

    Raises:
        InvalidInputError: see :class:`Combination`; one message naming the
            members and the parameter.
        InvalidBundleError: a member given as a path fails validation.
    """
    return Combination(members, renames=renames, separate=separate, bounds=bounds, names=names, name=name)
