"""Every normal-return model against statsmodels OLS on the real sample, Ken French file parsing,
and the errors for factor data that do not cover a study."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from eventstudy import DataError, Event, EventStudy
from eventstudy.data.factors import parse_french_csv, read_factors

TICKERS = ["NVDA", "AVGO", "TSM", "MU", "AAPL"]
EST = (-250, -11)


@pytest.fixture(scope="module")
def factors(sample_dir):
    return read_factors([sample_dir / "ff_factors_daily.csv"])


@pytest.fixture(scope="module")
def study(sample_prices, factors) -> EventStudy:
    return EventStudy.from_prices(
        sample_prices,
        market="^GSPC",
        factor_data=factors,
        estimation_window=EST,
        event_window=(-5, 20),
        car_windows=[(0, 0), (-1, 1), (0, 20)],
        bhar_windows=[(0, 10), (0, 20)],
    )


def _window(study: EventStudy, date: str):
    panel = study.panel
    d = panel.day0(date)
    est = slice(d + EST[0], d + EST[1] + 1)
    ev = slice(d - 5, d + 21)
    return panel, est, ev


def _compare(res, ref, ar_expected, ticker, event, names):
    params = res.params_frame().query("ticker == @ticker and event == @event").iloc[0]
    got = [params["alpha"], *(params[f"beta_{n}"] for n in names)]
    np.testing.assert_allclose(got, ref.params, rtol=0, atol=1e-8)
    assert params["sigma"] ** 2 == pytest.approx(ref.scale, rel=1e-8)
    assert params["df"] == ref.df_resid
    ar = res.ar_frame().query("ticker == @ticker and event == @event")["ar"].to_numpy()
    np.testing.assert_allclose(ar, ar_expected, rtol=0, atol=1e-8)


@pytest.mark.parametrize(
    ("model", "names"),
    [
        ("ff3", ["Mkt-RF", "SMB", "HML"]),
        ("carhart", ["Mkt-RF", "SMB", "HML", "Mom"]),
        ("ff5", ["Mkt-RF", "SMB_5F", "HML", "RMW", "CMA"]),
    ],
)
def test_fama_french_models_equal_statsmodels(study, factors, model, names) -> None:
    res = study.fit([Event(name="R1", date="2025-01-27", tickers=TICKERS, model=model)])
    panel, est, ev = _window(study, "2025-01-27")
    f = factors.frame.reindex(panel.dates)
    X = sm.add_constant(f[names].to_numpy())
    rf = f["RF"].to_numpy()
    for ticker in TICKERS:
        y = panel.series(ticker) - rf
        ref = sm.OLS(y[est], X[est]).fit()
        ar = y[ev] - ref.predict(X[ev])
        _compare(res, ref, ar, ticker, "R1", names)


def test_ff5_uses_the_five_factor_smb(factors) -> None:
    # SMB of the 5-factor file differs from the 3-factor SMB (up to ~1 pp a day in this window).
    diff = (factors.frame["SMB"] - factors.frame["SMB_5F"]).abs().max()
    assert diff > 0.001


def test_ticker_factor_model_equals_statsmodels(study) -> None:
    res = study.fit(
        [Event(name="R1", date="2025-01-27", tickers=TICKERS, model="factor",
               factors=["^GSPC", "^SOX"])]
    )
    panel, est, ev = _window(study, "2025-01-27")
    X = sm.add_constant(np.column_stack([panel.series("^GSPC"), panel.series("^SOX")]))
    for ticker in TICKERS:
        y = panel.series(ticker)
        ref = sm.OLS(y[est], X[est]).fit()
        _compare(res, ref, y[ev] - ref.predict(X[ev]), ticker, "R1", ["^GSPC", "^SOX"])


def _shift(x: np.ndarray, lag: int) -> np.ndarray:
    return pd.Series(x).shift(lag).to_numpy()


def test_scholes_williams_beta(study) -> None:
    res = study.fit([Event(name="R1", date="2025-01-27", tickers=TICKERS,
                           model="scholes-williams")])
    panel, est, ev = _window(study, "2025-01-27")
    m = panel.series("^GSPC")
    rho = np.corrcoef(m[est], _shift(m, 1)[est])[0, 1]
    for ticker in TICKERS:
        y = panel.series(ticker)
        slopes = [sm.OLS(y[est], sm.add_constant(_shift(m, lag)[est])).fit().params[1]
                  for lag in (1, 0, -1)]
        beta = sum(slopes) / (1 + 2 * rho)
        alpha = y[est].mean() - beta * m[est].mean()
        params = res.params_frame().query("ticker == @ticker").iloc[0]
        assert params["beta_^GSPC"] == pytest.approx(beta, abs=1e-10)
        assert params["alpha"] == pytest.approx(alpha, abs=1e-12)
        resid = y[est] - alpha - beta * m[est]
        assert params["sigma"] ** 2 == pytest.approx((resid**2).sum() / (len(resid) - 2), rel=1e-10)
        ar = res.ar_frame().query("ticker == @ticker")["ar"].to_numpy()
        np.testing.assert_allclose(ar, y[ev] - alpha - beta * m[ev], atol=1e-12)


@pytest.mark.parametrize("lags", [1, 2])
def test_dimson_beta(study, lags: int) -> None:
    res = study.fit([Event(name="R1", date="2025-01-27", tickers=TICKERS, model="dimson",
                           dimson_lags=lags)])
    panel, est, _ = _window(study, "2025-01-27")
    m = panel.series("^GSPC")
    X = sm.add_constant(np.column_stack([_shift(m, k) for k in range(lags, -lags - 1, -1)]))
    for ticker in TICKERS:
        y = panel.series(ticker)
        ref = sm.OLS(y[est], X[est]).fit()
        beta = ref.params[1:].sum()
        params = res.params_frame().query("ticker == @ticker").iloc[0]
        assert params["beta_^GSPC"] == pytest.approx(beta, abs=1e-10)
        assert params["alpha"] == pytest.approx(y[est].mean() - beta * m[est].mean(), abs=1e-12)


def test_bhar_compounds_returns(study) -> None:
    res = study.fit([Event(name="R1", date="2025-01-27", tickers=["NVDA"], model="market")])
    ar = res.ar_frame()
    sub = ar[(ar.rel_day >= 0) & (ar.rel_day <= 20)]
    expected = np.prod(1 + sub["ret"]) - np.prod(1 + sub["normal_ret"])
    bhar = res.bhar_frame().query("start == 0 and end == 20").iloc[0]
    assert bhar["bhar"] == pytest.approx(expected, abs=1e-14)
    assert bhar["n_days"] == 21


def test_market_adjusted_bhar_is_against_the_market(sample_prices) -> None:
    es = EventStudy.from_prices(sample_prices, market="^GSPC", model="market-adjusted",
                                event_window=(-5, 20), bhar_windows=[(0, 20)])
    res = es.fit([Event(name="R1", date="2025-01-27", tickers=["AVGO"])])
    d = es.panel.day0("2025-01-27")
    r = es.panel.series("AVGO")[d : d + 21]
    m = es.panel.series("^GSPC")[d : d + 21]
    assert res.bhar_frame()["bhar"].iloc[0] == pytest.approx(np.prod(1 + r) - np.prod(1 + m))


FRENCH_CLASSIC = """This file was created by CMPT_ME_BEME_RETS_DAILY using the 202503 CRSP database.
The Tbill return is the simple daily rate that, over the number of trading days
in the month, compounds to 1-month TBill rate from Ibbotson and Associates Inc.

,Mkt-RF,SMB,HML,RF
20250124,   -0.34,    0.22,    0.41,    0.017
20250127,   -1.49,   -0.64,    2.52,    0.017
20250128,    0.98,   -0.31,   -1.02,    0.017

Copyright 2025 Eugene F. Fama and Kenneth R. French
"""

FRENCH_NEW = """This file was created using the 202604 CRSP database.
The 1-month TBill rate data until 202405 are from Ibbotson and Associates.

,Mkt-RF,SMB,HML,RMW,CMA,RF
2025-01-24,-0.34,0.31,0.40,-0.20,0.10,0.02
2025-01-27,-1.49,0.30,2.50,-0.14,-1.73,0.02

 Annual Factors: January-December
,Mkt-RF,SMB,HML,RMW,CMA,RF
2024,23.0,-8.0,-10.0,1.0,-5.0,5.0
"""

MOMENTUM = """This file was created by CMPT_ME_PRIOR_RETS using the 202604 CRSP database.
It contains a momentum factor, constructed from six value-weight portfolios.

Missing data are indicated by -99.99 or -999.

,Mom
20250124,   0.55
20250127,  -3.28
20250128,  -99.99
"""


def test_parse_both_french_layouts() -> None:
    classic, release = parse_french_csv(FRENCH_CLASSIC)
    assert release == "202503"
    assert list(classic.columns) == ["Mkt-RF", "SMB", "HML", "RF"]
    assert classic.loc["2025-01-27", "HML"] == 2.52 and len(classic) == 3
    new, release = parse_french_csv(FRENCH_NEW)
    assert release == "202604"
    assert list(new.columns) == ["Mkt-RF", "SMB_5F", "HML", "RMW", "CMA", "RF"]
    assert len(new) == 2  # the annual table after the blank line is not read


def test_read_factors_merges_files_and_converts_percent(tmp_path) -> None:
    paths = []
    for name, text in [("3f.csv", FRENCH_CLASSIC), ("5f.csv", FRENCH_NEW), ("mom.csv", MOMENTUM)]:
        (tmp_path / name).write_text(text)
        paths.append(tmp_path / name)
    data = read_factors(paths)
    row = data.frame.loc["2025-01-27"]
    assert row["Mkt-RF"] == pytest.approx(-0.0149)
    assert row["SMB"] == pytest.approx(-0.0064) and row["SMB_5F"] == pytest.approx(0.0030)
    assert row["Mom"] == pytest.approx(-0.0328)
    assert np.isnan(data.frame.loc["2025-01-28", "Mom"])  # -99.99 is French's missing code
    assert data.describe()["factors_release"] == "202503, 202604"


def test_malformed_french_file_names_the_line(tmp_path) -> None:
    bad = FRENCH_CLASSIC.replace("20250127,   -1.49", "20250127,   x1.49")
    (tmp_path / "bad.csv").write_text(bad)
    with pytest.raises(DataError, match=r"bad.csv, line 7: non-numeric"):
        read_factors([tmp_path / "bad.csv"])


def test_factor_file_not_covering_the_window_names_dates(sample_prices, factors) -> None:
    short = type(factors)(frame=factors.frame.loc["2024-06-01":], sources=["short.csv"])
    es = EventStudy.from_prices(sample_prices, market="^GSPC", factor_data=short)
    with pytest.raises(DataError, match=r"short.csv.*have no values.*2024-01-2\d \.\. 2024-05-31"):
        es.fit([Event(name="R1", date="2025-01-27", tickers=["NVDA"], model="ff3")])


def test_missing_factor_model_data_is_an_error(sample_prices) -> None:
    es = EventStudy.from_prices(sample_prices, market="^GSPC")
    with pytest.raises(DataError, match="needs Fama-French factors"):
        es.fit([Event(name="R1", date="2025-01-27", tickers=["NVDA"], model="carhart")])


def test_regressor_with_missing_data_names_dates(sample_prices) -> None:
    wide = sample_prices.pivot(index="date", columns="ticker", values="adj_close")
    wide.loc["2024-08-05":"2024-08-07", "^SOX"] = np.nan
    es = EventStudy.from_prices(wide, market="^GSPC")
    with pytest.raises(DataError, match=r"regressor \^SOX has no return on 4 session\(s\) in "
                                        r"2024-08-05 \.\. 2024-08-08"):
        es.fit([Event(name="R1", date="2025-01-27", tickers=["NVDA"], model="factor",
                      factors=["^GSPC", "^SOX"])])


def test_collinear_regressors_are_reported(sample_prices) -> None:
    wide = sample_prices.pivot(index="date", columns="ticker", values="adj_close")
    wide["SPX2"] = wide["^GSPC"]
    es = EventStudy.from_prices(wide, market="^GSPC")
    res = es.fit([Event(name="R1", date="2025-01-27", tickers=["NVDA"], model="factor",
                        factors=["^GSPC", "SPX2"])])
    skipped = res.skipped_frame()
    assert skipped["reason"].tolist() == [
        "regressors are constant or collinear in the estimation window"
    ]
    assert res.car_frame().empty


def test_garch_equals_arch(study) -> None:
    arch = pytest.importorskip("arch")
    res = study.fit([Event(name="R1", date="2025-01-27", tickers=["NVDA", "MU"], model="garch")])
    panel, est, ev = _window(study, "2025-01-27")
    m = panel.series("^GSPC")
    d = panel.day0("2025-01-27")
    for ticker in ["NVDA", "MU"]:
        y = panel.series(ticker)
        ref = arch.arch_model(100 * y[est], x=100 * m[est, None], mean="LS", vol="GARCH",
                              p=1, q=1, rescale=False).fit(disp="off", show_warning=False)
        params = res.params_frame().query("ticker == @ticker").iloc[0]
        assert params["alpha"] == pytest.approx(ref.params["Const"] / 100, abs=1e-10)
        assert params["beta_^GSPC"] == pytest.approx(ref.params["x0"], abs=1e-8)
        assert params["omega"] == pytest.approx(ref.params["omega"] / 1e4, rel=1e-8)
        assert params["garch_alpha"] == pytest.approx(ref.params["alpha[1]"], abs=1e-8)
        assert params["garch_beta"] == pytest.approx(ref.params["beta[1]"], abs=1e-8)
        # AR standard errors are the GARCH variance forecasts from the end of the window.
        horizon = 20 - EST[1]
        future = 100 * m[d + EST[1] + 1 : d + EST[1] + 1 + horizon]
        var = ref.forecast(horizon=horizon, reindex=False, x=future[None, :]).variance
        expected = np.sqrt(var.to_numpy()[0][np.arange(-5, 21) - EST[1] - 1] / 1e4)
        ar = res.ar_frame().query("ticker == @ticker")
        np.testing.assert_allclose(ar["ar_se"], expected, rtol=1e-8)
        alpha, beta = ref.params["Const"] / 100, ref.params["x0"]
        np.testing.assert_allclose(ar["ar"], y[ev] - alpha - beta * m[ev], atol=1e-10)


def test_bhar_tests_by_hand(study) -> None:
    tickers = ["NVDA", "AVGO", "TSM", "MU", "AAPL", "AMD"]
    res = study.fit([Event(name="R1", date="2025-01-27", tickers=tickers)])
    x = res.bhar_frame().query("start == 0 and end == 20")["bhar"].to_numpy()
    n, mean, sd = len(x), x.mean(), x.std(ddof=1)
    s = mean / sd
    g = np.mean((x - mean) ** 3) / sd**3  # LBT 1999: sum (x - mean)^3 / (n sd^3)
    expected = {
        "bhar_cross_sectional_t": mean / (sd / np.sqrt(n)),
        "bhar_skewness_adjusted_t": np.sqrt(n) * (s + g * s**2 / 3 + g / (6 * n)),
    }
    tests = res.tests_frame().query("event == 'R1' and start == 0 and end == 20")
    for name, value in expected.items():
        row = tests[tests.test == name].iloc[0]
        assert row["statistic"] == pytest.approx(value, rel=1e-12)
        assert row["n"] == 6 and row["df"] == 5
