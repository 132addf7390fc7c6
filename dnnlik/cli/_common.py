"""What every command shares: turning library errors into one clear line."""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

import click

from ..errors import DnnlikError, OutputExistsError

__all__ = ["clean_errors", "cli_message", "config_default", "format_option"]

F = TypeVar("F", bound=Callable[..., Any])


def cli_message(exc: DnnlikError) -> str:
    """The message of a library error as a command-line user needs it: arguments named as flags.

    The library speaks of its own arguments (``overwrite=True``); the command line of its options.
    """
    if isinstance(exc, OutputExistsError):
        flag = "--" + exc.argument.replace("_", "-")
        return f"{exc.where}: already exists (use {flag} to replace it)"
    return str(exc)


def config_default(config: Any, field: str) -> Any:
    """The default of ``field`` in the dataclass ``config``: the one place a CLI option's default comes from.

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Recipe:
    ...     epochs: int = 10
    >>> config_default(Recipe, "epochs")
    10
    """
    import dataclasses

    for f in dataclasses.fields(config):
        if f.name == field:
            if f.default is not dataclasses.MISSING:
                return f.default
            if f.default_factory is not dataclasses.MISSING:
                return f.default_factory()
            raise KeyError(f"{config.__name__}.{field} has no default")
    raise KeyError(f"{config.__name__} has no field {field!r}")


def clean_errors(func: F) -> F:
    """Report a :class:`DnnlikError` as ``Error: <message>`` with exit status 1, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DnnlikError as exc:
            raise click.ClickException(cli_message(exc)) from None

    return wrapper  # type: ignore[return-value]


def format_option(func: F) -> F:
    """``--format text|json``."""
    return click.option(
        "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
        help="Readable text or machine-readable JSON.",
    )(func)
