"""Build a zoo entry from scratch: sample, train, validate, publish.

One command (``dnnlik zoo build NAME``) runs the whole pipeline with fixed
seeds, on the reference likelihood of the same name: ``toy-lhc-like`` (the
95-parameter toy) and its three categories ``toy-lhc-like-cat1`` ..
``toy-lhc-like-cat3`` (:data:`RECIPES`, each with its own :class:`Recipe`).

The stages are :mod:`dnnlik.builder.stages` (every stage keeps its result in the
work folder and is skipped when that result is already there, and sampling
resumes from its checkpoints, so a killed build continues where it stopped);
this module adds the recipes, their command-line spelling, and publishing into
the zoo: the bundle with its ``validation`` section is copied into
``zoo_dir/NAME/`` with a model card, and the index is updated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..builder import config as _config
from ..builder.stages import BuildResult, Target, run_stages, write_output
from ..errors import InvalidInputError

__all__ = ["BuildConfig", "BuildResult", "Recipe", "build_entry", "build_toy_lhc_like", "RECIPES", "recipe"]

ENTRY = "toy-lhc-like"
"""The first zoo entry (and the default of :meth:`BuildConfig.command`)."""


@dataclass(frozen=True)
class BuildConfig(_config.BuildConfig):
    """A zoo entry's recipe (:class:`dnnlik.builder.config.BuildConfig`), spelt as a ``dnnlik zoo build`` command."""

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


_CUT_SHORT_HINT = (
    "this host trains slower than the one that built the published entry, so this network is not "
    "the published one; rerun with --train-minutes 0 to train every epoch"
)


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
    config: _config.BuildConfig | None = None,
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
    if not isinstance(config, BuildConfig):  # a plain dnnlik.builder recipe: the zoo's spelling of it
        config = BuildConfig(**vars(config))
    zoo_dir = Path(zoo_dir)
    command = config.command(entry.name)
    target = Target(entry.name, entry.likelihood, command, cut_short_hint=_CUT_SHORT_HINT)

    def publish(bundle_dir: Path, fidelity: Any, times: dict[str, float], t0: float) -> Path:
        return _publishing_stage(entry, zoo_dir, bundle_dir, fidelity, config, times, t0, log)

    return run_stages(likelihoods.get(entry.likelihood), work, config, target, publish, log=log)


def _publishing_stage(
    entry: Recipe,
    zoo_dir: Path,
    bundle_dir: Path,
    fidelity: Any,
    config: _config.BuildConfig,
    times: dict[str, float],
    t0: float,
    log: Callable[[str], None] | None,
) -> Path:
    """[5/5]: the validation section into the bundle, the bundle and its card into the zoo, the index updated.

    ``fidelity`` is the fidelity stage's :class:`~dnnlik.fidelity.bundle_fidelity.BundleFidelity`.
    """
    from .index import load_index, make_entry, write_index

    if log is not None:
        log("[5/5] publishing into the zoo")
    entry_dir = write_output(zoo_dir / entry.name, bundle_dir, fidelity, config, times, t0, about=entry.about)
    existing = load_index(zoo_dir) if (zoo_dir / "index.json").exists() else []
    entries = [e for e in existing if e.name != entry.name]
    entries.append(make_entry(entry_dir / "bundle", zoo_dir, tags=entry.tags))
    write_index(entries, zoo_dir)
    return entry_dir


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
errors of one network (independent from network to network) average down (training 10-11 min each
on the shared 2-core host)."""


def _category(c: int) -> Recipe:
    bins = f"{30 * (c - 1)}-{30 * c - 1}"
    return Recipe(
        name=f"{ENTRY}-cat{c}",
        likelihood=f"{ENTRY}-cat{c}",
        config=replace(CATEGORY_CONFIG, seed=CATEGORY_CONFIG.seed + 1000 * c),  # own seeds: independent noise
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
