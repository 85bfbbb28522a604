"""What every chart is decorated with: the title, subtitle and footer, the day axis and the day-0
mark, shaded bands, labels at the end of lines and of bars, kept apart from one another."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.layout_engine import ConstrainedLayoutEngine, TightLayoutEngine
from matplotlib.text import Annotation, Text
from matplotlib.ticker import FuncFormatter, MaxNLocator

from eventstudy.output.format import _signed, fmt_short
from eventstudy.output.plots.style import (
    DAY_LINE,
    FOOTER_SIZE,
    LABEL_SIZE,
    MUTED,
    SUBTITLE_SIZE,
    TITLE_SIZE,
    pt,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.backend_bases import RendererBase
    from matplotlib.figure import Figure, SubFigure

#: A line labelled at its right-hand end: label, x, y, colour, bold.
LineEnd = tuple[str, np.ndarray, np.ndarray, str, bool]


def decorate(
    fig: Figure,
    ax: Axes,
    title: str,
    subtitle: str,
    notes: list[str],
    top_pad: float = 17,
) -> None:
    """Bold title and grey subtitle above the axes, small grey footer (one paragraph per item of
    ``notes``) below the x-axis label; all flush with the axes' left edge and wrapped to the
    axes' width (wider text would make constrained layout shrink the axes again and again).
    ``top_pad``: points between the axes' top and the subtitle (room for labels above the axes)."""
    common: dict[str, Any] = {
        "textcoords": "offset points",
        "ha": "left",
        "annotation_clip": False,
        "parse_math": False,
    }
    sub = ax.annotate(
        "",
        xy=(0, 1),
        xycoords="axes fraction",
        xytext=(0, pt(top_pad)),
        va="bottom",
        fontsize=pt(SUBTITLE_SIZE),
        color="#444444",
        **common,
    )
    head = ax.annotate(
        "",
        xy=(0, 1),
        xycoords=("axes fraction", sub),
        xytext=(0, pt(5)),
        va="bottom",
        fontsize=pt(TITLE_SIZE),
        fontweight="bold",
        color="#111111",
        **common,
    )
    note = ax.annotate(
        "",
        xy=(0, 0),
        xycoords=("axes fraction", ax.xaxis.label),
        xytext=(0, -pt(8)),
        va="top",
        fontsize=pt(FOOTER_SIZE),
        color=MUTED,
        linespacing=1.35,
        **common,
    )
    for artist, gid in ((sub, "subtitle"), (head, "title"), (note, "footer")):
        artist.set_gid(gid)
    lay_out(fig)  # place the axes: their width does not depend on these texts
    renderer = _renderer(fig)
    avail = ax.get_window_extent(renderer).width
    for text, paragraphs in ((head, [title]), (sub, [subtitle]), (note, notes)):
        _wrap_text(text, paragraphs, avail, renderer)


def decorate_grid(
    fig: Figure,
    axes: list[Axes],
    title: str,
    subtitle: str,
    notes: list[str],
    handles: list[Any],
) -> None:
    """Title, subtitle and a legend above a grid of axes, the footer below it, in bands that the
    constrained layout leaves free (its ``rect``); flush with the leftmost axes' edge and wrapped to
    the grid's width, as :func:`decorate` does for one axes."""
    common: dict[str, Any] = {"ha": "left", "parse_math": False}
    head = fig.text(
        0, 1, "", va="top", fontsize=pt(TITLE_SIZE), fontweight="bold", color="#111111", **common
    )
    sub = fig.text(0, 1, "", va="top", fontsize=pt(SUBTITLE_SIZE), color="#444444", **common)
    note = fig.text(
        0,
        0,
        "",
        va="bottom",
        fontsize=pt(FOOTER_SIZE),
        color=MUTED,
        linespacing=1.35,
        **common,
    )

    def make_legend(ncols: int) -> Any:
        made = fig.legend(
            handles=handles,
            loc="upper left",
            ncols=ncols,
            frameon=False,
            borderaxespad=0.0,
            borderpad=0.0,
            handlelength=2.2,
        )
        made.set_gid("legend")
        return made

    legend = make_legend(max(1, len(handles)))
    for artist, gid in ((head, "title"), (sub, "subtitle"), (note, "footer")):
        artist.set_gid(gid)
    engine = fig.get_layout_engine()
    width_px, height_px = fig.bbox.width, fig.bbox.height
    margin = 0.06 * fig.dpi
    gap = pt(4) * fig.dpi / 72.0
    for _ in range(2):
        lay_out(fig)
        renderer = _renderer(fig)
        boxes = [ax.get_window_extent(renderer) for ax in axes]
        left = min(b.x0 for b in boxes)
        avail = max(b.x1 for b in boxes) - left
        for text, paragraphs in ((head, [title]), (sub, [subtitle]), (note, notes)):
            _wrap_text(text, paragraphs, avail, renderer)
        # As many legend columns as fit in the grid's width.
        ncols = max(1, len(handles))
        while ncols > 1 and legend.get_window_extent(renderer).width > avail:
            ncols -= 1
            legend.remove()
            legend = make_legend(ncols)
        h_head = head.get_window_extent(renderer).height
        h_sub = sub.get_window_extent(renderer).height
        h_leg = legend.get_window_extent(renderer).height
        h_note = note.get_window_extent(renderer).height
        y = height_px - margin
        head.set_position((left / width_px, y / height_px))
        y -= h_head + gap
        sub.set_position((left / width_px, y / height_px))
        y -= h_sub + 2 * gap
        legend.set_bbox_to_anchor((left / width_px, y / height_px), transform=fig.transFigure)
        y -= h_leg + 3 * gap
        note.set_position((left / width_px, margin / height_px))
        bottom = margin + h_note + 3 * gap
        if isinstance(engine, ConstrainedLayoutEngine | TightLayoutEngine):
            engine.set(rect=(0.0, bottom / height_px, 1.0, (y - bottom) / height_px))
    lay_out(fig)


def lay_out(fig: Figure, *, final: bool = False) -> None:
    """Place the axes as drawing the figure would (its layout engine, constrained layout here),
    without drawing it: what the charts need before they measure a text or an axes. An
    unrendered draw (``Figure.draw_without_rendering``) runs the same engine and then walks
    every artist, which changes nothing measured afterwards (texts and legends measure
    themselves on demand) and cost as much again.

    Constrained layout places the axes twice in a row (the second time because tick labels change
    once the axes have moved). Only the figure's first layout (from matplotlib's default place of
    the axes, far from the final one) and the ``final`` one (the layout the files are saved
    with) take both passes; the layouts in between, for measuring, start from the place the last
    one found and take one pass (:func:`_one_pass`): in the demo's 23 charts, 127 passes instead of
    162. The files differ from two passes by at most a pixel's shift (of a bar and its label)."""
    engine = fig.get_layout_engine()
    if not fig.axes or engine is None:  # the condition under which Figure.draw runs it
        return
    if final or not getattr(fig, "_eventstudy_laid_out", False) or not _one_pass(fig, engine):
        engine.execute(fig)
    fig._eventstudy_laid_out = True  # type: ignore[attr-defined]


def _one_pass(fig: Figure, engine: Any) -> bool:
    """One pass of matplotlib's constrained layout (``do_constrained_layout`` makes two), from its
    own steps; False where that is not possible (the caller then runs the whole layout): another
    engine, one that compresses the axes, or a matplotlib whose private steps differ."""
    if type(engine) is not ConstrainedLayoutEngine or getattr(engine, "_compress", True):
        return False
    try:
        from matplotlib import _constrained_layout as steps

        params = engine.get()
        width, height = fig.get_size_inches()
        pads = {"w_pad": params["w_pad"] / width, "h_pad": params["h_pad"] / height}
        spaces = {"wspace": params["wspace"], "hspace": params["hspace"]}
        renderer = fig._get_renderer()  # type: ignore[attr-defined]  # as the engine does
        grids = steps.make_layoutgrids(fig, None, rect=params["rect"])
        if not grids["hasgrids"]:
            return False
        steps.make_layout_margins(grids, fig, renderer, **pads, **spaces)
        steps.make_margin_suptitles(grids, fig, renderer, **pads)
        steps.match_submerged_margins(grids, fig)
        grids[fig].update_variables()
        if not steps.check_no_collapsed_axes(grids, fig):
            return False  # the full layout warns
        steps.reposition_axes(grids, fig, renderer, **pads, **spaces)
        steps.reset_margins(grids, fig)
    except (ImportError, AttributeError, TypeError, KeyError):  # pragma: no cover
        return False  # (the full layout that follows places every axes again)
    return True


def _renderer(fig: Figure | SubFigure) -> RendererBase:
    """The renderer that measures the figure's texts: its Agg canvas's (every figure drawn here has
    one; see :func:`~eventstudy.output.plots.style.new_figure`), else the one matplotlib would use
    for the canvas of a figure handed in (``plot_car``'s ``ax``)."""
    canvas = fig.canvas
    if isinstance(canvas, FigureCanvasAgg):
        return canvas.get_renderer()  # what Figure._get_renderer returns for an Agg canvas
    # Other canvases: matplotlib has no public way to get the renderer saving would use.
    return fig._get_renderer()  # type: ignore[union-attr]  # private, not in matplotlib's stubs


def _wrap_text(text: Text, paragraphs: list[str], avail: float, renderer: Any) -> None:
    """Wrap ``paragraphs`` into ``text`` with lines as long as fit in ``avail`` pixels."""
    chars = max((len(p) for p in paragraphs), default=1)
    for _ in range(8):
        text.set_text("\n".join(line for p in paragraphs for line in textwrap.wrap(p, chars)))
        width = text.get_window_extent(renderer).width
        if width <= avail or chars <= 20:
            return
        chars = max(20, min(chars - 1, int(chars * avail / width)))


# ----------------------------------------------------------------------------- axes
def day_ticks() -> FuncFormatter:
    """Tick labels of trading days relative to day 0: ``−5``, ``0``, ``+5``."""
    return FuncFormatter(lambda x, _pos: _signed(round(x)))


def number_ticks() -> FuncFormatter:
    """Tick labels of numbers in their shortest form, with the typographic minus."""
    return FuncFormatter(lambda x, _pos: fmt_short(x))


def day_axis(ax: Axes, days: np.ndarray, nbins: int | None = None) -> None:
    """An x axis of trading days relative to day 0, over ``days`` (at most 12 ticks, or
    ``nbins``)."""
    ax.xaxis.set_major_locator(
        MaxNLocator(
            nbins=min(len(days), 12) if nbins is None else nbins,
            integer=True,
            steps=[1, 2, 5, 10],
        )
    )
    ax.xaxis.set_major_formatter(day_ticks())
    ax.set_xlim(days.min() - 0.3, days.max() + 0.3)


def mark_day0(ax: Axes, day0: str | None, band: bool = False) -> None:
    """Dashed line at day 0 (and a light band with ``band``), labelled above the axes:
    ``Day 0: <date>``, or ``Day 0`` when ``day0`` is None."""
    if band:
        ax.axvspan(-0.5, 0.5, color="#F2F2F2", zorder=0.5, linewidth=0).set_gid("day0_band")
    ax.axvline(0, **DAY_LINE).set_gid("day0")
    day0_label(ax, "Day 0" if day0 is None else f"Day 0: {day0}")


def day0_label(ax: Axes, text: str) -> None:
    """``text`` above the axes, centred on day 0."""
    ax.annotate(
        text,
        xy=(0, 1),
        xycoords=("data", "axes fraction"),
        xytext=(0, pt(3)),
        textcoords="offset points",
        ha="center",
        va="bottom",
        fontsize=pt(LABEL_SIZE - 0.5),
        color=MUTED,
        annotation_clip=False,
        parse_math=False,
    )


def band(
    ax: Axes,
    x: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    colour: str,
    *,
    alpha: float,
    zorder: float = 2.0,
) -> None:
    """A shaded band with faint edges (the edges also keep the legend off the band)."""
    ax.fill_between(x, lo, hi, color=colour, alpha=alpha, linewidth=0, zorder=zorder)
    for edge in (lo, hi):
        (line,) = ax.plot(
            x, edge, color=colour, linewidth=0.5, alpha=0.45, zorder=zorder, solid_capstyle="butt"
        )
        line.set_gid("band-edge")


# ----------------------------------------------------------------------------- labels
def direct_labels(fig: Figure, ax: Axes, lines: list[LineEnd]) -> None:
    """Label each line just right of the axes at the height of its last finite point, spread
    apart so the labels never overlap; a thin leader joins a label that had to move to its line.
    Lines without a finite point get no label."""
    ends: list[tuple[str, float, float, str, bool]] = []
    for label, xs, ys, colour, bold in lines:
        ok = np.flatnonzero(np.isfinite(ys))
        if len(ok):
            ends.append((label, float(xs[ok[-1]]), float(ys[ok[-1]]), colour, bold))
    if not ends:
        return
    ax.set_xlim(*ax.get_xlim())  # freeze the limits before converting points to data units
    ax.set_ylim(*ax.get_ylim())
    lay_out(fig)  # settle the layout so the axes' height is known
    height_pt = ax.get_window_extent().height * 72.0 / fig.dpi
    lo, hi = ax.get_ylim()
    # Shrink the labels (not below 6.5 pt) when they would not fit beside the axes.
    size = max(pt(6.5), min(pt(LABEL_SIZE), height_pt / len(ends) / 1.3))
    gap = size * 1.3 * (hi - lo) / max(height_pt, 1.0)
    placed = _spread(np.array([e[2] for e in ends]), gap, lo + 0.5 * gap, hi - 0.5 * gap)
    x0, x1 = ax.get_xlim()
    trans = ax.get_yaxis_transform()  # x in axes fraction, y in data units
    for (label, x, y, colour, bold), pos in zip(ends, placed, strict=True):
        if abs(pos - y) > 0.35 * gap:
            (leader,) = ax.plot(
                [(x - x0) / (x1 - x0) + 0.004, 1.03],
                [y, pos],
                transform=trans,
                color=colour,
                linewidth=0.6,
                alpha=0.7,
                clip_on=False,
                zorder=1.8,
            )
            leader.set_gid("leader")
        text = ax.text(
            1.036,
            pos,
            label,
            transform=trans,
            ha="left",
            va="center",
            fontsize=size,
            color=colour,
            fontweight="bold" if bold else "normal",
            clip_on=False,
            parse_math=False,
        )
        text.set_gid(f"endlabel:{label}")


def _spread(desired: np.ndarray, gap: float, lo: float, hi: float) -> np.ndarray:
    """Positions as close as possible to ``desired`` with at least ``gap`` between neighbours,
    within ``[lo, hi]`` when they fit (clusters of overlapping labels are centred on their mean)."""
    order = np.argsort(desired, kind="stable")
    d = desired[order]
    clusters: list[list[int]] = []  # index ranges into d

    def start(c: list[int]) -> float:
        members = np.arange(c[0], c[1])
        return float(np.mean(d[members] - (members - c[0]) * gap))

    for k in range(len(d)):
        clusters.append([k, k + 1])
        while len(clusters) > 1:
            prev, last = clusters[-2], clusters[-1]
            if start(prev) + (prev[1] - prev[0]) * gap <= start(last) + 1e-12:
                break
            clusters[-2:] = [[prev[0], last[1]]]
    pos = np.empty_like(d)
    for c in clusters:
        s = start(c)
        pos[c[0] : c[1]] = s + np.arange(c[1] - c[0]) * gap
    # Keep inside [lo, hi] when there is room, without re-creating overlaps.
    if len(pos) and (len(pos) - 1) * gap <= hi - lo:
        pos[0] = max(pos[0], lo)
        for k in range(1, len(pos)):
            pos[k] = max(pos[k], pos[k - 1] + gap)
        pos[-1] = min(pos[-1], hi)
        for k in range(len(pos) - 2, -1, -1):
            pos[k] = min(pos[k], pos[k + 1] - gap)
    out = np.empty_like(pos)
    out[order] = pos
    return out


def stagger(fig: Figure, ax: Axes, labels: list[Annotation]) -> int:
    """Lift labels above the axes into as many rows as needed so that none overlaps another;
    labels that would stick out beyond the axes are turned to start (end) at their mark.
    Returns the number of rows."""
    if not labels:
        return 1
    lay_out(fig)
    renderer = _renderer(fig)
    axes_box = ax.get_window_extent(renderer)
    gap = pt(8) * fig.dpi / 72.0
    spans = []
    for label in labels:
        box = label.get_window_extent(renderer)
        if box.x0 < axes_box.x0:
            label.set_horizontalalignment("left")
            box = label.get_window_extent(renderer)
        elif box.x1 > axes_box.x1:
            label.set_horizontalalignment("right")
            box = label.get_window_extent(renderer)
        spans.append((box.x0, box.x1, label))
    line_pt = pt(LABEL_SIZE - 0.5) * 1.35
    row_ends: list[float] = []
    for x0, x1, label in sorted(spans, key=lambda s: s[0]):
        row = next((r for r, end in enumerate(row_ends) if x0 >= end + gap), len(row_ends))
        if row == len(row_ends):
            row_ends.append(x1)
        else:
            row_ends[row] = x1
        label.set_position((0, pt(3) + row * line_pt))
    return len(row_ends)


# ----------------------------------------------------------------------------- bar labels
def bar_label(
    ax: Axes,
    value: float,
    y: float,
    text: str,
    *,
    gid: str,
    bold: bool = False,
    pad: float = 4,
) -> Annotation:
    """Value label just beyond the end of a horizontal bar (on its side of zero)."""
    side = np.sign(value) or 1.0
    label = ax.annotate(
        text,
        xy=(value, y),
        xytext=(side * pt(pad), 0),
        textcoords="offset points",
        ha="left" if side > 0 else "right",
        va="center",
        fontsize=pt(LABEL_SIZE),
        color="#222222",
        fontweight="bold" if bold else "normal",
        annotation_clip=False,
        parse_math=False,
    )
    label.set_gid(gid)
    return label


def clear_markers(
    ax: Axes, labels: list[Annotation], values: np.ndarray, marks: np.ndarray
) -> None:
    """Move a bar's value label off the marker drawn just beyond the bar's end: inside the bar
    (in white) when it fits there, else beyond the marker. Needs the layout in place."""
    fig = ax.get_figure()
    assert fig is not None
    renderer = _renderer(fig)
    to_px = ax.transData.transform
    radius = 5.0 * fig.dpi / 72.0
    for label, v, m in zip(labels, values, marks, strict=True):
        if not np.isfinite(m) or np.sign(m) != np.sign(v):
            continue
        box = label.get_window_extent(renderer)
        marker_px = to_px((m, 0.0))[0]
        if not box.x0 - radius <= marker_px <= box.x1 + radius:
            continue
        side = 1.0 if v >= 0 else -1.0
        bar_px = abs(to_px((v, 0.0))[0] - to_px((0.0, 0.0))[0])
        if box.width + 8.0 * fig.dpi / 72.0 <= bar_px:
            label.set_position((-side * 4, 0))  # offset points, back inside the bar
            label.set_horizontalalignment("right" if side > 0 else "left")
            label.set_color("white")
        else:
            label.xy = (m, label.xy[1])
            label.set_position((side * 7, 0))


def fit_texts_x(fig: Figure, ax: Axes, texts: list[Annotation]) -> None:
    """Widen the x-limits so every bar label lies inside the axes.

    A label sticks out ``w`` pixels beyond its anchor ``a`` (a data x), so it fits when
    ``a + w·(hi − lo)/W <= hi`` (right of the anchor; mirrored on the left), ``W`` being the axes'
    width in pixels: solved by fixed-point iteration, then checked after a new layout."""
    ax.set_xlim(*ax.get_xlim())
    for _ in range(3):
        lay_out(fig)
        lo, hi = ax.get_xlim()
        width_px = max(ax.get_window_extent().width, 1.0)
        right: list[tuple[float, float]] = []
        left: list[tuple[float, float]] = []
        for t in texts:
            box = t.get_window_extent()
            anchor = float(t.xy[0])
            at = ax.transData.transform((anchor, 0.0))[0]
            pad = 3.0 * fig.dpi / 72.0
            if box.x1 > at + 0.5:
                right.append((anchor, (box.x1 - at + pad) / width_px))
            if box.x0 < at - 0.5:
                left.append((anchor, (at - box.x0 + pad) / width_px))
        if max((k for _, k in right), default=0.0) + max((k for _, k in left), default=0.0) > 0.8:
            return  # labels about as wide as the axes: widening cannot make them fit
        new_lo, new_hi = lo, hi
        for _ in range(100):
            span = new_hi - new_lo
            want_hi = max([hi, *(a + k * span for a, k in right)])
            want_lo = min([lo, *(a - k * span for a, k in left)])
            if abs(want_hi - new_hi) + abs(want_lo - new_lo) <= 1e-9 * span:
                break
            new_lo, new_hi = want_lo, want_hi
        if new_lo >= lo - 1e-9 * (hi - lo) and new_hi <= hi + 1e-9 * (hi - lo):
            return
        ax.set_xlim(new_lo, new_hi)
