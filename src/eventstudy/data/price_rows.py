"""Price rows into the store's SQLite table (:class:`PriceWriter`), and the checks and conversions
of a price or share frame on its way in. Used by :mod:`eventstudy.data.store` and
:mod:`eventstudy.data.side_files`."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import repeat

import numpy as np
import pandas as pd

from eventstudy.data.sources.base import PRICE_COLUMNS
from eventstudy.errors import DataError

#: Price columns a partial import may write while keeping the others (see ``put_prices``).
VALUE_COLUMNS = ("close", "adj_close", "volume")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _days(values: pd.Series, what: str) -> np.ndarray:
    """A date column as ``datetime64[D]``; missing or unparseable dates are a DataError."""
    dates = pd.to_datetime(values, errors="coerce")
    if dates.isna().any():
        raise DataError(f"{what}: missing or unparseable dates")
    if dates.dt.tz is not None:
        dates = dates.dt.tz_localize(None)
    return dates.to_numpy().astype("datetime64[D]")


def _float_array(values: pd.Series) -> np.ndarray:
    return pd.to_numeric(values, errors="raise").astype(float).to_numpy()


def _date_strings(values: pd.Series, what: str) -> list[str]:
    """``YYYY-MM-DD`` strings for a date column (see :func:`_days`)."""
    # numpy formats a whole column at once, much faster than Series.dt.strftime on big batches.
    return np.datetime_as_string(_days(values, what), unit="D").tolist()


def _floats(values: pd.Series) -> list[float]:
    # Plain Python floats bind as IEEE doubles, so they come back bit for bit. NaN is stored as
    # NULL and read back as NaN; -0.0 comes back as 0.0 (SQLite folds the sign), equal as a float.
    return _float_array(values).tolist()


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"{what}: missing column(s) {', '.join(missing)}")


class PriceWriter:
    """Writes price rows in a write transaction of a :class:`PriceStore`
    (:meth:`PriceStore.price_file_writer`, :meth:`PriceStore.put_prices`): ``rows`` written so
    far, ``bounds`` (each ticker's first and last date written, ``YYYY-MM-DD``)."""

    def __init__(self, conn: sqlite3.Connection, source: str) -> None:
        self._conn = conn
        self.source = source
        self.fetched_at = _now()
        self.rows = 0
        self.bounds: dict[str, tuple[str, str]] = {}
        #: The SHA-256 of the file written, set once it was written whole.
        self.sha256 = ""

    def add(self, frame: pd.DataFrame, columns: Sequence[str] | None = None) -> None:
        """Insert or replace the rows of a :data:`PRICE_COLUMNS` frame; ``columns`` as in
        :meth:`PriceStore.put_prices`. The rows go in sorted by ticker and date, the order of
        the table's key, which SQLite inserts several times faster than another (a file sorted
        by date, say); of two rows of one ticker and day the later one is kept."""
        what = f"prices from {self.source}"
        _require(frame, PRICE_COLUMNS, what)
        if frame["ticker"].isna().any():
            raise DataError(f"{what}: rows without a ticker")
        names = frame["ticker"].astype(str).to_numpy(dtype=object)
        days = _days(frame["date"], what)
        try:
            values = [_float_array(frame[c]) for c in VALUE_COLUMNS]
        except (TypeError, ValueError) as exc:
            raise DataError(f"{what}: non-numeric values ({exc})") from None
        codes, _ = pd.factorize(names, sort=True)
        order = np.lexsort((days, codes))  # stable
        if np.any(np.diff(order) < 0):
            names, days, codes = names[order], days[order], codes[order]
            values = [v[order] for v in values]
        dates = np.datetime_as_string(days, unit="D").astype(object)
        if len(names):
            last = np.flatnonzero(np.r_[codes[1:] != codes[:-1], True])
            first = np.r_[0, last[:-1] + 1]
            for t, lo, hi in zip(names[first], dates[first], dates[last], strict=True):
                known = self.bounds.get(t)
                if known is not None:
                    lo, hi = min(known[0], lo), max(known[1], hi)
                self.bounds[t] = (lo, hi)
        # Plain Python floats bind as IEEE doubles, so they come back bit for bit. NaN is stored
        # as NULL and read back as NaN; -0.0 comes back as 0.0 (SQLite folds the sign).
        self._conn.executemany(
            _insert_statement(columns),
            zip(
                names.tolist(),
                dates.tolist(),
                *(v.tolist() for v in values),
                repeat(self.source),
                repeat(self.fetched_at),
                strict=False,
            ),
        )
        self.rows += len(names)

    def cover(self, spans: Sequence[tuple[str, str, str]]) -> None:
        """Record ``(ticker, first, last)`` date ranges as covered by this source; ranges inside
        them are superseded (dropping them keeps repeated refreshes from growing the table)."""
        self._conn.executemany(
            'DELETE FROM coverage WHERE ticker = ? AND start >= ? AND "end" <= ?', spans
        )
        self._conn.executemany(
            'INSERT INTO coverage (ticker, start, "end", source, fetched_at) '
            "VALUES (?, ?, ?, ?, ?)",
            [(t, lo, hi, self.source, self.fetched_at) for t, lo, hi in spans],
        )


def _insert_statement(columns: Sequence[str] | None) -> str:
    """The INSERT of price rows: whole rows replaced, or only ``columns`` of a stored row."""
    insert = (
        "INSERT INTO prices (ticker, date, close, adj_close, volume, source, fetched_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)"
    )
    if columns is None or set(columns) >= set(VALUE_COLUMNS):
        return insert.replace("INSERT", "INSERT OR REPLACE", 1)
    unknown = sorted(set(columns) - set(VALUE_COLUMNS))
    if unknown:
        raise ValueError(f"put_prices: unknown column(s) {', '.join(unknown)}")
    updates = [f"{c} = excluded.{c}" for c in VALUE_COLUMNS if c in columns]
    updates += ["source = excluded.source", "fetched_at = excluded.fetched_at"]
    return insert + f" ON CONFLICT (ticker, date) DO UPDATE SET {', '.join(updates)}"
