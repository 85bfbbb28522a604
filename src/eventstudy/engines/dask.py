"""``engine: dask``: the event study partitioned by firm over a Dask cluster.

Prices come from a Parquet dataset in the long layout (``ticker, date, close, adj_close[,
volume]``) at a local path or any fsspec URL (``s3://``, ``gs://``, ``abfs://``, ``https://``, with
``storage_options``). The firms of the study are split into partitions of about equal numbers of
firm-events; each partition is one task that

1. reads the prices of its firms plus the calendar (market) and regressor tickers, with a row filter
   on ``ticker`` (so a dataset sorted or partitioned by ticker is read only where needed),
2. computes returns on the market's sessions exactly as :meth:`ReturnsPanel.from_prices` does, and
3. runs the local engine, :func:`~eventstudy.event_study.fit_events`, on its firm-events.

The client merges the partitions' batches into one :class:`~eventstudy.results.EventStudyResults`
with the firm-events, order and numbers of the local engine: a firm-event's fit depends only on its
own returns column and the shared regressors, and the calendar is the market's in every partition.
The merged results hold the returns of the study's tickers (for charts) and every fitted array, so
the client needs memory for the results, not for the whole price history. With ``out=PATH`` the
workers write the results folder's largest tables themselves and the client receives less
(:mod:`eventstudy.engines.dask_output`).

>>> res = fit_events_dask("s3://bucket/prices/", events, market="^GSPC")  # doctest: +SKIP
>>> res.car_frame()                                                      # doctest: +SKIP

Needs ``pip install 'eventstudy-kit[dask]'`` (dask, distributed, pyarrow).
"""

from __future__ import annotations

import dataclasses
import math
import os
import pickle
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, overload

import numpy as np
import pandas as pd

from eventstudy.data.factors import FactorData
from eventstudy.data.panel import ReturnsPanel, wide_prices
from eventstudy.errors import DataError
from eventstudy.estimation.fit import Batch, warn_left_out
from eventstudy.estimation.kernel import BatchFit, concat_fits
from eventstudy.event_study import EventStudy, fit_events
from eventstudy.inference.partitioned import PartitionedResiduals
from eventstudy.results import EventStudyResults
from eventstudy.study import EventSpec, ResolvedEvent

#: Firm-events per partition when ``partitions`` is not given (also at least one per worker
#: thread): a partition's results are then a few hundred MB at most.
FIRM_EVENTS_PER_PARTITION = 50_000

PRICE_COLUMNS = ("ticker", "date", "close", "adj_close", "volume")


@overload
def fit_events_dask(
    prices: str | Path,
    events: pd.DataFrame | Iterable[EventSpec | dict[str, Any]],
    *,
    out: None = None,
    **settings: Any,
) -> EventStudyResults: ...
@overload
def fit_events_dask(
    prices: str | Path,
    events: pd.DataFrame | Iterable[EventSpec | dict[str, Any]],
    *,
    out: str | Path,
    **settings: Any,
) -> Path: ...
def fit_events_dask(
    prices: str | Path,
    events: pd.DataFrame | Iterable[EventSpec | dict[str, Any]],
    *,
    market: str = "^GSPC",
    price: str = "adj_close",
    returns: str = "simple",
    shares: pd.DataFrame | None = None,
    factor_data: FactorData | pd.DataFrame | None = None,
    scheduler: Any = None,
    partitions: int | None = None,
    storage_options: dict[str, Any] | None = None,
    out: str | Path | None = None,
    **settings: Any,
) -> EventStudyResults | Path:
    """``EventStudy.from_prices(prices, market=..., **settings).fit(events)`` over a Dask cluster.

    Returns the :class:`~eventstudy.results.EventStudyResults` (every fitted array gathered on
    the client), or with ``out`` the results folder written there (a :class:`~pathlib.Path`):
    the workers write the per-firm-event-day tables, the client the rest (see
    :func:`fit_resolved_dask`).

    Parameters
    ----------
    prices
        Parquet dataset (file or folder; local path or fsspec URL), long layout.
    events
        A frame with one row per firm-event (``event``, ``date``, ``ticker``) or a list of
        :class:`~eventstudy.Event` / dicts, as :meth:`EventStudy.fit` takes.
    market, price, returns, shares, factor_data, settings
        As for :class:`~eventstudy.EventStudy` (``model``, ``estimation_window``,
        ``event_window``, ``car_windows``, ``timing``, ``min_estimation_obs``, ``factors``, ...).
        ``market`` is also the calendar.
    scheduler
        ``None`` for a :class:`distributed.LocalCluster` on this machine (threads in this
        process, one per core), a scheduler address (``"tcp://host:8786"``), or an existing
        :class:`distributed.Client` (e.g. of a LocalCluster of worker processes).
    partitions
        Number of firm partitions (tasks); default: enough for at most
        :data:`FIRM_EVENTS_PER_PARTITION` firm-events each, and at least one per worker thread.
    storage_options
        Passed to fsspec for remote datasets (credentials, endpoint, ...).
    out
        A results folder (Parquet tables) to write instead of returning the results; it must be
        on a file system the workers and the client share (a local disk for a LocalCluster).
    """
    calendar = read_prices(prices, [market], storage_options=storage_options)
    if calendar.empty:
        raise DataError(f"{prices}: no prices for the market ticker {market}")
    panel = ReturnsPanel.from_prices(wide_prices(calendar, price), market, returns)
    study = EventStudy(
        panel, market=market, return_kind=returns, factor_data=factor_data, **settings
    )
    items = _event_dicts(events) if isinstance(events, pd.DataFrame) else events
    resolved = study.resolve(items).resolved()
    return fit_resolved_dask(
        prices,
        resolved,
        calendar=market,
        price=price,
        returns=returns,
        shares=shares,
        factors=study.factor_data,
        title=study.title,
        meta={"returns": returns},
        scheduler=scheduler,
        partitions=partitions,
        storage_options=storage_options,
        has_close="close" in calendar.columns,
        out=out,
    )


@overload
def fit_resolved_dask(
    prices: str | Path,
    events: Sequence[ResolvedEvent],
    *,
    calendar: str,
    price: str = ...,
    returns: str = ...,
    shares: pd.DataFrame | None = ...,
    factors: FactorData | None = ...,
    title: str = ...,
    meta: dict[str, Any] | None = ...,
    scheduler: Any = ...,
    partitions: int | None = ...,
    storage_options: dict[str, Any] | None = ...,
    has_close: bool = ...,
    check: Callable[[EventStudyResults], None] | None = ...,
    out: None = None,
) -> EventStudyResults: ...
@overload
def fit_resolved_dask(
    prices: str | Path,
    events: Sequence[ResolvedEvent],
    *,
    calendar: str,
    price: str = ...,
    returns: str = ...,
    shares: pd.DataFrame | None = ...,
    factors: FactorData | None = ...,
    title: str = ...,
    meta: dict[str, Any] | None = ...,
    scheduler: Any = ...,
    partitions: int | None = ...,
    storage_options: dict[str, Any] | None = ...,
    has_close: bool = ...,
    check: Callable[[EventStudyResults], None] | None = ...,
    out: str | Path,
) -> Path: ...
@overload
def fit_resolved_dask(
    prices: str | Path,
    events: Sequence[ResolvedEvent],
    *,
    calendar: str,
    price: str = ...,
    returns: str = ...,
    shares: pd.DataFrame | None = ...,
    factors: FactorData | None = ...,
    title: str = ...,
    meta: dict[str, Any] | None = ...,
    scheduler: Any = ...,
    partitions: int | None = ...,
    storage_options: dict[str, Any] | None = ...,
    has_close: bool = ...,
    check: Callable[[EventStudyResults], None] | None = ...,
    out: str | Path | None = None,
) -> EventStudyResults | Path: ...
def fit_resolved_dask(
    prices: str | Path,
    events: Sequence[ResolvedEvent],
    *,
    calendar: str,
    price: str = "adj_close",
    returns: str = "simple",
    shares: pd.DataFrame | None = None,
    factors: FactorData | None = None,
    title: str = "Event study",
    meta: dict[str, Any] | None = None,
    scheduler: Any = None,
    partitions: int | None = None,
    storage_options: dict[str, Any] | None = None,
    has_close: bool = True,
    out: str | Path | None = None,
    check: Callable[[EventStudyResults], None] | None = None,
) -> EventStudyResults | Path:
    """The engine proper, on already resolved events (a study file's ``spec.resolved()``): what
    :func:`~eventstudy.event_study.fit_events` does with a panel in memory, with the panel read and
    the firm-events fitted partition by partition on the cluster. ``calendar`` is the ticker
    whose sessions are the calendar (the study's market).

    Without ``out``: the :class:`~eventstudy.results.EventStudyResults`, every partition's fits,
    returns and closes gathered on the client. With ``out``: the results folder written there,
    its path returned; see :mod:`eventstudy.engines.dask_output` for who writes what. ``check``
    is called with the merged results before anything is written (an error leaves ``out`` as it
    was: the command line's "nothing could be fitted")."""
    if not events:
        raise DataError("no events to fit")
    shared = list(dict.fromkeys([calendar, *(t for e in events for t in (e.market, *e.factors))]))
    firms = list(dict.fromkeys(t for e in events for t in e.tickers if t not in shared))
    meta = {**(meta or {}), "returns": (meta or {}).get("returns", returns)}
    with ExitStack() as stack:
        client = stack.enter_context(_client(scheduler))
        threads = sum(client.nthreads().values()) or 1
        n_fe = sum(len(e.tickers) for e in events)
        n_parts = partitions or max(threads, math.ceil(n_fe / FIRM_EVENTS_PER_PARTITION))
        plan = _partition(events, firms, shared, max(1, min(n_parts, len(firms) or 1)))
        columns = ["ticker", "date", price, *(["close"] if has_close and price != "close" else [])]
        stage = None
        # With ``out`` the fits' residuals stay on the workers, and so does the battery's pass
        # over them (unless the client derives the volatility measure from them).
        hold = out is not None and not any("volatility" in e.measures for e in events)
        if out is not None:
            from eventstudy.engines import dask_output

            stage = stack.enter_context(dask_output.staged_run(out))
        futures = [
            client.submit(
                _fit_partition,
                prices,
                part_firms,
                shared,
                sub_events,
                calendar=calendar,
                price=price,
                returns=returns,
                factors=factors,
                columns=columns,
                storage_options=storage_options,
                write=None
                if stage is None
                else dask_output.PartWriter(
                    stage.tables.absolute(),  # the workers' working folder may be another
                    k,
                    _shares_of(shares, part_firms),
                    {"returns": meta["returns"]},
                    keep_returns=any(e.bhar_windows for e in events),
                    hold=hold,
                ),
                pure=False,
            )
            for k, (part_firms, sub_events, _) in enumerate(plan)
        ]
        host = None
        if hold:  # the tasks' results stay on the workers; the client gets them without residuals
            car_windows = sorted({(int(a), int(b)) for e in events for a, b in e.car_windows})
            slim = [
                client.submit(dask_output.slim_part, f, k, car_windows, pure=False)
                for k, f in enumerate(futures)
            ]
            parts = client.gather(slim)
            del slim
            host = dask_output.WorkerHost(client, futures)
        else:
            parts = client.gather(futures)
        del futures  # the cluster may let go of the results (in this process, with threads)
        merged_meta = {
            **meta,
            "engine": f"dask ({len(plan)} partitions)",
            # The slowest task's seconds per step: where a partition's time goes.
            "engine_task_seconds": {
                k: round(max(p["seconds"][k] for p in parts), 3) for k in parts[0]["seconds"]
            },
            # What the tasks sent back to the client, pickled.
            "engine_bytes_to_client": int(sum(p["bytes"] for p in parts)),
        }
        results = _merge(
            events,
            parts,
            [index for _, _, index in plan],
            shared,
            shares=None if stage is not None else shares,
            factors=factors,
            title=title,
            meta=merged_meta,
            host=host,
        )
        if check is not None:
            check(results)
        if stage is None:
            return results
        for part in parts:  # merged: the battery's working memory can have theirs
            part["batches"] = None
        dask_output.finish(results, parts, stage.tables, host)
        del host  # the workers may let go of the partitions' fits
    assert out is not None  # a stage is made for it
    return Path(out)


def _shares_of(shares: pd.DataFrame | None, firms: Sequence[str]) -> pd.DataFrame | None:
    """The share counts of ``firms`` (what a partition's valuation reads)."""
    if shares is None or "ticker" not in shares.columns:
        return shares
    return shares[shares["ticker"].isin(set(firms))]


# ----------------------------------------------------------------------------- Parquet


def read_prices(
    prices: str | Path,
    tickers: Sequence[str] | None = None,
    *,
    columns: Sequence[str] | None = None,
    storage_options: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Long prices for ``tickers`` (all when None) from a Parquet dataset; ``date`` as
    datetime64 and ``ticker`` as str (hive-partitioned datasets give categories)."""
    filters = None if tickers is None else [("ticker", "in", list(tickers))]
    try:
        frame = pd.read_parquet(
            prices,
            engine="pyarrow",
            columns=None if columns is None else list(columns),
            filters=filters,
            storage_options=storage_options,
        )
    except FileNotFoundError:
        raise DataError(f"{prices}: Parquet price dataset not found") from None
    missing = {"ticker", "date"} - set(frame.columns)
    if missing:
        raise DataError(f"{prices}: missing column(s) {', '.join(sorted(missing))}")
    frame["ticker"] = frame["ticker"].astype(str)
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def write_prices(prices: pd.DataFrame, path: str | Path, *, row_group_size: int = 65_536) -> None:
    """Write long prices as one Parquet file sorted by ticker and date, in row groups whose
    ticker statistics let each partition read only its own firms."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = [c for c in PRICE_COLUMNS if c in prices.columns]
    frame = prices[cols].sort_values(["ticker", "date"], kind="stable").reset_index(drop=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, str(path), row_group_size=row_group_size)


# ----------------------------------------------------------------------------- partitions


def _event_dicts(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """One row per firm-event (``event``/``name``, ``date``, ``ticker``) to event dicts, events in
    order of first appearance and tickers in row order (as :meth:`EventStudy.fit` reads it)."""
    name_col = "event" if "event" in frame.columns else "name"
    missing = {name_col, "date", "ticker"} - set(frame.columns)
    if missing:
        raise DataError(f"events frame: missing column(s) {', '.join(sorted(missing))}")
    codes, names = pd.factorize(frame[name_col].astype(str))
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    starts = np.concatenate([[0], bounds]).astype(np.intp)
    days = pd.to_datetime(frame["date"]).dt.normalize().to_numpy()[order]
    same = np.ones(len(order), dtype=bool)
    same[1:] = days[1:] == days[:-1]
    same[starts] = True
    if not same.all():
        raise DataError(
            f"events frame: event {names[codes[order[np.argmin(same)]]]!r} has more than one date"
        )
    tickers = np.split(frame["ticker"].astype(str).to_numpy(dtype=object)[order], bounds)
    dates = pd.DatetimeIndex(days[starts]).date
    return [
        {"name": str(n), "date": d, "tickers": list(t)}
        for n, d, t in zip(names, dates, tickers, strict=True)
    ]


def _partition(
    events: Sequence[ResolvedEvent], firms: list[str], shared: list[str], n_parts: int
) -> list[tuple[list[str], list[ResolvedEvent], np.ndarray]]:
    """Split ``firms`` (sorted by name, for Parquet row-group pruning) into ``n_parts`` runs of
    about equal firm-event counts. For each: its firms, the events restricted to them, and those
    events' indices into ``events``."""
    counts = dict.fromkeys(firms, 0)
    for e in events:
        for t in e.tickers:
            if t in counts:
                counts[t] += 1
    names = sorted(firms)
    cum = np.cumsum([counts[t] for t in names])
    cuts = np.searchsorted(cum, cum[-1] * np.arange(1, n_parts) / n_parts, side="right")
    part_of = {t: p for p, run in enumerate(np.split(np.array(names, dtype=object), cuts))
               for t in run}  # fmt: skip
    # A shared ticker that is also an event's firm (the market as a firm) goes to partition 0.
    plan: list[tuple[list[str], list[ResolvedEvent], list[int]]] = [
        ([], [], []) for _ in range(n_parts)
    ]
    for t in names:
        plan[part_of[t]][0].append(t)
    for i, e in enumerate(events):
        by_part: dict[int, list[str]] = {}
        for t in e.tickers:
            by_part.setdefault(part_of.get(t, 0), []).append(t)
        for p, tickers in by_part.items():
            plan[p][1].append(e.model_copy(update={"tickers": tuple(tickers)}))
            plan[p][2].append(i)
    return [(f, ev, np.asarray(ix, dtype=np.intp)) for f, ev, ix in plan if ev]


def _fit_partition(
    prices: str | Path,
    firms: list[str],
    shared: list[str],
    events: list[ResolvedEvent],
    *,
    calendar: str,
    price: str,
    returns: str,
    factors: FactorData | None,
    columns: list[str],
    storage_options: dict[str, Any] | None,
    write: Any = None,
) -> dict[str, Any]:
    """One task: returns of ``firms`` on the calendar and the local engine's fit of ``events``.
    ``write``: a :class:`~eventstudy.engines.dask_output.PartWriter` (``out`` given), which
    writes the partition's large tables here and slims what goes back to the client."""
    t0 = time.perf_counter()
    frame = read_prices(prices, [*shared, *firms], columns=columns, storage_options=storage_options)
    t1 = time.perf_counter()
    panel = ReturnsPanel.from_prices(wide_prices(frame, price), calendar, returns)
    t2 = time.perf_counter()
    present = [t for t in firms if t in panel.tickers]
    close = None
    if "close" in frame.columns:
        close = wide_prices(frame, "close")[present]
    if write is not None:
        res = fit_events(
            panel, events, factors=factors, close=close, shares=write.shares, meta=write.meta,
            warn=False,
        )  # fmt: skip
        t3 = time.perf_counter()
        seconds = {"read": t1 - t0, "returns": t2 - t1, "fit": t3 - t2}
        result: dict[str, Any] = write(res, panel, shared, seconds=seconds)
        if not write.hold:  # else what goes to the client is :func:`dask_output.slim_part`'s
            result["bytes"] = sent_bytes(result)
        return result
    res = fit_events(panel, events, factors=factors, warn=False)  # the client warns once
    t3 = time.perf_counter()
    result = {
        "dates": panel.dates,
        "panel_tickers": panel.tickers,
        "firms": present,
        "firm_values": panel.values[:, panel.columns(present)],
        "shared_values": panel.values[:, panel.columns([t for t in shared if t in panel.tickers])],
        "shared": [t for t in shared if t in panel.tickers],
        "batches": [(b.fit, np.asarray(b.event), list(b.ticker), b.label) for b in res.batches],
        "close": close,
        "dropped": res.dropped,
        "seconds": {"read": t1 - t0, "returns": t2 - t1, "fit": t3 - t2},
    }
    result["bytes"] = sent_bytes(result)
    return result


def sent_bytes(result: dict[str, Any]) -> int:
    """Bytes of a task's result as pickled for the trip to the client (what a worker process
    sends; dask's ``sizeof`` does not see inside the fits' dataclasses)."""
    return len(pickle.dumps(result, protocol=5))


# ----------------------------------------------------------------------------- merge


def _merge(
    events: Sequence[ResolvedEvent],
    parts: list[dict[str, Any]],
    indices: list[np.ndarray],
    shared: list[str],
    *,
    shares: pd.DataFrame | None,
    factors: FactorData | None,
    title: str,
    meta: dict[str, Any],
    host: Any = None,
) -> EventStudyResults:
    """One EventStudyResults from the partitions, laid out as :func:`fit_events` lays it out:
    one batch per configuration in order of first appearance, firm-events in study order, the
    firm-events a partition left out listed (and warned of) once. Fits whose residuals stayed
    on the workers (:class:`~eventstudy.inference.partitioned.PartitionedResiduals`) are merged
    with them still there, reached through ``host``."""
    dropped = [d for p in parts for d in p["dropped"]]
    gone = {(name, ticker) for name, ticker, _ in dropped}
    if gone:
        events = [
            e.model_copy(update={"tickers": tuple(t for t in e.tickers if (e.name, t) not in gone)})
            for e in events
        ]
    warn_left_out(dropped, stacklevel=4)
    dates = parts[0]["dates"]
    for part in parts[1:]:
        if not part["dates"].equals(dates):  # the calendar is the market's in every partition
            raise DataError("partitions disagree on the trading calendar")
    first = parts[0]
    # With ``out`` the firms' returns stayed on the workers: the client's panel holds the shared
    # tickers only (the calendar and regressors), and the fits' columns of firms become -1.
    kept = [p for p in parts if p.get("firm_values") is not None]
    tickers = [*first["shared"], *(t for p in kept for t in p["firms"])]
    values = np.concatenate([first["shared_values"], *(p["firm_values"] for p in kept)], axis=1)
    panel = ReturnsPanel(dates=dates, tickers=tuple(tickers), values=np.ascontiguousarray(values))
    column = {t: j for j, t in enumerate(tickers)}

    # Study order of every firm-event, as fit_events numbers it.
    order: dict[tuple[int, str], int] = {}
    for i, e in enumerate(events):
        for t in e.tickers:
            order[(i, t)] = len(order)

    pieces: dict[tuple, list[tuple[BatchFit, np.ndarray, list[str], str, Any]]] = {}
    first_seen = {e.config_key(): i for i, e in reversed(list(enumerate(events)))}
    for part, index in zip(parts, indices, strict=True):
        remap = np.array([column.get(t, -1) for t in part["panel_tickers"]], dtype=np.intp)
        for fit, ev, tick, label in part["batches"]:
            ev = index[ev]
            held = fit.resid if isinstance(fit.resid, PartitionedResiduals) else None
            fit = dataclasses.replace(
                fit, col=remap[fit.col], resid=fit.resid if held is None else np.empty((fit.n, 0))
            )
            pieces.setdefault(events[ev[0]].config_key(), []).append((fit, ev, tick, label, held))

    batches = []
    for key in sorted(pieces, key=first_seen.__getitem__):
        group = pieces[key]
        fit = concat_fits([g[0] for g in group])
        ev = np.concatenate([g[1] for g in group])
        tick = [t for g in group for t in g[2]]
        pos = np.array([order[(int(i), t)] for i, t in zip(ev, tick, strict=True)], dtype=np.intp)
        perm = np.argsort(pos, kind="stable")
        fit = fit.take(perm)
        if group[0][4] is not None:
            held = PartitionedResiduals.concat([g[4] for g in group], host)
            # BatchFit.resid stands for what PartitionedResiduals stands in for
            fit = dataclasses.replace(fit, resid=held.take(perm))  # type: ignore[arg-type]
        batches.append(
            _make(
                Batch,
                fit=fit,
                event=ev[perm],
                ticker=[tick[i] for i in perm],
                order=pos[perm],
                label=group[0][3],
            )
        )

    closes = [p["close"] for p in parts if p.get("close") is not None]
    close = pd.concat(closes, axis=1).sort_index().sort_index(axis=1) if closes else None
    day0 = np.array([panel.day0(e.date, e.timing, e.name) for e in events], dtype=np.intp)
    return _make(
        EventStudyResults,
        title=title,
        events=list(events),
        day0_rows=day0,
        day0_dates=[panel.dates[d].date() for d in day0],
        panel=panel,
        batches=batches,
        close=close,
        shares=shares,
        meta={**(factors.describe() if factors is not None else {}), **meta},
        dropped=dropped,
    )


def _make(cls: type, **values: Any) -> Any:
    """``cls(**values)`` with the values ``cls`` has fields for (the local engine's dataclasses
    may drop a derived field such as ``order`` or ``day0_dates``)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in names})


#: Seconds to wait for a Dask scheduler to answer before giving up with one line.
SCHEDULER_TIMEOUT = 10.0


@contextmanager
def _client(scheduler: Any) -> Iterator[Any]:
    """A :class:`distributed.Client` for ``scheduler`` (None: a LocalCluster for the call)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise DataError(
            "engine 'dask' needs dask and distributed: pip install 'eventstudy-kit[dask]'"
        ) from None
    if isinstance(scheduler, Client):
        yield scheduler
    elif scheduler is None:
        # One machine: threads in this process. The fit is numpy, which releases the GIL, and
        # the partitions' results then need no serialisation (worker processes cost seconds).
        with (
            LocalCluster(
                n_workers=1,
                threads_per_worker=os.cpu_count() or 1,
                processes=False,
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
    else:
        try:
            client = Client(scheduler, timeout=SCHEDULER_TIMEOUT)
        except (OSError, TimeoutError) as exc:  # refused, unreachable, or no answer in time
            raise DataError(
                f"cannot reach the Dask scheduler at {scheduler} within {SCHEDULER_TIMEOUT:g} s "
                f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no answer'})"
            ) from None
        with client:
            yield client
