"""The price-source interface and the long frame layout every source returns."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import pandas as pd

#: Long price frame: one row per ticker and session. ``date`` is a naive ``datetime64`` (the
#: exchange's local trading date), ``close`` is split-adjusted only, ``adj_close`` is split- and
#: dividend-adjusted, ``volume`` may be NaN (indices).
PRICE_COLUMNS = ["ticker", "date", "close", "adj_close", "volume"]

#: Shares outstanding: one row per ticker and as-of date.
SHARES_COLUMNS = ["ticker", "as_of", "shares_outstanding", "source"]


def empty_prices() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ticker": pd.Series(dtype=object),
            "date": pd.Series(dtype="datetime64[ns]"),
            "close": pd.Series(dtype=float),
            "adj_close": pd.Series(dtype=float),
            "volume": pd.Series(dtype=float),
        }
    )


def empty_shares() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ticker": pd.Series(dtype=object),
            "as_of": pd.Series(dtype="datetime64[ns]"),
            "shares_outstanding": pd.Series(dtype=float),
            "source": pd.Series(dtype=object),
        }
    )


class PriceSource(ABC):
    """Somewhere daily prices (and, optionally, shares outstanding) can be fetched from."""

    #: Short name recorded in the store and in outputs (``yahoo``, ``csv:prices.csv``).
    name: str = "source"
    #: Whether fetching may touch the network (``--offline`` refuses such sources).
    uses_network: bool = False

    @abstractmethod
    def fetch_prices(
        self, tickers: Sequence[str], start: pd.Timestamp, end: pd.Timestamp
    ) -> pd.DataFrame:
        """Daily prices for ``tickers`` between ``start`` and ``end`` (both inclusive) as a long
        frame with :data:`PRICE_COLUMNS`. Raises :class:`~eventstudy.errors.DataError` naming the
        tickers it could not deliver."""

    def fetch_shares(
        self, tickers: Sequence[str], start: pd.Timestamp, end: pd.Timestamp
    ) -> pd.DataFrame:
        """Shares-outstanding history (:data:`SHARES_COLUMNS`); sources without one return an
        empty frame."""
        return empty_shares()
