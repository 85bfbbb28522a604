"""`eventstudy run` killed by SIGKILL over a folder holding an earlier run's outputs: during the
fit, while writing the tables, while drawing, while writing the report, and between the renames
of the commit (output/journal.py).

Killed before its commit point, the run leaves the earlier outputs byte for byte, and the next
run removes its leftovers. Killed after it, the next reader of the folder (or the next run)
finishes the commit, and the folder then equals what the same run leaves uninterrupted: never a
mix of the two. Each killed run is a subprocess that tests/killpoint.py kills at an exact point
(no timing); they all run at once, beside the uninterrupted reference runs.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import signal
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from eventstudy.cli import main
from eventstudy.output.folder import StoredResults
from eventstudy.output.journal import JOURNAL, staging_prefix

pytestmark = [
    pytest.mark.sample,
    pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL and flock"),
]

KILLPOINT = Path(__file__).with_name("killpoint.py")

FIRST = """\
study: Test study
market: ^GSPC
model: market
estimation_window: [-250, -11]
event_window: [-5, 5]
car_windows: [[0, 0], [-1, 1]]
events:
  - name: R1
    date: 2025-01-27
    tickers: [NVDA, AVGO]
"""
# Another event and window, so that every table, chart name and the report differ.
SECOND = FIRST.replace("[-5, 5]", "[-3, 3]").replace("name: R1", "name: R2")

REPORT = ("--no-figures", "--report")  # commit: the report folder, 10 tables, summary.json
CHARTS = ("--max-event-figures", "0")  # commit: 2 charts, 10 stale ones removed, 11 tables
COMMIT = "eventstudy.output.journal:_perform"


@dataclass(frozen=True)
class Case:
    flags: tuple[str, ...]
    kill: str  # MODULE:FUNCTION:N[:after] for tests/killpoint.py
    committed: bool  # killed after the commit point


CASES = {
    "fit": Case(REPORT, "eventstudy.pipeline:fit_events:1", False),
    "tables": Case(REPORT, "eventstudy.output.folder:write_csv:4", False),
    "figures": Case(  # drawn in this process (--jobs 1): killed as it draws the third chart
        ("--max-event-figures", "1", "--jobs", "1"),
        "eventstudy.output.plots.figures:_save_chart:3",
        False,
    ),
    # Drawn by the chart process and its two workers: the run is killed as it reads the
    # process's third message (the second chart drawn); the process and its workers die with
    # it (they must not go on writing into the staging folder).
    "figures, drawn by the chart process": Case(
        ("--max-event-figures", "1", "--jobs", "2"),
        "eventstudy.output.chart_process:_receive:3",
        False,
    ),
    "report": Case(REPORT, "eventstudy.output.report:write_xlsx:1", False),
    "commit, journal written": Case(REPORT, f"{COMMIT}:1", True),
    "commit, journal written; next run": Case(REPORT, f"{COMMIT}:1", True),
    "commit, report swapped": Case(REPORT, f"{COMMIT}:2", True),
    "commit, half the tables": Case(REPORT, f"{COMMIT}:7", True),
    "commit, all but summary.json": Case(REPORT, f"{COMMIT}:12", True),
    "commit, every step done": Case(REPORT, f"{COMMIT}:12:after", True),
    "commit, one chart moved": Case(CHARTS, f"{COMMIT}:2", True),
    "commit, old charts half removed": Case(CHARTS, f"{COMMIT}:6", True),
}


def files(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def comparable(snapshot: dict[str, bytes]) -> dict[str, bytes]:
    """Files as two runs of one study write them: the report's time of writing left out."""
    out = {}
    for name, data in snapshot.items():
        if name.endswith((".html", ".md")):
            data = re.sub(rb"(?i)generated \d{4}-\d\d-\d\d \d\d:\d\d", b"generated", data)
        elif name.endswith(".xlsx"):
            with zipfile.ZipFile(io.BytesIO(data)) as book:
                parts = [book.read(n) for n in sorted(book.namelist()) if n != "docProps/core.xml"]
            data = b"\0".join(parts)
        out[name] = data
    return out


def leftovers(out: Path) -> list[Path]:
    return sorted(out.parent.glob(staging_prefix(out) + "*"))


def cli(folder: Path, study: Path, *flags: str) -> None:
    args = ["run", str(study), "--sample", "deepseek", "--out", str(folder / "out"),
            "--cache-dir", str(folder / "cache"), "-q", *flags]  # fmt: skip
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output


@dataclass
class Runs:
    previous: dict[str, bytes]  # the first study's outputs, which every killed run writes over
    reference: dict[tuple[str, ...], dict[str, bytes]]  # uninterrupted, per flags (comparable)
    killed: dict[str, tuple[Path, int, str]]  # case -> folder, exit status, stderr
    first: Path
    second: Path


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, sample_dir: Path) -> Runs:
    base = tmp_path_factory.mktemp("kill")
    first, second = base / "first.yaml", base / "second.yaml"
    first.write_text(FIRST)
    second.write_text(SECOND)
    previous = base / "previous"
    cli(previous, first, "--max-event-figures", "1", "--report")
    assert (previous / "out" / "figures" / "r1_car.png").is_file()
    assert (previous / "out" / "report" / "report.html").is_file()

    children = {}
    for case, spec in CASES.items():
        folder = base / re.sub(r"\W+", "-", case)
        shutil.copytree(previous, folder)
        args = ["run", str(second), "--sample", "deepseek", "--out", str(folder / "out"),
                "--cache-dir", str(folder / "cache"), "-q", *spec.flags]  # fmt: skip
        with open(folder / "stderr", "w") as err:
            children[case] = (
                folder,
                subprocess.Popen(
                    [sys.executable, str(KILLPOINT), spec.kill, "--", *args],
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                ),
            )
    reference = {}
    for flags in {spec.flags for spec in CASES.values() if spec.committed}:
        folder = base / ("reference" + "-".join(flags))
        shutil.copytree(previous, folder)
        cli(folder, second, *flags)
        reference[flags] = comparable(files(folder / "out"))
    killed = {}
    for case, (folder, proc) in children.items():
        proc.wait(timeout=600)
        killed[case] = (folder, proc.returncode, (folder / "stderr").read_text())
    return Runs(files(previous / "out"), reference, killed, first, second)


@pytest.mark.parametrize("case", [c for c, spec in CASES.items() if not spec.committed])
def test_killed_before_the_commit_point_the_previous_outputs_stay_byte_for_byte(
    runs: Runs, case: str
) -> None:
    folder, status, stderr = runs.killed[case]
    assert status == -signal.SIGKILL, f"not killed where meant: exit {status}\n{stderr}"
    out = folder / "out"
    assert files(out) == runs.previous
    assert not any((root / JOURNAL).exists() for root in leftovers(out))
    # The run dies before it stages anything only in the fit; elsewhere it leaves a staging
    # folder, which the next run removes.
    assert bool(leftovers(out)) == (case != "fit")
    cli(folder, runs.second, "--no-figures")
    assert not leftovers(out)


@pytest.mark.parametrize(
    "case", [c for c, spec in CASES.items() if spec.committed and "next run" not in c]
)
def test_killed_after_the_commit_point_the_next_reader_finishes_the_commit(
    runs: Runs, case: str
) -> None:
    folder, status, stderr = runs.killed[case]
    assert status == -signal.SIGKILL, f"not killed where meant: exit {status}\n{stderr}"
    out = folder / "out"
    (root,) = leftovers(out)
    steps = json.loads((root / JOURNAL).read_text())["steps"]
    if CASES[case].flags == REPORT:  # the kill points above count on these steps
        assert len(steps) == 12 and steps[0][0] == "tables/report"
        assert steps[-1][0] == "tables/summary.json"
    new = runs.reference[CASES[case].flags]
    if "journal written" not in case and "every step" not in case:
        assert comparable(files(out)) not in (comparable(runs.previous), new)  # a mix, for now
    StoredResults.load(out)  # what `eventstudy report` reads first
    assert comparable(files(out)) == new
    assert not leftovers(out)


def test_the_next_run_finishes_a_killed_commit_before_anything_else(runs: Runs) -> None:
    """Killed right after writing its journal (nothing moved yet); the next run into the folder
    fails on its data, yet it first finished the killed run's commit: the folder holds the killed
    run's outputs whole."""
    folder = runs.killed["commit, journal written; next run"][0]
    out = folder / "out"
    assert leftovers(out)
    assert comparable(files(out)) == comparable(runs.previous)  # nothing moved yet
    bad = folder / "bad.yaml"
    bad.write_text(FIRST.replace("[NVDA, AVGO]", "[NVDA, ZZZZ]"))
    args = ["run", str(bad), "--sample", "deepseek", "--out", str(out), "--no-figures"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "ZZZZ" in result.stderr
    assert comparable(files(out)) == runs.reference[REPORT]
    assert not leftovers(out)
