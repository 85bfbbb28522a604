"""eventstudy: how markets react to dated events.

>>> from eventstudy import EventStudy, Event                               # doctest: +SKIP
>>> res = EventStudy.from_prices(prices).fit([Event(name="R1", date="2025-01-27",
...                                                  tickers=["NVDA"])])   # doctest: +SKIP
"""

from typing import Any

from eventstudy.data.factors import FactorData, read_factors
from eventstudy.data.panel import ReturnsPanel
from eventstudy.datasets import load_deepseek
from eventstudy.errors import DataError, EventStudyError, StudyFileError
from eventstudy.estimation.models import MODELS
from eventstudy.event_study import Event, EventStudy
from eventstudy.pipeline import DataOptions, run_study
from eventstudy.results import EventStudyResults
from eventstudy.study import StudySpec, load_study

__version__ = "0.1.0"

#: Exported names whose modules import matplotlib or Jinja2: loaded on first use, so that
#: ``import eventstudy`` stays quick.
_LAZY = {"save_figures": "eventstudy.output.plots", "Summary": "eventstudy.output.summary"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'eventstudy' has no attribute {name!r}")


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
