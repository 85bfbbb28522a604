"""Report-ready charts of event-study results.

Every chart is built with matplotlib's object-oriented API: a :class:`~matplotlib.figure.Figure`
with an Agg canvas, never pyplot, so no display is needed and no figure is registered globally. Each
``plot_*`` function draws in the house style (``eventstudy.mplstyle``, beside this module) and
returns the figure without saving it; :func:`save_figures` writes every chart of every event.

* :func:`plot_car` -- CAR paths over the event window per stock, with the cross-sectional average
  and its 95% band;
* :func:`plot_day0_ar` -- day-0 abnormal returns by stock, sorted, significant ones starred;
* :func:`plot_prices` -- prices indexed to 100 on day -1, with the market index;
* :func:`plot_value` -- dollar market value lost or gained by stock.

Thread safety: matplotlib keeps its rcParams in one process-wide dictionary, and
``matplotlib.style.context`` changes it for the duration of a call. Drawing and saving here hold a
module lock while the house style is active, so charts built concurrently from several threads do
not see each other's settings; code outside this module that changes rcParams at the same moment
can still interfere.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import textwrap
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib.style
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Annotation, Text
from matplotlib.ticker import FuncFormatter, MaxNLocator
from matplotlib.transforms import Bbox
from scipy import stats

from eventstudy.inference import cross_sectional_t, significance_mark
from eventstudy.study import ResolvedEvent, slugify

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from eventstudy.results import EventStudyResults

__all__ = [
    "STYLE_PATH",
    "plot_car",
    "plot_day0_ar",
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
#: Chart names written by :func:`save_figures`, in order.
CHARTS = ("car", "day0_ar", "prices", "value")

_FOOTER_SIZE = 8
_TITLE_SIZE = 13
_LABEL_SIZE = 8.5
_WIDTH = 8.0
_PAD_INCHES = 0.08

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

    with _house_style():
        fig, ax = _figure_and_axes(ax, _WIDTH, _line_height(len(shown) + 1))
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


def plot_day0_ar(results: EventStudyResults, event: str | None = None) -> Figure:
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

    with _house_style():
        fig, ax = _figure_and_axes(None, _WIDTH, _bar_height(len(tickers)))
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


def plot_prices(results: EventStudyResults, event: str | None = None) -> Figure:
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
    kind = str(results.meta.get("returns", "simple"))
    if kind not in {"simple", "log"}:
        raise ValueError(f"unknown returns kind {kind!r} in results.meta (expected simple or log)")
    d0 = int(results.panel.dates.get_loc(pd.Timestamp(results.day0_dates[i])))
    w0, w1 = ev.event_window
    rel = np.arange(min(w0, -1), max(w1, -1) + 1)
    day0 = _iso(results.day0_dates[i])
    series = {t: _price_index(results.panel.series(t), d0, rel, kind) for t in ev.tickers}
    market = _price_index(results.panel.series(ev.market), d0, rel, kind)
    days = rel.astype(float)

    with _house_style():
        fig, ax = _figure_and_axes(None, _WIDTH, _line_height(len(series) + 1))
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
        base = results.panel.dates[d0 - 1] if d0 >= 1 else None
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
) -> Figure:
    """Dollar market value lost or gained by stock over a CAR window, in $ billions.

    Bars are ``raw_dollar_change`` of :meth:`EventStudyResults.valuation_frame` (shares outstanding
    x change in the unadjusted close), sorted and labelled (e.g. ``−$592B``); the total is in the
    subtitle. Where the abnormal dollar change exists it is drawn as a black diamond per stock.
    Stocks without a value (no shares outstanding, no close prices) are listed in the footnote.

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

    with _house_style():
        fig, ax = _figure_and_axes(None, _WIDTH, _bar_height(len(tickers)))
        y = np.arange(len(tickers))
        bars = ax.barh(y, raw_b, height=0.68, color=[_sign_colour(v) for v in raw_b], zorder=3)
        for bar, ticker in zip(bars, tickers, strict=True):
            bar.set_gid(f"bar:{ticker}")
        if has_abn.any():
            marks = ax.scatter(
                abn_b[has_abn],
                y[has_abn],
                marker="D",
                s=26,
                color=BLACK,
                edgecolors="white",
                linewidths=0.8,
                zorder=5,
            )
            marks.set_gid("abnormal_dollar_change")
        ax.set_yticks(y, tickers)
        ax.set_ylim(len(tickers) - 0.4, -0.6)
        ax.axvline(0, color="#333333", linewidth=0.8, zorder=4)
        ax.margins(x=0.04)
        ax.grid(axis="x")
        ax.grid(axis="y", visible=False)
        labels = []
        for k, (ticker, v) in enumerate(zip(tickers, raw_b, strict=True)):
            labels.append(_bar_label(ax, v, k, _fmt_billions(v), gid=f"label:{ticker}"))
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
                    markersize=5.5,
                    color=BLACK,
                    markeredgecolor="white",
                    label="Abnormal change (AR × value at stake)",
                )
            )
        ax.legend(handles=handles, loc="best")

        total = float(np.sum(raw_b))
        subtitle = f"Total {_fmt_billions(total)} across {len(tickers)} stocks"
        if has_abn.all():
            subtitle += f" ({_fmt_billions(float(np.sum(abn_b)))} abnormal)"
        subtitle += f" · {results.title}"
        notes = [
            "Raw change = shares outstanding × change in the unadjusted close from day "
            f"{_signed(window[0] - 1)} to day {_signed(window[1])}; abnormal change = Σ AR(t) × "
            "market value on day t−1. Shares: latest count on or before the event date."
        ]
        notes += _missing_value_notes(missing)
        notes.append(f"Source: eventstudy; {_model_text(results, i, ev)}.")
        title_when = "on day 0" if window == (0, 0) else when
        title = f"{ev.name}: market value {_gain_or_loss(total)} {title_when}"
        _decorate(fig, ax, title, subtitle, notes)
        _clear_markers(ax, labels, raw_b, abn_b)
        _fit_texts_x(fig, ax, labels)
    return fig


def save_figures(
    results: EventStudyResults,
    directory: Path | str,
    formats: Sequence[str] = ("png", "svg"),
) -> list[Path]:
    """Write the ``car``, ``day0_ar``, ``prices`` and ``value`` charts of every event.

    Files are named ``<event-slug>_<chart>.<fmt>`` (slug from :func:`eventstudy.study.slugify`;
    ``-2``, ``-3``... is appended if two event names share a slug). PNGs are 200 dpi; every file is
    cropped to its content (``bbox_inches="tight"``) and written atomically (a temporary file in
    ``directory``, then :func:`os.replace`). The value chart (day-0 window, or the event's first
    CAR window if ``(0, 0)`` is not one) is skipped for an event without valuation data, as is
    any chart without data. Returns the paths written, in order.
    """
    directory = Path(directory)
    if isinstance(formats, str):
        formats = [formats]
    fmts = list(dict.fromkeys(f.lower().lstrip(".") for f in formats))
    supported = FigureCanvasAgg(Figure()).get_supported_filetypes()
    unknown = [f for f in fmts if f not in supported]
    if unknown:
        raise ValueError(
            f"unsupported figure format(s) {', '.join(unknown)} "
            f"(choose from {', '.join(sorted(supported))})"
        )
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    used: set[str] = set()
    for ev in results.events:
        slug = base = slugify(ev.name)
        n = 1
        while slug in used:
            n += 1
            slug = f"{base}-{n}"
        used.add(slug)
        for chart in CHARTS:
            fig = _chart(results, ev, chart)
            if fig is None:
                continue
            try:
                bbox = _freeze_layout(fig)
                for fmt in fmts:
                    path = directory / f"{slug}_{chart}.{fmt}"
                    _atomic_savefig(fig, path, fmt, bbox)
                    written.append(path)
            finally:
                fig.clear()  # not registered with pyplot: clearing frees the artists
    return written


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


def _has_day0_ar(results: EventStudyResults, ev: ResolvedEvent) -> bool:
    ar = results.ar_frame()
    sub = ar[(ar["event"] == ev.name) & (ar["rel_day"] == 0)]
    return bool(np.isfinite(sub["ar"].to_numpy(dtype=float)).any())


def _chart(results: EventStudyResults, ev: ResolvedEvent, chart: str) -> Figure | None:
    """One chart for :func:`save_figures`, or None where the event has no data for it."""
    if chart == "car":
        return plot_car(results, event=ev.name) if _has_car(results, ev) else None
    if chart == "day0_ar":
        return plot_day0_ar(results, event=ev.name) if _has_day0_ar(results, ev) else None
    if chart == "prices":
        return plot_prices(results, event=ev.name)
    if chart == "value":
        if not _has_value_data(results, ev):
            return None
        return plot_value(results, event=ev.name, window=_value_window(ev))
    raise ValueError(f"unknown chart {chart!r}")


def _has_car(results: EventStudyResults, ev: ResolvedEvent) -> bool:
    ar = results.ar_frame()
    return bool(np.isfinite(ar.loc[ar["event"] == ev.name, "car"].to_numpy(dtype=float)).any())


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
    """The normal-return model in words: the fitted batch's label when it has one."""
    for batch in results.batches:
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
@contextlib.contextmanager
def _house_style() -> Iterator[None]:
    with _STYLE_LOCK, matplotlib.style.context(STYLE_PATH):
        yield


def _figure_and_axes(ax: Axes | None, width: float, height: float) -> tuple[Figure, Axes]:
    if ax is not None:
        try:
            fig = ax.get_figure(root=True)  # type: ignore[call-arg]
        except TypeError:  # matplotlib < 3.10
            fig = ax.figure
        return fig, ax
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _line_height(n: int) -> float:
    """Figure height (inches) for a line chart with ``n`` direct labels: room for each label."""
    return max(5.4, 2.4 + 0.18 * n)


def _bar_height(n: int) -> float:
    """Figure height (inches) for ``n`` horizontal bars: grows with the number of bars."""
    return max(3.6, 2.3 + 0.3 * n)


def _decorate(fig: Figure, ax: Axes, title: str, subtitle: str, notes: list[str]) -> None:
    """Bold title and grey subtitle above the axes, small grey footer (one paragraph per item of
    ``notes``) below the x-axis label; all flush with the axes' left edge and wrapped to the
    axes' width (wider text would make constrained layout shrink the axes again and again)."""
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
        xytext=(0, 17),
        va="bottom",
        fontsize=9.5,
        color="#444444",
        **common,
    )
    head = ax.annotate(
        "",
        xy=(0, 1),
        xycoords=("axes fraction", sub),
        xytext=(0, 5),
        va="bottom",
        fontsize=_TITLE_SIZE,
        fontweight="bold",
        color="#111111",
        **common,
    )
    note = ax.annotate(
        "",
        xy=(0, 0),
        xycoords=("axes fraction", ax.xaxis.label),
        xytext=(0, -8),
        va="top",
        fontsize=_FOOTER_SIZE,
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


def _mark_day0(ax: Axes, day0: str, band: bool = False) -> None:
    if band:
        ax.axvspan(-0.5, 0.5, color="#F2F2F2", zorder=0.5, linewidth=0).set_gid("day0_band")
    ax.axvline(0, color=MUTED, linewidth=0.9, linestyle=(0, (3, 2)), zorder=1.6).set_gid("day0")
    ax.annotate(
        f"Day 0: {day0}",
        xy=(0, 1),
        xycoords=("data", "axes fraction"),
        xytext=(0, 3),
        textcoords="offset points",
        ha="center",
        va="bottom",
        fontsize=_LABEL_SIZE - 0.5,
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
    size = max(6.5, min(_LABEL_SIZE, height_pt / len(ends) / 1.3))
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
        xytext=(side * pad, 0),
        textcoords="offset points",
        ha="left" if side > 0 else "right",
        va="center",
        fontsize=_LABEL_SIZE,
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


def _freeze_layout(fig: Figure) -> Bbox:
    """Lay the figure out once and keep that layout, so that saving it in several formats does
    not redo it; returns the padded tight bounding box (inches) to save."""
    with _house_style():
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
        with os.fdopen(fd, "wb") as fh, _house_style():
            fig.savefig(fh, format=fmt, dpi=200, bbox_inches=bbox, metadata=metadata)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
