"""Price files kept beside the SQLite store as Parquet files ("side files").

Storing a large price file row by row in SQLite costs about 3.5 µs a row in Python's binding (11 s
for the 3M rows of a 100k firm-event study), so the rows of tickers *new to the store* are kept in
one Parquet file per price file instead, written as the file is read (:class:`StagedFile`) and
taken into the store in the transaction that records the file (:func:`adopt`). The SQLite table
``file_tickers`` says which side file serves which ticker.

One rule keeps reading simple: **a ticker's prices live in one place**, either the ``prices`` table
or one side file. A file's rows for tickers the store holds already go into the ``prices`` table
(as every write did before side files existed), after the rows of those tickers that live in a
side file were moved there (:func:`materialize`); any other write of a ticker's prices moves it
the same way first. So no row ever has to be chosen between two places.

Side files live in ``<store file>.files/``; a file no ticker points to any more is deleted by the
next write that touches side files (:func:`prune`), under the store's write lock, and staging
files left by a killed process after a day. Each side file is renamed into place and synced before
the transaction that points to it commits. See docs/data.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

from eventstudy.data.price_rows import VALUE_COLUMNS, PriceWriter, _days, _float_array, _require
from eventstudy.data.sources.base import PRICE_COLUMNS
from eventstudy.errors import DataError

_STAGING = ".staging-"
#: Staging files older than this (seconds) were left by a killed process and are removed.
_STALE_STAGING = 24 * 3600.0


def _names_json(names: Iterable[str]) -> str:
    """Tickers as one JSON array, for ``json_each``: one query whatever their number."""
    return json.dumps(list(names))


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class StagedFile:
    """The rows of one price file written to a Parquet file in the side folder as the file is read
    (:meth:`add`, chunk by chunk: memory stays bounded), not yet part of the store: :func:`adopt`
    takes it in, :meth:`discard` removes it. ``columns``: the price columns the file has (rows
    of tickers the store holds keep their other columns)."""

    def __init__(self, folder: Path, source: str, columns: Sequence[str] | None = None) -> None:
        self.folder = folder
        self.source = source
        self.columns: tuple[str, ...] = tuple(columns) if columns is not None else VALUE_COLUMNS
        self.path = folder / f"{_STAGING}{uuid.uuid4().hex}.parquet"
        self.rows = 0
        #: The SHA-256 of the price file, once it was read whole.
        self.sha256 = ""
        self._stats: list[Any] = []
        self._writer: Any = None
        # Arrow writes (and counts) a chunk in a second thread while the next one is read: at
        # most one chunk waits (memory stays bounded).
        self._pool: ThreadPoolExecutor | None = None
        self._pending: Future[None] | None = None

    def __repr__(self) -> str:
        return f"StagedFile({str(self.path)!r}, rows={self.rows})"

    def add(self, frame: pd.DataFrame, columns: Sequence[str] | None = None) -> None:
        """Append the rows of a :data:`PRICE_COLUMNS` frame (checked as the store checks any)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if columns is not None:
            self.columns = tuple(columns)
        what = f"prices from {self.source}"
        _require(frame, PRICE_COLUMNS, what)
        if not len(frame):
            return
        dates = frame["date"]
        if not pd.api.types.is_datetime64_dtype(dates) or dates.isna().any():
            dates = pd.Series(_days(dates, what))  # a DataError for a date it cannot read
        values = {}
        for column in VALUE_COLUMNS:
            try:  # NaN: null, read back as NaN
                numbers = _float_array(frame[column])
                values[column] = pa.array(numbers, pa.float64(), from_pandas=True)
            except (TypeError, ValueError) as exc:
                raise DataError(f"{what}: non-numeric values ({exc})") from None
        names = pa.array(frame["ticker"], from_pandas=True)
        if names.null_count:
            raise DataError(f"{what}: rows without a ticker")
        table = pa.table(
            {
                "ticker": names.cast(pa.string()),
                "date": pc.cast(pa.array(dates, from_pandas=True), pa.date32(), safe=False),
                **values,
            }
        )
        self._wait()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="staging")
        self._pending = self._pool.submit(self._write, table)
        self.rows += len(frame)

    def _write(self, table: Any) -> None:
        """Write one chunk and count its tickers' rows (in the staging thread)."""
        import pyarrow.parquet as pq

        try:
            if self._writer is None:
                self.folder.mkdir(parents=True, exist_ok=True)
                # Dictionary-encoding the prices costs time and saves nothing; LZ4 is as small
                # as the default Snappy here and faster.
                self._writer = pq.ParquetWriter(
                    self.path, table.schema, use_dictionary=["ticker"], compression="lz4"
                )
            self._writer.write_table(table)
        except OSError as exc:
            raise DataError(
                f"price store: cannot write {self.folder} ({exc.strerror or exc}); choose "
                "another cache folder (EVENTSTUDY_CACHE_DIR)"
            ) from None
        per_ticker = [("date", "min"), ("date", "max"), ("date", "count")]
        self._stats.append(table.group_by("ticker").aggregate(per_ticker))

    def _wait(self) -> None:
        """Until the chunk being written is written (its error, if any, raised here)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def _stop(self) -> None:
        try:
            self._wait()
        finally:
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None

    def close(self) -> None:
        """Finish the Parquet file and sync it to disk (before the store may point to it)."""
        self._stop()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            _fsync(self.path)

    def discard(self) -> None:
        """Remove the staging file (a no-op once :func:`adopt` moved it into place)."""
        with contextlib.suppress(Exception):  # it is being thrown away
            self._stop()
        if self._writer is not None:
            with contextlib.suppress(Exception):  # it is being thrown away
                self._writer.close()
            self._writer = None
        self.path.unlink(missing_ok=True)

    def tickers(self) -> pd.DataFrame:
        """Per ticker: ``ticker, first, last`` (``YYYY-MM-DD``) and ``rows``, by ticker."""
        import pyarrow as pa

        self._wait()
        if not self._stats:
            return pd.DataFrame({"ticker": [], "first": [], "last": [], "rows": []})
        stats = pa.concat_tables(self._stats).group_by("ticker").aggregate(
            [("date_min", "min"), ("date_max", "max"), ("date_count", "sum")]
        )
        out = pd.DataFrame(
            {
                "ticker": stats["ticker"].to_numpy(zero_copy_only=False).astype(object),
                "first": stats["date_min_min"].cast(pa.string()).to_numpy(zero_copy_only=False),
                "last": stats["date_max_max"].cast(pa.string()).to_numpy(zero_copy_only=False),
                "rows": stats["date_count_sum"].to_numpy(),
            }
        )
        return out.sort_values("ticker", ignore_index=True)


def stored_tickers(conn: sqlite3.Connection, names: Sequence[str]) -> set[str]:
    """Those of ``names`` with prices in the store (the ``prices`` table or a side file)."""
    rows = conn.execute(
        "SELECT value FROM json_each(?) WHERE EXISTS (SELECT 1 FROM prices WHERE ticker = value) "
        "OR EXISTS (SELECT 1 FROM file_tickers WHERE ticker = value)",
        (_names_json(names),),
    )
    return {r[0] for r in rows}


def _served(conn: sqlite3.Connection, names: Sequence[str]) -> list[tuple[str, ...]]:
    """``(ticker, file, first, last, rows, source, stored_at)`` of those of ``names`` that side
    files serve."""
    return conn.execute(
        "SELECT ticker, file, first, last, rows, source, stored_at FROM file_tickers "
        "WHERE ticker IN (SELECT value FROM json_each(?))",
        (_names_json(names),),
    ).fetchall()


def _read_file(
    path: Path, names: Sequence[str], lo: str | None, hi: str | None, columns: Sequence[str]
) -> pd.DataFrame:
    """Rows of ``names`` between ``lo`` and ``hi`` (``YYYY-MM-DD``, inclusive) of one side file."""
    import datetime as dt

    import pyarrow.parquet as pq

    filters: list[tuple[str, str, Any]] = [("ticker", "in", list(names))]
    # The store's open bounds ("0000-00-00", "9999-99-99") are no dates: no filter then.
    if lo is not None and lo >= "0001-01-01":
        filters.append(("date", ">=", dt.date.fromisoformat(lo)))
    if hi is not None and hi <= "9999-12-31":
        filters.append(("date", "<=", dt.date.fromisoformat(hi)))
    table = pq.read_table(path, columns=list(columns), filters=filters)
    frame = pd.DataFrame({"ticker": table["ticker"].to_numpy(zero_copy_only=False)})
    if "date" in columns:
        frame["date"] = table["date"].to_numpy().astype("datetime64[ns]")
    for column in columns:
        if column in VALUE_COLUMNS:
            frame[column] = table[column].to_numpy(zero_copy_only=False).astype(float)
    return frame


def read_prices(
    conn: sqlite3.Connection, folder: Path, names: Sequence[str], lo: str | None, hi: str | None
) -> pd.DataFrame | None:
    """The side files' rows of ``names`` in ``[lo, hi]`` (:data:`PRICE_COLUMNS`, unsorted), or
    None when no side file serves any of them. Read inside the caller's read transaction, so the
    files it names exist unless a writer pruned them since (then :class:`FileNotFoundError`:
    read again)."""
    by_file: dict[str, list[str]] = {}
    for row in _served(conn, names):
        by_file.setdefault(row[1], []).append(row[0])
    if not by_file:
        return None
    frames = [
        _read_file(folder / file, tickers, lo, hi, PRICE_COLUMNS)
        for file, tickers in sorted(by_file.items())
    ]
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def source_counts(
    conn: sqlite3.Connection, folder: Path, names: Sequence[str], lo: str, hi: str
) -> dict[str, list[Any]]:
    """Per source, ``[rows, last stored (YYYY-MM-DD)]`` of the side files' rows of ``names`` in
    ``[lo, hi]`` (a ticker wholly inside the range is counted from the table, others read)."""
    counts: dict[str, list[Any]] = {}
    partial: dict[str, list[tuple[str, str, str]]] = {}
    for ticker, file, first, last, rows, source, stored_at in _served(conn, names):
        if lo <= first and last <= hi:
            n = int(rows)
        elif last < lo or first > hi:
            n = 0
        else:
            partial.setdefault(file, []).append((ticker, source, stored_at))
            continue
        if n:
            seen = counts.setdefault(source, [0, ""])
            seen[0] += n
            seen[1] = max(seen[1], stored_at[:10])
    for file, items in partial.items():
        frame = _read_file(folder / file, [t for t, _, _ in items], lo, hi, ["ticker"])
        per_ticker = frame["ticker"].value_counts()
        for ticker, source, stored_at in items:
            n = int(per_ticker.get(ticker, 0))
            if n:
                seen = counts.setdefault(source, [0, ""])
                seen[0] += n
                seen[1] = max(seen[1], stored_at[:10])
    return counts


def summary(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
    """``(ticker, first, last, rows, source)`` of every ticker side files serve."""
    return conn.execute(
        "SELECT ticker, first, last, rows, source FROM file_tickers ORDER BY ticker"
    ).fetchall()


def materialize(conn: sqlite3.Connection, folder: Path, names: Sequence[str]) -> None:
    """Move the rows of those of ``names`` that side files serve into the ``prices`` table, with
    the source and time they were stored with (in the caller's write transaction): the ticker is
    about to be written there, and its prices live in one place."""
    served = _served(conn, names)
    if not served:
        return
    by_file: dict[str, list[tuple[str, ...]]] = {}
    for row in served:
        by_file.setdefault(row[1], []).append(row)
    for file, rows in sorted(by_file.items()):
        frame = _read_file(folder / file, [r[0] for r in rows], None, None, PRICE_COLUMNS)
        origin = {r[0]: (r[5], r[6]) for r in rows}
        keys = frame["ticker"].map(origin)
        for (source, stored_at), part in frame.groupby(keys, sort=True):
            writer = PriceWriter(conn, source)
            writer.fetched_at = stored_at
            writer.add(part)
    conn.execute(
        "DELETE FROM file_tickers WHERE ticker IN (SELECT value FROM json_each(?))",
        (_names_json([r[0] for r in served]),),
    )


def adopt(
    conn: sqlite3.Connection, staged: StagedFile, writer: PriceWriter
) -> dict[str, tuple[str, str]]:
    """Take a staged price file into the store, in the caller's write transaction (``writer``
    writes to it, as ``staged.source``): the rows of tickers the store holds go into the
    ``prices`` table through ``writer`` (keeping the columns the file lacks), the file itself
    becomes the side file of the others. Returns each ticker's first and last date (coverage)."""
    staged.close()
    stats = staged.tickers()
    names = stats["ticker"].tolist()
    known = stored_tickers(conn, names) if names else set()
    prune(conn, staged.folder)
    if known:
        materialize(conn, staged.folder, sorted(known))
        rows = _read_file(staged.path, sorted(known), None, None, PRICE_COLUMNS)
        writer.add(rows, staged.columns)
    fresh = stats[~stats["ticker"].isin(known)]
    if len(fresh):
        final = staged.folder / f"{uuid.uuid4().hex}.parquet"
        os.replace(staged.path, final)
        _fsync(staged.folder)
        conn.executemany(
            "INSERT INTO file_tickers (ticker, file, first, last, rows, source, stored_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (t, final.name, lo, hi, int(n), staged.source, writer.fetched_at)
                for t, lo, hi, n in fresh[["ticker", "first", "last", "rows"]].itertuples(
                    index=False
                )
            ],
        )
        writer.rows += int(fresh["rows"].sum())
    else:
        staged.discard()
    bounds = dict(writer.bounds)
    for t, lo, hi in fresh[["ticker", "first", "last"]].itertuples(index=False):
        bounds[t] = (lo, hi)
    return bounds


def forget(conn: sqlite3.Connection, ticker: str | None) -> None:
    """Stop serving ``ticker`` (None: every ticker) from side files (``cache clear``)."""
    if ticker is None:
        conn.execute("DELETE FROM file_tickers")
    else:
        conn.execute("DELETE FROM file_tickers WHERE ticker = ?", (ticker,))


def prune(conn: sqlite3.Connection, folder: Path) -> None:
    """Delete the side files no ticker points to (in a write transaction: no other writer is
    between placing a file and pointing to it) and staging files a killed process left."""
    if not folder.is_dir():
        return
    used = {r[0] for r in conn.execute("SELECT DISTINCT file FROM file_tickers")}
    now = time.time()
    for path in folder.glob("*.parquet"):
        try:
            if path.name.startswith(_STAGING):
                if now - path.stat().st_mtime > _STALE_STAGING:
                    path.unlink()
            elif path.name not in used:
                path.unlink()
        except FileNotFoundError:
            pass  # another process removed it first
