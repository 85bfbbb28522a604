"""Tests of mean buy-and-hold abnormal returns (BHARs), per event and pooled, per BHAR window.

The BHARs of firm-events are compounded over long windows, so their cross-section is skewed: next to
the cross-sectional t (Brown & Warner 1985) the skewness-adjusted t (Hall 1992; Lyon, Barber & Tsai
1999) is reported. Both are computed from the BHARs themselves (no residuals), so they are not
part of the battery's engine; :data:`eventstudy.inference.registry.BHAR_TESTS` names them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from eventstudy.inference.registry import BHAR_TESTS
from eventstudy.inference.stats import (
    grouped_cross_sectional_t,
    skewness_adjusted_statistic,
    t_pvalue,
)
from eventstudy.study import POOLED


def bhar_tests(bhar: pd.DataFrame) -> pd.DataFrame:
    """Cross-sectional and skewness-adjusted t (Lyon, Barber & Tsai 1999) of mean BHARs, per event
    and pooled (``all``), per BHAR window.

    ``bhar``: one row per firm-event and BHAR window, columns ``event, start, end, bhar`` (as
    ``EventStudyResults.bhar_frame()``). Returns the battery's columns
    ``event, test, start, end, statistic, p_value, n, df, note``, per (event, window) in order of
    first appearance (events, then ``all``) the two tests; an empty frame without BHARs. Both t on
    ``N - 1`` df, two-sided; the cross-sectional t needs 2 firm-events, the skewness-adjusted 3."""
    if bhar.empty:
        return pd.DataFrame()
    both = pd.concat([bhar, bhar.assign(event=POOLED)], ignore_index=True)
    codes, keys = pd.MultiIndex.from_frame(both[["event", "start", "end"]]).factorize()
    x = both["bhar"].to_numpy(dtype=float)
    cs = grouped_cross_sectional_t(codes, x, len(keys))
    n, mean, sd = cs["n"][:, 0], cs["mean"][:, 0], cs["sd"][:, 0]
    dev = np.where(np.isfinite(x), x - mean[codes], 0.0)
    cubes = np.bincount(codes, weights=dev * dev * dev, minlength=len(keys))
    parts = []
    for test, stat, need in (
        (BHAR_TESTS[0].name, cs["t"][:, 0], 2),
        (BHAR_TESTS[1].name, skewness_adjusted_statistic(n, mean, sd, cubes), 3),
    ):
        ok = (n >= need) & np.isfinite(stat)
        parts.append(
            pd.DataFrame(
                {
                    "event": keys.get_level_values(0),
                    "test": test,
                    "start": keys.get_level_values(1),
                    "end": keys.get_level_values(2),
                    "statistic": np.where(ok, stat, np.nan),
                    "p_value": np.where(ok, t_pvalue(stat, n - 1), np.nan),
                    "n": n,
                    "df": np.where(ok, n - 1.0, np.nan),
                    "note": [
                        "" if good else f"needs at least {need} firm-events (has {k})"
                        for good, k in zip(ok, n, strict=True)
                    ],
                    "_key": np.arange(len(keys)),
                }
            )
        )
    out = pd.concat(parts, ignore_index=True).sort_values("_key", kind="stable")
    return out.drop(columns="_key").reset_index(drop=True)
