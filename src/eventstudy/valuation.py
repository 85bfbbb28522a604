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

from eventstudy.estimation.kernel import gather
from eventstudy.frames import text_column

if TYPE_CHECKING:
    from eventstudy.currency import FxRates
    from eventstudy.estimation.fit import Batch, StudyFit

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


def _shares_at(
    shares: pd.DataFrame | None, tickers: np.ndarray, dates: np.ndarray
) -> tuple[pd.DataFrame, np.ndarray]:
    """The latest share count on or before each date (no look-ahead), and a note where none."""
    left = pd.DataFrame({"ticker": tickers, "date": dates, "_i": np.arange(len(tickers))})
    if shares is None or shares.empty:
        found = left.assign(shares_outstanding=np.nan, as_of=pd.NaT, source=None)
        notes = np.array([f"no shares outstanding for {t}" for t in tickers], dtype=object)
        return found, notes
    right = shares.sort_values("as_of")
    found = pd.merge_asof(
        left.sort_values("date"),
        right[["ticker", "as_of", "shares_outstanding", "source"]],
        left_on="date",
        right_on="as_of",
        by="ticker",
        direction="backward",
    ).sort_values("_i")
    first = shares.groupby("ticker")["as_of"].min()
    first_days = np.datetime_as_string(first.to_numpy(), unit="D")
    earliest = dict(zip(first.index, first_days, strict=True))
    notes = np.full(len(tickers), "", dtype=object)
    missing = np.flatnonzero(found["shares_outstanding"].isna().to_numpy())
    days = np.datetime_as_string(dates[missing].astype("datetime64[D]"), unit="D")
    for i, day in zip(missing, days, strict=True):  # formatted at once: 100k notes in ms
        t = tickers[i]
        if t in earliest:
            notes[i] = (
                f"no shares outstanding for {t} on or before {day} "
                f"(earliest count is as of {earliest[t]})"
            )
        else:
            notes[i] = f"no shares outstanding for {t}"
    return found.reset_index(drop=True), notes


def _batch_effects(
    fit: StudyFit,
    b: Batch,
    padded: np.ndarray | None,
    close_tickers: pd.Index | None,
    shares: pd.DataFrame | None,
    event_dates: np.ndarray,
    dates_of_rows: pd.DatetimeIndex | None = None,
) -> list[dict]:
    """``padded``: the close matrix with one more column of NaN (column -1: no prices)."""
    f = b.fit
    tickers = np.asarray(b.ticker, dtype=object)
    ticker_text = text_column(tickers)  # converted once, taken for each window
    dates = event_dates[b.event]
    found, share_notes = _shares_at(shares, tickers, dates)
    n_shares = found["shares_outstanding"].to_numpy(dtype=float)
    as_of = found["as_of"].dt.strftime("%Y-%m-%d").to_numpy(dtype=object)
    cols = None
    if padded is not None and close_tickers is not None:
        index = {t: j for j, t in enumerate(close_tickers)}
        cols = np.array([index.get(t, -1) for t in tickers])
    w0 = f.event_window[0]
    parts = []
    session = None if dates_of_rows is None else np.asarray(dates_of_rows, dtype="datetime64[ns]")
    windows = fit.windows_of("car_windows", b)
    for (start, end), wanted in windows.items():
        idx = np.flatnonzero(wanted)
        rows = f.day0[idx, None] + np.arange(start - 1, end + 1)  # days start-1 .. end
        if cols is None or padded is None:
            price = np.full(rows.shape, np.nan)
            prior = np.full(len(idx), np.nan)
        else:
            price = gather(padded, rows, cols[idx])
            prior = gather(padded, f.day0[idx, None] - 1, cols[idx])[:, 0]
        mv = n_shares[idx, None] * price
        ar = f.ar[idx, start - w0 : end - w0 + 1]
        notes = share_notes[idx].copy()
        if padded is None:
            notes[:] = "no unadjusted close prices"
        elif cols is not None:
            for i in np.flatnonzero(cols[idx] < 0):
                notes[i] = f"no close prices for {tickers[idx][i]}"
        unfitted = ~f.fitted[idx]
        for i in np.flatnonzero(unfitted):
            reason = f"not fitted: {f.skip_reason[idx[i]]}"
            notes[i] = f"{notes[i]}; {reason}" if notes[i] else reason
        raw = mv[:, -1] - mv[:, 0]
        abnormal = np.sum(ar * mv[:, :-1], axis=1)
        gap = (notes == "") & (np.isnan(raw) | np.isnan(abnormal))
        notes[gap] = "missing price or abnormal return in the window"
        parts.append(
            pd.DataFrame(
                {
                    "event": text_column(fit.event_names, b.event[idx]),
                    "ticker": ticker_text.take(idx),
                    "start": start,
                    "end": end,
                    "market_value": n_shares[idx] * prior,
                    "raw_dollar_change": raw,
                    "abnormal_dollar_change": abnormal,
                    "car": np.where(unfitted, np.nan, np.sum(ar, axis=1)),
                    "shares_outstanding": n_shares[idx],
                    "shares_as_of": as_of[idx],
                    "shares_source": found["source"].to_numpy(dtype=object)[idx],
                    "price_day_minus1": prior,
                    "note": notes,
                    "_k": b.order[idx],
                    "_d": (
                        session[np.clip(f.day0[idx] - 1, 0, len(session) - 1)]
                        if session is not None
                        else np.full(len(idx), np.datetime64("NaT"), dtype="datetime64[ns]")
                    ),
                }
            )
        )
    return parts


def value_effects(
    fit: StudyFit,
    dates: pd.DatetimeIndex,
    close: pd.DataFrame | None = None,
    shares: pd.DataFrame | None = None,
    fx: FxRates | None = None,
) -> pd.DataFrame:
    """One row per event, ticker and CAR window (see the module docstring).

    ``fit``: the study's fitted firm-events; ``dates``: the calendar of the returns panel the fit
    ran on; ``close``: unadjusted closes, dates x tickers; ``shares``: share counts, long
    (``ticker, as_of, shares_outstanding, source``); ``fx``: the rates into a reporting currency,
    which append :data:`~eventstudy.currency.FX_COLUMNS` (docs/global.md)."""
    padded = None
    if close is not None:  # built once: a copy of the whole close matrix
        values = close.reindex(dates).to_numpy(dtype=float)
        padded = np.column_stack([values, np.full(len(values), np.nan)])
    tickers = None if close is None else close.columns
    event_dates = np.array([np.datetime64(e.date, "ns") for e in fit.events])
    parts = [
        p
        for b in fit.batches
        for p in _batch_effects(fit, b, padded, tickers, shares, event_dates, dates)
    ]
    columns = list(VALUATION_COLUMNS)
    if fx is not None:
        from eventstudy.currency import FX_COLUMNS, reporting_columns

        columns += FX_COLUMNS
    if not parts:
        return pd.DataFrame(columns=columns)
    frame = pd.concat(parts, ignore_index=True)
    frame = frame.sort_values(["_k", "start", "end"], kind="stable").reset_index(drop=True)
    if fx is not None:
        extra = reporting_columns(frame, frame["ticker"].to_numpy(), frame["_d"].to_numpy(), fx)
        frame = pd.concat([frame, extra], axis=1)
    return frame[columns]
