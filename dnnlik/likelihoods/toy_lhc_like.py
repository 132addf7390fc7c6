"""The 95-parameter toy "LHC-like new-physics search" (arXiv:1809.05548, arXiv:1911.03305).

90 bins in 3 categories of 30; one signal strength ``mu`` and 94 nuisance
parameters: one MC-statistics nuisance per bin, two shape-and-normalisation
systematics (ISR, JES) and two normalisation-only systematics (LV, CR).
The formula is the one of the DNNLikelihood code (documented in
``/work/shared/data/toy_lhc_like/README.md``), for x = (mu, delta_1..delta_94):

- nominal backgrounds rounded to one decimal, ``N_c`` their per-category sum,
  ``f_I = b_I / N_c`` the nominal within-category fractions;
- shape interpolation, with ``k+``/``k-`` the kappa values of the bin,
  ``p(d) = A(d) k- + B(d) + C(d) k+``: quadratic for ``|d| <= 1``
  (``A = d(d-1)/2``, ``B = 1-d^2``, ``C = d(d+1)/2``), linear beyond, continuing
  value and slope;
- ``n_b,I = N_c prod_X g_cX(d_X) f_I p_I,ISR p_I,JES / sum_{J in c}(f_J p_J,ISR p_J,JES)
  (1 + eps_I)^{d_I}`` with ``g(d) = (1+K+)^d`` (d >= 0) or ``(1+K-)^(-d)`` (d < 0);
- ``log L = sum_I [n_obs,I log n_I - n_I - lgamma(n_obs,I + 1)]``, ``n_I = mu s_I + n_b,I``;
- ``log prior = -0.5 sum_j (d_j^2 + log 2 pi) - log 5`` for ``-1 < mu < 5``, else -inf;
- ``logpdf = log L + log prior``; -inf when any expected count ``n_I <= 0``.

Since ``A + B + C`` is the same for both systematics, ``f_I p_I,ISR p_I,JES``
is a sum of 9 products (coefficients of ISR times those of JES) of fixed bin
vectors: one small matrix product per chunk, and its category sums another.
The gradient is analytic; ``g`` has a kink at ``d = 0`` (its right derivative
is used there).

The formula is written once, in :class:`ToyCategories`: the toy restricted to
some of its categories (their bins, their MC-statistics nuisances, mu and the
four shared systematics). :class:`ToyLHCLike` is all three categories;
:mod:`dnnlik.likelihoods.toy_categories` has each one alone (the three
"analyses" that :func:`dnnlik.combine` puts back together).
"""

from __future__ import annotations

import hashlib
import json
import math
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from .._version import __version__
from ..parameters import Constraint, Parameter
from .base import ReferenceLikelihood

__all__ = ["ToyLHCLike", "ToyCategories", "load_toy_data", "toy_parameters", "DATA_FILE"]

DATA_FILE = "toy_lhc_like.json"
"""Name of the data file inside ``dnnlik/likelihoods/data``."""

N_BINS = 90
N_CATEGORIES = 3
BINS_PER_CATEGORY = 30
NORM_SYSTEMATICS = ("ISR", "JES", "LV", "CR")
CHUNK_ROWS = 1024
"""Rows per chunk: keeps each (rows, 90) float64 temporary (0.7 MiB) within L2."""

_SYSTEMATIC_TEXT = {
    "isr": "theory (initial-state radiation) systematic: shape and normalisation",
    "jes": "experimental (jet energy scale) systematic: shape and normalisation",
    "lv": "lepton-veto efficiency systematic: normalisation per category",
    "cr": "control-region scale-factor systematic: normalisation per category",
}


@lru_cache(maxsize=1)
def _read_data() -> tuple[bytes, str]:
    raw = resources.files(__package__).joinpath("data").joinpath(DATA_FILE).read_bytes()
    return raw, hashlib.sha256(raw).hexdigest()


@lru_cache(maxsize=1)
def load_toy_data() -> dict[str, Any]:
    """The toy's inputs, parsed once from the package data file (do not mutate)."""
    raw, _ = _read_data()
    data = json.loads(raw)
    for key in (
        "observed",
        "background_nominal",
        "signal_nominal",
        "eps_MCstat",
        "kappa_plus_ISR",
        "kappa_minus_ISR",
        "kappa_plus_JES",
        "kappa_minus_JES",
    ):
        if len(data[key]) != N_BINS:
            raise ValueError(f"{DATA_FILE}: '{key}' has {len(data[key])} entries, expected {N_BINS}")
    return data


def toy_parameters() -> tuple[Parameter, ...]:
    """mu, mcstat_0..mcstat_89 (bin order), isr, jes, lv, cr."""
    normal = Constraint(type="normal", mean=0.0, sigma=1.0)
    params = [
        Parameter(
            name="mu",
            role="poi",
            bounds=(-1.0, 5.0),
            nominal=0.0,
            constraint=Constraint(type="uniform"),
            unit="",
            description="signal strength: signal yield over the nominal signal "
            "(flat prior over its closed bounds, -1 <= mu <= 5)",
        )
    ]
    for i in range(N_BINS):
        cat, j = divmod(i, BINS_PER_CATEGORY)
        params.append(
            Parameter(
                name=f"mcstat_{i}",
                role="nuisance",
                bounds=(-5.0, 5.0),
                nominal=0.0,
                constraint=normal,
                unit="",
                description=f"MC-statistics nuisance of bin {i} (category {cat + 1}, bin {j + 1}), "
                "in units of its standard deviation",
            )
        )
    for key, text in _SYSTEMATIC_TEXT.items():
        params.append(
            Parameter(
                name=key,
                role="nuisance",
                bounds=(-5.0, 5.0),
                nominal=0.0,
                constraint=normal,
                unit="",
                description=f"{text}, in units of its standard deviation",
            )
        )
    return tuple(params)


def _round_one_decimal(values: list[float]) -> np.ndarray:
    # As the DNNLikelihood code: float("{:.1f}".format(x)), e.g. 20.81 -> 20.8.
    return np.array([float(f"{v:.1f}") for v in values], dtype=np.float64)


def _interp_coefficients(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, 3) coefficients (A, B, C) of (k-, 1, k+) in p(d), and their derivatives."""
    d2 = d * d
    coef = np.empty((d.shape[0], 3))
    dcoef = np.empty((d.shape[0], 3))
    coef[:, 0] = 0.5 * (d2 - d)
    coef[:, 1] = 1.0 - d2
    coef[:, 2] = 0.5 * (d2 + d)
    dcoef[:, 0] = d - 0.5
    dcoef[:, 1] = -2.0 * d
    dcoef[:, 2] = d + 0.5
    high = d > 1.0
    if high.any():
        dh = d[high]
        coef[high] = np.stack([0.5 * dh - 0.5, 2.0 - 2.0 * dh, 1.5 * dh - 0.5], axis=1)
        dcoef[high] = (0.5, -2.0, 1.5)
    low = d < -1.0
    if low.any():
        dl = d[low]
        coef[low] = np.stack([-1.5 * dl - 0.5, 2.0 * dl + 2.0, -0.5 * dl - 0.5], axis=1)
        dcoef[low] = (-1.5, 2.0, -0.5)
    return coef, dcoef


def _outer9(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise outer product of two (n, 3) arrays, flattened to (n, 9)."""
    return (a[:, :, None] * b[:, None, :]).reshape(a.shape[0], 9)


class ToyCategories(ReferenceLikelihood):
    """The toy restricted to some of its categories: the formula of the module docstring on their bins.

    Parameters, in this order: mu, the MC-statistics nuisances of the chosen
    categories' bins (bin order), isr, jes, lv, cr. The log-density includes the
    constraint terms of all of them (N(0, 1) for the nuisances) and the flat
    prior of mu, ``-log 5`` as in the DNNLikelihood code. With all three
    categories it is :class:`ToyLHCLike`, operation for operation.

    Args:
        categories: 0-based category indices, increasing (0: bins 0-29, 1: 30-59, 2: 60-89).
    """

    #: What ``logpdf`` means, as a bundle's ``output`` section says it (spec 3.4): log L with
    #: every constraint term of the parameters included (mu's ``uniform`` is its flat prior,
    #: written ``-log 5`` as in the DNNLikelihood code; the normalised term over [-1, 5] is
    #: ``-log 6``, a constant apart), no offset. :func:`dnnlik.combine` reads it.
    output: dict[str, Any] = {"quantity": "log-likelihood", "includes_constraints": True, "offset": 0.0}

    def __init__(self, categories: tuple[int, ...] = tuple(range(N_CATEGORIES))) -> None:
        cats = tuple(int(c) for c in categories)
        if not cats or list(cats) != sorted(set(cats)) or not all(0 <= c < N_CATEGORIES for c in cats):
            raise ValueError(f"categories must be increasing indices in 0..{N_CATEGORIES - 1}, got {categories!r}")
        data = load_toy_data()
        self._categories = cats
        bins = np.concatenate([np.arange(c * BINS_PER_CATEGORY, (c + 1) * BINS_PER_CATEGORY) for c in cats])
        all_params = toy_parameters()
        self.parameters = (all_params[0], *(all_params[1 + i] for i in bins), *all_params[1 + N_BINS :])
        self._data_sha256 = _read_data()[1]
        self._source = dict(data.get("_source", {}))
        self._n_bins = n_bins = bins.size
        self._n_cat = n_cat = len(cats)

        def column(key: str) -> np.ndarray:
            return np.array(data[key], dtype=np.float64)[bins]

        obs = column("observed")
        background = _round_one_decimal(data["background_nominal"])[bins]
        norm = background.reshape(n_cat, BINS_PER_CATEGORY).sum(axis=1)
        fraction = background / np.repeat(norm, BINS_PER_CATEGORY)
        km_i, kp_i = column("kappa_minus_ISR"), column("kappa_plus_ISR")
        km_j, kp_j = column("kappa_minus_JES"), column("kappa_plus_JES")
        ones = np.ones(n_bins)
        # Row 3*a + b: f * (k-, 1, k+)_ISR[a] * (k-, 1, k+)_JES[b]
        basis = np.array([fraction * u * v for u in (km_i, ones, kp_i) for v in (km_j, ones, kp_j)])

        self._obs = obs
        self._signal = column("signal_nominal")
        self._norm = norm
        self._basis = basis  # (9, bins)
        self._basis_t = np.ascontiguousarray(basis.T)  # (bins, 9)
        self._basis_cat = basis.reshape(9, n_cat, BINS_PER_CATEGORY).sum(axis=2)  # (9, categories)
        self._log_mc = np.log1p(column("eps_MCstat"))
        per_cat = list(cats)
        log_kp = np.log1p(np.array([data[f"K_plus_{x}"] for x in NORM_SYSTEMATICS], dtype=np.float64))
        neg_log_km = -np.log1p(np.array([data[f"K_minus_{x}"] for x in NORM_SYSTEMATICS], dtype=np.float64))
        self._log_kp = np.ascontiguousarray(log_kp[:, per_cat])  # (4, categories)
        self._neg_log_km = np.ascontiguousarray(neg_log_km[:, per_cat])
        n_nuis = len(self.parameters) - 1
        self._const = (
            -float(sum(math.lgamma(o + 1.0) for o in obs)) - 0.5 * n_nuis * math.log(2.0 * math.pi) - math.log(5.0)
        )

    # ------------------------------------------------------------------ interface
    @property
    def exact_gradient(self) -> bool:
        return True

    @property
    def categories(self) -> tuple[int, ...]:
        """The 0-based indices of the categories this likelihood covers."""
        return self._categories

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "name": self.name,
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "version": f"sha256:{self._data_sha256}",
            "data_file": f"dnnlik/likelihoods/data/{DATA_FILE}",
            "data_source": self._source,
            "references": ["arXiv:1809.05548", "arXiv:1911.03305"],
            "formula": "DNNLikelihood/DNNLikelihood Source/toy_likelihood.py (logprob = logL + logprior)",
            "dnnlik_version": __version__,
            "n_parameters": len(self.parameters),
        }
        if self._n_cat < N_CATEGORIES:  # the full toy's description stays as it was
            info["categories"] = [c + 1 for c in self._categories]
            info["bins"] = [[c * BINS_PER_CATEGORY, (c + 1) * BINS_PER_CATEGORY - 1] for c in self._categories]
        return info

    def _logpdf(self, points: np.ndarray) -> np.ndarray:
        out = np.empty(points.shape[0])
        for start in range(0, points.shape[0], CHUNK_ROWS):
            stop = start + CHUNK_ROWS
            out[start:stop] = self._chunk(points[start:stop], want_grad=False)[0]
        return out

    def _grad_logpdf(self, points: np.ndarray) -> np.ndarray:
        return self._logpdf_and_grad(points)[1]

    def _logpdf_and_grad(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        value = np.empty(points.shape[0])
        grad = np.empty(points.shape)
        for start in range(0, points.shape[0], CHUNK_ROWS):
            stop = start + CHUNK_ROWS
            value[start:stop], grad[start:stop] = self._chunk(points[start:stop], want_grad=True)
        return value, grad

    # ------------------------------------------------------------------ the formula
    def _chunk(self, x: np.ndarray, *, want_grad: bool) -> tuple[np.ndarray, np.ndarray | None]:
        n = x.shape[0]
        n_bins, n_cat = self._n_bins, self._n_cat
        mu = x[:, 0]
        d_mc = x[:, 1 : 1 + n_bins]
        d_sys = x[:, 1 + n_bins :]  # (n, 4): ISR, JES, LV, CR
        coef_i, dcoef_i = _interp_coefficients(d_sys[:, 0])
        coef_j, dcoef_j = _interp_coefficients(d_sys[:, 1])
        c9 = _outer9(coef_i, coef_j)
        shape = c9 @ self._basis  # (n, bins): f_I p_I,ISR p_I,JES
        cat_sum = c9 @ self._basis_cat  # (n, categories)
        slope = np.where(d_sys[:, :, None] >= 0.0, self._log_kp, self._neg_log_km)  # (n, 4, categories)
        log_g = np.einsum("nx,nxc->nc", d_sys, slope)

        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            factor = np.exp(log_g)
            factor *= self._norm
            factor /= cat_sum  # N_c G_c / S_c
            mc = d_mc * self._log_mc
            np.exp(mc, out=mc)  # (1 + eps)^delta
            nb = shape * mc
            nb.reshape(n, n_cat, BINS_PER_CATEGORY)[...] *= factor[:, :, None]
            expected = np.multiply.outer(mu, self._signal)
            expected += nb
            ok = expected.min(axis=1) > 0.0
            ok &= (mu >= -1.0) & (mu <= 5.0)  # the flat prior over its closed bounds
            log_n = np.log(expected)
            value = log_n @ self._obs
            value -= expected.sum(axis=1)
            value -= 0.5 * np.einsum("ij,ij->i", x[:, 1:], x[:, 1:])
            value += self._const
            ok &= np.isfinite(value)
        value[~ok] = -np.inf
        if not want_grad:
            return value, None

        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            w = self._obs / expected
            w -= 1.0  # d logL / d n_I
            grad = np.empty_like(x)
            grad[:, 0] = w @ self._signal
            wnb = w * nb
            grad[:, 1 : 1 + n_bins] = wnb * self._log_mc
            w_cat = wnb.reshape(n, n_cat, BINS_PER_CATEGORY).sum(axis=2)  # (n, 3)
            g_sys = np.einsum("nc,nxc->nx", w_cat, slope)
            # shape part of ISR/JES: sum_I w_I (N_c G_c / S_c) m_I dh_I - W_c dS_c / S_c
            q = w * mc
            q.reshape(n, n_cat, BINS_PER_CATEGORY)[...] *= factor[:, :, None]
            qb = q @ self._basis_t  # (n, 9)
            ratio = w_cat / cat_sum
            for k, dc9 in ((0, _outer9(dcoef_i, coef_j)), (1, _outer9(coef_i, dcoef_j))):
                g_sys[:, k] += np.einsum("ij,ij->i", dc9, qb)
                g_sys[:, k] -= np.einsum("ij,ij->i", dc9 @ self._basis_cat, ratio)
            grad[:, 1 + n_bins :] = g_sys
            grad[:, 1:] -= x[:, 1:]  # N(0, 1) constraint terms
        grad[~ok] = np.nan
        return value, grad


class ToyLHCLike(ToyCategories):
    """The toy LHC-like search likelihood with its priors (95 parameters): all three categories."""

    name = "toy-lhc-like"

    def __init__(self) -> None:
        super().__init__(tuple(range(N_CATEGORIES)))
