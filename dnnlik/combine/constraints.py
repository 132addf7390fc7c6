"""The log-density of each constraint type (spec 3.2), and the terms a combination removes or adds.

Each declared constraint is taken as a normalised log-density of its parameter
``x`` (spec section "Combining bundles"):

- ``normal(mean, sigma)``: ``-(x - mean)^2 / (2 sigma^2) - log(sigma) - log(2 pi) / 2``;
- ``lognormal(mean, sigma)``: the log-normal density of ``x`` (``log x`` normal with
  standard deviation ``sigma`` about ``log mean``):
  ``-(log x - log mean)^2 / (2 sigma^2) - log x - log(sigma) - log(2 pi) / 2``
  for ``x > 0``, ``-inf`` otherwise;
- ``uniform``: ``-log(upper - lower)`` inside the (finite) bounds, ``-inf`` outside;
- ``gamma(tau, aux)``: the Gamma(``aux + 1``, rate ``tau``) density of ``x``:
  ``aux log(tau x) - tau x - lgamma(aux + 1) + log(tau)`` for ``x > 0``; at ``x = 0``
  its limit (``log tau`` when ``aux = 0``, else ``-inf``); ``-inf`` for ``x < 0``. It is
  pyhf's Poisson term of the auxiliary count (``aux`` observed, mean ``tau x``) plus
  the constant ``log tau``;
- ``none``: 0.

A member whose output includes its terms in another normalisation (say
``-x^2 / 2`` without ``-log(2 pi) / 2``) only shifts the combination by a
constant: likelihood ratios, profiles and t_mu do not change.

:class:`ConstraintCorrection` holds, for every parameter of a combination, the
weight of its term in the correction ``sum_theta (1 - k_theta) c_theta(theta)``
(``k_theta`` members include it) plus every constant (flat terms over each
member's own bounds, offsets), precomputed once; evaluating it is one gather
and a few vector operations per batch.

>>> import numpy as np
>>> from dnnlik.parameters import Constraint
>>> round(float(term_logpdf(Constraint("normal", 0.0, 1.0), (-5.0, 5.0), np.array([0.0]))[0]), 6)
-0.918939
>>> bool(term_logpdf(Constraint("uniform"), (-1.0, 5.0), np.array([2.0]))[0] == -np.log(6.0))
True
>>> exponential = Constraint("gamma", tau=2.0, aux=0.0)  # Gamma(1, rate 2): 2 exp(-2 x), 2 at x = 0
>>> term_logpdf(exponential, (0.0, 5.0), np.array([-1.0, 0.0])).tolist() == [-np.inf, np.log(2.0)]
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from ..parameters import Constraint

__all__ = [
    "term_logpdf",
    "term_grad",
    "mean_sigma",
    "tau_aux",
    "uniform_log_density",
    "ConstraintCorrection",
    "LOG_SQRT_2PI",
]

LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
"""``log(2 pi) / 2``, the normalisation of a unit normal density."""


def mean_sigma(constraint: Constraint) -> tuple[float, float]:
    """``(mean, sigma)`` of a normal or log-normal constraint, as floats.

    Args:
        constraint: a ``normal`` or ``lognormal`` constraint.

    Returns:
        Its mean and standard deviation.

    Raises:
        ValueError: the constraint has no mean or sigma (it is ``none`` or ``uniform``).
    """
    if constraint.mean is None or constraint.sigma is None:
        raise ValueError(f"a {constraint.type!r} constraint has no mean and sigma")
    return float(constraint.mean), float(constraint.sigma)


def tau_aux(constraint: Constraint) -> tuple[float, float]:
    """``(tau, aux)`` of a gamma constraint, as floats (an absent ``aux`` is ``tau``).

    Args:
        constraint: a ``gamma`` constraint.

    Returns:
        Its rate and auxiliary count.

    Raises:
        ValueError: the constraint has no ``tau`` (it is not ``gamma``).
    """
    if constraint.tau is None:
        raise ValueError(f"a {constraint.type!r} constraint has no tau")
    tau = float(constraint.tau)
    return tau, tau if constraint.aux is None else float(constraint.aux)


def _gamma_constant(tau: float, aux: float) -> float:
    """``aux log(tau) - lgamma(aux + 1) + log(tau)``: the part of a gamma term that does not depend on ``x``."""
    return aux * math.log(tau) - math.lgamma(aux + 1.0) + math.log(tau)


def uniform_log_density(bounds: tuple[float, float]) -> float:
    """``-log(upper - lower)``: the flat term's value inside finite ``bounds``.

    Args:
        bounds: ``(lower, upper)``, finite, ``lower < upper``.

    Returns:
        The log-density of the flat term inside the bounds.
    """
    return -math.log(bounds[1] - bounds[0])


def term_logpdf(constraint: Constraint, bounds: tuple[float, float], x: np.ndarray) -> np.ndarray:
    """The constraint term of one parameter at the values ``x`` (see the module docstring).

    Args:
        constraint: the declared constraint.
        bounds: the parameter's bounds (used by ``uniform``).
        x: the parameter's values, any shape.

    Returns:
        The term's log-density, shaped as ``x`` (``-inf`` outside its support).
    """
    x = np.asarray(x, dtype=np.float64)
    if constraint.type == "normal":
        mean, sigma = mean_sigma(constraint)
        z = (x - mean) / sigma
        return -0.5 * z * z - math.log(sigma) - LOG_SQRT_2PI
    if constraint.type == "lognormal":
        mean, sigma = mean_sigma(constraint)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_x = np.log(np.where(x > 0.0, x, np.nan))
            out = -0.5 * ((log_x - math.log(mean)) / sigma) ** 2 - log_x - math.log(sigma) - LOG_SQRT_2PI
        return np.where(x > 0.0, out, -np.inf)
    if constraint.type == "uniform":
        inside = (x >= bounds[0]) & (x <= bounds[1])
        return np.where(inside, uniform_log_density(bounds), -np.inf)
    if constraint.type == "gamma":
        tau, aux = tau_aux(constraint)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_part = aux * np.log(np.where(x > 0.0, x, 1.0)) if aux > 0 else 0.0
            out = log_part - tau * x + _gamma_constant(tau, aux)
        return np.where((x > 0.0) | ((x == 0.0) & (aux == 0.0)), out, -np.inf)
    return np.zeros_like(x)


def term_grad(constraint: Constraint, x: np.ndarray) -> np.ndarray:
    """The derivative of :func:`term_logpdf` with respect to the parameter (0 for flat and no terms).

    Args:
        constraint: the declared constraint.
        x: the parameter's values, any shape.

    Returns:
        The derivative, shaped as ``x`` (NaN where a log-normal's ``x <= 0``, and where a
        gamma term is ``-inf``; ``-tau``, the right derivative, at ``x = 0`` when ``aux = 0``).
    """
    x = np.asarray(x, dtype=np.float64)
    if constraint.type == "normal":
        mean, sigma = mean_sigma(constraint)
        return -(x - mean) / (sigma * sigma)
    if constraint.type == "lognormal":
        mean, sigma = mean_sigma(constraint)
        with np.errstate(divide="ignore", invalid="ignore"):
            positive = np.where(x > 0.0, x, np.nan)
            return -(np.log(positive) - math.log(mean)) / (sigma * sigma * positive) - 1.0 / positive
    if constraint.type == "gamma":
        tau, aux = tau_aux(constraint)
        if aux == 0.0:
            return np.where(x >= 0.0, -tau, np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            return aux / np.where(x > 0.0, x, np.nan) - tau
    return np.zeros_like(x)


class _Part(NamedTuple):
    """The terms of one type: their columns, weights ``w``, centres, ``-w / (2 sigma^2)`` and ``-w / sigma^2``.

    ``floats`` holds the columns, centres and both coefficients again as Python lists, for one point.
    """

    columns: np.ndarray
    weights: np.ndarray
    centre: np.ndarray
    half_coef: np.ndarray
    slope_coef: np.ndarray
    lognormal: bool
    floats: tuple[list[int], list[float], list[float], list[float]]


class _GammaPart(NamedTuple):
    """The gamma terms: their columns, ``-w tau``, and those with ``aux > 0`` (their ``w aux``).

    ``w c(x) = w aux log x - w tau x + constant``: ``neg_rate`` holds ``-w tau`` for every
    column, ``log_coef`` holds ``w aux`` for the columns with ``aux > 0`` (``log_local``:
    their place among ``columns``; ``log_columns``: their combined columns). ``floats``
    holds the columns, ``-w tau`` and ``w aux`` (0 where ``aux = 0``) as Python lists.
    """

    columns: np.ndarray
    neg_rate: np.ndarray
    log_local: np.ndarray
    log_columns: np.ndarray
    log_coef: np.ndarray
    all_log: bool
    floats: tuple[list[int], list[float], list[float]]


def _gamma_part(columns: Sequence[int], weights: Sequence[float], constraints: Sequence[Constraint]) -> _GammaPart:
    """The gamma terms' coefficients (see :class:`_GammaPart`)."""
    tau = np.array([tau_aux(c)[0] for c in constraints])
    aux = np.array([tau_aux(c)[1] for c in constraints])
    w = np.asarray(weights, dtype=np.float64)
    cols = np.asarray(columns, dtype=np.intp)
    log_local = np.flatnonzero(aux > 0.0)
    neg_rate, log_coef = -w * tau, w * aux
    floats = (cols.tolist(), neg_rate.tolist(), log_coef.tolist())
    return _GammaPart(
        cols, neg_rate, log_local, cols[log_local], log_coef[log_local], log_local.size == cols.size, floats
    )


class ConstraintCorrection:
    """``sum_j w_j c_j(x_j) + constant``, for the normal, log-normal and gamma terms of a combination.

    ``w_j = 1 - k_j`` where ``k_j`` members include parameter ``j``'s term; the flat
    (``uniform``) terms, every normalisation that does not depend on ``x`` and the
    members' offsets are all folded into ``constant``. Built once per combination.

    Where a gamma term is ``-inf`` (``x < 0``; ``x = 0`` with ``aux > 0``) the correction
    is ``-inf``, whatever its weight: the combination counts the term once, so its
    log-density is ``-inf`` there.

    Args:
        columns: the combined parameters' columns that carry a non-zero weight.
        weights: the weight of each, ``1 - k``.
        constraints: the declared constraint of each (``normal``, ``lognormal`` or ``gamma``).
        constant: everything else, a number.
    """

    def __init__(
        self, columns: Sequence[int], weights: Sequence[float], constraints: Sequence[Constraint], constant: float
    ) -> None:
        kinds = [c.type for c in constraints]
        if any(k not in ("normal", "lognormal", "gamma") for k in kinds):
            raise ValueError(f"only normal, lognormal and gamma terms depend on x, got {sorted(set(kinds))}")
        self.constant = float(constant)
        self._parts: list[_Part] = []
        for kind in ("normal", "lognormal"):
            pick = [i for i, k in enumerate(kinds) if k == kind]
            if not pick:
                continue
            cols = np.array([columns[i] for i in pick], dtype=np.intp)
            w = np.array([weights[i] for i in pick], dtype=np.float64)
            centre = np.array([mean_sigma(constraints[i])[0] for i in pick])
            sigma = np.array([mean_sigma(constraints[i])[1] for i in pick])
            lognormal = kind == "lognormal"
            if lognormal:
                centre = np.log(centre)
            # the x-independent normalisation goes into the constant once
            self.constant += float(w @ (-np.log(sigma) - LOG_SQRT_2PI))
            inv_var = 1.0 / (sigma * sigma)
            half, slope = -0.5 * w * inv_var, -w * inv_var
            floats = (cols.tolist(), centre.tolist(), half.tolist(), slope.tolist())
            self._parts.append(_Part(cols, w, centre, half, slope, lognormal, floats))
        pick = [i for i, k in enumerate(kinds) if k == "gamma"]
        self._gamma: _GammaPart | None = None
        if pick:
            gammas = [constraints[i] for i in pick]
            self._gamma = _gamma_part([columns[i] for i in pick], [weights[i] for i in pick], gammas)
            self.constant += sum(weights[i] * _gamma_constant(*tau_aux(constraints[i])) for i in pick)

    @property
    def _has_lognormal(self) -> bool:
        return any(part.lognormal for part in self._parts)

    @property
    def is_constant(self) -> bool:
        """True when no term depends on the parameters (the correction is one number)."""
        return not self._parts and self._gamma is None

    def _gamma_value(self, points: np.ndarray, grad: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """The gamma terms' ``x``-dependent part at (N, P) points, and the rows where one is ``-inf``;
        adds their gradient into ``grad`` (N, P) when given (meaningless on those rows)."""
        g = self._gamma
        assert g is not None
        x = points.take(g.columns, axis=1)
        v = x @ g.neg_rate
        bad = np.asarray((x < 0.0).any(axis=1))
        if grad is not None:
            grad[:, g.columns] += g.neg_rate
        if g.log_local.size:
            x_log = x if g.all_log else x.take(g.log_local, axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                v += np.log(x_log) @ g.log_coef
                if grad is not None:
                    grad[:, g.log_columns] += g.log_coef / x_log
            bad |= (x_log == 0.0).any(axis=1)
        return v, bad

    def value(self, points: np.ndarray) -> np.ndarray:
        """The correction at (N, P) points of the combination: (N,).

        Args:
            points: the combination's points, (N, P) float64.

        Returns:
            The correction, (N,) (``-inf``/``+inf``/NaN where a log-normal's ``x <= 0``;
            ``-inf`` where a gamma term is).
        """
        if points.shape[0] == 1 and not self._has_lognormal:
            return np.array([self._one_point(points[0], None)])
        out: np.ndarray | None = None
        for part in self._parts:
            x = points.take(part.columns, axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                u = np.log(x) if part.lognormal else x
                d = u - part.centre
                v = (d * d) @ part.half_coef
                if part.lognormal:
                    v -= u @ part.weights
            out = v if out is None else out + v
        bad = None
        if self._gamma is not None:
            v, bad = self._gamma_value(points, None)
            out = v if out is None else out + v
        if out is None:
            return np.full(points.shape[0], self.constant)
        out += self.constant
        if bad is not None:
            out[bad] = -np.inf
        return out

    def value_and_grad(self, points: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """:meth:`value`, adding the correction's gradient into ``grad`` (N, P) in place.

        Args:
            points: the combination's points, (N, P) float64.
            grad: the gradient being summed, (N, P) float64; updated in place.

        Returns:
            The correction, (N,).
        """
        if points.shape[0] == 1 and not self._has_lognormal:
            return np.array([self._one_point(points[0], grad[0])])
        out = np.full(points.shape[0], self.constant)
        for part in self._parts:
            x = points.take(part.columns, axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                u = np.log(x) if part.lognormal else x
                d = u - part.centre
                out += (d * d) @ part.half_coef
                slope = d * part.slope_coef
                if part.lognormal:
                    out -= u @ part.weights
                    slope = (slope - part.weights) / x
            grad[:, part.columns] += slope
        if self._gamma is not None:
            v, bad = self._gamma_value(points, grad)
            out += v
            out[bad] = -np.inf
        return out

    def _one_point(self, x: np.ndarray, grad: np.ndarray | None) -> float:
        """The correction at one point (normal and gamma terms), in Python floats: cheaper than numpy's calls
        for the handful of shared parameters a combination usually has; adds its gradient into ``grad`` (P,)."""
        total = self.constant
        for part in self._parts:
            values = x.take(part.columns).tolist()
            columns, centres, halves, slopes = part.floats
            for j, v, centre, half, slope in zip(columns, values, centres, halves, slopes, strict=True):
                d = v - centre
                total += d * d * half
                if grad is not None:
                    grad[j] += d * slope
        if self._gamma is not None:
            columns, neg_rates, log_coefs = self._gamma.floats
            for j, v, neg_rate, log_coef in zip(columns, x.take(columns).tolist(), neg_rates, log_coefs, strict=True):
                if v < 0.0 or (v == 0.0 and log_coef != 0.0):
                    return -math.inf  # the term is -inf (the combination's gradient is NaN there)
                total += neg_rate * v
                if log_coef != 0.0:
                    total += log_coef * math.log(v)
                if grad is not None:
                    grad[j] += neg_rate + (log_coef / v if log_coef != 0.0 else 0.0)
        return total
