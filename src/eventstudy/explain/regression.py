"""Cross-sectional regressions of CARs (or BHARs) on firm characteristics (docs/explaining.md).

A regression is a statsmodels formula fitted by OLS (or WLS with precision weights) on the
cross-section of one window (:func:`~eventstudy.explain.characteristics.cross_section`), with a
classical, heteroskedasticity-consistent (HC1, HC3: White 1980; MacKinnon & White 1985) or
cluster-robust covariance. t and p come from Student's t on the residual degrees of freedom
(``n - k``; clustered: the number of clusters minus one), as Stata's ``regress`` has them.

Every problem is one line naming the regression: a formula naming an unknown variable, a window
no firm-event has, too few firm-events for the coefficients, a singular design, precision weights
without standard errors, fewer than two clusters.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from eventstudy.errors import DataError, StudyFileError, listed
from eventstudy.study import DEFAULTS, RegressionSpec, format_error

#: Columns of ``regressions.csv``: one row per regression and term.
REGRESSION_COLUMNS = [
    "regression",
    "window",
    "term",
    "coef",
    "se",
    "t",
    "p",
    "n",
    "r2",
    "cov",
    "df",
    "weights",
    "formula",
]
#: What a formula may call besides its variables: numpy as ``np`` (patsy adds ``C``, ``I``,
#: ``Q``, ``center``, ``standardize``, ``scale``).
_NAMESPACE: dict[str, Any] = {"np": np}
_UNKNOWN_NAME = re.compile(r"name '([^']+)' is not defined")


#: A regression as the library takes it: a study-file entry, a dict of its keys, or a formula.
RegressionEntry = RegressionSpec | Mapping[str, Any] | str


@dataclass(frozen=True)
class Regression:
    """A regression with every setting filled in: its ``label`` in the tables (its name or
    1-based number), the formula, the window, the covariance (``nonrobust``, ``HC1``, ``HC3``,
    ``cluster``), the cluster column (``event`` unless named; None unless clustered) and the
    weights (``none``, ``precision``)."""

    label: str
    formula: str
    window: tuple[int, int] = DEFAULTS.regression_window
    cov: str = DEFAULTS.regression_cov
    cluster: str | None = None
    weights: str = DEFAULTS.regression_weights

    @property
    def cov_text(self) -> str:
        """``HC1``, ``HC3``, ``nonrobust`` or ``cluster(<column>)``: ``regressions.csv``'s
        ``cov``."""
        return f"cluster({self.cluster})" if self.cov == "cluster" else self.cov

    @property
    def where(self) -> str:
        """How messages name it: ``regression 1 (car ~ C(sector))``."""
        return f"regression {self.label} ({self.formula})"


def window_text(window: Sequence[int]) -> str:
    """``[-1, 1]``: a window as ``regressions.csv`` and ``group_tests.csv`` write it."""
    return f"[{int(window[0])}, {int(window[1])}]"


def parse_window(text: str) -> tuple[int, int]:
    """The window of :func:`window_text` back as a pair."""
    a, b = str(text).strip().strip("[]").split(",")
    return int(a), int(b)


def resolve_regressions(
    entries: Sequence[RegressionEntry] | RegressionEntry, where: str = "regressions"
) -> list[Regression]:
    """Study-file entries (or dicts, or bare formulas) as :class:`Regression` s; a bad entry or
    a name given twice is a one-line :class:`~eventstudy.errors.StudyFileError`."""
    if isinstance(entries, str | Mapping | RegressionSpec):
        entries = [entries]
    out = []
    for k, entry in enumerate(entries):
        try:
            if isinstance(entry, str):
                entry = RegressionSpec(formula=entry)
            elif not isinstance(entry, RegressionSpec):
                entry = RegressionSpec.model_validate(entry)
        except ValidationError as exc:
            raise StudyFileError(f"{where}[{k}].{format_error(dict(exc.errors()[0]))}") from None
        cov = entry.covariance
        out.append(
            Regression(
                label=entry.label(k + 1),
                formula=entry.formula,
                window=(int(entry.window[0]), int(entry.window[1])),
                cov=cov,
                cluster=(entry.cluster or "event") if cov == "cluster" else None,
                weights=entry.weights,
            )
        )
    labels = [r.label for r in out]
    twice = [name for name in labels if labels.count(name) > 1]
    if twice:
        raise StudyFileError(f"{where}: the name {twice[0]!r} is given to two regressions")
    return out


def formula_names(formula: str) -> list[str]:
    """The variables a formula reads (names in its terms, ``Q("...")`` included), in order."""
    from patsy import ModelDesc

    desc = ModelDesc.from_formula(formula)
    names: list[str] = []
    for term in [*desc.lhs_termlist, *desc.rhs_termlist]:
        for factor in term.factors:
            code = getattr(factor, "code", None)
            if code is None:
                continue
            for node in ast.walk(ast.parse(code, mode="eval")):
                if isinstance(node, ast.Name):
                    names.append(node.id)
                elif (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id == "Q"
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                ):
                    names.append(str(node.args[0].value))
    return list(dict.fromkeys(names))


def _environment() -> Any:
    """The names a formula may use (:data:`_NAMESPACE`), never the caller's variables: a dict
    for statsmodels 0.15 and later, a patsy ``EvalEnvironment`` before."""
    import statsmodels

    major, minor = (int(x) for x in statsmodels.__version__.split(".")[:2])
    if (major, minor) >= (0, 15):
        return dict(_NAMESPACE)
    from patsy import EvalEnvironment

    return EvalEnvironment([dict(_NAMESPACE)])


def _model(reg: Regression, data: pd.DataFrame, weights: np.ndarray | None) -> Any:
    """The statsmodels OLS/WLS model of the formula on ``data`` (rows with a missing variable
    dropped); a formula statsmodels cannot read is one line naming the regression."""
    import statsmodels.formula.api as smf
    from patsy import PatsyError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # np.log(0): the row is dropped
            if weights is None:
                return smf.ols(reg.formula, data, eval_env=_environment(), missing="drop")
            return smf.wls(
                reg.formula, data, weights=weights, eval_env=_environment(), missing="drop"
            )
    except PatsyError as exc:
        first = str(exc).splitlines()[0]
        unknown = _UNKNOWN_NAME.search(first)
        if unknown is None:
            raise DataError(f"{reg.where}: cannot evaluate the formula: {first}") from None
        name = unknown.group(1)
        measured = [c for c in ("car", "bhar") if c in data.columns and data[c].notna().any()]
        if name in ("car", "bhar"):
            kind = "a BHAR" if measured == ["bhar"] else "a CAR"
            raise DataError(
                f"{reg.where}: the window {window_text(reg.window)} is {kind} window: its "
                f"dependent variable is {measured[0] if measured else 'car'}, not {name}"
            ) from None
        raise DataError(
            f"{reg.where}: unknown variable {name!r} (variables: {listed(list(data.columns), 20)})"
        ) from None
    except (ValueError, TypeError, KeyError) as exc:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{reg.where}: cannot evaluate the formula: {text}") from None


def fit_regression(reg: Regression, data: pd.DataFrame) -> Any:
    """Fit ``reg`` on the cross-section ``data`` of its window and return statsmodels'
    results (``summary()``, ``params``, ``bse``, ``conf_int()`` ... all work).

    Raises
    ------
    DataError
        One line naming the regression (see the module's docstring).
    """
    if data.empty:
        raise DataError(
            f"{reg.where}: no firm-event has a CAR or BHAR window {window_text(reg.window)}"
        )
    if reg.cov == "cluster":
        column = str(reg.cluster)
        if column not in data.columns or column in ("car", "bhar", "car_se"):
            known = [c for c in data.columns if c not in ("car", "bhar", "car_se")]
            raise DataError(
                f"{reg.where}: cluster: unknown column {column!r} (columns: {listed(known, 20)})"
            )
        data = data[data[column].notna().to_numpy()]
    weights = None
    if reg.weights == "precision":
        se = data["car_se"].to_numpy(dtype=float) if "car_se" in data.columns else None
        if se is None or not np.isfinite(se).any():
            raise DataError(
                f"{reg.where}: weights 'precision' need the CARs' standard errors, and "
                f"{window_text(reg.window)} is not a CAR window (BHARs have none)"
            )
        with np.errstate(divide="ignore", invalid="ignore"):
            w = 1.0 / se**2
        keep = np.isfinite(w) & (w > 0)
        data, weights = data[keep], w[keep]
    model = _model(reg, data, weights)
    n, k = int(model.nobs), int(model.exog.shape[1])
    if n <= k:
        missing = [
            f"{name} for {int(data[name].isna().sum())}"
            for name in formula_names(reg.formula)
            if name in data.columns and data[name].isna().any()
        ]
        why = f" (missing values: {listed(missing)})" if missing else ""
        raise DataError(
            f"{reg.where}: {n} firm-event(s) with every variable for {k} coefficient(s): too few "
            f"to fit{why}"
        )
    collinear = _collinear_terms(model.exog, model.exog_names)
    if collinear:
        raise DataError(
            f"{reg.where}: singular design: {listed(collinear)} "
            f"{'is' if len(collinear) == 1 else 'are'} constant or collinear with the terms "
            "before (a group with no firm-event left once rows with a missing variable are "
            "dropped, or a characteristic that does not vary)"
        )
    if reg.cov != "nonrobust":
        _warn_exact_fits(reg, model, data)
    if reg.cov == "cluster":
        groups = pd.factorize(data.loc[model.data.row_labels, str(reg.cluster)])[0]
        if len(np.unique(groups)) < 2:
            raise DataError(
                f"{reg.where}: cluster({reg.cluster}) needs at least two clusters among the "
                f"{n} firm-events"
            )
        return model.fit(cov_type="cluster", cov_kwds={"groups": groups}, use_t=True)
    if reg.cov == "nonrobust":
        return model.fit(use_t=True)
    return model.fit(cov_type=reg.cov, use_t=True)


def _warn_exact_fits(reg: Regression, model: Any, data: pd.DataFrame) -> None:
    """A firm-event with leverage 1 (the only member of a group) is fitted exactly: its residual
    is 0, so a robust covariance cannot see its variance (HC1 leaves it out, HC3 divides by 0).
    Said once, as a warning naming them."""
    q, _r = np.linalg.qr(np.asarray(model.wexog, dtype=float))
    exact = np.flatnonzero(np.einsum("ij,ij->i", q, q) > 1 - 1e-8)
    if not len(exact):
        return
    rows = data.loc[model.data.row_labels].iloc[exact]
    names = [f"{e} / {t}" for e, t in zip(rows["event"], rows["ticker"], strict=True)]
    warnings.warn(
        f"{reg.where}: {listed(names)} fitted exactly (leverage 1, e.g. the only firm-event of "
        f"a group): the {reg.cov_text} standard errors cannot reflect their variance",
        UserWarning,
        stacklevel=3,
    )


def _collinear_terms(exog: np.ndarray, names: Sequence[str]) -> list[str]:
    """Columns that add nothing to the rank of the columns before them."""
    out, rank = [], 0
    for j in range(exog.shape[1]):
        now = int(np.linalg.matrix_rank(exog[:, : j + 1]))
        if now == rank:
            out.append(str(names[j]))
        rank = now
    return out


def inference_df(result: Any) -> float:
    """The degrees of freedom of the regression's t and p: ``n - k``, or the number of clusters
    minus one for a clustered covariance."""
    df = getattr(result, "df_resid_inference", None)
    return float(result.df_resid if df is None else df)


def regression_rows(reg: Regression, result: Any) -> pd.DataFrame:
    """``regressions.csv``'s rows of one fitted regression: one per term."""
    names = list(result.model.exog_names)
    k = len(names)
    return pd.DataFrame(
        {
            "regression": [reg.label] * k,
            "window": [window_text(reg.window)] * k,
            "term": names,
            "coef": np.asarray(result.params, dtype=float),
            "se": np.asarray(result.bse, dtype=float),
            "t": np.asarray(result.tvalues, dtype=float),
            "p": np.asarray(result.pvalues, dtype=float),
            "n": [int(result.nobs)] * k,
            "r2": [float(result.rsquared)] * k,
            "cov": [reg.cov_text] * k,
            "df": [inference_df(result)] * k,
            "weights": [reg.weights] * k,
            "formula": [reg.formula] * k,
        },
        columns=REGRESSION_COLUMNS,
    )
