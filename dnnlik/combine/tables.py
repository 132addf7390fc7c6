"""Tabulated functions of a reinterpretation mapping: 1-D piecewise-linear and 2-D bilinear interpolation.

A table (spec/combination.md, section 3) gives values on a grid of one or two
new-model parameters, say a cross-section ratio on a mass grid::

    {"inputs": ["m"], "grid": [[200, 400, 600]], "values": [2.0, 1.0, 0.6]}

For two inputs ``values[i][j]`` is the value at ``(grid[0][i], grid[1][j])``.
Between grid points the table is the piecewise-linear (1-D) or bilinear (2-D)
interpolant; its derivatives are that function's, exactly, taken on the
interval to the right of a knot (the last interval at the upper end). Outside
the grid a table is an error unless it says ``"extrapolate": true`` (then the
end intervals' linear functions continue).

>>> t = parse_table("ratio", {"inputs": ["m"], "grid": [[200, 400, 600]], "values": [2.0, 1.0, 0.6]})
>>> value, (slope,) = t.evaluate([np.array([300.0, 400.0])], where="ratio")
>>> value.tolist(), slope.tolist()  # 400 is a knot: the slope of the interval to its right
([1.5, 1.0], [-0.005, -0.002])
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..parameters import Parameter

__all__ = ["Table", "parse_table", "parse_tables", "is_number", "NAME_PATTERN", "MAX_TABLE_VALUES"]

NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]{0,127}")
"""Names of parameters and tables in a mapping file: a bundle parameter's name pattern (spec 3.2)."""

MAX_TABLE_VALUES = 1_000_000
"""The most values one table may hold (grid points of all its inputs multiplied)."""

_TABLE_KEYS = ("inputs", "grid", "values", "extrapolate")


def is_number(value: Any) -> bool:
    """True for a real number that is not a boolean (what a JSON number reads as).

    Args:
        value: anything.

    Returns:
        Whether ``value`` is an int or float (numpy's too), not a bool.
    """
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _finite_numbers(items: Any, length: int | None, what: str, where: str) -> np.ndarray:
    if not isinstance(items, Sequence) or isinstance(items, (str, bytes)):
        raise InvalidInputError(f"{what} must be a list of numbers, got {type(items).__name__}", where=where)
    if length is not None and len(items) != length:
        raise InvalidInputError(
            f"{what} must have {length} numbers (one per grid point), got {len(items)}", where=where
        )
    for k, v in enumerate(items):
        if not is_number(v) or not math.isfinite(float(v)):
            raise InvalidInputError(f"{what} must hold finite numbers, got {v!r}", where=f"{where}/{k}")
    return np.array([float(v) for v in items], dtype=np.float64)


class Table:
    """One tabulated function of one or two new-model parameters (built by :func:`parse_table`).

    Args:
        name: the table's name (in messages).
        inputs: the names of the parameters it is a function of (1 or 2).
        grid: one strictly increasing float64 array per input (>= 2 points each).
        values: shape ``(len(grid[0]),)`` or ``(len(grid[0]), len(grid[1]))``.
        extrapolate: continue the end intervals' linear functions outside the grid (else an error).
    """

    def __init__(
        self, name: str, inputs: tuple[str, ...], grid: tuple[np.ndarray, ...], values: np.ndarray, extrapolate: bool
    ) -> None:
        self.name = name
        self.inputs = inputs
        self.grid = grid
        self.values = values
        self.extrapolate = extrapolate
        self._widths = tuple(np.diff(g) for g in grid)
        self._inner = tuple(g[1:-1] for g in grid)
        self._slopes = np.diff(values) / self._widths[0] if len(grid) == 1 else values[:0]

    def to_json(self) -> dict[str, Any]:
        """The table as a mapping file writes it.

        Returns:
            ``inputs``, ``grid``, ``values`` and ``extrapolate``.
        """
        return {
            "inputs": list(self.inputs),
            "grid": [g.tolist() for g in self.grid],
            "values": self.values.tolist(),
            "extrapolate": self.extrapolate,
        }

    def check_covers(self, parameters: Mapping[str, Parameter], where: str) -> None:
        """Refuse an input parameter whose bounds reach outside the grid (unless the table extrapolates).

        Args:
            parameters: the new model's parameters by name.
            where: the place of the reference to this table, for the message.

        Raises:
            InvalidInputError: an input is not a parameter, or its bounds leave the grid.
        """
        for name, g in zip(self.inputs, self.grid, strict=True):
            if name not in parameters:
                raise InvalidInputError(
                    f"table {self.name!r} reads {name!r}, which is not a parameter of the new model; "
                    f"its parameters: {sorted(parameters)}",
                    where=where,
                )
            p = parameters[name]
            if self.extrapolate or (g[0] <= p.lower and p.upper <= g[-1]):
                continue
            raise InvalidInputError(
                f"table {self.name!r} is tabulated for {name} in [{g[0]:.12g}, {g[-1]:.12g}] but parameter {name}'s "
                f"bounds [{p.lower:.12g}, {p.upper:.12g}] reach outside it, so a fit could leave the table; narrow the "
                "bounds to the grid, extend the table, or set extrapolate: true",
                where=where,
            )

    def _cells(self, axis: int, t: np.ndarray, where: str) -> tuple[np.ndarray, np.ndarray]:
        """Interval index of each ``t`` along ``axis`` (right of a knot, the last at the end) and its fraction."""
        g = self.grid[axis]
        if not self.extrapolate:
            outside = (t < g[0]) | (t > g[-1])
            if outside.any():
                rows = np.flatnonzero(outside)
                name = self.inputs[axis]
                more = f", and {rows.size - 1} more" if rows.size > 1 else ""
                raise InvalidInputError(
                    f"table {self.name!r} is tabulated for {name} in [{g[0]:.12g}, {g[-1]:.12g}] and does not "
                    f"extrapolate; got {name} = {t[rows[0]]:.12g} (point {rows[0]}{more})",
                    where=where,
                )
        i = np.searchsorted(self._inner[axis], t, side="right")  # 0 .. size - 2: right of a knot, last at the end
        return i, (t - g[i]) / self._widths[axis][i]

    def evaluate(self, inputs: Sequence[np.ndarray], *, where: str) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """The interpolated value and its partial derivatives at the points ``inputs``.

        Args:
            inputs: one (N,) float64 array per input, in the order of :attr:`inputs`, finite.
            where: the place of the reference to this table, for an error's message.

        Returns:
            ``(value, partials)``: (N,) values and one (N,) derivative per input.

        Raises:
            InvalidInputError: a point outside the grid of a table that does not extrapolate.
        """
        i, u = self._cells(0, inputs[0], where)
        if len(self.grid) == 1:
            slope = self._slopes[i]
            return self.values[i] + u * (self.values[i + 1] - self.values[i]), (slope,)
        j, w = self._cells(1, inputs[1], where)
        v = self.values
        v00, v10, v01, v11 = v[i, j], v[i + 1, j], v[i, j + 1], v[i + 1, j + 1]
        along_0 = (1.0 - w) * (v10 - v00) + w * (v11 - v01)  # d value / d u
        along_1 = (1.0 - u) * (v01 - v00) + u * (v11 - v10)  # d value / d w
        value = v00 + u * (v10 - v00) + w * along_1
        widths = self._widths
        return value, (along_0 / widths[0][i], along_1 / widths[1][j])


def parse_table(name: str, obj: Any, where: str = "") -> Table:
    """A table from its JSON object, checked (see the module docstring for the form).

    Args:
        name: the table's name.
        obj: ``{"inputs": [...], "grid": [[...], ...], "values": [...], "extrapolate": false}``.
        where: the path of ``obj``, for messages (default: the name).

    Returns:
        The table.

    Raises:
        InvalidInputError: a bad name, an unknown or missing key, inputs that are not 1 or 2
            distinct names, a grid that is not strictly increasing finite numbers (>= 2 per
            input), values that do not match the grid, or more than :data:`MAX_TABLE_VALUES` values.
    """
    where = where or name
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise InvalidInputError(
            f"table name {name!r} must be a letter or '_' then letters, digits, '_', '.', ':' or '-' (<= 128)",
            where=where,
        )
    if not isinstance(obj, Mapping):
        raise InvalidInputError(f"a table must be an object, got {type(obj).__name__}", where=where)
    unknown = [k for k in obj if k not in _TABLE_KEYS and not (isinstance(k, str) and k.startswith("x-"))]
    missing = [k for k in _TABLE_KEYS[:3] if k not in obj]
    if unknown or missing:
        what = f"unknown key {unknown[0]!r}" if unknown else f"missing key {missing[0]!r}"
        raise InvalidInputError(f"{what}; a table has {', '.join(_TABLE_KEYS)} (extrapolate optional)", where=where)
    inputs = obj["inputs"]
    if (
        not isinstance(inputs, list)
        or len(inputs) not in (1, 2)
        or not all(isinstance(s, str) and NAME_PATTERN.fullmatch(s) for s in inputs)
        or len(set(inputs)) != len(inputs)
    ):
        raise InvalidInputError(
            f"must be a list of 1 or 2 distinct parameter names, got {inputs!r}", where=f"{where}/inputs"
        )
    grid = obj["grid"]
    if not isinstance(grid, list) or len(grid) != len(inputs):
        raise InvalidInputError(
            f"must be a list of {len(inputs)} list(s) of grid points, one per input", where=f"{where}/grid"
        )
    axes = tuple(_finite_numbers(g, None, "a grid", f"{where}/grid/{k}") for k, g in enumerate(grid))
    for k, g in enumerate(axes):
        if g.size < 2 or not (np.diff(g) > 0).all():
            raise InvalidInputError(
                f"the grid of {inputs[k]} must have at least 2 strictly increasing points, got {g.tolist()[:8]}",
                where=f"{where}/grid/{k}",
            )
    if math.prod(g.size for g in axes) > MAX_TABLE_VALUES:
        raise InvalidInputError(f"more than {MAX_TABLE_VALUES} grid points", where=f"{where}/grid")
    raw = obj["values"]
    if len(axes) == 1:
        values = _finite_numbers(raw, axes[0].size, "values", f"{where}/values")
    else:
        if not isinstance(raw, list) or len(raw) != axes[0].size:
            raise InvalidInputError(
                f"must be a list of {axes[0].size} rows (one per {inputs[0]} grid point)", where=f"{where}/values"
            )
        values = np.stack([_finite_numbers(r, axes[1].size, "a row", f"{where}/values/{i}") for i, r in enumerate(raw)])
    extrapolate = obj.get("extrapolate", False)
    if not isinstance(extrapolate, bool):
        raise InvalidInputError(f"must be true or false, got {extrapolate!r}", where=f"{where}/extrapolate")
    return Table(name, tuple(inputs), axes, values, extrapolate)


def parse_tables(obj: Any, where: str = "tables") -> dict[str, Table]:
    """The tables of a mapping, ``{name: table object}`` (or already parsed :class:`Table` values).

    Args:
        obj: the ``tables`` object, or None for none.
        where: its path, for messages.

    Returns:
        ``{name: Table}``.

    Raises:
        InvalidInputError: ``obj`` is not an object, or a table is malformed (see :func:`parse_table`).
    """
    if obj is None:
        return {}
    if not isinstance(obj, Mapping):
        raise InvalidInputError(f"must be an object {{name: table}}, got {type(obj).__name__}", where=where)
    out = {}
    for name, item in obj.items():
        if isinstance(item, Table) and item.name == name:
            out[name] = item
        else:
            out[name] = parse_table(name, item, f"{where}/{name}")
    return out
