"""Text and JSON summaries of results (the terminal table and ``summary.json``)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import pandas as pd

from eventstudy.inference import significance_mark

if TYPE_CHECKING:
    from eventstudy.results import EventStudyResults


def _pct(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{100 * x:+.2f}%"


def _money(x: float) -> str:
    if not math.isfinite(x):
        return "n/a"
    sign = "-" if x < 0 else "+"
    x = abs(x)
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6)):
        if x >= size:
            return f"{sign}${x / size:.1f}{unit}"
    return f"{sign}${x:,.0f}"


def _num(x: float, fmt: str = "{:.2f}") -> str:
    return "n/a" if not math.isfinite(x) else fmt.format(x)


def _clean(value: Any) -> Any:
    """JSON-safe scalars: NaN becomes None, numpy types become Python types."""
    if isinstance(value, float | int) and not isinstance(value, bool):
        return value if math.isfinite(value) else None
    if hasattr(value, "item"):
        return _clean(value.item())
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _clean(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _index(frame: pd.DataFrame, key: list[str]) -> dict[tuple, dict[str, Any]]:
    """Rows of ``frame`` as dicts, keyed by the values of the ``key`` columns."""
    return {tuple(row[k] for k in key): row for row in frame.to_dict("records")}


def text_summary(results: EventStudyResults) -> str:
    """The terminal summary: per event, each ticker's day-0 return, AR, CARs and dollar change."""
    ar = results.ar_frame()
    car = results.car_frame()
    val = results.valuation_frame()
    caar = results.caar_frame()
    aar = results.aar_frame()
    key = ["event", "ticker", "start", "end"]
    car_at = _index(car, key)
    value_at = _index(val, key)
    lines = [results.title, "=" * len(results.title)]
    stars = "significance (two-sided): *** p<0.01, ** p<0.05, * p<0.10"
    for i, e in enumerate(results.events):
        day0 = results.day0_dates[i]
        lines += [
            "",
            f"{e.name}: day 0 = {day0:%Y-%m-%d} ({e.model} model vs {e.market}, "
            f"estimation [{e.estimation_window[0]}, {e.estimation_window[1]}], "
            f"event window [{e.event_window[0]}, {e.event_window[1]}])",
        ]
        windows = list(e.car_windows)
        header = (
            f"{'ticker':<8}{'return':>9}{'AR':>13}"
            + "".join(f"{f'CAR[{a},{b}]':>15}" for a, b in windows)
            + f"{'$ change day 0':>17}"
        )
        lines += [header, "-" * len(header)]
        day0_rows = ar[(ar["event"] == e.name) & (ar["rel_day"] == 0)].set_index("ticker")
        for t in e.tickers:
            if t not in day0_rows.index:
                continue
            r = day0_rows.loc[t]
            cells = f"{t:<8}{_pct(r['ret']):>9}{_pct(r['ar']) + significance_mark(r['ar_p']):>13}"
            for a, b in windows:
                c = car_at.get((e.name, t, a, b))
                mark = "n/a" if c is None else _pct(c["car"]) + significance_mark(c["p"])
                cells += f"{mark:>15}"
            v = value_at.get((e.name, t, 0, 0))
            cells += f"{'n/a' if v is None else _money(v['raw_dollar_change']):>17}"
            lines.append(cells)
        a0 = aar[(aar["event"] == e.name) & (aar["rel_day"] == 0)]
        if len(a0):
            r = a0.iloc[0]
            lines.append(
                f"{'average':<8}{'':>9}{_pct(r['aar']) + significance_mark(r['p']):>13}"
                + "".join(
                    f"{_pct(c['caar']) + significance_mark(c['p']):>15}"
                    for _, c in caar[caar["event"] == e.name].iterrows()
                )
            )
            lines.append(
                f"  cross-sectional t (N={int(r['n'])}): day-0 AAR t = {_num(r['t'])}, "
                f"p = {_num(r['p'], '{:.3g}')}"
            )
        ev_val = val[(val["event"] == e.name) & (val["start"] == 0) & (val["end"] == 0)]
        total = ev_val["raw_dollar_change"].sum(min_count=1)
        total_ab = ev_val["abnormal_dollar_change"].sum(min_count=1)
        missing = ev_val.loc[ev_val["raw_dollar_change"].isna(), "ticker"].tolist()
        if math.isfinite(total):
            lines.append(
                f"  day-0 market value change: {_money(total)} raw, {_money(total_ab)} abnormal"
                + (f" (n/a for {', '.join(missing)}: see valuation.csv notes)" if missing else "")
            )
    skipped = results.skipped_frame()
    if len(skipped):
        lines += ["", "Skipped firm-events:"]
        lines += [f"  {r.event} / {r.ticker}: {r.reason}" for r in skipped.itertuples()]
    lines += ["", stars]
    return "\n".join(lines)


def summary_dict(results: EventStudyResults) -> dict[str, Any]:
    """What ``summary.json`` holds: the study, per-event day-0 and CAR results, skipped firms."""
    ar, car, val = results.ar_frame(), results.car_frame(), results.valuation_frame()
    events = []
    for i, e in enumerate(results.events):
        events.append(
            {
                "name": e.name,
                "date": e.date.isoformat(),
                "day0_date": results.day0_dates[i].isoformat(),
                "timing": e.timing,
                "market": e.market,
                "model": e.model,
                "estimation_window": list(e.estimation_window),
                "event_window": list(e.event_window),
                "car_windows": [list(w) for w in e.car_windows],
                "tickers": list(e.tickers),
                "day0_results": _records(
                    ar.loc[(ar["event"] == e.name) & (ar["rel_day"] == 0)].drop(columns="event")
                ),
                "car": _records(car.loc[car["event"] == e.name].drop(columns="event")),
                "aar": _records(
                    results.aar_frame().query("event == @e.name").drop(columns="event")
                ),
                "caar": _records(
                    results.caar_frame().query("event == @e.name").drop(columns="event")
                ),
                "valuation": _records(val.loc[val["event"] == e.name].drop(columns="event")),
            }
        )
    return {
        "study": results.title,
        "meta": {k: _clean(v) for k, v in results.meta.items()},
        "events": events,
        "skipped": _records(results.skipped_frame()),
    }
