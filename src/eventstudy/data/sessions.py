"""Firms on other exchanges: each on its own exchange's sessions, in one returns panel.

A study's panel is the market's sessions (``panel.py``). A firm listed on another exchange (a
Tokyo listing in a study benchmarked on ^GSPC) is fitted on *its own* exchange's sessions
instead: the panel gets one block of rows per such exchange, stacked below the market's rows and
parted from them by rows of NaT dates and NaN returns (as many as the longest window reaches, so
no window runs from one block into another). In its block, a firm's row ``t`` is its exchange's
session ``t`` (from ``exchange_calendars``), so its day 0, estimation and event windows count its
own sessions, and the kernel needs nothing new. US-only studies have no blocks and never reach
this module (docs/global.md).

**Regressors on a foreign firm's sessions.** The market (and factor tickers) are aligned to the
firm's sessions by *compounding over the firm's session intervals, by close time*: the regressor's
return on the firm's session ``s`` is ``P(c_s) / P(c_{s-1}) - 1``, where ``P(c)`` is the
regressor's price at its last close at or before the instant ``c`` (UTC) and ``c_s`` is the
firm's close on ``s``. So every regressor return is over the same stretch of time as the firm's
return. Closes are not synchronous: Tokyo closes at 15:00 JST (06:00 UTC), before New York opens
on the same date, so a Tokyo session of date ``d`` is matched with the New York close of ``d - 1``
(the last one before it), never with New York's ``d`` (which would be hours in Tokyo's future). A
session without a regressor close in its interval (a US holiday) gets a regressor return of 0:
the market did not trade. Where the market's exchange is not known, dates stand in for close
times (the market's close on the same date or before). Fama-French factors are matched by their
own date, as for any firm.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from eventstudy.data.calendar import _calendar
from eventstudy.data.panel import ReturnsPanel, SessionBlock, compute_returns
from eventstudy.errors import DataError, EventDateWarning


def _closes(exchange: str | None, dates: pd.DatetimeIndex) -> np.ndarray:
    """Each date's close as int64 UTC nanoseconds on ``exchange`` (None: the date's end, as a
    stand-in), NaT-free: a date the calendar has no close for takes the end of that date."""
    ends = (dates + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")).to_numpy(dtype="datetime64[ns]")
    if exchange is None:
        return ends.astype(np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        closes = _calendar(exchange).closes.dt.tz_convert(None)
    found = pd.DatetimeIndex(closes.reindex(dates)).to_numpy(dtype="datetime64[ns]")
    return np.where(np.isnat(found), ends, found).astype(np.int64)


def align_prices(
    prices: pd.Series, source: str | None, sessions: pd.DatetimeIndex, target: str
) -> np.ndarray:
    """``prices`` (dated on the ``source`` exchange) at the last close at or before each close of
    ``target`` on ``sessions``; NaN before the first price (see the module docstring)."""
    have = prices.dropna()
    if not len(have):
        return np.full(len(sessions), np.nan)
    dates = pd.DatetimeIndex(have.index)
    source_closes = _closes(source, dates)
    order = np.argsort(source_closes, kind="stable")
    source_closes, values = source_closes[order], have.to_numpy(dtype=float)[order]
    target_closes = _closes(target if source is not None else None, sessions)
    at = np.searchsorted(source_closes, target_closes, side="right") - 1
    return np.where(at >= 0, values[np.clip(at, 0, None)], np.nan)


def stack_panel(
    panel: ReturnsPanel,
    prices: pd.DataFrame,
    listings: Mapping[str, str],
    regressors: Sequence[str],
    kind: str,
    reach: int,
) -> ReturnsPanel:
    """``panel`` (the market's sessions) with one block per exchange of ``listings`` (ticker ->
    MIC) stacked below it. ``prices``: dates x tickers of the study's price column;
    ``regressors``: the market and factor tickers, aligned to each block; ``reach``: the most
    sessions any window reaches from day 0 (the NaN rows between blocks)."""
    if not listings:
        return panel
    first, last = prices.index.min(), prices.index.max()
    gap = reach + 1
    columns = {t: j for j, t in enumerate(panel.tickers)}
    values = [panel.values.copy()]
    # A foreign firm's column on the market's rows would be its returns on the wrong calendar.
    for t in listings:
        if t in columns:
            values[0][:, columns[t]] = np.nan
    dates = [panel.dates]
    blocks = []
    row = len(panel.dates)
    for exchange in sorted(set(listings.values())):
        firms = tuple(t for t, x in listings.items() if x == exchange and t in columns)
        sessions = _calendar(exchange).sessions_in_range(
            max(first, _calendar(exchange).first_session),
            min(last, _calendar(exchange).last_session),
        )
        sessions = pd.DatetimeIndex(sessions.tz_localize(None) if sessions.tz else sessions)
        if len(sessions) < 2:
            raise DataError(f"the data hold no sessions of {exchange} (for {', '.join(firms)})")
        block = np.full((len(sessions), len(panel.tickers)), np.nan)
        own = compute_returns(prices[list(firms)].reindex(sessions), kind).to_numpy()
        block[:, [columns[t] for t in firms]] = own
        for r in dict.fromkeys(regressors):
            aligned = align_prices(prices[r], panel.exchange, sessions, exchange)
            frame = pd.DataFrame({r: aligned}, index=sessions)
            block[:, columns[r]] = compute_returns(frame, kind).to_numpy()[:, 0]
        values += [np.full((gap, len(panel.tickers)), np.nan), block]
        dates += [pd.DatetimeIndex([pd.NaT] * gap), sessions]
        blocks.append(SessionBlock(exchange, row + gap, row + gap + len(sessions), firms))
        row += gap + len(sessions)
    return ReturnsPanel(
        dates=pd.DatetimeIndex(np.concatenate([d.to_numpy() for d in dates]), name="date"),
        tickers=panel.tickers,
        values=np.ascontiguousarray(np.vstack(values)),
        exchange=panel.exchange,
        blocks=tuple(blocks),
    )


def block_view(panel: ReturnsPanel, block: SessionBlock) -> ReturnsPanel:
    """The rows of one block, as a panel on that exchange's sessions."""
    rows = slice(block.start, block.stop)
    return ReturnsPanel(panel.dates[rows], panel.tickers, panel.values[rows], block.exchange)


def market_day0(
    panel: ReturnsPanel,
    dates: Sequence[dt.date],
    after_close: np.ndarray,
    names: Sequence[str],
    tickers: Sequence[Sequence[str]],
) -> np.ndarray:
    """Each event's day-0 row on the market's sessions (the event's own day 0: ``day0_dates``,
    ``aar.csv``'s date) by the day-0 rule. The warning that an event date is not a session is
    about the firms' exchange: an event whose firms all trade on other exchanges (each warned
    about on its own, :func:`firm_day0`) gives none about the market's calendar."""
    home = panel.market_block()
    if not panel.blocks:
        return home.day0_many(dates, after_close, names)
    elsewhere = {t for block in panel.blocks for t in block.tickers}
    away = np.array([bool(ts) and elsewhere.issuperset(ts) for ts in tickers], dtype=bool)
    rows = np.zeros(len(dates), dtype=np.intp)
    after_close = np.asarray(after_close, dtype=bool)

    def day0(part: np.ndarray) -> np.ndarray:
        return home.day0_many([dates[i] for i in part], after_close[part], [names[i] for i in part])

    mixed, foreign = np.flatnonzero(~away), np.flatnonzero(away)
    if len(mixed):
        rows[mixed] = day0(mixed)
    if len(foreign):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EventDateWarning)
            rows[foreign] = day0(foreign)
    return rows


def firm_day0(
    panel: ReturnsPanel,
    dates: Sequence[dt.date],
    after_close: np.ndarray,
    names: Sequence[str],
    tickers: Sequence[Sequence[str]],
) -> dict[tuple[int, str], int]:
    """Day-0 rows of the firm-events on a block: ``(event index, ticker) -> row``, each by the
    day-0 rule on its own exchange's sessions (an event on a Tokyo holiday moves to Tokyo's next
    session, with a warning naming the holiday; ``after_close`` is after that exchange's close).
    ``dates``, ``after_close``, ``names`` and ``tickers`` are per event."""
    out: dict[tuple[int, str], int] = {}
    for block in panel.blocks:
        listed = set(block.tickers)
        events = [i for i, ts in enumerate(tickers) if listed.intersection(ts)]
        if not events:
            continue
        view = block_view(panel, block)
        rows = view.day0_many(
            [dates[i] for i in events],
            np.asarray(after_close)[events],
            [f"{names[i]} on {block.exchange}" for i in events],
        )
        for i, r in zip(events, rows, strict=True):
            for t in listed.intersection(tickers[i]):
                out[(i, t)] = block.start + int(r)
    return out


def block_of(panel: ReturnsPanel, row: int) -> SessionBlock | None:
    """The block holding ``row`` (None: the market's rows)."""
    for block in panel.blocks:
        if block.start <= row < block.stop:
            return block
    return None
