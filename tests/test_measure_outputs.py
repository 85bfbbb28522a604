"""The outputs of the volume and volatility measures: the charts (artists by gid against the
frames), the terminal summary, the report's sections, the LaTeX and Excel tables, on the default
study (events.yaml measures returns, volume and volatility) and on the same study measuring
returns only, whose outputs must not change."""

from __future__ import annotations

import math
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from matplotlib.artist import Artist
from matplotlib.figure import Figure
from openpyxl import load_workbook

from eventstudy import parallel
from eventstudy.output import plots as plotting
from eventstudy.output.folder import StoredResults, write_tables
from eventstudy.output.measure_data import day_averages
from eventstudy.output.report import build_report
from eventstudy.output.summary import summarize, text_summary
from eventstudy.pipeline import DataOptions, run_study
from eventstudy.results import EventStudyResults
from eventstudy.study import load_study
from tests.figure_checks import assert_texts_inside

pytestmark = pytest.mark.sample

REPO = Path(__file__).resolve().parents[1]
MINUS = "\u2212"
EVENT = "R1 sell-off"


def _run(study: Path, sample_dir: Path, cache: Path) -> EventStudyResults:
    options = DataOptions(
        prices=sample_dir / "prices.csv",
        shares=sample_dir / "shares.csv",
        offline=True,
        cache_dir=cache,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a non-session event date, moved
        return run_study(load_study(study), options)


def _study_file(tmp: Path, **changes: Any) -> Path:
    """events.yaml with top-level keys changed (a value of None removes the key)."""
    data = yaml.safe_load((REPO / "events.yaml").read_text(encoding="utf-8"))
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    path = tmp / "study.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def default(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> EventStudyResults:
    """The default study (events.yaml: returns, volume and volatility) on the bundled sample."""
    return _run(REPO / "events.yaml", sample_dir, tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def returns_only(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> EventStudyResults:
    """The same study measuring abnormal returns only."""
    tmp = tmp_path_factory.mktemp("returns")
    study = _study_file(tmp, measures=None, volume_model=None, volatility_model=None)
    return _run(study, sample_dir, tmp / "cache")


@pytest.fixture(scope="module")
def stored(default: EventStudyResults, tmp_path_factory: pytest.TempPathFactory) -> StoredResults:
    """The default study's results folder, read back."""
    out = tmp_path_factory.mktemp("stored") / "results"
    write_tables(default, out)
    return StoredResults.load(out)


def test_tables_built_in_a_second_thread_are_the_same_files(
    default: EventStudyResults,
    sample_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A large study builds the next table while the current one is written (a second thread):
    the files are byte for byte those written one after the other."""
    serial = tmp_path / "serial"
    write_tables(default, serial)
    monkeypatch.setattr(parallel, "MIN_ROWS", 0)
    monkeypatch.setattr(parallel, "THREADS", 2)
    fresh = _run(REPO / "events.yaml", sample_dir, tmp_path / "cache")  # no table built yet
    threaded = tmp_path / "threaded"
    write_tables(fresh, threaded)
    names = sorted(p.name for p in serial.iterdir())
    assert names == sorted(p.name for p in threaded.iterdir()) and len(names) > 10
    for name in names:
        assert (serial / name).read_bytes() == (threaded / name).read_bytes(), name


def _gid(fig: Figure, prefix: str) -> dict[str, Artist]:
    found = fig.findobj(lambda a: str(a.get_gid() or "").startswith(prefix + ":"))
    return {str(a.get_gid()).split(":", 1)[1]: a for a in found}


def _one(fig: Figure, gid: str) -> Artist:
    found = fig.findobj(lambda a: a.get_gid() == gid)
    assert len(found) == 1, f"{gid}: {found}"
    return found[0]


def _tests(results: Any, measure: str, test: str) -> pd.DataFrame:
    tests = results.tests_frame()
    keep = (tests["measure"] == measure) & (tests["event"] == EVENT) & (tests["test"] == test)
    return tests[keep & (tests["start"] == tests["end"])].set_index("start")


def _inside(fig: Figure) -> None:
    """Every text of the figure but the tick labels lies on its canvas (nothing clipped)."""
    fig.draw_without_rendering()
    assert_texts_inside(fig)


# ----------------------------------------------------------------------------- charts
@pytest.mark.parametrize("source", ["memory", "folder"])
def test_volume_chart_draws_the_mean_and_each_stock(
    default: EventStudyResults, stored: StoredResults, source: str
) -> None:
    results = default if source == "memory" else stored
    fig = plotting.plot_volume(results, event=EVENT)
    frame = default.volume_frame()
    assert frame is not None
    mine = frame[frame["event"] == EVENT]
    means = mine.groupby("rel_day")["av"].mean()
    bars = _gid(fig, "bar")
    assert sorted(int(d) for d in bars) == list(range(-5, 6))
    for day, bar in bars.items():
        assert bar.get_height() == pytest.approx(means[int(day)], abs=1e-12)
    # Each stock's dots: its AV on every day, at its day (spread within the bar).
    dots = _gid(fig, "dots")
    assert set(dots) == set(mine["ticker"])
    for ticker, artist in dots.items():
        rows = mine[mine["ticker"] == ticker].sort_values("rel_day")
        xy = artist.get_offsets()
        np.testing.assert_allclose(xy[:, 1], rows["av"].to_numpy(), rtol=0, atol=1e-12)
        np.testing.assert_array_equal(np.round(xy[:, 0]), rows["rel_day"].to_numpy())
        assert np.all(np.abs(xy[:, 0] - rows["rel_day"].to_numpy()) <= 0.25 + 1e-9)
    # The day-0 label: the mean in log points and the multiple of normal volume, starred by the
    # cross-sectional t of tests.csv's volume rows.
    p0 = _tests(default, "volume", "cross_sectional_t").loc[0, "p_value"]
    label = _one(fig, "label:0")
    m0 = means[0]
    stars = "***" if p0 < 0.01 else "**" if p0 < 0.05 else "*" if p0 < 0.10 else ""
    assert label.get_text() == f"+{m0:.2f}{stars}\n{math.exp(m0):.2f}×"
    assert stars and label.get_fontweight() == "bold"
    assert fig.findobj(lambda a: a.get_gid() == "day0")
    _inside(fig)


def test_volume_day_means_equal_the_results_average_frame(default: EventStudyResults) -> None:
    """The outputs' one helper (from the frames) against the results' own averages (from the
    fits, through the grouped cross-sectional t)."""
    for measure in ("volume", "volatility"):
        ours = day_averages(default, measure)
        theirs = default.average_frame(measure)
        assert list(ours["event"]) == list(theirs["event"])
        np.testing.assert_array_equal(ours["rel_day"], theirs["rel_day"])
        np.testing.assert_allclose(ours["mean"], theirs["mean"], rtol=1e-12)
        np.testing.assert_array_equal(ours["n"], theirs["n"])


@pytest.mark.parametrize("source", ["memory", "folder"])
def test_volatility_chart_draws_the_mean_ratio_against_its_null(
    default: EventStudyResults, stored: StoredResults, source: str
) -> None:
    results = default if source == "memory" else stored
    fig = results.plot("volatility", event=EVENT) if source == "memory" else (
        plotting.plot_volatility(results, event=EVENT)
    )
    frame = default.volatility_frame()
    assert frame is not None
    mine = frame[frame["event"] == EVENT]
    means = mine.groupby("rel_day")["u_adj"].mean()
    line = _one(fig, "mean")
    np.testing.assert_array_equal(line.get_xdata(), means.index.to_numpy())
    np.testing.assert_allclose(line.get_ydata(), means.to_numpy(), rtol=1e-12)
    null = _one(fig, "null")
    assert null.get_ydata()[0] == pytest.approx(mine["null_mean"].mean())
    assert 1.0 < null.get_ydata()[0] < 1.05  # df / (df - 2) with about 238 df
    assert fig.axes[0].get_yscale() == "log"
    for ticker, artist in _gid(fig, "dots").items():
        rows = mine[mine["ticker"] == ticker].sort_values("rel_day")
        np.testing.assert_allclose(artist.get_offsets()[:, 1], rows["u_adj"].to_numpy())
    # Days starred exactly where the volatility rows' cross-sectional t has p < 0.10.
    p = _tests(default, "volatility", "cross_sectional_t")["p_value"]
    for day, label in _gid(fig, "label").items():
        assert label.get_text().endswith("*") == (p[int(day)] < 0.10), day
    _inside(fig)


def test_garch_volatility_charts_its_ratio(sample_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("arch")
    study = _study_file(
        tmp_path,
        measures=["return", "volatility"],
        volatility_model="garch",
        tickers=["NVDA", "AVGO", "TSM", "AMD"],
    )
    res = _run(study, sample_dir, tmp_path / "cache")
    frame = res.volatility_frame()
    assert frame is not None and "garch_ratio" in frame.columns
    mine = frame[(frame["event"] == EVENT) & np.isfinite(frame["garch_ratio"])]
    fig = plotting.plot_volatility(res, event=EVENT)
    means = mine.groupby("rel_day")["garch_ratio"].mean()
    np.testing.assert_allclose(_one(fig, "mean").get_ydata(), means.to_numpy(), rtol=1e-12)
    assert not np.allclose(means.to_numpy(), mine.groupby("rel_day")["u_adj"].mean().to_numpy())
    assert _one(fig, "null").get_ydata()[0] == pytest.approx(1.0)
    # A study that does not measure volume has no volume chart.
    assert all(s.chart != "volume" for s in plotting.chart_plan(res))
    with pytest.raises(ValueError, match="does not measure volume"):
        res.plot("volume", event=EVENT)


def test_chart_plan_draws_the_measures_only_where_measured(
    default: EventStudyResults, returns_only: EventStudyResults, sample_dir: Path, tmp_path: Path
) -> None:
    plan = plotting.chart_plan(default)
    for ev in default.events:
        charts = [s.chart for s in plan if s.event == ev.name]
        assert charts == ["car", "day0_ar", "ar_heatmap", "prices", "value", "volume", "volatility"]
    assert not {s.chart for s in plotting.chart_plan(returns_only)} & {"volume", "volatility"}
    # Per-event measures: only the event that asks for volume gets its chart.
    data = yaml.safe_load((REPO / "events.yaml").read_text(encoding="utf-8"))
    data.pop("measures")
    data["events"][1]["measures"] = ["return", "volume"]
    (tmp_path / "mixed.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    mixed = _run(tmp_path / "mixed.yaml", sample_dir, tmp_path / "cache")
    measured = [(s.event, s.chart) for s in plotting.chart_plan(mixed)]
    assert [m for m in measured if m[1] in {"volume", "volatility"}] == [
        (data["events"][1]["name"], "volume")
    ]
    written = plotting.save_figures(mixed, tmp_path / "figs", formats=["png"], charts=["volume"])
    assert [p.name for p in written] == ["r1-release_volume.png"]
    with pytest.raises(ValueError, match="does not measure volume"):
        plotting.plot_volume(mixed, event=EVENT)


# ----------------------------------------------------------------------------- terminal
def test_terminal_summary_shows_nvda_day0_abnormal_volume(default: EventStudyResults) -> None:
    text = text_summary(default)
    first = text[: text.index("\nR1 release:")]  # the first event's part
    start, end = first.index("  Abnormal trading volume:"), first.index("  Abnormal volatility:")
    volume = first[start:end]
    frame = default.volume_frame()
    assert frame is not None
    nvda = frame[(frame["event"] == EVENT) & (frame["ticker"] == "NVDA") & (frame["rel_day"] == 0)]
    av = float(nvda["av"].iloc[0])
    assert re.search(rf"NVDA +{re.escape(f'{av:+.2f}')} +{math.exp(av):.2f}x", volume), volume
    mean = frame[(frame["event"] == EVENT) & (frame["rel_day"] == 0)]["av"].mean()
    assert f"day 0: mean AV {mean:+.2f} = {math.exp(mean):.2f}x normal volume (N=17)" in volume
    t = _tests(default, "volume", "cross_sectional_t").loc[0, "statistic"]
    assert f"cross-sectional t {t:.2f}***" in volume and "Corrado rank" in volume
    # The volatility block: the day-0 mean ratio against its null and NVDA's [-1, +1] ratio.
    vol = first[first.index("  Abnormal volatility:") :]
    ratio = default.variance_ratio_frame()
    assert ratio is not None
    row = ratio[(ratio["event"] == EVENT) & (ratio["ticker"] == "NVDA") & (ratio["start"] == -1)]
    assert "variance ratio over [-1, +1]" in vol
    assert re.search(rf"NVDA +\S+ +{float(row['variance_ratio'].iloc[0]):.1f} +<0\.001", vol)
    assert "against 1.01 under the null (N=17)" in vol
    # The returns' battery shows the return rows (not volume or volatility ones).
    t_return = _tests(default, "return", "cross_sectional_t").loc[0, "statistic"]
    assert re.search(rf"  cross-sectional t +{t_return:.2f}\*\*\*", first)


def test_returns_only_summary_is_the_measured_one_without_its_blocks(
    default: EventStudyResults, returns_only: EventStudyResults
) -> None:
    """Volume and volatility only add their blocks: the returns-only text is the default
    study's with them cut out, and has none of its own."""
    plain = text_summary(returns_only)
    assert "Abnormal trading volume" not in plain and "Abnormal volatility" not in plain
    measured = text_summary(default)
    cut = re.sub(
        r"\n\n  Abnormal (trading volume|volatility):.*?(?=\n\n|\Z)", "", measured, flags=re.S
    )
    assert cut == plain
    assert measured.count("  Abnormal trading volume:") == 3


def test_summary_tables_add_the_measures(
    default: EventStudyResults, returns_only: EventStudyResults
) -> None:
    html = summarize(default).as_html()
    assert "R1 sell-off: abnormal trading volume by stock" in html
    assert "Tests of abnormal volatility: R1 sell-off" in html
    plain = summarize(returns_only)
    assert "abnormal trading volume" not in plain.as_html() + plain.as_latex()
    assert len(summarize(default).tables) == len(plain.tables) + 3 * 4


# ----------------------------------------------------------------------------- report
@pytest.fixture(scope="module")
def reports(
    default: EventStudyResults,
    returns_only: EventStudyResults,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, dict[str, Any]]:
    """Both studies' reports (the first event in full), from their results folders read back."""
    out = {}
    for name, results in (("default", default), ("returns", returns_only)):
        folder = tmp_path_factory.mktemp(name) / "results"
        write_tables(results, folder)
        with pytest.warns(UserWarning, match="leaves out 2 chart"):  # the two price charts
            html, md = build_report(folder, max_events=1)
        out[name] = {
            "html": html.read_text(encoding="utf-8"),
            "md": md.read_text(encoding="utf-8"),
            "dir": html.parent,
        }
    return out


def test_report_has_a_section_per_measure(
    default: EventStudyResults, reports: dict[str, dict[str, Any]]
) -> None:
    html, md = reports["default"]["html"], reports["default"]["md"]
    sections = re.findall(r'<section id="([^"]+)"', html)
    assert sections[-4:] == ["measure-volume", "measure-volatility", "methods", "references"]
    start, end = html.index('id="measure-volume"'), html.index('id="measure-volatility"')
    volume = html[start:end]
    # Its methods sentence, from the registry, with the normal-volume model in words.
    assert "Beside abnormal returns, we measure abnormal trading volume" in volume
    assert "with the normal level its estimation-window mean" in volume
    # The table by stock: NVDA's day-0 AV and its multiple; the average; the chart; the tests.
    frame = default.volume_frame()
    assert frame is not None
    nvda = frame[(frame.event == EVENT) & (frame.ticker == "NVDA") & (frame.rel_day == 0)]
    av = float(nvda["av"].iloc[0])
    row = re.search(r"<td class=\"l\">NVDA</td>(.*?)</tr>", volume, flags=re.S)
    assert row and f"{av:+.2f}".replace("-", MINUS) in row.group(1)
    assert f"{math.exp(av):.2f}×" in row.group(1)
    assert "R1 sell-off: abnormal trading volume by stock" in volume
    assert "Tests of abnormal trading volume: R1 sell-off" in volume
    assert volume.count("<img ") == 1 and "Abnormal log volume by trading day" in volume
    assert "Tests of abnormal volatility: R1 sell-off" in html
    # Its references are in the list.
    for ref in ("Ajinkya, B. B.", "Campbell, C. J., and C. E. Wasley", "Beaver, W. H. (1968)"):
        assert ref in html
    # Markdown: the same sections and charts.
    assert "## Abnormal trading volume" in md and "## Abnormal volatility" in md
    assert "(figures/r1-sell-off_volume.png)" in md and "(figures/r1-sell-off_volatility.png)" in md
    assert (reports["default"]["dir"] / "figures" / "r1-sell-off_volatility.png").is_file()
    # Table and figure numbers still run in order.
    numbers = [int(n) for n in re.findall(r"Table (\d+)\.", html)]
    assert numbers == list(range(1, len(numbers) + 1))
    figures = [int(n) for n in re.findall(r"Figure (\d+)\. ", html)]
    assert figures == list(range(1, len(figures) + 1))


def test_returns_only_report_has_no_measure_sections(reports: dict[str, dict[str, Any]]) -> None:
    html, md = reports["returns"]["html"], reports["returns"]["md"]
    assert "measure-" not in html and "Abnormal trading volume" not in html + md
    assert "Abnormal volatility" not in html + md and "Ajinkya" not in html
    assert not list((reports["returns"]["dir"] / "figures").glob("*_vol*.png"))
    # Otherwise the same report (up to the references): the default study's without the
    # measures' sections and methods sentences.
    assert _without_measures(reports["default"]["md"]) == _without_measures(md)


def _without_measures(md: str) -> str:
    text = md[: md.index("## References")]
    if "## Abnormal trading volume" in text:
        text = text[: text.index("## Abnormal trading volume")] + text[text.index("## Methods") :]
    text = re.sub(r"Beside abnormal returns, we measure[^\n]*\n\n", "", text)
    return re.sub(r"generated \S+ \S+", "", text)


def test_latex_and_excel_have_the_measures_tests(reports: dict[str, dict[str, Any]]) -> None:
    tex = (reports["default"]["dir"] / "tables.tex").read_text(encoding="utf-8")
    assert r"\caption{Tests of abnormal trading volume: R1 sell-off}" in tex
    assert r"\caption{Tests of abnormal volatility: R1 sell-off}" in tex
    assert r"\caption{R1 sell-off: abnormal volatility by stock}" in tex
    book = load_workbook(reports["default"]["dir"] / "tables.xlsx", read_only=True)
    sheets = book.sheetnames
    for name in ("Abnormal volume", "CAV", "Abnormal volatility", "Variance ratio"):
        assert name in sheets
    assert {"Tests", "Abnormal trading volume tests", "Abnormal volatility tests"} <= set(sheets)
    measures = {
        name: {r[1] for r in book[name].iter_rows(min_row=2, values_only=True)}
        for name in ("Tests", "Abnormal volatility tests")
    }
    assert len(measures["Abnormal volatility tests"]) == 2  # the cross-sectional and rank tests
    assert len(measures["Tests"]) > 2
    plain_tex = (reports["returns"]["dir"] / "tables.tex").read_text(encoding="utf-8")
    assert "abnormal trading volume" not in plain_tex
    plain = load_workbook(reports["returns"]["dir"] / "tables.xlsx", read_only=True)
    assert not {"CAV", "Abnormal volume", "Abnormal volatility tests"} & set(plain.sheetnames)
