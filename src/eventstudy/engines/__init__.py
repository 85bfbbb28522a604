"""Execution engines beyond the in-memory one.

The local engine is :func:`eventstudy.event_study.fit_events` on a returns panel held in memory.
:mod:`eventstudy.engines.dask` runs the same fit partitioned by firm over a Dask cluster, reading
prices from a Parquet dataset (``pip install 'eventstudy-kit[dask]'``); its results are identical.
"""

from __future__ import annotations

ENGINES = ("local", "dask")
