"""An event's market value lost or gained by stock (:func:`plot_value`) and its abnormal returns
by stock and day (:func:`plot_ar_heatmap`)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.colors import Normalize
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import MaxNLocator

from eventstudy.output.format import (
    _iso,
    _signed,
    currency_symbol,
    fmt_billions,
    fmt_num,
    fmt_short,
    plural,
)
from eventstudy.output.plots.chart_data import (
    credited,
    model_label,
    model_text,
    pick_event,
    value_currency,
    value_rows,
    window_text,
)
from eventstudy.output.plots.layout import (
    bar_label,
    clear_markers,
    day0_label,
    day_ticks,
    decorate,
    fit_texts_x,
    lay_out,
    number_ticks,
)
from eventstudy.output.plots.style import (
    BLACK,
    NEGATIVE,
    POSITIVE,
    FigureSize,
    bar_height,
    current_size,
    diverging_cmap,
    figure_and_axes,
    heat_height,
    house_style,
    pt,
    sign_colour,
    width,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from eventstudy.output.source import ResultSource


def plot_value(
    results: ResultSource,
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
    i, ev = pick_event(results, event)
    window = (int(window[0]), int(window[1]))
    if window not in ev.car_windows:
        raise ValueError(
            f"event {ev.name!r}: no valuation for window {list(window)} (CAR windows: "
            f"{', '.join(str(list(w)) for w in ev.car_windows)})"
        )
    sub = value_rows(results, ev, window)
    currency = value_currency(results)
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
    when = window_text(results, i, window)

    total_b = float(np.sum(raw_b))
    total_abn = float(np.sum(abn_b)) if has_abn.all() else np.nan
    show_total = total and len(tickers) > 1

    with house_style(size):
        n = len(tickers)
        fig, ax = figure_and_axes(None, width(), bar_height(n + (1.5 if show_total else 0)))
        diamond: dict[str, Any] = {
            "marker": "D",
            "s": 26 * current_size().font,
            "color": BLACK,
            "edgecolors": "white",
            "linewidths": 0.8,
            "zorder": 5,
        }
        y = np.arange(n, dtype=float)
        bars = ax.barh(y, raw_b, height=0.68, color=[sign_colour(v) for v in raw_b], zorder=3)
        for bar, ticker in zip(bars, tickers, strict=True):
            bar.set_gid(f"bar:{ticker}")
        if has_abn.any():
            ax.scatter(abn_b[has_abn], y[has_abn], **diamond).set_gid("abnormal_dollar_change")
        ticks, names = list(y), list(tickers)
        values, abnormal = list(raw_b), list(abn_b)
        if show_total:
            y_total = n + 0.5
            (total_bar,) = ax.barh(
                [y_total],
                [total_b],
                height=0.8,
                color=sign_colour(total_b),
                edgecolor=BLACK,
                linewidth=1.0,
                zorder=3,
            )
            total_bar.set_gid("total")
            ax.axhline(n - 0.05, color="#999999", linewidth=0.8, zorder=2)
            if np.isfinite(total_abn):
                ax.scatter([total_abn], [y_total], **diamond).set_gid("abnormal_total")
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
            labels.append(bar_label(ax, v, k, fmt_billions(v, currency), gid=f"label:{ticker}"))
        if show_total:
            labels.append(
                bar_label(
                    ax,
                    total_b,
                    ticks[-1],
                    fmt_billions(total_b, currency),
                    gid="total_label",
                    bold=True,
                )
            )
        symbol = currency_symbol(currency).strip()
        ax.set_xlabel(f"Change in market value {when} ({symbol} billions)")
        ax.xaxis.set_major_formatter(number_ticks())
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
                    markersize=5.5 * current_size().font,
                    color=BLACK,
                    markeredgecolor="white",
                    label="Abnormal change (AR × value at stake)",
                )
            )
        ax.legend(handles=handles, loc="best")

        subtitle = (
            f"Total {fmt_billions(total_b, currency)}, {n} of {n + len(missing)} stocks with "
            "share counts"
        )
        if np.isfinite(total_abn):
            subtitle += f" ({fmt_billions(total_abn, currency)} abnormal)"
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
        notes.append(credited(results, model_text(results, i, ev)))
        title_when = "on day 0" if window == (0, 0) else when
        title = f"{ev.name}: market value {'lost' if total_b < 0 else 'gained'} {title_when}"
        decorate(fig, ax, title, subtitle, notes)
        clear_markers(ax, labels, np.asarray(values), np.asarray(abnormal))
        fit_texts_x(fig, ax, labels)
    return fig


def _missing_value_notes(missing: pd.DataFrame) -> list[str]:
    """Footnotes for the stocks without a value: those without a share count in one line."""
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


def plot_ar_heatmap(
    results: ResultSource,
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
    i, ev = pick_event(results, event)
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

    with house_style(size):
        fig, ax = figure_and_axes(None, width(), heat_height(n))
        mesh = ax.pcolormesh(
            np.r_[days - 0.5, days[-1] + 0.5],
            np.arange(n + 1) - 0.5,
            np.ma.masked_invalid(grid),
            cmap=diverging_cmap(),
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
            ax.xaxis.set_major_formatter(day_ticks())
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
            day0_label(ax, f"Day 0: {day0}")
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
        cbar.ax.yaxis.set_major_formatter(number_ticks())
        ax.set_xlabel(f"Trading days relative to event (day 0 = {day0})")

        notes = [
            f"Cells: the stock's abnormal return on each day (%), {model_label(results, i, ev)}."
        ]
        if capped:
            notes.append(
                f"Colour scale capped at ±{fmt_short(limit)}% (largest |AR| "
                f"{largest:.1f}%): stronger cells are at full colour."
            )
        if not np.isfinite(grid).all():
            notes.append("Grey: no abnormal return (missing price).")
        missing = [t for t in ev.tickers if t not in tickers]
        if missing:
            notes.append(f"Not shown (no abnormal returns): {', '.join(missing)}.")
        subtitle = (
            f"{results.title} · {plural(n, 'stock')} · days "
            f"{_signed(int(days[0]))} to {_signed(int(days[-1]))} · "
            + ("study order" if order == "study" else "sorted by the day-0 AR")
        )
        label_note = len(notes)
        notes.append(credited(results, model_text(results, i, ev)))
        # Decide on cell labels before wrapping the footer (their note is part of it).
        lay_out(fig)
        box = ax.get_window_extent()
        cell_w = box.width / len(days) * 72.0 / fig.dpi
        cell_h = box.height / max(n, 1) * 72.0 / fig.dpi
        fontsize = min(pt(7.5), cell_w / 3.5, cell_h * 0.55)
        labelled = fontsize >= 5.0
        if labelled:
            notes.insert(
                label_note,
                "Bold: p < 0.10 (two-sided t-test of the AR; standard error with prediction "
                "error).",
            )
        decorate(fig, ax, f"{ev.name}: abnormal returns by stock and day", subtitle, notes)
        if labelled:
            for r, ticker in enumerate(tickers):
                for c, day in enumerate(days):
                    value = grid[r, c]
                    if not np.isfinite(value):
                        continue
                    text = ax.text(
                        float(day),
                        r,
                        fmt_num(value, 0 if abs(value) >= 99.95 else 1),  # no "−0.0"
                        ha="center",
                        va="center",
                        fontsize=fontsize,
                        color="white" if abs(value) >= 0.55 * limit else "#222222",
                        fontweight="bold" if pgrid[r, c] < 0.10 else "normal",
                        parse_math=False,
                        clip_on=True,
                    )
                    text.set_gid(f"cell:{ticker}:{int(day)}")
                    # Inside its cell, clipped to the axes: nothing for the layout or the crop
                    # to measure (a heatmap has up to a few hundred cells).
                    text.set_in_layout(False)
    return fig


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
