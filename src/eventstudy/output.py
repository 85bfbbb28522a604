"""Writers: tables, ``summary.json`` and figures, written atomically.

Every file is first written into a hidden staging folder inside the destination and moved into place
with :func:`os.replace` only once everything has been written, ``summary.json`` last; a run that
fails part-way leaves the previous outputs untouched and no half-written file behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from eventstudy.errors import EventStudyError

if TYPE_CHECKING:
    from eventstudy.results import EventStudyResults

#: Table files and the results frame each holds (see the README, "Outputs").
TABLES: dict[str, Callable[[EventStudyResults], pd.DataFrame]] = {
    "abnormal_returns.csv": lambda r: r.ar_frame(),
    "car.csv": lambda r: r.car_frame(),
    "bhar.csv": lambda r: r.bhar_frame(),
    "tests.csv": lambda r: r.tests_frame(),
    "aar.csv": lambda r: r.aar_frame(),
    "caar.csv": lambda r: r.caar_frame(),
    "valuation.csv": lambda r: r.valuation_frame(),
    "params.csv": lambda r: r.params_frame(),
    "skipped.csv": lambda r: r.skipped_frame(),
    "data_quality.csv": lambda r: r.quality_frame(),
}


def _ensure_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EventStudyError(f"cannot create output folder {path}: {exc.strerror}") from None
    if not os.access(path, os.W_OK):
        raise EventStudyError(f"output folder {path} is not writable")


@contextmanager
def staged(directory: Path, last: tuple[str, ...] = ()) -> Iterator[Path]:
    """Yield a staging folder; on success move its files into ``directory`` (``last`` ones last)."""
    directory = Path(directory)
    _ensure_dir(directory)
    try:
        stage = Path(tempfile.mkdtemp(prefix=".staging-", dir=directory))
    except OSError as exc:
        raise EventStudyError(f"cannot write to {directory}: {exc.strerror}") from None
    try:
        yield stage
        names = sorted(p.name for p in stage.iterdir())
        names = [n for n in names if n not in last] + [n for n in last if n in names]
        for name in names:
            os.replace(stage / name, directory / name)
    except OSError as exc:
        raise EventStudyError(f"cannot write to {directory}: {exc.strerror}") from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder."""
    path = Path(path)
    _ensure_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_tables(results: EventStudyResults, out_dir: Path) -> list[Path]:
    """Write every table and ``summary.json`` into ``out_dir``; returns the paths written."""
    out_dir = Path(out_dir)
    with staged(out_dir, last=("summary.json",)) as stage:
        for name, frame_of in TABLES.items():
            frame_of(results).to_csv(stage / name, index=False, date_format="%Y-%m-%d")
        text = json.dumps(results.to_dict(), indent=2, default=str)
        (stage / "summary.json").write_text(text + "\n", encoding="utf-8")
        names = [p.name for p in stage.iterdir()]
    return [out_dir / n for n in sorted(names)]
