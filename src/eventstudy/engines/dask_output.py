"""The Dask engine's results folder, written from the workers (``fit_events_dask(..., out=PATH)``).

Who writes what, and why:

* **The workers** write the tables with one row per firm-event *and event-window day*
  (:data:`WORKER_TABLES`: ``abnormal_returns``, ``abnormal_volatility``): they are the bulk of a
  results folder (about 20 rows per firm-event) and each row depends on its own firm-event only,
  so a partition's rows are exactly the local engine's rows of its firm-events. Each task writes
  its rows as one Parquet part, ``<out>/<table>/part-NNNNN.parquet`` (a Parquet dataset folder,
  the layout pyarrow, pandas, Dask and Spark read as one table), through the results folder's own
  Parquet writer (:func:`eventstudy.output.files.write_parquet`). Parts rather than per-part CSVs
  concatenated at the end: concatenating would stream every byte through the client. Within a
  part the rows are in study order; the parts follow the firm partitions (firms by name), so the
  folder read as one table holds the local engine's rows, grouped by partition.
* **The workers** also compute the small per-firm-event tables that need the firms' returns or
  closes (``data_quality``, ``valuation``: one row per firm-event (and CAR window)) and send
  them back; the client puts them in study order.
* **The client** receives, per firm-event, the fits (without the event-window returns and
  normal returns when no event asks for BHARs, which compound them) and not the firms' return
  and close histories. From them it writes ``car``, ``bhar``, ``aar``, ``caar``, ``params``,
  ``skipped``, ``variance_ratio``, ``tests`` and ``summary.json`` with the local engine's code.
* **The estimation residuals stay on the workers** (unless the study measures volatility, which
  the client derives from them): each task's result is kept there (its future) and the client
  gets it through :func:`slim_part`, the fits' residuals replaced by a
  :class:`~eventstudy.inference.partitioned.PartitionedResiduals` (where each row is, its
  residual counts and ``car.csv``'s sample-quantile p-values, computed on the worker). The test
  battery's residual pass then runs on the workers (:class:`WorkerHost`): each partition sends
  back its groups' per-day sums and its firm-events' per firm-event values, the client adds them
  up and finishes the tests with the local engine's code
  (:mod:`eventstudy.inference.partitioned`). Sums added per partition are added in another
  order: the tests agree with the local engine's to a relative 1e-12 (with one partition, to the
  last bit). What still travels as residual rows: a partition's firm-events of a group when they
  are fewer than the group's sums have rows, and the groups whose mean correlation (Kolari &
  Pynnönen 2010) is the exact pairwise one (ragged days, up to 1,500 firm-events).

The folder is written as one transaction (:func:`eventstudy.output.transaction.run_transaction`):
the workers and the client write into its staging folder, which is committed only once every
part and table is there; a failed run leaves the previous folder as it was.
"""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eventstudy.data.panel import ReturnsPanel
from eventstudy.inference.partitioned import (
    PartitionedResiduals,
    PartRequest,
    PartSums,
    held_summary,
    partition_sums,
)
from eventstudy.output.files import atomic_file, write_parquet
from eventstudy.output.folder import TABLES, write_tables
from eventstudy.output.transaction import RunStage, run_transaction
from eventstudy.results import EventStudyResults

#: Tables the workers write as Parquet parts (one row per firm-event and event-window day).
WORKER_TABLES = ("abnormal_returns.csv", "abnormal_volatility.csv")
#: The part file of partition ``k`` in a table's folder.
PART_NAME = "part-{:05d}.parquet"


@contextmanager
def staged_run(out: str | Path) -> Iterator[RunStage]:
    """The run's staging folder (tables only, no charts), committed when the block succeeds."""
    with run_transaction(Path(out), None) as stage:
        yield stage


@dataclasses.dataclass(frozen=True)
class PartWriter:
    """What a task needs to write its partition (it is sent to the worker with the task):
    ``tables`` (the staging folder, on a file system the workers share), ``part`` (the
    partition's number), the partition's share counts and the results' ``meta`` (the return
    kind, which the quality checks read)."""

    tables: Path
    part: int
    shares: pd.DataFrame | None
    meta: dict[str, Any]
    #: Send the event-window returns and normal returns back (BHARs compound them on the
    #: client: a study with ``bhar_windows``).
    keep_returns: bool = True
    #: The result stays on the worker; the client gets :func:`slim_part` of it (the fits without
    #: their residuals) and runs the battery's residual pass there (:class:`WorkerHost`).
    hold: bool = False

    def __call__(
        self,
        res: EventStudyResults,
        panel: ReturnsPanel,
        shared: list[str],
        seconds: dict[str, float],
    ) -> dict[str, Any]:
        """Write the partition's :data:`WORKER_TABLES` parts; return what the client needs."""
        rows, empty = {}, {}
        for name in WORKER_TABLES:
            frame = TABLES[name](res)
            if frame is None:  # a measure the study does not ask for
                continue
            if len(frame):
                folder = Path(self.tables) / Path(name).stem
                folder.mkdir(exist_ok=True)
                # Whole or not at all: a retried task (its worker lost) writes the part again.
                with atomic_file(folder / PART_NAME.format(self.part)) as tmp:
                    write_parquet(frame, tmp)
            rows[name] = len(frame)
            empty[name] = frame.iloc[:0]  # the columns and types, should no part have rows
        present = [t for t in shared if t in panel.tickers]
        batches = []
        for b in res.batches:
            f = b.fit
            if not self.keep_returns:  # then only the AR table, written here, reads them
                f = dataclasses.replace(f, ret=f.ret[:, :0], normal=f.normal[:, :0])
            batches.append((f, np.asarray(b.event), list(b.ticker), b.label))
        return {
            "dates": panel.dates,
            "panel_tickers": panel.tickers,
            "firms": [],
            "firm_values": None,
            "shared_values": panel.values[:, panel.columns(present)],
            "shared": present,
            "batches": batches,
            "close": None,
            "dropped": res.dropped,
            "seconds": seconds,
            "rows": rows,
            "empty": empty,
            "quality": res.quality_frame(),
            "valuation": res.valuation_frame(),
        }


def finish(
    results: EventStudyResults,
    parts: list[dict[str, Any]],
    tables: Path,
    host: WorkerHost | None = None,
) -> None:
    """Write the client's tables and ``summary.json`` into the staging folder ``tables`` beside
    the workers' parts: the quality and valuation rows the workers sent, put in study order, and
    every other table from ``results`` (the merged, slimmed fits). With ``host`` (the fits'
    residuals on the workers) the test battery runs first, so that ``summary.json`` counts what
    its pass sent back."""
    order: dict[tuple[str, str], int] = {}
    for e in results.events:
        for t in e.tickers:
            order[(e.name, t)] = len(order)
    # The frames the workers computed stand in for the results' own (which would need the
    # firms' returns and closes).
    results.use_rows(
        quality=_in_study_order([p["quality"] for p in parts], order),
        valuation=_in_study_order([p["valuation"] for p in parts], order),
    )
    if host is not None:
        results.tests_frame()  # the residual pass on the workers
        results.meta["engine_bytes_to_client"] += host.sent
    for name in WORKER_TABLES:
        written = [p["rows"][name] for p in parts if name in p["rows"]]
        if written and not any(written):  # no part had rows: the empty table, as the client's
            folder = tables / Path(name).stem
            folder.mkdir(exist_ok=True)
            write_parquet(parts[0]["empty"][name], folder / PART_NAME.format(0))
    write_tables(results, tables, format="parquet", skip=WORKER_TABLES)


def _in_study_order(frames: list[pd.DataFrame], order: dict[tuple[str, str], int]) -> pd.DataFrame:
    """The partitions' rows of a per-firm-event table in study order: the firm-events fitted (by
    their place in the study, each firm-event's rows kept in their order), then those left out
    before fitting (which have no place; in partition order, as the merged results list them)."""
    frames = [f for f in frames if len(f)] or frames[:1]
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    keys = [(str(e), str(t)) for e, t in zip(frame["event"], frame["ticker"], strict=True)]
    place = np.array([order.get(k, len(order)) for k in keys], dtype=np.int64)
    return frame.iloc[np.argsort(place, kind="stable")].reset_index(drop=True)


# ----------------------------------------------------------------------------- held residuals


def slim_part(result: dict[str, Any], part: int, car_windows: list[tuple[int, int]]) -> dict:
    """What the client gets of a task's ``result`` that stays on the worker (a task of its own,
    run where the result is): the fits with their residuals replaced by a
    :class:`~eventstudy.inference.partitioned.PartitionedResiduals` (where each row is, its
    residual counts and ``car.csv``'s sample-quantile p-values of ``car_windows``)."""
    batches = []
    for i, (fit, event, ticker, label) in enumerate(result["batches"]):
        stats, quantiles = held_summary(fit, car_windows)
        origin = np.column_stack(
            [np.full(fit.n, part), np.full(fit.n, i), np.arange(fit.n)]
        ).astype(np.intp)
        held = PartitionedResiduals(origin, fit.resid.shape[1], stats, quantiles)
        batches.append((dataclasses.replace(fit, resid=held), event, ticker, label))
    slim = {**result, "batches": batches}
    slim["bytes"] = len(pickle.dumps(slim, protocol=5))
    return slim


class WorkerHost:
    """The partitions' results left on the workers (the futures of their tasks): runs the
    battery's residual pass there (:func:`~eventstudy.inference.partitioned.partition_sums`)
    and fetches residual rows; ``sent`` counts the bytes that came back (pickled)."""

    def __init__(self, client: Any, futures: list[Any]) -> None:
        self.client, self.futures = client, futures
        self.sent = 0
        self._rows: dict[tuple[int, ...], np.ndarray] = {}

    def run_pass(self, requests: dict[int, PartRequest]) -> dict[int, PartSums]:
        # Sent as data, not inside the task graph: a request holds its firm-events' thresholds
        # (megabytes at a million firm-events; Dask warns about graphs over 10 MB).
        futures = {
            k: self.client.submit(
                _pass_task, self.futures[k], self.client.scatter(r, hash=False), pure=False
            )
            for k, r in requests.items()
        }
        got = self.client.gather(futures)
        self.sent += sum(n for _, n in got.values())
        return {k: sums for k, (sums, _) in got.items()}

    def fetch(self, origin: np.ndarray) -> np.ndarray:
        """Residual rows, each fetched once (kept: the pass's few-firm groups are read again
        for their exact pairwise correlations)."""
        keys = [tuple(o) for o in origin.tolist()]
        missing = np.array([k not in self._rows for k in keys], dtype=bool)
        if missing.any():
            want = origin[missing]
            part = want[:, 0]
            futures = {
                int(k): self.client.submit(
                    _rows_task, self.futures[k], want[part == k, 1:], pure=False
                )
                for k in np.unique(part)
            }
            for k, rows in self.client.gather(futures).items():
                self.sent += rows.nbytes
                for key, row in zip(map(tuple, want[part == k].tolist()), rows, strict=True):
                    self._rows[key] = row
        return np.array([self._rows[k] for k in keys])


def _pass_task(result: dict[str, Any], request: PartRequest) -> tuple[PartSums, int]:
    """A partition's half of the battery's residual pass, on the worker holding its fits."""
    sums = partition_sums([b[0] for b in result["batches"]], request)
    return sums, len(pickle.dumps(sums, protocol=5))


def _rows_task(result: dict[str, Any], where: np.ndarray) -> np.ndarray:
    """Residual rows ``where`` ((fit, row) pairs) of a partition's fits."""
    fits = [b[0] for b in result["batches"]]
    out = np.empty((len(where), fits[int(where[0, 0])].resid.shape[1]))
    for b in np.unique(where[:, 0]):
        sel = where[:, 0] == b
        out[sel] = fits[int(b)].resid[where[sel, 1]]
    return out
