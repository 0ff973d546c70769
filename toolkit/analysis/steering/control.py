"""Control charts (p and Laney p') of a KPI over periods, and the run rules that flag a signal."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from toolkit.analysis.steering.checks import check_counts, check_unique, is_number, numeric, require_columns
from toolkit.base.exceptions import DataError, OptionError
from toolkit.base.vocabulary import (
    check_option,
)

CHART_TYPES = ("auto", "p", "laney")

#: sigma_z above which ``chart="auto"`` switches to the Laney p' chart (see :func:`control_chart`).
LANEY_THRESHOLD = 1.2

#: Fewest trials in a period for the scorecard to make a claim about a rate.

# d2 for moving ranges of two consecutive points: E|X1 - X2| = 1.128 sigma for normal data.
_D2 = 1.128

#: Rule names :func:`run_rules` understands; ``run_of_<k>`` and ``trend_of_<k>`` take any k.
RULES = (
    "beyond_limits",
    "run_of_8",
    "trend_of_6",
    "two_of_three_beyond_2sigma",
    "four_of_five_beyond_1sigma",
)

# Why these severities: a point beyond the limits is the strongest single signal; the zone rules
# need several points but are still specific; a run is a sustained shift worth acting on but
# builds up slowly; the trend rule adds many false alarms for little extra power (Davis &
# Woodall 1988, Journal of Quality Technology 20(4):260-262), so it only informs.
_SEVERITY = {
    "beyond_limits": "high",
    "two_of_three_beyond_2sigma": "medium",
    "four_of_five_beyond_1sigma": "medium",
    "run": "medium",
    "trend": "low",
}

# The status codes of a KPI where higher is better ("below target") and lower is better (neutral
# "off target"); their sentences are in the vocabulary.
SHORT_OF = {True: "below_target", False: "off_target"}


# Control charts

def control_chart(
    data: pd.DataFrame,
    *,
    successes: str = "successes",
    trials: str = "n",
    period_column: str = "period",
    chart: str = "auto",
    sigma: float = 3.0,
    baseline_periods: int | None = None,
) -> pd.DataFrame:
    """Control chart of a conversion rate per period: p chart or Laney p' chart.

    Parameters
    ----------
    data
        One row per period with the number of trials and successes, e.g. leads entering a phase
        and how many of them converted. Not modified.
    successes, trials, period_column
        Column names in ``data`` for the successes, the trials and the period label.
    chart
        ``"p"``, ``"laney"`` or ``"auto"`` (Laney when the data are over-dispersed, see Notes).
    sigma
        Distance of the control limits from the center line in standard deviations.
    baseline_periods
        Number of first periods (after sorting) used to compute the center line and sigma_z
        (Phase I); the later periods are judged against them (Phase II). Default: all periods.

    Returns
    -------
    DataFrame
        One row per period, sorted: ``period, n, successes, rate, center, lcl, ucl, z, chart,
        sigma_z, baseline``. ``z`` is the point's distance from the center line in units of the
        chart's own sigma, so ``|z| > sigma`` is exactly "outside the limits" on either chart and
        :func:`run_rules` works on both. ``sigma_z`` is Laney's dispersion factor (the same on every
        row) and ``baseline`` marks the Phase I periods.

    Notes
    -----
    With p̄ = Σ successes / Σ n over the baseline periods and σ_i = sqrt(p̄(1 - p̄)/n_i):

    - p chart: limits p̄ ± sigma·σ_i, clipped to [0, 1]; z_i = (p_i - p̄)/σ_i.
    - Laney p' chart (Laney 2002, *Improved control charts for attributes*, Quality Engineering
      14(4):531-537): standardise z_i = (p_i - p̄)/σ_i, estimate the between-period spread as
      σ_z = mean|z_i - z_(i-1)| / 1.128 (moving range over the baseline periods), and widen the
      limits to p̄ ± sigma·σ_i·σ_z. The chart's z is z_i/σ_z.

    ``chart="auto"`` picks Laney when σ_z > 1.2 (:data:`LANEY_THRESHOLD`), the p chart otherwise.
    Commercial volumes per month are often large enough that real month-to-month variation (the
    season, a campaign, one big account) dwarfs binomial noise; a plain p chart then flags almost
    every point (Laney 2002). σ_z near 1 means the binomial model fits and both charts
    coincide, so the p chart is kept; 1.2 leaves room for the sampling error of σ_z from a year of
    monthly points. Under-dispersion (σ_z < 1) does not switch to Laney automatically: in CRM data
    it more often points at an artefact (bulk updates, a quota) than at a steadier process, so the
    wider binomial limits are the cautious choice; pass ``chart="laney"`` to narrow them.

    When not to use: with fewer than about 10-12 baseline periods the limits (and σ_z above all)
    are themselves uncertain; with very small n per period (n·p̄ < 5) the normal limits are poor
    and a run chart is the better tool. Periods must be independent cohorts, not overlapping
    rolling windows.
    """
    require_columns(data, [period_column, trials, successes], argument="data")
    check_option("chart", chart, CHART_TYPES,
                 fix="use 'auto' unless you have a reason to force one chart")
    if not is_number(sigma) or sigma <= 0:
        raise OptionError(
            f"The value for `sigma` must be a positive number, but {sigma!r} was passed",
            fix="use 3 (the usual 3-sigma limits)")

    frame = data[[period_column, trials, successes]].rename(
        columns={period_column: "period", trials: "n", successes: "successes"})
    check_unique(frame, ["period"], argument="data")
    frame = frame.sort_values("period", kind="stable").reset_index(drop=True)
    frame["n"] = numeric(frame["n"], column=trials)
    frame["successes"] = numeric(frame["successes"], column=successes)
    check_counts(frame, n_column=trials, successes_column=successes)

    periods = len(frame)
    if periods == 0:
        raise DataError("the data has no rows; a control chart needs at least two periods",
                        fix="pass the rate per period for the KPI you want to chart")
    if baseline_periods is None:
        baseline = periods
    else:
        if (isinstance(baseline_periods, bool) or not isinstance(baseline_periods, int | np.integer)
                or not 1 <= baseline_periods <= periods):
            raise OptionError(
                f"The value for `baseline_periods` must be a whole number from 1 to {periods} (the "
                f"number of periods), but {baseline_periods!r} was passed",
                fix="pass how many of the first periods form the baseline, or None for all")
        baseline = int(baseline_periods)
    if chart == "laney" and baseline < 2:
        raise OptionError(
            "A Laney p' chart needs at least 2 baseline periods for its moving range, but "
            f"`baseline_periods` is {baseline}", fix="use more baseline periods or chart='p'")

    base = frame.iloc[:baseline]
    p_bar = float(base["successes"].sum() / base["n"].sum())
    if not 0.0 < p_bar < 1.0:
        raise DataError(
            f"the baseline periods hold no {'success' if p_bar == 0 else 'failure'}: a control "
            "chart needs at least one success and one failure in the baseline periods",
            column=successes,
            fix="chart a KPI that varies, or include more periods in the baseline")

    rate = frame["successes"] / frame["n"]
    sigma_i = np.sqrt(p_bar * (1.0 - p_bar) / frame["n"])
    z_raw = (rate - p_bar) / sigma_i
    sigma_z = (float(np.mean(np.abs(np.diff(z_raw.iloc[:baseline].to_numpy())))) / _D2
               if baseline >= 2 else float("nan"))

    if chart == "auto":
        chart = "laney" if (not math.isnan(sigma_z) and sigma_z > LANEY_THRESHOLD) else "p"
    scale = sigma_z if chart == "laney" else 1.0
    if chart == "laney" and sigma_z == 0:
        raise DataError(
            "every baseline period has the same standardised rate, so Laney's sigma_z is 0 and "
            "the limits would collapse onto the center line", column=successes,
            fix="use chart='p' or a longer baseline")

    for column in ("n", "successes"):
        if (frame[column] % 1 == 0).all():
            frame[column] = frame[column].astype("int64")
    frame["rate"] = rate
    frame["center"] = p_bar
    frame["lcl"] = np.clip(p_bar - sigma * sigma_i * scale, 0.0, 1.0)
    frame["ucl"] = np.clip(p_bar + sigma * sigma_i * scale, 0.0, 1.0)
    frame["z"] = z_raw / scale
    frame["chart"] = chart
    frame["sigma_z"] = sigma_z
    frame["baseline"] = np.arange(periods) < baseline
    return frame


# Run rules

def run_rules(
    chart_frame: pd.DataFrame,
    *,
    rules: Sequence[str] = ("beyond_limits", "run_of_8", "trend_of_6",
                            "two_of_three_beyond_2sigma"),
    limit: float = 3.0,
) -> pd.DataFrame:
    """Alerts from the Western Electric / Nelson run rules on a control chart.

    Parameters
    ----------
    chart_frame
        A frame from :func:`control_chart` (needs ``period, rate, center, z``). With a ``kpi``
        column the rules run per KPI, so charts of several KPIs can be stacked.
    rules
        Which rules to apply (see Notes). ``run_of_<k>`` and ``trend_of_<k>`` take any length,
        e.g. ``"run_of_9"`` for Minitab's default.
    limit
        Where the control limits are, in standard deviations: use the ``sigma`` you gave
        :func:`control_chart`.

    Returns
    -------
    DataFrame
        One row per (period, rule) that fired: ``[kpi,] period, rule, description, rate, center,
        z, direction, severity``; ``direction`` is ``'up'`` or ``'down'``, ``severity`` is
        ``'high'``, ``'medium'`` or ``'low'``. Empty (with these columns) when nothing fired.

    Notes
    -----
    All rules use the standardised ``z``, so they mean the same on a p chart and a Laney chart,
    also when n varies per period (Western Electric 1956, *Statistical Quality Control
    Handbook*; Nelson 1984, Journal of Quality Technology 16(4):237-239):

    - ``beyond_limits``: |z| > limit (one point outside the control limits).
    - ``run_of_<k>`` (default 8): k consecutive points on the same side of the center line; a
      point exactly on the center line breaks the run.
    - ``trend_of_<k>`` (default 6): k consecutive points each strictly higher (or lower) than the
      one before; ties break the trend. Judged on z, which with unequal n can differ from the
      plotted rates.
    - ``two_of_three_beyond_2sigma``: the point is beyond 2 sigma and so is at least one of the
      two before it, on the same side.
    - ``four_of_five_beyond_1sigma``: the point is beyond 1 sigma and so are at least 3 of the 4
      before it, on the same side.

    At the start of the chart the zone rules count the points there are (2 of the first 2
    beyond 2 sigma fires). Requiring the reported point itself to be beyond the zone keeps an
    alert from landing on an unremarkable point after the pattern.

    A pattern is reported at the point that completes it and again at every point that extends
    it (a run of 10 fires ``run_of_8`` at points 8, 9 and 10). Missing z breaks every pattern.
    Each added rule raises the false-alarm rate of an in-control chart: the limits alone give one
    false alarm per about 370 points, the four Western Electric zone rules together one per about
    92 (Champ & Woodall 1987, Technometrics 29(4):393-399). On a monthly chart that is still rare,
    but do not switch on every rule and act on a single low-severity alert.
    """
    require_columns(chart_frame, ["period", "rate", "center", "z"], argument="chart_frame")
    if not is_number(limit) or limit <= 0:
        raise OptionError(
            f"The value for `limit` must be a positive number, but {limit!r} was passed",
            fix="use the same `sigma` as in control_chart, usually 3")
    if isinstance(rules, str):
        rules = (rules,)
    parsed = [_parse_rule(rule) for rule in rules]

    has_kpi = "kpi" in chart_frame.columns
    columns = (["kpi"] if has_kpi else []) + [
        "period", "rule", "description", "rate", "center", "z", "direction", "severity"]
    groups = (chart_frame.groupby("kpi", sort=False, dropna=False) if has_kpi
              else [(None, chart_frame)])
    rows: list[dict[str, Any]] = []
    for kpi, group in groups:
        group = group.sort_values("period", kind="stable").reset_index(drop=True)
        z = pd.to_numeric(group["z"], errors="coerce").to_numpy(dtype=float)
        for order, (name, kind, length) in enumerate(parsed):
            fired, direction = _apply_rule(z, kind, length, limit)
            for i in np.flatnonzero(fired):
                row = {
                    "period": group["period"].iloc[i],
                    "rule": name,
                    "description": _describe(kind, length, limit, direction[i]),
                    "rate": group["rate"].iloc[i],
                    "center": group["center"].iloc[i],
                    "z": z[i],
                    "direction": direction[i],
                    "severity": _SEVERITY[kind],
                    "_order": order,
                    "_position": i,
                }
                if has_kpi:
                    row["kpi"] = kpi
                rows.append(row)
    if not rows:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in columns})
    alerts = pd.DataFrame(rows)
    sort_by = (["kpi"] if has_kpi else []) + ["_position", "_order"]
    alerts = alerts.sort_values(sort_by, kind="stable").reset_index(drop=True)
    return alerts[columns]


def _parse_rule(rule: str) -> tuple[str, str, int]:
    """Rule name -> (name, kind, length)."""
    fixed = {
        "beyond_limits": ("beyond_limits", 1),
        "two_of_three_beyond_2sigma": ("two_of_three_beyond_2sigma", 3),
        "four_of_five_beyond_1sigma": ("four_of_five_beyond_1sigma", 5),
    }
    if isinstance(rule, str):
        if rule in fixed:
            kind, length = fixed[rule]
            return rule, kind, length
        match = re.fullmatch(r"(run|trend)_of_(\d+)", rule)
        if match:
            kind, length = match.group(1), int(match.group(2))
            smallest = 2 if kind == "run" else 3
            if length < smallest:
                raise OptionError(
                    f"The rule {rule!r} is too short: `{kind}_of_<k>` needs k >= {smallest}",
                    fix=f"use e.g. '{kind}_of_{8 if kind == 'run' else 6}'")
            return rule, kind, length
    raise OptionError(
        f"The value for `rules` must hold names from {list(RULES)} (any length in run_of_<k> and "
        f"trend_of_<k>), but {rule!r} was passed",
        fix="check the spelling, e.g. 'run_of_8'")


def _apply_rule(z: np.ndarray, kind: str, length: int, limit: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """Where the rule fires and in which direction (object array of 'up'/'down')."""
    size = len(z)
    fired = np.zeros(size, dtype=bool)
    direction = np.full(size, None, dtype=object)
    if kind == "beyond_limits":
        up, down = z > limit, z < -limit
        direction[up] = "up"
        direction[down] = "down"
        return up | down, direction
    if kind in ("run", "trend"):
        if kind == "run":
            step = np.sign(z)  # NaN stays NaN and breaks the run
        else:
            step = np.concatenate([[np.nan], np.sign(np.diff(z))])
        needed = length if kind == "run" else length - 1
        count, previous = 0, 0.0
        for i, s in enumerate(step):
            if np.isnan(s) or s == 0:
                count, previous = 0, 0.0
                continue
            count = count + 1 if s == previous else 1
            previous = s
            if count >= needed:
                fired[i] = True
                direction[i] = "up" if s > 0 else "down"
        return fired, direction
    window, needed, zone = (3, 2, 2.0) if kind == "two_of_three_beyond_2sigma" else (5, 4, 1.0)
    for i in range(size):
        # at the start of the chart a shorter window counts: 2 of the first 2 is 2 of 3
        chunk = z[max(0, i - window + 1):i + 1]
        if np.isnan(chunk).any():
            continue
        if z[i] > zone and (chunk > zone).sum() >= needed:
            fired[i], direction[i] = True, "up"
        elif z[i] < -zone and (chunk < -zone).sum() >= needed:
            fired[i], direction[i] = True, "down"
    return fired, direction


def _describe(kind: str, length: int, limit: float, direction: str) -> str:
    side = "above" if direction == "up" else "below"
    if kind == "beyond_limits":
        bound = "upper" if direction == "up" else "lower"
        return f"point beyond the {bound} control limit ({limit:g} sigma)"
    if kind == "run":
        return f"{length} or more points in a row {side} the center line"
    if kind == "trend":
        way = "increasing" if direction == "up" else "decreasing"
        return f"{length} or more points in a row steadily {way}"
    if kind == "two_of_three_beyond_2sigma":
        return f"2 of 3 points more than 2 sigma {side} the center line"
    return f"4 of 5 points more than 1 sigma {side} the center line"


