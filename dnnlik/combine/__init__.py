"""Combine published likelihoods: one joint log-density from several bundles or reference likelihoods.

``dnnlik.combine`` is this package and its main function at once::

    import dnnlik
    joint = dnnlik.combine(["zoo:analysis-a", "zoo:analysis-b"])     # bundles, likelihoods, combinations
    dnnlik.infer.tmu_scan(joint, [0.0, 0.5, 1.0])

Parameters are matched by name (renames and ``separate`` change that), each
constraint term is counted once, offsets are removed (spec section "Combining
bundles"); the result, a :class:`Combination`, is a
:class:`~dnnlik.density.LogDensity` that everything else accepts.

Modules: :mod:`~dnnlik.combine.members` (what a member is, its output
convention), :mod:`~dnnlik.combine.names` (matching, renames, prefixes,
conflicts), :mod:`~dnnlik.combine.constraints` (the terms, counted once),
:mod:`~dnnlik.combine.combination` (the :class:`Combination`),
:mod:`~dnnlik.combine.reinterpret` (:func:`reinterpret`: a likelihood over a new
model's parameters through the signal strengths it predicts), with
:mod:`~dnnlik.combine.expressions` and :mod:`~dnnlik.combine.tables` (the
declarative mapping), :mod:`~dnnlik.combine.targets` (a mapping given as Python
code) and :mod:`~dnnlik.combine.mapping` (its new parameters; the file section);
combination files (``combination.json``, spec/combination.md):
:mod:`~dnnlik.combine.file` (:func:`load_combination`, :func:`validate_combination`),
:mod:`~dnnlik.combine.file_checks` (the checks), :mod:`~dnnlik.combine.pins`
(members by reference, pinned by digest) and :mod:`~dnnlik.combine.file_write`
(:func:`write_combination`).
"""

from __future__ import annotations

import sys
import types
from typing import Any

from .combination import COMBINED_OUTPUT, Combination, combine
from .constraints import term_grad, term_logpdf
from .file import CombinationFile, is_combination_file, load_combination, read_combination, validate_combination
from .file_write import write_combination
from .members import DEFAULT_OUTPUT, Member
from .names import BOUNDS_MODES, SEPARATOR
from .pins import pin
from .reinterpret import Reinterpretation, mapping_from_json, reinterpret

__all__ = [
    "combine",
    "Combination",
    "Member",
    "DEFAULT_OUTPUT",
    "COMBINED_OUTPUT",
    "SEPARATOR",
    "BOUNDS_MODES",
    "term_logpdf",
    "term_grad",
    "reinterpret",
    "Reinterpretation",
    "mapping_from_json",
    "load_combination",
    "read_combination",
    "validate_combination",
    "is_combination_file",
    "write_combination",
    "CombinationFile",
    "pin",
]


class _CallableModule(types.ModuleType):
    """This package, callable: ``dnnlik.combine(...)`` is :func:`combine` whichever way it was imported.

    ``import dnnlik.combine`` binds the package to ``dnnlik.combine``, so a plain
    function of that name could not stay there; module ``__class__`` assignment
    has been supported since Python 3.5 for exactly this.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Combination:
        return combine(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
