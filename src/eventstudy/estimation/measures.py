"""The registry of measures: what a study can measure around its events, each described once.

An entry carries the measure's key (the study file's ``measures`` and ``tests.csv``'s ``measure``
column), its labels for tables, charts, report and terminal, the phrase of the report's methods
paragraph and its citation keys (:mod:`eventstudy.references`). The fits are in
:mod:`eventstudy.estimation.volume` and :mod:`eventstudy.estimation.volatility` (returns: the
models of :mod:`eventstudy.estimation.models`); which tests suit a measure is said by the tests'
own entries (:attr:`eventstudy.inference.registry.TestSpec.measures`).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MEASURES", "MeasureSpec", "measure"]


@dataclass(frozen=True)
class MeasureSpec:
    """Everything the package says about one measure."""

    #: Key in the study file and in ``tests.csv``'s ``measure`` column.
    name: str
    #: Section title (report, terminal).
    label: str
    #: What the per-day value is, in words (axis labels, table captions).
    value: str
    #: Short name of the per-day value and of its window sum (terminal, chart legends).
    short: str
    window_short: str
    #: How values are shown: ``percent`` (returns), ``log`` (log points), ``ratio``.
    unit: str
    #: Clause of the report's methods paragraph.
    methods: str
    citations: tuple[str, ...]
    #: The per-firm-event-and-day table and the per-window table of the results folder.
    table: str
    window_table: str


MEASURES: tuple[MeasureSpec, ...] = (
    MeasureSpec(
        "return",
        "Abnormal returns",
        "abnormal return",
        "AR",
        "CAR",
        "percent",
        "abnormal returns against the normal-return model",
        ("mackinlay-1997",),
        "abnormal_returns.csv",
        "car.csv",
    ),
    MeasureSpec(
        "volume",
        "Abnormal trading volume",
        "abnormal log volume, ln(1 + shares traded) minus its normal level",
        "AV",
        "CAV",
        "log",
        "abnormal trading volume, the log of one plus the shares traded minus its normal level "
        "(Ajinkya & Jain 1989; Campbell & Wasley 1996), with the normal level {volume_model}",
        ("ajinkya-jain-1989", "campbell-wasley-1996", "cready-hurtt-2002"),
        "abnormal_volume.csv",
        "cav.csv",
    ),
    MeasureSpec(
        "volatility",
        "Abnormal volatility",
        "squared abnormal return over its expected variance",
        "u",
        "variance ratio",
        "ratio",
        "abnormal volatility, the squared abnormal return over {volatility_model} (Beaver "
        "1968), tested against its null mean with the cross-sectional and rank tests",
        ("beaver-1968", "patell-1976"),
        "abnormal_volatility.csv",
        "variance_ratio.csv",
    ),
)

#: ``volume_model`` and ``volatility_model`` values in words (the methods paragraph).
MODEL_WORDS = {
    "mean": "its estimation-window mean",
    "market": "an OLS regression on the market's log volume",
    "constant": "the return model's prediction-error variance",
    "garch": "a GARCH(1,1) variance forecast (Bollerslev 1986)",
}

_BY_NAME = {m.name: m for m in MEASURES}


def measure(name: str) -> MeasureSpec:
    """The entry of the measure ``name`` (a ``KeyError`` if there is none)."""
    return _BY_NAME[name]
