"""Currencies: each listing's quote currency and the FX rates into the study's reporting currency.

Conventions (docs/global.md):

* a listing's currency is its Yahoo suffix's (``8035.T``: JPY; ``.L``: ``GBp``, pence), or its
  named exchange's, else USD (:mod:`eventstudy.data.exchanges`);
* FX rates are Yahoo FX series ``{BASE}{REPORTING}=X``: the price of one unit of ``BASE`` in the
  reporting currency (``JPYUSD=X`` ~ 0.0065 USD per yen; ``EURUSD=X`` ~ 1.08 USD per euro). Yahoo
  also lists the inverse quote, ``USDJPY=X`` (= ``JPY=X``, ~ 150 yen per dollar), which is not
  used: with ``BASE``-first pairs every conversion is a multiplication. A sub-unit's rate is the
  currency's over 100 (``GBp``: ``GBPUSD=X`` / 100);
* the rate of a firm-event is the FX close on the firm's day -1 session date, or the latest before
  it (no look-ahead); one rate converts the row's market value, raw and abnormal changes, so the
  reporting-currency change is the price move valued at the pre-event rate, not an FX move.
  Yahoo's daily FX bars are dated by the London day; a listing closing hours earlier (Tokyo) is
  converted at a rate quoted later that day: the few hours are not corrected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from eventstudy.data.exchanges import SUBUNITS, listing_currency
from eventstudy.errors import DataError

#: Columns valuation.csv gains, at its end, when a study values in a reporting currency.
FX_COLUMNS = [
    "currency",
    "fx_rate",
    "fx_date",
    "fx_source",
    "reporting_currency",
    "market_value_reporting",
    "raw_dollar_change_reporting",
    "abnormal_dollar_change_reporting",
]


def base_currency(currency: str) -> tuple[str, float]:
    """The ISO currency of a quote currency and how many quote units make one (``GBp``:
    ``("GBP", 100.0)``; ``JPY``: ``("JPY", 1.0)``)."""
    return SUBUNITS.get(currency, (currency, 1.0))


def fx_ticker(currency: str, reporting: str) -> str | None:
    """The Yahoo FX series converting ``currency`` into ``reporting`` (None: the same currency)."""
    base, _ = base_currency(currency)
    return None if base == reporting else f"{base}{reporting}=X"


@dataclass
class FxRates:
    """What converts each firm's values into ``reporting``: the listing currency of each ticker
    and, per FX series, its closes (dated) and where they came from."""

    reporting: str
    currencies: dict[str, str]
    rates: dict[str, pd.Series] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def tickers(self) -> list[str]:
        """The FX series needed (e.g. ``JPYUSD=X``)."""
        needed = (fx_ticker(c, self.reporting) for c in self.currencies.values())
        return list(dict.fromkeys(t for t in needed if t is not None))

    def needed(self) -> bool:
        """Whether any value needs converting (a US-only study in USD does not)."""
        return bool(self.tickers) or self.reporting != "USD"

    def rate(self, ticker: str, date: object) -> tuple[float, str, str]:
        """(rate, date of the quote, source) converting one unit of ``ticker``'s currency on
        ``date``; NaN, "" and why when no quote is on or before it."""
        currency = self.currencies.get(ticker, "USD")
        base, per = base_currency(currency)
        series_name = fx_ticker(currency, self.reporting)
        day = pd.Timestamp(date)
        if series_name is None:
            source = "same currency" if per == 1 else f"{currency} = 1/{per:g} {base}"
            return 1.0 / per, f"{day:%Y-%m-%d}" if pd.notna(day) else "", source
        series = self.rates.get(series_name)
        if series is None or not len(series) or pd.isna(day):
            return np.nan, "", f"no {series_name} rates"
        at = int(series.index.searchsorted(day, side="right")) - 1
        if at < 0:
            return np.nan, "", f"no {series_name} rate on or before {day:%Y-%m-%d}"
        return (
            float(series.iloc[at]) / per,
            f"{series.index[at]:%Y-%m-%d}",
            self.sources.get(series_name, series_name),
        )


def study_currencies(
    tickers: Iterable[str], exchanges: Mapping[str, str], reporting: str
) -> FxRates:
    """The listing currency of each firm (``exchanges``: the exchange of each ticker)."""
    return FxRates(
        reporting=reporting,
        currencies={t: listing_currency(t, exchanges.get(t)) for t in dict.fromkeys(tickers)},
    )


def load_rates(
    fx: FxRates, prices: Callable[[list[str]], pd.DataFrame], source: str = "yahoo"
) -> FxRates:
    """``fx`` with the closes of its FX series from ``prices`` (tickers -> long prices, e.g.
    the local store filled from Yahoo); a series without closes is a :class:`DataError`."""
    wanted = fx.tickers
    if not wanted:
        return fx
    frame = prices(wanted)
    for name in wanted:
        rows = frame[frame["ticker"] == name]
        column = "close" if "close" in rows and rows["close"].notna().any() else "adj_close"
        if rows.empty or column not in rows or not rows[column].notna().any():
            raise DataError(
                f"no FX rates {name} to value the study in {fx.reporting}: fetch them "
                f"(eventstudy fetch {name}) or import a price file holding them"
            )
        series = pd.Series(
            rows[column].to_numpy(dtype=float),
            index=pd.DatetimeIndex(pd.to_datetime(rows["date"])).normalize(),
        ).dropna().sort_index()
        fx.rates[name] = series
        fx.sources[name] = f"{source}:{name}"
    return fx


def reporting_columns(
    frame: pd.DataFrame, tickers: np.ndarray, dates: np.ndarray, fx: FxRates
) -> pd.DataFrame:
    """The :data:`FX_COLUMNS` of valuation rows (``frame``'s ``market_value``,
    ``raw_dollar_change``, ``abnormal_dollar_change``), each converted at the rate of its
    ``tickers``' currency on ``dates`` (the firm's day -1 session)."""
    looked = [fx.rate(str(t), d) for t, d in zip(tickers, dates, strict=True)]
    rate = np.array([r for r, _, _ in looked], dtype=float)
    out = pd.DataFrame(
        {
            "currency": [fx.currencies.get(str(t), "USD") for t in tickers],
            "fx_rate": rate,
            "fx_date": [d for _, d, _ in looked],
            "fx_source": [s for _, _, s in looked],
            "reporting_currency": fx.reporting,
        },
        index=frame.index,
    )
    for column in ("market_value", "raw_dollar_change", "abnormal_dollar_change"):
        out[f"{column}_reporting"] = frame[column].to_numpy(dtype=float) * rate
    return out[FX_COLUMNS]


def reporting_view(frame: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Valuation rows as tables and charts show them: in the reporting currency (its
    ``*_reporting`` columns in place of the listing-currency ones, when the study has them), and
    that currency's code (USD for a study without FX columns)."""
    if "market_value_reporting" not in frame.columns:
        return frame, "USD"
    known = frame["reporting_currency"].dropna()
    currency = str(known.iloc[0]) if len(known) else "USD"
    view = frame.copy()
    for column in ("market_value", "raw_dollar_change", "abnormal_dollar_change"):
        view[column] = frame[f"{column}_reporting"]
    return view, currency
