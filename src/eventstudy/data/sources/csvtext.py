"""CSV text as the price and share readers see it: non-blank rows with their line numbers, and
the cell rules every layout shares (dates, numbers, missing values, tickers), each problem a
:class:`~eventstudy.errors.DataError` naming the file and the line. The layouts are read by
:mod:`eventstudy.data.sources.imports` and, for long files chunk by chunk,
:mod:`eventstudy.data.sources.longfile`."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from eventstudy.data.sources.base import PRICE_COLUMNS
from eventstudy.errors import DataError

NA_VALUES = frozenset({"", "na", "n/a", "nan", "null", "none", "#n/a", "#n/a n/a"})
DATE_FORMS = re.compile(
    r"^(?:(?P<y1>\d{4})-(?P<m1>\d{1,2})-(?P<d1>\d{1,2})(?:[ T].*)?"
    r"|(?P<y2>\d{4})/(?P<m2>\d{1,2})/(?P<d2>\d{1,2})"
    r"|(?P<y3>\d{4})(?P<m3>\d{2})(?P<d3>\d{2}))$"
)


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


@dataclass
class Table:
    path: Path
    rows: list[list[str]]  # non-blank rows, header rows included
    lines: list[int]  # the file line of each row

    def fail(self, index: int, message: str) -> DataError:
        return DataError(f"{self.path}, line {self.lines[index]}: {message}")


COMPRESSED = {b"\x1f\x8b": "gzip", b"PK": "zip", b"BZ": "bzip2", b"\xfd7": "xz"}


def check_file(path: Path) -> None:
    """A file that exists and is not compressed (a DataError saying which it is otherwise)."""
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    with path.open("rb") as fh:
        magic = fh.read(2)
    if magic in COMPRESSED:
        raise DataError(f"{path}: a {COMPRESSED[magic]}-compressed file; decompress it first")


def csv_rows(path: Path, raw: io.RawIOBase | None = None) -> Iterator[tuple[list[str], int]]:
    """Every non-blank CSV row of ``path`` (read from ``raw`` if given) with its line number."""
    check_file(path)
    reader = None
    try:
        # utf-8-sig: Excel writes a byte-order mark that would otherwise stick to the first name.
        binary = io.BufferedReader(raw) if raw is not None else path.open("rb")
        with io.TextIOWrapper(binary, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh, strict=True)
            line = 1
            for row in reader:
                if any(cell.strip() for cell in row):
                    yield row, line
                line = reader.line_num + 1
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        where = f", line {reader.line_num}" if reader is not None else ""
        raise DataError(f"{path}{where}: not valid CSV ({exc})") from None


def read_table(path: Path, limit: int | None = None) -> Table:
    """Every non-blank CSV row of ``path`` with its line number (the first ``limit`` only)."""
    rows: list[list[str]] = []
    lines: list[int] = []
    for row, line in csv_rows(path):
        rows.append(row)
        lines.append(line)
        if limit is not None and len(rows) >= limit:
            break
    if not rows:
        raise DataError(f"{path}: the file is empty")
    return Table(path, rows, lines)


def norm(name: str) -> str:
    """A header name compared loosely: ``Adj Close`` -> ``adj_close``."""
    return re.sub(r"[\s_]+", "_", name.strip().lower())


def string_columns(table: Table, first: int) -> list[np.ndarray]:
    """The data rows from ``first`` on as string columns; every row must be as wide as row 0."""
    width = len(table.rows[0])
    for i in range(first, len(table.rows)):
        if len(table.rows[i]) != width:
            raise table.fail(i, f"{len(table.rows[i])} fields, the header has {width}")
    body = table.rows[first:]
    if not body:
        return [np.array([], dtype=object) for _ in range(width)]
    return [np.array(col, dtype=object) for col in zip(*body, strict=True)]


def parse_dates(table: Table, values: np.ndarray, first: int, what: str = "date") -> np.ndarray:
    """``datetime64[ns]`` dates (the calendar date written, whatever time or offset follows)."""
    text = pd.Series(values, dtype=object).str.strip()
    parts = text.str.extract(DATE_FORMS)
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


def parse_numbers(table: Table, values: np.ndarray, first: int, what: str) -> np.ndarray:
    """Floats, NaN for blank or NA cells; anything else that is not a finite number fails."""
    text = pd.Series(values, dtype=object).str.strip()
    missing = text.str.lower().isin(NA_VALUES).to_numpy()
    numbers = pd.to_numeric(text.where(~missing), errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~missing & ~np.isfinite(numbers))
    if len(bad):
        i = int(bad[0])
        raise table.fail(first + i, f"bad {what} {values[i]!r}")
    return numbers


def parse_tickers(table: Table, values: np.ndarray, first: int) -> np.ndarray:
    names = pd.Series(values, dtype=object).str.strip()
    bad = np.flatnonzero((names == "").to_numpy())
    if len(bad):
        raise table.fail(first + int(bad[0]), "no ticker")
    return names.to_numpy(dtype=object)


def check_duplicates(table: Table, frame: pd.DataFrame, key: str, lines: np.ndarray) -> None:
    dup = np.flatnonzero(frame.duplicated(["ticker", key]).to_numpy())
    if len(dup):
        i = int(dup[0])
        raise DataError(
            f"{table.path}, line {lines[i]}: duplicate row for {frame['ticker'].iloc[i]} "
            f"on {frame[key].iloc[i]:%Y-%m-%d}"
        )


def sorted_prices(frame: pd.DataFrame, drop_empty: bool = True) -> pd.DataFrame:
    """Sorted by ticker and date; ``drop_empty`` drops rows without any close (in a wide or
    yfinance file a blank cell is a day without a price, not a row)."""
    if drop_empty:
        frame = frame[frame[["close", "adj_close"]].notna().any(axis=1)]
    out = frame[PRICE_COLUMNS].astype({"ticker": str})
    return out.sort_values(["ticker", "date"], ignore_index=True)


def header_index(table: Table) -> tuple[list[str], dict[str, int]]:
    """The header's names (compared loosely) and where each is; a name twice is an error (which
    of the two columns would be read?), and so is a header without rows."""
    header = [norm(h) for h in table.rows[0]]
    twice = next((h for j, h in enumerate(header) if h and h in header[:j]), None)
    if twice is not None:
        raise table.fail(0, f"column {twice} appears twice")
    if len(table.rows) == 1:
        raise table.fail(0, "a header and no rows")
    return header, {name: j for j, name in enumerate(header)}
