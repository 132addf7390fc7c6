"""One sampling run, step by step: check, plan (or resume), run the chains, collect, write.

>>> from dnnlik import likelihoods
>>> from dnnlik.sample import sample
>>> toy = likelihoods.get("toy-lhc-like")
>>> result = sample(toy, "samples.h5", strategy="mixed", n=100_000, seed=1)  # doctest: +SKIP

:func:`sample` reads the run's state into a :class:`_Job` and takes it
through named steps, in order:

1. :func:`_prepare`: the options, the source, the walkers, the initial
   walkers, the output and its checkpoints (every rule checked once, here);
2. :func:`_plan`: the segments and the move set (:func:`.strategies.plan_run`),
   stored in the checkpoint folder, or read back from it when resuming;
3. :func:`_run_chains`: the checkpointed emcee ensembles (:mod:`.runner`);
4. :func:`_collect`: the samples de-duplicated across segments and split;
5. :func:`_convergence`: R-hat and the warnings on short chains;
6. :func:`_finish`: the ``sampling`` metadata (:mod:`.metadata`), the
   samples file (:mod:`.dataset`), the checkpoints removed.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import emcee
import numpy as np

from .._version import __version__
from ..density import LogDensity
from ..errors import DnnlikError, InvalidInputError
from ..fsutil import refuse_existing
from .dataset import deduplicate, split_indices, write_dataset
from .diagnostics import TRUST_FACTOR, ChainTooShortError, ShortChainWarning
from .metadata import Timing, sampling_section
from .options import RHAT_TARGET, SampleOptions, check_walkers, default_walkers
from .result import SampleResult
from .runner import Chains, Runner
from .storage import CheckpointStore
from .strategies import Plan, plan_run

__all__ = ["SampleOptions", "SampleResult", "sample", "default_walkers", "RHAT_TARGET"]


def sample(
    source: LogDensity,
    out: str | Path,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool | None = None,
    initial: Any = None,
    keep_checkpoints: bool = False,
    **options: Any,
) -> SampleResult:
    """Sample ``source`` with emcee and write the samples file ``out``.

    The run plans its segments (:mod:`.strategies`), runs them as emcee
    ensembles with a checkpoint every ``checkpoint_every`` steps in
    ``<out>.partial/`` (:mod:`.runner`, :mod:`.storage`), then de-duplicates,
    splits and writes the samples with their ``sampling`` metadata
    (:mod:`.dataset`, :mod:`.metadata`). A run killed at any moment resumes
    from its last checkpoint and gives exactly the samples of an uninterrupted one.

    Args:
        source: the log-density to sample (a reference likelihood, a bundle...).
        out: the samples file (HDF5) to write.
        resume: continue the interrupted run writing ``out`` (its options must
            be the same); without checkpoints, start afresh.
        overwrite: start again; an existing ``out`` is replaced only when the
            new one is complete.
        progress: a tqdm bar on stderr; None shows it only on a terminal.
        initial: (walkers, parameters) starting walkers of the unbiased
            ensembles; None draws them from the Laplace approximation.
        keep_checkpoints: keep ``<out>.partial/`` after the run.
        **options: the fields of :class:`SampleOptions` (strategy, n, seed, ...).

    Returns:
        The samples file's path, its ``sampling`` metadata and the warnings.

    Raises:
        InvalidInputError: bad options or input (``where`` names the
            argument), parameter names a bundle cannot hold (checked first, see
            :func:`dnnlik.bundle.parameter_names.check_parameter_names`), an existing
            ``out`` without ``resume``/``overwrite``, checkpoints of a run with other options.
        ChainTooShortError: ``on_short_chain="error"`` and a chain too short
            to trust its autocorrelation time.
        DnnlikError: the output cannot be written, the checkpoints are in use
            by another run or unreadable, the moves hardly ever accept.

    A :class:`ShortChainWarning` is given (and listed in the result) when a
    chain is too short to trust its diagnostics or R-hat exceeds
    :data:`RHAT_TARGET`.
    """
    job = _prepare(
        source,
        out,
        options,
        resume=resume,
        overwrite=overwrite,
        progress=progress,
        initial=initial,
        keep_checkpoints=keep_checkpoints,
    )
    try:
        _plan(job)
        chains = _run_chains(job).extract()
        samples = _collect(job, chains)
        rhat_max = _convergence(job, chains)
        return _finish(job, chains, samples, rhat_max)
    finally:
        job.store.unlock()


# ---------------------------------------------------------------------------------------------- the state
@dataclass
class _Job:
    """The state of one run, filled in by the steps of :func:`sample` in order."""

    source: LogDensity
    out: Path
    opts: SampleOptions
    store: CheckpointStore
    n_walkers: int
    parameters: list[dict[str, Any]]
    """The source's parameters as JSON (the samples file records them)."""
    source_info: dict[str, Any]
    initial: np.ndarray | None
    config: dict[str, Any]
    """What a resumed run must repeat (the options, the source, the initial walkers, the versions)."""
    resume: bool
    """Resume the checkpoints (they exist and were checked against ``config``)."""
    progress: bool
    keep_checkpoints: bool
    clock: dict[str, float] = field(default_factory=dict)
    """``time.perf_counter()`` readings: start, sampling, diagnostics."""
    plan: Plan | None = None
    notes: list[str] = field(default_factory=list)
    """Warnings of the run, in the order met (the metadata lists them)."""


@dataclass(frozen=True)
class _Samples:
    """The samples to write: concatenated over segments, de-duplicated, split."""

    points: np.ndarray
    logpdf: np.ndarray
    segment: np.ndarray
    weight: np.ndarray
    split: dict[str, np.ndarray]
    split_seed: int


# ---------------------------------------------------------------------------------------------- 1. checks
def _prepare(
    source: LogDensity,
    out: str | Path,
    options: dict[str, Any],
    *,
    resume: bool,
    overwrite: bool,
    progress: bool | None,
    initial: Any,
    keep_checkpoints: bool,
) -> _Job:
    """Check everything before any work: options, source, walkers, initial walkers, output, checkpoints."""
    start = time.perf_counter()
    opts = SampleOptions.from_keywords(options)
    if resume and overwrite:
        raise InvalidInputError("resume and overwrite exclude each other", where="sample")
    params_json, source_info = _check_source(source)
    n_par = len(params_json)
    n_walkers = default_walkers(n_par) if opts.n_walkers is None else int(opts.n_walkers)
    check_walkers(n_walkers, n_par, opts.moves)
    initial_arr = _check_initial(initial, n_walkers, [p["name"] for p in params_json])
    out = Path(out)
    store = CheckpointStore(out)
    config = _config(source_info, opts, n_walkers, initial_arr)
    resumable = _check_output(out, store, config, resume=resume, overwrite=overwrite)
    show = sys.stderr.isatty() if progress is None else bool(progress)
    return _Job(
        source=source,
        out=out,
        opts=opts,
        store=store,
        n_walkers=n_walkers,
        parameters=params_json,
        source_info=source_info,
        initial=initial_arr,
        config=config,
        resume=resumable,
        progress=show,
        keep_checkpoints=keep_checkpoints,
        clock={"start": start},
    )


def _check_source(source: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The source's parameters (as JSON) and its description; its logpdf must give one value per point."""
    try:
        params = tuple(source.parameters)
    except (AttributeError, TypeError):
        raise InvalidInputError(
            f"{type(source).__name__} is not a likelihood: it has no parameters", where="source"
        ) from None
    if not params:
        raise InvalidInputError("the likelihood has no parameters", where="source")
    from ..bundle.parameter_names import check_parameter_names

    check_parameter_names([p.name for p in params], "source")  # before any work: training would refuse them
    nominal = np.array([[p.nominal for p in params]] * 2, dtype=np.float64)
    value = np.asarray(source.logpdf(nominal))
    if value.shape != (2,):
        raise InvalidInputError(f"logpdf of 2 points returned shape {value.shape}; expected (2,)", where="source")
    describe = source.describe() if hasattr(source, "describe") else {"name": type(source).__name__}
    from ..parameters import parameters_to_json

    return parameters_to_json(params), describe


def _check_initial(initial: Any, n_walkers: int, names: Sequence[str]) -> np.ndarray | None:
    """The initial walkers as a (walkers, parameters) array without NaN, or None."""
    if initial is None:
        return None
    try:
        arr = np.asarray(initial, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"cannot be read as numbers ({exc})", where="initial") from None
    if arr.shape != (n_walkers, len(names)):
        raise InvalidInputError(
            f"expected shape ({n_walkers}, {len(names)}) (walkers, parameters), got {arr.shape}", where="initial"
        )
    nan = np.argwhere(np.isnan(arr))
    if nan.size:
        w, j = nan[0]
        raise InvalidInputError(f"NaN at walker {w}, parameter '{names[j]}'", where="initial")
    return arr


def _config(
    source_info: dict[str, Any], opts: SampleOptions, n_walkers: int, initial: np.ndarray | None
) -> dict[str, Any]:
    """What a resumed run must repeat: the options, walkers, source, initial walkers (hashed), versions."""
    cfg = asdict(opts)
    cfg["n_walkers"] = n_walkers
    cfg["source"] = source_info
    cfg["initial"] = None if initial is None else hashlib.sha256(initial.tobytes()).hexdigest()
    cfg["dnnlik_version"] = __version__
    cfg["emcee_version"] = emcee.__version__
    return json.loads(json.dumps(cfg))


def _check_output(out: Path, store: CheckpointStore, config: dict[str, Any], *, resume: bool, overwrite: bool) -> bool:
    """The rules on an existing output and checkpoints; True when the checkpoints are to be resumed.

    ``out`` must be a file path in an existing folder. Without ``resume`` or
    ``overwrite``, neither ``out`` nor an interrupted run's checkpoints may
    exist; with ``resume``, the checkpoints (if any) must have the same
    ``config``, and a complete ``out`` without them is refused.
    """
    if out.is_dir():
        raise InvalidInputError("is a folder; give the path of the samples file to write", where=str(out))
    if not out.parent.is_dir():
        raise DnnlikError("the output folder does not exist", where=str(out.parent))
    if resume and store.exists():
        stored = store.read_config()
        diff = sorted(k for k in set(stored) | set(config) if stored.get(k) != config.get(k))
        if diff:
            details = "; ".join(f"{k}: checkpoint {stored.get(k)!r}, now {config.get(k)!r}" for k in diff[:4])
            raise InvalidInputError(
                f"cannot resume: the options differ from the interrupted run's ({details})", where=str(store.path)
            )
        return True
    if resume and out.exists():
        raise InvalidInputError("is complete: nothing to resume (use overwrite=True to sample again)", where=str(out))
    if not resume and not overwrite:
        refuse_existing(out, overwrite, hint="use resume to continue an interrupted run or overwrite to replace it")
        if store.path.exists():
            raise InvalidInputError(
                "an interrupted run's checkpoints are here; use resume to continue it or overwrite to start again",
                where=str(store.path),
            )
    return False


# ---------------------------------------------------------------------------------------------- 2. plan
def _plan(job: _Job) -> None:
    """The run's plan: read back from the checkpoints when resuming, else made and stored (``job.plan``)."""
    store = job.store
    if job.resume:
        store.lock()
        with store.open_plan() as f:
            job.plan = Plan.from_h5(f, job.opts.moves)
        return
    store.create()  # first: an unwritable folder fails before any work
    try:
        plan = plan_run(job.source, job.opts)
        store.write_plan(job.config, plan.to_h5)
    except BaseException:
        store.remove()  # nothing worth resuming yet
        raise
    job.plan = plan


# ---------------------------------------------------------------------------------------------- 3. chains
def _run_chains(job: _Job) -> Runner:
    """Run (or finish) every segment, with a progress bar if asked; returns the runner, tuned."""
    assert job.plan is not None
    store, opts = job.store, job.opts
    runner = Runner(
        job.source,
        opts,
        store,
        job.plan.segments,
        specs=job.plan.specs,
        n_walkers=job.n_walkers,
        initial=job.initial,
        notes=job.notes,
    )
    bar = None
    if job.progress:
        from tqdm import tqdm

        bar = tqdm(total=opts.n, unit="sample", desc="sampling", file=sys.stderr, dynamic_ncols=True)
    if job.resume:
        job.clock["before_resume"] = sum(store.read_chunk(p, data=False).wall_time_s for _, _, p in store.chunk_names())
    job.clock["sampling"] = time.perf_counter()
    try:
        runner.execute(bar)
        if runner.tuning is None:
            runner.tune()
    except ChainTooShortError:
        store.remove()  # tuning is deterministic: these checkpoints would fail the same way again
        raise
    finally:
        if bar is not None:
            bar.close()
    job.clock["diagnostics"] = time.perf_counter()
    return runner


# ---------------------------------------------------------------------------------------------- 4. samples
def _collect(job: _Job, chains: Chains) -> _Samples:
    """The segments' samples in one array, exact duplicates across segments removed, then split."""
    points = np.concatenate(chains.points)
    logpdf = np.concatenate(chains.logpdf)
    segment = np.concatenate(chains.segment)
    weight = np.concatenate(chains.weight)
    unique = deduplicate(points)
    if unique.size != points.shape[0]:
        job.notes.append(f"{points.shape[0] - unique.size} duplicate points across segments removed")
        points, logpdf, segment, weight = points[unique], logpdf[unique], segment[unique], weight[unique]
    split_seed = job.opts.seed if job.opts.split_seed is None else job.opts.split_seed
    return _Samples(
        points, logpdf, segment, weight, split_indices(points.shape[0], job.opts.split, split_seed), split_seed
    )


# ---------------------------------------------------------------------------------------------- 5. R-hat
def _convergence(job: _Job, chains: Chains) -> float | None:
    """The largest R-hat (pooled over unbiased ensembles, else the largest per ensemble), with its warnings.

    Warns when R-hat exceeds :data:`RHAT_TARGET`; notes profile chains too
    short for their own diagnostics (short by design).
    """
    rhat = chains.rhat
    rhat_max = float(np.nanmax(rhat)) if rhat is not None and np.isfinite(rhat).any() else None
    if rhat_max is None:
        vals = [i["rhat_max"] for i in chains.infos if i["rhat_max"] is not None]
        rhat_max = max(vals) if vals else None
    if rhat_max is not None and rhat_max > RHAT_TARGET:
        msg = f"R-hat {rhat_max:.4f} > {RHAT_TARGET}: the chains disagree; sample longer or use better moves"
        job.notes.append(msg)
        warnings.warn(msg, ShortChainWarning, stacklevel=3)
    short = [i["index"] for i in chains.infos if not i["trusted"] and i["kind"] == "profile"]
    if short:
        job.notes.append(
            f"{len(short)} profile chain(s) are shorter than {int(TRUST_FACTOR)} autocorrelation "
            "times (short by design): their own diagnostics are indicative only"
        )
    return rhat_max


# ---------------------------------------------------------------------------------------------- 6. output
def _finish(job: _Job, chains: Chains, samples: _Samples, rhat_max: float | None) -> SampleResult:
    """The metadata, the samples file (written atomically), the checkpoints removed (unless kept)."""
    assert job.plan is not None
    clock = job.clock
    timing = Timing(
        start=clock["start"],
        sampling=clock["sampling"],
        diagnostics=clock["diagnostics"],
        end=time.perf_counter(),
        before_resume=clock.get("before_resume"),
    )
    n = int(samples.points.shape[0])
    sampling = sampling_section(
        job.opts,
        n_walkers=job.n_walkers,
        source_info=job.source_info,
        initial_given=job.initial is not None,
        plan=job.plan,
        chains=chains,
        split=samples.split,
        split_seed=samples.split_seed,
        n_samples=n,
        rhat_max=rhat_max,
        notes=job.notes,
        timing=timing,
    )
    write_dataset(
        job.out,
        points=samples.points,
        logpdf=samples.logpdf,
        segment=samples.segment,
        weight=samples.weight,
        split=samples.split,
        parameters=job.parameters,
        sampling=sampling,
        source=job.source_info,
    )
    if not job.keep_checkpoints:
        job.store.remove()
    return SampleResult(path=job.out, n_samples=n, sampling=sampling, warnings=job.notes, resumed=job.resume)
