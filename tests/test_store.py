"""The SQLite price store and the cache in front of a source (``eventstudy.data.store``)."""

from __future__ import annotations

import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eventstudy.data.cached import CachedSource
from eventstudy.data.sources.base import PRICE_COLUMNS, empty_prices
from eventstudy.data.sources.csv import CSVSource
from eventstudy.data.store import (
    SCHEMA_VERSION,
    PriceStore,
    _uncovered,
    default_cache_dir,
)
from eventstudy.errors import DataError, OfflineError, PartialFetchError

T = pd.Timestamp

# The real sample comes from conftest.py (``sample_dir``, ``sample_prices``: ../shared/data beside
# the repository; tests skip with the reason when it is absent).


@pytest.fixture
def store(tmp_path: Path) -> PriceStore:
    return PriceStore(tmp_path / "cache")


class RecordingCSV(CSVSource):
    """The sample CSV as an upstream that logs every request, may pretend to be online, and, like
    Yahoo, treats a ticker without rows in the requested range as an error."""

    def __init__(self, data: Path, *, uses_network: bool = False) -> None:
        super().__init__(data / "prices.csv", data / "shares.csv")
        self.uses_network = uses_network
        self.calls: list[tuple[tuple[str, ...], pd.Timestamp, pd.Timestamp]] = []
        self.share_calls: list[tuple[str, ...]] = []

    def fetch_prices(
        self, tickers: Sequence[str], start: pd.Timestamp, end: pd.Timestamp
    ) -> pd.DataFrame:
        self.calls.append((tuple(tickers), start, end))
        frame = super().fetch_prices(tickers, start, end)
        empty = sorted(set(tickers) - set(frame["ticker"]))
        if empty:
            raise DataError(f"no prices for {', '.join(empty)} between {start} and {end}")
        return frame

    def fetch_shares(
        self, tickers: Sequence[str], start: pd.Timestamp, end: pd.Timestamp
    ) -> pd.DataFrame:
        self.share_calls.append(tuple(tickers))
        return super().fetch_shares(tickers, start, end)


def prices_frame(ticker: str, dates: Sequence[str] | pd.DatetimeIndex, base: float = 1.0):
    dates = pd.DatetimeIndex(dates).astype("datetime64[ns]")
    values = base + np.arange(len(dates), dtype=float)
    return pd.DataFrame(
        {"ticker": ticker, "date": dates, "close": values, "adj_close": values, "volume": 1e6}
    )


def cover(store: PriceStore, ticker: str, start: str, end: str) -> None:
    """Record [start, end] as fetched for ``ticker`` without any rows (like a holiday range)."""
    store.put_prices(empty_prices(), "test", start=start, end=end, tickers=[ticker])


# -- paths and schema ------------------------------------------------------------------------------


def test_default_cache_dir_follows_environment(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EVENTSTUDY_CACHE_DIR", str(tmp_path / "here"))
    assert default_cache_dir() == tmp_path / "here"
    assert PriceStore().path == tmp_path / "here" / "prices.sqlite"
    monkeypatch.delenv("EVENTSTUDY_CACHE_DIR")
    assert "eventstudy" in str(default_cache_dir())


def test_path_may_be_a_directory_or_a_file(tmp_path: Path) -> None:
    assert PriceStore(tmp_path).path == tmp_path / "prices.sqlite"
    assert PriceStore(tmp_path / "mine.sqlite").path == tmp_path / "mine.sqlite"
    store = PriceStore(tmp_path / "new" / "dir")
    store.put_prices(prices_frame("X", ["2024-01-02"]), "test")
    assert (tmp_path / "new" / "dir" / "prices.sqlite").is_file()
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_newer_schema_and_garbage_files_are_data_errors(tmp_path: Path) -> None:
    newer = tmp_path / "newer.sqlite"
    with sqlite3.connect(newer) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(DataError, match="newer eventstudy"):
        PriceStore(newer).tickers()
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(DataError, match=r"garbage\.sqlite"):
        PriceStore(garbage).tickers()


# -- prices round trip -----------------------------------------------------------------------------


@pytest.mark.sample
def test_sample_round_trip_is_lossless(store: PriceStore, sample_prices: pd.DataFrame) -> None:
    assert store.put_prices(sample_prices, "csv:prices.csv") == len(sample_prices) == 9000
    back = store.get_prices(sample_prices["ticker"].unique())
    pd.testing.assert_frame_equal(back, sample_prices, check_exact=True)
    for column in ("close", "adj_close"):  # bit for bit, not merely close
        assert back[column].to_numpy().tobytes() == sample_prices[column].to_numpy().tobytes()
    assert back["volume"].isna().sum() == sample_prices["volume"].isna().sum() > 0  # ^SOX

    summary = store.tickers()
    assert list(summary.columns) == ["ticker", "first", "last", "rows", "sources"]
    assert len(summary) == 24 and set(summary["rows"]) == {375}
    assert set(summary["sources"]) == {"csv:prices.csv"}
    assert summary["first"].min() == T("2023-10-02") and summary["last"].max() == T("2025-03-31")
    # A file import covers each ticker from its first to its last row.
    assert store.missing_ranges("NVDA", "2023-10-02", "2025-03-31") == []


def test_floats_survive_exactly(store: PriceStore) -> None:
    awkward = [0.1 + 0.2, 1 / 3, 5e-324, 1.7976931348623157e308, np.nextafter(1.0, 2.0), 123.456]
    frame = prices_frame("X", pd.bdate_range("2024-01-01", periods=len(awkward)))
    frame["close"] = awkward
    frame["adj_close"] = [-v for v in awkward]
    frame.loc[2, "volume"] = np.nan
    store.put_prices(frame, "test")
    back = store.get_prices(["X"], "2024-01-01", "2024-12-31")
    assert back["close"].tolist() == awkward
    assert back["adj_close"].tolist() == [-v for v in awkward]
    assert np.isnan(back.loc[2, "volume"]) and back.loc[0, "volume"] == 1e6
    assert list(back.columns) == PRICE_COLUMNS and back["date"].dtype == "datetime64[ns]"


def test_put_prices_upserts_and_filters(store: PriceStore) -> None:
    store.put_prices(prices_frame("A", ["2024-01-02", "2024-01-03"], base=10.0), "old")
    store.put_prices(prices_frame("A", ["2024-01-03", "2024-01-04"], base=20.0), "new")
    store.put_prices(prices_frame("B", ["2024-01-03"]), "other")
    got = store.get_prices(["A"], "2024-01-01", "2024-01-31")
    assert got["close"].tolist() == [10.0, 20.0, 21.0]
    assert store.get_prices(["A", "B"], "2024-01-03", "2024-01-03")["ticker"].tolist() == ["A", "B"]
    assert store.get_prices(["Z"], "2024-01-01", "2024-12-31").empty
    assert store.tickers().set_index("ticker").loc["A", "sources"] == "new, old"


def test_put_prices_rejects_malformed_frames(store: PriceStore) -> None:
    with pytest.raises(DataError, match="missing column"):
        store.put_prices(pd.DataFrame({"ticker": ["A"], "date": ["2024-01-02"]}), "bad")
    bad_date = prices_frame("A", ["2024-01-02"]).astype({"date": object})
    bad_date.loc[0, "date"] = "not a date"
    with pytest.raises(DataError, match="dates"):
        store.put_prices(bad_date, "bad")
    assert store.tickers().empty


# -- coverage arithmetic ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("intervals", "query", "expected"),
    [
        ([], ("2024-01-01", "2024-01-31"), [("2024-01-01", "2024-01-31")]),
        # adjacent ranges leave no gap: days are whole
        (
            [("2024-01-01", "2024-01-10"), ("2024-01-11", "2024-01-20")],
            ("2024-01-01", "2024-01-20"),
            [],
        ),
        # overlapping ranges merge; only the outside is missing
        (
            [("2024-01-01", "2024-01-15"), ("2024-01-10", "2024-01-25")],
            ("2023-12-25", "2024-01-31"),
            [("2023-12-25", "2023-12-31"), ("2024-01-26", "2024-01-31")],
        ),
        # a contained range changes nothing
        (
            [("2024-01-01", "2024-01-31"), ("2024-01-05", "2024-01-06")],
            ("2024-01-02", "2024-01-30"),
            [],
        ),
        (
            [("2024-01-05", "2024-01-06"), ("2024-01-01", "2024-01-31")],
            ("2023-12-31", "2024-02-01"),
            [("2023-12-31", "2023-12-31"), ("2024-02-01", "2024-02-01")],
        ),
        # a hole between two ranges
        (
            [("2024-01-01", "2024-01-05"), ("2024-01-08", "2024-01-10")],
            ("2024-01-01", "2024-01-10"),
            [("2024-01-06", "2024-01-07")],
        ),
        # coverage entirely outside the query
        (
            [("2023-01-01", "2023-12-31")],
            ("2024-01-01", "2024-01-02"),
            [("2024-01-01", "2024-01-02")],
        ),
    ],
)
def test_missing_ranges(store: PriceStore, intervals, query, expected) -> None:
    for lo, hi in intervals:
        cover(store, "X", lo, hi)
    cover(store, "OTHER", "2000-01-01", "2030-12-31")  # another ticker's coverage never counts
    assert store.missing_ranges("X", *query) == [(T(lo), T(hi)) for lo, hi in expected]


def test_missing_ranges_of_an_empty_query(store: PriceStore) -> None:
    assert store.missing_ranges("X", "2024-02-01", "2024-01-01") == []


days = st.integers(min_value=0, max_value=60)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(days, days), max_size=6), days, days)
def test_uncovered_matches_a_day_by_day_model(intervals, start, end) -> None:
    base = T("2024-01-01")
    day = pd.Timedelta(days=1)
    gaps = _uncovered(
        [(base + lo * day, base + hi * day) for lo, hi in intervals],
        base + start * day,
        base + end * day,
    )
    covered = {d for lo, hi in intervals for d in range(lo, hi + 1)}
    expected = [d for d in range(start, end + 1) if d not in covered]
    got = [d for lo, hi in gaps for d in range((lo - base).days, (hi - base).days + 1)]
    assert got == expected
    # maximal: gaps neither touch nor overlap each other
    assert all((b[0] - a[1]).days > 1 for a, b in pairwise(gaps))


# -- CachedSource ----------------------------------------------------------------------------------


@pytest.mark.sample
def test_second_identical_request_makes_no_upstream_call(
    store: PriceStore, sample_dir: Path, sample_prices: pd.DataFrame
) -> None:
    upstream = RecordingCSV(sample_dir)
    first = CachedSource(store, upstream).prices(["NVDA", "AMD"], "2024-01-02", "2025-02-10")
    assert len(upstream.calls) == 1 and upstream.calls[0][0] == ("NVDA", "AMD")
    expected = sample_prices[
        sample_prices["ticker"].isin(["NVDA", "AMD"])
        & sample_prices["date"].between("2024-01-02", "2025-02-10")
    ].reset_index(drop=True)
    pd.testing.assert_frame_equal(first, expected, check_exact=True)

    # A later run (new CachedSource, same store) and a narrower request need nothing upstream.
    again = CachedSource(store, upstream)
    pd.testing.assert_frame_equal(
        again.prices(["AMD", "NVDA"], "2024-01-02", "2025-02-10"), first, check_exact=True
    )
    assert len(again.prices(["NVDA"], "2024-06-03", "2024-06-07")) == 5
    assert again.upstream_calls == 0 and len(upstream.calls) == 1


@pytest.mark.sample
def test_wider_request_fetches_only_the_missing_parts(store: PriceStore, sample_dir: Path) -> None:
    upstream = RecordingCSV(sample_dir)
    CachedSource(store, upstream).prices(["NVDA", "AMD"], "2024-03-01", "2024-06-28")
    upstream.calls.clear()

    source = CachedSource(store, upstream)
    wider = source.prices(["NVDA", "AMD", "MSFT"], "2024-01-02", "2024-09-30")
    # NVDA and AMD miss the same two ranges: one call each, shared; MSFT misses everything.
    # 2024-06-29/30 is a weekend, so the later range starts on Monday 2024-07-01.
    assert upstream.calls == [
        (("NVDA", "AMD"), T("2024-01-02"), T("2024-02-29")),
        (("NVDA", "AMD"), T("2024-07-01"), T("2024-09-30")),
        (("MSFT",), T("2024-01-02"), T("2024-09-30")),
    ]
    assert source.upstream_calls == 3
    counts = wider.groupby("ticker").size()
    assert counts["NVDA"] == counts["AMD"] == counts["MSFT"] > 180
    assert wider["ticker"].is_monotonic_increasing  # sorted by ticker, then date
    assert wider.groupby("ticker")["date"].apply(lambda d: d.is_monotonic_increasing).all()


@pytest.mark.sample
def test_holidays_and_weekends_are_not_refetched(store: PriceStore, sample_dir: Path) -> None:
    upstream = RecordingCSV(sample_dir)
    # 2024-03-29 is Good Friday (no session); 2024-03-04 is a Monday, 2024-04-05 a Friday.
    CachedSource(store, upstream).prices(["SPY"], "2024-03-04", "2024-04-05")
    again = CachedSource(store, upstream)
    got = again.prices(["SPY"], "2024-03-02", "2024-04-07")  # Saturday to Sunday
    assert again.upstream_calls == 0
    assert T("2024-03-29") not in set(got["date"]) and len(got) == 24
    # Fetched Fridays and Mondays on both sides of a weekend merge into one covered range.
    CachedSource(store, upstream).prices(["SPY"], "2024-04-08", "2024-04-12")
    assert store.missing_ranges("SPY", "2024-03-02", "2024-04-14") == []


@pytest.mark.sample
def test_a_missing_holiday_is_fetched_with_sessions_around_it(
    store: PriceStore, sample_dir: Path
) -> None:
    # 2025-01-01 alone has no session; a strict source (like Yahoo) would call that an error, so
    # the short range is widened backwards before it is asked for.
    upstream = RecordingCSV(sample_dir)
    CachedSource(store, upstream).prices(["NVDA"], "2024-06-03", "2024-12-31")
    source = CachedSource(store, upstream)
    got = source.prices(["NVDA"], "2024-06-03", "2025-01-01")
    assert upstream.calls[-1] == (("NVDA",), T("2024-12-23"), T("2025-01-01"))
    assert got["date"].max() == T("2024-12-31")
    assert store.missing_ranges("NVDA", "2024-06-03", "2025-01-01") == []


@pytest.mark.sample
def test_offline_refuses_network_sources_naming_tickers_and_dates(
    store: PriceStore, sample_dir: Path
) -> None:
    online = RecordingCSV(sample_dir, uses_network=True)
    CachedSource(store, online).prices(["NVDA"], "2024-06-03", "2024-12-31")

    offline = CachedSource(store, online, offline=True)
    with pytest.raises(OfflineError) as caught:
        offline.prices(["NVDA", "AMD"], "2024-01-02", "2025-02-10")
    message = str(caught.value)
    assert message.startswith("offline: no stored prices for ")
    assert "NVDA between 2024-01-02 and 2024-05-31 and between 2025-01-01 and 2025-02-10" in message
    assert "AMD between 2024-01-02 and 2025-02-10" in message
    assert "fetch them (`offline=False`) or import a price file" in message
    assert offline.upstream_calls == 0 and len(online.calls) == 1

    # What is stored is served offline; a store without any upstream says so.
    assert len(offline.prices(["NVDA"], "2024-06-03", "2024-12-31")) > 100
    with pytest.raises(OfflineError, match=r"AMD between 2024-01-02 and 2024-01-31 .*no source"):
        CachedSource(store, None).prices(["AMD"], "2024-01-02", "2024-01-31")


@pytest.mark.sample
def test_an_imported_file_serves_offline_runs(
    store: PriceStore, sample_dir: Path, sample_prices: pd.DataFrame
) -> None:
    store.put_prices(sample_prices, "csv:prices.csv")  # covers 2023-10-02 (Mon) .. 2025-03-31
    offline = CachedSource(store, RecordingCSV(sample_dir, uses_network=True), offline=True)
    # From Saturday 2023-09-30: the weekend before the first session needs no data.
    got = offline.prices(["NVDA", "^SOX"], "2023-09-30", "2025-03-31")
    assert len(got) == 750 and offline.upstream_calls == 0
    with pytest.raises(OfflineError, match="NVDA between 2023-09-29 and 2023-09-29;"):
        offline.prices(["NVDA"], "2023-09-29", "2023-10-31")


@pytest.mark.sample
def test_offline_still_reads_a_local_file_source(store: PriceStore, sample_dir: Path) -> None:
    # --offline refuses the network, not a CSV given with --prices.
    source = CachedSource(store, RecordingCSV(sample_dir), offline=True)
    assert len(source.prices(["NVDA"], "2025-01-02", "2025-01-31")) == 20
    assert source.upstream_calls == 1


@pytest.mark.sample
def test_days_after_yesterday_are_fetched_but_not_covered(
    store: PriceStore, sample_dir: Path
) -> None:
    upstream = RecordingCSV(sample_dir, uses_network=True)
    today = "2024-06-05"  # Wednesday: bars from today on may still change
    CachedSource(store, upstream, today=today).prices(["NVDA"], "2024-05-01", "2024-06-28")
    assert store.missing_ranges("NVDA", "2024-05-01", "2024-06-28") == [
        (T("2024-06-05"), T("2024-06-28"))
    ]
    later = CachedSource(store, upstream, today=today)
    later.prices(["NVDA"], "2024-05-01", "2024-06-28")
    assert upstream.calls[-1] == (("NVDA",), T("2024-06-05"), T("2024-06-28"))
    # Offline, days that cannot be settled yet are not an error; earlier ones are.
    offline = CachedSource(store, upstream, offline=True, today=today)
    assert offline.prices(["NVDA"], "2024-05-01", "2024-06-28")["date"].max() == T("2024-06-28")
    with pytest.raises(OfflineError, match="2024-04-01 and 2024-04-30"):
        offline.prices(["NVDA"], "2024-04-01", "2024-06-28")


@pytest.mark.sample
def test_refresh_refetches_the_whole_range(store: PriceStore, sample_dir: Path) -> None:
    upstream = RecordingCSV(sample_dir)
    CachedSource(store, upstream).prices(["NVDA", "AMD"], "2024-01-02", "2024-03-28")
    refresh = CachedSource(store, upstream, refresh=True)
    refresh.prices(["NVDA", "AMD"], "2024-01-02", "2024-03-28")
    assert refresh.upstream_calls == 1
    assert upstream.calls[-1] == (("NVDA", "AMD"), T("2024-01-02"), T("2024-03-28"))
    with sqlite3.connect(store.path) as conn:  # superseded coverage rows were replaced
        assert conn.execute("SELECT COUNT(*) FROM coverage").fetchone()[0] == 2


@pytest.mark.sample
def test_shares_are_fetched_once_and_missing_ones_are_no_error(
    store: PriceStore, sample_dir: Path
) -> None:
    upstream = RecordingCSV(sample_dir)
    source = CachedSource(store, upstream)
    got = source.shares(["NVDA", "ASML"])  # ASML has no share data in the sample
    assert set(got["ticker"]) == {"NVDA"} and (got["shares_outstanding"] > 2e10).all()
    assert got["source"].str.contains("NVIDIA").all()
    assert store.has_shares("NVDA") and store.has_shares("ASML") and not store.has_shares("AMD")

    again = CachedSource(store, upstream)
    pd.testing.assert_frame_equal(again.shares(["NVDA", "ASML"]), got)
    assert again.upstream_calls == 0
    assert CachedSource(store, None).shares(["AMD"]).empty  # offline: not an error
    # A history fetched before the date a study needs shares for is fetched again.
    pd.testing.assert_frame_equal(
        CachedSource(store, upstream).shares(["NVDA"], as_of="2100-01-01"), got
    )
    assert upstream.share_calls == [("NVDA", "ASML"), ("NVDA",)]


def test_clear(store: PriceStore) -> None:
    for ticker in ("A", "B"):
        store.put_prices(prices_frame(ticker, ["2024-01-02", "2024-01-03"]), "test")
        store.put_shares(
            pd.DataFrame({"ticker": [ticker], "as_of": ["2024-01-02"], "shares_outstanding": [1e9]})
        )
    assert store.get_shares(["A"])["source"].tolist() == ["unknown"]
    assert store.clear("A") == 2
    assert store.tickers()["ticker"].tolist() == ["B"]
    assert not store.has_shares("A") and store.has_shares("B")
    assert store.missing_ranges("A", "2024-01-02", "2024-01-03") != []
    assert store.clear() == 2 and store.tickers().empty and store.get_shares(["B"]).empty


# -- several processes -----------------------------------------------------------------------------

WRITER = """
import sys, time
from pathlib import Path
import numpy as np, pandas as pd
from eventstudy.data.store import PriceStore

store, prefix, go = PriceStore(sys.argv[1], timeout=20), sys.argv[2], Path(sys.argv[3])
dates = pd.bdate_range("2020-01-01", periods=50)
print("ready", flush=True)
while not go.exists():
    time.sleep(0.005)
for k in range(60):
    store.put_prices(pd.DataFrame({"ticker": f"{prefix}{k:02d}", "date": dates,
        "close": np.arange(50.0), "adj_close": np.arange(50.0), "volume": 1.0}), "writer")
"""


def spawn(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_processes_write_and_read_one_store_at_once(tmp_path: Path) -> None:
    # A writer process and this one race on a store that does not exist yet (schema creation
    # included); this process writes too and keeps reading: writers wait for each other instead of
    # failing, and every read sees whole batches only.
    path, go = tmp_path / "shared.sqlite", tmp_path / "go"
    writer = spawn(WRITER, str(path), "W", str(go))
    here, dates, written, reads = (
        PriceStore(path, timeout=20),
        pd.bdate_range("2020-01-01", periods=50),
        0,
        0,
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        go.touch()
        deadline = time.monotonic() + 30
        while writer.poll() is None and time.monotonic() < deadline:
            here.put_prices(prices_frame(f"H{written:03d}", dates), "here")
            written += 1
            summary = here.tickers()
            assert set(summary["rows"]) <= {50}
            reads += summary["ticker"].str.startswith("W").sum() > 0
        _, err = writer.communicate(timeout=30)
        assert writer.returncode == 0, err
    finally:
        writer.kill()
    assert reads > 0  # some reads happened while the other process was writing
    summary = PriceStore(path).tickers()
    assert len(summary) == 60 + written and set(summary["rows"]) == {50}


KILLED_WRITER = """
import sys
import numpy as np, pandas as pd
from eventstudy.data.store import PriceStore

store, n = PriceStore(sys.argv[1]), 400
dates = pd.bdate_range("2000-01-03", periods=1000).to_numpy()
frame = pd.DataFrame({"ticker": np.repeat([f"BIG{i:03d}" for i in range(n)], len(dates)),
    "date": np.tile(dates, n), "close": np.random.rand(n * len(dates)), "adj_close": 1.0,
    "volume": np.nan})
print("writing", flush=True)
store.put_prices(frame, "big")
print("done", flush=True)
"""


@pytest.mark.sample
@pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")
def test_sigkill_during_a_large_write_leaves_all_or_nothing(
    tmp_path: Path, sample_dir: Path, sample_prices: pd.DataFrame
) -> None:
    store = PriceStore(tmp_path)
    before = sample_prices[sample_prices["date"] <= "2024-12-31"]
    store.put_prices(before, "csv")
    wal = store.path.with_name(store.path.name + "-wal")

    proc = spawn(KILLED_WRITER, str(tmp_path))
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
        deadline = time.monotonic() + 20
        # Uncommitted pages spill into the WAL as the transaction grows: kill once it has.
        while proc.poll() is None and time.monotonic() < deadline:
            if wal.exists() and wal.stat().st_size > 4_000_000:
                break
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == -signal.SIGKILL, "the writer finished before it could be killed"

    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    summary = store.tickers().set_index("ticker")
    big = summary[summary.index.str.startswith("BIG")]
    assert len(big) in (0, 400) and set(big["rows"]) <= {1000}  # all of the batch or none of it
    assert (store.missing_ranges("BIG000", "2000-01-03", "2003-10-31") == []) == (len(big) == 400)
    assert summary.loc["NVDA", "rows"] == len(before[before["ticker"] == "NVDA"])

    # The store is usable: a following run fetches what is missing, and the one after nothing.
    upstream = RecordingCSV(sample_dir)
    got = CachedSource(store, upstream).prices(["NVDA", "AMD"], "2024-06-03", "2025-03-31")
    assert got["date"].max() == T("2025-03-31") and upstream.calls[0][1] == T("2025-01-01")
    again = CachedSource(store, upstream)
    again.prices(["NVDA", "AMD"], "2024-06-03", "2025-03-31")
    assert again.upstream_calls == 0


# -- partial columns, share summary ----------------------------------------------------------------


def test_put_prices_with_columns_keeps_the_other_values(store: PriceStore) -> None:
    store.put_prices(prices_frame("A", ["2024-01-02", "2024-01-03"], base=10.0), "full")
    adjusted = prices_frame("A", ["2024-01-03", "2024-01-04"], base=50.0)
    adjusted[["close", "volume"]] = np.nan
    store.put_prices(adjusted, "adjusted only", columns=["adj_close"])
    got = store.get_prices(["A"]).set_index("date")
    # The stored close and volume of 2024-01-03 survive; the new day has none.
    assert got["close"].tolist()[:2] == [10.0, 11.0] and np.isnan(got["close"].iloc[2])
    assert got["adj_close"].tolist() == [10.0, 50.0, 51.0]
    assert got["volume"].iloc[1] == 1e6
    assert store.tickers().loc[0, "sources"] == "adjusted only, full"
    with pytest.raises(ValueError, match="unknown column"):
        store.put_prices(adjusted, "x", columns=["open"])


def test_shares_summary(store: PriceStore) -> None:
    assert store.shares_summary().empty
    store.put_shares(
        pd.DataFrame(
            {
                "ticker": ["B", "A", "A"],
                "as_of": ["2024-01-02", "2024-01-02", "2024-06-28"],
                "shares_outstanding": [1e9, 2e9, 2.1e9],
            }
        )
    )
    summary = store.shares_summary()
    assert summary["ticker"].tolist() == ["A", "B"] and summary["counts"].tolist() == [2, 1]
    assert summary["latest_as_of"].tolist() == [T("2024-06-28"), T("2024-01-02")]


# -- partial failures, batches, strict -------------------------------------------------------------


class PartialCSV(RecordingCSV):
    """Like Yahoo: tickers in ``missing`` are not delivered (a non-fatal PartialFetchError with
    the others), and from call ``fatal_at`` on every call stops as a rate limit would."""

    def __init__(self, data: Path, missing: Sequence[str] = (), fatal_at: int | None = None):
        super().__init__(data, uses_network=True)
        self.missing = set(missing)
        self.fatal_at = fatal_at

    def fetch_prices(self, tickers, start, end):
        self.calls.append((tuple(tickers), start, end))
        if self.fatal_at is not None and len(self.calls) >= self.fatal_at:
            delivered = list(tickers[:1])  # one finished before the stop
            frame = CSVSource.fetch_prices(self, delivered, start, end)
            failures = {t: "rate limited" for t in tickers[1:]}
            raise PartialFetchError("rate limited", frame, failures, fatal=True)
        ok = [t for t in tickers if t not in self.missing]
        frame = CSVSource.fetch_prices(self, ok, start, end)
        failed = {t: "unknown symbol" for t in tickers if t in self.missing}
        if failed:
            raise PartialFetchError(f"no prices for {', '.join(failed)}", frame, failed)
        return frame

    def fetch_shares(self, tickers, start, end):
        self.share_calls.append(tuple(tickers))
        frame = CSVSource.fetch_shares(self, tickers, start, end)
        if self.fatal_at is not None and len(self.share_calls) >= self.fatal_at:
            keep = frame[frame["ticker"] == tickers[0]]
            raise PartialFetchError(
                "rate limited", keep, dict.fromkeys(tickers[1:], "x"), fatal=True
            )
        return frame


@pytest.mark.sample
def test_a_ticker_the_upstream_cannot_deliver_is_left_out_and_asked_again(
    store: PriceStore, sample_dir: Path
) -> None:
    upstream = PartialCSV(sample_dir, missing=["AMD"])
    source = CachedSource(store, upstream)
    got = source.prices(["NVDA", "AMD", "MU"], "2024-06-03", "2024-06-28")
    assert set(got["ticker"]) == {"NVDA", "MU"}
    assert source.failures == {"AMD": "unknown symbol"} and source.fetched == {"NVDA", "MU"}
    assert store.missing_ranges("NVDA", "2024-06-03", "2024-06-28") == []
    assert store.missing_ranges("AMD", "2024-06-03", "2024-06-28") != []

    upstream.missing.clear()
    again = CachedSource(store, upstream)
    assert set(again.prices(["NVDA", "AMD", "MU"], "2024-06-03", "2024-06-28")["ticker"]) == {
        "NVDA",
        "AMD",
        "MU",
    }
    assert upstream.calls[-1][0] == ("AMD",) and again.upstream_calls == 1


@pytest.mark.sample
def test_strict_stops_at_the_first_failure_after_storing_the_batch(
    store: PriceStore, sample_dir: Path
) -> None:
    upstream = PartialCSV(sample_dir, missing=["AMD"])
    source = CachedSource(store, upstream, strict=True, batch_size=2)
    with pytest.raises(DataError, match=r"could not fetch prices for AMD \(AMD: unknown symbol\)"):
        source.prices(["NVDA", "AMD", "MU", "TSM"], "2024-06-03", "2024-06-28")
    assert upstream.calls[-1][0] == ("NVDA", "AMD")  # the next batch was not asked for
    assert store.tickers()["ticker"].tolist() == ["NVDA"]


@pytest.mark.sample
def test_a_fatal_failure_keeps_what_arrived_and_the_next_run_resumes(
    store: PriceStore, sample_dir: Path
) -> None:
    names = ["NVDA", "AMD", "MU", "TSM", "AVGO"]
    upstream = PartialCSV(sample_dir, fatal_at=2)
    source = CachedSource(store, upstream, batch_size=2)
    with pytest.raises(DataError, match="rate limited; the prices fetched so far are stored"):
        source.prices(names, "2024-06-03", "2024-06-28")
    # Batch 1 (NVDA, AMD) and the part of batch 2 that arrived (MU) are stored.
    assert store.tickers()["ticker"].tolist() == ["AMD", "MU", "NVDA"]

    upstream.fatal_at = None
    again = CachedSource(store, upstream, batch_size=2)
    again.prices(names, "2024-06-03", "2024-06-28")
    assert upstream.calls[-1][0] == ("TSM", "AVGO") and again.upstream_calls == 1


@pytest.mark.sample
def test_batches_are_committed_one_by_one(store: PriceStore, sample_dir: Path) -> None:
    class Interrupted(RecordingCSV):
        def fetch_prices(self, tickers, start, end):
            if len(self.calls) == 2:
                raise KeyboardInterrupt  # Ctrl-C during the third batch
            return super().fetch_prices(tickers, start, end)

    names = ["NVDA", "AMD", "MU", "TSM", "AVGO"]
    upstream = Interrupted(sample_dir)
    with pytest.raises(KeyboardInterrupt):
        CachedSource(store, upstream, batch_size=2).prices(names, "2024-06-03", "2024-06-28")
    assert store.tickers()["ticker"].tolist() == ["AMD", "MU", "NVDA", "TSM"]
    resumed = RecordingCSV(sample_dir)
    CachedSource(store, resumed, batch_size=2).prices(names, "2024-06-03", "2024-06-28")
    assert [c[0] for c in resumed.calls] == [("AVGO",)]


@pytest.mark.sample
def test_a_fatal_share_failure_marks_only_what_arrived(store: PriceStore, sample_dir: Path) -> None:
    upstream = PartialCSV(sample_dir, fatal_at=1)
    with pytest.raises(DataError, match="share counts fetched so far are stored"):
        CachedSource(store, upstream).shares(["NVDA", "AVGO", "ASML"])
    assert store.has_shares("NVDA") and not store.has_shares("AVGO")
    assert not store.has_shares("ASML")
    upstream.fatal_at = None
    CachedSource(store, upstream).shares(["NVDA", "AVGO", "ASML"])
    assert upstream.share_calls[-1] == ("AVGO", "ASML")


@pytest.mark.sample
def test_progress_bar_only_when_asked_or_on_a_terminal(
    store: PriceStore, sample_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    CachedSource(store, RecordingCSV(sample_dir), progress=None).prices(
        ["NVDA"], "2024-06-03", "2024-06-28"
    )
    assert capsys.readouterr().err == ""  # stderr is not a terminal under pytest
    CachedSource(store, RecordingCSV(sample_dir), progress=True).prices(
        ["AMD", "MU"], "2024-06-03", "2024-06-28"
    )
    err = capsys.readouterr().err
    assert re.search(r"Fetching prices: .*[012]/2 ", err), err  # tqdm throttles redraws
    with pytest.raises(ValueError, match="batch_size"):
        CachedSource(store, None, batch_size=0)


SLOW_FETCH = """
import sys, time
from pathlib import Path
from eventstudy.data.sources.csv import CSVSource
from eventstudy.data.cached import CachedSource
from eventstudy.data.store import PriceStore

class Slow(CSVSource):
    uses_network = True
    def fetch_prices(self, tickers, start, end):
        print("fetching", ",".join(tickers), flush=True)
        time.sleep(0.3)
        return super().fetch_prices(tickers, start, end)

names = sys.argv[3].split(",")
source = CachedSource(PriceStore(sys.argv[1]), Slow(sys.argv[2]), batch_size=2)
source.prices(names, "2024-01-02", "2025-02-28")
print("done", flush=True)
"""


@pytest.mark.sample
@pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")
def test_sigkill_during_a_fetch_keeps_completed_batches_and_the_next_run_resumes(
    tmp_path: Path, sample_dir: Path
) -> None:
    names = ["NVDA", "AMD", "MU", "TSM", "AVGO", "ARM", "SMCI", "MRVL"]
    proc = spawn(SLOW_FETCH, str(tmp_path), str(sample_dir / "prices.csv"), ",".join(names))
    try:
        assert proc.stdout is not None
        # The third batch is asked for only once the second is committed: kill it then.
        for _ in range(3):
            assert proc.stdout.readline().startswith("fetching")
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == -signal.SIGKILL

    store = PriceStore(tmp_path)
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    stored = set(store.tickers()["ticker"])
    assert {"NVDA", "AMD", "MU", "TSM"} <= stored and stored <= set(names[:6])

    upstream = RecordingCSV(sample_dir)
    resumed = CachedSource(store, upstream, batch_size=2)
    resumed.prices(names, "2024-01-02", "2025-02-28")
    fetched = [t for call in upstream.calls for t in call[0]]
    assert sorted(fetched) == sorted(set(names) - stored)  # nothing stored is fetched again
    final = CachedSource(store, upstream, batch_size=2)
    final.prices(names, "2024-01-02", "2025-02-28")
    assert final.upstream_calls == 0


def test_a_foreign_sqlite_file_is_refused_untouched(tmp_path: Path) -> None:
    """Another program's database at the store's path: refused before anything is written to it
    (no WAL switch, no tables, no user_version), with a one-line error."""
    import sqlite3

    path = tmp_path / "prices.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER, amount REAL)")
        conn.execute("INSERT INTO invoices VALUES (1, 9.5)")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(DataError, match=r"is not an eventstudy price store \(it holds the tables "
                       r"invoices\); it was left untouched"):
        PriceStore(tmp_path).tickers()
    assert path.read_bytes() == before
    assert not (tmp_path / "prices.sqlite-wal").exists()
