"""The command-line scenario of ``make bench`` (:mod:`benchmarks.bench` runs each job here in a
fresh process).

A synthetic study (:func:`eventstudy.synthetic.scenario`, 100k firm-events by default) is written
as a user would hand it to the command line: a long price CSV (``ticker,date,close,adj_close,
volume``, sorted by date as many vendors write it) and a study file listing every event's firms.
Then, each in its own process:

1. ``eventstudy run study.yaml --prices prices.csv --offline --no-figures -q`` in-process (the
   command's own code through ``eventstudy.cli.main``) with a fresh price store in a temporary
   folder, every table written; each stage timed by wrapping the function that does it: import,
   study file, prices (read, the rows staged beside the store as they are read), returns panel,
   fit, test battery, tables (CSV), ``summary.json`` (and its size), and storing the staged file
   once the study ran ("prices: store");
2. the same command again on the same store: the price file is stored already and is only read
   (its SHA-256 is read and no row staged: the study's own cost); and
   once more with ``--format parquet``;
3. the floor, the same study through the documented library path: the price file read with
   pyarrow, wide prices and returns (``EventStudy.from_prices``), the events frame, the fit, the
   CAR frame and the test battery;

1 and 3 run ``--repeat`` times, alternating, and the fastest run of each is compared;
4. start-up: ``eventstudy --help`` against ``python -c "import click"`` (best of five each).
"""

from __future__ import annotations

import functools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import CAR_WINDOWS, ESTIMATION, EVENT, WINDOWS, _peak_rss_mib

#: CLI stages in the order they run, as printed.
CLI_STAGES = (
    "import",
    "study file",
    "prices: read",
    "prices: store",
    "panel",
    "fit",
    "tests",
    "tables",
    "summary.json",
    "other",
)
LIBRARY_STAGES = ("import", "read", "returns", "events", "fit", "car frame", "tests")


def _cpu_seconds() -> float:
    """User and system CPU time of this process so far (all its threads) and of the processes
    it waited for: on a shared machine less disturbed by other processes than wall time."""
    return sum(
        usage.ru_utime + usage.ru_stime
        for usage in map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    )


# ----------------------------------------------------------------------------- the data
def make_data(firm_events: int, folder: str, seed: int = 0) -> dict[str, Any]:
    """Write ``prices.csv``, ``study.yaml`` and ``events.csv`` of the scenario into ``folder``."""
    from eventstudy.output.files import write_csv
    from eventstudy.synthetic import long_prices, scenario

    out = Path(folder)
    cfg = scenario(firm_events, seed=seed)
    returns, events = cfg.generate()
    prices = long_prices(returns)  # sorted by date, then ticker
    write_csv(prices, out / "prices.csv")
    write_csv(events, out / "events.csv")
    study_events = [
        {
            "name": str(name),
            "date": f"{rows['date'].iloc[0]:%Y-%m-%d}",
            "tickers": list(rows["ticker"]),
        }
        for name, rows in events.groupby("event", sort=False)
    ]
    study = {
        "study": f"Synthetic {firm_events:,} firm-events",
        "market": cfg.market,
        "model": "market",
        "estimation_window": list(ESTIMATION),
        "event_window": list(EVENT),
        "car_windows": [list(w) for w in CAR_WINDOWS],
        "events": study_events,
    }
    # JSON is YAML: the study file as a flow mapping, one line.
    (out / "study.yaml").write_text(json.dumps(study), encoding="utf-8")
    return {
        "firm_events": len(events),
        "events": cfg.n_events,
        "firms": cfg.n_firms,
        "market": cfg.market,
        "price_rows": len(prices),
        "prices_mb": (out / "prices.csv").stat().st_size / 1e6,
        "study_mb": (out / "study.yaml").stat().st_size / 1e6,
    }


# ----------------------------------------------------------------------------- the command line
class _Stages:
    """Wall time per stage, summed over the calls of the functions wrapped."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}

    def add(self, stage: str, seconds: float) -> None:
        self.times[stage] = self.times.get(stage, 0.0) + seconds

    def wrap(self, owner: Any, name: str, stage: str) -> None:
        """Time every call of ``owner.name`` as ``stage``."""
        func = getattr(owner, name)

        @functools.wraps(func)
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                self.add(stage, time.perf_counter() - t0)

        setattr(owner, name, timed)


def run_cli(folder: str, cache: str, out: str, table_format: str = "csv") -> dict[str, Any]:
    """``eventstudy run`` on the scenario in ``folder`` in this process, stage by stage."""
    stages = _Stages()
    t_start = time.perf_counter()
    import eventstudy.cli
    import eventstudy.output.folder
    import eventstudy.output.transaction
    import eventstudy.pipeline  # what `run` imports before it reads anything

    stages.add("import", time.perf_counter() - t_start)
    import eventstudy.data.ingest
    import eventstudy.data.store
    import eventstudy.inference.battery
    import eventstudy.study

    stages.wrap(eventstudy.study, "load_study", "study file")
    stages.wrap(eventstudy.pipeline, "ingest_price_file", "prices: read")
    stages.wrap(eventstudy.data.store.PriceStore, "store_staged", "prices: store")
    stages.wrap(eventstudy.pipeline, "build_panel", "panel")
    stages.wrap(eventstudy.pipeline, "fit_events", "fit")
    stages.wrap(eventstudy.inference.battery, "test_battery", "tests")
    stages.wrap(eventstudy.output.transaction, "write_tables", "tables")  # as write_stage calls it
    stages.wrap(eventstudy.output.folder, "summary_dict", "summary.json")
    stages.wrap(eventstudy.output.folder, "json_text", "summary.json")

    args = [
        "run",
        str(Path(folder) / "study.yaml"),
        "--prices",
        str(Path(folder) / "prices.csv"),
        "--offline",
        "--no-figures",
        "-q",
        "--cache-dir",
        cache,
        "--out",
        out,
        "--format",
        table_format,
    ]
    try:
        eventstudy.cli.main(args, standalone_mode=False)
    except SystemExit as exc:  # an error was printed
        raise RuntimeError(f"eventstudy run failed with status {exc.code}") from None
    end_to_end = time.perf_counter() - t_start
    times = stages.times
    # Nested stages: the battery (in a thread beside the other tables) and summary.json run
    # within write_tables; "tables" is the rest of that wall time, so the stages add up.
    times["tables"] -= times.get("tests", 0.0) + times.get("summary.json", 0.0)
    times["other"] = end_to_end - sum(v for k, v in times.items() if k != "other")
    return {
        **times,
        "end_to_end": end_to_end,
        "cpu": _cpu_seconds(),
        "summary_mb": (Path(out) / "summary.json").stat().st_size / 1e6,
        "tables_mb": sum(p.stat().st_size for p in Path(out).glob(f"*.{table_format}")) / 1e6,
        "peak_rss_mib": _peak_rss_mib(),
    }


# ----------------------------------------------------------------------------- the library floor
def run_library(folder: str, market: str) -> dict[str, Any]:
    """The same study through the documented library path, stage by stage."""
    times: dict[str, float] = {}
    t_start = t0 = time.perf_counter()
    import pandas as pd
    import pyarrow.csv as pa_csv

    from eventstudy import EventStudy

    times["import"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    prices = pa_csv.read_csv(Path(folder) / "prices.csv").to_pandas()
    times["read"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    wide = prices.pivot(index="date", columns="ticker", values="adj_close")
    study = EventStudy.from_prices(
        wide,
        market=market,
        model="market",
        **WINDOWS,
    )
    times["returns"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    events = pd.read_csv(Path(folder) / "events.csv", parse_dates=["date"])
    times["events"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = study.fit(events)
    times["fit"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    res.car_frame()
    times["car frame"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    res.tests_frame()
    times["tests"] = time.perf_counter() - t0
    return {
        **times,
        "end_to_end": time.perf_counter() - t_start,
        "cpu": _cpu_seconds(),
        "peak_rss_mib": _peak_rss_mib(),
    }


# ----------------------------------------------------------------------------- start-up
def startup(repeat: int = 5) -> dict[str, Any]:
    """Wall time of ``eventstudy --help`` and of ``python -c "import click"``, best of
    ``repeat`` fresh interpreters each."""

    def best(cmd: list[str]) -> float:
        runs = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            runs.append(time.perf_counter() - t0)
        return min(runs)

    help_s = best([sys.executable, "-m", "eventstudy.cli", "--help"])
    click_s = best([sys.executable, "-c", "import click"])
    return {"help": help_s, "click": click_s, "ratio": help_s / click_s}


# ----------------------------------------------------------------------------- the scenario
def run_all(
    firm_events: int,
    in_subprocess: Callable[[dict[str, Any]], dict[str, Any]],
    repeat: int = 1,
) -> dict[str, Any]:
    """Every job of the scenario, each in a fresh process (``in_subprocess``). The fresh-store
    command and the library floor run ``repeat`` times, alternating, and the fastest of each is
    kept (``runs`` says how many): on a shared machine the ratio then compares the least
    disturbed runs of both, not whichever happened to run while another process was busy."""
    with tempfile.TemporaryDirectory(prefix="eventstudy-bench-") as tmp:
        data = in_subprocess({"kind": "cli-data", "firm_events": firm_events, "folder": tmp})
        firsts, libraries = [], []
        for k in range(max(1, repeat)):
            cache = os.path.join(tmp, f"cache{k}")
            out = os.path.join(tmp, f"run{k}")
            firsts.append(in_subprocess({"kind": "cli", "folder": tmp, "cache": cache, "out": out}))
            libraries.append(
                in_subprocess({"kind": "library", "folder": tmp, "market": data["market"]})
            )
        cache = os.path.join(tmp, "cache0")
        again = in_subprocess(
            {"kind": "cli", "folder": tmp, "cache": cache, "out": os.path.join(tmp, "out2")}
        )
        parquet = in_subprocess(
            {
                "kind": "cli",
                "folder": tmp,
                "cache": cache,
                "out": os.path.join(tmp, "out3"),
                "table_format": "parquet",
            }
        )
    return {
        "data": data,
        "cli": min(firsts, key=lambda r: r["end_to_end"]),
        "cli_stored": again,
        "cli_parquet": parquet,
        "library": min(libraries, key=lambda r: r["end_to_end"]),
        "runs": len(firsts),
        "startup": startup(),
    }


def worker(job: dict[str, Any]) -> dict[str, Any]:
    """One job of :func:`run_all` (``kind``: cli-data, cli, library)."""
    kind = job.pop("kind")
    if kind == "cli-data":
        return make_data(**job)
    if kind == "cli":
        return run_cli(**job)
    return run_library(**job)


def format_cli(r: dict[str, Any]) -> str:
    d, cli, again, lib, start = r["data"], r["cli"], r["cli_stored"], r["library"], r["startup"]
    pq = r["cli_parquet"]

    def row(result: dict[str, Any], names: tuple[str, ...]) -> str:
        parts = [f"{k} {result[k]:.2f}s" for k in names if k in result]
        return ", ".join(parts)

    ratio = cli["end_to_end"] / lib["end_to_end"]
    runs = r.get("runs", 1)
    best = f", the fastest of {runs} alternating runs of each" if runs > 1 else ""
    lines = [
        f"Command line, {d['firm_events']:,} firm-events ({d['events']:,} events, "
        f"{d['firms']:,} firms): a {d['prices_mb']:.0f} MB long price file of "
        f"{d['price_rows']:,} rows and a {d['study_mb']:.1f} MB study file; every table, "
        f"no figures{best}",
        f"  eventstudy run, fresh store:   {cli['end_to_end']:6.2f}s  "
        f"(CPU {cli['cpu']:.1f}s, peak {cli['peak_rss_mib']:.0f} MiB)",
        f"    {row(cli, CLI_STAGES)}",
        f"  again, the price file stored:  {again['end_to_end']:6.2f}s  "
        f"(CPU {again['cpu']:.1f}s; prices: read {again['prices: read']:.2f}s, store "
        f"{again.get('prices: store', 0.0):.2f}s)",
        f"  again, --format parquet:       {pq['end_to_end']:6.2f}s  "
        f"(CPU {pq['cpu']:.1f}s; tables {pq['tables']:.2f}s and {pq['tables_mb']:.0f} MB, "
        f"CSV {again['tables']:.2f}s and {again['tables_mb']:.0f} MB)",
        f"  library path (floor):          {lib['end_to_end']:6.2f}s  "
        f"(CPU {lib['cpu']:.1f}s, peak {lib['peak_rss_mib']:.0f} MiB)",
        f"    {row(lib, LIBRARY_STAGES)}",
        f"  CLI / library: {ratio:.2f}x (target <= 2x; CPU time "
        f"{cli['cpu'] / lib['cpu']:.2f}x); the price file stored: "
        f"{again['end_to_end'] / lib['end_to_end']:.2f}x",
        f"  summary.json: {cli['summary_mb']:.2f} MB (target <= 5 MB); the CSV tables "
        f"{cli['tables_mb']:.0f} MB",
        f'Start-up: eventstudy --help {start["help"]:.3f}s, python -c "import click" '
        f"{start['click']:.3f}s: {start['ratio']:.1f}x (target <= 3x)",
    ]
    return "\n".join(lines)
