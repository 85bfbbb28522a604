"""One transaction per run: tables, ``summary.json``, charts and report are written into a staging
folder beside the output folder and moved into place only once all of them were written.

A run that fails (or is killed) before that leaves the previous outputs as they were, byte for
byte; its staging folder (``.<out>.staging-*``) is removed by the next run into the same folder.
Moving into place is a sequence of renames within the same file systems, with no computation in
between.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from eventstudy.errors import EventStudyError
from eventstudy.output.folder import SUMMARY_FILE, stale_tables

_REPORT = "report"


@dataclass(frozen=True)
class RunStage:
    """Where a run writes: ``tables`` (the results folder's files, and its ``report/``) and
    ``figures`` (None: no charts this run)."""

    tables: Path
    figures: Path | None


def _leftovers(parent: Path, name: str) -> None:
    for old in parent.glob(f".{name}.staging-*"):
        shutil.rmtree(old, ignore_errors=True)


@contextmanager
def run_transaction(out_dir: Path, figures_dir: Path | None) -> Iterator[RunStage]:
    """Yield the staging folders of a run into ``out_dir`` (charts into ``figures_dir``); when the
    block succeeds, move everything into place: the charts (removing the charts an earlier run
    left there), the report folder (swapped whole), the tables, ``summary.json`` last."""
    out_dir = Path(out_dir)
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        _leftovers(out_dir.parent, out_dir.name)
        root = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.staging-", dir=out_dir.parent))
    except OSError as exc:
        raise EventStudyError(f"cannot write to {out_dir.parent}: {exc.strerror or exc}") from None
    stage = RunStage(root / "tables", root / "figures" if figures_dir is not None else None)
    try:
        stage.tables.mkdir()
        if stage.figures is not None:
            stage.figures.mkdir()
        yield stage
        _commit(stage, out_dir, figures_dir)
    except OSError as exc:
        message = f"cannot write the outputs to {out_dir}: {exc.strerror or exc}"
        raise EventStudyError(message) from None
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _commit(stage: RunStage, out_dir: Path, figures_dir: Path | None) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    if stage.figures is not None and figures_dir is not None:
        # matplotlib comes with it: imported only when charts were drawn
        from eventstudy.output.plots.figures import remove_stale_charts

        figures_dir.mkdir(parents=True, exist_ok=True)
        new = []
        for path in sorted(stage.figures.iterdir()):
            # a rename on one file system; a copy where --figures lies on another
            shutil.move(path, figures_dir / path.name)
            new.append(figures_dir / path.name)
        remove_stale_charts(figures_dir, set(new))
    report = stage.tables / _REPORT
    if report.is_dir():
        old = out_dir / _REPORT
        trash = stage.tables.parent / "old-report"
        if old.exists():
            os.replace(old, trash)
        os.replace(report, old)
    files = sorted(p.name for p in stage.tables.iterdir() if p.is_file())
    for name in [n for n in files if n != SUMMARY_FILE] + [n for n in files if n == SUMMARY_FILE]:
        os.replace(stage.tables / name, out_dir / name)
    for stale in stale_tables(out_dir, set(files)):  # the other format's, from an earlier run
        stale.unlink(missing_ok=True)
