"""The Dask scenario of ``make bench --dask``: the local engine against a LocalCluster of threads
and of processes on one Parquet price dataset, then the scaling run (1, 2, 4 worker processes;
the results gathered on the client against written from the workers). Each job runs in a fresh
interpreter (:func:`benchmarks.common._in_subprocess`)."""

from __future__ import annotations

import gc
import importlib
import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import (
    WINDOWS,
    _current_rss_mib,
    _Guard,
    _in_subprocess,
    _peak_rss_mib,
    _reset_peak_rss,
    _stage_peak_rss_mib,
)


def run_dask_scenario(
    firm_events: int, *, seed: int = 0, workers: int = 2, scaling: Sequence[int] = (1, 2, 4)
) -> dict[str, Any]:
    """The same study from a Parquet price dataset: the local engine (read, returns, fit) against
    :func:`~eventstudy.engines.dask.fit_events_dask` on a LocalCluster of ``workers`` threads (the
    default) and of ``workers`` processes (what a multi-machine cluster pays in serialisation);
    the CAR frames must be identical. Then the scaling run (:func:`_dask_scaling`) on
    LocalClusters of ``scaling`` worker processes."""
    import pandas as pd
    from distributed import Client, LocalCluster

    from eventstudy import EventStudy
    from eventstudy.engines.dask import fit_events_dask, write_prices
    from eventstudy.synthetic import long_prices, scenario

    cfg = scenario(firm_events, seed=seed)
    returns, events = cfg.generate()
    settings: dict[str, Any] = {"market": cfg.market, **WINDOWS}
    out: dict[str, Any] = {"firm_events": len(events), "workers": workers}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "prices.parquet"
        t0 = time.perf_counter()
        write_prices(long_prices(returns), path)
        out["write_parquet"] = time.perf_counter() - t0
        del returns

        t0 = time.perf_counter()
        prices = pd.read_parquet(path)
        local = EventStudy.from_prices(prices, **settings).fit(events)
        local_car = local.car_frame()
        out["local"] = time.perf_counter() - t0
        del prices, local

        for mode, processes in (("threads", False), ("processes", True)):
            t0 = time.perf_counter()
            with (
                LocalCluster(
                    n_workers=workers if processes else 1,
                    threads_per_worker=1 if processes else workers,
                    processes=processes,
                    dashboard_address=None,
                ) as cluster,
                Client(cluster) as client,
            ):
                client.wait_for_workers(workers if processes else 1)
                out[f"cluster_start_{mode}"] = time.perf_counter() - t0
                t0 = time.perf_counter()
                remote = fit_events_dask(path, events, scheduler=client, **settings)
                remote_car = remote.car_frame()
                out[f"dask_{mode}"] = time.perf_counter() - t0
                out[f"task_seconds_{mode}"] = remote.meta.get("engine_task_seconds")
                del remote
            pd.testing.assert_frame_equal(remote_car, local_car, check_exact=True)
        out["identical"] = True
        out["scaling"] = _dask_scaling(path, events, settings, scaling, Path(tmp))
    out["peak_rss_mib"] = _peak_rss_mib()
    return out


def _dask_scaling(
    path: Path, events: Any, settings: dict[str, Any], processes: Sequence[int], tmp: Path
) -> list[dict[str, Any]]:
    """Results folder (Parquet tables) from LocalClusters of ``processes`` worker processes of
    one thread each, two ways: ``gather`` (every fitted array back to the client, which writes
    the folder with ``save``) and ``out`` (``fit_events_dask(..., out=...)``: the workers write
    the AR table's parts), each run in a fresh interpreter (:func:`run_dask_scaling_run`) so that
    the client's memory is its own. The two folders' tables must be equal (the tests within
    ``partitioned.TOLERANCE``: with ``out`` the battery's residual pass runs on the workers)."""
    import numpy as np
    import pandas as pd
    import pyarrow.parquet as pq

    from eventstudy.inference.partitioned import TOLERANCE

    events_path = tmp / "events.parquet"
    events.to_parquet(events_path)
    rows = []
    for n in processes:
        row: dict[str, Any] = {"processes": n}
        for mode in ("gather", "out"):
            job = {
                "kind": "dask-scaling-run",
                "prices": str(path),
                "events": str(events_path),
                "settings": settings,
                "processes": n,
                "mode": mode,
                "folder": str(tmp / f"results-{n}-{mode}"),
                "max_rss_mib": _Guard.limit_mib,
            }
            run = _in_subprocess(job)
            row |= {f"{mode}_{k}": v for k, v in run.items()}
        for name in ("car", "tests", "params", "valuation"):
            got = pd.read_parquet(tmp / f"results-{n}-out" / f"{name}.parquet")
            want = pd.read_parquet(tmp / f"results-{n}-gather" / f"{name}.parquet")
            if name == "tests":  # the partitions' sums added in another order
                numbers = ["statistic", "p_value"]
                for column in numbers:
                    np.testing.assert_allclose(got[column], want[column], **TOLERANCE)
                got, want = got.drop(columns=numbers), want.drop(columns=numbers)
            pd.testing.assert_frame_equal(got, want, check_exact=True)
        # The AR table: as many rows in the workers' parts as in the client's file.
        parts = (tmp / f"results-{n}-out" / "abnormal_returns").iterdir()
        whole = tmp / f"results-{n}-gather" / "abnormal_returns.parquet"
        assert sum(pq.read_metadata(p).num_rows for p in parts) == pq.read_metadata(whole).num_rows
        rows.append(row)
    return rows


def run_dask_scaling_run(
    prices: str, events: str, settings: dict[str, Any], processes: int, mode: str, folder: str
) -> dict[str, Any]:
    """One run of the scaling table, in this (fresh) interpreter as the client: a LocalCluster of
    ``processes`` worker processes (warmed: the package imported before the clock starts), the
    results folder written ``mode`` way. Wall time, the client's peak RSS above its RSS before
    the run, and the MiB the tasks sent back (pickled)."""
    import pandas as pd
    from distributed import Client, LocalCluster

    from eventstudy.engines.dask import fit_events_dask

    frame = pd.read_parquet(events)
    t0 = time.perf_counter()
    with (
        LocalCluster(
            n_workers=processes, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(processes)
        client.run(importlib.import_module, "eventstudy.engines.dask_output")
        start = time.perf_counter() - t0
        gc.collect()
        before = _current_rss_mib() or 0.0
        _reset_peak_rss()
        t0 = time.perf_counter()
        if mode == "gather":
            res = fit_events_dask(prices, frame, scheduler=client, **settings)
            res.save(folder, format="parquet", figures=False)
            sent = res.meta["engine_bytes_to_client"]
        else:
            fit_events_dask(prices, frame, scheduler=client, out=folder, **settings)
            summary = json.loads((Path(folder) / "summary.json").read_text())
            sent = summary["meta"]["engine_bytes_to_client"]
        seconds = time.perf_counter() - t0
        peak = (_stage_peak_rss_mib() or 0.0) - before
    return {"seconds": seconds, "client_mib": peak, "mib_to_client": sent / 2**20,
            "cluster_start": start}  # fmt: skip


def format_dask_scaling(rows: list[dict[str, Any]]) -> str:
    lines = [
        "Dask scaling: results folder (Parquet) from LocalClusters of worker processes (1 thread "
        "each), each run in a fresh client process;",
        "  gather = every fitted array to the client, which writes the folder; out = the workers "
        "write the AR parts",
        "  processes   gather: time  client MiB  MiB sent    out: time  client MiB  MiB sent",
    ]
    for r in rows:
        lines.append(
            f"  {r['processes']:>9}   {r['gather_seconds']:11.2f}s {r['gather_client_mib']:11.0f} "
            f"{r['gather_mib_to_client']:9.0f}   {r['out_seconds']:9.2f}s "
            f"{r['out_client_mib']:11.0f} {r['out_mib_to_client']:9.0f}"
        )
    return "\n".join(lines)


def format_dask(r: dict[str, Any]) -> str:
    w = r["workers"]
    return (
        f"Dask engine, {r['firm_events']:,} firm-events from a Parquet price dataset "
        f"(read, returns, fit, CAR frame):\n"
        f"  local engine:                                    {r['local']:6.2f}s\n"
        f"  dask, LocalCluster of {w} threads (the default):   {r['dask_threads']:6.2f}s "
        f"(+ {r['cluster_start_threads']:.2f}s cluster start; slowest task "
        f"{r['task_seconds_threads']})\n"
        f"  dask, LocalCluster of {w} worker processes:        {r['dask_processes']:6.2f}s "
        f"(+ {r['cluster_start_processes']:.2f}s cluster start; slowest task "
        f"{r['task_seconds_processes']})\n"
        f"  CAR frames identical to the local engine's: {r['identical']}; writing the Parquet "
        f"dataset took {r['write_parquet']:.2f}s\n"
        f"  peak RSS of the client process: {r['peak_rss_mib']:.0f} MiB inside, "
        f"{r['outside_peak_rss_mib']:.0f} MiB from outside (os.wait4; the cluster's worker "
        "processes are its children and not counted)"
        + (f"\n{format_dask_scaling(r['scaling'])}" if r.get("scaling") else "")
    )
