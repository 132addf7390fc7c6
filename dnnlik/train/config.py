"""The training recipe: one dataclass holding every choice, with the paper's defaults.

Defaults follow arXiv:1911.03305 (the DNNLikelihood), scaled to a CPU:
SELU hidden layers with LeCun-normal initialisation, a linear output unit,
a standardized target, MSE loss, Adam (learning rate 1e-3),
ReduceLROnPlateau (factor 0.2), EarlyStopping that restores the best weights
(``min_delta`` about ``1/N_train``), a batch of about ``N_train/200``
rounded to a power of two, and caps on epochs and on wall time.
``lr_schedule='cosine'`` replaces ReduceLROnPlateau by a cosine decay from
``learning_rate`` to ``min_lr`` over ``epochs``: on a fixed budget of epochs it
ends at a small learning rate on schedule instead of waiting for plateaus
(the zoo recipe uses it).

``target='residual'`` (the default) makes the network learn only
``log L - baseline`` where the baseline is the quadratic Laplace
approximation at the maximum; ``target='logpdf'`` learns ``log L`` itself.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from ..errors import InvalidInputError
from ..graph.network import ACTIVATIONS as GRAPH_ACTIVATIONS

__all__ = ["TrainConfig", "ACTIVATIONS", "TARGETS", "BASELINES", "LR_SCHEDULES", "auto_batch_size", "parse_layers"]

TARGETS = ("residual", "logpdf")
"""What the network learns: the residual over the quadratic baseline, or log L itself."""

BASELINES = ("auto", "likelihood", "fit")
"""Where the quadratic baseline comes from: ``likelihood`` (Laplace approximation from the
reference likelihood's exact gradient), ``fit`` (least squares on the samples), ``auto``
(the likelihood when it has an exact gradient, else the fit)."""

ACTIVATIONS = tuple(a for a in GRAPH_ACTIVATIONS if a != "linear")
"""Hidden-layer activations a network can be trained with: those the ONNX writer exports, but linear."""

LR_SCHEDULES = ("plateau", "cosine")
"""How the learning rate moves: ``plateau`` (the paper's ReduceLROnPlateau) or ``cosine``
(from ``learning_rate`` down to ``min_lr`` over the ``epochs``, one step per epoch)."""


def auto_batch_size(n_train: int) -> int:
    """``n_train / 200`` rounded to the nearest power of two, at least 16 and at most 4096.

    >>> auto_batch_size(100_000), auto_batch_size(1000)
    (512, 16)

    Args:
        n_train: the number of training points.

    Returns:
        The batch size.

    Raises:
        InvalidInputError: ``n_train`` is below 1.
    """
    if n_train < 1:
        raise InvalidInputError(f"needs at least one training point, got {n_train}", where="n_train")
    target = max(1.0, n_train / 200.0)
    size = 2 ** int(round(math.log2(target)))
    return int(min(4096, max(16, size)))


def parse_layers(text: str) -> tuple[int, ...]:
    """``"512,512,512"`` -> (512, 512, 512); ``"2x1024"`` -> (1024, 1024).

    >>> parse_layers("2x1024"), parse_layers("64, 32")
    ((1024, 1024), (64, 32))

    Args:
        text: comma-separated widths, or ``<count>x<width>``.

    Returns:
        The hidden layers' widths.

    Raises:
        InvalidInputError: not such a list, or no layer, or a width below 1 (``where="layers"``).
    """
    text = str(text).strip().lower()
    try:
        if "x" in text and "," not in text:
            count, width = text.split("x", 1)
            layers = (int(width),) * int(count)
        else:
            layers = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise InvalidInputError(f"{text!r} is not a list of widths like 512,512,512 or 3x512", where="layers") from None
    if not layers or any(w < 1 for w in layers):
        raise InvalidInputError(f"{text!r}: give at least one layer, each of width >= 1", where="layers")
    return layers


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides how a network is trained (not the data, not the seed of a member).

    ``batch_size=None`` picks :func:`auto_batch_size`; ``min_delta=None`` uses
    ``1 / N_train`` (in the units of the standardized MSE). ``ensemble`` members
    train on seeds ``seed, seed + 1, ...``; with two or more members each sees a
    random ``subset_fraction`` of the training points.

    Every field is checked on construction (and by :meth:`with_`).

    Attributes:
        layers: the hidden layers' widths.
        activation: the hidden layers' activation, one of :data:`ACTIVATIONS`.
        kernel_initializer: the Keras weight initialiser.
        target: what the network learns, one of :data:`TARGETS`.
        baseline: where the quadratic baseline comes from, one of :data:`BASELINES`.
        standardize_inputs: scale each input to zero mean and unit variance.
        loss: the loss; only ``"mse"``.
        learning_rate: Adam's (initial) learning rate.
        lr_schedule: one of :data:`LR_SCHEDULES`.
        lr_factor: ReduceLROnPlateau's factor, in (0, 1).
        lr_patience: epochs without improvement before the learning rate drops.
        min_lr: the smallest learning rate (the end of the cosine schedule).
        early_stopping_patience: epochs without improvement before training stops.
        min_delta: the smallest improvement that counts; None: ``1 / N_train``.
        batch_size: None: :func:`auto_batch_size`.
        epochs: the most epochs per member.
        max_minutes: wall-time cap of the whole run, shared by the members; None: none.
        seed: the first member's seed.
        ensemble: how many members.
        subset_fraction: fraction of the training points each member sees (ensembles), in (0, 1].
        deterministic: use TensorFlow's deterministic ops (reproducible, slower).
        jit_compile: let Keras compile the model with XLA.
        parity_points: held-out points of the export's ONNX-vs-TensorFlow parity check.
        export_dtype: the ONNX model's float type, ``"float32"`` or ``"float64"``.

    Raises:
        InvalidInputError: a field out of its range or not one of its choices, naming the field.
    """

    layers: tuple[int, ...] = (512, 512, 512)
    activation: str = "selu"
    kernel_initializer: str = "lecun_normal"
    target: str = "residual"
    baseline: str = "auto"
    standardize_inputs: bool = True
    loss: str = "mse"
    learning_rate: float = 1e-3
    lr_schedule: str = "plateau"
    lr_factor: float = 0.2
    lr_patience: int = 10
    min_lr: float = 1e-6
    early_stopping_patience: int = 30
    min_delta: float | None = None
    batch_size: int | None = None
    epochs: int = 1000
    max_minutes: float | None = None
    seed: int = 0
    ensemble: int = 1
    subset_fraction: float = 0.8
    deterministic: bool = True
    jit_compile: bool = False
    parity_points: int = 10000
    export_dtype: str = "float64"

    def __post_init__(self) -> None:
        layers = tuple(int(w) for w in self.layers)
        object.__setattr__(self, "layers", layers)
        if not layers or any(w < 1 for w in layers):
            raise InvalidInputError(
                f"needs at least one hidden layer of width >= 1, got {list(layers)}", where="layers"
            )
        if self.activation not in ACTIVATIONS:
            raise InvalidInputError(f"must be one of {list(ACTIVATIONS)}, got {self.activation!r}", where="activation")
        if self.target not in TARGETS:
            raise InvalidInputError(f"must be one of {list(TARGETS)}, got {self.target!r}", where="target")
        if self.baseline not in BASELINES:
            raise InvalidInputError(f"must be one of {list(BASELINES)}, got {self.baseline!r}", where="baseline")
        if self.lr_schedule not in LR_SCHEDULES:
            raise InvalidInputError(
                f"must be one of {list(LR_SCHEDULES)}, got {self.lr_schedule!r}", where="lr_schedule"
            )
        if self.loss not in ("mse",):
            raise InvalidInputError(f"only 'mse' is supported, got {self.loss!r}", where="loss")
        for name in ("learning_rate", "min_lr"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise InvalidInputError(f"must be a positive number, got {value!r}", where=name)
        if not 0.0 < self.lr_factor < 1.0:
            raise InvalidInputError(f"must lie in (0, 1), got {self.lr_factor!r}", where="lr_factor")
        for name in ("lr_patience", "early_stopping_patience"):
            if int(getattr(self, name)) < 1:
                raise InvalidInputError(f"must be >= 1, got {getattr(self, name)!r}", where=name)
        if self.min_delta is not None and not (math.isfinite(self.min_delta) and self.min_delta >= 0):
            raise InvalidInputError(f"must be >= 0, got {self.min_delta!r}", where="min_delta")
        if self.batch_size is not None and int(self.batch_size) < 1:
            raise InvalidInputError(f"must be >= 1, got {self.batch_size!r}", where="batch_size")
        if int(self.epochs) < 1:
            raise InvalidInputError(f"must be >= 1, got {self.epochs!r}", where="epochs")
        if self.max_minutes is not None and not (math.isfinite(self.max_minutes) and self.max_minutes > 0):
            raise InvalidInputError(
                f"must be a positive number of minutes, got {self.max_minutes!r}", where="max_minutes"
            )
        if int(self.ensemble) < 1:
            raise InvalidInputError(f"must be >= 1, got {self.ensemble!r}", where="ensemble")
        if not 0.0 < self.subset_fraction <= 1.0:
            raise InvalidInputError(f"must lie in (0, 1], got {self.subset_fraction!r}", where="subset_fraction")
        if int(self.parity_points) < 1:
            raise InvalidInputError(f"must be >= 1, got {self.parity_points!r}", where="parity_points")
        if self.export_dtype not in ("float32", "float64"):
            raise InvalidInputError(f"must be 'float32' or 'float64', got {self.export_dtype!r}", where="export_dtype")

    # ------------------------------------------------------------------ derived values
    def batch_size_for(self, n_train: int) -> int:
        """The batch size used for ``n_train`` training points (``batch_size``, else :func:`auto_batch_size`)."""
        return int(self.batch_size) if self.batch_size is not None else auto_batch_size(n_train)

    def min_delta_for(self, n_train: int) -> float:
        """EarlyStopping's ``min_delta`` for ``n_train`` training points (``min_delta``, else ``1 / n_train``)."""
        return float(self.min_delta) if self.min_delta is not None else 1.0 / max(1, n_train)

    def learning_rate_at(self, epoch: int) -> float:
        """The cosine schedule's learning rate in (0-based) ``epoch``: ``learning_rate`` first, ``min_lr`` last."""
        top, bottom = float(self.learning_rate), min(float(self.min_lr), float(self.learning_rate))
        span = max(1, int(self.epochs) - 1)
        phase = min(max(int(epoch), 0), span) / span
        return bottom + 0.5 * (top - bottom) * (1.0 + math.cos(math.pi * phase))

    def member_seeds(self) -> list[int]:
        """The seed of each ensemble member."""
        return [int(self.seed) + k for k in range(int(self.ensemble))]

    def member_fraction(self) -> float:
        """Fraction of the training points each member sees (1 for a single network)."""
        return 1.0 if int(self.ensemble) == 1 else float(self.subset_fraction)

    def with_(self, **changes: Any) -> TrainConfig:
        """A copy with ``changes`` applied (and checked).

        Args:
            changes: fields and their new values.

        Returns:
            The new configuration.

        Raises:
            InvalidInputError: a new value is out of range.
            TypeError: a name that is not a field.
        """
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        """The configuration as plain JSON values (``layers`` a list), as ``bundle.json`` records it."""
        out = asdict(self)
        out["layers"] = list(self.layers)
        return out
