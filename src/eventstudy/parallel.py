"""Threads for the array work.

numpy and scipy release the GIL inside their loops, so independent chunks of firm-events run in
parallel on a multi-core machine. A chunk's numbers are computed the same way whichever thread runs
it and each chunk writes its own rows, so results never depend on the number of threads (tested).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

#: Threads for chunked work (at most 4: beyond that the chunks are bound by memory bandwidth).
THREADS = min(4, os.cpu_count() or 1)
#: Below this many firm-events (or values) one thread is faster than starting a pool.
MIN_ROWS = 20_000


def for_each(func: Callable[[T], None], items: Iterable[T], size: int) -> None:
    """``func(item)`` for every item, in :data:`THREADS` threads when the work (``size`` rows or
    values in all) is large enough to gain from them. Items must write disjoint outputs."""
    items = list(items)
    if THREADS < 2 or size < MIN_ROWS or len(items) < 2:
        for item in items:
            func(item)
        return
    with ThreadPoolExecutor(min(THREADS, len(items))) as pool:
        list(pool.map(func, items))  # list() re-raises the first exception
