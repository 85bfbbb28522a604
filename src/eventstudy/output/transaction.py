"""One transaction per run: tables, ``summary.json``, charts and report are written into a staging
folder beside the output folder and moved into place only once all of them were written.

A run that fails (or is killed) before that leaves the previous outputs as they were, byte for
byte; its staging folder (``.<out>.staging-*``) is removed by the next run into the same folder.
Moving into place is journaled (:mod:`eventstudy.output.journal`): a run killed in the middle
of its renames leaves a journal that the next run, or the next reader of the folder, replays,
so the folder ends up holding the new outputs whole, never a mix of two runs.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from eventstudy.errors import EventStudyError
from eventstudy.output.folder import SUMMARY_FILE, stale_tables, write_tables
from eventstudy.output.journal import Step, commit, staging
from eventstudy.parallel import frozen_objects

if TYPE_CHECKING:
    from eventstudy.output.chart_process import ChartProcess
    from eventstudy.output.source import ResultSource


@dataclass(frozen=True)
class RunStage:
    """Where a run writes: ``tables`` (the results folder's files, and its ``report/``) and
    ``figures`` (None: no charts this run)."""

    tables: Path
    figures: Path | None


def write_stage(
    stage: RunStage,
    results: ResultSource,
    figures_dir: Path | None,
    *,
    final_dir: Path,
    format: str = "csv",
    max_event_figures: int | None = None,
    progress: bool | None = False,
    jobs: int | None = None,
    chart_process: ChartProcess | None = None,
) -> tuple[list[Path], list[Path]]:
    """Write the tables and ``summary.json`` (:func:`~eventstudy.output.folder.write_tables`)
    and the charts (:func:`~eventstudy.output.plots.save_figures`, when the stage has a figures
    folder) into ``stage``; the paths of each. With worker processes the charts are drawn while
    the tables are written: by ``chart_process`` (started with the run) when it takes these
    results, else by workers forked first (before the tables' threads start), inheriting the
    frames the charts share."""
    def tables() -> list[Path]:
        return write_tables(results, stage.tables, figures_dir, final_dir=final_dir, format=format)

    if stage.figures is None:
        return tables(), []
    if chart_process is not None:
        drawing = chart_process.begin(
            results, stage.figures, max_events=max_event_figures, progress=progress, jobs=jobs
        )
        if drawing is not None:
            try:
                written = tables()
            except BaseException:
                chart_process.close()  # no chart is handed out after the tables' error
                raise
            return written, drawing.paths()
    # imported here: a run without figures does not load matplotlib (nor collects garbage
    # over the study's objects while it does)
    with frozen_objects():
        from eventstudy.output.plots.figures import drawing_figures

    with drawing_figures(
        results, stage.figures, max_events=max_event_figures, progress=progress, jobs=jobs
    ) as drawing:
        written = tables()
        return written, drawing.paths()


@contextmanager
def run_transaction(out_dir: Path, figures_dir: Path | None) -> Iterator[RunStage]:
    """Yield the staging folders of a run into ``out_dir`` (charts into ``figures_dir``); when the
    block succeeds, move everything into place: the charts (removing the charts an earlier run
    left there), the report folder (swapped whole), the tables, ``summary.json`` last."""
    out_dir = Path(out_dir)
    held = ExitStack()
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        root = held.enter_context(staging(out_dir))
    except OSError as exc:
        raise EventStudyError(f"cannot write to {out_dir.parent}: {exc.strerror or exc}") from None
    with held:
        stage = RunStage(root / "tables", root / "figures" if figures_dir is not None else None)
        try:
            stage.tables.mkdir()
            if stage.figures is not None:
                stage.figures.mkdir()
            yield stage
            commit(root, out_dir, partial(_steps, stage, out_dir.absolute(), figures_dir))
        except OSError as exc:
            message = f"cannot write the outputs to {out_dir}: {exc.strerror or exc}"
            raise EventStudyError(message) from None


def _steps(stage: RunStage, out_dir: Path, figures_dir: Path | None) -> list[Step]:
    """The commit's steps, in order; the folders they write to exist and are writable."""
    folders = [out_dir]
    steps = []
    if stage.figures is not None and figures_dir is not None:
        figures_dir = figures_dir.absolute()
        folders.append(figures_dir)
        new = [figures_dir / p.name for p in sorted(stage.figures.iterdir())]
        steps += [Step(path, f"figures/{path.name}") for path in new]
        if figures_dir.is_dir():
            # imported here: a run without figures does not load matplotlib
            from eventstudy.output.plots.figures import stale_charts

            steps += [Step(path) for path in stale_charts(figures_dir, set(new))]
    # Folders swapped whole: the report, and a table's Parquet parts (the Dask engine's).
    folders_in = sorted(p.name for p in stage.tables.iterdir() if p.is_dir())
    steps += [Step(out_dir / name, f"tables/{name}") for name in folders_in]
    files = sorted(p.name for p in stage.tables.iterdir() if p.is_file())
    files = [n for n in files if n != SUMMARY_FILE] + [n for n in files if n == SUMMARY_FILE]
    steps += [Step(out_dir / name, f"tables/{name}") for name in files]
    # the other format's tables an earlier run left (car.parquet beside a new car.csv)
    steps += [Step(path) for path in stale_tables(out_dir, {*files, *folders_in})]
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK):  # found before the commit point, not half-way
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(folder))
    return steps
