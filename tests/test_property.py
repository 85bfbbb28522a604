"""Property tests: on randomized panels (missing returns, thin trading, late listings, estimation
windows cut by the start of the data, several events per firm at different dates), the vectorised
engine equals a per-firm-event statsmodels OLS reference to 1e-10, and a firm-event's numbers do
not depend on how firm-events are batched or chunked (what the Dask engine relies on)."""

from __future__ import annotations

from unittest import mock

import hypothesis
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventstudy import EventStudy, parallel
from eventstudy.estimation.kernel import Design, fit_batch
from eventstudy.synthetic import SyntheticConfig

RTOL, ATOL = 1e-10, 1e-13
PROPERTY = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,  # the same examples every run: a failure is reproducible
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@st.composite
def studies(draw: st.DrawFn) -> dict:
    """A random panel and firm-events (every firm-event's day 0 inside the data; estimation
    windows may start before it)."""
    w0, w1 = -draw(st.integers(0, 3)), draw(st.integers(0, 3))
    e1 = w0 - draw(st.integers(1, 4))
    e0 = e1 - draw(st.integers(15, 70)) + 1
    est_len = e1 - e0 + 1
    n_firms = draw(st.integers(2, 7))
    cfg = SyntheticConfig(
        n_firms=n_firms,
        n_days=-e0 + w1 + draw(st.integers(2, 80)),
        n_events=1,
        firms_per_event=1,
        seed=draw(st.integers(0, 2**20)),
        missing=draw(st.sampled_from([0.0, 0.05, 0.3])),
        thin=draw(st.sampled_from([0.0, 0.4])),
        late_listing=draw(st.sampled_from([0.0, 0.5])),
        estimation_window=(e0, e1),
        event_window=(w0, w1),
    )
    returns, _ = cfg.generate()
    rows = []
    for i in range(draw(st.integers(1, 5))):
        day0 = draw(st.integers(0, cfg.n_days - 1 - w1))
        firms = draw(st.lists(st.integers(0, n_firms - 1), min_size=1, unique=True))
        rows += [(f"E{i}", returns.index[day0], cfg.tickers[j]) for j in firms]
    windows = sorted({(0, 0), (w0, w1), (draw(st.integers(w0, 0)), draw(st.integers(0, w1)))})
    return {
        "returns": returns,
        "events": pd.DataFrame(rows, columns=["event", "date", "ticker"]),
        "model": draw(st.sampled_from(["market", "constant-mean"])),
        "estimation_window": (e0, e1),
        "event_window": (w0, w1),
        "car_windows": windows,
        "min_obs": draw(st.integers(3, max(3, est_len // 2))),
    }


def _reference(study: dict, ticker: str, date: pd.Timestamp) -> dict | None:
    """statsmodels OLS on one firm-event's non-missing estimation returns (None if too few)."""
    returns = study["returns"]
    y_all, m_all = returns[ticker].to_numpy(), returns["MKT"].to_numpy()
    d = returns.index.get_loc(date)
    (e0, e1), (w0, w1) = study["estimation_window"], study["event_window"]
    rows = np.arange(d + e0, d + e1 + 1)
    rows = rows[rows >= 0]  # days before the data are missing
    y, x = y_all[rows], m_all[rows]
    keep = np.isfinite(y) & np.isfinite(x)
    if keep.sum() < study["min_obs"]:
        return None
    market = study["model"] == "market"

    def design(v: np.ndarray) -> np.ndarray:
        return sm.add_constant(v, has_constant="add") if market else np.ones((len(v), 1))

    fit = sm.OLS(y[keep], design(x[keep])).fit()
    ev = np.arange(d + w0, d + w1 + 1)
    x_ev = design(m_all[ev])
    pred = fit.get_prediction(x_ev)
    ar = y_all[ev] - pred.predicted_mean
    cars = {}
    for a, b in study["car_windows"]:
        sel = (np.arange(w0, w1 + 1) >= a) & (np.arange(w0, w1 + 1) <= b) & np.isfinite(ar)
        if not sel.any():
            continue
        # Var(sum AR) = L sigma^2 + 1' X Cov(b) X' 1 over the window's non-missing days.
        xs = x_ev[sel].sum(axis=0)
        cars[(a, b)] = (ar[sel].sum(), sel.sum() * fit.scale + xs @ fit.cov_params() @ xs)
    return {
        "params": fit.params,
        "sigma2": fit.scale,
        "df": fit.df_resid,
        "n_obs": int(keep.sum()),
        "ar": ar,
        "ar_var": pred.se_mean**2 + fit.scale,
        "cars": cars,
    }


@PROPERTY
@given(studies())
def test_vectorised_equals_statsmodels_per_firm_event(study: dict) -> None:
    _check_against_statsmodels(study)


def _check_against_statsmodels(study: dict) -> None:
    res = EventStudy(
        study["returns"],
        market="MKT",
        model=study["model"],
        estimation_window=study["estimation_window"],
        event_window=study["event_window"],
        car_windows=study["car_windows"],
        min_estimation_obs=study["min_obs"],
    ).fit(study["events"])
    params = res.params_frame().set_index(["event", "ticker"])
    ar = res.ar_frame().set_index(["event", "ticker"])
    car = res.car_frame().set_index(["event", "ticker", "start", "end"])
    n_days = study["event_window"][1] - study["event_window"][0] + 1
    beta_col = [c for c in params.columns if c.startswith("beta_")]

    for event, date, ticker in study["events"].itertuples(index=False):
        ref = _reference(study, ticker, date)
        got = params.loc[(event, ticker)]
        _label(study, ref, date)
        if ref is None:
            assert got["skipped"], f"{event}/{ticker} has too few returns and must be skipped"
            assert (event, ticker) not in ar.index
            continue
        assert not got["skipped"]
        assert got["n_obs"] == ref["n_obs"] and got["df"] == ref["df"]
        coef = [got["alpha"], *(got[c] for c in beta_col)]
        np.testing.assert_allclose(coef, ref["params"], rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(got["sigma"] ** 2, ref["sigma2"], rtol=RTOL, atol=0)

        days = ar.loc[(event, ticker)]
        assert len(days) == n_days
        np.testing.assert_allclose(days["ar"], ref["ar"], rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(days["ar_se"] ** 2, ref["ar_var"], rtol=RTOL, atol=0)

        for window in study["car_windows"]:
            key = (event, ticker, *window)
            if window not in ref["cars"]:  # every AR of the window missing
                assert key not in car.index or not np.isfinite(car.loc[key, "car"])
                continue
            want_car, want_var = ref["cars"][window]
            row = car.loc[key]
            np.testing.assert_allclose(row["car"], want_car, rtol=RTOL, atol=ATOL)
            np.testing.assert_allclose(row["se"] ** 2, want_var, rtol=RTOL, atol=0)


@PROPERTY
@given(studies(), st.integers(1, 9), st.randoms(use_true_random=False))
def test_a_firm_events_numbers_do_not_depend_on_batching(study: dict, chunk, rnd) -> None:
    """Bitwise-equal fits whatever the chunk size, the threads running the chunks, or the other
    firm-events in the batch."""
    returns = study["returns"]
    values = returns.to_numpy()
    design = Design(regressors=values[:, [-1]], names=("MKT",))
    col = returns.columns.get_indexer(study["events"]["ticker"])
    day0 = returns.index.get_indexer(study["events"]["date"])
    args = (study["estimation_window"], study["event_window"], study["min_obs"])
    whole = fit_batch(values, design, col, day0, *args)
    with mock.patch.object(parallel, "MIN_ROWS", 0), mock.patch.object(parallel, "THREADS", 3):
        chunked = fit_batch(values, design, col, day0, *args, chunk_size=chunk)
    perm = np.array(rnd.sample(range(len(col)), len(col)), dtype=np.intp)
    shuffled = fit_batch(values, design, col[perm], day0[perm], *args, chunk_size=chunk)
    for name in ("params", "sigma2", "n_obs", "df", "resid", "ret", "normal", "ar", "h", "s_inv"):
        a = getattr(whole, name)
        np.testing.assert_array_equal(getattr(chunked, name), a, err_msg=name)
        np.testing.assert_array_equal(getattr(shuffled, name), a[perm], err_msg=name)
    assert whole.skip_reason == chunked.skip_reason


def _label(study: dict, ref: dict | None, date: pd.Timestamp) -> None:
    """Hypothesis statistics (``--hypothesis-show-statistics``): what the examples covered."""
    if not hypothesis.currently_in_test_context():
        return
    if ref is None:
        hypothesis.event("a firm-event skipped (too few returns)")
        return
    est = study["estimation_window"]
    if ref["n_obs"] < est[1] - est[0] + 1:
        hypothesis.event("a shortened estimation window")
    if study["returns"].index.get_loc(date) + est[0] < 0:
        hypothesis.event("an estimation window cut by the start of the data")
    if not np.isfinite(ref["ar"]).all():
        hypothesis.event("a missing event-window return")


def test_the_check_fails_without_the_prediction_error_term(monkeypatch) -> None:
    """The property can fail: an engine that forgets the parameter-estimation part of the AR and
    CAR variances (h = 0, S^-1 = 0) is caught, while the true engine passes the same study."""
    returns, _ = SyntheticConfig(
        n_firms=3,
        n_days=160,
        n_events=1,
        firms_per_event=1,
        seed=7,
        missing=0.1,
        estimation_window=(-100, -6),
        event_window=(-3, 3),
    ).generate()
    study = {
        "returns": returns,
        "events": pd.DataFrame(
            [("A", returns.index[120], "F00000"), ("A", returns.index[120], "F00002"),
             ("B", returns.index[150], "F00000")],
            columns=["event", "date", "ticker"],
        ),
        "model": "market",
        "estimation_window": (-100, -6),
        "event_window": (-3, 3),
        "car_windows": [(0, 0), (-3, 3)],
        "min_obs": 50,
    }  # fmt: skip
    _check_against_statsmodels(study)

    import eventstudy.estimation.models

    def naive(*args, **kwargs):
        fit = fit_batch(*args, **kwargs)
        fit.h[:] = 0.0
        fit.s_inv[:] = 0.0
        return fit

    monkeypatch.setattr(eventstudy.estimation.models, "fit_batch", naive)
    with pytest.raises(AssertionError):
        _check_against_statsmodels(study)


def test_synthetic_firms_per_event_are_distinct_and_cover_the_firms() -> None:
    """Large draws of distinct firms end (a whole-row redraw would loop for ever at 300 of 1,800
    firms) and spread over every firm."""
    cfg = SyntheticConfig(n_firms=1800, firms_per_event=300, n_events=400, n_days=600, seed=5)
    _, firms = cfg.event_rows()
    assert firms.shape == (400, 300)
    assert all(len(np.unique(row)) == 300 for row in firms)
    counts = np.bincount(firms.ravel(), minlength=1800)
    # Each firm is in an event with probability 1/6: 400 events, mean 66.7, sd 7.5.
    assert counts.min() > 30 and counts.max() < 110 and abs(counts.mean() - 400 / 6) < 1e-9
