"""Broken-bundle catalog entries of one hostile-input class (issue 12): json.

Imported at the end of tests/broken_catalog.py; each entry registers itself with
:func:`broken_catalog.broken` exactly like the entries there.

Two classes live here:

- nesting depth: bundle.json may nest arrays and objects at most 64 deep (the
  top-level object is depth 1). Anything deeper is ``json:too-deep`` wherever it
  hides (an ``x-`` member the schema never looks into, a test-vector tensor), and
  never a RecursionError from the parser, the digest or the schema validator.
  A tensor nested deeper than its declared rank but within the limit is a
  ``semantics:test-vector-shape``. (Depth exactly 64 is valid:
  tests/test_json_limits.py.)
- patterns with their ECMA-262 meaning: ``$`` does not match before a final
  newline, ``\\s`` is ECMA white space, so values that Python's ``re`` alone
  would accept are refused as ``schema:pattern``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from broken_catalog import broken, copy_of, read_document, rebuild, restamp, write_document_bytes

from dnnlik.bundle.write import dump_document


def _nested(depth: int, leaf: str = "1") -> bytes:
    """``depth`` arrays, one inside the other, around ``leaf``: JSON text written without any serialiser."""
    return b"[" * depth + leaf.encode() + b"]" * depth


def _with_member(valid: Path, tmp: Path, name: str, value: bytes) -> Path:
    """The valid bundle with a top-level member ``name`` set to the raw JSON ``value`` (digest left stale:
    the document is refused before the digest is checked)."""
    data = (valid / "bundle.json").read_bytes()
    assert data.startswith(b"{")
    return write_document_bytes(valid, tmp, b'{"' + name.encode() + b'": ' + value + b"," + data[1:])


def _with_tensor(valid: Path, tmp: Path, value: bytes) -> Path:
    """The valid bundle whose first test-vector case feeds the raw JSON ``value`` as input ``x``."""
    doc = read_document(valid)
    marker = "@@tensor@@"
    doc["test_vectors"]["cases"][0]["inputs"]["x"] = marker
    data = dump_document(restamp(doc))
    assert data.count(f'"{marker}"'.encode()) == 1
    return write_document_bytes(valid, tmp, data.replace(f'"{marker}"'.encode(), value))


# nesting depth -------------------------------------------------------------------


@broken("json-deep-extension-member", "json:too-deep")
def _deep_extension(valid: Path, tmp: Path) -> Path:
    """An 'x-' member (which the schema never looks into) nesting 1000 arrays: the digest writer
    and the parser used to recurse into it until RecursionError."""
    return _with_member(valid, tmp, "x-deep", _nested(1000))


@broken("json-deep-extension-objects", "json:too-deep")
def _deep_extension_objects(valid: Path, tmp: Path) -> Path:
    """An 'x-' member nesting 5000 objects ({"a": {"a": ...}}), brackets inside strings not counted."""
    value = b'{"a[[{": ' * 5000 + b'"]]"' + b"}" * 5000
    return _with_member(valid, tmp, "x-deep", value)


@broken("json-nesting-65", "json:too-deep")
def _nesting_65(valid: Path, tmp: Path) -> Path:
    """Depth 65, one more than the limit: 'x-deep' is depth 2 and holds 63 more arrays."""
    return _with_member(valid, tmp, "x-deep", _nested(64))


@broken("test-vector-nested-200", "json:too-deep")
def _tensor_200(valid: Path, tmp: Path) -> Path:
    """A test-vector input nested 200 arrays deep (the schema check of nested numbers recursed on it)."""
    return _with_tensor(valid, tmp, _nested(200, "0.5"))


@broken("test-vector-deeper-than-rank", "semantics:test-vector-shape")
def _tensor_deeper_than_rank(valid: Path, tmp: Path) -> Path:
    """A test-vector input of a [N, 4] tensor nested as deep as the limit allows (the tensor's innermost
    array is at depth 64): valid JSON, valid schema, refused by the static shape check."""

    # the document is depth 1, test_vectors 2, cases 3, the case 4, inputs 5, x 6
    def edit(d: dict[str, Any]) -> None:
        value: Any = 0.5
        for _ in range(59):
            value = [value]
        d["test_vectors"]["cases"][0]["inputs"]["x"] = value

    return rebuild(valid, tmp / "bundle", edit_document=edit)


# patterns with their ECMA-262 meaning (trailing newline, white space) --------------


@broken("parameter-name-trailing-newline", "schema:pattern")
def _name_newline(valid: Path, tmp: Path) -> Path:
    """Parameters 'mu' and 'mu\\n': two different strings, the same name to a reader who strips lines."""

    def edit(d: dict[str, Any]) -> None:
        d["parameters"][1]["name"] = d["parameters"][0]["name"] + "\n"

    return rebuild(valid, tmp / "bundle", edit_document=edit)


@broken("version-trailing-newline", "schema:pattern")
def _version_newline(valid: Path, tmp: Path) -> Path:
    """The bundle's version is '1.0.0\\n'."""

    def edit(d: dict[str, Any]) -> None:
        d["version"] += "\n"

    return rebuild(valid, tmp / "bundle", edit_document=edit)


@broken("bundle-name-trailing-newline", "schema:pattern")
def _bundle_name_newline(valid: Path, tmp: Path) -> Path:
    """The bundle's machine name ends in a newline."""

    def edit(d: dict[str, Any]) -> None:
        d["name"] += "\n"

    return rebuild(valid, tmp / "bundle", edit_document=edit)


@broken("license-trailing-newline", "schema:pattern")
def _license_newline(valid: Path, tmp: Path) -> Path:
    """The license is 'CC0-1.0\\n'."""

    def edit(d: dict[str, Any]) -> None:
        d["license"] += "\n"

    return rebuild(valid, tmp / "bundle", edit_document=edit)


@broken("file-path-trailing-newline", "schema:pattern")
def _path_newline(valid: Path, tmp: Path) -> Path:
    """A listed file 'notes.txt\\n', present under that name (digests recomputed by hand: the writer
    refuses such a name)."""
    data = b"notes\n"
    doc = read_document(valid)
    doc["files"].append(
        {"path": "notes.txt\n", "sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "role": "other"}
    )
    dest = copy_of(valid, tmp)
    (dest / "notes.txt\n").write_bytes(data)
    (dest / "bundle.json").write_bytes(dump_document(restamp(doc)))
    return dest


@broken("archive-doi-ecma-whitespace", "schema:pattern")
def _doi_whitespace(valid: Path, tmp: Path) -> Path:
    """An archive DOI ending in U+FEFF, white space to ECMA-262's \\S (and so to the spec), not to Python's."""

    def edit(d: dict[str, Any]) -> None:
        d["archive"] = {"doi": "10.5281/zenodo.12345\ufeff"}

    return rebuild(valid, tmp / "bundle", edit_document=edit)


@broken("ensemble-member-path-trailing-newline", "schema:pattern")
def _member_path_newline(valid: Path, tmp: Path) -> Path:
    """An ensemble member's file 'model.onnx\\n': a path no other stage reads, so only the pattern
    (with its ECMA-262 meaning) can refuse it."""

    def edit(d: dict[str, Any]) -> None:
        d["model"]["ensemble"] = {"size": 1, "combination": "mean", "members": [{"seed": 1, "file": "model.onnx\n"}]}

    return rebuild(valid, tmp / "bundle", edit_document=edit)
