"""Writing a combination file from Python, its members' pins computed.

>>> import tempfile, pathlib, shutil
>>> from dnnlik.examples import build_gaussian_bundle
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = build_gaussian_bundle(folder / "a", dim=2)
>>> _ = build_gaussian_bundle(folder / "b", dim=3)
>>> doc = write_combination(folder / "ab.json", [{"name": "a", "source": "a"}, {"name": "b", "source": "b"}],
...                         name="ab", poi=["mu"])
>>> from dnnlik.combine.file import load_combination
>>> load_combination(folder / "ab.json").parameter_names
('mu', 'theta_1', 'theta_2')
>>> doc["members"][1]["document_sha256"] == pin("b", base=folder)
True
>>> shutil.rmtree(folder)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError
from ..fsutil import atomic_write_text, refuse_existing
from ..schema import COMBINATION_VERSIONS, iter_schema_problems
from .file import read_combination
from .pins import combination_digest, pin

__all__ = ["write_combination", "combination_document", "FORMAT_VERSION"]

FORMAT_VERSION = COMBINATION_VERSIONS[-1]
"""The ``combination_format`` this module writes."""

_MEMBER_KEYS = ("name", "source", "document_sha256", "renames", "description")


def _member_entry(item: Any, i: int, base: Path) -> dict[str, Any]:
    where = f"members[{i}]"
    if not isinstance(item, Mapping):
        raise InvalidInputError(f"must be a mapping with name and source, got {type(item).__name__}", where=where)
    unknown = [k for k in item if k not in _MEMBER_KEYS and not str(k).startswith("x-")]
    if unknown:
        raise InvalidInputError(f"unknown key {unknown[0]!r}; a member has {', '.join(_MEMBER_KEYS)}", where=where)
    for key in ("name", "source"):
        if not isinstance(item.get(key), str) or not item[key]:
            raise InvalidInputError(f"{key} must be a non-empty string, got {item.get(key)!r}", where=where)
    entry = dict(item)
    digest = pin(item["source"], base)
    given = item.get("document_sha256")
    if given is not None and given != digest:
        raise InvalidInputError(
            f"the pin given, {given}, is not {item['source']!r}'s digest {digest}", where=f"{where}.document_sha256"
        )
    entry["document_sha256"] = digest
    return entry


def combination_document(
    members: Sequence[Mapping[str, Any]],
    *,
    name: str,
    poi: Sequence[str] | str,
    base: str | os.PathLike[str] = ".",
    description: str | None = None,
    separate: Sequence[str] = (),
    bounds: str = "strict",
    reinterpretation: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A combination file's document, each member pinned and the document's own digest added.

    Args:
        members: ``{"name", "source"}`` mappings, with ``renames`` ``{old: new}``,
            ``description`` and ``x-`` keys if wanted (a ``document_sha256`` given
            must be the source's).
        name: the combination's name (lower-case letters, digits, ``.``, ``_``, ``-``).
        poi: the parameters of interest of the result, the default one first.
        base: the folder of the file-to-be (relative sources start from it).
        description: free text.
        separate: names (after renames) whose copies stay apart.
        bounds: ``"strict"`` or ``"intersect"``.
        reinterpretation: the mapping section (spec/combination.md, section 3).

    Returns:
        The document, schema-valid.

    Raises:
        InvalidInputError: a member is malformed or cannot be pinned (missing, unreadable),
            or the document breaks the schema (the first problem, with its JSON pointer).
    """
    if not isinstance(members, Sequence) or isinstance(members, (str, bytes)):
        raise InvalidInputError(f"must be a list of members, got {type(members).__name__}", where="members")
    base = Path(base)
    document: dict[str, Any] = {"combination_format": FORMAT_VERSION, "name": name}
    if description is not None:
        document["description"] = description
    document["members"] = [_member_entry(item, i, base) for i, item in enumerate(members)]
    if separate:
        document["separate"] = [separate] if isinstance(separate, str) else list(separate)
    document["bounds"] = bounds
    document["poi"] = [poi] if isinstance(poi, str) else list(poi)
    if reinterpretation is not None:
        document["reinterpretation"] = dict(reinterpretation)
    for problem in iter_schema_problems(document, FORMAT_VERSION, "document", family="combination"):
        raise InvalidInputError(f"{problem.message} [{problem.code}]", where=problem.location)
    document["document_sha256"] = combination_digest(document)
    return document


def write_combination(
    path: str | os.PathLike[str],
    members: Sequence[Mapping[str, Any]],
    *,
    name: str,
    poi: Sequence[str] | str,
    description: str | None = None,
    separate: Sequence[str] = (),
    bounds: str = "strict",
    reinterpretation: Mapping[str, Any] | None = None,
    check: bool = True,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Write a combination file at ``path``, atomically, with every member's pin computed.

    Relative sources are relative to ``path``'s folder, as a reader takes them.

    Args:
        path: the file to write (a ``.json`` name; its folder must exist).
        members: as :func:`combination_document` takes them.
        name: the combination's name.
        poi: the parameters of interest, the default one first.
        description: free text.
        separate: names (after renames) whose copies stay apart.
        bounds: ``"strict"`` or ``"intersect"``.
        reinterpretation: the mapping section.
        check: load the combination first, as a reader will (members validated, the
            result built): a file that would not load is not written.
        overwrite: replace an existing file.

    Returns:
        The document written.

    Raises:
        OutputExistsError: ``path`` exists and ``overwrite`` is false.
        InvalidInputError: ``path`` does not end in ``.json``, or the document is not
            valid (as :func:`combination_document`, and with ``check`` as
            :func:`~dnnlik.combine.file.read_combination`); nothing is written.
        InvalidBundleError: with ``check``, a member is not a valid bundle.
        DnnlikError: the file cannot be written.
    """
    path = Path(path)
    if not path.name.lower().endswith(".json"):
        raise InvalidInputError("a combination file's name must end in .json", where=str(path))
    refuse_existing(path, overwrite)
    document = combination_document(
        members,
        name=name,
        poi=poi,
        base=path.parent,
        description=description,
        separate=separate,
        bounds=bounds,
        reinterpretation=reinterpretation,
    )
    if check:
        read_combination(path, document)
    atomic_write_text(path, json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    return document
