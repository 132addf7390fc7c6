"""Issue 14, section 1: ``dnnlik.combine`` takes bundles, paths and reference likelihoods, and its result
goes wherever a log-density goes (infer, sample)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import dnnlik
from dnnlik import infer
from dnnlik.combine import Combination
from dnnlik.density import LogDensity
from dnnlik.examples import gaussian_reference, gaussian_spec
from dnnlik.likelihoods import CallableLikelihood

ROOT = Path(__file__).resolve().parents[1]


def test_dnnlik_combine_is_callable_whichever_way_it_was_imported():
    code = textwrap.dedent("""
        import sys
        from dnnlik.likelihoods import get
        cats = [get("toy-lhc-like-cat1"), get("toy-lhc-like-cat2")]
        if sys.argv[1] == "package-first":
            from dnnlik.combine import Combination  # binds the package to dnnlik.combine first
        import dnnlik
        joint = dnnlik.combine(cats)
        assert isinstance(joint, dnnlik.combine.Combination), type(joint)
        from dnnlik import combine
        assert combine is dnnlik.combine and callable(combine)
        print(len(joint.parameters))
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for order in ("package-first", "attribute-first"):
        proc = subprocess.run(
            [sys.executable, "-c", code, order], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
        )
        assert proc.returncode == 0 and proc.stdout.strip() == "65", order + proc.stdout + proc.stderr


def test_combination_is_a_log_density():
    joint = dnnlik.combine([dnnlik.likelihoods.get("toy-lhc-like-cat1")])
    assert isinstance(joint, LogDensity) and isinstance(joint, Combination)
    assert joint.kind == "likelihood" and joint.n_parameters == 35
    assert repr(joint).startswith("<Combination combination of 1 members (toy-lhc-like-cat1)")


def test_bundles_by_path_and_loaded(gaussian_bundle):
    mean, cov, _ = gaussian_spec(4)
    loaded = dnnlik.load(gaussian_bundle)
    # the same bundle twice, once as a path: the same data counted twice doubles log L and t_mu
    twice = dnnlik.combine([str(gaussian_bundle), loaded], names=["first", "second"])
    assert twice.parameter_names == ("mu", "theta_1", "theta_2", "theta_3") and twice.exact_gradient
    x = np.random.default_rng(2).normal(0.0, 0.8, (20, 4))
    np.testing.assert_allclose(twice.logpdf(x), 2 * loaded.logpdf(x), rtol=1e-12)
    np.testing.assert_allclose(twice.grad_logpdf(x), 2 * loaded.grad_logpdf(x), rtol=1e-12, atol=1e-12)
    source = twice.describe()["members"][0]["source"]
    assert source["bundle"] == "gaussian-4d" and source["document_sha256"] == loaded.document["document_sha256"]
    values = [-1.0, 0.0, 0.26, 1.0]
    single = infer.tmu_scan(loaded, values)
    doubled = infer.tmu_scan(twice, values)
    np.testing.assert_allclose(doubled.tmu, 2 * np.array(single.tmu), rtol=1e-6, atol=1e-8)
    # a bundle with a reference likelihood (mixed members), the nuisances kept apart
    reference = CallableLikelihood(lambda p: gaussian_reference(p, mean, cov)[0], loaded.parameters, name="reference")
    mixed = dnnlik.combine([loaded, reference], separate=["theta_1", "theta_2", "theta_3"])
    assert mixed.n_parameters == 7 and not mixed.exact_gradient
    assert mixed.parameter_names[1] == "gaussian-4d:theta_1" and mixed.parameter_names[4] == "reference:theta_1"
    apart = infer.tmu_scan(mixed, values)
    np.testing.assert_allclose(apart.tmu, 2 * np.array(single.tmu), rtol=1e-5, atol=1e-6)


def test_a_bad_path_names_the_member(tmp_path):
    with pytest.raises(dnnlik.errors.InvalidBundleError, match="missing: is not a valid bundle"):
        dnnlik.combine([dnnlik.likelihoods.get("toy-lhc-like-cat1"), str(tmp_path / "missing")])


@pytest.mark.filterwarnings("ignore::UserWarning")  # short chains: a smoke test of the plumbing
def test_sampling_a_combination(tmp_path):
    from dnnlik.sample import sample

    x = CallableLikelihood(lambda p: -0.5 * p[:, 0] ** 2, ["x"], grad=lambda p: -p, name="gx")
    y = CallableLikelihood(lambda p: -0.5 * (p**2).sum(axis=1), ["x", "y"], grad=lambda p: -p, name="gxy")
    joint = dnnlik.combine([x, y])
    result = sample(
        joint, tmp_path / "s.h5", strategy="unbiased", n=400, seed=1, n_walkers=8, tune_steps=30, n_chains=1
    )
    assert (tmp_path / "s.h5").exists() and result is not None
