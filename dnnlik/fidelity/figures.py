"""Every figure of a validated bundle, from what the bundle itself stores (or from fuller data).

- ``tmu.png``: t_mu exact vs surrogate (validation metric ``tmu_mean_abs_delta``),
  with the ensemble band when the bundle records one;
- ``hpdi.png``: the POI's HPDI bars (``hpdi_max_abs_delta``);
- ``training.png``: loss curves (``training.history``);
- ``marginals.png``: 1-D marginals, exact posterior vs the surrogate's, for the
  POI and the parameters with the lowest K-S p-values: from ``data`` when
  given, else from the bundle's stored sample (``validation/fidelity-sample.h5``).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DnnlikError, InvalidInputError
from .assess import FidelityData
from .plots import hpdi_plot, marginals_plot, pick_marginals, tmu_plot, training_plot

__all__ = ["bundle_figures", "FIGURES"]

FIGURES = ("tmu", "hpdi", "training", "marginals")


def _detail(doc: dict[str, Any], name: str) -> Any:
    """The ``detail`` of the validation metric ``name`` (stored as ``value: {value, detail}``), or None."""
    for m in doc.get("validation", {}).get("metrics", []):
        if isinstance(m, dict) and m.get("name") == name and isinstance(m.get("value"), dict):
            return m["value"].get("detail")
    return None


def _stored_sample(bundle: Any) -> tuple[FidelityData, float, list[float] | None] | None:
    import h5py

    from ..bundle.source import open_source
    from .reproduce import _KEYS, DATA_FILE

    section = bundle.document.get("validation", {}).get("reproducible")
    if not isinstance(section, dict):
        return None
    try:
        raw = open_source(bundle.path).read(section.get("data", DATA_FILE))
        with h5py.File(io.BytesIO(raw), "r") as f:
            data = FidelityData(**{k: f[k][()] for k in _KEYS})
    except (DnnlikError, OSError, KeyError, ValueError):
        return None
    return data, float(section.get("offset", 0.0)), section.get("ks_pvalues")


def bundle_figures(
    bundle: Any,
    folder: str | Path,
    *,
    data: FidelityData | None = None,
    offset: float | None = None,
    pvalues: list[float] | None = None,
) -> dict[str, Path | None]:
    """Write the figures into ``folder``; name -> path (None: matplotlib missing or nothing to draw).

    Args:
        bundle: the loaded bundle.
        folder: an existing folder; each figure drawn is written there as
            ``<name>.png``, replacing a file of that name.
        data: fuller fidelity samples for the marginals; default the bundle's stored sample.
        offset: the constant the bundle adds to log L (with ``data``; default 0).
        pvalues: the K-S p-value per parameter (with ``data``), to pick and label the marginals.

    Returns:
        ``{name: path or None}`` for each of :data:`FIGURES`.

    Raises:
        InvalidInputError: ``folder`` is not a folder, or the training history
            holds curves that are not objects.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InvalidInputError("is not a folder", where=str(folder))
    doc = bundle.document
    out: dict[str, Path | None] = dict.fromkeys(FIGURES)
    poi = next((p.name for p in bundle.parameters if getattr(p, "role", None) == "poi"), bundle.parameters[0].name)

    tmu = _detail(doc, "tmu_mean_abs_delta")
    if isinstance(tmu, dict) and {"values", "surrogate"} <= set(tmu):
        spread = _detail(doc, "ensemble_spread_max_on_profile")
        band = spread.get("spread") if isinstance(spread, dict) else None
        out["tmu"] = tmu_plot(folder / "tmu.png", tmu["values"], tmu["surrogate"], tmu.get("exact"), band, poi)
    hp = _detail(doc, "hpdi_max_abs_delta")
    if isinstance(hp, dict) and hp:
        out["hpdi"] = hpdi_plot(folder / "hpdi.png", hp, poi)
    members = doc.get("training", {}).get("history", {}).get("members", [])
    if any(isinstance(m, dict) and "curves" in m for m in members):
        m0 = next(m for m in members if "curves" in m)
        scale2 = (m0["best_val_mse_logpdf"] / m0["best_val_loss"]) if m0.get("best_val_loss") else 1.0
        out["training"] = training_plot(folder / "training.png", members, float(np.sqrt(scale2)))

    if data is None:
        stored = _stored_sample(bundle)
        if stored is not None:
            data, offset, pvalues = stored
    if data is not None:
        s = np.asarray(bundle.logpdf(data.train_x), dtype=np.float64) - float(offset or 0.0)
        logw = s - data.train_logpdf
        logw[~np.isfinite(logw)] = -np.inf
        weights = data.train_weight * np.exp(logw - np.max(logw))
        names = [p.name for p in bundle.parameters]
        p = pvalues if pvalues is not None and len(pvalues) == len(names) else [1.0] * len(names)
        out["marginals"] = marginals_plot(
            folder / "marginals.png",
            data.test_x,
            data.train_x,
            names,
            pick_marginals(names, p, poi),
            exact_weight=data.test_weight,
            surrogate_weight=weights,
            pvalues=pvalues,
        )
    return out
