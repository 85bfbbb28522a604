"""A long price file into the local price store (``run --prices FILE``, ``cache import FILE``).

The file is read chunk by chunk (:class:`~eventstudy.data.sources.longfile.LongPriceFile`), so
memory stays bounded whatever its size, and its rows are staged as they are read (written to a
Parquet file beside the store, :class:`~eventstudy.data.side_files.StagedFile`), then taken into
the store in one transaction: a file with a bad line stores nothing. ``defer=True`` leaves the
staged file for the caller to store later (:class:`DeferredStore`: ``eventstudy run`` stores it
only once the study ran, without reading the file a second time). The store keeps the SHA-256 of
a file it stored whole (:meth:`~eventstudy.data.store.PriceStore.has_price_file`), so a second
run with the same file reads it but does not store its rows again. See docs/data.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from eventstudy.data.side_files import StagedFile
from eventstudy.data.sources.longfile import (
    CHUNK_ROWS,
    LongPriceFile,
    UncleanFileError,
    file_sha256,
)
from eventstudy.data.store import PriceStore
from eventstudy.errors import DataError
from eventstudy.parallel import read_ahead


@dataclass
class IngestedFile:
    """What :func:`ingest_price_file` read and stored."""

    path: Path
    #: The rows asked for (``tickers`` between ``start`` and ``end``), sorted by ticker and date
    #: (in the file's order with ``sort=False``); None when none were asked for.
    prices: pd.DataFrame | None
    rows: int
    #: Distinct tickers in the file.
    tickers: int
    #: The price columns the file has (a stored row keeps its others).
    columns: tuple[str, ...]
    #: False when the store held the file already and nothing was written.
    stored: bool
    sha256: str
    #: Prices of zero or less (a study that uses them stops with an error).
    nonpositive: int = 0
    #: With ``defer=True``: the file's rows staged for :meth:`PriceStore.store_staged` (None when
    #: the store holds the file already).
    staged: StagedFile | None = None


@dataclass
class DeferredStore:
    """A staged price file to store once the study ran: call it to store, :meth:`discard` when
    the run failed (a no-op after storing)."""

    store: PriceStore
    staged: StagedFile

    def __call__(self) -> int:
        return self.store.store_staged(self.staged)

    def discard(self) -> None:
        self.staged.discard()


def ingest_price_file(
    path: Path | str,
    store: PriceStore | None,
    source: str,
    *,
    tickers: Sequence[str] | None = None,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    skip_stored: bool = False,
    defer: bool = False,
    sort: bool = True,
    chunk_rows: int = CHUNK_ROWS,
) -> IngestedFile:
    """Read the long price file ``path`` and store its rows as from ``source``, in one
    transaction, each ticker covered from its first to its last row (``store`` None: only read
    it).

    ``tickers`` (with ``start`` and ``end``): keep their rows in that range for the caller
    (``IngestedFile.prices``); a ticker the file lacks is a :class:`DataError` and nothing is
    stored. ``skip_stored``: when the store holds this very file from ``source`` already (same
    SHA-256, and no price written since), read it without storing its rows again. ``defer``:
    stage the rows but do not store them (``IngestedFile.staged``; the caller stores or discards
    it). ``sort=False``: the rows asked for in the file's order (a caller that pivots them
    need not pay for sorting millions of rows)."""
    path = Path(path)
    # Deferred, the file is hashed as it is read and staged (its rows are read anyway): a file
    # stored already is found then, and its staging thrown away. Stored at once, it is hashed
    # first, so that a stored file is only read.
    stored = (
        store is not None
        and skip_stored
        and not defer
        and path.is_file()
        and store.has_price_file(file_sha256(path), source)
    )
    for careful in (False, True):
        reader = LongPriceFile(path, careful=careful, chunk_rows=chunk_rows)
        try:
            if store is None or stored:
                return _read(reader, None, tickers, start, end, sort)
            staged = store.stage_price_file(source)
            kept = False
            try:
                got = _read(reader, staged, tickers, start, end, sort)
                staged.sha256 = got.sha256
                if defer and skip_stored and store.has_price_file(got.sha256, source):
                    got.stored = False  # stored already: nothing to store
                elif defer:
                    got.staged, kept = staged, True
                else:
                    store.store_staged(staged)
                return got
            finally:
                if not kept:
                    staged.discard()
        except UncleanFileError:
            continue  # the careful reader reads it again from the start; nothing was stored
    raise AssertionError("the careful reader reads every file or raises a DataError")


def _read(
    reader: LongPriceFile,
    writer: StagedFile | None,
    tickers: Sequence[str] | None,
    start: pd.Timestamp | None,
    end: pd.Timestamp | None,
    sort: bool = True,
) -> IngestedFile:
    wanted = list(dict.fromkeys(tickers)) if tickers is not None else None
    wanted_set = set(wanted or ())
    kept: list[pd.DataFrame] = []
    names: set[str] = set()
    nonpositive = 0
    # The next chunk is parsed and checked while this one is staged and filtered.
    for chunk in read_ahead(reader):
        if writer is not None:
            writer.add(chunk, reader.columns)
        # The chunk's tickers by their distinct values (a few thousand among a million rows):
        # Series.isin makes an Arrow scalar of every wanted ticker, chunk after chunk.
        codes, distinct = pd.factorize(chunk["ticker"])
        distinct = distinct.tolist()
        names.update(distinct)
        with np.errstate(invalid="ignore"):
            nonpositive += int((chunk[["close", "adj_close"]].to_numpy() <= 0).sum())
        if wanted is not None:
            # One more False at the end: code -1 (a missing ticker) is never kept.
            keep = np.zeros(len(distinct) + 1, dtype=bool)
            keep[: len(distinct)] = [t in wanted_set for t in distinct]
            mask = keep[codes] & chunk["date"].between(start, end).to_numpy()
            kept.append(chunk if mask.all() else chunk.loc[mask])
    prices = None
    if wanted is not None:
        unknown = [t for t in wanted if t not in names]
        if unknown:
            raise DataError(f"{reader.path}: no prices for ticker(s) {', '.join(unknown)}")
        prices = pd.concat(kept, ignore_index=True) if len(kept) > 1 else kept[0]
        if sort:
            prices = prices.sort_values(["ticker", "date"], ignore_index=True)
    return IngestedFile(
        path=reader.path,
        prices=prices,
        rows=reader.rows,
        tickers=len(names),
        columns=reader.columns,
        stored=writer is not None,
        sha256=reader.sha256,
        nonpositive=nonpositive,
    )
