"""Price files kept beside the store as Parquet (``eventstudy.data.side_files``): a ticker's prices
live in one place, the store reads them back bit for bit, later writes of a ticker move it into
the prices table first, and no side or staging file outlives what points to it."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eventstudy.data.ingest import ingest_price_file
from eventstudy.data.side_files import StagedFile
from eventstudy.data.sources.imports import read_long_prices
from eventstudy.data.store import PriceStore


def _prices(tickers: list[str], start: str, days: int, base: float = 10.0) -> pd.DataFrame:
    dates = pd.bdate_range(start, periods=days)
    rows = [
        (t, d, base + j + i / 7, base - 1 + j + i / 7, 1000.0 * (i + 1))
        for i, d in enumerate(dates)
        for j, t in enumerate(tickers)
    ]
    return pd.DataFrame(rows, columns=["ticker", "date", "close", "adj_close", "volume"])


def _write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False, date_format="%Y-%m-%d")
    return path


def _places(store: PriceStore) -> tuple[set[str], dict[str, str]]:
    """Tickers with rows in the prices table, and the side file serving each other ticker."""
    with sqlite3.connect(store.path) as conn:
        table = {r[0] for r in conn.execute("SELECT DISTINCT ticker FROM prices")}
        side = dict(conn.execute("SELECT ticker, file FROM file_tickers").fetchall())
    return table, side


def _side_files(store: PriceStore) -> list[str]:
    return sorted(p.name for p in store.side_folder.glob("*.parquet"))


@pytest.fixture
def store(tmp_path: Path) -> PriceStore:
    return PriceStore(tmp_path / "cache")


def test_a_file_of_new_tickers_is_one_side_file_read_back_bit_for_bit(
    store: PriceStore, tmp_path: Path
) -> None:
    frame = _prices(["A", "B"], "2024-01-02", 30)
    frame.loc[3, "volume"] = np.nan  # missing values survive as NaN
    frame.loc[4, "close"] = 1e-300
    path = _write(frame, tmp_path / "p.csv")
    got = ingest_price_file(path, store, "csv:p.csv", chunk_rows=7)  # several row groups
    assert got.rows == 60
    table, side = _places(store)
    assert table == set() and set(side) == {"A", "B"} and len(set(side.values())) == 1
    assert _side_files(store) == [next(iter(side.values()))]
    pd.testing.assert_frame_equal(
        store.get_prices(["A", "B"]), read_long_prices(path), check_exact=True
    )
    part = store.get_prices(["B"], "2024-01-10", "2024-01-12")
    assert part["date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2024-01-10",
        "2024-01-11",
        "2024-01-12",
    ]
    listed = store.tickers()
    assert listed["ticker"].tolist() == ["A", "B"]
    assert listed["rows"].tolist() == [30, 30] and listed["sources"].tolist() == ["csv:p.csv"] * 2
    assert store.missing_ranges("A", "2024-01-02", "2024-02-12") == []


def test_a_second_file_over_stored_tickers_updates_them_in_the_prices_table(
    store: PriceStore, tmp_path: Path
) -> None:
    ingest_price_file(_write(_prices(["A", "B"], "2024-01-02", 20), tmp_path / "a.csv"), store, "a")
    # Later dates for A (overlapping) and a new ticker C, adjusted closes only.
    second = _prices(["A", "C"], "2024-01-22", 10, base=50.0)[["ticker", "date", "adj_close"]]
    ingest_price_file(_write(second, tmp_path / "b.csv"), store, "b")
    table, side = _places(store)
    assert table == {"A"} and set(side) == {"B", "C"}
    a = store.get_prices(["A"]).set_index("date")
    old = _prices(["A"], "2024-01-02", 20).set_index("date")
    new = second[second["ticker"] == "A"].set_index("date")
    overlap = old.index.intersection(new.index)
    assert len(overlap) == 6 and len(a) == 20 + 10 - 6
    only_old = old.index.difference(new.index)
    assert (a.loc[only_old, "adj_close"] == old.loc[only_old, "adj_close"]).all()
    assert (a.loc[new.index, "adj_close"] == new["adj_close"]).all()  # the later file wins
    assert (a.loc[overlap, "close"] == old.loc[overlap, "close"]).all()  # a column it lacks: kept
    assert a.loc[new.index.difference(old.index), "close"].isna().all()
    # A's first side file still serves B; the second serves C.
    assert len(_side_files(store)) == 2
    sources = {s: n for s, n, _ in store.price_sources(["A", "B", "C"])}
    assert sources == {"a": 14 + 20, "b": 10 + 10}
    late = store.price_sources(["A", "B", "C"], "2024-01-29", "2024-01-31")
    assert {s: n for s, n, _ in late} == {
        "b": 3 + 3,  # A's rows of the 29th-31st came from b, as did C's
        "a": 1,  # B on the 29th (its last day)
    }


def test_a_later_write_moves_the_ticker_out_of_its_side_file_first(
    store: PriceStore, tmp_path: Path
) -> None:
    path = _write(_prices(["A", "B"], "2024-01-02", 10), tmp_path / "p.csv")
    sha = ingest_price_file(path, store, "csv:p.csv").sha256
    with sqlite3.connect(store.path) as conn:
        stored_at = conn.execute("SELECT stored_at FROM file_tickers").fetchone()[0]
    update = _prices(["A"], "2024-01-15", 2, base=99.0)  # the 15th again, and the 16th
    store.put_prices(update, "yahoo")
    table, side = _places(store)
    assert table == {"A"} and set(side) == {"B"}
    a = store.get_prices(["A"])
    assert len(a) == 11 and a["close"].iloc[-1] == update["close"].iloc[-1]
    with sqlite3.connect(store.path) as conn:
        origin = conn.execute(
            "SELECT source, fetched_at FROM prices WHERE ticker = 'A' AND date = '2024-01-02'"
        ).fetchone()
    assert origin == ("csv:p.csv", stored_at)  # moved with where and when it came from
    assert not store.has_price_file(sha, "csv:p.csv")  # another write: the file is stored anew


def test_clear_forgets_side_tickers_and_removes_files_nothing_points_to(
    store: PriceStore, tmp_path: Path
) -> None:
    ingest_price_file(_write(_prices(["A", "B"], "2024-01-02", 10), tmp_path / "p.csv"), store, "p")
    assert store.clear("A") == 10
    assert store.get_prices(["A"]).empty and len(store.get_prices(["B"])) == 10
    assert len(_side_files(store)) == 1  # still serves B
    assert store.clear() == 10
    assert store.tickers().empty and _side_files(store) == []


def test_a_failed_ingest_leaves_no_file_and_a_killed_ones_staging_is_swept(
    store: PriceStore, tmp_path: Path
) -> None:
    path = _write(_prices(["A"], "2024-01-02", 10), tmp_path / "p.csv")
    with pytest.raises(RuntimeError), store.price_file_writer("p") as staged:
        staged.add(read_long_prices(path))
        assert staged.tickers()["rows"].tolist() == [10] and staged.path.exists()
        raise RuntimeError("stop")
    assert list(store.side_folder.iterdir()) == [] and store.tickers().empty
    # A staging file left by a killed process: removed by a later write once a day old.
    left = StagedFile(store.side_folder, "p")
    left.add(read_long_prices(path))
    left.close()
    fresh = StagedFile(store.side_folder, "p")
    fresh.add(read_long_prices(path))
    fresh.close()
    old = time.time() - 2 * 24 * 3600
    os.utime(left.path, (old, old))
    ingest_price_file(_write(_prices(["B"], "2024-01-02", 3), tmp_path / "q.csv"), store, "q")
    assert not left.path.exists() and fresh.path.exists()  # another run may be staging that one
    fresh.discard()


def test_a_deferred_store_writes_nothing_until_called(store: PriceStore, tmp_path: Path) -> None:
    path = _write(_prices(["A", "B"], "2024-01-02", 10), tmp_path / "p.csv")
    got = ingest_price_file(
        path, store, "p", tickers=["A"], start=pd.Timestamp("2024-01-03"),
        end=pd.Timestamp("2024-01-05"), skip_stored=True, defer=True,
    )  # fmt: skip
    assert got.prices is not None and len(got.prices) == 3
    assert got.staged is not None and got.staged.path.exists()
    assert store.tickers().empty  # nothing stored yet
    assert store.store_staged(got.staged) == 20
    assert store.has_price_file(got.sha256, "p") and not got.staged.path.exists()
    again = ingest_price_file(path, store, "p", skip_stored=True, defer=True)
    assert again.staged is None  # stored already: nothing staged
