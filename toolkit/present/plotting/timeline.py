"""The engagement timeline: the plan's steps as a Gantt chart."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from toolkit.base.docstrings import shared_docs
from toolkit.base.exceptions import DataError
from toolkit.present.plotting.axes import clean_axes, draw_title, legend_below
from toolkit.present.plotting.checks import PRODUCERS, check_ax, require_frame, styled
from toolkit.present.plotting.labels import num, text_width_pt, wrap_pt
from toolkit.present.plotting.style import LANGUAGE, PALETTE, fig_fmt, figure_of
from toolkit.present.plotting.style import gettext as _

__all__ = [
    "plot_engagement_timeline",
]


@styled
@shared_docs
def plot_engagement_timeline(data: pd.DataFrame, *, ax: Axes | None = None,
                             title: str | None = None) -> Axes:
    """The engagement as a Gantt chart: the method's steps one after another, in weeks.

    Parameters
    ----------
    data : DataFrame from `toolkit.analysis.planning.estimate_duration(factors).by_step` (or the
        DurationEstimate itself, or its `summary`): `step, step_name_nl, step_name_en, weeks,
        weeks_low, weeks_high`, one row per step. A total row (no step number, as in `summary`)
        is left out: the total is drawn from the steps.
    {shared.ax}
    {shared.title}
    {shared.language}

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
    check_ax(ax, name)
    if hasattr(data, "by_step") and isinstance(data.by_step, pd.DataFrame):
        data = data.by_step
    frame = require_frame(data, ["step", "step_name_nl", "step_name_en", "weeks", "weeks_low",
                               "weeks_high"], function=name, argument="data",
                     producer="duration")
    steps = frame[frame["step"].notna()]  # the summary's total row has no step number
    if len(steps) == 0:
        raise DataError(f"{name}: `by_step` has no row with a step number, so there is nothing "
                        f"to draw", column="step", fix=f"pass {PRODUCERS['duration']}")
    number = pd.to_numeric(steps["step"], errors="coerce")
    if number.isna().any() or number.duplicated().any():
        bad = steps["step"][number.isna() | number.duplicated()].iloc[0]
        raise DataError(f"{name}: every step must have its own step number, but {bad!r} is not a "
                        f"number or appears twice", column="step",
                        fix="pass one row per step, numbered 1 to 7")
    steps = steps.assign(_order=number.to_numpy()).sort_values("_order", kind="stable")
    weeks, low, high = (num(steps, c) for c in ("weeks", "weeks_low", "weeks_high"))
    for column, values in (("weeks", weeks), ("weeks_low", low), ("weeks_high", high)):
        if not (np.isfinite(values) & (values >= 0)).all():
            raise DataError(f"{name}: `{column}` must be a number of weeks of at least 0 for every "
                            f"step, but it holds {values.tolist()}", column=column,
                            fix=f"pass {PRODUCERS['duration']}")
    count = len(steps)
    start = np.r_[0.0, np.cumsum(weeks)[:-1]]
    total, total_low, total_high = float(weeks.sum()), float(low.sum()), float(high.sum())
    reach = max(total_high, float(np.max(start + high)), 1e-9)
    rows = count + 1  # the steps and the total

    if ax is None:
        fig_w, row_in = 10.0, 0.56
        fig_h = 0.9 + 0.85 + rows * row_in  # title band, axis and legend, rows
        fig = plt.figure(figsize=(fig_w, fig_h))
        # a fixed Axes: the labels are placed by their measured width in data units
        ax = fig.add_axes((0.2 / fig_w, 0.85 / fig_h, 1 - 0.45 / fig_w, rows * row_in / fig_h))
    fig = figure_of(ax)
    clean_axes(ax, grid="x")
    ax.spines["left"].set_visible(False)
    ax.set_yticks([])
    ax_w_pt = ax.get_position().width * fig.get_figwidth() * 72
    row_pt = ax.get_position().height * fig.get_figheight() * 72 / (rows + 0.5)

    english = LANGUAGE.get() == "en"  # the English figure names each step in both languages
    names = [f"{nl} / {en}" if english else nl
             for nl, en in zip(steps["step_name_nl"], steps["step_name_en"], strict=True)]
    labels = [f"{int(s)} {name} — {fig_fmt().number(w, 1)} {_('wk')}"
              for s, name, w in zip(steps["_order"], names, weeks, strict=True)]
    total_label = _("Total, steps in sequence — {weeks} wk ({low}-{high})").format(
        weeks=fig_fmt().number(total, 1), low=fig_fmt().number(total_low, 1),
        high=fig_fmt().number(total_high, 1))
    label_fs = 9.0 if row_pt >= 34 else 7.5  # a label takes about a third of the row
    tick_ms = min(12.0, 0.4 * row_pt)  # the low-end tick a little taller than the bar
    widths_pt = [text_width_pt(t, label_fs) for t in labels]
    widths_pt.append(text_width_pt(total_label, label_fs, "bold"))
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
    legend_below(ax, handles, [str(h.get_label()) for h in handles], ncols=3)
    if title is None:
        title = _("Engagement of about {weeks} weeks ({low}-{high})").format(
            weeks=fig_fmt().number(total, 0), low=fig_fmt().number(total_low, 0),
            high=fig_fmt().number(total_high, 0))
    subtitle = _("The {count} steps one after another, each starting when the previous one is "
                 "estimated to end; the range is planning judgement, not a quote").format(
                     count=count)
    draw_title(ax, title, "\n".join(wrap_pt(subtitle, ax_w_pt, 9.0)))
    return ax
