"""Train one network: :func:`train_member`, a pure function of (data, config, seed).

Everything a member's result depends on is in its arguments: the data, the
:class:`~dnnlik.train.config.TrainConfig` and the seed (which draws the
initial weights, the batch order and, in an ensemble, the member's random
subset of the training points). So members can run as independent jobs, on
other machines, and give the same weights (``keras.utils.set_random_seed``
and TensorFlow's deterministic ops; same hardware and library versions).

TensorFlow is imported inside :func:`train_member` only.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import DnnlikError, InvalidInputError
from ..graph import MLPWeights
from ._tf import import_tensorflow
from .baseline import Preprocessing, prepare
from .config import TrainConfig
from .data import TrainingData, check_sizes

__all__ = ["EpochReport", "MemberResult", "ProgressFn", "train_member", "member_subset", "STOP_REASONS"]

STOP_REASONS = ("early-stopping", "epoch-cap", "time-cap", "interrupted")


@dataclass(frozen=True)
class EpochReport:
    """What the progress display gets after each epoch (losses in standardized-target MSE).

    Attributes:
        member: which ensemble member (0-based).
        n_members: how many members in all.
        epoch: the epoch just finished (1-based).
        max_epochs: the epoch cap.
        loss: this epoch's training loss.
        val_loss: this epoch's validation loss.
        learning_rate: the learning rate used.
        best_val_loss: the lowest validation loss so far.
        elapsed_s: seconds since this member started.
    """

    member: int
    n_members: int
    epoch: int
    max_epochs: int
    loss: float
    val_loss: float
    learning_rate: float
    best_val_loss: float
    elapsed_s: float


ProgressFn = Callable[[EpochReport], None]


@dataclass(frozen=True, eq=False)
class MemberResult:
    """One trained network: its best weights (lowest validation loss) and how it got there.

    Attributes:
        weights: the best weights (float32).
        seed: the member's seed.
        history: per epoch, ``loss``, ``val_loss`` and ``lr``.
        epochs: epochs run.
        best_epoch: the epoch of ``weights`` (1-based).
        best_val_loss: its validation loss (standardized-target MSE).
        stopped: why training stopped, one of :data:`STOP_REASONS`.
        wall_time_s: seconds of training.
        n_train: training points this member saw.
        subset_fraction: their fraction of the training part.
        batch_size: the batch size used.
    """

    weights: MLPWeights
    seed: int
    history: dict[str, list[float]]
    epochs: int
    best_epoch: int
    best_val_loss: float
    stopped: str
    wall_time_s: float
    n_train: int
    subset_fraction: float
    batch_size: int
    heldout_net: np.ndarray = field(repr=False)
    """The Keras network's outputs (standardized target units) at ``data.heldout(config.parity_points)``."""

    def history_summary(self, output_scale: float = 1.0) -> dict[str, Any]:
        """Short JSON summary: epochs, best epoch, final and best losses (also in log-L units).

        Args:
            output_scale: the target's scale (``Preprocessing.output_scale``), turning
                standardized MSE into log-likelihood units squared (``best_val_mse_logpdf``).

        Returns:
            The summary, with the per-epoch ``curves``.
        """
        loss = self.history.get("loss", [])
        val = self.history.get("val_loss", [])
        lr = self.history.get("lr", [])
        s2 = float(output_scale) ** 2
        return {
            "seed": self.seed,
            "epochs": self.epochs,
            "best_epoch": self.best_epoch,
            "stopped": self.stopped,
            "final_loss": loss[-1] if loss else None,
            "final_val_loss": val[-1] if val else None,
            "best_val_loss": self.best_val_loss,
            "best_val_mse_logpdf": self.best_val_loss * s2,
            "final_learning_rate": lr[-1] if lr else None,
            "wall_time_s": round(self.wall_time_s, 3),
            "n_train": self.n_train,
            "curves": {
                "loss": [float(v) for v in loss],
                "val_loss": [float(v) for v in val],
                "learning_rate": [float(v) for v in lr],
            },
        }


def member_subset(n_train: int, config: TrainConfig, seed: int) -> np.ndarray:
    """Indices of the training points member ``seed`` trains on (all of them for a single network).

    Args:
        n_train: the number of training points.
        config: the recipe (``ensemble``, ``subset_fraction``).
        seed: the member's seed; the subset is a pure function of it.

    Returns:
        Sorted indices: ``round(subset_fraction * n_train)`` of them (at least 1)
        for an ensemble, all for a single network.
    """
    fraction = config.member_fraction()
    if fraction >= 1.0:
        return np.arange(n_train)
    k = max(1, int(round(fraction * n_train)))
    return np.sort(np.random.default_rng([int(seed), 1]).choice(n_train, size=k, replace=False))


def _build_model(keras: Any, n_inputs: int, config: TrainConfig) -> Any:
    layers = [keras.Input(shape=(n_inputs,), dtype="float32")]
    for i, width in enumerate(config.layers):
        layers.append(
            keras.layers.Dense(
                width, activation=config.activation, kernel_initializer=config.kernel_initializer, name=f"hidden{i}"
            )
        )
    layers.append(
        keras.layers.Dense(1, activation="linear", kernel_initializer=config.kernel_initializer, name="output")
    )
    return keras.Sequential(layers, name="dnnlikelihood")


def _weights_from_list(arrays: list[np.ndarray]) -> MLPWeights:
    pairs = tuple(
        (np.asarray(arrays[i], dtype=np.float32), np.asarray(arrays[i + 1], dtype=np.float32))
        for i in range(0, len(arrays), 2)
    )
    return MLPWeights(pairs)


def _compiled_model(tf: Any, keras: Any, n_inputs: int, config: TrainConfig, seed: int) -> Any:
    """A fresh Keras session seeded with ``seed``, and the network compiled for a mean-squared-error fit."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    model = _build_model(keras, n_inputs, config)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=config.learning_rate),
        loss="mse",
        jit_compile=bool(config.jit_compile),
    )
    return model


def _stopping_and_schedule(keras: Any, config: TrainConfig, n_rows: int) -> tuple[Any, Any]:
    """The early-stopping callback and the learning-rate callback (cosine, or reduce on plateau)."""
    early = keras.callbacks.EarlyStopping(
        monitor="val_loss",
        min_delta=config.min_delta_for(n_rows),
        patience=int(config.early_stopping_patience),
        restore_best_weights=False,
    )
    if config.lr_schedule == "cosine":
        schedule = keras.callbacks.LearningRateScheduler(lambda epoch, lr: config.learning_rate_at(epoch))
    else:
        schedule = keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss", factor=config.lr_factor, patience=int(config.lr_patience), min_lr=config.min_lr
        )
    return early, schedule


def _stopped(interrupted: bool, timed_out: bool, stopped_early: bool) -> str:
    """Why training stopped, as ``MemberResult.stopped`` says it."""
    if interrupted:
        return "interrupted"
    if timed_out:
        return "time-cap"
    if stopped_early:
        return "early-stopping"
    return "epoch-cap"


def train_member(
    data: TrainingData,
    config: TrainConfig,
    seed: int,
    *,
    preprocessing: Preprocessing | None = None,
    progress: ProgressFn | None = None,
    deadline: float | None = None,
    member: int = 0,
    n_members: int = 1,
) -> MemberResult:
    """Train one network on ``data`` with ``config`` and ``seed``; return its best weights and history.

    ``preprocessing`` defaults to :func:`~dnnlik.train.baseline.prepare`\\ ``(data, config)``
    (pass it to share one baseline between members). ``deadline`` is a
    :func:`time.monotonic` time after which training stops (the wall-time
    cap). A Ctrl-C (KeyboardInterrupt) after at least one epoch stops
    training and returns the best weights so far, with ``stopped='interrupted'``.

    Args:
        data: the training data (:func:`~dnnlik.train.load_samples`).
        config: the training settings.
        seed: the member's seed (an integer).
        preprocessing: the inputs' scaling and the targets' baseline (default: made from ``data``).
        progress: called with an :class:`EpochReport` after each epoch.
        deadline: a :func:`time.monotonic` time after which training stops.
        member, n_members: which member of an ensemble this is, for ``progress``.

    Returns:
        The best weights, their history, and why training stopped.

    Raises:
        InvalidInputError: ``seed`` is not an integer, or the data are too few for the batch size.
        DnnlikError: the validation loss was never finite (training diverged).
        MissingExtraError: TensorFlow (the ``train`` extra) is not installed.
    """
    tf, keras = import_tensorflow()
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise InvalidInputError(f"must be an integer, got {seed!r}", where="seed")
    seed = int(seed)
    prep = preprocessing if preprocessing is not None else prepare(data, config)
    rows = member_subset(data.n_train, config, seed)
    batch_size = config.batch_size_for(len(rows))
    check_sizes(data, batch_size)
    z_train = prep.inputs(data.x_train[rows])
    t_train = prep.targets(data.x_train[rows], data.y_train[rows])
    z_val = prep.inputs(data.x_val)
    t_val = prep.targets(data.x_val, data.y_val)

    model = _compiled_model(tf, keras, data.n_parameters, config, seed)
    tracker = _Tracker(
        keras, progress=progress, deadline=deadline, member=member, n_members=n_members, max_epochs=int(config.epochs)
    )
    early, schedule = _stopping_and_schedule(keras, config, len(rows))
    start = time.monotonic()
    tracker.start = start
    interrupted = False
    try:
        with warnings.catch_warnings():
            # Keras' ReduceLROnPlateau reads the learning rate through numpy's deprecated __array__ path
            warnings.filterwarnings("ignore", category=DeprecationWarning, module="keras")
            model.fit(
                z_train,
                t_train,
                batch_size=batch_size,
                epochs=int(config.epochs),
                validation_data=(z_val, t_val),
                shuffle=True,
                verbose=0,
                callbacks=[schedule, early, tracker],
            )
    except KeyboardInterrupt:
        if tracker.best_weights is None:
            raise
        interrupted = True
    wall = time.monotonic() - start
    if tracker.best_weights is None:
        raise DnnlikError(
            "training diverged: the validation loss was never finite (try a smaller "
            "learning rate or check the targets)",
            where=data.where,
        )
    model.set_weights(tracker.best_weights)
    x_held, _ = data.heldout(config.parity_points)
    heldout_net = np.zeros(0, dtype=np.float32)
    if len(x_held):
        heldout_net = np.asarray(
            model.predict(prep.inputs(x_held), batch_size=4096, verbose=0), dtype=np.float32
        ).reshape(-1)
    return MemberResult(
        weights=_weights_from_list(tracker.best_weights),
        seed=seed,
        history=tracker.history,
        epochs=len(tracker.history["loss"]),
        best_epoch=tracker.best_epoch,
        best_val_loss=tracker.best,
        stopped=_stopped(interrupted, tracker.timed_out, early.stopped_epoch > 0),
        wall_time_s=wall,
        n_train=int(len(rows)),
        subset_fraction=config.member_fraction(),
        batch_size=batch_size,
        heldout_net=heldout_net,
    )


def _Tracker(keras: Any, **kwargs: Any) -> Any:
    """A Keras callback recording history, keeping the best weights, enforcing the deadline, reporting progress."""

    class Tracker(keras.callbacks.Callback):
        def __init__(
            self, progress: ProgressFn | None, deadline: float | None, member: int, n_members: int, max_epochs: int
        ) -> None:
            super().__init__()
            self.progress = progress
            self.deadline = deadline
            self.member = member
            self.n_members = n_members
            self.max_epochs = max_epochs
            self.history: dict[str, list[float]] = {"loss": [], "val_loss": [], "lr": []}
            self.best = math.inf
            self.best_epoch = 0
            self.best_weights: list[np.ndarray] | None = None
            self.timed_out = False
            self.start = time.monotonic()

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            logs = logs or {}
            loss = float(logs.get("loss", math.nan))
            val = float(logs.get("val_loss", math.nan))
            lr = float(self.model.optimizer.learning_rate.numpy())
            self.history["loss"].append(loss)
            self.history["val_loss"].append(val)
            self.history["lr"].append(lr)
            if math.isfinite(val) and (val < self.best or self.best_weights is None):
                self.best = val
                self.best_epoch = epoch + 1
                self.best_weights = [np.array(w, copy=True) for w in self.model.get_weights()]
            if not math.isfinite(loss):
                self.model.stop_training = True
            if self.deadline is not None and time.monotonic() >= self.deadline:
                self.timed_out = True
                self.model.stop_training = True
            if self.progress is not None:
                self.progress(
                    EpochReport(
                        member=self.member,
                        n_members=self.n_members,
                        epoch=epoch + 1,
                        max_epochs=self.max_epochs,
                        loss=loss,
                        val_loss=val,
                        learning_rate=lr,
                        best_val_loss=self.best,
                        elapsed_s=time.monotonic() - self.start,
                    )
                )

    return Tracker(**kwargs)
