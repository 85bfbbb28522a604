"""The vectorised estimator against independent computations: statsmodels OLS per firm-event and
the Campbell-Lo-MacKinlay variance formulas written out by hand."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from eventstudy.data.panel import ReturnsPanel, wide_prices
from eventstudy.estimation.kernel import fit_batch
from eventstudy.estimation.models import ConstantMean, MarketAdjusted, MarketModel

MARKET = SimpleNamespace(market="^GSPC")  # the only setting these models' designs read
TICKERS = ["NVDA", "AVGO", "TSM", "ASML", "AMD", "MU", "AAPL", "MSFT"]


@pytest.fixture(scope="module")
def panel(sample_prices: pd.DataFrame) -> ReturnsPanel:
    return ReturnsPanel.from_prices(wide_prices(sample_prices, "adj_close"), "^GSPC")


def _fit(panel: ReturnsPanel, model, tickers, day0, est=(-250, -11), ev=(-5, 5), min_obs=100):
    design = model.design(panel, MARKET, None)
    return fit_batch(
        panel.values, design, panel.columns(tickers), np.asarray(day0), est, ev, min_obs
    )


def _reference_ols(panel, ticker, d, est=(-250, -11)):
    y = panel.series(ticker)[d + est[0] : d + est[1] + 1]
    x = panel.series("^GSPC")[d + est[0] : d + est[1] + 1]
    keep = np.isfinite(y) & np.isfinite(x)
    return sm.OLS(y[keep], sm.add_constant(x[keep])).fit(), x[keep]


def test_market_model_equals_statsmodels(panel: ReturnsPanel) -> None:
    d = panel.day0("2025-01-27")
    # Different day-0 rows per firm-event, as in a real multi-event batch.
    day0 = [d, d - 21, d - 40, d, d - 3, d, d - 60, d]
    fit = _fit(panel, MarketModel(), TICKERS, day0)
    m = panel.series("^GSPC")
    for i, (ticker, d0) in enumerate(zip(TICKERS, day0, strict=True)):
        ref, _ = _reference_ols(panel, ticker, d0)
        np.testing.assert_allclose(fit.params[i], ref.params, rtol=0, atol=1e-10)
        assert fit.sigma2[i] == pytest.approx(ref.scale, rel=1e-10)
        assert fit.df[i] == ref.df_resid == 238
        np.testing.assert_allclose(fit.resid[i], ref.resid, rtol=0, atol=1e-10)
        rows = np.arange(d0 - 5, d0 + 6)
        expected_ar = panel.series(ticker)[rows] - ref.predict(sm.add_constant(m[rows]))
        np.testing.assert_allclose(fit.ar[i], expected_ar, rtol=0, atol=1e-10)
        # Prediction-error variance of each AR: statsmodels' forecast variance (obs_ci).
        pred = ref.get_prediction(sm.add_constant(m[rows]))
        forecast_var = pred.se_mean**2 + ref.scale
        np.testing.assert_allclose(fit.sigma2[i] * (1 + fit.h[i]), forecast_var, rtol=1e-10)


def test_standardized_ar_is_ar_over_its_forecast_se_and_kept(panel: ReturnsPanel) -> None:
    """SAR = AR / sqrt(sigma^2 (1 + h)), statsmodels' forecast standard error; made once, kept
    read only (the AR frame's ar_t and the battery share it)."""
    d = panel.day0("2025-01-27")
    fit = _fit(panel, MarketModel(), ["NVDA", "AMD"], [d, d])
    sar = fit.standardized_ar()
    assert sar is fit.standardized_ar() and not sar.flags.writeable
    again = _fit(panel, MarketModel(), ["NVDA", "AMD"], [d, d])  # its standard errors handed in
    assert np.array_equal(again.standardized_ar(np.sqrt(again.ar_variance())), sar)
    for i, ticker in enumerate(["NVDA", "AMD"]):
        ref, _ = _reference_ols(panel, ticker, d)
        rows = np.arange(d + fit.event_window[0], d + fit.event_window[1] + 1)
        m = panel.series("^GSPC")
        pred = ref.get_prediction(sm.add_constant(m[rows], has_constant="add"))
        ar = panel.series(ticker)[rows] - pred.predicted_mean
        np.testing.assert_allclose(sar[i], ar / np.sqrt(pred.se_mean**2 + ref.scale), rtol=1e-9)


def test_car_variance_hand_formula(panel: ReturnsPanel) -> None:
    """Var(CAR) = sigma^2 [L + L^2/M + (sum(Rm_t - mean Rm))^2 / Sxx] (CLM 1997, eq. 4.4.14)."""
    d = panel.day0("2025-01-27")
    fit = _fit(panel, MarketModel(), ["NVDA"], [d])
    ref, x_est = _reference_ols(panel, "NVDA", d)
    m = panel.series("^GSPC")
    for start, end in [(0, 0), (-1, 1), (-5, 5), (2, 4)]:
        x_ev = m[d + start : d + end + 1]
        L, M = len(x_ev), len(x_est)
        sxx = ((x_est - x_est.mean()) ** 2).sum()
        var = ref.scale * (L + L**2 / M + ((x_ev - x_est.mean()).sum()) ** 2 / sxx)
        car, got_var, n_days = fit.car(start, end)
        assert n_days[0] == L
        assert got_var[0] == pytest.approx(var, rel=1e-10)
        expected_car = (
            panel.series("NVDA")[d + start : d + end + 1]
            - ref.predict(sm.add_constant(x_ev, has_constant="add"))
        ).sum()
        assert car[0] == pytest.approx(expected_car, abs=1e-12)


def test_car_variance_matrix_form(panel: ReturnsPanel) -> None:
    """The same variance as gamma' V gamma with V = sigma^2 (I + X* (X'X)^-1 X*') (CLM 4.4.8)."""
    d = panel.day0("2025-01-27")
    fit = _fit(panel, MarketModel(), ["AVGO"], [d])
    ref, x_est = _reference_ols(panel, "AVGO", d)
    X = np.column_stack([np.ones_like(x_est), x_est])
    m = panel.series("^GSPC")
    Xs = np.column_stack([np.ones(11), m[d - 5 : d + 6]])
    V = ref.scale * (np.eye(11) + Xs @ np.linalg.inv(X.T @ X) @ Xs.T)
    gamma = np.ones(11)
    _, var, _ = fit.car(-5, 5)
    assert var[0] == pytest.approx(gamma @ V @ gamma, rel=1e-10)


def test_constant_mean_and_market_adjusted(panel: ReturnsPanel) -> None:
    d = panel.day0("2025-01-27")
    y = panel.series("MU")[d - 250 : d - 10]
    x = panel.series("^GSPC")[d - 250 : d - 10]
    cm = _fit(panel, ConstantMean(), ["MU"], [d])
    assert cm.params[0, 0] == pytest.approx(y.mean(), abs=1e-15)
    assert cm.sigma2[0] == pytest.approx(y.var(ddof=1), rel=1e-12)
    assert cm.df[0] == 239
    r0 = panel.series("MU")[d]
    assert cm.ar[0, 5] == pytest.approx(r0 - y.mean(), abs=1e-15)
    _, var, _ = cm.car(-1, 1)
    assert var[0] == pytest.approx(y.var(ddof=1) * (3 + 9 / 240), rel=1e-12)

    ma = _fit(panel, MarketAdjusted(), ["MU"], [d])
    assert ma.sigma2[0] == pytest.approx((y - x).var(ddof=1), rel=1e-12)
    assert ma.ar[0, 5] == pytest.approx(r0 - panel.series("^GSPC")[d], abs=1e-15)
    _, var, _ = ma.car(-5, 5)
    assert var[0] == pytest.approx(11 * (y - x).var(ddof=1), rel=1e-12)


def test_missing_returns_are_masked_not_dropped() -> None:
    rng = np.random.default_rng(7)
    T = 400
    m = rng.normal(0, 0.01, T)
    y = 0.001 + 1.3 * m + rng.normal(0, 0.02, T)
    y[[100, 101, 150, 300]] = np.nan  # estimation gaps and an event-window gap (day0=300)
    panel = ReturnsPanel.from_frame(
        pd.DataFrame({"M": m, "Y": y}, index=pd.bdate_range("2020-01-01", periods=T))
    )
    design = MarketModel().design(panel, SimpleNamespace(market="M"), None)
    fit = fit_batch(
        panel.values, design, panel.columns(["Y"]), np.array([302]), (-250, -11), (-3, 3), 100
    )
    rows = np.arange(302 - 250, 302 - 10)
    keep = np.isfinite(y[rows])
    ref = sm.OLS(y[rows][keep], sm.add_constant(m[rows][keep])).fit()
    assert fit.n_obs[0] == keep.sum() == 237
    np.testing.assert_allclose(fit.params[0], ref.params, atol=1e-12)
    assert np.isnan(fit.ar[0, 1])  # day -2 (row 300) is missing
    car, _var, n_days = fit.car(-3, 3)
    assert n_days[0] == 6
    assert car[0] == pytest.approx(np.nansum(fit.ar[0]), abs=1e-15)


def test_too_few_estimation_returns_is_skipped_with_reason(panel: ReturnsPanel) -> None:
    d = panel.day0("2024-01-16")  # only ~70 sessions of history in the sample
    fit = _fit(panel, MarketModel(), ["NVDA", "AAPL"], [d, panel.day0("2025-01-27")])
    assert fit.skip_reason[0] is not None and "fewer than the minimum 100" in fit.skip_reason[0]
    assert fit.skip_reason[1] is None
    assert np.isnan(fit.ar[0]).all() and np.isfinite(fit.ar[1]).all()


def test_constant_regressor_is_reported_not_fitted() -> None:
    T = 300
    panel = ReturnsPanel.from_frame(
        pd.DataFrame(
            {"M": np.full(T, 0.01), "Y": np.linspace(-0.01, 0.01, T)},
            index=pd.bdate_range("2020-01-01", periods=T),
        )
    )
    design = MarketModel().design(panel, SimpleNamespace(market="M"), None)
    fit = fit_batch(panel.values, design, np.array([1]), np.array([280]), (-250, -11), (-5, 5), 50)
    assert "constant or collinear" in fit.skip_reason[0]


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_p_values_equal_scipy_stats_whatever_the_threads(
    threads: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``t_pvalue`` calls scipy's special function directly (and splits large arrays over
    threads): the numbers are scipy.stats' two-sided p-values, bit for bit."""
    from scipy import stats

    from eventstudy import parallel
    from eventstudy.inference import stats as inference

    monkeypatch.setattr(parallel, "THREADS", threads)
    rng = np.random.default_rng(11)
    n = parallel.MIN_ROWS + 1001  # large enough to be split
    t = rng.standard_t(5, size=(n // 11 + 1, 11)) * 3
    df = rng.integers(-1, 300, size=(len(t), 1)).astype(float)
    t[0, :3] = [np.nan, np.inf, -np.inf]
    p = inference.t_pvalue(t, df)
    usable = np.isfinite(t) & (df > 0)
    expected = np.where(usable, 2.0 * stats.t.sf(np.abs(t), np.where(df > 0, df, 1.0)), np.nan)
    np.testing.assert_array_equal(p, expected)
    assert p.shape == t.shape and np.isnan(p[~usable]).all() and usable.sum() > 0.9 * t.size
    np.testing.assert_array_equal(inference.t_pvalue(t[:5], df[:5]), expected[:5])  # one thread
    z = rng.standard_normal(1000) * 4
    np.testing.assert_array_equal(inference.normal_pvalue(z), 2.0 * stats.norm.sf(np.abs(z)))


def test_an_events_frame_fits_as_the_same_events_listed(sample_prices: pd.DataFrame) -> None:
    """The fast path (one row per firm-event) gives the frames the list of events gives."""
    from eventstudy import Event, EventStudy

    es = EventStudy.from_prices(sample_prices, market="^GSPC", car_windows=[(0, 0), (-1, 1)])
    listed = es.fit(
        [
            Event(name="R1", date="2025-01-27", tickers=["NVDA", "AMD", "MU"]),
            Event(name="V3", date="2024-12-26", tickers=["AVGO", "NVDA"]),
        ]
    )
    frame = pd.DataFrame(
        {
            "event": ["R1", "R1", "R1", "V3", "V3"],
            "date": ["2025-01-27"] * 3 + ["2024-12-26"] * 2,
            "ticker": ["NVDA", "AMD", "MU", "AVGO", "NVDA"],
        }
    )
    fast = es.fit(frame)
    pd.testing.assert_frame_equal(fast.car_frame(), listed.car_frame(), check_exact=True)
    pd.testing.assert_frame_equal(fast.ar_frame(), listed.ar_frame(), check_exact=True)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ({"event": ["A"], "ticker": ["NVDA"]}, r"events frame: missing column\(s\) date"),
        (
            {"event": ["A", "A"], "date": ["2025-01-27", "2025-13-01"], "ticker": ["NVDA", "MU"]},
            "events frame, row 1: bad date '2025-13-01'",
        ),
        (
            {"event": ["A", "B", "A"], "date": ["2025-01-27"] * 3, "ticker": ["NVDA"] * 3},
            "events frame, row 2: ticker NVDA twice in event 'A'",
        ),
        (
            {"event": ["A", "A"], "date": ["2025-01-27", "2025-01-28"], "ticker": ["NVDA", "MU"]},
            "events frame, row 1: event 'A' has two dates",
        ),
    ],
)
def test_a_bad_events_frame_names_the_row(
    sample_prices: pd.DataFrame, rows: dict, message: str
) -> None:
    from eventstudy import EventStudy
    from eventstudy.errors import StudyFileError

    es = EventStudy.from_prices(sample_prices, market="^GSPC")
    with pytest.raises(StudyFileError, match=message):
        es.fit(pd.DataFrame(rows))


def test_grouped_cross_sectional_t_equals_scipy_per_group() -> None:
    """``grouped_cross_sectional_t`` (AAR tables) against scipy's one-sample t, group by group,
    with missing values, a group of one value and an empty group."""
    from scipy import stats

    from eventstudy.inference.stats import cross_sectional_t, grouped_cross_sectional_t

    rng = np.random.default_rng(4)
    values = rng.normal(0.001, 0.02, (40, 3))
    values[[2, 9, 17], [0, 1, 2]] = np.nan
    groups = np.r_[np.zeros(20, int), np.ones(19, int), 3]  # group 2 empty, group 3 one value
    out = grouped_cross_sectional_t(groups, values, 4)
    for g in (0, 1):
        for j in range(3):
            x = values[groups == g, j]
            ref = stats.ttest_1samp(x[np.isfinite(x)], 0.0)
            assert out["n"][g, j] == np.isfinite(x).sum()
            assert out["t"][g, j] == pytest.approx(ref.statistic, rel=1e-12)
            assert out["p"][g, j] == pytest.approx(ref.pvalue, rel=1e-10)
    assert np.isnan(out["t"][2:]).all() and (out["n"][2] == 0).all() and (out["n"][3] == 1).all()
    whole = cross_sectional_t(values[groups == 0], axis=0)
    np.testing.assert_array_equal(whole["t"], out["t"][0])


def test_unknown_and_market_tickers_are_left_out_with_the_reason(sample_prices) -> None:
    """Library and fast path alike: a ticker without returns and the market ticker listed as a
    firm are skipped (skipped.csv says why), never fitted or counted in the averages."""
    import warnings

    from eventstudy import Event, EventStudy

    study = EventStudy.from_prices(sample_prices, market="^GSPC")
    frame = pd.DataFrame(
        {"event": "R1", "date": "2025-01-27", "ticker": ["NVDA", "ZZZZ", "^GSPC", "AMD"]}
    )
    as_list = [Event(name="R1", date="2025-01-27", tickers=["NVDA", "ZZZZ", "^GSPC", "AMD"])]
    for events in (frame, as_list):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = study.fit(events)
        messages = [str(w.message) for w in caught]
        assert any("left out without returns: ZZZZ" in m for m in messages)
        assert any("left out as the market ticker: ^GSPC" in m for m in messages)
        skipped = res.skipped_frame().set_index("ticker")["reason"]
        assert skipped["ZZZZ"] == "no returns for ticker ZZZZ"
        assert skipped["^GSPC"] == "^GSPC is the market ticker (the regressor), not a firm"
        assert sorted(res.car_frame()["ticker"].unique()) == ["AMD", "NVDA"]
        aar = res.aar_frame().query("rel_day == 0").iloc[0]
        assert aar["n"] == 2


def _lazy_study():
    """Returns with gaps and short histories (so chunks mix complete and incomplete rows, and
    some firm-events are skipped), with its events as a frame."""
    from eventstudy.synthetic import SyntheticConfig

    return SyntheticConfig(
        n_firms=30, n_days=500, n_events=12, firms_per_event=20, seed=3, missing=0.05,
        late_listing=0.2, estimation_window=(-120, -11), event_window=(-5, 5),
    ).generate()  # fmt: skip


def test_residuals_computed_on_demand_equal_the_stored_ones(monkeypatch) -> None:
    """A fit too large to store its residuals (the threshold patched to 0) computes them from
    the panel when read: every way of reading them (all, slices, indices, masks, one row, one
    value, take, concatenation) gives the stored fit's numbers bit for bit, with tiny chunks;
    two regressors, an offset and given parameters included."""
    from eventstudy.estimation import kernel
    from eventstudy.estimation.kernel import Design, Residuals, concat_fits

    returns, events = _lazy_study()
    values = returns.to_numpy()
    col = returns.columns.get_indexer(events["ticker"])
    day0 = returns.index.get_indexer(events["date"])
    rng = np.random.default_rng(0)
    second = rng.normal(0, 0.01, len(values))
    designs = [
        Design(regressors=values[:, [-1]], names=("MKT",)),
        Design(
            regressors=np.column_stack([values[:, -1], second]),
            names=("MKT", "F"),
            offset=np.full(len(values), 1e-4),
        ),
        Design(
            regressors=values[:, [-1]], names=("MKT",), estimate=False, fixed_coef=np.array([1.0])
        ),
    ]
    for design in designs:
        args = (values, design, col, day0, (-120, -11), (-5, 5), 60)
        given = None
        if design.k == 2:
            given = rng.normal(0, 0.5, (len(col), 3))
        stored = fit_batch(*args, given)
        assert isinstance(stored.resid, np.ndarray)
        monkeypatch.setattr(kernel, "STORE_RESID_MAX", 0)
        monkeypatch.setattr(kernel, "CHUNK", 3)
        lazy = fit_batch(*args, given, chunk_size=5)
        monkeypatch.undo()
        assert isinstance(lazy.resid, Residuals)
        assert lazy.resid.shape == stored.resid.shape == (len(col), 110)
        assert (~stored.fitted).any() and np.isnan(stored.resid).any()  # skips and gaps covered
        want = stored.resid
        np.testing.assert_array_equal(np.asarray(lazy.resid), want)
        np.testing.assert_array_equal(lazy.resid[7:31], want[7:31])
        np.testing.assert_array_equal(lazy.resid[::-3], want[::-3])
        idx = rng.permutation(len(col))[:50]
        np.testing.assert_array_equal(lazy.resid[idx], want[idx])
        np.testing.assert_array_equal(lazy.resid[~stored.fitted], want[~stored.fitted])
        np.testing.assert_array_equal(lazy.resid[-1], want[-1])
        np.testing.assert_array_equal(lazy.resid[4, 10:20], want[4, 10:20])
        for name in ("params", "sigma2", "n_obs", "df", "ar", "h", "s_inv"):
            np.testing.assert_array_equal(getattr(lazy, name), getattr(stored, name), name)
        part = lazy.take(idx)
        assert isinstance(part.resid, Residuals)
        np.testing.assert_array_equal(part.resid[5:9], want[idx][5:9])
        np.testing.assert_array_equal(part.take(np.arange(3)).resid[:], want[idx[:3]])
        both = concat_fits([lazy.take(idx[:20]), stored.take(idx[20:])])
        np.testing.assert_array_equal(both.resid, want[idx])


def test_a_study_gives_the_same_tables_with_residuals_computed_on_demand(monkeypatch) -> None:
    """The whole study through the public API (AR, CAR with the sample-quantile p-values, the
    test battery with its residual pass, BHARs and volatility) is identical when no fit
    stores its residuals, with tiny chunks wherever the residuals are read."""
    from eventstudy import EventStudy
    from eventstudy.estimation import kernel
    from eventstudy.inference import sample, single_firm

    returns, events = _lazy_study()

    def tables() -> list[pd.DataFrame]:
        res = EventStudy(
            returns, market="MKT", estimation_window=(-120, -11), event_window=(-5, 5),
            car_windows=((0, 0), (-1, 1), (-5, 5)), bhar_windows=((0, 5),), min_estimation_obs=60,
            measures=("return", "volatility"),
        ).fit(events)  # fmt: skip
        return [res.ar_frame(), res.car_frame(), res.tests_frame(), res.bhar_frame(),
                res.volatility_frame()]  # fmt: skip

    stored = tables()
    monkeypatch.setattr(kernel, "STORE_RESID_MAX", 0)
    monkeypatch.setattr(kernel, "CHUNK", 4)
    monkeypatch.setattr(sample, "CHUNK_ROWS", 7)
    monkeypatch.setattr(single_firm, "CHUNK_ROWS", 5)
    lazy = tables()
    assert stored[1]["p_sq_lower"].notna().any()
    for a, b in zip(stored, lazy, strict=True):
        pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_row_counts_kept_by_the_fit_equal_the_counts_of_the_residuals(monkeypatch) -> None:
    """A fit that does not store its residuals counts each row while fitting it (finite, > 0,
    largest |resid|): the battery's row statistics from those counts equal the ones counted
    from the residuals, which are then read only for rows whose ``resid / sigma`` is not
    plainly finite (here a firm with zero residuals, sigma 0), with taken and reordered rows."""
    from eventstudy.estimation import kernel
    from eventstudy.estimation.kernel import Design, Residuals
    from eventstudy.inference.sample import FirmEventSample

    returns, events = _lazy_study()
    values = returns.to_numpy(copy=True)
    values[:, 0] = 0.0  # the first firm: zero returns, zero residuals
    col = returns.columns.get_indexer(events["ticker"])
    day0 = returns.index.get_indexer(events["date"])
    design = Design(regressors=values[:, [-1]], names=("MKT",))
    args = (values, design, col, day0, (-120, -11), (-5, 5), 60)
    stored = fit_batch(*args)
    monkeypatch.setattr(kernel, "STORE_RESID_MAX", 0)
    monkeypatch.setattr(kernel, "CHUNK", 7)
    lazy = fit_batch(*args)
    assert isinstance(lazy.resid, Residuals)
    rows = np.flatnonzero(stored.fitted)[::-1]  # reordered
    pick = rows[: len(rows) // 2]
    zero = stored.fitted & (col == 0)
    assert zero.any() and (stored.sigma2[zero] == 0).all()
    read: list[int] = []
    block = FirmEventSample.resid_block

    def counting(self, r, out=None):  # type: ignore[no-untyped-def]
        read.append(len(np.arange(self.n)[r]))
        return block(self, r, out)

    for parts in ([(stored, rows)], [(stored.take(pick), np.arange(len(pick)))]):
        want = FirmEventSample.from_fits(parts).row_stats
        fits = [(lazy if f is stored else lazy.take(pick), r) for f, r in parts]
        read.clear()
        monkeypatch.setattr(FirmEventSample, "resid_block", counting)
        got = FirmEventSample.from_fits(fits).row_stats
        monkeypatch.setattr(FirmEventSample, "resid_block", block)
        for name in ("m", "m_resid", "frac_positive", "irregular"):
            np.testing.assert_array_equal(getattr(got, name), getattr(want, name), name)
        assert 0 < sum(read) <= int(zero.sum())  # only the sigma-0 rows read again


@pytest.mark.parametrize("skips", [False, True])
def test_the_ar_frame_is_the_same_built_in_threads_and_again_after_the_battery(
    monkeypatch, skips: bool
) -> None:
    """The AR frame's columns are built in threads (its flat views of the fit's arrays when
    every firm-event is fitted, copies of the fitted rows when some are skipped): the same
    frame as one thread builds. A large AR frame (the limit patched to 0) is let go when the
    battery runs and built again, the same, when asked for after it; a copy the caller holds
    is not changed, nor are the fit's arrays when the caller changes its copy."""
    from eventstudy import EventStudy, parallel, results

    returns, events = _lazy_study()
    if not skips:
        returns = returns.fillna(0.0)

    def study():  # type: ignore[no-untyped-def]
        return EventStudy(
            returns, market="MKT", estimation_window=(-120, -11), event_window=(-5, 5),
            min_estimation_obs=60 if skips else 20,
        ).fit(events)  # fmt: skip

    monkeypatch.setattr(parallel, "THREADS", 1)
    one = study().ar_frame()
    monkeypatch.setattr(parallel, "THREADS", 3)
    monkeypatch.setattr(parallel, "MIN_ROWS", 0)
    res = study()
    assert (~res.batches[0].fit.fitted).any() == skips
    held = res.ar_frame()
    pd.testing.assert_frame_equal(held, one, check_exact=True)
    monkeypatch.setattr(results, "AR_FRAME_KEEP_ROWS", len(held))
    res.tests_frame()
    assert "_ar" in res.__dict__  # not larger than the limit: kept
    res.__dict__.pop("_tests")
    monkeypatch.setattr(results, "AR_FRAME_KEEP_ROWS", 0)
    res.tests_frame()
    assert "_ar" not in res.__dict__
    pd.testing.assert_frame_equal(held, one, check_exact=True)
    again = res.ar_frame()
    pd.testing.assert_frame_equal(again, one, check_exact=True)
    fit = res.batches[0].fit
    ar_before, ret_before = fit.ar.copy(), fit.ret.copy()
    again.loc[:, "ar"] = 1.0
    again["ret"] *= 2.0
    again.iloc[0, again.columns.get_loc("normal_ret")] = 5.0
    np.testing.assert_array_equal(fit.ar, ar_before)
    np.testing.assert_array_equal(fit.ret, ret_before)
    pd.testing.assert_frame_equal(res.ar_frame(), one, check_exact=True)


def test_a_fit_with_residuals_on_demand_pickles_small_and_reads_the_same(monkeypatch) -> None:
    """A fit sent to another process (the Dask engine's worker processes) carries its padded
    panel, not the sliding-window views over it (numpy would copy every window whole), and
    reads the same residuals after the round trip."""
    import pickle

    from eventstudy.estimation import kernel
    from eventstudy.estimation.kernel import Design

    returns, events = _lazy_study()
    values = returns.to_numpy()
    col = returns.columns.get_indexer(events["ticker"])
    day0 = returns.index.get_indexer(events["date"])
    design = Design(regressors=values[:, [-1]], names=("MKT",))
    monkeypatch.setattr(kernel, "STORE_RESID_MAX", 0)
    fit = fit_batch(values, design, col, day0, (-120, -11), (-5, 5), 60)
    blob = pickle.dumps(fit)
    resid_bytes = len(col) * 110 * 8  # far below every window of the panel copied
    assert len(blob) < 4 * resid_bytes + 4 * values.nbytes
    again = pickle.loads(blob)
    np.testing.assert_array_equal(np.asarray(again.resid), np.asarray(fit.resid))
