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

import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import repeat
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd
import platformdirs

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
from eventstudy.errors import DataError, argument

#: Bumped whenever the tables change; a store written by a newer version is refused, not guessed at.
SCHEMA_VERSION = 4  # 2: factor_files; 3: price_files; 4: file_tickers (side files)
STORE_FILENAME = "prices.sqlite"

_SQLITE_SUFFIXES = {".sqlite", ".sqlite3", ".db"}
_DAY = pd.Timedelta(days=1)
# Tickers per ``IN (...)`` query: far below SQLite's bound-parameter limit on every build.
_CHUNK = 500
# A missing range shorter than this is widened backwards to this many days before it is fetched:
# a range of only holidays (or only today, before the open) has no sessions, and strict sources
# such as Yahoo report an empty answer as an error.
_MIN_FETCH_DAYS = 10
# Share histories are asked for from here on (sources return what they have).
_SHARES_HISTORY_START = pd.Timestamp("1990-01-01")

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS prices (
        ticker     TEXT NOT NULL,
        date       TEXT NOT NULL,  -- YYYY-MM-DD, the exchange's trading date
        close      REAL,
        adj_close  REAL,
        volume     REAL,
        source     TEXT NOT NULL,
        fetched_at TEXT NOT NULL,  -- UTC, ISO 8601
        PRIMARY KEY (ticker, date)
    ) WITHOUT ROWID""",
    # Inclusive date ranges asked of a source and stored, with or without rows in them.
    """CREATE TABLE IF NOT EXISTS coverage (
        ticker     TEXT NOT NULL,
        start      TEXT NOT NULL,
        "end"      TEXT NOT NULL,
        source     TEXT NOT NULL,
        fetched_at TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS coverage_ticker ON coverage (ticker, start)",
    """CREATE TABLE IF NOT EXISTS shares (
        ticker             TEXT NOT NULL,
        as_of              TEXT NOT NULL,
        shares_outstanding REAL NOT NULL,
        source             TEXT NOT NULL,
        fetched_at         TEXT NOT NULL,
        PRIMARY KEY (ticker, as_of, source)
    ) WITHOUT ROWID""",
    # Tickers whose share history was fetched, even when it came back empty.
    """CREATE TABLE IF NOT EXISTS shares_coverage (
        ticker     TEXT PRIMARY KEY,
        fetched_at TEXT NOT NULL
    ) WITHOUT ROWID""",
    # Factor files are kept as published (text), so their release line and layout survive.
    """CREATE TABLE IF NOT EXISTS factor_files (
        dataset    TEXT PRIMARY KEY,
        text       TEXT NOT NULL,
        fetched_at TEXT NOT NULL
    ) WITHOUT ROWID""",
    # Price files whose every row is stored as the file has it (SHA-256 of the file's bytes):
    # storing one again would change nothing. Any other write of prices empties the table.
    """CREATE TABLE IF NOT EXISTS price_files (
        sha256    TEXT NOT NULL,
        source    TEXT NOT NULL,
        rows      INTEGER NOT NULL,
        stored_at TEXT NOT NULL,
        PRIMARY KEY (sha256, source)
    ) WITHOUT ROWID""",
    # Tickers whose prices live in a Parquet side file (eventstudy.data.side_files).
    side_files.SCHEMA,
]

#: The tables a price store holds: a file with other tables is not one, and is left alone.
_TABLES = frozenset(
    {
        "prices",
        "coverage",
        "shares",
        "shares_coverage",
        "factor_files",
        "price_files",
        "file_tickers",
    }
)

Range = tuple[pd.Timestamp, pd.Timestamp]
_T = TypeVar("_T")

__all__ = ["VALUE_COLUMNS", "PriceStore", "PriceWriter", "StagedFile", "default_cache_dir"]


def default_cache_dir() -> Path:
    """``$EVENTSTUDY_CACHE_DIR`` if set, else the platform's user cache directory."""
    configured = os.environ.get("EVENTSTUDY_CACHE_DIR")
    if configured:
        return Path(configured).expanduser()
    return Path(platformdirs.user_cache_dir("eventstudy"))


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


class PriceStore:
    """Daily prices and shares outstanding in one local SQLite file.

    ``path`` is a directory (the file is ``prices.sqlite`` in it) or the file itself (``*.sqlite``,
    ``*.sqlite3``, ``*.db``, or any existing file); None means :func:`default_cache_dir`. The file
    and its schema are created on first use. Each method opens its own short-lived connection, so a
    store can be shared by threads and processes and passed to subprocesses.
    """

    def __init__(self, path: Path | str | None = None, *, timeout: float = 60.0) -> None:
        base = Path(path).expanduser() if path is not None else default_cache_dir()
        if base.suffix.lower() in _SQLITE_SUFFIXES or base.is_file():
            self.path = base
        else:
            self.path = base / STORE_FILENAME
        #: Seconds a writer waits for another process's write before giving up.
        self.timeout = timeout
        #: Where large price files are kept as Parquet (:mod:`eventstudy.data.side_files`).
        self.side_folder = side_files.side_folder(self.path)
        self._schema_checked = False

    def __repr__(self) -> str:
        return f"PriceStore({str(self.path)!r})"

    # -- connections and transactions -------------------------------------------------------------

    def _read_only(self) -> Path | None:
        """The file or folder that keeps this process from writing to the store, or None.
        (SQLite writes beside the file too: its write-ahead log and lock files.)"""
        folder = self.path.parent
        if folder.is_dir() and not os.access(folder, os.W_OK):
            return folder
        return self.path if self.path.exists() and not os.access(self.path, os.W_OK) else None

    @property
    def read_only(self) -> bool:
        """Whether this process cannot write to the store (it is read, not written)."""
        return self._read_only() is not None

    @contextmanager
    def _connect(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        """A connection with the store's settings; SQLite failures become one-line DataErrors.

        A store this process cannot write is opened read-only (``mode=ro``; with ``immutable=1``
        when no write-ahead log lies beside it, as none can be created where the folder is
        read-only); one that does not exist there is read as an empty store. Writing to it is a
        DataError naming the read-only folder or file, before anything is tried."""
        blocker = self._read_only()
        if blocker is not None and write:
            what = "folder" if blocker.is_dir() else "file"
            raise DataError(
                f"price store {self.path}: the {what} {blocker} is read-only, so nothing can be "
                f"stored in it; choose another cache folder ({argument('cache_dir')} or "
                "EVENTSTUDY_CACHE_DIR)"
            )
        try:
            if blocker is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                # isolation_level=None: the module must not open transactions behind our back;
                # every transaction is an explicit BEGIN in _transaction().
                conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            elif not self.path.exists():
                conn = sqlite3.connect(":memory:", isolation_level=None)
            else:
                uri = self.path.absolute().as_uri() + "?mode=ro"
                if not self.path.with_name(self.path.name + "-wal").exists():
                    uri += "&immutable=1"
                conn = sqlite3.connect(
                    uri, uri=True, timeout=self.timeout, isolation_level=None
                )
        except (OSError, sqlite3.Error) as exc:
            raise DataError(f"price store {self.path}: cannot open ({exc})") from None
        try:
            # Another process writing makes us wait up to `timeout` instead of failing at once.
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            # With WAL, NORMAL still never corrupts the file or splits a transaction; it only
            # risks losing the last commits on power loss, and this is a re-fetchable cache.
            conn.execute("PRAGMA synchronous = NORMAL")
            if blocker is not None:
                self._check_read_only(conn, blocker)
            elif not self._schema_checked:
                self._ensure_schema(conn)
                self._schema_checked = True
            yield conn
        except sqlite3.ProgrammingError:
            raise  # a bug in this module, not a problem with the user's store
        except sqlite3.DatabaseError as exc:
            code = getattr(exc, "sqlite_errorname", "")
            if code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
                hint = f"; another process held it for over {self.timeout:g} s, try again"
            elif code.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
                hint = "; it is damaged or not a price store: delete it to start a new one"
            elif code.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN")):
                hint = (
                    f"; the folder {self.path.parent} or the file is read-only: choose another "
                    "cache folder (EVENTSTUDY_CACHE_DIR) to store prices"
                )
            else:
                hint = ""
            raise DataError(f"price store {self.path}: {exc}{hint}") from exc
        finally:
            conn.close()

    def _check_read_only(self, conn: sqlite3.Connection, blocker: Path) -> None:
        """A store opened read-only: one of this version's layout (an absent one is empty)."""
        if not self.path.exists():
            for statement in _SCHEMA:
                conn.execute(statement)
            return
        version = self._check_foreign(conn)
        if version < SCHEMA_VERSION:
            raise DataError(
                f"price store {self.path} has an older layout (schema {version}) that cannot be "
                f"brought up to date: {blocker} is read-only"
            )

    @staticmethod
    @contextmanager
    def _transaction(
        conn: sqlite3.Connection, *, write: bool = True
    ) -> Iterator[sqlite3.Connection]:
        """One transaction: committed on success, rolled back on any exception.

        Writers take the write lock up front (BEGIN IMMEDIATE) so that waiting for another process
        happens at the start, under busy_timeout; a deferred transaction that later upgrades to a
        write can fail with SQLITE_BUSY without waiting. Reads use a plain BEGIN so that several
        queries see one snapshot."""
        with conn:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            yield conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """The one way this class writes: a fresh connection inside a single write transaction."""
        with self._connect(write=True) as conn, self._transaction(conn) as tx:
            yield tx

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as conn, self._transaction(conn, write=False) as tx:
            yield tx

    def _check_foreign(self, conn: sqlite3.Connection) -> int:
        """The store's schema version; a SQLite file of another program, or of a newer
        eventstudy, is a DataError (read before anything is written: it is left untouched)."""
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        foreign = sorted(tables - _TABLES)
        if foreign or (tables and version == 0):
            shown = ", ".join(foreign[:5]) or ", ".join(sorted(tables)[:5])
            raise DataError(
                f"{self.path} is not an eventstudy price store (it holds the tables {shown}); "
                "it was left untouched: choose another cache folder"
            )
        if version > SCHEMA_VERSION:
            raise DataError(
                f"price store {self.path} was written by a newer eventstudy (schema {version}, "
                f"this version knows {SCHEMA_VERSION}); upgrade eventstudy or use another cache "
                "directory"
            )
        return version

    def _ensure_schema(self, conn: sqlite3.Connection) -> None:
        version = self._check_foreign(conn)
        # Persistent per file; lets readers proceed while one process writes.
        conn.execute("PRAGMA journal_mode = WAL")
        if version == SCHEMA_VERSION:
            return
        with self._transaction(conn):
            # Re-read under the write lock: another process may have created the schema meanwhile.
            # Every statement is IF NOT EXISTS, so older schemas are upgraded in place.
            if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                for statement in _SCHEMA:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

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
                for chunk in _chunks(names):
                    marks = ", ".join("?" * len(chunk))
                    records += conn.execute(
                        "SELECT ticker, date, close, adj_close, volume FROM prices "
                        f"WHERE ticker IN ({marks}) AND date BETWEEN ? AND ?",
                        [*chunk, lo, hi],
                    ).fetchall()
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
            for chunk in _chunks(names):
                marks = ", ".join("?" * len(chunk))
                for source, rows, fetched in conn.execute(
                    "SELECT source, COUNT(*), MAX(fetched_at) FROM prices "
                    f"WHERE ticker IN ({marks}) AND date BETWEEN ? AND ? GROUP BY source",
                    [*chunk, lo, hi],
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
            for chunk in _chunks(list(tickers)):
                marks = ", ".join("?" * len(chunk))
                for ticker, lo, hi in conn.execute(
                    f'SELECT ticker, start, "end" FROM coverage WHERE ticker IN ({marks}) '
                    'AND "end" >= ? AND start <= ?',
                    [*chunk, _iso(start), _iso(end)],
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
            for chunk in _chunks(names):
                marks = ", ".join("?" * len(chunk))
                records += conn.execute(
                    "SELECT ticker, as_of, shares_outstanding, source FROM shares "
                    f"WHERE ticker IN ({marks})",
                    list(chunk),
                ).fetchall()
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
            for chunk in _chunks(list(tickers)):
                marks = ", ".join("?" * len(chunk))
                for ticker, when in conn.execute(
                    f"SELECT ticker, fetched_at FROM shares_coverage WHERE ticker IN ({marks})",
                    list(chunk),
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
