"""``import dnnlik; dnnlik.infer``: the public subpackages are attributes of the package, imported on first use."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(code: str) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter: this test process has imported most of dnnlik already."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, timeout=300, cwd=ROOT
    )


def test_a_light_subpackage_is_an_attribute_after_a_bare_import():
    proc = _run("""
        import importlib, sys
        import dnnlik
        assert 'dnnlik.likelihoods' not in sys.modules  # nothing imported before first use
        assert {'likelihoods', 'sample', 'infer'} <= set(dir(dnnlik)), dir(dnnlik)
        assert dnnlik.likelihoods is importlib.import_module('dnnlik.likelihoods')
        assert dnnlik.sample.SampleOptions is importlib.import_module('dnnlik.sample.options').SampleOptions
        try:
            dnnlik.no_such_thing
        except AttributeError as exc:
            assert 'no_such_thing' in str(exc)
        else:
            raise AssertionError('an unknown attribute must raise AttributeError')
    """)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow  # imports every subpackage (scipy, emcee, onnxruntime, h5py): a few seconds
def test_every_public_name_resolves_and_none_imports_tensorflow():
    proc = _run("""
        import importlib, sys
        import dnnlik
        assert set(dnnlik.__all__) <= set(dir(dnnlik))
        for name in dnnlik.PUBLIC_MODULES:
            assert getattr(dnnlik, name) is importlib.import_module('dnnlik.' + name), name
        for name in dnnlik.__all__:
            getattr(dnnlik, name)
        assert callable(dnnlik.combine) and dnnlik.infer.tmu_scan and dnnlik.fidelity.assess
        heavy = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf2onnx')]
        assert not heavy, heavy
    """)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_public_modules_are_the_packages_of_the_tree():
    """Every subpackage folder is public or named as not public (a new one must be decided on)."""
    import dnnlik

    folders = {p.name for p in (ROOT / "dnnlik").iterdir() if (p / "__init__.py").exists()}
    assert set(dnnlik.PUBLIC_MODULES) - folders == {"examples"}  # a module, not a package
    assert folders - set(dnnlik.PUBLIC_MODULES) == {"cli", "evaluate", "schema"}
    assert set(dnnlik.PUBLIC_MODULES) <= set(dnnlik.__all__)
