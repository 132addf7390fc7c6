"""A fidelity metric with its threshold, and the verdict over several."""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Metric", "verdict"]

_COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


@dataclass
class Metric:
    """One figure of merit: a scalar ``value`` (and optional ``detail``) checked against ``threshold``.

    >>> Metric("tmu_mean_abs_delta", 0.002, threshold=0.005).passed
    True

    Attributes:
        name: the metric's name, e.g. ``"tmu_mean_abs_delta"``.
        value: its value (may be inf or NaN: then it fails any threshold).
        threshold: the limit it is checked against; None for a reported-only figure.
        comparison: how ``value`` must compare with ``threshold``: ``<``, ``<=``, ``>`` or ``>=``.
        description: what it measures, in words (and units).
        detail: JSON-serialisable data behind the value (per-parameter p-values, the grid...).
        notes: warnings about this figure, appended to the description in JSON.
    """

    name: str
    value: float
    threshold: float | None = None
    comparison: str = "<="
    description: str = ""
    detail: Any = None
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool | None:
        """True/False against the threshold; None when there is no threshold."""
        if self.threshold is None:
            return None
        return bool(math.isfinite(self.value) and _COMPARE[self.comparison](self.value, self.threshold))

    def to_json(self) -> dict[str, Any]:
        """The bundle's ``validation.metrics[]`` entry.

        Returns:
            ``name`` and ``value`` (``{"value": ..., "detail": ...}`` when there is a
            detail; a non-finite value as ``{"non_finite": "inf"}``), then
            ``threshold``, ``comparison`` and ``passed`` when there is a threshold,
            and ``description`` (with the notes) when there is one.
        """
        value: Any = self.value if math.isfinite(self.value) else {"non_finite": str(self.value)}
        out: dict[str, Any] = {"name": self.name, "value": value}
        if self.detail is not None:
            out["value"] = {"value": out["value"], "detail": self.detail}
        if self.threshold is not None:
            out.update(threshold=self.threshold, comparison=self.comparison, passed=self.passed)
        if self.description:
            out["description"] = self.description + ("" if not self.notes else " Notes: " + "; ".join(self.notes))
        return out

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> Metric:
        """The metric stored as ``entry`` (a ``validation.metrics[]`` item; see :meth:`to_json`).

        A value that is not a number (``{"non_finite": "nan"}``, or malformed) reads as NaN.

        Args:
            entry: the JSON object; missing members take their defaults.

        Returns:
            The metric (its notes stay inside ``description``).
        """
        raw = entry.get("value")
        detail = None
        if isinstance(raw, dict) and "value" in raw:
            raw, detail = raw["value"], raw.get("detail")
        if isinstance(raw, dict) and isinstance(raw.get("non_finite"), str):
            raw = raw["non_finite"]
        try:
            value = float(raw) if isinstance(raw, (int, float, str)) and not isinstance(raw, bool) else math.nan
        except ValueError:
            value = math.nan
        threshold = entry.get("threshold")
        return cls(
            name=str(entry.get("name", "")),
            value=value,
            threshold=float(threshold) if isinstance(threshold, (int, float)) else None,
            comparison=str(entry.get("comparison", "<=")),
            description=str(entry.get("description", "")),
            detail=detail,
        )


def verdict(metrics: Sequence[Metric]) -> str:
    """'pass' when every metric with a threshold passes, else 'fail'.

    Args:
        metrics: the metrics; those without a threshold do not count.

    Returns:
        ``"pass"`` or ``"fail"`` (``"pass"`` for no metrics at all).
    """
    return "pass" if all(m.passed is not False for m in metrics) else "fail"
