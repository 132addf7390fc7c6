"""Reading and checking what :func:`~dnnlik.likelihoods.from_pyhf` is given: workspace, patch, measurement.

Each defect is one :class:`~dnnlik.errors.InvalidInputError` that names the
problem and where it is (a file, a JSON pointer into the workspace, the
argument): a file that is not bounded JSON (size, depth, duplicate keys); a
workspace or patchset that fails pyhf's schema (pyhf's error, with its
location); a patch that does not apply; a patchset made for another workspace
(pyhf's ``PatchSet.verify``); an unknown patch or measurement name; a
measurement with no parameter of interest, or one no modifier declares, or
fixed, or without the settings pyhf needs for a lumi parameter; numbers that
are NaN or infinite; negative observed counts; a bin whose samples expect a
negative total, or none at all where events were observed; a model pyhf
cannot build (its exception, in one line).

A sample's negative yield in a bin whose total stays positive is accepted, as
pyhf and ROOT's HistFactory accept it (negative-weight simulation).
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import InvalidInputError, MissingExtraError
from ..report import json_pointer, one_line

__all__ = [
    "import_pyhf",
    "read_json",
    "load_workspace",
    "apply_patch",
    "choose_measurement",
    "quiet_schema",
    "MAX_JSON_BYTES",
]

MAX_JSON_BYTES = 512 * 1024 * 1024
"""The largest workspace or patchset file read (published patchsets reach hundreds of MB)."""


def import_pyhf(feature: str = "HistFactory likelihoods") -> ModuleType:
    """pyhf, imported on first use (the core install does not need it).

    Args:
        feature: what needs it, for the message.

    Returns:
        The ``pyhf`` module.

    Raises:
        MissingExtraError: pyhf is not installed.
    """
    try:
        import pyhf
    except ImportError:
        raise MissingExtraError("pyhf", feature) from None
    return pyhf


@contextlib.contextmanager
def quiet_schema() -> Iterator[None]:
    """A context that hides jsonschema's RefResolver deprecation warning, which pyhf 0.7's validation triggers."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*RefResolver is deprecated", category=DeprecationWarning)
        yield


def read_json(value: Any, what: str) -> Any:
    """``value`` itself when it is already parsed (a dict or list, deep-copied), else the JSON file it names.

    Args:
        value: a dict or list, or a path (str or os.PathLike) to a JSON file.
        what: the argument's name, for messages.

    Returns:
        The JSON value.

    Raises:
        InvalidInputError: not a dict, list or path; no such file; a file over
            :data:`MAX_JSON_BYTES`, not UTF-8, not JSON, nested too deep, or with a
            duplicate key.
    """
    if isinstance(value, (Mapping, list)):
        return copy.deepcopy(dict(value) if isinstance(value, Mapping) else value)
    if not isinstance(value, (str, os.PathLike)):
        raise InvalidInputError(
            f"expected a dict, a list or a path to a JSON file, got {type(value).__name__}", where=what
        )
    from ..bundle.document import loads_bounded

    path = Path(value)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise InvalidInputError("is not a file", where=str(path))
        if size > MAX_JSON_BYTES:
            raise InvalidInputError(f"holds {size} bytes, more than the {MAX_JSON_BYTES} read", where=str(path))
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"cannot be read ({exc.strerror or one_line(exc)})", where=str(path)) from None
    parsed = loads_bounded(data, max_bytes=MAX_JSON_BYTES, where=str(path))
    duplicate = _duplicate_key(data)
    if duplicate is not None:
        raise InvalidInputError(f"holds the key {duplicate!r} twice in one object", where=str(path))
    return parsed


def _duplicate_key(data: bytes) -> str | None:
    """The first key found twice in one object (the text is known to be bounded, valid JSON)."""
    found: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> None:
        seen: set[str] = set()
        for key, _ in items:
            if key in seen and not found:
                found.append(key)
            seen.add(key)

    json.loads(data.decode("utf-8-sig"), object_pairs_hook=pairs)
    return found[0] if found else None


def schema_message(exc: Any) -> tuple[str, str]:
    """``(message, JSON pointer)`` of a pyhf ``InvalidSpecification`` (the failing branch of a ``oneOf``)."""
    error = exc.parent
    context = list(getattr(error, "context", None) or [])
    if context:  # a oneOf (modifiers): report the branch whose "type" matched, if exactly one did
        branches: dict[Any, list[Any]] = {}
        for sub in context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        matching = [errs for errs in branches.values() if not any(e.validator == "const" for e in errs)]
        if len(matching) == 1:
            first = matching[0][0]
            return one_line(first.message), json_pointer(first.absolute_path)
    return one_line(error.message), json_pointer(error.absolute_path)


def load_workspace(pyhf: ModuleType, spec: Any, *, where: str = "workspace") -> Any:
    """A ``pyhf.Workspace`` from a JSON value, with pyhf's schema error (if any) relayed.

    Args:
        pyhf: the pyhf module.
        spec: the workspace JSON (already read).
        where: what the messages name.

    Returns:
        The workspace.

    Raises:
        InvalidInputError: not an object, pyhf's schema refuses it, or its numbers are bad.
    """
    if not isinstance(spec, dict):
        raise InvalidInputError(f"a workspace is a JSON object, got {type(spec).__name__}", where=where)
    try:
        with quiet_schema():
            workspace = pyhf.Workspace(spec)
    except pyhf.exceptions.InvalidSpecification as exc:
        message, pointer = schema_message(exc)
        raise InvalidInputError(f"does not follow pyhf's workspace schema: {message}", where=where + pointer) from None
    except (pyhf.exceptions.InvalidWorkspaceOperation, pyhf.exceptions.SchemaNotFound) as exc:
        raise InvalidInputError(f"is not a pyhf workspace: {one_line(exc)}", where=where) from None
    _check_numbers(spec, where)
    return workspace


def _numbers(value: Any, path: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _numbers(item, (*path, key))
    elif isinstance(value, list):
        for k, item in enumerate(value):
            yield from _numbers(item, (*path, k))
    elif isinstance(value, float) or (isinstance(value, int) and not isinstance(value, bool)):
        yield path, value


def _check_numbers(spec: Mapping[str, Any], where: str) -> None:
    """NaN or infinite numbers anywhere; negative counts; bins no sample (or a negative total) expects."""
    for path, number in _numbers({k: spec[k] for k in ("channels", "observations", "measurements") if k in spec}, ()):
        if not math.isfinite(number):
            raise InvalidInputError(f"{number} is not a finite number", where=where + json_pointer(path))
    observed = {o["name"]: o["data"] for o in spec["observations"]}
    for c, channel in enumerate(spec["channels"]):
        name = channel["name"]
        n_bins = len(channel["samples"][0]["data"]) if channel["samples"] else 0
        counts = observed.get(name)
        if counts is None:
            raise InvalidInputError(f"channel {name!r} has no observation", where=where + "/observations")
        if len(counts) != n_bins:
            o = [o["name"] for o in spec["observations"]].index(name)
            raise InvalidInputError(
                f"channel {name!r} has {n_bins} bins but {len(counts)} observed counts",
                where=where + json_pointer(("observations", o, "data")),
            )
        for s, sample in enumerate(channel["samples"]):
            if len(sample["data"]) != n_bins:
                raise InvalidInputError(
                    f"sample {sample['name']!r} has {len(sample['data'])} bins, the channel's first sample {n_bins}",
                    where=where + json_pointer(("channels", c, "samples", s, "data")),
                )
        for k in range(n_bins):
            total = sum(float(sample["data"][k]) for sample in channel["samples"])
            if counts[k] < 0:
                raise InvalidInputError(
                    f"negative observed count {counts[k]} in bin {k} of channel {name!r}", where=where
                )
            if total < 0 or (total == 0 and counts[k] > 0):
                what = (
                    f"negative expected yield {total:g}"
                    if total < 0
                    else f"no expected events but {counts[k]:g} observed"
                )
                raise InvalidInputError(
                    f"{what} in bin {k} of channel {name!r} (the sum of its samples' yields)",
                    where=where + json_pointer(("channels", c)),
                )


def _patch_ops(pyhf: ModuleType, patch: Any) -> tuple[list[Any], dict[str, Any], Any]:
    """``(operations, provenance, patchset or None)`` for any accepted form of ``patch``."""
    if isinstance(patch, pyhf.patchset.Patch):
        return list(patch.patch), {"name": patch.name, "values": list(patch.values)}, None
    if isinstance(patch, tuple):
        if len(patch) != 2:
            raise InvalidInputError("a patchset entry is (patchset, name or values)", where="patch")
        patchset = _patchset(pyhf, patch[0])
        key = patch[1]
        lookup = tuple(key) if isinstance(key, (list, tuple)) else key
        try:
            entry = patchset[lookup]
        except (pyhf.exceptions.InvalidPatchLookup, TypeError):
            names = [p.name for p in patchset.patches]
            raise InvalidInputError(
                f"no patch {key!r} in the patchset; it has {len(names)}: {names[:8]}"
                + (" ..." if len(names) > 8 else ""),
                where="patch",
            ) from None
        info = {"name": entry.name, "values": list(entry.values), "labels": list(patchset.labels)}
        return list(entry.patch), info, patchset
    ops = read_json(patch, "patch")
    if isinstance(ops, dict) and "patches" in ops:
        raise InvalidInputError(
            "this is a patchset: pass patch=(patchset, name or values) to choose one", where="patch"
        )
    if not isinstance(ops, list) or not all(isinstance(op, dict) for op in ops):
        raise InvalidInputError("a JSON patch is a list of operations (objects)", where="patch")
    return ops, {"name": None, "values": None, "operations": len(ops)}, None


def _patchset(pyhf: ModuleType, value: Any) -> Any:
    if isinstance(value, pyhf.patchset.PatchSet):
        return value
    spec = read_json(value, "patchset")
    try:
        with quiet_schema():
            return pyhf.PatchSet(spec)
    except pyhf.exceptions.InvalidSpecification as exc:
        message, pointer = schema_message(exc)
        raise InvalidInputError(
            f"does not follow pyhf's patchset schema: {message}", where="patchset" + pointer
        ) from None
    except (pyhf.exceptions.InvalidPatchSet, AttributeError, KeyError, TypeError) as exc:
        raise InvalidInputError(f"is not a valid patchset: {one_line(exc)}", where="patchset") from None


def apply_patch(pyhf: ModuleType, workspace: Any, patch: Any) -> tuple[Any, dict[str, Any] | None]:
    """The workspace with ``patch`` applied (as a patchset's patches apply: to the whole workspace).

    Args:
        pyhf: the pyhf module.
        workspace: the background-only ``pyhf.Workspace``.
        patch: None; a JSON patch (a list of operations, or the path of a file
            holding one); a ``pyhf.patchset.Patch``; or ``(patchset, key)``, the
            patchset a ``pyhf.patchset.PatchSet``, a dict or a file, the key a
            patch name or its values (a sequence of numbers).

    Returns:
        ``(workspace, provenance)``: the patched workspace, and the patch's name,
        values, patchset labels and the sha256 of its operations (as
        ``pyhf.utils.digest`` computes it); None without a patch.

    Raises:
        InvalidInputError: a bad patch or patchset, an unknown patch, a patchset
            made for another workspace, an operation that does not apply, or a
            patched workspace that pyhf's schema refuses.
    """
    if patch is None:
        return workspace, None
    ops, info, patchset = _patch_ops(pyhf, patch)
    info["sha256"] = pyhf.utils.digest(ops)
    if patchset is not None:
        try:
            patchset.verify(workspace)
        except pyhf.exceptions.PatchSetVerificationError:
            algorithm, expected = next(iter(patchset.digests.items()))
            actual = pyhf.utils.digest(workspace, algorithm=algorithm)
            raise InvalidInputError(
                f"was made for another background-only workspace: its {algorithm} digest is {expected}, "
                f"the workspace's is {actual} (pyhf's PatchSet.verify)",
                where="patchset",
            ) from None
    import jsonpatch
    import jsonpointer

    document = copy.deepcopy(dict(workspace))
    for k, op in enumerate(ops):
        try:
            jsonpatch.JsonPatch([op]).apply(document, in_place=True)
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException, KeyError, IndexError, TypeError) as exc:
            raise InvalidInputError(
                f"operation {k} ({op.get('op')!r} at {op.get('path')!r}) does not apply to the workspace: "
                + one_line(exc),
                where="patch",
            ) from None
    return load_workspace(pyhf, document, where="patched workspace"), info


def choose_measurement(workspace: Any, measurement: str | None) -> Mapping[str, Any]:
    """The measurement named ``measurement`` (default: the first), with a parameter of interest that can be fitted.

    Args:
        workspace: the (patched) ``pyhf.Workspace``.
        measurement: a measurement's name, or None.

    Returns:
        The measurement object.

    Raises:
        InvalidInputError: no such measurement; its POI is empty, declared by no
            modifier, or fixed by the measurement; a lumi parameter it does not
            fully configure.
    """
    names = [m["name"] for m in workspace.get("measurements", [])]
    if measurement is None and names:
        measurement = names[0]
    if measurement not in names:
        raise InvalidInputError(
            f"no measurement {measurement!r} in the workspace; it has: {names}", where="measurement"
        )
    chosen = workspace["measurements"][names.index(measurement)]
    poi = chosen["config"].get("poi", "")
    where = f"measurement {measurement!r}"
    if not poi:
        raise InvalidInputError("names no parameter of interest (config.poi is empty)", where=where)
    declared = {m["name"] for c in workspace["channels"] for s in c["samples"] for m in s["modifiers"]}
    if poi not in declared:
        raise InvalidInputError(
            f"names the parameter of interest {poi!r}, which no modifier of the workspace declares", where=where
        )
    configured = {par.get("name"): par for par in chosen["config"].get("parameters", [])}
    if configured.get(poi, {}).get("fixed"):
        raise InvalidInputError(f"fixes its parameter of interest {poi!r}", where=where)
    lumis = sorted(
        {m["name"] for c in workspace["channels"] for s in c["samples"] for m in s["modifiers"] if m["type"] == "lumi"}
    )
    for lumi in lumis:
        missing = [k for k in ("inits", "bounds", "auxdata", "sigmas") if k not in configured.get(lumi, {})]
        if missing:
            raise InvalidInputError(
                f"does not configure {', '.join(missing)} of the lumi parameter {lumi!r} (pyhf needs its inits, "
                "bounds, auxdata and sigmas)",
                where=where,
            )
    return chosen
