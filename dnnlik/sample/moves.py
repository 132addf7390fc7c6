"""emcee moves for the sampler, chosen by name and recorded.

A move set is written ``"name:weight,name:weight"`` (weights need not add up
to 1) or given by one of the names in :data:`MOVE_SETS`; both, and
:func:`parse_moves`, live in :mod:`.options` (importable without emcee) and
are re-exported here. Move names:

``laplace``
    :class:`LaplaceIndependenceMove`: an independence Metropolis-Hastings
    proposal from a multivariate Student-t (or normal) centred at the maximum
    with the Laplace covariance (the inverse of minus the Hessian there).
``laplace-rw``
    :class:`LaplaceRandomWalkMove`: a Gaussian random walk with the Laplace
    covariance scaled by 2.38^2 / d.
``stretch``, ``de``, ``snooker``, ``kde``
    emcee's ``StretchMove``, ``DEMove``, ``DESnookerMove``, ``KDEMove``.

Every move is wrapped in :class:`CountingMove`, which counts proposals and
acceptances so that each move's acceptance fraction ends up in the metadata.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import emcee
import numpy as np

from ..errors import InvalidInputError
from .options import DEFAULT_DF, MOVE_NAMES, MOVE_SETS, MoveSpec, needs_laplace, parse_moves, uses_red_blue

__all__ = [
    "LaplaceIndependenceMove",
    "LaplaceRandomWalkMove",
    "CountingMove",
    "MoveSpec",
    "MOVE_NAMES",
    "MOVE_SETS",
    "parse_moves",
    "build_moves",
    "needs_laplace",
    "uses_red_blue",
    "DEFAULT_DF",
]

_GEMM_SINGLE_THREAD = 262144
"""OpenBLAS runs a matrix product of at most this many multiply-adds on one thread."""


def _matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` in row blocks small enough for OpenBLAS to stay on one thread.

    The products here are small (200 x 95 x 95): threads gain nothing, and on a
    loaded machine a multi-threaded BLAS waiting for a busy core slows a
    sampler step down by an order of magnitude.
    """
    rows = max(1, _GEMM_SINGLE_THREAD // max(1, a.shape[1] * b.shape[1]))
    if a.shape[0] <= rows:
        return a @ b
    out = np.empty((a.shape[0], b.shape[1]))
    for start in range(0, a.shape[0], rows):
        np.matmul(a[start : start + rows], b, out=out[start : start + rows])
    return out


class LaplaceIndependenceMove(emcee.moves.MHMove):
    """Independence Metropolis-Hastings proposal from the Laplace approximation.

    Proposals are drawn, independently of the current walker, from a
    multivariate Student-t with ``df`` degrees of freedom (a normal when ``df``
    is None) with location ``mean`` and scale matrix ``scale**2 * precision^-1``.
    The acceptance uses the exact log ratio ``log q(x) - log q(x')``.

    With ``uniform=(k, lo, hi)``, coordinate ``k`` is instead drawn uniformly
    in [lo, hi] and the others from the conditional of the Laplace normal
    given it (mean shifted linearly with coordinate k, covariance the inverse of
    the precision without row and column k): a proposal that follows the
    profile ridge inside a narrow window of the parameter of interest.

    Args:
        mean: the proposal's location, (d,).
        precision: the Laplace precision (inverse covariance), (d, d).
        df: degrees of freedom of the Student-t (None: a normal).
        scale: scale factor of the covariance.
        uniform: ``(k, lo, hi)``: draw coordinate k uniformly in [lo, hi].

    Raises:
        InvalidInputError: shapes that do not match, ``df <= 0``, a bad ``uniform``.
    """

    def __init__(
        self,
        mean: np.ndarray,
        precision: np.ndarray,
        *,
        df: float | None = DEFAULT_DF,
        scale: float = 1.0,
        uniform: tuple[int, float, float] | None = None,
    ) -> None:
        mean = np.asarray(mean, dtype=np.float64).reshape(-1)
        precision = np.asarray(precision, dtype=np.float64)
        d = mean.size
        if precision.shape != (d, d):
            raise InvalidInputError(
                f"precision has shape {precision.shape}, expected {(d, d)}", where="LaplaceIndependenceMove"
            )
        if df is not None and not df > 0:
            raise InvalidInputError(f"df must be positive or None, got {df}", where="LaplaceIndependenceMove")
        self.mean = mean
        self.df = None if df is None else float(df)
        self.scale = float(scale)
        self.uniform = uniform
        if uniform is None:
            self._g = np.arange(d)
            self._u = None
            cond_precision = precision
            self._b = np.zeros((d, 0))
        else:
            k, lo, hi = uniform
            if not (0 <= k < d and lo < hi):
                raise InvalidInputError(f"bad uniform coordinate {uniform}", where="LaplaceIndependenceMove")
            self._u = int(k)
            self._lo, self._hi = float(lo), float(hi)
            self._g = np.array([j for j in range(d) if j != k], dtype=np.intp)
            cond_precision = precision[np.ix_(self._g, self._g)]
            # conditional mean shift: -P_gg^-1 P_gk (x_k - m_k)
            self._b = -np.linalg.solve(cond_precision, precision[self._g, k])[:, None]
        cov = np.linalg.inv(cond_precision)
        cov = 0.5 * (cov + cov.T) * self.scale**2
        self._chol = np.linalg.cholesky(cov)
        self._chol_inv_t = np.linalg.inv(self._chol).T
        self._dg = self._g.size
        self.reset_cache()
        super().__init__(self._propose, ndim=d)

    def _residual(self, x: np.ndarray) -> np.ndarray:
        r = x[:, self._g] - self.mean[self._g]
        if self._u is not None:
            r -= (x[:, self._u] - self.mean[self._u])[:, None] * self._b[:, 0]
        return r

    def _log_q_delta(self, delta: np.ndarray) -> np.ndarray:
        if self.df is None:
            return -0.5 * delta
        return -0.5 * (self.df + self._dg) * np.log1p(delta / self.df)

    def _delta(self, x: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distance of points ``x`` (n, d) from the proposal's location."""
        a = _matmul(self._residual(np.atleast_2d(x)), self._chol_inv_t)
        return np.einsum("ij,ij->i", a, a)

    def log_q(self, x: np.ndarray) -> np.ndarray:
        """Log proposal density of the points ``x`` (n, d), up to a constant."""
        return self._log_q_delta(self._delta(x))

    def _draw_delta(self, n: int, random: Any) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(random, np.random.RandomState):
            random = np.random.Generator(
                np.random.PCG64(random.randint(0, np.iinfo(np.int64).max, size=4, dtype=np.int64))
            )
        z = random.standard_normal((n, self._dg))
        delta = np.einsum("ij,ij->i", z, z)
        if self.df is not None:
            w = np.sqrt(self.df / random.chisquare(self.df, n))
            z *= w[:, None]
            delta *= w * w
        x = np.empty((n, self.mean.size))
        x[:, self._g] = self.mean[self._g] + _matmul(z, self._chol.T)
        if self._u is not None:
            xu = random.uniform(self._lo, self._hi, n)
            x[:, self._u] = xu
            x[:, self._g] += (xu - self.mean[self._u])[:, None] * self._b[:, 0]
        return x, delta

    def draw(self, n: int, random: Any) -> np.ndarray:
        """``n`` points from the proposal, using the numpy RandomState/Generator ``random``.

        From a legacy RandomState (emcee's), four 64-bit words seed a PCG64 Generator
        for this draw: its ziggurat normals are several times faster, and the
        stream still depends only on the RandomState (checkpointed with the run).
        """
        return self._draw_delta(n, random)[0]

    def reset_cache(self) -> None:
        """Forget the cached distances of the walkers (the runner does so at every checkpoint,
        so that a resumed run computes exactly what an uninterrupted one does)."""
        self._cache: tuple[np.ndarray, np.ndarray] | None = None  # (walker positions, their distances)

    def _current_delta(self, coords: np.ndarray) -> np.ndarray:
        cache = self._cache
        if cache is None or cache[0].shape != coords.shape:
            return self._delta(coords)
        old, delta = cache
        changed = np.flatnonzero(np.any(coords != old, axis=1))
        if changed.size:
            delta = delta.copy()
            delta[changed] = self._delta(coords[changed])
        return delta

    def _propose(self, coords: np.ndarray, random: Any) -> tuple[np.ndarray, np.ndarray]:
        q, delta_q = self._draw_delta(coords.shape[0], random)
        return q, self._log_q_delta(self._delta(coords)) - self._log_q_delta(delta_q)

    def propose(self, model: Any, state: Any) -> tuple[Any, np.ndarray]:
        """emcee's MHMove.propose (same random calls, same order), reusing the walkers' distances.

        The log proposal density of a walker's position is known when the
        position is one of this move's accepted proposals: it is cached and
        only recomputed for walkers another move has moved.
        """
        coords = state.coords
        n = coords.shape[0]
        if self.ndim is not None and self.ndim != coords.shape[1]:
            raise ValueError("Dimension mismatch in proposal")
        delta_cur = self._current_delta(coords)
        q, delta_q = self._draw_delta(n, model.random)
        factors = self._log_q_delta(delta_cur) - self._log_q_delta(delta_q)
        new_log_probs, new_blobs = model.compute_log_prob_fn(q)
        lnpdiff = new_log_probs - state.log_prob + factors
        accepted = np.log(model.random.rand(n)) < lnpdiff
        new_state = emcee.State(q, log_prob=new_log_probs, blobs=new_blobs)
        state = self.update(state, new_state, accepted)
        self._cache = (state.coords.copy(), np.where(accepted, delta_q, delta_cur))
        return state, accepted

    def describe(self) -> dict[str, Any]:
        """The proposal's settings, as recorded in the metadata."""
        out: dict[str, Any] = {
            "distribution": "normal" if self.df is None else "student-t",
            "scale": self.scale,
            "centre": "the (profiled) maximum of each ensemble's target",
            "covariance": "Laplace: inverse of minus the Hessian (finite differences of the gradient)",
        }
        if self.df is not None:
            out["df"] = self.df
        if self._u is not None:
            out["uniform_window"] = {
                "coordinate": self._u,
                "range": [self._lo, self._hi],
                "others": "conditional Laplace normal given it",
            }
        return out


class LaplaceRandomWalkMove(emcee.moves.MHMove):
    """Gaussian random-walk Metropolis with the Laplace covariance scaled by ``scale**2``.

    Like emcee's ``GaussianMove`` with a full covariance, but the Cholesky
    factor is computed once (``GaussianMove`` redoes an SVD at every step).
    The proposal is symmetric, so the log q ratio is 0.

    Args:
        precision: the Laplace precision (inverse covariance), (d, d).
        scale: the step scale (``build_moves`` uses 2.38 / sqrt(d)).
    """

    def __init__(self, precision: np.ndarray, *, scale: float) -> None:
        precision = np.asarray(precision, dtype=np.float64)
        cov = np.linalg.inv(precision)
        self._chol_t = np.linalg.cholesky(0.5 * (cov + cov.T) * scale**2).T
        self.scale = float(scale)
        super().__init__(self._propose, ndim=precision.shape[0])

    def _propose(self, coords: np.ndarray, random: Any) -> tuple[np.ndarray, np.ndarray]:
        gen = np.random.Generator(np.random.PCG64(random.randint(0, np.iinfo(np.int64).max, size=4, dtype=np.int64)))
        z = gen.standard_normal(coords.shape)
        return coords + _matmul(z, self._chol_t), np.zeros(coords.shape[0])


class CountingMove:
    """Wraps an emcee move; counts walker proposals and acceptances (for per-move acceptance).

    Args:
        name: the move's name (:data:`MOVE_NAMES`).
        move: the emcee move.
        options: its settings, as recorded in the metadata.
    """

    def __init__(self, name: str, move: Any, options: dict[str, Any] | None = None) -> None:
        self.name = name
        self.move = move
        self.options = dict(options or {})
        self.proposed = 0
        self.accepted = 0

    def propose(self, model: Any, state: Any) -> tuple[Any, np.ndarray]:
        """The wrapped move's proposal, counted."""
        state, accepted = self.move.propose(model, state)
        self.proposed += int(accepted.size)
        self.accepted += int(np.count_nonzero(accepted))
        return state, accepted

    def tune(self, state: Any, accepted: np.ndarray) -> None:
        """The wrapped move's tuning (emcee's hook)."""
        self.move.tune(state, accepted)

    def reset_cache(self) -> None:
        """Make the wrapped move forget cached walker state (at each checkpoint)."""
        reset = getattr(self.move, "reset_cache", None)
        if reset is not None:
            reset()

    @property
    def acceptance_fraction(self) -> float | None:
        """Accepted over proposed (None before any proposal)."""
        return self.accepted / self.proposed if self.proposed else None

    def describe(self, weight: float) -> dict[str, Any]:
        """The move's entry in the metadata's ``moves``: class, options, weight, counts and acceptance."""
        out = {
            "name": self.name,
            "class": f"{type(self.move).__module__}.{type(self.move).__qualname__}",
            "weight": weight,
            "options": self.options,
            "proposed": self.proposed,
            "accepted": self.accepted,
        }
        if self.proposed:
            out["acceptance_fraction"] = self.accepted / self.proposed
        return out


def _laplace(name: str, mean: np.ndarray | None, precision: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, precision)`` for the move ``name``, which needs the Laplace approximation."""
    if mean is None or precision is None:
        raise InvalidInputError(f"move {name!r} needs the Laplace approximation, which is not available", where="moves")
    return mean, precision


def build_moves(
    specs: Sequence[MoveSpec],
    *,
    ndim: int,
    mean: np.ndarray | None = None,
    precision: np.ndarray | None = None,
    df: float | None = DEFAULT_DF,
    uniform: tuple[int, float, float] | None = None,
) -> list[tuple[CountingMove, float]]:
    """emcee ``moves=`` list (moves wrapped in :class:`CountingMove`) for these specs.

    Args:
        specs: the moves and their weights (:func:`parse_moves`).
        ndim: the dimension sampled.
        mean, precision: the Laplace approximation (needed by the ``laplace`` moves).
        df: degrees of freedom of the independence proposal (None: normal).
        uniform: ``(k, lo, hi)``: the ``laplace`` move draws coordinate k uniformly in [lo, hi].

    Returns:
        ``[(move, normalised weight), ...]``.

    Raises:
        InvalidInputError: a ``laplace`` move without a Laplace approximation (``where="moves"``).
    """
    total = sum(s.weight for s in specs)
    out: list[tuple[CountingMove, float]] = []
    for s in specs:
        w = s.weight / total
        if s.name == "laplace":
            move = LaplaceIndependenceMove(*_laplace(s.name, mean, precision), df=df, uniform=uniform)
            out.append((CountingMove(s.name, move, move.describe()), w))
        elif s.name == "laplace-rw":
            _, prec = _laplace(s.name, mean, precision)
            rw = LaplaceRandomWalkMove(prec, scale=2.38 / math.sqrt(ndim))
            out.append((CountingMove(s.name, rw, {"covariance": "Laplace covariance * 2.38^2 / d"}), w))
        elif s.name == "stretch":
            out.append((CountingMove(s.name, emcee.moves.StretchMove(), {"a": 2.0}), w))
        elif s.name == "de":
            out.append((CountingMove(s.name, emcee.moves.DEMove(), {"gamma0": 2.38 / math.sqrt(2 * ndim)}), w))
        elif s.name == "snooker":
            out.append((CountingMove(s.name, emcee.moves.DESnookerMove(), {"gammas": 1.7}), w))
        elif s.name == "kde":
            out.append((CountingMove(s.name, emcee.moves.KDEMove(), {"bw_method": None}), w))
        else:  # pragma: no cover - parse_moves rejects unknown names
            raise InvalidInputError(f"unknown move {s.name!r}", where="moves")
    return out
