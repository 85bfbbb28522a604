"""Fitting a study: the firm-events of every event, grouped into batches that share a model,
market and windows, each fitted at once by :mod:`eventstudy.estimation.kernel`.

:func:`fit_batches` returns a :class:`StudyFit`, the estimation stage's output: plain arrays and
small dataclasses that inference, valuation and the quality checks take.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from eventstudy.data.factors import FactorData
from eventstudy.data.panel import ReturnsPanel
from eventstudy.errors import DataError, listed
from eventstudy.estimation.kernel import BatchFit, Design
from eventstudy.estimation.models import get_model
from eventstudy.study import ResolvedEvent

Window = tuple[int, int]
_MARKET_AS_FIRM = " is the market ticker (the regressor), not a firm"


@dataclass
class Batch:
    """One vectorised fit: every firm-event that shares a model, market and windows."""

    fit: BatchFit
    event: np.ndarray  # (n,) index into the results' events
    ticker: list[str]
    order: np.ndarray  # (n,) position of each firm-event in study order
    label: str = ""  # the model, in words


@dataclass
class StudyFit:
    """Every fitted firm-event of a study.

    ``events`` in study order; ``day0_rows`` the panel row of each event's day 0; ``batches`` the
    vectorised fits (a firm-event's study-order position is ``batch.order``); ``dropped`` the
    firm-events left out before fitting, as ``(event, ticker, reason)``."""

    events: list[ResolvedEvent]
    day0_rows: np.ndarray
    batches: list[Batch]
    dropped: list[tuple[str, str, str]] = field(default_factory=list)

    @cached_property
    def event_names(self) -> np.ndarray:
        """Each event's name, as an object array (index it with ``batch.event``)."""
        return np.array([e.name for e in self.events], dtype=object)

    @cached_property
    def event_models(self) -> np.ndarray:
        """Each event's model name, as an object array."""
        return np.array([e.model for e in self.events], dtype=object)

    def windows_of(self, kind: str, batch: Batch) -> dict[Window, np.ndarray]:
        """For each CAR (``kind="car_windows"``) or BHAR (``"bhar_windows"``) window used by the
        batch's events, a mask of the batch's firm-events whose event asks for it."""
        sets: dict[tuple, int] = {}
        ids = np.array(
            [sets.setdefault(getattr(e, kind), len(sets)) for e in self.events], dtype=np.intp
        )
        out: dict[Window, np.ndarray] = {}
        for windows, sid in sets.items():
            for w in windows:
                out.setdefault(w, np.zeros(len(sets), dtype=bool))[sid] = True
        used = ids[batch.event]
        return {w: has[used] for w, has in sorted(out.items()) if has[used].any()}


def fit_batches(
    panel: ReturnsPanel,
    events: Sequence[ResolvedEvent],
    *,
    factors: FactorData | None = None,
    unavailable: Mapping[str, str] | None = None,
    warn: bool = True,
    day0: np.ndarray | None = None,
) -> StudyFit:
    """Fit resolved events on ``panel``: one vectorised batch per distinct configuration.

    ``unavailable`` maps tickers whose data could not be had to the reason (a failed download):
    their firm-events are left out of the fit and listed in :attr:`StudyFit.dropped`, with the
    firm-events that cannot be fitted (:func:`leave_out`); ``warn``: say so in a warning
    (:func:`warn_left_out`). ``day0``: each event's day-0 row, when an earlier fit on the same
    calendar found them (a second measure: no second warning about moved dates)."""
    known = set(panel.tickers)
    for e in events:
        for t in (e.market, *e.factors):
            if t not in known:
                raise DataError(f"event {e.name!r}: no returns for ticker {t}")
    events, dropped = leave_out(events, known, unavailable or {})
    if warn:
        warn_left_out(dropped, stacklevel=4)
    after = np.array([e.timing == "after_close" for e in events], dtype=bool)
    names = [e.name for e in events]
    if day0 is None:
        day0 = _market_day0(panel, events, after, names)
    # Firms on another exchange than the market's: day 0 on their own sessions (docs/global.md).
    own = _own_day0(panel, events, after, names) if panel.blocks else {}

    sizes = np.array([len(e.tickers) for e in events], dtype=np.intp)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])  # study-order index of each event
    groups: dict[tuple, list[int]] = {}
    for i, e in enumerate(events):
        groups.setdefault(e.config_key(), []).append(i)

    batches: list[Batch] = []
    for members in groups.values():
        idx = np.array(members, dtype=np.intp)
        if not sizes[idx].any():
            continue
        first = events[members[0]]
        model = get_model(first.model)
        design = model.design(panel, first, factors)
        home, home_design = panel, design
        if panel.blocks:
            home = panel.market_block()
            home_design = _rows_of(design, slice(0, len(home.dates)))
        _check_regressors(home, home_design, [events[i] for i in members], day0[idx], factors)
        ev = np.repeat(idx, sizes[idx])
        within = np.arange(len(ev)) - np.repeat(np.cumsum(sizes[idx]) - sizes[idx], sizes[idx])
        batch_tickers = [t for i in members for t in events[i].tickers]
        firm_day0 = day0[ev]
        if own:
            pairs = zip(ev, batch_tickers, firm_day0, strict=True)
            firm_day0 = np.array([own.get((int(e), t), d) for e, t, d in pairs], dtype=np.intp)
            _check_blocks(panel, design, [events[int(e)] for e in ev], firm_day0, factors)
        fit = model.fit(panel, first, factors, panel.columns(batch_tickers), firm_day0)
        batches.append(
            Batch(
                fit=fit,
                event=ev,
                ticker=batch_tickers,
                order=offsets[ev] + within,
                label=model.label(first),
            )
        )

    return StudyFit(events=list(events), day0_rows=day0, batches=batches, dropped=dropped)


def require_fitted(
    events: Sequence[ResolvedEvent], batches: Sequence[Batch], dropped: Sequence[tuple]
) -> None:
    """A study in which no firm-event could be fitted is an error that says why (the first few
    reasons), not an empty set of results."""
    if any(b.fit.fitted.any() for b in batches):
        return
    reasons = [(name, t, why) for name, t, why in dropped]
    for b in batches:
        for e, t, why in zip(b.event, b.ticker, b.fit.skip_reason, strict=True):
            reasons.append((events[int(e)].name, t, str(why)))
    shown = listed([f"{name}/{t}: {why}" for name, t, why in reasons], 5, "; ")
    raise DataError(f"no firm-event could be fitted ({len(reasons)} skipped): {shown}")


def leave_out(
    events: Sequence[ResolvedEvent], known: set[str], unavailable: Mapping[str, str]
) -> tuple[list[ResolvedEvent], list[tuple[str, str, str]]]:
    """Events without the firm-events that cannot be fitted, and those as ``(event, ticker,
    reason)``: tickers whose data could not be had (``unavailable``), tickers the panel has no
    returns for (``known`` holds those it has), and the event's market ticker listed among its
    firms (regressed on itself it would have an AR of 0 and dilute every average)."""
    kept, dropped = [], []
    for e in events:
        # The usual event loses no firm: checked by set operations in C (a million firm-events
        # would cost a Python step each below).
        if (
            known.issuperset(e.tickers)
            and e.market not in e.tickers
            and unavailable.keys().isdisjoint(e.tickers)
        ):
            kept.append(e)
            continue
        reasons = {}
        for t in e.tickers:
            if t in unavailable:
                reasons[t] = unavailable[t]
            elif t not in known:
                reasons[t] = f"no returns for ticker {t}"
            elif t == e.market:
                reasons[t] = f"{t}{_MARKET_AS_FIRM}"
        dropped += [(e.name, t, why) for t, why in reasons.items()]
        tickers = tuple(t for t in e.tickers if t not in reasons)
        kept.append(e.model_copy(update={"tickers": tickers}) if reasons else e)
    return kept, dropped


def warn_left_out(dropped: Sequence[tuple[str, str, str]], stacklevel: int = 2) -> None:
    """One warning per kind of reason for the firm-events :func:`leave_out` left out."""
    without = [d for d in dropped if d[2] == f"no returns for ticker {d[1]}"]
    market = [d for d in dropped if d[2].endswith(_MARKET_AS_FIRM)]
    rest = [d for d in dropped if d not in without and d not in market]
    for what, picked in (
        ("for lack of data", rest),
        ("without returns", without),
        ("as the market ticker", market),
    ):
        if picked:
            names = sorted({t for _, t, _ in picked})
            warnings.warn(
                f"{len(picked)} firm-event(s) left out {what}: {listed(names)} (see skipped.csv)",
                UserWarning,
                stacklevel=stacklevel + 1,
            )


def _market_day0(
    panel: ReturnsPanel, events: Sequence[ResolvedEvent], after: np.ndarray, names: list[str]
) -> np.ndarray:
    from eventstudy.data.sessions import market_day0

    return market_day0(panel, [e.date for e in events], after, names, [e.tickers for e in events])


def _own_day0(
    panel: ReturnsPanel, events: Sequence[ResolvedEvent], after: np.ndarray, names: list[str]
) -> dict[tuple[int, str], int]:
    from eventstudy.data.sessions import firm_day0

    return firm_day0(panel, [e.date for e in events], after, names, [e.tickers for e in events])


def _rows_of(design: Design, rows: slice) -> Design:
    offset = None if design.offset is None else design.offset[rows]
    return dataclasses.replace(design, regressors=design.regressors[rows], offset=offset)


def _check_blocks(
    panel: ReturnsPanel,
    design: Design,
    events: Sequence[ResolvedEvent],
    day0: np.ndarray,
    factors: FactorData | None,
) -> None:
    """:func:`_check_regressors` for the firm-events on another exchange's block of rows."""
    from eventstudy.data.sessions import block_view

    for block in panel.blocks:
        picked = np.flatnonzero((day0 >= block.start) & (day0 < block.stop))
        if not len(picked):
            continue
        _check_regressors(
            block_view(panel, block),
            _rows_of(design, slice(block.start, block.stop)),
            [events[int(i)] for i in picked],
            day0[picked] - block.start,
            factors,
        )


def _check_regressors(
    panel: ReturnsPanel,
    design: Design,
    events: Sequence[ResolvedEvent],
    day0: np.ndarray,
    factors: FactorData | None,
) -> None:
    """Regressors must exist on every session of the events' windows (inside the data)."""
    if not design.k and design.offset is None:
        return
    values = design.regressors
    if design.offset is not None:
        values = np.column_stack([values, design.offset])
    bad = ~np.isfinite(values).all(axis=1)
    if not bad.any():
        return
    spec = events[0]  # the events of one batch share their windows
    t = len(panel.dates)
    first = np.clip(day0 + min(spec.estimation_window[0], spec.event_window[0]), 0, t - 1)
    last = np.clip(day0 + max(spec.estimation_window[1], spec.event_window[1]), 0, t - 1)
    count = np.concatenate([[0], np.cumsum(bad)])
    failing = np.flatnonzero(count[last + 1] - count[first] > 0)
    if not len(failing):
        return
    i = int(failing[0])
    event = events[i]
    rows = np.arange(first[i], last[i] + 1)
    dates = panel.dates[rows[bad[rows]]]
    span = f"{dates[0]:%Y-%m-%d}" + (f" .. {dates[-1]:%Y-%m-%d}" if len(dates) > 1 else "")
    if factors is not None and design.offset is not None:
        have = factors.frame.index
        raise DataError(
            f"event {event.name!r}: the factor data ({', '.join(factors.sources)}) have no values "
            f"for {len(dates)} session(s) in {span}, needed by the estimation and event windows "
            f"(factors cover {have[0]:%Y-%m-%d} .. {have[-1]:%Y-%m-%d})"
        )
    names = [
        n for j, n in enumerate(design.names) if not np.isfinite(design.regressors[rows, j]).all()
    ]
    raise DataError(
        f"event {event.name!r}: regressor {', '.join(names)} has no return on "
        f"{len(dates)} session(s) in {span}"
    )
