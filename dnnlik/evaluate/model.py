"""The :class:`Bundle`: a validated bundle, ready to evaluate.

Get one from :func:`dnnlik.load`. For a likelihood bundle::

    b = dnnlik.load("zoo/toy-lhc-like")
    b.logpdf({"mu": [0.0, 0.5, 1.0]})      # other parameters at nominal
    b.grad_logpdf(points)                  # exact, from the model's gradient output
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..errors import BundleError, NoGradientError
from ..parameters import Parameter, parameters_from_json
from ..points import as_points, check_bounds, outside_bounds
from .session import DEFAULT_CHUNK, NUMPY_DTYPES, run_chunked

__all__ = ["Bundle"]


class Bundle:
    """A loaded, validated bundle. Build it with :func:`dnnlik.load`, not directly."""

    def __init__(self, path: str | Path, document: dict[str, Any], session: Any, *, chunk_size: int = DEFAULT_CHUNK) -> None:
        self.path = Path(path)
        self.document = document
        self.session = session
        self.chunk_size = chunk_size
        self.parameters: tuple[Parameter, ...] = parameters_from_json(document["parameters"])
        model = document["model"]
        self._inputs = model["inputs"]
        self._outputs = {t["role"]: t for t in model["outputs"]}

    # identity -----------------------------------------------------------
    @property
    def name(self) -> str:
        return self.document["name"]

    @property
    def version(self) -> str:
        return self.document["version"]

    @property
    def kind(self) -> str:
        return self.document["kind"]

    @property
    def parameter_names(self) -> list[str]:
        return [p.name for p in self.parameters]

    @property
    def has_gradient(self) -> bool:
        return "grad_logpdf" in self._outputs

    @property
    def is_ensemble(self) -> bool:
        return "logpdf_spread" in self._outputs

    @property
    def nominal(self) -> np.ndarray:
        return np.array([p.nominal for p in self.parameters])

    def __repr__(self) -> str:
        return f"<Bundle {self.name} {self.version} ({self.kind}, {len(self.parameters)} parameters) at {self.path}>"

    # evaluation -----------------------------------------------------------
    def _likelihood_only(self, what: str) -> None:
        if self.kind != "likelihood":
            raise BundleError(f"{what} needs a 'likelihood' bundle; this one is a {self.kind!r} (use Bundle.run)", where=self.name)

    def _evaluate(self, x: Any, roles: list[str], strict: bool) -> tuple[list[np.ndarray], np.ndarray, bool]:
        self._likelihood_only("logpdf")
        points, single = as_points(x, self.parameters)
        if strict:
            check_bounds(points, self.parameters)
        outside = outside_bounds(points, self.parameters)
        inside = points if not outside.any() else points[~outside]
        inp = self._inputs[0]
        outs = run_chunked(
            self.session,
            inp["name"],
            inside,
            [self._outputs[r]["name"] for r in roles],
            dtype=NUMPY_DTYPES[inp["dtype"]],
            chunk_size=self.chunk_size,
        )
        return outs, outside, single

    def logpdf(self, x: Any, *, strict: bool = False) -> np.ndarray:
        """The model's log-likelihood (see ``document['output']`` for its exact meaning).

        ``x``: an (N, P) array, one point of length P, or a mapping of
        parameter names to values or arrays (missing ones at nominal).
        Points outside the allowed bounds give -inf, or raise
        :class:`~dnnlik.errors.OutOfBoundsError` with ``strict=True``.
        Returns float64, of shape (N,), or a scalar for a single point.
        """
        (values,), outside, single = self._evaluate(x, ["logpdf"], strict)
        values = values.reshape(-1)
        if outside.any():
            full = np.full(outside.shape, -np.inf)
            full[~outside] = values
            values = full
        return values[0] if single else values

    def grad_logpdf(self, x: Any, *, strict: bool = False) -> np.ndarray:
        """Exact gradient of :meth:`logpdf` with respect to the parameters: (N, P), or (P,) for one point.

        Points outside the bounds give NaN rows (no gradient exists there), or
        raise with ``strict=True``. A model without a gradient output raises
        :class:`~dnnlik.errors.NoGradientError`.
        """
        if self.kind == "likelihood" and not self.has_gradient:
            raise NoGradientError(
                "this bundle's model has no 'grad_logpdf' output, so exact gradients are unavailable "
                "(use a derivative-free method, or re-export the model with its gradient)",
                where=self.name,
            )
        (grads,), outside, single = self._evaluate(x, ["grad_logpdf"], strict)
        if outside.any():
            full = np.full((outside.shape[0], len(self.parameters)), np.nan)
            full[~outside] = grads
            grads = full
        return grads[0] if single else grads

    def logpdf_and_grad(self, x: Any, *, strict: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`logpdf` and :meth:`grad_logpdf` from one model run."""
        if not self.has_gradient:
            self.grad_logpdf(x)  # raises NoGradientError with its message
        (values, grads), outside, single = self._evaluate(x, ["logpdf", "grad_logpdf"], strict)
        values = values.reshape(-1)
        if outside.any():
            v = np.full(outside.shape, -np.inf)
            g = np.full((outside.shape[0], len(self.parameters)), np.nan)
            v[~outside], g[~outside] = values, grads
            values, grads = v, g
        return (values[0], grads[0]) if single else (values, grads)

    def logpdf_spread(self, x: Any, *, strict: bool = False) -> np.ndarray:
        """For an ensemble: the members' spread (standard deviation) of the log-likelihood."""
        if not self.is_ensemble:
            raise BundleError("this bundle's model is not an ensemble: it has no 'logpdf_spread' output", where=self.name)
        (spread,), outside, single = self._evaluate(x, ["logpdf_spread"], strict)
        spread = spread.reshape(-1)
        if outside.any():
            full = np.full(outside.shape, np.nan)
            full[~outside] = spread
            spread = full
        return spread[0] if single else spread

    def run(self, inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Run the ONNX model on raw inputs (by input name); returns every output by name."""
        names = [o.name for o in self.session.get_outputs()]
        feeds = {t["name"]: np.asarray(inputs[t["name"]], dtype=NUMPY_DTYPES[t["dtype"]]) for t in self._inputs}
        return dict(zip(names, self.session.run(names, feeds)))

    def summary(self) -> str:
        """A readable multi-line summary (what ``dnnlik info`` prints)."""
        from .describe import describe

        return describe(self)
