"""The tables of the volume and volatility measures (docs/measures.md), built from their fits.

:class:`~eventstudy.results.EventStudyResults` calls these; they take the fits of
:mod:`eventstudy.estimation.volume` and :mod:`eventstudy.estimation.volatility` and plain arrays,
and return frames with the columns of :mod:`eventstudy.output.folder` (study order: events as
given, tickers as listed, then day or window).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from eventstudy.estimation.fit import StudyFit
from eventstudy.estimation.volatility import VolatilityBatch
from eventstudy.estimation.volume import VolumePanel
from eventstudy.output.folder import (
    VARIANCE_RATIO_COLUMNS,
    VOLATILITY_COLUMNS,
    VOLUME_COLUMNS,
)

#: ``(values, take) -> text column`` and ``(parts, keys, columns) -> frame`` of the results module.
Text = Callable[[np.ndarray, np.ndarray | None], Any]
Sorter = Callable[
    [list[pd.DataFrame], Sequence[tuple[np.ndarray, ...]], Sequence[str]], pd.DataFrame
]


def volume_frame(
    fit: StudyFit, volume: VolumePanel, date_at: Callable[[np.ndarray], np.ndarray],
    text: Text, ordered: Sorter,
) -> pd.DataFrame:
    """``abnormal_volume.csv``: one row per fitted firm-event and event-window day."""
    names = fit.event_names
    models = np.array([e.volume_model for e in fit.events], dtype=object)
    parts, keys = [], []
    for b in fit.batches:
        f = b.fit
        idx = np.flatnonzero(f.fitted)
        if not len(idx):
            continue
        days = f.rel_days
        rows = f.day0[idx, None] + days
        t = len(volume.levels)
        inside = (rows >= 0) & (rows < t)
        levels = np.where(inside, volume.levels[np.clip(rows, 0, t - 1), f.col[idx, None]], np.nan)
        per_row = np.repeat(idx, len(days))
        parts.append(
            pd.DataFrame(
                {
                    "event": text(names, b.event[per_row]),
                    "ticker": text(np.asarray(b.ticker, dtype=object), per_row),
                    "date": date_at(rows).ravel(),
                    "rel_day": np.tile(days, len(idx)),
                    "volume": levels.ravel(),
                    "log_volume": f.ret[idx].ravel(),
                    "normal_log_volume": f.normal[idx].ravel(),
                    "av": f.ar[idx].ravel(),
                    "model": text(models, b.event[per_row]),
                },
                copy=False,
            )
        )
        keys.append((np.repeat(b.order[idx], len(days)), np.tile(days, len(idx))))
    return ordered(parts, keys, VOLUME_COLUMNS)


def volatility_frame(
    batches: Sequence[VolatilityBatch], names: np.ndarray,
    date_at: Callable[[np.ndarray], np.ndarray], text: Text, ordered: Sorter,
) -> pd.DataFrame:
    """``abnormal_volatility.csv``: one row per firm-event and event-window day of the
    firm-events measured (``garch_variance`` and ``garch_ratio`` when a GARCH model was asked
    for)."""
    garch = any(v.garch_variance is not None for v in batches)
    parts, keys = [], []
    for v in batches:
        b, f = v.batch, v.batch.fit
        idx = np.flatnonzero(f.fitted)
        if not len(idx):
            continue
        days = f.rel_days
        per_row = np.repeat(idx, len(days))
        columns: dict[str, Any] = {
            "event": text(names, b.event[per_row]),
            "ticker": text(np.asarray(b.ticker, dtype=object), per_row),
            "date": date_at(f.day0[idx, None] + days).ravel(),
            "rel_day": np.tile(days, len(idx)),
            "ar": v.ar[idx].ravel(),
            "u": v.u[idx].ravel(),
            "model": text(np.array([v.model], dtype=object), np.zeros(len(per_row), np.intp)),
            "u_adj": v.u_adj[idx].ravel(),
            "null_mean": np.repeat(v.null_mean[idx], len(days)),
        }
        if garch:
            g = v.garch_variance if v.garch_variance is not None else np.full_like(v.ar, np.nan)
            columns["garch_variance"] = g[idx].ravel()
            columns["garch_ratio"] = v.ratio[idx].ravel() if v.garch_variance is not None else (
                np.full(len(per_row), np.nan)
            )
        parts.append(pd.DataFrame(columns, copy=False))
        keys.append((np.repeat(b.order[idx], len(days)), np.tile(days, len(idx))))
    columns_out = VOLATILITY_COLUMNS + (["garch_variance", "garch_ratio"] if garch else [])
    return ordered(parts, keys, columns_out)


def variance_ratio_frame(
    batches: Sequence[VolatilityBatch], fit: StudyFit, text: Text, ordered: Sorter,
) -> pd.DataFrame:
    """``variance_ratio.csv``: per measured firm-event and CAR window, the mean ratio over the
    window (the variance ratio), its F distribution's degrees of freedom and the two-sided
    p-value."""
    names = fit.event_names
    parts, keys = [], []
    for v in batches:
        b, f = v.batch, v.batch.fit
        windows = fit.windows_of("car_windows", b)
        if not windows:
            continue
        starts = np.array([w[0] for w in windows], dtype=int)
        ends = np.array([w[1] for w in windows], dtype=int)
        take = np.column_stack([f.fitted & wanted for wanted in windows.values()])
        fe, wi = np.nonzero(take)
        ratio, n = (
            np.column_stack(a)[fe, wi]
            for a in zip(*(v.variance_ratio(*w) for w in windows), strict=True)
        )
        df2 = v.df[fe]
        with np.errstate(invalid="ignore"):  # the F cdf and sf (scipy.stats' own functions)
            lower = special.fdtr(n, df2, ratio)
            upper = special.fdtrc(n, df2, ratio)
        p = np.where(n > 0, np.minimum(1.0, 2 * np.minimum(lower, upper)), np.nan)
        parts.append(
            pd.DataFrame(
                {
                    "event": text(names, b.event[fe]),
                    "ticker": text(np.asarray(b.ticker, dtype=object), fe),
                    "start": starts[wi],
                    "end": ends[wi],
                    "variance_ratio": ratio,
                    "df1": n.astype(int),
                    "df2": df2,
                    "p": p,
                    "model": text(np.array([v.model], dtype=object), np.zeros(len(fe), np.intp)),
                },
                copy=False,
            )
        )
        keys.append((b.order[fe], starts[wi], ends[wi]))
    return ordered(parts, keys, VARIANCE_RATIO_COLUMNS)
