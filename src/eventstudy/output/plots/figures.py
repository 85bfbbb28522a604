"""The charts a study gets (:func:`chart_plan`, one :class:`ChartSpec` each), drawing one of them
(:func:`draw_chart`), and writing them all (:func:`save_figures`): PNG, SVG and/or PDF, at one of
the :data:`~eventstudy.output.plots.style.SIZES`, each file cropped to its content and written
atomically."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib as mpl
import numpy as np

from eventstudy.errors import EventStudyError
from eventstudy.output.figure_drawing import FigureDrawing, process_count
from eventstudy.output.files import atomic_file
from eventstudy.output.measure_data import EXTRA_MEASURES, daily_values
from eventstudy.output.plots.chart_data import has_value_data, pick_event, value_window
from eventstudy.output.plots.event_charts import plot_car, plot_day0_ar, plot_prices
from eventstudy.output.plots.explain_charts import (
    EXPLAIN_CHARTS,
    explain_plan,
    plot_groups,
    plot_scatter,
)
from eventstudy.output.plots.layout import lay_out
from eventstudy.output.plots.long_horizon_charts import plot_calendar_time
from eventstudy.output.plots.measure_charts import plot_volatility, plot_volume
from eventstudy.output.plots.png import print_png
from eventstudy.output.plots.study_charts import (
    model_groups,
    plot_caar_comparison,
    plot_events_timeline,
    plot_model_comparison,
)
from eventstudy.output.plots.style import (
    FigureSize,
    figure_size,
    house_style,
    read_fonts_from_memory,
    size_of,
)
from eventstudy.output.plots.value_heatmap import plot_ar_heatmap, plot_value
from eventstudy.output.plots.workers import ChartWorkers
from eventstudy.processes import captured
from eventstudy.study import slugify

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from matplotlib.figure import Figure
    from matplotlib.transforms import Bbox

    from eventstudy.output.source import ResultSource

#: Per-event charts written by :func:`save_figures`, in order (file ``<event-slug>_<chart>``);
#: the last two only for events that measure volume / volatility (named as the measures).
EVENT_CHARTS = ("car", "day0_ar", "ar_heatmap", "prices", "value", "volume", "volatility")
#: Whole-study charts written by :func:`save_figures` (file ``study_<chart>``).
STUDY_CHARTS = ("timeline", "caar", "models", "calendar_time")
#: Every chart name, in order (the cross-sectional ones, docs/explaining.md, last).
CHARTS = EVENT_CHARTS + STUDY_CHARTS + EXPLAIN_CHARTS
#: Charts drawn from the returns panel (not from the result tables alone).
PANEL_CHARTS = frozenset({"prices", "timeline", "calendar_time"})
#: Figure formats :func:`save_figures` writes.
FORMATS = ("png", "svg", "pdf")
#: Resolution of PNG files.
PNG_DPI = 200
#: The formats drawn with fonts read from memory in the chart workers (not PDF: it embeds the
#: font from its file; :func:`~.style.read_fonts_from_memory`).
_FONTS_FROM_MEMORY = {"png", "svg"}
#: The resolution of matplotlib's SVG files (its SVG canvas's fixed dpi).
_VECTOR_DPI = 72
#: Margin (inches) around a figure's content when it is cropped.
_PAD_INCHES = 0.08
#: Metadata that would make the same chart a different file on every run, left out.
_NO_DATE: dict[str, dict[str, Any]] = {"svg": {"Date": None}, "pdf": {"CreationDate": None}}


@dataclass(frozen=True)
class ChartSpec:
    """One chart of a study: its file stem (``<event-slug>_<chart>`` or ``study_<chart>``), the
    chart's name (one of :data:`CHARTS`), its event, the events a model comparison compares,
    and the subject of a cross-sectional chart (a grouping column, a scatter's x)."""

    stem: str
    chart: str
    event: str | None = None
    events: tuple[str, ...] = ()
    subject: str | None = None

    @property
    def needs_panel(self) -> bool:
        """Drawn from the returns panel, so not from result tables read back from files."""
        return self.chart in PANEL_CHARTS


def event_slugs(results: ResultSource) -> dict[str, str]:
    """A distinct file-name slug per event name (``-2``, ``-3``... when two names share one)."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for ev in results.events:
        slug = base = slugify(ev.name)
        n = 1
        while slug in used:
            n += 1
            slug = f"{base}-{n}"
        used.add(slug)
        out[ev.name] = slug
    return out


def chart_plan(results: ResultSource, max_events: int | None = None) -> list[ChartSpec]:
    """Every chart the study gets, in order: per event (:data:`EVENT_CHARTS`, each only when the
    event has the data for it, the volume and volatility charts only when it measures them; only
    the first ``max_events`` events when given), then the
    whole-study charts (:data:`STUDY_CHARTS`), which cover every event: the timeline; the CAAR
    comparison with two or more events; a model comparison per group of :func:`model_groups`;
    the calendar-time portfolio when the study asks for one (``calendar_time``); then the
    cross-sectional charts the study asks for (:func:`explain_plan`)."""
    ar = results.ar_frame()
    finite = np.isfinite(ar["car"].to_numpy(dtype=float))
    with_car = set(ar.loc[finite, "event"])
    day0 = ar["rel_day"].to_numpy() == 0
    with_day0 = set(ar.loc[day0 & np.isfinite(ar["ar"].to_numpy(dtype=float)), "event"])
    measured = _measured_events(results)
    slugs = event_slugs(results)
    specs = []
    for ev in results.events[:max_events]:
        available = {
            "car": ev.name in with_car,
            "day0_ar": ev.name in with_day0,
            "ar_heatmap": ev.name in with_car,
            "prices": True,
            "value": has_value_data(results, ev),
            **{m: ev.name in events for m, events in measured.items()},
        }
        for chart in EVENT_CHARTS:
            if available[chart]:
                specs.append(ChartSpec(f"{slugs[ev.name]}_{chart}", chart, ev.name))
    specs.append(ChartSpec("study_timeline", "timeline"))
    if sum(ev.name in with_car for ev in results.events) >= 2:
        specs.append(ChartSpec("study_caar", "caar"))
    for k, group in enumerate(model_groups(results)):
        stem = "study_models" if k == 0 else f"study_models-{k + 1}"
        specs.append(ChartSpec(stem, "models", events=tuple(group)))
    frame_of = getattr(results, "calendar_time_frame", None)
    if frame_of is not None and frame_of() is not None:  # asked for by the study
        specs.append(ChartSpec("study_calendar_time", "calendar_time"))
    specs += [ChartSpec(stem, chart, subject=subj) for stem, chart, subj in explain_plan(results)]
    return specs


def _measured_events(results: ResultSource) -> dict[str, set[str]]:
    """Per measure beside returns, the events with a finite value of it (none when the study
    does not measure it)."""
    out: dict[str, set[str]] = {m.name: set() for m in EXTRA_MEASURES}
    for name in out:
        if any(name in e.measures for e in results.events):
            frame = daily_values(results, name)
            if frame is not None:
                finite = np.isfinite(frame["value"].to_numpy(dtype=float))
                out[name] = set(frame.loc[finite, "event"])
    return out


def draw_chart(
    results: ResultSource, spec: ChartSpec, size: str | FigureSize | None = None
) -> Figure:
    """Draw the chart ``spec`` describes (see :func:`chart_plan`)."""
    if spec.chart == "car":
        return plot_car(results, event=spec.event, size=size)
    if spec.chart == "day0_ar":
        return plot_day0_ar(results, event=spec.event, size=size)
    if spec.chart == "ar_heatmap":
        return plot_ar_heatmap(results, event=spec.event, size=size)
    if spec.chart == "prices":
        return plot_prices(results, event=spec.event, size=size)
    if spec.chart == "value":
        _i, ev = pick_event(results, spec.event)
        return plot_value(results, event=spec.event, window=value_window(ev), size=size)
    if spec.chart == "volume":
        return plot_volume(results, event=spec.event, size=size)
    if spec.chart == "volatility":
        return plot_volatility(results, event=spec.event, size=size)
    if spec.chart == "timeline":
        return plot_events_timeline(results, size=size)
    if spec.chart == "caar":
        return plot_caar_comparison(results, size=size)
    if spec.chart == "models":
        return plot_model_comparison(results, events=spec.events or None, size=size)
    if spec.chart == "groups":
        return plot_groups(results, spec.subject, size=size)
    if spec.chart == "scatter":
        return plot_scatter(results, spec.subject, size=size)
    if spec.chart == "calendar_time":
        result = getattr(results, "calendar_time_result", lambda: None)()
        if result is None:
            raise ValueError("the calendar-time chart is drawn from the study's returns")
        return plot_calendar_time(result, results.title, size=size)
    raise ValueError(f"unknown chart {spec.chart!r} (charts: {', '.join(CHARTS)})")


def save_figures(
    results: ResultSource,
    directory: Path | str,
    formats: Sequence[str] = ("png", "svg"),
    *,
    size: str | FigureSize = "report",
    charts: Sequence[str] | None = None,
    max_events: int | None = None,
    progress: bool | None = False,
    replace: bool = False,
    jobs: int | None = None,
) -> list[Path]:
    """Write every chart of :func:`chart_plan` (or only the named ``charts``) in ``formats``.

    ``replace``: the folder holds this study's charts only: files an earlier run wrote there
    (named as this function names charts) that this run did not write are removed, so no stale
    chart stays beside the new ones. Other files are never touched.

    ``max_events`` limits the per-event charts to the first events (a study of a thousand events
    would otherwise draw five thousand charts); ``progress`` shows a bar on stderr (None: when
    stderr is a terminal and drawing takes more than a second).

    Files are named ``<stem>.<fmt>``: ``<event-slug>_<chart>`` per event (slug from
    :func:`eventstudy.study.slugify`, so names hold only ``a-z0-9-_`` whatever the event names and
    tickers; ``-2``, ``-3``... is appended if two event names share a slug) and ``study_<chart>``
    for the whole-study charts. ``formats``: any of ``png`` (200 dpi), ``svg``, ``pdf``.
    ``size``: one of :data:`SIZES`. Every file is cropped to its content and written atomically
    (:func:`eventstudy.output.files.atomic_file`). Returns the paths written, in order.

    ``jobs``: processes drawing the charts (:mod:`.workers`: forked, each writing its own
    files; the files are byte for byte those drawn here). None: one per CPU where the platform
    can fork, there are a few charts and no other thread runs here; 1: in this process.

    :func:`drawing_figures` takes the same arguments and lets the caller do other work while
    worker processes draw.

    Raises
    ------
    ValueError
        For an unsupported format, size or chart name.
    EventStudyError
        When ``directory`` cannot be created or written to (one line).
    """
    with drawing_figures(
        results,
        directory,
        formats,
        size=size,
        charts=charts,
        max_events=max_events,
        progress=progress,
        replace=replace,
        jobs=jobs,
    ) as drawing:
        return drawing.paths()


@contextlib.contextmanager
def drawing_figures(
    results: ResultSource,
    directory: Path | str,
    formats: Sequence[str] = ("png", "svg"),
    *,
    size: str | FigureSize = "report",
    charts: Sequence[str] | None = None,
    max_events: int | None = None,
    progress: bool | None = False,
    replace: bool = False,
    jobs: int | None = None,
) -> Iterator[FigureDrawing]:
    """:func:`save_figures`, begun: with worker processes the charts are drawn while the block
    runs (``eventstudy run`` writes its tables meanwhile); :meth:`FigureDrawing.paths` waits for
    them. Leaving the block without waiting (an error) hands out no further chart, lets the
    workers finish the charts they draw and waits for them. Start it before any other thread of
    this process (the workers are forked: :mod:`.workers`); the results must not change while
    it runs. Arguments and errors as :func:`save_figures`."""
    job = _chart_job(results, directory, formats, size, charts, max_events, jobs)
    finish = None
    if replace:
        def finish(written: list[Path]) -> None:
            remove_stale_charts(job.directory, set(written))

    # The workers are forked before the progress bar's thread and the caller's threads start.
    with ChartWorkers(job.draw, job.count, job.processes, job.setup) as workers:
        yield FigureDrawing(workers, progress, finish)


@dataclass(frozen=True)
class _ChartJob:
    """The charts to draw: ``draw(k)`` writes chart ``k`` of ``count`` (by ``processes``
    processes, each worker calling ``setup()`` first) into ``directory``."""

    directory: Path
    count: int
    draw: Callable[[int], list[Path]]
    processes: int
    setup: Callable[[], object] | None


def _chart_job(
    results: ResultSource,
    directory: Path | str,
    formats: Sequence[str] = ("png", "svg"),
    size: str | FigureSize = "report",
    charts: Sequence[str] | None = None,
    max_events: int | None = None,
    jobs: int | None = None,
) -> _ChartJob:
    """The arguments of :func:`save_figures` checked and planned: the charts to draw."""
    directory = Path(directory)
    if isinstance(formats, str):
        formats = [formats]
    fmts = list(dict.fromkeys(f.lower().lstrip(".") for f in formats))
    unknown = [f for f in fmts if f not in FORMATS]
    if unknown:
        raise ValueError(
            f"unsupported figure format(s) {', '.join(unknown)} (choose from {', '.join(FORMATS)})"
        )
    spec_size = figure_size(size)
    wanted = None if charts is None else set([charts] if isinstance(charts, str) else charts)
    if wanted is not None and wanted - set(CHARTS):
        bad = ", ".join(sorted(wanted - set(CHARTS)))
        raise ValueError(f"unknown chart(s) {bad} (charts: {', '.join(CHARTS)})")
    plan = [
        spec for spec in chart_plan(results, max_events) if wanted is None or spec.chart in wanted
    ]
    processes = process_count(jobs, len(plan))
    _writable_dir(directory)
    if processes > 1:
        _share_frames(results, plan)

    def draw(k: int) -> list[Path]:
        return _save_chart(results, plan[k], spec_size, directory, fmts)

    # A worker draws nothing but these files and ends: its fonts can be read from memory.
    setup = read_fonts_from_memory if set(fmts) <= _FONTS_FROM_MEMORY else None
    return _ChartJob(directory, len(plan), draw, processes, setup)


def serve_charts(
    conn: Connection,
    results: ResultSource,
    directory: Path,
    *,
    max_events: int | None = None,
    jobs: int | None = None,
) -> None:
    """Draw the charts of ``results`` in the chart process (:mod:`eventstudy.output.chart_process`)
    and report over ``conn``: ``("count", (charts, processes))``, ``("drawn", 1)`` per chart, then
    ``("paths", ...)`` (the paths of each chart) or ``("failed", (exception, traceback))``, with
    the warnings given. A message from the run (or its end) cancels the charts not handed out."""

    def draw() -> list[list[Path]]:
        job = _chart_job(results, directory, max_events=max_events, jobs=jobs)
        conn.send(("count", (job.count, job.processes)))
        with ChartWorkers(job.draw, job.count, job.processes, job.setup, conn) as workers:
            return workers.results(lambda n: conn.send(("drawn", n)))

    drawn, failure, shown = captured(draw)
    conn.send(("paths", (drawn, shown)) if failure is None else ("failed", (failure, shown)))


def _share_frames(results: ResultSource, plan: Sequence[ChartSpec]) -> None:
    """Compute, once here, the frames that several charts read and that the results compute on
    first use (the plan has already made the AR and valuation frames), so that the forked
    workers inherit them instead of each computing them again."""
    charts = {spec.chart for spec in plan}
    if charts & {"volume", "volatility"}:
        results.tests_frame()
    if charts & set(EXPLAIN_CHARTS):
        results.car_frame()
        results.params_frame()
        results.bhar_frame()


def stale_charts(directory: Path, written: set[Path]) -> list[Path]:
    """The charts of earlier runs in ``directory``: ``<stem>_<chart>.<fmt>`` files not in
    ``written``."""
    endings = tuple(f"_{chart}.{fmt}" for chart in CHARTS for fmt in FORMATS)
    return sorted(
        path
        for path in directory.iterdir()
        if path.is_file() and path.name.endswith(endings) and path not in written
    )


def remove_stale_charts(directory: Path, written: set[Path]) -> None:
    """Delete the charts of earlier runs (:func:`stale_charts`)."""
    for path in stale_charts(directory, written):
        try:
            path.unlink()
        except OSError as exc:
            message = f"cannot remove the old chart {path}: {exc.strerror}"
            raise EventStudyError(message) from None


def _save_chart(
    results: ResultSource,
    spec: ChartSpec,
    spec_size: FigureSize,
    directory: Path,
    fmts: Sequence[str],
) -> list[Path]:
    """Draw one chart and write it in every format."""
    written: list[Path] = []
    fig = draw_chart(results, spec, size=spec_size)
    try:
        bbox = _freeze_layout(fig)
        for fmt in fmts:
            path = directory / f"{spec.stem}.{fmt}"
            with atomic_file(path) as tmp, house_style(size_of(fig)), _printing(fig, fmt) as dpi:
                if fmt == "png":  # matplotlib's pixels, encoded by png.py
                    with tmp.open("wb") as out:
                        print_png(fig, out, dpi, bbox)
                else:
                    metadata = _NO_DATE.get(fmt)
                    fig.savefig(tmp, format=fmt, dpi=dpi, bbox_inches=bbox, metadata=metadata)
            written.append(path)
    finally:
        fig.clear()  # not registered with pyplot: clearing frees the artists
    return written


def figure_png(fig: Figure, dpi: int = PNG_DPI) -> bytes:
    """The figure as PNG bytes, laid out and cropped as :func:`save_figures` does."""
    bbox = _freeze_layout(fig)
    buffer = io.BytesIO()
    with house_style(size_of(fig)), _printing(fig, "png", dpi) as png_dpi:
        print_png(fig, buffer, png_dpi, bbox)
    return buffer.getvalue()


def _freeze_layout(fig: Figure) -> Bbox:
    """Lay the figure out once and keep that layout, so that saving it in several formats does
    not redo it; returns the padded tight bounding box (inches) to save."""
    with house_style(size_of(fig)):
        lay_out(fig, final=True)
        bbox = fig.get_tightbbox().padded(_PAD_INCHES)
        fig.set_layout_engine("none")
    return bbox


@contextlib.contextmanager
def _printing(fig: Figure, fmt: str, dpi: float = PNG_DPI) -> Iterator[float]:
    """Save a laid-out figure (:func:`_freeze_layout`) as ``fmt``: yields the ``dpi`` to pass to
    ``savefig``; call inside :func:`house_style` (its lock).

    Before it prints a figure that has a layout engine (even the placeholder that ``"none"``
    leaves), matplotlib's ``savefig`` draws the whole figure once more without rendering it.
    That draw changes no byte of a PNG, so the engine is taken off while a PNG is printed (a
    quarter of its time). For an SVG, what it does is put the figure at the SVG's fixed 72 dpi
    before the file's crop box is set; saving at 72 dpi without it gives the same file, unless
    something in the figure is rendered as pixels at the given dpi (a rasterized artist, an
    image: at 72 dpi they would be coarser). Those SVGs (the heatmaps', with a rasterized
    colorbar) are saved at the given dpi without the draw (it walked every cell label): the
    same file but for the generated ids of its clip paths and the sign of a zero (``-0``) in the
    background's outline. PDF files keep the draw. Checked on every chart of the three example
    studies at the three sizes, in either order of formats (tests/test_chart_workers.py)."""
    if fmt == "svg" and not _has_pixels(fig):
        dpi = _VECTOR_DPI
    elif fmt not in ("png", "svg"):
        yield dpi
        return
    engine = fig.get_layout_engine()
    # None means "the rcParams' engine" unless both are off (the house style turns one on).
    with mpl.rc_context({"figure.autolayout": False, "figure.constrained_layout.use": False}):
        fig.set_layout_engine(None)
    try:
        yield dpi
    finally:
        fig.set_layout_engine(engine)


def _has_pixels(fig: Figure) -> bool:
    """Whether a vector file of ``fig`` holds pixels drawn at the dpi of the save: a rasterized
    artist (a long colorbar's gradient), an image, axes that rasterize below a zorder."""
    from matplotlib.image import _ImageBase

    if any(ax.get_rasterization_zorder() is not None for ax in fig.axes):
        return True
    return any(a.get_rasterized() or isinstance(a, _ImageBase) for a in fig.findobj())


def _writable_dir(directory: Path) -> None:
    """Create ``directory`` (and parents), or raise a one-line :class:`EventStudyError`."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EventStudyError(
            f"cannot create figures folder {directory}: {exc.strerror or exc}"
        ) from None
    if not os.access(directory, os.W_OK):
        raise EventStudyError(f"figures folder {directory} is not writable")
