"""``dnnlik build pyhf``: from a HistFactory (pyhf JSON) workspace to a validated bundle, in one call.

>>> source = PyhfSource("BkgOnly.json", patchset="patchset.json", patch_name="C1N2_Wh_hbb_500_0")  # doctest: +SKIP
>>> result = build_pyhf(source, "out/C1N2_500_0", minutes=30)  # doctest: +SKIP

:func:`build_pyhf` reads the workspace (and the patch) with
:func:`dnnlik.likelihoods.from_pyhf`, so that every defect of the inputs is
refused before anything is written; chooses the sample sizes and network from
the model's size (:func:`~dnnlik.builder.config.sizes_for`) and the POI grid of
the fidelity check from the exact profile
(:func:`~dnnlik.builder.poi_grid.choose_poi_grid`); then runs the stages of
:mod:`dnnlik.builder.stages` in ``OUT/.work`` (:mod:`~dnnlik.builder.workdir`: a
rerun of the same command continues, another command's work is refused) and
writes the bundle (with ``validation``, ``fixed_parameters`` and
``provenance.histfactory``), its card and plots into ``OUT``. A budget in
minutes is split between the stages (:mod:`~dnnlik.builder.budget`).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError, MissingExtraError
from .budget import Budget, fit_sample_sizes, measure_cost, sampling_seconds, training_cap
from .config import BuildConfig, sizes_for
from .poi_grid import PoiGrid, choose_poi_grid
from .stages import BuildResult, Target, run_stages, write_output
from .workdir import check_output_folder, command_record, open_work, read_json_file, write_json_file

__all__ = ["PyhfSource", "build_pyhf", "load_likelihood", "histfactory_provenance", "RECIPE_KNOBS", "HEPDATA"]

RECIPE_KNOBS = ("train_minutes", "epochs", "layers", "ensemble", "seed")
"""The :class:`~dnnlik.builder.config.BuildConfig` fields a caller may set (the rest follow the model's size)."""
HEPDATA = re.compile(r"ins[0-9]{1,12}(/\S+)?")
"""A HEPData record: ``ins`` and the INSPIRE id, optionally ``/`` and a resource path."""
_CUT_SHORT_HINT = "give more --minutes (or --train-minutes) to train the whole schedule"


@dataclass(frozen=True)
class PyhfSource:
    """The inputs of a build: the workspace, the patch, the measurement, the data.

    Attributes:
        workspace: the background-only workspace (a JSON file).
        patch: a JSON patch file, or None.
        patchset: a patchset file (its entry is ``patch_name``), or None.
        patch_name: the patchset entry's name.
        measurement: the measurement; None: the first.
        asimov: the background-only Asimov data instead of the observed.
        hepdata: the HEPData record (``ins1234567/...``), recorded only.
    """

    workspace: str | os.PathLike[str]
    patch: str | os.PathLike[str] | None = None
    patchset: str | os.PathLike[str] | None = None
    patch_name: str | None = None
    measurement: str | None = None
    asimov: bool = False
    hepdata: str | None = None

    def check(self) -> None:
        """Refuse inconsistent choices.

        Raises:
            InvalidInputError: both a patch and a patchset, a patchset without an entry's name or a
                name without a patchset, or a HEPData record not of the form ``ins<digits>[/...]``.
        """
        if self.patch is not None and self.patchset is not None:
            raise InvalidInputError("give a JSON patch or a patchset entry, not both", where="patch")
        if (self.patchset is None) != (self.patch_name is None):
            raise InvalidInputError(
                "a patchset needs the name of one of its patches, and a name a patchset", where="patchset"
            )
        if self.hepdata is not None and not HEPDATA.fullmatch(self.hepdata):
            raise InvalidInputError(
                f"{self.hepdata!r} is not a HEPData record: 'ins' and the INSPIRE id, optionally '/' and a path "
                "(ins1234567/v1/Likelihoods)",
                where="hepdata",
            )

    def patch_argument(self) -> Any:
        """What :func:`dnnlik.likelihoods.from_pyhf` takes as ``patch``."""
        if self.patchset is not None:
            return (self.patchset, self.patch_name)
        return self.patch


def load_likelihood(source: PyhfSource) -> Any:
    """The HistFactory likelihood of ``source``, every input checked (nothing is written).

    Args:
        source: the inputs.

    Returns:
        The :class:`~dnnlik.likelihoods.histfactory.HistFactoryLikelihood`.

    Raises:
        InvalidInputError: as :meth:`PyhfSource.check` and :func:`dnnlik.likelihoods.from_pyhf`
            (pyhf's schema, a patch that does not apply, an unknown measurement or patch, no POI,
            negative or NaN yields, a patchset made for another workspace).
        MissingExtraError: pyhf is not installed.
    """
    from ..likelihoods import from_pyhf

    source.check()
    return from_pyhf(
        source.workspace,
        patch=source.patch_argument(),
        measurement=source.measurement,
        data="asimov" if source.asimov else "observed",
    )


def histfactory_provenance(likelihood: Any, hepdata: str | None = None) -> dict[str, Any]:
    """The bundle's ``provenance`` members for a HistFactory likelihood (spec 3.9).

    Args:
        likelihood: a :class:`~dnnlik.likelihoods.histfactory.HistFactoryLikelihood`.
        hepdata: the HEPData record, if known.

    Returns:
        ``{"source_likelihood": {...}, "histfactory": {...}}``.
    """
    d = likelihood.describe()
    patched = str(d["version"]).removeprefix("sha256:")
    record: dict[str, Any] = {
        "workspace_sha256": str(d["workspace_digest"]).removeprefix("sha256:"),
        "patched_sha256": patched,
        "measurement": d["measurement"],
        "poi": d["poi"],
        "data": d["data"],
        "data_sha256": d["data_sha256"],
        "pyhf_version": d["pyhf_version"],
    }
    if d.get("patch"):
        keep = ("name", "values", "labels", "sha256", "operations")
        record["patch"] = {k: v for k, v in d["patch"].items() if k in keep}
    source: dict[str, Any] = {"name": str(d["name"]), "sha256": patched}
    if hepdata:
        record["hepdata"] = hepdata
        source["reference"] = f"hepdata:{hepdata}"
    return {"source_likelihood": source, "histfactory": record}


def _recipe(knobs: Mapping[str, Any]) -> dict[str, Any]:
    """The caller's recipe knobs, checked (JSON values, for the command's record)."""
    from ..train.config import TrainConfig

    unknown = sorted(set(knobs) - set(RECIPE_KNOBS))
    if unknown:
        raise InvalidInputError(f"unknown recipe knobs {unknown}; known: {list(RECIPE_KNOBS)}", where="recipe")
    given: dict[str, Any] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in knobs.items() if v is not None}
    TrainConfig(  # the same checks as training's, before any work
        layers=tuple(given.get("layers", (1,))),
        epochs=int(given.get("epochs", 1)),
        ensemble=int(given.get("ensemble", 1)),
        max_minutes=given.get("train_minutes") or None,
        seed=int(given.get("seed", 0)),
    )
    return given


def _bundle_name(source: PyhfSource, given: str | None) -> str:
    from ..schema import matches_string_rule

    if given is None:
        base = Path(source.workspace).stem + (f"-{source.patch_name}" if source.patch_name else "")
        base += "-asimov" if source.asimov else ""
        given = re.sub(r"[^a-z0-9._-]+", "-", base.lower()).strip("-._")[:120] or "histfactory"
    if not matches_string_rule("defs.schema.json#/$defs/identifier", given):
        raise InvalidInputError(
            f"{given!r} is not a bundle name: lower-case letters, digits, '.', '_' and '-', starting with a "
            "letter or digit (at most 128)",
            where="bundle_name",
        )
    return given


def build_pyhf(
    source: PyhfSource,
    out: str | os.PathLike[str],
    *,
    quick: bool = False,
    recipe: Mapping[str, Any] | None = None,
    minutes: float | None = None,
    bundle_name: str | None = None,
    command: str = "dnnlik.builder.build_pyhf",
    log: Callable[[str], None] | None = print,
    progress: Callable[[str], None] | None = None,
) -> BuildResult:
    """Build a validated bundle of a HistFactory workspace into ``out`` (see the module docstring).

    Args:
        source: the workspace, patch, measurement and data.
        out: the output folder: new, empty, or holding this command's earlier work (continued).
        quick: the smoke recipe (minutes; not for publication).
        recipe: :data:`RECIPE_KNOBS` to set (None values are ignored).
        minutes: the budget of the whole call; None: none (training keeps the recipe's cap).
        bundle_name: the bundle's name; default from the workspace's file name and the patch.
        command: the command line, recorded in the bundle.
        log: called with each progress line (None: silent).
        progress: called with a line (stage, elapsed, time left) at each stage's start and end.

    Returns:
        The output folder, the bundle, the fidelity report and verdict, and each stage's time.

    Raises:
        InvalidInputError: a bad input (see :func:`load_likelihood`), recipe knob, budget or bundle name; an
            ``out`` that is not empty and holds no build, or holds another command's: all before anything
            is written.
        MissingExtraError: pyhf, or TensorFlow (the ``train`` extra), is not installed.
        DnnlikError: a stage failed (the message names it and where).
    """
    say = log or (lambda text: None)
    if minutes is not None and not (isinstance(minutes, (int, float)) and 0 < minutes < float("inf")):
        raise InvalidInputError(f"must be a positive number of minutes, got {minutes!r}", where="minutes")
    budget = Budget(minutes)
    knobs = _recipe(recipe or {})
    source.check()
    name = _bundle_name(source, bundle_name)
    out = Path(out)
    check_output_folder(out, None)  # a folder that is not a build: refused before the inputs are read
    likelihood = load_likelihood(source)
    if importlib.util.find_spec("tensorflow") is None:  # before any folder is made or any minute spent
        raise MissingExtraError("train", "dnnlik build pyhf (training the network)")
    provenance = histfactory_provenance(likelihood, source.hepdata)
    record = command_record(
        {
            "histfactory": {k: v for k, v in provenance["histfactory"].items() if k != "pyhf_version"},
            "quick": bool(quick),
            "recipe": knobs,
            "bundle_name": name,
        }
    )
    if check_output_folder(out, record):
        say(f"continuing the build in {out}")
    work = open_work(out, record)
    plan, grid = _plan(work, likelihood, quick, knobs, budget, say)
    config = replace(plan, grid=grid.grid, ridge_range=grid.ridge_range)
    target = Target(
        name,
        _reference_name(source),
        command,
        provenance,
        cut_short_hint=_CUT_SHORT_HINT,
        title=f"DNNLikelihood of the HistFactory workspace {_reference_name(source).removeprefix('histfactory:')}",
    )
    reserve = _reserve_seconds(work, config, len(likelihood.parameters))
    card = {
        "about": _about(source, likelihood),
        "load_as": "bundle",
        "trained_on": f"{os.cpu_count() or 1} CPU cores",
        "source": _source_lines(source, likelihood, provenance["histfactory"], grid),
    }

    def publish(bundle_dir: Path, fidelity: Any, times: dict[str, float], t0: float) -> Path:
        say(f"[5/5] writing the bundle, its card and plots into {out}")
        staged = write_output(work / "output", bundle_dir, fidelity, config, times, t0, **card)
        _move_into(staged, out, work)
        return out

    return run_stages(
        likelihood,
        work,
        config,
        target,
        publish,
        log=log,
        progress=None if progress is None else (lambda stage, event: progress(budget.line(stage, event))),
        before_training=lambda c: training_cap(c, budget, reserve, say),
    )


def _plan(
    work: Path, likelihood: Any, quick: bool, knobs: Mapping[str, Any], budget: Budget, say: Callable[[str], None]
) -> tuple[BuildConfig, PoiGrid]:
    """The recipe and POI grid: made at the first run (``plan.json``), reused by a rerun."""
    path = work / "plan.json"
    if path.is_file():
        value = read_json_file(path)
        config = BuildConfig.from_json(value["config"])
        say(f"  reusing the plan {path}")
        return config, PoiGrid.from_json(value["poi_grid"])
    n = len(likelihood.parameters)
    given: dict[str, Any] = dict(knobs)
    if "train_minutes" in given:
        given["train_minutes"] = given["train_minutes"] or None  # 0: no cap
    config = BuildConfig.from_json({**sizes_for(n, quick=quick).to_json(), **given})
    say(f"planning: {n} free parameters; the POI grid from the exact profile")
    t0 = time.monotonic()
    grid = choose_poi_grid(likelihood)
    grid_seconds = time.monotonic() - t0
    say(
        f"  {grid.poi}: best fit {grid.best_fit:.4g}; t_mu compared on {len(grid.grid)} values from {grid.grid[0]:g} "
        f"to {grid.grid[-1]:g} (exact t_mu at least {grid.tmu_low:.2f} and {grid.tmu_high:.2f} at the ends)"
    )
    cost = measure_cost(likelihood)
    config = fit_sample_sizes(config, n, cost, budget, say)
    estimates = {
        "grid_seconds": grid_seconds,
        "grid_fits": grid.fits,
        "per_call_s": cost.per_call,
        "per_point_s": cost.per_point,
        "fidelity_sampling_s": sampling_seconds(replace(config, n_train=0, n_ridge=0), n, cost) / 2,
    }
    write_json_file(path, {"config": config.to_json(), "poi_grid": grid.to_json(), "estimates": estimates})
    return config, grid


def _reserve_seconds(work: Path, config: BuildConfig, n_parameters: int) -> float:
    """Seconds kept after training: the surrogate's posterior sample, the t_mu scans (exact, surrogate,
    quadratic), the plots; at least a minute."""
    estimates = read_json_file(work / "plan.json").get("estimates", {})
    per_fit = float(estimates.get("grid_seconds", 0.0)) / max(1, int(estimates.get("grid_fits", 1)))
    scans = 3 * (len(config.grid) + 4) * per_fit
    return max(60.0, float(estimates.get("fidelity_sampling_s", 0.0)) + scans + 20.0)


def _move_into(staged: Path, out: Path, work: Path) -> None:
    """Move each item of ``staged`` into ``out``, replacing the item of the same name (one rename each)."""
    for item in sorted(staged.iterdir()):
        dest = out / item.name
        old = work / f"replaced-{item.name}"
        if dest.exists() or dest.is_symlink():
            if old.is_dir():
                shutil.rmtree(old)
            os.replace(dest, old)
        os.replace(item, dest)
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old)
        elif old.exists() or old.is_symlink():
            old.unlink()
    staged.rmdir()


def _reference_name(source: PyhfSource) -> str:
    patch = f" + {Path(source.patchset).name}:{source.patch_name}" if source.patchset is not None else ""
    patch = f" + {Path(source.patch).name}" if source.patch is not None else patch
    return f"histfactory:{Path(source.workspace).name}{patch}" + (" (asimov)" if source.asimov else "")


def _about(source: PyhfSource, likelihood: Any) -> str:
    kinds = [p.constraint.type for p in likelihood.parameters]
    patch = (
        f" with the patch `{source.patch_name or Path(str(source.patch)).name}`"
        if source.patch_name or source.patch
        else ""
    )
    fixed = likelihood.fixed_parameters
    return (
        f"the DNNLikelihood of the HistFactory workspace `{Path(source.workspace).name}`{patch}: "
        f"{len(kinds)} free parameters ({kinds.count('normal')} normal-, {kinds.count('gamma')} gamma-constrained, "
        f"{kinds.count('none')} unconstrained)" + (f", {len(fixed)} held fixed" if fixed else "")
    )


def _source_lines(source: PyhfSource, likelihood: Any, record: Mapping[str, Any], grid: PoiGrid) -> list[str]:
    lines = [f"workspace `{Path(source.workspace).name}`, pyhf digest `sha256:{record['workspace_sha256']}`"]
    patch = record.get("patch")
    if patch:
        what = (
            f"`{patch['name']}` of `{Path(source.patchset).name}` (values {patch.get('values')})"
            if source.patchset
            else f"`{Path(str(source.patch)).name}` ({patch.get('operations')} operations)"
        )
        lines.append(
            f"patch {what}, digest of its operations `sha256:{patch.get('sha256')}`; the patched "
            f"workspace's digest `sha256:{record['patched_sha256']}`"
        )
    lines.append(
        f"measurement `{record['measurement']}`, parameter of interest `{record['poi']}`, {record['data']} "
        f"data (`sha256:{record['data_sha256']}`), pyhf {record['pyhf_version']}"
    )
    if record.get("hepdata"):
        lines.append(f"HEPData record `{record['hepdata']}`")
    fixed = likelihood.fixed_parameters
    if fixed:
        lines.append(
            "held fixed (not inputs of the network; the bundle's `fixed_parameters`): "
            + ", ".join(f"`{k}` = {v:g}" for k, v in fixed.items())
        )
    lines.append(
        f"t_mu compared on {len(grid.grid)} values of `{grid.poi}` from {grid.grid[0]:g} to "
        f"{grid.grid[-1]:g}, chosen from the exact profile (best fit {grid.best_fit:.4g}, exact t_mu at least "
        f"{grid.tmu_low:.2f} and {grid.tmu_high:.2f} at the ends)"
    )
    return lines
