"""Points between the profile ridge and the typical set, and adding them to a samples file."""

from __future__ import annotations

import numpy as np
import pytest

from dnnlik.errors import InvalidInputError
from dnnlik.examples import gaussian_reference, gaussian_spec
from dnnlik.likelihoods import CallableLikelihood
from dnnlik.sample.dataset import augment_dataset, read_dataset, write_dataset
from dnnlik.sample.ridge import ridge_samples

MEAN, COV, PARAMS = gaussian_spec(4)
GAUSS = CallableLikelihood(
    lambda x: gaussian_reference(x, MEAN, COV)[0], PARAMS, grad=lambda x: gaussian_reference(x, MEAN, COV)[1]
)


def test_depth_below_the_ridge_follows_the_recipe():
    n = 20_000
    x, y, meta = ridge_samples(GAUSS, n, (-0.5, 1.0), seed=3)
    assert x.shape == (n, 4) and meta["n_kept"] == n
    np.testing.assert_array_equal(y, GAUSS.logpdf(x))
    assert x[:, 0].min() >= -0.5 and x[:, 0].max() <= 1.0
    top = float(GAUSS.logpdf(MEAN))
    ridge = top - 0.5 * (x[:, 0] - MEAN[0]) ** 2 / COV[0, 0]  # the exact profile of a Gaussian
    depth = ridge - y
    # depth = 0.5 s^2 chi2_3 with s ~ U(0,1): mean 0.5, variance 0.5 -> standard error sqrt(0.5/n)
    assert depth.min() > -1e-6
    assert abs(depth.mean() - 0.5) < 5 * np.sqrt(0.5 / n)
    # some points lie essentially on the ridge, which MCMC never visits
    assert np.mean(depth < 0.01) > 0.05


def test_bad_range():
    with pytest.raises(InvalidInputError, match="lo < hi"):
        ridge_samples(GAUSS, 10, (1.0, 0.0))


def test_augment_keeps_the_samples_and_resplits(tmp_path):
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(100, 4))
    params = [p.to_json() for p in PARAMS]
    sampling = {
        "tool": "emcee",
        "strategy": "unbiased",
        "n_samples": 100,
        "split": {"train": 80, "validation": 10, "test": 10, "seed": 1, "fractions": [0.8, 0.1, 0.1]},
    }
    split = {"train": np.arange(80), "validation": np.arange(80, 90), "test": np.arange(90, 100)}
    write_dataset(
        tmp_path / "a.h5",
        points=pts,
        logpdf=GAUSS.logpdf(pts),
        segment=np.zeros(100, int),
        weight=rng.integers(1, 3, 100),
        split=split,
        parameters=params,
        sampling=sampling,
        source={"name": "gauss"},
    )
    extra, values, meta = ridge_samples(GAUSS, 50, (0.0, 1.0), seed=1)
    augment_dataset(tmp_path / "a.h5", tmp_path / "b.h5", extra, values, meta, seed=7)
    b = read_dataset(tmp_path / "b.h5")
    assert b.points.shape == (150, 4)
    np.testing.assert_array_equal(b.points[:100], pts)
    assert (b.weight[100:] == 1).all() and (b.segment[100:] == 1).all()
    assert sorted(np.concatenate(list(b.split.values()))) == list(range(150))
    assert b.sampling["strategy_options"]["augmentation"][0]["kind"] == "ridge"
    assert b.sampling["n_samples"] == 150 and b.sampling["split"]["test"] == 15
    with pytest.raises(InvalidInputError, match="do not fit"):
        augment_dataset(tmp_path / "a.h5", tmp_path / "c.h5", extra[:, :3], values, meta, seed=7)
