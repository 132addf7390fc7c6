"""What a sampling run returns: the samples file's path, its metadata, and a terminal summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["SampleResult"]


@dataclass
class SampleResult:
    """What a run produced: the samples file and its ``sampling`` metadata."""

    path: Path
    n_samples: int
    sampling: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    resumed: bool = False

    def summary(self) -> str:
        """A few lines for a terminal: what was written, the split, the moves, tau, acceptance, R-hat, warnings.

        Returns:
            The lines, joined by newlines.
        """
        s = self.sampling
        d = s["diagnostics"]
        lines = [
            f"wrote {self.n_samples} samples to {self.path} ({s['strategy']}, seed {s['seeds'][0]}, "
            f"{s['n_walkers']} walkers, {s['n_steps']} steps, {s['wall_time_s']:.1f} s"
            + (", resumed" if self.resumed else "")
            + ")",
            f"split: train {s['split']['train']}, validation {s['split']['validation']}, "
            f"test {s['split']['test']} (seed {s['split']['seed']})",
            "moves: "
            + ", ".join(
                f"{m['name']} (weight {m['weight']:.2f}, acceptance "
                + (f"{m['acceptance_fraction']:.3f}" if "acceptance_fraction" in m else "n/a")
                + ")"
                for m in s["moves"]
            ),
            f"autocorrelation time: {d['autocorrelation_time']:.2f} steps (max over parameters)"
            f"; burn-in {s['burn_in']}, thin {s['thin']}",
            f"acceptance fraction: {d['acceptance_fraction']:.3f}; R-hat max: "
            + (f"{d['rhat_max']:.4f}" if d.get("rhat_max") is not None else "n/a")
            + f"; effective samples: {d['effective_samples']:.0f}"
            + (
                f" ({d['effective_samples_per_s']:.0f} per second of sampling)"
                if d.get("effective_samples_per_s")
                else ""
            ),
        ]
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- checks
