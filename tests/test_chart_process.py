"""The process that draws a run's charts (eventstudy.output.chart_process): forked before the
study is computed, it is sent the results and draws the files drawing them in the run's process
draws, byte for byte, while the run writes its tables; its errors, warnings and death surface as
drawing in one process would show them (or as one line), a failure of the run cancels it, and
neither it nor its workers outlive the run."""

from __future__ import annotations

import os
import signal
import threading
import warnings
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from eventstudy.cli import main
from eventstudy.errors import EventStudyError
from eventstudy.output import chart_process, transaction
from eventstudy.output import plots as plotting
from eventstudy.output.plots import figures
from eventstudy.processes import can_fork
from eventstudy.results import EventStudyResults
from tests.figure_checks import tables_wait_for_a_chart

REPO = Path(__file__).resolve().parents[1]
pytestmark = [
    pytest.mark.sample,
    pytest.mark.skipif(not can_fork(), reason="the chart process is forked"),
]


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _stage(tmp_path: Path) -> transaction.RunStage:
    stage = transaction.RunStage(tmp_path / "tables", tmp_path / "figures")
    stage.tables.mkdir(parents=True)
    stage.figures.mkdir()  # type: ignore[union-attr]
    return stage


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _worker_pids(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Each chart worker (forked by the chart process) writes its pid into ``folder`` first."""
    real = figures.read_fonts_from_memory

    def setup() -> bool:
        (folder / f"{os.getpid()}.pid").touch()
        return real()

    folder.mkdir()
    monkeypatch.setattr(figures, "read_fonts_from_memory", setup)


def test_the_chart_process_draws_while_the_tables_are_written(
    small: EventStudyResults,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The same files as drawing in one process, in the same order; drawn while the tables are
    written (the tables wait here for a chart); the progress bar counts the charts; the process
    and its workers are gone once it is closed."""
    serial = plotting.save_figures(small, tmp_path / "serial", jobs=1)
    stage = _stage(tmp_path / "run")
    tables_wait_for_a_chart(monkeypatch, tmp_path / "run" / "figures")
    _worker_pids(monkeypatch, tmp_path / "pids")
    process = chart_process.ChartProcess.start(jobs=2)
    assert process is not None
    pid = process._pid
    assert pid is not None and pid != os.getpid()
    with process:
        tables, charts = transaction.write_stage(
            stage, small, None, final_dir=tmp_path / "out", progress=True, chart_process=process
        )
    assert "charts:" in capsys.readouterr().err  # the progress bar, here
    assert (stage.tables / "summary.json") in tables
    assert [p.name for p in charts] == [p.name for p in serial]
    assert _files(stage.figures) == _files(tmp_path / "serial")  # type: ignore[arg-type]
    workers = [int(p.stem) for p in (tmp_path / "pids").iterdir()]
    assert len(workers) == 2 and pid not in workers and os.getpid() not in workers
    assert all(_gone(p) for p in [pid, *workers])


def test_results_too_large_to_send_are_drawn_here(
    small: EventStudyResults, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chart_process, "MAX_REQUEST_BYTES", 1000)
    process = chart_process.ChartProcess.start(jobs=2)
    assert process is not None
    pid = process._pid
    assert pid is not None
    assert process.begin(small, tmp_path / "figures") is None
    assert _gone(pid)  # ended and waited for
    stage = _stage(tmp_path)
    _, charts = transaction.write_stage(
        stage, small, None, final_dir=tmp_path / "out", jobs=2, chart_process=process
    )
    assert len(charts) > 10 and sorted(stage.figures.iterdir()) == sorted(charts)  # type: ignore[union-attr]


def test_a_run_whose_tables_fail_cancels_the_chart_process(
    small: EventStudyResults, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tables' error is the run's; the chart process hands out no chart after it (each
    worker finishes at most the one it draws) and it and its workers are waited for."""

    def failing(*args: Any, **kwargs: Any) -> list[Path]:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(transaction, "write_tables", failing)
    _worker_pids(monkeypatch, tmp_path / "pids")
    stage = _stage(tmp_path)
    process = chart_process.ChartProcess.start(jobs=2)
    assert process is not None
    pid = process._pid
    assert pid is not None
    with process, pytest.raises(OSError, match="No space left"):
        transaction.write_stage(
            stage, small, None, final_dir=tmp_path / "out", chart_process=process
        )
    assert _gone(pid)
    assert all(_gone(int(p.stem)) for p in (tmp_path / "pids").iterdir())
    assert len([p for p in stage.figures.iterdir() if p.suffix == ".png"]) <= 2  # type: ignore[union-attr]
    assert not [p for p in stage.figures.iterdir() if p.name.endswith(".tmp")]  # type: ignore[union-attr]
    assert not [t for t in threading.enumerate() if t.name == "eventstudy-chart-process"]


def _draw(results: EventStudyResults, folder: Path) -> list[Path]:
    process = chart_process.ChartProcess.start(jobs=2)
    assert process is not None
    with process:
        drawing = process.begin(results, folder)
        assert drawing is not None
        return drawing.paths()


def test_a_failing_chart_gives_the_error_drawing_here_gives(
    small: EventStudyResults, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk as the CAR charts are written: the first in the charts' order, one line;
    another error keeps the traceback of the process that raised it."""
    real = figures.print_png

    def failing(fig: Any, out: Any, *args: Any) -> None:
        if "_car." in Path(str(getattr(out, "name", ""))).name:
            raise error
        real(fig, out, *args)

    monkeypatch.setattr(figures, "print_png", failing)
    error: Exception = OSError(28, "No space left on device")
    with pytest.raises(EventStudyError) as info:
        _draw(small, tmp_path / "full")
    expected = f"cannot write {tmp_path}/full/v3-release_car.png: No space left on device"
    assert str(info.value) == expected
    assert info.value.__cause__ is None
    error = RuntimeError("renderer broke")
    with pytest.raises(RuntimeError, match=r"^renderer broke$") as other:
        _draw(small, tmp_path / "broke")
    assert "Traceback" in str(other.value.__cause__)
    for folder in ("full", "broke"):
        assert not [p for p in (tmp_path / folder).iterdir() if p.name.endswith(".tmp")]


def test_the_chart_processs_warnings_are_given_here(
    small: EventStudyResults, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = figures._save_chart

    def warning(results: EventStudyResults, spec: figures.ChartSpec, *args: object) -> list[Path]:
        if spec.chart == "day0_ar":
            warnings.warn(f"glyph missing in {spec.stem}", UserWarning, stacklevel=1)
        return real(results, spec, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(figures, "_save_chart", warning)
    with pytest.warns(UserWarning) as caught:
        _draw(small, tmp_path)
    assert sorted(str(w.message) for w in caught) == [
        "glyph missing in no-shares-r1_day0_ar",
        "glyph missing in v3-release_day0_ar",
    ]


def test_a_killed_chart_process_is_a_one_line_error_naming_jobs(
    small: EventStudyResults, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker kills the chart process (its parent) as it draws a chart: the run's error is
    one line, and the worker dies with the process."""
    real = figures._save_chart
    _worker_pids(monkeypatch, tmp_path / "pids")

    def killing(results: EventStudyResults, spec: figures.ChartSpec, *args: object) -> list[Path]:
        if spec.stem == "no-shares-r1_car":
            os.kill(os.getppid(), signal.SIGKILL)
            threading.Event().wait(30)  # killed with its parent before this ends
        return real(results, spec, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(figures, "_save_chart", killing)
    with pytest.raises(EventStudyError) as info:
        _draw(small, tmp_path / "figures")
    message = str(info.value)
    assert "\n" not in message
    assert "ended unexpectedly (signal 9); `jobs=1` draws them in this process" in message
    for _ in range(500):  # the workers die with the process (the kernel's death signal)
        if all(_gone(int(p.stem)) for p in (tmp_path / "pids").iterdir()):
            break
        threading.Event().wait(0.01)
    else:
        raise AssertionError("a chart worker outlived the chart process")


def test_the_command_line_draws_its_charts_in_the_chart_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``eventstudy run`` starts the chart process (and ends it): the charts are those of
    ``--jobs 1``, byte for byte."""
    started: list[chart_process.ChartProcess] = []
    real = chart_process.ChartProcess.start

    def start(jobs: int | None) -> chart_process.ChartProcess | None:
        process = real(jobs)
        if process is not None:
            started.append(process)
        return process

    monkeypatch.setattr(chart_process.ChartProcess, "start", staticmethod(start))
    out = {}
    for jobs in ("2", "1"):
        args = ["run", str(REPO / "events.yaml"), "--sample", "deepseek",
                "--out", str(tmp_path / jobs), "--cache-dir", str(tmp_path / "cache"),
                "-q", "--jobs", jobs]  # fmt: skip
        result = CliRunner().invoke(main, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        out[jobs] = _files(tmp_path / jobs / "figures")
    assert len(started) == 1 and started[0]._pid is None  # ended with the run
    assert len(out["2"]) > 20 and out["2"] == out["1"]


def test_a_run_that_fails_before_its_charts_does_not_wait_for_the_chart_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Sent nothing (the study file was wrong, say), the chart process is ended at once, even
    while it still loads the chart modules (here: forever)."""
    from eventstudy import parallel

    def forever() -> Any:
        threading.Event().wait()

    monkeypatch.setattr(parallel, "frozen_objects", forever)  # what the process calls first
    process = chart_process.ChartProcess.start(jobs=2)
    assert process is not None
    pid = process._pid
    assert pid is not None
    closing = threading.Thread(target=process.close, daemon=True)
    closing.start()
    closing.join(timeout=20)
    assert not closing.is_alive(), "the run waited for its chart process"
    assert _gone(pid)
