"""Report-ready charts of event-study results, in the house style (``eventstudy.mplstyle``).

Each ``plot_*`` function draws with matplotlib's object-oriented API (no pyplot, no display) and
returns the figure without saving it; :func:`save_figures` writes every chart of every event.

* :func:`plot_car` -- CAR paths over the event window per stock, with the cross-sectional average
  and its 95% band;
* :func:`plot_day0_ar` -- day-0 abnormal returns by stock, sorted, significant ones starred;
* :func:`plot_prices` -- prices indexed to 100 on day -1, with the market index;
* :func:`plot_value` -- dollar market value lost or gained by stock, sorted, with the total;
* :func:`plot_ar_heatmap` -- abnormal returns by stock (rows) and event day (columns);
* :func:`plot_volume` -- abnormal log volume by day, the stocks' mean as bars and each stock as a
  dot, labelled with the multiple of normal volume (events that measure volume);
* :func:`plot_volatility` -- the stocks' mean volatility ratio by day against its null mean, each
  stock as a dot, on a log scale (events that measure volatility);
* :func:`plot_events_timeline` -- prices indexed to 100 over the whole study, every event marked;
* :func:`plot_caar_comparison` -- the average CAR path of each event, with 95% bands, on one chart;
* :func:`plot_model_comparison` -- the same stocks' CAR paths under several normal-return models
  (events with the same day 0 and tickers but different models, as in ``examples/models.yaml``).

:func:`chart_plan` lists the charts a study gets (:class:`ChartSpec`), :func:`draw_chart` draws one
of them, and :func:`save_figures` writes them all (PNG, SVG and/or PDF) at one of the
:data:`SIZES`: ``"report"`` (8 in wide, the default), ``"slide"`` (11 in, larger type, for a 16:9
slide) or ``"print"`` (6.5 in, a journal page's text width).

Modules: :mod:`.style` (palette, sizes, the style in force), :mod:`.layout` (titles, axes, labels),
:mod:`.chart_data` (what the charts read from the results), :mod:`.event_charts`,
:mod:`.value_heatmap` and :mod:`.measure_charts` (per-event charts), :mod:`.study_charts`
(whole-study charts), :mod:`.figures` (the plan and the writer), :mod:`.png` (PNG files from
matplotlib's pixels) and :mod:`.workers` (charts drawn in forked processes).
"""

from eventstudy.output.plots.event_charts import plot_car, plot_day0_ar, plot_prices
from eventstudy.output.plots.figures import (
    PNG_DPI,
    ChartSpec,
    chart_plan,
    draw_chart,
    event_slugs,
    figure_png,
    save_figures,
)
from eventstudy.output.plots.measure_charts import plot_volatility, plot_volume
from eventstudy.output.plots.study_charts import (
    model_groups,
    plot_caar_comparison,
    plot_events_timeline,
    plot_model_comparison,
)
from eventstudy.output.plots.style import SIZES, STYLE_PATH, FigureSize
from eventstudy.output.plots.value_heatmap import plot_ar_heatmap, plot_value

__all__ = [
    "PNG_DPI",
    "SIZES",
    "STYLE_PATH",
    "ChartSpec",
    "FigureSize",
    "chart_plan",
    "draw_chart",
    "event_slugs",
    "figure_png",
    "model_groups",
    "plot_ar_heatmap",
    "plot_caar_comparison",
    "plot_car",
    "plot_day0_ar",
    "plot_events_timeline",
    "plot_model_comparison",
    "plot_prices",
    "plot_value",
    "plot_volatility",
    "plot_volume",
    "save_figures",
]
