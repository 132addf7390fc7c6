"""Fidelity of surrogate likelihoods: K-S tests, HPDI, t_mu comparison, verdicts.

>>> report = fidelity.assess(bundle, data, reference)     # doctest: +SKIP
>>> print(report.to_text())                                # doctest: +SKIP
"""

from .assess import DEFAULT_GRID, DEFAULT_THRESHOLDS, MIN_POINTS, FidelityData, FidelityReport, assess
from .figures import FIGURES, bundle_figures
from .hpdi import HPDI_LEVELS, hpdi, hpdi_levels
from .ks import KSResult, effective_size, weighted_ks_2samp
from .metrics import Metric, verdict
from .quadratic import QuadraticApproximation

__all__ = [
    "assess",
    "FidelityData",
    "FidelityReport",
    "DEFAULT_THRESHOLDS",
    "DEFAULT_GRID",
    "MIN_POINTS",
    "hpdi",
    "hpdi_levels",
    "HPDI_LEVELS",
    "weighted_ks_2samp",
    "effective_size",
    "KSResult",
    "Metric",
    "verdict",
    "QuadraticApproximation",
    "bundle_figures",
    "FIGURES",
]
