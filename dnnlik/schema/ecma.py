"""Regular expressions with the meaning JSON Schema gives them (ECMA-262), run by Python's ``re``.

JSON Schema says a ``pattern`` is an ECMA-262 regular expression, unanchored. Python's ``re``
reads most of the same text with a different meaning, and the differences let values through
that a reader in another language refuses:

=============  ======================================  =========================================
construct      ECMA-262 (``new RegExp(p, "u")``)        Python ``re``
=============  ======================================  =========================================
``$``          end of the input only                    also before a final ``"\\n"``
``.``          any code point but \\n \\r \\u2028 \\u2029  any character but ``"\\n"``
``\\d``         ``[0-9]``                                 every Unicode decimal digit (``"١"``)
``\\w``, ``\\b``  ASCII letters, digits, ``_``             every Unicode letter and digit
``\\s``         the ECMA white-space and line ends       ``str.isspace()`` (other characters)
=============  ======================================  =========================================

:func:`translate` rewrites an ECMA-262 pattern into a Python pattern with the ECMA meaning
(``$`` becomes ``\\Z``, ``^`` becomes ``\\A``, the classes are spelt out). It reads the syntax
of ECMA-262 with the ``u`` flag, the one JSON Schema implementations use, and refuses
(:class:`UnsupportedPatternError`) what that syntax forbids (``\\A``, ``{,3}``, ``a**``) or what
it does not translate (back-references, ``\\p{...}``, lone surrogates). The test
``tests/test_schema_patterns.py`` checks every pattern of every schema file against Node's
own ``RegExp``.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ..errors import DnnlikError

__all__ = ["UnsupportedPatternError", "translate", "compile_pattern", "search", "fullmatch"]


class UnsupportedPatternError(DnnlikError, ValueError):
    """A pattern that is not ECMA-262 (``u`` flag) syntax, or uses a construct not translated."""


# ECMA-262 WhiteSpace (TAB, VT, FF, SP, NBSP, ZWNBSP, category Zs) and LineTerminator (LF, CR, LS, PS).
_WS = "\\t\\n\\x0b\\x0c\\r \\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
_WORD = "A-Za-z0-9_"
_CLASS_ESCAPES = {"d": "0-9", "w": _WORD, "s": _WS}
_ATOM_ESCAPES = {
    "d": "[0-9]",
    "D": "[^0-9]",
    "w": f"[{_WORD}]",
    "W": f"[^{_WORD}]",
    "s": f"[{_WS}]",
    "S": f"[^{_WS}]",
    "b": f"(?:(?<=[{_WORD}])(?![{_WORD}])|(?<![{_WORD}])(?=[{_WORD}]))",
    "B": f"(?:(?<=[{_WORD}])(?=[{_WORD}])|(?<![{_WORD}])(?![{_WORD}]))",
}
_CONTROL = {"n": 0x0A, "r": 0x0D, "t": 0x09, "f": 0x0C, "v": 0x0B}
_SYNTAX = set("^$\\.*+?()[]{}|/")
_DOT = "[^\\n\\r\\u2028\\u2029]"
_QUANTIFIER = re.compile(r"\{([0-9]+)(,([0-9]*))?\}")
_HEX = "0123456789abcdefABCDEF"
_PLAIN = set("_:/,=@!%;<>'\" #")  # ASCII that means itself to Python's re, in and out of a class


def _char(cp: int) -> str:
    """A Python pattern matching exactly the code point ``cp`` (also inside a class)."""
    if cp < 0x80 and (chr(cp).isalnum() or chr(cp) in _PLAIN):
        return chr(cp)
    return f"\\U{cp:08x}" if cp > 0xFFFF else f"\\u{cp:04x}" if cp > 0x7F else f"\\x{cp:02x}"


class _Reader:
    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.i = 0

    def fail(self, why: str) -> UnsupportedPatternError:
        return UnsupportedPatternError(f"{why} at offset {self.i} of pattern {self.p!r}")

    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.p[j] if j < len(self.p) else ""

    def hex_digits(self, n: int) -> int:
        digits = self.p[self.i : self.i + n]
        if len(digits) != n or any(c not in _HEX for c in digits):
            raise self.fail(f"expected {n} hexadecimal digits")
        self.i += n
        return int(digits, 16)

    def code_point_escape(self) -> int | None:
        """After a backslash: the code point of a character escape, or None if it is not one.

        Reads ``\\n \\r \\t \\f \\v \\0 \\xHH \\uHHHH \\u{H...} \\cX`` and escaped syntax characters.
        """
        c = self.peek()
        if c in _CONTROL:
            self.i += 1
            return _CONTROL[c]
        if c == "0" and not self.peek(1).isdigit():
            self.i += 1
            return 0
        if c == "x":
            self.i += 1
            return self.hex_digits(2)
        if c == "c" and self.peek(1).isascii() and self.peek(1).isalpha():
            self.i += 2
            return ord(self.p[self.i - 1]) % 32
        if c == "u":
            self.i += 1
            if self.peek() == "{":
                end = self.p.find("}", self.i)
                digits = self.p[self.i + 1 : end] if end > 0 else ""
                if not digits or any(d not in _HEX for d in digits) or int(digits, 16) > 0x10FFFF:
                    raise self.fail("malformed \\u{...} escape")
                self.i = end + 1
                cp = int(digits, 16)
            else:
                cp = self.hex_digits(4)
                if 0xD800 <= cp <= 0xDBFF and self.p.startswith("\\u", self.i):
                    save = self.i
                    self.i += 2
                    low = self.hex_digits(4) if all(d in _HEX for d in self.p[self.i : self.i + 4]) else -1
                    if 0xDC00 <= low <= 0xDFFF:
                        return 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00)
                    self.i = save
            if 0xD800 <= cp <= 0xDFFF:
                raise self.fail("a lone surrogate escape is not translated")
            return cp
        if c and c in _SYNTAX:
            self.i += 1
            return ord(c)
        return None


def _class(r: _Reader) -> str:
    """Translate a character class; ``r.i`` is just after ``[``."""
    negated = r.peek() == "^"
    if negated:
        r.i += 1
    if r.peek() == "]":  # [] matches nothing, [^] any code point
        r.i += 1
        return "[\\s\\S]" if negated else "[^\\x00-\\U0010ffff]"
    parts: list[str] = []

    def atom() -> tuple[str, int | None]:
        """One class atom: its Python text and its code point (None for \\d, \\w, \\s)."""
        c = r.peek()
        if not c:
            raise r.fail("unterminated character class")
        if c != "\\":
            r.i += 1
            return _char(ord(c)), ord(c)
        r.i += 1
        e = r.peek()
        if e in _CLASS_ESCAPES:
            r.i += 1
            return _CLASS_ESCAPES[e], None
        if e in ("D", "W", "S"):
            raise r.fail(f"\\{e} inside a character class is not translated")
        if e == "b":
            r.i += 1
            return _char(8), 8
        if e == "-":
            r.i += 1
            return _char(ord("-")), ord("-")
        cp = r.code_point_escape()
        if cp is None:
            raise r.fail(f"\\{e} is not an ECMA-262 escape (u flag) or is not translated")
        return _char(cp), cp

    while r.peek() != "]":
        text, lo = atom()
        if r.peek() == "-" and r.peek(1) not in ("]", ""):
            r.i += 1
            high_text, hi = atom()
            if lo is None or hi is None:
                raise r.fail("a class escape cannot bound a range")
            if lo > hi:
                raise r.fail("range out of order in character class")
            parts.append(f"{text}-{high_text}")
        else:
            parts.append(text)
    r.i += 1
    return "[" + ("^" if negated else "") + "".join(parts) + "]"


def _escape(r: _Reader) -> tuple[str, bool]:
    """The escape after a backslash, translated, and whether it can take a quantifier."""
    e = r.peek()
    if e in _ATOM_ESCAPES:
        r.i += 1
        return _ATOM_ESCAPES[e], e not in "bB"
    if e.isdigit() and e != "0" or e == "k":
        raise r.fail("back-references are not translated")
    cp = r.code_point_escape()
    if cp is None:
        raise r.fail(f"\\{e} is not an ECMA-262 escape (u flag) or is not translated")
    return _char(cp), True


def _group_opener(r: _Reader, pattern: str) -> str:
    """The opener of the group whose '(' was just read: plain, non-capturing, lookaround or named."""
    if r.peek() != "?":
        return "("
    rest = pattern[r.i + 1 :]
    for opener in (":", "=", "!", "<=", "<!"):
        if rest.startswith(opener):
            r.i += 1 + len(opener)
            return "(?" + opener
    m = re.match(r"<([A-Za-z_][A-Za-z0-9_]*)>", rest)
    if m is None:
        raise r.fail("unknown group syntax")
    r.i += 1 + m.end()
    return f"(?P<{m.group(1)}>"


def _translate(pattern: str) -> str:
    r = _Reader(pattern)
    out: list[str] = []
    groups: list[str] = []  # the openers of the groups still open
    # whether the last thing written can take a quantifier; and whether it is a quantifier
    quantifiable = False
    after_quantifier = False
    while r.i < len(pattern):
        c = pattern[r.i]
        if c in "*+?{":
            if c == "{":
                m = _QUANTIFIER.match(pattern, r.i)
                if m is None:
                    raise r.fail("a lone '{' is not allowed (u flag)")
                lo, hi = int(m.group(1)), m.group(3)
                if m.group(2) and hi and int(hi) < lo:
                    raise r.fail("quantifier range out of order")
                text, r.i = m.group(0), m.end()
            else:
                text, r.i = c, r.i + 1
            if c == "?" and after_quantifier:
                out[-1] += "?"  # lazy
                after_quantifier = False
                continue
            if not quantifiable:
                raise r.fail("nothing to repeat")
            out.append(text)
            quantifiable, after_quantifier = False, True
            continue
        after_quantifier = False
        r.i += 1
        if c == "\\":
            text, quantifiable = _escape(r)
            out.append(text)
        elif c == "[":
            out.append(_class(r))
            quantifiable = True
        elif c == "(":
            out.append(_group_opener(r, pattern))
            groups.append(out[-1])
            quantifiable = False
        elif c == ")":
            if not groups:
                raise r.fail("unbalanced ')'")
            out.append(")")
            # a lookaround cannot be quantified with the u flag
            quantifiable = groups.pop() not in ("(?=", "(?!", "(?<=", "(?<!")
        elif c == "|":
            out.append("|")
            quantifiable = False
        elif c == "^":
            out.append("\\A")
            quantifiable = False
        elif c == "$":
            out.append("\\Z")
            quantifiable = False
        elif c == ".":
            out.append(_DOT)
            quantifiable = True
        elif c in "]}":
            raise r.fail(f"a lone {c!r} is not allowed (u flag)")
        else:
            out.append(_char(ord(c)))
            quantifiable = True
    if groups:
        raise r.fail("unbalanced '('")
    return "".join(out)


@lru_cache(maxsize=1024)
def translate(pattern: str) -> str:
    """A Python ``re`` pattern that matches exactly what ECMA-262 ``new RegExp(pattern, "u")`` matches.

    >>> print(translate("^[a-z]+$"))
    \\A[a-z]+\\Z

    Args:
        pattern: an ECMA-262 regular expression.

    Returns:
        The Python pattern (results are cached).

    Raises:
        UnsupportedPatternError: ``pattern`` is not a string, is not ECMA-262 syntax with
            the ``u`` flag, uses a construct this translation does not cover, or
            translates to something Python's ``re`` cannot run.
    """
    if not isinstance(pattern, str):
        raise UnsupportedPatternError(f"a pattern must be a string, not {type(pattern).__name__}")
    translated = _translate(pattern)
    try:
        re.compile(translated)
    except re.error as exc:  # e.g. a lookbehind of variable width, which Python cannot run
        raise UnsupportedPatternError(f"pattern {pattern!r} cannot be run by Python's re: {exc}") from None
    return translated


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """The compiled :func:`translate` of an ECMA-262 pattern.

    Args:
        pattern: an ECMA-262 regular expression.

    Returns:
        The compiled Python pattern (cached).

    Raises:
        UnsupportedPatternError: as :func:`translate`.
    """
    return re.compile(translate(pattern))


def search(pattern: str, text: str) -> bool:
    """Whether the ECMA-262 ``pattern`` matches somewhere in ``text`` (JSON Schema's ``pattern``).

    >>> search("^[0-9]+$", "12"), search("^[0-9]+$", "12\\n"), search("[0-9]", "\u0661")
    (True, False, False)

    Args:
        pattern: an ECMA-262 regular expression.
        text: the string searched.

    Returns:
        True when it matches.

    Raises:
        UnsupportedPatternError: as :func:`translate`.
    """
    return compile_pattern(pattern).search(text) is not None


def fullmatch(pattern: str, text: str) -> bool:
    """Whether the ECMA-262 ``pattern`` matches all of ``text`` (as ``^(?:pattern)$`` would).

    Args:
        pattern: an ECMA-262 regular expression.
        text: the string.

    Returns:
        True when ``pattern`` matches the whole of ``text``.

    Raises:
        UnsupportedPatternError: as :func:`translate`.
    """
    return compile_pattern(f"^(?:{pattern})$").search(text) is not None
