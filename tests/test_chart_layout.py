"""The charts' layouts (eventstudy.output.plots.layout.lay_out): the first and the final layout of a
figure are matplotlib's constrained layout, two passes; the layouts in between, for measuring,
one pass from where the last one left the axes, landing within a pixel of the full layout. And
their PNG files (eventstudy.output.plots.png): matplotlib's pixels, encoded here."""

from __future__ import annotations

import io

import matplotlib._constrained_layout as steps
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from PIL import Image

from eventstudy.output.plots import layout, png
from eventstudy.output.plots.style import house_style


def _figure(engine: str | ConstrainedLayoutEngine = "constrained") -> Figure:
    fig = Figure(figsize=(8, 5), layout=engine)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(np.arange(11) - 5, np.linspace(-0.02, 0.05, 11))
    ax.set_xlabel("Trading days relative to the event")
    return fig


def _decorate(fig: Figure) -> None:
    """What a chart adds between two layouts: a title above the axes, wider tick labels."""
    ax = fig.axes[0]
    ax.annotate("A title", xy=(0, 1), xycoords="axes fraction", xytext=(0, 30),
                textcoords="offset points", fontsize=14, annotation_clip=False)  # fmt: skip
    ax.set_ylim(-2000.0, 5000.0)


def _passes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = steps.make_layout_margins

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(steps, "make_layout_margins", counted)
    return calls


def test_the_first_and_the_final_layout_take_two_passes_the_others_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _passes(monkeypatch)
    with house_style():
        fig = _figure()
        counts = []
        for final in (False, False, False, True):
            before = len(calls)
            layout.lay_out(fig, final=final)
            counts.append(len(calls) - before)
    assert counts == [2, 1, 1, 2]


def test_one_pass_lands_within_a_pixel_of_the_whole_layout() -> None:
    with house_style():
        ours, theirs = _figure(), _figure()
        for fig in (ours, theirs):
            layout.lay_out(fig)
            _decorate(fig)
        start = theirs.axes[0].get_position().bounds
        layout.lay_out(ours)  # one pass
        engine = theirs.get_layout_engine()
        assert engine is not None
        engine.execute(theirs)  # two
        one = np.array(ours.axes[0].get_position().bounds)
        two = np.array(theirs.axes[0].get_position().bounds)
    pixels = np.array([ours.bbox.width, ours.bbox.height] * 2)
    assert not np.allclose(two, start)  # the title and the labels moved the axes
    assert np.all(np.abs(one - two) * pixels <= 1.0), (one, two)


@pytest.mark.parametrize(
    "engine", ["tight", ConstrainedLayoutEngine(compress=True)], ids=["tight", "compress"]
)
def test_other_layouts_are_left_to_their_engine(
    engine: str | ConstrainedLayoutEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _passes(monkeypatch)
    with house_style():
        fig = _figure(engine)
        layout.lay_out(fig)
        assert not layout._one_pass(fig, fig.get_layout_engine())
        before = len(calls)
        layout.lay_out(fig)  # the engine's own layout every time
    assert len(calls) - before == (2 if isinstance(engine, ConstrainedLayoutEngine) else 0)


def test_png_bytes_are_a_png_of_those_pixels() -> None:
    """png.py's encoding, read back by Pillow: the same size, RGBA pixels, dpi and software."""
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 256, size=(5, 3, 4), dtype=np.uint8)
    pixels[0, :, :] = 255  # a flat row as well
    data = png.png_bytes(pixels.reshape(5, 12), 3, 5, 200)
    with Image.open(io.BytesIO(data)) as image:
        image.load()  # checks every chunk's CRC and the compressed data
        assert (image.size, image.mode) == ((3, 5), "RGBA")
        assert np.array_equal(np.asarray(image), pixels)
        assert image.info["dpi"] == pytest.approx((200, 200), abs=1e-3)
        assert image.info["Software"].startswith("Matplotlib version")


def test_print_png_gives_matplotlibs_pixels_at_its_size() -> None:
    with house_style():
        fig = _figure()
        layout.lay_out(fig, final=True)
        bbox = fig.get_tightbbox().padded(0.08)
        fig.set_layout_engine("none")
        ours, theirs = io.BytesIO(), io.BytesIO()
        png.print_png(fig, ours, 150, bbox)
        fig.savefig(theirs, format="png", dpi=150, bbox_inches=bbox)
    with Image.open(ours) as a, Image.open(theirs) as b:
        assert a.size == b.size and a.size[0] > 1000
        assert a.tobytes() == b.tobytes() and a.info == b.info


@pytest.mark.parametrize("dpi", [100, 200])
def test_the_charts_canvas_measures_texts_as_matplotlibs_does(dpi: int) -> None:
    """The charts' canvas gives matplotlib each font's height metrics from a cache
    (style._font_height_metrics): every text measures and draws as on matplotlib's own canvas,
    to the pixel, whatever its size, weight, lines or the dpi."""
    from eventstudy.output.plots.style import new_figure

    def drawn(fig: Figure) -> tuple[list[tuple[float, ...]], bytes]:
        texts = [
            fig.text(0.1, 0.9, "Cumulative abnormal return", fontsize=13, fontweight="bold"),
            fig.text(0.1, 0.7, "Two lines\nof a footer (gjpqy)", fontsize=8, linespacing=1.35),
            fig.text(0.1, 0.5, "−1.2% | 3,456.7", fontsize=9.5, style="italic"),
            fig.text(0.1, 0.3, "Rotated label", fontsize=11, rotation=30),
        ]
        renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
        boxes = [tuple(t.get_window_extent(renderer).bounds) for t in texts]
        buffer = io.BytesIO()
        fig.savefig(buffer, format="raw", dpi=dpi)
        return boxes, buffer.getvalue()

    with house_style():
        ours = new_figure(6.0, 4.0)
        ours.set_dpi(dpi)
        plain = Figure(figsize=(6.0, 4.0), dpi=dpi)
        FigureCanvasAgg(plain)
        assert hasattr(ours.canvas.get_renderer(), "_get_font_height_metrics")  # type: ignore[attr-defined]
        assert not hasattr(plain.canvas.get_renderer(), "_get_font_height_metrics")
        assert drawn(ours) == drawn(plain)
