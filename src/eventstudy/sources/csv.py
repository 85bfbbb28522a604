"""CSV files in the long layout of ``../shared/data/prices.csv`` and ``shares.csv``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from eventstudy.errors import DataError
from eventstudy.sources.base import PRICE_COLUMNS, SHARES_COLUMNS, PriceSource


def _read_csv(path: Path, required: list[str]) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        frame = pd.read_csv(path, dtype={"ticker": str})
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{path}: not a readable CSV file ({str(exc).splitlines()[0]})") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(missing)}; expected {','.join(required)}"
        )
    return frame


def _parse_dates(frame: pd.DataFrame, column: str, path: Path) -> pd.Series:
    parsed = pd.to_datetime(frame[column], errors="coerce", format="mixed")
    bad = parsed.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"{path}, line {row + 2}: bad {column} {frame[column].iloc[row]!r} "
            "(expected YYYY-MM-DD)"
        )
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    return parsed.dt.normalize().astype("datetime64[ns]")


def _numeric(frame: pd.DataFrame, column: str, path: Path, allow_blank: bool) -> pd.Series:
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values.isna() & (frame[column].notna() if allow_blank else True)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"{path}, line {row + 2}: bad {column} {frame[column].iloc[row]!r}")
    return values.astype(float)


def read_prices_csv(path: str | Path) -> pd.DataFrame:
    """Read a long price CSV (``ticker,date,close,adj_close,volume``; ``volume`` may be blank).

    A file with only ``close`` or only ``adj_close`` is accepted: the missing column is left NaN and
    a study that asks for it fails with a clear error."""
    path = Path(path)
    frame = _read_csv(path, ["ticker", "date"])
    if "close" not in frame.columns and "adj_close" not in frame.columns:
        raise DataError(f"{path}: needs a close or adj_close column")
    out = pd.DataFrame({"ticker": frame["ticker"].astype(str).str.strip()})
    out["date"] = _parse_dates(frame, "date", path)
    for column in ("close", "adj_close"):
        if column in frame.columns:
            out[column] = _numeric(frame, column, path, allow_blank=True)
        else:
            out[column] = np.nan
    if "volume" in frame.columns:
        out["volume"] = _numeric(frame, "volume", path, allow_blank=True)
    else:
        out["volume"] = np.nan
    dup = out.duplicated(["ticker", "date"])
    if dup.any():
        row = int(np.flatnonzero(dup.to_numpy())[0])
        raise DataError(
            f"{path}, line {row + 2}: duplicate row for {out['ticker'].iloc[row]} "
            f"on {out['date'].iloc[row]:%Y-%m-%d}"
        )
    return out[PRICE_COLUMNS].sort_values(["ticker", "date"], ignore_index=True)


def read_shares_csv(path: str | Path) -> pd.DataFrame:
    """Read shares outstanding (``ticker,shares_outstanding,as_of[,source]``)."""
    path = Path(path)
    frame = _read_csv(path, ["ticker", "shares_outstanding", "as_of"])
    out = pd.DataFrame({"ticker": frame["ticker"].astype(str).str.strip()})
    out["as_of"] = _parse_dates(frame, "as_of", path)
    out["shares_outstanding"] = _numeric(frame, "shares_outstanding", path, allow_blank=False)
    if (out["shares_outstanding"] <= 0).any():
        row = int(np.flatnonzero((out["shares_outstanding"] <= 0).to_numpy())[0])
        raise DataError(f"{path}, line {row + 2}: shares_outstanding must be positive")
    if "source" in frame.columns:
        out["source"] = frame["source"].fillna(f"file:{path.name}").astype(str)
    else:
        out["source"] = f"file:{path.name}"
    return out[SHARES_COLUMNS].sort_values(["ticker", "as_of"], ignore_index=True)


class CSVSource(PriceSource):
    """Prices (and optionally shares) from local CSV files; never touches the network."""

    uses_network = False

    def __init__(self, prices: str | Path, shares: str | Path | None = None) -> None:
        self.path = Path(prices)
        self.shares_path = Path(shares) if shares is not None else None
        self.name = f"csv:{self.path.name}"
        self._prices: pd.DataFrame | None = None

    def _all_prices(self) -> pd.DataFrame:
        if self._prices is None:
            self._prices = read_prices_csv(self.path)
        return self._prices

    def fetch_prices(
        self, tickers: Sequence[str], start: pd.Timestamp, end: pd.Timestamp
    ) -> pd.DataFrame:
        prices = self._all_prices()
        known = set(prices["ticker"])
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
