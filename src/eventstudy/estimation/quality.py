"""Data quality per firm-event: what the prices behind each estimate look like.

:func:`data_quality` returns one row per firm-event (study order), computed from the results'
returns panel with prefix sums and window gathers, so it stays fast for 100k firm-events:

``n_obs``, ``min_obs``
    returns the fit used (firm and regressors present) and the minimum the study asks for
    (``min_estimation_obs``: a firm-event below it is skipped and listed in ``skipped.csv``).
``est_days``, ``est_missing``, ``event_days``, ``event_missing``
    sessions in the estimation and event windows and how many of them have no return for the
    firm (days before the start of the data count as missing).
``zero_return_runs``
    the longest run of returns that are exactly zero in either window: a price that does not
    move for days is usually stale (no trades, or a vendor carrying the last price forward).
``extreme_returns``
    returns with ``|r| > extreme`` (default 25%; log returns are converted to simple ones).
``nonpositive_prices``
    unadjusted closes ``<= 0`` on the windows' sessions (NA without unadjusted closes). A
    non-positive price in the study's own price column stops the run before this point.
``suspected_split``
    one-day moves that look like an unadjusted split or reverse split: ``1 + r`` within
    ``split_tolerance`` (in log terms; default 0.05) of 1/2, 1/3, 1/4, 1/5, 1/10, 1/20, 2, 3, 4, 5,
    10 or 20, that neither undo the previous day's move nor are undone by the next day (a bad
    print reverts, a split does not). 3-for-2 ratios (-33%, +50%) are left out: genuine news moves
    of that size are too common. A real crash of about -50% is flagged too: it is a suspicion.
``flags``
    ``;``-separated: ``skipped``, ``est_missing`` (more than ``missing_share`` of the estimation
    window), ``event_missing`` (any), ``stale`` (a zero run of ``stale_run`` or more),
    ``extreme``, ``nonpositive``, ``suspected_split``.

Firm-events left out before the fit for want of prices (``StudyFit.dropped``) have a row too:
``n_obs`` 0, every return missing, flagged ``skipped``.

The missing-data policy is the panel's (docs/conventions.md, docs/data.md): a missing price makes
that session's and the next session's returns missing, no multi-day return is formed, and missing
returns are left out of the fit and the sums, never filled.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from eventstudy.data.panel import ReturnsPanel
    from eventstudy.estimation.fit import StudyFit

QUALITY_COLUMNS = [
    "event",
    "ticker",
    "n_obs",
    "min_obs",
    "est_days",
    "est_missing",
    "event_days",
    "event_missing",
    "zero_return_runs",
    "extreme_returns",
    "nonpositive_prices",
    "suspected_split",
    "flags",
]

#: Price ratios (after / before) of the splits and reverse splits looked for.
SPLIT_RATIOS = (1 / 2, 1 / 3, 1 / 4, 1 / 5, 1 / 10, 1 / 20, 2.0, 3.0, 4.0, 5.0, 10.0, 20.0)

# Firm-events per block when gathering windows: bounds memory at ~ block x window x 4 bytes.
_BLOCK = 8192


def _prefix(mask: np.ndarray) -> np.ndarray:
    """Row prefix sums with a leading zero row: ``out[b] - out[a]`` counts rows ``a .. b-1``."""
    out = np.zeros((mask.shape[0] + 1, mask.shape[1]), dtype=np.int32)
    np.cumsum(mask, axis=0, out=out[1:])
    return out


def _count(prefix: np.ndarray, col: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Per firm-event, true cells of column ``col`` in rows ``lo .. hi`` (clipped to the panel)."""
    t = prefix.shape[0] - 1
    a = np.clip(lo, 0, t)
    b = np.clip(hi + 1, 0, t)
    return np.where(b > a, prefix[b, col] - prefix[a, col], 0)


def _over(
    prefix: np.ndarray, col: np.ndarray, spans: list[tuple[np.ndarray, np.ndarray]]
) -> np.ndarray:
    """True cells over all the row spans (disjoint) of each firm-event."""
    counts = [_count(prefix, col, lo, hi) for lo, hi in spans]
    total = counts[0]
    for more in counts[1:]:
        total = total + more
    return total


def _run_lengths(zero: np.ndarray) -> np.ndarray:
    """``run[t, j]``: length of the run of true cells of column j ending at row t (0 if false)."""
    run = np.zeros(zero.shape, dtype=np.int32)
    if len(zero):
        run[0] = zero[0]
        for t in range(1, len(zero)):  # T steps over N columns at once
            run[t] = np.where(zero[t], run[t - 1] + 1, 0)
    return run


def _longest(run: np.ndarray, col: np.ndarray, lo: np.ndarray, length: int) -> np.ndarray:
    """Longest run inside rows ``lo .. lo + length - 1`` of each firm-event's column (a run that
    began before the window counts only its days inside)."""
    out = np.zeros(len(col), dtype=np.int32)
    if length <= 0:
        return out
    offsets = np.arange(length)
    t = run.shape[0]
    for block in _blocks(len(col)):
        rows = lo[block, None] + offsets
        inside = (rows >= 0) & (rows < t)
        values = run[np.clip(rows, 0, t - 1), col[block, None]]
        values = np.where(inside, np.minimum(values, offsets + 1), 0)
        out[block] = values.max(axis=1)
    return out


def _blocks(n: int) -> Iterator[slice]:
    for start in range(0, n, _BLOCK):
        yield slice(start, min(start + _BLOCK, n))


def _split_like(log_ret: np.ndarray, tolerance: float) -> np.ndarray:
    """Cells whose one-day log return is near a split ratio and is not a reversal."""
    logs = np.log(np.asarray(SPLIT_RATIOS))
    with np.errstate(invalid="ignore"):
        # Only moves at least as large as the smallest ratio's can be near one: look at those.
        size = np.abs(log_ret)
        candidates = np.flatnonzero(size > np.abs(logs).min() - tolerance)
        near = np.zeros(log_ret.shape, dtype=bool)
        moves = log_ret.ravel()[candidates]
        hit = (np.abs(moves[:, None] - logs[None, :]) < tolerance).any(axis=1)
        near.ravel()[candidates[hit]] = True
        two_day = log_ret[1:] + log_ret[:-1]  # row t: days t and t+1
        reverts = np.abs(two_day) < tolerance
    undone_next = np.zeros_like(near)
    undone_next[:-1] = reverts
    undoes_previous = np.zeros_like(near)
    undoes_previous[1:] = reverts
    return near & ~undone_next & ~undoes_previous


def data_quality(
    fit: StudyFit,
    panel: ReturnsPanel,
    close: pd.DataFrame | None = None,
    *,
    log_returns: bool = False,
    extreme: float = 0.25,
    stale_run: int = 5,
    missing_share: float = 0.10,
    split_tolerance: float = 0.05,
) -> pd.DataFrame:
    """One row per firm-event with the checks of the module docstring (:data:`QUALITY_COLUMNS`),
    in study order. ``close``: unadjusted closes (dates x tickers) for the non-positive price
    check; ``log_returns``: the panel holds log returns."""
    used = sorted({int(c) for b in fit.batches for c in b.fit.col})
    dropped = _dropped(fit, stale_run, missing_share)
    if not used:
        return dropped if len(dropped) else pd.DataFrame(columns=QUALITY_COLUMNS)
    # Work on the columns firm-events use only; `remap` turns panel columns into those.
    remap = np.full(len(panel.tickers), -1, dtype=np.intp)
    remap[used] = np.arange(len(used))
    values = panel.values[:, used]
    finite = np.isfinite(values)
    if log_returns:
        log_ret, simple = values, np.expm1(values)
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            log_ret, simple = np.log1p(values), values
    with np.errstate(invalid="ignore"):
        extreme_cells = np.abs(simple) > extreme
    have = _prefix(finite)
    extremes = _prefix(extreme_cells)
    splits = _prefix(_split_like(log_ret, split_tolerance))
    zero = values == 0.0
    zeros = _prefix(zero)
    runs = _run_lengths(zero) if zero.any() else None  # a step per session: only if needed

    close_prefix = close_known = None
    if close is not None:
        names = [panel.tickers[c] for c in used]
        closes = close.reindex(index=panel.dates, columns=names)
        close_known = np.array([n in close.columns for n in names], dtype=bool)
        with np.errstate(invalid="ignore"):
            close_prefix = _prefix(closes.to_numpy(dtype=float) <= 0)

    names_of_events = fit.event_names
    min_obs_of_events = np.array([e.min_estimation_obs for e in fit.events], dtype=np.int64)
    parts, orders = [], []
    for b in fit.batches:
        f = b.fit
        col = remap[np.asarray(f.col, dtype=np.intp)]
        day0 = np.asarray(f.day0, dtype=np.intp)
        (e0, e1), (v0, v1) = f.estimation_window, f.event_window
        est_lo, est_hi, ev_lo, ev_hi = day0 + e0, day0 + e1, day0 + v0, day0 + v1
        est_days, ev_days = e1 - e0 + 1, v1 - v0 + 1
        disjoint = e1 < v0 or v1 < e0
        # The checks look at both windows (the days between them are in neither).
        spans = (
            [(est_lo, est_hi), (ev_lo, ev_hi)]
            if disjoint
            else [(np.minimum(est_lo, ev_lo), np.maximum(est_hi, ev_hi))]
        )

        # Runs are looked for only where the windows hold a zero return (few firm-events).
        longest = np.zeros(len(col), dtype=np.int32)
        some = np.flatnonzero(_over(zeros, col, spans) > 0)
        if len(some) and runs is not None:
            longest[some] = np.maximum.reduce(
                [
                    _longest(runs, col[some], lo[some], int(hi[0] - lo[0]) + 1)
                    for lo, hi in spans
                ]
            )
        frame = pd.DataFrame(
            {
                "event": names_of_events[b.event],
                "ticker": np.asarray(b.ticker, dtype=object),
                "n_obs": np.asarray(f.n_obs, dtype=np.int64),
                "min_obs": min_obs_of_events[b.event],
                "est_days": est_days,
                "est_missing": est_days - _count(have, col, est_lo, est_hi),
                "event_days": ev_days,
                "event_missing": ev_days - _count(have, col, ev_lo, ev_hi),
                "zero_return_runs": longest,
                "extreme_returns": _over(extremes, col, spans),
                "nonpositive_prices": np.nan,
                "suspected_split": _over(splits, col, spans),
            }
        )
        if close_prefix is not None and close_known is not None:
            counts = _over(close_prefix, col, spans).astype(float)
            frame["nonpositive_prices"] = np.where(close_known[col], counts, np.nan)
        frame["flags"] = _flags(frame, ~f.fitted, stale_run, missing_share)
        parts.append(frame)
        orders.append(np.asarray(b.order))
    out = pd.concat(parts, ignore_index=True)
    out = out.iloc[np.argsort(np.concatenate(orders), kind="stable")].reset_index(drop=True)
    if len(dropped):
        out = pd.concat([out, dropped], ignore_index=True)
    out["nonpositive_prices"] = out["nonpositive_prices"].astype("Int64")  # NA: no closes
    return out[QUALITY_COLUMNS]


def _dropped(fit: StudyFit, stale_run: int, missing_share: float) -> pd.DataFrame:
    """Rows for the firm-events left out before the fit for want of data (``fit.dropped``):
    every return missing, flagged ``skipped`` (the reason is in skipped.csv)."""
    if not fit.dropped:
        return pd.DataFrame(columns=QUALITY_COLUMNS)
    events = {e.name: e for e in fit.events}
    rows = []
    for name, ticker, _reason in fit.dropped:
        e = events[name]
        est_days = e.estimation_window[1] - e.estimation_window[0] + 1
        ev_days = e.event_window[1] - e.event_window[0] + 1
        rows.append((name, ticker, 0, e.min_estimation_obs, est_days, est_days, ev_days, ev_days))
    frame = pd.DataFrame(rows, columns=QUALITY_COLUMNS[:8])
    frame[["zero_return_runs", "extreme_returns", "suspected_split"]] = 0
    frame["nonpositive_prices"] = np.nan
    frame["flags"] = _flags(frame, np.ones(len(frame), dtype=bool), stale_run, missing_share)
    return frame[QUALITY_COLUMNS]


def _flags(
    frame: pd.DataFrame, skipped: np.ndarray, stale_run: int, missing_share: float
) -> np.ndarray:
    checks = [
        ("skipped", skipped),
        ("est_missing", frame["est_missing"].to_numpy() > missing_share * frame["est_days"]),
        ("event_missing", frame["event_missing"].to_numpy() > 0),
        ("stale", frame["zero_return_runs"].to_numpy() >= stale_run),
        ("extreme", frame["extreme_returns"].to_numpy() > 0),
        ("nonpositive", frame["nonpositive_prices"].fillna(0).to_numpy() > 0),
        ("suspected_split", frame["suspected_split"].to_numpy() > 0),
    ]
    flags = np.full(len(frame), "", dtype=object)
    for name, hit in checks:
        hit = np.asarray(hit, dtype=bool)
        flags[hit] = np.where(flags[hit] == "", name, flags[hit] + ";" + name)
    return flags


_SUMMARY_LINES = [
    ("skipped", "not fitted (reasons in skipped.csv)"),
    ("est_missing", "many missing estimation-window returns"),
    ("event_missing", "missing event-window returns"),
    ("stale", "runs of zero returns (stale prices?)"),
    ("extreme", "extreme returns"),
    ("nonpositive", "non-positive prices"),
    ("suspected_split", "suspected unadjusted splits"),
]


def quality_summary(frame: pd.DataFrame, examples: int = 3) -> str:
    """A few lines for the terminal: how many firm-events each check flagged, with examples."""
    n = len(frame)
    if n == 0:
        return "Data quality: no firm-events."
    flags = frame["flags"].fillna("").astype(str)
    flagged = int((flags != "").sum())
    if flagged == 0:
        return f"Data quality: {n} firm-events, no problems found."
    lines = [f"Data quality: {flagged} of {n} firm-events flagged (see data_quality.csv)"]
    tokens = flags.str.split(";")
    for name, label in _SUMMARY_LINES:
        hit = tokens.apply(lambda ts, name=name: name in ts).to_numpy()
        count = int(hit.sum())
        if not count:
            continue
        rows = frame.loc[hit].head(examples)
        shown = ", ".join(f"{t} ({e})" for e, t in zip(rows["event"], rows["ticker"], strict=True))
        more = f", +{count - len(rows)} more" if count > len(rows) else ""
        lines.append(f"  {label}: {count} [{shown}{more}]")
    return "\n".join(lines)
