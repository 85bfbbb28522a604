"""Abnormal volume and abnormal volatility (issue "Beyond returns"): every number against an
independent computation from the documented formula (numpy, statsmodels OLS, the arch package,
scipy) on the real sample, and against R's EventStudy golden values where its conventions agree
(tests/reference/validation/eventstudy_r: VolumeModel, VolatilityModel)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from click.testing import CliRunner
from scipy import stats

from eventstudy import Event, EventStudy
from eventstudy.cli import main
from eventstudy.errors import DataError, StudyFileError
from eventstudy.study import parse_study

TICKERS = ["NVDA", "AVGO", "TSM", "AMD", "MU"]
EST, EV = (-250, -11), (-5, 5)
R_FIXTURES = Path(__file__).with_name("reference") / "validation" / "eventstudy_r"


def _fit(prices: pd.DataFrame, **kwargs) -> object:
    es = EventStudy.from_prices(
        prices, market="^GSPC", estimation_window=EST, event_window=EV, **kwargs
    )
    return es.fit([Event(name="R1", date="2025-01-27", tickers=TICKERS)])


@pytest.fixture(scope="module")
def res(sample_prices: pd.DataFrame) -> object:
    return _fit(sample_prices, measures=["volume", "volatility"])


def _wide(prices: pd.DataFrame, column: str) -> pd.DataFrame:
    return prices.pivot(index="date", columns="ticker", values=column).sort_index()


def _windows(series: pd.Series, day0: pd.Timestamp) -> tuple[pd.Series, pd.Series]:
    """Estimation and event-window values of a series on the market's sessions (day 0 by date)."""
    at = series.index.get_loc(day0)
    return (
        series.iloc[at + EST[0] : at + EST[1] + 1],
        series.iloc[at + EV[0] : at + EV[1] + 1],
    )


DAY0 = pd.Timestamp("2025-01-27")


def _r_case(name: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DatetimeIndex]:
    """An R EventStudy golden case: its fixture, its expected values (columns 3: quantity,
    6: value) and business days to put the fixture's rows on."""
    fixture = pd.read_csv(R_FIXTURES / "fixtures" / f"{name}.csv")
    expected = pd.read_csv(R_FIXTURES / "expected_values.csv", header=None)
    dates = pd.bdate_range("2024-01-01", periods=len(fixture))
    return fixture, expected[expected[0] == name], dates


def _fit_r_case(
    fixture: pd.DataFrame, dates: pd.DatetimeIndex, returns: pd.DataFrame, measure: str, **kw
) -> object:
    """R's single-event layout: 6 estimation days [-6, -1], event days [0, 2], firm F, market
    M, market-adjusted returns."""
    day0 = dates[int(np.flatnonzero(fixture["relative_index"] == 0)[0])]
    es = EventStudy(
        returns,
        market="M",
        model="market-adjusted",
        estimation_window=(-6, -1),
        event_window=(0, 2),
        car_windows=[(0, 2)],
        min_estimation_obs=6,
        measures=[measure],
        **kw,
    )
    return es.fit([Event(name="E", date=day0.date(), tickers=["F"])])


# ----------------------------------------------------------------------------- volume
def test_mean_volume_model_equals_the_formula(res, sample_prices: pd.DataFrame) -> None:
    volume = _wide(sample_prices, "volume")
    gspc = _wide(sample_prices, "adj_close")["^GSPC"].dropna()
    sessions = gspc.index[1:]  # the first session has no return
    frame = res.volume_frame()
    cav = res.cav_frame()
    for ticker in TICKERS:
        log_v = np.log1p(volume[ticker].reindex(sessions))
        est, ev = _windows(log_v, DAY0)
        mean, sd = est.mean(), est.std(ddof=1)  # constant mean: M - 1 degrees of freedom
        mine = frame[frame.ticker == ticker].set_index("rel_day")
        np.testing.assert_allclose(mine["log_volume"], ev.to_numpy(), rtol=1e-12)
        np.testing.assert_allclose(mine["normal_log_volume"], mean, rtol=1e-12)
        np.testing.assert_allclose(mine["av"], ev.to_numpy() - mean, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(
            mine["volume"], volume[ticker].reindex(ev.index).to_numpy(), rtol=0
        )
        # CAV over [-1, 1]: se = sd * sqrt(L + L^2 / M) (prediction error of the mean).
        row = cav[(cav.ticker == ticker) & (cav.start == -1) & (cav.end == 1)].iloc[0]
        want = (ev.iloc[4:7] - mean).sum()
        se = sd * np.sqrt(3 + 9 / len(est))
        assert row["cav"] == pytest.approx(want, rel=1e-10)
        assert row["se"] == pytest.approx(se, rel=1e-10)
        assert row["p"] == pytest.approx(2 * stats.t.sf(abs(want / se), len(est) - 1), rel=1e-8)
        assert row["model"] == "mean"


def test_market_volume_model_equals_statsmodels(sample_prices: pd.DataFrame) -> None:
    res = _fit(sample_prices, measures=["volume"], volume_model="market")
    volume = _wide(sample_prices, "volume")
    gspc = _wide(sample_prices, "adj_close")["^GSPC"].dropna()
    sessions = gspc.index[1:]
    log_v = np.log1p(volume.reindex(sessions))
    frame = res.volume_frame()
    for ticker in ("NVDA", "MU"):
        y_est, y_ev = _windows(log_v[ticker], DAY0)
        x_est, x_ev = _windows(log_v["^GSPC"], DAY0)
        ols = sm.OLS(y_est.to_numpy(), sm.add_constant(x_est.to_numpy())).fit()
        normal = ols.params[0] + ols.params[1] * x_ev.to_numpy()
        mine = frame[frame.ticker == ticker]
        np.testing.assert_allclose(mine["normal_log_volume"], normal, rtol=1e-10)
        np.testing.assert_allclose(mine["av"], y_ev.to_numpy() - normal, atol=1e-10)
        assert set(mine["model"]) == {"market"}


def test_volume_matches_r_eventstudy_volume_model() -> None:
    """R EventStudy VolumeModel (log on): mean of ln(V + 1) over 6 estimation days, sigma with
    m - 1 = 5 df, AR = measure - mean: the same conventions as volume_model: mean."""
    fixture, expected, dates = _r_case("volume")
    volume = pd.DataFrame({"F": fixture["firm_volume"].to_numpy(), "M": 1.0}, index=dates)
    returns = pd.DataFrame({"F": 0.01, "M": np.linspace(-0.01, 0.01, len(dates))}, index=dates)
    res = _fit_r_case(fixture, dates, returns, "volume", volume=volume)
    params = res.volume_fit.batches[0].fit
    value = dict(zip(expected[3], expected[6], strict=False))
    assert params.params[0, 0] == pytest.approx(float(value["model_mean"]), abs=1e-10)
    assert np.sqrt(params.sigma2[0]) == pytest.approx(float(value["sigma"]), abs=1e-10)
    assert params.df[0] == int(float(value["degree_of_freedom"]))
    ars = expected[expected[3] == "abnormal_returns"][6].astype(float).to_numpy()
    np.testing.assert_allclose(res.volume_frame()["av"], ars, atol=1e-10)


# ----------------------------------------------------------------------------- volatility
def test_volatility_ratios_equal_the_formula(res, sample_prices: pd.DataFrame) -> None:
    prices = _wide(sample_prices, "adj_close")
    gspc = prices["^GSPC"].dropna()
    returns = prices.reindex(gspc.index).pct_change(fill_method=None).iloc[1:]
    frame = res.volatility_frame()
    ratios = res.variance_ratio_frame()
    for ticker in TICKERS:
        y_est, y_ev = _windows(returns[ticker], DAY0)
        x_est, x_ev = _windows(returns["^GSPC"], DAY0)
        ols = sm.OLS(y_est.to_numpy(), sm.add_constant(x_est.to_numpy())).fit()
        s2, m = ols.scale, len(x_est)  # residual variance on M - 2 df
        ar = y_ev.to_numpy() - ols.predict(sm.add_constant(x_ev.to_numpy()))
        x_bar, sxx = x_est.mean(), ((x_est - x_est.mean()) ** 2).sum()
        var_ar = s2 * (1 + 1 / m + (x_ev.to_numpy() - x_bar) ** 2 / sxx)
        mine = frame[frame.ticker == ticker]
        np.testing.assert_allclose(mine["ar"], ar, rtol=1e-9)
        np.testing.assert_allclose(mine["u"], ar**2 / s2, rtol=1e-9)  # Beaver (1968)
        np.testing.assert_allclose(mine["u_adj"], ar**2 / var_ar, rtol=1e-9)
        df = ols.df_resid
        np.testing.assert_allclose(mine["null_mean"], df / (df - 2), rtol=1e-12)
        # Variance ratio over [-1, 1]: mean u_adj ~ F(3, df), two-sided p.
        row = ratios[(ratios.ticker == ticker) & (ratios.start == -1) & (ratios.end == 1)].iloc[0]
        vr = (ar[4:7] ** 2 / var_ar[4:7]).mean()
        p = 2 * min(stats.f.cdf(vr, 3, df), stats.f.sf(vr, 3, df))
        assert row["variance_ratio"] == pytest.approx(vr, rel=1e-9)
        assert (row["df1"], row["df2"]) == (3, df)
        assert row["p"] == pytest.approx(min(p, 1.0), rel=1e-7)


def test_volatility_tests_equal_a_hand_computation(res, sample_prices: pd.DataFrame) -> None:
    """Cross-sectional t of the mean u_adj against its null mean, and the Corrado rank test of
    the centred ratios among the centred estimation values (the battery's rank test)."""
    frame = res.volatility_frame()
    tests = res.tests_frame()
    vol = tests[(tests.measure == "volatility") & (tests.event == "R1")].set_index(
        ["test", "start", "end"]
    )
    assert set(vol.index.get_level_values("test")) == {"cross_sectional_t", "corrado_rank"}
    day0 = frame[frame.rel_day == 0]
    x = (day0["u_adj"] - day0["null_mean"]).to_numpy()
    t = x.mean() / (x.std(ddof=1) / np.sqrt(len(x)))
    assert vol.loc[("cross_sectional_t", 0, 0), "statistic"] == pytest.approx(t, rel=1e-10)
    assert vol.loc[("cross_sectional_t", 0, 0), "p_value"] == pytest.approx(
        2 * stats.t.sf(abs(t), len(x) - 1), rel=1e-8
    )
    # Rank test by hand: per firm, the estimation values z = e^2 / s^2 (statsmodels residuals)
    # over their mean and the event values u_adj over their null mean, ranked together;
    # U = rank / (T + 1) - 1/2; Z = Ubar_0 / S.
    prices = _wide(sample_prices, "adj_close")
    gspc = prices["^GSPC"].dropna()
    returns = prices.reindex(gspc.index).pct_change(fill_method=None).iloc[1:]
    ubar: dict[int, list[float]] = {}
    for ticker in TICKERS:
        y_est, _ = _windows(returns[ticker], DAY0)
        x_est, _ = _windows(returns["^GSPC"], DAY0)
        ols = sm.OLS(y_est.to_numpy(), sm.add_constant(x_est.to_numpy())).fit()
        z = ols.resid**2 / ols.scale
        mine = frame[frame.ticker == ticker]
        days = np.r_[np.arange(EST[0], EST[1] + 1), mine["rel_day"].to_numpy()]
        values = np.r_[z / z.mean(), (mine["u_adj"] / mine["null_mean"]).to_numpy()]
        ranks = stats.rankdata(values)
        u = ranks / (len(values) + 1) - 0.5
        for d, value in zip(days, u, strict=True):
            ubar.setdefault(int(d), []).append(value)
    means = {d: np.mean(v) for d, v in ubar.items()}
    s = np.sqrt(np.mean([m**2 for m in means.values()]))
    assert vol.loc[("corrado_rank", 0, 0), "statistic"] == pytest.approx(means[0] / s, rel=1e-9)


def test_volatility_matches_r_eventstudy_volatility_model() -> None:
    """R EventStudy VolatilityModel: AR = R^2 / var(R) - 1 with the sample variance (m - 1) of
    the estimation returns, sigma = sd of that over the estimation window. Ours squares the
    return model's ARs; with the market-adjusted model against a market of zeros the AR is the
    return and s^2 its sample variance, so u - 1 is R's AR and the centred estimation values'
    sd is R's sigma."""
    fixture, expected, dates = _r_case("volatility")
    returns = pd.DataFrame({"F": fixture["firm_returns"].to_numpy(), "M": 0.0}, index=dates)
    res = _fit_r_case(fixture, dates, returns, "volatility")
    value = dict(zip(expected[3], expected[6], strict=False))
    fit = res.batches[0].fit
    assert fit.sigma2[0] == pytest.approx(float(value["model_est_var"]), abs=1e-12)
    ars = expected[expected[3] == "abnormal_returns"][6].astype(float).to_numpy()
    np.testing.assert_allclose(res.volatility_frame()["u"] - 1, ars, atol=1e-10)
    spread = res.volatility_batches[0].batch.fit.sigma2[0]
    assert np.sqrt(spread) == pytest.approx(float(value["sigma"]), abs=1e-10)


def test_garch_ratio_equals_arch_by_hand(sample_prices: pd.DataFrame) -> None:
    arch = pytest.importorskip("arch")
    res = _fit(sample_prices, measures=["volatility"], volatility_model="garch")
    frame = res.volatility_frame()
    fit = res.batches[0].fit
    for ticker in ("NVDA", "AMD"):
        i = res.batches[0].ticker.index(ticker)
        resid = fit.resid[i][np.isfinite(fit.resid[i])]
        model = arch.arch_model(100 * resid, mean="Zero", vol="GARCH", p=1, q=1, rescale=False)
        fitted = model.fit(disp="off", show_warning=False)
        horizon = EV[1] - EST[1]
        ahead = fitted.forecast(horizon=horizon, reindex=False).variance.to_numpy()[0] / 1e4
        variance = ahead[np.arange(EV[0], EV[1] + 1) - EST[1] - 1]
        mine = frame[frame.ticker == ticker]
        np.testing.assert_allclose(mine["garch_variance"], variance, rtol=1e-6)
        np.testing.assert_allclose(mine["garch_ratio"], mine["ar"] ** 2 / variance, rtol=1e-6)
        assert set(mine["model"]) == {"garch"}
    assert set(res.volatility_batches[0].null_mean) == {1.0}


# ----------------------------------------------------------------------------- bad input
def test_a_ticker_without_volume_is_left_out_of_the_volume_measure_with_a_note(
    sample_prices: pd.DataFrame,
) -> None:
    prices = sample_prices.copy()
    prices.loc[prices.ticker == "AMD", "volume"] = np.nan
    prices.loc[(prices.ticker == "MU") & (prices.date == "2024-12-02"), "volume"] = 0
    with pytest.warns(UserWarning, match=r"left out of the volume measure .*AMD"):
        res = _fit(prices, measures=["volume"])
    assert "AMD" not in set(res.volume_frame()["ticker"])
    skipped = res.skipped_frame()
    amd = skipped[skipped.ticker == "AMD"]
    assert list(amd["reason"]) == ["volume: no trading volume in the estimation window "
                                   "(volume missing or zero every day)"]
    quality = res.quality_frame().set_index("ticker")
    assert "no_volume" in quality.loc["AMD", "flags"]
    assert quality.loc["MU", "zero_volume_days"] == 1
    assert "zero_volume" in quality.loc["MU", "flags"]
    assert quality.loc["NVDA", "zero_volume_days"] == 0
    tests = res.tests_frame()
    day0 = tests[(tests.measure == "volume") & (tests.start == 0) & (tests.end == 0)]
    assert set(day0["n"]) == {4}  # AMD is not a silent NaN in the averages
    assert res.average_frame("volume").query("rel_day == 0")["n"].item() == 4
    # Returns are untouched: AMD is still in the return study.
    assert "AMD" in set(res.car_frame()["ticker"])


def test_stale_volume_is_flagged(sample_prices: pd.DataFrame) -> None:
    prices = sample_prices.copy()
    rows = prices.index[(prices.ticker == "TSM") & prices.date.between("2024-11-04", "2024-11-08")]
    prices.loc[rows, "volume"] = 12_345_678.0
    res = _fit(prices, measures=["volume"])
    quality = res.quality_frame().set_index("ticker")
    assert quality.loc["TSM", "stale_volume_runs"] == 5
    assert "stale_volume" in quality.loc["TSM", "flags"]
    assert "stale_volume" not in quality.loc["NVDA", "flags"]


def test_market_volume_model_needs_a_market_with_volume(sample_prices: pd.DataFrame) -> None:
    es = EventStudy.from_prices(
        sample_prices, market="^SOX", measures=["volume"], volume_model="market"
    )
    with pytest.raises(DataError, match=r"\^SOX.*no trading volume.*volume_model: mean"):
        es.fit([Event(name="R1", date="2025-01-27", tickers=["NVDA"])])


def test_market_volume_model_names_a_missing_market_volume_day(sample_prices) -> None:
    prices = sample_prices.copy()
    prices.loc[(prices.ticker == "^GSPC") & (prices.date == "2024-11-05"), "volume"] = 0
    es = EventStudy.from_prices(prices, market="^GSPC", measures=["volume"], volume_model="market")
    with pytest.raises(DataError, match=r"\^GSPC has no trading volume on 1 session.*2024-11-05"):
        es.fit([Event(name="R1", date="2025-01-27", tickers=["NVDA"])])


def test_volume_without_volume_data_is_an_error(sample_prices: pd.DataFrame) -> None:
    returns = _wide(sample_prices, "adj_close").pct_change(fill_method=None).iloc[1:]
    es = EventStudy(returns, market="^GSPC", measures=["volume"])
    with pytest.raises(DataError, match=r"measures volume, but no trading volume was given"):
        es.fit([Event(name="R1", date="2025-01-27", tickers=["NVDA"])])
    negative = returns.abs().fillna(1.0)
    negative.loc[negative.index[3], "NVDA"] = -5.0
    with pytest.raises(DataError, match=r"`volume`: negative volume -5 for NVDA on 2023-10-06"):
        EventStudy(returns, volume=negative)


def test_study_file_keys_are_validated() -> None:
    base = {"study": "s", "tickers": ["NVDA"], "events": [{"name": "e", "date": "2025-01-27"}]}
    spec = parse_study({**base, "measures": ["volume"]})
    assert spec.resolved()[0].measures == ("return", "volume")  # returns always measured
    with pytest.raises(StudyFileError, match=r"measures\[0\].*'turnover'"):
        parse_study({**base, "measures": ["turnover"]})
    with pytest.raises(StudyFileError, match=r"volatility_model.*'egarch'"):
        parse_study({**base, "volatility_model": "egarch"})
    with pytest.raises(StudyFileError, match=r"garch.*estimation_window must end before"):
        parse_study({
            **base, "measures": ["volatility"], "volatility_model": "garch",
            "estimation_window": [3, 110], "event_window": [-2, 2], "car_windows": [[0, 0]],
        })
    per_event = parse_study({
        **base, "events": [
            {"name": "a", "date": "2025-01-27"},
            {"name": "b", "date": "2025-01-28", "measures": ["volatility"]},
        ],
    }).resolved()
    assert [e.measures for e in per_event] == [("return",), ("return", "volatility")]


def test_cli_price_file_without_volume_is_one_line(tmp_path: Path, sample_prices) -> None:
    prices = sample_prices.drop(columns="volume")
    prices.to_csv(tmp_path / "prices.csv", index=False)
    study = tmp_path / "s.yaml"
    study.write_text(
        "study: s\nmarket: ^GSPC\ntickers: [NVDA]\nmeasures: [volume]\n"
        "events:\n  - name: e\n    date: 2025-01-27\n"
    )
    result = CliRunner().invoke(
        main,
        ["run", str(study), "--prices", str(tmp_path / "prices.csv"), "--offline",
         "--no-figures", "--out", str(tmp_path / "out")],
    )
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "trading volume, and the prices hold none" in lines[0], (
        result.output
    )
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------------------------------- the default study
@pytest.mark.sample
def test_default_study_writes_nvda_day0_volume_and_volatility(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = CliRunner().invoke(
            main,
            ["run", "events.yaml", "--sample", "deepseek", "--no-figures", "--out", str(out),
             "-q"],
            catch_exceptions=False,
        )
    assert result.exit_code == 0, result.output
    volume = pd.read_csv(out / "abnormal_volume.csv")
    nvda = volume[(volume.event == "R1 sell-off") & (volume.ticker == "NVDA")]
    day0 = nvda[nvda.rel_day == 0].iloc[0]
    # 818.8M shares against an estimation-window mean of ln(1 + V) of 19.63: 2.4x normal.
    assert day0["volume"] == 818_830_900
    assert day0["av"] == pytest.approx(np.log1p(818_830_900) - day0["normal_log_volume"])
    assert 0.8 < day0["av"] < 1.0
    volatility = pd.read_csv(out / "abnormal_volatility.csv")
    nvda_vol = volatility[
        (volatility.event == "R1 sell-off") & (volatility.ticker == "NVDA")
        & (volatility.rel_day == 0)
    ].iloc[0]
    assert nvda_vol["u_adj"] > 20  # a -17% day is about a 5-sigma move
    tests = pd.read_csv(out / "tests.csv")
    assert set(tests["measure"]) == {"return", "volume", "volatility"}
    assert {"cav.csv", "variance_ratio.csv"} <= {p.name for p in out.iterdir()}
