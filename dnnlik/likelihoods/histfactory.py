"""A HistFactory likelihood (a pyhf JSON workspace) as a reference likelihood.

>>> from dnnlik.likelihoods import from_pyhf  # doctest: +SKIP
>>> lik = from_pyhf("BkgOnly.json", patch=("patchset.json", "C1N2_Wh_hbb_500_0"))  # doctest: +SKIP
>>> lik.logpdf({"mu_SIG": [0.0, 1.0]})  # doctest: +SKIP

:func:`from_pyhf` reads a workspace (a dict or a JSON file), applies a patch
(a JSON patch, a ``pyhf.patchset.Patch``, or a patchset entry chosen by name or
by its parameter values, the patchset checked against the workspace with
pyhf's ``PatchSet.verify``), picks a measurement and builds pyhf's model. The
likelihood is pyhf's ``model.logpdf(pars, data)``, data main and auxiliary:

- **parameters**: every parameter of the model that the measurement (or pyhf,
  for a staterror or shapesys bin without uncertainty) does not fix, in pyhf's
  order, named as :mod:`~dnnlik.likelihoods.histfactory_names` spells pyhf's
  names (``staterror_SR[3]`` -> ``staterror_SR.3``); role ``poi`` for the
  measurement's parameter of interest, ``nuisance`` for the others; bounds and
  nominal values pyhf's suggested bounds and initial values. Fixed parameters
  stay at their initial value: :attr:`HistFactoryLikelihood.fixed_parameters`
  lists them, and :meth:`~HistFactoryLikelihood.describe` records them.
- **constraints**, as pyhf's auxiliary terms are: ``normal`` (mean the
  auxiliary datum, sigma pyhf's width: 1 for normsys and histosys, the
  measurement's sigma for lumi, the relative MC uncertainty for staterror),
  ``gamma`` for shapesys (``tau`` pyhf's factor (nominal/uncertainty)^2, ``aux``
  the auxiliary count), ``none`` for normfactor and shapefactor.
- **output**: ``{"quantity": "log-likelihood", "includes_constraints": true,
  "offset": -sum(ln tau)}``. pyhf's normal terms are normalised densities, as a
  bundle's ``normal`` terms; its Poisson term of a shapesys count is the
  Gamma(aux + 1, rate tau) density of the parameter minus ln tau, so the
  offset, summed over the free gamma parameters, is the constant pyhf adds to
  the declared terms. The constant terms of fixed parameters stay in.
- **data**: observed by default; ``data="asimov"`` is the background-only
  Asimov data of pyhf's asymptotic calculator (``generate_asimov_data`` with
  POI 0): the data the model expects at POI = 0 and the other parameters fitted
  to the observed data (with :func:`dnnlik.infer.maximize`), auxiliary data
  included. :meth:`~HistFactoryLikelihood.asimov_logdensity` gives the model on
  the data expected at any point (the hook of :func:`dnnlik.infer.upper_limit`).
- **evaluation**: many points per call (:mod:`~dnnlik.likelihoods.histfactory_backend`).
  With JAX installed (``backend="auto"`` or ``"jax"``) the gradient is exact
  (``exact_gradient = True``); with ``backend="numpy"`` it is central finite
  differences (``exact_gradient = False``).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from .._version import __version__
from ..errors import InvalidInputError, MissingExtraError
from ..parameters import Constraint, Parameter
from ..points import as_points
from ..report import one_line
from .callable import CallableLikelihood
from .histfactory_backend import JaxEvaluator, NumpyEvaluator, jax_available
from .histfactory_inputs import apply_patch, choose_measurement, import_pyhf, load_workspace, quiet_schema, read_json
from .histfactory_names import dnnlik_name

__all__ = ["from_pyhf", "HistFactoryLikelihood", "DATA_KINDS", "BACKENDS"]

DATA_KINDS = ("observed", "asimov")
"""``data`` of :func:`from_pyhf`: the observed counts, or the background-only Asimov data."""
BACKENDS = ("auto", "jax", "numpy")
"""``backend`` of :func:`from_pyhf`: ``auto`` is JAX when installed, else NumPy."""


@dataclass(frozen=True)
class HistFactorySource:
    """What every likelihood of one workspace shares: pyhf, the workspace, the evaluator, provenance."""

    pyhf: ModuleType
    workspace: Any
    measurement: str
    evaluator: NumpyEvaluator | JaxEvaluator
    workspace_digest: str
    patched_digest: str
    patch: dict[str, Any] | None
    modifier_types: dict[str, str]


class HistFactoryLikelihood(CallableLikelihood):
    """pyhf's ``model.logpdf`` on one data set, over the model's free parameters (see the module docstring).

    Made by :func:`from_pyhf`, not directly.

    Args:
        source: the workspace, its evaluator and provenance.
        data: the main and auxiliary data, in pyhf's order.
        data_kind: what the data are, in words (``observed``, ``asimov``...).

    Attributes:
        fixed_parameters: ``{name: value}`` of the parameters held fixed (not inputs).
        output: the output convention (a bundle's ``output`` section).
        model: pyhf's model (one point at a time).
        data: the data, (main + auxiliary,) float64.
    """

    def __init__(self, source: HistFactorySource, data: np.ndarray, data_kind: str) -> None:
        self._source = source
        self.model = source.evaluator.model
        self.data = np.array(data, dtype=np.float64)
        self.data.setflags(write=False)
        self.data_kind = data_kind
        layout = _Layout(self.model, self.data, source.modifier_types)
        self.fixed_parameters: dict[str, float] = layout.fixed
        self._free = np.asarray(layout.free, dtype=np.intp)
        self._template = layout.template
        self.output: dict[str, Any] = {
            "quantity": "log-likelihood",
            "includes_constraints": True,
            "offset": layout.offset,
        }
        exact = source.evaluator.exact_gradient
        super().__init__(self._values, layout.parameters, grad=self._gradient if exact else None, name="histfactory")

    # ------------------------------------------------------------------ pyhf's parameter vectors
    def pyhf_parameters(self, x: Any) -> np.ndarray:
        """pyhf's full parameter vectors (fixed parameters at their value) for the point(s) ``x``.

        Args:
            x: the point(s), in any form :meth:`logpdf` accepts.

        Returns:
            (N, npars) float64 in pyhf's order, or (npars,) for one point.

        Raises:
            InvalidInputError: ``x`` is malformed.
        """
        points, single = as_points(x, self.parameters)
        full = self._full(points)
        return full[0] if single else full

    def _full(self, points: np.ndarray) -> np.ndarray:
        full = np.repeat(self._template[None, :], points.shape[0], axis=0)
        full[:, self._free] = points
        return full

    def _values(self, points: np.ndarray) -> np.ndarray:
        return self._source.evaluator.logpdf(self._full(points), self.data)

    def _gradient(self, points: np.ndarray) -> np.ndarray:
        return self._logpdf_and_grad(points)[1]

    def _logpdf_and_grad(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        evaluator = self._source.evaluator
        if isinstance(evaluator, JaxEvaluator):
            value, grad = evaluator.logpdf_and_grad(self._full(points), self.data)
            return value, grad[:, self._free]
        return super()._logpdf_and_grad(points)

    # ------------------------------------------------------------------ Asimov data
    def asimov_logdensity(self, point: np.ndarray) -> HistFactoryLikelihood:
        """The same model on the data (main and auxiliary) it expects at ``point``.

        Args:
            point: one point of this likelihood's parameters, (P,).

        Returns:
            The likelihood of the expected data; its constraints' centres (normal
            means, gamma counts) move with the auxiliary data.

        Raises:
            InvalidInputError: ``point`` is not one point inside the bounds.
        """
        points, single = as_points(point, self.parameters, where="point")
        if not single:
            raise InvalidInputError(f"expected one point, got {points.shape[0]}", where="point")
        if not math.isfinite(float(self.logpdf(points[0]))):
            raise InvalidInputError(
                "the log-likelihood is -inf there (outside the bounds or the support)", where="point"
            )
        expected = self._source.evaluator.expected_data(self._full(points)[0])
        return HistFactoryLikelihood(self._source, expected, "asimov")

    # ------------------------------------------------------------------ provenance
    def describe(self) -> dict[str, Any]:
        """Provenance: the workspace's pyhf digest, the patch, the measurement, the data, pyhf's version.

        Returns:
            ``name``, ``class``, ``version`` (sha256 of the patched workspace, as
            ``pyhf.utils.digest`` computes it), ``workspace_digest`` (the
            background-only workspace given), ``patch`` (name, values, labels;
            and sha256 of its operations; None without), ``measurement``, ``poi``, ``data`` (``observed`` or
            ``asimov``) and ``data_sha256`` (of the float64 data vector),
            ``fixed_parameters``, ``backend``, ``exact_gradient``, ``pyhf_version``,
            ``dnnlik_version``, ``n_parameters``, ``output``.
        """
        source = self._source
        return {
            "name": self.name,
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "version": "sha256:" + source.patched_digest,
            "workspace_digest": "sha256:" + source.workspace_digest,
            "patch": None if source.patch is None else dict(source.patch),
            "measurement": source.measurement,
            "poi": self.model.config.poi_name,
            "data": self.data_kind,
            "data_sha256": hashlib.sha256(self.data.astype("<f8").tobytes()).hexdigest(),
            "fixed_parameters": dict(self.fixed_parameters),
            "backend": source.evaluator.backend,
            "exact_gradient": self.exact_gradient,
            "pyhf_version": source.pyhf.__version__,
            "dnnlik_version": __version__,
            "n_parameters": len(self.parameters),
            "output": dict(self.output),
        }


class _Layout:
    """The free parameters (as :class:`Parameter`), the fixed ones, and the pyhf vector template."""

    def __init__(self, model: Any, data: np.ndarray, modifier_types: dict[str, str]) -> None:
        cfg = model.config
        init, bounds, fixed = cfg.suggested_init(), cfg.suggested_bounds(), cfg.suggested_fixed()
        labels = cfg.par_names
        aux_at: dict[int, int] = {}
        k = cfg.nmaindata
        for name in cfg.auxdata_order:
            where = cfg.par_slice(name)
            for i in range(where.start, where.stop):
                aux_at[i] = k + i - where.start
            k += where.stop - where.start
        self.template = np.asarray(init, dtype=np.float64)
        self.parameters: list[Parameter] = []
        self.free: list[int] = []
        self.fixed: dict[str, float] = {}
        self.offset = 0.0
        for name in cfg.par_order:
            paramset = cfg.param_set(name)
            where = cfg.par_slice(name)
            for i in range(where.start, where.stop):
                label = dnnlik_name(labels[i])
                if fixed[i]:
                    self.fixed[label] = float(init[i])
                    continue
                constraint = self._constraint(paramset, i - where.start, data[aux_at[i]] if i in aux_at else None)
                if constraint.type == "gamma":
                    self.offset -= math.log(float(constraint.tau or 1.0))
                kind = modifier_types.get(name, "?")
                self.parameters.append(
                    _parameter(label, labels[i], kind, name == cfg.poi_name, bounds[i], init[i], constraint)
                )
                self.free.append(i)

    @staticmethod
    def _constraint(paramset: Any, j: int, aux: float | None) -> Constraint:
        pdf_type = getattr(paramset, "pdf_type", None) if getattr(paramset, "constrained", False) else None
        if pdf_type == "normal" and aux is not None:
            return Constraint("normal", mean=float(aux), sigma=float(paramset.width()[j]))
        if pdf_type == "poisson" and aux is not None:
            return Constraint("gamma", tau=float(paramset.factors[j]), aux=float(aux))
        return Constraint("none")


def _parameter(
    name: str, label: str, kind: str, poi: bool, bounds: Sequence[float], init: float, constraint: Constraint
) -> Parameter:
    lower, upper = float(bounds[0]), float(bounds[1])
    where = f"parameter {label!r}"
    if not lower < upper:
        raise InvalidInputError(f"its bounds [{lower:g}, {upper:g}] are empty or a single point", where=where)
    if not lower <= float(init) <= upper:
        raise InvalidInputError(f"its initial value {init:g} is outside its bounds [{lower:g}, {upper:g}]", where=where)
    width = constraint.sigma if constraint.type == "normal" else constraint.tau
    if width is not None and not (math.isfinite(width) and width > 0):
        raise InvalidInputError(f"its {constraint.type} constraint has a non-positive width ({width:g})", where=where)
    if constraint.type == "normal":
        term = f", constraint normal(mean {constraint.mean:g}, sigma {constraint.sigma:g})"
    elif constraint.type == "gamma":
        term = f", constraint gamma(tau {constraint.tau:g}, aux {constraint.aux:g})"
    else:
        term = ""
    return Parameter(
        name=name,
        role="poi" if poi else "nuisance",
        bounds=(lower, upper),
        nominal=float(init),
        constraint=constraint,
        description=f"pyhf {kind} parameter {label}{term}",
    )


def from_pyhf(
    workspace: Any,
    patch: Any = None,
    measurement: str | None = None,
    *,
    data: str = "observed",
    backend: str = "auto",
) -> HistFactoryLikelihood:
    """The likelihood of a HistFactory workspace in pyhf's JSON format (see the module docstring).

    Args:
        workspace: the workspace, a dict or the path of a JSON file (read with
            bounded size and depth, duplicate keys refused).
        patch: None; a JSON patch (a list of operations, or the path of a JSON
            file holding one), applied to the workspace; a ``pyhf.patchset.Patch``;
            or ``(patchset, key)``: a patchset (``pyhf.patchset.PatchSet``, dict or
            file), verified against ``workspace``, and a patch's name or values.
        measurement: the measurement's name; default the first.
        data: ``"observed"`` or ``"asimov"`` (background-only, see the module docstring).
        backend: ``"auto"`` (JAX when installed, else NumPy), ``"jax"`` (exact
            gradient) or ``"numpy"`` (finite differences).

    Returns:
        The likelihood.

    Raises:
        MissingExtraError: pyhf is not installed (``pip install 'dnnlik[pyhf]'``),
            or JAX is not and ``backend="jax"``.
        InvalidInputError: any defect of the inputs (one message each, see
            :mod:`~dnnlik.likelihoods.histfactory_inputs`), a parameter with empty
            bounds or an initial value outside them, ``data`` or ``backend`` not
            one of the allowed values, or the POI's bounds excluding 0 with
            ``data="asimov"``.
        OptimizationError: the background-only fit for the Asimov data failed.
    """
    if data not in DATA_KINDS:
        raise InvalidInputError(f"must be one of {list(DATA_KINDS)}, got {data!r}", where="data")
    if backend not in BACKENDS:
        raise InvalidInputError(f"must be one of {list(BACKENDS)}, got {backend!r}", where="backend")
    pyhf = import_pyhf()
    if backend == "jax" and not jax_available():
        raise MissingExtraError("pyhf", "exact HistFactory gradients (pyhf's JAX backend)")
    given = load_workspace(pyhf, read_json(workspace, "workspace"))
    digest = pyhf.utils.digest(dict(given))
    patched, patch_info = apply_patch(pyhf, given, patch)
    chosen = choose_measurement(patched, measurement)

    def build(batch_size: int | None) -> Any:
        try:
            with quiet_schema():
                return patched.model(measurement_name=chosen["name"], batch_size=batch_size)
        except Exception as exc:  # pyhf reports a model it cannot build with many exception types
            raise InvalidInputError(
                f"pyhf cannot build a model from it: {type(exc).__name__}: {one_line(exc)}",
                where=f"measurement {chosen['name']!r}",
            ) from None

    use_jax = backend == "jax" or (backend == "auto" and jax_available())
    evaluator = JaxEvaluator(pyhf, build) if use_jax else NumpyEvaluator(pyhf, build)
    types = {m["name"]: m["type"] for c in patched["channels"] for s in c["samples"] for m in s["modifiers"]}
    patched_digest = digest if patch is None else pyhf.utils.digest(dict(patched))
    source = HistFactorySource(pyhf, patched, chosen["name"], evaluator, digest, patched_digest, patch_info, types)
    observed = np.asarray(patched.data(evaluator.model), dtype=np.float64)
    likelihood = HistFactoryLikelihood(source, observed, "observed")
    return _background_asimov(likelihood) if data == "asimov" else likelihood


def _background_asimov(observed: HistFactoryLikelihood) -> HistFactoryLikelihood:
    """The model on the data expected at POI = 0, the other parameters fitted to the observed data."""
    from ..infer import maximize

    poi = next(p for p in observed.parameters if p.role == "poi")
    if not poi.lower <= 0.0 <= poi.upper:
        raise InvalidInputError(
            f"the background-only Asimov data need {poi.name} = 0, outside its bounds [{poi.lower:g}, {poi.upper:g}]",
            where="data",
        )
    fit = maximize(observed, fixed={poi.name: 0.0})
    return observed.asimov_logdensity(fit.point)
