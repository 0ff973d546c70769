"""The figures of steering: the control chart with its alerts and the scorecard."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle
from matplotlib.transforms import blended_transform_factory

from toolkit.base.docstrings import shared_docs
from toolkit.base.exceptions import DataError
from toolkit.base.vocabulary import (
    STATUS_ON_TARGET,
    STATUSES,
)
from toolkit.present.plotting.axes import (
    clean_axes,
    draw_title,
    legend_below,
    n_bars,
    new_axes,
    percent_axis,
    period_ticks,
    rate_limits,
    text_on,
)
from toolkit.present.plotting.checks import PRODUCERS, check_ax, require_frame, styled
from toolkit.present.plotting.labels import (
    count_text,
    fmt_range,
    fmt_value,
    is_missing_value,
    is_share_unit,
    num,
    pct_digits,
    pct_text,
    period_words,
    text_width_pt,
    wrap_pt,
)
from toolkit.present.plotting.style import PALETTE, fig_fmt, figure_of, status_color
from toolkit.present.plotting.style import gettext as _
from toolkit.present.tables import N_

__all__ = [
    "plot_control_chart",
    "plot_scorecard",
]


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


@styled
@shared_docs
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
    {shared.ax}
    {shared.title}
    {shared.language}

    Returns
    -------
    Axes with the limits as a step band, the center line, the rates (points outside the limits in
    vermillion) and n as faint bars in the bottom strip.
    """
    name = "plot_control_chart"
    check_ax(ax, name)
    data = require_frame(data, ["period", "n", "rate", "center", "lcl", "ucl"], function=name,
                    argument="data", producer="control_chart")
    if alerts is not None:
        alerts = require_frame(alerts, ["period", "rule"], function=name, argument="alerts",
                          producer="alerts") if len(getattr(alerts, "index", [])) else alerts
        if not isinstance(alerts, pd.DataFrame):
            raise DataError(f"{name}: `alerts` must be a pandas DataFrame, but a "
                            f"{type(alerts).__name__} was passed",
                            fix=f"pass the frame from {PRODUCERS['alerts']}")
    data = data.sort_values("period", kind="stable").reset_index(drop=True)
    labels = [str(p) for p in data["period"]]
    x = np.arange(len(data), dtype=float)
    rate, center = num(data, "rate"), num(data, "center")
    lcl, ucl, n = num(data, "lcl"), num(data, "ucl"), num(data, "n")
    ax = new_axes(ax, (10.5, 5.2))
    clean_axes(ax, grid="y")
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
    n_bars(ax, x, [(n, PALETTE["counts"])], share=0.18, label=_("n"))
    low_all = np.nanmin(np.r_[lcl, rate])
    high_all = np.nanmax(np.r_[ucl, rate])
    floor = rate_limits(ax, float(low_all), float(high_all), strip=0.18)
    # The top of the plot holds one track per rule that fired: a mark at every period it fired,
    # so many alerts never pile their labels onto the points.
    reserve = 0.05 + 0.05 * len(codes_used)
    bottom, top = ax.get_ylim()
    ax.set_ylim(bottom, bottom + (top - bottom) / (1 - reserve))
    percent_axis(ax, "y", floor=floor, ceiling=top)
    period_ticks(ax, labels)
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
    legend_below(ax, ncols=5)
    chart = str(data["chart"].iloc[0]) if "chart" in data else "p"
    sigma_z = float(pd.to_numeric(data["sigma_z"], errors="coerce").iloc[0]) if "sigma_z" in data \
        else float("nan")
    chart_name = (_("Laney p′ chart (σz = {sigma})").format(sigma=fig_fmt().number(sigma_z, 2))
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
    subtitle = (_("Center {center}; limits widen where n is small").format(center=pct_text(center[0]))
                + (_(". Alert tracks at the top: {codes}").format(codes=legend_codes)
                   if legend_codes else ""))
    draw_title(ax, title, subtitle)
    return ax


def _code_words(code: str) -> str:
    if code.startswith("R"):
        return _("{n} in a row on one side").format(n=code[1:])
    if code.startswith("T"):
        return _("{n} in a row rising or falling").format(n=code[1:])
    return code


_TREND_WORDS = {"improving", "worsening", "stable"}


@styled
@shared_docs
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
    {shared.ax}
    {shared.title}
    {shared.language}

    Returns
    -------
    Axes (axis off) with one row per KPI: the value and interval in words and as a small
    interval plot with the target as a black tick, a coloured status label (``ax.texts`` hold
    the words) and a trend arrow (↑ / ↓ coloured by whether it is good news, → stable).
    """
    name = "plot_scorecard"
    check_ax(ax, name)
    data = require_frame(data, ["kpi", "value", "ci_low", "ci_high", "target", "status",
                                      "status_code", "trend"], function=name, argument="data",
                    producer="scorecard").reset_index(drop=True)
    if kpis is not None:
        lookup = require_frame(kpis, ["kpi"], function=name, argument="kpis", producer="kpis")
        lookup = lookup.drop_duplicates("kpi").set_index("kpi")
        for column in ("label", "unit"):
            if column in lookup and column not in data:
                data = data.assign(**{column: data["kpi"].map(lookup[column]).to_numpy()})
    count = len(data)
    ax = new_axes(ax, (12.0, 1.25 + 0.5 * (count + 1)), drawing=True)
    ax.set_xlim(0, 1)
    ax.set_ylim(count + 0.2, -1.1)
    ax.axis("off")
    value, low, high = num(data, "value"), num(data, "ci_low"), num(data, "ci_high")
    target = num(data, "target")
    n = num(data, "n") if "n" in data else np.full(count, np.nan)
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
    axes_pt = ax.get_position().width * figure_of(ax).get_figwidth() * 72
    for i in range(count):
        y = i + 0.5
        if i % 2 == 1:
            ax.add_patch(Rectangle((0, i), 1, 1, color="#F6F7F9", lw=0, zorder=0))
        unit = data["unit"].iloc[i] if "unit" in data else None
        is_rate = is_share_unit(unit) or (is_missing_value(unit) and np.isfinite(n[i]))
        unit = "%" if is_rate else unit
        digits = pct_digits(value[i])
        if (is_rate and np.isfinite(target[i]) and value[i] != target[i]
                and pct_text(value[i], digits) == pct_text(target[i], digits)):
            digits += 1  # '50%' next to a 50% target that is missed would look like a contradiction
        fmt = (functools.partial(pct_text, digits=digits) if is_rate
               else functools.partial(fmt_value, unit=unit))
        label = (_kpi_words(data["label"].iloc[i])
                 if "label" in data and not is_missing_value(data["label"].iloc[i])
                 else data["kpi"].iloc[i])
        lines = wrap_pt(str(label), (columns["value"] - columns["kpi"] - 0.01) * axes_pt, 9.5)
        ax.text(columns["kpi"], y, "\n".join(lines[:2]), ha="left", va="center", fontsize=9.5,
                color=PALETTE["ink"], linespacing=1.1)
        value_text = fmt(value[i])
        ax.text(columns["value"], y, value_text, ha="left", va="center", fontsize=10.5,
                fontweight="bold", color=PALETTE["ink"])
        if np.isfinite(low[i]) and np.isfinite(high[i]):
            gap = (text_width_pt(value_text, 10.5, "bold") + 5) / axes_pt
            ax.text(columns["value"] + gap, y, fmt_range(low[i], high[i], unit, digits),
                    ha="left", va="center", fontsize=8.5, color=PALETTE["muted"])
        # the words from the code, in the figure's language (the library's prose is English)
        code = data["status_code"].iloc[i]
        status = _(STATUSES[code]) if code in STATUSES else str(data["status"].iloc[i])
        color = status_color(code)
        _interval_glyph(ax, columns["plot"], 0.13, y, value[i], low[i], high[i], target[i], color)
        ax.text(columns["target"], y, fmt(target[i]) if np.isfinite(target[i]) else "–",
                ha="right", va="center", fontsize=9.5, color=PALETTE["ink"])
        ax.text(columns["n"], y, count_text(n[i]) if np.isfinite(n[i]) else "–", ha="right",
                va="center", fontsize=9, color=PALETTE["muted"])
        status_lines = wrap_pt(status, (columns["trend"] - columns["status"] - 0.04) * axes_pt, 8.5)
        ax.text(columns["status"], y, "\n".join(status_lines[:2]), ha="left", va="center",
                fontsize=8.5, color=text_on(color), linespacing=1.05,
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
            title = _("Scorecard {period}: {kpis}").format(period=period_words(periods[0]),
                                                           kpis=kpis_on)
        elif len(periods):
            title = _("Scorecard (latest of {n} periods): {kpis}").format(n=len(periods),
                                                                          kpis=kpis_on)
        else:
            title = _("Scorecard: {kpis}").format(kpis=kpis_on)
    draw_title(ax, title, _("Status tests the shortfall against the target; bar: 95% interval, dot: "
                        "value, black tick: target; arrow: trend over recent periods"))
    return ax


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
