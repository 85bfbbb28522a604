"""A research script written from the README and help() alone, as a researcher would in a
notebook: pandas frames in (prices read with pandas, shares read with and without parse_dates,
factors in percent as published), a 200-event frame with one unknown ticker, ``res`` at the end
of a cell, the summary, saving. It must run without a traceback and give the right numbers."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from eventstudy import DataError, Event, EventStudy, load_deepseek
from eventstudy.cli import main
from eventstudy.datasets import sample_folder

FOLDER = sample_folder("deepseek")
FIRMS = ["NVDA", "AMD", "MU", "AVGO", "TSM"]


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    return pd.read_csv(FOLDER / "prices.csv", parse_dates=["date"])


def test_the_research_script(prices: pd.DataFrame, tmp_path: Path) -> None:
    # Cell 1: shares as text dates and parsed, same dollars.
    as_text = pd.read_csv(FOLDER / "shares.csv")
    parsed = pd.read_csv(FOLDER / "shares.csv", parse_dates=["as_of"])
    one = [Event(name="R1", date="2025-01-27", tickers=["NVDA"])]
    value = [
        EventStudy.from_prices(prices, shares=s).fit(one).valuation_frame()
        for s in (as_text, parsed)
    ]
    pd.testing.assert_frame_equal(value[0], value[1])
    nvda = value[0].query("start == 0 and end == 0").iloc[0]
    assert nvda["raw_dollar_change"] == pytest.approx(24_477e6 * (118.42 - 142.62), rel=1e-9)

    # Cell 2: Fama-French factors as published (percent): refused, then converted as told.
    published = pd.read_csv(FOLDER / "ff_factors_daily.csv", index_col="date", parse_dates=True)
    with pytest.raises(DataError, match="divide by 100"):
        EventStudy.from_prices(prices, model="ff3", factor_data=published)
    ff3 = EventStudy.from_prices(prices, model="ff3", factor_data=published / 100).fit(one)
    assert 1.5 < ff3.params_frame()["beta_Mkt-RF"].iloc[0] < 3.5

    # Cell 3: 200 events (40 dates x 5 firms, one ticker mistyped), the fast path.
    sessions = np.sort(prices.loc[prices.ticker == "^GSPC", "date"].unique())[260:300]
    rows = [(f"E{i:03d}", d, t) for i, d in enumerate(np.repeat(sessions, 5)[::5]) for t in FIRMS]
    events = pd.DataFrame(rows, columns=["event", "date", "ticker"])
    events = pd.concat(
        [events, pd.DataFrame([["E000", sessions[0], "NVDAA"]], columns=events.columns)]
    )
    events = pd.concat(
        [events] + [events.assign(event=events["event"] + f"-{k}") for k in range(4)]
    )
    assert events["event"].nunique() == 200
    study = EventStudy.from_prices(prices, shares=parsed, title="Many events")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = study.fit(events)
    assert any("NVDAA" in str(w.message) for w in caught)
    skipped = res.skipped_frame()
    assert set(skipped["ticker"]) == {"NVDAA"} and len(skipped) == 5

    # `res` at the end of a cell: one line.
    text = repr(res)
    assert "\n" not in text and text.startswith("<EventStudyResults 'Many events': 200 event(s)")
    assert "1,000 firm-events fitted, 5 skipped" in text

    # The numbers: one firm-event of the batch equals the same firm-event fitted alone.
    alone = study.fit([Event(name="E007", date=str(sessions[7])[:10], tickers=["MU"])])
    car = res.car_frame().set_index(["event", "ticker", "start", "end"])
    single = alone.car_frame().set_index(["event", "ticker", "start", "end"])
    for window in [(0, 0), (-1, 1), (-5, 5)]:
        assert car.loc[("E007", "MU", *window), "car"] == single.loc[("E007", "MU", *window), "car"]

    # Cell 4: the summary stays readable at 200 events and pools them.
    summary = res.summary()
    assert "All 200 events pooled (1,000 firm-events)" in str(summary)
    assert "... and 190 more events" in str(summary)
    html = summary._repr_html_()
    assert html.count("<table>") == 2 + 2 * 10  # CAAR, pooled tests, 10 events x (day 0, tests)
    assert "First 30 of 600 rows; all of them are in caar.csv." in html
    caar = res.caar_frame()
    pooled = caar[caar.event == "all"].set_index(["start", "end"])
    all_cars = res.car_frame().query("start == 0 and end == 0")["car"]
    assert pooled.loc[(0, 0), "caar"] == pytest.approx(all_cars.mean(), rel=1e-12)
    assert pooled.loc[(0, 0), "n"] == 1000

    # Cell 5: save, then the report from the folder.
    written = res.save(tmp_path / "many", figures=False)
    assert {"car.csv", "caar.csv", "summary.json"} <= {p.name for p in written}
    report = CliRunner().invoke(main, ["report", str(tmp_path / "many"), "--no-figures", "-q"])
    assert report.exit_code == 0, report.output
    assert (tmp_path / "many" / "report" / "report.html").is_file()


def test_load_deepseek_is_what_the_readme_uses() -> None:
    sample = load_deepseek()
    res = EventStudy.from_prices(sample.prices, shares=sample.shares).fit(
        [Event(name="R1", date="2025-01-27", tickers=["NVDA"])]
    )
    day0 = res.car_frame().query("start == 0 and end == 0").iloc[0]
    assert day0["car"] == pytest.approx(-0.1321, abs=5e-5)
