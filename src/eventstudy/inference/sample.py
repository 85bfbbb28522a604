"""The firm-event sample the test battery works on: fitted firm-events on common relative-day axes.

:class:`FirmEventSample` stacks the firm-events of one or more fits
(:class:`~eventstudy.estimation.kernel.BatchFit`) on the union of their event windows and the union
of their estimation windows (relative days). It keeps the fits themselves, so that CARs and their
prediction-error variances come from the fits and the estimation residuals are read chunk by chunk
(:meth:`FirmEventSample.resid_block`, a view where possible) instead of being copied whole. Per
firm-event counts over the residuals (:class:`_RowStats`) and the row ranks the rank tests share
(:func:`row_ranks`, :func:`_ties`) are here too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, cast

import numpy as np

from eventstudy import parallel

if TYPE_CHECKING:
    from eventstudy.estimation.kernel import BatchFit

Window = tuple[int, int]

#: Firm-events per chunk wherever the residuals are read (the residual pass of
#: :mod:`eventstudy.inference.engine` included): a chunk's temporaries (a few arrays of
#: chunk x estimation days) stay in cache and are re-used, so memory does not grow with N. Read at
#: each use (tests vary it: results do not depend on it).
CHUNK_ROWS = 1024


def row_counts(mask: np.ndarray) -> np.ndarray:
    """``np.count_nonzero(mask, axis=1)`` of a 2-D boolean array: its bytes summed along each
    row into the smallest integer that holds the row's width (about three times faster than
    ``count_nonzero``, which sums into a 64-bit integer per value)."""
    wide = mask.shape[1] >= 2**16
    counts = np.add.reduce(mask.view(np.uint8), axis=1, dtype=np.int64 if wide else np.uint16)
    return counts.astype(np.intp, copy=False)


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
    h: np.ndarray  # (n, Lv) prediction-error leverage h of the AR (Lamb's test)
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
        if len(fits) == 1 and _every_row(fits[0][0].ar, fits[0][1]):
            # One fit, every firm-event of it, in order: its ARs and leverages as they are
            # (read only; 16 bytes a firm-event-day not copied).
            return cls._whole(fits[0][0], est_days, ev_days)
        ar = np.full((n, len(ev_days)), np.nan)
        sar = np.full_like(ar, np.nan)
        lev = np.full_like(ar, np.nan)
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
            lev[here, sl_ev] = f.h[rows]
            sigma[here] = np.sqrt(f.sigma2[rows])
            df[here] = f.df[rows]
            lo[here], hi[here] = f.event_window
            parts.append((f, rows, here))
        return cls(est_days, ev_days, ar, sar, lev, sigma, df, lo, hi, parts)

    @classmethod
    def _whole(cls, f: BatchFit, est_days: np.ndarray, ev_days: np.ndarray) -> FirmEventSample:
        """:meth:`from_fits` of every firm-event of one fit, in order (the same numbers)."""
        n = len(f.ar)
        if hasattr(f, "standardized_ar"):  # kept by the fit (the AR frame's ar_t)
            sar = f.standardized_ar()
        else:
            var = f.ar_variance() if hasattr(f, "ar_variance") else f.sigma2[:, None] * (1 + f.h)
            with np.errstate(invalid="ignore", divide="ignore"):
                sar = f.ar / np.sqrt(var)
        rows = np.arange(n)
        return cls(
            est_days, ev_days, np.asarray(f.ar, dtype=float), sar, np.asarray(f.h, dtype=float),
            np.sqrt(f.sigma2), np.asarray(f.df, dtype=float),
            np.full(n, f.event_window[0]), np.full(n, f.event_window[1]), [(f, rows, rows)],
        )  # fmt: skip

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
            # A stored array (not a Residuals, which computes the rows read) can lend a view.
            view = (
                contiguous and s0 == 0 and width == le and isinstance(f.resid, np.ndarray)
                and f.resid.dtype == np.float64 and f.resid.flags.c_contiguous
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
            covering = [
                (f, rows, here)
                for f, rows, here in self.parts
                if f.event_window[0] <= window[0] and window[1] <= f.event_window[1]
            ]
            if len(covering) == len(self.parts) == 1 and covering[0][1] is covering[0][2]:
                # Every row of one fit, in order (:meth:`_whole`): its CARs as they are.
                self._cars[window] = covering[0][0].car(*window)
                return self._cars[window]
            car, var, length = (np.full(self.n, np.nan) for _ in range(3))
            for f, rows, here in covering:
                c, v, n = f.car(*window)
                car[here], var[here], length[here] = c[rows], v[rows], n[rows]
            self._cars[window] = (car, var, length)
        return self._cars[window]

    def cars(self, windows: Sequence[Window]) -> dict[Window, np.ndarray]:
        """The CAR of each window per firm-event (as :meth:`car`), without keeping the
        variances and lengths :meth:`car` keeps for the battery (the bootstrap tests need the
        CARs alone: 16 bytes a firm-event and window less)."""
        out = {}
        for w in windows:
            key = (int(w[0]), int(w[1]))
            kept = key in self._cars
            out[w] = self._car(key)[0]
            if not kept:
                del self._cars[key]
        return out

    @cached_property
    def row_stats(self) -> _RowStats:
        """Per firm-event counts over the estimation residuals (one chunked pass; counted where
        the residuals are when they are held elsewhere, :class:`HeldResiduals`)."""
        if held_residuals(self) is not None:
            got = [f.resid.row_stats.take(rows) for f, rows, _ in self.parts]  # type: ignore[union-attr]
            return _RowStats(
                *(
                    np.concatenate(a)
                    for a in zip(*(dataclasses.astuple(g) for g in got), strict=True)
                )
            )
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

        def count(rows: slice | np.ndarray) -> None:
            resid = sample.resid_block(rows)
            m_resid[rows] = row_counts(np.isfinite(resid))
            positive[rows] = row_counts(resid > 0)
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                e = resid / sample.sigma[rows, None]
            m[rows] = row_counts(np.isfinite(e))
            irregular[rows] = np.isinf(e).any(axis=1)

        largest = _counted(sample, m_resid, positive)
        if largest is None:
            chunks = (slice(a, min(n, a + CHUNK_ROWS)) for a in range(0, n, CHUNK_ROWS))
            parallel.for_each(count, chunks, n)  # chunks write their own rows
        else:
            # e = resid / sigma is finite where the residual is, unless sigma is 0 or not finite
            # or the division overflows (then the largest |resid| / sigma does too): those rows,
            # if any, are counted from their residuals.
            sigma = sample.sigma
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                plain = np.isfinite(largest / sigma) & (sigma > 0) & np.isfinite(sigma)
            m[plain] = m_resid[plain]
            rest = np.flatnonzero(~plain)
            for a in range(0, len(rest), CHUNK_ROWS):
                count(rest[a : a + CHUNK_ROWS])
        irregular |= (m != m_resid) & (m != 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = positive / m_resid
        return cls(m.astype(float), m_resid, frac, irregular)

    def take(self, rows: np.ndarray) -> _RowStats:
        """The firm-events ``rows``."""
        return _RowStats(self.m[rows], self.m_resid[rows], self.frac_positive[rows],
                         self.irregular[rows])  # fmt: skip


class HeldResiduals:
    """The estimation residuals of a fit held elsewhere (the Dask engine's workers,
    :mod:`eventstudy.inference.partitioned`), standing in for ``BatchFit.resid``. The battery does
    not read them row by row: :attr:`row_stats` were counted where they are, the residual pass
    runs there (:meth:`prepare`) and the sample-quantile p-values were computed there
    (:meth:`quantile_p`). Reading rows (``resid[rows]``) fetches them: the rare reads of a few
    groups' rows (exact pairwise correlations, exact ties) only."""

    shape: tuple[int, int]
    row_stats: _RowStats
    dtype = np.dtype(float)
    ndim = 2

    def __len__(self) -> int:
        return self.shape[0]

    def take(self, rows: np.ndarray) -> HeldResiduals:  # pragma: no cover - abstract
        raise NotImplementedError

    def __getitem__(self, key: object) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def prepare(self, groupings: Sequence[object], windows: Sequence[Window]) -> None:
        """Fill in the residual-based quantities of ``groupings`` (of a sample whose fits all
        hold :class:`HeldResiduals`), as :func:`eventstudy.inference.engine._prepare` does."""
        raise NotImplementedError  # pragma: no cover - abstract

    def quantile_p(
        self, car: np.ndarray, lengths: Sequence[int]
    ) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - abstract
        """:func:`eventstudy.inference.single_firm.sample_quantile_p` of these rows."""
        raise NotImplementedError


def held_residuals(sample: FirmEventSample) -> HeldResiduals | None:
    """The first fit's :class:`HeldResiduals` when every fit of ``sample`` holds its residuals
    elsewhere; None when they are all here. A mix is an error of the caller."""
    # (BatchFit.resid's type leaves them out: they stand in for it)
    held: list[HeldResiduals] = [
        r for f, _, _ in sample.parts if isinstance(r := cast(object, f.resid), HeldResiduals)
    ]
    if not held:
        return None
    if len(held) != len(sample.parts):
        raise ValueError("fits whose residuals are held elsewhere mixed with fits holding them")
    return held[0]


def _every_row(values: np.ndarray, rows: np.ndarray) -> bool:
    """Whether ``rows`` are every row of ``values``, in order."""
    n = len(values)
    return len(rows) == n and (n == 0 or bool((rows == np.arange(n)).all()))


def _counted(
    sample: FirmEventSample, m_resid: np.ndarray, positive: np.ndarray
) -> np.ndarray | None:
    """When every fit of ``sample`` counted its residuals while fitting them (a large fit's
    :class:`~eventstudy.estimation.kernel.Residuals`), their counts written into ``m_resid``
    and ``positive``, and each firm-event's largest absolute residual returned; else None
    (the residuals are then read and counted)."""
    from eventstudy.estimation.kernel import Residuals

    if not all(isinstance(f.resid, Residuals) for f, _, _ in sample.parts):
        return None
    largest = np.zeros(sample.n)
    for f, rows, here in sample.parts:
        assert isinstance(f.resid, Residuals)
        m_resid[here], positive[here], largest[here] = f.resid.counts(rows)
    return largest


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


def sample_from_fits(
    fits: Sequence[tuple[BatchFit, np.ndarray]],
) -> tuple[FirmEventSample, np.ndarray]:
    """The fitted firm-events of ``fits`` (``(fit, event)`` pairs: a fit and the event index of
    each of its firm-events), fit after fit, and each one's event index."""
    parts, labels = [], []
    for fit, event in fits:
        rows = np.flatnonzero(fit.fitted)
        parts.append((fit, rows))
        labels.append(np.asarray(event)[rows])
    sample = FirmEventSample.from_fits(parts)
    return sample, np.concatenate(labels) if labels else np.zeros(0, dtype=int)
