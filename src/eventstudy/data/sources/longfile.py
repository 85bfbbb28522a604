"""Long price files (``ticker,date,close,adj_close,volume``) read chunk by chunk, so that a file of
any size is read in bounded memory: Arrow's streaming CSV reader for clean files, the careful
reader of :mod:`eventstudy.data.sources.csvtext` for anything else (the layout is described in
:mod:`eventstudy.data.sources.imports`). :func:`read_long_file` reads a whole file;
:mod:`eventstudy.data.ingest` stores one in the price store as it reads it."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eventstudy.data.sources.base import PRICE_COLUMNS
from eventstudy.data.sources.csvtext import (
    NA_VALUES,
    ImportedFile,
    Table,
    check_file,
    csv_rows,
    header_index,
    norm,
    parse_dates,
    parse_numbers,
    parse_tickers,
    sorted_prices,
    string_columns,
)
from eventstudy.errors import DataError
from eventstudy.parallel import read_ahead


def _long_frame(table: Table, index: dict[str, int]) -> pd.DataFrame:
    """The data rows of a long file's table (header row first) as PRICE_COLUMNS, in file order."""
    cols = string_columns(table, 1)
    frame = pd.DataFrame(
        {
            "ticker": parse_tickers(table, cols[index["ticker"]], 1),
            "date": parse_dates(table, cols[index["date"]], 1),
        }
    )
    for column in _NUMBER_COLUMNS:
        if column in index:
            frame[column] = parse_numbers(table, cols[index[column]], 1, column)
        else:
            frame[column] = np.nan
    return frame[PRICE_COLUMNS].astype({"ticker": str})


_NUMBER_COLUMNS = ("close", "adj_close", "volume")
#: The missing-value markers of :data:`NA_VALUES` as they are usually written (Arrow matches
#: exactly; other spellings go to the careful reader, which compares case-blind).
_NA_SPELLINGS = sorted(
    {s for na in NA_VALUES for s in (na, na.upper(), na.title())} | {"NaN", "N/a"}
)
#: Dates the fast reader takes (nanosecond timestamps); others go to the careful reader.
_FIRST_DAY, _LAST_DAY = dt.date(1678, 1, 1), dt.date(2261, 12, 31)
#: Rows of a long price file read at a time: what reading it holds in memory, whatever its size
#: (about 75 MB at half a million rows). Half a million rather than a million: the three threads
#: that read, check and stage a file start and end together sooner (0.1 s less on 3M rows).
CHUNK_ROWS = 500_000
_BLOCK_BYTES = 1 << 24  # what Arrow parses at a time


class UncleanFileError(Exception):
    """Raised by :class:`LongPriceFile` (``careful=False``): Arrow's reader cannot read the file
    exactly as the careful reader would; read it again with ``careful=True``."""


class _HashingFile(io.RawIOBase):
    """A file whose bytes are hashed (SHA-256) as they are read. Closing it (as a reader on top
    of it does) leaves the file open for :meth:`hexdigest`; :meth:`release` closes it."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._file = path.open("rb")
        self._sha = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._file.readinto(buffer)
        if n:
            self._sha.update(memoryview(buffer)[:n])
        return n or 0

    def hexdigest(self) -> str:
        """The SHA-256 of the whole file (what was not read yet is read now)."""
        rest = bytearray(1 << 20)
        while n := self._file.readinto(rest):
            self._sha.update(memoryview(rest)[:n])
        return self._sha.hexdigest()

    def release(self) -> None:
        self._file.close()


def _increasing(keys: np.ndarray) -> bool:
    """Whether ``keys`` rise strictly (then no key is there twice)."""
    return bool((keys[1:] > keys[:-1]).all())


def _line_blocks(raw: _HashingFile, size: int) -> Iterator[memoryview]:
    """The file's bytes in blocks of about ``size`` bytes, each ending at a line break (the last:
    at the end of the file). This is where Arrow's own reader cuts a file when values hold no
    line breaks (``newlines_in_values=False``); one that does is caught by :meth:`_fast_chunk`.

    Each block is a view of one buffer that the next block is read into: use it before asking
    for the next (Arrow's CSV reader copies what it parses). Reading every block into new bytes
    cost as much as reading the file (fresh memory is zeroed by the system, then copied)."""
    buffer = bytearray(max(1, size))
    held = 0  # bytes at the start of the buffer: the beginning of a line not yet given
    while True:
        got = raw.readinto(memoryview(buffer)[held:])
        if not got:
            if held:
                yield memoryview(buffer)[:held]
            return
        end = held + got
        cut = max(buffer.rfind(b"\n", 0, end), buffer.rfind(b"\r", 0, end)) + 1
        if not cut:  # no line break yet: read on (into a larger buffer when this one is full)
            if end == len(buffer):
                buffer = bytearray(buffer) + bytearray(len(buffer))
            held = end
            continue
        yield memoryview(buffer)[:cut]
        held = end - cut
        buffer[:held] = buffer[cut:end]  # same size: allowed while Arrow still holds a view


def file_sha256(path: Path) -> str:
    """The SHA-256 of the bytes of ``path`` (hex)."""
    check_file(path)
    hashing = _HashingFile(path)
    try:
        return hashing.hexdigest()
    finally:
        hashing.release()


class _Keys:
    """The (ticker, date) of every row read, 8 bytes a row, to find one written twice."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}
        self.keys: list[np.ndarray] = []
        self.lines: list[np.ndarray] = []

    def add(self, frame: pd.DataFrame, lines: np.ndarray | None = None) -> None:
        codes, names = pd.factorize(frame["ticker"])
        known = np.array([self.codes.setdefault(t, len(self.codes)) for t in names], np.int64)
        days = frame["date"].to_numpy().astype("M8[D]").astype(np.int64)
        self.keys.append((known[codes] << 32) | (days + 2**31))
        if lines is not None:
            self.lines.append(lines)

    def first_repeat(self) -> int | None:
        """Where, in reading order, the first row is whose (ticker, date) came before."""
        if not self.keys:
            return None
        keys = np.concatenate(self.keys)
        u = keys.view(np.uint64)
        if _increasing(u) or _increasing((u << np.uint64(32)) | (u >> np.uint64(32))):
            return None  # sorted by ticker then date, or by date then ticker: no key twice
        order = np.argsort(keys, kind="stable")  # rows of one key stay in reading order
        again = keys[order[1:]] == keys[order[:-1]]
        return int(order[1:][again].min()) if again.any() else None

    def describe(self, row: int) -> tuple[int, str, str]:
        """The line, ticker and date (YYYY-MM-DD) of a row."""
        key = int(np.concatenate(self.keys)[row])
        ticker = next(t for t, c in self.codes.items() if c == key >> 32)
        day = np.datetime64((key & 0xFFFFFFFF) - 2**31, "D")
        return int(np.concatenate(self.lines)[row]), ticker, str(day)


class LongPriceFile:
    """A long price file (``ticker,date,close,adj_close,volume``) read chunk by chunk, so that
    reading it takes bounded memory whatever its size.

    Iterating gives :data:`PRICE_COLUMNS` frames of at most ``chunk_rows`` rows in file order.
    ``careful=False``: Arrow's streaming CSV reader reads a clean file (one header row, rows as
    wide as it, dates ``YYYY-MM-DD``, numbers or missing-value markers, no (ticker, date) twice)
    about five times sooner, and raises :class:`UncleanFileError` at anything else, possibly
    after some chunks: read the file again with ``careful=True``, which reads every variant of
    the layout and raises a :class:`DataError` naming the line. A (ticker, date) twice is
    found once the last chunk was read. Once iterated: ``columns`` (the price columns the file
    has), ``rows`` and ``sha256`` (of the file's bytes as they were read)."""

    def __init__(self, path: Path, *, careful: bool = False, chunk_rows: int = CHUNK_ROWS) -> None:
        self.path = Path(path)
        self.careful = careful
        self.chunk_rows = chunk_rows
        self.columns: tuple[str, ...] = ()
        self.rows = 0
        self.sha256 = ""

    def __iter__(self) -> Iterator[pd.DataFrame]:
        keys = _Keys()
        chunks = self._careful_chunks(keys) if self.careful else self._fast_chunks(keys)
        for frame in chunks:
            self.rows += len(frame)
            yield frame
        repeat = keys.first_repeat()
        if repeat is not None:
            if not self.careful:
                raise UncleanFileError
            line, ticker, day = keys.describe(repeat)
            raise DataError(f"{self.path}, line {line}: duplicate row for {ticker} on {day}")

    def _block_bytes(self) -> int:
        """What Arrow parses at a time: about a chunk, at most 16 MB (in pieces of a megabyte, one
        per thread: a row longer than that makes Arrow give up, and the careful reader reads the
        file)."""
        return min(_BLOCK_BYTES, max(64, self.chunk_rows * 32))

    def _index(self, header: list[str]) -> dict[str, int]:
        index = {name: j for j, name in enumerate(norm(h) for h in header)}
        self.columns = tuple(c for c in _NUMBER_COLUMNS if c in index)
        return index

    # -- the careful reader, chunk by chunk

    def _careful_chunks(self, keys: _Keys) -> Iterator[pd.DataFrame]:
        check_file(self.path)
        raw = _HashingFile(self.path)
        header: tuple[list[str], int] | None = None
        index: dict[str, int] | None = None
        rows: list[list[str]] = []
        lines: list[int] = []
        try:
            for row, line in csv_rows(self.path, raw):
                if header is None:
                    header = row, line
                    continue
                if index is None:
                    index = self._check_header(header, has_rows=True)
                rows.append(row)
                lines.append(line)
                if len(rows) >= self.chunk_rows:
                    yield self._careful_chunk(header, index, rows, lines, keys)
                    rows, lines = [], []
            if header is None:
                raise DataError(f"{self.path}: the file is empty")
            if index is None:
                self._check_header(header, has_rows=False)  # raises: a header and no rows
            elif rows:
                yield self._careful_chunk(header, index, rows, lines, keys)
            self.sha256 = raw.hexdigest()
        finally:
            raw.release()

    def _check_header(self, header: tuple[list[str], int], has_rows: bool) -> dict[str, int]:
        table = Table(self.path, [header[0], *([header[0]] if has_rows else [])], [header[1]] * 2)
        _, index = header_index(table)
        if "ticker" not in index or "date" not in index:
            raise table.fail(0, "a long price file needs ticker and date columns")
        if "close" not in index and "adj_close" not in index:
            raise table.fail(0, "needs a close or adj_close column")
        return self._index(header[0])

    def _careful_chunk(
        self,
        header: tuple[list[str], int],
        index: dict[str, int],
        rows: list[list[str]],
        lines: list[int],
        keys: _Keys,
    ) -> pd.DataFrame:
        table = Table(self.path, [header[0], *rows], [header[1], *lines])
        frame = _long_frame(table, index)
        keys.add(frame, np.asarray(lines, dtype=np.int64))
        return frame

    # -- the fast reader

    def _fast_chunks(self, keys: _Keys) -> Iterator[pd.DataFrame]:
        import pyarrow as pa
        import pyarrow.csv as pa_csv

        try:
            with self.path.open(newline="", encoding="utf-8-sig") as fh:
                header = next(csv.reader(fh, strict=True))
        except (OSError, UnicodeDecodeError, StopIteration, csv.Error):
            raise UncleanFileError from None
        names = [norm(h) for h in header]
        if "\n" in "".join(header) or "\r" in "".join(header) or len(set(names)) < len(names):
            raise UncleanFileError  # the careful reader says what is wrong with the header
        index = self._index(header)
        if not {"ticker", "date"} <= index.keys() or not {"close", "adj_close"} & index.keys():
            raise UncleanFileError
        numeric = {f"c{j}" for j, name in enumerate(names) if name in _NUMBER_COLUMNS}
        columns = [f"c{j}" for j in range(len(header))]
        raw = _HashingFile(self.path)
        read_options = pa_csv.ReadOptions(column_names=columns, skip_rows=1)
        # Arrow refuses rows of another width, and numbers it cannot parse exactly as such.
        convert_options = pa_csv.ConvertOptions(
            column_types={c: pa.float64() if c in numeric else pa.string() for c in columns},
            null_values=_NA_SPELLINGS,
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        )

        def parsed() -> Iterator[Any]:
            options = read_options
            for block in _line_blocks(raw, self._block_bytes()):
                # A block is parsed by Arrow's threads (its streaming reader has one).
                table = pa_csv.read_csv(
                    pa.py_buffer(block), read_options=options, convert_options=convert_options
                )
                options = pa_csv.ReadOptions(column_names=columns)  # the header was first
                if table.num_rows:
                    yield table

        try:
            tables: list[Any] = []
            # The next blocks are read and parsed in a second thread while a chunk is checked.
            with contextlib.closing(read_ahead(parsed())) as blocks:
                for table in blocks:
                    tables.append(table)
                    if sum(t.num_rows for t in tables) >= self.chunk_rows:
                        yield self._fast_chunk(pa.concat_tables(tables), index, numeric, keys)
                        tables = []
            if tables:
                yield self._fast_chunk(pa.concat_tables(tables), index, numeric, keys)
            if not self.rows:
                raise UncleanFileError  # a header and no rows: the careful reader says so
            self.sha256 = raw.hexdigest()
        except pa.ArrowException:
            raise UncleanFileError from None
        finally:
            raw.release()

    @staticmethod
    def _fast_chunk(
        table: Any, index: dict[str, int], numeric: set[str], keys: _Keys
    ) -> pd.DataFrame:
        import pyarrow as pa
        import pyarrow.compute as pc

        for name in table.column_names:
            if name in numeric:
                continue
            distinct = pc.unique(table[name])  # a million tickers or dates hold a few thousand
            if any(pc.any(pc.match_substring(distinct, eol)).as_py() for eol in ("\n", "\r")):
                raise UncleanFileError  # Arrow reads an unclosed quote at the end as a line break
        ticker = pc.utf8_trim_whitespace(table[f"c{index['ticker']}"])
        if pc.any(pc.equal(ticker, "")).as_py():
            raise UncleanFileError  # no ticker, or a row of empty cells: the careful reader says
        # Arrow's cast takes YYYY-MM-DD only, and refuses 2024-02-30.
        dates = pc.utf8_trim_whitespace(table[f"c{index['date']}"]).cast(pa.date32())
        first, last = pc.min_max(dates).values()
        if first.as_py() < _FIRST_DAY or last.as_py() > _LAST_DAY:
            raise UncleanFileError
        frame = pd.DataFrame(
            {
                "ticker": _text_column(ticker),
                "date": dates.cast(pa.timestamp("ns")).to_numpy(),
            }
        )
        for column in _NUMBER_COLUMNS:
            if column not in index:
                frame[column] = np.nan
                continue
            numbers = table[f"c{index[column]}"].to_numpy()  # missing: NaN
            if np.isinf(numbers).any():
                raise UncleanFileError  # the careful reader refuses it, naming the line
            frame[column] = numbers
        keys.add(frame)
        return frame


#: What ``astype(str)`` makes of a text column (pandas 3: its Arrow-backed ``str``; 2: object).
_TEXT = pd.Series(["x"]).astype(str).dtype


def _text_column(values: Any) -> Any:
    """An Arrow text column as the careful reader's ``astype(str)`` column (without a Python
    string per row where pandas keeps text in Arrow)."""
    if isinstance(_TEXT, pd.StringDtype):
        return pd.array(values, dtype=_TEXT)
    return values.to_numpy()


def read_long_file(path: Path, chunk_rows: int = CHUNK_ROWS) -> ImportedFile:
    """A whole long price file (:class:`LongPriceFile`: the fast reader, else the careful one),
    sorted by ticker and date."""
    for careful in (False, True):
        reader = LongPriceFile(path, careful=careful, chunk_rows=chunk_rows)
        try:
            frames = list(reader)
        except UncleanFileError:
            continue
        frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        return ImportedFile(
            path, "long", prices=sorted_prices(frame, False), columns=reader.columns
        )
    raise AssertionError("the careful reader reads every file or raises a DataError")
