"""Lyon, Barber & Tsai's (1999) two resampling tests of mean BHARs, per event and pooled, per
BHAR window (``bhar_resamples: B`` asks for them; docs/long_horizon.md).

* **Bootstrapped skewness-adjusted t** (``bhar_bootstrap_skewness_adjusted_t``; LBT 1999,
  section III.B): computed by :func:`eventstudy.inference.bootstrap.bhar_tests`, the one
  implementation the study key ``bootstrap`` also uses (its formula and p-value are in
  docs/tests.md, "Bootstrap"); ``B`` resamples per event, drawn with the ``bootstrap`` seed (its
  default without the key).
* **Empirical p-value from pseudo-portfolios** (``bhar_empirical_p``; LBT 1999, section III.C):
  each of ``B`` pseudo-samples replaces every firm-event by a firm drawn at random from its pool,
  held over the same sessions and compounded against the same benchmark; the p-value is where
  the sample's mean BHAR falls in the distribution of the pseudo-samples' means (two-sided:
  ``min(1, 2 min(P*(m_b <= m), P*(m_b >= m)))``). LBT draw from the firms of the sample firm's
  size and book-to-market portfolio; here the pool is the event's ``reference_portfolio`` or,
  without one, every firm of the study. Needs a benchmark other than the normal-return model (a
  pseudo-firm has no fitted model).

Pseudo-portfolios are drawn from a generator seeded by the event name and the window, so a run's
numbers do not change from run to run.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping

import numpy as np
import pandas as pd

from eventstudy.data.panel import ReturnsPanel
from eventstudy.estimation.benchmarks import benchmark_returns
from eventstudy.estimation.fit import StudyFit
from eventstudy.inference import bootstrap
from eventstudy.inference.registry import BHAR_RESAMPLING_TESTS
from eventstudy.study import DEFAULTS, POOLED


def _rng(event: str, start: int, end: int) -> np.random.Generator:
    return np.random.default_rng([1999, zlib.crc32(f"{event}|{start}|{end}".encode())])


def _two_sided(draws: np.ndarray, observed: float) -> float:
    draws = draws[np.isfinite(draws)]
    if not len(draws) or not np.isfinite(observed):
        return np.nan
    below, above = float(np.mean(draws <= observed)), float(np.mean(draws >= observed))
    return min(1.0, 2.0 * min(below, above))


def empirical_p(
    observed: float, pseudo: np.ndarray, resamples: int, rng: np.random.Generator
) -> float:
    """The p-value of a sample's mean BHAR among ``resamples`` pseudo-sample means; ``pseudo``:
    firm-events x pool, each firm-event's BHAR were it a pool firm (NaN: not in its pool, or no
    returns; each row draws among its finite entries)."""
    finite = np.isfinite(pseudo)
    size = finite.sum(axis=1)
    rows = np.flatnonzero(size > 0)
    if not len(rows):
        return np.nan
    # Each row's finite entries first, so a draw below its count picks one of them.
    order = np.argsort(~finite[rows], axis=1, kind="stable")
    packed = np.take_along_axis(pseudo[rows], order, axis=1)
    pick = (rng.random((resamples, len(rows))) * size[rows]).astype(np.intp)
    means = packed[np.arange(len(rows)), pick].mean(axis=1)
    return _two_sided(means, observed)


def resampling_tests(
    bhar: pd.DataFrame,
    resamples: Mapping[str, int],
    pseudo: np.ndarray | None = None,
    seed: int = DEFAULTS.bootstrap_seed,
) -> pd.DataFrame:
    """Both tests per (event, window) and pooled (``all``), in the battery's columns.

    ``bhar``: ``event, start, end, bhar`` per firm-event and window (as ``bhar_frame()``);
    ``resamples``: ``B`` per event (0: not asked; the pooled rows take the largest);
    ``pseudo``: rows of ``bhar`` x pool firms, the pseudo-BHARs of :func:`empirical_p` (None or
    an all-NaN row: the empirical p-value is not available); ``seed``: the bootstrap's."""
    asked = {str(e): int(b) for e, b in resamples.items() if b}
    if bhar.empty or not asked:
        return pd.DataFrame()
    boot, emp = BHAR_RESAMPLING_TESTS
    skew = bootstrap.bhar_tests(bhar, POOLED, boot.name, asked, seed)
    x_all = bhar["bhar"].to_numpy(dtype=float)
    if pseudo is None:
        pseudo = np.full((len(bhar), 1), np.nan)
    events = bhar["event"].astype(str).to_numpy()
    starts, ends = bhar["start"].to_numpy(), bhar["end"].to_numpy()
    rows = []
    for row in skew.itertuples(index=False):
        name, start, end = str(row.event), int(row.start), int(row.end)
        b = asked.get(name, max(asked.values()))
        mask = (starts == start) & (ends == end)
        mask &= (events == name) if name in asked else np.isin(events, list(asked))
        ok = mask & np.isfinite(x_all)
        x = x_all[ok]
        n = len(x)
        rows.append(tuple(row))
        mean = float(x.mean()) if n else np.nan
        p_emp = empirical_p(mean, pseudo[ok], b, _rng(name, start, end))
        if np.isfinite(p_emp):
            note = f"{b} pseudo-portfolios"
        else:
            note = "needs bhar_benchmark market, matched or portfolio (and returns of its pool)"
        rows.append((name, emp.name, start, end, mean, p_emp, n, np.nan, note))
    return pd.DataFrame(rows, columns=bootstrap.COLUMNS)


def pseudo_bhars(
    panel: ReturnsPanel,
    fit: StudyFit,
    bhar: pd.DataFrame,
    matches: Mapping[tuple[str, str], str] | None = None,
    log: bool = False,
) -> np.ndarray:
    """For each row of ``bhar`` (``event, ticker, start, end``), the BHAR every firm of its pool
    would have had over the same sessions against the same benchmark: rows x the largest pool
    (NaN beyond a row's pool, for the model benchmark and where a pool firm has no return on
    any day of the window). The pool: the event's ``reference_portfolio``, else every firm of the
    study with returns."""
    study_firms = [t for t in dict.fromkeys(t for e in fit.events for t in e.tickers)]
    index = {t: j for j, t in enumerate(panel.tickers)}
    pools = {
        e.name: [index[t] for t in (e.reference_portfolio or study_firms) if t in index]
        for e in fit.events
    }
    width = max((len(p) for p in pools.values()), default=1) or 1
    out = np.full((len(bhar), width), np.nan)
    if bhar.empty:
        return out
    where = {
        key: i
        for i, key in enumerate(
            zip(bhar["event"], bhar["ticker"], bhar["start"], bhar["end"], strict=True)
        )
    }
    values = np.expm1(panel.values) if log else panel.values
    for b in fit.batches:
        bench = benchmark_returns(panel, fit.events, b, fit.day0_rows, matches, log)
        if bench is None:
            continue
        bench = np.expm1(bench) if log else bench
        days = b.fit.rel_days
        for k, (e, ticker) in enumerate(zip(b.event, b.ticker, strict=True)):
            event = fit.events[int(e)]
            if event.bhar_benchmark == "model":
                continue
            pool = pools[event.name]
            for start, end in event.bhar_windows:
                i = where.get((event.name, ticker, start, end))
                if i is None or not pool:
                    continue
                cut = (days >= start) & (days <= end)
                rows = fit.day0_rows[int(e)] + days[cut]
                inside = (rows >= 0) & (rows < len(panel.dates))
                r = values[np.clip(rows, 0, len(panel.dates) - 1)][:, pool]
                r[~inside] = np.nan
                m = bench[k, cut]
                valid = np.isfinite(r) & np.isfinite(m)[:, None]
                held = np.prod(np.where(valid, 1.0 + r, 1.0), axis=0)
                against = np.prod(np.where(valid, 1.0 + m[:, None], 1.0), axis=0)
                out[i, : len(pool)] = np.where(valid.any(axis=0), held - against, np.nan)
    return out
