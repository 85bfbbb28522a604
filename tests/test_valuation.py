"""Dollar effects against a hand computation from the sample's closes and share counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eventstudy import Event, EventStudy


@pytest.fixture(scope="module")
def results(sample_prices, sample_shares):
    es = EventStudy.from_prices(sample_prices, market="^GSPC", shares=sample_shares,
                                car_windows=[(0, 0), (-1, 1), (-5, 5)])
    return es.fit([Event(name="R1", date="2025-01-27", tickers=["NVDA", "AMD", "ASML", "MU"])])


def _closes(sample_prices: pd.DataFrame, ticker: str) -> pd.Series:
    rows = sample_prices[sample_prices.ticker == ticker]
    return rows.set_index("date")["close"]


def test_raw_and_abnormal_dollar_change_by_hand(results, sample_prices) -> None:
    close = _closes(sample_prices, "NVDA")
    ar = results.ar_frame().query("ticker == 'NVDA'").set_index("date")["ar"]
    val = results.valuation_frame().query("ticker == 'NVDA'").set_index(["start", "end"])
    shares = 24_477e6
    dates = list(close.index)
    d0 = dates.index(pd.Timestamp("2025-01-27"))
    for start, end in [(0, 0), (-1, 1), (-5, 5)]:
        raw = shares * (close.iloc[d0 + end] - close.iloc[d0 + start - 1])
        abnormal = sum(
            ar[dates[d0 + t]] * shares * close.iloc[d0 + t - 1] for t in range(start, end + 1)
        )
        row = val.loc[(start, end)]
        assert row["raw_dollar_change"] == pytest.approx(raw, rel=1e-12)
        assert row["abnormal_dollar_change"] == pytest.approx(abnormal, rel=1e-12)
        assert row["market_value"] == pytest.approx(shares * 142.62, rel=1e-12)
        assert row["shares_as_of"] == "2025-01-26"
    # The day-0 numbers the README and the issue quote.
    assert val.loc[(0, 0), "raw_dollar_change"] == pytest.approx(-592.3434e9, rel=1e-6)


def test_no_look_ahead_for_shares(results, sample_prices, sample_shares) -> None:
    val = results.valuation_frame().set_index(["ticker", "start", "end"])
    v3 = EventStudy.from_prices(sample_prices, market="^GSPC", shares=sample_shares).fit(
        [Event(name="V3", date="2024-12-26", tickers=["TSM", "NVDA"])]
    )
    tsm = v3.valuation_frame().set_index(["ticker", "start", "end"]).loc[("TSM", 0, 0)]
    # TSM's only count is dated 2024-12-31, after the V3 release (2024-12-26): n/a, with the reason.
    assert np.isnan(tsm["raw_dollar_change"]) and np.isnan(tsm["market_value"])
    assert "earliest count is as of 2024-12-31" in tsm["note"]
    asml = val.loc[("ASML", 0, 0)]
    assert asml["note"] == "no shares outstanding for ASML"
    mu = val.loc[("MU", 0, 0)]  # counts on 2024-12-12 and 2025-03-13: the first one applies
    assert mu["shares_outstanding"] == 1_114_171_932 and mu["shares_as_of"] == "2024-12-12"
    # The abnormal return is still reported where the dollar value is not.
    car = v3.car_frame().query("ticker == 'TSM' and start == 0 and end == 0")["car"].iloc[0]
    assert tsm["car"] == pytest.approx(car)


def test_valuation_without_prices_or_shares_says_why(sample_prices) -> None:
    wide = sample_prices.pivot(index="date", columns="ticker", values="adj_close")
    res = EventStudy.from_prices(wide, market="^GSPC").fit(
        [Event(name="R1", date="2025-01-27", tickers=["NVDA"])]
    )
    val = res.valuation_frame()
    assert val["note"].eq("no unadjusted close prices").all()
    assert val["raw_dollar_change"].isna().all()
