"""The calendar-time portfolio's chart (docs/long_horizon.md): its cumulative abnormal return
and, below it, the number of firms it held, over calendar time."""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib.dates as mdates
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from eventstudy.output.format import fmt_window
from eventstudy.output.plots.layout import decorate_grid
from eventstudy.output.plots.style import (
    LINE_COLOURS,
    MUTED,
    ZERO_LINE,
    FigureSize,
    house_style,
    new_figure,
    width,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from eventstudy.inference.calendar_time import CalendarTimeResult

_MODELS = {
    "market": "market model",
    "ff3": "Fama-French three-factor model",
    "carhart": "Carhart four-factor model",
    "ff5": "Fama-French five-factor model",
}


def plot_calendar_time(
    result: CalendarTimeResult, title: str = "", *, size: str | FigureSize | None = None
) -> Figure:
    """Cumulative abnormal return of the calendar-time portfolio (top; in percent: the running
    sum of each period's excess return minus the factors' part of the fit, i.e. of alpha plus the
    residual) and the number of firms it held (bottom), over the periods regressed. Artists carry
    the gids ``calendar_time:car`` and ``calendar_time:firms``."""
    frame = result.abnormal_frame()
    dates = frame["date"].to_numpy()
    car = frame["cumulative"].to_numpy(dtype=float) * 100.0
    firms = frame["n_firms"].to_numpy(dtype=float)
    row = result.table().iloc[0]
    with house_style(size):
        fig = new_figure(width(), width() * 0.75)
        top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1))
        colour = LINE_COLOURS[0]
        (line,) = top.plot(dates, car, color=colour, linewidth=2.0)
        line.set_gid("calendar_time:car")
        top.axhline(0, **ZERO_LINE)
        top.set_ylabel("Cumulative abnormal return (%)")
        bars = bottom.fill_between(dates, 0, firms, step="post", color=MUTED, alpha=0.45, lw=0)
        bars.set_gid("calendar_time:firms")
        bottom.set_ylabel("Firms held")
        bottom.set_ylim(0, max(1.0, float(np.nanmax(firms)) * 1.1))
        locator = mdates.AutoDateLocator(maxticks=8)
        bottom.xaxis.set_major_locator(locator)
        bottom.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        period = "day" if result.frequency == "daily" else "month"
        alpha = row["alpha"] * 100.0
        subtitle = (
            f"{title + ' · ' if title else ''}{result.weighting}-weighted, "
            f"{result.frequency}, days {fmt_window(result.horizon)} of each event · "
            f"alpha {alpha:+.3f}% a {period}"
        )
        errors = (
            f"Newey-West standard errors with {result.lags} lags"
            if result.errors == "hac"
            else "White (HC1) standard errors"
        )
        notes = [
            "Each period's portfolio holds the firms whose event day 0 lies "
            f"{fmt_window(result.horizon)} trading days back; its excess return is regressed on "
            f"the {_MODELS.get(result.model, result.model)} ({errors}).",
            "Cumulative abnormal return: the running sum of the excess return minus the "
            "factors' part of the fit (alpha plus residual).",
            f"Alpha {alpha:+.4f}% a {period}, t = {row['t']:.2f}, p = {row['p']:.3g}; "
            f"{int(row['n_periods'])} periods; {row['mean_firms']:.1f} firms held on average.",
        ]
        handles = [
            Line2D([], [], color=colour, linewidth=2.0, label="cumulative abnormal return"),
            Patch(color=MUTED, alpha=0.45, label="firms held"),
        ]
        decorate_grid(fig, [top, bottom], "Calendar-time portfolio", subtitle, notes, handles)
    return fig
