"""The layout every figure shares: a new Axes, titles, clean axes, percentage axes, legends,
period ticks, n-bars, the immature shading and colours readable on a fill."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, MaxNLocator
from matplotlib.transforms import blended_transform_factory

from toolkit.present.plotting.style import PALETTE, fig_fmt, figure_of
from toolkit.present.plotting.style import gettext as _


def new_axes(ax: Axes | None, figsize: tuple[float, float], *, drawing: bool = False) -> Axes:
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


def darker(color: Any, factor: float = 0.72) -> tuple[float, float, float]:
    """A darker shade of a status colour, readable as text on a light box."""
    r, g, b = mpl.colors.to_rgb(color)
    return (r * factor, g * factor, b * factor)


def _luminance(color: Any) -> float:
    r, g, b = mpl.colors.to_rgb(color)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def text_on(color: Any) -> str:
    return "white" if _luminance(color) < 0.55 else PALETTE["ink"]


def draw_title(ax: Axes, headline: str, subtitle: str | None = None, *, above: float = 0.0) -> None:
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


def clean_axes(ax: Axes, *, grid: Literal["x", "y", "both"] | None = "y") -> None:
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
        if self.axis is None:  # not set on an axis (yet): no view to place ticks in
            return []
        vmin, vmax = self.axis.get_view_interval()
        low = vmin if self.floor is None else max(vmin, self.floor)
        high = vmax if self.ceiling is None else min(vmax, self.ceiling)
        ticks = self.tick_values(low, high)
        return [t for t in ticks if low - 1e-12 <= t <= high + 1e-12]


def percent_axis(ax: Axes, axis: str = "y", *, floor: float | None = None,
                  ceiling: float | None = None) -> None:
    """Shares on `axis` as percentages; whole percents unless the visible range is narrow."""
    target = ax.yaxis if axis == "y" else ax.xaxis

    def fmt(value: float, pos: int | None = None) -> str:
        vmin, vmax = target.get_view_interval()
        low = vmin if floor is None else max(vmin, floor)
        decimals = 0 if (vmax - low) >= 0.06 else 1
        return fig_fmt().percent(value, decimals)

    target.set_major_locator(_FloorLocator(floor, ceiling))
    target.set_major_formatter(FuncFormatter(fmt))


def legend_below(ax: Axes, handles: Sequence[Artist] | None = None,
                  labels: Sequence[str] | None = None, *, ncols: int = 3) -> None:
    """The legend under the x axis, clear of the data, left-aligned with the plot: of the
    `handles` and their `labels` (given together), else of the artists drawn with a label."""
    if handles is None or labels is None:
        handles, labels = ax.get_legend_handles_labels()
    drop = 0.32 + (0.22 if ax.get_xlabel() else 0.0)
    anchor = ax.transAxes + mpl.transforms.ScaledTranslation(0, -drop, ax.figure.dpi_scale_trans)
    ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(0, 0), bbox_transform=anchor,
              ncols=ncols, fontsize=8.5, handlelength=1.8, columnspacing=1.6)


def period_ticks(ax: Axes, labels: Sequence[str]) -> None:
    """Category positions with as many period labels as fit without overlapping."""
    count = len(labels)
    width_pt = ax.get_position().width * figure_of(ax).get_figwidth() * 72
    longest = max((len(s) for s in labels), default=1)
    fits = max(1, int(width_pt / (longest * 9 * 0.6 + 10)))
    step = max(1, math.ceil(count / fits))
    positions = list(range(0, count, step))
    ax.set_xticks(positions)
    ax.set_xticklabels([labels[i] for i in positions])
    ax.set_xlim(-0.6, count - 0.4)


def n_bars(ax: Axes, x: np.ndarray, series: Sequence[tuple[np.ndarray, Any]], *,
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
    twin.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fig_fmt().number(v, 0)))
    twin.tick_params(axis="y", colors=PALETTE["muted"], labelcolor=PALETTE["muted"], labelsize=8,
                     length=0)
    twin.set_ylabel(label, color=PALETTE["muted"], fontsize=8.5)
    twin.yaxis.set_label_coords(1.035, share / 2)
    twin.grid(False)
    for side in ("top", "right", "left", "bottom"):
        twin.spines[side].set_visible(False)
    return twin


def shade_immature(ax: Axes, positions: np.ndarray) -> None:
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


def rate_limits(ax: Axes, low: float, high: float, *, strip: float) -> float:
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
