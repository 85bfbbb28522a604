"""Whole-study charts: prices over the study with every event marked
(:func:`plot_events_timeline`), the events' average CAR paths (:func:`plot_caar_comparison`), and
the same stocks under several normal-return models (:func:`plot_model_comparison`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from eventstudy.output.format import MINUS, _iso, _signed, fmt_window, plural
from eventstudy.output.plots.chart_data import (
    average_band,
    credited,
    index_label,
    last_value,
    model_label,
    model_text,
    panel_of,
    pick_event,
    returns_kind,
)
from eventstudy.output.plots.layout import (
    LineEnd,
    day_axis,
    decorate,
    decorate_grid,
    direct_labels,
    mark_day0,
    number_ticks,
    stagger,
)
from eventstudy.output.plots.style import (
    BACKGROUND,
    BLACK,
    DAY_LINE,
    LABEL_SIZE,
    LINE_COLOURS,
    MARKET_LINE,
    MUTED,
    ZERO_LINE,
    FigureSize,
    current_size,
    figure_and_axes,
    house_style,
    line_height,
    new_figure,
    pt,
    stock_colours,
    width,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from eventstudy.output.source import ResultSource

#: Above this many events the timeline numbers its event marks and keys them in the footnote.
MAX_TIMELINE_LABELS = 8
#: Above this many events the CAAR comparison leaves out the bands.
MAX_CAAR_BANDS = 4


def plot_events_timeline(
    results: ResultSource,
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
    panel = panel_of(results, "the events timeline")
    kind = returns_kind(results)
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

    with house_style(size):
        fig, ax = figure_and_axes(None, width(), line_height(len(stocks) + len(markets)))
        ax.axhline(100, color="#999999", linewidth=0.8, zorder=1.5)
        ends: list[LineEnd] = []
        broken = []
        levels = {ticker: level(ticker) for ticker in stocks}
        colours = stock_colours(np.array([last_value(y) - 100.0 for y in levels.values()]))
        for k, (ticker, y) in enumerate(levels.items()):
            colour = colours[k]
            grey = colour == BACKGROUND
            if not np.isfinite(y).all():
                broken.append(ticker)
            (line,) = ax.plot(
                x, y, color=colour, linewidth=0.8 if grey else 1.2, alpha=0.95, label=ticker,
                zorder=1.8 if grey else None,
            )  # fmt: skip
            line.set_gid(f"price:{ticker}")
            if not grey:
                ends.append((ticker, x, y, colour, False))
        market_colours = [BLACK if k == 0 else MUTED for k in range(len(markets))]
        for market, colour in zip(markets, market_colours, strict=True):
            y = level(market)
            (mline,) = ax.plot(
                x, y, color=colour, zorder=6, label=index_label(market), **MARKET_LINE
            )
            mline.set_gid(f"market:{market}")
            ends.append((market, x, y, colour, True))
        labels = []
        for n_mark, (day, names) in enumerate(marks.items(), start=1):
            at = float(mdates.date2num(pd.Timestamp(day).to_pydatetime()))
            ax.axvline(at, **DAY_LINE).set_gid(f"event:{_iso(day)}")
            label = ax.annotate(
                str(n_mark) if numbered else " / ".join(names),
                xy=(at, 1),
                xycoords=("data", "axes fraction"),
                xytext=(0, pt(3)),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=pt(LABEL_SIZE - 0.5),
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
        keys = [
            Line2D([], [], color=colour, label=f"Market: {index_label(m)}", **MARKET_LINE)
            for m, colour in zip(markets, market_colours, strict=True)
        ]
        if colours.count(BACKGROUND):
            grey_n = colours.count(BACKGROUND)
            keys.append(
                Line2D([], [], color=BACKGROUND, linewidth=0.8, label=f"The other {grey_n} stocks")
            )
        if keys:
            ax.legend(handles=keys, loc="best")
        rows_needed = stagger(fig, ax, labels)
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
        if results.meta.get("price_source"):
            notes.append(credited(results))
        subtitle = (
            f"{plural(len(stocks), 'stock')} · {plural(len(results.events), 'event')} · "
            f"close of {base} = 100"
        )
        line_pt = pt(LABEL_SIZE - 0.5) * 1.35
        decorate(
            fig,
            ax,
            f"{results.title}: share prices and events",
            subtitle,
            notes,
            top_pad=7 + rows_needed * line_pt / current_size().font,
        )
        direct_labels(fig, ax, ends)
    return fig


def plot_caar_comparison(
    results: ResultSource,
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
    picked = [pick_event(results, name) for name in names]
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
        mean, half, n_valid = average_band(values)
        days = car.index.to_numpy(dtype=float)
        paths.append((i, ev, days, mean, half, int(n_valid.max())))
    if not paths:
        raise ValueError("no abnormal returns to compare")
    bands = len(paths) <= MAX_CAAR_BANDS

    with house_style(size):
        fig, ax = figure_and_axes(None, width(), line_height(len(paths)))
        ends: list[LineEnd] = []
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
                markersize=3.2 * current_size().font,
                label=ev.name,
            )
            line.set_gid(f"caar:{ev.name}")
            ends.append((ev.name, days, mean, colour, False))
        mark_day0(ax, None)
        ax.axhline(0, **ZERO_LINE)
        day_axis(ax, np.concatenate([p[2] for p in paths]))
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
                f"; bands: mean ± t(0.975, N{MINUS}1)·sd/√N across stocks."
                if bands
                else f"; 95% bands left out above {MAX_CAAR_BANDS} events."
            ),
            f"Stocks per event: {counts}.",
        ]
        if skipped:
            notes.append(f"Not shown (no abnormal returns): {', '.join(skipped)}.")
        models = list(dict.fromkeys(model_text(results, i, ev) for i, ev, *_rest in paths))
        notes.append(credited(results, "; ".join(models)))
        subtitle = f"{results.title} · {plural(len(paths), 'event')}"
        if bands:
            subtitle += " · day 0 " + ", ".join(_iso(results.day0_dates[i]) for i, *_rest in paths)
        decorate(fig, ax, "Average cumulative abnormal return by event", subtitle, notes)
        direct_labels(fig, ax, ends)
    return fig


def model_groups(results: ResultSource) -> list[list[str]]:
    """Names of events that share day 0 and tickers but not the normal-return model, per group
    (study order): what :func:`plot_model_comparison` compares."""
    groups: dict[tuple[Any, tuple[str, ...]], list[int]] = {}
    for i, ev in enumerate(results.events):
        groups.setdefault((results.day0_dates[i], tuple(sorted(ev.tickers))), []).append(i)
    out = []
    for members in groups.values():
        labels = {model_label(results, i, results.events[i]) for i in members}
        if len(members) >= 2 and len(labels) >= 2:
            out.append([results.events[i].name for i in members])
    return out


def plot_model_comparison(
    results: ResultSource,
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
    picked = [pick_event(results, name) for name in names]
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
    labels = [model_label(results, i, ev) for i, ev in picked]
    i0, ev0 = picked[0]
    day0 = _iso(results.day0_dates[i0])
    all_days = np.unique(np.concatenate([car[n].index.to_numpy(dtype=float) for n in car]))

    with house_style(size):
        size_now = current_size()
        average = panels[0] == "Average"
        stocks = panels[1:] if average else panels
        ncols = 2 if len(stocks) in (2, 4) else max(1, min(3, len(stocks)))
        nrows = math.ceil(len(stocks) / ncols) + (1 if average else 0)
        height = (
            line_height(len(names)) + 0.6
            if len(panels) == 1
            else 2.0 * size_now.height + 2.2 * nrows * size_now.font
        )
        fig = new_figure(width(), height)
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
                    path, half, _n = average_band(frame[cols].to_numpy(dtype=float))
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
            ax.axhline(0, **ZERO_LINE)
            ax.axvline(0, **DAY_LINE).set_gid("day0")
            if not single:
                title = f"Average of {len(shown)} stocks" if name == "Average" else name
                ax.set_title(
                    title,
                    loc="left",
                    fontsize=pt(10),
                    fontweight="bold",
                    color="#222222",
                    pad=pt(4),
                ).set_gid(f"panel:{name}")
            ax.yaxis.set_major_formatter(number_ticks())
            ax.yaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
        if average or single:
            day_axis(axes[0], all_days)
        if first is not None and not single:  # narrow panels: fewer day ticks
            day_axis(first, all_days, nbins=5 if ncols > 1 else 10)
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
            f"mean ± t(0.975, N{MINUS}1)·sd/√N across stocks"
        )
        notes = [
            f"Lines: each model's CAR, cumulated from day {_signed(w0)}. Shaded: the 95% band "
            f"under the first model, {labels[0]} ({bands}).",
            "Events compared: " + ", ".join(ev.name for _, ev in picked) + ".",
        ]
        if omitted:
            notes.append(f"Not shown (panel limit {max_panels}): {', '.join(omitted)}.")
        notes.append(credited(results, f"estimation window {fmt_window(ev0.estimation_window)}"))
        who = shown[0] if single else plural(len(shown), "stock")
        subtitle = f"{results.title} · {who} · day 0 = {day0} · one line per model"
        title = (
            f"{shown[0]}: CAR under {len(names)} normal-return models"
            if single
            else f"CAR under {len(names)} normal-return models"
        )
        decorate_grid(fig, axes, title, subtitle, notes, handles)
    return fig
