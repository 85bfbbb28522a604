"""The standard battery of event-study test statistics, vectorised over firm-events.

:func:`test_battery` tests, for every event (the firm-events sharing it) and for the pooled sample
of all firm-events (``event == "all"``), every day of the event window (``start == end``) and every
multi-day CAR window, with twelve tests (:data:`TESTS`). Each test function below gives its
formula as implemented and its paper; docs/tests.md collects the conventions and the differences
from other software.

Notation (one firm-event ``i`` of a group of ``N``):

* ``AR_it`` abnormal return on event-window day ``t``; ``sigma_i`` the residual standard deviation
  on ``df_i = M_i - p`` degrees of freedom (``M_i`` non-missing estimation returns, ``p`` estimated
  parameters; ``M_i - 1`` for the market-adjusted model); ``h_it`` the prediction-error leverage.
* ``SAR_it = AR_it / (sigma_i sqrt(1 + h_it))`` (prediction-error standardised, Patell 1976), or
  ``AR_it`` over the square root of the fit's own AR variance where the model has one (GARCH).
* ``CAR_i`` over ``[a, b]`` = sum of the ``L_i`` non-missing ARs; ``SCAR_i = CAR_i / sd(CAR_i)``
  with ``Var(CAR_i) = sigma_i^2 (L + L^2/M + s'S^-1 s)`` (prediction error, CLM 1997 eq. 4.4.14).
* ``e_is`` estimation-window residual on estimation day ``s`` (in-sample).

Pooling: firm-events are aligned by *relative* day, on two axes: the union of the event windows and
the union of the estimation windows. A firm-event enters a window's tests only when its own event
window covers the window; it contributes to the daily cross-sectional series (time-series t, rank
tests) only on the days where it has a value. Every firm-event keeps its own ``M_i``, ``df_i``,
``sigma_i`` and prediction-error terms, so firms with different estimation lengths pool without any
truncation. Missing ARs are left out and ``n`` counts exactly the firm-events used.

Everything is computed for all groups at once (firm-events sorted by group, group sums by
``np.bincount`` or a sparse indicator product); Python loops run only over windows and tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import sparse

from eventstudy.inference import normal_pvalue, t_pvalue

if TYPE_CHECKING:
    from eventstudy.estimation import BatchFit
    from eventstudy.results import EventStudyResults

Window = tuple[int, int]

#: Test names, in output order.
TESTS: tuple[str, ...] = (
    "cross_sectional_t",
    "time_series_t",
    "patell",
    "bmp",
    "adjusted_patell",
    "adjusted_bmp",
    "corrado_rank",
    "sign",
    "generalized_sign",
    "wilcoxon",
    "grank",
    "skewness_adjusted_t",
)

COLUMNS = ["event", "test", "start", "end", "statistic", "p_value", "n", "df", "note"]

MIN_FIRMS = 2
#: Pairwise correlations with missing days are computed exactly (an N x N matrix) up to this N;
#: larger groups with ragged data use the O(N T) identity on zero-filled residuals (docs/tests.md).
EXACT_CORRELATION_MAX = 1500
#: Exact null distribution of the signed-rank statistic up to this many non-zero values (no ties).
WILCOXON_EXACT_MAX = 50


# ----------------------------------------------------------------------------- firm-event sample
@dataclass
class FirmEventSample:
    """Fitted firm-events on common relative-day axes (NaN where a firm-event has no value).

    ``est_days``/``ev_days`` are the union of the estimation and event windows; ``parts`` keep the
    fits so that CARs and their prediction-error variances come from
    :meth:`~eventstudy.estimation.BatchFit.car`.
    """

    est_days: np.ndarray  # (Le,)
    ev_days: np.ndarray  # (Lv,)
    ar: np.ndarray  # (n, Lv)
    sar: np.ndarray  # (n, Lv) AR / sqrt(Var AR), Var AR = sigma^2 (1 + h) for OLS fits
    resid: np.ndarray  # (n, Le)
    sigma: np.ndarray  # (n,)
    df: np.ndarray  # (n,)
    ev_lo: np.ndarray  # (n,) first day of the firm-event's event window
    ev_hi: np.ndarray  # (n,)
    parts: list[tuple[BatchFit, np.ndarray, np.ndarray]]  # fit, rows of the fit, rows here

    @property
    def n(self) -> int:
        return len(self.sigma)

    @classmethod
    def from_fits(cls, fits: Sequence[tuple[BatchFit, np.ndarray]]) -> FirmEventSample:
        """Stack ``(fit, rows)`` pairs: the firm-events ``rows`` of each fit, in that order."""
        fits = [(f, np.asarray(r, dtype=np.intp)) for f, r in fits]
        est_lo = min((f.estimation_window[0] for f, _ in fits), default=0)
        est_hi = max((f.estimation_window[1] for f, _ in fits), default=-1)
        ev_lo = min((f.event_window[0] for f, _ in fits), default=0)
        ev_hi = max((f.event_window[1] for f, _ in fits), default=-1)
        est_days = np.arange(est_lo, est_hi + 1)
        ev_days = np.arange(ev_lo, ev_hi + 1)
        n = sum(len(r) for _, r in fits)
        ar = np.full((n, len(ev_days)), np.nan)
        sar = np.full_like(ar, np.nan)
        resid = np.full((n, len(est_days)), np.nan)
        sigma, df = np.full(n, np.nan), np.full(n, np.nan)
        lo, hi = np.zeros(n, dtype=int), np.zeros(n, dtype=int)
        parts = []
        at = 0
        for f, rows in fits:
            here = np.arange(at, at + len(rows))
            at += len(rows)
            e0 = f.event_window[0] - ev_lo
            s0 = f.estimation_window[0] - est_lo
            sl_ev = slice(e0, e0 + f.ar.shape[1])
            ar[here, sl_ev] = f.ar[rows]
            # The fit's own AR variance (conditional for GARCH), else sigma^2 (1 + h).
            var = f.ar_variance() if hasattr(f, "ar_variance") else f.sigma2[:, None] * (1 + f.h)
            with np.errstate(invalid="ignore", divide="ignore"):
                sar[here, sl_ev] = f.ar[rows] / np.sqrt(var[rows])
            resid[here, s0 : s0 + f.resid.shape[1]] = f.resid[rows]
            sigma[here] = np.sqrt(f.sigma2[rows])
            df[here] = f.df[rows]
            lo[here], hi[here] = f.event_window
            parts.append((f, rows, here))
        return cls(est_days, ev_days, ar, sar, resid, sigma, df, lo, hi, parts)

    def car(self, window: Window) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """CAR, its prediction-error variance and its number of non-missing days, per firm-event;
        NaN for firm-events whose event window does not cover ``window``."""
        car, var, length = (np.full(self.n, np.nan) for _ in range(3))
        for f, rows, here in self.parts:
            if f.event_window[0] <= window[0] and window[1] <= f.event_window[1]:
                c, v, n = f.car(*window)
                car[here], var[here], length[here] = c[rows], v[rows], n[rows]
        return car, var, length

    @cached_property
    def corrado_u(self) -> np.ndarray:
        """Corrado ranks over the combined estimation + event window, ``rank / (T_i + 1) - 1/2``."""
        combined = np.concatenate([self.resid, self.ar], axis=1)
        ranks = row_ranks(combined)
        t = np.isfinite(combined).sum(axis=1)
        return ranks / (t[:, None] + 1.0) - 0.5

    @cached_property
    def std_resid(self) -> np.ndarray:
        """Estimation-window residuals over sigma (Kolari & Pynnönen 2011's estimation SARs)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.resid / self.sigma[:, None]

    @cached_property
    def std_resid_rank(self) -> np.ndarray:
        """Ranks of :attr:`std_resid` within each firm-event (average ranks for ties)."""
        return row_ranks(self.std_resid)

    @cached_property
    def frac_positive(self) -> np.ndarray:
        """Share of a firm-event's non-missing estimation residuals that are > 0."""
        valid = np.isfinite(self.resid)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (self.resid > 0).sum(axis=1) / valid.sum(axis=1)


def row_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks within each row, 1-based, average ranks for ties, NaN left out (and kept NaN).

    The same as ``scipy.stats.rankdata(values, axis=1, nan_policy="omit")`` with one sort."""
    n, width = values.shape
    order = np.argsort(values, axis=1, kind="stable")  # NaN sort last
    v = np.take_along_axis(values, order, axis=1)
    pos = np.broadcast_to(np.arange(width), (n, width))
    new = np.ones((n, width), dtype=bool)
    new[:, 1:] = v[:, 1:] != v[:, :-1]
    end = np.ones((n, width), dtype=bool)
    end[:, :-1] = new[:, 1:]
    first = np.maximum.accumulate(np.where(new, pos, 0), axis=1)
    last = np.minimum.accumulate(np.where(end, pos, width)[:, ::-1], axis=1)[:, ::-1]
    ranks = np.empty((n, width))
    np.put_along_axis(ranks, order, (first + last) / 2.0 + 1.0, axis=1)
    ranks[~np.isfinite(values)] = np.nan
    return ranks


def sample_from_results(results: EventStudyResults) -> tuple[FirmEventSample, np.ndarray]:
    """The fitted firm-events of ``results`` and each one's index into ``results.events``."""
    fits, labels = [], []
    for b in results.batches:
        rows = np.flatnonzero(b.fit.fitted)
        fits.append((b.fit, rows))
        labels.append(np.asarray(b.event)[rows])
    sample = FirmEventSample.from_fits(fits)
    return sample, np.concatenate(labels) if labels else np.zeros(0, dtype=int)


# ----------------------------------------------------------------------------- grouped engine
@dataclass
class TestResult:
    """One test for every group: arrays of shape (G,)."""

    statistic: np.ndarray
    p_value: np.ndarray
    n: np.ndarray
    df: np.ndarray
    note: np.ndarray  # object array of str

    __test__ = False  # not a pytest test class


class _Groups:
    """Firm-events sorted by group, with sums over each group's firm-events."""

    def __init__(self, labels: np.ndarray, sample: FirmEventSample) -> None:
        self.order = np.argsort(labels, kind="stable")
        sorted_labels = labels[self.order]
        self.ids, self.starts = np.unique(sorted_labels, return_index=True)
        self.G = len(self.ids)
        self.label = np.repeat(np.arange(self.G), np.diff(np.r_[self.starts, len(labels)]))
        self.sample = sample

    def take(self, a: np.ndarray) -> np.ndarray:
        return a[self.order]

    @cached_property
    def _indicator(self) -> sparse.csr_matrix:
        n = len(self.label)
        return sparse.csr_matrix((np.ones(n), (self.label, np.arange(n))), shape=(self.G, n))

    def sum(self, a: np.ndarray) -> np.ndarray:
        """Sum over each group's firm-events (axis 0)."""
        a = np.asarray(a, dtype=float)
        if a.ndim == 1:
            return np.bincount(self.label, weights=a, minlength=self.G)
        if self.G == 1:
            return a.sum(axis=0, keepdims=True)
        # A sparse group-indicator product beats np.add.reduceat on 2-D arrays with many groups.
        return np.asarray(self._indicator @ a)

    def per_firm(self, g: np.ndarray) -> np.ndarray:
        """Broadcast a per-group array back to firm-events."""
        return g[self.label]

    @cached_property
    def grank_base(self) -> tuple[np.ndarray, ...]:
        """Window-independent parts of the generalised rank test, in group order: estimation SARs,
        their counts ``M_i``, ``1/(M_i + 2)``, the rank part of ``U`` and its group sums/counts."""
        e = self.take(self.sample.std_resid)
        finite = np.isfinite(e)
        m = finite.sum(axis=1).astype(float)
        inv = 1.0 / (m + 2.0)
        base = np.where(finite, self.take(self.sample.std_resid_rank) * inv[:, None] - 0.5, 0.0)
        return e, m, inv, base, self.sum(base), self.sum(finite)

    @cached_property
    def time_series_scale(self) -> tuple[np.ndarray, np.ndarray]:
        """Brown & Warner's S(AAR) over the estimation window and its number of days, per group."""
        resid = self.take(self.sample.resid)
        valid = np.isfinite(resid)
        cnt = self.sum(valid)
        with np.errstate(invalid="ignore", divide="ignore"):
            aar = self.sum(np.where(valid, resid, 0.0)) / cnt
        has = cnt > 0
        days = has.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(has, aar, 0.0).sum(axis=1) / days
            dev = np.where(has, aar - mean[:, None], 0.0)
            sd = np.sqrt((dev**2).sum(axis=1) / (days - 1))
        return sd, days

    @cached_property
    def corrado_scale(self) -> tuple[np.ndarray, np.ndarray]:
        """Corrado's S(U) = sqrt(mean over days of Ubar_t^2) over all combined-window days."""
        u = self.take(self.sample.corrado_u)
        valid = np.isfinite(u)
        cnt = self.sum(valid)
        with np.errstate(invalid="ignore", divide="ignore"):
            ubar = self.sum(np.where(valid, u, 0.0)) / cnt
        has = cnt > 0
        days = has.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            s = np.sqrt(np.where(has, ubar**2, 0.0).sum(axis=1) / days)
        return s, days

    @cached_property
    def mean_correlation(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean pairwise correlation of estimation-window residuals and the firm-events used."""
        return _mean_correlation(self, self.take(self.sample.resid))


def _mean_correlation(groups: _Groups, resid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """r-bar of Kolari & Pynnönen (2010): the mean of the N(N-1)/2 Pearson correlations between
    the estimation-window residuals of two firm-events of a group, in event time, each pair over
    the days where both have a residual.

    When every firm-event of a group has the same days, the identity
    ``sum_{i != j} r_ij = sum_s (sum_i z_is)^2 - N`` (``z`` centred and scaled to unit sum of
    squares) gives it exactly in O(N T). With ragged days, groups up to
    :data:`EXACT_CORRELATION_MAX` firm-events get the exact pairwise matrix; larger ones the same
    identity on zero-filled ``z`` (an approximation, documented in docs/tests.md)."""
    valid = np.isfinite(resid)
    m = valid.sum(axis=1)
    x = np.where(valid, resid, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        centred = np.where(valid, resid - x.sum(axis=1, keepdims=True) / m[:, None], 0.0)
        norm = np.sqrt((centred**2).sum(axis=1))
    use = (m >= 3) & (norm > 0)
    z = np.where(use[:, None], centred / np.where(norm > 0, norm, 1.0)[:, None], 0.0)
    n_use = groups.sum(use)
    total = (groups.sum(z) ** 2).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rbar = (total - n_use) / (n_use * (n_use - 1))
    # Groups whose firm-events do not all share the same days.
    first = groups.starts[groups.label]
    ragged_firm = ((valid != valid[first]) & use[:, None] & use[first][:, None]).any(axis=1)
    ragged_firm |= use != use[first]
    ragged = groups.sum(ragged_firm) > 0
    for g in np.flatnonzero(ragged & (n_use >= 2) & (n_use <= EXACT_CORRELATION_MAX)):
        sl = slice(groups.starts[g], groups.starts[g + 1] if g + 1 < groups.G else len(resid))
        keep = use[sl]
        rbar[g] = _pairwise_mean_correlation(resid[sl][keep])
    rbar = np.where(n_use >= 2, rbar, np.nan)
    return rbar, n_use


def _pairwise_mean_correlation(resid: np.ndarray) -> float:
    """Mean off-diagonal pairwise-complete Pearson correlation (rows are firm-events)."""
    mk = np.isfinite(resid).astype(float)
    x = np.where(mk > 0, resid, 0.0)
    x = np.where(mk > 0, x - x.sum(axis=1, keepdims=True) / mk.sum(axis=1, keepdims=True), 0.0)
    n = mk @ mk.T
    sx = x @ mk.T  # sum of x_i over the days that j also has
    sxx = (x**2) @ mk.T
    sxy = x @ x.T
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = sxy - sx * sx.T / n
        vx = sxx - sx**2 / n
        r = cov / np.sqrt(vx * vx.T)
    iu = np.triu_indices(len(x), k=1)
    vals = r[iu]
    vals = vals[(n[iu] >= 3) & np.isfinite(vals)]
    return float(vals.mean()) if len(vals) else float("nan")


@dataclass
class _Window:
    """Per-firm-event values of one window, in group order."""

    start: int
    end: int
    x: np.ndarray  # AR (single day) or CAR; NaN if missing or not covered
    scar: np.ndarray  # SAR (single day) or SCAR
    csar: np.ndarray  # sum of SARs over the window
    length: np.ndarray  # non-missing days
    cols: np.ndarray  # event-axis columns of the window
    covered: np.ndarray  # (n,) the firm-event's event window covers the window

    @property
    def single(self) -> bool:
        return self.start == self.end


def _window(groups: _Groups, window: Window) -> _Window:
    s = groups.sample
    covered = groups.take((s.ev_lo <= window[0]) & (window[1] <= s.ev_hi))
    car, var, length = (groups.take(a) for a in s.car(window))
    cols = np.arange(window[0], window[1] + 1) - s.ev_days[0]
    sar = groups.take(s.sar[:, cols])
    sar = np.where(covered[:, None], sar, np.nan)
    valid = np.isfinite(sar)
    with np.errstate(invalid="ignore", divide="ignore"):
        scar = car / np.sqrt(var)
        csar = np.where(valid.any(axis=1), np.where(valid, sar, 0.0).sum(axis=1), np.nan)
    return _Window(window[0], window[1], car, scar, csar, length, cols, covered)


# ----------------------------------------------------------------------------- helpers
def _needs(n: np.ndarray, minimum: int = MIN_FIRMS) -> list[tuple[np.ndarray, Callable]]:
    return [(n < minimum, lambda k: f"needs at least {minimum} firm-events (has {int(k)})")]


def _result(
    stat: np.ndarray,
    p: np.ndarray,
    n: np.ndarray,
    df: np.ndarray | None,
    reasons: list[tuple[np.ndarray, Callable | str]],
) -> TestResult:
    """Assemble a result; the first reason that holds blanks a group's statistic and names why."""
    G = len(n)
    note = np.full(G, "", dtype=object)
    bad = np.zeros(G, dtype=bool)
    for cond, msg in reasons:
        hit = np.asarray(cond, dtype=bool) & ~bad
        if callable(msg):
            for k in np.unique(n[hit]):
                note[hit & (n == k)] = msg(k)
        else:
            note[hit] = msg
        bad |= hit
    stat = np.where(bad | ~np.isfinite(stat), np.nan, stat)
    leftover = ~bad & ~np.isfinite(stat)
    note[leftover] = "statistic undefined"
    p = np.where(np.isfinite(stat), p, np.nan)
    df_out = np.full(G, np.nan) if df is None else np.where(np.isfinite(stat), df, np.nan)
    return TestResult(stat, p, n.astype(int), df_out.astype(float), note)


def _moments(groups: _Groups, x: np.ndarray) -> tuple[np.ndarray, ...]:
    """Count, mean, sample sd (N - 1) and the deviations of the finite values, per group."""
    valid = np.isfinite(x)
    n = groups.sum(valid)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = groups.sum(np.where(valid, x, 0.0)) / n
        dev = np.where(valid, x - groups.per_firm(mean), 0.0)
        sd = np.sqrt(groups.sum(dev**2) / (n - 1))
    return n, mean, sd, dev


def _tp(stat: np.ndarray, df: np.ndarray) -> np.ndarray:
    return t_pvalue(np.where(np.isfinite(stat), stat, np.nan), np.where(df > 0, df, np.nan))


# ----------------------------------------------------------------------------- the tests
def cross_sectional_t(groups: _Groups, w: _Window) -> TestResult:
    """Cross-sectional t (Brown & Warner 1985).

    ``t = mean(A) / (sd(A) / sqrt(N))`` with ``A`` the ARs of the day (CARs of the window), ``sd``
    on ``N - 1``; Student t with ``N - 1`` df. No use of the estimation-window variance, so robust
    to event-induced variance but not to cross-correlation."""
    n, mean, sd, _ = _moments(groups, w.x)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = mean / (sd / np.sqrt(n))
    return _result(t, _tp(t, n - 1), n, n - 1, [*_needs(n), (sd == 0, "zero cross-sectional sd")])


def time_series_t(groups: _Groups, w: _Window) -> TestResult:
    """Time-series t, the crude dependence adjustment (Brown & Warner 1980, 1985).

    ``AAR_t`` = mean AR of the firm-events with a value on day ``t``; the scale is the standard
    deviation of the group's mean estimation-window residual over the ``D`` estimation days
    (relative days) on which any firm-event has one:
    ``S = sqrt(sum_s (AAR_s - mean)^2 / (D - 1))``. Day: ``t = AAR_t / S``; window:
    ``t = sum_t AAR_t / (S sqrt(L))`` over the ``L`` window days with an AAR. Student t with
    ``D - 1`` df. Cross-correlation is in S, so this is robust to it."""
    s, days = groups.time_series_scale
    ar = groups.take(groups.sample.ar[:, w.cols])
    ar = np.where(w.covered[:, None], ar, np.nan)
    valid = np.isfinite(ar)
    cnt = groups.sum(valid)
    with np.errstate(invalid="ignore", divide="ignore"):
        aar = groups.sum(np.where(valid, ar, 0.0)) / cnt
    has = cnt > 0
    length = has.sum(axis=1)
    caar = np.where(has, aar, 0.0).sum(axis=1)
    n = groups.sum(valid.any(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        t = caar / (s * np.sqrt(length))
    reasons = [*_needs(n), (days < 2, "needs at least 2 estimation-window days")]
    return _result(t, _tp(t, days - 1), n, days - 1, reasons)


def _patell_parts(groups: _Groups, w: _Window) -> tuple[np.ndarray, ...]:
    df = groups.take(groups.sample.df)
    valid = np.isfinite(w.csar) & (df > 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        q = df / (df - 2.0)
    n = groups.sum(valid)
    if w.single:
        with np.errstate(invalid="ignore", divide="ignore"):
            qsum = groups.sum(np.where(valid, q, 0.0))
            z = groups.sum(np.where(valid, w.csar, 0.0)) / np.sqrt(qsum)
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            zi = w.csar / np.sqrt(w.length * q)
            z = groups.sum(np.where(valid, zi, 0.0)) / np.sqrt(n)
    return z, n


def patell(groups: _Groups, w: _Window) -> TestResult:
    """Patell (1976) standardised-residual Z.

    ``SAR_it = AR_it / (sigma_i sqrt(1 + h_it))`` has variance ``Q_i = df_i / (df_i - 2)``
    (``(M - p)/(M - p - 2)``; firm-events with ``df_i <= 2`` are left out). Day:
    ``Z = sum_i SAR_it / sqrt(sum_i Q_i)``. Window (standardised cumulative ARs):
    ``Z_i = sum_t SAR_it / sqrt(L_i Q_i)`` over the ``L_i`` non-missing days,
    ``Z = sum_i Z_i / sqrt(N)``. Standard normal."""
    z, n = _patell_parts(groups, w)
    return _result(z, normal_pvalue(z), n, None, _needs(n))


def _correlation_factor(groups: _Groups, n: np.ndarray) -> tuple[np.ndarray, list]:
    rbar, _ = groups.mean_correlation
    denom = 1.0 + (n - 1) * rbar
    reasons = [
        (~np.isfinite(rbar), "needs at least 2 firm-events with estimation-window residuals"),
        (np.isfinite(rbar) & (denom <= 0), "1 + (N - 1) r-bar <= 0 (negative mean correlation)"),
    ]
    return rbar, reasons


def adjusted_patell(groups: _Groups, w: _Window) -> TestResult:
    """Patell Z adjusted for cross-correlation (Kolari & Pynnönen 2010).

    ``Z_adj = Z_Patell / sqrt(1 + (N - 1) r)``, ``r`` the mean pairwise correlation of the group's
    estimation-window residuals (:func:`_mean_correlation`). Standard normal."""
    z, n = _patell_parts(groups, w)
    rbar, reasons = _correlation_factor(groups, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        za = z / np.sqrt(1.0 + (n - 1) * rbar)
    return _result(za, normal_pvalue(za), n, None, [*_needs(n), *reasons])


def _bmp_parts(groups: _Groups, w: _Window) -> tuple[np.ndarray, ...]:
    n, mean, sd, _ = _moments(groups, w.scar)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = mean / (sd / np.sqrt(n))
    return t, n, sd


def bmp(groups: _Groups, w: _Window) -> TestResult:
    """Standardised cross-sectional test (Boehmer, Musumeci & Poulsen 1991).

    Day: ``A_i = SAR_it`` (prediction-error standardised); window: ``A_i = SCAR_i =
    CAR_i / sd(CAR_i)`` with the CAR's prediction-error variance (Mikkelson & Partch 1988, as in
    BMP's multi-day test). ``t = mean(A) / (sd(A) / sqrt(N))``, ``sd`` on ``N - 1``; Student t with
    ``N - 1`` df. Robust to event-induced variance."""
    t, n, sd = _bmp_parts(groups, w)
    return _result(t, _tp(t, n - 1), n, n - 1, [*_needs(n), (sd == 0, "zero cross-sectional sd")])


def adjusted_bmp(groups: _Groups, w: _Window) -> TestResult:
    """BMP t adjusted for cross-correlation (Kolari & Pynnönen 2010).

    ``t_adj = t_BMP sqrt((1 - r) / (1 + (N - 1) r))``, ``r`` as in :func:`adjusted_patell`;
    Student t with ``N - 1`` df."""
    t, n, sd = _bmp_parts(groups, w)
    rbar, reasons = _correlation_factor(groups, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        ta = t * np.sqrt((1.0 - rbar) / (1.0 + (n - 1) * rbar))
    reasons = [*_needs(n), (sd == 0, "zero cross-sectional sd"), *reasons]
    return _result(ta, _tp(ta, n - 1), n, n - 1, reasons)


def corrado_rank(groups: _Groups, w: _Window) -> TestResult:
    """Rank test (Corrado 1989; Cowan 1992 for windows; Corrado & Zivney 1992 for missing returns).

    Each firm-event ranks its ``T_i`` non-missing ARs of the combined estimation + event window
    (average ranks for ties): ``U_it = rank / (T_i + 1) - 1/2``. ``Ubar_t`` = mean over the
    firm-events with a value on day ``t``; ``S = sqrt((1/T) sum_t Ubar_t^2)`` over the ``T``
    combined days with a value (expectation 0, so not re-centred; denominator ``T`` as in Corrado).
    Day: ``Z = Ubar_t / S``; window: ``Z = sum_t Ubar_t / (sqrt(L) S)`` over its ``L`` days with a
    value (Cowan 1992). Standard normal."""
    s, _ = groups.corrado_scale
    le = len(groups.sample.est_days)
    u = groups.take(groups.sample.corrado_u[:, le + w.cols])
    u = np.where(w.covered[:, None], u, np.nan)
    valid = np.isfinite(u)
    cnt = groups.sum(valid)
    with np.errstate(invalid="ignore", divide="ignore"):
        ubar = groups.sum(np.where(valid, u, 0.0)) / cnt
    has = cnt > 0
    length = has.sum(axis=1)
    n = groups.sum(valid.any(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(has, ubar, 0.0).sum(axis=1) / (np.sqrt(length) * s)
    return _result(z, normal_pvalue(z), n, None, [*_needs(n), (s == 0, "ranks do not vary")])


def sign(groups: _Groups, w: _Window) -> TestResult:
    """Sign test (e.g. Brown & Warner 1980), null share of positives 1/2.

    ``Z = (N+ - N/2) / (sqrt(N) / 2)``, ``N+`` = number of ARs (CARs) > 0; a zero counts as not
    positive. Standard normal."""
    valid = np.isfinite(w.x)
    n = groups.sum(valid)
    pos = groups.sum(valid & (w.x > 0))
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (pos - n / 2.0) / (np.sqrt(n) / 2.0)
    return _result(z, normal_pvalue(z), n, None, _needs(n))


def generalized_sign(groups: _Groups, w: _Window) -> TestResult:
    """Generalised sign test (Cowan 1992).

    ``p = (1/N) sum_i (share of firm-event i's estimation residuals > 0)`` over the N firm-events
    tested; ``Z = (N+ - N p) / sqrt(N p (1 - p))``, ``N+`` as in the sign test. Standard normal."""
    valid = np.isfinite(w.x)
    frac = groups.take(groups.sample.frac_positive)
    valid &= np.isfinite(frac)
    n = groups.sum(valid)
    pos = groups.sum(valid & (w.x > 0))
    with np.errstate(invalid="ignore", divide="ignore"):
        p = groups.sum(np.where(valid, frac, 0.0)) / n
        z = (pos - n * p) / np.sqrt(n * p * (1 - p))
    reasons = [*_needs(n), ((p <= 0) | (p >= 1), "estimation-window share of positives is 0 or 1")]
    return _result(z, normal_pvalue(z), n, None, reasons)


@cache
def _signed_rank_cdf(n: int) -> np.ndarray:
    """P(W+ <= w), w = 0 .. n(n+1)/2, of the signed-rank statistic without ties (exact)."""
    counts = np.zeros(n * (n + 1) // 2 + 1)
    counts[0] = 1.0
    for k in range(1, n + 1):
        counts[k:] = counts[k:] + counts[:-k].copy()
    return np.cumsum(counts) / 2.0**n


def _ranks_within(values: np.ndarray, label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Average ranks of ``values`` within each label, and per element the size of its tie block
    (only at the block's first element, else 0)."""
    o = np.lexsort((values, label))
    v, lab = values[o], label[o]
    new = np.r_[True, (v[1:] != v[:-1]) | (lab[1:] != lab[:-1])]
    first = np.flatnonzero(new)
    last = np.r_[first[1:] - 1, len(v) - 1]
    block = np.cumsum(new) - 1
    start = np.searchsorted(lab, lab, side="left")
    ranks = np.empty(len(v))
    ranks[o] = (first[block] + last[block]) / 2.0 - start + 1.0
    ties = np.zeros(len(v))
    ties[o[first]] = last - first + 1
    return ranks, ties


def wilcoxon(groups: _Groups, w: _Window) -> TestResult:
    """Wilcoxon (1945) signed-rank test of the ARs (CARs) against zero.

    Zeros are dropped (Wilcoxon's convention); the ``N'`` non-zero ``|A_i|`` are ranked with
    average ranks for ties, ``W+`` = sum of the ranks of the positive values. Reported statistic:
    ``z = (W+ - N'(N'+1)/4) / sqrt(N'(N'+1)(2N'+1)/24 - sum(t^3 - t)/48)`` (tie blocks of size t).
    p-value: exact null distribution when ``N' <= 50`` and there are no ties (as scipy's
    ``method='auto'``), otherwise the normal approximation of ``z``."""
    valid = np.isfinite(w.x)
    n = groups.sum(valid)
    nz = valid & (w.x != 0)
    idx = np.flatnonzero(nz)
    ranks, ties = _ranks_within(np.abs(w.x[idx]), groups.label[idx])
    pos_rank = np.zeros(len(w.x))
    pos_rank[idx] = np.where(w.x[idx] > 0, ranks, 0.0)
    tie_term = np.zeros(len(w.x))
    tie_term[idx] = ties**3 - ties
    n1 = groups.sum(nz)
    wplus = groups.sum(pos_rank)
    tie_sum = groups.sum(tie_term)
    mean = n1 * (n1 + 1) / 4.0
    var = n1 * (n1 + 1) * (2 * n1 + 1) / 24.0 - tie_sum / 48.0
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (wplus - mean) / np.sqrt(var)
    p = normal_pvalue(z)
    exact = (n1 >= 1) & (n1 <= WILCOXON_EXACT_MAX) & (tie_sum == 0)
    for k in np.unique(n1[exact]).astype(int):
        sel = exact & (n1 == k)
        cdf = _signed_rank_cdf(k)
        tmin = np.minimum(wplus[sel], k * (k + 1) / 2.0 - wplus[sel]).round().astype(int)
        p[sel] = np.minimum(1.0, 2.0 * cdf[tmin])
    reasons = [*_needs(n), (n1 < MIN_FIRMS, "needs at least 2 non-zero values")]
    return _result(z, p, n, None, reasons)


def grank(groups: _Groups, w: _Window) -> TestResult:
    """Generalised rank test (Kolari & Pynnönen 2011).

    Estimation days carry ``e_is / sigma_i``; the day (window) is collapsed into one extra day with
    ``SCAR*_i = SCAR_i / sd(SCAR)`` (``SCAR`` as in :func:`bmp`, ``sd`` cross-sectional on
    ``N - 1``). Each firm-event ranks its ``M_i + 1`` values (average ranks for ties),
    ``U_it = rank / (M_i + 2) - 1/2``. With ``Ubar_t`` the mean over the ``N_t`` firm-events with a
    value on day ``t`` and ``T`` = estimation days with a value + 1:
    ``S^2 = (1/T) sum_t (N_t / N) Ubar_t^2``, ``Z = Ubar_0 / S``,
    ``t = Z sqrt((T - 2) / (T - 1 - Z^2))``, Student t with ``T - 2`` df."""
    e, m, inv, base, base_sum, base_cnt = groups.grank_base
    scar = np.where(m >= 1, w.scar, np.nan)
    n, _, sd, _ = _moments(groups, scar)
    with np.errstate(invalid="ignore", divide="ignore"):
        xstar = scar / groups.per_firm(sd)
    ok = np.isfinite(xstar)
    # Adding x* to firm i's values moves each estimation rank up by 1 where e > x* and by 1/2 where
    # e == x* (missing days compare False).
    x = np.where(ok, xstar, np.inf)[:, None]
    shift = np.greater(e, x).astype(float)
    tie = np.equal(e, x)
    if tie.any():
        shift += 0.5 * tie
    above = shift.sum(axis=1)  # values above x*, ties counted 1/2
    u0 = np.where(ok, (m - above + 1.0) * inv - 0.5, 0.0)
    shift *= inv[:, None]
    u_sum, cnt = base_sum, base_cnt
    out = np.flatnonzero(~ok & (m >= 1))  # firm-events in the base sums but not in this test
    if len(out):
        u_sum, cnt = u_sum.copy(), cnt.copy()
        np.subtract.at(u_sum, groups.label[out], base[out])
        np.subtract.at(cnt, groups.label[out], np.isfinite(e[out]).astype(float))
    u_sum = u_sum + groups.sum(shift)
    n0 = groups.sum(ok)
    with np.errstate(invalid="ignore", divide="ignore"):
        ubar0 = groups.sum(u0) / n0
        has = cnt > 0.5
        big_t = has.sum(axis=1) + 1.0
        day_terms = np.where(has, u_sum**2 / (np.where(has, cnt, 1.0) * n0[:, None]), 0.0)
        s2 = (day_terms.sum(axis=1) + ubar0**2) / big_t
        z = ubar0 / np.sqrt(s2)
        t = z * np.sqrt((big_t - 2.0) / (big_t - 1.0 - z**2))
    reasons = [*_needs(n), (sd == 0, "zero cross-sectional sd of SCAR")]
    return _result(t, _tp(t, big_t - 2), n, big_t - 2, reasons)


def skewness_adjusted_t(groups: _Groups, w: _Window) -> TestResult:
    """Skewness-adjusted t (Hall 1992; Lyon, Barber & Tsai 1999, eq. 5; Johnson 1978).

    On the ARs (CARs) ``A``: ``S = mean / sd`` (``sd`` on ``N - 1``),
    ``g = sum (A - mean)^3 / (N sd^3)``, ``t = sqrt(N) (S + g S^2 / 3 + g / (6 N))``; Student t with
    ``N - 1`` df (the analytic version; Lyon et al. also bootstrap it)."""
    n, mean, sd, dev = _moments(groups, w.x)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = mean / sd
        g = groups.sum(dev**3) / (n * sd**3)
        t = np.sqrt(n) * (s + g * s**2 / 3.0 + g / (6.0 * n))
    reasons = [*_needs(n, 3), (sd == 0, "zero cross-sectional sd")]
    return _result(t, _tp(t, n - 1), n, n - 1, reasons)


TEST_FUNCTIONS: dict[str, Callable[[_Groups, _Window], TestResult]] = {
    "cross_sectional_t": cross_sectional_t,
    "time_series_t": time_series_t,
    "patell": patell,
    "bmp": bmp,
    "adjusted_patell": adjusted_patell,
    "adjusted_bmp": adjusted_bmp,
    "corrado_rank": corrado_rank,
    "sign": sign,
    "generalized_sign": generalized_sign,
    "wilcoxon": wilcoxon,
    "grank": grank,
    "skewness_adjusted_t": skewness_adjusted_t,
}


def group_tests(
    sample: FirmEventSample,
    labels: np.ndarray,
    windows: Sequence[Window],
    tests: Sequence[str] = TESTS,
) -> tuple[np.ndarray, dict[tuple[str, Window], TestResult]]:
    """Run ``tests`` on every group of firm-events (``labels``, one per firm-event of ``sample``)
    for every window. Returns the group ids (sorted distinct labels) and one :class:`TestResult`
    per (test, window), with arrays over those groups."""
    labels = np.asarray(labels)
    if sample.n == 0:
        return np.zeros(0, dtype=labels.dtype), {}
    groups = _Groups(labels, sample)
    out: dict[tuple[str, Window], TestResult] = {}
    for window in windows:
        w = _window(groups, window)
        for name in tests:
            out[(name, window)] = TEST_FUNCTIONS[name](groups, w)
    return groups.ids, out


# ----------------------------------------------------------------------------- the public entry
def _windows(days: tuple[int, int], car_windows: Sequence[Window]) -> list[Window]:
    """Every day of the event window, then the multi-day CAR windows (a one-day CAR window is a
    day and is not repeated)."""
    out = [(d, d) for d in range(days[0], days[1] + 1)]
    out += [tuple(c) for c in car_windows if c[0] != c[1]]
    return list(dict.fromkeys(out))


def test_battery(results: EventStudyResults) -> pd.DataFrame:
    """The whole battery for each event and for the pooled sample (``event == "all"``).

    Columns ``event, test, start, end, statistic, p_value, n, df, note``: one row per event or
    ``all``, window (each event-window day with ``start == end``, then each multi-day CAR window)
    and test (:data:`TESTS` order). ``n`` counts the firm-events used; ``df`` is set where the
    p-value is from Student's t; ``note`` gives the reason when the statistic is NaN. p-values are
    two-sided. The pooled rows cover the union of the events' days and CAR windows, each over the
    firm-events whose event window covers it."""
    sample, labels = sample_from_results(results)
    events = results.events
    per_event = [_windows(e.event_window, e.car_windows) for e in events]
    days = sorted({d for e in events for d in range(e.event_window[0], e.event_window[1] + 1)})
    pooled = [(d, d) for d in days]
    pooled += list(dict.fromkeys(w for ws in per_event for w in ws if w[0] != w[1]))

    # Every event's windows are among the pooled ones; windows an event lacks are not reported.
    ids, res = group_tests(sample, labels, pooled)
    _, res_all = group_tests(sample, np.zeros(sample.n, dtype=int), pooled)
    n_events = len(events)
    group_of = np.full(n_events + 1, -1)  # row of each event (then "all") in the result arrays
    group_of[np.asarray(ids, dtype=int)] = np.arange(len(ids))
    group_of[n_events] = 0 if sample.n else -1
    rank = [{w: j for j, w in enumerate(ws)} for ws in per_event]

    parts = []
    for wi, window in enumerate(pooled):
        who = [i for i in range(n_events) if window in rank[i]]
        order = np.array([rank[i][window] for i in who] + [wi])
        who = np.array([*who, n_events])
        k = group_of[who]
        for ti, test in enumerate(TESTS):
            pair = (res.get((test, window)), res_all.get((test, window)))
            parts.append(pd.DataFrame({
                "_e": who, "_w": order, "_t": ti,
                "test": test, "start": window[0], "end": window[1],
                "statistic": _pick(pair, "statistic", k, np.nan),
                "p_value": _pick(pair, "p_value", k, np.nan),
                "n": _pick(pair, "n", k, 0),
                "df": _pick(pair, "df", k, np.nan),
                "note": _pick(pair, "note", k, "no fitted firm-events"),
            }))
    if not parts:
        return pd.DataFrame(columns=COLUMNS)
    frame = pd.concat(parts, ignore_index=True).sort_values(["_e", "_w", "_t"], kind="stable")
    names = np.array([e.name for e in events] + ["all"], dtype=object)
    frame.insert(0, "event", names[frame["_e"].to_numpy()])
    frame = frame.drop(columns=["_e", "_w", "_t"]).reset_index(drop=True)
    return frame.astype({"start": int, "end": int, "n": int, "statistic": float,
                         "p_value": float, "df": float, "note": str})[COLUMNS]


test_battery.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def _pick(
    pair: tuple[TestResult | None, TestResult | None], attr: str, k: np.ndarray, fill: object
) -> np.ndarray:
    """``attr`` of the per-event result at rows ``k[:-1]`` and of the pooled one at ``k[-1]``;
    ``fill`` where ``k`` is -1 (no fitted firm-event)."""
    r_ev, r_all = pair
    out = np.full(len(k), fill, dtype=object)
    if r_ev is None or r_all is None:
        return out
    vals = np.r_[getattr(r_ev, attr)[np.maximum(k[:-1], 0)], getattr(r_all, attr)[[0]]]
    out[k >= 0] = vals[k >= 0]
    return out
