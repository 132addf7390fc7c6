"""Build a zoo entry from scratch: sample, train, validate, publish.

One command (``dnnlik zoo build NAME``) runs the whole pipeline with fixed
seeds, on the reference likelihood of the same name: ``toy-lhc-like`` (the
95-parameter toy) and its three categories ``toy-lhc-like-cat1`` ..
``toy-lhc-like-cat3`` (:data:`RECIPES`, each with its own :class:`Recipe`).

Every stage keeps its result in the work folder and is skipped
when that result is already there, and sampling resumes from its checkpoints,
so a killed build continues where it stopped.

Stages: training samples (mixed strategy: posterior + profile chains, plus
points between the profile ridge and the typical set, see
:mod:`dnnlik.sample.ridge`); two
independent posterior samples for fidelity (never trained on); training (3 x
256 swish on the residual over the Laplace baseline, a cosine learning-rate
schedule over a fixed number of epochs, by default); fidelity
against the exact likelihood; the bundle with its ``validation`` section is
copied into the zoo with a model card and the index is updated.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError

__all__ = ["BuildConfig", "BuildResult", "Recipe", "build_entry", "build_toy_lhc_like", "RECIPES", "recipe"]

ENTRY = "toy-lhc-like"
"""The first zoo entry (and the default of :meth:`BuildConfig.command`)."""


@dataclass(frozen=True)
class BuildConfig:
    """The recipe's knobs; the defaults are what the published entry used.

    Attributes:
        seed: the seed of every stage (each adds its own offset).
        n_train: MCMC training samples.
        n_ridge: extra points between the profile ridge and the typical set (0: none).
        ridge_range: the range of ``mu`` the ridge points cover.
        ridge_scale_power: how the ridge points spread with distance from the ridge
            (see :func:`dnnlik.sample.ridge.ridge_samples`).
        n_fidelity: points in each of the two fidelity posterior samples (and the
            surrogate's own).
        layers: the hidden layers' widths.
        activation: the hidden layers' activation.
        lr_schedule: the learning-rate schedule (:data:`dnnlik.train.config.LR_SCHEDULES`).
        ensemble: members of the ensemble.
        epochs: the most epochs per member.
        train_minutes: the wall-time cap of training; None: none.
        batch_size: None: automatic.
        grid: values of ``mu`` at which t_mu is compared.
    """

    seed: int = 20191108
    n_train: int = 400_000
    n_ridge: int = 250_000
    ridge_range: tuple[float, float] = (-0.95, 1.6)
    ridge_scale_power: float = 1.5
    n_fidelity: int = 100_000
    layers: tuple[int, ...] = (256, 256, 256)
    activation: str = "swish"
    lr_schedule: str = "cosine"
    ensemble: int = 1
    epochs: int = 72
    train_minutes: float | None = 14.0
    batch_size: int | None = None
    grid: tuple[float, ...] = tuple(round(0.1 * i, 10) for i in range(11))

    def command(self, entry: str = ENTRY) -> str:
        """The ``dnnlik zoo build`` command line that runs this recipe.

        Args:
            entry: the zoo entry it builds.

        Returns:
            The command, for the entry's default or ``--quick`` recipe (with
            ``--train-minutes`` when only that differs); otherwise a Python
            description of the call.
        """
        own = RECIPES.get(entry)
        defaults = (own.config, own.quick) if own is not None else (BuildConfig(), BuildConfig.quick())
        for flag, recipe in zip(("", " --quick"), defaults, strict=True):
            if replace(self, train_minutes=recipe.train_minutes) == recipe:
                minutes = (
                    ""
                    if self.train_minutes == recipe.train_minutes
                    else f" --train-minutes {self.train_minutes or 0:g}"
                )
                return f"dnnlik zoo build {entry}{flag}{minutes}"
        return f"dnnlik.zoo.build.build_entry({entry!r}) with {self!r}"  # no CLI spelling: say what ran

    @classmethod
    def quick(cls) -> BuildConfig:
        """A few-minute smoke version (small samples, small network): not for publication."""
        return cls(n_train=20_000, n_ridge=10_000, n_fidelity=20_000, layers=(128, 128), epochs=1000, train_minutes=1.0)


@dataclass
class BuildResult:
    """What :func:`build_toy_lhc_like` made.

    Attributes:
        entry_dir: the zoo entry's folder.
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


def _say(log: Callable[[str], None] | None, text: str) -> None:
    if log is not None:
        log(text)


def _samples(toy: Any, path: Path, strategy: str, n: int, seed: int, log: Any) -> Path:
    from ..sample import sample

    if path.exists():
        _say(log, f"  reusing {path}")
        return path
    result = sample(toy, path, strategy=strategy, n=n, seed=seed, resume=True)
    _say(log, "  " + result.summary().replace("\n", "\n  "))
    return path


def build_toy_lhc_like(
    zoo_dir: str | Path,
    work: str | Path,
    config: BuildConfig | None = None,
    *,
    log: Callable[[str], None] | None = print,
) -> BuildResult:
    """Build ``toy-lhc-like``: :func:`build_entry` of that entry (kept for its callers)."""
    return build_entry(ENTRY, zoo_dir, work, config, log=log)


def build_entry(
    name: str,
    zoo_dir: str | Path,
    work: str | Path,
    config: BuildConfig | None = None,
    *,
    log: Callable[[str], None] | None = print,
) -> BuildResult:
    """Run the recipe of entry ``name``; write ``zoo_dir/NAME/`` and update ``zoo_dir/index.json``.

    Args:
        name: the entry (a key of :data:`RECIPES`).
        zoo_dir: the zoo folder (its ``index.json`` gains or replaces the entry).
        work: the work folder: each stage's result is kept there and reused by a rerun.
        config: the recipe (default: the entry's :attr:`Recipe.config`, what the published entry used).
        log: called with each progress line (None: silent).

    Returns:
        Where the entry went, the fidelity report and verdict, and each stage's wall time.

    Raises:
        InvalidInputError: no recipe for ``name``.
        MissingExtraError: TensorFlow (the ``train`` extra) is not installed and the
            bundle must be trained.
        DnnlikError: a stage failed (the message names it and where).
    """
    from .. import likelihoods

    entry = recipe(name)
    config = config or entry.config
    zoo_dir, work = Path(zoo_dir), Path(work)
    work.mkdir(parents=True, exist_ok=True)
    toy = likelihoods.get(entry.likelihood)
    times_file = work / "build-times.json"
    earlier = json.loads(times_file.read_text()) if times_file.exists() else {}
    times: dict[str, float] = {}

    t0 = time.monotonic()
    train_samples, posterior = _sampling_stage(toy, work, config, log)
    times["sampling"] = max(time.monotonic() - t0, earlier.get("sampling", 0.0))  # a reused stage keeps its time
    _save_times(times_file, times)

    t0 = time.monotonic()
    bundle_dir = work / "bundle"
    reused = _training_stage(entry, toy, train_samples, bundle_dir, config, log)
    times["training"] = _reused_training_time(bundle_dir, earlier) if reused else time.monotonic() - t0
    _save_times(times_file, times)

    t0 = time.monotonic()
    fidelity = _fidelity_stage(entry, toy, bundle_dir, posterior, work, config, log)
    times["fidelity"] = time.monotonic() - t0

    t0 = time.monotonic()
    entry_dir = _publishing_stage(entry, zoo_dir, bundle_dir, fidelity, config, times, t0, log)
    times["publishing"] = time.monotonic() - t0
    _save_times(times_file, times)
    report = fidelity.report
    return BuildResult(entry_dir, entry_dir / "bundle", report.to_text(), report.verdict, times)


def _sampling_stage(toy: Any, work: Path, config: BuildConfig, log: Any) -> tuple[Path, list[Path]]:
    """[1/5] and [2/5]: the training samples (with the ridge points) and two independent posterior samples."""
    _say(log, "[1/5] training samples (mixed: posterior + profile ridge)")
    mcmc_samples = _samples(toy, work / "train-samples.h5", "mixed", config.n_train, config.seed, log)
    train_samples = work / "train-samples-ridge.h5"
    if config.n_ridge and not train_samples.exists():
        from ..sample.dataset import augment_dataset
        from ..sample.ridge import ridge_samples

        points, values, record = ridge_samples(
            toy, config.n_ridge, config.ridge_range, seed=config.seed + 3, scale_power=config.ridge_scale_power
        )
        augment_dataset(mcmc_samples, train_samples, points, values, record, seed=config.seed)
        _say(log, f"  added {record['n_kept']} points between the profile ridge and the typical set")
    elif not config.n_ridge:
        train_samples = mcmc_samples
    _say(log, "[2/5] two independent posterior samples for fidelity")
    posterior = [
        _samples(toy, work / f"posterior-{k}.h5", "unbiased", config.n_fidelity, config.seed + k, log) for k in (1, 2)
    ]
    return train_samples, posterior


def _training_stage(
    entry: Recipe, toy: Any, train_samples: Path, bundle_dir: Path, config: BuildConfig, log: Any
) -> bool:
    """[3/5]: train the bundle into ``bundle_dir``, unless it is there; True when it was (reused)."""
    reused = (bundle_dir / "bundle.json").exists()
    if reused:
        _say(log, f"[3/5] reusing the trained bundle {bundle_dir}")
        return True
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
    with relay_cut_short(lambda w: _say(log, _cut_short_line(w.record))):
        train_bundle(train_samples, bundle_dir, tc, likelihood=toy, name=entry.name, command=config.command(entry.name))
    return False


def _cut_short_line(record: dict[str, Any]) -> str:
    """The training layer's warning that training stopped before its schedule's end, for the build's log."""
    line = f"  warning: {record['message']}"
    if any(m["stopped"] == "time-cap" for m in record["members"]):
        line += (
            " (this host trains slower than the one that built the published entry, so this network is not "
            "the published one; rerun with --train-minutes 0 to train every epoch)"
        )
    return line


def _fidelity_stage(
    entry: Recipe, toy: Any, bundle_dir: Path, posterior: list[Path], work: Path, config: BuildConfig, log: Any
) -> Any:
    """[4/5]: assess the trained bundle against the exact likelihood on the two posterior samples.

    Returns:
        The :class:`~dnnlik.fidelity.bundle_fidelity.BundleFidelity` that publishing writes into the bundle.
    """
    from ..evaluate import load_local as load
    from ..fidelity.bundle_fidelity import assess_bundle, read_fidelity_data

    _say(log, "[4/5] fidelity against the exact likelihood")
    bundle = load(bundle_dir)
    data = read_fidelity_data(posterior, toy)
    own = _surrogate_samples(bundle, toy, work, config, log)
    checked = assess_bundle(
        bundle,
        toy,
        data,
        reference_name=entry.likelihood,
        samples=[p.name for p in posterior],
        grid=config.grid,
        surrogate_samples=own.points,
        surrogate_weights=own.weight,
    )
    _say(log, checked.report.to_text())
    return checked


def _publishing_stage(
    entry: Recipe,
    zoo_dir: Path,
    bundle_dir: Path,
    fidelity: Any,
    config: BuildConfig,
    times: dict[str, float],
    t0: float,
    log: Any,
) -> Path:
    """[5/5]: the validation section into the bundle, the bundle and its card into the zoo, the index updated.

    ``fidelity`` is the fidelity stage's :class:`~dnnlik.fidelity.bundle_fidelity.BundleFidelity`.
    """
    from ..evaluate import load_local as load
    from ..fidelity.bundle_fidelity import write_validation
    from ..fsutil import atomic_directory
    from .card import write_card
    from .index import load_index, make_entry, write_index

    _say(log, "[5/5] publishing into the zoo")
    data, offset, report = fidelity.data, fidelity.offset, fidelity.report
    write_validation(bundle_dir, fidelity)
    entry_dir = zoo_dir / entry.name
    with atomic_directory(entry_dir, overwrite=True) as tmp:
        shutil.copytree(bundle_dir, tmp / "bundle")
        write_card(
            tmp,
            load(tmp / "bundle"),
            report,
            {**times, "publishing": time.monotonic() - t0},
            config,
            data=data,
            offset=offset,
            about=entry.about,
        )
    entries = [e for e in _existing(zoo_dir, load_index) if e.name != entry.name]
    entries.append(make_entry(entry_dir / "bundle", zoo_dir, tags=entry.tags))
    write_index(entries, zoo_dir)
    return entry_dir


def _save_times(path: Path, times: dict[str, float]) -> None:
    """Keep each stage's wall time as soon as it is known, so a rerun after a crash still reports it."""
    from ..fsutil import atomic_write_text

    atomic_write_text(path, json.dumps(times, indent=2))


def _reused_training_time(bundle_dir: Path, earlier: dict[str, float]) -> float:
    """The training stage's time from the last build, else the training time the bundle records."""
    if "training" in earlier:
        return float(earlier["training"])
    return float(_training_section(bundle_dir).get("wall_time_s", 0.0))


def _training_section(bundle_dir: Path) -> dict[str, Any]:
    return dict(json.loads((bundle_dir / "bundle.json").read_text()).get("training", {}))


def _surrogate_samples(bundle: Any, toy: Any, work: Path, config: BuildConfig, log: Any) -> Any:
    """A posterior sampled on the surrogate itself (proposals preconditioned by the exact Hessian)."""
    from ..sample import PreconditionedSource
    from ..sample.dataset import read_dataset

    model = next(f["sha256"] for f in bundle.document["files"] if f["path"].endswith(".onnx"))
    path = _samples(
        PreconditionedSource(bundle, toy),
        work / f"surrogate-posterior-{model[:12]}.h5",
        "unbiased",
        config.n_fidelity,
        config.seed + 4,
        log,
    )
    return read_dataset(path)


def _existing(zoo_dir: Path, load_index: Any) -> list[Any]:
    return load_index(zoo_dir) if (zoo_dir / "index.json").exists() else []


@dataclass(frozen=True)
class Recipe:
    """How one zoo entry is built.

    Attributes:
        name: the entry's name (and its bundle's).
        likelihood: the reference likelihood it is trained on (:func:`dnnlik.likelihoods.get`).
        config: the published recipe.
        quick: the ``--quick`` smoke recipe.
        tags: the index tags.
        about: the model card's first sentence, after the entry's name and version.
    """

    name: str
    likelihood: str
    config: BuildConfig
    quick: BuildConfig
    tags: tuple[str, ...]
    about: str


_TOY_ABOUT = (
    "the DNNLikelihood of the 95-parameter toy LHC-like new-physics search (Buckley et al., "
    "arXiv:1809.05548, as used in arXiv:1911.03305)"
)

CATEGORY_CONFIG = BuildConfig(n_train=300_000, n_ridge=150_000, layers=(192, 192, 192), ensemble=2)
"""The per-category recipe: 35 parameters need fewer training points than 95, and an ensemble of two
smaller networks: in a combination each category is evaluated off its own profile ridge, where the
errors of one network (independent from network to network) average down (~6 min each on 2 cores)."""


def _category(c: int) -> Recipe:
    bins = f"{30 * (c - 1)}-{30 * c - 1}"
    return Recipe(
        name=f"{ENTRY}-cat{c}",
        likelihood=f"{ENTRY}-cat{c}",
        config=CATEGORY_CONFIG,
        quick=BuildConfig.quick(),
        tags=("toy", "lhc", "dnnlikelihood", "likelihood", "category"),
        about=(
            f"the DNNLikelihood of category {c} (bins {bins}) of the toy LHC-like search: 35 parameters "
            "(mu, the category's 30 MC-statistics nuisances and the four shared systematics), constraint "
            "terms included; one of three entries that `zoo/combinations/toy-lhc-like-categories.json` combines"
        ),
    )


RECIPES: dict[str, Recipe] = {
    ENTRY: Recipe(
        ENTRY, ENTRY, BuildConfig(), BuildConfig.quick(), ("toy", "lhc", "dnnlikelihood", "likelihood"), _TOY_ABOUT
    ),
    **{r.name: r for r in (_category(c) for c in (1, 2, 3))},
}
"""Entry name -> how it is built."""


def recipe(name: str) -> Recipe:
    """The recipe of the zoo entry ``name``.

    Raises:
        InvalidInputError: there is none.
    """
    if name not in RECIPES:
        raise InvalidInputError(f"no build recipe for {name!r}; recipes: {', '.join(RECIPES)}", where="zoo build")
    return RECIPES[name]
