"""The CSV writer of the result tables: what it writes must read back as the frame it was given
(the same values pandas' own ``to_csv`` round-trip gives), on hand-made frames and on every table
of the default study."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from eventstudy.output.files import write_csv
from eventstudy.output.folder import TABLE_FILES, TABLES, write_tables
from eventstudy.pipeline import DataOptions, run_study
from eventstudy.study import load_study

REPO = Path(__file__).resolve().parents[1]


def _pandas_round_trip(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    frame.to_csv(path, index=False, date_format="%Y-%m-%d")
    return pd.read_csv(path)


def _assert_same_values(ours: pd.DataFrame, reference: pd.DataFrame) -> None:
    """Equal column by column: numbers exactly (a whole float may read back as an int), text and
    dates as text."""
    assert list(ours.columns) == list(reference.columns)
    assert len(ours) == len(reference)
    for name in ours.columns:
        a, b = ours[name], reference[name]
        if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b):
            np.testing.assert_array_equal(a.to_numpy(dtype=float), b.to_numpy(dtype=float))
        else:
            assert (
                a.astype(object).where(a.notna(), None).tolist()
                == b.astype(object).where(b.notna(), None).tolist()
            ), name


def test_values_dates_and_missing_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal(50) * 10.0 ** rng.integers(-12, 12, 50)
    x[[3, 7]] = np.nan
    frame = pd.DataFrame(
        {
            "event": [f"E{i % 4}" for i in range(50)],
            "date": pd.to_datetime("2025-01-02") + pd.to_timedelta(np.arange(50), unit="D"),
            "x": x,
            "whole": np.where(np.arange(50) % 5 == 0, np.nan, np.arange(50.0)),
            "n": np.arange(50),
            "m": pd.array([None if i % 9 == 0 else i for i in range(50)], dtype="Int64"),
            "note": ["" if i % 2 else "needs at least 2 firm-events (has 1)" for i in range(50)],
        }
    )
    frame.loc[4, "date"] = pd.NaT
    write_csv(frame, tmp_path / "ours.csv")
    text = (tmp_path / "ours.csv").read_text()
    assert text.splitlines()[0] == "event,date,x,whole,n,m,note"
    assert text.splitlines()[1].startswith("E0,2025-01-02,")  # text unquoted, dates as days
    assert '"' not in text
    assert "nan" not in text.lower() and ",NaT" not in text  # missing values are empty fields
    ours = pd.read_csv(tmp_path / "ours.csv")
    _assert_same_values(ours, _pandas_round_trip(frame, tmp_path / "pandas.csv"))
    assert ours["x"].isna().sum() == 2 and ours["date"].isna().sum() == 1


def test_text_with_commas_quotes_and_line_breaks_is_quoted(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "event": ['Fed "surprise", 2024', "plain", "two\nlines", None],
            "car": [0.5, -1e-7, np.nan, 2.0],
        }
    )
    write_csv(frame, tmp_path / "ours.csv")
    lines = (tmp_path / "ours.csv").read_text().split("\n")
    assert lines[1] == '"Fed ""surprise"", 2024",0.5'
    assert lines[2] == '"plain",-1e-7'
    ours = pd.read_csv(tmp_path / "ours.csv")
    _assert_same_values(ours, _pandas_round_trip(frame, tmp_path / "pandas.csv"))


def test_empty_frame_writes_its_header(tmp_path: Path) -> None:
    write_csv(pd.DataFrame(columns=["event", "ticker", "reason"]), tmp_path / "skipped.csv")
    assert (tmp_path / "skipped.csv").read_text() == "event,ticker,reason\n"


@pytest.fixture(scope="module")
def default_results(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The default study (events.yaml) on the bundled sample."""
    options = DataOptions(
        prices=sample_dir / "prices.csv",
        shares=sample_dir / "shares.csv",
        offline=True,
        cache_dir=tmp_path_factory.mktemp("cache"),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a non-session event date, moved
        return run_study(load_study(REPO / "events.yaml"), options)


@pytest.mark.sample
def test_every_table_of_the_default_study_reads_back(default_results: Any, tmp_path: Path) -> None:
    results = default_results
    written = write_tables(results, tmp_path / "out")
    present = {name for name, frame_of in TABLES.items() if frame_of(results) is not None}
    assert {p.name for p in written} - {"summary.json"} == present
    # Tables only a study asking for them has (test_explain.py, test_long_horizon.py).
    only_asked = {t.name for t in TABLE_FILES if t.asked or t.asked_by}
    assert not present & only_asked
    for name, frame_of in TABLES.items():
        frame = frame_of(results)
        path = tmp_path / "out" / name
        if frame is None:
            assert not path.exists()
            continue
        if frame.empty:
            assert path.read_text().strip() == ",".join(map(str, frame.columns))
            continue
        _assert_same_values(pd.read_csv(path), _pandas_round_trip(frame, tmp_path / name))


def test_frames_keep_study_order_with_or_without_a_sort() -> None:
    from eventstudy.results import _lexsorted

    assert _lexsorted([np.array([0, 0, 1, 2]), np.array([5, 6, 0, 0])])
    assert not _lexsorted([np.array([0, 0, 1, 2]), np.array([6, 5, 0, 0])])
    assert not _lexsorted([np.array([0, 2, 1]), np.array([0, 0, 0])])
    assert _lexsorted([np.array([3]), np.array([1])]) and _lexsorted([])


def test_changing_a_returned_frame_leaves_the_results_alone() -> None:
    """Frames are cached; each call returns a copy (shallow where pandas copies on write)."""
    from eventstudy import EventStudy
    from eventstudy.synthetic import SyntheticConfig

    cfg = SyntheticConfig(n_firms=12, firms_per_event=6, n_events=2, n_days=400, seed=2)
    returns, events = cfg.generate()
    res = EventStudy(returns, market=cfg.market, car_windows=[(0, 0), (-1, 1)]).fit(events)
    for make in (res.ar_frame, res.car_frame, res.tests_frame):
        frame = make()
        before = make().copy(deep=True)
        column = frame.columns[-3]
        frame.loc[frame.index[0], column] = frame[column].iloc[1]
        frame["event"] = "changed"
        pd.testing.assert_frame_equal(make(), before)


def test_json_text_reads_back_and_keeps_records_on_one_line() -> None:
    import json

    from eventstudy.output.files import json_text

    value = {
        "study": "R1",
        "meta": {"returns": "simple", "n": 3},
        "events": [
            {"name": "A", "car": [{"ticker": "NVDA", "car": -0.13, "p": None}], "tickers": ["X"]},
            {"name": "B", "car": [], "empty": {}},
        ],
        "skipped": [],
    }
    text = json_text(value)
    assert json.loads(text) == value
    lines = text.splitlines()
    assert '        {"ticker": "NVDA", "car": -0.13, "p": null}' in lines
    assert '  "meta": {"returns": "simple", "n": 3},' in lines
    with pytest.raises(ValueError):
        json_text({"x": float("nan")})  # NaN is not JSON: summary values are cleaned first


def _walk(value: Any) -> Any:
    """Every dict inside a JSON value."""
    if isinstance(value, dict):
        yield value
        for v in value.values():
            yield from _walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v)


@pytest.mark.sample
def test_summary_json_holds_aggregates_not_firm_events(
    default_results: Any, tmp_path: Path
) -> None:
    """summary.json's per-event records are the aggregate frames' rows (NaN as null, dates as
    text), its counts and dollar totals those of the tables; no record is a firm-event's."""
    import json

    from eventstudy.output.summary import _clean, _summary_tests

    results = default_results
    write_tables(results, tmp_path / "out")
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())

    def rows(frame: pd.DataFrame) -> list[dict]:
        frame = frame.drop(columns="event")
        return [{k: _clean(v) for k, v in r.items()} for r in frame.to_dict("records")]

    aar, caar, tests = results.aar_frame(), results.caar_frame(), _summary_tests(results)
    params, skipped = results.params_frame(), results.skipped_frame()
    value = results.valuation_frame()
    assert summary["detailed_events"] == len(results.events) == 3
    for entry, event in zip(summary["events"], results.events, strict=True):
        assert entry["aar"] == rows(aar[aar["event"] == event.name])
        assert entry["caar"] == rows(caar[caar["event"] == event.name])
        assert entry["tests"] == rows(tests[tests["event"] == event.name])
        mine = params[params["event"] == event.name]
        assert entry["firm_events"] == {
            "fitted": int((mine["skipped"] == "").sum()),
            "skipped": int((skipped["event"] == event.name).sum()),
        }
        for total in entry["value_totals"]:
            rows_ = value.query("event == @event.name and start == @total['start']")
            rows_ = rows_[rows_["end"] == total["end"]]
            assert total["stocks"] == len(rows_)
            assert total["stocks_valued"] == rows_["raw_dollar_change"].notna().sum()
            assert total["raw_dollar_change"] == _clean(rows_["raw_dollar_change"].sum())
        assert len(entry["value_totals"]) == len(event.car_windows)
    assert summary["pooled_caar"] == rows(caar[caar["event"] == "all"])
    assert summary["pooled_tests"] == rows(tests[tests["event"] == "all"])
    assert summary["firm_events"] == {"fitted": 41, "skipped": 0}
    # Per-firm-event numbers are in the tables only.
    assert not [r for r in _walk(summary) if "ticker" in r]
    assert not {"day0_results", "car", "valuation"} & {k for e in summary["events"] for k in e}
    assert "skipped" not in summary


@pytest.mark.sample
def test_summary_json_details_the_first_events_only(default_results: Any) -> None:
    """Past ``detailed_events`` an event keeps its definition, counts, CAARs and dollar totals;
    its AAR path and tests are left to aar.csv and tests.csv. The pooled tests stay."""
    from eventstudy.output.summary import summary_dict

    full = summary_dict(default_results)
    cut = summary_dict(default_results, detailed_events=1)
    assert cut["detailed_events"] == 1
    assert "aar" in cut["events"][0] and "tests" in cut["events"][0]
    for entry, whole in zip(cut["events"][1:], full["events"][1:], strict=True):
        assert not [k for k in entry if k in ("aar", "tests") or k.endswith("_tests")]
        kept = {k: v for k, v in whole.items() if k not in ("aar", "tests")}
        assert entry == {k: v for k, v in kept.items() if not k.endswith("_tests")}
    assert cut["pooled_tests"] == full["pooled_tests"] != []


def test_json_text_records_are_written_as_one_encoder_call_would_write_each() -> None:
    import json

    from eventstudy.output.files import json_text

    note = 'a "}, {" b\x00'  # what the separators look like, and the marker, inside a value
    records = [{"ticker": f"T{i}", "note": note, "car": i / 3, "x": None} for i in range(5)]
    records.append({})
    text = json_text({"car": records})
    assert json.loads(text) == {"car": records}
    lines = text.splitlines()
    assert lines[2:8] == ["    " + json.dumps(r) + ("," if r else "") for r in records]
    assert lines[0] == "{" and lines[1] == '  "car": [' and lines[-2:] == ["  ]", "}"]


def test_the_text_summary_of_a_large_event_lists_its_first_tickers() -> None:
    from eventstudy import EventStudy
    from eventstudy.synthetic import SyntheticConfig

    cfg = SyntheticConfig(n_firms=50, firms_per_event=40, n_events=12, n_days=500, seed=3)
    returns, events = cfg.generate()
    res = EventStudy(returns, market=cfg.market).fit(events)
    text = str(res.summary())
    first = events.loc[events["event"] == events["event"].iloc[0], "ticker"].tolist()
    block = text[: text.index("... and 10 more tickers")]  # the first event's table
    assert all(f"\n{t} " in block for t in first[:30]) and f"\n{first[30]} " not in block
    assert text.count("... and 10 more tickers (abnormal_returns.csv, car.csv)") == 10
    assert "... and 2 more events" in text


def test_caar_frame_pools_every_firm_event_after_the_events() -> None:
    """`event == "all"` rows: mean CAR of every firm-event with the window and its
    cross-sectional t, equal to scipy's one-sample t-test on car.csv's rows (every event has
    the windows here) and to the battery's pooled cross-sectional t."""
    from scipy import stats

    from eventstudy import EventStudy
    from eventstudy.synthetic import SyntheticConfig

    cfg = SyntheticConfig(n_firms=30, firms_per_event=8, n_events=4, n_days=500, seed=5)
    returns, events = cfg.generate()
    res = EventStudy(returns, market=cfg.market, car_windows=[(0, 0), (-1, 1)]).fit(events)
    caar, car = res.caar_frame(), res.car_frame()
    assert list(caar["event"].unique())[-1] == "all"
    assert (caar["event"] != "all").sum() == 4 * 2
    for (start, end), rows in car.groupby(["start", "end"]):
        pooled = caar[(caar.event == "all") & (caar.start == start) & (caar.end == end)].iloc[0]
        values = rows["car"].dropna()
        ref = stats.ttest_1samp(values, 0.0)
        assert pooled["n"] == len(values)
        assert pooled["caar"] == pytest.approx(values.mean(), rel=1e-12)
        assert pooled["t"] == pytest.approx(ref.statistic, rel=1e-10)
        assert pooled["p"] == pytest.approx(ref.pvalue, rel=1e-9)
    tests = res.tests_frame().query("event == 'all' and test == 'cross_sectional_t'")
    for row in caar[caar.event == "all"].itertuples():
        battery = tests[(tests.start == row.start) & (tests.end == row.end)].iloc[0]
        assert battery["statistic"] == pytest.approx(row.t, rel=1e-10)


@pytest.mark.parametrize("repeat", [1, 1000])  # 7 rows, and 7,000 (read by distinct values)
def test_text_cells_that_would_run_as_formulas_are_neutralised(
    tmp_path: Path, repeat: int
) -> None:
    """CSV injection: text starting with = + - @ tab or CR gets a leading ' (numbers never);
    reading the folder back gives the text as it was."""
    from eventstudy.output.files import unneutralise, write_csv

    frame = pd.DataFrame(
        {
            "event": [
                '=HYPERLINK("http://x","y")',
                "+1",
                "-cmd",
                "@SUM(A1)",
                "\tx",
                "plain",
                "a-b",
            ],
            "ticker": ["A", "B", "C", "D", "E", "F", "G"],
            "car": [-0.5, 1.0, -2.0, 0.0, 3.0, -1e-7, 2.0],
        }
    )
    frame = pd.concat([frame] * repeat, ignore_index=True)
    write_csv(frame, tmp_path / "t.csv")
    back = pd.read_csv(tmp_path / "t.csv", keep_default_na=False)
    assert back["event"].tolist() == [
        '\'=HYPERLINK("http://x","y")',
        "'+1",
        "'-cmd",
        "'@SUM(A1)",
        "'\tx",
        "plain",
        "a-b",
    ] * repeat
    assert back["car"].tolist() == frame["car"].tolist()  # numbers untouched, minus included
    assert unneutralise(back["event"]).tolist() == frame["event"].tolist()


def test_a_large_table_formatted_in_parts_and_threads_is_the_same_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Formatted a part at a time in two threads (as a table of a million rows is), written in
    order: byte for byte the file written in one piece."""
    from eventstudy import parallel
    from eventstudy.output import files

    rng = np.random.default_rng(3)
    n = 2_537
    frame = pd.DataFrame(
        {
            "event": [f"ev, {i % 7}" for i in range(n)],  # commas: every text value quoted
            "date": pd.Timestamp("2025-01-27") + pd.to_timedelta(np.arange(n) % 40, unit="D"),
            "ar": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
            "rel_day": np.arange(n) % 11 - 5,
        }
    )
    write_csv(frame, tmp_path / "whole.csv")
    monkeypatch.setattr(files, "CSV_PART_ROWS", 100)
    monkeypatch.setattr(parallel, "MIN_ROWS", 0)
    monkeypatch.setattr(parallel, "THREADS", 2)
    write_csv(frame, tmp_path / "parts.csv")
    whole = (tmp_path / "whole.csv").read_bytes()
    assert (tmp_path / "parts.csv").read_bytes() == whole and whole.count(b"\n") == n + 1
