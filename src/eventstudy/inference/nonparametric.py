"""The nonparametric tests of the battery: Corrado's rank test, the sign and generalised sign
tests, the Wilcoxon signed-rank test, the generalised rank test (GRANK) and Corrado & Zivney's
sign test.

Each test is a function ``(groups, window) -> TestResult``, as in
:mod:`eventstudy.inference.parametric`; each docstring gives the formula as implemented and its
paper, in the notation of :mod:`eventstudy.inference.engine`. :mod:`eventstudy.inference.registry`
lists the tests.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from eventstudy.inference.engine import (
    MIN_FIRMS,
    TestResult,
    _daily,
    _Groups,
    _needs,
    _prepare,
    _result,
    _summed_daily_means,
    _Window,
)
from eventstudy.inference.stats import normal_pvalue

#: Exact null distribution of the signed-rank statistic up to this many non-zero values (no ties).
WILCOXON_EXACT_MAX = 50


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
    frac = groups.gather(groups.sample.frac_positive)
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


def _ranks_within(
    values: np.ndarray, label: np.ndarray, order: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Average ranks of ``values`` within each label, and per element the size of its tie block
    (only at the block's first element, else 0). The order of tied values among themselves does
    not matter (average ranks; tie sizes are summed per label), so any sort by (label, value)
    does. ``order``: ``np.argsort(values)`` when already known."""
    if not len(values):
        return np.zeros(0), np.zeros(0)
    o = np.argsort(values) if order is None else order
    n = len(values)
    start: np.ndarray | int = 0  # each element's label block's first place
    new_label = np.zeros(n, dtype=bool)
    new_label[0] = True
    if label[0] != label[-1] or (label[1:] < label[:-1]).any():  # more than one label
        small = label.min() >= 0 and label.max() < 2**16  # radix-sorted as uint16
        o = o[np.argsort((label.astype(np.uint16) if small else label)[o], kind="stable")]
        lab = label[o]
        new_label[1:] = lab[1:] != lab[:-1]
        start = np.maximum.accumulate(np.where(new_label, np.arange(n), 0))
    v = values[o]
    new = new_label | np.r_[False, v[1:] != v[:-1]]
    if new.all():  # no ties (continuous data): each value its own block, ranks its places
        ranks = np.empty(n)
        ranks[o] = np.arange(1.0, n + 1.0) - start
        return ranks, np.ones(n)
    first = np.flatnonzero(new)
    last = np.r_[first[1:] - 1, len(v) - 1]
    block = np.cumsum(new) - 1
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
    values = np.abs(w.x[idx])
    # The sort of the values, the test's main cost, is shared by the groupings in sample order.
    order = w.across_groupings(groups, "wilcoxon_order", lambda: np.argsort(values))
    ranks, ties = _ranks_within(values, groups.label[idx], order)
    pos_rank = np.zeros(len(w.x))
    pos_rank[idx] = np.where(w.x[idx] > 0, ranks, 0.0)
    n1 = groups.sum(nz)
    wplus = groups.sum(pos_rank)
    if (ties > 1).any():
        tie_term = np.zeros(len(w.x))
        tie_term[idx] = ties**3 - ties
        tie_sum = groups.sum(tie_term)
    else:  # no ties: every term 0
        tie_sum = np.zeros(len(n1))
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
    ``SCAR*_i = SCAR_i / sd(SCAR)`` (``SCAR`` as in :func:`~eventstudy.inference.parametric.bmp`,
    ``sd`` cross-sectional on ``N - 1``). Each firm-event ranks its ``M_i + 1`` values (average
    ranks for ties), ``U_it = rank / (M_i + 2) - 1/2``. With ``Ubar_t`` the mean over the ``N_t``
    firm-events with a value on day ``t`` and ``T`` = estimation days with a value + 1:
    ``S^2 = (1/T) sum_t (N_t / N) Ubar_t^2``, ``Z = Ubar_0 / S``,
    ``t = Z sqrt((T - 2) / (T - 1 - Z^2))``, Student t with ``T - 2`` df.

    Computed in the residual pass (:func:`~eventstudy.inference.engine._prepare`): the estimation
    ranks once per firm-event and their group sums once; a window's x* moves each estimation rank
    up by 1 where ``e > x*`` (1/2 where ``e == x*``), so a window only adds those moves (counted
    where a group's firm-events share one ``M_i``) and takes back the firm-events it leaves out."""
    window = (int(w.start), int(w.end))
    if window not in groups.grank_results:
        _prepare([groups], [window])
    return groups.grank_results[window]


def corrado_sign(groups: _Groups, w: _Window) -> TestResult:
    """Sign test of Corrado & Zivney (1992), as estudy2's ``corrado_sign_test``.

    Each firm-event's ``G_it = sign(A_it - median_i)``, ``median_i`` the median of its ``T_i``
    non-missing values of the combined estimation + event window (estimation residuals and event
    ARs). ``S(G) = sqrt((1/T) sum_t (sum_i G_it / sqrt(N_t))^2)`` over the ``T`` combined days
    with a value (``N_t`` firm-events on day ``t``). Day: ``Z = sum_i G_it / (sqrt(N_t) S(G))``;
    window: ``Z = sum_t Z_t / sqrt(L)`` over its ``L`` days with a value (the form of Cowan's
    window rank test). Standard normal."""
    s, _ = groups.sign_scale
    g, valid, n = _daily(groups, groups.sign_ev, w)
    cnt = groups.sum(valid)
    with np.errstate(invalid="ignore", divide="ignore"):
        z_day = groups.sum(np.where(valid, g, 0.0)) / (np.sqrt(cnt) * s[:, None])
        has = cnt > 0
        z = np.where(has, z_day, 0.0).sum(axis=1) / np.sqrt(has.sum(axis=1))
    return _result(z, normal_pvalue(z), n, None, [*_needs(n), (s == 0, "signs do not vary")])
