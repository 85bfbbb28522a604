"""Charts being drawn (:class:`FigureDrawing`: what
:func:`~eventstudy.output.plots.figures.drawing_figures` yields and
:meth:`~eventstudy.output.chart_process.ChartProcess.begin` returns), whoever draws them
(:class:`Drawer`): the chart workers or the chart process; how many processes draw them
(:func:`process_count`) and the error when one dies. Imports no matplotlib."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from eventstudy.errors import EventStudyError, argument
from eventstudy.processes import can_fork, cpu_count, other_threads
from eventstudy.progress import progress_bar

#: Below this many charts they are drawn in this process: starting workers (each loads its own
#: fonts and file writers) costs more than the second process saves.
MIN_CHARTS = 3


def process_count(jobs: int | None, charts: int) -> int:
    """How many processes draw ``charts`` charts; 1 means this process, without workers.

    ``jobs``: None for automatic (one per CPU when there are at least :data:`MIN_CHARTS` charts
    and no other thread runs here: :func:`~eventstudy.processes.other_threads`), else at most
    that many (never more than the charts). Always 1 where the platform cannot fork."""
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise ValueError(f"jobs must be a whole number of at least 1 or None, not {jobs!r}")
    if not can_fork():
        return 1
    if jobs is None:
        if charts < MIN_CHARTS or other_threads():
            return 1
        jobs = cpu_count()
    return max(1, min(jobs, charts))


def drawer_died(status: int) -> EventStudyError:
    """The error for a process drawing the charts that ended (``status``: its exit status, or
    minus the signal that killed it) without reporting its chart."""
    how = f"signal {-status}" if status < 0 else f"exit status {status}"
    return EventStudyError(
        f"a process drawing the charts ended unexpectedly ({how}); {argument('jobs=1')} "
        "draws them in this process"
    )


class Drawer(Protocol):
    """What draws the charts of a :class:`FigureDrawing`: the workers
    (:class:`~eventstudy.output.plots.workers.ChartWorkers`) or the chart process."""

    @property
    def processes(self) -> int: ...

    def count(self) -> int: ...

    def begin(self, done: Callable[[int], object]) -> None: ...

    def results(self, done: Callable[[int], object]) -> list[list[Path]]: ...


class FigureDrawing:
    """Charts being drawn: :meth:`paths` waits for them (with a progress bar), then runs
    ``finish`` on the paths written (removing earlier runs' charts)."""

    def __init__(
        self,
        drawer: Drawer,
        progress: bool | None,
        finish: Callable[[list[Path]], object] | None = None,
    ) -> None:
        self._drawer, self._progress, self._finish = drawer, progress, finish
        self._lock = threading.Lock()
        self._done = 0
        self._bar: Any = None
        drawer.begin(self._drawn)  # with worker processes: from now on

    def __repr__(self) -> str:
        return f"FigureDrawing({self._drawer.processes} processes)"

    def _drawn(self, n: int) -> None:  # from the thread handing out the charts
        with self._lock:
            self._done += n
            if self._bar is not None:
                self._bar.update(n)

    def paths(self) -> list[Path]:
        """Wait for every chart (drawing them here without worker processes, showing the
        progress bar from now on); the paths written, in the charts' order. Raises what the
        first failing chart (in order) raised."""
        with progress_bar(self._progress, self._drawer.count(), "charts", "chart") as bar:
            with self._lock:
                bar.update(self._done)
                self._bar = bar
            drawn = self._drawer.results(self._drawn)
            with self._lock:
                self._bar = None
        written = [path for paths in drawn for path in paths]
        if self._finish is not None:
            self._finish(written)
        return written
