"""Report tables: the formatted table model, LaTeX (booktabs) and Excel output."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from eventstudy.errors import EventStudyError
from eventstudy.event_study import Event, EventStudy
from eventstudy.inference.registry import TESTS
from eventstudy.output import format as fm
from eventstudy.output import latex, xlsx
from eventstudy.output.format import significance_mark
from eventstudy.output.tables import Cell, StudyTables, Table
from eventstudy.results import EventStudyResults
from eventstudy.study import ResolvedEvent

MINUS = "\u2212"


@pytest.fixture(scope="module")
def res(sample_prices: pd.DataFrame, sample_shares: pd.DataFrame) -> EventStudyResults:
    study = EventStudy.from_prices(
        sample_prices,
        market="^GSPC",
        shares=sample_shares,
        title="Tables & co",
        car_windows=[(0, 0), (-1, 1)],
    )
    return study.fit(
        [
            Event(
                name="R1 sell-off",
                date="2025-01-27",
                tickers=["NVDA", "AVGO", "TSM", "ASML"],
                bhar_windows=[(0, 5)],
            ),
            Event(name="V3 release", date="2024-12-26", tickers=["NVDA", "AMD", "MU"]),
        ]
    )


@pytest.fixture(scope="module")
def st(res: EventStudyResults) -> StudyTables:
    return StudyTables(res, res.tests_frame(), None)


# ----------------------------------------------------------------------------- formatting
def test_number_formats() -> None:
    assert fm.fmt_pct(-0.13213) == f"{MINUS}13.21%"
    assert fm.fmt_pct(float("nan")) == "n/a" and fm.fmt_pct(None) == "n/a"
    assert fm.fmt_num(-0.0001) == "0.00"  # no negative zero
    assert fm.fmt_num(-5.049) == f"{MINUS}5.05"
    assert fm.fmt_p(0.0004) == "<0.001" and fm.fmt_p(0.01849) == "0.018"
    assert fm.fmt_money(-592.3e9) == f"{MINUS}$592.3B"
    assert fm.fmt_money(3.49e12) == "+$3.5T"
    assert fm.fmt_money(3.49e12, signed=False) == "$3.5T"
    assert fm.fmt_money(-45e6) == f"{MINUS}$45.0M"
    assert fm.fmt_window((-1, 1)) == f"[{MINUS}1, +1]" and fm.fmt_window((0, 0)) == "[0, 0]"


def test_tex_escape_every_special_character() -> None:
    assert latex.tex_escape(r"a&b%c$d#e_f{g}h~i^j\k") == (
        r"a\&b\%c\$d\#e\_f\{g\}h\textasciitilde{}i\textasciicircum{}j\textbackslash{}k"
    )
    assert latex.tex_escape("<b> | x") == r"\textless{}b\textgreater{} \textbar{} x"
    assert latex.tex_escape(f"{MINUS}1.5 ± 2 · √N") == r"$-$1.5 $\pm$ 2 $\cdot$ $\surd$N"
    assert latex.tex_escape("two\nlines") == "two lines"


# ----------------------------------------------------------------------------- LaTeX
def test_latex_table_is_booktabs_with_groups_total_and_stars() -> None:
    table = Table(
        key="car:R1 & co",
        caption="CARs of 50% & more",
        columns=["Ticker", "CAR", "t", "p"],
        groups=[("", 1), ("[0, 0]", 3)],
        rows=[
            [Cell("BRK_B"), Cell(f"{MINUS}13.21%", "***"), Cell("−5.05"), Cell("<0.001")],
            [Cell("Total"), Cell("1.00%"), Cell("0.10"), Cell("0.900")],
        ],
        align=list("lrrr"),
        notes=["Stars: *** p < 0.01."],
        total=True,
    )
    lines = latex.latex_table(table).splitlines()
    assert lines[:7] == [
        r"\begin{table}[htbp]",
        r"\centering",
        r"\caption{CARs of 50\% \& more}",
        r"\label{tab:car-r1-co}",
        r"\begin{adjustbox}{max width=\linewidth}",  # a wide table shrinks to fit, never clipped
        r"\begin{tabular}{lrrr}",
        r"\toprule",
    ]
    assert lines[7] == r" & \multicolumn{3}{c}{[0, 0]} \\"
    assert lines[8] == r"\cmidrule(lr){2-4}"
    assert lines[9] == r"Ticker & CAR & t & p \\"
    assert lines[10] == r"\midrule"
    assert lines[11] == r"BRK\_B & $-$13.21\%$^{***}$ & $-$5.05 & \textless{}0.001 \\"
    assert lines[12] == r"\midrule"  # the total is set apart
    assert lines[13].startswith("Total & ")
    assert lines[14] == r"\bottomrule"
    assert lines[15:17] == [r"\end{tabular}", r"\end{adjustbox}"]
    assert r"\footnotesize Stars: *** p \textless{} 0.01." in "\n".join(lines)
    assert lines[-1] == r"\end{table}"


def test_write_latex_every_table_atomically(st: StudyTables, tmp_path: Path) -> None:
    path = latex.write_latex(st, tmp_path / "tables.tex")
    assert os.listdir(tmp_path) == ["tables.tex"]
    tex = path.read_text(encoding="utf-8")
    assert tex.startswith("% Tables \\& co: tables written by eventstudy.")
    n_tables = len(st.all_tables())
    assert tex.count(r"\begin{table}") == tex.count(r"\bottomrule") == n_tables
    for line in tex.splitlines():  # every body row has one cell per column
        if line.endswith(r"\\") and "multicolumn" not in line:
            assert not line.startswith("&") or line.count("&") > 0


def test_unwritable_folder_is_one_line(st: StudyTables, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for write in (latex.write_latex, xlsx.write_xlsx):
        with pytest.raises(EventStudyError) as info:
            write(st, blocker / "out" / "t.tex")
        assert "\n" not in str(info.value) and str(info.value).startswith("cannot write")


# ----------------------------------------------------------------------------- the tables
def test_study_and_caar_tables(res: EventStudyResults, st: StudyTables) -> None:
    study = st.study()
    assert [str(c) for c in study.rows[0][:4]] == [
        "R1 sell-off",
        "2025-01-27",
        "2025-01-27",
        "4: NVDA, AVGO, TSM, ASML",
    ]
    caar = st.caar_all()
    assert len(caar.rows) == 4
    frame = res.caar_frame().set_index(["event", "start", "end"])
    row = frame.loc[("R1 sell-off", -1, 1)]
    cells = caar.rows[1]
    assert [str(c) for c in cells[:2]] == ["R1 sell-off", f"[{MINUS}1, +1]"]
    assert cells[2].text == fm.fmt_pct(row["caar"]) and cells[2].stars == significance_mark(
        row["p"]
    )
    assert cells[5].text == str(int(row["n"]))


def test_event_tables(res: EventStudyResults, st: StudyTables) -> None:
    day0 = st.event_day0("R1 sell-off")
    nvda = res.ar_frame().query("event == 'R1 sell-off' and rel_day == 0 and ticker == 'NVDA'")
    r = nvda.iloc[0]
    assert [str(c) for c in day0.rows[0]] == [
        "NVDA",
        fm.fmt_pct(r["ret"]),
        fm.fmt_pct(r["normal_ret"]),
        fm.fmt_pct(r["ar"]) + significance_mark(r["ar_p"]),
        fm.fmt_pct(r["ar_se"]),
        fm.fmt_num(r["ar_t"]),
        fm.fmt_p(r["ar_p"]),
    ]
    car = st.event_car("R1 sell-off")
    assert car.flat_columns[:4] == ["Ticker", "[0, 0] CAR", "[0, 0] t", "[0, 0] p"]
    assert [r[0].text for r in car.rows] == ["NVDA", "AVGO", "TSM", "ASML"]
    assert all(len(r) == len(car.columns) for r in car.rows)

    value = st.event_value("R1 sell-off")
    assert value is not None and value.total
    val = res.valuation_frame().query("event == 'R1 sell-off' and start == 0 and end == 0")
    total = value.rows[-1]
    assert total[0].text == "Total"
    assert total[2].text == fm.fmt_money(val["raw_dollar_change"].sum())
    assert any(n.startswith("ASML: n/a (no shares outstanding") for n in value.notes)
    assert [r[0].text for r in value.rows] == ["NVDA", "AVGO", "TSM", "Total"]

    bhar = st.event_bhar("R1 sell-off")
    assert bhar is not None and bhar.rows[-1][0].text == "Average"
    assert st.event_bhar("V3 release") is None
    aar = st.event_aar("V3 release")
    assert [r[0].text for r in aar.rows][:3] == [f"{MINUS}5", f"{MINUS}4", f"{MINUS}3"]


def test_battery_tables(res: EventStudyResults, st: StudyTables) -> None:
    table = st.battery_table("R1 sell-off")
    assert table is not None
    assert [r[0].text for r in table.rows] == [t.label for t in TESTS]
    assert [g for g, _ in table.groups or []] == [
        "",
        "[0, 0] (N = 4)",
        f"[{MINUS}1, +1] (N = 4)",
        "",
    ]
    tests = res.tests_frame().set_index(["event", "test", "start", "end"])
    patell = tests.loc[("R1 sell-off", "patell", 0, 0)]
    row = table.rows[2]
    assert row[1].text == fm.fmt_num(patell["statistic"])
    assert row[1].stars == significance_mark(patell["p_value"])
    assert row[-1].text == "Patell (1976)"
    bhar = st.bhar_battery_table("R1 sell-off")
    assert bhar is not None and [r[0].text for r in bhar.rows] == [
        "BHAR: cross-sectional t",
        "BHAR: skewness-adjusted t",
    ]
    assert [t.key for t in st.battery_tables()] == [
        "tests:R1 sell-off",
        "bhar-tests:R1 sell-off",
        "tests:V3 release",
        "tests:all",
        "bhar-tests:all",
    ]


def test_battery_table_missing_values_say_why() -> None:
    tests = pd.DataFrame(
        {
            "event": ["E", "E", "E"],
            "test": ["patell", "wilcoxon", "my_test"],
            "start": [0, 0, 0],
            "end": [0, 0, 0],
            "statistic": [2.5, np.nan, 1.0],
            "p_value": [0.012, np.nan, 0.3],
            "n": [2, 2, 2],
            "note": ["", "needs 3 firm-events", ""],
        }
    )

    source = SimpleNamespace(
        events=[
            ResolvedEvent(
                name="E",
                date=dt.date(2025, 1, 27),
                tickers=("A", "B"),
                market="^GSPC",
                model="market",
                estimation_window=(-250, -11),
                event_window=(-5, 5),
                car_windows=((0, 0),),
                timing="close",
                min_estimation_obs=100,
            )
        ]
    )
    st = StudyTables(source, tests)
    table = st.battery_table("E")
    assert table is not None
    assert [r[0].text for r in table.rows] == ["Patell Z", "Wilcoxon signed-rank", "my_test"]
    assert table.rows[0][1].text == "2.50" and table.rows[0][1].stars == "**"
    assert table.rows[1][1].text == "n/a" and table.rows[1][1].title == "needs 3 firm-events"
    assert table.rows[2][-1].text == ""  # an unknown test has no reference


# ----------------------------------------------------------------------------- Excel
def test_write_xlsx_numbers_formats_and_text(
    res: EventStudyResults, st: StudyTables, tmp_path: Path
) -> None:
    path = xlsx.write_xlsx(st, tmp_path / "tables.xlsx")
    assert os.listdir(tmp_path) == ["tables.xlsx"]
    book = load_workbook(path)
    assert book.sheetnames == [
        "Study",
        "CAAR",
        "AAR",
        "CAR",
        "Abnormal returns",
        "BHAR",
        "Valuation",
        "Parameters",
        "Tests",
    ]
    ws = book["CAR"]
    header = [c.value for c in ws[1]]
    assert header == list(res.car_frame().columns)
    car = ws.cell(row=2, column=header.index("car") + 1)
    assert isinstance(car.value, float) and car.number_format == "0.00%"
    assert car.value == pytest.approx(res.car_frame().iloc[0]["car"])
    assert ws.cell(row=2, column=header.index("p") + 1).number_format == "0.0000"
    assert ws.freeze_panes == "A2" and ws["A1"].font.bold
    ar = book["Abnormal returns"]
    date = ar.cell(row=2, column=[c.value for c in ar[1]].index("date") + 1)
    assert date.is_date and date.number_format == "yyyy-mm-dd"
    study = book["Study"]
    day = dt.datetime(2025, 1, 27)
    assert [c.value for c in study[2]][:3] == ["R1 sell-off", day, day]


def test_xlsx_text_stays_text_names_are_valid_and_long_tables_continue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(xlsx, "XLSX_MAX_ROWS", 4)  # three data rows a sheet
    frame = pd.DataFrame(
        {"ticker": ["=1+1", "@SUM(A1)", "BRK-B", "a", "b", "c", "d"], "x": range(7)}
    )
    path = xlsx.write_xlsx({"Results: A/B [x]*?": frame}, tmp_path / "t.xlsx")
    book = load_workbook(path)
    assert book.sheetnames == [
        "Results_ A_B _x___",
        "Results_ A_B _x___ (2)",
        "Results_ A_B _x___ (3)",
    ]
    first = book.worksheets[0]
    assert first["A2"].value == "=1+1" and first["A2"].data_type == "s"  # not a formula
    assert [c.value for c in first["A"]] == ["ticker", "=1+1", "@SUM(A1)", "BRK-B"]
    assert [c.value for c in book.worksheets[2]["B"]] == ["x", 6]
