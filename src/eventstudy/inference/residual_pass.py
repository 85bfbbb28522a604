"""The residual pass: one pass over chunks of firm-events that reads the estimation residuals.

What the tests need of the (firm-events x estimation days) residuals (the time-series scale, the
mean residual correlation, the Corrado and generalised rank tests) is computed in one pass over
chunks of :data:`~eventstudy.inference.sample.CHUNK_ROWS` firm-events (:class:`_RowPass`), for
every grouping and window at once. Each chunk is prepared on its own (:meth:`_Chunk.prepare`: its
residuals read from the fits, sorted once per firm-event, one argsort of the residuals and event
ARs giving Corrado's ranks and, through the residuals' order, the ranks of ``e = resid / sigma``
and where each window's x* falls among them) and then handed to every grouping's plan
(:class:`_Plan`, implemented by :class:`eventstudy.inference.engine._GroupPlan`), which adds it to
its running per-group, per-day sums. Per firm-event outputs that do not depend on the grouping go
to :class:`_Shared`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from eventstudy import parallel
from eventstudy.inference import sample as _sample
from eventstudy.inference.sample import FirmEventSample, Window, _ties, _uint_for, row_ranks


class _Plan(Protocol):
    """What the pass reads and calls of one grouping's plan (sample order, ``W`` windows)."""

    windows: list[Window]  # the windows of the generalised rank test
    x: np.ndarray  # (W, n) x* per window, +inf where undefined
    ok: np.ndarray  # (W, n) x* defined
    bcnt: np.ndarray | None  # not None: the plan wants each firm-event's finite ranks (fbuf)

    def chunk_part(self, ch: _Chunk) -> object:
        """What a prepared chunk adds that does not depend on the running sums (called in the
        thread that prepared it; kept in ``ch.parts``)."""

    def add_chunk(self, ch: _Chunk) -> None:
        """Add a prepared chunk to the running sums (chunks come in pass order)."""


class _Shared:
    """Per firm-event outputs of the pass that do not depend on the grouping (sample order)."""

    def __init__(self, sample: FirmEventSample) -> None:
        n = sample.n
        self.u_ev = np.full((n, len(sample.ev_days)), np.nan)  # Corrado U on the event days
        # Corrado & Zivney's sign of (value - median) on the event days (NaN where missing).
        self.sign_ev = np.full((n, len(sample.ev_days)), np.nan)
        # Variance of the estimation residuals about their mean, on M - 1 (Brown & Warner 1980).
        self.resid_var = np.full(n, np.nan)
        self.use = np.zeros(n, dtype=bool)  # enters the mean correlation
        self.store_pos = np.full(n, -1, dtype=np.intp)
        self.store: np.ndarray = np.zeros(
            (0, len(sample.est_days)), dtype=_uint_for(2 * len(sample.est_days))
        )

    def keep_ranks(self, need: np.ndarray) -> None:
        """Keep 2 x the rank of ``e`` (0 where missing) of the firm-events ``need``: the
        generalised rank test takes their estimation ranks back out of its sums."""
        idx = np.flatnonzero(need)
        self.store_pos[idx] = np.arange(len(idx))
        self.store = np.zeros((len(idx), self.store.shape[1]), dtype=self.store.dtype)




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
    (``add_chunk`` of each plan, :class:`_Plan`). With threads
    (:func:`eventstudy.parallel.ordered_stream`) the next chunks are prepared in other threads
    while the current one is added, always in pass order; the sums, and so the results, are the
    same."""

    def __init__(
        self,
        sample: FirmEventSample,
        plans: Sequence[_Plan],
        shared: _Shared,
        order: np.ndarray | None,
    ) -> None:
        self.sample, self.plans, self.shared, self.order = sample, plans, shared, order

    def run(self) -> None:
        n = self.sample.n
        size = min(_sample.CHUNK_ROWS, max(n, 1))
        starts = list(range(0, n, size))
        cols, at = {}, 0
        for p in self.plans:
            cols[p] = slice(at, at + len(p.windows))
            at += len(p.windows)
        # The next chunks are prepared in THREADS threads while the current one is added (in
        # order, in this thread): a workspace for each chunk being prepared or waiting
        # (:func:`~eventstudy.parallel.ordered_stream` holds at most THREADS of them) and one for
        # the chunk being added. Preparing a chunk costs more than adding it, so one thread
        # preparing would leave the other core waiting for it.
        threaded = parallel.threaded(n, len(starts))
        spaces = [_Chunk(self, size, cols) for _ in range(parallel.THREADS + 1 if threaded else 1)]
        jobs = [(spaces[k % len(spaces)], a, min(n, a + size)) for k, a in enumerate(starts)]
        for chunk in parallel.ordered_stream(lambda job: job[0].prepare(job[1], job[2]), jobs, n):
            self._add(chunk)

    def _add(self, ch: _Chunk) -> None:
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
        self.gbuf = np.empty((size + 1, lc))
        self.l1buf: np.ndarray = np.empty((size, lc), dtype=_uint_for(lc))
        self.ibuf = np.empty((size, le), dtype=np.int16 if size < 2**15 else np.int32)
        self.cvs = np.full((size, 1 << lc.bit_length()), np.nan)  # e, NaN-padded (_count_le)
        self.offsets = np.arange(size)[:, None]
        self.pos_c = np.arange(lc)
        self.u0: dict[_Plan, np.ndarray] = {}  # set by thresholds()
        self.parts: dict[_Plan, object] = {}  # each plan's chunk_part of the chunk
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

            # Corrado & Zivney (1992): G = sign(value - median of the firm-event's combined
            # values), the median from the sorted values (the mean of the two middle ones).
            at = np.arange(c)
            med = (cv[at, np.maximum(t - 1, 0) // 2] + cv[at, t // 2]) / 2.0
            g = self.gbuf[1 : c + 1]
            # Not in place: numpy's sign in place takes its slow loop (7x on a chunk).
            np.sign(comb - med[:, None], out=g)
            sh.sign_ev[rows] = g[:, le:]
            if not all_finite:
                g[~fin] = 0.0

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
            squares = (centred**2).sum(axis=1)
            norm = np.sqrt(squares)
            sh.resid_var[rows] = np.where(
                m_resid >= 2, squares / np.maximum(m_resid - 1, 1), np.nan
            )
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
                # Counted along the whole chunk, then from each row's start: numpy's running
                # sum of a flat boolean array into int32 is 2.5x its running sum along rows.
                is_resid = order < le
                l1s = np.cumsum(is_resid.ravel(), dtype=np.int32).reshape(c, lc)
                l1s -= l1s[:, :1] - is_resid[:, :1]
                if not all_finite:
                    l1s[np.isnan(cv)] = 0  # missing residuals (and ARs) sort last
                l1s[me == 0] = 0
                l1w.ravel()[flat] = l1s
                l1 = self.l1 = l1w[:, :le]
                # Rows where two values of e may be equal: ranks the direct way.
                assert maybe_tied is not None  # set above for every regular chunk
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
                    assert finite is not None and rank is not None  # set for irregular chunks
                    r2 = np.where(finite[sel], rank[sel] * 2.0, 0.0).astype(sh.store.dtype)
                sh.store[keep[sel]] = r2
        # What depends on this chunk alone is done here, in the preparing thread; the thread
        # adding the chunks in order only adds (the pass's critical path).
        if regular and self.windows:
            self.thresholds()
        self.parts = {p: p.chunk_part(self) for p in owner.plans}
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
        # Each plan's U of the window's own value (0 where x* is undefined), (c, W): the plan
        # adds it to its group sums (``add_chunk``).
        self.u0.clear()
        for p in plans:
            sl = self.col[p]
            if sl.stop > sl.start:
                ok = p.ok[:, rows].T
                self.u0[p] = np.where(
                    ok, (self.me[:, None] - above[:, sl] + 1.0) * self.inv[:, None] - 0.5, 0.0
                )


