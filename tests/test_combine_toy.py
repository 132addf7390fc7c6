"""Issue 14, section 5: the toy's three categories, combined, are the full 95-parameter toy.

The exact per-category likelihoods each include mu's flat prior (``-log 5``) and
the N(0, 1) terms of the four shared systematics: the combination removes two
copies of each, so it equals the full toy up to a constant, ``2 log(6/5)`` (the
toy writes mu's flat term ``-log 5``; the combination counts the normalised
``-log 6`` over [-1, 5]).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import dnnlik
from dnnlik import infer, likelihoods
from dnnlik.likelihoods import CallableLikelihood, ToyLHCLikeCategory

CONSTANT = 2.0 * math.log(6.0 / 5.0)
MU = np.round(np.arange(0.0, 1.0001, 0.1), 10)


@pytest.fixture(scope="module")
def cats() -> list[ToyLHCLikeCategory]:
    out = [likelihoods.get(f"toy-lhc-like-cat{c}") for c in (1, 2, 3)]
    assert all(isinstance(c, ToyLHCLikeCategory) for c in out)
    return out  # type: ignore[return-value]


@pytest.fixture(scope="module")
def full() -> likelihoods.ToyLHCLike:
    return likelihoods.get("toy-lhc-like")  # type: ignore[return-value]


@pytest.fixture(scope="module")
def joint(cats: list[ToyLHCLikeCategory]) -> dnnlik.combine.Combination:
    return dnnlik.combine(cats)


@pytest.fixture(scope="module")
def full_scan(full: likelihoods.ToyLHCLike) -> infer.TmuScan:
    return infer.tmu_scan(full, MU)


def random_points(n: int, seed: int) -> np.ndarray:
    """Points of the full toy's parameters (its order), mostly inside the support."""
    rng = np.random.default_rng(seed)
    x = np.empty((n, 95))
    x[:, 0] = rng.uniform(-0.9, 3.0, n)
    x[:, 1:91] = np.clip(rng.normal(0.0, 1.0, (n, 90)), -4.5, 4.5)
    x[:, 91:] = rng.uniform(-2.5, 2.5, (n, 4))
    return x


# --------------------------------------------------------------------------- the categories
def test_categories_are_the_full_toys_parameters(cats, full):
    names = full.parameter_names
    for c, cat in enumerate(cats):
        assert cat.name == f"toy-lhc-like-cat{c + 1}"
        assert len(cat.parameters) == 35
        own = [f"mcstat_{i}" for i in range(30 * c, 30 * c + 30)]
        assert cat.parameter_names == ("mu", *own, "isr", "jes", "lv", "cr")
        # the same Parameter entries as the full toy's (bounds, constraints, descriptions)
        assert cat.parameters == tuple(full.parameters[names.index(n)] for n in cat.parameter_names)
        assert cat.output == {"quantity": "log-likelihood", "includes_constraints": True, "offset": 0.0}
        info = cat.describe()
        assert info["categories"] == [c + 1] and info["bins"] == [[30 * c, 30 * c + 29]]
        assert info["version"] == full.describe()["version"]
    assert "categories" not in full.describe()  # the full toy's description is as it was


def test_category_gradient_is_exact(cats):
    cat = cats[1]
    rng = np.random.default_rng(4)
    x = np.clip(rng.normal(0.0, 0.7, (3, 35)), -3, 3)
    x[:, 0] = [0.2, 1.0, 2.5]
    value, grad = cat.logpdf_and_grad(x)
    h = 1e-6
    for j in (0, 1, 17, 31, 32, 33, 34):
        step = np.zeros(35)
        step[j] = h
        numeric = (cat.logpdf(x + step) - cat.logpdf(x - step)) / (2 * h)
        np.testing.assert_allclose(grad[:, j], numeric, rtol=1e-6, atol=1e-6)
    assert np.array_equal(value, cat.logpdf(x))


def test_bad_category_number():
    for bad in (0, 4, True, "1"):
        with pytest.raises(ValueError, match="category must be 1, 2 or 3"):
            ToyLHCLikeCategory(bad)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- exactness
def test_combination_is_the_full_toy_up_to_a_constant(joint, full):
    assert len(joint.parameters) == 95 and set(joint.parameter_names) == set(full.parameter_names)
    assert joint.exact_gradient
    order = [full.parameter_names.index(n) for n in joint.parameter_names]
    x = random_points(2000, seed=1)
    want, want_grad = full.logpdf_and_grad(x)
    got, got_grad = joint.logpdf_and_grad(x[:, order])
    finite = np.isfinite(want)
    assert finite.sum() > 1500 and np.array_equal(np.isfinite(got), finite)  # -inf at the same points
    diff = got[finite] - want[finite]
    # the same constant everywhere, to ~1e-9 relative to the log-density
    assert np.max(np.abs(diff - CONSTANT) / np.abs(want[finite])) < 1e-9
    np.testing.assert_allclose(got_grad[finite], want_grad[finite][:, order], rtol=1e-9, atol=1e-9)
    assert np.isnan(got_grad[~finite]).all()
    np.testing.assert_allclose(joint.logpdf(x[:, order]), got, rtol=0, atol=0)


def test_combination_describes_what_it_removed(joint):
    info = joint.describe()
    assert [m["name"] for m in info["members"]] == [f"toy-lhc-like-cat{c}" for c in (1, 2, 3)]
    assert info["shared"] == {n: [f"toy-lhc-like-cat{c}" for c in (1, 2, 3)] for n in ("mu", "isr", "jes", "lv", "cr")}
    removed = {t["parameter"]: (t["type"], t["removed"], t["added"]) for t in info["constraints"]}
    assert removed == {"mu": ("uniform", 2, 0), **{n: ("normal", 2, 0) for n in ("isr", "jes", "lv", "cr")}}
    assert info["offsets_removed"] == {}
    assert "constraint of jes (normal): 2 copies removed" in joint.summary()


def test_tmu_scan_matches_the_full_toy(joint, full_scan):
    scan = infer.tmu_scan(joint, MU)
    np.testing.assert_allclose(scan.tmu, full_scan.tmu, rtol=0, atol=1e-6)
    assert scan.best.logpdf - full_scan.best.logpdf == pytest.approx(CONSTANT, abs=1e-6)
    assert scan.tmu[-1] == pytest.approx(7.374, abs=0.01)  # the toy README's t_mu(1)


def test_maximize_on_a_combination(joint, full):
    best = infer.maximize(joint)
    ref = infer.maximize(full)
    assert best.logpdf - ref.logpdf == pytest.approx(CONSTANT, abs=1e-6)
    mu_hat = best.point[joint.parameter_names.index("mu")]
    assert mu_hat == pytest.approx(ref.point[0], abs=1e-4)
    fixed = infer.maximize(joint, fixed={"mu": 1.0, "jes": 0.5})
    assert fixed.point[joint.parameter_names.index("jes")] == 0.5


def test_nested_combination_is_the_same(cats, joint):
    inner = dnnlik.combine(cats[:2], name="cat12")
    nested = dnnlik.combine([inner, cats[2]])
    assert nested.parameter_names == joint.parameter_names
    x = random_points(50, seed=3)[:, : len(joint.parameters)]
    x[:, 0] = np.linspace(-0.5, 2.0, 50)
    np.testing.assert_allclose(nested.logpdf(x), joint.logpdf(x), rtol=1e-13)
    np.testing.assert_allclose(nested.grad_logpdf(x), joint.grad_logpdf(x), rtol=1e-12, atol=1e-12)
    assert nested.describe()["members"][0]["source"]["members"][1]["name"] == "toy-lhc-like-cat2"


def test_mixed_members_give_the_same_tmu(cats, full_scan):
    """A CallableLikelihood category (finite-difference gradient) with the two exact ones.

    Tolerance: the callable's central differences (relative step eps^(1/3) ~ 6e-6)
    err by about eps |logpdf| / h + h^2 |f'''| ~ 1e-8 per gradient component. At
    a maximum a gradient error moves the optimum by H^-1 * 1e-8 and the maximum by
    only its square (~1e-16), and it is well under L-BFGS-B's gtol (1e-7), so both
    scans stop at the same precision: the fits' own relative ftol (1e-12 of
    |logpdf| ~ 300, ~3e-10 per fit) bounds the difference. 1e-6 leaves room.
    """
    wrapped = CallableLikelihood(cats[1].logpdf, cats[1].parameters, name="cat2-callable")
    assert not wrapped.exact_gradient
    mixed = dnnlik.combine([cats[0], wrapped, cats[2]])
    assert not mixed.exact_gradient
    scan = infer.tmu_scan(mixed, MU)
    np.testing.assert_allclose(scan.tmu, full_scan.tmu, rtol=0, atol=1e-6)
