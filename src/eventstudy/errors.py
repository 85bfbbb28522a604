"""Exceptions. Anything derived from :class:`EventStudyError` is a user-facing problem
(bad study file, missing data, ...): the CLI prints its one-line message and exits with status 2."""

from __future__ import annotations


class EventStudyError(Exception):
    """A problem with the user's input or data, reported as one line without a traceback."""


class StudyFileError(EventStudyError):
    """The study file is unreadable or invalid."""


class DataError(EventStudyError):
    """Prices, shares or factors are missing, malformed or do not cover what the study needs."""


class OfflineError(DataError):
    """Data would have to be fetched from the network, but the run is offline."""
