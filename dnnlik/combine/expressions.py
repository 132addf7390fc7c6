"""The declarative expressions of a reinterpretation mapping: signal strengths as JSON, nothing executed.

An expression ``E`` (spec/combination.md, section 3) is one of:

- a JSON number: a constant;
- a string: the value of the new-model parameter of that name;
- ``{"product": [E, ...]}`` or ``{"sum": [E, ...]}`` (at least one item);
- ``{"power": [E, p]}``, ``p`` a number: ``E ** p`` (a non-integer ``p`` needs
  ``E >= 0``: a negative base has no real power, and is an error at evaluation);
- ``{"table": NAME}``: the named :class:`~dnnlik.combine.tables.Table`,
  interpolated at its own input parameters.

Each object has exactly one key. An expression is checked and compiled once
into a flat list of steps (post-order), then evaluated on all N points at once
with a few numpy operations per step; derivatives are exact (product rule,
``p * b ** (p - 1) * db``, the tables' piecewise-linear slopes). Limits:
nesting at most :data:`MAX_DEPTH` objects deep, at most :data:`MAX_NODES` nodes.

>>> from dnnlik.parameters import Parameter
>>> e = Expression({"product": [0.5, {"power": ["g", 2]}]}, [Parameter("g", "poi", (0.0, 3.0))])
>>> value, grad = e.value_and_grad(np.array([[1.0], [2.0]]))
>>> value.tolist(), grad.tolist()  # 0.5 g^2 and its derivative g
([0.5, 2.0], [[1.0], [2.0]])
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from ..errors import InvalidInputError
from ..parameters import Parameter
from .tables import Table, is_number

__all__ = ["Expression", "OPERATORS", "MAX_DEPTH", "MAX_NODES"]

OPERATORS = ("product", "sum", "power", "table")
"""The keys of an expression object."""

MAX_DEPTH = 32
"""The deepest nesting of expression objects."""

MAX_NODES = 10_000
"""The most nodes (numbers, names and objects) one expression may have."""

_Value = np.ndarray | float
_Grad = dict[int, _Value]  # column -> partial derivative; a missing column's is 0


class _Step(NamedTuple):
    op: str  # "const", "param", "sum", "product", "power", "table"
    arg: Any  # the constant, the column, the exponent, or (table, its input columns)
    kids: tuple[int, ...]  # the steps whose results it combines
    where: str


def _kind(value: Any) -> str:
    return "a boolean" if isinstance(value, bool) else f"a {type(value).__name__}"


class _Compiler:
    """Checks an expression tree and flattens it into steps, children before parents."""

    def __init__(self, parameters: Sequence[Parameter], tables: Mapping[str, Table]) -> None:
        self.by_name = {p.name: p for p in parameters}
        self.column = {p.name: k for k, p in enumerate(parameters)}
        self.tables = tables
        self.steps: list[_Step] = []
        self.nodes = 0
        self.used: set[str] = set()
        self.used_tables: dict[str, Table] = {}

    def emit(self, op: str, arg: Any, kids: tuple[int, ...], where: str) -> int:
        self.steps.append(_Step(op, arg, kids, where))
        return len(self.steps) - 1

    def node(self, tree: Any, where: str, depth: int) -> int:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise InvalidInputError(f"the expression has more than {MAX_NODES} nodes", where=where)
        if is_number(tree):
            if not math.isfinite(float(tree)):
                raise InvalidInputError(f"a constant must be finite, got {tree!r}", where=where)
            return self.emit("const", float(tree), (), where)
        if isinstance(tree, str):
            if tree not in self.column:
                raise InvalidInputError(
                    f"unknown parameter {tree!r}; the new model's parameters: {list(self.column)}", where=where
                )
            self.used.add(tree)
            return self.emit("param", self.column[tree], (), where)
        if not isinstance(tree, Mapping):
            raise InvalidInputError(
                f"an expression is a number, a parameter name or an object with one of {list(OPERATORS)}; "
                f"got {_kind(tree)}",
                where=where,
            )
        if depth > MAX_DEPTH:
            raise InvalidInputError(f"expressions nested deeper than {MAX_DEPTH} objects", where=where)
        if len(tree) != 1:
            raise InvalidInputError(
                f"an expression object has exactly one key (one of {list(OPERATORS)}), got {list(tree)[:8]}",
                where=where,
            )
        ((key, arg),) = tree.items()
        if key not in OPERATORS:
            raise InvalidInputError(f"unknown operator {key!r}; expected one of {list(OPERATORS)}", where=where)
        here = f"{where}/{key}"
        if key == "table":
            return self.table(arg, here)
        if not isinstance(arg, (list, tuple)):
            raise InvalidInputError(f"{key} takes a list, got {_kind(arg)}", where=here)
        if key == "power":
            if len(arg) != 2:
                raise InvalidInputError(f"power takes [base, exponent], got {len(arg)} item(s)", where=here)
            p = arg[1]
            if not is_number(p) or not math.isfinite(float(p)):
                raise InvalidInputError(f"the exponent must be a finite number, got {p!r}", where=f"{here}/1")
            return self.emit("power", float(p), (self.node(arg[0], f"{here}/0", depth + 1),), here)
        if not arg:
            raise InvalidInputError(f"{key} needs at least one item", where=here)
        kids = tuple(self.node(item, f"{here}/{k}", depth + 1) for k, item in enumerate(arg))
        return self.emit(key, None, kids, here)

    def table(self, name: Any, where: str) -> int:
        if not isinstance(name, str):
            raise InvalidInputError(f"table takes a table's name, got {_kind(name)}", where=where)
        if name not in self.tables:
            raise InvalidInputError(f"unknown table {name!r}; tables: {sorted(self.tables)}", where=where)
        table = self.tables[name]
        table.check_covers(self.by_name, where)
        self.used.update(table.inputs)
        self.used_tables[name] = table
        return self.emit("table", (table, tuple(self.column[s] for s in table.inputs)), (), where)


def _json_copy(tree: Any) -> Any:
    """A checked tree as plain JSON values (lists for tuples, floats and ints as given)."""
    if isinstance(tree, Mapping):
        return {k: _json_copy(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [_json_copy(v) for v in tree]
    if isinstance(tree, str):
        return tree
    return int(tree) if isinstance(tree, (int, np.integer)) else float(tree)


def _add(grad: _Grad, column: int, d: _Value) -> None:
    grad[column] = grad[column] + d if column in grad else d


class Expression:
    """A declarative expression, checked and compiled against the new model's parameters (and tables).

    Args:
        tree: the expression as JSON values (see the module docstring).
        parameters: the new model's K parameters; column ``k`` of the points is ``parameters[k]``.
        tables: the tables that ``{"table": NAME}`` may name.
        where: the expression's path, the start of every message's place.

    Raises:
        InvalidInputError: a malformed expression, an unknown parameter or table, a table
            whose grid a parameter's bounds reach outside; ``where`` is the path of the node.
    """

    exact_gradient = True

    def __init__(
        self,
        tree: Any,
        parameters: Sequence[Parameter],
        tables: Mapping[str, Table] | None = None,
        *,
        where: str = "expression",
    ) -> None:
        compiler = _Compiler(parameters, tables or {})
        compiler.node(tree, where, 1)
        self.where = where
        self.source: Any = _json_copy(tree)
        self.parameter_names = tuple(p.name for p in parameters)
        self.used_parameters = frozenset(compiler.used)
        self.tables: dict[str, Table] = compiler.used_tables
        self._steps = tuple(compiler.steps)

    def __repr__(self) -> str:
        return f"<Expression {self.where}: {self.source!r}>"

    def _columns(self, columns: Any) -> np.ndarray:
        cols = np.asarray(columns, dtype=np.float64)
        k = len(self.parameter_names)
        if cols.ndim != 2 or cols.shape[1] != k:
            raise InvalidInputError(f"expected shape (N, {k}), got {cols.shape}", where="columns")
        if not np.isfinite(cols).all():
            raise InvalidInputError("the parameters' values must be finite", where="columns")
        return cols

    def value(self, columns: Any) -> np.ndarray:
        """The expression at N points.

        Args:
            columns: (N, K) values of the new model's parameters, finite.

        Returns:
            (N,) float64 (``inf`` where a negative power's base is 0).

        Raises:
            InvalidInputError: a wrong shape or non-finite values; a table evaluated outside
                its grid; a negative base of a non-integer power.
        """
        cols = self._columns(columns)
        return self._run(cols, grad=False)[0]

    def value_and_grad(self, columns: Any) -> tuple[np.ndarray, np.ndarray]:
        """The expression and its gradient with respect to the K parameters at N points.

        Args:
            columns: (N, K) values of the new model's parameters, finite.

        Returns:
            ``(value, grad)``: (N,) and (N, K) float64.

        Raises:
            InvalidInputError: as :meth:`value`.
        """
        cols = self._columns(columns)
        value, partials = self._run(cols, grad=True)
        grad = np.zeros(cols.shape)
        for k, d in partials.items():
            grad[:, k] = d
        return value, grad

    def _run(self, cols: np.ndarray, *, grad: bool) -> tuple[np.ndarray, _Grad]:
        values: list[_Value] = []
        grads: list[_Grad] = []
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            for step in self._steps:
                v, g = self._step(step, cols, values, grads, grad)
                values.append(v)
                grads.append(g)
        out = np.broadcast_to(np.asarray(values[-1], dtype=np.float64), (cols.shape[0],)).copy()
        return out, grads[-1]

    @staticmethod
    def _step(
        step: _Step, cols: np.ndarray, values: list[_Value], grads: list[_Grad], want: bool
    ) -> tuple[_Value, _Grad]:
        op, arg, kids = step.op, step.arg, step.kids
        g: _Grad = {}
        if op == "const":
            return arg, g
        if op == "param":
            return cols[:, arg], {arg: 1.0}
        if op == "table":
            table, columns = arg
            v, partials = table.evaluate([cols[:, c] for c in columns], where=step.where)
            return v, dict(zip(columns, partials, strict=True)) if want else g
        if op == "sum":
            v = values[kids[0]]
            for k in kids[1:]:
                v = v + values[k]
            if want:
                for k in kids:
                    for c, d in grads[k].items():
                        _add(g, c, d)
            return v, g
        if op == "product":
            factors = [values[k] for k in kids]
            prefix: list[_Value] = [1.0]  # prefix[i]: the product of the factors before i
            for f in factors[:-1]:
                prefix.append(prefix[-1] * f)
            v = prefix[-1] * factors[-1]
            if want:
                suffix: _Value = 1.0  # the product of the factors after i
                for i in range(len(kids) - 1, -1, -1):
                    for c, d in grads[kids[i]].items():
                        _add(g, c, prefix[i] * suffix * d)
                    suffix = suffix * factors[i]
            return v, g
        # power
        base, p = values[kids[0]], float(arg)
        if not p.is_integer():
            negative = np.flatnonzero(np.atleast_1d(np.asarray(base) < 0))
            if negative.size:
                row = int(negative[0])
                raise InvalidInputError(
                    f"the exponent {p:.12g} is not an integer, so the base must be >= 0; "
                    f"got {np.atleast_1d(base)[row]:.12g} at point {row}",
                    where=f"{step.where}/0",
                )
        v = np.power(base, p)
        if want and p != 0.0:
            slope = p * np.power(base, p - 1.0) if p != 1.0 else 1.0
            g = {c: slope * d for c, d in grads[kids[0]].items()}
        return v, g
