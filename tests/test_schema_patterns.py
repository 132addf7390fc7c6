"""Schema patterns mean the same in dnnlik as in every JSON Schema implementation (issue 12).

JSON Schema's ``pattern`` is an ECMA-262 regular expression. Python's ``re`` gives the same
text other meanings (``$`` matches before a final newline, ``\\d`` matches "١", ``\\s`` is
another set), so ``"mu\\n"`` validated beside ``"mu"``. dnnlik translates every pattern to a
Python regex with the ECMA meaning (:mod:`dnnlik.schema.ecma`); these tests compare the
translation with a real ECMA-262 engine, Node's ``RegExp`` with the ``u`` flag, on every
pattern of every schema file and on hostile strings (skipped where Node is absent).
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dnnlik import schema as dschema
from dnnlik.schema import ecma

SCHEMA_ROOT = Path(__file__).resolve().parents[1] / "spec" / "schemas"
SCHEMA_FILES = sorted(SCHEMA_ROOT.glob("*/*.schema.json")) + sorted(SCHEMA_ROOT.glob("combination/*/*.schema.json"))
NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node (an ECMA-262 engine) is not installed")

_NODE_SCRIPT = r"""
let input = '';
process.stdin.on('data', d => input += d);
process.stdin.on('end', () => {
  const out = JSON.parse(input).map(([pattern, strings]) => {
    let re;
    try { re = new RegExp(pattern, 'u'); } catch (e) { return 'syntax-error'; }
    return strings.map(s => re.test(s));
  });
  process.stdout.write(JSON.stringify(out));
});
"""


def ecma_verdicts(cases: list[tuple[str, list[str]]]) -> list[Any]:
    """For each (pattern, strings): Node's ``new RegExp(pattern, 'u').test(s)`` for each string,
    or ``'syntax-error'``; one Node process for the whole batch."""
    proc = subprocess.run(
        [NODE, "-e", _NODE_SCRIPT], input=json.dumps(cases), capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(proc.stdout)


def schema_patterns() -> Iterator[tuple[str, str]]:
    """(file, pattern) for every ``pattern`` value and ``patternProperties`` key in the schema files."""

    def walk(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "pattern" and isinstance(value, str):
                    yield value
                elif key == "patternProperties" and isinstance(value, dict):
                    yield from value
                yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)

    for path in SCHEMA_FILES:
        for pattern in walk(json.loads(path.read_text(encoding="utf-8"))):
            yield f"{path.parent.name}/{path.name}", pattern


# typical valid values of the schemas' patterns, and ways to break each
BASES = [
    "",
    "mu",
    "theta_1",
    "x-foo",
    "x-",
    "gaussian-4d",
    "1.0.0",
    "1.0.0-rc.1+build.5",
    "CC0-1.0",
    "MIT OR Apache-2.0",
    "GPL-2.0 WITH Classpath-exception-2.0",
    "model.onnx",
    "sub/model.onnx",
    "a/../b",
    "./a",
    "a//b",
    "/abs",
    "a/",
    "10.5281/zenodo.12345",
    "0000-0002-1825-0097",
    "0000-0002-1825-009X",
    "2026-01-02T03:04:05Z",
    "2026-01-02T03:04:05.123+01:00",
    "0" * 64,
    "f" * 63,
    "abc:def.ghi",
]
AFFIXES = [
    ("", ""),
    ("", "\n"),
    ("", "\r\n"),
    ("", "\r"),
    ("\n", ""),
    ("", "\u2028"),
    ("", "\u2029"),
    ("", "\ufeff"),
    ("", "\x85"),
    ("", "\x1f"),
    ("", "\u00a0"),
    ("", " "),
    ("", "\n\n"),
]
REPLACEMENTS = [("0", "\u0661"), ("1", "\U0001d7d9"), ("a", "\u00e9"), ("/", "\n/"), (".", "\n"), ("0", "０")]


def adversarial(values: list[str]) -> list[str]:
    out = []
    for base in values:
        out += [prefix + base + suffix for prefix, suffix in AFFIXES]
        out += [base.replace(old, new, 1) for old, new in REPLACEMENTS if old in base]
    return sorted(set(out))


def test_every_schema_pattern_is_found_and_translated() -> None:
    patterns = list(schema_patterns())
    assert len({p for _, p in patterns}) >= 8, patterns
    for where, pattern in patterns:
        translated = ecma.translate(pattern)
        assert re.compile(translated), where
        if "$" in pattern:
            assert "\\Z" in translated and "$" not in translated, (where, translated)


@needs_node
def test_schema_patterns_agree_with_an_ecma_engine() -> None:
    patterns = sorted({p for _, p in schema_patterns()})
    strings = adversarial(BASES)
    verdicts = ecma_verdicts([(p, strings) for p in patterns])
    disagreements = [
        (pattern, s, want)
        for pattern, wants in zip(patterns, verdicts, strict=True)
        for s, want in zip(strings, wants, strict=True)
        if ecma.search(pattern, s) != want
    ]
    assert not disagreements, disagreements[:20]
    # the comparison can fail: Python's own reading of the same patterns disagrees with ECMA
    python_reading = [
        (p, s)
        for p, wants in zip(patterns, verdicts, strict=True)
        for s, want in zip(strings, wants, strict=True)
        if (re.search(p, s) is not None) != want
    ]
    assert any(s.endswith("\n") for _, s in python_reading)


# constructs whose meaning differs between ECMA-262 and Python's re, translated
CONSTRUCTS = [
    r"^a$",
    r"a$",
    r"^$",
    r"\d+",
    r"^\D$",
    r"^\w+$",
    r"^\W$",
    r"^\s$",
    r"^\S+$",
    r"^.$",
    r"^.+$",
    r"\bfoo\b",
    r"\Bo\B",
    r"^[\d.]+$",
    r"^[\w-]+$",
    r"^[\s\d]$",
    r"^[^\d\s]+$",
    r"^[]$",
    r"^[^]$",
    r"a[^]b",
    r"^a??$",
    r"^a*?b+?c{1,2}?$",
    r"^(?:ab)+$",
    r"^(?<year>[0-9]{4})-\k?",
    r"^(?=.*x)(?!.*y).*$",
    r"(?<=a)b",
    r"(?<!a)b",
    r"^\u{1F600}$",
    r"^\uD83D\uDE00$",
    r"^\x41\u0042\cJ$",
    r"^[\x00-\x1f]$",
    r"^[\b]$",
    r"^\/\.\*\+\?\(\)\[\]\{\}\|\^\$\\$",
    r"^[-a]$",
    r"^[a-]$",
    r"^[\-]$",
    r"^\0$",
    r"^[#& ~]+$",
    r"^\t\n\v\f\r$",
    r"^x{2}y{2,}z{0,3}$",
    r"^[A-Z]{2,4}$",
    r"^\p",
    r"é+",
    r"^[é-ü]$",
]
PROBES = [
    "",
    "a",
    "a\n",
    "\na",
    "b",
    "ab",
    "aab",
    "abab",
    "x",
    "xy",
    "yx",
    "foo",
    "foo bar",
    "foo\n",
    "ofoo",
    "1",
    "12",
    "\u0661",
    "\U0001d7d9",
    "1.2",
    "1.2\n",
    "_",
    "-",
    "é",
    "\u00e9\u00e9",
    "A",
    "AB",
    "ABCDE",
    " ",
    "\t",
    "\n",
    "\r",
    "\u2028",
    "\u2029",
    "\ufeff",
    "\x85",
    "\x1c",
    "\u00a0",
    "\u3000",
    "\u200b",
    "\U0001f600",
    "\U0001f600\n",
    "AB\n",
    "ABC",
    "ABC\u0661",
    "\x08",
    "\x00",
    "\x1f",
    "#& ~",
    "2026-",
    "/.*+?()[]{}|^$\\",
    "\t\n\x0b\x0c\r",
    "xxyy",
    "xxyyyzzz",
    "xxyyzzzz",
    "ü",
    "ñ",
    "ba",
    "cb",
]


@needs_node
def test_translated_constructs_agree_with_an_ecma_engine() -> None:
    translatable = []
    for pattern in CONSTRUCTS:
        try:
            ecma.translate(pattern)
        except ecma.UnsupportedPatternError:
            continue
        translatable.append(pattern)
    assert len(translatable) >= len(CONSTRUCTS) - 3
    verdicts = ecma_verdicts([(p, PROBES) for p in translatable])
    disagreements = [
        (pattern, s, want)
        for pattern, wants in zip(translatable, verdicts, strict=True)
        for s, want in (
            zip(PROBES, wants, strict=True) if wants != "syntax-error" else [("<syntax error in node>", None)]
        )
        if want is None or ecma.search(pattern, s) != want
    ]
    assert not disagreements, disagreements[:20]


# not ECMA-262 syntax with the u flag (Node throws), though Python's re would read most of them
NOT_ECMA = [
    r"\A",
    r"a\Z",
    r"a**",
    r"a{,3}",
    r"{",
    r"a{1",
    r"}",
    r"]",
    r"(?i)a",
    r"(?P<n>a)",
    r"(?#c)",
    r"a*+",
    r"(?>a)",
    r"(",
    r")",
    r"\-",
    r"\e",
    r"[\d-z]",
    r"[z-a]",
    r"*",
    r"a|*",
    r"(?=a)*",
    r"\c1",
    r"\u{110000}",
    r"\x4",
    r"\u12",
    r"\01",
]
# ECMA-262, but not translated: refused rather than run with another meaning
UNTRANSLATED = [r"(a)\1", r"(?<n>a)\k<n>", r"\p{L}", r"\P{Lu}", r"[\S]", r"[\D]", r"[\W]", r"\uD800", r"(?<=a+)b"]


@pytest.mark.parametrize("pattern", NOT_ECMA + UNTRANSLATED)
def test_patterns_outside_the_translation_are_refused(pattern: str) -> None:
    with pytest.raises(ecma.UnsupportedPatternError) as info:
        ecma.translate(pattern)
    assert repr(pattern) in str(info.value)


@needs_node
def test_refused_syntax_really_is_not_ecma() -> None:
    verdicts = ecma_verdicts([(p, []) for p in NOT_ECMA] + [(p, ["a"]) for p in UNTRANSLATED])
    head, tail = verdicts[: len(NOT_ECMA)], verdicts[len(NOT_ECMA) :]
    assert head == ["syntax-error"] * len(NOT_ECMA), list(zip(NOT_ECMA, head, strict=True))
    assert "syntax-error" not in tail, list(zip(UNTRANSLATED, tail, strict=True))


def test_trailing_newline_is_refused_without_node() -> None:
    """The core of the issue, checked on every machine: ECMA's '$' is the end of the input."""
    for pattern, value in [
        ("^mu$", "mu"),
        (r"^[A-Za-z_][A-Za-z0-9_.:-]{0,127}$", "theta_1"),
        ("^a$|^b$", "b"),
        ("(^|/)x($)", "a/x"),
    ]:
        assert ecma.search(pattern, value) and not ecma.search(pattern, value + "\n")
        assert re.search(pattern, value + "\n")  # what Python's re alone says
    assert not ecma.search("^mu$", "\nmu")
    assert not ecma.search(r"^\d$", "\u0661") and not ecma.search(r"^\w$", "é") and ecma.search(r"^\s$", "\ufeff")
    assert not ecma.search("^.$", "\r") and not ecma.search("^.$", "\u2028") and ecma.search("^.$", "\U0001f600")
    assert ecma.fullmatch("a|b", "b") and not ecma.fullmatch("a|b", "ab") and not ecma.fullmatch("a", "a\n")


# -- the validator and the places that reuse schema patterns ---------------------------------


@pytest.fixture(scope="module")
def document(gaussian_bundle: Path) -> dict[str, Any]:
    return json.loads((gaussian_bundle / "bundle.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "path, value",
    [
        (("parameters", 1, "name"), "mu\n"),
        (("parameters", 0, "name"), "mu\r\n"),
        (("version",), "1.0.0\n"),
        (("name",), "gaussian-4d\n"),
        (("license",), "CC0-1.0\n"),
        (("license",), "MIT OR Apache-2.0\n"),
        (("files", 0, "path"), "model.onnx\n"),
        (("model", "file"), "model.onnx\n"),
        (("files", 0, "sha256"), "0" * 64 + "\n"),
        (("provenance", "created"), "2026-01-02T03:04:05Z\n"),
        (("provenance", "created"), "\u0662026-01-02T03:04:05Z"),
        (("archive",), {"doi": "10.5281/zenodo.1\n"}),
        (("archive",), {"doi": "10.5281/zenodo.1\u2028x"}),
    ],
)
def test_validator_refuses_what_ecma_patterns_refuse(
    document: dict[str, Any], path: tuple[Any, ...], value: Any
) -> None:
    doc = copy.deepcopy(document)
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    problems = list(dschema.iter_schema_problems(doc))
    assert [p.code for p in problems] == ["schema:pattern"], problems
    (problem,) = problems
    assert problem.location.startswith("bundle.json#/" + "/".join(map(str, path)))
    assert "\n" not in problem.message and "\\Z" not in problem.message  # the pattern as the spec writes it
    assert "$'" in problem.message


def test_pattern_properties_and_additional_properties_use_ecma_meaning() -> None:
    from jsonschema import Draft202012Validator

    schema = {
        "type": "object",
        "properties": {"names": {"type": "object", "propertyNames": {"pattern": "^[a-z]+$"}}},
        "patternProperties": {"^x-[a-z]+$": {"type": "integer"}},
        "additionalProperties": False,
    }
    translated = dschema._ecma_schema(schema, "test")
    assert schema["patternProperties"] == {"^x-[a-z]+$": {"type": "integer"}}  # the original is not changed
    validator = Draft202012Validator(translated)
    assert validator.is_valid({"x-ab": 1, "names": {"abc": 1}})
    assert not validator.is_valid({"x-ab\n": 1})  # no pattern property matches: an additional property
    assert not validator.is_valid({"names": {"abc\n": 1}})
    # Python's reading of the untranslated schema lets both through
    assert Draft202012Validator(schema).is_valid({"x-ab\n": 1})


def test_is_relative_path_and_the_writer_use_ecma_meaning(tmp_path: Path) -> None:
    from dnnlik.bundle.write import write_bundle
    from dnnlik.errors import InvalidInputError

    assert dschema.is_relative_path("model.onnx") and dschema.is_relative_path("sub/model.onnx")
    for bad in ("model.onnx\n", "model.onnx\r\n", "\nmodel.onnx", "a/\n", "", "a/../b", "a" * 256):
        assert not dschema.is_relative_path(bad), repr(bad)
    with pytest.raises(InvalidInputError):
        write_bundle(tmp_path / "b", {"format_version": "1.0.0"}, {"model.onnx\n": b"x"})
    assert not (tmp_path / "b").exists()
    assert dschema.matches_pattern("^a$", "a") and not dschema.matches_pattern("^a$", "a\n")
    assert not dschema.matches_pattern("^a$", 1)


@needs_node
def test_random_patterns_agree_with_an_ecma_engine() -> None:
    """Seeded random patterns and strings: what the translation accepts, Node accepts and matches the same;
    what it refuses is either not ECMA-262 (Node throws too) or a construct it says it does not translate."""
    import random

    rng = random.Random(12)
    atoms = [
        "a",
        "b",
        "1",
        ".",
        r"\d",
        r"\D",
        r"\s",
        r"\S",
        r"\w",
        r"\W",
        r"\b",
        r"\B",
        "^",
        "$",
        "-",
        "/",
        " ",
        r"\n",
        r"\.",
        r"\$",
        "é",
        r"\u0661",
        r"\x0a",
        "[",
        "]",
        "{",
        "}",
        "(",
        ")",
        "|",
        "*",
        "+",
        "?",
        "{2}",
        "{1,}",
        "{0,2}",
        "(?:",
        "(?=",
        "(?!",
        "(?<=",
        "(?<!",
        r"\u2028",
        "_",
        ":",
        "&",
        "~",
        "#",
    ]
    class_atoms = [
        "a",
        "b",
        "0",
        "9",
        "-",
        r"\d",
        r"\s",
        r"\w",
        r"\S",
        "^",
        "]",
        r"\]",
        r"\-",
        ".",
        "$",
        "é",
        r"\n",
        "&",
        "&&",
        "[",
        r"\b",
        "_",
        "z",
    ]

    def pattern() -> str:
        parts = []
        for _ in range(rng.randint(1, 7)):
            if rng.random() < 0.2:
                body = "".join(rng.choice(class_atoms) for _ in range(rng.randint(0, 4)))
                parts.append("[" + ("^" if rng.random() < 0.3 else "") + body + "]")
            else:
                parts.append(rng.choice(atoms))
        return "".join(parts)

    alphabet = [
        "a",
        "b",
        "1",
        "\u0661",
        "\n",
        "\r",
        " ",
        "\u2028",
        "\ufeff",
        "\x85",
        "é",
        "_",
        "-",
        ".",
        "/",
        "$",
        "]",
        "x",
        "\x1f",
        "\u00a0",
    ]
    strings = sorted({"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 4))) for _ in range(120)})
    patterns = sorted({pattern() for _ in range(1500)})
    verdicts = ecma_verdicts([(p, strings) for p in patterns])
    compared, problems = 0, []
    for p, wants in zip(patterns, verdicts, strict=True):
        try:
            ecma.translate(p)
        except ecma.UnsupportedPatternError as exc:
            if wants != "syntax-error" and "not translated" not in str(exc):
                problems.append(("refused valid ECMA", p, str(exc)))
            continue
        if wants == "syntax-error":
            problems.append(("accepted non-ECMA", p, ""))
            continue
        compared += 1
        problems += [("differs", p, s) for s, want in zip(strings, wants, strict=True) if ecma.search(p, s) != want][:1]
    assert compared > 300
    assert not problems, problems[:10]
