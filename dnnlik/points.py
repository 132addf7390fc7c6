"""Turn what users pass as "parameter points" into one (N, P) float64 array.

Accepted forms, for P parameters:

- an (N, P) array-like: N points;
- a length-P sequence: one point;
- a mapping ``{name: value or array}``: parameters not named take their
  nominal value; arrays broadcast against each other.

Values must be real numbers (bool, integer or floating point; Python numbers,
``Fraction`` and ``Decimal`` too). Refused with
:class:`~dnnlik.errors.InvalidInputError`, naming the input and the first bad
element:

- NaN, always (a NaN in, a NaN out would hide the bug upstream);
- complex numbers, even with a zero imaginary part (silently dropping the
  imaginary part would hide a bug; pass ``x.real`` if that is meant);
- strings, bytes, dates, ``None`` and other non-numbers;
- a finite number beyond the range of a double (``10**400``, a long double
  ``1e4000``), rather than reading it as infinity;
- ``-inf`` for a parameter with no lower bound, ``+inf`` for one with no
  upper bound: such a point is not a point of the parameter space.

``-inf`` or ``+inf`` on a side that has a finite bound is simply outside the
bounds (its log-likelihood is -inf, like any other point beyond the bound).
"""

from __future__ import annotations

import decimal
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .errors import InvalidInputError, OutOfBoundsError
from .parameters import Parameter

__all__ = ["as_points", "as_float_array", "outside_bounds", "check_bounds"]

#: Element types read as numbers, besides numpy's bool, integer and float arrays.
_NUMBER_TYPES = (numbers.Real, decimal.Decimal, np.bool_)


def _index(shape: tuple[int, ...], flat: int) -> str:
    return "[" + ", ".join(str(int(i)) for i in np.unravel_index(flat, shape)) + "]" if shape else ""


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def as_float_array(value: Any, *, where: str = "x") -> np.ndarray:
    """``value`` as a float64 array, or :class:`~dnnlik.errors.InvalidInputError` naming ``where``.

    No copy when ``value`` already is a float64 array. See the module
    docstring for what is refused (NaN and infinities are left to the caller).

    Args:
        value: numbers: an array, a sequence, a scalar, Python numbers of any kind.
        where: what the message of an error names.

    Returns:
        The values as float64, same shape.

    Raises:
        InvalidInputError: not real numbers (complex, strings, None...), or a finite
            number beyond the range of a double.
    """
    if isinstance(value, np.ndarray) and value.dtype == np.float64:
        return value
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError, OverflowError) as exc:
        first = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise InvalidInputError(f"cannot be read as numbers ({first})", where=where) from None
    kind = arr.dtype.kind
    if kind in "biu" or arr.dtype == np.float64:
        return arr.astype(np.float64, copy=False)
    if kind == "f":  # float16/32, and long doubles that may not fit in a double
        with np.errstate(over="ignore"):
            out = arr.astype(np.float64)
        overflow = np.isinf(out) & np.isfinite(arr)
        if overflow.any():
            k = int(np.flatnonzero(overflow.reshape(-1))[0])
            raise InvalidInputError(
                f"value {arr.reshape(-1)[k]!s} at index {_index(arr.shape, k)} "
                "is beyond the range of a double (about 1.8e308)",
                where=where,
            )
        return out
    if kind == "c":
        raise InvalidInputError(
            f"complex numbers are not parameter values (got an array of {arr.dtype}); "
            "pass the real part (x.real) if that is what you mean",
            where=where,
        )
    if kind == "O":
        return _objects_as_float(arr, where)
    what = {"U": "strings", "S": "bytes", "M": "dates", "m": "time differences", "V": "structured records"}.get(
        kind, f"values of type {arr.dtype}"
    )
    raise InvalidInputError(f"must be numbers, got {what}", where=where)


def _objects_as_float(arr: np.ndarray, where: str) -> np.ndarray:
    """An object array (mixed Python numbers, huge integers, Fractions...) checked element by element."""
    out = np.empty(arr.shape, dtype=np.float64)
    flat = out.reshape(-1)
    for k, item in enumerate(arr.reshape(-1)):
        at = _index(arr.shape, k)
        if isinstance(item, (complex, np.complexfloating)) or not isinstance(item, _NUMBER_TYPES):
            kind = "a complex number" if isinstance(item, (complex, np.complexfloating)) else f"a {type(item).__name__}"
            raise InvalidInputError(f"element {at} is {kind} ({_short(item)}), not a real number", where=where)
        try:
            number = float(item)
        except OverflowError:
            number = None
        except (TypeError, ValueError):  # a signalling NaN Decimal, a number type float() refuses
            raise InvalidInputError(f"element {at} ({_short(item)}) cannot be read as a number", where=where) from None
        finite_in = not isinstance(item, (float, np.floating, decimal.Decimal)) or (
            item.is_finite() if isinstance(item, decimal.Decimal) else bool(np.isfinite(item))
        )
        if number is None or (finite_in and not np.isfinite(number)):
            raise InvalidInputError(
                f"element {at} ({_short(item)}) is beyond the range of a double (about 1.8e308)", where=where
            )
        flat[k] = number
    return out


def as_points(x: Any, parameters: Sequence[Parameter], *, where: str = "x") -> tuple[np.ndarray, bool]:
    """Return ``(points, single)``: an (N, P) float64 array and whether one point was given.

    >>> from dnnlik.parameters import Parameter
    >>> params = [Parameter("mu", "poi", (-5.0, 5.0), nominal=1.0), Parameter("theta", bounds=(-5.0, 5.0))]
    >>> as_points({"theta": [0.5, -0.5]}, params)  # missing names at their nominal value
    (array([[ 1. ,  0.5],
           [ 1. , -0.5]]), False)
    >>> as_points([1.0, 2.0], params)
    (array([[1., 2.]]), True)

    Args:
        x: an (N, P) array, one length-P point, or a ``{name: value or 1-D array}`` mapping.
        parameters: the parameters, in the order of the columns.
        where: what the message of an error names.

    Returns:
        ``(points, single)``; points outside the bounds are kept (see :func:`check_bounds`).

    Raises:
        InvalidInputError: a wrong shape, an unknown name, NaN, or an infinity where a parameter has no bound.
    """
    n_par = len(parameters)
    if isinstance(x, Mapping):
        points, single = _from_mapping(x, parameters, where)
    else:
        arr = as_float_array(x, where=where)
        if arr.ndim == 1:
            points, single = arr[None, :], True
        elif arr.ndim == 2:
            points, single = arr, False
        else:
            raise InvalidInputError(f"expected shape (N, {n_par}) or ({n_par},), got {arr.shape}", where=where)
        if points.shape[1] != n_par:
            raise InvalidInputError(
                f"expected {n_par} parameters per point, got {points.shape[1]} (shape {arr.shape})",
                where=where,
            )
    if not np.isfinite(points).all():  # one pass in the common case; the details only when needed
        _check_non_finite(points, parameters, where)
    return np.ascontiguousarray(points), single


def _check_non_finite(points: np.ndarray, parameters: Sequence[Parameter], where: str) -> None:
    """Refuse NaN anywhere, and an infinity on a side of a parameter that has no bound."""
    nan_rows = np.flatnonzero(np.isnan(points).any(axis=1))
    if nan_rows.size:
        row = int(nan_rows[0])
        col = int(np.flatnonzero(np.isnan(points[row]))[0])
        raise InvalidInputError(
            f"NaN in {nan_rows.size} point(s); first at point {row}, parameter '{parameters[col].name}'",
            where=where,
        )
    lower = np.array([p.lower for p in parameters])
    upper = np.array([p.upper for p in parameters])
    # -inf is a point only beyond a finite lower bound (outside the bounds: log-likelihood -inf);
    # with no lower bound it is no point of the parameter space at all (likewise +inf)
    bad = ((points == -np.inf) & np.isinf(lower)) | ((points == np.inf) & np.isinf(upper))
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        row = int(rows[0])
        col = int(np.flatnonzero(bad[row])[0])
        value = points[row, col]
        side = "lower" if value < 0 else "upper"
        raise InvalidInputError(
            f"infinite value in {rows.size} point(s); first at point {row}, parameter "
            f"'{parameters[col].name}' = {'-' if value < 0 else '+'}inf, but it has no {side} bound "
            "(an infinity is accepted only beyond a finite bound, where the point is outside)",
            where=where,
        )


def _from_mapping(x: Mapping[str, Any], parameters: Sequence[Parameter], where: str) -> tuple[np.ndarray, bool]:
    names = [p.name for p in parameters]
    unknown = [k for k in x if k not in names]
    if unknown:
        shown = [k[:37] + "..." if isinstance(k, str) and len(k) > 40 else k for k in unknown[:8]]
        raise InvalidInputError(
            f"unknown parameter name(s) {shown}; known: {names[:8]}" + (" ..." if len(names) > 8 else ""),
            where=where,
        )
    columns = []
    for p in parameters:
        value = x.get(p.name, p.nominal)
        columns.append(as_float_array(value, where=f"{where}[{p.name!r}]"))
    try:
        arrays = np.broadcast_arrays(*columns)
    except ValueError:
        shapes = {p.name: c.shape for p, c in zip(parameters, columns, strict=True) if c.ndim}
        raise InvalidInputError(f"parameter arrays do not broadcast together: {shapes}", where=where) from None
    shape = arrays[0].shape
    if len(shape) > 1:
        raise InvalidInputError(f"parameter values must be scalars or 1-D arrays, got shape {shape}", where=where)
    single = len(shape) == 0
    points = np.stack([np.atleast_1d(c) for c in arrays], axis=1)
    return points, single


def outside_bounds(points: np.ndarray, parameters: Sequence[Parameter]) -> np.ndarray:
    """Boolean (N,) mask of points with any parameter outside its allowed bounds.

    Args:
        points: an (N, P) array.
        parameters: the P parameters, in the order of the columns.

    Returns:
        True where a point is outside.
    """
    lower = np.array([p.lower for p in parameters])
    upper = np.array([p.upper for p in parameters])
    return np.any((points < lower) | (points > upper), axis=1)


def check_bounds(points: np.ndarray, parameters: Sequence[Parameter], *, where: str = "x") -> None:
    """Raise :class:`OutOfBoundsError` naming the first point and parameter out of bounds.

    Args:
        points: an (N, P) array.
        parameters: the P parameters, in the order of the columns.
        where: what the message names.

    Raises:
        OutOfBoundsError: some point is outside the bounds (the message says how many,
            and the first point and parameter).
    """
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
