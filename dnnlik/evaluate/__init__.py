"""Evaluating bundles with onnxruntime: the Bundle class, validation, loading."""

from .model import Bundle
from .validate import load_local, validate

__all__ = ["Bundle", "load_local", "validate"]
