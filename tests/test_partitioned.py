"""The residual pass in two halves (eventstudy.inference.partitioned), without Dask: a study's fits
split into partitions held by an in-process host. The tests frame and car.csv equal the local
engine's: bit for bit with one partition (the partition's half is the local pass over the same
firm-events), within a relative 1e-12 with several (the same sums added in another order)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from eventstudy import EventStudy
from eventstudy.inference.partitioned import (
    TOLERANCE,
    PartitionedResiduals,
    PartRequest,
    PartSums,
    _compact,
    _pack_signs,
    _unpack_signs,
    held_summary,
    partition_sums,
)
from eventstudy.inference.sample import HeldResiduals
from eventstudy.synthetic import SyntheticConfig

SETTINGS = {"market": "MKT", "event_window": (-2, 2), "car_windows": [(-1, 1), (0, 2)]}


class _Host:
    """Partitions in this process: ``parts[k]`` are partition k's fits."""

    def __init__(self, parts: list[list]) -> None:
        self.parts = parts
        self.passed: list[int] = []
        self.fetched = 0

    def run_pass(self, requests: dict[int, PartRequest]) -> dict[int, PartSums]:
        self.passed.append(sum(len(r.labels[0]) for r in requests.values()))
        return {k: partition_sums(self.parts[k], r) for k, r in requests.items()}

    def fetch(self, origin: np.ndarray) -> np.ndarray:
        self.fetched += len(origin)
        return np.array([np.asarray(self.parts[k][b].resid[r]) for k, b, r in origin.tolist()])


def _split(results, k: int):
    """``results`` with every fit's firm-events dealt round-robin to ``k`` partitions (so each
    event spans all of them) and the residuals left there."""
    windows = sorted({tuple(w) for e in results.events for w in e.car_windows})
    parts: list[list] = [[] for _ in range(k)]
    host = _Host(parts)
    batches = []
    for i, b in enumerate(results.batches):
        fit = b.fit
        rows = [np.arange(p, fit.n, k) for p in range(k)]
        held = []
        for p in range(k):
            sub = fit.take(rows[p])
            parts[p].append(sub)
            origin = np.column_stack([np.full(sub.n, p), np.full(sub.n, i), np.arange(sub.n)])
            stats, quantiles = held_summary(sub, windows)
            held.append(PartitionedResiduals(origin, fit.resid.shape[1], stats, quantiles))
        perm = np.argsort(np.concatenate(rows), kind="stable")
        resid = PartitionedResiduals.concat(held, host).take(perm)
        batches.append(dataclasses.replace(b, fit=dataclasses.replace(fit, resid=resid)))
    return dataclasses.replace(results, batches=batches), host


def _study(missing: float):
    cfg = SyntheticConfig(
        n_firms=90, n_days=600, n_events=4, firms_per_event=90, seed=3, missing=missing,
        abnormal={0: 0.02},
    )  # fmt: skip
    returns, events = cfg.generate()
    return EventStudy(returns, **SETTINGS).fit(events)


@pytest.mark.parametrize("missing", [0.0, 0.02])
@pytest.mark.parametrize("k", [1, 3])
def test_partitioned_pass_equals_the_local_pass(missing: float, k: int) -> None:
    local = _study(missing)
    split, host = _split(local, k)
    assert all(isinstance(b.fit.resid, HeldResiduals) for b in split.batches)
    want, got = local.tests_frame(), split.tests_frame()
    assert host.passed == [len(local.car_frame()) // 2]  # every firm-event summed in a partition
    if not missing:
        assert host.fetched == 0  # complete data: no group needs residual rows on the client
    pd.testing.assert_frame_equal(split.car_frame(), local.car_frame(), check_exact=True)
    if k == 1:
        pd.testing.assert_frame_equal(got, want, check_exact=True)
        return
    numbers = ["statistic", "p_value"]
    pd.testing.assert_frame_equal(got.drop(columns=numbers), want.drop(columns=numbers))
    for column in numbers:
        np.testing.assert_allclose(got[column], want[column], **TOLERANCE)
    assert not got["statistic"].equals(want["statistic"]) or missing  # another order of sums


def test_few_firm_groups_travel_as_residuals() -> None:
    """A partition holding few firm-events of a group sends their residuals, not the group's
    sums (which would be larger); the client adds them as a partition of its own."""
    cfg = SyntheticConfig(n_firms=30, n_days=600, n_events=6, firms_per_event=6, seed=4)
    returns, events = cfg.generate()
    local = EventStudy(returns, **SETTINGS).fit(events)
    split, host = _split(local, 3)
    got, want = split.tests_frame(), local.tests_frame()
    assert host.passed == [0] and host.fetched == len(local.car_frame()) // 2
    pd.testing.assert_frame_equal(got, want, check_exact=True)


def test_compact_keeps_the_numbers() -> None:
    counts = np.array([[0.0, 3.0], [-2.0, 200.0]])
    small = _compact(counts)
    assert small.dtype == np.int16 and np.array_equal(small.astype(float), counts)
    sums = np.array([0.5, 1.0])
    assert _compact(sums) is sums
    with_nan = np.array([1.0, np.nan])
    assert _compact(with_nan) is with_nan


def test_signs_travel_as_int8_and_come_back_the_same() -> None:
    signs = np.array([[-1.0, 0.0, np.nan], [1.0, 1.0, -1.0]])
    packed = _pack_signs(signs)
    assert packed.dtype == np.int8
    np.testing.assert_array_equal(_unpack_signs(packed), signs)
    other = np.array([0.5, -1.0])
    assert _pack_signs(other) is other and _unpack_signs(other) is other
