"""Board-ready figures of the toolkit's result frames, in one calm, colour-blind safe style.

Every plot function takes a result frame first (the data, never modified) and ``ax=None``: with
``None`` it creates a figure of a size that suits the content, otherwise it draws into the given
Axes. Options are keyword-only. The functions compute nothing beyond layout (positions, sorting,
the running sums a waterfall is made of, min/max for a title): every rate, interval, limit and
status comes from the frame, so a figure always shows exactly the numbers in the table beside it.
Each returns the Axes it drew on, except :func:`plot_seasonality`, which draws two panels and
returns the Figure.

Shared vocabulary of the docstrings
-----------------------------------
data : DataFrame
    The result frame to draw (the first argument of every plot function except
    :func:`plot_process_schema`, which draws a phase model); never modified.
ax : matplotlib Axes, optional
    Where to draw; a new figure is created when None.
phase_model : PhaseModel, optional
    When given, phase keys are shown as the model's labels (``engagement.phase_model``).
title : str, optional
    Replaces the default title. The default titles state what the reader should see; the
    subtitle says what the marks mean.
language : ``"en"`` (default) or ``"nl"``
    The language of the titles, axis labels and legends (the message catalogue,
    ``toolkit.present.messages``) and of the numbers in them (36,1% and 1.234 in Dutch). Without
    it a figure is drawn in the language of an enclosing :func:`drawing_language` (the report's),
    else in English.

Style: percentages are shown as ``62% (58-66%)`` (estimate and 95% interval), one decimal below
10%; ``n`` appears wherever a rate does; phases use one sequential blue palette; statuses use
vermillion (significantly below target), amber (not significant) and bluish green (on target),
always together with their words, never colour alone. Call :func:`theme` to give your own plots
the same look; the plot functions apply it themselves without changing global settings.
"""

from __future__ import annotations

import contextlib
import functools
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from babel import numbers as babel_numbers
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import FancyBboxPatch, Patch, Rectangle
from matplotlib.textpath import TextToPath
from matplotlib.ticker import FuncFormatter, MaxNLocator
from matplotlib.transforms import blended_transform_factory

from toolkit.base.exceptions import ConfigError, DataError, OptionError, ToolkitError
from toolkit.base.phases import PhaseModel
from toolkit.base.vocabulary import (
    STATUS_NOT_SIGNIFICANT,
    STATUS_ON_TARGET,
    STATUS_SIGNIFICANT,
    STATUS_TOO_FEW,
    STATUS_UNJUDGED,
    STATUSES,
)
from toolkit.present.format import Formatter, formatter
from toolkit.present.messages import check_language, translations
from toolkit.present.tables import N_, attribute_label

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
]

# --------------------------------------------------------------------------------------------
# Style
# --------------------------------------------------------------------------------------------

#: The named colours of every figure. Status colours are Okabe & Ito's colour-blind safe
#: vermillion, orange and bluish green; phases run from light to dark blue.
PALETTE: dict[str, str] = {
    "ink": "#1F2933",             # text and key lines
    "muted": "#6B7480",           # secondary text, axes
    "grid": "#E4E7EB",
    "band": "#0072B2",            # interval bands (drawn transparent)
    "primary": "#0072B2",         # the series when there is one
    "light": "#9CC3E6",
    "counts": "#C9CED6",          # n bars behind rates
    "immature": "#D9DDE3",
    "below": "#D55E00",           # significantly below target / outside control limits
    "not_significant": "#E69F00",  # short of target but compatible with it
    "on_target": "#009E73",
    "neutral": "#9AA1AB",         # no target, no data, too few records
    "converted": "#0072B2",
    "lost": "#CC79A7",
    "rate_effect": "#0072B2",
    "mix_effect": "#CC79A7",
    "phase_light": "#A6CBE8",
    "phase_dark": "#08306B",
    "box": "#F4F6F8",
}

#: Colours for categorical series (segments); Okabe-Ito / Tol colours without the status hues.
SERIES_COLORS: tuple[str, ...] = ("#0072B2", "#CC79A7", "#56B4E9", "#332288", "#44AA99",
                                  "#882255", "#999933", "#5D6D7E")

_RC: dict[str, Any] = {
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "axes.edgecolor": "#B8BEC6",
    "axes.linewidth": 0.8,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": PALETTE["grid"],
    "grid.linewidth": 0.8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 12.5,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.titlecolor": PALETTE["ink"],
    "axes.labelsize": 10,
    "axes.labelcolor": PALETTE["ink"],
    "text.color": PALETTE["ink"],
    "xtick.color": PALETTE["muted"],
    "ytick.color": PALETTE["muted"],
    "xtick.labelcolor": PALETTE["ink"],
    "ytick.labelcolor": PALETTE["ink"],
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.frameon": False,
    "legend.fontsize": 9,
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],  # ships with matplotlib: same metrics everywhere
    "axes.prop_cycle": mpl.cycler(color=list(SERIES_COLORS)),
    # Figure text comes from the client's data (segment values, labels): `$...$` in a value is
    # characters, never mathtext (a value such as `$\x$` would otherwise fail the figure).
    "text.parse_math": False,
}

_F = TypeVar("_F", bound=Callable[..., Any])


def theme() -> None:
    """Apply the toolkit's figure style globally (seaborn whitegrid plus the house colours).

    The plot functions do not need it: they draw inside their own style context. Call it at the
    top of a notebook to give your own seaborn/matplotlib figures the same look.
    """
    sns.set_theme(style="whitegrid", rc=_RC)


def phase_palette(n: int) -> list[tuple[float, float, float]]:
    """``n`` colours from light to dark blue, one per phase (the first phase lightest)."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise OptionError(f"The value for `n` must be a positive whole number, but {n!r} was passed.")
    return list(sns.blend_palette([PALETTE["phase_light"], PALETTE["phase_dark"]], n_colors=int(n)))


def status_color(code: object) -> str:
    """The colour of a status code (``status_code`` of the scorecard or the KPI table).

    Significantly below/off target -> vermillion, not significant -> amber, on target -> green;
    no target, no data, significance unknown and too few records to conclude -> grey.
    """
    if code in STATUS_TOO_FEW or code in STATUS_UNJUDGED or code is None:
        return PALETTE["neutral"]
    if code in STATUS_SIGNIFICANT:
        return PALETTE["below"]
    if code in STATUS_NOT_SIGNIFICANT:
        return PALETTE["not_significant"]
    if code in STATUS_ON_TARGET:
        return PALETTE["on_target"]
    return PALETTE["neutral"]


# The language the figures being drawn speak (`language=` of a plot call, or the report's).
_LANGUAGE: ContextVar[str] = ContextVar("toolkit_plot_language", default="en")


@contextlib.contextmanager
def drawing_language(language: str) -> Iterator[None]:
    """Draw the figures made inside the block in `language` (``en`` or ``nl``)."""
    token = _LANGUAGE.set(check_language(language))
    try:
        yield
    finally:
        _LANGUAGE.reset(token)


def _(message: str) -> str:
    """`message` (an English msgid) in the language of the figure being drawn."""
    return translations(_LANGUAGE.get()).gettext(message)


def _fmt() -> Formatter:
    """The one formatter (toolkit.present.format), in the language of the figure being drawn:
    every number on a figure is written by it, as on the pages and in the workbook."""
    return formatter(_LANGUAGE.get())


class _NothingToDraw(DataError):
    """A result frame with the right columns but no rows: an edge engagement (no records, nobody
    in the phase, no mature cohort), drawn as an empty panel that says so."""

    def __init__(self, message: str, *, fix: str, reader: str) -> None:
        super().__init__(message, fix=fix)
        self.reader = reader


def _styled(function: _F) -> _F:
    """Run a plot function inside the house rc context, leaving the caller's settings alone.

    A frame without rows is not a mistake of the caller but a fact about the data (too few
    records): the figure then says "nothing to show yet" instead of raising, so a report on a
    young engagement still renders and tells the reader why a figure is empty."""
    @functools.wraps(function)
    def wrapper(*args: Any, language: str | None = None, **kwargs: Any) -> Any:
        with mpl.rc_context(_RC), drawing_language(language or _LANGUAGE.get()):
            try:
                return function(*args, **kwargs)
            except _NothingToDraw as empty:
                return _empty_panel(function, kwargs, empty.reader)
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
    _title(ax, headline[:1].upper() + headline[1:])
    ax.text(0.5, 0.5, _("Nothing to show yet: {reason}.").format(reason=_(reader)),
            transform=ax.transAxes, ha="center",
            va="center", fontsize=10.5, color=PALETTE["muted"], wrap=True)
    return ax.figure if function.__annotations__.get("return") in (Figure, "Figure") else ax


# --------------------------------------------------------------------------------------------
# Checks and formatting
# --------------------------------------------------------------------------------------------

# Which toolkit function produces the frame each plot expects: named in every column error.
_PRODUCERS = {
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


def _require(frame: object, columns: Sequence[str], *, function: str, argument: str,
             producer: str) -> pd.DataFrame:
    where = _PRODUCERS[producer]
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"{function}: `{argument}` must be a pandas DataFrame, but a "
                        f"{type(frame).__name__} was passed", fix=f"pass the frame from {where}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"{function}: `{argument}` lacks the column(s) {missing}; it has "
            f"{[str(c) for c in frame.columns]}", fix=f"pass the frame from {where}")
    if len(frame) == 0:
        raise _NothingToDraw(f"{function}: `{argument}` has no rows, so there is nothing to draw",
                             fix=f"check the filter that built it; it comes from {where}",
                             reader=_EMPTY_READER.get(producer, "the data has no rows for it"))
    return frame


def _check_ax(ax: object, function: str) -> None:
    if ax is not None and not isinstance(ax, Axes):
        raise ToolkitError(f"{function}: the value for `ax` must be a matplotlib Axes or None, but "
                           f"a {type(ax).__name__} was passed.")


def _new_axes(ax: Axes | None, figsize: tuple[float, float], *, drawing: bool = False) -> Axes:
    """The given Axes, or a new figure's. A `drawing` (axis off, text placed by measured widths)
    gets a fixed full-width Axes under a title band, because its layout is computed from the Axes
    size before drawing and must not change afterwards."""
    if ax is not None:
        return ax
    if drawing:
        fig = plt.figure(figsize=figsize)
        title_in = 0.75
        return fig.add_axes((0.01, 0.02, 0.98, 1 - 0.02 - title_in / figsize[1]))
    _figure, new = plt.subplots(figsize=figsize, layout="constrained")
    return new


def _num(frame: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _digits(value: float) -> int:
    """Decimals for a share shown as %: whole percents, one decimal below 10% (where 2% may be
    1.5% or 2.4%). The estimate decides, so an interval is printed with the estimate's precision."""
    return 1 if value is not None and np.isfinite(value) and abs(value) < 0.1 else 0


def _pct(value: float, digits: int | None = None) -> str:
    if value is None or not np.isfinite(value):
        return _("n/a")
    return _fmt().percent(value, _digits(value) if digits is None else digits)


def _pct_ci(rate: float, low: float, high: float) -> str:
    """'62% (58-66%)': the estimate with its interval, in the estimate's precision."""
    if rate is None or not np.isfinite(rate):
        return _("n/a")
    if low is None or high is None or not (np.isfinite(low) and np.isfinite(high)):
        return _pct(rate)
    return _fmt().interval(rate, low, high, "percent", decimals=_digits(rate))


def _count(value: float) -> str:
    return _("n/a") if value is None or not np.isfinite(value) else _fmt().count(value)


def _is_share_unit(unit: object) -> bool:
    return str(unit).strip().lower() in ("%", "share", "rate", "percent", "pct")


def _currency_code(unit: str) -> str:
    """The ISO code of a money unit ('EUR' or '€' -> 'EUR'; 'usd' -> 'USD'), or '' when the unit
    is not a currency. The formatter writes its symbol as CLDR does ('US$' in both languages:
    unambiguous beside other dollars)."""
    if unit == "€" or unit.lower() == "euro":
        unit = "EUR"
    if len(unit) != 3 or not babel_numbers.is_currency(unit.upper()):
        return ""
    return unit.upper()


def _fmt_value(value: float, unit: object = None) -> str:
    """A KPI value in its unit: shares as %, euros compact, days, counts with thousands."""
    if value is None or not np.isfinite(value):
        return _("n/a")
    u = "" if _missing(unit) else str(unit).strip()
    low = u.lower()
    if _is_share_unit(u):
        return _pct(value)
    code = _currency_code(u.split("/", 1)[0].strip())
    if code:
        per = u.split("/", 1)[1] if "/" in u else ""
        return _fmt().compact_amount(value, code) + (f"/{_(per)}" if per else "")
    if low in ("days", "day", "d"):
        return _fmt().number(value, 1 if abs(value) < 10 else 0) + " " + _("days")
    if low == "x":
        return _fmt().number(value, 1) + "x"
    number = _fmt().number(value)
    if low in ("", "count", "n", "number"):
        return number
    return f"{number} {_(u)}"


def _fmt_range(low: float, high: float, unit: object, digits: int | None = None) -> str:
    """An interval in a KPI's unit with the unit written once: '(41-46%)', '(39-50 days)'."""
    if _missing(unit) or _is_share_unit(unit):
        d = _digits(min(low, high)) if digits is None else digits
        return f"({_fmt().range(low, high, 'percent', decimals=d)})"
    lo, hi = _fmt_value(low, unit), _fmt_value(high, unit)
    suffix = ""
    for tail in (" days", " day", "x"):
        if lo.endswith(tail) and hi.endswith(tail):
            lo, suffix = lo[: -len(tail)], tail
            hi = hi[: -len(tail)]
    return f"({lo}–{hi}{suffix})"  # the en dash of the formatter's ranges


def _p_text(p: float) -> str:
    """'p_adj<0.001', 'p_adj=0.042'; a comparison left out of the adjustment says so."""
    if p is None or not np.isfinite(p):
        return _("too small to test")
    text = _fmt_p(p)
    return _("p_adj") + (" " if text.startswith(("<", ">")) else " = ") + text


def _fmt_p(p: float) -> str:
    if p is None or not np.isfinite(p):
        return _("n/a")
    return _fmt().p_value(p)  # as every page and table writes it: '< 0,001', '0,042'



def _phase_name(key: object, phase_model: PhaseModel | None, fallback: object = None) -> str:
    if _missing(key):
        return ""
    if phase_model is not None and str(key) in phase_model.keys:
        return phase_model.label(str(key))
    if fallback is not None and not _missing(fallback):
        return str(fallback)
    return str(key)


def _check_phase_model(phase_model: object, function: str) -> None:
    if phase_model is not None and not isinstance(phase_model, PhaseModel):
        raise ToolkitError(f"{function}: the value for `phase_model` must be a PhaseModel (e.g. "
                           f"engagement.phase_model) or None, but a {type(phase_model).__name__} "
                           f"was passed.")


def _darker(color: Any, factor: float = 0.72) -> tuple[float, float, float]:
    """A darker shade of a status colour, readable as text on a light box."""
    r, g, b = mpl.colors.to_rgb(color)
    return (r * factor, g * factor, b * factor)


def _luminance(color: Any) -> float:
    r, g, b = mpl.colors.to_rgb(color)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


# Control characters from the data have no glyph (matplotlib warns and draws a box): shown as the
# replacement character, as the workbook does.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _printable(text: str) -> str:
    return _CONTROL_CHARACTERS.sub("\ufffd", text)


def _text_on(color: Any) -> str:
    return "white" if _luminance(color) < 0.55 else PALETTE["ink"]


def _title(ax: Axes, headline: str, subtitle: str | None = None, *, above: float = 0.0) -> None:
    """Bold headline with a grey explanatory line under it, both left-aligned on the axes;
    `above` keeps that many points over the axes free (for column headers drawn as text)."""
    lines = subtitle.count("\n") + 1 if subtitle else 0
    pad = 6 + lines * 12.5 + above
    ax.set_title(headline, loc="left", pad=pad, fontsize=12.5, fontweight="bold",
                 color=PALETTE["ink"])
    if subtitle:
        ax.annotate(subtitle, xy=(0, 1), xycoords="axes fraction", xytext=(0, 5 + above),
                    textcoords="offset points", ha="left", va="bottom", fontsize=9,
                    color=PALETTE["muted"], annotation_clip=False)


def _clean_axes(ax: Axes, *, grid: str | None = "y") -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#B8BEC6")
    ax.grid(False)
    if grid:
        ax.grid(True, axis=grid, color=PALETTE["grid"], linewidth=0.8)
        ax.set_axisbelow(True)
    ax.tick_params(colors=PALETTE["muted"], labelcolor=PALETTE["ink"], labelsize=9)


class _FloorLocator(MaxNLocator):
    """Nice ticks, but none below `floor`: the strip under it belongs to the n bars."""

    def __init__(self, floor: float | None, ceiling: float | None = None) -> None:
        super().__init__(nbins=6, steps=[1, 2, 2.5, 5, 10])
        self.floor, self.ceiling = floor, ceiling

    def __call__(self) -> Any:
        vmin, vmax = self.axis.get_view_interval()
        low = vmin if self.floor is None else max(vmin, self.floor)
        high = vmax if self.ceiling is None else min(vmax, self.ceiling)
        ticks = self.tick_values(low, high)
        return [t for t in ticks if low - 1e-12 <= t <= high + 1e-12]


def _percent_axis(ax: Axes, axis: str = "y", *, floor: float | None = None,
                  ceiling: float | None = None) -> None:
    """Shares on `axis` as percentages; whole percents unless the visible range is narrow."""
    target = ax.yaxis if axis == "y" else ax.xaxis

    def fmt(value: float, pos: int | None = None) -> str:
        vmin, vmax = target.get_view_interval()
        low = vmin if floor is None else max(vmin, floor)
        decimals = 0 if (vmax - low) >= 0.06 else 1
        return _fmt().percent(value, decimals)

    target.set_major_locator(_FloorLocator(floor, ceiling))
    target.set_major_formatter(FuncFormatter(fmt))


def _legend_below(ax: Axes, handles: Sequence[Any] | None = None,
                  labels: Sequence[str] | None = None, *, ncols: int = 3) -> None:
    """The legend under the x axis, clear of the data, left-aligned with the plot."""
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    drop = 0.32 + (0.22 if ax.get_xlabel() else 0.0)
    anchor = ax.transAxes + mpl.transforms.ScaledTranslation(0, -drop, ax.figure.dpi_scale_trans)
    ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(0, 0), bbox_transform=anchor,
              ncols=ncols, fontsize=8.5, handlelength=1.8, columnspacing=1.6)


def _period_ticks(ax: Axes, labels: Sequence[str]) -> None:
    """Category positions with as many period labels as fit without overlapping."""
    count = len(labels)
    width_pt = ax.get_position().width * ax.figure.get_figwidth() * 72
    longest = max((len(s) for s in labels), default=1)
    fits = max(1, int(width_pt / (longest * 9 * 0.6 + 10)))
    step = max(1, math.ceil(count / fits))
    positions = list(range(0, count, step))
    ax.set_xticks(positions)
    ax.set_xticklabels([labels[i] for i in positions])
    ax.set_xlim(-0.6, count - 0.4)


def _n_bars(ax: Axes, x: np.ndarray, series: Sequence[tuple[np.ndarray, Any]], *,
            share: float = 0.2, label: str = "n") -> Axes:
    """Counts as faint bars in the bottom strip of a rate chart (twin axis, drawn behind)."""
    twin = ax.twinx()
    ax.set_zorder(twin.get_zorder() + 1)
    ax.patch.set_visible(False)
    k = max(len(series), 1)
    width = 0.8 / k
    top = 0.0
    for i, (counts, color) in enumerate(series):
        offset = (i - (k - 1) / 2) * width
        values = np.where(np.isfinite(counts), counts, 0.0)
        twin.bar(x + offset, values, width=width * 0.92, color=color, alpha=0.22 if k > 1 else 1.0,
                 linewidth=0, zorder=0)
        top = max(top, float(np.nanmax(values)) if values.size else 0.0)
    top = max(top, 1.0)
    twin.set_ylim(0, top / share)
    twin.set_yticks([0, top])
    twin.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _fmt().number(v, 0)))
    twin.tick_params(axis="y", colors=PALETTE["muted"], labelcolor=PALETTE["muted"], labelsize=8,
                     length=0)
    twin.set_ylabel(label, color=PALETTE["muted"], fontsize=8.5)
    twin.yaxis.set_label_coords(1.035, share / 2)
    twin.grid(False)
    for side in ("top", "right", "left", "bottom"):
        twin.spines[side].set_visible(False)
    return twin


def _shade_immature(ax: Axes, positions: np.ndarray) -> None:
    """Grey the periods whose conversion window has not closed yet, with the word on them
    (upright over a wide stretch, vertical over one or two periods)."""
    for i in positions:
        ax.axvspan(i - 0.5, i + 0.5, color=PALETTE["immature"], alpha=0.55, lw=0, zorder=0)
    if len(positions) == 0:
        return
    narrow = len(positions) <= 2
    ax.text((positions[0] + positions[-1]) / 2, 0.98, _("immature"),
            transform=blended_transform_factory(ax.transData, ax.transAxes), ha="center",
            va="top", rotation=90 if narrow else 0, fontsize=8.5, color=PALETTE["muted"])


def _rate_limits(ax: Axes, low: float, high: float, *, strip: float) -> float:
    """Rate axis limits that leave the bottom `strip` of the axes to the n bars; returns the
    lowest rate shown (the floor for the ticks)."""
    if not np.isfinite(low) or not np.isfinite(high):
        low, high = 0.0, 1.0
    span = max(high - low, 0.02)
    top = min(1.0, high + 0.1 * span) if high <= 1 else high + 0.1 * span
    low = max(0.0, low - 0.08 * span)
    if low < 0.25 * span:
        low = 0.0  # close to zero anyway: show the 0% line rather than a floating axis
    f = strip + 0.04
    bottom = (low - f * top) / (1 - f)
    ax.set_ylim(bottom, top)
    return low


_TEXT_PATH = TextToPath()


@functools.lru_cache(maxsize=4096)
def _width_pt(text: str, fontsize: float, weight: str = "normal") -> float:
    """Rendered width of `text` in points (the house font), for wrapping to a box."""
    prop = FontProperties(family="DejaVu Sans", size=fontsize, weight=weight)
    width, _height, _descent = _TEXT_PATH.get_text_width_height_descent(text, prop, ismath=False)
    return float(width)


def _wrap_pt(text: object, width_pt: float, fontsize: float, weight: str = "normal") -> list[str]:
    """Greedy word wrap to a width in points; a word longer than a line (Dutch compounds such as
    'Binnendienstmedewerker') is split with a hyphen only when it cannot fit on a line of its own."""
    words = str(text).split() if text is not None and not _missing(text) else []
    lines: list[str] = []
    current = ""
    for word in words:
        trial = f"{current} {word}" if current else word
        if _width_pt(trial, fontsize, weight) <= width_pt:
            current = trial
            continue
        if current:
            lines.append(current)
        current = word
        while _width_pt(current, fontsize, weight) > width_pt and len(current) > 2:
            cut = len(current) - 1
            while cut > 1 and _width_pt(current[:cut] + "-", fontsize, weight) > width_pt:
                cut -= 1
            lines.append(current[:cut] + "-")
            current = current[cut:]
    if current:
        lines.append(current)
    return lines


# --------------------------------------------------------------------------------------------
# 1. Funnel
# --------------------------------------------------------------------------------------------

@_styled
def plot_funnel(data: pd.DataFrame, *, phase_model: PhaseModel | None = None,
                ax: Axes | None = None, title: str | None = None) -> Axes:
    """Horizontal funnel: records that reached each phase, step conversion between the bars.

    Parameters
    ----------
    data : DataFrame from `toolkit.measure.funnel.funnel` without `by` (or one segment of it):
        `phase, reached, n, rate, ci_low, ci_high, cumulative_rate` (and `label`), one row per
        phase in phase order.
    phase_model, ax, title : see the module docstring.

    Returns
    -------
    Axes. The bars are ``ax.patches`` (one per phase); the step labels read
    "▼ 62% (58-66%) of 1,234", the right column the cumulative share of the first phase.

    Notes
    -----
    The funnel is an all-time view: records still open count as not (yet) converted, so the
    recent steps look worse than they will be. Compare periods with `plot_cohort_conversion`.
    """
    name = "plot_funnel"
    _check_ax(ax, name)
    _check_phase_model(phase_model, name)
    frame = _require(data, ["phase", "reached", "n", "rate", "ci_low", "ci_high",
                                    "cumulative_rate"], function=name, argument="data",
                     producer="funnel")
    doubles = frame["phase"].astype(str)[frame["phase"].astype(str).duplicated()]
    if len(doubles):
        raise DataError(
            f"{name}: `data` has more than one row for phase {doubles.iloc[0]!r}; it holds "
            "several segments", fix="draw one segment at a time, e.g. "
            "frame[frame['channel'] == 'event'], or call funnel(engagement) without `by`")
    frame = frame.reset_index(drop=True)
    labels = [_phase_name(p, phase_model, frame["label"].iloc[i] if "label" in frame else None)
              for i, p in enumerate(frame["phase"])]
    reached = _num(frame, "reached")
    rate, low, high, n = (_num(frame, c) for c in ("rate", "ci_low", "ci_high", "n"))
    cumulative = _num(frame, "cumulative_rate")
    count = len(frame)
    ax = _new_axes(ax, (10.0, 1.0 + 0.95 * count))
    _clean_axes(ax, grid=None)

    widest = float(np.nanmax(reached)) if np.isfinite(reached).any() else 1.0
    widest = widest if widest > 0 else 1.0
    y = np.arange(count, dtype=float)
    colors = phase_palette(count)
    widths = np.where(np.isfinite(reached), reached, 0.0)
    bars = ax.barh(y, widths, left=-widths / 2, height=0.58, color=colors, edgecolor="white",
                   linewidth=0.8)
    for i, bar in enumerate(bars):
        text = _count(reached[i])
        if widths[i] >= 0.16 * widest:
            ax.text(0, y[i], text, ha="center", va="center", fontsize=10, fontweight="bold",
                    color=_text_on(colors[i]))
        else:  # too narrow for the number inside: put it beside the bar
            ax.text(widths[i] / 2 + 0.015 * widest, y[i], text, ha="left", va="center",
                    fontsize=10, fontweight="bold", color=PALETTE["ink"])
        bar.set_label(labels[i])
    for i in range(1, count):
        if not np.isfinite(rate[i]):
            continue
        ax.text(0, y[i] - 0.5, "▼ " + _("{rate} of {n}").format(
                    rate=_pct_ci(rate[i], low[i], high[i]), n=_count(n[i])),
                ha="center", va="center", fontsize=9, color=PALETTE["ink"],
                bbox={"boxstyle": "round,pad=0.18", "fc": "white", "ec": "none", "alpha": 0.9})
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=10)
    ax.set_ylim(count - 0.5, -0.5)
    ax.set_xlim(-widest * 0.56, widest * 0.56)
    ax.set_xticks([])
    ax.spines["bottom"].set_visible(False)
    ax.spines["left"].set_visible(False)
    ax.tick_params(axis="y", length=0)
    right = ax.secondary_yaxis("right")
    right.set_yticks(y)
    right.set_yticklabels(["100%" if i == 0 else _pct(cumulative[i]) for i in range(count)],
                          fontsize=10, color=PALETTE["muted"])
    right.tick_params(length=0)
    right.spines["right"].set_visible(False)
    ax.annotate(_("share of\n{phase}").format(phase=labels[0]), xy=(1.0, -0.42),
                xycoords=("axes fraction", "data"),
                xytext=(4, 0), textcoords="offset points", ha="left", va="bottom", fontsize=8,
                color=PALETTE["muted"], annotation_clip=False)
    if title is None:
        title = _("{first_n} {first} → {last_n} {last}: {share} overall").format(
            first_n=_count(reached[0]), first=labels[0], last_n=_count(reached[-1]),
            last=labels[-1], share=_pct(cumulative[-1]))
    _title(ax, title, _("Step conversion with 95% interval and n between the bars; open records "
                        "count as not yet converted"))
    return ax


# --------------------------------------------------------------------------------------------
# 2. Process schema
# --------------------------------------------------------------------------------------------

def _schema_arrows(phase_model: PhaseModel, kpis: pd.DataFrame | None,
                   funnel_frame: pd.DataFrame | None) -> list[dict[str, Any]]:
    name = "plot_process_schema"
    if kpis is not None and funnel_frame is not None:
        raise ConfigError(f"{name}: pass either `kpis` or `funnel_frame`, not both",
                          fix="use funnel_frame for the raw funnel, kpis for the agreed KPI values")
    rows: list[dict[str, Any]] = []
    if funnel_frame is not None:
        frame = _require(funnel_frame, ["phase", "from_phase", "n", "rate", "ci_low", "ci_high"],
                         function=name, argument="funnel_frame", producer="funnel")
        frame = frame[frame["from_phase"].notna()]
        for _index, r in frame.iterrows():
            rows.append({"from": str(r["from_phase"]), "to": str(r["phase"]), "value": r["rate"],
                         "low": r["ci_low"], "high": r["ci_high"], "n": r["n"], "unit": "%"})
    elif kpis is not None:
        frame = _require(kpis, ["from_phase", "to_phase", "value"], function=name,
                         argument="kpis", producer="kpis")
        frame = frame[frame["from_phase"].notna() & frame["to_phase"].notna()]
        for _index, r in frame.iterrows():
            rows.append({"from": str(r["from_phase"]), "to": str(r["to_phase"]),
                         "value": r["value"], "low": r.get("ci_low", np.nan),
                         "high": r.get("ci_high", np.nan), "n": r.get("n", np.nan),
                         "unit": r.get("unit", "%")})
    else:
        return []
    seen: set[tuple[str, str]] = set()
    keys = phase_model.keys
    for row in rows:
        pair = (row["from"], row["to"])
        if pair in seen:
            raise DataError(
                f"{name}: the KPI frame has more than one row for {pair[0]} → {pair[1]}",
                fix="pass one row per transition (compute_kpis without `by` and `period`, or "
                    "filter one segment and period)")
        seen.add(pair)
        for key in pair:
            if key not in keys:
                raise DataError(f"{name}: the KPI frame names phase {key!r}, which is not in the "
                                f"phase model {keys}", fix="pass the phase model of the same "
                                                           "engagement")
        if keys.index(pair[1]) <= keys.index(pair[0]):
            raise DataError(f"{name}: the KPI {pair[0]} → {pair[1]} runs backwards in the phase "
                            f"order {keys}", fix="swap from_phase and to_phase")
        for field in ("value", "low", "high", "n"):
            row[field] = float(pd.to_numeric(row[field], errors="coerce"))
    return rows


def _kpi_lines(row: dict[str, Any]) -> tuple[str, str]:
    """(headline value, detail) of a KPI on an arrow: '62%', '(58-66%)\\nn=1,234'."""
    unit = row["unit"]
    if _missing(unit) or _is_share_unit(unit):
        d = _digits(row["value"])
        value = _pct(row["value"], d)
        ci = (f"({_fmt().range(row['low'], row['high'], 'percent', decimals=d)})"
              if np.isfinite(row["low"]) and np.isfinite(row["high"]) else "")
    else:
        value = _fmt_value(row["value"], unit)
        ci = (f"({_fmt_value(row['low'], unit)}-{_fmt_value(row['high'], unit)})"
              if np.isfinite(row["low"]) and np.isfinite(row["high"]) else "")
    detail = "\n".join(x for x in (ci, f"n={_count(row['n'])}" if np.isfinite(row["n"]) else "") if x)
    return value, detail


@_styled
def plot_process_schema(phase_model: PhaseModel, *, kpis: pd.DataFrame | None = None,
                        funnel_frame: pd.DataFrame | None = None, show_tasks: bool = False,
                        ax: Axes | None = None, title: str | None = None) -> Axes:
    """The method's process schema: phases left to right, their roles, actions and output below,
    and the KPI on every arrow.

    Parameters
    ----------
    phase_model : the engagement's PhaseModel (phases with label, functions, tasks, actions,
        output).
    kpis : DataFrame, optional, with `from_phase, to_phase, value` and optionally `ci_low,
        ci_high, n, unit` (e.g. `toolkit.measure.kpis.compute_kpis(engagement)`; rows without both phases
        are skipped). One row per transition. Values are shares shown as % unless `unit` says
        otherwise. A KPI between non-adjacent phases (e.g. first to last) is drawn as a bracket
        above the boxes.
    funnel_frame : DataFrame from `toolkit.measure.funnel.funnel`, as an alternative to `kpis`: its step
        conversions go on the arrows.
    show_tasks : also list each phase's tasks.
    ax, title : see the module docstring. A given Axes should be about 2 inches wide per phase.

    Returns
    -------
    Axes with the axis switched off. Long labels are wrapped to the column width.
    """
    name = "plot_process_schema"
    _check_ax(ax, name)
    if not isinstance(phase_model, PhaseModel):
        raise ToolkitError(f"{name}: the value for `phase_model` must be a PhaseModel (e.g. "
                           f"engagement.phase_model), but a {type(phase_model).__name__} was passed.")
    arrows = _schema_arrows(phase_model, kpis, funnel_frame)
    keys = phase_model.keys
    phases = phase_model.phases
    count = len(phases)
    adjacent = [a for a in arrows if keys.index(a["to"]) - keys.index(a["from"]) == 1]
    spans = sorted([a for a in arrows if keys.index(a["to"]) - keys.index(a["from"]) > 1],
                   key=lambda a: keys.index(a["to"]) - keys.index(a["from"]))

    created = ax is None
    if created:
        fig = plt.figure(figsize=(min(20.0, max(9.0, 2.6 * count)), 6.0))
        ax = fig.add_axes((0.015, 0.02, 0.97, 0.86))
    fig = ax.figure
    ax_w_in = ax.get_position().width * fig.get_figwidth()
    col_in = ax_w_in / count
    box_w = 0.72
    body_fs, head_fs, label_fs = 8.5, 7.5, 10.5
    line_in = body_fs * 1.45 / 72

    text_pt = (box_w * col_in - 0.15) * 72

    headers = [_wrap_pt(p.label, text_pt, label_fs, "bold") for p in phases]
    sections: list[tuple[str, list[list[str]]]] = [
        (_("ROLES"), [_bullets(p.functions, text_pt, body_fs) for p in phases])]
    if show_tasks:
        sections.append((_("TASKS"), [_bullets(p.tasks, text_pt, body_fs) for p in phases]))
    sections.append((_("ACTIONS"), [_bullets(p.actions, text_pt, body_fs) for p in phases]))
    sections.append((_("OUTPUT"), [_wrap_pt(p.output, text_pt, body_fs) for p in phases]))

    label_ratio = label_fs / body_fs
    label_step = 1.2 * label_ratio
    header_h = max(3.8, max(len(h) for h in headers) * label_step + 2.4)
    span_h = 2.3 * len(spans)
    header_top = span_h + (0.6 if spans else 0.2)
    body_top = header_top + header_h + 1.0
    section_tops = []
    y = body_top + 0.6
    for _heading, content in sections:
        section_tops.append(y)
        y += 1.15 + max(1, max(len(c) for c in content)) + 0.7
    body_h = y - body_top - 0.1
    total = body_top + body_h + 0.3

    if created:
        title_in = 0.75
        height = total * line_in / 0.97 + title_in
        fig.set_figheight(height)
        ax.set_position((0.015, 0.01, 0.97, (height - title_in) / height))
    ax.set_xlim(0, count)
    ax.set_ylim(total, 0)
    ax.axis("off")
    aspect = col_in / line_in  # y units per x unit on paper: keeps the corners round
    colors = phase_palette(count)
    for i in range(count):
        left = i + (1 - box_w) / 2
        ax.add_patch(FancyBboxPatch((left, header_top), box_w, header_h,
                                    boxstyle="round,pad=0,rounding_size=0.035",
                                    mutation_aspect=aspect, fc=colors[i], ec="none", zorder=2))
        lines = headers[i]
        # the phase number on a small line of its own, so it never costs the label a line
        block = 1.1 + len(lines) * label_step
        first = header_top + (header_h - block) / 2
        ax.text(i + 0.5, first + 0.55, _("PHASE {number}").format(number=i + 1), ha="center", va="center",
                fontsize=head_fs, fontweight="bold", color=_text_on(colors[i]), alpha=0.8, zorder=3)
        for j, line in enumerate(lines):
            ax.text(i + 0.5, first + 1.1 + (j + 0.5) * label_step, line, ha="center", va="center",
                    fontsize=label_fs, fontweight="bold", color=_text_on(colors[i]), zorder=3)
        ax.add_patch(FancyBboxPatch((left, body_top), box_w, body_h,
                                    boxstyle="round,pad=0,rounding_size=0.035",
                                    mutation_aspect=aspect, fc=PALETTE["box"], ec="#D5DAE0",
                                    lw=0.8, zorder=1))
        ax.plot([i + 0.5, i + 0.5], [header_top + header_h, body_top], color="#C5CCD4", lw=1.2,
                zorder=0)
        x_text = left + 0.07 / col_in  # 0.07 inch inside the box
        for (heading, content), top in zip(sections, section_tops, strict=True):
            ax.text(x_text, top, heading, ha="left", va="top", fontsize=head_fs, fontweight="bold",
                    color=PALETTE["muted"], zorder=3)
            lines = content[i] or ["–"]
            for j, line in enumerate(lines):
                ax.text(x_text, top + 1.15 + j, line, ha="left", va="top", fontsize=body_fs,
                        color=PALETTE["ink"] if content[i] else PALETTE["muted"], zorder=3)
    by_pair = {(a["from"], a["to"]): a for a in adjacent}
    mid = header_top + header_h / 2
    for i in range(count - 1):
        start, end = i + 0.5 + box_w / 2 + 0.01, i + 1.5 - box_w / 2 - 0.01
        ax.annotate("", xy=(end, mid), xytext=(start, mid), zorder=4,
                    arrowprops={"arrowstyle": "-|>,head_length=0.5,head_width=0.3",
                                "color": PALETTE["ink"], "lw": 1.3, "shrinkA": 0, "shrinkB": 0})
        row = by_pair.get((keys[i], keys[i + 1]))
        if row is None:
            continue
        value, detail = _kpi_lines(row)
        ax.text(i + 1, mid - 0.35, value, ha="center", va="bottom", fontsize=10, fontweight="bold",
                color=PALETTE["ink"], zorder=4)
        if detail:
            ax.text(i + 1, mid + 0.4, detail, ha="center", va="top", fontsize=7.5,
                    color=PALETTE["muted"], linespacing=1.25, zorder=4)
    for level, row in enumerate(spans):
        a, b = keys.index(row["from"]) + 0.5, keys.index(row["to"]) + 0.5
        top = header_top - 0.5 - (len(spans) - level - 1) * 2.3 - 1.1
        ax.plot([a, a, b], [header_top, top, top], color=PALETTE["muted"], lw=1.1, zorder=1)
        ax.annotate("", xy=(b, header_top), xytext=(b, top), zorder=1,
                    arrowprops={"arrowstyle": "-|>,head_length=0.4,head_width=0.25",
                                "color": PALETTE["muted"], "lw": 1.1, "shrinkA": 0, "shrinkB": 0})
        value, detail = _kpi_lines(row)
        detail = detail.replace("\n", ", ")
        text = (f"{_phase_name(row['from'], phase_model)} → {_phase_name(row['to'], phase_model)}:"
                f" {value} {detail}")
        ax.text((a + b) / 2, top, text, ha="center", va="center", fontsize=8.5,
                color=PALETTE["ink"], zorder=3,
                bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": "none"})
    if title is None:
        ends = (_(" from {first} to {last}").format(first=phases[0].label, last=phases[-1].label)
                if len(phases[0].label) + len(phases[-1].label) <= 40 else "")
        title = _("Commercial process in {count} phases{ends}").format(count=count, ends=ends) + (
            _(", with the conversion on each arrow") if arrows else "")
    subtitle = (_("KPI on each arrow: value, 95% interval and n") if arrows else
                _("Phases with their roles, actions and output"))
    _title(ax, title, subtitle)
    return ax


def _bullets(items: Sequence[str], width_pt: float, fontsize: float) -> list[str]:
    """One bullet per item, continuation lines indented under the text."""
    out: list[str] = []
    indent = _width_pt("• ", fontsize)
    for item in items:
        lines = _wrap_pt(item, width_pt - indent, fontsize)
        out.extend(("• " if j == 0 else "   ") + line for j, line in enumerate(lines))
    return out


# --------------------------------------------------------------------------------------------
# 3. Cohort conversion
# --------------------------------------------------------------------------------------------

def _transition_name(frame: pd.DataFrame, phase_model: PhaseModel | None) -> str | None:
    if "from_phase" not in frame or "to_phase" not in frame:
        return None
    pairs = frame[["from_phase", "to_phase"]].astype(str).drop_duplicates()
    if len(pairs) != 1:
        return None
    a, b = pairs.iloc[0]
    return f"{_phase_name(a, phase_model)} → {_phase_name(b, phase_model)}"


@_styled
def plot_cohort_conversion(data: pd.DataFrame, *, hue: str | None = None,
                           target: float | None = None, phase_model: PhaseModel | None = None,
                           ax: Axes | None = None, title: str | None = None) -> Axes:
    """Cohort conversion per period with its 95% band, cohort sizes and immature periods marked.

    Parameters
    ----------
    data : DataFrame from `toolkit.measure.funnel.cohort_conversion`: `period, n, successes,
        rate, ci_low, ci_high` and, when present, `immature_n, from_phase, to_phase, window_days`.
    hue : a column to draw one line per value of (e.g. a segment from `by=`). Default: one line
        per transition when the frame holds several, else one line.
    target : a target rate to draw as a dashed line.
    phase_model, ax, title : see the module docstring.

    Returns
    -------
    Axes; the lines are ``ax.lines`` (one per series, plus the target line), the cohort sizes are
    bars on a twin axis in the bottom strip. Periods without mature records are shaded grey
    ("immature"); hollow points are periods where part of the cohort is still immature.
    """
    name = "plot_cohort_conversion"
    _check_ax(ax, name)
    _check_phase_model(phase_model, name)
    frame = _require(data, ["period", "n", "successes", "rate", "ci_low", "ci_high"],
                     function=name, argument="data", producer="cohort")
    if hue is not None and hue not in frame.columns:
        raise DataError(f"{name}: the value for `hue` must be a column of `cohort_frame`, but {hue!r} "
                        f"was passed; columns are {[str(c) for c in frame.columns]}",
                        fix="pass the `by` column you gave cohort_conversion")
    if target is not None and not (isinstance(target, int | float) and 0 <= target <= 1):
        raise ToolkitError(f"{name}: the value for `target` must be a share between 0 and 1 (e.g. "
                           f"0.35 for 35%), but {target!r} was passed.")
    transition = _transition_name(frame, phase_model)
    if hue is None and transition is None and {"from_phase", "to_phase"} <= set(frame.columns):
        keys = frame["from_phase"].astype(str) + "\0" + frame["to_phase"].astype(str)
        names = {k: f"{_phase_name(k.split(chr(0))[0], phase_model)} → "
                    f"{_phase_name(k.split(chr(0))[1], phase_model)}" for k in keys.unique()}
        group = keys.map(names)
    elif hue is not None:
        group = frame[hue].astype(str)
    else:
        group = pd.Series("all", index=frame.index)
    periods = pd.Index(frame["period"].dropna().unique()).sort_values()
    labels = [str(p) for p in periods]
    x_of = {p: i for i, p in enumerate(periods)}
    ax = _new_axes(ax, (10.5, 5.2))
    _clean_axes(ax, grid="y")
    order = list(dict.fromkeys(group))
    many = len(order) > 1
    counts = []
    all_n = np.zeros(len(periods))
    any_partly = False
    for k, key in enumerate(order):
        part = frame[group == key]
        color = SERIES_COLORS[k % len(SERIES_COLORS)] if many else PALETTE["primary"]
        x = part["period"].map(x_of).to_numpy(dtype=float)
        order_x = np.argsort(x)
        x = x[order_x]
        rate = _num(part, "rate")[order_x]
        low, high = _num(part, "ci_low")[order_x], _num(part, "ci_high")[order_x]
        n = _num(part, "n")[order_x]
        immature = (_num(part, "immature_n")[order_x] if "immature_n" in part
                    else np.zeros(len(part)))
        shown = np.isfinite(rate) & (n > 0)
        size_label = f"n={_count(np.nansum(n))}"
        ax.fill_between(x[shown], low[shown], high[shown], color=color, alpha=0.1 if many else 0.16,
                        linewidth=0)
        ax.plot(x[shown], rate[shown], color=color, lw=1.8, marker="o", ms=4.5,
                label=f"{key} ({size_label})" if many
                else _("cohort conversion ({n})").format(n=size_label))
        partly = shown & (immature > 0)
        any_partly = any_partly or bool(partly.any())
        ax.plot(x[partly], rate[partly], ls="none", marker="o", ms=6.5, mfc="white", mec=color,
                mew=1.5, label="_partly immature")
        counts.append((np.bincount(x.astype(int), weights=np.where(np.isfinite(n), n, 0),
                                   minlength=len(periods)), color if many else PALETTE["counts"]))
        all_n += counts[-1][0]
    _n_bars(ax, np.arange(len(periods), dtype=float), counts, label=_("cohort size n"))
    lows, highs = _num(frame, "ci_low"), _num(frame, "ci_high")
    floor = _rate_limits(ax, min(float(np.nanmin(lows)) if np.isfinite(lows).any() else 0.0,
                                 target if target is not None else np.inf),
                         max(float(np.nanmax(highs)) if np.isfinite(highs).any() else 1.0,
                             target or 0.0), strip=0.2)
    if target is not None:
        ax.axhline(target, color=PALETTE["ink"], lw=1.1, ls=(0, (5, 3)),
                   label=f"target {_pct(target)}")
    _shade_immature(ax, np.flatnonzero(all_n == 0))
    _percent_axis(ax, "y", floor=floor)
    _period_ticks(ax, labels)
    ax.set_ylabel(_("conversion rate"))
    handles, names = ax.get_legend_handles_labels()
    if any_partly:
        handles.append(Line2D([], [], ls="none", marker="o", ms=6.5, mfc="white",
                              mec=PALETTE["muted"], mew=1.5))
        names.append(_("partly immature (only mature records counted)"))
    _legend_below(ax, handles, names, ncols=min(len(handles), 3))
    window = ""
    if "window_days" in frame and frame["window_days"].notna().any():
        window = _(" within {days} days").format(
            days=int(pd.to_numeric(frame["window_days"]).dropna().iloc[0]))
    if title is None:
        title = _("Cohort conversion {transition}{window}, by period of entry").format(
            transition=transition or "", window=window).replace("  ", " ")
    _title(ax, title, _("Line: share of the cohort that converted; band: 95% interval; bars: "
                        "cohort size n; grey: cohorts too recent to judge"))
    return ax


# --------------------------------------------------------------------------------------------
# 4. Seasonality
# --------------------------------------------------------------------------------------------

@_styled
def plot_seasonality(data: pd.DataFrame, *, ax: Sequence[Axes] | None = None,
                     volume_label: str = N_("records entering"), title: str | None = None) -> Figure:
    """Two panels sharing the months: volume per month on top, conversion rate per month below.

    Parameters
    ----------
    data : tidy DataFrame, one row per period, with columns
        `period` (sortable, e.g. '2025-03'), `volume` (records entering the phase in that month),
        `n` (the mature cohort the rate is computed on), `successes`, `rate`, `ci_low`, `ci_high`
        (the cohort conversion of that month's entrants, e.g. from
        `cohort_conversion(engagement, from_phase=..., period='month')` with `volume` added).
    ax : None, or a pair of Axes (volume panel, rate panel) to draw into.
    volume_label : what the volume counts, for the axis label.
    title : see the module docstring.

    Returns
    -------
    Figure (two panels: ``fig.axes[0]`` volume bars, ``fig.axes[1]`` rates with their band and
    the cohort sizes n as faint bars).

    Notes
    -----
    The method steers on percentages because absolute numbers move with the seasons: this figure
    shows both on one time axis so the reader can see whether the rate moves with the volume.
    The rate axis starts at zero on purpose, so a stable rate looks stable.
    """
    name = "plot_seasonality"
    data = _require(data, ["period", "volume", "n", "successes", "rate", "ci_low", "ci_high"],
                    function=name, argument="data", producer="seasonality")
    if ax is None:
        fig, (ax_v, ax_r) = plt.subplots(2, 1, figsize=(10.5, 6.6), sharex=True, layout="constrained",
                                         gridspec_kw={"height_ratios": [1, 1.35]})
    else:
        pair = list(np.ravel(np.asarray(ax, dtype=object))) if isinstance(
            ax, Sequence | np.ndarray) else []
        if len(pair) != 2 or not all(isinstance(a, Axes) for a in pair):
            raise ToolkitError(f"{name}: the value for `ax` must be None or a pair of Axes (volume, "
                               f"rate), but {type(ax).__name__} was passed.")
        ax_v, ax_r = pair
        fig = ax_v.figure
    data = data.sort_values("period", kind="stable").reset_index(drop=True)
    labels = [str(p) for p in data["period"]]
    x = np.arange(len(data), dtype=float)
    volume = _num(data, "volume")
    rate, low, high, n = (_num(data, c) for c in ("rate", "ci_low", "ci_high", "n"))
    _clean_axes(ax_v, grid="y")
    ax_v.bar(x, np.where(np.isfinite(volume), volume, 0), width=0.75, color=PALETTE["light"],
             linewidth=0, label=_(volume_label))
    ax_v.set_ylabel(_(volume_label))
    ax_v.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _fmt().number(v, 0)))
    ax_v.set_ylim(0, max(float(np.nanmax(volume)) if np.isfinite(volume).any() else 1, 1) * 1.12)
    _clean_axes(ax_r, grid="y")
    shown = np.isfinite(rate) & (n > 0)
    ax_r.fill_between(x[shown], low[shown], high[shown], color=PALETTE["band"], alpha=0.16, lw=0,
                      label=_("95% interval"))
    ax_r.plot(x[shown], rate[shown], color=PALETTE["primary"], lw=1.8, marker="o", ms=4.5,
              label=_("conversion rate"))
    _shade_immature(ax_r, np.flatnonzero(~(n > 0)))
    share = 0.18
    _n_bars(ax_r, x, [(n, PALETTE["counts"])], share=share, label=_("n"))
    top = float(np.nanmax(high[shown])) if shown.any() else 1.0
    # the bars' strip ends just below 0%: bottom + share * (1.15 top - bottom) = -0.03 top
    ax_r.set_ylim(-(0.03 + 1.15 * share) / (1 - share) * top, top * 1.15)
    _percent_axis(ax_r, "y", floor=0.0)
    ax_r.set_ylabel(_("conversion rate"))
    plt.setp(ax_v.get_xticklabels(), visible=False)
    _period_ticks(ax_r, labels)
    _legend_below(ax_r, ncols=2)
    ax_v.set_xlim(ax_r.get_xlim())
    if title is None:
        vol = volume[np.isfinite(volume)]
        title = (_("Volume swings from {low} to {high} a month; conversion ranges "
                   "{rate_low}-{rate_high}").format(
                       low=_count(vol.min()), high=_count(vol.max()),
                       rate_low=_pct(np.nanmin(rate[shown])), rate_high=_pct(np.nanmax(rate[shown])))
                 if vol.size and shown.any() else _("Volume and conversion per month"))
    _title(ax_v, title, _("Top: volume per month. Bottom: conversion of each month's entrants "
                          "with 95% interval; faint bars: n"))
    return fig


# --------------------------------------------------------------------------------------------
# 5. Time to convert
# --------------------------------------------------------------------------------------------

@_styled
def plot_time_to_convert(data: Any, *, hue: str | None = None, ax: Axes | None = None,
                         xlabel: str = N_("days since entering the phase"),
                         title: str | None = None) -> Axes:
    """Share converted over time: Kaplan-Meier (1 - survival) or cumulative incidence curves.

    Parameters
    ----------
    data : one of
        - the `survival_` frame of `toolkit.measure.survival.kaplan_meier` (`time, at_risk, events,
          survival, ci_low, ci_high`), or the KaplanMeierResult itself: drawn as the share
          converted, 1 - S(t), with its band; censoring (records still open, or lost, leaving the
          risk set) is marked with ticks at the start of the flat stretch in which it happened;
        - the frame of `toolkit.measure.survival.cumulative_incidence` (`time, outcome, cif, ci_low,
          ci_high, at_risk`): one curve per outcome (converted vs lost), the gap between them
          and 100% being the records still open.
        Several segments can be stacked in one frame with a segment column named by `hue`.
    hue : the segment column; for cumulative incidence the outcome is then the line style.
    ax, title : see the module docstring.

    Returns
    -------
    Axes with one step line per curve (``ax.lines``), the 95% bands and the number at risk
    printed along the top of the plot.
    """
    name = "plot_time_to_convert"
    _check_ax(ax, name)
    if hasattr(data, "survival_") and isinstance(data.survival_, pd.DataFrame):
        data = data.survival_
    if isinstance(data, pd.DataFrame) and "cif" in data.columns:
        kind = "cif"
        frame = _require(data, ["time", "outcome", "cif", "ci_low", "ci_high", "at_risk"],
                         function=name, argument="data", producer="cif")
    else:
        kind = "km"
        if isinstance(data, pd.DataFrame) and "survival" not in data.columns:
            raise DataError(
                f"{name}: `data` lacks the column 'survival' (Kaplan-Meier) or 'cif' (cumulative "
                f"incidence); it has {[str(c) for c in data.columns]}",
                fix=f"pass {_PRODUCERS['km']} or the frame from {_PRODUCERS['cif']}")
        frame = _require(data, ["time", "at_risk", "events", "survival", "ci_low", "ci_high"],
                         function=name, argument="data", producer="km")
    if hue is not None and hue not in frame.columns:
        raise DataError(f"{name}: the value for `hue` must be a column of `data`, but {hue!r} was "
                        f"passed; columns are {[str(c) for c in frame.columns]}",
                        fix="stack the segments' frames with a segment column and name it here")
    ax = _new_axes(ax, (10.0, 5.4))
    _clean_axes(ax, grid="both")
    groups = list(dict.fromkeys(frame[hue].astype(str))) if hue else ["all"]
    styles = ["-", (0, (5, 2.5)), ":", "-."]
    ends: list[tuple[float, float, str, Any]] = []
    risk_source: pd.DataFrame | None = None
    for g_index, group in enumerate(groups):
        part = frame if hue is None else frame[frame[hue].astype(str) == group]
        if risk_source is None:
            risk_source = part
        curves = ([(o, part[part["outcome"].astype(str) == o]) for o in
                   dict.fromkeys(part["outcome"].astype(str))] if kind == "cif" else [(None, part)])
        for o_index, (outcome, curve) in enumerate(curves):
            curve = curve.sort_values("time", kind="stable")
            t = _num(curve, "time")
            if kind == "km":
                y = 1 - _num(curve, "survival")
                low, high = 1 - _num(curve, "ci_high"), 1 - _num(curve, "ci_low")
            else:
                y, low, high = _num(curve, "cif"), _num(curve, "ci_low"), _num(curve, "ci_high")
            keep = np.isfinite(t) & np.isfinite(y)
            t, y, low, high = t[keep], y[keep], low[keep], high[keep]
            t = np.r_[0.0, t]
            y, low, high = np.r_[0.0, y], np.r_[0.0, low], np.r_[0.0, high]
            if kind == "cif" and hue is None:
                color = PALETTE.get(outcome, SERIES_COLORS[o_index % len(SERIES_COLORS)])
                style = "-"
            else:
                color = SERIES_COLORS[g_index % len(SERIES_COLORS)] if hue else PALETTE["primary"]
                style = styles[o_index % len(styles)]
            first_risk = _num(curve, "at_risk")[0] if len(curve) else np.nan
            if kind == "km":
                label = (f"{group} (n={_count(first_risk)})" if hue else
                         f"share converted (n={_count(first_risk)})")
            else:
                label = f"{group}: {_(str(outcome))}" if hue else _(str(outcome))
            ax.step(t, y, where="post", color=color, lw=2.0, ls=style, label=label)
            band = np.isfinite(low) & np.isfinite(high)
            ax.fill_between(t, np.where(band, low, y), np.where(band, high, y), step="post",
                            color=color, alpha=0.08 if hue else 0.14, lw=0)
            if kind == "km":
                risk = _num(curve, "at_risk")[keep]
                events = _num(curve, "events")[keep]
                after = np.r_[risk[1:], 0.0]
                censored = (risk - events - after) > 0
                dense = censored.sum() > 40  # hundreds of ticks would hide the curve
                ax.plot(t[1:][censored], y[1:][censored], ls="none", marker="|",
                        ms=5 if dense else 8, mew=0.8 if dense else 1.2, alpha=0.6 if dense else 1,
                        color=color, label="_censored")
            ends.append((float(t[-1]), float(y[-1]),
                         f"{_pct(y[-1])} {_(str(outcome or 'converted'))}", color))
    if kind == "km":
        ax.plot([], [], ls="none", marker="|", ms=8, mew=1.2, color=PALETTE["muted"],
                label=_("censored (still open, or lost)"))
    top = max((e[1] for e in ends), default=1.0)
    for t_end, y_end, text, color in ends:
        if len(ends) <= 4:
            ax.annotate(text, xy=(t_end, y_end), xytext=(6, 0), textcoords="offset points",
                        ha="left", va="center", fontsize=9, color=color, fontweight="bold")
    # at least a day wide: when every event happened on day 0 the axis would have no width
    t_max = max(float(np.nanmax(_num(frame, "time"))) if len(frame) else 1.0, 1.0)
    ax.set_xlim(0, t_max * (1.16 if len(ends) <= 4 else 1.02))
    ax.set_ylim(0, min(1.0, max(top * 1.25, 0.05)))
    _percent_axis(ax, "y")
    ax.set_ylabel(_("share converted") if kind == "km" else _("cumulative incidence"))
    ax.legend(loc="upper left")
    if risk_source is not None and hue is None:
        _at_risk_row(ax, risk_source, kind, _(xlabel))
    else:  # one at-risk row per segment would crowd the axis: n is in the legend instead
        ax.set_xlabel(_(xlabel))
    if title is None:
        title = (_("Share converted over time (Kaplan-Meier: lost and open records censored)")
                 if kind == "km" else _("Converted vs lost over time (open records censored)"))
    subtitle = (_("Band: 95% interval; ticks: records censored (still open or lost)")
                if kind == "km" else _("Cumulative incidence with 95% band; the gap to 100% is "
                                       "still open"))
    subtitle += (_("; n per segment in the legend") if hue is not None
                 else _("; at risk: records still in view"))
    _title(ax, title, subtitle)
    return ax


def _at_risk_row(ax: Axes, frame: pd.DataFrame, kind: str, xlabel: str) -> None:
    """A row of 'at risk' counts under the x axis, read off the frame at about six event times
    (exact counts at those times, not interpolated), with the axis label below it."""
    if kind == "cif":
        frame = frame[frame["outcome"].astype(str) == str(frame["outcome"].iloc[0])]
    times, risk = _num(frame, "time"), _num(frame, "at_risk")
    keep = np.isfinite(times) & np.isfinite(risk)
    times, risk = times[keep], risk[keep]
    ax.set_xlabel("")
    row = ax.secondary_xaxis("bottom")
    row.spines["bottom"].set_visible(False)
    row.tick_params(length=0, pad=19, labelsize=7.5, labelcolor=PALETTE["muted"])
    row.set_xlabel(xlabel, color=PALETTE["ink"], fontsize=10)
    if times.size == 0:
        row.set_xticks([])
        return
    order = np.argsort(times)
    times, risk = times[order], risk[order]
    span = times[-1] - times[0] if times[-1] > times[0] else 1.0
    marks = np.linspace(times[0], times[-1], num=min(7, times.size))
    chosen = sorted({int(np.argmin(np.abs(times - m))) for m in marks})
    picked: list[int] = []
    for i in chosen:
        if not picked or times[i] - times[picked[-1]] >= 0.1 * span:
            picked.append(i)
    row.set_xticks([times[i] for i in picked])
    row.set_xticklabels([_count(risk[i]) for i in picked])
    ax.annotate(_("at risk"), xy=(0, 0), xycoords="axes fraction", xytext=(-18, -20),
                textcoords="offset points", ha="right", va="top", fontsize=7.5,
                color=PALETTE["muted"], fontstyle="italic", annotation_clip=False)


# --------------------------------------------------------------------------------------------
# 6. Bottlenecks
# --------------------------------------------------------------------------------------------

# The outcomes of a cumulative-incidence frame, named for the catalogue (drawn through _()).
_OUTCOMES = (N_("converted"), N_("lost"))

# The references a bottleneck is sized against, as a figure names them.
_REFERENCE_WORDS = {"target": N_("target"), "benchmark": N_("benchmark"),
                    "history": N_("history"), "best_period": N_("best period"),
                    "best_segment": N_("best segment")}


def _reference_word(reference: object) -> str:
    key = str(reference)
    return _(_REFERENCE_WORDS[key]) if key in _REFERENCE_WORDS else key.replace("_", " ")


@_styled
def plot_bottlenecks(data: pd.DataFrame, *, phase_model: PhaseModel | None = None,
                     unit: str = N_("orders"), ax: Axes | None = None, title: str | None = None) -> Axes:
    """Extra orders per transition if it reached its reference, largest first, with intervals.

    Parameters
    ----------
    data : DataFrame with `from_phase, to_phase, extra_orders, extra_orders_low,
        extra_orders_high, reference`, e.g. `toolkit.analysis.diagnosis.bottleneck_sizing(engagement)`
        (`reference_rate` and `horizon` are used when present). `reference` is what the step is
        compared with: a kind ('target', 'best_period', ...) or a share. With one row per
        transition each bar is labelled with its reference; with several reference kinds per
        transition (the full sizing table) the kinds are drawn side by side in their own colours.
    unit : what `extra_orders` counts, for the labels.
    phase_model, ax, title : see the module docstring.

    Returns
    -------
    Axes with one bar per row (``ax.patches``), transitions ranked by their largest gain (top).

    Notes
    -----
    The gains of different transitions overlap (each assumes the others stay as they are): the
    figure ranks them, it does not add them up.
    """
    name = "plot_bottlenecks"
    _check_ax(ax, name)
    _check_phase_model(phase_model, name)
    data = _require(data, ["from_phase", "to_phase", "extra_orders", "extra_orders_low",
                            "extra_orders_high", "reference"], function=name, argument="data",
                    producer="bottlenecks").reset_index(drop=True)
    value_all = _num(data, "extra_orders")
    pair = data["from_phase"].astype(str) + "\0" + data["to_phase"].astype(str)
    best = pd.Series(np.where(np.isfinite(value_all), value_all, -np.inf)).groupby(pair).max()
    pairs = list(best.sort_values(ascending=False, kind="stable").index)
    multi = bool(pair.duplicated().any())
    kinds = list(dict.fromkeys(data["reference"].astype(str))) if multi else [None]
    slot = 0.8 / len(kinds)
    per = _(" per {horizon}").format(horizon=_(data["horizon"].dropna().astype(str).iloc[0])) if (
        "horizon" in data and data["horizon"].notna().any()) else ""
    count = len(pairs)
    ax = _new_axes(ax, (10.0, 1.5 + (0.62 if not multi else 0.34 * len(kinds) + 0.25) * count))
    _clean_axes(ax, grid="x")
    low_all, high_all = _num(data, "extra_orders_low"), _num(data, "extra_orders_high")
    shown_all = np.where(np.isfinite(value_all), value_all, 0.0)
    reach = float(np.nanmax(np.r_[high_all[np.isfinite(high_all)], shown_all, 0.0]))
    floor = float(np.nanmin(np.r_[low_all[np.isfinite(low_all)], shown_all, 0.0]))
    span = max(reach - floor, 1.0)
    labels = []
    for rank, key in enumerate(pairs):
        a, b = key.split("\0")
        labels.append(f"{_phase_name(a, phase_model)} → {_phase_name(b, phase_model)}")
        rows = data.index[(pair == key).to_numpy()]
        for row in rows:
            k = kinds.index(str(data["reference"].iloc[row])) if multi else 0
            y = rank - 0.4 + slot * (k + 0.5) if multi else float(rank)
            value, low, high = value_all[row], low_all[row], high_all[row]
            shown = value if np.isfinite(value) else 0.0
            if multi:
                color = SERIES_COLORS[k % len(SERIES_COLORS)]
            else:
                color = PALETTE["primary"] if rank == 0 else PALETTE["light"]
            ax.barh([y], [shown], height=slot * 0.86 if multi else 0.6, color=color, linewidth=0,
                    label=_reference_word(kinds[k]) if multi and rank == 0 else "_bar")
            if np.isfinite(low) and np.isfinite(high):
                ax.errorbar([shown], [y], xerr=[[max(shown - low, 0)], [max(high - shown, 0)]],
                            fmt="none", ecolor=PALETTE["ink"], elinewidth=1.0, capsize=2.5)
            band = (_(" ({low} to {high})").format(low=_count(low), high=_count(high))
                    if np.isfinite(low) and np.isfinite(high) else "")
            x_text = max(0.0, shown, high if np.isfinite(high) else shown) + 0.02 * span
            ax.text(x_text, y,
                    _fmt().number(value, 0, signed=True) + band if np.isfinite(value) else _("n/a"),
                    ha="left", va="center", fontsize=8.5 if multi else 9.5,
                    fontweight="bold" if rank == 0 and not multi else "normal",
                    color=PALETTE["ink"])
            if not multi:
                ax.text(x_text, y + 0.3, _reference_text(data, row), ha="left", va="center",
                        fontsize=8, color=PALETTE["muted"])
    ax.axvline(0, color=PALETTE["muted"], lw=0.9)
    ax.set_yticks(np.arange(count, dtype=float))
    ax.set_yticklabels(labels, fontsize=10)
    ax.set_ylim(count - 0.45, -0.6)
    ax.set_xlim(min(floor - 0.05 * span, 0), reach + 0.42 * span)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _fmt().number(v, 0)))
    ax.set_xlabel(_("extra {unit}{per} if the step reached its reference").format(
        unit=_(unit), per=per))
    ax.tick_params(axis="y", length=0)
    if multi:
        _legend_below(ax, ncols=len(kinds))
    top_rows = data.index[(pair == pairs[0]).to_numpy()]
    top = top_rows[int(np.nanargmax(np.where(np.isfinite(value_all[top_rows]),
                                               value_all[top_rows], -np.inf)))]
    if title is None:
        versus = (_(" (vs {reference})").format(
                      reference=_reference_word(data["reference"].iloc[top]))
                  if isinstance(data["reference"].iloc[top], str) else "")
        title = (_("Largest gain: {step}, {value} {unit}{per}{versus}").format(
                     step=labels[0], value=_fmt().number(value_all[top], 0, signed=True), unit=_(unit),
                     per=per, versus=versus)
                 if np.isfinite(value_all[top])
                 else _("Extra {unit} per step").format(unit=_(unit)))
    _title(ax, title, _("Extra {unit} if a step converted at its reference; lines: interval; the "
                        "gains overlap, do not add them up").format(unit=_(unit)))
    return ax


def _reference_text(data: pd.DataFrame, row: int) -> str:
    ref = data["reference"].iloc[row]
    if _missing(ref):
        return ""
    if isinstance(ref, int | float | np.number):
        return f"reference {_pct(float(ref))}"
    text = f"reference: {str(ref).replace('_', ' ')}"
    if "reference_rate" in data and np.isfinite(_num(data, "reference_rate")[row]):
        text += f" {_pct(_num(data, 'reference_rate')[row])}"
    return text


# --------------------------------------------------------------------------------------------
# 7. Segment scan
# --------------------------------------------------------------------------------------------

@_styled
def plot_segment_scan(data: pd.DataFrame, *, phase_model: PhaseModel | None = None,
                      max_rows: int | None = 30, ax: Axes | None = None,
                      title: str | None = None,
                      attributes: Mapping[str, str] | None = None) -> Axes:
    """Forest plot of a segment scan: each segment's rate and interval against the rest's rate.

    Parameters
    ----------
    data : DataFrame with `attribute, segment, from_phase, to_phase, n, rate, ci_low, ci_high,
        rest_rate, p_adjusted, flagged`, e.g. `toolkit.analysis.diagnosis.segment_scan(engagement)`,
        drawn in its own order (the scan puts flagged rows first), grouped by transition.
    max_rows : draw at most this many rows (the first ones); None draws all. The title still
        counts every row.
    attributes : each attribute's column header (``toolkit.present.tables.attribute_headers``),
        so a row names its attribute by its label.
    phase_model, ax, title : see the module docstring.

    Returns
    -------
    Axes with one point and interval per segment (``ax.collections`` / ``ax.lines``) and the rest's
    rate as a grey tick. Flagged segments are vermillion when below the rest, green when above;
    the right margin gives n and the adjusted p-value.
    """
    name = "plot_segment_scan"
    _check_ax(ax, name)
    _check_phase_model(phase_model, name)
    data = _require(data, ["attribute", "segment", "from_phase", "to_phase", "n", "rate",
                            "ci_low", "ci_high", "rest_rate", "p_adjusted", "flagged"],
                    function=name, argument="data", producer="segment_scan")
    if max_rows is not None and (isinstance(max_rows, bool) or not isinstance(max_rows, int)
                                 or max_rows < 1):
        raise ToolkitError(f"{name}: the value for `max_rows` must be a positive whole number or "
                           f"None, but {max_rows!r} was passed.")
    all_flagged = int(data["flagged"].fillna(False).astype(bool).sum())
    total = len(data)
    data = data.reset_index(drop=True).iloc[:max_rows]
    pair = data["from_phase"].astype(str) + " → " + data["to_phase"].astype(str)
    groups = list(dict.fromkeys(pair))
    rows: list[tuple[str, int | None]] = []  # (label, row index) - index None is a header
    for g in groups:
        if len(groups) > 1:
            rows.append((g, None))
        rows.extend((_printable(f"{_attribute_words(data['attribute'].iloc[i], attributes)}: "
                                f"{data['segment'].iloc[i]}"), i)
                    for i in np.flatnonzero((pair == g).to_numpy()))
    count = len(rows)
    ax = _new_axes(ax, (10.0, 1.6 + 0.34 * count))
    _clean_axes(ax, grid="x")
    rate, low, high = _num(data, "rate"), _num(data, "ci_low"), _num(data, "ci_high")
    rest, n, p_adj = _num(data, "rest_rate"), _num(data, "n"), _num(data, "p_adjusted")
    flagged = data["flagged"].fillna(False).astype(bool).to_numpy()
    ticks, tick_labels, right_labels = [], [], []
    for pos, (label, i) in enumerate(rows):
        if i is None:
            a, b = label.split(" → ")
            ax.text(0, pos, f"{_phase_name(a, phase_model)} → {_phase_name(b, phase_model)}",
                    transform=blended_transform_factory(ax.transAxes, ax.transData), ha="left",
                    va="center", fontsize=9.5, fontweight="bold", color=PALETTE["ink"])
            continue
        color = (PALETTE["neutral"] if not flagged[i] else
                 PALETTE["below"] if rate[i] < rest[i] else PALETTE["on_target"])
        ax.plot([low[i], high[i]], [pos, pos], color=color, lw=2.2, solid_capstyle="round")
        ax.plot([rate[i]], [pos], ls="none", marker="o", ms=6.5, color=color,
                mec="white", mew=0.8, zorder=3)
        ax.plot([rest[i]], [pos], ls="none", marker="|", ms=13, mew=1.8, color=PALETTE["ink"],
                zorder=2)
        ticks.append(pos)
        tick_labels.append(label)
        right_labels.append(_("{rate} vs {rest}").format(rate=_pct(rate[i]), rest=_pct(rest[i]))
                            + f"   n={_count(n[i])}   " + _p_text(p_adj[i]))
    ax.set_yticks(ticks)
    ax.set_yticklabels(tick_labels, fontsize=9)
    for tick, (_row, i) in zip(ax.get_yticklabels(), [r for r in rows if r[1] is not None],
                            strict=True):
        if flagged[i]:
            tick.set_fontweight("bold")
    ax.set_ylim(count - 0.4, -0.6)
    right = ax.secondary_yaxis("right")
    right.set_yticks(ticks)
    right.set_yticklabels(right_labels, fontsize=8.5, color=PALETTE["muted"])
    right.tick_params(length=0)
    right.spines["right"].set_visible(False)
    ax.tick_params(axis="y", length=0)
    _percent_axis(ax, "x")
    ax.set_xlabel(_("conversion rate (point: segment with 95% interval; tick: all other records)"))
    handles = [Line2D([], [], ls="none", marker="o", color=PALETTE["below"],
                      label=_("significantly below the rest")),
               Line2D([], [], ls="none", marker="o", color=PALETTE["on_target"],
                      label=_("significantly above the rest")),
               Line2D([], [], ls="none", marker="o", color=PALETTE["neutral"],
                      label=_("not significant")),
               Line2D([], [], ls="none", marker="|", ms=11, mew=1.8, color=PALETTE["ink"],
                      label=_("rest of the records"))]
    _legend_below(ax, handles, [h.get_label() for h in handles], ncols=4)
    if title is None:
        transition = (f" ({_phase_name(groups[0].split(' → ')[0], phase_model)} → "
                      f"{_phase_name(groups[0].split(' → ')[1], phase_model)})"
                      if len(groups) == 1 else "")
        title = _("{flagged} of {total} segments convert significantly differently from the "
                  "rest{transition}").format(flagged=all_flagged, total=total,
                                             transition=transition)
    shown = (_("; first {shown} of {total} rows shown").format(shown=len(data), total=total)
             if len(data) < total else "")
    _title(ax, title, _("After correction for testing many segments (adjusted p); n and rates at "
                        "the right") + shown)
    return ax


# --------------------------------------------------------------------------------------------
# 8. Control chart
# --------------------------------------------------------------------------------------------

def _rule_code(rule: str) -> str:
    text = str(rule)
    if text == "beyond_limits":
        return "L"
    if text.startswith("run_of_"):
        return "R" + text.rsplit("_", 1)[1]
    if text.startswith("trend_of_"):
        return "T" + text.rsplit("_", 1)[1]
    if text.startswith("two_of_three"):
        return "2/3"
    if text.startswith("four_of_five"):
        return "4/5"
    return text[:4]


_RULE_WORDS = {"L": N_("beyond the limits"), "2/3": N_("2 of 3 beyond 2σ"),
               "4/5": N_("4 of 5 beyond 1σ")}


@_styled
def plot_control_chart(data: pd.DataFrame, *, alerts: pd.DataFrame | None = None,
                       ax: Axes | None = None, title: str | None = None) -> Axes:
    """p chart or Laney p' chart: rates per period against the center line and varying limits.

    Parameters
    ----------
    data : DataFrame from `toolkit.analysis.steering.control_chart` (`period, n, rate, center, lcl,
        ucl` and `chart, sigma_z, baseline`).
    alerts : DataFrame from `toolkit.analysis.steering.run_rules(chart_frame)` (`period, rule`, and
        `direction`), optional: each alert is ringed in amber and labelled with its rule code
        (L = beyond limits, R8 = run of 8, T6 = trend of 6, 2/3, 4/5 = zone rules).
    ax, title : see the module docstring.

    Returns
    -------
    Axes with the limits as a step band, the center line, the rates (points outside the limits in
    vermillion) and n as faint bars in the bottom strip.
    """
    name = "plot_control_chart"
    _check_ax(ax, name)
    data = _require(data, ["period", "n", "rate", "center", "lcl", "ucl"], function=name,
                    argument="data", producer="control_chart")
    if alerts is not None:
        alerts = _require(alerts, ["period", "rule"], function=name, argument="alerts",
                          producer="alerts") if len(getattr(alerts, "index", [])) else alerts
        if not isinstance(alerts, pd.DataFrame):
            raise DataError(f"{name}: `alerts` must be a pandas DataFrame, but a "
                            f"{type(alerts).__name__} was passed",
                            fix=f"pass the frame from {_PRODUCERS['alerts']}")
    data = data.sort_values("period", kind="stable").reset_index(drop=True)
    labels = [str(p) for p in data["period"]]
    x = np.arange(len(data), dtype=float)
    rate, center = _num(data, "rate"), _num(data, "center")
    lcl, ucl, n = _num(data, "lcl"), _num(data, "ucl"), _num(data, "n")
    ax = _new_axes(ax, (10.5, 5.2))
    _clean_axes(ax, grid="y")
    ax.fill_between(x, lcl, ucl, step="mid", color=PALETTE["band"], alpha=0.1, lw=0,
                    label=_("control limits"))
    ax.step(x, ucl, where="mid", color=PALETTE["light"], lw=1.0)
    ax.step(x, lcl, where="mid", color=PALETTE["light"], lw=1.0)
    ax.step(x, center, where="mid", color=PALETTE["ink"], lw=1.2, label=_("center line"))
    ax.plot(x, rate, color=PALETTE["muted"], lw=1.0, zorder=2)
    outside = (rate > ucl) | (rate < lcl)
    ax.plot(x[~outside], rate[~outside], ls="none", marker="o", ms=5.5, color=PALETTE["primary"],
            zorder=3, label=_("rate per period"))
    ax.plot(x[outside], rate[outside], ls="none", marker="o", ms=7.5, color=PALETTE["below"],
            zorder=4, label=_("outside the limits") if outside.any() else "_outside the limits")
    codes_used: list[str] = []
    fired: dict[str, list[int]] = {}
    if alerts is not None and len(alerts):
        x_of = {str(p): i for i, p in enumerate(labels)}
        for _index, row in alerts.iterrows():
            i = x_of.get(str(row["period"]))
            if i is None:
                continue
            code = _rule_code(row["rule"])
            fired.setdefault(code, [])
            if i not in fired[code]:
                fired[code].append(i)
        codes_used = list(fired)
        alerted = sorted({i for positions in fired.values() for i in positions})
        ax.plot(x[alerted], rate[alerted], ls="none", marker="o", ms=12, mfc="none",
                mec=PALETTE["not_significant"], mew=1.8, zorder=5, label=_("alert (run rules)"))
    _n_bars(ax, x, [(n, PALETTE["counts"])], share=0.18, label=_("n"))
    low_all = np.nanmin(np.r_[lcl, rate])
    high_all = np.nanmax(np.r_[ucl, rate])
    floor = _rate_limits(ax, float(low_all), float(high_all), strip=0.18)
    # The top of the plot holds one track per rule that fired: a mark at every period it fired,
    # so many alerts never pile their labels onto the points.
    reserve = 0.05 + 0.05 * len(codes_used)
    bottom, top = ax.get_ylim()
    ax.set_ylim(bottom, bottom + (top - bottom) / (1 - reserve))
    _percent_axis(ax, "y", floor=floor, ceiling=top)
    _period_ticks(ax, labels)
    track = blended_transform_factory(ax.transData, ax.transAxes)
    for k, code in enumerate(codes_used):
        level = 1 - 0.035 - 0.05 * (k + 1) + 0.025
        ax.plot(x[fired[code]], [level] * len(fired[code]), ls="none", marker="s", ms=5.5,
                color=PALETTE["not_significant"], transform=track, zorder=6, clip_on=False)
        ax.annotate(f"{code}", xy=(1, level), xycoords="axes fraction", xytext=(4, 0),
                    textcoords="offset points", ha="left", va="center", fontsize=8,
                    fontweight="bold", color="#A05A00", annotation_clip=False)
    if "baseline" in data and data["baseline"].notna().all() and not data["baseline"].all():
        base = data["baseline"].astype(bool).to_numpy()
        last = int(np.flatnonzero(base)[-1]) if base.any() else -1
        ax.axvline(last + 0.5, color=PALETTE["muted"], lw=1.0, ls=":")
        ax.text(last + 0.45, 0.995, _("baseline") + " ", transform=track, ha="right", va="top",
                fontsize=8, color=PALETTE["muted"])
        ax.text(last + 0.55, 0.995, " " + _("monitoring"), transform=track, ha="left", va="top",
                fontsize=8, color=PALETTE["muted"])
    ax.set_ylabel(_("conversion rate"))
    _legend_below(ax, ncols=5)
    chart = str(data["chart"].iloc[0]) if "chart" in data else "p"
    sigma_z = float(pd.to_numeric(data["sigma_z"], errors="coerce").iloc[0]) if "sigma_z" in data \
        else float("nan")
    chart_name = (_("Laney p′ chart (σz = {sigma})").format(sigma=_fmt().number(sigma_z, 2))
                  if chart == "laney" else _("p chart"))
    if title is None:
        title = _("{chart}: {outside} of {periods} periods outside the limits").format(
            chart=chart_name, outside=int(outside.sum()), periods=len(data))
        if codes_used:
            periods = len({i for positions in fired.values() for i in positions})
            title += (_("; run-rule alerts in {n} period") if periods == 1
                      else _("; run-rule alerts in {n} periods")).format(n=periods)
    legend_codes = ", ".join(f"{c} = {_(_RULE_WORDS[c]) if c in _RULE_WORDS else _code_words(c)}"
                             for c in codes_used)
    subtitle = (_("Center {center}; limits widen where n is small").format(center=_pct(center[0]))
                + (_(". Alert tracks at the top: {codes}").format(codes=legend_codes)
                   if legend_codes else ""))
    _title(ax, title, subtitle)
    return ax


def _code_words(code: str) -> str:
    if code.startswith("R"):
        return _("{n} in a row on one side").format(n=code[1:])
    if code.startswith("T"):
        return _("{n} in a row rising or falling").format(n=code[1:])
    return code


# --------------------------------------------------------------------------------------------
# 9. Scorecard
# --------------------------------------------------------------------------------------------

_TREND_WORDS = {"improving", "worsening", "stable"}


@_styled
def plot_scorecard(data: pd.DataFrame, *, kpis: pd.DataFrame | None = None,
                   ax: Axes | None = None, title: str | None = None) -> Axes:
    """The scorecard as a table-like figure: KPI, value with interval against target, status, trend.

    Parameters
    ----------
    data : DataFrame from `toolkit.analysis.steering.scorecard`: `kpi, value, ci_low, ci_high,
        target, status, trend` and, when present, `n, period, higher_is_better`, plus `label` and
        `unit` if the KPI frame carried them. A KPI with `n` (or unit '%') is a rate and shown
        as %.
    kpis : the KPI frame the scorecard was made from (e.g. `toolkit.measure.kpis.compute_kpis`), optional:
        its `label` and `unit` per `kpi` are used for the names and number formats when the
        scorecard frame lacks them.
    ax, title : see the module docstring.

    Returns
    -------
    Axes (axis off) with one row per KPI: the value and interval in words and as a small
    interval plot with the target as a black tick, a coloured status label (``ax.texts`` hold
    the words) and a trend arrow (↑ / ↓ coloured by whether it is good news, → stable).
    """
    name = "plot_scorecard"
    _check_ax(ax, name)
    data = _require(data, ["kpi", "value", "ci_low", "ci_high", "target", "status",
                                      "status_code", "trend"], function=name, argument="data",
                    producer="scorecard").reset_index(drop=True)
    if kpis is not None:
        lookup = _require(kpis, ["kpi"], function=name, argument="kpis", producer="kpis")
        lookup = lookup.drop_duplicates("kpi").set_index("kpi")
        for column in ("label", "unit"):
            if column in lookup and column not in data:
                data = data.assign(**{column: data["kpi"].map(lookup[column]).to_numpy()})
    count = len(data)
    ax = _new_axes(ax, (12.0, 1.25 + 0.5 * (count + 1)), drawing=True)
    ax.set_xlim(0, 1)
    ax.set_ylim(count + 0.2, -1.1)
    ax.axis("off")
    value, low, high = _num(data, "value"), _num(data, "ci_low"), _num(data, "ci_high")
    target = _num(data, "target")
    n = _num(data, "n") if "n" in data else np.full(count, np.nan)
    hib = (data["higher_is_better"].fillna(True).astype(bool).to_numpy()
           if "higher_is_better" in data else np.ones(count, dtype=bool))
    columns = {"kpi": 0.005, "value": 0.3, "plot": 0.475, "target": 0.685, "n": 0.755,
               "status": 0.8, "trend": 0.985}
    header = {"kpi": _("KPI"), "value": _("value (95% interval)"), "plot": "",
              "target": _("target"), "n": _("n"), "status": _("status"), "trend": _("trend")}
    for key, x in columns.items():
        ax.text(x, -0.45, header[key], ha="right" if key in ("target", "n", "trend") else "left",
                va="center", fontsize=8.5, fontweight="bold", color=PALETTE["muted"])
    ax.plot([0, 1], [-0.05, -0.05], color="#C5CCD4", lw=1.0)
    axes_pt = ax.get_position().width * ax.figure.get_figwidth() * 72
    for i in range(count):
        y = i + 0.5
        if i % 2 == 1:
            ax.add_patch(Rectangle((0, i), 1, 1, color="#F6F7F9", lw=0, zorder=0))
        unit = data["unit"].iloc[i] if "unit" in data else None
        is_rate = _is_share_unit(unit) or (_missing(unit) and np.isfinite(n[i]))
        unit = "%" if is_rate else unit
        digits = _digits(value[i])
        if (is_rate and np.isfinite(target[i]) and value[i] != target[i]
                and _pct(value[i], digits) == _pct(target[i], digits)):
            digits += 1  # '50%' next to a 50% target that is missed would look like a contradiction
        fmt = (functools.partial(_pct, digits=digits) if is_rate
               else functools.partial(_fmt_value, unit=unit))
        label = (_kpi_words(data["label"].iloc[i])
                 if "label" in data and not _missing(data["label"].iloc[i])
                 else data["kpi"].iloc[i])
        lines = _wrap_pt(str(label), (columns["value"] - columns["kpi"] - 0.01) * axes_pt, 9.5)
        ax.text(columns["kpi"], y, "\n".join(lines[:2]), ha="left", va="center", fontsize=9.5,
                color=PALETTE["ink"], linespacing=1.1)
        value_text = fmt(value[i])
        ax.text(columns["value"], y, value_text, ha="left", va="center", fontsize=10.5,
                fontweight="bold", color=PALETTE["ink"])
        if np.isfinite(low[i]) and np.isfinite(high[i]):
            gap = (_width_pt(value_text, 10.5, "bold") + 5) / axes_pt
            ax.text(columns["value"] + gap, y, _fmt_range(low[i], high[i], unit, digits),
                    ha="left", va="center", fontsize=8.5, color=PALETTE["muted"])
        # the words from the code, in the figure's language (the library's prose is English)
        code = data["status_code"].iloc[i]
        status = _(STATUSES[code]) if code in STATUSES else str(data["status"].iloc[i])
        color = status_color(code)
        _interval_glyph(ax, columns["plot"], 0.13, y, value[i], low[i], high[i], target[i], color)
        ax.text(columns["target"], y, fmt(target[i]) if np.isfinite(target[i]) else "–",
                ha="right", va="center", fontsize=9.5, color=PALETTE["ink"])
        ax.text(columns["n"], y, _count(n[i]) if np.isfinite(n[i]) else "–", ha="right",
                va="center", fontsize=9, color=PALETTE["muted"])
        status_lines = _wrap_pt(status, (columns["trend"] - columns["status"] - 0.04) * axes_pt, 8.5)
        ax.text(columns["status"], y, "\n".join(status_lines[:2]), ha="left", va="center",
                fontsize=8.5, color=_text_on(color), linespacing=1.05,
                bbox={"boxstyle": "round,pad=0.3", "fc": color, "ec": "none"})
        arrow, arrow_color = _trend_arrow(str(data["trend"].iloc[i]), bool(hib[i]))
        ax.text(columns["trend"], y, arrow, ha="right", va="center", fontsize=14,
                fontweight="bold", color=arrow_color)
    on = int(data["status_code"].isin(STATUS_ON_TARGET).sum())
    periods = (data["period"].dropna().astype(str).unique() if "period" in data
               else np.array([], dtype=object))
    if title is None:
        kpis_on = (_("{on} of {n} KPI on target") if count == 1
                   else _("{on} of {n} KPIs on target")).format(on=on, n=count)
        if len(periods) == 1:
            title = _("Scorecard {period}: {kpis}").format(period=_period_words(periods[0]),
                                                           kpis=kpis_on)
        elif len(periods):
            title = _("Scorecard (latest of {n} periods): {kpis}").format(n=len(periods),
                                                                          kpis=kpis_on)
        else:
            title = _("Scorecard: {kpis}").format(kpis=kpis_on)
    _title(ax, title, _("Status tests the shortfall against the target; bar: 95% interval, dot: "
                        "value, black tick: target; arrow: trend over recent periods"))
    return ax


def _attribute_words(name: object, headers: Mapping[str, str] | None) -> str:
    """A segment attribute by its label in the figure's language (``owner`` -> "Eigenaar")."""
    return attribute_label(name, formatter(_LANGUAGE.get()), headers)


def _kpi_words(label: object) -> str:
    """A rate KPI's label in the figure's language when the toolkit named it ("Conversion A → B",
    "Win rate from A (won / closed)"); a label the engagement YAML gave stays as written."""
    text = str(label)
    if text.startswith("Conversion ") and " → " in text:
        start, end = text[len("Conversion "):].split(" → ", 1)
        return _("Conversion {start} → {end}").format(start=start, end=end)
    prefix, suffix = "Win rate from ", " (won / closed)"
    if text.startswith(prefix) and text.endswith(suffix):
        return _("Win rate from {start} (won / closed)").format(
            start=text[len(prefix):-len(suffix)])
    return _(text)


def _period_words(period: object, *, short: bool = False) -> str:
    """A period label ('2026-07') as the figure's language writes it ('juli 2026'; `short`: a
    month as 'jul 2026', for tick labels)."""
    fmt = formatter(_LANGUAGE.get())
    text = str(period)
    if short and len(text) == 7 and text[4] == "-" and text[:4].isdigit():
        return fmt.month(pd.Period(text, freq="M"), length="medium")
    return fmt.period(period)


def _interval_glyph(ax: Axes, left: float, width: float, y: float, value: float, low: float,
                    high: float, target: float, color: str) -> None:
    """A small value-interval-target plot in one table cell, on the row's own scale."""
    points = [v for v in (value, low, high, target) if np.isfinite(v)]
    if not points:
        return
    lo, hi = min(points), max(points)
    span = hi - lo if hi > lo else max(abs(hi), 1e-9)
    lo, hi = lo - 0.12 * span, hi + 0.12 * span

    def at(v: float) -> float:
        return left + (v - lo) / (hi - lo) * width

    ax.plot([left, left + width], [y, y], color=PALETTE["grid"], lw=1.0, zorder=1)
    if np.isfinite(low) and np.isfinite(high):
        ax.plot([at(low), at(high)], [y, y], color=color, lw=4.5, alpha=0.45,
                solid_capstyle="butt", zorder=2)
    if np.isfinite(value):
        ax.plot([at(value)], [y], ls="none", marker="o", ms=6.5, color=color, mec="white",
                mew=0.8, zorder=3)
    if np.isfinite(target):
        ax.plot([at(target)], [y], ls="none", marker="|", ms=14, mew=2.0, color=PALETTE["ink"],
                zorder=4)


def _trend_arrow(trend: str, higher_is_better: bool) -> tuple[str, str]:
    word = trend.lower()
    if word == "improving":
        return ("↑" if higher_is_better else "↓"), PALETTE["on_target"]
    if word == "worsening":
        return ("↓" if higher_is_better else "↑"), PALETTE["below"]
    if word == "stable":
        return "→", PALETTE["muted"]
    return "·", PALETTE["neutral"]


# --------------------------------------------------------------------------------------------
# 10. KPI tree
# --------------------------------------------------------------------------------------------

def _node_words(label: object) -> str:
    """A KPI tree node's label in the figure's language when the toolkit named it (a label the
    engagement YAML gave is the client's own word and stays as written)."""
    text = str(label)
    start, end = "Entries into ", " per month"
    if text.startswith(start) and text.endswith(end):
        return _("Entries into {start} per month").format(start=text[len(start):-len(end)])
    return _(text)


@_styled
def plot_kpi_tree(data: pd.DataFrame, *, ax: Axes | None = None,
                  title: str | None = None) -> Axes:
    """The KPI tree, left to right: the management goal, then what drives it, down to the phases.

    Parameters
    ----------
    data : DataFrame with `node, parent, label, value, unit, target` (the KPI tree of step
        3); the root has no parent (None/NaN). Children are drawn in frame order. Optional
        `status_code` (e.g. the KPI table's) colours the box edge, and its sentence (`status`
        when the frame has it, else the vocabulary's) is written in the box.
    ax, title : see the module docstring.

    Returns
    -------
    Axes (axis off) with one box per node (``FancyBboxPatch`` in ``ax.patches``) showing the
    label, the value and the target, connected by elbow lines.
    """
    name = "plot_kpi_tree"
    _check_ax(ax, name)
    data = _require(data, ["node", "parent", "label", "value", "unit", "target"],
                    function=name, argument="data", producer="kpi_tree").reset_index(drop=True)
    nodes = data["node"].astype(str).tolist()
    if len(set(nodes)) != len(nodes):
        double = pd.Series(nodes)[pd.Series(nodes).duplicated()].iloc[0]
        raise DataError(f"{name}: node {double!r} appears more than once in `tree_frame`",
                        column="node", fix="give every node a unique name")
    parents = [None if _missing(p) or str(p) == "" else str(p) for p in data["parent"]]
    roots = [nodes[i] for i, p in enumerate(parents) if p is None]
    if len(roots) != 1:
        raise DataError(f"{name}: the KPI tree must have exactly one root (a row without parent), "
                        f"but it has {len(roots)}: {roots}", column="parent",
                        fix="give every node but the management goal a parent")
    unknown = sorted({p for p in parents if p is not None and p not in nodes})
    if unknown:
        raise DataError(f"{name}: `parent` names nodes that are not in `node`: {unknown}",
                        column="parent", fix="add those nodes or correct the parent names")
    children: dict[str, list[str]] = {k: [] for k in nodes}
    for node, parent in zip(nodes, parents, strict=True):
        if parent is not None:
            children[parent].append(node)
    depth: dict[str, int] = {}
    ypos: dict[str, float] = {}
    leaf_count = [0]

    def place(node: str, level: int, trail: frozenset[str]) -> None:
        if node in trail:
            raise DataError(f"{name}: the KPI tree has a cycle through {node!r}", column="parent",
                            fix="make sure following parents always ends at the root")
        depth[node] = level
        kids = children[node]
        for kid in kids:
            place(kid, level + 1, trail | {node})
        if kids:
            ypos[node] = (ypos[kids[0]] + ypos[kids[-1]]) / 2
        else:
            ypos[node] = float(leaf_count[0])
            leaf_count[0] += 1

    place(roots[0], 0, frozenset())
    unreachable = [k for k in nodes if k not in depth]
    if unreachable:
        raise DataError(f"{name}: nodes {unreachable} do not lead to the root (a cycle)",
                        column="parent", fix="make sure following parents always ends at the root")
    levels = max(depth.values()) + 1
    leaves = leaf_count[0]
    box_w = 0.8
    created = ax is None
    fig_w = max(8.0, 3.1 * levels)
    if created:
        col_in = 0.98 * fig_w / (levels - 0.05)
    else:
        col_in = ax.get_position().width * ax.figure.get_figwidth() / (levels - 0.05)
    text_pt = (box_w * col_in - 0.14) * 72
    has_status = "status_code" in data
    if has_status and "status" not in data:
        data["status"] = [STATUSES.get(code) for code in data["status_code"]]
    info = {nodes[i]: i for i in range(len(nodes))}
    contents: dict[str, list[tuple[str, float, str, str]]] = {}
    for node in nodes:
        i = info[node]
        unit = data["unit"].iloc[i]
        status = data["status"].iloc[i] if has_status else None
        val = _fmt_value(_num(data.iloc[[i]], "value")[0], unit)
        tgt = _num(data.iloc[[i]], "target")[0]
        lines = [(t, 9.0, "bold", PALETTE["ink"])
                 for t in _wrap_pt(_node_words(data["label"].iloc[i]), text_pt, 9.0, "bold")[:2]]
        lines.append((val, 11.5, "bold", PALETTE["ink"] if has_status else PALETTE["primary"]))
        lines.append((_("target {value}").format(value=_fmt_value(tgt, unit))
                      if np.isfinite(tgt) else _("no target"), 8.0, "normal", PALETTE["muted"]))
        if has_status and not _missing(status):
            lines.extend((t, 8.0, "bold", _darker(status_color(data["status_code"].iloc[i])))
                         for t in _wrap_pt(str(status), text_pt, 8.0, "bold")[:2])
        contents[node] = lines
    content_in = max(sum(size * 1.3 / 72 for _, size, _, _ in lines) for lines in contents.values())
    box_in = content_in + 0.16
    if created:
        row_in = max(0.82, box_in / 0.86)
        fig_h = max(3.0, leaves * row_in + 0.95)
        ax = _new_axes(None, (fig_w, fig_h), drawing=True)
    fig = ax.figure
    ax.set_xlim(-0.05, levels - 0.1)
    ax.set_ylim(leaves - 0.45, -0.55)
    ax.axis("off")
    row_in = ax.get_position().height * fig.get_figheight() / max(leaves, 1)
    box_h = min(box_in / row_in, 0.92)
    aspect = col_in / row_in
    for node in nodes:
        i = info[node]
        x, y = depth[node], ypos[node]
        for kid in children[node]:
            kx, ky = depth[kid], ypos[kid]
            elbow = x + box_w + (kx - x - box_w) / 2
            ax.plot([x + box_w, elbow, elbow, kx], [y, y, ky, ky], color="#AEB6C0", lw=1.1,
                    zorder=1)
        code = data["status_code"].iloc[i] if has_status else None
        edge = status_color(code) if has_status and not _missing(code) else PALETTE["primary"]
        fill = PALETTE["box"] if depth[node] else "#E8F1FA"
        ax.add_patch(FancyBboxPatch((x, y - box_h / 2), box_w, box_h,
                                    boxstyle="round,pad=0,rounding_size=0.03",
                                    mutation_aspect=aspect, fc=fill, ec=edge,
                                    lw=2.0 if has_status else 1.2, zorder=2))
        x_text = x + 0.07 / col_in
        lines = contents[node]
        heights = [size * 1.3 / 72 / row_in for _, size, _, _ in lines]
        top = y - sum(heights) / 2
        for (text, size, weight, color), h in zip(lines, heights, strict=True):
            ax.text(x_text, top + h / 2, text, ha="left", va="center", fontsize=size,
                    fontweight=weight, color=color, zorder=3)
            top += h
    if title is None:
        root_label = _node_words(data["label"].iloc[info[roots[0]]])
        title = _("KPI tree: {root} and the phase KPIs that drive it").format(root=root_label)
    _title(ax, title, _("Each box: value against target; read left to right from the management "
                        "goal to the phase conversions and volumes"))
    return ax


# --------------------------------------------------------------------------------------------
# 11. Mix versus rate
# --------------------------------------------------------------------------------------------

_TOTAL_NAMES = ("total", "(total)", "all", "(all)")


@_styled
def plot_mix_vs_rate(data: pd.DataFrame, *, ax: Axes | None = None,
                     title: str | None = None) -> Axes:
    """Waterfall of a change in overall conversion: per segment its rate effect and mix effect.

    Parameters
    ----------
    data : DataFrame with `segment, rate_effect, mix_effect` (shares: 0.012 is 1.2
        percentage points), one row per segment; a row whose segment is 'total' (or 'all') gives
        the total bar, otherwise the total is where the waterfall ends.
    ax, title : see the module docstring.

    Returns
    -------
    Axes with a horizontal waterfall: first every segment's rate effect (same mix, changed
    conversion), then every mix effect (changed mix, same conversion), then the total;
    ``ax.patches`` holds one bar per step.

    Notes
    -----
    The steps add up to the total because the decomposition is additive; this function only
    stacks them.
    """
    name = "plot_mix_vs_rate"
    _check_ax(ax, name)
    data = _require(data, ["segment", "rate_effect", "mix_effect"], function=name,
                    argument="data", producer="mix").reset_index(drop=True)
    is_total = data["segment"].astype(str).str.strip().str.lower().isin(_TOTAL_NAMES).to_numpy()
    parts = data[~is_total]
    totals = data[is_total]
    rate, mix = _num(parts, "rate_effect"), _num(parts, "mix_effect")
    names = parts["segment"].astype(str).tolist()
    steps = ([(s, r, "rate") for s, r in zip(names, rate, strict=True)]
             + [(s, m, "mix") for s, m in zip(names, mix, strict=True)])
    steps = [(s, (v if np.isfinite(v) else 0.0), k) for s, v, k in steps]
    end = float(sum(v for _, v, _ in steps))
    if len(totals):
        total = float(np.nansum(_num(totals, "rate_effect")) + np.nansum(_num(totals, "mix_effect")))
        rate_total = float(np.nansum(_num(totals, "rate_effect")))
        mix_total = float(np.nansum(_num(totals, "mix_effect")))
    else:
        total = end
        rate_total, mix_total = float(np.nansum(rate)), float(np.nansum(mix))
    count = len(steps) + 1
    ax = _new_axes(ax, (10.0, 1.6 + 0.42 * count))
    _clean_axes(ax, grid="x")
    y = np.arange(count, dtype=float)
    running = 0.0
    lefts, widths, colors = [], [], []
    for _label, v, kind in steps:
        lefts.append(running)
        widths.append(v)
        colors.append(PALETTE["rate_effect"] if kind == "rate" else PALETTE["mix_effect"])
        running += v
    lefts.append(0.0)
    widths.append(total)
    colors.append(PALETTE["ink"])
    ax.barh(y, widths, left=lefts, height=0.62, color=colors, linewidth=0)
    for i in range(count - 2):
        ax.plot([lefts[i] + widths[i]] * 2, [y[i] + 0.31, y[i + 1] - 0.31], color=PALETTE["muted"],
                lw=0.8, ls=":")
    scale = max(max((abs(a) for a in lefts), default=0), max(abs(a + w) for a, w in
                                                               zip(lefts, widths, strict=True)), 1e-6)
    for i in range(count):
        # the label sits where the step ends: right of a rise, left of a fall
        rising = widths[i] >= 0
        tip = max(lefts[i], lefts[i] + widths[i]) if rising else min(lefts[i], lefts[i] + widths[i])
        ax.text(tip + (0.015 if rising else -0.015) * scale, y[i],
                _fmt().number(widths[i] * 100, 1, signed=True) + " " + _("pp"),
                ha="left" if rising else "right", va="center", fontsize=9,
                fontweight="bold" if i == count - 1 else "normal", color=PALETTE["ink"])
    labels = [f"{s}" for s, _, _ in steps] + [_("total change")]
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=9.5)
    ax.get_yticklabels()[-1].set_fontweight("bold")
    ax.axvline(0, color=PALETTE["muted"], lw=0.9)
    ax.set_ylim(count - 0.4, -0.6)
    lo = min(0.0, min(min(a, a + w) for a, w in zip(lefts, widths, strict=True)))
    hi = max(0.0, max(max(a, a + w) for a, w in zip(lefts, widths, strict=True)))
    span = max(hi - lo, 1e-6)
    ax.set_xlim(lo - 0.16 * span, hi + 0.16 * span)
    digits = 0 if span >= 0.04 else 1  # whole points once the axis spans 4 points or more
    ax.xaxis.set_major_formatter(FuncFormatter(
        lambda v, _unused: _fmt().number(v * 100, digits, signed=True) + " " + _("pp")
        if abs(v) > 1e-12
        else "0"))
    ax.set_xlabel(_("change in overall conversion (percentage points)"))
    ax.tick_params(axis="y", length=0)
    if len(names):
        trans = blended_transform_factory(ax.transAxes, ax.transData)
        for first, text in ((0, _("rate effects")), (len(names), _("mix effects"))):
            ax.text(1.0, first - 0.5, text, transform=trans, ha="right", va="center", fontsize=8,
                    color=PALETTE["muted"], fontstyle="italic")
    handles = [Patch(color=PALETTE["rate_effect"], label=_("rate effect (same mix)")),
               Patch(color=PALETTE["mix_effect"], label=_("mix effect (same rates)")),
               Patch(color=PALETTE["ink"], label=_("total"))]
    _legend_below(ax, handles, [h.get_label() for h in handles], ncols=3)
    if title is None:
        title = _("Overall conversion {total} pp: {rates} pp from rates, {mix} pp from mix").format(
            total=_fmt().number(total * 100, 1, signed=True),
            rates=_fmt().number(rate_total * 100, 1, signed=True),
            mix=_fmt().number(mix_total * 100, 1, signed=True))
    _title(ax, title, _("Rate effect: segments converting better or worse; mix effect: a shift in "
                        "which segments the records come from"))
    return ax


# --------------------------------------------------------------------------------------------
# 12. Cohort heat map
# --------------------------------------------------------------------------------------------

#: Cohorts smaller than this do not stretch the heat map's colour scale.
_HEATMAP_MIN_N = 10

# The columns of cohort_conversion without `by`; any other column may be a segment.
_COHORT_COLUMNS = ("from_phase", "to_phase", "period", "n", "successes", "rate", "ci_low", "ci_high",
                   "immature_n", "window_days", "method")

#: Light to dark blue with lightness falling steadily, so the order of the rates survives
#: colour-blindness and greyscale printing.
_RATE_CMAP = mpl.colors.LinearSegmentedColormap.from_list(
    "toolkit_rate", ["#F2F7FC", PALETTE["phase_light"], PALETTE["primary"], PALETTE["phase_dark"]])


def _readable_on(color: Any) -> str:
    """White or ink, whichever contrasts more with `color` (WCAG contrast ratio): mid blues,
    where a plain lightness cut-off picks badly, get dark text."""
    def relative(c: Any) -> float:
        channels = [v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4
                    for v in mpl.colors.to_rgb(c)]
        return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]

    fill = relative(color)
    on_white = 1.05 / (fill + 0.05)
    on_ink = (fill + 0.05) / (relative(PALETTE["ink"]) + 0.05)
    return "white" if on_white > on_ink else PALETTE["ink"]


def _transition_order(pairs: list[tuple[str, str]],
                      phase_model: PhaseModel | None) -> list[tuple[str, str]]:
    """Transitions in phase order when the model knows both phases, else in frame order."""
    if phase_model is None:
        return pairs
    keys = phase_model.keys
    known = [p for p in pairs if p[0] in keys and p[1] in keys]
    known.sort(key=lambda p: (keys.index(p[0]), keys.index(p[1])))
    return known + [p for p in pairs if p not in known]


@_styled
def plot_cohort_heatmap(data: pd.DataFrame, *, phase_model: PhaseModel | None = None,
                        ax: Axes | None = None, title: str | None = None) -> Axes:
    """Cohort conversion of every transition at once: one row per cohort period, one column per
    transition, the colour and the text giving the rate.

    Parameters
    ----------
    data : DataFrame from `toolkit.measure.funnel.cohort_conversion(engagement, period='month')`
        (all transitions): `from_phase, to_phase, period, n, rate, immature_n` are used (and
        `window_days` for the title). One row per transition and period: a frame with segments
        (`by=`) must be filtered to one segment first.
    phase_model, ax, title : see the module docstring. The figure made when `ax` is None grows
        with the number of periods (about 0.36 inch a row up to 40 rows).

    Returns
    -------
    Axes with the rates as a ``QuadMesh`` (``ax.collections[0]``, NaN where there is no rate)
    and a colour bar just right of the Axes (``ax.child_axes[0]``); immature cells (``n == 0``:
    every record of the cohort is still inside its window) are hatched grey ``Rectangle``
    patches (``ax.patches``, one per cell) with the word "immature". Each rated cell reads
    "36%" with "n=316" below it when the cell is tall enough; an asterisk marks a cohort part
    of which is still immature (only its mature records are counted). Columns are the
    transitions in phase order, headed "Lead → Offerte"; a transition or period without records
    shows "–".

    Notes
    -----
    All transitions share one colour scale, from the lowest to the highest rate of the cohorts
    with at least 10 mature records (smaller cohorts beyond it take the end colour; the colour
    bar then has a pointed end), so a column that is darker throughout simply converts better;
    compare colours down a column to see a step change over time. Rates of small cohorts swing
    by chance: read the n before reading a pale cell as a problem, and use
    `plot_cohort_conversion` for the 95% intervals of one transition.
    """
    name = "plot_cohort_heatmap"
    _check_ax(ax, name)
    _check_phase_model(phase_model, name)
    frame = _require(data, ["from_phase", "to_phase", "period", "n", "rate", "immature_n"],
                     function=name, argument="data", producer="cohort_heatmap")
    cell = ["from_phase", "to_phase", "period"]
    doubles = frame[frame[cell].astype(str).duplicated()]
    if len(doubles):
        first = doubles.iloc[0]
        segments = [str(c) for c in frame.columns if c not in _COHORT_COLUMNS]
        held = (f"it holds several segments (column(s) {segments} from `by=`)" if segments
                else "it holds several segments or repeated rows")
        example = (f"frame[frame[{segments[0]!r}] == {str(frame[segments[0]].iloc[0])!r}]"
                   if segments else "frame.drop_duplicates()")
        raise DataError(
            f"{name}: `cohort_frame` has more than one row for {first['from_phase']} → "
            f"{first['to_phase']} in period {first['period']}; {held}",
            fix=f"filter one segment first, e.g. {example}, or call "
                "cohort_conversion(engagement, period='month') without `by`")
    data = frame.reset_index(drop=True)
    keys = data["from_phase"].astype(str) + "\0" + data["to_phase"].astype(str)
    pairs = _transition_order([(k.split("\0")[0], k.split("\0")[1]) for k in dict.fromkeys(keys)],
                              phase_model)
    periods = pd.Index(data["period"].dropna().unique()).sort_values()
    rows, cols = len(periods), len(pairs)
    row_of = {p: i for i, p in enumerate(periods)}
    col_of = {f"{a}\0{b}": j for j, (a, b) in enumerate(pairs)}
    rate = np.full((rows, cols), np.nan)
    n = np.full((rows, cols), np.nan)
    immature = np.full((rows, cols), np.nan)
    r_idx = data["period"].map(row_of).to_numpy()
    c_idx = keys.map(col_of).to_numpy()
    ok = pd.notna(r_idx)
    r_idx, c_idx = r_idx[ok].astype(int), c_idx[ok].astype(int)
    rate[r_idx, c_idx] = _num(data, "rate")[ok]
    n[r_idx, c_idx] = _num(data, "n")[ok]
    immature[r_idx, c_idx] = _num(data, "immature_n")[ok]

    shown = np.isfinite(rate) & (n > 0)
    any_partly = bool((shown & (immature > 0)).any())
    window = ""
    if "window_days" in data and data["window_days"].notna().any():
        window = " " + _("within {days} days").format(
            days=int(pd.to_numeric(data["window_days"]).dropna().iloc[0]))
    if title is None:
        span = (_(", cohorts {first} to {last}").format(
                    first=_period_words(periods[0], short=True),
                    last=_period_words(periods[-1], short=True)) if rows > 1
                else _(", cohort {period}").format(period=_period_words(periods[0], short=True)))
        what = (f" {_phase_name(pairs[0][0], phase_model)} → {_phase_name(pairs[0][1], phase_model)}"
                if cols == 1 else "")
        title = (_("Cohort conversion") + what + window
                 + (" " + _("per transition") if cols > 1 else "") + span)
    title_in = _width_pt(str(title), 12.5, "bold") / 72

    created = ax is None
    row_in = 0.36 if rows <= 40 else 0.22
    col_in = 1.75
    if created:
        # wide enough for the title over the cells; the tick labels and colour bar take ~1.9 in
        col_in = max(col_in, (title_in - 0.8) / cols)
        ax = _new_axes(None, (1.9 + col_in * cols, 1.7 + 0.5 + row_in * rows))
        text_in = col_in * cols + 0.8
    else:
        box = ax.get_position()
        # measured before the layout engine takes its margins: keep some slack
        col_in = 0.85 * box.width * ax.figure.get_figwidth() / cols
        row_in = box.height * ax.figure.get_figheight() / max(rows, 1)
        text_in = box.width * ax.figure.get_figwidth()
    cell_pt = row_in * 72
    two_lines = cell_pt >= 22  # room for the n under the rate
    with_text = cell_pt >= 9
    rate_fs = 9.0 if cell_pt >= 14 else 7.0
    subtitle = (_("Cell: share of the cohort that converted") + (_(", n below") if two_lines else "")
                + _("; grey hatched: immature (window not closed yet)")
                + (_("; *: part of the cohort still immature, only its mature records counted")
                   if any_partly else ""))
    # wrapped to the width the title has anyway, so it never widens the figure
    subtitle = "\n".join(_wrap_pt(subtitle, max(text_in, title_in) * 72, 9.0))
    head_fs = 9.0 if col_in >= 1.2 else 7.5
    headers = []
    for a, b in pairs:
        width_pt = col_in * 72 - 8
        lines = (_wrap_pt(_phase_name(a, phase_model), width_pt, head_fs, "bold")
                 + _wrap_pt(f"→ {_phase_name(b, phase_model)}", width_pt, head_fs, "bold"))
        headers.append("\n".join(lines))
    header_lines = max(h.count("\n") + 1 for h in headers)

    # A cohort of one or two records converts at 0% or 100% by chance; letting it set the ends
    # of the scale would wash out every other cell, so small cohorts take the end colour.
    steady = shown & (n >= _HEATMAP_MIN_N)
    values = rate[steady] if steady.any() else rate[shown]
    vmin = float(values.min()) if values.size else 0.0
    vmax = float(values.max()) if values.size else 1.0
    beyond = (bool((rate[shown] < vmin - 1e-12).any()), bool((rate[shown] > vmax + 1e-12).any()))
    if vmax - vmin < 1e-9:  # one value: a mid colour rather than an extreme one
        half = max(0.5 * vmax, 0.01)
        vmin, vmax = max(0.0, vmin - half), min(1.0, vmax + half)
    norm = mpl.colors.Normalize(vmin=vmin, vmax=vmax)
    mesh = ax.pcolormesh(np.arange(cols + 1), np.arange(rows + 1),
                         np.ma.masked_invalid(np.where(shown, rate, np.nan)), cmap=_RATE_CMAP,
                         norm=norm, edgecolors="white", linewidth=1.2)
    ax.set_xlim(0, cols)
    ax.set_ylim(rows, 0)
    ax.grid(False)
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_xticks([])
    # every period when the rows are tall enough for the label, else every k-th
    every = max(1, math.ceil(9.0 / (row_in * 72)))
    shown_rows = np.arange(0, rows, every)
    ax.set_yticks(shown_rows + 0.5)
    ax.set_yticklabels([_period_words(periods[i], short=True) for i in shown_rows],
                       fontsize=9 if every == 1 else 7.5)
    ax.tick_params(axis="y", length=0, labelcolor=PALETTE["ink"])

    for i in range(rows):
        for j in range(cols):
            x, y = j + 0.5, i + 0.5
            if shown[i, j]:
                fill = _RATE_CMAP(norm(rate[i, j]))
                color = _readable_on(fill)
                partly = bool(np.isfinite(immature[i, j]) and immature[i, j] > 0)
                if not with_text:
                    continue
                text = _pct(rate[i, j]) + ("*" if partly else "")
                # the two lines a fixed distance apart, however tall the cell
                ax.annotate(text, xy=(x, y), xytext=(0, 4.5 if two_lines else 0),
                            textcoords="offset points", ha="center", va="center",
                            fontsize=rate_fs, fontweight="bold", color=color)
                if two_lines:
                    ax.annotate(f"n={_count(n[i, j])}", xy=(x, y), xytext=(0, -6.5),
                                textcoords="offset points", ha="center", va="center",
                                fontsize=6.5, color=color, alpha=0.85)
            elif np.isfinite(n[i, j]) and n[i, j] == 0 and immature[i, j] > 0:
                # the same white gutter as the coloured cells, so the grid stays even
                ax.add_patch(Rectangle((j, i), 1, 1, fc=PALETTE["immature"], hatch="////",
                                       hatchcolor="#B8BEC6", ec="white", lw=1.2, zorder=2))
                if with_text:
                    ax.text(x, y, _("immature"), ha="center", va="center", fontsize=7.5,
                            color="#4A525E", zorder=3,
                            bbox={"boxstyle": "round,pad=0.15", "fc": PALETTE["immature"],
                                  "ec": "none"})
            elif with_text:  # no record entered this phase in the period, or no rate
                ax.text(x, y, "–", ha="center", va="center", fontsize=8, color=PALETTE["neutral"])
    header_pt = header_lines * head_fs * 1.2 + 6
    for j, header in enumerate(headers):
        ax.annotate(header, xy=(j + 0.5, 1), xycoords=("data", "axes fraction"), xytext=(0, 5),
                    textcoords="offset points", ha="center", va="bottom", fontsize=head_fs,
                    fontweight="bold", color=PALETTE["ink"], linespacing=1.1,
                    annotation_clip=False)
    extend = {(True, True): "both", (True, False): "min", (False, True): "max"}.get(beyond,
                                                                                     "neither")
    # An inset right of the cells, top-aligned: a title wider than the cells (which widens the
    # Axes' margin) then cannot push it away from the cells, as a stolen colour-bar Axes would be.
    width_in, height_in = col_in * cols, row_in * rows
    inset = 0.2 / max(height_in, 0.1)  # room for a pointed end inside the Axes' height
    tall = max(min(1.0 - 2 * inset, 3.2 / max(height_in, 0.1)), 0.2)
    cax = ax.inset_axes((1 + 0.15 / width_in, 1 - inset - tall, 0.14 / width_in, tall))
    bar = ax.figure.colorbar(mesh, cax=cax, extend=extend)
    bar.outline.set_visible(False)
    bar.ax.yaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 5, 10]))
    decimals = 0 if vmax - vmin >= 0.06 else 1 if vmax - vmin >= 0.006 else 2
    bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _fmt().percent(v, decimals)))
    bar.ax.tick_params(labelsize=8, length=0, colors=PALETTE["muted"], labelcolor=PALETTE["ink"])
    bar.ax.set_ylabel(_("conversion rate"), fontsize=8.5, color=PALETTE["muted"])
    _title(ax, title, subtitle, above=header_pt)
    return ax


# --------------------------------------------------------------------------------------------
# 13. Engagement timeline
# --------------------------------------------------------------------------------------------

@_styled
def plot_engagement_timeline(data: pd.DataFrame, *, ax: Axes | None = None,
                             title: str | None = None) -> Axes:
    """The engagement as a Gantt chart: the method's steps one after another, in weeks.

    Parameters
    ----------
    data : DataFrame from `toolkit.analysis.planning.estimate_duration(factors).by_step` (or the
        DurationEstimate itself, or its `summary`): `step, step_name_nl, step_name_en, weeks,
        weeks_low, weeks_high`, one row per step. A total row (no step number, as in `summary`)
        is left out: the total is drawn from the steps.
    ax, title : see the module docstring.

    Returns
    -------
    Axes with one bar per step in ``ax.patches`` (from the step's start to start + weeks), a
    lighter extension to the high estimate and a tick at the low estimate; each step labelled
    "1 Nulmeting en startsituatie / Baseline and starting situation — 2.0 wk". A last row shows
    the total; the default title gives it with its range ("Engagement of about 23 weeks (20-31)").

    Notes
    -----
    start(k) = weeks(1) + ... + weeks(k-1): the model adds the steps as if they ran in sequence,
    as `estimate_duration` does, so where steps overlap in practice (2-3, 6-7) the calendar time
    is shorter. The total range adds the steps' low (high) ends, the cautious planning choice;
    the whiskers per step are drawn from the step's central start, not shifted by earlier
    steps running long.
    """
    name = "plot_engagement_timeline"
    _check_ax(ax, name)
    if hasattr(data, "by_step") and isinstance(data.by_step, pd.DataFrame):
        data = data.by_step
    frame = _require(data, ["step", "step_name_nl", "step_name_en", "weeks", "weeks_low",
                               "weeks_high"], function=name, argument="data",
                     producer="duration")
    steps = frame[frame["step"].notna()]  # the summary's total row has no step number
    if len(steps) == 0:
        raise DataError(f"{name}: `by_step` has no row with a step number, so there is nothing "
                        f"to draw", column="step", fix=f"pass {_PRODUCERS['duration']}")
    number = pd.to_numeric(steps["step"], errors="coerce")
    if number.isna().any() or number.duplicated().any():
        bad = steps["step"][number.isna() | number.duplicated()].iloc[0]
        raise DataError(f"{name}: every step must have its own step number, but {bad!r} is not a "
                        f"number or appears twice", column="step",
                        fix="pass one row per step, numbered 1 to 7")
    steps = steps.assign(_order=number.to_numpy()).sort_values("_order", kind="stable")
    weeks, low, high = (_num(steps, c) for c in ("weeks", "weeks_low", "weeks_high"))
    for column, values in (("weeks", weeks), ("weeks_low", low), ("weeks_high", high)):
        if not (np.isfinite(values) & (values >= 0)).all():
            raise DataError(f"{name}: `{column}` must be a number of weeks of at least 0 for every "
                            f"step, but it holds {values.tolist()}", column=column,
                            fix=f"pass {_PRODUCERS['duration']}")
    count = len(steps)
    start = np.r_[0.0, np.cumsum(weeks)[:-1]]
    total, total_low, total_high = float(weeks.sum()), float(low.sum()), float(high.sum())
    reach = max(total_high, float(np.max(start + high)), 1e-9)
    rows = count + 1  # the steps and the total

    created = ax is None
    if created:
        fig_w, row_in = 10.0, 0.56
        fig_h = 0.9 + 0.85 + rows * row_in  # title band, axis and legend, rows
        fig = plt.figure(figsize=(fig_w, fig_h))
        # a fixed Axes: the labels are placed by their measured width in data units
        ax = fig.add_axes((0.2 / fig_w, 0.85 / fig_h, 1 - 0.45 / fig_w, rows * row_in / fig_h))
    fig = ax.figure
    _clean_axes(ax, grid="x")
    ax.spines["left"].set_visible(False)
    ax.set_yticks([])
    ax_w_pt = ax.get_position().width * fig.get_figwidth() * 72
    row_pt = ax.get_position().height * fig.get_figheight() * 72 / (rows + 0.5)

    english = _LANGUAGE.get() == "en"  # the English figure names each step in both languages
    labels = [f"{int(s)} {nl} / {en} — {w:.1f} wk" if english
              else f"{int(s)} {nl} — " + _fmt().number(w, 1) + " " + _("wk")
              for s, nl, en, w in
              zip(steps["_order"], steps["step_name_nl"], steps["step_name_en"], weeks, strict=True)]
    total_label = _("Total, steps in sequence — {weeks} wk ({low}-{high})").format(
        weeks=_fmt().number(total, 1), low=_fmt().number(total_low, 1),
        high=_fmt().number(total_high, 1))
    label_fs = 9.0 if row_pt >= 34 else 7.5  # a label takes about a third of the row
    tick_ms = min(12.0, 0.4 * row_pt)  # the low-end tick a little taller than the bar
    widths_pt = [_width_pt(t, label_fs) for t in labels]
    widths_pt.append(_width_pt(total_label, label_fs, "bold"))
    # The axis must hold the bars and the widest label; labels sit above their bars, starting
    # at the bar and moved left only as far as the right edge requires.
    x_max = reach * 1.04
    x_max = max(x_max, max(w / ax_w_pt for w in widths_pt) * x_max * 1.02)
    ax.set_xlim(0, x_max)
    ax.set_ylim(rows - 0.25, -0.75)
    per_pt = x_max / ax_w_pt

    bar_h, bar_y = 0.34, 0.14  # bar centre below the row's middle; the label above it
    y = np.arange(count, dtype=float)
    ax.barh(y + bar_y, weeks, left=start, height=bar_h, color=PALETTE["primary"], linewidth=0,
            zorder=2)
    for i in range(count):
        ax.broken_barh([(start[i] + weeks[i], max(high[i] - weeks[i], 0.0))],
                       (y[i] + bar_y - bar_h / 2, bar_h), facecolors=PALETTE["light"],
                       linewidth=0, zorder=1)
    ax.plot(start + low, y + bar_y, ls="none", marker="|", ms=tick_ms, mew=1.6,
            color=PALETTE["ink"], zorder=3, label="_low")
    for i, text in enumerate(labels):
        x = min(start[i], x_max - widths_pt[i] * per_pt * 1.01)
        ax.text(max(x, 0.0), y[i] + bar_y - bar_h / 2 - 0.06, text, ha="left", va="bottom",
                fontsize=label_fs, color=PALETTE["ink"], zorder=4)
    t = float(count)
    ax.broken_barh([(0.0, total)], (t + bar_y - bar_h / 2, bar_h),
                   facecolors=PALETTE["phase_dark"], linewidth=0, zorder=2)
    ax.broken_barh([(total, max(total_high - total, 0.0))], (t + bar_y - bar_h / 2, bar_h),
                   facecolors=PALETTE["light"], linewidth=0, zorder=1)
    ax.plot([total_low], [t + bar_y], ls="none", marker="|", ms=tick_ms, mew=1.6,
            color="white", zorder=3, label="_low total")
    ax.text(0.0, t + bar_y - bar_h / 2 - 0.06, total_label, ha="left", va="bottom",
            fontsize=label_fs, fontweight="bold", color=PALETTE["ink"], zorder=4)
    ax.axhline(count - 0.5 + 0.05, color="#B8BEC6", lw=0.8, zorder=0)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=10, integer=True))
    ax.set_xlabel(_("weeks from the start of the engagement"))
    handles = [Patch(color=PALETTE["primary"], label=_("estimated weeks")),
               Patch(color=PALETTE["light"], label=_("up to the high estimate")),
               Line2D([], [], ls="none", marker="|", ms=10, mew=1.6, color=PALETTE["ink"],
                      label=_("low estimate"))]
    _legend_below(ax, handles, [h.get_label() for h in handles], ncols=3)
    if title is None:
        title = _("Engagement of about {weeks} weeks ({low}-{high})").format(
            weeks=f"{total:.0f}", low=f"{total_low:.0f}", high=f"{total_high:.0f}")
    subtitle = _("The {count} steps one after another, each starting when the previous one is "
                 "estimated to end; the range is planning judgement, not a quote").format(
                     count=count)
    _title(ax, title, "\n".join(_wrap_pt(subtitle, ax_w_pt, 9.0)))
    return ax


# --------------------------------------------------------------------------------------------
# 14. Saving
# --------------------------------------------------------------------------------------------

def save_figure(fig_or_ax: Figure | Axes, path: str | Path, *, dpi: int = 150) -> Path:
    """Save the figure holding `fig_or_ax` as a PNG with a tight bounding box; returns the path.

    A path without suffix gets '.png'; missing folders are created.
    """
    if isinstance(fig_or_ax, Axes):
        fig = fig_or_ax.figure
    elif isinstance(fig_or_ax, Figure):
        fig = fig_or_ax
    else:
        raise OptionError(f"The value for `fig_or_ax` must be a matplotlib Figure or Axes, but a "
                           f"{type(fig_or_ax).__name__} was passed.")
    if isinstance(dpi, bool) or not isinstance(dpi, int | float) or dpi <= 0:
        raise OptionError(f"The value for `dpi` must be a positive number (e.g. 150), but {dpi!r} "
                           f"was passed.")
    target = Path(path)
    if not target.suffix:
        target = target.with_suffix(".png")
    target.parent.mkdir(parents=True, exist_ok=True)
    with mpl.rc_context(_RC):
        fig.savefig(target, dpi=dpi, bbox_inches="tight", pad_inches=0.15)
    return target
