"""A build's time budget: the sample sizes it allows, training's share of it, and the progress line.

The budget (``--minutes``) is for the whole command. Sampling runs first and
cannot be stopped half way, so its sizes are checked against an estimate
before it starts (:func:`fit_sample_sizes`: the likelihood's measured cost per
point and per call, times the evaluations a run of that size takes) and cut
when the estimate exceeds :data:`SAMPLING_SHARE` of the budget. Training gets
what is left once sampling is done, less a reserve for the fidelity check and
publishing (:func:`training_cap`). Every decision is said in the log.

>>> budget = Budget(10.0, clock=iter([0.0, 90.0]).__next__)
>>> budget.line("sampling", "done")
'sampling done: 1:30 elapsed, 8:30 left of 10:00'
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from ..density import LogDensity
from .config import BuildConfig, sizes_for

__all__ = [
    "Budget",
    "CallCost",
    "measure_cost",
    "sampling_seconds",
    "fit_sample_sizes",
    "training_cap",
    "SAMPLING_SHARE",
    "EVALS_PER_SAMPLE",
    "MIN_TRAIN_MINUTES",
]

SAMPLING_SHARE = 0.4
"""The most of the budget the sampling estimate may take before the sample sizes are cut."""
EVALS_PER_SAMPLE = 20
"""Log-likelihood evaluations per sample kept, tuning included: 19 measured for 20000 samples of a 98-parameter
pyhf workspace (mixed strategy), fewer for larger runs; small runs take more (86 for 4000 samples of 13
parameters) but seconds. An estimate, not a bound."""
MIN_TRAIN_MINUTES = 0.5
"""Training gets at least this, even when the budget is spent."""


def _clock_text(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds < 3600 else f"{seconds // 3600}:{seconds // 60 % 60:02d}h"


class Budget:
    """The command's clock: elapsed time and, with a budget, the time left.

    Args:
        minutes: the budget; None: none.
        clock: seconds, monotonic (the first call is the start).
    """

    def __init__(self, minutes: float | None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = None if minutes is None else 60.0 * float(minutes)
        self._clock = clock
        self._start = clock()

    def elapsed(self) -> float:
        """Seconds since the start."""
        return self._clock() - self._start

    def left(self) -> float | None:
        """Seconds of the budget left (negative when overspent); None without a budget."""
        return None if self.seconds is None else self.seconds - self.elapsed()

    def line(self, stage: str, event: str) -> str:
        """The progress line of a stage's start or end.

        Args:
            stage: the stage.
            event: ``"start"`` or ``"done"``.

        Returns:
            ``"<stage> <event>: m:ss elapsed[, m:ss left of m:ss]"``.
        """
        elapsed = self.elapsed()
        text = f"{stage} {event}: {_clock_text(elapsed)} elapsed"
        if self.seconds is not None:
            left = self.seconds - elapsed
            over = "" if left >= 0 else " (over budget)"
            text += f", {_clock_text(max(0.0, left))} left of {_clock_text(self.seconds)}{over}"
        return text


class CallCost:
    """The measured cost of the likelihood: seconds per call and per point of a batched call.

    Attributes:
        per_call: the fixed cost of one call (a one-point batch).
        per_point: the cost of each further point.
    """

    def __init__(self, per_call: float, per_point: float) -> None:
        self.per_call = per_call
        self.per_point = per_point


def measure_cost(likelihood: LogDensity, batch: int = 256) -> CallCost:
    """Time ``logpdf`` on one point and on ``batch`` points at the nominal point (after a warm-up call).

    Args:
        likelihood: the likelihood.
        batch: the batch size of the second measurement.

    Returns:
        The cost per call and per point.
    """
    nominal = np.array([[p.nominal for p in likelihood.parameters]], dtype=np.float64)
    many = np.repeat(nominal, batch, axis=0)
    likelihood.logpdf(many)  # compiles (JAX), fills caches
    likelihood.logpdf(nominal)
    one = _best_of(lambda: likelihood.logpdf(nominal))
    full = _best_of(lambda: likelihood.logpdf(many))
    return CallCost(one, max(0.0, full - one) / (batch - 1))


def _best_of(call: Callable[[], Any], repeats: int = 3) -> float:
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - t0)
    return best


def sampling_seconds(config: BuildConfig, n_parameters: int, cost: CallCost) -> float:
    """An estimate of the sampling stage's time: every sample of it, ridge points and fits included.

    Args:
        config: the recipe (the sizes).
        n_parameters: the model's parameters (walkers: ``max(64, 2 P + 10)``).
        cost: the likelihood's measured cost.

    Returns:
        Seconds.
    """
    walkers = max(64, 2 * n_parameters + 10)
    evals = EVALS_PER_SAMPLE * (config.n_train + 2 * config.n_fidelity) + config.n_ridge
    fits = 41 * 50 * (n_parameters + 1)  # the ridge's profile fits: ~50 gradient calls of P + 1 points each
    return (evals + fits) * cost.per_point + (evals / walkers + 41 * 50) * cost.per_call


def fit_sample_sizes(
    config: BuildConfig, n_parameters: int, cost: CallCost, budget: Budget, log: Callable[[str], None]
) -> BuildConfig:
    """``config`` with its sample sizes cut when sampling would take more than its share of the budget.

    Args:
        config: the recipe.
        n_parameters: the model's parameters.
        cost: the likelihood's measured cost.
        budget: the command's budget (none: ``config`` unchanged).
        log: where the decision is said.

    Returns:
        The recipe to sample with (sizes never below the ``--quick`` recipe's).
    """
    estimate = sampling_seconds(config, n_parameters, cost)
    left = budget.left()
    log(
        f"  sampling estimate: {estimate / 60:.1f} min ({cost.per_point * 1e6:.0f} us per point, "
        f"{cost.per_call * 1e3:.1f} ms per call)"
    )
    if left is None or estimate <= SAMPLING_SHARE * left:
        return config
    fixed = sampling_seconds(replace(config, n_train=0, n_ridge=0, n_fidelity=0), n_parameters, cost)
    factor = max(0.0, SAMPLING_SHARE * max(left, 0.0) - fixed) / max(estimate - fixed, 1e-12)  # linear in the sizes
    floor = sizes_for(n_parameters, quick=True)
    cut = replace(
        config,
        n_train=max(floor.n_train, int(config.n_train * factor)),
        n_ridge=max(floor.n_ridge, int(config.n_ridge * factor)),
        n_fidelity=max(floor.n_fidelity, int(config.n_fidelity * factor)),
    )
    log(
        f"  the budget ({budget.seconds / 60 if budget.seconds else 0:g} min) is too short for the model's sample "
        f"sizes: cut to {cut.n_train} training, {cut.n_ridge} ridge and 2 x {cut.n_fidelity} fidelity points "
        f"(estimate now {sampling_seconds(cut, n_parameters, cost) / 60:.1f} min); fewer points give a less "
        "faithful network"
    )
    return cut


def training_cap(
    config: BuildConfig, budget: Budget, reserve_seconds: float, log: Callable[[str], None]
) -> BuildConfig:
    """``config`` with training's time cap: what the budget has left, less the reserve for what follows.

    Args:
        config: the recipe (its own cap is kept when it is the smaller).
        budget: the command's budget (none: ``config`` unchanged).
        reserve_seconds: kept for the fidelity check and publishing.
        log: where the decision is said.

    Returns:
        The recipe to train with.
    """
    left = budget.left()
    if left is None:
        return config
    minutes = (left - reserve_seconds) / 60.0
    if minutes < MIN_TRAIN_MINUTES:
        log(
            f"  the budget is spent ({max(left, 0) / 60:.1f} min left, {reserve_seconds / 60:.1f} min needed after "
            f"training): training gets only {MIN_TRAIN_MINUTES:g} min, and the command will overrun"
        )
        return replace(config, train_minutes=min(config.train_minutes or MIN_TRAIN_MINUTES, MIN_TRAIN_MINUTES))
    if config.train_minutes is not None and config.train_minutes <= minutes:
        log(f"  budget: {left / 60:.1f} min left; training keeps its own cap of {config.train_minutes:g} min")
        return config
    log(
        f"  budget: {left / 60:.1f} min left; training gets {minutes:.1f} min, {reserve_seconds / 60:.1f} min are "
        "kept for the fidelity check and publishing (a cap before the schedule's end is reported below)"
    )
    return replace(config, train_minutes=round(minutes, 2))
