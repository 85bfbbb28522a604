"""CSV files in the long layout of ``../shared/data/prices.csv`` and ``shares.csv``.

The readers are those of :mod:`eventstudy.data.sources.imports` (one parser, one set of
line-numbered
errors, for ``--prices``/``--shares`` and for ``eventstudy cache import``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from eventstudy.data.sources.base import PriceSource
from eventstudy.data.sources.imports import read_long_prices, read_shares_file
from eventstudy.errors import DataError


def read_prices_csv(path: str | Path) -> pd.DataFrame:
    """Read a long price CSV (``ticker,date,close,adj_close,volume``; ``volume`` may be blank).

    A file with only ``close`` or only ``adj_close`` is accepted: the missing column is left NaN and
    a study that asks for it fails with a clear error. Errors name the file and the line."""
    return read_long_prices(path)


def read_shares_csv(path: str | Path) -> pd.DataFrame:
    """Read shares outstanding (``ticker,shares_outstanding,as_of[,source]``); a missing source is
    ``file:<name>``."""
    return read_shares_file(path)


class CSVSource(PriceSource):
    """Prices (and optionally shares) from local CSV files; never touches the network."""

    uses_network = False

    def __init__(self, prices: str | Path, shares: str | Path | None = None) -> None:
        self.path = Path(prices)
        self.shares_path = Path(shares) if shares is not None else None
        self.name = f"csv:{self.path.name}"
        self._prices: pd.DataFrame | None = None

    def all_prices(self) -> pd.DataFrame:
        """Every row of the file (read once)."""
        return self._all_prices()

    def _all_prices(self) -> pd.DataFrame:
        if self._prices is None:
            self._prices = read_prices_csv(self.path)
        return self._prices

    def fetch_prices(
        self, tickers: Sequence[str], start: pd.Timestamp, end: pd.Timestamp
    ) -> pd.DataFrame:
        prices = self._all_prices()
        known = set(prices["ticker"].unique().tolist())
        unknown = [t for t in tickers if t not in known]
        if unknown:
            raise DataError(f"{self.path}: no prices for ticker(s) {', '.join(unknown)}")
        mask = prices["ticker"].isin(list(tickers)) & prices["date"].between(start, end)
        return prices.loc[mask].reset_index(drop=True)

    def fetch_shares(
        self, tickers: Sequence[str], start: pd.Timestamp, end: pd.Timestamp
    ) -> pd.DataFrame:
        if self.shares_path is None:
            return super().fetch_shares(tickers, start, end)
        shares = read_shares_csv(self.shares_path)
        return shares[shares["ticker"].isin(list(tickers))].reset_index(drop=True)
