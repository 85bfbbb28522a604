"""The tables of the volume and volatility measures: per event, each stock's day-0 value and its
window values with an average row, and the measure's tests (a
:meth:`~eventstudy.output.tables.StudyTables.battery_table` of its rows); :func:`every_table`
is every table of a study in report order, the measures' included (``tables.tex``).

Labels come from :data:`eventstudy.estimation.measures.MEASURES`, numbers from
:mod:`eventstudy.output.measure_data`, so these agree with the charts and the terminal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from eventstudy.estimation.measures import MeasureSpec, measure
from eventstudy.output.format import (
    STARS_NOTE,
    _stars,
    fmt_int,
    fmt_log,
    fmt_measure,
    fmt_multiple,
    fmt_p,
    fmt_pct,
    fmt_ratio,
    fmt_window,
)
from eventstudy.output.measure_data import (
    COMMON_TESTS,
    daily_values,
    day_averages,
    model_words,
    study_measures,
    window_values,
)
from eventstudy.output.tables import Cell, StudyTables, Table

if TYPE_CHECKING:
    from eventstudy.study import ResolvedEvent

__all__ = ["MeasureSection", "every_table", "measure_sections", "measure_ticker_table"]


@dataclass
class MeasureSection:
    """One measure's part of a report: per event its table (and, in the report, its chart),
    then the measure's test tables."""

    spec: MeasureSpec
    events: list[tuple[str, Table | None]]
    tests: list[Table]

    @property
    def tables(self) -> list[Table]:
        return [t for _name, t in self.events if t is not None] + self.tests


def measure_sections(study: StudyTables, max_events: int | None = None) -> list[MeasureSection]:
    """A :class:`MeasureSection` per measure the study has beside returns (those of the first
    ``max_events`` events that measure it)."""
    out = []
    shown = study.source.events[:max_events]
    for spec in study_measures(study.source):
        events = [e for e in shown if spec.name in e.measures]
        tables = [(ev.name, measure_ticker_table(study, ev.name, spec.name)) for ev in events]
        names = study.battery_names(max_events, spec.name)
        tests = [study.battery_table(n, spec.name) for n in names]
        out.append(MeasureSection(spec, tables, [t for t in tests if t is not None]))
    return out


def every_table(study: StudyTables, max_events: int | None = None) -> list[Table]:
    """Every table of the study in report order: :meth:`StudyTables.all_tables` with the
    measures' tables before the skipped firm-events and the data-quality flags."""
    tables = study.all_tables(max_events)
    extra = [t for s in measure_sections(study, max_events) for t in s.tables]
    if not extra:
        return tables
    tail = [t for t in tables if t.key in {"skipped", "quality"}]
    return [t for t in tables if t.key not in {"skipped", "quality"}] + extra + tail


def measure_ticker_table(study: StudyTables, name: str, measure_name: str) -> Table | None:
    """Each stock's day-0 value of measure ``measure_name`` for the event ``name`` (its p: the
    ``[0, 0]`` window's test) and its values over the multi-day CAR windows, with an average row
    (the mean over the stocks, with the p-value of the cross-sectional t-test of ``tests.csv``);
    None when the event has no value of it."""
    source = study.source
    spec = measure(measure_name)
    ev = next((e for e in source.events if e.name == name), None)
    frame = daily_values(source, measure_name) if ev and measure_name in ev.measures else None
    if ev is None or frame is None:
        return None
    sub = frame[frame["event"] == name]
    if not np.isfinite(sub["value"].to_numpy(dtype=float)).any():
        return None
    day0 = _rows(sub[sub["rel_day"] == 0], ["ticker"])
    windows = [(int(a), int(b)) for a, b in ev.car_windows if a != b]
    values = window_values(source, measure_name)
    values = values[values["event"] == name] if values is not None else _NO_VALUES
    at = _rows(values, ["ticker", "start", "end"])
    battery = study.measure_battery(measure_name).get(name)
    rows = []
    for ticker in ev.tickers:
        r = day0.get((ticker,))
        if r is None and not any((ticker, *w) in at for w in windows):
            continue
        p0 = at.get((ticker, 0, 0), {}).get("p")
        cells = [Cell(ticker), *_day0_cells(spec, r, p0)]
        for w in windows:
            v = at.get((ticker, *w), {})
            value, p = v.get("value"), v.get("p")
            cells += [Cell(fmt_measure(value, spec.unit), _stars(p)), Cell(fmt_p(p))]
        rows.append(cells)
    averages = day_averages(source, measure_name, sub)
    mean0 = averages.loc[averages["rel_day"] == 0]
    total = [Cell("Average"), *_average_day0_cells(spec, mean0, _p(battery, (0, 0)))]
    for w in windows:
        v = values.loc[(values["start"] == w[0]) & (values["end"] == w[1]), "value"]
        v = v.to_numpy(dtype=float)
        mean = float(v[np.isfinite(v)].mean()) if np.isfinite(v).any() else np.nan
        p = _p(battery, w)
        total += [Cell(fmt_measure(mean, spec.unit), _stars(p)), Cell(fmt_p(p))]
    rows.append(total)
    day0_columns = [*_DAY0_COLUMNS[measure_name], "p"]
    return Table(
        key=f"{measure_name}:{name}",
        caption=f"{name}: {spec.label.lower()} by stock",
        columns=["Ticker", *day0_columns] + [_upper_first(spec.window_short), "p"] * len(windows),
        groups=[("", 1), ("Day 0", len(day0_columns))] + [(fmt_window(w), 2) for w in windows],
        rows=rows,
        align=["l"] + ["r"] * (len(day0_columns) + 2 * len(windows)),
        total=True,
        notes=[_notes(spec, ev)],
    )


_NO_VALUES = pd.DataFrame(columns=["event", "ticker", "start", "end", "value", "p"])
#: The day-0 columns of each measure's table (a p-value follows).
_DAY0_COLUMNS = {
    "volume": ["Volume", "AV", "× normal"],
    "volatility": ["AR", "u", "Null mean"],
}


def _day0_cells(spec: MeasureSpec, r: dict[str, Any] | None, p: Any) -> list[Cell]:
    """A stock's day-0 cells; ``p``: that of its ``[0, 0]`` window (None without one)."""
    if r is None:
        return [Cell("n/a")] * (len(_DAY0_COLUMNS[spec.name]) + 1)
    value = r["value"]
    if spec.name == "volume":
        cells = [Cell(fmt_int(r["volume"])), Cell(fmt_log(value), _stars(p))]
        cells.append(Cell(fmt_multiple(value)))
    else:
        cells = [Cell(fmt_pct(r["ar"])), Cell(fmt_ratio(value), _stars(p))]
        cells.append(Cell(fmt_ratio(r["null"])))
    return [*cells, Cell(fmt_p(p))]


def _average_day0_cells(spec: MeasureSpec, mean0: pd.DataFrame, p: float) -> list[Cell]:
    m = float(mean0["mean"].iloc[0]) if len(mean0) else np.nan
    if spec.name == "volume":
        return [Cell(""), Cell(fmt_log(m), _stars(p)), Cell(fmt_multiple(m)), Cell(fmt_p(p))]
    null = float(mean0["null"].iloc[0]) if len(mean0) else np.nan
    return [Cell(""), Cell(fmt_ratio(m), _stars(p)), Cell(fmt_ratio(null)), Cell(fmt_p(p))]


def _notes(spec: MeasureSpec, ev: ResolvedEvent) -> str:
    words = model_words(ev, spec.name)
    test = COMMON_TESTS[0].short_label or COMMON_TESTS[0].label
    if spec.name == "volume":
        what = (
            f"{spec.short}: {spec.value} ({words}); × normal: exp({spec.short}), the day's volume "
            f"as a multiple of normal volume. {spec.window_short}: {spec.short} summed over the "
            "window; p of its t-test with the prediction error (day 0: that of the [0, 0] "
            "window)."
        )
    else:
        what = (
            f"{spec.short}: {spec.value} ({words}); null mean: its mean under the null of no "
            f"change in volatility. {_upper_first(spec.window_short)}: the mean {spec.short} over "
            "the window; p of its F test (day 0: that of the [0, 0] window)."
        )
    return f"{what} Average: the mean over the stocks, p of the {test} test. {STARS_NOTE}"


def _p(battery: pd.DataFrame | None, window: tuple[int, int]) -> float:
    """The p-value of the cross-sectional t of the event's mean over ``window``."""
    if battery is None:
        return np.nan
    rows = battery[
        (battery["test"] == COMMON_TESTS[0].name)
        & (battery["start"] == window[0])
        & (battery["end"] == window[1])
    ]
    return float(rows["p_value"].iloc[0]) if len(rows) else np.nan


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _rows(frame: pd.DataFrame, keys: list[str]) -> dict[tuple, dict[str, Any]]:
    return {
        tuple(int(row[k]) if k in {"start", "end"} else row[k] for k in keys): row
        for row in frame.to_dict("records")
    }
