"""Normal-return models.

A model only says *what* the normal return is regressed on; :mod:`eventstudy.estimation` fits every
firm-event of a batch at once. Adding a model is one small class with a :meth:`design` method and an
entry in :data:`MODELS`.

References: Campbell, Lo & MacKinlay (1997), *The Econometrics of Financial Markets*, ch. 4;
MacKinlay (1997), "Event Studies in Economics and Finance", *JEL* 35(1).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from eventstudy.errors import StudyFileError
from eventstudy.panel import ReturnsPanel


@dataclass(frozen=True)
class Design:
    """What a model regresses a firm's return on, shared by every firm on a date.

    ``regressors`` is T x k on the panel's calendar (k may be 0). With ``estimate=True`` the normal
    return is ``alpha + regressors @ beta`` fitted by OLS (``alpha`` only if ``intercept``); with
    ``estimate=False`` it is ``regressors @ fixed_coef`` and nothing is estimated.
    """

    regressors: np.ndarray
    names: tuple[str, ...]
    intercept: bool = True
    estimate: bool = True
    fixed_coef: np.ndarray | None = None
    sources: tuple[str, ...] = field(default_factory=tuple)

    @property
    def k(self) -> int:
        return self.regressors.shape[1]

    @property
    def n_params(self) -> int:
        """Number of estimated parameters (the residual degrees of freedom are M - n_params)."""
        if not self.estimate:
            return 0
        return self.k + int(self.intercept)

    @property
    def param_names(self) -> tuple[str, ...]:
        if not self.estimate:
            return ()
        return (("alpha",) if self.intercept else ()) + tuple(f"beta_{n}" for n in self.names)


class NormalReturnModel(ABC):
    """Base class of the normal-return models."""

    name: ClassVar[str]
    description: ClassVar[str]

    @abstractmethod
    def design(self, panel: ReturnsPanel, market: str) -> Design:
        """The regressors for this model on ``panel``'s calendar."""


class ConstantMean(NormalReturnModel):
    """Constant-mean-return model: normal return = the estimation-window mean (CLM 1997, 4.3.1)."""

    name = "constant-mean"
    description = "constant-mean-return model"

    def design(self, panel: ReturnsPanel, market: str) -> Design:
        return Design(regressors=np.empty((len(panel.dates), 0)), names=())


class MarketAdjusted(NormalReturnModel):
    """Market-adjusted model: normal return = the market return (alpha 0, beta 1 imposed).

    The AR variance is the sample variance of ``R - Rm`` over the estimation window (denominator
    M - 1), as in Stata's ``estudy`` and R's ``EventStudy``."""

    name = "market-adjusted"
    description = "market-adjusted model"

    def design(self, panel: ReturnsPanel, market: str) -> Design:
        return Design(
            regressors=panel.series(market)[:, None],
            names=(market,),
            intercept=False,
            estimate=False,
            fixed_coef=np.ones(1),
        )


class MarketModel(NormalReturnModel):
    """OLS market model ``R_it = alpha_i + beta_i R_mt + e_it`` (CLM 1997, 4.3.2)."""

    name = "market"
    description = "OLS market model"

    def design(self, panel: ReturnsPanel, market: str) -> Design:
        return Design(regressors=panel.series(market)[:, None], names=(market,))


MODELS: dict[str, type[NormalReturnModel]] = {
    m.name: m for m in (ConstantMean, MarketAdjusted, MarketModel)
}


def get_model(name: str) -> NormalReturnModel:
    try:
        return MODELS[name]()
    except KeyError:
        raise StudyFileError(
            f"unknown model {name!r} (choose from {', '.join(sorted(MODELS))})"
        ) from None
