"""The KPI tree: how the top KPI breaks down into the KPIs of the steps."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import FancyBboxPatch

from toolkit.base.docstrings import shared_docs
from toolkit.base.exceptions import DataError
from toolkit.base.vocabulary import (
    STATUSES,
)
from toolkit.present.plotting.axes import darker, draw_title, new_axes
from toolkit.present.plotting.checks import check_ax, require_frame, styled
from toolkit.present.plotting.labels import fmt_value, is_missing_value, num, wrap_pt
from toolkit.present.plotting.style import PALETTE, figure_of, status_color
from toolkit.present.plotting.style import gettext as _

if TYPE_CHECKING:
    from matplotlib.typing import ColorType

__all__ = [
    "plot_kpi_tree",
]


def _node_words(label: object) -> str:
    """A KPI tree node's label in the figure's language when the toolkit named it (a label the
    engagement YAML gave is the client's own word and stays as written)."""
    text = str(label)
    start, end = "Entries into ", " per month"
    if text.startswith(start) and text.endswith(end):
        return _("Entries into {start} per month").format(start=text[len(start):-len(end)])
    return _(text)


@styled
@shared_docs
def plot_kpi_tree(data: pd.DataFrame, *, ax: Axes | None = None,
                  title: str | None = None) -> Axes:
    """The KPI tree, left to right: the management goal, then what drives it, down to the phases.

    Parameters
    ----------
    data : DataFrame with `node, parent, label, value, unit, target` (the KPI tree of step
        3); the root has no parent (None/NaN). Children are drawn in frame order. Optional
        `status_code` (e.g. the KPI table's) colours the box edge, and its sentence (`status`
        when the frame has it, else the vocabulary's) is written in the box.
    {shared.ax}
    {shared.title}
    {shared.language}

    Returns
    -------
    Axes (axis off) with one box per node (``FancyBboxPatch`` in ``ax.patches``) showing the
    label, the value and the target, connected by elbow lines.
    """
    name = "plot_kpi_tree"
    check_ax(ax, name)
    data = require_frame(data, ["node", "parent", "label", "value", "unit", "target"],
                    function=name, argument="data", producer="kpi_tree").reset_index(drop=True)
    nodes = data["node"].astype(str).tolist()
    if len(set(nodes)) != len(nodes):
        double = pd.Series(nodes)[pd.Series(nodes).duplicated()].iloc[0]
        raise DataError(f"{name}: node {double!r} appears more than once in `tree_frame`",
                        column="node", fix="give every node a unique name")
    parents = [None if is_missing_value(p) or str(p) == "" else str(p) for p in data["parent"]]
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
    fig_w = max(8.0, 3.1 * levels)
    if ax is None:
        col_in = 0.98 * fig_w / (levels - 0.05)
    else:
        col_in = ax.get_position().width * figure_of(ax).get_figwidth() / (levels - 0.05)
    text_pt = (box_w * col_in - 0.14) * 72
    has_status = "status_code" in data
    if has_status and "status" not in data:
        data["status"] = [STATUSES.get(code) for code in data["status_code"]]
    info = {nodes[i]: i for i in range(len(nodes))}
    contents: dict[str, list[tuple[str, float, str, ColorType]]] = {}
    for node in nodes:
        i = info[node]
        unit = data["unit"].iloc[i]
        status = data["status"].iloc[i] if has_status else None
        val = fmt_value(num(data.iloc[[i]], "value")[0], unit)
        tgt = num(data.iloc[[i]], "target")[0]
        lines: list[tuple[str, float, str, ColorType]] = [
            (t, 9.0, "bold", PALETTE["ink"])
            for t in wrap_pt(_node_words(data["label"].iloc[i]), text_pt, 9.0, "bold")[:2]]
        lines.append((val, 11.5, "bold", PALETTE["ink"] if has_status else PALETTE["primary"]))
        lines.append((_("target {value}").format(value=fmt_value(tgt, unit))
                      if np.isfinite(tgt) else _("no target"), 8.0, "normal", PALETTE["muted"]))
        if has_status and not is_missing_value(status):
            lines.extend((t, 8.0, "bold", darker(status_color(data["status_code"].iloc[i])))
                         for t in wrap_pt(str(status), text_pt, 8.0, "bold")[:2])
        contents[node] = lines
    content_in = max(sum(size * 1.3 / 72 for _, size, _, _ in lines) for lines in contents.values())
    box_in = content_in + 0.16
    if ax is None:
        row_in = max(0.82, box_in / 0.86)
        fig_h = max(3.0, leaves * row_in + 0.95)
        ax = new_axes(None, (fig_w, fig_h), drawing=True)
    fig = figure_of(ax)
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
        edge = status_color(code) if has_status and not is_missing_value(code) else PALETTE["primary"]
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
    draw_title(ax, title, _("Each box: value against target; read left to right from the management "
                        "goal to the phase conversions and volumes"))
    return ax
