"""The toy LHC-like search cut into its three event categories: three "analyses" that are really one.

``toy-lhc-like-cat1`` (bins 0-29), ``toy-lhc-like-cat2`` (bins 30-59) and
``toy-lhc-like-cat3`` (bins 60-89) are the full toy's formula
(:mod:`dnnlik.likelihoods.toy_lhc_like`) on one category each: 35 parameters,
mu, the 30 MC-statistics nuisances of the category's bins (``mcstat_30`` ..
``mcstat_59`` for category 2: the full toy's names) and the four shared
systematics ``isr``, ``jes``, ``lv``, ``cr``. Each includes the constraint terms
of all its own parameters (N(0, 1) for every nuisance) and the flat prior of mu
(``-log 5``), so their product counts the four shared systematics' terms and
mu's prior three times: :func:`dnnlik.combine` removes two copies of each, and
gives back the full 95-parameter toy up to a constant (``2 log(6/5)``, the
toy's ``-log 5`` against the normalised flat term ``-log 6`` over [-1, 5]).

>>> from dnnlik import likelihoods
>>> cat2 = likelihoods.get("toy-lhc-like-cat2")
>>> len(cat2.parameters), cat2.parameter_names[1], cat2.parameter_names[-4:]
(35, 'mcstat_30', ('isr', 'jes', 'lv', 'cr'))
"""

from __future__ import annotations

from .toy_lhc_like import N_CATEGORIES, ToyCategories

__all__ = ["ToyLHCLikeCategory", "CATEGORY_NAMES"]

CATEGORY_NAMES = tuple(f"toy-lhc-like-cat{c + 1}" for c in range(N_CATEGORIES))
"""Registry names of the per-category likelihoods, category 1 first."""


class ToyLHCLikeCategory(ToyCategories):
    """One category of the toy LHC-like search, with its constraint terms and mu's flat prior.

    Args:
        category: 1, 2 or 3 (bins 0-29, 30-59, 60-89).

    Raises:
        ValueError: ``category`` is not 1, 2 or 3.
    """

    def __init__(self, category: int) -> None:
        if isinstance(category, bool) or category not in range(1, N_CATEGORIES + 1):
            raise ValueError(f"category must be 1, 2 or 3, got {category!r}")
        super().__init__((int(category) - 1,))
        self.name = CATEGORY_NAMES[int(category) - 1]
