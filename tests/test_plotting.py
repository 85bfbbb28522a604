"""The report charts, checked by content (bars, lines, cells, labels, notes) on the real R1 sample.

Artists the tests look for carry a ``gid`` set by :mod:`eventstudy.output.plots`:
``bar:<ticker>``, ``label:<ticker>``, ``car:<ticker>``/``car:average``, ``price:<ticker>``,
``market:<ticker>``,
``day0``, ``title``, ``footer``, ``endlabel:<name>``, ``total``, ``heatmap``,
``cell:<ticker>:<day>``, ``event:<date>``/``eventlabel:<date>``, ``caar:<event>``,
``band:<event>``, ``model:<panel>:<event>``, ``panel:<name>``."""

from __future__ import annotations

import dataclasses
import itertools
import os
import re
import threading
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
import pytest
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection, QuadMesh
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.text import Text
from PIL import Image
from scipy import stats

from eventstudy.data.panel import ReturnsPanel
from eventstudy.errors import EventStudyError
from eventstudy.event_study import Event, EventStudy
from eventstudy.output import plots as plotting
from eventstudy.output.format import significance_mark
from eventstudy.output.plots.style import NEGATIVE, POSITIVE
from eventstudy.results import EventStudyResults
from tests.figure_checks import assert_texts_inside

pytestmark = pytest.mark.sample

R1_TICKERS = [
    "NVDA", "AVGO", "TSM", "ASML", "AMD", "MU", "MRVL", "ARM", "SMCI",
    "ORCL", "VST", "CEG", "MSFT", "GOOGL", "META", "AMZN", "AAPL",
]  # fmt: skip
MINUS = "\u2212"


@pytest.fixture(scope="module")
def res(sample_prices: pd.DataFrame, sample_shares: pd.DataFrame) -> EventStudyResults:
    study = EventStudy.from_prices(
        sample_prices, market="^GSPC", shares=sample_shares, title="DeepSeek R1 shock"
    )
    return study.fit(
        [
            Event(name="R1 sell-off", date="2025-01-27", tickers=R1_TICKERS),
            Event(name="V3 release", date="2024-12-26", tickers=["NVDA", "AVGO", "TSM"]),
        ]
    )


@pytest.fixture(scope="module")
def models(sample_prices: pd.DataFrame) -> EventStudyResults:
    """The R1 sell-off for four stocks under three models (same day 0 and tickers), plus V3."""
    study = EventStudy.from_prices(
        sample_prices, market="^GSPC", title="Models", event_window=(-5, 10), car_windows=[(0, 0)]
    )
    tickers = ["NVDA", "AVGO", "TSM", "MU"]
    return study.fit(
        [
            Event(name="market model", date="2025-01-27", tickers=tickers, model="market"),
            Event(name="adjusted", date="2025-01-27", tickers=tickers, model="market-adjusted"),
            Event(name="mean", date="2025-01-27", tickers=tickers, model="constant-mean"),
            Event(name="V3 release", date="2024-12-26", tickers=["NVDA", "AVGO"]),
        ]
    )


@pytest.fixture(scope="module")
def wide(sample_prices: pd.DataFrame) -> EventStudyResults:
    """One event with 22 tickers: the 17 stocks, four ETFs and two indices."""
    study = EventStudy.from_prices(sample_prices, market="^GSPC", title="Wide")
    tickers = [*R1_TICKERS, "SPY", "QQQ", "SMH", "SOXX", "^SOX"]
    return study.fit([Event(name="R1 sell-off", date="2025-01-27", tickers=tickers)])


@pytest.fixture(scope="module")
def figs(res: EventStudyResults, models: EventStudyResults) -> dict[str, Figure]:
    figures = {
        "car": plotting.plot_car(res),
        "day0_ar": plotting.plot_day0_ar(res),
        "prices": plotting.plot_prices(res),
        "value": plotting.plot_value(res),
        "ar_heatmap": plotting.plot_ar_heatmap(res),
        "timeline": plotting.plot_events_timeline(res),
        "caar": plotting.plot_caar_comparison(res),
        "models": plotting.plot_model_comparison(models),
    }
    for fig in figures.values():
        fig.draw_without_rendering()
    return figures


@pytest.fixture(scope="module")
def v3(res: EventStudyResults) -> dict[str, object]:
    """V3 charts, through the results' own plot methods; notes whether rcParams were touched."""
    before = dict(mpl.rcParams)
    figures: dict[str, object] = {
        "day0_ar": res.plot("ar", event="V3 release"),
        "car": res.plot_car(event="V3 release"),
    }
    figures["rcparams_unchanged"] = dict(mpl.rcParams) == before
    return figures


def _gid(fig: Figure, prefix: str) -> dict[str, Artist]:
    """Artists whose gid starts with ``prefix:``, keyed by the rest of the gid."""
    found = fig.findobj(lambda a: str(a.get_gid() or "").startswith(prefix + ":"))
    return {str(a.get_gid()).split(":", 1)[1]: a for a in found}


def _one(fig: Figure, gid: str) -> Artist:
    found = fig.findobj(lambda a: a.get_gid() == gid)
    assert len(found) == 1, f"{gid}: {found}"
    return found[0]


def _day0(res: EventStudyResults, event: str = "R1 sell-off") -> pd.DataFrame:
    ar = res.ar_frame()
    return ar[(ar["event"] == event) & (ar["rel_day"] == 0)].set_index("ticker")


# ------------------------------------------------------------------------------ all charts
def test_charts_are_plain_agg_figures_and_leave_rcparams_alone(v3: dict) -> None:
    fig = v3["day0_ar"]
    assert isinstance(fig, Figure)
    assert isinstance(fig.canvas, FigureCanvasAgg)
    ax = fig.axes[0]
    assert not ax.spines["top"].get_visible() and not ax.spines["right"].get_visible()
    assert v3["rcparams_unchanged"]
    assert len(_gid(fig, "bar")) == 3


def test_charts_can_be_drawn_from_several_threads(res: EventStudyResults) -> None:
    figures: dict[int, Figure] = {}
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            fig = plotting.plot_prices(res, event="V3 release")
            fig.draw_without_rendering()
            figures[k] = fig
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    a, b = (_gid(figures[k], "price") for k in (0, 1))
    for ticker in ("NVDA", "AVGO", "TSM"):
        np.testing.assert_array_equal(a[ticker].get_ydata(), b[ticker].get_ydata())
        assert a[ticker].get_color() == b[ticker].get_color()


def test_every_text_lies_inside_the_figure(figs: dict[str, Figure]) -> None:
    """Nothing is clipped: titles, footers, direct and bar labels, ticks stay on the canvas."""
    for name, fig in figs.items():
        assert_texts_inside(fig, name)
        canvas = fig.bbox.padded(1.0)
        # Drawn tick labels included (stale ones outside the view limits are not drawn).
        tight = fig.get_tightbbox().transformed(fig.dpi_scale_trans)
        assert canvas.contains(tight.x0, tight.y0) and canvas.contains(tight.x1, tight.y1), name


@pytest.mark.parametrize("func", ["plot_car", "plot_day0_ar", "plot_prices", "plot_value"])
def test_unknown_event_lists_the_names(res: EventStudyResults, func: str) -> None:
    with pytest.raises(ValueError, match=r"unknown event 'R2'.*'R1 sell-off', 'V3 release'"):
        getattr(plotting, func)(res, event="R2")


# ------------------------------------------------------------------------------ day-0 AR
def test_day0_bars_one_per_ticker_sorted_with_values(
    res: EventStudyResults, figs: dict[str, Figure]
) -> None:
    day0 = _day0(res)
    expected = day0.index[np.isfinite(day0["ar"])]
    bars = _gid(figs["day0_ar"], "bar")
    assert sorted(bars) == sorted(expected)
    assert len(bars) == 17
    for ticker, bar in bars.items():
        assert bar.get_width() == pytest.approx(100 * day0.loc[ticker, "ar"])
    # Top to bottom (the y axis is inverted): sorted from most negative to most positive.
    top_down = sorted(bars.values(), key=lambda b: b.get_y())
    widths = [b.get_width() for b in top_down]
    assert widths == sorted(widths)
    assert _one(figs["day0_ar"], "bar:VST").get_facecolor()[:3] == pytest.approx(
        mpl.colors.to_rgb(NEGATIVE)
    )
    assert _one(figs["day0_ar"], "bar:AAPL").get_facecolor()[:3] == pytest.approx(
        mpl.colors.to_rgb(POSITIVE)
    )
    ticks = [t.get_text() for t in figs["day0_ar"].axes[0].get_yticklabels()]
    assert ticks == [b.get_gid().split(":")[1] for b in top_down]


def test_day0_stars_exactly_where_p_below_010(
    res: EventStudyResults, figs: dict[str, Figure]
) -> None:
    day0 = _day0(res)
    labels = _gid(figs["day0_ar"], "label")
    assert sorted(labels) == sorted(R1_TICKERS)
    starred = {t for t, lab in labels.items() if "*" in lab.get_text()}
    assert starred == set(day0.index[day0["ar_p"] < 0.10])
    for ticker, label in labels.items():
        text = label.get_text()
        stars = significance_mark(day0.loc[ticker, "ar_p"])
        assert text.endswith(f" {stars}" if stars else "%"), text
        value = text.split("%")[0].replace(MINUS, "-")
        assert float(value) == pytest.approx(100 * day0.loc[ticker, "ar"], abs=0.051)
    assert labels["VST"].get_text() == f"{MINUS}25.7% ***"
    assert labels["MSFT"].get_text() == f"{MINUS}0.3%"
    footer = _one(figs["day0_ar"], "footer").get_text()
    assert "*** p < 0.01, ** p < 0.05, * p < 0.10" in footer


def test_bar_charts_grow_with_the_number_of_bars(v3: dict, figs: dict[str, Figure]) -> None:
    few, many = v3["day0_ar"], figs["day0_ar"]
    assert many.get_figheight() > few.get_figheight() + 3
    # 17 bars at 8.5 pt labels: each bar slot is at least 14 pt tall.
    ax = many.axes[0]
    many.draw_without_rendering()
    slot_pt = ax.get_window_extent().height / len(ax.patches) * 72 / many.dpi
    assert slot_pt > 14


# ------------------------------------------------------------------------------ CAR
def test_car_chart_lines_axes_and_titles(res: EventStudyResults, figs: dict[str, Figure]) -> None:
    fig = figs["car"]
    ax = fig.axes[0]
    lines = _gid(fig, "car")
    assert sorted(lines) == sorted([*R1_TICKERS, "average"])
    ar = res.ar_frame()
    car = ar[ar["event"] == "R1 sell-off"].pivot(index="rel_day", columns="ticker", values="car")
    np.testing.assert_allclose(lines["NVDA"].get_ydata(), 100 * car["NVDA"].to_numpy())
    np.testing.assert_allclose(lines["average"].get_xdata(), np.arange(-5, 6))
    np.testing.assert_allclose(lines["average"].get_ydata(), 100 * car.mean(axis=1).to_numpy())
    assert lines["average"].get_linewidth() > 2 * lines["NVDA"].get_linewidth()

    day0 = _one(fig, "day0")
    assert list(day0.get_xdata()) == [0, 0]
    assert any(list(h.get_ydata()) == [0, 0] for h in ax.lines if h.get_gid() is None)
    assert ax.get_xlabel() == "Trading days relative to event (day 0 = 2025-01-27)"
    assert ax.get_ylabel() == "Cumulative abnormal return (%)"
    assert _one(fig, "title").get_text() == "R1 sell-off: cumulative abnormal returns"
    assert "DeepSeek R1 shock" in _one(fig, "subtitle").get_text()
    footer = " ".join(_one(fig, "footer").get_text().split())
    assert "OLS market model vs ^GSPC, estimation window [" in footer
    assert "prediction error" in footer


def test_car_average_band_is_the_cross_sectional_t_interval(
    res: EventStudyResults, figs: dict[str, Figure]
) -> None:
    ar = res.ar_frame()
    car = 100 * ar[ar["event"] == "R1 sell-off"].pivot(
        index="rel_day", columns="ticker", values="car"
    )
    half = stats.t.ppf(0.975, 16) * car.std(axis=1, ddof=1) / np.sqrt(17)
    edges = sorted(
        (line.get_ydata() for line in figs["car"].findobj(lambda a: a.get_gid() == "band-edge")),
        key=lambda y: y[0],
    )
    assert len(edges) == 2  # 17 stocks: only the average has a band
    np.testing.assert_allclose(edges[0], car.mean(axis=1) - half)
    np.testing.assert_allclose(edges[1], car.mean(axis=1) + half)


def _largest_movers(fig: Figure, prefix: str, k: int = 5) -> list[str]:
    """The tickers whose lines end farthest from their start value (0 CAR, index 100)."""
    lines = _gid(fig, prefix)
    start = 100.0 if prefix == "price" else 0.0
    final = {
        t: abs(float(np.asarray(line.get_ydata())[np.isfinite(line.get_ydata())][-1]) - start)
        for t, line in lines.items()
        if t != "average"
    }
    return sorted(final, key=final.__getitem__, reverse=True)[:k]


def test_car_direct_labels_do_not_overlap(figs: dict[str, Figure]) -> None:
    """More than 8 stocks: the 5 largest movers are coloured and labelled, the rest grey."""
    from eventstudy.output.plots.style import BACKGROUND

    fig = figs["car"]
    labels = _gid(fig, "endlabel")
    assert len(R1_TICKERS) > 8
    assert sorted(labels) == sorted([*_largest_movers(fig, "car"), "Average"])
    grey = [t for t, line in _gid(fig, "car").items() if line.get_color() == BACKGROUND]
    assert len(grey) == len(R1_TICKERS) - 5 and not set(grey) & set(labels)
    boxes = sorted((t.get_window_extent() for t in labels.values()), key=lambda b: b.y0)
    for lower, upper in itertools.pairwise(boxes):
        assert upper.y0 >= lower.y1 - 0.5


def test_car_few_stocks_get_their_own_bands_and_ax_is_honoured(
    res: EventStudyResults, v3: dict
) -> None:
    fig = v3["car"]
    assert sorted(_gid(fig, "car")) == ["AVGO", "NVDA", "TSM", "average"]
    assert len(fig.axes[0].collections) == 3  # one shaded band per stock

    host = Figure(figsize=(10, 4), layout="constrained")
    left, right = host.subplots(1, 2)
    out = plotting.plot_car(res, tickers=["NVDA", "AVGO"], ax=right)
    assert out is host
    assert sorted(_gid(host, "car")) == ["AVGO", "NVDA", "average"]
    assert not left.lines
    with pytest.raises(ValueError, match="no ticker"):
        plotting.plot_car(res, tickers=["NVDA", "XYZ"])


# ------------------------------------------------------------------------------ prices
def test_prices_are_100_on_day_minus_1(res: EventStudyResults, figs: dict[str, Figure]) -> None:
    fig = figs["prices"]
    lines = _gid(fig, "price")
    assert sorted(lines) == sorted(R1_TICKERS)
    market = _one(fig, "market:^GSPC")
    assert market.get_color() in ("#000000", "black", "k")
    assert market.get_linestyle() != "-"
    for line in [*lines.values(), market]:
        x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
        assert y[x == -1] == pytest.approx([100.0])
    # NVDA 142.62 -> 118.42 on day 0 (-16.97%); S&P 500 -1.46%.
    x = np.asarray(lines["NVDA"].get_xdata())
    assert lines["NVDA"].get_ydata()[x == 0] == pytest.approx([100 * 118.42 / 142.62], abs=0.02)
    assert market.get_ydata()[x == 0] == pytest.approx([100 * 6012.28 / 6101.24], abs=0.01)
    texts = [t.get_text() for t in fig.findobj(Text)]
    assert any("2025-01-27" in t and "Day 0" in t for t in texts)
    assert fig.axes[0].get_ylabel() == f"Price index (day {MINUS}1 = 100)"


def test_prices_from_log_returns_match_simple(
    res: EventStudyResults, figs: dict[str, Figure]
) -> None:
    panel = res.panel
    log_panel = ReturnsPanel(panel.dates, panel.tickers, np.log1p(panel.values))
    log_res = dataclasses.replace(res, panel=log_panel, meta={**res.meta, "returns": "log"})
    simple = _gid(figs["prices"], "price")
    logged = _gid(plotting.plot_prices(log_res), "price")
    for ticker in R1_TICKERS:
        np.testing.assert_allclose(logged[ticker].get_ydata(), simple[ticker].get_ydata())


# ------------------------------------------------------------------------------ value
def test_value_chart_nvda_and_footnote(res: EventStudyResults, figs: dict[str, Figure]) -> None:
    fig = figs["value"]
    bars = _gid(fig, "bar")
    assert sorted(bars) == [
        "AAPL", "AMD", "AMZN", "AVGO", "GOOGL", "META", "MSFT", "MU", "NVDA", "TSM"
    ]
    assert bars["NVDA"].get_width() == pytest.approx(-592.3, abs=0.5)
    widths = [b.get_width() for b in sorted(bars.values(), key=lambda b: b.get_y())]
    assert widths == sorted(widths)
    assert _one(fig, "label:NVDA").get_text() == f"{MINUS}$592B"
    assert _one(fig, "label:AAPL").get_text() == "+$106B"
    footer = " ".join(_one(fig, "footer").get_text().split())
    assert "n/a: no shares outstanding for ASML, MRVL, ARM" in footer
    # The total is in the subtitle; the abnormal change is a marker per stock, with a legend.
    subtitle = _one(fig, "subtitle").get_text()
    assert f"Total {MINUS}$1,001B, 10 of 17 stocks with share counts" in subtitle
    marks = _one(fig, "abnormal_dollar_change")
    assert len(marks.get_offsets()) == 10
    nvda_y = bars["NVDA"].get_y() + bars["NVDA"].get_height() / 2
    nvda_mark = [x for x, y in marks.get_offsets() if y == pytest.approx(nvda_y)]
    assert nvda_mark == [pytest.approx(-461.2, abs=0.5)]
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("Abnormal" in t for t in legend)


def test_value_other_windows(res: EventStudyResults) -> None:
    fig = plotting.plot_value(res, window=(-1, 1))
    assert "over days [" in fig.axes[0].get_xlabel()
    with pytest.raises(ValueError, match=r"no valuation for window \[2, 3\].*\[0, 0\]"):
        plotting.plot_value(res, window=(2, 3))


def test_value_chart_total_bar_is_the_sum(res: EventStudyResults, figs: dict[str, Figure]) -> None:
    fig = figs["value"]
    bars = _gid(fig, "bar")
    total = _one(fig, "total")
    assert total.get_width() == pytest.approx(sum(b.get_width() for b in bars.values()))
    assert total.get_width() == pytest.approx(-1001.1, abs=0.5)
    # Set apart below the stocks, labelled, and named "Total" on the axis.
    assert total.get_y() > max(b.get_y() for b in bars.values()) + 1
    assert _one(fig, "total_label").get_text() == f"{MINUS}$1,001B"
    assert fig.axes[0].get_yticklabels()[-1].get_text() == "Total"
    val = res.valuation_frame().query("event == 'R1 sell-off' and start == 0 and end == 0")
    abnormal = _one(fig, "abnormal_total").get_offsets()[0][0]
    assert abnormal == pytest.approx(val["abnormal_dollar_change"].sum() / 1e9)
    assert "Total: sum over the 10 stocks" in " ".join(_one(fig, "footer").get_text().split())


# ------------------------------------------------------------------------------ every chart
def test_no_chart_has_an_empty_axes(figs: dict[str, Figure]) -> None:
    for name, fig in figs.items():
        for ax in fig.axes:
            if ax.get_gid() == "colorbar":
                continue
            drawn = ax.lines + ax.collections + ax.patches + ax.images
            assert drawn, f"{name}: empty axes"
            titled = any(ax.get_title(loc=loc) for loc in ("left", "center", "right"))
            assert ax.get_xlabel() or titled, f"{name}: axes without a label or title"
        assert _one(fig, "title").get_text().strip(), name
        footer = _one(fig, "footer").get_text()  # no data source recorded for library frames
        assert footer.strip() and "Data: " not in footer and "Source: eventstudy" not in footer


# ------------------------------------------------------------------------------ heatmap
def test_heatmap_one_cell_per_stock_and_day_with_day0_outlined(
    res: EventStudyResults, figs: dict[str, Figure]
) -> None:
    fig = figs["ar_heatmap"]
    ax = fig.axes[0]
    mesh = _one(fig, "heatmap")
    assert isinstance(mesh, QuadMesh)
    ar = res.ar_frame()
    sub = ar[ar["event"] == "R1 sell-off"]
    expected = 100 * sub.pivot(index="ticker", columns="rel_day", values="ar").loc[R1_TICKERS]
    np.testing.assert_allclose(np.asarray(mesh.get_array()).reshape(17, 11), expected.to_numpy())
    assert [t.get_text() for t in ax.get_yticklabels()] == R1_TICKERS  # study order, top down
    days = [t.get_text() for t in ax.get_xticklabels()]
    assert days == [f"{MINUS}{k}" for k in range(5, 0, -1)] + ["0"] + [f"+{k}" for k in range(1, 6)]
    outline = _one(fig, "day0")
    assert isinstance(outline, Rectangle)
    assert (outline.get_x(), outline.get_width(), outline.get_height()) == (-0.5, 1, 17)
    texts = [t.get_text() for t in fig.findobj(Text)]
    assert "Day 0: 2025-01-27" in texts
    cbar = _one(fig, "colorbar")
    assert cbar.get_ylabel() == "Abnormal return (%)"
    assert _one(fig, "title").get_text() == "R1 sell-off: abnormal returns by stock and day"


def test_heatmap_cell_labels_bold_exactly_where_p_below_010(
    res: EventStudyResults, figs: dict[str, Figure]
) -> None:
    cells = _gid(figs["ar_heatmap"], "cell")
    ar = res.ar_frame().query("event == 'R1 sell-off'").set_index(["ticker", "rel_day"])
    assert len(cells) == 17 * 11
    for key, text in cells.items():
        ticker, day = key.split(":")
        row = ar.loc[(ticker, int(day))]
        assert float(text.get_text().replace(MINUS, "-")) == pytest.approx(
            100 * row["ar"], abs=0.051
        )
        assert (text.get_fontweight() == "bold") == (row["ar_p"] < 0.10), key
    assert cells["NVDA:0"].get_text() == f"{MINUS}13.2"
    assert cells["VST:0"].get_color() == "white"  # dark cell, light text
    footer = " ".join(_one(figs["ar_heatmap"], "footer").get_text().split())
    assert "Bold: p < 0.10" in footer
    assert "capped at ±20%" in footer  # VST's -25.7% is beyond the 98th percentile


def test_heatmap_sorted_by_day0(res: EventStudyResults) -> None:
    fig = plotting.plot_ar_heatmap(res, order="day0")
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    day0 = _day0(res)["ar"]
    assert ticks == list(day0.sort_values(kind="stable").index)
    with pytest.raises(ValueError, match="unknown order"):
        plotting.plot_ar_heatmap(res, order="alpha")


def test_22_tickers_stay_readable(wide: EventStudyResults) -> None:
    """Rows of at least 14 pt with 8.5 pt labels: the heatmap and the day-0 bars of 22 stocks."""
    for fig in (plotting.plot_ar_heatmap(wide), plotting.plot_day0_ar(wide)):
        fig.draw_without_rendering()
        ax = fig.axes[0]
        labels = ax.get_yticklabels()
        assert len(labels) == 22
        assert min(t.get_fontsize() for t in labels) >= 8.5
        row_pt = ax.get_window_extent().height / 22 * 72 / fig.dpi
        assert row_pt >= 14
        boxes = sorted((t.get_window_extent() for t in labels), key=lambda b: b.y0)
        for lower, upper in itertools.pairwise(boxes):
            assert upper.y0 >= lower.y1 - 0.5
    car = plotting.plot_car(wide)
    ends = _gid(car, "endlabel")  # the 5 largest movers and the average; 17 grey lines
    assert len(ends) == 6 and min(t.get_fontsize() for t in ends.values()) >= 6.5
    assert sorted(ends) == sorted([*_largest_movers(car, "car"), "Average"])


# ------------------------------------------------------------------------------ timeline
def test_timeline_lines_start_at_100_and_mark_every_event(
    res: EventStudyResults, figs: dict[str, Figure]
) -> None:
    fig = figs["timeline"]
    lines = _gid(fig, "price")
    assert sorted(lines) == sorted(R1_TICKERS)  # every ticker of any event, once
    market = _one(fig, "market:^GSPC")
    for line in [*lines.values(), market]:
        assert line.get_ydata()[0] == pytest.approx(100.0)
    marks = _gid(fig, "event")
    assert sorted(marks) == ["2024-12-26", "2025-01-27"]
    for date, mark in marks.items():
        assert mark.get_xdata()[0] == pytest.approx(mpl.dates.date2num(pd.Timestamp(date)))
    labels = {k: t.get_text() for k, t in _gid(fig, "eventlabel").items()}
    assert labels == {"2024-12-26": "V3 release", "2025-01-27": "R1 sell-off"}
    # NVDA: 142.62 -> 118.42 from the Friday before the sell-off to the day.
    x = np.asarray(lines["NVDA"].get_xdata())
    y = np.asarray(lines["NVDA"].get_ydata())
    at = {
        d: y[np.isclose(x, mpl.dates.date2num(pd.Timestamp(d)))][0]
        for d in ("2025-01-24", "2025-01-27")
    }
    assert at["2025-01-27"] / at["2025-01-24"] == pytest.approx(118.42 / 142.62, abs=2e-4)
    # The span: 15 sessions before V3's day 0 (window -5, pad 10) to 15 after the sell-off.
    dates = res.panel.dates
    first = dates[dates.get_loc(pd.Timestamp("2024-12-26")) - 15]
    last = dates[dates.get_loc(pd.Timestamp("2025-01-27")) + 15]
    assert x[0] == pytest.approx(mpl.dates.date2num(first))
    assert x[-1] == pytest.approx(mpl.dates.date2num(last))
    assert fig.axes[0].get_ylabel() == f"Price index (close of {first.date()} = 100)"


def test_timeline_events_on_one_day_share_a_mark(models: EventStudyResults) -> None:
    fig = plotting.plot_events_timeline(models)
    labels = {k: t.get_text() for k, t in _gid(fig, "eventlabel").items()}
    assert labels == {"2025-01-27": "market model / adjusted / mean", "2024-12-26": "V3 release"}


def test_timeline_labels_of_close_events_never_overlap(sample_prices: pd.DataFrame) -> None:
    study = EventStudy.from_prices(sample_prices, market="^GSPC", title="Close events")
    names = ["First announcement", "Second announcement", "Third", "Fourth announcement"]
    dates = ["2025-01-21", "2025-01-22", "2025-01-23", "2025-01-27"]
    close = study.fit(
        [Event(name=n, date=d, tickers=["NVDA", "AMD"]) for n, d in zip(names, dates, strict=True)]
    )
    fig = plotting.plot_events_timeline(close)
    fig.draw_without_rendering()
    boxes = [t.get_window_extent() for t in _gid(fig, "eventlabel").values()]
    assert len(boxes) == 4
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b), (a, b)
    canvas = fig.bbox.padded(1.0)
    for box in boxes:
        assert canvas.contains(box.x0, box.y0) and canvas.contains(box.x1, box.y1)
    title = _one(fig, "title").get_window_extent()
    assert all(box.y1 <= title.y0 for box in boxes)  # below the title and subtitle


def test_timeline_numbers_many_events_and_keys_them(sample_prices: pd.DataFrame) -> None:
    study = EventStudy.from_prices(sample_prices, market="^GSPC", title="Many events")
    days = pd.bdate_range("2024-11-04", periods=9, freq="5B")
    many = study.fit(
        [Event(name=f"E{k}", date=d.date(), tickers=["NVDA"]) for k, d in enumerate(days)]
    )
    fig = plotting.plot_events_timeline(many)
    labels = sorted(int(t.get_text()) for t in _gid(fig, "eventlabel").values())
    assert labels == list(range(1, 10))
    footer = " ".join(_one(fig, "footer").get_text().split())
    assert "1: E0 (2024-11-04)" in footer and "9: E8" in footer


# ------------------------------------------------------------------------------ CAAR comparison
def test_caar_comparison_one_line_and_band_per_event(
    res: EventStudyResults, figs: dict[str, Figure]
) -> None:
    fig = figs["caar"]
    lines = _gid(fig, "caar")
    assert sorted(lines) == ["R1 sell-off", "V3 release"]
    ar = res.ar_frame()
    for name, line in lines.items():
        car = ar[ar["event"] == name].pivot(index="rel_day", columns="ticker", values="car")
        np.testing.assert_allclose(line.get_xdata(), car.index.to_numpy())
        np.testing.assert_allclose(line.get_ydata(), 100 * car.mean(axis=1).to_numpy())
    bands = _gid(fig, "band")
    assert sorted(bands) == ["R1 sell-off", "V3 release"]
    assert all(isinstance(b, PolyCollection) for b in bands.values())
    assert list(_one(fig, "day0").get_xdata()) == [0, 0]
    assert sorted(_gid(fig, "endlabel")) == ["R1 sell-off", "V3 release"]
    assert fig.axes[0].get_ylabel() == "Cumulative average abnormal return (%)"
    assert "Stocks per event: R1 sell-off 17, V3 release 3" in " ".join(
        _one(fig, "footer").get_text().split()
    )


# ------------------------------------------------------------------------------ model comparison
def test_model_groups_pairs_same_day_and_tickers(
    res: EventStudyResults, models: EventStudyResults
) -> None:
    assert plotting.model_groups(models) == [["market model", "adjusted", "mean"]]
    assert plotting.model_groups(res) == []
    with pytest.raises(ValueError, match="no events to compare"):
        plotting.plot_model_comparison(res)
    with pytest.raises(ValueError, match="different day 0s"):
        plotting.plot_model_comparison(models, events=["market model", "V3 release"])


def test_model_comparison_panels_lines_and_legend(
    models: EventStudyResults, figs: dict[str, Figure]
) -> None:
    fig = figs["models"]
    panels = _gid(fig, "panel")
    assert sorted(panels) == ["AVGO", "Average", "MU", "NVDA", "TSM"]
    assert panels["Average"].get_text() == "Average of 4 stocks"
    lines = _gid(fig, "model")
    assert len(lines) == 5 * 3
    ar = models.ar_frame()
    for event in ("market model", "adjusted", "mean"):
        sub = ar[ar["event"] == event].pivot(index="rel_day", columns="ticker", values="car")
        np.testing.assert_allclose(lines[f"NVDA:{event}"].get_ydata(), 100 * sub["NVDA"])
        np.testing.assert_allclose(
            lines[f"Average:{event}"].get_ydata(), 100 * sub.mean(axis=1).to_numpy()
        )
    # The market-adjusted and market models differ for NVDA (beta 2.7): the lines are distinct.
    assert not np.allclose(
        lines["NVDA:market model"].get_ydata(), lines["NVDA:adjusted"].get_ydata()
    )
    bands = _gid(fig, "modelband")
    assert sorted(bands) == sorted(f"{p}:market model" for p in panels)  # the first model's
    legend = [t.get_text() for t in _one(fig, "legend").get_texts()]
    assert legend == models.model_labels[:3]
    assert len(fig.findobj(lambda a: a.get_gid() == "day0")) == 5
    assert _one(fig, "title").get_text() == "CAR under 3 normal-return models"


def test_model_comparison_of_one_ticker(models: EventStudyResults) -> None:
    fig = plotting.plot_model_comparison(models, tickers=["NVDA"])
    assert len(fig.axes) == 1
    assert sorted(_gid(fig, "model")) == ["NVDA:adjusted", "NVDA:market model", "NVDA:mean"]
    assert _one(fig, "title").get_text() == "NVDA: CAR under 3 normal-return models"
    with pytest.raises(ValueError, match="not in every compared event"):
        plotting.plot_model_comparison(models, tickers=["AAPL"])


# ------------------------------------------------------------------------------ sizes
def test_sizes_set_width_and_type(res: EventStudyResults) -> None:
    before = dict(mpl.rcParams)
    made = {s: plotting.plot_day0_ar(res, event="V3 release", size=s) for s in plotting.SIZES}
    assert dict(mpl.rcParams) == before
    assert {s: f.get_figwidth() for s, f in made.items()} == {
        "report": 8.0,
        "slide": 11.0,
        "print": 6.5,
    }
    title = {s: _one(f, "title").get_fontsize() for s, f in made.items()}
    ticks = {s: f.axes[0].get_yticklabels()[0].get_fontsize() for s, f in made.items()}
    assert title["print"] < title["report"] == 13 < title["slide"]
    assert ticks["print"] < ticks["report"] < ticks["slide"]
    with pytest.raises(ValueError, match="unknown figure size 'poster'"):
        plotting.plot_day0_ar(res, size="poster")


# ------------------------------------------------------------------------------ saving
def test_chart_plan_names_every_chart_from_slugs(
    small: EventStudyResults, models: EventStudyResults
) -> None:
    stems = [spec.stem for spec in plotting.chart_plan(small)]
    assert stems == [
        "v3-release_car",
        "v3-release_day0_ar",
        "v3-release_ar_heatmap",
        "v3-release_prices",
        "v3-release_value",
        "no-shares-r1_car",  # no shares: no value chart
        "no-shares-r1_day0_ar",
        "no-shares-r1_ar_heatmap",
        "no-shares-r1_prices",
        "study_timeline",
        "study_caar",
    ]
    plan = plotting.chart_plan(models)
    assert plan[-1] == plotting.ChartSpec(
        "study_models", "models", events=("market model", "adjusted", "mean")
    )


def test_chart_plan_and_save_figures_limit_the_per_event_charts(
    small: EventStudyResults, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With ``max_events`` only the first events get their own charts; the study charts stay."""
    stems = [spec.stem for spec in plotting.chart_plan(small, max_events=1)]
    assert stems == [
        "v3-release_car",
        "v3-release_day0_ar",
        "v3-release_ar_heatmap",
        "v3-release_prices",
        "v3-release_value",
        "study_timeline",
        "study_caar",
    ]
    study_only = [s.stem for s in plotting.chart_plan(small, max_events=0)]
    assert study_only == ["study_timeline", "study_caar"]
    written = plotting.save_figures(
        small, tmp_path, formats=("png",), charts=("car", "caar"), max_events=1, progress=True
    )
    assert [p.name for p in written] == ["v3-release_car.png", "study_caar.png"]
    assert "charts:" in capsys.readouterr().err  # the progress bar, asked for


def test_save_figures_formats_and_size(small: EventStudyResults, tmp_path: Path) -> None:
    out = tmp_path / "figs"
    written = plotting.save_figures(
        small, out, formats=("png", "svg", "pdf"), size="print", charts=("caar",)
    )
    expected = ["study_caar.png", "study_caar.svg", "study_caar.pdf"]
    assert [p.name for p in written] == expected
    assert sorted(os.listdir(out)) == sorted(expected)  # no temporary files left behind
    for path in written:
        data = path.read_bytes()
        if path.suffix == ".png":
            assert data.startswith(b"\x89PNG\r\n\x1a\n")
            with Image.open(path) as img:
                assert img.info["dpi"] == pytest.approx((200, 200), abs=0.1)
                assert 1100 < img.width < 1400  # 6.5 in at 200 dpi, cropped to content
        elif path.suffix == ".svg":
            assert b"<svg" in data[:1000]
        else:
            assert data.startswith(b"%PDF")
            assert b"CreationDate" not in data  # reproducible files


def test_save_figures_is_atomic_on_failure(
    small: EventStudyResults, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Figure, *args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        plotting.save_figures(small, tmp_path, formats=("svg",), charts=("value",))
    assert os.listdir(tmp_path) == []


def test_save_figures_rejects_unknown_formats_sizes_and_charts(
    small: EventStudyResults, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="unsupported figure format"):
        plotting.save_figures(small, tmp_path, formats=("png", "bmp"))
    with pytest.raises(ValueError, match="unknown figure size"):
        plotting.save_figures(small, tmp_path, size="poster")
    with pytest.raises(ValueError, match="unknown chart"):
        plotting.save_figures(small, tmp_path, charts=("pie",))
    assert os.listdir(tmp_path) == []


def test_save_figures_unwritable_folder_is_one_line(
    small: EventStudyResults, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(EventStudyError) as info:
        plotting.save_figures(small, blocker / "figures", charts=("value",))
    message = str(info.value)
    assert "\n" not in message and "cannot create figures folder" in message


def test_odd_tickers_and_event_names_cannot_escape_or_break_file_names(
    sample_prices: pd.DataFrame, sample_shares: pd.DataFrame, tmp_path: Path
) -> None:
    rename = {"NVDA": "../x", "AVGO": "BRK-B", "TSM": "^TW/..\\0"}
    prices = sample_prices.assign(ticker=sample_prices["ticker"].replace(rename))
    shares = sample_shares.assign(ticker=sample_shares["ticker"].replace(rename))
    study = EventStudy.from_prices(prices, market="^GSPC", shares=shares, title="../../odd")
    odd = study.fit(
        [
            Event(name="../../etc/passwd", date="2025-01-27", tickers=list(rename.values())),
            Event(name="..", date="2024-12-26", tickers=["BRK-B", "../x"]),
        ]
    )
    out = tmp_path / "deep" / "figs"
    written = plotting.save_figures(
        odd, out, formats=("png",), size="print", charts=("value", "timeline")
    )
    names = [p.name for p in written]
    assert names == [
        "etc-passwd_value.png",
        "study_value.png",  # ".." has no letters: slugify gives "study"
        "study_timeline.png",
    ]
    assert all(re.fullmatch(r"[a-z0-9-]+_[a-z0-9_]+\.png", n) for n in names)
    assert sorted(os.listdir(tmp_path)) == ["deep"]
    assert sorted(os.listdir(tmp_path / "deep")) == ["figs"]
    assert sorted(os.listdir(out)) == sorted(names)
    fig = plotting.plot_day0_ar(odd)
    assert sorted(_gid(fig, "bar")) == sorted(rename.values())  # the labels keep the tickers


def test_footers_credit_the_data_source_by_name_not_path(res: EventStudyResults) -> None:
    """A run's charts say where the prices came from (the file's name, never a local path)."""
    import dataclasses

    ran = dataclasses.replace(res, meta={**res.meta, "price_source": "/home/me/data/prices.csv"})
    fig = plotting.plot_car(ran)
    footer = " ".join(_one(fig, "footer").get_text().split())
    assert "Data: prices.csv; OLS market model vs ^GSPC" in footer and "/home" not in footer
    stored = dataclasses.replace(res, meta={**res.meta, "price_source": "local store: Yahoo"})
    assert "Data: Yahoo;" in " ".join(_one(plotting.plot_car(stored), "footer").get_text().split())


def test_price_chart_of_many_stocks_highlights_the_largest_movers(figs: dict[str, Figure]) -> None:
    from eventstudy.output.plots.style import BACKGROUND

    for name in ("prices", "timeline"):
        fig = figs[name]
        lines = _gid(fig, "price")
        coloured = [t for t, line in lines.items() if line.get_color() != BACKGROUND]
        assert sorted(coloured) == sorted(_largest_movers(fig, "price")), name
        assert len(lines) - len(coloured) == len(lines) - 5
