"""Returns panel: one trading calendar (the benchmark's sessions) x tickers.

Conventions (see docs/conventions.md):

* The trading calendar is the set of sessions on which the market (benchmark) ticker has a price.
  A ticker's price on a date outside that calendar is ignored; a session with no price for a ticker
  leaves that ticker's return missing on that session *and* the next one (no multi-day returns).
* Day 0 of an event dated on a session is that session. An event date that is not a session moves
  to the next session (with a warning). ``timing: after_close`` (news after the close) makes day 0
  the first session strictly after the date.
* Returns are simple, ``P_t / P_{t-1} - 1``, or log, ``ln(P_t / P_{t-1})``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from eventstudy.data.calendar import check_sessions, closed_reason, exchange_of
from eventstudy.errors import DataError, EventDateWarning


def wide_prices(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Long prices (``ticker,date,...``) to dates x tickers for ``column``, both sorted; one
    scatter into a NaN array (a pandas pivot is several times slower on millions of rows)."""
    if column not in frame.columns:
        raise DataError(f"price data has no {column!r} column")
    t_code, tickers = pd.factorize(frame["ticker"], sort=True)
    d_code, dates = pd.factorize(frame["date"], sort=True)
    keep = (t_code >= 0) & (d_code >= 0)
    t_code, d_code = t_code[keep], d_code[keep]
    cell = d_code.astype(np.int64) * len(tickers) + t_code
    counts = np.bincount(cell, minlength=len(dates) * len(tickers))
    if len(counts) and counts.max() > 1:
        at = int(np.argmax(counts > 1))
        raise DataError(
            f"duplicate prices for {tickers[at % len(tickers)]} on "
            f"{pd.Timestamp(dates[at // len(tickers)]):%Y-%m-%d}"
        )
    values = np.full((len(dates), len(tickers)), np.nan)
    values[d_code, t_code] = frame[column].to_numpy(dtype=float)[keep]
    return pd.DataFrame(
        values, index=pd.DatetimeIndex(dates, name="date"), columns=[str(t) for t in tickers]
    )


def compute_returns(prices: pd.DataFrame, kind: str = "simple") -> pd.DataFrame:
    """Returns from a dates x tickers price frame; the first row and any row after a gap are NaN."""
    values = prices.to_numpy(dtype=float)
    bad = np.isfinite(values) & (values <= 0)
    if bad.any():
        row, col = (int(a[0]) for a in np.nonzero(bad))
        raise DataError(
            f"non-positive price {values[row, col]} for {prices.columns[col]} on "
            f"{prices.index[row]:%Y-%m-%d}"
        )
    out = np.full_like(values, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = values[1:] / values[:-1]
        out[1:] = np.log(ratio) if kind == "log" else ratio - 1.0
    return pd.DataFrame(out, index=prices.index, columns=prices.columns)


@dataclass(frozen=True)
class SessionBlock:
    """Rows ``start .. stop - 1`` of a panel that hold another exchange's sessions: the firms
    listed there (``tickers``) take their returns, day 0 and windows from these rows, and the
    regressors are aligned to them (:mod:`eventstudy.data.sessions`, docs/global.md)."""

    exchange: str
    start: int
    stop: int
    tickers: tuple[str, ...]


@dataclass(frozen=True)
class ReturnsPanel:
    """Daily returns on one trading calendar: ``values[t, j]`` is ticker ``tickers[j]`` on
    session ``dates[t]``; NaN where missing."""

    dates: pd.DatetimeIndex
    tickers: tuple[str, ...]
    values: np.ndarray
    #: The exchange whose sessions the calendar follows (checked against it), if known.
    exchange: str | None = None
    #: Other exchanges' sessions stacked below the market's (empty for a one-exchange study).
    blocks: tuple[SessionBlock, ...] = ()

    def market_block(self) -> ReturnsPanel:
        """The rows of the market's own sessions (the whole panel unless ``blocks``)."""
        if not self.blocks:
            return self
        stop = int(np.argmax(self.dates.isna()))  # the NaT rows that part the blocks
        return ReturnsPanel(self.dates[:stop], self.tickers, self.values[:stop], self.exchange)

    @classmethod
    def from_frame(cls, returns: pd.DataFrame) -> ReturnsPanel:
        """From a dates x tickers frame of returns; its index is the calendar."""
        if not isinstance(returns.index, pd.DatetimeIndex):
            try:
                index = pd.DatetimeIndex(pd.to_datetime(returns.index))
            except (TypeError, ValueError) as exc:
                raise DataError(f"returns index is not made of dates ({exc})") from None
        else:
            index = returns.index
        if index.tz is not None:
            index = index.tz_localize(None)
        index = index.normalize()
        if index.has_duplicates:
            raise DataError(f"duplicate date {index[index.duplicated()][0]:%Y-%m-%d} in returns")
        frame = returns.set_axis(index, axis=0).sort_index()
        return cls(
            dates=pd.DatetimeIndex(frame.index, name="date"),
            tickers=tuple(str(c) for c in frame.columns),
            values=np.ascontiguousarray(frame.to_numpy(dtype=float)),
        )

    @classmethod
    def from_prices(cls, prices: pd.DataFrame, market: str, kind: str = "simple") -> ReturnsPanel:
        """From a dates x tickers price frame, on the calendar of ``market``'s sessions; where
        the market's exchange is known (:func:`~eventstudy.data.calendar.exchange_of`), every
        session it held must have a price (:func:`~eventstudy.data.calendar.check_sessions`)."""
        if market not in prices.columns:
            raise DataError(f"no prices for the market ticker {market}")
        calendar = prices.index[prices[market].notna()]
        exchange = exchange_of(market)
        if exchange is not None:
            check_sessions(pd.DatetimeIndex(calendar).normalize(), exchange, market)
        # The first session has no return: dropping it keeps missing market days out of the panel.
        panel = cls.from_frame(compute_returns(prices.loc[calendar], kind).iloc[1:])
        return dataclasses.replace(panel, exchange=exchange)

    def column(self, ticker: str) -> int:
        try:
            return self.tickers.index(ticker)
        except ValueError:
            raise DataError(f"no returns for ticker {ticker}") from None

    def columns(self, tickers: Sequence[str]) -> np.ndarray:
        """The column of each ticker (a million firm-events: one hash-table lookup in C)."""
        index = pd.Index(self.tickers)
        if index.is_unique:
            cols = index.get_indexer(list(tickers))
        else:  # a repeated ticker: its last column, as before
            last = {t: j for j, t in enumerate(self.tickers)}
            cols = np.array([last.get(t, -1) for t in tickers], dtype=np.intp)
        if (cols < 0).any():
            missing = [t for t, c in zip(tickers, cols, strict=True) if c < 0]
            missing = list(dict.fromkeys(missing))
            raise DataError(f"no returns for ticker(s) {', '.join(missing[:10])}")
        return cols.astype(np.intp)

    def series(self, ticker: str) -> np.ndarray:
        return self.values[:, self.column(ticker)]

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.values, index=self.dates, columns=list(self.tickers))

    def day0_many(
        self, dates: Sequence[dt.date], after_close: np.ndarray, names: Sequence[str]
    ) -> np.ndarray:
        """Rows of day 0 for many events at once (the rule of :meth:`day0`); one warning lists
        the events whose date was not a session."""
        ts = pd.DatetimeIndex(pd.to_datetime(list(dates))).normalize()
        rows = np.where(
            after_close,
            self.dates.searchsorted(ts, side="right"),
            self.dates.searchsorted(ts, side="left"),
        )
        late = np.flatnonzero(rows >= len(self.dates))
        if len(late):
            self.day0(
                ts[late[0]], "after_close" if after_close[late[0]] else "close", names[late[0]]
            )
        early = np.flatnonzero(ts < self.dates[0])
        if len(early):
            self.day0(ts[early[0]], "close", names[early[0]])
        moved = np.flatnonzero(~after_close & (self.dates[rows] != ts))
        if len(moved) == 1:
            self.day0(ts[moved[0]], "close", names[moved[0]])
        elif len(moved) > 1:
            shown = ", ".join(
                f"{names[i]!r} {ts[i]:%Y-%m-%d}{self._closed(ts[i])} -> "
                f"{self.dates[rows[i]]:%Y-%m-%d}"
                for i in moved[:5]
            )
            more = f" and {len(moved) - 5} more" if len(moved) > 5 else ""
            warnings.warn(
                f"{len(moved)} event dates are not trading sessions; day 0 is the next session: "
                f"{shown}{more}",
                EventDateWarning,
                stacklevel=2,
            )
        return rows.astype(np.intp)

    def _closed(self, date: pd.Timestamp) -> str:
        """`` (Dr. Martin Luther King Jr. Day)``: why the exchange was closed, where known."""
        reason = closed_reason(self.exchange, date)
        return f" ({reason})" if reason else ""

    def day0(self, date: dt.date | pd.Timestamp, timing: str = "close", event: str = "") -> int:
        """Row of day 0 for an event on ``date`` (see the module docstring for the rule)."""
        ts = pd.Timestamp(date).normalize()
        side = "right" if timing == "after_close" else "left"
        row = int(self.dates.searchsorted(ts, side=side))
        label = f"event {event!r} " if event else "event "
        if row >= len(self.dates):
            raise DataError(
                f"{label}date {ts:%Y-%m-%d} is after the last session in the data "
                f"({self.dates[-1]:%Y-%m-%d})"
            )
        if ts < self.dates[0]:
            raise DataError(
                f"{label}date {ts:%Y-%m-%d} is before the first session in the data "
                f"({self.dates[0]:%Y-%m-%d})"
            )
        if timing != "after_close" and self.dates[row] != ts:
            warnings.warn(
                f"{label}date {ts:%Y-%m-%d}{self._closed(ts)} is not a trading session; day 0 "
                "is the next "
                f"session, {self.dates[row]:%Y-%m-%d}",
                EventDateWarning,
                stacklevel=2,
            )
        return row
