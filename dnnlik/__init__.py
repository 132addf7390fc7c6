"""dnnlik: publish, preserve and reuse likelihood functions as neural networks.

Three lines to evaluate a published likelihood::

    import dnnlik
    lik = dnnlik.load("path/to/bundle")          # a folder or a .zip, validated
    lik.logpdf({"mu": [0.0, 0.5, 1.0]})          # other parameters at nominal

Importing dnnlik is light: onnxruntime, onnx and jsonschema load on first
use, and TensorFlow only ever inside :mod:`dnnlik.train`. The public
subpackages and modules (:data:`PUBLIC_MODULES`: ``dnnlik.infer``,
``dnnlik.likelihoods``, ``dnnlik.sample``, ``dnnlik.fidelity``, ...) are
attributes of ``dnnlik``, each imported on first use.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ._version import __version__

# onnxruntime writes a device id and a small database under $XDG_CACHE_HOME/Microsoft at its
# import unless telemetry is off: reading a bundle must write nothing outside the folders the
# user chose. Set before onnxruntime is first imported (a user's own setting wins).
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
from .errors import DnnlikError

if TYPE_CHECKING:
    from . import builder as builder
    from . import bundle as bundle  # the PUBLIC_MODULES, for type checkers (re-exported: `as` the same name)
    from . import combine as combine
    from . import examples as examples
    from . import fidelity as fidelity
    from . import graph as graph
    from . import infer as infer
    from . import likelihoods as likelihoods
    from . import sample as sample
    from . import train as train
    from . import zenodo as zenodo
    from . import zoo as zoo
    from .api import load, validate
    from .evaluate import Bundle
    from .parameters import Parameter
    from .report import Report

PUBLIC_MODULES = (
    "builder",  # dnnlik build pyhf, dnnlik zoo build: sample, train, validate, publish
    "bundle",
    "combine",  # the package itself, callable: dnnlik.combine([...]) (dnnlik/combine/__init__.py)
    "examples",
    "fidelity",
    "graph",
    "infer",
    "likelihoods",
    "sample",
    "train",  # imports TensorFlow only when a network is trained, never at its own import
    "zenodo",
    "zoo",
)
"""The public subpackages (and the ``examples`` module), reachable as ``dnnlik.<name>`` without importing them first.

Not listed: ``cli`` (the command line), ``evaluate`` (its :class:`Bundle` is ``dnnlik.Bundle``)
and ``schema`` (the spec's schema files): import them by name when needed.
"""

__all__ = [
    "__version__",
    "DnnlikError",
    "Bundle",
    "Parameter",
    "Report",
    "load",
    "validate",
    "PUBLIC_MODULES",
    *PUBLIC_MODULES,
]

_LAZY = {
    "load": "api",
    "validate": "api",
    "Bundle": "evaluate",
    "Parameter": "parameters",
    "Report": "report",
    **{name: name for name in PUBLIC_MODULES},
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dnnlik' has no attribute {name!r}")
    import importlib

    imported = importlib.import_module(f".{module}", __name__)
    value = imported if module == name else getattr(imported, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
