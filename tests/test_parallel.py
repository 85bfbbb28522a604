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


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("items", [[], [1], [1, 2, 3, 4]])
def test_pipeline_consumes_in_order_and_apart_items_last(
    monkeypatch: pytest.MonkeyPatch, threads: int, items: list[int]
) -> None:
    """``pipeline``: every item consumed in order in the calling thread, the ``apart`` items
    after them; with threads, an apart item is produced beside the others once the first is
    produced (the last of several waits here until it has begun: were the apart items produced
    after the others, it would wait in vain)."""
    monkeypatch.setattr(parallel, "THREADS", threads)
    apart_begun = threading.Event()
    consumed: list[tuple[int, str]] = []

    def produce(item: int) -> int:
        if item == 100:
            apart_begun.set()
        elif threads > 1 and len(items) > 1 and item == items[-1]:
            assert apart_begun.wait(timeout=30), "the apart item was not produced beside"
        return item * 10

    def consume(value: int) -> None:
        consumed.append((value, threading.current_thread().name))

    parallel.pipeline(produce, consume, items, size=10**6, apart=[100, 200])
    assert [v for v, _ in consumed] == [i * 10 for i in items] + [1000, 2000]
    assert {name for _, name in consumed} == {"MainThread"}


def test_pipeline_raises_what_producing_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "THREADS", 2)

    def produce(item: int) -> int:
        if item == 100:
            raise ValueError("apart failed")
        return item

    consumed: list[int] = []
    with pytest.raises(ValueError, match="apart failed"):
        parallel.pipeline(produce, consumed.append, [1, 2], size=10**6, apart=[100])
    assert consumed == [1, 2]


def test_frozen_objects_freezes_for_the_block_only() -> None:
    """The objects made before the block are out of the collector's generations inside it (a
    collection there walks only the new ones) and back after it, also when the block raises."""
    import gc

    assert gc.get_freeze_count() == 0
    with parallel.frozen_objects():
        assert gc.get_freeze_count() > 1000
    assert gc.get_freeze_count() == 0
    with pytest.raises(KeyError), parallel.frozen_objects():
        raise KeyError("x")
    assert gc.get_freeze_count() == 0
