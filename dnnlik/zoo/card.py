"""The model card of a zoo entry: ``README.md`` with the figures, and a t_mu plot when matplotlib is there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..fidelity.plots import tmu_plot

__all__ = ["write_card", "PAPER_FIGURES"]

PAPER_FIGURES = {
    "tmu_mean_abs_delta": "0.032",
    "ks_median_pvalue": "0.33-0.44",
    "hpdi_max_abs_delta": "~0.002-0.02",
}
"""The DNNLikelihood paper's best networks (arXiv:1911.03305: 25M parameters, 500k points, 7,114 s on a V100)."""


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def write_card(entry_dir: Path, bundle: Any, report: Any, times: dict[str, float], config: Any) -> None:
    """Write ``entry_dir/README.md`` (and ``tmu.png`` with the ``plot`` extra)."""
    doc = bundle.document
    q = {m.name: m for m in report.quadratic}
    rows = ["| metric | this entry | quadratic approximation | threshold | paper (arXiv:1911.03305) |",
            "|---|---|---|---|---|"]
    for m in report.metrics:
        th = f"{m.comparison} {m.threshold:g}" + (" (pass)" if m.passed else " (FAIL)") if m.threshold is not None else ""
        rows.append(f"| {m.name} | {_fmt(m.value)} | {_fmt(q[m.name].value) if m.name in q else ''} | {th} | "
                    f"{PAPER_FIGURES.get(m.name, '')} |")
    tmu = report.metric("tmu_mean_abs_delta").detail
    scan_rows = ["| mu | t_mu exact | t_mu surrogate |", "|---|---|---|"]
    scan_rows += [f"| {v:g} | {e:.4f} | {s:.4f} |" for v, e, s in zip(tmu["values"], tmu["exact"], tmu["surrogate"])]
    training = doc.get("training", {})
    plot_line = ""
    if tmu_plot(entry_dir / "tmu.png", tmu["values"], tmu["surrogate"], tmu["exact"]):
        plot_line = "\n![t_mu, exact and surrogate](tmu.png)\n"
    text = f"""# {doc['title']}

`{doc['name']}` {doc['version']}: the DNNLikelihood of the 95-parameter toy LHC-like new-physics
search (Buckley et al., arXiv:1809.05548, as used in arXiv:1911.03305), trained with dnnlik's own
pipeline on 2 CPU cores. The bundle is in `bundle/`; it validates with `dnnlik validate`.

```python
import dnnlik
lik = dnnlik.load("zoo:{doc['name']}")
lik.logpdf({{"mu": [0.0, 0.5, 1.0]}})          # nuisance parameters at nominal
```

## Fidelity (verdict: **{report.verdict}**)

Against the exact likelihood, on two independent posterior samples never used in training.

{chr(10).join(rows)}

{chr(10).join(scan_rows)}
{plot_line}
## How it was made

One command, fixed seeds: `dnnlik zoo build {doc['name']}` (seed {config.seed}).

- training samples: {config.n_train} MCMC points, mixed strategy (posterior + profile chains), plus
  {config.n_ridge} points between the profile ridge and the typical set (`dnnlik.sample.ridge`)
- fidelity samples: 2 x {config.n_fidelity} posterior points
- network: {' x '.join(map(str, config.layers))} SELU, ensemble of {config.ensemble}, {config.train_minutes:g} minutes cap
- framework: {training.get('framework', {})}
- wall time by stage (s): {', '.join(f'{k} {v:.0f}' for k, v in times.items())}
"""
    (entry_dir / "README.md").write_text(text, encoding="utf-8")
