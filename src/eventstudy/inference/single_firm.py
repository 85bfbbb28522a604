"""Tests of one firm-event at a time, beside the CAR's own t-test: the sample-quantile test of
Gelbach, Helland & Klick (2013) and the multiple-testing adjustment of the firm-events' p-values
(Holm 1979; Benjamini & Hochberg 1995). Both add columns to ``car.csv`` (docs/tests.md,
"Single firm-events").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from eventstudy import parallel
from eventstudy.inference.sample import HeldResiduals, row_counts

if TYPE_CHECKING:
    from eventstudy.estimation.kernel import Residuals

#: Firm-events per chunk of the sample-quantile pass: a chunk's residuals, cumulative sums and
#: run sums (2 MB each at 240 estimation days) stay in a core's cache (4096: 10% slower).
CHUNK_ROWS = 1024


def sample_quantile_p(
    resid: np.ndarray | Residuals | HeldResiduals, car: np.ndarray, lengths: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """The sample-quantile p-values of Gelbach, Helland & Klick (2013), one-sided each way.

    ``resid``: estimation-window residuals, firm-events x estimation days (NaN where missing;
    an array or a fit's :class:`~eventstudy.estimation.kernel.Residuals`, read by chunks);
    ``car``: firm-events x windows, the event's CAR of each window; ``lengths``: each window's
    length ``L`` in days. For firm-event ``i`` and window ``k`` the reference distribution is
    the sums of ``L`` consecutive estimation residuals (the ``M - L + 1`` overlapping runs of
    ``L`` estimation days, a run with a missing residual left out); returns ``(lower, upper)``,
    the shares of those sums ``<= CAR`` and ``>= CAR`` (NaN without a CAR or without any
    complete run). The sums come from one cumulative sum per firm-event, by chunks (in threads,
    :mod:`eventstudy.parallel`)."""
    if isinstance(resid, HeldResiduals):  # computed where the residuals are (Dask workers)
        return resid.quantile_p(car, lengths)
    n, days = resid.shape
    lower = np.full(car.shape, np.nan)
    upper = np.full(car.shape, np.nan)

    def chunk(a: int) -> None:  # writes its own rows only
        rows = slice(a, min(n, a + CHUNK_ROWS))
        r = resid[rows]
        valid = np.isfinite(r)
        complete_rows = bool(valid.all())
        c = len(r)
        cum = np.zeros((c, days + 1))
        np.cumsum(r if complete_rows else np.where(valid, r, 0.0), axis=1, out=cum[:, 1:])
        gaps = None
        if not complete_rows:
            gaps = np.zeros((c, days + 1), dtype=np.int32)
            np.cumsum(~valid, axis=1, out=gaps[:, 1:])
        for k, length in enumerate(lengths):
            if length > days:
                continue
            if length == 1 and gaps is None:
                sums = r  # the residuals themselves
            else:
                sums = cum[:, length:] - cum[:, : days + 1 - length]
            x = car[rows, k][:, None]
            if gaps is None:
                runs = np.full(c, days + 1 - length)
                below = row_counts(sums <= x)
                above = row_counts(sums >= x)
            else:
                complete = (gaps[:, length:] - gaps[:, : days + 1 - length]) == 0
                runs = row_counts(complete)
                below = row_counts(complete & (sums <= x))
                above = row_counts(complete & (sums >= x))
            ok = (runs > 0) & np.isfinite(car[rows, k])
            with np.errstate(invalid="ignore", divide="ignore"):
                lower[rows, k] = np.where(ok, below / runs, np.nan)
                upper[rows, k] = np.where(ok, above / runs, np.nan)

    parallel.for_each(chunk, range(0, n, CHUNK_ROWS), n)
    return lower, upper


def adjusted_p(p: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Holm (1979) and Benjamini-Hochberg (1995) adjusted p-values within each ``group`` (any
    labels, one per p-value): the numbers of statsmodels' ``multipletests(p, method="holm")``
    and ``method="fdr_bh"`` applied to each group's finite p-values, for all groups at once.

    Sorting a group's ``m`` finite p-values ascending (``j = 1 .. m``): Holm's is
    ``min(1, max_{i <= j} (m - i + 1) p_(i))``, Benjamini-Hochberg's
    ``min(1, min_{i >= j} p_(i) / (i / m))``. A missing p-value stays missing and does not count
    in ``m``."""
    p = np.asarray(p, dtype=float)
    holm = np.full(len(p), np.nan)
    bh = np.full(len(p), np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    if not len(finite):
        return holm, bh
    codes = pd.factorize(np.asarray(group)[finite])[0]
    sizes = np.bincount(codes)
    if len(sizes) * int(sizes.max()) <= 2 * len(codes):  # groups of about one size
        at, holm_f, bh_f = _adjusted_by_rows(p[finite], codes, sizes)
        holm[finite[at]], bh[finite[at]] = holm_f, bh_f
        return holm, bh
    # Sorted by group, then p: p sorted first, then a stable sort by group (a radix sort for up
    # to 2**16 groups), which costs half a lexsort. The order among equal p-values of a group
    # does not change the adjusted values (the running max and min give them all the same).
    by_p = np.argsort(p[finite])
    order = by_p[np.argsort(_small(codes)[by_p], kind="stable")]
    del by_p  # (a million firm-events' CARs: 3M p-values; temporaries let go early)
    at, code, ps = finite[order], codes[order], p[finite][order]
    del order, codes, finite
    start = np.r_[True, code[1:] != code[:-1]]
    first = np.maximum.accumulate(np.where(start, np.arange(len(code)), 0))
    del start
    m = np.bincount(code)[code]
    j = np.arange(len(code)) - first + 1  # rank within the group
    del first
    holm_raw = pd.Series(ps * (m - j + 1)).groupby(code).cummax().to_numpy()
    bh_raw = ps / (j / m)
    del m, j, ps
    back = slice(None, None, -1)
    bh_min = pd.Series(bh_raw[back]).groupby(code[back]).cummin().to_numpy()[back]
    holm[at] = np.minimum(holm_raw, 1.0)
    bh[at] = np.minimum(bh_min, 1.0)
    return holm, bh


def _small(codes: np.ndarray) -> np.ndarray:
    """Group codes in the smallest type numpy sorts stably by radix (up to 2**16 groups)."""
    return codes.astype(np.uint16 if len(codes) and codes.max() < 2**16 else np.intp)


def _adjusted_by_rows(
    ps: np.ndarray, codes: np.ndarray, sizes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`adjusted_p` of finite ``ps`` with groups of about one size (``codes`` 0 .. G-1,
    ``sizes`` their counts): each group one row of a (G, largest size) array padded with +inf,
    sorted row by row (many short sorts instead of a sort of everything), the running max and min
    taken along the rows. The same arithmetic as the general path, so the same numbers to the
    bit. Returns the positions in ``ps`` and their Holm and BH values."""
    order = np.argsort(_small(codes), kind="stable")  # each group's p-values together
    g = codes[order]
    col = np.arange(len(g))
    col -= (np.cumsum(sizes) - sizes)[g]
    width = int(sizes.max())
    grid = np.full((len(sizes), width), np.inf)  # padding sorts last, p-values are finite
    grid[g, col] = ps[order]
    where = np.full(grid.shape, -1)
    where[g, col] = order
    del order, g, col  # (a million firm-events' CARs: 3M p-values; temporaries let go early)
    by_p = np.argsort(grid, axis=1)
    ps_sorted = np.take_along_axis(grid, by_p, axis=1)
    where = np.take_along_axis(where, by_p, axis=1)
    del grid, by_p
    m = sizes[:, None]
    j = np.arange(1, width + 1)[None, :]  # rank within the group
    real = j <= m
    with np.errstate(invalid="ignore"):  # the padding: inf x 0 (never read)
        holm = ps_sorted * (m - j + 1)
    np.maximum.accumulate(holm, axis=1, out=holm)
    holm = np.minimum(holm[real], 1.0)
    bh = np.divide(ps_sorted, j / m, out=ps_sorted)  # the padding stays +inf: never a minimum
    back = bh[:, ::-1]
    np.minimum.accumulate(back, axis=1, out=back)
    return where[real], holm, np.minimum(bh[real], 1.0)
