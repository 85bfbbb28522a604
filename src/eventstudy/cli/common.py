"""What every command shares: one-line errors with exit status 2, warnings as one line, and the
translation of the library's argument names into this command line's flags."""

from __future__ import annotations

import re
import sys
import warnings
from collections.abc import Callable
from functools import wraps
from typing import Any

import click

from eventstudy.errors import EventStudyError

EXIT_USER_ERROR = 2

#: Library arguments (as :func:`eventstudy.errors.argument` marks them) -> what to type here.
FLAGS: dict[str, str] = {
    "factors": "--factors FILE",
    "factor_data": "--factors FILE",
    "prices": "--prices",
    "shares": "--shares FILE",
    "strict=True": "--strict",
    "offline=False": "without --offline",
    "ticker": "--ticker",
    "column": "--column",
    "cache_dir": "--cache-dir",
    "jobs": "--jobs",
}
_MARKED = re.compile(r"`([a-z_]+)(?:=([^`]*))?`")


def cli_text(message: str) -> str:
    """A library message as the command line says it: ```strict=True``` -> ``--strict``,
    ```column=close``` -> ``--column close``."""

    def flag(m: re.Match[str]) -> str:
        name, value = m.group(1), m.group(2)
        whole = m.group(0)[1:-1]
        if whole in FLAGS:
            return FLAGS[whole]
        if name not in FLAGS:  # not an argument this command line has: leave it as written
            return m.group(0)
        return FLAGS[name] if value is None else f"{FLAGS[name]} {value}"

    return _MARKED.sub(flag, message)


def _show_warning(
    message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any
) -> None:
    """Warnings as one line each, as they happen (``warnings.showwarning`` signature)."""
    if issubclass(category, UserWarning):
        click.echo(f"eventstudy: warning: {cli_text(str(message))}", err=True)


def user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Report :class:`EventStudyError` as one line on stderr and exit with status 2."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("always", UserWarning)
            warnings.showwarning = _show_warning
            try:
                return func(*args, **kwargs)
            except EventStudyError as exc:
                click.echo(f"eventstudy: error: {cli_text(str(exc))}", err=True)
                sys.exit(EXIT_USER_ERROR)
            except KeyboardInterrupt:
                click.echo("eventstudy: interrupted", err=True)
                sys.exit(130)

    return wrapper
