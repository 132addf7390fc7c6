"""The ONNX MLP writer (dnnlik.graph) against its float64 numpy reference, and bundles made from it.

Tolerances
----------
The network inside every graph runs in float32; the input scaling, the
baseline and the final sums run in the graph's dtype (float32 or float64).
One operation in a dtype rounds with relative error <= eps (eps32 = 2**-23 ~
1.2e-7, eps64 = 2**-52). A dot product of n terms accumulates rounding like a
random walk, ~sqrt(n) * eps relative to the size of its terms, and each of the
`depth` layers adds its own, so :func:`tolerances` allows, per output,

    eps32 * depth * sqrt(max width) * |network part|        (the float32 network)
  + eps32 * sqrt(P) * |x - shift| * |grad of the network|  (its input rounded to float32)
  + eps_dtype * P * |parts computed in the graph's dtype|  (scaling, baseline, sums;
                                                            x itself for float32 graphs)

times SAFETY = 4. The measured errors are 1-4% of these tolerances on this
machine (a 25x margin for other CPUs' summation orders), while an error of
1e-3 relative (a wrong constant, a missing term, a wrong activation) fails:
see test_tolerance_is_tight_enough_to_catch_small_errors. float64 graphs get
tighter tolerances where they compute in float64 (test_float64_graph_is_more_precise...).
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import dnnlik  # noqa: E402
from dnnlik.errors import BundleError, InvalidInputError, NoGradientError  # noqa: E402
from dnnlik.evaluate.session import SessionPool, make_session, prune_model  # noqa: E402
from dnnlik.graph import (  # noqa: E402
    ACTIVATIONS,
    OUTPUT_GRAD,
    OUTPUT_LOGPDF,
    OUTPUT_SPREAD,
    SUPPORTED_OPSETS,
    MLPWeights,
    NetworkSpec,
    QuadraticBaseline,
    build_mlp_model,
    make_test_points,
    mlp_bundle_document,
    mlp_reference,
    random_mlp_weights,
    write_mlp_bundle,
)
from dnnlik.parameters import Parameter  # noqa: E402

EPS32 = float(np.finfo(np.float32).eps)
SAFETY = 4.0
P = 5
SIZES = [P, 24, 16, 1]


# ----------------------------------------------------------------------------- helpers


def members_of(k: int, sizes=SIZES, seed: int = 11) -> MLPWeights | list[MLPWeights]:
    """One network (k=1) or an ensemble of k with distinct seeds."""
    if k == 1:
        return random_mlp_weights(sizes, seed=seed)
    return [random_mlp_weights(sizes, seed=seed + i) for i in range(k)]


def baseline_of(p: int = P, seed: int = 3) -> QuadraticBaseline:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(p, p))
    hessian = -(a @ a.T / p + np.eye(p))  # negative definite, like log L around its maximum
    return QuadraticBaseline(center=rng.normal(0.0, 0.3, p), hessian=hessian, value_at_center=-12.5)


TRANSFORMS = {
    "plain": {},
    "scaled": {
        "input_shift": [0.5, -1.0, 0.0, 2.0, 0.25],
        "input_scale": [2.0, 0.5, 1.0, 3.0, 1.5],
        "output_shift": -7.0,
        "output_scale": 2.5,
    },
    "baseline": {"baseline": baseline_of()},
    "all": {
        "input_shift": 0.3,
        "input_scale": [1.5, 0.8, 1.2, 2.0, 0.7],
        "output_shift": 3.0,
        "output_scale": -0.75,
        "baseline": baseline_of(),
    },
}


def network_arguments(kwargs: dict) -> tuple[dict, dict]:
    """``kwargs`` split into the NetworkSpec's keyword arguments and the others."""
    names = set(inspect.signature(NetworkSpec).parameters) - {"members"}
    return {k: v for k, v in kwargs.items() if k in names}, {k: v for k, v in kwargs.items() if k not in names}


def points(n: int = 40, p: int = P, seed: int = 5, scale: float = 1.5) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, scale, size=(n, p))


def run_model(model, x: np.ndarray, dtype: str) -> dict[str, np.ndarray]:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    outs = sess.run(names, {sess.get_inputs()[0].name: x.astype(dtype)})
    return {n: np.asarray(o, dtype=np.float64) for n, o in zip(names, outs, strict=True)}


def tolerances(x: np.ndarray, members, kwargs: dict, dtype: str = "float32") -> dict[str, float]:
    """Absolute tolerances per output, from the error model in the module docstring.

    Three sources, added: the float32 network (eps32 * depth * sqrt(width) * its
    magnitude, whatever the graph's dtype); the network input z rounded to float32
    (eps32 * |x - shift| * |grad net|, summed over P inputs like a random walk); and the
    parts done in the graph's dtype (input scaling, baseline, final sums, and for float32
    graphs the rounding of x itself), eps_dtype * their magnitude.
    """
    mem = members if isinstance(members, (list, tuple)) else [members]
    depth = len(mem[0].layers)
    width = max(mem[0].sizes)
    n_par = mem[0].sizes[0]
    eps_io = float(np.finfo(np.dtype(dtype)).eps)
    per_op = SAFETY * EPS32 * depth * math.sqrt(width)
    full = mlp_reference(x, NetworkSpec(members, **kwargs))
    net = mlp_reference(
        x,
        NetworkSpec(
            members,
            activation=kwargs.get("activation", "selu"),
            input_shift=kwargs.get("input_shift"),
            input_scale=kwargs.get("input_scale"),
        ),
    )
    out_scale = abs(kwargs.get("output_scale", 1.0))
    shift = abs(kwargs.get("output_shift", 0.0))
    net_v = max(1.0, float(np.max(np.abs(net[OUTPUT_LOGPDF]))))
    net_g = max(1.0, float(np.max(np.abs(net[OUTPUT_GRAD]))))
    base_v = float(np.max(np.abs(full[OUTPUT_LOGPDF] - kwargs.get("output_scale", 1.0) * net[OUTPUT_LOGPDF])))
    base_g = float(np.max(np.abs(full[OUTPUT_GRAD] - kwargs.get("output_scale", 1.0) * net[OUTPUT_GRAD])))
    given_shift = kwargs.get("input_shift")
    in_shift = np.zeros(n_par) if given_shift is None else np.broadcast_to(given_shift, (n_par,))
    z_round = SAFETY * EPS32 * math.sqrt(n_par) * float(np.max(np.abs(x - in_shift))) * out_scale * net_g
    io = SAFETY * eps_io * n_par * (base_v + shift + float(np.max(np.abs(x))) * (out_scale * net_g + base_g))
    tol = {
        OUTPUT_LOGPDF: per_op * out_scale * net_v + z_round + io,
        # the backward pass has as many float32 layers again, and z's rounding moves the gradient
        # through the network's curvature (~ its own size per unit of z)
        OUTPUT_GRAD: 2 * per_op * out_scale * net_g + z_round + SAFETY * eps_io * n_par * max(1.0, base_g),
    }
    if OUTPUT_SPREAD in full:
        tol[OUTPUT_SPREAD] = per_op * out_scale * net_v + z_round
    return tol


def assert_matches_reference(got: dict, x: np.ndarray, members, kwargs: dict, dtype: str = "float32") -> None:
    ref = mlp_reference(x, NetworkSpec(members, **kwargs))
    tol = tolerances(x, members, kwargs, dtype)
    assert set(got) == set(ref)
    for name, want in ref.items():
        assert got[name].shape == want.shape, name
        err = float(np.max(np.abs(got[name] - want)))
        assert err <= tol[name], f"{name}: max |onnx - reference| = {err:.3g} > tolerance {tol[name]:.3g}"


# ------------------------------------------------------------------ value and gradient


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("transform", sorted(TRANSFORMS))
@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_onnx_matches_reference(activation, k, transform, dtype):
    members = members_of(k)
    kwargs = {"activation": activation, **TRANSFORMS[transform]}
    model = build_mlp_model(NetworkSpec(members, dtype=dtype, **kwargs))
    x = points()
    got = run_model(model, x, dtype)
    expected_outputs = [OUTPUT_LOGPDF, OUTPUT_GRAD] + ([OUTPUT_SPREAD] if k > 1 else [])
    assert [o.name for o in model.graph.output] == expected_outputs
    assert_matches_reference(got, x, members, kwargs, dtype)


@pytest.mark.parametrize("sizes", [[P, 1], [P, 7, 1], [P, 8, 8, 8, 1]])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_depths_including_a_linear_model(sizes, activation):
    # no hidden layer, or a linear activation, gives a gradient that is the same row for
    # every point: it must still come out with shape [N, P] (and [N, P] for ensembles)
    for k in (1, 2):
        members = members_of(k, sizes=sizes)
        model = build_mlp_model(NetworkSpec(members, activation=activation))
        x = points(n=9)
        got = run_model(model, x, "float32")
        assert got[OUTPUT_GRAD].shape == (9, P)
        assert_matches_reference(got, x, members, {"activation": activation})


def test_float64_graph_is_more_precise_around_a_large_baseline():
    # the baseline dominates the value: in float64 it is computed without float32 rounding
    members = members_of(1)
    base = QuadraticBaseline(center=np.zeros(P), hessian=-np.eye(P) * 1e4, value_at_center=-1e5)
    x = points()
    ref = mlp_reference(x, NetworkSpec(members, baseline=base))[OUTPUT_LOGPDF]
    model64 = build_mlp_model(NetworkSpec(members, baseline=base, dtype="float64"))
    model32 = build_mlp_model(NetworkSpec(members, baseline=base, dtype="float32"))
    err64 = np.max(np.abs(run_model(model64, x, "float64")[OUTPUT_LOGPDF] - ref))
    err32 = np.max(np.abs(run_model(model32, x, "float32")[OUTPUT_LOGPDF] - ref))
    assert err64 < 1e-4 < err32


def test_tolerance_is_tight_enough_to_catch_small_errors():
    # a model that is off by 0.1% (output_scale 1.001 instead of 1) must fail the comparison
    members = members_of(2)
    kwargs = {"activation": "selu", **TRANSFORMS["all"]}
    x = points()
    wrong = dict(kwargs, output_scale=kwargs["output_scale"] * 1.001)
    got = run_model(build_mlp_model(NetworkSpec(members, dtype="float64", **wrong)), x, "float64")
    with pytest.raises(AssertionError):
        assert_matches_reference(got, x, members, kwargs, "float64")
    # and so must a wrong activation
    got = run_model(build_mlp_model(NetworkSpec(members, activation="tanh")), x, "float32")
    with pytest.raises(AssertionError):
        assert_matches_reference(got, x, members, {"activation": "selu"})


@pytest.mark.parametrize("activation", ["selu", "tanh", "swish", "linear"])
@pytest.mark.parametrize("k", [1, 3])
def test_gradient_matches_finite_differences_of_the_float64_graph(activation, k):
    # Central differences: error ~ h^2 f'''/6 (truncation) + eps * |f| / h (rounding). The
    # float64 graph still runs the network in float32, so eps is eps32 * depth * sqrt(width)
    # (~4e-6 here) and h = 1e-2 balances the two terms at ~1e-4 of the gradient's size.
    # (relu is left out: its kinks make finite differences meaningless at some points.)
    members = members_of(k)
    kwargs = {"activation": activation, **TRANSFORMS["all"]}
    model = build_mlp_model(NetworkSpec(members, dtype="float64", **kwargs))
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    x = points(n=6, seed=9)
    grad = sess.run([OUTPUT_GRAD], {"x": x})[0]
    h = 1e-2
    fd = np.empty_like(x)
    for j in range(P):
        step = np.zeros(P)
        step[j] = h
        up = sess.run([OUTPUT_LOGPDF], {"x": x + step})[0]
        down = sess.run([OUTPUT_LOGPDF], {"x": x - step})[0]
        fd[:, j] = (up - down) / (2 * h)
    scale = max(1.0, float(np.max(np.abs(grad))))
    assert np.max(np.abs(grad - fd)) <= 2e-3 * scale
    # a gradient with one wrong entry would be caught: compare with a deliberately broken one
    broken = grad.copy()
    broken[:, 0] *= 1.01
    assert np.max(np.abs(broken - fd)) > 2e-3 * scale or np.max(np.abs(grad[:, 0])) < 0.2 * scale


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_reference_gradient_matches_its_own_finite_differences(activation):
    # the float64 reference, differentiated numerically (h = 1e-6: rounding ~1e-10, truncation ~1e-12)
    members = members_of(2)
    kwargs = {"activation": activation, **TRANSFORMS["all"]}
    x = points(n=8, seed=21)
    network = NetworkSpec(members, **kwargs)
    grad = mlp_reference(x, network)[OUTPUT_GRAD]
    h = 1e-6
    for j in range(P):
        step = np.zeros(P)
        step[j] = h
        fd = (mlp_reference(x + step, network)[OUTPUT_LOGPDF] - mlp_reference(x - step, network)[OUTPUT_LOGPDF]) / (
            2 * h
        )
        assert np.allclose(grad[:, j], fd, rtol=1e-6, atol=1e-6)


def test_ensemble_mean_and_spread_match_the_members_evaluated_alone():
    members = members_of(3)
    kwargs = {
        "activation": "selu",
        "input_scale": 2.0,
        "output_scale": -3.0,
        "output_shift": 1.0,
        "baseline": baseline_of(),
    }
    x = points()
    ens = run_model(build_mlp_model(NetworkSpec(members, dtype="float64", **kwargs)), x, "float64")
    alone = [run_model(build_mlp_model(NetworkSpec(m, dtype="float64", **kwargs)), x, "float64") for m in members]
    values = np.stack([a[OUTPUT_LOGPDF] for a in alone])
    tol = 1e-5 * max(1.0, float(np.max(np.abs(values))))
    assert np.allclose(ens[OUTPUT_LOGPDF], values.mean(axis=0), rtol=0, atol=tol)
    assert np.allclose(ens[OUTPUT_SPREAD], values.std(axis=0), rtol=0, atol=tol)
    assert np.allclose(ens[OUTPUT_GRAD], np.mean([a[OUTPUT_GRAD] for a in alone], axis=0), rtol=0, atol=tol)
    assert np.all(ens[OUTPUT_SPREAD] > 0)  # distinct members disagree
    same = run_model(build_mlp_model(NetworkSpec([members[0], members[0]], dtype="float64")), x, "float64")
    assert np.max(same[OUTPUT_SPREAD]) < 1e-6  # identical members agree (up to rounding)


def test_without_gradient_and_with_other_input_name():
    members = members_of(2)
    model = build_mlp_model(NetworkSpec(members, with_gradient=False), input_name="theta")
    assert [o.name for o in model.graph.output] == [OUTPUT_LOGPDF, OUTPUT_SPREAD]
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    x = points()
    value, spread = sess.run(None, {"theta": x.astype(np.float32)})
    ref = mlp_reference(x, NetworkSpec(members, with_gradient=False))
    assert np.allclose(value, ref[OUTPUT_LOGPDF], atol=1e-4)
    assert np.allclose(spread, ref[OUTPUT_SPREAD], atol=1e-4)


def test_random_weights_are_reproducible_and_lecun_scaled():
    a, b = random_mlp_weights([95, 512, 1], seed=7), random_mlp_weights([95, 512, 1], seed=7)
    c = random_mlp_weights([95, 512, 1], seed=8)
    assert all(np.array_equal(wa, wb) for (wa, _), (wb, _) in zip(a.layers, b.layers, strict=True))
    assert not np.array_equal(a.layers[0][0], c.layers[0][0])
    assert a.sizes == (95, 512, 1) and a.n_parameters == 95 * 512 + 512 + 512 + 1
    assert a.layers[0][0].dtype == np.float32
    assert abs(float(np.std(a.layers[0][0])) - 1 / math.sqrt(95)) < 0.01


# ----------------------------------------------------------------- model structure


@pytest.mark.parametrize("opset", [13, 17, 18, 21])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_model_is_standard_onnx(opset, dtype):
    members = members_of(3)
    model = build_mlp_model(NetworkSpec(members, dtype=dtype, **TRANSFORMS["all"]), opset=opset)
    onnx.checker.check_model(model, full_check=True)
    assert [(o.domain, o.version) for o in model.opset_import] == [("", opset)]
    assert {n.domain for n in model.graph.node} == {""}
    assert not model.functions
    assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)
    elem = onnx.TensorProto.DOUBLE if dtype == "float64" else onnx.TensorProto.FLOAT
    for value_info in list(model.graph.input) + list(model.graph.output):
        assert value_info.type.tensor_type.elem_type == elem
    # and it runs (ReduceMean changed its signature at opset 18)
    x = points(n=4)
    assert_matches_reference(run_model(model, x, dtype), x, members, TRANSFORMS["all"], dtype)


def test_model_round_trips_through_bytes():
    model = build_mlp_model(NetworkSpec(members_of(1)))
    again = onnx.load_model_from_string(model.SerializeToString())
    onnx.checker.check_model(again, full_check=True)
    assert "MLP" in again.doc_string and again.producer_name == "dnnlik"


# ---------------------------------------------------------------------- bad arguments


def _w(shape_in, shape_out):
    return np.ones((shape_in, shape_out), np.float32) * 0.1


BAD_ARGUMENTS = [
    # (description, members, kwargs, words expected in the message)
    ("b does not match W", MLPWeights(((_w(P, 4), np.zeros(3)), (_w(4, 1), np.zeros(1)))), {}, ["layers[0].b", "(4,)"]),
    (
        "layer chain broken",
        MLPWeights(((_w(P, 4), np.zeros(4)), (_w(5, 1), np.zeros(1)))),
        {},
        ["layers[1].W", "previous layer"],
    ),
    ("last layer too wide", MLPWeights(((_w(P, 4), np.zeros(4)), (_w(4, 2), np.zeros(2)))), {}, ["exactly one output"]),
    ("W not a matrix", MLPWeights(((np.ones(P), np.zeros(1)),)), {}, ["layers[0].W", "matrix"]),
    ("no layers", MLPWeights(()), {}, ["no layers"]),
    ("NaN weight", MLPWeights(((np.full((P, 1), np.nan), np.zeros(1)),)), {}, ["layers[0].W", "NaN"]),
    ("infinite bias", MLPWeights(((_w(P, 1), np.array([np.inf])),)), {}, ["layers[0].b", "NaN or infinite"]),
    (
        "members of different sizes",
        [random_mlp_weights([P, 4, 1], 1), random_mlp_weights([P, 5, 1], 2)],
        {},
        ["members[1]", "architecture"],
    ),
    ("empty ensemble", [], {}, ["members", "empty"]),
    ("not weights", "weights", {}, ["members", "MLPWeights"]),
    (
        "zero input_scale",
        random_mlp_weights([P, 1], 1),
        {"input_scale": [1, 1, 0, 1, 1]},
        ["input_scale", "zeros", "[2]"],
    ),
    ("NaN input_shift", random_mlp_weights([P, 1], 1), {"input_shift": [0, np.nan, 0, 0, 0]}, ["input_shift", "NaN"]),
    ("input_shift too short", random_mlp_weights([P, 1], 1), {"input_shift": [0, 0]}, ["input_shift", "P=5"]),
    (
        "output_scale not a number",
        random_mlp_weights([P, 1], 1),
        {"output_scale": [1.0, 2.0]},
        ["output_scale", "number"],
    ),
    ("unknown activation", random_mlp_weights([P, 1], 1), {"activation": "gelu"}, ["activation", "gelu", "selu"]),
    (
        "hessian of the wrong shape",
        random_mlp_weights([P, 1], 1),
        {"baseline": QuadraticBaseline(np.zeros(P), -np.eye(P - 1), 0.0)},
        ["baseline.hessian", "(5, 5)"],
    ),
    (
        "asymmetric hessian",
        random_mlp_weights([P, 1], 1),
        {"baseline": QuadraticBaseline(np.zeros(P), np.triu(np.ones((P, P))), 0.0)},
        ["baseline.hessian", "symmetric"],
    ),
    (
        "NaN baseline centre",
        random_mlp_weights([P, 1], 1),
        {"baseline": QuadraticBaseline(np.full(P, np.nan), -np.eye(P), 0.0)},
        ["baseline.center", "NaN"],
    ),
    (
        "baseline not a QuadraticBaseline",
        random_mlp_weights([P, 1], 1),
        {"baseline": {"center": 0}},
        ["baseline", "QuadraticBaseline"],
    ),
]


@pytest.mark.parametrize("desc,members,kwargs,words", BAD_ARGUMENTS, ids=[b[0] for b in BAD_ARGUMENTS])
def test_bad_arguments_raise_invalid_input(desc, members, kwargs, words):
    # the network's arguments are checked once, when the NetworkSpec that build_mlp_model and
    # mlp_reference take is made
    with pytest.raises(InvalidInputError) as info:
        NetworkSpec(members, **kwargs)
    for word in words:
        assert word in str(info.value), f"{desc}: {word!r} not in {str(info.value)!r}"


@pytest.mark.parametrize("opset", [12, 22, 0, "17", 17.0, True, None])
def test_unsupported_opset(opset):
    with pytest.raises(InvalidInputError, match=r"opset: must be an integer from 13 to 21"):
        build_mlp_model(NetworkSpec(members_of(1)), opset=opset)
    assert 13 in SUPPORTED_OPSETS and 21 in SUPPORTED_OPSETS and 22 not in SUPPORTED_OPSETS


@pytest.mark.parametrize(
    "kwargs,words",
    [
        ({"dtype": "float16"}, ["dtype", "float16"]),
        ({"dtype": "int32"}, ["dtype"]),
        ({"input_name": ""}, ["input_name"]),
        ({"input_name": "logpdf"}, ["input_name", "output"]),
        ({"producer": ""}, ["producer"]),
    ],
)
def test_other_bad_builder_arguments(kwargs, words):
    network, kwargs = network_arguments(kwargs)
    with pytest.raises(InvalidInputError) as info:
        build_mlp_model(NetworkSpec(members_of(1), **network), **kwargs)
    assert all(w in str(info.value) for w in words), str(info.value)


@pytest.mark.parametrize(
    "sizes,words", [([5], ["at least"]), ([5, 0, 1], [">= 1"]), ([5, 3, 2], ["last width"]), (["a", 1], ["integers"])]
)
def test_bad_random_weight_sizes(sizes, words):
    with pytest.raises(InvalidInputError) as info:
        random_mlp_weights(sizes, seed=0)
    assert all(w in str(info.value) for w in words)


def test_reference_rejects_points_of_the_wrong_shape():
    with pytest.raises(InvalidInputError, match=r"x: must have shape \(N, 5\)"):
        mlp_reference(np.zeros((3, 4)), NetworkSpec(members_of(1)))


# ---------------------------------------------------------------------- pruning


def test_pruned_model_computes_logpdf_without_the_backward_pass():
    members = members_of(2)
    full = build_mlp_model(NetworkSpec(members, **TRANSFORMS["all"])).SerializeToString()
    pruned = prune_model(full, [OUTPUT_LOGPDF])
    assert pruned is not None
    model = onnx.load_model_from_string(pruned)
    onnx.checker.check_model(model, full_check=True)
    assert [o.name for o in model.graph.output] == [OUTPUT_LOGPDF]
    assert not any(n.name.startswith("grad/") or "/grad/" in n.name for n in model.graph.node)
    assert len(model.graph.node) < 0.6 * len(onnx.load_model_from_string(full).graph.node)
    x = points().astype(np.float32)
    a = make_session(full).run([OUTPUT_LOGPDF], {"x": x})[0]
    b = make_session(pruned).run([OUTPUT_LOGPDF], {"x": x})[0]
    assert np.array_equal(a, b)
    # nothing to prune, unknown outputs: None (the caller keeps the full model)
    assert prune_model(full, [OUTPUT_LOGPDF, OUTPUT_GRAD, OUTPUT_SPREAD]) is None
    assert prune_model(full, ["nope"]) is None
    # a small saving is not worth a second session
    assert prune_model(full, [OUTPUT_GRAD], min_fraction=0.25) is None


def test_session_pool_reuses_sessions():
    full = build_mlp_model(NetworkSpec(members_of(1))).SerializeToString()
    pool = SessionPool(make_session(full))
    s1 = pool.for_outputs([OUTPUT_LOGPDF])
    assert [o.name for o in s1.get_outputs()] == [OUTPUT_LOGPDF]
    assert pool.for_outputs([OUTPUT_LOGPDF]) is s1
    assert pool.for_outputs([OUTPUT_LOGPDF, OUTPUT_GRAD]) is pool.full
    # a session made elsewhere (bytes unknown) is used as it is
    bare = ort.InferenceSession(full, providers=["CPUExecutionProvider"])
    assert SessionPool(bare).for_outputs([OUTPUT_LOGPDF]) is bare


# ---------------------------------------------------------------------- bundles


def params_of(p: int = P, bounds=(-4.0, 4.0)) -> list[Parameter]:
    return [
        Parameter(
            name="mu" if i == 0 else f"theta_{i}",
            role="poi" if i == 0 else "nuisance",
            bounds=bounds,
            nominal=0.0,
            training_range=(-2.0, 2.0),
        )
        for i in range(p)
    ]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("k", [1, 3])
def test_bundle_loads_and_agrees_with_the_reference(tmp_path, dtype, k):
    members = members_of(k)
    kwargs = {"activation": "selu", **TRANSFORMS["all"]}
    out = tmp_path / "mlp"
    doc = write_mlp_bundle(out, NetworkSpec(members, dtype=dtype, **kwargs), params_of(), name="test-mlp")
    report = dnnlik.validate(out)
    assert report.ok, [str(p) for p in report.problems]
    assert not report.problems  # no warnings either
    # a small chunk size exercises the chunked path
    bundle = dnnlik.load(out, chunk_size=7)
    assert bundle.has_gradient and bundle.is_ensemble == (k > 1)
    assert doc["model"]["inputs"][0]["dtype"] == dtype

    x = points(n=50, scale=1.2)
    ref = mlp_reference(x, NetworkSpec(members, **kwargs))
    tol = tolerances(x, members, kwargs, dtype)
    assert np.max(np.abs(bundle.logpdf(x) - ref[OUTPUT_LOGPDF])) <= tol[OUTPUT_LOGPDF]
    assert np.max(np.abs(bundle.grad_logpdf(x) - ref[OUTPUT_GRAD])) <= tol[OUTPUT_GRAD]
    value, grad = bundle.logpdf_and_grad(x)
    assert np.max(np.abs(value - ref[OUTPUT_LOGPDF])) <= tol[OUTPUT_LOGPDF]
    assert np.max(np.abs(grad - ref[OUTPUT_GRAD])) <= tol[OUTPUT_GRAD]
    if k > 1:
        assert np.max(np.abs(bundle.logpdf_spread(x) - ref[OUTPUT_SPREAD])) <= tol[OUTPUT_SPREAD]
    # one point, and a mapping with the others at nominal
    assert np.isclose(bundle.logpdf(x[3]), ref[OUTPUT_LOGPDF][3], rtol=0, atol=tol[OUTPUT_LOGPDF])
    mu = np.linspace(-1, 1, 5)
    grid = np.zeros((5, P))
    grid[:, 0] = mu
    want = mlp_reference(grid, NetworkSpec(members, **kwargs))[OUTPUT_LOGPDF]
    assert np.allclose(bundle.logpdf({"mu": mu}), want, rtol=0, atol=tol[OUTPUT_LOGPDF])
    # logpdf ran on the graph pruned to its value
    assert [o.name for o in bundle._sessions.for_outputs([OUTPUT_LOGPDF]).get_outputs()] == [OUTPUT_LOGPDF]


@pytest.mark.parametrize("chunk_size", [1, 3, 4, 64])
def test_bundle_out_of_bounds_rows_in_any_chunk(tmp_path, chunk_size):
    members = members_of(1)
    out = tmp_path / "mlp"
    write_mlp_bundle(out, NetworkSpec(members), params_of(), name="test-mlp")
    bundle = dnnlik.load(out, chunk_size=chunk_size)
    x = points(n=13, scale=1.0)
    outside = np.zeros(13, bool)
    outside[[0, 1, 2, 3, 7, 12]] = True  # a whole first chunk (for chunk_size <= 4), one inside, the last
    x[outside, 1] = 9.0
    ref = mlp_reference(x, NetworkSpec(members))
    value = bundle.logpdf(x)
    grad = bundle.grad_logpdf(x)
    v2, g2 = bundle.logpdf_and_grad(x)
    assert np.all(value[outside] == -np.inf) and np.all(v2[outside] == -np.inf)
    assert np.all(np.isnan(grad[outside])) and np.all(np.isnan(g2[outside]))
    assert np.allclose(value[~outside], ref[OUTPUT_LOGPDF][~outside], rtol=0, atol=1e-4)
    assert np.allclose(grad[~outside], ref[OUTPUT_GRAD][~outside], rtol=0, atol=1e-4)
    assert np.array_equal(v2, value) and np.array_equal(np.isnan(g2), np.isnan(grad))
    # all outside, and no points at all
    assert np.all(bundle.logpdf(x[outside]) == -np.inf)
    assert bundle.logpdf(np.empty((0, P))).shape == (0,)
    with pytest.raises(dnnlik.errors.OutOfBoundsError, match="theta_1"):
        bundle.logpdf(x, strict=True)


def test_bundle_without_gradient(tmp_path):
    out = tmp_path / "mlp.zip"
    write_mlp_bundle(out, NetworkSpec(members_of(1), with_gradient=False), params_of(), name="test-mlp")
    bundle = dnnlik.load(out)
    assert not bundle.has_gradient
    with pytest.raises(NoGradientError):
        bundle.grad_logpdf(np.zeros(P))
    assert np.isfinite(bundle.logpdf(np.zeros(P)))


def test_bundle_run_names_missing_and_unknown_inputs(tmp_path):
    out = tmp_path / "mlp"
    write_mlp_bundle(out, NetworkSpec(members_of(1)), params_of(), name="test-mlp", input_name="theta")
    bundle = dnnlik.load(out)
    with pytest.raises(InvalidInputError, match=r"missing model input\(s\) \['theta'\]"):
        bundle.run({})
    with pytest.raises(InvalidInputError, match=r"missing model input\(s\) \['theta'\]"):
        bundle.run({"x": np.zeros((1, P))})
    with pytest.raises(InvalidInputError, match=r"unknown model input\(s\) \['extra'\]"):
        bundle.run({"theta": np.zeros((1, P)), "extra": 1})
    with pytest.raises(InvalidInputError, match="theta"):
        bundle.run({"theta": "not numbers"})
    with pytest.raises(InvalidInputError, match="cannot run"):
        bundle.run({"theta": np.zeros((1, P + 1))})
    outs = bundle.run({"theta": np.zeros((2, P))})
    assert set(outs) == {OUTPUT_LOGPDF, OUTPUT_GRAD} and outs[OUTPUT_GRAD].shape == (2, P)


def test_bundle_document_contents():
    members = members_of(2)
    base = baseline_of()
    params = params_of()
    doc, files = mlp_bundle_document(
        NetworkSpec(members, baseline=base, input_scale=2.0),
        params,
        name="doc-test",
        n_test_points=6,
        extra_test_points=[[0.5] * P],
        seed=4,
        sections={"keywords": ["test"], "training": {"epochs": 3}},
    )
    assert set(files) == {"model.onnx"}
    model = doc["model"]
    assert model["ensemble"] == {"size": 2, "combination": "mean", "spread": "std"}
    assert model["architecture"]["layers"] == SIZES and model["architecture"]["activation"] == "selu"
    assert model["transform"]["input_scale"] == [2.0] * P
    assert model["transform"]["baseline"]["type"] == "quadratic"
    assert model["opset"] == 17 and model["ir_version"] == onnx.load_model_from_string(files["model.onnx"]).ir_version
    assert [o["role"] for o in model["outputs"]] == ["logpdf", "grad_logpdf", "logpdf_spread"]
    cases = doc["test_vectors"]["cases"]
    assert len(cases) == 2
    first = np.array(cases[0]["inputs"]["x"])
    assert np.allclose(first[0], 0.0) and np.allclose(first[1], np.round(base.center, 6))
    spread = np.array(cases[1]["inputs"]["x"])
    assert spread.shape == (6, P) and np.allclose(spread[0], 0.5)
    assert np.all(np.abs(spread) <= 2.0)  # inside the training range
    assert doc["keywords"] == ["test"] and doc["training"] == {"epochs": 3}
    tol = doc["test_vectors"]["tolerance"]
    assert 0 <= tol["rel"] <= 1e-3 and 0 < tol["abs"]
    assert set(doc["test_vectors"]["tolerances"]) == {o["name"] for o in model["outputs"]}  # one per output
    # reproducible
    doc2, files2 = mlp_bundle_document(
        NetworkSpec(members, baseline=base, input_scale=2.0),
        params,
        name="doc-test",
        n_test_points=6,
        extra_test_points=[[0.5] * P],
        seed=4,
        sections={"keywords": ["test"], "training": {"epochs": 3}},
    )
    assert doc2 == doc and files2 == files


def test_bundle_writer_checks_against_the_reference():
    # with a zero tolerance the float32 graph cannot match the float64 reference: refused
    with pytest.raises(BundleError, match="float64 reference"):
        mlp_bundle_document(NetworkSpec(members_of(1)), params_of(), name="strict", tolerance={"abs": 0.0, "rel": 0.0})
    doc, _ = mlp_bundle_document(
        NetworkSpec(members_of(1)), params_of(), name="loose", tolerance={"abs": 0.0, "rel": 0.0}, check_reference=False
    )
    assert doc["test_vectors"]["tolerance"] == {"abs": 0.0, "rel": 0.0}


@pytest.mark.parametrize(
    "kwargs,words",
    [
        ({"parameters": params_of(P - 1)}, ["parameters", "P=5"]),
        ({"name": "Not An Identifier"}, ["name", "identifier"]),
        ({"version": "1.0"}, ["version", "semantic"]),
        ({"n_test_points": 0}, ["n_test_points"]),
        ({"extra_test_points": [[1.0, 2.0]]}, ["extra_test_points", "(n, 5)"]),
        ({"tolerance": {"abs": -1, "rel": 0}}, ["tolerance"]),
        ({"sections": {"model": {}}}, ["sections", "model"]),
        ({"parameters": [Parameter("a")] * P}, ["parameters", "unique"]),
        ({"activation": "gelu"}, ["activation"]),
    ],
)
def test_bundle_writer_bad_arguments(tmp_path, kwargs, words):
    args = {"parameters": params_of(), "name": "bad-args", **kwargs}
    params = args.pop("parameters")
    network, args = network_arguments(args)
    with pytest.raises(InvalidInputError) as info:
        write_mlp_bundle(tmp_path / "b", NetworkSpec(members_of(1), **network), params, **args)
    assert all(w in str(info.value) for w in words), str(info.value)
    assert not (tmp_path / "b").exists()


def test_make_test_points_stay_in_bounds_with_unbounded_parameters():
    params = [
        Parameter("a", bounds=(-math.inf, math.inf), nominal=3.0),
        Parameter("b", bounds=(0.0, math.inf), nominal=0.0),
        Parameter("c", bounds=(-1.0, 1.0), nominal=0.5, training_range=(0.0, 1.0)),
    ]
    pts = make_test_points(params, 50, seed=1, anchors=[[3.0, 0.0, 0.5]])
    assert pts.shape == (50, 3) and np.all(np.isfinite(pts))
    assert np.array_equal(pts[0], [3.0, 0.0, 0.5])
    assert np.all(pts[:, 1] >= 0) and np.all((pts[:, 2] >= 0) & (pts[:, 2] <= 1))
    assert np.all(np.abs(pts[:, 0] - 3.0) <= 3.0)
    assert np.array_equal(pts, make_test_points(params, 50, seed=1, anchors=[[3.0, 0.0, 0.5]]))


@pytest.mark.parametrize("chunk_size", [0, -3, 2.5, True])
def test_bad_chunk_size(gaussian_bundle, chunk_size):
    with pytest.raises(InvalidInputError, match="chunk_size"):
        dnnlik.load(gaussian_bundle, chunk_size=chunk_size)


@pytest.mark.parametrize(
    "bounds",
    [
        [(-1.0, 1.0), (0.0, 10.0), (-math.inf, math.inf), (-5.0, math.inf), (-math.inf, 0.5)],  # overlapping
        [(-1.0, 1.0), (2.0, 3.0), (-math.inf, math.inf), (-5.0, 5.0), (-2.0, 0.5)],  # no common interval
    ],
)
def test_bundle_bounds_match_points_outside_bounds(tmp_path, bounds):
    from dnnlik.points import outside_bounds

    params = [
        Parameter(
            name=f"p{i}",
            role="poi" if i == 0 else "nuisance",
            bounds=b,
            nominal=float(np.clip(0.0, *b)) if np.isfinite(b).any() else 0.0,
        )
        for i, b in enumerate(bounds)
    ]
    out = tmp_path / "mlp"
    members = members_of(1)
    write_mlp_bundle(out, NetworkSpec(members), params, name="bounds-test")
    bundle = dnnlik.load(out, chunk_size=16)
    lo = np.array([max(b[0], -3.0) for b in bounds])
    hi = np.array([min(b[1], 6.0) for b in bounds])
    pad = 0.05 * (hi - lo)  # ~1 - 0.9**5 = 40% of the points fall outside some bound
    x = np.random.default_rng(2).uniform(lo - pad, hi + pad, size=(200, P))
    expected_out = outside_bounds(x, params)
    assert 0 < expected_out.sum() < 200
    value = bundle.logpdf(x)
    assert np.array_equal(np.isneginf(value), expected_out)
    ref = mlp_reference(x[~expected_out], NetworkSpec(members))[OUTPUT_LOGPDF]
    assert np.allclose(value[~expected_out], ref, rtol=0, atol=1e-4)
    # points exactly on a bound are inside
    edge = np.array([[b[0] if np.isfinite(b[0]) else 0.0 for b in bounds]])
    assert np.isfinite(bundle.logpdf(edge)[0])
