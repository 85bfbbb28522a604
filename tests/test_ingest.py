"""A long price file into the store (``eventstudy.data.ingest``): chunk by chunk in one
transaction, and not stored again once the store holds it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from eventstudy.cli import main
from eventstudy.data.ingest import ingest_price_file
from eventstudy.data.sources.imports import read_long_prices
from eventstudy.data.sources.longfile import LongPriceFile, UncleanFileError
from eventstudy.data.store import SCHEMA_VERSION, PriceStore
from eventstudy.errors import DataError

REPO = Path(__file__).resolve().parents[1]


def _prices(n_tickers: int = 3, n_days: int = 8) -> pd.DataFrame:
    """A long price frame sorted by date (the order that makes SQLite slowest)."""
    dates = pd.bdate_range("2024-01-02", periods=n_days)
    rows = [
        (f"T{j}", d, 10.0 + j + i / 7, 9.0 + j + i / 7, 1000.0 * (i + 1))
        for i, d in enumerate(dates)
        for j in range(n_tickers)
    ]
    return pd.DataFrame(rows, columns=["ticker", "date", "close", "adj_close", "volume"])


def _write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False, date_format="%Y-%m-%d")
    return path


def _stored(store: PriceStore) -> pd.DataFrame:
    return store.get_prices(store.tickers()["ticker"].tolist())


def _fetched_at(store: PriceStore) -> dict[tuple[str, str], str]:
    """When each stored row was written: rows of the prices table one by one, a side file's
    tickers as a whole (``(ticker, "*")``)."""
    with sqlite3.connect(store.path) as conn:
        rows = conn.execute("SELECT ticker, date, fetched_at FROM prices").fetchall()
        rows += conn.execute("SELECT ticker, '*', stored_at FROM file_tickers").fetchall()
    return {(t, d): f for t, d, f in rows}


def _mark(store: PriceStore, ticker: str, date: str, value: float) -> None:
    """Change a stored close behind the store's back, to see whether a run writes it again."""
    with sqlite3.connect(store.path) as conn:
        query = "SELECT file FROM file_tickers WHERE ticker = ?"
        served = conn.execute(query, (ticker,)).fetchone()
        conn.execute(
            "UPDATE prices SET close = ? WHERE ticker = ? AND date = ?", (value, ticker, date)
        )
    if served is not None:  # its side file, rewritten in place
        path = store.side_folder / served[0]
        table = pq.read_table(path).to_pandas()
        hit = (table["ticker"] == ticker) & (table["date"].astype(str) == date)
        assert hit.sum() == 1
        table.loc[hit, "close"] = value
        pq.write_table(pa.Table.from_pandas(table, schema=pq.read_schema(path)), path)


@pytest.mark.parametrize("chunk_rows", [1_000_000, 5])
def test_a_file_is_stored_whole_and_reads_back(tmp_path: Path, chunk_rows: int) -> None:
    path = _write(_prices(), tmp_path / "prices.csv")
    store = PriceStore(tmp_path / "cache")
    got = ingest_price_file(path, store, "csv:prices.csv", chunk_rows=chunk_rows)
    assert (got.rows, got.tickers, got.stored) == (24, 3, True)
    pd.testing.assert_frame_equal(_stored(store), read_long_prices(path), check_exact=True)
    assert store.missing_ranges("T1", "2024-01-02", "2024-01-11") == []
    assert store.has_price_file(got.sha256, "csv:prices.csv")
    assert not store.has_price_file(got.sha256, "file:prices.csv")


def test_the_same_file_again_writes_no_row_and_a_changed_one_is_stored(tmp_path: Path) -> None:
    path = _write(_prices(), tmp_path / "prices.csv")
    store = PriceStore(tmp_path / "cache")
    first = ingest_price_file(path, store, "csv:prices.csv", skip_stored=True)
    assert first.stored
    _mark(store, "T0", "2024-01-02", -1.0)
    before = _fetched_at(store)

    again = ingest_price_file(
        path, store, "csv:prices.csv", tickers=["T0"], start=pd.Timestamp("2024-01-01"),
        end=pd.Timestamp("2024-01-31"), skip_stored=True,
    )  # fmt: skip
    assert not again.stored and again.sha256 == first.sha256
    assert _fetched_at(store) == before  # no row written
    assert _stored(store).loc[0, "close"] == -1.0
    assert again.prices is not None and len(again.prices) == 8  # the study's rows, from the file
    assert again.prices.loc[0, "close"] == 10.0

    changed = _prices()
    changed.loc[5, "close"] = 99.5
    _write(changed, path)
    third = ingest_price_file(path, store, "csv:prices.csv", skip_stored=True)
    assert third.stored and third.sha256 != first.sha256
    pd.testing.assert_frame_equal(_stored(store), read_long_prices(path), check_exact=True)
    assert not store.has_price_file(first.sha256, "csv:prices.csv")


def test_any_other_write_of_prices_forgets_the_stored_files(tmp_path: Path) -> None:
    path = _write(_prices(), tmp_path / "prices.csv")
    store = PriceStore(tmp_path / "cache")
    sha = ingest_price_file(path, store, "csv:prices.csv").sha256
    store.put_shares(
        pd.DataFrame({"ticker": ["T0"], "as_of": ["2024-01-02"], "shares_outstanding": [5.0]})
    )
    assert store.has_price_file(sha, "csv:prices.csv")  # shares are not prices
    store.put_prices(_prices(1, 1).assign(close=1.0), "yahoo")  # replaces a row of the file
    assert not store.has_price_file(sha, "csv:prices.csv")
    assert ingest_price_file(path, store, "csv:prices.csv", skip_stored=True).stored
    pd.testing.assert_frame_equal(_stored(store), read_long_prices(path), check_exact=True)
    store.clear("T2")
    assert not store.has_price_file(sha, "csv:prices.csv")


def test_a_bad_line_late_in_the_file_stores_nothing(tmp_path: Path) -> None:
    store = PriceStore(tmp_path / "cache")
    store.put_prices(_prices(1, 2), "earlier")
    before = _stored(store)
    text = _write(_prices(), tmp_path / "prices.csv").read_text()
    path = tmp_path / "bad.csv"
    path.write_text(text + "T9,2024-13-01,1,1,1\n")
    with pytest.raises(DataError, match=r"bad\.csv, line 26: bad date '2024-13-01'"):
        ingest_price_file(path, store, "csv:bad.csv", chunk_rows=4)
    pd.testing.assert_frame_equal(_stored(store), before, check_exact=True)
    duplicate = tmp_path / "duplicate.csv"
    duplicate.write_text(text + "T1,2024-01-03,1,1,1\n")
    with pytest.raises(DataError, match=r"line 26: duplicate row for T1 on 2024-01-03"):
        ingest_price_file(duplicate, store, "csv:duplicate.csv", chunk_rows=4)
    pd.testing.assert_frame_equal(_stored(store), before, check_exact=True)


def test_a_file_the_fast_reader_gives_up_on_half_way_is_stored_once(tmp_path: Path) -> None:
    """Clean for Arrow's reader in its first chunks, not in a later one (a date with a time): the
    careful reader reads it again from the start, in the same transaction's place."""
    frame = _prices()
    text = _write(frame, tmp_path / "prices.csv").read_text()
    path = tmp_path / "late.csv"
    path.write_text(text.replace("2024-01-11,", "2024-01-11 00:00:00,"))
    read = 0
    with pytest.raises(UncleanFileError):
        for _ in LongPriceFile(path, chunk_rows=4):
            read += 1
    assert read >= 2  # Arrow's reader read chunks before it gave up
    store = PriceStore(tmp_path / "cache")
    got = ingest_price_file(path, store, "csv:late.csv", chunk_rows=4)
    assert got.rows == 24
    pd.testing.assert_frame_equal(
        _stored(store), read_long_prices(tmp_path / "prices.csv"), check_exact=True
    )


def test_a_ticker_missing_from_the_file_stores_nothing(tmp_path: Path) -> None:
    path = _write(_prices(), tmp_path / "prices.csv")
    store = PriceStore(tmp_path / "cache")
    with pytest.raises(DataError, match=r"prices\.csv: no prices for ticker\(s\) NOPE"):
        ingest_price_file(
            path, store, "csv:prices.csv", tickers=["T0", "NOPE"],
            start=pd.Timestamp("2024-01-01"), end=pd.Timestamp("2024-12-31"),
        )  # fmt: skip
    assert store.tickers().empty


def test_a_store_of_the_previous_schema_is_upgraded_in_place(tmp_path: Path) -> None:
    store = PriceStore(tmp_path / "cache")
    store.put_prices(_prices(1, 2), "old")
    with sqlite3.connect(store.path) as conn:  # as version 2 left it
        conn.execute("DROP TABLE price_files")
        conn.execute("PRAGMA user_version = 2")
    reopened = PriceStore(tmp_path / "cache")
    assert len(_stored(reopened)) == 2
    path = _write(_prices(), tmp_path / "prices.csv")
    sha = ingest_price_file(path, reopened, "csv:prices.csv").sha256
    assert reopened.has_price_file(sha, "csv:prices.csv")
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4


def test_a_second_run_with_the_same_price_file_writes_no_price_row(tmp_path: Path) -> None:
    """``run --prices FILE`` twice: the second run reads the file for the study but leaves the
    store's rows alone; its tables are the first run's."""
    sample = REPO / "src" / "eventstudy" / "datasets" / "deepseek"
    prices = tmp_path / "prices.csv"
    prices.write_bytes((sample / "prices.csv").read_bytes())
    cache = tmp_path / "cache"

    def run(out: str) -> None:
        args = ["run", str(REPO / "events.yaml"), "--prices", str(prices), "--shares",
                str(sample / "shares.csv"), "--offline", "--no-figures", "-q", "--cache-dir",
                str(cache), "--out", str(tmp_path / out)]  # fmt: skip
        result = CliRunner().invoke(main, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output

    run("a")
    store = PriceStore(cache)
    _mark(store, "NVDA", "2024-01-02", -1.0)
    before = _fetched_at(store)
    run("b")
    assert _fetched_at(store) == before
    assert _stored(store).set_index(["ticker", "date"]).loc[("NVDA", "2024-01-02"), "close"] == -1.0
    for table in ("car.csv", "abnormal_returns.csv", "valuation.csv"):
        assert (tmp_path / "a" / table).read_bytes() == (tmp_path / "b" / table).read_bytes()
    assert np.isfinite(pd.read_csv(tmp_path / "b" / "car.csv")["car"]).all()
