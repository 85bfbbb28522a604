"""Data quality per firm-event (``eventstudy.estimation.quality``): each check on planted
problems, the vectorised computation against a plain loop, and the scale it must handle."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from eventstudy.estimation.fit import StudyFit
from eventstudy.estimation.quality import (
    QUALITY_COLUMNS,
    SPLIT_RATIOS,
    data_quality,
    quality_summary,
)
from eventstudy.event_study import EventStudy


def _quality_of(res, **options):
    """The quality checks on a results object's fits, as the results object runs them."""
    log = res.meta.get("returns") == "log"
    return data_quality(res.study_fit, res.panel, res.close, log_returns=log, **options)

EST, EV = (-250, -11), (-5, 5)


def planted() -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Prices (dates x tickers) with one planted problem per ticker, the unadjusted closes, and
    the row of day 0 in the returns panel."""
    rng = np.random.default_rng(7)
    dates = pd.bdate_range("2023-01-02", periods=330)
    steps = 1 + rng.normal(0.0005, 0.01, size=(len(dates), 7))
    prices = pd.DataFrame(100 * np.cumprod(steps, axis=0), index=dates, columns=list("MABCDEF"))
    day0 = 300  # row in the prices; the returns panel starts one session later
    prices.iloc[100:130, prices.columns.get_loc("B")] = np.nan  # 30 prices -> 31 returns missing
    prices.iloc[200:208, prices.columns.get_loc("C")] = prices["C"].iloc[199]  # 8 zero returns
    prices.iloc[150:, prices.columns.get_loc("D")] /= 2  # an unadjusted 2-for-1 split
    prices.iloc[160, prices.columns.get_loc("E")] /= 2  # a bad print, reverted the next day
    prices.iloc[day0, prices.columns.get_loc("F")] = np.nan  # day 0 missing: days 0 and 1
    close = prices.copy()
    close.iloc[120, close.columns.get_loc("A")] = 0.0  # only in the unadjusted closes
    return prices, close, day0 - 1


def fit(prices: pd.DataFrame, close: pd.DataFrame | None, day0: int, returns: str = "simple"):
    study = EventStudy.from_prices(
        prices,
        market="M",
        return_kind=returns,
        estimation_window=EST,
        event_window=EV,
        close=close,
    )
    date = study.panel.dates[day0].date()
    return study.fit([{"name": "E1", "date": date, "tickers": list("ABCDEF")}])


def test_each_planted_problem_is_found_and_nothing_else() -> None:
    prices, close, day0 = planted()
    quality = _quality_of(fit(prices, close, day0)).set_index("ticker")

    assert list(_quality_of(fit(prices, close, day0)).columns) == QUALITY_COLUMNS
    assert (quality["est_days"] == 240).all() and (quality["event_days"] == 11).all()
    assert quality["est_missing"].to_dict() == {"A": 0, "B": 31, "C": 0, "D": 0, "E": 0, "F": 0}
    assert quality["event_missing"].to_dict() == {"A": 0, "B": 0, "C": 0, "D": 0, "E": 0, "F": 2}
    assert quality.loc["C", "zero_return_runs"] == 8
    assert quality["zero_return_runs"].drop("C").max() == 0
    assert quality["extreme_returns"].to_dict() == {"A": 0, "B": 0, "C": 0, "D": 1, "E": 2, "F": 0}
    assert quality["suspected_split"].to_dict() == {"A": 0, "B": 0, "C": 0, "D": 1, "E": 0, "F": 0}
    assert quality["nonpositive_prices"].tolist() == [1, 0, 0, 0, 0, 0]
    assert quality["n_obs"].to_dict()["B"] == 240 - 31 and (quality["min_obs"] == 100).all()
    assert quality["flags"].to_dict() == {
        "A": "nonpositive",
        "B": "est_missing",
        "C": "stale",
        "D": "extreme;suspected_split",
        "E": "extreme",
        "F": "event_missing",
    }


def test_log_returns_and_no_unadjusted_closes() -> None:
    prices, _, day0 = planted()
    quality = _quality_of(fit(prices, None, day0, returns="log")).set_index("ticker")
    # log(0.5) is not below -0.25, but the simple return it stands for is -50%.
    assert quality.loc["D", "extreme_returns"] == 1 and quality.loc["D", "suspected_split"] == 1
    assert quality["nonpositive_prices"].isna().all()  # unknown, not zero


def test_windows_before_the_data_count_as_missing_and_skips_are_flagged() -> None:
    prices, close, _ = planted()
    results = fit(prices, close, 120)  # the estimation window starts 130 sessions before the data
    quality = _quality_of(results).set_index("ticker")
    assert quality.loc["A", "est_missing"] == 130
    # B's 31 missing returns are panel rows 99..129; the window ends at row 109 (day -11).
    assert quality.loc["B", "est_missing"] == 130 + 11
    assert quality.loc["B", "flags"].startswith("skipped;est_missing")
    assert (quality.loc["B", "n_obs"] < 100) and quality.loc["A", "n_obs"] == 110


def naive(results, extreme: float = 0.25, tolerance: float = 0.05) -> pd.DataFrame:
    """The same checks, firm-event by firm-event, day by day."""
    values = results.panel.values
    out = []
    for b in results.batches:
        f = b.fit
        for i in range(len(f.col)):
            col, d0 = int(f.col[i]), int(f.day0[i])
            windows = [range(d0 + f.estimation_window[0], d0 + f.estimation_window[1] + 1)]
            windows.append(range(d0 + f.event_window[0], d0 + f.event_window[1] + 1))

            def r(t: int, col: int = col) -> float:
                return values[t, col] if 0 <= t < len(values) else np.nan

            longest = extremes = splits = 0
            for window in windows:
                run = 0
                for t in window:
                    run = run + 1 if r(t) == 0 else 0
                    longest = max(longest, run)
                    g = np.log1p(r(t))
                    extremes += abs(r(t)) > extreme
                    near = any(abs(g - np.log(x)) < tolerance for x in SPLIT_RATIOS)
                    undone = abs(g + np.log1p(r(t + 1))) < tolerance
                    undoes = abs(np.log1p(r(t - 1)) + g) < tolerance
                    splits += near and not undone and not undoes
            missing = [sum(not np.isfinite(r(t)) for t in w) for w in windows]
            out.append((b.ticker[i], missing[0], missing[1], longest, extremes, splits))
    return pd.DataFrame(
        out,
        columns=[
            "ticker",
            "est_missing",
            "event_missing",
            "zero_return_runs",
            "extreme_returns",
            "suspected_split",
        ],
    )


def test_vectorised_checks_equal_a_plain_loop() -> None:
    rng = np.random.default_rng(11)
    n_dates, n_firms = 700, 40
    returns = rng.normal(0, 0.02, size=(n_dates, n_firms))
    returns[rng.random(returns.shape) < 0.05] = np.nan
    returns[rng.random(returns.shape) < 0.08] = 0.0
    jumps = rng.random(returns.shape) < 0.01
    returns[jumps] = rng.choice([-0.5, 1.0, -0.9, 2.0, -0.3, 0.4], size=jumps.sum())
    frame = pd.DataFrame(returns, index=pd.bdate_range("2020-01-01", periods=n_dates))
    frame.columns = [f"F{j}" for j in range(n_firms)]
    frame["M"] = rng.normal(0, 0.01, size=n_dates)
    events = pd.DataFrame(
        {
            "event": [f"e{k}" for k in range(60)],
            "date": frame.index[rng.integers(5, n_dates - 6, size=60)],
            "ticker": rng.choice(frame.columns[:-1], size=60),
        }
    )
    study = EventStudy(frame, market="M", min_estimation_obs=3)
    got = _quality_of(study.fit(events))
    expected = naive(study.fit(events))
    # data_quality is in study order; the plain loop in batch order: align on (event, ticker).
    got_sorted = got.sort_values("event", key=lambda s: s.str[1:].astype(int), ignore_index=True)
    for column in expected.columns:
        assert got_sorted[column].tolist() == expected[column].tolist(), column


def test_scales_to_100k_firm_events() -> None:
    rng = np.random.default_rng(3)
    n_dates, n_tickers, n = 2500, 2000, 100_000
    values = rng.normal(0, 0.02, size=(n_dates, n_tickers))
    values[rng.random(values.shape) < 0.02] = np.nan
    values[rng.random(values.shape) < 0.02] = 0.0
    panel = SimpleNamespace(
        values=values,
        dates=pd.bdate_range("2010-01-01", periods=n_dates),
        tickers=tuple(f"T{j}" for j in range(n_tickers)),
    )
    col = rng.integers(0, n_tickers, size=n)
    fit = SimpleNamespace(
        col=col,
        day0=rng.integers(0, n_dates, size=n),
        estimation_window=EST,
        event_window=EV,
        n_obs=np.full(n, 200),
        fitted=np.ones(n, dtype=bool),
    )
    study = StudyFit(
        day0_rows=np.zeros(n // 10, dtype=np.intp),
        batches=[
            SimpleNamespace(
                fit=fit,
                event=np.arange(n) // 10,
                ticker=[panel.tickers[c] for c in col],
                order=np.arange(n)[::-1],
            )
        ],
        events=[SimpleNamespace(name=f"e{k}", min_estimation_obs=100) for k in range(n // 10)],
    )
    quality = data_quality(study, panel)  # its speed is the bench's business, not a test's
    assert len(quality) == n and quality["event"].iloc[0] == f"e{(n - 1) // 10}"  # study order


def test_summary_is_a_few_lines() -> None:
    prices, close, day0 = planted()
    text = quality_summary(_quality_of(fit(prices, close, day0)))
    lines = text.splitlines()
    assert lines[0] == "Data quality: 6 of 6 firm-events flagged (see data_quality.csv)"
    assert "  suspected unadjusted splits: 1 [D (E1)]" in lines
    assert "  extreme returns: 2 [D (E1), E (E1)]" in lines
    assert len(lines) <= 8
    clean = _quality_of(fit(prices, None, day0))
    assert quality_summary(clean.iloc[0:0]) == "Data quality: no firm-events."
    ok = clean[clean["flags"] == ""]
    assert quality_summary(ok) == f"Data quality: {len(ok)} firm-events, no problems found."


def test_firm_events_left_out_for_want_of_data_are_listed() -> None:
    from eventstudy.event_study import fit_events

    prices, _, day0 = planted()
    study = EventStudy.from_prices(prices, market="M", estimation_window=EST, event_window=EV)
    date = study.panel.dates[day0].date()
    events = study.resolve([{"name": "E1", "date": date, "tickers": ["A", "GONE"]}]).resolved()
    with pytest.warns(UserWarning, match="left out"):
        results = fit_events(study.panel, events, unavailable={"GONE": "HTTP 404"})
    quality = _quality_of(results).set_index("ticker")
    assert quality.index.tolist() == ["A", "GONE"]
    assert quality.loc["GONE", ["n_obs", "est_missing", "event_missing"]].tolist() == [0, 240, 11]
    assert quality.loc["GONE", "flags"] == "skipped;est_missing;event_missing"
    assert pd.isna(quality.loc["GONE", "nonpositive_prices"])


def test_an_unadjusted_two_for_one_split_on_day_0_is_a_suspected_split(sample_prices) -> None:
    """The adversarial case of issue 13: MSFT's prices halved from day 0 on (a split the vendor
    did not adjust for) is flagged ``suspected_split``, not only ``extreme``."""
    prices = sample_prices.copy()
    halved = (prices.ticker == "MSFT") & (prices.date >= pd.Timestamp("2025-01-27"))
    prices.loc[halved, ["close", "adj_close"]] /= 2
    res = EventStudy.from_prices(prices, market="^GSPC").fit(
        [{"name": "R1", "date": "2025-01-27", "tickers": ["MSFT", "NVDA"]}]
    )
    flags = res.quality_frame().set_index("ticker")["flags"]
    assert flags["MSFT"] == "extreme;suspected_split" and flags["NVDA"] == ""
