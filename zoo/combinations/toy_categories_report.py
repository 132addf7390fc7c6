"""The figures of the zoo combination ``toy-lhc-like-categories``: per category, combined, mixed.

    .venv/bin/python zoo/combinations/toy_categories_report.py [--out zoo/combinations]

Reads the combination file beside this script (its members: the zoo entries
``toy-lhc-like-cat1`` .. ``-cat3``, pinned by digest) and compares, over
mu = 0, 0.1, ..., 1:

- each category's surrogate against its exact likelihood (t_mu, best-fit mu);
- the combined surrogate against the exact full 95-parameter toy, the target
  of issue 14 (mean |delta t_mu| <= 0.01, max <= 0.03, best-fit mu within 0.01);
- the all-exact combination against the full toy (the machinery alone);
- mixed members: each category's bundle with the two other exact categories;
- whether the errors add or cancel: the combined delta t_mu against the sum of
  the per-category ones, and the spread of the log-density errors on an exact
  posterior sample of the full toy (variance of the sum against the sum of the
  variances).

Writes ``figures.json`` (every number) and ``README.md`` (the card) into ``--out``,
atomically. Deterministic: fixed seeds everywhere.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import dnnlik
from dnnlik import infer, likelihoods
from dnnlik.fsutil import atomic_write_text

HERE = Path(__file__).resolve().parent
GRID = [round(0.1 * i, 10) for i in range(11)]
CATEGORIES = (1, 2, 3)
TARGETS = {"tmu_mean_abs_delta": 0.01, "tmu_max_abs_delta": 0.03, "best_fit_abs_delta": 0.01}
SEED = 20191108


def scan(source: Any) -> tuple[np.ndarray, float]:
    """t_mu over GRID and the best-fit mu."""
    result = infer.tmu_scan(source, GRID, "mu", seed=SEED)
    return np.array(result.tmu), float(result.poi_hat)


def compare(name: str, approx: tuple[np.ndarray, float], exact: tuple[np.ndarray, float]) -> dict[str, Any]:
    delta = approx[0] - exact[0]
    return {
        "name": name,
        "tmu_mean_abs_delta": float(np.mean(np.abs(delta))),
        "tmu_max_abs_delta": float(np.max(np.abs(delta))),
        "best_fit_abs_delta": abs(approx[1] - exact[1]),
        "delta_tmu": [float(d) for d in delta],
        "tmu": [float(t) for t in approx[0]],
        "tmu_exact": [float(t) for t in exact[0]],
        "best_fit": approx[1],
        "best_fit_exact": exact[1],
    }


def posterior_sample(n: int) -> np.ndarray:
    """An exact posterior sample of the full toy (emcee, fixed seed)."""
    from dnnlik.sample import sample
    from dnnlik.sample.dataset import read_dataset

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "posterior.h5"
        sample(likelihoods.get("toy-lhc-like"), path, strategy="unbiased", n=n, seed=SEED + 7)
        return read_dataset(path).points


def error_spread(joint: Any, full: Any, points: np.ndarray) -> dict[str, Any]:
    """Do the members' log-density errors add or cancel? Spread of each, of their sum, on ``points``."""
    names = list(full.parameter_names)
    errors = []
    exact_cats = [likelihoods.get(f"toy-lhc-like-cat{c}") for c in CATEGORIES]
    for bundle, exact in zip(joint.members, exact_cats, strict=True):
        cols = [names.index(p) for p in exact.parameter_names]
        x = points[:, cols]
        e = np.asarray(bundle.logpdf(x)) - np.asarray(exact.logpdf(x))
        errors.append(e - e.mean())
    order = [names.index(p) for p in joint.parameter_names]  # the combination's own column order
    combined = np.asarray(joint.logpdf(points[:, order])) - np.asarray(full.logpdf(points))
    combined = combined - combined.mean()
    stds = [float(np.std(e)) for e in errors]
    corr = np.corrcoef(np.array(errors))
    return {
        "n_points": int(points.shape[0]),
        "std_per_category": stds,
        "std_combined": float(np.std(combined)),
        "std_if_independent": float(np.sqrt(sum(s**2 for s in stds))),
        "std_if_fully_correlated": float(sum(stds)),
        "correlations": [[float(v) for v in row] for row in corr],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--combination", type=Path, default=HERE / "toy-lhc-like-categories.json")
    parser.add_argument("--samples", type=int, default=100_000)
    args = parser.parse_args(argv)
    t0 = time.monotonic()
    full = likelihoods.get("toy-lhc-like")
    exact_cats = [likelihoods.get(f"toy-lhc-like-cat{c}") for c in CATEGORIES]
    joint = load_joint(args.combination)
    bundles = list(joint.members)

    figures: dict[str, Any] = {"grid": GRID, "targets": TARGETS}
    exact_full = scan(full)
    t_scan = time.monotonic()
    combined = scan(joint)
    figures["combined_scan_seconds"] = time.monotonic() - t_scan
    figures["combined"] = compare("combined surrogate vs full toy", combined, exact_full)
    figures["all_exact"] = compare(
        "exact categories combined vs full toy", scan(dnnlik.combine(exact_cats)), exact_full
    )
    figures["categories"] = []
    figures["mixed"] = []
    for c, bundle, exact in zip(CATEGORIES, bundles, exact_cats, strict=True):
        figures["categories"].append(compare(f"toy-lhc-like-cat{c}", scan(bundle), scan(exact)))
        members = [bundle if k == c else e for k, e in zip(CATEGORIES, exact_cats, strict=True)]
        figures["mixed"].append(
            compare(f"cat{c} bundle + exact others vs all exact", scan(dnnlik.combine(members)), exact_full)
        )
    summed = np.sum([c["delta_tmu"] for c in figures["categories"]], axis=0)
    figures["sum_of_category_deltas"] = [float(v) for v in summed]
    figures["logpdf_errors"] = error_spread(joint, full, posterior_sample(args.samples))
    figures["passed"] = all(figures["combined"][k] <= v for k, v in TARGETS.items())
    figures["wall_seconds"] = time.monotonic() - t0
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "figures.json", json.dumps(figures, indent=2) + "\n")
    atomic_write_text(args.out / "README.md", card(figures))
    print(card(figures))
    return 0 if figures["passed"] else 1


def load_joint(path: Path) -> Any:
    """The combination the zoo publishes: its file when present, else the same members by zoo name."""
    if path.exists():
        from dnnlik.combine import load_combination  # type: ignore[attr-defined]

        return load_combination(path)
    return dnnlik.combine({f"cat{c}": f"zoo:toy-lhc-like-cat{c}" for c in CATEGORIES})


def _row(fig: dict[str, Any]) -> str:
    return (
        f"| {fig['name']} | {fig['tmu_mean_abs_delta']:.4f} | {fig['tmu_max_abs_delta']:.4f} "
        f"| {fig['best_fit_abs_delta']:.4f} |"
    )


HISTORY = (
    "Four trainings of the categories were tried (2 cores, fixed seeds), giving combined mean / max abs delta "
    "t_mu: one 3x256 network each, 450k training points: 0.0106 / 0.0149; an ensemble of two 3x192 "
    "networks each, the three entries on the same seeds: 0.0102 / 0.0189; the same with half the ridge "
    "points on conditional ridges (`dnnlik.sample.conditional_ridge`): 0.0166 / 0.0259; the ensemble "
    "recipe with each entry on its own seeds (published): see the table. The spread between trainings "
    "is as large as the differences between recipes: the target sits within it."
)


def _miss_note(f: dict[str, Any]) -> str:
    """Which targets the combined surrogate misses, and by how much, then the trainings tried."""
    missed = [f"{k} {f['combined'][k]:.4f} > {v}" for k, v in TARGETS.items() if f["combined"][k] > v]
    head = ("Missed: " + "; ".join(missed) + ". ") if missed else "All three targets met. "
    return head + HISTORY + "\n\n"


def _verdict(e: dict[str, Any]) -> str:
    """What the spreads say, in words (from the numbers, not assumed)."""
    independent, together, seen = e["std_if_independent"], e["std_if_fully_correlated"], e["std_combined"]
    if abs(seen - independent) <= 0.25 * (together - independent):
        return "The errors add in quadrature, as independent errors do (the networks were trained separately)."
    if seen < independent:
        return "The errors partly cancel: the sum spreads less than independent errors would."
    return "The errors partly add up: the sum spreads more than independent errors would."


def card(f: dict[str, Any]) -> str:
    c = f["combined"]
    head = "| what | mean abs delta t_mu | max abs delta t_mu | abs delta best-fit mu |\n|---|---|---|---|"
    verdict = "pass" if f["passed"] else "FAIL"
    scan_rows = "\n".join(
        f"| {v:g} | {e:.4f} | {s:.4f} | {d:+.4f} | {sd:+.4f} |"
        for v, e, s, d, sd in zip(
            f["grid"], c["tmu_exact"], c["tmu"], c["delta_tmu"], f["sum_of_category_deltas"], strict=True
        )
    )
    e = f["logpdf_errors"]
    corr = e["correlations"]
    return f"""# toy-lhc-like-categories: three analyses that are really one

`toy-lhc-like-categories.json` combines the zoo entries `toy-lhc-like-cat1`, `-cat2` and `-cat3`
(each a DNNLikelihood of one event category of the toy LHC-like search, pinned by its
`document_sha256`). They share mu and the four systematics (isr, jes, lv, cr); the
combination counts each shared constraint term once, so the product is the full 95-parameter
toy's likelihood, and the exact categories combined reproduce it (row "exact categories").

```python
import dnnlik
joint = dnnlik.combine.load_combination("zoo/combinations/toy-lhc-like-categories.json")
dnnlik.infer.upper_limit(joint, poi="mu").limit
```
or `dnnlik limit zoo/combinations/toy-lhc-like-categories.json`.

## Fidelity of the combination (verdict: **{verdict}**)

Targets (issue 14): mean abs delta t_mu <= {TARGETS["tmu_mean_abs_delta"]}, max <= {TARGETS["tmu_max_abs_delta"]},
best-fit mu within {TARGETS["best_fit_abs_delta"]}, over mu = 0, 0.1, ..., 1, against the exact full toy.

{head}
{_row(c)}
{_row(f["all_exact"])}
{chr(10).join(_row(m) for m in f["categories"])}
{chr(10).join(_row(m) for m in f["mixed"])}

{_miss_note(f)}The category rows compare each surrogate with its own exact category likelihood; the "bundle +
exact others" rows combine one surrogate with the two exact categories (mixed members), against
the full toy.

| mu | t_mu exact (full toy) | t_mu combined surrogate | delta | sum of the categories' deltas |
|---|---|---|---|---|
{scan_rows}

## Do the errors add or cancel?

On {e["n_points"]} points of an exact posterior sample of the full toy, the spread (standard
deviation, constant removed) of each surrogate's log-density error is
{", ".join(f"{s:.4f}" for s in e["std_per_category"])} (categories 1-3); their sum's is
{e["std_combined"]:.4f}, against {e["std_if_independent"]:.4f} if they were independent and
{e["std_if_fully_correlated"]:.4f} if they moved together (correlations
{corr[0][1]:+.2f}, {corr[0][2]:+.2f}, {corr[1][2]:+.2f}). {_verdict(e)}
For t_mu, the combined delta at each mu is compared above with the sum of the categories' own
deltas; t_mu is not additive over categories (the shared nuisances are profiled jointly), so
the sum is an indication, not an identity.

Scan time of the combined surrogate (11 points): {f["combined_scan_seconds"]:.2f} s. Made by
`.venv/bin/python zoo/combinations/toy_categories_report.py` in {f["wall_seconds"]:.0f} s.
"""


if __name__ == "__main__":
    sys.exit(main())
