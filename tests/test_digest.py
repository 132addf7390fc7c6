"""Digests: RFC 8785 (JCS) canonical JSON, the document digest, and file sha256.

Number vectors are those of RFC 8785 Appendix B (given as IEEE 754 bit
patterns) plus the common cases; string and key-ordering vectors are the
RFC's own examples (sections 3.2.2 and 3.2.3).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import struct
from pathlib import Path

import pytest

from dnnlik.digest import DIGEST_FIELD, canonical_json, document_digest, sha256_bytes, sha256_file, sha256_stream


def _double(bits: int) -> float:
    return struct.unpack(">d", bits.to_bytes(8, "big"))[0]


# RFC 8785, Appendix B: IEEE 754 bit pattern -> ECMAScript string.
RFC_NUMBERS = [
    (0x0000000000000000, "0"),
    (0x8000000000000000, "0"),  # minus zero
    (0x0000000000000001, "5e-324"),
    (0x8000000000000001, "-5e-324"),
    (0x7FEFFFFFFFFFFFFF, "1.7976931348623157e+308"),
    (0xFFEFFFFFFFFFFFFF, "-1.7976931348623157e+308"),
    (0x4340000000000000, "9007199254740992"),
    (0xC340000000000000, "-9007199254740992"),
    (0x4430000000000000, "295147905179352830000"),
    (0x44B52D02C7E14AF5, "9.999999999999997e+22"),
    (0x44B52D02C7E14AF6, "1e+23"),
    (0x44B52D02C7E14AF7, "1.0000000000000001e+23"),
    (0x444B1AE4D6E2EF4E, "999999999999999700000"),
    (0x444B1AE4D6E2EF4F, "999999999999999900000"),
    (0x444B1AE4D6E2EF50, "1e+21"),
    (0x3EB0C6F7A0B5ED8C, "9.999999999999997e-7"),
    (0x3EB0C6F7A0B5ED8D, "0.000001"),
    (0x41B3DE4355555553, "333333333.3333332"),
    (0x41B3DE4355555554, "333333333.33333325"),
    (0x41B3DE4355555555, "333333333.3333333"),
    (0x41B3DE4355555556, "333333333.3333334"),
    (0x41B3DE4355555557, "333333333.33333343"),
    (0xBECBF647612F3696, "-0.0000033333333333333333"),
    (0x43143FF3C1CB0959, "1424953923781206.2"),
]


@pytest.mark.parametrize("bits, expected", RFC_NUMBERS, ids=[f"{b:016x}" for b, _ in RFC_NUMBERS])
def test_rfc8785_appendix_b_numbers(bits: int, expected: str) -> None:
    assert canonical_json(_double(bits)) == expected.encode()


@pytest.mark.parametrize(
    "value, expected",
    [
        (1e-7, "1e-7"),
        (1e-6, "0.000001"),
        (1.5e-6, "0.0000015"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e23, "1e+23"),
        (-0.0, "0"),
        (0.0, "0"),
        (5e-324, "5e-324"),
        (0.1, "0.1"),
        (123456789012345680000.0, "123456789012345680000"),
        (1.5, "1.5"),
        (-1e-300, "-1e-300"),
        (1e300, "1e+300"),
        (4.50, "4.5"),
        (2e-3, "0.002"),
        (1e-27, "1e-27"),
        (1e30, "1e+30"),
        (100.0, "100"),
        (-12.25, "-12.25"),
        (0.000001234, "0.000001234"),
        (1.234e-7, "1.234e-7"),
        (123e18, "123000000000000000000"),
        # integers: exact below 2**53, rounded to a double above (JSON numbers are doubles)
        (0, "0"),
        (-7, "-7"),
        (2**53, "9007199254740992"),
        (2**53 + 1, "9007199254740992"),
        (10**21, "1e+21"),
        (-(10**22), "-1e+22"),
    ],
)
def test_numbers(value: float, expected: str) -> None:
    assert canonical_json(value) == expected.encode()


def test_numbers_round_trip_through_json() -> None:
    # the canonical form parses back to the same double
    for bits, _ in RFC_NUMBERS:
        x = _double(bits)
        assert float(json.loads(canonical_json(x))) == x  # Python reads '2953...0000' as an int


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 10**400])
def test_numbers_without_json_form_are_refused(value: float) -> None:
    with pytest.raises(ValueError):
        canonical_json([value])


def test_rfc8785_section_3_2_2_example() -> None:
    text = r"""{
      "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "literals": [null, true, false]
    }"""
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonical_json(json.loads(text)) == expected.encode("utf-8")


def test_rfc8785_section_3_2_3_key_order_by_utf16_code_units() -> None:
    text = r"""{
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis"
    }"""
    out = canonical_json(json.loads(text)).decode("utf-8")
    keys = [k for k in json.loads(out)]
    assert keys == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]
    # U+1F600 is the pair D83D DE00 in UTF-16, so it sorts before U+FB33 (code-point order would not)
    assert out == (
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",'
        '"\u20ac":"Euro Sign","\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
    )


@pytest.mark.parametrize(
    "value, expected",
    [
        ("plain", '"plain"'),
        ('quote " backslash \\ slash /', '"quote \\" backslash \\\\ slash /"'),
        ("\b\t\n\f\r", '"\\b\\t\\n\\f\\r"'),
        ("\x00\x01\x1f", '"\\u0000\\u0001\\u001f"'),  # other controls: \u00XX, lowercase hex
        ("\x7f", '"\x7f"'),  # DEL is not escaped
        ("\u2028\u2029", '"\u2028\u2029"'),  # nor are the line separators
        ("é€😀", '"é€😀"'),  # non-ASCII is written as UTF-8, not escaped
    ],
)
def test_strings(value: str, expected: str) -> None:
    assert canonical_json(value) == expected.encode("utf-8")


def test_nested_structures_have_no_whitespace_and_sorted_keys() -> None:
    value = {"b": [1, {"z": None, "a": [True, False, []]}, {}], "a": {"y": "1", "x": 0.5}, "": -1}
    assert canonical_json(value) == b'{"":-1,"a":{"x":0.5,"y":"1"},"b":[1,{"a":[true,false,[]],"z":null},{}]}'


def test_non_json_values_are_refused() -> None:
    with pytest.raises(TypeError):
        canonical_json({"a": {1, 2}})
    with pytest.raises(TypeError):
        canonical_json({1: "integer key"})


# the document digest ---------------------------------------------------------------------


def test_document_digest_is_sha256_of_canonical_form_without_own_field() -> None:
    doc = {"name": "x", "values": [1.0, 1e-7], DIGEST_FIELD: "whatever"}
    expected = hashlib.sha256(b'{"name":"x","values":[1,1e-7]}').hexdigest()
    assert document_digest(doc) == expected
    assert document_digest({k: v for k, v in doc.items() if k != DIGEST_FIELD}) == expected
    assert document_digest({**doc, DIGEST_FIELD: "other"}) == expected


def test_document_digest_ignores_member_order_and_formatting() -> None:
    a = json.loads('{"a": 1, "b": {"c": [1.50, 2E3]}}')
    b = json.loads('{\n  "b" : {"c" : [1.5, 2000]},\n  "a" : 1.0\n}')
    assert document_digest(a) == document_digest(b)
    assert document_digest(a) != document_digest({**a, "a": 2})


def test_document_digest_only_excludes_the_top_level_field() -> None:
    inner = {"x": {DIGEST_FIELD: "kept"}}
    assert document_digest(inner) != document_digest({"x": {}})


def test_written_bundle_digest_survives_a_json_round_trip(gaussian_bundle: Path) -> None:
    doc = json.loads((gaussian_bundle / "bundle.json").read_bytes())
    assert doc[DIGEST_FIELD] == document_digest(doc)
    body = {k: v for k, v in doc.items() if k != DIGEST_FIELD}
    assert doc[DIGEST_FIELD] == hashlib.sha256(canonical_json(body)).hexdigest()
    assert len(doc[DIGEST_FIELD]) == 64 and int(doc[DIGEST_FIELD], 16) >= 0


def test_listed_files_digests_match(gaussian_bundle: Path) -> None:
    doc = json.loads((gaussian_bundle / "bundle.json").read_bytes())
    assert doc["files"]
    for entry in doc["files"]:
        digest, size = sha256_file(gaussian_bundle / entry["path"])
        assert (digest, size) == (entry["sha256"], entry["size"])


# file digests --------------------------------------------------------------------------------


def test_sha256_known_values() -> None:
    assert sha256_bytes(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert sha256_bytes(b"abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_sha256_file_and_stream_read_in_chunks(tmp_path: Path) -> None:
    data = bytes(range(256)) * (3 * 4096 + 17)  # > 3 MiB: several chunks, a partial last one
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    expected = hashlib.sha256(data).hexdigest()
    assert sha256_file(path) == (expected, len(data))
    assert sha256_stream(io.BytesIO(data)) == (expected, len(data))
    assert sha256_bytes(data) == expected
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert sha256_file(empty) == (sha256_bytes(b""), 0)


def test_unpaired_surrogates_are_refused() -> None:
    # RFC 8785 3.2.2.2: lone surrogates have no canonical form (bundle.json with one is json:lone-surrogate)
    with pytest.raises(ValueError):
        canonical_json("a\ud800b")
    with pytest.raises(ValueError):
        canonical_json({"\udc00": 1})
