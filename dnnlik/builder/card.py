"""The model card of a built bundle (a zoo entry, a ``dnnlik build`` output): ``README.md``, and its plots."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..fidelity.figures import bundle_figures

__all__ = ["write_card", "PAPER_FIGURES"]

PAPER_FIGURES = {
    "tmu_mean_abs_delta": "0.032",
    "ks_median_pvalue": "0.33-0.44",
    "hpdi_max_abs_delta": "~0.002-0.02",
}
"""The DNNLikelihood paper's best networks (arXiv:1911.03305: 25M parameters, 500k points, 7,114 s on a V100)."""


def _fmt(value: float) -> str:
    return f"{value:.4g}"


_CAPTIONS = {
    "tmu": "t_mu, exact and surrogate",
    "marginals": "marginals: exact posterior vs the surrogate's (the POI and the lowest K-S p-values)",
    "hpdi": "HPDI of mu: exact, reweighted to the surrogate, sampled on the surrogate",
    "training": "training curves",
}


def _epochs(config: Any, training: dict[str, Any]) -> str:
    """The recipe's epochs and caps, and what each member actually did."""
    cap = f", {config.train_minutes:g} minutes cap" if config.train_minutes else ""
    done = "; ".join(
        f"{m.get('epochs')} epochs ({m.get('stopped')}, best {m.get('best_epoch')})"
        for m in training.get("history", {}).get("members", [])
    )
    return f"at most {config.epochs} epochs{cap}" + (f": trained {done}" if done else "")


def _schedule(training: dict[str, Any]) -> str:
    """The learning-rate schedule as recorded in the bundle's training section."""
    opt = training.get("optimizer") or {}
    start = opt.get("learning_rate")
    if not isinstance(start, (int, float)):
        return "not recorded"
    if "cosine_decay" in opt:
        return f"cosine from {start:g} to {opt['cosine_decay'].get('min_lr', 0):g} over the epochs"
    if "reduce_lr_on_plateau" in opt:
        return f"{start:g}, cut by {1 / opt['reduce_lr_on_plateau'].get('factor', 1):g} on plateaus"
    return f"{start}"


def write_card(
    entry_dir: Path,
    bundle: Any,
    report: Any,
    times: dict[str, float],
    config: Any,
    *,
    data: Any = None,
    offset: float = 0.0,
    about: str = "",
    load_as: str | None = None,
    trained_on: str = "2 CPU cores",
    source: Sequence[str] = (),
) -> None:
    """Write ``entry_dir/README.md`` (and its plots, with the ``plot`` extra).

    Args:
        entry_dir: the output folder (an existing folder; the card and PNGs go there).
        bundle: the loaded bundle, with its ``validation`` section.
        report: its fidelity report (:class:`~dnnlik.fidelity.FidelityReport`).
        times: wall time of each build stage, seconds.
        config: the build recipe (:class:`~dnnlik.builder.config.BuildConfig`).
        data: the fidelity samples, for the marginals; default the bundle's stored sample.
        offset: the constant the bundle adds to log L.
        about: what the entry is, one phrase (default: the bundle's description).
        load_as: what ``dnnlik.load`` is given in the card's example; default ``zoo:NAME``.
        trained_on: the machine, in words (``"2 CPU cores"``).
        source: lines of a "Source" section (where the reference likelihood came from); none: no section.

    Raises:
        KeyError: ``report`` lacks ``tmu_mean_abs_delta`` or ``ks_median_pvalue``.
        InvalidInputError: ``entry_dir`` is not a folder.
    """
    doc = bundle.document
    q = {m.name: m for m in report.quadratic}
    rows = [
        "| metric | this entry | quadratic approximation | threshold | paper (arXiv:1911.03305) |",
        "|---|---|---|---|---|",
    ]
    for m in report.metrics:
        th = (
            f"{m.comparison} {m.threshold:g}" + (" (pass)" if m.passed else " (FAIL)")
            if m.threshold is not None
            else ""
        )
        rows.append(
            f"| {m.name} | {_fmt(m.value)} | {_fmt(q[m.name].value) if m.name in q else ''} | {th} | "
            f"{PAPER_FIGURES.get(m.name, '')} |"
        )
    tmu = report.metric("tmu_mean_abs_delta").detail
    scan_rows = ["| mu | t_mu exact | t_mu surrogate |", "|---|---|---|"]
    scan_rows += [
        f"| {v:g} | {e:.4f} | {s:.4f} |" for v, e, s in zip(tmu["values"], tmu["exact"], tmu["surrogate"], strict=True)
    ]
    training = doc.get("training", {})
    ks = report.metric("ks_median_pvalue").detail.get("pvalues")
    figures = bundle_figures(bundle, entry_dir, data=data, offset=offset, pvalues=ks)
    notes = "".join(f"\nNote: {n}.\n" for n in report.all_notes())
    plot_line = "".join(f"\n![{_CAPTIONS[k]}]({p.name})\n" for k, p in figures.items() if p is not None)
    network = (
        f"{' x '.join(map(str, config.layers))} {config.activation.upper()}, ensemble of {config.ensemble}, "
        f"{_epochs(config, training)}; learning rate: {_schedule(training)}"
    )
    command = doc.get("provenance", {}).get("command") or _command(config, doc["name"])
    poi = next((p["name"] for p in doc["parameters"] if p.get("role") == "poi"), doc["parameters"][0]["name"])
    source_text = "## Source\n\n" + "".join(f"- {line}\n" for line in source) + "\n" if source else ""
    text = f"""# {doc["title"]}

`{doc["name"]}` {doc["version"]} (bundle format {doc["format_version"]}): {about or doc.get("description", "")}, trained
with dnnlik's own pipeline on {trained_on}. The bundle is in `bundle/`; it validates with `dnnlik validate`.

```python
import dnnlik
lik = dnnlik.load("{load_as or "zoo:" + doc["name"]}")
lik.logpdf({{"{poi}": [0.0, 0.5, 1.0]}}){" " * max(1, 12 - len(poi))}# nuisance parameters at nominal
```

## Fidelity (verdict: **{report.verdict}**)

Against the exact likelihood, on two independent posterior samples never used in training.

{chr(10).join(rows)}
{notes}
{chr(10).join(scan_rows)}
{plot_line}
{source_text}## How it was made

One command, fixed seeds: `{command}` (seed {config.seed}).

- training samples: {config.n_train} MCMC points, mixed strategy (posterior + profile chains), plus
  {config.n_ridge} points between the profile ridge and the typical set (`dnnlik.sample.ridge`)
- fidelity samples: 2 x {config.n_fidelity} posterior points
- network: {network}
- framework: {training.get("framework", {})}
- wall time by stage (s): {", ".join(f"{k} {v:.0f}" for k, v in times.items())}
"""
    (entry_dir / "README.md").write_text(text, encoding="utf-8")


def _command(config: Any, name: str) -> str:
    """The recipe's command line, when the bundle does not record one."""
    spell = getattr(config, "command", None)
    return str(spell(name)) if callable(spell) else "not recorded"
