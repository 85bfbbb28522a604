"""The report's prose, as plain text (the templates escape it): the Methods section (paragraphs a
researcher can adapt, with the citation keys they use) and the reference list, the headline
sentence of each event, the data sources and the notes on the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from eventstudy.estimation.models import MODELS
from eventstudy.inference import registry
from eventstudy.inference.registry import BHAR_TESTS, BOOTSTRAP_TESTS, TESTS
from eventstudy.output.format import (
    adjusted_note,
    fmt_num,
    fmt_p,
    fmt_pct,
    fmt_window,
)
from eventstudy.output.measure_data import measured_events, model_words, study_measures
from eventstudy.references import REFERENCES
from eventstudy.study import POOLED

if TYPE_CHECKING:
    from eventstudy.estimation.measures import MeasureSpec
    from eventstudy.output.source import ResultSource
    from eventstudy.output.tables import StudyTables
    from eventstudy.study import ResolvedEvent

__all__ = [
    "data_notes",
    "data_sources",
    "headline",
    "measure_sentence",
    "methods_text",
    "reference_list",
]

#: The data sources the report names, from the results' ``meta`` (key, label).
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


def methods_text(
    source: ResultSource, tests: pd.DataFrame | None, has_value: bool
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
            if len(events) > 1 and POOLED in set(tests["event"]):
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
    if tests is not None and len(tests):
        booted = [t for t in (*BOOTSTRAP_TESTS, *BHAR_TESTS) if t.methods and t.name in written]
        if booted:
            boot = dict(source.meta.get("bootstrap") or {})
            how = (
                f" ({int(boot['reps']):,} replications, seed {int(boot['seed'])})"
                if {"reps", "seed"} <= set(boot)
                else ""
            )
            inference += (
                " Bootstrap p-values" + how + " are reported for "
                + "; ".join(t.methods for t in booted)
                + "."
            )
            for t in booted:
                cited += list(t.citations)
    methods = dict.fromkeys(ev.multiple_testing for ev in events)
    for method in methods:
        note = adjusted_note(method)
        if note:
            inference += " " + note
            cited.append("holm-1979" if method == "holm" else "benjamini-hochberg-1995")
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
        benchmarks = {
            "model": "the normal returns",
            "market": "the market index's returns",
            "matched": "each firm's matched control firm's returns",
            "portfolio": "an equal-weighted reference portfolio's returns",
        }
        used = [benchmarks[k] for k in dict.fromkeys(ev.bhar_benchmark for ev in events)]
        text = (
            "Buy-and-hold abnormal returns (BHAR) compound the actual returns and "
            f"{' or '.join(used)} over the window and take the difference (Barber & Lyon 1997)."
        )
        if any(ev.bhar_resamples for ev in events):
            text += (
                " Mean BHARs are also tested with the bootstrapped skewness-adjusted t and with "
                "empirical p-values from pseudo-portfolios (Lyon, Barber & Tsai 1999)."
            )
            cited.append("lyon-1999")
        paragraphs.append(text)
        cited.append("barber-lyon-1997")
    for spec in study_measures(source):
        sentence, keys = measure_sentence(source, spec)
        paragraphs.append(sentence)
        cited += keys
    portfolio = getattr(source, "calendar_time_frame", lambda: None)()
    if portfolio is not None and len(portfolio):
        row = portfolio.iloc[0]
        paragraphs.append(
            f"Calendar-time portfolio (Jaffe 1974; Mandelker 1974; Fama 1998; Mitchell & "
            f"Stafford 2000): each {'day' if row['frequency'] == 'daily' else 'month'} a "
            f"{row['weighting']}-weighted portfolio holds the firms whose event lies within the "
            f"holding horizon; its excess return is regressed on the {row['model']} model's "
            f"factors by OLS with {_robust_errors(source)}, and the intercept (alpha) is the mean "
            "abnormal return per period (docs/long_horizon.md)."
        )
        cited += ["jaffe-1974", "mandelker-1974", "fama-1998", "mitchell-stafford-2000"]
        cited += ["white-1980"] if "White" in paragraphs[-1] else ["newey-west-1987"]
    return paragraphs, list(dict.fromkeys(cited))


def measure_sentence(source: ResultSource, spec: MeasureSpec) -> tuple[str, list[str]]:
    """The methods sentence of a measure beside returns (its registry phrase with the model in
    words, :data:`~eventstudy.estimation.measures.MODEL_WORDS`) and the citation keys it uses."""
    events = measured_events(source, spec.name)
    groups: dict[str, list[str]] = {}
    for ev in events:
        groups.setdefault(model_words(ev, spec.name), []).append(ev.name)
    if len(groups) == 1:
        words = next(iter(groups))
    else:
        words = "; ".join(f"{w} for {_names(names)}" for w, names in groups.items())
    clause = spec.methods.format(volume_model=words, volatility_model=words)
    which = "" if len(events) == len(source.events) else f" for {_names([e.name for e in events])}"
    sentence = f"Beside abnormal returns, we measure{which} {clause}."
    named = [k for k, (short, _full) in REFERENCES.items() if _in_text(short, sentence)]
    return sentence, list(dict.fromkeys([*spec.citations, *named]))


def _in_text(short: str, text: str) -> bool:
    """Whether a short citation, ``Bollerslev (1986)``, is cited in ``text`` (as
    ``Bollerslev 1986``)."""
    return short.replace(" (", " ").rstrip(")") in text


def _robust_errors(source: ResultSource) -> str:
    """The calendar-time regression's standard errors in words (Newey-West unless the run
    asked for HC1)."""
    result = getattr(source, "calendar_time_result", lambda: None)()
    info = getattr(source, "calendar_time_info", None) or {}
    if result is not None:
        info = {"errors": result.errors, "hac_lags": result.lags}
    if info.get("errors") == "hc1":
        return "White's (1980) heteroskedasticity-consistent (HC1) standard errors"
    lags = f" with {info['hac_lags']} lags" if info.get("hac_lags") is not None else ""
    return f"Newey & West's (1987) autocorrelation-consistent standard errors{lags}"


def headline(tables: StudyTables, max_events: int) -> list[str]:
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
                    f"market value {tables.money(sub.loc[have, 'raw_dollar_change'].sum())} "
                    f"{when} "
                    f"across the {_plural(int(have.sum()), 'stock')} with a share count"
                )
        day0 = pd.Timestamp(source.day0_dates[i]).date().isoformat()
        lead = f"{ev.name} (day 0 {day0}, {_plural(len(ev.tickers), 'stock')})"
        out.append(lead + (": " + "; ".join(parts) + "." if parts else ": no results."))
    return out


def data_sources(source: ResultSource) -> list[tuple[str, str]]:
    """(label, value) pairs of the data the study used, from the results' ``meta``."""
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


def data_notes(source: ResultSource, quality: pd.DataFrame | None) -> list[str]:
    """What the data section says: prices not found, firm-events fitted and skipped, the
    data-quality checks."""
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


def reference_list(cited: Sequence[str], tests: pd.DataFrame | None) -> list[str]:
    """The references, sorted: those of the citation keys ``cited`` and of every test in
    ``tests`` (the battery shown; None when it is not)."""
    keys = list(cited)
    if tests is not None and len(tests):
        for test in dict.fromkeys(tests["test"]):
            entry = registry.spec(str(test))
            keys += list(entry.citations if entry else ())
    return sorted({REFERENCES[k][1] for k in keys if k in REFERENCES})
