"""The spec's JSON Schemas, loaded offline, and schema validation as a list of problems.

The schema files have one copy in the repository, ``spec/schemas/<version>/``.
A wheel carries them as ``dnnlik/_spec/schemas`` (see ``pyproject.toml``); a
source checkout reads them from ``spec/`` directly. Every ``$ref`` resolves
through a local :class:`referencing.Registry`: nothing is fetched.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

from ..errors import DnnlikError
from ..report import Problem, json_pointer

__all__ = [
    "SUPPORTED_VERSIONS",
    "LATEST_VERSION",
    "schema_root",
    "bundle_schema_id",
    "registry",
    "validator",
    "iter_schema_problems",
    "is_relative_path",
]

SUPPORTED_VERSIONS = ("1.0.0", "1.1.0")
LATEST_VERSION = SUPPORTED_VERSIONS[-1]
_BASE_ID = "https://schemas.dnnlik.org/bundle/{version}/"


def schema_root() -> Path:
    """Folder that holds one sub-folder of schema files per format version."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "_spec" / "schemas", here.parent / "spec" / "schemas"):
        if (candidate / LATEST_VERSION / "bundle.schema.json").is_file():
            return candidate
    raise DnnlikError("the bundle schemas are missing from this installation (dnnlik/_spec/schemas)")


def bundle_schema_id(version: str = LATEST_VERSION) -> str:
    """The stable ``$id`` of a version's top-level bundle schema."""
    return _BASE_ID.format(version=version) + "bundle.schema.json"


@lru_cache(maxsize=None)
def registry() -> Any:
    """A :class:`referencing.Registry` holding every schema file of every supported version."""
    from referencing import Registry, Resource

    resources = []
    for version in SUPPORTED_VERSIONS:
        for path in sorted((schema_root() / version).glob("*.schema.json")):
            contents = json.loads(path.read_text(encoding="utf-8"))
            resources.append((contents["$id"], Resource.from_contents(contents)))
    return Registry().with_resources(resources).crawl()


@lru_cache(maxsize=None)
def validator(version: str = LATEST_VERSION) -> Any:
    """A Draft 2020-12 validator for ``bundle.json`` documents of ``version``."""
    from jsonschema import Draft202012Validator

    schema = registry().contents(bundle_schema_id(version))
    return Draft202012Validator(schema, registry=registry())


def is_relative_path(name: str, version: str = LATEST_VERSION) -> bool:
    """Whether ``name`` is a valid bundle file name (the spec's ``relative_path``)."""
    import re

    spec = registry().contents(_BASE_ID.format(version=version) + "defs.schema.json")["$defs"]["relative_path"]
    return isinstance(name, str) and len(name) <= spec["maxLength"] and re.fullmatch(spec["pattern"], name) is not None


def iter_schema_problems(document: Any, version: str = LATEST_VERSION, file: str = "bundle.json") -> Iterator[Problem]:
    """Every schema violation of ``document``, each located by a JSON pointer."""
    errors = sorted(validator(version).iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    for error in errors:
        for leaf in _leaves(error):
            pointer = json_pointer(leaf.absolute_path)
            yield Problem(f"schema:{leaf.validator}", _message(leaf), f"{file}#{pointer}" if pointer else file)


def _leaves(error: Any) -> list[Any]:
    """For anyOf/oneOf failures, the sub-errors that say the most; else the error itself."""
    if error.validator in ("anyOf", "oneOf") and error.context:
        deepest = max(len(e.absolute_path) for e in error.context)
        best = [e for e in error.context if len(e.absolute_path) == deepest and e.validator != "type"]
        return best[:1] or [error]
    return [error]


def _message(error: Any) -> str:
    if error.validator == "additionalProperties":
        return error.message.replace("were unexpected", "are not allowed here").replace(
            "was unexpected", "is not allowed here"
        )
    if error.validator == "const" and error.absolute_path and error.absolute_path[-1] == "format_version":
        return f"format_version must be {error.validator_value!r}, got {error.instance!r}"
    message = error.message
    return message if len(message) <= 300 else message[:297] + "..."
