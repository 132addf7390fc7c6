"""Reading, inspecting and writing bundles (no ONNX runtime needed here).

- :mod:`~dnnlik.bundle.source`: :func:`open_source`, a bundle folder or zip read safely
  (no links, no traversal, size limits);
- :mod:`~dnnlik.bundle.document`: ``bundle.json`` parsed strictly; bounded JSON reading;
- :mod:`~dnnlik.bundle.inspect`: :func:`inspect_bundle`, every static check (the stages
  before the model runs); :mod:`~dnnlik.bundle.semantics` and
  :mod:`~dnnlik.bundle.onnx_checks` are two of them;
- :mod:`~dnnlik.bundle.write`: :func:`write_bundle`, :func:`zip_bundle` (atomic writes).

Running the model (test vectors, behaviour) and the loaded :class:`~dnnlik.evaluate.Bundle`
are in :mod:`dnnlik.evaluate`.
"""

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
