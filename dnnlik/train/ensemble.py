"""Ensembles: K members trained on seeds ``seed, seed+1, ...`` and random subsets; mean and spread.

:func:`train_ensemble` runs :func:`~dnnlik.train.fit.train_member` once per
member, one after the other, sharing one :class:`~dnnlik.train.baseline.Preprocessing`.
Each member is an independent, pure job (see :mod:`dnnlik.train.fit`), so a
distributed engine can run ``train_member(data, config, seed,
preprocessing=prep)`` for each seed of ``config.member_seeds()`` and hand the
results to :class:`TrainingResult` itself.

The exported model gives the members' mean as ``logpdf`` and their standard
deviation (ddof=0) as ``logpdf_spread``, a per-point uncertainty of the surrogate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..density import LogDensity
from ..graph import NetworkSpec, mlp_reference
from .baseline import Preprocessing, prepare
from .config import TrainConfig
from .data import TrainingData
from .fit import MemberResult, ProgressFn, train_member

__all__ = ["TrainingResult", "train_ensemble", "predict"]


@dataclass(frozen=True, eq=False)
class TrainingResult:
    """The trained members, the scalings they were trained in, and how the run went."""

    members: tuple[MemberResult, ...]
    preprocessing: Preprocessing
    config: TrainConfig
    wall_time_s: float
    interrupted: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def n_members(self) -> int:
        return len(self.members)

    def summary(self) -> dict[str, Any]:
        """JSON summary of every member's history (losses also in log-likelihood units)."""
        scale = self.preprocessing.output_scale
        return {
            "members": [m.history_summary(scale) for m in self.members],
            "interrupted": self.interrupted,
            "best_val_mse_logpdf": float(np.mean([m.best_val_loss for m in self.members]) * scale**2),
        }


def train_ensemble(
    data: TrainingData,
    config: TrainConfig,
    *,
    likelihood: LogDensity | None = None,
    preprocessing: Preprocessing | None = None,
    progress: ProgressFn | None = None,
) -> TrainingResult:
    """Train ``config.ensemble`` members (one network when it is 1) and return them all.

    ``config.max_minutes`` caps the whole run: each member gets an equal share
    of the time left when it starts. A Ctrl-C stops the run and keeps what was
    trained: the finished members, or the interrupted member's best weights when
    none had finished.
    """
    start = time.monotonic()
    prep = preprocessing if preprocessing is not None else prepare(data, config, likelihood)
    seeds = config.member_seeds()
    members: list[MemberResult] = []
    notes: list[str] = []
    interrupted = False
    for k, seed in enumerate(seeds):
        deadline = None
        if config.max_minutes is not None:
            left = start + 60.0 * config.max_minutes - time.monotonic()
            deadline = time.monotonic() + max(0.0, left) / (len(seeds) - k)
        result = train_member(
            data, config, seed, preprocessing=prep, progress=progress, deadline=deadline, member=k, n_members=len(seeds)
        )
        if result.stopped == "interrupted":
            interrupted = True
            if not members:
                members.append(result)
                notes.append(f"interrupted during member 1 after {result.epochs} epoch(s): its best weights kept")
            else:
                notes.append(f"interrupted during member {k + 1}: kept the {len(members)} finished member(s)")
            break
        members.append(result)
    return TrainingResult(
        members=tuple(members),
        preprocessing=prep,
        config=config,
        wall_time_s=time.monotonic() - start,
        interrupted=interrupted,
        notes=notes,
    )


def predict(result: TrainingResult, x: Any, *, with_gradient: bool = False) -> dict[str, np.ndarray]:
    """Surrogate log-likelihood (members' mean) and, for ensembles, ``logpdf_spread``, in float64 numpy."""
    weights = [m.weights for m in result.members]
    members = weights[0] if len(weights) == 1 else weights
    return mlp_reference(
        x,
        NetworkSpec(
            members,
            activation=result.config.activation,
            with_gradient=with_gradient,
            **result.preprocessing.graph_kwargs(),
        ),
    )
