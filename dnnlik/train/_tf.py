"""Import TensorFlow and Keras on demand, with the ``train`` extra's install hint when they are missing."""

from __future__ import annotations

import os
from typing import Any

from ..errors import MissingExtraError

__all__ = ["import_tensorflow", "framework_versions"]


def import_tensorflow(feature: str = "training a DNNLikelihood") -> tuple[Any, Any]:
    """``(tensorflow, keras)``, or :class:`~dnnlik.errors.MissingExtraError` naming ``pip install 'dnnlik[train]'``."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import keras
        import tensorflow as tf
    except ImportError:
        raise MissingExtraError("train", feature) from None
    return tf, keras


def framework_versions() -> dict[str, str]:
    """Versions of TensorFlow and Keras (imports them)."""
    tf, keras = import_tensorflow()
    return {"tensorflow": str(tf.__version__), "keras": str(keras.__version__)}
