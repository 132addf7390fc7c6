"""Sampling reference likelihoods with emcee: the training data of a DNNLikelihood.

>>> from dnnlik import likelihoods, sample
>>> result = sample.sample(likelihoods.get("toy-lhc-like"), "samples.h5", strategy="mixed", n=100_000)  # doctest: +SKIP
>>> data = sample.read_dataset("samples.h5")  # doctest: +SKIP

Strategies (:mod:`.strategies`), moves (:mod:`.moves`, with the Laplace
approximation of :mod:`.laplace`), crash-safe checkpoints (:mod:`.storage`),
the checkpointed run (:mod:`.runner`), diagnostics (:mod:`.diagnostics`) and
the samples file (:mod:`.dataset`); :func:`sample` (:mod:`.run`) ties them
together, with :class:`SampleOptions` (:mod:`.options`) and
:class:`SampleResult` (:mod:`.result`).
"""

from __future__ import annotations

from .dataset import SampleDataset, deduplicate, read_dataset, split_indices
from .diagnostics import ChainTooShortError, ShortChainWarning, integrated_time, split_rhat
from .laplace import Laplace, PreconditionedSource, hessian, laplace_at
from .moves import MOVE_SETS, CountingMove, LaplaceIndependenceMove, LaplaceRandomWalkMove, parse_moves
from .pipeline import SampleOptions, SampleResult, default_walkers, sample
from .strategies import STRATEGIES

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
    "default_walkers",
]
