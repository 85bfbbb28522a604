"""The price store's SQLite file without the data layer: where it is, its schema, connections and
transactions (:class:`StoreFile`), and a listing of what it holds that needs neither numpy nor
pandas (``eventstudy cache list`` starts in a fraction of a second). :class:`~eventstudy.data.store.
PriceStore` builds the prices, shares and factor files on it."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import platformdirs

from eventstudy.errors import DataError, argument

#: Bumped whenever the tables change; a store written by a newer version is refused, not guessed at.
SCHEMA_VERSION = 4  # 2: factor_files; 3: price_files; 4: file_tickers (side files)
STORE_FILENAME = "prices.sqlite"

_SQLITE_SUFFIXES = {".sqlite", ".sqlite3", ".db"}

#: Tickers whose prices live in a Parquet side file (:mod:`eventstudy.data.side_files`).
FILE_TICKERS_SCHEMA = """CREATE TABLE IF NOT EXISTS file_tickers (
        ticker    TEXT PRIMARY KEY,
        file      TEXT NOT NULL,  -- name in the side folder
        first     TEXT NOT NULL,  -- YYYY-MM-DD
        last      TEXT NOT NULL,
        rows      INTEGER NOT NULL,
        source    TEXT NOT NULL,
        stored_at TEXT NOT NULL   -- UTC, ISO 8601
    ) WITHOUT ROWID"""

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
    FILE_TICKERS_SCHEMA,
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


def default_cache_dir() -> Path:
    """``$EVENTSTUDY_CACHE_DIR`` if set, else the platform's user cache directory."""
    configured = os.environ.get("EVENTSTUDY_CACHE_DIR")
    if configured:
        return Path(configured).expanduser()
    return Path(platformdirs.user_cache_dir("eventstudy"))


def side_folder(store_path: Path) -> Path:
    """The folder of a store file's side files (``prices.sqlite`` -> ``prices.sqlite.files``)."""
    return store_path.with_name(store_path.name + ".files")


class StoreFile:
    """The SQLite file of a price store: ``path`` is a directory (the file is ``prices.sqlite`` in
    it) or the file itself (``*.sqlite``, ``*.sqlite3``, ``*.db``, or any existing file); None
    means :func:`default_cache_dir`. The file and its schema are created on first use. Each
    method opens its own short-lived connection, so a store can be shared by threads and
    processes and passed to subprocesses."""

    def __init__(self, path: Path | str | None = None, *, timeout: float = 60.0) -> None:
        base = Path(path).expanduser() if path is not None else default_cache_dir()
        if base.suffix.lower() in _SQLITE_SUFFIXES or base.is_file():
            self.path = base
        else:
            self.path = base / STORE_FILENAME
        #: Seconds a writer waits for another process's write before giving up.
        self.timeout = timeout
        #: Where large price files are kept as Parquet (:mod:`eventstudy.data.side_files`).
        self.side_folder = side_folder(self.path)
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

    # -- listing ----------------------------------------------------------------------------------

    def listing(self) -> list[tuple[str, str, str, int, str, int, str]]:
        """One row per ticker with stored prices or share counts, by ticker: ``(ticker, first,
        last, rows, sources, share counts, latest share as-of)``; dates ``YYYY-MM-DD``, ``""``
        where there is none, sources comma-separated."""
        with self._read() as conn:
            prices = conn.execute(
                "SELECT ticker, MIN(date), MAX(date), COUNT(*) FROM prices GROUP BY ticker"
            ).fetchall()
            prices += conn.execute("SELECT ticker, first, last, rows FROM file_tickers").fetchall()
            pairs = conn.execute("SELECT DISTINCT ticker, source FROM prices").fetchall()
            pairs += conn.execute("SELECT ticker, source FROM file_tickers").fetchall()
            shares = conn.execute(
                "SELECT ticker, COUNT(*), MAX(as_of) FROM shares GROUP BY ticker"
            ).fetchall()
        sources: dict[str, list[str]] = {}
        for ticker, source in sorted(pairs):
            sources.setdefault(ticker, []).append(source)
        price_of = {r[0]: r[1:] for r in prices}
        share_of = {r[0]: r[1:] for r in shares}
        rows = []
        for ticker in sorted(price_of.keys() | share_of.keys()):
            first, last, n = price_of.get(ticker, ("", "", 0))
            counts, as_of = share_of.get(ticker, (0, ""))
            rows.append(
                (ticker, first, last, n, ", ".join(sources.get(ticker, [])), counts, as_of)
            )
        return rows
