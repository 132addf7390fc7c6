"""The top-level entry points: :func:`load` and :func:`validate`.

``load`` takes a bundle folder, a ``.zip`` of one, or (in later versions)
a ``zoo:NAME`` or ``zenodo:RECORD`` reference, and returns a validated
:class:`~dnnlik.evaluate.Bundle`.
"""

from __future__ import annotations

import os

from .errors import InvalidInputError
from .evaluate import Bundle, load_local
from .evaluate import validate as _validate_local
from .report import Report

__all__ = ["load", "validate"]

_SCHEMES = ("zoo:", "zenodo:")


def _local_path(source: str | os.PathLike[str]) -> str | os.PathLike[str]:
    if isinstance(source, str) and source.startswith(_SCHEMES):
        scheme = source.split(":", 1)[0]
        raise InvalidInputError(f"'{scheme}:' references are not supported by this version of dnnlik yet", where=source)
    return source


def load(source: str | os.PathLike[str], *, chunk_size: int | None = None) -> Bundle:
    """Load and validate a bundle; raise :class:`~dnnlik.errors.InvalidBundleError` listing every problem."""
    return load_local(_local_path(source), chunk_size=chunk_size)


def validate(source: str | os.PathLike[str]) -> Report:
    """Validate a bundle without loading it: a :class:`~dnnlik.report.Report` of every problem."""
    return _validate_local(_local_path(source))
