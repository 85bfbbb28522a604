"""The volume and volatility measures as every output reads them, from the frames of a
:class:`~eventstudy.output.source.ResultSource` only (so in memory and from a results folder read
back alike): the per-day value shown (abnormal log volume; the volatility ratio the tests use),
its averages per event and day, the per-window values, and the measure's rows of ``tests.csv``.

The charts, the tables, the report and the terminal summary all take these, so they agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from eventstudy.estimation.measures import MEASURES, MODEL_WORDS, MeasureSpec
from eventstudy.inference.registry import TESTS, TestSpec

if TYPE_CHECKING:
    from eventstudy.output.source import ResultSource
    from eventstudy.study import ResolvedEvent

__all__ = [
    "COMMON_TESTS",
    "EXTRA_MEASURES",
    "daily_values",
    "day_averages",
    "measure_tests",
    "measured_events",
    "model_words",
    "study_measures",
    "summary_window",
    "test_rows",
    "window_values",
]

#: The measures reported beside abnormal returns, in registry order.
EXTRA_MEASURES: tuple[MeasureSpec, ...] = tuple(m for m in MEASURES if m.name != "return")
#: The tests every measure has (the cross-sectional t first, then the rank test): what the
#: terminal and the charts quote for a measure.
COMMON_TESTS: tuple[TestSpec, ...] = tuple(
    t for t in TESTS if all(m.name in t.measures for m in MEASURES)
)
#: The study-file key of each measure's model.
_MODEL_KEY = {"volume": "volume_model", "volatility": "volatility_model"}


def measured_events(source: ResultSource, name: str) -> list[ResolvedEvent]:
    """The events that measure ``name``, in study order."""
    return [e for e in source.events if name in e.measures]


def study_measures(source: ResultSource) -> list[MeasureSpec]:
    """The measures beside returns that some event of the study measures."""
    return [m for m in EXTRA_MEASURES if measured_events(source, m.name)]


def model_words(ev: ResolvedEvent, name: str) -> str:
    """The event's model of measure ``name`` in words (:data:`MODEL_WORDS`)."""
    return MODEL_WORDS[str(getattr(ev, _MODEL_KEY[name]))]


def summary_window(ev: ResolvedEvent) -> tuple[int, int] | None:
    """The multi-day window a measure's summary quotes: ``[-1, +1]`` when it is a CAR window of
    the event, else its first multi-day CAR window (None when it has none)."""
    windows = [(int(a), int(b)) for a, b in ev.car_windows if a != b]
    return (-1, 1) if (-1, 1) in windows else (windows[0] if windows else None)


def daily_values(source: ResultSource, name: str) -> pd.DataFrame | None:
    """The measure's table (``abnormal_volume.csv`` or ``abnormal_volatility.csv``) with two
    columns added: ``value``, what the outputs show per firm-event and day (volume: ``av``;
    volatility: ``u_adj``, or ``garch_ratio`` for a GARCH volatility model), and ``null``, its
    mean under the null (0 for volume, ``null_mean`` for volatility). None when the study did not
    measure it."""
    if name == "volume":
        frame = source.volume_frame()
        if frame is None:
            return None
        return frame.assign(value=frame["av"].to_numpy(dtype=float), null=0.0)
    if name == "volatility":
        frame = source.volatility_frame()
        if frame is None:
            return None
        value = frame["u_adj"].to_numpy(dtype=float)
        if "garch_ratio" in frame.columns:
            garch = frame["model"].astype(str).to_numpy() == "garch"
            value = np.where(garch, frame["garch_ratio"].to_numpy(dtype=float), value)
        return frame.assign(value=value, null=frame["null_mean"].to_numpy(dtype=float))
    raise ValueError(f"no per-day table for measure {name!r}")


def day_averages(
    source: ResultSource, name: str, frame: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per event (study order) and event-window day: ``event, rel_day, date, mean, null, n``,
    the mean of :func:`daily_values`' ``value`` over the firms with one, their mean null, and
    their number (``frame``: those values, when already read)."""
    columns = ["event", "rel_day", "date", "mean", "null", "n"]
    frame = daily_values(source, name) if frame is None else frame
    if frame is None or frame.empty:
        return pd.DataFrame(columns=columns)
    frame = frame[np.isfinite(frame["value"].to_numpy(dtype=float))]
    order = {e.name: k for k, e in enumerate(source.events)}
    grouped = frame.groupby(["event", "rel_day"], sort=False)
    out = grouped.agg(
        date=("date", "first"),
        mean=("value", "mean"),
        null=("null", "mean"),
        n=("value", "size"),
    ).reset_index()
    out["_e"] = out["event"].map(order)
    return out.sort_values(["_e", "rel_day"], kind="stable")[columns].reset_index(drop=True)


def window_values(source: ResultSource, name: str) -> pd.DataFrame | None:
    """Per firm-event and CAR window: ``event, ticker, start, end, value, p`` (volume: the CAV
    of ``cav.csv``; volatility: the variance ratio of ``variance_ratio.csv``), or None."""
    if name == "volume":
        frame, column = source.cav_frame(), "cav"
    elif name == "volatility":
        frame, column = source.variance_ratio_frame(), "variance_ratio"
    else:
        raise ValueError(f"no per-window table for measure {name!r}")
    if frame is None:
        return None
    frame = frame.rename(columns={column: "value"})
    return frame[["event", "ticker", "start", "end", "value", "p"]]


def measure_tests(tests: pd.DataFrame | None, name: str) -> pd.DataFrame | None:
    """The rows of ``tests.csv`` of measure ``name`` without the ``measure`` column (a folder
    written before the measures has returns only); None without the battery."""
    if tests is None:
        return None
    if "measure" not in tests.columns:
        return tests if name == "return" else tests.iloc[0:0]
    keep = tests["measure"].astype(str).to_numpy() == name
    return tests[keep].drop(columns="measure")


def test_rows(
    tests: pd.DataFrame | None, event: str, window: tuple[int, int]
) -> dict[str, dict[str, float]]:
    """Test name -> ``{statistic, p_value, n}`` of ``event`` over ``window``, from a measure's
    rows (:func:`measure_tests`)."""
    if tests is None or tests.empty:
        return {}
    a, b = window
    rows = tests[(tests["event"] == event) & (tests["start"] == a) & (tests["end"] == b)]
    return {
        str(r["test"]): {"statistic": r["statistic"], "p_value": r["p_value"], "n": r["n"]}
        for r in rows.to_dict("records")
    }

