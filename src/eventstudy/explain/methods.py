"""The cross-sectional methods of :class:`~eventstudy.results.EventStudyResults`
(docs/explaining.md): :meth:`ExplainMethods.with_characteristics`, :meth:`~ExplainMethods.regress`
and the frames ``regressions.csv``, ``group_tests.csv``, ``group_means.csv`` and
``characteristics.csv`` hold.

>>> res2 = res.with_characteristics(chars, regressions=["car ~ C(sector)"],
...                                 groups=["sector"])                  # doctest: +SKIP
>>> res2.regress("car ~ np.log(market_value)", window=(0, 0)).summary()  # doctest: +SKIP
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import pandas as pd

from eventstudy.errors import DataError, StudyFileError, listed
from eventstudy.explain.characteristics import (
    builtin_variables,
    characteristics_table,
    check_known,
    cross_section,
    fitted_firm_events,
    per_firm_event,
)
from eventstudy.explain.groups import group_frames
from eventstudy.explain.regression import (
    Regression,
    RegressionEntry,
    fit_regression,
    regression_rows,
    resolve_regressions,
    window_text,
)
from eventstudy.study import DEFAULTS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from eventstudy.output.source import ResultSource
    from eventstudy.study import ResolvedEvent


@dataclass
class Explanation:
    """What a study explains its reactions with: the characteristics of each fitted firm-event
    (None: the built-in variables only), the regressions and the grouping columns, with the
    frames computed from them (by :meth:`ExplainMethods.with_characteristics`, once)."""

    characteristics: pd.DataFrame | None
    regressions: tuple[Regression, ...] = ()
    groups: tuple[str, ...] = ()
    frames: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)


class ExplainMethods:
    """Mixed into :class:`~eventstudy.results.EventStudyResults`: it reads the results' frames
    and keeps what it adds in their ``explanation``."""

    explanation: Explanation | None

    if TYPE_CHECKING:  # the results class has them

        @property
        def events(self) -> Sequence[ResolvedEvent]: ...

        def car_frame(self) -> pd.DataFrame: ...

        def bhar_frame(self) -> pd.DataFrame: ...

        def valuation_frame(self) -> pd.DataFrame: ...

        def params_frame(self) -> pd.DataFrame: ...

    def with_characteristics(
        self,
        frame: pd.DataFrame | None,
        *,
        regressions: Sequence[RegressionEntry] | RegressionEntry = (),
        groups: Sequence[str] = (),
    ) -> Any:
        """These results carrying firm characteristics, regressions and group comparisons
        (what the study keys ``characteristics``, ``regressions`` and ``groups`` ask for):
        :meth:`save` then writes ``characteristics.csv``, ``regressions.csv``,
        ``group_tests.csv`` and ``group_means.csv``, and the summary, report and charts show
        them. The results themselves are not changed.

        Parameters
        ----------
        frame
            Characteristics keyed by ``ticker`` (one row per firm) or ``event,ticker`` (one row
            per firm-event), numeric or text columns; None: the built-in variables only
            (``car``, ``car_se``, ``bhar``, ``market_value``, ``beta``, ``sigma``, ``event``,
            ``ticker``).
        regressions
            Regressions to fit: formulas, or dicts / :class:`~eventstudy.study.RegressionSpec`
            with the study file's keys (``formula, name, window, cov, cluster, weights``).
        groups
            Characteristic columns (or ``event``) whose values split the firm-events.

        Raises
        ------
        DataError
            One line: an unknown, missing or duplicate key, a column named like a built-in
            variable, a regression that cannot be fitted (naming it), an unknown group column.
        StudyFileError
            A regression entry with a bad key or value.
        """
        where = "characteristics" if frame is None else frame.attrs.get("source", "characteristics")
        table = self._characteristics_of(frame, str(where))
        specs = tuple(resolve_regressions(regressions))
        if isinstance(groups, str):
            groups = [groups]
        columns = ["event"] + ([] if table is None else list(table.columns[2:]))
        for column in groups:
            if column not in columns:
                raise DataError(
                    f"groups: unknown column {column!r} (characteristics: "
                    f"{listed(columns[1:]) or 'none'}; or 'event')"
                )
        explanation = Explanation(table, specs, tuple(dict.fromkeys(groups)))
        explanation.frames.update(self._explain_frames(explanation))
        out = copy.copy(self)
        out.explanation = explanation
        return out

    def _characteristics_of(self, frame: pd.DataFrame | None, where: str) -> pd.DataFrame | None:
        if frame is None:
            return None
        table = characteristics_table(frame, where)
        check_known(table, self.events, where)
        return per_firm_event(table, fitted_firm_events(self.car_frame()), where)

    def _cross_section(
        self, window: tuple[int, int], characteristics: pd.DataFrame | None
    ) -> pd.DataFrame:
        return cross_section(
            window,
            self.car_frame(),
            self.bhar_frame(),
            self._builtins(),
            characteristics,
        )

    def _builtins(self) -> pd.DataFrame:
        return builtin_variables(
            self.car_frame(), self.valuation_frame(), self.params_frame(), self.events
        )

    def _explain_frames(self, explanation: Explanation) -> dict[str, pd.DataFrame]:
        table = explanation.characteristics
        frames: dict[str, pd.DataFrame] = {}
        if explanation.regressions:
            rows = []
            for reg in explanation.regressions:
                result = fit_regression(reg, self._cross_section(reg.window, table))
                rows.append(regression_rows(reg, result))
            frames["regressions"] = pd.concat(rows, ignore_index=True)
        if explanation.groups:
            windows = list(dict.fromkeys(w for e in self.events for w in e.car_windows))
            data = {w: self._cross_section(w, table) for w in windows}
            means, tests = group_frames(explanation.groups, windows, data)
            frames["group_means"], frames["group_tests"] = means, tests
        return frames

    def regress(
        self,
        formula: str,
        window: tuple[int, int] = DEFAULTS.regression_window,
        cov_type: str = DEFAULTS.regression_cov,
        data: pd.DataFrame | None = None,
        *,
        weights: str = DEFAULTS.regression_weights,
        cluster: str | None = None,
    ) -> Any:
        """Regress the CAR (or BHAR) of ``window`` across firm-events on the characteristics
        with a statsmodels formula, and return statsmodels' results object (``summary()``,
        ``params``, ``bse``, ``conf_int()``, ``t_test()`` ...).

        ``formula``: e.g. ``car ~ np.log(market_value) + C(sector)`` (``bhar ~ ...`` for a BHAR
        window); the built-in variables and the characteristics are its variables.
        ``cov_type``: ``nonrobust``, ``HC1``, ``HC3`` or ``cluster`` (by event, or by the column
        ``cluster``). ``data``: characteristics to use instead of those the results carry
        (keyed by ``ticker`` or ``event,ticker``). ``weights``: ``none`` or ``precision`` (WLS
        with weights 1 / se^2 of each CAR). t and p on Student's t (docs/explaining.md).

        Raises
        ------
        DataError
            One line naming the formula: an unknown variable, no firm-event with the window,
            too few firm-events, a singular design.
        """
        entry: dict[str, Any] = {
            "formula": formula,
            "window": list(window),
            "cov": cov_type,
            "weights": weights,
        }
        if cluster is not None:
            entry["cluster"] = cluster
        try:
            (reg,) = resolve_regressions([entry], "regress")
        except StudyFileError as exc:
            raise DataError(str(exc).replace("regress[0].", "regress: ")) from None
        reg = Regression(
            label="", formula=reg.formula, window=reg.window, cov=reg.cov,
            cluster=reg.cluster, weights=reg.weights,
        )  # fmt: skip
        if data is not None:
            table = self._characteristics_of(data, "data")
        else:
            table = self.explanation.characteristics if self.explanation is not None else None
        return fit_regression(reg, self._cross_section(reg.window, table))

    def cross_section_frame(self, window: tuple[int, int] = DEFAULTS.regression_window) -> Any:
        """The data a regression of ``window`` reads: one row per fitted firm-event with the
        window, ``event,ticker,car,car_se[,bhar],market_value,beta,sigma`` and the
        characteristics."""
        table = self.explanation.characteristics if self.explanation is not None else None
        return self._cross_section((int(window[0]), int(window[1])), table)

    def _explained(self, name: str) -> pd.DataFrame | None:
        if self.explanation is None or name not in self.explanation.frames:
            return None
        return self.explanation.frames[name].copy()

    def characteristics_frame(self) -> pd.DataFrame | None:
        """``characteristics.csv``: each fitted firm-event's characteristics
        (``event,ticker,<columns>``), or None without characteristics."""
        if self.explanation is None or self.explanation.characteristics is None:
            return None
        return self.explanation.characteristics.copy()

    def regressions_frame(self) -> pd.DataFrame | None:
        """``regressions.csv``: one row per regression and term
        (``regression,window,term,coef,se,t,p,n,r2,cov,df,weights,formula``), or None when no
        regression was asked for."""
        return self._explained("regressions")

    def group_tests_frame(self) -> pd.DataFrame | None:
        """``group_tests.csv``: per grouping column, CAR window and test
        (``grouping,window,test,statistic,p,groups,n,df1,df2,note``), or None without
        ``groups``."""
        return self._explained("group_tests")

    def group_means_frame(self) -> pd.DataFrame | None:
        """``group_means.csv``: per grouping column, CAR window and group, the mean CAR with its
        95% confidence interval (``grouping,window,group,n,mean,median,sd,se,ci_low,ci_high``),
        or None without ``groups``."""
        return self._explained("group_means")

    def plot_groups(self, grouping: str | None = None, **kwargs: Any) -> Figure:
        """Mean CAR by group with 95% confidence intervals, per CAR window
        (:func:`~eventstudy.output.plots.explain_charts.plot_groups`)."""
        from eventstudy.output.plots.explain_charts import plot_groups

        return plot_groups(cast("ResultSource", self), grouping, **kwargs)

    def plot_scatter(
        self, x: str | None = None, window: tuple[int, int] | None = None, **kwargs: Any
    ) -> Figure:
        """CAR against one numeric variable with the OLS fit line
        (:func:`~eventstudy.output.plots.explain_charts.plot_scatter`)."""
        from eventstudy.output.plots.explain_charts import plot_scatter

        return plot_scatter(cast("ResultSource", self), x, window, **kwargs)


__all__ = ["ExplainMethods", "Explanation", "window_text"]
