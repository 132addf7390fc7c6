"""Reinterpretation: the base likelihood through a new model's signal strengths (issue 14, section 3).

Every value is compared with the base evaluated at the hand-computed signal strengths,
every gradient with the chain rule or finite differences, fits with the base's own fits.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from jsonschema import Draft202012Validator

import dnnlik
from dnnlik import infer, likelihoods
from dnnlik.combine import Reinterpretation, mapping_from_json, reinterpret
from dnnlik.errors import InvalidInputError
from dnnlik.likelihoods import CallableLikelihood
from dnnlik.parameters import Constraint, Parameter

M_GRID = [200.0, 400.0, 600.0, 800.0, 1000.0]
SCHEMA = Draft202012Validator(
    json.loads(
        (
            Path(__file__).resolve().parents[1] / "spec/schemas/combination/1.0.0/reinterpretation.schema.json"
        ).read_text()
    )
)
K = {1: [1.0, 0.8, 0.5, 0.3, 0.2], 2: [0.6, 0.7, 0.9, 0.6, 0.4], 3: [2.0, 1.5, 1.0, 0.5, 0.3]}


def _small_base() -> CallableLikelihood:
    """Two POIs and a nuisance: -(mu1 - 1)^2 / 2 - (mu2 - 0.5)^2 - theta^2 / 2 - mu1 theta / 4."""

    def logl(x):
        mu1, mu2, theta = x.T
        return -0.5 * (mu1 - 1.0) ** 2 - (mu2 - 0.5) ** 2 - 0.5 * theta**2 - 0.25 * mu1 * theta

    def grad(x):
        mu1, mu2, theta = x.T
        return np.column_stack([-(mu1 - 1.0) - 0.25 * theta, -2.0 * (mu2 - 0.5), -theta - 0.25 * mu1])

    params = [
        Parameter("mu1", "poi", (-1.0, 5.0)),
        Parameter("mu2", "poi", (-1.0, 5.0)),
        Parameter("theta", bounds=(-5, 5)),
    ]
    return CallableLikelihood(logl, params, grad=grad, name="small")


def _central(f, x: np.ndarray, rel: float = 1e-6) -> np.ndarray:
    out = np.empty(x.shape)
    for k in range(x.shape[1]):
        up, down = x.copy(), x.copy()
        step = rel * np.maximum(1.0, np.abs(x[:, k]))
        up[:, k] += step
        down[:, k] -= step
        out[:, k] = (f(up) - f(down)) / (up[:, k] - down[:, k])
    return out


# ------------------------------------------------------------------ the full toy, mu = g^2
@pytest.fixture(scope="module")
def toy():
    return likelihoods.get("toy-lhc-like")


def _toy_points(toy, n: int, g_max: float) -> tuple[np.ndarray, np.ndarray]:
    """Points of the reinterpretation (g, nuisances) and g."""
    rng = np.random.default_rng(3)
    nuisances = rng.normal(0.0, 0.5, (n, len(toy.parameters) - 1))
    g = rng.uniform(0.05, g_max, n)
    return np.column_stack([g, nuisances]), g


def test_the_toy_reinterpreted_with_mu_g_squared_is_the_toy_at_mu_g_squared(toy):
    r = reinterpret(toy, [("g", 0.0, 2.0, 1.0)], {"mu": {"power": ["g", 2]}})
    x, g = _toy_points(toy, 20, 2.0)
    y = x.copy()
    y[:, 0] = g**2
    np.testing.assert_allclose(r.logpdf(x), toy.logpdf(y), rtol=1e-13)
    value, grad = r.logpdf_and_grad(x)
    base_grad = toy.grad_logpdf(y)
    np.testing.assert_allclose(grad[:, 1:], base_grad[:, 1:], rtol=1e-13)
    np.testing.assert_allclose(grad[:, 0], base_grad[:, 0] * 2.0 * g, rtol=1e-12)  # the chain rule
    np.testing.assert_allclose(r.grad_logpdf(x[:2]), grad[:2], rtol=1e-14)
    assert r.parameter_names == ("g", *toy.parameter_names[1:]) and r.exact_gradient
    assert r.output == {"quantity": "log-likelihood", "includes_constraints": True, "offset": 0.0}


@pytest.fixture(scope="module")
def toy_best(toy):
    return infer.maximize(toy)


def _shifted(toy):
    """mu = g^2 - 0.5: reaches the toy's best fit (mu_hat < 0.5) inside g's range."""
    return reinterpret(toy, [("g", 0.0, 2.0, 1.0)], {"mu": {"sum": [{"power": ["g", 2]}, -0.5]}})


def test_the_best_fit_of_the_reinterpretation_is_the_toys(toy, toy_best):
    best = infer.maximize(_shifted(toy))
    assert best.value("g") ** 2 - 0.5 == pytest.approx(toy_best.value("mu"), abs=1e-4)
    assert best.logpdf == pytest.approx(toy_best.logpdf, abs=1e-8 * abs(toy_best.logpdf))


def test_profiles_of_the_reinterpretation_are_the_toys_at_the_mapped_values(toy):
    fits = infer.profile(_shifted(toy), "g", [0.5, 1.2])  # the nuisances are passed through
    fits_toy = infer.profile(toy, "mu", [0.25 - 0.5, 1.44 - 0.5])
    for f, ft in zip(fits, fits_toy, strict=True):
        assert f.logpdf == pytest.approx(ft.logpdf, abs=1e-7 * abs(ft.logpdf))


def test_with_mu_g_squared_the_best_g_squared_is_the_toys_mu_hat_or_zero_below_it(toy, toy_best):
    plain = infer.maximize(reinterpret(toy, [("g", 0.0, 2.0, 1.0)], {"mu": {"power": ["g", 2]}}))
    mu_hat = toy_best.value("mu")
    expected = toy_best.logpdf if mu_hat >= 0 else infer.maximize(toy, fixed={"mu": 0.0}).logpdf
    assert plain.value("g") ** 2 == pytest.approx(max(mu_hat, 0.0), abs=1e-4)
    assert plain.logpdf == pytest.approx(expected, abs=1e-8 * abs(expected))


def test_outside_the_bounds_or_beyond_a_targets_bounds_the_log_density_is_minus_infinity(toy):
    r = reinterpret(toy, [("g", 0.0, 3.0, 1.0)], {"mu": {"power": ["g", 2]}})
    x, _ = _toy_points(toy, 4, 1.0)
    x[:, 0] = [-0.1, 3.1, 2.5, 1.0]  # below, above g's bounds; mu = 6.25 > 5, mu's upper bound; inside
    value, grad = r.logpdf_and_grad(x)
    assert np.isneginf(value[:3]).all() and np.isfinite(value[3])
    assert np.isnan(grad[:3]).all() and np.isfinite(grad[3]).all()
    assert np.array_equal(r.logpdf(x), value)


# ------------------------------------------------------------------ three categories, mu_c = k_c(m) g^2
@pytest.fixture(scope="module")
def categories():
    cats = [likelihoods.get(f"toy-lhc-like-cat{c}") for c in (1, 2, 3)]
    joint = dnnlik.combine(cats, renames=[{"mu": f"mu{c}"} for c in (1, 2, 3)])
    tables = {f"k{c}": {"inputs": ["m"], "grid": [M_GRID], "values": K[c]} for c in (1, 2, 3)}
    strengths = {f"mu{c}": {"product": [{"table": f"k{c}"}, {"power": ["g", 2]}]} for c in (1, 2, 3)}
    new = [Parameter("m", "poi", (200.0, 1000.0), nominal=500.0), Parameter("g", "poi", (0.0, 1.2), nominal=0.5)]
    return joint, reinterpret(joint, new, strengths, tables=tables)


def test_three_categories_reinterpreted_through_a_table_on_the_mass(categories):
    joint, r = categories
    rng = np.random.default_rng(11)
    n = 6
    m, g = rng.uniform(210.0, 990.0, n), rng.uniform(0.1, 1.1, n)
    theta = rng.normal(0.0, 0.5, (n, len(joint.parameters) - 3))
    x = np.column_stack([m, g, theta])
    by_hand = {f"mu{c}": np.interp(m, M_GRID, K[c]) * g**2 for c in (1, 2, 3)}
    y = np.empty((n, len(joint.parameters)))
    names = joint.parameter_names
    for j, name in enumerate(names):
        y[:, j] = by_hand[name] if name in by_hand else theta[:, r.parameter_names.index(name) - 2]
    np.testing.assert_allclose(r.logpdf(x), joint.logpdf(y), rtol=1e-13)
    _, grad = r.logpdf_and_grad(x)
    np.testing.assert_allclose(grad[:, :2], _central(r.logpdf, x)[:, :2], rtol=1e-5)
    kept = [names.index(p) for p in r.parameter_names[2:]]
    np.testing.assert_allclose(grad[:, 2:], joint.grad_logpdf(y)[:, kept], rtol=1e-13)
    assert r.parameter_names[:2] == ("m", "g") and len(r.parameters) == len(joint.parameters) - 1


def test_describe_and_summary_say_what_maps_to_what(categories):
    _, r = categories
    info = json.loads(json.dumps(r.describe()))  # JSON-ready
    assert info["signal_strengths"]["mu2"] == {"expression": {"product": [{"table": "k2"}, {"power": ["g", 2]}]}}
    assert info["tables"]["k3"]["values"] == K[3] and info["exact_gradient"] is True
    assert [p["name"] for p in info["parameters"]] == ["m", "g"] and info["base"]["name"] == "combination"
    assert "mu1 = {'product'" in r.summary()


# ------------------------------------------------------------------ callables
def _mu(v):
    return 2.0 * v["g"] ** 2 + 0.1 * v["h"]


def _mu_grad(v):
    return {"g": 4.0 * v["g"], "h": np.full_like(v["h"], 0.1)}


@pytest.mark.parametrize("exact", [True, False])
def test_a_callable_signal_strength_with_and_without_its_gradient(exact):
    base = _small_base()
    new = [("g", 0.0, 1.0, 0.5), ("h", -1.0, 1.0, 0.0)]
    r = reinterpret(base, new, {"mu1": _mu, "mu2": "h"}, gradient={"mu1": _mu_grad} if exact else None)
    rng = np.random.default_rng(5)
    x = np.column_stack([rng.uniform(0.1, 0.9, 8), rng.uniform(-0.9, 0.9, 8), rng.normal(0, 1, 8)])
    y = np.column_stack([2.0 * x[:, 0] ** 2 + 0.1 * x[:, 1], x[:, 1], x[:, 2]])
    np.testing.assert_allclose(r.logpdf(x), base.logpdf(y), rtol=1e-14)
    by_declaration = reinterpret(
        base, new, {"mu1": {"sum": [{"product": [2, {"power": ["g", 2]}]}, {"product": [0.1, "h"]}]}, "mu2": "h"}
    )
    np.testing.assert_allclose(r.grad_logpdf(x), by_declaration.grad_logpdf(x), rtol=1e-14 if exact else 1e-7)
    assert r.exact_gradient is exact
    described = r.describe()["signal_strengths"]["mu1"]
    assert described["gradient"] == ("exact" if exact else "finite differences") and described["callable"].endswith(
        "_mu"
    )
    assert ("finite differences" in r.summary()) is not exact


@pytest.mark.parametrize(
    ("func", "gradient", "where", "fragment"),
    [
        (lambda v: np.full_like(v["g"], np.nan), None, "signal_strengths/mu1", "NaN at point 0"),
        (lambda v: np.ones(3), None, "signal_strengths/mu1", "expected (1,)"),
        (lambda v: v["g"].astype(str), None, "signal_strengths/mu1", "real numbers"),
        (lambda v: v["g"], lambda v: {"q": v["g"]}, "gradient/signal_strengths/mu1", "'q', not a parameter"),
        (lambda v: v["g"], lambda v: [1.0], "gradient/signal_strengths/mu1", "must return"),
    ],
)
def test_a_misbehaving_callable_gets_one_message_naming_its_target(func, gradient, where, fragment):
    r = reinterpret(
        _small_base(),
        [("g", 0.0, 1.0, 0.5)],
        {"mu1": func, "mu2": "g"},
        gradient={"mu1": gradient} if gradient else None,
    )
    with pytest.raises(InvalidInputError) as info:
        r.logpdf_and_grad({"g": 0.5})
    assert info.value.where == where and fragment in info.value.bare_message


# ------------------------------------------------------------------ conventions of the base, constrained new parameters
def test_a_base_with_an_offset_is_normalised_and_a_constrained_new_parameter_adds_its_term():
    base = _small_base()
    base.output = {"quantity": "log-likelihood", "includes_constraints": True, "offset": 3.0}
    g = Parameter("g", "poi", (0.0, 3.0), nominal=1.0, constraint=Constraint("normal", 1.0, 0.5))
    r = reinterpret(base, [g], {"mu1": "g", "mu2": {"product": [0.5, "g"]}})
    x = np.array([[0.7, 0.2], [1.6, -0.3]])
    y = np.column_stack([x[:, 0], 0.5 * x[:, 0], x[:, 1]])
    term = -0.5 * ((x[:, 0] - 1.0) / 0.5) ** 2 - np.log(0.5) - 0.5 * np.log(2 * np.pi)
    np.testing.assert_allclose(r.logpdf(x), base.logpdf(y) - 3.0 + term, rtol=1e-14)
    np.testing.assert_allclose(r.grad_logpdf(x), _central(r.logpdf, x), rtol=1e-6)


# ------------------------------------------------------------------ refusals
G, H = ("g", 0.0, 1.0, 0.5), ("h", 0.0, 1.0, 0.5)
REFUSALS = [
    ([G], {"mu1": "g", "mu2": "g", "mux": "g"}, {}, "signal_strengths/mux", "'mux' is not a parameter of the base"),
    ([G], {"mu1": "g"}, {}, "signal_strengths", "['mu2'] are left unmapped"),
    ([G], {"mu1": "q", "mu2": "g"}, {}, "signal_strengths/mu1", "unknown parameter 'q'"),
    ([G], {"mu1": {"table": "t"}, "mu2": "g"}, {}, "signal_strengths/mu1/table", "unknown table 't'"),
    ([G, H], {"mu1": "g", "mu2": "g"}, {}, "parameters", "'h' is read by no signal strength"),
    ([G, G], {"mu1": "g", "mu2": "g"}, {}, "parameters", "duplicate parameter names ['g']"),
    (
        [G, ("theta", 0.0, 1.0)],
        {"mu1": "g", "mu2": "theta"},
        {},
        "parameters",
        "'theta' is also a parameter of the base",
    ),
    ([G], {"mu1": "g", "mu2": "g"}, {"gradient": {"mu1": _mu_grad}}, "gradient", "'mu1' has no callable"),
    ([("g", 1.0, 0.0)], {"mu1": "g", "mu2": "g"}, {}, "parameters[0]", "lower < upper"),
    (["g"], {"mu1": "g", "mu2": "g"}, {}, "parameters[0]", "expected a Parameter"),
    ([G], {}, {}, "signal_strengths", "non-empty"),
    ([G], {"mu1": "g", "mu2": "g"}, {"name": ""}, "name", "non-empty"),
]


@pytest.mark.parametrize(("new", "strengths", "kwargs", "where", "fragment"), REFUSALS, ids=[r[4] for r in REFUSALS])
def test_bad_mappings_are_refused_with_one_message_naming_the_target_or_parameter(
    new, strengths, kwargs, where, fragment
):
    with pytest.raises(InvalidInputError) as info:
        Reinterpretation(_small_base(), new, strengths, **kwargs)
    assert info.value.where == where
    assert fragment in info.value.bare_message


# ------------------------------------------------------------------ the file section
def _section() -> dict:
    return {
        "parameters": [
            {"name": "m", "bounds": [200, 1000], "nominal": 500, "unit": "GeV"},
            {"name": "g", "bounds": [0, 3], "nominal": 1},
        ],
        "tables": {"xsec_ratio": {"inputs": ["m"], "grid": [list(M_GRID)], "values": [2.0, 1.0, 0.6, 0.4, 0.3]}},
        "signal_strengths": {"mu": {"product": [{"table": "xsec_ratio"}, {"power": ["g", 2]}]}},
        "x-note": "ignored",
    }


def test_the_file_section_reads_into_a_reinterpretation(toy):
    params, strengths = mapping_from_json(_section())
    assert [(p.name, p.role, p.bounds, p.unit) for p in params] == [
        ("m", "poi", (200.0, 1000.0), "GeV"),
        ("g", "poi", (0.0, 3.0), ""),
    ]
    r = reinterpret(toy, params, strengths)
    mu = np.interp(500.0, M_GRID, [2.0, 1.0, 0.6, 0.4, 0.3]) * 1.2**2
    assert r.logpdf({"m": 500.0, "g": 1.2}) == toy.logpdf({"mu": mu})


FILE_ERRORS = [  # (change, where, fragment of the message, whether the schema refuses it too)
    (lambda s: s.pop("parameters"), "reinterpretation", "missing key 'parameters'", True),
    (lambda s: s.update(foo=1), "reinterpretation", "unknown key 'foo'", True),
    (lambda s: s["parameters"][1].update(bounds=[3, 0]), "reinterpretation/parameters/1", "lower < upper", False),
    (lambda s: s["parameters"][1].update(nominal=5), "reinterpretation/parameters/1", "inside [0, 3]", False),
    (lambda s: s["parameters"][1].update(name="m"), "reinterpretation/parameters/1/name", "declared twice", False),
    (lambda s: s["parameters"][1].update(name="1g"), "reinterpretation/parameters/1/name", "not a name", True),
    (lambda s: s["parameters"][1].update(training_range=[0, 1]), "reinterpretation/parameters/1", "unknown key", True),
    (
        lambda s: s["parameters"][1].update(constraint={"type": "normal", "mean": 1}),
        "reinterpretation/parameters/1/constraint/sigma",
        "needs a number sigma",
        True,
    ),
    (
        lambda s: s["parameters"][0].update(bounds=[100, 1000]),
        "reinterpretation/signal_strengths/mu/product/0/table",
        "bounds [100, 1000] reach outside",
        False,
    ),
    (
        lambda s: s["tables"]["xsec_ratio"]["grid"][0].reverse(),
        "reinterpretation/tables/xsec_ratio/grid/0",
        "strictly increasing",
        False,
    ),
    (
        lambda s: s["signal_strengths"]["mu"]["product"][1]["power"].__setitem__(0, "q"),
        "reinterpretation/signal_strengths/mu/product/1/power/0",
        "unknown parameter 'q'",
        False,
    ),
    (
        lambda s: s["parameters"].append({"name": "h", "bounds": [0, 1], "nominal": 0}),
        "reinterpretation/parameters/2",
        "read by no signal strength",
        False,
    ),
    (lambda s: s.update(signal_strengths={}), "reinterpretation/signal_strengths", "non-empty", True),
]


@pytest.mark.parametrize(("change", "where", "fragment", "schema_too"), FILE_ERRORS, ids=[e[2] for e in FILE_ERRORS])
def test_a_bad_file_section_is_refused_at_its_json_path_and_by_the_schema_where_it_can_say(
    change, where, fragment, schema_too
):
    section = _section()
    change(section)
    with pytest.raises(InvalidInputError) as info:
        mapping_from_json(section)
    assert info.value.where == where
    assert fragment in info.value.bare_message
    assert SCHEMA.is_valid(section) is not schema_too
    assert SCHEMA.is_valid(_section())


def test_errors_about_the_base_name_the_place_in_the_file(toy):
    params, strengths = mapping_from_json(
        {**_section(), "signal_strengths": {"nu": "g", "mu": "m"}}, where="f.json#/reinterpretation"
    )
    with pytest.raises(InvalidInputError) as info:
        reinterpret(toy, params, strengths)
    assert info.value.where == "f.json#/reinterpretation/signal_strengths/nu"
