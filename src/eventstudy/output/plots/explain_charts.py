"""Charts of the cross-sectional analysis (docs/explaining.md), in the house style: the mean CAR
of each group with its 95% confidence interval, per CAR window (:func:`plot_groups`), and the CAR
of each firm-event against one numeric variable with the OLS line (:func:`plot_scatter`).

Both read a :class:`~eventstudy.output.source.ResultSource` (in memory or a results folder read
back): the group chart ``group_means.csv`` and ``group_tests.csv``; the scatter the cross-section
rebuilt from ``car.csv``, ``bhar.csv``, ``valuation.csv``, ``params.csv`` and
``characteristics.csv``. :func:`explain_plan` says which of them a study gets: the group chart
per grouping column (study key ``groups``), the scatter when a regression has a numeric regressor
(its first, over the regression's window).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from eventstudy.explain.characteristics import builtin_variables, cross_section
from eventstudy.explain.regression import Regression, fit_regression, parse_window
from eventstudy.output.explain_tables import explained
from eventstudy.output.format import MINUS, fmt_num, fmt_p, fmt_window, plural
from eventstudy.output.plots.chart_data import credited
from eventstudy.output.plots.layout import decorate, number_ticks
from eventstudy.output.plots.style import (
    BLACK,
    LABEL_SIZE,
    LINE_COLOURS,
    ZERO_LINE,
    FigureSize,
    current_size,
    figure_and_axes,
    house_style,
    line_height,
    pt,
    sign_colour,
    width,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from eventstudy.output.source import ResultSource

#: The cross-sectional charts (file ``study_<chart>``, ``-2``, ``-3``... for further groupings).
EXPLAIN_CHARTS = ("groups", "scatter")
#: Up to this many firm-events the scatter names each point by its ticker.
MAX_POINT_LABELS = 60
#: Axis labels of the built-in variables.
_AXIS_LABELS = {
    "beta": "Market-model beta (estimation window)",
    "sigma": "Residual standard deviation of the normal-return model",
    "market_value": "Market value on day −1 ($)",
    "np.log(market_value)": "Log market value on day −1",
}


def explain_plan(results: ResultSource) -> list[tuple[str, str, str | None]]:
    """``(stem, chart, subject)`` of each cross-sectional chart the study gets: ``groups`` per
    grouping column (the subject), then ``scatter`` (the subject: its x variable)."""
    out: list[tuple[str, str, str | None]] = []
    means = explained(results, "group_means")
    if means is not None:
        for k, grouping in enumerate(dict.fromkeys(means["grouping"].astype(str))):
            out.append(("study_groups" if k == 0 else f"study_groups-{k + 1}", "groups", grouping))
    choice = scatter_choice(results)
    if choice is not None:
        out.append(("study_scatter", "scatter", choice[0]))
    return out


def scatter_choice(results: ResultSource) -> tuple[str, tuple[int, int], str] | None:
    """The scatter of the study: the first numeric regressor of the first regression that has
    one (a term that is neither the intercept, a level of a categorical ``[T.x]`` nor an
    interaction), its regression's window and dependent variable; None when no regression has
    one."""
    regressions = explained(results, "regressions")
    if regressions is None:
        return None
    for _name, g in regressions.groupby("regression", sort=False):
        for term in g["term"].astype(str):
            if term != "Intercept" and "[" not in term and ":" not in term:
                lhs = str(g["formula"].iloc[0]).split("~", 1)[0].strip()
                return term, parse_window(str(g["window"].iloc[0])), lhs
    return None


def source_cross_section(results: ResultSource, window: tuple[int, int]) -> pd.DataFrame:
    """The cross-section of ``window`` (:func:`~eventstudy.explain.characteristics.cross_section`)
    from the result frames, the characteristics included when the source has them."""
    car = results.car_frame()
    builtins = builtin_variables(car, results.valuation_frame(), results.params_frame(),
                                 results.events)  # fmt: skip
    method = getattr(results, "characteristics_frame", None)
    characteristics = method() if method is not None else None
    return cross_section(window, car, results.bhar_frame(), builtins, characteristics)


def plot_groups(
    results: ResultSource,
    grouping: str | None = None,
    *,
    size: str | FigureSize | None = None,
) -> Figure:
    """Mean CAR (%) of each group of ``grouping`` (the first grouping column when None) per CAR
    window, with 95% confidence intervals (``mean ± t(0.975, n−1)·sd/√n``, from
    ``group_means.csv``); below each window the p-values of its tests (``group_tests.csv``).

    Raises
    ------
    ValueError
        When the results have no group comparisons, or not of ``grouping``.
    """
    means = explained(results, "group_means")
    if means is None:
        raise ValueError("no group comparisons: name characteristic columns in 'groups'")
    groupings = list(dict.fromkeys(means["grouping"].astype(str)))
    grouping = groupings[0] if grouping is None else grouping
    if grouping not in groupings:
        raise ValueError(f"no group comparison of {grouping!r} (groups: {', '.join(groupings)})")
    frame = means[means["grouping"].astype(str) == grouping]
    windows = list(dict.fromkeys(frame["window"].astype(str)))
    groups = list(dict.fromkeys(frame["group"].astype(str)))
    tests = explained(results, "group_tests")
    step = min(0.8 / len(groups), 0.22)

    with house_style(size):
        fig, ax = figure_and_axes(None, width(), line_height(len(groups)))
        ax.axhline(0, **ZERO_LINE)
        for j, group in enumerate(groups):
            rows = frame[frame["group"].astype(str) == group]
            at = np.array([windows.index(str(w)) for w in rows["window"]], dtype=float)
            x = at + (j - (len(groups) - 1) / 2) * step
            mean = rows["mean"].to_numpy(dtype=float) * 100
            low = np.nan_to_num(mean - rows["ci_low"].to_numpy(dtype=float) * 100)
            high = np.nan_to_num(rows["ci_high"].to_numpy(dtype=float) * 100 - mean)
            colour = LINE_COLOURS[j % len(LINE_COLOURS)]
            bars = ax.errorbar(
                x, mean, yerr=np.vstack([low, high]), fmt="o", color=colour, ecolor=colour,
                elinewidth=1.4, capsize=3 * current_size().font, markersize=6, label=group,
                zorder=3,
            )  # fmt: skip
            bars.lines[0].set_gid(f"mean:{group}")
            for line in bars.lines[2]:
                line.set_gid(f"ci:{group}")
        ax.set_xticks(range(len(windows)), [_window_tick(w, grouping, tests) for w in windows])
        ax.set_xlim(-0.6, len(windows) - 0.4)
        ax.grid(axis="x", visible=False)
        ax.yaxis.set_major_formatter(number_ticks())
        ax.set_ylabel("Mean CAR (%)")
        ax.set_xlabel("CAR window (trading days relative to day 0)")
        ax.legend(title=grouping, loc="best")
        n = int(frame.groupby("window", sort=False)["n"].sum().max())
        subtitle = (
            f"{results.title} · {plural(len(groups), 'group')} · up to {n} firm-events per "
            "window, every event with the window pooled"
        )
        notes = [
            f"Points: each group's mean CAR; bars: 95% confidence interval, mean ± "
            f"t(0.975, n{MINUS}1)·sd/√n (none for a group of one firm-event).",
            "Below each window: the two-sided p-values of Welch's t and Mann-Whitney (two "
            "groups) or of the one-way ANOVA and Kruskal-Wallis (more).",
            credited(results),
        ]
        decorate(fig, ax, f"Mean CAR by {grouping}", subtitle, notes)
    return fig


def _window_tick(window: str, grouping: str, tests: pd.DataFrame | None) -> str:
    label = fmt_window(parse_window(window))
    if tests is None:
        return label
    mine = tests[(tests["grouping"].astype(str) == grouping) & (tests["window"] == window)]
    short = {"welch_t": "Welch", "mann_whitney": "MW", "anova": "ANOVA", "kruskal_wallis": "KW"}
    parts = [f"{short.get(str(t.test), t.test)} p {_p(t.p)}" for t in mine.itertuples()]
    return "\n".join([label, *parts])


def _p(p: Any) -> str:
    text = fmt_p(p)
    return f"< {text[1:]}" if text.startswith("<") else f"= {text}"


def plot_scatter(
    results: ResultSource,
    x: str | None = None,
    window: tuple[int, int] | None = None,
    *,
    size: str | FigureSize | None = None,
) -> Figure:
    """Each firm-event's CAR (or BHAR) over ``window`` (%) against ``x``, with the OLS line of
    the CAR on ``x`` alone (its slope's HC1 t and p in the subtitle).

    ``x``: a numeric variable or formula term (``beta``, ``np.log(market_value)``, a numeric
    characteristic); None: the study's choice (:func:`scatter_choice`). ``window``: default the
    chosen regression's window, else the first event's first CAR window. Points are coloured
    by event when several events are pooled (by the sign of the CAR otherwise) and named by
    ticker up to :data:`MAX_POINT_LABELS` firm-events.

    Raises
    ------
    ValueError
        When there is no numeric variable to plot, ``x`` is not numeric or not known, or no
        firm-event has the window.
    """
    choice = scatter_choice(results)
    y = "car"
    if x is None:
        if choice is None:
            raise ValueError("no regression with a numeric regressor: pass x (e.g. x='beta')")
        x, chosen, y = choice
        window = window or chosen
    if window is None:
        first = results.events[0].car_windows[0]
        window = choice[1] if choice is not None else (int(first[0]), int(first[1]))
    window = (int(window[0]), int(window[1]))
    data = source_cross_section(results, window)
    if y == "car" and "car" not in data.columns and "bhar" in data.columns:
        y = "bhar"
    reg = Regression(label="scatter", formula=f"{y} ~ {x}", window=window, cov="HC1")
    fit = fit_regression(reg, data)
    if fit.model.exog.shape[1] != 2:
        raise ValueError(f"scatter: {x!r} is not one numeric variable")
    xs = np.asarray(fit.model.exog[:, 1], dtype=float)
    ys = np.asarray(fit.model.endog, dtype=float) * 100
    used = data.loc[fit.model.data.row_labels]
    events = list(dict.fromkeys(used["event"].astype(str)))
    what = "BHAR" if y == "bhar" else "CAR" if y == "car" else y

    with house_style(size):
        fig, ax = figure_and_axes(None, width(), line_height(len(events)))
        ax.axhline(0, **ZERO_LINE)
        if len(events) > 1:
            colours = [LINE_COLOURS[events.index(e) % len(LINE_COLOURS)] for e in used["event"]]
        else:
            colours = [sign_colour(v) for v in ys]
        points = ax.scatter(xs, ys, c=colours, s=28 * current_size().font, zorder=3,
                            edgecolors="white", linewidths=0.5)  # fmt: skip
        points.set_gid("points")
        grid = np.linspace(xs.min(), xs.max(), 50)
        (line,) = ax.plot(grid, (fit.params.iloc[0] + fit.params.iloc[1] * grid) * 100,
                          color=BLACK, linewidth=1.8, zorder=4)  # fmt: skip
        line.set_gid("fit")
        if len(xs) <= MAX_POINT_LABELS:
            for ticker, event, px, py in zip(used["ticker"], used["event"], xs, ys, strict=True):
                ax.annotate(
                    str(ticker), (px, py), xytext=(pt(3), pt(2)), textcoords="offset points",
                    fontsize=pt(LABEL_SIZE - 1.5), color="#333333", parse_math=False,
                ).set_gid(f"point:{event}|{ticker}")  # fmt: skip
        if len(events) > 1:
            handles = [
                Line2D([], [], marker="o", linestyle="", color=LINE_COLOURS[k % len(LINE_COLOURS)],
                       label=e)
                for k, e in enumerate(events)
            ]  # fmt: skip
            handles.append(Line2D([], [], color=BLACK, linewidth=1.8, label="OLS fit"))
            ax.legend(handles=handles, loc="best")
        ax.yaxis.set_major_formatter(number_ticks())
        ax.set_xlabel(_AXIS_LABELS.get(x, x))
        ax.set_ylabel(f"{what} {fmt_window(window)} (%)")
        slope, t, p = fit.params.iloc[1], fit.tvalues.iloc[1], fit.pvalues.iloc[1]
        subtitle = (
            f"{results.title} · {len(xs)} firm-events · slope {fmt_num(slope * 100, 3)} "
            f"pp per unit (t = {fmt_num(t)}, p = {fmt_p(p)}, HC1) · R² {fmt_num(fit.rsquared, 3)}"
        )
        notes = [
            f"Line: OLS of the {what} on {x} alone, with White's HC1 standard error; a "
            "regression table's coefficients hold its other terms constant.",
            credited(results),
        ]
        if len(xs) < len(data):
            notes.insert(1, f"{len(data) - len(xs)} firm-event(s) without {x} left out.")
        decorate(fig, ax, f"{what} {fmt_window(window)} against {x}", subtitle, notes)
    return fig
