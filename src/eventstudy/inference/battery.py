"""The test battery: every test of the registry, for every event and for the pooled sample.

:func:`test_battery` tests, for every event (the firm-events sharing it) and for the pooled sample
of all firm-events (``event == "all"``), every day of the event window (``start == end``) and every
multi-day CAR window, with every test of :data:`eventstudy.inference.registry.TESTS`, in its
order. The tests are in :mod:`~eventstudy.inference.parametric` and
:mod:`~eventstudy.inference.nonparametric` (each gives its formula as implemented and its paper),
the engine they share in :mod:`~eventstudy.inference.engine`; docs/tests.md collects the
conventions and the differences from other software.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from eventstudy import parallel
from eventstudy.frames import text_column
from eventstudy.inference import bootstrap, registry
from eventstudy.inference.engine import TestResult, _build_lazy_state, _Groups, _prepare, _window
from eventstudy.inference.registry import TestSpec
from eventstudy.inference.sample import FirmEventSample, Window, sample_from_fits
from eventstudy.study import POOLED

if TYPE_CHECKING:
    from eventstudy.estimation.kernel import BatchFit

COLUMNS = ["event", "test", "start", "end", "statistic", "p_value", "n", "df", "note"]


def _run_tests(
    groupings: Sequence[_Groups], windows: Sequence[Window], tests: Sequence[TestSpec]
) -> list[dict[tuple[str, Window], TestResult]]:
    """``tests`` on every window, per grouping (windows in threads, :mod:`eventstudy.parallel`).
    A window's groupings run in one job, one after the other, so that what they share
    (:meth:`~eventstudy.inference.engine._Window.across_groupings`) is made once."""

    def run(window: Window) -> list[list[TestResult]]:
        across: dict = {}
        out = []
        for groups in groupings:
            w = _window(groups, window)
            w.across = across
            results = []
            for spec in tests:
                assert spec.function is not None, spec.name
                results.append(spec.function(groups, w))
            out.append(results)
        return out

    n = groupings[0].sample.n
    if parallel.threaded(n, len(windows)):
        _build_lazy_state(groupings, windows)  # before the threads share it
    # The longest windows first, so that the threads finish together.
    jobs = sorted(windows, key=lambda w: w[0] - w[1])
    done = parallel.ordered_map(run, jobs, n)
    out: list[dict[tuple[str, Window], TestResult]] = [{} for _ in groupings]
    by_window = dict(zip(jobs, done, strict=True))
    for window in windows:  # the results in the order of the windows
        per_grouping = by_window[window]
        for k, results in enumerate(per_grouping):
            for spec, result in zip(tests, results, strict=True):
                out[k][(spec.name, window)] = result
    return out


def group_tests(
    sample: FirmEventSample,
    labels: np.ndarray,
    windows: Sequence[Window],
    tests: Sequence[TestSpec] = registry.TESTS,
) -> tuple[np.ndarray, dict[tuple[str, Window], TestResult]]:
    """Run ``tests`` (entries of the registry) on every group of firm-events (``labels``, one per
    firm-event of ``sample``) for every window. Returns the group ids (sorted distinct labels) and
    one :class:`~eventstudy.inference.engine.TestResult` per (test name, window), with arrays over
    those groups."""
    labels = np.asarray(labels)
    if sample.n == 0:
        return np.zeros(0, dtype=labels.dtype), {}
    groups = _Groups(labels, sample)
    _prepare_for([groups], windows, tests)
    return groups.ids, _run_tests([groups], windows, tests)[0]


def _prepare_for(
    groupings: Sequence[_Groups], windows: Sequence[Window], tests: Sequence[TestSpec]
) -> None:
    """The residual pass, when some of ``tests`` read the residuals, with ``windows`` when some
    are computed in the pass."""
    if any(t.needs_residuals or t.computed_in_pass for t in tests):
        _prepare(groupings, windows if any(t.computed_in_pass for t in tests) else [])


# ----------------------------------------------------------------------------- the public entry
def _windows(days: tuple[int, int], car_windows: Sequence[Window]) -> list[Window]:
    """Every day of the event window, then the multi-day CAR windows (a one-day CAR window is a
    day and is not repeated)."""
    out = [(d, d) for d in range(days[0], days[1] + 1)]
    out += [(c[0], c[1]) for c in car_windows if c[0] != c[1]]
    return list(dict.fromkeys(out))


def _all_windows(
    event_windows: Sequence[Window], car_windows: Sequence[Sequence[Window]]
) -> tuple[list[list[Window]], list[Window]]:
    """Each event's windows (:func:`_windows`) and the pooled sample's: every day of any event
    window, then every multi-day CAR window of any event."""
    per_event = [_windows(w, c) for w, c in zip(event_windows, car_windows, strict=True)]
    days = sorted({d for w in event_windows for d in range(w[0], w[1] + 1)})
    pooled = [(d, d) for d in days]
    pooled += list(dict.fromkeys(w for ws in per_event for w in ws if w[0] != w[1]))
    return per_event, pooled


def bootstrap_battery(
    fits: Sequence[tuple[BatchFit, np.ndarray]],
    names: Sequence[str],
    event_windows: Sequence[Window],
    car_windows: Sequence[Sequence[Window]],
    reps: int,
    seed: int,
) -> pd.DataFrame:
    """The bootstrap tests (:data:`~eventstudy.inference.registry.BOOTSTRAP_TESTS`,
    :mod:`eventstudy.inference.bootstrap`) for each event and the pooled sample, in the layout
    of :func:`test_battery`: per event (then ``all``) and window (the battery's), the
    wild-bootstrap t, and on the CAR windows the bootstrapped skewness-adjusted t; ``reps``
    replications, random streams from ``seed``. The same firm-events as the battery: on a window,
    those whose event window covers it and that have a value."""
    sample, labels = sample_from_fits(fits)
    per_event, pooled = _all_windows(event_windows, car_windows)
    values = sample.cars(pooled)  # a CAR window lies in the event window
    cars = [[(int(a), int(b)) for a, b in ws] for ws in car_windows]
    wild, skew = (t.name for t in registry.BOOTSTRAP_TESTS)
    return bootstrap.window_tests(
        values, labels, names, per_event, cars, pooled, POOLED, (wild, skew), reps, seed
    )


def test_battery(
    fits: Sequence[tuple[BatchFit, np.ndarray]],
    names: Sequence[str],
    event_windows: Sequence[Window],
    car_windows: Sequence[Sequence[Window]],
    tests: Sequence[TestSpec] = registry.TESTS,
) -> pd.DataFrame:
    """The whole battery for each event and for the pooled sample (``event == "all"``).

    ``fits``: each fit (:class:`~eventstudy.estimation.kernel.BatchFit`) with the event of each of
    its firm-events (an index into the events); its fitted firm-events are tested. ``names``,
    ``event_windows`` (``(first, last)`` relative day) and ``car_windows``: per event, its name,
    its event window and its CAR windows.

    Columns ``event, test, start, end, statistic, p_value, n, df, note``: one row per event or
    ``all``, window (each event-window day with ``start == end``, then each multi-day CAR window)
    and test (``tests``: by default every test of
    :data:`~eventstudy.inference.registry.TESTS`, in that order). ``n`` counts the firm-events
    used; ``df`` is set where the p-value is from Student's t; ``note`` gives the reason when the
    statistic is NaN. p-values are two-sided. The pooled rows cover the union of the events' days
    and CAR windows, each over the firm-events whose event window covers it."""
    sample, labels = sample_from_fits(fits)
    per_event, pooled = _all_windows(event_windows, car_windows)

    # Every event's windows are among the pooled ones; windows an event lacks are not reported.
    n_events = len(names)
    group_of = np.full(n_events + 1, -1)  # row of each event (then "all") in the result arrays
    res: dict[tuple[str, Window], TestResult] = {}
    res_all: dict[tuple[str, Window], TestResult] = {}
    if sample.n:
        by_event = _Groups(np.asarray(labels), sample)
        pooled_sample = _Groups(np.zeros(sample.n, dtype=int), sample)
        _prepare_for([by_event, pooled_sample], pooled, tests)
        res, res_all = _run_tests([by_event, pooled_sample], pooled, tests)
        group_of[np.asarray(by_event.ids, dtype=int)] = np.arange(by_event.G)
        group_of[n_events] = 0

    # Output rows: each event's windows in its own order, then "all" over the pooled windows;
    # within a window the tests in registry order.
    index = {w: j for j, w in enumerate(pooled)}
    who = np.repeat(np.arange(n_events + 1), [len(ws) for ws in per_event] + [len(pooled)])
    win = np.array([index[w] for ws in per_event for w in ws] + list(range(len(pooled))), dtype=int)
    if not len(win):
        return pd.DataFrame(columns=COLUMNS)
    n_tests = len(tests)
    position = {spec.name: j for j, spec in enumerate(tests)}
    who = np.repeat(who, n_tests)
    win = np.repeat(win, n_tests)
    test = np.tile(np.arange(n_tests), len(who) // n_tests)
    k = group_of[who]
    column = np.where(who == n_events, -1, k)  # the pooled result is the last column
    found = k >= 0

    def values(get: Callable[[TestResult], np.ndarray], fill: object, dtype: type) -> np.ndarray:
        """``get(result)`` of each row's result (``fill`` where an event lacks the window)."""
        out: np.ndarray = np.full(len(who), fill, dtype=dtype)
        if res and res_all:
            G = len(get(next(iter(res.values()))))
            table: np.ndarray = np.empty((len(pooled), n_tests, G + 1), dtype=dtype)
            for (name, window), r in res.items():
                table[index[window], position[name], :G] = get(r)
            for (name, window), r in res_all.items():
                table[index[window], position[name], G] = get(r)[0]
            out[found] = table[win[found], test[found], column[found]]
        return out

    # Text columns as codes into their few distinct strings: converting a million strings one
    # by one to pandas 3's text dtype costs about a second.
    notes: dict[str, int] = {"no fitted firm-events": 0}

    def note_codes(r: TestResult) -> np.ndarray:
        codes, distinct = pd.factorize(r.note)
        return np.array([notes.setdefault(str(d), len(notes)) for d in distinct], dtype=int)[codes]

    note = values(note_codes, 0, int)
    window_arr = np.array(pooled, dtype=int).reshape(-1, 2)
    frame = pd.DataFrame({
        "event": text_column(np.array([*names, POOLED], dtype=object), who),
        "test": text_column(np.array([spec.name for spec in tests], dtype=object), test),
        "start": window_arr[win, 0],
        "end": window_arr[win, 1],
        "statistic": values(attrgetter("statistic"), np.nan, float),
        "p_value": values(attrgetter("p_value"), np.nan, float),
        "n": values(attrgetter("n"), 0, int),
        "df": values(attrgetter("df"), np.nan, float),
        "note": text_column(np.array(list(notes), dtype=object), note),
    })
    return frame.astype({"start": int, "end": int, "n": int, "statistic": float,
                         "p_value": float, "df": float})[COLUMNS]


test_battery.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
