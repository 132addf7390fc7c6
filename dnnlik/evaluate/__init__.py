"""Evaluating bundles with onnxruntime: the loaded :class:`Bundle`, validation of a local bundle, loading.

Where things are:

- :mod:`~dnnlik.evaluate.loaded_bundle`: :class:`Bundle`, a loaded, validated
  bundle (``logpdf``, ``grad_logpdf``, ``run``...);
- :mod:`~dnnlik.evaluate.validation`: :func:`validate_local` (every problem of
  a bundle folder or zip, as a report) and :func:`load_local` (validate, then
  return the :class:`Bundle`);
- :mod:`~dnnlik.evaluate.session`, :mod:`~dnnlik.evaluate.test_vectors`,
  :mod:`~dnnlik.evaluate.behaviour`: the onnxruntime sessions, and the two
  runtime stages of validation.

The things called "validate", and what each validates:

- :func:`dnnlik.validate` (and ``dnnlik validate`` on the command line): any
  source, a path, a Zenodo reference or a ``zoo:`` name;
- :func:`validate_local`: a bundle folder or zip (what the others end in);
- :func:`dnnlik.zenodo.validate_record`: a Zenodo record, fetched;
  :func:`dnnlik.zenodo.validate_target`: a path or a Zenodo reference, as the
  CLI takes it;
- :func:`dnnlik.zoo.validate_all`: every entry of the zoo index.
"""

from .loaded_bundle import Bundle
from .validation import load_local, validate_local

__all__ = ["Bundle", "load_local", "validate_local"]
