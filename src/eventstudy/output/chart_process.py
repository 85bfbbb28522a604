"""The process that draws a run's charts (:class:`ChartProcess`).

``eventstudy run`` forks this process as it starts, before it loads pandas or reads a price:
while the run computes the study, the process loads the chart modules (matplotlib, and pandas
for the results: most of a second, on a CPU that would otherwise be idle). Once the study is
computed the run sends it the results (pickled: the demo's are under a megabyte and take
milliseconds) and writes its tables; the process draws the charts meanwhile, forking its own workers
(:mod:`eventstudy.output.plots.workers`), and sends back each chart drawn (for the progress bar),
the warnings, and the paths written or the first failing chart's error. The charts are the
files drawing them in the run's own process writes, byte for byte.

Results that pickle to more than :data:`MAX_REQUEST_BYTES` (a large study) are not sent: the
run then ends this process and draws its charts as before, forking the workers itself (they
inherit the results, which copies nothing). This module imports neither pandas nor matplotlib.
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import signal
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from eventstudy.errors import EventStudyError
from eventstudy.output.figure_drawing import MIN_CHARTS, FigureDrawing, drawer_died, process_count
from eventstudy.processes import (
    Warning_,
    die_with,
    fork_child,
    reap,
    reissue,
    reraisable,
)

if TYPE_CHECKING:
    from eventstudy.output.source import ResultSource

#: Results whose pickle is larger than this are not sent to the chart process (the run draws
#: its charts itself): pickling and unpickling them would cost more than the process saves.
MAX_REQUEST_BYTES = 64 * 2**20


class ChartProcess:
    """The process drawing a run's charts, forked by :meth:`start`; :meth:`begin` sends it the
    results, :meth:`close` ends it (cancelling the charts not yet handed out) and waits for it."""

    def __init__(self, conn: Connection, pid: int) -> None:
        self._conn: Connection | None = conn
        self._pid: int | None = pid
        self._drawing: _Remote | None = None

    def __repr__(self) -> str:
        return f"ChartProcess(pid={self._pid})"

    @classmethod
    def start(cls, jobs: int | None) -> ChartProcess | None:
        """Fork the chart process now; None where the charts would be drawn in one process
        anyway (:func:`~eventstudy.output.figure_drawing.process_count`: ``jobs`` 1, one CPU,
        no safe fork, or other threads running in automatic mode)."""
        if process_count(jobs, MIN_CHARTS) < 2:
            return None
        parent = os.getpid()
        forked = fork_child(lambda conn: _serve(conn, parent))
        return None if forked is None else cls(*forked)  # None: the run draws its charts

    def __enter__(self) -> ChartProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def begin(
        self,
        results: ResultSource,
        directory: Path,
        *,
        max_events: int | None = None,
        progress: bool | None = False,
        jobs: int | None = None,
    ) -> FigureDrawing | None:
        """Send the process ``results`` to draw every chart into ``directory`` (arguments as
        :func:`~eventstudy.output.plots.figures.save_figures`'s); None (and the process ended)
        when the results are too large to send or do not pickle: draw them here then."""
        if self._conn is None or self._drawing is not None:
            return None
        try:
            request = _pickled((results, directory, {"max_events": max_events, "jobs": jobs}))
        except Exception:  # too large, or not picklable
            self.close()
            return None
        self._conn.send_bytes(request)
        self._drawing = _Remote(self._conn, self._died)
        return FigureDrawing(self._drawing, progress)

    def close(self) -> None:
        """Cancel the charts not yet handed out, let the process finish those being drawn and
        wait for it (and so for its workers): nothing of it outlives the call."""
        conn, self._conn = self._conn, None
        pid, self._pid = self._pid, None
        if self._drawing is None and pid is not None:
            # Sent nothing: it has only imported (or is importing) modules; a run that failed
            # early must not wait for that.
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        if conn is not None:
            with contextlib.suppress(OSError, ValueError):
                conn.send_bytes(b"")  # cancel
            if self._drawing is not None:
                self._drawing.wait()
            conn.close()
        if pid is not None:
            reap(pid)

    def _died(self) -> EventStudyError:
        """The error for the process ending without its report."""
        pid, self._pid = self._pid, None
        return drawer_died(reap(pid) if pid is not None else 0)


class _Remote:
    """The charts the chart process draws, as a :class:`FigureDrawing` sees them (its
    :class:`~eventstudy.output.figure_drawing.Drawer`): a thread of the run reads the process's
    messages as they come."""

    def __init__(self, conn: Connection, died: Callable[[], EventStudyError]) -> None:
        self._conn, self._died = conn, died
        self._count = 0
        self._processes = 1
        self._counted = threading.Event()
        self._reader: threading.Thread | None = None
        self._outcome: list[list[Path]] | BaseException = EventStudyError("no charts drawn")
        self._shown: list[Warning_] = []

    @property
    def processes(self) -> int:
        return self._processes

    def count(self) -> int:
        self._counted.wait()
        return self._count

    def begin(self, done: Callable[[int], object]) -> None:
        self._reader = threading.Thread(
            target=self._read, args=(done,), name="eventstudy-chart-process", daemon=True
        )
        self._reader.start()

    def _read(self, done: Callable[[int], object]) -> None:
        try:
            while True:
                kind, value = _receive(self._conn)
                if kind == "count":
                    self._count, self._processes = value
                    self._counted.set()
                elif kind == "drawn":
                    done(value)
                else:  # the end: the paths or the failure, and the warnings
                    outcome, self._shown = value
                    self._outcome = outcome if kind == "paths" else reraisable(*outcome)
                    break
        except (EOFError, OSError):  # the process died
            self._outcome = self._died()
        finally:
            self._counted.set()

    def wait(self) -> None:
        if self._reader is not None:
            self._reader.join()

    def results(self, done: Callable[[int], object]) -> list[list[Path]]:
        self.wait()
        reissue(self._shown)
        if isinstance(self._outcome, BaseException):
            raise self._outcome
        return self._outcome


def _receive(conn: Connection) -> tuple[str, Any]:
    """A message of the chart process (tests/test_kill.py kills the run here)."""
    message: tuple[str, Any] = conn.recv()
    return message


class _TooLargeError(Exception):
    pass


class _Bounded(io.BytesIO):
    """A buffer that refuses to grow past :data:`MAX_REQUEST_BYTES`."""

    def write(self, data: Any) -> int:
        if self.tell() + memoryview(data).nbytes > MAX_REQUEST_BYTES:
            raise _TooLargeError
        return super().write(data)


def _pickled(value: object) -> bytes:
    buffer = _Bounded()
    pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return buffer.getvalue()


def _serve(conn: Connection, parent: int) -> NoReturn:
    """The chart process's life: load the chart modules, wait for the results, draw them
    (:func:`eventstudy.output.plots.figures.serve_charts`), then end without running the run's
    exit handlers."""
    status = 0
    try:
        die_with(parent)
        from eventstudy.parallel import frozen_objects

        with frozen_objects():  # the import collects no garbage over the run's objects
            from eventstudy.output.plots.figures import serve_charts
        request = conn.recv_bytes()
        if request:
            results, directory, options = pickle.loads(request)
            serve_charts(conn, results, directory, **options)
    except BaseException:  # the run is gone or interrupted: just end
        status = 1
    finally:
        os._exit(status)
