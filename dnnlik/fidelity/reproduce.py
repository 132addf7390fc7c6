"""Stored fidelity evidence that anyone can recompute without the reference likelihood.

A bundle may carry, next to its published metrics, a small sample of the
exact posterior with its exact log-likelihoods (``validation/fidelity-sample.h5``)
and the metrics computed on it (``validation.reproducible``). ``dnnlik validate
--reproduce`` recomputes those metrics from the bundle alone (the surrogate's
log-likelihood on the stored points, the weighted K-S tests, the HPDI, and the
surrogate's own t_mu scan) and reports every one that disagrees.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from typing import Any

from ..density import LogDensity
from ..report import Problem
from .assess import FidelityData, _posterior_metrics

__all__ = [
    "DATA_FILE",
    "reproducible_evidence",
    "reproduce_problems",
    "reproduce_report",
    "REL_TOL",
    "ABS_TOL",
    "TMU_ABS_TOL",
]

DATA_FILE = "validation/fidelity-sample.h5"
REL_TOL, ABS_TOL = 1e-4, 1e-6
"""Tolerance on recomputed posterior metrics (float32 networks differ in the last bits across CPUs)."""
TMU_ABS_TOL = 2e-3
"""Tolerance on a recomputed t_mu (optimizer convergence)."""

_KEYS = ("test_x", "test_logpdf", "test_weight", "train_x", "train_logpdf", "train_weight")


def reproducible_evidence(
    surrogate: LogDensity, data: FidelityData, poi: str, values: list[float], offset: float, n: int = 5000
) -> tuple[dict[str, Any], bytes]:
    """``(validation.reproducible section, HDF5 bytes)`` for the first ``n`` points of each sample.

    Args:
        surrogate: the bundle's log-density (as it will be loaded).
        data: the fidelity samples; the first ``n`` rows of each are stored.
        poi: the parameter of interest, one of the surrogate's parameters.
        values: the values of ``poi`` at which the surrogate's own t_mu is stored.
        offset: the constant the surrogate adds to log L (its ``output.offset``).
        n: how many points of each sample to keep.

    Returns:
        The section (data file name, ``poi``, ``offset``, sizes, the posterior
        metrics, the K-S p-values and the t_mu scan) and the bytes of
        :data:`DATA_FILE`, to write into the bundle.

    Raises:
        OptimizationError: a fit of the t_mu scan failed.
    """
    import h5py

    from ..infer import poi_index, tmu_scan

    sub = FidelityData(**{k: getattr(data, k)[:n] for k in _KEYS})
    j = poi_index(poi, surrogate.parameters, where=f"poi={poi!r}")
    metrics, _ = _posterior_metrics(surrogate, sub, j, poi, {}, offset, None)
    scan = tmu_scan(surrogate, values, poi=poi)
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        for k in _KEYS:
            f.create_dataset(k, data=getattr(sub, k))
    section = {
        "data": DATA_FILE,
        "poi": poi,
        "offset": offset,
        "n_test": int(sub.test_x.shape[0]),
        "n_reweighted": int(sub.train_x.shape[0]),
        "metrics": {m.name: m.value for m in metrics},
        "ks_pvalues": next(m for m in metrics if m.name == "ks_median_pvalue").detail["pvalues"],
        "tmu": {"values": list(scan.values), "surrogate": list(scan.tmu)},
    }
    return section, buf.getvalue()


def reproduce_problems(bundle: Any, data_bytes: bytes | None) -> list[Problem]:
    """Recompute ``validation.reproducible`` of a loaded bundle; every disagreement is a problem.

    Posterior metrics must agree within :data:`REL_TOL`/:data:`ABS_TOL`, t_mu within
    :data:`TMU_ABS_TOL`.

    Args:
        bundle: the loaded bundle (:class:`dnnlik.evaluate.Bundle`).
        data_bytes: the contents of its stored sample file, or None when absent.

    Returns:
        One problem per disagreement (``reproduce:mismatch``), or a single one when
        the bundle stores no evidence (``reproduce:absent``) or its sample is missing
        or unreadable (``reproduce:data``); empty when everything reproduces.

    Raises:
        OptimizationError: a fit of the t_mu scan failed.
    """
    import h5py

    from ..infer import tmu_scan

    where = "bundle.json#/validation/reproducible"
    section = bundle.document.get("validation", {}).get("reproducible")
    if not isinstance(section, Mapping):
        return [Problem("reproduce:absent", "the bundle stores no reproducible fidelity evidence", where)]
    if data_bytes is None:
        return [Problem("reproduce:data", f"the data file {section.get('data')!r} is not in the bundle", where)]
    try:
        with h5py.File(io.BytesIO(data_bytes), "r") as f:
            data = FidelityData(**{k: f[k][()] for k in _KEYS})
    except (OSError, KeyError, ValueError) as exc:
        return [Problem("reproduce:data", f"cannot read the stored sample ({exc})", section.get("data", DATA_FILE))]
    poi = section["poi"]
    names = [p.name for p in bundle.parameters]
    if poi not in names:
        return [
            Problem(
                "reproduce:poi",
                f"the stored evidence names poi {poi!r}, not a parameter of the bundle",
                "bundle.json#/validation/reproducible/poi",
            )
        ]
    j = names.index(poi)
    metrics, _ = _posterior_metrics(bundle, data, j, poi, {}, float(section.get("offset", 0.0)), None)
    problems = []
    for m in metrics:
        stored = section["metrics"].get(m.name)
        if stored is None or not math.isclose(m.value, stored, rel_tol=REL_TOL, abs_tol=ABS_TOL):
            problems.append(
                Problem(
                    "reproduce:mismatch",
                    f"{m.name} recomputes to {m.value:.6g}, the bundle says {stored}",
                    f"{where}/metrics/{m.name}",
                )
            )
    scan = tmu_scan(bundle, section["tmu"]["values"], poi=poi)
    # the stored list comes from the bundle: as before, only the points it shares with `values` are compared
    for k, (got, want) in enumerate(zip(scan.tmu, section["tmu"]["surrogate"], strict=False)):
        if abs(got - want) > TMU_ABS_TOL:
            problems.append(
                Problem(
                    "reproduce:mismatch",
                    f"t_mu at {poi} = {scan.values[k]:g} recomputes to {got:.5f}, the bundle says {want:.5f}",
                    f"{where}/tmu/surrogate/{k}",
                )
            )
    return problems


def reproduce_report(path: Any) -> Any:
    """Validate the bundle at ``path``, then recompute its reproducible fidelity evidence: one Report.

    Args:
        path: a bundle folder or .zip.

    Returns:
        The validation report (:class:`dnnlik.report.Report`) with the check
        ``reproduce`` and its problems; an invalid bundle is not recomputed.
    """
    from ..bundle.source import open_source
    from ..errors import DnnlikError
    from ..evaluate import load_local, validate_local

    report = validate_local(path)
    report.checks.append("reproduce")
    if not report.ok:
        return report
    bundle = load_local(path)
    name = bundle.document.get("validation", {}).get("reproducible", {}).get("data", DATA_FILE)
    listed = {f["path"] for f in bundle.document["files"]}
    data = None
    if name in listed:
        try:
            data = open_source(path).read(name)
        except DnnlikError as exc:
            report.add("reproduce:data", exc.bare_message, name)
            return report
    report.extend(reproduce_problems(bundle, data))
    return report
