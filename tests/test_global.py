"""Global markets: a firm on its own exchange's sessions, FX into the reporting currency and the
international Fama-French factor sets (docs/global.md).

The offline sample has no foreign listing, so the study here is synthetic: ^GSPC and NVDA on the
New York sessions, Tokyo Electron (8035.T) on the Tokyo sessions and the yen in dollars
(JPYUSD=X) on weekdays, served by the fake Yahoo (tests/fakeyahoo.py) with Tokyo's and London's
time stamps and currencies, through yfinance's real parsing. Every number is checked against an
independent computation here (pandas merge_asof for the alignment, numpy least squares for the
market model)."""

from __future__ import annotations

import socket
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eventstudy.currency import FX_COLUMNS, FxRates, fx_ticker
from eventstudy.data.calendar import _calendar
from eventstudy.data.exchanges import foreign_listings, listing_currency, listing_exchange
from eventstudy.data.factors import FRENCH_REGIONS, factors_from_texts
from eventstudy.data.sessions import align_prices
from eventstudy.data.store import PriceStore
from eventstudy.errors import DataError, EventDateWarning, OfflineError, StudyFileError
from eventstudy.global_markets import listings_of, named_exchanges, study_fx
from eventstudy.output.folder import StoredResults, write_tables
from eventstudy.pipeline import DataOptions, load_factors, run_study
from eventstudy.study import parse_study
from tests.fakeyahoo import isolated_yfinance, make_fake_session

TOKYO_HOLIDAY = "2025-01-13"  # Coming of Age Day in Tokyo; a New York session
FIRST, LAST = "2023-06-01", "2025-03-31"
SHARES = {"NVDA": 24.4e9, "8035.T": 4.6e8}


def _sessions(mic: str) -> pd.DatetimeIndex:
    days = _calendar(mic).sessions_in_range(FIRST, LAST)
    return pd.DatetimeIndex(days.tz_localize(None) if days.tz else days)


def _strictly_before(prices: pd.Series, dates: pd.DatetimeIndex) -> np.ndarray:
    """``prices`` (New York dates) at the last date strictly before each of ``dates`` (Tokyo):
    New York closes after Tokyo on the same date. Independent of the package's close times."""
    left = pd.DataFrame({"date": dates})
    right = pd.DataFrame({"date": prices.index, "p": prices.to_numpy()})
    got = pd.merge_asof(left, right, on="date", allow_exact_matches=False)
    return got["p"].to_numpy()


@pytest.fixture(scope="module")
def market() -> dict[str, pd.Series]:
    rng = np.random.default_rng(17)
    ny, tk = _sessions("XNYS"), _sessions("XTKS")
    fx_days = pd.bdate_range(FIRST, LAST)
    m = rng.normal(0.0004, 0.01, len(ny))
    gspc = pd.Series(5000 * np.cumprod(1 + m), index=ny)
    nvda_r = 0.001 + 1.3 * m + rng.normal(0, 0.02, len(ny))
    nvda_r[ny.get_loc(pd.Timestamp(TOKYO_HOLIDAY))] -= 0.10
    nvda = pd.Series(140 * np.cumprod(1 + nvda_r), index=ny)
    aligned = pd.Series(_strictly_before(gspc, tk), index=tk).pct_change().to_numpy()
    tel_r = 0.0005 + 0.9 * np.nan_to_num(aligned) + rng.normal(0, 0.015, len(tk))
    tel_r[tk.get_loc(pd.Timestamp("2025-01-14"))] -= 0.08
    tel = pd.Series(30000 * np.cumprod(1 + tel_r), index=tk)
    fx = pd.Series(0.0065 * np.cumprod(1 + rng.normal(0, 0.004, len(fx_days))), index=fx_days)
    return {"^GSPC": gspc, "NVDA": nvda, "8035.T": tel, "JPYUSD=X": fx}


@pytest.fixture(scope="module")
def long_prices(market: dict[str, pd.Series]) -> pd.DataFrame:
    frames = []
    for t, s in market.items():
        volume = np.nan if t.startswith("^") or t.endswith("=X") else 1e6
        frame = pd.DataFrame({"ticker": t, "date": s.index, "close": s.to_numpy()})
        frames.append(frame.assign(adj_close=s.to_numpy(), volume=volume))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(autouse=True)
def no_real_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("real network access attempted in a test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


STUDY = {
    "study": "Global shock",
    "market": "^GSPC",
    "model": "market",
    "tickers": ["NVDA", "8035.T"],
    "events": [{"name": "shock", "date": TOKYO_HOLIDAY}],
    "car_windows": [[0, 0], [-1, 1]],
}


@pytest.fixture(scope="module")
def run(long_prices: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("global")
    shares = pd.DataFrame(
        {"ticker": list(SHARES), "shares_outstanding": list(SHARES.values()),
         "as_of": ["2024-06-03", "2024-06-03"]}
    )  # fmt: skip
    session = make_fake_session(
        long_prices,
        shares,
        listings={"8035.T": ("Asia/Tokyo", "JPY"), "JPYUSD=X": ("Europe/London", "USD")},
    )
    with isolated_yfinance(tmp / "yf"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = run_study(
            parse_study(STUDY), DataOptions(session=session, cache_dir=tmp, progress=False)
        )
    return {"results": results, "warnings": caught, "session": session, "tmp": tmp}


def _firm_ar(results, ticker: str) -> pd.DataFrame:
    ar = results.ar_frame()
    return ar[ar["ticker"] == ticker].set_index("rel_day")


def _market_model(y: np.ndarray, x: np.ndarray, k: int) -> np.ndarray:
    """ARs on rows k-5 .. k+5 of an OLS market model fitted on rows k-250 .. k-11 (numpy)."""
    est = slice(k - 250, k - 10)
    ok = np.isfinite(y[est]) & np.isfinite(x[est])
    design = np.column_stack([np.ones(ok.sum()), x[est][ok]])
    coef = np.linalg.lstsq(design, y[est][ok], rcond=None)[0]
    rows = slice(k - 5, k + 6)
    return y[rows] - coef[0] - coef[1] * x[rows]


def test_tokyo_holiday_moves_tokyo_day0_only(run: dict) -> None:
    moved = [str(w.message) for w in run["warnings"] if issubclass(w.category, EventDateWarning)]
    assert len(moved) == 1, moved
    assert "shock on XTKS" in moved[0] and "Coming of Age Day" in moved[0]
    assert "2025-01-14" in moved[0]
    results = run["results"]
    assert _firm_ar(results, "8035.T").loc[0, "date"] == pd.Timestamp("2025-01-14")
    assert _firm_ar(results, "NVDA").loc[0, "date"] == pd.Timestamp(TOKYO_HOLIDAY)
    assert results.meta["exchanges"] == {"8035.T": "XTKS"}


def test_each_firm_counts_its_own_sessions(run: dict) -> None:
    results = run["results"]
    for ticker, mic, day0 in (("8035.T", "XTKS", "2025-01-14"), ("NVDA", "XNYS", TOKYO_HOLIDAY)):
        days = _sessions(mic)
        k = days.get_loc(pd.Timestamp(day0))
        dates = _firm_ar(results, ticker)["date"]
        assert list(dates) == list(days[k - 5 : k + 6]), ticker
    # 2025-01-20 is a New York holiday (MLK Day) and a Tokyo session: only Tokyo's row has it.
    assert pd.Timestamp("2025-01-20") in set(_firm_ar(results, "8035.T")["date"])
    assert pd.Timestamp("2025-01-20") not in set(_firm_ar(results, "NVDA")["date"])


def test_abnormal_returns_equal_an_independent_fit(run: dict, market: dict) -> None:
    results = run["results"]
    start = pd.Timestamp(results.meta["data_start"])
    tk = _sessions("XTKS")
    tk = tk[tk >= start]
    tel = market["8035.T"].reindex(tk).pct_change().to_numpy()
    gspc = market["^GSPC"][market["^GSPC"].index >= start]
    x = pd.Series(_strictly_before(gspc, tk)).pct_change().to_numpy()
    want = _market_model(tel, x, tk.get_loc(pd.Timestamp("2025-01-14")))
    np.testing.assert_allclose(_firm_ar(results, "8035.T")["ar"].to_numpy(), want, rtol=1e-9)

    ny = _sessions("XNYS")
    ny = ny[ny >= start]
    y = market["NVDA"].reindex(ny).pct_change().to_numpy()
    x = market["^GSPC"].reindex(ny).pct_change().to_numpy()
    want = _market_model(y, x, ny.get_loc(pd.Timestamp(TOKYO_HOLIDAY)))
    np.testing.assert_allclose(_firm_ar(results, "NVDA")["ar"].to_numpy(), want, rtol=1e-9)


def test_both_valued_in_dollars_with_the_rate_shown(run: dict, market: dict) -> None:
    val = run["results"].valuation_frame()
    assert list(val.columns[-len(FX_COLUMNS) :]) == FX_COLUMNS
    tel = val[(val["ticker"] == "8035.T") & (val["start"] == 0)].iloc[0]
    close = market["8035.T"]
    rate = market["JPYUSD=X"].loc["2025-01-10"]  # Tokyo's day -1: Friday 2025-01-10
    assert tel["currency"] == "JPY" and tel["reporting_currency"] == "USD"
    assert tel["fx_date"] == "2025-01-10" and tel["fx_source"] == "yahoo:JPYUSD=X"
    assert tel["fx_rate"] == pytest.approx(rate, rel=1e-12)
    mv = SHARES["8035.T"] * close.loc["2025-01-10"]
    assert tel["market_value"] == pytest.approx(mv, rel=1e-12)
    assert tel["market_value_reporting"] == pytest.approx(mv * rate, rel=1e-12)
    raw = SHARES["8035.T"] * (close.loc["2025-01-14"] - close.loc["2025-01-10"])
    assert tel["raw_dollar_change_reporting"] == pytest.approx(raw * rate, rel=1e-12)
    ar0 = _firm_ar(run["results"], "8035.T").loc[0, "ar"]  # checked against numpy below
    assert tel["abnormal_dollar_change"] == pytest.approx(ar0 * mv, rel=1e-12)
    assert tel["abnormal_dollar_change_reporting"] == pytest.approx(ar0 * mv * rate, rel=1e-12)
    nvda = val[(val["ticker"] == "NVDA") & (val["start"] == 0)].iloc[0]
    assert nvda["currency"] == "USD" and nvda["fx_rate"] == 1.0
    assert nvda["fx_source"] == "same currency" and nvda["fx_date"] == "2025-01-10"
    assert nvda["market_value_reporting"] == nvda["market_value"]
    # The rates came from the fake Yahoo, stamped in London, into the store.
    assert run["session"].server.chart_calls("JPYUSD=X", dated=True)
    stored = PriceStore(run["tmp"]).get_prices(["JPYUSD=X"], "2025-01-01", "2025-01-30")
    assert len(stored) == len(pd.bdate_range("2025-01-01", "2025-01-30"))


def test_results_folder_keeps_the_fx_columns(run: dict, tmp_path: Path) -> None:
    write_tables(run["results"], tmp_path / "out")
    header = (tmp_path / "out" / "valuation.csv").read_text().splitlines()[0].split(",")
    assert header[-len(FX_COLUMNS) :] == FX_COLUMNS
    back = StoredResults.load(tmp_path / "out").valuation_frame()
    assert set(back["currency"]) == {"JPY", "USD"}
    assert back["fx_source"].str.startswith(("yahoo:", "same")).all()


# -- exchanges and alignment -----------------------------------------------------------------------


def test_suffixes_name_exchanges_and_currencies() -> None:
    cases = {
        "8035.T": ("XTKS", "JPY"), "ASML.AS": ("XAMS", "EUR"), "ENR.DE": ("XETR", "EUR"),
        "2330.TW": ("XTAI", "TWD"), "0700.HK": ("XHKG", "HKD"), "AZN.L": ("XLON", "GBp"),
        "MC.PA": ("XPAR", "EUR"), "NESN.SW": ("XSWX", "CHF"), "SHOP.TO": ("XTSE", "CAD"),
        "005930.KS": ("XKRX", "KRW"), "NVDA": ("XNYS", "USD"), "BRK.B": ("XNYS", "USD"),
    }  # fmt: skip
    for ticker, (mic, currency) in cases.items():
        assert listing_exchange(ticker, "^GSPC") == mic, ticker
        assert listing_currency(ticker, mic) == currency, ticker
    assert listing_exchange("SONY", "^GSPC", {"SONY": "XTKS"}) == "XTKS"
    assert listing_currency("SONY", "XTKS") == "JPY"
    assert listing_exchange("7203", "^N225") == "XTKS"  # no suffix: the market's exchange
    assert foreign_listings(["NVDA", "AMD", "BRK.B"], "^GSPC") == {}
    assert foreign_listings(["NVDA", "8035.T"], "^GSPC") == {"8035.T": "XTKS"}
    # Benchmarked on the Nikkei, a ticker without a suffix is read as trading in Tokyo.
    assert foreign_listings(["8035.T", "7203"], "^N225") == {}
    assert foreign_listings(["8035.T", "NVDA"], "^N225", {"NVDA": "XNYS"}) == {"NVDA": "XNYS"}
    with pytest.raises(DataError, match="unknown exchange 'XXXX'"):
        foreign_listings(["ACME"], "^GSPC", {"ACME": "XXXX"})


def test_market_compounded_over_tokyo_intervals_across_a_us_holiday() -> None:
    ny = pd.Series(
        [100.0, 101.0, 103.0, 99.0],
        index=pd.DatetimeIndex(["2025-01-16", "2025-01-17", "2025-01-21", "2025-01-22"]),
    )
    tokyo = pd.DatetimeIndex(["2025-01-17", "2025-01-20", "2025-01-21", "2025-01-22"])
    got = align_prices(ny, "XNYS", tokyo, "XTKS")
    # Tokyo closes (06:00 UTC) before New York's close of the same date (21:00 UTC): each Tokyo
    # session sees New York's previous close; Monday 2025-01-20 (MLK Day) has none of its own.
    np.testing.assert_array_equal(got, [100.0, 101.0, 101.0, 103.0])
    returns = got[1:] / got[:-1] - 1
    assert returns[1] == 0.0  # the interval without a New York close
    assert returns[2] == pytest.approx(103 / 101 - 1)
    # Without known exchanges, dates stand in for close times (same date counts).
    np.testing.assert_array_equal(align_prices(ny, None, tokyo, "XTKS"), [101, 101, 103, 99])


def test_us_only_study_takes_no_new_path(tmp_path: Path) -> None:
    spec = parse_study({**STUDY, "tickers": ["NVDA", "AMD"]})
    assert listings_of(spec) == {}
    start, end = pd.Timestamp("2024-01-01"), pd.Timestamp("2024-12-31")
    assert study_fx(spec, start, end, cache_dir=tmp_path, offline=True) is None


def test_a_reporting_currency_needs_its_rates(tmp_path: Path) -> None:
    spec = parse_study({**STUDY, "tickers": ["NVDA"], "reporting_currency": "EUR"})
    with pytest.raises(OfflineError, match="USDEUR=X"):
        study_fx(spec, pd.Timestamp("2025-01-02"), pd.Timestamp("2025-01-31"),
                 cache_dir=tmp_path, offline=True)  # fmt: skip


def test_fx_conventions() -> None:
    assert fx_ticker("JPY", "USD") == "JPYUSD=X"
    assert fx_ticker("GBp", "USD") == "GBPUSD=X"
    assert fx_ticker("USD", "USD") is None
    fx = FxRates("USD", {"AZN.L": "GBp", "8035.T": "JPY"})
    days = pd.DatetimeIndex(["2025-01-02", "2025-01-06"])
    fx.rates["GBPUSD=X"] = pd.Series([1.25, 1.27], index=days)
    rate, date, _ = fx.rate("AZN.L", "2025-01-05")  # a Sunday: Thursday's rate, in pence
    assert (rate, date) == (0.0125, "2025-01-02")
    assert np.isnan(fx.rate("AZN.L", "2025-01-01")[0])  # no rate before: no look-ahead
    assert "no JPYUSD=X rates" in fx.rate("8035.T", "2025-01-05")[2]
    gbp = FxRates("GBP", {"AZN.L": "GBp"})
    assert gbp.rate("AZN.L", "2025-01-05")[:1] == (0.01,)


# -- study file ------------------------------------------------------------------------------------


def test_study_keys_are_checked() -> None:
    with pytest.raises(StudyFileError, match="not an exchange MIC"):
        parse_study({**STUDY, "exchanges": {"8035.T": "Tokyo"}})
    with pytest.raises(StudyFileError, match="ISO 4217"):
        parse_study({**STUDY, "reporting_currency": "dollars"})
    with pytest.raises(StudyFileError, match="factor_region"):
        parse_study({**STUDY, "factor_region": "mars"})
    spec = parse_study(
        {**STUDY, "exchanges": {"SONY": "XNYS"},
         "events": [{"name": "a", "date": TOKYO_HOLIDAY, "exchanges": {"SONY": "XTKS"}},
                    {"name": "b", "date": TOKYO_HOLIDAY}]}
    )  # fmt: skip
    with pytest.raises(DataError, match="SONY is given two exchanges"):
        named_exchanges(spec)
    ok = parse_study({**STUDY, "tickers": ["SONY"], "exchanges": {"SONY": "XTKS"}})
    assert listings_of(ok) == {"SONY": "XTKS"}


# -- international factors -------------------------------------------------------------------------

_PREAMBLE = (
    "This file was created using the 202411 Bloomberg database.\n"
    "Missing data are indicated by -99.99.\n\n"
)


def _french(columns: str, rows: list[str]) -> str:
    """A daily factor file in Ken French's international layout (CRLF, YYYYMMDD, a blank first
    header cell, percent values, then the copyright line)."""
    body = "\r\n".join(rows)
    tail = " Copyright 2024 Eugene F. Fama and Kenneth R. French"
    return f"{_PREAMBLE},{columns}\r\n{body}\r\n\r\n{tail}\r\n"


def _region_files(prefix: str) -> dict[str, str]:
    return {
        f"{prefix}_3_Factors_Daily": _french(
            "Mkt-RF,SMB,HML,RF",
            ["20250102,    0.52,   -0.11,    0.30,    0.02",
             "20250103,   -1.25,    0.40,   -0.07,    0.02"],
        ),
        f"{prefix}_5_Factors_Daily": _french(
            "Mkt-RF,SMB,HML,RMW,CMA,RF",
            ["20250102,    0.52,   -0.09,    0.30,    0.11,   -0.04,    0.02",
             "20250103,   -1.25,    0.38,   -0.07,   -0.20,    0.05,    0.02"],
        ),
        f"{prefix}_Mom_Factor_Daily": _french("WML", ["20250102,    0.61", "20250103,  -99.99"]),
    }  # fmt: skip


def test_french_regions_name_the_daily_files() -> None:
    assert list(FRENCH_REGIONS["developed"]) == [
        "Developed_3_Factors_Daily", "Developed_5_Factors_Daily", "Developed_Mom_Factor_Daily"
    ]  # fmt: skip
    firsts = {region: next(iter(files)) for region, files in FRENCH_REGIONS.items()}
    assert firsts == {
        "us": "F-F_Research_Data_Factors_daily",
        "developed": "Developed_3_Factors_Daily",
        "north_america": "North_America_3_Factors_Daily",
        "europe": "Europe_3_Factors_Daily",
        "japan": "Japan_3_Factors_Daily",
        "asia_pacific_ex_japan": "Asia_Pacific_ex_Japan_3_Factors_Daily",
        "emerging": "Emerging_5_Factors_Daily",
    }


@pytest.mark.parametrize("region,prefix", [("japan", "Japan"), ("europe", "Europe")])
def test_regional_factors_through_the_store(tmp_path: Path, region: str, prefix: str) -> None:
    store = PriceStore(tmp_path)
    for name, text in _region_files(prefix).items():
        store.put_factor_file(name, text)
    spec = parse_study({**STUDY, "model": "carhart", "factor_region": region})
    data = load_factors(spec, DataOptions(cache_dir=tmp_path, offline=True))
    assert data is not None
    assert data.releases == ["202411"]
    assert all(prefix in s for s in data.sources)
    frame = data.frame
    assert frame.loc["2025-01-03", "Mkt-RF"] == pytest.approx(-0.0125)
    assert frame.loc["2025-01-02", "SMB"] == pytest.approx(-0.0011)  # the 3-factor file's
    assert frame.loc["2025-01-02", "SMB_5F"] == pytest.approx(-0.0009)
    assert frame.loc["2025-01-02", "Mom"] == pytest.approx(0.0061)
    assert np.isnan(frame.loc["2025-01-03", "Mom"])  # -99.99: missing
    other = parse_study({**STUDY, "model": "ff3", "factor_region": "developed"})
    with pytest.raises(OfflineError, match="Developed_3_Factors_Daily"):
        load_factors(other, DataOptions(cache_dir=tmp_path, offline=True))


def test_emerging_three_factor_model_reads_the_five_factor_file() -> None:
    text = _region_files("Emerging")["Emerging_5_Factors_Daily"]
    data = factors_from_texts([("Emerging_5_Factors_Daily", text)])
    got = data.columns_for(("Mkt-RF", "SMB", "HML"), "ff3")
    assert got.loc["2025-01-03", "SMB"] == pytest.approx(0.0038)
    assert list(got.columns) == ["Mkt-RF", "SMB", "HML", "RF"]


# -- currency in tables, charts and the terminal ---------------------------------------------------


def test_money_is_written_with_its_currency_symbol() -> None:
    from eventstudy.output.format import currency_symbol, fmt_billions, fmt_money, term_money
    from eventstudy.output.latex import tex_escape

    assert fmt_money(-592.3e9) == "\u2212$592.3B"  # unchanged for dollars
    assert fmt_money(-1.54e12, currency="JPY") == "\u2212¥1.5T"
    assert fmt_money(3.5e9, signed=False, currency="EUR") == "€3.5B"
    assert term_money(2.04e9, "GBP") == "+£2.0B"
    assert term_money(-12345, "SEK") == "-SEK 12,345"
    assert fmt_billions(-88.4, "JPY") == "\u2212¥88B"
    assert currency_symbol() == "$" and currency_symbol("TWD") == "NT$"
    assert tex_escape("\u2212€3.5B") == r"$-$\texteuro{}3.5B"


def _in_euros(results, market: dict[str, pd.Series]):
    import dataclasses

    eur = pd.Series(0.9, index=pd.bdate_range("2024-01-01", "2025-03-31"))
    fx = FxRates("EUR", {"NVDA": "USD", "8035.T": "JPY"})
    fx.rates = {"USDEUR=X": eur, "JPYEUR=X": market["JPYUSD=X"] * 0.9}
    return dataclasses.replace(results, fx=fx)


def test_tables_and_terminal_value_in_the_reporting_currency(run: dict, market: dict) -> None:
    from eventstudy.output.summary import text_summary
    from eventstudy.output.tables import StudyTables

    results = run["results"]
    val = results.valuation_frame()
    tel = val[(val["ticker"] == "8035.T") & (val["start"] == 0)].iloc[0]
    table = StudyTables(results).event_value("shock")
    assert table is not None
    cells = {row[0].text: [c.text for c in row] for row in table.rows}
    from eventstudy.output.format import fmt_money

    assert cells["8035.T"][1] == fmt_money(tel["market_value_reporting"], signed=False)
    assert cells["8035.T"][1].startswith("$")
    summary = text_summary(results)
    assert "$ change day 0" in summary
    assert "shock: day 0 = 2025-01-13" in summary
    assert "own day 0 on their exchange: 8035.T 2025-01-14" in summary

    euros = _in_euros(results, market)
    in_eur = euros.valuation_frame()
    row = in_eur[(in_eur["ticker"] == "NVDA") & (in_eur["start"] == 0)].iloc[0]
    assert row["fx_rate"] == 0.9 and row["reporting_currency"] == "EUR"
    assert row["market_value_reporting"] == pytest.approx(0.9 * row["market_value"])
    eur_cells = {
        r[0].text: [c.text for c in r] for r in StudyTables(euros).event_value("shock").rows
    }
    assert eur_cells["NVDA"][1] == fmt_money(row["market_value_reporting"], False, "EUR")
    assert eur_cells["NVDA"][1].startswith("€")
    assert "€ change day 0" in text_summary(euros)


def test_value_chart_labels_the_reporting_currency(run: dict, market: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from eventstudy.output.plots.value_heatmap import plot_value

    fig = plot_value(_in_euros(run["results"], market), "shock", (0, 0))
    ax = fig.axes[0]
    assert "(€ billions)" in ax.get_xlabel()
    labels = [t.get_text() for t in ax.texts if (t.get_gid() or "").startswith("label:")]
    assert labels and all("€" in text for text in labels)
    plt.close(fig)


def test_every_chart_draws_for_a_mixed_study(run: dict, tmp_path: Path) -> None:
    from eventstudy.output.plots.figures import save_figures

    paths = save_figures(run["results"], tmp_path, formats=("png",))
    assert paths and all(p.stat().st_size > 0 for p in paths)


def test_stacked_panel_layout_and_after_close_on_tokyo(market: dict) -> None:
    from eventstudy.data.panel import ReturnsPanel
    from eventstudy.data.sessions import firm_day0, stack_panel

    wide = pd.DataFrame({t: market[t] for t in ("^GSPC", "NVDA", "8035.T")})
    wide = wide.loc["2024-06-03":"2025-02-28"]
    home = ReturnsPanel.from_prices(wide, "^GSPC")
    panel = stack_panel(home, wide, {"8035.T": "XTKS"}, ["^GSPC"], "simple", reach=20)
    (block,) = panel.blocks
    assert block.exchange == "XTKS" and block.tickers == ("8035.T",)
    assert block.start == len(home.dates) + 21  # 21 rows of NaT part the blocks
    assert panel.dates[len(home.dates) : block.start].isna().all()
    tk = _sessions("XTKS")
    held = tk[(tk >= "2024-06-03") & (tk <= "2025-02-28")]
    assert list(panel.dates[block.start : block.stop]) == list(held)
    assert panel.market_block().dates.equals(home.dates)
    j = panel.column("8035.T")
    assert np.isnan(panel.values[: len(home.dates), j]).all()  # not on New York's rows
    # after_close on Friday 2025-01-10: Tokyo's next session is Tuesday (Monday is a holiday).
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rows = firm_day0(
            panel,
            [pd.Timestamp("2025-01-10").date()],
            np.array([True]),
            ["news"],
            [("NVDA", "8035.T")],
        )
    assert list(rows) == [(0, "8035.T")]
    assert panel.dates[rows[(0, "8035.T")]] == pd.Timestamp("2025-01-14")


def test_volume_and_dask_refuse_foreign_listings(long_prices: pd.DataFrame, tmp_path: Path) -> None:
    csv = tmp_path / "prices.csv"
    long_prices.to_csv(csv, index=False)
    options = DataOptions(prices=csv, cache_dir=tmp_path, offline=True, progress=False)
    with pytest.raises(DataError, match="volume is measured on the market's sessions only"):
        run_study(parse_study({**STUDY, "measures": ["volume"]}), options)
    with pytest.raises(DataError, match="engine 'dask' fits every firm on the market's sessions"):
        run_study(parse_study({**STUDY, "engine": "dask"}), options)


# -- the library API: the same study through EventStudy ----------------------------------------


def _library(prices: pd.DataFrame, tickers: list[str], date: str = TOKYO_HOLIDAY, **kwargs):
    from eventstudy import Event, EventStudy

    es = EventStudy.from_prices(
        prices, market="^GSPC", model="market", car_windows=[(0, 0), (-1, 1)],
        title=STUDY["study"], **kwargs,
    )  # fmt: skip
    return es.fit([Event(name="shock", date=date, tickers=tickers)])


def test_library_and_command_line_give_the_same_numbers(run: dict, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from eventstudy.cli import main

    study = tmp_path / "study.yaml"
    study.write_text(
        "study: Global shock\nmarket: ^GSPC\nmodel: market\ntickers: [NVDA, 8035.T]\n"
        "car_windows: [[0, 0], [-1, 1]]\nevents:\n  - {name: shock, date: 2025-01-13}\n"
    )
    cli = tmp_path / "cli"
    args = ["run", str(study), "--offline", "--cache-dir", str(run["tmp"]), "--out", str(cli),
            "--no-figures", "--quiet"]  # fmt: skip
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    meta = run["results"].meta
    stored = PriceStore(run["tmp"]).get_prices(
        ["^GSPC", "NVDA", "8035.T"], meta["data_start"], meta["data_end"]
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lib = _library(stored, ["NVDA", "8035.T"])
    moved = [str(w.message) for w in caught if issubclass(w.category, EventDateWarning)]
    assert len(moved) == 1 and "shock on XTKS" in moved[0] and "2025-01-14" in moved[0]
    assert _firm_ar(lib, "8035.T").loc[0, "date"] == pd.Timestamp("2025-01-14")
    assert lib.meta["exchanges"] == {"8035.T": "XTKS"}
    write_tables(lib, tmp_path / "lib")
    for name in ("abnormal_returns.csv", "car.csv", "aar.csv", "caar.csv", "tests.csv"):
        assert (tmp_path / "lib" / name).read_bytes() == (cli / name).read_bytes(), name


def test_library_names_the_exchanges_argument(long_prices: pd.DataFrame) -> None:
    from eventstudy import EventStudy

    with pytest.raises(DataError, match="exchanges: unknown exchange 'XXXX' for ticker ACME"):
        EventStudy.from_prices(long_prices, market="^GSPC", exchanges={"ACME": "XXXX"})
    # Named explicitly, an exchange overrides the suffix: 8035.T read as a New York listing.
    same = _library(long_prices, ["8035.T"], exchanges={"8035.T": "XNYS"})
    assert "exchanges" not in same.meta
    # Returns given directly are one calendar: a firm named on another exchange needs prices.
    wide = long_prices.pivot(index="date", columns="ticker", values="adj_close")
    es = EventStudy(wide.pct_change().iloc[1:], market="^GSPC", exchanges={"NVDA": "XTKS"})
    with pytest.raises(DataError, match=r"exchanges: NVDA trades on XTKS.*from_prices"):
        es.fit([{"name": "shock", "date": TOKYO_HOLIDAY, "tickers": ["NVDA"]}])


def test_day0_warning_is_about_the_firms_own_exchange(long_prices: pd.DataFrame) -> None:
    def moved(tickers: list[str], date: str) -> list[str]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _library(long_prices, tickers, date)
        return [str(w.message) for w in caught if issubclass(w.category, EventDateWarning)]

    mlk = "2025-01-20"  # Martin Luther King Jr. Day: New York closed, Tokyo open
    assert moved(["8035.T"], mlk) == []  # no firm of the event trades in New York
    (us,) = moved(["NVDA", "8035.T"], mlk)
    assert "event 'shock' date 2025-01-20" in us and "Martin Luther King" in us
    (tokyo,) = moved(["8035.T"], TOKYO_HOLIDAY)
    assert "shock on XTKS" in tokyo and "Coming of Age Day" in tokyo


def test_price_chart_draws_each_firm_on_its_own_sessions(run: dict, market: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from eventstudy.output.plots.event_charts import plot_prices

    fig = plot_prices(run["results"], "shock")
    lines = {line.get_gid(): line for line in fig.axes[0].get_lines() if line.get_gid()}
    for ticker, mic, day0 in (("8035.T", "XTKS", "2025-01-14"), ("NVDA", "XNYS", TOKYO_HOLIDAY)):
        days = _sessions(mic)
        k = days.get_loc(pd.Timestamp(day0))
        close = market[ticker].reindex(days).to_numpy()
        want = 100 * close[k - 5 : k + 6] / close[k - 1]  # day -1 = 100 on its own sessions
        got = lines[f"price:{ticker}"].get_ydata()
        np.testing.assert_allclose(got, want, rtol=1e-9, err_msg=ticker)
    (footer,) = [t for t in fig.axes[0].texts if t.get_gid() == "footer"]
    assert "8035.T on XTKS sessions (day 0 = 2025-01-14)" in " ".join(footer.get_text().split())
    plt.close(fig)


def test_events_frame_names_exchanges(long_prices: pd.DataFrame) -> None:
    from eventstudy import EventStudy

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EventDateWarning)
        suffixed = _library(long_prices, ["NVDA", "8035.T"])
    renamed = long_prices.replace({"ticker": {"8035.T": "TEL"}})  # no suffix: named instead
    es = EventStudy.from_prices(renamed, market="^GSPC", model="market",
                                car_windows=[(0, 0), (-1, 1)])  # fmt: skip
    frame = pd.DataFrame({"event": "shock", "date": TOKYO_HOLIDAY, "ticker": ["NVDA", "TEL"],
                          "exchange": [None, "XTKS"]})  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EventDateWarning)
        named = es.fit(frame)
    assert named.meta["exchanges"] == {"TEL": "XTKS"}
    got = _firm_ar(named, "TEL")
    want = _firm_ar(suffixed, "8035.T")
    assert got.loc[0, "date"] == pd.Timestamp("2025-01-14")
    np.testing.assert_array_equal(got["ar"].to_numpy(), want["ar"].to_numpy())
    twice = pd.concat([frame, frame.assign(event="other", exchange=[None, "XAMS"])])
    with pytest.raises(StudyFileError, match="row 3: ticker TEL on two exchanges, XTKS and XAMS"):
        es.fit(twice)
    with pytest.raises(DataError, match="exchanges: unknown exchange 'XXXX' for ticker TEL"):
        es.fit(frame.assign(exchange=[None, "XXXX"]))


@pytest.mark.filterwarnings("ignore::eventstudy.errors.EventDateWarning")
def test_library_values_in_the_reporting_currency_from_fx_series_in_its_prices(
    run: dict, market: dict
) -> None:
    """The library takes FX closes as any other column of its prices (Yahoo's JPYUSD=X): the
    rates and converted values are those the command line fetched into the store."""
    meta = run["results"].meta
    names = ["^GSPC", "NVDA", "8035.T", "JPYUSD=X"]
    stored = PriceStore(run["tmp"]).get_prices(names, meta["data_start"], meta["data_end"])
    shares = run["results"].shares
    lib = _library(stored, ["NVDA", "8035.T"], shares=shares, reporting_currency="USD")
    val = lib.valuation_frame()
    assert list(val.columns[-len(FX_COLUMNS) :]) == FX_COLUMNS
    tel = val[(val["ticker"] == "8035.T") & (val["start"] == 0)].iloc[0]
    rate = market["JPYUSD=X"].loc["2025-01-10"]  # Tokyo's day -1
    assert tel["fx_rate"] == rate and tel["fx_date"] == "2025-01-10"
    assert tel["fx_source"] == "prices:JPYUSD=X" and lib.meta["fx_sources"] == ["prices:JPYUSD=X"]
    assert tel["market_value_reporting"] == pytest.approx(tel["market_value"] * rate, rel=1e-12)
    cli = run["results"].valuation_frame()
    cli_tel = cli[(cli["ticker"] == "8035.T") & (cli["start"] == 0)].iloc[0]
    for column in ("fx_rate", "fx_date", "market_value_reporting", "raw_dollar_change_reporting"):
        assert tel[column] == cli_tel[column], column
    # Asked for without its rates: one line naming the series; not asked for: a warning.
    without = stored[stored["ticker"] != "JPYUSD=X"]
    with pytest.raises(DataError, match=r"^reporting_currency: .* needs the FX series JPYUSD=X"):
        _library(without, ["NVDA", "8035.T"], reporting_currency="USD")
    with pytest.warns(UserWarning, match="stay in each listing's currency"):
        plain = _library(without, ["NVDA", "8035.T"])
    assert "fx_rate" not in plain.valuation_frame().columns
    with pytest.raises(DataError, match="reporting_currency: 'usd' is not an ISO 4217"):
        _library(stored, ["NVDA"], reporting_currency="usd")
