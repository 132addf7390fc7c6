"""Turn what users pass as "parameter points" into one (N, P) float64 array.

Accepted forms, for P parameters:

- an (N, P) array-like: N points;
- a length-P sequence: one point;
- a mapping ``{name: value or array}``: parameters not named take their
  nominal value; arrays broadcast against each other.

NaN is always an error (a NaN in, a NaN out would hide the bug upstream).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from .errors import InvalidInputError, OutOfBoundsError
from .parameters import Parameter

__all__ = ["as_points", "outside_bounds", "check_bounds"]


def as_points(
    x: Any, parameters: Sequence[Parameter], *, where: str = "x"
) -> tuple[np.ndarray, bool]:
    """Return ``(points, single)``: an (N, P) float64 array and whether one point was given."""
    n_par = len(parameters)
    if isinstance(x, Mapping):
        points, single = _from_mapping(x, parameters, where)
    else:
        try:
            arr = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"cannot be read as numbers ({exc})", where=where) from None
        if arr.ndim == 1:
            points, single = arr[None, :], True
        elif arr.ndim == 2:
            points, single = arr, False
        else:
            raise InvalidInputError(
                f"expected shape (N, {n_par}) or ({n_par},), got {arr.shape}", where=where
            )
        if points.shape[1] != n_par:
            raise InvalidInputError(
                f"expected {n_par} parameters per point, got {points.shape[1]} "
                f"(shape {arr.shape})",
                where=where,
            )
    nan_rows = np.flatnonzero(np.isnan(points).any(axis=1))
    if nan_rows.size:
        row = int(nan_rows[0])
        col = int(np.flatnonzero(np.isnan(points[row]))[0])
        raise InvalidInputError(
            f"NaN in {nan_rows.size} point(s); first at point {row}, "
            f"parameter '{parameters[col].name}'",
            where=where,
        )
    return np.ascontiguousarray(points), single


def _from_mapping(
    x: Mapping[str, Any], parameters: Sequence[Parameter], where: str
) -> tuple[np.ndarray, bool]:
    names = [p.name for p in parameters]
    unknown = [k for k in x if k not in names]
    if unknown:
        raise InvalidInputError(
            f"unknown parameter name(s) {unknown}; known: {names[:8]}"
            + (" ..." if len(names) > 8 else ""),
            where=where,
        )
    columns = []
    for p in parameters:
        value = x.get(p.name, p.nominal)
        try:
            columns.append(np.asarray(value, dtype=np.float64))
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"cannot be read as numbers ({exc})", where=f"{where}[{p.name!r}]") from None
    try:
        columns = np.broadcast_arrays(*columns)
    except ValueError:
        shapes = {p.name: c.shape for p, c in zip(parameters, columns) if c.ndim}
        raise InvalidInputError(f"parameter arrays do not broadcast together: {shapes}", where=where) from None
    shape = columns[0].shape
    if len(shape) > 1:
        raise InvalidInputError(f"parameter values must be scalars or 1-D arrays, got shape {shape}", where=where)
    single = len(shape) == 0
    points = np.stack([np.atleast_1d(c) for c in columns], axis=1)
    return points, single


def outside_bounds(points: np.ndarray, parameters: Sequence[Parameter]) -> np.ndarray:
    """Boolean (N,) mask of points with any parameter outside its allowed bounds."""
    lower = np.array([p.lower for p in parameters])
    upper = np.array([p.upper for p in parameters])
    return ((points < lower) | (points > upper)).any(axis=1)


def check_bounds(points: np.ndarray, parameters: Sequence[Parameter], *, where: str = "x") -> None:
    """Raise :class:`OutOfBoundsError` naming the first point and parameter out of bounds."""
    mask = outside_bounds(points, parameters)
    if not mask.any():
        return
    row = int(np.flatnonzero(mask)[0])
    for j, p in enumerate(parameters):
        v = points[row, j]
        if v < p.lower or v > p.upper:
            raise OutOfBoundsError(
                f"{int(mask.sum())} point(s) outside the allowed bounds; first: point {row}, "
                f"{p.name} = {v:g} not in [{p.lower:g}, {p.upper:g}]",
                where=where,
            )
