"""From a samples file to a validated bundle in one call: :func:`train_bundle`."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..bundle.parameter_names import check_parameter_names
from ..density import LogDensity
from ..errors import DnnlikError, InvalidInputError
from ..fsutil import refuse_existing
from .baseline import prepare
from .config import TrainConfig
from .data import TrainingData, check_sizes, load_samples
from .ensemble import TrainingResult, train_ensemble
from .export import ExportResult, bundle_name, export_bundle
from .fit import ProgressFn, member_subset

__all__ = ["train_bundle", "check_output", "check_parameters"]


def check_output(out: str | os.PathLike[str], overwrite: bool) -> Path:
    """Refuse an existing ``out`` unless ``overwrite`` (before any time is spent training).

    Args:
        out: the bundle folder about to be written.
        overwrite: whether an existing folder may be replaced.

    Returns:
        ``out`` as a path.

    Raises:
        OutputExistsError: ``out`` exists and ``overwrite`` is false.
        InvalidInputError: ``out`` names a .zip (training writes a folder).
        DnnlikError: ``out`` exists and is not a folder.
    """
    path = Path(out)
    if path.suffix == ".zip":
        raise InvalidInputError(
            "training writes a bundle folder; zip it afterwards with dnnlik.bundle.zip_bundle", where=str(path)
        )
    refuse_existing(path, overwrite)
    if path.exists() and not path.is_dir():
        raise DnnlikError("exists and is not a folder", where=str(path))
    return path


def check_parameters(data: TrainingData) -> None:
    """Refuse, before training, parameters a bundle cannot hold (names, bounds, nominal values).

    Args:
        data: the training data whose parameters are checked.

    Raises:
        InvalidInputError: a name the bundle schema refuses (with a suggested rename), a name
            given twice (:func:`~dnnlik.bundle.parameter_names.check_parameter_names`), empty
            bounds (lower not below upper), or a nominal value outside the bounds.
    """
    check_parameter_names([p.name for p in data.parameters], data.where)
    for i, p in enumerate(data.parameters):
        where = f"{data.where}: parameter {i} ({p.name!r})"
        if not p.lower < p.upper:
            raise InvalidInputError(f"has empty bounds {list(p.bounds)}", where=where)
        if not p.lower <= p.nominal <= p.upper:
            raise InvalidInputError(
                f"has its nominal value {p.nominal} outside its bounds {list(p.bounds)}", where=where
            )


def train_bundle(
    samples: str | os.PathLike[str] | TrainingData,
    out: str | os.PathLike[str],
    config: TrainConfig | None = None,
    *,
    likelihood: LogDensity | None = None,
    overwrite: bool = False,
    progress: ProgressFn | None = None,
    name: str | None = None,
    authors: Sequence[Mapping[str, Any]] | None = None,
    command: str | None = None,
    provenance: Mapping[str, Any] | None = None,
    title: str | None = None,
) -> tuple[TrainingResult, ExportResult]:
    """Load ``samples``, train ``config`` (an ensemble when ``config.ensemble > 1``), export to ``out``.

    ``likelihood`` is the reference likelihood for the residual baseline; by
    default the registered one named in the samples file's ``source``, when any.
    A Ctrl-C during training keeps the best weights so far and still exports
    (once the interrupted network has had an epoch with a finite validation loss; see
    :func:`~dnnlik.train.train_ensemble`); one during export leaves ``out`` untouched.
    An ``out`` ending in ``.zip`` is refused only at export, after training
    (:func:`~dnnlik.train.export_bundle` writes folders).

    Args:
        samples: a samples file written by ``dnnlik sample``, or :class:`TrainingData`.
        out: the bundle folder to write.
        config: the training recipe; default ``TrainConfig()`` (the paper's settings).
        likelihood: the reference likelihood for the residual baseline (see above).
        overwrite: replace an existing ``out``.
        progress: called with an :class:`~dnnlik.train.EpochReport` after each epoch.
        name: the bundle's name; default derived from the source likelihood's name + ``-dnn``.
        authors: the ``authors`` of ``bundle.json`` (objects with at least ``name``).
        command: the command line that made it, recorded as ``provenance.command``.
        provenance: further members of the bundle's ``provenance`` section.
        title: the bundle's title; default "DNNLikelihood of <source likelihood>".

    The bundle's ``fixed_parameters`` are ``likelihood.fixed_parameters`` (a mapping name ->
    value) when the likelihood has them, else those the samples file's source records.

    Returns:
        ``(training result, export result)``: the trained members and the written bundle.

    Raises:
        OutputExistsError: ``out`` exists and ``overwrite`` is false (checked first).
        InvalidInputError: an invalid ``name``; parameters a bundle cannot hold
            (:func:`check_parameters`); fewer training points than one batch; no
            usable reference likelihood where ``config.baseline='likelihood'`` needs
            one; or (after training) an ``out`` ending in ``.zip``.
        DnnlikError: ``out`` is not a folder; the samples file is missing or not a
            samples file; the baseline has no curvature; training diverged.
        OptimizationError: the maximum for the likelihood baseline was not found.
        MissingExtraError: TensorFlow (the ``train`` extra) is not installed.
        InvalidBundleError: the exported bundle would not validate (``out`` left as it was).
    """
    config = config or TrainConfig()
    out_path = check_output(out, overwrite)
    data = samples if isinstance(samples, TrainingData) else load_samples(samples)
    bundle_name(data, name)
    check_parameters(data)
    check_sizes(data, config.batch_size_for(len(member_subset(data.n_train, config, config.seed))))
    prep = prepare(data, config, likelihood)
    result = train_ensemble(data, config, preprocessing=prep, progress=progress)
    fixed = getattr(likelihood, "fixed_parameters", None) if likelihood is not None else None
    exported = export_bundle(
        result,
        data,
        out_path,
        overwrite=overwrite,
        name=name,
        title=title,
        authors=authors,
        command=command,
        provenance=provenance,
        fixed_parameters=fixed,
    )
    return result, exported
