"""``make bench``: how long the whole pipeline takes on 1k, 10k and 100k firm-events.

    python -m benchmarks.bench                 # 1k, 10k, 100k firm-events (+ statsmodels on 1k)
    python -m benchmarks.bench --quick         # 1k and 10k only
    python -m benchmarks.bench --dask          # also the Dask engine on a LocalCluster
    python -m benchmarks.bench --sizes 1000000 # the memory check
    python -m benchmarks.bench --profile DIR   # pyinstrument profiles of every stage
    python -m benchmarks.bench --no-measures   # without the volume and volatility scenario
    python -m benchmarks.bench --no-cli        # without the command-line scenario
    python -m benchmarks.bench --no-demo       # without the demo's charts scenario

The command-line scenario (:mod:`benchmarks.cli_bench`: ``eventstudy run`` on a price file and
a study file of 100k firm-events, stage by stage, against the same study through the library,
and ``eventstudy --help`` against ``import click``) runs last; ``--cli-size N`` changes its size.
The demo scenario (:mod:`benchmarks.demo_bench`: ``eventstudy run events.yaml --sample deepseek``
with its charts, drawn by worker processes and in one process, against ``--no-figures``, each run
a fresh process) runs after it.

Each scenario (:func:`eventstudy.synthetic.scenario`: events of 100 firms, each firm in about 50
events at different dates, six years of sessions, market model, estimation window [-250, -11],
event window [-5, 5], CAR windows [0, 0], [-1, 1], [-5, 5]) runs in a fresh Python process, through
the public API, as a user would call it:

1. ``fit``: ``EventStudy(returns, ...).fit(events)`` (returns panel in memory -> batched fit),
2. ``frames``: ``res.ar_frame()`` and ``res.car_frame()``,
3. ``tests``: the full test battery (``res.tests_frame()``),
4. ``write``: ``tests.csv``, with the writer ``eventstudy run`` uses
   (:func:`~eventstudy.output.files.write_csv`).

Apart from the stages, it times the bootstrap tests of the study key ``bootstrap`` (999
replications) and reports them as a ratio to the ``tests`` stage (the issue asks for at most 10x).

``end to end`` is their sum. ``peak RSS`` is the process's peak resident memory
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``), interpreter, libraries and the synthetic panel
included. In the same process it times the *pure fit*
(:func:`~eventstudy.estimation.kernel.fit_batch` on
the same firm-events, no frames) and, on the 1k scenario, a per-firm-event statsmodels OLS loop
doing what a typical Python package does (fit, ARs, CARs), checked against our CARs.

The *measures* scenario (100k firm-events; 10k with ``--quick``) runs the same study twice in one
process, on the synthetic panel with its synthetic volume
(:meth:`~eventstudy.synthetic.SyntheticConfig.generate_volume`): returns alone, then
``measures=("return", "volume", "volatility")`` (frames: also the abnormal volume, CAV, abnormal
volatility and variance-ratio frames; tests: the battery of every measure), after an untimed
small study that loads every module (every other run of ``--repeat`` times all three first).
It prints both, stage by stage, and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import (
    CAR_WINDOWS,
    ESTIMATION,
    EVENT,
    WINDOWS,
    _current_rss_mib,
    _Guard,
    _in_subprocess,
    _peak_rss_mib,
    _reset_peak_rss,
    _stage_peak_rss_mib,
)

SIZES = (1_000, 10_000, 100_000)
QUICK_SIZES = (1_000, 10_000)
STAGES = ("fit", "frames", "tests", "write")
#: Replications of the bootstrap tests timed against the analytic battery.
BOOTSTRAP_REPS = 999
#: Issue #16's target for the library run of 1M firm-events: end to end and peak memory (seen
#: from outside the process).
TARGET_FIRM_EVENTS, TARGET_SECONDS, TARGET_GIB = 1_000_000, 25.0, 4.0


# ----------------------------------------------------------------------------- one scenario
def run_scenario(
    firm_events: int,
    *,
    seed: int = 0,
    statsmodels_loop: bool = False,
    profile_dir: Path | None = None,
) -> dict[str, Any]:
    """Run one scenario in this process and return its timings (seconds) and memory (MiB)."""
    from eventstudy import EventStudy
    from eventstudy.output.files import write_csv
    from eventstudy.synthetic import scenario

    cfg = scenario(firm_events, seed=seed)
    t0 = time.perf_counter()
    returns, events = cfg.generate()
    out: dict[str, Any] = {
        "firm_events": len(events),
        "events": cfg.n_events,
        "firms": cfg.n_firms,
        "days": cfg.n_days,
        "generate": time.perf_counter() - t0,
        "rss_data_mib": _current_rss_mib(),
    }
    timer = _Timer(profile_dir, f"{firm_events}")
    _Guard.partial.update(scenario=out, times=timer.times, peaks=timer.peaks)
    with tempfile.TemporaryDirectory() as tmp:
        with timer("fit"):
            study = EventStudy(
                returns,
                market=cfg.market,
                model="market",
                **WINDOWS,
            )
            res = study.fit(events)
        with timer("frames"):
            res.ar_frame()
            car = res.car_frame()
        battery = _battery()
        if battery is not None:
            with timer("tests"):
                tests = battery(res)
            with timer("write"):
                write_csv(tests, Path(tmp) / "tests.csv")
            out["tests_rows"] = len(tests)
            # The bootstrap tests (study key bootstrap: {reps: 999, seed: 1}), not a stage of
            # the default run: timed apart, as a ratio to the analytic battery above.
            res.meta["bootstrap"] = {"reps": BOOTSTRAP_REPS, "seed": 1}
            t0 = time.perf_counter()
            boot = res._bootstrap_tests()
            out["bootstrap"] = time.perf_counter() - t0
            out["bootstrap_rows"] = sum(len(b) for b in boot)
    out.update(timer.times)
    out["stage_peak_rss_mib"] = timer.peaks
    out["end_to_end"] = sum(timer.times.get(s, 0.0) for s in STAGES)
    out["peak_rss_mib"] = _peak_rss_mib()

    # The pure fit: the vectorised estimator alone on the same firm-events.
    from eventstudy.estimation.kernel import Design, fit_batch

    panel = study.panel
    col = panel.columns(list(events["ticker"]))
    day0 = panel.dates.get_indexer(events["date"])
    design = Design(regressors=panel.series(cfg.market)[:, None], names=(cfg.market,))
    t0 = time.perf_counter()
    fit_batch(panel.values, design, col, day0, ESTIMATION, EVENT, 100)
    out["pure_fit"] = time.perf_counter() - t0

    if statsmodels_loop:
        t0 = time.perf_counter()
        cars = statsmodels_loop_cars(panel.values, panel.column(cfg.market), col, day0)
        out["statsmodels"] = time.perf_counter() - t0
        ours = car.set_index(["event", "ticker", "start", "end"])["car"]
        keys = zip(events["event"], events["ticker"], strict=True)
        want = np.array([[ours.get((e, t, *w), np.nan) for w in CAR_WINDOWS] for e, t in keys])
        out["statsmodels_max_abs_diff"] = float(np.nanmax(np.abs(want - cars)))
    return out


def statsmodels_loop_cars(
    values: np.ndarray, market: int, col: np.ndarray, day0: np.ndarray, min_obs: int = 100
) -> np.ndarray:
    """The per-firm-event loop of a typical Python event-study package: an OLS market model with
    statsmodels, the event-window ARs, and the CARs of :data:`CAR_WINDOWS` (n, 3). Slices come
    straight from the numpy panel, which favours the loop over packages that slice DataFrames."""
    import statsmodels.api as sm

    out = np.full((len(col), len(CAR_WINDOWS)), np.nan)
    m = values[:, market]
    for i, (j, d) in enumerate(zip(col, day0, strict=True)):
        est = slice(max(0, d + ESTIMATION[0]), d + ESTIMATION[1] + 1)
        y, x = values[est, j], m[est]
        keep = np.isfinite(y) & np.isfinite(x)
        if keep.sum() < min_obs:
            continue
        fit = sm.OLS(y[keep], sm.add_constant(x[keep], has_constant="add")).fit()
        ev = slice(d + EVENT[0], d + EVENT[1] + 1)
        ar = values[ev, j] - fit.predict(sm.add_constant(m[ev], has_constant="add"))
        for w, (a, b) in enumerate(CAR_WINDOWS):
            window = ar[a - EVENT[0] : b - EVENT[0] + 1]
            if np.isfinite(window).any():
                out[i, w] = np.nansum(window)
    return out


def _battery() -> Callable[[Any], Any] | None:
    """The full test battery as users get it (``res.tests_frame()``)."""
    return lambda res: res.tests_frame()


class _Timer:
    """Wall time and peak RSS per stage; with a profile folder, a pyinstrument profile per stage
    as well."""

    def __init__(self, profile_dir: Path | None, prefix: str) -> None:
        self.times: dict[str, float] = {}
        self.peaks: dict[str, float] = {}
        self.profile_dir = profile_dir
        self.prefix = prefix

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        _Guard.stage = stage
        _reset_peak_rss()
        profiler: Any = None
        if self.profile_dir is not None:
            try:
                from pyinstrument import Profiler

                profiler = Profiler(interval=0.002)
            except ImportError:  # not installed: the standard library's deterministic profiler
                import cProfile

                profiler = cProfile.Profile()
            if hasattr(profiler, "start"):
                profiler.start()
            else:
                profiler.enable()
        t0 = time.perf_counter()
        yield
        self.times[stage] = time.perf_counter() - t0
        peak = _stage_peak_rss_mib()
        if peak is not None:
            self.peaks[stage] = peak
        if profiler is not None:
            assert self.profile_dir is not None
            self.profile_dir.mkdir(parents=True, exist_ok=True)
            path = self.profile_dir / f"{self.prefix}-{stage}.txt"
            if hasattr(profiler, "output_text"):
                profiler.stop()
                text = profiler.output_text(unicode=False, color=False)
            else:
                import io
                import pstats

                profiler.disable()
                buf = io.StringIO()
                pstats.Stats(profiler, stream=buf).sort_stats("cumulative").print_stats(40)
                text = buf.getvalue()
            path.write_text(text, encoding="utf-8")


# ----------------------------------------------------------------------------- measures scenario
MEASURES = ("return", "volume", "volatility")


def run_measures_scenario(
    firm_events: int, *, seed: int = 0, all_first: bool = False
) -> dict[str, Any]:
    """Returns alone, then all three measures (the other way round with ``all_first``), on the
    same study in this process: each stage's time and peak RSS per run (module docstring)."""
    from eventstudy import EventStudy
    from eventstudy.output.files import write_csv
    from eventstudy.synthetic import scenario

    def study(cfg: Any, returns: Any, events: Any, volume: Any, measures: tuple, timer: Any) -> int:
        with tempfile.TemporaryDirectory() as tmp:
            with timer("fit"):
                res = EventStudy(
                    returns,
                    market=cfg.market,
                    model="market",
                    **WINDOWS,
                    measures=measures,
                    volume=None if measures == ("return",) else volume,
                ).fit(events)
            with timer("frames"):
                res.ar_frame()
                res.car_frame()
                if "volume" in measures:
                    res.volume_frame()
                    res.cav_frame()
                if "volatility" in measures:
                    res.volatility_frame()
                    res.variance_ratio_frame()
            with timer("tests"):
                tests = res.tests_frame()
            with timer("write"):
                write_csv(tests, Path(tmp) / "tests.csv")
        return len(tests)

    small = scenario(1_000, seed=seed)  # untimed: imports and first calls
    study(small, *small.generate(), small.generate_volume(), MEASURES, _Timer(None, "warm-up"))

    cfg = scenario(firm_events, seed=seed)
    returns, events = cfg.generate()
    volume = cfg.generate_volume()
    out: dict[str, Any] = {"firm_events": len(events), "events": cfg.n_events, "firms": cfg.n_firms}
    runs = [("returns", ("return",)), ("all", MEASURES)]
    for label, measures in runs[::-1] if all_first else runs:
        timer = _Timer(None, label)
        _Guard.partial.update(scenario=out, times=timer.times, peaks=timer.peaks)
        cpu = time.process_time()
        out[f"{label}_tests_rows"] = study(cfg, returns, events, volume, measures, timer)
        out[f"{label}_cpu"] = time.process_time() - cpu  # every thread's CPU time
        out[label] = dict(timer.times)
        out[f"{label}_peaks"] = dict(timer.peaks)
        out[f"{label}_end_to_end"] = sum(timer.times.values())
    out["ratio"] = out["all_end_to_end"] / out["returns_end_to_end"]
    out["peak_rss_mib"] = _peak_rss_mib()
    return out


def _best_measures(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each of the two studies at its least disturbed run (shortest end to end), and the ratio of
    those."""
    best = dict(runs[0])
    for label in ("returns", "all"):
        fastest = min(runs, key=lambda r: r[f"{label}_end_to_end"])
        for key in (label, f"{label}_peaks", f"{label}_end_to_end"):
            best[key] = fastest[key]
        best[f"{label}_cpu"] = min(r[f"{label}_cpu"] for r in runs)
    best["ratio"] = best["all_end_to_end"] / best["returns_end_to_end"]
    best["outside_peak_rss_mib"] = max(r["outside_peak_rss_mib"] for r in runs)
    best["ratios"] = [r["ratio"] for r in runs]
    best["cpu_ratio"] = best["all_cpu"] / best["returns_cpu"]
    return best


def format_measures(r: dict[str, Any]) -> str:
    head = f"{'':>16} | " + " ".join(f"{s:>7}" for s in STAGES) + f" | {'end to end':>10}"
    lines = [
        f"Measures, {r['firm_events']:,} firm-events, one process: returns alone against "
        f"measures={MEASURES}",
        head,
        "-" * len(head),
    ]
    for label, name in (("returns", "returns alone"), ("all", "all three")):
        t = r[label]
        cells = " ".join(f"{t[s]:6.2f}s" for s in STAGES)
        lines.append(f"{name:>16} | {cells} | {r[f'{label}_end_to_end']:9.2f}s")
    cells = " ".join(f"{r['all'][s] / r['returns'][s]:6.1f}x" for s in STAGES)
    lines.append(f"{'ratio':>16} | {cells} | {r['ratio']:9.2f}x")
    peaks = ", ".join(
        f"{name} {max(r[f'{label}_peaks'].values(), default=0):.0f} MiB"
        for label, name in (("returns", "returns alone"), ("all", "all three"))
    )
    lines.append(f"peak RSS per study: {peaks}; tests.csv rows {r['returns_tests_rows']:,} and "
                 f"{r['all_tests_rows']:,}")
    lines.append(
        f"peak RSS of the process (both studies): {r['peak_rss_mib']:.0f} MiB inside, "
        f"{r['outside_peak_rss_mib']:.0f} MiB from outside (os.wait4)"
    )
    lines.append(
        f"CPU time (all threads, least of the runs): {r['returns_cpu']:.2f}s and "
        f"{r['all_cpu']:.2f}s, ratio {r['cpu_ratio']:.2f}x"
    )
    if len(r.get("ratios", [])) > 1:
        each = ", ".join(f"{x:.2f}x" for x in r["ratios"])
        lines.append(f"ratio within each run: {each}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- driver
def _worker(job: dict[str, Any]) -> None:
    kind = job["kind"]
    _Guard.start(job.pop("max_rss_mib"))
    if kind in ("cli-data", "cli", "library"):
        from benchmarks import cli_bench

        result = cli_bench.worker(job)
    elif kind == "dask":
        from benchmarks.dask_bench import run_dask_scenario

        job.pop("kind")
        result = run_dask_scenario(**job)
    elif kind == "dask-scaling-run":
        from benchmarks.dask_bench import run_dask_scaling_run

        job.pop("kind")
        result = run_dask_scaling_run(**job)
    elif kind == "measures":
        job.pop("kind")
        result = run_measures_scenario(**job)
    else:
        job.pop("kind")
        profile = job.pop("profile_dir", None)
        result = run_scenario(**job, profile_dir=Path(profile) if profile else None)
    print("RESULT " + json.dumps(result), flush=True)


def machine() -> str:
    """Where the numbers came from."""
    import numpy
    import pandas
    import scipy
    import statsmodels

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kib / 2**20:.1f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    load = ", load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    try:
        thp = Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text().split()
        policy = next((w.strip("[]") for w in thp if w.startswith("[")), "?")
        load += f", transparent huge pages: {policy}"
    except OSError:
        pass
    return (
        f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} CPUs{mem}{load}\n"
        f"Python {platform.python_version()}, numpy {numpy.__version__}, pandas "
        f"{pandas.__version__}, scipy {scipy.__version__}, statsmodels {statsmodels.__version__}"
    )


#: numpy asks the kernel for transparent huge pages on arrays of 4 MB and more where the kernel's
#: policy is ``madvise``; this turns it off (numpy's documented switch, read at import).
NO_HUGEPAGES = {"NUMPY_MADVISE_HUGEPAGE": "0"}


def numpy_hugepages() -> bool:
    """Whether numpy in a fresh process will madvise huge pages (Linux, THP policy ``madvise``
    and ``NUMPY_MADVISE_HUGEPAGE`` not 0)."""
    try:
        policy = Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text()
    except OSError:
        return False
    return "[madvise]" in policy and os.environ.get("NUMPY_MADVISE_HUGEPAGE", "") != "0"


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The least disturbed of repeated runs: the one with the shortest end to end (its stages
    add up to it); the pure fit and the statsmodels loop at their fastest; the highest peak."""
    best = dict(min(runs, key=lambda r: r["end_to_end"]))
    for key in ("pure_fit", "statsmodels"):
        values = [r[key] for r in runs if key in r]
        if values:
            best[key] = min(values)
    best["peak_rss_mib"] = max(r["peak_rss_mib"] for r in runs)
    best["outside_peak_rss_mib"] = max(r["outside_peak_rss_mib"] for r in runs)
    return best


def format_table(results: Sequence[dict[str, Any]]) -> str:
    """The benchmark table: per-stage wall time, end to end, peak memory, ratios."""
    head = (
        f"{'firm-events':>11} {'events':>6} {'firms':>6} | {'fit':>7} {'frames':>7} "
        f"{'tests':>7} {'write':>7} | {'end to end':>10} | {'pure fit':>8} | {'peak RSS':>9} | "
        f"{'outside':>9}"
    )
    lines = [head, "-" * len(head)]

    def s(r: dict[str, Any], key: str) -> str:
        return f"{r[key]:6.2f}s" if key in r else f"{'n/a':>7}"

    for r in results:
        mark = "*" if r.get("no_hugepages") else " "
        lines.append(
            f"{r['firm_events']:>10,}{mark} {r['events']:>6,} {r['firms']:>6,} | {s(r, 'fit')} "
            f"{s(r, 'frames')} {s(r, 'tests')} {s(r, 'write')} | {r['end_to_end']:9.2f}s | "
            f"{r['pure_fit']:7.3f}s | {r['peak_rss_mib']:6.0f} MiB | "
            f"{r['outside_peak_rss_mib']:6.0f} MiB"
        )
    if any(r.get("no_hugepages") for r in results):
        lines.append(
            "* with NUMPY_MADVISE_HUGEPAGE=0: numpy does not ask for transparent huge pages "
            "(docs/performance.md)"
        )
    lines.append(
        "peak RSS: measured in the scenario's process before its pure fit; outside: the child's "
        "ru_maxrss as its parent reaped it (os.wait4), the whole run"
    )
    for r in results:
        if r["firm_events"] >= TARGET_FIRM_EVENTS:
            gib = r["outside_peak_rss_mib"] / 1024
            verdict = "within" if gib <= TARGET_GIB else "OVER"
            lines.append(
                f"  {r['firm_events']:>9,}: {gib:.2f} GiB peak from outside, {verdict} the "
                f"{TARGET_GIB:.0f} GiB target; {r['end_to_end']:.1f}s end to end (target "
                f"{TARGET_SECONDS:.0f}s)"
            )
    lines.append("")
    lines.append("peak RSS per stage (MiB; the panel and earlier stages' results included):")
    for r in results:
        peaks = r.get("stage_peak_rss_mib") or {}
        parts = ", ".join(f"{k} {peaks[k]:.0f}" for k in STAGES if k in peaks)
        mark = "*" if r.get("no_hugepages") else ""
        lines.append(f"  {r['firm_events']:>9,}{mark}: data {r['rss_data_mib']:.0f}, {parts}")
    lines.append("")
    lines.append("time per stage / pure fit (where the time goes):")
    for r in results:
        parts = ", ".join(f"{k} {r[k] / r['pure_fit']:.1f}x" for k in STAGES if k in r)
        mark = "*" if r.get("no_hugepages") else ""
        lines.append(
            f"  {r['firm_events']:>9,}{mark}: {parts}, "
            f"end to end {r['end_to_end'] / r['pure_fit']:.1f}x"
        )
    booted = [r for r in results if "bootstrap" in r and "tests" in r]
    if booted:
        lines.append("")
        lines.append(
            f"bootstrap tests ({BOOTSTRAP_REPS} replications: wild-bootstrap t of every AAR and "
            "CAAR, bootstrapped skewness-adjusted t of every CAR window; per event and pooled) "
            "against the analytic battery (tests stage):"
        )
        for r in booted:
            lines.append(
                f"  {r['firm_events']:>9,}: {r['bootstrap']:.2f}s = "
                f"{r['bootstrap'] / r['tests']:.1f}x the battery ({r['tests']:.2f}s; the issue's "
                "limit is 10x)"
            )
    for r in results:
        if "statsmodels" in r:
            ours = r["fit"] + r["frames"]
            lines.append("")
            lines.append(
                f"statsmodels OLS loop on {r['firm_events']:,} firm-events (fit + ARs + CARs): "
                f"{r['statsmodels']:.2f}s; max |CAR difference| {r['statsmodels_max_abs_diff']:.1e}"
            )
            lines.append(
                f"  speed-up: {r['statsmodels'] / ours:.0f}x against our fit + AR/CAR frames "
                f"({ours:.3f}s), {r['statsmodels'] / r['end_to_end']:.0f}x against our end to end "
                f"with the full battery ({r['end_to_end']:.3f}s), "
                f"{r['statsmodels'] / r['pure_fit']:.0f}x against the pure fit"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="1k and 10k firm-events only")
    parser.add_argument("--sizes", help="comma-separated firm-event counts (e.g. 1000000)")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per scenario; the fastest is reported"
    )
    parser.add_argument("--dask", action="store_true", help="add the Dask LocalCluster scenario")
    parser.add_argument("--dask-size", type=int, help="firm-events of the Dask scenario")
    parser.add_argument(
        "--no-measures", action="store_true", help="skip the volume and volatility scenario"
    )
    parser.add_argument(
        "--measures-size", type=int, help="firm-events of the measures scenario (100k; 10k quick)"
    )
    parser.add_argument(
        "--no-cli", action="store_true", help="skip the command-line scenario (about a minute)"
    )
    parser.add_argument(
        "--cli-size", type=int, help="firm-events of the command-line scenario (default 100k)"
    )
    parser.add_argument(
        "--no-demo", action="store_true", help="skip the demo's charts scenario (about a minute)"
    )
    parser.add_argument("--profile", type=Path, help="write pyinstrument profiles to this folder")
    parser.add_argument("--json", type=Path, help="also write the raw numbers as JSON")
    parser.add_argument(
        "--max-rss-gib",
        type=float,
        default=20.0,
        help="stop a scenario whose memory passes this (default 20 GiB)",
    )
    parser.add_argument(
        "--hugepages",
        choices=("default", "off", "compare"),
        default="default",
        help="numpy's transparent huge pages: 'off' runs every scenario with "
        "NUMPY_MADVISE_HUGEPAGE=0; 'compare' runs the largest scenario both ways where the "
        "kernel's policy is madvise (docs/performance.md)",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(json.loads(args.worker))
        return 0

    sizes = (
        [int(s) for s in args.sizes.split(",")]
        if args.sizes
        else list(QUICK_SIZES if args.quick else SIZES)
    )
    print("eventstudy bench: market model, estimation [-250, -11], event window [-5, 5],")
    print("CAR windows [0,0] [-1,1] [-5,5], full test battery; each scenario in a fresh process")
    print(machine())
    print()
    results = []
    for size in sizes:
        job: dict[str, Any] = {
            "kind": "local",
            "firm_events": size,
            "max_rss_mib": args.max_rss_gib * 1024,
        }
        if size == min(sizes) and size <= 10_000:
            job["statsmodels_loop"] = True
        if args.profile:
            job["profile_dir"] = str(args.profile)
        variants = [args.hugepages == "off"]
        if args.hugepages == "compare" and size == max(sizes) and numpy_hugepages():
            job.pop("statsmodels_loop", None)
            variants.append(True)
        for off in variants:
            env = NO_HUGEPAGES if off else None
            runs = [_in_subprocess(dict(job), env) for _ in range(max(1, args.repeat))]
            failed = [r for r in runs if "failed" in r]
            label = f"{size:,} firm-events" + (" (NUMPY_MADVISE_HUGEPAGE=0)" if off else "")
            if failed:
                r = failed[0]
                done = ", ".join(
                    f"{k} {r[k]:.2f}s (peak {r['stage_peak_rss_mib'].get(k, 0):.0f} MiB)"
                    for k in STAGES
                    if k in r
                )
                print(
                    f"  {label}: {r['failed']}; completed: {done}; peak from outside "
                    f"{r['outside_peak_rss_mib']:.0f} MiB",
                    flush=True,
                )
                continue
            results.append({**_best(runs), "no_hugepages": off})
            print(f"  {label}: {results[-1]['end_to_end']:.2f}s end to end", flush=True)
    if results:
        print()
        print(format_table(results))
    measures_result = None
    if not args.no_measures:
        size = args.measures_size or (10_000 if args.quick else 100_000)
        job = {"kind": "measures", "firm_events": size, "max_rss_mib": args.max_rss_gib * 1024}
        # Every other run times all three measures first, so that neither study always
        # comes first in its process.
        runs = [
            _in_subprocess({**job, "all_first": k % 2 == 1}) for k in range(max(1, args.repeat))
        ]
        failed = [r for r in runs if "failed" in r]
        print()
        if failed:
            print(f"  measures, {size:,} firm-events: {failed[0]['failed']}")
        else:
            measures_result = _best_measures(runs)
            print(format_measures(measures_result))
    dask_result = None
    if args.dask:
        size = args.dask_size or (10_000 if args.quick else 100_000)
        dask_result = _in_subprocess(
            {"kind": "dask", "firm_events": size, "max_rss_mib": args.max_rss_gib * 1024}
        )
        print()
        from benchmarks.dask_bench import format_dask

        print(format_dask(dask_result))
    cli_result = None
    if not args.no_cli:
        from benchmarks import cli_bench

        size = args.cli_size or (10_000 if args.quick else 100_000)
        limit = args.max_rss_gib * 1024
        cli_result = cli_bench.run_all(
            size, lambda job: _in_subprocess({**job, "max_rss_mib": limit}), args.repeat
        )
        print()
        print(cli_bench.format_cli(cli_result))
        peaks = ", ".join(
            f"{name} {cli_result[key]['outside_peak_rss_mib']:.0f} MiB"
            for key, name in (
                ("data", "data"),
                ("cli", "run"),
                ("cli_stored", "run again"),
                ("cli_parquet", "run --format parquet"),
                ("library", "library"),
            )
            if isinstance(cli_result.get(key), dict) and "outside_peak_rss_mib" in cli_result[key]
        )
        print(f"  peak RSS from outside (os.wait4) per process: {peaks}")
    demo_result = None
    if not args.no_demo:
        demo_result = _demo(args.repeat)
    if args.profile:
        print(f"\nprofiles: {args.profile}/<firm-events>-<stage>.txt (timings above include them)")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": machine(),
                    "local": results,
                    "measures": measures_result,
                    "dask": dask_result,
                    "cli": cli_result,
                    "demo": demo_result,
                },
                indent=2,
            )
        )
    return 0


def _demo(repeat: int) -> dict[str, Any]:
    """The demo's charts scenario (:mod:`benchmarks.demo_bench`), printed; its numbers."""
    from benchmarks import demo_bench

    result = demo_bench.run_demo(repeat)
    print()
    print(demo_bench.format_demo(result))
    return result


if __name__ == "__main__":
    sys.exit(main())
