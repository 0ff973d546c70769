"""Board-ready figures of the toolkit's result frames, in one calm, colour-blind safe style.

Every plot function takes a result frame first (the data, never modified) and ``ax=None``: with
``None`` it creates a figure of a size that suits the content, otherwise it draws into the given
Axes. Options are keyword-only. The functions compute nothing beyond layout (positions, sorting,
the running sums a waterfall is made of, min/max for a title): every rate, interval, limit and
status comes from the frame, so a figure always shows exactly the numbers in the table beside it.
Each returns the Axes it drew on; :func:`plot_seasonality`, which draws two panels, returns both
(an :class:`AxesPair`, whose ``.figure`` is the Figure they sit on).

The parameters the plot functions share (``ax``, ``phase_model``, ``title`` and the keyword
``language`` every plot function takes) are described once, in ``toolkit.base.docstrings``, and
read the same in each function's docstring.

Style: percentages are shown as ``62% (58-66%)`` (estimate and 95% interval), one decimal below
10%; ``n`` appears wherever a rate does; phases use one sequential blue palette; statuses use
vermillion (significantly below target), amber (not significant) and bluish green (on target),
always together with their words, never colour alone. Call :func:`theme` to give your own plots
the same look; the plot functions apply it themselves without changing global settings.

One module per step's figures (``funnel``, ``schema``, ``cohorts``, ``timing``, ``diagnosis``,
``steering``, ``kpi_tree``, ``timeline``) on the helpers they share: ``checks`` (what a plot is
given, the decorator every plot wears), ``axes`` (layout), ``labels`` (numbers and words on a
figure) and ``style`` (palette, language, saving). Import the names from this package.
"""

from __future__ import annotations

from toolkit.present.plotting.cohorts import (
    plot_cohort_conversion,
    plot_cohort_heatmap,
)
from toolkit.present.plotting.diagnosis import (
    plot_bottlenecks,
    plot_mix_vs_rate,
    plot_segment_scan,
)
from toolkit.present.plotting.funnel import (
    plot_funnel,
)
from toolkit.present.plotting.kpi_tree import (
    plot_kpi_tree,
)
from toolkit.present.plotting.schema import (
    plot_process_schema,
)
from toolkit.present.plotting.steering import (
    plot_control_chart,
    plot_scorecard,
)
from toolkit.present.plotting.style import (
    PALETTE,
    SERIES_COLORS,
    drawing_language,
    phase_palette,
    save_figure,
    status_color,
    theme,
)
from toolkit.present.plotting.timeline import (
    plot_engagement_timeline,
)
from toolkit.present.plotting.timing import (
    AxesPair,
    plot_seasonality,
    plot_time_to_convert,
)

__all__ = [
    "PALETTE",
    "SERIES_COLORS",
    "theme",
    "phase_palette",
    "status_color",
    "plot_funnel",
    "plot_process_schema",
    "plot_cohort_conversion",
    "plot_seasonality",
    "plot_time_to_convert",
    "plot_bottlenecks",
    "plot_segment_scan",
    "plot_control_chart",
    "plot_scorecard",
    "plot_kpi_tree",
    "plot_mix_vs_rate",
    "plot_cohort_heatmap",
    "plot_engagement_timeline",
    "save_figure",
    "AxesPair",
]

# Also importable from here, as they were before the module became a package:
__all__ += [
    "drawing_language",
]
