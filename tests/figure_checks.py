"""Checks on drawn charts that more than one test module makes."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text


def assert_texts_inside(fig: Figure, name: str = "") -> None:
    """Every text of the figure but the tick labels lies on its canvas (nothing clipped):
    titles, footers, direct and bar labels."""
    canvas = fig.bbox.padded(1.0)
    ticks = {
        id(label)
        for ax in fig.axes
        for axis in (ax.xaxis, ax.yaxis)
        for tick in axis.get_major_ticks() + axis.get_minor_ticks()
        for label in (tick.label1, tick.label2)
    }
    for text in fig.findobj(Text):
        if id(text) in ticks or not text.get_visible() or not text.get_text().strip():
            continue
        box = text.get_window_extent()
        assert canvas.contains(box.x0, box.y0) and canvas.contains(box.x1, box.y1), (
            f"{name}: {text.get_text()[:40]!r} at {box} outside {fig.bbox}"
        )


def tables_wait_for_a_chart(monkeypatch: pytest.MonkeyPatch, figures: Path) -> None:
    """``write_stage``'s tables start only once a PNG chart is in ``figures`` (and fail if none
    comes in a minute): a run whose charts are not drawn while its tables are written fails."""
    from eventstudy.output import transaction

    real = transaction.write_tables

    def tables_after_a_chart(*args: Any, **kwargs: Any) -> list[Path]:
        for _ in range(6000):
            if any(p.suffix == ".png" for p in figures.iterdir()):
                break
            threading.Event().wait(0.01)
        else:
            raise AssertionError("no chart was drawn while the tables were written")
        return real(*args, **kwargs)

    monkeypatch.setattr(transaction, "write_tables", tables_after_a_chart)
