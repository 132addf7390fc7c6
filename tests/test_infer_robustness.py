"""dnnlik.infer never reports a fit that did not converge: stalled L-BFGS-B runs, lying gradients, degenerate widths.

Issue 15, section 0: on a real workspace, a gamma with tau = 1.9e11 spoilt the
finite-difference gradient; L-BFGS-B stopped at its start with ``ABNORMAL`` and
the start was reported as the maximum. The HistFactory version of that case is
in ``test_likelihoods_histfactory.py``; here the same failure modes on small
closed-form log-densities.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from dnnlik.errors import OptimizationError
from dnnlik.infer import maximize, tmu_scan
from dnnlik.infer.objective import Objective
from dnnlik.infer.scales import DEGENERATE_WIDTH, constraint_scale, degenerate_parameters, probe_steps
from dnnlik.likelihoods import CallableLikelihood
from dnnlik.parameters import Constraint, Parameter

MU = Parameter("mu", "poi", bounds=(-5.0, 5.0))


def quadratic(centre: float = 1.3):
    """-(mu - centre)^2 / 2 with a gradient function that lies (set per test)."""
    return lambda x: -0.5 * (x[:, 0] - centre) ** 2


def test_a_gradient_that_stalls_lbfgsb_at_its_start_is_not_a_maximum() -> None:
    # The gradient says "flat" everywhere: L-BFGS-B reports success without moving. The start
    # (mu = 0) is not the maximum (mu = 1.3), so the fit must raise, not return mu = 0.
    lik = CallableLikelihood(quadratic(), [MU], grad=lambda x: np.zeros_like(x))
    with pytest.raises(OptimizationError, match="not converged"):
        maximize(lik)


def test_noise_in_the_gradient_gives_an_error_or_the_true_maximum() -> None:
    # A gradient of the wrong sign and size near the start: line searches fail (ABNORMAL).
    rng = np.random.default_rng(0)
    lik = CallableLikelihood(quadratic(), [MU], grad=lambda x: rng.normal(0.0, 50.0, x.shape))
    try:
        fit = maximize(lik)
    except OptimizationError as exc:
        assert "not converged" in str(exc) or "below its start" in str(exc)
    else:  # if it claims a maximum, it is the maximum (to the probe's resolution, 1e-4 here)
        assert fit.value("mu") == pytest.approx(1.3, abs=2e-4)
        assert fit.notes, "the restarts after the stalled runs are noted"


def test_an_abnormal_stop_at_the_true_maximum_is_accepted() -> None:
    # At a kink L-BFGS-B ends ABNORMAL; the probe finds no better point: converged.
    lik = CallableLikelihood(
        lambda x: -np.abs(x[:, 0] - 0.3) - 0.5 * x[:, 1] ** 2,
        [Parameter("x", bounds=(-5.0, 5.0), nominal=0.3), Parameter("y", bounds=(-5.0, 5.0), nominal=0.0)],
        grad=lambda x: np.stack([-np.sign(x[:, 0] - 0.3), -x[:, 1]], axis=1),
    )
    fit = maximize(lik)  # starts at the maximum: no run moves
    assert fit.value("x") == pytest.approx(0.3, abs=1e-12) and fit.logpdf == pytest.approx(0.0, abs=1e-12)
    assert fit.notes == ()


def _narrow_lik(sigma: float, slope: float = 3.0) -> CallableLikelihood:
    """mu with a Gaussian term (mean 1, sd 0.5) plus a parameter g with a N(1, sigma) term, coupled by slope*g*mu."""

    def f(x: np.ndarray) -> np.ndarray:
        mu, g = x[:, 0], x[:, 1]
        return -0.5 * ((mu - 1.0) / 0.5) ** 2 - 0.5 * ((g - 1.0) / sigma) ** 2 + slope * (g - 1.0) * mu

    def grad(x: np.ndarray) -> np.ndarray:
        mu, g = x[:, 0], x[:, 1]
        return np.stack([-(mu - 1.0) / 0.25 + slope * (g - 1.0), -(g - 1.0) / sigma**2 + slope * mu], axis=1)

    g = Parameter("g", bounds=(0.0, 10.0), nominal=1.0, constraint=Constraint("normal", 1.0, sigma))
    return CallableLikelihood(f, [MU, g], grad=grad)


def _closed_form_max(sigma: float, slope: float = 3.0, mu: float | None = None) -> float:
    """The exact maximum (over g, and over mu unless given) of :func:`_narrow_lik`'s log-density."""
    # in (mu, d = g - 1): -2 (mu - 1)^2 - d^2 / (2 sigma^2) + slope d mu; at fixed mu, d = slope sigma^2 mu
    if mu is not None:
        return -2.0 * (mu - 1.0) ** 2 + 0.5 * (slope * sigma * mu) ** 2
    a = 4.0 - (slope * sigma) ** 2  # curvature of -(profile) in mu
    mu_hat = 4.0 / a
    return -2.0 * (mu_hat - 1.0) ** 2 + 0.5 * (slope * sigma * mu_hat) ** 2


def test_a_degenerate_constraint_is_held_with_a_note() -> None:
    sigma = 1e-7
    lik = _narrow_lik(sigma)
    fit = maximize(lik, x0=[0.0, 1.0 + 3e-7])  # a start off the constraint's centre: held at the centre anyway
    assert fit.held == ("g",) and fit.value("g") == 1.0
    assert any("g held at 1" in note and "too narrow" in note for note in fit.notes)
    # holding g costs at most (width * slope * mu)^2 / 2 of the exact maximum
    assert fit.logpdf == pytest.approx(_closed_form_max(sigma), abs=(sigma * 3.0 * 2.0) ** 2)
    assert fit.value("mu") == pytest.approx(1.0, abs=1e-6)
    data = json.loads(json.dumps(fit.to_json()))
    assert data["held"] == ["g"] and data["notes"] == list(fit.notes)
    scan = tmu_scan(lik, [0.0, 2.0])
    assert scan.best.held == ("g",) and all(p.held == ("g",) for p in scan.profiles)
    exact = [2.0 * (_closed_form_max(sigma) - _closed_form_max(sigma, mu=m)) for m in (0.0, 2.0)]
    np.testing.assert_allclose(scan.tmu, exact, atol=1e-6)


def test_a_narrow_but_resolvable_constraint_is_fitted() -> None:
    sigma = 10 * DEGENERATE_WIDTH
    fit = maximize(_narrow_lik(sigma))
    assert fit.held == ()
    assert fit.logpdf == pytest.approx(_closed_form_max(sigma), abs=1e-9)


def test_a_fixed_parameter_is_not_also_held() -> None:
    fit = maximize(_narrow_lik(1e-8), fixed={"g": 1.0})
    assert fit.fixed == ("g",) and fit.held == ()


@pytest.mark.parametrize(
    ("constraint", "centre", "width"),
    [
        (Constraint("normal", 2.0, 0.1), 2.0, 0.1),
        (Constraint("lognormal", 1.0, 0.2), math.exp(-0.04), math.sqrt(math.expm1(0.04) * math.exp(0.04))),
        (Constraint("gamma", tau=400.0), 1.0, math.sqrt(401.0) / 400.0),  # Gamma(aux + 1, rate tau): mode aux / tau
        (Constraint("gamma", tau=100.0, aux=120.0), 1.2, math.sqrt(121.0) / 100.0),
        (Constraint("uniform"), None, None),
        (Constraint("none"), None, None),
    ],
)
def test_constraint_scales(constraint: Constraint, centre: float | None, width: float | None) -> None:
    scale = constraint_scale(Parameter("a", bounds=(0.0, 10.0), constraint=constraint))
    if centre is None:
        assert scale is None
    else:
        assert scale == pytest.approx((centre, width), rel=1e-12)


def test_degenerate_gamma_is_found_and_clipped_into_the_bounds() -> None:
    params = [
        Parameter("wide", bounds=(1e-10, 10.0), nominal=1.0, constraint=Constraint("gamma", tau=0.05)),
        Parameter("narrow", bounds=(1e-10, 10.0), nominal=1.0, constraint=Constraint("gamma", tau=1.9e11)),
        Parameter("edge", bounds=(0.0, 0.5), nominal=0.5, constraint=Constraint("normal", 1.0, 1e-9)),
    ]
    idx, values, notes = degenerate_parameters(params, np.arange(3))
    assert idx.tolist() == [1, 2] and values.tolist() == [1.0, 0.5] and len(notes) == 2


def _noisy_bowl(n: int, amplitude: float):
    """-290 - |x - c|^2 / 2 plus a deterministic point-to-point scatter of ``amplitude`` (a float32 network's)."""
    params = [Parameter(f"x{i}", "poi" if i == 0 else "nuisance", bounds=(-5.0, 5.0)) for i in range(n)]
    centre = np.linspace(-1.0, 1.0, n)

    def noisy(x: np.ndarray) -> np.ndarray:
        return -290.0 - 0.5 * ((x - centre) ** 2).sum(axis=1) + amplitude * np.sin(1e9 * x @ np.arange(1, n + 1))

    return CallableLikelihood(noisy, params, grad=lambda x: -(x - centre)), centre


@pytest.mark.parametrize("amplitude", [3e-7, 3e-6])
def test_round_off_noise_is_not_taken_for_an_improvement(amplitude: float) -> None:
    # A float32 network's log L scatters by ~1e-7 from point to point (7.5e-8 rms at log L = -290
    # on the zoo's toy bundle), above PROBE_TOLERANCE * |log L| = 2.9e-8: at the maximum, the
    # probe must see that scatter as noise, not as a better point (which would restart L-BFGS-B
    # until the fit fails as "not converged").
    lik, centre = _noisy_bowl(35, amplitude)
    objective = Objective(lik, centre.copy(), np.arange(35))
    value = float(lik.logpdf(centre[None, :])[0])
    assert objective.probe(centre, value, probe_steps(lik.parameters, np.arange(35), centre)) is None
    # a real improvement, far above the noise, is still found: the centre moved off the maximum
    off = centre + 0.05
    better = objective.probe(off, float(lik.logpdf(off[None, :])[0]), probe_steps(lik.parameters, np.arange(35), off))
    assert better is not None and better[0] > float(lik.logpdf(off[None, :])[0]) + 1e-4
    fit = maximize(lik)
    assert np.allclose(fit.point, centre, atol=1e-3)
