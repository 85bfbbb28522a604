"""YahooSource through the real yfinance, against a fake Yahoo built from the real sample.

Nothing here is mocked but the HTTP transport (see fakeyahoo.py): yfinance does its own cookie and
crumb handshake, timezone lookup and JSON parsing. Real network access is refused outright.
"""

from __future__ import annotations

import socket
import warnings
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from eventstudy.data.cached import CachedSource
from eventstudy.data.sources.base import PRICE_COLUMNS, SHARES_COLUMNS, PriceSource
from eventstudy.data.sources.yahoo import YahooSource, _yfinance_raising
from eventstudy.data.store import PriceStore
from eventstudy.errors import DataError, PartialFetchError
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


def test_persistent_rate_limit_stops_the_fetch(prices: pd.DataFrame) -> None:
    # One worker: AVGO comes after NVDA, and a rate limit that outlasts the retries is not about
    # NVDA, so AVGO is not even tried. The error is fatal: a study must not go on without them.
    session = make_fake_session(prices, fail_429={"NVDA": 10**6})
    sleeps: list[float] = []
    source = YahooSource(session=session, retries=3, sleep=sleeps.append, workers=1)

    with pytest.raises(PartialFetchError, match=r"rate limit.*NVDA.*4 attempt") as caught:
        source.fetch_prices(["NVDA", "AVGO"], START, END)

    assert caught.value.fatal
    assert caught.value.failures == {
        "NVDA": "Yahoo rate limit (HTTP 429) outlasted 4 attempt(s)",
        "AVGO": "not fetched: Yahoo rate limit (HTTP 429) outlasted 4 attempt(s)",
    }
    assert caught.value.frame.empty
    assert len(sleeps) == 3
    assert sleeps == sorted(sleeps)
    assert len(session.server.chart_calls("NVDA")) == 2 * 4  # two 429s per yfinance attempt
    assert session.server.chart_calls("AVGO") == []  # no point going on once throttled


def test_rate_limit_keeps_what_other_workers_fetched(prices: pd.DataFrame) -> None:
    session = make_fake_session(prices, fail_429={"NVDA": 10**6})
    source = YahooSource(session=session, retries=1, sleep=lambda s: None, workers=4)
    with pytest.raises(PartialFetchError) as caught:
        source.fetch_prices(["AVGO", "AMD", "NVDA"], START, END)
    error = caught.value
    # AVGO ran first (alone: see _fetch_each), AMD beside NVDA; what finished travels with the
    # error, and every ticker is either delivered or named.
    assert error.fatal and "NVDA" in error.failures and "AVGO" not in error.failures
    delivered = sorted(set(error.frame["ticker"]))
    assert "AVGO" in delivered and set(delivered) | set(error.failures) == {"AVGO", "AMD", "NVDA"}
    assert not set(delivered) & set(error.failures)
    _assert_prices_equal(error.frame, _expected(prices, delivered, START, END))
    assert f"({len(delivered)} of 3 tickers fetched)" in str(error)


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

    with pytest.raises(PartialFetchError) as caught:
        source.fetch_prices(["NVDA", "ZZZZ", "AVGO"], START, END)

    message = str(caught.value)
    assert message.startswith("Yahoo returned no prices for ZZZZ between 2024-12-01 and 2025-02-28")
    assert "NVDA" not in message and "AVGO" not in message
    assert "\n" not in message
    assert {c.status for c in session.server.chart_calls("ZZZZ")} == {404}
    assert len(session.server.chart_calls("AVGO", dated=True)) == 1  # went on after ZZZZ
    # A partial failure about the ticker itself: the others are delivered with the error.
    assert not caught.value.fatal and list(caught.value.failures) == ["ZZZZ"]
    _assert_prices_equal(caught.value.frame, _expected(prices, ["AVGO", "NVDA"], START, END))


def test_known_ticker_answered_404_is_reported(prices: pd.DataFrame) -> None:
    session = make_fake_session(prices, not_found={"AVGO"})
    with pytest.raises(PartialFetchError, match=r"no prices for AVGO between") as caught:
        YahooSource(session=session, sleep=pytest.fail).fetch_prices(["NVDA", "AVGO"], START, END)
    assert "NVDA" not in str(caught.value)
    assert caught.value.failures == {"AVGO": "Yahoo answered HTTP 404 (unknown symbol?)"}
    assert set(caught.value.frame["ticker"]) == {"NVDA"}


def test_empty_response_is_a_data_error(prices: pd.DataFrame) -> None:
    session = make_fake_session(prices, empty={"NVDA"})
    with pytest.raises(PartialFetchError, match=r"Yahoo returned no prices for NVDA between") as e:
        YahooSource(session=session, sleep=pytest.fail).fetch_prices(["NVDA"], START, END)
    assert [c.status for c in session.server.chart_calls("NVDA", dated=True)] == [200]
    assert not e.value.fatal and list(e.value.failures) == ["NVDA"] and e.value.frame.empty


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
    with pytest.raises(
        DataError, match=r"cannot reach Yahoo Finance: ConnectionError .*while fetching prices for "
        r"NVDA; gave up after 3 attempt"
    ):
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


def test_shares_connection_error_is_retried_not_taken_for_no_history(
    prices: pd.DataFrame, shares: pd.DataFrame
) -> None:
    # With yfinance's default error handling a failed share request comes back as None, which
    # would be stored as "this ticker has no share counts" and never asked again.
    sleeps: list[float] = []
    session = make_fake_session(prices, shares, fail_connect={"NVDA": 1})
    got = YahooSource(session=session, sleep=sleeps.append).fetch_shares(["NVDA"], START, END)
    assert got["shares_outstanding"].tolist() == [24_477_000_000.0, 24_400_000_000.0]
    assert len(sleeps) == 1


def test_shares_persistent_rate_limit_is_fatal_and_keeps_the_others(
    prices: pd.DataFrame, shares: pd.DataFrame
) -> None:
    session = make_fake_session(prices, shares, fail_429={"NVDA": 10**6})
    source = YahooSource(session=session, retries=1, sleep=lambda s: None, workers=1)
    with pytest.raises(PartialFetchError, match="rate limit") as caught:
        source.fetch_shares(["AVGO", "NVDA", "AMD"], START, END)
    assert caught.value.fatal
    assert list(caught.value.failures) == ["NVDA", "AMD"]  # AMD was never started
    assert set(caught.value.frame["ticker"]) == {"AVGO"}


# -- concurrency and the overall timeout -----------------------------------------------------------


def test_many_tickers_at_once_equal_the_sample(prices: pd.DataFrame) -> None:
    import yfinance

    tickers = ["NVDA", "AVGO", "AMD", "TSM", "MU", "ASML", "^GSPC", "SPY"]
    before = yfinance.config.debug.hide_exceptions
    session = make_fake_session(prices)
    got = YahooSource(session=session, sleep=pytest.fail, workers=4).fetch_prices(
        tickers, START, END
    )
    _assert_prices_equal(got, _expected(prices, tickers, START, END))
    assert yfinance.config.debug.hide_exceptions == before
    assert not [f for f in warnings.filters if "yfinance" in str(getattr(f[3], "pattern", f[3]))]
    # yfinance's handshake happened once, not once per thread.
    assert sum(c.path == "/v1/test/getcrumb" for c in session.calls) == 1
    for ticker in tickers:
        assert len(session.server.chart_calls(ticker, dated=True)) == 1


def test_error_switch_stays_off_until_the_last_thread_leaves() -> None:
    import threading

    import yfinance

    debug = yfinance.config.debug
    before = debug.hide_exceptions
    inside, release, seen = threading.Event(), threading.Event(), []

    def long_fetch() -> None:
        with _yfinance_raising():
            inside.set()
            release.wait(5)
            seen.append(debug.hide_exceptions)

    worker = threading.Thread(target=long_fetch)
    worker.start()
    assert inside.wait(5)
    with _yfinance_raising():  # a short fetch in this thread, entirely inside the long one
        assert debug.hide_exceptions is False
    # Saving on entry and restoring on exit per thread would have switched it back on here.
    assert debug.hide_exceptions is False
    release.set()
    worker.join(5)
    assert seen == [False]
    assert debug.hide_exceptions == before


def test_overall_timeout_does_not_sleep_past_the_deadline(prices: pd.DataFrame) -> None:
    session = make_fake_session(prices, fail_429={"NVDA": 10**6})
    sleeps: list[float] = []
    source = YahooSource(
        session=session, pause=100.0, sleep=sleeps.append, workers=1, total_timeout=30
    )
    with pytest.raises(PartialFetchError, match="overall fetch timeout of 30 s") as caught:
        source.fetch_prices(["AVGO", "NVDA", "AMD"], START, END)
    assert sleeps == []  # a 100 s backoff cannot end before the deadline: give up at once
    assert caught.value.fatal and set(caught.value.frame["ticker"]) == {"AVGO"}
    assert caught.value.failures == {
        "NVDA": "overall timeout of 30 s reached",
        "AMD": "not fetched: overall timeout of 30 s reached",
    }


def test_overall_timeout_abandons_requests_in_flight(prices: pd.DataFrame) -> None:
    import threading
    import time

    gate = threading.Event()

    class Stuck(YahooSource):
        def _history(self, ticker, start, end):
            if ticker == "AMD":
                gate.wait(10)  # a request that hangs (until the test lets it go)
                return pd.DataFrame()
            return super()._history(ticker, start, end)

    source = Stuck(session=make_fake_session(prices), sleep=pytest.fail, total_timeout=1.0)
    began = time.monotonic()
    try:
        with pytest.raises(PartialFetchError, match="overall fetch timeout") as caught:
            source.fetch_prices(["NVDA", "AMD"], START, END)
        assert time.monotonic() - began < 5
    finally:
        gate.set()
    assert caught.value.fatal and set(caught.value.frame["ticker"]) == {"NVDA"}
    assert caught.value.failures == {"AMD": "not fetched: overall timeout of 1 s reached"}


# -- through the cache and the pipeline ------------------------------------------------------------

TODAY = "2025-04-01"  # after the sample: every fetched day is settled


def test_cache_keeps_the_rest_and_asks_again_only_for_the_failed_ticker(
    prices: pd.DataFrame, tmp_path: Path
) -> None:
    store = PriceStore(tmp_path / "store")
    session = make_fake_session(prices, not_found={"AVGO"})
    first = CachedSource(store, YahooSource(session=session, sleep=pytest.fail), today=TODAY)
    got = first.prices(["NVDA", "AVGO", "^GSPC"], START, END)

    assert set(got["ticker"]) == {"NVDA", "^GSPC"}
    assert first.failures == {"AVGO": "Yahoo answered HTTP 404 (unknown symbol?)"}
    assert first.fetched == {"NVDA", "^GSPC"}
    assert store.missing_ranges("NVDA", START, END) == []
    assert store.missing_ranges("AVGO", START, END) != []  # not covered: asked again next run

    healed = make_fake_session(prices)
    second = CachedSource(store, YahooSource(session=healed, sleep=pytest.fail), today=TODAY)
    with isolated_yfinance(tmp_path / "next-run"):  # a new process: yfinance remembers answers
        again = second.prices(["NVDA", "AVGO", "^GSPC"], START, END)
    assert {c.symbol for c in healed.server.chart_calls(dated=True)} == {"AVGO"}
    _assert_prices_equal(again, _expected(prices, ["AVGO", "NVDA", "^GSPC"], START, END))
    assert second.failures == {}


def test_cache_strict_makes_a_failed_ticker_fatal_after_storing_the_rest(
    prices: pd.DataFrame, tmp_path: Path
) -> None:
    store = PriceStore(tmp_path / "store")
    session = make_fake_session(prices, not_found={"AVGO"})
    strict = CachedSource(
        store, YahooSource(session=session, sleep=pytest.fail), today=TODAY, strict=True
    )
    expected = r"could not fetch prices for AVGO .*`strict=True` makes this fatal"
    with pytest.raises(DataError, match=expected) as caught:
        strict.prices(["NVDA", "AVGO"], START, END)
    assert "\n" not in str(caught.value)
    assert store.missing_ranges("NVDA", START, END) == []  # what did arrive is kept


def test_cache_empty_answer_leaves_the_ticker_out(prices: pd.DataFrame, tmp_path: Path) -> None:
    store = PriceStore(tmp_path / "store")
    session = make_fake_session(prices, empty={"NVDA"})
    source = CachedSource(store, YahooSource(session=session, sleep=pytest.fail), today=TODAY)
    got = source.prices(["NVDA", "AMD"], START, END)
    assert set(got["ticker"]) == {"AMD"} and list(source.failures) == ["NVDA"]
    assert store.missing_ranges("NVDA", START, END) != []


def test_cache_rate_limit_stops_but_keeps_the_batches_done(
    prices: pd.DataFrame, tmp_path: Path
) -> None:
    store = PriceStore(tmp_path / "store")
    session = make_fake_session(prices, fail_429={"AMD": 10**6})
    yahoo = YahooSource(session=session, retries=2, sleep=lambda s: None, workers=1)
    source = CachedSource(store, yahoo, today=TODAY, batch_size=2)
    with pytest.raises(DataError, match=r"rate limit.*next run fetches only the rest"):
        source.prices(["NVDA", "AVGO", "AMD", "MU"], START, END)
    assert set(store.tickers()["ticker"]) == {"NVDA", "AVGO"}  # the first batch, committed
    assert session.server.chart_calls("MU") == []

    healed = make_fake_session(prices)
    again = CachedSource(store, YahooSource(session=healed, sleep=pytest.fail), today=TODAY)
    with isolated_yfinance(tmp_path / "next-run"):
        again.prices(["NVDA", "AVGO", "AMD", "MU"], START, END)
    assert {c.symbol for c in healed.server.chart_calls(dated=True)} == {"AMD", "MU"}


def test_rate_limited_then_served_through_the_cache(prices: pd.DataFrame, tmp_path: Path) -> None:
    session = make_fake_session(prices, fail_429={"NVDA": 2})
    sleeps: list[float] = []
    source = CachedSource(
        PriceStore(tmp_path / "store"),
        YahooSource(session=session, sleep=sleeps.append),
        today=TODAY,
    )
    got = source.prices(["NVDA", "AMD"], START, END)
    _assert_prices_equal(got, _expected(prices, ["AMD", "NVDA"], START, END))
    assert len(sleeps) == 1 and source.failures == {}


def _study(tmp_path: Path, tickers: str, market: str = "^GSPC") -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(
        f"study: Partial\nmarket: {market}\nmodel: market\nestimation_window: [-250, -11]\n"
        f"event_window: [-5, 5]\nevents:\n  - name: R1\n    date: 2025-01-27\n"
        f"    tickers: [{tickers}]\n"
    )
    return path


def test_default_study_second_run_makes_no_network_calls(
    prices: pd.DataFrame, shares: pd.DataFrame, tmp_path: Path
) -> None:
    from eventstudy.pipeline import DataOptions, run_study
    from eventstudy.study import load_study
    from tests.conftest import REPO

    session = make_fake_session(prices, shares)
    options = DataOptions(session=session, cache_dir=tmp_path / "cache")
    with pytest.warns(UserWarning, match="not a trading session"):
        first = run_study(load_study(REPO / "events.yaml"), options)
    # The first run fetched prices and share counts through yfinance and the fake.
    assert len(session.server.chart_calls(dated=True)) == 18  # 17 stocks and ^GSPC
    timeseries = [c for c in session.calls if "fundamentals-timeseries" in c.path]
    assert {c.symbol for c in timeseries} == {t for e in first.events for t in e.tickers}
    assert session.server.blocked == [] and session.server.unhandled == []

    calls = len(session.calls)
    with pytest.warns(UserWarning, match="not a trading session"):
        second = run_study(load_study(REPO / "events.yaml"), options)
    assert len(session.calls) == calls  # zero requests of any kind
    pd.testing.assert_frame_equal(second.car_frame(), first.car_frame())

    # Shares: the latest count on or before each event, never one filed after it.
    value = second.valuation_frame().set_index(["event", "ticker", "start", "end"])
    assert value.loc[("R1 sell-off", "NVDA", 0, 0), "shares_as_of"] == "2025-01-26"
    assert value.loc[("R1 release", "NVDA", 0, 0), "shares_as_of"] == "2024-11-15"
    assert value.loc[("R1 sell-off", "NVDA", 0, 0), "raw_dollar_change"] == pytest.approx(
        24_477e6 * (118.42 - 142.62)
    )


def test_load_data_leaves_a_failed_ticker_out_with_a_warning(
    prices: pd.DataFrame, shares: pd.DataFrame, tmp_path: Path
) -> None:
    from eventstudy.errors import FetchWarning
    from eventstudy.pipeline import DataOptions, load_data
    from eventstudy.study import load_study

    spec = load_study(_study(tmp_path, "NVDA, ZZZZ, AVGO"))
    session = make_fake_session(prices, shares)
    options = DataOptions(session=session, cache_dir=tmp_path / "cache")
    with pytest.warns(FetchWarning, match=r"no prices for 1 ticker\(s\), left out .*ZZZZ: "):
        got, share_counts, meta = load_data(spec, options)
    assert set(got["ticker"]) == {"NVDA", "AVGO", "^GSPC"}
    assert list(meta["fetch_failures"]) == ["ZZZZ"]
    assert "ZZZZ" not in {c.symbol for c in session.calls if "timeseries" in c.path}
    assert set(share_counts["ticker"]) == {"NVDA", "AVGO"}

    strict = DataOptions(session=make_fake_session(prices), cache_dir=tmp_path / "c2", strict=True)
    with pytest.raises(DataError, match=r"ZZZZ.*`strict=True`"):
        load_data(spec, strict)


def test_load_data_cannot_go_on_without_the_market(prices: pd.DataFrame, tmp_path: Path) -> None:
    from eventstudy.pipeline import DataOptions, load_data
    from eventstudy.study import load_study

    spec = load_study(_study(tmp_path, "NVDA", market="^GSPC"))
    session = make_fake_session(prices, not_found={"^GSPC"})
    with pytest.raises(DataError, match=r"no prices for \^GSPC, which the study regresses on"):
        load_data(spec, DataOptions(session=session, cache_dir=tmp_path / "cache"))


def test_study_goes_on_without_a_failed_ticker(
    prices: pd.DataFrame, shares: pd.DataFrame, tmp_path: Path
) -> None:
    from eventstudy.pipeline import DataOptions, run_study
    from eventstudy.study import load_study

    spec = load_study(_study(tmp_path, "NVDA, ZZZZ, AVGO"))
    session = make_fake_session(prices, shares)
    with pytest.warns(UserWarning, match="left out"):
        results = run_study(spec, DataOptions(session=session, cache_dir=tmp_path / "cache"))
    skipped = results.skipped_frame()
    assert skipped["ticker"].tolist() == ["ZZZZ"]
    assert "HTTP 404" in skipped["reason"].iloc[0]
    assert set(results.car_frame()["ticker"]) == {"NVDA", "AVGO"}
    assert results.meta["fetch_failures"] == {"ZZZZ": skipped["reason"].iloc[0]}


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
    for bad in (
        {"retries": -1},
        {"pause": -1.0},
        {"backoff": 0.5},
        {"timeout": 0},
        {"workers": 0},
        {"total_timeout": 0},
    ):
        with pytest.raises(ValueError):
            YahooSource(**bad)


def test_make_fake_session_is_a_requests_session(prices: pd.DataFrame) -> None:
    import requests

    session = make_fake_session(prices)
    assert isinstance(session, FakeYahooSession) and isinstance(session, requests.Session)


def test_no_network_is_said_plainly_and_not_retried() -> None:
    """A failed name lookup is no network at all: one plain reason, no retries that only wait;
    a response without a status (0) is not reported as "HTTP 0"."""
    import requests

    from eventstudy.data.sources.yahoo import _is_transient, _reason

    dns = requests.ConnectionError(
        "HTTPSConnectionPool(host='query2.finance.yahoo.com', port=443): Max retries exceeded "
        "(Caused by NameResolutionError(\"Failed to resolve 'query2.finance.yahoo.com' "
        "([Errno -3] Temporary failure in name resolution)\"))"
    )
    assert not _is_transient(dns)
    assert _reason(dns, "NVDA") == (
        "cannot reach Yahoo Finance: the host name could not be resolved (no network?)"
    )
    reset = requests.ConnectionError("Connection reset by peer")
    assert _is_transient(reset)
    no_answer = requests.HTTPError("curl: (6) something")
    no_answer.response = type("R", (), {"status_code": 0})()
    assert "HTTP 0" not in _reason(no_answer, "NVDA")
