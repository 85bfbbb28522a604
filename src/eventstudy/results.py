"""Results of an event study: arrays from the batched fits, tidy frames built on demand,
a text ``summary()`` and ``plot_*()`` methods (in the manner of statsmodels' results classes)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from eventstudy import parallel
from eventstudy.data.panel import ReturnsPanel
from eventstudy.estimation.fit import StudyFit
from eventstudy.explain.methods import ExplainMethods, Explanation
from eventstudy.frames import by_event as _by_event
from eventstudy.frames import copy_frame as _copy
from eventstudy.frames import lexsorted as _lexsorted  # noqa: F401  # tests import it here
from eventstudy.frames import sorted_parts as _sorted
from eventstudy.frames import text_column as _text
from eventstudy.inference.bhar import bhar_tests
from eventstudy.inference.single_firm import adjusted_p, sample_quantile_p
from eventstudy.inference.stats import grouped_cross_sectional_t, t_pvalue
from eventstudy.measure_frames import MeasureMethods
from eventstudy.output.folder import (
    AAR_COLUMNS,
    AR_COLUMNS,
    BHAR_COLUMNS,
    CAAR_COLUMNS,
    CAR_COLUMNS,
)
from eventstudy.study import DEFAULTS, POOLED, CalendarTime, ResolvedEvent

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from eventstudy.currency import FxRates
    from eventstudy.data.factors import FactorData
    from eventstudy.estimation.fit import Batch
    from eventstudy.estimation.volume import VolumePanel
    from eventstudy.inference.calendar_time import CalendarTimeResult
    from eventstudy.output.summary import Summary


#: An AR frame of more rows than this (11 rows a firm-event with an 11-day event window) is let go
#: when the test battery runs (:meth:`EventStudyResults._release_large_ar_frame`). Read at each
#: call (tests set it to 0).
AR_FRAME_KEEP_ROWS = 2_000_000


@dataclass(repr=False)
class EventStudyResults(MeasureMethods, ExplainMethods):
    """Everything an event study produced. Build frames with the ``*_frame()`` methods;
    ``with_characteristics()`` and ``regress()`` explain the reactions across firms
    (:class:`~eventstudy.explain.methods.ExplainMethods`, docs/explaining.md).

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
    #: Trading volume on the panel's sessions, for the volume measure (None: no volume given).
    volume: VolumePanel | None = None
    #: Rates into the reporting currency: valuation.csv gains its FX columns (docs/global.md).
    fx: FxRates | None = None
    #: Firm characteristics, regressions and group comparisons (``with_characteristics``).
    explanation: Explanation | None = None
    #: The factor data the study was given (calendar-time regressions read them), if any.
    factors: FactorData | None = None
    #: The ``calendar_time`` study key: the regression the tables and charts hold (None: none).
    calendar_time_settings: CalendarTime | None = None
    #: Control firms of ``bhar_benchmark: matched``: (event, ticker) -> match ticker.
    matches: dict[tuple[str, str], str] = field(default_factory=dict)

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
        """The panel's date of each row number, NaT outside the panel (one take from the dates
        padded with NaT: no clipped copy of the rows and no second pass to blank them)."""
        dates = self.panel.dates.to_numpy()
        if not rows.size:
            return np.empty(rows.shape, dtype=dates.dtype)
        before = max(0, -int(rows.min()))
        after = max(0, int(rows.max()) - len(dates) + 1)
        if before or after:
            nat = np.full(before + after, np.datetime64("NaT"), dtype=dates.dtype)
            dates = np.concatenate([nat[:before], dates, nat[before:]])
        return dates.take(rows + before if before else rows)

    @cached_property
    def _ar(self) -> pd.DataFrame:
        parts, keys = [], []
        for b in self.batches:
            f = b.fit
            idx = np.flatnonzero(f.fitted)
            if not len(idx):
                continue
            parts.append(pd.DataFrame(self._ar_columns(b, idx), copy=False))
            n_days = len(f.rel_days)
            keys.append((np.repeat(b.order[idx], n_days), np.tile(f.rel_days, len(idx))))
        return _sorted(parts, keys, AR_COLUMNS)

    def _ar_columns(self, b: Batch, idx: np.ndarray) -> dict[str, Any]:
        """The AR frame's columns for the fitted firm-events ``idx`` of batch ``b``. With every
        firm-event fitted, the returns, normal returns and ARs are flat views of the fit's arrays
        (not copies: 24 bytes a row less). The independent columns (the three text columns, the
        dates, the CAR path, the p-values) are built in threads (:mod:`eventstudy.parallel`:
        numpy, scipy and Arrow let go of the GIL); each column's numbers do not depend on it."""
        f = b.fit
        every = len(idx) == f.n

        def rows(a: np.ndarray) -> np.ndarray:
            return a if every else a[idx]

        days = f.rel_days
        n_days = len(days)
        per_row = np.repeat(idx, n_days)
        ar = rows(f.ar)
        ar_se = np.sqrt(rows(f.ar_variance()))
        if every:  # the fit keeps them for the test battery
            ar_t = f.standardized_ar(ar_se)
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                ar_t = ar / ar_se
        event_of = np.repeat(b.event[idx], n_days)

        def car_path() -> tuple[np.ndarray, np.ndarray]:
            car, car_var = f.car_path()
            car, car_var = rows(car), rows(car_var)
            return car.ravel(), np.sqrt(car_var, out=car_var).ravel()

        # The longest first (the CAR path, then the p-values): the threads finish together.
        jobs: dict[str, Any] = {
            "car": car_path,
            "ar_p": lambda: t_pvalue(ar_t, rows(f.df)[:, None]).ravel(),
            "event": lambda: _text(self._event_names, event_of),
            "ticker": lambda: _text(np.asarray(b.ticker, dtype=object), per_row),
            "model": lambda: _text(self._event_models, event_of),
            "date": lambda: self._date_at(f.day0[idx, None] + days).ravel(),
        }
        built = parallel.ordered_map(lambda job: job(), jobs.values(), len(per_row))
        done = dict(zip(jobs, built, strict=True))
        car, car_se = done["car"]
        return {
            "event": done["event"],
            "ticker": done["ticker"],
            "date": done["date"],
            "rel_day": np.tile(days, len(idx)),
            "ret": rows(f.ret).ravel(),
            "normal_ret": rows(f.normal).ravel(),
            "ar": ar.ravel(),
            "ar_se": ar_se.ravel(),
            "ar_t": ar_t.ravel(),
            "ar_p": done["ar_p"],
            "car": car,
            "car_se": car_se,
            "model": done["model"],
        }

    def ar_frame(self) -> pd.DataFrame:
        """Abnormal returns: one row per firm-event and event-window day.

        ``ar_se`` includes the prediction error; ``car``/``car_se`` cumulate from the first day of
        the event window. Built once and kept; a frame of more than :data:`AR_FRAME_KEEP_ROWS`
        rows is let go when the test battery runs (and built again if asked for after it)."""
        return _copy(self._ar)

    def _release_large_ar_frame(self) -> None:
        """Let go of the kept AR frame when it is large (more than :data:`AR_FRAME_KEEP_ROWS`
        rows), and hand Arrow's freed text buffers back to the system: the test battery's working
        memory is about that of the AR frame (1M firm-events of 11 days: a 1.3 GB frame, a 1 GB
        battery), and the two together passed issue #16's 4 GB. A frame the caller still holds
        stays alive (it shares the cached frame's columns); building it again costs what
        building it did the first time, so small frames are kept."""
        frame = self.__dict__.get("_ar")
        if frame is None or len(frame) <= AR_FRAME_KEEP_ROWS:
            return
        del self.__dict__["_ar"], frame
        import pyarrow as pa

        pa.default_memory_pool().release_unused()

    def _window_frame(self, kind: str, value: str, fit: StudyFit | None = None) -> pd.DataFrame:
        """CAR (``kind="car_windows"``) or BHAR rows for every firm-event and window, built in
        study order (firm-event, then window) from (firm-events x windows) arrays; ``fit``: the
        fit of another measure (CAV rows of the volume fit). The CARs of returns carry the
        sample-quantile and the multiple-testing adjusted p-values
        (:mod:`eventstudy.inference.single_firm`)."""
        log = self.meta.get("returns") == "log"
        fit = fit or self.study_fit
        models = np.array([e.volume_model for e in self.events], dtype=object) if (
            fit is not self.study_fit
        ) else self._event_models
        parts, keys, event_of = [], [], []
        quantile_jobs = []  # what each part's sample-quantile p-values need, computed below
        for b in fit.batches:
            f = b.fit
            windows = fit.windows_of(kind, b)
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
                full = [np.column_stack(a) for a in zip(*(f.car(*w) for w in windows), strict=True)]
                car, var, length = (a[fe, wi] for a in full)
                se = np.sqrt(var)
                with np.errstate(invalid="ignore", divide="ignore"):
                    t = car / se
                df = f.df[fe]
                columns |= {"car": car, "se": se, "t": t, "p": t_pvalue(t, df), "df": df}
                if fit is self.study_fit:
                    quantile_jobs.append((f.resid, full[0], ends - starts + 1, fe, wi))
            else:
                from eventstudy.estimation.benchmarks import benchmark_returns

                bench = benchmark_returns(
                    self.panel, self.events, b, self.day0_rows, self.matches, log
                )
                bhar, length = (
                    np.column_stack(a)[fe, wi]
                    for a in zip(
                        *(f.bhar(*w, log=log, benchmark=bench) for w in windows), strict=True
                    )
                )
                columns["bhar"] = bhar
            columns["n_days"] = length.astype(int)
            columns["model"] = _text(models, b.event[fe])
            parts.append(columns)
            keys.append((b.order[fe], starts[wi], ends[wi]))
            event_of.append(b.event[fe])
        if value == "car" and fit is self.study_fit and parts:

            def quantile_p() -> list[tuple[np.ndarray, np.ndarray]]:
                out = []
                for resid, car, lengths, fe, wi in quantile_jobs:
                    lower, upper = sample_quantile_p(resid, car, lengths)
                    out.append((lower[fe, wi], upper[fe, wi]))
                return out

            # The adjusted p-values (one thread) beside the quantile pass (threads of its own):
            # the sort of each event and window's p-values fills the cores' gaps.
            jobs = [quantile_p, lambda: _adjusted_p_parts(parts, event_of)]
            rows = sum(len(e) for e in event_of)
            quantiles, adjusted = parallel.ordered_map(lambda job: job(), jobs, rows)
            for c, (lower, upper), (holm, bh) in zip(parts, quantiles, adjusted, strict=True):
                c["p_sq_lower"], c["p_sq_upper"], c["p_holm"], c["p_bh"] = lower, upper, holm, bh
        frames = [pd.DataFrame(columns, copy=False) for columns in parts]
        return _sorted(frames, keys, CAR_COLUMNS if value == "car" else BHAR_COLUMNS)

    @cached_property
    def _car(self) -> pd.DataFrame:
        return self._window_frame("car_windows", "car")

    def car_frame(self) -> pd.DataFrame:
        """CAR per firm-event and CAR window with its standard error (prediction error included),
        t on ``df = M - p`` degrees of freedom and two-sided p; ``n_days`` counts non-missing
        ARs. Then the single-firm columns (docs/tests.md): ``p_sq_lower``/``p_sq_upper``, the
        sample-quantile p-values of Gelbach, Helland & Klick (2013) (the share of sums of ``L``
        consecutive estimation residuals at or below / at or above the CAR), and ``p_holm`` /
        ``p_bh``, ``p`` adjusted for testing every firm of the event and window (Holm 1979;
        Benjamini & Hochberg 1995)."""
        return _copy(self._car)

    def bhar_frame(self) -> pd.DataFrame:
        """Buy-and-hold abnormal returns per firm-event and ``bhar_windows`` window (see
        :meth:`~eventstudy.estimation.kernel.BatchFit.bhar`); ``n_days`` counts the compounded
        days."""
        return self._window_frame("bhar_windows", "bhar")

    @cached_property
    def _quality(self) -> pd.DataFrame:
        from eventstudy.estimation.quality import data_quality

        quality = data_quality(
            self.study_fit, self.panel, self.close, log_returns=self.meta.get("returns") == "log"
        )
        if self.volume_fit is None or self.volume is None:
            return quality
        from eventstudy.estimation.volume import add_volume_quality, volume_quality

        return add_volume_quality(quality, volume_quality(self.volume, self.volume_fit))

    def use_rows(
        self, *, quality: pd.DataFrame | None = None, valuation: pd.DataFrame | None = None
    ) -> None:
        """Take :meth:`quality_frame`'s and :meth:`valuation_frame`'s rows as computed elsewhere
        instead of computing them here: the Dask engine's workers compute them from the firms'
        returns and closes, which these results then do not hold
        (:mod:`eventstudy.engines.dask_output`). The frames must have the frames' columns, one
        row per firm-event (and CAR window) in study order; given before the frame is first
        read."""
        for name, frame in (("_quality", quality), ("_valuation", valuation)):
            if frame is not None:
                self.__dict__[name] = frame  # the cached_property's value

    def quality_frame(self) -> pd.DataFrame:
        """Data quality per firm-event (missing returns, stale prices, extreme moves, suspected
        unadjusted splits; see :mod:`eventstudy.estimation.quality` and docs/data.md)."""
        return _copy(self._quality)

    @cached_property
    def _tests(self) -> pd.DataFrame:
        from eventstudy.inference.battery import test_battery
        from eventstudy.inference.registry import tests_for

        self._release_large_ar_frame()
        events = self.events
        parts = []
        for measure in self.measures:
            # The events that measure it, numbered among themselves.
            chosen = [i for i, e in enumerate(events) if measure in e.measures]
            number = np.full(len(events), -1, dtype=np.intp)
            number[chosen] = np.arange(len(chosen))
            battery = test_battery(
                [(b.fit, number[b.event]) for b in self._measure_batches(measure)],
                [events[i].name for i in chosen],
                [events[i].event_window for i in chosen],
                [events[i].car_windows for i in chosen],
                tests=tests_for(measure),
            )
            parts.append(battery.assign(measure=measure))
            bhar = self._bhar_tests() if measure == "return" else pd.DataFrame()
            if len(bhar):
                parts.append(bhar.assign(measure=measure))
            if measure == "return" and self.bootstrap is not None:
                parts += [p.assign(measure=measure) for p in self._bootstrap_tests()]
        return pd.concat(parts, ignore_index=True)

    @property
    def bootstrap(self) -> dict[str, int] | None:
        """The study's ``bootstrap`` settings (``reps``, ``seed``), or None (no bootstrap
        tests); kept in :attr:`meta` so that ``summary.json`` records them."""
        value = self.meta.get("bootstrap")
        return None if value is None else {"reps": int(value["reps"]), "seed": int(value["seed"])}

    def _bootstrap_tests(self) -> list[pd.DataFrame]:
        """The bootstrap rows of ``tests.csv`` (returns only): the wild-bootstrap t and the
        bootstrapped skewness-adjusted t per event, window and pooled, then the bootstrapped
        skewness-adjusted t of the mean BHARs (:mod:`eventstudy.inference.bootstrap`)."""
        from eventstudy.inference import bootstrap
        from eventstudy.inference.battery import bootstrap_battery
        from eventstudy.inference.registry import BHAR_TESTS

        settings = self.bootstrap
        assert settings is not None
        reps, seed = settings["reps"], settings["seed"]
        events = self.events
        parts = [
            bootstrap_battery(
                [(b.fit, b.event) for b in self.batches],
                [e.name for e in events],
                [e.event_window for e in events],
                [e.car_windows for e in events],
                reps,
                seed,
            )
        ]
        bhar = self.bhar_frame()
        # With ``bhar_resamples`` the BHAR row is among Lyon, Barber & Tsai's resampling tests
        # (same function, their B per event, this seed): not twice.
        if len(bhar) and not any(e.bhar_resamples for e in events):
            parts.append(bootstrap.bhar_tests(bhar, POOLED, BHAR_TESTS[2].name, reps, seed))
        return [p for p in parts if len(p)]

    def tests_frame(self) -> pd.DataFrame:
        """The test battery (docs/tests.md): ``event,test,start,end,statistic,p_value,n,df,note``
        for each event and the pooled sample (``event == "all"``), every event-window day and
        CAR window; BHAR windows add ``bhar_cross_sectional_t`` and ``bhar_skewness_adjusted_t``."""
        return _copy(self._tests)

    def _bhar_tests(self) -> pd.DataFrame:
        """Cross-sectional and skewness-adjusted t (Lyon, Barber & Tsai 1999) of mean BHARs, per
        event and pooled (``all``), per BHAR window (:mod:`eventstudy.inference.bhar`)."""
        frame = self.bhar_frame()
        tests = bhar_tests(frame)
        resamples = {e.name: e.bhar_resamples for e in self.events if e.bhar_resamples}
        if not resamples or frame.empty:
            return tests
        from eventstudy.inference.bhar_bootstrap import pseudo_bhars, resampling_tests

        log = self.meta.get("returns") == "log"
        pseudo = pseudo_bhars(self.panel, self.study_fit, frame, self.matches, log)
        seed = self.bootstrap["seed"] if self.bootstrap else DEFAULTS.bootstrap_seed
        lbt = resampling_tests(frame, resamples, pseudo, seed)
        return pd.concat([tests, lbt], ignore_index=True)

    def aar_frame(self) -> pd.DataFrame:
        """Average AR per event and event-window day with the cross-sectional t (Brown & Warner
        1985): ``t = AAR / (sd / sqrt(N))``, ``N - 1`` degrees of freedom."""
        return _copy(self._aar)

    @cached_property
    def _aar(self) -> pd.DataFrame:
        return self.average_frame("return").rename(columns={"mean": "aar"})[AAR_COLUMNS]

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
        parts = [out.reset_index(drop=True)]
        if self.dropped:
            parts.append(pd.DataFrame(self.dropped, columns=["event", "ticker", "reason"]))
        parts += self._measure_skips()
        parts = [p for p in parts if len(p)] or parts[:1]
        return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)

    @cached_property
    def _valuation(self) -> pd.DataFrame:
        from eventstudy.valuation import value_effects

        return value_effects(
            self.study_fit, self.panel.dates, self.close, self.shares, fx=self.fx
        )

    def valuation_frame(self) -> pd.DataFrame:
        """Market value on day -1 and the raw and abnormal dollar change per CAR window."""
        return _copy(self._valuation)

    # ----------------------------------------------------------------- long horizons
    def calendar_time(
        self,
        horizon: tuple[int, int] = (1, 250),
        weighting: str = "equal",
        model: str = "market",
        frequency: str = "daily",
        min_firms: int = 1,
        errors: str = "hac",
        lags: int | None = None,
    ) -> CalendarTimeResult:
        """A calendar-time portfolio regression of the study's firm-events
        (:mod:`eventstudy.inference.calendar_time`, docs/long_horizon.md): the portfolio of the
        firms whose day 0 lies ``horizon`` trading days back, weighted ``equal`` or by ``value``
        (day -1), its ``daily`` or ``monthly`` excess return regressed on ``model``'s factors
        with HAC (``lags``: None for Newey & West's rule) or ``hc1`` errors."""
        from eventstudy.inference.calendar_time import study_calendar_time

        panel = self.panel
        if self.meta.get("returns") == "log":  # portfolios hold simple returns
            import dataclasses

            panel = dataclasses.replace(panel, values=np.expm1(panel.values))
        values = self.valuation_frame() if weighting == "value" else None
        return study_calendar_time(
            self.study_fit,
            panel,
            factors=self.factors,
            market_values=values,
            horizon=tuple(horizon),
            weighting=weighting,
            model=model,
            frequency=frequency,
            min_firms=min_firms,
            errors=errors,
            lags=lags,
        )

    @cached_property
    def _calendar_time(self) -> CalendarTimeResult | None:
        settings = self.calendar_time_settings
        return None if settings is None else self.calendar_time(**settings.model_dump())

    def calendar_time_result(self) -> CalendarTimeResult | None:
        """The regression the ``calendar_time`` study key asked for (its statsmodels results in
        ``.ols``), or None."""
        return self._calendar_time

    def plot_calendar_time(self, size: str | None = None, **settings: Any) -> Figure:
        """The calendar-time portfolio's cumulative abnormal return and firms held: the study's
        (``calendar_time``) or, given ``settings`` (those of :meth:`calendar_time`), another."""
        from eventstudy.output.plots.long_horizon_charts import plot_calendar_time

        result = self.calendar_time(**settings) if settings else self._calendar_time
        if result is None:
            result = self.calendar_time()
        return plot_calendar_time(result, self.title, size=size)

    def calendar_time_frame(self) -> pd.DataFrame | None:
        """``calendar_time.csv`` (the ``calendar_time`` study key's regression), or None."""
        ct = self._calendar_time
        return None if ct is None else ct.table()

    def calendar_time_returns_frame(self) -> pd.DataFrame | None:
        """``calendar_time_returns.csv``: the portfolio's return and firms per period, or None."""
        ct = self._calendar_time
        return None if ct is None else ct.returns_frame()

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
        from eventstudy.output.transaction import run_transaction, write_stage

        path = Path(path)
        charts = None
        if figures:
            charts = Path(figures_dir) if figures_dir is not None else path / "figures"
        with run_transaction(path, charts) as stage:
            tables, drawn = write_stage(
                stage, self, charts, final_dir=path, format=format,
                max_event_figures=max_event_figures,
            )
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

    def plot_volume(self, event: str | None = None, **kwargs: Any) -> Figure:
        """Abnormal log volume by day: the mean as bars, each ticker as a dot (needs
        ``volume`` among the event's measures)."""
        from eventstudy.output import plots as plotting

        return plotting.plot_volume(self, event=event, **kwargs)

    def plot_volatility(self, event: str | None = None, **kwargs: Any) -> Figure:
        """The mean volatility ratio by day against its null mean, each ticker as a dot (needs
        ``volatility`` among the event's measures)."""
        from eventstudy.output import plots as plotting

        return plotting.plot_volatility(self, event=event, **kwargs)

    def plot(self, kind: str = "car", event: str | None = None, **kwargs: Any) -> Figure:
        """One chart by name: ``car``, ``ar``, ``prices``, ``value``, ``volume`` or
        ``volatility``."""
        methods = {
            "car": self.plot_car,
            "ar": self.plot_ar,
            "prices": self.plot_prices,
            "value": self.plot_value,
            "volume": self.plot_volume,
            "volatility": self.plot_volatility,
        }
        if kind not in methods:
            raise ValueError(f"unknown plot kind {kind!r} (choose from {', '.join(methods)})")
        return methods[kind](event=event, **kwargs)


def _adjusted_p_parts(
    parts: list[dict[str, Any]], event_of: list[np.ndarray]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``p_holm`` and ``p_bh`` (:func:`~eventstudy.inference.single_firm.adjusted_p`) of each
    part's ``p`` column (``event_of``: each row's event index), within each event and window
    across every part: an event's firm-events may be spread over several batches (the Dask
    engine fits by firm partitions)."""
    event = np.concatenate(event_of).astype(np.int64)
    start, end = (
        np.concatenate([c[k] for c in parts]).astype(np.int64) + (1 << 15) for k in ("start", "end")
    )
    group = (event << 32) | (start << 16) | end  # window ends are within +-10,000 days of day 0
    del event, start, end
    holm, bh = adjusted_p(np.concatenate([c["p"] for c in parts]), group)
    at = np.cumsum([0, *(len(c["p"]) for c in parts)])
    return [(holm[at[k] : at[k + 1]], bh[at[k] : at[k + 1]]) for k in range(len(parts))]
