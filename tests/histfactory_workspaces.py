"""Small HistFactory (pyhf JSON) workspaces for the tests and the benchmark, generated in code.

- :func:`every_modifier_workspace`: three channels (a 3-bin signal region, a 2-bin
  control region, a 1-bin control region whose samples carry only normfactor and
  shapefactor modifiers, so no auxiliary data), with every modifier type:
  normsys, histosys, lumi, staterror, shapesys, shapefactor, normfactor; the POI
  ``mu_SIG``, two more free normalisation factors ``k_ttbar`` and ``k_wjets``,
  a normsys fixed by the measurement (``alpha_theory_fixed``), and a staterror
  bin with no uncertainty (which pyhf fixes itself).
- :func:`gamma_workspace`: one channel whose shapesys gammas include a
  degenerate one (tau = ``1e11``: width 3e-6) and a nearly free one (tau = 0.05).
- :func:`realistic_workspace`: ``channels`` channels of 2 to 5 bins, about 100
  parameters with the defaults, drawn from a seeded generator.

Every yield is a plain float; observations are Poisson draws around the
nominal background plus ``signal_strength`` times the signal (seeded).
:func:`simple_workspace` gives pyhf's own simple models as workspaces, and
:func:`reference` pyhf's model and data for any workspace (these import pyhf).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "every_modifier_workspace",
    "gamma_workspace",
    "realistic_workspace",
    "signal_patch",
    "simple_workspace",
    "reference",
    "random_points",
]


def _normsys(name: str, hi: float, lo: float) -> dict[str, Any]:
    return {"name": name, "type": "normsys", "data": {"hi": hi, "lo": lo}}


def _histosys(name: str, nominal: np.ndarray, up: np.ndarray, down: np.ndarray) -> dict[str, Any]:
    return {
        "name": name,
        "type": "histosys",
        "data": {"hi_data": (nominal * up).tolist(), "lo_data": (nominal * down).tolist()},
    }


def _observe(channels: list[dict[str, Any]], rng: np.random.Generator, signal_strength: float) -> list[dict[str, Any]]:
    out = []
    for channel in channels:
        total = np.zeros(len(channel["samples"][0]["data"]))
        for sample in channel["samples"]:
            scale = signal_strength if sample["name"] == "signal" else 1.0
            total += scale * np.asarray(sample["data"])
        out.append({"name": channel["name"], "data": rng.poisson(total).astype(float).tolist()})
    return out


def _workspace(channels, observations, parameters, poi="mu_SIG") -> dict[str, Any]:
    return {
        "channels": channels,
        "observations": observations,
        "measurements": [{"name": "meas", "config": {"poi": poi, "parameters": parameters}}],
        "version": "1.0.0",
    }


def every_modifier_workspace(seed: int = 3, signal_strength: float = 0.5) -> dict[str, Any]:
    """The three-channel workspace with every modifier type (see the module docstring)."""
    rng = np.random.default_rng(seed)
    sig = np.array([6.0, 10.0, 4.0])
    tt = np.array([40.0, 30.0, 12.0])
    wj = np.array([25.0, 12.0, 5.0])
    lumi = {"name": "lumi", "type": "lumi", "data": None}
    sr = {
        "name": "SR",
        "samples": [
            {
                "name": "signal",
                "data": sig.tolist(),
                "modifiers": [
                    {"name": "mu_SIG", "type": "normfactor", "data": None},
                    _normsys("alpha_sig_xsec", 1.08, 0.93),
                    _normsys("alpha_theory_fixed", 1.05, 0.95),
                    lumi,
                ],
            },
            {
                "name": "ttbar",
                "data": tt.tolist(),
                "modifiers": [
                    {"name": "k_ttbar", "type": "normfactor", "data": None},
                    _normsys("alpha_JES", 1.06, 0.95),
                    _histosys("alpha_shape", tt, np.array([1.05, 1.0, 0.93]), np.array([0.96, 1.01, 1.06])),
                    {"name": "staterror_SR", "type": "staterror", "data": [2.0, 1.5, 0.0]},
                    lumi,
                ],
            },
            {
                "name": "wjets",
                "data": wj.tolist(),
                "modifiers": [
                    {"name": "k_wjets", "type": "normfactor", "data": None},
                    {"name": "shapesys_wjets_SR", "type": "shapesys", "data": [5.0, 3.0, 2.0]},
                    {"name": "staterror_SR", "type": "staterror", "data": [1.0, 1.0, 0.0]},
                ],
            },
        ],
    }
    cr1 = {
        "name": "CR_ttbar",
        "samples": [
            {
                "name": "ttbar",
                "data": [200.0, 150.0],
                "modifiers": [
                    {"name": "k_ttbar", "type": "normfactor", "data": None},
                    _normsys("alpha_JES", 1.04, 0.97),
                    _histosys("alpha_shape", np.array([200.0, 150.0]), np.array([1.02, 0.98]), np.array([0.98, 1.02])),
                    lumi,
                ],
            },
            {
                "name": "wjets",
                "data": [30.0, 20.0],
                "modifiers": [{"name": "k_wjets", "type": "normfactor", "data": None}],
            },
        ],
    }
    cr2 = {  # no constrained modifier: this channel adds no auxiliary data
        "name": "CR_wjets",
        "samples": [
            {
                "name": "wjets",
                "data": [120.0],
                "modifiers": [
                    {"name": "k_wjets", "type": "normfactor", "data": None},
                    {"name": "sf_CR_wjets", "type": "shapefactor", "data": None},
                ],
            },
            {"name": "fakes", "data": [15.0], "modifiers": []},
        ],
    }
    channels = [sr, cr1, cr2]
    parameters = [
        {"name": "mu_SIG", "bounds": [[0.0, 10.0]], "inits": [1.0]},
        {"name": "lumi", "auxdata": [1.0], "sigmas": [0.017], "bounds": [[0.9, 1.1]], "inits": [1.0]},
        {"name": "alpha_theory_fixed", "fixed": True},
        {"name": "k_ttbar", "bounds": [[0.0, 5.0]]},
        {"name": "k_wjets", "bounds": [[0.0, 5.0]]},
    ]
    return _workspace(channels, _observe(channels, rng, signal_strength), parameters)


def gamma_workspace(
    seed: int = 2, tau_degenerate: float = 1e11, tau_free: float = 0.05, signal_strength: float = 1.5
) -> dict[str, Any]:
    """One 4-bin channel; the background's shapesys gammas have tau 1e11, 0.05, 25 and 100."""
    rng = np.random.default_rng(seed)
    bkg = np.array([100.0, 20.0, 50.0, 30.0])
    tau = np.array([tau_degenerate, tau_free, 25.0, 100.0])
    sig = np.array([8.0, 6.0, 5.0, 3.0])
    channel = {
        "name": "SR",
        "samples": [
            {
                "name": "signal",
                "data": sig.tolist(),
                "modifiers": [{"name": "mu", "type": "normfactor", "data": None}, _normsys("alpha_sig", 1.1, 0.9)],
            },
            {
                "name": "background",
                "data": bkg.tolist(),
                "modifiers": [
                    {"name": "gamma_bkg", "type": "shapesys", "data": (bkg / np.sqrt(tau)).tolist()},
                    _normsys("alpha_bkg", 1.05, 0.96),
                ],
            },
        ],
    }
    observations = _observe([channel], rng, signal_strength)
    return _workspace([channel], observations, [{"name": "mu", "bounds": [[0.0, 10.0]]}], poi="mu")


def realistic_workspace(seed: int = 3, channels: int = 10, systematics: int = 40) -> dict[str, Any]:
    """A search with ``channels`` channels (the first two signal regions), about 100 parameters by default.

    Samples: signal (POI ``mu_SIG``, in the signal regions), ttbar and wjets (each
    with a free normalisation factor), diboson (lumi, normsys); ``systematics``
    shared normsys/histosys nuisances, a staterror per channel, shapesys on
    wjets in half the channels; lumi is fixed by the measurement, as in many
    published workspaces.
    """
    rng = np.random.default_rng(seed)
    names = [f"alpha_sys{k}" for k in range(systematics)]
    chans = []
    for c in range(channels):
        n_bins = int(rng.integers(2, 6))
        signal_region = c < 2
        samples = []
        for sample, scale in (("ttbar", 80.0), ("wjets", 40.0), ("diboson", 10.0)):
            nominal = scale * rng.uniform(0.3, 1.5, n_bins)
            mods: list[dict[str, Any]] = [{"name": "lumi", "type": "lumi", "data": None}]
            if sample != "diboson":
                mods.append({"name": f"k_{sample}", "type": "normfactor", "data": None})
            for name in rng.choice(names, size=4, replace=False):
                if rng.random() < 0.5:
                    up = 1.0 + rng.uniform(0.01, 0.1)
                    mods.append(_normsys(str(name), up, 2.0 - up - rng.uniform(-0.01, 0.01)))
                else:
                    up_shape = 1.0 + rng.uniform(-0.08, 0.08, n_bins)
                    mods.append(_histosys(str(name), nominal, up_shape, 2.0 - up_shape))
            mods.append({"name": f"staterror_{c}", "type": "staterror", "data": (0.05 * nominal).tolist()})
            if sample == "wjets" and c % 2 == 1:
                mods.append({"name": f"shapesys_wjets_{c}", "type": "shapesys", "data": (0.1 * nominal).tolist()})
            samples.append({"name": sample, "data": nominal.tolist(), "modifiers": mods})
        if signal_region:
            samples.insert(
                0,
                {
                    "name": "signal",
                    "data": (12.0 * rng.uniform(0.5, 1.5, n_bins)).tolist(),
                    "modifiers": [
                        {"name": "mu_SIG", "type": "normfactor", "data": None},
                        {"name": "lumi", "type": "lumi", "data": None},
                        _normsys("alpha_sig_theory", 1.1, 0.9),
                    ],
                },
            )
        chans.append({"name": f"ch{c}", "samples": samples})
    parameters = [
        {"name": "mu_SIG", "bounds": [[0.0, 10.0]]},
        {"name": "lumi", "auxdata": [1.0], "sigmas": [0.017], "bounds": [[0.9, 1.1]], "inits": [1.0], "fixed": True},
    ]
    return _workspace(chans, _observe(chans, rng, 0.0), parameters)


def signal_patch(value: float = 2.0) -> list[dict[str, Any]]:
    """A JSON patch for :func:`every_modifier_workspace` that scales the signal yields by ``value``."""
    return [{"op": "replace", "path": "/channels/0/samples/0/data", "value": [6.0 * value, 10.0 * value, 4.0 * value]}]


def simple_workspace(kind: str) -> dict[str, Any]:
    """pyhf's ``uncorrelated_background`` (a shapesys) or ``correlated_background`` (a histosys) as a workspace."""
    import pyhf

    if kind == "uncorrelated":
        model = pyhf.simplemodels.uncorrelated_background(
            signal=[5.0, 10.0], bkg=[50.0, 60.0], bkg_uncertainty=[5.0, 12.0]
        )
        counts = [62.0, 75.0]
    else:
        model = pyhf.simplemodels.correlated_background(
            signal=[12.0, 11.0], bkg=[50.0, 52.0], bkg_up=[45.0, 57.0], bkg_down=[55.0, 47.0]
        )
        counts = [60.0, 66.0]
    return dict(pyhf.Workspace.build(model, counts + model.config.auxdata))


def reference(spec: dict[str, Any]) -> tuple[Any, np.ndarray]:
    """pyhf's model (first measurement) and data (main and auxiliary) for a workspace."""
    import pyhf

    ws = pyhf.Workspace(spec)
    model = ws.model()
    return model, np.asarray(ws.data(model), dtype=np.float64)


def random_points(lik: Any, n: int, seed: int, spread: float = 0.1) -> np.ndarray:
    """``n`` points of ``lik``'s parameters: nominal plus normal(0, ``spread``) noise, clipped into the bounds."""
    rng = np.random.default_rng(seed)
    nominal = np.array([p.nominal for p in lik.parameters])
    lower = np.array([p.lower for p in lik.parameters])
    upper = np.array([p.upper for p in lik.parameters])
    return np.clip(nominal + rng.normal(0.0, spread, (n, nominal.size)), lower, upper)
