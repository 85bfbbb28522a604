"""Crash-consistent commits of a run's outputs: a journal of the moves that put a staged run in
place, and the roll-forward that finishes a commit a killed run left half done.

A run writes everything into a staging folder ``.<out>.staging-*`` beside ``<out>``
(:mod:`eventstudy.output.transaction`); while it lives it holds a lock on ``.lock`` in that
folder, so no other process takes it for a dead run's leftovers. Putting the outputs in place
(the charts, the report folder, the tables, ``summary.json`` last, and removing the charts an
earlier run left) takes several renames, so the commit is journaled:

1. Under an exclusive lock on the parent folder (commits and roll-forwards there take turns),
   the commits dead runs left half done are finished first; then ``commit.json``, every step in
   order with absolute targets, is written into the staging folder at once (temporary file,
   fsync, rename, fsync of the folder). Writing it is the commit point.
2. The steps are done in order. Each can be done again with the same result: a move whose
   source is gone is done; a folder at the target (the old report) is first set aside beside it,
   then removed; across file systems the source is copied beside the target and renamed into
   place, then removed; removing a chart that is gone is done.
3. The journal is deleted, then the staging folder.

A run killed before the commit point leaves the previous outputs as they were; its staging
folder (no journal, its lock free) is removed by the next run. A run killed after it leaves its
journal, which the next run into ``<out>`` replays before anything else, as does every reader of
the folder (:func:`settled`, used by :meth:`~eventstudy.output.folder.StoredResults.load` and so
by ``eventstudy report``): the folder then holds the new outputs, whole. Readers hold a shared
lock on the parent folder while they read, so they never read a commit half done.

What this guards against is the death of the process (SIGKILL, out of memory, a crash): what the
kernel has accepted survives it. Only the journal is synced to disk, so after a power cut the
outputs can be a mix, as with any program that does not sync every file. Without ``fcntl``
(Windows) there are no locks, and two runs into one folder at once are not safe.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from eventstudy.errors import EventStudyError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows has no flock
    fcntl = None  # type: ignore[assignment]

#: The journal's file name, in the staging folder.
JOURNAL = "commit.json"
_OWNER = ".lock"
_FORMAT = "eventstudy-commit-1"
#: Seconds a commit or a reader waits for another process's commit into the same folder.
LOCK_TIMEOUT = 120.0


def staging_prefix(out_dir: Path) -> str:
    """Staging folders of runs into ``out_dir`` are ``<out_dir.parent>/<prefix>XXXXXXXX``."""
    return f".{Path(out_dir).name}.staging-"


@dataclass(frozen=True)
class Step:
    """One step of a commit: put ``source`` (a path inside the staging folder) at ``target``, or,
    with no ``source``, remove ``target`` (a chart of an earlier run)."""

    target: Path
    source: str | None = None


# -- locks ---------------------------------------------------------------------------------------


def _flock(fd: int, operation: int, timeout: float) -> bool:
    """Take a lock on ``fd``; False when it is still held elsewhere after ``timeout`` seconds."""
    assert fcntl is not None
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, operation | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)


@contextmanager
def _folder_lock(folder: Path, *, shared: bool = False) -> Iterator[None]:
    """Hold a lock on ``folder`` for the block: exclusive to commit, shared to read."""
    fd = None
    if fcntl is not None:
        with suppress(OSError):  # a folder that cannot be opened has no outputs to guard
            fd = os.open(folder, os.O_RDONLY)
    try:
        if fd is not None and not _flock(
            fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX, LOCK_TIMEOUT
        ):
            raise EventStudyError(
                f"another eventstudy process has been writing to {folder} for over "
                f"{LOCK_TIMEOUT:g} s; try again once it has finished"
            )
        yield
    finally:
        if fd is not None:
            os.close(fd)


def _alive(root: Path) -> bool:
    """Whether a live run holds the staging folder ``root``."""
    if fcntl is None:
        return False
    try:
        fd = os.open(root / _OWNER, os.O_RDONLY)
    except OSError:
        return False
    try:
        return not _flock(fd, fcntl.LOCK_EX, 0)
    finally:
        os.close(fd)  # also releases the lock just taken


# -- staging folders -----------------------------------------------------------------------------


def _staging_folders(out_dir: Path) -> list[Path]:
    prefix = staging_prefix(out_dir)
    try:
        return sorted(
            p for p in out_dir.parent.iterdir() if p.name.startswith(prefix) and p.is_dir()
        )
    except OSError:
        return []


def _interrupted(out_dir: Path) -> list[Path]:
    """Staging folders of dead runs into ``out_dir`` holding a journal, oldest commit first."""
    found = []
    for root in _staging_folders(out_dir):
        with suppress(OSError):
            stamp = (root / JOURNAL).stat().st_mtime_ns
            if not _alive(root):
                found.append((stamp, root))
    return [root for _, root in sorted(found)]


@contextmanager
def staging(out_dir: Path) -> Iterator[Path]:
    """A new staging folder beside ``out_dir``, held as this run's while the block runs.

    Before it is made, commits dead runs left half done are finished and their other leftovers
    removed. Afterwards it is removed, unless it holds a journal (a commit that could not be
    finished: the next run or reader finishes it)."""
    out_dir = Path(out_dir).absolute()
    owner = None
    with _folder_lock(out_dir.parent):
        _finish(out_dir, remove_abandoned=True)
        root = Path(tempfile.mkdtemp(prefix=staging_prefix(out_dir), dir=out_dir.parent))
        if fcntl is not None:
            owner = os.open(root / _OWNER, os.O_CREAT | os.O_RDWR, 0o600)
            fcntl.flock(owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        yield root
    finally:
        if not (root / JOURNAL).exists():
            shutil.rmtree(root, ignore_errors=True)
        if owner is not None:
            os.close(owner)


# -- committing and finishing --------------------------------------------------------------------


def commit(root: Path, out_dir: Path, plan: Callable[[], Sequence[Step]]) -> None:
    """Commit the staging folder ``root`` into ``out_dir``: under the parent folder's lock, finish
    what dead runs left half done, journal the steps ``plan()`` returns, do them, delete the
    journal. An OSError before the journal is written leaves the outputs as they were; one after
    it is a one-line :class:`EventStudyError` saying that the next run finishes the move."""
    out_dir = Path(out_dir).absolute()
    with _folder_lock(out_dir.parent):
        _finish(out_dir, remove_abandoned=False)
        steps = plan()
        record = {
            "format": _FORMAT,
            "out": str(out_dir),
            "steps": [[step.source, str(step.target)] for step in steps],
        }
        tmp = root / f"{JOURNAL}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(record, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, root / JOURNAL)
        with suppress(OSError):  # not every file system syncs folders
            fd = os.open(root, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _replay(root)


def finish_interrupted(out_dir: Path) -> None:
    """Finish the commits into ``out_dir`` that killed runs left half done, oldest first. Cheap
    when there is none (one listing of the parent folder, no lock)."""
    out_dir = Path(out_dir).absolute()
    if _interrupted(out_dir):
        with _folder_lock(out_dir.parent):
            _finish(out_dir, remove_abandoned=False)


@contextmanager
def settled(out_dir: Path) -> Iterator[None]:
    """For a reader of ``out_dir``: finish any commit into it a killed run left half done, then
    hold a shared lock on its parent for the block, so that no commit runs while it reads."""
    out_dir = Path(out_dir).absolute()
    while True:
        with _folder_lock(out_dir.parent, shared=True):
            if not _interrupted(out_dir):
                yield
                return
        finish_interrupted(out_dir)


def _finish(out_dir: Path, remove_abandoned: bool) -> None:
    """:func:`finish_interrupted`, with the parent folder's lock held; with
    ``remove_abandoned``, also remove the staging folders of dead runs that never committed."""
    for root in _interrupted(out_dir):
        _replay(root, interrupted=True)
        shutil.rmtree(root, ignore_errors=True)
    if remove_abandoned:
        for root in _staging_folders(out_dir):
            if not _alive(root) and not (root / JOURNAL).exists():
                shutil.rmtree(root, ignore_errors=True)


def _replay(root: Path, *, interrupted: bool = False) -> None:
    """Do every step of the journal in ``root`` (again), then delete the journal."""
    journal = root / JOURNAL
    try:
        record = json.loads(journal.read_text(encoding="utf-8"))
        if record.get("format") != _FORMAT:
            raise ValueError(f"unknown format {record.get('format')!r}")
        out = record["out"]
        steps = [Step(Path(target), source) for source, target in record["steps"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise EventStudyError(
            f"{journal}: cannot finish the interrupted commit it describes ({exc}); delete "
            f"{root} and run the study again"
        ) from None
    try:
        for step in steps:
            _perform(root, step)
        journal.unlink()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if interrupted:
            message = f"cannot finish moving an interrupted run's outputs into {out}: {reason}"
        else:
            message = (
                f"cannot move the outputs into {out}: {reason}; the next run into it (or "
                "`eventstudy report` of it) finishes the move"
            )
        raise EventStudyError(message) from None


def _perform(root: Path, step: Step) -> None:
    """One step, done so that doing it again changes nothing."""
    target = step.target
    if step.source is None:
        _remove(target)
        return
    source = root / step.source
    aside = target.with_name(f".{target.name}.eventstudy-old")
    if os.path.lexists(source):
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir() and os.path.lexists(target):
            _remove(aside)
            os.replace(target, aside)  # a folder cannot be renamed over a full one
        try:
            os.replace(source, target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            copy = target.with_name(f".{target.name}.eventstudy-copy")
            _remove(copy)
            if source.is_dir():
                shutil.copytree(source, copy)
            else:
                shutil.copy2(source, copy)
            os.replace(copy, target)
            # Gone in one rename, so that a kill while deleting it leaves no partial source.
            done = source.with_name(f"{source.name}.moved")
            _remove(done)
            os.replace(source, done)
            _remove(done)
    _remove(aside)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        with suppress(FileNotFoundError):
            path.unlink()
