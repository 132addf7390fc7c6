"""A bundle's fidelity against its reference likelihood, and its ``validation`` section written into it.

What ``dnnlik fidelity BUNDLE --reference NAME`` and the zoo build do:

>>> data = read_fidelity_data(["posterior-1.h5", "posterior-2.h5"], reference)   # doctest: +SKIP
>>> checked = assess_bundle("bundle_dir", reference, data, reference_name="toy-lhc-like")  # doctest: +SKIP
>>> print(checked.report.to_text())                                              # doctest: +SKIP
>>> write_validation("bundle_dir", checked)                                      # doctest: +SKIP

The two posterior samples come from files written by ``dnnlik sample`` (test
sample first, then the independent one that is reweighted to the surrogate),
or are drawn here with fixed seeds (:func:`sample_fidelity_data`). The
``validation`` section holds the report's metrics and verdict, what the
bundle was compared with, and the reproducible evidence
(:func:`~dnnlik.fidelity.reproduce.reproducible_evidence`) that ``dnnlik
validate --reproduce`` recomputes from the bundle alone.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..density import LogDensity
from ..errors import InvalidInputError
from .assess import DEFAULT_GRID, FidelityData, FidelityReport, _check_parameters, assess
from .data import SampleConvergence

__all__ = [
    "BundleFidelity",
    "check_pairing",
    "assess_bundle",
    "read_fidelity_data",
    "sample_fidelity_data",
    "write_validation",
    "CONSISTENCY_POINTS",
]

CONSISTENCY_POINTS = 64
"""How many points of each samples file are re-evaluated with the reference (to catch samples of another likelihood)."""


@dataclass(frozen=True, eq=False)
class BundleFidelity:
    """A bundle assessed against its reference: the report and what its ``validation`` section needs.

    Attributes:
        bundle: the loaded bundle (:class:`dnnlik.Bundle`).
        data: the two posterior samples it was assessed on.
        report: the fidelity report.
        reference: what it was compared with: ``name``, ``samples`` (file names), ``n_test``,
            ``n_reweighted`` (and ``sampled`` when the samples were drawn here).
        poi: the parameter of interest of the t_mu comparison.
        grid: the values of ``poi`` where t_mu was compared.
        offset: the bundle's ``output.offset``.
    """

    bundle: Any
    data: FidelityData
    report: FidelityReport
    reference: dict[str, Any]
    poi: str
    grid: tuple[float, ...]
    offset: float

    def validation_section(self) -> tuple[dict[str, Any], bytes]:
        """The bundle's ``validation`` section and the bytes of its stored evidence sample.

        Returns:
            ``(section, data file bytes)``: the report's verdict and metrics with ``reference``
            and ``reproducible``, and :data:`~dnnlik.fidelity.reproduce.DATA_FILE`'s contents.

        Raises:
            OptimizationError: a fit of the surrogate's t_mu scan failed.
        """
        from .reproduce import reproducible_evidence

        section = self.report.to_validation_section(self.reference)
        evidence, blob = reproducible_evidence(self.bundle, self.data, self.poi, list(self.grid), self.offset)
        section["reproducible"] = evidence
        return section, blob


def check_pairing(surrogate: LogDensity, reference: LogDensity, poi: str | None = None) -> str:
    """Check, before any sampling, that ``surrogate`` and ``reference`` can be compared; return the POI.

    Args:
        surrogate: the loaded bundle.
        reference: the exact likelihood.
        poi: the parameter of interest; default the reference's one parameter with role ``poi``.

    Returns:
        The parameter of interest.

    Raises:
        InvalidInputError: the parameters differ (number, names or order), or ``poi`` is
            not one of them (or, not given, not exactly one parameter has role ``poi``).
    """
    from ..infer import default_poi, poi_index

    _check_parameters(surrogate, reference)
    poi = default_poi(reference) if poi is None else poi
    poi_index(poi, reference.parameters, where="poi")
    return poi


def read_fidelity_data(paths: Sequence[str | os.PathLike[str]], reference: LogDensity) -> FidelityData:
    """Two samples files of the reference posterior (``dnnlik sample``) as :class:`FidelityData`.

    Args:
        paths: the test sample's file, then the independent sample's (reweighted to the surrogate).
        reference: the reference likelihood the samples must come from.

    Returns:
        The points, their log-likelihoods as the files record them, their multiplicities,
        and how well each file's chains converged (its R-hat and effective sizes).

    Raises:
        InvalidInputError: not exactly two files; a file whose parameters are not the reference's
            (names and order); or whose recorded log-likelihoods are not the reference's (checked
            on its first :data:`CONSISTENCY_POINTS` points).
        DnnlikError: a file is missing or not a samples file.
    """
    from ..sample.dataset import read_dataset

    if len(paths) != 2:
        raise InvalidInputError(
            f"needs two samples files of the reference posterior (the test sample, then an independent "
            f"one), got {len(paths)}",
            where="samples",
        )
    names = tuple(p.name for p in reference.parameters)
    sets = []
    for path in paths:
        ds = read_dataset(Path(path))
        if tuple(ds.parameter_names) != names:
            raise InvalidInputError(
                f"holds samples of the parameters {list(ds.parameter_names)[:6]}..., not the reference's "
                f"{list(names)[:6]}... ({len(ds.parameter_names)} vs {len(names)}, same order needed)",
                where=str(path),
            )
        _check_recorded_logpdf(ds.points, ds.logpdf, reference, str(path))
        sets.append(ds)
    a, b = sets
    return FidelityData(
        a.points,
        a.logpdf,
        b.points,
        b.logpdf,
        test_weight=a.weight,
        train_weight=b.weight,
        test_convergence=SampleConvergence.from_sampling(a.sampling),
        train_convergence=SampleConvergence.from_sampling(b.sampling),
    )


def _check_recorded_logpdf(points: np.ndarray, logpdf: np.ndarray, reference: LogDensity, where: str) -> None:
    """Refuse a samples file whose recorded log-likelihoods differ from the reference's own."""
    k = min(CONSISTENCY_POINTS, len(points))
    exact = np.asarray(reference.logpdf(points[:k]), dtype=np.float64)
    recorded = np.asarray(logpdf[:k], dtype=np.float64)
    bad = np.flatnonzero(~np.isclose(exact, recorded, rtol=1e-9, atol=1e-6))
    if bad.size:
        i = int(bad[0])
        raise InvalidInputError(
            f"records log L = {recorded[i]:.8g} at point {i}, where the reference gives {exact[i]:.8g}: "
            "these are not samples of this reference likelihood",
            where=where,
        )


def sample_fidelity_data(
    reference: LogDensity, work: str | os.PathLike[str], *, n: int, seed: int, progress: bool | None = False
) -> tuple[FidelityData, list[Path]]:
    """Draw the two posterior samples of ``reference`` (``unbiased`` strategy, seeds ``seed+1`` and ``seed+2``).

    The seeds are the zoo build's (``config.seed + 1``, ``+ 2``), so the same seed gives the same
    samples. Files already in ``work`` are not reused: they are sampled again.

    Args:
        reference: the likelihood to sample.
        work: an existing folder for the two samples files (``posterior-1.h5``, ``posterior-2.h5``).
        n: points per sample.
        seed: the base seed.
        progress: a progress bar on stderr (None: only on a terminal).

    Returns:
        The samples as :class:`FidelityData`, and the two files.

    Raises:
        InvalidInputError: bad sampling options (``n``, ``seed``).
        DnnlikError: sampling failed.
    """
    from ..sample import sample

    paths = [Path(work) / f"posterior-{k}.h5" for k in (1, 2)]
    for k, path in zip((1, 2), paths, strict=True):
        sample(reference, path, strategy="unbiased", n=n, seed=seed + k, overwrite=True, progress=progress)
    return read_fidelity_data(paths, reference), paths


def assess_bundle(
    bundle: Any,
    reference: LogDensity,
    data: FidelityData,
    *,
    reference_name: str,
    samples: Sequence[str] = (),
    sampled: Mapping[str, Any] | None = None,
    poi: str | None = None,
    grid: Sequence[float] = DEFAULT_GRID,
    thresholds: Mapping[str, float] | None = None,
    surrogate_samples: np.ndarray | None = None,
    surrogate_weights: np.ndarray | None = None,
) -> BundleFidelity:
    """Assess a bundle against its reference likelihood (:func:`~dnnlik.fidelity.assess`, with its offset).

    Args:
        bundle: a loaded bundle, or the path of a bundle folder or .zip (loaded and validated).
        reference: the exact likelihood; the bundle's parameters, in the same order.
        data: two posterior samples of the reference (:func:`read_fidelity_data`).
        reference_name: the reference's name, recorded in ``validation.reference``.
        samples: the samples files' names, recorded too.
        sampled: how the samples were drawn when they were drawn for this check (recorded).
        poi: the parameter of interest; default the reference's one parameter with role ``poi``.
        grid: the values of ``poi`` where t_mu is compared.
        thresholds: ``{metric: threshold}``; default :data:`~dnnlik.fidelity.DEFAULT_THRESHOLDS`.
        surrogate_samples: a posterior sampled on the bundle itself (adds the sampled HPDI).
        surrogate_weights: their multiplicities.

    Returns:
        The report with everything :meth:`BundleFidelity.validation_section` needs.

    Raises:
        InvalidInputError: the parameters of the bundle and the reference differ, or
            ``poi`` names none of them (see :func:`~dnnlik.fidelity.assess`).
        InvalidBundleError: ``bundle`` is a path that does not validate.
        OptimizationError: a fit of the t_mu scans failed.
    """
    if isinstance(bundle, (str, os.PathLike)):
        from ..evaluate import load_local

        bundle = load_local(bundle)
    poi = check_pairing(bundle, reference, poi)
    offset = float(bundle.document.get("output", {}).get("offset", 0.0))
    report = assess(
        bundle,
        data,
        reference,
        poi=poi,
        grid=grid,
        thresholds=thresholds,
        offset=offset,
        surrogate_samples=surrogate_samples,
        surrogate_weights=surrogate_weights,
    )
    info: dict[str, Any] = {
        "name": reference_name,
        "samples": list(samples),
        "n_test": int(data.test_x.shape[0]),
        "n_reweighted": int(data.train_x.shape[0]),
    }
    if sampled is not None:
        info["sampled"] = dict(sampled)
    return BundleFidelity(bundle, data, report, info, poi, tuple(float(v) for v in grid), offset)


def write_validation(bundle_dir: str | os.PathLike[str], checked: BundleFidelity) -> dict[str, Any]:
    """Write ``checked``'s ``validation`` section (and its evidence sample) into a bundle folder, atomically.

    Args:
        bundle_dir: the folder of the bundle that was assessed.
        checked: the assessment (:func:`assess_bundle`).

    Returns:
        The document as written.

    Raises:
        InvalidInputError: ``bundle_dir`` is not a folder (a .zip cannot be updated in place).
        OptimizationError: a fit of the surrogate's t_mu scan for the evidence failed.
    """
    from ..bundle.write import update_bundle
    from .reproduce import DATA_FILE

    if not Path(bundle_dir).is_dir():
        raise InvalidInputError(
            "is not a bundle folder: only a folder can be updated in place (unzip a .zip first)", where=str(bundle_dir)
        )
    section, blob = checked.validation_section()
    return update_bundle(bundle_dir, {"validation": section}, {DATA_FILE: blob})
