"""The ``sampling`` metadata of a run: the bundle's ``sampling`` section, built in one place.

The samples file stores it (attribute ``sampling``) and ``dnnlik train``
copies it into ``bundle.json``, where the schema
``spec/schemas/1.0.0/sections.schema.json#/$defs/sampling`` checks it. Its
fields, in the schema's order, and where each comes from:

=====================  ==========================================================
``tool``               ``"emcee"``
``tool_version``       the emcee that ran
``strategy``           :attr:`SampleOptions.strategy`
``strategy_options``   the options and the plan: source, move set (after a
                       fallback), rules, seeds, per-segment diagnostics, the
                       plan's choices (maximum, Laplace, profile grid)
``seeds``              ``[seed]``
``n_walkers``          walkers per ensemble
``n_steps``            steps of all segments
``moves``              each move's class, options, weight and acceptance
``burn_in``, ``thin``  from the tuning chain (or given)
``n_samples``          distinct samples written
``split``              train/validation/test sizes, seed and fractions
``diagnostics``        tau, acceptance, R-hat, effective samples, warnings, timing
``wall_time_s``        the whole run, interrupted runs included
=====================  ==========================================================

The schema allows more fields than it names; readers ignore what they do
not know.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import emcee
import numpy as np

from .._version import __version__
from .moves import build_moves
from .options import SampleOptions
from .runner import RHAT_MIN_HALF, Chains
from .strategies import Plan

__all__ = ["Timing", "sampling_section", "SEED_DERIVATION", "DEDUPLICATION"]

SEED_DERIVATION = (
    "numpy SeedSequence(seed).spawn(n_segments): child k, spawned again in two, "
    "seeds segment k's initial walkers (Generator) and emcee's RandomState (MT19937)"
)
DEDUPLICATION = (
    "exact repeats of a walker's position (rejected proposals) removed; /weight "
    "holds each point's multiplicity in the thinned chain: weight posterior "
    "expectations with it (unweighted, the points lean towards the proposal)"
)


@dataclass(frozen=True)
class Timing:
    """Clock readings (``time.perf_counter``) of a run's stages, and the time its interrupted runs took."""

    start: float
    sampling: float
    """When the chains started (after the checks and the plan)."""
    diagnostics: float
    """When the chains were done."""
    end: float
    """When the metadata was made."""
    before_resume: float | None = None
    """Seconds the interrupted runs spent in their chunks (None: not resumed)."""

    def record(self) -> dict[str, float]:
        """``diagnostics.timing_s``: setup, sampling, diagnostics (and before_resume) in seconds."""
        return {
            "setup": self.sampling - self.start,
            "sampling": self.diagnostics - self.sampling,
            "diagnostics": self.end - self.diagnostics,
            **({"before_resume": self.before_resume} if self.before_resume is not None else {}),
        }

    @property
    def wall_time_s(self) -> float:
        """The whole run: this one and the interrupted ones."""
        return self.end - self.start + (self.before_resume or 0.0)


def sampling_section(
    opts: SampleOptions,
    *,
    n_walkers: int,
    source_info: dict[str, Any],
    initial_given: bool,
    plan: Plan,
    chains: Chains,
    split: dict[str, np.ndarray],
    split_seed: int,
    n_samples: int,
    rhat_max: float | None,
    notes: list[str],
    timing: Timing,
) -> dict[str, Any]:
    """The bundle's ``sampling`` section for a finished run (JSON-ready).

    Args:
        opts: the run's options.
        n_walkers: walkers per ensemble.
        source_info: the source's ``describe()``.
        initial_given: whether the caller gave the starting walkers.
        plan: the run's plan (segments, choices, the move set used).
        chains: what the runner extracted.
        split: the train/validation/test indices.
        split_seed: the seed of the split.
        n_samples: distinct samples written.
        rhat_max: the largest R-hat (None: no chain was long enough).
        notes: the run's warnings.
        timing: the clock readings of the run.

    Returns:
        The section, its fields in the schema's order.
    """
    tuning = chains.tuning
    return {
        "tool": "emcee",
        "tool_version": emcee.__version__,
        "strategy": opts.strategy,
        "strategy_options": _strategy_options(opts, source_info, initial_given, plan, chains),
        "seeds": [int(opts.seed)],
        "n_walkers": n_walkers,
        "n_steps": int(chains.total_steps),
        "moves": _moves(opts, plan, chains),
        "burn_in": int(tuning.burn_in),
        "thin": int(tuning.thin),
        "n_samples": int(n_samples),
        "split": {
            **{k: int(split[k].size) for k in ("train", "validation", "test")},
            "seed": int(split_seed),
            "fractions": list(opts.split),
        },
        "diagnostics": _diagnostics(chains, rhat_max, notes, timing),
        "wall_time_s": timing.wall_time_s,
    }


def _strategy_options(
    opts: SampleOptions, source_info: dict[str, Any], initial_given: bool, plan: Plan, chains: Chains
) -> dict[str, Any]:
    """``strategy_options``: how the strategy was carried out (the schema leaves its content free)."""
    return {
        "generator": {"name": "dnnlik", "version": __version__},
        "source": source_info,
        "move_set": plan.move_set,
        "n_chains": opts.n_chains,
        "profile_fraction": opts.profile_fraction
        if opts.strategy == "mixed"
        else (1.0 if opts.strategy == "profile" else 0.0),
        "tune_steps": opts.tune_steps,
        "burn_in_rule": f"ceil({opts.burn_factor:g} x tau_max of the tuning chain)"
        if opts.burn_in is None
        else "given",
        "thin_rule": f"max(1, floor({opts.thin_factor:g} x tau_max))" if opts.thin is None else "given",
        "checkpoint_every": opts.checkpoint_every,
        "seed_derivation": SEED_DERIVATION,
        "deduplication": DEDUPLICATION,
        "initial_walkers": "given" if initial_given else "draws from the Laplace normal at the (profiled) maximum",
        "segments": chains.infos,
        **plan.choices,
        **({"moves_fallback": plan.fallback} if plan.fallback else {}),
    }


def _moves(opts: SampleOptions, plan: Plan, chains: Chains) -> list[dict[str, Any]]:
    """``moves``: each move as the reference segment builds it, with the run's proposal counts."""
    specs = plan.specs
    total = sum(s.weight for s in specs)
    ref = plan.segments[0]
    out = []
    for m, _ in build_moves(
        specs, ndim=ref.ndim, mean=ref.laplace_mean, precision=ref.laplace_precision, df=opts.df, uniform=None
    ):
        m.proposed, m.accepted = chains.move_counts.get(m.name, [0, 0])
        desc = m.describe(next(s.weight for s in specs if s.name == m.name) / total)
        desc["options"].pop("uniform_window", None)
        out.append(desc)
    return out


def _diagnostics(chains: Chains, rhat_max: float | None, notes: list[str], timing: Timing) -> dict[str, Any]:
    """``diagnostics``: the tuning chain's tau, acceptance, R-hat, effective samples, warnings, timing."""
    tuning = chains.tuning
    n_eff = float(sum(i["effective_samples"] for i in chains.infos))
    wall = float(chains.wall_time_s)
    return {
        "autocorrelation_time": float(tuning.tau_max),
        "autocorrelation_time_per_parameter": list(tuning.tau),
        "autocorrelation_time_trusted": bool(tuning.trusted),
        "acceptance_fraction": float(chains.acceptance_fraction),
        **({"rhat_max": rhat_max} if rhat_max is not None else {}),
        "rhat_over": "walkers of all unbiased ensembles as chains, each split in two halves"
        if chains.rhat is not None
        else f"walkers of each ensemble with at least {2 * RHAT_MIN_HALF} kept steps, split in halves "
        "(max over ensembles)",
        "effective_samples": n_eff,
        **(
            {"effective_samples_per_parameter": [float(v) for v in chains.effective_per_parameter]}
            if chains.effective_per_parameter is not None
            else {}
        ),
        "effective_samples_per_s": n_eff / wall if wall > 0 else None,
        "warnings": list(notes),
        "timing_s": timing.record(),
    }
