"""The local price store: one SQLite file of prices, share counts and factor files.

Prices are fetched once and kept in ``<cache dir>/prices.sqlite``. Besides the rows themselves the
store records *coverage*: the date ranges that were asked of a source and answered. A holiday or a
gap inside a covered range is therefore known to have no session and is not fetched again, and a
study run twice makes no second download.

Several processes may use one store at a time (WAL mode, writers wait for each other), and every
write is a single transaction, so a run killed mid-write leaves the store as it was before.
:class:`~eventstudy.data.cached.CachedSource` is the cache policy in front of a source (what to
fetch, in which batches). See docs/data.md.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import repeat
from typing import TypeVar

import numpy as np
import pandas as pd

from eventstudy.data import side_files
from eventstudy.data.price_rows import (
    VALUE_COLUMNS,
    PriceWriter,
    _date_strings,
    _floats,
    _now,
    _require,
)
from eventstudy.data.side_files import StagedFile
from eventstudy.data.sources.base import (
    PRICE_COLUMNS,
    SHARES_COLUMNS,
    empty_prices,
    empty_shares,
)
from eventstudy.data.store_file import (
    SCHEMA_VERSION,
    STORE_FILENAME,
    StoreFile,
    default_cache_dir,
)
from eventstudy.errors import DataError

_DAY = pd.Timedelta(days=1)
# Tickers per ``IN (...)`` query: far below SQLite's bound-parameter limit on every build.
_CHUNK = 500
# A missing range shorter than this is widened backwards to this many days before it is fetched:
# a range of only holidays (or only today, before the open) has no sessions, and strict sources
# such as Yahoo report an empty answer as an error.
_MIN_FETCH_DAYS = 10
# Share histories are asked for from here on (sources return what they have).
_SHARES_HISTORY_START = pd.Timestamp("1990-01-01")


Range = tuple[pd.Timestamp, pd.Timestamp]
_T = TypeVar("_T")

__all__ = [
    "SCHEMA_VERSION",
    "STORE_FILENAME",
    "VALUE_COLUMNS",
    "PriceStore",
    "PriceWriter",
    "StagedFile",
    "default_cache_dir",
]


def _day(value: object) -> pd.Timestamp:
    """A calendar day as a naive midnight Timestamp (an aware one keeps its wall-clock date)."""
    ts = pd.Timestamp(value)
    if ts is pd.NaT:
        raise ValueError(f"not a date: {value!r}")
    if ts.tzinfo is not None:
        ts = ts.tz_localize(None)
    return ts.normalize()


def _iso(day: pd.Timestamp) -> str:
    return day.strftime("%Y-%m-%d")


def _unique(tickers: Iterable[str]) -> list[str]:
    """Tickers in first-seen order without repeats (a bare string is one ticker, not letters)."""
    if isinstance(tickers, str):
        tickers = [tickers]
    return list(dict.fromkeys(str(t) for t in tickers))


def _chunks(items: Sequence[_T], size: int = _CHUNK) -> Iterator[Sequence[_T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _rows_for(
    conn: sqlite3.Connection, query: str, tickers: Sequence[str], *params: object
) -> Iterator[tuple]:
    """The rows of ``query`` for ``tickers`` (its ``{marks}``: their placeholders, then
    ``params``), asked a chunk of tickers at a time."""
    for chunk in _chunks(tickers):
        marks = ", ".join("?" * len(chunk))
        yield from conn.execute(query.format(marks=marks), [*chunk, *params])


def _uncovered(intervals: Iterable[Range], start: pd.Timestamp, end: pd.Timestamp) -> list[Range]:
    """Sub-ranges of ``[start, end]`` (inclusive days) not inside any of ``intervals``.

    Overlapping, contained and adjacent intervals merge (``[1, 10]`` and ``[11, 20]`` leave no gap:
    dates are whole days)."""
    gaps: list[Range] = []
    if start > end:
        return gaps
    cursor = start  # first day not yet known to be covered
    for lo, hi in sorted(iv for iv in intervals if iv[0] <= iv[1]):
        if hi < cursor:
            continue
        if lo > end:
            break
        if lo > cursor:
            gaps.append((cursor, lo - _DAY))
        cursor = max(cursor, hi + _DAY)
        if cursor > end:
            break
    if cursor <= end:
        gaps.append((cursor, end))
    return gaps


class PriceStore(StoreFile):
    """Daily prices, shares outstanding and factor files in one local SQLite file (where it is,
    its schema and connections: :class:`~eventstudy.data.store_file.StoreFile`), with large price
    files beside it (:mod:`eventstudy.data.side_files`)."""

    # -- prices -----------------------------------------------------------------------------------

    def put_prices(
        self,
        frame: pd.DataFrame,
        source: str,
        start: object = None,
        end: object = None,
        tickers: Iterable[str] | None = None,
        columns: Sequence[str] | None = None,
    ) -> int:
        """Insert or replace the rows of a :data:`PRICE_COLUMNS` frame and record coverage.

        ``columns`` (a subset of ``close, adj_close, volume``; None: all) limits what replaces a
        row already stored: the other values of that row are kept (importing a file with only
        adjusted closes must not erase the unadjusted ones). New rows get NULL in the others.

        With ``start`` and ``end``, ``[start, end]`` is recorded as covered for every ticker in
        ``tickers`` (default: the tickers in the frame), rows or not: that range was asked of
        ``source`` and this is its full answer. An empty range (``end < start``) records none.
        Without them, each ticker in the frame is covered from its first to its last row.
        Rows and coverage are written in one transaction. Returns the number of rows written."""
        if (start is None) != (end is None):
            raise ValueError("put_prices: give both start and end, or neither")
        with self._write() as conn:
            if "ticker" in frame.columns:  # their prices live in one place: the prices table
                names = _unique(frame["ticker"].dropna().unique())
                side_files.materialize(conn, self.side_folder, names)
            writer = PriceWriter(conn, source)
            writer.add(frame, columns)
            if start is None:
                wanted = set(_unique(tickers)) if tickers is not None else None
                spans = [
                    (t, lo, hi)
                    for t, (lo, hi) in writer.bounds.items()
                    if wanted is None or t in wanted
                ]
            else:
                lo, hi = _day(start), _day(end)
                covered = _unique(tickers) if tickers is not None else list(writer.bounds)
                spans = [(t, _iso(lo), _iso(hi)) for t in covered] if lo <= hi else []
            writer.cover(spans)
            conn.execute("DELETE FROM price_files")
        return writer.rows

    @contextmanager
    def price_file_writer(self, source: str) -> Iterator[StagedFile]:
        """Store a price file chunk by chunk: the block adds the file's rows to the yielded
        :class:`~eventstudy.data.side_files.StagedFile` (``add(frame, columns)``); when it ends
        the file is taken into the store (:meth:`store_staged`) and, if the block set
        ``sha256``, recorded as stored (:meth:`has_price_file`). An exception in the block
        leaves the store as it was."""
        staged = self.stage_price_file(source)
        try:
            yield staged
            self.store_staged(staged)
        finally:
            staged.discard()

    def stage_price_file(self, source: str, columns: Sequence[str] | None = None) -> StagedFile:
        """A :class:`~eventstudy.data.side_files.StagedFile` for a price file from ``source``,
        to be taken in by :meth:`store_staged` (or discarded). A store this process cannot
        write is a one-line DataError, before anything is read."""
        if self.read_only:
            with self._connect(write=True):  # raises, naming what is read-only
                pass
        return StagedFile(self.side_folder, source, columns)

    def store_staged(self, staged: StagedFile) -> int:
        """Take a staged price file into the store in one transaction: the rows of tickers new to
        the store stay in its Parquet file (a side file, no row copied), those of tickers stored
        already replace their stored rows (keeping the columns the file lacks); each ticker is
        recorded as covered from its first to its last row, and the file as stored when
        ``staged.sha256`` is set. Returns the rows stored."""
        with self._write() as conn:
            writer = PriceWriter(conn, staged.source)
            bounds = side_files.adopt(conn, staged, writer)
            writer.cover([(t, lo, hi) for t, (lo, hi) in bounds.items()])
            conn.execute("DELETE FROM price_files")
            if staged.sha256:
                conn.execute(
                    "INSERT INTO price_files (sha256, source, rows, stored_at) VALUES (?, ?, ?, ?)",
                    (staged.sha256, staged.source, writer.rows, writer.fetched_at),
                )
        return writer.rows

    def has_price_file(self, sha256: str, source: str) -> bool:
        """Whether the price file with this SHA-256 was stored from ``source`` by
        :meth:`price_file_writer` and no price was written since: its rows are all stored as it
        has them."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT 1 FROM price_files WHERE sha256 = ? AND source = ?", (sha256, source)
            ).fetchone()
        return row is not None

    def get_prices(
        self, tickers: Iterable[str], start: object = None, end: object = None
    ) -> pd.DataFrame:
        """Stored prices of ``tickers`` between ``start`` and ``end`` (inclusive; None = unbounded)
        as a :data:`PRICE_COLUMNS` frame sorted by ticker and date."""
        names = _unique(tickers)
        lo = _iso(_day(start)) if start is not None else "0000-00-00"
        hi = _iso(_day(end)) if end is not None else "9999-99-99"
        for attempt in range(2):
            records: list[tuple] = []
            with self._read() as conn:
                records += _rows_for(
                    conn,
                    "SELECT ticker, date, close, adj_close, volume FROM prices "
                    "WHERE ticker IN ({marks}) AND date BETWEEN ? AND ?",
                    names,
                    lo,
                    hi,
                )
                try:
                    side = side_files.read_prices(conn, self.side_folder, names, lo, hi)
                    break
                except FileNotFoundError as exc:  # pruned by a writer after our snapshot
                    if attempt:
                        raise DataError(f"price store {self.path}: {exc}") from None
        frames = [] if side is None or not len(side) else [side]
        if records:
            frame = pd.DataFrame.from_records(records, columns=PRICE_COLUMNS)
            frame["ticker"] = frame["ticker"].astype(str)
            frame["date"] = pd.to_datetime(frame["date"], format="%Y-%m-%d").astype(
                "datetime64[ns]"
            )
            for column in VALUE_COLUMNS:
                frame[column] = frame[column].astype(float)  # NULL (None) -> NaN
            frames.insert(0, frame)
        if not frames:
            return empty_prices()
        frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        return frame.sort_values(["ticker", "date"], ignore_index=True)

    def price_sources(
        self, tickers: Iterable[str], start: object = None, end: object = None
    ) -> list[tuple[str, int, str]]:
        """Where the stored prices of ``tickers`` in ``[start, end]`` came from: ``(source, rows,
        last fetched, YYYY-MM-DD)`` per source, most rows first."""
        names = _unique(tickers)
        lo = _iso(_day(start)) if start is not None else "0000-00-00"
        hi = _iso(_day(end)) if end is not None else "9999-99-99"
        counts: dict[str, list] = {}
        with self._read() as conn:
            for source, rows, fetched in _rows_for(
                conn,
                "SELECT source, COUNT(*), MAX(fetched_at) FROM prices "
                "WHERE ticker IN ({marks}) AND date BETWEEN ? AND ? GROUP BY source",
                names,
                lo,
                hi,
            ):
                seen = counts.setdefault(source, [0, ""])
                seen[0] += rows
                seen[1] = max(seen[1], fetched[:10])
            side = side_files.source_counts(conn, self.side_folder, names, lo, hi)
        for source, (rows, stored) in side.items():
            seen = counts.setdefault(source, [0, ""])
            seen[0] += rows
            seen[1] = max(seen[1], stored)
        return sorted(((s, n, f) for s, (n, f) in counts.items()), key=lambda x: -x[1])

    def _missing_by_ticker(
        self, tickers: Sequence[str], start: pd.Timestamp, end: pd.Timestamp
    ) -> dict[str, list[Range]]:
        intervals: dict[str, list[Range]] = {t: [] for t in tickers}
        with self._read() as conn:
            for ticker, lo, hi in _rows_for(
                conn,
                'SELECT ticker, start, "end" FROM coverage WHERE ticker IN ({marks}) '
                'AND "end" >= ? AND start <= ?',
                list(tickers),
                _iso(start),
                _iso(end),
            ):
                intervals[ticker].append((pd.Timestamp(lo), pd.Timestamp(hi)))
        return {t: _uncovered(iv, start, end) for t, iv in intervals.items()}

    def missing_ranges(self, ticker: str, start: object, end: object) -> list[Range]:
        """Inclusive sub-ranges of ``[start, end]`` that no stored coverage of ``ticker`` includes,
        in date order (empty when everything is covered)."""
        lo, hi = _day(start), _day(end)
        return self._missing_by_ticker([ticker], lo, hi)[ticker]

    # -- shares -----------------------------------------------------------------------------------

    def put_shares(self, frame: pd.DataFrame, tickers: Iterable[str] | None = None) -> int:
        """Insert or replace share counts (:data:`SHARES_COLUMNS`; a missing ``source`` is stored
        as ``unknown``) and mark ``tickers`` (default: those in the frame) as fetched, even those
        without rows. One transaction. Returns the number of rows written."""
        _require(frame, ["ticker", "as_of", "shares_outstanding"], "shares")
        if frame["ticker"].isna().any():
            raise DataError("shares: rows without a ticker")
        names = frame["ticker"].astype(str).tolist()
        dates = _date_strings(frame["as_of"], "shares")
        try:
            counts = _floats(frame["shares_outstanding"])
        except (TypeError, ValueError) as exc:
            raise DataError(f"shares: non-numeric shares_outstanding ({exc})") from None
        if any(np.isnan(counts)):
            raise DataError("shares: rows without a shares_outstanding value")
        if "source" in frame.columns:
            sources = frame["source"].astype(object).where(frame["source"].notna(), "unknown")
            source_list = [str(s) for s in sources]
        else:
            source_list = ["unknown"] * len(frame)
        fetched_at = _now()
        rows = list(zip(names, dates, counts, source_list, repeat(fetched_at), strict=False))
        covered = _unique(tickers) if tickers is not None else _unique(names)
        with self._write() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO shares "
                "(ticker, as_of, shares_outstanding, source, fetched_at) VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            conn.executemany(
                "INSERT OR REPLACE INTO shares_coverage (ticker, fetched_at) VALUES (?, ?)",
                [(t, fetched_at) for t in covered],
            )
        return len(rows)

    def get_shares(self, tickers: Iterable[str]) -> pd.DataFrame:
        """Stored share counts of ``tickers`` (:data:`SHARES_COLUMNS`, by ticker and date)."""
        names = _unique(tickers)
        records: list[tuple] = []
        with self._read() as conn:
            records += _rows_for(
                conn,
                "SELECT ticker, as_of, shares_outstanding, source FROM shares "
                "WHERE ticker IN ({marks})",
                names,
            )
        if not records:
            return empty_shares()
        frame = pd.DataFrame.from_records(records, columns=SHARES_COLUMNS)
        frame["ticker"] = frame["ticker"].astype(str)
        frame["as_of"] = pd.to_datetime(frame["as_of"], format="%Y-%m-%d").astype("datetime64[ns]")
        frame["shares_outstanding"] = frame["shares_outstanding"].astype(float)
        frame["source"] = frame["source"].astype(str)
        return frame.sort_values(["ticker", "as_of", "source"], ignore_index=True)

    def _shares_fetched(self, tickers: Sequence[str]) -> dict[str, pd.Timestamp]:
        """When each of ``tickers`` had its share history fetched (absent: never)."""
        fetched: dict[str, pd.Timestamp] = {}
        with self._read() as conn:
            for ticker, when in _rows_for(
                conn,
                "SELECT ticker, fetched_at FROM shares_coverage WHERE ticker IN ({marks})",
                list(tickers),
            ):
                fetched[ticker] = pd.Timestamp(when)
        return fetched

    def has_shares(self, ticker: str) -> bool:
        """Whether the share history of ``ticker`` was fetched or imported (it may be empty)."""
        return ticker in self._shares_fetched([ticker])

    # -- factor files -----------------------------------------------------------------------------

    def put_factor_file(self, dataset: str, text: str) -> None:
        """Store one factor file's text (e.g. Ken French's ``F-F_Research_Data_Factors_daily``)."""
        with self._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO factor_files (dataset, text, fetched_at) VALUES (?, ?, ?)",
                (dataset, text, _now()),
            )

    def get_factor_file(self, dataset: str) -> str | None:
        """The stored text of a factor file, or None."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT text FROM factor_files WHERE dataset = ?", (dataset,)
            ).fetchone()
        return None if row is None else row[0]

    # -- maintenance ------------------------------------------------------------------------------

    def tickers(self) -> pd.DataFrame:
        """One row per ticker with stored prices: ``ticker, first, last, rows, sources`` (the
        distinct sources, comma-separated)."""
        with self._read() as conn:
            summary = conn.execute(
                "SELECT ticker, MIN(date), MAX(date), COUNT(*) FROM prices "
                "GROUP BY ticker ORDER BY ticker"
            ).fetchall()
            pairs = conn.execute(
                "SELECT DISTINCT ticker, source FROM prices ORDER BY ticker, source"
            ).fetchall()
            side = side_files.summary(conn)
        sources: dict[str, list[str]] = {}
        for ticker, source in pairs:
            sources.setdefault(ticker, []).append(source)
        if side:  # a ticker lives in the prices table or in one side file, never both
            summary = sorted([*summary, *(row[:4] for row in side)])
            for ticker, *_, source in side:
                sources[ticker] = [source]
        return pd.DataFrame(
            {
                "ticker": pd.Series([r[0] for r in summary], dtype=object),
                "first": pd.to_datetime([r[1] for r in summary]).astype("datetime64[ns]"),
                "last": pd.to_datetime([r[2] for r in summary]).astype("datetime64[ns]"),
                "rows": pd.Series([r[3] for r in summary], dtype="int64"),
                "sources": pd.Series([", ".join(sources[r[0]]) for r in summary], dtype=object),
            }
        )

    def shares_summary(self) -> pd.DataFrame:
        """One row per ticker with stored share counts: ``ticker, counts, latest_as_of``."""
        with self._read() as conn:
            summary = conn.execute(
                "SELECT ticker, COUNT(*), MAX(as_of) FROM shares GROUP BY ticker ORDER BY ticker"
            ).fetchall()
        return pd.DataFrame(
            {
                "ticker": pd.Series([r[0] for r in summary], dtype=object),
                "counts": pd.Series([r[1] for r in summary], dtype="int64"),
                "latest_as_of": pd.to_datetime([r[2] for r in summary]).astype("datetime64[ns]"),
            }
        )

    def clear(self, ticker: str | None = None) -> int:
        """Delete everything stored for ``ticker`` (prices, shares, coverage), or for all tickers.
        Returns the number of price rows deleted."""
        where, args = ("WHERE ticker = ?", (ticker,)) if ticker is not None else ("", ())
        with self._write() as conn:
            deleted = conn.execute(f"DELETE FROM prices {where}", args).rowcount
            deleted += sum(row[3] for row in side_files.summary(conn) if ticker in (None, row[0]))
            side_files.forget(conn, ticker)
            for table in ("coverage", "shares", "shares_coverage"):
                conn.execute(f"DELETE FROM {table} {where}", args)
            conn.execute("DELETE FROM price_files")
        with self._write() as conn:  # the side files no ticker points to any more
            side_files.prune(conn, self.side_folder)
        return deleted
