"""The idea at the centre of dnnlik: a log-density over named, bounded parameters.

Reference likelihoods (:class:`~dnnlik.likelihoods.ReferenceLikelihood`), loaded
bundles (:class:`~dnnlik.evaluate.Bundle`), the quadratic approximation of
fidelity reports and sampling wrappers all implement :class:`LogDensity`, and
everything that computes on a log-density (``infer``, ``sample``, ``fidelity``,
``train``) accepts any of them. A new kind of source (a combination, a
HistFactory model) is one new class with these members, nothing else.

The calling conventions, shared by every implementation:

- ``x`` is anything :func:`dnnlik.points.as_points` accepts: an (N, P) array,
  one length-P point, or a ``{name: value}`` mapping (missing names at nominal);
- ``logpdf(x)`` returns an (N,) float64 array, or a float64 scalar for one
  point; points outside a parameter's bounds give ``-inf``;
- ``grad_logpdf(x)`` returns (N, P), or (P,) for one point; NaN rows where the
  log-density is ``-inf``. A source without a gradient raises
  :class:`~dnnlik.errors.NoGradientError`, and ``exact_gradient`` says whether
  the gradient is analytic (True) or a numerical estimate (False).

>>> from dnnlik.density import LogDensity
>>> from dnnlik.likelihoods import get
>>> isinstance(get("toy-lhc-like"), LogDensity)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .parameters import Parameter

__all__ = ["LogDensity", "parameter_names"]


@runtime_checkable
class LogDensity(Protocol):
    """What every log-density source offers (see the module docstring for the conventions)."""

    @property
    def parameters(self) -> Sequence[Parameter]:
        """The parameters, in the order the points' columns take them."""
        ...

    @property
    def exact_gradient(self) -> bool:
        """True when :meth:`grad_logpdf` is analytic, False when it is estimated (or absent)."""
        ...

    def logpdf(self, x: Any) -> np.ndarray:
        """Log-density at the point(s) ``x``.

        Args:
            x: an (N, P) array, one length-P point, or a ``{name: value(s)}`` mapping.

        Returns:
            (N,) float64, or a float64 scalar for one point; ``-inf`` outside the bounds.

        Raises:
            InvalidInputError: ``x`` is malformed (see :mod:`dnnlik.points`).
        """
        ...

    def grad_logpdf(self, x: Any) -> np.ndarray:
        """Gradient of :meth:`logpdf` with respect to the parameters.

        Args:
            x: the point(s), as for :meth:`logpdf`.

        Returns:
            (N, P) float64, or (P,) for one point; NaN rows where the log-density is ``-inf``.

        Raises:
            InvalidInputError: ``x`` is malformed.
            NoGradientError: the source has no gradient.
        """
        ...


def parameter_names(source: LogDensity) -> tuple[str, ...]:
    """The names of ``source``'s parameters, in order (a tuple, whatever the source holds).

    >>> from dnnlik.likelihoods import get
    >>> parameter_names(get("toy-lhc-like"))[:2]
    ('mu', 'mcstat_0')

    Args:
        source: any log-density.

    Returns:
        The names.
    """
    return tuple(p.name for p in source.parameters)
