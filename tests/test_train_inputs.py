"""dnnlik.train without TensorFlow: configuration, samples files, bad inputs, baselines, the missing extra.

Nothing here trains a network, so these tests run in the core suite (no TensorFlow needed).
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from train_helpers import PARAMETERS, PRECISION, grad_logpdf, logpdf, points, write_samples

from dnnlik.errors import DnnlikError, InvalidInputError
from dnnlik.likelihoods import CallableLikelihood
from dnnlik.train import (
    NonFiniteTargetsWarning,
    TrainConfig,
    auto_batch_size,
    baseline_values,
    check_sizes,
    fit_quadratic,
    from_arrays,
    load_samples,
    parse_layers,
    prepare,
)
from dnnlik.train.baseline import baseline_from_likelihood


@pytest.fixture
def samples(tmp_path: Path) -> Path:
    x = points(500)
    return write_samples(tmp_path / "s.h5", x, logpdf(x))


def test_auto_batch_size_is_a_power_of_two_near_n_over_200() -> None:
    assert auto_batch_size(100_000) == 512
    assert auto_batch_size(1_000_000) == 4096
    assert auto_batch_size(16_000) == 64
    assert auto_batch_size(100) == 16


def test_parse_layers() -> None:
    assert parse_layers("512,512,512") == (512, 512, 512)
    assert parse_layers("2x1024") == (1024, 1024)
    for bad in ("", "a,b", "0,3", "3x"):
        with pytest.raises(InvalidInputError, match=r"^layers: "):
            parse_layers(bad)


@pytest.mark.parametrize(
    "field,value",
    [
        ("layers", ()),
        ("target", "log"),
        ("epochs", 0),
        ("ensemble", 0),
        ("subset_fraction", 0.0),
        ("lr_factor", 1.5),
        ("max_minutes", -1.0),
        ("lr_schedule", "step"),
    ],
)
def test_config_rejects_bad_values(field: str, value: object) -> None:
    with pytest.raises(InvalidInputError, match=field):
        TrainConfig(**{field: value})


def test_config_defaults_follow_the_paper_recipe() -> None:
    cfg = TrainConfig()
    assert cfg.activation == "selu" and cfg.kernel_initializer == "lecun_normal"
    assert cfg.learning_rate == 1e-3 and cfg.lr_factor == 0.2 and cfg.loss == "mse"
    assert cfg.min_delta_for(2000) == pytest.approx(1 / 2000)
    assert cfg.member_seeds() == [0] and cfg.member_fraction() == 1.0
    assert TrainConfig(ensemble=3, seed=5).member_seeds() == [5, 6, 7]


def test_cosine_schedule_runs_from_the_learning_rate_down_to_min_lr() -> None:
    cfg = TrainConfig(lr_schedule="cosine", epochs=45, learning_rate=1e-3, min_lr=1e-6)
    rates = [cfg.learning_rate_at(e) for e in range(cfg.epochs)]
    assert rates[0] == pytest.approx(1e-3) and rates[-1] == pytest.approx(1e-6)
    assert all(a > b for a, b in itertools.pairwise(rates))
    assert rates[22] == pytest.approx((1e-3 + 1e-6) / 2)  # the middle epoch of 45 is halfway down
    assert TrainConfig(lr_schedule="cosine", epochs=1).learning_rate_at(0) == pytest.approx(1e-3)


def test_load_samples_reads_the_sampler_layout(samples: Path) -> None:
    data = load_samples(samples)
    assert data.n_parameters == 4
    assert data.n_train + data.n_validation + data.n_test == 500
    assert [p.name for p in data.parameters] == [p.name for p in PARAMETERS]
    np.testing.assert_allclose(data.y_train, logpdf(data.x_train))
    assert data.sampling["tool"] == "numpy" and data.source["name"] == "bent-gaussian-4d"
    assert data.n_dropped == 0


def test_non_finite_targets_are_dropped_with_a_count(tmp_path: Path) -> None:
    x = points(400)
    y = logpdf(x)
    y[[3, 10, 50]] = [np.nan, -np.inf, np.inf]
    path = write_samples(tmp_path / "s.h5", x, y)
    with pytest.warns(NonFiniteTargetsWarning, match="dropped 3 of 400 points"):
        data = load_samples(path)
    assert data.n_dropped == 3
    assert data.n_train + data.n_validation + data.n_test == 397
    assert np.all(np.isfinite(data.y_train))


def test_missing_dataset_is_named(tmp_path: Path, samples: Path) -> None:
    with h5py.File(samples, "a") as f:
        del f["logpdf"]
    with pytest.raises(DnnlikError, match=r"s\.h5: has no dataset '/logpdf'"):
        load_samples(samples)


def test_missing_split_is_named(tmp_path: Path, samples: Path) -> None:
    with h5py.File(samples, "a") as f:
        del f["split/validation"]
    with pytest.raises(DnnlikError, match="/split/validation"):
        load_samples(samples)


def test_not_a_samples_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.h5"
    bad.write_text("not hdf5")
    with pytest.raises(DnnlikError, match="bad.h5: cannot open as HDF5"):
        load_samples(bad)
    with pytest.raises(DnnlikError, match="no such samples file"):
        load_samples(tmp_path / "missing.h5")
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f.attrs["format"] = "something-else"
    with pytest.raises(DnnlikError, match="expected 'dnnlik-samples'"):
        load_samples(other)


def test_fewer_points_than_the_batch_size(samples: Path) -> None:
    data = load_samples(samples)
    check_sizes(data, 64)
    with pytest.raises(InvalidInputError, match=r"s\.h5: has 400 training points, fewer than the batch size 512"):
        check_sizes(data, 512)


def test_fit_quadratic_recovers_a_quadratic() -> None:
    rng = np.random.default_rng(1)
    center = np.array([0.5, -1.0, 2.0])
    a = rng.normal(size=(3, 3))
    hess = -(a @ a.T + np.eye(3))
    x = rng.normal(0.0, 2.0, (600, 3))
    dx = x - center
    y = 4.0 + 0.5 * np.einsum("ni,ij,nj->n", dx, hess, dx)
    base, info = fit_quadratic(x, y)
    assert info["method"] == "least-squares quadratic fit"
    np.testing.assert_allclose(base.center, center, atol=1e-8)
    np.testing.assert_allclose(base.hessian, hess, atol=1e-8)
    assert base.value_at_center == pytest.approx(4.0, abs=1e-8)
    np.testing.assert_allclose(baseline_values(base, x), y, atol=1e-7)


def test_fit_quadratic_is_concave_even_when_the_data_are_not() -> None:
    x = points(800)
    y = -0.5 * x[:, 0] ** 2 + 0.3 * x[:, 1] ** 2  # a saddle
    base, info = fit_quadratic(x, y)
    assert info["capped_eigenvalues"] >= 1
    assert np.linalg.eigvalsh(base.hessian).max() < 0


def test_baseline_from_the_likelihood_is_its_laplace_approximation() -> None:
    lik = CallableLikelihood(logpdf, PARAMETERS, grad=grad_logpdf)
    x = points(300)
    data = from_arrays(x, logpdf(x), PARAMETERS)
    base, info = baseline_from_likelihood(lik, data)
    assert info["source"] == "likelihood"
    np.testing.assert_allclose(grad_logpdf(base.center[None])[0], 0.0, atol=1e-5)
    assert base.value_at_center == pytest.approx(float(logpdf(base.center[None])[0]), abs=1e-12)
    np.testing.assert_allclose(base.hessian, _hessian_at(base.center), atol=1e-4)


def _hessian_at(c: np.ndarray) -> np.ndarray:
    """The exact Hessian of train_helpers.logpdf at ``c``."""
    h = -PRECISION.copy()
    h[0, 0] -= 0.6 * c[0] ** 2
    h[1, 1] -= 0.8 * np.sin(2 * c[1])
    return h


def test_prepare_standardizes_the_residual() -> None:
    x = points(600)
    data = from_arrays(x, logpdf(x), PARAMETERS)
    prep = prepare(data, TrainConfig(baseline="fit"))
    t = prep.targets(data.x_train, data.y_train)
    assert abs(float(t.mean())) < 1e-5 and float(t.std()) == pytest.approx(1.0, rel=1e-5)
    z = prep.inputs(data.x_train)
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-5)
    back = prep.logpdf_from_net(data.x_train, t)
    np.testing.assert_allclose(back, data.y_train, atol=1e-4)
    direct = prepare(data, TrainConfig(target="logpdf"))
    assert direct.baseline is None and direct.transform_json()["baseline"] == {"type": "none"}


def test_the_baseline_source_follows_the_config() -> None:
    """'fit' fits even when an exact likelihood is given; 'auto' takes the likelihood when its gradient is exact."""
    exact = CallableLikelihood(logpdf, PARAMETERS, grad=grad_logpdf)
    estimated = CallableLikelihood(logpdf, PARAMETERS)  # finite differences: exact_gradient is False
    x = points(300)
    data = from_arrays(x, logpdf(x), PARAMETERS)
    assert prepare(data, TrainConfig(baseline="fit"), exact).baseline_info["source"] == "fit"
    assert prepare(data, TrainConfig(baseline="auto"), exact).baseline_info["source"] == "likelihood"
    assert prepare(data, TrainConfig(baseline="auto"), estimated).baseline_info["source"] == "fit"
    assert prepare(data, TrainConfig(baseline="likelihood"), estimated).baseline_info["source"] == "likelihood"


def test_a_zip_output_is_refused_before_training(tmp_path: Path) -> None:
    from dnnlik.train.pipeline import check_output

    with pytest.raises(InvalidInputError, match="writes a bundle folder"):
        check_output(tmp_path / "b.zip", overwrite=False)


def test_baseline_likelihood_without_a_registered_source_is_refused() -> None:
    x = points(300)
    data = from_arrays(x, logpdf(x), PARAMETERS, source={"name": "not-registered"})
    with pytest.raises(InvalidInputError, match="baseline='likelihood' needs the reference likelihood"):
        prepare(data, TrainConfig(baseline="likelihood"))


def _run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(Path(__file__).resolve().parents[1]),
    )


def test_import_does_not_import_tensorflow() -> None:
    proc = _run_python("""
        import sys
        import dnnlik.train, dnnlik.cli.train
        print(sorted(m for m in ("tensorflow", "keras", "tf2onnx") if m in sys.modules))
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_missing_train_extra_says_how_to_install_it() -> None:
    proc = _run_python("""
        import sys
        import importlib.abc

        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("tensorflow", "keras"):
                    raise ImportError(f"No module named {name!r} (blocked)")
                return None

        sys.meta_path.insert(0, Block())
        import numpy as np
        from dnnlik.errors import MissingExtraError
        from dnnlik.train import TrainConfig, from_arrays, train_member
        x = np.random.default_rng(0).normal(size=(200, 2))
        data = from_arrays(x, -0.5 * (x ** 2).sum(axis=1))
        try:
            train_member(data, TrainConfig(layers=(4,), epochs=1, batch_size=16), 0)
        except MissingExtraError as exc:
            print("MESSAGE:", exc)
        else:
            print("NO ERROR")
    """)
    assert proc.returncode == 0, proc.stderr
    assert "MESSAGE:" in proc.stdout
    assert "pip install 'dnnlik[train]'" in proc.stdout


def test_cli_refuses_an_existing_output_before_training(samples: Path, tmp_path: Path) -> None:
    from dnnlik.cli.train import train

    out = tmp_path / "bundle"
    out.mkdir()
    result = CliRunner().invoke(train, [str(samples), "--out", str(out)])
    assert result.exit_code == 1
    assert "already exists (use --overwrite to replace it)" in result.output
    assert "Traceback" not in result.output


def test_cli_bad_inputs_get_one_line(tmp_path: Path, samples: Path) -> None:
    from dnnlik.cli.train import train

    runner = CliRunner()
    r = runner.invoke(train, [str(tmp_path / "nope.h5"), "--out", str(tmp_path / "b")])
    assert r.exit_code == 1 and "nope.h5: no such samples file" in r.output
    r = runner.invoke(train, [str(samples), "--out", str(tmp_path / "b"), "--layers", "a,b"])
    assert r.exit_code == 2 and "--layers" in r.output
    r = runner.invoke(train, [str(samples), "--out", str(tmp_path / "b"), "--batch-size", "4096"])
    assert r.exit_code == 1 and "fewer than the batch size 4096" in r.output
    assert not (tmp_path / "b").exists()


def test_reads_what_the_sampler_writes(tmp_path: Path) -> None:
    import warnings

    from dnnlik import sample
    from dnnlik.parameters import Parameter

    lik = CallableLikelihood(
        lambda x: -0.5 * (x**2).sum(axis=1),
        [Parameter("mu", role="poi", bounds=(-5.0, 5.0)), Parameter("t", bounds=(-5.0, 5.0))],
        grad=lambda x: -x,
        name="gauss2",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sample.sample(lik, tmp_path / "g.h5", n=300, tune_steps=100, progress=False, seed=1)
    data = load_samples(tmp_path / "g.h5")
    assert data.n_parameters == 2 and data.n_train + data.n_validation + data.n_test > 200
    np.testing.assert_allclose(data.y_train, -0.5 * (data.x_train**2).sum(axis=1))
    point, value = data.best_point()  # the maximum the sampler recorded
    np.testing.assert_allclose(point, 0.0, atol=1e-5)
    assert data.source["name"] == "gauss2"


def test_fit_quadratic_with_many_parameters_uses_the_sample_covariance(monkeypatch: pytest.MonkeyPatch) -> None:
    import dnnlik.train.baseline as baseline_module

    monkeypatch.setattr(baseline_module, "MAX_FULL_FIT_FEATURES", 5)
    rng = np.random.default_rng(2)
    cov = np.array([[1.0, 0.5, 0.0], [0.5, 2.0, 0.3], [0.0, 0.3, 0.5]])
    x = rng.multivariate_normal(np.zeros(3), cov, size=20000)
    y = -0.5 * np.einsum("ni,ij,nj->n", x, np.linalg.inv(cov), x)  # samples drawn from exp(y)
    base, info = fit_quadratic(x, y)
    assert info["method"] == "inverse sample covariance with a fitted scale"
    # the shape comes from the covariance of the best half of the points (statistical error ~ 1/sqrt(n)),
    # the overall scale and the centre from a least-squares fit
    np.testing.assert_allclose(base.hessian, -np.linalg.inv(cov), atol=0.05)
    np.testing.assert_allclose(base.center, 0.0, atol=0.02)


def test_parameters_a_bundle_cannot_hold_are_refused_before_training(tmp_path: Path) -> None:
    from dnnlik.parameters import Parameter
    from dnnlik.train import train_bundle

    x = points(300)
    bad = [Parameter(name="mu"), Parameter(name="two words"), Parameter(name="c"), Parameter(name="d")]
    data = from_arrays(x, logpdf(x), bad)
    with pytest.raises(
        InvalidInputError, match=r"parameter 1 \('two words'\): is not a name a bundle can hold.*'two_words'"
    ):
        train_bundle(data, tmp_path / "b", TrainConfig(layers=(4,), batch_size=16))
    assert not (tmp_path / "b").exists()


def test_a_ctrl_c_early_in_a_later_member_keeps_the_finished_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    """No TensorFlow needed: the members are stand-ins, the second interrupted before its first epoch."""
    from dnnlik.train import ensemble

    calls = []

    def member(data, config, seed, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(seed)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return types.SimpleNamespace(seed=seed, stopped="early-stopping")

    monkeypatch.setattr(ensemble, "train_member", member)
    x = points(200)
    data = from_arrays(x, logpdf(x), PARAMETERS)
    result = ensemble.train_ensemble(data, TrainConfig(ensemble=3, baseline="fit"))
    assert [m.seed for m in result.members] == [0] and result.interrupted and calls == [0, 1]
    assert "kept the 1 finished member(s)" in result.notes[0]

    calls.clear()
    monkeypatch.setattr(ensemble, "train_member", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        ensemble.train_ensemble(data, TrainConfig(ensemble=3, baseline="fit"))
