"""Reference likelihoods: known log-densities that bundles are built from and compared with.

>>> from dnnlik import likelihoods
>>> toy = likelihoods.get("toy-lhc-like")
>>> round(float(toy.logpdf({"mu": 0.0})), 3)
-289.32

``get(name)`` builds a registered one, ``available()`` lists the names,
:class:`CallableLikelihood` wraps any Python function, and :func:`from_pyhf`
reads a HistFactory workspace (pyhf JSON; the ``pyhf`` extra).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from ..errors import InvalidInputError
from .base import ReferenceLikelihood
from .callable import CallableLikelihood
from .histfactory import HistFactoryLikelihood, from_pyhf
from .histfactory_names import dnnlik_name, pyhf_name
from .toy_categories import CATEGORY_NAMES, ToyLHCLikeCategory
from .toy_lhc_like import ToyLHCLike

__all__ = [
    "ReferenceLikelihood",
    "CallableLikelihood",
    "ToyLHCLike",
    "ToyLHCLikeCategory",
    "HistFactoryLikelihood",
    "from_pyhf",
    "dnnlik_name",
    "pyhf_name",
    "get",
    "available",
]

_REGISTRY: dict[str, Callable[[], ReferenceLikelihood]] = {
    ToyLHCLike.name: ToyLHCLike,
    **{name: partial(ToyLHCLikeCategory, c + 1) for c, name in enumerate(CATEGORY_NAMES)},
}


def available() -> list[str]:
    """Names accepted by :func:`get`, sorted."""
    return sorted(_REGISTRY)


def get(name: str) -> ReferenceLikelihood:
    """A new instance of the reference likelihood registered as ``name``."""
    try:
        factory = _REGISTRY[name]
    except (KeyError, TypeError):
        raise InvalidInputError(
            f"unknown reference likelihood {name!r}; available: {', '.join(available())}",
            where="name",
        ) from None
    return factory()
