"""The samples file: points, exact log-likelihoods, a seeded split and the sampling metadata.

Layout of the HDF5 file (``format`` attribute ``dnnlik-samples``, version 1)::

    /points          (N, P) float64   parameter points, columns in the source's order
    /logpdf          (N,)   float64   the reference log-likelihood at each point (exact)
    /segment         (N,)   int32     the segment (ensemble) each point comes from
    /weight          (N,)   int64     multiplicity of the point in the thinned chain (>= 1)
    /split/train     (n_train,)      int64 indices into /points, sorted
    /split/validation, /split/test   likewise
    attrs: format, format_version, parameter_names (JSON), parameters (JSON),
           sampling (JSON: the bundle's ``sampling`` section), source (JSON)

Points are unique (exact duplicates, which rejected proposals produce, are
removed, the first occurrence kept). Because a rejection repeats a point,
the distinct points alone are not distributed as the chain's target: posterior
expectations need the multiplicities, ``sum(weight * f(points)) / sum(weight)``
(a regression on logpdf, the DNNLikelihood's training, does not). The split is a permutation drawn with
``numpy.random.default_rng(split seed)``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..errors import DnnlikError, InvalidInputError
from .options import DEFAULT_SPLIT
from .storage import atomic_h5

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "SampleDataset",
    "deduplicate",
    "split_indices",
    "write_dataset",
    "read_dataset",
    "augment_dataset",
    "DEFAULT_SPLIT",
]

FORMAT = "dnnlik-samples"
FORMAT_VERSION = 1
SPLIT_NAMES = ("train", "validation", "test")


_HASH_MULTIPLIERS = np.random.default_rng(20191108).integers(1, 2**63, size=4096, dtype=np.uint64) | np.uint64(1)


def _row_hashes(points: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each row (equal rows, ``-0.0`` and ``0.0`` alike, give equal hashes)."""
    n, p = points.shape
    mult = np.resize(_HASH_MULTIPLIERS, p)
    h = np.empty(n, dtype=np.uint64)
    block = max(1, 2**16 // max(1, p))
    for start in range(0, n, block):
        b = (points[start : start + block] + 0.0).view(np.uint64)  # + 0.0: -0.0 -> 0.0
        # a sum of products modulo 2^64 of the bits and of the bits rotated by 29
        h[start : start + block] = (b * mult).sum(axis=1, dtype=np.uint64) ^ (
            ((b << np.uint64(29)) | (b >> np.uint64(35))) * mult[::-1]
        ).sum(axis=1, dtype=np.uint64)
    return h


def deduplicate(points: np.ndarray) -> np.ndarray:
    """Indices of the first occurrence of each distinct row of ``points``, in their original order.

    Rows are compared exactly (``-0.0`` equals ``0.0``); a 64-bit hash of each
    row finds the candidates, which are then compared in full.

    Args:
        points: (N, P) array.

    Returns:
        Sorted int64 indices of the rows to keep.

    >>> deduplicate(np.array([[1.0, 2.0], [0.0, 1.0], [1.0, 2.0], [-0.0, 1.0]])).tolist()
    [0, 1]
    """
    points = np.ascontiguousarray(points, dtype=np.float64)
    n = points.shape[0]
    if n == 0:
        return np.empty(0, dtype=np.int64)
    h = _row_hashes(points)
    order = np.argsort(h, kind="stable")
    same = np.flatnonzero(h[order][1:] == h[order][:-1])
    if same.size == 0:
        return np.arange(n, dtype=np.int64)
    keep = np.ones(n, dtype=bool)
    # rows sharing a hash: compare each with every earlier one of its group (groups are tiny)
    starts = np.unique(np.concatenate([same, same + 1]))
    groups: dict[int, list[int]] = {}
    for pos in starts:
        groups.setdefault(int(h[order[pos]]), []).append(int(order[pos]))
    for members in groups.values():
        members.sort()
        for i, a in enumerate(members):
            if keep[a]:
                for b in members[i + 1 :]:
                    if keep[b] and np.array_equal(points[a], points[b]):
                        keep[b] = False
    return np.flatnonzero(keep).astype(np.int64)


def split_indices(n: int, fractions: Sequence[float], seed: int) -> dict[str, np.ndarray]:
    """Seeded train/validation/test indices (sorted) of ``n`` points; sizes floor(f * n), rest to train.

    Args:
        n: the number of points.
        fractions: train, validation and test fractions (normalised by their sum).
        seed: seed of the permutation (``numpy.random.default_rng(seed)``).

    Returns:
        ``{"train": ..., "validation": ..., "test": ...}`` sorted int64 indices.

    Raises:
        InvalidInputError: not three non-negative fractions with a positive sum (``where="split"``).

    >>> {k: v.size for k, v in split_indices(10, (0.8, 0.1, 0.1), seed=0).items()}
    {'train': 8, 'validation': 1, 'test': 1}
    """
    fractions = tuple(float(f) for f in fractions)
    if len(fractions) != 3 or any(not math.isfinite(f) or f < 0 for f in fractions) or sum(fractions) <= 0:
        raise InvalidInputError(
            f"expected three non-negative fractions (train, validation, test), got {fractions}", where="split"
        )
    total = sum(fractions)
    n_val = int(math.floor(n * fractions[1] / total))
    n_test = int(math.floor(n * fractions[2] / total))
    perm = np.random.default_rng(seed).permutation(n)
    parts = {"validation": perm[:n_val], "test": perm[n_val : n_val + n_test], "train": perm[n_val + n_test :]}
    return {k: np.sort(parts[k]).astype(np.int64) for k in SPLIT_NAMES}


@dataclass(frozen=True)
class SampleDataset:
    """A samples file read back."""

    points: np.ndarray
    logpdf: np.ndarray
    segment: np.ndarray
    weight: np.ndarray
    split: dict[str, np.ndarray]
    parameter_names: tuple[str, ...]
    sampling: dict[str, Any]
    parameters: list[dict[str, Any]]
    source: dict[str, Any]

    def part(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(points, logpdf)`` of ``"train"``, ``"validation"`` or ``"test"``.

        Raises:
            InvalidInputError: another name (``where="part"``).
        """
        if name not in self.split:
            raise InvalidInputError(f"unknown part {name!r}; parts: {', '.join(SPLIT_NAMES)}", where="part")
        idx = self.split[name]
        return self.points[idx], self.logpdf[idx]


def write_dataset(
    path: str | Path,
    *,
    points: np.ndarray,
    logpdf: np.ndarray,
    segment: np.ndarray,
    weight: np.ndarray,
    split: dict[str, np.ndarray],
    parameters: list[dict[str, Any]],
    sampling: dict[str, Any],
    source: dict[str, Any],
) -> None:
    """Write a samples file atomically (an existing file is replaced only once the new one is complete).

    Args:
        path: the file to write.
        points, logpdf, segment, weight: the datasets (see the module docstring).
        split: train/validation/test indices (:func:`split_indices`).
        parameters: the parameters as JSON (``parameters_to_json``).
        sampling: the bundle's ``sampling`` section (:mod:`.metadata`).
        source: the source's description.

    Raises:
        DnnlikError: the file cannot be written (disk full, not writable...).
    """
    with atomic_h5(path) as f:
        f.attrs["format"] = FORMAT
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["parameter_names"] = json.dumps([p["name"] for p in parameters])
        f.attrs["parameters"] = json.dumps(parameters)
        f.attrs["sampling"] = json.dumps(sampling)
        f.attrs["source"] = json.dumps(source)
        f.create_dataset("points", data=np.asarray(points, dtype=np.float64), chunks=True)
        f.create_dataset("logpdf", data=np.asarray(logpdf, dtype=np.float64), chunks=True)
        f.create_dataset("segment", data=np.asarray(segment, dtype=np.int32))
        f.create_dataset("weight", data=np.asarray(weight, dtype=np.int64))
        g = f.create_group("split")
        for name in SPLIT_NAMES:
            g.create_dataset(name, data=np.asarray(split[name], dtype=np.int64))


def read_dataset(path: str | Path) -> SampleDataset:
    """Read a samples file written by :func:`write_dataset`.

    Args:
        path: the samples file.

    Returns:
        Its points, log-densities, segments, weights, split and metadata.

    Raises:
        DnnlikError: not a samples file, or unreadable.
    """
    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != FORMAT:
                raise DnnlikError(f"not a {FORMAT} file (format attribute {f.attrs.get('format')!r})", where=str(path))
            return SampleDataset(
                points=f["points"][()],
                logpdf=f["logpdf"][()],
                segment=f["segment"][()],
                weight=f["weight"][()],
                split={k: f["split"][k][()] for k in SPLIT_NAMES},
                parameter_names=tuple(_json_attr(f, "parameter_names", path)),
                sampling=_json_attr(f, "sampling", path),
                parameters=_json_attr(f, "parameters", path),
                source=_json_attr(f, "source", path),
            )
    except (OSError, KeyError, ValueError) as exc:
        raise DnnlikError(f"cannot read the samples file ({exc})", where=str(path)) from None


def _json_attr(f: Any, name: str, path: Path) -> Any:
    """A JSON attribute of a samples file (a file from outside: size and nesting bounded)."""
    from ..bundle.document import loads_bounded

    return loads_bounded(f.attrs[name], where=f"{path}: attribute {name!r}")


def augment_dataset(
    path: str | Path, out: str | Path, points: np.ndarray, logpdf: np.ndarray, record: dict[str, Any], *, seed: int
) -> None:
    """Write ``out``: the samples file ``path`` plus extra (non-MCMC) training points, split afresh.

    The extra points form a new segment with weight 1; ``record`` is appended to
    ``sampling.strategy_options.augmentation`` so that the bundle says how its
    training data were made.

    Args:
        path: the samples file to extend (left as it is).
        out: the samples file to write.
        points: (n, P) extra points, in the same parameters.
        logpdf: (n,) their exact log-densities.
        record: how they were made (e.g. :func:`.ridge.ridge_samples`' metadata).
        seed: seed of the new split.

    Raises:
        InvalidInputError: the points do not fit the samples' parameters.
        DnnlikError: ``path`` unreadable or ``out`` unwritable.
    """
    base = read_dataset(path)
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != base.points.shape[1] or points.shape[0] != np.shape(logpdf)[0]:
        raise InvalidInputError(
            f"extra points {points.shape} do not fit samples of {base.points.shape[1]} parameters",
            where="augment_dataset",
        )
    all_points = np.concatenate([base.points, points])
    n = all_points.shape[0]
    sampling = json.loads(json.dumps(base.sampling))
    options = sampling.setdefault("strategy_options", {})
    options.setdefault("augmentation", []).append(record)
    sampling["n_samples"] = int(n)
    fractions = tuple(sampling.get("split", {}).get("fractions", DEFAULT_SPLIT))
    split = split_indices(n, fractions, seed)
    sampling["split"] = {**sampling.get("split", {}), "seed": int(seed), **{k: int(v.size) for k, v in split.items()}}
    write_dataset(
        out,
        points=all_points,
        logpdf=np.concatenate([base.logpdf, logpdf]),
        segment=np.concatenate([base.segment, np.full(points.shape[0], base.segment.max() + 1)]),
        weight=np.concatenate([base.weight, np.ones(points.shape[0], dtype=np.int64)]),
        split=split,
        parameters=base.parameters,
        sampling=sampling,
        source=base.source,
    )
