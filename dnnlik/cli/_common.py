"""What every command shares: turning library errors into one clear line."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar

import click

from ..errors import DnnlikError, OutputExistsError

__all__ = ["clean_errors", "cli_message", "config_default", "format_option"]

F = TypeVar("F", bound=Callable[..., Any])
P = ParamSpec("P")
R = TypeVar("R")


def cli_message(exc: DnnlikError, flags: Mapping[str, str] | None = None) -> str:
    """The message of a library error as a command-line user needs it: arguments named as flags.

    The library speaks of its own arguments (``overwrite=True``, ``where="n_walkers"``);
    the command line of its options. This is the one place that translates: each
    command gives the map of its arguments to its flags.

    >>> from dnnlik.errors import InvalidInputError, OutputExistsError
    >>> cli_message(OutputExistsError("out"))
    'out: already exists (use --overwrite to replace it)'
    >>> cli_message(InvalidInputError("too few (use overwrite=True to start again)", where="n_walkers"),
    ...             {"n_walkers": "--walkers", "overwrite": "--overwrite"})
    '--walkers: too few (use --overwrite to start again)'

    Args:
        exc: the library's error.
        flags: the command's library argument -> flag map (``{"n_walkers": "--walkers"}``):
            ``where`` naming such an argument is shown as its flag, and ``ARGUMENT=True``
            in the message as the flag. The argument of an
            :class:`~dnnlik.errors.OutputExistsError` not in the map is shown as
            ``--`` + its name, ``_`` written ``-``.

    Returns:
        The message, on one line unless the library's was not.
    """
    flags = flags or {}
    if isinstance(exc, OutputExistsError) and exc.hint is None:
        flag = flags.get(exc.argument, "--" + exc.argument.replace("_", "-"))
        return f"{exc.where}: already exists (use {flag} to replace it)"
    text = exc.bare_message
    for argument, flag in flags.items():
        text = re.sub(rf"\b{re.escape(argument)}=True\b", flag.replace("\\", "\\\\"), text)
    where = flags.get(exc.where, exc.where) if exc.where else None
    return f"{where}: {text}" if where else text


def config_default(config: Any, field: str) -> Any:
    """The default of ``field`` in the dataclass ``config``: the one place a CLI option's default comes from.

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Recipe:
    ...     epochs: int = 10
    >>> config_default(Recipe, "epochs")
    10

    Args:
        config: a dataclass (the class).
        field: one of its fields.

    Returns:
        The field's default (a new one from its factory, if it has one).

    Raises:
        KeyError: no such field, or it has no default.
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


def clean_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Report a :class:`DnnlikError` as ``Error: <message>`` with exit status 1, never a traceback.

    Args:
        func: a command's function (the message names arguments as :func:`cli_message` does).

    Returns:
        The function, wrapped.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except DnnlikError as exc:
            raise click.ClickException(cli_message(exc)) from None

    return wrapper


def format_option(func: F | None = None, *, help: str = "Readable text or machine-readable JSON.") -> Any:
    """``--format text|json`` (parameter ``fmt``): ``@format_option``, or ``@format_option(help=...)``.

    >>> @click.command()
    ... @format_option(help="Table or JSON.")
    ... def show(fmt: str) -> None: ...
    >>> [p.name for p in show.params]
    ['fmt']
    """

    def apply(f: F) -> F:
        return click.option(
            "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True, help=help
        )(f)

    return apply if func is None else apply(func)
