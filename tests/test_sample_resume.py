"""Checkpoints: a run killed with SIGKILL resumes from its last checkpoint and gives the same samples.

The runs happen in subprocesses (the same script for all of them, so that the
likelihood's code, recorded in the checkpoint, is the same); a slowed-down
log-density gives the parent time to kill the child between checkpoints.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from dnnlik.errors import DnnlikError
from dnnlik.sample import read_dataset, sample
from dnnlik.sample.storage import CheckpointStore

pytestmark = pytest.mark.slow  # SIGKILL and resume of sampling runs

SCRIPT = textwrap.dedent("""
    import os, sys, time, warnings
    import numpy as np
    from dnnlik.likelihoods import CallableLikelihood
    from dnnlik.parameters import Parameter
    from dnnlik.sample import sample

    PREC = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 1.5]])
    DELAY = float(os.environ.get("DNNLIK_TEST_DELAY", "0"))

    def logpdf(x):
        if DELAY:
            time.sleep(DELAY)
        return -0.5 * np.einsum("ij,jk,ik->i", x, PREC, x)

    lik = CallableLikelihood(logpdf, [Parameter("mu", role="poi", bounds=(-5.0, 5.0)),
                                      Parameter("a", bounds=(-9.0, 9.0)), Parameter("b", bounds=(-9.0, 9.0))],
                             grad=lambda x: -x @ PREC, name="gauss3")
    warnings.simplefilter("ignore")
    out, mode = sys.argv[1], sys.argv[2]
    sample(lik, out, strategy="mixed", n=6000, seed=4, n_walkers=16, poi_grid=2, tune_steps=60,
           checkpoint_every=15, n_chains=2, poi_range=(-1.0, 1.0), resume=(mode == "resume"),
           keep_checkpoints=True, moves="laplace:0.7,de:0.3")
    print("done")
""")


def _run(script: Path, out: Path, mode: str, delay: float = 0.0, **kw) -> subprocess.Popen:
    env = {**os.environ, "DNNLIK_TEST_DELAY": str(delay)}
    return subprocess.Popen(
        [sys.executable, str(script), str(out), mode],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def _chunks(out: Path) -> list[Path]:
    store = CheckpointStore(out)
    if not store.path.exists():
        return []
    return sorted(p for p in store.path.iterdir() if p.name.startswith("seg") and p.suffix == ".h5")


def test_sigkill_then_resume_gives_the_uninterrupted_samples(tmp_path: Path) -> None:
    script = tmp_path / "run_sample.py"
    script.write_text(SCRIPT)
    reference = _run(script, tmp_path / "a.h5", "fresh")
    killed_out = tmp_path / "b.h5"
    victim = _run(script, killed_out, "fresh", delay=0.004)
    deadline = time.monotonic() + 60
    while len(_chunks(killed_out)) < 4:
        assert victim.poll() is None, victim.communicate()
        assert time.monotonic() < deadline, "the run never reached 4 checkpoints"
        time.sleep(0.02)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL
    assert not killed_out.exists()
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in _chunks(killed_out)}
    assert len(before) >= 4

    # without --resume, the checkpoints are not silently thrown away
    out, err = reference.communicate(timeout=120)
    assert reference.returncode == 0, err
    resumed = _run(script, killed_out, "resume")
    out2, err2 = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err2

    # the chunks written before the kill were kept as they were: nothing older than a checkpoint was lost
    after = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in _chunks(killed_out)}
    for name, value in before.items():
        assert after[name] == value
    assert len(after) > len(before)

    a, b = read_dataset(tmp_path / "a.h5"), read_dataset(killed_out)
    assert np.array_equal(a.points, b.points)
    assert np.array_equal(a.logpdf, b.logpdf)
    assert np.array_equal(a.weight, b.weight)
    assert all(np.array_equal(a.split[k], b.split[k]) for k in a.split)
    assert a.sampling["n_steps"] == b.sampling["n_steps"]


class Interrupted(Exception):
    pass


@pytest.mark.filterwarnings("ignore::dnnlik.sample.ShortChainWarning")
def test_interrupted_in_process_run_resumes_identically(tmp_path: Path) -> None:
    """An exception mid-run leaves checkpoints that resume to the same samples."""
    from dnnlik.likelihoods import CallableLikelihood

    calls = {"n": 0, "limit": None}

    def logpdf(x: np.ndarray) -> np.ndarray:
        calls["n"] += 1
        if calls["limit"] is not None and calls["n"] > calls["limit"]:
            raise Interrupted("stop")
        return -0.5 * (x**2).sum(axis=1) - 0.1 * x[:, 0] ** 4

    lik = CallableLikelihood(logpdf, ["x", "y"], grad=lambda x: -x - np.c_[0.4 * x[:, 0] ** 3, 0 * x[:, 1]])
    opts = dict(strategy="unbiased", n=3000, seed=9, n_walkers=8, tune_steps=40, checkpoint_every=7, n_chains=2)
    sample(lik, tmp_path / "a.h5", **opts)
    calls.update(n=0, limit=150)
    with pytest.raises(Interrupted):
        sample(lik, tmp_path / "b.h5", **opts)
    assert not (tmp_path / "b.h5").exists() and len(_chunks(tmp_path / "b.h5")) > 3
    calls.update(limit=None)
    with pytest.raises(DnnlikError, match="use resume to continue it or overwrite"):
        sample(lik, tmp_path / "b.h5", **opts)
    result = sample(lik, tmp_path / "b.h5", resume=True, **opts)
    assert result.resumed
    a, b = read_dataset(tmp_path / "a.h5"), read_dataset(tmp_path / "b.h5")
    assert np.array_equal(a.points, b.points) and np.array_equal(a.weight, b.weight)
    assert not CheckpointStore(tmp_path / "b.h5").path.exists()
