"""The quadratic baseline and the scalings the network is trained in.

With ``target='residual'`` the network learns ``log L(x) - baseline(x)``,
where ``baseline(x) = value_at_center + 0.5 (x - c)^T H (x - c)`` is the
Laplace approximation at the maximum. It comes from

- the reference likelihood (``baseline='likelihood'``): the maximum from
  :func:`dnnlik.infer.maximize` (or the one the sampling run recorded) and the
  Hessian from central differences of its exact gradient
  (:func:`dnnlik.sample.laplace.hessian`);
- the samples (``baseline='fit'``): a least-squares quadratic fit of the
  training points (in standardized coordinates) when there are few enough
  parameters, otherwise the inverse sample covariance with a fitted scale.
  A fitted Hessian has its eigenvalues capped below zero, so the baseline is
  concave and has a centre.

The baseline and the scalings become numbers in the ONNX graph and in
``bundle.json`` (``model.transform``). Needs numpy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..density import LogDensity
from ..errors import DnnlikError, InvalidInputError
from ..graph import QuadraticBaseline
from .config import TrainConfig
from .data import TrainingData

__all__ = [
    "Preprocessing",
    "baseline_values",
    "baseline_from_likelihood",
    "fit_quadratic",
    "resolve_likelihood",
    "prepare",
    "MAX_FULL_FIT_FEATURES",
]

MAX_FULL_FIT_FEATURES = 1400
"""Largest number of quadratic features (1 + P + P(P+1)/2; P <= 51) fitted by full least squares."""
_CONCAVITY_FLOOR = 1e-3
"""Fitted Hessian eigenvalues are capped at -_CONCAVITY_FLOOR times the largest magnitude."""


@dataclass(frozen=True, eq=False)
class Preprocessing:
    """How raw points and log-likelihoods map to the network's inputs and targets.

    ``net_input = (x - input_shift) / input_scale`` and
    ``net_target = (logpdf - baseline(x) - output_shift) / output_scale``.

    Attributes:
        input_shift: subtracted from each coordinate, (P,).
        input_scale: then divided into each coordinate, (P,).
        output_shift: subtracted from the residual ``logpdf - baseline(x)``.
        output_scale: then divided into it.
        baseline: the quadratic baseline; None with ``target='logpdf'``.
        target: ``"residual"`` or ``"logpdf"`` (:data:`~dnnlik.train.config.TARGETS`).
        baseline_info: how the baseline was made (``source``, ``method``, ...), for ``bundle.json``.
    """

    input_shift: np.ndarray
    input_scale: np.ndarray
    output_shift: float
    output_scale: float
    baseline: QuadraticBaseline | None
    target: str
    baseline_info: dict[str, Any] = field(default_factory=dict)

    def inputs(self, x: np.ndarray) -> np.ndarray:
        """The network's float32 inputs for the (N, P) points ``x``."""
        return ((np.asarray(x, dtype=np.float64) - self.input_shift) / self.input_scale).astype(np.float32)

    def targets(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The network's float32 targets for the (N, P) points ``x`` with log-likelihoods ``y``, (N,)."""
        r = np.asarray(y, dtype=np.float64) - baseline_values(self.baseline, x)
        return ((r - self.output_shift) / self.output_scale).astype(np.float32)

    def logpdf_from_net(self, x: np.ndarray, net: np.ndarray) -> np.ndarray:
        """Invert :meth:`targets`: log-likelihoods from network outputs (float64)."""
        net = np.asarray(net, dtype=np.float64).reshape(-1)
        return self.output_scale * net + self.output_shift + baseline_values(self.baseline, x)

    def graph_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :class:`dnnlik.graph.NetworkSpec` for these scalings and baseline."""
        return {
            "input_shift": self.input_shift,
            "input_scale": self.input_scale,
            "output_shift": self.output_shift,
            "output_scale": self.output_scale,
            "baseline": self.baseline,
        }

    def transform_json(self) -> dict[str, Any]:
        """``model.transform`` of ``bundle.json``.

        Returns:
            The shifts and scales, and ``baseline``: ``{"type": "none"}`` or the
            quadratic's ``center``, ``value_at_center`` and (symmetrised) ``hessian``.
        """
        out: dict[str, Any] = {
            "input_shift": [float(v) for v in self.input_shift],
            "input_scale": [float(v) for v in self.input_scale],
            "output_shift": float(self.output_shift),
            "output_scale": float(self.output_scale),
        }
        if self.baseline is None:
            out["baseline"] = {"type": "none"}
        else:
            b = self.baseline
            out["baseline"] = {
                "type": "quadratic",
                "center": [float(v) for v in b.center],
                "value_at_center": float(b.value_at_center),
                "hessian": [[float(v) for v in row] for row in _symmetric(np.asarray(b.hessian))],
            }
        return out


def _symmetric(h: np.ndarray) -> np.ndarray:
    h = np.asarray(h, dtype=np.float64)
    return 0.5 * (h + h.T)


def baseline_values(baseline: QuadraticBaseline | None, x: np.ndarray) -> np.ndarray:
    """``baseline(x)`` at the rows of ``x`` (zeros when there is no baseline).

    Args:
        baseline: the quadratic, or None.
        x: the points, (N, P) (one (P,) point counts as N = 1).

    Returns:
        ``value_at_center + 0.5 (x - center)^T H (x - center)`` per row, (N,).
    """
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    if baseline is None:
        return np.zeros(x.shape[0])
    dx = x - np.asarray(baseline.center, dtype=np.float64)
    return float(baseline.value_at_center) + 0.5 * np.einsum("ij,ij->i", dx @ np.asarray(baseline.hessian), dx)


# ------------------------------------------------------------------ from a likelihood


def _names(names: Any) -> str:
    names = list(names)
    return str(names) if len(names) <= 6 else f"{names[:5]} ... ({len(names)} in all)"


def resolve_likelihood(data: TrainingData) -> Any | None:
    """The registered reference likelihood the samples came from, when its name is known and it matches.

    Args:
        data: the training data; ``data.source["name"]`` names the likelihood.

    Returns:
        The likelihood from :func:`dnnlik.likelihoods.get`, or None when the name
        is absent or not registered, or its parameters differ from the samples'.
    """
    from .. import likelihoods

    name = data.source.get("name") if isinstance(data.source, dict) else None
    if not isinstance(name, str) or name not in likelihoods.available():
        return None
    lik = likelihoods.get(name)
    if tuple(p.name for p in lik.parameters) != tuple(p.name for p in data.parameters):
        return None
    return lik


def baseline_from_likelihood(likelihood: LogDensity, data: TrainingData) -> tuple[QuadraticBaseline, dict[str, Any]]:
    """Laplace approximation of ``likelihood`` at its maximum.

    The maximum is found here with :func:`dnnlik.infer.maximize`, starting from
    the maximum the sampling run recorded (else the best training point); the
    Hessian comes from central differences of the gradient there.

    Args:
        likelihood: the reference likelihood, with the samples' parameters in the same order.
        data: the training data.

    Returns:
        The baseline and how it was made (for ``model.transform``'s record).

    Raises:
        InvalidInputError: the parameters differ from the samples', the likelihood
            has no gradient, or its gradient is not finite next to the maximum.
        OptimizationError: the maximum was not found.
        DnnlikError: the Hessian at the maximum is not finite.
    """
    from ..infer import maximize
    from ..sample.laplace import hessian

    names = tuple(p.name for p in likelihood.parameters)
    if names != tuple(p.name for p in data.parameters):
        theirs = [p.name for p in data.parameters]
        raise InvalidInputError(
            f"its parameters {_names(names)} differ from the samples' parameters {_names(theirs)}", where="likelihood"
        )
    start, _ = data.best_point()
    fit = maximize(likelihood, x0=start)
    center = fit.point
    value = float(fit.logpdf)
    h = hessian(likelihood, center)
    if not np.all(np.isfinite(h)):
        raise DnnlikError("the Hessian at the maximum is not finite", where="baseline")
    info = {
        "source": "likelihood",
        "method": "Laplace approximation: maximum by L-BFGS-B, Hessian by central differences of the exact gradient",
        "likelihood": getattr(likelihood, "name", ""),
        "max_eigenvalue": float(np.linalg.eigvalsh(h).max()),
    }
    return QuadraticBaseline(center=center, hessian=_symmetric(h), value_at_center=value), info


# ------------------------------------------------------------------ fitted from samples


def _quadratic_features(u: np.ndarray) -> np.ndarray:
    n, p = u.shape
    iu, ju = np.triu_indices(p)
    return np.concatenate([np.ones((n, 1)), u, u[:, iu] * u[:, ju]], axis=1)


def fit_quadratic(x: np.ndarray, y: np.ndarray, *, seed: int = 0) -> tuple[QuadraticBaseline, dict[str, Any]]:
    """A concave quadratic fitted to ``(x, y)`` by least squares (see the module docstring).

    Args:
        x: the points, (N, P).
        y: their log-likelihoods, (N,).
        seed: picks the rows of a full fit when there are more than needed.

    Returns:
        The baseline and how it was made (``method``, ``n_points``, ``capped_eigenvalues``).

    Raises:
        DnnlikError: the fitted curvature is zero or not finite.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n, p = x.shape
    mu = x.mean(axis=0)
    s = x.std(axis=0)
    s[s == 0] = 1.0
    u = (x - mu) / s
    n_features = 1 + p + p * (p + 1) // 2
    rng = np.random.default_rng(seed)
    if n_features <= MAX_FULL_FIT_FEATURES and n >= 3 * n_features:
        keep = min(n, max(5 * n_features, 20000))
        rows = rng.choice(n, size=keep, replace=False) if keep < n else np.arange(n)
        coef, *_ = np.linalg.lstsq(_quadratic_features(u[rows]), y[rows], rcond=None)
        iu, ju = np.triu_indices(p)
        a_mat = np.zeros((p, p))
        a_mat[iu, ju] = coef[1 + p :]
        a_mat = a_mat + a_mat.T  # off-diagonal c_ij u_i u_j -> A_ij = A_ji = c_ij; diagonal -> 2 c_ii
        method = "least-squares quadratic fit"
    else:
        best = np.argsort(y)[-max(2 * p + 2, n // 2) :]
        cov = np.cov(u[best], rowvar=False).reshape(p, p)
        a_mat = -np.linalg.pinv(cov)
        method = "inverse sample covariance with a fitted scale"
    a_mat = _symmetric(a_mat)
    vals, vecs = np.linalg.eigh(a_mat)
    top = float(np.max(np.abs(vals))) if vals.size else 1.0
    if not math.isfinite(top) or top == 0.0:
        raise DnnlikError(
            "the log-likelihood has no curvature in the samples: cannot fit a quadratic baseline", where="baseline"
        )
    capped = int(np.count_nonzero(vals > -_CONCAVITY_FLOOR * top))
    vals = np.minimum(vals, -_CONCAVITY_FLOOR * top)
    a_mat = _symmetric((vecs * vals) @ vecs.T)
    # with the curvature fixed, refit the constant, the linear terms and an overall scale
    quad = 0.5 * np.einsum("ij,ij->i", u @ a_mat, u)
    design = np.concatenate([np.ones((n, 1)), u, quad[:, None]], axis=1)
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    c0, b, scale = float(coef[0]), coef[1 : 1 + p], float(coef[-1])
    if not math.isfinite(scale) or scale <= 0:
        scale = 1.0
        coef2, *_ = np.linalg.lstsq(design[:, :-1], y - quad, rcond=None)
        c0, b = float(coef2[0]), coef2[1:]
    a_mat = scale * a_mat
    u_star = -np.linalg.solve(a_mat, b)
    value = c0 - 0.5 * float(b @ np.linalg.solve(a_mat, b))
    center = mu + s * u_star
    h = a_mat / np.outer(s, s)
    info = {"source": "fit", "method": method, "n_points": int(n), "capped_eigenvalues": capped}
    return QuadraticBaseline(center=center, hessian=_symmetric(h), value_at_center=value), info


# ------------------------------------------------------------------ putting it together


def prepare(data: TrainingData, config: TrainConfig, likelihood: LogDensity | None = None) -> Preprocessing:
    """The scalings (and baseline) for ``data`` under ``config``: a pure function of its arguments.

    With ``config.target='residual'`` the baseline comes from the likelihood
    when ``config.baseline`` is ``likelihood``, or ``auto`` and the likelihood has
    an exact gradient; otherwise (``fit``, or ``auto`` without an exact gradient)
    it is fitted to the training points. The likelihood is ``likelihood``, else
    the one :func:`resolve_likelihood` finds.

    Args:
        data: the training data.
        config: the recipe (``standardize_inputs``, ``target``, ``baseline``, ``seed``).
        likelihood: the reference likelihood, when not the registered one named by the samples.

    Returns:
        The scalings, the baseline and how it was made.

    Raises:
        InvalidInputError: ``config.baseline='likelihood'`` and no likelihood is
            given or registered with the samples' parameters; or as
            :func:`baseline_from_likelihood`.
        OptimizationError: as :func:`baseline_from_likelihood`.
        DnnlikError: the baseline's Hessian or curvature is unusable.
    """
    x, y = data.x_train, data.y_train
    if config.standardize_inputs:
        shift = x.mean(axis=0)
        scale = x.std(axis=0)
        scale[~(scale > 0)] = 1.0
    else:
        shift = np.zeros(data.n_parameters)
        scale = np.ones(data.n_parameters)
    baseline = None
    info: dict[str, Any] = {"source": "none"}
    if config.target == "residual":
        lik = likelihood
        if lik is None and config.baseline in ("auto", "likelihood"):
            lik = resolve_likelihood(data)
        if config.baseline == "likelihood" and lik is None:
            raise InvalidInputError(
                f"baseline='likelihood' needs the reference likelihood, but {data.source.get('name')!r} "
                "is not a registered one with the same parameters; use baseline='fit'",
                where=data.where,
            )
        use_likelihood = config.baseline == "likelihood" or (
            config.baseline == "auto" and bool(getattr(lik, "exact_gradient", False))
        )
        if lik is not None and use_likelihood:
            baseline, info = baseline_from_likelihood(lik, data)
        else:
            baseline, info = fit_quadratic(x, y, seed=config.seed)
    residual = y - baseline_values(baseline, x)
    out_shift = float(residual.mean())
    out_scale = float(residual.std())
    if not (math.isfinite(out_scale) and out_scale > 0):
        out_scale = 1.0
    return Preprocessing(
        input_shift=shift,
        input_scale=scale,
        output_shift=out_shift,
        output_scale=out_scale,
        baseline=baseline,
        target=config.target,
        baseline_info=info,
    )
