"""The :class:`Bundle`: a loaded, validated bundle, ready to evaluate.

Get one from :func:`dnnlik.load` (or :func:`dnnlik.evaluate.load_local` for a
local path). A likelihood bundle is a :class:`~dnnlik.density.LogDensity`,
like the reference likelihoods: ``infer``, ``sample``, ``fidelity`` and
``train`` take either. For a likelihood bundle::

    b = dnnlik.load("zoo/toy-lhc-like")
    b.logpdf({"mu": [0.0, 0.5, 1.0]})      # other parameters at nominal
    b.grad_logpdf(points)                  # exact, from the model's gradient output

Every evaluation checks what the model returns, cheaply (one reduction per output):
one row per point (an output of the wrong length, e.g. shape [1] for any batch, raises
:class:`~dnnlik.errors.BundleError` instead of being broadcast), and values a
log-likelihood can take at a point inside the bounds: ``logpdf`` may be -inf, never
NaN or +inf; the gradient and the spread must be finite wherever ``logpdf`` is not -inf.
Validation (the ``behaviour`` stage, :mod:`dnnlik.evaluate.behaviour`) tries the same
rules at points across the bounds before a bundle is ever loaded; these run-time checks
catch a model that breaks them elsewhere.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from ..errors import BundleError, InvalidInputError, NoGradientError
from ..parameters import Parameter, parameters_from_json
from ..points import as_points, check_bounds, outside_bounds
from ..report import one_line
from .session import DEFAULT_CHUNK, NUMPY_DTYPES, SessionPool, run_chunked

__all__ = ["Bundle"]

_ROLE_CHECKED = ("logpdf", "grad_logpdf", "logpdf_spread")


class _CheckedSession:
    """A session whose every run must give each output one row per input row.

    ``run_chunked`` stacks chunk outputs into preallocated arrays, where numpy would
    broadcast a one-row output over the whole chunk: the check has to be made run by
    run, so the Bundle hands ``run_chunked`` this wrapper instead of the session. A
    failing run (onnxruntime's own exception) becomes a :class:`BundleError`.
    """

    __slots__ = ("session", "row_sizes", "where")

    def __init__(self, session: Any, row_sizes: Mapping[str, int], where: str) -> None:
        self.session = session
        self.row_sizes = row_sizes
        self.where = where

    def run(self, names: list[str], feeds: dict[str, np.ndarray]) -> list[Any]:
        (batch,) = feeds.values()
        n = batch.shape[0]
        try:
            outs = self.session.run(names, feeds)
        except Exception as exc:  # onnxruntime's own exception classes
            raise BundleError(
                f"the model failed on a batch of {n} point(s): {one_line(exc)}", where=self.where
            ) from None
        for name, out in zip(names, outs, strict=True):
            size = self.row_sizes[name]
            try:  # onnxruntime returns numpy arrays; a 0-d one has no shape[0]
                if out.shape[0] == n and out.size == n * size:
                    continue
            except (AttributeError, IndexError):
                pass
            shape = np.shape(out)
            expected = f"[{n}]" if size == 1 else f"[{n}, {size}]"
            raise BundleError(
                f"the model's output {name!r} has shape {[int(d) for d in shape]} for a batch of {n} point(s), "
                f"expected {expected}: the model is broken (its rows are not one per point)",
                where=self.where,
            )
        return outs


class Bundle:
    """A loaded, validated bundle. Build it with :func:`dnnlik.load`, not directly.

    Implements :class:`dnnlik.density.LogDensity` (``parameters``, ``exact_gradient``,
    ``logpdf``, ``grad_logpdf``) for a ``likelihood`` bundle; :meth:`run` runs the
    model of any kind of bundle on raw inputs.

    Args:
        path: where the bundle was read from (a folder or a zip).
        document: its ``bundle.json``, validated.
        session: the onnxruntime session of its whole model.
        chunk_size: rows per model run (larger batches run in chunks).

    Raises:
        InvalidInputError: ``chunk_size`` is not an integer >= 1.
    """

    def __init__(
        self, path: str | os.PathLike[str], document: dict[str, Any], session: Any, *, chunk_size: int = DEFAULT_CHUNK
    ) -> None:
        self.path = Path(path)
        self.document = document
        self.session = session  # the whole model (every output); Bundle.run uses it
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
            raise InvalidInputError(f"must be an integer >= 1, got {chunk_size!r}", where="chunk_size")
        self.chunk_size = int(chunk_size)
        self.parameters: tuple[Parameter, ...] = parameters_from_json(document["parameters"])
        self._fixed = MappingProxyType({f["name"]: float(f["value"]) for f in document.get("fixed_parameters", ())})
        model = document["model"]
        self._inputs = model["inputs"]
        self._outputs = {t["role"]: t for t in model["outputs"]}
        # logpdf alone runs on the model pruned to its 'logpdf' output: onnxruntime would
        # otherwise compute the gradient's backward pass too (see dnnlik.evaluate.session)
        self._sessions = SessionPool(session)
        self._lower = np.array([p.lower for p in self.parameters], dtype=np.float64)
        self._upper = np.array([p.upper for p in self.parameters], dtype=np.float64)
        self._bounded = bool(np.isfinite(self._lower).any() or np.isfinite(self._upper).any())
        self._box_lo = float(self._lower.max()) if len(self.parameters) else -np.inf
        self._box_hi = float(self._upper.min()) if len(self.parameters) else np.inf
        n_par = len(self.parameters)
        self._row_sizes = {
            t["name"]: (n_par if role == "grad_logpdf" else 1)
            for role, t in self._outputs.items()
            if role in _ROLE_CHECKED
        }

    # identity -----------------------------------------------------------
    @property
    def name(self) -> str:
        """The bundle's name (``bundle.json#/name``)."""
        return self.document["name"]

    @property
    def version(self) -> str:
        """The bundle's version (``bundle.json#/version``)."""
        return self.document["version"]

    @property
    def kind(self) -> str:
        """``likelihood``, ``spectrum-fit`` or ``classifier`` (``bundle.json#/kind``)."""
        return self.document["kind"]

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """The parameters' names, in the order of the points' columns."""
        return tuple(p.name for p in self.parameters)

    @property
    def fixed_parameters(self) -> Mapping[str, float]:
        """``{name: value}`` of the parameters the original model holds fixed (format 1.1.0's
        ``fixed_parameters``): not inputs of the model; empty when the bundle lists none."""
        return self._fixed

    @property
    def has_gradient(self) -> bool:
        """Whether the model has a ``grad_logpdf`` output."""
        return "grad_logpdf" in self._outputs

    @property
    def exact_gradient(self) -> bool:
        """True when :meth:`grad_logpdf` is available: the model's own, exact gradient output
        (:class:`~dnnlik.density.LogDensity`); a bundle never estimates one."""
        return self.has_gradient

    @property
    def is_ensemble(self) -> bool:
        """Whether the model is an ensemble (it has a ``logpdf_spread`` output)."""
        return "logpdf_spread" in self._outputs

    @property
    def nominal(self) -> np.ndarray:
        """The parameters' nominal values, shape (P,)."""
        return np.array([p.nominal for p in self.parameters])

    def __repr__(self) -> str:
        return f"<Bundle {self.name} {self.version} ({self.kind}, {len(self.parameters)} parameters) at {self.path}>"

    # evaluation -----------------------------------------------------------
    def _likelihood_only(self, what: str) -> None:
        if self.kind != "likelihood":
            raise BundleError(
                f"{what} needs a 'likelihood' bundle; this one is a {self.kind!r} (use Bundle.run)", where=self.name
            )

    def _outside(self, chunk: np.ndarray) -> np.ndarray | None:
        """Rows of ``chunk`` with a parameter outside its bounds (None when there is none)."""
        # quick sufficient test first (one min and one max over the chunk, ~3x cheaper than the
        # per-parameter comparisons): every value inside the tightest of the bounds
        if self._box_lo <= self._box_hi and chunk.size and chunk.min() >= self._box_lo and chunk.max() <= self._box_hi:
            return None
        bad = (chunk < self._lower) | (chunk > self._upper)
        return np.asarray(bad.any(axis=1)) if bad.any() else None

    def _evaluate(self, x: Any, roles: list[str], strict: bool, fills: list[float]) -> tuple[list[np.ndarray], bool]:
        """Run the model for output ``roles``; rows out of bounds get ``fills`` (or raise if ``strict``)."""
        self._likelihood_only("logpdf")
        points, single = as_points(x, self.parameters)
        if strict:
            check_bounds(points, self.parameters)
        row_filter = self._outside if (self._bounded and not strict) else None
        inp = self._inputs[0]
        names = [self._outputs[r]["name"] for r in roles]
        outs = run_chunked(
            _CheckedSession(self._sessions.for_outputs(names), self._row_sizes, self.name),
            inp["name"],
            points,
            names,
            dtype=NUMPY_DTYPES[inp["dtype"]],
            chunk_size=self.chunk_size,
            row_filter=row_filter,
            fill_values=fills,
        )
        self._check_values(points, roles, outs, filtered=row_filter is not None)
        return outs, single

    def _check_values(self, points: np.ndarray, roles: list[str], outs: list[np.ndarray], *, filtered: bool) -> None:
        """Raise :class:`BundleError` if the model gave a value no log-likelihood has at a point inside the bounds.

        ``logpdf`` may be -inf (a legal log-likelihood), never NaN or +inf. ``grad_logpdf``
        and ``logpdf_spread`` must be finite at every point inside the bounds whose
        ``logpdf`` is not -inf (they are NaN-filled outside, where no gradient exists).
        The common case costs one reduction per output; the rest runs only on failure.
        """
        n = points.shape[0]
        if not n:
            return
        logpdf = outs[roles.index("logpdf")] if "logpdf" in roles else None
        for role, out in zip(roles, outs, strict=True):
            if role == "logpdf":
                # NaN or +inf fail the comparison (-inf, the fill outside the bounds, passes)
                if (out.item() if n == 1 else out.max()) < np.inf:
                    continue
                flat = out.reshape(-1)
                self._model_failure(role, points, np.flatnonzero(np.isnan(flat) | (flat == np.inf)), flat)
            if np.isfinite(out).all():
                continue
            bad = ~np.isfinite(out.reshape(n, -1)).all(axis=1)
            if filtered:  # rows outside the bounds were not evaluated: they hold the NaN fill
                bad &= ~outside_bounds(points, self.parameters)
            rows = np.flatnonzero(bad)
            if rows.size:  # no gradient (or spread) exists where the log-likelihood is -inf
                at = logpdf.reshape(-1)[rows] if logpdf is not None else self._logpdf_at(points[rows])
                rows = rows[~(at == -np.inf)]
            if rows.size:
                self._model_failure(role, points, rows, out.reshape(n, -1))

    def _logpdf_at(self, points: np.ndarray) -> np.ndarray:
        """The model's logpdf at points inside the bounds (used on the error path only)."""
        inp = self._inputs[0]
        name = self._outputs["logpdf"]["name"]
        (values,) = run_chunked(
            _CheckedSession(self._sessions.for_outputs([name]), self._row_sizes, self.name),
            inp["name"],
            points,
            [name],
            dtype=NUMPY_DTYPES[inp["dtype"]],
            chunk_size=self.chunk_size,
        )
        return values.reshape(-1)

    def _model_failure(self, role: str, points: np.ndarray, rows: np.ndarray, out: np.ndarray) -> None:
        """Raise the BundleError for the model's impossible values at ``rows`` of ``points``."""
        row = int(rows[0])
        got = out[row]
        got = got[~np.isfinite(got)] if np.ndim(got) else got
        first = float(np.ravel(got)[0])
        what = "NaN" if np.isnan(first) else ("+inf" if first > 0 else "-inf")
        name = self._outputs[role]["name"]
        point = points[row]
        shown = ""
        if len(self.parameters) <= 6:
            shown = " (" + ", ".join(f"{p.name}={v:.6g}" for p, v in zip(self.parameters, point, strict=True)) + ")"
        beyond = [
            p.name
            for p, v in zip(self.parameters, point, strict=True)
            if p.training_range is not None and not p.training_range[0] <= v <= p.training_range[1]
        ]
        hint = ""
        if beyond:
            hint = f"; the point is outside the training range of {beyond[0]!r}" + (
                f" and {len(beyond) - 1} more" if len(beyond) > 1 else ""
            )
        rule = (
            "a log-likelihood may be -inf, never NaN or +inf"
            if role == "logpdf"
            else "it must be finite wherever the log-likelihood is not -inf"
        )
        raise BundleError(
            f"the model returned {what} for output {name!r} at point {row}{shown}, inside the bounds "
            f"({rows.size} point(s) in all){hint}; {rule}, so the model is broken there",
            where=self.name,
        )

    def logpdf(self, x: Any, *, strict: bool = False) -> np.ndarray:
        """The model's log-likelihood (see ``document['output']`` for its exact meaning).

        ``x``: an (N, P) array, one point of length P, or a mapping of
        parameter names to values or arrays (missing ones at nominal). Values
        must be real numbers: NaN, complex numbers, non-numbers and finite
        numbers beyond a double's range raise
        :class:`~dnnlik.errors.InvalidInputError` naming the input; so does
        ``-inf``/``+inf`` for a parameter with no bound on that side (see
        :mod:`dnnlik.points`).
        Points outside the allowed bounds give -inf (an infinity beyond a
        finite bound is such a point), or raise
        :class:`~dnnlik.errors.OutOfBoundsError` with ``strict=True``.
        Returns float64, of shape (N,), or a scalar for a single point.

        Inside the bounds the value is the model's, which may be -inf. If the
        model returns NaN or +inf there, or an output whose length is not the
        number of points, :class:`~dnnlik.errors.BundleError` is raised naming
        the point and the output (no wrong number is returned).

        Args:
            x: the point(s), as above.
            strict: raise for a point outside the bounds instead of giving -inf.

        Returns:
            The log-likelihood at each point, float64 of shape (N,), or a scalar.

        Raises:
            InvalidInputError: ``x`` is malformed (shape, NaN, unknown name...).
            OutOfBoundsError: with ``strict=True``, a point is outside the bounds.
            BundleError: this is not a likelihood bundle, or its model gave a
                value no log-likelihood takes (see above).
        """
        (values,), single = self._evaluate(x, ["logpdf"], strict, [-np.inf])
        values = values.reshape(-1)
        return values[0] if single else values

    def grad_logpdf(self, x: Any, *, strict: bool = False) -> np.ndarray:
        """Exact gradient of :meth:`logpdf` with respect to the parameters: (N, P), or (P,) for one point.

        Points outside the bounds give NaN rows (no gradient exists there), or
        raise with ``strict=True``. A model without a gradient output raises
        :class:`~dnnlik.errors.NoGradientError`. Inside the bounds a gradient
        with NaN or infinite values where the log-likelihood is not -inf raises
        :class:`~dnnlik.errors.BundleError` (where it is -inf, the row is the
        model's, with no meaning).

        Args:
            x: the point(s), as for :meth:`logpdf`.
            strict: raise for a point outside the bounds instead of giving NaN.

        Returns:
            The gradient, float64 of shape (N, P), or (P,) for one point.

        Raises:
            NoGradientError: the model has no gradient output.
            InvalidInputError: ``x`` is malformed.
            OutOfBoundsError: with ``strict=True``, a point is outside the bounds.
            BundleError: the model gave a gradient that is not finite (see above).
        """
        if self.kind == "likelihood" and not self.has_gradient:
            raise NoGradientError(
                "this bundle's model has no 'grad_logpdf' output, so exact gradients are unavailable "
                "(use a derivative-free method, or re-export the model with its gradient)",
                where=self.name,
            )
        (grads,), single = self._evaluate(x, ["grad_logpdf"], strict, [np.nan])
        return grads[0] if single else grads

    def logpdf_and_grad(self, x: Any, *, strict: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`logpdf` and :meth:`grad_logpdf` from one model run.

        Args:
            x: the point(s), as for :meth:`logpdf`.
            strict: raise for a point outside the bounds.

        Returns:
            ``(logpdf, grad_logpdf)``, shaped as those methods return them.

        Raises:
            NoGradientError: the model has no gradient output.
            InvalidInputError: ``x`` is malformed.
            OutOfBoundsError: with ``strict=True``, a point is outside the bounds.
            BundleError: the model gave values no log-likelihood takes.
        """
        if not self.has_gradient:
            self.grad_logpdf(x)  # raises NoGradientError with its message
        (values, grads), single = self._evaluate(x, ["logpdf", "grad_logpdf"], strict, [-np.inf, np.nan])
        values = values.reshape(-1)
        return (values[0], grads[0]) if single else (values, grads)

    def logpdf_spread(self, x: Any, *, strict: bool = False) -> np.ndarray:
        """For an ensemble: the members' spread (standard deviation) of the log-likelihood.

        Args:
            x: the point(s), as for :meth:`logpdf`.
            strict: raise for a point outside the bounds instead of giving NaN.

        Returns:
            The spread at each point, float64 of shape (N,), or a scalar.

        Raises:
            BundleError: the model is not an ensemble, or its spread is not finite
                where the log-likelihood is not -inf.
            InvalidInputError: ``x`` is malformed.
            OutOfBoundsError: with ``strict=True``, a point is outside the bounds.
        """
        if not self.is_ensemble:
            raise BundleError(
                "this bundle's model is not an ensemble: it has no 'logpdf_spread' output", where=self.name
            )
        (spread,), single = self._evaluate(x, ["logpdf_spread"], strict, [np.nan])
        spread = spread.reshape(-1)
        return spread[0] if single else spread

    def run(self, inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Run the ONNX model on raw inputs (by input name); returns every output by name.

        Works for every kind of bundle; the inputs are given to the model as they are.

        Args:
            inputs: an array (or nested lists) for each of the model's inputs, by name.

        Returns:
            Every output of the model, by name.

        Raises:
            InvalidInputError: an input is missing or unknown, or the model cannot take it.
        """
        if not isinstance(inputs, Mapping):
            raise InvalidInputError(
                f"must be a mapping of input names to arrays, got {type(inputs).__name__}", where="inputs"
            )
        declared = [t["name"] for t in self._inputs]
        missing = [name for name in declared if name not in inputs]
        if missing:
            raise InvalidInputError(f"missing model input(s) {missing}; the model takes {declared}", where="inputs")
        unknown = [name for name in inputs if name not in declared]
        if unknown:
            raise InvalidInputError(f"unknown model input(s) {unknown}; the model takes {declared}", where="inputs")
        feeds: dict[str, np.ndarray] = {}
        for t in self._inputs:
            try:
                feeds[t["name"]] = np.asarray(inputs[t["name"]], dtype=NUMPY_DTYPES[t["dtype"]])
            except (TypeError, ValueError) as exc:
                raise InvalidInputError(
                    f"cannot be read as {t['dtype']} ({exc})", where=f"inputs[{t['name']!r}]"
                ) from None
        names = [o.name for o in self.session.get_outputs()]
        try:
            outs = self.session.run(names, feeds)
        except Exception as exc:  # onnxruntime's own exception classes (wrong rank or size)
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InvalidInputError(f"the model cannot run on these inputs: {first}", where="inputs") from None
        return dict(zip(names, outs, strict=True))

    def summary(self) -> str:
        """A readable multi-line summary (what ``dnnlik info`` prints).

        Returns:
            Identity, model, output meaning and parameters, as text.
        """
        from .describe import describe

        return describe(self)
