"""The names a bundle can give its parameters, checked where a pipeline starts (sampling, training).

The rule is the spec's (``parameters.schema.json``, spec section 3.2): a letter or
``_``, then letters, digits, ``_``, ``.``, ``:`` or ``-``, at most 128 characters;
each name once. Sampling and training both check it before any work, so that a
name such as pyhf's ``gamma_stat[0]`` is refused at once, with a suggested
rename, rather than after hours of sampling.

>>> suggested_name("gamma_stat[0]"), suggested_name("2016 lumi"), suggested_name("mu")
('gamma_stat.0', '_2016_lumi', 'mu')
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..errors import InvalidInputError

__all__ = ["PARAMETER_NAME_RULE", "RULE_TEXT", "is_parameter_name", "suggested_name", "check_parameter_names"]

PARAMETER_NAME_RULE = "parameters.schema.json#/$defs/parameter/properties/name"
"""Where the spec defines a parameter name (checked with :func:`dnnlik.schema.matches_string_rule`)."""

RULE_TEXT = "a letter or '_', then letters, digits, '_', '.', ':' or '-', at most 128 characters"
"""The rule in words, for messages."""

_MAX_LENGTH = 128
_INDEX = re.compile(r"\[([0-9]+)\]")
_OTHER = re.compile(r"[^A-Za-z0-9_.:-]")


def is_parameter_name(name: object) -> bool:
    """Whether a bundle can hold a parameter called ``name`` (the spec's own pattern and length).

    >>> is_parameter_name("alpha_JES"), is_parameter_name("gamma_stat[0]"), is_parameter_name(3)
    (True, False, False)

    Args:
        name: the candidate (a non-string is not a name).

    Returns:
        Whether the schema of the current format version accepts it.
    """
    from ..schema import matches_string_rule

    return matches_string_rule(PARAMETER_NAME_RULE, name)


def suggested_name(name: str) -> str:
    """A name a bundle can hold, close to ``name``: what an error message proposes as a rename.

    ``[i]`` becomes ``.i`` (pyhf's vector parameters: ``staterror_SR[3]`` ->
    ``staterror_SR.3``, the spelling of :func:`dnnlik.likelihoods.dnnlik_name`
    for such names), any other character outside the rule becomes ``_``, a
    leading digit, ``.``, ``:`` or ``-`` gets a ``_`` in front, and the result
    is cut to 128 characters.

    Args:
        name: any string.

    Returns:
        The suggestion (``name`` itself when it is already valid; ``_`` for an empty one).
    """
    text = _OTHER.sub("_", _INDEX.sub(r".\1", name))
    if not re.match(r"[A-Za-z_]", text):
        text = "_" + text
    return text[:_MAX_LENGTH]


def check_parameter_names(names: Sequence[object], where: str) -> None:
    """Refuse names a bundle cannot hold, and names given twice: one message for the first one found.

    Args:
        names: the parameters' names, in order.
        where: what they belong to (a likelihood, a samples file), for the message.

    Raises:
        InvalidInputError: a name outside the spec's rule (the message states the rule and
            suggests a rename), or a name that appears twice; ``where`` names the parameter
            by position and name.
    """
    seen: set[object] = set()
    for i, name in enumerate(names):
        place = f"{where}: parameter {i} ({name!r})"
        if not is_parameter_name(name):
            hint = (
                f"; rename it, e.g. to {suggested_name(name)!r}, before sampling or training"
                if isinstance(name, str)
                else ""
            )
            raise InvalidInputError(
                f"is not a name a bundle can hold (the spec's rule: {RULE_TEXT}){hint}", where=place
            )
        if name in seen:
            raise InvalidInputError("appears more than once: each parameter needs its own name", where=place)
        seen.add(name)
