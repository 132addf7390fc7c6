"""Exceptions raised by dnnlik.

Every exception derives from :class:`DnnlikError`. Each message says what is
wrong and where (a file, a JSON pointer inside ``bundle.json``, a parameter
name, a command-line option), so that the CLI can print it as one line and
exit without a traceback.
"""

from __future__ import annotations

__all__ = [
    "DnnlikError",
    "InvalidInputError",
    "OutOfBoundsError",
    "BundleError",
    "InvalidBundleError",
    "NoGradientError",
    "MissingExtraError",
    "OptimizationError",
    "ModelTimeoutError",
    "OutputExistsError",
]


class DnnlikError(Exception):
    """Base class of every error dnnlik raises on purpose.

    ``where`` names the place of the problem (a path, a JSON pointer, an
    argument), when there is one; it is part of the message too.
    """

    def __init__(self, message: str, *, where: str | None = None) -> None:
        self.where = where
        self.bare_message = message
        super().__init__(f"{where}: {message}" if where else message)


class InvalidInputError(DnnlikError, ValueError):
    """Arguments given to a dnnlik function are malformed (shape, NaN, unknown name)."""


class OutOfBoundsError(InvalidInputError):
    """A parameter point lies outside the allowed bounds (raised with ``strict=True``)."""


class BundleError(DnnlikError):
    """A bundle cannot be read or used."""


class InvalidBundleError(BundleError):
    """A bundle failed validation; ``report`` holds every problem found."""

    def __init__(self, message: str, *, report: object = None, where: str | None = None) -> None:
        self.report = report
        super().__init__(message, where=where)


class NoGradientError(BundleError):
    """The bundle's model has no gradient output, so exact gradients are unavailable."""


class MissingExtraError(DnnlikError, ImportError):
    """An optional dependency group (``dnnlik[train]``, ``[zenodo]``, ``[plot]``) is missing."""

    def __init__(self, extra: str, feature: str) -> None:
        super().__init__(f"{feature} needs the optional '{extra}' dependencies: pip install 'dnnlik[{extra}]'")
        self.extra = extra


class OptimizationError(DnnlikError, RuntimeError):
    """A maximisation (best fit, profile) failed; no number is returned rather than a wrong one."""


class ModelTimeoutError(BundleError):
    """A model run was stopped because it took longer than the time allowed (a hostile or broken graph)."""


class OutputExistsError(InvalidInputError):
    """The output a call would write already exists and ``overwrite`` was not given.

    The message names the argument that allows replacing it, ``argument``
    (``overwrite`` by default: "already exists (pass overwrite=True to replace
    it)"), or, when there are other ways on, says them: ``hint``, in words that
    name the caller's arguments ("already exists; use resume to continue an
    interrupted run or overwrite to replace it"). The command line names its
    flags instead (:func:`dnnlik.cli._common.cli_message`).

    >>> str(OutputExistsError("out"))
    'out: already exists (pass overwrite=True to replace it)'
    >>> OutputExistsError("s.h5", hint="use resume to continue it").bare_message
    'already exists; use resume to continue it'

    Args:
        where: the output that exists.
        argument: the caller's argument that replaces it.
        hint: the alternatives, in words, instead of the default sentence.
    """

    def __init__(self, where: str, *, argument: str = "overwrite", hint: str | None = None) -> None:
        self.argument = argument
        self.hint = hint
        message = f"already exists; {hint}" if hint else f"already exists (pass {argument}=True to replace it)"
        super().__init__(message, where=where)
