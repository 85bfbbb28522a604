"""An event's line and bar charts: CAR paths (:func:`plot_car`), day-0 abnormal returns
(:func:`plot_day0_ar`) and prices indexed to 100 (:func:`plot_prices`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from eventstudy.output.format import (
    MINUS,
    _iso,
    _signed,
    fmt_signed_pct,
    plural,
    significance_mark,
)
from eventstudy.output.plots.chart_data import (
    average_band,
    credited,
    firm_sessions,
    index_label,
    last_value,
    model_label,
    model_text,
    panel_of,
    pick_event,
    returns_kind,
    select_tickers,
)
from eventstudy.output.plots.layout import (
    LineEnd,
    band,
    bar_label,
    day_axis,
    decorate,
    direct_labels,
    fit_texts_x,
    mark_day0,
    number_ticks,
)
from eventstudy.output.plots.style import (
    BACKGROUND,
    BLACK,
    MARKET_LINE,
    ZERO_LINE,
    FigureSize,
    bar_height,
    figure_and_axes,
    house_style,
    line_height,
    sign_colour,
    stock_colours,
    width,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from eventstudy.output.source import ResultSource

#: Above this many stocks the CAR chart shows the 95% band of the average only.
MAX_STOCK_BANDS = 6


def plot_car(
    results: ResultSource,
    event: str | None = None,
    tickers: Sequence[str] | None = None,
    ax: Axes | None = None,
    *,
    size: str | FigureSize | None = None,
) -> Figure:
    """Cumulative abnormal returns over the event window, per stock and on average.

    Thin coloured lines are the stocks' CAR paths (``car`` of :meth:`EventStudyResults.ar_frame`,
    cumulated from the first day of the event window), labelled at their right-hand end; the thick
    black line is the cross-sectional average with its 95% band, ``mean ± t(0.975, N-1)·sd/√N``.
    With at most ``MAX_STOCK_BANDS`` stocks each stock also gets its own 95% band,
    ``car ± 1.96·car_se`` (prediction error included); with more, only the average's band is drawn
    so the chart stays legible.

    Parameters
    ----------
    results
        The fitted study.
    event
        Event name; the first event when None.
    tickers
        A subset of the event's stocks to show (the average is over these); all when None.
    ax
        Draw into this axes instead of a new figure (its figure is returned).
    size
        One of :data:`SIZES` (``"report"``, ``"slide"``, ``"print"``); default ``"report"``.

    Raises
    ------
    ValueError
        For an unknown event or ticker, or when the event has no abnormal returns.
    """
    i, ev = pick_event(results, event)
    ar = results.ar_frame()
    sub = ar[ar["event"] == ev.name]
    order = select_tickers(ev, tickers)
    car = sub.pivot(index="rel_day", columns="ticker", values="car")
    se = sub.pivot(index="rel_day", columns="ticker", values="car_se")
    shown = [t for t in order if t in car.columns and np.isfinite(car[t].to_numpy(float)).any()]
    if not shown:
        raise ValueError(f"event {ev.name!r}: no abnormal returns to plot")
    days = car.index.to_numpy(dtype=float)
    car = car[shown].to_numpy(dtype=float) * 100.0
    se = se[shown].to_numpy(dtype=float) * 100.0
    mean, half, _n = average_band(car)
    day0 = _iso(results.day0_dates[i])
    many = len(shown) > MAX_STOCK_BANDS

    with house_style(size):
        fig, ax = figure_and_axes(ax, width(), line_height(len(shown) + 1))
        ends: list[LineEnd] = []
        colours = stock_colours(np.array([last_value(car[:, k]) for k in range(len(shown))]))
        for k, ticker in enumerate(shown):
            colour = colours[k]
            grey = colour == BACKGROUND
            if not many:
                band(
                    ax,
                    days,
                    car[:, k] - 1.96 * se[:, k],
                    car[:, k] + 1.96 * se[:, k],
                    colour,
                    alpha=0.09,
                )
            (line,) = ax.plot(
                days,
                car[:, k],
                color=colour,
                linewidth=0.8 if grey else 1.1 if many else 1.5,
                alpha=0.9,
                label=ticker,
                solid_joinstyle="round",
                zorder=1.8 if grey else None,
            )
            line.set_gid(f"car:{ticker}")
            if not grey:
                ends.append((ticker, days, car[:, k], colour, False))
        if len(shown) > 1:
            if many:
                band(ax, days, mean - half, mean + half, BLACK, alpha=0.13, zorder=2.5)
            else:  # stocks' bands are shaded: outline the average's instead
                for edge in (mean - half, mean + half):
                    (line,) = ax.plot(
                        days, edge, color=BLACK, linewidth=1.0, zorder=5.5, linestyle=(0, (4, 2))
                    )
                    line.set_gid("band-edge")
            (avg,) = ax.plot(
                days,
                mean,
                color=BLACK,
                linewidth=2.8,
                zorder=6,
                label=f"Average of {len(shown)} stocks",
            )
            avg.set_gid("car:average")
            ends.append(("Average", days, mean, BLACK, True))
        mark_day0(ax, day0)
        ax.axhline(0, **ZERO_LINE)
        day_axis(ax, days)
        ax.set_xlabel(f"Trading days relative to event (day 0 = {day0})")
        ax.set_ylabel("Cumulative abnormal return (%)")

        handles: list[Any] = []
        if len(shown) > 1:
            handles.append(
                Line2D([], [], color=BLACK, linewidth=2.8, label=f"Average of {len(shown)} stocks")
            )
            handles.append(
                Patch(color=BLACK, alpha=0.13, label="95% band of the average")
                if many
                else Line2D(
                    [],
                    [],
                    color=BLACK,
                    linewidth=1.0,
                    linestyle=(0, (4, 2)),
                    label="95% band of the average",
                )
            )
        if not many:
            handles.append(Patch(facecolor="#BBBBBB", alpha=0.5, label="95% band per stock"))
        handles += _others_key(colours)
        if handles:
            ax.legend(handles=handles, loc="best")

        subtitle = (
            f"{results.title} · {plural(len(shown), 'stock')} · "
            f"CAR cumulated from day {_signed(ev.event_window[0])} · event day {day0}"
        )
        bands = [f"Average band: mean ± t(0.975, N{MINUS}1)·sd/√N across stocks."]
        if len(shown) < 2:
            bands = []
        bands.append(
            "Per-stock 95% bands (CAR ± 1.96·SE) omitted for legibility."
            if many
            else "Per-stock bands: CAR ± 1.96·SE."
        )
        notes = [" ".join(bands)]
        missing = [t for t in order if t not in shown]
        if missing:
            notes.append(f"Not shown (no abnormal returns): {', '.join(missing)}.")
        notes.append(
            credited(results, f"{model_text(results, i, ev)}; 95% bands include prediction error")
        )
        decorate(fig, ax, f"{ev.name}: cumulative abnormal returns", subtitle, notes)
        direct_labels(fig, ax, ends)
    return fig


def plot_day0_ar(
    results: ResultSource,
    event: str | None = None,
    *,
    size: str | FigureSize | None = None,
) -> Figure:
    """Day-0 abnormal returns (%) by stock as sorted horizontal bars.

    Negative bars are vermillion, positive ones blue; each bar carries its value and the
    significance stars of its two-sided t-test (``ar_p``): ``***`` p < 0.01, ``**`` p < 0.05,
    ``*`` p < 0.10. Stocks without a day-0 abnormal return are listed in the footnote.

    Raises
    ------
    ValueError
        For an unknown event, or when the event has no day-0 abnormal return.
    """
    i, ev = pick_event(results, event)
    ar = results.ar_frame()
    sub = ar[(ar["event"] == ev.name) & (ar["rel_day"] == 0)]
    sub = sub[np.isfinite(sub["ar"].to_numpy(dtype=float))]
    if sub.empty:
        raise ValueError(f"event {ev.name!r}: no day-0 abnormal returns to plot")
    sub = sub.sort_values("ar", kind="stable")
    tickers = sub["ticker"].tolist()
    returns = sub["ar"].to_numpy(dtype=float)
    values = returns * 100.0
    pvalues = sub["ar_p"].to_numpy(dtype=float)
    day0 = _iso(results.day0_dates[i])

    with house_style(size):
        fig, ax = figure_and_axes(None, width(), bar_height(len(tickers)))
        y = np.arange(len(tickers))
        bars = ax.barh(y, values, height=0.68, color=[sign_colour(v) for v in values], zorder=3)
        for bar, ticker in zip(bars, tickers, strict=True):
            bar.set_gid(f"bar:{ticker}")
        ax.set_yticks(y, tickers)
        ax.set_ylim(len(tickers) - 0.4, -0.6)  # first (most negative) bar on top
        ax.axvline(0, color="#333333", linewidth=0.8, zorder=4)
        ax.margins(x=0.04)
        ax.grid(axis="x")
        ax.grid(axis="y", visible=False)
        labels = []
        for k, (ticker, r, v, p) in enumerate(zip(tickers, returns, values, pvalues, strict=True)):
            stars = significance_mark(float(p))
            text = fmt_signed_pct(r) + (f" {stars}" if stars else "")
            labels.append(bar_label(ax, v, k, text, gid=f"label:{ticker}", bold=bool(stars)))
        ax.set_xlabel(f"Abnormal return on day 0, {day0} (%)")
        ax.xaxis.set_major_formatter(number_ticks())

        n_sig = int(np.sum(pvalues < 0.10))
        subtitle = (
            f"{results.title} · {len(tickers)} stocks · {n_sig} significant at the 10% "
            f"level · {model_label(results, i, ev)}"
        )
        notes = [
            "*** p < 0.01, ** p < 0.05, * p < 0.10: two-sided t-test of the day-0 abnormal "
            "return (standard error includes prediction error)."
        ]
        missing = [t for t in ev.tickers if t not in tickers]
        if missing:
            notes.append(f"Not shown (no day-0 abnormal return): {', '.join(missing)}.")
        notes.append(credited(results, model_text(results, i, ev)))
        decorate(fig, ax, f"{ev.name}: abnormal returns on day 0", subtitle, notes)
        fit_texts_x(fig, ax, labels)
    return fig


def plot_prices(
    results: ResultSource,
    event: str | None = None,
    *,
    size: str | FigureSize | None = None,
) -> Figure:
    """Prices indexed to 100 at the close of day -1, over the event window.

    The index is built from the returns panel, cumulating ``1 + r`` (or ``exp(r)`` when
    ``results.meta["returns"] == "log"``) forward and backward from day -1; a missing return breaks
    the chain (the index is left blank beyond it). A firm listed on another exchange than the
    market's is drawn on its own exchange's sessions, from its own day 0 (docs/global.md). The
    market index is the dashed black line; day 0 is shaded and dated; every line is labelled at
    its right-hand end.

    Raises
    ------
    ValueError
        For an unknown event.
    """
    i, ev = pick_event(results, event)
    kind = returns_kind(results)
    panel = panel_of(results, "the price chart")
    d0 = int(panel.dates.get_loc(pd.Timestamp(results.day0_dates[i])))
    w0, w1 = ev.event_window
    rel = np.arange(min(w0, -1), max(w1, -1) + 1)
    day0 = _iso(results.day0_dates[i])
    # A firm listed on another exchange is indexed on its own sessions, from its own day 0.
    series, elsewhere = {}, {}
    for t in ev.tickers:
        own = firm_sessions(results, i, t)
        assert own is not None  # panel_of found the panel
        sessions, row, exchange = own
        series[t] = _price_index(sessions.series(t), row, rel, kind)
        if exchange is not None:
            elsewhere[t] = f"{t} on {exchange} sessions (day 0 = {_iso(sessions.dates[row])})"
    market = _price_index(panel.series(ev.market), d0, rel, kind)
    days = rel.astype(float)

    with house_style(size):
        fig, ax = figure_and_axes(None, width(), line_height(len(series) + 1))
        ax.axhline(100, color="#999999", linewidth=0.8, zorder=1.5)
        ends: list[LineEnd] = []
        colours = stock_colours(np.array([last_value(level) - 100.0 for level in series.values()]))
        for k, (ticker, level) in enumerate(series.items()):
            colour = colours[k]
            grey = colour == BACKGROUND
            (line,) = ax.plot(
                days, level, color=colour, linewidth=0.8 if grey else 1.3, alpha=0.95,
                label=ticker, zorder=1.8 if grey else None,
            )  # fmt: skip
            line.set_gid(f"price:{ticker}")
            if not grey:
                ends.append((ticker, days, level, colour, False))
        (mline,) = ax.plot(
            days, market, color=BLACK, zorder=6, label=index_label(ev.market), **MARKET_LINE
        )
        mline.set_gid(f"market:{ev.market}")
        ends.append((ev.market, days, market, BLACK, True))
        mark_day0(ax, day0, band=True)
        day_axis(ax, days)
        ax.set_xlabel(f"Trading days relative to event (day 0 = {day0})")
        ax.set_ylabel(f"Price index (day {MINUS}1 = 100)")
        market_key = Line2D(
            [], [], color=BLACK, label=f"Market: {index_label(ev.market)}", **MARKET_LINE
        )
        ax.legend(handles=[market_key, *_others_key(colours)], loc="best")
        base = panel.dates[d0 - 1] if d0 >= 1 else None
        subtitle = (
            f"{results.title} · {len(series)} stocks · close of "
            f"{_iso(base) if base is not None else f'day {MINUS}1'} = 100"
        )
        growth = "exp(r)" if kind == "log" else "1 + r"
        notes = [
            f"Index = 100 at the close of day {MINUS}1, compounded with ({growth}) over the "
            f"daily {kind} returns r of the study's returns panel.",
        ]
        if elsewhere:
            notes.append(
                "Days are each firm's own exchange's sessions: " + "; ".join(elsewhere.values())
                + "; the others and the market on the market's."
            )
        if results.meta.get("price_source"):
            notes.append(credited(results))
        decorate(fig, ax, f"{ev.name}: share prices around the event", subtitle, notes)
        direct_labels(fig, ax, ends)
    return fig


def _price_index(returns: np.ndarray, d0: int, rel: np.ndarray, kind: str) -> np.ndarray:
    """Level on days ``rel`` (relative to row ``d0``), 100 at day -1; NaN beyond a gap."""
    n = len(returns)

    def growth(row: int) -> float:
        if not 0 <= row < n:
            return np.nan
        r = float(returns[row])
        return float(np.exp(r)) if kind == "log" else 1.0 + r

    out = np.full(len(rel), np.nan)
    base = d0 - 1
    for j, day in enumerate(rel):
        if day == -1:
            out[j] = 100.0 if 0 <= base < n else np.nan
        elif day > -1:
            out[j] = 100.0 * np.prod([growth(d0 + k) for k in range(0, day + 1)])
        else:
            out[j] = 100.0 / np.prod([growth(d0 + k) for k in range(day + 1, 0)])
    return out


def _others_key(colours: list[str]) -> list[Any]:
    """The legend entry of the grey lines (stocks that are not among the largest movers)."""
    grey = colours.count(BACKGROUND)
    if not grey:
        return []
    return [Line2D([], [], color=BACKGROUND, linewidth=0.8, label=f"The other {grey} stocks")]
