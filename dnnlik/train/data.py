"""Training data: a samples file (or arrays) read into train/validation/test arrays.

The samples file is the HDF5 file ``dnnlik sample`` writes (see
:mod:`dnnlik.sample.dataset`): ``/points`` (N, P), ``/logpdf`` (N,),
``/split/{train,validation,test}`` index arrays, and the JSON attributes
``parameters``, ``sampling`` and ``source``. Points whose log-likelihood is
NaN or infinite (or that hold NaN themselves) are dropped, and how many is
said in a :class:`NonFiniteTargetsWarning`. Missing datasets, unreadable
files and too few points each raise one error naming the file and the item.

Needs numpy and h5py only (no TensorFlow).
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DnnlikError, InvalidInputError
from ..parameters import Parameter, parameters_from_json

__all__ = [
    "TrainingData",
    "NonFiniteTargetsWarning",
    "load_samples",
    "from_arrays",
    "check_sizes",
    "SAMPLES_FORMAT",
    "SPLIT_NAMES",
]

SAMPLES_FORMAT = "dnnlik-samples"
"""The ``format`` attribute of a samples file (written by :mod:`dnnlik.sample.dataset`)."""
SPLIT_NAMES = ("train", "validation", "test")


class NonFiniteTargetsWarning(UserWarning):
    """Some points were dropped because their log-likelihood (or a coordinate) is NaN or infinite."""


@dataclass(frozen=True, eq=False)
class TrainingData:
    """Points and exact log-likelihoods, split into train, validation and test parts (float64).

    Attributes:
        x_train: training points, (N_train, P).
        y_train: their log-likelihoods, (N_train,).
        x_val: validation points (early stopping), (N_val, P).
        y_val: their log-likelihoods.
        x_test: test points (parity checks, test vectors), (N_test, P); may be empty.
        y_test: their log-likelihoods.
        parameters: the P parameters, in column order.
        sampling: the sampling run's record (``bundle.json``'s ``sampling``).
        source: the reference likelihood's provenance (``name``, ``version``, ...).
        path: the samples file, or None for arrays.
        n_dropped: points dropped for a non-finite log-likelihood or coordinate.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    parameters: tuple[Parameter, ...]
    sampling: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    path: str | None = None
    n_dropped: int = 0

    @property
    def n_parameters(self) -> int:
        """P, the number of parameters."""
        return int(self.x_train.shape[1])

    @property
    def n_train(self) -> int:
        """The number of training points."""
        return int(self.x_train.shape[0])

    @property
    def n_validation(self) -> int:
        """The number of validation points."""
        return int(self.x_val.shape[0])

    @property
    def n_test(self) -> int:
        """The number of test points."""
        return int(self.x_test.shape[0])

    @property
    def where(self) -> str:
        """The samples file, or "training data", for messages."""
        return self.path or "training data"

    def heldout(self, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Up to ``n`` held-out points (the test part, or the validation part when there is no test part).

        Args:
            n: at most this many (the first ones); None: all.

        Returns:
            ``(points (n, P), log-likelihoods (n,))``.
        """
        x, y = (self.x_test, self.y_test) if self.n_test else (self.x_val, self.y_val)
        if n is not None:
            x, y = x[:n], y[:n]
        return x, y

    def best_point(self) -> tuple[np.ndarray, float]:
        """The recorded maximum of the sampling run when there is one, else the best training point.

        Returns:
            ``(point (P,), log-likelihood)``.
        """
        best = _recorded_maximum(self.sampling, self.n_parameters)
        if best is not None:
            return best
        k = int(np.argmax(self.y_train))
        return self.x_train[k].copy(), float(self.y_train[k])


def _recorded_maximum(sampling: Mapping[str, Any], n_par: int) -> tuple[np.ndarray, float] | None:
    for holder in (sampling, sampling.get("strategy_options") or {}):
        best = holder.get("maximum") if isinstance(holder, Mapping) else None
        if isinstance(best, Mapping) and "point" in best and "logpdf" in best:
            try:
                point = np.asarray(best["point"], dtype=np.float64)
                value = float(best["logpdf"])
            except (TypeError, ValueError):
                continue
            if point.shape == (n_par,) and np.all(np.isfinite(point)) and math.isfinite(value):
                return point, value
    return None


# ----------------------------------------------------------------------------- reading


def _json_attr(f: Any, name: str, path: str, default: Any) -> Any:
    if name not in f.attrs:
        return default
    from ..bundle.document import loads_bounded

    raw = f.attrs[name]
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    try:
        return loads_bounded(raw, where=path)
    except (TypeError, ValueError) as exc:
        raise DnnlikError(f"attribute {name!r} is not valid JSON ({exc})", where=path) from None


def _dataset(f: Any, name: str, path: str) -> np.ndarray:
    import h5py

    if name not in f:
        raise DnnlikError(
            f"has no dataset '/{name}'; a samples file written by 'dnnlik sample' holds "
            "/points, /logpdf and /split/{train,validation,test}",
            where=path,
        )
    obj = f[name]
    if not isinstance(obj, h5py.Dataset):
        raise DnnlikError(f"'/{name}' is not a dataset", where=path)
    try:
        return np.asarray(obj[()])
    except (OSError, TypeError, ValueError) as exc:
        raise DnnlikError(f"cannot read '/{name}' ({exc})", where=path) from None


def load_samples(path: str | os.PathLike[str]) -> TrainingData:
    """Read a samples file into :class:`TrainingData` (non-finite targets dropped, with a warning).

    Args:
        path: an HDF5 samples file as ``dnnlik sample`` writes it (:mod:`dnnlik.sample.dataset`).

    Returns:
        The points, log-densities, train/validation/test split, parameters and provenance.

    Raises:
        DnnlikError: the file is missing, not HDF5, or not a samples file (the message says what is wrong).
        InvalidInputError: no training point, or no validation point, has a finite log-likelihood.
    """
    import h5py

    where = str(path)
    if not Path(path).is_file():
        raise DnnlikError("no such samples file", where=where)
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise DnnlikError(f"cannot open as HDF5 ({exc})", where=where) from None
    with f:
        fmt = f.attrs.get("format")
        if isinstance(fmt, bytes):
            fmt = fmt.decode("utf-8", "replace")
        if fmt is not None and fmt != SAMPLES_FORMAT:
            raise DnnlikError(f"format attribute is {fmt!r}, expected {SAMPLES_FORMAT!r}", where=where)
        points = _dataset(f, "points", where)
        logpdf = _dataset(f, "logpdf", where)
        split = {}
        for name in SPLIT_NAMES:
            split[name] = _dataset(f, f"split/{name}", where)
        params_json = _json_attr(f, "parameters", where, None)
        names = _json_attr(f, "parameter_names", where, None)
        sampling = _json_attr(f, "sampling", where, {})
        source = _json_attr(f, "source", where, {})

    if points.ndim != 2 or points.shape[0] == 0 or points.shape[1] == 0:
        raise DnnlikError(f"'/points' must be a non-empty (N, P) array, got shape {points.shape}", where=where)
    if logpdf.shape != (points.shape[0],):
        raise DnnlikError(
            f"'/logpdf' has shape {logpdf.shape}, expected ({points.shape[0]},) to match '/points'", where=where
        )
    n, n_par = points.shape
    for name, idx in split.items():
        if idx.ndim != 1 or (
            idx.size and (not np.issubdtype(idx.dtype, np.integer) or idx.min() < 0 or idx.max() >= n)
        ):
            raise DnnlikError(f"'/split/{name}' must hold integer indices in [0, {n})", where=where)
    parameters = _parameters(params_json, names, n_par, where)
    if not isinstance(sampling, dict):
        raise DnnlikError("attribute 'sampling' must be a JSON object", where=where)
    if not isinstance(source, dict):
        raise DnnlikError("attribute 'source' must be a JSON object", where=where)
    return _build(points, logpdf, split, parameters, sampling=sampling, source=source, path=where)


def _parameters(params_json: Any, names: Any, n_par: int, where: str) -> tuple[Parameter, ...]:
    if params_json is not None:
        try:
            params = parameters_from_json(params_json)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise DnnlikError(f"attribute 'parameters' is not a list of parameters ({exc})", where=where) from None
    elif names is not None:
        params = tuple(Parameter(name=str(n)) for n in names)
    else:
        params = tuple(Parameter(name=f"x{i}") for i in range(n_par))
    if len(params) != n_par:
        raise DnnlikError(f"{len(params)} parameters are described but '/points' has {n_par} columns", where=where)
    return params


def _build(
    points: np.ndarray,
    logpdf: np.ndarray,
    split: Mapping[str, np.ndarray],
    parameters: Sequence[Parameter],
    *,
    sampling: dict[str, Any],
    source: dict[str, Any],
    path: str | None,
) -> TrainingData:
    where = path or "training data"
    points = np.asarray(points, dtype=np.float64)
    logpdf = np.asarray(logpdf, dtype=np.float64)
    good = np.isfinite(logpdf) & np.all(np.isfinite(points), axis=1)
    n_bad = int(np.count_nonzero(~good))
    parts = {}
    for name in SPLIT_NAMES:
        idx = np.asarray(split[name], dtype=np.int64)
        idx = idx[good[idx]]
        parts[name] = (points[idx], logpdf[idx])
    if n_bad:
        warnings.warn(
            f"{where}: dropped {n_bad} of {len(logpdf)} points whose log-likelihood or coordinates are NaN or infinite",
            NonFiniteTargetsWarning,
            stacklevel=3,
        )
    if parts["train"][0].shape[0] == 0:
        raise InvalidInputError("has no training points with a finite log-likelihood", where=where)
    if parts["validation"][0].shape[0] == 0:
        raise InvalidInputError(
            "has no validation points with a finite log-likelihood (early stopping needs them)", where=where
        )
    return TrainingData(
        x_train=parts["train"][0],
        y_train=parts["train"][1],
        x_val=parts["validation"][0],
        y_val=parts["validation"][1],
        x_test=parts["test"][0],
        y_test=parts["test"][1],
        parameters=tuple(parameters),
        sampling=dict(sampling),
        source=dict(source),
        path=path,
        n_dropped=n_bad,
    )


def from_arrays(
    points: Any,
    logpdf: Any,
    parameters: Sequence[Parameter | str] | None = None,
    *,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    sampling: Mapping[str, Any] | None = None,
    source: Mapping[str, Any] | None = None,
) -> TrainingData:
    """:class:`TrainingData` from in-memory arrays, split at random with ``seed``.

    Points with a non-finite log-likelihood or coordinate are dropped, with a
    :class:`NonFiniteTargetsWarning`.

    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(100, 2))
    >>> data = from_arrays(x, -0.5 * (x**2).sum(axis=1), ["a", "b"])
    >>> data.n_train, data.n_validation, data.n_test
    (80, 10, 10)

    Args:
        points: the points, (N, P).
        logpdf: their log-likelihoods, (N,).
        parameters: the P parameters (or names); default ``x0``, ``x1``, ...
        fractions: the (train, validation, test) shares, normalised to their sum;
            validation and test sizes are rounded down.
        seed: seed of the random split.
        sampling: the ``sampling`` record (``n_samples`` and ``split`` are added when absent).
        source: the reference likelihood's provenance.

    Returns:
        The split data.

    Raises:
        InvalidInputError: arrays that are not numbers or of the wrong shapes; as
            many parameters as columns not given; fractions not three non-negative
            numbers with a positive sum; no training or no validation point left.
    """
    try:
        points = np.asarray(points, dtype=np.float64)
        logpdf = np.asarray(logpdf, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"cannot be read as numbers ({exc})", where="points/logpdf") from None
    if points.ndim != 2 or points.shape[0] == 0:
        raise InvalidInputError(f"must be a non-empty (N, P) array, got shape {points.shape}", where="points")
    if logpdf.shape != (points.shape[0],):
        raise InvalidInputError(f"must have shape ({points.shape[0]},), got {logpdf.shape}", where="logpdf")
    n, n_par = points.shape
    if parameters is None:
        params: tuple[Parameter, ...] = tuple(Parameter(name=f"x{i}") for i in range(n_par))
    else:
        params = tuple(p if isinstance(p, Parameter) else Parameter(name=str(p)) for p in parameters)
    if len(params) != n_par:
        raise InvalidInputError(f"{len(params)} parameters for {n_par} columns", where="parameters")
    fr = [float(v) for v in fractions]
    if len(fr) != 3 or any(v < 0 for v in fr) or sum(fr) <= 0:
        raise InvalidInputError(f"expected three non-negative fractions, got {fr}", where="fractions")
    total = sum(fr)
    n_val = int(n * fr[1] / total)
    n_test = int(n * fr[2] / total)
    perm = np.random.default_rng(seed).permutation(n)
    split = {
        "validation": np.sort(perm[:n_val]),
        "test": np.sort(perm[n_val : n_val + n_test]),
        "train": np.sort(perm[n_val + n_test :]),
    }
    sampling_json = dict(sampling or {})
    sampling_json.setdefault("n_samples", int(n))
    sampling_json.setdefault(
        "split", {"train": int(n - n_val - n_test), "validation": n_val, "test": n_test, "seed": int(seed)}
    )
    return _build(points, logpdf, split, params, sampling=sampling_json, source=dict(source or {}), path=None)


def check_sizes(data: TrainingData, batch_size: int) -> None:
    """Refuse data with fewer training points than one batch (one clear error naming the source).

    Args:
        data: the training data.
        batch_size: the batch size training will use.

    Raises:
        InvalidInputError: ``data.n_train`` is below ``batch_size``.
    """
    if data.n_train < batch_size:
        raise InvalidInputError(
            f"has {data.n_train} training points, fewer than the batch size {batch_size}; "
            "sample more points or give a smaller batch size",
            where=data.where,
        )
