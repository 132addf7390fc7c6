"""Sampling reference likelihoods with emcee: the training data of a DNNLikelihood.

>>> from dnnlik import likelihoods, sample
>>> result = sample.sample(likelihoods.get("toy-lhc-like"), "samples.h5", strategy="mixed", n=100_000)  # doctest: +SKIP
>>> data = sample.read_dataset("samples.h5")  # doctest: +SKIP

Where things are:

- :mod:`.options`: :class:`SampleOptions`, every option with its default,
  help text and rule; the strategies and move sets by name (light: the
  command line reads it);
- :mod:`.pipeline`: :func:`sample`, one run step by step (check, plan or
  resume, run, collect, R-hat, write);
- :mod:`.strategies`: the segments (independent ensembles) of a strategy and
  the run's :class:`~.strategies.Plan`; :mod:`.segment`: one segment, its
  coordinates and its checkpointed form;
- :mod:`.proposal` with :mod:`.transform`: each segment's coordinates (bounded
  parameters through log/logit where the Laplace approximation fails there,
  degenerate parameters held) and its Laplace approximation in them;
- :mod:`.moves` with :mod:`.laplace`: the emcee moves and the Laplace approximation;
- :mod:`.runner`: the checkpointed ensembles, segment after segment;
- :mod:`.storage`: crash-safe checkpoints and atomic HDF5 writes;
- :mod:`.diagnostics`: autocorrelation time, R-hat, burn-in and thinning;
- :mod:`.metadata`: the ``sampling`` section (bundle schema) of a run;
- :mod:`.dataset`: the samples file; :mod:`.result`: :class:`SampleResult`;
- :mod:`.ridge`: extra training points along the profile ridge; :mod:`.poi_line`:
  extra training points on and near the POI line at nominal nuisances.

Names are imported on first use, so ``import dnnlik.sample.options`` loads
neither emcee nor h5py.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .dataset import SampleDataset, deduplicate, read_dataset, split_indices
    from .diagnostics import ChainTooShortError, ShortChainWarning, integrated_time, split_rhat
    from .laplace import Laplace, PreconditionedSource, hessian, laplace_at
    from .moves import CountingMove, LaplaceIndependenceMove, LaplaceRandomWalkMove
    from .options import MOVE_SETS, STRATEGIES, TRANSFORM_MODES, SampleOptions, default_walkers, parse_moves
    from .pipeline import sample
    from .poi_line import poi_line_samples
    from .result import SampleResult
    from .ridge import ridge_samples
    from .transform import BoundTransform

__all__ = [
    "sample",
    "SampleOptions",
    "SampleResult",
    "SampleDataset",
    "read_dataset",
    "deduplicate",
    "split_indices",
    "integrated_time",
    "split_rhat",
    "ShortChainWarning",
    "ChainTooShortError",
    "Laplace",
    "laplace_at",
    "PreconditionedSource",
    "hessian",
    "LaplaceIndependenceMove",
    "LaplaceRandomWalkMove",
    "CountingMove",
    "parse_moves",
    "MOVE_SETS",
    "STRATEGIES",
    "TRANSFORM_MODES",
    "default_walkers",
    "BoundTransform",
    "ridge_samples",
    "poi_line_samples",
]

_LAZY = {
    "sample": "pipeline",
    "SampleOptions": "options",
    "SampleResult": "result",
    "SampleDataset": "dataset",
    "read_dataset": "dataset",
    "deduplicate": "dataset",
    "split_indices": "dataset",
    "integrated_time": "diagnostics",
    "split_rhat": "diagnostics",
    "ShortChainWarning": "diagnostics",
    "ChainTooShortError": "diagnostics",
    "Laplace": "laplace",
    "laplace_at": "laplace",
    "PreconditionedSource": "laplace",
    "hessian": "laplace",
    "LaplaceIndependenceMove": "moves",
    "LaplaceRandomWalkMove": "moves",
    "CountingMove": "moves",
    "parse_moves": "options",
    "MOVE_SETS": "options",
    "STRATEGIES": "options",
    "TRANSFORM_MODES": "options",
    "default_walkers": "options",
    "BoundTransform": "transform",
    "ridge_samples": "ridge",
    "poi_line_samples": "poi_line",
}
"""Public name -> the submodule that defines it."""


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
