"""Issue 14, sections 1, 2: matching names, counting constraint terms once, refusing what cannot be multiplied.

Members here are small CallableLikelihoods whose log-density is written out by
hand, so that every expected value is a formula on the page.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

import dnnlik
from dnnlik.combine.constraints import term_grad, term_logpdf
from dnnlik.errors import InvalidInputError
from dnnlik.likelihoods import CallableLikelihood
from dnnlik.parameters import Constraint, Parameter

LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
MU = Parameter("mu", role="poi", bounds=(-1.0, 5.0), nominal=0.0, constraint=Constraint("uniform"))
THETA = Parameter("theta", bounds=(-5.0, 5.0), constraint=Constraint("normal", 0.0, 1.0))
KAPPA = Parameter("kappa", bounds=(0.0, 10.0), nominal=1.0, constraint=Constraint("lognormal", 1.0, 0.2))


def normal_term(x, mean=0.0, sigma=1.0):
    return -0.5 * ((x - mean) / sigma) ** 2 - math.log(sigma) - LOG_SQRT_2PI


def lognormal_term(x, mean=1.0, sigma=0.2):
    return -0.5 * ((np.log(x) - math.log(mean)) / sigma) ** 2 - np.log(x) - math.log(sigma) - LOG_SQRT_2PI


def poisson_like(scale: float):
    """log L(mu, theta, kappa) of one counting channel (no constraint terms): a smooth, hand-checkable core."""

    def core(x):
        mu, theta, kappa = x[:, 0], x[:, 1], x[:, 2]
        n = scale * (1.0 + 0.1 * theta) * kappa + mu
        return 7.0 * np.log(n) - n

    return core


def member(scale: float, *, include: bool, offset: float = 0.0, params=(MU, THETA, KAPPA), name=None):
    """A channel whose output is ``core + offset`` plus, with ``include``, its constraint terms."""
    core = poisson_like(scale)

    def f(x):
        out = core(x) + offset
        if include:
            out = out - math.log(6.0) + normal_term(x[:, 1]) + lognormal_term(x[:, 2])
        return out

    lik = CallableLikelihood(f, list(params), name=name or f"ch{scale:g}")
    lik.output = {"quantity": "log-likelihood", "includes_constraints": include, "offset": offset}  # type: ignore[attr-defined]
    return lik


def expected(x, scales):
    """sum of the channels' cores + each constraint term once (uniform over [-1, 5] is -log 6)."""
    total = sum(poisson_like(s)(x) for s in scales)
    return total - math.log(6.0) + normal_term(x[:, 1]) + lognormal_term(x[:, 2])


POINTS = np.array([[0.3, 0.5, 1.1], [2.0, -1.2, 0.7], [-0.5, 0.0, 1.0], [4.0, 2.0, 3.0]])


# --------------------------------------------------------------------------- constraint terms
def test_term_log_densities_are_normalised():
    x = np.linspace(-8, 8, 200001)
    dx = x[1] - x[0]
    for c in (Constraint("normal", 0.5, 1.5),):
        assert np.exp(term_logpdf(c, (-8, 8), x)).sum() * dx == pytest.approx(1.0, abs=1e-6)
    y = np.linspace(1e-6, 10, 400001)
    ln = Constraint("lognormal", 1.2, 0.3)
    assert np.exp(term_logpdf(ln, (0, 10), y)).sum() * (y[1] - y[0]) == pytest.approx(1.0, abs=1e-4)
    assert term_logpdf(ln, (-1, 10), np.array([0.0, -0.5])).tolist() == [-np.inf, -np.inf]
    assert term_logpdf(Constraint("uniform"), (-1.0, 5.0), np.array([0.0, 6.0])).tolist() == [-math.log(6), -np.inf]
    assert term_logpdf(Constraint("none"), (-1.0, 5.0), np.array([3.0])).tolist() == [0.0]
    for c in (Constraint("normal", 0.5, 1.5), ln):
        h = 1e-6
        at = np.array([0.4, 1.3, 2.5])
        numeric = (term_logpdf(c, (0, 10), at + h) - term_logpdf(c, (0, 10), at - h)) / (2 * h)
        np.testing.assert_allclose(term_grad(c, at), numeric, rtol=1e-7)


@pytest.mark.parametrize(
    "includes", [(True, True), (True, True, True), (False, False), (True, False), (False, True, True)]
)
def test_each_constraint_term_counted_once(includes):
    scales = [10.0 + 3 * i for i in range(len(includes))]
    members = [member(s, include=inc) for s, inc in zip(scales, includes, strict=True)]
    joint = dnnlik.combine(members)
    assert joint.parameter_names == ("mu", "theta", "kappa")
    np.testing.assert_allclose(joint.logpdf(POINTS), expected(POINTS, scales), rtol=1e-12)
    # the gradient, against central differences of the combination's own logpdf
    h = 1e-6
    grad = joint.grad_logpdf(POINTS)
    for j in range(3):
        step = np.zeros(3)
        step[j] = h
        numeric = (joint.logpdf(POINTS + step) - joint.logpdf(POINTS - step)) / (2 * h)
        np.testing.assert_allclose(grad[:, j], numeric, rtol=1e-5, atol=1e-6)
    k = sum(includes)
    terms = {t["parameter"]: t for t in joint.describe()["constraints"]}
    if k == 1:
        assert terms == {}
    else:
        assert set(terms) == {"mu", "theta", "kappa"}
        assert all(t["removed"] == max(k - 1, 0) and t["added"] == int(k == 0) for t in terms.values())


def test_offsets_are_removed():
    a = member(10.0, include=True, offset=250.0, name="a")
    b = member(13.0, include=True, offset=-4.5, name="b")
    joint = dnnlik.combine([a, b])
    np.testing.assert_allclose(joint.logpdf(POINTS), expected(POINTS, [10.0, 13.0]), rtol=1e-12)
    assert joint.describe()["offsets_removed"] == {"a": 250.0, "b": -4.5}


def test_a_single_member_is_normalised():
    """One member that excludes its constraints: the combination adds them (and is then a complete log L)."""
    joint = dnnlik.combine([member(10.0, include=False)])
    np.testing.assert_allclose(joint.logpdf(POINTS), expected(POINTS, [10.0]), rtol=1e-12)
    assert joint.output == {"quantity": "log-likelihood", "includes_constraints": True, "offset": 0.0}


def test_single_point_and_mapping_forms():
    joint = dnnlik.combine([member(10.0, include=True), member(12.0, include=True)])
    one = joint.logpdf(POINTS[0])
    assert np.ndim(one) == 0 and one == pytest.approx(expected(POINTS[:1], [10.0, 12.0])[0], rel=1e-12)
    value, grad = joint.logpdf_and_grad({"mu": 0.3, "theta": 0.5, "kappa": 1.1})
    assert value == pytest.approx(one, rel=1e-14) and grad.shape == (3,)
    np.testing.assert_allclose(grad, joint.grad_logpdf(POINTS)[0], rtol=1e-14)
    outside = joint.logpdf_and_grad([6.0, 0.0, 1.0])
    assert outside[0] == -np.inf and np.isnan(outside[1]).all()


# --------------------------------------------------------------------------- log-posteriors
def test_log_posterior_with_every_prior_declared_is_accepted():
    post = member(10.0, include=True, name="post")
    post.output = {**post.output, "quantity": "log-posterior"}  # type: ignore[attr-defined]
    joint = dnnlik.combine([post, member(12.0, include=True)])
    np.testing.assert_allclose(joint.logpdf(POINTS), expected(POINTS, [10.0, 12.0]), rtol=1e-12)


def test_log_posterior_whose_prior_cannot_be_separated_is_refused():
    bare = Parameter("mu", role="poi", bounds=(-1.0, 5.0))  # no constraint: its prior is undescribed
    post = member(10.0, include=True, params=(bare, THETA, KAPPA), name="post")
    post.output = {**post.output, "quantity": "log-posterior"}  # type: ignore[attr-defined]
    with pytest.raises(InvalidInputError, match=r"member 'post': .*log-posterior and parameter 'mu' declares no"):
        dnnlik.combine([post, member(12.0, include=True)])
    post2 = member(10.0, include=False, name="post2")
    post2.output = {**post2.output, "quantity": "log-posterior"}  # type: ignore[attr-defined]
    with pytest.raises(InvalidInputError, match=r"member 'post2': .*excludes its constraint terms"):
        dnnlik.combine([post2])


# --------------------------------------------------------------------------- members that cannot be multiplied
def test_unknown_offset_and_bad_conventions_are_refused():
    lik = member(10.0, include=True, name="x")
    lik.output = {**lik.output, "offset": None}  # type: ignore[attr-defined]
    with pytest.raises(InvalidInputError, match=r"member 'x': cannot be multiplied: its offset is unknown"):
        dnnlik.combine([lik])
    lik.output = {**lik.output, "offset": 0.0, "quantity": "log-probability"}  # type: ignore[attr-defined]
    with pytest.raises(InvalidInputError, match=r"member 'x': cannot be multiplied: its output quantity"):
        dnnlik.combine([lik])
    lik.output = {**lik.output, "quantity": "log-likelihood", "includes_constraints": "yes"}  # type: ignore[attr-defined]
    with pytest.raises(InvalidInputError, match="includes_constraints is 'yes'"):
        dnnlik.combine([lik])


def test_non_likelihood_kind_is_refused():
    class Classifier(CallableLikelihood):
        kind = "classifier"

    clf = Classifier(lambda x: x[:, 0], ["score"], name="tagger")
    with pytest.raises(InvalidInputError, match=r"member 'tagger': cannot be multiplied: it is a 'classifier'"):
        dnnlik.combine([member(10.0, include=True), clf])


def test_non_log_density_members_are_refused():
    with pytest.raises(InvalidInputError, match=r"member 'member2': is a int, not a log-density"):
        dnnlik.combine([member(10.0, include=True), 3])
    with pytest.raises(InvalidInputError, match="members: must be a list"):
        dnnlik.combine(member(10.0, include=True))
    with pytest.raises(InvalidInputError, match="no members"):
        dnnlik.combine([])


def test_member_names():
    a, b = member(10.0, include=True, name="same"), member(12.0, include=True, name="same")
    with pytest.raises(InvalidInputError, match=r"members 0 and 1 are both named 'same'.*names="):
        dnnlik.combine([a, b])
    joint = dnnlik.combine([a, b], names=["a", "b"])
    assert joint.member_names == ("a", "b")
    assert dnnlik.combine({"left": a, "right": b}).member_names == ("left", "right")
    with pytest.raises(InvalidInputError, match="2 name"):
        dnnlik.combine([a], names=["x", "y"])
    with pytest.raises(InvalidInputError, match="either as the members' keys or as names="):
        dnnlik.combine({"left": a}, names=["x"])


# --------------------------------------------------------------------------- conflicts between same-named parameters
def _with(param: Parameter, name: str):
    return member(12.0, include=True, params=(MU, param, KAPPA), name=name)


@pytest.mark.parametrize(
    ("other", "what"),
    [
        (Parameter("theta", bounds=(-5.0, 5.0), constraint=Constraint("normal", 0.0, 2.0)), "constraint"),
        (Parameter("theta", bounds=(-5.0, 5.0), constraint=Constraint("lognormal", 1.0, 1.0)), "constraint"),
        (Parameter("theta", role="auxiliary", bounds=(-5.0, 5.0), constraint=THETA.constraint), "role"),
        (Parameter("theta", bounds=(-3.0, 5.0), constraint=THETA.constraint), "bounds"),
        (Parameter("theta", bounds=(-5.0, 5.0), constraint=THETA.constraint, unit="GeV"), None),
    ],
)
def test_same_named_parameters_that_disagree(other, what):
    a = member(10.0, include=True, name="alpha")
    a.parameters = (MU, Parameter("theta", bounds=(-5.0, 5.0), constraint=THETA.constraint, unit="TeV"), KAPPA)
    what = what or "unit"
    with pytest.raises(InvalidInputError) as err:
        dnnlik.combine([a, _with(other, "beta")])
    message = str(err.value)
    assert f"members 'alpha' and 'beta' disagree on the {what} of parameter 'theta'" in message
    assert "\n" not in message


def test_bounds_intersection_on_request():
    wide = member(10.0, include=True, name="wide")
    narrow = _with(Parameter("theta", bounds=(-2.0, 8.0), constraint=THETA.constraint), "narrow")
    with pytest.raises(InvalidInputError, match=r"pass bounds='intersect'"):
        dnnlik.combine([wide, narrow])
    joint = dnnlik.combine([wide, narrow], bounds="intersect")
    theta = joint.parameters[1]
    assert theta.bounds == (-2.0, 5.0)
    assert joint.describe()["intersected"] == {"theta": [-2.0, 5.0]}
    # -inf outside the intersection, even where one member alone is finite
    assert joint.logpdf([0.5, -3.0, 1.0]) == -np.inf
    assert np.isfinite(joint.logpdf([0.5, -1.0, 1.0]))
    disjoint = _with(Parameter("theta", bounds=(6.0, 8.0), constraint=THETA.constraint), "far")
    with pytest.raises(InvalidInputError, match=r"bounds of parameter 'theta' do not intersect.*'far'"):
        dnnlik.combine([wide, disjoint], bounds="intersect")
    with pytest.raises(InvalidInputError, match="bounds: must be one of"):
        dnnlik.combine([wide], bounds="union")


def test_uniform_term_renormalised_over_the_intersection():
    a = CallableLikelihood(lambda x: np.full(x.shape[0], -math.log(6.0)), [MU], name="a")
    narrow_mu = Parameter("mu", role="poi", bounds=(0.0, 2.0), constraint=Constraint("uniform"))
    b = CallableLikelihood(lambda x: np.full(x.shape[0], -math.log(2.0)), [narrow_mu], name="b")
    joint = dnnlik.combine([a, b], bounds="intersect")
    assert joint.logpdf([1.0]) == pytest.approx(-math.log(2.0), rel=1e-14)  # one flat term, over [0, 2]


# --------------------------------------------------------------------------- renames and separation
def test_renames_match_differently_named_parameters():
    a = member(10.0, include=True, name="a")
    b = member(13.0, include=True, params=(MU, replace(THETA, name="alpha_syst"), KAPPA), name="b")
    apart = dnnlik.combine([a, b])
    assert apart.parameter_names == ("mu", "theta", "kappa", "alpha_syst")
    joint = dnnlik.combine([a, b], renames={"b": {"alpha_syst": "theta"}})
    assert joint.parameter_names == ("mu", "theta", "kappa")
    np.testing.assert_allclose(joint.logpdf(POINTS), expected(POINTS, [10.0, 13.0]), rtol=1e-12)
    same = dnnlik.combine([a, b], renames=[None, {"alpha_syst": "theta"}])
    np.testing.assert_allclose(same.logpdf(POINTS), joint.logpdf(POINTS), rtol=0)
    assert joint.describe()["members"][1]["renamed"] == {"alpha_syst": "theta"}
    with pytest.raises(InvalidInputError, match=r"renames: no member is named 'c'"):
        dnnlik.combine([a, b], renames={"c": {}})
    with pytest.raises(InvalidInputError, match=r"member 'b' has no parameter 'beta'"):
        dnnlik.combine([a, b], renames={"b": {"beta": "theta"}})
    with pytest.raises(InvalidInputError, match=r"two parameters of member 'a' would both be called 'mu'"):
        dnnlik.combine([a, b], renames={"a": {"theta": "mu"}})
    with pytest.raises(InvalidInputError, match="1 rename map"):
        dnnlik.combine([a, b], renames=[{}])


def test_separate_keeps_same_named_parameters_apart():
    a, b = member(10.0, include=True, name="a"), member(13.0, include=True, name="b")
    joint = dnnlik.combine([a, b], separate=["theta"])
    assert joint.parameter_names == ("mu", "a:theta", "kappa", "b:theta")
    assert joint.columns("b") == (0, 3, 2) and joint.columns(0) == (0, 1, 2)
    x = np.array([[0.3, 0.5, 1.1, -0.7]])
    want = (
        poisson_like(10.0)(x[:, [0, 1, 2]])
        + poisson_like(13.0)(x[:, [0, 3, 2]])
        - math.log(6.0)
        + normal_term(x[:, 1])
        + normal_term(x[:, 3])
        + lognormal_term(x[:, 2])
    )
    np.testing.assert_allclose(joint.logpdf(x), want, rtol=1e-12)
    with pytest.raises(InvalidInputError, match=r"separate: no member has a parameter 'nope'"):
        dnnlik.combine([a, b], separate=["nope"])
    clash = member(1.0, include=True, params=(MU, replace(THETA, name="a:theta")), name="c")
    with pytest.raises(InvalidInputError, match=r"names member 'a''s copy 'a:theta', which another member"):
        dnnlik.combine([a, b, clash], separate="theta")
    with pytest.raises(InvalidInputError, match="no member 'z'"):
        joint.columns("z")
