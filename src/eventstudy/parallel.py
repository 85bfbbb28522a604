"""Threads for the array work: the package's one thread policy.

numpy and scipy release the GIL inside their loops, so independent pieces of work (chunks of
firm-events, groupings, windows of the test battery) run in parallel on a multi-core machine. A
piece's numbers are computed the same way whichever thread runs it, each piece writes its own
outputs, and every sum over firm-events is taken in the same order either way, so results never
depend on the number of threads (tested bit for bit: tests/test_estimation.py, test_property.py,
test_significance.py).

Processes: :func:`frozen_objects` (the garbage collector's view of this process's objects before
a fork, or a large import).

Two knobs, read at each call (tests patch them): :data:`THREADS` and :data:`MIN_ROWS`. The helpers
:func:`for_each`, :func:`ordered_map` and :func:`pipeline` run in threads only when
:func:`threaded` says the work is large enough.
"""

from __future__ import annotations

import contextlib
import gc
import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: Threads for chunked work. At most 4: beyond that the chunks are bound by memory bandwidth, not
#: by the cores. (The test battery's residual pass uses one extra thread whatever this is: it
#: prepares the next chunk while the current one is added to the sums, see :func:`pipeline`.)
THREADS = min(4, os.cpu_count() or 1)
#: Below this many firm-events (or values) in all, one thread is faster: starting a pool and
#: handing work to it costs more than the threads save.
MIN_ROWS = 20_000


def threaded(size: int, items: int = 2) -> bool:
    """Whether work of ``size`` rows or values in all, in ``items`` independent pieces, runs in
    threads (more than one thread allowed, enough rows, more than one piece)."""
    return THREADS > 1 and size >= MIN_ROWS and items > 1


def for_each(func: Callable[[T], None], items: Iterable[T], size: int) -> None:
    """``func(item)`` for every item, in :data:`THREADS` threads when the work (``size`` rows or
    values in all) is large enough to gain from them. Items must write disjoint outputs."""
    items = list(items)
    if not threaded(size, len(items)):
        for item in items:
            func(item)
        return
    with ThreadPoolExecutor(min(THREADS, len(items))) as pool:
        list(pool.map(func, items))  # list() re-raises the first exception


def ordered_map(func: Callable[[T], R], items: Iterable[T], size: int) -> list[R]:
    """``[func(item) for item in items]``, in :data:`THREADS` threads when the work (``size`` rows
    or values in all) is large enough to gain from them. ``func`` must not write shared state."""
    items = list(items)
    if not threaded(size, len(items)):
        return [func(item) for item in items]
    with ThreadPoolExecutor(min(THREADS, len(items))) as pool:
        return list(pool.map(func, items))


def pipeline(
    produce: Callable[[T], R],
    consume: Callable[[R], None],
    items: Iterable[T],
    size: int,
    *,
    apart: Iterable[T] = (),
) -> None:
    """``consume(produce(item))`` for every item, in order, then for every item of ``apart``.
    When threads pay (:func:`threaded`), ``produce`` of the next item runs in a second thread while
    the current one is consumed, so two products are alive at once (the caller alternates their
    workspaces), and each item of ``apart`` (a long one) is produced in a thread of its own from
    the start, beside all the others. ``consume`` always runs in
    the calling thread, one item after the other."""
    items, apart = list(items), list(apart)
    if not threaded(size, len(items) + len(apart)):
        for item in items + apart:
            consume(produce(item))
        return
    with ThreadPoolExecutor(1 + len(apart)) as pool:
        later = [pool.submit(produce, item) for item in apart]
        if items:
            nxt = pool.submit(produce, items[0])
        for k in range(len(items)):
            current = nxt.result()
            if k + 1 < len(items):
                nxt = pool.submit(produce, items[k + 1])
            consume(current)
        for done in later:
            consume(done.result())


def ordered_stream(func: Callable[[T], R], items: Iterable[T], size: int) -> Iterator[R]:
    """``func(item)`` for every item, yielded in order, computed in :data:`THREADS` threads when
    the work is large enough (:func:`threaded`), with at most one result per thread waiting to
    be taken (memory stays bounded however many items there are)."""
    items = list(items)
    if not threaded(size, len(items)):
        for item in items:
            yield func(item)
        return
    with ThreadPoolExecutor(min(THREADS, len(items))) as pool:
        pending: deque[Future[R]] = deque()
        for item in items:
            pending.append(pool.submit(func, item))
            if len(pending) > THREADS:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()



def read_ahead(items: Iterable[T], ahead: int = 1) -> Generator[T, None, None]:
    """The items of ``items`` in order, the next ``ahead`` of them produced in a second thread
    while the caller works on the current one (reading a file while its last chunk is stored).

    An exception raised while producing is raised here, in order; when the caller stops early
    (an exception of its own, or closing this generator), the thread stops after the item it is
    producing and ``items`` is closed. Serial when :data:`THREADS` is 1."""
    iterator = iter(items)
    if THREADS < 2:
        yield from iterator
        return
    ready: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=ahead)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in iterator:
                ready.put((True, item))
                if stop.is_set():
                    return
            ready.put((False, None))
        except BaseException as error:  # handed to the caller, who raises it
            ready.put((False, error))

    thread = threading.Thread(target=produce, name="eventstudy-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            more, item = ready.get()
            if not more:
                if item is not None:
                    raise item
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # make room for the item being produced, so the thread ends
            with contextlib.suppress(queue.Empty):
                ready.get(timeout=0.05)
        thread.join()
        close = getattr(iterator, "close", None)
        if close is not None:
            close()  # the producer has ended: closing runs the items' own cleanup here


@contextlib.contextmanager
def frozen_objects() -> Iterator[None]:
    """Run the block with this process's objects frozen (``gc.freeze``): a collection during it
    walks only the objects made since, not the hundreds of thousands already here (a study, pandas,
    scipy). Forked workers inherit them in the collector's permanent generation (the Python
    documentation recommends freezing before a fork: the children's collections then never
    touch, hence never copy, the pages those objects live on), and the import of a large package
    (matplotlib) runs no full collection over them. The objects return to the oldest generation
    when the block ends (a forked worker never leaves the block: it ends with ``os._exit``). Not
    re-entrant: the inner block's end would thaw the outer one's objects."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
