"""Shared pieces of the train tests: a small analytic likelihood and samples files in the sampler's layout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from dnnlik.parameters import Parameter, parameters_to_json

__all__ = ["PRECISION", "logpdf", "grad_logpdf", "PARAMETERS", "points", "write_samples"]

PRECISION = np.array(
    [
        [1.0, 0.3, 0.0, 0.0],
        [0.3, 0.5, 0.1, 0.0],
        [0.0, 0.1, 2.0, 0.2],
        [0.0, 0.0, 0.2, 1.0],
    ]
)
"""A correlated 4-d Gaussian core, bent by a quartic and a sine term (so the residual is not zero)."""

PARAMETERS = [
    Parameter(name="mu", role="poi", bounds=(-10.0, 10.0)),
    *[Parameter(name=f"theta_{i}", bounds=(-10.0, 10.0)) for i in range(1, 4)],
]


def logpdf(x: np.ndarray) -> np.ndarray:
    x = np.atleast_2d(x)
    return -0.5 * np.einsum("ni,ij,nj->n", x, PRECISION, x) - 0.05 * x[:, 0] ** 4 + 0.2 * np.sin(2 * x[:, 1]) - 3.0


def grad_logpdf(x: np.ndarray) -> np.ndarray:
    x = np.atleast_2d(x)
    g = -x @ PRECISION
    g[:, 0] -= 0.2 * x[:, 0] ** 3
    g[:, 1] += 0.4 * np.cos(2 * x[:, 1])
    return g


def points(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 1.0, (n, 4))


def write_samples(
    path: Path, x: np.ndarray, y: np.ndarray, *, name: str = "bent-gaussian-4d", split_seed: int = 3, **extra: Any
) -> Path:
    """A samples file in the layout of ``dnnlik sample`` (dnnlik/sample/dataset.py), written with h5py."""
    n = len(x)
    perm = np.random.default_rng(split_seed).permutation(n)
    n_val = n_test = n // 10
    split = {
        "validation": np.sort(perm[:n_val]),
        "test": np.sort(perm[n_val : n_val + n_test]),
        "train": np.sort(perm[n_val + n_test :]),
    }
    sampling = {
        "tool": "numpy",
        "strategy": "other",
        "n_samples": int(n),
        "split": {k: int(v.size) for k, v in split.items()} | {"seed": split_seed},
        **extra,
    }
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "dnnlik-samples"
        f.attrs["format_version"] = 1
        f.attrs["parameter_names"] = json.dumps([p.name for p in PARAMETERS])
        f.attrs["parameters"] = json.dumps(parameters_to_json(PARAMETERS))
        f.attrs["sampling"] = json.dumps(sampling)
        f.attrs["source"] = json.dumps({"name": name})
        f.create_dataset("points", data=np.asarray(x, dtype=np.float64))
        f.create_dataset("logpdf", data=np.asarray(y, dtype=np.float64))
        f.create_dataset("segment", data=np.zeros(n, dtype=np.int32))
        f.create_dataset("weight", data=np.ones(n, dtype=np.int64))
        g = f.create_group("split")
        for key, idx in split.items():
            g.create_dataset(key, data=idx.astype(np.int64))
    return path
