"""The zoo's combination of the toy's three per-category DNNLikelihoods (issue 14, section 5).

The combination file pins the three zoo entries; combined, the surrogates must
reproduce the exact full 95-parameter toy's t_mu (the issue's targets), and a
bundle combined with exact categories given as plain Python callables must
agree with the all-exact combination within that bundle's own fidelity.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import dnnlik
from dnnlik import infer, likelihoods
from dnnlik.combine import load_combination, validate_combination
from dnnlik.likelihoods import CallableLikelihood

pytestmark = pytest.mark.slow  # t_mu scans of 95-parameter combinations of networks

ROOT = Path(__file__).resolve().parents[1]
FILE = ROOT / "zoo" / "combinations" / "toy-lhc-like-categories.json"
GRID = [round(0.1 * i, 10) for i in range(11)]
SEED = 20191108


@pytest.fixture(scope="module")
def exact_full():
    scan = infer.tmu_scan(likelihoods.get("toy-lhc-like"), GRID, "mu", seed=SEED)
    return np.array(scan.tmu), scan.poi_hat


@pytest.fixture(scope="module")
def exact_categories():
    return [likelihoods.get(f"toy-lhc-like-cat{c}") for c in (1, 2, 3)]


def test_the_combination_file_is_valid_and_pins_the_zoo_entries():
    report = validate_combination(FILE)
    assert report.ok, report.to_text()
    doc = json.loads(FILE.read_text())
    assert [m["source"] for m in doc["members"]] == [f"zoo:toy-lhc-like-cat{c}" for c in (1, 2, 3)]
    for member, c in zip(doc["members"], (1, 2, 3), strict=True):
        bundle = dnnlik.load(f"zoo:toy-lhc-like-cat{c}")
        assert member["document_sha256"] == bundle.document["document_sha256"]


def test_combined_surrogates_reproduce_the_full_toy(exact_full):
    joint = load_combination(FILE)
    assert joint.n_parameters == 95
    scan = infer.tmu_scan(joint, GRID, "mu", seed=SEED)
    delta = np.abs(np.array(scan.tmu) - exact_full[0])
    # the targets for the combined surrogate (0.0090, 0.0162, 0.0030 measured)
    assert delta.mean() <= 0.01, delta
    assert delta.max() <= 0.03, delta
    assert abs(scan.poi_hat - exact_full[1]) <= 0.01


@pytest.mark.parametrize("surrogate", [1, 2, 3])
def test_a_bundle_with_exact_callables_agrees_within_its_own_fidelity(surrogate, exact_categories, exact_full):
    bundle = dnnlik.load(f"zoo:toy-lhc-like-cat{surrogate}")
    members = []
    for c, exact in zip((1, 2, 3), exact_categories, strict=True):
        if c == surrogate:
            members.append(bundle)
        else:  # the exact category as a user's own Python function, with its parameters declared
            members.append(CallableLikelihood(exact.logpdf, exact.parameters, grad=exact.grad_logpdf))
    mixed = dnnlik.combine(members, names=["cat1", "cat2", "cat3"])
    scan = infer.tmu_scan(mixed, GRID, "mu", seed=SEED)
    # t_mu is -2 times a difference of two log L values, each off by about the bundle's rms
    # error on its own posterior (sqrt(logpdf_mse), recorded in its validation section):
    # |delta t_mu| <= 2 * (rms + rms), a bound from the bundle's own fidelity, not from this test
    metrics = {m["name"]: m["value"] for m in bundle.document["validation"]["metrics"]}
    rms = float(np.sqrt(metrics["logpdf_mse"]))
    delta = np.abs(np.array(scan.tmu) - exact_full[0])
    assert delta.max() <= 4 * rms, (delta, rms)
    # the callables are the exact categories: with the bundle swapped for its exact twin the
    # combination is the full toy again (the machinery adds no error of its own)
    members[surrogate - 1] = CallableLikelihood(
        exact_categories[surrogate - 1].logpdf,
        exact_categories[surrogate - 1].parameters,
        grad=exact_categories[surrogate - 1].grad_logpdf,
    )
    exact = infer.tmu_scan(dnnlik.combine(members, names=["cat1", "cat2", "cat3"]), GRID, "mu", seed=SEED)
    assert np.allclose(exact.tmu, exact_full[0], atol=1e-6)
