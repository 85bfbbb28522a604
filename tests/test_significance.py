"""The test battery against independent computations.

``_Reference`` below recomputes every statistic from the papers' formulas with plain per-firm Python
loops (no helper of ``eventstudy.inference.battery``), on a synthetic panel with missing returns,
two
models and different windows, and on the real sample (the DeepSeek R1 sell-off and the V3 release).
Every row of the battery, per event, pooled (``all``) and on CAR windows, is checked.
"""

from __future__ import annotations

import functools
import itertools
import math
import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import sparse, stats

from eventstudy import parallel
from eventstudy.estimation.kernel import Design, fit_batch
from eventstudy.event_study import Event, EventStudy
from eventstudy.inference import battery as significance
from eventstudy.inference import engine, registry
from eventstudy.inference import sample as sample_module
from eventstudy.inference.sample import FirmEventSample

RTOL = 1e-9


# ----------------------------------------------------------------------------- the reference
class _Firm:
    """One firm-event, as plain dictionaries keyed by relative day."""

    def __init__(self, fit, i: int, event: int) -> None:
        self.event = event
        self.ev = fit.event_window
        self.sigma = math.sqrt(fit.sigma2[i])
        self.df = int(fit.df[i])
        days = range(fit.event_window[0], fit.event_window[1] + 1)
        self.ar = {d: float(a) for d, a in zip(days, fit.ar[i], strict=True) if np.isfinite(a)}
        self.h = {d: float(fit.h[i, k]) for k, d in enumerate(days) if np.isfinite(fit.ar[i, k])}
        self.sar = {
            d: float(fit.ar[i, k] / math.sqrt(fit.sigma2[i] * (1 + fit.h[i, k])))
            for k, d in enumerate(days)
            if np.isfinite(fit.ar[i, k])
        }
        est = range(fit.estimation_window[0], fit.estimation_window[1] + 1)
        self.resid = {s: float(r) for s, r in zip(est, fit.resid[i], strict=True) if np.isfinite(r)}
        self._fit, self._i = fit, i

    def covers(self, a: int, b: int) -> bool:
        return self.ev[0] <= a and b <= self.ev[1]

    def value(self, a: int, b: int) -> float | None:
        """AR (one day) or CAR over the non-missing days; None when there is none."""
        vals = [self.ar[d] for d in range(a, b + 1) if d in self.ar]
        return sum(vals) if vals else None

    def scar(self, a: int, b: int) -> float | None:
        car = self.value(a, b)
        if car is None:
            return None
        _, var, _ = self._fit.car(a, b)  # the CAR variance itself is tested in test_estimation
        return car / math.sqrt(var[self._i])


def _sd(x: list[float]) -> float:
    m = sum(x) / len(x)
    return math.sqrt(sum((v - m) ** 2 for v in x) / (len(x) - 1))


def _corr(a: dict, b: dict) -> float | None:
    common = sorted(set(a) & set(b))
    if len(common) < 3:
        return None
    x = np.array([a[s] for s in common])
    y = np.array([b[s] for s in common])
    return float(np.corrcoef(x, y)[0, 1])


@functools.cache
def _group_constants(firms: tuple[_Firm, ...]) -> tuple:
    """What does not depend on the window: the time-series S(AAR) and its number of days, the
    mean pairwise residual correlation, the Corrado ranks and their S."""
    est_days = sorted({s for f in firms for s in f.resid})
    aar_est = [np.mean([f.resid[s] for f in firms if s in f.resid]) for s in est_days]
    rs = [r for f, g in itertools.combinations(firms, 2) if (r := _corr(f.resid, g.resid))]
    # Corrado ranks over each firm-event's combined estimation + event window.
    u: list[dict] = []
    for f in firms:
        keys = [("e", s) for s in f.resid] + [("v", d) for d in f.ar]
        vals = [f.resid[s] for s in f.resid] + [f.ar[d] for d in f.ar]
        ranks = stats.rankdata(vals)
        u.append({k: r / (len(vals) + 1) - 0.5 for k, r in zip(keys, ranks, strict=True)})
    all_keys = {k for d in u for k in d}
    ubar = {k: np.mean([d[k] for d in u if k in d]) for k in all_keys}
    s_rank = math.sqrt(sum(v**2 for v in ubar.values()) / len(ubar))
    return _sd(aar_est), len(est_days), sum(rs) / len(rs), u, s_rank


def reference(firms: list[_Firm], a: int, b: int) -> dict[str, tuple[float, float, int, float]]:
    """Every test for one group and window: name -> (statistic, p, n, df)."""
    cov = [f for f in firms if f.covers(a, b)]
    out: dict[str, tuple[float, float, int, float]] = {}
    nan = float("nan")
    single = a == b
    x = [v for f in cov if (v := f.value(a, b)) is not None]
    n = len(x)
    two = lambda z: 2 * stats.norm.sf(abs(z))  # noqa: E731
    twot = lambda t, df: 2 * stats.t.sf(abs(t), df)  # noqa: E731

    # Brown & Warner (1985) cross-sectional t.
    t = (sum(x) / n) / (_sd(x) / math.sqrt(n)) if n >= 2 else nan
    out["cross_sectional_t"] = (t, twot(t, n - 1), n, n - 1)

    # Brown & Warner time-series t: S from the mean estimation residual per relative day.
    s_ts, n_est_days, rbar, u, s_rank = _group_constants(tuple(firms))
    caar, length = 0.0, 0
    for d in range(a, b + 1):
        vals = [f.ar[d] for f in cov if d in f.ar]
        if vals:
            caar += sum(vals) / len(vals)
            length += 1
    t = caar / (s_ts * math.sqrt(length)) if n >= 2 else nan
    out["time_series_t"] = (t, twot(t, n_est_days - 1), n, n_est_days - 1)

    # Patell (1976).
    pat = [f for f in cov if any(d in f.sar for d in range(a, b + 1))]
    q = [f.df / (f.df - 2) for f in pat]
    if single:
        z = sum(f.sar[a] for f in pat) / math.sqrt(sum(q))
    else:
        zi = []
        for f, qi in zip(pat, q, strict=True):
            s = [f.sar[d] for d in range(a, b + 1) if d in f.sar]
            zi.append(sum(s) / math.sqrt(len(s) * qi))
        z = sum(zi) / math.sqrt(len(zi))
    z = z if len(pat) >= 2 else nan
    out["patell"] = (z, two(z), len(pat), nan)

    # Boehmer, Musumeci & Poulsen (1991).
    sc = [v for f in cov if (v := f.scar(a, b)) is not None]
    t_bmp = (sum(sc) / len(sc)) / (_sd(sc) / math.sqrt(len(sc))) if len(sc) >= 2 else nan
    out["bmp"] = (t_bmp, twot(t_bmp, len(sc) - 1), len(sc), len(sc) - 1)

    # Kolari & Pynnönen (2010), with the mean pairwise correlation r-bar.
    za = z / math.sqrt(1 + (len(pat) - 1) * rbar)
    out["adjusted_patell"] = (za, two(za), len(pat), nan)
    ta = t_bmp * math.sqrt((1 - rbar) / (1 + (len(sc) - 1) * rbar))
    out["adjusted_bmp"] = (ta, twot(ta, len(sc) - 1), len(sc), len(sc) - 1)

    # Corrado (1989) / Cowan (1992).
    tot, length = 0.0, 0
    for d in range(a, b + 1):
        vals = [uf[("v", d)] for f, uf in zip(firms, u, strict=True) if f.covers(a, b)
                and ("v", d) in uf]
        if vals:
            tot += np.mean(vals)
            length += 1
    z = tot / (math.sqrt(length) * s_rank) if n >= 2 else nan
    out["corrado_rank"] = (z, two(z), n, nan)

    # Sign test and Cowan's (1992) generalized sign test.
    pos = sum(v > 0 for v in x)
    z = (pos - n / 2) / (math.sqrt(n) / 2) if n >= 2 else nan
    out["sign"] = (z, two(z), n, nan)
    shares = [sum(r > 0 for r in f.resid.values()) / len(f.resid) for f in cov
              if f.value(a, b) is not None]
    p_hat = sum(shares) / n
    z = (pos - n * p_hat) / math.sqrt(n * p_hat * (1 - p_hat)) if n >= 2 else nan
    out["generalized_sign"] = (z, two(z), n, nan)

    # Wilcoxon (1945) signed rank: z by hand, p from scipy (exact for small samples).
    nz = [v for v in x if v != 0]
    ranks = stats.rankdata([abs(v) for v in nz])
    wplus = sum(r for r, v in zip(ranks, nz, strict=True) if v > 0)
    m = len(nz)
    z = (wplus - m * (m + 1) / 4) / math.sqrt(m * (m + 1) * (2 * m + 1) / 24) if n >= 2 else nan
    p = stats.wilcoxon(nz).pvalue if n >= 2 else nan
    out["wilcoxon"] = (z, p, n, nan)

    # Kolari & Pynnönen (2011) generalized rank test.
    gfirms = [f for f in cov if f.scar(a, b) is not None]
    sc = [f.scar(a, b) for f in gfirms]
    if len(sc) >= 2:
        sd_sc = _sd(sc)
        ug, u0 = [], []
        for f, v in zip(gfirms, sc, strict=True):
            keys = list(f.resid)
            vals = [f.resid[s] / f.sigma for s in keys] + [v / sd_sc]
            r = stats.rankdata(vals) / (len(vals) + 1) - 0.5
            ug.append(dict(zip(keys, r[:-1], strict=True)))
            u0.append(r[-1])
        big_n = len(gfirms)
        keys = {k for d in ug for k in d}
        total = sum(
            len(c := [d[k] for d in ug if k in d]) / big_n * np.mean(c) ** 2 for k in keys
        )
        big_t = len(keys) + 1
        zg = np.mean(u0) / math.sqrt((total + np.mean(u0) ** 2) / big_t)
        tg = zg * math.sqrt((big_t - 2) / (big_t - 1 - zg**2))
        out["grank"] = (tg, twot(tg, big_t - 2), big_n, big_t - 2)
    else:
        out["grank"] = (nan, nan, len(sc), nan)

    # Skewness-adjusted t (Hall 1992; Lyon, Barber & Tsai 1999).
    if n >= 3:
        mean, sd = sum(x) / n, _sd(x)
        s = mean / sd
        g = sum((v - mean) ** 3 for v in x) / (n * sd**3)
        t = math.sqrt(n) * (s + g * s**2 / 3 + g / (6 * n))
    else:
        t = nan
    out["skewness_adjusted_t"] = (t, twot(t, n - 1), n, n - 1)

    # Brown & Warner (1980) under independence: sqrt(sum_i s_i^2) / N_t, s_i^2 on M_i - 1.
    users = [f for f in cov if any(d in f.ar for d in range(a, b + 1))]
    s2 = {id(f): float(np.var(list(f.resid.values()), ddof=1)) for f in users}
    total, var = 0.0, 0.0
    for d in range(a, b + 1):
        present = [f for f in users if d in f.ar]
        if present:
            total += sum(f.ar[d] for f in present) / len(present)
            var += sum(s2[id(f)] for f in present) / len(present) ** 2
    t = total / math.sqrt(var) if n >= 2 else nan
    df = sum(len(f.resid) for f in users) / len(users) - 1 if n >= 2 else nan
    out["brown_warner_1980"] = (t, twot(t, df), n, df)

    # Lamb (1995): the time-series S with each day's mean prediction-error leverage.
    z_days = []
    for d in range(a, b + 1):
        present = [f for f in cov if d in f.ar]
        if present:
            aar = sum(f.ar[d] for f in present) / len(present)
            hbar = sum(f.h[d] for f in present) / len(present)
            z_days.append(aar / (s_ts * math.sqrt(1 + hbar)))
    z = sum(z_days) / math.sqrt(len(z_days)) if n >= 2 else nan
    out["lamb"] = (z, two(z), n, nan)

    # Corrado & Zivney (1992) sign test: G = sign(value - the firm-event's median).
    signs = []
    for f in firms:
        med = float(np.median(list(f.resid.values()) + list(f.ar.values())))
        sg = {("e", s): float(np.sign(v - med)) for s, v in f.resid.items()}
        sg |= {("v", d): float(np.sign(v - med)) for d, v in f.ar.items()}
        signs.append(sg)
    keys = {k for sg in signs for k in sg}
    s_sign = math.sqrt(
        sum(sum(c := [sg[k] for sg in signs if k in sg]) ** 2 / len(c) for k in keys) / len(keys)
    )
    z_days = []
    for d in range(a, b + 1):
        vals = [sg[("v", d)] for f, sg in zip(firms, signs, strict=True)
                if f.covers(a, b) and ("v", d) in sg]
        if vals:
            z_days.append(sum(vals) / math.sqrt(len(vals)) / s_sign)
    z = sum(z_days) / math.sqrt(len(z_days)) if n >= 2 else nan
    out["corrado_sign"] = (z, two(z), n, nan)
    return out


def _firms(results) -> list[_Firm]:
    out = []
    for b in results.batches:
        for i in np.flatnonzero(b.fit.fitted):
            out.append(_Firm(b.fit, int(i), int(b.event[i])))
    return out


def _check_against_reference(results, battery: pd.DataFrame) -> int:
    firms = _firms(results)
    names = [e.name for e in results.events]
    checked = 0
    for (event, a, b), rows in battery.groupby(["event", "start", "end"], sort=False):
        group = firms if event == "all" else [f for f in firms if names[f.event] == event]
        if len(group) < 2:
            continue
        ref = reference(group, int(a), int(b))
        for row in rows.itertuples():
            stat, p, n, df = ref[row.test]
            where = f"{event} [{a}, {b}] {row.test}"
            assert row.n == n, where
            np.testing.assert_allclose(row.statistic, stat, rtol=RTOL, atol=1e-12, err_msg=where)
            np.testing.assert_allclose(row.p_value, p, rtol=1e-7, atol=1e-14, err_msg=where)
            np.testing.assert_allclose(row.df, df, err_msg=where)
            if np.isfinite(stat):
                assert row.note == "", where
            checked += 1
    return checked


def _namespace(fits_events: list[tuple], events: list[tuple[str, tuple, tuple]]):
    batches = [SimpleNamespace(fit=f, event=np.asarray(e), ticker=[str(k) for k in range(len(e))])
               for f, e in fits_events]
    evs = [SimpleNamespace(name=n, event_window=w, car_windows=c) for n, w, c in events]
    return SimpleNamespace(batches=batches, events=evs)


def _battery(res) -> pd.DataFrame:
    """The battery of a study (results, or a stand-in with ``batches`` and ``events``)."""
    return significance.test_battery(
        [(b.fit, b.event) for b in res.batches],
        [e.name for e in res.events],
        [e.event_window for e in res.events],
        [e.car_windows for e in res.events],
    )


def _sample_of(res):
    """The fitted firm-events of a study and each one's event."""
    return sample_module.sample_from_fits([(b.fit, b.event) for b in res.batches])


# ----------------------------------------------------------------------------- synthetic batch
@pytest.fixture(scope="module")
def synthetic():
    """Two batches (market model; constant mean) with different windows, missing returns in the
    estimation and event windows, an abnormal return on day 0, and a one-firm event."""
    rng = np.random.default_rng(7)
    T, k = 420, 8
    market = rng.normal(0.0004, 0.01, T)
    beta = rng.uniform(0.6, 1.4, k)
    ret = 0.0002 + market[:, None] * beta + rng.standard_t(4, (T, k)) * 0.012
    ret[300, :6] += 0.02  # event A, day 0
    ret[350, 3:8] -= 0.015  # event B, day 0
    for row, col in [(200, 0), (201, 0), (230, 1), (299, 2), (300, 4), (301, 5), (260, 3),
                     (345, 6), (351, 7), (352, 7), (240, 2), (180, 6)]:
        ret[row, col] = np.nan
    mm = Design(regressors=market[:, None], names=("m",))
    cm = Design(regressors=np.empty((T, 0)), names=())
    fit_a = fit_batch(ret, mm, np.arange(6), np.full(6, 300), (-150, -11), (-3, 3), 50)
    fit_b = fit_batch(ret, cm, np.r_[3:8, 0], np.r_[np.full(5, 350), 250], (-120, -21), (-5, 5),
                      50)
    return _namespace(
        [(fit_a, np.zeros(6, int)), (fit_b, np.r_[np.ones(5, int), 2])],
        [("A", (-3, 3), ((-1, 1), (0, 2), (0, 0))),
         ("B", (-5, 5), ((-2, 2), (-1, 1))),
         ("C", (-5, 5), ((-2, 2), (-1, 1)))],
    )


def test_columns_and_rows(synthetic) -> None:
    out = _battery(synthetic)
    assert list(out.columns) == ["event", "test", "start", "end", "statistic", "p_value", "n",
                                 "df", "note"]
    windows = lambda ev: list(dict.fromkeys(zip(  # noqa: E731
        out.loc[out.event == ev, "start"], out.loc[out.event == ev, "end"], strict=True)))
    assert windows("A") == [(d, d) for d in range(-3, 4)] + [(-1, 1), (0, 2)]
    assert windows("B") == [(d, d) for d in range(-5, 6)] + [(-2, 2), (-1, 1)]
    assert windows("all") == [(d, d) for d in range(-5, 6)] + [(-1, 1), (0, 2), (-2, 2)]
    assert (out.groupby(["event", "start", "end"]).size() == len(registry.TESTS)).all()
    assert list(out.test[: len(registry.TESTS)]) == [t.name for t in registry.TESTS]


def test_synthetic_against_reference(synthetic) -> None:
    out = _battery(synthetic)
    assert _check_against_reference(synthetic, out) > 400
    # Missing ARs are left out with exact counts: firm 4 of A has no day-0 return, firm 5 none on
    # day 1, firm 2 none on day -1; B's firm 7 (row 4 of B) misses days 1 and 2.
    day = out[(out.test == "cross_sectional_t") & (out.start == out.end)]
    a = day[day.event == "A"].set_index("start").n
    assert a[0] == 5 and a[1] == 5 and a[-1] == 5 and a[2] == 6
    b = day[day.event == "B"].set_index("start").n
    assert b[1] == 4 and b[2] == 4 and b[-5] == 4  # row 345 is day -5 of B's firm 6
    # Pooled day -5 only has firm-events whose event window reaches it (B and C).
    pooled = day[day.event == "all"].set_index("start").n
    assert pooled[-5] == 4 + 1 and pooled[0] == 5 + 5 + 1
    # A CAR window with a missing day keeps the firm-event (CAR over its other days).
    car = out[(out.event == "A") & (out.start == -1) & (out.end == 1)]
    assert (car.n == 6).all()


def test_one_firm_event_gives_nan_with_reason(synthetic) -> None:
    out = _battery(synthetic)
    c = out[out.event == "C"]
    assert c.statistic.isna().all() and c.p_value.isna().all()
    assert (c.n == 1).all()
    notes = set(c.note)
    assert notes == {"needs at least 2 firm-events (has 1)", "needs at least 3 firm-events (has 1)"}


def test_no_fitted_firm_events() -> None:
    res = SimpleNamespace(batches=[], events=[SimpleNamespace(name="E", event_window=(0, 1),
                                                              car_windows=((0, 1),))])
    out = _battery(res)
    assert len(out) == 2 * len(registry.TESTS) * 3  # E and all; days 0, 1 and [0, 1]
    assert out.statistic.isna().all() and (out.note == "no fitted firm-events").all()


def _hand_fit(ar0: list[float], resid: np.ndarray):
    """A stand-in BatchFit with given day-0 ARs (event window [0, 0]) and residuals."""
    n = len(ar0)
    ar = np.array(ar0, dtype=float)[:, None]
    fit = SimpleNamespace(
        estimation_window=(-resid.shape[1], -1), event_window=(0, 0), ar=ar,
        sigma2=np.full(n, 1e-4), h=np.zeros((n, 1)), resid=resid, df=np.full(n, 50),
        fitted=np.ones(n, bool),
        car=lambda a, b: (ar[:, 0], np.full(n, 1e-4), np.ones(n)),
    )
    return SimpleNamespace(batches=[SimpleNamespace(fit=fit, event=np.zeros(n, int),
                                                    ticker=list("abcdefgh")[:n])],
                           events=[SimpleNamespace(name="H", event_window=(0, 0),
                                                   car_windows=())])


def test_hand_worked_ties_and_zero() -> None:
    """Signed ranks with a zero and ties, signs, by hand: ARs (in %) 1, -2, 1, 3, 0, -1."""
    rng = np.random.default_rng(0)
    res = _hand_fit([0.01, -0.02, 0.01, 0.03, 0.0, -0.01], rng.normal(0, 0.01, (6, 60)))
    out = _battery(res).set_index(["event", "test"]).loc["H"]
    # Zero dropped; |x| = 1, 2, 1, 3, 1 -> ranks 2, 4, 2, 5, 2; W+ = 2 + 2 + 5 = 9 of 15.
    m = 5
    var = m * (m + 1) * (2 * m + 1) / 24 - (3**3 - 3) / 48
    z = (9 - m * (m + 1) / 4) / math.sqrt(var)
    assert out.loc["wilcoxon", "statistic"] == pytest.approx(z, rel=1e-12)
    ref = stats.wilcoxon([0.01, -0.02, 0.01, 0.03, -0.01], method="asymptotic")
    assert out.loc["wilcoxon", "p_value"] == pytest.approx(ref.pvalue, rel=1e-12)
    assert out.loc["wilcoxon", "n"] == 6
    # Sign: 3 positive of 6 (the zero counts as not positive) -> Z = 0.
    assert out.loc["sign", "statistic"] == 0.0
    assert out.loc["sign", "p_value"] == pytest.approx(1.0)


def test_wilcoxon_exact_matches_scipy() -> None:
    rng = np.random.default_rng(3)
    for n in (3, 7, 20, 50, 51):
        x = rng.normal(0.004, 0.01, n)
        out = _battery(_hand_fit(list(x), rng.normal(0, 0.01, (n, 40))))
        row = out[(out.event == "H") & (out.test == "wilcoxon")].iloc[0]
        assert row.p_value == pytest.approx(stats.wilcoxon(x).pvalue, rel=1e-10), n


def test_mean_correlation_large_ragged_group_is_close(monkeypatch) -> None:
    """Above EXACT_CORRELATION_MAX the zero-filled identity stands in for the pairwise mean."""
    rng = np.random.default_rng(11)
    common = rng.normal(size=(1, 120))
    resid = 0.4 * common + rng.normal(size=(40, 120))
    resid[rng.random(resid.shape) < 0.03] = np.nan
    res = _hand_fit(list(rng.normal(0, 0.01, 40)), resid)
    exact = _battery(res)
    monkeypatch.setattr(engine, "EXACT_CORRELATION_MAX", 10)
    approx = _battery(res)
    sel = (exact.test == "adjusted_bmp") & (exact.event == "H")
    ratio = approx[sel].statistic.item() / exact[sel].statistic.item()
    assert ratio == pytest.approx(1.0, abs=0.02)


def test_vectorised_groups_equal_one_by_one(synthetic) -> None:
    """Computing many groups at once gives each group's result alone."""
    sample, labels = _sample_of(synthetic)
    windows = [(0, 0), (-1, 1)]
    ids, together = significance.group_tests(sample, labels, windows)
    for k, g in enumerate(ids):
        keep = labels == g
        if keep.sum() < 2:
            continue
        _, alone = significance.group_tests(sample, np.where(keep, 0, 1), windows)
        for key, r in together.items():
            np.testing.assert_allclose(r.statistic[k], alone[key].statistic[0], rtol=1e-12)


# ----------------------------------------------------------------------------- real sample
SEMIS = ["NVDA", "AVGO", "TSM", "ASML", "AMD", "MU", "MRVL", "ARM", "SMCI"]
OTHERS = ["VST", "CEG", "ORCL", "MSFT", "GOOGL", "META", "AMZN", "AAPL"]


@pytest.fixture(scope="module")
def real(sample_prices: pd.DataFrame):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        es = EventStudy.from_prices(sample_prices, market="^GSPC")
        return es.fit([
            Event(name="R1 sell-off", date="2025-01-27", tickers=SEMIS + OTHERS),
            Event(name="V3 release", date="2024-12-26", tickers=SEMIS[:7],
                  car_windows=[(0, 0), (0, 4)]),
            Event(name="NVDA alone", date="2024-06-10", tickers=["NVDA"]),
        ])


def test_real_sample_against_reference(real) -> None:
    out = _battery(real)
    assert _check_against_reference(real, out) > 400
    nvda = out[out.event == "NVDA alone"]
    assert nvda.statistic.isna().all() and (nvda.note != "").all()
    pooled = out[(out.event == "all") & (out.start == 0) & (out.end == 0)]
    assert (pooled.n == 17 + 7 + 1).all()
    assert {(0, 4), (-1, 1), (-5, 5)} <= set(zip(out.start, out.end, strict=True))


def test_real_sample_agrees_with_results_frames(real) -> None:
    """The cross-sectional t equals the one results.aar_frame()/caar_frame() report."""
    out = _battery(real)
    cs = out[out.test == "cross_sectional_t"].set_index(["event", "start", "end"])
    aar = real.aar_frame()
    for row in aar.itertuples():
        if row.n >= 2:
            got = cs.loc[(row.event, row.rel_day, row.rel_day)]
            assert got.statistic == pytest.approx(row.t, rel=1e-10)
            assert got.n == row.n
    for row in real.caar_frame().itertuples():
        if row.n >= 2:
            assert cs.loc[(row.event, row.start, row.end)].statistic == pytest.approx(
                row.t, rel=1e-10)


def test_day0_selloff_clustering_adjustment(real) -> None:
    """R1 sell-off day 0: the KP adjustment shrinks the standardised statistics (positive mean
    residual correlation), the naive Patell Z being the largest in magnitude."""
    out = _battery(real)
    d0 = out[(out.event == "R1 sell-off") & (out.start == 0) & (out.end == 0)].set_index("test")
    s = d0.statistic
    assert s["patell"] < s["adjusted_patell"] < 0
    assert s["bmp"] < s["adjusted_bmp"] < 0
    assert abs(s["patell"]) > abs(s["cross_sectional_t"])


def test_row_ranks_equal_scipy() -> None:
    rng = np.random.default_rng(5)
    values = rng.integers(0, 6, (50, 30)).astype(float)  # many ties
    values[rng.random(values.shape) < 0.2] = np.nan
    values[3] = np.nan
    expected = stats.rankdata(values, axis=1, nan_policy="omit")
    np.testing.assert_array_equal(sample_module.row_ranks(values), expected)


def test_simulation_smoke() -> None:
    """`make validate` on a tiny draw: one rate per (window, test) and scenario, power > size."""
    from benchmarks import simulation

    frame = simulation.run(samples=30, firms=20, seed=1)
    assert frame.shape == (2 * len(simulation.ROWS), len(simulation.SCENARIOS))
    assert {t.name for t in registry.TESTS} <= set(frame.loc["[0, 0]"].index)
    assert {"wild_bootstrap_t", "single-firm sample quantile"} <= set(frame.loc["[0, 0]"].index)
    assert ((frame >= 0) & (frame <= 1)).all().all()
    day0 = frame.loc["[0, 0]"]
    assert (day0["+1%"] > day0["no AR"]).all()
    assert "| [0, 0] | `patell` |" in simulation.to_markdown(frame)


# ----------------------------------------------------------------------------- the chunked pass
class _WholeArrays:
    """The residual-based parts of the battery computed the direct way, on whole
    (firm-events x days) arrays, one group-indicator product per sum: the formulation the chunked
    pass (``engine._prepare``) must reproduce bit for bit."""

    def __init__(self, sample, labels) -> None:
        self.order = np.argsort(labels, kind="stable")
        self.ids, self.starts = np.unique(np.asarray(labels)[self.order], return_index=True)
        self.G = len(self.ids)
        self.label = np.repeat(np.arange(self.G), np.diff(np.r_[self.starts, len(labels)]))
        n = len(labels)
        self.ind = sparse.csr_matrix((np.ones(n), (self.label, np.arange(n))), shape=(self.G, n))
        self.sample = sample
        self.resid = sample.resid[self.order]
        with np.errstate(invalid="ignore", divide="ignore"):
            self.e = self.resid / sample.sigma[self.order, None]

    def sum(self, a):
        a = np.asarray(a, dtype=float)
        if a.ndim == 1:
            return np.bincount(self.label, weights=a, minlength=self.G)
        return a.sum(axis=0, keepdims=True) if self.G == 1 else np.asarray(self.ind @ a)

    def time_series_scale(self):
        valid = np.isfinite(self.resid)
        cnt = self.sum(valid)
        with np.errstate(invalid="ignore", divide="ignore"):
            aar = self.sum(np.where(valid, self.resid, 0.0)) / cnt
            has = cnt > 0
            days = has.sum(axis=1)
            mean = np.where(has, aar, 0.0).sum(axis=1) / days
            dev = np.where(has, aar - mean[:, None], 0.0)
            return np.sqrt((dev**2).sum(axis=1) / (days - 1))

    def corrado(self):
        combined = np.concatenate([self.resid, self.sample.ar[self.order]], axis=1)
        t = np.isfinite(combined).sum(axis=1)
        u = sample_module.row_ranks(combined) / (t[:, None] + 1.0) - 0.5
        valid = np.isfinite(u)
        cnt = self.sum(valid)
        with np.errstate(invalid="ignore", divide="ignore"):
            ubar = self.sum(np.where(valid, u, 0.0)) / cnt
            has = cnt > 0
            s = np.sqrt(np.where(has, ubar**2, 0.0).sum(axis=1) / has.sum(axis=1))
        return s, u[:, self.resid.shape[1]:]

    def mean_correlation(self):
        resid = self.resid
        valid = np.isfinite(resid)
        m = valid.sum(axis=1)
        x = np.where(valid, resid, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            centred = np.where(valid, resid - x.sum(axis=1, keepdims=True) / m[:, None], 0.0)
            norm = np.sqrt((centred**2).sum(axis=1))
            use = (m >= 3) & (norm > 0)
            z = np.where(use[:, None], centred / np.where(norm > 0, norm, 1.0)[:, None], 0.0)
            n_use = self.sum(use)
            rbar = ((self.sum(z) ** 2).sum(axis=1) - n_use) / (n_use * (n_use - 1))
        first = self.starts[self.label]
        ragged = ((valid != valid[first]) & use[:, None] & use[first][:, None]).any(axis=1)
        ragged = self.sum(ragged | (use != use[first])) > 0
        for g in np.flatnonzero(ragged & (n_use >= 2) & (n_use <= 1500)):
            sl = slice(self.starts[g], self.starts[g + 1] if g + 1 < self.G else len(resid))
            rbar[g] = engine._pairwise_mean_correlation(resid[sl][use[sl]])
        return np.where(n_use >= 2, rbar, np.nan)

    def grank(self, window):
        e = self.e
        finite = np.isfinite(e)
        m = finite.sum(axis=1).astype(float)
        inv = 1.0 / (m + 2.0)
        base = np.where(finite, sample_module.row_ranks(e) * inv[:, None] - 0.5, 0.0)
        car, var, _ = (a[self.order] for a in self.sample.car(window))
        with np.errstate(invalid="ignore", divide="ignore"):
            scar = np.where(m >= 1, car / np.sqrt(var), np.nan)
            valid = np.isfinite(scar)
            n = self.sum(valid)
            mean = self.sum(np.where(valid, scar, 0.0)) / n
            dev = np.where(valid, scar - mean[self.label], 0.0)
            sd = np.sqrt(self.sum(dev**2) / (n - 1))
            xstar = scar / sd[self.label]
        ok = np.isfinite(xstar)
        x = np.where(ok, xstar, np.inf)[:, None]
        shift = np.greater(e, x).astype(float) + 0.5 * np.equal(e, x)
        above = shift.sum(axis=1)
        u0 = np.where(ok, (m - above + 1.0) * inv - 0.5, 0.0)
        u_sum, cnt = self.sum(base), self.sum(finite)
        out = np.flatnonzero(~ok & (m >= 1))
        np.subtract.at(u_sum, self.label[out], base[out])
        np.subtract.at(cnt, self.label[out], np.isfinite(e[out]).astype(float))
        u_sum = u_sum + self.sum(shift * inv[:, None])
        n0 = self.sum(ok)
        with np.errstate(invalid="ignore", divide="ignore"):
            ubar0 = self.sum(u0) / n0
            has = cnt > 0.5
            big_t = has.sum(axis=1) + 1.0
            day_terms = np.where(has, u_sum**2 / (np.where(has, cnt, 1.0) * n0[:, None]), 0.0)
            z = ubar0 / np.sqrt((day_terms.sum(axis=1) + ubar0**2) / big_t)
            return z * np.sqrt((big_t - 2.0) / (big_t - 1.0 - z**2))


def _assert_same_bits(got, want, where: str) -> None:
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert np.array_equal(got.view(np.int64), want.view(np.int64)), (where, got, want)


def _check_whole_arrays(sample, labels, windows) -> None:
    """The pass equals the whole-array formulation bit for bit (the statistics that come out of
    the sums, and the sums' inputs that are per firm-event)."""
    ref = _WholeArrays(sample, labels)
    ids, res = significance.group_tests(sample, labels, windows)
    groups = engine._Groups(np.asarray(labels), sample)
    engine._prepare([groups], windows)
    np.testing.assert_array_equal(ids, ref.ids)
    _assert_same_bits(groups.time_series_scale[0], ref.time_series_scale(), "S(AAR)")
    s, u_ev = ref.corrado()
    _assert_same_bits(groups.corrado_scale[0], s, "S(U)")
    _assert_same_bits(groups.take(groups.corrado_u_ev), u_ev, "Corrado U")
    _assert_same_bits(groups.mean_correlation[0], ref.mean_correlation(), "r-bar")
    for window in windows:
        want = ref.grank(window)
        want = np.where(np.isfinite(want), want, np.nan)
        got = res[("grank", window)].statistic
        keep = res[("grank", window)].note == ""  # the statistic is kept where no reason blanks it
        _assert_same_bits(got[keep], want[keep], f"grank {window}")


def _sigma_one_fit(ar0, resid, event_window=(0, 0)):
    """A stand-in fit with sigma = 1, no leverage and CAR variance 1 per day, so that
    ``e = resid`` and ``SCAR = CAR`` exactly."""
    n = len(ar0)
    ar = np.asarray(ar0, dtype=float).reshape(n, -1)

    def car(a, b):
        lo, hi = a - event_window[0], b - event_window[0] + 1
        x = ar[:, lo:hi]
        valid = np.isfinite(x)
        length = valid.sum(axis=1).astype(float)
        return np.where(length > 0, np.where(valid, x, 0.0).sum(axis=1), np.nan), length, length

    return SimpleNamespace(
        estimation_window=(-resid.shape[1], -1), event_window=event_window, ar=ar,
        sigma2=np.ones(n), h=np.zeros(ar.shape), resid=resid, df=np.full(n, 50),
        fitted=np.ones(n, bool), car=car,
    )


def test_pass_equals_whole_arrays_bitwise(synthetic, real) -> None:
    for res in (synthetic, real):
        sample, labels = _sample_of(res)
        windows = [(0, 0), (-1, 1), (1, 1), (0, 2)]
        _check_whole_arrays(sample, labels, windows)
        _check_whole_arrays(sample, np.zeros(sample.n, dtype=int), windows)
        # Groups that are not contiguous blocks of the sample get their own pass.
        scattered = np.random.default_rng(1).integers(0, 3, sample.n)
        _check_whole_arrays(sample, scattered, windows)


def test_pass_handles_ties_missing_and_degenerate_sigma() -> None:
    """Tied residuals, an AR equal to a residual, e == x* exactly (where x* = SCAR / sd(SCAR),
    here [1, -1, 1, -1, 0]), a firm-event without residuals, one with sigma = 0 (e = +-inf) and
    one with sigma = NaN."""
    rng = np.random.default_rng(2)
    resid = np.round(rng.normal(0, 1, (5, 40)), 1)  # many ties
    resid[0, 3] = 1.0
    resid[4, 7] = 0.0
    ar0 = [2.0, -2.0, 2.0, -2.0, 0.0]  # mean 0, sd 2
    fit = _sigma_one_fit([*ar0, 0.3, 0.1, -0.4], np.vstack([resid, resid[:3] * 0.5]))
    fit.ar[6, 0] = fit.resid[6, 2]
    clean = FirmEventSample.from_fits([(fit, np.arange(5))])
    labels = np.zeros(5, dtype=int)
    _check_whole_arrays(clean, labels, [(0, 0)])  # one M: the sums are counted
    out = significance.group_tests(clean, labels, [(0, 0)])[1][("grank", (0, 0))]
    ref = _WholeArrays(clean, labels)
    assert (np.equal(ref.e, np.array([1.0, -1.0, 1.0, -1.0, 0.0])[:, None])).any()  # the ties
    assert np.isfinite(out.statistic).all()

    fit.resid[5, :4] = np.nan
    fit.resid[6] = np.nan
    fit.sigma2[7] = 0.0
    messy = FirmEventSample.from_fits([(fit, np.arange(8))])
    for labels in (np.zeros(8, dtype=int), np.r_[np.zeros(5, int), np.ones(3, int)]):
        _check_whole_arrays(messy, labels, [(0, 0)])
    fit.sigma2[7] = np.nan
    _check_whole_arrays(FirmEventSample.from_fits([(fit, np.arange(8))]), np.zeros(8, int),
                        [(0, 0)])


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_chunking_and_threads_do_not_change_results(synthetic, real, monkeypatch, threads) -> None:
    monkeypatch.setattr(parallel, "MIN_ROWS", 0)
    expected = [_battery(res) for res in (synthetic, real)]
    monkeypatch.setattr(parallel, "THREADS", threads)
    for chunk in (1, 3, 7, 64):
        monkeypatch.setattr(sample_module, "CHUNK_ROWS", chunk)
        for res, want in zip((synthetic, real), expected, strict=True):
            pd.testing.assert_frame_equal(_battery(res), want, check_exact=True)


def test_group_sum_is_the_sequential_bincount_bitwise() -> None:
    """A group's sum of a vector (the sparse indicator product) adds its values one after the
    other from 0, as np.bincount with weights does: the same bits, signed zeros, NaN and
    infinities included, for one group and for many, contiguous or not."""
    rng = np.random.default_rng(5)
    values = rng.normal(size=2000) * 10.0 ** rng.integers(-8, 8, 2000)
    values[:3] = -0.0
    values[[10, 500]] = np.nan
    values[700] = np.inf
    fit = _sigma_one_fit(np.zeros(2000), rng.normal(size=(2000, 5)))
    sample = FirmEventSample.from_fits([(fit, np.arange(2000))])
    for labels in (np.zeros(2000, int), np.repeat(np.arange(20), 100), rng.integers(0, 7, 2000)):
        groups = engine._Groups(labels, sample)
        for v in (values, np.abs(values) > 1.0, -np.zeros(2000)):
            ordered = groups.take(np.asarray(v, dtype=float))
            want = np.bincount(groups.label, weights=ordered, minlength=groups.G)
            _assert_same_bits(groups.sum(ordered), want, f"{groups.G} groups")


def test_groupings_run_together_equal_each_alone(synthetic) -> None:
    """The battery runs the events and the pooled sample together, sharing what depends on the
    firm-events alone (Wilcoxon's sort): every test the same, bit for bit, as each grouping
    alone."""
    sample, labels = _sample_of(synthetic)
    windows = [(0, 0), (-1, 1), (1, 1)]
    groupings = [engine._Groups(np.asarray(labels), sample),
                 engine._Groups(np.zeros(sample.n, dtype=int), sample)]
    significance._prepare_for(groupings, windows, registry.TESTS)
    together = significance._run_tests(groupings, windows, registry.TESTS)
    for lab, got in zip((labels, np.zeros(sample.n, dtype=int)), together, strict=True):
        alone = significance.group_tests(sample, lab, windows)[1]
        assert alone.keys() == got.keys()
        for key, want in alone.items():
            for attr in ("statistic", "p_value", "n", "df"):
                _assert_same_bits(getattr(got[key], attr), getattr(want, attr), f"{key} {attr}")


def test_residuals_are_read_in_place() -> None:
    """A fit whose firm-events are all in the sample is read, not copied."""
    resid = np.random.default_rng(0).normal(size=(10, 30))
    fit = _sigma_one_fit(np.zeros(10), resid)
    sample = FirmEventSample.from_fits([(fit, np.arange(10))])
    block = sample.resid_block(slice(2, 7))
    assert np.shares_memory(block, resid)
    np.testing.assert_array_equal(block, resid[2:7])
    two = FirmEventSample.from_fits([(fit, np.arange(4)), (fit, np.arange(6, 10))])
    np.testing.assert_array_equal(two.resid_block(np.array([5, 0, 7])), resid[[7, 0, 9]])


@pytest.mark.parametrize("labels", ["one", "several"])
@pytest.mark.parametrize("tied", [False, True])
def test_ranks_within_labels_match_scipy(labels: str, tied: bool) -> None:
    """Average ranks within each label and the tie-block sizes, on data without ties (its fast
    path: each value its own block) and with them, one label or several, against scipy's
    rankdata per label."""
    from eventstudy.inference.nonparametric import _ranks_within

    rng = np.random.default_rng(7)
    values = np.abs(rng.standard_normal(3000))
    if tied:
        values = np.round(values, 1)
    label = np.zeros(3000, dtype=int) if labels == "one" else rng.integers(0, 40, 3000)
    ranks, ties = _ranks_within(values, label)
    for g in np.unique(label):
        mine = label == g
        assert np.array_equal(ranks[mine], stats.rankdata(values[mine]))
        _, counts = np.unique(values[mine], return_counts=True)
        assert sorted(ties[mine][ties[mine] > 0]) == sorted(counts)
