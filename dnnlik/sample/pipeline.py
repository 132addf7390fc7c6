"""Run a sampling job: strategies, moves, checkpointed emcee ensembles, then the samples file.

>>> from dnnlik import likelihoods
>>> from dnnlik.sample import sample
>>> toy = likelihoods.get("toy-lhc-like")
>>> result = sample(toy, "samples.h5", strategy="mixed", n=100_000, seed=1)  # doctest: +SKIP

:func:`sample` checks its input, plans the segments (:mod:`.strategies`),
runs them with checkpoints (:mod:`.runner`), then de-duplicates, splits and
writes the samples file with its ``sampling`` metadata (:mod:`.dataset`).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

import emcee
import numpy as np

from .._version import __version__
from ..errors import DnnlikError, InvalidInputError
from .dataset import deduplicate, split_indices, write_dataset
from .diagnostics import TRUST_FACTOR, ChainTooShortError, ShortChainWarning
from .moves import MOVE_SETS, build_moves, needs_laplace, parse_moves, uses_red_blue
from .options import SampleOptions, default_walkers
from .result import SampleResult
from .runner import RHAT_MIN_HALF, Runner
from .storage import CheckpointStore
from .strategies import build_segments, segments_from_h5, segments_to_h5

__all__ = ["SampleOptions", "SampleResult", "sample", "default_walkers", "RHAT_TARGET"]

RHAT_TARGET = 1.01
"""R-hat above this gives a warning."""


def _check_source(source: Any) -> tuple[int, list[dict[str, Any]], dict[str, Any]]:
    try:
        params = tuple(source.parameters)
    except (AttributeError, TypeError):
        raise InvalidInputError(f"{type(source).__name__} is not a likelihood: it has no parameters",
                                where="source") from None
    if not params:
        raise InvalidInputError("the likelihood has no parameters", where="source")
    nominal = np.array([[p.nominal for p in params]] * 2, dtype=np.float64)
    value = np.asarray(source.logpdf(nominal))
    if value.shape != (2,):
        raise InvalidInputError(f"logpdf of 2 points returned shape {value.shape}; expected (2,)",
                                where="source")
    describe = source.describe() if hasattr(source, "describe") else {"name": type(source).__name__}
    from ..parameters import parameters_to_json

    return len(params), parameters_to_json(params), describe


def _check_initial(initial: Any, n_walkers: int, names: Sequence[str]) -> np.ndarray | None:
    if initial is None:
        return None
    try:
        arr = np.asarray(initial, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"cannot be read as numbers ({exc})", where="initial") from None
    if arr.shape != (n_walkers, len(names)):
        raise InvalidInputError(f"expected shape ({n_walkers}, {len(names)}) (walkers, parameters), got "
                                f"{arr.shape}", where="initial")
    nan = np.argwhere(np.isnan(arr))
    if nan.size:
        w, j = nan[0]
        raise InvalidInputError(f"NaN at walker {w}, parameter '{names[j]}'", where="initial")
    return arr


def _config(source_info: dict[str, Any], opts: SampleOptions, n_walkers: int,
            initial: np.ndarray | None) -> dict[str, Any]:
    cfg = asdict(opts)
    cfg["n_walkers"] = n_walkers
    cfg["source"] = source_info
    cfg["initial"] = None if initial is None else hashlib.sha256(initial.tobytes()).hexdigest()
    cfg["dnnlik_version"] = __version__
    cfg["emcee_version"] = emcee.__version__
    return json.loads(json.dumps(cfg))


def sample(
    source: Any,
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

    ``options`` are the fields of :class:`SampleOptions`. An existing ``out``
    (or an interrupted run's checkpoints) is refused unless ``resume`` (continue
    the interrupted run; its options must be the same) or ``overwrite`` (start
    again; the old file is replaced only when the new one is complete).
    ``progress``: a tqdm bar on stderr; None shows it only on a terminal.
    """
    t_start = time.perf_counter()
    unknown = sorted(set(options) - set(SampleOptions.__dataclass_fields__))
    if unknown:
        raise InvalidInputError(f"unknown option(s) {unknown}", where="sample")
    if "poi_range" in options and options["poi_range"] is not None:
        options["poi_range"] = tuple(float(v) for v in options["poi_range"])
    if "split" in options:
        options["split"] = tuple(float(v) for v in options["split"])
    opts = SampleOptions(**options)
    opts.check()
    if resume and overwrite:
        raise InvalidInputError("resume and overwrite exclude each other", where="sample")
    n_par, params_json, source_info = _check_source(source)
    names = [p["name"] for p in params_json]
    specs = parse_moves(opts.moves)
    n_walkers = default_walkers(n_par) if opts.n_walkers is None else int(opts.n_walkers)
    if uses_red_blue(specs) and n_walkers < 2 * n_par:
        raise InvalidInputError(
            f"{n_walkers} walkers are too few for {n_par} dimensions: the ensemble moves "
            f"({', '.join(s.name for s in specs)}) need at least 2 x {n_par} = {2 * n_par}", where="n_walkers")
    initial_arr = _check_initial(initial, n_walkers, names)

    out = Path(out)
    store = CheckpointStore(out)
    if out.is_dir():
        raise InvalidInputError("is a folder; give the path of the samples file to write", where=str(out))
    if not out.parent.is_dir():
        raise DnnlikError("the output folder does not exist", where=str(out.parent))
    config = _config(source_info, opts, n_walkers, initial_arr)
    resumed = False
    if resume:
        if store.exists():
            stored = store.read_config()
            diff = sorted(k for k in set(stored) | set(config) if stored.get(k) != config.get(k))
            if diff:
                details = "; ".join(f"{k}: checkpoint {stored.get(k)!r}, now {config.get(k)!r}" for k in diff[:4])
                raise InvalidInputError(f"cannot resume: the options differ from the interrupted run's ({details})",
                                        where=str(store.path))
            resumed = True
        elif out.exists():
            raise InvalidInputError("is complete: nothing to resume (use overwrite to sample again)",
                                    where=str(out))
    elif not overwrite:
        if out.exists():
            raise InvalidInputError("already exists; use resume to continue an interrupted run or overwrite "
                                    "to replace it", where=str(out))
        if store.path.exists():
            raise InvalidInputError("an interrupted run's checkpoints are here; use resume to continue it or "
                                    "overwrite to start again", where=str(store.path))

    try:
        return _sample_locked(source, out, store, opts, specs, resumed, config, n_par, n_walkers, params_json,
                              source_info, initial_arr, progress, keep_checkpoints, t_start)
    finally:
        store.unlock()


def _sample_locked(source: Any, out: Path, store: CheckpointStore, opts: SampleOptions, specs: Any,
                   resumed: bool, config: dict[str, Any], n_par: int, n_walkers: int,
                   params_json: list[dict[str, Any]], source_info: dict[str, Any], initial_arr: np.ndarray | None,
                   progress: bool | None, keep_checkpoints: bool, t_start: float) -> SampleResult:
    if resumed:
        store.lock()
        with store.open_plan() as f:
            segments = segments_from_h5(f["segments"])
            choices = json.loads(f.attrs["choices"])
    else:
        store.create()  # first: an unwritable folder fails before any work
        try:
            segments, choices = build_segments(
                source, strategy=opts.strategy, n=opts.n, n_chains=opts.n_chains,
                profile_fraction=opts.profile_fraction, poi=opts.poi, poi_grid=opts.poi_grid,
                poi_range=opts.poi_range, poi_sigmas=opts.poi_sigmas, window=opts.window,
                need_laplace=needs_laplace(specs) and opts.moves != "auto")
            if opts.moves == "auto" and any(s.laplace_mean is None for s in segments):
                specs = parse_moves(MOVE_SETS["de"])
                choices["moves_fallback"] = "no Laplace approximation: moves 'de' instead of 'auto'"

            def writer(f: Any) -> None:
                f.attrs["choices"] = json.dumps(choices)
                segments_to_h5(f.create_group("segments"), segments)

            store.write_plan(config, writer)
        except BaseException:
            store.remove()  # nothing worth resuming yet
            raise
    if "moves_fallback" in choices:
        specs = parse_moves(MOVE_SETS["de"])
    if uses_red_blue(specs) and n_walkers < 2 * n_par:
        raise InvalidInputError(f"{n_walkers} walkers are too few for {n_par} dimensions (need {2 * n_par})",
                                where="n_walkers")

    notes: list[str] = []
    show = sys.stderr.isatty() if progress is None else bool(progress)
    run = Runner(source, opts, store, segments, n_walkers, initial_arr, show, notes)
    run.specs = specs
    bar = None
    if show:
        from tqdm import tqdm

        bar = tqdm(total=opts.n, unit="sample", desc="sampling", file=sys.stderr, dynamic_ncols=True)
    prior_s = sum(store.read_chunk(p, data=False).wall_time_s for _, _, p in store.chunk_names()) if resumed else 0.0
    t_sampling = time.perf_counter()
    try:
        run.execute(bar)
        if run.tuning is None:
            run.tune()
    except ChainTooShortError:
        store.remove()  # tuning is deterministic: these checkpoints would fail the same way again
        raise
    finally:
        if bar is not None:
            bar.close()
    t_diagnostics = time.perf_counter()
    infos, pts, lps, segids, extra = run.extract()
    points = np.concatenate(pts)
    logpdf = np.concatenate(lps)
    segment = np.concatenate(segids)
    weight = np.concatenate(extra["weights"])
    unique = deduplicate(points)
    if unique.size != points.shape[0]:
        notes.append(f"{points.shape[0] - unique.size} duplicate points across segments removed")
        points, logpdf, segment, weight = points[unique], logpdf[unique], segment[unique], weight[unique]
    split_seed = opts.seed if opts.split_seed is None else opts.split_seed
    parts = split_indices(points.shape[0], opts.split, split_seed)

    tuning = run.tuning
    assert tuning is not None
    rhat = extra["rhat"]
    rhat_max = float(np.nanmax(rhat)) if rhat is not None and np.isfinite(rhat).any() else None
    if rhat_max is None:
        vals = [i["rhat_max"] for i in infos if i["rhat_max"] is not None]
        rhat_max = max(vals) if vals else None
    if rhat_max is not None and rhat_max > RHAT_TARGET:
        msg = (f"R-hat {rhat_max:.4f} > {RHAT_TARGET}: the chains disagree; sample longer or use better moves")
        notes.append(msg)
        warnings.warn(msg, ShortChainWarning, stacklevel=2)
    short = [i["index"] for i in infos if not i["trusted"] and i["kind"] == "profile"]
    if short:
        notes.append(f"{len(short)} profile chain(s) are shorter than {int(TRUST_FACTOR)} autocorrelation "
                     "times (short by design): their own diagnostics are indicative only")
    wall = float(extra["wall_time_s"])
    n_eff = float(sum(i["effective_samples"] for i in infos))
    move_weights = {s.name: s.weight / sum(x.weight for x in specs) for s in specs}
    moves_meta = []
    probe = build_moves(specs, ndim=segments[0].ndim, mean=segments[0].laplace_mean,
                        precision=segments[0].laplace_precision, df=opts.df, uniform=None)
    for m, _ in probe:
        prop, acc = extra["move_counts"].get(m.name, [0, 0])
        m.proposed, m.accepted = prop, acc
        desc = m.describe(move_weights[m.name])
        desc["options"].pop("uniform_window", None)
        moves_meta.append(desc)
    total_wall = time.perf_counter() - t_start
    sampling = {
        "tool": "emcee",
        "tool_version": emcee.__version__,
        "strategy": opts.strategy,
        "strategy_options": {
            "generator": {"name": "dnnlik", "version": __version__},
            "source": source_info,
            "move_set": opts.moves if "moves_fallback" not in choices else "de",
            "n_chains": opts.n_chains,
            "profile_fraction": opts.profile_fraction if opts.strategy == "mixed" else
            (1.0 if opts.strategy == "profile" else 0.0),
            "tune_steps": opts.tune_steps,
            "burn_in_rule": f"ceil({opts.burn_factor:g} x tau_max of the tuning chain)"
            if opts.burn_in is None else "given",
            "thin_rule": f"max(1, floor({opts.thin_factor:g} x tau_max))" if opts.thin is None else "given",
            "checkpoint_every": opts.checkpoint_every,
            "seed_derivation": "numpy SeedSequence(seed).spawn(n_segments): child k, spawned again in two, "
                               "seeds segment k's initial walkers (Generator) and emcee's RandomState (MT19937)",
            "deduplication": "exact repeats of a walker's position (rejected proposals) removed; /weight "
                             "holds each point's multiplicity in the thinned chain: weight posterior "
                             "expectations with it (unweighted, the points lean towards the proposal)",
            "initial_walkers": "given" if initial_arr is not None else
            "draws from the Laplace normal at the (profiled) maximum",
            "segments": infos,
            **{k: v for k, v in choices.items() if k != "moves_fallback"},
            **({"moves_fallback": choices["moves_fallback"]} if "moves_fallback" in choices else {}),
        },
        "seeds": [int(opts.seed)],
        "n_walkers": n_walkers,
        "n_steps": int(extra["total_steps"]),
        "moves": moves_meta,
        "burn_in": int(tuning.burn_in),
        "thin": int(tuning.thin),
        "n_samples": int(points.shape[0]),
        "split": {"train": int(parts["train"].size), "validation": int(parts["validation"].size),
                  "test": int(parts["test"].size), "seed": int(split_seed), "fractions": list(opts.split)},
        "diagnostics": {
            "autocorrelation_time": float(tuning.tau_max),
            "autocorrelation_time_per_parameter": list(tuning.tau),
            "autocorrelation_time_trusted": bool(tuning.trusted),
            "acceptance_fraction": float(extra["acceptance_fraction"]),
            **({"rhat_max": rhat_max} if rhat_max is not None else {}),
            "rhat_over": "walkers of all unbiased ensembles as chains, each split in two halves"
            if rhat is not None else
            f"walkers of each ensemble with at least {2 * RHAT_MIN_HALF} kept steps, split in halves "
            "(max over ensembles)",
            "effective_samples": n_eff,
            "effective_samples_per_s": n_eff / wall if wall > 0 else None,
            "warnings": list(notes),
            "timing_s": {"setup": t_sampling - t_start, "sampling": t_diagnostics - t_sampling,
                         "diagnostics": total_wall - (t_diagnostics - t_start),
                         **({"before_resume": prior_s} if resumed else {})},
        },
        "wall_time_s": total_wall + prior_s,
    }
    write_dataset(out, points=points, logpdf=logpdf, segment=segment, weight=weight, split=parts,
                  parameters=params_json,
                  sampling=sampling, source=source_info)
    if not keep_checkpoints:
        store.remove()
    return SampleResult(path=out, n_samples=int(points.shape[0]), sampling=sampling, warnings=notes,
                        resumed=resumed)
