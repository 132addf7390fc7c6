"""Format 1.1.0: the ``gamma`` constraint (HistFactory's shapesys) and ``fixed_parameters`` (issue 15, section 2).

The gamma term is checked against scipy's Gamma and Poisson densities and finite
differences; combinations against hand-built sums of the members' outputs; the schema
and semantic checks by the JSON pointer of each problem. The broken-bundle catalog
(tests/broken_catalog_parameters.py) runs the same defects through ``validate``,
``load`` and the JavaScript reader.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

import dnnlik
from dnnlik.bundle.semantics import iter_semantic_problems
from dnnlik.combine.constraints import ConstraintCorrection, term_grad, term_logpdf
from dnnlik.errors import InvalidInputError
from dnnlik.infer.maximize import _draw
from dnnlik.likelihoods import CallableLikelihood
from dnnlik.parameters import Constraint, Parameter
from dnnlik.schema import iter_schema_problems

GAMMAS = [Constraint("gamma", tau=25.0), Constraint("gamma", tau=4.0, aux=2.5), Constraint("gamma", tau=3.0, aux=0.0)]
BOX = (0.0, 10.0)


def scipy_gamma(c: Constraint, x: np.ndarray) -> np.ndarray:
    aux = c.tau if c.aux is None else c.aux
    return stats.gamma.logpdf(x, a=aux + 1.0, scale=1.0 / c.tau)


# --------------------------------------------------------------------------- the term
@pytest.mark.parametrize("c", GAMMAS, ids=lambda c: f"tau={c.tau:g},aux={c.aux}")
def test_gamma_term_is_scipys_gamma_density(c: Constraint) -> None:
    x = np.array([-1.0, -1e-12, 0.0, 1e-6, 0.3, 1.0, 1.7, 4.0])
    np.testing.assert_allclose(term_logpdf(c, BOX, x), scipy_gamma(c, x), rtol=1e-12, atol=1e-12)


def test_gamma_at_zero_and_below() -> None:
    assert term_logpdf(Constraint("gamma", tau=3.0, aux=0.0), BOX, np.array([0.0]))[0] == pytest.approx(math.log(3.0))
    assert term_logpdf(Constraint("gamma", tau=3.0, aux=0.5), BOX, np.array([0.0]))[0] == -np.inf
    assert np.all(term_logpdf(GAMMAS[0], BOX, np.array([-2.0, -1e-300])) == -np.inf)
    assert term_grad(Constraint("gamma", tau=3.0, aux=0.0), np.array([0.0])).tolist() == [-3.0]  # from the right
    assert np.isnan(term_grad(GAMMAS[1], np.array([0.0, -1.0]))).all()


@pytest.mark.parametrize("c", GAMMAS, ids=lambda c: f"tau={c.tau:g},aux={c.aux}")
def test_gamma_gradient_is_the_derivative(c: Constraint) -> None:
    x = np.array([0.05, 0.4, 1.0, 2.2, 6.0])
    h = 1e-6 * x
    numeric = (term_logpdf(c, BOX, x + h) - term_logpdf(c, BOX, x - h)) / (2 * h)
    np.testing.assert_allclose(term_grad(c, x), numeric, rtol=1e-6)


def test_gamma_term_is_pyhfs_poisson_term_plus_log_tau() -> None:
    """pyhf's shapesys term is log Poisson(aux | tau x); ours differs by ln tau only (spec 11.3)."""
    for tau, aux in ((25.0, 25), (4.0, 3), (9.0, 0)):
        x = np.array([0.2, 0.9, 1.0, 1.6])
        ours = term_logpdf(Constraint("gamma", tau=tau, aux=float(aux)), BOX, x)
        np.testing.assert_allclose(ours - stats.poisson.logpmf(aux, tau * x), math.log(tau), rtol=1e-12)


def test_constraint_json_round_trip_and_defaults() -> None:
    for c in (*GAMMAS, Constraint("normal", 0.0, 1.0), Constraint("none")):
        assert Constraint.from_json(json.loads(json.dumps(c.to_json()))) == c
    assert Constraint("gamma", tau=25.0).to_json() == {"type": "gamma", "tau": 25.0}  # aux absent stays absent
    assert Constraint("gamma", tau=25.0).resolved() == Constraint("gamma", tau=25.0, aux=25.0)
    assert Constraint("normal", 0.0, 1.0).resolved() == Constraint("normal", 0.0, 1.0)


# --------------------------------------------------------------------------- the vectorised correction
MIXED = [
    (0, -1.0, Constraint("normal", 0.5, 2.0)),
    (2, 1.0, Constraint("gamma", tau=4.0, aux=2.5)),
    (3, -2.0, Constraint("gamma", tau=3.0, aux=0.0)),
    (5, -1.0, Constraint("gamma", tau=25.0)),  # a removed copy: -w log x is +inf at x = 0, the term -inf
]


def correction_by_terms(
    terms: list[tuple[int, float, Constraint]], points: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """sum_j w_j c_j(x_j) term by term, and its gradient; -inf (NaN gradient) where a term is -inf."""
    value = np.zeros(points.shape[0])
    grad = np.zeros(points.shape)
    dead = np.zeros(points.shape[0], dtype=bool)
    for col, w, c in terms:
        t = term_logpdf(c, BOX, points[:, col])
        dead |= np.isneginf(t)
        value += w * np.where(np.isneginf(t), 0.0, t)
        grad[:, col] += w * term_grad(c, points[:, col])
    value[dead] = -np.inf
    return value, grad


@pytest.mark.parametrize("terms", [MIXED, MIXED[1:]], ids=["with-normal", "gamma-only"])
@pytest.mark.parametrize("n", [1, 7])
def test_correction_with_gamma_terms(terms: list[tuple[int, float, Constraint]], n: int) -> None:
    rng = np.random.default_rng(11)
    points = rng.uniform(0.05, 3.0, size=(n, 6))
    cols, weights, constraints = zip(*terms, strict=True)
    corr = ConstraintCorrection(cols, weights, constraints, constant=1.5)
    want, want_grad = correction_by_terms(terms, points)
    np.testing.assert_allclose(corr.value(points), want + 1.5, rtol=1e-12)
    grad = np.zeros_like(points)
    np.testing.assert_allclose(corr.value_and_grad(points, grad), want + 1.5, rtol=1e-12)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-12, atol=1e-15)
    assert not corr.is_constant


@pytest.mark.parametrize("n", [1, 3])
def test_correction_is_minus_inf_where_a_gamma_term_is(n: int) -> None:
    cols, weights, constraints = zip(*MIXED, strict=True)
    corr = ConstraintCorrection(cols, weights, constraints, constant=0.0)
    base = np.full((n, 6), 1.0)
    for col, value, finite in ((2, 0.0, False), (2, -0.5, False), (3, 0.0, True), (3, -0.1, False), (5, 0.0, False)):
        points = base.copy()
        points[:, col] = value
        want, want_grad = correction_by_terms(MIXED, points)
        assert np.isfinite(want).all() == finite  # the reference itself: aux = 0 is finite at x = 0
        grad = np.zeros_like(points)
        got = corr.value_and_grad(points, grad)
        np.testing.assert_allclose(got, want, rtol=1e-12)  # -inf rows must be -inf exactly
        np.testing.assert_allclose(corr.value(points), want, rtol=1e-12)
        if finite:
            np.testing.assert_allclose(grad, want_grad, rtol=1e-12)


# --------------------------------------------------------------------------- combinations
MU = Parameter("mu", role="poi", bounds=(0.0, 10.0), nominal=1.0)
GAMMA_P = Parameter("gamma_bin", bounds=(1e-10, 10.0), nominal=1.0, constraint=Constraint("gamma", tau=16.0))


def counting(scale: float, include: bool, params: tuple[Parameter, ...] = (MU, GAMMA_P), name: str | None = None):
    """One bin: n = 12 observed, mean scale * gamma + mu; plus the gamma term when ``include``."""

    def core(x: np.ndarray) -> np.ndarray:
        lam = scale * x[:, 1] + x[:, 0]
        return 12.0 * np.log(lam) - lam

    def f(x: np.ndarray) -> np.ndarray:
        return core(x) + (scipy_gamma(GAMMA_P.constraint, x[:, 1]) if include else 0.0)

    lik = CallableLikelihood(f, list(params), name=name or f"bin{scale:g}")
    lik.output = {"quantity": "log-likelihood", "includes_constraints": include, "offset": 0.0}  # type: ignore[attr-defined]
    return lik, core


POINTS = np.array([[1.0, 1.0], [0.3, 0.7], [2.5, 1.4], [0.0, 1e-3]])


@pytest.mark.parametrize("includes", [(True, True), (True, True, True), (False, False), (True, False)])
def test_shared_gamma_term_counted_once(includes: tuple[bool, ...]) -> None:
    made = [counting(5.0 + 2 * i, inc) for i, inc in enumerate(includes)]
    joint = dnnlik.combine([m for m, _ in made])
    assert joint.parameter_names == ("mu", "gamma_bin")
    # the hand-built product: each channel's core once, the gamma term once
    want = sum(core(POINTS) for _, core in made) + scipy_gamma(GAMMA_P.constraint, POINTS[:, 1])
    np.testing.assert_allclose(joint.logpdf(POINTS), want, rtol=1e-12)
    # and from the members' own outputs: k copies included, k - 1 removed (or one added when k = 0)
    k = sum(includes)
    by_members = sum(m.logpdf(POINTS) for m, _ in made) + (1 - k) * scipy_gamma(GAMMA_P.constraint, POINTS[:, 1])
    np.testing.assert_allclose(joint.logpdf(POINTS), by_members, rtol=1e-12)
    h = 1e-6
    grad = joint.grad_logpdf(POINTS[:3])
    for j in range(2):
        step = np.zeros(2)
        step[j] = h
        numeric = (joint.logpdf(POINTS[:3] + step) - joint.logpdf(POINTS[:3] - step)) / (2 * h)
        np.testing.assert_allclose(grad[:, j], numeric, rtol=1e-5)
    terms = {t["parameter"]: t for t in joint.describe()["constraints"]}
    if k == 1:
        assert "gamma_bin" not in terms  # kept as its one member has it
    else:
        assert terms["gamma_bin"]["type"] == "gamma" and terms["gamma_bin"]["removed"] == max(k - 1, 0)


def test_one_point_path_matches_the_batch() -> None:
    joint = dnnlik.combine([counting(5.0, True)[0], counting(9.0, True)[0]])
    batch, batch_grad = joint.logpdf_and_grad(POINTS)
    for row, value, g in zip(POINTS, batch, batch_grad, strict=True):
        one, one_grad = joint.logpdf_and_grad(row)
        assert one == pytest.approx(value, rel=1e-13)
        np.testing.assert_allclose(one_grad, g, rtol=1e-12)


def test_gamma_constraints_must_agree() -> None:
    other = Parameter("gamma_bin", bounds=GAMMA_P.bounds, nominal=1.0, constraint=Constraint("gamma", tau=9.0))
    a, _ = counting(5.0, True, name="a")
    b, _ = counting(7.0, True, params=(MU, other), name="b")
    with pytest.raises(InvalidInputError) as info:
        dnnlik.combine([a, b])
    text = str(info.value)
    assert "'a'" in text and "'b'" in text and "'gamma_bin'" in text and "tau=16" in text and "tau=9" in text
    # aux absent is aux = tau: the same term written two ways
    explicit = Parameter(
        "gamma_bin", bounds=GAMMA_P.bounds, nominal=1.0, constraint=Constraint("gamma", tau=16.0, aux=16.0)
    )
    c, _ = counting(7.0, True, params=(MU, explicit), name="c")
    assert dnnlik.combine([a, c]).parameter_names == ("mu", "gamma_bin")


def test_a_member_with_a_malformed_gamma_is_refused() -> None:
    bad = Parameter("g", bounds=(0.0, 5.0), nominal=1.0, constraint=Constraint("gamma", tau=-1.0))
    lik = CallableLikelihood(lambda x: -x[:, 0], [bad], name="m")
    with pytest.raises(InvalidInputError, match=r"member 'm'.*'g'.*tau > 0"):
        dnnlik.combine([lik])


def test_random_starts_are_drawn_from_the_gamma() -> None:
    """Mean (aux + 1) / tau, variance (aux + 1) / tau^2: 20000 draws within 5 standard errors."""
    p = Parameter("g", bounds=(0.0, math.inf), nominal=1.0, constraint=Constraint("gamma", tau=4.0, aux=3.0))
    rng = np.random.default_rng(5)
    draws = np.array([_draw(p, rng) for _ in range(20000)])
    assert draws.min() > 0
    assert abs(draws.mean() - 1.0) < 5 * math.sqrt(4.0 / 16.0 / draws.size)


# --------------------------------------------------------------------------- fixed parameters in combinations
def fixing(name: str, fixed: dict[str, float] | None, params: tuple[Parameter, ...] = (MU,)):
    lik = CallableLikelihood(lambda x: -0.5 * x[:, 0] ** 2, list(params), name=name)
    if fixed is not None:
        lik.fixed_parameters = fixed  # type: ignore[attr-defined]
    return lik


LUMI = Parameter("lumi", bounds=(0.5, 1.5), nominal=1.0, constraint=Constraint("normal", 1.0, 0.02))


def test_fixed_in_one_member_free_in_another_is_refused() -> None:
    with pytest.raises(InvalidInputError) as info:
        dnnlik.combine([fixing("a", {"lumi": 1.0}), fixing("b", None, (MU, LUMI))])
    text = str(info.value)
    assert "member 'a' fixes parameter 'lumi' at 1" in text and "member 'b' has it free" in text
    # the other order too
    with pytest.raises(InvalidInputError, match=r"member 'a' fixes parameter 'lumi'.*member 'b' has it free"):
        dnnlik.combine([fixing("b", None, (MU, LUMI)), fixing("a", {"lumi": 1.0})])


def test_fixed_at_different_values_is_refused() -> None:
    with pytest.raises(InvalidInputError) as info:
        dnnlik.combine([fixing("a", {"lumi": 1.0}), fixing("b", {"lumi": 1.1})])
    text = str(info.value)
    assert "members 'a' and 'b' fix parameter 'lumi' at different values: 1 in 'a', 1.1 in 'b'" in text


def test_fixed_parameters_that_agree_are_kept() -> None:
    joint = dnnlik.combine([fixing("a", {"lumi": 1.0, "k": 2.0}), fixing("b", {"lumi": 1.0})])
    assert dict(joint.fixed_parameters) == {"lumi": 1.0, "k": 2.0}
    assert joint.parameter_names == ("mu",)
    # a renamed free parameter is another parameter
    renamed = dnnlik.combine(
        [fixing("a", {"lumi": 1.0}), fixing("b", None, (MU, LUMI))], renames={"b": {"lumi": "lumi_b"}}
    )
    assert renamed.parameter_names == ("mu", "lumi_b")
    # a combination passes its fixed parameters on when it is a member itself
    with pytest.raises(InvalidInputError, match=r"member 'inner' fixes parameter 'lumi'.*member 'c' has it free"):
        dnnlik.combine({"inner": joint, "c": fixing("c", None, (MU, LUMI))})
    assert dict(dnnlik.combine([fixing("x", None)]).fixed_parameters) == {}


def test_malformed_fixed_parameters_of_a_source_are_refused() -> None:
    with pytest.raises(InvalidInputError, match=r"member 'a'.*mapping"):
        dnnlik.combine([fixing("a", [("lumi", 1.0)])])  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match=r"member 'a'.*finite numbers"):
        dnnlik.combine([fixing("a", {"lumi": float("nan")})])


# --------------------------------------------------------------------------- schema and semantics
@pytest.fixture(scope="module")
def document(gaussian_bundle: Path) -> dict[str, Any]:
    return json.loads((gaussian_bundle / "bundle.json").read_text(encoding="utf-8"))


def _problems(doc: dict[str, Any]) -> set[tuple[str, str]]:
    found = {(p.code, p.location) for p in iter_schema_problems(doc, doc["format_version"])}
    if not found:
        found = {(p.code, p.location) for p in iter_semantic_problems(doc, set())}
    return found


def _with_constraint(doc: dict[str, Any], constraint: dict[str, Any], **param: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    doc["parameters"][1]["constraint"] = constraint
    doc["parameters"][1].update(param)
    return doc


AT = "bundle.json#/parameters/1/constraint"


@pytest.mark.parametrize(
    "constraint, expected",
    [
        ({"type": "gamma", "tau": 25.0}, set()),
        ({"type": "gamma", "tau": 4, "aux": 0}, set()),
        ({"type": "gamma", "tau": 4.0, "aux": 7.5}, set()),
        ({"type": "gamma"}, {("schema:required", AT)}),
        ({"type": "gamma", "aux": 3.0}, {("schema:required", AT)}),
        ({"type": "gamma", "tau": 0}, {("schema:exclusiveMinimum", AT + "/tau")}),
        ({"type": "gamma", "tau": -2.0}, {("schema:exclusiveMinimum", AT + "/tau")}),
        ({"type": "gamma", "tau": 2.0, "aux": -1}, {("schema:minimum", AT + "/aux")}),
        ({"type": "gamma", "tau": "2"}, {("schema:type", AT + "/tau")}),
        ({"type": "gamma", "tau": 2.0, "mean": 1.0}, {("schema:not", AT)}),
        ({"type": "normal", "mean": 0.0, "sigma": 1.0, "tau": 2.0}, {("schema:not", AT)}),
        ({"type": "none", "aux": 2.0}, {("schema:not", AT)}),
        ({"type": "gamma", "tau": 2.0, "rate": 2.0}, {("schema:additionalProperties", AT)}),
    ],
)
def test_schema_of_the_gamma_constraint(document: dict[str, Any], constraint: dict, expected: set) -> None:
    assert _problems(_with_constraint(document, constraint)) == expected


def test_gamma_bounds_must_allow_positive_values(document: dict[str, Any]) -> None:
    gamma = {"type": "gamma", "tau": 9.0}
    for bounds, nominal, ok in (([-10.0, -1.0], -5.0, False), ([-10.0, 0.0], -1.0, False), ([0.0, None], 1.0, True)):
        doc = _with_constraint(document, gamma, bounds=bounds, nominal=nominal, training_range=[nominal, nominal])
        assert _problems(doc) == (set() if ok else {("semantics:gamma-support", AT)}), bounds


def test_format_1_0_0_is_unchanged(document: dict[str, Any]) -> None:
    old = copy.deepcopy(document)
    old["format_version"] = "1.0.0"
    old["test_vectors"].pop("tolerances")
    assert _problems(old) == set()
    gamma = _with_constraint(old, {"type": "gamma", "tau": 2.0})
    assert ("schema:enum", AT + "/type") in _problems(gamma)
    fixed = {**old, "fixed_parameters": [{"name": "theta_1", "value": 0.0}]}
    assert _problems(fixed) == {("schema:additionalProperties", "bundle.json")}  # no semantic check, no crash


def _with_fixed(doc: dict[str, Any], fixed: Any) -> dict[str, Any]:
    return {**copy.deepcopy(doc), "fixed_parameters": fixed}


@pytest.mark.parametrize(
    "fixed, expected",
    [
        ([], set()),
        ([{"name": "lumi", "value": 1.0}], set()),
        (
            [{"name": "lumi", "value": 1, "unit": "", "description": "luminosity scale"}, {"name": "k.2", "value": -3}],
            set(),
        ),
        (
            [{"name": "theta_2", "value": 0.0}],
            {("semantics:fixed-parameter-clash", "bundle.json#/fixed_parameters/0/name")},
        ),
        (
            [{"name": "lumi", "value": 1.0}, {"name": "lumi", "value": 2.0}],
            {("semantics:duplicate-name", "bundle.json#/fixed_parameters/1/name")},
        ),
        ([{"name": "lumi"}], {("schema:required", "bundle.json#/fixed_parameters/0")}),
        ([{"value": 1.0}], {("schema:required", "bundle.json#/fixed_parameters/0")}),
        ([{"name": "lumi", "value": "1"}], {("schema:type", "bundle.json#/fixed_parameters/0/value")}),
        ([{"name": "lumi", "value": None}], {("schema:type", "bundle.json#/fixed_parameters/0/value")}),
        ([{"name": "2lumi", "value": 1.0}], {("schema:pattern", "bundle.json#/fixed_parameters/0/name")}),
        ([{"name": "lumi\n", "value": 1.0}], {("schema:pattern", "bundle.json#/fixed_parameters/0/name")}),
        (
            [{"name": "lumi", "value": 1.0, "sigma": 0.1}],
            {("schema:additionalProperties", "bundle.json#/fixed_parameters/0")},
        ),
        ({"lumi": 1.0}, {("schema:type", "bundle.json#/fixed_parameters")}),
    ],
)
def test_schema_and_semantics_of_fixed_parameters(document: dict[str, Any], fixed: Any, expected: set) -> None:
    assert _problems(_with_fixed(document, fixed)) == expected


def test_a_bundle_with_gamma_and_fixed_parameters(gaussian_bundle: Path, tmp_path: Path) -> None:
    """Validated, loaded, shown by summary(), and combined (refused against a member that frees lumi)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from broken_catalog import rebuild

    def edit(d: dict[str, Any]) -> None:
        d["parameters"][1].update(bounds=[0.0, 10.0], nominal=1.0, training_range=[0.0, 6.0])
        d["parameters"][1]["constraint"] = {"type": "gamma", "tau": 4.0, "aux": 3.0}
        d["fixed_parameters"] = [{"name": "lumi", "value": 1.02, "unit": "", "description": "luminosity scale"}]

    path = rebuild(gaussian_bundle, tmp_path / "bundle", edit_document=edit)
    report = dnnlik.validate(path)
    assert report.ok, report.to_text()
    bundle = dnnlik.load(path)
    assert dict(bundle.fixed_parameters) == {"lumi": 1.02}
    assert bundle.parameters[1].constraint == Constraint("gamma", tau=4.0, aux=3.0)
    text = bundle.summary()
    assert "lumi" in text and "1.02" in text and "gamma" in text
    assert dict(dnnlik.load(gaussian_bundle).fixed_parameters) == {}
    free_lumi = fixing("free", None, (Parameter("mu", role="poi", bounds=(-10.0, 10.0)), LUMI))
    with pytest.raises(InvalidInputError, match=r"member 'gaussian-4d' fixes parameter 'lumi' at 1.02.*'free'"):
        dnnlik.combine([bundle, free_lumi])
