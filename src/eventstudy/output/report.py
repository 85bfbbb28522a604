"""The study report: one self-contained HTML file, a Markdown version with its figures, and the
tables as LaTeX and Excel, built from a results folder written by ``eventstudy run``.

:func:`build_report` reads the folder (the tables, ``summary.json`` and, when present,
``tests.csv`` and ``data_quality.csv``) through :class:`~eventstudy.output.folder.StoredResults`,
so a report can be made
long after the run without refitting anything; given the in-memory results of the run as well
(``eventstudy run --report``), it takes the frames from them instead. Figures come from the run's
figures folder when they are there and at least as new as ``summary.json``; the others are drawn
(the two price charts need the returns panel, which only the in-memory results have: without it
they are left out, with a note saying so). The tables come from
:class:`~eventstudy.output.tables.StudyTables`, the prose from :mod:`eventstudy.output.methods`.

Written into ``<results>/report/`` (or ``out_dir``), atomically (staged in a hidden folder beside
it, ``report.html`` moved into place last):

``report.html``
    everything in one file: CSS inline, figures as base64 PNGs, no script, no external resource
    (a Content-Security-Policy forbids any), so it works from a ``file://`` URL with no network;
``report.md`` and ``figures/<chart>.png``
    the same report in Markdown, its figures beside it;
``tables.tex`` and ``tables.xlsx``
    the report's tables as booktabs LaTeX, and the numbers behind them, one sheet per table.

Everything user-provided (study title, event names, tickers, notes) is escaped: by Jinja2's
autoescaping in HTML, by :func:`md_escape` in Markdown, by
:func:`~eventstudy.output.latex.tex_escape` in LaTeX; file names come from
:func:`~eventstudy.study.slugify` and never from tickers.
"""

from __future__ import annotations

import base64
import datetime as dt
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from eventstudy.errors import listed
from eventstudy.output.explain_tables import explain_methods, explain_tables
from eventstudy.output.files import staged
from eventstudy.output.folder import SUMMARY_FILE, StoredResults
from eventstudy.output.format import fmt_window, md_escape
from eventstudy.output.latex import latex_document
from eventstudy.output.measure_data import EXTRA_MEASURES
from eventstudy.output.measure_tables import every_table, measure_sections
from eventstudy.output.methods import (
    data_notes,
    data_sources,
    headline,
    measure_sentence,
    methods_text,
    reference_list,
)
from eventstudy.output.render import environment
from eventstudy.output.tables import StudyTables, Table
from eventstudy.output.xlsx import write_xlsx, xlsx_sheets

if TYPE_CHECKING:
    from eventstudy.output.source import ResultSource

__all__ = ["build_report", "md_escape", "report_context"]

#: Per-event charts the report shows, in order, with their captions.
EVENT_FIGURES = {
    "car": "Cumulative abnormal returns of each stock and their average, with 95% bands",
    "day0_ar": "Abnormal returns on day 0 by stock, sorted; stars mark significance",
    "ar_heatmap": "Abnormal returns by stock and trading day around the event",
    "prices": "Share prices indexed to 100 at the close of day −1, with the market index",
    "value": "Market value lost or gained by stock, with the total (diamonds: abnormal change)",
    "volume": "Abnormal log volume by trading day: the stocks' mean (bars, labelled with the "
    "multiple of normal volume) and each stock (dots)",
    "volatility": "Abnormal volatility by trading day, log scale: the stocks' mean ratio (line) "
    "against its mean under the null (dashed) and each stock (dots)",
}
#: Per-event charts of the measures beside returns (named as the measures), shown in each
#: measure's section rather than the event's.
_MEASURE_CHARTS = frozenset(m.name for m in EXTRA_MEASURES)
STUDY_FIGURES = {
    "timeline": "Share prices over the whole study, indexed to 100, every event's day 0 marked",
    "caar": "Average cumulative abnormal return of each event, with 95% bands",
    "models": "The same stocks' CAR paths under each normal-return model",
    "groups": "Mean CAR of each group with its 95% confidence interval, per CAR window",
    "scatter": "Each firm-event's CAR against a numeric variable, with the OLS line",
    "calendar_time": "The calendar-time portfolio's cumulative abnormal return and firms held",
}


# ----------------------------------------------------------------------------- figures
@dataclass
class ReportFigure:
    """A figure of the report: PNG bytes (None when it could not be drawn, with ``missing``
    saying why), its number, caption and file stem."""

    stem: str
    chart: str
    caption: str
    png: bytes | None
    event: str | None = None
    number: int = 0
    missing: str = ""
    origin: str = ""

    @property
    def data_uri(self) -> str:
        assert self.png is not None
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")

    @property
    def md_src(self) -> str:
        return f"figures/{self.stem}.png"

    @property
    def alt(self) -> str:
        return f"Figure {self.number}: {self.caption}"


def _collect_figures(
    source: ResultSource,
    figures_dir: Path | None,
    fresh_after: float,
    include: bool = True,
    dpi: int | None = None,
    max_events: int | None = None,
) -> list[ReportFigure]:
    """A :class:`ReportFigure` per chart of :func:`~eventstudy.output.plots.chart_plan`:
    read from ``figures_dir`` when a PNG there is at least as new as ``fresh_after`` (a
    timestamp), drawn otherwise (when the source can draw it)."""
    from eventstudy.output import plots as plotting

    out = []
    for spec in plotting.chart_plan(source, max_events):  # the events the report shows
        captions = EVENT_FIGURES if spec.event is not None else STUDY_FIGURES
        item = ReportFigure(
            spec.stem, spec.chart, captions.get(spec.chart, spec.chart), None, spec.event
        )
        if spec.chart == "models" and spec.events:
            item.caption += ": " + ", ".join(spec.events)
        if spec.subject:
            item.caption += f" ({spec.subject})"
        out.append(item)
        if not include:
            item.missing = "charts left out on request (--no-figures)"
            continue
        stored = figures_dir / f"{spec.stem}.png" if figures_dir is not None else None
        if stored is not None and stored.is_file() and stored.stat().st_mtime >= fresh_after - 1:
            data = stored.read_bytes()
            if data.startswith(b"\x89PNG\r\n\x1a\n"):
                item.png, item.origin = data, str(stored)
                continue
        if spec.needs_panel and getattr(source, "panel", None) is None:
            item.missing = (
                "drawn from the price data, which a results folder does not hold: keep the "
                "run's figures folder, or make the report with `eventstudy run --report`"
            )
            continue
        try:
            fig = plotting.draw_chart(source, spec)
        except ValueError as exc:
            item.missing = str(exc)
            continue
        try:
            item.png = plotting.figure_png(fig, dpi=dpi or plotting.PNG_DPI)
            item.origin = "drawn"
        finally:
            fig.clear()
    return out


# ----------------------------------------------------------------------------- Markdown


# ----------------------------------------------------------------------------- the context
@dataclass
class MeasureEvent:
    """One event's part of a measure's section: its table by stock and its chart."""

    name: str
    table: Table | None
    figures: list[ReportFigure]


@dataclass
class MeasureReport:
    """The section of a measure beside returns (volume, volatility)."""

    anchor: str
    title: str
    methods: str
    events: list[MeasureEvent]
    tests: list[Table]


@dataclass
class EventSection:
    """One event's part of the report."""

    name: str
    anchor: str
    facts: list[tuple[str, str]]
    tables: list[Table]
    figures: list[ReportFigure]


def report_context(
    source: ResultSource,
    figures: list[ReportFigure],
    tests: pd.DataFrame | None = None,
    quality: pd.DataFrame | None = None,
    max_events: int = 20,
    generated: str | None = None,
) -> dict[str, Any]:
    """Everything the templates show, as formatted strings, tables and figures."""
    from eventstudy import __version__
    from eventstudy.output.plots import event_slugs

    tables = StudyTables(source, tests, quality)
    slugs = event_slugs(source)
    from eventstudy.output.plots.explain_charts import EXPLAIN_CHARTS

    by_event: dict[str, list[ReportFigure]] = {}
    by_measure: dict[tuple[str, str], list[ReportFigure]] = {}
    study_figures, explain_figures = [], []
    for item in figures:
        if item.chart in EXPLAIN_CHARTS:
            explain_figures.append(item)
        elif item.event is None:
            study_figures.append(item)
        elif item.chart in _MEASURE_CHARTS:  # shown in the measure's own section
            by_measure.setdefault((item.chart, item.event), []).append(item)
        else:
            by_event.setdefault(item.event, []).append(item)
    measures = [
        MeasureReport(
            anchor=f"measure-{m.spec.name}",
            title=m.spec.label,
            methods=measure_sentence(source, m.spec)[0],
            events=[
                MeasureEvent(name, table, by_measure.get((m.spec.name, name), []))
                for name, table in m.events
            ],
            tests=m.tests,
        )
        for m in measure_sections(tables, max_events)
    ]
    number = 0
    for item in (
        study_figures
        + [f for ev in source.events[:max_events] for f in by_event.get(ev.name, [])]
        + [f for m in measures for e in m.events for f in e.figures]
        + explain_figures
    ):
        if item.png is not None:
            number += 1
            item.number = number
    sections = []
    for i, ev in enumerate(source.events[:max_events]):
        facts = [
            ("Event date", pd.Timestamp(ev.date).date().isoformat()),
            ("Day 0", pd.Timestamp(source.day0_dates[i]).date().isoformat()),
            ("Stocks", f"{len(ev.tickers)}: {', '.join(ev.tickers)}"),
            ("Market", ev.market),
            ("Model", str(source.model_labels[i] or ev.model)),
            ("Estimation window", fmt_window(ev.estimation_window)),
            ("Event window", fmt_window(ev.event_window)),
            ("CAR windows", ", ".join(fmt_window(w) for w in ev.car_windows)),
        ]
        sections.append(
            EventSection(
                name=ev.name,
                anchor=f"event-{slugs[ev.name]}",
                facts=facts,
                tables=tables.event_tables(ev.name),
                figures=by_event.get(ev.name, []),
            )
        )
    battery = tables.battery_tables(max_events)
    has_value = any(frame["raw_dollar_change"].notna().any() for frame in tables.valuation.values())
    methods, cited = methods_text(source, tests, has_value)
    explain_text, explain_cited = explain_methods(source)
    methods, cited = methods + explain_text, cited + explain_cited
    references = reference_list(cited, tests if battery else None)
    summary, study = tables.caar_all(), tables.study()
    skipped, flags = tables.skipped(), tables.quality_flags()
    explaining = explain_tables(source)
    ordered = [summary, study, skipped, flags]
    ordered += [t for s in sections for t in s.tables] + battery
    for m in measures:  # in the order of the page
        ordered += [e.table for e in m.events]
        ordered += m.tests
    ordered += explaining
    for number, table in enumerate((t for t in ordered if t is not None), start=1):
        table.number = number
    toc = [("summary", "Summary"), ("study", "Study"), ("data", "Data")]
    if study_figures:
        toc.append(("overview", "Overview charts"))
    toc += [(s.anchor, s.name) for s in sections]
    toc.append(("tests", "Test battery"))
    toc += [(m.anchor, m.title) for m in measures]
    if explaining or explain_figures:
        toc.append(("explaining", "Explaining the reactions"))
    toc += [("methods", "Methods"), ("references", "References")]
    return {
        "title": source.title,
        "generated": generated or dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "version": __version__,
        "headline": headline(tables, max_events),
        "toc": toc,
        "study": study,
        "caar_all": summary,
        "sources": data_sources(source),
        "data_notes": data_notes(source, quality),
        "skipped": skipped,
        "quality": flags,
        "events": sections,
        "hidden_events": max(0, len(source.events) - max_events),
        "study_figures": study_figures,
        "battery": battery,
        "measures": measures,
        "battery_missing": None
        if tests is not None
        else "The test battery is not in this results folder (no tests.csv).",
        "explaining": explaining,
        "explain_figures": explain_figures,
        "methods": methods,
        "references": references,
    }


# ----------------------------------------------------------------------------- rendering
def render_html(context: dict[str, Any]) -> str:
    """The self-contained HTML report."""
    return environment().get_template("report.html.j2").render(**context)


def render_markdown(context: dict[str, Any]) -> str:
    """The Markdown report (figures referenced as ``figures/<stem>.png``)."""
    return environment().get_template("report.md.j2").render(**context)


# ----------------------------------------------------------------------------- build
def build_report(
    results_dir: Path | str,
    figures_dir: Path | str | None = None,
    *,
    results: ResultSource | None = None,
    out_dir: Path | str | None = None,
    max_events: int = 20,
    figures: bool = True,
    tables: bool = True,
    dpi: int | None = None,
) -> tuple[Path, Path]:
    """Write ``report.html``, ``report.md`` (with ``figures/``), ``tables.tex`` and
    ``tables.xlsx`` for the results in ``results_dir``; returns the HTML and Markdown paths.

    Parameters
    ----------
    results_dir
        A folder written by ``eventstudy run`` (``summary.json`` and the tables).
    figures_dir
        Where the run wrote its charts; default ``<results_dir>/figures`` when it exists. A PNG
        there is used when it is at least as new as ``summary.json``; missing charts are drawn.
    results
        The run's in-memory :class:`~eventstudy.results.EventStudyResults` (for
        ``run --report``): frames and charts come from them (the price charts included), and
        the battery from ``results.tests_frame()`` when they have it.
    out_dir
        The report folder; default ``<results_dir>/report``.
    max_events
        Events shown with their own section, tables and charts (every event is in the
        summary tables).
    figures
        False: no charts (the report says so).
    tables
        False: no ``tables.tex``/``tables.xlsx``.
    dpi
        Resolution of the charts drawn for the report (default 200, as
        :func:`~eventstudy.output.plots.save_figures`); charts taken from ``figures_dir``
        keep theirs.

    Raises
    ------
    EventStudyError
        One line: not a results folder, an unreadable table, an output folder that cannot be
        written.
    """
    results_dir = Path(results_dir)
    stored = StoredResults.load(results_dir)
    source = stored if results is None else results
    fresh_after = (results_dir / SUMMARY_FILE).stat().st_mtime
    if figures_dir is None:  # where the run drew them, else the folder's own figures/
        default = stored.figures_dir or results_dir / "figures"
        figures_dir = default if default.is_dir() else None
    figures_dir = Path(figures_dir) if figures_dir is not None else None
    tests = _optional_frame(source, stored, "tests_frame")
    quality = _optional_frame(source, stored, "quality_frame")
    out = Path(out_dir) if out_dir is not None else results_dir / "report"

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # e.g. glyph warnings: not the user's doing
        collected = _collect_figures(
            source, figures_dir, fresh_after, include=figures, dpi=dpi, max_events=max_events
        )
    # The deliverable holds the charts it has; what could not be drawn is said here, once, not
    # as placeholder text in the report's body.
    items = [f for f in collected if f.png is not None]
    lost = [f for f in collected if f.png is None and figures]
    if lost:
        shown = listed([f"{f.stem} ({f.missing})" for f in lost], 3, "; ")
        warnings.warn(
            f"the report leaves out {len(lost)} chart(s) it could not draw: {shown}",
            UserWarning,
            stacklevel=2,
        )
    context = report_context(source, items, tests, quality, max_events)
    html_text = render_html(context)
    md_text = render_markdown(context)
    study_tables = StudyTables(source, tests, quality)

    with staged(out, last=("report.html",), mode=0o644, what="the report") as stage:
        (stage / "report.html").write_text(html_text, encoding="utf-8")
        (stage / "report.md").write_text(md_text, encoding="utf-8")
        if items:
            (stage / "figures").mkdir()
            for item in items:
                (stage / "figures" / f"{item.stem}.png").write_bytes(item.png or b"")
        if tables:
            all_tables = every_table(study_tables, max_events) + explain_tables(source)
            (stage / "tables.tex").write_text(
                latex_document(all_tables, str(source.title)), encoding="utf-8"
            )
            write_xlsx(xlsx_sheets(source, tests, quality), stage / "tables.xlsx")
    return out / "report.html", out / "report.md"


def _optional_frame(
    source: ResultSource, stored: StoredResults, method: str
) -> pd.DataFrame | None:
    """``tests_frame`` (the battery) or ``quality_frame`` (data-quality checks): from the
    in-memory results when they have the method, else from the results folder's file
    (``tests.csv``, ``data_quality.csv``); None when neither has it."""
    if source is not stored and hasattr(source, method):
        frame = getattr(source, method)()
        if frame is not None:
            return frame
    return getattr(stored, method)()
