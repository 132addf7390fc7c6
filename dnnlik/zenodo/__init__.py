"""Archive bundles on Zenodo and fetch them back, verified (the ``zenodo`` extra).

- :func:`upload_bundle` (``dnnlik archive upload``): reserve a DOI, write it into
  the bundle's ``archive`` section, upload, verify names, sizes and MD5s, publish,
  write a receipt; resumable, and never publishes a deposition whose files differ.
- :func:`fetch` (``dnnlik fetch``, ``dnnlik.load("zenodo:NNN")``): download the
  checked listing's files into the cache only, check sizes and MD5s while they
  stream and the bundle's SHA-256 digests, validate, cache.

Importing this package is light: ``requests`` loads on first
use, and its absence raises :class:`~dnnlik.errors.MissingExtraError`.
"""

from __future__ import annotations

from .client import (
    MissingTokenError,
    Token,
    ZenodoAuthError,
    ZenodoClient,
    ZenodoError,
    ZenodoHTTPError,
    load_token,
)
from .fetch import FetchResult, ZenodoIntegrityError, cache_root, fetch
from .metadata import DEFAULT_TEMPLATE, load_template, zenodo_metadata
from .records import RecordFile, ZenodoReference, file_entries, is_zenodo_source, parse_reference
from .upload import DEFAULT_RECEIPTS, UploadResult, read_receipts, upload_bundle
from .verify import archived_reports, receipt_reports, validate_record, validate_target

__all__ = [
    "DEFAULT_RECEIPTS",
    "DEFAULT_TEMPLATE",
    "FetchResult",
    "MissingTokenError",
    "RecordFile",
    "Token",
    "UploadResult",
    "ZenodoAuthError",
    "ZenodoClient",
    "ZenodoError",
    "ZenodoHTTPError",
    "ZenodoIntegrityError",
    "ZenodoReference",
    "cache_root",
    "fetch",
    "file_entries",
    "is_zenodo_source",
    "load_template",
    "load_token",
    "parse_reference",
    "read_receipts",
    "upload_bundle",
    "zenodo_metadata",
    "archived_reports",
    "receipt_reports",
    "validate_record",
    "validate_target",
]
