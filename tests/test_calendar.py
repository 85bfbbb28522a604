"""The study calendar against the exchange's (eventstudy.data.calendar): a session the exchange
held but the market series lacks is an error naming the date, never a silent two-day return; an
event on a holiday moves to the next session with the holiday's name."""

from __future__ import annotations

import pandas as pd
import pytest

from eventstudy import EventStudy
from eventstudy.data.calendar import check_sessions, closed_reason, exchange_of
from eventstudy.errors import DataError


def test_a_session_missing_from_the_market_series_is_an_error(sample_prices) -> None:
    gap = sample_prices[~((sample_prices.ticker == "^GSPC") & (sample_prices.date == "2024-03-15"))]
    with pytest.raises(
        DataError,
        match=r"the market series \^GSPC has no price on 2024-03-15, a "
        r"session XNYS held: the next return would span two sessions",
    ):
        EventStudy.from_prices(gap, market="^GSPC")
    # A firm's missing day is the panel's ordinary missing-data rule, not a calendar error.
    firm_gap = sample_prices[
        ~((sample_prices.ticker == "NVDA") & (sample_prices.date == "2024-03-15"))
    ]
    study = EventStudy.from_prices(firm_gap, market="^GSPC")
    assert study.panel.exchange == "XNYS"


def test_the_sample_calendar_is_the_nyse_calendar(sample_prices) -> None:
    dates = pd.DatetimeIndex(sorted(sample_prices.loc[sample_prices.ticker == "^GSPC", "date"]))
    check_sessions(dates, "XNYS", "^GSPC")  # 375 sessions, none missing
    assert exchange_of("^GSPC") == "XNYS" and exchange_of("MKT") is None


def test_holidays_are_named() -> None:
    assert closed_reason("XNYS", pd.Timestamp("2025-01-20")) == "Dr. Martin Luther King Jr. Day"
    assert closed_reason("XNYS", pd.Timestamp("2025-01-25")) == "weekend"
    assert closed_reason(None, pd.Timestamp("2025-01-20")) == ""


def test_an_event_on_a_holiday_says_which(sample_prices) -> None:
    study = EventStudy.from_prices(sample_prices, market="^GSPC")
    with pytest.warns(
        UserWarning,
        match=r"2024-12-25 \(Christmas\) is not a trading session; "
        r"day 0 is the next session, 2024-12-26",
    ):
        study.fit([{"name": "X", "date": "2024-12-25", "tickers": ["NVDA"]}])
