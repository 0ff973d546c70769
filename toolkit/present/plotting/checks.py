"""The checks a plot function makes of what it is given (the result frame and the toolkit
function that makes it, the Axes, the phase model), and the decorator every plot function
wears: the house style, and an empty panel that says why when the frame has no rows."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from toolkit.base.exceptions import DataError
from toolkit.base.phases import PhaseModel
from toolkit.present.plotting.axes import draw_title
from toolkit.present.plotting.style import HOUSE_RC, LANGUAGE, PALETTE, drawing_language
from toolkit.present.plotting.style import gettext as _
from toolkit.present.tables import N_

_F = TypeVar("_F", bound=Callable[..., Any])


class NothingToDraw(DataError):
    """A result frame with the right columns but no rows: an edge engagement (no records, nobody
    in the phase, no mature cohort), drawn as an empty panel that says so."""

    def __init__(self, message: str, *, fix: str, reader: str) -> None:
        super().__init__(message, fix=fix)
        self.reader = reader


def styled(function: _F) -> _F:
    """Run a plot function inside the house rc context, leaving the caller's settings alone.

    A frame without rows is not a mistake of the caller but a fact about the data (too few
    records): the figure then says "nothing to show yet" instead of raising, so a report on a
    young engagement still renders and tells the reader why a figure is empty."""
    @functools.wraps(function)
    def wrapper(*args: Any, language: str | None = None, **kwargs: Any) -> Any:
        with mpl.rc_context(HOUSE_RC), drawing_language(language or LANGUAGE.get()):
            try:
                return function(*args, **kwargs)
            except NothingToDraw as empty:
                return _empty_panel(function, kwargs, empty.reader)
    # The wrapper is the function with the keyword `language` added, which typing cannot say
    # (PEP 612 adds positional parameters only): it passes for the function itself.
    return wrapper  # type: ignore[return-value]


def _empty_panel(function: Callable[..., Any], kwargs: dict[str, Any], reader: str) -> Any:
    """The figure of a plot with nothing to show: its title and one line saying why."""
    given = kwargs.get("ax")
    if isinstance(given, Axes):
        ax = given
    elif given is not None:  # a sequence of Axes (plot_seasonality): write in the first
        ax = list(np.ravel(np.asarray(given, dtype=object)))[0]
    else:
        _figure, ax = plt.subplots(figsize=(8.0, 2.6), layout="constrained")
    ax.set_axis_off()
    headline = kwargs.get("title") or function.__name__.removeprefix("plot_").replace("_", " ")
    draw_title(ax, headline[:1].upper() + headline[1:])
    ax.text(0.5, 0.5, _("Nothing to show yet: {reason}.").format(reason=_(reader)),
            transform=ax.transAxes, ha="center",
            va="center", fontsize=10.5, color=PALETTE["muted"], wrap=True)
    return ax.figure if function.__annotations__.get("return") in (Figure, "Figure") else ax


# Which toolkit function produces the frame each plot expects: named in every column error.
PRODUCERS = {
    "funnel": "toolkit.measure.funnel.funnel(engagement)",
    "kpis": "toolkit.measure.kpis.compute_kpis(engagement) (the rows with from_phase and to_phase)",
    "cohort": "toolkit.measure.funnel.cohort_conversion(engagement, ...)",
    "seasonality": "toolkit.measure.seasonality.seasonality(engagement).monthly",
    "km": "toolkit.measure.survival.kaplan_meier(...).survival_",
    "cif": "toolkit.measure.survival.cumulative_incidence(...)",
    "bottlenecks": "toolkit.analysis.diagnosis.bottleneck_sizing(engagement)",
    "segment_scan": "toolkit.analysis.diagnosis.segment_scan(engagement)",
    "control_chart": "toolkit.analysis.steering.control_chart(...)",
    "alerts": "toolkit.analysis.steering.run_rules(chart_frame)",
    "scorecard": "toolkit.analysis.steering.scorecard(kpis)",
    "kpi_tree": "toolkit.measure.kpis.kpi_tree(engagement)",
    "mix": "toolkit.analysis.diagnosis.mix_vs_rate(engagement, ...).by_segment",
    "cohort_heatmap": "toolkit.measure.funnel.cohort_conversion(engagement, period='month')",
    "duration": "toolkit.analysis.planning.estimate_duration(factors).by_step",
}


# What an empty result frame means, in the reader's words (shown in the empty panel).
_EMPTY_READER = {
    "funnel": N_("no record reached any phase"),
    "kpis": N_("no KPI could be measured"),
    "cohort": N_("no record has reached the starting phase of a cohort"),
    "cohort_heatmap": N_("no record has reached the starting phase of a cohort"),
    "seasonality": N_("no month has mature records"),
    "km": N_("no record has converted yet"),
    "cif": N_("no record has converted or been lost yet (all still open, or none reached the phase)"),
    "bottlenecks": N_("too few records to size any bottleneck"),
    "segment_scan": N_("there is no segment to compare (one segment only, or too few records)"),
    "control_chart": N_("no month has mature records"),
    "alerts": N_("no alerts"),
    "scorecard": N_("no KPI could be measured"),
    "kpi_tree": N_("no KPI could be measured"),
    "mix": N_("no segment mix to decompose"),
    "duration": N_("no step to plan"),
}


def require_frame(frame: object, columns: Sequence[str], *, function: str, argument: str,
             producer: str) -> pd.DataFrame:
    where = PRODUCERS[producer]
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"{function}: `{argument}` must be a pandas DataFrame, but a "
                        f"{type(frame).__name__} was passed", fix=f"pass the frame from {where}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"{function}: `{argument}` lacks the column(s) {missing}; it has "
            f"{[str(c) for c in frame.columns]}", fix=f"pass the frame from {where}")
    if len(frame) == 0:
        raise NothingToDraw(f"{function}: `{argument}` has no rows, so there is nothing to draw",
                             fix=f"check the filter that built it; it comes from {where}",
                             reader=_EMPTY_READER.get(producer, "the data has no rows for it"))
    return frame


def check_ax(ax: object, function: str) -> None:
    if ax is not None and not isinstance(ax, Axes):
        raise TypeError(f"{function}: the value for `ax` must be a matplotlib Axes or None, but "
                        f"a {type(ax).__name__} was passed.")


def check_phase_model(phase_model: object, function: str) -> None:
    if phase_model is not None and not isinstance(phase_model, PhaseModel):
        raise TypeError(f"{function}: the value for `phase_model` must be a PhaseModel (e.g. "
                        f"engagement.phase_model) or None, but a {type(phase_model).__name__} "
                        f"was passed.")
