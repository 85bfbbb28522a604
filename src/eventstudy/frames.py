"""Building the results' frames: per-batch parts concatenated in study order, text columns in
pandas' own dtype, copies of cached frames. Shared by :mod:`eventstudy.results` and
:mod:`eventstudy.measure_frames`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

#: pandas 3 always copies on write: a shallow copy of a cached frame is then as safe as a deep one.
_COPY_ON_WRITE = int(pd.__version__.split(".")[0]) >= 3


def copy_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of a cached frame that the caller may change without changing the cache."""
    return frame.copy(deep=not _COPY_ON_WRITE)


def text_column(values: np.ndarray, take: np.ndarray | None = None) -> Any:
    """``values[take]`` as pandas' default text column, converted once and then repeated by a
    take: under pandas 3 (Arrow-backed ``str``) a conversion per row costs about ten times more."""
    array = pd.array(np.asarray(values, dtype=object), dtype=_TEXT)
    return array if take is None else array.take(take)


#: pandas' default dtype for text (``str`` under pandas 3, ``object`` before).
_TEXT = pd.Series(["text"]).dtype


def sorted_parts(
    parts: list[pd.DataFrame], keys: Sequence[tuple[np.ndarray, ...]], columns: Sequence[str]
) -> pd.DataFrame:
    """Concatenate per-batch frames and sort rows by their keys (study order first)."""
    if not parts:
        return pd.DataFrame(columns=columns)
    frame = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
    stacked = [k[0] if len(k) == 1 else np.concatenate(k) for k in zip(*keys, strict=True)]
    if lexsorted(stacked):  # one batch in study order: no copy
        return frame
    order = np.lexsort(stacked[::-1])
    return frame.iloc[order].reset_index(drop=True)


def lexsorted(keys: list[np.ndarray]) -> bool:
    """Whether rows are already in ascending order of ``keys`` (first key first)."""
    if not len(keys) or len(keys[0]) < 2:
        return True
    undecided = np.ones(len(keys[0]) - 1, dtype=bool)  # equal on every key so far
    for k in keys:
        a, b = k[:-1], k[1:]
        if (undecided & (a > b)).any():
            return False
        undecided &= a == b
    return True


def by_event(parts: list[pd.DataFrame], keys: list[str], columns: list[str]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame(columns=columns)
    frame = pd.concat(parts, ignore_index=True).sort_values(keys, kind="stable")
    return frame[columns].reset_index(drop=True)
