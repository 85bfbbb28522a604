"""YahooSource through the real yfinance, against a fake Yahoo built from the real sample.

Nothing here is mocked but the HTTP transport (see fakeyahoo.py): yfinance does its own cookie and
crumb handshake, timezone lookup and JSON parsing. Real network access is refused outright.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from eventstudy.errors import DataError
from eventstudy.sources.base import PRICE_COLUMNS, SHARES_COLUMNS, PriceSource
from eventstudy.sources.yahoo import YahooSource
from tests.fakeyahoo import (
    CRUMB,
    YAHOO_HOSTS,
    FakeYahooSession,
    UnexpectedHostError,
    isolated_yfinance,
    make_fake_session,
    session_open_timestamps,
)

START, END = pd.Timestamp("2024-12-01"), pd.Timestamp("2025-02-28")

pytestmark = pytest.mark.sample


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prices(sample_prices: pd.DataFrame) -> pd.DataFrame:
    """The real sample (conftest skips, or fails in CI, when ../shared/data is absent)."""
    return sample_prices


@pytest.fixture(scope="module")
def shares(sample_shares: pd.DataFrame) -> pd.DataFrame:
    return sample_shares


class RealNetworkError(AssertionError):
    """Something tried to open a real connection."""


@pytest.fixture(autouse=True)
def no_real_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Refuse sockets, DNS and curl_cffi (yfinance's default transport, which bypasses Python
    sockets), and fail the test afterwards if anything tried, even if yfinance swallowed it."""
    attempts: list[str] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(repr(args[:3]))
        raise RealNetworkError("real network access attempted in a test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    try:
        from curl_cffi.requests import Session as CurlSession
    except ImportError:  # yfinance can run on plain requests
        pass
    else:
        monkeypatch.setattr(CurlSession, "request", refuse)
    yield attempts
    assert attempts == [], f"real network access attempted: {attempts}"


@pytest.fixture(autouse=True)
def yf_sandbox(tmp_path: Path) -> Iterator[Path]:
    """Fresh yfinance state per test; its sqlite caches go to tmp_path, not the user's home."""
    cache = tmp_path / "yfinance-cache"
    with isolated_yfinance(cache):
        yield cache


def _expected(prices: pd.DataFrame, tickers: list[str], start, end) -> pd.DataFrame:
    rows = prices[prices["ticker"].isin(tickers) & prices["date"].between(start, end)]
    rows = rows.sort_values(["ticker", "date"], ignore_index=True)[PRICE_COLUMNS].copy()
    rows["volume"] = rows["volume"].astype(float)
    return rows


def _assert_prices_equal(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(got.columns) == PRICE_COLUMNS
    assert got["date"].dtype == "datetime64[ns]"
    assert (got["date"] == got["date"].dt.normalize()).all()
    pd.testing.assert_frame_equal(
        got.astype({"ticker": object}),
        expected.astype({"ticker": object}),
        check_dtype=False,
        rtol=1e-6,
        atol=0,
    )


def _epoch_ny_midnight(day: str) -> int:
    return int(pd.Timestamp(day).tz_localize("America/New_York").timestamp())


# -- the fake itself -------------------------------------------------------------------------------


def test_fake_stamps_daily_bars_at_the_new_york_open() -> None:
    stamps = session_open_timestamps(pd.DatetimeIndex(["2025-01-27", "2024-07-01"]))
    # 09:30 EST = 14:30 UTC in January, 09:30 EDT = 13:30 UTC in July.
    assert list(stamps) == [
        int(pd.Timestamp("2025-01-27 14:30", tz="UTC").timestamp()),
        int(pd.Timestamp("2024-07-01 13:30", tz="UTC").timestamp()),
    ]


def test_fake_answers_in_yahoo_chart_format(prices: pd.DataFrame) -> None:
    session = make_fake_session(prices)
    url = "https://query2.finance.yahoo.com/v8/finance/chart/NVDA"
    params = {
        "period1": _epoch_ny_midnight("2025-01-24"),
        "period2": _epoch_ny_midnight("2025-01-28"),
    }
    body = session.get(url, params=params).json()
    result = body["chart"]["result"][0]
    assert body["chart"]["error"] is None
    assert result["meta"]["exchangeTimezoneName"] == "America/New_York"
    assert result["meta"]["gmtoffset"] == -14400  # the sample's last session, 2025-03-31, is EDT
    assert result["timestamp"] == [1737729000, 1737988200]  # Fri 24 and Mon 27 Jan, 14:30 UTC
    assert result["indicators"]["quote"][0]["close"] == [142.62, 118.42]
    assert result["indicators"]["adjclose"][0]["adjclose"] == [142.573273, 118.38121]
    assert result["indicators"]["quote"][0]["volume"] == [234657600, 818830900]

    missing = session.get("https://query2.finance.yahoo.com/v8/finance/chart/ZZZZ?range=1d")
    assert missing.status_code == 404
    assert missing.json()["chart"] == {
        "result": None,
        "error": {"code": "Not Found", "description": "No data found, symbol may be delisted"},
    }
    with pytest.raises(UnexpectedHostError):
        session.get("https://example.com/")
    assert session.server.blocked == ["https://example.com/"]


# -- prices ----------------------------------------------------------------------------------------


def test_prices_equal_the_sample_exactly(prices: pd.DataFrame) -> None:
    tickers = ["NVDA", "^GSPC", "AVGO"]
    source = YahooSource(session=make_fake_session(prices), sleep=pytest.fail)
    got = source.fetch_prices(tickers, START, END)

    _assert_prices_equal(got, _expected(prices, tickers, START, END))
    nvda = got[got["ticker"] == "NVDA"].set_index("date")["close"]
    assert nvda[pd.Timestamp("2025-01-24")] == pytest.approx(142.62, rel=1e-9)
    assert nvda[pd.Timestamp("2025-01-27")] == pytest.approx(118.42, rel=1e-9)
    # Both ends inclusive: the first session after START and END itself (a Friday).
    for _, rows in got.groupby("ticker"):
        assert rows["date"].min() == pd.Timestamp("2024-12-02")
        assert rows["date"].max() == pd.Timestamp("2025-02-28")


def test_whole_sample_keeps_exchange_dates_across_dst_changes(prices: pd.DataFrame) -> None:
    # 2023-10-02 .. 2025-03-31 crosses four DST switches; bars are stamped 13:30 or 14:30 UTC, so
    # converting to UTC dates or mishandling the offset would shift or drop sessions.
    tickers = ["NVDA", "^SOX", "SPY"]
    start, end = pd.Timestamp("2023-10-02"), pd.Timestamp("2025-03-31")
    got = YahooSource(session=make_fake_session(prices), sleep=pytest.fail).fetch_prices(
        tickers, start, end
    )
    expected = _expected(prices, tickers, start, end)
    assert len(got) == 3 * 375
    _assert_prices_equal(got, expected)
    # ^SOX has no volume: Yahoo sends 0, yfinance keeps 0, we report unknown as NaN.
    assert got.loc[got["ticker"] == "^SOX", "volume"].isna().all()


def test_rate_limited_twice_then_success_backs_off(prices: pd.DataFrame) -> None:
    # yfinance re-sends a request once after any 4xx (switching cookie strategy) and only then
    # raises YFRateLimitError, so two rate-limited attempts take four 429 answers.
    session = make_fake_session(prices, fail_429={"NVDA": 4})
    sleeps: list[float] = []
    source = YahooSource(session=session, pause=1.0, backoff=2.0, sleep=sleeps.append)

    got = source.fetch_prices(["NVDA"], START, END)

    _assert_prices_equal(got, _expected(prices, ["NVDA"], START, END))
    assert len(sleeps) == 2
    assert 1.0 <= sleeps[0] <= 1.25 and 2.0 <= sleeps[1] <= 2.5  # pause * backoff**k + jitter
    assert sleeps[1] > sleeps[0]
    statuses = [c.status for c in session.server.chart_calls("NVDA")]
    assert statuses == [429, 429, 429, 429, 200, 200]


def test_persistent_rate_limit_gives_up_with_a_data_error(prices: pd.DataFrame) -> None:
    session = make_fake_session(prices, fail_429={"NVDA": 10**6})
    sleeps: list[float] = []
    source = YahooSource(session=session, retries=3, sleep=sleeps.append)

    with pytest.raises(DataError, match=r"rate limit.*NVDA.*4 attempt"):
        source.fetch_prices(["NVDA", "AVGO"], START, END)

    assert len(sleeps) == 3
    assert sleeps == sorted(sleeps)
    assert len(session.server.chart_calls("NVDA")) == 2 * 4  # two 429s per yfinance attempt
    assert session.server.chart_calls("AVGO") == []  # no point going on once throttled


@pytest.mark.parametrize(
    "tz_info_fetches",
    [0, 2],
    ids=["yfinance-tries-quoteSummary-fallback", "yfinance-fallback-used-up"],
)
def test_unknown_ticker_among_several_is_named_alone(
    prices: pd.DataFrame, tz_info_fetches: int
) -> None:
    # yfinance falls back to quoteSummary for the first two failed timezone lookups of a process
    # (that path raises an HTTPError), and afterwards raises YFTzMissingError: both must read
    # as "no prices for ZZZZ".
    from yfinance import base as yf_base

    yf_base._tz_info_fetch_ctr = tz_info_fetches  # restored by the yf_sandbox fixture
    session = make_fake_session(prices)
    source = YahooSource(session=session, sleep=pytest.fail)  # a 404 is not worth a retry

    with pytest.raises(DataError) as caught:
        source.fetch_prices(["NVDA", "ZZZZ", "AVGO"], START, END)

    message = str(caught.value)
    assert message.startswith("Yahoo returned no prices for ZZZZ between 2024-12-01 and 2025-02-28")
    assert "NVDA" not in message and "AVGO" not in message
    assert "\n" not in message
    assert {c.status for c in session.server.chart_calls("ZZZZ")} == {404}
    assert len(session.server.chart_calls("AVGO", dated=True)) == 1  # went on after ZZZZ


def test_known_ticker_answered_404_is_reported(prices: pd.DataFrame) -> None:
    session = make_fake_session(prices, not_found={"AVGO"})
    with pytest.raises(DataError, match=r"no prices for AVGO between") as caught:
        YahooSource(session=session, sleep=pytest.fail).fetch_prices(["NVDA", "AVGO"], START, END)
    assert "NVDA" not in str(caught.value)


def test_empty_response_is_a_data_error(prices: pd.DataFrame) -> None:
    session = make_fake_session(prices, empty={"NVDA"})
    with pytest.raises(DataError, match=r"Yahoo returned no prices for NVDA between"):
        YahooSource(session=session, sleep=pytest.fail).fetch_prices(["NVDA"], START, END)
    assert [c.status for c in session.server.chart_calls("NVDA", dated=True)] == [200]


def test_window_without_sessions_is_a_data_error(prices: pd.DataFrame) -> None:
    source = YahooSource(session=make_fake_session(prices), sleep=pytest.fail)
    with pytest.raises(DataError, match=r"no prices for NVDA between 2025-01-25 and 2025-01-26"):
        source.fetch_prices(["NVDA"], pd.Timestamp("2025-01-25"), pd.Timestamp("2025-01-26"))


def test_ticker_with_only_nan_closes_is_a_data_error(prices: pd.DataFrame) -> None:
    nan_rows = prices[prices["ticker"] == "AVGO"].assign(ticker="NANT", close=None, adj_close=None)
    session = make_fake_session(pd.concat([prices, nan_rows], ignore_index=True))
    with pytest.raises(DataError, match=r"no prices for NANT between") as caught:
        YahooSource(session=session, sleep=pytest.fail).fetch_prices(["AVGO", "NANT"], START, END)
    assert "AVGO" not in str(caught.value)


def test_connection_error_is_retried(prices: pd.DataFrame) -> None:
    # yfinance would log this and return an empty frame ("possibly delisted"); YahooSource turns
    # its exceptions on so that a network blip is retried rather than reported as a bad ticker.
    session = make_fake_session(prices, fail_connect={"NVDA": 1})
    sleeps: list[float] = []
    got = YahooSource(session=session, sleep=sleeps.append).fetch_prices(["NVDA"], START, END)
    _assert_prices_equal(got, _expected(prices, ["NVDA"], START, END))
    assert len(sleeps) == 1


def test_network_down_gives_up_with_a_data_error(prices: pd.DataFrame) -> None:
    session = make_fake_session(prices, fail_connect={"NVDA": 10**6})
    sleeps: list[float] = []
    source = YahooSource(session=session, retries=2, sleep=sleeps.append)
    with pytest.raises(DataError, match=r"could not reach Yahoo.*NVDA.*ConnectionError"):
        source.fetch_prices(["NVDA"], START, END)
    assert len(sleeps) == 2


def test_yfinance_error_switch_is_restored(prices: pd.DataFrame) -> None:
    import yfinance

    before = yfinance.config.debug.hide_exceptions
    session = make_fake_session(prices)
    YahooSource(session=session, sleep=pytest.fail).fetch_prices(["NVDA"], START, END)
    with pytest.raises(DataError):
        YahooSource(session=session, sleep=pytest.fail).fetch_prices(["ZZZZ"], START, END)
    assert yfinance.config.debug.hide_exceptions == before


def test_duplicates_empty_lists_and_reversed_windows(prices: pd.DataFrame) -> None:
    session = make_fake_session(prices)
    source = YahooSource(session=session, sleep=pytest.fail)
    got = source.fetch_prices(["NVDA", "NVDA"], START, END)
    assert got["date"].is_unique
    assert len(session.server.chart_calls("NVDA", dated=True)) == 1

    empty = source.fetch_prices([], START, END)
    assert list(empty.columns) == PRICE_COLUMNS and empty.empty
    with pytest.raises(DataError, match="before it starts"):
        source.fetch_prices(["NVDA"], END, START)


# -- shares ----------------------------------------------------------------------------------------


def test_shares_history_from_get_shares_full(prices: pd.DataFrame, shares: pd.DataFrame) -> None:
    session = make_fake_session(prices, shares)
    source = YahooSource(session=session, sleep=pytest.fail)

    got = source.fetch_shares(
        ["NVDA", "^GSPC", "ASML", "AVGO"], pd.Timestamp("2024-10-01"), pd.Timestamp("2025-03-31")
    )

    assert list(got.columns) == SHARES_COLUMNS
    assert got["as_of"].dtype == "datetime64[ns]"
    assert set(got["ticker"]) == {"NVDA", "AVGO"}  # the index and ASML have no share history
    assert (got["source"] == "yahoo").all()
    nvda = got[got["ticker"] == "NVDA"].set_index("as_of")["shares_outstanding"]
    assert list(nvda.index) == list(pd.to_datetime(["2024-11-15", "2025-01-26", "2025-02-21"]))
    assert nvda[pd.Timestamp("2025-01-26")] == 24_477_000_000
    timeseries = [c for c in session.calls if "fundamentals-timeseries" in c.path]
    assert len(timeseries) == 4 and {c.status for c in timeseries} == {200}


def test_shares_end_is_inclusive(prices: pd.DataFrame, shares: pd.DataFrame) -> None:
    source = YahooSource(session=make_fake_session(prices, shares), sleep=pytest.fail)
    got = source.fetch_shares(["NVDA"], pd.Timestamp("2025-01-26"), pd.Timestamp("2025-01-26"))
    assert got[["as_of", "shares_outstanding"]].values.tolist() == [
        [pd.Timestamp("2025-01-26"), 24_477_000_000.0]
    ]


def test_shares_unknown_ticker_is_absent_not_an_error(
    prices: pd.DataFrame, shares: pd.DataFrame
) -> None:
    source = YahooSource(session=make_fake_session(prices, shares), sleep=pytest.fail)
    got = source.fetch_shares(["ZZZZ"], START, END)
    assert got.empty and list(got.columns) == SHARES_COLUMNS


def test_shares_rate_limit_is_retried(prices: pd.DataFrame, shares: pd.DataFrame) -> None:
    sleeps: list[float] = []
    session = make_fake_session(prices, shares, fail_429={"NVDA": 2})
    got = YahooSource(session=session, sleep=sleeps.append).fetch_shares(["NVDA"], START, END)
    assert got["shares_outstanding"].tolist() == [24_477_000_000.0, 24_400_000_000.0]
    assert len(sleeps) == 1


# -- what went over the (fake) wire ----------------------------------------------------------------


def test_requests_are_the_expected_yahoo_urls(prices: pd.DataFrame) -> None:
    session = make_fake_session(prices)
    YahooSource(session=session, sleep=pytest.fail).fetch_prices(["NVDA", "^GSPC"], START, END)

    server = session.server
    assert server.blocked == [] and server.unhandled == []
    assert {c.host for c in session.calls} <= YAHOO_HOSTS
    # A fresh yfinance (the sandbox works): cookie first, then crumb, then data.
    assert [c.host for c in session.calls[:2]] == ["fc.yahoo.com", "query1.finance.yahoo.com"]
    assert session.calls[1].path == "/v1/test/getcrumb"
    for ticker in ["NVDA", "^GSPC"]:
        lookups = server.chart_calls(ticker, dated=False)
        assert [c.params.get("range") for c in lookups] == ["1d"]  # timezone lookup
        (dated,) = server.chart_calls(ticker, dated=True)
        assert dated.host == "query2.finance.yahoo.com"
        assert dated.params["interval"] == "1d"
        assert dated.params["crumb"] == CRUMB
        # END inclusive -> yfinance's exclusive end is the next midnight in New York.
        assert int(dated.params["period1"]) == _epoch_ny_midnight("2024-12-01")
        assert int(dated.params["period2"]) == _epoch_ny_midnight("2025-03-01")
    assert server.chart_calls("^GSPC")[0].url.startswith(
        "https://query2.finance.yahoo.com/v8/finance/chart/%5EGSPC?"
    )
    assert len(session.calls) == 2 + 2 * 2


def test_source_attributes_and_validation() -> None:
    source = YahooSource()
    assert isinstance(source, PriceSource)
    assert source.name == "yahoo" and source.uses_network is True
    for bad in ({"retries": -1}, {"pause": -1.0}, {"backoff": 0.5}, {"timeout": 0}):
        with pytest.raises(ValueError):
            YahooSource(**bad)


def test_make_fake_session_is_a_requests_session(prices: pd.DataFrame) -> None:
    import requests

    session = make_fake_session(prices)
    assert isinstance(session, FakeYahooSession) and isinstance(session, requests.Session)
