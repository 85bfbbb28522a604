"""Report tables: one format-neutral model, rendered as HTML/Markdown (by the report templates), as
LaTeX (:mod:`eventstudy.output.latex`) and, for the numbers behind them, as an Excel workbook
(:mod:`eventstudy.output.xlsx`).

:class:`StudyTables` turns a study's results into :class:`Table` objects (formatted cells, column
groups, notes): the study definition, per event the average (CAAR, AAR) and per-stock (day-0 AR,
CAR, BHAR, dollar) tables, the test battery, skipped firm-events and data-quality flags. It reads
a :class:`~eventstudy.output.source.ResultSource`: the in-memory results of a run, or
:class:`~eventstudy.output.folder.StoredResults`, read back from a results folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from eventstudy.estimation.measures import measure as measure_spec
from eventstudy.inference.registry import BHAR_TESTS, BOOTSTRAP_TESTS, TESTS, spec
from eventstudy.output.format import (
    P_COLUMN,
    STARS_NOTE,
    _finite,
    _iso,
    _signed,
    _stars,
    _text,
    adjusted_note,
    fmt_int,
    fmt_money,
    fmt_num,
    fmt_p,
    fmt_pct,
    fmt_window,
)
from eventstudy.output.measure_data import measure_tests
from eventstudy.references import short_citations
from eventstudy.study import POOLED

if TYPE_CHECKING:
    from eventstudy.output.source import ResultSource
    from eventstudy.study import ResolvedEvent

__all__ = ["Cell", "StudyTables", "Table"]


# ----------------------------------------------------------------------------- the table model
@dataclass
class Cell:
    """One formatted cell: its text and, apart, significance stars (rendered as a superscript in
    LaTeX); ``title`` is a tooltip in HTML (e.g. why a value is n/a)."""

    text: str
    stars: str = ""
    title: str = ""

    def __str__(self) -> str:
        return self.text + self.stars


@dataclass
class Table:
    """A formatted table. ``align`` per column: ``l`` (text), ``n`` (text kept on one line: dates,
    windows) or ``r`` (numbers, on one line); ``groups``: optional spanning
    header cells above the column names, as ``(label, span)`` pairs covering every column;
    ``total``: the last row is a total (set apart by a rule); ``number``: its number in a
    report (0: none)."""

    key: str
    caption: str
    columns: list[str]
    rows: list[list[Cell]]
    align: list[str]
    groups: list[tuple[str, int]] | None = None
    notes: list[str] = field(default_factory=list)
    total: bool = False
    number: int = 0

    @property
    def flat_columns(self) -> list[str]:
        """Column names with their group label in front (for formats without spanning cells)."""
        if not self.groups:
            return list(self.columns)
        out, k = [], 0
        for label, span in self.groups:
            for name in self.columns[k : k + span]:
                out.append(f"{label} {name}".strip() if label else name)
            k += span
        return out


# ----------------------------------------------------------------------------- study tables
class StudyTables:
    """The report's tables for one study.

    ``source``: the study's results. ``tests``: the test battery (``tests.csv`` layout:
    ``event, test, start, end, statistic, p_value, n[, df, note]``) or None; ``quality``:
    ``data_quality.csv``'s frame or None."""

    def __init__(
        self,
        source: ResultSource,
        tests: pd.DataFrame | None = None,
        quality: pd.DataFrame | None = None,
    ) -> None:
        self.source = source
        self.tests = tests
        self.quality = quality
        self._batteries: dict[str, dict[str, pd.DataFrame]] = {}

    # ------------------------------------------------------------------ frames, by event
    def _by_event(self, frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
        if frame is None or frame.empty or "event" not in frame:
            return {}
        return {str(k): g for k, g in frame.groupby("event", sort=False)}

    @cached_property
    def ar(self) -> dict[str, pd.DataFrame]:
        return self._by_event(self.source.ar_frame())

    @cached_property
    def car(self) -> dict[str, pd.DataFrame]:
        return self._by_event(self.source.car_frame())

    @cached_property
    def aar(self) -> dict[str, pd.DataFrame]:
        return self._by_event(self.source.aar_frame())

    @cached_property
    def caar(self) -> dict[str, pd.DataFrame]:
        return self._by_event(self.source.caar_frame())

    @cached_property
    def _valuation(self) -> tuple[pd.DataFrame, str]:
        from eventstudy.currency import reporting_view

        return reporting_view(self.source.valuation_frame())

    @cached_property
    def valuation(self) -> dict[str, pd.DataFrame]:
        """Valuation rows by event, in the reporting currency (docs/global.md)."""
        return self._by_event(self._valuation[0])

    def money(self, x: Any, signed: bool = True) -> str:
        """An amount of the valuation table in its (reporting) currency: ``−$592.3B``."""
        return fmt_money(x, signed, currency=self._valuation[1])

    @cached_property
    def bhar(self) -> dict[str, pd.DataFrame]:
        return self._by_event(self.source.bhar_frame())

    @cached_property
    def battery(self) -> dict[str, pd.DataFrame]:
        """The battery of the abnormal returns, by event (``all``: pooled)."""
        return self.measure_battery("return")

    def measure_battery(self, measure: str) -> dict[str, pd.DataFrame]:
        """The battery's rows of ``measure`` (``tests.csv``'s ``measure`` column), by event."""
        if measure not in self._batteries:
            rows = measure_tests(self.tests, measure)
            self._batteries[measure] = self._by_event(rows) if rows is not None else {}
        return self._batteries[measure]

    def _event(self, name: str) -> ResolvedEvent:
        for ev in self.source.events:
            if ev.name == name:
                return ev
        raise ValueError(f"unknown event {name!r}")

    # ------------------------------------------------------------------ the study
    def study(self, max_tickers: int = 8) -> Table:
        """One row per event: dates, tickers, model and windows."""
        rows = []
        for i, ev in enumerate(self.source.events):
            tickers = list(ev.tickers)
            shown = ", ".join(tickers[:max_tickers]) + (" …" if len(tickers) > max_tickers else "")
            rows.append(
                [
                    Cell(ev.name),
                    Cell(_iso(ev.date)),
                    Cell(_iso(self.source.day0_dates[i])),
                    Cell(f"{len(tickers)}: {shown}"),
                    Cell(str(self.source.model_labels[i] or ev.model)),
                    Cell(fmt_window(ev.estimation_window)),
                    Cell(fmt_window(ev.event_window)),
                    Cell(", ".join(fmt_window(w) for w in ev.car_windows)),
                ]
            )
        return Table(
            key="study",
            caption="Events of the study",
            columns=[
                "Event",
                "Date",
                "Day 0",
                "Stocks",
                "Normal-return model",
                "Estimation window",
                "Event window",
                "CAR windows",
            ],
            rows=rows,
            align=list("lnnllnnl"),
            notes=[
                "Windows in trading days relative to day 0, both ends included. Day 0: the "
                "event date's session, or the next session when the date is not one (or the "
                "news came after the close)."
            ],
        )

    def caar_all(self) -> Table:
        """CAAR of every event and CAR window: the headline table."""
        rows = []
        for ev in self.source.events:
            frame = self.caar.get(ev.name)
            at = {} if frame is None else _rows_by(frame, ["start", "end"])
            for w in ev.car_windows:
                r = at.get(tuple(w))
                if r is None:
                    continue
                rows.append(
                    [
                        Cell(ev.name),
                        Cell(fmt_window(w)),
                        Cell(fmt_pct(r["caar"]), _stars(r["p"])),
                        Cell(fmt_num(r["t"])),
                        Cell(fmt_p(r["p"])),
                        Cell(fmt_int(r["n"])),
                    ]
                )
        return Table(
            key="caar",
            caption="Cumulative average abnormal returns (CAAR) by event and window",
            columns=["Event", "Window", "CAAR", "t", "p", "N"],
            rows=rows,
            align=list("lnrrrr"),
            notes=["t: cross-sectional t-test (Brown & Warner 1985), N − 1 df. " + STARS_NOTE],
        )

    # ------------------------------------------------------------------ per event
    def event_caar(self, name: str) -> Table:
        """Per CAR window: the CAAR with its cross-sectional t, and the dollar change summed over
        the stocks with a share count."""
        ev = self._event(name)
        frame = self.caar.get(name)
        at = {} if frame is None else _rows_by(frame, ["start", "end"])
        val = self.valuation.get(name)
        rows = []
        for w in ev.car_windows:
            r = at.get(tuple(w))
            raw = abn = np.nan
            n_val = 0
            if val is not None:
                sub = val[(val["start"] == w[0]) & (val["end"] == w[1])]
                have = sub["raw_dollar_change"].notna()
                n_val = int(have.sum())
                if n_val:
                    raw = float(sub.loc[have, "raw_dollar_change"].sum())
                    abn_values = sub.loc[have, "abnormal_dollar_change"]
                    abn = float(abn_values.sum()) if abn_values.notna().all() else np.nan
            rows.append(
                [
                    Cell(fmt_window(w)),
                    Cell(fmt_pct(r["caar"]) if r else "n/a", _stars(r["p"]) if r else ""),
                    Cell(fmt_num(r["t"]) if r else "n/a"),
                    Cell(fmt_p(r["p"]) if r else "n/a"),
                    Cell(fmt_int(r["n"]) if r else "0"),
                    Cell(self.money(raw)),
                    Cell(self.money(abn)),
                    Cell(str(n_val)),
                ]
            )
        return Table(
            key=f"caar:{name}",
            caption=f"{name}: average cumulative abnormal return and dollar effect by window",
            columns=["Window", "CAAR", "t", "p", "N", "Raw", "Abnormal", "N"],
            groups=[("", 1), ("Cumulative average AR", 4), ("Market value change", 3)],
            rows=rows,
            align=list("nrrrrrrr"),
            notes=[
                "t: cross-sectional t-test (Brown & Warner 1985), N − 1 df. Market value "
                "change: summed over the N stocks with a share count (abnormal: n/a unless every "
                "one has an abnormal change). " + STARS_NOTE
            ],
        )

    def event_aar(self, name: str) -> Table:
        """The average abnormal return on each event-window day."""
        frame = self.aar.get(name)
        rows = []
        if frame is not None:
            for r in frame.sort_values("rel_day").to_dict("records"):
                rows.append(
                    [
                        Cell(_signed(int(r["rel_day"]))),
                        Cell(_iso(r["date"])),
                        Cell(fmt_pct(r["aar"]), _stars(r["p"])),
                        Cell(fmt_num(r["t"])),
                        Cell(fmt_p(r["p"])),
                        Cell(fmt_int(r["n"])),
                    ]
                )
        return Table(
            key=f"aar:{name}",
            caption=f"{name}: average abnormal return (AAR) by day",
            columns=["Day", "Date", "AAR", "t", "p", "N"],
            rows=rows,
            align=list("rnrrrr"),
            notes=["t: cross-sectional t-test, N − 1 df. " + STARS_NOTE],
        )

    def event_day0(self, name: str) -> Table:
        """Each stock's day-0 return, normal return and abnormal return with its t-test."""
        ev = self._event(name)
        frame = self.ar.get(name)
        at = {} if frame is None else _rows_by(frame[frame["rel_day"] == 0], ["ticker"])
        cars = self.car.get(name)
        car_at = {} if cars is None else _rows_by(cars, ["ticker", "start", "end"])
        p_col = P_COLUMN[ev.multiple_testing]
        rows = []
        for t in ev.tickers:
            r = at.get((t,))
            if r is None:
                continue
            car0 = car_at.get((t, 0, 0))
            star_p = car0[p_col] if p_col != "p" and car0 and p_col in car0 else r["ar_p"]
            rows.append(
                [
                    Cell(t),
                    Cell(fmt_pct(r["ret"])),
                    Cell(fmt_pct(r["normal_ret"])),
                    Cell(fmt_pct(r["ar"]), _stars(star_p)),
                    Cell(fmt_pct(r["ar_se"])),
                    Cell(fmt_num(r["ar_t"])),
                    Cell(fmt_p(r["ar_p"])),
                ]
            )
        return Table(
            key=f"day0:{name}",
            caption=f"{name}: abnormal returns on day 0 by stock",
            columns=["Ticker", "Return", "Normal return", "AR", "SE", "t", "p"],
            rows=rows,
            align=list("lrrrrrr"),
            notes=[
                "SE includes the prediction error of the estimated model (Campbell, Lo & "
                "MacKinlay 1997, eq. 4.4.9); t on the model's residual degrees of freedom. "
                + STARS_NOTE
                + _adjusted(ev.multiple_testing)
            ],
        )

    def event_car(self, name: str) -> Table:
        """Each stock's CAR over every CAR window with its t and p."""
        ev = self._event(name)
        frame = self.car.get(name)
        at = {} if frame is None else _rows_by(frame, ["ticker", "start", "end"])
        windows = [tuple(w) for w in ev.car_windows]
        p_col = P_COLUMN[ev.multiple_testing]
        rows = []
        for t in ev.tickers:
            cells = [Cell(t)]
            found = False
            for w in windows:
                r = at.get((t, *w))
                found = found or r is not None
                if r is None:
                    cells += [Cell("n/a"), Cell("n/a"), Cell("n/a")]
                else:
                    cells += [
                        Cell(fmt_pct(r["car"]), _stars(r.get(p_col, r["p"]))),
                        Cell(fmt_num(r["t"])),
                        Cell(fmt_p(r["p"])),
                    ]
            if found:
                rows.append(cells)
        return Table(
            key=f"car:{name}",
            caption=f"{name}: cumulative abnormal returns (CAR) by stock",
            columns=["Ticker"] + ["CAR", "t", "p"] * len(windows),
            groups=[("", 1)] + [(fmt_window(w), 3) for w in windows],
            rows=rows,
            align=["l"] + ["r"] * (3 * len(windows)),
            notes=[
                "CAR: sum of the window's abnormal returns; t with the prediction-error "
                "variance (Campbell, Lo & MacKinlay 1997, eq. 4.4.14). "
                + STARS_NOTE
                + _adjusted(ev.multiple_testing)
            ],
        )

    def event_bhar(self, name: str) -> Table | None:
        """Buy-and-hold abnormal returns by stock and window (None without BHAR windows)."""
        frame = self.bhar.get(name)
        if frame is None or frame.empty:
            return None
        ev = self._event(name)
        windows = sorted(
            {(int(a), int(b)) for a, b in zip(frame["start"], frame["end"], strict=True)}
        )
        at = _rows_by(frame, ["ticker", "start", "end"])
        rows = []
        for t in ev.tickers:
            if not any((t, *w) in at for w in windows):
                continue
            rows.append(
                [Cell(t)] + [Cell(fmt_pct(at.get((t, *w), {}).get("bhar"))) for w in windows]
            )
        means = [
            Cell(fmt_pct(frame.loc[(frame["start"] == a) & (frame["end"] == b), "bhar"].mean()))
            for a, b in windows
        ]
        rows.append([Cell("Average"), *means])
        return Table(
            key=f"bhar:{name}",
            caption=f"{name}: buy-and-hold abnormal returns (BHAR) by stock",
            columns=["Ticker"] + [f"BHAR {fmt_window(w)}" for w in windows],
            rows=rows,
            align=["l"] + ["r"] * len(windows),
            total=True,
            notes=["BHAR = Π(1 + R) − Π(1 + normal return) over the window (Barber & Lyon 1997)."],
        )

    def event_value(self, name: str) -> Table | None:
        """Market value on day −1 and the raw and abnormal dollar change per window, with a
        total row (None when no stock has a dollar value)."""
        frame = self.valuation.get(name)
        if frame is None or not frame["raw_dollar_change"].notna().any():
            return None
        ev = self._event(name)
        windows = [tuple(w) for w in ev.car_windows]
        at = _rows_by(frame, ["ticker", "start", "end"])
        rows, missing = [], {}
        totals = {w: [0.0, 0.0, 0, True] for w in windows}
        for t in ev.tickers:
            first = next((at[(t, *w)] for w in windows if (t, *w) in at), None)
            if first is None:
                continue
            if not _finite(first.get("market_value")):
                missing[t] = _text(first.get("note")) or "no market value"
                continue
            cells = [Cell(t), Cell(self.money(first["market_value"], signed=False))]
            for w in windows:
                r = at.get((t, *w), {})
                raw, abn = r.get("raw_dollar_change"), r.get("abnormal_dollar_change")
                cells += [Cell(self.money(raw)), Cell(self.money(abn))]
                if raw is not None and _finite(raw):
                    totals[w][0] += float(raw)
                    totals[w][2] += 1
                    if abn is not None and _finite(abn):
                        totals[w][1] += float(abn)
                    else:
                        totals[w][3] = False
            rows.append(cells)
        if not rows:
            return None
        total_cells = [Cell("Total"), Cell("")]
        for w in windows:
            raw_sum, abn_sum, count, complete = totals[w]
            total_cells += [
                Cell(self.money(raw_sum) if count else "n/a"),
                Cell(self.money(abn_sum) if count and complete else "n/a"),
            ]
        rows.append(total_cells)
        notes = [
            "Market value: unadjusted close on day −1 × the latest shares outstanding reported "
            "on or before the event date. Raw: change in market value over the window; "
            "abnormal: Σ AR(t) × market value on day t − 1."
        ]
        notes += [f"{ticker}: n/a ({note})." for ticker, note in missing.items()]
        return Table(
            key=f"value:{name}",
            caption=f"{name}: dollar effects by stock",
            columns=["Ticker", "Market value (day −1)"] + ["Raw", "Abnormal"] * len(windows),
            groups=[("", 2)] + [(f"Change {fmt_window(w)}", 2) for w in windows],
            rows=rows,
            align=["l", "r"] + ["r"] * (2 * len(windows)),
            notes=notes,
            total=True,
        )

    # ------------------------------------------------------------------ test battery
    def battery_windows(self, name: str, measure: str = "return") -> list[tuple[int, int]]:
        """The windows the test table shows for ``name`` (an event, or ``all``): day 0 and the
        multi-day CAR windows, in study order, where the battery has them."""
        frame = self.measure_battery(measure).get(name)
        if frame is None:
            return []
        have = {(int(a), int(b)) for a, b in zip(frame["start"], frame["end"], strict=True)}
        events = self.source.events if name == POOLED else [self._event(name)]
        wanted = dict.fromkeys(
            [(0, 0)] + [(int(a), int(b)) for ev in events for a, b in ev.car_windows]
        )
        return [w for w in wanted if w in have and (w[0] != w[1] or w == (0, 0))]

    def battery_table(self, name: str, measure: str = "return") -> Table | None:
        """Every test of the battery (rows) for each window (columns: statistic and p), for an
        event or the pooled sample (``all``), of the abnormal returns or of another ``measure``
        (its tests only); None without the battery."""
        frame = self.measure_battery(measure).get(name)
        if frame is None or frame.empty:
            return None
        windows = self.battery_windows(name, measure)
        if not windows:
            return None
        tests = [t for t in dict.fromkeys(frame["test"]) if not str(t).startswith("bhar_")]
        order = {t.name: k for k, t in enumerate((*TESTS, *BOOTSTRAP_TESTS, *BHAR_TESTS))}
        tests.sort(key=lambda t: order.get(t, len(order)))
        if measure == "return":
            key, caption = f"tests:{name}", f"Test battery: {_pooled(name)}"
            null = "no abnormal return (mean, median or share of positives as the test has it)"
        else:
            label = measure_spec(measure).label.lower()
            key, caption = f"{measure}-tests:{name}", f"Tests of {label}: {_pooled(name)}"
            null = f"no {label}"
        return _tests_table(
            frame,
            tests,
            windows,
            key=key,
            caption=caption,
            window_label="",
            note=f"Null hypothesis: {null}; p-values two-sided; N: firm-events used. ",
        )

    def bhar_battery_table(self, name: str) -> Table | None:
        """The BHAR tests (``bhar_*`` rows of the battery) per BHAR window, for an event or
        ``all``; None when there are none."""
        frame = self.battery.get(name)
        if frame is None or frame.empty:
            return None
        frame = frame[frame["test"].astype(str).str.startswith("bhar_")]
        if frame.empty:
            return None
        windows = list(
            dict.fromkeys(
                (int(a), int(b)) for a, b in zip(frame["start"], frame["end"], strict=True)
            )
        )
        return _tests_table(
            frame,
            list(dict.fromkeys(frame["test"])),
            windows,
            key=f"bhar-tests:{name}",
            caption=f"Tests of the mean BHAR: {_pooled(name)}",
            window_label="BHAR ",
            note="Student t with N − 1 df (the bootstrap and pseudo-portfolio tests: their "
            "resampled distributions); p-values two-sided. ",
        )

    # ------------------------------------------------------------------ data
    def skipped(self) -> Table | None:
        frame = self.source.skipped_frame()
        if frame is None or frame.empty:
            return None
        rows = [
            [Cell(_text(r["event"])), Cell(_text(r["ticker"])), Cell(_text(r["reason"]))]
            for r in frame.to_dict("records")
        ]
        return Table(
            key="skipped",
            caption="Firm-events that could not be fitted",
            columns=["Event", "Ticker", "Reason"],
            rows=rows,
            align=list("lll"),
        )

    def quality_flags(self, limit: int = 200) -> Table | None:
        """Firm-events that the data-quality checks flagged (at most ``limit`` rows)."""
        frame = self.quality
        if frame is None or frame.empty or "flags" not in frame:
            return None
        flags = frame["flags"].fillna("").astype(str)
        flagged = frame.loc[flags != ""]
        if flagged.empty:
            return None
        cols = [
            ("n_obs", "Estimation returns"),
            ("est_missing", "Missing (estimation)"),
            ("event_missing", "Missing (event)"),
            ("zero_return_runs", "Longest zero run"),
            ("extreme_returns", "Extreme returns"),
            ("suspected_split", "Suspected splits"),
        ]
        cols = [(k, label) for k, label in cols if k in flagged]
        rows = []
        for r in flagged.head(limit).to_dict("records"):
            rows.append(
                [Cell(_text(r.get("event"))), Cell(_text(r.get("ticker")))]
                + [Cell(fmt_int(r.get(k))) for k, _ in cols]
                + [Cell(_text(r.get("flags")).replace(";", ", "))]
            )
        notes = []
        if len(flagged) > limit:
            notes.append(
                f"First {limit} of {len(flagged)} flagged firm-events; all in data_quality.csv."
            )
        return Table(
            key="quality",
            caption=f"Data-quality flags ({len(flagged)} of {len(frame)} firm-events)",
            columns=["Event", "Ticker"] + [label for _, label in cols] + ["Flags"],
            rows=rows,
            align=["l", "l"] + ["r"] * len(cols) + ["l"],
            notes=notes,
        )

    # ------------------------------------------------------------------ everything
    def all_tables(self, max_events: int | None = None) -> list[Table]:
        """Every table, in report order (per-event tables for the first ``max_events``)."""
        out = [self.study(), self.caar_all()]
        events = self.source.events if max_events is None else self.source.events[:max_events]
        for ev in events:
            out += self.event_tables(ev.name)
        out += self.battery_tables(max_events)
        return out + [t for t in (self.skipped(), self.quality_flags()) if t is not None]

    def event_tables(self, name: str) -> list[Table]:
        """One event's tables, in report order: CAAR, AAR, day-0 ARs and CARs, then the BHARs
        and the dollar effects when it has them."""
        makers = (self.event_caar, self.event_aar, self.event_day0, self.event_car)
        tables = [make(name) for make in (*makers, self.event_bhar, self.event_value)]
        return [t for t in tables if t is not None]

    def battery_tables(self, max_events: int | None = None) -> list[Table]:
        """The battery's tables: per event (and pooled), the tests of the ARs and CARs, then
        those of the BHARs."""
        names = self.battery_names(max_events)
        tables = [t for n in names for t in (self.battery_table(n), self.bhar_battery_table(n))]
        return [t for t in tables if t is not None]

    def battery_names(self, max_events: int | None = None, measure: str = "return") -> list[str]:
        """Events with battery rows of ``measure`` (the first ``max_events``), then ``all`` when
        pooled rows exist and more than one event measures it."""
        battery = self.measure_battery(measure)
        if not battery:
            return []
        events = self.source.events if max_events is None else self.source.events[:max_events]
        names = [ev.name for ev in events if ev.name in battery]
        if POOLED in battery and sum(measure in e.measures for e in self.source.events) > 1:
            names.append(POOLED)
        return names


def _adjusted(method: str) -> str:
    """The stars note's addition when firms' CARs are starred on adjusted p-values."""
    note = adjusted_note(method)
    return " " + note if note else ""


def _label_and_citations(test: str) -> tuple[str, tuple[str, ...]]:
    entry = spec(test)
    return (entry.label, entry.citations) if entry else (test, ())


def _rows_by(frame: pd.DataFrame, keys: list[str]) -> dict[tuple, dict[str, Any]]:
    """Rows of ``frame`` as dicts, keyed by the values of the ``keys`` columns (windows as int)."""
    return {
        tuple(int(row[k]) if k in {"start", "end"} else row[k] for k in keys): row
        for row in frame.to_dict("records")
    }


def _pooled(name: str) -> str:
    return "all events pooled" if name == POOLED else name


def _tests_table(
    frame: pd.DataFrame,
    tests: list[str],
    windows: list[tuple[int, int]],
    *,
    key: str,
    caption: str,
    window_label: str,
    note: str,
) -> Table:
    """``tests`` (rows: label, statistic and p per window, references) from battery rows
    (``tests.csv`` layout); each window's header gives the most firm-events any test used."""
    at = _rows_by(frame, ["test", "start", "end"])
    rows = []
    for test in tests:
        label, refs = _label_and_citations(test)
        cells = [Cell(label)]
        for w in windows:
            r = at.get((test, *w), {})
            why = _text(r.get("note"))
            cells += [
                Cell(fmt_num(r.get("statistic")), _stars(r.get("p_value")), title=why),
                Cell(fmt_p(r.get("p_value")), title=why),
            ]
        cells.append(Cell(short_citations(refs)))
        rows.append(cells)
    n_of = {
        w: int(frame.loc[(frame["start"] == w[0]) & (frame["end"] == w[1]), "n"].max())
        for w in windows
    }
    return Table(
        key=key,
        caption=caption,
        columns=["Test"] + ["Statistic", "p"] * len(windows) + ["Reference"],
        groups=[("", 1)]
        + [(f"{window_label}{fmt_window(w)} (N = {n_of[w]})", 2) for w in windows]
        + [("", 1)],
        rows=rows,
        align=["l"] + ["r"] * (2 * len(windows)) + ["l"],
        notes=[note + STARS_NOTE],
    )
