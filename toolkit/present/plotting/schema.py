"""The process schema: the phase model as boxes and arrows, with the KPIs of each step."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import FancyBboxPatch

from toolkit.base.docstrings import shared_docs
from toolkit.base.exceptions import DataError, OptionError
from toolkit.base.phases import PhaseModel
from toolkit.present.plotting.axes import draw_title, text_on
from toolkit.present.plotting.checks import check_ax, require_frame, styled
from toolkit.present.plotting.labels import (
    count_text,
    fmt_value,
    is_missing_value,
    is_share_unit,
    pct_digits,
    pct_text,
    phase_name,
    text_width_pt,
    wrap_pt,
)
from toolkit.present.plotting.style import PALETTE, fig_fmt, figure_of, phase_palette
from toolkit.present.plotting.style import gettext as _

__all__ = [
    "plot_process_schema",
]


def _schema_arrows(phase_model: PhaseModel, kpis: pd.DataFrame | None,
                   funnel_frame: pd.DataFrame | None) -> list[dict[str, Any]]:
    name = "plot_process_schema"
    if kpis is not None and funnel_frame is not None:
        raise OptionError(f"{name}: pass either `kpis` or `funnel_frame`, not both",
                          fix="use funnel_frame for the raw funnel, kpis for the agreed KPI values")
    rows: list[dict[str, Any]] = []
    if funnel_frame is not None:
        frame = require_frame(funnel_frame, ["phase", "from_phase", "n", "rate", "ci_low", "ci_high"],
                         function=name, argument="funnel_frame", producer="funnel")
        frame = frame[frame["from_phase"].notna()]
        for _index, r in frame.iterrows():
            rows.append({"from": str(r["from_phase"]), "to": str(r["phase"]), "value": r["rate"],
                         "low": r["ci_low"], "high": r["ci_high"], "n": r["n"], "unit": "%"})
    elif kpis is not None:
        frame = require_frame(kpis, ["from_phase", "to_phase", "value"], function=name,
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
    if is_missing_value(unit) or is_share_unit(unit):
        d = pct_digits(row["value"])
        value = pct_text(row["value"], d)
        ci = (f"({fig_fmt().range(row['low'], row['high'], 'percent', decimals=d)})"
              if np.isfinite(row["low"]) and np.isfinite(row["high"]) else "")
    else:
        value = fmt_value(row["value"], unit)
        ci = (f"({fmt_value(row['low'], unit)}-{fmt_value(row['high'], unit)})"
              if np.isfinite(row["low"]) and np.isfinite(row["high"]) else "")
    detail = "\n".join(x for x in (ci, f"n={count_text(row['n'])}" if np.isfinite(row["n"]) else "") if x)
    return value, detail


@styled
@shared_docs
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
    {shared.ax}
    {shared.title}
    {shared.language}

    Returns
    -------
    Axes with the axis switched off. Long labels are wrapped to the column width.

    Notes
    -----
    A given Axes should be about 2 inches wide per phase.
    """
    name = "plot_process_schema"
    check_ax(ax, name)
    if not isinstance(phase_model, PhaseModel):
        raise TypeError(f"{name}: the value for `phase_model` must be a PhaseModel (e.g. "
                        f"engagement.phase_model), but a {type(phase_model).__name__} was passed.")
    arrows = _schema_arrows(phase_model, kpis, funnel_frame)
    keys = phase_model.keys
    phases = phase_model.phases
    count = len(phases)
    adjacent = [a for a in arrows if keys.index(a["to"]) - keys.index(a["from"]) == 1]
    spans = sorted([a for a in arrows if keys.index(a["to"]) - keys.index(a["from"]) > 1],
                   key=lambda a: keys.index(a["to"]) - keys.index(a["from"]))

    created = ax is None
    if ax is None:
        fig = plt.figure(figsize=(min(20.0, max(9.0, 2.6 * count)), 6.0))
        ax = fig.add_axes((0.015, 0.02, 0.97, 0.86))
    fig = figure_of(ax)
    ax_w_in = ax.get_position().width * fig.get_figwidth()
    col_in = ax_w_in / count
    box_w = 0.72
    body_fs, head_fs, label_fs = 8.5, 7.5, 10.5
    line_in = body_fs * 1.45 / 72

    text_pt = (box_w * col_in - 0.15) * 72

    headers = [wrap_pt(p.label, text_pt, label_fs, "bold") for p in phases]
    sections: list[tuple[str, list[list[str]]]] = [
        (_("ROLES"), [_bullets(p.functions, text_pt, body_fs) for p in phases])]
    if show_tasks:
        sections.append((_("TASKS"), [_bullets(p.tasks, text_pt, body_fs) for p in phases]))
    sections.append((_("ACTIONS"), [_bullets(p.actions, text_pt, body_fs) for p in phases]))
    sections.append((_("OUTPUT"), [wrap_pt(p.output, text_pt, body_fs) for p in phases]))

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
                fontsize=head_fs, fontweight="bold", color=text_on(colors[i]), alpha=0.8, zorder=3)
        for j, line in enumerate(lines):
            ax.text(i + 0.5, first + 1.1 + (j + 0.5) * label_step, line, ha="center", va="center",
                    fontsize=label_fs, fontweight="bold", color=text_on(colors[i]), zorder=3)
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
        text = (f"{phase_name(row['from'], phase_model)} → {phase_name(row['to'], phase_model)}:"
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
    draw_title(ax, title, subtitle)
    return ax


def _bullets(items: Sequence[str], width_pt: float, fontsize: float) -> list[str]:
    """One bullet per item, continuation lines indented under the text."""
    out: list[str] = []
    indent = text_width_pt("• ", fontsize)
    for item in items:
        lines = wrap_pt(item, width_pt - indent, fontsize)
        out.extend(("• " if j == 0 else "   ") + line for j, line in enumerate(lines))
    return out
