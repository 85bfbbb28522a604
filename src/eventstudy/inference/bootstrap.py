"""Bootstrap tests of the mean abnormal return (study key ``bootstrap: {reps, seed}``).

* ``wild_bootstrap_t``: the cross-sectional t of the AAR (a day) or CAAR (a window) with a wild
  bootstrap p-value (Wu 1986; Rademacher weights and the null imposed, Davidson & Flachaire
  2008).
* ``bootstrap_skewness_adjusted_t`` (CAR windows) and ``bhar_bootstrap_skewness_adjusted_t``
  (BHAR windows): the skewness-adjusted t with the bootstrap p-value of Lyon, Barber & Tsai
  (1999, section III).

Both resample firm-events of every group (event, or the pooled sample) and window at once,
``reps`` replications in chunks of :data:`CHUNK_REPS`; every chunk draws from its own random
stream, derived from the seed, the test, the window and the chunk's number, so the p-values of a
study are the same for a given seed whatever the number of threads. The formulas and conventions
are in docs/tests.md ("Bootstrap").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from eventstudy import parallel
from eventstudy.inference.stats import grouped_cross_sectional_t, skewness_adjusted_statistic

#: Replications per chunk (memory: a chunk holds chunk x firm-events draws).
CHUNK_REPS = 32
#: Replications a chunk works on at once (its random draws are made for the whole chunk, so the
#: numbers do not depend on this): 1M firm-events would otherwise hold several arrays of
#: 32 x 1M float64 per thread. Read at each call (tests set it to 1).
BLOCK_REPS = 4
#: Random streams: one per test (and grouping, window), see :func:`_generator`.
_WILD, _SKEW, _BHAR_SKEW = 1, 2, 3
#: Relative days are shifted by this to key a random stream (keys are non-negative).
_DAY_OFFSET = 1 << 20


@dataclass
class Bootstrapped:
    """One bootstrap test per group and window: arrays (groups, windows)."""

    statistic: np.ndarray
    p_value: np.ndarray
    n: np.ndarray
    note: np.ndarray  # object array of str


def _generator(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *key]))


def _chunks(reps: int) -> list[tuple[int, int]]:
    """``(number, size)`` of each chunk of replications."""
    return [(k, min(CHUNK_REPS, reps - a)) for k, a in enumerate(range(0, reps, CHUNK_REPS))]


def _p_from_counts(extreme: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``(1 + count) / (B + 1)`` (Davison & Hinkley 1997, eq. 4.11), capped at 1."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.minimum(1.0, (1.0 + extreme) / (1.0 + valid))


def _notes(n: np.ndarray, need: int, ok: np.ndarray) -> np.ndarray:
    note = np.full(n.shape, "", dtype=object)
    few = n < need
    for k in np.unique(n[few]):
        note[few & (n == k)] = f"needs at least {need} firm-events (has {int(k)})"
    note[~few & ~ok] = "zero cross-sectional sd"
    return note


# ----------------------------------------------------------------------------- wild bootstrap
def wild_bootstrap_t(
    x: np.ndarray, labels: np.ndarray, n_groups: int, reps: int, seed: int
) -> Bootstrapped:
    """The cross-sectional t of each group's mean of each column of ``x`` (firm-events x
    windows, NaN where a firm-event has no value) with its wild-bootstrap p-value.

    ``t = mean(A) / (sd(A) / sqrt(N))`` (Brown & Warner 1985, ``sd`` on ``N - 1``). Each
    replication ``b`` draws one Rademacher weight ``w_ib = +-1`` (probability 1/2 each) per
    firm-event and sets ``A*_i = w_ib A_i``: the null (mean 0) imposed, the residuals being the
    values themselves (Davidson & Flachaire 2008). As ``sum A*^2 = sum A^2``,
    ``t*_b = (S_b / N) / sqrt((sum A^2 - S_b^2 / N) / ((N - 1) N))`` with ``S_b = sum_i w_ib A_i``
    (one sparse product for all groups and windows). Two-sided p-value
    ``(1 + #{b: |t*_b| >= |t|}) / (B + 1)``. A firm-event keeps its weight in every window of a
    replication."""
    x = np.asarray(x, dtype=float)
    labels = np.asarray(labels, dtype=np.intp)
    n_fe, n_win = x.shape
    valid = np.isfinite(x)
    xv = np.where(valid, x, 0.0)
    stats = grouped_cross_sectional_t(labels, x, n_groups)
    n = stats["n"]
    total = np.zeros((n_groups, n_win))
    squares = np.zeros((n_groups, n_win))
    np.add.at(total, labels, xv)
    np.add.at(squares, labels, xv * xv)
    with np.errstate(invalid="ignore", divide="ignore"):
        observed = np.abs(_t_from_sums(total, squares, n))
    rows, cols = np.nonzero(valid)
    by_group = sparse.csr_matrix(
        (xv[rows, cols], (labels[rows] * n_win + cols, rows)), shape=(n_groups * n_win, n_fe)
    )
    obs = observed.ravel()
    with np.errstate(invalid="ignore"):
        tol = 1e-12 * np.maximum(1.0, obs)

    def chunk(job: tuple[int, int]) -> np.ndarray:
        number, size = job
        bits = _generator(seed, _WILD, number).integers(0, 2, size=(n_fe, size), dtype=np.int8)
        nn, ss = n.ravel()[:, None], squares.ravel()[:, None]
        out = np.zeros(len(obs), dtype=np.intp)
        step = max(1, BLOCK_REPS)
        for a in range(0, size, step):
            # A few replications' weights at a time: each column of the product is summed
            # over the same entries in the same order whatever the columns beside it.
            weights = 1.0 - 2.0 * bits[:, a : a + step]
            s = by_group @ weights  # (groups x windows, replications)
            with np.errstate(invalid="ignore", divide="ignore"):
                t = np.abs(_t_from_sums(s, ss, nn))
                out += (np.nan_to_num(t, nan=np.inf) >= (obs - tol)[:, None]).sum(axis=1)
        return out

    counts = np.zeros(len(obs))
    for part in parallel.ordered_map(chunk, _chunks(reps), n_fe * reps):
        counts += part
    ok = (n >= 2) & (stats["sd"] > 0)
    p = _p_from_counts(np.asarray(counts).reshape(n_groups, n_win), np.full(n.shape, reps))
    return Bootstrapped(
        np.where(ok, stats["t"], np.nan), np.where(ok, p, np.nan), n, _notes(n, 2, ok)
    )


def _t_from_sums(total: np.ndarray, squares: np.ndarray, n: np.ndarray) -> np.ndarray:
    """The cross-sectional t from ``sum A``, ``sum A^2`` and ``N`` (a zero or negative variance
    gives an infinite t)."""
    var = np.maximum(squares - total * total / n, 0.0) / ((n - 1.0) * n)
    return (total / n) / np.sqrt(var)


# ----------------------------------------------------------------- bootstrapped skewness t
def bootstrap_skewness_adjusted_t(
    x: np.ndarray, labels: np.ndarray, n_groups: int, reps: int, seed: int, key: Sequence[int]
) -> Bootstrapped:
    """The skewness-adjusted t of each group's values ``x`` (one per firm-event, NaN where
    missing) with the bootstrap p-value of Lyon, Barber & Tsai (1999, section III); arrays of
    shape (groups, 1).

    ``t_sa = sqrt(N) (S + g S^2 / 3 + g / (6 N))``, ``S = mean / sd``, ``g`` the skewness
    coefficient (:func:`~eventstudy.inference.stats.skewness_adjusted_statistic`). Each
    replication draws ``n_b = max(3, floor(N / 4))`` firm-events with replacement (LBT: resamples
    of a quarter of the sample) and computes the statistic of the resample centred on the full
    sample's mean: ``S*_b = (mean(A*) - mean(A)) / sd(A*)``, ``g*`` of the resample,
    ``t*_b = sqrt(n_b) (S*_b + g* S*_b^2 / 3 + g* / (6 n_b))``. Two-sided, equal-tailed p-value
    ``min(1, 2 min(1 + #{t*_b <= t_sa}, 1 + #{t*_b >= t_sa}) / (B + 1))`` (LBT reject when
    ``t_sa`` falls outside the bootstrap distribution's 2.5th and 97.5th percentiles);
    replications whose resample does not vary are left out of ``B``. ``key`` names the random
    stream (the window)."""
    x = np.asarray(x, dtype=float)
    labels = np.asarray(labels, dtype=np.intp)
    valid = np.isfinite(x)
    stats = grouped_cross_sectional_t(labels, x, n_groups)
    n, mean, sd = stats["n"][:, 0], stats["mean"][:, 0], stats["sd"][:, 0]
    members = np.flatnonzero(valid)
    lab = labels[members]
    order = np.argsort(lab, kind="stable")
    y = x[members][order] - mean[lab[order]]  # centred on the group's full-sample mean
    cubes = np.bincount(lab[order], weights=y**3, minlength=n_groups)
    observed = skewness_adjusted_statistic(n, mean, sd, cubes)
    ok = (n >= 3) & (sd > 0) & np.isfinite(observed)
    start = np.r_[0, np.cumsum(n)[:-1]]
    size = np.where(ok, np.maximum(3, n // 4), 0)
    groups = np.flatnonzero(size)
    lo = np.zeros(n_groups)
    hi = np.zeros(n_groups)
    used = np.zeros(n_groups)
    if len(groups):
        nb = size[groups]
        first = np.repeat(start[groups], nb)
        count = np.repeat(n[groups], nb)
        seg = np.r_[0, np.cumsum(nb)[:-1]]
        t_obs = observed[groups]

        def chunk(job: tuple[int, int]) -> tuple[np.ndarray, ...]:
            number, reps_here = job
            gen = _generator(seed, *key, number)
            below, above, counted = (np.zeros(len(groups), dtype=np.intp) for _ in range(3))
            step = max(1, BLOCK_REPS)
            for a in range(0, reps_here, step):
                # The chunk's uniforms a few replications (rows) at a time: the same stream
                # as all rows at once, and each row's statistics are its own.
                u = gen.random((min(step, reps_here - a), len(first)))
                pick = np.minimum((u * count).astype(np.intp), count - 1) + first
                yb = y[pick]
                y2 = yb * yb
                s1 = np.add.reduceat(yb, seg, axis=1)
                s2 = np.add.reduceat(y2, seg, axis=1)
                s3 = np.add.reduceat(y2 * yb, seg, axis=1)
                with np.errstate(invalid="ignore", divide="ignore"):
                    m1 = s1 / nb
                    var = (s2 - nb * m1 * m1) / (nb - 1.0)
                    # A resample of one value repeated: its variance is rounding noise; left out.
                    sd_b = np.sqrt(np.where(var > 1e-12 * s2 / nb, var, np.nan))
                    cube = s3 - 3.0 * m1 * s2 + 2.0 * nb * m1**3
                    t = skewness_adjusted_statistic(nb, m1, sd_b, cube)
                finite = np.isfinite(t)
                below += (finite & (t <= t_obs)).sum(0)
                above += (finite & (t >= t_obs)).sum(0)
                counted += finite.sum(0)
            return below, above, counted

        work = int(nb.sum()) * reps
        for a, b, c in parallel.ordered_map(chunk, _chunks(reps), work):
            lo[groups] += a
            hi[groups] += b
            used[groups] += c
    p = np.minimum(1.0, 2.0 * _p_from_counts(np.minimum(lo, hi), used))
    ok &= used > 0
    return Bootstrapped(
        np.where(ok, observed, np.nan)[:, None],
        np.where(ok, p, np.nan)[:, None],
        n[:, None],
        _notes(n, 3, ok)[:, None],
    )


# ----------------------------------------------------------------------------- the rows
COLUMNS = ["event", "test", "start", "end", "statistic", "p_value", "n", "df", "note"]


def _rows(event: str, test: str, window: tuple[int, int], r: Bootstrapped, g: int, k: int) -> dict:
    return {
        "event": event,
        "test": test,
        "start": int(window[0]),
        "end": int(window[1]),
        "statistic": float(r.statistic[g, k]),
        "p_value": float(r.p_value[g, k]),
        "n": int(r.n[g, k]),
        "df": np.nan,
        "note": str(r.note[g, k]),
    }


def window_tests(
    values: dict[tuple[int, int], np.ndarray],
    labels: np.ndarray,
    names: Sequence[str],
    event_windows: Sequence[Sequence[tuple[int, int]]],
    car_windows: Sequence[Sequence[tuple[int, int]]],
    pooled_windows: Sequence[tuple[int, int]],
    pooled_name: str,
    tests: tuple[str, str],
    reps: int,
    seed: int,
) -> pd.DataFrame:
    """The bootstrap rows of ``tests.csv`` for the ARs and CARs: per event (then the pooled
    sample, ``pooled_name``), per window of the event (its days, then its multi-day CAR windows,
    ``event_windows``) the wild-bootstrap t (``tests[0]``), and on its CAR windows
    (``car_windows``) the bootstrapped skewness-adjusted t (``tests[1]``).

    ``values``: per window of ``pooled_windows`` (which holds every event's windows), the value
    of every firm-event (AR of a day, CAR of a window; NaN where it has none or its event window
    does not cover the window); ``labels``: each firm-event's event (an index into ``names``)."""
    windows = list(pooled_windows)
    col = {w: k for k, w in enumerate(windows)}
    if not windows or not len(labels):
        return pd.DataFrame(columns=COLUMNS)
    x = np.column_stack([values[w] for w in windows])
    labels = np.asarray(labels, dtype=np.intp)
    zeros = np.zeros(len(labels), dtype=np.intp)
    groupings = ((labels, len(names)), (zeros, 1))
    wild = [wild_bootstrap_t(x, lab, g, reps, seed) for lab, g in groupings]
    all_car = list(dict.fromkeys(w for ws in car_windows for w in ws))
    skew: dict[tuple[int, tuple[int, int]], Bootstrapped] = {}
    for which, (lab, g) in enumerate(groupings):
        for w in all_car:
            key = (_SKEW, which, w[0] + _DAY_OFFSET, w[1] + _DAY_OFFSET)
            skew[(which, w)] = bootstrap_skewness_adjusted_t(values[w], lab, g, reps, seed, key)
    blocks = [(0, g, name, list(event_windows[g]), set(car_windows[g]))
              for g, name in enumerate(names)]
    blocks.append((1, 0, pooled_name, windows, set(all_car)))
    out = []
    for which, g, name, ws, cars in blocks:
        for w in ws:
            out.append(_rows(name, tests[0], w, wild[which], g, col[w]))
            if w in cars:
                out.append(_rows(name, tests[1], w, skew[(which, w)], g, 0))
    return pd.DataFrame(out, columns=COLUMNS)


def bhar_tests(
    bhar: pd.DataFrame, pooled_name: str, test: str, reps: int | Mapping[str, int], seed: int
) -> pd.DataFrame:
    """The bootstrapped skewness-adjusted t of the mean BHAR (Lyon, Barber & Tsai 1999, section
    III.B), per event and pooled, per BHAR window: the one implementation of
    ``bhar_bootstrap_skewness_adjusted_t``, asked for by the study key ``bootstrap`` (its
    ``reps`` for every event) or by ``bhar_resamples`` (``reps`` per event: events not in it or
    at 0 are left out, and the pooled rows pool the others with the largest ``B``).

    ``bhar``: ``event, start, end, bhar`` rows (as ``bhar.csv``); rows in the order of
    :func:`eventstudy.inference.bhar.bhar_tests`. Groups sharing ``B`` draw together (one random
    stream: the seed and the test's key); ``note`` says how many resamples of which size."""
    events = bhar["event"].astype(str)
    if isinstance(reps, Mapping):
        asked = {str(e): int(b) for e, b in reps.items() if b}
    else:
        asked = dict.fromkeys(events, int(reps))
    bhar = bhar[events.isin(list(asked)).to_numpy()]
    if bhar.empty:
        return pd.DataFrame(columns=COLUMNS)
    both = pd.concat([bhar, bhar.assign(event=pooled_name)], ignore_index=True)
    codes, keys = pd.MultiIndex.from_frame(both[["event", "start", "end"]]).factorize()
    x = both["bhar"].to_numpy(dtype=float)
    top = max(asked.values())
    by_group = np.array([asked.get(str(e), top) for e, _, _ in keys])
    rows: list[dict | None] = [None] * len(keys)
    for b in dict.fromkeys(by_group.tolist()):
        groups = np.flatnonzero(by_group == b)
        local = np.full(len(keys), -1, dtype=np.intp)
        local[groups] = np.arange(len(groups))
        picked = local[codes] >= 0
        r = bootstrap_skewness_adjusted_t(
            x[picked], local[codes[picked]], len(groups), b, seed, (_BHAR_SKEW,)
        )
        for g, k in enumerate(groups):
            e, start, end = keys[k]
            row = _rows(str(e), test, (int(start), int(end)), r, g, 0)
            if np.isfinite(row["p_value"]):
                row["note"] = f"{b} resamples of {max(3, row['n'] // 4)}"
            rows[k] = row
    return pd.DataFrame(rows, columns=COLUMNS)
