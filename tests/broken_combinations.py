"""A catalog of broken combination files, each with the problem code and a message fragment it must produce.

Every entry is a function ``build(tmp, kit) -> path`` that writes one broken
combination file (and whatever members it needs) under ``tmp`` and returns the
file to hand to ``validate_combination``, ``read_combination``, ``dnnlik
validate`` and ``dnnlik combine``. ``kit`` holds two valid Gaussian bundles
built once (``a``: mu, theta_1; ``b``: mu, theta_1, theta_2), which entries copy
or rebuild with edits, never modify. Pins are computed (:func:`pin`) unless the
entry is about a pin, so that the intended defect, not a digest mismatch, is
what each entry shows.

A plain module (not collected by pytest); tests/test_broken_combinations.py
runs every entry.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dnnlik.bundle.write import write_bundle
from dnnlik.combine.pins import pin

__all__ = ["BrokenCombination", "CATALOG", "Kit", "write_file", "member"]


@dataclass(frozen=True)
class Kit:
    """Valid member bundles built once per session (do not modify: copy them)."""

    a: Path
    b: Path

    def copy(self, which: str, tmp: Path, name: str | None = None) -> Path:
        """A private copy of bundle ``which`` ("a" or "b") under ``tmp``."""
        dest = tmp / (name or which)
        shutil.copytree(getattr(self, which), dest)
        return dest

    def edited(self, which: str, tmp: Path, name: str, edit: Callable[[dict[str, Any]], None]) -> Path:
        """Bundle ``which`` rebuilt at ``tmp/name`` with ``edit`` applied to its document (digests recomputed)."""
        source = getattr(self, which)
        document = json.loads((source / "bundle.json").read_text(encoding="utf-8"))
        edit(document)
        write_bundle(tmp / name, document, {"model.onnx": (source / "model.onnx").read_bytes()})
        return tmp / name


Builder = Callable[[Path, Kit], Path]


@dataclass(frozen=True)
class BrokenCombination:
    """One broken combination file: how to build it, the problem code it must produce, a fragment of its message."""

    name: str
    code: str
    fragment: str
    build: Builder
    about: str

    def __str__(self) -> str:  # pytest ids
        return self.name


CATALOG: list[BrokenCombination] = []


def broken(name: str, code: str, fragment: str) -> Callable[[Builder], Builder]:
    """Register ``build`` under ``name``: it must produce problem ``code`` with ``fragment`` in its message."""

    def register(build: Builder) -> Builder:
        CATALOG.append(BrokenCombination(name, code, fragment, build, (build.__doc__ or "").strip()))
        return build

    return register


# helpers ---------------------------------------------------------------------


def member(name: str, source: str, base: Path, **extra: Any) -> dict[str, Any]:
    """A member entry, pinned by the digest of ``source`` (relative to ``base``) unless ``extra`` gives one."""
    entry = {"name": name, "source": source, **extra}
    if "document_sha256" not in entry:
        entry["document_sha256"] = pin(source, base)
    return entry


def write_file(path: Path, members: list[dict[str, Any]], **fields: Any) -> Path:
    """A combination file at ``path``: ``members`` and the fields given (``poi`` defaults to ["mu"])."""
    document = {"combination_format": "1.0.0", "name": "broken", "members": members, "poi": ["mu"], **fields}
    path.write_text(json.dumps(document, indent=1), encoding="utf-8")
    return path


def pair(tmp: Path, kit: Kit, second: Path | None = None, **fields: Any) -> Path:
    """``a`` and a second member (default a copy of ``b``) combined in ``tmp/combination.json``."""
    kit.copy("a", tmp)
    second = second if second is not None else kit.copy("b", tmp)
    members = [member("a", "a", tmp), member("b", second.name, tmp)]
    return write_file(tmp / "combination.json", members, **fields)


def set_parameter(index: int, **values: Any) -> Callable[[dict[str, Any]], None]:
    def edit(document: dict[str, Any]) -> None:
        document["parameters"][index].update(values)

    return edit


# same-named parameters that disagree ----------------------------------------------


@broken("constraint-conflict", "combination:conflict", "disagree on the constraint of parameter 'theta_1'")
def constraint_conflict(tmp: Path, kit: Kit) -> Path:
    """b's theta_1 declares a normal constraint, a's none."""
    return pair(
        tmp, kit, kit.edited("b", tmp, "b", set_parameter(1, constraint={"type": "normal", "mean": 0.0, "sigma": 1.0}))
    )


@broken("role-conflict", "combination:conflict", "disagree on the role of parameter 'theta_1'")
def role_conflict(tmp: Path, kit: Kit) -> Path:
    """b's theta_1 is an auxiliary parameter, a's a nuisance."""
    return pair(tmp, kit, kit.edited("b", tmp, "b", set_parameter(1, role="auxiliary")))


@broken("bounds-conflict", "combination:conflict", "disagree on the bounds of parameter 'theta_1'")
def bounds_conflict(tmp: Path, kit: Kit) -> Path:
    """b's theta_1 has bounds [-5, 5], a's [-10, 10] (bounds: strict)."""
    return pair(tmp, kit, kit.edited("b", tmp, "b", set_parameter(1, bounds=[-5.0, 5.0], training_range=[-4.0, 4.0])))


@broken("unit-conflict", "combination:conflict", "disagree on the unit of parameter 'mu'")
def unit_conflict(tmp: Path, kit: Kit) -> Path:
    """a's mu is in pb, b's in fb."""
    kit.edited("a", tmp, "a", set_parameter(0, unit="pb"))
    second = kit.edited("b", tmp, "b", set_parameter(0, unit="fb"))
    members = [member("a", "a", tmp), member("b", second.name, tmp)]
    return write_file(tmp / "combination.json", members)


@broken("rename-collision", "combination:rename", "member 'a' would both be called 'mu'")
def rename_collision(tmp: Path, kit: Kit) -> Path:
    """a renames theta_1 to mu, which it already has."""
    kit.copy("a", tmp)
    kit.copy("b", tmp)
    members = [member("a", "a", tmp, renames={"theta_1": "mu"}), member("b", "b", tmp)]
    return write_file(tmp / "combination.json", members)


@broken("rename-unknown-parameter", "combination:rename", "member 'a' has no parameter 'lumi'")
def rename_unknown(tmp: Path, kit: Kit) -> Path:
    """a renames a parameter it does not have."""
    kit.copy("a", tmp)
    kit.copy("b", tmp)
    members = [member("a", "a", tmp, renames={"lumi": "lumi_2016"}), member("b", "b", tmp)]
    return write_file(tmp / "combination.json", members)


@broken("separate-unknown", "combination:separate", "no member has a parameter 'lumi'")
def separate_unknown(tmp: Path, kit: Kit) -> Path:
    """separate names a parameter no member has."""
    return pair(tmp, kit, separate=["lumi"])


# members: missing, pinned wrong, invalid, not a likelihood ------------------------------


@broken("missing-member", "member:missing", "member 'b' (nowhere)")
def missing_member(tmp: Path, kit: Kit) -> Path:
    """b's source does not exist."""
    kit.copy("a", tmp)
    members = [member("a", "a", tmp), member("b", "nowhere", tmp, document_sha256="0" * 64)]
    return write_file(tmp / "combination.json", members)


@broken("unknown-zoo-entry", "member:missing", "no zoo entry 'no-such-entry'")
def unknown_zoo_entry(tmp: Path, kit: Kit) -> Path:
    """b names a zoo entry that does not exist."""
    kit.copy("a", tmp)
    members = [member("a", "a", tmp), member("b", "zoo:no-such-entry", tmp, document_sha256="0" * 64)]
    return write_file(tmp / "combination.json", members)


@broken("digest-mismatch", "member:digest-mismatch", "member 'b' (b): pinned document_sha256 " + "0" * 64)
def digest_mismatch(tmp: Path, kit: Kit) -> Path:
    """b's pin is not its digest."""
    kit.copy("a", tmp)
    kit.copy("b", tmp)
    members = [member("a", "a", tmp), member("b", "b", tmp, document_sha256="0" * 64)]
    return write_file(tmp / "combination.json", members)


@broken("invalid-member", "member:invalid", "member 'b' (b) is not a valid bundle")
def invalid_member(tmp: Path, kit: Kit) -> Path:
    """b's model.onnx was altered after it was written (bundle.json, and so the pin, intact)."""
    path = pair(tmp, kit)
    model = tmp / "b" / "model.onnx"
    model.write_bytes(model.read_bytes() + b"\0")
    return path


def _classifier(document: dict[str, Any]) -> None:
    document["kind"] = "classifier"
    document["classifier"] = {
        "features": [{"name": "x"}],
        "score": {"meaning": "other"},
        "statistical_model": {"type": "other"},
    }
    document["model"]["outputs"][0]["role"] = "score"
    document["model"]["outputs"][1]["role"] = "other"


@broken("non-likelihood-member", "member:not-likelihood", "member 'b' (b) is a 'classifier' bundle")
def non_likelihood(tmp: Path, kit: Kit) -> Path:
    """b is a valid bundle of kind classifier."""
    return pair(tmp, kit, kit.edited("b", tmp, "b", _classifier))


@broken("json-member-not-a-combination", "member:not-a-combination", "member 'b' (b.json)")
def json_member(tmp: Path, kit: Kit) -> Path:
    """b's source ends in .json but is not a combination file."""
    kit.copy("a", tmp)
    (tmp / "b.json").write_text('{"format_version": "1.1.0"}', encoding="utf-8")
    members = [member("a", "a", tmp), member("b", "b.json", tmp, document_sha256="0" * 64)]
    return write_file(tmp / "combination.json", members)


# nesting: cycles, depth ---------------------------------------------------------


@broken("cycle", "member:cycle", "first.json -> ")
def cycle(tmp: Path, kit: Kit) -> Path:
    """first.json includes second.json, which includes first.json (that pin cannot be right; cycles are found first)."""
    kit.copy("a", tmp)
    back = member("back", "first.json", tmp, document_sha256="1" * 64)
    write_file(tmp / "second.json", [member("a", "a", tmp), back])
    return write_file(tmp / "first.json", [member("next", "second.json", tmp)])  # pinned right: second.json is read


@broken("self-reference", "member:cycle", "member 'itself' (self.json) makes a cycle")
def self_reference(tmp: Path, kit: Kit) -> Path:
    """self.json includes itself."""
    kit.copy("a", tmp)
    return write_file(
        tmp / "self.json", [member("a", "a", tmp), member("itself", "self.json", tmp, document_sha256="3" * 64)]
    )


@broken("nesting-too-deep", "member:too-deep", "nest more than 8 deep")
def nesting_too_deep(tmp: Path, kit: Kit) -> Path:
    """Nine combination files, each nesting the next, correctly pinned."""
    kit.copy("a", tmp)
    write_file(tmp / "level8.json", [member("a", "a", tmp)])
    for level in range(7, -1, -1):
        write_file(tmp / f"level{level}.json", [member("inner", f"level{level + 1}.json", tmp)])
    return tmp / "level0.json"


# the file itself ---------------------------------------------------------------


@broken("unknown-top-level-key", "schema:additionalProperties", "'lumi_scale'")
def unknown_key(tmp: Path, kit: Kit) -> Path:
    """A top-level key the format does not have."""
    return pair(tmp, kit, lumi_scale=1.02)


@broken("wrong-format", "schema:format-version", "combination_format '2.0.0'")
def wrong_format(tmp: Path, kit: Kit) -> Path:
    """combination_format 2.0.0, which this reader does not know."""
    return pair(tmp, kit, combination_format="2.0.0")


@broken("duplicate-member-names", "combination:duplicate-member", "both named 'a'")
def duplicate_member_names(tmp: Path, kit: Kit) -> Path:
    """Two members named a."""
    kit.copy("a", tmp)
    kit.copy("b", tmp)
    return write_file(tmp / "combination.json", [member("a", "a", tmp), member("a", "b", tmp)])


@broken("document-digest", "combination:document-digest", "document_sha256 is " + "4" * 64)
def own_digest(tmp: Path, kit: Kit) -> Path:
    """The file's own document_sha256 is not its digest."""
    return pair(tmp, kit, document_sha256="4" * 64)


@broken("duplicate-json-key", "json:duplicate-key", "key 'name' appears more than once")
def duplicate_key(tmp: Path, kit: Kit) -> Path:
    """The top-level object has "name" twice."""
    path = pair(tmp, kit)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('"name": "broken"', '"name": "broken", "name": "other"', 1), encoding="utf-8")
    return path


@broken("huge-file", "json:too-large", "the limit of a combination file")
def huge_file(tmp: Path, kit: Kit) -> Path:
    """A combination file of 16 MiB and one byte (white space after a valid document)."""
    path = pair(tmp, kit)
    with path.open("ab") as f:
        f.write(b" " * (16 * 1024 * 1024))
    return path


@broken("too-deep-json", "json:too-deep", "more than 64 deep")
def too_deep_json(tmp: Path, kit: Kit) -> Path:
    """An extension key holding arrays nested 100 deep."""
    path = pair(tmp, kit)
    text = path.read_text(encoding="utf-8")
    path.write_text(text[:-1] + ', "x-deep": ' + "[" * 100 + "]" * 100 + "}", encoding="utf-8")
    return path


@broken("poi-unknown", "poi:unknown", "no parameter 'nu'")
def poi_unknown(tmp: Path, kit: Kit) -> Path:
    """poi names a parameter the combination does not have."""
    return pair(tmp, kit, poi=["nu"])


# the reinterpretation mapping ----------------------------------------------------------


def _mapping(strengths: dict[str, Any], bounds: list[float] | None = None) -> dict[str, Any]:
    return {
        "parameters": [{"name": "m", "bounds": bounds or [200.0, 1000.0], "nominal": 500.0}],
        "tables": {"ratio": {"inputs": ["m"], "grid": [[200.0, 600.0, 1000.0]], "values": [2.0, 0.6, 0.3]}},
        "signal_strengths": strengths,
    }


@broken("mapping-unknown-parameter", "reinterpretation:invalid", "'h'")
def mapping_unknown_parameter(tmp: Path, kit: Kit) -> Path:
    """The signal strength of mu reads a parameter h that the mapping does not declare."""
    strengths = {"mu": {"product": [{"table": "ratio"}, {"power": ["h", 2]}]}}
    return pair(tmp, kit, reinterpretation=_mapping(strengths), poi=["m"])


@broken("mapping-unmapped-poi", "reinterpretation:invalid", "'mu'")
def mapping_unmapped_poi(tmp: Path, kit: Kit) -> Path:
    """The mapping gives theta_1 a signal strength and leaves the POI mu unmapped."""
    return pair(tmp, kit, reinterpretation=_mapping({"theta_1": {"table": "ratio"}}), poi=["m"])


@broken("table-outside-grid", "reinterpretation:invalid", "table 'ratio' is tabulated for m")
def table_outside_grid(tmp: Path, kit: Kit) -> Path:
    """m's bounds [100, 1000] reach below the grid of the table that reads it (200 to 1000)."""
    return pair(tmp, kit, reinterpretation=_mapping({"mu": {"table": "ratio"}}, [100.0, 1000.0]), poi=["m"])
