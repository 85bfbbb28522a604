"""Readers for price files from elsewhere (``eventstudy.data.sources.imports``): every layout, and
every
malformed file as a one-line error naming the line."""

from __future__ import annotations

import hashlib
import socket
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from eventstudy.data.sources.base import PRICE_COLUMNS
from eventstudy.data.sources.imports import read_import_file, read_long_prices, read_shares_file
from eventstudy.errors import DataError
from tests.fakeyahoo import isolated_yfinance, make_fake_session

T = pd.Timestamp


def write(tmp_path: Path, text: str, name: str = "file.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def rows(frame: pd.DataFrame) -> list[tuple]:
    """Rows as plain tuples (NaN as None) for compact comparisons."""
    out = []
    for r in frame[PRICE_COLUMNS].itertuples(index=False):
        out.append((r.ticker, f"{r.date:%Y-%m-%d}", *(None if np.isnan(v) else v for v in r[2:])))
    return out


# -- long ------------------------------------------------------------------------------------------


@pytest.mark.sample
def test_long_sample_reads_exactly_as_pandas_parses_it(sample_dir: Path) -> None:
    got = read_long_prices(sample_dir / "prices.csv")
    raw = pd.read_csv(sample_dir / "prices.csv")
    raw["date"] = pd.to_datetime(raw["date"]).astype("datetime64[ns]")
    expected = raw.sort_values(["ticker", "date"], ignore_index=True)
    assert list(got.columns) == PRICE_COLUMNS and len(got) == 9000
    for column in ("close", "adj_close", "volume"):
        assert np.array_equal(got[column].to_numpy(), expected[column].to_numpy(), equal_nan=True)
    assert (got["date"] == expected["date"]).all() and got["ticker"].tolist() == expected[
        "ticker"
    ].tolist()


def test_long_headers_are_loose_and_columns_optional(tmp_path: Path) -> None:
    text = (
        "\ufeffTicker,Date,Adj Close,Open\n B ,2024-01-03,NA,1\nA,2024-01-02,10.5,2\n"
        "\nA,20240103,,3\n"
    )
    imported = read_import_file(write(tmp_path, text))
    assert imported.format == "long" and imported.columns == ("adj_close",)
    # Rows without a price are kept in a long file (it lists what it has, as it has it).
    assert rows(imported.prices) == [
        ("A", "2024-01-02", None, 10.5, None),
        ("A", "2024-01-03", None, None, None),
        ("B", "2024-01-03", None, None, None),
    ]


@pytest.mark.parametrize(
    ("value", "day"),
    [
        ("2024-01-02", "2024-01-02"),
        ("2024-1-2", "2024-01-02"),
        ("2024/01/02", "2024-01-02"),
        ("20240102", "2024-01-02"),
        # Offsets are the exchange's own: its date is the date written, whatever UTC says.
        ("2024-01-02 00:00:00+09:00", "2024-01-02"),
        ("2024-01-02 00:00:00-05:00", "2024-01-02"),
        ("2024-01-02T16:00:00Z", "2024-01-02"),
    ],
)
def test_dates_keep_the_date_written(tmp_path: Path, value: str, day: str) -> None:
    got = read_long_prices(write(tmp_path, f"ticker,date,close\nA,{value},1\n"))
    assert got["date"].tolist() == [T(day)]


# -- wide ------------------------------------------------------------------------------------------


def test_wide_file_needs_to_be_told_which_price_it_holds(tmp_path: Path) -> None:
    path = write(tmp_path, "date,NVDA,^GSPC\n2025-01-24,142.62,6101.24\n2025-01-27,,6012.28\n")
    with pytest.raises(DataError, match="say which with `column=adj_close` or `column=close`"):
        read_import_file(path)
    imported = read_import_file(path, column="close")
    assert imported.format == "wide" and imported.columns == ("close",)
    assert rows(imported.prices) == [
        ("NVDA", "2025-01-24", 142.62, None, None),
        ("^GSPC", "2025-01-24", 6101.24, None, None),
        ("^GSPC", "2025-01-27", 6012.28, None, None),
    ]
    adjusted = read_import_file(path, "wide", column="adj_close").prices
    assert adjusted["adj_close"].notna().all() and adjusted["close"].isna().all()


# -- yfinance exports ------------------------------------------------------------------------------

MULTI = """Price,Adj Close,Adj Close,Close,Close,High,High,Low,Low,Open,Open,Volume,Volume
Ticker,NVDA,^GSPC,NVDA,^GSPC,NVDA,^GSPC,NVDA,^GSPC,NVDA,^GSPC,NVDA,^GSPC
Date,,,,,,,,,,,,
2025-01-24,142.573273,6101.24,142.62,6101.24,1,1,1,1,1,1,234657600,0
2025-01-27,118.38121,6012.28,118.42,6012.28,1,1,1,1,1,1,818830900,0
"""

GROUPED = """Ticker,AMD,AMD,AMD,NVDA,NVDA,NVDA
Price,Close,Adj Close,Volume,Close,Adj Close,Volume
Date,,,,,,
2025-01-24,124.98,124.98,1,142.62,142.573273,2
"""

AUTO_ADJUSTED = """Price,Close,High,Low,Open,Volume
Ticker,NVDA,NVDA,NVDA,NVDA,NVDA
Date,,,,,
2025-01-24,142.573273,1,1,1,234657600
"""

CLASSIC = """Date,Open,High,Low,Close,Adj Close,Volume
2025-01-24,146.0,148.0,141.0,142.62,142.573273,234657600
2025-01-27,124.0,128.0,116.0,118.42,118.38121,818830900
"""


def test_yfinance_three_row_header(tmp_path: Path) -> None:
    imported = read_import_file(write(tmp_path, MULTI))
    assert imported.format == "yahoo" and imported.notes == []
    assert imported.columns == ("close", "adj_close", "volume")
    assert rows(imported.prices) == [
        ("NVDA", "2025-01-24", 142.62, 142.573273, 234657600.0),
        ("NVDA", "2025-01-27", 118.42, 118.38121, 818830900.0),
        # yfinance writes an unknown volume (indices) as 0: read as unknown.
        ("^GSPC", "2025-01-24", 6101.24, 6101.24, None),
        ("^GSPC", "2025-01-27", 6012.28, 6012.28, None),
    ]


def test_yfinance_grouped_by_ticker(tmp_path: Path) -> None:
    got = read_import_file(write(tmp_path, GROUPED)).prices
    assert rows(got) == [
        ("AMD", "2025-01-24", 124.98, 124.98, 1.0),
        ("NVDA", "2025-01-24", 142.62, 142.573273, 2.0),
    ]


def test_yfinance_close_without_adj_close_is_the_adjusted_close(tmp_path: Path) -> None:
    path = write(tmp_path, AUTO_ADJUSTED)
    imported = read_import_file(path)
    assert imported.columns == ("adj_close", "volume")
    assert rows(imported.prices) == [("NVDA", "2025-01-24", None, 142.573273, 234657600.0)]
    assert "auto_adjust=True" in imported.notes[0]
    # Told otherwise, Close is the close.
    told = read_import_file(path, column="close")
    assert told.columns == ("close", "volume") and told.prices["close"].tolist() == [142.573273]


def test_yfinance_single_ticker_file_takes_its_ticker_from_the_name(tmp_path: Path) -> None:
    imported = read_import_file(write(tmp_path, CLASSIC, "NVDA.csv"))
    assert imported.format == "yahoo-single"
    assert rows(imported.prices)[0] == ("NVDA", "2025-01-24", 142.62, 142.573273, 234657600.0)
    assert "from the file name" in imported.notes[0]
    named = read_import_file(write(tmp_path, CLASSIC, "download.csv"), ticker="^N225")
    assert set(named.prices["ticker"]) == {"^N225"} and named.notes == []


@pytest.fixture
def real_yfinance_exports(sample_prices: pd.DataFrame, tmp_path: Path) -> Iterator[Path]:
    """CSV files written by the installed yfinance itself (to_csv of download/history), through
    the fake Yahoo session."""
    import yfinance as yf

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("real network access attempted in a test")

    with (
        pytest.MonkeyPatch.context() as mp,
        isolated_yfinance(tmp_path / "yf"),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")  # yfinance's own pandas deprecation warnings
        mp.setattr(socket.socket, "connect", refuse)
        session = make_fake_session(sample_prices)
        window = {"start": "2025-01-21", "end": "2025-01-29", "session": session}
        options = {"progress": False, "threads": False, **window}
        yf.download(["NVDA", "^GSPC"], **options).to_csv(tmp_path / "auto.csv")
        yf.download(["NVDA", "AMD"], auto_adjust=False, group_by="ticker", **options).to_csv(
            tmp_path / "grouped.csv"
        )
        yf.download("NVDA", auto_adjust=False, multi_level_index=False, **options).to_csv(
            tmp_path / "NVDA.csv"
        )
        history = yf.Ticker("AMD", session=session).history(
            start=window["start"], end=window["end"], auto_adjust=False
        )
        history.to_csv(tmp_path / "AMD.csv")
        yield tmp_path


@pytest.mark.sample
def test_files_written_by_yfinance_itself(
    real_yfinance_exports: Path, sample_prices: pd.DataFrame
) -> None:
    def sample(ticker: str, column: str) -> list[float]:
        rows = sample_prices[
            (sample_prices["ticker"] == ticker)
            & sample_prices["date"].between("2025-01-21", "2025-01-28")
        ]
        return rows[column].tolist()

    auto = read_import_file(real_yfinance_exports / "auto.csv").prices
    assert auto[auto["ticker"] == "NVDA"]["adj_close"].tolist() == sample("NVDA", "adj_close")
    grouped = read_import_file(real_yfinance_exports / "grouped.csv").prices
    assert grouped[grouped["ticker"] == "AMD"]["close"].tolist() == sample("AMD", "close")
    flat = read_import_file(real_yfinance_exports / "NVDA.csv").prices
    assert flat["close"].tolist() == sample("NVDA", "close")
    history = read_import_file(real_yfinance_exports / "AMD.csv")  # dates carry -05:00
    assert (
        history.prices["date"].tolist()
        == sample_prices[
            (sample_prices["ticker"] == "AMD")
            & sample_prices["date"].between("2025-01-21", "2025-01-28")
        ]["date"].tolist()
    )
    assert history.prices["adj_close"].tolist() == sample("AMD", "adj_close")


# -- shares ----------------------------------------------------------------------------------------


@pytest.mark.sample
def test_shares_file(sample_dir: Path, tmp_path: Path) -> None:
    got = read_shares_file(sample_dir / "shares.csv")
    assert len(got) == 20 and got["source"].str.len().min() > 20
    plain = read_import_file(write(tmp_path, "ticker,as_of,shares_outstanding\nA,2024-01-02,5\n"))
    assert plain.format == "shares" and plain.shares["source"].tolist() == ["file:file.csv"]


# -- malformed files -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "options", "message"),
    [
        ("ticker,date,close\nA,2024-01-02,1\nA,20x5,1\n", {}, "line 3: bad date '20x5'"),
        ("ticker,date,close,Close\nA,2024-01-02,1,2\n", {}, "line 1: column close appears twice"),
        ("ticker,date,close,adj_close,volume\n", {}, "line 1: a header and no rows"),
        (
            "ticker,as_of,shares_outstanding,as_of\nA,2024-01-02,5,x\n",
            {"format": "shares"},
            "line 1: column as_of appears twice",
        ),
        ("ticker,date,close\nA,01/02/2024,1\n", {}, r"line 2: bad date '01/02/2024' \(expected"),
        ("ticker,date,close\nA,2024-02-30,1\n", {}, "line 2: bad date '2024-02-30'"),
        ("ticker,date,close\n\nA,2024-01-02,1\n\nA,2024-01-03,1.2.3\n", {}, "line 5: bad close"),
        ("ticker,date,close\nA,2024-01-02,inf\n", {}, "line 2: bad close 'inf'"),
        ('ticker,date,close\nA,2024-01-02,"1,5"\n', {}, r"line 2: bad close '1,5'"),
        ("ticker,date,close\nA,2024-01-02,1,9\n", {}, "line 2: 4 fields, the header has 3"),
        ("ticker,date,close\nA,2024-01-02\n", {}, "line 2: 2 fields, the header has 3"),
        ("ticker,date,close\n,2024-01-02,1\n", {}, "line 2: no ticker"),
        ("ticker,date,close\nA,2024-01-02,1\nA,2024-01-02,2\n", {}, "line 3: duplicate row"),
        ("ticker,date,volume\nA,2024-01-02,1\n", {}, "line 1: needs a close or adj_close"),
        ('ticker,date,close\nA,2024-01-02,"1\n', {}, "line 2: not valid CSV"),
        ("date,A,A\n2024-01-02,1,2\n", {"column": "close"}, "line 1: ticker A has two columns"),
        ("date,A\n2024-01-02,1\n2024-01-02,2\n", {"column": "close"}, "line 3: date 2024-01-02"),
        ("date,A\n2024-01-02,x\n", {"column": "close"}, "line 2: bad A 'x'"),
        (MULTI.replace("Open,Open", "Opening,Open"), {}, "line 1: unknown yfinance field"),
        (MULTI.replace("2025-01-27,118.38121", "2025-01-27,abc"), {}, "line 5: bad adj_close of"),
        (CLASSIC.replace("118.42", ""), {}, None),  # a blank Close is missing, not an error
        ("ticker,as_of,shares_outstanding\nA,2024-01-02,0\n", {}, "line 2: shares_outstanding"),
        ("foo,bar\n1,2\n", {}, "cannot tell the layout"),
        ("", {}, "the file is empty"),
    ],
)
def test_malformed_files_name_the_line(
    tmp_path: Path, text: str, options: dict, message: str | None
) -> None:
    path = write(tmp_path, text, "NVDA.csv")
    if message is None:
        read_import_file(path, **options)
        return
    with pytest.raises(DataError, match=message) as caught:
        read_import_file(path, **options)
    assert "\n" not in str(caught.value) and str(caught.value).startswith(str(path))


def test_not_utf8_and_missing_files(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("ticker,date,close\nÄ,2024-01-02,1\n".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8 text"):
        read_import_file(path)
    with pytest.raises(DataError, match="file not found"):
        read_import_file(tmp_path / "absent.csv")
    with pytest.raises(DataError, match="`column` must be"):
        read_import_file(path, column="open")
    with pytest.raises(ValueError, match="format must be"):
        read_import_file(path, "excel")


# -- the fast path for clean long files, and reading in chunks ------------------------------------


def _long(path: Path, careful: bool, chunk_rows: int = 1_000_000) -> tuple[pd.DataFrame, Any]:
    """What one reader of a long file reads (chunks concatenated, in file order), and the reader."""
    from eventstudy.data.sources import longfile

    reader = longfile.LongPriceFile(path, careful=careful, chunk_rows=chunk_rows)
    return pd.concat(list(reader), ignore_index=True), reader


CLEAN = [
    "ticker,date,close,adj_close,volume\nB,2024-01-03,2,1.9,100\nA,2024-01-02,1.5,1.4,\n",
    "\ufeffTicker,Date,Adj Close,Open\r\n B ,2024-01-03,NA,1\r\nA,2024-01-02,10.5,2\r\n",
    'ticker,date,close,note\nA,2024-01-02,1e-3,"a, b"\nA,2024-01-03,#N/A,x\n',
    "date,ticker,adj_close,close\n2024-01-02,A,1,\n2024-01-02,B,null,2\n",
]


@pytest.mark.parametrize("text", CLEAN)
def test_clean_long_files_read_the_same_by_either_reader(tmp_path: Path, text: str) -> None:
    """The Arrow path gives exactly what the careful reader gives."""
    path = write(tmp_path, text)
    fast, fast_reader = _long(path, careful=False)
    careful, careful_reader = _long(path, careful=True)
    pd.testing.assert_frame_equal(fast, careful, check_exact=True)
    assert fast_reader.columns == careful_reader.columns
    assert (
        fast_reader.sha256 == careful_reader.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    )


@pytest.mark.parametrize("careful", [False, True])
@pytest.mark.parametrize("text", CLEAN)
def test_chunks_read_what_one_read_reads(tmp_path: Path, text: str, careful: bool) -> None:
    """Read a row at a time, a file gives the rows it gives read at once, in the same order."""
    path = write(tmp_path, text)
    whole, _ = _long(path, careful)
    rows, reader = _long(path, careful, chunk_rows=1)
    pd.testing.assert_frame_equal(rows, whole, check_exact=True)
    assert reader.rows == 2


@pytest.mark.parametrize("careful", [False, True])
def test_a_row_twice_is_found_across_chunks(tmp_path: Path, careful: bool) -> None:
    from eventstudy.data.sources import longfile

    path = write(tmp_path, "ticker,date,close\nA,2024-01-02,1\nB,2024-01-02,1\nA,2024-01-02,2\n")
    reader = longfile.LongPriceFile(path, careful=careful, chunk_rows=1)
    expected = longfile.UncleanFileError if not careful else DataError
    with pytest.raises(expected, match=None if not careful else "line 4: duplicate row for A"):
        list(reader)
    with pytest.raises(DataError, match=r"line 4: duplicate row for A on 2024-01-02"):
        read_long_prices(path)


@pytest.mark.parametrize(
    ("rows", "line"),
    [
        ("A,2024-01-02,1\nA,2024-01-02,2\nA,2024-01-03,1\nB,2024-01-02,1\n", 3),  # by ticker
        ("A,2024-01-02,1\nB,2024-01-02,1\nB,2024-01-02,2\nA,2024-01-03,1\n", 4),  # by date
    ],
)
def test_a_row_twice_is_found_in_sorted_files(tmp_path: Path, rows: str, line: int) -> None:
    with pytest.raises(DataError, match=rf"line {line}: duplicate row for"):
        read_long_prices(write(tmp_path, "ticker,date,close\n" + rows))


def test_large_files_go_through_chunks_and_sort(tmp_path: Path) -> None:
    from eventstudy.data.sources import longfile

    text = "ticker,date,close\n" + "".join(
        f"{t},2024-01-{d:02d},{d}\n" for d in range(1, 29) for t in ("B", "A")
    )
    path = write(tmp_path, text)
    got = longfile.read_long_file(path, chunk_rows=5).prices
    assert got is not None
    pd.testing.assert_frame_equal(got, read_long_prices(path), check_exact=True)
    assert got["ticker"].tolist() == ["A"] * 28 + ["B"] * 28
    assert got["close"].tolist() == list(range(1, 29)) * 2


@pytest.mark.parametrize(
    "text",
    [
        "ticker,date,close\nA,2024-1-2,1\n",  # a date the fast path does not parse
        "ticker,date,close\nA,2024-01-02 00:00:00-05:00,1\n",
        "ticker,date,close\nA,2024-02-30,1\n",  # no such day
        "ticker,date,close\nA,1500-01-02,1\n",  # not a nanosecond timestamp
        "ticker,date,close\n\nA,2024-01-02,1\n,,\n",  # a row of empty cells
        "ticker,date,close\nA,2024-01-02\n",  # a short row
        "ticker,date,close\nA,2024-01-02,1\nA,2024-01-02,2\n",  # a duplicate
        "ticker,date,close\nA,2024-01-02,inf\n",
        "ticker,as_of,shares_outstanding\nA,2024-01-02,5\n",  # not a long file
        "ticker,date\nA,2024-01-02\n",  # no price
        "ticker,date,close\n",  # no rows
        'ticker,date,close,note\nA,2024-01-02,1,"a\nb"\nA,2024-01-03,1,c\n',  # a line break
    ],
)
@pytest.mark.parametrize("chunk_rows", [1_000_000, 1])
def test_anything_else_goes_to_the_careful_reader(
    tmp_path: Path, text: str, chunk_rows: int
) -> None:
    from eventstudy.data.sources import longfile

    with pytest.raises(longfile.UncleanFileError):
        list(longfile.LongPriceFile(write(tmp_path, text), chunk_rows=chunk_rows))


@pytest.mark.parametrize(
    "text",
    [
        b"ticker,date\nA,1\nB,2\n",
        b"ticker,date\r\nA,1\r\nB,2\r\n",
        b"ticker,date\rA,1\rB,2",  # old Mac line breaks, no break at the end
        b"ticker,date\n" + b"A" * 50 + b",1\nB,2\n",  # a line longer than a block
        b"",
    ],
)
@pytest.mark.parametrize("size", [1, 3, 8, 1 << 20])
def test_the_fast_reader_cuts_blocks_at_line_breaks(tmp_path: Path, text: bytes, size: int) -> None:
    """Arrow parses a file a block at a time: together the blocks are the file, each ends at a
    line break, and the bytes were hashed as read."""
    from eventstudy.data.sources import longfile

    path = tmp_path / "f.csv"
    path.write_bytes(text)
    raw = longfile._HashingFile(path)
    try:
        # Each block is a view of a buffer the next one is read into: copied as it comes.
        blocks = [bytes(block) for block in longfile._line_blocks(raw, size)]
        assert raw.hexdigest() == hashlib.sha256(text).hexdigest()
    finally:
        raw.release()
    assert b"".join(blocks) == text
    assert all(b[-1:] in (b"\n", b"\r") for b in blocks[:-1])
    assert all(blocks)


def test_arrow_copies_what_it_parses() -> None:
    """The fast reader reads each block into the buffer the last one was parsed from
    (``_line_blocks``): that is safe only while Arrow's tables do not point into it."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    buffer = bytearray(b'A,2024-01-02,1.5\nBB,2024-01-03,2.5\n"C,x",2024-01-04,3\n')
    table = pa_csv.read_csv(
        pa.py_buffer(memoryview(buffer)),
        read_options=pa_csv.ReadOptions(column_names=["ticker", "date", "close"]),
        convert_options=pa_csv.ConvertOptions(
            column_types={"ticker": pa.string(), "date": pa.string(), "close": pa.float64()}
        ),
    )
    before = table.to_pylist()
    buffer[:] = b"Z" * len(buffer)
    assert table.to_pylist() == before


@pytest.mark.sample
def test_the_sample_reads_the_same_by_either_reader(sample_dir: Path) -> None:
    path = sample_dir / "prices.csv"
    fast, _ = _long(path, careful=False)
    careful, _ = _long(path, careful=True)
    pd.testing.assert_frame_equal(fast, careful, check_exact=True)
    chunked, _ = _long(path, careful=False, chunk_rows=1000)
    pd.testing.assert_frame_equal(chunked, fast, check_exact=True)


def test_compressed_files_are_named_as_such(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "prices.csv.gz"
    path.write_bytes(gzip.compress(b"ticker,date,close\nA,2024-01-02,1\n"))
    with pytest.raises(DataError, match=r"prices.csv.gz: a gzip-compressed file; decompress it"):
        read_import_file(path)
