"""The single-firm columns of car.csv against independent computations: the sample-quantile
p-values (Gelbach, Helland & Klick 2013) by plain loops over runs of estimation residuals, the
Holm and Benjamini-Hochberg adjusted p-values against statsmodels' ``multipletests``, and the
study key ``multiple_testing`` that moves the stars of the terminal summary and the report."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from eventstudy import EventStudy
from eventstudy.errors import StudyFileError
from eventstudy.event_study import Event
from eventstudy.inference.single_firm import adjusted_p, sample_quantile_p
from eventstudy.output.folder import CAR_COLUMNS, StoredResults
from eventstudy.output.format import significance_mark
from eventstudy.output.summary import text_summary
from eventstudy.output.tables import StudyTables
from eventstudy.study import parse_study

SEMIS = ["NVDA", "AVGO", "TSM", "ASML", "AMD", "MU", "MRVL", "ARM", "SMCI"]
OTHERS = ["VST", "CEG", "ORCL", "MSFT", "GOOGL", "META", "AMZN", "AAPL"]


def _quantiles_by_hand(resid: np.ndarray, car: float, length: int) -> tuple[float, float]:
    """Every run of ``length`` consecutive estimation days without a missing residual, summed
    one by one; the shares of the sums at or below / at or above the CAR."""
    sums = []
    for s in range(len(resid) - length + 1):
        run = resid[s : s + length]
        if np.all(np.isfinite(run)):
            sums.append(math.fsum(run))
    if not sums or not np.isfinite(car):
        return math.nan, math.nan
    return sum(x <= car for x in sums) / len(sums), sum(x >= car for x in sums) / len(sums)


def test_sample_quantile_by_hand() -> None:
    rng = np.random.default_rng(15)
    resid = rng.standard_t(4, (40, 60)) * 0.01
    resid[rng.random(resid.shape) < 0.05] = np.nan
    resid[3] = np.nan  # no residual at all
    lengths = [1, 3, 11]
    car = rng.normal(0, 0.03, (40, 3))
    car[5, 1] = np.nan
    car[7, 0] = np.nanmax(resid[7]) + 1.0  # above every sum: upper share 1/(runs), lower 1
    lower, upper = sample_quantile_p(resid, car, lengths)
    for i in range(40):
        for k, length in enumerate(lengths):
            lo, hi = _quantiles_by_hand(resid[i], car[i, k], length)
            np.testing.assert_equal(lower[i, k], lo)
            np.testing.assert_equal(upper[i, k], hi)
    runs = int(np.isfinite(resid[7]).sum())
    assert lower[7, 0] == 1.0 and upper[7, 0] == 0.0 and runs >= 50
    assert np.isnan(lower[3]).all() and np.isnan(lower[5, 1])


def test_sample_quantile_smallest_share_is_one_over_the_runs() -> None:
    """M = 10 estimation days, a window of L = 4: 7 sums, so a CAR beyond all of them has one
    share 0 and the other 1, and a CAR equal to the largest sum has upper share 1/7."""
    resid = np.arange(1.0, 11.0)[None, :]  # sums of 4: 10, 14, ..., 34
    car = np.array([[34.0, 35.0, 5.0]])
    lower, upper = sample_quantile_p(resid, car, [4, 4, 4])
    np.testing.assert_allclose(upper[0], [1 / 7, 0.0, 1.0])
    np.testing.assert_allclose(lower[0], [1.0, 1.0, 0.0])


def test_adjusted_p_equals_statsmodels() -> None:
    rng = np.random.default_rng(3)
    sizes = [1, 2, 5, 17, 40]
    p = np.concatenate([rng.random(k) ** 2 for k in sizes])
    p[[3, 10, 11]] = p[2]  # ties
    p[[8, 30]] = np.nan
    p[20] = 0.0
    p[21] = 1.0
    group = np.repeat(np.array(["a", "b", "c", "d", "e"], dtype=object), sizes)
    order = rng.permutation(len(p))  # groups need not be contiguous
    p, group = p[order], group[order]
    holm, bh = adjusted_p(p, group)
    for g in np.unique(group):
        sel = (group == g) & np.isfinite(p)
        np.testing.assert_array_equal(holm[sel], multipletests(p[sel], method="holm")[1])
        np.testing.assert_array_equal(bh[sel], multipletests(p[sel], method="fdr_bh")[1])
    assert np.isnan(holm[~np.isfinite(p)]).all() and np.isnan(bh[~np.isfinite(p)]).all()


def test_adjusted_p_of_groups_of_about_one_size_equals_statsmodels() -> None:
    """Groups of about one size (a study's events with similar numbers of firms) take the path
    that sorts each group in a row of its own, padded to the largest: the same numbers as
    statsmodels', to the bit, with ties, missing values, p = 0 and 1 and rows of unequal
    length; a group that is all missing stays missing."""
    from eventstudy.inference import single_firm

    rng = np.random.default_rng(11)
    sizes = rng.integers(30, 41, size=40)
    group = np.repeat(np.arange(len(sizes)), sizes)
    p = np.round(rng.random(len(group)) ** 3, 4)  # many ties
    p[rng.random(len(p)) < 0.05] = np.nan
    p[group == 7] = np.nan
    p[::97], p[5::89] = 0.0, 1.0
    order = rng.permutation(len(p))  # groups need not be contiguous
    p, group = p[order], group[order]
    calls = []
    real_by_rows = single_firm._adjusted_by_rows

    def by_rows(*args):  # the path taken
        calls.append(1)
        return real_by_rows(*args)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(single_firm, "_adjusted_by_rows", by_rows)
        holm, bh = adjusted_p(p, group)
    assert calls
    for g in np.unique(group):
        sel = (group == g) & np.isfinite(p)
        if sel.any():
            np.testing.assert_array_equal(holm[sel], multipletests(p[sel], method="holm")[1])
            np.testing.assert_array_equal(bh[sel], multipletests(p[sel], method="fdr_bh")[1])
    assert np.isnan(holm[~np.isfinite(p)]).all() and np.isnan(bh[~np.isfinite(p)]).all()


@pytest.fixture(scope="module")
def real(sample_prices: pd.DataFrame):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        es = EventStudy.from_prices(sample_prices, market="^GSPC", multiple_testing="holm")
        return es.fit([
            Event(name="R1 sell-off", date="2025-01-27", tickers=SEMIS + OTHERS),
            Event(name="V3 release", date="2024-12-26", tickers=SEMIS[:7], multiple_testing="bh",
                  car_windows=[(0, 0), (0, 4)]),
        ])


def test_car_frame_columns_against_independent_computations(real) -> None:
    car = real.car_frame()
    assert list(car.columns) == CAR_COLUMNS
    assert CAR_COLUMNS[-4:] == ["p_sq_lower", "p_sq_upper", "p_holm", "p_bh"]
    fits = {(real.events[e].name, t): (b.fit, i)
            for b in real.batches for i, (e, t) in enumerate(zip(b.event, b.ticker, strict=True))}
    for r in car.itertuples():
        fit, i = fits[(r.event, r.ticker)]
        lo, hi = _quantiles_by_hand(fit.resid[i], r.car, r.end - r.start + 1)
        assert r.p_sq_lower == pytest.approx(lo, abs=1e-15), r
        assert r.p_sq_upper == pytest.approx(hi, abs=1e-15), r
    for _, g in car.groupby(["event", "start", "end"]):
        np.testing.assert_allclose(g.p_holm, multipletests(g.p, method="holm")[1], rtol=1e-15)
        np.testing.assert_allclose(g.p_bh, multipletests(g.p, method="fdr_bh")[1], rtol=1e-15)
    # The R1 sell-off's day 0 was extreme for the chip makers: below every 1-day residual.
    nvda = car[(car.ticker == "NVDA") & (car.start == 0) & (car.end == 0)
               & (car.event == "R1 sell-off")].iloc[0]
    assert nvda.p_sq_lower == 0.0 and nvda.p_sq_upper == 1.0


def _expected_mark(car: pd.DataFrame, event: str, ticker: str, window, column: str) -> str:
    row = car[(car.event == event) & (car.ticker == ticker) & (car.start == window[0])
              & (car.end == window[1])].iloc[0]
    return significance_mark(row[column])


def test_adjusted_p_with_more_groups_than_a_16_bit_sort_holds() -> None:
    """Past 2**16 groups the stable sort by group is not the 16-bit radix sort: the same
    numbers as statsmodels' (checked on a sample of the groups, ties included)."""
    rng = np.random.default_rng(5)
    group = rng.integers(0, 70_000, size=200_000)
    p = np.round(rng.random(len(group)), 3)  # many ties
    p[rng.random(len(p)) < 0.01] = np.nan
    holm, bh = adjusted_p(p, group)
    assert len(np.unique(group)) > 2**16
    for g in rng.choice(np.unique(group), 20, replace=False):
        sel = (group == g) & np.isfinite(p)
        if sel.any():
            np.testing.assert_array_equal(holm[sel], multipletests(p[sel], method="holm")[1])
            np.testing.assert_array_equal(bh[sel], multipletests(p[sel], method="fdr_bh")[1])
    assert np.isnan(holm[~np.isfinite(p)]).all() and np.isnan(bh[~np.isfinite(p)]).all()


def test_terminal_stars_follow_the_adjusted_p(real) -> None:
    car = real.car_frame()
    text = text_summary(real)
    lines = text.splitlines()
    r1 = lines.index(next(line for line in lines if line.startswith("R1 sell-off: day 0")))
    v3 = lines.index(next(line for line in lines if line.startswith("V3 release: day 0")))
    moved = 0
    for event, start, column, windows in (
        ("R1 sell-off", r1, "p_holm", [(0, 0), (-1, 1), (-5, 5)]),
        ("V3 release", v3, "p_bh", [(0, 0), (0, 4)]),
    ):
        for line in lines[start + 3 : start + 3 + 7]:
            ticker, _ret, ar, *cars = line.split()[:3 + len(windows)]
            stars = [c[len(c.rstrip("*")):] for c in [ar, *cars]]
            want = [_expected_mark(car, event, ticker, w, column) for w in [(0, 0), *windows]]
            assert stars == want, (line, want)
            raw = [_expected_mark(car, event, ticker, w, "p") for w in [(0, 0), *windows]]
            moved += stars != raw
    assert moved > 0  # the adjustment changed some stars
    assert "Holm (1979) adjusted p across the event's firms" in text
    assert "Benjamini & Hochberg (1995) adjusted p" in text


def test_default_terminal_is_unchanged_by_the_new_columns(real) -> None:
    """Without multiple_testing the stars are those of car.csv's own p."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = EventStudy(real.panel).fit([
            Event(name="R1 sell-off", date="2025-01-27", tickers=SEMIS + OTHERS)])
    text = text_summary(plain)
    assert "adjusted p" not in text
    car = plain.car_frame()
    line = next(x for x in text.splitlines() if x.startswith("NVDA"))
    cells = line.split()[2:6]
    want = [_expected_mark(car, "R1 sell-off", "NVDA", w, "p")
            for w in [(0, 0), (0, 0), (-1, 1), (-5, 5)]]
    assert [c[len(c.rstrip("*")):] for c in cells] == want


def test_report_tables_and_folder_round_trip(real, tmp_path) -> None:
    real.save(tmp_path / "out", figures=False)
    stored = StoredResults.load(tmp_path / "out")
    assert [e.multiple_testing for e in stored.events] == ["holm", "bh"]
    car = stored.car_frame()
    pd.testing.assert_frame_equal(car[CAR_COLUMNS[4:]].reset_index(drop=True),
                                  real.car_frame()[CAR_COLUMNS[4:]], check_exact=False, rtol=1e-15)
    table = StudyTables(stored).event_car("R1 sell-off")
    assert "Holm (1979)" in table.notes[0]
    row = next(r for r in table.rows if r[0].text == "MU")
    assert row[1].stars == _expected_mark(car, "R1 sell-off", "MU", (0, 0), "p_holm")
    day0 = StudyTables(stored).event_day0("V3 release")
    assert "Benjamini & Hochberg (1995)" in day0.notes[0]
    # A folder written before the columns existed still reads (and stars on its own p).
    path = tmp_path / "out" / "car.csv"
    old = pd.read_csv(path).iloc[:, :11]
    old.to_csv(path, index=False)
    assert "p_holm" not in StoredResults.load(tmp_path / "out").car_frame().columns


def test_study_keys_are_validated() -> None:
    base = {"study": "s", "tickers": ["A"], "events": [{"name": "e", "date": "2024-01-02"}]}
    spec = parse_study(base | {"multiple_testing": "bh", "bootstrap": {}})
    assert spec.resolved()[0].multiple_testing == "bh"
    assert spec.bootstrap is not None and (spec.bootstrap.reps, spec.bootstrap.seed) == (999, 1)
    assert parse_study(base).bootstrap is None
    assert parse_study(base).resolved()[0].multiple_testing == "none"
    with pytest.raises(StudyFileError, match="multiple_testing"):
        parse_study(base | {"multiple_testing": "bonferroni"})
    with pytest.raises(StudyFileError, match=r"bootstrap\.reps"):
        parse_study(base | {"bootstrap": {"reps": 5}})
    with pytest.raises(StudyFileError, match=r"bootstrap\.draws: unknown key"):
        parse_study(base | {"bootstrap": {"draws": 5}})


def test_terminal_tests_are_those_of_returns(sample_prices: pd.DataFrame) -> None:
    """With volume measured too, the terminal's test lines show the return tests (tests.csv's
    volume rows share their test, event and window)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        es = EventStudy.from_prices(sample_prices, market="^GSPC", measures=["return", "volume"])
        res = es.fit([Event(name="R1 sell-off", date="2025-01-27", tickers=SEMIS)])
    tests = res.tests_frame()
    pick = (tests.test == "cross_sectional_t") & (tests.start == 0) & (tests.end == 0)
    pick &= tests.event == "R1 sell-off"
    ret = tests[pick & (tests.measure == "return")].statistic.item()
    vol = tests[pick & (tests.measure == "volume")].statistic.item()
    line = next(x for x in text_summary(res).splitlines() if "cross-sectional t" in x)
    assert line.split()[2].rstrip("*") == f"{ret:.2f}" != f"{vol:.2f}"
