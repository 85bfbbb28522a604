"""Normal-return models.

A model says *what* the normal return is regressed on (its :class:`Design`);
:mod:`eventstudy.estimation.kernel` fits every firm-event of a batch at once. Adding a model is one
small
class with a :meth:`~NormalReturnModel.design` method (and, for a non-OLS estimator, a
:meth:`~NormalReturnModel.fit`) registered in :data:`MODELS`.

References: Campbell, Lo & MacKinlay (1997), *The Econometrics of Financial Markets*, ch. 4;
MacKinlay (1997), "Event Studies in Economics and Finance", *JEL* 35(1).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Protocol

import numpy as np

from eventstudy.data.factors import FACTOR_MODELS, FactorData
from eventstudy.data.panel import ReturnsPanel
from eventstudy.errors import DataError, StudyFileError, argument
from eventstudy.estimation.kernel import BatchFit, Design, fit_batch, gather


class ResolvedEvent(Protocol):
    """What a model reads of an event's settings (:class:`eventstudy.study.ResolvedEvent` is
    one; a protocol here so that the models do not depend on the study file)."""

    @property
    def name(self) -> str: ...
    @property
    def market(self) -> str: ...
    @property
    def factors(self) -> tuple[str, ...]: ...
    @property
    def dimson_lags(self) -> int: ...
    @property
    def estimation_window(self) -> tuple[int, int]: ...
    @property
    def event_window(self) -> tuple[int, int]: ...
    @property
    def min_estimation_obs(self) -> int: ...


class NormalReturnModel(ABC):
    """Base class of the normal-return models."""

    name: ClassVar[str]
    description: ClassVar[str]
    #: Clause of the report's methods paragraph (``{market}``, ``{factors}`` are filled in).
    methods: ClassVar[str]
    #: Citation keys of :data:`eventstudy.references.REFERENCES`.
    citations: ClassVar[tuple[str, ...]]

    @abstractmethod
    def design(
        self, panel: ReturnsPanel, spec: ResolvedEvent, factors: FactorData | None
    ) -> Design:
        """The regressors for this model on ``panel``'s calendar."""

    def fit(
        self,
        panel: ReturnsPanel,
        spec: ResolvedEvent,
        factors: FactorData | None,
        col: np.ndarray,
        day0: np.ndarray,
    ) -> BatchFit:
        """Fit every firm-event ``(col[i], day0[i])``: OLS on :meth:`design` by default."""
        return fit_batch(
            panel.values,
            self.design(panel, spec, factors),
            col,
            day0,
            spec.estimation_window,
            spec.event_window,
            spec.min_estimation_obs,
        )

    def label(self, spec: ResolvedEvent) -> str:
        """A short description for charts and reports."""
        return f"{self.description} vs {spec.market}"


class ConstantMean(NormalReturnModel):
    """Constant-mean-return model: normal return = the estimation-window mean (CLM 1997, 4.3.1)."""

    name = "constant-mean"
    description = "constant-mean-return model"
    methods = "the constant-mean-return model (the stock's mean return over the estimation window)"
    citations = ("brown-warner-1985",)

    def design(
        self, panel: ReturnsPanel, spec: ResolvedEvent, factors: FactorData | None
    ) -> Design:
        return Design(regressors=np.empty((len(panel.dates), 0)), names=())

    def label(self, spec: ResolvedEvent) -> str:
        return self.description


class MarketAdjusted(NormalReturnModel):
    """Market-adjusted model: normal return = the market return (alpha 0, beta 1 imposed).

    The AR variance is the sample variance of ``R - Rm`` over the estimation window (denominator
    M - 1), as in Stata's ``estudy`` and R's ``EventStudy``."""

    name = "market-adjusted"
    description = "market-adjusted model"
    methods = (
        "market-adjusted returns (the normal return is the return of {market}, with "
        "alpha 0 and beta 1 imposed)"
    )
    citations = ("brown-warner-1980",)

    def design(
        self, panel: ReturnsPanel, spec: ResolvedEvent, factors: FactorData | None
    ) -> Design:
        return Design(
            regressors=panel.series(spec.market)[:, None],
            names=(spec.market,),
            intercept=False,
            estimate=False,
            fixed_coef=np.ones(1),
        )


class MarketModel(NormalReturnModel):
    """OLS market model ``R_it = alpha_i + beta_i R_mt + e_it`` (CLM 1997, 4.3.2)."""

    name = "market"
    description = "OLS market model"
    methods = "the market model, an OLS regression of the stock's return on the return of {market}"
    citations = ("mackinlay-1997",)

    def design(
        self, panel: ReturnsPanel, spec: ResolvedEvent, factors: FactorData | None
    ) -> Design:
        return Design(regressors=panel.series(spec.market)[:, None], names=(spec.market,))


class TickerFactorModel(NormalReturnModel):
    """OLS on the returns of any tickers, e.g. ``factors: [^GSPC, ^SOX]`` (market + sector index):
    ``R_it = alpha_i + sum_j b_ij R_jt + e_it``."""

    name = "factor"
    description = "OLS factor model"
    methods = "an OLS regression of the stock's return on the returns of {factors}"
    citations = ("mackinlay-1997",)

    def design(
        self, panel: ReturnsPanel, spec: ResolvedEvent, factors: FactorData | None
    ) -> Design:
        names = tuple(spec.factors or ())
        return Design(regressors=np.column_stack([panel.series(t) for t in names]), names=names)

    def label(self, spec: ResolvedEvent) -> str:
        return f"OLS on {' + '.join(spec.factors or ())}"


class FamaFrenchModel(NormalReturnModel):
    """Fama-French factor models of the excess return ``R_it - RF_t``:
    FF3 (Fama & French 1993), Carhart (1997) four-factor, FF5 (Fama & French 2015).
    Normal return = ``RF_t + alpha_i + b_i' f_t``."""

    name = "ff3"
    description = "Fama-French three-factor model"
    methods = "the Fama-French three-factor model of the excess return"
    citations: ClassVar[tuple[str, ...]] = ("fama-french-1993",)

    def design(
        self, panel: ReturnsPanel, spec: ResolvedEvent, factors: FactorData | None
    ) -> Design:
        if factors is None:
            raise DataError(
                f"model {self.name!r} needs Fama-French factors: pass {argument('factor_data')} "
                "(or run online to download them)"
            )
        names = FACTOR_MODELS[self.name]
        frame = factors.columns_for(names, self.name).reindex(panel.dates)
        return Design(
            regressors=frame[list(names)].to_numpy(dtype=float),
            names=names,
            offset=frame["RF"].to_numpy(dtype=float),
        )

    def label(self, spec: ResolvedEvent) -> str:
        return self.description


class Carhart(FamaFrenchModel):
    name = "carhart"
    description = "Carhart four-factor model"
    methods = (
        "the Carhart four-factor model (the Fama-French three factors and momentum) of "
        "the excess return"
    )
    citations = ("fama-french-1993", "carhart-1997")


class FamaFrench5(FamaFrenchModel):
    name = "ff5"
    description = "Fama-French five-factor model"
    methods = "the Fama-French five-factor model of the excess return"
    citations = ("fama-french-2015",)


def _shifted(x: np.ndarray, lag: int) -> np.ndarray:
    """``out[t] = x[t - lag]`` (a lag for ``lag > 0``, a lead for ``lag < 0``), NaN-padded."""
    out = np.full_like(x, np.nan)
    if lag > 0:
        out[lag:] = x[:-lag]
    elif lag < 0:
        out[:lag] = x[-lag:]
    else:
        out[:] = x
    return out


class _AdjustedBeta(MarketModel):
    """Market model whose beta is estimated with non-synchronous-trading corrections; the AR is
    ``R_t - alpha - beta R_mt`` with ``alpha = mean(R) - beta mean(R_m)`` over the estimation
    window. Variances use the market-model formulas with the adjusted beta (the prediction-error
    term treats beta as if it were the OLS slope, an approximation)."""

    def adjusted_beta(
        self, panel: ReturnsPanel, spec: ResolvedEvent, col: np.ndarray, day0: np.ndarray
    ) -> np.ndarray:
        raise NotImplementedError

    def fit(
        self,
        panel: ReturnsPanel,
        spec: ResolvedEvent,
        factors: FactorData | None,
        col: np.ndarray,
        day0: np.ndarray,
    ) -> BatchFit:
        beta = self.adjusted_beta(panel, spec, col, day0)
        design = self.design(panel, spec, factors)
        rows = day0[:, None] + np.arange(spec.estimation_window[0], spec.estimation_window[1] + 1)
        y = gather(panel.values, rows, col)
        x = gather(design.regressors, rows, None)[..., 0]
        both = np.isfinite(y) & np.isfinite(x)
        with np.errstate(invalid="ignore", divide="ignore"):
            alpha = (np.where(both, y - beta[:, None] * x, 0.0)).sum(axis=1) / both.sum(axis=1)
        return fit_batch(
            panel.values,
            design,
            col,
            day0,
            spec.estimation_window,
            spec.event_window,
            spec.min_estimation_obs,
            given=np.column_stack([alpha, beta]),
        )


class ScholesWilliams(_AdjustedBeta):
    """Scholes & Williams (1977) beta: ``(b_-1 + b_0 + b_+1) / (1 + 2 rho_m)``, the ``b_j`` slopes
    of simple OLS regressions of ``R_t`` on ``R_m,t+j`` and ``rho_m`` the first-order
    autocorrelation of the market return, all over the estimation window."""

    name = "scholes-williams"
    description = "market model, Scholes-Williams beta"
    methods = (
        "the market model against {market} with the Scholes-Williams beta for "
        "non-synchronous trading"
    )
    citations = ("scholes-williams-1977",)

    def adjusted_beta(
        self, panel: ReturnsPanel, spec: ResolvedEvent, col: np.ndarray, day0: np.ndarray
    ) -> np.ndarray:
        market = panel.series(spec.market)
        slopes = []
        for lag in (1, 0, -1):
            design = Design(regressors=_shifted(market, lag)[:, None], names=(spec.market,))
            fit = fit_batch(
                panel.values, design, col, day0, spec.estimation_window, spec.estimation_window, 3
            )
            slopes.append(fit.params[:, 1])
        rows = day0[:, None] + np.arange(spec.estimation_window[0], spec.estimation_window[1] + 1)
        now = gather(market, rows, None)
        before = gather(_shifted(market, 1), rows, None)
        rho = _masked_corr(now, before)
        return (slopes[0] + slopes[1] + slopes[2]) / (1.0 + 2.0 * rho)


class Dimson(_AdjustedBeta):
    """Dimson (1979) aggregated-coefficients beta: the sum of the slopes of one OLS regression of
    ``R_t`` on ``R_m,t-L .. R_m,t+L`` (``dimson_lags`` = L, default 1)."""

    name = "dimson"
    description = "market model, Dimson beta"
    methods = (
        "the market model against {market} with Dimson's aggregated-coefficients beta "
        "for thin trading"
    )
    citations = ("dimson-1979",)

    def adjusted_beta(
        self, panel: ReturnsPanel, spec: ResolvedEvent, col: np.ndarray, day0: np.ndarray
    ) -> np.ndarray:
        market = panel.series(spec.market)
        lags = range(spec.dimson_lags, -spec.dimson_lags - 1, -1)
        design = Design(
            regressors=np.column_stack([_shifted(market, lag) for lag in lags]),
            names=tuple(f"{spec.market}[t{-lag:+d}]" for lag in lags),
        )
        fit = fit_batch(
            panel.values, design, col, day0, spec.estimation_window, spec.estimation_window, 3
        )
        return fit.params[:, 1:].sum(axis=1)


class GarchMarketModel(MarketModel):
    """Market model with GARCH(1,1) errors (Bollerslev 1986), fitted by maximum likelihood with the
    ``arch`` package: ``R_t = alpha + beta R_mt + e_t``, ``e_t ~ N(0, s2_t)``,
    ``s2_t = omega + a e_{t-1}^2 + b s2_{t-1}``. Event-window ARs are standardised by the GARCH
    variance forecast from the end of the estimation window (``s2_{T+h|T}``), so the tests see
    time-varying volatility. Returns are scaled by 100 for the optimiser; estimation days with a
    missing return are dropped (GARCH needs a contiguous series). Needs ``pip install
    'eventstudy-kit[garch]'``."""

    name = "garch"
    description = "market model with GARCH(1,1) errors"
    methods = (
        "the market model against {market} with GARCH(1,1) errors, fitted by maximum likelihood"
    )
    citations = ("bollerslev-1986",)

    def fit(
        self,
        panel: ReturnsPanel,
        spec: ResolvedEvent,
        factors: FactorData | None,
        col: np.ndarray,
        day0: np.ndarray,
    ) -> BatchFit:
        try:
            from arch import arch_model
        except ImportError:
            raise DataError(
                "model 'garch' needs the arch package: pip install 'eventstudy-kit[garch]'"
            ) from None
        design = self.design(panel, spec, factors)
        (e0, e1), (w0, w1) = spec.estimation_window, spec.event_window
        if e1 >= w0:
            raise DataError(
                f"event {spec.name!r}: model 'garch' forecasts variances forward, so the "
                "estimation window must end before the event window"
            )
        est_rows = day0[:, None] + np.arange(e0, e1 + 1)
        y, x = (
            gather(panel.values, est_rows, col),
            gather(design.regressors, est_rows, None)[..., 0],
        )
        n, horizon = len(col), w1 - e1
        given = np.full((n, 2), np.nan)
        ar_var = np.full((n, w1 - w0 + 1), np.nan)
        extra = {k: np.full(n, np.nan) for k in ("omega", "garch_alpha", "garch_beta")}
        failed: dict[int, str] = {}
        for i in range(n):
            keep = np.isfinite(y[i]) & np.isfinite(x[i])
            if keep.sum() < spec.min_estimation_obs:
                continue  # fit_batch reports the reason
            model = arch_model(
                100 * y[i, keep],
                x=100 * x[i, keep, None],
                mean="LS",
                vol="GARCH",
                p=1,
                q=1,
                rescale=False,
            )
            res = model.fit(disp="off", show_warning=False)
            if res.convergence_flag != 0:
                failed[i] = "GARCH(1,1) likelihood optimisation did not converge"
                continue
            p = res.params
            given[i] = (p.iloc[0] / 100, p.iloc[1])
            extra["omega"][i] = p["omega"] / 1e4
            extra["garch_alpha"][i], extra["garch_beta"][i] = p["alpha[1]"], p["beta[1]"]
            future = np.nan_to_num(
                100 * gather(design.regressors, day0[i] + e1 + 1 + np.arange(horizon), None)[:, 0]
            )
            forecast = res.forecast(horizon=horizon, reindex=False, x=future[None, :])
            variance = forecast.variance.to_numpy()[0] / 1e4  # s2_{T+h|T}, h = 1..horizon
            ar_var[i] = variance[np.arange(w0, w1 + 1) - e1 - 1]
        fit = fit_batch(
            panel.values,
            design,
            col,
            day0,
            spec.estimation_window,
            spec.event_window,
            spec.min_estimation_obs,
            given=given,
        )
        for i, reason in failed.items():
            fit.skip_reason[i] = reason
        bad = ~fit.fitted
        fit.ar[bad] = np.nan
        fit.normal[bad] = np.nan
        fit.params[bad] = np.nan
        ar_var[bad] = np.nan
        fit.ar_var = ar_var
        fit.extra_params = extra
        return fit


def _masked_corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Pearson correlation over the columns where both are present."""
    both = np.isfinite(a) & np.isfinite(b)
    n = both.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ma = np.where(both, a, 0.0).sum(axis=1) / n
        mb = np.where(both, b, 0.0).sum(axis=1) / n
        da = np.where(both, a - ma[:, None], 0.0)
        db = np.where(both, b - mb[:, None], 0.0)
        return (da * db).sum(axis=1) / np.sqrt((da**2).sum(axis=1) * (db**2).sum(axis=1))


MODELS: dict[str, type[NormalReturnModel]] = {
    m.name: m
    for m in (
        ConstantMean,
        MarketAdjusted,
        MarketModel,
        TickerFactorModel,
        FamaFrenchModel,
        Carhart,
        FamaFrench5,
        ScholesWilliams,
        Dimson,
        GarchMarketModel,
    )
}


def get_model(name: str) -> NormalReturnModel:
    try:
        return MODELS[name]()
    except KeyError:
        raise StudyFileError(
            f"unknown model {name!r} (choose from {', '.join(sorted(MODELS))})"
        ) from None
