"""Progress bars on stderr for long work (fetching tickers, drawing charts)."""

from __future__ import annotations

import sys
from contextlib import nullcontext
from typing import Any


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass


def progress_bar(enabled: bool | None, total: int, what: str, unit: str) -> Any:
    """A tqdm bar on stderr (``enabled``: True, False, or None for "when stderr is a terminal"),
    or a stand-in with the same ``update`` when it is off. In automatic mode a bar appears only
    for work that lasts more than a second."""
    if enabled is False or total == 0 or (enabled is None and not stderr_is_tty()):
        return nullcontext(_NoBar())
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=what,
        unit=unit,
        file=sys.stderr,
        leave=False,
        dynamic_ncols=True,
        delay=0.0 if enabled else 1.0,
    )


def stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False
