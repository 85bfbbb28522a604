"""Text and JSON summaries of results (the terminal table and ``summary.json``), from any
:class:`~eventstudy.output.source.ResultSource`; numbers formatted by
:mod:`eventstudy.output.format` (its terminal formatters: ASCII minus, signed changes)."""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from eventstudy.errors import argument, listed
from eventstudy.inference.registry import BOOTSTRAP_TESTS, TESTS
from eventstudy.output.explain_tables import explain_lines, explain_tables
from eventstudy.output.format import (
    ADJUSTMENT,
    P_COLUMN,
    STARS_NOTE,
    currency_symbol,
    fmt_p,
    fmt_window,
    significance_mark,
    term_measure,
    term_money,
    term_multiple,
    term_num,
    term_pct,
)
from eventstudy.output.latex import latex_table
from eventstudy.output.measure_data import (
    COMMON_TESTS,
    daily_values,
    day_averages,
    measure_tests,
    model_words,
    study_measures,
    summary_window,
    window_values,
)
from eventstudy.output.measure_tables import measure_ticker_table
from eventstudy.output.render import environment
from eventstudy.output.tables import StudyTables, Table
from eventstudy.study import DEFAULTS, POOLED

if TYPE_CHECKING:
    from eventstudy.estimation.measures import MeasureSpec
    from eventstudy.output.source import ResultSource
    from eventstudy.study import ResolvedEvent


def _clean(value: Any) -> Any:
    """JSON-safe scalars: NaN becomes None, numpy types become Python types."""
    if isinstance(value, float | int) and not isinstance(value, bool):
        return value if math.isfinite(value) else None
    if hasattr(value, "item"):
        return _clean(value.item())
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    return value


def _records_by_event(frame: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """Each event's rows as JSON-ready dicts (:func:`_clean`'s rules; ``event`` left out), in
    one pass over the frame."""
    out: dict[str, list[dict[str, Any]]] = {}
    if frame.empty:
        return out
    names = [str(c) for c in frame.columns if c != "event"]
    columns = [_json_column(frame[c]) for c in frame.columns if c != "event"]
    for event, *row in zip(frame["event"].tolist(), *columns, strict=True):
        out.setdefault(str(event), []).append(dict(zip(names, row, strict=True)))
    return out


def _json_column(column: pd.Series) -> list[Any]:
    """A column as Python values by :func:`_clean`'s rules: missing and non-finite numbers None,
    dates ``YYYY-MM-DD`` (vectorised for number, text and date columns)."""
    if pd.api.types.is_datetime64_any_dtype(column):
        values = column.dt.strftime("%Y-%m-%d").tolist()
        missing = column.isna().to_numpy()
    elif pd.api.types.is_float_dtype(column):
        array = column.to_numpy(dtype=float)
        values, missing = array.tolist(), ~np.isfinite(array)
    elif column.dtype == object:
        return [_clean(v) for v in column.tolist()]
    else:  # integers, booleans, text
        values, missing = column.tolist(), column.isna().to_numpy()
    for i in np.flatnonzero(missing):
        values[i] = None
    return values


def _index(frame: pd.DataFrame, key: list[str]) -> dict[tuple, dict[str, Any]]:
    """Rows of ``frame`` as dicts, keyed by the values of the ``key`` columns."""
    return {tuple(row[k] for k in key): row for row in frame.to_dict("records")}


def _groups(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Rows of ``frame`` per event name (one pass, so large studies stay fast)."""
    if frame.empty:
        return {}
    return {str(k): g for k, g in frame.groupby("event", sort=False)}


#: Tests shown in the terminal summary (all of them are in tests.csv), with short labels; the
#: bootstrap tests only when the study ran them.
SUMMARY_TESTS = {t.name: t.short_label for t in (*TESTS, *BOOTSTRAP_TESTS) if t.short_label}
_WHEN_RUN = {t.name for t in BOOTSTRAP_TESTS}


def _shown_tests(tests: pd.DataFrame) -> dict[str, str | None]:
    """:data:`SUMMARY_TESTS` less the bootstrap tests ``tests`` has no row of."""
    have = set(tests["test"])
    return {k: v for k, v in SUMMARY_TESTS.items() if k not in _WHEN_RUN or k in have}


def _tests_block(
    tests: pd.DataFrame | None, windows: tuple[tuple[int, int], ...], n_firms: int
) -> list[str]:
    """Day-0 and CAR-window test statistics with significance marks, one test per line."""
    if tests is None or tests.empty:
        return []
    spans = [(0, 0), *[w for w in windows if w != (0, 0)]]
    at = _index(tests, ["test", "start", "end"])
    head = f"  {f'tests (N={n_firms})':<22}" + "".join(
        f"{'day 0' if w == (0, 0) else f'CAR[{w[0]},{w[1]}]':>14}" for w in spans
    )
    out = [head]
    for test, label in _shown_tests(tests).items():
        cells = ""
        for w in spans:
            r = at.get((test, *w))
            text = (
                "n/a" if r is None else term_num(r["statistic"]) + significance_mark(r["p_value"])
            )
            cells += f"{text:>14}"
        out.append(f"  {label:<22}{cells}")
    return out


def text_summary(results: ResultSource, max_events: int = 10, max_tickers: int = 30) -> str:
    """The terminal summary: per event, each ticker's day-0 return, AR, CARs and dollar change,
    the cross-sectional averages; only the first ``max_events`` events are shown in full, with
    their first ``max_tickers`` tickers (the averages and tests always cover every ticker)."""
    ar = _groups(results.ar_frame())
    car = _groups(results.car_frame())
    from eventstudy.currency import reporting_view

    valuation, currency = reporting_view(results.valuation_frame())
    val = _groups(valuation)
    symbol = currency_symbol(currency).strip()
    caar = _groups(results.caar_frame())
    aar = _groups(results.aar_frame())
    tests = _groups(_or_empty(measure_tests(results.tests_frame(), "return")))
    measures = _measure_data(results)
    labels = results.model_labels
    lines = [results.title, "=" * len(results.title)]
    for i, e in enumerate(results.events[:max_events]):
        lines += [
            "",
            f"{e.name}: day 0 = {results.day0_dates[i]:%Y-%m-%d} ({labels[i]}, "
            f"estimation [{e.estimation_window[0]}, {e.estimation_window[1]}], "
            f"event window [{e.event_window[0]}, {e.event_window[1]}])",
        ]
        header = (
            f"{'ticker':<8}{'return':>9}{'AR':>13}"
            + "".join(f"{f'CAR[{a},{b}]':>15}" for a, b in e.car_windows)
            + f"{f'{symbol} change day 0':>17}"
        )
        lines += [header, "-" * len(header)]
        empty = pd.DataFrame(columns=["ticker", "start", "end", "rel_day"])
        day0 = ar.get(e.name, empty)
        day0 = day0[day0["rel_day"] == 0].set_index("ticker")
        car_at = _index(car.get(e.name, empty), ["ticker", "start", "end"])
        value_at = _index(val.get(e.name, empty), ["ticker", "start", "end"])
        shown = [t for t in e.tickers if t in day0.index]
        # Firms on another exchange have their own day 0 (docs/global.md).
        own = day0["date"][pd.to_datetime(day0["date"]) != pd.Timestamp(results.day0_dates[i])]
        if len(own):
            lines.insert(
                len(lines) - 2,
                "own day 0 on their exchange: "
                + ", ".join(f"{t} {pd.Timestamp(d):%Y-%m-%d}" for t, d in own.items()),
            )
        p_col = P_COLUMN[e.multiple_testing]
        for t in shown[:max_tickers]:
            r = day0.loc[t]
            day0_ar = term_pct(r["ar"]) + significance_mark(
                _firm_p(r["ar_p"], car_at.get((t, 0, 0)), p_col)
            )
            cells = f"{t:<8}{term_pct(r['ret']):>9}{day0_ar:>13}"
            for a, b in e.car_windows:
                c = car_at.get((t, a, b))
                text = (
                    "n/a"
                    if c is None
                    else term_pct(c["car"]) + significance_mark(_firm_p(c["p"], c, p_col))
                )
                cells += f"{text:>15}"
            v = value_at.get((t, 0, 0))
            cells += f"{'n/a' if v is None else term_money(v['raw_dollar_change'], currency):>17}"
            lines.append(cells)
        if len(shown) > max_tickers:
            lines.append(
                f"... and {len(shown) - max_tickers:,} more tickers (abnormal_returns.csv, car.csv)"
            )
        a0 = aar.get(e.name, empty)
        a0 = a0[a0["rel_day"] == 0]
        if len(a0):
            r = a0.iloc[0]
            caar_at = _index(caar.get(e.name, empty), ["start", "end"])
            cells = f"{'average':<8}{'':>9}{term_pct(r['aar']) + significance_mark(r['p']):>13}"
            for a, b in e.car_windows:
                c = caar_at.get((a, b))
                cells += (
                    f"{'n/a' if c is None else term_pct(c['caar']) + significance_mark(c['p']):>15}"
                )
            lines.append(cells)
        n_firms = int(a0.iloc[0]["n"]) if len(a0) else 0
        lines += _tests_block(tests.get(e.name), e.car_windows, n_firms)
        ev_val = val.get(e.name)
        if ev_val is not None:
            ev_val = ev_val[(ev_val["start"] == 0) & (ev_val["end"] == 0)]
            total = ev_val["raw_dollar_change"].sum(min_count=1)
            total_ab = ev_val["abnormal_dollar_change"].sum(min_count=1)
            missing = ev_val.loc[ev_val["raw_dollar_change"].isna(), "ticker"].tolist()
            with_value = len(ev_val) - len(missing)
            if math.isfinite(total):
                lines.append(
                    f"  day-0 market value change: {term_money(total, currency)} raw, "
                    f"{term_money(total_ab, currency)} "
                    f"abnormal ({with_value} of {len(ev_val)} stocks"
                    + (
                        f"; n/a for {listed(missing, 8)}: see valuation.csv notes)"
                        if missing
                        else ")"
                    )
                )
            elif len(ev_val):
                notes = ev_val["note"].dropna().astype(str)
                why = notes.iloc[0] if len(notes) else "no share counts or unadjusted closes"
                lines.append(
                    f"  dollar values n/a for every stock ({why}); pass share counts "
                    f"({argument('shares')}: ticker, as_of, shares_outstanding) or run online "
                    "to fetch them"
                )
        for data in measures:
            lines += _measure_block(data, e, max_tickers)
    hidden = len(results.events) - max_events
    if hidden > 0:
        lines += ["", f"... and {hidden:,} more events (all of them are in the output tables)"]
    if len(results.events) > 1:
        lines += _pooled_block(results, caar.get(POOLED), tests.get(POOLED))
    lines += explain_lines(results)
    skipped = results.skipped_frame()
    if len(skipped):
        lines += ["", f"Skipped firm-events ({len(skipped):,}):"]
        lines += [f"  {r.event} / {r.ticker}: {r.reason}" for r in skipped.head(20).itertuples()]
        if len(skipped) > 20:
            lines.append(f"  ... and {len(skipped) - 20:,} more (see skipped.csv)")
    lines += ["", "significance (two-sided): *** p<0.01, ** p<0.05, * p<0.10"]
    for method in dict.fromkeys(e.multiple_testing for e in results.events[:max_events]):
        if method in ADJUSTMENT:
            lines.append(
                f"firms' CARs and day-0 ARs{_of_events(results, method, max_events)}: "
                f"{ADJUSTMENT[method]} adjusted p across the event's firms, per window"
            )
    return "\n".join(lines)


def _or_empty(frame: pd.DataFrame | None) -> pd.DataFrame:
    return pd.DataFrame() if frame is None else frame


@dataclass(frozen=True)
class _MeasureData:
    """One measure's frames for the terminal, by event."""

    spec: MeasureSpec
    daily: dict[str, pd.DataFrame]
    averages: dict[str, pd.DataFrame]
    windows: dict[str, pd.DataFrame]
    tests: dict[str, pd.DataFrame]


def _measure_data(results: ResultSource) -> list[_MeasureData]:
    """The volume and volatility frames the terminal reads (none for a returns-only study)."""
    out = []
    tests = results.tests_frame() if study_measures(results) else None
    for spec in study_measures(results):
        daily = daily_values(results, spec.name)
        if daily is None:
            continue
        windows = window_values(results, spec.name)
        out.append(
            _MeasureData(
                spec,
                _groups(daily),
                _groups(day_averages(results, spec.name, daily)),
                _groups(_or_empty(windows)),
                _groups(_or_empty(measure_tests(tests, spec.name))),
            )
        )
    return out


def _measure_block(data: _MeasureData, e: ResolvedEvent, max_tickers: int) -> list[str]:
    """An event's block of a measure: the day-0 mean (volume: with its multiple of normal
    volume; volatility: against its null mean), the tests every measure has, and each ticker's
    day-0 value (volatility: with the variance ratio over :func:`summary_window` and its p)."""
    spec, name = data.spec, e.name
    daily, averages = data.daily.get(name), data.averages.get(name)
    if daily is None or averages is None or spec.name not in e.measures:
        return []
    head = f"{spec.label}: {spec.short} = {spec.value} ({model_words(e, spec.name)})"
    lines = ["", *textwrap.wrap(head, 92, initial_indent="  ", subsequent_indent="    ")]
    day0 = averages[averages["rel_day"] == 0]
    if len(day0):
        r = day0.iloc[0]
        text = f"  day 0: mean {spec.short} {term_measure(r['mean'], spec.unit)}"
        if spec.name == "volume":
            text += f" = {term_multiple(r['mean'])} normal volume"
        else:
            text += f" against {term_measure(r['null'], spec.unit)} under the null"
        lines.append(text + f" (N={int(r['n'])})")
    tests = data.tests.get(name, pd.DataFrame(columns=["test", "start", "end"]))
    at = _index(tests, ["test", "start", "end"])
    quoted = []
    for test in COMMON_TESTS:
        found = at.get((test.name, 0, 0))
        if found is not None:
            quoted.append(
                f"{test.short_label or test.label} {term_num(found['statistic'])}"
                f"{significance_mark(found['p_value'])} ({_p_text(found['p_value'])})"
            )
    if quoted:
        lines.append("  tests of the day-0 mean: " + ", ".join(quoted))
    values = daily[daily["rel_day"] == 0].set_index("ticker")["value"]
    shown = [t for t in e.tickers if t in values.index]
    first = f"{spec.short} day 0"
    if spec.name == "volume":
        header = [("ticker", 7), (first, 9), ("x normal", 10)]
        rows = [
            [t, term_measure(values[t], spec.unit), term_multiple(values[t])]
            for t in shown[:max_tickers]
        ]
    else:
        window = summary_window(e)
        ratios = data.windows.get(name, pd.DataFrame(columns=["ticker", "start", "end"]))
        by = _index(ratios, ["ticker", "start", "end"])
        header = [("ticker", 7), (first, 9)]
        if window is not None:
            lines.append(
                f"  {spec.window_short} over {fmt_window(window).replace(chr(0x2212), '-')} "
                "(p: its F test), by ticker:"
            )
            header += [("ratio", 8), ("p", 8)]
        rows = []
        for t in shown[:max_tickers]:
            row = [t, term_measure(values[t], spec.unit)]
            if window is not None:
                v = by.get((t, *window))
                if v is None:
                    row += ["n/a", ""]
                else:
                    row += [term_measure(v["value"], spec.unit), fmt_p(v["p"])]
            rows.append(row)
    lines += _grid(header, rows)
    if len(shown) > max_tickers:
        files = f"{spec.table}, {spec.window_table}"
        lines.append(f"    ... and {len(shown) - max_tickers:,} more tickers ({files})")
    return lines


def _p_text(p: float) -> str:
    """``p=0.010``, ``p<0.001``."""
    text = fmt_p(p)
    return f"p{text}" if text.startswith("<") else f"p={text}"


def _grid(header: list[tuple[str, int]], rows: list[list[str]], width: int = 90) -> list[str]:
    """Rows of a few columns side by side, as many as fit in ``width``, under their header
    (first column left-aligned, the others right-aligned)."""

    def cells(values: list[str]) -> str:
        return "".join(
            f"{v:<{w}}" if k == 0 else f"{v:>{w}}" for k, (v, (_h, w)) in enumerate(
                zip(values, header, strict=True)
            )
        )  # fmt: skip

    gap = "    "
    per_line = max(1, (width - 2 + len(gap)) // (sum(w for _h, w in header) + len(gap)))
    shown = min(per_line, len(rows))
    out = ["  " + gap.join([cells([h for h, _w in header])] * shown).rstrip()]
    for k in range(0, len(rows), per_line):
        out.append("  " + gap.join(cells(r) for r in rows[k : k + per_line]).rstrip())
    return out


def _firm_p(p: float, car_row: dict[str, Any] | None, column: str) -> float:
    """The p-value whose stars a firm's CAR (or day-0 AR) gets: ``p`` itself, or the CAR's
    adjusted p-value (``column`` of ``car.csv``; the day-0 AR takes CAR[0, 0]'s) when the study
    asks for it and the row has it."""
    if column == "p" or car_row is None or column not in car_row:
        return p
    return float(car_row[column])


def _of_events(results: ResultSource, method: str, max_events: int) -> str:
    """`` (events A, B)`` when only some of the shown events use ``method``, else ""."""
    events = results.events[:max_events]
    mine = [e.name for e in events if e.multiple_testing == method]
    return "" if len(mine) == len(events) else f" ({listed(mine, 5)})"


def _pooled_block(
    results: ResultSource, caar: pd.DataFrame | None, tests: pd.DataFrame | None
) -> list[str]:
    """All firm-events of all events together: the pooled CAARs and tests (what a study of many
    events is about; readable whatever the number of firm-events)."""
    if caar is None or caar.empty:
        return []
    caar = caar.assign(_w=caar["end"] - caar["start"]).sort_values(["_w", "start"], kind="stable")
    windows = [(int(a), int(b)) for a, b in zip(caar["start"], caar["end"], strict=True)]
    n = int(caar["n"].max())
    lines = ["", f"All {len(results.events):,} events pooled ({n:,} firm-events)"]
    head = f"  {'':<22}" + "".join(f"{f'CAR[{a},{b}]':>14}" for a, b in windows)
    cells = "".join(f"{term_pct(r.caar) + significance_mark(r.p):>14}" for r in caar.itertuples())
    lines += [head, f"  {'CAAR':<22}{cells}"]
    if tests is not None and not tests.empty:
        at = _index(tests, ["test", "start", "end"])
        for test, label in _shown_tests(tests).items():
            row = ""
            for w in windows:
                r = at.get((test, *w))
                text = (
                    "n/a"
                    if r is None
                    else term_num(r["statistic"]) + significance_mark(r["p_value"])
                )
                row += f"{text:>14}"
            lines.append(f"  {label:<22}{row}")
    return lines


@dataclass(frozen=True)
class Summary:
    """A study's results in brief, in the manner of statsmodels' ``Summary``: ``as_text()`` (the
    terminal summary), ``as_html()`` (a notebook shows it), ``as_latex()`` (booktabs tables).

    Per event (the first ``max_events``) its day-0 table and test battery (and those of the
    volume and volatility measures when it has them), the CAAR table and,
    for studies of several events, the pooled CAARs and tests; every table is cut to a readable
    length, with a note naming the file that holds all of it."""

    title: str
    text: str
    tables: tuple[Table, ...]

    def as_text(self) -> str:
        return self.text

    def as_html(self) -> str:
        template = environment().get_template("summary.html.j2")
        return str(template.render(title=self.title, tables=self.tables, stars_note=STARS_NOTE))

    def as_latex(self) -> str:
        return "\n\n".join(latex_table(t) for t in self.tables)

    def _repr_html_(self) -> str:
        return self.as_html()

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text


def summarize(results: ResultSource, max_events: int = 10, max_tickers: int = 30) -> Summary:
    """The :class:`Summary` of ``results`` (the first ``max_events`` events in detail, their
    first ``max_tickers`` tickers; averages and tests cover every firm-event)."""
    study = StudyTables(results, results.tests_frame(), None)
    picked: list[Table | None] = [_cut(study.caar_all(), max_events * 3, "caar.csv")]
    if len(results.events) > 1:
        picked.append(study.battery_table(POOLED))
    for ev in results.events[:max_events]:
        picked.append(_cut(study.event_day0(ev.name), max_tickers, "abnormal_returns.csv"))
        picked.append(study.battery_table(ev.name))
        for spec in study_measures(results):
            if spec.name in ev.measures:  # its tickers' table and its tests
                by_ticker = measure_ticker_table(study, ev.name, spec.name)
                picked.append(by_ticker and _cut(by_ticker, max_tickers + 1, spec.table))
                picked.append(study.battery_table(ev.name, spec.name))
    picked += explain_tables(results)
    tables = tuple(
        replace(t, number=i) for i, t in enumerate((t for t in picked if t is not None), 1)
    )
    return Summary(results.title, text_summary(results, max_events, max_tickers), tables)


def _cut(table: Table, rows: int, file: str) -> Table:
    if len(table.rows) <= rows:
        return table
    note = f"First {rows:,} of {len(table.rows):,} rows; all of them are in {file}."
    return replace(table, rows=table.rows[:rows], total=False, notes=[*table.notes, note])


def _summary_tests(results: ResultSource, measure: str = "return") -> pd.DataFrame:
    """Battery rows of ``measure`` for day 0, the CAR windows and the BHAR windows (every day
    is in tests.csv)."""
    tests = results.tests_frame()
    if tests is None or tests.empty:
        return pd.DataFrame() if tests is None else tests
    if "measure" in tests.columns:  # older folders have returns only
        tests = tests[tests["measure"].to_numpy() == measure].drop(columns="measure")
    wanted = {(0, 0)} | {w for e in results.events for w in e.windows}
    start = tests["start"].to_numpy(dtype=np.int64)
    end = tests["end"].to_numpy(dtype=np.int64)
    keep = np.zeros(len(tests), dtype=bool)
    for a, b in wanted:
        keep |= (start == a) & (end == b)
    return tests[keep]


#: ``summary.json`` gives the per-event AAR path and test battery (``aar``, ``tests``) of this
#: many events, the first ones; every event's are in ``aar.csv`` and ``tests.csv``. With the
#: per-event CAARs, counts and dollar totals of every event, this keeps ``summary.json`` small
#: whatever the size of the study (a few MB at 100,000 firm-events).
DETAILED_EVENTS = 100


def _value_totals(valuation: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """Per event and CAR window: the raw and abnormal dollar change summed over its stocks
    (None where no stock has one), how many stocks the window has and how many have a value.
    Summed as ``Series.sum`` sums (numpy's sum of the values in row order, missing ones as 0),
    so the totals are those the terminal summary prints, to the last bit."""
    out: dict[str, list[dict[str, Any]]] = {}
    if valuation.empty:
        return out
    keys = valuation[["event", "start", "end"]]
    group = keys.groupby(["event", "start", "end"], sort=False).ngroup().to_numpy()
    order = np.argsort(group, kind="stable")  # each group's rows together, in row order
    bounds = np.flatnonzero(np.r_[True, group[order][1:] != group[order][:-1], True])
    raw = valuation["raw_dollar_change"].to_numpy(dtype=float)[order]
    abnormal = valuation["abnormal_dollar_change"].to_numpy(dtype=float)[order]
    events = keys["event"].to_numpy(dtype=object)[order]
    starts, ends = keys["start"].to_numpy()[order], keys["end"].to_numpy()[order]
    for lo, hi in pairwise(bounds.tolist()):
        known = np.isfinite(raw[lo:hi])
        out.setdefault(str(events[lo]), []).append(
            {
                "start": _clean(starts[lo]),
                "end": _clean(ends[lo]),
                "raw_dollar_change": _total(raw[lo:hi]),
                "abnormal_dollar_change": _total(abnormal[lo:hi]),
                "stocks": int(hi - lo),
                "stocks_valued": int(known.sum()),
            }
        )
    return out


def _total(values: np.ndarray) -> float | None:
    """``Series.sum(min_count=1)`` of a float array, None where it is NaN."""
    known = ~np.isnan(values)
    if not known.any():
        return None
    return _clean(np.where(known, values, 0.0).sum())


def _firm_event_counts(results: ResultSource) -> dict[str, dict[str, int]]:
    """Per event: firm-events fitted and skipped (left out before the fit, or not fitted)."""
    skipped = results.skipped_frame()
    by_event: dict[str, list[str]] = {}
    for event, ticker in zip(skipped["event"].tolist(), skipped["ticker"].tolist(), strict=True):
        by_event.setdefault(str(event), []).append(str(ticker))
    counts = {}
    for e in results.events:
        gone = by_event.get(e.name, [])
        listed = set(e.tickers)  # the tickers fitted or tried (those left out before are not)
        not_fitted = sum(t in listed for t in gone)
        counts[e.name] = {"fitted": len(e.tickers) - not_fitted, "skipped": len(gone)}
    return counts


def summary_dict(results: ResultSource, detailed_events: int = DETAILED_EVENTS) -> dict[str, Any]:
    """What ``summary.json`` holds: the study and its events, and per event its firm-event
    counts, CAARs and dollar totals; the AAR path and test battery (day 0, CAR and BHAR windows)
    of the first ``detailed_events`` events; the pooled CAARs and tests. Per-firm-event numbers
    are not in it (they are in the tables: README, "Outputs"), so it stays small whatever the
    number of firm-events."""
    caar = _records_by_event(results.caar_frame())
    tests_frame = _summary_tests(results)
    detailed = {e.name for e in results.events[:detailed_events]}
    if len(results.events) > detailed_events and not tests_frame.empty:
        tests_frame = tests_frame[tests_frame["event"].isin(detailed | {POOLED})]
    aar_frame = results.aar_frame()
    if len(results.events) > detailed_events:
        aar_frame = aar_frame[aar_frame["event"].isin(detailed)]
    aar = _records_by_event(aar_frame)
    tests = _records_by_event(tests_frame)
    values = _value_totals(results.valuation_frame())
    counts = _firm_event_counts(results)
    measured = [m for m in ("volume", "volatility") if any(m in e.measures for e in results.events)]
    measure_tests = {
        m: _records_by_event(_summary_tests(results, m)) for m in measured
    }  # each measure's day-0 and window tests (the first events', as the return tests)
    events = []
    for i, e in enumerate(results.events):
        entry: dict[str, Any] = {
            "name": e.name,
            "date": e.date.isoformat(),
            "day0_date": results.day0_dates[i].isoformat(),
            "timing": e.timing,
            "market": e.market,
            "model": e.model,
            "model_label": results.model_labels[i],
            "estimation_window": list(e.estimation_window),
            "event_window": list(e.event_window),
            "car_windows": [list(w) for w in e.car_windows],
            "bhar_windows": [list(w) for w in e.bhar_windows],
            "factors": list(e.factors),
            "dimson_lags": e.dimson_lags,
            "min_estimation_obs": e.min_estimation_obs,
            "tickers": list(e.tickers),
            "firm_events": counts[e.name],
            "caar": caar.get(e.name, []),
            "value_totals": values.get(e.name, []),
        }
        if e.multiple_testing != DEFAULTS.multiple_testing:
            entry["multiple_testing"] = e.multiple_testing
        if tuple(e.measures) != DEFAULTS.measures:
            entry |= {
                "measures": list(e.measures),
                "volume_model": e.volume_model,
                "volatility_model": e.volatility_model,
            }
        if e.bhar_benchmark != DEFAULTS.bhar_benchmark or e.bhar_resamples:
            entry |= {
                "bhar_benchmark": e.bhar_benchmark,
                "reference_portfolio": list(e.reference_portfolio),
                "bhar_resamples": e.bhar_resamples,
            }
        if e.name in detailed:
            entry["aar"] = aar.get(e.name, [])
            entry["tests"] = tests.get(e.name, [])
            for m in measured:
                entry[f"{m}_tests"] = measure_tests[m].get(e.name, [])
        events.append(entry)
    extra: dict[str, Any] = {}
    calendar = getattr(results, "calendar_time_result", lambda: None)()
    if calendar is not None:  # the regression's settings (calendar_time.csv has its numbers)
        extra["calendar_time"] = {
            "horizon": list(calendar.horizon),
            "weighting": calendar.weighting,
            "model": calendar.model,
            "frequency": calendar.frequency,
            "min_firms": calendar.min_firms,
            "errors": calendar.errors,
            "hac_lags": calendar.lags,
            "factors": list(calendar.factors),
        }
    return {
        "study": results.title,
        "meta": {k: _clean(v) for k, v in results.meta.items()},
        **extra,
        "firm_events": {
            "fitted": sum(c["fitted"] for c in counts.values()),
            "skipped": sum(c["skipped"] for c in counts.values()),
        },
        "detailed_events": min(detailed_events, len(results.events)),
        "events": events,
        "pooled_caar": caar.get(POOLED, []),
        "pooled_tests": tests.get(POOLED, []),
        **{f"pooled_{m}_tests": measure_tests[m].get(POOLED, []) for m in measured},
    }
