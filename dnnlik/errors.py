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
        super().__init__(
            f"{feature} needs the optional '{extra}' dependencies: pip install 'dnnlik[{extra}]'"
        )
        self.extra = extra


class OptimizationError(DnnlikError, RuntimeError):
    """A maximisation (best fit, profile) failed; no number is returned rather than a wrong one."""


class ModelTimeoutError(BundleError):
    """A model run was stopped because it took longer than the time allowed (a hostile or broken graph)."""


class OutputExistsError(DnnlikError):
    """The output a call would write already exists and ``overwrite`` was not given."""

    def __init__(self, where: str, *, argument: str = "overwrite") -> None:
        self.argument = argument
        super().__init__(f"already exists (pass {argument}=True to replace it)", where=where)
