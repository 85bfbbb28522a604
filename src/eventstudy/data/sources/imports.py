"""Readers for price files from elsewhere: the long CSV, a wide CSV, yfinance's CSV exports, and
share counts. Each returns the long frames of :mod:`eventstudy.data.sources.base`.

Layouts (``format``; ``auto`` tells them apart from the header):

``long``
    ``ticker,date,close,adj_close,volume`` (any order; ``close`` or ``adj_close`` may be absent,
    ``volume`` may be absent or blank; other columns are ignored). What ``eventstudy cache export``
    writes, and the layout of the sample.
``wide``
    ``date,AAPL,MSFT,...``: one price per ticker and date. Which price it is cannot be read from
    the file, so it must be given: ``column="adj_close"`` or ``"close"``.
``yahoo``
    yfinance's own CSV exports. ``yf.download([...]).to_csv(...)`` writes three header rows
    (``Price,Close,...`` / ``Ticker,AAPL,...`` / ``Date,,,``; with ``group_by="ticker"`` the first
    two are swapped); a single-ticker file (Yahoo's website download, ``Ticker.history().to_csv``,
    ``multi_level_index=False``) has one header row ``Date,Open,High,Low,Close,Adj Close,Volume``
    and takes its ticker from ``ticker=`` or the file name. A file without ``Adj Close`` was
    written with ``auto_adjust=True`` (yfinance's default since 0.2.51), so its ``Close`` *is*
    the adjusted close and is read as ``adj_close`` unless ``column="close"`` says otherwise.
    Volumes of 0 are read as unknown, as for prices fetched from Yahoo.
``shares``
    ``ticker,shares_outstanding,as_of[,source]``.

Dates must be ``YYYY-MM-DD`` (a time or UTC offset after it is ignored: the date written is the
exchange's date), ``YYYY/MM/DD`` or ``YYYYMMDD``; ``01/02/2024`` is refused rather than guessed.
Blank cells and ``NA``, ``N/A``, ``NaN``, ``null``, ``#N/A`` are missing values. Every problem is
a :class:`~eventstudy.errors.DataError` naming the file and the line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from eventstudy.data.sources.base import PRICE_COLUMNS, SHARES_COLUMNS
from eventstudy.data.sources.csvtext import (
    ImportedFile,
    Table,
    check_duplicates,
    header_index,
    norm,
    parse_dates,
    parse_numbers,
    parse_tickers,
    read_table,
    sorted_prices,
    string_columns,
)
from eventstudy.data.sources.longfile import read_long_file
from eventstudy.errors import DataError, argument

__all__ = [
    "FORMATS",
    "PRICE_KINDS",
    "ImportedFile",
    "file_layout",
    "read_import_file",
    "read_long_prices",
    "read_shares_file",
]

FORMATS = ("auto", "long", "wide", "yahoo", "shares")
PRICE_KINDS = ("adj_close", "close")

# Header names of yfinance's price fields, normalised (see norm); the ones we keep map to ours.
_YAHOO_FIELDS = {
    "open": None,
    "high": None,
    "low": None,
    "close": "close",
    "adj_close": "adj_close",
    "volume": "volume",
    "dividends": None,
    "stock_splits": None,
    "capital_gains": None,
    "repaired?": None,
}
_DATE_NAMES = frozenset({"date", "datetime"})


# -- the layouts -----------------------------------------------------------------------------------


def _read_wide(table: Table, column: str | None) -> ImportedFile:
    if column not in PRICE_KINDS:
        raise DataError(
            f"{table.path}: a wide file (dates x tickers) holds one price per ticker and date; "
            f"say which with {argument('column=adj_close')} or {argument('column=close')}"
        )
    names = [h.strip() for h in table.rows[0][1:]]
    if not names:
        raise table.fail(0, "a wide file needs a date column and one column per ticker")
    for j, name in enumerate(names):
        if not name:
            raise table.fail(0, f"column {j + 2} has no ticker in the header")
        if name in names[:j]:
            raise table.fail(0, f"ticker {name} has two columns")
    cols = string_columns(table, 1)
    dates = parse_dates(table, cols[0], 1)
    lines = np.asarray(table.lines[1:])
    dup = np.flatnonzero(pd.Series(dates).duplicated().to_numpy())
    if len(dup):
        i = int(dup[0])
        raise DataError(f"{table.path}, line {lines[i]}: date {cols[0][i].strip()} twice")
    values = np.column_stack(
        [parse_numbers(table, cols[j + 1], 1, names[j]) for j in range(len(names))]
    )
    n_dates = len(dates)
    frame = pd.DataFrame(
        {
            "ticker": np.repeat(np.array(names, dtype=object), n_dates),
            "date": np.tile(dates, len(names)),
            "close": np.nan,
            "adj_close": np.nan,
            "volume": np.nan,
        }
    )
    frame[column] = values.T.ravel()
    return ImportedFile(table.path, "wide", prices=sorted_prices(frame), columns=(column,))


def _yahoo_close(fields: set[str], column: str | None, notes: list[str]) -> dict[str, str]:
    """Where yfinance's Close and Adj Close go (see the module docstring)."""
    if "adj_close" in fields:
        if column is not None:
            notes.append(
                f"{argument(f'column={column}')} ignored: the file has both Close and Adj Close"
            )
        return {"close": "close", "adj_close": "adj_close"}
    if column == "close":
        return {"close": "close"}
    notes.append(
        "Close read as adj_close: without an Adj Close column the file was written with "
        "auto_adjust=True (yfinance's default), where Close is the adjusted close; "
        f"pass {argument('column=close')} if it is not"
    )
    return {"close": "adj_close"}


def _yahoo_frame(
    table: Table, first: int, ticker_of: list[str], field_of: list[str | None], column: str | None
) -> ImportedFile:
    """Long prices from yfinance columns: ``ticker_of[j]``/``field_of[j]`` for data column j."""
    notes: list[str] = []
    fields = {f for f in field_of if f is not None}
    if "close" not in fields and "adj_close" not in fields:
        raise table.fail(0, "no Close or Adj Close column")
    mapping = _yahoo_close(fields, column, notes) | {"volume": "volume"}
    cols = string_columns(table, first)
    dates = parse_dates(table, cols[0], first)
    lines = np.asarray(table.lines[first:])
    frames = []
    seen: set[tuple[str, str]] = set()
    for ticker in dict.fromkeys(t for t, f in zip(ticker_of, field_of, strict=True) if f):
        part = pd.DataFrame(
            {
                "ticker": ticker,
                "date": dates,
                "close": np.nan,
                "adj_close": np.nan,
                "volume": np.nan,
            }
        )
        for j, (t, f) in enumerate(zip(ticker_of, field_of, strict=True)):
            if t != ticker or f is None or f not in mapping:
                continue
            if (t, f) in seen:
                raise table.fail(0, f"two {f} columns for {t}")
            seen.add((t, f))
            part[mapping[f]] = parse_numbers(table, cols[j + 1], first, f"{f} of {t}")
        frames.append(part)
    frame = pd.concat(frames, ignore_index=True)
    # yfinance writes an unknown volume (indices) as 0; unknown is NaN here, as for fetched prices.
    frame["volume"] = frame["volume"].where(frame["volume"] != 0)
    check_duplicates(table, frame, "date", np.tile(lines, len(frames)))
    provided = tuple(sorted({mapping[f] for f in fields if f in mapping}, key=PRICE_COLUMNS.index))
    return ImportedFile(
        table.path, "yahoo", prices=sorted_prices(frame), columns=provided, notes=notes
    )


def _read_yahoo(table: Table, column: str | None, ticker: str | None) -> ImportedFile:
    first_cells = [norm(r[0]) for r in table.rows[:3]]
    if first_cells[:2] in (["price", "ticker"], ["ticker", "price"]):
        # Three header rows: the field and ticker rows in either order, then "Date,,,".
        fields_row = table.rows[first_cells.index("price")]
        tickers_row = table.rows[first_cells.index("ticker")]
        width = len(table.rows[0])
        for i in (0, 1):
            if len(table.rows[i]) != width:
                raise table.fail(i, f"{len(table.rows[i])} fields, the header has {width}")
        first = 2
        if len(table.rows) > 2 and first_cells[2] in _DATE_NAMES:
            if any(cell.strip() for cell in table.rows[2][1:]):
                raise table.fail(2, "expected the Date header row (Date,,,...)")
            first = 3
        field_of: list[str | None] = []
        for j, name in enumerate(fields_row[1:]):
            key = norm(name)
            if key not in _YAHOO_FIELDS:
                raise table.fail(
                    first_cells.index("price"), f"unknown yfinance field {name!r} (column {j + 2})"
                )
            field_of.append(_YAHOO_FIELDS[key] or ("ignored" if key else None))
        ticker_of = [t.strip() for t in tickers_row[1:]]
        for j, t in enumerate(ticker_of):
            if not t:
                raise table.fail(first_cells.index("ticker"), f"column {j + 2} has no ticker")
        keep = [f if f != "ignored" else None for f in field_of]
        out = _yahoo_frame(table, first, ticker_of, keep, column)
        return out
    # One header row: a single ticker.
    header = [norm(h) for h in table.rows[0]]
    if header[0] not in _DATE_NAMES and header[0] != "price":
        raise table.fail(0, "a yfinance export starts with a Date column")
    unknown = [h for h in header[1:] if h not in _YAHOO_FIELDS]
    if unknown:
        raise table.fail(0, f"unknown yfinance field {unknown[0]!r}")
    name = (ticker or "").strip() or table.path.stem.strip()
    out = _yahoo_frame(
        table, 1, [name] * (len(header) - 1), [_YAHOO_FIELDS[h] for h in header[1:]], column
    )
    out.format = "yahoo-single"
    if not ticker:
        out.notes.append(
            f"ticker {name} taken from the file name; pass {argument('ticker')} to set it"
        )
    return out


def _read_shares(table: Table) -> ImportedFile:
    _, index = header_index(table)
    missing = [c for c in ("ticker", "shares_outstanding", "as_of") if c not in index]
    if missing:
        raise table.fail(
            0, f"missing column(s) {', '.join(missing)}; expected ticker,shares_outstanding,as_of"
        )
    cols = string_columns(table, 1)
    lines = np.asarray(table.lines[1:])
    frame = pd.DataFrame(
        {
            "ticker": parse_tickers(table, cols[index["ticker"]], 1),
            "as_of": parse_dates(table, cols[index["as_of"]], 1, "as_of"),
        }
    )
    counts = parse_numbers(table, cols[index["shares_outstanding"]], 1, "shares_outstanding")
    bad = np.flatnonzero(~(counts > 0))
    if len(bad):
        raise table.fail(1 + int(bad[0]), "shares_outstanding must be a positive number")
    frame["shares_outstanding"] = counts
    default = f"file:{table.path.name}"
    if "source" in index:
        source = pd.Series(cols[index["source"]], dtype=object).str.strip()
        frame["source"] = source.where(source != "", default).to_numpy()
    else:
        frame["source"] = default
    dup = np.flatnonzero(frame.duplicated(["ticker", "as_of", "source"]).to_numpy())
    if len(dup):
        i = int(dup[0])
        raise DataError(
            f"{table.path}, line {lines[i]}: duplicate count for {frame['ticker'].iloc[i]} "
            f"as of {frame['as_of'].iloc[i]:%Y-%m-%d}"
        )
    frame = frame[SHARES_COLUMNS].astype({"ticker": str, "source": str})
    frame = frame.sort_values(["ticker", "as_of"], ignore_index=True)
    return ImportedFile(table.path, "shares", shares=frame)


def _detect(table: Table) -> str:
    first = [norm(h) for h in table.rows[0]]
    second = norm(table.rows[1][0]) if len(table.rows) > 1 and table.rows[1] else ""
    if {first[0], second} == {"price", "ticker"}:
        return "yahoo"
    names = set(first)
    if {"ticker", "shares_outstanding", "as_of"} <= names:
        return "shares"
    if {"ticker", "date"} <= names:
        return "long"
    rest = set(first[1:])
    if (first[0] in _DATE_NAMES or first[0] == "price") and rest and rest <= set(_YAHOO_FIELDS):
        return "yahoo"
    if first[0] in _DATE_NAMES | {""} and len(first) > 1:
        return "wide"
    raise DataError(
        f"{table.path}: cannot tell the layout from the header ({','.join(table.rows[0][:6])}); "
        "expected ticker,date,close,adj_close,volume (long), date,TICKER,... (wide), a yfinance "
        "export, or ticker,shares_outstanding,as_of (shares)"
    )


def file_layout(path: str | Path) -> str:
    """The layout of a price or share file, from its first rows: ``long``, ``wide``, ``yahoo``
    or ``shares`` (a DataError when it is none of them)."""
    return _detect(read_table(Path(path), limit=2))


def read_import_file(
    path: str | Path,
    format: str = "auto",
    *,
    column: str | None = None,
    ticker: str | None = None,
) -> ImportedFile:
    """Read a price or share file in any layout of the module docstring.

    ``column`` says which price a wide file holds (``adj_close`` or ``close``), or overrides how a
    yfinance file without ``Adj Close`` is read; ``ticker`` names the ticker of a single-ticker
    yfinance file (default: the file name). Raises :class:`DataError` naming the line."""
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    if column is not None and column not in PRICE_KINDS:
        raise DataError(f"{argument('column')} must be adj_close or close, not {column!r}")
    path = Path(path)
    kind = file_layout(path) if format == "auto" else format
    if kind == "long":
        return read_long_file(path)
    table = read_table(path)
    if kind == "wide":
        return _read_wide(table, column)
    if kind == "yahoo":
        return _read_yahoo(table, column, ticker)
    return _read_shares(table)


def read_long_prices(path: str | Path) -> pd.DataFrame:
    """A long price CSV (``ticker,date,close,adj_close,volume``), :data:`PRICE_COLUMNS`."""
    prices = read_import_file(path, "long").prices
    assert prices is not None
    return prices


def read_shares_file(path: str | Path) -> pd.DataFrame:
    """Shares outstanding (``ticker,shares_outstanding,as_of[,source]``), :data:`SHARES_COLUMNS`."""
    shares = read_import_file(path, "shares").shares
    assert shares is not None
    return shares
