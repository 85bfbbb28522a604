"""The grouped engine the tests share: firm-events in groups, per-group sums, the residual-based
quantities of each group, the values of a window, and the assembly of a test's result.

Notation (one firm-event ``i`` of a group of ``N``), used by every test
(:mod:`~eventstudy.inference.parametric`, :mod:`~eventstudy.inference.nonparametric`):

* ``AR_it`` abnormal return on event-window day ``t``; ``sigma_i`` the residual standard deviation
  on ``df_i = M_i - p`` degrees of freedom (``M_i`` non-missing estimation returns, ``p`` estimated
  parameters; ``M_i - 1`` for the market-adjusted model); ``h_it`` the prediction-error leverage.
* ``SAR_it = AR_it / (sigma_i sqrt(1 + h_it))`` (prediction-error standardised, Patell 1976), or
  ``AR_it`` over the square root of the fit's own AR variance where the model has one (GARCH).
* ``CAR_i`` over ``[a, b]`` = sum of the ``L_i`` non-missing ARs; ``SCAR_i = CAR_i / sd(CAR_i)``
  with ``Var(CAR_i) = sigma_i^2 (L + L^2/M + s'S^-1 s)`` (prediction error, CLM 1997 eq. 4.4.14).
* ``e_is`` estimation-window residual on estimation day ``s`` (in-sample).

Pooling: firm-events are aligned by *relative* day, on two axes: the union of the event windows and
the union of the estimation windows (:class:`~eventstudy.inference.sample.FirmEventSample`). A
firm-event enters a window's tests only when its own event window covers the window; it contributes
to the daily cross-sectional series (time-series t, rank tests) only on the days where it has a
value. Every firm-event keeps its own ``M_i``, ``df_i``, ``sigma_i`` and prediction-error terms, so
firms with different estimation lengths pool without any truncation. Missing ARs are left out and
``n`` counts exactly the firm-events used.

Everything is computed for all groups at once (:class:`_Groups`); Python loops run only over
windows, tests and chunks of firm-events. What needs the (firm-events x estimation days) residuals
(the time-series scale, the mean residual correlation, the Corrado and generalised rank tests) is
computed by :func:`_prepare` in one pass over chunks of firm-events
(:mod:`~eventstudy.inference.residual_pass`), for every grouping (the events and the pooled sample)
and every window at once: each chunk's contributions are added to running per-group, per-day sums
(:class:`_GroupPlan`). Memory beyond the fits and the per-firm-event vectors is therefore bounded by
the chunk size, whatever the number of firm-events. Every sum is taken one firm-event after the
other in the order a group-indicator product over the whole array takes it, so the results do not
depend on the chunking or on the threads (:mod:`eventstudy.parallel`; bit for bit, tested against
the whole-array formulation in tests/test_significance.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeAlias

import numpy as np
from scipy import sparse

from eventstudy import parallel
from eventstudy.inference import sample as _sample
from eventstudy.inference.residual_pass import _Chunk, _RowPass, _Shared
from eventstudy.inference.sample import FirmEventSample, Window
from eventstudy.inference.stats import t_pvalue

#: Fewest firm-events a test needs (3 for the skewness-adjusted t).
MIN_FIRMS = 2
#: Pairwise correlations with missing days are computed exactly (an N x N matrix) up to this N;
#: larger groups with ragged data use the O(N T) identity on zero-filled residuals (docs/tests.md).
EXACT_CORRELATION_MAX = 1500


# ----------------------------------------------------------------------------- groups
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

    def gather(self, a: np.ndarray) -> np.ndarray:
        """``a`` (firm-events on axis 0) in group order, to be read only: ``a`` itself when the
        groups are in sample order (no copy), else a gathered copy."""
        return a if self.in_order else a[self.order]

    @cached_property
    def _indicator(self) -> sparse.csr_matrix:
        n = len(self.label)
        return sparse.csr_matrix((np.ones(n), (self.label, np.arange(n))), shape=(self.G, n))

    def sum(self, a: np.ndarray) -> np.ndarray:
        """Sum over each group's firm-events (axis 0)."""
        a = np.asarray(a, dtype=float)
        if a.ndim == 1:
            # The indicator product adds each group's values one after the other from 0, as
            # np.bincount(label, weights=a) does (the same numbers), 5x faster.
            return np.asarray(self._indicator @ a)
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
    def sign_scale(self) -> tuple[np.ndarray, np.ndarray]:
        """Corrado & Zivney's S(G) over all combined-window days, and the number of days."""
        return self._stat("sign_scale")

    @property
    def sign_ev(self) -> np.ndarray:
        """Corrado & Zivney's ``G = sign(value - median)`` of every firm-event on the event
        axis (sample order, NaN if missing)."""
        return self._stat("sign_ev")

    @property
    def resid_var(self) -> np.ndarray:
        """Each firm-event's variance of its estimation residuals about their mean, on
        ``M_i - 1`` (sample order)."""
        return self._stat("resid_var")

    @property
    def mean_correlation(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean pairwise correlation of estimation-window residuals and the firm-events used."""
        return self._stat("mean_correlation")


def _build_lazy_state(groupings: Sequence[_Groups], windows: Sequence[Window]) -> None:
    """Build the lazily computed, shared state (group indicators, per-row counts, CARs) before
    threads read it."""
    for groups in groupings:
        groups._indicator  # noqa: B018
        groups.sample.row_stats  # noqa: B018
    # The CARs of the windows in threads: each window computes its own entry of the sample's
    # cache, from the fits alone.
    samples = list({id(g.sample): g.sample for g in groupings}.values())
    todo = [(s, w) for s in samples for w in dict.fromkeys((int(a), int(b)) for a, b in windows)]

    def car(job: tuple[FirmEventSample, Window]) -> None:
        job[0]._car(job[1])

    parallel.for_each(car, todo, sum(s.n for s in samples) * len(todo))


# ----------------------------------------------------------------------------- the residual pass
def _prepare(groupings: Sequence[_Groups], windows: Sequence[Window]) -> None:
    """Fill in every residual-based quantity of ``groupings`` (groupings of the same sample) and
    the generalised rank test of each of ``windows``.

    One pass over chunks of firm-events in sample order serves every grouping whose groups are
    contiguous blocks of the sample (the events of
    :func:`~eventstudy.inference.sample.sample_from_fits`, the pooled sample); any other grouping
    gets its own pass in its sorted order. Each chunk's residuals are gathered, sorted once per
    firm-event and reduced into per-group running sums (:class:`_RowPass`)."""
    sample = groupings[0].sample
    held = _sample.held_residuals(sample)
    if held is not None:  # the residuals are on the Dask engine's workers: the pass runs there
        held.prepare(groupings, windows)
        return
    shared = _Shared(sample)
    if parallel.threaded(sample.n, len(groupings)):
        _build_lazy_state(groupings, windows)  # before the threads share it
    plans = parallel.ordered_map(lambda g: _GroupPlan(g, windows), groupings, sample.n)
    _run_pass(sample, plans, shared)
    parallel.for_each(lambda p: p.finish(shared), plans, sample.n)  # each writes its groups'


def _run_pass(sample: FirmEventSample, plans: Sequence[_GroupPlan], shared: _Shared) -> None:
    """The residual pass of ``plans`` over ``sample``: their running sums and ``shared``'s per
    firm-event outputs (what :func:`_prepare` does between making the plans and finishing them;
    also the per-partition half of :mod:`eventstudy.inference.partitioned`)."""
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


@dataclass
class _ChunkPart:
    """A chunk's runs of one grouping's groups (:meth:`_GroupPlan.chunk_part`): the rows
    ``r_lo .. r_hi`` of the plan's runs, their groups ``gr``, where each ends in the chunk and its
    length, whether the first continues from the last chunk, the indicator of the buffers' rows
    (row 0 the carried sum; None for one group), and when counting each window's counts and the
    (window, group) pairs with an exact tie."""

    r_lo: int
    r_hi: int
    gr: np.ndarray
    ends: np.ndarray
    lens: np.ndarray
    carry: bool
    indptr: np.ndarray
    ind: sparse.csr_matrix | None
    counts: list[np.ndarray] | None = None
    dirty: list[tuple[int, int]] = field(default_factory=list)


class _GroupPlan:
    """One grouping's inputs to the pass (the generalised-rank thresholds of every window), its
    running sums, and what is made of them at the end (:meth:`finish`)."""

    def __init__(
        self,
        groups: _Groups,
        windows: Sequence[Window],
        given: tuple[np.ndarray, np.ndarray] | None = None,
        counting: bool | None = None,
    ) -> None:
        """``given``: the thresholds ``(x, ok)`` (sample order), computed for the whole sample
        (a partition's plan: :mod:`eventstudy.inference.partitioned`; x* needs its group's sd of
        SCAR over every partition); ``counting=False``: sum the generalised-rank window sums
        instead of counting them."""
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
            if given is not None:
                self.x[j], self.ok[j] = given[0][j], given[1][j]
                continue
            car, var, _ = s._car(window)
            with np.errstate(invalid="ignore", divide="ignore"):
                scar = groups.gather(car) / np.sqrt(groups.gather(var))  # as in _window
            scar = np.where(self.m >= 1, scar, np.nan)
            count, _, sd, _ = _moments(groups, scar)
            with np.errstate(invalid="ignore", divide="ignore"):
                xstar = scar / groups.per_firm(sd)
            ok = np.isfinite(xstar)
            at = slice(None) if groups.in_order else groups.order  # a scatter costs more
            self.x[j, at] = np.where(ok, xstar, np.inf)
            self.ok[j, at] = ok
            self.parts.append((count, sd, ok))
        # Firm-events in the base sums but not in some window's test.
        self.need = (~self.ok).any(axis=0) & (stats.m >= 1)
        G = groups.G
        self.ts = np.zeros((G, le))  # sum of residuals
        self.z = np.zeros((G, le))  # sum of centred, unit-norm residuals
        self.base = np.zeros((G, le))  # sum of the rank part of U (generalised rank)
        self.u = np.zeros((G, lc))  # sum of Corrado's U
        self.g = np.zeros((G, lc))  # sum of Corrado & Zivney's signs
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
        ) and counting is not False
        self.group_inv = lo
        self.v = np.zeros((nw, G, le)) if not self.counting else None
        self.vcount = np.zeros((nw, G, le), dtype=np.int32) if self.counting else None
        self.dirty: set[tuple[int, int]] = set()
        # Per group and window, the sum of the U of the window's own value over the group's
        # firm-events, added one after the other in group order (as a bincount over the whole
        # array adds them), chunk by chunk.
        self.u0_sum = np.zeros((G, nw))
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

    def chunk_part(self, ch: _Chunk) -> _ChunkPart:
        """What chunk ``ch`` adds that does not depend on the running sums: its runs of groups,
        their indicator and, when counting, each window's counts of ``e > x*`` per group and day.
        Called in the thread that prepares the chunk (:meth:`_Chunk.prepare`), so that the thread
        adding the chunks in order (:meth:`add_chunk`, the pass's critical path) only adds."""
        a, b, c = ch.a, ch.b, ch.c
        r_lo = int(np.searchsorted(self.run_start, a, side="right")) - 1
        r_hi = int(np.searchsorted(self.run_start, b, side="left"))
        gr = self.run_group[r_lo:r_hi]
        ends = np.minimum(self.run_end[r_lo:r_hi], b) - a
        lens = np.diff(np.r_[0, ends])
        carry = bool(self.run_start[r_lo] < a)
        indptr = np.r_[0, 1 + ends]
        cols = np.arange(c + 1)
        ind = None
        if len(gr) > 1:
            ind = sparse.csr_matrix((np.ones(c + 1), cols, indptr), shape=(len(gr), c + 1))
        part = _ChunkPart(r_lo, r_hi, gr, ends, lens, carry, indptr, ind)
        if not (self.windows and self.counting):
            return part
        # Counts are integers: their order of addition does not matter.
        ones = sparse.csr_matrix(
            (np.ones(c, dtype=ch.ibuf.dtype), cols[:c], np.r_[0, ends]), shape=(len(gr), c)
        )
        mask = ch.ibuf[:c]
        tie_group = np.repeat(gr, lens) if ch.any_tie else None
        part.counts = []
        for j in range(len(self.windows)):
            k = ch.col[self].start + j
            np.greater(ch.l1, ch.kk[k][:, None], out=mask)
            part.counts.append(ones @ mask)
            if tie_group is not None:
                part.dirty.extend((j, int(g)) for g in np.unique(tie_group[ch.tie[:, k]]))
        return part

    def add_chunk(self, ch: _Chunk) -> None:
        """Add chunk ``ch`` to the running sums, in pass order (see :class:`_RowPass`)."""
        a, c = ch.a, ch.c
        part = ch.parts[self]
        assert isinstance(part, _ChunkPart)  # made by chunk_part in the preparing thread
        r_lo, r_hi, gr, lens, carry = part.r_lo, part.r_hi, part.gr, part.lens, part.carry
        # Row 0 of every buffer carries the running sum of the group continued from the last
        # chunk, so each group's sum is one sequential sum over its firm-events (as the
        # group-indicator product over the whole array took it), whatever the chunking.
        indptr = part.indptr
        shape = (len(gr), c + 1)
        cols = np.arange(c + 1)
        single = len(gr) == 1
        ind = part.ind

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
        add(self.g, ch.gbuf)
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
        glocal = np.repeat(gr, lens)
        if ch.regular:
            np.add.at(self.u0_sum, glocal, ch.u0[self])  # one firm-event after the other
        if self.counting:
            vcount = self.vcount
            assert vcount is not None and part.counts is not None  # allocated when counting
            for j, counts in enumerate(part.counts):
                vcount[j, gr] += counts
            self.dirty.update(part.dirty)
            return
        v = self.v
        assert v is not None  # allocated when not counting
        weights = sparse.csr_matrix((np.r_[1.0, ch.inv], cols, indptr), shape=shape)
        vbuf = ch.vbuf
        vb = vbuf[1 : c + 1]
        for j in range(len(self.windows)):
            if ch.regular:
                k = ch.col[self].start + j
                # e > x* <=> the rank position of e (1-based, 0 if missing) exceeds the number
                # of values <= x*; the rare exact ties e == x* take the direct comparison.
                np.greater(ch.l1, ch.kk[k][:, None], out=vb)
                if ch.any_tie:
                    t_rows = np.flatnonzero(ch.tie[:, k])
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
                u0 = np.where(ok, (ch.me - above + 1.0) * ch.inv - 0.5, 0.0)
                np.add.at(self.u0_sum[:, j], glocal, u0)  # one firm-event after the other
                vb[...] = shift
            vbuf[0] = v[j, gr[0]] if carry else 0.0
            v[j, gr] = weights @ vbuf[: c + 1]

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
            # Corrado & Zivney (1992): S(G)^2 = (1/T) sum_t (sum_i G_it / sqrt(N_t))^2.
            sign_terms = np.where(has, self.g**2 / np.where(has, self.cnt, 1.0), 0.0)
            sign_scale = np.sqrt(sign_terms.sum(axis=1) / cdays)

        groups._residual_stats = {
            "time_series_scale": time_series,
            "corrado_scale": (scale, cdays),
            "corrado_u_ev": shared.u_ev,
            "sign_scale": (sign_scale, cdays),
            "sign_ev": shared.sign_ev,
            "resid_var": shared.resid_var,
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
        for k in range(0, len(rows), _sample.CHUNK_ROWS):
            r = rows[k : k + _sample.CHUNK_ROWS]
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
            for k in range(0, len(out), _sample.CHUNK_ROWS):
                piece = out[k : k + _sample.CHUNK_ROWS]
                rank2 = shared.store[shared.store_pos[groups.order[piece]]]
                inv = 1.0 / (m[piece] + 2.0)
                finite = rank2 > 0
                base = np.where(finite, (rank2 / 2.0) * inv[:, None] - 0.5, 0.0)
                np.subtract.at(u_sum, groups.label[piece], base)
                np.subtract.at(cnt, groups.label[piece], finite.astype(float))
        u_sum = u_sum + self._window_sums(j)
        n0 = groups.sum(ok)
        with np.errstate(invalid="ignore", divide="ignore"):
            ubar0 = self.u0_sum[:, j] / n0
            has = cnt > 0.5
            big_t = has.sum(axis=1) + 1.0
            day_terms = np.where(has, u_sum**2 / (np.where(has, cnt, 1.0) * n0[:, None]), 0.0)
            s2 = (day_terms.sum(axis=1) + ubar0**2) / big_t
            z = ubar0 / np.sqrt(s2)
            t = z * np.sqrt((big_t - 2.0) / (big_t - 1.0 - z**2))
        reasons: list[_Reason] = [*_needs(n), (sd == 0, "zero cross-sectional sd of SCAR")]
        return _result(t, _tp(t, big_t - 2), n, big_t - 2, reasons)


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


# ----------------------------------------------------------------------------- windows
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
    # Parts the groupings of one sample in sample order share (the same values in the same
    # order), set by the battery for the window's groupings together (:meth:`across_groupings`).
    across: dict = field(default_factory=dict, repr=False)

    @property
    def single(self) -> bool:
        return self.start == self.end

    def shared(self, key: str, make: Callable[[], tuple]) -> tuple:
        """``make()``, once per window (e.g. the moments of ``x`` for the cross-sectional and
        the skewness-adjusted t)."""
        if key not in self.memo:
            self.memo[key] = make()
        return self.memo[key]

    def across_groupings(self, groups: _Groups, key: str, make: Callable[[], Any]) -> Any:
        """``make()``, once for every grouping of the window in sample order (``groups.in_order``:
        its per-firm-event arrays are the sample's, so what depends on them alone is the same);
        other groupings make their own."""
        if not groups.in_order:
            return make()
        if key not in self.across:
            self.across[key] = make()
        return self.across[key]


def _window(groups: _Groups, window: Window) -> _Window:
    s = groups.sample
    covered = groups.take((s.ev_lo <= window[0]) & (window[1] <= s.ev_hi))
    car, var, length = (groups.take(a) for a in s._car(window))
    first = window[0] - int(s.ev_days[0])
    cols = slice(first, first + window[1] - window[0] + 1)
    sar = groups.gather(s.sar[:, cols])
    sar = np.where(covered[:, None], sar, np.nan)
    valid = np.isfinite(sar)
    with np.errstate(invalid="ignore", divide="ignore"):
        scar = car / np.sqrt(var)
        csar = np.where(valid.any(axis=1), np.where(valid, sar, 0.0).sum(axis=1), np.nan)
    return _Window(window[0], window[1], car, scar, csar, length, cols, covered)


def _daily(
    groups: _Groups, values: np.ndarray, w: _Window
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The window's days of ``values`` (sample order, event axis) among the firm-events covering
    the window, in group order with NaN where missing, whether each has a value, and per group
    the firm-events with at least one value."""
    x = groups.gather(values[:, w.cols])
    x = np.where(w.covered[:, None], x, np.nan)
    valid = np.isfinite(x)
    return x, valid, groups.sum(valid.any(axis=1))


@dataclass(frozen=True)
class _DailyMeans:
    """The window's days of some values (:func:`_daily`) and, per group and day, how many
    firm-events have one (``cnt``) and their mean (NaN on a day without any)."""

    x: np.ndarray
    valid: np.ndarray
    n: np.ndarray
    cnt: np.ndarray
    mean: np.ndarray


def _daily_means(groups: _Groups, values: np.ndarray, w: _Window) -> _DailyMeans:
    return _means_of(groups, *_daily(groups, values, w))


def _means_of(
    groups: _Groups, x: np.ndarray, valid: np.ndarray, n: np.ndarray | None = None
) -> _DailyMeans:
    """:class:`_DailyMeans` of the window's days ``x`` (group order) where ``valid``; ``n``,
    the firm-events with a value per group, when known."""
    cnt = groups.sum(valid)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = groups.sum(np.where(valid, x, 0.0)) / cnt
    n = groups.sum(np.asarray(valid.any(axis=1))) if n is None else n
    return _DailyMeans(x, valid, n, cnt, mean)


def _daily_ar(groups: _Groups, w: _Window) -> _DailyMeans:
    """:func:`_daily_means` of the ARs, made once per window for the tests that read them
    (the time-series t, Brown & Warner 1980, Lamb)."""
    return w.shared("daily_ar", lambda: (_daily_means(groups, groups.sample.ar, w),))[0]


def _summed_daily_means(
    groups: _Groups, values: np.ndarray | _DailyMeans, w: _Window
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per group, over the window's days: the sum of the daily cross-sectional means of
    ``values`` (sample order, event axis; or their :class:`_DailyMeans`) among the firm-events
    covering the window, the number of days with a value, and the firm-events with at least one
    value."""
    d = values if isinstance(values, _DailyMeans) else _daily_means(groups, values, w)
    has = d.cnt > 0
    return np.where(has, d.mean, 0.0).sum(axis=1), has.sum(axis=1), d.n


# ----------------------------------------------------------------------------- results
#: Why a group's statistic is blanked: a condition per group and its note, given as text or made
#: from the group's ``n``.
_Reason: TypeAlias = tuple[np.ndarray, Callable[[Any], str] | str]


def _needs(n: np.ndarray, minimum: int = MIN_FIRMS) -> list[_Reason]:
    return [(n < minimum, lambda k: f"needs at least {minimum} firm-events (has {int(k)})")]


def _result(
    stat: np.ndarray,
    p: np.ndarray,
    n: np.ndarray,
    df: np.ndarray | None,
    reasons: Sequence[_Reason],
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
