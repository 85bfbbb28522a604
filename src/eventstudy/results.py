"""Results of an event study: arrays from the batched fits, tidy frames built on demand,
a text ``summary()`` and ``plot_*()`` methods (in the manner of statsmodels' results classes)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from eventstudy.data.panel import ReturnsPanel
from eventstudy.estimation.fit import StudyFit
from eventstudy.inference.bhar import bhar_tests
from eventstudy.inference.stats import grouped_cross_sectional_t, t_pvalue
from eventstudy.output.folder import (
    AAR_COLUMNS,
    AR_COLUMNS,
    BHAR_COLUMNS,
    CAAR_COLUMNS,
    CAR_COLUMNS,
)
from eventstudy.study import POOLED, ResolvedEvent

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from eventstudy.estimation.fit import Batch
    from eventstudy.output.summary import Summary


@dataclass(repr=False)
class EventStudyResults:
    """Everything an event study produced. Build frames with the ``*_frame()`` methods.

    Frames list firm-events in study order (events as given, tickers as listed per event)."""

    title: str
    events: list[ResolvedEvent]
    day0_rows: np.ndarray  # (n_events,) panel row of each event's day 0
    panel: ReturnsPanel
    batches: list[Batch]
    close: pd.DataFrame | None = None
    shares: pd.DataFrame | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    #: Firm-events left out before fitting: (event, ticker, reason), e.g. a failed download.
    dropped: list[tuple[str, str, str]] = field(default_factory=list)

    def __repr__(self) -> str:
        """What was studied, in one line (not the arrays: a notebook cell ending in ``res``)."""
        n = sum(len(b.ticker) for b in self.batches)
        fitted = sum(int(np.count_nonzero(b.fit.fitted)) for b in self.batches)
        skipped = n - fitted + len(self.dropped)
        settings = sorted({(e.estimation_window, e.event_window) for e in self.events})
        windows = "; ".join(
            f"estimation [{a}, {b}], event [{c}, {d}]" for (a, b), (c, d) in settings[:3]
        )
        models = ", ".join(dict.fromkeys(self.model_labels)) or "none"
        return (
            f"<EventStudyResults {self.title!r}: {len(self.events)} event(s), "
            f"{fitted:,} firm-events fitted, {skipped:,} skipped; {models}; {windows}"
            f"{' ...' if len(settings) > 3 else ''}>"
        )

    @cached_property
    def day0_dates(self) -> list[dt.date]:
        """Each event's day 0 (its first reaction session)."""
        return [d.date() for d in self.panel.dates[self.day0_rows]]

    @cached_property
    def model_labels(self) -> list[str]:
        """Each event's normal-return model in words (e.g. "OLS market model vs ^GSPC")."""
        labels = [""] * len(self.events)
        for b in self.batches:
            for e in np.unique(b.event):
                labels[e] = b.label
        return labels

    @cached_property
    def study_fit(self) -> StudyFit:
        """The fits as the estimation stage returned them (what inference, valuation and the
        quality checks take)."""
        return StudyFit(
            events=self.events, day0_rows=self.day0_rows, batches=self.batches, dropped=self.dropped
        )

    @property
    def _event_names(self) -> np.ndarray:
        return self.study_fit.event_names

    @property
    def _event_models(self) -> np.ndarray:
        return self.study_fit.event_models

    # ------------------------------------------------------------------ frames
    def _date_at(self, rows: np.ndarray) -> np.ndarray:
        inside = (rows >= 0) & (rows < len(self.panel.dates))
        dates = self.panel.dates.to_numpy()[np.clip(rows, 0, len(self.panel.dates) - 1)]
        return np.where(inside, dates, np.datetime64("NaT"))

    @cached_property
    def _ar(self) -> pd.DataFrame:
        parts, keys = [], []
        for b in self.batches:
            f = b.fit
            idx = np.flatnonzero(f.fitted)
            if not len(idx):
                continue
            days = f.rel_days
            n_days = len(days)
            ar_se = np.sqrt(f.ar_variance()[idx])
            car, car_var = f.car_path()
            with np.errstate(invalid="ignore", divide="ignore"):
                ar_t = f.ar[idx] / ar_se
            rows = f.day0[idx, None] + days
            per_row = np.repeat(idx, n_days)
            parts.append(
                pd.DataFrame(
                    {
                        "event": _text(self._event_names, b.event[per_row]),
                        "ticker": _text(np.asarray(b.ticker, dtype=object), per_row),
                        "date": self._date_at(rows).ravel(),
                        "rel_day": np.tile(days, len(idx)),
                        "ret": f.ret[idx].ravel(),
                        "normal_ret": f.normal[idx].ravel(),
                        "ar": f.ar[idx].ravel(),
                        "ar_se": ar_se.ravel(),
                        "ar_t": ar_t.ravel(),
                        "ar_p": t_pvalue(ar_t, f.df[idx, None]).ravel(),
                        "car": car[idx].ravel(),
                        "car_se": np.sqrt(car_var[idx]).ravel(),
                        "model": _text(self._event_models, b.event[per_row]),
                    },
                    copy=False,
                )
            )
            keys.append((np.repeat(b.order[idx], n_days), np.tile(days, len(idx))))
        return _sorted(parts, keys, AR_COLUMNS)

    def ar_frame(self) -> pd.DataFrame:
        """Abnormal returns: one row per firm-event and event-window day.

        ``ar_se`` includes the prediction error; ``car``/``car_se`` cumulate from the first day of
        the event window."""
        return _copy(self._ar)

    def _window_frame(self, kind: str, value: str) -> pd.DataFrame:
        """CAR (``kind="car_windows"``) or BHAR rows for every firm-event and window, built in
        study order (firm-event, then window) from (firm-events x windows) arrays."""
        log = self.meta.get("returns") == "log"
        parts, keys = [], []
        for b in self.batches:
            f = b.fit
            windows = self.study_fit.windows_of(kind, b)
            if not windows:
                continue
            starts = np.array([w[0] for w in windows], dtype=int)
            ends = np.array([w[1] for w in windows], dtype=int)
            take = np.column_stack([f.fitted & wanted for wanted in windows.values()])
            fe, wi = np.nonzero(take)  # row-major: each firm-event's windows in order
            columns: dict[str, Any] = {
                "event": _text(self._event_names, b.event[fe]),
                "ticker": _text(np.asarray(b.ticker, dtype=object), fe),
                "start": starts[wi],
                "end": ends[wi],
            }
            if value == "car":
                car, var, length = (
                    np.column_stack(a)[fe, wi]
                    for a in zip(*(f.car(*w) for w in windows), strict=True)
                )
                se = np.sqrt(var)
                with np.errstate(invalid="ignore", divide="ignore"):
                    t = car / se
                df = f.df[fe]
                columns |= {"car": car, "se": se, "t": t, "p": t_pvalue(t, df), "df": df}
            else:
                bhar, length = (
                    np.column_stack(a)[fe, wi]
                    for a in zip(*(f.bhar(*w, log=log) for w in windows), strict=True)
                )
                columns["bhar"] = bhar
            columns["n_days"] = length.astype(int)
            columns["model"] = _text(self._event_models, b.event[fe])
            parts.append(pd.DataFrame(columns, copy=False))
            keys.append((b.order[fe], starts[wi], ends[wi]))
        return _sorted(parts, keys, CAR_COLUMNS if value == "car" else BHAR_COLUMNS)

    @cached_property
    def _car(self) -> pd.DataFrame:
        return self._window_frame("car_windows", "car")

    def car_frame(self) -> pd.DataFrame:
        """CAR per firm-event and CAR window with its standard error (prediction error included),
        t on ``df = M - p`` degrees of freedom and two-sided p; ``n_days`` counts non-missing
        ARs."""
        return _copy(self._car)

    def bhar_frame(self) -> pd.DataFrame:
        """Buy-and-hold abnormal returns per firm-event and ``bhar_windows`` window (see
        :meth:`~eventstudy.estimation.kernel.BatchFit.bhar`); ``n_days`` counts the compounded
        days."""
        return self._window_frame("bhar_windows", "bhar")

    @cached_property
    def _quality(self) -> pd.DataFrame:
        from eventstudy.estimation.quality import data_quality

        return data_quality(
            self.study_fit, self.panel, self.close, log_returns=self.meta.get("returns") == "log"
        )

    def quality_frame(self) -> pd.DataFrame:
        """Data quality per firm-event (missing returns, stale prices, extreme moves, suspected
        unadjusted splits; see :mod:`eventstudy.estimation.quality` and docs/data.md)."""
        return _copy(self._quality)

    @cached_property
    def _tests(self) -> pd.DataFrame:
        from eventstudy.inference.battery import test_battery

        events = self.events
        battery = test_battery(
            [(b.fit, b.event) for b in self.batches],
            [e.name for e in events],
            [e.event_window for e in events],
            [e.car_windows for e in events],
        )
        return pd.concat([battery, self._bhar_tests()], ignore_index=True)

    def tests_frame(self) -> pd.DataFrame:
        """The test battery (docs/tests.md): ``event,test,start,end,statistic,p_value,n,df,note``
        for each event and the pooled sample (``event == "all"``), every event-window day and
        CAR window; BHAR windows add ``bhar_cross_sectional_t`` and ``bhar_skewness_adjusted_t``."""
        return _copy(self._tests)

    def _bhar_tests(self) -> pd.DataFrame:
        """Cross-sectional and skewness-adjusted t (Lyon, Barber & Tsai 1999) of mean BHARs, per
        event and pooled (``all``), per BHAR window (:mod:`eventstudy.inference.bhar`)."""
        return bhar_tests(self.bhar_frame())

    def aar_frame(self) -> pd.DataFrame:
        """Average AR per event and event-window day with the cross-sectional t (Brown & Warner
        1985): ``t = AAR / (sd / sqrt(N))``, ``N - 1`` degrees of freedom."""
        return _copy(self._aar)

    @cached_property
    def _aar(self) -> pd.DataFrame:
        parts = []
        for b in self.batches:
            f = b.fit
            ok = f.fitted
            stats = grouped_cross_sectional_t(b.event[ok], f.ar[ok], len(self.events))
            events = np.unique(b.event)
            days = f.rel_days
            rows = self.day0_rows[events, None] + days
            parts.append(
                pd.DataFrame(
                    {
                        "event": np.repeat(self._event_names[events], len(days)),
                        "rel_day": np.tile(days, len(events)),
                        "date": self._date_at(rows).ravel(),
                        "aar": stats["mean"][events].ravel(),
                        "n": stats["n"][events].ravel(),
                        "t": stats["t"][events].ravel(),
                        "p": stats["p"][events].ravel(),
                        "_e": np.repeat(events, len(days)),
                    }
                )
            )
        return _by_event(parts, ["_e", "rel_day"], AAR_COLUMNS)

    def caar_frame(self) -> pd.DataFrame:
        """Average CAR per event and CAR window with the cross-sectional t; with more than one
        event, the pooled rows follow (``event == "all"``), pooled as the test battery pools:
        for each CAR window of any event, every fitted firm-event whose event window covers it
        (its cross-sectional t is ``tests.csv``'s pooled ``cross_sectional_t``)."""
        return _copy(self._caar)

    @cached_property
    def _caar(self) -> pd.DataFrame:
        car = self._car
        if car.empty:
            return pd.DataFrame(columns=CAAR_COLUMNS)
        if len(self.events) > 1:
            car = pd.concat([car, self._pooled_cars()], ignore_index=True)
        # Groups (event, start, end) numbered in order of appearance, from integer keys (as
        # MultiIndex.factorize numbers them, without building a tuple per row).
        events, names = pd.factorize(car["event"])
        start = car["start"].to_numpy(dtype=np.int64)
        end = car["end"].to_numpy(dtype=np.int64)
        lo, width = min(start.min(), end.min()), max(start.max(), end.max()) + 1
        width -= lo
        codes, first = pd.factorize((events * width + (start - lo)) * width + (end - lo))
        stats = grouped_cross_sectional_t(codes, car["car"].to_numpy(dtype=float), len(first))
        at = pd.Series(codes).drop_duplicates().index.to_numpy()  # each group's first row
        agg = pd.DataFrame(
            {
                "event": names.take(events[at]),
                "start": car["start"].to_numpy()[at],
                "end": car["end"].to_numpy()[at],
            }
        )
        for name, column in (("caar", "mean"), ("n", "n"), ("t", "t"), ("p", "p")):
            agg[name] = stats[column][:, 0]
        event_index = {name: i for i, name in enumerate(self._event_names)}
        agg["_e"] = agg["event"].map(event_index).fillna(len(event_index))  # pooled rows last
        return _by_event([agg], ["_e", "start", "end"], CAAR_COLUMNS)

    def _pooled_cars(self) -> pd.DataFrame:
        """Every fitted firm-event's CAR over each CAR window its event window covers."""
        windows = sorted({w for e in self.events for w in e.car_windows})
        parts = []
        for b in self.batches:
            f = b.fit
            (w0, w1), ok = f.event_window, f.fitted
            for start, end in windows:
                if w0 <= start and end <= w1:
                    car = f.car(start, end)[0][ok]
                    parts.append(pd.DataFrame({"start": start, "end": end, "car": car}))
        return pd.concat(parts, ignore_index=True).assign(event=POOLED)

    def params_frame(self) -> pd.DataFrame:
        """Fitted normal-return model per firm-event: parameters, sigma, M and residual df."""
        parts, keys = [], []
        for b in self.batches:
            f = b.fit
            frame = pd.DataFrame(
                {
                    "event": self._event_names[b.event],
                    "ticker": b.ticker,
                    "model": self._event_models[b.event],
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
            keys.append((b.order,))
        return _sorted(parts, keys, ["event", "ticker", "model", "n_obs", "df", "sigma"])

    def skipped_frame(self) -> pd.DataFrame:
        """Firm-events that could not be fitted, with the reason."""
        params = self.params_frame()
        out = params.loc[params["skipped"] != "", ["event", "ticker", "skipped"]]
        out = out.rename(columns={"skipped": "reason"})
        if not self.dropped:
            return out.reset_index(drop=True)
        dropped = pd.DataFrame(self.dropped, columns=["event", "ticker", "reason"])
        return pd.concat([out, dropped], ignore_index=True) if len(out) else dropped

    @cached_property
    def _valuation(self) -> pd.DataFrame:
        from eventstudy.valuation import value_effects

        return value_effects(self.study_fit, self.panel.dates, self.close, self.shares)

    def valuation_frame(self) -> pd.DataFrame:
        """Market value on day -1 and the raw and abnormal dollar change per CAR window."""
        return _copy(self._valuation)

    # ----------------------------------------------------------------- output
    def summary(self, max_events: int = 10, max_tickers: int = 30) -> Summary:
        """The results in brief (:class:`~eventstudy.output.summary.Summary`): ``print()`` it,
        or let a notebook show it (HTML); ``as_latex()`` for a paper. The first ``max_events``
        events in detail (their first ``max_tickers`` tickers), the pooled block for studies of
        several events."""
        from eventstudy.output.summary import summarize

        return summarize(self, max_events, max_tickers)

    def save(
        self,
        path: str | Path,
        *,
        figures: bool = True,
        figures_dir: str | Path | None = None,
        max_event_figures: int | None = 20,
        format: str = "csv",
    ) -> list[Path]:
        """Write the results folder ``eventstudy run`` writes: every table and ``summary.json``
        in ``path`` and, unless ``figures=False``, the charts in ``figures_dir`` (default
        ``path/figures``; charts an earlier save left there are replaced). ``format``: of the
        tables, ``csv`` or ``parquet``. Returns the files written. ``eventstudy report PATH``
        makes the report from it."""
        from eventstudy.output.folder import write_tables
        from eventstudy.output.plots import save_figures
        from eventstudy.output.transaction import run_transaction

        path = Path(path)
        charts = None
        if figures:
            charts = Path(figures_dir) if figures_dir is not None else path / "figures"
        with run_transaction(path, charts) as stage:
            tables = write_tables(self, stage.tables, charts, final_dir=path, format=format)
            drawn = []
            if stage.figures is not None:
                drawn = save_figures(self, stage.figures, max_events=max_event_figures)
        written = [path / p.name for p in tables]
        if charts is not None:
            written += [charts / p.name for p in drawn]
        return written

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable summary (what ``summary.json`` holds)."""
        from eventstudy.output.summary import summary_dict

        return summary_dict(self)

    def plot_car(self, event: str | None = None, **kwargs: Any) -> Figure:
        """CAR paths with 95% bands per ticker and the average."""
        from eventstudy.output import plots as plotting

        return plotting.plot_car(self, event=event, **kwargs)

    def plot_ar(self, event: str | None = None, **kwargs: Any) -> Figure:
        """Day-0 abnormal returns by ticker, sorted, significant ones marked."""
        from eventstudy.output import plots as plotting

        return plotting.plot_day0_ar(self, event=event, **kwargs)

    def plot_prices(self, event: str | None = None, **kwargs: Any) -> Figure:
        """Prices indexed to 100 on day -1, event day marked."""
        from eventstudy.output import plots as plotting

        return plotting.plot_prices(self, event=event, **kwargs)

    def plot_value(self, event: str | None = None, **kwargs: Any) -> Figure:
        """Dollar market value lost or gained by ticker."""
        from eventstudy.output import plots as plotting

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


#: pandas 3 always copies on write: a shallow copy of a cached frame is then as safe as a deep one.
_COPY_ON_WRITE = int(pd.__version__.split(".")[0]) >= 3


def _copy(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of a cached frame that the caller may change without changing the cache."""
    return frame.copy(deep=not _COPY_ON_WRITE)


def _text(values: np.ndarray, take: np.ndarray | None = None) -> Any:
    """``values[take]`` as pandas' default text column, converted once and then repeated by a
    take: under pandas 3 (Arrow-backed ``str``) a conversion per row costs about ten times more."""
    array = pd.array(np.asarray(values, dtype=object), dtype=_TEXT)
    return array if take is None else array.take(take)


#: pandas' default dtype for text (``str`` under pandas 3, ``object`` before).
_TEXT = pd.Series(["text"]).dtype


def _sorted(
    parts: list[pd.DataFrame], keys: Sequence[tuple[np.ndarray, ...]], columns: Sequence[str]
) -> pd.DataFrame:
    """Concatenate per-batch frames and sort rows by their keys (study order first)."""
    if not parts:
        return pd.DataFrame(columns=columns)
    frame = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
    stacked = [np.concatenate(k) for k in zip(*keys, strict=True)]
    if _lexsorted(stacked):  # one batch in study order: no copy
        return frame
    order = np.lexsort(stacked[::-1])
    return frame.iloc[order].reset_index(drop=True)


def _lexsorted(keys: list[np.ndarray]) -> bool:
    """Whether rows are already in ascending order of ``keys`` (first key first)."""
    if not len(keys) or len(keys[0]) < 2:
        return True
    undecided = np.ones(len(keys[0]) - 1, dtype=bool)  # equal on every key so far
    for k in keys:
        a, b = k[:-1], k[1:]
        if (undecided & (a > b)).any():
            return False
        undecided &= a == b
    return True


def _by_event(parts: list[pd.DataFrame], keys: list[str], columns: list[str]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame(columns=columns)
    frame = pd.concat(parts, ignore_index=True).sort_values(keys, kind="stable")
    return frame[columns].reset_index(drop=True)
