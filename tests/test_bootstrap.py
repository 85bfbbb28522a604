"""The bootstrap tests (study key ``bootstrap``) against independent computations: the same
random draws (the module's own streams, re-drawn here) run through plain per-replication numpy
(means, sds and skewness from the resampled values themselves), an exact enumeration of every
sign pattern for the wild bootstrap, and the rows the study writes."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest

from eventstudy import EventStudy, parallel
from eventstudy.errors import StudyFileError
from eventstudy.event_study import Event
from eventstudy.inference import bootstrap
from eventstudy.inference.registry import BHAR_TESTS, BOOTSTRAP_TESTS, spec
from eventstudy.output.summary import text_summary


def _t(x: np.ndarray) -> float:
    return float(np.mean(x) / (np.std(x, ddof=1) / np.sqrt(len(x))))


def _skew_t(x: np.ndarray, centre: float) -> float:
    """The skewness-adjusted t of ``x`` with S = (mean - centre) / sd (LBT 1999)."""
    n = len(x)
    sd = np.std(x, ddof=1)
    s = (np.mean(x) - centre) / sd
    g = np.sum((x - np.mean(x)) ** 3) / (n * sd**3)
    return float(np.sqrt(n) * (s + g * s**2 / 3 + g / (6 * n)))


def _sample(seed: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Three groups (sizes 7, 12, 30) and two windows, skewed values, a few missing."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1, 2], [7, 12, 30])
    rng.shuffle(labels)
    x = rng.lognormal(0, 0.8, (len(labels), 2)) - 1.1
    x[rng.random(x.shape) < 0.08] = np.nan
    return x, labels


def test_wild_bootstrap_replays_the_draws() -> None:
    x, labels = _sample()
    reps, seed = 70, 11  # three chunks, the last one short
    got = bootstrap.wild_bootstrap_t(x, labels, 3, reps, seed)
    weights = np.concatenate(
        [1.0 - 2.0 * bootstrap._generator(seed, bootstrap._WILD, k).integers(
            0, 2, size=(len(labels), size), dtype=np.int8)
         for k, size in bootstrap._chunks(reps)],
        axis=1,
    )
    for g, j in itertools.product(range(3), range(2)):
        sel = (labels == g) & np.isfinite(x[:, j])
        values = x[sel, j]
        t = _t(values)
        t_star = np.array([_t(weights[sel, b] * values) for b in range(reps)])
        p = (1 + np.sum(np.abs(t_star) >= abs(t) * (1 - 1e-12))) / (reps + 1)
        assert got.statistic[g, j] == pytest.approx(t, rel=1e-12)
        assert got.p_value[g, j] == p
        assert got.n[g, j] == len(values)


def test_wild_bootstrap_converges_to_the_exact_sign_flip_test() -> None:
    """Rademacher weights with the null imposed are random sign flips: with many replications
    the p-value approaches the exact one over all 2^8 sign patterns."""
    x = np.array([0.031, -0.004, 0.012, 0.019, -0.011, 0.025, 0.007, 0.014])[:, None]
    t = abs(_t(x[:, 0]))
    flips = [abs(_t(x[:, 0] * np.array(s))) >= t * (1 - 1e-12)
             for s in itertools.product([1, -1], repeat=8)]
    exact = np.mean(flips)
    got = bootstrap.wild_bootstrap_t(x, np.zeros(8, int), 1, 20_000, 5)
    assert 0.01 < exact < 0.2
    assert got.p_value[0, 0] == pytest.approx(exact, abs=0.006)  # 4 sd of 20,000 draws


def test_skewness_bootstrap_replays_the_draws() -> None:
    x, labels = _sample(9)
    x = x[:, 0]
    reps, seed, key = 45, 3, (2, 0, 7, 7)
    got = bootstrap.bootstrap_skewness_adjusted_t(x, labels, 3, reps, seed, key)
    groups = [x[(labels == g) & np.isfinite(x)] for g in range(3)]
    sizes = [max(3, len(v) // 4) for v in groups]
    u = np.concatenate([bootstrap._generator(seed, *key, k).random((size, sum(sizes)))
                        for k, size in bootstrap._chunks(reps)])
    at = np.r_[0, np.cumsum(sizes)]
    for g, values in enumerate(groups):
        mean = values.mean()
        t_sa = _skew_t(values, 0.0)
        cols = u[:, at[g] : at[g + 1]]
        stars = []
        for b in range(reps):
            pick = np.minimum((cols[b] * len(values)).astype(int), len(values) - 1)
            resample = values[pick]
            if np.std(resample) > 0:
                stars.append(_skew_t(resample, mean))
        stars = np.array(stars)
        lo, hi = np.sum(stars <= t_sa), np.sum(stars >= t_sa)
        p = min(1.0, 2 * (1 + min(lo, hi)) / (len(stars) + 1))
        assert got.statistic[g, 0] == pytest.approx(t_sa, rel=1e-12)
        assert got.p_value[g, 0] == pytest.approx(p, rel=1e-12)
        assert got.n[g, 0] == len(values)


def test_too_few_firm_events_and_no_variation() -> None:
    x = np.array([[0.01], [0.02], [0.02], [0.02], [0.03]])
    labels = np.array([0, 0, 1, 1, 2])
    wild = bootstrap.wild_bootstrap_t(x, labels, 3, 50, 1)
    assert np.isfinite(wild.p_value[0, 0])
    assert np.isnan(wild.p_value[1:, 0]).all()
    assert list(wild.note[:, 0]) == ["", "zero cross-sectional sd",
                                     "needs at least 2 firm-events (has 1)"]
    skew = bootstrap.bootstrap_skewness_adjusted_t(x[:, 0], labels, 3, 50, 1, (2,))
    assert np.isnan(skew.p_value).all()
    assert skew.note[0, 0] == "needs at least 3 firm-events (has 2)"


def test_same_seed_same_p_whatever_the_threads(monkeypatch) -> None:
    x, labels = _sample()
    one = bootstrap.wild_bootstrap_t(x, labels, 3, 200, 8).p_value
    again = bootstrap.wild_bootstrap_t(x, labels, 3, 200, 8).p_value
    other = bootstrap.wild_bootstrap_t(x, labels, 3, 200, 9).p_value
    monkeypatch.setattr(parallel, "MIN_ROWS", 0)
    monkeypatch.setattr(parallel, "THREADS", 2)
    threaded = bootstrap.wild_bootstrap_t(x, labels, 3, 200, 8).p_value
    np.testing.assert_array_equal(one, again)
    np.testing.assert_array_equal(one, threaded)
    assert not np.array_equal(one, other)
    s1 = bootstrap.bootstrap_skewness_adjusted_t(x[:, 0], labels, 3, 200, 8, (2,)).p_value
    monkeypatch.setattr(parallel, "THREADS", 1)
    s2 = bootstrap.bootstrap_skewness_adjusted_t(x[:, 0], labels, 3, 200, 8, (2,)).p_value
    np.testing.assert_array_equal(s1, s2)


def test_same_p_whatever_the_replications_worked_on_at_once(monkeypatch) -> None:
    """A chunk's replications handled a few at a time (BLOCK_REPS, for memory) give the numbers
    of the whole chunk at once (BLOCK_REPS = CHUNK_REPS) and of one at a time, bit for bit."""
    x, labels = _sample(5)
    out = {}
    for block in (bootstrap.CHUNK_REPS, 1, 3):
        monkeypatch.setattr(bootstrap, "BLOCK_REPS", block)
        wild = bootstrap.wild_bootstrap_t(x, labels, 3, 70, 2)
        skew = bootstrap.bootstrap_skewness_adjusted_t(x[:, 1], labels, 3, 70, 2, (2, 1))
        out[block] = (wild.statistic, wild.p_value, skew.statistic, skew.p_value)
    for block in (1, 3):
        for a, b in zip(out[bootstrap.CHUNK_REPS], out[block], strict=True):
            np.testing.assert_array_equal(a, b)
    assert np.isfinite(out[1][3]).all() and np.isfinite(out[1][1]).all()


# ----------------------------------------------------------------------------- in a study
SEMIS = ["NVDA", "AVGO", "TSM", "ASML", "AMD", "MU", "MRVL", "ARM", "SMCI"]
OTHERS = ["VST", "CEG", "ORCL", "MSFT", "GOOGL", "META", "AMZN", "AAPL"]


@pytest.fixture(scope="module")
def study(sample_prices: pd.DataFrame):
    def fit(boot):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            es = EventStudy.from_prices(sample_prices, market="^GSPC", bhar_windows=[(0, 5)],
                                        bootstrap=boot)
            return es.fit([
                Event(name="R1 sell-off", date="2025-01-27", tickers=SEMIS + OTHERS),
                Event(name="V3 release", date="2024-12-26", tickers=SEMIS[:7],
                      car_windows=[(0, 0), (0, 4)]),
            ])
    return fit


def test_study_rows(study) -> None:
    res = study({"reps": 199, "seed": 7})
    tests = res.tests_frame()
    wild, skew = (t.name for t in BOOTSTRAP_TESTS)
    boot = tests[tests.test.isin([wild, skew, BHAR_TESTS[2].name])]
    # After every battery and BHAR row, returns only.
    assert boot.index.min() > tests[~tests.test.isin(boot.test)].index.max()
    assert (boot.measure == "return").all() and boot.df.isna().all()
    # Per event: every battery window gets the wild t; the CAR windows the bootstrapped one.
    r1 = boot[boot.event == "R1 sell-off"]
    assert list(zip(r1.test, r1.start, r1.end, strict=True))[:8] == [
        (wild, d, d) for d in range(-5, 1)] + [(skew, 0, 0), (wild, 1, 1)]
    cars = r1[r1.test == skew]
    assert list(zip(cars.start, cars.end, strict=True)) == [(0, 0), (-1, 1), (-5, 5)]
    pooled = boot[(boot.event == "all") & (boot.test == skew)]
    assert list(zip(pooled.start, pooled.end, strict=True)) == [(0, 0), (-1, 1), (-5, 5), (0, 4)]
    # The statistics are the analytic ones; only the p-values come from the bootstrap.
    key = ["event", "start", "end"]
    analytic = tests.set_index(["test", *key]).statistic
    for r in boot.itertuples():
        base = {wild: "cross_sectional_t", skew: "skewness_adjusted_t",
                BHAR_TESTS[2].name: "bhar_skewness_adjusted_t"}[r.test]
        assert r.statistic == pytest.approx(analytic[(base, r.event, r.start, r.end)], rel=1e-12)
    w = boot[boot.test == wild].p_value.to_numpy()
    np.testing.assert_allclose(w * 200, np.round(w * 200), atol=1e-9)  # (1 + count) / 200
    assert ((boot.p_value > 0) & (boot.p_value <= 1)).all()
    # The R1 sell-off's day 0: cross-sectional t -3.7; no sign pattern of 199 is as extreme.
    d0 = boot[(boot.event == "R1 sell-off") & (boot.test == wild) & (boot.start == 0)
              & (boot.end == 0)]
    assert d0.p_value.item() == pytest.approx(1 / 200)
    bhar = boot[boot.test == BHAR_TESTS[2].name]
    assert list(bhar.event) == ["R1 sell-off", "V3 release", "all"]
    assert "wild bootstrap t" in text_summary(res)


def test_study_reproducible_and_off_by_default(study) -> None:
    a = study({"reps": 99, "seed": 2}).tests_frame()
    b = study({"seed": 2, "reps": 99}).tests_frame()
    c = study({"reps": 99, "seed": 3}).tests_frame()
    pd.testing.assert_frame_equal(a, b)
    assert not a.p_value.equals(c.p_value)
    plain = study(None)
    assert not plain.tests_frame().test.isin([t.name for t in BOOTSTRAP_TESTS]).any()
    assert "bootstrap" not in plain.to_dict()["meta"]
    assert study({"reps": 99}).to_dict()["meta"]["bootstrap"] == {"reps": 99, "seed": 1}
    assert "wild bootstrap t" not in text_summary(plain)
    with pytest.raises(StudyFileError, match="bootstrap: reps"):
        study({"reps": 3})


def test_registered_labels() -> None:
    for t in (*BOOTSTRAP_TESTS, BHAR_TESTS[2]):
        entry = spec(t.name)
        assert entry is t and entry.function is None and entry.citations
