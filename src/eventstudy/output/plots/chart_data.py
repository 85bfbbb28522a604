"""What the charts read from a study's results (a :class:`~eventstudy.output.source.ResultSource`):
the event asked for, its stocks, the returns panel, the model in words, the valuation rows, and
the 95% band of the cross-sectional average."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import special

from eventstudy.estimation.models import MODELS
from eventstudy.inference.stats import cross_sectional_t
from eventstudy.output.format import _iso, _signed, fmt_window

if TYPE_CHECKING:
    from eventstudy.data.panel import ReturnsPanel
    from eventstudy.output.source import ResultSource
    from eventstudy.study import ResolvedEvent

_INDEX_NAMES = {
    "^GSPC": "S&P 500",
    "^IXIC": "Nasdaq Composite",
    "^NDX": "Nasdaq-100",
    "^SOX": "PHLX Semiconductor",
    "^DJI": "Dow Jones",
    "^RUT": "Russell 2000",
    "SPY": "S&P 500 ETF",
    "QQQ": "Nasdaq-100 ETF",
}


def pick_event(results: ResultSource, event: str | None) -> tuple[int, ResolvedEvent]:
    """The index and settings of the event named ``event`` (the first when None)."""
    if not results.events:
        raise ValueError("the results have no events")
    if event is None:
        return 0, results.events[0]
    for i, ev in enumerate(results.events):
        if ev.name == event:
            return i, ev
    names = ", ".join(repr(e.name) for e in results.events)
    raise ValueError(f"unknown event {event!r} (events: {names})")


def select_tickers(ev: ResolvedEvent, tickers: Sequence[str] | None) -> list[str]:
    """``tickers`` (all the event's when None), each once; a ValueError names unknown ones."""
    if tickers is None:
        return list(ev.tickers)
    if isinstance(tickers, str):
        tickers = [tickers]
    unknown = [t for t in tickers if t not in ev.tickers]
    if unknown:
        raise ValueError(
            f"event {ev.name!r} has no ticker(s) {', '.join(unknown)} "
            f"(tickers: {', '.join(ev.tickers)})"
        )
    return list(dict.fromkeys(tickers))


def panel_of(results: ResultSource, what: str) -> ReturnsPanel:
    """The results' returns panel on the market's sessions (a firm on another exchange has no
    line there: docs/global.md), or a ValueError saying ``what`` needs it."""
    panel = results.panel
    if panel is None:
        raise ValueError(
            f"{what} needs the returns panel, which results read back from files do not have"
        )
    return panel.market_block()


def firm_sessions(
    results: ResultSource, i: int, ticker: str
) -> tuple[ReturnsPanel, int, str | None] | None:
    """The sessions a firm of event ``i`` trades on, its day-0 row there and, for a firm on
    another exchange than the market's, that exchange (None: the market's sessions). Its day 0
    follows the day-0 rule on its own sessions, as in the fit (docs/global.md); None when the
    results have no panel."""
    import warnings

    from eventstudy.data.sessions import block_view
    from eventstudy.errors import EventDateWarning

    panel = results.panel
    if panel is None:
        return None
    ev = results.events[i]
    block = next((b for b in panel.blocks if ticker in b.tickers), None)
    if block is None:
        home = panel.market_block()
        return home, int(home.dates.get_loc(pd.Timestamp(results.day0_dates[i]))), None
    view = block_view(panel, block)
    with warnings.catch_warnings():  # said once, when the study was fitted
        warnings.simplefilter("ignore", EventDateWarning)
        (row,) = view.day0_many([ev.date], np.array([ev.timing == "after_close"]), [ev.name])
    return view, int(row), block.exchange


def returns_kind(results: ResultSource) -> str:
    """``simple`` or ``log``: the kind of the panel's returns."""
    kind = str(results.meta.get("returns", "simple"))
    if kind not in {"simple", "log"}:
        raise ValueError(f"unknown returns kind {kind!r} in results.meta (expected simple or log)")
    return kind


def last_value(values: np.ndarray) -> float:
    """The last finite value of a line (NaN when none): how far it ended up."""
    finite = values[np.isfinite(values)]
    return float(finite[-1]) if len(finite) else float("nan")


def credited(results: ResultSource, text: str = "") -> str:
    """A chart's footer note: ``Data: <where the prices came from>; <text>.`` (the file's name,
    never a local path; Yahoo Finance; the local store's sources), or ``<text>.`` alone when the
    results do not record their source (frames handed to the library)."""
    source = str(results.meta.get("price_source") or "")
    if not source.startswith("local store") and ("/" in source or "\\" in source):
        source = source.replace("\\", "/").rsplit("/", 1)[-1]
    parts = [f"Data: {source.removeprefix('local store: ')}"] if source else []
    return "; ".join([*parts, *([text] if text else [])]) + "."


def model_label(results: ResultSource, i: int, ev: ResolvedEvent) -> str:
    """The normal-return model of event ``i`` in words: the results' label when they have one,
    else the model's own (:meth:`~eventstudy.estimation.models.NormalReturnModel.label`)."""
    labels = results.model_labels
    if i < len(labels) and labels[i]:
        return str(labels[i])
    model = MODELS.get(ev.model)
    return model().label(ev) if model is not None else f"{ev.model} model vs {ev.market}"


def model_text(results: ResultSource, i: int, ev: ResolvedEvent) -> str:
    """The model and its estimation window, for a footnote."""
    return f"{model_label(results, i, ev)}, estimation window {fmt_window(ev.estimation_window)}"


def index_label(ticker: str) -> str:
    """``S&P 500 (^GSPC)`` for a known index, the ticker otherwise."""
    name = _INDEX_NAMES.get(ticker)
    return f"{name} ({ticker})" if name else ticker


def window_text(results: ResultSource, i: int, window: tuple[int, int]) -> str:
    """``on day 0 (2025-01-27)``, ``over days [−1, +1] (2025-01-24 to 2025-01-28)``: the dates
    from the returns panel, or from the AR table for results read back from a folder."""
    if results.panel is not None:
        dates = results.panel.market_block().dates
        d0 = int(dates.get_loc(pd.Timestamp(results.day0_dates[i])))

        def at(day: int) -> str:
            row = d0 + day
            return _iso(dates[row]) if 0 <= row < len(dates) else f"day {_signed(day)}"

    else:
        ar = results.ar_frame()
        rows = ar.loc[ar["event"] == results.events[i].name, ["rel_day", "date"]]
        by_day = dict(zip(rows["rel_day"].astype(int), rows["date"], strict=True))

        def at(day: int) -> str:
            return _iso(by_day[day]) if day in by_day else f"day {_signed(day)}"

    a, b = window
    if a == b:
        return f"on day {_signed(a)} ({at(a)})"
    return f"over days {fmt_window(window)} ({at(a)} to {at(b)})"


def value_rows(results: ResultSource, ev: ResolvedEvent, window: tuple[int, int]) -> pd.DataFrame:
    """The event's rows of the valuation table for one CAR window, in the reporting currency
    (:func:`value_currency`)."""
    from eventstudy.currency import reporting_view

    frame = reporting_view(results.valuation_frame())[0]
    keep = (frame["event"] == ev.name) & (frame["start"] == window[0]) & (frame["end"] == window[1])
    return frame.loc[keep]


def value_currency(results: ResultSource) -> str:
    """The currency the value charts are drawn in (the study's reporting currency)."""
    from eventstudy.currency import reporting_view

    return reporting_view(results.valuation_frame())[1]


def value_window(ev: ResolvedEvent) -> tuple[int, int]:
    """The CAR window the value chart shows: ``[0, 0]`` when the event has it, else its first."""
    if (0, 0) in ev.car_windows:
        return (0, 0)
    start, end = ev.car_windows[0]
    return (int(start), int(end))


def has_value_data(results: ResultSource, ev: ResolvedEvent) -> bool:
    """Whether some stock of the event has a dollar value change (a value chart to draw)."""
    rows = value_rows(results, ev, value_window(ev))
    return bool(np.isfinite(rows["raw_dollar_change"].to_numpy(dtype=float)).any())


def average_band(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The mean across stocks (columns) on each day (rows), the half-width of its 95% band and the
    number of stocks N with a value.

    The band is ``mean ± t(0.975, N-1)·sd/√N``, sd with denominator N - 1: the cross-sectional t
    of Brown & Warner (1985) (:func:`~eventstudy.inference.stats.cross_sectional_t`); NaN where
    fewer than two stocks have a value."""
    across = cross_sectional_t(values, axis=1)
    n = across["n"]
    with np.errstate(invalid="ignore", divide="ignore"):
        # stats.t.ppf(0.975, N - 1), the same function, without importing scipy.stats (about a
        # second in a run that draws charts, before the workers can start)
        half = special.stdtrit(n - 1, 0.975) * across["sd"] / np.sqrt(n)
    return across["mean"], np.where(n > 1, half, np.nan), n
