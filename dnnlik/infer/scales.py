"""The scale of each parameter for the optimiser: its constraint's width, and which parameters are too narrow to fit.

A parameter whose constraint term is far narrower than any step the optimiser
or a finite difference can resolve (a HistFactory shapesys gamma with
tau = 1.9e11 has width 2e-6, and its Poisson term carries about 1e-3 of
round-off noise in log L at steps below 1e-7) makes gradients meaningless and
line searches fail. :func:`degenerate_parameters` finds them: a constraint
width below :data:`DEGENERATE_WIDTH` times ``max(1, |centre|)``. They are
**held** at the centre of their constraint (its mode: a normal's mean, a
gamma's ``aux / tau``, a log-normal's ``mean * exp(-sigma^2)``), clipped into
the bounds, and the fit says so in its notes. Holding such a parameter changes
the maximum by about ``(width * slope)^2 / 2``, ``slope`` the derivative of the
rest of the log-density with respect to it: below 1e-8 for a slope of 10 and
a width of 1e-5. They are held, not rescaled: the round-off noise of their
terms would stay.

A wide constraint (far wider than the bounds: a nearly free gamma) needs
nothing: the bounds hold the parameter.

:func:`probe_steps` gives the steps of the coordinate probe that decides, when
L-BFGS-B stops without success, whether its end point is a maximum.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..parameters import Parameter

__all__ = ["DEGENERATE_WIDTH", "PROBE_STEPS", "constraint_scale", "degenerate_parameters", "probe_steps"]

DEGENERATE_WIDTH = 1e-5
"""A constraint narrower than this (relative to ``max(1, |centre|)``) makes its parameter degenerate."""

PROBE_STEPS = (1e-2, 1e-4)
"""Steps of the coordinate probe, in units of each parameter's scale."""


def constraint_scale(p: Parameter) -> tuple[float, float] | None:
    """``(centre, width)`` of ``p``'s constraint term: its mode and standard deviation; None without one.

    >>> from dnnlik.parameters import Constraint
    >>> constraint_scale(Parameter("a", constraint=Constraint("normal", 0.5, 0.1)))
    (0.5, 0.1)

    Args:
        p: the parameter.

    Returns:
        The centre and width, or None for ``none`` and ``uniform`` (and incomplete) constraints.
    """
    c = p.constraint
    if c.type == "normal" and c.mean is not None and c.sigma:
        return float(c.mean), float(c.sigma)
    if c.type == "lognormal" and c.mean and c.sigma:
        mean, sigma = float(c.mean), float(c.sigma)
        return mean * math.exp(-sigma * sigma), mean * math.sqrt(math.expm1(sigma * sigma) * math.exp(sigma * sigma))
    tau = getattr(c, "tau", None)
    if c.type == "gamma" and tau:
        aux = getattr(c, "aux", None)
        count = float(tau if aux is None else aux)
        return count / float(tau), math.sqrt(count + 1.0) / float(tau)
    return None


def degenerate_parameters(params: Sequence[Parameter], free: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The free parameters to hold: ``(indices, values, notes)``.

    Args:
        params: all parameters of the source.
        free: the indices of the parameters the fit would vary.

    Returns:
        Their indices (increasing), the values they are held at (their constraint's
        centre, clipped into the bounds), and one note per parameter.
    """
    idx, values, notes = [], [], []
    for i in np.asarray(free, dtype=np.intp):
        p = params[int(i)]
        scale = constraint_scale(p)
        if scale is None:
            continue
        centre, width = scale
        if not width < DEGENERATE_WIDTH * max(1.0, abs(centre)):
            continue
        value = min(max(centre, p.lower), p.upper)
        idx.append(int(i))
        values.append(value)
        notes.append(
            f"{p.name} held at {value:.10g}: its {p.constraint.type} constraint's width {width:.3g} is below "
            f"{DEGENERATE_WIDTH:g} x max(1, |centre|), too narrow to fit"
        )
    return np.asarray(idx, dtype=np.intp), np.asarray(values, dtype=np.float64), notes


def probe_steps(params: Sequence[Parameter], free: np.ndarray, z: np.ndarray) -> np.ndarray:
    """The unit of each free parameter's probe steps: its constraint's width, else ``max(1, |z|)``.

    Args:
        params: all parameters of the source.
        free: the indices of the free parameters.
        z: the free parameters' current values.

    Returns:
        One scale per free parameter (multiplied by each of :data:`PROBE_STEPS`).
    """
    out = np.maximum(1.0, np.abs(np.asarray(z, dtype=np.float64)))
    for j, i in enumerate(np.asarray(free, dtype=np.intp)):
        scale = constraint_scale(params[int(i)])
        if scale is not None:
            out[j] = scale[1]
    return out
