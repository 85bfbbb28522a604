"""A long price file into the local price store (``run --prices FILE``, ``cache import FILE``).

The file is read chunk by chunk (:class:`~eventstudy.data.sources.longfile.LongPriceFile`), so
memory stays bounded whatever its size, and its rows are stored as they are read, in one
transaction: a file with a bad line stores nothing. The store keeps the SHA-256 of a file it
stored whole (:meth:`~eventstudy.data.store.PriceStore.has_price_file`), so a second run with the
same file reads it but does not store its rows again. See docs/data.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eventstudy.data.sources.longfile import (
    CHUNK_ROWS,
    LongPriceFile,
    UncleanFileError,
    file_sha256,
)
from eventstudy.data.store import PriceStore, PriceWriter
from eventstudy.errors import DataError


@dataclass
class IngestedFile:
    """What :func:`ingest_price_file` read and stored."""

    path: Path
    #: The rows asked for (``tickers`` between ``start`` and ``end``), sorted by ticker and date;
    #: None when none were asked for.
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


def ingest_price_file(
    path: Path | str,
    store: PriceStore | None,
    source: str,
    *,
    tickers: Sequence[str] | None = None,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    skip_stored: bool = False,
    chunk_rows: int = CHUNK_ROWS,
) -> IngestedFile:
    """Read the long price file ``path`` and store its rows as from ``source``, in one
    transaction, each ticker covered from its first to its last row (``store`` None: only read
    it).

    ``tickers`` (with ``start`` and ``end``): keep their rows in that range for the caller
    (``IngestedFile.prices``); a ticker the file lacks is a :class:`DataError` and nothing is
    stored. ``skip_stored``: when the store holds this very file from ``source`` already (same
    SHA-256, and no price written since), read it without storing its rows again."""
    path = Path(path)
    stored = (
        store is not None
        and skip_stored
        and path.is_file()
        and store.has_price_file(file_sha256(path), source)
    )
    for careful in (False, True):
        reader = LongPriceFile(path, careful=careful, chunk_rows=chunk_rows)
        try:
            if store is None or stored:
                return _read(reader, None, tickers, start, end)
            with store.price_file_writer(source) as writer:
                got = _read(reader, writer, tickers, start, end)
                writer.sha256 = got.sha256
            return got
        except UncleanFileError:
            continue  # the careful reader reads it again from the start; nothing was stored
    raise AssertionError("the careful reader reads every file or raises a DataError")


def _read(
    reader: LongPriceFile,
    writer: PriceWriter | None,
    tickers: Sequence[str] | None,
    start: pd.Timestamp | None,
    end: pd.Timestamp | None,
) -> IngestedFile:
    wanted = list(dict.fromkeys(tickers)) if tickers is not None else None
    kept: list[pd.DataFrame] = []
    names: set[str] = set()
    nonpositive = 0
    for chunk in reader:
        if writer is not None:
            writer.add(chunk, reader.columns)
        names.update(chunk["ticker"].unique().tolist())
        with np.errstate(invalid="ignore"):
            nonpositive += int((chunk[["close", "adj_close"]].to_numpy() <= 0).sum())
        if wanted is not None:
            mask = chunk["ticker"].isin(wanted) & chunk["date"].between(start, end)
            kept.append(chunk.loc[mask])
    prices = None
    if wanted is not None:
        unknown = [t for t in wanted if t not in names]
        if unknown:
            raise DataError(f"{reader.path}: no prices for ticker(s) {', '.join(unknown)}")
        prices = pd.concat(kept, ignore_index=True) if len(kept) > 1 else kept[0]
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


class BackgroundStore:
    """Stores a price file in a second process while this one runs the study (the command line's
    ``run --prices FILE``): :meth:`start` launches ``python -m eventstudy.data.ingest`` on the
    store unless the store holds the file already; :meth:`wait` waits for it and raises its
    error (a :class:`DataError`) if it failed; :meth:`stop` ends it if it still runs (its
    transaction is then rolled back, and the store is as it was). Storing takes about as long as
    fitting and writing every table of a large study, and SQLite takes rows one at a time, so
    doing it beside them rather than before them is what keeps the command line close to the
    library's speed. The study reads the file itself, so its numbers do not depend on this."""

    def __init__(self, store: PriceStore) -> None:
        self.store = store
        self._proc: subprocess.Popen[bytes] | None = None
        self._errors: Any = None
        self.path: Path | None = None

    def start(self, path: Path, source: str) -> None:
        """Store ``path`` as from ``source`` in a second process (nothing when it is stored)."""
        path = Path(path)
        if self.store.has_price_file(file_sha256(path), source):
            return
        self.path = path
        self._errors = tempfile.TemporaryFile()  # noqa: SIM115 (closed by wait or stop)
        package_root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "eventstudy.data.ingest",
                str(self.store.path),
                str(path),
                source,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._errors,
            env=env,
        )

    def wait(self) -> None:
        """Wait until the file is stored; its error, if storing it failed."""
        if self._proc is None:
            return
        code = self._proc.wait()
        self._proc = None
        self._errors.seek(0)
        text = self._errors.read().decode("utf-8", "replace").strip()
        self._errors.close()
        if code != 0:
            lines = text.splitlines()
            last = lines[-1].removeprefix("eventstudy: error: ") if lines else f"exit status {code}"
            raise DataError(f"storing {self.path} in the price store failed: {last}")

    def stop(self) -> None:
        """End the second process if it still runs (what it wrote is rolled back)."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        self._proc = None
        self._errors.close()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m eventstudy.data.ingest STORE FILE SOURCE``: what :class:`BackgroundStore`
    runs. Exit status 2 with the error on stderr when the file cannot be stored."""
    store_path, path, source = argv if argv is not None else sys.argv[1:]
    try:
        ingest_price_file(Path(path), PriceStore(Path(store_path)), source)
    except DataError as exc:
        print(f"eventstudy: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover - run as a process by BackgroundStore
    sys.exit(main())
