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

import contextlib
import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from eventstudy.data.sources.base import PRICE_COLUMNS, SHARES_COLUMNS
from eventstudy.errors import DataError, argument

FORMATS = ("auto", "long", "wide", "yahoo", "shares")
PRICE_KINDS = ("adj_close", "close")

_NA = frozenset({"", "na", "n/a", "nan", "null", "none", "#n/a", "#n/a n/a"})
_DATE = re.compile(
    r"^(?:(?P<y1>\d{4})-(?P<m1>\d{1,2})-(?P<d1>\d{1,2})(?:[ T].*)?"
    r"|(?P<y2>\d{4})/(?P<m2>\d{1,2})/(?P<d2>\d{1,2})"
    r"|(?P<y3>\d{4})(?P<m3>\d{2})(?P<d3>\d{2}))$"
)
# Header names of yfinance's price fields, normalised (see _norm); the ones we keep map to ours.
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


@dataclass
class ImportedFile:
    """What a price or share file held, ready for the store."""

    path: Path
    format: str  # long, wide, yahoo (three header rows), yahoo-single, shares
    prices: pd.DataFrame | None = None  # PRICE_COLUMNS
    shares: pd.DataFrame | None = None  # SHARES_COLUMNS
    #: Price columns the file provides; a stored row keeps its other values on import.
    columns: tuple[str, ...] = ()
    #: Things the user should know about how the file was read (one line each).
    notes: list[str] = field(default_factory=list)


# -- reading text ----------------------------------------------------------------------------------


@dataclass
class _Table:
    path: Path
    rows: list[list[str]]  # non-blank rows, header rows included
    lines: list[int]  # the file line of each row

    def fail(self, index: int, message: str) -> DataError:
        return DataError(f"{self.path}, line {self.lines[index]}: {message}")


_COMPRESSED = {b"\x1f\x8b": "gzip", b"PK": "zip", b"BZ": "bzip2", b"\xfd7": "xz"}


def _read_table(path: Path) -> _Table:
    """Every non-blank CSV row of ``path`` with its line number."""
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    with path.open("rb") as fh:
        magic = fh.read(2)
    if magic in _COMPRESSED:
        raise DataError(f"{path}: a {_COMPRESSED[magic]}-compressed file; decompress it first")
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        # utf-8-sig: Excel writes a byte-order mark that would otherwise stick to the first name.
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, strict=True)
            line = 1
            for row in reader:
                if any(cell.strip() for cell in row):
                    rows.append(row)
                    lines.append(line)
                line = reader.line_num + 1
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise DataError(f"{path}, line {reader.line_num}: not valid CSV ({exc})") from None
    if not rows:
        raise DataError(f"{path}: the file is empty")
    return _Table(path, rows, lines)


def _norm(name: str) -> str:
    """A header name compared loosely: ``Adj Close`` -> ``adj_close``."""
    return re.sub(r"[\s_]+", "_", name.strip().lower())


def _columns(table: _Table, first: int) -> list[np.ndarray]:
    """The data rows from ``first`` on as string columns; every row must be as wide as row 0."""
    width = len(table.rows[0])
    for i in range(first, len(table.rows)):
        if len(table.rows[i]) != width:
            raise table.fail(i, f"{len(table.rows[i])} fields, the header has {width}")
    body = table.rows[first:]
    if not body:
        return [np.array([], dtype=object) for _ in range(width)]
    return [np.array(col, dtype=object) for col in zip(*body, strict=True)]


def _dates(table: _Table, values: np.ndarray, first: int, what: str = "date") -> np.ndarray:
    """``datetime64[ns]`` dates (the calendar date written, whatever time or offset follows)."""
    text = pd.Series(values, dtype=object).str.strip()
    parts = text.str.extract(_DATE)
    year = parts["y1"].fillna(parts["y2"]).fillna(parts["y3"])
    month = parts["m1"].fillna(parts["m2"]).fillna(parts["m3"])
    day = parts["d1"].fillna(parts["d2"]).fillna(parts["d3"])
    frame = pd.DataFrame({"year": year, "month": month, "day": day}).astype(float)
    dates = pd.to_datetime(frame, errors="coerce") if len(frame) else pd.Series([], "M8[ns]")
    bad = np.flatnonzero(dates.isna().to_numpy())
    if len(bad):
        i = int(bad[0])
        raise table.fail(first + i, f"bad {what} {values[i]!r} (expected YYYY-MM-DD)")
    return dates.to_numpy().astype("datetime64[ns]")


def _numbers(table: _Table, values: np.ndarray, first: int, what: str) -> np.ndarray:
    """Floats, NaN for blank or NA cells; anything else that is not a finite number fails."""
    text = pd.Series(values, dtype=object).str.strip()
    missing = text.str.lower().isin(_NA).to_numpy()
    numbers = pd.to_numeric(text.where(~missing), errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~missing & ~np.isfinite(numbers))
    if len(bad):
        i = int(bad[0])
        raise table.fail(first + i, f"bad {what} {values[i]!r}")
    return numbers


def _tickers(table: _Table, values: np.ndarray, first: int) -> np.ndarray:
    names = pd.Series(values, dtype=object).str.strip()
    bad = np.flatnonzero((names == "").to_numpy())
    if len(bad):
        raise table.fail(first + int(bad[0]), "no ticker")
    return names.to_numpy(dtype=object)


def _check_duplicates(table: _Table, frame: pd.DataFrame, key: str, lines: np.ndarray) -> None:
    dup = np.flatnonzero(frame.duplicated(["ticker", key]).to_numpy())
    if len(dup):
        i = int(dup[0])
        raise DataError(
            f"{table.path}, line {lines[i]}: duplicate row for {frame['ticker'].iloc[i]} "
            f"on {frame[key].iloc[i]:%Y-%m-%d}"
        )


def _finish(frame: pd.DataFrame, drop_empty: bool = True) -> pd.DataFrame:
    """Sorted by ticker and date; ``drop_empty`` drops rows without any close (in a wide or
    yfinance file a blank cell is a day without a price, not a row)."""
    if drop_empty:
        frame = frame[frame[["close", "adj_close"]].notna().any(axis=1)]
    out = frame[PRICE_COLUMNS].astype({"ticker": str})
    return out.sort_values(["ticker", "date"], ignore_index=True)


# -- the layouts -----------------------------------------------------------------------------------


def _header(table: _Table) -> tuple[list[str], dict[str, int]]:
    """The header's names (compared loosely) and where each is; a name twice is an error (which
    of the two columns would be read?), and so is a header without rows."""
    header = [_norm(h) for h in table.rows[0]]
    twice = next((h for j, h in enumerate(header) if h and h in header[:j]), None)
    if twice is not None:
        raise table.fail(0, f"column {twice} appears twice")
    if len(table.rows) == 1:
        raise table.fail(0, "a header and no rows")
    return header, {name: j for j, name in enumerate(header)}


def _read_long(table: _Table) -> ImportedFile:
    _, index = _header(table)
    if "ticker" not in index or "date" not in index:
        raise table.fail(0, "a long price file needs ticker and date columns")
    provided = tuple(c for c in ("close", "adj_close", "volume") if c in index)
    if "close" not in index and "adj_close" not in index:
        raise table.fail(0, "needs a close or adj_close column")
    cols = _columns(table, 1)
    lines = np.asarray(table.lines[1:])
    frame = pd.DataFrame(
        {
            "ticker": _tickers(table, cols[index["ticker"]], 1),
            "date": _dates(table, cols[index["date"]], 1),
        }
    )
    for column in ("close", "adj_close", "volume"):
        if column in index:
            frame[column] = _numbers(table, cols[index[column]], 1, column)
        else:
            frame[column] = np.nan
    _check_duplicates(table, frame, "date", lines)
    return ImportedFile(
        table.path, "long", prices=_finish(frame, drop_empty=False), columns=provided
    )


_ISO_DAY = r"\d{4}-\d{2}-\d{2}"
_NUMBER_COLUMNS = frozenset({"close", "adj_close", "volume"})
#: The missing-value markers of :data:`_NA` as they are usually written (Arrow matches exactly;
#: other spellings go to the careful reader, which compares case-blind).
_NA_SPELLINGS = sorted({s for na in _NA for s in (na, na.upper(), na.title())} | {"NaN", "N/a"})


def _read_long_fast(path: Path, detect: bool) -> ImportedFile | None:
    """A clean long file read by Arrow's CSV reader: what :func:`_read_long` returns for it, about
    five times sooner on large files. Clean means: one header row, every row as wide as it, dates
    ``YYYY-MM-DD``, numbers or missing-value markers, tickers, no duplicate (ticker, date).
    Anything else returns None, and the careful reader reads the file and names the line."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            header = next(csv.reader(fh, strict=True))
        names = [f"c{j}" for j in range(len(header))]
        numeric = {f"c{j}" for j, h in enumerate(header) if _norm(h) in _NUMBER_COLUMNS}
        table = pa_csv.read_csv(
            path,
            read_options=pa_csv.ReadOptions(column_names=names, skip_rows=1),
            convert_options=pa_csv.ConvertOptions(
                column_types={n: pa.float64() if n in numeric else pa.string() for n in names},
                null_values=_NA_SPELLINGS,
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )  # Arrow refuses rows of another width, and numbers it cannot parse exactly as such
    except (OSError, UnicodeDecodeError, StopIteration, csv.Error, pa.ArrowException):
        return None
    if "\n" in "".join(header) or "\r" in "".join(header) or table.num_rows < 1:
        return None
    body = table.to_pandas()
    text = [c for c in body.columns if c not in numeric]
    if body[text].apply(lambda c: c.str.contains("[\r\n]")).to_numpy().any():
        return None  # Arrow reads an unclosed quote at the end of the file as a line break
    if detect:
        rows = [header, [str(v) for v in body.iloc[0]]]
        with contextlib.suppress(DataError):
            if _detect(_Table(path, rows, [1, 2])) != "long":
                return None
    names = [_norm(h) for h in header]
    index = {name: j for j, name in reversed(list(enumerate(names)))}
    if not {"ticker", "date"} <= index.keys() or not {"close", "adj_close"} & index.keys():
        return None
    if len(index) < len(names):
        return None  # a name twice: the careful reader says which
    empty = (body[text].apply(lambda c: c.str.strip()) == "").all(axis=1)
    if numeric:
        empty &= body[list(numeric)].isna().all(axis=1)
    if empty.any():
        return None  # a row of empty cells: skipped by the careful reader, which keeps line numbers
    ticker = body.iloc[:, index["ticker"]].str.strip()
    day = body.iloc[:, index["date"]].str.strip()
    if (ticker == "").any() or not day.str.fullmatch(_ISO_DAY).all():
        return None
    dates = pd.to_datetime(day, format="%Y-%m-%d", errors="coerce")
    if dates.isna().any():
        return None
    frame = pd.DataFrame(
        {"ticker": ticker.to_numpy(dtype=object), "date": dates.to_numpy().astype("M8[ns]")}
    )
    provided = tuple(c for c in ("close", "adj_close", "volume") if c in index)
    for column in ("close", "adj_close", "volume"):
        if column not in index:
            frame[column] = np.nan
            continue
        numbers = body.iloc[:, index[column]].to_numpy(dtype=float)  # missing: NaN
        if np.isinf(numbers).any():
            return None  # the careful reader refuses it, naming the line
        frame[column] = numbers
    if frame.duplicated(["ticker", "date"]).any():
        return None
    return ImportedFile(path, "long", prices=_finish(frame, drop_empty=False), columns=provided)


def _read_wide(table: _Table, column: str | None) -> ImportedFile:
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
    cols = _columns(table, 1)
    dates = _dates(table, cols[0], 1)
    lines = np.asarray(table.lines[1:])
    dup = np.flatnonzero(pd.Series(dates).duplicated().to_numpy())
    if len(dup):
        i = int(dup[0])
        raise DataError(f"{table.path}, line {lines[i]}: date {cols[0][i].strip()} twice")
    values = np.column_stack([_numbers(table, cols[j + 1], 1, names[j]) for j in range(len(names))])
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
    return ImportedFile(table.path, "wide", prices=_finish(frame), columns=(column,))


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
    table: _Table, first: int, ticker_of: list[str], field_of: list[str | None], column: str | None
) -> ImportedFile:
    """Long prices from yfinance columns: ``ticker_of[j]``/``field_of[j]`` for data column j."""
    notes: list[str] = []
    fields = {f for f in field_of if f is not None}
    if "close" not in fields and "adj_close" not in fields:
        raise table.fail(0, "no Close or Adj Close column")
    mapping = _yahoo_close(fields, column, notes) | {"volume": "volume"}
    cols = _columns(table, first)
    dates = _dates(table, cols[0], first)
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
            part[mapping[f]] = _numbers(table, cols[j + 1], first, f"{f} of {t}")
        frames.append(part)
    frame = pd.concat(frames, ignore_index=True)
    # yfinance writes an unknown volume (indices) as 0; unknown is NaN here, as for fetched prices.
    frame["volume"] = frame["volume"].where(frame["volume"] != 0)
    _check_duplicates(table, frame, "date", np.tile(lines, len(frames)))
    provided = tuple(sorted({mapping[f] for f in fields if f in mapping}, key=PRICE_COLUMNS.index))
    return ImportedFile(table.path, "yahoo", prices=_finish(frame), columns=provided, notes=notes)


def _read_yahoo(table: _Table, column: str | None, ticker: str | None) -> ImportedFile:
    first_cells = [_norm(r[0]) for r in table.rows[:3]]
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
            key = _norm(name)
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
    header = [_norm(h) for h in table.rows[0]]
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


def _read_shares(table: _Table) -> ImportedFile:
    _, index = _header(table)
    missing = [c for c in ("ticker", "shares_outstanding", "as_of") if c not in index]
    if missing:
        raise table.fail(
            0, f"missing column(s) {', '.join(missing)}; expected ticker,shares_outstanding,as_of"
        )
    cols = _columns(table, 1)
    lines = np.asarray(table.lines[1:])
    frame = pd.DataFrame(
        {
            "ticker": _tickers(table, cols[index["ticker"]], 1),
            "as_of": _dates(table, cols[index["as_of"]], 1, "as_of"),
        }
    )
    counts = _numbers(table, cols[index["shares_outstanding"]], 1, "shares_outstanding")
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


def _detect(table: _Table) -> str:
    first = [_norm(h) for h in table.rows[0]]
    second = _norm(table.rows[1][0]) if len(table.rows) > 1 and table.rows[1] else ""
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
    if format in ("auto", "long"):
        fast = _read_long_fast(Path(path), detect=format == "auto")
        if fast is not None:
            return fast
    table = _read_table(Path(path))
    kind = _detect(table) if format == "auto" else format
    if kind == "long":
        return _read_long(table)
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
