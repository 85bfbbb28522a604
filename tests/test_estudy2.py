"""Three tests of the battery against the R package estudy2 (tests/reference/validation/estudy2):
Brown & Warner (1980) under independence, Lamb (1995) and the sign test of Corrado & Zivney
(1992), with the time-series t (estudy2's Brown & Warner 1985).

The data are estudy2's own example (7 securities, S&P 500 single-index model, estimation
2019-04-01 .. 2020-03-13, event days 2020-03-16 .. 2020-03-20); the expected numbers are those its
vignette prints. ``_estudy2`` transcribes estudy2's formulas to numpy (docs/tests.md, "estudy2")
and reproduces every printed number; our battery must then equal them where the conventions agree
(every security has every estimation return) and differ by the documented amount where they do
not (two securities listed during the estimation window).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eventstudy.estimation.kernel import Design, fit_batch
from eventstudy.inference import battery

ESTIMATION = ("2019-04-01", "2020-03-13")
EVENT = ("2020-03-16", "2020-03-20")
#: The securities with every estimation return (ZM and UBER listed during the window).
COMPLETE = [0, 3, 4, 5, 6]


@pytest.fixture(scope="module")
def data(validation_dir: Path) -> dict:
    folder = validation_dir / "estudy2"
    frame = pd.read_csv(folder / "securities_returns.csv.gz")
    wide = {c: frame.pivot(index="date", columns="security", values=c) for c in
            ("observed", "regressor", "abnormal")}
    dates = wide["observed"].index
    est = (dates >= ESTIMATION[0]) & (dates <= ESTIMATION[1])
    ev = (dates >= EVENT[0]) & (dates <= EVENT[1])
    return {
        "observed": wide["observed"].to_numpy(),
        "market": wide["regressor"].iloc[:, 0].to_numpy(),
        "abnormal": wide["abnormal"].to_numpy(),
        "est": est,
        "ev": ev,
        "day0": int(np.flatnonzero(ev)[0]),
        "expected": pd.read_csv(folder / "expected_values.csv"),
    }


def _expected(data: dict, statistic: str) -> np.ndarray:
    e = data["expected"]
    return e.loc[e.statistic == statistic, "expected"].to_numpy()


def _estudy2(data: dict, securities: list[int]) -> dict[str, np.ndarray]:
    """estudy2's daily statistics, its formulas transcribed to numpy (not our code)."""
    ab = data["abnormal"][:, securities]
    est, ev = ab[data["est"]], ab[data["ev"]]
    m_est, m_ev = data["market"][data["est"]], data["market"][data["ev"]]
    n = ab.shape[1]
    delta = np.isfinite(est).sum(axis=0)  # estimation_length of each security
    mean_ev = np.nanmean(ev, axis=1)
    mean_est = np.nanmean(est, axis=1)
    out = {}
    # brown_warner_1980: sqrt(sum of the securities' variances) / number of securities.
    out["bw_1980_stat"] = mean_ev / (np.sqrt(np.nansum(np.nanvar(est, axis=0, ddof=1))) / n)
    # brown_warner_1985: the sd of the daily mean over the estimation period.
    out["bw_1985_stat"] = mean_ev / np.std(mean_est, ddof=1)
    # lamb: that sd with 1 + 1/mean(delta) + (R_m - mean R_m)^2 / S_mm (market over all days).
    mm = np.nanmean(m_est)
    sxx = np.nansum((m_est - mm) ** 2)
    out["lmb_stat"] = mean_ev / (
        np.std(mean_est, ddof=1) * np.sqrt(1 + 1 / delta.mean() + (m_ev - mm) ** 2 / sxx)
    )
    # corrado_sign_test: G = sign(A - median over estimation + event); the daily sums are
    # rowMeans x the number of securities; S over every row, divided by mean(non-missing).
    full = np.vstack([est, ev])
    med = np.nanmedian(full, axis=0)
    g, g_ev = np.sign(full - med), np.sign(ev - med)
    n_t = np.isfinite(g).sum(axis=1)
    sums = np.nanmean(g, axis=1) * n
    s = np.sqrt(np.sum((sums / np.sqrt(n_t)) ** 2) / np.isfinite(full).sum(axis=0).mean())
    out["csign_stat"] = np.nansum(g_ev, axis=1) / np.sqrt(np.isfinite(g_ev).sum(axis=1)) / s
    return out


def _ours(data: dict, securities: list[int]) -> pd.DataFrame:
    """Our market-model fit and battery on the same returns, day 0 = 2020-03-16."""
    m_est = int(data["est"].sum())
    design = Design(regressors=data["market"][:, None], names=("^GSPC",))
    k = len(securities)
    fit = fit_batch(data["observed"][:, securities], design, np.arange(k),
                    np.full(k, data["day0"]), (-m_est, -1), (0, 4), 100)
    out = battery.test_battery([(fit, np.zeros(k, int))], ["covid"], [(0, 4)], [((0, 4),)])
    out = out[out.event == "covid"]
    return out.assign(fit=[fit] * len(out))


def _daily(out: pd.DataFrame, test: str) -> np.ndarray:
    rows = out[(out.test == test) & (out.start == out.end)].sort_values("start")
    return rows.statistic.to_numpy()


def _window(out: pd.DataFrame, test: str) -> float:
    return float(out[(out.test == test) & (out.start == 0) & (out.end == 4)].statistic.item())


def test_transcription_reproduces_the_vignette(data) -> None:
    """Our numpy transcription of estudy2 gives every number its vignette prints."""
    mine = _estudy2(data, list(range(7)))
    for name, values in mine.items():
        np.testing.assert_allclose(values, _expected(data, name), atol=6e-7, err_msg=name)


def test_abnormal_returns_equal_estudy2s(data) -> None:
    out = _ours(data, list(range(7)))
    fit = out.fit.iloc[0]
    ab = data["abnormal"]
    np.testing.assert_allclose(fit.ar, ab[data["ev"]].T, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fit.resid, ab[data["est"]].T, rtol=0, atol=1e-12)


def test_brown_warner_1980_and_time_series_t_equal_estudy2(data) -> None:
    """Equal on all 7 securities, missing estimation returns included: the same per-security
    variances and the same daily means. Window [0, 4]: the variances of the days add up."""
    out = _ours(data, list(range(7)))
    ref = _estudy2(data, list(range(7)))
    np.testing.assert_allclose(_daily(out, "brown_warner_1980"), ref["bw_1980_stat"], rtol=1e-10)
    np.testing.assert_allclose(_daily(out, "time_series_t"), ref["bw_1985_stat"], rtol=1e-10)
    bw = out[out.test == "brown_warner_1980"]
    delta = np.array([240, 227, 212, 240, 240, 240, 240])
    np.testing.assert_allclose(bw.df, delta.mean() - 1)  # estudy2's mean(delta) - 1
    # Complete data: the window's t is the sum of the daily t over sqrt(5).
    np.testing.assert_allclose(_window(out, "brown_warner_1980"),
                               ref["bw_1980_stat"].sum() / np.sqrt(5), rtol=1e-10)


def test_lamb_equals_estudy2_with_complete_data(data) -> None:
    out = _ours(data, COMPLETE)
    ref = _estudy2(data, COMPLETE)
    np.testing.assert_allclose(_daily(out, "lamb"), ref["lmb_stat"], rtol=1e-10)
    # Window: estudy2's car_lamb, the sum of the daily statistics over sqrt(L).
    np.testing.assert_allclose(_window(out, "lamb"), ref["lmb_stat"].sum() / np.sqrt(5),
                               rtol=1e-10)


def test_lamb_with_late_listings_differs_by_the_leverage(data) -> None:
    """With ZM and UBER (fewer estimation returns) our leverage is each security's own
    (its M and market mean over its days), estudy2's one 1/mean(M) and the market over all days:
    the statistics differ by less than 0.03%."""
    ours = _daily(_ours(data, list(range(7))), "lamb")
    theirs = _expected(data, "lmb_stat")
    ratio = ours / theirs
    assert np.all(np.abs(ratio - 1) < 3e-4), ratio
    assert not np.allclose(ratio, 1, rtol=1e-6, atol=0)


def test_corrado_sign_equals_estudy2_with_complete_data(data) -> None:
    out = _ours(data, COMPLETE)
    ref = _estudy2(data, COMPLETE)
    np.testing.assert_allclose(_daily(out, "corrado_sign"), ref["csign_stat"], rtol=1e-10)


def test_corrado_sign_with_late_listings_differs_by_estudy2s_missing_value_sums(data) -> None:
    """With missing estimation returns estudy2 takes a day's sum of signs as the mean of those
    present x all 7 securities and divides by the mean number of values instead of the number
    of days; we sum the signs present over the T = 245 days (Corrado & Zivney 1992). Every day's
    statistic is then ours = theirs x 1.03814 (one factor: only S(G) differs)."""
    ours = _daily(_ours(data, list(range(7))), "corrado_sign")
    ratio = ours / _expected(data, "csign_stat")
    np.testing.assert_allclose(ratio, 1.03814, rtol=2e-5)
