"""Group comparisons of CARs (docs/explaining.md): a characteristic column (or ``event``) splits
the firm-events of each CAR window into groups; per group the mean CAR with its 95% confidence
interval, and the tests of a difference between the groups, p-values from scipy:

* two groups: Welch's t (Welch 1947; unequal variances, Welch-Satterthwaite degrees of freedom),
  first group minus second, and the Mann-Whitney U of the first group (Mann & Whitney 1947;
  scipy's ``method="auto"``: exact when a group has at most 8 firm-events and there are no
  ties, else the normal approximation with tie and continuity corrections);
* three or more: the one-way ANOVA F (Fisher 1925) and the Kruskal-Wallis H (Kruskal & Wallis
  1952; tie-corrected, chi-squared on ``k - 1`` degrees of freedom).

Groups are sorted (numbers by value, text alphabetically); firm-events with a missing CAR or
group are left out. A window with one group has no test rows.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from eventstudy.explain.regression import window_text

#: Columns of ``group_tests.csv``: one row per grouping column, CAR window and test.
GROUP_TESTS_COLUMNS = [
    "grouping",
    "window",
    "test",
    "statistic",
    "p",
    "groups",
    "n",
    "df1",
    "df2",
    "note",
]
#: Columns of ``group_means.csv``: one row per grouping column, CAR window and group.
GROUP_MEANS_COLUMNS = [
    "grouping",
    "window",
    "group",
    "n",
    "mean",
    "median",
    "sd",
    "se",
    "ci_low",
    "ci_high",
]


@dataclass(frozen=True)
class GroupTest:
    """A test of ``group_tests.csv``: its key, label, short label (the terminal) and citation
    keys."""

    name: str
    label: str
    short: str
    citations: tuple[str, ...]
    #: The report's methods phrase.
    methods: str = ""


#: The group tests, by key (the ``test`` column).
GROUP_TESTS = {
    t.name: t
    for t in (
        GroupTest(
            "welch_t", "Welch t (unequal variances)", "Welch t", ("welch-1947",),
            "Welch's t-test for unequal variances (Welch 1947)",
        ),
        GroupTest(
            "mann_whitney", "Mann-Whitney U", "Mann-Whitney U", ("mann-whitney-1947",),
            "the Mann-Whitney U test (Mann & Whitney 1947)",
        ),
        GroupTest(
            "anova", "One-way ANOVA F", "ANOVA F", ("fisher-1925",),
            "the one-way analysis of variance F test (Fisher 1925)",
        ),
        GroupTest(
            "kruskal_wallis", "Kruskal-Wallis H", "Kruskal-Wallis H", ("kruskal-wallis-1952",),
            "the Kruskal-Wallis H test (Kruskal & Wallis 1952)",
        ),
    )
}


def group_label(value: object) -> str:
    """A group's name: text as it is, a whole number without ``.0``."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def compare_groups(
    grouping: str, window: tuple[int, int], data: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``group_means.csv`` and ``group_tests.csv`` rows of one grouping column and CAR window;
    ``data``: the window's cross-section (``car`` and the ``grouping`` column)."""
    use = data[data["car"].notna().to_numpy() & data[grouping].notna().to_numpy()]
    keys = sorted(pd.unique(use[grouping]))
    samples = [use.loc[use[grouping] == key, "car"].to_numpy(dtype=float) for key in keys]
    labels = [group_label(key) for key in keys]
    means = pd.DataFrame(
        [_describe(grouping, window, label, x) for label, x in zip(labels, samples, strict=True)],
        columns=GROUP_MEANS_COLUMNS,
    )
    tests = pd.DataFrame(_tests(grouping, window, samples), columns=GROUP_TESTS_COLUMNS)
    return means, tests


def _describe(grouping: str, window: tuple[int, int], label: str, x: np.ndarray) -> dict:
    from scipy import stats  # here: ``import eventstudy`` does not load scipy.stats

    n = len(x)
    sd = float(np.std(x, ddof=1)) if n > 1 else np.nan
    se = sd / np.sqrt(n) if n > 1 else np.nan
    half = float(stats.t.ppf(0.975, n - 1)) * se if n > 1 else np.nan
    mean = float(np.mean(x))
    return {
        "grouping": grouping,
        "window": window_text(window),
        "group": label,
        "n": n,
        "mean": mean,
        "median": float(np.median(x)),
        "sd": sd,
        "se": se,
        "ci_low": mean - half,
        "ci_high": mean + half,
    }


def _tests(grouping: str, window: tuple[int, int], samples: Sequence[np.ndarray]) -> list[dict]:
    from scipy import stats

    k, n = len(samples), int(sum(len(x) for x in samples))
    if k < 2:
        return []
    small = any(len(x) < 2 for x in samples)
    rows = []

    def row(test: str, statistic: float, p: float, df1: float, df2: float, note: str) -> None:
        if not np.isfinite(statistic) and not note:
            note = "the CARs do not vary" if not small else "a group has one firm-event"
        rows.append(
            {
                "grouping": grouping,
                "window": window_text(window),
                "test": test,
                "statistic": statistic,
                "p": p,
                "groups": k,
                "n": n,
                "df1": df1,
                "df2": df2,
                "note": note,
            }
        )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # degenerate samples give NaN, and a note says why
        if k == 2:
            a, b = samples
            welch = stats.ttest_ind(a, b, equal_var=False)
            df = float(getattr(welch, "df", np.nan))
            row("welch_t", float(welch.statistic), float(welch.pvalue), df, np.nan, "")
            mw = stats.mannwhitneyu(a, b, alternative="two-sided")
            row("mann_whitney", float(mw.statistic), float(mw.pvalue), np.nan, np.nan, "")
        else:
            f = stats.f_oneway(*samples)
            row("anova", float(f.statistic), float(f.pvalue), k - 1, n - k, "")
            try:
                h = stats.kruskal(*samples)
                stat, p, note = float(h.statistic), float(h.pvalue), ""
            except ValueError:  # every value identical
                stat, p, note = np.nan, np.nan, "the CARs do not vary"
            row("kruskal_wallis", stat, p, k - 1, np.nan, note)
    return rows


def group_frames(
    groupings: Sequence[str],
    windows: Sequence[tuple[int, int]],
    data_of: dict[tuple[int, int], pd.DataFrame],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``group_means.csv`` and ``group_tests.csv`` of every grouping column and CAR window
    (``data_of``: the cross-section of each window)."""
    means, tests = [], []
    for grouping in groupings:
        for window in windows:
            m, t = compare_groups(grouping, window, data_of[window])
            means.append(m)
            tests.append(t)
    return _concat(means, GROUP_MEANS_COLUMNS), _concat(tests, GROUP_TESTS_COLUMNS)


def _concat(parts: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)[columns]
