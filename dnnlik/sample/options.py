"""The options of a sampling run: every default, its help text and its rule, in one place.

:class:`SampleOptions` is the single home of the sampling defaults. Each
field's ``metadata`` carries the help text and, for numbers, the allowed
range; :meth:`SampleOptions.check` applies those rules, and ``dnnlik sample``
builds its options from the same fields (so ``--help`` states the defaults
kept here).

The vocabulary of the options lives here too: the strategies
(:data:`STRATEGIES`), the named move sets (:data:`MOVE_SETS`) and
:func:`parse_moves`. This module imports neither emcee, h5py nor scipy (nor
numpy): the command line reads it without loading the sampler.

>>> SampleOptions().n
100000
>>> [(s.name, s.weight) for s in parse_moves("auto")]
[('laplace', 0.9), ('de', 0.1)]
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from ..errors import InvalidInputError

__all__ = [
    "SampleOptions",
    "default_walkers",
    "check_walkers",
    "MoveSpec",
    "parse_moves",
    "possible_move_sets",
    "needs_laplace",
    "uses_red_blue",
    "STRATEGIES",
    "TRANSFORM_MODES",
    "MOVE_NAMES",
    "MOVE_SETS",
    "FALLBACK_MOVE_SET",
    "DEFAULT_DF",
    "DEFAULT_SPLIT",
    "DEFAULT_POI_SIGMAS",
    "TUNE_DISCARD",
    "RHAT_TARGET",
    "MIN_TUNE_STEPS",
]

STRATEGIES = ("unbiased", "profile", "mixed")
"""``unbiased`` (posterior), ``profile`` (chains along the profile ridge), ``mixed`` (both)."""

TRANSFORM_MODES = ("auto", "all", "none")
"""How bounded parameters are sampled (:mod:`.transform`): ``auto`` holds degenerate parameters and
samples through a log/logit transform the bounded ones whose Laplace marginal crosses a bound; ``all``
transforms every bounded parameter; ``none`` samples every parameter as it is."""

DEFAULT_SPLIT = (0.8, 0.1, 0.1)
"""Train, validation and test fractions of the samples file."""

DEFAULT_DF = 50.0
"""Degrees of freedom of the Student-t independence proposal (heavier tails than the Laplace normal)."""

DEFAULT_POI_SIGMAS = 5.0
"""Half-width of the default POI range, in Laplace standard deviations."""

RHAT_TARGET = 1.01
"""R-hat above this: the chains disagree (a run warns; fidelity does not judge K-S and HPDI on such samples)."""

TUNE_DISCARD = 0.25
"""Fraction of the tuning chain left out of its autocorrelation time."""

MIN_TUNE_STEPS = 20
"""Fewer steps than this cannot estimate an autocorrelation time at all."""

# ---------------------------------------------------------------------------------------------- moves
MOVE_NAMES = ("laplace", "laplace-rw", "stretch", "de", "snooker", "kde")
RED_BLUE = ("stretch", "de", "snooker", "kde")
"""The moves that split the ensemble in two halves, each proposing from the other."""
MOVE_SETS: dict[str, str] = {
    "auto": "laplace:0.9,de:0.1",
    "laplace": "laplace:1",
    "laplace-de": "laplace:0.9,de:0.1",
    "laplace-stretch": "laplace:0.9,stretch:0.1",
    "laplace-rw": "laplace-rw:1",
    "de": "de:0.8,snooker:0.2",
    "stretch": "stretch:1",
    "kde": "kde:1",
}
"""Named move sets; ``auto`` is used when the Laplace approximation exists, ``de`` otherwise."""
FALLBACK_MOVE_SET = "de"
"""What ``auto`` becomes when a segment has no Laplace approximation."""


@dataclass(frozen=True)
class MoveSpec:
    """One move of a set: its name and its (unnormalised) weight.

    Attributes:
        name: one of :data:`MOVE_NAMES`.
        weight: the move's relative frequency, a positive number.
    """

    name: str
    weight: float


def parse_moves(text: str) -> tuple[MoveSpec, ...]:
    """Read a move set: a name of :data:`MOVE_SETS` or ``"name:weight,name:weight"``.

    Weights need not add up to 1; a move without a weight gets 1.

    Args:
        text: ``"auto"``, ``"laplace:0.9,de:0.1"``, ``"stretch:3, de"``...

    Returns:
        The moves in the order given.

    Raises:
        InvalidInputError: an empty set, an unknown move, a weight that is not
            a positive number, a move listed twice (``where="moves"``).

    >>> [(s.name, s.weight) for s in parse_moves("stretch:3, de")]
    [('stretch', 3.0), ('de', 1.0)]
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError("empty move set", where="moves")
    text = MOVE_SETS.get(text.strip(), text.strip())
    specs: list[MoveSpec] = []
    for item in text.split(","):
        name, _, weight_text = item.strip().partition(":")
        name = name.strip()
        if name not in MOVE_NAMES:
            raise InvalidInputError(
                f"unknown move {name!r}; moves: {', '.join(MOVE_NAMES)}; sets: {', '.join(MOVE_SETS)}", where="moves"
            )
        try:
            weight = float(weight_text) if weight_text.strip() else 1.0
        except ValueError:
            raise InvalidInputError(f"weight {weight_text!r} of move {name!r} is not a number", where="moves") from None
        if not math.isfinite(weight) or weight <= 0:
            raise InvalidInputError(f"weight of move {name!r} must be positive, got {weight_text}", where="moves")
        if any(s.name == name for s in specs):
            raise InvalidInputError(f"move {name!r} is listed twice", where="moves")
        specs.append(MoveSpec(name, weight))
    return tuple(specs)


def possible_move_sets(moves: str) -> tuple[str, ...]:
    """The move sets a run asked for ``moves`` may use: ``auto`` may fall back to :data:`FALLBACK_MOVE_SET`.

    >>> possible_move_sets("auto"), possible_move_sets("stretch")
    (('auto', 'de'), ('stretch',))

    Args:
        moves: the move set asked for (as :func:`parse_moves` reads it).

    Returns:
        ``moves``, then the fallback when ``moves`` is ``"auto"``.
    """
    return (moves, FALLBACK_MOVE_SET) if moves == "auto" else (moves,)


def needs_laplace(specs: Sequence[MoveSpec]) -> bool:
    """Whether a move needs the Laplace approximation (``laplace``, ``laplace-rw``).

    Args:
        specs: the moves (:func:`parse_moves`).

    Returns:
        True when one of them does.
    """
    return any(s.name.startswith("laplace") for s in specs)


def uses_red_blue(specs: Sequence[MoveSpec]) -> bool:
    """Whether a move needs at least twice as many walkers as dimensions.

    Args:
        specs: the moves (:func:`parse_moves`).

    Returns:
        True when one of them is an ensemble (red-blue) move.
    """
    return any(s.name in RED_BLUE for s in specs)


# ---------------------------------------------------------------------------------------------- walkers
def default_walkers(ndim: int) -> int:
    """Walkers by default: at least 64 and more than twice the dimension (200 for the 95-D toy), even.

    Args:
        ndim: the number of parameters sampled.

    Returns:
        ``max(64, 2 * ndim + 10)``, rounded up to an even number.

    >>> default_walkers(95)
    200
    """
    n = max(64, 2 * ndim + 10)
    return n + (n % 2)


def check_walkers(n_walkers: int, ndim: int, moves: str) -> None:
    """The one rule on walkers: ensemble (red-blue) moves need at least ``2 * ndim`` of them.

    Checked for every move set the run may use (``auto`` may fall back to
    :data:`FALLBACK_MOVE_SET`), so that it holds whatever the plan decides.

    Args:
        n_walkers: walkers per ensemble.
        ndim: the number of parameters sampled.
        moves: the move set asked for.

    Raises:
        InvalidInputError: too few walkers (``where="n_walkers"``), or ``moves``
            is not a move set (``where="moves"``).
    """
    for move_set in possible_move_sets(moves):
        specs = parse_moves(move_set)
        if uses_red_blue(specs) and n_walkers < 2 * ndim:
            raise InvalidInputError(
                f"{n_walkers} walkers are too few for {ndim} dimensions: the ensemble moves "
                f"({', '.join(s.name for s in specs)}) need at least 2 x {ndim} = {2 * ndim}",
                where="n_walkers",
            )


# ---------------------------------------------------------------------------------------------- options
def _option(
    default: Any,
    help: str,
    *,
    minimum: int | None = None,
    interval: tuple[float, float] | None = None,
    positive: bool = False,
    default_text: str | None = None,
) -> Any:
    """A field of :class:`SampleOptions` with its help text and its rule in ``metadata``.

    ``minimum``: an integer >= minimum; ``interval``: a number in [lo, hi];
    ``positive``: a finite number > 0; ``default_text``: the default in
    words, for a field whose default (None) is computed.
    """
    meta = {"help": help, "minimum": minimum, "interval": interval, "positive": positive, "default_text": default_text}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class SampleOptions:
    """Every choice of a run (recorded in the metadata; a resumed run must repeat them).

    The defaults here are the only copy: ``dnnlik sample`` reads them. Each
    field's ``metadata["help"]`` says what it does (``dnnlik sample --help``
    shows the same text).

    >>> SampleOptions(n=0).check()
    Traceback (most recent call last):
    ...
    dnnlik.errors.InvalidInputError: n: must be an integer >= 1, got 0
    """

    strategy: str = _option("unbiased", "Posterior samples, chains along the profile ridge, or both.")
    n: int = _option(100_000, "Number of distinct samples to write.", minimum=1)
    seed: int = _option(0, "Seed of everything random.", minimum=0)
    n_walkers: int | None = _option(
        None, "Walkers per ensemble.", minimum=2, default_text="max(64, 2 x dimensions + 10)"
    )
    moves: str = _option("auto", f"Move set: {', '.join(MOVE_SETS)}, or name:weight,... of {', '.join(MOVE_NAMES)}.")
    transform: str = _option(
        "auto",
        "Bounded parameters: 'auto' (hold degenerate ones; log/logit-transform those whose Laplace "
        "marginal crosses a bound), 'all' (every bounded one), 'none' (sample every parameter as it is).",
    )
    df: float | None = _option(DEFAULT_DF, "Degrees of freedom of the Student-t Laplace proposal (None: a normal).")
    n_chains: int = _option(2, "Independent unbiased ensembles (R-hat is computed over all their walkers).", minimum=1)
    profile_fraction: float = _option(0.5, "Fraction of profile samples in a mixed run.", interval=(0.0, 1.0))
    poi: str | None = _option(None, "Parameter of interest.", default_text="the one with role 'poi'")
    poi_grid: int = _option(20, "POI values of the profile grid.", minimum=1)
    poi_range: tuple[float, float] | None = _option(
        None,
        "(lo, hi) of the profile grid.",
        default_text=f"best fit +- {DEFAULT_POI_SIGMAS:g} Laplace sigma, within the bounds",
    )
    poi_sigmas: float = _option(
        DEFAULT_POI_SIGMAS, "Half-width of the default POI range, in Laplace standard deviations.", positive=True
    )
    window: str | float = _option(
        "tile", "POI window of each profile chain: 'tile' (windows tile the range), a width, or 0 (POI fixed)."
    )
    tune_steps: int = _option(
        500,
        "Steps of the tuning chain that fixes burn-in and thinning.",
        minimum=math.ceil(MIN_TUNE_STEPS / (1 - TUNE_DISCARD)),
    )
    burn_factor: float = _option(5.0, "Burn-in in autocorrelation times of the tuning chain.", positive=True)
    thin_factor: float = _option(0.5, "Thinning in autocorrelation times of the tuning chain.", positive=True)
    burn_in: int | None = _option(
        None, "Override the burn-in (steps).", minimum=0, default_text="from the tuning chain's autocorrelation time"
    )
    thin: int | None = _option(
        None, "Override the thinning.", minimum=1, default_text="from the tuning chain's autocorrelation time"
    )
    checkpoint_every: int = _option(500, "Steps between checkpoints.", minimum=1)
    split: tuple[float, float, float] = _option(DEFAULT_SPLIT, "train, validation, test fractions.")
    split_seed: int | None = _option(None, "Seed of the train/validation/test split.", default_text="seed")
    on_short_chain: str = _option("warn", "'warn' or 'error' when a chain is too short to trust its diagnostics.")

    @classmethod
    def from_keywords(cls, options: Mapping[str, Any]) -> SampleOptions:
        """Options from keyword arguments (sequences for ``poi_range`` and ``split`` become tuples), checked.

        Args:
            options: ``{option name: value}``; options not named keep their defaults.

        Returns:
            The options, checked (:meth:`check`).

        Raises:
            InvalidInputError: an unknown option (``where="sample"``) or one
                that breaks its rule (``where=<the option's name>``).
        """
        unknown = sorted(set(options) - {f.name for f in fields(cls)})
        if unknown:
            raise InvalidInputError(f"unknown option(s) {unknown}", where="sample")
        options = dict(options)
        if options.get("poi_range") is not None:
            options["poi_range"] = tuple(float(v) for v in options["poi_range"])
        if "split" in options:
            options["split"] = tuple(float(v) for v in options["split"])
        opts = cls(**options)
        opts.check()
        return opts

    def check(self) -> None:
        """Check every option against its rule.

        Raises:
            InvalidInputError: the first option that breaks its rule, named in ``where``.
        """
        if self.strategy not in STRATEGIES:
            raise InvalidInputError(
                f"unknown strategy {self.strategy!r}; strategies: {', '.join(STRATEGIES)}", where="strategy"
            )
        for f in fields(self):
            _check_rule(f.name, getattr(self, f.name), f.metadata)
        if self.df is not None and not (_is_number(self.df) and self.df > 0):
            raise InvalidInputError(f"must be a positive number or None, got {self.df!r}", where="df")
        if self.window != "tile":
            w = self.window
            if isinstance(w, bool) or not (isinstance(w, (int, float)) and math.isfinite(w) and w >= 0):
                raise InvalidInputError(f"must be 'tile' or a width >= 0, got {self.window!r}", where="window")
        if self.poi_range is not None:
            lo, hi = self.poi_range
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise InvalidInputError(
                    f"must be two finite numbers lo < hi, got {self.poi_range!r}", where="poi_range"
                )
        if self.transform not in TRANSFORM_MODES:
            raise InvalidInputError(
                f"must be one of {', '.join(TRANSFORM_MODES)}, got {self.transform!r}", where="transform"
            )
        if self.on_short_chain not in ("warn", "error"):
            raise InvalidInputError(f"must be 'warn' or 'error', got {self.on_short_chain!r}", where="on_short_chain")
        parse_moves(self.moves)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_rule(name: str, value: Any, meta: Mapping[str, Any]) -> None:
    """The rule ``meta`` (a field's metadata) states for ``value``; None passes (a computed default)."""
    if value is None:
        return
    minimum = meta.get("minimum")
    if minimum is not None:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
            wanted = "a non-negative integer" if minimum == 0 else f"an integer >= {minimum}"
            raise InvalidInputError(f"must be {wanted}, got {value!r}", where=name)
    interval = meta.get("interval")
    if interval is not None and not (_is_number(value) and interval[0] <= value <= interval[1]):
        raise InvalidInputError(f"must be a number in [{interval[0]:g}, {interval[1]:g}], got {value!r}", where=name)
    if meta.get("positive") and not (_is_number(value) and math.isfinite(value) and value > 0):
        raise InvalidInputError(f"must be a positive number, got {value!r}", where=name)
