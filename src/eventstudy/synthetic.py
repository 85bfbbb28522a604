"""Seeded synthetic returns panels and firm-events, for benchmarks, simulations and property tests.

Every firm follows a market model with known parameters,

    R_it = alpha_i + beta_i R_mt + sigma_i e_it,    e_it ~ N(0, 1) (or Student t, ``tails``),

against a market ``R_mt ~ N(market_mean, market_vol^2)``. Events are dated sessions, each
concerning ``firms_per_event`` distinct firms drawn at random, so a firm has several events at
different dates (the normal case in research: earnings announcements, index changes, filings).
Options degrade the data the way real data are degraded:

* ``missing``: a share of firm returns set to NaN at random (the market stays complete, as it
  defines the calendar);
* ``thin``: thin trading; each firm gets a non-trading probability drawn uniformly from
  ``[0, thin]``. On a day it does not trade its price is stale, so the observed return is exactly
  0, and the next trading day's return carries everything since the last trade;
* ``late_listing``: a share of firms list part-way through the sample (NaN before), so firm-events
  near their listing have shorter estimation windows;
* ``abnormal``: abnormal returns injected on relative days of every firm-event (a number is day 0
  only; a mapping ``{rel_day: AR}`` gives several days);
* ``abnormal_variance``: event-induced variance, the firm shock's variance multiplied by ``c`` on
  relative days of every firm-event (a number is day 0 only, as ``abnormal``).

:meth:`SyntheticConfig.generate_volume` adds shares traded (below, "Volume"), from random
streams of their own, so prices never depend on the volume options.

>>> cfg = SyntheticConfig(n_firms=50, n_days=600, n_events=20, firms_per_event=10, seed=1)
>>> returns, events = cfg.generate()
>>> returns.shape, len(events), list(events.columns)
((600, 51), 200, ['event', 'date', 'ticker'])
>>> cfg.params().columns.tolist()
['alpha', 'beta', 'sigma', 'thin', 'listed']

``returns`` is dates x tickers (firm tickers ``F00000``, ... and the market column) on business
days; ``events`` has one row per firm-event, the input :meth:`eventstudy.EventStudy.fit` takes.
The same configuration always gives the same data.

Volume. Log volume ``x_it = mu_i + b_i c_t + a_it`` and shares traded ``V_it = round(exp(x_it))``
(so ``ln(1 + V_it)``, the package's measure, is ``x_it`` up to rounding), with

* a firm level ``mu_i ~ N(volume_level, volume_level_sd^2)``;
* a market-wide component ``c_t``, AR(1) with coefficient ``volume_persistence`` and stationary
  sd ``volume_market_sd``, and loadings ``b_i ~ U(0.5, 1.5)``;
* a firm component ``a_it``, AR(1) with the same coefficient and stationary sd
  ``s_i ~ U(volume_sd_range)``;
* right-skewed shocks: standardised gamma draws of shape ``volume_shape`` (skewness
  ``2 / sqrt(shape)``; None for normal shocks);
* zero volume on the days a thinly traded firm does not trade (``thin``), no volume where its
  return is missing or before it lists;
* ``abnormal_volume``: log points added to ``x_it`` on relative days of every firm-event (a
  number is day 0 only).

The market column's volume is the firms' total without the injected effect (an exchange's
shares traded).

>>> vol = SyntheticConfig(n_firms=50, n_days=600, n_events=20, firms_per_event=10,
...                       seed=1, abnormal_volume=0.5).generate_volume()
>>> vol.shape, bool((vol >= 0).all().all())
((600, 51), True)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class SyntheticConfig:
    """What to generate; :meth:`generate` returns ``(returns, events)``.

    Firm parameters are drawn once per seed: ``alpha ~ N(0, alpha_sd)``, ``beta ~ N(beta_mean,
    beta_sd)``, ``sigma ~ U(vol_range)`` (daily). Event dates leave room for ``estimation_window``
    and ``event_window`` inside the sample, so only missing data, thin trading and late listing
    shorten an estimation window.
    """

    n_firms: int = 100
    n_days: int = 1000
    n_events: int = 10
    firms_per_event: int = 100
    seed: int = 0
    market: str = "MKT"
    start: str = "2000-01-03"
    market_mean: float = 0.0003
    market_vol: float = 0.01
    alpha_sd: float = 0.0005
    beta_mean: float = 1.0
    beta_sd: float = 0.3
    vol_range: tuple[float, float] = (0.01, 0.03)
    #: Degrees of freedom of Student-t firm shocks (scaled to unit variance); None for normal.
    tails: float | None = None
    missing: float = 0.0
    thin: float = 0.0
    late_listing: float = 0.0
    abnormal: float | Mapping[int, float] = 0.0
    #: Multiple of the firm shock's variance on event days (a number: day 0; a mapping by day).
    abnormal_variance: float | Mapping[int, float] = 1.0
    #: Volume (:meth:`generate_volume`): firm log-level mean and sd, AR(1) coefficient, the
    #: market component's and the firm component's stationary sd, gamma shape of the shocks.
    volume_level: float = 12.0
    volume_level_sd: float = 1.0
    volume_persistence: float = 0.5
    volume_market_sd: float = 0.2
    volume_sd_range: tuple[float, float] = (0.3, 0.6)
    volume_shape: float | None = 4.0
    #: Abnormal log volume added on event days (a number: day 0; a mapping by day).
    abnormal_volume: float | Mapping[int, float] = 0.0
    estimation_window: tuple[int, int] = (-250, -11)
    event_window: tuple[int, int] = (-5, 5)

    def __post_init__(self) -> None:
        if self.firms_per_event > self.n_firms:
            raise ValueError("firms_per_event exceeds n_firms")
        first, last = self._day0_range()
        if first > last:
            raise ValueError(f"n_days = {self.n_days} leaves no room for the windows")
        for name in ("missing", "thin", "late_listing"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1)")
        if not 0.0 <= self.volume_persistence < 1.0:
            raise ValueError("volume_persistence must be in [0, 1)")
        if any(c < 0 for c in _by_day(self.abnormal_variance).values()):
            raise ValueError("abnormal_variance must be >= 0")

    @property
    def tickers(self) -> list[str]:
        return [f"F{j:05d}" for j in range(self.n_firms)]

    def _day0_range(self) -> tuple[int, int]:
        lo = max(0, -min(self.estimation_window[0], self.event_window[0]))
        hi = self.n_days - 1 - max(0, self.estimation_window[1], self.event_window[1])
        return lo, hi

    def _rng(self, stream: int) -> np.random.Generator:
        # Independent streams, so e.g. changing `missing` leaves the parameters and shocks alone.
        return np.random.default_rng([self.seed, stream])

    def params(self) -> pd.DataFrame:
        """True parameters per firm: ``alpha``, ``beta``, ``sigma``, non-trading probability
        ``thin`` and the first row with data ``listed`` (0 unless listed late)."""
        rng = self._rng(1)
        n = self.n_firms
        alpha = rng.normal(0.0, self.alpha_sd, n)
        beta = rng.normal(self.beta_mean, self.beta_sd, n)
        sigma = rng.uniform(*self.vol_range, n)
        thin = rng.uniform(0.0, self.thin, n) if self.thin else np.zeros(n)
        late = rng.random(n) < self.late_listing
        listed = np.where(late, rng.integers(0, self.n_days, n), 0)
        return pd.DataFrame(
            {"alpha": alpha, "beta": beta, "sigma": sigma, "thin": thin, "listed": listed},
            index=pd.Index(self.tickers, name="ticker"),
        )

    def dates(self) -> pd.DatetimeIndex:
        return pd.bdate_range(self.start, periods=self.n_days, name="date")

    def event_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """Day-0 row of each event, and the firm columns of every firm-event, (n_events, k)."""
        rng = self._rng(2)
        lo, hi = self._day0_range()
        day0 = np.sort(rng.integers(lo, hi + 1, self.n_events))
        # k distinct firms per event: the first k of a random permutation, drawn for all events
        # at once (argsort of uniforms is a permutation per row).
        if self.firms_per_event * 4 >= self.n_firms:
            firms = np.argsort(rng.random((self.n_events, self.n_firms)), axis=1)
            firms = firms[:, : self.firms_per_event]
        else:
            firms = _distinct_draws(rng, self.n_events, self.n_firms, self.firms_per_event)
        return day0, firms

    def generate(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """``(returns, events)``: dates x tickers returns (firms, then the market column) and one
        row per firm-event with columns ``event, date, ticker``."""
        p = self.params()
        T, n = self.n_days, self.n_firms
        rng = self._rng(3)
        market = rng.normal(self.market_mean, self.market_vol, T)
        if self.tails is None:
            shocks = rng.standard_normal((T, n))
        else:
            shocks = rng.standard_t(self.tails, (T, n)) * np.sqrt((self.tails - 2) / self.tails)
        day0, firms = self.event_rows()
        for rel, factor in _by_day(self.abnormal_variance).items():
            if factor != 1.0:
                np.multiply.at(shocks, self._cells(day0, firms, rel), np.sqrt(factor))
        ret = shocks
        ret *= p["sigma"].to_numpy()
        ret += p["alpha"].to_numpy() + market[:, None] * p["beta"].to_numpy()

        for rel, value in _by_day(self.abnormal).items():
            if value:
                np.add.at(ret, self._cells(day0, firms, rel), value)

        if self.thin:
            ret = _thin_trading(ret, self._trades(p))
        ret[self._unobserved(p)] = np.nan

        dates = self.dates()
        returns = pd.DataFrame(ret, index=dates, columns=self.tickers)
        returns[self.market] = market
        tickers = np.asarray(self.tickers)
        names = np.array([f"E{i:06d}" for i in range(self.n_events)])
        events = pd.DataFrame(
            {
                "event": np.repeat(names, self.firms_per_event),
                "date": np.repeat(dates[day0], self.firms_per_event),
                "ticker": tickers[firms.ravel()],
            }
        )
        return returns, events


    def _cells(self, day0: np.ndarray, firms: np.ndarray, rel: int) -> tuple[np.ndarray, ...]:
        """(rows, columns) of relative day ``rel`` of every firm-event."""
        rows = np.broadcast_to((day0 + rel)[:, None], firms.shape).ravel()
        return rows, firms.ravel()

    def _trades(self, p: pd.DataFrame) -> np.ndarray:
        """(T, n): whether each firm trades each day (``thin``; every firm trades on day 0)."""
        trades = self._rng(4).random((self.n_days, self.n_firms)) >= p["thin"].to_numpy()
        trades[0] = True
        return trades

    def _unobserved(self, p: pd.DataFrame) -> np.ndarray:
        """(T, n): missing at random (``missing``) or before the firm lists."""
        out = np.arange(self.n_days)[:, None] < p["listed"].to_numpy()
        if self.missing:
            out |= self._rng(5).random((self.n_days, self.n_firms)) < self.missing
        return out

    def volume_params(self) -> pd.DataFrame:
        """True volume parameters per firm: log level ``level``, loading on the market
        component ``loading`` and the firm component's stationary sd ``sd``."""
        rng = self._rng(6)
        n = self.n_firms
        return pd.DataFrame(
            {
                "level": rng.normal(self.volume_level, self.volume_level_sd, n),
                "loading": rng.uniform(0.5, 1.5, n),
                "sd": rng.uniform(*self.volume_sd_range, n),
            },
            index=pd.Index(self.tickers, name="ticker"),
        )

    def generate_volume(self) -> pd.DataFrame:
        """Shares traded, dates x tickers (firms, then the market column), on the dates of
        :meth:`generate` (module docstring, "Volume")."""
        T, n = self.n_days, self.n_firms
        v = self.volume_params()
        rng = self._rng(7)
        burn = 100  # the AR(1) processes start from their stationary law, nearly
        shocks = self._volume_shocks(rng, (T + burn, n + 1))
        phi = self.volume_persistence
        scale = np.sqrt(1.0 - phi**2) * np.r_[v["sd"].to_numpy(), self.volume_market_sd]
        shocks *= scale
        state = np.zeros(n + 1)
        for t in range(T + burn):  # a_t = phi a_{t-1} + sqrt(1 - phi^2) s e_t
            state *= phi
            state += shocks[t]
            shocks[t] = state
        path = shocks[burn:]
        x = v["level"].to_numpy() + path[:, n, None] * v["loading"].to_numpy() + path[:, :n]

        p = self.params()
        traded = self._trades(p) if self.thin else np.ones((T, n), dtype=bool)
        unobserved = self._unobserved(p)

        def shares(log_volume: np.ndarray) -> np.ndarray:
            out = np.where(traded, np.rint(np.exp(log_volume)), 0.0)
            out[unobserved] = np.nan
            return out

        market = np.nansum(shares(x), axis=1)
        day0, firms = self.event_rows()
        for rel, value in _by_day(self.abnormal_volume).items():
            if value:
                np.add.at(x, self._cells(day0, firms, rel), value)
        volume = pd.DataFrame(shares(x), index=self.dates(), columns=self.tickers)
        volume[self.market] = market
        return volume

    def _volume_shocks(self, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
        """Unit-variance shocks: standardised gamma (right-skewed) or normal."""
        k = self.volume_shape
        if k is None:
            return rng.standard_normal(shape)
        return (rng.standard_gamma(k, shape) - k) / np.sqrt(k)


def _by_day(value: float | Mapping[int, float]) -> Mapping[int, float]:
    """An injected effect by relative day (a number is day 0)."""
    return value if isinstance(value, Mapping) else {0: value}


def _distinct_draws(rng: np.random.Generator, rows: int, n: int, k: int) -> np.ndarray:
    """``rows`` draws of ``k`` distinct integers in ``[0, n)`` (k at most n / 4): draw with
    replacement, then redraw only the values that repeat one earlier in their row until none do
    (each redraw collides with probability below k / n, so a few rounds suffice). A uniformly
    random k-subset per row, as every value is treated alike."""
    out = rng.integers(0, n, (rows, k))
    while True:
        order = np.argsort(out, axis=1, kind="stable")
        s = np.take_along_axis(out, order, axis=1)
        repeat = s[:, 1:] == s[:, :-1]  # sorted position j + 1 repeats position j
        if not repeat.any():
            return out
        r, j = np.nonzero(repeat)
        out[r, order[r, j + 1]] = rng.integers(0, n, len(r))


def _thin_trading(ret: np.ndarray, trades: np.ndarray) -> np.ndarray:
    """Observed returns when firms trade only on the days ``trades`` marks: a non-trading day's
    return is 0 (stale price) and the next trading day's return compounds every day since the
    last trade."""
    T = ret.shape[0]
    log_price = np.cumsum(np.log1p(ret), axis=0)
    # Row of the last trade on or before each day, by a running maximum of trade rows.
    last = np.maximum.accumulate(np.where(trades, np.arange(T)[:, None], 0), axis=0)
    observed = np.take_along_axis(log_price, last, axis=0)
    out = np.empty_like(ret)
    out[0] = ret[0]
    out[1:] = np.expm1(np.diff(observed, axis=0))
    return out


def synthetic_panel(**options: object) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``SyntheticConfig(**options).generate()``: ``(returns, events)``."""
    return SyntheticConfig(**options).generate()  # type: ignore[arg-type]


def scenario(firm_events: int, seed: int = 0, **overrides: object) -> SyntheticConfig:
    """The benchmark layout for ``firm_events`` firm-events: events of 100 firms each, every firm
    in about 50 events, six years of sessions (1,500), 250-day estimation and 11-day event
    windows. ``overrides`` replace any field."""
    per_event = min(100, firm_events)
    fields: dict[str, object] = {
        "n_events": max(1, firm_events // per_event),
        "firms_per_event": per_event,
        "n_firms": max(per_event, firm_events // 50),
        "n_days": 1500,
        "seed": seed,
    }
    fields.update(overrides)
    return SyntheticConfig(**fields)  # type: ignore[arg-type]


def long_prices(
    returns: pd.DataFrame, start: float = 100.0, volume: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Long prices (``ticker, date, close, adj_close, volume``) whose returns are ``returns``: each
    price compounds the returns from ``start``. A missing return leaves that session's price
    missing, so returns computed back from these prices are missing on that session and the next
    one (the panel's rule for gaps). ``volume`` (dates x tickers, e.g.
    :meth:`SyntheticConfig.generate_volume`) fills the volume column; without it every row
    trades 1,000,000 shares."""
    r = returns.to_numpy(dtype=float)
    level = start * np.cumprod(np.where(np.isfinite(r), 1.0 + r, 1.0), axis=0)
    level[~np.isfinite(r)] = np.nan
    wide = pd.DataFrame(level, index=returns.index, columns=returns.columns)
    long = wide.rename_axis(index="date", columns="ticker").stack(future_stack=True)
    out = long.rename("adj_close").reset_index().dropna(subset=["adj_close"])
    out["close"] = out["adj_close"]
    if volume is None:
        out["volume"] = 1_000_000.0
    else:
        shares = volume.reindex(index=returns.index, columns=returns.columns).to_numpy(float)
        rows = returns.index.get_indexer(out["date"])
        out["volume"] = shares[rows, returns.columns.get_indexer(out["ticker"])]
    return out[["ticker", "date", "close", "adj_close", "volume"]].reset_index(drop=True)
