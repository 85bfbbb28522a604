"""Forked processes: whether this platform can fork safely, the CPUs there are, a child that dies
with its parent, waiting for a child, and an exception or warning sent back over a pipe.

Used by the chart workers (:mod:`eventstudy.output.plots.workers`) and by the process that draws
a run's charts (:mod:`eventstudy.output.chart_process`); light to import (no pandas, no
matplotlib), so a command can fork before it loads them.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, NoReturn, TypeVar

from eventstudy.errors import EventStudyError

T = TypeVar("T")
_PR_SET_PDEATHSIG = 1
#: A warning as it crosses a pipe: ``(message, category, filename, lineno)``.
Warning_ = tuple[Any, type[Warning], str, int]


def can_fork() -> bool:
    """Whether this platform offers the ``fork`` start method, and it is safe (not macOS)."""
    return "fork" in multiprocessing.get_all_start_methods() and sys.platform != "darwin"


def cpu_count() -> int:
    """The CPUs this process may run on (its affinity where the platform tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on macOS or Windows
        return os.cpu_count() or 1


def other_threads() -> list[threading.Thread]:
    """The threads running besides this one, but for tqdm's monitor: a daemon that sleeps and
    now and then looks at the progress bars under tqdm's lock, which a forked child never takes
    (it outlives the bars, so every run that showed one would otherwise never fork)."""
    tqdm = getattr(sys.modules.get("tqdm"), "tqdm", None)
    monitor = getattr(tqdm, "monitor", None)
    me = threading.current_thread()
    return [t for t in threading.enumerate() if t is not me and t is not monitor]


def fork_child(life: Callable[[Connection], NoReturn]) -> tuple[Connection, int] | None:
    """Fork a child that lives ``life(its end of a pipe)`` (and never returns); this process's
    end of the pipe and the child's pid, or None when the system has no process or memory to
    spare. Standard output is flushed first (else the child would write it again)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError, OSError):
            stream.flush()
    ours, theirs = multiprocessing.Pipe(duplex=True)
    try:
        pid = os.fork()
    except OSError:
        ours.close()
        theirs.close()
        return None
    if pid == 0:
        ours.close()
        life(theirs)
    theirs.close()
    return ours, pid


def die_with(parent: int) -> None:
    """Have this child killed when ``parent`` dies (Linux), and end it now if the parent is
    already gone: a killed run must not leave children writing into its folder."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


def reap(pid: int) -> int:
    """Wait for child ``pid`` to end: its exit status, or minus the signal that killed it."""
    while True:
        try:
            _pid, status = os.waitpid(pid, 0)
        except ChildProcessError:
            return 0
        except InterruptedError:  # pragma: no cover  # retried by Python itself since 3.5
            continue
        return os.waitstatus_to_exitcode(status)


class RemoteTracebackError(Exception):
    """A child's traceback, as text: the cause of the exception it raised."""

    def __str__(self) -> str:
        return str(self.args[0])


def captured(
    work: Callable[[], T],
) -> tuple[T | None, tuple[BaseException, str] | None, list[Warning_]]:
    """``work()`` in a child, ready to be reported to the parent: its value (None if it
    raised), its exception with the traceback's text (:func:`portable_failure`; None if it
    returned), and the warnings it gave (:func:`portable_warnings`)."""
    failure = None
    value = None
    with warnings.catch_warnings(record=True) as caught:
        try:
            value = work()
        except BaseException as exc:  # re-raised by the parent (reraisable)
            failure = portable_failure(exc, "".join(traceback.format_exception(exc)))
    return value, failure, portable_warnings(caught)


def portable_failure(exc: BaseException, text: str) -> tuple[BaseException, str]:
    """A child's exception and its traceback ``text``, ready to be pickled to the parent (an
    exception that does not pickle becomes a RuntimeError of the same message)."""
    if not pickles(exc):
        exc = RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc, text


def portable_warnings(caught: list[warnings.WarningMessage]) -> list[Warning_]:
    """Warnings a child caught, ready to be pickled to the parent (as text where they do not
    pickle); :func:`reissue` gives them there."""
    shown = [(w.message, w.category, w.filename, w.lineno) for w in caught]
    return [w if pickles(w) else (str(w[0]), UserWarning, w[2], w[3]) for w in shown]


def reissue(shown: list[Warning_]) -> None:
    """Give here the warnings a child caught (:func:`portable_warnings`)."""
    for w in shown:
        warnings.warn_explicit(w[0], w[1], w[2], w[3])


def pickles(value: object) -> bool:
    """Whether ``value`` survives a pickle round trip."""
    try:
        pickle.loads(pickle.dumps(value))
    except Exception:  # any failure means: send it as text
        return False
    return True


def reraisable(exc: BaseException, text: str) -> BaseException:
    """A child's exception, ready to raise here: one line for the package's own errors (as in
    the child), with the child's traceback as the cause of anything else."""
    if isinstance(exc, EventStudyError):
        exc.__cause__ = None
        exc.__suppress_context__ = True
    else:
        exc.__cause__ = RemoteTracebackError(f"\n\"\"\"\n{text}\"\"\"")
    return exc
