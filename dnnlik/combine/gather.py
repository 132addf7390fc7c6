"""Moving columns between a combination's points and a member's, computed once per combination.

A member's parameters sit at some columns of the combined points. Its points
are gathered with one copy (a slice per run of consecutive columns, or one
fancy index when there are many runs or few rows), and its gradient is written
back the same way: *assigned* into the columns it is the first member to hold
(so the combined gradient needs no zero-filling) and *added* into the others.

>>> import numpy as np
>>> cols = MemberColumns(np.array([0, 3, 4]), first=np.array([False, True, True]), n_combined=5)
>>> cols.runs, cols.assign_runs, cols.add_runs
(((0, 0, 1), (1, 3, 2)), ((1, 3, 2),), ((0, 0, 1),))
>>> cols.gather(np.arange(10.0).reshape(2, 5))
array([[0., 3., 4.],
       [5., 8., 9.]])
"""

from __future__ import annotations

import numpy as np

__all__ = ["MemberColumns", "runs", "MAX_RUNS", "FEW_ROWS"]

MAX_RUNS = 16
"""Above this many runs of consecutive columns, one fancy index replaces the slices."""

FEW_ROWS = 64
"""Below this many rows, one fancy index costs less than a slice per run (numpy's per-call overhead)."""

Runs = tuple[tuple[int, int, int], ...]


def runs(member: np.ndarray, combined: np.ndarray) -> Runs:
    """``(member column, combined column, length)`` of each run consecutive in both.

    Args:
        member: the member's column indices.
        combined: the combination's column of each.

    Returns:
        The runs, in order.

    >>> runs(np.arange(6), np.array([0, 35, 36, 37, 1, 2]))
    ((0, 0, 1), (1, 35, 3), (4, 1, 2))
    """
    out: list[tuple[int, int, int]] = []
    for k, j in zip((int(v) for v in member), (int(v) for v in combined), strict=True):
        if out and out[-1][0] + out[-1][2] == k and out[-1][1] + out[-1][2] == j:
            out[-1] = (out[-1][0], out[-1][1], out[-1][2] + 1)
        else:
            out.append((k, j, 1))
    return tuple(out)


class MemberColumns:
    """Where one member's parameters are in the combination.

    Args:
        columns: the combined column of each of the member's parameters, in its order.
        first: for each, True when this member is the first to hold the parameter.
        n_combined: the number of combined parameters.
    """

    def __init__(self, columns: np.ndarray, *, first: np.ndarray, n_combined: int) -> None:
        self.columns = np.asarray(columns, dtype=np.intp)
        self.size = int(self.columns.size)
        first = np.asarray(first, dtype=bool)
        own = np.arange(self.size)
        #: the member's columns are the combination's, in order: its points are the combined points
        self.identity = self.size == n_combined and bool((self.columns == own).all())
        self._assign_all = self.identity and bool(first.all())
        self.runs = runs(own, self.columns)
        self.assign_runs = runs(own[first], self.columns[first])
        self.add_runs = runs(own[~first], self.columns[~first])
        self._assign = (own[first], self.columns[first])
        self._add = (own[~first], self.columns[~first])
        self._fancy = len(self.runs) > MAX_RUNS or len(self.assign_runs) + len(self.add_runs) > MAX_RUNS

    def gather(self, points: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """The member's columns of ``points``: (N, size), C-contiguous (``points`` itself for an identity).

        Args:
            points: (N, P) combined points.
            out: an (N, size) C-contiguous array to write into (a buffer reused chunk after chunk).

        Returns:
            The member's points.
        """
        if self.identity:
            return points
        n = points.shape[0]
        if n < FEW_ROWS:
            return points.take(self.columns, axis=1)  # one call (the method: np.take's dispatch costs 1 us)
        if out is None:
            out = np.empty((n, self.size))
        if self._fancy:
            return points.take(self.columns, axis=1, out=out)
        for k, j, length in self.runs:
            out[:, k : k + length] = points[:, j : j + length]
        return out

    def scatter(self, grad: np.ndarray, g: np.ndarray) -> None:
        """Write the member's gradient ``g`` (N, size) into the combined ``grad`` (N, P), in place.

        Columns this member holds first are assigned, the others added to.

        Args:
            grad: the combined gradient being built.
            g: the member's gradient.
        """
        if self._assign_all:
            grad[...] = g
            return
        if grad.shape[0] == 1:  # one point (an optimiser's step): 1-D fancy indexing on the rows
            row, g_row = grad[0], g[0]
            k, j = self._assign
            row[j] = g_row[k]
            k, j = self._add
            if k.size:
                row[j] += g_row[k]
            return
        if self._fancy or grad.shape[0] < FEW_ROWS:
            k, j = self._assign
            if k.size:
                grad[:, j] = g[:, k]
            k, j = self._add
            if k.size:
                grad[:, j] += g[:, k]
            return
        for k, j, length in self.assign_runs:
            grad[:, j : j + length] = g[:, k : k + length]
        for k, j, length in self.add_runs:
            grad[:, j : j + length] += g[:, k : k + length]
