"""Vectorised fit of a normal-return model over a batch of firm-events.

A firm-event is a ticker column ``j`` and a day-0 row ``d`` of the returns panel. All estimation
blocks are gathered at once into an ``(n, L_est)`` array by index arithmetic; the regressors (shared
by date) into ``(n, L_est, k)``. OLS is solved on centred data for every firm-event in one batched
call; missing returns are a mask, so each firm-event keeps its exact observation count.

Formulas (Campbell, Lo & MacKinlay 1997, ch. 4; MacKinlay 1997):

* residual variance ``sigma2 = RSS / (M - p)``, ``p`` estimated parameters (``M - 2`` for the market
  model, ``M - 1`` for constant mean); for models with nothing estimated (market-adjusted) the
  sample variance of the estimation-window ARs around their mean, ``M - 1``;
* the variance of an event-day AR includes the prediction error,
  ``Var(AR_t) = sigma2 * (1 + h_t)``, ``h_t = 1/M + (x_t - xbar)' S^-1 (x_t - xbar)``;
* the variance of a CAR over ``L`` (non-missing) days is
  ``sigma2 * (L + L^2/M + s' S^-1 s)``, ``s = sum_t (x_t - xbar)``, ``S`` the centred cross-product
  of the regressors (CLM eq. 4.4.14 written out for any number of regressors).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from eventstudy import parallel


@dataclass(frozen=True)
class Design:
    """What a model regresses a firm's return on, shared by every firm on a date.

    ``regressors`` is T x k on the panel's calendar (k may be 0). With ``estimate=True`` the normal
    return is ``alpha + regressors @ beta`` fitted by OLS (``alpha`` only if ``intercept``); with
    ``estimate=False`` it is ``regressors @ fixed_coef`` and nothing is estimated.
    """

    regressors: np.ndarray
    names: tuple[str, ...]
    intercept: bool = True
    estimate: bool = True
    fixed_coef: np.ndarray | None = None
    #: Subtracted from the firm's return before fitting and added back to the normal return
    #: (the risk-free rate of the factor models, which explain excess returns).
    offset: np.ndarray | None = None

    @property
    def k(self) -> int:
        return self.regressors.shape[1]

    @property
    def n_params(self) -> int:
        """Number of estimated parameters (the residual degrees of freedom are M - n_params)."""
        if not self.estimate:
            return 0
        return self.k + int(self.intercept)

    @property
    def param_names(self) -> tuple[str, ...]:
        if not self.estimate:
            return ()
        return (("alpha",) if self.intercept else ()) + tuple(f"beta_{n}" for n in self.names)


@dataclass
class BatchFit:
    """Arrays for ``n`` firm-events fitted with one design and one pair of windows.

    Event-window arrays have one column per relative day ``event_window[0] .. event_window[1]``;
    estimation arrays one per day ``estimation_window[0] .. estimation_window[1]``. Missing values
    are NaN. Skipped firm-events (too few estimation returns, degenerate regressors) have NaN
    parameters and ARs and a reason in ``skip_reason``.
    """

    design: Design
    col: np.ndarray  # (n,) panel column of the ticker
    day0: np.ndarray  # (n,) panel row of day 0
    estimation_window: tuple[int, int]
    event_window: tuple[int, int]
    n_obs: np.ndarray  # (n,) non-missing estimation returns, M
    params: np.ndarray  # (n, p) alpha then betas (empty for fixed models)
    sigma2: np.ndarray  # (n,)
    df: np.ndarray  # (n,) residual degrees of freedom, M - p (M - 1 for fixed models)
    #: (n, L_est) estimation-window residuals: an array, or for large fits a
    #: :class:`Residuals` that computes the rows read from the panel (see :func:`fit_batch`).
    resid: np.ndarray | Residuals
    ret: np.ndarray  # (n, L_ev) event-window returns
    normal: np.ndarray  # (n, L_ev)
    ar: np.ndarray  # (n, L_ev)
    h: np.ndarray  # (n, L_ev) prediction-error leverage: Var(AR_t) = sigma2 * (1 + h_t)
    xc_event: np.ndarray  # (n, L_ev, k) event-window regressors centred at their estimation mean
    s_inv: np.ndarray  # (n, k, k) inverse centred cross-product of the estimation regressors
    skip_reason: list[str | None]
    #: Per-day AR variance that replaces ``sigma2 * (1 + h)`` (GARCH conditional variances).
    ar_var: np.ndarray | None = None
    #: Extra per-firm-event parameters of non-OLS models (GARCH omega, alpha, beta), by name.
    extra_params: dict[str, np.ndarray] | None = None

    @property
    def n(self) -> int:
        return len(self.col)

    @property
    def rel_days(self) -> np.ndarray:
        return np.arange(self.event_window[0], self.event_window[1] + 1)

    @property
    def fitted(self) -> np.ndarray:
        return np.array([r is None for r in self.skip_reason], dtype=bool)

    def take(self, rows: np.ndarray) -> BatchFit:
        """The firm-events ``rows`` (indices or a boolean mask) as a new fit."""
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        extra = self.extra_params
        resid = self.resid
        return replace(
            self,
            **{name: getattr(self, name)[rows] for name in _ROW_ARRAYS},
            resid=resid.take(rows) if isinstance(resid, Residuals) else resid[rows],
            skip_reason=[self.skip_reason[i] for i in rows],
            ar_var=None if self.ar_var is None else self.ar_var[rows],
            extra_params=None if extra is None else {k: v[rows] for k, v in extra.items()},
        )

    def ar_variance(self) -> np.ndarray:
        """Variance of each event-window AR, (n, L_ev)."""
        if self.ar_var is not None:
            return self.ar_var
        return self.sigma2[:, None] * (1.0 + self.h)

    def standardized_ar(self, standard_error: np.ndarray | None = None) -> np.ndarray:
        """Each AR over its standard error, ``ar / sqrt(ar_variance())`` (Patell's standardised
        AR), (n, L_ev): made once and kept, read only (the AR frame's ``ar_t`` and the test
        battery's SARs are the same numbers). ``standard_error``: ``sqrt(ar_variance())`` when
        the caller has it (the AR frame), so that it is not computed again."""
        sar = self.__dict__.get("_standardized_ar")
        if sar is None:
            se = np.sqrt(self.ar_variance()) if standard_error is None else standard_error
            with np.errstate(invalid="ignore", divide="ignore"):
                sar = self.ar / se
            sar.flags.writeable = False
            self.__dict__["_standardized_ar"] = sar  # not a field: replace() and take() drop it
        return sar

    def car(self, start: int, end: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """CAR over relative days ``start..end``: (car, variance, number of non-missing ARs)."""
        lo, hi = start - self.event_window[0], end - self.event_window[0] + 1
        ar = self.ar[:, lo:hi]
        valid = np.isfinite(ar)
        length = valid.sum(axis=1).astype(float)
        car = np.where(valid, ar, 0.0).sum(axis=1)
        if self.ar_var is not None:
            # Conditional variances of different days; parameter uncertainty is not added.
            var = np.where(valid, self.ar_var[:, lo:hi], 0.0).sum(axis=1)
            return np.where(length > 0, car, np.nan), np.where(length > 0, var, np.nan), length
        factor = length.copy()
        if self.design.estimate:
            if self.design.intercept:
                with np.errstate(invalid="ignore", divide="ignore"):  # M = 0: skipped anyway
                    factor += length**2 / self.n_obs
            if self.design.k:
                s = np.einsum("nlk,nl->nk", self.xc_event[:, lo:hi], valid)
                factor += np.einsum("nk,nkm,nm->n", s, self.s_inv, s)
        var = self.sigma2 * factor
        empty = length == 0
        car[empty] = np.nan
        var[empty] = np.nan
        return car, var, length

    def bhar(
        self, start: int, end: int, log: bool = False, benchmark: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Buy-and-hold abnormal return over ``start..end``: ``prod(1 + R_t) - prod(1 + N_t)``
        with ``N_t`` the model's normal return (Barber & Lyon 1997), or ``benchmark`` (firm-events
        x event-window days: :mod:`eventstudy.estimation.benchmarks`), compounding the days where
        both exist; log returns are converted to simple ones first. Returns (bhar, n_days)."""
        lo, hi = start - self.event_window[0], end - self.event_window[0] + 1
        reference = self.normal if benchmark is None else benchmark
        ret, normal = self.ret[:, lo:hi], reference[:, lo:hi]
        if log:
            ret, normal = np.expm1(ret), np.expm1(normal)
        valid = np.isfinite(ret) & np.isfinite(normal)
        bhar = np.prod(np.where(valid, 1.0 + ret, 1.0), axis=1) - np.prod(
            np.where(valid, 1.0 + normal, 1.0), axis=1
        )
        length = valid.sum(axis=1)
        return np.where(length > 0, bhar, np.nan), length

    def car_path(self) -> tuple[np.ndarray, np.ndarray]:
        """Cumulative AR from the first event-window day to each day, and its variance: the
        :meth:`car` of every window ``[first day, t]``, by running sums."""
        valid = np.isfinite(self.ar)
        length = np.cumsum(valid, axis=1).astype(float)
        car = np.cumsum(np.where(valid, self.ar, 0.0), axis=1)
        if self.ar_var is not None:
            var = np.cumsum(np.where(valid, self.ar_var, 0.0), axis=1)
        else:
            factor = length.copy()
            if self.design.estimate:
                if self.design.intercept:
                    with np.errstate(invalid="ignore", divide="ignore"):
                        factor += length**2 / self.n_obs[:, None]
                if self.design.k:
                    s = np.cumsum(self.xc_event * valid[..., None], axis=1)  # (n, L, k)
                    factor += np.einsum("nlk,nkm,nlm->nl", s, self.s_inv, s)
            var = self.sigma2[:, None] * factor
        empty = length == 0
        car[empty] = np.nan
        var[empty] = np.nan
        return car, var


def gather(values: np.ndarray, rows: np.ndarray, cols: np.ndarray | None) -> np.ndarray:
    """values[rows, cols] with NaN where a row falls outside the panel."""
    inside = (rows >= 0) & (rows < values.shape[0])
    safe = np.clip(rows, 0, values.shape[0] - 1)
    out = values[safe] if cols is None else values[safe, cols[:, None]]
    mask = inside if out.ndim == rows.ndim else inside[..., None]
    return np.where(mask, out, np.nan)


def concat_fits(fits: Sequence[BatchFit]) -> BatchFit:
    """One :class:`BatchFit` from fits of the same design and windows, rows in the given order
    (the merge of a partitioned fit; ``col`` keeps each part's values)."""
    if not fits:
        raise ValueError("no fits to concatenate")
    first = fits[0]
    arrays = {name: np.concatenate([getattr(f, name) for f in fits]) for name in _ROW_ARRAYS}
    arrays["resid"] = np.concatenate([np.asarray(f.resid) for f in fits])
    ar_var = None
    if any(f.ar_var is not None for f in fits):
        ar_var = np.concatenate([_or_nan(f.ar_var, f.ar.shape) for f in fits])
    extra = None
    if any(f.extra_params for f in fits):
        names = dict.fromkeys(k for f in fits for k in (f.extra_params or {}))
        extra = {
            k: np.concatenate([(f.extra_params or {}).get(k, np.full(f.n, np.nan)) for f in fits])
            for k in names
        }
    return BatchFit(
        design=first.design,
        estimation_window=first.estimation_window,
        event_window=first.event_window,
        skip_reason=[r for f in fits for r in f.skip_reason],
        ar_var=ar_var,
        extra_params=extra,
        **arrays,
    )


def _or_nan(a: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    return np.full(shape, np.nan) if a is None else a


#: BatchFit fields with one row per firm-event that are arrays (``resid`` may not be one).
_ROW_ARRAYS = (
    "col", "day0", "n_obs", "params", "sigma2", "df", "ret", "normal", "ar", "h", "xc_event",
    "s_inv",
)  # fmt: skip

#: Firm-events per chunk of :func:`fit_batch`. A chunk's temporaries are (chunk, L_est) arrays of
#: about half a MB: they stay in cache and are re-used by malloc, where n-sized temporaries would
#: cost memory and a page fault per fresh page at every step (measured best between 128 and 512).
CHUNK = 256

#: Largest residual array (firm-events x estimation days) :func:`fit_batch` stores; a larger
#: fit keeps a :class:`Residuals` instead, which computes the rows read from the panel. 2**25
#: values are 256 MiB: 100k firm-events of a 250-day window are stored, 1M (1.9 GB) are not.
#: Read at each call (tests set it to 0: the numbers do not depend on it).
STORE_RESID_MAX = 2**25

_TOO_FEW, _COLLINEAR = 1, 2


class _Windows:
    """Returns, regressors and offset transposed to one contiguous row per series and padded with
    NaN, so that a firm-event's window is one contiguous slice (a strided view, no index arrays)
    and windows reaching outside the panel read NaN."""

    def __init__(
        self, returns: np.ndarray, design: Design, col: np.ndarray, day0: np.ndarray, span: range
    ) -> None:
        T = returns.shape[0]
        lo, hi = (int(day0.min()), int(day0.max())) if len(day0) else (0, 0)
        self.pad = max(0, -(lo + span.start))
        after = max(0, hi + span.stop - T)
        ucol, self.cidx = np.unique(col, return_inverse=True)
        width = self.pad + T + after
        self.y = _padded_columns(returns, ucol, self.pad, width)
        self.x = _padded(np.asarray(design.regressors, dtype=float).T, self.pad, width)
        self.offset = (
            None if design.offset is None
            else _padded(np.asarray(design.offset, dtype=float)[None, :], self.pad, width)[0]
        )  # fmt: skip
        self._views: dict[int, tuple] = {}  # sliding-window views by window length

    def __getstate__(self) -> dict:
        # Pickled without the views: numpy would copy a sliding-window view whole (every window
        # of every series), and they are rebuilt on the next take (a fit sent between processes).
        return {**self.__dict__, "_views": {}}

    def take(self, rows: slice | np.ndarray, day0: np.ndarray, first: int, length: int) -> tuple:
        """Firm returns (c, L), regressors (k, c, L) and offset (c, L) or None of the window
        ``first .. first + length - 1`` relative to each ``day0``."""
        start = day0 + (first + self.pad)
        if length not in self._views:
            self._views[length] = tuple(
                None if a is None else _windows(a, length) for a in (self.y, self.x, self.offset)
            )
        y_win, x_win, off_win = self._views[length]
        y = y_win[self.cidx[rows], start]
        x = x_win[:, start]
        off = None if off_win is None else off_win[start]
        return y, x, off


def _padded(a: np.ndarray, pad: int, width: int) -> np.ndarray:
    """``a`` (rows x T) copied into NaN padding: ``pad`` columns before, the rest after."""
    out = np.empty((a.shape[0], width))
    out[:, :pad] = np.nan
    out[:, pad + a.shape[1] :] = np.nan
    out[:, pad : pad + a.shape[1]] = a
    return out


#: Panel columns per block of :func:`_padded_columns`' transposition.
_BLOCK = 128


def _padded_columns(values: np.ndarray, cols: np.ndarray, pad: int, width: int) -> np.ndarray:
    """``_padded(values[:, cols].T, pad, width)`` for sorted ``cols``, transposed by blocks of
    :data:`_BLOCK` panel columns: whole, the gather and transposition of a wide panel (1M
    firm-events: 20,000 columns, 160 kB a row) read each value from another page (a cache
    and TLB miss each, and the fit stage's one step that grew faster than the panel)."""
    t = values.shape[0]
    out = np.empty((len(cols), width))
    out[:, :pad] = np.nan
    out[:, pad + t :] = np.nan
    buf = np.empty((_BLOCK, t))
    for c0 in range(0, values.shape[1], _BLOCK):
        lo, hi = np.searchsorted(cols, [c0, c0 + _BLOCK])
        if lo == hi:
            continue
        w = min(_BLOCK, values.shape[1] - c0)
        np.copyto(buf[:w], values[:, c0 : c0 + w].T)  # a block that stays in cache
        out[lo:hi, pad : pad + t] = buf[cols[lo:hi] - c0]
    return out


def _windows(a: np.ndarray, length: int) -> np.ndarray:
    return np.lib.stride_tricks.sliding_window_view(a, length, axis=-1)


class Residuals:
    """The estimation-window residuals of a large fit, ``(n, L_est)``, computed from the panel
    when rows are read instead of stored (1M firm-events of a 250-day window would hold 1.9 GB).

    Reading rows (``resid[a:b]``, ``resid[indices]``, ``resid[i, j]``) returns a new array with
    the numbers :func:`fit_batch` computed for those rows, bit for bit: the same parameters and
    the same operations (:func:`_residuals`), element by element. ``np.asarray(resid)`` builds
    the whole array. The readers of the package (the battery's residual pass, the
    sample-quantile p-values) read chunks of rows."""

    def __init__(
        self,
        src: _Windows,
        day0: np.ndarray,
        first: int,
        length: int,
        alpha: np.ndarray,
        beta: np.ndarray,
        status: np.ndarray,
        rows: np.ndarray | None = None,
    ) -> None:
        self._src, self._day0, self._first, self._length = src, day0, first, length
        self._alpha, self._beta, self._status = alpha, beta, status
        #: Rows of the fit this holds (``take``), None for all of them.
        self._rows = rows
        self.shape = (len(day0) if rows is None else len(rows), length)
        #: Per row of the fit, written by :func:`fit_batch` while the row is computed: its
        #: number of finite residuals and of residuals > 0, and its largest absolute residual
        #: (:meth:`counts`).
        self._finite = np.zeros(len(day0), dtype=np.int32)
        self._positive = np.zeros(len(day0), dtype=np.int32)
        self._max_abs = np.zeros(len(day0))

    dtype = np.dtype(float)
    ndim = 2

    def __len__(self) -> int:
        return self.shape[0]

    def take(self, rows: np.ndarray) -> Residuals:
        """The rows ``rows`` (indices), still computed when read."""
        rows = np.asarray(rows, dtype=np.intp)
        held = rows if self._rows is None else self._rows[rows]
        out = Residuals(
            self._src, self._day0, self._first, self._length, self._alpha, self._beta,
            self._status, held,
        )  # fmt: skip
        out._finite, out._positive, out._max_abs = self._finite, self._positive, self._max_abs
        return out

    def counts(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Of the rows ``rows`` (indices), without computing them: the number of finite
        residuals, the number > 0 and the largest absolute residual (NaN when a residual is
        NaN where the row has a return; 0 for an empty row). What the test battery counts
        over every row (:class:`eventstudy.inference.sample.FirmEventSample`), counted when
        the fit had the row at hand instead of computing every row again."""
        at = np.asarray(rows, dtype=np.intp) if self._rows is None else self._rows[rows]
        return self._finite[at], self._positive[at], self._max_abs[at]

    def __getitem__(self, key: Any) -> np.ndarray:
        rest: tuple = ()
        if isinstance(key, tuple):
            key, rest = key[0], key[1:]
        n = self.shape[0]
        if isinstance(key, slice):
            idx = np.arange(*key.indices(n), dtype=np.intp)
        elif isinstance(key, (int, np.integer)):
            idx = np.arange(n, dtype=np.intp)[np.array([key])]
        else:
            idx = np.arange(n, dtype=np.intp)[key]
        out = self._compute(idx if self._rows is None else self._rows[idx])
        if isinstance(key, (int, np.integer)):
            out = out[0]
        return out[rest] if rest else out

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self[:]
        return out if dtype is None else out.astype(dtype)

    def _compute(self, idx: np.ndarray) -> np.ndarray:
        """Residuals of the fit's rows ``idx``, in pieces of :data:`CHUNK` rows (their
        temporaries stay in cache)."""
        out = np.empty((len(idx), self._length))
        for lo in range(0, len(idx), CHUNK):
            rows = idx[lo : lo + CHUNK]
            y, x, off = self._src.take(rows, self._day0[rows], self._first, self._length)
            if off is not None:
                y = y - off
            mask, complete, y0, x0 = _masked(y, x)
            part = out[lo : lo + len(rows)]
            _residuals(y0, x0, mask, complete, self._alpha[rows], self._beta[rows], part)
            if not complete:
                np.copyto(part, np.nan, where=~mask)
            part[self._status[rows] != 0] = np.nan
        return out


def fit_batch(
    returns: np.ndarray,
    design: Design,
    col: np.ndarray,
    day0: np.ndarray,
    estimation_window: tuple[int, int],
    event_window: tuple[int, int],
    min_obs: int,
    given: np.ndarray | None = None,
    *,
    chunk_size: int = CHUNK,
) -> BatchFit:
    """Fit ``design`` for every firm-event ``(col[i], day0[i])`` of the T x N ``returns`` panel.

    ``given`` (n, p) replaces the OLS parameters by ones estimated elsewhere (Scholes-Williams and
    Dimson betas); residuals, variances and ARs are then computed with those parameters.
    Firm-events are processed ``chunk_size`` at a time (chunks in parallel threads, see
    :mod:`eventstudy.parallel`), so memory beyond the outputs is bounded whatever the number of
    firm-events; each firm-event's numbers do not depend on the chunking or the threads."""
    col = np.asarray(col, dtype=np.intp)
    day0 = np.asarray(day0, dtype=np.intp)
    n, k, p = len(col), design.k, design.n_params
    (e0, e1), (w0, w1) = estimation_window, event_window
    le, lv = e1 - e0 + 1, w1 - w0 + 1
    src = _Windows(returns, design, col, day0, range(min(e0, w0), max(e1, w1) + 1))
    status = np.zeros(n, dtype=np.int8)  # the fit's outcome per firm-event (_TOO_FEW, ...)
    out = BatchFit(
        design=design,
        col=col,
        day0=day0,
        estimation_window=estimation_window,
        event_window=event_window,
        n_obs=np.empty(n, dtype=int),
        params=np.empty((n, p)),
        sigma2=np.empty(n),
        df=np.empty(n, dtype=int),
        resid=np.empty((n, le))
        if n * le <= STORE_RESID_MAX
        else Residuals(src, day0, e0, le, np.empty(n), np.empty((n, k)), status),
        ret=np.empty((n, lv)),
        normal=np.empty((n, lv)),
        ar=np.empty((n, lv)),
        h=np.empty((n, lv)),
        xc_event=np.empty((n, lv, k)),
        s_inv=np.full((n, k, k), np.nan),
        skip_reason=[],
    )
    chunk_size = max(1, chunk_size)

    def fit_chunk(lo: int) -> None:
        rows = slice(lo, min(n, lo + chunk_size))
        _fit_chunk(src, out, status, rows, min_obs, None if given is None else given[rows])

    parallel.for_each(fit_chunk, range(0, n, chunk_size), n)  # chunks write their own rows
    reasons: list[str | None] = [None] * n
    for i in np.flatnonzero(status):
        if status[i] == _TOO_FEW:
            reasons[i] = (
                f"{out.n_obs[i]} estimation-window returns, fewer than the minimum {min_obs}"
            )
        else:
            reasons[i] = "regressors are constant or collinear in the estimation window"
    out.skip_reason = reasons
    return out


def _fit_chunk(
    src: _Windows,
    out: BatchFit,
    status: np.ndarray,
    rows: slice,
    min_obs: int,
    given: np.ndarray | None,
) -> None:
    """Fit the firm-events ``rows`` and write them into ``out`` (see :func:`fit_batch`)."""
    design = out.design
    k = design.k
    (e0, e1), (w0, w1) = out.estimation_window, out.event_window
    day0 = out.day0[rows]
    c = len(day0)

    y, x, off = src.take(rows, day0, e0, e1 - e0 + 1)  # (c, Le), (k, c, Le), (c, Le)
    if off is not None:
        y = y - off
    mask, complete, y0, x0 = _masked(y, x)
    m = np.count_nonzero(mask, axis=1).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        xbar = x0.sum(axis=2) / m  # (k, c)
        ybar = y0.sum(axis=1) / m
    st = status[rows]
    st[m < min_obs] = _TOO_FEW

    # Written in place when stored; else a chunk's buffer (Residuals recomputes rows on demand).
    stored = isinstance(out.resid, np.ndarray)
    resid = out.resid[rows] if isinstance(out.resid, np.ndarray) else np.empty((c, e1 - e0 + 1))
    if design.estimate:
        beta = np.zeros((c, k))
        s_inv = np.full((c, k, k), np.nan)
        if k:
            # Centred cross-products; sum(xc * y) equals sum(xc * (y - ybar)) as sum(xc) = 0.
            xc = x0 - (xbar[:, :, None] if complete else np.where(mask, xbar[:, :, None], 0.0))
            s = np.empty((c, k, k))
            for a in range(k):
                for b in range(a + 1):
                    s[:, a, b] = s[:, b, a] = np.einsum("nl,nl->n", xc[a], xc[b])
            sxy = np.einsum("knl,nl->nk", xc, y0)
            del xc
            # Rank check on the scale-free (correlation) form so tiny-variance regressors pass.
            scale = np.sqrt(np.einsum("nkk->nk", s))
            finite = np.isfinite(s).all(axis=(1, 2)) & (scale > 0).all(axis=1)
            cond = np.full(c, np.inf)
            if k == 1:
                cond[finite] = 1.0  # a 1 x 1 correlation matrix is [[1]]
            elif finite.any():
                with np.errstate(invalid="ignore", divide="ignore"):
                    corr = s / (scale[:, :, None] * scale[:, None, :])
                cond[finite] = np.linalg.cond(corr[finite])
            st[(cond > 1e12) & (st == 0)] = _COLLINEAR
            ok = st == 0
            s_inv[ok] = 1.0 / s[ok] if k == 1 else np.linalg.inv(s[ok])  # LAPACK's 1/s for k=1
            beta[ok] = np.einsum("nkm,nm->nk", s_inv[ok], sxy[ok])
        alpha = ybar - np.einsum("kn,nk->n", xbar, beta) if design.intercept else np.zeros(c)
        if given is not None:
            alpha = given[:, 0] if design.intercept else alpha
            beta = given[:, int(design.intercept) :]
        out.params[rows] = np.column_stack(([alpha] if design.intercept else []) + [beta])
        out.s_inv[rows] = s_inv
    else:
        beta = np.broadcast_to(np.asarray(design.fixed_coef, dtype=float), (c, k))
        alpha = np.zeros(c)

    # Residuals on the non-missing days (zero elsewhere, for the sums), then NaN where missing.
    _residuals(y0, x0, mask, complete, alpha, beta, resid)
    if not stored:
        assert isinstance(out.resid, Residuals)
        out.resid._alpha[rows] = alpha
        out.resid._beta[rows] = beta
        _count_rows(out.resid, rows, resid, mask, complete, st != 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        if design.estimate:
            df = m - design.n_params
            sigma2 = np.einsum("nl,nl->n", resid, resid) / df
        else:
            # Fixed coefficients: the sample variance of the residuals around their mean.
            df = m - 1
            dev = resid - np.where(mask, (resid.sum(axis=1) / m)[:, None], 0.0)
            sigma2 = np.einsum("nl,nl->n", dev, dev) / df
    if stored and not complete:
        np.copyto(resid, np.nan, where=~mask)
    del x0, y0, y, mask

    # Event window.
    r_ev, x_ev, off_ev = src.take(rows, day0, w0, w1 - w0 + 1)
    normal = _linear(alpha, x_ev, beta)
    if off_ev is not None:
        normal += off_ev
    xc_ev = x_ev - xbar[:, :, None] if design.estimate else np.zeros_like(x_ev)
    h = np.zeros(r_ev.shape)
    if design.estimate:
        if design.intercept:
            with np.errstate(divide="ignore"):
                h += (1.0 / m)[:, None]
        for a in range(k):
            for b in range(k):
                h += xc_ev[a] * s_inv[:, a, b, None] * xc_ev[b]

    bad = st != 0
    out.params[rows][bad] = np.nan
    normal[bad] = np.nan
    h[bad] = np.nan
    if stored:
        resid[bad] = np.nan
    out.n_obs[rows] = m
    out.df[rows] = df
    out.sigma2[rows] = np.where(bad, np.nan, sigma2)
    out.ret[rows] = r_ev
    out.normal[rows] = normal
    out.ar[rows] = r_ev - normal
    out.h[rows] = h
    out.xc_event[rows] = np.moveaxis(xc_ev, 0, 2)
    status[rows] = st


def _count_rows(
    into: Residuals, rows: slice, resid: np.ndarray, mask: np.ndarray, complete: bool,
    bad: np.ndarray,
) -> None:
    """:meth:`Residuals.counts` of the chunk ``rows`` from its residuals (zero where ``mask``
    has no return; the rows ``bad`` are not fitted and read as missing)."""
    finite = np.isfinite(resid)
    if not complete:
        finite &= mask
    with np.errstate(invalid="ignore"):
        into._finite[rows] = np.where(bad, 0, np.count_nonzero(finite, axis=1))
        into._positive[rows] = np.where(bad, 0, np.count_nonzero(resid > 0, axis=1))
        into._max_abs[rows] = np.where(bad, 0.0, np.abs(resid).max(axis=1, initial=0.0))


def _masked(
    y: np.ndarray, x: np.ndarray
) -> tuple[np.ndarray, bool, np.ndarray, np.ndarray]:
    """The days where the return and every regressor exist (``mask``, (c, L)), whether that is
    every day, and ``y``, ``x`` with zeros elsewhere (for the sums)."""
    mask = np.isfinite(y)
    for a in range(x.shape[0]):
        mask &= np.isfinite(x[a])
    # A chunk without missing values (the usual case) skips the masking: the same numbers.
    complete = bool(mask.all())
    y0 = y if complete else np.where(mask, y, 0.0)
    x0 = x if complete else np.where(mask, x, 0.0)  # (k, c, L)
    return mask, complete, y0, x0


def _residuals(
    y0: np.ndarray,
    x0: np.ndarray,
    mask: np.ndarray,
    complete: bool,
    alpha: np.ndarray,
    beta: np.ndarray,
    out: np.ndarray,
) -> None:
    """``y - alpha - x @ beta`` on the days of ``mask``, 0 elsewhere, into ``out`` (c, L): the
    one computation of the estimation residuals (the fit and :class:`Residuals` both call it,
    so a recomputed row equals the fitted one bit for bit)."""
    if complete:
        out[...] = alpha[:, None]
    else:
        np.multiply(mask, alpha[:, None], out=out)
    for a in range(x0.shape[0]):
        out += x0[a] * beta[:, a, None]
    np.subtract(y0, out, out=out)


def _linear(alpha: np.ndarray, x: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """``alpha + sum_a x[a] * beta[:, a]`` for x of shape (k, c, L): (c, L)."""
    out = np.broadcast_to(alpha[:, None], x.shape[1:]).copy()
    for a in range(x.shape[0]):
        out += x[a] * beta[:, a, None]
    return out
