"""Maximise a log-density (globally or with some parameters fixed) with L-BFGS-B.

Each local maximisation is L-BFGS-B within the parameters' bounds, using the
source's analytic gradient (finite differences if it has none). A run ends
either with L-BFGS-B's success status and a fresh restart from its end point
no longer improving the log-density (by more than ``1e-8 * max(1, |logpdf|)``),
or otherwise (``ABNORMAL`` after a failed line search, the iteration limit),
or without moving from its start. In every case L-BFGS-B is not taken at its
word (a gradient spoilt by round-off makes it report success after a step of
1e-9): a coordinate probe (:meth:`~dnnlik.infer.objective.Objective.probe`:
steps of 1e-2 and 1e-4 of each parameter's scale, up and down, in one batched
evaluation) decides. If no step improves, the end point is a maximum (possibly
at a kink of the log-density, where the gradient does not vanish); if one
does, L-BFGS-B restarts from the best step, and the fit's notes say so. A
start still improving after ``MAX_RESTARTS`` runs has failed.

Parameters whose constraint is too narrow to fit (:mod:`~dnnlik.infer.scales`:
width below 1e-5 of their centre) are held at their constraint's centre, listed
in the result's ``held`` with a note. Several starts (the first at ``x0`` or
the nominal point, the others drawn from the parameters' constraints with a
seeded generator) return the best converged one. Failures raise
:class:`~dnnlik.errors.OptimizationError`: no number rather than a wrong one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.optimize import minimize

from ..density import LogDensity
from ..errors import InvalidInputError, OptimizationError
from ..parameters import Parameter
from ..points import as_points
from .objective import DEFAULT_FD_STEP, Objective
from .results import FitResult
from .scales import degenerate_parameters, probe_steps

__all__ = ["maximize", "SeedLike"]

SeedLike = int | np.random.Generator | None

MAX_RESTARTS = 6
"""Local runs per start: the first plus restarts until the log-density stops improving."""
MAX_ITERATIONS = 5000
_LBFGSB_OPTIONS = {"maxiter": MAX_ITERATIONS, "maxfun": 4 * MAX_ITERATIONS, "ftol": 1e-12, "gtol": 1e-7}
_START_TRIES = 100


def maximize(
    source: LogDensity,
    *,
    fixed: Mapping[str, float] | None = None,
    x0: Any = None,
    starts: int = 1,
    seed: SeedLike = None,
    fd_step: float = DEFAULT_FD_STEP,
) -> FitResult:
    """The maximum of ``source.logpdf`` over its parameters not in ``fixed``.

    ``x0`` (any one-point form :func:`dnnlik.points.as_points` accepts) is the
    first start, the nominal point by default; ``starts - 1`` more starts are
    drawn at random (``seed``), and the best converged one is returned.

    >>> from dnnlik.likelihoods import CallableLikelihood
    >>> from dnnlik.parameters import Parameter
    >>> def logl(x):  # mu = 1 +- 0.5, theta correlated with mu
    ...     mu, theta = x[:, 0], x[:, 1]
    ...     return -0.5 * ((mu - 1.0) ** 2 / 0.5**2 + (theta - 0.5 * mu) ** 2)
    >>> lik = CallableLikelihood(logl, [Parameter("mu", "poi", (-5.0, 5.0)), Parameter("theta", bounds=(-5.0, 5.0))])
    >>> fit = maximize(lik)
    >>> round(fit.value("mu"), 4), round(fit.value("theta"), 4)
    (1.0, 0.5)
    >>> round(maximize(lik, fixed={"mu": 0.0}).logpdf, 4)  # theta profiled: -0.5 * (0 - 1)**2 / 0.5**2
    -2.0

    Args:
        source: the log-density (a reference likelihood, a loaded bundle, any
            :class:`~dnnlik.density.LogDensity`).
        fixed: ``{name: value}`` of parameters held at a value inside their bounds;
            default none.
        x0: the first start, clipped into the bounds (values in ``fixed`` replace
            its entries); default the parameters' nominal values.
        starts: how many starts; the ones after the first are drawn from each free
            parameter's normal/lognormal/gamma constraint, else uniformly in its training
            range (else its bounds; nominal plus a standard normal when that range is
            infinite), up to 100 draws for a point with a finite log-density.
        seed: seed or generator of the random starts.
        fd_step: relative step of the finite-difference gradient, used only when
            the source has no gradient (:class:`~dnnlik.errors.NoGradientError`).

    Returns:
        The best converged fit: ``x`` holds every parameter (fixed and held ones
        at their value), ``logpdf`` the log-density there; ``held`` and ``notes``
        say which parameters were too narrow to fit and what else was done.

    Raises:
        InvalidInputError: ``starts`` is not a positive integer; ``fixed`` names an
            unknown parameter or a value that is not a number inside its bounds;
            ``x0`` is malformed or more than one point.
        OptimizationError: no start converged to a finite maximum (the
            log-density is -inf at every start, +inf somewhere, or grows without
            bound), or every parameter is fixed and the log-density there is not
            finite.
    """
    params: tuple[Parameter, ...] = tuple(source.parameters)
    names = tuple(p.name for p in params)
    if isinstance(starts, bool) or not isinstance(starts, (int, np.integer)) or starts < 1:
        raise InvalidInputError(f"must be a positive integer, got {starts!r}", where="starts")
    fixed_idx, fixed_val = _check_fixed(fixed, params)
    base = _start_point(x0, params)
    base[fixed_idx] = fixed_val
    free = np.setdiff1d(np.arange(len(params)), fixed_idx)
    held_idx, held_val, notes = degenerate_parameters(params, free)
    base[held_idx] = held_val
    free = np.setdiff1d(free, held_idx)
    fixed_names = tuple(names[i] for i in fixed_idx)
    held_names = tuple(names[i] for i in held_idx)
    objective = Objective(source, base, free, fd_step=fd_step)

    if free.size == 0:
        value = objective.logpdf(np.empty(0))
        if not math.isfinite(value):
            raise OptimizationError(
                f"the log-density is {value} at the fixed point (all parameters fixed)", where="maximize"
            )
        return FitResult(
            names=names,
            x=tuple(map(float, base)),
            logpdf=value,
            fixed=fixed_names,
            method="none (all parameters fixed)",
            message="all parameters fixed" if not held_names else "all parameters fixed or held",
            n_evaluations=objective.n_evaluations,
            held=held_names,
            notes=tuple(notes),
        )

    rng = np.random.default_rng(seed)
    bounds = [(_finite_or_none(objective.lower[j]), _finite_or_none(objective.upper[j])) for j in range(free.size)]
    outcomes: list[_Outcome | str] = []
    for k in range(int(starts)):
        z0 = base[free] if k == 0 else _random_start(objective, params, free, rng)
        if z0 is None:
            outcomes.append(f"no point with a finite log-density found in {_START_TRIES} random draws")
            continue
        outcomes.append(_local_max(objective, z0, bounds, params))

    good = [o for o in outcomes if not isinstance(o, str)]
    if not good:
        details = "; ".join(f"start {i + 1}: {o}" for i, o in enumerate(outcomes))
        what = f"with {', '.join(fixed_names)} fixed" if fixed_names else "over all parameters"
        raise OptimizationError(f"maximisation {what} failed from every start ({details})", where="maximize")
    value, z, n_iter, message, run_notes = max(good, key=lambda o: o[0])
    x = base.copy()
    x[free] = z
    return FitResult(
        names=names,
        x=tuple(map(float, x)),
        logpdf=value,
        fixed=fixed_names,
        method=objective.method,
        message=message,
        n_iterations=n_iter,
        n_evaluations=objective.n_evaluations,
        starts=int(starts),
        converged_starts=len(good),
        held=held_names,
        notes=(*notes, *run_notes),
    )


_Outcome = tuple[float, np.ndarray, int, str, tuple[str, ...]]
"""A converged start: log-density, free parameters, iterations, L-BFGS-B's last message, notes."""


def _local_max(
    objective: Objective,
    z0: np.ndarray,
    bounds: Sequence[tuple[float | None, float | None]],
    params: Sequence[Parameter],
) -> _Outcome | str:
    """One start: L-BFGS-B, restarted until it converges (see the module docstring). A string says why it failed."""
    objective.reset_best()
    z = np.array(z0, dtype=np.float64)
    start_value = objective.logpdf(z)
    if not math.isfinite(start_value):
        return f"the log-density is {start_value} at the starting point {objective._describe_point(z)}"
    value = start_value
    n_iter = 0
    message = ""
    notes: list[str] = []
    for run in range(MAX_RESTARTS):
        try:
            res = minimize(objective, z, jac=True, method="L-BFGS-B", bounds=bounds, options=_LBFGSB_OPTIONS)
        except OptimizationError as exc:
            return exc.bare_message
        n_iter += int(res.nit)
        message = str(res.message)
        z_new = np.asarray(res.x, dtype=np.float64)
        new_value = objective.logpdf(z_new)
        # a restart may end a round-off below its start (L-BFGS-B keeps its own best value): not a failure
        if not math.isfinite(new_value) or new_value < value - 1e-12 * max(1.0, abs(value)):
            return (
                f"L-BFGS-B ended at a point with log-density {new_value:.10g} below its start "
                f"({value:.10g}); message: {message}"
            )
        improvement = new_value - value
        moved = not np.array_equal(z_new, z)
        z, value = z_new, new_value
        if res.success and moved and (run == 0 or improvement > 1e-8 * max(1.0, abs(value))):
            continue  # a fresh restart confirms (or improves on) a success
        # a confirmed success, a stop without success, or a run that did not move: the probe decides
        try:
            better = objective.probe(z, value, probe_steps(params, objective.free, z))
        except OptimizationError as exc:
            return exc.bare_message
        if better is None:
            return value, z, n_iter, message, tuple(notes)
        value, z = better
        why = message if moved else f"did not move: {message}"
        notes.append(f"L-BFGS-B run {run + 1} stopped short ({why}); restarted from a better point nearby")
    return (
        f"not converged: the log-density still improved after {MAX_RESTARTS} L-BFGS-B runs "
        f"(last value {value:.10g}, message: {message})"
    )


def _check_fixed(fixed: Mapping[str, float] | None, params: Sequence[Parameter]) -> tuple[np.ndarray, np.ndarray]:
    if not fixed:
        return np.empty(0, dtype=np.intp), np.empty(0)
    if not isinstance(fixed, Mapping):
        raise InvalidInputError(f"expected a mapping {{name: value}}, got {type(fixed).__name__}", where="fixed")
    names = [p.name for p in params]
    idx, vals = [], []
    for name, value in fixed.items():
        if name not in names:
            raise InvalidInputError(
                f"unknown parameter {name!r}; known: {names[:8]}" + (" ..." if len(names) > 8 else ""), where="fixed"
            )
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise InvalidInputError(f"value {value!r} is not a number", where=f"fixed[{name!r}]") from None
        p = params[names.index(name)]
        if not math.isfinite(v) or v < p.lower or v > p.upper:
            raise InvalidInputError(
                f"value {v:g} is not inside the bounds [{p.lower:g}, {p.upper:g}]", where=f"fixed[{name!r}]"
            )
        idx.append(names.index(name))
        vals.append(v)
    order = np.argsort(idx)
    return np.asarray(idx, dtype=np.intp)[order], np.asarray(vals)[order]


def _start_point(x0: Any, params: Sequence[Parameter]) -> np.ndarray:
    if x0 is None:
        point = np.array([p.nominal for p in params], dtype=np.float64)
    else:
        points, single = as_points(x0, params, where="x0")
        if not single and points.shape[0] != 1:
            raise InvalidInputError(f"expected one starting point, got {points.shape[0]}", where="x0")
        point = points[0].copy()
    lower = np.array([p.lower for p in params])
    upper = np.array([p.upper for p in params])
    return np.clip(point, lower, upper)


def _random_start(
    objective: Objective, params: Sequence[Parameter], free: np.ndarray, rng: np.random.Generator
) -> np.ndarray | None:
    """A random point with a finite log-density, drawn from each free parameter's constraint."""
    for _ in range(_START_TRIES):
        z = np.array([_draw(params[i], rng) for i in free])
        if math.isfinite(objective.logpdf(z)):
            return z
    return None


def _draw(p: Parameter, rng: np.random.Generator) -> float:
    lo, hi = p.training_range if p.training_range is not None else p.bounds
    lo, hi = max(lo, p.lower), min(hi, p.upper)
    c = p.constraint
    if c.type == "normal" and c.sigma:
        value = rng.normal(c.mean if c.mean is not None else p.nominal, c.sigma)
    elif c.type == "lognormal" and c.sigma and c.mean:
        value = c.mean * math.exp(rng.normal(0.0, c.sigma))
    elif c.type == "gamma" and c.tau:
        value = rng.gamma((c.tau if c.aux is None else c.aux) + 1.0, 1.0 / c.tau)  # its Gamma(aux + 1, rate tau)
    elif math.isfinite(lo) and math.isfinite(hi):
        value = rng.uniform(lo, hi)
    else:
        value = p.nominal + rng.normal()
    return float(min(max(value, lo), hi))


def _finite_or_none(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None
