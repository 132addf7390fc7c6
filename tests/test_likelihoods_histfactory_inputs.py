"""dnnlik.likelihoods.from_pyhf: patches in every form, provenance, and bad input refused with one message each.

Every refusal is one :class:`~dnnlik.errors.InvalidInputError` whose ``where``
names the place (a JSON pointer into the workspace, a file, the argument) and
whose message is one line. The likelihood itself is checked against pyhf in
``test_likelihoods_histfactory.py``.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from histfactory_workspaces import every_modifier_workspace, gamma_workspace, random_points, reference, signal_patch

from dnnlik.errors import InvalidInputError
from dnnlik.likelihoods import from_pyhf

pyhf = pytest.importorskip("pyhf")
pytestmark = pytest.mark.filterwarnings("ignore:jsonschema.RefResolver is deprecated:DeprecationWarning")


@pytest.fixture(autouse=True)
def pyhf_numpy():
    """pyhf's NumPy backend with a tight fit tolerance for the reference fits; the previous backend restored."""
    backend, optimizer = pyhf.get_backend()
    pyhf.set_backend("numpy", pyhf.optimize.scipy_optimizer(tolerance=1e-12), precision="64b")
    yield
    pyhf.set_backend(backend, custom_optimizer=optimizer)


def patchset_spec(background: dict, digest: str | None = None) -> dict:
    return {
        "metadata": {
            "description": "signal scaled",
            "digests": {"sha256": digest or pyhf.utils.digest(background)},
            "labels": ["scale"],
            "references": {"hepdata": "ins0000000"},
        },
        "patches": [
            {"metadata": {"name": f"signal_x{v:.0f}", "values": [v]}, "patch": signal_patch(v)} for v in (2.0, 3.0)
        ],
        "version": "1.0.0",
    }


def test_patches_in_every_form_give_pyhfs_patched_model(tmp_path: Path) -> None:
    background = every_modifier_workspace()
    patched = pyhf.PatchSet(patchset_spec(background)).apply(pyhf.Workspace(background), "signal_x2")
    model, data = reference(dict(patched))
    (tmp_path / "patch.json").write_text(json.dumps(signal_patch(2.0)))
    (tmp_path / "patchset.json").write_text(json.dumps(patchset_spec(background)))
    forms = [
        signal_patch(2.0),
        tmp_path / "patch.json",
        (tmp_path / "patchset.json", "signal_x2"),
        (patchset_spec(background), [2.0]),
        (pyhf.PatchSet(patchset_spec(background)), (2.0,)),
        pyhf.PatchSet(patchset_spec(background))["signal_x2"],
    ]
    for form in forms:
        lik = from_pyhf(background, patch=form, backend="numpy")
        x = random_points(lik, 5, seed=2)
        theirs = [float(model.logpdf(p, data)[0]) for p in lik.pyhf_parameters(x)]
        np.testing.assert_allclose(lik.logpdf(x), theirs, rtol=1e-12)
        info = lik.describe()
        assert info["workspace_digest"] == "sha256:" + pyhf.utils.digest(background)
        assert info["version"] == "sha256:" + pyhf.utils.digest(dict(patched))
        assert info["patch"]["sha256"] == pyhf.utils.digest(signal_patch(2.0))
        if not isinstance(form, (list, Path)):
            assert info["patch"]["name"] == "signal_x2" and info["patch"]["values"] == [2.0]


def test_describe_records_the_source(tmp_path: Path) -> None:
    spec = gamma_workspace()
    (tmp_path / "ws.json").write_text(json.dumps(spec))
    lik = from_pyhf(tmp_path / "ws.json", backend="numpy")
    info = lik.describe()
    assert info["version"] == info["workspace_digest"] == "sha256:" + pyhf.utils.digest(spec)
    assert info["pyhf_version"] == pyhf.__version__ and info["patch"] is None
    assert (info["measurement"], info["poi"], info["data"]) == ("meas", "mu", "observed")
    assert info["data_sha256"] == hashlib.sha256(np.asarray(reference(spec)[1], dtype="<f8").tobytes()).hexdigest()
    assert info["exact_gradient"] is False and info["n_parameters"] == len(lik.parameters) == 7
    json.dumps(info)


# --------------------------------------------------------------------------- bad input: one message each
def _edit(edit) -> dict:
    spec = every_modifier_workspace()
    edit(spec)
    return spec


def _set(path: str, value):
    def edit(spec: dict) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.strip("/").split("/")]
        target = spec
        for key in parents:
            target = target[key]
        target[last] = value

    return edit


BAD_WORKSPACES = [
    (
        _set("/channels/0/samples/1/modifiers/1/data", {"hi": 1.1}),
        "'lo' is a required property",
        "workspace/channels/0/samples/1/modifiers/1/data",
    ),
    (
        _set("/channels/0/samples/0/data", [6.0, float("nan"), 4.0]),
        "nan is not a finite number",
        "workspace/channels/0/samples/0/data/1",
    ),
    (_set("/observations/0/data/1", -3.0), "negative observed count", "workspace"),
    (_set("/channels/0/samples/1/data", [40.0, -80.0, 12.0]), "negative expected yield", "workspace/channels/0"),
    (
        _set("/channels/2/samples", [{"name": "wjets", "data": [0.0], "modifiers": []}]),
        "no expected events but",
        "workspace/channels/2",
    ),
    (_set("/observations/1/data", [200.0]), "has 2 bins but 1 observed counts", "workspace/observations/1/data"),
    (_set("/measurements/0/config/poi", ""), "names no parameter of interest", "measurement 'meas'"),
    (
        _set("/measurements/0/config/poi", "mu_nope"),
        "which no modifier of the workspace declares",
        "measurement 'meas'",
    ),
    (_set("/measurements/0/config/parameters/0/fixed", True), "fixes its parameter of interest", "measurement 'meas'"),
    (
        _set("/measurements/0/config/parameters/1", {"name": "lumi", "auxdata": [1.0], "sigmas": [0.02]}),
        "does not configure inits, bounds of the lumi parameter 'lumi'",
        "measurement 'meas'",
    ),
    (
        _set("/measurements/0/config/parameters/3/inits", [1.0, 2.0]),
        "pyhf cannot build a model from it: InvalidModel: Incorrect number of values (2) for inits",
        "measurement 'meas'",
    ),
    (
        _set("/measurements/0/config/parameters/3/inits", [7.0]),
        "initial value 7 is outside its bounds",
        "parameter 'k_ttbar'",
    ),
]


@pytest.mark.parametrize(("edit", "match", "where"), BAD_WORKSPACES, ids=[m for _, m, _ in BAD_WORKSPACES])
def test_bad_workspaces_are_refused_with_one_message(edit, match: str, where: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        from_pyhf(_edit(edit), backend="numpy")
    assert info.value.where == where and match in str(info.value) and "\n" not in str(info.value)


def test_bad_files_patches_and_arguments_are_refused_with_one_message(tmp_path: Path) -> None:
    background = every_modifier_workspace()
    (tmp_path / "dup.json").write_text('{"channels": [], "channels": []}')
    (tmp_path / "patchset.json").write_text(json.dumps(patchset_spec(background)))
    cases = [
        (dict(workspace=42), "workspace", "expected a dict"),
        (dict(workspace=tmp_path / "missing.json"), str(tmp_path / "missing.json"), "cannot be read"),
        (dict(workspace=tmp_path / "dup.json"), str(tmp_path / "dup.json"), "holds the key 'channels' twice"),
        (dict(workspace=background, measurement="other"), "measurement", "no measurement 'other'"),
        (
            dict(workspace=background, patch=[{"op": "replace", "path": "/channels/7/samples", "value": []}]),
            "patch",
            "operation 0",
        ),
        (dict(workspace=background, patch=[1, 2]), "patch", "list of operations"),
        (dict(workspace=background, patch=tmp_path / "patchset.json"), "patch", "this is a patchset"),
        (dict(workspace=background, patch=(tmp_path / "patchset.json", "signal_x9")), "patch", "no patch 'signal_x9'"),
        (dict(workspace=background, patch=(patchset_spec(background), [9.0])), "patch", "no patch [9.0]"),
        (
            dict(workspace=background, patch=(patchset_spec(background, "0" * 64), "signal_x2")),
            "patchset",
            "was made for another",
        ),
        (dict(workspace=background, patch=({"metadata": {}}, "x")), "patchset/metadata", "patchset schema"),
        (dict(workspace=background, data="expected"), "data", "must be one of"),
        (dict(workspace=background, backend="torch"), "backend", "must be one of"),
        (
            dict(workspace=_edit(_set("/measurements/0/config/parameters/0/bounds", [[0.5, 10.0]])), data="asimov"),
            "data",
            "outside its bounds",
        ),
    ]
    for kwargs, where, match in cases:
        kwargs.setdefault("backend", "numpy")
        with pytest.raises(InvalidInputError) as info:
            from_pyhf(**kwargs)
        assert info.value.where == where and match in str(info.value) and "\n" not in str(info.value), kwargs


@pytest.mark.slow
def test_the_core_import_does_not_need_pyhf() -> None:
    code = textwrap.dedent("""
        import sys
        import dnnlik.likelihoods
        assert not [m for m in sys.modules if m.split('.')[0] in ('pyhf', 'jax')]
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split('.')[0] == 'pyhf':
                    raise ImportError('blocked')
        sys.meta_path.insert(0, Block())
        from dnnlik.errors import MissingExtraError
        try:
            dnnlik.likelihoods.from_pyhf({})
        except MissingExtraError as exc:
            print(exc)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "pip install 'dnnlik[pyhf]'" in proc.stdout
