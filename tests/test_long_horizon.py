"""Long horizons (docs/long_horizon.md): calendar-time portfolios and benchmarked BHARs, each
number against an independent computation (loops, numpy, statsmodels by hand)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from eventstudy import EventStudy
from eventstudy.data.factors import FactorData
from eventstudy.errors import DataError, StudyFileError
from eventstudy.inference.calendar_time import holdings, newey_west_lags
from eventstudy.output.folder import StoredResults
from eventstudy.study import parse_study
from eventstudy.synthetic import SyntheticConfig

HORIZON = (1, 120)


def _synthetic(abnormal: float, seed: int = 7, **overrides: Any) -> tuple[pd.DataFrame, Any]:
    """Returns with ``abnormal`` added on every day of every firm-event's horizon, and events."""
    fields: dict[str, Any] = {
        "n_firms": 1000,  # few firms in two events at once (their planted returns add up)
        "n_days": 900,
        "n_events": 40,
        "firms_per_event": 6,
        "seed": seed,
        "alpha_sd": 0.0,
        "abnormal": {d: abnormal for d in range(HORIZON[0], HORIZON[1] + 1)} if abnormal else 0.0,
        "event_window": (-5, HORIZON[1]),
    }
    fields.update(overrides)
    return SyntheticConfig(**fields).generate()


def _factors(returns: pd.DataFrame, seed: int = 11) -> FactorData:
    """Factor data on the returns' dates: the market in excess of a small RF, and noise factors."""
    rng = np.random.default_rng(seed)
    n = len(returns)
    rf = np.full(n, 0.0001)
    frame = pd.DataFrame(
        {
            "Mkt-RF": returns["MKT"].to_numpy() - rf,
            "SMB": rng.normal(0, 0.005, n),
            "HML": rng.normal(0, 0.005, n),
            "Mom": rng.normal(0, 0.005, n),
            "RF": rf,
        },
        index=returns.index,
    )
    return FactorData(frame=frame, sources=["test factors"])


def _fit(returns: pd.DataFrame, events: pd.DataFrame, **kwargs: Any) -> Any:
    es = EventStudy(returns, market="MKT", car_windows=[(0, 0)], **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return es.fit(events)


@pytest.fixture(scope="module")
def planted() -> tuple[pd.DataFrame, pd.DataFrame, Any]:
    returns, events = _synthetic(0.001)
    return returns, events, _fit(returns, events, factor_data=_factors(returns))


def test_a_planted_long_run_alpha_is_recovered(planted: Any) -> None:
    _returns, _events, res = planted
    for model in ("market", "ff3", "carhart"):
        row = res.calendar_time(horizon=HORIZON, model=model).table().iloc[0]
        # The firms' alphas are 0, so the portfolio's alpha is the planted 0.1% a day.
        assert abs(row["alpha"] - 0.001) < 3 * row["se"]
        assert row["p"] < 1e-6
    monthly = res.calendar_time(horizon=HORIZON, frequency="monthly").table().iloc[0]
    assert abs(monthly["alpha"] / 21 - 0.001) < 3 * monthly["se"] / 21
    assert monthly["p"] < 1e-3


def test_no_alpha_where_none_was_planted() -> None:
    returns, events = _synthetic(0.0)
    res = _fit(returns, events)
    row = res.calendar_time(horizon=HORIZON).table().iloc[0]
    assert abs(row["alpha"]) < 3 * row["se"] and row["p"] > 0.05


def test_the_alpha_is_statsmodels_ols_on_the_written_returns(planted: Any, tmp_path: Path) -> None:
    returns, events, _ = planted
    factors = _factors(returns)
    res = _fit(
        returns,
        events,
        factor_data=factors,
        calendar_time={"horizon": list(HORIZON), "model": "ff3", "min_firms": 5},
    )
    res.save(tmp_path / "out", figures=False)
    table = pd.read_csv(tmp_path / "out" / "calendar_time.csv")
    written = pd.read_csv(tmp_path / "out" / "calendar_time_returns.csv", parse_dates=["date"])
    assert written["n_firms"].min() >= 5
    merged = written.merge(factors.frame, left_on="date", right_index=True, how="inner")
    assert len(merged) == len(written) == table["n_periods"].iloc[0]
    y = merged["return"] - merged["RF"]
    x = sm.add_constant(merged[["Mkt-RF", "SMB", "HML"]])
    lags = int(np.floor(4 * (len(y) / 100) ** (2 / 9)))
    by_hand = sm.OLS(y, x).fit(cov_type="HAC", cov_kwds={"maxlags": lags})
    row = table.iloc[0]
    assert row["alpha"] == pytest.approx(by_hand.params["const"], abs=1e-10)
    assert row["se"] == pytest.approx(by_hand.bse["const"], rel=1e-6)  # CSV round trip
    assert row["p"] == pytest.approx(by_hand.pvalues["const"], rel=1e-6)
    assert row["r2"] == pytest.approx(by_hand.rsquared, rel=1e-6)
    assert row["mean_firms"] == pytest.approx(written["n_firms"].mean(), rel=1e-9)
    assert (row["model"], row["frequency"], row["weighting"]) == ("ff3", "daily", "equal")
    hc1 = res.calendar_time(horizon=HORIZON, model="ff3", min_firms=5, errors="hc1")
    assert hc1.ols.bse["const"] == pytest.approx(
        sm.OLS(y, x).fit(cov_type="HC1").bse["const"], rel=1e-10
    )
    stored = StoredResults.load(tmp_path / "out")
    pd.testing.assert_frame_equal(stored.calendar_time_returns_frame(), written, check_dtype=False)
    assert stored.calendar_time_frame()["alpha"].iloc[0] == row["alpha"]
    assert stored.calendar_time_info is not None
    assert stored.calendar_time_info["hac_lags"] == lags
    from eventstudy.output.methods import methods_text

    text = " ".join(methods_text(stored, None, False)[0])
    assert f"autocorrelation-consistent standard errors with {lags} lags" in text


def test_no_calendar_time_tables_unless_asked(planted: Any, tmp_path: Path) -> None:
    _returns, _events, res = planted
    assert res.calendar_time_frame() is None and res.calendar_time_returns_frame() is None
    written = {p.name for p in res.save(tmp_path / "out", figures=False)}
    assert "calendar_time.csv" not in written and "calendar_time_returns.csv" not in written
    stored = StoredResults.load(tmp_path / "out")
    assert stored.calendar_time_frame() is None


def _portfolio_by_loops(
    returns: pd.DataFrame, events: pd.DataFrame, horizon: tuple[int, int], weight: dict
) -> pd.DataFrame:
    """Each session's portfolio by plain loops: every firm held through any of its events whose
    day 0 lies horizon sessions back, weighted by its latest such event's weight."""
    position = {d: i for i, d in enumerate(returns.index)}
    rows = []
    for t, date in enumerate(returns.index):
        held: dict[str, tuple[int, float]] = {}
        for k, (event, day, ticker) in enumerate(
            events[["event", "date", "ticker"]].itertuples(index=False)
        ):
            d0 = position[pd.Timestamp(day)]
            if d0 + horizon[0] <= t <= d0 + horizon[1]:
                w = weight.get((event, ticker), 1.0)
                if not (np.isfinite(w) and w > 0):
                    continue
                if ticker not in held or held[ticker][0] <= d0 * 10**6 + k:
                    held[ticker] = (d0 * 10**6 + k, w)
        num = den = 0.0
        n = 0
        for ticker, (_, w) in held.items():
            r = returns.at[date, ticker]
            if np.isfinite(r):
                num += w * r
                den += w
                n += 1
        if n:
            rows.append((date, num / den, n))
    return pd.DataFrame(rows, columns=["date", "return", "n_firms"])


@pytest.mark.parametrize("weighting", ["equal", "value"])
def test_portfolio_returns_against_loops(weighting: str) -> None:
    returns, events = _synthetic(
        0.0,
        n_firms=12,
        n_days=400,
        n_events=8,
        firms_per_event=4,
        missing=0.05,
        seed=3,
        event_window=(-5, 60),
    )
    # A firm in two overlapping events (the later event's weight holds).
    extra = events.iloc[[0]].assign(event="EXTRA", date=events["date"].iloc[-1])
    events = pd.concat([events, extra], ignore_index=True)
    rng = np.random.default_rng(5)
    weight = {
        (e, t): float(rng.uniform(1, 10))
        for e, t in zip(events["event"], events["ticker"], strict=True)
    }
    weight[(events["event"].iloc[1], events["ticker"].iloc[1])] = np.nan  # left out
    res = _fit(returns, events)
    market_values = pd.DataFrame(
        [(e, t, w) for (e, t), w in weight.items()], columns=["event", "ticker", "market_value"]
    )
    from eventstudy.inference.calendar_time import study_calendar_time

    ct = study_calendar_time(
        res.study_fit,
        res.panel,
        market_values=market_values,
        horizon=(0, 60),
        weighting=weighting,
    )
    expected = _portfolio_by_loops(returns, events, (0, 60), weight if weighting == "value" else {})
    got = ct.returns_frame()
    panel_dates = set(res.panel.dates)
    expected = expected[expected["date"].isin(panel_dates)].reset_index(drop=True)
    assert len(got) == len(expected)
    np.testing.assert_allclose(got["return"], expected["return"], rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(got["n_firms"], expected["n_firms"])
    np.testing.assert_array_equal(got["date"], expected["date"])


def test_monthly_returns_compound_the_daily_ones(planted: Any) -> None:
    _returns, _events, res = planted
    daily = res.calendar_time(horizon=HORIZON, model="ff3").data
    monthly = res.calendar_time(horizon=HORIZON, model="ff3", frequency="monthly").data
    month = daily["date"].dt.to_period("M")
    growth = (1 + daily[["return", "rf", "SMB"]]).groupby(month).prod()
    mkt = (1 + daily["Mkt-RF"] + daily["rf"]).groupby(month).prod()
    np.testing.assert_allclose(monthly["return"], growth["return"] - 1, rtol=1e-12)
    np.testing.assert_allclose(monthly["excess"], growth["return"] - growth["rf"], rtol=1e-11)
    np.testing.assert_allclose(monthly["SMB"], growth["SMB"] - 1, rtol=1e-11)
    np.testing.assert_allclose(monthly["Mkt-RF"], mkt - growth["rf"], rtol=1e-11)
    np.testing.assert_array_equal(monthly["date"], daily.groupby(month)["date"].max())


def test_holdings_clip_to_the_panel_and_keep_the_latest_event() -> None:
    held = holdings(
        6, np.array([1, 3, 5]), np.array([0, 0, 1]), 2, (0, 2), np.array([1.0, 2.0, 3.0])
    )
    expected = np.array([[0, 0], [1, 0], [1, 0], [2, 0], [2, 0], [2, 3]], dtype=float)
    np.testing.assert_array_equal(held, expected)
    assert [newey_west_lags(n) for n in (50, 100, 1000)] == [3, 4, 6]


def test_bad_calendar_time_settings_are_one_line_errors(planted: Any) -> None:
    base = {"study": "s", "tickers": ["A"], "events": [{"name": "e", "date": "2024-01-02"}]}
    with pytest.raises(StudyFileError, match=r"calendar_time\.weighting"):
        parse_study({**base, "calendar_time": {"weighting": "cap"}})
    with pytest.raises(StudyFileError, match=r"calendar_time\.horizon"):
        parse_study({**base, "calendar_time": {"horizon": [5, 1]}})
    with pytest.raises(StudyFileError, match=r"calendar_time\.min_firms"):
        parse_study({**base, "calendar_time": {"min_firms": 0}})
    spec = parse_study({**base, "calendar_time": {}})
    assert spec.calendar_time is not None and spec.calendar_time.horizon == (1, 250)
    returns, events = _synthetic(0.0)
    res = _fit(returns, events)
    with pytest.raises(DataError, match="needs Fama-French factors"):
        res.calendar_time(model="ff3")
    with pytest.raises(DataError, match="value weighting"):
        res.calendar_time(weighting="value")
    with pytest.raises(DataError, match="too few"):
        res.calendar_time(min_firms=10_000)


def test_the_calendar_time_chart_draws_the_cumulated_abnormal_return(planted: Any) -> None:
    returns, events, _ = planted
    res = _fit(returns, events, calendar_time={"horizon": list(HORIZON)})
    from eventstudy.output.plots import chart_plan

    assert "calendar_time" in [c.chart for c in chart_plan(res)]
    assert "calendar_time" not in [c.chart for c in chart_plan(_fit(returns, events))]
    fig = res.plot_calendar_time()
    ct = res.calendar_time_result()
    betas = ct.ols.params.drop("const")
    abnormal = ct.data["excess"] - ct.data[list(betas.index)] @ betas
    by_gid = {a.get_gid(): a for ax in fig.axes for a in ax.get_children()}
    np.testing.assert_allclose(
        by_gid["calendar_time:car"].get_ydata(), np.cumsum(abnormal) * 100, rtol=1e-12
    )
    # alpha + residual, cumulated, is the same path
    np.testing.assert_allclose(
        np.cumsum(ct.ols.params["const"] + ct.ols.resid) * 100,
        by_gid["calendar_time:car"].get_ydata(),
        rtol=1e-9,
    )
    assert "calendar_time:firms" in by_gid


# ----------------------------------------------------------------------------- benchmarked BHARs
BHAR_WINDOW = (0, 20)


@pytest.fixture(scope="module")
def bhar_data() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, list[str]]:
    returns, events = SyntheticConfig(
        n_firms=30,
        n_days=500,
        n_events=6,
        firms_per_event=5,
        seed=21,
        missing=0.03,
        event_window=(-5, 30),
    ).generate()
    firms = sorted(set(events["ticker"]))
    others = [t for t in returns.columns if t not in firms and t != "MKT"]
    rng = np.random.default_rng(2)
    matches = events[["event", "ticker"]].assign(match_ticker=rng.choice(others, len(events)))
    matches = matches.iloc[1:]  # the first firm-event has no match: no BHAR
    return returns, events, matches, others[:4]


def _bhar_fit(returns: pd.DataFrame, events: pd.DataFrame, **kwargs: Any) -> pd.DataFrame:
    res = _fit(returns, events, event_window=(-5, 30), bhar_windows=[BHAR_WINDOW], **kwargs)
    return res.bhar_frame()


def _bhar_by_hand(returns: pd.DataFrame, event_date: Any, ticker: str, bench: pd.Series) -> float:
    at = returns.index.get_loc(pd.Timestamp(event_date))
    rows = slice(at + BHAR_WINDOW[0], at + BHAR_WINDOW[1] + 1)
    r = returns[ticker].to_numpy()[rows]
    b = bench.to_numpy()[rows]
    ok = np.isfinite(r) & np.isfinite(b)
    if not ok.any():
        return np.nan
    return float(np.prod(1 + r[ok]) - np.prod(1 + b[ok]))


@pytest.mark.parametrize("benchmark", ["market", "matched", "portfolio"])
def test_benchmarked_bhars_against_numpy(bhar_data: Any, benchmark: str) -> None:
    returns, events, matches, reference = bhar_data
    frame = _bhar_fit(
        returns,
        events,
        bhar_benchmark=benchmark,
        matches=matches if benchmark == "matched" else None,
        reference_portfolio=reference if benchmark == "portfolio" else None,
    )
    match_of = {(e, t): m for e, t, m in matches.itertuples(index=False)}
    portfolio = returns[reference].mean(axis=1, skipna=True)  # NaN when none has a return
    dates = dict(zip(events["event"], events["date"], strict=False))
    assert len(frame) == len(events)
    for row in frame.itertuples(index=False):
        if benchmark == "market":
            bench = returns["MKT"]
        elif benchmark == "matched":
            match = match_of.get((row.event, row.ticker))
            bench = returns[match] if match else pd.Series(np.nan, index=returns.index)
        else:
            bench = portfolio
        expected = _bhar_by_hand(returns, dates[row.event], row.ticker, bench)
        if np.isnan(expected):
            assert np.isnan(row.bhar)
        else:
            assert row.bhar == pytest.approx(expected, rel=1e-12, abs=1e-15)
    if benchmark == "matched":
        first = frame[
            (frame["event"] == events["event"].iloc[0])
            & (frame["ticker"] == events["ticker"].iloc[0])
        ]
        assert first["bhar"].isna().all()


def test_the_default_benchmark_is_the_model(bhar_data: Any) -> None:
    returns, events, _matches, _reference = bhar_data
    model = _bhar_fit(returns, events)
    ar = _fit(returns, events, event_window=(-5, 30), bhar_windows=[BHAR_WINDOW]).ar_frame()
    row = model.iloc[0]
    sub = ar[(ar["event"] == row["event"]) & (ar["ticker"] == row["ticker"])]
    sub = sub[sub["rel_day"].between(*BHAR_WINDOW)]
    ok = np.isfinite(sub["ret"]) & np.isfinite(sub["normal_ret"])
    expected = np.prod(1 + sub["ret"][ok]) - np.prod(1 + sub["normal_ret"][ok])
    assert row["bhar"] == pytest.approx(expected, rel=1e-12)


def test_benchmark_settings_are_checked(bhar_data: Any) -> None:
    returns, events, _matches, _reference = bhar_data
    base = {"study": "s", "tickers": ["A"], "events": [{"name": "e", "date": "2024-01-02"}]}
    with pytest.raises(StudyFileError, match="reference_portfolio"):
        parse_study({**base, "bhar_benchmark": "portfolio"})
    with pytest.raises(StudyFileError, match="bhar_benchmark"):
        parse_study({**base, "bhar_benchmark": "size"})
    with pytest.raises(DataError, match="needs matches"):
        _bhar_fit(returns, events, bhar_benchmark="matched")
    twice = pd.DataFrame({"event": ["E", "E"], "ticker": ["A", "A"], "match_ticker": ["B", "C"]})
    with pytest.raises(DataError, match="matched twice"):
        _bhar_fit(returns, events, bhar_benchmark="matched", matches=twice)


# ------------------------------------------------------------- Lyon, Barber & Tsai's resampling
def _skew_t_by_hand(x: np.ndarray) -> float:
    n = len(x)
    m = sum(x) / n
    s = (sum((v - m) ** 2 for v in x) / (n - 1)) ** 0.5
    g = sum((v - m) ** 3 for v in x) / (n * s**3)
    S = m / s
    return float(np.sqrt(n) * (S + g * S * S / 3 + g / (6 * n)))


def test_the_bootstrapped_skewness_adjusted_t_by_loops() -> None:
    from eventstudy.inference import bootstrap
    from eventstudy.inference.bhar_bootstrap import resampling_tests

    rng = np.random.default_rng(4)
    x = rng.lognormal(0, 0.8, 40) - 1.2  # skewed BHARs
    frame = pd.DataFrame(
        {"event": "E", "ticker": [f"T{i}" for i in range(40)], "start": 0, "end": 20, "bhar": x}
    )
    out = resampling_tests(frame, {"E": 500}, seed=5).set_index(["event", "test"])
    row = out.loc[("E", "bhar_bootstrap_skewness_adjusted_t")]
    assert row["statistic"] == pytest.approx(_skew_t_by_hand(list(x)), rel=1e-12)
    # The same draws, recomputed one resample at a time: uniform draws of the bootstrap's random
    # stream (seed, the BHAR test's key, chunk), the event's 10 columns then the pooled sample's;
    # LBT's t of each resample centred on the sample's mean, (1 + count) / (B + 1) two-sided.
    u = np.concatenate([
        bootstrap._generator(5, bootstrap._BHAR_SKEW, k).random((size, 20))
        for k, size in bootstrap._chunks(500)
    ])  # fmt: skip
    mean = x.mean()

    def t_star(resample: np.ndarray) -> float:
        n = len(resample)
        m = sum(resample) / n
        s = (sum((v - m) ** 2 for v in resample) / (n - 1)) ** 0.5
        g = sum((v - m) ** 3 for v in resample) / (n * s**3)
        S = (m - mean) / s
        return float(np.sqrt(n) * (S + g * S * S / 3 + g / (6 * n)))

    t = row["statistic"]
    for name, cols in (("E", slice(0, 10)), ("all", slice(10, 20))):
        picks = np.minimum((u[:, cols] * 40).astype(int), 39)
        t_b = np.array([t_star(x[pick]) for pick in picks])
        lo, hi = np.sum(t_b <= t), np.sum(t_b >= t)
        expected = min(1.0, 2 * (1 + min(lo, hi)) / (500 + 1))
        got = out.loc[(name, "bhar_bootstrap_skewness_adjusted_t")]
        assert got["p_value"] == pytest.approx(expected, rel=1e-12), name
        assert got["statistic"] == pytest.approx(t, rel=1e-12)
    assert row["n"] == 40 and row["note"] == "500 resamples of 10"
    # One implementation: the study key ``bootstrap`` gives this row the same numbers.
    same = bootstrap.bhar_tests(frame, "all", "bhar_bootstrap_skewness_adjusted_t", 500, 5)
    assert same.iloc[0]["p_value"] == row["p_value"] and same.iloc[0]["note"] == row["note"]
    # The empirical p-value needs pseudo-portfolios (not given here).
    assert np.isnan(out.loc[("E", "bhar_empirical_p"), "p_value"])


def test_the_empirical_p_value_matches_the_exact_distribution() -> None:
    from scipy import stats

    from eventstudy.inference.bhar_bootstrap import empirical_p

    # Ten firm-events, each with a pool of two pseudo-BHARs 0 and 1 (and NaN padding): a
    # pseudo-sample's mean is Binomial(10, 1/2) / 10.
    pseudo = np.tile([0.0, np.nan, 1.0, np.nan], (10, 1))
    p = empirical_p(0.8, pseudo, 40_000, np.random.default_rng(1))
    exact = 2 * stats.binom.sf(7, 10, 0.5)
    assert p == pytest.approx(exact, abs=0.01)
    assert empirical_p(5.0, pseudo, 1000, np.random.default_rng(1)) == 0.0


def test_pseudo_bhars_compound_each_pool_firm_against_the_benchmark(bhar_data: Any) -> None:
    from eventstudy.inference.bhar_bootstrap import pseudo_bhars

    returns, events, _matches, reference = bhar_data
    res = _fit(
        returns,
        events,
        event_window=(-5, 30),
        bhar_windows=[BHAR_WINDOW],
        bhar_benchmark="market",
        reference_portfolio=reference,
        bhar_resamples=200,
    )
    frame = res.bhar_frame()
    pseudo = pseudo_bhars(res.panel, res.study_fit, frame)
    assert pseudo.shape == (len(frame), len(reference))
    dates = dict(zip(events["event"], events["date"], strict=False))
    for i in (0, len(frame) - 1):
        row = frame.iloc[i]
        for j, ticker in enumerate(reference):
            expected = _bhar_by_hand(returns, dates[row["event"]], ticker, returns["MKT"])
            assert pseudo[i, j] == pytest.approx(expected, rel=1e-12)
    tests = res.tests_frame()
    names = set(tests["test"])
    assert {"bhar_bootstrap_skewness_adjusted_t", "bhar_empirical_p"} <= names
    emp = tests[(tests["test"] == "bhar_empirical_p") & (tests["event"] == "all")].iloc[0]
    assert 0 <= emp["p_value"] <= 1 and emp["statistic"] == pytest.approx(frame["bhar"].mean())
    plain = _fit(returns, events, event_window=(-5, 30), bhar_windows=[BHAR_WINDOW])
    assert "bhar_empirical_p" not in set(plain.tests_frame()["test"])  # asked for only
    # Both keys: one row per group, from the one implementation, B resamples with that seed.
    settings = dict(event_window=(-5, 30), bhar_windows=[BHAR_WINDOW], bhar_benchmark="market",
                    reference_portfolio=reference, bhar_resamples=200)  # fmt: skip
    both = _fit(returns, events, bootstrap={"reps": 99, "seed": 3}, **settings).tests_frame()
    rows = both[both["test"] == "bhar_bootstrap_skewness_adjusted_t"]
    assert not rows.duplicated(["event", "start", "end"]).any()
    seeded = _fit(returns, events, **settings).tests_frame()
    from eventstudy.inference.bootstrap import bhar_tests

    direct = bhar_tests(frame, "all", "bhar_bootstrap_skewness_adjusted_t", 200, 3)
    np.testing.assert_array_equal(rows["p_value"].to_numpy(), direct["p_value"].to_numpy())
    default = seeded[seeded["test"] == "bhar_bootstrap_skewness_adjusted_t"]
    direct = bhar_tests(frame, "all", "bhar_bootstrap_skewness_adjusted_t", 200, 1)
    np.testing.assert_array_equal(default["p_value"].to_numpy(), direct["p_value"].to_numpy())


def test_the_calendar_time_simulation_runs() -> None:
    from benchmarks.simulation import CALENDAR_EFFECT, calendar_time_rates

    frame = calendar_time_rates(2, seed=3)
    assert list(frame.columns) == ["no alpha", f"+{CALENDAR_EFFECT:.2%} a day"]
    rates = frame.loc["rejection rate (%)"].to_numpy()
    assert ((rates >= 0) & (rates <= 100)).all()
    alpha = frame.loc["mean alpha (% a day)"].to_numpy()
    assert abs(alpha[1] - alpha[0] - 100 * CALENDAR_EFFECT) < 0.02  # the planted 0.05% a day


def test_the_methods_text_describes_the_long_horizon_methods(bhar_data: Any) -> None:
    from eventstudy.output.methods import methods_text

    returns, events, _matches, reference = bhar_data
    res = _fit(
        returns,
        events,
        event_window=(-5, 30),
        bhar_windows=[BHAR_WINDOW],
        bhar_benchmark="portfolio",
        reference_portfolio=reference,
        bhar_resamples=100,
        calendar_time={"horizon": [1, 20]},
    )
    paragraphs, cited = methods_text(res, res.tests_frame(), False)
    text = " ".join(paragraphs)
    assert "equal-weighted reference portfolio" in text and "pseudo-portfolios" in text
    assert "Calendar-time portfolio" in text
    assert {"lyon-1999", "jaffe-1974", "mitchell-stafford-2000"} <= set(cited)
    plain = " ".join(methods_text(_fit(returns, events), None, False)[0])
    assert "Calendar-time" not in plain


def test_a_study_file_runs_both_methods_end_to_end(bhar_data: Any, tmp_path: Path) -> None:
    from eventstudy.pipeline import DataOptions, run_study
    from eventstudy.study import load_study
    from eventstudy.synthetic import long_prices

    returns, events, matches, _reference = bhar_data
    long_prices(returns).to_csv(tmp_path / "prices.csv", index=False)
    matches.to_csv(tmp_path / "controls.csv", index=False)
    first = events[events["event"] == events["event"].iloc[0]]
    study = tmp_path / "study.yaml"
    study.write_text(
        "study: long\nmarket: MKT\nevent_window: [-5, 30]\nbhar_windows: [[0, 20]]\n"
        "bhar_benchmark: matched\nmatches: controls.csv\n"
        "calendar_time: {horizon: [1, 20], min_firms: 2}\nevents:\n"
        f"  - {{name: {first['event'].iloc[0]}, date: {first['date'].iloc[0]:%Y-%m-%d}, "
        f"tickers: [{', '.join(first['ticker'])}]}}\n"
    )
    options = DataOptions(prices=tmp_path / "prices.csv", offline=True, cache_dir=tmp_path / "c")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = run_study(load_study(study), options)
    bhar = res.bhar_frame()
    match_of = {(e, t): m for e, t, m in matches.itertuples(index=False)}
    date = first["date"].iloc[0]
    # Returns from the prices written (a missing price leaves two returns missing).
    prices = pd.read_csv(tmp_path / "prices.csv", parse_dates=["date"])
    wide = prices.pivot(index="date", columns="ticker", values="adj_close")
    from_prices = wide / wide.shift(1) - 1
    for row in bhar.itertuples(index=False):
        match = match_of.get((row.event, row.ticker))
        if match is None:
            assert np.isnan(row.bhar)
            continue
        expected = _bhar_by_hand(from_prices, date, row.ticker, from_prices[match])
        assert row.bhar == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert bhar["bhar"].notna().sum() >= len(first) - 1
    table = res.calendar_time_frame()
    assert table is not None and table["n_periods"].iloc[0] > 0
    assert res.calendar_time_returns_frame()["n_firms"].min() >= 2


def test_value_weights_are_market_values_on_day_minus_one() -> None:
    returns, events = _synthetic(
        0.0, n_firms=12, n_days=400, n_events=8, firms_per_event=4, seed=5, event_window=(-5, 60)
    )
    close = (100 * (1 + returns.fillna(0)).cumprod()).drop(columns="MKT")
    rng = np.random.default_rng(8)
    counts = dict(zip(close.columns, rng.uniform(1e6, 1e8, close.shape[1]), strict=True))
    shares = pd.DataFrame(
        {
            "ticker": list(counts),
            "as_of": returns.index[0],
            "shares_outstanding": list(counts.values()),
        }
    )
    res = _fit(returns, events, close=close, shares=shares)
    position = {d: i for i, d in enumerate(returns.index)}
    weight = {
        (e, t): close[t].iloc[position[pd.Timestamp(d)] - 1] * counts[t]
        for e, d, t in events[["event", "date", "ticker"]].itertuples(index=False)
    }
    got = res.calendar_time(horizon=(0, 60), weighting="value").returns_frame()
    expected = _portfolio_by_loops(returns, events, (0, 60), weight)
    expected = expected[expected["date"].isin(set(res.panel.dates))].reset_index(drop=True)
    np.testing.assert_allclose(got["return"], expected["return"], rtol=1e-10, atol=1e-15)
    np.testing.assert_array_equal(got["n_firms"], expected["n_firms"])
    equal = res.calendar_time(horizon=(0, 60)).returns_frame()
    assert not np.allclose(equal["return"], got["return"])  # the weights matter


def test_from_prices_takes_the_long_horizon_settings(bhar_data: Any) -> None:
    from eventstudy.synthetic import long_prices

    returns, events, matches, _reference = bhar_data
    es = EventStudy.from_prices(
        long_prices(returns),
        market="MKT",
        event_window=(-5, 30),
        car_windows=[(0, 0)],
        bhar_windows=[BHAR_WINDOW],
        bhar_benchmark="matched",
        matches=matches,
        calendar_time={"horizon": [1, 20]},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = es.fit(events)
    assert res.calendar_time_frame() is not None
    assert res.events[0].bhar_benchmark == "matched"
    assert res.bhar_frame()["bhar"].notna().sum() == len(events) - 1  # one without a match
