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
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..density import LogDensity
from ..graph import NetworkSpec, mlp_reference
from .baseline import Preprocessing, prepare
from .config import TrainConfig
from .cut_short import ScheduleCutShortWarning, cut_short_record
from .data import TrainingData
from .fit import MemberResult, ProgressFn, train_member

__all__ = ["TrainingResult", "train_ensemble", "predict"]


@dataclass(frozen=True, eq=False)
class TrainingResult:
    """The trained members, the scalings they were trained in, and how the run went.

    Attributes:
        members: the trained networks, in seed order.
        preprocessing: the inputs' scaling and the targets' baseline, shared by all members.
        config: the training recipe.
        wall_time_s: seconds the whole run took.
        interrupted: whether a Ctrl-C stopped it.
        notes: what happened worth telling (which members an interruption kept).
    """

    members: tuple[MemberResult, ...]
    preprocessing: Preprocessing
    config: TrainConfig
    wall_time_s: float
    interrupted: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def n_members(self) -> int:
        """How many networks were trained (may be fewer than ``config.ensemble`` after a Ctrl-C)."""
        return len(self.members)

    @property
    def schedule_cut_short(self) -> dict[str, Any] | None:
        """Members stopped before the schedule's end, and why (:func:`~dnnlik.train.cut_short.cut_short_record`)."""
        return cut_short_record(self.members, self.config)

    def summary(self) -> dict[str, Any]:
        """JSON summary of every member's history (losses also in log-likelihood units).

        Returns:
            ``members`` (each :meth:`~dnnlik.train.MemberResult.history_summary`),
            ``interrupted``, and ``best_val_mse_logpdf``: the members' mean best
            validation MSE in log-likelihood units squared.
        """
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
    of the time left when it starts. When the cap, or early stopping with the
    cosine schedule, stops a member before ``config.epochs``, one
    :class:`~dnnlik.train.cut_short.ScheduleCutShortWarning` says so for the run
    (and :attr:`TrainingResult.schedule_cut_short` records it). A Ctrl-C stops the run and keeps what was
    trained: the finished members, or the interrupted member's best weights when
    none had finished. A Ctrl-C before the first member has a best epoch (a
    first finite validation loss) propagates: there is nothing to keep.

    Args:
        data: the training data.
        config: the recipe; ``config.ensemble`` members on seeds ``config.member_seeds()``.
        likelihood: the reference likelihood for the residual baseline (see
            :func:`~dnnlik.train.baseline.prepare`); ignored when ``preprocessing`` is given.
        preprocessing: scalings and baseline to share; default made from ``data``.
        progress: called with an :class:`~dnnlik.train.EpochReport` after each epoch.

    Returns:
        The members, their shared preprocessing, the wall time and whether it was interrupted.

    Raises:
        InvalidInputError: fewer training points than one batch, or no usable
            likelihood where ``config.baseline='likelihood'`` needs one.
        DnnlikError: a member's training diverged, or the baseline could not be made.
        MissingExtraError: TensorFlow (the ``train`` extra) is not installed.
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
        try:
            result = train_member(
                data,
                config,
                seed,
                preprocessing=prep,
                progress=progress,
                deadline=deadline,
                member=k,
                n_members=len(seeds),
            )
        except KeyboardInterrupt:  # before this member had a best epoch: the finished ones are kept
            if not members:
                raise
            interrupted = True
            notes.append(f"interrupted early in member {k + 1}: kept the {len(members)} finished member(s)")
            break
        if result.stopped == "interrupted":
            interrupted = True
            if not members:
                members.append(result)
                notes.append(f"interrupted during member 1 after {result.epochs} epoch(s): its best weights kept")
            else:
                notes.append(f"interrupted during member {k + 1}: kept the {len(members)} finished member(s)")
            break
        members.append(result)
    cut = cut_short_record(members, config)
    if cut is not None:
        warnings.warn(ScheduleCutShortWarning(cut), stacklevel=2)
    return TrainingResult(
        members=tuple(members),
        preprocessing=prep,
        config=config,
        wall_time_s=time.monotonic() - start,
        interrupted=interrupted,
        notes=notes,
    )


def predict(result: TrainingResult, x: Any, *, with_gradient: bool = False) -> dict[str, np.ndarray]:
    """Surrogate log-likelihood (members' mean) and, for ensembles, ``logpdf_spread``, in float64 numpy.

    The trained weights evaluated in numpy (no TensorFlow, no ONNX), with the
    scalings and the baseline: what the exported bundle computes.

    Args:
        result: the trained members.
        x: the points, (N, P).
        with_gradient: also return ``grad_logpdf``, (N, P).

    Returns:
        ``{"logpdf": (N,)}``, plus ``"grad_logpdf"`` and, for two members or more, ``"logpdf_spread"``.

    Raises:
        InvalidInputError: ``x`` is not (N, P) numbers.
    """
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
