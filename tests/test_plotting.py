"""The report charts, checked by content (bars, lines, labels, notes) on the real R1 sample.

Artists the tests look for carry a ``gid`` set by :mod:`eventstudy.plotting`: ``bar:<ticker>``,
``label:<ticker>``, ``car:<ticker>``/``car:average``, ``price:<ticker>``, ``market:<ticker>``,
``day0``, ``title``, ``footer``, ``endlabel:<name>``."""

from __future__ import annotations

import dataclasses
import itertools
import os
import threading
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
import pytest
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from PIL import Image
from scipy import stats

from eventstudy import plotting
from eventstudy.estimator import Event, EventStudy
from eventstudy.inference import significance_mark
from eventstudy.panel import ReturnsPanel
from eventstudy.results import EventStudyResults

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
def small(sample_prices: pd.DataFrame, sample_shares: pd.DataFrame) -> EventStudyResults:
    """Two events, the second without any shares outstanding (so without a value chart)."""
    study = EventStudy.from_prices(
        sample_prices, market="^GSPC", shares=sample_shares, title="Small study"
    )
    return study.fit(
        [
            Event(name="V3 release", date="2024-12-26", tickers=["NVDA", "AVGO", "TSM"]),
            Event(name="No shares: R1", date="2025-01-27", tickers=["ASML"]),
        ]
    )


@pytest.fixture(scope="module")
def figs(res: EventStudyResults) -> dict[str, Figure]:
    figures = {
        "car": plotting.plot_car(res),
        "day0_ar": plotting.plot_day0_ar(res),
        "prices": plotting.plot_prices(res),
        "value": plotting.plot_value(res),
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
        canvas = fig.bbox.padded(1.0)
        ticks = {
            id(label)
            for ax in fig.axes
            for axis in (ax.xaxis, ax.yaxis)
            for tick in axis.get_major_ticks() + axis.get_minor_ticks()
            for label in (tick.label1, tick.label2)
        }
        for text in fig.findobj(Text):
            if id(text) in ticks or not text.get_visible() or not text.get_text().strip():
                continue
            box = text.get_window_extent()
            assert canvas.contains(box.x0, box.y0) and canvas.contains(box.x1, box.y1), (
                f"{name}: {text.get_text()[:40]!r} at {box} outside {fig.bbox}"
            )
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
        mpl.colors.to_rgb(plotting.NEGATIVE)
    )
    assert _one(figs["day0_ar"], "bar:AAPL").get_facecolor()[:3] == pytest.approx(
        mpl.colors.to_rgb(plotting.POSITIVE)
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


def test_car_direct_labels_do_not_overlap(figs: dict[str, Figure]) -> None:
    labels = _gid(figs["car"], "endlabel")
    assert sorted(labels) == sorted([*R1_TICKERS, "Average"])
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
    assert sorted(bars) == ["AAPL", "AVGO", "META", "MSFT", "MU", "NVDA", "TSM"]
    assert bars["NVDA"].get_width() == pytest.approx(-592.3, abs=0.5)
    widths = [b.get_width() for b in sorted(bars.values(), key=lambda b: b.get_y())]
    assert widths == sorted(widths)
    assert _one(fig, "label:NVDA").get_text() == f"{MINUS}$592B"
    assert _one(fig, "label:AAPL").get_text() == "+$106B"
    footer = " ".join(_one(fig, "footer").get_text().split())
    assert "n/a: no shares outstanding for ASML, AMD, MRVL" in footer
    # The total is in the subtitle; the abnormal change is a marker per stock, with a legend.
    assert f"Total {MINUS}$892B across 7 stocks" in _one(fig, "subtitle").get_text()
    marks = _one(fig, "abnormal_dollar_change")
    assert len(marks.get_offsets()) == 7
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


# ------------------------------------------------------------------------------ saving
def test_save_figures_writes_png_and_svg_and_nothing_else(
    small: EventStudyResults, tmp_path: Path
) -> None:
    out = tmp_path / "figs"
    written = plotting.save_figures(small, out)
    expected = [
        f"{slug}_{chart}.{fmt}"
        for slug, charts in (
            ("v3-release", ["car", "day0_ar", "prices", "value"]),
            ("no-shares-r1", ["car", "day0_ar", "prices"]),  # no shares: no value chart
        )
        for chart in charts
        for fmt in ("png", "svg")
    ]
    assert [p.name for p in written] == expected
    assert all(p.parent == out for p in written)
    assert sorted(os.listdir(out)) == sorted(expected)  # no temporary files left behind
    for path in written:
        data = path.read_bytes()
        if path.suffix == ".png":
            assert data.startswith(b"\x89PNG\r\n\x1a\n")
            assert len(data) > 30_000
            with Image.open(path) as img:
                assert img.info["dpi"] == pytest.approx((200, 200), abs=0.1)
                assert img.width > 1400  # 8 in at 200 dpi, cropped to content
        else:
            assert b"<svg" in data[:1000]
            assert len(data) > 30_000


def test_save_figures_is_atomic_on_failure(
    small: EventStudyResults, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Figure, *args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        plotting.save_figures(small, tmp_path, formats=("svg",))
    assert os.listdir(tmp_path) == []


def test_save_figures_rejects_unknown_formats(small: EventStudyResults, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unsupported figure format"):
        plotting.save_figures(small, tmp_path, formats=("png", "bmp"))
    assert os.listdir(tmp_path) == []
