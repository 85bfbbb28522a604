"""Frames handed to the library are checked at the door (eventstudy.data.inputs): shares with any
date resolution or ISO text, factors in percent and prices passed as returns refused, with one-line
errors of the package's own type that name the argument."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from eventstudy import EventStudy
from eventstudy.datasets import sample_folder
from eventstudy.errors import DataError, EventStudyError

R1 = [{"name": "R1", "date": "2025-01-27", "tickers": ["NVDA", "AMD"]}]


@pytest.fixture(scope="module")
def reference(sample_prices, sample_shares) -> pd.DataFrame:
    res = EventStudy.from_prices(sample_prices, market="^GSPC", shares=sample_shares).fit(R1)
    return res.valuation_frame()


@pytest.mark.parametrize(
    "read",
    [
        lambda path: pd.read_csv(path),  # dates as text
        lambda path: pd.read_csv(path, parse_dates=["as_of"]),  # pandas' own resolution
        lambda path: pd.read_csv(path, parse_dates=["as_of"]).astype({"as_of": "datetime64[us]"}),
        lambda path: pd.read_csv(path, parse_dates=["as_of"]).astype({"as_of": "datetime64[s]"}),
        lambda path: pd.read_csv(path).drop(columns="source"),
    ],
    ids=["text", "parse_dates", "us", "s", "no-source"],
)
def test_shares_frames_of_any_date_kind_give_the_same_dollars(
    read, sample_prices, reference
) -> None:
    shares = read(sample_folder() / "shares.csv")
    res = EventStudy.from_prices(sample_prices, market="^GSPC", shares=shares).fit(R1)
    got = res.valuation_frame()
    columns = ["market_value", "raw_dollar_change", "abnormal_dollar_change", "shares_as_of"]
    pd.testing.assert_frame_equal(got[columns], reference[columns])
    day0 = got.query("ticker == 'NVDA' and start == 0 and end == 0").iloc[0]
    assert day0["raw_dollar_change"] == pytest.approx(-592.3434e9, rel=1e-6)


def test_bad_shares_name_the_argument(sample_prices) -> None:
    with pytest.raises(DataError, match=r"`shares` needs column\(s\) shares_outstanding"):
        EventStudy.from_prices(sample_prices, shares=pd.DataFrame({"ticker": ["A"], "as_of": [1]}))
    bad = pd.read_csv(io.StringIO("ticker,as_of,shares_outstanding\nA,2024-01-02,-5\n"))
    with pytest.raises(DataError, match=r"`shares`, row 0: shares_outstanding -5 is not a pos"):
        EventStudy.from_prices(sample_prices, shares=bad)
    dates = pd.read_csv(io.StringIO("ticker,as_of,shares_outstanding\nA,someday,5\n"))
    with pytest.raises(DataError, match=r"`shares` column as_of: not dates"):
        EventStudy.from_prices(sample_prices, shares=dates)


def test_factors_in_percent_are_refused_with_how_to_convert(sample_prices) -> None:
    published = pd.read_csv(sample_folder() / "ff_factors_daily.csv", index_col="date")
    with pytest.raises(DataError, match=r"`factor_data` looks like percent .*divide by 100"):
        EventStudy.from_prices(sample_prices, factor_data=published, model="ff3")
    study = EventStudy.from_prices(sample_prices, factor_data=published / 100, model="ff3")
    res = study.fit(R1)  # index given as ISO text: read as dates
    beta = res.params_frame().set_index("ticker").loc["NVDA", "beta_Mkt-RF"]
    assert 1.5 < beta < 3.5  # a fraction-scale beta, not 0.025


def test_prices_where_returns_belong_are_refused(sample_prices) -> None:
    wide = sample_prices.pivot(index="date", columns="ticker", values="adj_close")
    with pytest.raises(
        DataError, match=r"`returns` does not look like daily returns .*from_prices"
    ):
        EventStudy(wide, market="^GSPC")
    with pytest.raises(DataError, match=r"`returns` is empty"):
        EventStudy(pd.DataFrame())
    with pytest.raises(DataError, match=r"`returns` holds no returns"):
        EventStudy(
            pd.DataFrame({"A": [np.nan, np.nan]}, index=pd.bdate_range("2024-01-01", periods=2))
        )
    assert issubclass(DataError, EventStudyError)


def test_the_scale_check_samples_a_large_panel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Returns or prices? Decided by the median size of evenly spaced cells of a large panel, or
    of every cell when those are mostly missing (a sample is never the only evidence of NaN)."""
    from eventstudy.data import inputs

    rng = np.random.default_rng(3)
    values = rng.normal(0, 0.02, (400, 50))
    assert inputs._typical_size(values) == np.median(np.abs(values))  # small: every cell
    monkeypatch.setattr(inputs, "TYPICAL_SAMPLE", 2000)  # 20,000 cells: every tenth
    sampled = inputs._typical_size(values)
    assert sampled == np.median(np.abs(values.ravel()[::10]))
    assert sampled == pytest.approx(np.median(np.abs(values)), rel=0.1)
    assert inputs._typical_size(100 + 10 * np.abs(values)) > 100  # prices
    sparse = np.full((400, 50), np.nan)
    sparse[:, 3] = values[:, 3]  # one firm's returns: no sampled cell holds one
    assert inputs._typical_size(sparse) == np.median(np.abs(values[:, 3]))
    assert inputs._typical_size(np.full((400, 50), np.nan)) is None
    dates = pd.bdate_range("2020-01-01", periods=400)
    with pytest.raises(DataError, match=r"does not look like daily returns"):
        EventStudy(pd.DataFrame(100 + np.abs(values) * 10, index=dates))


def test_from_prices_takes_return_kind_and_the_old_name_with_a_warning(sample_prices) -> None:
    log = EventStudy.from_prices(sample_prices, return_kind="log")
    assert log.return_kind == "log"
    with pytest.warns(DeprecationWarning, match=r"now return_kind"):
        old = EventStudy.from_prices(sample_prices, returns="log")
    np.testing.assert_array_equal(old.panel.values, log.panel.values)
    with pytest.raises(DataError, match="return_kind must be 'simple' or 'log', not 'pct'"):
        EventStudy.from_prices(sample_prices, return_kind="pct")


def test_reprs_say_what_was_studied_in_one_line(sample_prices) -> None:
    study = EventStudy.from_prices(sample_prices, market="^GSPC", title="R1")
    assert repr(study) == (
        "<EventStudy 'R1': 374 sessions 2023-10-03 .. 2025-03-31, 24 tickers; model market vs "
        "^GSPC, estimation [-250, -11], event [-5, 5], CAR [0, 0] [-1, 1] [-5, 5]; simple returns>"
    )
    with pytest.warns(UserWarning, match="as the market ticker"):
        res = study.fit([{"name": "R1", "date": "2025-01-27", "tickers": ["NVDA", "^GSPC"]}])
    assert repr(res) == (
        "<EventStudyResults 'R1': 1 event(s), 1 firm-events fitted, 1 skipped; "
        "OLS market model vs ^GSPC; estimation [-250, -11], event [-5, 5]>"
    )


def test_library_misuse_raises_the_packages_own_errors_which_are_value_errors() -> None:
    from eventstudy import Event, StudyFileError

    with pytest.raises(StudyFileError, match=r"Event: date: bad date '2025/01/27'"):
        Event(name="R1", date="2025/01/27", tickers=["NVDA"])
    with pytest.raises(ValueError, match=r"Event: windw: unknown key"):
        Event(name="R1", date="2025-01-27", tickers=["NVDA"], windw=3)
    with pytest.raises(ValueError, match=r"`returns` is empty"):
        EventStudy(pd.DataFrame())
    assert issubclass(StudyFileError, EventStudyError) and issubclass(DataError, ValueError)
