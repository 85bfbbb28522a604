"""Results of an event study: arrays from the batched fits, tidy frames built on demand,
a text ``summary()`` and ``plot_*()`` methods (in the manner of statsmodels' results classes)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from eventstudy.inference import cross_sectional_t, t_pvalue
from eventstudy.panel import ReturnsPanel
from eventstudy.study import ResolvedEvent

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from eventstudy.estimator import Batch


@dataclass
class EventStudyResults:
    """Everything an event study produced. Build frames with the ``*_frame()`` methods."""

    title: str
    events: list[ResolvedEvent]
    day0_dates: list[dt.date]
    panel: ReturnsPanel
    batches: list[Batch]
    close: pd.DataFrame | None = None
    shares: pd.DataFrame | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ frames
    def _date_at(self, rows: np.ndarray) -> np.ndarray:
        inside = (rows >= 0) & (rows < len(self.panel.dates))
        dates = self.panel.dates.to_numpy()[np.clip(rows, 0, len(self.panel.dates) - 1)]
        return np.where(inside, dates, np.datetime64("NaT"))

    @cached_property
    def _ar(self) -> pd.DataFrame:
        parts = []
        for b in self.batches:
            f = b.fit
            ok = f.fitted
            if not ok.any():
                continue
            days = f.rel_days
            n_days = len(days)
            ar_se = np.sqrt(f.ar_variance())
            car, car_var = f.car_path()
            with np.errstate(invalid="ignore", divide="ignore"):
                ar_t = f.ar / ar_se
            idx = np.flatnonzero(ok)
            rows = f.day0[idx, None] + days
            parts.append(
                pd.DataFrame(
                    {
                        "event": np.repeat([self.events[e].name for e in b.event[idx]], n_days),
                        "ticker": np.repeat([b.ticker[i] for i in idx], n_days),
                        "date": self._date_at(rows).ravel(),
                        "rel_day": np.tile(days, len(idx)),
                        "ret": f.ret[idx].ravel(),
                        "normal_ret": f.normal[idx].ravel(),
                        "ar": f.ar[idx].ravel(),
                        "ar_se": ar_se[idx].ravel(),
                        "ar_t": ar_t[idx].ravel(),
                        "ar_p": t_pvalue(ar_t[idx], f.df[idx, None]).ravel(),
                        "car": car[idx].ravel(),
                        "car_se": np.sqrt(car_var[idx]).ravel(),
                        "model": np.repeat([self.events[e].model for e in b.event[idx]], n_days),
                    }
                )
            )
        frame = _concat(parts, ["event", "ticker", "date", "rel_day", "ret", "normal_ret", "ar"])
        return self._order(frame, ["rel_day"])

    def ar_frame(self) -> pd.DataFrame:
        """Abnormal returns: one row per firm-event and event-window day.

        ``ar_se`` includes the prediction error; ``car``/``car_se`` cumulate from the first day of
        the event window."""
        return self._ar.copy()

    @cached_property
    def _car(self) -> pd.DataFrame:
        parts = []
        for b in self.batches:
            f = b.fit
            windows = sorted({w for e in set(b.event) for w in self.events[e].car_windows})
            for start, end in windows:
                car, var, length = f.car(start, end)
                se = np.sqrt(var)
                with np.errstate(invalid="ignore", divide="ignore"):
                    t = car / se
                keep = f.fitted & np.array(
                    [(start, end) in self.events[e].car_windows for e in b.event]
                )
                idx = np.flatnonzero(keep)
                parts.append(
                    pd.DataFrame(
                        {
                            "event": [self.events[e].name for e in b.event[idx]],
                            "ticker": [b.ticker[i] for i in idx],
                            "start": start,
                            "end": end,
                            "car": car[idx],
                            "se": se[idx],
                            "t": t[idx],
                            "p": t_pvalue(t[idx], f.df[idx]),
                            "df": f.df[idx],
                            "n_days": length[idx].astype(int),
                            "model": [self.events[e].model for e in b.event[idx]],
                        }
                    )
                )
        frame = _concat(parts, ["event", "ticker", "start", "end", "car", "se", "t", "p"])
        return self._order(frame, ["start", "end"])

    def car_frame(self) -> pd.DataFrame:
        """CAR per firm-event and CAR window with its standard error (prediction error included),
        t on ``df = M - p`` degrees of freedom and two-sided p; ``n_days`` counts non-missing
        ARs."""
        return self._car.copy()

    def bhar_frame(self) -> pd.DataFrame:
        """Buy-and-hold abnormal returns per firm-event and ``bhar_windows`` window (see
        :meth:`~eventstudy.estimation.BatchFit.bhar`); ``n_days`` counts the compounded days."""
        log = self.meta.get("returns") == "log"
        parts = []
        for b in self.batches:
            f = b.fit
            windows = sorted({w for e in set(b.event) for w in self.events[e].bhar_windows})
            for start, end in windows:
                bhar, length = f.bhar(start, end, log=log)
                keep = f.fitted & np.array(
                    [(start, end) in self.events[e].bhar_windows for e in b.event]
                )
                idx = np.flatnonzero(keep)
                parts.append(
                    pd.DataFrame(
                        {
                            "event": [self.events[e].name for e in b.event[idx]],
                            "ticker": [b.ticker[i] for i in idx],
                            "start": start,
                            "end": end,
                            "bhar": bhar[idx],
                            "n_days": length[idx],
                            "model": [self.events[e].model for e in b.event[idx]],
                        }
                    )
                )
        frame = _concat(parts, ["event", "ticker", "start", "end", "bhar", "n_days", "model"])
        return self._order(frame, ["start", "end"])

    def _order(self, frame: pd.DataFrame, extra: list[str]) -> pd.DataFrame:
        """Sort rows by event order (as in the study), ticker order, then ``extra`` columns."""
        if frame.empty:
            return frame
        rank: dict[tuple[str, str], int] = {}
        for e in self.events:
            for t in e.tickers:
                rank.setdefault((e.name, t), len(rank))
        keys = [rank[k] for k in zip(frame["event"], frame["ticker"], strict=True)]
        frame = frame.assign(_k=keys).sort_values(["_k", *extra], kind="stable")
        return frame.drop(columns="_k").reset_index(drop=True)

    def aar_frame(self) -> pd.DataFrame:
        """Average AR per event and event-window day with the cross-sectional t (Brown & Warner
        1985): ``t = AAR / (sd / sqrt(N))``, ``N - 1`` degrees of freedom."""
        ar = self._ar
        rows = []
        for i, e in enumerate(self.events):
            sub = ar[ar["event"] == e.name]
            for day in range(e.event_window[0], e.event_window[1] + 1):
                values = sub.loc[sub["rel_day"] == day, "ar"].to_numpy()
                res = cross_sectional_t(values)
                rows.append(
                    {
                        "event": e.name,
                        "rel_day": day,
                        "date": self._date_at(np.array([self._day0_row(i) + day]))[0],
                        "aar": float(res["mean"]),
                        "n": int(res["n"]),
                        "t": float(res["t"]),
                        "p": float(res["p"]),
                    }
                )
        return pd.DataFrame(rows)

    def caar_frame(self) -> pd.DataFrame:
        """Average CAR per event and CAR window with the cross-sectional t."""
        car = self._car
        rows = []
        for e in self.events:
            sub = car[car["event"] == e.name]
            for start, end in e.car_windows:
                values = sub.loc[(sub["start"] == start) & (sub["end"] == end), "car"].to_numpy()
                res = cross_sectional_t(values)
                rows.append(
                    {
                        "event": e.name,
                        "start": start,
                        "end": end,
                        "caar": float(res["mean"]),
                        "n": int(res["n"]),
                        "t": float(res["t"]),
                        "p": float(res["p"]),
                    }
                )
        return pd.DataFrame(rows)

    def _day0_row(self, event_index: int) -> int:
        return int(self.panel.dates.get_loc(pd.Timestamp(self.day0_dates[event_index])))

    def params_frame(self) -> pd.DataFrame:
        """Fitted normal-return model per firm-event: parameters, sigma, M and residual df."""
        parts = []
        for b in self.batches:
            f = b.fit
            frame = pd.DataFrame(
                {
                    "event": [self.events[e].name for e in b.event],
                    "ticker": b.ticker,
                    "model": [self.events[e].model for e in b.event],
                    "n_obs": f.n_obs,
                    "df": f.df,
                    "sigma": np.sqrt(f.sigma2),
                }
            )
            for j, name in enumerate(f.design.param_names):
                frame[name] = f.params[:, j]
            for name, values in (f.extra_params or {}).items():
                frame[name] = values
            frame["skipped"] = [r or "" for r in f.skip_reason]
            parts.append(frame)
        return self._order(pd.concat(parts, ignore_index=True), [])

    def skipped_frame(self) -> pd.DataFrame:
        """Firm-events that could not be fitted, with the reason."""
        params = self.params_frame()
        out = params.loc[params["skipped"] != "", ["event", "ticker", "skipped"]]
        return out.rename(columns={"skipped": "reason"}).reset_index(drop=True)

    @cached_property
    def _valuation(self) -> pd.DataFrame:
        from eventstudy.valuation import value_effects

        return value_effects(self)

    def valuation_frame(self) -> pd.DataFrame:
        """Market value on day -1 and the raw and abnormal dollar change per CAR window."""
        return self._valuation.copy()

    # ----------------------------------------------------------------- output
    def summary(self) -> str:
        """A plain-text summary: day-0 and CAR-window results per event."""
        from eventstudy.report import text_summary

        return text_summary(self)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable summary (what ``summary.json`` holds)."""
        from eventstudy.report import summary_dict

        return summary_dict(self)

    def plot_car(self, event: str | None = None, **kwargs: Any) -> Figure:
        """CAR paths with 95% bands per ticker and the average."""
        from eventstudy import plotting

        return plotting.plot_car(self, event=event, **kwargs)

    def plot_ar(self, event: str | None = None, **kwargs: Any) -> Figure:
        """Day-0 abnormal returns by ticker, sorted, significant ones marked."""
        from eventstudy import plotting

        return plotting.plot_day0_ar(self, event=event, **kwargs)

    def plot_prices(self, event: str | None = None, **kwargs: Any) -> Figure:
        """Prices indexed to 100 on day -1, event day marked."""
        from eventstudy import plotting

        return plotting.plot_prices(self, event=event, **kwargs)

    def plot_value(self, event: str | None = None, **kwargs: Any) -> Figure:
        """Dollar market value lost or gained by ticker."""
        from eventstudy import plotting

        return plotting.plot_value(self, event=event, **kwargs)

    def plot(self, kind: str = "car", event: str | None = None, **kwargs: Any) -> Figure:
        """One chart by name: ``car``, ``ar``, ``prices`` or ``value``."""
        methods = {
            "car": self.plot_car,
            "ar": self.plot_ar,
            "prices": self.plot_prices,
            "value": self.plot_value,
        }
        if kind not in methods:
            raise ValueError(f"unknown plot kind {kind!r} (choose from {', '.join(methods)})")
        return methods[kind](event=event, **kwargs)


def _concat(parts: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)
