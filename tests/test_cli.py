"""`eventstudy run` end to end on the real sample, and every bad input as a one-line error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from eventstudy.cli import main

from .conftest import REPO


def _study(tmp_path: Path, text: str, name: str = "study.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


BASE = """\
study: Test study
market: ^GSPC
model: market
estimation_window: [-250, -11]
event_window: [-5, 5]
car_windows: [[0, 0], [-1, 1]]
events:
  - name: R1
    date: 2025-01-27
    tickers: [NVDA, AVGO]
"""


def _run(args: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def run_args(sample_dir: Path, tmp_path: Path):
    def make(study: Path, *extra: str) -> list[str]:
        return [
            "run",
            str(study),
            "--prices",
            str(sample_dir / "prices.csv"),
            "--shares",
            str(sample_dir / "shares.csv"),
            "--offline",
            "--out",
            str(tmp_path / "out"),
            *extra,
        ]

    return make


def test_default_study_reproduces_the_nvda_numbers(run_args, tmp_path: Path) -> None:
    code, out, err = _run(run_args(REPO / "events.yaml", "--no-figures"))
    assert code == 0, err
    # The terminal summary shows NVDA's raw return, its market-model AR and the dollar change.
    nvda = next(line for line in out.splitlines() if line.startswith("NVDA"))
    assert "-16.97%" in nvda and "-13.21%***" in nvda and "-$592.3B" in nvda
    assert "adj. BMP (KP)" in out
    assert (
        "2025-01-20 (Dr. Martin Luther King Jr. Day) is not a trading session; day 0 is the next "
        "session, 2025-01-21"
    ) in err

    out_dir = tmp_path / "out"
    ar = pd.read_csv(out_dir / "abnormal_returns.csv")
    assert list(ar.columns[:7]) == ["event", "ticker", "date", "rel_day", "ret", "normal_ret", "ar"]
    row = ar[(ar.event == "R1 sell-off") & (ar.ticker == "NVDA") & (ar.rel_day == 0)].iloc[0]
    assert row.date == "2025-01-27"
    assert row.ret == pytest.approx(118.42 / 142.62 - 1, abs=5e-6)  # adj_close return
    car = pd.read_csv(out_dir / "car.csv")
    assert list(car.columns[:8]) == ["event", "ticker", "start", "end", "car", "se", "t", "p"]
    val = pd.read_csv(out_dir / "valuation.csv")
    v = val[(val.event == "R1 sell-off") & (val.ticker == "NVDA") & (val.start == 0)].iloc[0]
    assert v.raw_dollar_change == pytest.approx(24_477e6 * (118.42 - 142.62), rel=1e-9)
    # Within 1% of the reported -$589B.
    assert abs(v.raw_dollar_change / -589e9 - 1) < 0.01
    assert v.market_value == pytest.approx(24_477e6 * 142.62, rel=1e-9)
    tests = pd.read_csv(out_dir / "tests.csv")
    assert list(tests.columns[:7]) == ["event", "test", "start", "end", "statistic", "p_value", "n"]
    # The default study also measures volume and volatility: these are the return tests.
    returns = tests[tests.measure == "return"]
    day0 = returns[(returns.event == "R1 sell-off") & (returns.start == 0) & (returns.end == 0)]
    stat = day0.set_index("test")["p_value"]
    # Event-date clustering: significant under the naive tests, much less after Kolari-Pynnonen.
    assert stat["cross_sectional_t"] < 0.01 and stat["bmp"] < 0.01
    assert stat["adjusted_bmp"] > 0.05 > stat["bmp"]
    assert set(tests.event) == {"R1 sell-off", "R1 release", "V3 release", "all"}
    summary = json.loads((out_dir / "summary.json").read_text())
    assert {t["test"] for t in summary["events"][0]["tests"]} >= {"bmp", "adjusted_bmp", "grank"}
    assert summary["pooled_tests"]
    assert [e["name"] for e in summary["events"]] == ["R1 sell-off", "R1 release", "V3 release"]
    assert summary["events"][1]["day0_date"] == "2025-01-21"
    assert not list(out_dir.glob(".staging-*"))


def test_per_event_charts_only_for_the_first_events(run_args, tmp_path: Path) -> None:
    figures = tmp_path / "figs"
    code, out, err = _run(
        run_args(
            REPO / "events.yaml", "--max-event-figures", "1", "--figures", str(figures),
            "--progress", "--jobs", "2",
        )
    )  # fmt: skip
    assert code == 0, err
    names = sorted(p.stem for p in figures.glob("*.png"))
    per_event = ("car", "day0_ar", "ar_heatmap", "prices", "value", "volume", "volatility")
    assert names == sorted(
        ["r1-sell-off_" + c for c in per_event] + ["study_timeline", "study_caar"]
    )  # events.yaml measures volume and volatility: seven charts per event
    assert (
        f"Figures: 18 files in {figures}/ (per-event charts for the first 1 of 3 events; "
        "--max-event-figures for more)" in out
    )
    assert "charts:" in err  # the progress bar
    code, _, err = _run(run_args(REPO / "events.yaml", "--jobs", "0"))
    assert code == 2 and "Invalid value for '--jobs'" in err


def test_valuation_columns_contract(run_args, tmp_path: Path) -> None:
    study = _study(tmp_path, BASE)
    code, _, err = _run(run_args(study, "--no-figures"))
    assert code == 0, err
    val = pd.read_csv(tmp_path / "out" / "valuation.csv")
    for column in (
        "event",
        "ticker",
        "market_value",
        "raw_dollar_change",
        "abnormal_dollar_change",
    ):
        assert column in val.columns


BAD_STUDIES = {
    "yaml": (BASE.replace("model: market", "model: [market"), "line 4"),
    "unknown key": (BASE.replace("model: market", "modle: market"), "modle: unknown key"),
    "unknown model": (BASE.replace("model: market", "model: capm"), "model: unknown model 'capm'"),
    "bad date": (BASE.replace("2025-01-27", "2025-13-45"), "events[0].date: bad date"),
    "unknown ticker": (BASE.replace("[NVDA, AVGO]", "[NVDA, ZZZZ]"), "ZZZZ"),
    "outside data": (BASE.replace("2025-01-27", "2026-01-05"), "2026-01-05 is after the last"),
    "overlap": (BASE.replace("[-250, -11]", "[-250, -3]"), "overlaps event_window"),
    "too short": (BASE.replace("[-250, -11]", "[-50, -11]"), "fewer than min_estimation_obs"),
    "car outside": (BASE.replace("[-1, 1]]", "[-1, 9]]"), "outside event_window"),
    "no events": ("study: x\nevents: []\n", "events"),
    "reversed window": (BASE.replace("[-5, 5]", "[5, -5]"), "start 5 is after end -5"),
    # hostile study files (issue 13): tests/test_hostile.py
}


@pytest.mark.parametrize("case", sorted(BAD_STUDIES))
def test_bad_study_is_a_one_line_error(case: str, run_args, tmp_path: Path) -> None:
    text, expected = BAD_STUDIES[case]
    study = _study(tmp_path, text)
    code, out, err = _run(run_args(study, "--no-figures"))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("eventstudy: error: ")
    assert expected in lines[0]
    assert "Traceback" not in err + out
    assert not (tmp_path / "out" / "summary.json").exists()


def test_missing_files_are_one_line_errors(run_args, tmp_path: Path) -> None:
    study = _study(tmp_path, BASE)
    args = run_args(study, "--no-figures")
    args[args.index("--prices") + 1] = str(tmp_path / "nope.csv")
    code, _, err = _run(args)
    assert code == 2 and "nope.csv: file not found" in err and len(err.strip().splitlines()) == 1
    code, _, err = _run(["run", str(tmp_path / "missing.yaml")])
    assert code == 2 and "missing.yaml: study file not found" in err


def test_offline_without_data_says_so(tmp_path: Path) -> None:
    study = _study(tmp_path, BASE)
    code, _, err = _run(
        [
            "run",
            str(study),
            "--offline",
            "--out",
            str(tmp_path / "o"),
            "--cache-dir",
            str(tmp_path / "empty-cache"),
        ]
    )
    assert code == 2
    assert "offline" in err and "NVDA" in err
    assert len(err.strip().splitlines()) == 1


def test_malformed_price_file_names_the_line(run_args, tmp_path: Path) -> None:
    bad = tmp_path / "prices.csv"
    bad.write_text("ticker,date,close,adj_close,volume\nNVDA,2025-01-02,1,1,1\nNVDA,20x5,1,1,1\n")
    study = _study(tmp_path, BASE)
    args = run_args(study, "--no-figures")
    args[args.index("--prices") + 1] = str(bad)
    code, _, err = _run(args)
    assert code == 2 and "prices.csv, line 3: bad date '20x5'" in err


def test_console_script_exits_2_without_traceback(tmp_path: Path) -> None:
    study = _study(tmp_path, BASE.replace("model: market", "modle: market"))
    proc = subprocess.run(
        [sys.executable, "-m", "eventstudy.cli", "run", str(study)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"eventstudy: error: {study}: modle: unknown key"


def test_library_messages_name_arguments_and_the_cli_names_flags() -> None:
    """The library names Python arguments (``argument``); the command line says its flags."""
    from eventstudy.cli.common import cli_text
    from eventstudy.errors import argument

    library = (
        f"no {argument('factors')} here; {argument('strict=True')} makes this fatal; fetch them "
        f"({argument('offline=False')}); say which with {argument('column=adj_close')}"
    )
    assert library == (
        "no `factors` here; `strict=True` makes this fatal; fetch them (`offline=False`); "
        "say which with `column=adj_close`"
    )
    assert cli_text(library) == (
        "no --factors FILE here; --strict makes this fatal; fetch them (without --offline); "
        "say which with --column adj_close"
    )
    assert cli_text("`code` that is no argument of ours stays") == (
        "`code` that is no argument of ours stays"
    )


def test_the_bundled_sample_runs_the_default_study_offline(tmp_path: Path) -> None:
    """`make demo`: `eventstudy run events.yaml --sample deepseek`, no ../shared, no network."""
    out = tmp_path / "out"
    code, stdout, stderr = _run(
        [
            "run",
            str(REPO / "events.yaml"),
            "--sample",
            "deepseek",
            "--no-figures",
            "--out",
            str(out),
        ]
    )
    assert code == 0, stderr
    assert "NVDA      -16.97%   -13.21%***" in stdout and "-$592.3B" in stdout
    meta = json.loads((out / "summary.json").read_text())["meta"]
    assert meta["price_source"].endswith("datasets/deepseek/prices.csv")
    assert meta["factors_source"].endswith("datasets/deepseek/ff_factors_daily.csv")


def test_a_rerun_replaces_its_charts_and_the_report_finds_them(tmp_path: Path) -> None:
    """`run` then `report RESULTS` (no --out, so the figures are not inside the results folder):
    the report has every chart and no placeholder; a second run with other events leaves no
    chart of the first beside its own, and never touches other files."""
    import os

    one = _study(tmp_path, BASE.replace("[NVDA, AVGO]", "[NVDA]"))
    other = _study(
        tmp_path, BASE.replace("[NVDA, AVGO]", "[NVDA]").replace("R1", "Other"), "b.yaml"
    )
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert _run(["run", str(one), "--sample", "deepseek", "-q"])[0] == 0
        figures = tmp_path / "figures" / "test-study"
        (figures / "my-notes.txt").write_text("keep me")
        first = sorted(p.name for p in figures.glob("r1_*"))
        assert "r1_car.png" in first
        code, _, err = _run(["report", "results/test-study"])
        assert code == 0 and "leaves out" not in err, err
        html = (tmp_path / "results" / "test-study" / "report" / "report.html").read_text()
        assert html.count("<img ") == len([p for p in figures.glob("*.png")])
        assert "Chart not included" not in html
        assert _run(["run", str(other), "--sample", "deepseek", "-q"])[0] == 0
    finally:
        os.chdir(cwd)
    assert not list(figures.glob("r1_*")) and list(figures.glob("other_*"))
    assert (figures / "my-notes.txt").read_text() == "keep me"


def test_missing_dollar_values_say_why_and_how_to_supply_share_counts(tmp_path: Path) -> None:
    shares = tmp_path / "shares.csv"
    shares.write_text("ticker,as_of,shares_outstanding\nAAPL,2024-10-18,15115823000\n")
    study = _study(tmp_path, BASE)
    code, out, _ = _run(
        ["run", str(study), "--sample", "deepseek", "--shares", str(shares), "--no-figures",
         "--out", str(tmp_path / "out")]
    )  # fmt: skip
    assert code == 0
    assert (
        "dollar values n/a for every stock (no shares outstanding for NVDA); pass share counts "
        "(--shares FILE: ticker, as_of, shares_outstanding) or run online to fetch them"
    ) in out
    code, out, _ = _run(["run", str(study), "--sample", "deepseek", "--no-figures", "--out",
                         str(tmp_path / "out2")])  # fmt: skip
    assert "abnormal (2 of 2 stocks)" in out


def test_a_price_file_is_kept_whole_and_later_studies_name_its_source(tmp_path: Path) -> None:
    """--prices FILE and --shares FILE go into the store whole: a later --offline study of other
    tickers runs from it, and says where its prices came from (not "Yahoo")."""
    first = _study(tmp_path, BASE, "first.yaml")
    code, _, err = _run(
        ["run", str(first), "--sample", "deepseek", "--no-figures", "--out", str(tmp_path / "a")]
    )
    assert code == 0, err
    later = _study(
        tmp_path,
        "study: later\ntickers: [SPY, QQQ, AAPL]\nevents:\n  - {name: A, date: 2025-02-10}\n",
        "later.yaml",
    )
    code, out, err = _run(
        ["run", str(later), "--offline", "--no-figures", "--out", str(tmp_path / "b")]
    )
    assert code == 0, err
    meta = json.loads((tmp_path / "b" / "summary.json").read_text())["meta"]
    assert meta["price_source"].startswith("local store: prices.csv (")
    assert "imported" in meta["price_source"] and "Yahoo" not in meta["price_source"]
    assert "abnormal (1 of 3 stocks" in out  # AAPL's count came from the shares file


def test_listed_says_how_many_more() -> None:
    from eventstudy.errors import listed

    assert listed(["A", "B"], 2) == "A, B"
    assert listed(["A", "B", "C"], 2) == "A, B and 1 more"
    assert listed(["a: x", "b: y", "c: z"], 1, "; ") == "a: x; and 2 more"


# -- start-up: what a command imports --------------------------------------------------------------

HEAVY = ("pandas", "numpy", "scipy", "matplotlib", "statsmodels")
_IMPORTED = """
import sys
from eventstudy.cli import main
try:
    main({args!r})
except SystemExit as exc:
    assert not exc.code, exc.code
print("IMPORTED:" + ",".join(m for m in {heavy!r} if m in sys.modules))
"""


def _imported_by(args: list[str], tmp_path: Path) -> set[str]:
    """The heavy libraries a fresh interpreter holds after running the command ``args``."""
    code = _IMPORTED.format(args=args, heavy=HEAVY)
    env = {"PYTHONPATH": str(REPO / "src"), "EVENTSTUDY_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode == 0, proc.stderr
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("IMPORTED:"))
    return set(filter(None, line.removeprefix("IMPORTED:").split(",")))


def test_help_imports_no_numerical_library(tmp_path: Path) -> None:
    assert _imported_by(["--help"], tmp_path) == set()
    assert _imported_by(["run", "--help"], tmp_path) == set()


def test_cache_list_imports_no_numerical_library(tmp_path: Path) -> None:
    assert _imported_by(["cache", "list"], tmp_path) == set()


def test_the_package_exports_load_on_first_use() -> None:
    code = (
        "import sys, eventstudy\n"
        "before = 'pandas' in sys.modules\n"
        "names = dir(eventstudy)\n"
        "assert set(eventstudy.__all__) <= set(names), set(eventstudy.__all__) - set(names)\n"
        "assert eventstudy.EventStudy.__module__ == 'eventstudy.event_study'\n"
        "assert all(getattr(eventstudy, n) is not None for n in eventstudy.__all__)\n"
        "from eventstudy import DataError, Summary, save_figures\n"
        "try:\n"
        "    eventstudy.nope\n"
        "except AttributeError as exc:\n"
        "    assert 'nope' in str(exc)\n"
        "else:\n"
        "    raise SystemExit('no AttributeError')\n"
        "print(before, 'pandas' in sys.modules)\n"
    )
    env = {"PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "True"]
