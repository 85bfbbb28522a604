"""The volume and volatility measures on synthetic data: the synthetic volume has the properties
:mod:`eventstudy.synthetic` claims, injected effects come back out of the measures, and the
events-frame path measures what the study asks for."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eventstudy import Event, EventStudy
from eventstudy.synthetic import SyntheticConfig, long_prices

BASE = {"n_firms": 120, "n_days": 700, "n_events": 20, "firms_per_event": 50, "seed": 7}


def _log_volume(volume: pd.DataFrame, market: str) -> np.ndarray:
    return np.log1p(volume.drop(columns=market).to_numpy())


def test_synthetic_volume_has_the_documented_properties() -> None:
    cfg = SyntheticConfig(**{**BASE, "n_days": 2000, "n_events": 5})
    volume = cfg.generate_volume()
    returns, _ = cfg.generate()
    assert list(volume.columns) == list(returns.columns) and volume.index.equals(returns.index)
    v = volume.to_numpy()
    assert (v >= 0).all() and (v == np.rint(v)).all()
    x = _log_volume(volume, cfg.market)
    level = cfg.volume_params()["level"].to_numpy()
    assert np.corrcoef(x.mean(axis=0), level)[0, 1] > 0.95  # the firm level
    d = x - x.mean(axis=0)
    lag1 = np.mean([np.corrcoef(d[1:, j], d[:-1, j])[0, 1] for j in range(d.shape[1])])
    assert lag1 == pytest.approx(cfg.volume_persistence, abs=0.05)  # AR(1)
    skew = np.mean(((d / d.std(axis=0)) ** 3).mean(axis=0))
    assert skew > 0.3  # right-skewed shocks
    m = np.log1p(volume[cfg.market].to_numpy())
    common = np.mean([np.corrcoef(d[:, j], m)[0, 1] for j in range(d.shape[1])])
    assert common > 0.2  # a market-wide component


def test_synthetic_volume_follows_thin_trading_and_missing_returns() -> None:
    cfg = SyntheticConfig(**BASE, thin=0.3, missing=0.02, late_listing=0.2)
    returns, _ = cfg.generate()
    volume = cfg.generate_volume().drop(columns=cfg.market).to_numpy()
    r = returns.drop(columns=cfg.market).to_numpy()
    assert np.array_equal(np.isnan(volume), np.isnan(r))  # missing or not yet listed
    assert (volume == 0).mean() > 0.05
    assert (r[volume == 0] == 0).all()  # a day without trades has a stale price


def test_volume_and_variance_options_leave_prices_alone() -> None:
    plain, events = SyntheticConfig(**BASE, thin=0.2, missing=0.01).generate()
    other, same_events = SyntheticConfig(
        **BASE, thin=0.2, missing=0.01, abnormal_volume=1.0, volume_persistence=0.9,
        volume_shape=None,
    ).generate()
    pd.testing.assert_frame_equal(plain, other, check_exact=True)
    pd.testing.assert_frame_equal(events, same_events)
    # Event-day variance changes the firm-events' day-0 returns and nothing else.
    cfg = SyntheticConfig(**BASE, abnormal_variance=4.0)
    shocked, _ = cfg.generate()
    changed = shocked.to_numpy() != SyntheticConfig(**BASE).generate()[0].to_numpy()
    day0, firms = cfg.event_rows()
    cells = np.zeros_like(changed)
    cells[np.repeat(day0, firms.shape[1]), firms.ravel()] = True
    assert np.array_equal(changed, cells)


@pytest.mark.parametrize("volume_model", ["mean", "market"])
def test_injected_abnormal_volume_is_recovered(volume_model: str) -> None:
    for effect in (0.0, 0.5):
        cfg = SyntheticConfig(**BASE, abnormal_volume=effect)
        returns, events = cfg.generate()
        res = EventStudy(
            returns, market=cfg.market, measures=["volume"], volume_model=volume_model,
            volume=cfg.generate_volume(), min_estimation_obs=200,
        ).fit(events)
        avg = res.average_frame("volume")
        day0 = avg.loc[avg.rel_day == 0, "mean"].mean()
        assert day0 == pytest.approx(effect, abs=0.1), (effect, day0)
        assert abs(avg.loc[avg.rel_day != 0, "mean"].mean()) < 0.1


def test_injected_event_day_variance_is_recovered() -> None:
    for factor in (1.0, 3.0):
        cfg = SyntheticConfig(**BASE, abnormal_variance=factor)
        returns, events = cfg.generate()
        res = EventStudy(
            returns, market=cfg.market, measures=["volatility"], min_estimation_obs=200
        ).fit(events)
        avg = res.average_frame("volatility")
        day0 = avg.loc[avg.rel_day == 0, "mean"].mean()
        assert day0 == pytest.approx(factor, rel=0.15), (factor, day0)
        assert avg.loc[avg.rel_day != 0, "mean"].mean() == pytest.approx(1.0, abs=0.1)


def test_events_frame_path_measures_what_the_study_asks_for() -> None:
    cfg = SyntheticConfig(**{**BASE, "n_events": 4, "firms_per_event": 10}, abnormal_volume=0.3)
    returns, events = cfg.generate()
    volume = cfg.generate_volume()
    settings = {"market": cfg.market, "min_estimation_obs": 200, "volume": volume}
    study = EventStudy(
        returns, measures=("volume", "volatility"), volume_model="market", **settings
    )
    res = study.fit(events)
    assert {e.measures for e in res.events} == {("return", "volume", "volatility")}
    assert {e.volume_model for e in res.events} == {"market"}
    assert set(res.tests_frame()["measure"]) == {"return", "volume", "volatility"}
    listed = study.fit(
        [
            Event(name=name, date=str(g["date"].iloc[0].date()), tickers=list(g["ticker"]))
            for name, g in events.groupby("event", sort=False)
        ]
    )
    for frame in ("volume_frame", "cav_frame", "volatility_frame", "variance_ratio_frame"):
        pd.testing.assert_frame_equal(getattr(res, frame)(), getattr(listed, frame)())
    pd.testing.assert_frame_equal(res.tests_frame(), listed.tests_frame())

    plain = EventStudy(returns, **settings).fit(events)  # the default: returns only
    assert {e.measures for e in plain.events} == {("return",)}
    assert plain.volume_frame() is None and set(plain.tests_frame()["measure"]) == {"return"}

    # Long prices carry the volume: from_prices measures it the same way.
    prices = long_prices(returns, volume=volume)
    via_prices = EventStudy.from_prices(
        prices, measures=["volume"], volume_model="market", market=cfg.market,
        min_estimation_obs=200,
    ).fit(events)
    got = via_prices.volume_frame()
    assert got is not None and len(got) == len(res.volume_frame())
    np.testing.assert_array_equal(got["volume"], res.volume_frame()["volume"])


def test_measures_simulation_smoke() -> None:
    """`make validate`'s volume and volatility part on a tiny draw: every row, rates in [0, 1]."""
    from benchmarks import simulation, simulation_measures

    tables = simulation_measures.run(samples=20, firms=10, seed=1)
    volume, volatility = tables["volume"], tables["volatility"]
    from eventstudy.inference.registry import tests_for

    n_volume = len(tests_for("volume"))
    assert volume.shape == (2 * 2 * n_volume, 6) and volatility.shape == (2 * 3, 6)
    for frame in tables.values():
        assert ((frame >= 0) & (frame <= 1)).all().all()
    keys = volume.index.to_frame()
    day0 = volume[((keys["model"] == "market") & (keys["window"] == "[0, 0]")).to_numpy()]
    assert day0["+0.25 log"].mean() > day0["none"].mean()
    assert "| constant | [0, 0] | `variance_ratio_f` |" in simulation.to_markdown(volatility)
