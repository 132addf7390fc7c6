"""Reading, inspecting and writing bundles (no ONNX runtime needed here)."""

from .inspect import STATIC_CHECKS, Inspection, inspect_bundle
from .source import DOCUMENT_NAME, BundleSource, open_source
from .write import finalize_document, write_bundle, zip_bundle

__all__ = [
    "DOCUMENT_NAME",
    "STATIC_CHECKS",
    "BundleSource",
    "Inspection",
    "finalize_document",
    "inspect_bundle",
    "open_source",
    "write_bundle",
    "zip_bundle",
]
