"""The library entry point: :class:`EventStudy` on the user's own pandas data.

>>> es = EventStudy(returns, market="^GSPC", model="market")           # doctest: +SKIP
>>> res = es.fit([Event(name="R1", date="2025-01-27", tickers=["NVDA"])])  # doctest: +SKIP
>>> print(res.summary())                                                 # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from eventstudy import global_markets
from eventstudy.data.exchanges import check_exchange
from eventstudy.data.factors import FactorData
from eventstudy.data.inputs import check_factor_frame, check_returns, check_shares, check_volume
from eventstudy.data.panel import ReturnsPanel, wide_prices
from eventstudy.errors import DataError, StudyFileError
from eventstudy.estimation.benchmarks import read_matches
from eventstudy.estimation.fit import fit_batches
from eventstudy.results import EventStudyResults
from eventstudy.study import (
    DEFAULTS,
    Bootstrap,
    CalendarTime,
    EventSpec,
    ResolvedEvent,
    StudySpec,
    check_currency,
    format_error,
    parse_study,
)

if TYPE_CHECKING:
    from eventstudy.currency import FxRates


class Event(EventSpec):
    """An event for :meth:`EventStudy.fit`: ``Event(name=..., date=..., tickers=[...])`` plus
    optional per-event overrides (``model``, ``market``, ``estimation_window``, ``event_window``,
    ``car_windows``, ``bhar_windows``, ``timing``, ``min_estimation_obs``, ``factors``,
    ``dimson_lags``), with the study file's meaning. A bad value raises
    :class:`~eventstudy.errors.StudyFileError` (a ``ValueError``) naming the argument."""

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise StudyFileError(f"Event: {format_error(dict(exc.errors()[0]))}") from None


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
    measures, volume_model, volatility_model
        What to measure besides abnormal returns (``volume``, ``volatility``) and how, as the
        study-file keys (docs/measures.md); an event may override them.
    bhar_benchmark, reference_portfolio, matches, bhar_resamples
        What BHARs compound against (``model``, ``market``, ``matched``, ``portfolio``), the
        tickers of the equal-weighted reference portfolio, the control firms (a frame
        ``event,ticker,match_ticker``) and the resamples of Lyon, Barber & Tsai's bootstrap and
        pseudo-portfolio tests (0: none), as the study-file keys (docs/long_horizon.md).
    calendar_time
        A calendar-time portfolio regression for the results' tables (the study-file key
        ``calendar_time``'s fields; docs/long_horizon.md); ``results.calendar_time(...)`` runs
        any other.
    multiple_testing
        ``none``, ``holm`` or ``bh``: which p-values of the firms' CARs the summary and the report
        mark with stars (``car.csv`` has all three; docs/tests.md); an event may override it.
    bootstrap
        ``{"reps": 999, "seed": 1}`` (either key may be left out) adds the bootstrap tests to
        ``tests_frame()`` (docs/tests.md, "Bootstrap"); None (the default): none.
    exchanges
        ``{ticker: MIC}``: the exchange a firm trades on where its Yahoo suffix does not say it
        (as the study-file key; docs/global.md). With :meth:`from_prices`, a firm on another
        exchange than the market's (named here, or by its suffix: ``8035.T``) is fitted on its
        own exchange's sessions; ``returns`` given directly are one calendar, their dates.
    volume
        Shares traded, dates x tickers, for the volume measure (:meth:`from_prices` takes it
        from long prices' ``volume`` column).
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
        market: str = DEFAULTS.market,
        model: str = DEFAULTS.model,
        estimation_window: tuple[int, int] = DEFAULTS.estimation_window,
        event_window: tuple[int, int] = DEFAULTS.event_window,
        car_windows: Sequence[tuple[int, int]] = DEFAULTS.car_windows,
        timing: str = DEFAULTS.timing,
        min_estimation_obs: int = DEFAULTS.min_estimation_obs,
        close: pd.DataFrame | None = None,
        shares: pd.DataFrame | None = None,
        factor_data: FactorData | pd.DataFrame | None = None,
        factors: Sequence[str] | None = None,
        dimson_lags: int = DEFAULTS.dimson_lags,
        bhar_windows: Sequence[tuple[int, int]] = DEFAULTS.bhar_windows,
        return_kind: str = DEFAULTS.returns,
        title: str = "Event study",
        measures: Sequence[str] = DEFAULTS.measures,
        volume: pd.DataFrame | None = None,
        volume_model: str = DEFAULTS.volume_model,
        volatility_model: str = DEFAULTS.volatility_model,
        calendar_time: CalendarTime | Mapping[str, Any] | None = None,
        bhar_benchmark: str = DEFAULTS.bhar_benchmark,
        bhar_resamples: int = DEFAULTS.bhar_resamples,
        reference_portfolio: Sequence[str] | None = None,
        matches: pd.DataFrame | None = None,
        multiple_testing: str = DEFAULTS.multiple_testing,
        bootstrap: Mapping[str, int] | None = None,
        exchanges: Mapping[str, str] | None = None,
        reporting_currency: str | None = None,
    ) -> None:
        #: Wide prices of the price column, kept by :meth:`from_prices`: a firm the events place
        #: on another exchange than the market's is fitted on its own sessions from them.
        self.prices: pd.DataFrame | None = None
        if isinstance(returns, ReturnsPanel):
            self.panel = returns
        else:
            self.panel = ReturnsPanel.from_frame(check_returns(returns))
        self.defaults: dict[str, Any] = {
            "market": market,
            "model": model,
            "estimation_window": list(estimation_window),
            "event_window": list(event_window),
            "car_windows": [list(w) for w in car_windows],
            "timing": timing,
            "min_estimation_obs": min_estimation_obs,
            "dimson_lags": dimson_lags,
            "measures": list(measures),
            "volume_model": volume_model,
            "volatility_model": volatility_model,
            "multiple_testing": multiple_testing,
        }
        if exchanges:
            for ticker, mic in exchanges.items():
                check_exchange(str(mic), str(ticker))
            self.defaults["exchanges"] = {str(t): str(x) for t, x in exchanges.items()}
        #: The currency market values are also reported in (None: USD, and only when some firm
        #: is quoted in another; its FX series are columns of the prices, docs/global.md).
        self.reporting_currency = None
        if reporting_currency is not None:
            try:
                self.reporting_currency = check_currency(reporting_currency)
            except ValueError as exc:
                raise DataError(f"reporting_currency: {exc}") from None
        self.bootstrap: dict[str, int] | None = None
        if bootstrap is not None:
            try:
                self.bootstrap = Bootstrap.model_validate(dict(bootstrap)).model_dump()
            except ValidationError as exc:
                error = format_error(dict(exc.errors()[0]))
                raise StudyFileError(f"bootstrap: {error}") from None
        if factors:
            self.defaults["factors"] = list(factors)
        if bhar_benchmark != DEFAULTS.bhar_benchmark:
            self.defaults["bhar_benchmark"] = bhar_benchmark
        if bhar_resamples:
            self.defaults["bhar_resamples"] = bhar_resamples
        if reference_portfolio:
            self.defaults["reference_portfolio"] = list(reference_portfolio)
        self.matches = None if matches is None else read_matches(matches)
        if bhar_windows:
            self.defaults["bhar_windows"] = [list(w) for w in bhar_windows]
        self.close = close
        self.shares = None if shares is None else check_shares(shares)
        if isinstance(factor_data, pd.DataFrame):
            factor_data = FactorData(frame=check_factor_frame(factor_data), sources=["user data"])
        self.factor_data = factor_data
        self.return_kind = return_kind
        self.title = title
        self.volume = None if volume is None else check_volume(volume)
        if calendar_time is not None and not isinstance(calendar_time, CalendarTime):
            try:
                calendar_time = CalendarTime.model_validate(dict(calendar_time))
            except ValidationError as exc:
                error = format_error(dict(exc.errors()[0]))
                raise StudyFileError(f"calendar_time.{error}") from None
        self.calendar_time = calendar_time

    def __repr__(self) -> str:
        d = self.defaults
        dates = self.panel.dates
        span = f"{dates[0]:%Y-%m-%d} .. {dates[-1]:%Y-%m-%d}" if len(dates) else "no dates"
        cars = " ".join(f"[{a}, {b}]" for a, b in d["car_windows"])
        return (
            f"<EventStudy {self.title!r}: {len(dates):,} sessions {span}, "
            f"{len(self.panel.tickers):,} tickers; model {d['model']} vs {d['market']}, "
            f"estimation {list(d['estimation_window'])}, event {list(d['event_window'])}, "
            f"CAR {cars}; {self.return_kind} returns>"
        )

    @classmethod
    def from_prices(
        cls,
        prices: pd.DataFrame,
        *,
        market: str = DEFAULTS.market,
        model: str = DEFAULTS.model,
        estimation_window: tuple[int, int] = DEFAULTS.estimation_window,
        event_window: tuple[int, int] = DEFAULTS.event_window,
        car_windows: Sequence[tuple[int, int]] = DEFAULTS.car_windows,
        timing: str = DEFAULTS.timing,
        min_estimation_obs: int = DEFAULTS.min_estimation_obs,
        close: pd.DataFrame | None = None,
        shares: pd.DataFrame | None = None,
        factor_data: FactorData | pd.DataFrame | None = None,
        factors: Sequence[str] | None = None,
        dimson_lags: int = DEFAULTS.dimson_lags,
        bhar_windows: Sequence[tuple[int, int]] = DEFAULTS.bhar_windows,
        return_kind: str = DEFAULTS.returns,
        price: str = DEFAULTS.price,
        title: str = "Event study",
        returns: str | None = None,
        measures: Sequence[str] = DEFAULTS.measures,
        volume_model: str = DEFAULTS.volume_model,
        volatility_model: str = DEFAULTS.volatility_model,
        calendar_time: CalendarTime | Mapping[str, Any] | None = None,
        bhar_benchmark: str = DEFAULTS.bhar_benchmark,
        bhar_resamples: int = DEFAULTS.bhar_resamples,
        reference_portfolio: Sequence[str] | None = None,
        matches: pd.DataFrame | None = None,
        multiple_testing: str = DEFAULTS.multiple_testing,
        bootstrap: Mapping[str, int] | None = None,
        exchanges: Mapping[str, str] | None = None,
        reporting_currency: str | None = None,
    ) -> EventStudy:
        """From prices: wide (dates x tickers) or long (``ticker,date,close,adj_close,...``).

        Returns (``return_kind``: ``simple`` or ``log``) are computed from the ``price`` column
        (``adj_close`` or ``close``) on the market's sessions. With long prices that carry
        ``close``, unadjusted closes are kept for market values. A firm listed on another
        exchange than the market's (by ``exchanges``, else its Yahoo suffix: ``8035.T`` trades
        in Tokyo) is fitted on its own exchange's sessions, from these prices (docs/global.md);
        market values are also reported in ``reporting_currency`` (default USD when a firm is
        quoted in another currency), at the closes of the FX series among the prices (Yahoo's
        names: ``JPYUSD=X``; one the prices lack is an error when ``reporting_currency`` is
        given, and leaves the values in the listing currency otherwise).
        The other arguments are those of :class:`EventStudy`. ``returns=`` is the old name of
        ``return_kind`` (deprecated)."""
        if returns is not None:
            warnings.warn(
                "EventStudy.from_prices(returns=...) is now return_kind=...",
                DeprecationWarning,
                stacklevel=2,
            )
            return_kind = returns
        if return_kind not in ("simple", "log"):
            raise DataError(f"return_kind must be 'simple' or 'log', not {return_kind!r}")
        volume = None
        if {"ticker", "date"}.issubset(prices.columns):
            if "close" in prices.columns and close is None:
                close = wide_prices(prices, "close")
            if "volume" in prices.columns:
                volume = wide_prices(prices, "volume")
            prices = wide_prices(prices, price)
        panel = ReturnsPanel.from_prices(prices, market, return_kind)
        study = cls(
            panel,
            market=market,
            model=model,
            estimation_window=estimation_window,
            event_window=event_window,
            car_windows=car_windows,
            timing=timing,
            min_estimation_obs=min_estimation_obs,
            close=close,
            shares=shares,
            factor_data=factor_data,
            factors=factors,
            dimson_lags=dimson_lags,
            bhar_windows=bhar_windows,
            return_kind=return_kind,
            title=title,
            measures=measures,
            volume=volume,
            volume_model=volume_model,
            volatility_model=volatility_model,
            calendar_time=calendar_time,
            bhar_benchmark=bhar_benchmark,
            bhar_resamples=bhar_resamples,
            reference_portfolio=reference_portfolio,
            matches=matches,
            multiple_testing=multiple_testing,
            bootstrap=bootstrap,
            exchanges=exchanges,
            reporting_currency=reporting_currency,
        )
        # A firm the events place on another exchange takes its own sessions from these prices.
        study.prices = prices
        return study

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
        one row per firm-event (``event``, ``date``, ``ticker``, optionally ``exchange``: the
        firm's exchange MIC where its suffix does not say it, as ``exchanges=``), the fast path
        for large studies.
        """
        if isinstance(events, pd.DataFrame):
            resolved = self._resolve_frame(events)
        else:
            resolved = self.resolve(events).resolved()
        market = self.defaults["market"]
        if self.prices is None and not self.panel.blocks:
            named = global_markets.named_exchanges(resolved)
            listed = global_markets.event_listings(resolved, market) if named else {}
            away = [t for t in listed if t in named]
            if away:
                raise DataError(
                    f"exchanges: {away[0]} trades on {named[away[0]]}, not on the market's "
                    "exchange; its own sessions come from its prices: use "
                    "EventStudy.from_prices(prices, exchanges=...)"
                )
        results = fit_events(
            self.panel,
            resolved,
            close=self.close,
            shares=self.shares,
            factors=self.factor_data,
            title=self.title,
            meta={"returns": self.return_kind}
            | ({"bootstrap": dict(self.bootstrap)} if self.bootstrap else {}),
            volume=self.volume,
            calendar_time=self.calendar_time,
            matches=self.matches,
            prices=self.prices,
            calendar=market,
            return_kind=self.return_kind,
        )
        results.fx = self._fx(resolved, market)
        results.meta.update(global_markets.fx_meta(results.fx))
        return results

    def _fx(self, events: Sequence[ResolvedEvent], market: str) -> FxRates | None:
        """The rates into the reporting currency, from the FX series among the prices."""
        reporting = self.reporting_currency or DEFAULTS.reporting_currency
        try:
            return global_markets.prices_fx(events, market, reporting, self.prices)
        except DataError as exc:
            if self.reporting_currency is not None:
                raise
            warnings.warn(f"{exc}; market values stay in each listing's currency", stacklevel=3)
            return None

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
        if "exchange" in frame.columns:
            named = {**dict(fields["exchanges"]), **_frame_exchanges(frame, tickers)}
            fields["exchanges"] = tuple(named.items())
        event_days = day[starts].astype("datetime64[D]").tolist()
        groups = np.split(tickers[order], bounds)
        return [
            ResolvedEvent.model_construct(
                **{**fields, "name": str(name), "date": date, "tickers": tuple(group)}
            )
            for name, date, group in zip(uniques, event_days, groups, strict=True)
        ]


def _frame_exchanges(frame: pd.DataFrame, tickers: np.ndarray) -> dict[str, str]:
    """The events frame's ``exchange`` column as ticker -> MIC (blank cells: none named); a
    ticker given two exchanges, or an exchange ``exchange_calendars`` does not know, is an
    error naming the row."""
    cells = frame["exchange"].to_numpy(dtype=object)
    named: dict[str, str] = {}
    for row in np.flatnonzero(pd.notna(cells) & (frame["exchange"].astype(str).str.strip() != "")):
        ticker, mic = str(tickers[row]), str(cells[row]).strip()
        if named.setdefault(ticker, mic) != mic:
            raise StudyFileError(
                f"events frame, row {row}: ticker {ticker} on two exchanges, "
                f"{named[ticker]} and {mic}"
            )
    for row_ticker, mic in named.items():
        check_exchange(mic, row_ticker)
    return named


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
    warn: bool = True,
    volume: pd.DataFrame | None = None,
    calendar_time: CalendarTime | None = None,
    matches: Mapping[tuple[str, str], str] | None = None,
    prices: pd.DataFrame | None = None,
    calendar: str | None = None,
    return_kind: str = DEFAULTS.returns,
) -> EventStudyResults:
    """Fit resolved events on ``panel`` (:func:`~eventstudy.estimation.fit.fit_batches`) and wrap
    the fits, prices and share counts in the results object; ``warn``: warn of the firm-events
    left out (a Dask partition leaves that to the client); ``volume``: shares traded (dates x
    tickers) for the events that measure volume; ``calendar_time``: the calendar-time regression
    the results' tables hold (docs/long_horizon.md).

    ``prices`` (dates x tickers of the price column ``panel``'s ``return_kind`` returns came
    from) with ``calendar`` (the market ticker whose sessions ``panel`` holds): the events' firms
    listed on another exchange are fitted on their own exchange's sessions, the regressors
    aligned to them (:func:`eventstudy.global_markets.own_sessions`, docs/global.md). The library
    and ``run_study`` both come here: one place for foreign listings."""
    if prices is not None and calendar is not None and not panel.blocks:
        panel = global_markets.own_sessions(panel, prices, events, calendar, return_kind)
    if panel.blocks:
        meta = {**(meta or {}), **global_markets.describe(panel, calendar)}
        if any("volume" in e.measures for e in events):
            raise DataError(
                "measures: volume is measured on the market's sessions only; a study with "
                "listings on other exchanges measures returns and volatility"
            )
    fit = fit_batches(panel, events, factors=factors, unavailable=unavailable, warn=warn)
    volume_panel = None
    if volume is not None and any("volume" in e.measures for e in fit.events):
        from eventstudy.estimation.volume import VolumePanel

        volume_panel = VolumePanel.from_frame(volume, panel)
    results = EventStudyResults(
        title=title,
        events=fit.events,
        day0_rows=fit.day0_rows,
        panel=panel,
        batches=fit.batches,
        close=close,
        shares=shares,
        meta={**(factors.describe() if factors is not None else {}), **(meta or {})},
        dropped=fit.dropped,
        volume=volume_panel,
        factors=factors,
        calendar_time_settings=calendar_time,
        matches=dict(matches or {}),
    )
    wanted = [e.name for e in fit.events if e.bhar_benchmark == "matched" and e.bhar_windows]
    if wanted and not matches:
        raise DataError(
            f"event {wanted[0]!r}: bhar_benchmark 'matched' needs matches "
            "(event,ticker,match_ticker)"
        )
    results.volume_fit  # noqa: B018  # a study asking for volume without any fails here
    return results
