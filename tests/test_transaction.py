"""The run transaction and its commit journal (eventstudy.output.transaction, .journal), on small
made-up outputs: a commit stopped before any of its steps, between any two, or after the last
is finished whole by the next run or reader, never left a mix; a live run's staging folder is
never taken for a dead one's. The same with the real command line, killed by SIGKILL, is
tests/test_kill.py."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from eventstudy.errors import EventStudyError
from eventstudy.output import journal
from eventstudy.output.journal import JOURNAL, finish_interrupted, staging, staging_prefix
from eventstudy.output.transaction import run_transaction


class Killed(BaseException):
    """Stands for the death of the process: no handler of the package catches it."""


def files(*folders: Path) -> dict[str, bytes]:
    """Every file under ``folders`` (relative to their common parent) with its bytes."""
    return {
        str(p.relative_to(folder.parent)): p.read_bytes()
        for folder in folders
        if folder.exists()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def write_run(
    out: Path, figures: Path | None, tag: str, charts: list[str], report: bool = True
) -> None:
    """One run's outputs through the transaction: tables, summary.json, a report, charts."""
    with run_transaction(out, figures) as stage:
        for name in ("abnormal_returns.csv", "car.csv", "summary.json"):
            (stage.tables / name).write_text(f"{tag} {name}\n")
        if report:
            (stage.tables / "report").mkdir()
            (stage.tables / "report" / "report.html").write_text(f"{tag} report\n")
        if stage.figures is not None:
            for name in charts:
                (stage.figures / name).write_text(f"{tag} {name}\n")


def leftovers(out: Path) -> list[Path]:
    return sorted(out.parent.glob(staging_prefix(out) + "*"))


class KillPoint:
    """Makes the next commit die before its step ``k + 1`` (``k == total``: after its last step,
    before the journal is deleted)."""

    def __init__(self) -> None:
        self.point: tuple[int, int] | None = None
        self.done = 0

    def at(self, k: int, total: int) -> None:
        self.point, self.done = (k, total), 0

    def off(self) -> None:
        self.point = None


@pytest.fixture
def kill_at(monkeypatch: pytest.MonkeyPatch) -> KillPoint:
    real = journal._perform
    kill = KillPoint()

    def perform(root: Path, step: journal.Step) -> None:
        if kill.point is not None and kill.done == kill.point[0]:
            raise Killed
        real(root, step)
        kill.done += 1
        if kill.point is not None and kill.done == kill.point[0] == kill.point[1]:
            raise Killed

    monkeypatch.setattr(journal, "_perform", perform)
    return kill


def _second_filesystem(base: Path) -> Path | None:
    """A folder on another file system than ``base`` (/dev/shm), if there is one."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK) and shm.stat().st_dev != base.stat().st_dev:
        return Path(tempfile.mkdtemp(dir=shm))
    return None


@pytest.mark.parametrize("where", ["same file system", "charts on another file system"])
def test_a_commit_stopped_at_any_step_is_finished_whole(
    tmp_path: Path, kill_at: KillPoint, where: str
) -> None:
    elsewhere = _second_filesystem(tmp_path) if where != "same file system" else None
    if where != "same file system" and elsewhere is None:
        pytest.skip("no second file system (/dev/shm) to put the charts on")
    try:
        figures_base = elsewhere or tmp_path

        def setup(case: str) -> tuple[Path, Path]:
            out, figs = tmp_path / case / "out", figures_base / case / "figs"
            write_run(out, figs, "old", ["r1_car.png", "r1_car.svg", "study_timeline.png"])
            (figs / "my-notes.txt").write_text("not a chart")
            return out, figs

        new_charts = ["r2_car.png", "study_timeline.png"]
        out, figs = setup("whole")
        old = files(out, figs)
        write_run(out, figs, "new", new_charts)
        new = files(out, figs)
        assert "figs/r1_car.png" not in new and new["figs/my-notes.txt"] == b"not a chart"
        total = 8  # 2 charts in, 2 stale charts out, the report, 3 tables

        for k in range(total + 1):
            out, figs = setup(f"k{k}")
            kill_at.at(k, total)
            with pytest.raises(Killed):
                write_run(out, figs, "new", new_charts)
            kill_at.off()
            (root,) = leftovers(out)
            assert (root / JOURNAL).is_file(), k  # committed: the journal stays for the next one
            if 0 < k < total:
                assert files(out, figs) not in (old, new), k  # half moved: a mix until finished
            finish_interrupted(out)
            assert files(out, figs) == new, k
            assert not leftovers(out)
    finally:
        if elsewhere is not None:
            shutil.rmtree(elsewhere)


def test_a_run_stopped_before_its_commit_leaves_the_previous_outputs(
    tmp_path: Path, kill_at: KillPoint
) -> None:
    out, figs = tmp_path / "out", tmp_path / "figs"
    write_run(out, figs, "old", ["r1_car.png"])
    old = files(out, figs)
    with pytest.raises(Killed), run_transaction(out, figs) as stage:
        (stage.tables / "car.csv").write_text("new car.csv\n")
        (stage.figures / "r2_car.png").write_text("new chart")  # type: ignore[operator]
        raise Killed
    assert files(out, figs) == old
    assert not leftovers(out)  # an exception cleans up at once; a kill leaves it to the next run


def test_the_next_run_finishes_an_interrupted_commit_before_its_own(
    tmp_path: Path, kill_at: KillPoint
) -> None:
    """Killed after moving its charts: the next run (no charts, no report) first finishes the
    killed one's commit, so the charts and the report are the killed run's, whole, and the tables
    its own; had it thrown the staging folder away, the report would be the first run's."""
    out, figs = tmp_path / "out", tmp_path / "figs"
    write_run(out, figs, "first", ["r1_car.png"])
    kill_at.at(1, 6)  # the new chart moved; the old one, the report and the tables not yet
    with pytest.raises(Killed):
        write_run(out, figs, "killed", ["r2_car.png"])
    kill_at.off()
    write_run(out, None, "third", [], report=False)
    assert files(out, figs) == {
        "out/abnormal_returns.csv": b"third abnormal_returns.csv\n",
        "out/car.csv": b"third car.csv\n",
        "out/summary.json": b"third summary.json\n",
        "out/report/report.html": b"killed report\n",
        "figs/r2_car.png": b"killed r2_car.png\n",
    }
    assert not leftovers(out)


def test_a_live_runs_staging_folder_is_left_alone(tmp_path: Path) -> None:
    out = tmp_path / "out"
    dead = tmp_path / f"{staging_prefix(out)}dead"
    dead.mkdir()
    with staging(out) as live:
        assert not dead.exists()  # a dead run's leftovers: removed as this run started
        dead.mkdir()
        with staging(out) as other:  # another run starting meanwhile
            assert live.is_dir() and other.is_dir() and not dead.exists()
    assert not live.exists() and not other.exists()


def test_a_damaged_journal_is_one_line_naming_it(tmp_path: Path) -> None:
    out = tmp_path / "out"
    root = tmp_path / f"{staging_prefix(out)}x"
    root.mkdir()
    (root / JOURNAL).write_text('{"format": "eventstudy-commit-1", "steps": [[')
    with pytest.raises(EventStudyError) as caught:
        finish_interrupted(out)
    message = str(caught.value)
    assert message.startswith(f"{root / JOURNAL}: cannot finish the interrupted commit")
    assert f"delete {root} and run the study again" in message and "\n" not in message


def test_a_reader_waits_for_a_commit_in_progress(tmp_path: Path) -> None:
    """While a commit holds the parent folder (here: the test holds its lock), a reader of the
    results folder does not start; it reads once the commit is over."""
    import threading

    out = tmp_path / "out"
    entered = threading.Event()

    def read() -> None:
        with journal.settled(out):
            entered.set()

    with journal._folder_lock(tmp_path):
        reader = threading.Thread(target=read)
        reader.start()
        assert not entered.wait(0.5)
    assert entered.wait(10)
    reader.join()
