"""The library entry point: :class:`EventStudy` on the user's own pandas data.

>>> es = EventStudy(returns, market="^GSPC", model="market")           # doctest: +SKIP
>>> res = es.fit([Event(name="R1", date="2025-01-27", tickers=["NVDA"])])  # doctest: +SKIP
>>> print(res.summary())                                                 # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from eventstudy.data.factors import FactorData
from eventstudy.data.panel import ReturnsPanel, wide_prices
from eventstudy.errors import DataError, StudyFileError
from eventstudy.estimation.kernel import BatchFit, Design
from eventstudy.estimation.models import get_model
from eventstudy.results import EventStudyResults
from eventstudy.study import (
    DEFAULT_MIN_ESTIMATION_OBS,
    EventSpec,
    ResolvedEvent,
    StudySpec,
    parse_study,
)

#: An event for :meth:`EventStudy.fit`: ``Event(name=..., date=..., tickers=[...])`` plus optional
#: per-event overrides (``model``, ``market``, ``estimation_window``, ``event_window``,
#: ``car_windows``, ``timing``, ``min_estimation_obs``).
Event = EventSpec


@dataclass
class Batch:
    """One vectorised fit: every firm-event that shares a model, market and windows."""

    fit: BatchFit
    event: np.ndarray  # (n,) index into the results' events
    ticker: list[str]
    order: np.ndarray  # (n,) position of each firm-event in study order
    label: str = ""  # the model, in words


class EventStudy:
    """A configured event study over a returns panel.

    Parameters
    ----------
    returns
        Daily returns, dates x tickers (including the market column), or a :class:`ReturnsPanel`.
        Its dates are the trading calendar.
    market, model, estimation_window, event_window, car_windows, timing, min_estimation_obs,
    factors, dimson_lags, bhar_windows
        Defaults for every event (an event may override them); the meaning is that of the study-file
        keys of the same names (README, "Study file").
    return_kind
        ``simple`` or ``log``: what ``returns`` holds (BHARs compound simple returns).
    close
        Optional dates x tickers *unadjusted* closing prices, for market values.
    shares
        Optional shares outstanding, long (``ticker,as_of,shares_outstanding[,source]``).
    factor_data
        Daily Fama-French factors as *fractions* (dates x ``Mkt-RF, SMB, HML, RF, ...``) or a
        :class:`~eventstudy.data.factors.FactorData`
        (:func:`~eventstudy.data.factors.read_factors`), for the
        ``ff3``, ``carhart`` and ``ff5`` models.
    """

    def __init__(
        self,
        returns: pd.DataFrame | ReturnsPanel,
        *,
        market: str = "^GSPC",
        model: str = "market",
        estimation_window: tuple[int, int] = (-250, -11),
        event_window: tuple[int, int] = (-5, 5),
        car_windows: Sequence[tuple[int, int]] = ((0, 0), (-1, 1), (-5, 5)),
        timing: str = "close",
        min_estimation_obs: int = DEFAULT_MIN_ESTIMATION_OBS,
        close: pd.DataFrame | None = None,
        shares: pd.DataFrame | None = None,
        factor_data: FactorData | pd.DataFrame | None = None,
        factors: Sequence[str] | None = None,
        dimson_lags: int = 1,
        bhar_windows: Sequence[tuple[int, int]] = (),
        return_kind: str = "simple",
        title: str = "Event study",
    ) -> None:
        self.panel = (
            returns if isinstance(returns, ReturnsPanel) else ReturnsPanel.from_frame(returns)
        )
        self.defaults: dict[str, Any] = {
            "market": market,
            "model": model,
            "estimation_window": list(estimation_window),
            "event_window": list(event_window),
            "car_windows": [list(w) for w in car_windows],
            "timing": timing,
            "min_estimation_obs": min_estimation_obs,
            "dimson_lags": dimson_lags,
        }
        if factors:
            self.defaults["factors"] = list(factors)
        if bhar_windows:
            self.defaults["bhar_windows"] = [list(w) for w in bhar_windows]
        self.close = close
        self.shares = shares
        if isinstance(factor_data, pd.DataFrame):
            factor_data = FactorData(frame=factor_data, sources=["user data"])
        self.factor_data = factor_data
        self.return_kind = return_kind
        self.title = title

    @classmethod
    def from_prices(
        cls,
        prices: pd.DataFrame,
        *,
        market: str = "^GSPC",
        returns: str = "simple",
        price: str = "adj_close",
        **kwargs: Any,
    ) -> EventStudy:
        """From prices: wide (dates x tickers) or long (``ticker,date,close,adj_close,...``).

        Returns are computed on the market's sessions. With long prices that carry ``close``,
        unadjusted closes are kept for market values."""
        if {"ticker", "date"}.issubset(prices.columns):
            if "close" in prices.columns and kwargs.get("close") is None:
                kwargs["close"] = wide_prices(prices, "close")
            prices = wide_prices(prices, price)
        panel = ReturnsPanel.from_prices(prices, market, returns)
        return cls(panel, market=market, return_kind=returns, **kwargs)

    def resolve(self, events: Iterable[EventSpec | dict[str, Any]]) -> StudySpec:
        """Validate ``events`` against the defaults, as a study file would be."""
        items = []
        for e in events:
            items.append(e.model_dump(exclude_none=True) if isinstance(e, EventSpec) else dict(e))
        data = {"study": self.title, **self.defaults, "events": items}
        return parse_study(data, source="events")

    def fit(self, events: Iterable[EventSpec | dict[str, Any]] | pd.DataFrame) -> EventStudyResults:
        """Fit every firm-event and return the results.

        ``events`` is a list of :class:`Event` (or dicts with the study-file keys), or a frame with
        one row per firm-event (``event``, ``date``, ``ticker``), the fast path for large studies.
        """
        if isinstance(events, pd.DataFrame):
            resolved = self._resolve_frame(events)
        else:
            resolved = self.resolve(events).resolved()
        return fit_events(
            self.panel,
            resolved,
            close=self.close,
            shares=self.shares,
            factors=self.factor_data,
            title=self.title,
            meta={"returns": self.return_kind},
        )

    def _resolve_frame(self, frame: pd.DataFrame) -> list[ResolvedEvent]:
        """Events from a firm-event frame, validated column-wise (no per-event model building)."""
        name_col = "event" if "event" in frame.columns else "name"
        missing = {name_col, "date", "ticker"} - set(frame.columns)
        if missing:
            raise StudyFileError(f"events frame: missing column(s) {', '.join(sorted(missing))}")
        if frame.empty:
            raise StudyFileError("events frame: no firm-events")
        dates = pd.to_datetime(frame["date"], errors="coerce")
        if dates.isna().any():
            row = int(np.flatnonzero(dates.isna().to_numpy())[0])
            raise StudyFileError(f"events frame, row {row}: bad date {frame['date'].iloc[row]!r}")
        names = frame[name_col].astype(str).to_numpy()
        tickers = frame["ticker"].astype(str).to_numpy()
        codes, uniques = pd.factorize(names)
        ticker_codes, ticker_names = pd.factorize(tickers)
        pair = codes.astype(np.int64) * max(1, len(ticker_names)) + ticker_codes
        _, first = np.unique(pair, return_index=True)
        if len(first) < len(pair):  # the first row that repeats an earlier (event, ticker)
            dup = np.ones(len(pair), dtype=bool)
            dup[first] = False
            row = int(np.flatnonzero(dup)[0])
            raise StudyFileError(
                f"events frame, row {row}: ticker {tickers[row]} twice in event {names[row]!r}"
            )
        order = np.argsort(codes, kind="stable")
        day = dates.dt.normalize().to_numpy()[order]
        bounds = np.flatnonzero(np.diff(codes[order])) + 1
        starts = np.concatenate([[0], bounds]).astype(np.intp)
        same = np.ones(len(order), dtype=bool)
        same[1:] = day[1:] == day[:-1]
        same[starts] = True
        if not same.all():
            row = int(order[np.flatnonzero(~same)[0]])
            raise StudyFileError(f"events frame, row {row}: event {names[row]!r} has two dates")
        # One validated template carries the defaults (and checks the windows); events copy it.
        first_day = day[0].astype("datetime64[D]").item()
        template = self.resolve(
            [{"name": "template", "date": first_day, "tickers": [tickers[order[0]]]}]
        ).resolved()[0]
        fields = template.model_dump()
        event_days = day[starts].astype("datetime64[D]").tolist()
        groups = np.split(tickers[order], bounds)
        return [
            ResolvedEvent.model_construct(
                **{**fields, "name": str(name), "date": date, "tickers": tuple(group)}
            )
            for name, date, group in zip(uniques, event_days, groups, strict=True)
        ]


def fit_events(
    panel: ReturnsPanel,
    events: Sequence[ResolvedEvent],
    *,
    close: pd.DataFrame | None = None,
    shares: pd.DataFrame | None = None,
    factors: FactorData | None = None,
    title: str = "Event study",
    meta: dict[str, Any] | None = None,
    unavailable: Mapping[str, str] | None = None,
) -> EventStudyResults:
    """Fit resolved events on ``panel``: one vectorised batch per distinct configuration.

    ``unavailable`` maps tickers whose data could not be had to the reason (a failed download):
    their firm-events are left out of the fit and listed in ``skipped_frame()`` with that reason."""
    dropped: list[tuple[str, str, str]] = []
    if unavailable:
        kept = []
        for e in events:
            gone = [t for t in e.tickers if t in unavailable]
            dropped += [(e.name, t, unavailable[t]) for t in gone]
            tickers = tuple(t for t in e.tickers if t not in unavailable)
            kept.append(e.model_copy(update={"tickers": tickers}) if gone else e)
        events = kept
        if dropped:
            names = sorted({t for _, t, _ in dropped})
            warnings.warn(
                f"{len(dropped)} firm-event(s) left out for lack of data: {', '.join(names[:10])}"
                + (f" and {len(names) - 10} more" if len(names) > 10 else "")
                + " (see skipped.csv)",
                UserWarning,
                stacklevel=2,
            )
    after = np.array([e.timing == "after_close" for e in events], dtype=bool)
    names = [e.name for e in events]
    day0 = panel.day0_many([e.date for e in events], after, names)
    known = set(panel.tickers)
    for e in events:
        for t in (e.market, *e.factors, *e.tickers):
            if t not in known:
                raise DataError(f"event {e.name!r}: no returns for ticker {t}")

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
        _check_regressors(panel, design, [events[i] for i in members], day0[idx], factors)
        ev = np.repeat(idx, sizes[idx])
        within = np.arange(len(ev)) - np.repeat(np.cumsum(sizes[idx]) - sizes[idx], sizes[idx])
        tickers = [t for i in members for t in events[i].tickers]
        fit = model.fit(panel, first, factors, panel.columns(tickers), day0[ev])
        batches.append(
            Batch(
                fit=fit,
                event=ev,
                ticker=tickers,
                order=offsets[ev] + within,
                label=model.label(first),
            )
        )

    return EventStudyResults(
        title=title,
        events=list(events),
        day0_rows=day0,
        panel=panel,
        batches=batches,
        close=close,
        shares=shares,
        meta={**(factors.describe() if factors is not None else {}), **(meta or {})},
        dropped=dropped,
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
