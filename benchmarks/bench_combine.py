"""Combination speed: prints figures, asserts nothing.

    python benchmarks/bench_combine.py [--quick]

Targets (issue 14, section 6), on 2 cores:

- the 11-point t_mu scan (mu = 0, 0.1, ..., 1) of the three-member exact
  combination of the toy's categories (analytic, in-graph gradients) in under 3 s;
- a combination's ``logpdf`` (and ``logpdf_and_grad``) costs no more than the sum
  of its members' plus 10%.

Both sides of each comparison are measured in the same run, interleaved (each
round times the members, then the combination, or the other way round), and the
overhead printed is the median over rounds of the paired ratio: another process
on the shared machine slows both sides of a round alike. The members' side
evaluates each member on its own points, already gathered (what a user holding
them separately would pay); the combination's side pays everything it adds:
reading the points, one gather per member, summing, the constraint correction,
and the gradient's scatter. The full 95-parameter toy's scan is printed beside
it for scale.

Three kinds of members: the toy's three categories (about 1 us per point each,
the cheapest a member can be, so the gathers and scatters weigh most); members
that cost nothing ("machinery alone": what the combination itself costs, in
absolute terms, the steadiest figure on a shared machine); and the zoo's toy
bundle combined with itself (mu shared, its 94 nuisances kept apart), a network
member with its in-graph gradient; and the zoo's three per-category bundles
combined (the published combination ``zoo/combinations``).

On the 2-core development VM the ratios move by +-10 points from run to run,
and batches of about 1e3 to 1e5 points are dominated by glibc handing freed
blocks back to the kernel and faulting them in again (the toy itself runs about
twice as fast with ``MALLOC_TRIM_THRESHOLD_=268435456
MALLOC_MMAP_THRESHOLD_=67108864``): compare figures within one run, and rerun
before concluding.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial

import numpy as np

import dnnlik
from dnnlik import infer, likelihoods


def interleaved(fns: list[Callable[[], object]], repeats: int) -> list[list[float]]:
    """Times of each function over ``repeats`` rounds, the functions taking turns within a round."""
    times: list[list[float]] = [[] for _ in fns]
    for r in range(repeats):
        order = list(range(len(fns)))
        if r % 2:
            order.reverse()  # neither side always runs first (warm caches, a neighbour's load)
        for k in order:
            t0 = time.perf_counter()
            fns[k]()
            times[k].append(time.perf_counter() - t0)
    return times


def paired(members: list[float], joint: list[float]) -> float:
    """The combination's overhead: the median over rounds of its time over the members' in the same round."""
    return float(np.median(np.array(joint) / np.array(members))) - 1.0


def toy_points(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 95) points of the combination's parameters near the best fit (all inside the support)."""
    x = rng.normal(0.0, 0.5, size=(n, 95))
    x[:, 0] = rng.uniform(-0.5, 2.0, size=n)
    return x


def cost_rows(
    joint: dnnlik.combine.Combination, x: np.ndarray, calls: int, repeats: int, label: str
) -> list[tuple[str, str, bool]]:
    """logpdf and logpdf_and_grad of the combination at the points ``x`` against the sum of its members'."""
    members = joint.members
    own = [np.ascontiguousarray(x[:, list(joint.columns(i))]) for i in range(len(members))]

    def members_logpdf() -> None:
        for _ in range(calls):
            for m, xi in zip(members, own, strict=True):
                m.logpdf(xi)

    def joint_logpdf() -> None:
        for _ in range(calls):
            joint.logpdf(x)

    def members_both() -> None:
        for _ in range(calls):
            for m, xi in zip(members, own, strict=True):
                m.logpdf_and_grad(xi)

    def joint_both() -> None:
        for _ in range(calls):
            joint.logpdf_and_grad(x)

    t = interleaved([members_logpdf, joint_logpdf, members_both, joint_both], repeats)
    rows = []
    n = x.shape[0]
    for what, (a, b) in (("logpdf", (t[0], t[1])), ("logpdf_and_grad", (t[2], t[3]))):
        over = paired(a, b)
        per = 1e6 / calls
        rows.append(
            (
                f"{label}: {what}, {n:,} point(s)",
                f"members {min(a) * per:,.0f} us, combination {min(b) * per:,.0f} us: {over:+.1%}",
                over <= 0.10,
            )
        )
    return rows


class _Free:
    """A member that costs nothing: its parameters and conventions, and zeros for every value and gradient."""

    exact_gradient = True

    def __init__(self, like: object) -> None:
        self.parameters = like.parameters  # type: ignore[attr-defined]
        self.name = like.name  # type: ignore[attr-defined]
        self.output = like.output  # type: ignore[attr-defined]

    def logpdf(self, x: np.ndarray) -> np.ndarray:
        return np.zeros(x.shape[0])

    def grad_logpdf(self, x: np.ndarray) -> np.ndarray:
        return np.zeros(x.shape)

    def logpdf_and_grad(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(x.shape[0]), np.zeros(x.shape)


def _repeat(fn: Callable[[np.ndarray], object], x: np.ndarray, calls: int) -> None:
    for _ in range(calls):
        fn(x)


def machinery_rows(cats: list[object], repeats: int) -> list[tuple[str, str, bool]]:
    """What the combination itself costs: the toy's layout, with members that cost nothing (absolute figures)."""
    joint = dnnlik.combine([_Free(c) for c in cats])
    rng = np.random.default_rng(7)
    rows = []
    for n, calls in ((1, 1000), (1_000, 100), (100_000, 1)):
        x = toy_points(n, rng)
        t = interleaved(
            [partial(_repeat, joint.logpdf, x, calls), partial(_repeat, joint.logpdf_and_grad, x, calls)], repeats
        )
        lp, both = min(t[0]) / calls, min(t[1]) / calls
        rows.append(
            (
                f"machinery alone: {n:,} point(s)",
                f"logpdf {lp * 1e6:,.1f} us ({lp / n * 1e9:,.0f} ns/point), "
                f"logpdf_and_grad {both * 1e6:,.1f} us ({both / n * 1e9:,.0f} ns/point)",
                True,
            )
        )
    return rows


def bundle_rows(repeats: int) -> list[tuple[str, str, bool]]:
    """The zoo's toy bundle combined with itself (mu shared, the rest kept apart): a network member's cost."""
    try:
        bundle = dnnlik.load("zoo:toy-lhc-like")
    except dnnlik.DnnlikError as exc:  # a checkout without the zoo entry
        print(f"(no bundle rows: {exc})")
        return []
    apart = [p.name for p in bundle.parameters if p.name != "mu"]
    joint = dnnlik.combine([bundle, bundle], names=["a", "b"], separate=apart)
    rng = np.random.default_rng(5)
    rows = []
    for n, calls in ((1, 100), (10_000, 1)):
        x = rng.normal(0.0, 0.5, size=(n, joint.n_parameters))
        x[:, 0] = rng.uniform(-0.5, 1.5, size=n)
        rows += cost_rows(joint, x, calls, repeats, "bundle x 2")
    return rows


def category_bundle_rows(repeats: int) -> list[tuple[str, str, bool]]:
    """The zoo's three per-category bundles combined: the published combination's scan time and cost."""
    try:
        bundles = [dnnlik.load(f"zoo:toy-lhc-like-cat{c}") for c in (1, 2, 3)]
    except dnnlik.DnnlikError as exc:  # a checkout without the category entries
        print(f"(no category-bundle rows: {exc})")
        return []
    joint = dnnlik.combine(bundles)
    values = np.round(np.linspace(0.0, 1.0, 11), 10)
    [scan] = interleaved([lambda: infer.tmu_scan(joint, values)], max(2, repeats // 3))
    rows = [("11-point t_mu scan, 3 category bundles", f"{min(scan):.3f} s (< 3 s)", min(scan) < 3.0)]
    rng = np.random.default_rng(3)
    for n, calls in ((1, 100), (1_000, 10), (10_000, 1)):
        rows += cost_rows(joint, toy_points(n, rng), calls, repeats, "category bundles")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    args = ap.parse_args()
    repeats = 4 if args.quick else 15

    cats = [likelihoods.get(f"toy-lhc-like-cat{c}") for c in (1, 2, 3)]
    joint = dnnlik.combine(cats)
    full = likelihoods.get("toy-lhc-like")
    values = np.round(np.linspace(0.0, 1.0, 11), 10)

    rows: list[tuple[str, str, bool]] = []
    scan_joint, scan_full = interleaved(
        [lambda: infer.tmu_scan(joint, values), lambda: infer.tmu_scan(full, values)], max(2, repeats // 3)
    )
    rows.append(("11-point t_mu scan, 3-member combination", f"{min(scan_joint):.3f} s (< 3 s)", min(scan_joint) < 3.0))
    rows.append(("11-point t_mu scan, full toy (for scale)", f"{min(scan_full):.3f} s", True))
    rng = np.random.default_rng(0)
    for n, calls in ((1, 300), (1_000, 10), (100_000, 1)):
        rows += cost_rows(joint, toy_points(n, rng), calls, repeats, "toy categories")
    rows += machinery_rows(cats, repeats)
    rows += bundle_rows(repeats)
    rows += category_bundle_rows(repeats)

    width = max(len(r[0]) for r in rows)
    print(f"{'what':<{width}}  measured (overhead: median over rounds of the paired ratio; target <= +10%)")
    for what, figure, ok in rows:
        print(f"{what:<{width}}  {figure}  {'PASS' if ok else 'MISS'}")


if __name__ == "__main__":
    main()
