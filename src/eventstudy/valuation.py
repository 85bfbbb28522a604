"""Dollar effects: market value before the event, and the raw and abnormal change in it.

Conventions (docs/conventions.md):

* shares outstanding are the latest count with ``as_of`` on or before the event date (no
  look-ahead); prices are the *unadjusted* ``close`` (what a market capitalisation is quoted on);
* ``market_value`` = close on day -1 x shares;
* ``raw_dollar_change`` over window [a, b] = shares x (close on day b - close on day a-1), the
  change in market value the press reports
  (NVDA 2025-01-27: 24,477M x (118.42 - 142.62) = -$592.3B);
* ``abnormal_dollar_change`` = sum over t in [a, b] of AR_t x market value on day t-1
  (the abnormal return applied to the value at stake that day).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from eventstudy.results import EventStudyResults

VALUATION_COLUMNS = [
    "event",
    "ticker",
    "start",
    "end",
    "market_value",
    "raw_dollar_change",
    "abnormal_dollar_change",
    "car",
    "shares_outstanding",
    "shares_as_of",
    "shares_source",
    "price_day_minus1",
    "note",
]


def latest_shares(
    shares: pd.DataFrame | None, ticker: str, date: pd.Timestamp
) -> tuple[pd.Series | None, str]:
    """The latest shares row for ``ticker`` with ``as_of <= date`` (no look-ahead), or None and
    the reason there is none."""
    rows = shares[shares["ticker"] == ticker] if shares is not None else None
    if rows is None or rows.empty:
        return None, f"no shares outstanding for {ticker}"
    before = rows[rows["as_of"] <= date]
    if before.empty:
        first = rows["as_of"].min()
        return None, (
            f"no shares outstanding for {ticker} on or before {date:%Y-%m-%d} "
            f"(earliest count is as of {first:%Y-%m-%d})"
        )
    return before.sort_values("as_of").iloc[-1], ""


def value_effects(results: EventStudyResults) -> pd.DataFrame:
    """One row per event, ticker and CAR window (see the module docstring)."""
    close = None
    if results.close is not None:
        close = results.close.reindex(results.panel.dates)
    rows = []
    for b in results.batches:
        f = b.fit
        w0 = f.event_window[0]
        for i, (e_idx, ticker) in enumerate(zip(b.event, b.ticker, strict=True)):
            event = results.events[e_idx]
            d = int(f.day0[i])
            share, share_note = latest_shares(results.shares, ticker, pd.Timestamp(event.date))
            for start, end in event.car_windows:
                row: dict = {"event": event.name, "ticker": ticker, "start": start, "end": end}
                notes = []
                price = np.full(end - start + 2, np.nan)  # close on days start-1 .. end
                if close is None:
                    notes.append("no unadjusted close prices")
                elif ticker not in close.columns:
                    notes.append(f"no close prices for {ticker}")
                else:
                    lo, hi = d + start - 1, d + end
                    series = close[ticker].to_numpy(dtype=float)
                    valid = np.arange(lo, hi + 1)
                    inside = (valid >= 0) & (valid < len(series))
                    price[inside] = series[valid[inside]]
                if share is None:
                    notes.append(share_note)
                    n_shares = np.nan
                else:
                    n_shares = float(share["shares_outstanding"])
                    row["shares_as_of"] = pd.Timestamp(share["as_of"]).date().isoformat()
                    row["shares_source"] = share["source"]
                mv = n_shares * price  # market value on days start-1 .. end
                ar = (
                    f.ar[i, start - w0 : end - w0 + 1]
                    if f.fitted[i]
                    else np.full(len(mv) - 1, np.nan)
                )
                pre = d - 1
                row["price_day_minus1"] = (
                    float(close[ticker].iloc[pre])
                    if close is not None and ticker in close and 0 <= pre < len(close)
                    else np.nan
                )
                row["shares_outstanding"] = n_shares
                row["market_value"] = n_shares * row["price_day_minus1"]
                row["raw_dollar_change"] = mv[-1] - mv[0]
                row["abnormal_dollar_change"] = float(np.sum(ar * mv[:-1]))
                row["car"] = float(np.sum(ar))
                if not f.fitted[i]:
                    notes.append(f"not fitted: {f.skip_reason[i]}")
                elif np.isnan(row["abnormal_dollar_change"]) and not notes:
                    notes.append("missing price or abnormal return in the window")
                if np.isnan(row["raw_dollar_change"]) and not notes:
                    notes.append("missing close price in the window")
                row["note"] = "; ".join(notes)
                rows.append(row)
    frame = pd.DataFrame(rows, columns=VALUATION_COLUMNS)
    return results._order(frame, ["start", "end"])
