"""Fidelity of surrogate likelihoods: K-S tests, HPDI, t_mu comparison, verdicts.

>>> report = fidelity.assess(bundle, data, reference)     # doctest: +SKIP
>>> print(report.to_text())                                # doctest: +SKIP

A bundle against its reference, written into its ``validation`` section (what
``dnnlik fidelity BUNDLE --reference NAME --write`` does)::

    checked = fidelity.assess_bundle("bundle_dir", reference, data, reference_name="toy-lhc-like")
    fidelity.write_validation("bundle_dir", checked)
"""

from .assess import (
    DEFAULT_GRID,
    DEFAULT_THRESHOLDS,
    JUDGED_ON_SAMPLES,
    MIN_POINTS,
    FidelityData,
    FidelityReport,
    assess,
)
from .bundle_fidelity import BundleFidelity, assess_bundle, read_fidelity_data, sample_fidelity_data, write_validation
from .data import SampleConvergence, convergence_problems
from .figures import FIGURES, bundle_figures
from .hpdi import HPDI_LEVELS, hpdi, hpdi_levels
from .ks import KSResult, effective_size, weighted_ks_2samp
from .metrics import Metric, verdict
from .poi_line import POI_LINE_THRESHOLDS, poi_line_metrics
from .quadratic import QuadraticApproximation

__all__ = [
    "assess",
    "assess_bundle",
    "BundleFidelity",
    "read_fidelity_data",
    "sample_fidelity_data",
    "write_validation",
    "FidelityData",
    "SampleConvergence",
    "convergence_problems",
    "FidelityReport",
    "JUDGED_ON_SAMPLES",
    "POI_LINE_THRESHOLDS",
    "poi_line_metrics",
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
