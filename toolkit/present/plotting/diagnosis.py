"""The figures of the diagnosis: the sized bottlenecks, the segment scan and the mix versus
rate decomposition."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter
from matplotlib.transforms import blended_transform_factory

from toolkit.base.docstrings import shared_docs
from toolkit.base.exceptions import OptionError
from toolkit.base.phases import PhaseModel
from toolkit.present.plotting.axes import clean_axes, draw_title, legend_below, new_axes, percent_axis
from toolkit.present.plotting.checks import check_ax, check_phase_model, require_frame, styled
from toolkit.present.plotting.labels import (
    attribute_words,
    count_text,
    is_missing_value,
    num,
    p_text,
    pct_text,
    phase_name,
    printable,
)
from toolkit.present.plotting.style import PALETTE, SERIES_COLORS, fig_fmt
from toolkit.present.plotting.style import gettext as _
from toolkit.present.tables import N_

__all__ = [
    "plot_bottlenecks",
    "plot_segment_scan",
    "plot_mix_vs_rate",
]


# The outcomes of a cumulative-incidence frame, named for the catalogue (drawn through _()).
_OUTCOMES = (N_("converted"), N_("lost"))

# The references a bottleneck is sized against, as a figure names them.
_REFERENCE_WORDS = {"target": N_("target"), "benchmark": N_("benchmark"),
                    "history": N_("history"), "best_period": N_("best period"),
                    "best_segment": N_("best segment")}


def _reference_word(reference: object) -> str:
    key = str(reference)
    return _(_REFERENCE_WORDS[key]) if key in _REFERENCE_WORDS else key.replace("_", " ")


@styled
@shared_docs
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
    {shared.phase_model}
    {shared.ax}
    {shared.title}
    {shared.language}

    Returns
    -------
    Axes with one bar per row (``ax.patches``), transitions ranked by their largest gain (top).

    Notes
    -----
    The gains of different transitions overlap (each assumes the others stay as they are): the
    figure ranks them, it does not add them up.
    """
    name = "plot_bottlenecks"
    check_ax(ax, name)
    check_phase_model(phase_model, name)
    data = require_frame(data, ["from_phase", "to_phase", "extra_orders", "extra_orders_low",
                            "extra_orders_high", "reference"], function=name, argument="data",
                    producer="bottlenecks").reset_index(drop=True)
    value_all = num(data, "extra_orders")
    pair = data["from_phase"].astype(str) + "\0" + data["to_phase"].astype(str)
    best = pd.Series(np.where(np.isfinite(value_all), value_all, -np.inf)).groupby(pair).max()
    pairs = list(best.sort_values(ascending=False, kind="stable").index)
    multi = bool(pair.duplicated().any())
    kinds = list(dict.fromkeys(data["reference"].astype(str))) if multi else [None]
    slot = 0.8 / len(kinds)
    per = _(" per {horizon}").format(horizon=_(data["horizon"].dropna().astype(str).iloc[0])) if (
        "horizon" in data and data["horizon"].notna().any()) else ""
    count = len(pairs)
    ax = new_axes(ax, (10.0, 1.5 + (0.62 if not multi else 0.34 * len(kinds) + 0.25) * count))
    clean_axes(ax, grid="x")
    low_all, high_all = num(data, "extra_orders_low"), num(data, "extra_orders_high")
    shown_all = np.where(np.isfinite(value_all), value_all, 0.0)
    reach = float(np.nanmax(np.r_[high_all[np.isfinite(high_all)], shown_all, 0.0]))
    floor = float(np.nanmin(np.r_[low_all[np.isfinite(low_all)], shown_all, 0.0]))
    span = max(reach - floor, 1.0)
    labels = []
    for rank, key in enumerate(pairs):
        a, b = key.split("\0")
        labels.append(f"{phase_name(a, phase_model)} → {phase_name(b, phase_model)}")
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
            band = (_(" ({low} to {high})").format(low=count_text(low), high=count_text(high))
                    if np.isfinite(low) and np.isfinite(high) else "")
            x_text = max(0.0, shown, high if np.isfinite(high) else shown) + 0.02 * span
            ax.text(x_text, y,
                    fig_fmt().number(value, 0, signed=True) + band if np.isfinite(value) else _("n/a"),
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
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fig_fmt().number(v, 0)))
    ax.set_xlabel(_("extra {unit}{per} if the step reached its reference").format(
        unit=_(unit), per=per))
    ax.tick_params(axis="y", length=0)
    if multi:
        legend_below(ax, ncols=len(kinds))
    top_rows = data.index[(pair == pairs[0]).to_numpy()]
    top = top_rows[int(np.nanargmax(np.where(np.isfinite(value_all[top_rows]),
                                               value_all[top_rows], -np.inf)))]
    if title is None:
        versus = (_(" (vs {reference})").format(
                      reference=_reference_word(data["reference"].iloc[top]))
                  if isinstance(data["reference"].iloc[top], str) else "")
        title = (_("Largest gain: {step}, {value} {unit}{per}{versus}").format(
                     step=labels[0], value=fig_fmt().number(value_all[top], 0, signed=True), unit=_(unit),
                     per=per, versus=versus)
                 if np.isfinite(value_all[top])
                 else _("Extra {unit} per step").format(unit=_(unit)))
    draw_title(ax, title, _("Extra {unit} if a step converted at its reference; lines: interval; the "
                        "gains overlap, do not add them up").format(unit=_(unit)))
    return ax


def _reference_text(data: pd.DataFrame, row: int) -> str:
    ref = data["reference"].iloc[row]
    if is_missing_value(ref):
        return ""
    if isinstance(ref, int | float | np.number):
        return f"reference {pct_text(float(ref))}"
    text = f"reference: {str(ref).replace('_', ' ')}"
    if "reference_rate" in data and np.isfinite(num(data, "reference_rate")[row]):
        text += f" {pct_text(num(data, 'reference_rate')[row])}"
    return text


@styled
@shared_docs
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
    {shared.phase_model}
    {shared.ax}
    {shared.title}
    {shared.language}

    Returns
    -------
    Axes with one point and interval per segment (``ax.collections`` / ``ax.lines``) and the rest's
    rate as a grey tick. Flagged segments are vermillion when below the rest, green when above;
    the right margin gives n and the adjusted p-value.
    """
    name = "plot_segment_scan"
    check_ax(ax, name)
    check_phase_model(phase_model, name)
    data = require_frame(data, ["attribute", "segment", "from_phase", "to_phase", "n", "rate",
                            "ci_low", "ci_high", "rest_rate", "p_adjusted", "flagged"],
                    function=name, argument="data", producer="segment_scan")
    if max_rows is not None and (isinstance(max_rows, bool) or not isinstance(max_rows, int)):
        raise TypeError(f"{name}: the value for `max_rows` must be a positive whole number or "
                        f"None, but a {type(max_rows).__name__} was passed.")
    if max_rows is not None and max_rows < 1:
        raise OptionError(f"{name}: the value for `max_rows` must be a positive whole number or "
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
        rows.extend((printable(f"{attribute_words(data['attribute'].iloc[i], attributes)}: "
                                f"{data['segment'].iloc[i]}"), i)
                    for i in np.flatnonzero((pair == g).to_numpy()).tolist())
    count = len(rows)
    ax = new_axes(ax, (10.0, 1.6 + 0.34 * count))
    clean_axes(ax, grid="x")
    rate, low, high = num(data, "rate"), num(data, "ci_low"), num(data, "ci_high")
    rest, n, p_adj = num(data, "rest_rate"), num(data, "n"), num(data, "p_adjusted")
    flagged = data["flagged"].fillna(False).astype(bool).to_numpy()
    ticks, tick_labels, right_labels = [], [], []
    for pos, (label, i) in enumerate(rows):
        if i is None:
            a, b = label.split(" → ")
            ax.text(0, pos, f"{phase_name(a, phase_model)} → {phase_name(b, phase_model)}",
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
        right_labels.append(_("{rate} vs {rest}").format(rate=pct_text(rate[i]), rest=pct_text(rest[i]))
                            + f"   n={count_text(n[i])}   " + p_text(p_adj[i]))
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
    percent_axis(ax, "x")
    ax.set_xlabel(_("conversion rate (point: segment with 95% interval; tick: all other records)"))
    handles = [Line2D([], [], ls="none", marker="o", color=PALETTE["below"],
                      label=_("significantly below the rest")),
               Line2D([], [], ls="none", marker="o", color=PALETTE["on_target"],
                      label=_("significantly above the rest")),
               Line2D([], [], ls="none", marker="o", color=PALETTE["neutral"],
                      label=_("not significant")),
               Line2D([], [], ls="none", marker="|", ms=11, mew=1.8, color=PALETTE["ink"],
                      label=_("rest of the records"))]
    legend_below(ax, handles, [str(h.get_label()) for h in handles], ncols=4)
    if title is None:
        transition = (f" ({phase_name(groups[0].split(' → ')[0], phase_model)} → "
                      f"{phase_name(groups[0].split(' → ')[1], phase_model)})"
                      if len(groups) == 1 else "")
        title = _("{flagged} of {total} segments convert significantly differently from the "
                  "rest{transition}").format(flagged=all_flagged, total=total,
                                             transition=transition)
    shown = (_("; first {shown} of {total} rows shown").format(shown=len(data), total=total)
             if len(data) < total else "")
    draw_title(ax, title, _("After correction for testing many segments (adjusted p); n and rates at "
                        "the right") + shown)
    return ax


_TOTAL_NAMES = ("total", "(total)", "all", "(all)")


@styled
@shared_docs
def plot_mix_vs_rate(data: pd.DataFrame, *, ax: Axes | None = None,
                     title: str | None = None) -> Axes:
    """Waterfall of a change in overall conversion: per segment its rate effect and mix effect.

    Parameters
    ----------
    data : DataFrame with `segment, rate_effect, mix_effect` (shares: 0.012 is 1.2
        percentage points), one row per segment; a row whose segment is 'total' (or 'all') gives
        the total bar, otherwise the total is where the waterfall ends.
    {shared.ax}
    {shared.title}
    {shared.language}

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
    check_ax(ax, name)
    data = require_frame(data, ["segment", "rate_effect", "mix_effect"], function=name,
                    argument="data", producer="mix").reset_index(drop=True)
    is_total = data["segment"].astype(str).str.strip().str.lower().isin(_TOTAL_NAMES).to_numpy()
    parts = data[~is_total]
    totals = data[is_total]
    rate, mix = num(parts, "rate_effect"), num(parts, "mix_effect")
    names = parts["segment"].astype(str).tolist()
    steps = ([(s, r, "rate") for s, r in zip(names, rate, strict=True)]
             + [(s, m, "mix") for s, m in zip(names, mix, strict=True)])
    steps = [(s, (v if np.isfinite(v) else 0.0), k) for s, v, k in steps]
    end = float(sum(v for _, v, _ in steps))
    if len(totals):
        total = float(np.nansum(num(totals, "rate_effect")) + np.nansum(num(totals, "mix_effect")))
        rate_total = float(np.nansum(num(totals, "rate_effect")))
        mix_total = float(np.nansum(num(totals, "mix_effect")))
    else:
        total = end
        rate_total, mix_total = float(np.nansum(rate)), float(np.nansum(mix))
    count = len(steps) + 1
    ax = new_axes(ax, (10.0, 1.6 + 0.42 * count))
    clean_axes(ax, grid="x")
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
                fig_fmt().number(widths[i] * 100, 1, signed=True) + " " + _("pp"),
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
        lambda v, _unused: fig_fmt().number(v * 100, digits, signed=True) + " " + _("pp")
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
    legend_below(ax, handles, [str(h.get_label()) for h in handles], ncols=3)
    if title is None:
        title = _("Overall conversion {total} pp: {rates} pp from rates, {mix} pp from mix").format(
            total=fig_fmt().number(total * 100, 1, signed=True),
            rates=fig_fmt().number(rate_total * 100, 1, signed=True),
            mix=fig_fmt().number(mix_total * 100, 1, signed=True))
    draw_title(ax, title, _("Rate effect: segments converting better or worse; mix effect: a shift in "
                        "which segments the records come from"))
    return ax
