"""Shared fixtures. Caches that onnxruntime and Keras write at import go to a temporary folder."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

_SCRATCH = Path(tempfile.mkdtemp(prefix="dnnlik-tests-"))
for _var, _sub in (("XDG_CACHE_HOME", "cache"), ("KERAS_HOME", "keras"), ("TMPDIR", "tmp"), ("MPLCONFIGDIR", "mpl")):
    (_SCRATCH / _sub).mkdir(exist_ok=True)
    os.environ[_var] = str(_SCRATCH / _sub)
tempfile.tempdir = None  # re-read TMPDIR
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import pytest  # noqa: E402


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_SCRATCH, ignore_errors=True)


@pytest.fixture(scope="session")
def gaussian_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid 4-parameter analytic Gaussian bundle folder (do not modify: copy it)."""
    from dnnlik.examples import build_gaussian_bundle

    path = tmp_path_factory.mktemp("gaussian") / "gaussian-4d"
    build_gaussian_bundle(path)
    return path


@pytest.fixture(scope="session")
def gaussian_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same bundle as a .zip file."""
    from dnnlik.examples import build_gaussian_bundle

    path = tmp_path_factory.mktemp("gaussian-zip") / "gaussian-4d.zip"
    build_gaussian_bundle(path)
    return path


@pytest.fixture
def bundle_copy(gaussian_bundle: Path, tmp_path: Path) -> Path:
    """A private, writable copy of the Gaussian bundle folder."""
    dest = tmp_path / "bundle"
    shutil.copytree(gaussian_bundle, dest)
    return dest
