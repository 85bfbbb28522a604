"""Price sources: where daily prices, shares outstanding and factors come from.

Every source returns the same long frames (see :mod:`eventstudy.data.sources.base`), so the store
and the
pipeline never care whether data came from Yahoo, a CSV export or the local cache.
"""

from eventstudy.data.sources.base import PRICE_COLUMNS, SHARES_COLUMNS, PriceSource
from eventstudy.data.sources.csv import CSVSource, read_prices_csv, read_shares_csv

__all__ = [
    "PRICE_COLUMNS",
    "SHARES_COLUMNS",
    "CSVSource",
    "PriceSource",
    "read_prices_csv",
    "read_shares_csv",
]
