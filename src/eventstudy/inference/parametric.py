"""The parametric tests of the battery: cross-sectional t, time-series t, Patell Z and BMP t (each
also adjusted for cross-correlation), the skewness-adjusted t, Brown & Warner's (1980) t under
independence and Lamb's (1995) Z.

Each test is a function ``(groups, window) -> TestResult``: ``groups`` the firm-events in groups
(:class:`~eventstudy.inference.engine._Groups`), ``window`` the per-firm-event values of one day or
CAR window (:class:`~eventstudy.inference.engine._Window`); the result holds one statistic per
group. Each docstring gives the formula as implemented and its paper, in the notation of
:mod:`eventstudy.inference.engine`; docs/tests.md collects the conventions and the differences from
other software. :mod:`eventstudy.inference.registry` lists the tests.
"""

from __future__ import annotations

import numpy as np

from eventstudy.inference.engine import (
    TestResult,
    _daily_ar,
    _Groups,
    _means_of,
    _moments,
    _needs,
    _Reason,
    _result,
    _summed_daily_means,
    _tp,
    _Window,
)
from eventstudy.inference.stats import normal_pvalue, skewness_adjusted_statistic


def cross_sectional_t(groups: _Groups, w: _Window) -> TestResult:
    """Cross-sectional t (Brown & Warner 1985).

    ``t = mean(A) / (sd(A) / sqrt(N))`` with ``A`` the ARs of the day (CARs of the window), ``sd``
    on ``N - 1``; Student t with ``N - 1`` df. No use of the estimation-window variance, so robust
    to event-induced variance but not to cross-correlation."""
    n, mean, sd, _ = w.shared("moments_x", lambda: _moments(groups, w.x))
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
    caar, length, n = _summed_daily_means(groups, _daily_ar(groups, w), w)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = caar / (s * np.sqrt(length))
    reasons = [*_needs(n), (days < 2, "needs at least 2 estimation-window days")]
    return _result(t, _tp(t, days - 1), n, days - 1, reasons)


def _patell_parts(groups: _Groups, w: _Window) -> tuple[np.ndarray, ...]:
    return w.shared("patell_parts", lambda: _patell_parts_of(groups, w))


def _patell_parts_of(groups: _Groups, w: _Window) -> tuple[np.ndarray, ...]:
    df = groups.gather(groups.sample.df)
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


def _correlation_factor(groups: _Groups, n: np.ndarray) -> tuple[np.ndarray, list[_Reason]]:
    rbar, _ = groups.mean_correlation
    denom = 1.0 + (n - 1) * rbar
    reasons: list[_Reason] = [
        (~np.isfinite(rbar), "needs at least 2 firm-events with estimation-window residuals"),
        (np.isfinite(rbar) & (denom <= 0), "1 + (N - 1) r-bar <= 0 (negative mean correlation)"),
    ]
    return rbar, reasons


def adjusted_patell(groups: _Groups, w: _Window) -> TestResult:
    """Patell Z adjusted for cross-correlation (Kolari & Pynnönen 2010).

    ``Z_adj = Z_Patell / sqrt(1 + (N - 1) r)``, ``r`` the mean pairwise correlation of the group's
    estimation-window residuals
    (:meth:`~eventstudy.inference.engine._GroupPlan._mean_correlation`). Standard normal."""
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


def skewness_adjusted_t(groups: _Groups, w: _Window) -> TestResult:
    """Skewness-adjusted t (Hall 1992; Lyon, Barber & Tsai 1999, eq. 5; Johnson 1978).

    On the ARs (CARs) ``A``: ``S = mean / sd`` (``sd`` on ``N - 1``),
    ``g = sum (A - mean)^3 / (N sd^3)``, ``t = sqrt(N) (S + g S^2 / 3 + g / (6 N))``; Student t with
    ``N - 1`` df (the analytic version; Lyon et al. also bootstrap it)."""
    n, mean, sd, dev = w.shared("moments_x", lambda: _moments(groups, w.x))
    t = skewness_adjusted_statistic(n, mean, sd, groups.sum(dev * dev * dev))  # not pow()
    reasons = [*_needs(n, 3), (sd == 0, "zero cross-sectional sd")]
    return _result(t, _tp(t, n - 1), n, n - 1, reasons)


def brown_warner_1980(groups: _Groups, w: _Window) -> TestResult:
    """Brown & Warner (1980) t under cross-sectional independence, as estudy2's
    ``brown_warner_1980``.

    ``s_i^2`` = variance of firm-event ``i``'s estimation residuals about their mean, on
    ``M_i - 1``. Day ``t``: ``t = AAR_t / (sqrt(sum_i s_i^2) / N_t)`` over the ``N_t`` firm-events
    with an AR. Window: ``t = sum_t AAR_t / sqrt(sum_t sum_i s_i^2 / N_t^2)`` over its days with
    an AAR (with complete data ``CAAR / (sqrt(L) sqrt(sum_i s_i^2) / N)``). Student t with
    ``mean(M_i) - 1`` df over the firm-events used."""
    s2 = groups.gather(groups.resid_var)
    daily = _daily_ar(groups, w)
    if not np.isfinite(s2).all():  # (a residual variance is missing only without residuals)
        daily = _means_of(groups, daily.x, daily.valid & np.isfinite(s2)[:, None])
    valid, n, cnt, aar = daily.valid, daily.n, daily.cnt, daily.mean
    used = np.asarray(valid.any(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        var = groups.sum(np.where(valid, s2[:, None], 0.0)) / cnt**2
        has = cnt > 0
        t = np.where(has, aar, 0.0).sum(axis=1) / np.sqrt(np.where(has, var, 0.0).sum(axis=1))
        m = groups.gather(groups.sample.row_stats.m_resid.astype(float))
        df = groups.sum(np.where(used, m, 0.0)) / n - 1.0
    return _result(t, _tp(t, df), n, df, _needs(n))


def lamb(groups: _Groups, w: _Window) -> TestResult:
    """Lamb (1995) Z, as estudy2's ``lamb`` and ``car_lamb``.

    The time-series scale ``S`` of :func:`time_series_t` with the prediction error of day ``t``:
    ``Z_t = AAR_t / (S sqrt(1 + hbar_t))``, ``hbar_t`` the mean leverage of the ARs averaged
    (for one market model and estimation window, ``1/M + (R_mt - mean R_m)^2 / S_mm``). Window:
    ``Z = sum_t Z_t / sqrt(L)`` over its ``L`` days with an AAR. Standard normal."""
    s, days = groups.time_series_scale
    daily = _daily_ar(groups, w)
    valid, n, cnt, aar = daily.valid, daily.n, daily.cnt, daily.mean
    lev = groups.gather(groups.sample.h[:, w.cols])
    with np.errstate(invalid="ignore", divide="ignore"):
        hbar = groups.sum(np.where(valid, lev, 0.0)) / cnt
        z_day = aar / (s[:, None] * np.sqrt(1.0 + hbar))
        has = cnt > 0
        z = np.where(has, z_day, 0.0).sum(axis=1) / np.sqrt(has.sum(axis=1))
    reasons = [*_needs(n), (days < 2, "needs at least 2 estimation-window days")]
    return _result(z, normal_pvalue(z), n, None, reasons)
