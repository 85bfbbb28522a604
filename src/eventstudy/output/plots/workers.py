"""Charts drawn in worker processes (:class:`ChartWorkers`): the charts of a study are independent,
and drawing one is matplotlib's pure-Python work (layout, text, rasterising) that holds the GIL,
so threads would not draw two at once; processes do.

Workers are *forked* from the process holding the results (start method ``fork``), so they
inherit the results, the returns panel and every frame already computed: nothing is pickled on
the way in. The parent hands out chart numbers one at a time over a pipe per worker (a worker
that finishes early takes the next chart) and gets back the paths written, in any order; the
paths are returned in the charts' order. The parent may do this from a thread of its own
(:meth:`ChartWorkers.begin`) while it writes the tables. Each worker writes its files itself,
through the same atomic writer as this process would (:func:`eventstudy.output.files.atomic_file`).

Where there is no safe ``fork`` (Windows has none; on macOS system libraries may have started
threads, and Python calls it unsafe there), with one CPU, for fewer than
:data:`~eventstudy.output.figure_drawing.MIN_CHARTS` charts, or when other threads are running in
this process (in the automatic mode: a thread could hold a lock at the moment of the fork that the
worker then waits for forever), the charts are drawn here, one after the other, as before. The
workers gain only where a CPU is idle: the kernel may schedule a session's processes as one group
(Linux's autogroup), so on a machine other sessions keep busy two workers get no more time than one
process.

What a worker raises comes back as the same exception (its traceback text attached as the
cause of anything but an :class:`~eventstudy.errors.EventStudyError`, which stays one line);
the first failing chart in the charts' order is the one reported, as drawing them in order
would; no further chart is handed out, the charts being drawn are finished, and the workers are
waited for, so no worker outlives the call and no temporary file stays behind. A worker's
warnings are re-issued here. A killed worker is an error naming ``jobs=1``; a killed parent takes
its workers with it (Linux: ``PR_SET_PDEATHSIG``; elsewhere they stop before their next chart).
"""

from __future__ import annotations

import contextlib
import os
import threading
import warnings
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn

from eventstudy.errors import EventStudyError
from eventstudy.output.figure_drawing import drawer_died
from eventstudy.output.plots.style import _STYLE_LOCK
from eventstudy.parallel import frozen_objects
from eventstudy.processes import (
    Warning_,
    captured,
    die_with,
    fork_child,
    reap,
    reissue,
    reraisable,
)

#: What a worker reports for chart ``k``: ``(k, paths, failure, warnings)``.
_Report = tuple[int, list[Path] | None, tuple[BaseException, str] | None, list[Warning_]]


class ChartWorkers:
    """``count`` charts, ``draw(k)`` each (it writes chart ``k``'s files and returns their paths),
    drawn by ``processes`` forked workers, or in this process when ``processes`` is 1.
    ``setup()`` is called in each worker before it draws (not here). A message on ``cancel`` (or
    its other end closed) hands out no further chart, as leaving the block does.

    Use as a context manager: entering forks the workers (before anything else, such as a
    progress bar's thread, starts), :meth:`results` hands out the charts and collects the paths
    (:meth:`begin` has a thread of this process do it from then on, while the caller does other
    work), leaving stops and waits for every worker whatever happened: no chart is handed out
    after that, the charts being drawn are finished."""

    def __init__(
        self,
        draw: Callable[[int], list[Path]],
        count: int,
        processes: int,
        setup: Callable[[], object] | None = None,
        cancel: Connection | None = None,
    ) -> None:
        self._draw = draw
        self._setup = setup  # run in each worker before its first chart
        self._cancel = cancel  # a message or the end of this pipe cancels the drawing
        self._count = count
        self._processes = max(1, min(processes, count))
        self._workers: dict[Connection, int] = {}  # this process's end of a worker's pipe, pid
        self._pids: list[int] = []
        self._collector: threading.Thread | None = None  # begin(): hands out in a thread
        self._outcome: list[list[Path]] | BaseException | None = None
        self._cancelled = False  # hand out nothing more (set when leaving the block)

    @property
    def processes(self) -> int:
        """The processes drawing the charts (1: this one)."""
        return self._processes

    def count(self) -> int:
        """The number of charts."""
        return self._count

    def __enter__(self) -> ChartWorkers:
        if self._processes > 1:
            try:
                self._fork()
            except BaseException:
                self._stop()
                raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._cancelled = True
        if self._collector is not None:  # it ends once the charts being drawn are done
            self._collector.join()
        self._stop()

    # --------------------------------------------------------------------------------- parent
    def _fork(self) -> None:
        parent = os.getpid()
        # No other thread of this package may hold the house style's lock at the fork (a worker
        # would wait for it forever).
        with _STYLE_LOCK, warnings.catch_warnings(), frozen_objects():
            # Python 3.12+ warns of fork in a process with threads: numpy's BLAS threads, idle
            # here, are reset by BLAS itself at the fork.
            warnings.filterwarnings("ignore", r".*fork\(\)", DeprecationWarning)
            for _ in range(self._processes):
                forked = fork_child(lambda conn: self._work(conn, parent))
                if forked is None:  # out of processes or memory: draw with the workers there are
                    break
                self._workers[forked[0]] = forked[1]
                self._pids.append(forked[1])
        self._processes = max(1, len(self._pids))  # 1: none could start, drawn here

    def begin(self, done: Callable[[int], object] = lambda n: None) -> None:
        """Start handing out the charts now, from a thread of this process, so that the caller
        can do other work (write the tables) while the workers draw; :meth:`results` then waits
        for them. ``done(1)`` as each chart is drawn (from that thread). Charts drawn in this
        process (one process) wait for :meth:`results`."""
        if self._processes == 1 or self._collector is not None:
            return

        def collect() -> None:
            try:
                self._outcome = self._collect(done)
            except BaseException as exc:  # re-raised by results(), in the caller's thread
                self._outcome = exc

        self._collector = threading.Thread(target=collect, name="eventstudy-charts", daemon=True)
        self._collector.start()

    def results(self, done: Callable[[int], object] = lambda n: None) -> list[list[Path]]:
        """The paths each chart's ``draw`` returned, in the charts' order; ``done(1)`` as each
        chart is drawn (unless :meth:`begin` was called: it has its own). Raises what the first
        failing chart (in order) raised."""
        if self._collector is not None:
            self._collector.join()
            outcome = self._outcome
            if isinstance(outcome, BaseException):
                raise outcome
            assert outcome is not None
            return outcome
        return self._collect(done)

    def _collect(self, done: Callable[[int], object]) -> list[list[Path]]:
        if self._processes == 1:
            out = []
            for k in range(self._count):
                if self._cancel is not None and self._cancel.poll():
                    raise _cancelled()
                out.append(self._draw(k))
                done(1)
            return out
        paths: dict[int, list[Path]] = {}
        failures: dict[int, BaseException] = {}
        busy: dict[Connection, int] = {}  # a worker's pipe -> the chart it draws
        tasks = iter(range(self._count))
        for conn in self._workers:
            self._hand_out(conn, tasks, busy)
        cancel = [self._cancel] if self._cancel is not None else []
        while busy:
            ready: list[Any] = wait([*busy, *cancel])  # the workers that reported (or died)
            if cancel and cancel[0] in ready:  # before handing out to the workers that reported
                self._cancelled, cancel = True, []
            for conn in ready:
                if conn is self._cancel:
                    continue
                k = busy.pop(conn)
                try:
                    got, written, failure, caught = _receive(conn)
                except (EOFError, OSError):  # the worker died drawing chart k
                    failures[k] = self._died(conn)
                    continue
                reissue(caught)
                if failure is not None:
                    failures[got] = reraisable(*failure)
                    tasks = iter(())  # hand out nothing more
                else:
                    assert written is not None
                    paths[got] = written
                    done(1)
                self._hand_out(conn, tasks, busy)
        self._stop()
        if failures:
            raise failures[min(failures)]
        if len(paths) < self._count:
            raise _cancelled()
        return [paths[k] for k in range(self._count)]

    def _hand_out(self, conn: Connection, tasks: Any, busy: dict[Connection, int]) -> None:
        """Give the worker behind ``conn`` the next chart, or tell it to stop (None)."""
        k = None if self._cancelled else next(tasks, None)
        try:
            conn.send(k)
        except OSError:  # it died between two charts
            if k is not None:
                busy[conn] = k  # recv() sees the end of its pipe and reports it
            return
        if k is not None:
            busy[conn] = k

    def _died(self, conn: Connection) -> EventStudyError:
        """The error for a worker that ended without reporting its chart."""
        pid = self._workers.pop(conn)
        conn.close()
        status = reap(pid)
        self._pids.remove(pid)
        return drawer_died(status)

    def _stop(self) -> None:
        """Tell every worker to stop, then wait for all of them: none outlives the call. A worker
        finishes the chart it draws (a Ctrl-C in a terminal has interrupted it already: it goes
        to the whole process group; a second interruption could cut short the removal of its
        temporary file)."""
        for conn in self._workers:
            with contextlib.suppress(OSError, ValueError):
                conn.send(None)
            conn.close()
        self._workers.clear()
        for pid in self._pids:
            reap(pid)
        self._pids.clear()

    # --------------------------------------------------------------------------------- worker
    def _work(self, conn: Connection, parent: int) -> NoReturn:
        """A worker's life: draw the charts it is handed until told to stop; then exit without
        running this process's exit handlers (they belong to the parent)."""
        status = 0
        try:
            for other in self._workers:  # the parent's ends of earlier workers' pipes
                other.close()
            die_with(parent)
            if self._setup is not None:
                self._setup()
            while True:
                k = conn.recv()
                if k is None or os.getppid() != parent:
                    break
                report = _draw_one(self._draw, k)
                conn.send(report)
                if report[2] is not None:
                    break
        except BaseException:  # the parent is gone or interrupted us: just end
            status = 1
        finally:
            os._exit(status)


def _cancelled() -> EventStudyError:
    return EventStudyError("drawing the charts was cancelled")


def _receive(conn: Connection) -> _Report:
    """A worker's report (in the parent; tests/test_kill.py kills the run here)."""
    report: _Report = conn.recv()
    return report


def _draw_one(draw: Callable[[int], list[Path]], k: int) -> _Report:
    """Draw chart ``k`` in a worker: its paths or its exception, and the warnings it gave,
    ready to be sent to the parent."""
    return (k, *captured(lambda: draw(k)))
