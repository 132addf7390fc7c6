"""The spec's JSON Schemas, loaded offline, and schema validation as a list of problems.

The schema files have one copy in the repository: ``spec/schemas/<version>/``
for the bundle format, ``spec/schemas/combination/<version>/`` for combination
files (:mod:`dnnlik.combine.file`).
A wheel carries them as ``dnnlik/_spec/schemas`` (see ``pyproject.toml``); a
source checkout reads them from ``spec/`` directly. Every ``$ref`` resolves
through a local :class:`referencing.Registry`: nothing is fetched.

JSON Schema patterns are ECMA-262 regular expressions. Python's ``re`` reads the
same text with other meanings (``$`` matches before a final newline, ``\\d``
matches Arabic-Indic digits), so validation runs on a copy of the schemas whose
``pattern`` and ``patternProperties`` regexes are translated to Python patterns
with the ECMA meaning (:mod:`dnnlik.schema.ecma`); :func:`registry` keeps the
files as written.

Documents nested deeper than :data:`dnnlik.digest.MAX_JSON_DEPTH` (64) are
refused (``json:too-deep``) before the schema sees them: the validator recurses
once per level.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from ..digest import MAX_JSON_DEPTH
from ..errors import DnnlikError
from ..report import Problem, json_pointer
from . import ecma

__all__ = [
    "SUPPORTED_VERSIONS",
    "LATEST_VERSION",
    "COMBINATION_VERSIONS",
    "schema_root",
    "bundle_schema_id",
    "combination_schema_id",
    "registry",
    "validator",
    "iter_schema_problems",
    "is_relative_path",
    "matches_pattern",
    "matches_string_rule",
]

SUPPORTED_VERSIONS = ("1.0.0", "1.1.0")
LATEST_VERSION = SUPPORTED_VERSIONS[-1]
_BASE_ID = "https://schemas.dnnlik.org/bundle/{version}/"

COMBINATION_VERSIONS = ("1.0.0",)
"""The versions of the combination file format (``combination_format``) dnnlik reads and writes."""
_COMBINATION_BASE_ID = "https://schemas.dnnlik.org/combination/{version}/"


def schema_root() -> Path:
    """Folder that holds one sub-folder of schema files per format version.

    Returns:
        ``dnnlik/_spec/schemas`` of an installed package, else ``spec/schemas`` of a source checkout.

    Raises:
        DnnlikError: neither holds the latest version's ``bundle.schema.json``.
    """
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "_spec" / "schemas", here.parent / "spec" / "schemas"):
        if (candidate / LATEST_VERSION / "bundle.schema.json").is_file():
            return candidate
    raise DnnlikError("the bundle schemas are missing from this installation (dnnlik/_spec/schemas)")


def bundle_schema_id(version: str = LATEST_VERSION) -> str:
    """The stable ``$id`` of a version's top-level bundle schema.

    >>> bundle_schema_id("1.0.0")
    'https://schemas.dnnlik.org/bundle/1.0.0/bundle.schema.json'

    Args:
        version: a format version (not checked against :data:`SUPPORTED_VERSIONS`).

    Returns:
        The URI (an identifier: nothing is fetched from it).
    """
    return _BASE_ID.format(version=version) + "bundle.schema.json"


def combination_schema_id(version: str = COMBINATION_VERSIONS[-1]) -> str:
    """The stable ``$id`` of a version's top-level combination-file schema.

    >>> combination_schema_id("1.0.0")
    'https://schemas.dnnlik.org/combination/1.0.0/combination.schema.json'

    Args:
        version: a combination format version (not checked against :data:`COMBINATION_VERSIONS`).

    Returns:
        The URI (an identifier: nothing is fetched from it).
    """
    return _COMBINATION_BASE_ID.format(version=version) + "combination.schema.json"


def _schema_files() -> list[tuple[str, Path]]:
    """``(label, path)`` of every schema file: each bundle version's, then each combination version's."""
    root = schema_root()
    folders = [(v, root / v) for v in SUPPORTED_VERSIONS]
    folders += [(f"combination/{v}", root / "combination" / v) for v in COMBINATION_VERSIONS]
    return [
        (f"{label}/{path.name}", path) for label, folder in folders for path in sorted(folder.glob("*.schema.json"))
    ]


@cache
def registry() -> Any:
    """A :class:`referencing.Registry` holding every schema file of every supported version.

    Both families: the bundle format's and the combination file format's.

    The files as written (ECMA-262 patterns untranslated); built once, then cached.

    Returns:
        The registry, keyed by each schema's ``$id``.

    Raises:
        DnnlikError: the schema files are missing (as :func:`schema_root`).
    """
    from referencing import Registry, Resource

    resources = []
    for _, path in _schema_files():
        contents = json.loads(path.read_text(encoding="utf-8"))
        resources.append((contents["$id"], Resource.from_contents(contents)))
    return Registry().with_resources(resources).crawl()


# Keywords of draft 2020-12 whose value is a schema, a list of schemas, or a map of names to schemas.
_SUBSCHEMA = (
    "additionalProperties",
    "items",
    "contains",
    "not",
    "if",
    "then",
    "else",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
    "contentSchema",
)
_SUBSCHEMA_LIST = ("allOf", "anyOf", "oneOf", "prefixItems")
_SUBSCHEMA_MAP = ("properties", "$defs", "definitions", "dependentSchemas")
_ORIGINAL_PATTERN: dict[str, str] = {}  # translated -> as written in the schema file


def _ecma_schema(schema: Any, where: str) -> Any:
    """A copy of ``schema`` whose patterns are Python regexes with their ECMA-262 meaning."""
    if not isinstance(schema, dict):
        return schema

    def translated(pattern: str) -> str:
        try:
            out = ecma.translate(pattern)
        except ecma.UnsupportedPatternError as exc:
            raise DnnlikError(
                f"schema {where} holds a pattern dnnlik cannot run with its ECMA-262 meaning: {exc}"
            ) from None
        _ORIGINAL_PATTERN[out] = pattern
        return out

    out = dict(schema)
    for key, value in schema.items():
        if key == "pattern" and isinstance(value, str):
            out[key] = translated(value)
        elif key == "patternProperties" and isinstance(value, dict):
            out[key] = {translated(k): _ecma_schema(v, where) for k, v in value.items()}
        elif key in _SUBSCHEMA:
            out[key] = _ecma_schema(value, where)
        elif key in _SUBSCHEMA_LIST and isinstance(value, list):
            out[key] = [_ecma_schema(v, where) for v in value]
        elif key in _SUBSCHEMA_MAP and isinstance(value, dict):
            out[key] = {k: _ecma_schema(v, where) for k, v in value.items()}
    return out


@cache
def _ecma_registry() -> Any:
    """:func:`registry` with every pattern translated to Python with its ECMA-262 meaning."""
    from referencing import Registry, Resource

    resources = []
    for label, path in _schema_files():
        contents = _ecma_schema(json.loads(path.read_text(encoding="utf-8")), label)
        resources.append((contents["$id"], Resource.from_contents(contents)))
    return Registry().with_resources(resources).crawl()


@cache
def validator(version: str = LATEST_VERSION, *, family: str = "bundle") -> Any:
    """A Draft 2020-12 validator for ``bundle.json`` documents of ``version``, with ECMA-262 patterns.

    With ``family="combination"``, for combination files of that ``combination_format`` instead.

    It validates against translated copies of the schemas (see :func:`_ecma_registry`), so that
    every keyword that reads a pattern (``pattern``, ``patternProperties``, and through them
    ``additionalProperties``, ``unevaluatedProperties``, ``propertyNames``) has the ECMA meaning,
    whichever validator class jsonschema picks after a ``$ref``.

    Args:
        version: one of :data:`SUPPORTED_VERSIONS` (of :data:`COMBINATION_VERSIONS` for combination files).
        family: ``"bundle"`` or ``"combination"``.

    Returns:
        A ``jsonschema.Draft202012Validator`` (cached per version and family).

    Raises:
        DnnlikError: the schema files are missing, or hold a pattern that cannot
            be run with its ECMA-262 meaning.
    """
    from jsonschema import Draft202012Validator

    schema_id = combination_schema_id(version) if family == "combination" else bundle_schema_id(version)
    schema = _ecma_registry().contents(schema_id)
    return Draft202012Validator(schema, registry=_ecma_registry())


def matches_pattern(pattern: str, value: Any) -> bool:
    """Whether ``value`` is a string that JSON Schema's ``pattern`` keyword accepts (ECMA-262 meaning).

    >>> matches_pattern("^[a-z]+$", "abc"), matches_pattern("^[a-z]+$", "abc\\n"), matches_pattern("^a", 1)
    (True, False, False)

    Args:
        pattern: an ECMA-262 regular expression, searched (not anchored unless it says so).
        value: the instance.

    Returns:
        False for a value that is not a string.

    Raises:
        UnsupportedPatternError: ``pattern`` is not ECMA-262 syntax, or uses a construct
            dnnlik does not translate (:mod:`dnnlik.schema.ecma`).
    """
    return isinstance(value, str) and ecma.search(pattern, value)


def matches_string_rule(where: str, value: Any, version: str = LATEST_VERSION) -> bool:
    """Whether ``value`` passes the string rule (pattern, lengths) of the schema at ``where``.

    ``where`` is ``"<file>#<JSON pointer>"`` inside a version's schema files, e.g.
    ``"defs.schema.json#/$defs/identifier"``; writers check names with the spec's own rule,
    so that there is one copy of each pattern.

    >>> matches_string_rule("defs.schema.json#/$defs/identifier", "toy-lhc-like")
    True
    >>> matches_string_rule("defs.schema.json#/$defs/identifier", "toy\\n")
    False

    Args:
        where: the rule's place in the schema files.
        value: the instance (a non-string fails).
        version: one of :data:`SUPPORTED_VERSIONS`.

    Returns:
        Whether ``value`` is a string within the rule's ``minLength``/``maxLength`` that matches its ``pattern``.

    Raises:
        KeyError: ``where`` names no node of the schema files.
    """
    file, _, pointer = where.partition("#")
    node: Any = registry().contents(_BASE_ID.format(version=version) + file)
    for part in [p for p in pointer.split("/") if p]:
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return (
        isinstance(value, str)
        and node.get("minLength", 0) <= len(value) <= node.get("maxLength", len(value))
        and ("pattern" not in node or matches_pattern(node["pattern"], value))
    )


def is_relative_path(name: str, version: str = LATEST_VERSION) -> bool:
    """Whether ``name`` is a valid bundle file name (the spec's ``relative_path``).

    >>> is_relative_path("model.onnx"), is_relative_path("../model.onnx")
    (True, False)

    Args:
        name: a path inside a bundle, ``/``-separated.
        version: one of :data:`SUPPORTED_VERSIONS`.

    Returns:
        Whether the spec's ``relative_path`` rule (length and pattern) accepts it.
    """
    spec = registry().contents(_BASE_ID.format(version=version) + "defs.schema.json")["$defs"]["relative_path"]
    return (
        isinstance(name, str)
        and spec.get("minLength", 0) <= len(name) <= spec["maxLength"]
        and matches_pattern(spec["pattern"], name)
    )


def _too_deep(document: Any, limit: int) -> list[Any] | None:
    """Path to the first array or object nested deeper than ``limit`` (the top one is depth 1); None if none.

    Linear time, no recursion: a breadth-first pass, level by level, keeping only containers;
    the path is looked for (depth first, in document order) only when there is one.
    """
    containers = (dict, list, tuple)
    level = [document] if isinstance(document, containers) else []
    for _ in range(limit):
        level = [v for x in level for v in (x.values() if isinstance(x, dict) else x) if isinstance(v, containers)]
    if not level:
        return None
    path: list[Any] = []
    stack = [iter(document.items()) if isinstance(document, dict) else enumerate(document)]
    while stack and len(stack) <= limit:
        for key, item in stack[-1]:
            if isinstance(item, containers):
                path.append(key)
                stack.append(iter(item.items()) if isinstance(item, dict) else enumerate(item))
                break
        else:
            stack.pop()
            if path:
                path.pop()
    return path


def iter_schema_problems(
    document: Any, version: str = LATEST_VERSION, file: str = "bundle.json", *, family: str = "bundle"
) -> Iterator[Problem]:
    """Every schema violation of ``document``, each located by a JSON pointer.

    A document nested deeper than :data:`~dnnlik.digest.MAX_JSON_DEPTH` is one problem,
    ``json:too-deep``, and is not validated further.

    Args:
        document: the parsed ``bundle.json`` (or combination file).
        version: the format version to validate against, one of :data:`SUPPORTED_VERSIONS`
            (of :data:`COMBINATION_VERSIONS` for a combination file).
        file: the file name the problems' locations start with.
        family: ``"bundle"``, or ``"combination"`` for a combination file.

    Yields:
        One problem per violation (``schema:<keyword>``), located as
        ``bundle.json#<JSON pointer>``, sorted by location; for ``anyOf``/``oneOf``
        failures, the most telling sub-error.
    """
    deep = _too_deep(document, MAX_JSON_DEPTH)
    if deep is not None:
        pointer = json_pointer(deep)
        shown = pointer if len(pointer) <= 120 else pointer[:117] + "..."
        yield Problem(
            "json:too-deep",
            f"arrays and objects nest more than {MAX_JSON_DEPTH} deep (the limit) at {shown}",
            file,
        )
        return
    errors = sorted(
        validator(version, family=family).iter_errors(document), key=lambda e: list(map(str, e.absolute_path))
    )
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


_FORMAT_KEYS = ("format_version", "combination_format")


def _message(error: Any) -> str:
    if error.validator == "additionalProperties":
        return error.message.replace("were unexpected", "are not allowed here").replace(
            "was unexpected", "is not allowed here"
        )
    if error.validator == "pattern" and isinstance(error.validator_value, str):
        written = _ORIGINAL_PATTERN.get(error.validator_value, error.validator_value)
        return _shorten(f"{_shorten(repr(error.instance), 120)} does not match {written!r}")
    if error.validator == "const" and error.absolute_path and error.absolute_path[-1] in _FORMAT_KEYS:
        return f"{error.absolute_path[-1]} must be {error.validator_value!r}, got {error.instance!r}"
    return _shorten(error.message)


def _shorten(message: str, limit: int = 300) -> str:
    return message if len(message) <= limit else message[: limit - 3] + "..."
