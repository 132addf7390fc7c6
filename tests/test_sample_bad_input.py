"""dnnlik.sample: bad input gets one clear message, and no existing samples file is ever corrupted."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest

from dnnlik import fsutil as fsutil_module
from dnnlik.errors import DnnlikError, InvalidInputError
from dnnlik.likelihoods import CallableLikelihood
from dnnlik.sample import ChainTooShortError, ShortChainWarning, read_dataset, sample

pytestmark = pytest.mark.filterwarnings("ignore::dnnlik.sample.ShortChainWarning")

FAST = dict(strategy="unbiased", n=400, seed=1, n_walkers=8, tune_steps=30, n_chains=1)


def gauss2() -> CallableLikelihood:
    return CallableLikelihood(lambda x: -0.5 * (x**2).sum(axis=1), ["x", "y"], grad=lambda x: -x, name="g2")


@pytest.fixture
def existing(tmp_path: Path) -> tuple[Path, bytes]:
    out = tmp_path / "samples.h5"
    sample(gauss2(), out, **FAST)
    return out, out.read_bytes()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") or p.name.endswith(".partial"))


def test_wrong_initial_shape(tmp_path: Path) -> None:
    with pytest.raises(
        InvalidInputError, match=r"initial: expected shape \(8, 2\) \(walkers, parameters\), got \(8, 3\)"
    ):
        sample(gauss2(), tmp_path / "s.h5", initial=np.zeros((8, 3)), **FAST)


def test_nan_initial_parameter(tmp_path: Path) -> None:
    initial = np.random.default_rng(0).normal(size=(8, 2))
    initial[5, 1] = np.nan
    with pytest.raises(InvalidInputError, match="initial: NaN at walker 5, parameter 'y'"):
        sample(gauss2(), tmp_path / "s.h5", initial=initial, **FAST)
    assert not any(tmp_path.iterdir())


def test_nan_or_empty_poi_range(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="poi_range: must be two finite numbers"):
        sample(gauss2(), tmp_path / "s.h5", **{**FAST, "strategy": "profile", "poi_range": (float("nan"), 1.0)})


def test_source_with_wrong_output_shape(tmp_path: Path) -> None:
    class Bad:
        parameters = gauss2().parameters

        def logpdf(self, x: np.ndarray) -> np.ndarray:
            return np.zeros((x.shape[0], 2))

    with pytest.raises(InvalidInputError, match=r"source: logpdf of 2 points returned shape \(2, 2\)"):
        sample(Bad(), tmp_path / "s.h5", **FAST)


def test_too_few_walkers_for_the_dimension(tmp_path: Path) -> None:
    with pytest.raises(
        InvalidInputError, match=r"n_walkers: 3 walkers are too few for 2 dimensions.*at least 2 x 2 = 4"
    ):
        sample(gauss2(), tmp_path / "s.h5", **{**FAST, "n_walkers": 3})


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"strategy": "biased"}, "strategy: unknown strategy 'biased'"),
        ({"n": 0}, "n: must be an integer >= 1"),
        ({"moves": "walk"}, "moves: unknown move 'walk'"),
        ({"seed": -1}, "seed: must be a non-negative integer"),
        ({"tune_steps": 20}, "tune_steps: must be an integer >= 27"),
        ({"colour": "red"}, r"sample: unknown option\(s\) \['colour'\]"),
    ],
)
def test_bad_options(tmp_path: Path, bad: dict, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        sample(gauss2(), tmp_path / "s.h5", **{**FAST, **bad})


def test_missing_output_folder(tmp_path: Path) -> None:
    with pytest.raises(DnnlikError, match="output folder does not exist"):
        sample(gauss2(), tmp_path / "nowhere" / "s.h5", **FAST)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only folders")
def test_unwritable_output_folder(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(DnnlikError, match="cannot write: not writable"):
            sample(gauss2(), folder / "s.h5", **FAST)
    finally:
        folder.chmod(0o700)


def test_permission_denied_while_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(fsutil_module.tempfile, "mkstemp", denied)
    with pytest.raises(DnnlikError, match=r"s\.h5\.partial/plan\.h5: cannot write: not writable \(Permission denied\)"):
        sample(gauss2(), tmp_path / "s.h5", **FAST)


def test_existing_output_is_refused_and_untouched(existing: tuple[Path, bytes]) -> None:
    out, content = existing
    with pytest.raises(InvalidInputError, match="samples.h5: already exists; use resume .* or overwrite"):
        sample(gauss2(), out, **FAST)
    with pytest.raises(InvalidInputError, match="is complete: nothing to resume"):
        sample(gauss2(), out, resume=True, **FAST)
    with pytest.raises(InvalidInputError, match="resume and overwrite exclude each other"):
        sample(gauss2(), out, resume=True, overwrite=True, **FAST)
    assert out.read_bytes() == content
    assert _leftovers(out.parent) == []


def test_disk_full_never_corrupts_the_existing_file(
    existing: tuple[Path, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    out, content = existing
    real_fsync = os.fsync
    calls = {"n": 0}

    def full(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] > 3:  # plan and a couple of chunks fit, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(fsutil_module.os, "fsync", full)
    with pytest.raises(DnnlikError, match=r"cannot write: no space left on the device \(disk full\)"):
        sample(gauss2(), out, overwrite=True, **{**FAST, "checkpoint_every": 5})
    assert out.read_bytes() == content
    read_dataset(out)
    partial = out.with_name(out.name + ".partial")
    assert not any(p.name.endswith(".tmp") for p in partial.iterdir())  # no half-written chunk left behind
    monkeypatch.setattr(fsutil_module.os, "fsync", real_fsync)
    # the interrupted overwrite can be resumed; the old file is replaced only at the very end
    result = sample(gauss2(), out, resume=True, **{**FAST, "checkpoint_every": 5})
    assert result.resumed and out.read_bytes() != content


def test_resume_with_other_options_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "s.h5"
    sample(gauss2(), out, keep_checkpoints=True, **FAST)
    out.unlink()
    with pytest.raises(InvalidInputError, match=r"cannot resume: the options differ .*seed: checkpoint 1, now 2"):
        sample(gauss2(), out, resume=True, **{**FAST, "seed": 2})


def test_resume_without_checkpoints_starts_afresh(tmp_path: Path) -> None:
    result = sample(gauss2(), tmp_path / "s.h5", resume=True, **FAST)
    assert not result.resumed and result.n_samples == 400


def test_too_short_tuning_chain_is_an_error_when_strict(tmp_path: Path) -> None:
    """Stretch moves on a correlated target: 40 tuning steps cannot measure tau; strict mode says so."""
    cov = np.array([[1.0, 0.99], [0.99, 1.0]])
    prec = np.linalg.inv(cov)
    lik = CallableLikelihood(
        lambda x: -0.5 * np.einsum("ij,jk,ik->i", x, prec, x), ["x", "y"], grad=lambda x: -x @ prec
    )
    opts = {**FAST, "moves": "stretch", "tune_steps": 40, "on_short_chain": "error"}
    with pytest.raises(
        ChainTooShortError,
        match=r"tuning chain: 30 steps \(after the first 25%\) are only .* "
        r"autocorrelation times",
    ):
        sample(lik, tmp_path / "s.h5", **opts)
    assert list(tmp_path.iterdir()) == []  # useless checkpoints removed
    with pytest.warns(ShortChainWarning, match="are only"):
        result = sample(lik, tmp_path / "s.h5", **{**opts, "on_short_chain": "warn"})
    assert any("are only" in w for w in result.warnings)
    assert result.sampling["diagnostics"]["autocorrelation_time_trusted"] is False


def test_output_file_gets_the_usual_permissions(tmp_path: Path) -> None:
    out = tmp_path / "s.h5"
    umask = os.umask(0o022)
    try:
        sample(gauss2(), out, **FAST)
        assert out.stat().st_mode & 0o777 == 0o644
        out.chmod(0o640)
        sample(gauss2(), out, overwrite=True, **FAST)  # a replaced file keeps its mode
        assert out.stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(umask)


def test_two_runs_never_share_checkpoints(tmp_path: Path) -> None:
    from dnnlik.sample.storage import CheckpointStore

    out = tmp_path / "s.h5"
    sample(gauss2(), out, keep_checkpoints=True, **FAST)
    out.unlink()  # as if the first run were still going
    other = CheckpointStore(out)
    other.lock()
    try:
        for kw in ({"resume": True}, {"overwrite": True}):
            with pytest.raises(DnnlikError, match=r"s\.h5\.partial: another run is using these checkpoints"):
                sample(gauss2(), out, **kw, **FAST)
        assert not out.exists() and other.exists()
    finally:
        other.unlock()
    assert sample(gauss2(), out, resume=True, **FAST).resumed
