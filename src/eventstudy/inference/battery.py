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

Everything is computed for all groups at once; Python loops run only over windows, tests and
chunks of firm-events. What needs the (firm-events x estimation days) residuals (the time-series
scale, the mean residual correlation, the Corrado and generalised rank tests) is computed in one
pass over chunks of :data:`CHUNK_ROWS` firm-events (:class:`_RowPass`), for every grouping (the
events and the pooled sample) and every window at once: each chunk's residuals are read from the
fits (a view where possible), sorted once per firm-event (one argsort of the residuals and event
ARs gives Corrado's ranks and, through the residuals' order, the ranks of ``e = resid / sigma``
and where each window's x* falls among them), and its contributions are added to running
per-group, per-day sums. Memory beyond the fits and the per-firm-event vectors is therefore
bounded by the chunk size, whatever the number of firm-events. Every sum is taken one firm-event
after the other in the order a group-indicator product over the whole array takes it, so the
results do not depend on the chunking or on the threads (:mod:`eventstudy.parallel`; bit for bit,
tested against the whole-array formulation in tests/test_significance.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import sparse

from eventstudy import parallel
from eventstudy.inference.stats import normal_pvalue, skewness_adjusted_statistic, t_pvalue

if TYPE_CHECKING:
    from eventstudy.estimation.kernel import BatchFit
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
#: Firm-events per chunk of the residual pass: a chunk's temporaries (a few arrays of
#: chunk x estimation days) stay in cache and are re-used, so memory does not grow with N.
CHUNK_ROWS = 1024


def _uint_for(largest: int) -> type:
    """The smallest unsigned integer type that holds 0 .. ``largest``."""
    return np.uint8 if largest < 2**8 else np.uint16 if largest < 2**16 else np.uint32


# ----------------------------------------------------------------------------- firm-event sample
@dataclass
class FirmEventSample:
    """Fitted firm-events on common relative-day axes (NaN where a firm-event has no value).

    ``est_days``/``ev_days`` are the union of the estimation and event windows; ``parts`` keep the
    fits so that CARs and their prediction-error variances come from
    :meth:`~eventstudy.estimation.kernel.BatchFit.car`, and so that the estimation residuals are
    read from
    the fits chunk by chunk (:meth:`resid_block`) instead of being copied whole.
    """

    est_days: np.ndarray  # (Le,)
    ev_days: np.ndarray  # (Lv,)
    ar: np.ndarray  # (n, Lv)
    sar: np.ndarray  # (n, Lv) AR / sqrt(Var AR), Var AR = sigma^2 (1 + h) for OLS fits
    sigma: np.ndarray  # (n,)
    df: np.ndarray  # (n,)
    ev_lo: np.ndarray  # (n,) first day of the firm-event's event window
    ev_hi: np.ndarray  # (n,)
    parts: list[tuple[BatchFit, np.ndarray, np.ndarray]]  # fit, rows of the fit, rows here
    _cars: dict = field(default_factory=dict, repr=False, compare=False)

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
        sigma, df = np.full(n, np.nan), np.full(n, np.nan)
        lo, hi = np.zeros(n, dtype=int), np.zeros(n, dtype=int)
        parts = []
        at = 0
        for f, rows in fits:
            here = np.arange(at, at + len(rows))
            at += len(rows)
            e0 = f.event_window[0] - ev_lo
            sl_ev = slice(e0, e0 + f.ar.shape[1])
            ar[here, sl_ev] = f.ar[rows]
            # The fit's own AR variance (conditional for GARCH), else sigma^2 (1 + h).
            var = f.ar_variance() if hasattr(f, "ar_variance") else f.sigma2[:, None] * (1 + f.h)
            with np.errstate(invalid="ignore", divide="ignore"):
                sar[here, sl_ev] = f.ar[rows] / np.sqrt(var[rows])
            sigma[here] = np.sqrt(f.sigma2[rows])
            df[here] = f.df[rows]
            lo[here], hi[here] = f.event_window
            parts.append((f, rows, here))
        return cls(est_days, ev_days, ar, sar, sigma, df, lo, hi, parts)

    @cached_property
    def _layout(self) -> list[tuple[int, int, int, int, bool, bool]]:
        """Per part: first row here, number of rows, first estimation column, width, whether its
        rows are one contiguous block of the fit, and whether a block of them can be handed out
        as a view (C-ordered float64 covering the whole estimation axis)."""
        out = []
        le = len(self.est_days)
        for f, rows, here in self.parts:
            s0 = f.estimation_window[0] - int(self.est_days[0]) if le else 0
            contiguous = len(rows) > 0 and rows[-1] - rows[0] == len(rows) - 1
            width = f.resid.shape[1]
            view = (
                contiguous and s0 == 0 and width == le and f.resid.dtype == np.float64
                and f.resid.flags.c_contiguous
            )
            at = int(here[0]) if len(here) else 0
            out.append((at, len(rows), s0, width, contiguous, view))
        return out

    def resid_block(self, rows: slice | np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Estimation-window residuals of the firm-events ``rows`` (a slice or indices) on the
        common estimation axis, NaN where a firm-event has none: ``(len(rows), Le)``. Read-only:
        where one fit holds the rows whole, the result is a view of that fit's residuals."""
        le = len(self.est_days)
        if isinstance(rows, slice):
            a, b, _ = rows.indices(self.n)
            b = max(a, b)
            for (f, fit_rows, _), (at, k, _, _, _, view) in zip(
                self.parts, self._layout, strict=True
            ):
                if view and at <= a and b <= at + k:
                    r0 = int(fit_rows[0]) + a - at
                    return f.resid[r0 : r0 + b - a]
            c = b - a
        else:
            idx = np.asarray(rows, dtype=np.intp)
            c = len(idx)
        block = np.empty((c, le)) if out is None else out[:c]
        block.fill(np.nan)
        for (f, fit_rows, _), (at, k, s0, width, contiguous, _) in zip(
            self.parts, self._layout, strict=True
        ):
            if isinstance(rows, slice):
                lo, hi = max(a, at), min(b, at + k)
                if lo >= hi:
                    continue
                if contiguous:
                    r0 = int(fit_rows[0]) + lo - at
                    src = f.resid[r0 : r0 + hi - lo]
                else:
                    src = f.resid[fit_rows[lo - at : hi - at]]
                block[lo - a : hi - a, s0 : s0 + width] = src
            else:
                sel = np.flatnonzero((idx >= at) & (idx < at + k))
                if len(sel):
                    block[sel, s0 : s0 + width] = f.resid[fit_rows[idx[sel] - at]]
        return block

    @property
    def resid(self) -> np.ndarray:
        """All estimation-window residuals, ``(n, Le)`` (a copy; the battery reads them in chunks
        with :meth:`resid_block`)."""
        return self.resid_block(slice(0, self.n)).copy()

    def car(self, window: Window) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """CAR, its prediction-error variance and its number of non-missing days, per firm-event;
        NaN for firm-events whose event window does not cover ``window``."""
        car, var, length = self._car(window)
        return car.copy(), var.copy(), length.copy()

    def _car(self, window: Window) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`car`, computed once per window and shared (read-only)."""
        window = (int(window[0]), int(window[1]))
        if window not in self._cars:
            car, var, length = (np.full(self.n, np.nan) for _ in range(3))
            for f, rows, here in self.parts:
                if f.event_window[0] <= window[0] and window[1] <= f.event_window[1]:
                    c, v, n = f.car(*window)
                    car[here], var[here], length[here] = c[rows], v[rows], n[rows]
            self._cars[window] = (car, var, length)
        return self._cars[window]

    @cached_property
    def row_stats(self) -> _RowStats:
        """Per firm-event counts over the estimation residuals (one chunked pass)."""
        return _RowStats.compute(self)

    @property
    def frac_positive(self) -> np.ndarray:
        """Share of a firm-event's non-missing estimation residuals that are > 0."""
        return self.row_stats.frac_positive


@dataclass
class _RowStats:
    """Per firm-event: ``m`` non-missing standardised residuals ``e = resid / sigma`` (float),
    ``m_resid`` non-missing residuals, the share of residuals > 0, and ``irregular``: ``e`` has an
    infinite value, or misses residuals that exist (sigma 0 or infinite), so ``e`` cannot be
    ranked through the order of the residuals."""

    m: np.ndarray
    m_resid: np.ndarray
    frac_positive: np.ndarray
    irregular: np.ndarray

    @classmethod
    def compute(cls, sample: FirmEventSample) -> _RowStats:
        n = sample.n
        m, m_resid, positive = (np.zeros(n, dtype=np.intp) for _ in range(3))
        irregular = np.zeros(n, dtype=bool)

        def count(a: int) -> None:
            rows = slice(a, min(n, a + CHUNK_ROWS))
            resid = sample.resid_block(rows)
            m_resid[rows] = np.count_nonzero(np.isfinite(resid), axis=1)
            positive[rows] = np.count_nonzero(resid > 0, axis=1)
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                e = resid / sample.sigma[rows, None]
            m[rows] = np.count_nonzero(np.isfinite(e), axis=1)
            irregular[rows] = np.isinf(e).any(axis=1)

        parallel.for_each(count, range(0, n, CHUNK_ROWS), n)  # chunks write their own rows
        irregular |= (m != m_resid) & (m != 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = positive / m_resid
        return cls(m.astype(float), m_resid, frac, irregular)


def row_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks within each row, 1-based, average ranks for ties, NaN left out (and kept NaN).

    The same as ``scipy.stats.rankdata(values, axis=1, nan_policy="omit")`` with one sort."""
    n, width = values.shape
    order = np.argsort(values, axis=1)  # NaN sort last
    v = np.take_along_axis(values, order, axis=1)
    avg = np.empty((n, width))
    avg[:] = np.arange(width) + 1.0
    tied, _, avg_tied = _ties(v)
    avg[tied] = avg_tied
    ranks = np.empty((n, width))
    np.put_along_axis(ranks, order, avg, axis=1)
    ranks[~np.isfinite(values)] = np.nan
    return ranks


def _ties(v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For rows sorted ascending (NaN last): the rows with ties, and for those rows the first
    position (0-based) of each position's tie block and its average rank (1-based),
    ``(first + last) / 2 + 1``. Positions of rows without ties have rank ``position + 1``."""
    width = v.shape[1]
    if width < 2:
        return np.zeros(0, dtype=np.intp), np.zeros((0, width), dtype=np.intp), np.zeros((0, width))
    same = v[:, 1:] == v[:, :-1]
    tied = np.flatnonzero(same.any(axis=1))
    if not len(tied):
        return tied, np.zeros((0, width), dtype=np.intp), np.zeros((0, width))
    pos = np.arange(width)
    new = np.ones((len(tied), width), dtype=bool)
    new[:, 1:] = ~same[tied]
    end = np.ones_like(new)
    end[:, :-1] = new[:, 1:]
    first = np.maximum.accumulate(np.where(new, pos, 0), axis=1)
    last = np.minimum.accumulate(np.where(end, pos, width)[:, ::-1], axis=1)[:, ::-1]
    return tied, first, (first + last) / 2.0 + 1.0


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
    """Firm-events sorted by group, with sums over each group's firm-events.

    What depends on the estimation residuals (:attr:`time_series_scale`, :attr:`corrado_scale`,
    :attr:`mean_correlation`, the Corrado ranks of the event days and the generalised rank test of
    each window) is filled in by :func:`_prepare`, for several groupings in one pass."""

    def __init__(self, labels: np.ndarray, sample: FirmEventSample) -> None:
        self.order = np.argsort(labels, kind="stable")
        self.in_order = bool((self.order == np.arange(len(labels))).all())
        sorted_labels = labels[self.order]
        self.ids, self.starts = np.unique(sorted_labels, return_index=True)
        self.G = len(self.ids)
        self.label = np.repeat(np.arange(self.G), np.diff(np.r_[self.starts, len(labels)]))
        self.sample = sample
        self._residual_stats: dict[str, object] | None = None
        self.grank_results: dict[Window, TestResult] = {}

    def take(self, a: np.ndarray) -> np.ndarray:
        """``a`` (firm-events on axis 0) in group order, as a new array."""
        return a.copy() if self.in_order else a[self.order]

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

    def _stat(self, name: str) -> Any:
        if self._residual_stats is None:
            _prepare([self], [])
        assert self._residual_stats is not None
        return self._residual_stats[name]

    @property
    def time_series_scale(self) -> tuple[np.ndarray, np.ndarray]:
        """Brown & Warner's S(AAR) over the estimation window and its number of days, per group."""
        return self._stat("time_series_scale")

    @property
    def corrado_scale(self) -> tuple[np.ndarray, np.ndarray]:
        """Corrado's S(U) = sqrt(mean over days of Ubar_t^2) over all combined-window days."""
        return self._stat("corrado_scale")

    @property
    def corrado_u_ev(self) -> np.ndarray:
        """Corrado's ``U`` of every firm-event on the event axis (sample order, NaN if missing)."""
        return self._stat("corrado_u_ev")

    @property
    def mean_correlation(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean pairwise correlation of estimation-window residuals and the firm-events used."""
        return self._stat("mean_correlation")


# ----------------------------------------------------------------------------- the residual pass
def _prepare(groupings: Sequence[_Groups], windows: Sequence[Window]) -> None:
    """Fill in every residual-based quantity of ``groupings`` (groupings of the same sample) and
    the generalised rank test of each of ``windows``.

    One pass over chunks of firm-events in sample order serves every grouping whose groups are
    contiguous blocks of the sample (the events of :func:`sample_from_results`, the pooled sample);
    any other grouping gets its own pass in its sorted order. Each chunk's residuals are gathered,
    sorted once per firm-event and reduced into per-group running sums (:class:`_RowPass`)."""
    sample = groupings[0].sample
    shared = _Shared(sample)
    if parallel.threaded(sample.n, len(groupings)):
        _build_lazy_state(groupings, windows)  # before the threads share it
    plans = parallel.ordered_map(lambda g: _GroupPlan(g, windows), groupings, sample.n)
    need = np.zeros(sample.n, dtype=bool)
    for p in plans:
        need |= p.need
    shared.keep_ranks(need)
    together = [p for p in plans if p.set_order(None)]
    if together:
        _RowPass(sample, together, shared, None).run()
    for p in plans:
        if p not in together:
            p.set_order(p.groups.order)
            _RowPass(sample, [p], shared, p.groups.order).run()
    for p in plans:
        p.finish(shared)


class _Shared:
    """Per firm-event outputs of the pass that do not depend on the grouping (sample order)."""

    def __init__(self, sample: FirmEventSample) -> None:
        n = sample.n
        self.u_ev = np.full((n, len(sample.ev_days)), np.nan)  # Corrado U on the event days
        self.use = np.zeros(n, dtype=bool)  # enters the mean correlation
        self.store_pos = np.full(n, -1, dtype=np.intp)
        self.store = np.zeros((0, len(sample.est_days)), dtype=_uint_for(2 * len(sample.est_days)))

    def keep_ranks(self, need: np.ndarray) -> None:
        """Keep 2 x the rank of ``e`` (0 where missing) of the firm-events ``need``: the
        generalised rank test takes their estimation ranks back out of its sums."""
        idx = np.flatnonzero(need)
        self.store_pos[idx] = np.arange(len(idx))
        self.store = np.zeros((len(idx), self.store.shape[1]), dtype=self.store.dtype)


class _GroupPlan:
    """One grouping's inputs to the pass (the generalised-rank thresholds of every window), its
    running sums, and what is made of them at the end (:meth:`finish`)."""

    def __init__(self, groups: _Groups, windows: Sequence[Window]) -> None:
        self.groups = groups
        s = groups.sample
        n, le, lc = s.n, len(s.est_days), len(s.est_days) + len(s.ev_days)
        stats = s.row_stats
        self.m = groups.take(stats.m)  # group order
        self.g_sample = np.empty(n, dtype=np.intp)
        self.g_sample[groups.order] = groups.label
        # The generalised rank test: x* = SCAR / sd(SCAR) per window (Kolari & Pynnönen 2011).
        self.windows = list(dict.fromkeys((int(a), int(b)) for a, b in windows))
        nw = len(self.windows)
        self.x = np.empty((nw, n))  # x* where defined, else +inf (sample order)
        self.ok = np.empty((nw, n), dtype=bool)
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for j, window in enumerate(self.windows):
            car, var, _ = s._car(window)
            with np.errstate(invalid="ignore", divide="ignore"):
                scar = groups.take(car) / np.sqrt(groups.take(var))  # as in _window
            scar = np.where(self.m >= 1, scar, np.nan)
            count, _, sd, _ = _moments(groups, scar)
            with np.errstate(invalid="ignore", divide="ignore"):
                xstar = scar / groups.per_firm(sd)
            ok = np.isfinite(xstar)
            self.x[j, groups.order] = np.where(ok, xstar, np.inf)
            self.ok[j, groups.order] = ok
            self.parts.append((count, sd, ok))
        # Firm-events in the base sums but not in some window's test.
        self.need = (~self.ok).any(axis=0) & (stats.m >= 1)
        G = groups.G
        self.ts = np.zeros((G, le))  # sum of residuals
        self.z = np.zeros((G, le))  # sum of centred, unit-norm residuals
        self.base = np.zeros((G, le))  # sum of the rank part of U (generalised rank)
        self.u = np.zeros((G, lc))  # sum of Corrado's U
        self.cnt = np.zeros((G, lc))  # firm-events with a value, per day
        self.separate_bcnt = bool((stats.m != stats.m_resid).any())
        self.bcnt = np.zeros((G, le)) if self.separate_bcnt else None
        # The window sums of inv * (e > x*) (+ 1/2 where e == x*). When every group's
        # firm-events with residuals share one M, hence one inv = 1/(M + 2), and no e is
        # irregular, they are counted instead (a count k stands for the sequential sum of k
        # times inv, exactly what the sum over the firm-events gives); a group and window with
        # an exact tie e == x* is summed again the direct way (:meth:`_exact_v`).
        inv = np.where(self.m >= 1, 1.0 / (self.m + 2.0), np.nan)
        lo, hi = np.fmin.reduceat(inv, groups.starts), np.fmax.reduceat(inv, groups.starts)
        self.counting = bool(
            nw and not stats.irregular.any() and np.all((lo == hi) | np.isnan(lo))
        )
        self.group_inv = lo
        self.v = np.zeros((nw, G, le)) if not self.counting else None
        self.vcount = np.zeros((nw, G, le), dtype=np.int32) if self.counting else None
        self.dirty: set[tuple[int, int]] = set()
        self.u0 = np.zeros((nw, n))  # U of the window's own value (sample order)
        self.ragged = np.zeros(G)
        self.first_valid = np.zeros((G, le), dtype=bool)
        self.first_use = np.zeros(G, dtype=bool)

    def set_order(self, order: np.ndarray | None) -> bool:
        """Runs of groups along the pass order; False when a group is not one contiguous run."""
        g = self.g_sample if order is None else self.g_sample[order]
        change = np.flatnonzero(g[1:] != g[:-1]) + 1
        self.run_start = np.r_[0, change]
        self.run_end = np.r_[change, len(g)]
        self.run_group = g[self.run_start]
        return len(self.run_start) == self.groups.G

    def add_chunk(self, ch: _Chunk) -> None:
        """Add chunk ``ch`` to the running sums, in pass order (see :class:`_RowPass`)."""
        a, b, c = ch.a, ch.b, ch.c
        r_lo = int(np.searchsorted(self.run_start, a, side="right")) - 1
        r_hi = int(np.searchsorted(self.run_start, b, side="left"))
        gr = self.run_group[r_lo:r_hi]
        ends = np.minimum(self.run_end[r_lo:r_hi], b) - a
        lens = np.diff(np.r_[0, ends])
        carry = bool(self.run_start[r_lo] < a)
        # Row 0 of every buffer carries the running sum of the group continued from the last
        # chunk, so each group's sum is one sequential sum over its firm-events (as the
        # group-indicator product over the whole array took it), whatever the chunking.
        indptr = np.r_[0, 1 + ends]
        shape = (len(gr), c + 1)
        cols = np.arange(c + 1)
        single = len(gr) == 1
        ind = None
        if not single:
            ind = sparse.csr_matrix((np.ones(c + 1), cols, indptr), shape=shape)

        def add(acc: np.ndarray, buf: np.ndarray) -> None:
            buf[0] = acc[gr[0]] if carry else 0.0
            if single:
                acc[gr[0]] = buf[: c + 1].sum(axis=0)  # sequential over rows, as the product
            else:
                acc[gr] = ind @ buf[: c + 1]

        add(self.ts, ch.xbuf)
        add(self.z, ch.zbuf)
        add(self.base, ch.basebuf)
        add(self.u, ch.ubuf)
        if ch.all_finite:
            self.cnt[gr] += lens[:, None]
        else:
            add(self.cnt, ch.cntbuf)
        if self.bcnt is not None:
            add(self.bcnt, ch.fbuf)

        # Groups whose firm-events do not all share their first firm-event's residual days.
        new = self.run_start[r_lo:r_hi] >= a
        if new.any():
            first_rows = self.run_start[r_lo:r_hi][new] - a
            self.first_valid[gr[new]] = ch.valid[first_rows]
            self.first_use[gr[new]] = ch.use[first_rows]
        same = ch.all_finite and ch.use.all() and self.first_use[gr].all()
        if not (same and self.first_valid[gr].all()):
            glocal = np.repeat(gr, lens)
            fu = self.first_use[glocal]
            rf = (ch.use != fu) | (
                (ch.valid != self.first_valid[glocal]) & ch.use[:, None] & fu[:, None]
            ).any(axis=1)
            if rf.any():
                self.ragged += np.bincount(glocal, weights=rf, minlength=self.groups.G)

        # The generalised rank test: sum over firm-events of inv * (e > x*) (+ 1/2 if e == x*).
        if not self.windows:
            return
        if self.counting:
            ones = sparse.csr_matrix(
                (np.ones(c, dtype=ch.ibuf.dtype), cols[:c], np.r_[0, ends]), shape=(len(gr), c)
            )
            mask = ch.ibuf[:c]
            glocal = np.repeat(gr, lens) if ch.any_tie else None
            for j in range(len(self.windows)):
                k = ch.col[self].start + j
                np.greater(ch.l1, ch.kk[k][:, None], out=mask)
                self.vcount[j, gr] += ones @ mask
                if ch.any_tie:
                    for g in np.unique(glocal[ch.tie[:, k]]):
                        self.dirty.add((j, int(g)))
            return
        weights = sparse.csr_matrix((np.r_[1.0, ch.inv], cols, indptr), shape=shape)
        vbuf = ch.vbuf
        vb = vbuf[1 : c + 1]
        for j in range(len(self.windows)):
            if ch.regular:
                k = ch.col[self].start + j
                # e > x* <=> the rank position of e (1-based, 0 if missing) exceeds the number
                # of values <= x*; the rare exact ties e == x* take the direct comparison.
                np.greater(ch.l1, ch.kk[k][:, None], out=vb)
                t_rows = np.flatnonzero(ch.tie[:, k]) if ch.any_tie else ()
                if len(t_rows):
                    e = ch.e_rows(t_rows)
                    x = ch.xs[t_rows, k, None]
                    vb[t_rows] = np.greater(e, x).astype(float) + 0.5 * np.equal(e, x)
            else:
                e = ch.e_rows(None)
                x = self.x[j, ch.rows][:, None]
                shift = np.greater(e, x).astype(float)
                shift += 0.5 * np.equal(e, x)
                above = shift.sum(axis=1)
                ok = self.ok[j, ch.rows]
                self.u0[j, ch.rows] = np.where(ok, (ch.me - above + 1.0) * ch.inv - 0.5, 0.0)
                vb[...] = shift
            vbuf[0] = self.v[j, gr[0]] if carry else 0.0
            self.v[j, gr] = weights @ vbuf[: c + 1]

    def finish(self, shared: _Shared) -> None:
        """The per-group quantities the tests read, from the running sums."""
        groups, s = self.groups, self.groups.sample
        le = len(s.est_days)
        cnt_r = np.ascontiguousarray(self.cnt[:, :le])
        with np.errstate(invalid="ignore", divide="ignore"):
            aar = self.ts / cnt_r
        has = cnt_r > 0
        days = has.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(has, aar, 0.0).sum(axis=1) / days
            dev = np.where(has, aar - mean[:, None], 0.0)
            sd = np.sqrt((dev**2).sum(axis=1) / (days - 1))
        time_series = (sd, days)

        with np.errstate(invalid="ignore", divide="ignore"):
            ubar = self.u / self.cnt
        has = self.cnt > 0
        cdays = has.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.sqrt(np.where(has, ubar**2, 0.0).sum(axis=1) / cdays)

        groups._residual_stats = {
            "time_series_scale": time_series,
            "corrado_scale": (scale, cdays),
            "corrado_u_ev": shared.u_ev,
            "mean_correlation": self._mean_correlation(shared),
        }
        base_cnt = cnt_r if self.bcnt is None else self.bcnt
        for j, window in enumerate(self.windows):
            groups.grank_results[window] = self._grank(j, shared, base_cnt)

    def _mean_correlation(self, shared: _Shared) -> tuple[np.ndarray, np.ndarray]:
        """r-bar of Kolari & Pynnönen (2010): the mean of the N(N-1)/2 Pearson correlations
        between the estimation-window residuals of two firm-events of a group, in event time, each
        pair over the days where both have a residual, and the number of firm-events used.

        When every firm-event of a group has the same days, the identity
        ``sum_{i != j} r_ij = sum_s (sum_i z_is)^2 - N`` (``z`` centred and scaled to unit sum of
        squares) gives it exactly in O(N T). With ragged days, groups up to
        :data:`EXACT_CORRELATION_MAX` firm-events get the exact pairwise matrix; larger ones the
        same identity on zero-filled ``z`` (an approximation, documented in docs/tests.md)."""
        groups, s = self.groups, self.groups.sample
        use = groups.take(shared.use)
        n_use = groups.sum(use)
        total = (self.z**2).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            rbar = (total - n_use) / (n_use * (n_use - 1))
        ragged = self.ragged > 0
        for g in np.flatnonzero(ragged & (n_use >= 2) & (n_use <= EXACT_CORRELATION_MAX)):
            sl = slice(groups.starts[g], groups.starts[g + 1] if g + 1 < groups.G else s.n)
            rbar[g] = _pairwise_mean_correlation(s.resid_block(groups.order[sl])[use[sl]])
        rbar = np.where(n_use >= 2, rbar, np.nan)
        return rbar, n_use

    def _window_sums(self, j: int) -> np.ndarray:
        """Per group and estimation day, the sum over the group's firm-events (in order) of
        ``inv * (e > x*)`` (+ ``inv / 2`` where ``e == x*``) of window ``j``."""
        if not self.counting:
            assert self.v is not None
            return self.v[j]
        assert self.vcount is not None
        table, at = self._sums_table
        out = table[at[:, None] + self.vcount[j]]
        for jj, g in self.dirty:
            if jj == j:
                out[g] = self._exact_v(j, g)
        return out

    @cached_property
    def _sums_table(self) -> tuple[np.ndarray, np.ndarray]:
        """Per group, ``inv + inv + ...`` (k terms, one after the other from 0) for k = 0 .. the
        group's size, concatenated, and where each group's part starts."""
        groups = self.groups
        sizes = np.diff(np.r_[groups.starts, len(groups.label)])
        if len(set(self.group_inv[~np.isnan(self.group_inv)].tolist())) <= 1:
            # One inv for all: one table of the largest size serves every group.
            v = self.group_inv[~np.isnan(self.group_inv)]
            one = np.r_[0.0, np.cumsum(np.full(sizes.max(), v[0] if len(v) else 0.0))]
            return one, np.zeros(groups.G, dtype=np.intp)
        table = np.concatenate(
            [np.r_[0.0, np.cumsum(np.full(k, 0.0 if np.isnan(v) else v))]
             for v, k in zip(self.group_inv, sizes, strict=True)]
        )
        return table, np.r_[0, np.cumsum(sizes + 1)[:-1]]

    def _exact_v(self, j: int, g: int) -> np.ndarray:
        """:meth:`_window_sums` of one group, the direct way (exact ties ``e == x*``)."""
        groups, s = self.groups, self.groups.sample
        sl = slice(groups.starts[g], groups.starts[g + 1] if g + 1 < groups.G else s.n)
        rows = groups.order[sl]
        acc = np.zeros(len(s.est_days))
        for k in range(0, len(rows), CHUNK_ROWS):
            r = rows[k : k + CHUNK_ROWS]
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                e = s.resid_block(r) / s.sigma[r, None]
            x = self.x[j, r][:, None]
            buf = np.empty((len(r) + 1, e.shape[1]))
            buf[0] = acc
            buf[1:] = np.greater(e, x)
            buf[1:] += 0.5 * np.equal(e, x)
            inv = np.r_[1.0, 1.0 / (s.row_stats.m[r] + 2.0)]
            weights = sparse.csr_matrix((inv, np.arange(len(r) + 1), [0, len(r) + 1]))
            acc = (weights @ buf)[0]
        return acc

    def _grank(self, j: int, shared: _Shared, base_cnt: np.ndarray) -> TestResult:
        """The generalised rank test of window ``j`` (see :func:`grank`)."""
        groups = self.groups
        n, sd, ok = self.parts[j]
        m = self.m
        u_sum, cnt = self.base, base_cnt
        out = np.flatnonzero(~ok & (m >= 1))  # firm-events in the base sums but not in this test
        if len(out):
            u_sum, cnt = u_sum.copy(), cnt.copy()
            for k in range(0, len(out), CHUNK_ROWS):
                piece = out[k : k + CHUNK_ROWS]
                rank2 = shared.store[shared.store_pos[groups.order[piece]]]
                inv = 1.0 / (m[piece] + 2.0)
                finite = rank2 > 0
                base = np.where(finite, (rank2 / 2.0) * inv[:, None] - 0.5, 0.0)
                np.subtract.at(u_sum, groups.label[piece], base)
                np.subtract.at(cnt, groups.label[piece], finite.astype(float))
        u_sum = u_sum + self._window_sums(j)
        n0 = groups.sum(ok)
        with np.errstate(invalid="ignore", divide="ignore"):
            ubar0 = groups.sum(groups.take(self.u0[j])) / n0
            has = cnt > 0.5
            big_t = has.sum(axis=1) + 1.0
            day_terms = np.where(has, u_sum**2 / (np.where(has, cnt, 1.0) * n0[:, None]), 0.0)
            s2 = (day_terms.sum(axis=1) + ubar0**2) / big_t
            z = ubar0 / np.sqrt(s2)
            t = z * np.sqrt((big_t - 2.0) / (big_t - 1.0 - z**2))
        reasons = [*_needs(n), (sd == 0, "zero cross-sectional sd of SCAR")]
        return _result(t, _tp(t, big_t - 2), n, big_t - 2, reasons)


def _count_le(padded: np.ndarray, x: np.ndarray) -> np.ndarray:
    """For rows sorted ascending with NaN last, padded with NaN to a power-of-two width, and
    thresholds ``x`` (c, W): how many values of each row are <= each threshold (a binary search
    of all rows and thresholds at once)."""
    c, width = padded.shape
    flat = padded.ravel()
    start = (np.arange(c) * width)[:, None]
    last = np.broadcast_to(start - 1, x.shape).copy()  # flat index of the last value <= x
    step = width >> 1
    while step:
        last += step * (flat.take(last + step) <= x)
        step >>= 1
    return last + 1 - start


class _RowPass:
    """One pass over chunks of firm-events (in sample order, or ``order``). Each chunk is
    prepared on its own (:meth:`_Chunk.prepare`: residuals on the common axis, one argsort per
    firm-event for both rank tests, the centred unit-norm residuals, every window's x* against
    the ranks of ``e``) and then added to every plan's running sums, chunk after chunk
    (:meth:`_GroupPlan.add_chunk`). With threads (:func:`eventstudy.parallel.pipeline`) the next
    chunk is prepared in a second thread while the current one is added; the sums, and so the
    results, are the same."""

    def __init__(
        self,
        sample: FirmEventSample,
        plans: Sequence[_GroupPlan],
        shared: _Shared,
        order: np.ndarray | None,
    ) -> None:
        self.sample, self.plans, self.shared, self.order = sample, plans, shared, order

    def run(self) -> None:
        n = self.sample.n
        size = min(CHUNK_ROWS, max(n, 1))
        starts = list(range(0, n, size))
        cols, at = {}, 0
        for p in self.plans:
            cols[p] = slice(at, at + len(p.windows))
            at += len(p.windows)
        # Two workspaces when the next chunk is prepared while the current one is added.
        two = parallel.threaded(n, len(starts))
        spaces = [_Chunk(self, size, cols) for _ in range(2 if two else 1)]
        jobs = [(spaces[k % len(spaces)], a, min(n, a + size)) for k, a in enumerate(starts)]
        parallel.pipeline(lambda job: job[0].prepare(job[1], job[2]), self._add, jobs, n)

    def _add(self, ch: _Chunk) -> None:
        if ch.regular and ch.windows:
            ch.thresholds()
        for p in self.plans:
            p.add_chunk(ch)


class _Chunk:
    """Workspace and per-firm-event results of one chunk of a :class:`_RowPass` (each buffer has
    a leading row for the running sum carried in from the previous chunk)."""

    def __init__(self, owner: _RowPass, size: int, col: dict) -> None:
        s = owner.sample
        le, lc = len(s.est_days), len(s.est_days) + len(s.ev_days)
        self.owner, self.sample, self.col = owner, s, col
        self.le, self.lc = le, lc
        self.rbuf = np.empty((size, le))
        self.cbuf = np.empty((size, lc))
        self.xbuf, self.zbuf, self.basebuf, self.fbuf, self.vbuf = (
            np.empty((size + 1, le)) for _ in range(5)
        )
        self.ubuf, self.cntbuf = np.empty((size + 1, lc)), np.empty((size + 1, lc))
        self.l1buf = np.empty((size, lc), dtype=_uint_for(lc))
        self.ibuf = np.empty((size, le), dtype=np.int16 if size < 2**15 else np.int32)
        self.cvs = np.full((size, 1 << lc.bit_length()), np.nan)  # e, NaN-padded (_count_le)
        self.offsets = np.arange(size)[:, None]
        self.pos_c = np.arange(lc)
        self.need_f = any(p.bcnt is not None for p in owner.plans)
        self.windows = sum(len(p.windows) for p in owner.plans)

    def e_rows(self, rows: np.ndarray | None) -> np.ndarray:
        """``e = resid / sigma`` of chunk rows ``rows`` (all with None)."""
        sig = self.sample.sigma[self.rows]
        r, sg = (self.resid, sig) if rows is None else (self.resid[rows], sig[rows])
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            return r / sg[:, None]

    def prepare(self, a: int, b: int) -> _Chunk:
        """Everything of firm-events ``a .. b`` (pass order) that depends on one firm-event
        only."""
        s, owner = self.sample, self.owner
        sh = owner.shared
        stats = s.row_stats
        c = self.c = b - a
        self.a, self.b = a, b
        rows = self.rows = slice(a, b) if owner.order is None else owner.order[a:b]
        me = self.me = stats.m[rows]
        inv = self.inv = 1.0 / (me + 2.0)
        self.regular = regular = not stats.irregular[rows].any()
        le, lc = self.le, self.lc
        resid = self.resid = s.resid_block(rows, out=self.rbuf)
        comb = self.cbuf[:c]
        comb[:, :le] = resid
        comb[:, le:] = s.ar[rows]
        fin = np.isfinite(comb)
        all_finite = self.all_finite = bool(fin.all())
        valid = self.valid = fin[:, :le]
        with np.errstate(invalid="ignore", divide="ignore"):
            # Corrado (1989): ranks over the combined estimation + event window,
            # U = rank / (T + 1) - 1/2 with T the firm-event's number of values.
            order = np.argsort(comb, axis=1)
            flat = order + self.offsets[:c] * lc
            cv = comb.ravel().take(flat)
            maybe_tied = None  # rows where two values (of e or of the combined) may be equal
            if regular:
                # e where the combined values are residuals, NaN-padded for _count_le.
                cvs = self.cvs[:c]
                np.divide(cv, s.sigma[rows, None], out=cvs[:, :lc])
                same = (cvs[:, 1:lc] == cvs[:, : lc - 1]).any(axis=1)
                maybe_tied = np.flatnonzero(same | (me == 0))  # equal values stay equal over sigma
            if maybe_tied is None:
                tied, _, avg = _ties(cv)
            else:
                tied, _, avg = _ties(cv[maybe_tied])
                tied = maybe_tied[tied]
            t = np.full(c, lc) if all_finite else np.count_nonzero(fin, axis=1)
            u = self.ubuf[1 : c + 1]
            if all_finite and not len(tied):
                u.ravel()[flat] = np.broadcast_to((self.pos_c + 1.0) / (lc + 1.0) - 0.5, (c, lc))
            else:
                us = np.divide(self.pos_c + 1.0, t[:, None] + 1.0)
                if len(tied):
                    us[tied] = avg / (t[tied, None] + 1.0)
                us -= 0.5
                if not all_finite:
                    us[~np.isfinite(cv)] = 0.0
                    self.cntbuf[1 : c + 1] = fin
                u.ravel()[flat] = us
            sh.u_ev[rows] = np.where(fin[:, le:], u[:, le:], np.nan)

            # Time-series scale and the residual correlation.
            x = self.xbuf[1 : c + 1]
            np.copyto(x, resid)
            m_resid = stats.m_resid[rows]
            if all_finite:
                centred = resid - x.sum(axis=1, keepdims=True) / m_resid[:, None]
            else:
                x[~valid] = 0.0
                centred = np.where(
                    valid, resid - x.sum(axis=1, keepdims=True) / m_resid[:, None], 0.0
                )
            norm = np.sqrt((centred**2).sum(axis=1))
            use = self.use = (m_resid >= 3) & (norm > 0)
            z = self.zbuf[1 : c + 1]
            if use.all():
                np.divide(centred, norm[:, None], out=z)
            else:
                z[...] = np.where(
                    use[:, None], centred / np.where(norm > 0, norm, 1.0)[:, None], 0.0
                )
            sh.use[rows] = use

            # Generalised rank test: ranks of e = resid / sigma. Dividing by sigma keeps the
            # residuals' order, so the combined sort orders e as well: a residual's rank among
            # the residuals is the number of residuals up to its place in the combined order.
            base = self.basebuf[1 : c + 1]
            rank_t = rank = finite = None
            if regular:
                l1w = self.l1buf[:c]
                l1s = np.cumsum(order < le, axis=1, dtype=l1w.dtype)
                if not all_finite:
                    l1s[np.isnan(cv)] = 0  # missing residuals (and ARs) sort last
                l1s[me == 0] = 0
                l1w.ravel()[flat] = l1s
                l1 = self.l1 = l1w[:, :le]
                # Rows where two values of e may be equal: ranks the direct way.
                tied = maybe_tied
                if len(tied):
                    e = self.e_rows(tied)
                    o = np.argsort(e, axis=1)
                    tied_e, first, avg_e = _ties(np.take_along_axis(e, o, axis=1))
                    first_all = np.broadcast_to(np.arange(le), (len(tied), le)).copy()
                    avg_all = first_all + 1.0
                    first_all[tied_e] = first
                    avg_all[tied_e] = avg_e
                    fin_t = np.isfinite(e)
                    l1_t = np.empty((len(tied), le), dtype=l1.dtype)
                    np.put_along_axis(l1_t, o, first_all + 1, axis=1)
                    l1_t[~fin_t] = 0
                    l1[tied] = l1_t
                    rank_t = np.empty((len(tied), le))
                    np.put_along_axis(rank_t, o, avg_all, axis=1)
                # Rank of e: its position + 1 without ties (= l1), the average rank with ties.
                np.multiply(l1, inv[:, None], out=base)
                if rank_t is not None:
                    base[tied] = rank_t * inv[tied, None]
                base -= 0.5
                if not all_finite or (me == 0).any():
                    finite = l1 > 0
                    base[~finite] = 0.0
                self.cum_r = l1s
            else:
                e = self.e_rows(None)
                rank = row_ranks(e)
                finite = np.isfinite(e)
                base[...] = np.where(finite, rank * inv[:, None] - 0.5, 0.0)
            if self.need_f:
                self.fbuf[1 : c + 1] = True if finite is None else finite
            # 2 x the rank (0 where missing) of the firm-events the grank test takes back out.
            keep = sh.store_pos[rows]
            sel = np.flatnonzero(keep >= 0)
            if len(sel):
                if regular:
                    r2 = self.l1[sel].astype(sh.store.dtype) * 2
                    if rank_t is not None:
                        hit = np.isin(tied, sel)
                        at = np.searchsorted(sel, tied[hit])
                        r2[at] = np.where(self.l1[tied[hit]] > 0, rank_t[hit] * 2.0, 0.0)
                else:
                    r2 = np.where(finite[sel], rank[sel] * 2.0, 0.0).astype(sh.store.dtype)
                sh.store[keep[sel]] = r2
        return self

    def thresholds(self) -> None:
        """Every plan's x* of every window for the chunk's firm-events against their ``e``
        (``cvs``: the combined sorted values over sigma; ``cum_r``: the number of residuals up
        to each sorted place): the number of values of ``e`` at or below x*, the exact ties, and
        each window's U of the firm-event's own value (all windows at once)."""
        c, rows, cvs, cum_r = self.c, self.rows, self.cvs[: self.c], self.cum_r
        plans = self.owner.plans
        xs = self.xs = np.concatenate([p.x[:, rows] for p in plans], axis=0).T
        k_all = _count_le(cvs, xs)  # combined values (over sigma) <= x*
        flat = np.maximum(k_all - 1, 0) + self.offsets[:c] * self.lc
        probe = cvs.ravel().take(np.maximum(k_all - 1, 0) + self.offsets[:c] * cvs.shape[1])
        k_le = np.where(k_all > 0, cum_r.ravel().take(flat), 0).astype(np.intp)
        if (self.me == 0).any():
            k_le[self.me == 0] = 0
        # x* equal to the last value at or below it may be an exact tie with some e.
        maybe = (k_all > 0) & (probe == xs)
        k_lt = k_le
        tie = self.tie = np.zeros(xs.shape, dtype=bool)
        if maybe.any():
            k_lt = k_le.copy()
            ti, tj = np.nonzero(maybe)
            e = self.e_rows(ti)
            x = xs[ti, tj][:, None]
            below, equal = np.count_nonzero(e < x, axis=1), np.count_nonzero(e == x, axis=1)
            k_lt[ti, tj] = below
            k_le[ti, tj] = below + equal
            tie[ti, tj] = equal > 0
        self.any_tie = bool(tie.any())
        above = (self.me[:, None] - k_le) + 0.5 * (k_le - k_lt)  # values above x*, ties 1/2
        self.kk = np.ascontiguousarray(k_le.T, dtype=self.l1buf.dtype)  # (W, c)
        for p in plans:
            sl = self.col[p]
            if sl.stop > sl.start:
                ok = p.ok[:, rows].T
                u0 = np.where(ok, (self.me[:, None] - above[:, sl] + 1.0) * self.inv[:, None]
                              - 0.5, 0.0)
                p.u0[:, rows] = u0.T


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
    cols: slice  # event-axis columns of the window
    covered: np.ndarray  # (n,) the firm-event's event window covers the window
    memo: dict = field(default_factory=dict, repr=False)  # parts several tests share

    @property
    def single(self) -> bool:
        return self.start == self.end

    def shared(self, key: str, make: Callable[[], tuple]) -> tuple:
        """``make()``, once per window (e.g. the moments of ``x`` for the cross-sectional and
        the skewness-adjusted t)."""
        if key not in self.memo:
            self.memo[key] = make()
        return self.memo[key]


def _window(groups: _Groups, window: Window) -> _Window:
    s = groups.sample
    covered = groups.take((s.ev_lo <= window[0]) & (window[1] <= s.ev_hi))
    car, var, length = (groups.take(a) for a in s._car(window))
    first = window[0] - int(s.ev_days[0])
    cols = slice(first, first + window[1] - window[0] + 1)
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
    n, mean, sd, _ = w.shared("moments_x", lambda: _moments(groups, w.x))
    with np.errstate(invalid="ignore", divide="ignore"):
        t = mean / (sd / np.sqrt(n))
    return _result(t, _tp(t, n - 1), n, n - 1, [*_needs(n), (sd == 0, "zero cross-sectional sd")])


def _summed_daily_means(
    groups: _Groups, values: np.ndarray, w: _Window
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per group, over the window's days: the sum of the daily cross-sectional means of
    ``values`` (sample order, event axis) among the firm-events covering the window, the number
    of days with a value, and the firm-events with at least one value."""
    x = groups.take(values[:, w.cols])
    x = np.where(w.covered[:, None], x, np.nan)
    valid = np.isfinite(x)
    cnt = groups.sum(valid)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = groups.sum(np.where(valid, x, 0.0)) / cnt
    has = cnt > 0
    return np.where(has, mean, 0.0).sum(axis=1), has.sum(axis=1), groups.sum(valid.any(axis=1))


def time_series_t(groups: _Groups, w: _Window) -> TestResult:
    """Time-series t, the crude dependence adjustment (Brown & Warner 1980, 1985).

    ``AAR_t`` = mean AR of the firm-events with a value on day ``t``; the scale is the standard
    deviation of the group's mean estimation-window residual over the ``D`` estimation days
    (relative days) on which any firm-event has one:
    ``S = sqrt(sum_s (AAR_s - mean)^2 / (D - 1))``. Day: ``t = AAR_t / S``; window:
    ``t = sum_t AAR_t / (S sqrt(L))`` over the ``L`` window days with an AAR. Student t with
    ``D - 1`` df. Cross-correlation is in S, so this is robust to it."""
    s, days = groups.time_series_scale
    caar, length, n = _summed_daily_means(groups, groups.sample.ar, w)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = caar / (s * np.sqrt(length))
    reasons = [*_needs(n), (days < 2, "needs at least 2 estimation-window days")]
    return _result(t, _tp(t, days - 1), n, days - 1, reasons)


def _patell_parts(groups: _Groups, w: _Window) -> tuple[np.ndarray, ...]:
    return w.shared("patell", lambda: _patell_parts_of(groups, w))


def _patell_parts_of(groups: _Groups, w: _Window) -> tuple[np.ndarray, ...]:
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
    estimation-window residuals (:meth:`_GroupPlan._mean_correlation`). Standard normal."""
    z, n = _patell_parts(groups, w)
    rbar, reasons = _correlation_factor(groups, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        za = z / np.sqrt(1.0 + (n - 1) * rbar)
    return _result(za, normal_pvalue(za), n, None, [*_needs(n), *reasons])


def _bmp_parts(groups: _Groups, w: _Window) -> tuple[np.ndarray, ...]:
    n, mean, sd, _ = w.shared("moments_scar", lambda: _moments(groups, w.scar))
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
    ubar_sum, length, n = _summed_daily_means(groups, groups.corrado_u_ev, w)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = ubar_sum / (np.sqrt(length) * s)
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
    (only at the block's first element, else 0). The order of tied values among themselves does
    not matter (average ranks; tie sizes are summed per label), so any sort by (label, value)
    does."""
    if not len(values):
        return np.zeros(0), np.zeros(0)
    o = np.argsort(values)
    if label[0] != label[-1] or (len(label) > 1 and (label[1:] < label[:-1]).any()):
        small = label.min() >= 0 and label.max() < 2**16  # radix-sorted as uint16
        o = o[np.argsort((label.astype(np.uint16) if small else label)[o], kind="stable")]
    v, lab = values[o], label[o]
    new_label = np.r_[True, lab[1:] != lab[:-1]]
    new = new_label | np.r_[False, v[1:] != v[:-1]]
    first = np.flatnonzero(new)
    last = np.r_[first[1:] - 1, len(v) - 1]
    block = np.cumsum(new) - 1
    start = np.maximum.accumulate(np.where(new_label, np.arange(len(lab)), 0))
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
    ``t = Z sqrt((T - 2) / (T - 1 - Z^2))``, Student t with ``T - 2`` df.

    Computed in the residual pass (:func:`_prepare`): the estimation ranks once per firm-event and
    their group sums once; a window's x* moves each estimation rank up by 1 where ``e > x*`` (1/2
    where ``e == x*``), so a window only adds those moves (counted where a group's firm-events
    share one ``M_i``) and takes back the firm-events it leaves out."""
    window = (int(w.start), int(w.end))
    if window not in groups.grank_results:
        _prepare([groups], [window])
    return groups.grank_results[window]


def skewness_adjusted_t(groups: _Groups, w: _Window) -> TestResult:
    """Skewness-adjusted t (Hall 1992; Lyon, Barber & Tsai 1999, eq. 5; Johnson 1978).

    On the ARs (CARs) ``A``: ``S = mean / sd`` (``sd`` on ``N - 1``),
    ``g = sum (A - mean)^3 / (N sd^3)``, ``t = sqrt(N) (S + g S^2 / 3 + g / (6 N))``; Student t with
    ``N - 1`` df (the analytic version; Lyon et al. also bootstrap it)."""
    n, mean, sd, dev = w.shared("moments_x", lambda: _moments(groups, w.x))
    t = skewness_adjusted_statistic(n, mean, sd, groups.sum(dev * dev * dev))  # not pow()
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

#: Tests that need the residual pass (:func:`_prepare`).
_RESIDUAL_TESTS = {"time_series_t", "adjusted_patell", "adjusted_bmp", "corrado_rank", "grank"}


def _build_lazy_state(groupings: Sequence[_Groups], windows: Sequence[Window]) -> None:
    """Build the lazily computed, shared state (group indicators, per-row counts, CARs) before
    threads read it."""
    for groups in groupings:
        if groups.G > 1:
            groups._indicator  # noqa: B018
        groups.sample.row_stats  # noqa: B018
        for window in windows:
            groups.sample._car(window)


def _run_tests(
    groupings: Sequence[_Groups], windows: Sequence[Window], tests: Sequence[str]
) -> list[dict[tuple[str, Window], TestResult]]:
    """``tests`` on every window, per grouping (windows in threads, :mod:`eventstudy.parallel`)."""

    def run(job: tuple[int, Window]) -> dict[str, TestResult]:
        groups = groupings[job[0]]
        w = _window(groups, job[1])
        return {name: TEST_FUNCTIONS[name](groups, w) for name in tests}

    jobs = [(k, window) for k in range(len(groupings)) for window in windows]
    n = groupings[0].sample.n
    if parallel.threaded(n, len(jobs)):
        _build_lazy_state(groupings, windows)  # before the threads share it
    done = parallel.ordered_map(run, jobs, n)
    out: list[dict[tuple[str, Window], TestResult]] = [{} for _ in groupings]
    for (k, window), results in zip(jobs, done, strict=True):
        for name in tests:
            out[k][(name, window)] = results[name]
    return out


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
    if _RESIDUAL_TESTS.intersection(tests):
        _prepare([groups], windows if "grank" in tests else [])
    return groups.ids, _run_tests([groups], windows, tests)[0]


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
    n_events = len(events)
    group_of = np.full(n_events + 1, -1)  # row of each event (then "all") in the result arrays
    res: dict[tuple[str, Window], TestResult] = {}
    res_all: dict[tuple[str, Window], TestResult] = {}
    if sample.n:
        by_event = _Groups(np.asarray(labels), sample)
        pooled_sample = _Groups(np.zeros(sample.n, dtype=int), sample)
        _prepare([by_event, pooled_sample], pooled)
        res, res_all = _run_tests([by_event, pooled_sample], pooled, TESTS)
        group_of[np.asarray(by_event.ids, dtype=int)] = np.arange(by_event.G)
        group_of[n_events] = 0

    # Output rows: each event's windows in its own order, then "all" over the pooled windows;
    # within a window the tests in TESTS order.
    index = {w: j for j, w in enumerate(pooled)}
    who = np.repeat(np.arange(n_events + 1), [len(ws) for ws in per_event] + [len(pooled)])
    win = np.array([index[w] for ws in per_event for w in ws] + list(range(len(pooled))), dtype=int)
    if not len(win):
        return pd.DataFrame(columns=COLUMNS)
    n_tests = len(TESTS)
    who = np.repeat(who, n_tests)
    win = np.repeat(win, n_tests)
    test = np.tile(np.arange(n_tests), len(who) // n_tests)
    k = group_of[who]
    column = np.where(who == n_events, -1, k)  # the pooled result is the last column
    found = k >= 0

    def values(attr: str, fill: object, dtype: type) -> np.ndarray:
        out = np.full(len(who), fill, dtype=dtype)
        if res and res_all:
            G = len(getattr(next(iter(res.values())), attr))
            table = np.empty((len(pooled), n_tests, G + 1), dtype=dtype)
            for (name, window), r in res.items():
                table[index[window], TESTS.index(name), :G] = getattr(r, attr)
            for (name, window), r in res_all.items():
                table[index[window], TESTS.index(name), G] = getattr(r, attr)[0]
            out[found] = table[win[found], test[found], column[found]]
        return out

    names = np.array([e.name for e in events] + ["all"], dtype=object)
    window_arr = np.array(pooled, dtype=int).reshape(-1, 2)
    frame = pd.DataFrame({
        "event": names[who],
        "test": np.array(TESTS, dtype=object)[test],
        "start": window_arr[win, 0],
        "end": window_arr[win, 1],
        "statistic": values("statistic", np.nan, float),
        "p_value": values("p_value", np.nan, float),
        "n": values("n", 0, int),
        "df": values("df", np.nan, float),
        "note": values("note", "no fitted firm-events", object),
    })
    return frame.astype({"start": int, "end": int, "n": int, "statistic": float,
                         "p_value": float, "df": float, "note": str})[COLUMNS]


test_battery.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
