"""An event's abnormal trading volume (:func:`plot_volume`) and abnormal volatility
(:func:`plot_volatility`) around day 0, from the measures' tables as
:mod:`eventstudy.output.measure_data` reads them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullLocator

from eventstudy.estimation.measures import measure
from eventstudy.output.format import (
    _iso,
    fmt_log,
    fmt_multiple,
    fmt_ratio,
    fmt_short,
    fmt_window,
    plural,
    significance_mark,
)
from eventstudy.output.measure_data import (
    COMMON_TESTS,
    daily_values,
    day_averages,
    measure_tests,
    model_words,
    summary_window,
    window_values,
)
from eventstudy.output.plots.chart_data import credited, model_text, pick_event
from eventstudy.output.plots.layout import day_axis, decorate, lay_out, mark_day0, number_ticks
from eventstudy.output.plots.style import (
    BACKGROUND,
    BLACK,
    LABEL_SIZE,
    ZERO_LINE,
    FigureSize,
    current_size,
    figure_and_axes,
    house_style,
    line_height,
    pt,
    stock_colours,
    width,
)

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.legend import Legend

    from eventstudy.output.source import ResultSource
    from eventstudy.study import ResolvedEvent

#: The bars of the mean abnormal volume.
MEAN_BAR = "#C9D6E3"
#: Dots of the stocks that are not highlighted (darker than the lines' grey: dots are small).
OTHER_DOT = "#9A9A9A"
#: Share of the axes' height above the data, for the row of value labels.
_LABEL_ROOM = 0.16
_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
#: The test whose p-values star the days (the cross-sectional t, first of the common tests).
_CS_T = COMMON_TESTS[0].short_label or COMMON_TESTS[0].label


def plot_volume(
    results: ResultSource, event: str | None = None, *, size: str | FigureSize | None = None
) -> Figure:
    """Abnormal log volume around day 0: a bar per event-window day with the stocks' mean
    abnormal log volume (AV, ``av`` of ``abnormal_volume.csv``), each stock's AV as a dot (the
    largest day-0 moves coloured), day 0 shaded. Above each bar its mean AV and the multiple of
    normal volume it means, ``exp(AV)``, starred by the cross-sectional t of the day's mean
    (``tests.csv``, ``measure = volume``); the right axis reads AV as that multiple.

    Raises
    ------
    ValueError
        For an unknown event, or one that does not measure volume.
    """
    spec = measure("volume")
    i, ev, sub, avg, tickers = _event_data(results, event, "volume")
    days = avg["rel_day"].to_numpy(dtype=int)
    means = avg["mean"].to_numpy(dtype=float)
    p = _day_pvalues(results, ev, "volume", days)
    day0 = _iso(results.day0_dates[i])

    with house_style(size):
        fig, ax = figure_and_axes(None, width(), line_height(6))
        bars = ax.bar(days, means, width=0.72, color=MEAN_BAR, zorder=2)
        for bar, day in zip(bars, days, strict=True):
            bar.set_gid(f"bar:{day}")
        colours = _firm_dots(ax, sub, tickers)
        ax.axhline(0, **ZERO_LINE)
        mark_day0(ax, day0, band=True)
        day_axis(ax, days.astype(float))
        ax.set_xlim(days[0] - 0.6, days[-1] + 0.6)
        ax.yaxis.set_major_formatter(number_ticks())
        ax.set_xlabel(f"Trading days relative to event (day 0 = {day0})")
        ax.set_ylabel(f"{_first_clause(spec.value)} ({spec.short})")
        multiples = ax.secondary_yaxis("right", functions=(_exp, _log))
        multiples.set_gid("multiples")
        multiples.set_ylabel("Multiple of normal volume")
        multiples.yaxis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{fmt_short(x)}×"))
        texts = [
            f"{fmt_log(m)}{significance_mark(q)}\n{fmt_multiple(m)}"
            for m, q in zip(means, p, strict=True)
        ]
        mean_key = f"Mean of {plural(len(tickers), 'stock')}"
        handles: list[Any] = [Patch(color=MEAN_BAR, label=mean_key)]
        handles += _dot_keys(tickers, colours)
        legend = _legend(ax, handles)

        k0 = np.flatnonzero(days == 0)
        m0 = float(means[k0[0]]) if len(k0) else float("nan")
        subtitle = (
            f"{results.title} · {plural(len(tickers), 'stock')} · day 0: mean {spec.short} "
            f"{fmt_log(m0)}, {fmt_multiple(m0)} normal volume"
        )
        notes = [
            f"Bars: the stocks' mean {spec.short} on each day; dots: each stock's {spec.short}, "
            f"its {spec.value}. Labels: the mean and exp({spec.short}), the multiple of normal "
            "volume; "
            f"stars: {_CS_T} of the day's mean (*** p < 0.01, ** p < 0.05, "
            "* p < 0.10)."
        ]
        notes += _missing_note(ev, tickers, spec.value)
        notes.append(credited(results, f"normal log volume: {model_words(ev, 'volume')}"))
        decorate(fig, ax, f"{ev.name}: {spec.label.lower()}", subtitle, notes)
        data_limits = _make_room(fig, ax, legend)
        multiples.yaxis.set_major_locator(FixedLocator(_multiple_ticks(data_limits)))
        _label_row(fig, ax, days, texts, p)
    return fig


def plot_volatility(
    results: ResultSource, event: str | None = None, *, size: str | FigureSize | None = None
) -> Figure:
    """Abnormal volatility around day 0, on a log scale: the stocks' mean volatility ratio per
    event-window day (``u_adj`` of ``abnormal_volatility.csv``, the squared abnormal return over
    its prediction-error variance, or ``garch_ratio`` with a GARCH volatility model) as a thick
    line, each stock's ratio as a dot (the largest day-0 ratios coloured), and the ratio's mean
    under the null (no change in volatility, about 1) dashed. Above each day its mean, starred
    by the cross-sectional t of the ratio against its null (``tests.csv``,
    ``measure = volatility``).

    Raises
    ------
    ValueError
        For an unknown event, or one that does not measure volatility.
    """
    spec = measure("volatility")
    i, ev, sub, avg, tickers = _event_data(results, event, "volatility")
    days = avg["rel_day"].to_numpy(dtype=int)
    means = avg["mean"].to_numpy(dtype=float)
    null = float(np.nanmean(avg["null"].to_numpy(dtype=float)))
    p = _day_pvalues(results, ev, "volatility", days)
    day0 = _iso(results.day0_dates[i])
    positive = sub["value"].to_numpy(dtype=float) > 0

    with house_style(size):
        fig, ax = figure_and_axes(None, width(), line_height(6))
        ax.set_yscale("log")
        colours = _firm_dots(ax, sub[positive], tickers)
        (line,) = ax.plot(
            days, means, color=BLACK, linewidth=2.4, marker="o", markersize=4.5, zorder=6
        )
        line.set_gid("mean")
        null_style: dict[str, Any] = {"color": BLACK, "linewidth": 1.1, "linestyle": (0, (5, 3))}
        ax.axhline(null, zorder=5, **null_style).set_gid("null")
        mark_day0(ax, day0, band=True)
        day_axis(ax, days.astype(float))
        ax.set_xlim(days[0] - 0.6, days[-1] + 0.6)
        ax.yaxis.set_major_locator(LogLocator(base=10))
        ax.yaxis.set_minor_locator(NullLocator())
        ax.yaxis.set_major_formatter(FuncFormatter(_log_tick))
        ax.set_xlabel(f"Trading days relative to event (day 0 = {day0})")
        ax.set_ylabel(f"{_first_clause(spec.value)} ({spec.short}, log scale)")
        texts = [f"{fmt_ratio(m)}{significance_mark(q)}" for m, q in zip(means, p, strict=True)]
        handles: list[Any] = [
            Line2D([], [], color=BLACK, linewidth=2.4, marker="o", markersize=4.5,
                   label=f"Mean of {plural(len(tickers), 'stock')}"),
            Line2D([], [], label=f"Null mean ({fmt_ratio(null)}: no change)", **null_style),
        ]  # fmt: skip
        handles += _dot_keys(tickers, colours)
        legend = _legend(ax, handles)

        k0 = np.flatnonzero(days == 0)
        m0 = float(means[k0[0]]) if len(k0) else float("nan")
        subtitle = (
            f"{results.title} · {plural(len(tickers), 'stock')} · day 0: mean {spec.short} "
            f"{fmt_ratio(m0)} against {fmt_ratio(null)} under the null"
        )
        window = summary_window(ev)
        ratio = _window_mean(results, ev, window)
        if window is not None and np.isfinite(ratio):
            subtitle += f" · mean {spec.window_short} {fmt_window(window)} {fmt_ratio(ratio)}"
        notes = [
            f"Dots: each stock's {spec.short}, its {spec.value} ({model_words(ev, 'volatility')}); "
            "line: their mean; dashed: the mean under the null of no change in volatility. "
            f"Labels: the day's mean; stars: {_CS_T} of the mean against the "
            "null mean (*** p < 0.01, ** p < 0.05, * p < 0.10)."
        ]
        if not positive.all():
            notes.append(f"Not drawn on the log scale: {int((~positive).sum())} zero value(s).")
        notes += _missing_note(ev, tickers, spec.value)
        notes.append(credited(results, model_text(results, i, ev)))
        decorate(fig, ax, f"{ev.name}: {spec.label.lower()}", subtitle, notes)
        _make_room(fig, ax, legend)
        _label_row(fig, ax, days, texts, p)
    return fig


# ----------------------------------------------------------------------------- helpers
def _event_data(
    results: ResultSource, event: str | None, name: str
) -> tuple[int, ResolvedEvent, pd.DataFrame, pd.DataFrame, list[str]]:
    """The event, its rows of the measure's per-day values (finite ones), their day averages
    and the tickers that have some, in the event's order."""
    i, ev = pick_event(results, event)
    frame = daily_values(results, name) if name in ev.measures else None
    if frame is None:
        raise ValueError(f"event {ev.name!r} does not measure {name} (study-file key measures)")
    sub = frame[frame["event"] == ev.name]
    sub = sub[np.isfinite(sub["value"].to_numpy(dtype=float))]
    if sub.empty:
        raise ValueError(f"event {ev.name!r}: no {measure(name).label.lower()} to plot")
    have = set(sub["ticker"])
    tickers = [t for t in ev.tickers if t in have]
    return i, ev, sub, day_averages(results, name, sub), tickers


def _firm_dots(ax: Axes, sub: pd.DataFrame, tickers: list[str]) -> list[str]:
    """Each stock's values as dots, spread across its day in ticker order (a stock keeps its
    place every day); the largest absolute day-0 values in the palette, the others grey.
    Returns the colours, in ``tickers`` order."""
    day0 = sub[sub["rel_day"] == 0].set_index("ticker")["value"]
    colours = stock_colours(np.array([float(day0.get(t, np.nan)) for t in tickers]))
    n = len(tickers)
    area = 20 * current_size().font
    for k, (ticker, colour) in enumerate(zip(tickers, colours, strict=True)):
        rows = sub[sub["ticker"] == ticker]
        offset = (k / (n - 1) - 0.5) * 0.5 if n > 1 else 0.0
        grey = colour == BACKGROUND
        dots = ax.scatter(
            rows["rel_day"].to_numpy(dtype=float) + offset,
            rows["value"].to_numpy(dtype=float),
            s=area * (0.7 if grey else 1.0),
            color=OTHER_DOT if grey else colour,
            edgecolors="white",
            linewidths=0.4,
            alpha=0.85 if grey else 1.0,
            zorder=3 if grey else 4,
        )
        dots.set_gid(f"dots:{ticker}")
    return colours


def _dot_keys(tickers: list[str], colours: list[str]) -> list[Any]:
    """Legend entries: a coloured stock each, then the grey ones together."""
    keys: list[Any] = [
        Line2D([], [], linestyle="none", marker="o", color=c, markeredgecolor="white", label=t)
        for t, c in zip(tickers, colours, strict=True)
        if c != BACKGROUND
    ]
    grey = colours.count(BACKGROUND)
    if grey:
        keys.append(
            Line2D([], [], linestyle="none", marker="o", color=OTHER_DOT,
                   markeredgecolor="white", label=f"The other {grey} stocks")
        )  # fmt: skip
    return keys


def _day_pvalues(
    results: ResultSource, ev: ResolvedEvent, name: str, days: np.ndarray
) -> np.ndarray:
    """The p-value of the cross-sectional t of each day's mean (NaN without the battery)."""
    tests = measure_tests(results.tests_frame(), name)
    out = np.full(len(days), np.nan)
    if tests is None or tests.empty:
        return out
    mine = tests[
        (tests["event"] == ev.name)
        & (tests["test"] == COMMON_TESTS[0].name)
        & (tests["start"] == tests["end"])
    ]
    by_day = dict(zip(mine["start"].astype(int), mine["p_value"].astype(float), strict=True))
    return np.array([by_day.get(int(d), np.nan) for d in days])


def _window_mean(results: ResultSource, ev: ResolvedEvent, window: tuple[int, int] | None) -> float:
    """The stocks' mean variance ratio over ``window`` (NaN when there is none)."""
    frame = window_values(results, "volatility")
    if frame is None or window is None:
        return float("nan")
    rows = frame[(frame["event"] == ev.name) & (frame["start"] == window[0])]
    values = rows.loc[rows["end"] == window[1], "value"].to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    return float(values.mean()) if len(values) else float("nan")


def _missing_note(ev: ResolvedEvent, tickers: list[str], what: str) -> list[str]:
    missing = [t for t in ev.tickers if t not in tickers]
    return [f"Not shown (no {what.split(',')[0]}): {', '.join(missing)}."] if missing else []


def _first_clause(text: str) -> str:
    """``Abnormal log volume`` from the registry's ``abnormal log volume, ln(...) ...``."""
    head = text.split(",")[0]
    return head[:1].upper() + head[1:]


def _exp(x: Any) -> Any:
    return np.exp(np.clip(x, -700, 700))


def _log(x: Any) -> Any:
    return np.log(np.maximum(x, 1e-300))


def _multiple_ticks(limits: tuple[float, float]) -> list[float]:
    """Multiples of normal volume (powers of 2) inside the AV axis' limits."""
    lo, hi = np.exp(limits[0]), np.exp(limits[1])
    ticks = [2.0**k for k in range(-10, 11) if lo <= 2.0**k <= hi]
    return ticks if len(ticks) <= 8 else ticks[:: -(-len(ticks) // 8)]


def _legend(ax: Axes, handles: list[Any]) -> Legend:
    """The key in two rows at the bottom of the axes (:func:`_make_room` keeps it clear)."""
    return ax.legend(handles=handles, loc="lower left", ncols=min(5, -(-len(handles) // 2)))


def _make_room(fig: Figure, ax: Axes, legend: Legend) -> tuple[float, float]:
    """Widen the y axis (in its own scale, linear or log) so the data lie between the legend
    at the bottom and the band of value labels at the top: nothing hides a dot. Returns the
    limits of the data's part."""
    data_limits = ax.get_ylim()
    lay_out(fig)
    bottom = legend.get_window_extent().height / max(ax.get_window_extent().height, 1.0) + 0.03
    log = ax.get_yscale() == "log"
    lo, hi = (np.log10(v) if log else v for v in ax.get_ylim())
    span = (hi - lo) / max(1.0 - bottom - _LABEL_ROOM, 0.2)
    lo, hi = lo - bottom * span, hi + _LABEL_ROOM * span
    ax.set_ylim(*((10**lo, 10**hi) if log else (lo, hi)))
    return data_limits


def _log_tick(x: float, _pos: Any = None) -> str:
    """``100``, ``0.01``, ``10⁻⁵`` (powers of ten below 0.001 in exponent form)."""
    if not x > 0 or x >= 1e-3:
        return fmt_short(x)
    exponent = round(float(np.log10(x)))
    return "10" + str(exponent).translate(_SUPERSCRIPT).replace("-", "⁻")


def _label_row(
    fig: Figure, ax: Axes, days: np.ndarray, texts: list[str], p: np.ndarray
) -> None:
    """Each day's label in the band at the top of the axes, bold where starred; when they do
    not fit side by side, day 0's alone."""
    trans = ax.get_xaxis_transform()  # x in data, y in axes fraction
    labels = []
    for day, text, q in zip(days, texts, p, strict=True):
        label = ax.text(
            float(day), 0.985, text, transform=trans, ha="center", va="top",
            fontsize=pt(LABEL_SIZE - 1), color="#222222", linespacing=1.15,
            fontweight="bold" if significance_mark(float(q)) else "normal", parse_math=False,
        )  # fmt: skip
        label.set_gid(f"label:{int(day)}")
        labels.append(label)
    for line in ax.lines:
        if line.get_gid() == "day0":  # the day-0 line stops below the labels
            line.set_ydata([0, 1 - _LABEL_ROOM])
    lay_out(fig)
    column = ax.get_window_extent().width / max(len(days), 1)
    if any(t.get_window_extent().width > 0.95 * column for t in labels):
        for day, label in zip(days, labels, strict=True):
            if day != 0:
                label.remove()
