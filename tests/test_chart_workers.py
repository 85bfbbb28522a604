"""Charts drawn in worker processes (eventstudy.output.plots.workers): the same files, byte for
byte and in the same order, as drawn in one process; a worker's error, warning or death surfaces
as drawing in one process would show it (or as one line), and nothing is left behind. And PNGs
saved without matplotlib's extra draw are the files it would have written (PNGs: its pixels and
metadata, encoded by eventstudy.output.plots.png)."""

from __future__ import annotations

import io
import os
import re
import signal
import threading
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import PIL.Image
import pytest
from matplotlib.figure import Figure

from eventstudy.errors import EventStudyError
from eventstudy.output import figure_drawing
from eventstudy.output import plots as plotting
from eventstudy.output.plots import figures, workers
from eventstudy.output.plots.style import house_style, size_of
from eventstudy.processes import can_fork
from eventstudy.progress import progress_bar
from eventstudy.results import EventStudyResults
from tests.figure_checks import tables_wait_for_a_chart

pytestmark = [
    pytest.mark.sample,
    pytest.mark.skipif(not can_fork(), reason="workers are forked"),
]


def _png(png: io.BytesIO) -> tuple[tuple[int, int], str, dict[str, object], bytes]:
    png.seek(0)
    with PIL.Image.open(png) as image:
        return image.size, image.mode, image.info, image.tobytes()


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_workers_write_the_same_files_in_the_same_order(
    small: EventStudyResults, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    serial = plotting.save_figures(small, tmp_path / "serial", jobs=1)
    drawn = plotting.save_figures(small, tmp_path / "workers", jobs=2, progress=True)
    assert "charts:" in capsys.readouterr().err  # the progress bar
    assert [p.name for p in drawn] == [p.name for p in serial]
    assert [p.parent for p in drawn] == [tmp_path / "workers"] * len(serial)
    # Byte for byte (PNG and SVG carry no date), and no temporary file beside them.
    assert _files(tmp_path / "workers") == _files(tmp_path / "serial")
    per_event = Counter(p.name.split("_", 1)[0] for p in drawn)
    # Five charts for V3 (car, day0_ar, ar_heatmap, prices, value), four without shares (no
    # value chart), the timeline and the CAAR comparison; each as PNG and SVG.
    assert per_event == {"v3-release": 10, "no-shares-r1": 8, "study": 4}


def test_workers_are_forked_processes_reporting_in_order(tmp_path: Path) -> None:
    """The task is a closure (inherited by the fork, never pickled); each chart's paths come back
    in the charts' order whichever worker drew it, and every chart advances the count."""

    def draw(k: int) -> list[Path]:
        path = tmp_path / f"{k}.txt"
        path.write_text(str(os.getpid()))
        return [path]

    done: list[int] = []
    with workers.ChartWorkers(draw, 7, 2) as pool:
        assert pool.processes == 2
        out = pool.results(done.append)
    assert out == [[tmp_path / f"{k}.txt"] for k in range(7)]
    assert done == [1] * 7
    pids = {int((tmp_path / f"{k}.txt").read_text()) for k in range(7)}
    assert os.getpid() not in pids and len(pids) == 2
    for pid in pids:  # waited for: none outlives the call
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_begun_workers_draw_while_the_caller_works_and_stop_when_it_fails(tmp_path: Path) -> None:
    """After begin(), a thread of this process hands out the charts: the workers draw while this
    thread waits for something else (here: for a chart to exist), and results() returns every
    chart in order. Leaving the block on an error hands out no further chart: the charts being
    drawn are finished, none is begun after, no worker outlives the block."""

    def draw(k: int) -> list[Path]:
        path = tmp_path / f"{k}.txt"
        path.write_text(str(os.getpid()))
        return [path]

    done: list[int] = []
    with workers.ChartWorkers(draw, 5, 2) as pool:
        pool.begin(done.append)
        # Drawn without this thread asking (it would wait forever were nothing handed out).
        for _ in range(6000):
            if (tmp_path / "0.txt").exists():
                break
            threading.Event().wait(0.01)
        assert (tmp_path / "0.txt").exists()
        out = pool.results()
    assert out == [[tmp_path / f"{k}.txt"] for k in range(5)]
    assert done == [1] * 5

    gate = tmp_path / "gate"

    def slow(k: int) -> list[Path]:
        path = tmp_path / f"slow{k}.txt"
        path.write_text("")
        while not gate.exists():  # the first two charts wait until the block has failed
            threading.Event().wait(0.01)
        return [path]

    with pytest.raises(KeyError), workers.ChartWorkers(slow, 20, 2) as pool:
        pool.begin()
        while not all((tmp_path / f"slow{k}.txt").exists() for k in range(2)):
            threading.Event().wait(0.01)
        threading.Timer(0.2, gate.touch).start()  # released while the block is being left
        raise KeyError("the tables failed")
    assert sorted(p.name for p in tmp_path.glob("slow*")) == ["slow0.txt", "slow1.txt"]
    assert not [t for t in threading.enumerate() if t.name == "eventstudy-charts"]


def test_workers_inherit_the_parents_objects_frozen(tmp_path: Path) -> None:
    """The workers are forked with gc.freeze(): their collections skip the parent's objects; the
    parent's objects are back in the collector's care once they are forked."""
    import gc

    def draw(k: int) -> list[Path]:
        path = tmp_path / f"{k}.txt"
        path.write_text(str(gc.get_freeze_count()))
        return [path]

    with workers.ChartWorkers(draw, 3, 2) as pool:
        assert gc.get_freeze_count() == 0
        pool.results()
    assert all(int((tmp_path / f"{k}.txt").read_text()) > 1000 for k in range(3))


def test_a_run_draws_its_charts_while_it_writes_its_tables(
    small: EventStudyResults, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """write_stage forks the chart workers before it writes the tables: a chart is written
    while the tables are (the tables wait here for one), and both are complete."""
    from eventstudy.output import transaction

    tables_wait_for_a_chart(monkeypatch, tmp_path / "figures")
    monkeypatch.setattr(figure_drawing, "cpu_count", lambda: 2)
    stage = transaction.RunStage(tmp_path / "tables", tmp_path / "figures")
    stage.tables.mkdir()
    stage.figures.mkdir()  # type: ignore[union-attr]
    tables, charts = transaction.write_stage(stage, small, None, final_dir=tmp_path / "out")
    assert (stage.tables / "summary.json") in tables and len(charts) > 10
    assert sorted(stage.figures.iterdir()) == sorted(charts)  # type: ignore[union-attr]


def test_a_run_whose_tables_fail_stops_its_chart_workers(
    small: EventStudyResults, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tables' error is the run's; the workers drawing the charts meanwhile are stopped
    and waited for (none is left), and no chart is handed out after the error."""
    from eventstudy.output import transaction

    def failing(*args: Any, **kwargs: Any) -> list[Path]:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(transaction, "write_tables", failing)
    monkeypatch.setattr(figure_drawing, "cpu_count", lambda: 2)
    forked: list[int] = []
    real_fork = os.fork

    def fork() -> int:
        pid = real_fork()
        if pid:
            forked.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", fork)
    stage = transaction.RunStage(tmp_path / "tables", tmp_path / "figures")
    stage.tables.mkdir()
    stage.figures.mkdir()  # type: ignore[union-attr]
    with pytest.raises(OSError, match="No space left"):
        transaction.write_stage(stage, small, None, final_dir=tmp_path / "out")
    assert len(forked) == 2
    for pid in forked:  # waited for: none outlives the run
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not [t for t in threading.enumerate() if t.name == "eventstudy-charts"]
    assert not [p for p in stage.figures.iterdir() if p.name.endswith(".tmp")]  # type: ignore[union-attr]


def _failing_savefig(monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    """Writing a CAR chart's PNG raises ``error`` (as writing its file would)."""
    real = figures.print_png

    def failing(fig: Figure, out: Any, *args: Any) -> None:
        if "_car." in Path(str(getattr(out, "name", ""))).name:  # the file beside <slug>_car.png
            raise error
        real(fig, out, *args)

    monkeypatch.setattr(figures, "print_png", failing)


def test_a_failing_worker_gives_the_one_line_error_drawing_in_order_gives(
    small: EventStudyResults, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both events' CAR charts fail (a full disk); the first in the charts' order is reported,
    as one line, by either way of drawing; no temporary file stays."""
    _failing_savefig(monkeypatch, OSError(28, "No space left on device"))
    messages = {}
    for jobs in (1, 2):
        folder = tmp_path / str(jobs)
        with pytest.raises(EventStudyError) as info:
            plotting.save_figures(
                small, folder, formats=("png",), charts=("car", "day0_ar"), jobs=jobs
            )
        messages[jobs] = str(info.value).replace(str(folder), "FOLDER")
        assert info.value.__cause__ is None
        assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]
    expected = "cannot write FOLDER/v3-release_car.png: No space left on device"
    assert messages[2] == messages[1] == expected


def test_other_errors_of_a_worker_keep_its_traceback(
    small: EventStudyResults, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _failing_savefig(monkeypatch, RuntimeError("renderer broke"))
    with pytest.raises(RuntimeError, match=r"^renderer broke$") as info:
        plotting.save_figures(small, tmp_path, formats=("png",), charts=("car",), jobs=2)
    assert "Traceback" in str(info.value.__cause__) and "failing" in str(info.value.__cause__)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_killed_worker_is_a_one_line_error_naming_jobs(
    small: EventStudyResults, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent, real = os.getpid(), figures._save_chart

    def dying(results: EventStudyResults, spec: figures.ChartSpec, *args: object) -> list[Path]:
        if os.getpid() != parent and spec.stem == "no-shares-r1_car":
            os.kill(os.getpid(), signal.SIGKILL)
        return real(results, spec, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(figures, "_save_chart", dying)
    with pytest.raises(EventStudyError) as info:
        plotting.save_figures(small, tmp_path, formats=("png",), charts=("car",), jobs=2)
    message = str(info.value)
    assert "\n" not in message
    assert "ended unexpectedly (signal 9); `jobs=1` draws them in this process" in message
    assert (tmp_path / "v3-release_car.png").is_file()  # the other worker's chart


def test_a_workers_warnings_are_given_here(
    small: EventStudyResults, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = figures._save_chart

    def warning(results: EventStudyResults, spec: figures.ChartSpec, *args: object) -> list[Path]:
        warnings.warn(f"glyph missing in {spec.stem}", UserWarning, stacklevel=1)
        return real(results, spec, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(figures, "_save_chart", warning)
    with pytest.warns(UserWarning) as caught:
        plotting.save_figures(small, tmp_path, formats=("png",), charts=("day0_ar",), jobs=2)
    assert sorted(str(w.message) for w in caught) == [
        "glyph missing in no-shares-r1_day0_ar",
        "glyph missing in v3-release_day0_ar",
    ]


def test_how_many_processes_draw(
    small: EventStudyResults, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(figure_drawing, "cpu_count", lambda: 2)
    assert figure_drawing.process_count(None, 23) == 2
    assert figure_drawing.process_count(None, figure_drawing.MIN_CHARTS - 1) == 1  # too few to gain
    assert figure_drawing.process_count(1, 23) == 1
    assert figure_drawing.process_count(8, 3) == 3  # never more than the charts
    with progress_bar(True, 1, "bar", "step") as bar:  # its monitor thread outlives it
        bar.update(1)
    assert figure_drawing.process_count(None, 23) == 2  # the monitor does not count
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:  # another thread could hold a lock at the fork: automatic means one process
        assert figure_drawing.process_count(None, 23) == 1
        assert figure_drawing.process_count(2, 23) == 2  # asked for
    finally:
        stop.set()
        other.join()
    monkeypatch.setattr(figure_drawing, "can_fork", lambda: False)
    assert figure_drawing.process_count(4, 23) == 1
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="jobs must be"):
            figure_drawing.process_count(bad, 23)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="jobs must be"):
        plotting.save_figures(small, tmp_path / "figs", jobs=0)
    assert not (tmp_path / "figs").exists()


def test_files_saved_without_savefigs_extra_draw_are_the_same(
    small: EventStudyResults, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """matplotlib's savefig draws a figure with a layout engine once more before printing it;
    save_figures leaves that draw out (SVGs without pixels in them are saved at the SVG's 72 dpi
    instead), and the SVGs' bytes and the PNGs' pixels are those of matplotlib's own way (SVGs
    with pixels: but for their clip paths' generated ids and the sign of a zero)."""
    saving: list[str] = []  # per draw while saving, the format's renderer
    real_draw = Figure.draw

    def counted(self: Figure, renderer: object) -> None:
        if getattr(self.canvas, "_is_saving", False):  # what print_figure sets while it saves
            saving.append(type(renderer).__name__)
        real_draw(self, renderer)  # type: ignore[arg-type]

    charts = ("car", "ar_heatmap", "timeline")
    plan = [s for s in plotting.chart_plan(small) if s.chart in charts]
    monkeypatch.setattr(Figure, "draw", counted)
    written = plotting.save_figures(small, tmp_path, formats=("png", "svg"), charts=charts, jobs=1)
    monkeypatch.undo()
    assert len(written) == 2 * len(plan)
    pixels = 0
    for spec in plan:
        fig = plotting.draw_chart(small, spec)
        bbox = figures._freeze_layout(fig)
        pixels += figures._has_pixels(fig)  # the heatmaps' colorbars are rasterized
        for fmt in ("png", "svg"):
            buffer = io.BytesIO()
            with house_style(size_of(fig)):  # the engine left on: savefig's extra draw
                fig.savefig(
                    buffer,
                    format=fmt,
                    dpi=plotting.PNG_DPI,
                    bbox_inches=bbox,
                    metadata=figures._NO_DATE.get(fmt),
                )
            ours = (tmp_path / f"{spec.stem}.{fmt}").read_bytes()
            if fmt == "svg" and figures._has_pixels(fig):
                assert _same_drawing(ours, buffer.getvalue()), spec.stem
            elif fmt == "svg":
                assert ours == buffer.getvalue(), spec.stem
            else:  # encoded by png.py: matplotlib's pixels and metadata, other bytes
                assert ours != buffer.getvalue()
                assert _png(io.BytesIO(ours)) == _png(buffer), spec.stem
    assert 0 < pixels < len(plan)  # both kinds of SVG
    # Saving: one draw per file (matplotlib's way: two).
    assert Counter(saving) == {"RendererAgg": len(plan), "MixedModeRenderer": len(plan)}


def _same_drawing(ours: bytes, theirs: bytes) -> bool:
    """Two SVGs the same but for the ids of their clip paths (hashes of the clip box's floats)
    and ``-0`` against ``0``."""

    def plain(svg: bytes) -> bytes:
        ids: dict[bytes, bytes] = {}
        svg = re.sub(rb"\bp[0-9a-f]{10}\b", lambda m: ids.setdefault(m[0], b"c%d" % len(ids)), svg)
        return re.sub(rb"(?<![\d.])-0(?![\d.])", b"0", svg)

    return plain(ours) == plain(theirs)


def test_workers_drawing_png_and_svg_read_their_fonts_from_memory(tmp_path: Path) -> None:
    """The workers' fonts are read from memory (matplotlib's file reads cost a tenth of a
    chart), never here, and not for PDF files (which embed the font from its file); the files
    are the same either way (the tests above compare them with charts drawn here)."""
    from matplotlib import font_manager

    from eventstudy.output.plots.style import read_fonts_from_memory

    def draw(k: int) -> list[Path]:
        font = font_manager.get_font(font_manager.findfont("DejaVu Sans"))
        path = tmp_path / f"{k}.txt"
        path.write_text(type(font.fname).__name__)
        return [path]

    with workers.ChartWorkers(draw, 3, 2, read_fonts_from_memory) as pool:
        pool.results()
    assert {(tmp_path / f"{k}.txt").read_text() for k in range(3)} == {"BytesIO"}
    assert isinstance(font_manager.get_font(font_manager.findfont("DejaVu Sans")).fname, str)


def test_only_png_and_svg_files_are_drawn_with_fonts_from_memory(
    small: EventStudyResults, tmp_path: Path
) -> None:
    from eventstudy.output.plots.style import read_fonts_from_memory

    for formats, setup in [
        (("png", "svg"), read_fonts_from_memory),
        (("svg",), read_fonts_from_memory),
        (("png", "pdf"), None),
    ]:
        job = figures._chart_job(small, tmp_path, formats, charts=("car",), jobs=1)
        assert job.setup is setup
