"""Readable summaries of bundles (``dnnlik info``)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .loaded_bundle import Bundle

__all__ = ["describe"]


def _bound(v: float) -> str:
    return "-inf" if v == -math.inf else "+inf" if v == math.inf else f"{v:g}"


def describe(bundle: Bundle, *, max_parameters: int = 12) -> str:
    """Identity, model, output meaning and parameters of a bundle, as text.

    Args:
        bundle: a loaded bundle.
        max_parameters: the most parameters listed (the rest are counted).

    Returns:
        The summary ``dnnlik info`` prints, several lines.
    """
    d = bundle.document
    model = d["model"]
    lines = [
        f"{d['name']} {d['version']}: {d['title']}",
        f"  kind        {d['kind']}   (format {d['format_version']})",
        f"  authors     {', '.join(a['name'] for a in d['authors'])}",
        f"  license     {d['license']}",
    ]
    for ref in d.get("references", []):
        lines.append(
            f"  reference   {ref['type']}:{ref['id']}" + (f"  ({ref['relation']})" if "relation" in ref else "")
        )
    outputs = ", ".join(f"{t['name']} ({t['role']})" for t in model["outputs"])
    lines.append(f"  model       {model['file']}: ONNX opset {model['opset']}, outputs {outputs}")
    if "ensemble" in model:
        lines.append(f"  ensemble    {model['ensemble']['size']} members, {model['ensemble']['combination']}")
    if d["kind"] == "likelihood":
        out = d["output"]
        constraints = "with" if out["includes_constraints"] else "without"
        lines.append(f"  output      {out['quantity']} {constraints} constraint terms, offset {out['offset']:g}")
        if "best_fit" in out:
            lines.append(f"  best fit    logpdf = {out['best_fit']['logpdf']:.6g}")
    verdict = d.get("validation", {}).get("verdict")
    if verdict:
        lines.append(f"  validation  {verdict}")
    if "archive" in d and "doi" in d["archive"]:
        lines.append(f"  DOI         {d['archive']['doi']}")
    params = bundle.parameters
    lines.append(f"  parameters  {len(params)}")
    width = max(len(p.name) for p in params[:max_parameters])
    for p in params[:max_parameters]:
        lines.append(
            f"    {p.name:<{width}}  {p.role:<9} [{_bound(p.lower)}, {_bound(p.upper)}]  nominal {p.nominal:g}"
            + (f"  {p.constraint.type}" if p.constraint.type != "none" else "")
            + (f"  [{p.unit}]" if p.unit else "")
        )
    if len(params) > max_parameters:
        lines.append(f"    ... and {len(params) - max_parameters} more")
    fixed = d.get("fixed_parameters", [])
    if fixed:
        lines.append(f"  fixed       {len(fixed)} (held at their value; not inputs of the model)")
        width = max(len(f["name"]) for f in fixed[:max_parameters])
        for f in fixed[:max_parameters]:
            lines.append(f"    {f['name']:<{width}}  = {f['value']:g}" + (f"  [{f['unit']}]" if f.get("unit") else ""))
        if len(fixed) > max_parameters:
            lines.append(f"    ... and {len(fixed) - max_parameters} more")
    return "\n".join(lines)
