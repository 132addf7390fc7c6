"""The ``behaviour`` stage of validation: does the model behave as a function of each point?

Test vectors prove that a model reproduces a few outputs its producer saw. They
do not prove that it computes a log-likelihood everywhere else, nor that it
treats a batch as independent rows. This stage runs the model on points of its
own choosing and checks three rules (spec/README.md, 4.1 and 4.2):

``behaviour:non-finite``
    (``likelihood`` bundles) At every point inside the bounds, ``logpdf`` may be
    -inf (a legal log-likelihood) but never NaN or +inf; ``grad_logpdf`` and
    ``logpdf_spread`` are finite wherever ``logpdf`` is not -inf.
``behaviour:batch-size``
    Every output declared with a batch dimension (a leading ``null``) has one
    row per input row, for batches of 1, 7, 64 rows and the whole set.
``behaviour:batch-dependence``
    A row's outputs do not depend on the other rows of its batch: the same
    rows evaluated singly, in batches of 7 and 64, in the whole set and in the
    whole set reversed agree within the tolerance below.

and reports ``behaviour:run-failed`` (the model fails on a batch of valid
rows) and ``behaviour:timeout`` (the stage took longer than its time bound;
every run goes through :func:`~dnnlik.evaluate.session.run_bounded`, and all
runs of the stage share one budget, so a model slow on some points cannot
multiply the bound).

The points, for a ``likelihood`` bundle with P parameters (deterministic: no
randomness but a fixed seed, so a report never changes from one run to the
next): the nominal point; the best-fit point, when ``output.best_fit`` gives
one inside the bounds; four corners of the *bounds box* (every parameter at
its lower end, every one at its upper end, and the two alternating corners);
for each parameter with a finite bound, the nominal point with that parameter
on the bound (at most 256 parameters, a seeded choice beyond); and 64 uniform
draws inside the *training box* plus 64 inside the bounds box (seed
:data:`SEED`). The training box of a parameter is its ``training_range``, or
else its bounds where finite, or else ``nominal -+ max(1, |nominal|)``; the
bounds box is the bounds, with an infinite side replaced by the training
box's end. At most :data:`MAX_VALUES` numbers in all (fewer points when P is
huge).

For the other kinds (``spectrum-fit``, ``classifier``), whose inputs are not
parameter points, the rows are those of the test-vector inputs: the batch
checks run when every model input and the outputs checked are declared with a
leading ``null`` (batch) dimension and the cases give at least one row of
consistent shapes (the rows of all cases together, at most 64); there is no
value rule. Otherwise the stage checks nothing for that bundle (there is no
batch to vary), which is not a problem. With a single test-vector row, the
batches are copies of it: the batch-size check is complete, but a dependence on
the other rows can show only between different rows, so producers of such
bundles should give test vectors of two rows or more.

Tolerance of the batch comparisons, per output and element: the larger of the
test vectors' tolerance for that output (``abs + rel * |reference|``: the
producer's own bound on how far two correct runtimes may differ) and a
float32 rounding floor, ``FLOOR_ULPS * eps32 * (1 + max |reference row|)``.
Different batch sizes make onnxruntime pick different matrix-multiply kernels,
whose sums run in different orders: in float32 (the precision networks are
usually computed in, even behind float64 inputs and outputs) that moves a
result by a few units in the last place of the row's largest values, times
the depth of the network. The floor keeps a bundle whose test vectors have a
very tight (or zero) tolerance from failing on that rounding; a real batch
dependence (a batch mean, a cumulative sum) is orders of magnitude larger.
"""

from __future__ import annotations

import math
import time
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ModelTimeoutError
from ..parameters import Parameter, parameters_from_json
from ..report import Problem, json_pointer, one_line
from . import session as _session
from .session import NUMPY_DTYPES, run_bounded
from .test_vectors import tensor_from_json, tolerance_for

__all__ = ["iter_behaviour_problems", "likelihood_points", "SEED", "MAX_VALUES", "BATCH_SIZES", "FLOOR_ULPS"]

#: Seed of the uniform draws (fixed: validation is deterministic).
SEED = 20260112
#: Most numbers (points x parameters) the stage feeds the model in one batch.
MAX_VALUES = 2_000_000
#: Batch sizes tried besides the whole set (1 is tried on the first few rows, each alone).
BATCH_SIZES = (7, 64)
#: Rows evaluated one at a time.
SINGLE_ROWS = 8
#: Draws per box (training box, bounds box).
N_UNIFORM = 64
#: Parameters whose bounds get an edge point each (a seeded choice when there are more).
MAX_EDGE_PARAMETERS = 256
#: The float32 rounding floor of the batch comparisons, in units of float32's epsilon.
FLOOR_ULPS = 256
_EPS32 = float(np.finfo(np.float32).eps)


class _Stop(Exception):
    """The stage ends here (the problem is already reported)."""


@dataclass
class _Runner:
    """Runs the model through ``run_bounded`` with a budget shared by every run of the stage."""

    session: Any
    deadline: float
    seconds: float
    model_file: str
    problems: list[Problem] = field(default_factory=list)

    def run(self, names: Sequence[str], feeds: dict[str, np.ndarray], what: str) -> list[np.ndarray] | None:
        left = self.deadline - time.monotonic()
        try:
            if left <= 0:
                raise ModelTimeoutError("")
            outs = [np.asarray(o) for o in run_bounded(self.session, names, feeds, seconds=left)]
        except ModelTimeoutError:
            self.problems.append(
                Problem(
                    "behaviour:timeout",
                    f"the model runs of this stage took longer than the {self.seconds:g} s allowed "
                    f"(stopped on {what}); the remaining checks were not run",
                    self.model_file,
                )
            )
            raise _Stop from None
        except Exception as exc:  # onnxruntime's own exception classes
            self.problems.append(
                Problem("behaviour:run-failed", f"the model fails on {what}: {one_line(exc, 250)}", self.model_file)
            )
            return None
        return outs


def iter_behaviour_problems(
    session: Any, document: dict[str, Any], *, skip: Collection[int] = (), seconds: float | None = None
) -> Iterator[Problem]:
    """Problems of the ``behaviour`` stage (module docstring) for a schema-valid ``document``.

    Args:
        session: the model's onnxruntime session.
        document: the schema-valid ``bundle.json``.
        skip: test-vector cases the static checks found malformed (not used as rows).
        seconds: the time all the stage's model runs may take together
            (None: :data:`~dnnlik.evaluate.session.RUN_SECONDS` at call time).

    Yields:
        The problems (``behaviour:*``).
    """
    if seconds is None:  # read at call time, so that changing session.RUN_SECONDS reaches this stage
        seconds = _session.RUN_SECONDS
    runner = _Runner(session, time.monotonic() + seconds, seconds, document["model"]["file"])
    try:
        if document["kind"] == "likelihood":
            _likelihood(runner, document)
        else:
            _other_kind(runner, document, skip)
    except _Stop:
        pass
    yield from runner.problems


# points -------------------------------------------------------------------------


def _boxes(params: Sequence[Parameter]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train_lo, train_hi, bounds_lo, bounds_hi) per parameter, all finite, inside the bounds."""
    lower = np.array([p.lower for p in params], dtype=np.float64)
    upper = np.array([p.upper for p in params], dtype=np.float64)
    nominal = np.array([p.nominal for p in params], dtype=np.float64)
    scale = np.maximum(1.0, np.abs(nominal))
    t_lo = np.where(np.isfinite(lower), lower, nominal - scale)
    t_hi = np.where(np.isfinite(upper), upper, nominal + scale)
    for j, p in enumerate(params):
        # a reversed training range is a semantic error (reported): the stage then ignores it, never crashes on it
        if p.training_range is not None and p.training_range[0] <= p.training_range[1]:
            t_lo[j], t_hi[j] = p.training_range
    t_lo = np.clip(t_lo, lower, upper)
    t_hi = np.clip(t_hi, lower, upper)
    b_lo = np.where(np.isfinite(lower), lower, np.minimum(t_lo, nominal))
    b_hi = np.where(np.isfinite(upper), upper, np.maximum(t_hi, nominal))
    return t_lo, t_hi, b_lo, b_hi


def likelihood_points(
    params: Sequence[Parameter], best_fit: Sequence[float] | None = None, *, max_values: int = MAX_VALUES
) -> tuple[np.ndarray, list[str]]:
    """The points the stage evaluates (module docstring) and a label for each, in a spread-out order.

    Every point is inside the bounds (closed). Blocks are interleaved, so that any
    prefix holds points of every kind (the first rows are the ones run singly).

    Args:
        params: the parameters.
        best_fit: the document's best-fit point, if it gives one.
        max_values: the most numbers (points x parameters) to evaluate.

    Returns:
        The points, shape (n, P), and a label for each.
    """
    n_par = len(params)
    lower = np.array([p.lower for p in params], dtype=np.float64)
    upper = np.array([p.upper for p in params], dtype=np.float64)
    nominal = np.array([p.nominal for p in params], dtype=np.float64)
    t_lo, t_hi, b_lo, b_hi = _boxes(params)
    rng = np.random.default_rng(SEED)

    fixed: list[tuple[np.ndarray, str]] = [(nominal, "the nominal point")]
    if best_fit is not None and len(best_fit) == n_par:
        point = np.asarray(best_fit, dtype=np.float64)
        if np.isfinite(point).all() and ((point >= lower) & (point <= upper)).all():
            fixed.append((point, "the best-fit point"))
    alternate = np.arange(n_par) % 2 == 0
    fixed += [
        (b_lo, "the corner of the bounds box with every parameter at its lower end"),
        (b_hi, "the corner of the bounds box with every parameter at its upper end"),
        (
            np.where(alternate, b_lo, b_hi),
            "a corner of the bounds box (parameters alternately at their lower and upper ends)",
        ),
        (
            np.where(alternate, b_hi, b_lo),
            "a corner of the bounds box (parameters alternately at their upper and lower ends)",
        ),
    ]
    edge_params = np.arange(n_par)
    if n_par > MAX_EDGE_PARAMETERS:
        edge_params = np.sort(rng.choice(n_par, MAX_EDGE_PARAMETERS, replace=False))
    edges: list[tuple[np.ndarray, str]] = []
    for j in edge_params:
        for bound, side in ((lower[j], "lower"), (upper[j], "upper")):
            if math.isfinite(bound):
                point = nominal.copy()
                point[j] = bound
                name = _short(params[int(j)].name)
                edges.append((point, f"the nominal point with {name} at its {side} bound {bound:g}"))
    draws_t = rng.uniform(t_lo, t_hi, (N_UNIFORM, n_par)) if n_par else np.empty((N_UNIFORM, 0))
    draws_b = rng.uniform(b_lo, b_hi, (N_UNIFORM, n_par)) if n_par else np.empty((N_UNIFORM, 0))
    blocks = [
        fixed,
        [
            (np.clip(x, lower, upper), f"uniform draw {i} inside the training box (seed {SEED})")
            for i, x in enumerate(draws_t)
        ],
        edges,
        [
            (np.clip(x, lower, upper), f"uniform draw {i} inside the bounds box (seed {SEED})")
            for i, x in enumerate(draws_b)
        ],
    ]
    ordered: list[tuple[np.ndarray, str]] = []
    longest = max(len(b) for b in blocks)
    for i in range(longest):
        ordered += [b[i] for b in blocks if i < len(b)]
    limit = max(SINGLE_ROWS, max_values // max(n_par, 1))
    ordered = ordered[:limit]
    points = np.array([x for x, _ in ordered], dtype=np.float64).reshape(len(ordered), n_par)
    return points, [label for _, label in ordered]


# likelihood -----------------------------------------------------------------------


@dataclass
class _Output:
    name: str
    index: int  # position in model.outputs (for the location pointer)
    role: str
    trailing: tuple[int | None, ...]  # declared shape after the batch dimension
    tolerance: tuple[float, float]

    @property
    def location(self) -> str:
        return "bundle.json#" + json_pointer(["model", "outputs", self.index])


def _batched_outputs(document: dict[str, Any], available: Collection[str]) -> list[_Output]:
    """The declared outputs with a leading batch (``null``) dimension that the session has."""
    tv = document["test_vectors"]
    outs = []
    for k, t in enumerate(document["model"]["outputs"]):
        shape = t["shape"]
        if t["name"] in available and shape and shape[0] is None and t["dtype"] in NUMPY_DTYPES:
            abs_, rel, _ = tolerance_for(tv, t["name"])
            outs.append(_Output(t["name"], k, t["role"], tuple(shape[1:]), (abs_, rel)))
    return outs


def _session_outputs(session: Any) -> set[str]:
    try:
        return {o.name for o in session.get_outputs()}
    except Exception:  # pragma: no cover - a session without get_outputs
        return set()


def _likelihood(runner: _Runner, document: dict[str, Any]) -> None:
    inputs = document["model"]["inputs"]
    params = parameters_from_json(document["parameters"])
    if (
        len(inputs) != 1
        or inputs[0]["role"] != "parameters"
        or inputs[0]["dtype"] not in ("float32", "float64")
        or list(inputs[0]["shape"]) != [None, len(params)]
    ):
        return  # semantics:inputs or semantics:tensor-shape reported it; there is no parameter point to feed
    if any(not p.lower < p.upper for p in params):
        return  # semantics:bounds-order: the bounds enclose no point
    outputs = _batched_outputs(document, _session_outputs(runner.session))
    if not outputs:
        return
    best = document.get("output", {}).get("best_fit", {}).get("point")
    points, labels = likelihood_points(params, best, max_values=MAX_VALUES)
    dtype = NUMPY_DTYPES[inputs[0]["dtype"]]
    feed_name = inputs[0]["name"]

    def feed(rows: np.ndarray) -> dict[str, np.ndarray]:
        return {feed_name: np.ascontiguousarray(points[rows], dtype=dtype)}

    _check_batches(runner, outputs, feed, len(points), labels, points_word="point", value_rules=True)


# other kinds ------------------------------------------------------------------------


def _other_kind(runner: _Runner, document: dict[str, Any], skip: Collection[int]) -> None:
    inputs = document["model"]["inputs"]
    if not inputs or any(not t["shape"] or t["shape"][0] is not None for t in inputs):
        return  # an input without a batch dimension: there is no batch to vary
    outputs = _batched_outputs(document, _session_outputs(runner.session))
    if not outputs:
        return
    bool_as_number = document.get("format_version") == "1.0.0"
    pools: dict[str, list[np.ndarray]] = {t["name"]: [] for t in inputs}
    trailing: dict[str, tuple[int, ...]] = {}
    rows = 0
    for i, case in enumerate(document["test_vectors"]["cases"]):
        if i in skip or set(case["inputs"]) != set(pools):
            continue
        arrays = {}
        for t in inputs:
            array = tensor_from_json(case["inputs"][t["name"]], t["dtype"], t["shape"], bool_as_number=bool_as_number)
            if isinstance(array, str) or array.ndim != len(t["shape"]):
                break
            arrays[t["name"]] = array
        else:
            sizes = {a.shape[0] for a in arrays.values()}
            if len(sizes) != 1 or not sizes.pop():
                continue
            if trailing and any(trailing[n] != a.shape[1:] for n, a in arrays.items()):
                continue
            for name, array in arrays.items():
                trailing[name] = array.shape[1:]
                pools[name].append(array)
            rows += next(iter(arrays.values())).shape[0]
        if rows >= 64:
            break
    if not rows:
        return
    pool = {name: np.concatenate(parts)[:64] for name, parts in pools.items()}
    n = min(rows, 64)
    labels = [f"row {i} of the test-vector inputs" for i in range(n)]

    def feed(idx: np.ndarray) -> dict[str, np.ndarray]:
        return {name: np.ascontiguousarray(array[idx]) for name, array in pool.items()}

    _check_batches(runner, outputs, feed, n, labels, points_word="row", value_rules=False)


# the checks ---------------------------------------------------------------------------


def _check_batches(
    runner: _Runner,
    outputs: list[_Output],
    feed: Any,
    n: int,
    labels: list[str],
    *,
    points_word: str,
    value_rules: bool,
) -> None:
    """Run the whole set, then the batch variants, and report every rule broken (once per output and code)."""
    names = [o.name for o in outputs]
    reported: set[tuple[str, str]] = set()

    def report(code: str, output: _Output, message: str) -> None:
        if (code, output.name) not in reported:
            reported.add((code, output.name))
            runner.problems.append(Problem(code, f"output {_short(output.name)} {message}", output.location))

    def run(idx: np.ndarray, what: str) -> dict[str, np.ndarray] | None:
        outs = runner.run(names, feed(idx), what)
        if outs is None:
            return None
        good = {}
        for o, got in zip(outputs, outs, strict=True):
            if got.dtype.kind not in "biuf":
                continue  # not a numeric tensor: contract:output-dtype says so
            expected = (len(idx),) + o.trailing
            if got.ndim != len(expected) or any(
                e is not None and g != e for g, e in zip(got.shape, expected, strict=True)
            ):
                shown = "[" + ", ".join("N" if e is None else str(e) for e in expected) + "]"
                report(
                    "behaviour:batch-size",
                    o,
                    f"has shape {list(got.shape)} for a batch of {len(idx)} {points_word}(s), expected {shown}: "
                    f"an output must have one row per input row",
                )
            else:
                good[o.name] = got
        return good

    every = np.arange(n)
    whole = run(every, f"a batch of {n} {points_word}s")
    if whole is None:
        return
    if value_rules:
        _value_rules(outputs, whole, labels, n, report)
    variants = [(every[::-1], f"the same {n} {points_word}s in reverse order")]
    variants += [(np.arange(size) % n, f"a batch of {size} {points_word}s") for size in BATCH_SIZES]
    variants += [(np.array([i]), f"a batch of 1 {points_word} (itself)") for i in range(min(SINGLE_ROWS, n))]
    for idx, what in variants:
        got = run(idx, what)
        if got is None:
            continue
        for o in outputs:
            if o.name in got and o.name in whole:
                _compare(o, whole[o.name][idx], got[o.name], idx, labels, what, n, report)


def _value_rules(outputs: list[_Output], whole: dict[str, np.ndarray], labels: list[str], n: int, report: Any) -> None:
    """logpdf never NaN or +inf; gradient and spread finite where logpdf is not -inf."""
    by_role = {o.role: o for o in outputs}
    logpdf_out = by_role.get("logpdf")
    logpdf = whole.get(logpdf_out.name) if logpdf_out else None
    if logpdf is not None:
        values: np.ndarray = logpdf.astype(np.float64).reshape(n)
        bad = np.isnan(values) | (values == np.inf)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            report(
                "behaviour:non-finite",
                logpdf_out,
                f"is {_name(values[i])} at {int(bad.sum())} of {n} points inside the bounds; first at {labels[i]} "
                "(a log-likelihood may be -inf, never NaN or +inf)",
            )
    for role in ("grad_logpdf", "logpdf_spread"):
        o = by_role.get(role)
        if o is None or o.name not in whole:
            continue
        values = whole[o.name].astype(np.float64).reshape(n, -1)
        bad = ~np.isfinite(values).all(axis=1)
        if logpdf is not None:
            bad &= ~(logpdf.astype(np.float64).reshape(n) == -np.inf)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            first = values[i][~np.isfinite(values[i])][0]
            report(
                "behaviour:non-finite",
                o,
                f"is {_name(first)} at {int(bad.sum())} of {n} points inside the bounds where logpdf is not -inf; "
                f"first at {labels[i]} (it must be finite there)",
            )


def _short(name: str) -> str:
    text = repr(name)
    return text if len(text) <= 60 else text[:57] + "..."


def _name(value: float) -> str:
    return "NaN" if math.isnan(value) else ("+inf" if value > 0 else "-inf")


def _compare(
    o: _Output, ref: np.ndarray, got: np.ndarray, idx: np.ndarray, labels: list[str], what: str, n: int, report: Any
) -> None:
    """Rows of ``got`` (a batch variant) against the same rows of the whole set (``ref``)."""
    if got.dtype == np.bool_ or ref.dtype == np.bool_ or got.dtype.kind in "iu":
        wrong = (got != ref).reshape(len(idx), -1)
        tol_text = "integer and bool values must be equal"
    else:
        r = ref.astype(np.float64).reshape(len(idx), -1)
        g = got.astype(np.float64).reshape(len(idx), -1)
        same = (r == g) | (np.isnan(r) & np.isnan(g))  # equal infinities, or both NaN (reported above)
        finite = np.where(np.isfinite(r), np.abs(r), 0.0)
        scale = finite.max(axis=1, keepdims=True) if r.shape[1] else np.zeros((len(idx), 1))
        abs_, rel = o.tolerance
        tol = np.maximum(abs_ + rel * finite, FLOOR_ULPS * _EPS32 * (1.0 + scale))
        with np.errstate(invalid="ignore"):
            close = np.abs(g - r) <= tol
        wrong = ~(same | close)
        tol_text = (
            f"tolerance abs {abs_:g} + rel {rel:g} from the test vectors, "
            f"or {FLOOR_ULPS} float32 epsilons of the row's scale"
        )
    differ = wrong.any(axis=1)
    if differ.any():
        k = int(np.flatnonzero(differ)[0])
        i = int(idx[k])
        j = int(np.argmax(wrong[k]))
        shown_r = f"{float(np.ravel(ref[k])[j]):.10g}"
        shown_g = f"{float(np.ravel(got[k])[j]):.10g}"
        report(
            "behaviour:batch-dependence",
            o,
            f"of {labels[i]} depends on the other rows of its batch: {shown_r} in the whole set of {n}, "
            f"{shown_g} in {what} ({tol_text})",
        )
