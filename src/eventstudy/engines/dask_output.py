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
  normal returns when no event asks for BHARs, which compound them), and not the firms' return
  and close histories. From them it writes ``car``, ``bhar``, ``aar``, ``caar``, ``params``,
  ``skipped``, ``variance_ratio``, ``tests`` and ``summary.json`` with the local engine's code.
  The test battery truly needs every firm-event's estimation residuals on one machine: the mean
  residual correlation of the cross-correlation adjusted tests (Kolari & Pynnönen 2010) pairs
  firms of an event across partitions, and the rank tests' per-day sums, added up per partition,
  would be floating-point sums in another order (not the local engine's bits); ``car.csv``'s
  sample-quantile p-values read them too. So the residuals travel; the returns, closes and
  event-window returns do not, and the client never builds the abnormal-returns table.

The folder is written as one transaction (:func:`eventstudy.output.transaction.run_transaction`):
the workers and the client write into its staging folder, which is committed only once every
part and table is there; a failed run leaves the previous folder as it was.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eventstudy.data.panel import ReturnsPanel
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


def finish(results: EventStudyResults, parts: list[dict[str, Any]], tables: Path) -> None:
    """Write the client's tables and ``summary.json`` into the staging folder ``tables`` beside
    the workers' parts: the quality and valuation rows the workers sent, put in study order, and
    every other table from ``results`` (the merged, slimmed fits)."""
    order: dict[tuple[str, str], int] = {}
    for e in results.events:
        for t in e.tickers:
            order[(e.name, t)] = len(order)
    # The frames the workers computed stand in for the results' own (which would need the
    # firms' returns and closes): the results cache them under these names.
    results.__dict__["_quality"] = _in_study_order([p["quality"] for p in parts], order)
    results.__dict__["_valuation"] = _in_study_order([p["valuation"] for p in parts], order)
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
