"""Explaining reactions (docs/explaining.md): firm characteristics, cross-sectional regressions of
CARs and group comparisons, on the real DeepSeek sample.

Every number is checked against an independent computation: the regressions against statsmodels
run by hand on car.csv merged with the characteristics file (and the HC1/HC3/WLS sandwich
written out in numpy), the group tests against the textbook formulas and scipy; every bad input
is one line with exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from click.testing import CliRunner
from scipy import stats

from eventstudy import Event, EventStudy
from eventstudy.cli import main
from eventstudy.errors import DataError, StudyFileError
from eventstudy.output.folder import StoredResults
from eventstudy.study import parse_study

from .conftest import REPO

EXAMPLE = REPO / "examples" / "explain.yaml"
CHARACTERISTICS = REPO / "examples" / "characteristics.csv"
TOL = {"rtol": 1e-10, "atol": 1e-12}
SECTOR_TICKERS = ["NVDA", "AVGO", "TSM", "AMD", "MU", "VST", "CEG", "MSFT", "META", "AAPL"]


def _run(args: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """``eventstudy run examples/explain.yaml --sample deepseek --report``: the Done-when case."""
    out = tmp_path_factory.mktemp("explain") / "out"
    code, stdout, stderr = _run(["run", str(EXAMPLE), "--sample", "deepseek", "--out", str(out),
                                 "--report"])  # fmt: skip
    assert code == 0, stderr
    return {"out": out, "stdout": stdout}


def _merged(out: Path, window: tuple[int, int]) -> pd.DataFrame:
    """car.csv's rows of ``window`` with the sector of characteristics.csv and the beta of
    params.csv, built by hand."""
    car = pd.read_csv(out / "car.csv")
    car = car[(car.start == window[0]) & (car.end == window[1])]
    sectors = pd.read_csv(CHARACTERISTICS)
    params = pd.read_csv(out / "params.csv")[["event", "ticker", "beta_^GSPC"]]
    merged = car.merge(sectors, on="ticker", how="left").merge(params, on=["event", "ticker"])
    assert merged["sector"].notna().all() and len(merged) == len(car)
    return merged.rename(columns={"beta_^GSPC": "beta"}).reset_index(drop=True)


def _dummies(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    levels = sorted(frame[column].unique())
    return pd.DataFrame(
        {f"C({column})[T.{v}]": (frame[column] == v).astype(float) for v in levels[1:]}
    )


def _sandwich(x: np.ndarray, e: np.ndarray, kind: str) -> np.ndarray:
    """HC1 or HC3 standard errors of OLS on ``x`` with residuals ``e`` (White 1980; MacKinnon &
    White 1985), written out."""
    n, k = x.shape
    bread = np.linalg.inv(x.T @ x)
    if kind == "HC1":
        omega = e**2 * n / (n - k)
    else:
        h = np.einsum("ij,jk,ik->i", x, bread, x)
        omega = e**2 / (1 - h) ** 2
    return np.sqrt(np.diag(bread @ (x.T * omega) @ x @ bread))


# ----------------------------------------------------------------------------- the Done-when case
def test_sector_regression_equals_statsmodels_by_hand(example: dict) -> None:
    out = example["out"]
    got = pd.read_csv(out / "regressions.csv")
    assert list(got.columns) == [
        "regression", "window", "term", "coef", "se", "t", "p", "n", "r2", "cov", "df",
        "weights", "formula",
    ]  # fmt: skip
    mine = got[got.regression == "sector"].set_index("term")
    assert set(mine["window"]) == {"[0, 0]"} and set(mine["cov"]) == {"HC1"}
    data = _merged(out, (0, 0))
    assert len(data) == 41  # 17 + 17 + 7 firm-events of the three events
    want = smf.ols("car ~ C(sector)", data).fit(cov_type="HC1", use_t=True)
    terms = ["Intercept", "C(sector)[T.power]", "C(sector)[T.semiconductors]"]
    assert list(mine.index) == terms == list(want.params.index)
    for column, values in (("coef", want.params), ("se", want.bse), ("t", want.tvalues),
                           ("p", want.pvalues)):  # fmt: skip
        np.testing.assert_allclose(mine[column], values[terms], **TOL)
    assert set(mine["n"]) == {41} and set(mine["df"]) == {38}
    np.testing.assert_allclose(mine["r2"], want.rsquared, **TOL)
    # The same numbers from the formulas: OLS, White's HC1 sandwich, Student's t on n - k df.
    x = np.column_stack([np.ones(len(data)), _dummies(data, "sector").to_numpy()])
    y = data["car"].to_numpy()
    beta = np.linalg.lstsq(x, y, rcond=None)[0]
    e = y - x @ beta
    se = _sandwich(x, e, "HC1")
    np.testing.assert_allclose(mine["coef"], beta, **TOL)
    np.testing.assert_allclose(mine["se"], se, **TOL)
    np.testing.assert_allclose(mine["p"], 2 * stats.t.sf(np.abs(beta / se), 38), **TOL)
    r2 = 1 - (e @ e) / np.sum((y - y.mean()) ** 2)
    np.testing.assert_allclose(mine["r2"], r2, **TOL)
    # With sector dummies alone the coefficients are the group means' differences.
    means = data.groupby("sector")["car"].mean()
    assert mine.loc["Intercept", "coef"] == pytest.approx(means["platforms"], rel=1e-12)
    assert mine.loc["C(sector)[T.power]", "coef"] == pytest.approx(
        means["power"] - means["platforms"], rel=1e-10
    )


def test_weighted_regression_with_event_effects_and_beta_equals_the_formulas(example) -> None:
    """Regression 2: WLS with weights 1/se^2 (car.csv's se), event fixed effects and the market
    model's beta (params.csv), HC3 standard errors."""
    mine = pd.read_csv(example["out"] / "regressions.csv")
    mine = mine[mine.regression == "within events"].set_index("term")
    assert set(mine["weights"]) == {"precision"} and set(mine["cov"]) == {"HC3"}
    data = _merged(example["out"], (0, 0))
    w = 1 / data["se"].to_numpy() ** 2
    want = smf.wls("car ~ C(sector) + C(event) + beta", data, weights=w).fit(
        cov_type="HC3", use_t=True
    )
    terms = list(want.params.index)
    assert list(mine.index) == terms
    for column, values in (("coef", want.params), ("se", want.bse), ("t", want.tvalues),
                           ("p", want.pvalues)):  # fmt: skip
        np.testing.assert_allclose(mine[column], values[terms], **TOL)
    # By hand: OLS on sqrt(w)-scaled rows, HC3 on the scaled design and residuals.
    x = np.column_stack(
        [np.ones(len(data)), _dummies(data, "sector"), _dummies(data, "event"), data["beta"]]
    )
    y = data["car"].to_numpy()
    sw = np.sqrt(w)
    beta = np.linalg.lstsq(x * sw[:, None], y * sw, rcond=None)[0]
    e = (y - x @ beta) * sw
    np.testing.assert_allclose(mine["coef"], beta, **TOL)
    np.testing.assert_allclose(mine["se"], _sandwich(x * sw[:, None], e, "HC3"), **TOL)
    ybar = np.sum(w * y) / np.sum(w)
    r2 = 1 - (e @ e) / np.sum(w * (y - ybar) ** 2)
    np.testing.assert_allclose(mine["r2"], r2, **TOL)
    assert set(mine["n"]) == {41} and set(mine["df"]) == {41 - 6}


def test_group_tests_equal_the_formulas_and_scipy(example: dict) -> None:
    out = example["out"]
    tests = pd.read_csv(out / "group_tests.csv", keep_default_na=False, na_values=[""])
    means = pd.read_csv(out / "group_means.csv")
    assert list(tests.columns) == [
        "grouping", "window", "test", "statistic", "p", "groups", "n", "df1", "df2", "note"
    ]  # fmt: skip
    windows = {"[0, 0]": (0, 0), "[-1, 1]": (-1, 1), "[-5, 5]": (-5, 5), "[0, 4]": (0, 4)}
    assert list(dict.fromkeys(tests["window"])) == list(windows)
    for text, window in windows.items():
        data = _merged(out, window)
        groups = {g: d["car"].to_numpy() for g, d in data.groupby("sector")}
        k, n = len(groups), len(data)
        grand = data["car"].mean()
        between = sum(len(x) * (x.mean() - grand) ** 2 for x in groups.values()) / (k - 1)
        within = sum(((x - x.mean()) ** 2).sum() for x in groups.values()) / (n - k)
        f = between / within
        at = tests[tests.window == text].set_index("test")
        assert list(at.index) == ["anova", "kruskal_wallis"]
        assert at.loc["anova", "statistic"] == pytest.approx(f, rel=1e-10)
        assert at.loc["anova", "p"] == pytest.approx(stats.f.sf(f, k - 1, n - k), rel=1e-9)
        assert (at.loc["anova", "df1"], at.loc["anova", "df2"]) == (k - 1, n - k)
        # Kruskal-Wallis with the tie correction, chi-squared on k - 1 df.
        ranks = stats.rankdata(data["car"])
        r = pd.Series(ranks).groupby(data["sector"]).agg(["sum", "count"])
        h = 12 / (n * (n + 1)) * np.sum(r["sum"] ** 2 / r["count"]) - 3 * (n + 1)
        _, ties = np.unique(data["car"], return_counts=True)
        h /= 1 - np.sum(ties**3 - ties) / (n**3 - n)
        assert at.loc["kruskal_wallis", "statistic"] == pytest.approx(h, rel=1e-10)
        assert at.loc["kruskal_wallis", "p"] == pytest.approx(stats.chi2.sf(h, k - 1), rel=1e-9)
        assert set(at["n"]) == {n} and set(at["groups"]) == {k}
        # Each group's mean, median and 95% t interval.
        mine = means[(means.window == text)].set_index("group")
        assert list(mine.index) == sorted(groups)
        for g, x in groups.items():
            half = stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
            row = mine.loc[g]
            assert row["n"] == len(x)
            assert row["mean"] == pytest.approx(x.mean(), rel=1e-12)
            assert row["median"] == pytest.approx(np.median(x), rel=1e-12)
            assert row["ci_low"] == pytest.approx(x.mean() - half, rel=1e-10)
            assert row["ci_high"] == pytest.approx(x.mean() + half, rel=1e-10)


def test_terminal_report_and_charts_show_the_regression_and_the_groups(example: dict) -> None:
    out, stdout = example["out"], example["stdout"]
    reg = pd.read_csv(out / "regressions.csv").set_index(["regression", "term"])
    power = reg.loc[("sector", "C(sector)[T.power]")]
    assert "Cross-sectional regressions" in stdout
    assert "(1) sector: car ~ C(sector); CAR[0,0], HC1, N=41, R2=" in stdout
    line = next(x for x in stdout.splitlines() if x.strip().startswith("C(sector)[T.power]"))
    assert f"{power['coef']:.4f}" in line and f"({power['se']:.4f})" in line
    assert "Group comparisons" in stdout and "ANOVA F = " in stdout
    html = (out / "report" / "report.html").read_text()
    assert "Explaining the reactions" in html
    assert f"({power['se']:.4f})".replace("-", "\u2212") in html
    assert "White, H. (1980)" in html and "Kruskal, W. H., and W. A. Wallis (1952)" in html
    md = (out / "report" / "report.md").read_text()
    assert "Mean CAR by sector" in md and "study_groups.png" in md and "study_scatter.png" in md
    assert "Cross-sectional regressions" in (out / "report" / "tables.tex").read_text()
    for chart in ("study_groups", "study_scatter"):
        assert (out / "figures" / f"{chart}.png").is_file()
    assert json.loads((out / "summary.json").read_text())["study"]


def test_results_folder_reads_back_and_draws_the_charts(example: dict) -> None:
    """StoredResults reads the four tables back as written; the charts drawn from the folder
    plot the group means and the OLS line computed here by hand."""
    from eventstudy.output.plots.explain_charts import plot_groups, plot_scatter

    out = example["out"]
    stored = StoredResults.load(out)
    means = stored.group_means_frame()
    pd.testing.assert_frame_equal(means, pd.read_csv(out / "group_means.csv"))
    chars = stored.characteristics_frame()
    assert list(chars.columns) == ["event", "ticker", "sector"] and len(chars) == 41
    fig = plot_groups(stored)
    for group in ("platforms", "power", "semiconductors"):
        (line,) = fig.findobj(lambda a, g=group: a.get_gid() == f"mean:{g}")
        np.testing.assert_allclose(
            line.get_ydata(), means.loc[means.group == group, "mean"] * 100, rtol=1e-12
        )
    fig = plot_scatter(stored)  # the first numeric regressor: beta, over [0, 0]
    data = _merged(out, (0, 0))
    slope, intercept = np.polyfit(data["beta"], data["car"], 1)
    (fit,) = fig.findobj(lambda a: a.get_gid() == "fit")
    x, y = fit.get_data()
    np.testing.assert_allclose(y, (intercept + slope * np.asarray(x)) * 100, rtol=1e-9)
    (points,) = fig.findobj(lambda a: a.get_gid() == "points")
    assert len(points.get_offsets()) == 41
    # `eventstudy report` of the folder alone has the section, its tables and its charts.
    code, _out, err = _run(["report", str(out), "--out", str(out.parent / "again"), "-q"])
    assert code == 0, err
    md = (out.parent / "again" / "report.md").read_text()
    assert "## Explaining the reactions" in md and "(0.0698)" in md
    assert (out.parent / "again" / "figures" / "study_scatter.png").is_file()


# ----------------------------------------------------------------------------- the library
@pytest.fixture(scope="module")
def res(sample_prices: pd.DataFrame, sample_shares: pd.DataFrame):
    study = EventStudy.from_prices(sample_prices, market="^GSPC", shares=sample_shares,
                                   bhar_windows=[(0, 4)])  # fmt: skip
    return study.fit(
        [
            Event(name="R1", date="2025-01-27", tickers=SECTOR_TICKERS),
            Event(name="V3", date="2024-12-26", tickers=SECTOR_TICKERS[:5]),
        ]
    )


SECTORS = pd.DataFrame(
    {
        "ticker": SECTOR_TICKERS,
        "sector": ["chips"] * 5 + ["power"] * 2 + ["platforms"] * 3,
        "ai_share": [0.9, 0.6, 0.5, 0.4, 0.3, 0.2, 0.25, 0.3, 0.35, 0.05],
        "region": ["US"] * 10,
    }
)


def test_regress_returns_statsmodels_results_equal_to_a_fit_by_hand(res) -> None:
    fit = res.regress("car ~ ai_share + beta", window=(-1, 1), data=SECTORS)
    assert "OLS Regression Results" in str(fit.summary())
    car = res.car_frame()
    data = car[(car.start == -1) & (car.end == 1)].merge(SECTORS, on="ticker")
    params = res.params_frame()[["event", "ticker", "beta_^GSPC"]]
    data = data.merge(params.rename(columns={"beta_^GSPC": "beta"}), on=["event", "ticker"])
    want = smf.ols("car ~ ai_share + beta", data).fit(cov_type="HC1", use_t=True)
    np.testing.assert_allclose(fit.params, want.params, **TOL)
    np.testing.assert_allclose(fit.bse, want.bse, **TOL)
    assert fit.nobs == 15
    # Clustered by event: statsmodels' cluster-robust covariance, t on G - 1 = 1 df.
    clustered = res.regress("car ~ ai_share", window=(0, 0), cov_type="cluster", data=SECTORS)
    day0 = car[(car.start == 0) & (car.end == 0)].merge(SECTORS, on="ticker")
    by_hand = smf.ols("car ~ ai_share", day0).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(day0["event"])[0]}, use_t=True
    )
    np.testing.assert_allclose(clustered.bse, by_hand.bse, **TOL)
    np.testing.assert_allclose(clustered.pvalues, by_hand.pvalues, **TOL)
    assert clustered.df_resid_inference == 1
    # A BHAR window: the dependent variable is bhar.
    bhar = res.regress("bhar ~ ai_share", window=(0, 4), data=SECTORS, cov_type="nonrobust")
    frame = res.bhar_frame().merge(SECTORS, on="ticker")
    np.testing.assert_allclose(bhar.params, smf.ols("bhar ~ ai_share", frame).fit().params, **TOL)


def test_with_characteristics_carries_them_and_leaves_the_results_alone(res, tmp_path) -> None:
    res2 = res.with_characteristics(
        SECTORS,
        regressions=[{"formula": "car ~ C(sector)", "window": [0, 0], "name": "sector"},
                     "car ~ ai_share"],
        groups=["sector", "event"],
    )  # fmt: skip
    assert res.explanation is None and res.regressions_frame() is None
    summary = res2.summary()
    assert "Cross-sectional regressions" in str(summary) and "Mean CAR by sector" in [
        t.caption for t in summary.tables
    ]
    assert "Cross-sectional regressions" not in str(res.summary())
    assert res2.characteristics_frame()["sector"].tolist()[:2] == ["chips", "chips"]
    regs = res2.regressions_frame()
    assert list(dict.fromkeys(regs["regression"])) == ["sector", "2"]
    assert set(regs.loc[regs.regression == "2", "window"]) == {"[-1, 1]"}  # the default window
    direct = res2.regress("car ~ C(sector)", window=(0, 0))
    np.testing.assert_allclose(regs.loc[regs.regression == "sector", "coef"], direct.params)
    tests = res2.group_tests_frame()
    # Two groups (the events): Welch's t and Mann-Whitney, against scipy.
    at = tests[(tests.grouping == "event") & (tests.window == "[0, 0]")].set_index("test")
    car = res.car_frame()
    day0 = car[(car.start == 0) & (car.end == 0)]
    r1, v3 = (day0.loc[day0.event == e, "car"].to_numpy() for e in ("R1", "V3"))
    welch = stats.ttest_ind(r1, v3, equal_var=False)
    se = np.sqrt(r1.var(ddof=1) / len(r1) + v3.var(ddof=1) / len(v3))
    assert at.loc["welch_t", "statistic"] == pytest.approx((r1.mean() - v3.mean()) / se, rel=1e-10)
    assert at.loc["welch_t", "p"] == pytest.approx(welch.pvalue, rel=1e-10)
    assert at.loc["welch_t", "df1"] == pytest.approx(welch.df, rel=1e-10)
    u = sum((a > b) + 0.5 * (a == b) for a in r1 for b in v3)
    assert at.loc["mann_whitney", "statistic"] == u
    mw = stats.mannwhitneyu(r1, v3, alternative="two-sided")
    assert at.loc["mann_whitney", "p"] == pytest.approx(mw.pvalue, rel=1e-12)
    written = {p.name for p in res2.save(tmp_path / "lib", figures=False)}
    assert {"characteristics.csv", "regressions.csv", "group_tests.csv",
            "group_means.csv"} <= written  # fmt: skip
    plain = {p.name for p in res.save(tmp_path / "plain", figures=False)}
    assert not plain & {"characteristics.csv", "regressions.csv", "group_tests.csv",
                        "group_means.csv"}  # fmt: skip
    stored = StoredResults.load(tmp_path / "lib")
    pd.testing.assert_frame_equal(stored.characteristics_frame(), res2.characteristics_frame())
    assert stored.regressions_frame()["coef"].tolist() == regs["coef"].tolist()
    assert StoredResults.load(tmp_path / "plain").regressions_frame() is None


def test_characteristics_by_event_and_ticker(res) -> None:
    by_event = pd.DataFrame(
        [(e, t, k) for e, tickers in (("R1", SECTOR_TICKERS), ("V3", SECTOR_TICKERS[:5]))
         for k, t in enumerate(tickers)],
        columns=["event", "ticker", "rank"],
    )  # fmt: skip
    fit = res.regress("car ~ rank + C(event)", window=(0, 0), data=by_event)
    assert fit.nobs == 15 and "C(event)[T.V3]" in fit.params.index


LIBRARY_ERRORS = {
    "builtin name": (SECTORS.rename(columns={"ai_share": "beta"}), "column 'beta' is named like a"),
    "no ticker": (SECTORS.rename(columns={"ticker": "symbol"}), "no 'ticker' column"),
    "duplicate": (pd.concat([SECTORS, SECTORS.iloc[[0]]]), "key given twice: NVDA"),
    "unknown ticker": (
        pd.concat([SECTORS, pd.DataFrame({"ticker": ["XYZ"], "sector": ["x"]})]),
        "ticker(s) XYZ are in no event",
    ),
    "missing row": (SECTORS.iloc[1:], "no row for firm-event(s) R1 / NVDA, V3 / NVDA"),
    "unknown event": (
        pd.DataFrame({"event": ["Nope"], "ticker": ["NVDA"], "x": [1]}), "unknown event(s) 'Nope'"
    ),
    "ticker not of its event": (
        pd.DataFrame({"event": ["V3"], "ticker": ["AAPL"], "x": [1]}),
        "rows for tickers their event does not list: V3 / AAPL",
    ),
}


@pytest.mark.parametrize("case", sorted(LIBRARY_ERRORS))
def test_bad_characteristics_are_one_line_errors(res, case: str) -> None:
    frame, expected = LIBRARY_ERRORS[case]
    with pytest.raises(DataError) as err:
        res.with_characteristics(frame)
    assert expected in str(err.value) and "\n" not in str(err.value)


REGRESSION_ERRORS = {
    "unknown variable": ("car ~ size", {}, "regression 1 (car ~ size): unknown variable 'size'"),
    "car on a bhar window": ("car ~ ai_share", {"window": [0, 4]},
                             "the window [0, 4] is a BHAR window: its dependent variable is bhar"),
    "no such window": ("car ~ ai_share", {"window": [0, 9]},
                       "no firm-event has a CAR or BHAR window [0, 9]"),
    "singular": ("car ~ ai_share + I(2 * ai_share)", {},
                 "singular design: I(2 * ai_share) is constant or collinear"),
    "too few": ("car ~ C(ticker) * C(event)", {"window": [0, 0]},
                "15 firm-event(s) with every variable for 20 coefficient(s): too few to fit"),
    "precision on bhar": ("bhar ~ ai_share", {"window": [0, 4], "weights": "precision"},
                          "weights 'precision' need the CARs' standard errors"),
    "one cluster": ("car ~ ai_share", {"cluster": "region"},
                    "cluster(region) needs at least two clusters"),
    "unknown cluster": ("car ~ ai_share", {"cluster": "industry"},
                        "cluster: unknown column 'industry'"),
    "cluster with HC1": ("car ~ ai_share", {"cluster": "sector", "cov": "HC1"},
                         "needs cov 'cluster', not 'HC1'"),
    "bad cov": ("car ~ ai_share", {"cov": "HC9"}, "cov: 'HC9' is not one of"),
    "no tilde": ("car", {}, "is not a formula 'y ~ x + ...'"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(REGRESSION_ERRORS))
def test_regressions_that_cannot_be_fitted_are_one_line_errors(res, case: str) -> None:
    formula, keys, expected = REGRESSION_ERRORS[case]
    with pytest.raises((DataError, StudyFileError)) as err:
        res.with_characteristics(SECTORS, regressions=[{"formula": formula, **keys}])
    assert expected in str(err.value) and "\n" not in str(err.value), str(err.value)


def test_too_few_firm_events_names_the_missing_values(res) -> None:
    missing = int(res.cross_section_frame((0, 0))["market_value"].isna().sum())
    assert missing > 0
    with pytest.raises(DataError) as err:
        res.regress("car ~ C(ticker) * C(event) + market_value", window=(0, 0), data=SECTORS)
    assert f"too few to fit (missing values: market_value for {missing})" in str(err.value)
    with pytest.raises(DataError, match="groups: unknown column 'size'"):
        res.with_characteristics(SECTORS, groups=["size"])


# ----------------------------------------------------------------------------- the study file
BASE = """\
study: Explain test
market: ^GSPC
car_windows: [[0, 0], [-1, 1]]
events:
  - name: R1
    date: 2025-01-27
    tickers: [NVDA, AVGO, VST, CEG, MSFT, META]
"""
CSV = "ticker,sector,size\nNVDA,chips,3\nAVGO,chips,1\nVST,power,0.1\nCEG,power,0.2\n" \
      "MSFT,platforms,3\nMETA,platforms,1.5\n"  # fmt: skip

CLI_ERRORS = {
    "missing file": ("characteristics: nope.csv\n", CSV, "characteristics: file"),
    "builtin column": ("characteristics: chars.csv\n", CSV.replace("size", "car"),
                       "chars.csv: column 'car' is named like a built-in variable"),
    "duplicate key": ("characteristics: chars.csv\n", CSV + "NVDA,chips,3\n",
                      "chars.csv: key given twice: NVDA"),
    "unknown ticker": ("characteristics: chars.csv\n", CSV + "XYZ,chips,3\n",
                       "chars.csv: ticker(s) XYZ are in no event"),
    "missing row": ("characteristics: chars.csv\n", CSV.replace("CEG,power,0.2\n", ""),
                    "chars.csv: no row for firm-event(s) R1 / CEG"),
    "ragged line": ("characteristics: chars.csv\n", CSV + "AAPL,x\n",
                    "chars.csv, line 8: 2 fields where the header has 3"),
    "unknown formula column": (
        "characteristics: chars.csv\nregressions:\n  - formula: car ~ np.log(revenue)\n", CSV,
        "regression 1 (car ~ np.log(revenue)): unknown variable 'revenue'"),
    "singular": (
        "characteristics: chars.csv\nregressions:\n  - {formula: car ~ size + I(size * 2), "
        "name: sz}\n", CSV, "regression sz (car ~ size + I(size * 2)): singular design"),
    "too few": (
        "characteristics: chars.csv\nregressions:\n  - formula: car ~ C(ticker)\n", CSV,
        "regression 1 (car ~ C(ticker)): 6 firm-event(s) with every variable for 6"),
    "groups without characteristics": ("groups: [sector]\n", CSV,
                                       "groups: 'sector' is a characteristic"),
    "unknown group": ("characteristics: chars.csv\ngroups: [industry]\n", CSV,
                      "groups: unknown column 'industry'"),
    "duplicate regression name": (
        "regressions:\n  - {formula: car ~ beta, name: a}\n  - {formula: car ~ sigma, name: a}\n",
        CSV, "the name 'a' is given to two regressions"),
    "bad weights": ("regressions:\n  - {formula: car ~ beta, weights: inverse}\n", CSV,
                    "regressions[0].weights: 'inverse' is not one of"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CLI_ERRORS))
def test_bad_explaining_input_is_one_line_with_exit_2(case, sample_dir, tmp_path) -> None:
    keys, csv_text, expected = CLI_ERRORS[case]
    (tmp_path / "chars.csv").write_text(csv_text)
    study = tmp_path / "study.yaml"
    study.write_text(BASE + keys)
    code, _out, err = _run(["run", str(study), "--sample", "deepseek", "--out",
                            str(tmp_path / "out"), "--no-figures"])  # fmt: skip
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("eventstudy: error: "), err
    assert expected in lines[0], lines[0]
    assert not (tmp_path / "out").exists()


def test_study_file_keys_run_from_a_folder_beside_the_study(sample_dir, tmp_path) -> None:
    """The characteristics path is relative to the study file, whatever the working folder;
    a regression on built-in variables needs no characteristics; two groups get Welch and
    Mann-Whitney."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "chars.csv").write_text(CSV.replace("power", "chips"))
    study = tmp_path / "study.yaml"
    study.write_text(
        BASE + "characteristics: data/chars.csv\nregressions:\n  - formula: car ~ beta + "
        "np.log(sigma)\n    window: [0, 0]\n    cov: nonrobust\ngroups: [sector]\n"
    )
    code, out, err = _run(["run", str(study), "--sample", "deepseek", "--out",
                           str(tmp_path / "out"), "--no-figures"])  # fmt: skip
    assert code == 0, err
    regs = pd.read_csv(tmp_path / "out" / "regressions.csv")
    car = pd.read_csv(tmp_path / "out" / "car.csv").query("start == 0 and end == 0")
    params = pd.read_csv(tmp_path / "out" / "params.csv").rename(columns={"beta_^GSPC": "beta"})
    data = car.merge(params[["ticker", "beta", "sigma"]], on="ticker")
    want = smf.ols("car ~ beta + np.log(sigma)", data).fit()
    np.testing.assert_allclose(regs["coef"], want.params, **TOL)
    np.testing.assert_allclose(regs["se"], want.bse, **TOL)
    assert set(regs["cov"]) == {"nonrobust"} and set(regs["regression"]) == {1}
    tests = pd.read_csv(tmp_path / "out" / "group_tests.csv")
    assert list(dict.fromkeys(tests["test"])) == ["welch_t", "mann_whitney"]
    assert "Welch t = " in out


def test_study_keys_are_validated() -> None:
    base = {"study": "x", "tickers": ["NVDA"], "events": [{"name": "a", "date": "2025-01-27"}]}
    spec = parse_study({**base, "regressions": [{"formula": "car ~ beta", "cluster": "event"}]})
    assert spec.regressions[0].covariance == "cluster"
    assert parse_study({**base, "regressions": ["car ~ beta"]}).regressions[0].covariance == "HC1"
    with pytest.raises(StudyFileError, match=r"regressions\[0\]\.window: start 2 is after end 1"):
        parse_study({**base, "regressions": [{"formula": "car ~ beta", "window": [2, 1]}]})
    with pytest.raises(StudyFileError, match="groups: 'sector' is listed twice"):
        parse_study({**base, "characteristics": "c.csv", "groups": ["sector", "sector"]})
    assert parse_study({**base, "groups": ["event"]}).groups == ["event"]


def test_a_group_of_one_is_warned_about(res) -> None:
    """The only firm-event of a group has leverage 1 and a zero residual: robust standard
    errors cannot see its variance, and the warning names it."""
    one = SECTORS.assign(sector=["chips"] * 9 + ["other"])
    with pytest.warns(UserWarning, match=r"R1 / AAPL fitted exactly \(leverage 1"):
        fit = res.regress("car ~ C(sector)", window=(-1, 1), data=one)
    assert np.abs(fit.resid).min() < 1e-12  # AAPL, the only "other"


def test_latex_tables_of_the_example_have_no_raw_unicode_squares(example: dict) -> None:
    tex = (example["out"] / "report" / "tables.tex").read_text()
    regression = tex[tex.index("Cross-sectional regressions") :]
    assert "R$^2$ & " in regression and "²" not in tex
