"""Time in the funnel: seasonality (volume and conversion per month) and the time to convert
(Kaplan-Meier or cumulative incidence, with the numbers at risk)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from toolkit.base.docstrings import shared_docs
from toolkit.base.exceptions import DataError, OptionError
from toolkit.present.plotting.axes import (
    clean_axes,
    draw_title,
    legend_below,
    n_bars,
    new_axes,
    percent_axis,
    period_ticks,
    shade_immature,
)
from toolkit.present.plotting.checks import PRODUCERS, check_ax, require_frame, styled
from toolkit.present.plotting.labels import count_text, num, pct_text
from toolkit.present.plotting.style import PALETTE, SERIES_COLORS, fig_fmt, figure_of
from toolkit.present.plotting.style import gettext as _
from toolkit.present.tables import N_

if TYPE_CHECKING:
    from matplotlib.typing import LineStyleType

__all__ = [
    "AxesPair",
    "plot_seasonality",
    "plot_time_to_convert",
]


class AxesPair(tuple[Axes, Axes]):
    """The two panels of a two-panel plot (:func:`plot_seasonality`), as that plot returns them:
    a pair of Axes ``(volume, rate)`` like every plot returns its Axes, with the `figure` they
    sit on."""

    __slots__ = ()

    def __new__(cls, volume: Axes, rate: Axes) -> AxesPair:
        return super().__new__(cls, (volume, rate))

    @property
    def volume(self) -> Axes:
        """The top panel: the volume bars."""
        return self[0]

    @property
    def rate(self) -> Axes:
        """The bottom panel: the rates with their band and the cohort sizes."""
        return self[1]

    @property
    def figure(self) -> Figure:
        """The Figure both panels sit on."""
        return figure_of(self[0])


@styled
@shared_docs
def plot_seasonality(data: pd.DataFrame, *, ax: Sequence[Axes] | None = None,
                     volume_label: str = N_("records entering"), title: str | None = None
                     ) -> AxesPair:
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
    {shared.title}
    {shared.language}

    Returns
    -------
    AxesPair, the two Axes drawn on: ``.volume`` (the volume bars) and ``.rate`` (the rates with
    their band and the cohort sizes n as faint bars); ``.figure`` is the Figure they sit on.

    Notes
    -----
    The method steers on percentages because absolute numbers move with the seasons: this figure
    shows both on one time axis so the reader can see whether the rate moves with the volume.
    The rate axis starts at zero on purpose, so a stable rate looks stable.
    """
    name = "plot_seasonality"
    data = require_frame(data, ["period", "volume", "n", "successes", "rate", "ci_low", "ci_high"],
                    function=name, argument="data", producer="seasonality")
    if ax is None:
        fig, (ax_v, ax_r) = plt.subplots(2, 1, figsize=(10.5, 6.6), sharex=True, layout="constrained",
                                         gridspec_kw={"height_ratios": [1, 1.35]})
        del fig
    else:
        pair = list(np.ravel(np.asarray(ax, dtype=object))) if isinstance(
            ax, Sequence | np.ndarray) else []
        if len(pair) != 2 or not all(isinstance(a, Axes) for a in pair):
            raise TypeError(f"{name}: the value for `ax` must be None or a pair of Axes (volume, "
                            f"rate), but {type(ax).__name__} was passed.")
        ax_v, ax_r = pair
    data = data.sort_values("period", kind="stable").reset_index(drop=True)
    labels = [str(p) for p in data["period"]]
    x = np.arange(len(data), dtype=float)
    volume = num(data, "volume")
    rate, low, high, n = (num(data, c) for c in ("rate", "ci_low", "ci_high", "n"))
    clean_axes(ax_v, grid="y")
    ax_v.bar(x, np.where(np.isfinite(volume), volume, 0), width=0.75, color=PALETTE["light"],
             linewidth=0, label=_(volume_label))
    ax_v.set_ylabel(_(volume_label))
    ax_v.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fig_fmt().number(v, 0)))
    ax_v.set_ylim(0, max(float(np.nanmax(volume)) if np.isfinite(volume).any() else 1, 1) * 1.12)
    clean_axes(ax_r, grid="y")
    shown = np.isfinite(rate) & (n > 0)
    ax_r.fill_between(x[shown], low[shown], high[shown], color=PALETTE["band"], alpha=0.16, lw=0,
                      label=_("95% interval"))
    ax_r.plot(x[shown], rate[shown], color=PALETTE["primary"], lw=1.8, marker="o", ms=4.5,
              label=_("conversion rate"))
    shade_immature(ax_r, np.flatnonzero(~(n > 0)))
    share = 0.18
    n_bars(ax_r, x, [(n, PALETTE["counts"])], share=share, label=_("n"))
    top = float(np.nanmax(high[shown])) if shown.any() else 1.0
    # the bars' strip ends just below 0%: bottom + share * (1.15 top - bottom) = -0.03 top
    ax_r.set_ylim(-(0.03 + 1.15 * share) / (1 - share) * top, top * 1.15)
    percent_axis(ax_r, "y", floor=0.0)
    ax_r.set_ylabel(_("conversion rate"))
    plt.setp(ax_v.get_xticklabels(), visible=False)
    period_ticks(ax_r, labels)
    legend_below(ax_r, ncols=2)
    ax_v.set_xlim(ax_r.get_xlim())
    if title is None:
        vol = volume[np.isfinite(volume)]
        title = (_("Volume swings from {low} to {high} a month; conversion ranges "
                   "{rate_low}-{rate_high}").format(
                       low=count_text(vol.min()), high=count_text(vol.max()),
                       rate_low=pct_text(np.nanmin(rate[shown])), rate_high=pct_text(np.nanmax(rate[shown])))
                 if vol.size and shown.any() else _("Volume and conversion per month"))
    draw_title(ax_v, title, _("Top: volume per month. Bottom: conversion of each month's entrants "
                          "with 95% interval; faint bars: n"))
    return AxesPair(ax_v, ax_r)


@styled
@shared_docs
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
    {shared.ax}
    xlabel : str
        The x axis's label (translated into the figure's language); default "days since
        entering the phase".
    {shared.title}
    {shared.language}

    Returns
    -------
    Axes with one step line per curve (``ax.lines``), the 95% bands and the number at risk
    printed along the top of the plot.
    """
    name = "plot_time_to_convert"
    check_ax(ax, name)
    if hasattr(data, "survival_") and isinstance(data.survival_, pd.DataFrame):
        data = data.survival_
    if isinstance(data, pd.DataFrame) and "cif" in data.columns:
        kind = "cif"
        frame = require_frame(data, ["time", "outcome", "cif", "ci_low", "ci_high", "at_risk"],
                         function=name, argument="data", producer="cif")
    else:
        kind = "km"
        if isinstance(data, pd.DataFrame) and "survival" not in data.columns:
            raise DataError(
                f"{name}: `data` lacks the column 'survival' (Kaplan-Meier) or 'cif' (cumulative "
                f"incidence); it has {[str(c) for c in data.columns]}",
                fix=f"pass {PRODUCERS['km']} or the frame from {PRODUCERS['cif']}")
        frame = require_frame(data, ["time", "at_risk", "events", "survival", "ci_low", "ci_high"],
                         function=name, argument="data", producer="km")
    if hue is not None and hue not in frame.columns:
        raise OptionError(f"{name}: the value for `hue` must be a column of `data`, but {hue!r} "
                          f"was passed; columns are {[str(c) for c in frame.columns]}",
                          fix="stack the segments' frames with a segment column and name it here")
    ax = new_axes(ax, (10.0, 5.4))
    clean_axes(ax, grid="both")
    groups = list(dict.fromkeys(frame[hue].astype(str))) if hue else ["all"]
    styles: list[LineStyleType] = ["-", (0, (5, 2.5)), ":", "-."]
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
            t = num(curve, "time")
            if kind == "km":
                y = 1 - num(curve, "survival")
                low, high = 1 - num(curve, "ci_high"), 1 - num(curve, "ci_low")
            else:
                y, low, high = num(curve, "cif"), num(curve, "ci_low"), num(curve, "ci_high")
            keep = np.isfinite(t) & np.isfinite(y)
            t, y, low, high = t[keep], y[keep], low[keep], high[keep]
            t = np.r_[0.0, t]
            y, low, high = np.r_[0.0, y], np.r_[0.0, low], np.r_[0.0, high]
            if kind == "cif" and hue is None:
                color = PALETTE.get(outcome, SERIES_COLORS[o_index % len(SERIES_COLORS)])
                style: LineStyleType = "-"
            else:
                color = SERIES_COLORS[g_index % len(SERIES_COLORS)] if hue else PALETTE["primary"]
                style = styles[o_index % len(styles)]
            first_risk = num(curve, "at_risk")[0] if len(curve) else np.nan
            if kind == "km":
                label = (f"{group} (n={count_text(first_risk)})" if hue else
                         f"share converted (n={count_text(first_risk)})")
            else:
                label = f"{group}: {_(str(outcome))}" if hue else _(str(outcome))
            ax.step(t, y, where="post", color=color, lw=2.0, ls=style, label=label)
            band = np.isfinite(low) & np.isfinite(high)
            ax.fill_between(t, np.where(band, low, y), np.where(band, high, y), step="post",
                            color=color, alpha=0.08 if hue else 0.14, lw=0)
            if kind == "km":
                risk = num(curve, "at_risk")[keep]
                events = num(curve, "events")[keep]
                after = np.r_[risk[1:], 0.0]
                censored = (risk - events - after) > 0
                dense = censored.sum() > 40  # hundreds of ticks would hide the curve
                ax.plot(t[1:][censored], y[1:][censored], ls="none", marker="|",
                        ms=5 if dense else 8, mew=0.8 if dense else 1.2, alpha=0.6 if dense else 1,
                        color=color, label="_censored")
            ends.append((float(t[-1]), float(y[-1]),
                         f"{pct_text(y[-1])} {_(str(outcome or 'converted'))}", color))
    if kind == "km":
        ax.plot([], [], ls="none", marker="|", ms=8, mew=1.2, color=PALETTE["muted"],
                label=_("censored (still open, or lost)"))
    top = max((e[1] for e in ends), default=1.0)
    for t_end, y_end, text, color in ends:
        if len(ends) <= 4:
            ax.annotate(text, xy=(t_end, y_end), xytext=(6, 0), textcoords="offset points",
                        ha="left", va="center", fontsize=9, color=color, fontweight="bold")
    # at least a day wide: when every event happened on day 0 the axis would have no width
    t_max = max(float(np.nanmax(num(frame, "time"))) if len(frame) else 1.0, 1.0)
    ax.set_xlim(0, t_max * (1.16 if len(ends) <= 4 else 1.02))
    ax.set_ylim(0, min(1.0, max(top * 1.25, 0.05)))
    percent_axis(ax, "y")
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
    draw_title(ax, title, subtitle)
    return ax


def _at_risk_row(ax: Axes, frame: pd.DataFrame, kind: str, xlabel: str) -> None:
    """A row of 'at risk' counts under the x axis, read off the frame at about six event times
    (exact counts at those times, not interpolated), with the axis label below it."""
    if kind == "cif":
        frame = frame[frame["outcome"].astype(str) == str(frame["outcome"].iloc[0])]
    times, risk = num(frame, "time"), num(frame, "at_risk")
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
    row.set_xticklabels([count_text(risk[i]) for i in picked])
    ax.annotate(_("at risk"), xy=(0, 0), xycoords="axes fraction", xytext=(-18, -20),
                textcoords="offset points", ha="right", va="top", fontsize=7.5,
                color=PALETTE["muted"], fontstyle="italic", annotation_clip=False)
