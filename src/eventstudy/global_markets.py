"""Global markets in a study run: which firms take their own exchange's sessions, the panel that
holds them, and the FX rates valuing every firm in the reporting currency (docs/global.md).

:func:`eventstudy.event_study.fit_events` (under the library's ``EventStudy`` and
:mod:`eventstudy.pipeline` alike) stacks the foreign listings' sessions with
:func:`own_sessions`; the pipeline also fetches the FX rates here. A US-only study in USD
finds no foreign listing and no currency to convert, and runs exactly as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eventstudy.currency import FxRates, load_rates, study_currencies
from eventstudy.data.exchanges import foreign_listings, listing_exchange
from eventstudy.data.panel import ReturnsPanel
from eventstudy.data.sessions import stack_panel
from eventstudy.errors import DataError
from eventstudy.study import ResolvedEvent, StudySpec

#: Sessions of slack beyond the longest window between two blocks of a panel (Dimson lags).
_SLACK = 12


def _events(study: StudySpec | Sequence[ResolvedEvent]) -> Sequence[ResolvedEvent]:
    return study.resolved() if isinstance(study, StudySpec) else study


def named_exchanges(study: StudySpec | Sequence[ResolvedEvent]) -> dict[str, str]:
    """The exchanges the study file (or the library's ``exchanges=``) names, ticker -> MIC; a
    ticker given two different exchanges (study and event, or two events) is an error."""
    named: dict[str, str] = {}
    for e in _events(study):
        for ticker, mic in e.exchanges:
            if named.setdefault(ticker, mic) != mic:
                raise DataError(
                    f"exchanges: {ticker} is given two exchanges, {named[ticker]} and {mic} "
                    "(a listing trades on one exchange throughout a study)"
                )
    return named


def calendar_market(spec: StudySpec) -> str:
    """The ticker whose sessions are the study's calendar."""
    return spec.market or spec.resolved()[0].market


def event_listings(events: Sequence[ResolvedEvent], market: str) -> dict[str, str]:
    """The events' firms on another exchange than ``market``'s, ticker -> MIC (empty: every
    firm trades on the market's exchange)."""
    firms = list(dict.fromkeys(chain.from_iterable(e.tickers for e in events)))  # each once
    return foreign_listings(firms, market, named_exchanges(events))


def listings_of(spec: StudySpec) -> dict[str, str]:
    """The study's firms on another exchange than the market's, ticker -> MIC (empty: US-only)."""
    return event_listings(spec.resolved(), calendar_market(spec))


def own_sessions(
    panel: ReturnsPanel,
    prices: pd.DataFrame,
    events: Sequence[ResolvedEvent],
    market: str,
    kind: str,
) -> ReturnsPanel:
    """``panel`` (on ``market``'s sessions) with the events' foreign listings on their own
    sessions (:func:`~eventstudy.data.sessions.stack_panel`); unchanged without any.
    ``prices``: dates x tickers of the price column the returns (``kind``) came from. What
    :func:`eventstudy.event_study.fit_events` calls, for the library and ``run_study`` alike."""
    listings = event_listings(events, market)
    if not listings:
        return panel
    regressors = list(dict.fromkeys(t for e in events for t in (e.market, *e.factors)))
    reach = max(
        max(abs(d) for d in (*e.estimation_window, *e.event_window)) + e.dimson_lags
        for e in events
    )
    return stack_panel(panel, prices, listings, regressors, kind, reach + _SLACK)


def describe(panel: ReturnsPanel, market: str | None) -> dict[str, Any]:
    """What ``summary.json`` records about the calendars of a panel with foreign listings."""
    home = f"sessions of {market}" if market else "the market's sessions"
    return {
        "calendar": f"{home}; "
        + "; ".join(f"{', '.join(b.tickers)} on {b.exchange} sessions" for b in panel.blocks),
        "exchanges": {t: b.exchange for b in panel.blocks for t in b.tickers},
    }


def currencies_of(
    events: Sequence[ResolvedEvent], market: str, reporting: str
) -> FxRates | None:
    """Each firm's listing currency (from its exchange) and the FX series that convert them into
    ``reporting``, still without rates; None when nothing needs converting (every firm is quoted
    in USD and the study reports in USD)."""
    named = named_exchanges(events)
    firms = list(dict.fromkeys(chain.from_iterable(e.tickers for e in events)))  # each once
    exchanges = {t: listing_exchange(t, market, named) for t in firms}
    fx = study_currencies(firms, exchanges, reporting)
    return fx if fx.needed() else None


def prices_fx(
    events: Sequence[ResolvedEvent], market: str, reporting: str, prices: pd.DataFrame | None
) -> FxRates | None:
    """The library's rates into ``reporting``: the FX series (e.g. ``JPYUSD=X``) are columns of
    the wide ``prices`` the study was built from, as any ticker (docs/global.md); None when
    nothing needs converting. A series the prices lack is a :class:`DataError` naming it."""
    fx = currencies_of(events, market, reporting)
    if fx is None:
        return None
    missing = [t for t in fx.tickers if prices is None or t not in prices.columns]
    if missing:
        raise DataError(
            f"reporting_currency: valuing the study in {reporting} needs the FX series "
            f"{', '.join(missing)}: add their closes to the prices given to "
            "EventStudy.from_prices (Yahoo's tickers)"
        )
    assert prices is not None

    def long(tickers: list[str]) -> pd.DataFrame:
        wide = prices[tickers]
        return pd.DataFrame(
            {
                "ticker": np.repeat(np.asarray(tickers, dtype=object), len(wide)),
                "date": np.tile(wide.index.to_numpy(), len(tickers)),
                "close": wide.to_numpy(dtype=float).T.ravel(),
            }
        )

    return load_rates(fx, long, source="prices")


def fx_meta(fx: FxRates | None) -> dict[str, Any]:
    """What the results' ``meta`` says of the reporting currency (nothing without one)."""
    if fx is None:
        return {}
    return {"reporting_currency": fx.reporting, "fx_sources": sorted(fx.sources.values())}


def study_fx(
    spec: StudySpec,
    start: pd.Timestamp,
    end: pd.Timestamp,
    *,
    cache_dir: Path | None = None,
    session: Any = None,
    offline: bool = False,
    refresh: bool = False,
) -> FxRates | None:
    """The rates into ``spec.reporting_currency`` (None: every firm is quoted in USD and the study
    reports in USD, so valuation.csv keeps its columns). FX series come from the local store,
    fetched from Yahoo when missing (unless ``offline``)."""
    fx = currencies_of(spec.resolved(), calendar_market(spec), spec.reporting_currency)
    if fx is None:
        return None

    from eventstudy.data.cached import CachedSource
    from eventstudy.data.sources.yahoo import YahooSource
    from eventstudy.data.store import PriceStore

    cached = CachedSource(
        PriceStore(cache_dir), YahooSource(session=session), offline=offline, refresh=refresh
    )
    return load_rates(fx, lambda tickers: cached.prices(tickers, start, end))
