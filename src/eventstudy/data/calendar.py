"""Exchange calendars: the sessions an exchange held, to check a study's trading calendar.

A study's calendar is the sessions of its market series (the benchmark's non-missing dates). A
session the exchange held but the series lacks would silently turn the next day's return into a
two-day return (yfinance has dropped real ^GSPC sessions), so where the exchange of the market
series is known the two are compared and a missing session is an error naming the date.

The calendars come from ``exchange_calendars`` (maintained, MIT-licensed, the sessions and holiday
names of 50+ exchanges; ``pandas_market_calendars`` builds on it, so it is the smaller choice).
The exchange of a market series is known for the US benchmarks below; for any other series no
check is made (documented in docs/data.md).
"""

from __future__ import annotations

import warnings
from functools import cache
from typing import Any

import pandas as pd

from eventstudy.errors import DataError

#: Market series whose sessions are the New York Stock Exchange's.
US_BENCHMARKS = frozenset(
    {"^GSPC", "^SPX", "^IXIC", "^NDX", "^DJI", "^RUT", "^SOX", "^VIX", "SPY", "QQQ", "IWM",
     "DIA", "VTI", "SMH", "SOXX"}
)  # fmt: skip


def exchange_of(market: str) -> str | None:
    """The exchange (ISO 10383 MIC) whose sessions ``market``'s series follows, if known."""
    return "XNYS" if market in US_BENCHMARKS else None


@cache
def _calendar(exchange: str) -> Any:
    import exchange_calendars as xc

    with warnings.catch_warnings():
        # exchange_calendars 4.x on pandas 3 warns about pandas' own deprecations while it
        # builds a calendar; nothing for our users to act on.
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            return xc.get_calendar(exchange, start="1990-01-01")
        except ValueError:
            # Some calendars (XTKS) cannot be built before their rules are known (1997).
            factories = xc.calendar_utils.global_calendar_dispatcher._calendar_factories
            return xc.get_calendar(exchange, start=factories[exchange].bound_min())


def check_sessions(dates: pd.DatetimeIndex, exchange: str, market: str) -> None:
    """Every session ``exchange`` held between the first and last of ``dates`` must be among them;
    raises a :class:`DataError` naming the first one missing from ``market``'s series."""
    if len(dates) < 2:
        return
    calendar = _calendar(exchange)
    first, last = max(dates[0], calendar.first_session), min(dates[-1], calendar.last_session)
    if first > last:
        return
    held = calendar.sessions_in_range(first, last).tz_localize(None)
    missing = held.difference(dates)
    if len(missing):
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise DataError(
            f"the market series {market} has no price on {missing[0]:%Y-%m-%d}{more}, a session "
            f"{exchange} held: the next return would span two sessions; complete the series "
            "(refetch it, or fix the price file)"
        )


def closed_reason(exchange: str | None, date: pd.Timestamp) -> str:
    """Why ``exchange`` held no session on ``date``: the holiday's name, "weekend", or ""."""
    if exchange is None:
        return ""
    if date.day_of_week >= 5:
        return "weekend"
    calendar = _calendar(exchange)
    names = calendar.regular_holidays.holidays(date, date, return_name=True)
    if len(names):
        return str(names.iloc[0])
    return "holiday" if date in pd.DatetimeIndex(calendar.adhoc_holidays) else ""
