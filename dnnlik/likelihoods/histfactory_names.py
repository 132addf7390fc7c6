"""The spelling of pyhf's parameter names as bundle parameter names, and back.

pyhf names a scalar parameter by its modifier's name (``mu_SIG``, ``lumi``,
``alpha_JES``) and each component of a vector parameter (``staterror``,
``shapesys``, ``shapefactor``: one per bin, even for a single bin) as
``NAME[i]`` (``staterror_SR[3]``). A bundle's parameter names must match
``^[A-Za-z_][A-Za-z0-9_.:-]{0,127}$`` (spec 3.2), which has no brackets. The
spelling, reversible for every pyhf name:

- ``NAME[i]`` is written ``NAME.i`` (``staterror_SR[3]`` -> ``staterror_SR.3``),
  ``i`` in decimal without leading zeros; a scalar ``NAME`` is written ``NAME``;
- in ``NAME``, letters, digits, ``_`` and ``-`` stand for themselves; any other
  character (``.`` and ``:`` included, so that ``.`` only ever separates the
  index) is written as ``:`` and two lowercase hexadecimal digits per byte of
  its UTF-8 encoding (``alpha_EG.SCALE`` -> ``alpha_EG:2eSCALE``);
- a name whose spelling would not start with a letter or ``_`` (``2016_lumi``)
  gets the prefix ``_:_`` (``_:_2016_lumi``), which no other spelling starts with
  (``:`` is otherwise always followed by two hexadecimal digits).

Names of the usual form (letters, digits, ``_``) are thus unchanged, and vector
components differ only by ``.`` for the brackets.

>>> dnnlik_name("staterror_SR[3]"), pyhf_name("staterror_SR.3")
('staterror_SR.3', 'staterror_SR[3]')
>>> dnnlik_name("alpha_EG.SCALE"), pyhf_name("alpha_EG:2eSCALE")
('alpha_EG:2eSCALE', 'alpha_EG.SCALE')
>>> dnnlik_name("2016 lumi"), pyhf_name("_:_2016:20lumi")
('_:_2016:20lumi', '2016 lumi')
"""

from __future__ import annotations

import re

from ..errors import InvalidInputError

__all__ = ["dnnlik_name", "pyhf_name", "MAX_NAME_LENGTH"]

MAX_NAME_LENGTH = 128
"""The longest parameter name a bundle allows."""

_PREFIX = "_:_"
_KEEP = re.compile(r"[A-Za-z0-9_-]")
_VECTOR = re.compile(r"^(.*)\[(0|[1-9][0-9]*)\]$", re.DOTALL)
_SPELLING = re.compile(r"^(?:[A-Za-z0-9_-]|:[0-9a-f]{2})+(?:\.(0|[1-9][0-9]*))?$")
_FIRST = re.compile(r"^[A-Za-z_]")


def _escape(name: str) -> str:
    return "".join(c if _KEEP.fullmatch(c) else "".join(f":{b:02x}" for b in c.encode("utf-8")) for c in name)


def dnnlik_name(pyhf_parameter: str) -> str:
    """The bundle spelling of a pyhf parameter name (see the module docstring).

    Args:
        pyhf_parameter: a name as pyhf writes it (``model.config.par_names``).

    Returns:
        The spelling, a valid bundle parameter name.

    Raises:
        InvalidInputError: the name is empty, not a string, or its spelling is
            longer than 128 characters.
    """
    if not isinstance(pyhf_parameter, str) or not pyhf_parameter:
        raise InvalidInputError(f"expected a non-empty name, got {pyhf_parameter!r}", where="pyhf_parameter")
    vector = _VECTOR.match(pyhf_parameter)
    base, index = (vector.group(1), vector.group(2)) if vector and vector.group(1) else (pyhf_parameter, None)
    spelled = _escape(base)
    if not _FIRST.match(spelled):
        spelled = _PREFIX + spelled
    if index is not None:
        spelled += "." + index
    if len(spelled) > MAX_NAME_LENGTH:
        raise InvalidInputError(
            f"its bundle spelling {spelled[:40]!r}... has {len(spelled)} characters, more than the "
            f"{MAX_NAME_LENGTH} a bundle parameter name may have",
            where=f"parameter {pyhf_parameter[:60]!r}",
        )
    return spelled


def pyhf_name(name: str) -> str:
    """The pyhf parameter name that :func:`dnnlik_name` spells ``name``.

    Args:
        name: a bundle spelling.

    Returns:
        pyhf's name (``NAME`` or ``NAME[i]``).

    Raises:
        InvalidInputError: ``name`` is not a spelling :func:`dnnlik_name` produces
            (a stray ``.``, a ``:`` not followed by two lowercase hexadecimal
            digits, bytes that are not UTF-8, an index with leading zeros).
    """
    if not isinstance(name, str):
        raise InvalidInputError(f"expected a name, got {type(name).__name__}", where="name")
    prefixed = name.startswith(_PREFIX)
    body = name[len(_PREFIX) :] if prefixed else name
    match = _SPELLING.match(body)
    if not match or bool(_FIRST.match(body)) == prefixed:
        raise InvalidInputError(f"{name!r} is not a spelling of a pyhf parameter name", where="name")
    index = match.group(1)
    base = body[: -len(index) - 1] if index is not None else body
    decoded = bytearray()
    k = 0
    while k < len(base):
        if base[k] == ":":
            decoded.append(int(base[k + 1 : k + 3], 16))
            k += 3
        else:
            decoded += base[k].encode("ascii")
            k += 1
    try:
        text = decoded.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInputError(
            f"{name!r} is not a spelling of a pyhf parameter name (it escapes bytes that are not UTF-8)", where="name"
        ) from None
    if _escape(text) != base:  # an escaped character that needs none (':41' for 'A'): not canonical
        raise InvalidInputError(f"{name!r} is not the canonical spelling of {text!r}", where="name")
    return f"{text}[{index}]" if index is not None else text
