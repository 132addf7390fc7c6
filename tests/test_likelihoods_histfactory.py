"""dnnlik.likelihoods.from_pyhf: a HistFactory workspace as a reference likelihood, checked against pyhf itself.

Workspaces: pyhf's own simple models (``uncorrelated_background``, a shapesys;
``correlated_background``, a histosys), and the generated ones of
``histfactory_workspaces.py`` (every modifier type with a fixed parameter and
two more free normalisation factors; degenerate (tau = 1e11) and nearly free
(tau = 0.05) gammas; about 100 parameters in 10 channels). Every number is
compared with pyhf's own (``model.logpdf``, ``mle.fit``/``fixed_poi_fit`` with
a tight tolerance, ``generate_asimov_data``, ``hypotest``), with finite
differences, or with the constraint densities written out with scipy. The
NumPy backend is used where speed matters; the JAX tests (compilation takes
seconds) are slow. Patches, provenance and bad input:
``test_likelihoods_histfactory_inputs.py``.
"""

from __future__ import annotations

import math
import re
import sys

import numpy as np
import pytest
from histfactory_workspaces import (
    every_modifier_workspace,
    gamma_workspace,
    random_points,
    realistic_workspace,
    reference,
    simple_workspace,
)
from scipy import stats

from dnnlik.errors import InvalidInputError, OptimizationError
from dnnlik.infer import tmu_scan
from dnnlik.likelihoods import HistFactoryLikelihood, dnnlik_name, from_pyhf, pyhf_name

pyhf = pytest.importorskip("pyhf")
pytestmark = pytest.mark.filterwarnings("ignore:jsonschema.RefResolver is deprecated:DeprecationWarning")

NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,127}$")  # spec/schemas/1.1.0/parameters.schema.json
WORKSPACES = {
    "uncorrelated": lambda: simple_workspace("uncorrelated"),
    "correlated": lambda: simple_workspace("correlated"),
    "every-modifier": every_modifier_workspace,
    "gamma": gamma_workspace,
}


@pytest.fixture(autouse=True)
def pyhf_numpy():
    """pyhf's NumPy backend with a tight fit tolerance for the reference fits; the previous backend restored."""
    backend, optimizer = pyhf.get_backend()
    pyhf.set_backend("numpy", pyhf.optimize.scipy_optimizer(tolerance=1e-12), precision="64b")
    yield
    pyhf.set_backend(backend, custom_optimizer=optimizer)


# --------------------------------------------------------------------------- names
def test_names_are_bundle_names_and_reversible() -> None:
    rng = np.random.default_rng(7)
    alphabet = list("abcXYZ019_-.:[] /é∑") + ["[0]", "[12]", "[07]"]
    names = ["".join(rng.choice(alphabet, size=rng.integers(1, 12))) for _ in range(2000)]
    for spec in (every_modifier_workspace(), gamma_workspace(), realistic_workspace()):
        names += reference(spec)[0].config.par_names
    for name in names:
        spelled = dnnlik_name(name)
        assert NAME_PATTERN.match(spelled), (name, spelled)
        assert pyhf_name(spelled) == name
    assert len({dnnlik_name(n) for n in set(names)}) == len(set(names))  # no two names share a spelling
    assert dnnlik_name("staterror_SR[3]") == "staterror_SR.3" and dnnlik_name("alpha_JES") == "alpha_JES"


@pytest.mark.parametrize(
    "spelling", ["a.01", "a..1", "a.b", "_:_abc", "1a", "a:4", "a:zz", "a:41", "a.1.2", "", "a:ff"]
)
def test_spellings_that_dnnlik_name_never_writes_are_refused(spelling: str) -> None:
    with pytest.raises(InvalidInputError, match="spelling"):
        pyhf_name(spelling)


# --------------------------------------------------------------------------- parameters, constraints, output
def test_parameters_of_the_every_modifier_workspace() -> None:
    lik = from_pyhf(every_modifier_workspace(), backend="numpy")
    model, _ = reference(every_modifier_workspace())
    params = {p.name: p for p in lik.parameters}
    fixed = {dnnlik_name(n) for n, f in zip(model.config.par_names, model.config.suggested_fixed(), strict=True) if f}
    assert fixed == {"alpha_theory_fixed", "staterror_SR.2"}  # the measurement's, and a bin without MC uncertainty
    assert lik.fixed_parameters == {"alpha_theory_fixed": 0.0, "staterror_SR.2": 1.0}
    assert set(params) == {dnnlik_name(n) for n in model.config.par_names} - fixed
    assert [p.name for p in lik.parameters if p.role == "poi"] == ["mu_SIG"]
    assert params["mu_SIG"].bounds == (0.0, 10.0) and params["mu_SIG"].constraint.type == "none"
    for name in ("k_ttbar", "k_wjets", "sf_CR_wjets.0"):
        assert params[name].constraint.type == "none" and params[name].role == "nuisance"
    assert params["lumi"].constraint.to_json() == {"type": "normal", "mean": 1.0, "sigma": 0.017}
    assert params["lumi"].bounds == (0.9, 1.1)
    for name in ("alpha_JES", "alpha_shape", "alpha_sig_xsec"):
        assert params[name].constraint.to_json() == {"type": "normal", "mean": 0.0, "sigma": 1.0}
        assert params[name].bounds == (-5.0, 5.0)
    # staterror: sqrt(sum of the samples' squared uncertainties) / total nominal, per bin
    for k, (unc, total) in enumerate([((2.0, 1.0), 65.0), ((1.5, 1.0), 42.0)]):
        c = params[f"staterror_SR.{k}"].constraint
        assert (c.type, c.mean) == ("normal", 1.0) and c.sigma == pytest.approx(math.hypot(*unc) / total, rel=1e-12)
    # shapesys: tau = (nominal / uncertainty)^2, the auxiliary count tau too
    taus = [(25.0 / 5.0) ** 2, (12.0 / 3.0) ** 2, (5.0 / 2.0) ** 2]
    for k, tau in enumerate(taus):
        c = params[f"shapesys_wjets_SR.{k}"].constraint
        assert c.type == "gamma" and c.tau == pytest.approx(tau, rel=1e-12) and c.aux == pytest.approx(tau, rel=1e-12)
    assert lik.output == {
        "quantity": "log-likelihood",
        "includes_constraints": True,
        "offset": pytest.approx(-sum(math.log(t) for t in taus), rel=1e-12),
    }
    for p in lik.parameters:
        assert p.lower <= p.nominal <= p.upper and NAME_PATTERN.match(p.name)


def declared_terms(lik: HistFactoryLikelihood, x: np.ndarray) -> np.ndarray:
    """The declared constraint terms summed, written with scipy: normal densities, Gamma(aux + 1, rate tau)."""
    total = np.zeros(x.shape[0])
    for j, p in enumerate(lik.parameters):
        c = p.constraint
        if c.type == "normal":
            total += stats.norm.logpdf(x[:, j], c.mean, c.sigma)
        elif c.type == "gamma":
            total += stats.gamma.logpdf(x[:, j], c.aux + 1.0, scale=1.0 / c.tau)
        else:
            assert c.type == "none"
    return total


@pytest.mark.parametrize("kind", ["every-modifier", "gamma", "uncorrelated"])
def test_pyhf_constraint_terms_are_the_declared_terms_plus_the_offset(kind: str) -> None:
    spec = WORKSPACES[kind]()
    lik = from_pyhf(spec, backend="numpy")
    model, data = reference(spec)
    x = random_points(lik, 20, seed=3, spread=0.02)
    full = lik.pyhf_parameters(x)
    aux = data[model.config.nmaindata :]
    pyhf_terms = np.array([np.asarray(model.constraint_logpdf(aux, p)).reshape(-1)[0] for p in full])
    rest = pyhf_terms - declared_terms(lik, x) - lik.output["offset"]
    # what is left is the fixed parameters' own terms, a constant: two N(0|0,1)-type terms for every-modifier
    # (alpha_theory_fixed at 0, the staterror bin pyhf fixes, sigma 1 at 1), none for the others
    expected = -math.log(2.0 * math.pi) if kind == "every-modifier" else 0.0
    # pyhf's Poisson term of the tau = 1e11 gamma sums numbers of 1e12 and more: ~1e-3 of round-off
    np.testing.assert_allclose(rest, expected, atol=2e-3 if kind == "gamma" else 1e-6)
    main = np.array([np.asarray(model.mainlogpdf(data[: model.config.nmaindata], p)).reshape(-1)[0] for p in full])
    np.testing.assert_allclose(lik.logpdf(x), main + pyhf_terms, rtol=1e-12)


# --------------------------------------------------------------------------- values and gradients
@pytest.mark.parametrize("kind", sorted(WORKSPACES))
def test_logpdf_is_pyhfs_at_random_points(kind: str) -> None:
    spec = WORKSPACES[kind]()
    lik = from_pyhf(spec, backend="numpy")
    model, data = reference(spec)
    x = random_points(lik, 150, seed=1)  # chunks of 128 and 16 (padded)
    theirs = np.array([float(model.logpdf(p, data)[0]) for p in lik.pyhf_parameters(x)])
    np.testing.assert_allclose(lik.logpdf(x), theirs, rtol=1e-12)
    assert float(lik.logpdf(x[3])) == pytest.approx(theirs[3], rel=1e-12)  # one point: a scalar
    mapping = {p.name: x[:, j] for j, p in enumerate(lik.parameters)}
    np.testing.assert_allclose(lik.logpdf(mapping), theirs, rtol=1e-12)


def test_outside_the_bounds_and_negative_yields_give_minus_inf() -> None:
    # a histosys whose "up" template is far below nominal: at theta = 2 the first bin's yield is 50 - 2 * 40 < 0
    model = pyhf.simplemodels.correlated_background(
        signal=[12.0, 11.0], bkg=[50.0, 52.0], bkg_up=[10.0, 57.0], bkg_down=[90.0, 47.0]
    )
    spec = dict(pyhf.Workspace.build(model, [60.0, 66.0] + model.config.auxdata))
    lik = from_pyhf(spec, backend="numpy")
    ref, data = reference(spec)
    assert lik.parameter_names == ("correlated_bkg_uncertainty", "mu")
    points = np.array([[0.0, -0.1], [0.0, 0.0], [2.0, 0.0]])
    values, grad = lik.logpdf_and_grad(points)
    assert np.isnan(float(ref.logpdf(points[2], data)[0]))  # pyhf: NaN where a yield is negative
    assert values[0] == -np.inf and values[2] == -np.inf and np.isfinite(values[1])
    assert np.isnan(grad[[0, 2]]).all() and np.isfinite(grad[1]).all()


def test_numpy_backend_gradient_is_finite_differences() -> None:
    lik = from_pyhf(every_modifier_workspace(), backend="numpy")
    assert lik.exact_gradient is False and lik.describe()["backend"] == "numpy"
    x = random_points(lik, 2, seed=5, spread=0.05)
    grad = lik.grad_logpdf(x)
    step = 1e-6
    for j in range(x.shape[1]):
        up, down = x.copy(), x.copy()
        up[:, j] += step
        down[:, j] -= step
        fd = (lik.logpdf(up) - lik.logpdf(down)) / (2 * step)
        np.testing.assert_allclose(grad[:, j], fd, rtol=1e-4, atol=1e-4)


# --------------------------------------------------------------------------- fits against pyhf
def pyhf_tmu(spec: dict, grid) -> tuple[np.ndarray, float, float]:
    """t_mu from pyhf's own fits (twice-NLL differences), its mu_hat, and its max log L."""
    model, data = reference(spec)
    best, nll = pyhf.infer.mle.fit(data, model, return_fitted_val=True)
    fixed = [float(pyhf.infer.mle.fixed_poi_fit(m, data, model, return_fitted_val=True)[1]) for m in grid]
    return np.array(fixed) - float(nll), float(best[model.config.poi_index]), -0.5 * float(nll)


def check_scan_against_pyhf(spec: dict, lik: HistFactoryLikelihood, grid) -> None:
    scan = tmu_scan(lik, grid)
    theirs, mu_hat, max_logl = pyhf_tmu(spec, grid)
    assert max(theirs) > 6.0  # the grid covers t_mu from 0 to beyond 6
    np.testing.assert_allclose(scan.tmu, theirs, atol=1e-4)
    assert scan.max_logpdf >= max_logl - 1e-7  # never a worse maximum than pyhf's
    assert scan.poi_hat == pytest.approx(mu_hat, abs=2e-3)


def test_tmu_matches_pyhf_with_degenerate_and_nearly_free_gammas() -> None:
    spec = gamma_workspace()
    lik = from_pyhf(spec, backend="numpy")
    taus = {p.name: p.constraint.tau for p in lik.parameters if p.constraint.type == "gamma"}
    assert taus["gamma_bkg.0"] == pytest.approx(1e11) and taus["gamma_bkg.1"] == pytest.approx(0.05)
    check_scan_against_pyhf(spec, lik, [0.0, 0.5, 1.0, 2.0, 3.5])
    fit = tmu_scan(lik, [1.0]).best
    assert fit.held == ("gamma_bkg.0",) and "too narrow" in fit.notes[0]


def test_a_degenerate_gamma_not_held_is_an_error_not_a_wrong_fit(monkeypatch) -> None:
    # the failure of issue 15, section 0: without holding the tau = 1e11 gamma, finite-difference
    # gradients are noise and L-BFGS-B stalls at its start; that must raise, not return the start
    maximize_module = sys.modules["dnnlik.infer.maximize"]  # the package's "maximize" is the function
    monkeypatch.setattr(maximize_module, "degenerate_parameters", lambda params, free: ([], [], []))
    lik = from_pyhf(gamma_workspace(), backend="numpy")
    with pytest.raises(OptimizationError, match="not converged|below its start"):
        tmu_scan(lik, [1.0])


def test_asimov_data_are_pyhfs_background_only_asimov_data() -> None:
    spec = every_modifier_workspace()
    lik = from_pyhf(spec, data="asimov", backend="numpy")
    model, data = reference(spec)
    theirs = pyhf.infer.calculators.generate_asimov_data(
        0.0, data, model, model.config.suggested_init(), model.config.suggested_bounds(), model.config.suggested_fixed()
    )
    # two independent fits (ours, pyhf's) agree on the fitted nuisance parameters to about 1e-5 (in sigmas)
    np.testing.assert_allclose(lik.data, theirs, rtol=1e-5, atol=1e-4)
    assert lik.describe()["data"] == "asimov"
    # the auxiliary data moved, and the constraints' centres with them
    lumi = next(p for p in lik.parameters if p.name == "lumi")
    aux_lumi = model.config.auxdata_order.index("lumi")
    assert lumi.constraint.mean == lik.data[model.config.nmaindata + aux_lumi] != 1.0


# --------------------------------------------------------------------------- JAX: exact gradients (slow: compilation)
def smooth_part(lik: HistFactoryLikelihood, model, data: np.ndarray, x: np.ndarray) -> np.ndarray:
    """pyhf's main (Poisson) term plus the normal constraint terms (scipy): the log-density without its gamma terms.

    The gamma terms are left out because pyhf writes them as ``aux log(tau x) - tau x``: for tau = 1e11, terms
    of 1e12 whose round-off (~1e-3) no finite difference survives; their derivative is ``aux / x - tau``.
    """
    main = data[: model.config.nmaindata]
    total = np.array([np.asarray(model.mainlogpdf(main, p)).reshape(-1)[0] for p in lik.pyhf_parameters(x)])
    for j, p in enumerate(lik.parameters):
        if p.constraint.type == "normal":
            total += stats.norm.logpdf(x[:, j], p.constraint.mean, p.constraint.sigma)
    return total


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["every-modifier", "gamma"])
def test_jax_gradient_matches_finite_differences_and_values_match_pyhf(kind: str) -> None:
    pytest.importorskip("jax")
    spec = WORKSPACES[kind]()
    lik = from_pyhf(spec, backend="jax")
    assert lik.exact_gradient is True
    model, data = reference(spec)
    widths = np.array([p.constraint.sigma or (p.constraint.tau or 1.0) ** -0.5 for p in lik.parameters])
    nominal = np.array([p.nominal for p in lik.parameters])
    rng = np.random.default_rng(4)
    x = nominal + rng.normal(0.0, 0.05, (20, nominal.size)) * np.minimum(1.0, widths)  # within a few widths
    x = np.clip(x, [p.lower for p in lik.parameters], [p.upper for p in lik.parameters])
    theirs = np.array([float(model.logpdf(p, data)[0]) for p in lik.pyhf_parameters(x)])
    values, grad = lik.logpdf_and_grad(x)
    np.testing.assert_allclose(values, theirs, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(lik.grad_logpdf(x), grad, rtol=1e-12)
    step = 1e-5  # central differences of a smooth function of scale >= 0.01: error ~ 1e-10 |f(3)| + 1e-16 |f| / step
    for j, p in enumerate(lik.parameters):
        up, down = x.copy(), x.copy()
        up[:, j] += step
        down[:, j] -= step
        expected = (smooth_part(lik, model, data, up) - smooth_part(lik, model, data, down)) / (2 * step)
        if p.constraint.type == "gamma":
            expected += p.constraint.aux / x[:, j] - p.constraint.tau
        np.testing.assert_allclose(grad[:, j], expected, rtol=1e-5, atol=1e-5, err_msg=p.name)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "grid"),
    [
        ("uncorrelated", [0.0, 0.5, 1.0, 2.0, 3.5, 5.0]),
        ("correlated", [0.0, 0.5, 1.0, 2.0, 3.5, 4.5]),
        ("every-modifier", [0.0, 0.5, 1.0, 2.0, 3.0, 4.0]),
        ("gamma", [0.0, 0.5, 1.0, 2.0, 3.5]),
        ("realistic", [0.0, 0.5, 1.0, 1.5, 2.0]),
    ],
)
def test_jax_tmu_scans_match_pyhf(kind: str, grid: list[float]) -> None:
    pytest.importorskip("jax")
    spec = realistic_workspace() if kind == "realistic" else WORKSPACES[kind]()
    lik = from_pyhf(spec, backend="jax")
    if kind == "realistic":
        assert 90 <= len(lik.parameters) <= 110 and lik.fixed_parameters == {"lumi": 1.0}
    check_scan_against_pyhf(spec, lik, grid)


@pytest.mark.slow
def test_asimov_hook_gives_pyhfs_cls() -> None:
    pytest.importorskip("jax")
    from dnnlik.infer import cls_scan

    spec = every_modifier_workspace()
    lik = from_pyhf(spec, backend="jax")
    model, data = reference(spec)
    mus = [1.0, 2.0, 3.0]
    ours = cls_scan(lik, mus)
    assert ours.sigma_source == "asimov"  # through HistFactoryLikelihood.asimov_logdensity
    theirs = [float(pyhf.infer.hypotest(m, data, model, test_stat="qtilde")) for m in mus]
    np.testing.assert_allclose(ours.cls, theirs, atol=1e-3)
