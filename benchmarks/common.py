"""What every scenario of ``make bench`` shares: the study's windows, the process's memory as the
kernel counts it, a guard that stops a scenario before the machine runs out of memory, and each
job run in a fresh interpreter whose peak memory the parent reads from outside
(:func:`_in_subprocess`). Used by :mod:`benchmarks.bench` and :mod:`benchmarks.dask_bench`."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import suppress
from pathlib import Path
from typing import Any, ClassVar

ESTIMATION, EVENT = (-250, -11), (-5, 5)
CAR_WINDOWS = ((0, 0), (-1, 1), (-5, 5))
#: The study's windows, as the library takes them (``EventStudy(..., **WINDOWS)``).
WINDOWS: dict[str, Any] = {
    "estimation_window": ESTIMATION,
    "event_window": EVENT,
    "car_windows": CAR_WINDOWS,
}


_PEAK = {"mib": 0.0}  # the process's peak before the last per-stage reset


def _peak_rss_mib() -> float:
    """Peak RSS of the whole run: ru_maxrss, and the peaks seen before per-stage resets."""
    ru = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    return max(ru, _PEAK["mib"], _status_mib("VmHWM") or 0.0)


def _status_mib(field: str) -> float | None:
    """A memory field of /proc/self/status (Linux), in MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def _current_rss_mib() -> float | None:
    return _status_mib("VmRSS")


def _reset_peak_rss() -> None:
    """Restart the kernel's peak-RSS counter (VmHWM), so that each stage gets its own peak."""
    _PEAK["mib"] = _peak_rss_mib()
    with suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _stage_peak_rss_mib() -> float | None:
    return _status_mib("VmHWM")


class _Guard:
    """Stops the scenario's process when its RSS passes ``limit_mib`` (the machine may be shared:
    better a reported failure than the kernel's OOM killer picking a process)."""

    stage = "setup"
    partial: ClassVar[dict[str, Any]] = {}  # what the scenario has measured so far
    limit_mib: ClassVar[float] = 8192.0  # the limit given (a scenario's sub-jobs get it too)

    @classmethod
    def start(cls, limit_mib: float) -> None:
        import threading

        cls.limit_mib = limit_mib

        def watch() -> None:
            while True:
                rss = _current_rss_mib()
                if rss is not None and rss > limit_mib:
                    failed = f"stopped: {rss:.0f} MiB > {limit_mib:.0f} MiB in stage {cls.stage}"
                    part = cls.partial
                    done = {
                        **part.get("scenario", {}),
                        **part.get("times", {}),
                        "stage_peak_rss_mib": part.get("peaks", {}),
                        "failed": failed,
                    }
                    print("RESULT " + json.dumps(done), flush=True)
                    os._exit(3)
                time.sleep(0.1)

        threading.Thread(target=watch, daemon=True).start()


def _in_subprocess(job: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run one job in a fresh interpreter, so that its peak memory is its own (``env`` adds
    environment variables). The parent reaps the child with ``os.wait4`` and adds the child's
    peak resident memory as the kernel kept it (``ru_maxrss`` of that one child) as
    ``outside_peak_rss_mib``: the whole run, from interpreter start to exit (imports, data,
    every stage, the bootstrap, the pure fit), whatever the child measured of itself."""
    cmd = [sys.executable, "-m", "benchmarks.bench", "--worker", json.dumps(job)]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=err, text=True, env={**os.environ, **(env or {})}
        )
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    outside = usage.ru_maxrss / 1024.0  # KiB on Linux
    lines = [ln for ln in stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode == 3 and lines:  # stopped by the memory guard
        return {**json.loads(lines[-1][len("RESULT ") :]), "outside_peak_rss_mib": outside}
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"bench job {job} failed:\n{stderr[-4000:]}")
    return {**json.loads(lines[-1][len("RESULT ") :]), "outside_peak_rss_mib": outside}
