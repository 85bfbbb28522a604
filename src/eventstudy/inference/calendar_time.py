"""Calendar-time portfolios (Jaffe 1974; Mandelker 1974; Fama 1998; Mitchell & Stafford 2000).

Event-time tests of long windows overstate significance when the windows of different events
overlap in calendar time (their abnormal returns are cross-correlated). The calendar-time
portfolio method forms, on every period, one portfolio of the firms whose event lies
``horizon`` trading days back, and regresses its excess return on the factors of a model:
the intercept (the "alpha") is the average abnormal return per period, and its standard error
reflects the cross-correlation of the firms held together. See docs/long_horizon.md.

Conventions (stated once here and in the docs):

* **Holding**: firm-event ``(e, i)`` with day 0 on panel row ``d`` is held on the rows
  ``d + horizon[0] .. d + horizon[1]`` (trading days of the study's calendar). A firm held through
  two of its events at once is held once (the latest event's weight applies).
* **Weights**: ``equal``; or ``value``, the firm-event's market value on day -1 (the valuation
  machinery: unadjusted close x shares outstanding as of day -1). A firm-event without a market
  value is left out of the value-weighted portfolio. Weights are fixed for the holding period and
  renormalised over the firms with a return on each day (a daily-rebalanced portfolio).
* **Returns**: each trading day's portfolio return is the weighted mean of the held firms'
  returns that day (firms without a return that day are left out of that day). ``monthly``
  compounds the daily portfolio returns within each calendar month (dated by its last session
  with a return), and the risk-free rate and
  the factors over the same days (``prod(1 + f) - 1``; the market's excess return as
  ``prod(1 + Rm) - prod(1 + RF)``); a month's ``n_firms`` counts the distinct firms held with a
  return in it.
* **Excess returns**: the portfolio's return minus the factor data's ``RF``. ``model: market``
  regresses on the study market's return from the panel minus ``RF``; without factor data RF is
  taken as 0 (raw returns on the raw market return: the intercept is then Jensen's alpha up to
  ``RF (1 - beta)`` per period). ``ff3``, ``carhart``, ``ff5`` take their factors from the
  factor data (:data:`~eventstudy.data.factors.FACTOR_MODELS`).
* **Periods regressed**: those with at least ``min_firms`` firms and every factor known; these are
  the rows of ``calendar_time_returns.csv``.
* **Errors**: statsmodels OLS with Newey-West (1987) HAC standard errors, Bartlett kernel,
  ``floor(4 (T / 100)^(2/9))`` lags (Newey & West 1994's rule), or White's HC1 (``errors:
  hc1``); p-values two-sided from the normal distribution (statsmodels' default for robust
  covariances).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from eventstudy.data.factors import FACTOR_MODELS, FactorData
from eventstudy.data.panel import ReturnsPanel
from eventstudy.errors import DataError
from eventstudy.estimation.fit import StudyFit

Weighting = Literal["equal", "value"]
Frequency = Literal["daily", "monthly"]
#: Models of the calendar-time regression: the market's excess return, or a factor model.
CALENDAR_MODELS = ("market", *FACTOR_MODELS)
#: Columns of ``calendar_time.csv`` and ``calendar_time_returns.csv``.
CALENDAR_TIME_COLUMNS = [
    "portfolio",
    "model",
    "frequency",
    "weighting",
    "alpha",
    "se",
    "t",
    "p",
    "n_periods",
    "mean_firms",
    "r2",
]
CALENDAR_RETURNS_COLUMNS = ["date", "portfolio", "return", "n_firms"]
#: The name of the one portfolio of all the study's firm-events.
PORTFOLIO = "all"
#: The market regressor's name in the design (Ken French's name for the market factor).
MARKET = "Mkt-RF"


def newey_west_lags(n_periods: int) -> int:
    """Newey & West's (1994) rule of thumb for the HAC lag length: ``floor(4 (T/100)^(2/9))``."""
    return math.floor(4.0 * (n_periods / 100.0) ** (2.0 / 9.0))


def holdings(
    n_rows: int,
    day0: np.ndarray,
    column: np.ndarray,
    n_columns: int,
    horizon: tuple[int, int],
    weight: np.ndarray,
) -> np.ndarray:
    """Weights held, ``(n_rows, n_columns)`` (0 where not held): firm-event ``k`` (day-0 row
    ``day0[k]``, panel column ``column[k]``, weight ``weight[k]``) is held on rows
    ``day0[k] + horizon[0] .. day0[k] + horizon[1]`` inside the panel; where two firm-events of
    one column overlap, the later event's weight holds (ties: the later listed)."""
    h0, h1 = horizon
    length = h1 - h0 + 1
    order = np.lexsort((np.arange(len(day0)), day0))  # by day 0, then as listed
    rank = np.empty(len(day0), dtype=np.intp)
    rank[order] = np.arange(len(day0))
    rows = (day0[:, None] + np.arange(h0, h1 + 1)).ravel()
    cols = np.repeat(column, length)
    ranks = np.repeat(rank, length)
    inside = (rows >= 0) & (rows < n_rows)
    latest = np.full((n_rows, n_columns), -1, dtype=np.intp)
    np.maximum.at(latest, (rows[inside], cols[inside]), ranks[inside])
    by_rank = np.asarray(weight, dtype=float)[order]
    return np.where(latest >= 0, by_rank[np.maximum(latest, 0)], 0.0)


def daily_portfolio(
    returns: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's weighted mean return of the held firms with a return: ``(return, n_firms,
    valid)`` with ``valid`` the (rows x columns) mask of firms counted (NaN return on rows
    without any)."""
    valid = (weights > 0) & np.isfinite(returns)
    w = np.where(valid, weights, 0.0)
    total = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ret = (np.where(valid, returns, 0.0) * w).sum(axis=1) / total
    n = valid.sum(axis=1)
    return np.where(n > 0, ret, np.nan), n, valid


@dataclass(frozen=True)
class CalendarTimeResult:
    """A calendar-time portfolio regression: its settings, the periods regressed and the
    statsmodels results (``ols``: ``params``, ``bse``, ``tvalues``, ``pvalues``, ...).

    ``data`` has one row per period regressed: ``date``, ``n_firms``, ``return`` (the portfolio's
    return), ``rf``, ``excess`` (the regressand) and the regressors by name."""

    model: str
    frequency: str
    weighting: str
    horizon: tuple[int, int]
    min_firms: int
    errors: str
    lags: int | None
    factors: tuple[str, ...]
    data: pd.DataFrame
    ols: Any
    portfolio: str = PORTFOLIO

    @property
    def alpha(self) -> float:
        """The intercept: the mean abnormal return per period."""
        return float(self.ols.params["const"])

    def table(self) -> pd.DataFrame:
        """One row of ``calendar_time.csv``."""
        o = self.ols
        row = {
            "portfolio": self.portfolio,
            "model": self.model,
            "frequency": self.frequency,
            "weighting": self.weighting,
            "alpha": float(o.params["const"]),
            "se": float(o.bse["const"]),
            "t": float(o.tvalues["const"]),
            "p": float(o.pvalues["const"]),
            "n_periods": int(o.nobs),
            "mean_firms": float(self.data["n_firms"].mean()),
            "r2": float(o.rsquared),
        }
        return pd.DataFrame([row], columns=CALENDAR_TIME_COLUMNS)

    def returns_frame(self) -> pd.DataFrame:
        """``calendar_time_returns.csv``: the portfolio's return and firms held, per period
        regressed."""
        d = self.data
        return pd.DataFrame(
            {
                "date": d["date"],
                "portfolio": self.portfolio,
                "return": d["return"],
                "n_firms": d["n_firms"].astype(int),
            },
            columns=CALENDAR_RETURNS_COLUMNS,
        ).reset_index(drop=True)

    def abnormal_frame(self) -> pd.DataFrame:
        """Per period: ``date, abnormal, cumulative, n_firms``; ``abnormal`` is the excess return
        minus the factors' part of the fit (``alpha + residual``), ``cumulative`` its running
        sum (what the chart draws)."""
        betas = self.ols.params.drop("const")
        fitted = self.data[list(betas.index)].to_numpy(dtype=float) @ betas.to_numpy(dtype=float)
        abnormal = self.data["excess"].to_numpy(dtype=float) - fitted
        return pd.DataFrame(
            {
                "date": self.data["date"].to_numpy(),
                "abnormal": abnormal,
                "cumulative": np.cumsum(abnormal),
                "n_firms": self.data["n_firms"].to_numpy(),
            }
        )


def factor_frame(
    dates: pd.DatetimeIndex,
    model: str,
    market: np.ndarray,
    factors: FactorData | None,
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Daily regressors of ``model`` on ``dates`` plus ``rf`` and the market's total return
    ``_mkt_total`` (for compounding), and the regressors' names."""
    if model not in CALENDAR_MODELS:
        raise DataError(
            f"calendar_time: unknown model {model!r} (choose from {', '.join(CALENDAR_MODELS)})"
        )
    out = pd.DataFrame(index=dates)
    if model == "market":
        rf = np.zeros(len(dates))
        if factors is not None and "RF" in factors.frame.columns:
            rf = _on(factors.frame["RF"], dates)
        out["rf"] = rf
        out["_mkt_total"] = market
        out[MARKET] = market - rf
        return out, (MARKET,)
    if factors is None:
        raise DataError(
            f"calendar_time: model {model!r} needs Fama-French factors (pass factor data, or "
            "use model: market)"
        )
    names = FACTOR_MODELS[model]
    frame = factors.columns_for(names, model)
    out["rf"] = _on(frame["RF"], dates)
    for name in names:
        out[name] = _on(frame[name], dates)
    out["_mkt_total"] = out[MARKET] + out["rf"]
    return out, names


def _on(series: pd.Series, dates: pd.DatetimeIndex) -> np.ndarray:
    index = pd.DatetimeIndex(series.index).normalize()
    return pd.Series(series.to_numpy(dtype=float), index=index).reindex(dates).to_numpy()


def calendar_time_regression(
    dates: pd.DatetimeIndex,
    returns: np.ndarray,
    day0: np.ndarray,
    column: np.ndarray,
    market: np.ndarray,
    *,
    horizon: tuple[int, int] = (1, 250),
    weighting: str = "equal",
    model: str = "market",
    frequency: str = "daily",
    min_firms: int = 1,
    errors: str = "hac",
    weights: np.ndarray | None = None,
    factors: FactorData | None = None,
    lags: int | None = None,
) -> CalendarTimeResult:
    """Form the calendar-time portfolio and regress its excess return on the model's factors.

    ``dates``: the panel's sessions; ``returns``: the panel's firm returns (sessions x columns,
    simple returns); ``day0``/``column``: each firm-event's day-0 row and column; ``market``: the
    market's return per session; ``weights``: each firm-event's market value for ``value``
    weighting (NaN or 0: left out). ``lags``: HAC lags (None: :func:`newey_west_lags`)."""
    import statsmodels.api as sm

    dates = pd.DatetimeIndex(dates).normalize()
    h0, h1 = horizon
    if h0 > h1:
        raise DataError(f"calendar_time: horizon start {h0} is after its end {h1}")
    if weighting == "value":
        if weights is None:
            raise DataError(
                "calendar_time: value weighting needs market values (close prices and share counts)"
            )
        w = np.asarray(weights, dtype=float)
        keep = np.isfinite(w) & (w > 0)
        if not keep.any():
            raise DataError(
                "calendar_time: value weighting needs each firm-event's market value on day -1, "
                "and no firm-event has one (close prices and share counts)"
            )
        day0, column, w = day0[keep], column[keep], w[keep]
    elif weighting == "equal":
        w = np.ones(len(day0))
    else:
        raise DataError(f"calendar_time: unknown weighting {weighting!r} (equal or value)")
    held = holdings(len(dates), day0, column, returns.shape[1], horizon, w)
    port, n_firms, valid = daily_portfolio(returns, held)
    design, names = factor_frame(dates, model, market, factors)
    daily = design.assign(ret=port, n_firms=n_firms)
    daily = daily[np.isfinite(port)]
    if frequency == "monthly":
        data = _monthly(daily, names, valid[np.isfinite(port)])
    elif frequency == "daily":
        data = daily.assign(excess=daily["ret"] - daily["rf"])
    else:
        raise DataError(f"calendar_time: unknown frequency {frequency!r} (daily or monthly)")
    data = data.rename(columns={"ret": "return"})
    needed = ["return", "rf", "excess", *names]
    ok = np.isfinite(data[needed].to_numpy(dtype=float)).all(axis=1)
    ok &= data["n_firms"].to_numpy() >= min_firms
    data = data[ok].drop(columns="_mkt_total").rename_axis("date").reset_index()
    if len(data) < len(names) + 3:
        raise DataError(
            f"calendar_time: {len(data)} {frequency} period(s) with at least {min_firms} firm(s) "
            f"and the factors known, too few to regress on {len(names)} factor(s)"
        )
    x = sm.add_constant(data[list(names)], has_constant="add")
    ols_model = sm.OLS(data["excess"], x)
    if errors == "hac":
        lags = newey_west_lags(len(data)) if lags is None else lags
        fit = ols_model.fit(cov_type="HAC", cov_kwds={"maxlags": lags})
    elif errors == "hc1":
        lags = None
        fit = ols_model.fit(cov_type="HC1")
    else:
        raise DataError(f"calendar_time: unknown errors {errors!r} (hac or hc1)")
    return CalendarTimeResult(
        model=model,
        frequency=frequency,
        weighting=weighting,
        horizon=(h0, h1),
        min_firms=min_firms,
        errors=errors,
        lags=lags,
        factors=tuple(names),
        data=data[["date", "n_firms", "return", "rf", "excess", *names]],
        ols=fit,
    )


def _monthly(daily: pd.DataFrame, names: Sequence[str], valid: np.ndarray) -> pd.DataFrame:
    """Compound the daily rows within calendar months (see the module docstring)."""
    month = pd.DatetimeIndex(daily.index).to_period("M")
    codes, months = pd.factorize(month)
    n = len(months)

    def compound(values: np.ndarray) -> np.ndarray:
        logs = np.log1p(values)
        return np.expm1(np.bincount(codes, weights=logs, minlength=n))

    rf = compound(daily["rf"].to_numpy())
    growth_rf = 1.0 + rf
    last_session = pd.Series(daily.index).groupby(codes).max().to_numpy()
    out = pd.DataFrame(index=pd.DatetimeIndex(last_session))
    port = compound(daily["ret"].to_numpy())
    out["ret"] = port
    out["rf"] = rf
    out["excess"] = (1.0 + port) - growth_rf
    for name in names:
        if name == MARKET:
            out[name] = 1.0 + compound(daily["_mkt_total"].to_numpy()) - growth_rf
        else:
            out[name] = compound(daily[name].to_numpy())
    out["_mkt_total"] = np.nan
    held = np.zeros((n, valid.shape[1]), dtype=bool)
    np.logical_or.at(held, codes, valid)
    out["n_firms"] = held.sum(axis=1)
    return out


def study_calendar_time(
    fit: StudyFit,
    panel: ReturnsPanel,
    *,
    factors: FactorData | None = None,
    market_values: pd.DataFrame | None = None,
    **settings: Any,
) -> CalendarTimeResult:
    """:func:`calendar_time_regression` over a study's firm-events: every firm-event with returns
    in the panel (fitted or not: a firm without an estimation window, e.g. a new listing, is still
    held), on the panel of the first event's market. ``market_values``: ``event, ticker,
    market_value`` (day -1; ``valuation.csv``) for value weighting; ``settings``: the keyword
    arguments of :func:`calendar_time_regression` (the ``calendar_time`` study key's fields)."""
    names = [e.name for e in fit.events]
    events = np.concatenate([b.event for b in fit.batches]) if fit.batches else np.zeros(0, int)
    tickers = [t for b in fit.batches for t in b.ticker]
    if not len(tickers):
        raise DataError("calendar_time: the study has no firm-event with returns")
    columns = panel.columns(tickers)
    weights = None
    if settings.get("weighting") == "value" and market_values is not None:
        mv = market_values.drop_duplicates(["event", "ticker"]).set_index(["event", "ticker"])
        keys = pd.MultiIndex.from_arrays([[names[int(e)] for e in events], tickers])
        weights = mv["market_value"].reindex(keys).to_numpy(dtype=float)
    market = fit.events[0].market
    return calendar_time_regression(
        panel.dates,
        panel.values,
        fit.day0_rows[events.astype(np.intp)],
        np.asarray(columns, dtype=np.intp),
        panel.values[:, panel.column(market)],
        weights=weights,
        factors=factors,
        **settings,
    )
