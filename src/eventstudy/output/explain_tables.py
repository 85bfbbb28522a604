"""The cross-sectional results (docs/explaining.md) in the report, the summary and the terminal:
the regression table (coefficients with their standard errors in parentheses and stars, N, R²,
the covariance), the group means and the group tests, the terminal's brief block and the methods
paragraph with its citations.

They read ``regressions_frame()``, ``group_tests_frame()`` and ``group_means_frame()`` of a
:class:`~eventstudy.output.source.ResultSource` where it has them (in memory or read back from a
results folder); a source without them gets nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from eventstudy.explain.groups import GROUP_TESTS
from eventstudy.explain.regression import parse_window
from eventstudy.output.format import (
    STARS_NOTE,
    _stars,
    _text,
    fmt_coef,
    fmt_int,
    fmt_num,
    fmt_p,
    fmt_pct,
    fmt_window,
    significance_mark,
    term_coef,
    term_num,
    term_pct,
)
from eventstudy.output.tables import Cell, Table
from eventstudy.references import CITES, short_citations

if TYPE_CHECKING:
    from eventstudy.output.source import ResultSource

__all__ = [
    "explain_lines",
    "explain_methods",
    "explain_tables",
    "explained",
    "group_tables",
    "regression_table",
]

#: How the covariance reads in a table, by ``regressions.csv``'s ``cov``.
_COV_LABELS = {"nonrobust": "classical", "HC1": "HC1", "HC3": "HC3"}
#: Papers of each covariance.
_COV_CITATIONS = {
    "HC1": ("white-1980", "mackinnon-white-1985"),
    "HC3": ("mackinnon-white-1985",),
    "cluster": ("liang-zeger-1986", "cameron-miller-2015"),
}


def explained(source: ResultSource, name: str) -> pd.DataFrame | None:
    """``regressions``, ``group_tests`` or ``group_means`` of ``source`` (None when it has no
    such frame, or an empty one)."""
    method = getattr(source, f"{name}_frame", None)
    frame = method() if method is not None else None
    return frame if frame is not None and len(frame) else None


def _measure(formula: str) -> str:
    lhs = str(formula).split("~", 1)[0].strip()
    return "BHAR" if lhs == "bhar" else "CAR" if lhs == "car" else lhs


def _regressions(frame: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    return [(str(k), g) for k, g in frame.groupby("regression", sort=False)]


def regression_table(frame: pd.DataFrame) -> Table:
    """``regressions.csv`` as a journal table: a column per regression, a row per term
    (coefficient with stars, its standard error in parentheses below), then the dependent
    variable, N, R², the covariance and the weights."""
    regs = _regressions(frame)
    terms = list(dict.fromkeys(frame["term"].astype(str)))
    by = {name: {str(r["term"]): r for r in g.to_dict("records")} for name, g in regs}
    rows = []
    for term in terms:
        coef, se = [Cell(term)], [Cell("")]
        for name, _g in regs:
            r = by[name].get(term)
            coef.append(Cell(fmt_coef(r["coef"]), _stars(r["p"])) if r else Cell(""))
            se.append(Cell(f"({fmt_coef(r['se'])})") if r else Cell(""))
        rows += [coef, se]
    first = [g.iloc[0] for _name, g in regs]
    rows.append(
        [Cell("Dependent variable")]
        + [Cell(f"{_measure(r['formula'])} {fmt_window(parse_window(r['window']))}") for r in first]
    )
    rows.append([Cell("N")] + [Cell(fmt_int(r["n"])) for r in first])
    rows.append([Cell("R²")] + [Cell(fmt_num(r["r2"], 3)) for r in first])
    rows.append([Cell("Covariance")] + [Cell(_cov_label(r["cov"])) for r in first])
    rows.append([Cell("Weights")] + [Cell(_weights_label(r["weights"])) for r in first])
    heads = [
        f"({k})" if name == str(k) else f"({k}) {name}" for k, (name, _g) in enumerate(regs, 1)
    ]
    formulas = "; ".join(f"({k}) {r['formula']}" for k, r in enumerate(first, 1))
    return Table(
        key="regressions",
        caption="Cross-sectional regressions of abnormal returns on firm characteristics",
        columns=["Term", *heads],
        rows=rows,
        align=["l"] + ["r"] * len(regs),
        notes=[
            f"Formulas: {formulas}. Coefficients with their standard errors in parentheses; "
            "t and p on Student's t with n − k degrees of freedom (clustered: the number of "
            "clusters − 1). HC1: White (1980) with the n/(n − k) correction; HC3: MacKinnon & "
            "White (1985); clustered: Liang & Zeger (1986). Precision weights: WLS with "
            "weights 1/se² of each CAR (R² weighted). " + STARS_NOTE
        ],
    )


def _cov_label(cov: Any) -> str:
    text = _text(cov)
    return _COV_LABELS.get(text, text.replace("cluster(", "clustered by ").rstrip(")"))


def _weights_label(weights: Any) -> str:
    return "1/se² (WLS)" if _text(weights) == "precision" else "none (OLS)"


def group_tables(tests: pd.DataFrame | None, means: pd.DataFrame | None) -> list[Table]:
    """Per grouping column the group means by window (with 95% confidence intervals), then one
    table of every group test."""
    out = []
    if means is not None:
        for grouping, g in means.groupby("grouping", sort=False):
            rows = [
                [
                    Cell(fmt_window(parse_window(r["window"]))),
                    Cell(_text(r["group"])),
                    Cell(fmt_int(r["n"])),
                    Cell(fmt_pct(r["mean"])),
                    Cell(fmt_pct(r["median"])),
                    Cell(_interval(r["ci_low"], r["ci_high"])),
                ]
                for r in g.to_dict("records")
            ]
            out.append(
                Table(
                    key=f"group-means:{grouping}",
                    caption=f"Mean CAR by {grouping}",
                    columns=["Window", "Group", "N", "Mean CAR", "Median CAR", "95% CI"],
                    rows=rows,
                    align=list("nlrrrn"),
                    notes=[
                        "Firm-events of every event with the window, pooled. 95% CI: mean ± "
                        "t(0.975, N − 1)·sd/√N."
                    ],
                )
            )
    if tests is not None:
        rows = []
        for r in tests.to_dict("records"):
            test = GROUP_TESTS.get(str(r["test"]))
            rows.append(
                [
                    Cell(_text(r["grouping"])),
                    Cell(fmt_window(parse_window(r["window"]))),
                    Cell(test.label if test else _text(r["test"])),
                    Cell(fmt_num(r["statistic"]), _stars(r["p"]), title=_text(r.get("note"))),
                    Cell(_df(r["df1"], r["df2"])),
                    Cell(fmt_p(r["p"])),
                    Cell(fmt_int(r["groups"])),
                    Cell(fmt_int(r["n"])),
                    Cell(short_citations(test.citations) if test else ""),
                ]
            )
        out.append(
            Table(
                key="group-tests",
                caption="Tests of a difference in CARs between groups",
                columns=["Grouping", "Window", "Test", "Statistic", "df", "p", "Groups", "N",
                         "Reference"],
                rows=rows,
                align=list("lnlrrrrrl"),
                notes=[
                    "Two groups: Welch's t (first group minus second, in the order of the means "
                    "table) and the Mann-Whitney U of the first group; more: one-way ANOVA and "
                    "Kruskal-Wallis. p-values two-sided. " + STARS_NOTE
                ],
            )
        )  # fmt: skip
    return out


def _interval(low: Any, high: Any) -> str:
    if not (np.isfinite(float(low)) and np.isfinite(float(high))):
        return "n/a"
    return f"[{fmt_pct(low)}, {fmt_pct(high)}]"


def _df(df1: Any, df2: Any) -> str:
    parts = [fmt_num(d, 1 if float(d) != round(float(d)) else 0) for d in (df1, df2)
             if pd.notna(d)]  # fmt: skip
    return ", ".join(parts)


def explain_tables(source: ResultSource) -> list[Table]:
    """The report's cross-sectional tables: the regressions, then the group comparisons."""
    regressions = explained(source, "regressions")
    out = [regression_table(regressions)] if regressions is not None else []
    return out + group_tables(explained(source, "group_tests"), explained(source, "group_means"))


def explain_lines(source: ResultSource) -> list[str]:
    """The terminal's block: each regression's coefficients (standard errors in parentheses)
    with N, R² and the covariance; each grouping's means per window and its tests."""
    lines: list[str] = []
    regressions = explained(source, "regressions")
    if regressions is not None:
        lines += ["", "Cross-sectional regressions (coefficient, standard error in parentheses)"]
        for k, (name, g) in enumerate(_regressions(regressions), start=1):
            r = g.iloc[0]
            window = parse_window(r["window"])
            label = f"({k})" if name == str(k) else f"({k}) {name}:"
            lines.append(
                f"  {label} {r['formula']}; {_measure(r['formula'])}[{window[0]},{window[1]}], "
                f"{_cov_label(r['cov'])}, N={fmt_int(r['n'])}, R2={term_num(r['r2'], 3)}"
            )
            for t in g.itertuples():
                coef = term_coef(t.coef) + significance_mark(float(t.p))
                lines.append(f"      {t.term!s:<32}{coef:>14}  ({term_coef(t.se)})")
    means, tests = explained(source, "group_means"), explained(source, "group_tests")
    if means is not None:
        lines += ["", "Group comparisons (mean CAR, pooled over events)"]
        for (grouping, window), g in means.groupby(["grouping", "window"], sort=False):
            a, b = parse_window(str(window))
            cells = ", ".join(
                f"{r.group} {term_pct(r.mean)} (n={fmt_int(r.n)})" for r in g.itertuples()
            )
            lines.append(f"  {grouping}, CAR[{a},{b}]: {cells}")
            if tests is not None:
                mine = tests[(tests["grouping"] == grouping) & (tests["window"] == window)]
                shown = [
                    f"{GROUP_TESTS[str(t.test)].short} = {term_num(t.statistic)}, "
                    f"{_p_text(t.p)}{significance_mark(float(t.p))}"
                    for t in mine.itertuples()
                    if str(t.test) in GROUP_TESTS
                ]
                if shown:
                    lines.append("      " + "; ".join(shown))
    return lines


def _p_text(p: Any) -> str:
    text = fmt_p(p)
    return f"p{text}" if text.startswith("<") else f"p={text}"


def explain_methods(source: ResultSource) -> tuple[list[str], list[str]]:
    """The methods paragraph of the cross-sectional analysis and its citation keys (nothing
    without it)."""
    regressions = explained(source, "regressions")
    tests = explained(source, "group_tests")
    sentences, cited = [], []
    if regressions is not None:
        covs = list(dict.fromkeys(str(c) for c in regressions["cov"]))
        kinds = list(dict.fromkeys("cluster" if c.startswith("cluster") else c for c in covs))
        keys = list(dict.fromkeys(k for kind in kinds for k in _COV_CITATIONS.get(kind, ())))
        cite = "; ".join(CITES[k].replace(" (", " ").rstrip(")") for k in keys)
        weights = set(regressions["weights"].astype(str))
        how = (
            "by WLS with weights 1/Var(CAR)"
            if weights == {"precision"}
            else "by OLS, or by WLS with weights 1/Var(CAR) where precision weights are asked for"
            if "precision" in weights
            else "by OLS"
        )
        sentences.append(
            "To explain the reactions, we regress the firm-events' CARs on firm "
            f"characteristics across firms (Sefcik & Thompson 1986) {how}, with "
            + _and([_cov_label(c) for c in covs])
            + " standard errors"
            + (f" ({cite})" if cite else "")
            + "; t-statistics use Student's t with n − k degrees of freedom"
            + ("" if "cluster" not in kinds else " (clustered: the number of clusters − 1)")
            + "."
        )
        cited += ["sefcik-thompson-1986", *keys]
    if tests is not None:
        present = [GROUP_TESTS[t] for t in dict.fromkeys(tests["test"].astype(str))
                   if t in GROUP_TESTS]  # fmt: skip
        sentences.append(
            "Groups of firm-events are compared with "
            + _and([t.methods for t in present])
            + "; p-values are two-sided."
        )
        cited += [k for t in present for k in t.citations]
    return [" ".join(sentences)] if sentences else [], list(dict.fromkeys(cited))


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
