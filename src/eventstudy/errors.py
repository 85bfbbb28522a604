"""Every exception and warning the package raises for the user's input or data.

Anything derived from :class:`EventStudyError` is a user-facing problem (bad study file, missing
data, ...): the CLI prints its one-line message and exits with status 2. Messages that tell the
user what to pass name the Python argument through :func:`argument` (rendered ```factor_data```);
the command line translates those to its flags (:mod:`eventstudy.cli.common`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


class EventStudyError(Exception):
    """A problem with the user's input or data, reported as one line without a traceback."""


class StudyFileError(EventStudyError, ValueError):
    """The study file (or a study's settings passed to the library) is unreadable or invalid."""


class DataError(EventStudyError, ValueError):
    """Prices, shares or factors are missing, malformed or do not cover what the study needs."""


class OfflineError(DataError):
    """Data would have to be fetched from the network, but the run is offline."""


class PartialFetchError(DataError):
    """A source delivered some tickers and not others.

    ``frame`` holds what it did deliver (prices or shares), ``failures`` maps every ticker it did
    not deliver to the reason. ``fatal`` is False when the failures are about those tickers
    (unknown symbol, no data in the window): the rest of a study can go on without them. It is True
    when something else stopped the fetch (a rate limit or network failure that outlasted the
    retries, the overall timeout): retrying later may work, and nothing should go on without them.
    """

    def __init__(
        self,
        message: str,
        frame: pd.DataFrame,
        failures: dict[str, str],
        *,
        fatal: bool = False,
    ) -> None:
        super().__init__(message)
        self.frame = frame
        self.failures = dict(failures)
        self.fatal = fatal


class EventDateWarning(UserWarning):
    """An event date was moved to the next trading session."""


class FetchWarning(UserWarning):
    """Some tickers could not be fetched and a run goes on without them."""


def listed(items: Sequence[str], limit: int = 10, sep: str = ", ") -> str:
    """The first ``limit`` items of a message's list, then how many more: ``A, B and 3 more``
    (``sep=", "``) or ``A: x; B: y; and 3 more`` (``sep="; "``)."""
    shown = sep.join(items[:limit])
    if len(items) <= limit:
        return shown
    return f"{shown}{' and' if sep == ', ' else sep + 'and'} {len(items) - limit} more"


def argument(name: str) -> str:
    """How a message names a Python argument the user can set, with its value where it matters
    (``argument("strict=True")`` -> ```strict=True```). The CLI renders it as the flag."""
    return f"`{name}`"
