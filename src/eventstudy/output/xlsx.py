"""The numbers behind the tables as an Excel workbook: one sheet per results frame, with number
formats (returns as percentages, t, p, dollars, dates).

:func:`write_xlsx` writes atomically (:func:`~eventstudy.output.files.atomic_file`) and raises a
one-line :class:`~eventstudy.errors.EventStudyError` when the folder cannot be written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from eventstudy.errors import EventStudyError
from eventstudy.output.files import atomic_file
from eventstudy.output.format import MINUS, fmt_window
from eventstudy.output.measure_data import EXTRA_MEASURES, measure_tests
from eventstudy.output.tables import StudyTables

if TYPE_CHECKING:
    from eventstudy.output.source import ResultSource

__all__ = ["write_xlsx", "xlsx_sheets"]

#: Excel's row limit (header included); longer tables continue on further sheets.
XLSX_MAX_ROWS = 1_048_576

#: Column -> Excel number format, for the sheets written from result frames.
_PERCENT_COLUMNS = {
    "ret",
    "normal_ret",
    "ar",
    "ar_se",
    "car",
    "car_se",
    "se",
    "aar",
    "caar",
    "bhar",
}
_DECIMAL_COLUMNS = {"t", "ar_t", "statistic", "sigma"}
#: The measures' values: log volumes and volatility ratios.
_MEASURE_COLUMNS = {
    "log_volume",
    "normal_log_volume",
    "av",
    "cav",
    "u",
    "u_adj",
    "null_mean",
    "garch_ratio",
    "variance_ratio",
}
#: Columns whose format differs on one sheet (the CAV's standard error is in log units).
_SHEET_FORMATS = {"CAV": {"se": "0.0000"}}
_P_COLUMNS = {"p", "ar_p", "p_value"}
_MONEY_COLUMNS = {"market_value", "raw_dollar_change", "abnormal_dollar_change"}
_MONEY_COLUMNS |= {f"{c}_reporting" for c in _MONEY_COLUMNS}  # docs/global.md
_MONEY_COLUMNS |= {"volume"}  # shares traded: whole numbers with separators


def xlsx_sheets(
    source: ResultSource,
    tests: pd.DataFrame | None = None,
    quality: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """The workbook's sheets: the study's events, then each results frame (numbers, not text)."""
    events = pd.DataFrame(
        [
            {
                "event": ev.name,
                "date": pd.Timestamp(ev.date),
                "day0": pd.Timestamp(source.day0_dates[i]),
                "timing": ev.timing,
                "market": ev.market,
                "model": ev.model,
                "model_label": source.model_labels[i],
                "estimation_window": fmt_window(ev.estimation_window).replace(MINUS, "-"),
                "event_window": fmt_window(ev.event_window).replace(MINUS, "-"),
                "car_windows": ", ".join(fmt_window(w).replace(MINUS, "-") for w in ev.car_windows),
                "n_tickers": len(ev.tickers),
                "tickers": " ".join(ev.tickers),
            }
            for i, ev in enumerate(source.events)
        ]
    )
    sheets: dict[str, pd.DataFrame] = {"Study": events}
    frames: list[tuple[str, Callable[[], pd.DataFrame | None]]] = [
        ("CAAR", source.caar_frame),
        ("AAR", source.aar_frame),
        ("CAR", source.car_frame),
        ("Abnormal returns", source.ar_frame),
        ("BHAR", source.bhar_frame),
        ("Valuation", source.valuation_frame),
        ("Parameters", source.params_frame),
        ("Skipped", source.skipped_frame),
    ]
    frames += [
        ("Abnormal volume", source.volume_frame),
        ("CAV", source.cav_frame),
        ("Abnormal volatility", source.volatility_frame),
        ("Variance ratio", source.variance_ratio_frame),
    ]
    for name, frame_of in frames:
        frame = frame_of()
        if frame is not None and (len(frame) or name in {"CAAR", "CAR"}):
            sheets[name] = frame
    batteries = [("Tests", "return")] + [(f"{m.label} tests", m.name) for m in EXTRA_MEASURES]
    for title, measure in batteries:  # a sheet per measure's battery
        rows = measure_tests(tests, measure)
        if rows is not None and len(rows):
            sheets[title] = rows
    if quality is not None and len(quality):
        sheets["Data quality"] = quality
    return sheets


def write_xlsx(
    sheets: dict[str, pd.DataFrame] | StudyTables,
    path: Path | str,
) -> Path:
    """Write one sheet per table (header in bold, frozen, number formats for returns, t, p and
    dollars); a table longer than Excel's row limit continues on ``<name> (2)``, ... ."""
    if isinstance(sheets, StudyTables):
        sheets = xlsx_sheets(sheets.source, sheets.tests, sheets.quality)
    try:
        from openpyxl.styles import Font
        from openpyxl.utils import get_column_letter
    except ImportError:  # pragma: no cover - openpyxl is a dependency
        raise EventStudyError("writing .xlsx needs openpyxl: pip install openpyxl") from None
    path = Path(path)
    with atomic_file(path) as tmp, pd.ExcelWriter(tmp, engine="openpyxl") as writer:
        for name, frame in _split_sheets(sheets):
            frame.to_excel(writer, sheet_name=name, index=False)
            ws = writer.sheets[name]
            _text_not_formula(ws, frame)
            ws.freeze_panes = "A2"
            for cell in ws[1]:
                cell.font = Font(bold=True)
            for j, column in enumerate(frame.columns, start=1):
                fmt = _excel_format(str(column), frame[column], name)
                letter = get_column_letter(j)
                if fmt:
                    for (cell,) in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                        cell.number_format = fmt
                width = max(
                    [len(str(column))] + [len(str(v)) for v in frame[column].head(200).tolist()]
                )
                ws.column_dimensions[letter].width = min(max(8, width + 2), 60)
    return path


def _split_sheets(sheets: dict[str, pd.DataFrame]) -> Iterator[tuple[str, pd.DataFrame]]:
    per_sheet = XLSX_MAX_ROWS - 1
    for name, frame in sheets.items():
        name = _sheet_name(name)
        if len(frame) <= per_sheet:
            yield name, frame
            continue
        for k, start in enumerate(range(0, len(frame), per_sheet), start=1):
            yield (
                (name if k == 1 else _sheet_name(f"{name} ({k})")),
                frame.iloc[start : start + per_sheet],
            )


def _sheet_name(name: str) -> str:
    """Excel's rules: at most 31 characters, none of ``[]:*?/\\``."""
    clean = "".join("_" if c in "[]:*?/\\" else c for c in name).strip("'")
    return clean[:31] or "Sheet"


def _text_not_formula(ws: Any, frame: pd.DataFrame) -> None:
    """Keep text that starts with ``=`` (an event name, a ticker) text: openpyxl would store it as
    a formula, which Excel would run."""
    for j, column in enumerate(frame.columns, start=1):
        if pd.api.types.is_numeric_dtype(frame[column]):
            continue
        for (cell,) in ws.iter_rows(min_row=2, min_col=j, max_col=j):
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"


def _excel_format(column: str, values: pd.Series, sheet: str = "") -> str | None:
    if pd.api.types.is_datetime64_any_dtype(values):
        return "yyyy-mm-dd"
    if not pd.api.types.is_numeric_dtype(values):
        return None
    special = _SHEET_FORMATS.get(sheet.split(" (")[0], {})
    if column in special:
        return special[column]
    if column in _MEASURE_COLUMNS:
        return "0.0000"
    if column in _PERCENT_COLUMNS:
        return "0.00%"
    if column in _DECIMAL_COLUMNS:
        return "0.00"
    if column in _P_COLUMNS:
        return "0.0000"
    if column in _MONEY_COLUMNS:
        return "#,##0"
    return None
