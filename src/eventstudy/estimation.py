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

from dataclasses import dataclass

import numpy as np


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
    resid: np.ndarray  # (n, L_est) estimation-window residuals
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

    def ar_variance(self) -> np.ndarray:
        """Variance of each event-window AR, (n, L_ev)."""
        if self.ar_var is not None:
            return self.ar_var
        return self.sigma2[:, None] * (1.0 + self.h)

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
                factor += length**2 / self.n_obs
            if self.design.k:
                s = np.einsum("nlk,nl->nk", self.xc_event[:, lo:hi], valid)
                factor += np.einsum("nk,nkm,nm->n", s, self.s_inv, s)
        var = self.sigma2 * factor
        empty = length == 0
        car[empty] = np.nan
        var[empty] = np.nan
        return car, var, length

    def bhar(self, start: int, end: int, log: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Buy-and-hold abnormal return over ``start..end``: ``prod(1 + R_t) - prod(1 + N_t)``
        with ``N_t`` the model's normal return (Barber & Lyon 1997), compounding the days where
        both exist; log returns are converted to simple ones first. Returns (bhar, n_days)."""
        lo, hi = start - self.event_window[0], end - self.event_window[0] + 1
        ret, normal = self.ret[:, lo:hi], self.normal[:, lo:hi]
        if log:
            ret, normal = np.expm1(ret), np.expm1(normal)
        valid = np.isfinite(ret) & np.isfinite(normal)
        bhar = np.prod(np.where(valid, 1.0 + ret, 1.0), axis=1) - np.prod(
            np.where(valid, 1.0 + normal, 1.0), axis=1
        )
        length = valid.sum(axis=1)
        return np.where(length > 0, bhar, np.nan), length

    def car_path(self) -> tuple[np.ndarray, np.ndarray]:
        """Cumulative AR from the first event-window day to each day, and its variance."""
        lo = self.event_window[0]
        out = [self.car(lo, day) for day in self.rel_days]
        return np.stack([c for c, _, _ in out], axis=1), np.stack([v for _, v, _ in out], axis=1)


def gather(values: np.ndarray, rows: np.ndarray, cols: np.ndarray | None) -> np.ndarray:
    """values[rows, cols] with NaN where a row falls outside the panel."""
    inside = (rows >= 0) & (rows < values.shape[0])
    safe = np.clip(rows, 0, values.shape[0] - 1)
    out = values[safe] if cols is None else values[safe, cols[:, None]]
    mask = inside if out.ndim == rows.ndim else inside[..., None]
    return np.where(mask, out, np.nan)


def fit_batch(
    returns: np.ndarray,
    design: Design,
    col: np.ndarray,
    day0: np.ndarray,
    estimation_window: tuple[int, int],
    event_window: tuple[int, int],
    min_obs: int,
    given: np.ndarray | None = None,
) -> BatchFit:
    """Fit ``design`` for every firm-event ``(col[i], day0[i])`` of the T x N ``returns`` panel.

    ``given`` (n, p) replaces the OLS parameters by ones estimated elsewhere (Scholes-Williams and
    Dimson betas); residuals, variances and ARs are then computed with those parameters."""
    col = np.asarray(col, dtype=np.intp)
    day0 = np.asarray(day0, dtype=np.intp)
    n, k = len(col), design.k
    est_rows = day0[:, None] + np.arange(estimation_window[0], estimation_window[1] + 1)
    ev_rows = day0[:, None] + np.arange(event_window[0], event_window[1] + 1)

    y = gather(returns, est_rows, col)  # (n, Le)
    if design.offset is not None:
        y = y - gather(design.offset, est_rows, None)
    x = gather(design.regressors, est_rows, None)  # (n, Le, k)
    mask = np.isfinite(y) & np.isfinite(x).all(axis=2)
    m = mask.sum(axis=1).astype(float)
    y0 = np.where(mask, y, 0.0)
    x0 = np.where(mask[..., None], x, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        xbar = x0.sum(axis=1) / m[:, None]  # (n, k)
        ybar = y0.sum(axis=1) / m
    xc = np.where(mask[..., None], x - xbar[:, None, :], 0.0)

    skip: list[str | None] = [None] * n
    for i in np.flatnonzero(m < min_obs):
        skip[i] = f"{int(m[i])} estimation-window returns, fewer than the minimum {min_obs}"

    s_inv = np.full((n, k, k), np.nan)
    params = np.full((n, design.n_params), np.nan)
    if design.estimate:
        beta = np.zeros((n, k))
        if k:
            s = np.einsum("nlk,nlm->nkm", xc, xc)
            yc = np.where(mask, y - ybar[:, None], 0.0)
            sxy = np.einsum("nlk,nl->nk", xc, yc)
            # Rank check on the scale-free (correlation) form so tiny-variance regressors pass.
            scale = np.sqrt(np.einsum("nkk->nk", s))
            with np.errstate(invalid="ignore", divide="ignore"):
                corr = s / (scale[:, :, None] * scale[:, None, :])
            finite = np.isfinite(corr).all(axis=(1, 2)) & (scale > 0).all(axis=1)
            cond = np.full(n, np.inf)
            cond[finite] = np.linalg.cond(corr[finite])
            for i in np.flatnonzero(cond > 1e12):
                if skip[i] is None:
                    skip[i] = "regressors are constant or collinear in the estimation window"
            ok = np.array([r is None for r in skip])
            s_inv[ok] = np.linalg.inv(s[ok])
            beta[ok] = np.einsum("nkm,nm->nk", s_inv[ok], sxy[ok])
        alpha = ybar - np.einsum("nk,nk->n", xbar, beta) if design.intercept else np.zeros(n)
        if given is not None:
            alpha = given[:, 0] if design.intercept else alpha
            beta = given[:, int(design.intercept) :]
        fitted_est = alpha[:, None] + np.einsum("nlk,nk->nl", x0, beta)
        params = np.concatenate(([alpha[:, None]] if design.intercept else []) + [beta], axis=1)
        resid = np.where(mask, y - fitted_est, np.nan)
        df = m - design.n_params
        with np.errstate(invalid="ignore", divide="ignore"):
            sigma2 = np.nansum(resid**2, axis=1) / df
    else:
        coef = np.broadcast_to(design.fixed_coef, (n, k))
        resid = np.where(mask, y - np.einsum("nlk,nk->nl", x0, coef), np.nan)
        df = m - 1
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(mask, resid, 0.0).sum(axis=1) / m
            sigma2 = np.nansum((resid - mean[:, None]) ** 2, axis=1) / df
        beta, alpha = coef, np.zeros(n)

    # Event window.
    r_ev = gather(returns, ev_rows, col)
    x_ev = gather(design.regressors, ev_rows, None)
    normal = alpha[:, None] + np.einsum("nlk,nk->nl", x_ev, beta)
    if design.offset is not None:
        normal = normal + gather(design.offset, ev_rows, None)
    ar = r_ev - normal
    xc_ev = x_ev - xbar[:, None, :] if design.estimate else np.zeros_like(x_ev)
    if design.estimate:
        h = (1.0 / m)[:, None] if design.intercept else np.zeros((n, 1))
        h = h + (np.einsum("nlk,nkm,nlm->nl", xc_ev, s_inv, xc_ev) if k else 0.0)
        h = np.broadcast_to(h, ar.shape).copy()
    else:
        h = np.zeros_like(ar)

    bad = ~np.array([r is None for r in skip])
    for arr in (params, normal, ar, h, resid):
        arr[bad] = np.nan
    sigma2 = np.where(bad, np.nan, sigma2)
    return BatchFit(
        design=design,
        col=col,
        day0=day0,
        estimation_window=estimation_window,
        event_window=event_window,
        n_obs=m.astype(int),
        params=params,
        sigma2=sigma2,
        df=df.astype(int),
        resid=resid,
        ret=r_ev,
        normal=normal,
        ar=ar,
        h=h,
        xc_event=xc_ev,
        s_inv=s_inv,
        skip_reason=skip,
    )
