"""The declarative mapping of a reinterpretation: expressions, tables, and the schema of the file section.

Values are compared with closed forms, numpy.interp and scipy's RegularGridInterpolator;
derivatives with finite differences (central inside a table's cell, one-sided at knots,
where a piecewise-linear function's one-sided difference is exact).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from scipy.interpolate import RegularGridInterpolator

from dnnlik.combine.expressions import MAX_DEPTH, MAX_NODES, Expression
from dnnlik.combine.tables import parse_table, parse_tables
from dnnlik.errors import InvalidInputError
from dnnlik.parameters import Parameter

M_GRID = [200.0, 400.0, 600.0, 800.0, 1000.0]
RATIO = [2.0, 1.0, 0.6, 0.4, 0.3]
EFF_GRID = ([200.0, 500.0, 1000.0], [0.0, 1.0, 2.0, 3.0])
EFF = [[0.1, 0.3, 0.2, 0.5], [0.4, 0.2, 0.9, 0.7], [0.8, 0.6, 0.3, 0.1]]
TABLES = parse_tables(
    {
        "ratio": {"inputs": ["m"], "grid": [M_GRID], "values": RATIO},
        "eff": {"inputs": ["m", "g"], "grid": [list(a) for a in EFF_GRID], "values": EFF},
    }
)
NEW = [Parameter("m", "poi", (200.0, 1000.0), nominal=500.0), Parameter("g", "poi", (0.0, 3.0), nominal=1.0)]

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "spec/schemas/combination/1.0.0/reinterpretation.schema.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text())


def _schema_validator(pointer: str = "") -> Draft202012Validator:
    registry = Registry().with_resource(SCHEMA["$id"], Resource.from_contents(SCHEMA))
    return Draft202012Validator({"$ref": SCHEMA["$id"] + pointer}, registry=registry)


def _eff(m: np.ndarray, g: np.ndarray) -> np.ndarray:
    return RegularGridInterpolator(EFF_GRID, np.array(EFF), method="linear")(np.column_stack([m, g]))


def _points(n: int = 40) -> np.ndarray:
    rng = np.random.default_rng(7)  # interior points: none within a finite-difference step of a knot
    return np.column_stack([rng.uniform(210.0, 990.0, n), rng.uniform(0.1, 2.9, n)])


def _central(f, cols: np.ndarray, rel: float = 1e-6) -> np.ndarray:
    out = np.empty(cols.shape)
    for k in range(cols.shape[1]):
        up, down = cols.copy(), cols.copy()
        step = rel * np.maximum(1.0, np.abs(cols[:, k]))
        up[:, k] += step
        down[:, k] -= step
        out[:, k] = (f(up) - f(down)) / (up[:, k] - down[:, k])
    return out


CASES = [
    (2.5, lambda m, g: np.full_like(m, 2.5)),
    ("g", lambda m, g: g),
    ({"product": ["g", "m", 0.5]}, lambda m, g: 0.5 * g * m),
    ({"product": ["g"]}, lambda m, g: g),
    ({"sum": ["g", {"product": [-1, "m"]}, 3]}, lambda m, g: g - m + 3.0),
    ({"power": ["g", 2]}, lambda m, g: g**2),
    ({"power": ["g", -1]}, lambda m, g: 1.0 / g),
    ({"power": ["g", 0.5]}, lambda m, g: np.sqrt(g)),
    ({"power": ["m", 0]}, lambda m, g: np.ones_like(m)),
    ({"power": [{"sum": ["g", 1]}, 3]}, lambda m, g: (g + 1.0) ** 3),
    ({"product": ["g", "g", {"sum": ["g", "m"]}]}, lambda m, g: g * g * (g + m)),
    ({"product": [{"table": "ratio"}, {"power": ["g", 2]}]}, lambda m, g: np.interp(m, M_GRID, RATIO) * g**2),
    ({"table": "eff"}, _eff),
    (
        {"sum": [{"table": "eff"}, {"product": [{"table": "ratio"}, "g"]}]},
        lambda m, g: _eff(m, g) + np.interp(m, M_GRID, RATIO) * g,
    ),
]


@pytest.mark.parametrize(("tree", "closed_form"), CASES, ids=[json.dumps(c[0]) for c in CASES])
def test_values_and_gradients_match_closed_forms_and_finite_differences(tree, closed_form):
    e = Expression(tree, NEW, TABLES)
    cols = _points()
    value, grad = e.value_and_grad(cols)
    np.testing.assert_allclose(value, closed_form(cols[:, 0], cols[:, 1]), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(e.value(cols), value, rtol=0, atol=0)
    np.testing.assert_allclose(grad, _central(e.value, cols), rtol=1e-6, atol=1e-9)
    assert _schema_validator("#/$defs/expression").is_valid(tree)


def test_a_piecewise_linear_derivative_is_the_right_intervals_slope_at_a_knot_and_the_last_at_the_end():
    e = Expression({"table": "ratio"}, NEW, TABLES)
    m = np.array(M_GRID)
    cols = np.column_stack([m, np.ones_like(m)])
    _, grad = e.value_and_grad(cols)
    h = 1e-3
    right = (e.value(cols[:-1] + [h, 0.0]) - e.value(cols[:-1])) / h  # exact on a linear piece
    left = (e.value(cols[-1:]) - e.value(cols[-1:] - [h, 0.0])) / h
    expected = np.concatenate([right, left])
    np.testing.assert_allclose(grad[:, 0], expected, rtol=1e-6)
    np.testing.assert_allclose(e.value(cols), RATIO, rtol=1e-15)


def test_bilinear_derivatives_at_an_inner_knot_are_one_sided_to_the_right():
    e = Expression({"table": "eff"}, NEW, TABLES)
    at = np.array([[500.0, 1.0]])
    _, grad = e.value_and_grad(at)
    h = 1e-4
    forward = [(e.value(at + step) - e.value(at))[0] / h for step in ([h, 0.0], [0.0, h])]
    np.testing.assert_allclose(grad[0], forward, rtol=1e-6)


def test_a_table_outside_its_grid_names_the_table_the_parameter_the_value_and_the_range():
    loose = [Parameter("m", "poi", (200.0, 1000.0)), Parameter("g", "poi", (0.0, 3.0))]
    e = Expression({"product": [{"table": "ratio"}, "g"]}, loose, TABLES, where="signal_strengths/mu")
    with pytest.raises(InvalidInputError) as info:
        e.value(np.array([[500.0, 1.0], [1100.0, 1.0]]))
    assert info.value.where == "signal_strengths/mu/product/0/table"
    for fragment in ("'ratio'", "m in [200, 1000]", "m = 1100", "point 1"):
        assert fragment in info.value.bare_message


def test_bounds_reaching_outside_a_grid_are_refused_up_front():
    wide = [Parameter("m", "poi", (100.0, 1000.0), nominal=500.0), NEW[1]]
    with pytest.raises(InvalidInputError) as info:
        Expression({"sum": ["g", {"table": "ratio"}]}, wide, TABLES, where="mu")
    assert info.value.where == "mu/sum/1/table"
    assert "bounds [100, 1000]" in info.value.bare_message and "[200, 1000]" in info.value.bare_message


def test_an_extrapolating_table_continues_its_end_intervals():
    tables = parse_tables({"r": {"inputs": ["m"], "grid": [M_GRID], "values": RATIO, "extrapolate": True}})
    wide = [Parameter("m", "poi", (0.0, 1200.0), nominal=500.0)]
    e = Expression({"table": "r"}, wide, tables)
    value, grad = e.value_and_grad(np.array([[1100.0], [100.0]]))
    upper = np.polyfit(M_GRID[-2:], RATIO[-2:], 1)  # the end lines, fitted independently
    lower = np.polyfit(M_GRID[:2], RATIO[:2], 1)
    np.testing.assert_allclose(value, [np.polyval(upper, 1100.0), np.polyval(lower, 100.0)], rtol=1e-12)
    np.testing.assert_allclose(grad[:, 0], [upper[0], lower[0]], rtol=1e-12)


def test_a_non_integer_power_of_a_negative_base_is_an_error():
    e = Expression({"power": [{"sum": ["g", -1]}, 0.5]}, NEW, TABLES, where="mu")
    with pytest.raises(InvalidInputError, match="not an integer") as info:
        e.value(np.array([[500.0, 2.0], [500.0, 0.5]]))
    assert info.value.where == "mu/power/0" and "point 1" in info.value.bare_message


def _nested(depth: int) -> object:
    tree: object = "g"
    for _ in range(depth):
        tree = {"sum": [tree]}
    return tree


# (tree, where, fragment of the message, whether the schema refuses it too)
BAD_TREES = [
    ({"prod": ["g"]}, "e", "unknown operator 'prod'", True),
    ({"product": ["g"], "sum": ["g"]}, "e", "exactly one key", True),
    ({}, "e", "exactly one key", True),
    ({"product": []}, "e/product", "at least one", True),
    ({"sum": "g"}, "e/sum", "takes a list", True),
    ({"power": ["g"]}, "e/power", "[base, exponent]", True),
    ({"power": ["g", "2"]}, "e/power/1", "exponent", True),
    ({"power": ["g", True]}, "e/power/1", "exponent", True),
    ({"power": ["g", float("inf")]}, "e/power/1", "exponent", False),  # JSON has no infinity
    ({"product": ["g", float("nan")]}, "e/product/1", "finite", False),
    (True, "e", "a boolean", True),
    (["g"], "e", "a list", True),
    (None, "e", "a NoneType", True),
    ({"product": [1, {"sum": ["g", "q"]}]}, "e/product/1/sum/1", "unknown parameter 'q'", False),
    ({"table": "nope"}, "e/table", "unknown table 'nope'", False),
    ({"table": 3}, "e/table", "a table's name", True),
]


@pytest.mark.parametrize(("tree", "where", "fragment", "schema_too"), BAD_TREES, ids=[b[2] for b in BAD_TREES])
def test_malformed_expressions_get_one_message_at_their_path(tree, where, fragment, schema_too):
    with pytest.raises(InvalidInputError) as info:
        Expression(tree, NEW, TABLES, where="e")
    assert info.value.where == where
    assert fragment in info.value.bare_message
    assert _schema_validator("#/$defs/expression").is_valid(tree) is not schema_too


def test_deeper_or_larger_expressions_than_the_limits_are_refused():
    with pytest.raises(InvalidInputError, match=f"deeper than {MAX_DEPTH}") as info:
        Expression(_nested(MAX_DEPTH + 1), NEW, where="e")
    assert info.value.where == "e" + "/sum/0" * MAX_DEPTH
    with pytest.raises(InvalidInputError, match=f"more than {MAX_NODES} nodes") as info:
        Expression({"sum": ["g"] * MAX_NODES}, NEW, where="e")  # the object and its 10 000 items
    assert info.value.where == f"e/sum/{MAX_NODES - 1}"


def test_the_limits_themselves_are_allowed():
    assert Expression(_nested(MAX_DEPTH), NEW).value(np.array([[500.0, 2.0]])).tolist() == [2.0]
    assert Expression({"sum": ["g"] * (MAX_NODES - 1)}, NEW).value(np.array([[500.0, 1.0]]))[0] == MAX_NODES - 1


GOOD_TABLE = {"inputs": ["m"], "grid": [[1, 2, 3]], "values": [1, 2, 3]}
BAD_TABLES = [
    ({"grid": [[1, 1, 2]]}, "t/grid/0", "strictly increasing", False),
    ({"grid": [[1]], "values": [1]}, "t/grid/0", "at least 2", True),
    ({"grid": [[1, 2, float("inf")]]}, "t/grid/0/2", "finite", False),
    ({"values": [1, 2]}, "t/values", "3 numbers", False),
    ({"inputs": ["m", "m"]}, "t/inputs", "distinct", True),
    ({"inputs": []}, "t/inputs", "1 or 2", True),
    ({"inputs": ["m", "g"], "grid": [[1, 2], [1, 2]], "values": [[1, 2], [3]]}, "t/values/1", "2 numbers", True),
    ({"inputs": ["m", "g"]}, "t/grid", "2 list(s)", False),
    ({"extrapolate": "no"}, "t/extrapolate", "true or false", True),
    ({"kind": "linear"}, "t", "unknown key 'kind'", True),
]


@pytest.mark.parametrize(("change", "where", "fragment", "schema_too"), BAD_TABLES, ids=[b[2] for b in BAD_TABLES])
def test_malformed_tables_are_refused_at_their_path(change, where, fragment, schema_too):
    obj = {**GOOD_TABLE, **change}
    with pytest.raises(InvalidInputError) as info:
        parse_table("t", obj)
    assert info.value.where == where
    assert fragment in info.value.bare_message
    assert _schema_validator("#/$defs/table").is_valid(obj) is not schema_too
    assert _schema_validator("#/$defs/table").is_valid(GOOD_TABLE)


def test_a_table_without_values_or_with_a_bad_name_is_refused():
    with pytest.raises(InvalidInputError, match="missing key 'values'"):
        parse_table("t", {"inputs": ["m"], "grid": [[1, 2]]})
    with pytest.raises(InvalidInputError, match="table name '1t'"):
        parse_table("1t", GOOD_TABLE)
