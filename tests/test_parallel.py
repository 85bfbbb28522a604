"""The thread helpers of :mod:`eventstudy.parallel` that are not covered through the estimator's
bit-for-bit tests: reading ahead in a second thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from eventstudy import parallel


def _threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name == "eventstudy-read-ahead"]


@pytest.mark.parametrize("threads", [1, 2])
def test_read_ahead_gives_every_item_in_order(
    monkeypatch: pytest.MonkeyPatch, threads: int
) -> None:
    monkeypatch.setattr(parallel, "THREADS", threads)
    producers: set[str] = set()

    def items() -> Iterator[int]:
        for i in range(50):
            producers.add(threading.current_thread().name)
            yield i

    assert list(parallel.read_ahead(items(), ahead=2)) == list(range(50))
    assert producers == ({"eventstudy-read-ahead"} if threads > 1 else {"MainThread"})
    assert not _threads()


def test_read_ahead_raises_the_producers_error_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "THREADS", 2)

    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise KeyError("bad chunk")

    got = []
    with pytest.raises(KeyError, match="bad chunk"):
        for item in parallel.read_ahead(items()):
            got.append(item)
    assert got == [1, 2]
    assert not _threads()


def test_a_caller_that_stops_early_stops_the_thread_and_closes_the_items(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(parallel, "THREADS", 2)
    closed = []
    produced = []

    def items() -> Iterator[int]:
        try:
            for i in range(1000):
                produced.append(i)
                yield i
        finally:
            closed.append(threading.current_thread().name)

    with pytest.raises(RuntimeError, match="caller's own"):
        for item in parallel.read_ahead(items(), ahead=1):
            if item == 3:
                raise RuntimeError("the caller's own error")
    assert not _threads()
    assert closed == ["MainThread"]  # closed once the thread had ended, by the caller
    assert len(produced) < 10  # the thread stopped reading ahead
