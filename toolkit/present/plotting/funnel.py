"""The funnel (records per phase with the conversion of each step)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from toolkit.base.docstrings import shared_docs
from toolkit.base.exceptions import DataError
from toolkit.base.phases import PhaseModel
from toolkit.present.plotting.axes import clean_axes, draw_title, new_axes, text_on
from toolkit.present.plotting.checks import check_ax, check_phase_model, require_frame, styled
from toolkit.present.plotting.labels import count_text, num, pct_ci_text, pct_text, phase_name
from toolkit.present.plotting.style import PALETTE, phase_palette
from toolkit.present.plotting.style import gettext as _

__all__ = [
    "plot_funnel",
]


@styled
@shared_docs
def plot_funnel(data: pd.DataFrame, *, phase_model: PhaseModel | None = None,
                ax: Axes | None = None, title: str | None = None) -> Axes:
    """Horizontal funnel: records that reached each phase, step conversion between the bars.

    Parameters
    ----------
    data : DataFrame from `toolkit.measure.funnel.funnel` without `by` (or one segment of it):
        `phase, reached, n, rate, ci_low, ci_high, cumulative_rate` (and `label`), one row per
        phase in phase order.
    {shared.phase_model}
    {shared.ax}
    {shared.title}
    {shared.language}

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
    check_ax(ax, name)
    check_phase_model(phase_model, name)
    frame = require_frame(data, ["phase", "reached", "n", "rate", "ci_low", "ci_high",
                                    "cumulative_rate"], function=name, argument="data",
                     producer="funnel")
    doubles = frame["phase"].astype(str)[frame["phase"].astype(str).duplicated()]
    if len(doubles):
        raise DataError(
            f"{name}: `data` has more than one row for phase {doubles.iloc[0]!r}; it holds "
            "several segments", fix="draw one segment at a time, e.g. "
            "frame[frame['channel'] == 'event'], or call funnel(engagement) without `by`")
    frame = frame.reset_index(drop=True)
    labels = [phase_name(p, phase_model, frame["label"].iloc[i] if "label" in frame else None)
              for i, p in enumerate(frame["phase"])]
    reached = num(frame, "reached")
    rate, low, high, n = (num(frame, c) for c in ("rate", "ci_low", "ci_high", "n"))
    cumulative = num(frame, "cumulative_rate")
    count = len(frame)
    ax = new_axes(ax, (10.0, 1.0 + 0.95 * count))
    clean_axes(ax, grid=None)

    widest = float(np.nanmax(reached)) if np.isfinite(reached).any() else 1.0
    widest = widest if widest > 0 else 1.0
    y = np.arange(count, dtype=float)
    colors = phase_palette(count)
    widths = np.where(np.isfinite(reached), reached, 0.0)
    bars = ax.barh(y, widths, left=-widths / 2, height=0.58, color=colors, edgecolor="white",
                   linewidth=0.8)
    for i, bar in enumerate(bars):
        text = count_text(reached[i])
        if widths[i] >= 0.16 * widest:
            ax.text(0, y[i], text, ha="center", va="center", fontsize=10, fontweight="bold",
                    color=text_on(colors[i]))
        else:  # too narrow for the number inside: put it beside the bar
            ax.text(widths[i] / 2 + 0.015 * widest, y[i], text, ha="left", va="center",
                    fontsize=10, fontweight="bold", color=PALETTE["ink"])
        bar.set_label(labels[i])
    for i in range(1, count):
        if not np.isfinite(rate[i]):
            continue
        ax.text(0, y[i] - 0.5, "▼ " + _("{rate} of {n}").format(
                    rate=pct_ci_text(rate[i], low[i], high[i]), n=count_text(n[i])),
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
    right.set_yticklabels(["100%" if i == 0 else pct_text(cumulative[i]) for i in range(count)],
                          fontsize=10, color=PALETTE["muted"])
    right.tick_params(length=0)
    right.spines["right"].set_visible(False)
    ax.annotate(_("share of\n{phase}").format(phase=labels[0]), xy=(1.0, -0.42),
                xycoords=("axes fraction", "data"),
                xytext=(4, 0), textcoords="offset points", ha="left", va="bottom", fontsize=8,
                color=PALETTE["muted"], annotation_clip=False)
    if title is None:
        title = _("{first_n} {first} → {last_n} {last}: {share} overall").format(
            first_n=count_text(reached[0]), first=labels[0], last_n=count_text(reached[-1]),
            last=labels[-1], share=pct_text(cumulative[-1]))
    draw_title(ax, title, _("Step conversion with 95% interval and n between the bars; open records "
                        "count as not yet converted"))
    return ax
