"""Inference on any log-density source: maxima, profiles, the t_mu test statistic, intervals and upper limits.

A source is anything with ``.parameters``, ``.logpdf(X)`` and
``.grad_logpdf(X)`` on (N, P) arrays: a reference likelihood from
:mod:`dnnlik.likelihoods` or a loaded bundle.

>>> from dnnlik import likelihoods, infer
>>> scan = infer.tmu_scan(likelihoods.get("toy-lhc-like"), [0.0, 1.0])
>>> round(scan.tmu[1], 2)
7.37
"""

from __future__ import annotations

from .intervals import WILKS_LEVELS, Interval, tmu_interval
from .limits import (
    LIMIT_METHODS,
    SIGMA_SOURCES,
    AsimovSource,
    ClsScan,
    UpperLimit,
    asymptotic_cls,
    cls_scan,
    profile_level,
    upper_limit,
)
from .maximize import maximize
from .profile import default_poi, poi_index, profile, tmu_scan
from .results import FitResult, TmuScan

__all__ = [
    "maximize",
    "profile",
    "tmu_scan",
    "default_poi",
    "poi_index",
    "tmu_interval",
    "FitResult",
    "TmuScan",
    "Interval",
    "WILKS_LEVELS",
    "upper_limit",
    "cls_scan",
    "asymptotic_cls",
    "profile_level",
    "UpperLimit",
    "ClsScan",
    "AsimovSource",
    "LIMIT_METHODS",
    "SIGMA_SOURCES",
]
