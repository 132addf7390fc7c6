"""Upper limits on a parameter of interest: the profile-likelihood limit and the asymptotic CLs limit.

Both work on any :class:`~dnnlik.density.LogDensity` (a bundle, a reference
likelihood, a combination) and are built on :func:`~dnnlik.infer.maximize`:
every number comes from converged fits, and a fit that fails raises
:class:`~dnnlik.errors.OptimizationError` instead of giving a number.
Equations are those of Cowan, Cranmer, Gross, Vitells, "Asymptotic formulae
for likelihood-based tests of new physics", Eur. Phys. J. C 71 (2011) 1554,
arXiv:1007.1727 ("CCGV").

**Profile-likelihood limit** (``method="profile"``). The statistic for upper
limits is one-sided: q_mu = t_mu when mu_hat <= mu, 0 otherwise (CCGV eq. 14).
Asymptotically F(q_mu | mu) = Phi(sqrt(q_mu)) (eq. 57 with mu' = mu), so
p_mu = 1 - Phi(sqrt(q_mu)) (eq. 59), and the upper limit at confidence level
CL is the mu above mu_hat where t_mu = [Phi^-1(CL)]^2: 2.7055 at 95% CL. Not
Wilks' two-sided 3.8415: that is the upper end of a two-sided 95% interval, a
97.5% one-sided limit. An upper limit rejects only values above the best fit,
so all of 1 - CL goes into that one tail.

**Asymptotic CLs limit** (``method="cls"``). The statistic is q~_mu (eq. 16):
0 when mu_hat > mu; -2 ln[L(mu, th^^(mu)) / L(mu_hat, th^)] when
0 <= mu_hat <= mu; -2 ln[L(mu, th^^(mu)) / L(0, th^^(0))] when mu_hat < 0.
In the Wald approximation (eq. 62) its distribution depends on r = mu / sigma
only, sigma being the standard deviation of mu_hat; with q = q~_mu (eq. 65
with mu' = mu and with mu' = 0)::

    p_{s+b} = 1 - F(q | mu) = 1 - Phi(sqrt(q))          q <= r^2
                            = 1 - Phi((q + r^2) / (2r))   q >  r^2
    1 - p_b = 1 - F(q | 0)  = 1 - Phi(sqrt(q) - r)      q <= r^2
                            = 1 - Phi((q - r^2) / (2r))   q >  r^2
    CLs = p_{s+b} / (1 - p_b)

and the limit is the mu where CLs = 1 - CL, bracketed then solved with
Brent's method (:func:`scipy.optimize.brentq`).

**Where sigma comes from** (recorded in every result as ``sigma_source``).
CCGV take it from the Asimov data set of the background-only hypothesis
(section 3.2): the same likelihood on the data expected at mu = 0 with the
nuisance parameters fitted to the observed data at mu = 0, where
sigma_A^2 = mu^2 / q~_mu,A. A bundle holds only the observed likelihood, so
by default sigma comes from the Wald approximation of the *observed* profile,
-2 ln lambda(mu) = (mu - mu_hat)^2 / sigma^2 (section 3.1), read at each mu as
sigma^2 = (mu - mu_hat)^2 / t_mu (``sigma_source="wald"``). That is exact for a
Gaussian likelihood. For Poisson counts it equals the Asimov sigma when the
observed counts equal the background expectation and is larger after an
excess, smaller after a deficit (the variance of mu_hat grows with the counts):
for one bin with b = 10, s = 5, n = 15 it is 6% larger at mu = 2.

The Asimov route is used when an Asimov log-density is available: passed as
``asimov=``, or offered by the source through :class:`AsimovSource` (a
``asimov_logdensity(point)`` method giving the same model on the data expected
at ``point``). That method is the hook for a future bundle that carries an
expected likelihood: implementing it is all ``upper_limit`` needs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
from scipy.optimize import brentq
from scipy.special import log_ndtr, ndtri

from ..density import LogDensity, parameter_names
from ..errors import InvalidInputError, OptimizationError
from .maximize import maximize
from .profile import _check_values, default_poi, poi_index
from .results import FitResult

__all__ = [
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

LIMIT_METHODS = ("cls", "profile")
"""``method`` of :func:`upper_limit`: asymptotic CLs with q~_mu, or the one-sided profile likelihood."""

SIGMA_SOURCES = ("auto", "asimov", "wald")
"""``sigma`` of :func:`upper_limit` and :func:`cls_scan`: where the standard deviation of mu_hat comes from."""

_STATISTIC = {"cls": "qtilde_mu", "profile": "q_mu"}
_MAX_DISTANCE = 1e6
_MAX_RESTARTS = 2


@runtime_checkable
class AsimovSource(Protocol):
    """A log-density that can be rebuilt on its expected (Asimov) data: the hook for sigma_A.

    ``asimov_logdensity(point)`` returns the same model's log-density (same
    parameters, same order) on the data it expects at the parameter point
    ``point`` (a (P,) array), auxiliary measurements included. :func:`upper_limit`
    calls it at the background-only point (POI 0, nuisance parameters fitted to
    the observed data) and takes sigma from it (CCGV section 3.2).
    """

    def asimov_logdensity(self, point: np.ndarray) -> LogDensity:
        """The model's log-density on the data expected at ``point``."""
        ...


def profile_level(cl: float) -> float:
    """The t_mu of the one-sided profile-likelihood upper limit at confidence level ``cl``: [Phi^-1(cl)]^2.

    From p_mu = 1 - Phi(sqrt(q_mu)) (CCGV eq. 59) set to 1 - cl.

    >>> round(profile_level(0.95), 4)
    2.7055

    Args:
        cl: the confidence level, in (0.5, 1).

    Returns:
        The threshold of t_mu.

    Raises:
        InvalidInputError: ``cl`` outside (0.5, 1).
    """
    return float(ndtri(_check_cl(cl)) ** 2)


def asymptotic_cls(qtilde: float, mu_over_sigma: float) -> tuple[float, float, float]:
    """CLs, CLs+b = p_{s+b} and CLb = 1 - p_b of an observed q~_mu in the Wald approximation.

    CCGV eq. 65 with mu' = mu (p_{s+b}) and mu' = 0 (1 - p_b); see the module
    docstring. With r = mu/sigma = 0 (no sensitivity), CLs is 1. Tail
    probabilities are computed as logarithms, so that CLs stays exact where
    both are tiny.

    >>> cls, clsb, clb = asymptotic_cls(0.0, 1.0)   # mu_hat = mu: p_{s+b} = 1/2
    >>> round(clsb, 6), round(clb, 6), round(cls, 6)
    (0.5, 0.841345, 0.594287)

    Args:
        qtilde: the observed q~_mu (>= 0).
        mu_over_sigma: r = mu / sigma (>= 0), sigma the standard deviation of mu_hat.

    Returns:
        ``(CLs, CLs+b, CLb)``.

    Raises:
        InvalidInputError: a negative or non-finite argument.
    """
    q, r = float(qtilde), float(mu_over_sigma)
    if not (math.isfinite(q) and q >= 0.0):
        raise InvalidInputError(f"must be a finite number >= 0, got {qtilde!r}", where="qtilde")
    if not (math.isfinite(r) and r >= 0.0):
        raise InvalidInputError(f"must be a finite number >= 0, got {mu_over_sigma!r}", where="mu_over_sigma")
    if r == 0.0:
        tail = float(np.exp(log_ndtr(-math.sqrt(q))))
        return 1.0, tail, tail
    if q <= r * r:
        log_sb, log_b = log_ndtr(-math.sqrt(q)), log_ndtr(r - math.sqrt(q))
    else:
        log_sb, log_b = log_ndtr(-(q + r * r) / (2.0 * r)), log_ndtr(-(q - r * r) / (2.0 * r))
    return float(np.exp(log_sb - log_b)), float(np.exp(log_sb)), float(np.exp(log_b))


# ---------------------------------------------------------------------- results
@dataclass(frozen=True)
class UpperLimit:
    """An upper limit on ``poi`` at confidence level ``cl``, or the reason there is none.

    ``limit`` is None when no value within ``search`` reaches the criterion
    (``reason`` says why: the best fit at or above the top of the range, the
    POI's bound reached first); no number is invented then. ``level`` is the
    criterion met at the limit: CLs = 1 - cl (``method="cls"``) or
    t_mu = [Phi^-1(cl)]^2 (``method="profile"``). ``sigma`` (CLs only) is the
    standard deviation of mu_hat at the limit, from ``sigma_source``
    (``"asimov"`` or ``"wald"``, see the module docstring); ``approximation``
    says the same in words.
    """

    poi: str
    cl: float
    method: str
    limit: float | None
    best: FitResult
    statistic: str
    level: float
    approximation: str
    search: tuple[float, float]
    sigma_source: str | None = None
    sigma: float | None = None
    reason: str = ""
    warnings: tuple[str, ...] = ()
    n_fits: int = 0

    @property
    def poi_hat(self) -> float:
        """Best-fit value of the parameter of interest."""
        return self.best.value(self.poi)

    @property
    def max_logpdf(self) -> float:
        """The global maximum of the log-density."""
        return self.best.logpdf

    @property
    def found(self) -> bool:
        """True when a limit was found within the search range."""
        return self.limit is not None

    def to_json(self) -> dict[str, Any]:
        """A strict-JSON dict (no NaN or infinity: absent numbers and infinite bounds are null)."""
        return {
            "poi": self.poi,
            "cl": self.cl,
            "method": self.method,
            "limit": _finite_or_none(self.limit),
            "poi_hat": self.poi_hat,
            "max_logpdf": self.max_logpdf,
            "statistic": self.statistic,
            "level": self.level,
            "sigma_source": self.sigma_source,
            "sigma": _finite_or_none(self.sigma),
            "approximation": self.approximation,
            "search": [_finite_or_none(v) for v in self.search],
            "reason": self.reason,
            "warnings": list(self.warnings),
            "n_fits": self.n_fits,
            "best": self.best.to_json(),
        }


@dataclass(frozen=True)
class ClsScan:
    """Asymptotic CLs (q~_mu, CCGV) at each of ``values`` of ``poi``; ``sigma = value / mu_over_sigma``.

    A NaN entry (null in JSON) is a value where sigma is undefined: the Wald
    route at mu = mu_hat, where t_mu = 0 says nothing about the width.
    """

    poi: str
    values: tuple[float, ...]
    qtilde: tuple[float, ...]
    mu_over_sigma: tuple[float, ...]
    cls: tuple[float, ...]
    clsb: tuple[float, ...]
    clb: tuple[float, ...]
    poi_hat: float
    sigma_source: str
    approximation: str
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """A strict-JSON dict; ``points`` lists one object per value."""
        keys = ("qtilde", "mu_over_sigma", "cls", "clsb", "clb")
        columns = (self.qtilde, self.mu_over_sigma, self.cls, self.clsb, self.clb)
        points = [
            {self.poi: v, **{k: _finite_or_none(c[i]) for k, c in zip(keys, columns, strict=True)}}
            for i, v in enumerate(self.values)
        ]
        return {
            "poi": self.poi,
            "poi_hat": self.poi_hat,
            "sigma_source": self.sigma_source,
            "approximation": self.approximation,
            "warnings": list(self.warnings),
            "points": points,
        }


# ---------------------------------------------------------------------- public functions
def upper_limit(
    source: LogDensity,
    *,
    poi: str | None = None,
    cl: float = 0.95,
    method: str = "cls",
    sigma: str = "auto",
    asimov: LogDensity | None = None,
    best: FitResult | None = None,
    high: float | None = None,
    step: float | None = None,
    xtol: float = 1e-6,
) -> UpperLimit:
    """The upper limit on ``poi`` at confidence level ``cl``: asymptotic CLs, or the profile likelihood.

    ``method="cls"``: the mu where the asymptotic CLs of q~_mu equals 1 - cl
    (CCGV eqs. 16, 65). ``method="profile"``: the mu above mu_hat where t_mu =
    [Phi^-1(cl)]^2, the one-sided q_mu limit (CCGV eqs. 14, 57, 59; 2.7055 at
    95% CL). The search starts at the best fit (at 0 for CLs when mu_hat < 0),
    steps upwards until the criterion is crossed (each step's size guided by
    the width seen so far), then solves with Brent's method on warm-started
    fits.

    Args:
        source: any log-density (bundle, reference likelihood, combination).
        poi: the parameter (default: the one with role ``"poi"``).
        cl: the confidence level, in (0.5, 1).
        method: ``"cls"`` or ``"profile"``.
        sigma: CLs only: ``"auto"`` (the Asimov route when an Asimov log-density is
            available, else Wald), ``"asimov"`` (required) or ``"wald"`` (forced).
        asimov: CLs only: ``source``'s model on the Asimov data of the background-only
            hypothesis (same parameters); default: built with the source's
            ``asimov_logdensity`` when it has one (:class:`AsimovSource`).
        best: the global maximum, if already known.
        high: the largest POI value searched (default: the POI's upper bound).
        step: the first step above the start (default: a tenth of the POI's range, at most 0.1).
        xtol: absolute tolerance on the limit.

    Returns:
        The :class:`UpperLimit` (``limit`` None, with ``reason``, when none is within the range).

    Raises:
        InvalidInputError: a bad argument; for CLs, a POI whose bounds exclude 0
            (there is no background-only hypothesis) or an Asimov log-density
            over other parameters.
        OptimizationError: a fit did not converge, or the criterion is never met on an unbounded POI.
    """
    if method not in LIMIT_METHODS:
        raise InvalidInputError(f"must be one of {', '.join(LIMIT_METHODS)}, got {method!r}", where="method")
    if sigma not in SIGMA_SOURCES:
        raise InvalidInputError(f"must be one of {', '.join(SIGMA_SOURCES)}, got {sigma!r}", where="sigma")
    cl = _check_cl(cl)
    poi = default_poi(source) if poi is None else poi
    for attempt in range(_MAX_RESTARTS + 1):
        try:
            setup = _Setup(source, poi, method, sigma, asimov, best, high, step)
            return _solve_limit(setup, cl, method, xtol)
        except _BetterMaximum as exc:
            if attempt == _MAX_RESTARTS:
                raise OptimizationError(
                    f"{exc.message} (the global maximum was searched again from such a point "
                    f"{_MAX_RESTARTS} times and still moved)",
                    where="upper_limit",
                ) from None
            best = maximize(source, x0=exc.point)
    raise AssertionError("unreachable")  # pragma: no cover


def cls_scan(
    source: LogDensity,
    values: Sequence[float] | np.ndarray,
    *,
    poi: str | None = None,
    sigma: str = "auto",
    asimov: LogDensity | None = None,
    best: FitResult | None = None,
) -> ClsScan:
    """Asymptotic CLs of q~_mu (CCGV eqs. 16, 65) at each of ``values`` (all > 0) of ``poi``.

    Args:
        source: any log-density.
        values: POI values to test, each > 0 and within the POI's bounds.
        poi: the parameter (default: the one with role ``"poi"``).
        sigma: ``"auto"``, ``"asimov"`` or ``"wald"``, as for :func:`upper_limit`.
        asimov: the Asimov log-density, as for :func:`upper_limit`.
        best: the global maximum, if already known.

    Returns:
        The :class:`ClsScan`, values in the order given.

    Raises:
        InvalidInputError: a bad argument (a value <= 0 or outside the bounds, ...).
        OptimizationError: a fit did not converge, or one with the POI fixed beat the global maximum.
    """
    poi = default_poi(source) if poi is None else poi
    arr = _check_values(values)
    poi_index(poi, tuple(source.parameters), arr)
    if np.any(arr <= 0.0):
        raise InvalidInputError(f"CLs tests mu > 0, got {arr[arr <= 0.0][0]:g}", where="values")
    rows = []
    try:
        setup = _Setup(source, poi, "cls", sigma, asimov, best, None, None)
        for mu in arr:
            q, r = setup.qtilde(float(mu)), setup.ratio(float(mu))
            rows.append((q, r, *(asymptotic_cls(q, r) if math.isfinite(r) else (math.nan,) * 3)))
    except _BetterMaximum as exc:
        raise OptimizationError(exc.message, where="cls_scan") from None
    qt, rr, cls, clsb, clb = (tuple(float(c) for c in col) for col in zip(*rows, strict=True))
    return ClsScan(
        poi=poi,
        values=tuple(map(float, arr)),
        qtilde=qt,
        mu_over_sigma=rr,
        cls=cls,
        clsb=clsb,
        clb=clb,
        poi_hat=setup.poi_hat,
        sigma_source=setup.sigma_source,
        approximation=setup.approximation("cls"),
        warnings=tuple(setup.warnings),
    )


# ---------------------------------------------------------------------- machinery
class _BetterMaximum(Exception):
    """A fit with the POI fixed found more than the global maximum: start again from there."""

    def __init__(self, point: np.ndarray, message: str) -> None:
        super().__init__(message)
        self.point = point
        self.message = message


class _Profiler:
    """Fits of one log-density with the POI fixed, remembered by value and warm-started from the nearest."""

    def __init__(
        self, source: LogDensity, poi: str, best: FitResult, *, name: str = "the log-density", restart: bool = True
    ) -> None:
        self.source, self.poi, self.best, self.name, self.restart = source, poi, best, name, restart
        self.fits: dict[float, FitResult] = {}

    def fit(self, mu: float) -> FitResult:
        if mu not in self.fits:
            nearest = min(self.fits.values(), key=lambda f: abs(f.value(self.poi) - mu), default=self.best)
            if abs(self.best.value(self.poi) - mu) < abs(nearest.value(self.poi) - mu):
                nearest = self.best
            fit = maximize(self.source, fixed={self.poi: mu}, x0=nearest.point)
            if fit.logpdf > self.best.logpdf + 1e-8 * max(1.0, abs(self.best.logpdf)):
                message = (
                    f"the fit of {self.name} with {self.poi} fixed at {mu:.6g} reached "
                    f"{fit.logpdf:.10g}, above its global maximum {self.best.logpdf:.10g}"
                )
                if not self.restart:
                    raise OptimizationError(message, where=self.poi)
                raise _BetterMaximum(fit.point, message)
            self.fits[mu] = fit
        return self.fits[mu]

    def t(self, mu: float) -> float:
        """t_mu = -2 [logL(mu, th^^) - logL(mu_hat, th^)] (>= 0)."""
        return max(0.0, -2.0 * (self.fit(mu).logpdf - self.best.logpdf))


class _Setup:
    """Everything one limit computation shares: checked arguments, the fits, the route to sigma."""

    def __init__(
        self,
        source: LogDensity,
        poi: str,
        method: str,
        sigma: str,
        asimov: LogDensity | None,
        best: FitResult | None,
        high: float | None,
        step: float | None,
    ) -> None:
        params = tuple(source.parameters)
        j = poi_index(poi, params)
        self.poi, self.lower, self.upper = poi, params[j].lower, params[j].upper
        self.high = self.upper if high is None else _check_high(high, self.lower, self.upper)
        self.step = _check_step(step, self.lower, self.upper)
        self.warnings: list[str] = []
        self.observed = _Profiler(source, poi, maximize(source) if best is None else best)
        self.poi_hat = self.observed.best.value(poi)
        self.sigma_source = ""
        self.asimov: _Profiler | None = None
        if method == "cls":
            if not self.lower <= 0.0 < self.upper:
                raise InvalidInputError(
                    f"CLs needs the background-only hypothesis {poi} = 0 inside the bounds of {poi} "
                    f"[{self.lower:g}, {self.upper:g}] (use method='profile')",
                    where="poi",
                )
            self._choose_sigma(source, sigma, asimov)

    # --- sigma
    def _choose_sigma(self, source: LogDensity, sigma: str, asimov: LogDensity | None) -> None:
        if sigma not in SIGMA_SOURCES:
            raise InvalidInputError(f"must be one of {', '.join(SIGMA_SOURCES)}, got {sigma!r}", where="sigma")
        hook = source.asimov_logdensity if isinstance(source, AsimovSource) else None
        if sigma == "wald" or (sigma == "auto" and asimov is None and hook is None):
            self.sigma_source = "wald"
            if self.poi_hat <= self.lower + 1e-9 * max(1.0, abs(self.lower)):
                self.warnings.append(
                    f"the best fit is at the lower bound {self.poi} = {self.lower:g}: t_mu is measured from there, "
                    "so the Wald sigma is too small if the likelihood would peak below it (the limit too strong); "
                    "lower the bound or give an Asimov log-density"
                )
            return
        if asimov is None and hook is None:
            raise InvalidInputError(
                "no Asimov log-density: pass asimov=, or use a source with asimov_logdensity(point)", where="sigma"
            )
        background = self.observed.fit(0.0)  # POI at 0, nuisances fitted to the observed data
        if asimov is None and hook is not None:
            asimov = hook(background.point)
        assert asimov is not None
        if parameter_names(asimov) != parameter_names(source):
            raise InvalidInputError("the Asimov log-density has other parameters than the source", where="asimov")
        asimov_best = maximize(asimov, x0=background.point)
        mu_hat_a = asimov_best.value(self.poi)
        if abs(mu_hat_a) > 1e-3:
            self.warnings.append(
                f"the Asimov log-density peaks at {self.poi} = {mu_hat_a:.4g}, not 0: is it the background-only one?"
            )
        self.asimov = _Profiler(asimov, self.poi, asimov_best, name="the Asimov log-density", restart=False)
        self.sigma_source = "asimov"

    def ratio(self, mu: float) -> float:
        """r = mu / sigma at ``mu`` > 0 (NaN where the Wald route cannot tell: mu = mu_hat)."""
        if self.asimov is not None:
            return math.sqrt(self.asimov.t(mu))  # q~_mu,A = mu^2 / sigma_A^2, the Asimov mu_hat being 0
        t = self.observed.t(mu)
        if t <= 0.0 or mu == self.poi_hat:
            return math.nan
        return mu * math.sqrt(t) / abs(mu - self.poi_hat)  # sigma^2 = (mu - mu_hat)^2 / t_mu

    # --- statistics
    def qtilde(self, mu: float) -> float:
        """q~_mu (CCGV eq. 16)."""
        if self.poi_hat > mu:
            return 0.0
        if self.poi_hat >= 0.0:
            return self.observed.t(mu)
        return max(0.0, -2.0 * (self.observed.fit(mu).logpdf - self.observed.fit(0.0).logpdf))

    def cls(self, mu: float) -> float:
        r = self.ratio(mu)
        if not math.isfinite(r):
            # only at mu == mu_hat, where q~ = 0 and CLs >= 1/2: the root is not there
            return 1.0
        return asymptotic_cls(self.qtilde(mu), r)[0]

    def n_fits(self) -> int:
        n = len(self.observed.fits) + 1
        return n + (len(self.asimov.fits) + 1 if self.asimov is not None else 0)

    def approximation(self, method: str) -> str:
        if method == "profile":
            return "profile likelihood, one-sided q_mu: t_mu = [Phi^-1(CL)]^2 at the limit (CCGV eqs. 14, 57, 59)"
        head = "asymptotic CLs with q~_mu (CCGV eqs. 16, 65); "
        if self.sigma_source == "asimov":
            return head + "sigma from the Asimov data set of the background-only hypothesis, sigma^2 = mu^2 / q~_mu,A"
        return head + (
            "no Asimov (expected) likelihood available: Wald approximation, "
            "sigma^2 = (mu - mu_hat)^2 / t_mu from the observed profile likelihood"
        )


def _solve_limit(setup: _Setup, cl: float, method: str, xtol: float) -> UpperLimit:
    """Bracket the crossing above the start, then Brent; or say why there is no limit."""
    alpha = float(f"{1.0 - cl:.12g}")  # 0.05, not 0.050000000000000044
    hat = setup.poi_hat
    if method == "profile":
        level = profile_level(cl)
        start = hat

        def excess(mu: float) -> float:
            return setup.observed.t(mu) - level

        def guess(mu: float) -> float | None:
            t = setup.observed.t(mu)  # Wald: t = (mu - hat)^2 / sigma^2
            return (mu - hat) * math.sqrt(level / t) if t > 0.0 else None
    else:
        level = alpha
        start = max(hat, 0.0)

        def excess(mu: float) -> float:
            return alpha - setup.cls(mu)  # CLs falls with mu: excess rises through 0 at the limit

        def guess(mu: float) -> float | None:
            r = setup.ratio(mu)
            if not (math.isfinite(r) and r > 0.0):
                return None
            s = mu / r  # the Gaussian closed form (see the tests) with this sigma
            return hat + s * float(ndtri(1.0 - alpha * math.exp(log_ndtr(hat / s)))) - start

    limit, reason = None, ""
    if start >= setup.high:
        reason = f"the best fit {setup.poi} = {hat:.6g} is at or above the top of the search range ({setup.high:g})"
    else:
        limit = _solve_upward(excess, guess, start, setup.high, setup.step, xtol, setup.poi)
        if limit is None:
            reason = (
                f"{'CLs' if method == 'cls' else 't_mu'} does not reach {level:.6g} below "
                f"{setup.poi} = {setup.high:g}, the top of the search range"
                + (" (the parameter's bound)" if setup.high == setup.upper else "")
            )
    if hat < 0.0 and method == "profile":
        setup.warnings.append(
            f"the best fit {setup.poi} = {hat:.4g} is negative: the profile limit is measured from it, so a "
            "downward fluctuation tightens it (the CLs limit, with q~_mu and CLs, is protected from this)"
        )
    sigma = None
    if method == "cls" and limit is not None:
        r = setup.ratio(limit)
        sigma = limit / r if math.isfinite(r) and r > 0.0 else None
    return UpperLimit(
        poi=setup.poi,
        cl=cl,
        method=method,
        limit=limit,
        best=setup.observed.best,
        statistic=_STATISTIC[method],
        level=float(level),
        approximation=setup.approximation(method),
        search=(start, setup.high),
        sigma_source=setup.sigma_source or None,
        sigma=sigma,
        reason=reason,
        warnings=tuple(setup.warnings),
        n_fits=setup.n_fits(),
    )


def _solve_upward(
    excess: Callable[[float], float],
    guess: Callable[[float], float | None],
    start: float,
    stop: float,
    step: float,
    xtol: float,
    poi: str,
) -> float | None:
    """The root of ``excess`` (negative at ``start``, rising) in (start, stop]; None if it stays negative.

    Probes go up from ``start``: first by ``step``, then to 1.15 times the
    distance ``guess`` predicts from the last probe (at least 1.25 times
    further), so that the bracket handed to Brent's method is usually tight.
    """
    inner, distance = start, step
    while True:
        outer = min(start + distance, stop)
        if excess(outer) >= 0.0:
            break
        if outer >= stop:
            return None
        inner = outer
        predicted = guess(outer)
        grow = 1.25 * distance
        distance = max(1.15 * predicted, grow) if predicted is not None and math.isfinite(predicted) else 2 * distance
        if distance > _MAX_DISTANCE * max(1.0, abs(start)):
            raise OptimizationError(f"the limit is not reached {distance:.3g} above the start", where=poi)
    try:
        return float(brentq(excess, inner, outer, xtol=xtol))
    except (RuntimeError, ValueError) as exc:
        raise OptimizationError(f"Brent's method failed between {inner:g} and {outer:g}: {exc}", where=poi) from None


# ---------------------------------------------------------------------- checks
def _check_cl(cl: Any) -> float:
    if isinstance(cl, bool) or not isinstance(cl, (int, float, np.floating)) or not 0.5 < float(cl) < 1.0:
        raise InvalidInputError(f"must be a number between 0.5 and 1 (e.g. 0.95), got {cl!r}", where="cl")
    return float(cl)


def _check_high(high: Any, lower: float, upper: float) -> float:
    try:
        value = float(high)
    except (TypeError, ValueError):
        raise InvalidInputError(f"must be a number, got {high!r}", where="high") from None
    if not (math.isfinite(value) and lower < value <= upper):
        raise InvalidInputError(
            f"must be finite and within the bounds ({lower:g}, {upper:g}], got {high!r}", where="high"
        )
    return value


def _check_step(step: Any, lower: float, upper: float) -> float:
    if step is None:
        width = upper - lower
        return min(0.1, width / 20.0) if math.isfinite(width) else 0.1
    try:
        value = float(step)
    except (TypeError, ValueError):
        raise InvalidInputError(f"must be a number, got {step!r}", where="step") from None
    if not (math.isfinite(value) and value > 0.0):
        raise InvalidInputError(f"must be a positive number, got {step!r}", where="step")
    return value


def _finite_or_none(value: float | None) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None
