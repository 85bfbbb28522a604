"""Report-ready charts of event-study results.

Every chart is built with matplotlib's object-oriented API: a :class:`~matplotlib.figure.Figure`
with an Agg canvas, never pyplot, so no display is needed and no figure is registered globally. Each
``plot_*`` function draws in the house style (``eventstudy.mplstyle``, beside this module) and
returns the figure without saving it; :func:`save_figures` writes every chart of every event.

* :func:`plot_car` -- CAR paths over the event window per stock, with the cross-sectional average
  and its 95% band;
* :func:`plot_day0_ar` -- day-0 abnormal returns by stock, sorted, significant ones starred;
* :func:`plot_prices` -- prices indexed to 100 on day -1, with the market index;
* :func:`plot_value` -- dollar market value lost or gained by stock, sorted, with the total;
* :func:`plot_ar_heatmap` -- abnormal returns by stock (rows) and event day (columns);
* :func:`plot_events_timeline` -- prices indexed to 100 over the whole study, every event marked;
* :func:`plot_caar_comparison` -- the average CAR path of each event, with 95% bands, on one chart;
* :func:`plot_model_comparison` -- the same stocks' CAR paths under several normal-return models
  (events with the same day 0 and tickers but different models, as in ``examples/models.yaml``).

:func:`chart_plan` lists the charts a study gets (:class:`ChartSpec`), :func:`draw_chart` draws one
of them, and :func:`save_figures` writes them all (PNG, SVG and/or PDF) at one of the
:data:`SIZES`: ``"report"`` (8 in wide, the default), ``"slide"`` (11 in, larger type, for a 16:9
slide) or ``"print"`` (6.5 in, a journal page's text width).

Thread safety: matplotlib keeps its rcParams in one process-wide dictionary, and
``matplotlib.style.context`` changes it for the duration of a call. Drawing and saving here hold a
module lock while the house style is active, so charts built concurrently from several threads do
not see each other's settings; code outside this module that changes rcParams at the same moment
can still interfere.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
import textwrap
import threading
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib as mpl
import matplotlib.dates as mdates
import matplotlib.style
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LinearSegmentedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.text import Annotation, Text
from matplotlib.ticker import FuncFormatter, MaxNLocator
from matplotlib.transforms import Bbox
from scipy import stats

from eventstudy.errors import EventStudyError
from eventstudy.inference.stats import cross_sectional_t
from eventstudy.output.format import significance_mark
from eventstudy.progress import progress_bar
from eventstudy.study import ResolvedEvent, slugify

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from eventstudy.results import EventStudyResults

__all__ = [
    "SIZES",
    "STYLE_PATH",
    "ChartSpec",
    "FigureSize",
    "chart_plan",
    "draw_chart",
    "event_slugs",
    "figure_png",
    "model_groups",
    "plot_ar_heatmap",
    "plot_caar_comparison",
    "plot_car",
    "plot_day0_ar",
    "plot_events_timeline",
    "plot_model_comparison",
    "plot_prices",
    "plot_value",
    "save_figures",
]

#: The house style, applied inside every plotting function.
STYLE_PATH = Path(__file__).with_name("eventstudy.mplstyle")

# Okabe & Ito (2008) colour-blind-safe palette.
BLACK = "#000000"
ORANGE = "#E69F00"
SKY_BLUE = "#56B4E9"
GREEN = "#009E73"
YELLOW = "#F0E442"
BLUE = "#0072B2"
VERMILLION = "#D55E00"
PURPLE = "#CC79A7"
#: Line colours for stocks, in order (black is kept for averages and the market index).
LINE_COLOURS = (BLUE, VERMILLION, GREEN, PURPLE, ORANGE, SKY_BLUE, "#7F7F7F")
NEGATIVE = VERMILLION
POSITIVE = BLUE
MUTED = "#555555"

MINUS = "\u2212"
#: Above this many stocks the CAR chart shows the 95% band of the average only.
MAX_STOCK_BANDS = 6
#: Per-event charts written by :func:`save_figures`, in order (file ``<event-slug>_<chart>``).
EVENT_CHARTS = ("car", "day0_ar", "ar_heatmap", "prices", "value")
#: Whole-study charts written by :func:`save_figures` (file ``study_<chart>``).
STUDY_CHARTS = ("timeline", "caar", "models")
#: Every chart name, in order.
CHARTS = EVENT_CHARTS + STUDY_CHARTS
#: Charts drawn from the returns panel (not from the result tables alone).
PANEL_CHARTS = frozenset({"prices", "timeline"})
#: Figure formats :func:`save_figures` writes.
FORMATS = ("png", "svg", "pdf")
#: Resolution of PNG files.
PNG_DPI = 200

_FOOTER_SIZE = 8
_TITLE_SIZE = 13
_SUBTITLE_SIZE = 9.5
_LABEL_SIZE = 8.5
_PAD_INCHES = 0.08
#: Above this many events the timeline numbers its event marks and keys them in the footnote.
MAX_TIMELINE_LABELS = 8
#: Above this many events the CAAR comparison leaves out the bands.
MAX_CAAR_BANDS = 4


@dataclass(frozen=True)
class FigureSize:
    """A target size: the figure's width (inches) and scales for type and for fixed heights."""

    name: str
    width: float
    font: float
    height: float


#: ``report``: 8 in wide (HTML report, screen); ``slide``: 11 in with 1.35x type (a 16:9 slide);
#: ``print``: 6.5 in with 0.88x type (a journal page's text width).
SIZES: dict[str, FigureSize] = {
    "report": FigureSize("report", 8.0, 1.0, 1.0),
    "slide": FigureSize("slide", 11.0, 1.35, 1.15),
    "print": FigureSize("print", 6.5, 0.88, 0.85),
}
_SIZE: ContextVar[FigureSize] = ContextVar("eventstudy_figure_size", default=SIZES["report"])
# rcParams scaled with the type (every font size the style file sets as a number).
_FONT_KEYS = (
    "font.size",
    "axes.labelsize",
    "axes.titlesize",
    "xtick.labelsize",
    "ytick.labelsize",
    "legend.fontsize",
    "legend.title_fontsize",
    "figure.titlesize",
    "figure.labelsize",
)

_STYLE_LOCK = threading.RLock()

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


# ----------------------------------------------------------------------------- public charts
def plot_car(
    results: EventStudyResults,
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
    i, ev = _pick_event(results, event)
    ar = results.ar_frame()
    sub = ar[ar["event"] == ev.name]
    order = _select_tickers(ev, tickers)
    car = sub.pivot(index="rel_day", columns="ticker", values="car")
    se = sub.pivot(index="rel_day", columns="ticker", values="car_se")
    shown = [t for t in order if t in car.columns and np.isfinite(car[t].to_numpy(float)).any()]
    if not shown:
        raise ValueError(f"event {ev.name!r}: no abnormal returns to plot")
    days = car.index.to_numpy(dtype=float)
    car = car[shown].to_numpy(dtype=float) * 100.0
    se = se[shown].to_numpy(dtype=float) * 100.0
    across = cross_sectional_t(car, axis=1)  # across stocks, per day
    n_valid, mean, sd = across["n"], across["mean"], across["sd"]
    with np.errstate(invalid="ignore", divide="ignore"):
        half = stats.t.ppf(0.975, n_valid - 1) * sd / np.sqrt(n_valid)
    half = np.where(n_valid > 1, half, np.nan)
    day0 = _iso(results.day0_dates[i])
    many = len(shown) > MAX_STOCK_BANDS

    with _house_style(size):
        fig, ax = _figure_and_axes(ax, _width(), _line_height(len(shown) + 1))
        ends: list[tuple[str, float, float, str, bool]] = []
        for k, ticker in enumerate(shown):
            colour = LINE_COLOURS[k % len(LINE_COLOURS)]
            if not many:
                _band(
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
                linewidth=1.1 if many else 1.5,
                alpha=0.9,
                label=ticker,
                solid_joinstyle="round",
            )
            line.set_gid(f"car:{ticker}")
            last = _last_finite(days, car[:, k])
            if last is not None:
                ends.append((ticker, *last, colour, False))
        if len(shown) > 1:
            if many:
                _band(ax, days, mean - half, mean + half, BLACK, alpha=0.13, zorder=2.5)
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
            last = _last_finite(days, mean)
            if last is not None:
                ends.append(("Average", *last, BLACK, True))
        _mark_day0(ax, day0)
        ax.axhline(0, color="#333333", linewidth=0.8, zorder=1.5)
        _day_axis(ax, days)
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
        if handles:
            ax.legend(handles=handles, loc="best")

        w0 = ev.event_window[0]
        subtitle = (
            f"{results.title} · {len(shown)} stock{'s' if len(shown) != 1 else ''} · "
            f"CAR cumulated from day {_signed(w0)} · event day {day0}"
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
            f"Source: eventstudy; {_model_text(results, i, ev)}; "
            "95% bands include prediction error."
        )
        _decorate(fig, ax, f"{ev.name}: cumulative abnormal returns", subtitle, notes)
        _direct_labels(fig, ax, ends)
    return fig


def plot_day0_ar(
    results: EventStudyResults,
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
    i, ev = _pick_event(results, event)
    ar = results.ar_frame()
    sub = ar[(ar["event"] == ev.name) & (ar["rel_day"] == 0)]
    sub = sub[np.isfinite(sub["ar"].to_numpy(dtype=float))]
    if sub.empty:
        raise ValueError(f"event {ev.name!r}: no day-0 abnormal returns to plot")
    sub = sub.sort_values("ar", kind="stable")
    tickers = sub["ticker"].tolist()
    values = sub["ar"].to_numpy(dtype=float) * 100.0
    pvalues = sub["ar_p"].to_numpy(dtype=float)
    day0 = _iso(results.day0_dates[i])

    with _house_style(size):
        fig, ax = _figure_and_axes(None, _width(), _bar_height(len(tickers)))
        y = np.arange(len(tickers))
        bars = ax.barh(y, values, height=0.68, color=[_sign_colour(v) for v in values], zorder=3)
        for bar, ticker in zip(bars, tickers, strict=True):
            bar.set_gid(f"bar:{ticker}")
        ax.set_yticks(y, tickers)
        ax.set_ylim(len(tickers) - 0.4, -0.6)  # first (most negative) bar on top
        ax.axvline(0, color="#333333", linewidth=0.8, zorder=4)
        ax.margins(x=0.04)
        ax.grid(axis="x")
        ax.grid(axis="y", visible=False)
        labels = []
        for k, (ticker, v, p) in enumerate(zip(tickers, values, pvalues, strict=True)):
            stars = significance_mark(float(p))
            text = _fmt_pct(v) + (f" {stars}" if stars else "")
            labels.append(_bar_label(ax, v, k, text, gid=f"label:{ticker}", bold=bool(stars)))
        ax.set_xlabel(f"Abnormal return on day 0, {day0} (%)")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: _fmt_num(x)))

        n_sig = int(np.sum(pvalues < 0.10))
        subtitle = (
            f"{results.title} · {len(tickers)} stocks · {n_sig} significant at the 10% "
            f"level · {_model_label(results, i, ev)}"
        )
        notes = [
            "*** p < 0.01, ** p < 0.05, * p < 0.10: two-sided t-test of the day-0 abnormal "
            "return (standard error includes prediction error)."
        ]
        missing = [t for t in ev.tickers if t not in tickers]
        if missing:
            notes.append(f"Not shown (no day-0 abnormal return): {', '.join(missing)}.")
        notes.append(f"Source: eventstudy; {_model_text(results, i, ev)}.")
        _decorate(fig, ax, f"{ev.name}: abnormal returns on day 0", subtitle, notes)
        _fit_texts_x(fig, ax, labels)
    return fig


def plot_prices(
    results: EventStudyResults,
    event: str | None = None,
    *,
    size: str | FigureSize | None = None,
) -> Figure:
    """Prices indexed to 100 at the close of day -1, over the event window.

    The index is built from the returns panel, cumulating ``1 + r`` (or ``exp(r)`` when
    ``results.meta["returns"] == "log"``) forward and backward from day -1; a missing return breaks
    the chain (the index is left blank beyond it). The market index is the dashed black line; day 0
    is shaded and dated; every line is labelled at its right-hand end.

    Raises
    ------
    ValueError
        For an unknown event.
    """
    i, ev = _pick_event(results, event)
    kind = _returns_kind(results)
    panel = _panel(results, "the price chart")
    d0 = int(panel.dates.get_loc(pd.Timestamp(results.day0_dates[i])))
    w0, w1 = ev.event_window
    rel = np.arange(min(w0, -1), max(w1, -1) + 1)
    day0 = _iso(results.day0_dates[i])
    series = {t: _price_index(panel.series(t), d0, rel, kind) for t in ev.tickers}
    market = _price_index(panel.series(ev.market), d0, rel, kind)
    days = rel.astype(float)

    with _house_style(size):
        fig, ax = _figure_and_axes(None, _width(), _line_height(len(series) + 1))
        ax.axhline(100, color="#999999", linewidth=0.8, zorder=1.5)
        ends: list[tuple[str, float, float, str, bool]] = []
        for k, (ticker, level) in enumerate(series.items()):
            colour = LINE_COLOURS[k % len(LINE_COLOURS)]
            (line,) = ax.plot(days, level, color=colour, linewidth=1.3, alpha=0.95, label=ticker)
            line.set_gid(f"price:{ticker}")
            last = _last_finite(days, level)
            if last is not None:
                ends.append((ticker, *last, colour, False))
        (mline,) = ax.plot(
            days,
            market,
            color=BLACK,
            linewidth=2.2,
            linestyle=(0, (5, 2)),
            zorder=6,
            label=_index_label(ev.market),
        )
        mline.set_gid(f"market:{ev.market}")
        last = _last_finite(days, market)
        if last is not None:
            ends.append((ev.market, *last, BLACK, True))
        _mark_day0(ax, day0, band=True)
        _day_axis(ax, days)
        ax.set_xlabel(f"Trading days relative to event (day 0 = {day0})")
        ax.set_ylabel(f"Price index (day {MINUS}1 = 100)")
        ax.legend(
            handles=[
                Line2D(
                    [],
                    [],
                    color=BLACK,
                    linewidth=2.2,
                    linestyle=(0, (5, 2)),
                    label=f"Market: {_index_label(ev.market)}",
                )
            ],
            loc="best",
        )
        base = panel.dates[d0 - 1] if d0 >= 1 else None
        subtitle = (
            f"{results.title} · {len(series)} stocks · close of "
            f"{_iso(base) if base is not None else 'day −1'} = 100"
        )
        growth = "exp(r)" if kind == "log" else "1 + r"
        notes = [
            f"Index = 100 at the close of day {MINUS}1, compounded with ({growth}) over the "
            f"daily {kind} returns r of the study's returns panel.",
            "Source: eventstudy.",
        ]
        _decorate(fig, ax, f"{ev.name}: share prices around the event", subtitle, notes)
        _direct_labels(fig, ax, ends)
    return fig


def plot_value(
    results: EventStudyResults,
    event: str | None = None,
    window: tuple[int, int] = (0, 0),
    *,
    total: bool = True,
    size: str | FigureSize | None = None,
) -> Figure:
    """Dollar market value lost or gained by stock over a CAR window, in $ billions.

    Bars are ``raw_dollar_change`` of :meth:`EventStudyResults.valuation_frame` (shares outstanding
    x change in the unadjusted close), sorted and labelled (e.g. ``−$592B``); the total is in the
    subtitle and, with ``total=True`` (and more than one stock), a last bar set apart below the
    others. Where the abnormal dollar change exists it is drawn as a black diamond per stock (and on
    the total bar when every stock has one). Stocks without a value (no shares outstanding, no close
    prices) are listed in the footnote.

    Raises
    ------
    ValueError
        For an unknown event, a window that is not one of the event's CAR windows, or when no
        stock of the event has a dollar value change.
    """
    i, ev = _pick_event(results, event)
    window = (int(window[0]), int(window[1]))
    if window not in ev.car_windows:
        raise ValueError(
            f"event {ev.name!r}: no valuation for window {list(window)} (CAR windows: "
            f"{', '.join(str(list(w)) for w in ev.car_windows)})"
        )
    sub = _value_rows(results, ev, window)
    raw = sub["raw_dollar_change"].to_numpy(dtype=float)
    have = np.isfinite(raw)
    if not have.any():
        raise ValueError(f"event {ev.name!r}: no dollar value changes for window {list(window)}")
    missing = sub.loc[~have]
    sub = sub.loc[have].sort_values("raw_dollar_change", kind="stable")
    tickers = sub["ticker"].tolist()
    raw_b = sub["raw_dollar_change"].to_numpy(dtype=float) / 1e9
    abn_b = sub["abnormal_dollar_change"].to_numpy(dtype=float) / 1e9
    has_abn = np.isfinite(abn_b)
    when = _window_text(results, i, window)

    total_b = float(np.sum(raw_b))
    total_abn = float(np.sum(abn_b)) if has_abn.all() else np.nan
    show_total = total and len(tickers) > 1

    with _house_style(size):
        n = len(tickers)
        fig, ax = _figure_and_axes(None, _width(), _bar_height(n + (1.5 if show_total else 0)))
        y = np.arange(n, dtype=float)
        bars = ax.barh(y, raw_b, height=0.68, color=[_sign_colour(v) for v in raw_b], zorder=3)
        for bar, ticker in zip(bars, tickers, strict=True):
            bar.set_gid(f"bar:{ticker}")
        if has_abn.any():
            marks = ax.scatter(
                abn_b[has_abn],
                y[has_abn],
                marker="D",
                s=26 * _SIZE.get().font,
                color=BLACK,
                edgecolors="white",
                linewidths=0.8,
                zorder=5,
            )
            marks.set_gid("abnormal_dollar_change")
        ticks, names = list(y), list(tickers)
        values, abnormal = list(raw_b), list(abn_b)
        if show_total:
            y_total = n + 0.5
            (total_bar,) = ax.barh(
                [y_total],
                [total_b],
                height=0.8,
                color=_sign_colour(total_b),
                edgecolor=BLACK,
                linewidth=1.0,
                zorder=3,
            )
            total_bar.set_gid("total")
            ax.axhline(n - 0.05, color="#999999", linewidth=0.8, zorder=2)
            if np.isfinite(total_abn):
                mark = ax.scatter(
                    [total_abn],
                    [y_total],
                    marker="D",
                    s=26 * _SIZE.get().font,
                    color=BLACK,
                    edgecolors="white",
                    linewidths=0.8,
                    zorder=5,
                )
                mark.set_gid("abnormal_total")
            ticks.append(y_total)
            names.append("Total")
            values.append(total_b)
            abnormal.append(total_abn)
        ax.set_yticks(ticks, names)
        if show_total:
            ax.get_yticklabels()[-1].set_fontweight("bold")
        ax.set_ylim(ticks[-1] + 0.6, -0.6)
        ax.axvline(0, color="#333333", linewidth=0.8, zorder=4)
        ax.margins(x=0.04)
        ax.grid(axis="x")
        ax.grid(axis="y", visible=False)
        labels = []
        for k, (ticker, v) in enumerate(zip(tickers, raw_b, strict=True)):
            labels.append(_bar_label(ax, v, k, _fmt_billions(v), gid=f"label:{ticker}"))
        if show_total:
            labels.append(
                _bar_label(
                    ax, total_b, ticks[-1], _fmt_billions(total_b), gid="total_label", bold=True
                )
            )
        ax.set_xlabel(f"Change in market value {when} ($ billions)")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: _fmt_num(x)))
        handles: list[Any] = [
            Patch(color=NEGATIVE, label="Raw change: loss"),
            Patch(color=POSITIVE, label="Raw change: gain"),
        ]
        if has_abn.any():
            handles.append(
                Line2D(
                    [],
                    [],
                    linestyle="none",
                    marker="D",
                    markersize=5.5 * _SIZE.get().font,
                    color=BLACK,
                    markeredgecolor="white",
                    label="Abnormal change (AR × value at stake)",
                )
            )
        ax.legend(handles=handles, loc="best")

        subtitle = f"Total {_fmt_billions(total_b)} across {n} stocks"
        if np.isfinite(total_abn):
            subtitle += f" ({_fmt_billions(total_abn)} abnormal)"
        subtitle += f" · {results.title}"
        notes = [
            "Raw change = shares outstanding × change in the unadjusted close from day "
            f"{_signed(window[0] - 1)} to day {_signed(window[1])}; abnormal change = Σ AR(t) × "
            "market value on day t−1. Shares: latest count on or before the event date."
        ]
        if show_total:
            notes.append(
                f"Total: sum over the {n} stocks with a value"
                + (
                    ""
                    if np.isfinite(total_abn)
                    else " (abnormal total n/a: not every stock has one)"
                )
                + "."
            )
        notes += _missing_value_notes(missing)
        notes.append(f"Source: eventstudy; {_model_text(results, i, ev)}.")
        title_when = "on day 0" if window == (0, 0) else when
        title = f"{ev.name}: market value {_gain_or_loss(total_b)} {title_when}"
        _decorate(fig, ax, title, subtitle, notes)
        _clear_markers(ax, labels, np.asarray(values), np.asarray(abnormal))
        _fit_texts_x(fig, ax, labels)
    return fig


def plot_ar_heatmap(
    results: EventStudyResults,
    event: str | None = None,
    *,
    order: str = "study",
    size: str | FigureSize | None = None,
) -> Figure:
    """Abnormal returns (%) by stock (rows) and trading day relative to the event (columns).

    The colour scale diverges from vermillion (losses) through white to blue (gains), symmetric
    around 0 and capped at a round number near the 98th percentile of |AR| so that one extreme
    day does not wash out the rest (capped cells are drawn at full colour; the colour bar then
    ends in arrows). Cells carry their value when they are large enough for legible text, in
    bold where the AR's two-sided t-test has p < 0.10. Day 0 is outlined and dated. Rows are in
    study order (``order="study"``) or sorted by the day-0 AR, most negative first
    (``order="day0"``); grey cells have no abnormal return.

    Raises
    ------
    ValueError
        For an unknown event or order, or when the event has no abnormal returns.
    """
    if order not in {"study", "day0"}:
        raise ValueError(f"unknown order {order!r} (choose from study, day0)")
    i, ev = _pick_event(results, event)
    ar = results.ar_frame()
    sub = ar[ar["event"] == ev.name]
    if not np.isfinite(sub["ar"].to_numpy(dtype=float)).any():
        raise ValueError(f"event {ev.name!r}: no abnormal returns to plot")
    wide = sub.pivot(index="ticker", columns="rel_day", values="ar")
    wide_p = sub.pivot(index="ticker", columns="rel_day", values="ar_p")
    tickers = [
        t
        for t in ev.tickers
        if t in wide.index and np.isfinite(wide.loc[t].to_numpy(dtype=float)).any()
    ]
    if order == "day0" and 0 in wide.columns:
        key = wide.loc[tickers, 0].to_numpy(dtype=float)
        sort = np.argsort(np.where(np.isfinite(key), key, np.inf), kind="stable")
        tickers = [tickers[k] for k in sort]
    days = np.arange(int(wide.columns.min()), int(wide.columns.max()) + 1)
    grid = wide.reindex(index=tickers, columns=days).to_numpy(dtype=float) * 100.0
    pgrid = wide_p.reindex(index=tickers, columns=days).to_numpy(dtype=float)
    magnitude = np.abs(grid[np.isfinite(grid)])
    largest = float(magnitude.max())
    limit = max(_nice_ceiling(float(np.percentile(magnitude, 98))), 0.1)
    capped = largest > limit
    if not capped:
        limit = max(_nice_ceiling(largest), 0.1)
    day0 = _iso(results.day0_dates[i])
    n = len(tickers)

    with _house_style(size):
        fig, ax = _figure_and_axes(None, _width(), _heat_height(n))
        mesh = ax.pcolormesh(
            np.r_[days - 0.5, days[-1] + 0.5],
            np.arange(n + 1) - 0.5,
            np.ma.masked_invalid(grid),
            cmap=_diverging_cmap(),
            norm=Normalize(-limit, limit),
            edgecolors="white",
            linewidth=0.6,
            shading="flat",
        )
        mesh.set_gid("heatmap")
        ax.set_xlim(days[0] - 0.5, days[-1] + 0.5)
        ax.set_ylim(n - 0.5, -0.5)
        ax.set_yticks(np.arange(n), tickers)
        if len(days) <= 21:
            ax.set_xticks(days, [_signed(int(d)) for d in days])
        else:
            ax.xaxis.set_major_locator(MaxNLocator(nbins=12, integer=True, steps=[1, 2, 5, 10]))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: _signed(round(x))))
        ax.grid(False)
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.tick_params(axis="both", length=0)
        if days[0] <= 0 <= days[-1]:
            outline = Rectangle(
                (-0.5, -0.5), 1, n, fill=False, edgecolor=BLACK, linewidth=1.6, zorder=4
            )
            outline.set_clip_on(False)
            outline.set_gid("day0")
            ax.add_patch(outline)
            _day0_label(ax, f"Day 0: {day0}")
        cbar = fig.colorbar(
            mesh,
            ax=ax,
            extend="both" if capped else "neither",
            pad=0.02,
            fraction=0.05,
            aspect=22,
            shrink=1.0 if n <= 10 else max(0.45, 10 / n),
        )
        cbar.ax.set_gid("colorbar")
        cbar.outline.set_visible(False)
        cbar.set_label("Abnormal return (%)")
        cbar.ax.yaxis.set_major_formatter(FuncFormatter(lambda x, _pos: _fmt_num(x)))
        ax.set_xlabel(f"Trading days relative to event (day 0 = {day0})")

        notes = [
            f"Cells: the stock's abnormal return on each day (%), {_model_label(results, i, ev)}."
        ]
        if capped:
            notes.append(
                f"Colour scale capped at ±{_fmt_num(limit)}% (largest |AR| "
                f"{largest:.1f}%): stronger cells are at full colour."
            )
        if not np.isfinite(grid).all():
            notes.append("Grey: no abnormal return (missing price).")
        missing = [t for t in ev.tickers if t not in tickers]
        if missing:
            notes.append(f"Not shown (no abnormal returns): {', '.join(missing)}.")
        subtitle = (
            f"{results.title} · {n} stock{'s' if n != 1 else ''} · days "
            f"{_signed(int(days[0]))} to {_signed(int(days[-1]))} · "
            + ("study order" if order == "study" else "sorted by the day-0 AR")
        )
        label_note = len(notes)
        notes.append(f"Source: eventstudy; {_model_text(results, i, ev)}.")
        # Decide on cell labels before wrapping the footer (their note is part of it).
        fig.draw_without_rendering()
        box = ax.get_window_extent()
        cell_w = box.width / len(days) * 72.0 / fig.dpi
        cell_h = box.height / max(n, 1) * 72.0 / fig.dpi
        fontsize = min(_pt(7.5), cell_w / 3.5, cell_h * 0.55)
        labelled = fontsize >= 5.0
        if labelled:
            notes.insert(
                label_note,
                "Bold: p < 0.10 (two-sided t-test of the AR; standard error with prediction "
                "error).",
            )
        _decorate(fig, ax, f"{ev.name}: abnormal returns by stock and day", subtitle, notes)
        if labelled:
            for r, ticker in enumerate(tickers):
                for c, day in enumerate(days):
                    value = grid[r, c]
                    if not np.isfinite(value):
                        continue
                    text = ax.text(
                        day,
                        r,
                        _fmt_cell(value),
                        ha="center",
                        va="center",
                        fontsize=fontsize,
                        color="white" if abs(value) >= 0.55 * limit else "#222222",
                        fontweight="bold" if pgrid[r, c] < 0.10 else "normal",
                        parse_math=False,
                        clip_on=True,
                    )
                    text.set_gid(f"cell:{ticker}:{int(day)}")
    return fig


def plot_events_timeline(
    results: EventStudyResults,
    tickers: Sequence[str] | None = None,
    *,
    pad: int = 10,
    size: str | FigureSize | None = None,
) -> Figure:
    """Prices indexed to 100 over the whole study, with every event's day 0 marked.

    The span runs from ``pad`` sessions before the earliest event window (or day -1) to ``pad``
    sessions after the latest one; each stock (every ticker of any event, or ``tickers``) and each
    event's market index is indexed to 100 at the first session's close and compounded with the
    panel's returns (a missing return ends a line). Every event's day 0 is a dashed vertical line
    labelled above the axes with the names of the events on that day (staggered so that labels
    never overlap); with more than ``MAX_TIMELINE_LABELS`` event days the marks are numbered and
    keyed in the footnote.

    Raises
    ------
    ValueError
        For results without a returns panel (read from files), or for unknown tickers.
    """
    panel = _panel(results, "the events timeline")
    kind = _returns_kind(results)
    if not results.events:
        raise ValueError("the results have no events")
    rows = [int(panel.dates.get_loc(pd.Timestamp(d))) for d in results.day0_dates]
    pairs = list(zip(rows, results.events, strict=True))
    lo = max(0, min(r + min(e.event_window[0], -1) for r, e in pairs) - pad)
    hi = min(len(panel.dates) - 1, max(r + max(e.event_window[1], 0) for r, e in pairs) + pad)
    every = list(dict.fromkeys(t for e in results.events for t in e.tickers))
    if tickers is None:
        stocks = every
    else:
        stocks = list(dict.fromkeys([tickers] if isinstance(tickers, str) else tickers))
        unknown = [t for t in stocks if t not in every]
        if unknown:
            raise ValueError(
                f"no event has ticker(s) {', '.join(unknown)} (tickers: {', '.join(every)})"
            )
    markets = [m for m in dict.fromkeys(e.market for e in results.events) if m not in stocks]
    dates = panel.dates[lo : hi + 1]
    x = mdates.date2num(dates.to_pydatetime())

    def level(ticker: str) -> np.ndarray:
        r = panel.series(ticker)[lo + 1 : hi + 1].astype(float)
        growth = np.exp(r) if kind == "log" else 1.0 + r
        return 100.0 * np.r_[1.0, np.cumprod(growth)]

    marks: dict[Any, list[str]] = {}
    for day, ev in zip(results.day0_dates, results.events, strict=True):
        marks.setdefault(day, []).append(ev.name)
    numbered = len(marks) > MAX_TIMELINE_LABELS
    base = _iso(dates[0])

    with _house_style(size):
        fig, ax = _figure_and_axes(None, _width(), _line_height(len(stocks) + len(markets)))
        ax.axhline(100, color="#999999", linewidth=0.8, zorder=1.5)
        ends: list[tuple[str, float, float, str, bool]] = []
        broken = []
        for k, ticker in enumerate(stocks):
            colour = LINE_COLOURS[k % len(LINE_COLOURS)]
            y = level(ticker)
            if not np.isfinite(y).all():
                broken.append(ticker)
            (line,) = ax.plot(x, y, color=colour, linewidth=1.2, alpha=0.95, label=ticker)
            line.set_gid(f"price:{ticker}")
            last = _last_finite(x, y)
            if last is not None:
                ends.append((ticker, *last, colour, False))
        for k, market in enumerate(markets):
            y = level(market)
            (mline,) = ax.plot(
                x,
                y,
                color=BLACK if k == 0 else MUTED,
                linewidth=2.2,
                linestyle=(0, (5, 2)),
                zorder=6,
                label=_index_label(market),
            )
            mline.set_gid(f"market:{market}")
            last = _last_finite(x, y)
            if last is not None:
                ends.append((market, *last, BLACK if k == 0 else MUTED, True))
        labels = []
        for n_mark, (day, names) in enumerate(marks.items(), start=1):
            at = float(mdates.date2num(pd.Timestamp(day).to_pydatetime()))
            vline = ax.axvline(at, color=MUTED, linewidth=0.9, linestyle=(0, (3, 2)), zorder=1.6)
            vline.set_gid(f"event:{_iso(day)}")
            label = ax.annotate(
                str(n_mark) if numbered else " / ".join(names),
                xy=(at, 1),
                xycoords=("data", "axes fraction"),
                xytext=(0, _pt(3)),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=_pt(_LABEL_SIZE - 0.5),
                color="#333333",
                fontweight="bold" if numbered else "normal",
                annotation_clip=False,
                parse_math=False,
            )
            label.set_gid(f"eventlabel:{_iso(day)}")
            labels.append(label)
        ax.set_xlim(x[0] - 0.5, x[-1] + 0.5)
        ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=4, maxticks=8))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%-d %b %Y"))
        ax.set_xlabel(f"Trading day ({_iso(dates[0])} to {_iso(dates[-1])})")
        ax.set_ylabel(f"Price index (close of {base} = 100)")
        if markets:
            ax.legend(
                handles=[
                    Line2D(
                        [],
                        [],
                        color=BLACK if k == 0 else MUTED,
                        linewidth=2.2,
                        linestyle=(0, (5, 2)),
                        label=f"Market: {_index_label(m)}",
                    )
                    for k, m in enumerate(markets)
                ],
                loc="best",
            )
        rows_needed = _stagger(fig, ax, labels)
        growth = "exp(r)" if kind == "log" else "1 + r"
        notes = [
            "Dashed vertical lines: each event's day 0.",
            f"Index = 100 at the close of {base}, compounded with ({growth}) over the daily "
            f"{kind} returns of the study's returns panel.",
        ]
        if broken:
            notes.append(f"Lines end at a missing return: {', '.join(broken)}.")
        if numbered:
            notes.append(
                "Events: "
                + "; ".join(
                    f"{n_mark}: {' / '.join(names)} ({_iso(day)})"
                    for n_mark, (day, names) in enumerate(marks.items(), start=1)
                )
                + "."
            )
        notes.append("Source: eventstudy" + _price_source(results) + ".")
        subtitle = (
            f"{len(stocks)} stock{'s' if len(stocks) != 1 else ''} · {len(results.events)} "
            f"event{'s' if len(results.events) != 1 else ''} · close of {base} = 100"
        )
        line_pt = _pt(_LABEL_SIZE - 0.5) * 1.35
        _decorate(
            fig,
            ax,
            f"{results.title}: share prices and events",
            subtitle,
            notes,
            top_pad=7 + rows_needed * line_pt / _SIZE.get().font,
        )
        _direct_labels(fig, ax, ends)
    return fig


def plot_caar_comparison(
    results: EventStudyResults,
    events: Sequence[str] | None = None,
    *,
    size: str | FigureSize | None = None,
) -> Figure:
    """The average CAR path of several events on one chart, each with its 95% band.

    Each line is the mean across an event's stocks of their CARs (cumulated from the first day of
    the event's window) on each day relative to that event's day 0; the band is
    ``mean ± t(0.975, N-1)·sd/√N`` across the stocks, drawn when there are at most
    ``MAX_CAAR_BANDS`` events. Lines are labelled at their right-hand end.

    Raises
    ------
    ValueError
        For an unknown event, or when no chosen event has abnormal returns.
    """
    names = [e.name for e in results.events] if events is None else list(dict.fromkeys(events))
    picked = [_pick_event(results, name) for name in names]
    ar = results.ar_frame()
    paths = []
    skipped = []
    for i, ev in picked:
        sub = ar[ar["event"] == ev.name]
        car = sub.pivot(index="rel_day", columns="ticker", values="car")
        values = car.to_numpy(dtype=float) * 100.0
        if not np.isfinite(values).any():
            skipped.append(ev.name)
            continue
        across = cross_sectional_t(values, axis=1)
        n_valid = across["n"]
        with np.errstate(invalid="ignore", divide="ignore"):
            half = stats.t.ppf(0.975, n_valid - 1) * across["sd"] / np.sqrt(n_valid)
        half = np.where(n_valid > 1, half, np.nan)
        days = car.index.to_numpy(dtype=float)
        paths.append((i, ev, days, across["mean"], half, int(n_valid.max())))
    if not paths:
        raise ValueError("no abnormal returns to compare")
    bands = len(paths) <= MAX_CAAR_BANDS

    with _house_style(size):
        fig, ax = _figure_and_axes(None, _width(), _line_height(len(paths)))
        ends: list[tuple[str, float, float, str, bool]] = []
        for k, (_i, ev, days, mean, half, _n) in enumerate(paths):
            colour = LINE_COLOURS[k % len(LINE_COLOURS)]
            if bands:
                poly = ax.fill_between(
                    days, mean - half, mean + half, color=colour, alpha=0.12, linewidth=0
                )
                poly.set_gid(f"band:{ev.name}")
            (line,) = ax.plot(
                days,
                mean,
                color=colour,
                linewidth=2.2,
                marker="o",
                markersize=3.2 * _SIZE.get().font,
                label=ev.name,
            )
            line.set_gid(f"caar:{ev.name}")
            last = _last_finite(days, mean)
            if last is not None:
                ends.append((ev.name, *last, colour, False))
        _mark_day0(ax, None)
        ax.axhline(0, color="#333333", linewidth=0.8, zorder=1.5)
        _day_axis(ax, np.concatenate([p[2] for p in paths]))
        ax.set_xlabel("Trading days relative to each event's day 0")
        ax.set_ylabel("Cumulative average abnormal return (%)")
        if bands:
            ax.legend(
                handles=[Patch(color="#777777", alpha=0.25, label="95% band of the average")],
                loc="best",
            )
        counts = ", ".join(f"{ev.name} {n}" for _i, ev, *_rest, n in paths)
        notes = [
            "CAAR: the mean of the stocks' CARs, each cumulated from the first day of its "
            "event's window"
            + (
                "; bands: mean ± t(0.975, N−1)·sd/√N across stocks."
                if bands
                else f"; 95% bands left out above {MAX_CAAR_BANDS} events."
            ),
            f"Stocks per event: {counts}.",
        ]
        if skipped:
            notes.append(f"Not shown (no abnormal returns): {', '.join(skipped)}.")
        models = list(dict.fromkeys(_model_text(results, i, ev) for i, ev, *_rest in paths))
        notes.append(f"Source: eventstudy; {'; '.join(models)}.")
        subtitle = f"{results.title} · {len(paths)} event{'s' if len(paths) != 1 else ''}"
        if len(paths) <= MAX_CAAR_BANDS:
            subtitle += " · day 0 " + ", ".join(_iso(results.day0_dates[i]) for i, *_rest in paths)
        _decorate(fig, ax, "Average cumulative abnormal return by event", subtitle, notes)
        _direct_labels(fig, ax, ends)
    return fig


def model_groups(results: EventStudyResults) -> list[list[str]]:
    """Names of events that share day 0 and tickers but not the normal-return model, per group
    (study order): what :func:`plot_model_comparison` compares."""
    groups: dict[tuple[Any, tuple[str, ...]], list[int]] = {}
    for i, ev in enumerate(results.events):
        groups.setdefault((results.day0_dates[i], tuple(sorted(ev.tickers))), []).append(i)
    out = []
    for members in groups.values():
        labels = {_model_label(results, i, results.events[i]) for i in members}
        if len(members) >= 2 and len(labels) >= 2:
            out.append([results.events[i].name for i in members])
    return out


def plot_model_comparison(
    results: EventStudyResults,
    events: Sequence[str] | None = None,
    tickers: Sequence[str] | None = None,
    *,
    max_panels: int = 12,
    size: str | FigureSize | None = None,
) -> Figure:
    """The same stocks' CAR paths under several normal-return models, one panel per stock.

    ``events`` name events with the same day 0 (and usually the same tickers) fitted with
    different models, as in ``examples/models.yaml``; by default the first group of
    :func:`model_groups`. The first panel is the average across the stocks (band:
    ``mean ± t(0.975, N-1)·sd/√N``), then one panel per stock (band: ``CAR ± 1.96·SE``), at most
    ``max_panels`` in all; one line per model, on shared axes. With a single ticker in
    ``tickers`` the chart is that stock's panel alone.

    Raises
    ------
    ValueError
        When there is nothing to compare (fewer than two events, different day 0s, no common
        ticker with abnormal returns), for unknown events or tickers.
    """
    if events is None:
        groups = model_groups(results)
        if not groups:
            raise ValueError(
                "no events to compare: a model comparison needs events with the same day 0 and "
                "tickers but different models"
            )
        names = groups[0]
    else:
        names = list(dict.fromkeys([events] if isinstance(events, str) else events))
    if len(names) < 2:
        raise ValueError("a model comparison needs at least two events")
    picked = [_pick_event(results, name) for name in names]
    day0s = sorted({results.day0_dates[i] for i, _ in picked})
    if len(day0s) > 1:
        raise ValueError(
            f"events {', '.join(repr(n) for n in names)} have different day 0s "
            f"({', '.join(_iso(d) for d in day0s)})"
        )
    common = [t for t in picked[0][1].tickers if all(t in ev.tickers for _, ev in picked)]
    if tickers is not None:
        wanted = list(dict.fromkeys([tickers] if isinstance(tickers, str) else tickers))
        unknown = [t for t in wanted if t not in common]
        if unknown:
            raise ValueError(
                f"ticker(s) {', '.join(unknown)} not in every compared event "
                f"(common tickers: {', '.join(common)})"
            )
        common = wanted
    ar = results.ar_frame()
    car: dict[str, pd.DataFrame] = {}
    se: dict[str, pd.DataFrame] = {}
    for _i, ev in picked:
        sub = ar[ar["event"] == ev.name]
        car[ev.name] = sub.pivot(index="rel_day", columns="ticker", values="car") * 100.0
        se[ev.name] = sub.pivot(index="rel_day", columns="ticker", values="car_se") * 100.0
    shown = [
        t
        for t in common
        if any(
            t in car[ev.name] and np.isfinite(car[ev.name][t].to_numpy(dtype=float)).any()
            for _, ev in picked
        )
    ]
    if not shown:
        raise ValueError("no common ticker has abnormal returns under the compared models")
    single = tickers is not None and len(shown) == 1
    panels = shown[:1] if single else ["Average", *shown][: max(1, max_panels)]
    omitted = [t for t in shown if t not in panels]
    labels = [_model_label(results, i, ev) for i, ev in picked]
    i0, ev0 = picked[0]
    day0 = _iso(results.day0_dates[i0])
    all_days = np.unique(np.concatenate([car[n].index.to_numpy(dtype=float) for n in car]))

    with _house_style(size):
        size_now = _SIZE.get()
        average = panels[0] == "Average"
        stocks = panels[1:] if average else panels
        ncols = 2 if len(stocks) in (2, 4) else max(1, min(3, len(stocks)))
        nrows = math.ceil(len(stocks) / ncols) + (1 if average else 0)
        height = (
            _line_height(len(names)) + 0.6
            if len(panels) == 1
            else 2.0 * size_now.height + 2.2 * nrows * size_now.font
        )
        fig = _new_figure(_width(), height)
        spec = fig.add_gridspec(nrows, ncols)
        axes: list[Axes] = []
        where: dict[int, tuple[int, int]] = {}  # stock panel -> (row, column)
        if average:
            axes.append(fig.add_subplot(spec[0, :]))
        first: Axes | None = None  # the stock panels share their x axis
        for k in range(len(stocks)):
            row, col = divmod(k, ncols)
            row += 1 if average else 0
            where[len(axes)] = (row, col)
            axes.append(fig.add_subplot(spec[row, col], sharex=first))
            first = first or axes[-1]
        for k, name in enumerate(panels):
            ax = axes[k]
            for j, (_i, ev) in enumerate(picked):
                colour = LINE_COLOURS[j % len(LINE_COLOURS)]
                frame = car[ev.name]
                days = frame.index.to_numpy(dtype=float)
                if name == "Average":
                    cols = [t for t in shown if t in frame.columns]
                    across = cross_sectional_t(frame[cols].to_numpy(dtype=float), axis=1)
                    path, n_valid = across["mean"], across["n"]
                    with np.errstate(invalid="ignore", divide="ignore"):
                        half = stats.t.ppf(0.975, n_valid - 1) * across["sd"] / np.sqrt(n_valid)
                    half = np.where(n_valid > 1, half, np.nan)
                elif name in frame.columns:
                    path = frame[name].to_numpy(dtype=float)
                    half = 1.96 * se[ev.name][name].to_numpy(dtype=float)
                else:
                    continue
                if j == 0:  # the first model's band: the others' paths are read against it
                    poly = ax.fill_between(
                        days, path - half, path + half, color=colour, alpha=0.13, linewidth=0
                    )
                    poly.set_gid(f"modelband:{name}:{ev.name}")
                (line,) = ax.plot(
                    days,
                    path,
                    color=colour,
                    linewidth=2.2 if name == "Average" else 1.6,
                    label=labels[j],
                )
                line.set_gid(f"model:{name}:{ev.name}")
            ax.axhline(0, color="#333333", linewidth=0.8, zorder=1.5)
            ax.axvline(0, color=MUTED, linewidth=0.9, linestyle=(0, (3, 2)), zorder=1.6).set_gid(
                "day0"
            )
            if not single:
                title = f"Average of {len(shown)} stocks" if name == "Average" else name
                ax.set_title(
                    title,
                    loc="left",
                    fontsize=_pt(10),
                    fontweight="bold",
                    color="#222222",
                    pad=_pt(4),
                ).set_gid(f"panel:{name}")
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _fmt_num(v)))
            ax.yaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
        if average or single:
            _day_axis(axes[0], all_days)
        if first is not None and not single:  # narrow panels: fewer day ticks
            _day_axis(first, all_days)
            first.xaxis.set_major_locator(
                MaxNLocator(nbins=5 if ncols > 1 else 10, integer=True, steps=[1, 2, 5, 10])
            )
        occupied = set(where.values())
        for k, ax in enumerate(axes):
            if k not in where:  # the average, on top, full width
                ax.set_ylabel("CAR (%)")
                if len(panels) == 1:
                    ax.set_xlabel("Days relative to day 0")
                continue
            row, col = where[k]
            if (row + 1, col) in occupied:
                ax.tick_params(axis="x", labelbottom=False)
            else:
                ax.set_xlabel("Days relative to day 0")
            if col == 0:
                ax.set_ylabel("CAR (%)")
        handles = [
            Line2D([], [], color=LINE_COLOURS[j % len(LINE_COLOURS)], linewidth=2.0, label=lab)
            for j, lab in enumerate(labels)
        ]
        w0 = min(ev.event_window[0] for _, ev in picked)
        bands = (
            "CAR ± 1.96·SE, prediction error included"
            if single
            else "a stock: CAR ± 1.96·SE, prediction error included; the average: "
            "mean ± t(0.975, N−1)·sd/√N across stocks"
        )
        notes = [
            f"Lines: each model's CAR, cumulated from day {_signed(w0)}. Shaded: the 95% band "
            f"under the first model, {labels[0]} ({bands}).",
            "Events compared: " + ", ".join(ev.name for _, ev in picked) + ".",
        ]
        if omitted:
            notes.append(f"Not shown (panel limit {max_panels}): {', '.join(omitted)}.")
        a, b = ev0.estimation_window
        notes.append(f"Source: eventstudy; estimation window [{_signed(a)}, {_signed(b)}].")
        who = shown[0] if single else f"{len(shown)} stock{'s' if len(shown) != 1 else ''}"
        subtitle = f"{results.title} · {who} · day 0 = {day0} · one line per model"
        title = (
            f"{shown[0]}: CAR under {len(names)} normal-return models"
            if single
            else f"CAR under {len(names)} normal-return models"
        )
        _decorate_grid(fig, axes, title, subtitle, notes, handles)
    return fig


@dataclass(frozen=True)
class ChartSpec:
    """One chart of a study: its file stem (``<event-slug>_<chart>`` or ``study_<chart>``), the
    chart's name (one of :data:`CHARTS`), its event, and the events a model comparison
    compares."""

    stem: str
    chart: str
    event: str | None = None
    events: tuple[str, ...] = ()

    @property
    def needs_panel(self) -> bool:
        """Drawn from the returns panel, so not from result tables read back from files."""
        return self.chart in PANEL_CHARTS


def event_slugs(results: EventStudyResults) -> dict[str, str]:
    """A distinct file-name slug per event name (``-2``, ``-3``... when two names share one)."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for ev in results.events:
        slug = base = slugify(ev.name)
        n = 1
        while slug in used:
            n += 1
            slug = f"{base}-{n}"
        used.add(slug)
        out[ev.name] = slug
    return out


def chart_plan(results: EventStudyResults, max_events: int | None = None) -> list[ChartSpec]:
    """Every chart the study gets, in order: per event (:data:`EVENT_CHARTS`, each only when the
    event has the data for it; only the first ``max_events`` events when given), then the
    whole-study charts (:data:`STUDY_CHARTS`), which cover every event: the timeline; the CAAR
    comparison with two or more events; a model comparison per group of :func:`model_groups`."""
    ar = results.ar_frame()
    finite = np.isfinite(ar["car"].to_numpy(dtype=float))
    with_car = set(ar.loc[finite, "event"])
    day0 = ar["rel_day"].to_numpy() == 0
    with_day0 = set(ar.loc[day0 & np.isfinite(ar["ar"].to_numpy(dtype=float)), "event"])
    slugs = event_slugs(results)
    specs = []
    for ev in results.events[:max_events]:
        available = {
            "car": ev.name in with_car,
            "day0_ar": ev.name in with_day0,
            "ar_heatmap": ev.name in with_car,
            "prices": True,
            "value": _has_value_data(results, ev),
        }
        for chart in EVENT_CHARTS:
            if available[chart]:
                specs.append(ChartSpec(f"{slugs[ev.name]}_{chart}", chart, ev.name))
    specs.append(ChartSpec("study_timeline", "timeline"))
    if sum(ev.name in with_car for ev in results.events) >= 2:
        specs.append(ChartSpec("study_caar", "caar"))
    for k, group in enumerate(model_groups(results)):
        stem = "study_models" if k == 0 else f"study_models-{k + 1}"
        specs.append(ChartSpec(stem, "models", events=tuple(group)))
    return specs


def draw_chart(
    results: EventStudyResults, spec: ChartSpec, size: str | FigureSize | None = None
) -> Figure:
    """Draw the chart ``spec`` describes (see :func:`chart_plan`)."""
    if spec.chart == "car":
        return plot_car(results, event=spec.event, size=size)
    if spec.chart == "day0_ar":
        return plot_day0_ar(results, event=spec.event, size=size)
    if spec.chart == "ar_heatmap":
        return plot_ar_heatmap(results, event=spec.event, size=size)
    if spec.chart == "prices":
        return plot_prices(results, event=spec.event, size=size)
    if spec.chart == "value":
        _i, ev = _pick_event(results, spec.event)
        return plot_value(results, event=spec.event, window=_value_window(ev), size=size)
    if spec.chart == "timeline":
        return plot_events_timeline(results, size=size)
    if spec.chart == "caar":
        return plot_caar_comparison(results, size=size)
    if spec.chart == "models":
        return plot_model_comparison(results, events=spec.events or None, size=size)
    raise ValueError(f"unknown chart {spec.chart!r} (charts: {', '.join(CHARTS)})")


def save_figures(
    results: EventStudyResults,
    directory: Path | str,
    formats: Sequence[str] = ("png", "svg"),
    *,
    size: str | FigureSize = "report",
    charts: Sequence[str] | None = None,
    max_events: int | None = None,
    progress: bool | None = False,
) -> list[Path]:
    """Write every chart of :func:`chart_plan` (or only the named ``charts``) in ``formats``.

    ``max_events`` limits the per-event charts to the first events (a study of a thousand events
    would otherwise draw five thousand charts); ``progress`` shows a bar on stderr (None: when
    stderr is a terminal and drawing takes more than a second).

    Files are named ``<stem>.<fmt>``: ``<event-slug>_<chart>`` per event (slug from
    :func:`eventstudy.study.slugify`, so names hold only ``a-z0-9-_`` whatever the event names and
    tickers; ``-2``, ``-3``... is appended if two event names share a slug) and ``study_<chart>``
    for the whole-study charts. ``formats``: any of ``png`` (200 dpi), ``svg``, ``pdf``.
    ``size``: one of :data:`SIZES`. Every file is cropped to its content and written atomically
    (a temporary file in ``directory``, then :func:`os.replace`). Returns the paths written, in
    order.

    Raises
    ------
    ValueError
        For an unsupported format, size or chart name.
    EventStudyError
        When ``directory`` cannot be created or written to (one line).
    """
    directory = Path(directory)
    if isinstance(formats, str):
        formats = [formats]
    fmts = list(dict.fromkeys(f.lower().lstrip(".") for f in formats))
    unknown = [f for f in fmts if f not in FORMATS]
    if unknown:
        raise ValueError(
            f"unsupported figure format(s) {', '.join(unknown)} (choose from {', '.join(FORMATS)})"
        )
    spec_size = _figure_size(size)
    wanted = None if charts is None else set([charts] if isinstance(charts, str) else charts)
    if wanted is not None and wanted - set(CHARTS):
        bad = ", ".join(sorted(wanted - set(CHARTS)))
        raise ValueError(f"unknown chart(s) {bad} (charts: {', '.join(CHARTS)})")
    _writable_dir(directory)
    written: list[Path] = []
    plan = [
        spec
        for spec in chart_plan(results, max_events)
        if wanted is None or spec.chart in wanted
    ]
    with progress_bar(progress, len(plan), "charts", "chart") as bar:
        for spec in plan:
            written += _save_chart(results, spec, spec_size, directory, fmts)
            bar.update(1)
    return written


def _save_chart(
    results: EventStudyResults,
    spec: ChartSpec,
    spec_size: FigureSize,
    directory: Path,
    fmts: Sequence[str],
) -> list[Path]:
    """Draw one chart and write it in every format."""
    written: list[Path] = []
    fig = draw_chart(results, spec, size=spec_size)
    try:
        bbox = _freeze_layout(fig)
        for fmt in fmts:
            path = directory / f"{spec.stem}.{fmt}"
            try:
                _atomic_savefig(fig, path, fmt, bbox)
            except OSError as exc:
                message = f"cannot write figure {path}: {exc.strerror or exc}"
                raise EventStudyError(message) from None
            written.append(path)
    finally:
        fig.clear()  # not registered with pyplot: clearing frees the artists
    return written


def figure_png(fig: Figure, dpi: int = PNG_DPI) -> bytes:
    """The figure as PNG bytes, laid out and cropped as :func:`save_figures` does."""
    import io

    bbox = _freeze_layout(fig)
    buffer = io.BytesIO()
    with _house_style(_size_of(fig)):
        fig.savefig(buffer, format="png", dpi=dpi, bbox_inches=bbox)
    return buffer.getvalue()


# ----------------------------------------------------------------------------- helpers: data
def _pick_event(results: EventStudyResults, event: str | None) -> tuple[int, ResolvedEvent]:
    if not results.events:
        raise ValueError("the results have no events")
    if event is None:
        return 0, results.events[0]
    for i, ev in enumerate(results.events):
        if ev.name == event:
            return i, ev
    names = ", ".join(repr(e.name) for e in results.events)
    raise ValueError(f"unknown event {event!r} (events: {names})")


def _select_tickers(ev: ResolvedEvent, tickers: Sequence[str] | None) -> list[str]:
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


def _value_rows(
    results: EventStudyResults, ev: ResolvedEvent, window: tuple[int, int]
) -> pd.DataFrame:
    frame = results.valuation_frame()
    keep = (frame["event"] == ev.name) & (frame["start"] == window[0]) & (frame["end"] == window[1])
    return frame.loc[keep]


def _value_window(ev: ResolvedEvent) -> tuple[int, int]:
    if (0, 0) in ev.car_windows:
        return (0, 0)
    start, end = ev.car_windows[0]
    return (int(start), int(end))


def _has_value_data(results: EventStudyResults, ev: ResolvedEvent) -> bool:
    rows = _value_rows(results, ev, _value_window(ev))
    return bool(np.isfinite(rows["raw_dollar_change"].to_numpy(dtype=float)).any())


def _panel(results: EventStudyResults, what: str) -> Any:
    """The results' returns panel, or a ValueError saying ``what`` needs it."""
    panel = getattr(results, "panel", None)
    if panel is None:
        raise ValueError(
            f"{what} needs the returns panel, which results read back from files do not have"
        )
    return panel


def _returns_kind(results: EventStudyResults) -> str:
    kind = str(results.meta.get("returns", "simple"))
    if kind not in {"simple", "log"}:
        raise ValueError(f"unknown returns kind {kind!r} in results.meta (expected simple or log)")
    return kind


def _price_source(results: EventStudyResults) -> str:
    source = results.meta.get("price_source")
    return f"; prices: {source}" if source else ""


def _missing_value_notes(missing: pd.DataFrame) -> list[str]:
    no_shares = [
        t
        for t, note in zip(missing["ticker"], missing["note"], strict=True)
        if str(note).startswith("no shares outstanding")
    ]
    other = [
        (t, str(note) or "no value")
        for t, note in zip(missing["ticker"], missing["note"], strict=True)
        if t not in no_shares
    ]
    notes = []
    if no_shares:
        notes.append(f"n/a: no shares outstanding for {', '.join(no_shares)}.")
    for ticker, note in other:
        notes.append(f"n/a: {ticker} ({note}).")
    return notes


def _window_text(results: EventStudyResults, i: int, window: tuple[int, int]) -> str:
    d0 = int(results.panel.dates.get_loc(pd.Timestamp(results.day0_dates[i])))
    dates = results.panel.dates

    def at(day: int) -> str:
        row = d0 + day
        return _iso(dates[row]) if 0 <= row < len(dates) else f"day {_signed(day)}"

    a, b = window
    if a == b:
        return f"on day {_signed(a)} ({at(a)})"
    return f"over days [{_signed(a)}, {_signed(b)}] ({at(a)} to {at(b)})"


# ----------------------------------------------------------------------------- helpers: text
def _iso(date: Any) -> str:
    return pd.Timestamp(date).date().isoformat()


def _signed(day: int) -> str:
    return "0" if day == 0 else f"+{day}" if day > 0 else f"{MINUS}{-day}"


def _fmt_num(x: float) -> str:
    text = f"{x:g}"
    return text.replace("-", MINUS)


def _fmt_pct(value: float) -> str:
    sign = MINUS if value < 0 else "+" if value > 0 else ""
    return f"{sign}{abs(value):.1f}%"


def _fmt_billions(value: float) -> str:
    """``−$592B``, ``+$31B``, ``−$7.1B``, ``+$0.42B``."""
    sign = MINUS if value < 0 else "+" if value > 0 else ""
    size = abs(value)
    digits = 0 if size >= 9.95 else 1 if size >= 0.995 else 2
    return f"{sign}${size:,.{digits}f}B"


def _gain_or_loss(total: float) -> str:
    return "lost" if total < 0 else "gained"


def _model_label(results: EventStudyResults, i: int, ev: ResolvedEvent) -> str:
    """The normal-return model in words: the results' label when they have one."""
    labels = getattr(results, "model_labels", None)
    if labels is not None and i < len(labels) and labels[i]:
        return str(labels[i])
    for batch in getattr(results, "batches", ()):
        label = str(getattr(batch, "label", "") or "")
        if label and i in np.asarray(batch.event):
            return label
    return {
        "market": f"OLS market model vs {ev.market}",
        "market-adjusted": f"market-adjusted model vs {ev.market}",
        "constant-mean": "constant-mean-return model",
    }.get(ev.model, f"{ev.model} model vs {ev.market}")


def _model_text(results: EventStudyResults, i: int, ev: ResolvedEvent) -> str:
    a, b = ev.estimation_window
    return f"{_model_label(results, i, ev)}, estimation window [{_signed(a)}, {_signed(b)}]"


def _index_label(ticker: str) -> str:
    name = _INDEX_NAMES.get(ticker)
    return f"{name} ({ticker})" if name else ticker


def _sign_colour(value: float) -> str:
    return NEGATIVE if value < 0 else POSITIVE


# ----------------------------------------------------------------------------- helpers: drawing
def _figure_size(size: str | FigureSize | None) -> FigureSize:
    """The :class:`FigureSize` named by ``size`` (None: the one in force, ``report`` outside)."""
    if size is None:
        return _SIZE.get()
    if isinstance(size, FigureSize):
        return size
    try:
        return SIZES[str(size)]
    except KeyError:
        raise ValueError(f"unknown figure size {size!r} (choose from {', '.join(SIZES)})") from None


@contextlib.contextmanager
def _house_style(size: str | FigureSize | None = None) -> Iterator[None]:
    """The house style (and ``size``'s type scale) in force, under the module lock."""
    spec = _figure_size(size)
    with _STYLE_LOCK, matplotlib.style.context(STYLE_PATH):
        if spec.font != 1.0:
            for key in _FONT_KEYS:
                value = mpl.rcParams[key]
                if isinstance(value, int | float):
                    mpl.rcParams[key] = value * spec.font
        token = _SIZE.set(spec)
        try:
            yield
        finally:
            _SIZE.reset(token)


def _pt(points: float) -> float:
    """A type size or offset in points, scaled for the figure size in force."""
    return points * _SIZE.get().font


def _width() -> float:
    return _SIZE.get().width


def _size_of(fig: Figure) -> FigureSize:
    """The size a figure was drawn at (``report`` for figures not drawn here)."""
    size = getattr(fig, "_eventstudy_size", None)
    return size if isinstance(size, FigureSize) else SIZES["report"]


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    fig._eventstudy_size = _SIZE.get()  # type: ignore[attr-defined]
    return fig


def _figure_and_axes(ax: Axes | None, width: float, height: float) -> tuple[Figure, Axes]:
    if ax is not None:
        try:
            fig = ax.get_figure(root=True)  # type: ignore[call-arg]
        except TypeError:  # matplotlib < 3.10
            fig = ax.figure
        return fig, ax
    fig = _new_figure(width, height)
    return fig, fig.add_subplot()


def _line_height(n: int) -> float:
    """Figure height (inches) for a line chart with ``n`` direct labels: room for each label."""
    size = _SIZE.get()
    return max(5.4 * size.height, 2.4 * size.height + 0.18 * n * size.font)


def _bar_height(n: float) -> float:
    """Figure height (inches) for ``n`` horizontal bars: grows with the number of bars."""
    size = _SIZE.get()
    return max(3.6 * size.height, 2.3 * size.height + 0.3 * n * size.font)


def _decorate(
    fig: Figure,
    ax: Axes,
    title: str,
    subtitle: str,
    notes: list[str],
    top_pad: float = 17,
) -> None:
    """Bold title and grey subtitle above the axes, small grey footer (one paragraph per item of
    ``notes``) below the x-axis label; all flush with the axes' left edge and wrapped to the
    axes' width (wider text would make constrained layout shrink the axes again and again).
    ``top_pad``: points between the axes' top and the subtitle (room for labels above the axes)."""
    common: dict[str, Any] = {
        "textcoords": "offset points",
        "ha": "left",
        "annotation_clip": False,
        "parse_math": False,
    }
    sub = ax.annotate(
        "",
        xy=(0, 1),
        xycoords="axes fraction",
        xytext=(0, _pt(top_pad)),
        va="bottom",
        fontsize=_pt(_SUBTITLE_SIZE),
        color="#444444",
        **common,
    )
    head = ax.annotate(
        "",
        xy=(0, 1),
        xycoords=("axes fraction", sub),
        xytext=(0, _pt(5)),
        va="bottom",
        fontsize=_pt(_TITLE_SIZE),
        fontweight="bold",
        color="#111111",
        **common,
    )
    note = ax.annotate(
        "",
        xy=(0, 0),
        xycoords=("axes fraction", ax.xaxis.label),
        xytext=(0, -_pt(8)),
        va="top",
        fontsize=_pt(_FOOTER_SIZE),
        color=MUTED,
        linespacing=1.35,
        **common,
    )
    for artist, gid in ((sub, "subtitle"), (head, "title"), (note, "footer")):
        artist.set_gid(gid)
    fig.draw_without_rendering()  # place the axes: their width does not depend on these texts
    renderer = fig._get_renderer()
    avail = ax.get_window_extent(renderer).width
    for text, paragraphs in ((head, [title]), (sub, [subtitle]), (note, notes)):
        _wrap_text(text, paragraphs, avail, renderer)


def _wrap(paragraphs: list[str], chars: int) -> str:
    return "\n".join(line for p in paragraphs for line in textwrap.wrap(p, chars))


def _wrap_text(text: Text, paragraphs: list[str], avail: float, renderer: Any) -> None:
    """Wrap ``paragraphs`` into ``text`` with lines as long as fit in ``avail`` pixels."""
    chars = max((len(p) for p in paragraphs), default=1)
    for _ in range(8):
        text.set_text(_wrap(paragraphs, chars))
        width = text.get_window_extent(renderer).width
        if width <= avail or chars <= 20:
            return
        chars = max(20, min(chars - 1, int(chars * avail / width)))


def _mark_day0(ax: Axes, day0: str | None, band: bool = False) -> None:
    """Dashed line at day 0 (and a light band with ``band``), labelled above the axes:
    ``Day 0: <date>``, or ``Day 0`` when ``day0`` is None."""
    if band:
        ax.axvspan(-0.5, 0.5, color="#F2F2F2", zorder=0.5, linewidth=0).set_gid("day0_band")
    ax.axvline(0, color=MUTED, linewidth=0.9, linestyle=(0, (3, 2)), zorder=1.6).set_gid("day0")
    ax.annotate(
        "Day 0" if day0 is None else f"Day 0: {day0}",
        xy=(0, 1),
        xycoords=("data", "axes fraction"),
        xytext=(0, _pt(3)),
        textcoords="offset points",
        ha="center",
        va="bottom",
        fontsize=_pt(_LABEL_SIZE - 0.5),
        color=MUTED,
        annotation_clip=False,
        parse_math=False,
    )


def _day_axis(ax: Axes, days: np.ndarray) -> None:
    ax.xaxis.set_major_locator(
        MaxNLocator(nbins=min(len(days), 12), integer=True, steps=[1, 2, 5, 10])
    )
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: _signed(round(x))))
    ax.set_xlim(days.min() - 0.3, days.max() + 0.3)


def _band(
    ax: Axes,
    x: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    colour: str,
    *,
    alpha: float,
    zorder: float = 2.0,
) -> None:
    """A shaded band with faint edges (the edges also keep the legend off the band)."""
    ax.fill_between(x, lo, hi, color=colour, alpha=alpha, linewidth=0, zorder=zorder)
    for edge in (lo, hi):
        (line,) = ax.plot(
            x, edge, color=colour, linewidth=0.5, alpha=0.45, zorder=zorder, solid_capstyle="butt"
        )
        line.set_gid("band-edge")


def _last_finite(x: np.ndarray, y: np.ndarray) -> tuple[float, float] | None:
    ok = np.flatnonzero(np.isfinite(y))
    if not len(ok):
        return None
    return float(x[ok[-1]]), float(y[ok[-1]])


def _spread(desired: np.ndarray, gap: float, lo: float, hi: float) -> np.ndarray:
    """Positions as close as possible to ``desired`` with at least ``gap`` between neighbours,
    within ``[lo, hi]`` when they fit (clusters of overlapping labels are centred on their mean)."""
    order = np.argsort(desired, kind="stable")
    d = desired[order]
    clusters: list[list[int]] = []  # index ranges into d

    def start(c: list[int]) -> float:
        members = np.arange(c[0], c[1])
        return float(np.mean(d[members] - (members - c[0]) * gap))

    for k in range(len(d)):
        clusters.append([k, k + 1])
        while len(clusters) > 1:
            prev, last = clusters[-2], clusters[-1]
            if start(prev) + (prev[1] - prev[0]) * gap <= start(last) + 1e-12:
                break
            clusters[-2:] = [[prev[0], last[1]]]
    pos = np.empty_like(d)
    for c in clusters:
        s = start(c)
        pos[c[0] : c[1]] = s + np.arange(c[1] - c[0]) * gap
    # Keep inside [lo, hi] when there is room, without re-creating overlaps.
    if len(pos) and (len(pos) - 1) * gap <= hi - lo:
        pos[0] = max(pos[0], lo)
        for k in range(1, len(pos)):
            pos[k] = max(pos[k], pos[k - 1] + gap)
        pos[-1] = min(pos[-1], hi)
        for k in range(len(pos) - 2, -1, -1):
            pos[k] = min(pos[k], pos[k + 1] - gap)
    out = np.empty_like(pos)
    out[order] = pos
    return out


def _direct_labels(fig: Figure, ax: Axes, ends: list[tuple[str, float, float, str, bool]]) -> None:
    """Label each line just right of the axes at the height of its last point, spread apart so
    the labels never overlap; a thin leader joins a label that had to move to its line."""
    if not ends:
        return
    ax.set_xlim(*ax.get_xlim())  # freeze the limits before converting points to data units
    ax.set_ylim(*ax.get_ylim())
    fig.draw_without_rendering()  # settle the layout so the axes' height is known
    height_pt = ax.get_window_extent().height * 72.0 / fig.dpi
    lo, hi = ax.get_ylim()
    # Shrink the labels (not below 6.5 pt) when they would not fit beside the axes.
    size = max(_pt(6.5), min(_pt(_LABEL_SIZE), height_pt / len(ends) / 1.3))
    gap = size * 1.3 * (hi - lo) / max(height_pt, 1.0)
    placed = _spread(np.array([e[2] for e in ends]), gap, lo + 0.5 * gap, hi - 0.5 * gap)
    x0, x1 = ax.get_xlim()
    trans = ax.get_yaxis_transform()  # x in axes fraction, y in data units
    for (label, x, y, colour, bold), pos in zip(ends, placed, strict=True):
        if abs(pos - y) > 0.35 * gap:
            (leader,) = ax.plot(
                [(x - x0) / (x1 - x0) + 0.004, 1.03],
                [y, pos],
                transform=trans,
                color=colour,
                linewidth=0.6,
                alpha=0.7,
                clip_on=False,
                zorder=1.8,
            )
            leader.set_gid("leader")
        text = ax.text(
            1.036,
            pos,
            label,
            transform=trans,
            ha="left",
            va="center",
            fontsize=size,
            color=colour,
            fontweight="bold" if bold else "normal",
            clip_on=False,
            parse_math=False,
        )
        text.set_gid(f"endlabel:{label}")


def _bar_label(
    ax: Axes,
    value: float,
    y: float,
    text: str,
    *,
    gid: str,
    bold: bool = False,
    pad: float = 4,
) -> Annotation:
    """Value label just beyond the end of a horizontal bar (on its side of zero)."""
    side = np.sign(value) or 1.0
    label = ax.annotate(
        text,
        xy=(value, y),
        xytext=(side * _pt(pad), 0),
        textcoords="offset points",
        ha="left" if side > 0 else "right",
        va="center",
        fontsize=_pt(_LABEL_SIZE),
        color="#222222",
        fontweight="bold" if bold else "normal",
        annotation_clip=False,
        parse_math=False,
    )
    label.set_gid(gid)
    return label


def _clear_markers(
    ax: Axes, labels: list[Annotation], values: np.ndarray, marks: np.ndarray
) -> None:
    """Move a bar's value label off the marker drawn just beyond the bar's end: inside the bar
    (in white) when it fits there, else beyond the marker. Needs the layout in place."""
    fig = ax.get_figure()
    assert fig is not None
    renderer = fig._get_renderer()
    to_px = ax.transData.transform
    radius = 5.0 * fig.dpi / 72.0
    for label, v, m in zip(labels, values, marks, strict=True):
        if not np.isfinite(m) or np.sign(m) != np.sign(v):
            continue
        box = label.get_window_extent(renderer)
        marker_px = to_px((m, 0.0))[0]
        if not box.x0 - radius <= marker_px <= box.x1 + radius:
            continue
        side = 1.0 if v >= 0 else -1.0
        bar_px = abs(to_px((v, 0.0))[0] - to_px((0.0, 0.0))[0])
        if box.width + 8.0 * fig.dpi / 72.0 <= bar_px:
            label.set_position((-side * 4, 0))  # offset points, back inside the bar
            label.set_horizontalalignment("right" if side > 0 else "left")
            label.set_color("white")
        else:
            label.xy = (m, label.xy[1])
            label.set_position((side * 7, 0))


def _fit_texts_x(fig: Figure, ax: Axes, texts: list[Annotation]) -> None:
    """Widen the x-limits so every bar label lies inside the axes.

    A label sticks out ``w`` pixels beyond its anchor ``a`` (a data x), so it fits when
    ``a + w·(hi − lo)/W <= hi`` (right of the anchor; mirrored on the left), ``W`` being the axes'
    width in pixels: solved by fixed-point iteration, then checked after a new layout."""
    ax.set_xlim(*ax.get_xlim())
    for _ in range(3):
        fig.draw_without_rendering()
        lo, hi = ax.get_xlim()
        width_px = max(ax.get_window_extent().width, 1.0)
        right: list[tuple[float, float]] = []
        left: list[tuple[float, float]] = []
        for t in texts:
            box = t.get_window_extent()
            anchor = float(t.xy[0])
            at = ax.transData.transform((anchor, 0.0))[0]
            pad = 3.0 * fig.dpi / 72.0
            if box.x1 > at + 0.5:
                right.append((anchor, (box.x1 - at + pad) / width_px))
            if box.x0 < at - 0.5:
                left.append((anchor, (at - box.x0 + pad) / width_px))
        if max((k for _, k in right), default=0.0) + max((k for _, k in left), default=0.0) > 0.8:
            return  # labels about as wide as the axes: widening cannot make them fit
        new_lo, new_hi = lo, hi
        for _ in range(100):
            span = new_hi - new_lo
            want_hi = max([hi, *(a + k * span for a, k in right)])
            want_lo = min([lo, *(a - k * span for a, k in left)])
            if abs(want_hi - new_hi) + abs(want_lo - new_lo) <= 1e-9 * span:
                break
            new_lo, new_hi = want_lo, want_hi
        if new_lo >= lo - 1e-9 * (hi - lo) and new_hi <= hi + 1e-9 * (hi - lo):
            return
        ax.set_xlim(new_lo, new_hi)


def _writable_dir(directory: Path) -> None:
    """Create ``directory`` (and parents), or raise a one-line :class:`EventStudyError`."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EventStudyError(
            f"cannot create figures folder {directory}: {exc.strerror or exc}"
        ) from None
    if not os.access(directory, os.W_OK):
        raise EventStudyError(f"figures folder {directory} is not writable")


def _nice_ceiling(x: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k that is >= ``x`` (``x`` > 0)."""
    if not x > 0 or not math.isfinite(x):
        return 1.0
    exponent = math.floor(math.log10(x))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        value = step * 10.0**exponent
        if value >= x * (1 - 1e-12):
            return value
    return 10.0 ** (exponent + 1)


def _diverging_cmap() -> LinearSegmentedColormap:
    """Vermillion (loss) - white - blue (gain): the bar charts' sign colours, colour-blind safe."""
    cmap = LinearSegmentedColormap.from_list(
        "eventstudy_diverging",
        [(0.0, "#8F3E00"), (0.25, NEGATIVE), (0.5, "#F7F7F7"), (0.75, POSITIVE), (1.0, "#003F63")],
    )
    return cmap.with_extremes(bad="#D9D9D9")


def _heat_height(n: int) -> float:
    """Figure height (inches) for a heatmap of ``n`` rows: at least 14 pt a row."""
    size = _SIZE.get()
    return max(3.8 * size.height, 2.5 * size.height + 0.27 * n * size.font)


def _fmt_cell(value: float) -> str:
    text = f"{value:.0f}" if abs(value) >= 99.95 else f"{value:.1f}"
    if float(text) == 0:
        text = text.lstrip("-")  # no "−0.0"
    return text.replace("-", MINUS)


def _day0_label(ax: Axes, text: str) -> None:
    ax.annotate(
        text,
        xy=(0, 1),
        xycoords=("data", "axes fraction"),
        xytext=(0, _pt(3)),
        textcoords="offset points",
        ha="center",
        va="bottom",
        fontsize=_pt(_LABEL_SIZE - 0.5),
        color=MUTED,
        annotation_clip=False,
        parse_math=False,
    )


def _stagger(fig: Figure, ax: Axes, labels: list[Annotation]) -> int:
    """Lift labels above the axes into as many rows as needed so that none overlaps another;
    labels that would stick out beyond the axes are turned to start (end) at their mark.
    Returns the number of rows."""
    if not labels:
        return 1
    fig.draw_without_rendering()
    renderer = fig._get_renderer()
    axes_box = ax.get_window_extent(renderer)
    gap = _pt(8) * fig.dpi / 72.0
    spans = []
    for label in labels:
        box = label.get_window_extent(renderer)
        if box.x0 < axes_box.x0:
            label.set_horizontalalignment("left")
            box = label.get_window_extent(renderer)
        elif box.x1 > axes_box.x1:
            label.set_horizontalalignment("right")
            box = label.get_window_extent(renderer)
        spans.append((box.x0, box.x1, label))
    line_pt = _pt(_LABEL_SIZE - 0.5) * 1.35
    row_ends: list[float] = []
    for x0, x1, label in sorted(spans, key=lambda s: s[0]):
        row = next((r for r, end in enumerate(row_ends) if x0 >= end + gap), len(row_ends))
        if row == len(row_ends):
            row_ends.append(x1)
        else:
            row_ends[row] = x1
        label.set_position((0, _pt(3) + row * line_pt))
    return len(row_ends)


def _decorate_grid(
    fig: Figure,
    axes: list[Axes],
    title: str,
    subtitle: str,
    notes: list[str],
    handles: list[Any],
) -> None:
    """Title, subtitle and a legend above a grid of axes, the footer below it, in bands that the
    constrained layout leaves free (its ``rect``); flush with the leftmost axes' edge and wrapped to
    the grid's width, as :func:`_decorate` does for one axes."""
    common: dict[str, Any] = {"ha": "left", "parse_math": False}
    head = fig.text(
        0, 1, "", va="top", fontsize=_pt(_TITLE_SIZE), fontweight="bold", color="#111111", **common
    )
    sub = fig.text(0, 1, "", va="top", fontsize=_pt(_SUBTITLE_SIZE), color="#444444", **common)
    note = fig.text(
        0,
        0,
        "",
        va="bottom",
        fontsize=_pt(_FOOTER_SIZE),
        color=MUTED,
        linespacing=1.35,
        **common,
    )

    def make_legend(ncols: int) -> Any:
        made = fig.legend(
            handles=handles,
            loc="upper left",
            ncols=ncols,
            frameon=False,
            borderaxespad=0.0,
            borderpad=0.0,
            handlelength=2.2,
        )
        made.set_gid("legend")
        return made

    legend = make_legend(max(1, len(handles)))
    for artist, gid in ((head, "title"), (sub, "subtitle"), (note, "footer")):
        artist.set_gid(gid)
    engine = fig.get_layout_engine()
    width_px, height_px = fig.bbox.width, fig.bbox.height
    margin = 0.06 * fig.dpi
    gap = _pt(4) * fig.dpi / 72.0
    for _ in range(2):
        fig.draw_without_rendering()
        renderer = fig._get_renderer()
        boxes = [ax.get_window_extent(renderer) for ax in axes]
        left = min(b.x0 for b in boxes)
        avail = max(b.x1 for b in boxes) - left
        for text, paragraphs in ((head, [title]), (sub, [subtitle]), (note, notes)):
            _wrap_text(text, paragraphs, avail, renderer)
        # As many legend columns as fit in the grid's width.
        ncols = max(1, len(handles))
        while ncols > 1 and legend.get_window_extent(renderer).width > avail:
            ncols -= 1
            legend.remove()
            legend = make_legend(ncols)
        h_head = head.get_window_extent(renderer).height
        h_sub = sub.get_window_extent(renderer).height
        h_leg = legend.get_window_extent(renderer).height
        h_note = note.get_window_extent(renderer).height
        y = height_px - margin
        head.set_position((left / width_px, y / height_px))
        y -= h_head + gap
        sub.set_position((left / width_px, y / height_px))
        y -= h_sub + 2 * gap
        legend.set_bbox_to_anchor((left / width_px, y / height_px), transform=fig.transFigure)
        y -= h_leg + 3 * gap
        note.set_position((left / width_px, margin / height_px))
        bottom = margin + h_note + 3 * gap
        if engine is not None and hasattr(engine, "set"):
            engine.set(rect=(0.0, bottom / height_px, 1.0, (y - bottom) / height_px))
    fig.draw_without_rendering()


def _freeze_layout(fig: Figure) -> Bbox:
    """Lay the figure out once and keep that layout, so that saving it in several formats does
    not redo it; returns the padded tight bounding box (inches) to save."""
    with _house_style(_size_of(fig)):
        fig.draw_without_rendering()
        bbox = fig.get_tightbbox().padded(_PAD_INCHES)
        fig.set_layout_engine("none")
    return bbox


def _atomic_savefig(fig: Figure, path: Path, fmt: str, bbox: Bbox | str = "tight") -> None:
    """Save to a temporary file beside ``path``, then move it into place."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        metadata: dict[str, Any] | None = None
        if fmt == "svg":
            metadata = {"Date": None}
        elif fmt == "pdf":
            metadata = {"CreationDate": None}
        with os.fdopen(fd, "wb") as fh, _house_style(_size_of(fig)):
            fig.savefig(fh, format=fmt, dpi=PNG_DPI, bbox_inches=bbox, metadata=metadata)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
