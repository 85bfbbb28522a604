"""eventstudy: how markets react to dated events.

>>> from eventstudy import EventStudy, Event                               # doctest: +SKIP
>>> res = EventStudy.from_prices(prices).fit([Event(name="R1", date="2025-01-27",
...                                                  tickers=["NVDA"])])   # doctest: +SKIP

The names below are loaded on first use (PEP 562), so that ``import eventstudy`` and the command
line's start-up (``eventstudy --help``) do not import pandas, SciPy or matplotlib until a name
that needs them is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Each exported name and the module that defines it.
_EXPORTS = {
    "FactorData": "eventstudy.data.factors",
    "read_factors": "eventstudy.data.factors",
    "ReturnsPanel": "eventstudy.data.panel",
    "load_deepseek": "eventstudy.datasets",
    "DataError": "eventstudy.errors",
    "EventStudyError": "eventstudy.errors",
    "StudyFileError": "eventstudy.errors",
    "MODELS": "eventstudy.estimation.models",
    "Event": "eventstudy.event_study",
    "EventStudy": "eventstudy.event_study",
    "DataOptions": "eventstudy.pipeline",
    "run_study": "eventstudy.pipeline",
    "EventStudyResults": "eventstudy.results",
    "StudySpec": "eventstudy.study",
    "load_study": "eventstudy.study",
    "save_figures": "eventstudy.output.plots",
    "Summary": "eventstudy.output.summary",
}

if TYPE_CHECKING:  # what mypy and editors see; at run time __getattr__ loads them
    from eventstudy.data.factors import FactorData, read_factors
    from eventstudy.data.panel import ReturnsPanel
    from eventstudy.datasets import load_deepseek
    from eventstudy.errors import DataError, EventStudyError, StudyFileError
    from eventstudy.estimation.models import MODELS
    from eventstudy.event_study import Event, EventStudy
    from eventstudy.output.plots import save_figures
    from eventstudy.output.summary import Summary
    from eventstudy.pipeline import DataOptions, run_study
    from eventstudy.results import EventStudyResults
    from eventstudy.study import StudySpec, load_study


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'eventstudy' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "MODELS",
    "DataError",
    "DataOptions",
    "Event",
    "EventStudy",
    "EventStudyError",
    "EventStudyResults",
    "FactorData",
    "ReturnsPanel",
    "StudyFileError",
    "StudySpec",
    "Summary",
    "__version__",
    "load_deepseek",
    "load_study",
    "read_factors",
    "run_study",
    "save_figures",
]
