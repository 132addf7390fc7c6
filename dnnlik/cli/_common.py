"""What every command shares: turning library errors into one clear line."""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

import click

from ..errors import DnnlikError

__all__ = ["clean_errors", "format_option"]

F = TypeVar("F", bound=Callable[..., Any])


def clean_errors(func: F) -> F:
    """Report a :class:`DnnlikError` as ``Error: <message>`` with exit status 1, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DnnlikError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper  # type: ignore[return-value]


def format_option(func: F) -> F:
    """``--format text|json``."""
    return click.option(
        "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
        help="Readable text or machine-readable JSON.",
    )(func)
