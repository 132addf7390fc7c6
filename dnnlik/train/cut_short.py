"""Training that stopped before the end of its schedule: one warning and one record, for every caller.

A cosine learning-rate schedule decays over ``config.epochs`` epochs; its last
epochs, at small learning rates, are where the network settles. When the
wall-time cap (``max_minutes``) or early stopping ends training before then,
the network never took those steps. With the plateau schedule, early stopping
is the planned end, so only the wall-time cap counts there.

:func:`~dnnlik.train.train_ensemble` calls :func:`cut_short_record` once per
run: when training was cut short it gives a :class:`ScheduleCutShortWarning`,
and the exported bundle records the same finding as its training section's
``schedule_cut_short`` member (:func:`~dnnlik.train.export_bundle`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from .config import TrainConfig
from .fit import MemberResult

__all__ = ["ScheduleCutShortWarning", "cut_short_record", "cuts_schedule_short", "relay_cut_short"]


class ScheduleCutShortWarning(UserWarning):
    """Training stopped before the end of its learning-rate schedule (the time cap or early stopping).

    Attributes:
        record: what :func:`cut_short_record` found; its ``message`` is the warning's text.
    """

    def __init__(self, record: Mapping[str, Any]) -> None:
        super().__init__(str(record["message"]))
        self.record = dict(record)


@contextmanager
def relay_cut_short(say: Callable[[ScheduleCutShortWarning], None]) -> Iterator[None]:
    """Within the block, hand a :class:`ScheduleCutShortWarning` to ``say`` instead of printing it.

    For callers that keep a progress log (the command line, the zoo build): the
    finding is told once, in their log, not a second time by Python's warnings.
    Other warnings are given again, unchanged, when the block ends.

    Args:
        say: called with each cut-short warning, once the block ends (also when it raises).

    Yields:
        Nothing: run the training inside the block.
    """
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ScheduleCutShortWarning)
            yield
    finally:  # the warnings filters are the caller's again here
        for w in caught:
            if isinstance(w.message, ScheduleCutShortWarning):
                say(w.message)
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)


def cuts_schedule_short(member: MemberResult, config: TrainConfig) -> bool:
    """Whether ``member`` stopped before the end of ``config``'s schedule for a reason other than a Ctrl-C.

    Args:
        member: a trained network.
        config: the recipe it was trained with.

    Returns:
        True for the wall-time cap before ``config.epochs`` epochs, and, with the cosine
        schedule, for early stopping before them.
    """
    cut_by = member.stopped == "time-cap" or (member.stopped == "early-stopping" and config.lr_schedule == "cosine")
    return cut_by and member.epochs < int(config.epochs)


def cut_short_record(members: Sequence[MemberResult], config: TrainConfig) -> dict[str, Any] | None:
    """What the training section records when training was cut short, or None when it was not.

    Args:
        members: the trained networks of one run.
        config: their recipe.

    Returns:
        ``lr_schedule``, ``planned_epochs``, one entry per member cut short (``seed``,
        ``epochs``, ``stopped``, ``learning_rate``: the last epoch's) and ``message``
        (what the warning says); None when no member was cut short.
    """
    cut = [m for m in members if cuts_schedule_short(m, config)]
    if not cut:
        return None
    entries = [
        {
            "seed": m.seed,
            "epochs": m.epochs,
            "stopped": m.stopped,
            "learning_rate": float(m.history["lr"][-1]) if m.history.get("lr") else None,
        }
        for m in cut
    ]
    return {
        "lr_schedule": config.lr_schedule,
        "planned_epochs": int(config.epochs),
        "members": entries,
        "message": _message(entries, config, len(members)),
    }


def _message(entries: list[dict[str, Any]], config: TrainConfig, n_members: int) -> str:
    """One sentence: what was cut, by what, and what to change."""
    if config.lr_schedule == "cosine":
        head = (
            f"training stopped before the end of its cosine learning-rate schedule ({config.epochs} epochs, "
            f"from {config.learning_rate:g} down to {min(config.min_lr, config.learning_rate):g})"
        )
    else:
        head = f"training stopped before its {config.epochs} epochs"
    causes = {
        "time-cap": f"the {config.max_minutes or 0:g}-minute cap (max_minutes)",
        "early-stopping": f"early stopping (no improvement for {config.early_stopping_patience} epochs)",
    }
    parts = []
    for e in entries:
        who = f"member seed {e['seed']}" if n_members > 1 else "it"
        rate = f", at learning rate {e['learning_rate']:.2g}" if e["learning_rate"] is not None else ""
        parts.append(f"{causes[e['stopped']]} stopped {who} after {e['epochs']} epochs{rate}")
    fixes = []
    if any(e["stopped"] == "time-cap" for e in entries):
        fixes.append("raise max_minutes (or drop the cap)")
    if any(e["stopped"] == "early-stopping" for e in entries):
        fixes.append("raise early_stopping_patience")
    fixes.append("or set fewer epochs so that the schedule ends in time")
    return f"{head}: {'; '.join(parts)}; to train the whole schedule, {', '.join(fixes)}"
