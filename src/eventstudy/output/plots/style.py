"""The house style of the charts: the palette, the figure sizes, the style file in force and the
figures it draws on.

Every chart is built with matplotlib's object-oriented API: a :class:`~matplotlib.figure.Figure`
with an Agg canvas, never pyplot, so no display is needed and no figure is registered globally.

Thread safety: matplotlib keeps its rcParams in one process-wide dictionary, and
``matplotlib.style.context`` changes it for the duration of a call. Drawing and saving hold a
module lock while the house style is active (:func:`house_style`), so charts built concurrently
from several threads do not see each other's settings; code outside this package that changes
rcParams at the same moment can still interfere.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib as mpl
import matplotlib.style
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.colors import Colormap, LinearSegmentedColormap
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.font_manager import FontProperties
    from matplotlib.typing import RcKeyType

#: The house style, applied inside every plotting function.
STYLE_PATH = Path(__file__).with_name("eventstudy.mplstyle")

# Okabe & Ito (2008) colour-blind-safe palette.
BLACK = "#000000"
ORANGE = "#E69F00"
SKY_BLUE = "#56B4E9"
GREEN = "#009E73"
YELLOW = "#F0E442"
BLUE = "#0072B2"
VERMILLION = "#D55E00"
PURPLE = "#CC79A7"
#: Line colours for stocks, in order (black is kept for averages and the market index).
LINE_COLOURS = (BLUE, VERMILLION, GREEN, PURPLE, ORANGE, SKY_BLUE, "#7F7F7F")
NEGATIVE = VERMILLION
POSITIVE = BLUE
MUTED = "#555555"
#: Lines of the stocks that are not highlighted (more than :data:`MAX_COLOURED` stocks).
BACKGROUND = "#C8C8C8"
#: Up to this many stocks each get a colour; beyond, only the :data:`HIGHLIGHTED` largest
#: movers do, and the others are drawn in grey (a repeating palette would mislead).
MAX_COLOURED = 8
HIGHLIGHTED = 5


def stock_colours(moves: np.ndarray) -> list[str]:
    """A line colour per stock: the palette in order for up to :data:`MAX_COLOURED` stocks;
    beyond, the palette for the :data:`HIGHLIGHTED` largest ``|moves|`` (in order of size) and
    :data:`BACKGROUND` for the rest."""
    n = len(moves)
    if n <= MAX_COLOURED:
        return [LINE_COLOURS[k % len(LINE_COLOURS)] for k in range(n)]
    size = np.where(np.isfinite(moves), np.abs(moves), -1.0)
    out = [BACKGROUND] * n
    for rank, k in enumerate(np.argsort(-size, kind="stable")[:HIGHLIGHTED]):
        out[int(k)] = LINE_COLOURS[rank]
    return out

#: A dashed vertical line marking an event's day 0.
DAY_LINE: dict[str, Any] = {
    "color": MUTED,
    "linewidth": 0.9,
    "linestyle": (0, (3, 2)),
    "zorder": 1.6,
}
#: The market index's line (black, or muted for a second index).
MARKET_LINE: dict[str, Any] = {"linewidth": 2.2, "linestyle": (0, (5, 2))}
#: The horizontal line at zero of a chart of returns.
ZERO_LINE: dict[str, Any] = {"color": "#333333", "linewidth": 0.8, "zorder": 1.5}

# Type sizes (points, before the figure size's scale).
FOOTER_SIZE = 8
TITLE_SIZE = 13
SUBTITLE_SIZE = 9.5
LABEL_SIZE = 8.5


@dataclass(frozen=True)
class FigureSize:
    """A target size: the figure's width (inches) and scales for type and for fixed heights."""

    name: str
    width: float
    font: float
    height: float


#: ``report``: 8 in wide (HTML report, screen); ``slide``: 11 in with 1.35x type (a 16:9 slide);
#: ``print``: 6.5 in with 0.88x type (a journal page's text width).
SIZES: dict[str, FigureSize] = {
    "report": FigureSize("report", 8.0, 1.0, 1.0),
    "slide": FigureSize("slide", 11.0, 1.35, 1.15),
    "print": FigureSize("print", 6.5, 0.88, 0.85),
}
_SIZE: ContextVar[FigureSize] = ContextVar("eventstudy_figure_size", default=SIZES["report"])
# rcParams scaled with the type (every font size the style file sets as a number).
_FONT_KEYS: tuple[RcKeyType, ...] = (
    "font.size",
    "axes.labelsize",
    "axes.titlesize",
    "xtick.labelsize",
    "ytick.labelsize",
    "legend.fontsize",
    "legend.title_fontsize",
    "figure.titlesize",
    "figure.labelsize",
)

_STYLE_LOCK = threading.RLock()


def figure_size(size: str | FigureSize | None) -> FigureSize:
    """The :class:`FigureSize` named by ``size`` (None: the one in force, ``report`` outside)."""
    if size is None:
        return _SIZE.get()
    if isinstance(size, FigureSize):
        return size
    try:
        return SIZES[str(size)]
    except KeyError:
        raise ValueError(f"unknown figure size {size!r} (choose from {', '.join(SIZES)})") from None


@contextlib.contextmanager
def house_style(size: str | FigureSize | None = None) -> Iterator[None]:
    """The house style (and ``size``'s type scale) in force, under the module lock."""
    spec = figure_size(size)
    with _STYLE_LOCK, matplotlib.style.context(STYLE_PATH):
        if spec.font != 1.0:
            for key in _FONT_KEYS:
                value = mpl.rcParams[key]
                if isinstance(value, int | float):
                    mpl.rcParams[key] = value * spec.font
        token = _SIZE.set(spec)
        try:
            yield
        finally:
            _SIZE.reset(token)


def read_fonts_from_memory() -> bool:
    """Have matplotlib read the fonts it opens from here on from memory, not from their files;
    False where its font manager is not laid out as this expects (nothing changed then).

    FreeType reads a glyph's outline and metrics each time a text is measured or drawn, and
    matplotlib hands it the font file through Python's ``seek`` and ``read``: two system calls
    per read, a tenth of a chart's CPU time. The fonts' bytes in memory give the same glyphs
    (the same files to the byte), but such a font has no file name, which the PDF and PostScript
    backends need to embed it. So this is for a process that draws only PNG and SVG files and
    then ends: the chart workers (:mod:`.workers`), whose font cache starts empty (matplotlib
    empties it in a forked child). It stays in force for the rest of the process."""
    from matplotlib import font_manager, ft2font

    if getattr(font_manager, "ft2font", None) is not ft2font or not hasattr(
        font_manager, "_get_font"
    ):
        return False
    font_manager.ft2font = _FontsInMemory()  # type: ignore[attr-defined,assignment]
    font_manager._get_font.cache_clear()
    return True


class _FontsInMemory:
    """matplotlib's ``ft2font`` module as its font manager sees it, but for ``FT2Font``, which
    reads a font file into memory first (:func:`read_fonts_from_memory`)."""

    def __getattr__(self, name: str) -> Any:
        from matplotlib import ft2font

        return getattr(ft2font, name)

    @staticmethod
    def FT2Font(filename: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N802 (matplotlib's name)
        from matplotlib import ft2font

        # Only the fonts text is drawn with (``_get_font`` passes a kerning factor): a font the
        # font manager opens to list it (``addfont``) is recorded under its file name.
        if "_kerning_factor" in kwargs and isinstance(filename, str | bytes | os.PathLike):
            with open(filename, "rb") as file:
                filename = io.BytesIO(file.read())
        return ft2font.FT2Font(filename, *args, **kwargs)


def current_size() -> FigureSize:
    """The figure size in force (``report`` outside :func:`house_style`)."""
    return _SIZE.get()


def pt(points: float) -> float:
    """A type size or offset in points, scaled for the figure size in force."""
    return points * _SIZE.get().font


def width() -> float:
    """The figure width (inches) of the size in force."""
    return _SIZE.get().width


def size_of(fig: Figure) -> FigureSize:
    """The size a figure was drawn at (``report`` for figures not drawn here)."""
    size = getattr(fig, "_eventstudy_size", None)
    return size if isinstance(size, FigureSize) else SIZES["report"]


class _Canvas(FigureCanvasAgg):
    """matplotlib's Agg canvas, whose renderers give each font's height metrics
    (:func:`_font_height_metrics`) instead of matplotlib reading them again for every text."""

    def get_renderer(self) -> RendererAgg:
        renderer = super().get_renderer()
        if "_get_font_height_metrics" not in vars(renderer):
            # matplotlib's Text asks a renderer that has this method (the PDF and PostScript
            # renderers do) for a font's ascent, descent and line gap
            metrics = functools.partial(_font_height_metrics, dpi=renderer.dpi)
            renderer._get_font_height_metrics = metrics
        return renderer


def _font_height_metrics(
    prop: FontProperties, dpi: float
) -> tuple[float | None, float | None, float | None]:
    """A font's ascent, descent and line gap in pixels at ``dpi``, as matplotlib's ``Text``
    computes them from the font's tables (OS/2, else hhea), read once per font and size: a
    text's layout read two tables (dictionaries of thirty entries) every time it was measured
    or drawn, 3-4% of a chart. None where matplotlib then measures the font itself. ``dpi`` is
    the renderer's, which matplotlib made at the figure's dpi (the one ``Text`` scales by)."""
    return _height_metrics(prop.copy(), dpi)  # a copy: the text's properties may change


@functools.lru_cache(maxsize=256)
def _height_metrics(
    prop: FontProperties, dpi: float
) -> tuple[float | None, float | None, float | None]:
    from matplotlib.font_manager import fontManager, get_font

    font = get_font(fontManager._find_fonts_by_props(prop))
    os2, hhea = font.get_sfnt_table("OS/2"), font.get_sfnt_table("hhea")
    if os2 is not None:
        ascent, descent, gap = os2["sTypoAscender"], os2["sTypoDescender"], os2["sTypoLineGap"]
    elif hhea is not None:
        ascent, descent, gap = hhea["ascent"], hhea["descent"], hhea["lineGap"]
    else:
        return None, None, None
    head = font.get_sfnt_table("head")
    assert head is not None
    scale = 1 / head["unitsPerEm"] * prop.get_size_in_points() * dpi / 72
    return ascent * scale, -descent * scale, gap * scale


def new_figure(fig_width: float, height: float) -> Figure:
    """A figure with an Agg canvas and constrained layout, tagged with the size in force."""
    fig = Figure(figsize=(fig_width, height), layout="constrained")
    _Canvas(fig)
    fig._eventstudy_size = _SIZE.get()  # type: ignore[attr-defined]
    return fig


def figure_and_axes(ax: Axes | None, fig_width: float, height: float) -> tuple[Figure, Axes]:
    """``ax`` and its figure, or a new figure with one axes."""
    if ax is not None:
        try:
            fig = ax.get_figure(root=True)
        except TypeError:  # matplotlib < 3.10: no ``root``; ``ax.figure`` may be a subfigure
            parent = ax.figure
            fig = parent if isinstance(parent, Figure) else parent.figure
        if fig is None:
            raise ValueError("ax belongs to no figure")
        return fig, ax
    fig = new_figure(fig_width, height)
    return fig, fig.add_subplot()


def line_height(n: int) -> float:
    """Figure height (inches) for a line chart with ``n`` direct labels: room for each label."""
    size = _SIZE.get()
    return max(5.4 * size.height, 2.4 * size.height + 0.18 * n * size.font)


def bar_height(n: float) -> float:
    """Figure height (inches) for ``n`` horizontal bars: grows with the number of bars."""
    size = _SIZE.get()
    return max(3.6 * size.height, 2.3 * size.height + 0.3 * n * size.font)


def heat_height(n: int) -> float:
    """Figure height (inches) for a heatmap of ``n`` rows: at least 14 pt a row."""
    size = _SIZE.get()
    return max(3.8 * size.height, 2.5 * size.height + 0.27 * n * size.font)


def sign_colour(value: float) -> str:
    """Vermillion for a loss, blue for a gain (or nothing)."""
    return NEGATIVE if value < 0 else POSITIVE


def diverging_cmap() -> Colormap:
    """Vermillion (loss) - white - blue (gain): the bar charts' sign colours, colour-blind safe."""
    cmap = LinearSegmentedColormap.from_list(
        "eventstudy_diverging",
        [(0.0, "#8F3E00"), (0.25, NEGATIVE), (0.5, "#F7F7F7"), (0.75, POSITIVE), (1.0, "#003F63")],
    )
    return cmap.with_extremes(bad="#D9D9D9")
