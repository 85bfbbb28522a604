"""Abnormal volatility: squared abnormal returns against the variance the return model expects.

For a firm-event with abnormal returns ``AR_it`` (the study's return model) and estimation-window
residual variance ``s_i^2`` (``M - p`` degrees of freedom, as everywhere in the package):

``u_it = AR_it^2 / s_i^2``
    Beaver's (1968) ratio of the squared abnormal return to the normal variance.
``u_adj_it = AR_it^2 / (s_i^2 (1 + h_it))``
    the same with the prediction error of the AR (the AR variance of the return fit; for the
    GARCH return model its conditional variance): the square of the standardised AR, which under
    the null (normal errors, no change in variance) is the square of a Student t with ``df``
    degrees of freedom, with mean ``df / (df - 2)`` (Patell 1976), the null mean the tests use.
``garch_ratio_it = AR_it^2 / sigma^2_{t|T}``
    with ``volatility_model: garch``: ``sigma^2_{t|T}`` is the GARCH(1,1) (Bollerslev 1986)
    variance forecast for day ``t`` from the end ``T`` of the estimation window, fitted by the
    ``arch`` package to the return model's estimation residuals (zero mean, residuals scaled by
    100 for the optimiser, missing days dropped). Null mean 1.

The tests of ``tests.csv`` with ``measure = volatility`` (the registry's tests marked for it)
run on ``x_it = ratio_it - null mean``, with the estimation-window values
``null mean * (z_t / mean(z) - 1)``
(``z_t = e_t^2 / s_i^2``, or ``e_t^2 / sigma_t^2`` with the GARCH in-sample variances) as the
series a rank test ranks the event days among: the cross-sectional t of the mean of ``x`` is
the test of the mean standardised squared AR against its null mean; the rank test ranks it.

The variance ratio of a firm-event over a window of ``L`` days is the mean of ``u_adj`` (or of
the GARCH ratio) over the window; under the null it is ``F(L, df)`` distributed (the ARs'
squares over ``sigma^2`` are ``chi^2_1``, ``s^2 df / sigma^2`` is ``chi^2_df``; the small
dependence between days through the estimated parameters is ignored). Its p-value is two-sided,
as every p-value of the package.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from eventstudy import parallel
from eventstudy.errors import DataError
from eventstudy.estimation.fit import Batch, StudyFit

#: Reason a firm-event is left out of the GARCH volatility measure.
GARCH_FAILED = "GARCH(1,1) of the estimation residuals did not converge"


@dataclass
class VolatilityBatch:
    """The volatility measure of some firm-events of one return batch (those of events asking
    for volatility with one ``volatility_model``).

    ``batch`` has the study-order bookkeeping and, as its ``fit``, the fit the test battery
    reads (``ar`` = tested ratio minus its null mean, ``resid`` = centred estimation values)."""

    batch: Batch
    model: str  # "constant" or "garch"
    ar: np.ndarray  # (n, L) abnormal returns
    u: np.ndarray  # (n, L) AR^2 / s^2
    u_adj: np.ndarray  # (n, L) AR^2 / Var(AR)
    null_mean: np.ndarray  # (n,) the tested ratio's mean under the null
    df: np.ndarray  # (n,) residual degrees of freedom of the return fit
    garch_variance: np.ndarray | None = None  # (n, L) sigma^2_{t|T}

    @property
    def ratio(self) -> np.ndarray:
        """The ratio the tests and the variance ratio use."""
        if self.garch_variance is None:
            return self.u_adj
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.ar**2 / self.garch_variance

    def variance_ratio(self, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        """Mean ratio over relative days ``start..end`` and the number of days with one."""
        w0 = self.batch.fit.event_window[0]
        part = self.ratio[:, start - w0 : end - w0 + 1]
        n = np.isfinite(part).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, np.nansum(part, axis=1) / n, np.nan), n


def volatility_batches(returns_fit: StudyFit) -> list[VolatilityBatch]:
    """The volatility measure of every firm-event whose event lists ``volatility``."""
    wants = np.array(["volatility" in e.measures for e in returns_fit.events], dtype=bool)
    models = np.array([e.volatility_model for e in returns_fit.events], dtype=object)
    out = []
    for b in returns_fit.batches:
        for model in ("constant", "garch"):
            rows = np.flatnonzero(wants[b.event] & (models[b.event] == model))
            if len(rows):
                out.append(_measure(b, rows, model))
    return out


def _measure(b: Batch, rows: np.ndarray, model: str) -> VolatilityBatch:
    # The whole batch (the usual case) needs no copy of its fit: nothing here writes to it.
    whole = len(rows) == len(b.event)
    f = b.fit if whole else b.fit.take(rows)
    ar = f.ar
    with np.errstate(invalid="ignore", divide="ignore"):
        u = ar**2 / f.sigma2[:, None]
        u_adj = ar**2 / f.ar_variance()
    df = f.df.astype(float)
    skip = list(f.skip_reason)
    garch = z = None
    if model == "garch":
        garch, z, failed = _garch(np.asarray(f.resid), f.estimation_window, f.event_window)
        for i in np.flatnonzero(failed):
            skip[i] = skip[i] or GARCH_FAILED
        null = np.ones(len(df))
        with np.errstate(invalid="ignore", divide="ignore"):
            tested = ar**2 / garch
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            null = np.where(df > 2, df / (df - 2), np.nan)
        tested = u_adj
    fitted = np.array([r is None for r in skip], dtype=bool)
    centred, spread, mean = _centred(np.asarray(f.resid), f.sigma2, fitted, z)
    x = np.where(fitted[:, None], tested - null[:, None], np.nan)
    # The rank test ranks x among the estimation values: both on one scale, z / mean(z) against
    # ratio / null mean (a shift of one of them alone would move the event days in the ranks).
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = null / mean
    centred *= scale[:, None]  # (the test fit's sigma2 stays the variance of z itself)
    test_fit = replace(
        f,
        ar=x,
        resid=centred,
        sigma2=spread,
        ar_var=np.repeat(spread[:, None], x.shape[1], axis=1),
        h=np.zeros_like(x),
        skip_reason=skip,
    )
    batch = Batch(
        fit=test_fit,
        event=b.event if whole else b.event[rows],
        ticker=b.ticker if whole else [b.ticker[i] for i in rows],
        order=b.order if whole else b.order[rows],
        label=b.label,
    )
    return VolatilityBatch(batch, model, ar, u, u_adj, null, df, garch)


#: Firm-events per chunk of :func:`_centred` (its temporaries stay in cache).
CHUNK_ROWS = 2048


def _centred(
    resid: np.ndarray, sigma2: np.ndarray, fitted: np.ndarray, z: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The estimation-window values ``z`` (``resid^2 / sigma2`` unless given; NaN for firm-events
    not fitted) minus their mean, their variance on ``count - 1`` and their mean, per firm-event;
    computed
    row by row, in chunks of rows (threads where they pay), so neither depends on the chunks."""
    n = len(resid)
    centred = np.empty(resid.shape)
    spread = np.empty(n)
    means = np.empty(n)

    def work(a: int) -> None:
        b = min(n, a + CHUNK_ROWS)
        with np.errstate(invalid="ignore", divide="ignore"):
            if z is None:
                part = np.square(resid[a:b])
                part /= sigma2[a:b, None]
            else:
                part = z[a:b]
            part[~fitted[a:b]] = np.nan
            have = np.isfinite(part)
            complete = bool(have.all())  # then the masks change nothing: skipped
            count = np.count_nonzero(have, axis=1)
            mean = (part if complete else np.where(have, part, 0.0)).sum(axis=1) / count
            means[a:b] = mean
            out = centred[a:b]
            np.subtract(part, mean[:, None], out=out)
            square = np.square(out)
            if not complete:
                square[~have] = 0.0
            spread[a:b] = square.sum(axis=1) / (count - 1)

    parallel.for_each(work, range(0, n, CHUNK_ROWS), resid.size)
    return centred, spread, means


def _garch(
    resid: np.ndarray, estimation_window: tuple[int, int], event_window: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per firm-event: GARCH(1,1) variance forecasts for the event-window days, the estimation
    residuals over their in-sample conditional variances, and which fits failed."""
    try:
        from arch import arch_model
    except ImportError:
        raise DataError(
            "volatility_model 'garch' needs the arch package: pip install 'eventstudy-kit[garch]'"
        ) from None
    (_, e1), (w0, w1) = estimation_window, event_window
    n, horizon = len(resid), w1 - e1
    forecast = np.full((n, w1 - w0 + 1), np.nan)
    z = np.full_like(resid, np.nan)
    failed = np.zeros(n, dtype=bool)
    for i in range(n):
        keep = np.isfinite(resid[i])
        if keep.sum() < 10:
            failed[i] = True
            continue
        res = arch_model(
            100 * resid[i, keep], mean="Zero", vol="GARCH", p=1, q=1, rescale=False
        ).fit(disp="off", show_warning=False)
        if res.convergence_flag != 0:
            failed[i] = True
            continue
        in_sample = np.asarray(res.conditional_volatility) ** 2 / 1e4
        z[i, keep] = resid[i, keep] ** 2 / in_sample
        ahead = res.forecast(horizon=horizon, reindex=False).variance.to_numpy()[0] / 1e4
        forecast[i] = ahead[np.arange(w0, w1 + 1) - e1 - 1]
    return forecast, z, failed

