"""The top-level entry points: :func:`load` and :func:`validate`.

``load`` takes a bundle folder, a ``.zip`` of one, a Zenodo reference
(``zenodo:RECORD``, ``zenodo-sandbox:RECORD``, a Zenodo DOI such as
``10.5281/zenodo.RECORD``, or a record URL) or a zoo name (``zoo:NAME``), and
returns a validated :class:`~dnnlik.evaluate.Bundle`. A Zenodo record is
fetched once into the per-user cache (:func:`dnnlik.zenodo.fetch`, the
``zenodo`` extra) and read from there afterwards.

Of the things called "validate", this module's :func:`validate` is the one
that takes any source (it is the ``dnnlik validate`` command's); it ends in
:func:`dnnlik.evaluate.validate_local` (a local folder or zip) or
:func:`dnnlik.zenodo.validate_record` (a Zenodo record). The map of the others
is in :mod:`dnnlik.evaluate`.
"""

from __future__ import annotations

import os

from .errors import InvalidBundleError, InvalidInputError
from .evaluate import Bundle, load_local, validate_local
from .report import Report

__all__ = ["load", "validate"]

ZOO_SCHEME = "zoo:"


def _is_zenodo(source: str | os.PathLike[str]) -> bool:
    if not isinstance(source, str):
        return False
    from .zenodo.records import is_zenodo_source  # light: no requests

    return is_zenodo_source(source)


def _local_path(source: str | os.PathLike[str]) -> str | os.PathLike[str]:
    if isinstance(source, str) and source.startswith(ZOO_SCHEME):
        from .zoo import entry_path, find_entry

        name = source[len(ZOO_SCHEME) :]
        if not name:
            raise InvalidInputError("names no zoo entry (zoo:NAME)", where=source)
        return entry_path(find_entry(name))
    return source


def load(source: str | os.PathLike[str], *, chunk_size: int | None = None) -> Bundle:
    """Load and validate a bundle; raise :class:`~dnnlik.errors.InvalidBundleError` listing every problem.

    A cached Zenodo record that fails validation was damaged locally (published
    files never change): it is fetched again, once.

    Args:
        source: a bundle folder, a ``.zip`` of one, a Zenodo reference or ``zoo:NAME``.
        chunk_size: rows per model run (larger batches run in chunks).

    Returns:
        The loaded bundle, valid.

    Raises:
        InvalidBundleError: the bundle is not valid (its ``report`` holds every problem).
        InvalidInputError: ``source`` names no zoo entry, or ``chunk_size`` is not an integer >= 1.
        DnnlikError: the bundle cannot be read or fetched (a missing file, the network...).
        MissingExtraError: a Zenodo reference without the ``zenodo`` extra installed.
    """
    if _is_zenodo(source):
        from .zenodo import fetch

        result = fetch(str(source))
        try:
            return load_local(result.bundle_path, chunk_size=chunk_size)
        except InvalidBundleError:
            if not result.from_cache:
                raise
        # Published files never change: a cached copy that fails is damaged locally. Fetch it again.
        return load_local(fetch(str(source), refresh=True).bundle_path, chunk_size=chunk_size)
    return load_local(_local_path(source), chunk_size=chunk_size)


def validate(source: str | os.PathLike[str]) -> Report:
    """Validate a bundle without loading it: a :class:`~dnnlik.report.Report` of every problem.

    For a Zenodo reference the record is fetched (or read from the cache) first; a
    record whose files are not a valid bundle gives its report, not an exception.

    Args:
        source: a bundle folder, a ``.zip`` of one, a Zenodo reference or ``zoo:NAME``.

    Returns:
        The report; ``report.ok`` tells whether the bundle is valid.

    Raises:
        InvalidInputError: ``source`` names no zoo entry.
        DnnlikError: a Zenodo record cannot be fetched (network, HTTP, integrity).
        MissingExtraError: a Zenodo reference without the ``zenodo`` extra installed.
    """
    if _is_zenodo(source):
        from .zenodo import validate_record

        return validate_record(str(source))
    return validate_local(_local_path(source))
