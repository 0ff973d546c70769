"""Conversion per cohort: the lines of a step's conversion per cohort period and the heatmap
of every step by period."""

from __future__ import annotations

import math
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter, MaxNLocator

from toolkit.base.docstrings import shared_docs
from toolkit.base.exceptions import DataError, OptionError
from toolkit.base.phases import PhaseModel
from toolkit.present.plotting.axes import (
    clean_axes,
    draw_title,
    legend_below,
    n_bars,
    new_axes,
    percent_axis,
    period_ticks,
    rate_limits,
    shade_immature,
)
from toolkit.present.plotting.checks import check_ax, check_phase_model, require_frame, styled
from toolkit.present.plotting.labels import (
    count_text,
    num,
    pct_text,
    period_words,
    phase_name,
    text_width_pt,
    wrap_pt,
)
from toolkit.present.plotting.style import PALETTE, SERIES_COLORS, fig_fmt, figure_of
from toolkit.present.plotting.style import gettext as _

__all__ = [
    "plot_cohort_conversion",
    "plot_cohort_heatmap",
]


def _transition_name(frame: pd.DataFrame, phase_model: PhaseModel | None) -> str | None:
    if "from_phase" not in frame or "to_phase" not in frame:
        return None
    pairs = frame[["from_phase", "to_phase"]].astype(str).drop_duplicates()
    if len(pairs) != 1:
        return None
    a, b = pairs.iloc[0]
    return f"{phase_name(a, phase_model)} → {phase_name(b, phase_model)}"


@styled
@shared_docs
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
    {shared.phase_model}
    {shared.ax}
    {shared.title}
    {shared.language}

    Returns
    -------
    Axes; the lines are ``ax.lines`` (one per series, plus the target line), the cohort sizes are
    bars on a twin axis in the bottom strip. Periods without mature records are shaded grey
    ("immature"); hollow points are periods where part of the cohort is still immature.
    """
    name = "plot_cohort_conversion"
    check_ax(ax, name)
    check_phase_model(phase_model, name)
    frame = require_frame(data, ["period", "n", "successes", "rate", "ci_low", "ci_high"],
                     function=name, argument="data", producer="cohort")
    if hue is not None and hue not in frame.columns:
        raise OptionError(f"{name}: the value for `hue` must be a column of `cohort_frame`, but "
                          f"{hue!r} was passed; columns are {[str(c) for c in frame.columns]}",
                          fix="pass the `by` column you gave cohort_conversion")
    if target is not None and not (isinstance(target, int | float) and 0 <= target <= 1):
        raise OptionError(f"{name}: the value for `target` must be a share between 0 and 1 (e.g. "
                          f"0.35 for 35%), but {target!r} was passed.")
    transition = _transition_name(frame, phase_model)
    if hue is None and transition is None and {"from_phase", "to_phase"} <= set(frame.columns):
        keys = frame["from_phase"].astype(str) + "\0" + frame["to_phase"].astype(str)
        names = {k: f"{phase_name(k.split(chr(0))[0], phase_model)} → "
                    f"{phase_name(k.split(chr(0))[1], phase_model)}" for k in keys.unique()}
        group = keys.map(names)
    elif hue is not None:
        group = frame[hue].astype(str)
    else:
        group = pd.Series("all", index=frame.index)
    periods = pd.Index(frame["period"].dropna().unique()).sort_values()
    labels = [str(p) for p in periods]
    x_of = {p: i for i, p in enumerate(periods)}
    ax = new_axes(ax, (10.5, 5.2))
    clean_axes(ax, grid="y")
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
        rate = num(part, "rate")[order_x]
        low, high = num(part, "ci_low")[order_x], num(part, "ci_high")[order_x]
        n = num(part, "n")[order_x]
        immature = (num(part, "immature_n")[order_x] if "immature_n" in part
                    else np.zeros(len(part)))
        shown = np.isfinite(rate) & (n > 0)
        size_label = f"n={count_text(np.nansum(n))}"
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
    n_bars(ax, np.arange(len(periods), dtype=float), counts, label=_("cohort size n"))
    lows, highs = num(frame, "ci_low"), num(frame, "ci_high")
    floor = rate_limits(ax, min(float(np.nanmin(lows)) if np.isfinite(lows).any() else 0.0,
                                 target if target is not None else np.inf),
                         max(float(np.nanmax(highs)) if np.isfinite(highs).any() else 1.0,
                             target or 0.0), strip=0.2)
    if target is not None:
        ax.axhline(target, color=PALETTE["ink"], lw=1.1, ls=(0, (5, 3)),
                   label=f"target {pct_text(target)}")
    shade_immature(ax, np.flatnonzero(all_n == 0))
    percent_axis(ax, "y", floor=floor)
    period_ticks(ax, labels)
    ax.set_ylabel(_("conversion rate"))
    handles, legend_names = ax.get_legend_handles_labels()
    if any_partly:
        handles.append(Line2D([], [], ls="none", marker="o", ms=6.5, mfc="white",
                              mec=PALETTE["muted"], mew=1.5))
        legend_names.append(_("partly immature (only mature records counted)"))
    legend_below(ax, handles, legend_names, ncols=min(len(handles), 3))
    window = ""
    if "window_days" in frame and frame["window_days"].notna().any():
        window = _(" within {days} days").format(
            days=int(pd.to_numeric(frame["window_days"]).dropna().iloc[0]))
    if title is None:
        title = _("Cohort conversion {transition}{window}, by period of entry").format(
            transition=transition or "", window=window).replace("  ", " ")
    draw_title(ax, title, _("Line: share of the cohort that converted; band: 95% interval; bars: "
                        "cohort size n; grey: cohorts too recent to judge"))
    return ax


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


@styled
@shared_docs
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
    {shared.phase_model}
    {shared.ax}
    {shared.title}
    {shared.language}

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
    The figure made when `ax` is None grows with the number of periods (about 0.36 inch a row
    up to 40 rows).

    All transitions share one colour scale, from the lowest to the highest rate of the cohorts
    with at least 10 mature records (smaller cohorts beyond it take the end colour; the colour
    bar then has a pointed end), so a column that is darker throughout simply converts better;
    compare colours down a column to see a step change over time. Rates of small cohorts swing
    by chance: read the n before reading a pale cell as a problem, and use
    `plot_cohort_conversion` for the 95% intervals of one transition.
    """
    name = "plot_cohort_heatmap"
    check_ax(ax, name)
    check_phase_model(phase_model, name)
    frame = require_frame(data, ["from_phase", "to_phase", "period", "n", "rate", "immature_n"],
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
    rate[r_idx, c_idx] = num(data, "rate")[ok]
    n[r_idx, c_idx] = num(data, "n")[ok]
    immature[r_idx, c_idx] = num(data, "immature_n")[ok]

    shown = np.isfinite(rate) & (n > 0)
    any_partly = bool((shown & (immature > 0)).any())
    window = ""
    if "window_days" in data and data["window_days"].notna().any():
        window = " " + _("within {days} days").format(
            days=int(pd.to_numeric(data["window_days"]).dropna().iloc[0]))
    if title is None:
        span = (_(", cohorts {first} to {last}").format(
                    first=period_words(periods[0], short=True),
                    last=period_words(periods[-1], short=True)) if rows > 1
                else _(", cohort {period}").format(period=period_words(periods[0], short=True)))
        what = (f" {phase_name(pairs[0][0], phase_model)} → {phase_name(pairs[0][1], phase_model)}"
                if cols == 1 else "")
        title = (_("Cohort conversion") + what + window
                 + (" " + _("per transition") if cols > 1 else "") + span)
    title_in = text_width_pt(str(title), 12.5, "bold") / 72

    row_in = 0.36 if rows <= 40 else 0.22
    col_in = 1.75
    if ax is None:
        # wide enough for the title over the cells; the tick labels and colour bar take ~1.9 in
        col_in = max(col_in, (title_in - 0.8) / cols)
        ax = new_axes(None, (1.9 + col_in * cols, 1.7 + 0.5 + row_in * rows))
        text_in = col_in * cols + 0.8
    else:
        box = ax.get_position()
        # measured before the layout engine takes its margins: keep some slack
        fig = figure_of(ax)
        col_in = 0.85 * box.width * fig.get_figwidth() / cols
        row_in = box.height * fig.get_figheight() / max(rows, 1)
        text_in = box.width * fig.get_figwidth()
    cell_pt = row_in * 72
    two_lines = cell_pt >= 22  # room for the n under the rate
    with_text = cell_pt >= 9
    rate_fs = 9.0 if cell_pt >= 14 else 7.0
    subtitle = (_("Cell: share of the cohort that converted") + (_(", n below") if two_lines else "")
                + _("; grey hatched: immature (window not closed yet)")
                + (_("; *: part of the cohort still immature, only its mature records counted")
                   if any_partly else ""))
    # wrapped to the width the title has anyway, so it never widens the figure
    subtitle = "\n".join(wrap_pt(subtitle, max(text_in, title_in) * 72, 9.0))
    head_fs = 9.0 if col_in >= 1.2 else 7.5
    headers = []
    for a, b in pairs:
        width_pt = col_in * 72 - 8
        lines = (wrap_pt(phase_name(a, phase_model), width_pt, head_fs, "bold")
                 + wrap_pt(f"→ {phase_name(b, phase_model)}", width_pt, head_fs, "bold"))
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
    ax.set_yticklabels([period_words(periods[i], short=True) for i in shown_rows],
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
                text = pct_text(rate[i, j]) + ("*" if partly else "")
                # the two lines a fixed distance apart, however tall the cell
                ax.annotate(text, xy=(x, y), xytext=(0, 4.5 if two_lines else 0),
                            textcoords="offset points", ha="center", va="center",
                            fontsize=rate_fs, fontweight="bold", color=color)
                if two_lines:
                    ax.annotate(f"n={count_text(n[i, j])}", xy=(x, y), xytext=(0, -6.5),
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
    bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fig_fmt().percent(v, decimals)))
    bar.ax.tick_params(labelsize=8, length=0, colors=PALETTE["muted"], labelcolor=PALETTE["ink"])
    bar.ax.set_ylabel(_("conversion rate"), fontsize=8.5, color=PALETTE["muted"])
    draw_title(ax, title, subtitle, above=header_pt)
    return ax
