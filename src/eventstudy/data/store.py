"""The local price store (one SQLite file) and :class:`CachedSource`, the cache before a source.

Prices are fetched once and kept in ``<cache dir>/prices.sqlite``. Besides the rows themselves the
store records *coverage*: the date ranges that were asked of a source and answered. A holiday or a
gap inside a covered range is therefore known to have no session and is not fetched again, and a
study run twice makes no second download.

Several processes may use one store at a time (WAL mode, writers wait for each other), and every
write is a single transaction, so a run killed mid-write leaves the store as it was before.
:class:`CachedSource` fetches in batches of tickers and stores each batch in its own transaction,
so an interrupted fetch keeps every completed batch and the next run fetches only the rest.
See docs/data.md.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import repeat
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd
import platformdirs

from eventstudy.data.sources.base import (
    PRICE_COLUMNS,
    SHARES_COLUMNS,
    PriceSource,
    empty_prices,
    empty_shares,
)
from eventstudy.errors import DataError, OfflineError, argument
from eventstudy.progress import progress_bar

#: Bumped whenever the tables change; a store written by a newer version is refused, not guessed at.
SCHEMA_VERSION = 2  # 2: factor_files
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
]

Range = tuple[pd.Timestamp, pd.Timestamp]
_T = TypeVar("_T")

#: Price columns a partial import may write while keeping the others (see ``put_prices``).
VALUE_COLUMNS = ("close", "adj_close", "volume")


class PartialFetchError(DataError):
    """A source delivered some tickers and not others.

    ``frame`` holds what it did deliver (prices or shares), ``failures`` maps every ticker it did
    not deliver to the reason. ``fatal`` is False when the failures are about those tickers
    (unknown symbol, no data in the window): the rest of a study can go on without them. It is True
    when something else stopped the fetch (a rate limit or network failure that outlasted the
    retries, the overall timeout): retrying later may work, and nothing should go on without them.
    """

    def __init__(
        self,
        message: str,
        frame: pd.DataFrame,
        failures: dict[str, str],
        *,
        fatal: bool = False,
    ) -> None:
        super().__init__(message)
        self.frame = frame
        self.failures = dict(failures)
        self.fatal = fatal


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


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _unique(tickers: Iterable[str]) -> list[str]:
    """Tickers in first-seen order without repeats (a bare string is one ticker, not letters)."""
    if isinstance(tickers, str):
        tickers = [tickers]
    return list(dict.fromkeys(str(t) for t in tickers))


def _chunks(items: Sequence[_T], size: int = _CHUNK) -> Iterator[Sequence[_T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _date_strings(values: pd.Series, what: str) -> list[str]:
    """``YYYY-MM-DD`` strings for a date column; missing or unparseable dates are a DataError."""
    dates = pd.to_datetime(values, errors="coerce")
    if dates.isna().any():
        raise DataError(f"{what}: missing or unparseable dates")
    if dates.dt.tz is not None:
        dates = dates.dt.tz_localize(None)
    # numpy formats a whole column at once, much faster than Series.dt.strftime on big batches.
    return np.datetime_as_string(dates.to_numpy().astype("datetime64[D]"), unit="D").tolist()


def _floats(values: pd.Series) -> list[float]:
    # Plain Python floats bind as IEEE doubles, so they come back bit for bit. NaN is stored as
    # NULL and read back as NaN; -0.0 comes back as 0.0 (SQLite folds the sign), equal as a float.
    return pd.to_numeric(values, errors="raise").astype(float).tolist()


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"{what}: missing column(s) {', '.join(missing)}")


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
        self._schema_checked = False

    def __repr__(self) -> str:
        return f"PriceStore({str(self.path)!r})"

    # -- connections and transactions -------------------------------------------------------------

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection with the store's settings; SQLite failures become one-line DataErrors."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: the module must not open transactions behind our back; every
            # transaction is an explicit BEGIN in _transaction().
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise DataError(f"price store {self.path}: cannot open ({exc})") from None
        try:
            # Another process writing makes us wait up to `timeout` instead of failing at once.
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            # With WAL, NORMAL still never corrupts the file or splits a transaction; it only
            # risks losing the last commits on power loss, and this is a re-fetchable cache.
            conn.execute("PRAGMA synchronous = NORMAL")
            if not self._schema_checked:
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
            else:
                hint = ""
            raise DataError(f"price store {self.path}: {exc}{hint}") from exc
        finally:
            conn.close()

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
        with self._connect() as conn, self._transaction(conn) as tx:
            yield tx

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as conn, self._transaction(conn, write=False) as tx:
            yield tx

    def _ensure_schema(self, conn: sqlite3.Connection) -> None:
        # Persistent per file; lets readers proceed while one process writes.
        conn.execute("PRAGMA journal_mode = WAL")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise DataError(
                f"price store {self.path} was written by a newer eventstudy (schema {version}, "
                f"this version knows {SCHEMA_VERSION}); upgrade eventstudy or use another cache "
                "directory"
            )
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
        _require(frame, PRICE_COLUMNS, f"prices from {source}")
        if (start is None) != (end is None):
            raise ValueError("put_prices: give both start and end, or neither")
        if frame["ticker"].isna().any():
            raise DataError(f"prices from {source}: rows without a ticker")
        names = frame["ticker"].astype(str).tolist()
        dates = _date_strings(frame["date"], f"prices from {source}")
        try:
            values = [_floats(frame[c]) for c in ("close", "adj_close", "volume")]
        except (TypeError, ValueError) as exc:
            raise DataError(f"prices from {source}: non-numeric values ({exc})") from None
        fetched_at = _now()
        rows = list(zip(names, dates, *values, repeat(source), repeat(fetched_at), strict=False))

        spans: list[tuple[str, str, str]] = []
        if start is not None:
            lo, hi = _day(start), _day(end)
            if lo <= hi:
                covered = _unique(tickers) if tickers is not None else _unique(names)
                spans = [(t, _iso(lo), _iso(hi)) for t in covered]
        elif rows:
            wanted = set(_unique(tickers)) if tickers is not None else None
            bounds = pd.DataFrame({"ticker": names, "date": dates}).groupby("ticker")["date"]
            spans = [
                (t, first, last)
                for t, first, last in bounds.agg(["min", "max"]).itertuples()
                if wanted is None or t in wanted
            ]

        insert = (
            "INSERT INTO prices (ticker, date, close, adj_close, volume, source, fetched_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)"
        )
        if columns is None or set(columns) >= set(VALUE_COLUMNS):
            insert = insert.replace("INSERT", "INSERT OR REPLACE", 1)
        else:
            unknown = sorted(set(columns) - set(VALUE_COLUMNS))
            if unknown:
                raise ValueError(f"put_prices: unknown column(s) {', '.join(unknown)}")
            updates = [f"{c} = excluded.{c}" for c in VALUE_COLUMNS if c in columns]
            updates += ["source = excluded.source", "fetched_at = excluded.fetched_at"]
            insert += f" ON CONFLICT (ticker, date) DO UPDATE SET {', '.join(updates)}"

        with self._write() as conn:
            conn.executemany(insert, rows)
            # Ranges inside the new one are superseded; dropping them keeps repeated refreshes
            # from growing the table.
            conn.executemany(
                'DELETE FROM coverage WHERE ticker = ? AND start >= ? AND "end" <= ?', spans
            )
            conn.executemany(
                'INSERT INTO coverage (ticker, start, "end", source, fetched_at) '
                "VALUES (?, ?, ?, ?, ?)",
                [(t, lo, hi, source, fetched_at) for t, lo, hi in spans],
            )
        return len(rows)

    def get_prices(
        self, tickers: Iterable[str], start: object = None, end: object = None
    ) -> pd.DataFrame:
        """Stored prices of ``tickers`` between ``start`` and ``end`` (inclusive; None = unbounded)
        as a :data:`PRICE_COLUMNS` frame sorted by ticker and date."""
        names = _unique(tickers)
        lo = _iso(_day(start)) if start is not None else "0000-00-00"
        hi = _iso(_day(end)) if end is not None else "9999-99-99"
        records: list[tuple] = []
        with self._read() as conn:
            for chunk in _chunks(names):
                marks = ", ".join("?" * len(chunk))
                records += conn.execute(
                    "SELECT ticker, date, close, adj_close, volume FROM prices "
                    f"WHERE ticker IN ({marks}) AND date BETWEEN ? AND ?",
                    [*chunk, lo, hi],
                ).fetchall()
        if not records:
            return empty_prices()
        frame = pd.DataFrame.from_records(records, columns=PRICE_COLUMNS)
        frame["ticker"] = frame["ticker"].astype(str)
        frame["date"] = pd.to_datetime(frame["date"], format="%Y-%m-%d").astype("datetime64[ns]")
        for column in ("close", "adj_close", "volume"):
            frame[column] = frame[column].astype(float)  # NULL (None) -> NaN
        return frame.sort_values(["ticker", "date"], ignore_index=True)

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
        sources: dict[str, list[str]] = {}
        for ticker, source in pairs:
            sources.setdefault(ticker, []).append(source)
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
            for table in ("coverage", "shares", "shares_coverage"):
                conn.execute(f"DELETE FROM {table} {where}", args)
        return deleted


def _trim_weekends(start: pd.Timestamp, end: pd.Timestamp) -> Range | None:
    """``[start, end]`` without leading and trailing Saturdays and Sundays (None if nothing is
    left): no exchange this package serves has weekend sessions, and asking a source for a
    weekend alone costs a call and makes some sources report an error."""
    while start <= end and start.day_of_week >= 5:
        start += _DAY
    while end >= start and end.day_of_week >= 5:
        end -= _DAY
    return (start, end) if start <= end else None


def _widen_over_weekends(start: pd.Timestamp, end: pd.Timestamp) -> Range:
    """Extend a weekday range over the weekend days touching it, so that coverage recorded on
    either side of a weekend merges into one range."""
    while (start - _DAY).day_of_week >= 5:
        start -= _DAY
    while (end + _DAY).day_of_week >= 5:
        end += _DAY
    return start, end


def _list_names(names: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"


class CachedSource(PriceSource):
    """A :class:`PriceSource` that answers from a :class:`PriceStore` and fetches from
    ``upstream`` only what the store does not cover yet.

    ``offline`` refuses upstreams that use the network (a local file upstream is still read);
    ``refresh`` refetches whole requested ranges instead of only the missing parts. Days after
    yesterday (UTC) are fetched but never recorded as covered, because their bars may still change
    or not exist yet; ``today`` pins the date for tests and reproducible runs.

    Missing tickers are fetched ``batch_size`` at a time and each batch is stored in its own
    transaction, so an interrupted run keeps what it completed. When the upstream cannot deliver
    some tickers (:class:`PartialFetchError`), the others are stored and the failed ones are
    recorded in ``failures`` (ticker -> reason) and left uncovered, to be tried again next run;
    with ``strict`` the first such failure raises a :class:`DataError`. A fatal partial failure
    (rate limit, network, timeout) always raises, after storing what was delivered.
    ``progress`` shows a bar on stderr (None: only when stderr is a terminal).
    ``upstream_calls`` counts the calls made to the upstream source; ``fetched`` holds the tickers
    it delivered prices for."""

    def __init__(
        self,
        store: PriceStore,
        upstream: PriceSource | None,
        offline: bool = False,
        refresh: bool = False,
        *,
        today: object = None,
        strict: bool = False,
        batch_size: int = 25,
        progress: bool | None = False,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.store = store
        self.upstream = upstream
        self.offline = offline
        self.refresh = refresh
        self.today = _day(today) if today is not None else None
        self.strict = strict
        self.batch_size = batch_size
        self.progress = progress
        self.upstream_calls = 0
        #: Tickers the upstream could not deliver prices for, with the reason (this source's life).
        self.failures: dict[str, str] = {}
        #: Tickers whose share history the upstream could not deliver, with the reason.
        self.share_failures: dict[str, str] = {}
        #: Tickers the upstream delivered prices for.
        self.fetched: set[str] = set()
        self.name = f"cache:{upstream.name}" if upstream is not None else "cache"
        self.uses_network = bool(upstream is not None and upstream.uses_network and not offline)

    @property
    def can_fetch(self) -> bool:
        """Whether missing data may be fetched from the upstream source in this run."""
        return self.upstream is not None and not (self.offline and self.upstream.uses_network)

    def _today(self) -> pd.Timestamp:
        return self.today if self.today is not None else _day(pd.Timestamp.now(tz="UTC"))

    def _call(self, fetch: Callable[..., pd.DataFrame], *args: object) -> pd.DataFrame:
        self.upstream_calls += 1
        return fetch(*args)

    def _unavailable(self, detail: str) -> OfflineError:
        if self.upstream is None:
            return OfflineError(
                f"no stored prices for {detail} and no source to fetch them from; "
                "import a price file"
            )
        return OfflineError(
            f"offline: no stored prices for {detail}; fetch them ({argument('offline=False')}) or "
                f"import a price file"
        )

    def _fetch_batch(
        self, fetch: Callable[..., pd.DataFrame], batch: list[str], *args: object
    ) -> tuple[pd.DataFrame, list[str], dict[str, str], PartialFetchError | None]:
        """One upstream call for ``batch``: the frame of the delivered tickers, the delivered
        tickers, the failed ones with reasons, and the error to raise once the frame is stored
        (a fatal partial failure), if any."""
        fatal = None
        try:
            frame = self._call(fetch, batch, *args)
            failed: dict[str, str] = {}
        except PartialFetchError as exc:
            frame, failed = exc.frame, {t: r for t, r in exc.failures.items() if t in batch}
            fatal = exc if exc.fatal else None
        delivered = [t for t in batch if t not in failed]
        if not frame.empty:
            frame = frame[frame["ticker"].isin(delivered)]
        return frame, delivered, failed, fatal

    @staticmethod
    def _stopped(exc: PartialFetchError, what: str) -> DataError:
        return DataError(
            f"{exc}; the {what} fetched so far are stored, and the next run fetches only the rest"
        )

    def prices(self, tickers: Iterable[str], start: object, end: object) -> pd.DataFrame:
        """Prices of ``tickers`` between ``start`` and ``end`` (inclusive), fetching the missing
        parts first. Tickers missing the same ranges share upstream calls (in batches). Tickers
        the upstream cannot deliver are left out (see ``failures``) unless ``strict``."""
        names = _unique(tickers)
        lo, hi = _day(start), _day(end)
        if lo > hi:
            raise ValueError(f"start {lo:%Y-%m-%d} is after end {hi:%Y-%m-%d}")
        settled = self._today() - _DAY
        if self.refresh and self.can_fetch:
            missing = {t: [(lo, hi)] for t in names}
        else:
            missing = self.store._missing_by_ticker(names, lo, hi)

        groups: dict[tuple[Range, ...], list[str]] = {}
        for ticker in names:
            trimmed = (_trim_weekends(a, b) for a, b in missing[ticker])
            ranges = tuple(r for r in trimmed if r is not None)
            if ranges:
                groups.setdefault(ranges, []).append(ticker)

        if groups and not self.can_fetch:
            # Days after the last settled one cannot be complete anywhere yet: not an error.
            unavailable: dict[tuple[Range, ...], list[str]] = {}
            for ranges, group in groups.items():
                clipped = tuple((a, min(b, settled)) for a, b in ranges if a <= settled)
                if clipped:
                    unavailable.setdefault(clipped, []).extend(group)
            if unavailable:
                parts = [
                    _list_names(group)
                    + " "
                    + " and ".join(f"between {a:%Y-%m-%d} and {b:%Y-%m-%d}" for a, b in ranges)
                    for ranges, group in list(unavailable.items())[:5]
                ]
                if len(unavailable) > 5:
                    rest = sum(len(g) for g in list(unavailable.values())[5:])
                    parts.append(f"and {rest} more tickers")
                raise self._unavailable(", ".join(parts))
        elif groups:
            assert self.upstream is not None  # can_fetch
            total = sum(len(group) * len(ranges) for ranges, group in groups.items())
            failed_now: dict[str, str] = {}
            with progress_bar(self.progress, total, "Fetching prices", "ticker") as bar:
                for ranges, group in groups.items():
                    for first, last in ranges:
                        # Widen short ranges backwards (into days probably stored already;
                        # refetching them is harmless) so that the request always spans sessions.
                        a = min(first, last - (_MIN_FETCH_DAYS - 1) * _DAY)
                        cover_lo, cover_hi = _widen_over_weekends(a, last)
                        # A ticker that failed one range is not asked for the next one.
                        todo = [t for t in group if t not in failed_now]
                        bar.update(len(group) - len(todo))
                        for batch in _chunks(todo, self.batch_size):
                            frame, delivered, failed, fatal = self._fetch_batch(
                                self.upstream.fetch_prices, list(batch), a, last
                            )
                            # Each batch is its own transaction: an interruption keeps what was
                            # completed; failed tickers stay uncovered, to be tried next run.
                            self.store.put_prices(
                                frame,
                                self.upstream.name,
                                start=cover_lo,
                                end=min(cover_hi, settled),
                                tickers=delivered,
                            )
                            self.fetched.update(delivered)
                            failed_now.update(failed)
                            self.failures.update(failed)
                            bar.update(len(batch))
                            if fatal is not None:
                                raise self._stopped(fatal, "prices") from fatal
                            if failed and self.strict:
                                raise DataError(
                                    f"could not fetch prices for {_list_names(list(failed))} "
                                    f"({_reasons(failed)}); {argument('strict=True')} makes "
                                    "this fatal"
                                )
        return self.store.get_prices(names, lo, hi)

    def shares(self, tickers: Iterable[str], as_of: object = None) -> pd.DataFrame:
        """Stored share counts of ``tickers``, fetching the histories not fetched yet. With
        ``as_of``, a history fetched on or before that date is fetched again (it cannot hold
        filings made since). Tickers without any share data are not an error: they are absent.
        A fatal partial failure raises after storing the histories that were delivered."""
        names = _unique(tickers)
        if self.can_fetch and names:
            assert self.upstream is not None
            if self.refresh:
                todo = names
            else:
                fetched = self.store._shares_fetched(names)
                needed = _day(as_of) if as_of is not None else None
                todo = [
                    t
                    for t in names
                    if t not in fetched or (needed is not None and _day(fetched[t]) <= needed)
                ]
            with progress_bar(self.progress, len(todo), "Fetching share counts", "ticker") as bar:
                for batch in _chunks(todo, self.batch_size):
                    frame, delivered, failed, fatal = self._fetch_batch(
                        self.upstream.fetch_shares,
                        list(batch),
                        _SHARES_HISTORY_START,
                        self._today(),
                    )
                    # Label rows the upstream left unattributed with its name, not "unknown".
                    frame = frame.copy()
                    if "source" not in frame.columns:
                        frame["source"] = self.upstream.name
                    else:
                        known = frame["source"].notna()
                        frame["source"] = (
                            frame["source"].astype(object).where(known, self.upstream.name)
                        )
                    # Only delivered tickers are marked as fetched: the others are asked again.
                    self.store.put_shares(frame, tickers=delivered)
                    self.share_failures.update(failed)
                    bar.update(len(batch))
                    if fatal is not None:
                        raise self._stopped(fatal, "share counts") from fatal
        return self.store.get_shares(names)

    # PriceSource interface, so a cached source can stand wherever a source is expected.
    def fetch_prices(
        self, tickers: Sequence[str], start: pd.Timestamp, end: pd.Timestamp
    ) -> pd.DataFrame:
        return self.prices(tickers, start, end)

    def fetch_shares(
        self, tickers: Sequence[str], start: pd.Timestamp, end: pd.Timestamp
    ) -> pd.DataFrame:
        return self.shares(tickers)


def _reasons(failed: dict[str, str], limit: int = 5) -> str:
    items = list(failed.items())
    text = "; ".join(f"{t}: {why}" for t, why in items[:limit])
    return text if len(items) <= limit else f"{text}; and {len(items) - limit} more"
