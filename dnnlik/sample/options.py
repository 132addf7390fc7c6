"""The options of a sampling run (every one recorded in the metadata; a resumed run must repeat them)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from .dataset import DEFAULT_SPLIT
from .diagnostics import MIN_TUNE_STEPS
from .moves import DEFAULT_DF, parse_moves
from .strategies import STRATEGIES

__all__ = ["SampleOptions", "default_walkers", "TUNE_DISCARD"]

TUNE_DISCARD = 0.25
"""Fraction of the tuning chain left out of its autocorrelation time."""


def default_walkers(ndim: int) -> int:
    """Walkers by default: at least 64 and more than twice the dimension (200 for the 95-D toy), even."""
    n = max(64, 2 * ndim + 10)
    return n + (n % 2)


@dataclass(frozen=True)
class SampleOptions:
    """Every choice of a run (recorded in the metadata; a resumed run must repeat them)."""

    strategy: str = "unbiased"
    n: int = 100_000
    seed: int = 0
    n_walkers: int | None = None
    moves: str = "auto"
    df: float | None = DEFAULT_DF
    n_chains: int = 2
    profile_fraction: float = 0.5
    poi: str | None = None
    poi_grid: int = 20
    poi_range: tuple[float, float] | None = None
    poi_sigmas: float = 5.0
    window: str | float = "tile"
    tune_steps: int = 500
    burn_factor: float = 5.0
    thin_factor: float = 0.5
    burn_in: int | None = None
    thin: int | None = None
    checkpoint_every: int = 500
    split: tuple[float, float, float] = DEFAULT_SPLIT
    split_seed: int | None = None
    on_short_chain: str = "warn"

    def check(self) -> None:
        def positive_int(name: str, value: Any, minimum: int = 1) -> None:
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
                raise InvalidInputError(f"must be an integer >= {minimum}, got {value!r}", where=name)

        if self.strategy not in STRATEGIES:
            raise InvalidInputError(f"unknown strategy {self.strategy!r}; strategies: {', '.join(STRATEGIES)}",
                                    where="strategy")
        positive_int("n", self.n)
        positive_int("n_chains", self.n_chains)
        positive_int("poi_grid", self.poi_grid)
        positive_int("tune_steps", self.tune_steps, math.ceil(MIN_TUNE_STEPS / (1 - TUNE_DISCARD)))
        positive_int("checkpoint_every", self.checkpoint_every)
        if self.n_walkers is not None:
            positive_int("n_walkers", self.n_walkers, 2)
        if self.burn_in is not None:
            positive_int("burn_in", self.burn_in, 0)
        if self.thin is not None:
            positive_int("thin", self.thin)
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise InvalidInputError(f"must be a non-negative integer, got {self.seed!r}", where="seed")
        for name in ("profile_fraction",):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and 0.0 <= v <= 1.0):
                raise InvalidInputError(f"must be a number in [0, 1], got {v!r}", where=name)
        for name in ("poi_sigmas", "burn_factor", "thin_factor"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise InvalidInputError(f"must be a positive number, got {v!r}", where=name)
        if self.df is not None and not (isinstance(self.df, (int, float)) and self.df > 0):
            raise InvalidInputError(f"must be a positive number or None, got {self.df!r}", where="df")
        if self.window != "tile":
            if not (isinstance(self.window, (int, float)) and math.isfinite(self.window) and self.window >= 0):
                raise InvalidInputError(f"must be 'tile' or a width >= 0, got {self.window!r}", where="window")
        if self.poi_range is not None:
            lo, hi = self.poi_range
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise InvalidInputError(f"must be two finite numbers lo < hi, got {self.poi_range!r}",
                                        where="poi_range")
        if self.on_short_chain not in ("warn", "error"):
            raise InvalidInputError(f"must be 'warn' or 'error', got {self.on_short_chain!r}",
                                    where="on_short_chain")
        parse_moves(self.moves)
