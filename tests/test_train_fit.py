"""Training networks: accuracy on an analytic likelihood, reproducibility, caps, Ctrl-C, ensembles."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from train_helpers import PARAMETERS, grad_logpdf, logpdf, points

from dnnlik.likelihoods import CallableLikelihood
from dnnlik.train import (
    TrainConfig,
    baseline_values,
    from_arrays,
    predict,
    prepare,
    train_ensemble,
    train_member,
)

pytestmark = pytest.mark.slow  # TensorFlow training

TINY = TrainConfig(layers=(16,), epochs=4, batch_size=64, target="logpdf")


@pytest.fixture(scope="module")
def data():  # type: ignore[no-untyped-def]
    x = points(3000)
    return from_arrays(x, logpdf(x), PARAMETERS, seed=0)


def _rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))


def test_surrogate_is_accurate_where_the_samples_are(data) -> None:  # type: ignore[no-untyped-def]
    """A 2x32 SELU net learning the residual over the exact Laplace baseline of a bent 4-d Gaussian."""
    lik = CallableLikelihood(logpdf, PARAMETERS, grad=grad_logpdf)
    cfg = TrainConfig(layers=(32, 32), epochs=40, batch_size=64, seed=1)
    result = train_ensemble(data, cfg, likelihood=lik)
    assert result.preprocessing.baseline_info["source"] == "likelihood"
    inner = data.y_test > data.y_test.max() - 6.0  # the bulk: within 6 units of log L of the best test point
    assert inner.mean() > 0.8
    got = predict(result, data.x_test, with_gradient=True)
    err_net = _rmse(got["logpdf"][inner], data.y_test[inner])
    err_baseline = _rmse(baseline_values(result.preprocessing.baseline, data.x_test[inner]), data.y_test[inner])
    # measured: 0.11 for the network, 0.78 for the baseline alone (and 0.78 for a constant)
    assert err_net < 0.2
    assert err_net < 0.25 * err_baseline
    # the gradient is right too, where the samples are dense
    core = np.linalg.norm(data.x_test, axis=1) < 1.5
    exact = grad_logpdf(data.x_test[core])
    g_err = _rmse(got["grad_logpdf"][core], exact)
    g_size = float(np.sqrt(np.mean(exact**2)))
    assert g_err < 0.45 * g_size  # measured: 0.22 against a gradient of rms size 0.78


def test_learning_logpdf_directly_also_works(data) -> None:  # type: ignore[no-untyped-def]
    cfg = TrainConfig(layers=(32, 32), epochs=25, batch_size=64, target="logpdf", seed=2)
    result = train_ensemble(data, cfg)
    assert result.preprocessing.baseline is None
    err = _rmse(predict(result, data.x_test)["logpdf"], data.y_test)
    # measured about 0.3 at 25 epochs; a constant would give the std of log L (about 1.6)
    assert err < 0.6 < float(np.std(data.y_test))
    m = result.members[0]
    assert m.stopped == "epoch-cap" and m.epochs == 25
    assert m.history["val_loss"][-1] < m.history["val_loss"][0]


def test_same_seed_same_weights_other_seed_other_weights(data) -> None:  # type: ignore[no-untyped-def]
    prep = prepare(data, TINY)
    a = train_member(data, TINY, 3, preprocessing=prep)
    b = train_member(data, TINY, 3, preprocessing=prep)
    c = train_member(data, TINY, 4, preprocessing=prep)
    for (wa, ba), (wb, bb) in zip(a.weights.layers, b.weights.layers, strict=True):
        np.testing.assert_array_equal(wa, wb)
        np.testing.assert_array_equal(ba, bb)
    assert a.history == b.history
    assert not np.array_equal(a.weights.layers[0][0], c.weights.layers[0][0])


def test_early_stopping_restores_the_best_weights(data) -> None:  # type: ignore[no-untyped-def]
    cfg = TINY.with_(epochs=200, early_stopping_patience=2, min_delta=10.0, lr_patience=1)
    m = train_member(data, cfg, 0)
    assert m.stopped == "early-stopping"
    assert m.epochs == 3  # nothing improves by min_delta=10 after epoch 1, patience 2
    # the weights kept are those of the lowest validation loss seen
    val = m.history["val_loss"]
    assert m.best_epoch == int(np.argmin(val)) + 1 and m.best_val_loss == min(val)


def test_cosine_schedule_sets_each_epochs_learning_rate(data) -> None:  # type: ignore[no-untyped-def]
    cfg = TINY.with_(epochs=4, lr_schedule="cosine", learning_rate=1e-2, min_lr=1e-4)
    m = train_member(data, cfg, 0)
    assert m.epochs == 4
    np.testing.assert_allclose(m.history["lr"], [cfg.learning_rate_at(e) for e in range(4)], rtol=1e-6)
    assert m.history["lr"][0] > m.history["lr"][-1]


def test_wall_time_cap(data) -> None:  # type: ignore[no-untyped-def]
    m = train_member(data, TINY.with_(epochs=50), 0, deadline=0.0)  # a deadline already past
    assert m.stopped == "time-cap" and m.epochs == 1


def test_ctrl_c_keeps_the_best_weights_so_far(data) -> None:  # type: ignore[no-untyped-def]
    seen = []

    def progress(report) -> None:  # type: ignore[no-untyped-def]
        seen.append(report)
        if report.epoch == 3:
            raise KeyboardInterrupt

    cfg = TINY.with_(epochs=50)
    result = train_ensemble(data, cfg.with_(ensemble=3), progress=progress)
    assert result.interrupted and len(result.members) == 1
    m = result.members[0]
    assert m.stopped == "interrupted" and m.epochs == 3
    assert m.best_val_loss == min(m.history["val_loss"])
    assert [r.epoch for r in seen] == [1, 2, 3] and seen[-1].n_members == 3
    assert "interrupted" in result.notes[0]


def test_ensemble_members_differ_and_give_a_spread(data) -> None:  # type: ignore[no-untyped-def]
    cfg = TINY.with_(ensemble=3, subset_fraction=0.5, seed=10)
    result = train_ensemble(data, cfg)
    assert [m.seed for m in result.members] == [10, 11, 12]
    assert all(m.n_train == round(0.5 * data.n_train) for m in result.members)
    out = predict(result, data.x_test)
    assert out["logpdf_spread"].shape == (data.n_test,) and np.all(out["logpdf_spread"] > 0)
    singles = [
        predict(
            type(result)(members=(m,), preprocessing=result.preprocessing, config=cfg, wall_time_s=0.0), data.x_test
        )["logpdf"]
        for m in result.members
    ]
    np.testing.assert_allclose(out["logpdf"], np.mean(singles, axis=0), atol=1e-9)
    np.testing.assert_allclose(out["logpdf_spread"], np.std(singles, axis=0), atol=1e-9)
