"""The volume and volatility measures of the results (docs/measures.md): the methods
:class:`~eventstudy.results.EventStudyResults` gets from :class:`MeasureMethods`, and the
functions building their tables.

The functions take the fits of
:mod:`eventstudy.estimation.volume` and :mod:`eventstudy.estimation.volatility` and plain arrays,
and return frames with the columns of :mod:`eventstudy.output.folder` (study order: events as
given, tickers as listed, then day or window).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import special

from eventstudy.errors import DataError, argument
from eventstudy.estimation.fit import Batch, StudyFit
from eventstudy.estimation.volatility import VolatilityBatch
from eventstudy.estimation.volume import VolumePanel
from eventstudy.frames import by_event, sorted_parts, text_column
from eventstudy.inference.stats import grouped_cross_sectional_t
from eventstudy.output.folder import (
    CAV_COLUMNS,
    VARIANCE_RATIO_COLUMNS,
    VOLATILITY_COLUMNS,
    VOLUME_COLUMNS,
)

if TYPE_CHECKING:
    from eventstudy.study import ResolvedEvent


def volume_frame(
    fit: StudyFit, volume: VolumePanel, date_at: Callable[[np.ndarray], np.ndarray]
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
                    "event": text_column(names, b.event[per_row]),
                    "ticker": text_column(np.asarray(b.ticker, dtype=object), per_row),
                    "date": date_at(rows).ravel(),
                    "rel_day": np.tile(days, len(idx)),
                    "volume": levels.ravel(),
                    "log_volume": f.ret[idx].ravel(),
                    "normal_log_volume": f.normal[idx].ravel(),
                    "av": f.ar[idx].ravel(),
                    "model": text_column(models, b.event[per_row]),
                },
                copy=False,
            )
        )
        keys.append((np.repeat(b.order[idx], len(days)), np.tile(days, len(idx))))
    return sorted_parts(parts, keys, VOLUME_COLUMNS)


def volatility_frame(
    batches: Sequence[VolatilityBatch],
    names: np.ndarray,
    date_at: Callable[[np.ndarray], np.ndarray],
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
            "event": text_column(names, b.event[per_row]),
            "ticker": text_column(np.asarray(b.ticker, dtype=object), per_row),
            "date": date_at(f.day0[idx, None] + days).ravel(),
            "rel_day": np.tile(days, len(idx)),
            "ar": v.ar[idx].ravel(),
            "u": v.u[idx].ravel(),
            "model": text_column(
                np.array([v.model], dtype=object), np.zeros(len(per_row), np.intp)
            ),
            "u_adj": v.u_adj[idx].ravel(),
            "null_mean": np.repeat(v.null_mean[idx], len(days)),
        }
        if garch:
            g = v.garch_variance if v.garch_variance is not None else np.full_like(v.ar, np.nan)
            columns["garch_variance"] = g[idx].ravel()
            columns["garch_ratio"] = (
                v.ratio[idx].ravel()
                if v.garch_variance is not None
                else (np.full(len(per_row), np.nan))
            )
        parts.append(pd.DataFrame(columns, copy=False))
        keys.append((np.repeat(b.order[idx], len(days)), np.tile(days, len(idx))))
    columns_out = VOLATILITY_COLUMNS + (["garch_variance", "garch_ratio"] if garch else [])
    return sorted_parts(parts, keys, columns_out)


def variance_ratio_frame(batches: Sequence[VolatilityBatch], fit: StudyFit) -> pd.DataFrame:
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
                    "event": text_column(names, b.event[fe]),
                    "ticker": text_column(np.asarray(b.ticker, dtype=object), fe),
                    "start": starts[wi],
                    "end": ends[wi],
                    "variance_ratio": ratio,
                    "df1": n.astype(int),
                    "df2": df2,
                    "p": p,
                    "model": text_column(
                        np.array([v.model], dtype=object), np.zeros(len(fe), np.intp)
                    ),
                },
                copy=False,
            )
        )
        keys.append((b.order[fe], starts[wi], ends[wi]))
    return sorted_parts(parts, keys, VARIANCE_RATIO_COLUMNS)


class MeasureMethods:
    """Mixed into :class:`~eventstudy.results.EventStudyResults`: the volume and volatility
    measures' fits, frames and averages, and the firm-events left out of them."""

    if TYPE_CHECKING:  # the results class has them
        events: list[ResolvedEvent]
        batches: list[Batch]
        day0_rows: np.ndarray
        volume: VolumePanel | None

        @property
        def study_fit(self) -> StudyFit: ...

        @property
        def _event_names(self) -> np.ndarray: ...

        def _date_at(self, rows: np.ndarray) -> np.ndarray: ...

        def _window_frame(
            self, kind: str, value: str, fit: StudyFit | None = None
        ) -> pd.DataFrame: ...

    @cached_property
    def measures(self) -> tuple[str, ...]:
        """The measures of the study (``return`` first, then those any event asks for)."""
        return tuple(dict.fromkeys(["return", *(m for e in self.events for m in e.measures)]))

    @cached_property
    def volume_fit(self) -> StudyFit | None:
        """The abnormal-volume fit of the events that measure volume
        (:mod:`eventstudy.estimation.volume`), or None."""
        if "volume" not in self.measures:
            return None
        if self.volume is None:
            wanted = next(e.name for e in self.events if "volume" in e.measures)
            raise DataError(
                f"event {wanted!r} measures volume, but no trading volume was given (prices "
                f"with a 'volume' column, or {argument('volume')} dates x tickers)"
            )
        from eventstudy.estimation.volume import fit_volume

        return fit_volume(self.volume, self.study_fit)

    @cached_property
    def volatility_batches(self) -> list[VolatilityBatch]:
        """The abnormal-volatility measure of the events that ask for it
        (:mod:`eventstudy.estimation.volatility`); empty when none does."""
        if "volatility" not in self.measures:
            return []
        from eventstudy.estimation.volatility import volatility_batches

        return volatility_batches(self.study_fit)

    # ------------------------------------------------------------ volume and volatility
    def volume_frame(self) -> pd.DataFrame | None:
        """Abnormal log volume per firm-event and event-window day
        (``event,ticker,date,rel_day,volume,log_volume,normal_log_volume,av,model``), or None when
        no event measures volume. ``model`` is the ``volume_model``."""
        fit = self.volume_fit
        if fit is None or self.volume is None:
            return None

        return volume_frame(fit, self.volume, self._date_at)

    def cav_frame(self) -> pd.DataFrame | None:
        """Cumulative abnormal log volume per firm-event and CAR window, with its standard error
        (prediction error included), t and two-sided p, as ``car.csv``; None without volume."""
        fit = self.volume_fit
        if fit is None:
            return None
        frame = self._window_frame("car_windows", "car", fit)
        return frame.rename(columns={"car": "cav"})[CAV_COLUMNS]

    def volatility_frame(self) -> pd.DataFrame | None:
        """Abnormal volatility per firm-event and event-window day
        (``event,ticker,date,rel_day,ar,u,model,u_adj,null_mean``, plus ``garch_variance,
        garch_ratio`` with a GARCH volatility model), or None when no event measures it."""
        if "volatility" not in self.measures:
            return None

        return volatility_frame(self.volatility_batches, self._event_names, self._date_at)

    def variance_ratio_frame(self) -> pd.DataFrame | None:
        """Event-window variance ratio per firm-event and CAR window with its F test
        (``event,ticker,start,end,variance_ratio,df1,df2,p,model``), or None."""
        if "volatility" not in self.measures:
            return None

        return variance_ratio_frame(self.volatility_batches, self.study_fit)

    def _measure_batches(self, measure: str) -> list[Batch]:
        if measure == "volume":
            return self.volume_fit.batches if self.volume_fit is not None else []
        if measure == "volatility":
            return [v.batch for v in self.volatility_batches]
        return self.batches

    def average_frame(self, measure: str = "return") -> pd.DataFrame:
        """Average per event and event-window day of a measure's tested value with the
        cross-sectional t against its null: ``event,rel_day,date,mean,n,t,p``. Returns: the AAR
        (as :meth:`aar_frame`); volume: the mean abnormal log volume; volatility: the mean ratio
        (``u_adj``, or the GARCH ratio), tested against its null mean. An event whose
        firm-events were all skipped has rows with ``n`` 0 and NaN."""
        parts = []
        for b in self._measure_batches(measure):
            f = b.fit
            ok = f.fitted
            stats = grouped_cross_sectional_t(b.event[ok], f.ar[ok], len(self.events))
            events = np.unique(b.event)
            days = f.rel_days
            mean = stats["mean"][events]
            if measure == "volatility":  # the test is of ratio - null: add the null back
                null = next(v for v in self.volatility_batches if v.batch is b).null_mean
                offset = grouped_cross_sectional_t(
                    b.event[ok], np.repeat(null[ok, None], len(days), axis=1), len(self.events)
                )["mean"][events]
                mean = mean + offset
            rows = self.day0_rows[events, None] + days
            parts.append(
                pd.DataFrame(
                    {
                        "event": np.repeat(self._event_names[events], len(days)),
                        "rel_day": np.tile(days, len(events)),
                        "date": self._date_at(rows).ravel(),
                        "mean": mean.ravel(),
                        "n": stats["n"][events].ravel(),
                        "t": stats["t"][events].ravel(),
                        "p": stats["p"][events].ravel(),
                        "_e": np.repeat(events, len(days)),
                    }
                )
            )
        columns = ["event", "rel_day", "date", "mean", "n", "t", "p"]
        return by_event(parts, ["_e", "rel_day"], columns)

    def _measure_skips(self) -> list[pd.DataFrame]:
        """Firm-events fitted for returns but left out of the volume or volatility measure, the
        reason prefixed with the measure (``volume: no trading volume ...``); those not fitted
        for returns are in skipped.csv already, with the returns' reason."""
        out: list[pd.DataFrame] = []
        if self.measures == ("return",):
            return out
        fitted = {  # (event index, ticker) of every firm-event fitted for returns
            (int(e), t)
            for b in self.batches
            for e, t, ok in zip(b.event, b.ticker, b.fit.fitted, strict=True)
            if ok
        }
        for measure in ("volume", "volatility"):
            if measure not in self.measures:
                continue
            for b in self._measure_batches(measure):
                rows = [
                    (self._event_names[e], t, f"{measure}: {why}")
                    for e, t, why in zip(b.event, b.ticker, b.fit.skip_reason, strict=True)
                    if why is not None and (int(e), t) in fitted
                ]
                if rows:
                    out.append(pd.DataFrame(rows, columns=["event", "ticker", "reason"]))
        return out
