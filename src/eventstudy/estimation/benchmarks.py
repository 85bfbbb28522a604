"""What a buy-and-hold abnormal return compounds against (``bhar_benchmark``, docs/long_horizon.md).

``BHAR = prod(1 + R_it) - prod(1 + B_it)`` over a BHAR window (Barber & Lyon 1997; Lyon, Barber &
Tsai 1999), compounding the days where both returns exist, with ``B_it``:

* ``model`` (the default): the normal-return model's returns (``BatchFit.normal``);
* ``market``: the event's market index (its ``market`` ticker's returns);
* ``matched``: the firm-event's control firm (``matches``: ``event,ticker,match_ticker``);
  a firm-event without a match, or whose match has no returns, has no BHAR;
* ``portfolio``: the equal-weighted portfolio of the event's ``reference_portfolio`` tickers,
  rebalanced daily: each session's mean of the simple returns of those with a return that
  session (none: no benchmark return that session, and the day is not compounded).

:func:`benchmark_returns` gives ``B`` over the event window of a batch's firm-events, in the
panel's kind of return (log returns are averaged as simple returns, then logged again).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from eventstudy.data.panel import ReturnsPanel
from eventstudy.errors import DataError
from eventstudy.estimation.fit import Batch
from eventstudy.study import ResolvedEvent

#: Columns of a ``matches`` file.
MATCH_COLUMNS = ("event", "ticker", "match_ticker")


def read_matches(frame: pd.DataFrame, source: str = "matches") -> dict[tuple[str, str], str]:
    """``(event, ticker) -> match_ticker`` from a frame with :data:`MATCH_COLUMNS`; a firm-event
    matched twice is an error naming it."""
    missing = [c for c in MATCH_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(
            f"{source}: missing column(s) {', '.join(missing)} (event,ticker,match_ticker)"
        )
    out: dict[tuple[str, str], str] = {}
    for event, ticker, match in frame[list(MATCH_COLUMNS)].astype(str).itertuples(index=False):
        key = (event.strip(), ticker.strip())
        if key in out:
            raise DataError(f"{source}: {key[1]} in event {key[0]!r} is matched twice")
        out[key] = match.strip()
    return out


def read_matches_csv(path: str) -> dict[tuple[str, str], str]:
    """:func:`read_matches` of a CSV file (text kept as text: a ticker ``NA`` stays ``NA``)."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise DataError(f"{path}: matches file not found") from None
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataError(f"{path}: cannot read matches file ({exc})") from None
    return read_matches(frame, str(path))


def match_tickers(
    events: Sequence[ResolvedEvent], matches: Mapping[tuple[str, str], str]
) -> list[str]:
    """The match tickers of the events that compound against matched firms (to fetch)."""
    wanted = {e.name for e in events if e.bhar_benchmark == "matched"}
    return list(dict.fromkeys(m for (event, _t), m in matches.items() if event in wanted))


def benchmark_returns(
    panel: ReturnsPanel,
    events: Sequence[ResolvedEvent],
    batch: Batch,
    day0_rows: np.ndarray,
    matches: Mapping[tuple[str, str], str] | None = None,
    log: bool = False,
) -> np.ndarray | None:
    """``B`` (firm-events x event-window days) of the batch's firm-events, or None when every
    event of the batch compounds against its model (``BatchFit.normal`` is then ``B``)."""
    kinds = [events[int(e)].bhar_benchmark for e in batch.event]
    if all(k == "model" for k in kinds):
        return None
    fit = batch.fit
    out = np.array(fit.normal, dtype=float, copy=True)
    rows = day0_rows[batch.event.astype(np.intp)][:, None] + fit.rel_days
    inside = (rows >= 0) & (rows < len(panel.dates))
    rows = np.clip(rows, 0, len(panel.dates) - 1)
    index = {t: j for j, t in enumerate(panel.tickers)}
    portfolios: dict[tuple[str, ...], np.ndarray] = {}
    for k, (e, ticker, kind) in enumerate(zip(batch.event, batch.ticker, kinds, strict=True)):
        if kind == "model":
            continue
        event = events[int(e)]
        series: np.ndarray | None = None
        if kind == "market":
            series = panel.values[:, index[event.market]]
        elif kind == "matched":
            match = (matches or {}).get((event.name, ticker))
            series = panel.values[:, index[match]] if match in index else None
        else:
            key = event.reference_portfolio
            if key not in portfolios:
                portfolios[key] = _equal_weighted(panel, key, index, log)
            series = portfolios[key]
        out[k] = np.nan if series is None else np.where(inside[k], series[rows[k]], np.nan)
    return out


def _equal_weighted(
    panel: ReturnsPanel, tickers: Sequence[str], index: Mapping[str, int], log: bool
) -> np.ndarray:
    columns = [index[t] for t in tickers if t in index]
    if not columns:
        raise DataError(f"reference_portfolio: no returns for any of {', '.join(tickers[:10])}")
    values = panel.values[:, columns]
    simple = np.expm1(values) if log else values
    valid = np.isfinite(simple)
    count = valid.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(valid, simple, 0.0).sum(axis=1) / count
    mean = np.where(count > 0, mean, np.nan)
    return np.log1p(mean) if log else mean
