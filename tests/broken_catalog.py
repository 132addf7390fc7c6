"""A catalog of broken bundles, each with the problem code validation must report.

Every entry is a small function ``build(valid, tmp) -> path`` that makes one
broken bundle under ``tmp`` from the valid example bundle folder ``valid``
(which it never modifies), and returns the path to hand to
``dnnlik.validate``. Entries that edit ``bundle.json`` semantically recompute
the digests (through :mod:`dnnlik.bundle.write`), so that the intended
defect, not a digest mismatch, is what deeper stages see; entries about
digests and raw bytes write files by hand.

This is a plain module (not collected by pytest); tests/test_broken_bundles.py
runs every entry, and other tests may reuse it.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import stat
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dnnlik.bundle.write import dump_document, write_bundle
from dnnlik.digest import DIGEST_FIELD, document_digest

__all__ = ["Broken", "CATALOG", "by_name"]

Builder = Callable[[Path, Path], Path]


@dataclass(frozen=True)
class Broken:
    """One broken bundle: how to build it and the problem code it must produce."""

    name: str
    code: str
    build: Builder
    about: str

    def __str__(self) -> str:  # pytest ids
        return self.name


CATALOG: list[Broken] = []


def broken(name: str, code: str) -> Callable[[Builder], Builder]:
    """Register ``build`` in the catalog under ``name``, expecting problem ``code``."""

    def register(build: Builder) -> Builder:
        CATALOG.append(Broken(name, code, build, (build.__doc__ or "").strip()))
        return build

    return register


def by_name(name: str) -> Broken:
    return next(b for b in CATALOG if b.name == name)


# helpers ---------------------------------------------------------------------


def read_document(valid: Path) -> dict[str, Any]:
    return json.loads((valid / "bundle.json").read_bytes())


def model_bytes(valid: Path) -> bytes:
    return (valid / "model.onnx").read_bytes()


def copy_of(valid: Path, tmp: Path, name: str = "bundle") -> Path:
    dest = tmp / name
    shutil.copytree(valid, dest)
    return dest


def rebuild(
    valid: Path,
    out: Path,
    *,
    edit_document: Callable[[dict[str, Any]], None] | None = None,
    edit_model: Callable[[Any], None] | None = None,
    model: bytes | None = None,
    extra_files: dict[str, bytes] | None = None,
) -> Path:
    """A digest-consistent bundle at ``out`` (folder or .zip) with the given edits."""
    doc = read_document(valid)
    data = model_bytes(valid) if model is None else model
    if edit_model is not None:
        import onnx

        proto = onnx.load_model_from_string(data)
        edit_model(proto)
        data = proto.SerializeToString()
    if edit_document is not None:
        edit_document(doc)
    files = {"model.onnx": data, **(extra_files or {})}
    write_bundle(out, doc, files)
    return out


def restamp(doc: dict[str, Any]) -> dict[str, Any]:
    """Recompute ``document_sha256`` only (keeping ``files`` as edited)."""
    doc = copy.deepcopy(doc)
    doc.pop(DIGEST_FIELD, None)
    doc[DIGEST_FIELD] = document_digest(doc)
    return doc


def write_document_bytes(valid: Path, tmp: Path, data: bytes) -> Path:
    """A copy of the valid bundle whose bundle.json is replaced by ``data``."""
    dest = copy_of(valid, tmp)
    (dest / "bundle.json").write_bytes(data)
    return dest


def zip_of(valid: Path, out: Path, extra: list[tuple[zipfile.ZipInfo | str, bytes]] = ()) -> Path:
    """A zip of the valid bundle's files plus ``extra`` entries, written as given."""
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(valid.iterdir()):
            zf.writestr(p.name, p.read_bytes())
        for info, data in extra:
            zf.writestr(info, data)
    return out


def _rename_input(model: Any, old: str, new: str) -> None:
    for v in model.graph.input:
        if v.name == old:
            v.name = new
    for node in model.graph.node:
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = new


# the archive: folder or zip ---------------------------------------------------


@broken("path-does-not-exist", "archive:unreadable")
def _path_missing(valid: Path, tmp: Path) -> Path:
    """A path with nothing at it."""
    return tmp / "no-such-bundle"


@broken("path-with-nul-byte", "archive:unreadable")
def _path_nul(valid: Path, tmp: Path) -> Path:
    """A path no file system accepts (it holds a NUL character)."""
    return tmp / "bundle\x00.zip"


@broken("path-is-a-fifo", "archive:unreadable")
def _path_fifo(valid: Path, tmp: Path) -> Path:
    """A named pipe given as the bundle (opening it to read would block)."""
    fifo = tmp / "bundle.zip"
    os.mkfifo(fifo)
    return fifo


@broken("empty-folder", "json:missing")
def _empty_folder(valid: Path, tmp: Path) -> Path:
    """A folder with no files at all."""
    dest = tmp / "empty"
    dest.mkdir()
    return dest


@broken("missing-bundle-json", "json:missing")
def _missing_document(valid: Path, tmp: Path) -> Path:
    """The model without its bundle.json."""
    dest = copy_of(valid, tmp)
    (dest / "bundle.json").unlink()
    return dest


@broken("zip-not-a-zip", "archive:unreadable")
def _not_a_zip(valid: Path, tmp: Path) -> Path:
    """A .zip file that holds text, not a zip archive."""
    out = tmp / "bundle.zip"
    out.write_bytes(b"this is not a zip archive\n" * 10)
    return out


@broken("zip-truncated", "archive:unreadable")
def _zip_truncated(valid: Path, tmp: Path) -> Path:
    """A real zip cut short: its central directory is gone."""
    full = zip_of(valid, tmp / "full.zip")
    out = tmp / "bundle.zip"
    out.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    return out


@broken("zip-parent-traversal", "archive:unsafe-path")
def _zip_dotdot(valid: Path, tmp: Path) -> Path:
    """A zip entry named ../evil.txt (would escape an extraction folder)."""
    return zip_of(valid, tmp / "bundle.zip", [("../evil.txt", b"escaped\n")])


@broken("zip-absolute-path", "archive:unsafe-path")
def _zip_absolute(valid: Path, tmp: Path) -> Path:
    """A zip entry with an absolute path."""
    return zip_of(valid, tmp / "bundle.zip", [("/etc/evil.txt", b"absolute\n")])


@broken("zip-backslash-path", "archive:unsafe-path")
def _zip_backslash(valid: Path, tmp: Path) -> Path:
    """A zip entry using a Windows path separator, ..\\evil.txt."""
    info = zipfile.ZipInfo("placeholder")
    info.filename = "..\\evil.txt"  # ZipInfo() itself turns backslashes into slashes
    return zip_of(valid, tmp / "bundle.zip", [(info, b"escaped\n")])


@broken("zip-symlink-entry", "archive:link")
def _zip_symlink(valid: Path, tmp: Path) -> Path:
    """A zip entry that is a symbolic link to /etc/passwd."""
    info = zipfile.ZipInfo("passwd")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    info.create_system = 3  # unix
    return zip_of(valid, tmp / "bundle.zip", [(info, b"/etc/passwd")])


@broken("zip-duplicate-entry", "archive:duplicate")
def _zip_duplicate(valid: Path, tmp: Path) -> Path:
    """The model stored twice under one name, with different bytes."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
        return zip_of(valid, tmp / "bundle.zip", [("model.onnx", b"a second model.onnx")])


@broken("zip-bomb-declared-size", "archive:zip-bomb")
def _zip_bomb(valid: Path, tmp: Path) -> Path:
    """An entry whose headers declare ~4 GiB of content for a few compressed bytes."""
    out = zip_of(valid, tmp / "bundle.zip", [("data.bin", b"\0" * 4096)])
    raw = bytearray(out.read_bytes())
    huge = 0xFFFFFF00
    name = b"data.bin"
    # central directory header: signature, ..., uncompressed size at offset 24, name at 46
    central = raw.find(b"PK\x01\x02")
    while central != -1:
        name_len = struct.unpack_from("<H", raw, central + 28)[0]
        if bytes(raw[central + 46 : central + 46 + name_len]) == name:
            struct.pack_into("<I", raw, central + 24, huge)
            local = struct.unpack_from("<I", raw, central + 42)[0]
            struct.pack_into("<I", raw, local + 22, huge)  # local header too
            break
        central = raw.find(b"PK\x01\x02", central + 4)
    else:  # pragma: no cover - the zip writer changed
        raise AssertionError("central directory entry not found")
    out.write_bytes(bytes(raw))
    return out


def _entry_data_span(path: Path, name: str) -> tuple[int, int]:
    """Offset and length of an entry's stored (compressed) bytes in a zip."""
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(name)
    raw = path.read_bytes()
    name_len, extra_len = struct.unpack_from("<HH", raw, info.header_offset + 26)
    return info.header_offset + 30 + name_len + extra_len, info.compress_size


@broken("zip-corrupt-document-stream", "json:unreadable")
def _zip_corrupt_document(valid: Path, tmp: Path) -> Path:
    """The compressed bytes of bundle.json damaged inside an otherwise intact zip."""
    out = tmp / "bundle.zip"
    rebuild(valid, out)
    start, length = _entry_data_span(out, "bundle.json")
    raw = bytearray(out.read_bytes())
    for i in range(start + length // 3, start + length // 3 + 16):
        raw[i] ^= 0xA5
    out.write_bytes(bytes(raw))
    return out


@broken("zip-unsupported-compression", "files:unreadable")
def _zip_unknown_method(valid: Path, tmp: Path) -> Path:
    """model.onnx stored with compression method 99 (not one zip readers must know)."""
    out = tmp / "bundle.zip"
    rebuild(valid, out)
    with zipfile.ZipFile(out) as zf:
        info = zf.getinfo("model.onnx")
    raw = bytearray(out.read_bytes())
    struct.pack_into("<H", raw, info.header_offset + 8, 99)  # local header
    central = raw.find(b"PK\x01\x02")
    while central != -1:
        name_len = struct.unpack_from("<H", raw, central + 28)[0]
        if bytes(raw[central + 46 : central + 46 + name_len]) == b"model.onnx":
            struct.pack_into("<H", raw, central + 10, 99)  # central directory
            break
        central = raw.find(b"PK\x01\x02", central + 4)
    out.write_bytes(bytes(raw))
    return out


@broken("folder-symlink-outside", "archive:link")
def _folder_symlink(valid: Path, tmp: Path) -> Path:
    """A folder bundle holding a symbolic link to a file outside it."""
    dest = copy_of(valid, tmp)
    secret = tmp / "secret.txt"
    secret.write_text("outside the bundle\n")
    os.symlink(secret, dest / "notes.txt")
    return dest


@broken("folder-symlinked-model", "archive:link")
def _folder_symlinked_model(valid: Path, tmp: Path) -> Path:
    """model.onnx replaced by a link to a copy outside the bundle (same bytes, still refused)."""
    dest = copy_of(valid, tmp)
    outside = tmp / "elsewhere.onnx"
    shutil.move(dest / "model.onnx", outside)
    os.symlink(outside, dest / "model.onnx")
    return dest


@broken("folder-fifo", "archive:special-file")
def _folder_fifo(valid: Path, tmp: Path) -> Path:
    """A named pipe in the bundle folder (reading it would block forever)."""
    dest = copy_of(valid, tmp)
    os.mkfifo(dest / "pipe")
    return dest


# bundle.json as bytes and JSON ----------------------------------------------


@broken("json-huge-sparse", "json:too-large")
def _json_huge(valid: Path, tmp: Path) -> Path:
    """A bundle.json of 512 MiB (a sparse file: no disk used, and it must not be read)."""
    dest = copy_of(valid, tmp)
    with open(dest / "bundle.json", "r+b") as f:
        f.truncate(512 * 1024 * 1024)
    return dest


@broken("json-not-utf8", "json:not-utf8")
def _json_latin1(valid: Path, tmp: Path) -> Path:
    """bundle.json encoded as Latin-1 (an é in the title)."""
    doc = read_document(valid)
    doc["title"] = "Gaussienne analytique (exemple) \u00e9"
    text = json.dumps(doc, indent=1, ensure_ascii=False)
    return write_document_bytes(valid, tmp, text.encode("latin-1"))


@broken("json-bom", "json:bom")
def _json_bom(valid: Path, tmp: Path) -> Path:
    """bundle.json starting with a UTF-8 byte-order mark."""
    return write_document_bytes(valid, tmp, b"\xef\xbb\xbf" + (valid / "bundle.json").read_bytes())


@broken("json-truncated", "json:invalid")
def _json_truncated(valid: Path, tmp: Path) -> Path:
    """bundle.json cut in the middle."""
    data = (valid / "bundle.json").read_bytes()
    return write_document_bytes(valid, tmp, data[: len(data) // 2])


@broken("json-duplicate-key", "json:duplicate-key")
def _json_duplicate_key(valid: Path, tmp: Path) -> Path:
    """Two "name" members in the top-level object (readers keep different ones)."""
    data = (valid / "bundle.json").read_bytes()
    data = data.replace(b'"name": "gaussian-4d",', b'"name": "gaussian-4d",\n "name": "impostor",', 1)
    assert b"impostor" in data
    return write_document_bytes(valid, tmp, data)


@broken("json-nan-literal", "json:non-finite")
def _json_nan(valid: Path, tmp: Path) -> Path:
    """A NaN literal (not JSON) as an expected test-vector output."""
    doc = read_document(valid)
    doc["test_vectors"]["cases"][0]["outputs"]["logpdf"][0] = float("nan")
    text = json.dumps(doc, indent=1)  # Python writes NaN
    assert "NaN" in text
    return write_document_bytes(valid, tmp, text.encode())


@broken("json-infinity-literal", "json:non-finite")
def _json_infinity(valid: Path, tmp: Path) -> Path:
    """An Infinity literal (not JSON) as a parameter bound."""
    doc = read_document(valid)
    doc["parameters"][1]["bounds"][1] = float("inf")
    text = json.dumps(doc, indent=1)
    assert "Infinity" in text
    return write_document_bytes(valid, tmp, text.encode())


@broken("json-top-level-array", "json:not-object")
def _json_array(valid: Path, tmp: Path) -> Path:
    """bundle.json holding a JSON array instead of an object."""
    return write_document_bytes(valid, tmp, b"[" + (valid / "bundle.json").read_bytes() + b"]")


@broken("json-too-deep", "json:too-deep")
def _json_deep(valid: Path, tmp: Path) -> Path:
    """A description nested in 100000 arrays (a recursive reader would overflow its stack)."""
    data = (valid / "bundle.json").read_bytes()
    deep = b"[" * 100000 + b"]" * 100000
    data = data.replace(b'"keywords": [', b'"keywords": [' + deep + b",", 1)
    return write_document_bytes(valid, tmp, data)


@broken("json-huge-integer", "json:number-range")
def _json_huge_int(valid: Path, tmp: Path) -> Path:
    """A 5000-digit integer (beyond any double, and Python's default int parsing limit)."""
    data = (valid / "bundle.json").read_bytes()
    data = data.replace(b'"offset": 0.0', b'"offset": 1' + b"0" * 5000, 1)
    assert len(data) > 5000
    return write_document_bytes(valid, tmp, data)


@broken("json-lone-surrogate", "json:lone-surrogate")
def _json_surrogate(valid: Path, tmp: Path) -> Path:
    """A title holding the escape \\ud800, half of a UTF-16 pair (no RFC 8785 form; readers differ)."""
    data = (valid / "bundle.json").read_bytes()
    data = data.replace(b"(example)", b"(example \\ud800)", 1)
    assert b"\\ud800" in data
    return write_document_bytes(valid, tmp, data)


# format version and schema ---------------------------------------------------


@broken("format-version-wrong", "schema:format-version")
def _format_version_wrong(valid: Path, tmp: Path) -> Path:
    """format_version written as the number 1.0 instead of the string "1.0.0"."""
    return rebuild(valid, tmp / "bundle", edit_document=lambda d: d.update(format_version=1.0))


@broken("format-version-missing", "schema:format-version")
def _format_version_missing(valid: Path, tmp: Path) -> Path:
    """No format_version at all."""
    return rebuild(valid, tmp / "bundle", edit_document=lambda d: d.pop("format_version"))


@broken("format-version-future-major", "schema:format-version")
def _format_version_future(valid: Path, tmp: Path) -> Path:
    """A bundle of format 2.0.0, which this dnnlik cannot read."""
    return rebuild(valid, tmp / "bundle", edit_document=lambda d: d.update(format_version="2.0.0"))


@broken("schema-missing-model-section", "schema:required")
def _missing_model(valid: Path, tmp: Path) -> Path:
    """bundle.json without its 'model' section (a problem at the document root)."""
    return rebuild(valid, tmp / "bundle", edit_document=lambda d: d.pop("model"))


@broken("schema-wrong-type", "schema:type")
def _wrong_type(valid: Path, tmp: Path) -> Path:
    """A parameter's nominal value given as a string."""

    def edit(d: dict[str, Any]) -> None:
        d["parameters"][2]["nominal"] = "zero"

    return rebuild(valid, tmp / "bundle", edit_document=edit)


# files and digests -------------------------------------------------------------


@broken("file-missing", "files:missing")
def _file_missing(valid: Path, tmp: Path) -> Path:
    """model.onnx is listed but absent."""
    dest = copy_of(valid, tmp)
    (dest / "model.onnx").unlink()
    return dest


@broken("file-unlisted", "files:unlisted")
def _file_unlisted(valid: Path, tmp: Path) -> Path:
    """An extra file that bundle.json does not list."""
    dest = copy_of(valid, tmp)
    (dest / "notes.txt").write_text("not listed\n")
    return dest


@broken("file-digest-mismatch", "files:digest-mismatch")
def _file_digest(valid: Path, tmp: Path) -> Path:
    """model.onnx modified after publication (same size, valid ONNX, other bytes)."""
    import onnx

    dest = copy_of(valid, tmp)
    model = onnx.load_model_from_string(model_bytes(valid))
    doc = model.doc_string
    model.doc_string = doc[:-1] + ("?" if doc[-1] != "?" else "!")
    data = model.SerializeToString()
    assert len(data) == len(model_bytes(valid)) and data != model_bytes(valid)
    (dest / "model.onnx").write_bytes(data)
    return dest


@broken("file-size-mismatch", "files:size-mismatch")
def _file_size(valid: Path, tmp: Path) -> Path:
    """bundle.json lists a wrong size for model.onnx (document digest recomputed)."""
    doc = read_document(valid)
    doc["files"][0]["size"] += 1
    dest = copy_of(valid, tmp)
    (dest / "bundle.json").write_bytes(dump_document(restamp(doc)))
    return dest


@broken("document-digest-mismatch", "files:document-digest")
def _document_digest(valid: Path, tmp: Path) -> Path:
    """bundle.json edited by hand (the title) without recomputing document_sha256."""
    data = (valid / "bundle.json").read_bytes()
    edited = data.replace(b"(example)", b"(edited)", 1)
    assert edited != data
    return write_document_bytes(valid, tmp, edited)


@broken("zip-document-digest-mismatch", "files:document-digest")
def _zip_document_digest(valid: Path, tmp: Path) -> Path:
    """The same hand edit, inside a zip bundle."""
    folder = _document_digest(valid, tmp)
    out = tmp / "bundle.zip"
    with zipfile.ZipFile(out, "w") as zf:
        for p in sorted(folder.iterdir()):
            zf.writestr(p.name, p.read_bytes())
    return out


@broken("files-path-traversal-listed", "schema:pattern")
def _files_traversal(valid: Path, tmp: Path) -> Path:
    """bundle.json lists a file '../outside.txt' (document digest recomputed)."""
    doc = read_document(valid)
    doc["files"].append({"path": "../outside.txt", "sha256": "0" * 64, "size": 1, "role": "other"})
    dest = copy_of(valid, tmp)
    (tmp / "outside.txt").write_text("x")
    (dest / "bundle.json").write_bytes(dump_document(restamp(doc)))
    return dest


# semantics ----------------------------------------------------------------------


@broken("duplicate-parameter-names", "semantics:duplicate-name")
def _duplicate_names(valid: Path, tmp: Path) -> Path:
    """Two parameters called theta_1."""

    def edit(d: dict[str, Any]) -> None:
        d["parameters"][2]["name"] = "theta_1"

    return rebuild(valid, tmp / "bundle", edit_document=edit)


@broken("inverted-bounds", "semantics:bounds-order")
def _inverted_bounds(valid: Path, tmp: Path) -> Path:
    """A lower bound above its upper bound."""

    def edit(d: dict[str, Any]) -> None:
        d["parameters"][0]["bounds"] = [10.0, -10.0]

    return rebuild(valid, tmp / "bundle", edit_document=edit)


@broken("nominal-outside-bounds", "semantics:nominal-outside")
def _nominal_outside(valid: Path, tmp: Path) -> Path:
    """A nominal value of 42 for bounds [-10, 10]."""

    def edit(d: dict[str, Any]) -> None:
        d["parameters"][3]["nominal"] = 42.0

    return rebuild(valid, tmp / "bundle", edit_document=edit)


@broken("parameter-count-vs-input-shape", "semantics:tensor-shape")
def _parameter_count(valid: Path, tmp: Path) -> Path:
    """Three parameters listed for a model input of shape [N, 4]."""

    def edit(d: dict[str, Any]) -> None:
        d["parameters"].pop()

    return rebuild(valid, tmp / "bundle", edit_document=edit)


@broken("test-vector-wrong-shape", "semantics:test-vector-shape")
def _test_vector_shape(valid: Path, tmp: Path) -> Path:
    """A test-vector input row with 3 values for 4 parameters."""

    def edit(d: dict[str, Any]) -> None:
        case = d["test_vectors"]["cases"][0]
        case["inputs"]["x"] = [row[:3] for row in case["inputs"]["x"]]

    return rebuild(valid, tmp / "bundle", edit_document=edit)


@broken("test-vector-ragged", "semantics:test-vector-ragged")
def _test_vector_ragged(valid: Path, tmp: Path) -> Path:
    """A test-vector input whose rows have different lengths."""

    def edit(d: dict[str, Any]) -> None:
        case = d["test_vectors"]["cases"][1]
        case["inputs"]["x"][2] = case["inputs"]["x"][2][:2]

    return rebuild(valid, tmp / "bundle", edit_document=edit)


@broken("test-vector-unknown-input", "semantics:test-vector-name")
def _test_vector_name(valid: Path, tmp: Path) -> Path:
    """A test-vector case feeding an input the model does not have."""

    def edit(d: dict[str, Any]) -> None:
        case = d["test_vectors"]["cases"][0]
        case["inputs"]["theta"] = case["inputs"].pop("x")

    return rebuild(valid, tmp / "bundle", edit_document=edit)


@broken("model-file-not-listed", "semantics:model-unlisted")
def _model_unlisted(valid: Path, tmp: Path) -> Path:
    """model.file names 'network.onnx', which is neither listed nor present."""

    def edit(d: dict[str, Any]) -> None:
        d["model"]["file"] = "network.onnx"

    return rebuild(valid, tmp / "bundle", edit_document=edit)


# the ONNX model ----------------------------------------------------------------


@broken("onnx-truncated", "onnx:unreadable")
def _onnx_truncated(valid: Path, tmp: Path) -> Path:
    """model.onnx cut to half its length (digests recomputed)."""
    data = model_bytes(valid)
    return rebuild(valid, tmp / "bundle", model=data[: len(data) // 2])


@broken("onnx-not-onnx", "onnx:unreadable")
def _onnx_text(valid: Path, tmp: Path) -> Path:
    """model.onnx holding a text file (digests recomputed)."""
    return rebuild(valid, tmp / "bundle", model=b"this is a text file, not an ONNX model\n")


@broken("onnx-custom-domain-op", "onnx:custom-op")
def _onnx_custom_op(valid: Path, tmp: Path) -> Path:
    """One node runs an operator of domain 'com.example' (code outside the bundle)."""
    from onnx import helper

    def edit(model: Any) -> None:
        node = next(n for n in model.graph.node if n.op_type == "Mul")
        node.domain = "com.example"
        node.op_type = "FastMul"
        model.opset_import.append(helper.make_opsetid("com.example", 1))

    return rebuild(valid, tmp / "bundle", edit_model=edit)


@broken("onnx-external-data", "onnx:external-data")
def _onnx_external(valid: Path, tmp: Path) -> Path:
    """An initializer whose data lives in an external file ../../etc/passwd."""
    import onnx

    def edit(model: Any) -> None:
        tensor = next(t for t in model.graph.initializer if t.name == "mean")
        tensor.ClearField("raw_data")
        tensor.ClearField("double_data")
        tensor.data_location = onnx.TensorProto.EXTERNAL
        for key, value in (("location", "../../etc/passwd"), ("offset", "0"), ("length", "32")):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value

    return rebuild(valid, tmp / "bundle", edit_model=edit)


@broken("onnx-local-function", "onnx:custom-op")
def _onnx_function(valid: Path, tmp: Path) -> Path:
    """A model-local function (domain 'local.fn') used by one node."""
    from onnx import helper

    def edit(model: Any) -> None:
        fn = helper.make_function(
            "local.fn",
            "Halve",
            ["a", "h"],
            ["b"],
            [helper.make_node("Mul", ["a", "h"], ["b"])],
            opset_imports=[helper.make_opsetid("", 17)],
        )
        model.functions.append(fn)
        model.opset_import.append(helper.make_opsetid("local.fn", 1))
        node = next(n for n in model.graph.node if n.name == "halve")
        node.op_type, node.domain = "Halve", "local.fn"

    return rebuild(valid, tmp / "bundle", edit_model=edit)


@broken("onnx-checker-fails", "onnx:checker")
def _onnx_checker(valid: Path, tmp: Path) -> Path:
    """A node reads a tensor that nothing produces."""

    def edit(model: Any) -> None:
        node = next(n for n in model.graph.node if n.name == "normalise")
        node.input[1] = "undefined_tensor"

    return rebuild(valid, tmp / "bundle", edit_model=edit)


@broken("onnx-input-name", "contract:input-names")
def _onnx_input_name(valid: Path, tmp: Path) -> Path:
    """The model's input is called 'theta'; bundle.json declares 'x'."""
    return rebuild(valid, tmp / "bundle", edit_model=lambda m: _rename_input(m, "x", "theta"))


@broken("onnx-input-shape", "contract:input-shape")
def _onnx_input_shape(valid: Path, tmp: Path) -> Path:
    """The model takes exactly 3 rows ([3, 4]); bundle.json declares [N, 4]."""

    def edit(model: Any) -> None:
        dim = model.graph.input[0].type.tensor_type.shape.dim[0]
        dim.ClearField("dim_param")
        dim.dim_value = 3

    return rebuild(valid, tmp / "bundle", edit_model=edit)


@broken("onnx-output-dtype", "contract:output-dtype")
def _onnx_output_dtype(valid: Path, tmp: Path) -> Path:
    """bundle.json declares logpdf float32; the model returns float64."""

    def edit(d: dict[str, Any]) -> None:
        d["model"]["outputs"][0]["dtype"] = "float32"

    return rebuild(valid, tmp / "bundle", edit_document=edit)


@broken("onnx-output-order", "contract:output-names")
def _onnx_output_order(valid: Path, tmp: Path) -> Path:
    """bundle.json lists the outputs in the other order."""

    def edit(d: dict[str, Any]) -> None:
        d["model"]["outputs"].reverse()

    return rebuild(valid, tmp / "bundle", edit_document=edit)


@broken("onnx-opset-mismatch", "contract:opset")
def _onnx_opset(valid: Path, tmp: Path) -> Path:
    """bundle.json declares opset 18; the model imports 17."""

    def edit(d: dict[str, Any]) -> None:
        d["model"]["opset"] = 18

    return rebuild(valid, tmp / "bundle", edit_document=edit)


@broken("onnx-ir-version-mismatch", "contract:ir-version")
def _onnx_ir(valid: Path, tmp: Path) -> Path:
    """bundle.json declares IR version 9; the model has 8."""

    def edit(d: dict[str, Any]) -> None:
        d["model"]["ir_version"] = 9

    return rebuild(valid, tmp / "bundle", edit_document=edit)


# test vectors (need onnxruntime) ------------------------------------------------


@broken("test-vectors-not-reproduced", "test-vectors:mismatch")
def _test_vectors_mismatch(valid: Path, tmp: Path) -> Path:
    """An expected logpdf off by 0.5 (digests recomputed)."""

    def edit(d: dict[str, Any]) -> None:
        d["test_vectors"]["cases"][1]["outputs"]["logpdf"][3] += 0.5

    return rebuild(valid, tmp / "bundle", edit_document=edit)


@broken("test-vectors-wrong-gradient", "test-vectors:mismatch")
def _test_vectors_gradient(valid: Path, tmp: Path) -> Path:
    """An expected gradient with its sign flipped, in a zip bundle."""

    def edit(d: dict[str, Any]) -> None:
        grad = d["test_vectors"]["cases"][0]["outputs"]["grad_logpdf"]
        grad[0] = [-g for g in grad[0]]

    return rebuild(valid, tmp / "bundle.zip", edit_document=edit)


# Hostile-input classes (issue 12), one module each; importing them registers their entries.
import broken_catalog_archive  # noqa: E402,F401
import broken_catalog_json  # noqa: E402,F401
import broken_catalog_onnx  # noqa: E402,F401
import broken_catalog_parameters  # noqa: E402,F401
import broken_catalog_runtime  # noqa: E402,F401
