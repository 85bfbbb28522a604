"""Abnormal trading volume: the return machinery on a log-volume panel.

The measure is log volume ``v_it = ln(1 + V_it)`` (Ajinkya & Jain 1989; Campbell & Wasley 1996:
the log makes volume far closer to normal, the 1 keeps zero-volume days defined). Its normal
level comes from one of two models, fitted by the same batched OLS as the returns
(:mod:`eventstudy.estimation.kernel`), so the variance conventions are the returns' (residual
variance on ``M - p`` degrees of freedom, prediction error in the AR variance):

``mean``
    the estimation-window mean of ``v_it`` (the constant-mean model on log volume; R's
    EventStudy ``VolumeModel``);
``market``
    OLS of ``v_it`` on the market's log volume ``v_mt`` over the estimation window (Campbell &
    Wasley 1996's market model for volume). A market series without volume (indices such as
    ``^SOX``) is an error naming it.

Abnormal log volume ``av_it = v_it - normal_it``; cumulative abnormal volume ``CAV`` sums it over
a window. Firm-events without any trading volume in the estimation window (volume missing or
zero every day) are left out of the volume measure with that reason; zero-volume days and stale
volume (the same count repeated) are flagged by :func:`volume_quality`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from eventstudy.data.inputs import refuse_negative_volume
from eventstudy.data.panel import ReturnsPanel
from eventstudy.errors import DataError, listed
from eventstudy.estimation.fit import StudyFit, fit_batches
from eventstudy.study import ResolvedEvent

#: ``volume_model`` -> the normal-return model fitted to log volume.
VOLUME_MODELS = {"mean": "constant-mean", "market": "market"}
#: Reason given for a firm-event without volume.
NO_VOLUME = "no trading volume in the estimation window (volume missing or zero every day)"
#: Identical volume counts on this many consecutive sessions flag ``stale_volume``.
STALE_VOLUME_RUN = 3


@dataclass(frozen=True)
class VolumePanel:
    """Volume on the sessions of a returns panel (the same rows, so day 0 is the same row):
    ``levels`` (shares traded, NaN where unknown) and the log-volume panel the models fit."""

    levels: np.ndarray  # (T, N)
    log: ReturnsPanel

    @classmethod
    def from_frame(cls, volume: pd.DataFrame, panel: ReturnsPanel) -> VolumePanel:
        """``volume`` (dates x tickers, shares traded) on ``panel``'s sessions and tickers; a
        ticker it lacks has no volume (NaN). A negative count is a :class:`DataError` naming the
        ticker and date."""
        index = pd.DatetimeIndex(pd.to_datetime(volume.index)).normalize()
        frame = volume.set_axis(index, axis=0)
        frame = frame.loc[~frame.index.duplicated(keep="last")]
        levels = frame.reindex(index=panel.dates, columns=list(panel.tickers)).to_numpy(
            dtype=float, copy=True
        )
        refuse_negative_volume(levels, panel.dates, panel.tickers)
        log = ReturnsPanel(
            dates=panel.dates,
            tickers=panel.tickers,
            values=np.ascontiguousarray(np.log1p(levels)),
            exchange=panel.exchange,
        )
        return cls(levels=levels, log=log)


def volume_events(events: Sequence[ResolvedEvent]) -> list[ResolvedEvent]:
    """The events as the volume fit sees them: the volume model in place of the return model,
    and no firms for events that do not measure volume (they are not fitted)."""
    out = []
    for e in events:
        wanted = "volume" in e.measures
        out.append(
            e.model_copy(
                update={
                    "model": VOLUME_MODELS[e.volume_model],
                    "factors": (),
                    "tickers": e.tickers if wanted else (),
                }
            )
        )
    return out


def fit_volume(volume: VolumePanel, returns_fit: StudyFit) -> StudyFit:
    """Fit the normal log volume of every firm-event whose event measures volume, on the days
    (day 0 rows) of the return fit ``returns_fit``. Firm-events without volume in the estimation
    window are not fitted (:data:`NO_VOLUME`)."""
    events = volume_events(returns_fit.events)
    levels = volume.levels
    for i, spec in enumerate(returns_fit.events):
        if events[i].tickers and spec.volume_model == "market":
            _require_market_volume(volume, spec, int(returns_fit.day0_rows[i]))
    fit = fit_batches(volume.log, events, warn=False, day0=returns_fit.day0_rows)
    without: list[str] = []
    if not fit.batches:
        return fit
    # Days with volume up to each row, per column: a window's count is a difference.
    with np.errstate(invalid="ignore"):
        traded_days = np.zeros((len(levels) + 1, levels.shape[1]), dtype=np.int32)
        np.cumsum(levels > 0, axis=0, out=traded_days[1:])
    last = len(levels) - 1
    for b in fit.batches:
        f = b.fit
        e0, e1 = f.estimation_window
        # Window rows clipped to the data, as a gather of the clipped rows would see them.
        lo, hi = np.clip(f.day0 + e0, 0, last), np.clip(f.day0 + e1, 0, last)
        traded = traded_days[hi + 1, f.col] > traded_days[lo, f.col]
        for row in np.flatnonzero(~traded):
            without.append(b.ticker[row])
            f.skip_reason[row] = NO_VOLUME
        f.ar[~traded] = np.nan
        f.normal[~traded] = np.nan
        f.params[~traded] = np.nan
    if without:
        warnings.warn(
            f"{len(without)} firm-event(s) left out of the volume measure for want of trading "
            f"volume: {listed(sorted(set(without)))} (see skipped.csv and data_quality.csv)",
            UserWarning,
            stacklevel=3,
        )
    return fit


def _require_market_volume(volume: VolumePanel, event: ResolvedEvent, day0: int) -> None:
    """``volume_model: market`` regresses on the market's log volume: the market must have a
    positive volume on every session of the event's windows (Yahoo sends 0 for a volume it does
    not know, so a zero is read as missing here)."""
    try:
        col = volume.log.column(event.market)
    except DataError:
        col = -1
    (e0, e1), (w0, w1) = event.estimation_window, event.event_window
    t = len(volume.levels)
    rows = np.r_[np.arange(day0 + e0, day0 + e1 + 1), np.arange(day0 + w0, day0 + w1 + 1)]
    rows = rows[(rows >= 0) & (rows < t)]
    levels = volume.levels[rows, col] if col >= 0 else np.full(len(rows), np.nan)
    have = np.nan_to_num(levels) > 0
    if not have.any():
        raise DataError(
            f"event {event.name!r}: volume_model 'market' regresses on the log volume of "
            f"{event.market}, which has no trading volume in the estimation window (indices "
            "such as ^SOX report none); use volume_model: mean or a market series with volume"
        )
    if not have.all():
        missing = volume.log.dates[rows[~have]]
        raise DataError(
            f"event {event.name!r}: volume_model 'market': {event.market} has no trading volume "
            f"on {len(missing)} session(s) of the windows, first {missing[0]:%Y-%m-%d}"
        )


#: Columns :func:`volume_quality` adds to ``data_quality.csv``.
VOLUME_QUALITY_COLUMNS = ["zero_volume_days", "missing_volume_days", "stale_volume_runs"]


def volume_quality(volume: VolumePanel, fit: StudyFit) -> pd.DataFrame:
    """Per fitted-or-skipped firm-event of the volume fit (``event,ticker`` plus
    :data:`VOLUME_QUALITY_COLUMNS` and ``volume_flags``) over its estimation and event windows:
    days with zero volume, days without a volume count, and the longest run of identical
    positive counts (a vendor carrying volume forward). Flags: ``no_volume`` (left out of the
    volume measure), ``zero_volume``, ``missing_volume``, ``stale_volume`` (a run of
    :data:`STALE_VOLUME_RUN` or more)."""
    levels = volume.levels
    t = len(levels)
    parts, orders = [], []
    names = fit.event_names
    for b in fit.batches:
        f = b.fit
        (e0, e1), (w0, w1) = f.estimation_window, f.event_window
        days = np.r_[np.arange(e0, e1 + 1), np.arange(w0, w1 + 1)]
        rows = f.day0[:, None] + days
        inside = (rows >= 0) & (rows < t)
        v = np.where(inside, levels[np.clip(rows, 0, t - 1), f.col[:, None]], np.nan)
        zero = (v == 0).sum(axis=1)
        missing = (~np.isfinite(v)).sum(axis=1)
        same = np.zeros_like(v, dtype=bool)
        same[:, 1:] = (v[:, 1:] == v[:, :-1]) & (v[:, 1:] > 0)
        same[:, e1 - e0 + 1] = False  # the gap between the windows breaks a run
        run = _longest_run(same) + 1
        run[~np.isfinite(v).any(axis=1)] = 0
        flags = np.full(len(zero), "", dtype=object)
        checks = (
            ("no_volume", np.array([r == NO_VOLUME for r in f.skip_reason])),
            ("zero_volume", zero > 0),
            ("missing_volume", missing > 0),
            ("stale_volume", run >= STALE_VOLUME_RUN),
        )
        for name, hit in checks:
            flags[hit] = np.where(flags[hit] == "", name, flags[hit] + ";" + name)
        parts.append(
            pd.DataFrame(
                {
                    "event": names[b.event],
                    "ticker": np.asarray(b.ticker, dtype=object),
                    "zero_volume_days": zero,
                    "missing_volume_days": missing,
                    "stale_volume_runs": run,
                    "volume_flags": flags,
                }
            )
        )
        orders.append(b.order)
    if not parts:
        return pd.DataFrame(columns=["event", "ticker", *VOLUME_QUALITY_COLUMNS, "volume_flags"])
    out = pd.concat(parts, ignore_index=True)
    return out.iloc[np.argsort(np.concatenate(orders), kind="stable")].reset_index(drop=True)


def _longest_run(hit: np.ndarray) -> np.ndarray:
    """Per row, the longest run of consecutive True values."""
    best = np.zeros(len(hit), dtype=int)
    current = np.zeros(len(hit), dtype=int)
    for j in range(hit.shape[1]):
        current = np.where(hit[:, j], current + 1, 0)
        best = np.maximum(best, current)
    return best


def add_volume_quality(quality: pd.DataFrame, volume: pd.DataFrame) -> pd.DataFrame:
    """``data_quality.csv`` with the volume checks of :func:`volume_quality` (``volume``) as
    extra columns (NA for firm-events whose event does not measure volume) and their flags
    appended to ``flags``."""
    if volume.empty:
        return quality
    keyed = volume.set_index(["event", "ticker"])
    at = pd.MultiIndex.from_frame(quality[["event", "ticker"]])
    extra = keyed.reindex(at)
    out = quality.copy()
    for column in VOLUME_QUALITY_COLUMNS:
        out[column] = extra[column].to_numpy()
        out[column] = out[column].astype("Int64")
    more = extra["volume_flags"].fillna("").to_numpy(dtype=object)
    flags = out["flags"].fillna("").to_numpy(dtype=object)
    both = (flags != "") & (more != "")
    out["flags"] = np.where(both, flags + ";" + more, np.where(flags != "", flags, more))
    columns = [c for c in quality.columns if c != "flags"]
    return out[[*columns, *VOLUME_QUALITY_COLUMNS, "flags"]]
