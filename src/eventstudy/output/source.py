"""What every output reads: the result frames of a study, in memory or read back from a folder.

Tables, the report, the charts and the terminal summary take a :class:`ResultSource`, not the
results class: :class:`~eventstudy.results.EventStudyResults` (in memory, with the returns panel)
and :class:`~eventstudy.output.folder.StoredResults` (a results folder read back, no panel) both
are one. So the outputs never import the results object, and it can call them. The frames'
columns are those of :data:`eventstudy.output.folder.TABLE_FILES`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pandas as pd

    from eventstudy.data.panel import ReturnsPanel
    from eventstudy.study import ResolvedEvent


class ResultSource(Protocol):
    """A study's results as frames (README, "Outputs", for the columns).

    The outputs read nothing else: the firm-events dropped before fitting are rows of
    :meth:`skipped_frame`, the share counts columns of :meth:`valuation_frame`. A source may also
    have ``min_obs_known`` (False: the minimum of estimation returns is not known, and the
    methods text leaves it out; read with ``getattr``, default True)."""

    # Read-only (properties), so that a dataclass field of a narrower type satisfies them.
    @property
    def title(self) -> str: ...

    @property
    def events(self) -> Sequence[ResolvedEvent]: ...

    @property
    def meta(self) -> Mapping[str, Any]: ...

    @property
    def day0_dates(self) -> Sequence[dt.date]: ...

    @property
    def model_labels(self) -> Sequence[str]: ...

    #: The returns panel (None when read back from a folder: price charts need it).
    @property
    def panel(self) -> ReturnsPanel | None: ...

    def ar_frame(self) -> pd.DataFrame: ...

    def car_frame(self) -> pd.DataFrame: ...

    def bhar_frame(self) -> pd.DataFrame: ...

    def aar_frame(self) -> pd.DataFrame: ...

    def caar_frame(self) -> pd.DataFrame: ...

    def valuation_frame(self) -> pd.DataFrame: ...

    def params_frame(self) -> pd.DataFrame: ...

    def skipped_frame(self) -> pd.DataFrame: ...

    def tests_frame(self) -> pd.DataFrame | None: ...

    def quality_frame(self) -> pd.DataFrame | None: ...

    # The volume and volatility measures' tables: None when no event measures it.
    def volume_frame(self) -> pd.DataFrame | None: ...

    def cav_frame(self) -> pd.DataFrame | None: ...

    def volatility_frame(self) -> pd.DataFrame | None: ...

    def variance_ratio_frame(self) -> pd.DataFrame | None: ...
