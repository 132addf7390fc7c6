"""Immutable results of maximisations and profile scans, with JSON forms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["FitResult", "TmuScan"]


@dataclass(frozen=True)
class FitResult:
    """A converged maximum of a log-density, over all parameters or with some fixed.

    ``x`` holds every parameter (fixed ones at their fixed value), in the
    source's order; ``logpdf`` is the log-density there. Only converged fits
    are returned (failures raise :class:`~dnnlik.errors.OptimizationError`).

    Attributes:
        names: the parameter names, in the source's order.
        x: the best-fit value of every parameter.
        logpdf: the log-density at ``x``.
        fixed: the names of the parameters held fixed.
        method: the optimiser (and whether the gradient was finite differences).
        message: the optimiser's last message.
        n_iterations: L-BFGS-B iterations of the best start.
        n_evaluations: log-density evaluations over all starts (a batch counts once).
        starts: how many starts were tried.
        converged_starts: how many of them converged.
        held: the parameters held at their constraint's centre because it is too
            narrow to fit (:mod:`dnnlik.infer.scales`); not in ``fixed``.
        notes: what the fit did besides the plain run: each held parameter, each
            restart after L-BFGS-B stopped short.
    """

    names: tuple[str, ...]
    x: tuple[float, ...]
    logpdf: float
    fixed: tuple[str, ...] = ()
    method: str = "L-BFGS-B"
    message: str = ""
    n_iterations: int = 0
    n_evaluations: int = 0
    starts: int = 1
    converged_starts: int = 1
    held: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def point(self) -> np.ndarray:
        """The best-fit point as a (P,) float64 array."""
        return np.array(self.x, dtype=np.float64)

    def value(self, name: str) -> float:
        """The best-fit value of the parameter ``name``.

        Args:
            name: a parameter name.

        Returns:
            Its value in ``x``.

        Raises:
            KeyError: no parameter has that name.
        """
        try:
            return self.x[self.names.index(name)]
        except ValueError:
            raise KeyError(f"no parameter named {name!r} in this fit") from None

    def as_dict(self) -> dict[str, float]:
        """``{name: best-fit value}``."""
        return dict(zip(self.names, self.x, strict=True))

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict (``json.dumps(result.to_json())``)."""
        return {
            "logpdf": self.logpdf,
            "parameters": self.as_dict(),
            "fixed": list(self.fixed),
            "method": self.method,
            "message": self.message,
            "n_iterations": self.n_iterations,
            "n_evaluations": self.n_evaluations,
            "starts": self.starts,
            "converged_starts": self.converged_starts,
            "held": list(self.held),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class TmuScan:
    """The profile-likelihood test statistic t_mu = -2 [max_theta logL(mu, theta) - max logL].

    ``profiles[i]`` is the fit with the parameter of interest ``poi`` fixed at
    ``values[i]``; ``best`` is the global maximum the t_mu are measured from.

    Attributes:
        poi: the scanned parameter of interest.
        values: the scanned values of ``poi``.
        tmu: t_mu at each value (never below 0).
        profiles: the fit with ``poi`` fixed, at each value.
        best: the global maximum.
    """

    poi: str
    values: tuple[float, ...]
    tmu: tuple[float, ...]
    profiles: tuple[FitResult, ...]
    best: FitResult

    @property
    def profiled_logpdf(self) -> tuple[float, ...]:
        """max over the other parameters of the log-density, at each scanned value."""
        return tuple(p.logpdf for p in self.profiles)

    @property
    def poi_hat(self) -> float:
        """Best-fit value of the parameter of interest."""
        return self.best.value(self.poi)

    @property
    def max_logpdf(self) -> float:
        """The global maximum of the log-density."""
        return self.best.logpdf

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict; ``points`` lists one object per scanned value."""
        return {
            "poi": self.poi,
            "poi_hat": self.poi_hat,
            "max_logpdf": self.max_logpdf,
            "points": [
                {self.poi: v, "tmu": t, "profiled_logpdf": p.logpdf}
                for v, t, p in zip(self.values, self.tmu, self.profiles, strict=True)
            ],
            "best": self.best.to_json(),
            "profiles": [p.to_json() for p in self.profiles],
        }
