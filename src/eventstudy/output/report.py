"""The study report: one self-contained HTML file, a Markdown version with its figures, and the
tables as LaTeX and Excel, built from a results folder written by ``eventstudy run``.

:func:`build_report` reads the folder (the tables, ``summary.json`` and, when present,
``tests.csv`` and ``data_quality.csv``) through :class:`StoredResults`, so a report can be made
long after the run without refitting anything; given the in-memory results of the run as well
(``eventstudy run --report``), it takes the frames from them instead. Figures come from the run's
figures folder when they are there and at least as new as ``summary.json``; the others are drawn
(the two price charts need the returns panel, which only the in-memory results have: without it
they are left out, with a note saying so).

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
:func:`~eventstudy.output.latex.tex_escape` in
LaTeX; file names come from :func:`~eventstudy.study.slugify` and never from tickers.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from eventstudy.estimation.models import MODELS
from eventstudy.inference import registry
from eventstudy.inference.registry import TESTS
from eventstudy.output.files import staged
from eventstudy.output.folder import SUMMARY_FILE, StoredResults
from eventstudy.output.format import fmt_money, fmt_num, fmt_p, fmt_pct, fmt_window
from eventstudy.output.latex import latex_document
from eventstudy.output.tables import StudyTables, Table
from eventstudy.output.xlsx import write_xlsx, xlsx_sheets
from eventstudy.references import REFERENCES
from eventstudy.study import ResolvedEvent

__all__ = ["build_report", "md_escape", "report_context"]

#: Per-event charts the report shows, in order, with their captions.
EVENT_FIGURES = {
    "car": "Cumulative abnormal returns of each stock and their average, with 95% bands",
    "day0_ar": "Abnormal returns on day 0 by stock, sorted; stars mark significance",
    "ar_heatmap": "Abnormal returns by stock and trading day around the event",
    "prices": "Share prices indexed to 100 at the close of day −1, with the market index",
    "value": "Market value lost or gained by stock, with the total (diamonds: abnormal change)",
}
STUDY_FIGURES = {
    "timeline": "Share prices over the whole study, indexed to 100, every event's day 0 marked",
    "caar": "Average cumulative abnormal return of each event, with 95% bands",
    "models": "The same stocks' CAR paths under each normal-return model",
}



_META_LABELS = [
    ("price_source", "Prices"),
    ("price_column", "Price column"),
    ("returns", "Returns"),
    ("shares_source", "Shares outstanding"),
    ("calendar", "Trading calendar"),
    ("factors_source", "Factors"),
    ("factors_release", "Factor release"),
    ("factors_sha256", "Factor files (SHA-256)"),
]


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
    source: Any,
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


# ----------------------------------------------------------------------------- text
_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")


def md_escape(text: Any) -> str:
    """``text`` as literal Markdown: markup characters backslash-escaped, ``<`` and ``>`` (and an
    ``&`` that would start an entity) as entities, line breaks as spaces (safe in a table cell)."""
    out = str(text).replace("\\", "\\\\")
    for ch in "`*_[]|~#!{}":
        out = out.replace(ch, "\\" + ch)
    out = _ENTITY.sub("&amp;", out).replace("<", "&lt;").replace(">", "&gt;")
    return " ".join(out.splitlines())


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _names(names: Sequence[str], limit: int = 6) -> str:
    quoted = [f"“{n}”" for n in names]
    if len(quoted) > limit:
        return ", ".join(quoted[:limit]) + f" and {len(quoted) - limit} more"
    if len(quoted) <= 2:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _join(items: Sequence[str]) -> str:
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _model_clause(ev: ResolvedEvent, label: str) -> tuple[str, tuple[str, ...]]:
    model = MODELS.get(ev.model)
    text, cites = (model.methods, model.citations) if model else (f"the {label}", ())
    factors = (
        " and ".join(ev.factors)
        if ev.factors
        else label.removeprefix("OLS on ").replace(" + ", " and ")
    )
    return text.format(market=ev.market, factors=factors), cites


def _methods(
    source: Any, tests: pd.DataFrame | None, has_value: bool
) -> tuple[list[str], list[str]]:
    """Methods paragraphs (text a researcher can adapt) and the citation keys they use."""
    cited: list[str] = ["mackinlay-1997", "clm-1997"]
    events = source.events
    meta = source.meta
    kind = meta.get("returns", "simple")
    column = meta.get("price_column", "adj_close")
    prices = (
        "split- and dividend-adjusted closing prices"
        if column == "adj_close"
        else "split-adjusted closing prices"
    )
    calendar = str(meta.get("calendar") or f"the sessions of {events[0].market}").removeprefix(
        "sessions of "
    )
    names = [ev.name for ev in events]
    paragraphs = [
        f"We measure the stock-market reaction to {_plural(len(events), 'event')} "
        f"({_names(names)}) with a standard event study (MacKinlay 1997; Campbell, Lo & "
        "MacKinlay 1997, ch. 4). Day 0 is the event date's trading session, or the next "
        "session when the date is not one or the news came after the close; relative days "
        f"count the trading sessions of {calendar}. Returns are daily {kind} returns computed "
        f"from {prices}."
    ]
    groups: dict[tuple, list[int]] = {}
    for i, ev in enumerate(events):
        key = (source.model_labels[i], ev.model, ev.estimation_window, ev.min_estimation_obs)
        groups.setdefault(key, []).append(i)
    sentences = []
    known = getattr(source, "min_obs_known", True)
    models = []
    for (label, _model, _est, _min), members in groups.items():
        clause, cites = _model_clause(events[members[0]], label)
        cited += list(cites)
        cite_text = "; ".join(REFERENCES[c][0].replace(" (", " ").rstrip(")") for c in cites)
        models.append((clause + (f" ({cite_text})" if cite_text else ""), members))
    settings = {(key[2], key[3]) for key in groups}
    if len(settings) == 1:
        est, min_obs = next(iter(settings))
        minimum = (
            f", from at least {min_obs} non-missing returns (firm-events with fewer are left out)"
            if known
            else ""
        )
        sentences.append(
            f"Normal returns are estimated over trading days {fmt_window(est)} relative to day "
            f"0{minimum}."
        )
        if len(models) == 1:
            sentences.append(f"They come from {models[0][0]}.")
        else:
            sentences.append(
                "They come from "
                + "; ".join(
                    f"{clause} for {_names([events[i].name for i in members])}"
                    for clause, members in models
                )
                + "."
            )
    else:
        for (clause, members), key in zip(models, groups, strict=True):
            est, min_obs = key[2], key[3]
            minimum = f" (at least {min_obs} non-missing returns)" if known else ""
            sentences.append(
                f"For {_names([events[i].name for i in members])}, normal returns come from "
                f"{clause}, estimated over trading days {fmt_window(est)} relative to day "
                f"0{minimum}."
            )
    windows: dict[tuple, list[str]] = {}
    for ev in events:
        windows.setdefault((ev.event_window, ev.car_windows), []).append(ev.name)
    if len(windows) == 1:
        (window, cars), _members = next(iter(windows.items()))
        sentences.append(
            "Abnormal returns (AR) are actual minus normal returns over the event window "
            f"{fmt_window(window)}, and cumulative abnormal returns (CAR) sum them over "
            f"{_join([fmt_window(w) for w in cars])}."
        )
    elif len({window for window, _cars in windows}) == 1:
        window = next(iter(windows))[0]
        sentences.append(
            "Abnormal returns (AR) are actual minus normal returns over the event window "
            f"{fmt_window(window)}, and cumulative abnormal returns (CAR) sum them over "
            + "; and over ".join(
                f"{_join([fmt_window(w) for w in cars])} for {_names(members)}"
                for (_window, cars), members in windows.items()
            )
            + "."
        )
    else:
        sentences.append(
            "Abnormal returns (AR) are actual minus normal returns over the event window, and "
            "cumulative abnormal returns (CAR) sum them over the CAR windows: "
            + "; ".join(
                f"for {_names(members)}, event window {fmt_window(window)} and CAR windows "
                f"{_join([fmt_window(w) for w in cars])}"
                for (window, cars), members in windows.items()
            )
            + "."
        )
    paragraphs.append(" ".join(sentences))
    inference = (
        "The standard error of each AR and CAR includes the prediction error of the estimated "
        "parameters (Campbell, Lo & MacKinlay 1997, eqs. 4.4.9 and 4.4.14), and their t-statistics "
        "use Student's t with the model's residual degrees of freedom. Average abnormal returns "
        "(AAR) and cumulative average abnormal returns (CAAR) are tested with the cross-sectional "
        "t-test (Brown & Warner 1985)"
    )
    cited.append("brown-warner-1985")
    if tests is not None and len(tests):
        written = set(tests["test"])
        # the cross-sectional t is named first, in the sentence above
        present = [t for t in TESTS[1:] if t.name in written]
        if present:
            phrases = [t.methods for t in present]
            inference += " and, as robustness checks, with " + (
                phrases[0]
                if len(phrases) == 1
                else "; ".join(phrases[:-1]) + "; and " + phrases[-1]
            )
            if len(events) > 1 and "all" in set(tests["event"]):
                inference += (
                    ". The pooled tests take the firm-events of all events together, aligned by "
                    "relative day"
                )
            for t in present:
                cited += list(t.citations)
    inference += (
        ". All p-values are two-sided; ***, ** and * mark significance at the 1%, 5% and 10% "
        "levels."
    )
    paragraphs.append(inference)
    if has_value:
        paragraphs.append(
            "Dollar effects: a firm's market value on day −1 is its unadjusted close times the "
            "latest shares outstanding reported on or before the event date (no look-ahead). "
            "The raw change over a window is that share count times the change in the close; "
            "the abnormal change is the sum over the window of each day's abnormal return times "
            "the previous day's market value."
        )
    if any(ev.bhar_windows for ev in events):
        paragraphs.append(
            "Buy-and-hold abnormal returns (BHAR) compound the actual and the normal returns "
            "over the window and take the difference (Barber & Lyon 1997)."
        )
        cited.append("barber-lyon-1997")
    return paragraphs, list(dict.fromkeys(cited))


def _headline(tables: StudyTables, max_events: int) -> list[str]:
    """A sentence per event: the day-0 AAR, the widest CAR window's CAAR, the dollar change."""
    source = tables.source
    out = []
    for i, ev in enumerate(source.events[:max_events]):
        parts = []
        aar = tables.aar.get(ev.name)
        if aar is not None:
            day0 = aar[aar["rel_day"] == 0]
            if len(day0):
                r = day0.iloc[0]
                parts.append(
                    f"average abnormal return on day 0 {fmt_pct(r['aar'])} (t = {fmt_num(r['t'])}, "
                    f"p = {fmt_p(r['p'])}, N = {int(r['n'])})"
                )
        caar = tables.caar.get(ev.name)
        multi = [w for w in ev.car_windows if w[0] != w[1]]
        if caar is not None and multi:
            widest = max(multi, key=lambda w: w[1] - w[0])
            row = caar[(caar["start"] == widest[0]) & (caar["end"] == widest[1])]
            if len(row):
                r = row.iloc[0]
                parts.append(f"CAAR{fmt_window(widest)} {fmt_pct(r['caar'])} (p = {fmt_p(r['p'])})")
        val = tables.valuation.get(ev.name)
        if val is not None:
            w = (0, 0) if (0, 0) in ev.car_windows else tuple(ev.car_windows[0])
            sub = val[(val["start"] == w[0]) & (val["end"] == w[1])]
            have = sub["raw_dollar_change"].notna()
            if have.any():
                when = "on day 0" if w == (0, 0) else f"over {fmt_window(w)}"
                parts.append(
                    f"market value {fmt_money(sub.loc[have, 'raw_dollar_change'].sum())} {when} "
                    f"across the {_plural(int(have.sum()), 'stock')} with a share count"
                )
        day0 = pd.Timestamp(source.day0_dates[i]).date().isoformat()
        lead = f"{ev.name} (day 0 {day0}, {_plural(len(ev.tickers), 'stock')})"
        out.append(lead + (": " + "; ".join(parts) + "." if parts else ": no results."))
    return out


def _sources(source: Any) -> list[tuple[str, str]]:
    meta = source.meta
    out = []
    for key, label in _META_LABELS:
        value = meta.get(key)
        if value in (None, "", [], {}):
            continue
        if key == "factors_sha256":
            value = str(value)[:16] + "…"
        elif key == "price_column":
            value = {
                "adj_close": "adj_close (split- and dividend-adjusted)",
                "close": "close (split-adjusted)",
            }.get(str(value), str(value))
        out.append((label, str(value)))
    if meta.get("data_start") and meta.get("data_end"):
        out.append(("Data requested", f"{meta['data_start']} to {meta['data_end']}"))
    return out


def _data_notes(source: Any, quality: pd.DataFrame | None) -> list[str]:
    notes = []
    failures = source.meta.get("fetch_failures") or {}
    if isinstance(failures, dict):
        for ticker, why in failures.items():
            notes.append(f"No prices for {ticker}, left out of the study: {why}.")
    skipped = source.skipped_frame()
    n_skipped = 0 if skipped is None else len(skipped)
    n_firm_events = sum(len(ev.tickers) for ev in source.events)
    notes.append(
        f"{n_firm_events - n_skipped} of {_plural(n_firm_events, 'firm-event')} fitted"
        + (f"; {n_skipped} skipped (listed below)." if n_skipped else ".")
    )
    if quality is None:
        notes.append("No data-quality checks in this results folder (no data_quality.csv).")
    elif len(quality):
        flags = quality["flags"].fillna("").astype(str) if "flags" in quality else None
        flagged = 0 if flags is None else int((flags != "").sum())
        notes.append(
            f"Data-quality checks: {flagged} of {_plural(len(quality), 'firm-event')} flagged"
            + (" (listed below)." if flagged else ", no problems found.")
        )
    return notes


# ----------------------------------------------------------------------------- the context
@dataclass
class EventSection:
    """One event's part of the report."""

    name: str
    anchor: str
    facts: list[tuple[str, str]]
    tables: list[Table]
    figures: list[ReportFigure]


def report_context(
    source: Any,
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
    by_event: dict[str, list[ReportFigure]] = {}
    study_figures = []
    for item in figures:
        if item.event is None:
            study_figures.append(item)
        else:
            by_event.setdefault(item.event, []).append(item)
    number = 0
    for item in study_figures + [
        f for ev in source.events[:max_events] for f in by_event.get(ev.name, [])
    ]:
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
    methods, cited = _methods(source, tests, has_value)
    if tests is not None and len(tests) and battery:
        for test in dict.fromkeys(tests["test"]):
            entry = registry.spec(str(test))
            cited += list(entry.citations if entry else ())
    references = sorted({REFERENCES[k][1] for k in cited if k in REFERENCES})
    summary, study = tables.caar_all(), tables.study()
    skipped, flags = tables.skipped(), tables.quality_flags()
    ordered = [summary, study, skipped, flags]
    ordered += [t for s in sections for t in s.tables] + battery
    for number, table in enumerate((t for t in ordered if t is not None), start=1):
        table.number = number
    toc = [("summary", "Summary"), ("study", "Study"), ("data", "Data")]
    if study_figures:
        toc.append(("overview", "Overview charts"))
    toc += [(s.anchor, s.name) for s in sections]
    toc += [("tests", "Test battery"), ("methods", "Methods"), ("references", "References")]
    return {
        "title": source.title,
        "generated": generated or dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "version": __version__,
        "headline": _headline(tables, max_events),
        "toc": toc,
        "study": study,
        "caar_all": summary,
        "sources": _sources(source),
        "data_notes": _data_notes(source, quality),
        "skipped": skipped,
        "quality": flags,
        "events": sections,
        "hidden_events": max(0, len(source.events) - max_events),
        "study_figures": study_figures,
        "battery": battery,
        "battery_missing": None
        if tests is not None
        else "The test battery is not in this results folder (no tests.csv).",
        "methods": methods,
        "references": references,
    }


# ----------------------------------------------------------------------------- rendering
def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("eventstudy.output", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = md_escape
    return env


def render_html(context: dict[str, Any]) -> str:
    """The self-contained HTML report."""
    return _environment().get_template("report.html.j2").render(**context)


def render_markdown(context: dict[str, Any]) -> str:
    """The Markdown report (figures referenced as ``figures/<stem>.png``)."""
    return _environment().get_template("report.md.j2").render(**context)


# ----------------------------------------------------------------------------- build
def build_report(
    results_dir: Path | str,
    figures_dir: Path | str | None = None,
    *,
    results: Any = None,
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
    if figures_dir is None:
        default = results_dir / "figures"
        figures_dir = default if default.is_dir() else None
    figures_dir = Path(figures_dir) if figures_dir is not None else None
    tests = _optional_frame(source, stored, "tests_frame")
    quality = _optional_frame(source, stored, "quality_frame")
    out = Path(out_dir) if out_dir is not None else results_dir / "report"

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # e.g. glyph warnings: not the user's doing
        items = _collect_figures(
            source, figures_dir, fresh_after, include=figures, dpi=dpi, max_events=max_events
        )
    context = report_context(source, items, tests, quality, max_events)
    html_text = render_html(context)
    md_text = render_markdown(context)
    study_tables = StudyTables(source, tests, quality)

    with staged(out, last=("report.html",), mode=0o644, what="the report") as stage:
        (stage / "report.html").write_text(html_text, encoding="utf-8")
        (stage / "report.md").write_text(md_text, encoding="utf-8")
        shown = [f for f in items if f.png is not None]
        if shown:
            (stage / "figures").mkdir()
            for item in shown:
                (stage / "figures" / f"{item.stem}.png").write_bytes(item.png or b"")
        if tables:
            all_tables = study_tables.all_tables(max_events)
            (stage / "tables.tex").write_text(
                latex_document(all_tables, str(source.title)), encoding="utf-8"
            )
            write_xlsx(xlsx_sheets(source, tests, quality), stage / "tables.xlsx")
    return out / "report.html", out / "report.md"


def _optional_frame(source: Any, stored: StoredResults, method: str) -> pd.DataFrame | None:
    """``tests_frame`` (the battery) or ``quality_frame`` (data-quality checks): from the
    in-memory results when they have the method, else from the results folder's file
    (``tests.csv``, ``data_quality.csv``); None when neither has it."""
    if source is not stored and hasattr(source, method):
        frame = getattr(source, method)()
        if frame is not None:
            return frame
    return getattr(stored, method)()
