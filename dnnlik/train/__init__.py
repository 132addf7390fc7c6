"""Train DNNLikelihoods (and ensembles of them) with TensorFlow, and export them as bundles.

This is the only part of dnnlik that uses TensorFlow, and it imports it only
when a network is trained (inside :func:`train_member`): ``import
dnnlik.train`` itself needs numpy and h5py only. Without the ``train``
extra, training raises :class:`~dnnlik.errors.MissingExtraError` saying
``pip install 'dnnlik[train]'``.

From the command line::

    dnnlik train samples.h5 --out bundle_dir [--layers 512,512,512] [--activation selu|swish] [--ensemble 5]
                 [--epochs N] [--max-minutes M] [--seed S] [--target residual|logpdf] [--overwrite]

From Python::

    from dnnlik.train import TrainConfig, train_bundle
    result, exported = train_bundle("samples.h5", "bundle_dir", TrainConfig(layers=(512, 512, 512)))

The modules, each small: :mod:`~dnnlik.train.config` (:class:`TrainConfig`,
the recipe), :mod:`~dnnlik.train.data` (samples file -> arrays),
:mod:`~dnnlik.train.baseline` (scalings and the quadratic Laplace baseline),
:mod:`~dnnlik.train.fit` (:func:`train_member`, one network, a pure function of
data, config and seed), :mod:`~dnnlik.train.ensemble` (K members, mean and
spread), :mod:`~dnnlik.train.export` (ONNX via :func:`dnnlik.graph.build_mlp_model`,
parity checks, validated atomic bundle), :mod:`~dnnlik.train.pipeline`
(:func:`train_bundle`, all of it).

Defaults are sized for a CPU (2 to 16 cores): three hidden layers of 512
SELU units, learning the residual of log L over the quadratic Laplace
approximation (``target='residual'``), which on the 95-parameter toy reaches
a far lower validation error than learning log L directly for the same data
and time (``benchmarks/bench_train.py --compare``).

Training the paper's size (2 x 5000, about 25M weights) on a GPU
-----------------------------------------------------------------
Install TensorFlow with GPU support instead of the CPU wheel the extra pulls
in (``pip install 'dnnlik[train]' 'tensorflow[and-cuda]'`` on Linux; check
``python -c "import tensorflow as tf; print(tf.config.list_physical_devices('GPU'))"``),
sample about 10^6 points, then::

    dnnlik train samples.h5 --out toy-2x5000 --layers 5000,5000 --target logpdf \\
        --epochs 5000 --max-minutes 600 --batch-size 512 --jit

``--target logpdf`` reproduces the paper's setting (use the default
``residual`` for a better surrogate at the same cost). Keras places the
model on the GPU by itself; ``--jit`` turns on XLA compilation (worth it on
GPUs, slow to compile on CPUs). Deterministic ops (the default) cost some
speed on GPUs; ``TrainConfig(deterministic=False)`` trades reproducibility
to the last bit for speed. Export needs no GPU: the ONNX graph is written
from the weights, and the exported 2 x 5000 network evaluates with
onnxruntime on any CPU.
"""

from __future__ import annotations

from .baseline import Preprocessing, baseline_values, fit_quadratic, prepare
from .config import BASELINES, TARGETS, TrainConfig, auto_batch_size, parse_layers
from .cut_short import ScheduleCutShortWarning
from .data import NonFiniteTargetsWarning, TrainingData, check_sizes, from_arrays, load_samples
from .ensemble import TrainingResult, predict, train_ensemble
from .export import ExportResult, build_model, export_bundle
from .fit import EpochReport, MemberResult, train_member
from .pipeline import train_bundle

__all__ = [
    "TrainConfig",
    "TARGETS",
    "BASELINES",
    "auto_batch_size",
    "parse_layers",
    "TrainingData",
    "NonFiniteTargetsWarning",
    "load_samples",
    "from_arrays",
    "check_sizes",
    "Preprocessing",
    "prepare",
    "fit_quadratic",
    "baseline_values",
    "EpochReport",
    "MemberResult",
    "train_member",
    "ScheduleCutShortWarning",
    "TrainingResult",
    "train_ensemble",
    "predict",
    "ExportResult",
    "build_model",
    "export_bundle",
    "train_bundle",
]
