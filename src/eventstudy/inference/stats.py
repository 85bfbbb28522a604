"""Significance of abnormal returns: per firm-event t-tests and cross-sectional tests of the mean.

Conventions (docs/conventions.md): p-values are two-sided. A firm-event's AR or CAR t-statistic
divides by the prediction-error-corrected standard error from :mod:`eventstudy.estimation.kernel`
and uses
Student's t with the model's residual degrees of freedom ``M - p`` (CLM 1997, eq. 4.4.9-4.4.14).
The cross-sectional t of an AAR or CAAR (Brown & Warner 1985) is ``mean / (sd / sqrt(N))`` with the
sample standard deviation (denominator ``N - 1``) and ``N - 1`` degrees of freedom.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from eventstudy import parallel


def t_pvalue(t: np.ndarray, df: np.ndarray | float) -> np.ndarray:
    """Two-sided p-value of a Student-t statistic (NaN where ``t`` or ``df`` is not usable)."""
    t, df = np.broadcast_arrays(np.asarray(t, dtype=float), np.asarray(df, dtype=float))
    flat_t, flat_df = t.ravel(), df.ravel()
    out = np.empty(flat_t.shape)

    def part(rows: slice) -> None:
        # stats.t.sf(x, df) is special.stdtr(df, -x); called directly it skips scipy.stats'
        # argument checks, which cost as much again on a million values (same numbers).
        with np.errstate(invalid="ignore"):
            special.stdtr(flat_df[rows], -np.abs(flat_t[rows]), out=out[rows])

    cuts = np.linspace(0, len(out), parallel.THREADS + 1).astype(int)
    parallel.for_each(part, map(slice, cuts[:-1], cuts[1:]), len(out))
    out *= 2.0
    out[~(np.isfinite(flat_t) & (flat_df > 0))] = np.nan
    return out.reshape(t.shape)


def normal_pvalue(z: np.ndarray) -> np.ndarray:
    """Two-sided p-value of a standard-normal statistic."""
    z = np.asarray(z, dtype=float)
    return 2.0 * special.ndtr(-np.abs(z))  # stats.norm.sf(x), without its argument checks


def cross_sectional_t(values: np.ndarray, axis: int = 0) -> dict[str, np.ndarray]:
    """Mean across firm-events with its cross-sectional t and p (NaN where fewer than 2 values).

    ``values`` holds one row per firm-event (``axis=0``); missing values are left out."""
    values = np.moveaxis(np.asarray(values, dtype=float), axis, 0)
    stats = grouped_cross_sectional_t(np.zeros(len(values), dtype=np.intp), values, 1)
    return {k: v[0].reshape(values.shape[1:]) for k, v in stats.items()}


def grouped_cross_sectional_t(
    groups: np.ndarray, values: np.ndarray, n_groups: int
) -> dict[str, np.ndarray]:
    """:func:`cross_sectional_t` within each group: ``groups`` (n,) in ``0 .. n_groups - 1``, one
    per row of ``values`` (n,) or (n, L). Returns (n_groups, L) arrays ``mean``, ``n``, ``sd``
    (denominator N - 1), ``t = mean / (sd / sqrt(N))`` and two-sided ``p`` on N - 1 degrees of
    freedom; NaN where a group has fewer than 2 values (Brown & Warner 1985)."""
    groups = np.asarray(groups, dtype=np.intp)
    values = np.asarray(values, dtype=float).reshape(len(groups), -1)
    valid = np.isfinite(values)
    total = np.zeros((n_groups, values.shape[1]))
    count = np.zeros_like(total)
    np.add.at(total, groups, np.where(valid, values, 0.0))
    np.add.at(count, groups, valid)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
        sq = np.zeros_like(total)
        np.add.at(sq, groups, np.where(valid, values - mean[groups], 0.0) ** 2)
        sd = np.where(count > 1, np.sqrt(sq / (count - 1)), np.nan)
        t = np.where(count >= 2, mean / (sd / np.sqrt(count)), np.nan)
    n = count.astype(int)
    return {"mean": mean, "n": n, "sd": sd, "t": t, "p": t_pvalue(t, n - 1)}


def skewness_adjusted_statistic(
    n: np.ndarray, mean: np.ndarray, sd: np.ndarray, cube_sum: np.ndarray
) -> np.ndarray:
    """Skewness-adjusted t (Hall 1992; Lyon, Barber & Tsai 1999, eq. 5) from a sample's size,
    mean, sd (denominator N - 1) and sum of cubed deviations: ``S = mean / sd``,
    ``g = cube_sum / (N sd^3)``, ``t = sqrt(N) (S + g S^2 / 3 + g / (6 N))``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        s = mean / sd
        g = cube_sum / (n * sd**3)
        return np.sqrt(n) * (s + g * s**2 / 3.0 + g / (6.0 * n))
