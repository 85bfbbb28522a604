"""eventstudy: how markets react to dated events.

>>> from eventstudy import EventStudy, Event                               # doctest: +SKIP
>>> res = EventStudy.from_prices(prices).fit([Event(name="R1", date="2025-01-27",
...                                                  tickers=["NVDA"])])   # doctest: +SKIP
"""

from eventstudy.data.panel import ReturnsPanel
from eventstudy.errors import DataError, EventStudyError, StudyFileError
from eventstudy.estimation.models import MODELS
from eventstudy.event_study import Event, EventStudy
from eventstudy.pipeline import DataOptions, run_study
from eventstudy.results import EventStudyResults
from eventstudy.study import StudySpec, load_study

__version__ = "0.1.0"

__all__ = [
    "MODELS",
    "DataError",
    "DataOptions",
    "Event",
    "EventStudy",
    "EventStudyError",
    "EventStudyResults",
    "ReturnsPanel",
    "StudyFileError",
    "StudySpec",
    "__version__",
    "load_study",
    "run_study",
]
