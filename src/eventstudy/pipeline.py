"""The whole study: study file -> prices (file, cache or Yahoo) -> returns panel -> fit -> results.

This is what ``eventstudy run`` calls; it is plain library code so scripts can call it too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eventstudy import global_markets
from eventstudy.data.cached import CachedSource
from eventstudy.data.factors import (
    FACTOR_MODELS,
    FRENCH_REGIONS,
    FactorData,
    FamaFrenchSource,
    factors_from_texts,
    read_factors,
)
from eventstudy.data.ingest import DeferredStore, ingest_price_file
from eventstudy.data.panel import ReturnsPanel, wide_prices
from eventstudy.data.sources.csv import CSVSource, read_shares_csv
from eventstudy.data.store import PriceStore
from eventstudy.errors import (
    DataError,
    EventStudyError,
    FetchWarning,
    OfflineError,
    argument,
    listed,
)
from eventstudy.estimation.benchmarks import match_tickers, read_matches_csv
from eventstudy.estimation.fit import require_fitted, warn_left_out
from eventstudy.event_study import fit_events
from eventstudy.results import EventStudyResults
from eventstudy.study import ResolvedEvent, StudySpec

# Calendar days per trading day, with a margin for holidays, to turn windows into a date range.
_DAYS_PER_SESSION = 1.5
_MARGIN_DAYS = 10


@dataclass
class DataOptions:
    """Where a run gets its data (the CLI's ``--prices``, ``--shares``, ``--offline``, ...).

    ``strict``: a ticker Yahoo cannot deliver stops the run (default: it is left out of the study,
    with a warning and the reason). ``progress``: a progress bar on stderr while fetching (None:
    only when stderr is a terminal). ``workers``: tickers fetched at once. ``fetch_timeout``: an
    overall limit in seconds on fetching from Yahoo (None: none; each request has its own).
    """

    prices: Path | None = None
    shares: Path | None = None
    factors: tuple[Path, ...] = ()
    cache_dir: Path | None = None
    offline: bool = False
    refresh: bool = False
    session: Any = None  # an HTTP session handed to yfinance (tests replay Yahoo with one)
    strict: bool = False
    progress: bool | None = None
    workers: int = 4
    fetch_timeout: float | None = None
    scheduler: str | None = None  # a Dask scheduler address: run with the Dask engine


def date_range(
    events: Sequence[ResolvedEvent], after: int = 0
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Calendar dates that cover every event's estimation and event windows (and ``after``
    trading days past day 0: a calendar-time portfolio's holding horizon)."""
    starts, ends = [], []
    for e in events:
        first = min(e.estimation_window[0], e.event_window[0])
        last = max(e.estimation_window[1], e.event_window[1], 1, after)
        starts.append(
            pd.Timestamp(e.date) + pd.Timedelta(days=first * _DAYS_PER_SESSION - _MARGIN_DAYS)
        )
        ends.append(
            pd.Timestamp(e.date) + pd.Timedelta(days=last * _DAYS_PER_SESSION + _MARGIN_DAYS)
        )
    today = pd.Timestamp(dt.date.today())
    return min(starts).normalize(), min(max(ends), today).normalize()


def study_tickers(
    events: Sequence[ResolvedEvent], matches: dict[tuple[str, str], str] | None = None
) -> list[str]:
    """Every ticker the events need, markets, factors, BHAR reference portfolios and the control
    firms of ``matches`` included, in first-seen order."""
    needed = (t for e in events for t in (e.market, *e.factors, *e.tickers, *e.reference_portfolio))
    return list(dict.fromkeys([*needed, *match_tickers(events, matches or {})]))


def study_matches(spec: StudySpec) -> dict[tuple[str, str], str]:
    """The study's ``matches`` file (relative to the study file's folder), or none."""
    if spec.matches is None:
        return {}
    path = spec.matches
    if not path.is_absolute() and spec.source is not None:
        path = spec.source.parent / path
    return read_matches_csv(str(path))


def load_data(
    spec: StudySpec,
    options: DataOptions,
    *,
    keep: list[Callable[[], object]] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Prices (long) and shares for the study: from a file, or the local store filled from Yahoo.

    Tickers Yahoo cannot deliver are left out with a :class:`~eventstudy.data.store.FetchWarning`
    and listed in ``meta["fetch_failures"]`` (ticker -> reason), unless ``options.strict``; a
    market or factor ticker that cannot be delivered is always an error (no firm can be fitted
    without it).

    Price and share files are kept in the local store for later studies; with ``keep``, the
    writes are appended to it instead of done (:func:`run_study` does them once the study ran,
    so a run that fails leaves the store as it was)."""
    import warnings

    from eventstudy.data.sources.yahoo import YahooSource

    events = spec.resolved()
    tickers = study_tickers(events, study_matches(spec))
    horizon = spec.calendar_time.horizon[1] if spec.calendar_time is not None else 0
    start, end = date_range(events, after=horizon)
    store = PriceStore(options.cache_dir)

    def cached_yahoo() -> CachedSource:
        upstream = YahooSource(
            session=options.session, workers=options.workers, total_timeout=options.fetch_timeout
        )
        return CachedSource(
            store,
            upstream,
            offline=options.offline,
            refresh=options.refresh,
            strict=options.strict,
            progress=options.progress,
        )

    writes = keep if keep is not None else []
    failures: dict[str, str] = {}
    cached: CachedSource | None = None

    def load_shares() -> tuple[pd.DataFrame, str]:
        nonlocal cached
        if options.shares is not None:
            shares = read_shares_csv(options.shares)
            writes.append(partial(store.put_shares, shares))  # kept, with their sources
            return shares, str(options.shares)
        stock_tickers = list(dict.fromkeys(t for e in events for t in e.tickers))
        stock_tickers = [t for t in stock_tickers if t not in failures]
        # A history fetched before the latest event cannot hold the counts filed since (one
        # fetched yesterday or today is recent enough, or every run today would fetch again).
        yesterday = pd.Timestamp(dt.date.today()) - pd.Timedelta(days=1)
        latest = min(pd.Timestamp(max(e.date for e in events)), yesterday)
        try:
            cached = cached or cached_yahoo()
            shares = cached.shares(stock_tickers, as_of=latest)
            return shares, "local store (the source of each count is in valuation.csv)"
        except EventStudyError as exc:
            # What is stored (a partial fetch included) is still better than nothing.
            shares = store.get_shares(stock_tickers)
            return shares, f"{'partly ' if len(shares) else ''}unavailable ({exc})"

    if options.prices is not None:
        source = CSVSource(options.prices).name
        # Every row of the file is kept (a later --offline study of other tickers or dates finds
        # them), each ticker covered from its first to its last row, as `cache import` does; a
        # file stored already is not stored again. The study's rows are read now, the file
        # stored once the study ran (``keep``): a run that fails leaves the store as it was. The
        # rows are staged beside the store as they are read, so storing reads nothing again.
        ingested = ingest_price_file(
            options.prices,
            store if not store.read_only else None,
            source,
            tickers=tickers,
            start=start,
            end=end,
            skip_stored=True,
            defer=True,
            sort=False,  # pivoted to dates x tickers next: any order does
        )
        assert ingested.prices is not None
        prices = ingested.prices
        if ingested.staged is not None:
            writes.append(DeferredStore(store, ingested.staged))
        elif store.read_only:  # storing fails with the store's one-line error
            later: Callable[[], object] = partial(
                ingest_price_file, options.prices, store, source, skip_stored=True
            )
            writes.append(later)
        price_source = str(options.prices)
        shares, shares_source = load_shares()
    else:
        cached = cached_yahoo()
        prices = cached.prices(tickers, start, end)
        failures = dict(cached.failures)
        regressors = {t for e in events for t in (e.market, *e.factors)}
        vital = [t for t in failures if t in regressors]
        if vital:
            raise DataError(
                f"no prices for {vital[0]}, which the study regresses on (market or factor "
                f"ticker): {failures[vital[0]]}"
            )
        if failures:
            shown = listed([f"{t}: {why}" for t, why in failures.items()], 10, "; ")
            warnings.warn(
                f"no prices for {len(failures)} ticker(s), left out of the study "
                f"({argument('strict=True')} makes this an error): {shown}",
                FetchWarning,
                stacklevel=2,
            )
        price_source = _describe_sources(store.price_sources(tickers, start, end))
        shares, shares_source = load_shares()
    meta = {
        "price_source": price_source,
        "shares_source": shares_source,
        "price_column": spec.price,
        "returns": spec.returns,
        "data_start": start.date().isoformat(),
        "data_end": end.date().isoformat(),
    }
    if failures:
        meta["fetch_failures"] = failures
    if keep is None:
        for write in writes:
            write()
    return prices, shares, meta


def _describe_sources(sources: list[tuple[str, int, str]]) -> str:
    """``local store: yahoo (9,000 rows, fetched 2026-12-04)``: where stored prices came from."""
    names = {"yahoo": "Yahoo Finance"}
    parts = [
        f"{names.get(s, s.removeprefix('csv:'))} ({n:,} rows, "
        f"{'fetched' if s in names else 'imported'} {f})"
        for s, n, f in sources
    ]
    return "local store: " + ("; ".join(parts) if parts else "no rows")


def build_panel(
    spec: StudySpec, prices: pd.DataFrame
) -> tuple[ReturnsPanel, pd.DataFrame | None]:
    """Returns panel on the study market's sessions, and unadjusted closes for valuation (firms
    on other exchanges take their own sessions in :func:`~eventstudy.event_study.fit_events`)."""
    calendar_ticker = spec.resolved()[0].market if spec.market is None else spec.market
    wide = wide_prices(prices, spec.price)
    empty = [str(t) for t in wide.columns[wide.isna().all()]]
    if empty:
        raise DataError(f"no {spec.price} prices for {', '.join(empty)}")
    panel = ReturnsPanel.from_prices(wide, calendar_ticker, spec.returns)
    close = wide_prices(prices, "close") if "close" in prices.columns else None
    return panel, close


def load_factors(spec: StudySpec, options: DataOptions) -> FactorData | None:
    """Fama-French factors when a study's model needs them: ``--factors`` files, else the local
    store, else the Ken French Data Library (unless offline)."""
    needed = {e.model for e in spec.resolved()} & set(FACTOR_MODELS)
    if spec.calendar_time is not None and spec.calendar_time.model in FACTOR_MODELS:
        needed.add(spec.calendar_time.model)
    if options.factors:
        return read_factors(options.factors)
    if not needed:
        return None
    store = PriceStore(options.cache_dir)
    texts = []
    for dataset in FRENCH_REGIONS[spec.factor_region]:
        text = store.get_factor_file(dataset)
        if text is None or options.refresh:
            if options.offline:
                raise OfflineError(
                    f"offline: model(s) {', '.join(sorted(needed))} need Fama-French factors and "
                    f"the local store has no {dataset}; pass {argument('factors')} or run online"
                )
            text = FamaFrenchSource(session=options.session).fetch_text(dataset)
            store.put_factor_file(dataset, text)
        texts.append((f"Ken French Data Library: {dataset}", text))
    return factors_from_texts(texts)


def run_study(spec: StudySpec, options: DataOptions | None = None) -> EventStudyResults:
    """Load data for ``spec``, fit every event and return the results; a study in which no
    firm-event could be fitted is a :class:`DataError` saying why (there is nothing to report).
    Price and share files (``options.prices``, ``options.shares``) go into the local store only
    once the study has run: a run that fails leaves the store as it was."""
    options = options or DataOptions()
    characteristics = read_study_characteristics(spec)  # a bad file stops the run before fitting
    factors = load_factors(spec, options)
    keep: list[Callable[[], object]] = []
    try:
        if uses_dask(spec, options):
            gathered = _run_dask(spec, options, factors)
            assert isinstance(gathered, EventStudyResults)  # no ``out``: gathered on the client
            results = gathered
        else:
            results = _run_local(spec, options, factors, keep)
        require_fitted(results.events, results.batches, results.dropped)
        results.meta.update(_bootstrap_meta(spec))
        if characteristics is not None or spec.regressions or spec.groups:
            results = results.with_characteristics(
                characteristics, regressions=spec.regressions or (), groups=spec.groups or ()
            )
        if spec.engine != "dask" and not options.scheduler:
            # Said only now: when nothing could be fitted, the error above lists them once.
            warn_left_out(results.dropped, stacklevel=2)
        for write in keep:  # the run's price and share files, into the store now it succeeded
            write()
        return results
    finally:
        for write in keep:  # staged price files of a failed run (a no-op once stored)
            if isinstance(write, DeferredStore):
                write.discard()


def read_study_characteristics(spec: StudySpec) -> pd.DataFrame | None:
    """The study's ``characteristics`` file (relative to the study file), checked against its
    events (docs/explaining.md); None when it names none."""
    from eventstudy.explain.characteristics import check_known, read_characteristics

    path = spec.characteristics_path
    if path is None:
        return None
    table = read_characteristics(path)
    check_known(table, spec.resolved(), str(path))
    table.attrs["source"] = str(path)  # how later messages name it
    return table


def _run_local(
    spec: StudySpec,
    options: DataOptions,
    factors: FactorData | None,
    keep: list[Callable[[], object]],
) -> EventStudyResults:
    prices, shares, meta = load_data(spec, options, keep=keep)
    panel, close = build_panel(spec, prices)
    calendar = global_markets.calendar_market(spec)
    meta["calendar"] = f"sessions of {calendar}"
    # Firms on other exchanges: on their own sessions, from these prices (docs/global.md).
    own = wide_prices(prices, spec.price) if global_markets.listings_of(spec) else None
    firms = {t for e in spec.resolved() if "volume" in e.measures for t in e.tickers}
    volume = None
    if firms:
        rows = prices["ticker"].isin(firms).to_numpy()
        have = "volume" in prices.columns and np.nan_to_num(
            prices["volume"].to_numpy(dtype=float)[rows]
        ).any()
        if not have:
            raise DataError(
                "measures: volume needs trading volume, and the prices hold none for the "
                f"study's firms (prices from {meta['price_source']})"
            )
        volume = wide_prices(prices, "volume")
    results = fit_events(
        panel,
        spec.resolved(),
        close=close,
        shares=shares,
        factors=factors,
        title=spec.study,
        meta=meta,
        unavailable=meta.get("fetch_failures"),
        volume=volume,
        warn=False,  # run_study warns once the study is known to have fitted something
        calendar_time=spec.calendar_time,
        matches=study_matches(spec),
        prices=own,
        calendar=calendar,
        return_kind=spec.returns,
    )
    start, end = date_range(spec.resolved())
    results.fx = global_markets.study_fx(
        spec,
        start,
        end,
        cache_dir=options.cache_dir,
        session=options.session,
        offline=options.offline,
        refresh=options.refresh,
    )
    results.meta.update(global_markets.fx_meta(results.fx))
    return results


def default_out_dir(spec: StudySpec) -> Path:
    return Path("results") / spec.slug


def default_figures_dir(spec: StudySpec) -> Path:
    return Path("figures") / spec.slug


def uses_dask(spec: StudySpec, options: DataOptions) -> bool:
    """Whether the study runs on the Dask engine (``engine: dask`` or a scheduler given)."""
    return spec.engine == "dask" or bool(options.scheduler)


def run_study_to_folder(spec: StudySpec, options: DataOptions, out: Path) -> None:
    """``engine: dask`` writing the results folder from the workers
    (:func:`~eventstudy.engines.dask.fit_resolved_dask` with ``out``: Parquet tables, the AR
    table as the workers' parts, the residuals and the battery's pass left on the workers). For
    a run whose outputs are those tables only: no charts or report (they read the firms' returns
    and the whole AR table, which the client then does not hold) and no characteristics (whose
    tables are made from the results after the fit). A study in which nothing could be fitted
    is the :class:`DataError` :func:`run_study` gives, and leaves ``out`` as it was."""
    factors = load_factors(spec, options)
    _run_dask(spec, options, factors, out=out, meta=_bootstrap_meta(spec))


def _bootstrap_meta(spec: StudySpec) -> dict[str, Any]:
    """The study's ``bootstrap:`` settings as the results' meta holds them (read by the results'
    tests, and kept in ``summary.json``); empty without the key."""
    return {} if spec.bootstrap is None else {"bootstrap": spec.bootstrap.model_dump()}


def _run_dask(
    spec: StudySpec,
    options: DataOptions,
    factors: FactorData | None,
    out: Path | None = None,
    meta: dict[str, Any] | None = None,
) -> EventStudyResults | Path:
    """``engine: dask``: the same fit, partitioned by firm over a Dask cluster (a LocalCluster,
    or the scheduler at ``--scheduler``/``scheduler:``), reading prices from a Parquet dataset;
    with ``out`` the results folder written there from the workers (:func:`run_study_to_folder`)
    and its path returned."""
    if global_markets.listings_of(spec):
        raise DataError(
            "engine 'dask' fits every firm on the market's sessions: run a study with listings "
            "on other exchanges with engine: local"
        )
    if spec.calendar_time is not None:
        raise DataError("engine 'dask' does not form calendar-time portfolios: use engine: local")
    if any(e.bhar_benchmark != "model" or e.bhar_resamples for e in spec.resolved()):
        raise DataError(
            "engine 'dask' compounds BHARs against the model only (no bhar_benchmark, "
            "bhar_resamples): use engine: local"
        )
    measured = [m for e in spec.resolved() for m in e.measures if m == "volume"]
    if measured:
        raise DataError(
            "engine 'dask' measures returns and volatility only: run measures: [volume] with "
            "engine: local"
        )
    source = str(options.prices) if options.prices is not None else ""
    if not (source.endswith(".parquet") or "://" in source or Path(source).is_dir()):
        raise DataError(
            f"engine 'dask' reads prices from a Parquet dataset: pass {argument('prices')} "
            "PATH.parquet "
            "(a file, a folder or an fsspec URL such as s3://bucket/prices.parquet)"
        )
    try:
        from eventstudy.engines.dask import fit_resolved_dask
    except ImportError:
        raise DataError("engine 'dask' needs pip install 'eventstudy-kit[dask]'") from None
    shares = read_shares_csv(options.shares) if options.shares is not None else None
    calendar = spec.market or spec.resolved()[0].market
    meta = {
        "engine": "dask",
        "price_source": source,
        "price_column": spec.price,
        "returns": spec.returns,
        "calendar": f"sessions of {calendar}",
        **(meta or {}),
    }
    return fit_resolved_dask(
        source,
        spec.resolved(),
        calendar=calendar,
        price=spec.price,
        returns=spec.returns,
        shares=shares,
        factors=factors,
        title=spec.study,
        meta=meta,
        scheduler=options.scheduler or spec.scheduler,
        out=out,
        check=None if out is None else _require_fitted,
    )


def _require_fitted(results: EventStudyResults) -> None:
    require_fitted(results.events, results.batches, results.dropped)
