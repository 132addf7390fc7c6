"""The stages of a build, on any reference likelihood: sampling, training, fidelity, publishing.

:func:`run_stages` runs them in order with fixed seeds, keeping each stage's
result in a work folder and skipping a stage whose result is already there;
sampling resumes from its checkpoints, so a killed build continues where it
stopped. What publishing does is the caller's (:func:`write_output` writes
the bundle, its card and plots into a folder; the zoo also updates its index).

Stages: [1/5] training samples (mixed strategy: posterior + profile chains,
plus points between the profile ridge and the typical set, see
:mod:`dnnlik.sample.ridge`); [2/5] two independent posterior samples for
fidelity (never trained on); [3/5] training (the residual over the Laplace
baseline, a cosine learning-rate schedule over a fixed number of epochs, by
default); [4/5] fidelity against the exact likelihood; [5/5] publishing, with
the ``validation`` section written into the bundle.

Files in the work folder: ``train-samples.h5``, ``train-samples-ridge.h5``,
``posterior-1.h5``, ``posterior-2.h5``, ``bundle/``,
``surrogate-posterior-<model digest>.h5`` and ``build-times.json``.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..density import LogDensity
from .config import BuildConfig

__all__ = ["BuildResult", "Target", "run_stages", "write_output", "Log", "Progress", "Publisher", "STAGES"]

STAGES = ("sampling", "training", "fidelity", "publishing")
"""The stages, in order (the keys of :attr:`BuildResult.stage_seconds`)."""

Log = Callable[[str], None]
"""Called with each progress line."""
Progress = Callable[[str, str], None]
"""Called with ``(stage, "start" | "done")`` around each stage."""
Publisher = Callable[[Path, Any, dict[str, float], float], Path]
"""``publish(bundle_dir, fidelity, stage times, publishing start) -> output folder``."""


@dataclass
class BuildResult:
    """What a build made.

    Attributes:
        entry_dir: the output folder (the zoo entry's, or ``dnnlik build``'s ``--out``).
        bundle_dir: the published bundle inside it.
        report_text: the fidelity report as text.
        verdict: ``"pass"`` or ``"fail"``.
        stage_seconds: wall time of each stage (a reused stage keeps its earlier time).
    """

    entry_dir: Path
    bundle_dir: Path
    report_text: str
    verdict: str
    stage_seconds: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Target:
    """What the stages make, and the names they record.

    Attributes:
        name: the bundle's name.
        reference_name: the reference likelihood's name, recorded in ``validation.reference``.
        command: the command that runs the build, recorded as ``provenance.command``.
        provenance: further members of the bundle's ``provenance`` section.
        cut_short_hint: a sentence added to the log when a time cap cut training short.
        title: the bundle's title; default "DNNLikelihood of <the source likelihood's name>".
    """

    name: str
    reference_name: str
    command: str
    provenance: Mapping[str, Any] = field(default_factory=dict)
    cut_short_hint: str = ""
    title: str | None = None


def _say(log: Log | None, text: str) -> None:
    if log is not None:
        log(text)


def run_stages(
    likelihood: LogDensity,
    work: str | Path,
    config: BuildConfig,
    target: Target,
    publish: Publisher,
    *,
    log: Log | None = print,
    progress: Progress | None = None,
    before_training: Callable[[BuildConfig], BuildConfig] | None = None,
) -> BuildResult:
    """Run the four stages on ``likelihood`` in ``work``, then ``publish``.

    Args:
        likelihood: the reference likelihood (its parameters, one with role ``poi``).
        work: the work folder: each stage's result is kept there and reused by a rerun.
        config: the recipe.
        target: the bundle's name and what it records.
        publish: writes the output (see :data:`Publisher`); it logs its own ``[5/5]`` line.
        log: called with each progress line (None: silent).
        progress: called around each stage (None: not).
        before_training: called with ``config`` just before training runs (not when the trained
            bundle is reused); returns the recipe to train with (e.g. a time cap from a budget).

    Returns:
        The output folder, the fidelity report and verdict, and each stage's wall time.

    Raises:
        MissingExtraError: TensorFlow (the ``train`` extra) is not installed and the
            bundle must be trained.
        DnnlikError: a stage failed (the message names it and where).
    """
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    times_file = work / "build-times.json"
    earlier = json.loads(times_file.read_text()) if times_file.exists() else {}
    times: dict[str, float] = {}
    mark = progress or (lambda stage, event: None)

    mark("sampling", "start")
    t0 = time.monotonic()
    train_samples, posterior = sampling_stage(likelihood, work, config, log)
    times["sampling"] = max(time.monotonic() - t0, earlier.get("sampling", 0.0))  # a reused stage keeps its time
    _save_times(times_file, times)
    mark("sampling", "done")

    mark("training", "start")
    t0 = time.monotonic()
    bundle_dir = work / "bundle"
    reused = training_stage(likelihood, train_samples, bundle_dir, config, target, log, before_training)
    times["training"] = _reused_training_time(bundle_dir, earlier) if reused else time.monotonic() - t0
    _save_times(times_file, times)
    mark("training", "done")

    mark("fidelity", "start")
    t0 = time.monotonic()
    fidelity = fidelity_stage(likelihood, bundle_dir, posterior, work, config, target, log)
    times["fidelity"] = time.monotonic() - t0
    mark("fidelity", "done")

    mark("publishing", "start")
    t0 = time.monotonic()
    entry_dir = publish(bundle_dir, fidelity, times, t0)
    times["publishing"] = time.monotonic() - t0
    _save_times(times_file, times)
    mark("publishing", "done")
    report = fidelity.report
    return BuildResult(entry_dir, entry_dir / "bundle", report.to_text(), report.verdict, times)


def _samples(source: Any, path: Path, strategy: str, n: int, seed: int, log: Log | None) -> Path:
    from ..sample import sample

    if path.exists():
        _say(log, f"  reusing {path}")
        return path
    result = sample(source, path, strategy=strategy, n=n, seed=seed, resume=True)
    _say(log, "  " + result.summary().replace("\n", "\n  "))
    return path


def sampling_stage(likelihood: LogDensity, work: Path, config: BuildConfig, log: Log | None) -> tuple[Path, list[Path]]:
    """[1/5] and [2/5]: the training samples (with the ridge points) and two independent posterior samples.

    Args:
        likelihood: the reference likelihood.
        work: the work folder.
        config: the recipe (sizes, seeds, the ridge's POI range).
        log: called with each progress line.

    Returns:
        The training samples file, and the two posterior samples files.
    """
    _say(log, "[1/5] training samples (mixed: posterior + profile ridge)")
    mcmc_samples = _samples(likelihood, work / "train-samples.h5", "mixed", config.n_train, config.seed, log)
    train_samples = work / "train-samples-ridge.h5"
    if config.n_ridge and not train_samples.exists():
        from ..sample.dataset import augment_dataset
        from ..sample.ridge import ridge_samples

        points, values, record = ridge_samples(
            likelihood, config.n_ridge, config.ridge_range, seed=config.seed + 3, scale_power=config.ridge_scale_power
        )
        augment_dataset(mcmc_samples, train_samples, points, values, record, seed=config.seed)
        _say(log, f"  added {record['n_kept']} points between the profile ridge and the typical set")
    elif not config.n_ridge:
        train_samples = mcmc_samples
    _say(log, "[2/5] two independent posterior samples for fidelity")
    posterior = [
        _samples(likelihood, work / f"posterior-{k}.h5", "unbiased", config.n_fidelity, config.seed + k, log)
        for k in (1, 2)
    ]
    return train_samples, posterior


def training_stage(
    likelihood: LogDensity,
    train_samples: Path,
    bundle_dir: Path,
    config: BuildConfig,
    target: Target,
    log: Log | None,
    before_training: Callable[[BuildConfig], BuildConfig] | None = None,
) -> bool:
    """[3/5]: train the bundle into ``bundle_dir``, unless it is there; True when it was (reused).

    Args:
        likelihood: the reference likelihood (the residual's Laplace baseline).
        train_samples: the training samples file.
        bundle_dir: where the trained bundle goes.
        config: the recipe.
        target: the bundle's name, command and provenance.
        log: called with each progress line.
        before_training: see :func:`run_stages`.

    Returns:
        Whether the bundle was already there (and was not trained again).
    """
    reused = (bundle_dir / "bundle.json").exists()
    if reused:
        _say(log, f"[3/5] reusing the trained bundle {bundle_dir}")
        return True
    if before_training is not None:
        config = before_training(config)
    cap = f", at most {config.train_minutes:g} min" if config.train_minutes else ""
    _say(
        log,
        f"[3/5] training {' x '.join(map(str, config.layers))} (ensemble {config.ensemble}, "
        f"{config.epochs} epochs{cap})",
    )
    from ..train import TrainConfig, train_bundle
    from ..train.cut_short import relay_cut_short

    tc = TrainConfig(
        layers=config.layers,
        max_minutes=config.train_minutes,
        seed=config.seed,
        ensemble=config.ensemble,
        batch_size=config.batch_size,
        activation=config.activation,
        epochs=config.epochs,
        lr_schedule=config.lr_schedule,
    )
    with relay_cut_short(lambda w: _say(log, cut_short_line(w.record, target.cut_short_hint))):
        train_bundle(
            train_samples,
            bundle_dir,
            tc,
            likelihood=likelihood,
            name=target.name,
            title=target.title,
            command=target.command,
            provenance=dict(target.provenance) or None,
        )
    return False


def cut_short_line(record: Mapping[str, Any], hint: str = "") -> str:
    """The training layer's warning that training stopped before its schedule's end, for the build's log.

    Args:
        record: the cut-short record (:func:`dnnlik.train.cut_short.cut_short_record`).
        hint: added in brackets when a member stopped at the time cap.

    Returns:
        The log line.
    """
    line = f"  warning: {record['message']}"
    if hint and any(m["stopped"] == "time-cap" for m in record["members"]):
        line += f" ({hint})"
    return line


def fidelity_stage(
    likelihood: LogDensity,
    bundle_dir: Path,
    posterior: Sequence[Path],
    work: Path,
    config: BuildConfig,
    target: Target,
    log: Log | None,
) -> Any:
    """[4/5]: assess the trained bundle against the exact likelihood on the two posterior samples.

    Args:
        likelihood: the exact likelihood.
        bundle_dir: the trained bundle.
        posterior: the two posterior samples files.
        work: the work folder (the surrogate's own posterior sample goes there).
        config: the recipe (the POI grid, the surrogate sample's size and seed).
        target: the reference's name.
        log: called with each progress line.

    Returns:
        The :class:`~dnnlik.fidelity.bundle_fidelity.BundleFidelity` that publishing writes into the bundle.
    """
    from ..evaluate import load_local as load
    from ..fidelity.bundle_fidelity import assess_bundle, read_fidelity_data

    _say(log, "[4/5] fidelity against the exact likelihood")
    bundle = load(bundle_dir)
    data = read_fidelity_data(list(posterior), likelihood)
    own = _surrogate_samples(bundle, likelihood, work, config, log)
    checked = assess_bundle(
        bundle,
        likelihood,
        data,
        reference_name=target.reference_name,
        samples=[p.name for p in posterior],
        grid=config.grid,
        surrogate_samples=None if own is None else own.points,
        surrogate_weights=None if own is None else own.weight,
    )
    _say(log, checked.report.to_text())
    return checked


def write_output(
    out_dir: Path,
    bundle_dir: Path,
    fidelity: Any,
    config: BuildConfig,
    times: Mapping[str, float],
    t0: float,
    **card: Any,
) -> Path:
    """The validation section into the bundle, then ``out_dir`` (replaced atomically): the bundle, card and plots.

    Args:
        out_dir: the output folder (``bundle/``, ``README.md``, the PNGs).
        bundle_dir: the trained bundle (its ``validation`` section is written there first).
        fidelity: the fidelity stage's :class:`~dnnlik.fidelity.bundle_fidelity.BundleFidelity`.
        config: the recipe (for the card).
        times: the stages' wall times so far.
        t0: when publishing started (``time.monotonic()``).
        **card: further arguments of :func:`~dnnlik.builder.card.write_card` (``about``, ``load_as``...).

    Returns:
        ``out_dir``.
    """
    from ..evaluate import load_local as load
    from ..fidelity.bundle_fidelity import write_validation
    from ..fsutil import atomic_directory
    from .card import write_card

    write_validation(bundle_dir, fidelity)
    with atomic_directory(out_dir, overwrite=True) as tmp:
        shutil.copytree(bundle_dir, tmp / "bundle")
        write_card(
            tmp,
            load(tmp / "bundle"),
            fidelity.report,
            {**times, "publishing": time.monotonic() - t0},
            config,
            data=fidelity.data,
            offset=fidelity.offset,
            **card,
        )
    return out_dir


def _save_times(path: Path, times: dict[str, float]) -> None:
    """Keep each stage's wall time as soon as it is known, so a rerun after a crash still reports it."""
    from ..fsutil import atomic_write_text

    atomic_write_text(path, json.dumps(times, indent=2))


def _reused_training_time(bundle_dir: Path, earlier: dict[str, float]) -> float:
    """The training stage's time from the last build, else the training time the bundle records."""
    if "training" in earlier:
        return float(earlier["training"])
    training = dict(json.loads((bundle_dir / "bundle.json").read_text()).get("training", {}))
    return float(training.get("wall_time_s", 0.0))


def _surrogate_samples(bundle: Any, likelihood: LogDensity, work: Path, config: BuildConfig, log: Log | None) -> Any:
    """A posterior sampled on the surrogate itself (proposals preconditioned by the exact Hessian); None when
    the surrogate cannot be sampled (a network far off: the report then lacks the sampled HPDI, and says so)."""
    from ..errors import DnnlikError
    from ..sample import PreconditionedSource
    from ..sample.dataset import read_dataset

    model = next(f["sha256"] for f in bundle.document["files"] if f["path"].endswith(".onnx"))
    try:
        path = _samples(
            PreconditionedSource(bundle, likelihood),
            work / f"surrogate-posterior-{model[:12]}.h5",
            "unbiased",
            config.n_fidelity,
            config.seed + 4,
            log,
        )
    except DnnlikError as exc:
        _say(log, f"  warning: the surrogate itself could not be sampled ({exc}); no sampled HPDI in the report")
        return None
    return read_dataset(path)
