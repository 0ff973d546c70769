"""Steering on the KPIs after the engagement: control charts, alerts, the scorecard and the report.

Step 7 of the method (*Sturen en borgen*): management looks at the KPIs every period and must tell
a real change from noise. This module turns the tidy KPI frame into

- :func:`control_chart`: a p chart or Laney p' chart of a conversion rate per period;
- :func:`run_rules`: the Western Electric / Nelson rules on that chart, as a tidy alert table;
- :func:`scorecard`: one row per KPI with its status against target, taking uncertainty into
  account, and its recent trend;
- :func:`period_report`: what changed this period, the alerts that fired and plain-language
  headline sentences.

Parameters used throughout
--------------------------
kpis
    The tidy KPI frame from ``compute_kpis``: one row per KPI per period with columns ``kpi,
    period, n, successes, value, ci_low, ci_high, target, higher_is_better``. ``period`` must be
    sortable. Rates carry ``n`` and ``successes``; other KPIs (durations, values) have missing
    ``n``/``successes`` and carry their uncertainty in ``ci_low``/``ci_high``.
alpha
    Significance level for every test in this module (default 0.05).
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from toolkit.analysis.diagnosis import bottleneck_sizing
from toolkit.base.drawing import draw
from toolkit.base.exceptions import ConfigError, DataError, OptionError, ToolkitError
from toolkit.base.findings import Finding
from toolkit.base.vocabulary import (
    MIN_N,
    STATUS_ON_TARGET,
    STATUS_SIGNIFICANT,
    STATUS_UNJUDGED,
    STATUSES,
    Reason,
    check_option,
    check_seed,
    reason_of,
    status_codes,
)
from toolkit.measure.kpis import compute_kpis, default_kpis, kpis_from_config

__all__ = [
    "control_chart",
    "run_rules",
    "scorecard",
    "period_report",
    "PeriodReport",
    "CHART_TYPES",
    "RULES",
    "LANEY_THRESHOLD",
    "monthly_kpis",
    "steering_view",
    "SteeringView",
]

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
_SHORT_OF = {True: "below_target", False: "off_target"}


# --------------------------------------------------------------------------------------------
# Control charts
# --------------------------------------------------------------------------------------------

def control_chart(
    data: pd.DataFrame,
    *,
    successes: str = "successes",
    n: str = "n",
    period: str = "period",
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
    successes, n, period
        Column names in ``data`` for the successes, the trials and the period.
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
    _require_columns(data, [period, n, successes], argument="data")
    check_option("chart", chart, CHART_TYPES,
                 fix="use 'auto' unless you have a reason to force one chart")
    if not _is_number(sigma) or sigma <= 0:
        raise OptionError(
            f"The value for `sigma` must be a positive number, but {sigma!r} was passed",
            fix="use 3 (the usual 3-sigma limits)")

    frame = data[[period, n, successes]].rename(
        columns={period: "period", n: "n", successes: "successes"})
    _check_unique(frame, ["period"], argument="data")
    frame = frame.sort_values("period", kind="stable").reset_index(drop=True)
    frame["n"] = _numeric(frame["n"], column=n)
    frame["successes"] = _numeric(frame["successes"], column=successes)
    _check_counts(frame, n_column=n, successes_column=successes)

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
        raise ConfigError(
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


# --------------------------------------------------------------------------------------------
# Run rules
# --------------------------------------------------------------------------------------------

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
    _require_columns(chart_frame, ["period", "rate", "center", "z"], argument="chart_frame")
    if not _is_number(limit) or limit <= 0:
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
                raise ConfigError(
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


# --------------------------------------------------------------------------------------------
# Scorecard
# --------------------------------------------------------------------------------------------

def scorecard(
    kpis: pd.DataFrame,
    *,
    higher_is_better: bool | Mapping[str, bool] | None = None,
    alpha: float = 0.05,
    period_label: Any = None,
    min_n: int = MIN_N,
    trend_periods: int = 6,
) -> pd.DataFrame:
    """One row per KPI: its value in the latest period against target, with honest status.

    Parameters
    ----------
    kpis
        The tidy KPI frame (see the module docstring). Not modified.
    higher_is_better
        ``None`` reads the ``higher_is_better`` column; ``True``/``False`` applies to every KPI;
        a mapping ``{kpi: bool}`` overrides the column for the KPIs it names.
    alpha
        Significance level for the status and the trend.
    period_label
        The label of the period to report (a value of the ``period`` column, e.g. ``"2025-03"``);
        default each KPI's latest judgeable period. KPIs without a row for it are left out.
    min_n
        Fewest trials (``n``) in the period for a KPI to get a claim; below it the status says
        ``"(too few records to conclude)"`` instead of judging. KPIs without ``n`` are exempt.
    trend_periods
        How many periods up to and including the reported one the trend looks at.

    Returns
    -------
    DataFrame
        ``kpi, period, value, ci_low, ci_high, n, target, status, status_code, trend,
        previous_value, change, p_value, trend_p_value, higher_is_better, note``, in the order the
        KPIs first appear. ``status`` is the sentence, ``status_code`` its categorical code
        (``toolkit.base.vocabulary.STATUSES``): compare the code, never the sentence.

    Notes
    -----
    Status, for a KPI where higher is better (mirror for lower is better, in neutral words:
    ``on target``, ``off target, not significant``, ``significantly off target``):

    - ``on target``: the value meets the target (value >= target);
    - ``below target, not significant``: the value misses the target but the data are
      compatible with it;
    - ``significantly below target``: the data show the KPI really is below target;
    - ``no target`` when the KPI has none, ``no data`` when the period has no value.

    For a rate with ``n`` and ``successes``, "significant" is a one-sided exact binomial test of
    H0: rate = target against H1: rate is on the wrong side (``scipy.stats.binomtest``), p <
    alpha; ``p_value`` holds its p-value (also when the value meets the target, where it is large).
    For other KPIs it is whether the whole interval [ci_low, ci_high] lies on the wrong side of
    the target; without an interval the status says ``significance unknown``. With fewer than
    ``min_n`` trials the status is e.g. ``below target (too few records to conclude)``.

    Judgeable periods: with ``period_label=None`` each KPI is reported for its latest period that is
    mature (no record still inside its window, ``immature_n`` 0 or absent) and holds at least
    ``min_n`` trials (rates); a later period that is not judgeable is named in ``note`` with the
    reason, never judged (a month of one deal says nothing).

    Trend over the last ``trend_periods`` periods (at least 3): for rates the chi-square test for
    trend in proportions (Cochran-Armitage, scores 0, 1, 2, ...; as R's ``prop.trend.test``), for
    other KPIs the slope of a least-squares line through the values; p < alpha gives
    ``improving``/``worsening`` (by ``higher_is_better``), otherwise ``stable``; fewer than 3
    periods give ``too few periods``. A trend test on six points has little power: ``stable``
    means "no evidence of a trend", not "proven flat".
    """
    frame = _prepare_kpis(kpis, higher_is_better=higher_is_better, argument="kpis")
    _check_alpha(alpha)
    if isinstance(min_n, bool) or not isinstance(min_n, int | np.integer) or min_n < 0:
        raise OptionError(
            f"The value for `min_n` must be a whole number >= 0, but {min_n!r} was passed",
            fix=f"use {MIN_N}")
    if (isinstance(trend_periods, bool) or not isinstance(trend_periods, int | np.integer)
            or trend_periods < 3):
        raise OptionError(
            f"The value for `trend_periods` must be a whole number >= 3, but {trend_periods!r} "
            "was passed", fix="use 6")

    if period_label is not None and not (frame["period"] == period_label).any():
        raise OptionError(
            f"The value for `period_label` must be one of the periods in `kpis`, but {period_label!r} was "
            "passed", fix=f"use e.g. {frame['period'].max()!r} (the latest), or None")
    rows = []
    for kpi, history in frame.groupby("kpi", sort=False):
        history = history.sort_values("period", kind="stable").reset_index(drop=True)
        note = ""
        if period_label is None:
            position = len(history) - 1
            ok = np.flatnonzero(_judgeable(history, min_n).to_numpy())
            if len(ok) and ok[-1] != position:
                latest = history.iloc[position]
                why = _why_not(latest, min_n)
                last = history.iloc[ok[-1]]["period"]
                note = Reason(f"{latest['period']} is not judged ({why}); the last month that "
                              f"can be judged is {last}", "kpi_not_judged",
                              {"period": latest["period"], "last": last, "why": why})
                position = int(ok[-1])
            elif not len(ok) and len(history):
                note = Reason(f"no period can be judged yet: each is immature or has fewer than "
                              f"{min_n} records", "no_period_judged", {"n": min_n})
        else:
            matches = np.flatnonzero((history["period"] == period_label).to_numpy())
            if len(matches) == 0:
                continue
            position = int(matches[0])
        row = history.iloc[position]
        hib = bool(row["higher_is_better"])
        previous = history["value"].iloc[position - 1] if position >= 1 else np.nan
        code, p_value = _status(row, hib=hib, alpha=alpha, min_n=min_n)
        # the trend reads the months that can be judged, as the status does: an immature month
        # (its records still inside their window) reads low and would fake a fall
        judgeable = history.iloc[:position + 1]
        judgeable = judgeable[_judgeable(judgeable, min_n) | (judgeable.index == position)]
        window = judgeable.iloc[-trend_periods:]
        trend, trend_p = _trend(window, hib=hib, alpha=alpha)
        rows.append({
            "kpi": kpi,
            "period": row["period"],
            "value": row["value"],
            "ci_low": row["ci_low"],
            "ci_high": row["ci_high"],
            "n": row["n"],
            "target": row["target"],
            "status": STATUSES[code],
            "status_code": code,
            "trend": trend,
            "previous_value": previous,
            "change": row["value"] - previous,
            "p_value": p_value,
            "trend_p_value": trend_p,
            "higher_is_better": hib,
            "note": note,
        })
    columns = ["kpi", "period", "value", "ci_low", "ci_high", "n", "target", "status",
               "status_code", "trend", "previous_value", "change", "p_value", "trend_p_value",
               "higher_is_better", "note"]
    if not rows:
        out = pd.DataFrame({column: pd.Series(dtype=object) for column in columns})
    else:
        out = pd.DataFrame(rows, columns=columns)
        # a plain object column: a note is a Reason (its code lets a report write it in another
        # language), which a string column would turn into plain text
        out["note"] = pd.Series([row["note"] for row in rows], index=out.index, dtype=object)
    out["status_code"] = status_codes(out["status_code"], index=out.index)
    return out


def _judgeable(frame: pd.DataFrame, min_n: int) -> pd.Series:
    """Rows that may be judged: a value, mature (nothing still in its window), n >= min_n."""
    ok = frame["value"].notna()
    if "immature_n" in frame.columns:
        ok &= pd.to_numeric(frame["immature_n"], errors="coerce").fillna(0).eq(0)
    rate = frame["n"].notna() & frame["successes"].notna()
    return ok & (~rate | (frame["n"] >= min_n))


def _why_not(row: pd.Series, min_n: int) -> Reason:
    if pd.isna(row["value"]):
        return Reason("no value yet", "no_value_yet")
    immature = pd.to_numeric(pd.Series([row.get("immature_n", 0)]), errors="coerce").fillna(0)
    if immature.iloc[0] > 0:
        n = int(immature.iloc[0])
        return Reason(f"{n} records are still inside their window", "inside_window", {"count": n})
    return Reason(f"n = {int(row['n'])}, fewer than the {min_n} needed to judge", "too_few_to_judge",
                  {"count": int(row["n"]), "n": min_n})


def _status(row: pd.Series, *, hib: bool, alpha: float, min_n: int) -> tuple[str, float]:
    """The status code of one KPI row and the p-value of its shortfall."""
    value, target = row["value"], row["target"]
    if pd.isna(value):
        return "no_data", float("nan")
    if pd.isna(target):
        return "no_target", float("nan")
    short = _SHORT_OF[hib]
    meets = value >= target if hib else value <= target
    is_rate = pd.notna(row["n"]) and pd.notna(row["successes"])
    p_value = float("nan")
    if is_rate:
        # One-sided: the question management asks is "are we really short of target?".
        alternative = "less" if hib else "greater"
        p_value = float(stats.binomtest(int(round(row["successes"])), int(round(row["n"])),
                                        float(target), alternative=alternative).pvalue)
    small = pd.notna(row["n"]) and row["n"] < min_n
    if meets:
        return ("on_target_too_few" if small else "on_target"), p_value
    if small:
        return f"{short}_too_few", p_value
    if is_rate:
        significant = p_value < alpha
    else:
        bound = row["ci_high"] if hib else row["ci_low"]
        if pd.isna(bound):
            return f"{short}_unknown", p_value
        significant = bound < target if hib else bound > target
    return (short if significant else f"{short}_not_significant"), p_value


def _trend(window: pd.DataFrame, *, hib: bool, alpha: float) -> tuple[str, float]:
    window = window[window["value"].notna()]
    if len(window) < 3:
        return "too few periods", float("nan")
    if window["n"].notna().all() and window["successes"].notna().all():
        statistic, p_value = _trend_p(window["successes"].to_numpy(float),
                                      window["n"].to_numpy(float))
    else:
        values = window["value"].to_numpy(float)
        if np.ptp(values) == 0:
            return "stable", 1.0
        fit = stats.linregress(np.arange(len(values), dtype=float), values)
        statistic, p_value = float(fit.slope), float(fit.pvalue)
    if math.isnan(p_value) or p_value >= alpha or statistic == 0:
        return "stable", p_value
    rising = statistic > 0
    return ("improving" if rising == hib else "worsening"), p_value


def _trend_p(successes: np.ndarray, trials: np.ndarray,
             scores: np.ndarray | None = None) -> tuple[float, float]:
    """Chi-square test for trend in proportions (Cochran 1954; Armitage 1955).

    Returns the signed z (positive when the rate rises with the score) and the two-sided
    p-value; z**2 is R's ``prop.trend.test`` X-squared. With p̄ = Σx/ΣN and t̄ = Σ n t / N:
    z = Σ x_i (t_i - t̄) / sqrt(p̄ (1 - p̄) Σ n_i (t_i - t̄)^2).
    """
    successes = np.asarray(successes, dtype=float)
    trials = np.asarray(trials, dtype=float)
    scores = (np.arange(len(trials), dtype=float) if scores is None
              else np.asarray(scores, dtype=float))
    total = trials.sum()
    p_bar = successes.sum() / total
    t_bar = (trials * scores).sum() / total
    variance = p_bar * (1.0 - p_bar) * (trials * (scores - t_bar) ** 2).sum()
    if variance <= 0:
        return 0.0, 1.0
    z = float((successes * (scores - t_bar)).sum() / math.sqrt(variance))
    return z, float(2.0 * stats.norm.sf(abs(z)))


# --------------------------------------------------------------------------------------------
# Period report
# --------------------------------------------------------------------------------------------

@dataclass
class PeriodReport:
    """What management reads each period: headline, changes, alerts and the scorecard.

    Attributes
    ----------
    period
        The period reported on.
    previous_period
        The period it is compared with (per KPI the previous period with data; this is the
        most common one).
    what_changed
        ``kpi, previous_period, previous, period, current, change, significant, p_value,
        is_rate, higher_is_better`` per KPI: the month judged (the scorecard's, when one was
        passed) against the judgeable month before it.
    alerts
        The run-rule alerts that fired in ``period``.
    headline
        Plain-language sentences generated from the data.
    scorecard
        :func:`scorecard` for ``period`` (``None`` when ``higher_is_better`` is unknown).
    """

    period: Any
    previous_period: Any
    what_changed: pd.DataFrame
    alerts: pd.DataFrame
    headline: list[str]
    scorecard: pd.DataFrame | None = field(default=None)

    @property
    def summary(self) -> pd.DataFrame:
        """One row per KPI: the change, its significance, the status and the number of alerts."""
        table = self.what_changed.copy()
        if self.scorecard is not None and len(self.scorecard):
            table = table.merge(self.scorecard[["kpi", "target", "status", "trend"]],
                                on="kpi", how="left")
        if "kpi" in self.alerts.columns:
            counts = self.alerts.groupby("kpi").size()
            table["alerts"] = table["kpi"].map(counts).fillna(0).astype(int)
        return table

    def plot(self, ax: Any = None, **options: Any) -> Any:
        """The period's scorecard: ``toolkit.present.plotting.plot_scorecard`` (a DataError
        when the report has no scorecard)."""
        if self.scorecard is None:
            raise DataError("this period report has no scorecard to draw (the KPIs do not say "
                            "whether higher is better)",
                            fix="pass `higher_is_better` to period_report")
        return draw("plot_scorecard", self.scorecard, ax=ax, **options)

    def _repr_html_(self) -> str:
        items = "".join(f"<li>{html.escape(sentence)}</li>" for sentence in self.headline)
        parts = [f"<h4>Period report: {html.escape(str(self.period))}</h4>", f"<ul>{items}</ul>",
                 self.summary.to_html(index=False, float_format=lambda v: f"{v:.4g}")]
        if len(self.alerts):
            parts += ["<h5>Alerts</h5>",
                      self.alerts.to_html(index=False, float_format=lambda v: f"{v:.4g}")]
        return "\n".join(parts)

    def __repr__(self) -> str:
        lines = [f"PeriodReport({self.period})"] + [f"  - {s}" for s in self.headline]
        return "\n".join(lines)


def period_report(
    kpis: pd.DataFrame,
    alerts: pd.DataFrame | None,
    *,
    period_label: Any = None,
    alpha: float = 0.05,
    higher_is_better: bool | Mapping[str, bool] | None = None,
    min_n: int = MIN_N,
    card: pd.DataFrame | None = None,
) -> PeriodReport:
    """The periodic steering report: what changed, which alerts fired, in plain sentences.

    Parameters
    ----------
    kpis
        The tidy KPI frame (see the module docstring). Not modified.
    alerts
        Alerts from :func:`run_rules` (with a ``kpi`` column when several KPIs are charted), or
        ``None``.
    period_label
        The label of the period to report on (a value of the ``period`` column); default the
        latest period in ``kpis``.
    alpha
        Significance level for "significant" changes.
    higher_is_better
        As in :func:`scorecard`; when neither it nor the column is available the report leaves
        the scorecard out.
    min_n
        Fewest trials for a period to be judged (as in :func:`scorecard`): a change is tested
        only between two judgeable periods (mature, at least ``min_n`` trials).
    card
        The scorecard the report stands beside (:func:`scorecard`): each KPI's change is then
        measured at the month the scorecard judged it (never a month it rejected), and the
        headline counts its statuses. Default: every KPI at ``period_label``.

    Returns
    -------
    PeriodReport

    Notes
    -----
    Change from the previous period with data, per KPI. For rates with counts in both periods
    the change is tested with the two-sided pooled score (z) test for two proportions, or
    Fisher's exact test when an expected count is below 5. For other KPIs the standard errors
    are read back from the 95% intervals, se = (ci_high - ci_low)/(2·1.96), and
    z = change/sqrt(se1² + se2²); this assumes roughly symmetric intervals and is missing when
    an interval is. Reporting every KPI every period is many tests: expect about one in twenty
    unchanged KPIs to show a "significant" change by chance, and look at the control chart and
    the trend before acting on one.
    """
    _check_alpha(alpha)
    know_direction = _direction_known(kpis, higher_is_better)
    frame = _prepare_kpis(kpis, higher_is_better=higher_is_better if know_direction else True,
                          argument="kpis")
    if len(frame) == 0:
        raise DataError("the KPI frame has no rows", fix="pass the output of compute_kpis")
    if period_label is None:
        period_label = frame["period"].max()
    elif not (frame["period"] == period_label).any():
        raise OptionError(
            f"The value for `period_label` must be one of the periods in `kpis`, but {period_label!r} was "
            "passed", fix=f"use e.g. {frame['period'].max()!r} (the latest)")

    changes = []
    previous_periods = []
    for kpi, history in frame.groupby("kpi", sort=False):
        history = history.sort_values("period", kind="stable").reset_index(drop=True)
        month = period_label
        if card is not None:
            judged_in = card.loc[card["kpi"] == kpi, "period"]
            if not len(judged_in):
                continue
            month = judged_in.iloc[0]
        matches = np.flatnonzero((history["period"] == month).to_numpy())
        if len(matches) == 0:
            continue
        position = int(matches[0])
        current = history.iloc[position]
        earlier = history.iloc[:position]
        # a change is only claimed between judgeable periods (mature, n >= min_n)
        earlier = earlier[_judgeable(earlier, min_n)]
        previous = earlier.iloc[-1] if len(earlier) else None
        if previous is not None:
            previous_periods.append(previous["period"])
        judged = bool(_judgeable(history.iloc[[position]], min_n).iloc[0])
        p_value = (_change_p(previous, current) if previous is not None and judged
                   else float("nan"))
        changes.append({
            "kpi": kpi,
            "previous_period": previous["period"] if previous is not None else None,
            "previous": previous["value"] if previous is not None else np.nan,
            "period": current["period"],
            "current": current["value"],
            "change": current["value"] - previous["value"] if previous is not None else np.nan,
            "significant": (pd.NA if math.isnan(p_value) else bool(p_value < alpha)),
            "p_value": p_value,
            "is_rate": _is_rate_row(current),
            "higher_is_better": bool(current["higher_is_better"]),
        })
    what_changed = pd.DataFrame(changes, columns=[
        "kpi", "previous_period", "previous", "period", "current", "change", "significant",
        "p_value", "is_rate", "higher_is_better"])
    what_changed["significant"] = what_changed["significant"].astype("boolean")

    if alerts is None:
        fired = pd.DataFrame(columns=["period", "rule", "description", "direction", "severity"])
    else:
        _require_columns(alerts, ["period", "rule", "description"], argument="alerts")
        fired = alerts[alerts["period"] == period_label].reset_index(drop=True)

    if card is None:
        card = (scorecard(frame, alpha=alpha, period_label=period_label, min_n=min_n)
                if know_direction else None)
    previous_period = (pd.Series(previous_periods).mode().iloc[0] if previous_periods else None)
    # the sentences name KPIs by their labels: a reader does not know the keys
    labels = (dict(zip(frame["kpi"].astype(str), frame["label"].astype(str), strict=True))
              if "label" in frame else {})
    headline = _headline(period_label, what_changed, fired, card, labels)
    return PeriodReport(
        period=period_label,
        previous_period=previous_period,
        what_changed=what_changed,
        alerts=fired,
        headline=headline,
        scorecard=card,
    )


def _change_p(previous: pd.Series, current: pd.Series) -> float:
    if pd.isna(previous["value"]) or pd.isna(current["value"]):
        return float("nan")
    if _is_rate_row(previous) and _is_rate_row(current):
        return _two_rate_p(previous["successes"], previous["n"],
                           current["successes"], current["n"])
    halfwidths = []
    for row in (previous, current):
        if pd.isna(row["ci_low"]) or pd.isna(row["ci_high"]):
            return float("nan")
        halfwidths.append((row["ci_high"] - row["ci_low"]) / (2 * stats.norm.ppf(0.975)))
    se = math.hypot(*halfwidths)
    change = current["value"] - previous["value"]
    if se == 0:
        return 1.0 if change == 0 else 0.0
    return float(2 * stats.norm.sf(abs(change) / se))


def _two_rate_p(x1: float, n1: float, x2: float, n2: float) -> float:
    """Two-sided p-value for p1 = p2: pooled score z test, Fisher's exact for small counts."""
    x1, n1, x2, n2 = (int(round(v)) for v in (x1, n1, x2, n2))
    pooled = (x1 + x2) / (n1 + n2)
    expected = [n * pooled for n in (n1, n2)] + [n * (1 - pooled) for n in (n1, n2)]
    if min(expected) < 5:
        return float(stats.fisher_exact([[x1, n1 - x1], [x2, n2 - x2]]).pvalue)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    z = (x2 / n2 - x1 / n1) / se
    return float(2 * stats.norm.sf(abs(z)))


def _headline(period: Any, changes: pd.DataFrame, fired: pd.DataFrame,
              card: pd.DataFrame | None, labels: Mapping[str, str]) -> list[str]:
    sentences: list[str] = []
    if card is not None and len(card):
        with_target = card[~card["status_code"].isin(STATUS_UNJUDGED)]
        if len(with_target):
            on = with_target["status_code"].isin(STATUS_ON_TARGET).sum()
            text = (f"In {period}, {on} of {len(with_target)} KPIs with a target "
                    f"{'is' if on == 1 else 'are'} on target.")
            off = with_target[with_target["status_code"].isin(STATUS_SIGNIFICANT)]
            if len(off):
                text += (" Clearly short of target: "
                         + ", ".join(labels.get(k, k) for k in off["kpi"].astype(str)) + ".")
            sentences.append(text)
    significant = changes[changes["significant"].fillna(False).astype(bool)]
    significant = significant.sort_values("p_value", kind="stable")
    for _, row in significant.iterrows():
        sentences.append(_change_sentence(row, labels))
    tested = changes["significant"].notna().sum()
    quiet = tested - len(significant)
    if tested and quiet:
        others = "other " if len(significant) else ""
        noun = "KPI" if quiet == 1 else "KPIs"
        sentences.append(
            f"{quiet} {others}{noun} changed no more than chance would explain "
            f"(not significant at the 5% level).")
    for _, alert in fired.iterrows():
        who = f"{alert['kpi']}: " if "kpi" in fired.columns else ""
        sentences.append(f"Alert ({alert.get('severity', 'alert')}) {who}{alert['description']}.")
    if not sentences:
        sentences.append(f"Nothing to report for {period}.")
    return sentences


def _change_sentence(row: pd.Series, labels: Mapping[str, str]) -> str:
    """A significant change of a KPI between two periods: written from its values
    (``toolkit.present.findings``)."""
    return Finding("kpi_change", {
        "kpi": labels.get(str(row["kpi"]), row["kpi"]), "previous": float(row["previous"]),
        "current": float(row["current"]), "is_rate": bool(row["is_rate"]),
        "higher_is_better": bool(row["higher_is_better"]), "p_value": float(row["p_value"])})


# --------------------------------------------------------------------------------------------
# Shared validation
# --------------------------------------------------------------------------------------------

def _prepare_kpis(kpis: pd.DataFrame, *, higher_is_better: Any, argument: str) -> pd.DataFrame:
    """Validate the tidy KPI frame and return a copy with every expected column present."""
    if not isinstance(kpis, pd.DataFrame):
        raise DataError(f"`{argument}` must be a pandas DataFrame, not {type(kpis).__name__}",
                        fix="pass the tidy KPI frame from compute_kpis")
    _require_columns(kpis, ["kpi", "period", "value"], argument=argument)
    frame = kpis.copy()
    for column in ("n", "successes", "ci_low", "ci_high", "target"):
        if column not in frame.columns:
            frame[column] = np.nan
        frame[column] = _numeric(frame[column], column=column)
    frame["value"] = _numeric(frame["value"], column="value")
    _check_unique(frame, ["kpi", "period"], argument=argument)

    if isinstance(higher_is_better, bool):
        frame["higher_is_better"] = higher_is_better
    else:
        if higher_is_better is not None and not isinstance(higher_is_better, Mapping):
            raise OptionError(
                "The value for `higher_is_better` must be None, True, False or a mapping "
                f"{{kpi: bool}}, but {higher_is_better!r} was passed",
                fix="e.g. higher_is_better={'Days to order': False}")
        mapping = dict(higher_is_better or {})
        unknown = sorted(set(map(str, mapping)) - set(frame["kpi"].astype(str)))
        if unknown:
            raise ConfigError(
                f"`higher_is_better` names KPIs that are not in `{argument}`: {unknown}",
                fix=f"use KPI names from {sorted(frame['kpi'].astype(str).unique())}")
        column = (frame["higher_is_better"] if "higher_is_better" in frame.columns
                  else pd.Series(pd.NA, index=frame.index, dtype=object))
        from_mapping = frame["kpi"].map(mapping)
        resolved = from_mapping.where(from_mapping.notna(), column)
        missing = frame.loc[resolved.isna(), "kpi"].astype(str).unique().tolist()
        if missing:
            raise DataError(
                f"the column `higher_is_better` is missing or empty for KPIs {missing}",
                column="higher_is_better",
                fix="add it to the KPI frame, or pass higher_is_better=True/False or a mapping "
                    "{kpi: bool}")
        frame["higher_is_better"] = resolved.map(_as_bool)

    rate = frame["n"].notna() & frame["successes"].notna()
    bad = frame[rate & frame["target"].notna() & ~frame["target"].between(0, 1)]
    if len(bad):
        first = bad.iloc[0]
        raise DataError(
            f"the target of rate KPI {first['kpi']!r} must be a proportion between 0 and 1",
            column="target", value=first["target"],
            fix=f"write {first['target'] / 100:g} for {first['target']:g}%")
    return frame


def _direction_known(kpis: pd.DataFrame, higher_is_better: Any) -> bool:
    """Whether every KPI's direction is given, by the argument or by the column."""
    if isinstance(higher_is_better, bool):
        return True
    if not isinstance(kpis, pd.DataFrame) or "kpi" not in kpis.columns:
        return False
    named = set(higher_is_better) if isinstance(higher_is_better, Mapping) else set()
    rest = kpis[~kpis["kpi"].isin(named)]
    return len(rest) == 0 or ("higher_is_better" in kpis.columns
                              and rest["higher_is_better"].notna().all())


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "ja"):
        return True
    if text in ("false", "0", "no", "nee"):
        return False
    raise DataError("`higher_is_better` must be true or false", column="higher_is_better",
                    value=value, fix="write true or false")


def _is_rate_row(row: pd.Series) -> bool:
    return bool(pd.notna(row["n"]) and pd.notna(row["successes"]))


def _require_columns(frame: pd.DataFrame, columns: Sequence[str], *, argument: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"`{argument}` must be a pandas DataFrame, not {type(frame).__name__}",
                        fix="pass a tidy DataFrame")
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise DataError(
            f"`{argument}` lacks the column(s) {missing}; it has {list(map(str, frame.columns))}",
            fix="rename the columns or pass their names as keyword arguments")


def _check_unique(frame: pd.DataFrame, keys: list[str], *, argument: str) -> None:
    duplicated = frame.duplicated(keys, keep=False)
    if duplicated.any():
        first = frame.loc[duplicated, keys].iloc[0].tolist()
        raise DataError(
            f"`{argument}` has more than one row for {dict(zip(keys, first, strict=True))}",
            row=int(np.flatnonzero(duplicated.to_numpy())[0]) + 1,
            fix=f"aggregate to one row per {' and '.join(keys)} first")


def _numeric(series: pd.Series, *, column: str) -> pd.Series:
    converted = pd.to_numeric(series, errors="coerce")
    broken = converted.isna() & series.notna()
    if broken.any():
        position = int(np.flatnonzero(broken.to_numpy())[0])
        raise DataError("the value is not a number", row=position + 1, column=column,
                        value=series.iloc[position], fix="fix or remove the value")
    return converted.astype(float)


def _check_counts(frame: pd.DataFrame, *, n_column: str, successes_column: str) -> None:
    checks = [
        (frame["n"].isna(), n_column, "the number of trials is missing"),
        (frame["n"] <= 0, n_column, "the number of trials must be positive"),
        (frame["successes"].isna(), successes_column, "the number of successes is missing"),
        (frame["successes"] < 0, successes_column, "the number of successes is negative"),
        (frame["successes"] > frame["n"], successes_column,
         "there are more successes than trials"),
    ]
    for mask, column, message in checks:
        if mask.any():
            position = int(np.flatnonzero(mask.to_numpy())[0])
            raise DataError(
                f"{message} (period {frame['period'].iloc[position]!r})", row=position + 1,
                column=column, value=frame.loc[position, "n" if column == n_column
                                               else "successes"],
                fix="drop periods without trials, and check that successes <= n")


def _check_alpha(alpha: float) -> None:
    if not _is_number(alpha) or not 0 < alpha < 1:
        raise OptionError(f"The value for `alpha` must be between 0 and 1, but {alpha!r} was "
                          "passed", fix="use 0.05")


def _is_number(value: Any) -> bool:
    return (isinstance(value, int | float | np.integer | np.floating)
            and not isinstance(value, bool) and math.isfinite(float(value)))


def monthly_kpis(engagement, *, kpis=None) -> pd.DataFrame:
    """The KPI frame management steers on: every rate KPI per cohort month, mature months only.

    Conversion KPIs of the last months are still inside their window; a month with no mature
    record carries no rate yet and is left out, so the scorecard's "latest period" is the latest
    one that can be judged (its `immature_n` says how many records are still waiting).
    """
    engagement.require_dates("KPIs by month (control charts, scorecard)")
    chosen = [k for k in (kpis or kpis_from_config(engagement))
              if k.kind in ("conversion", "cumulative_conversion", "win_rate")]
    frame = compute_kpis(engagement, kpis=chosen, period="month")
    frame = frame[frame["n"].fillna(0) > 0]
    return frame.sort_values(["kpi", "period"]).reset_index(drop=True)


@dataclass
class SteeringView:
    """Step 7 in one object: monthly KPIs, the scorecard, the control chart of the steering
    conversion with its alerts, and the period report. A part the data cannot carry is None and
    `problems[part]` says why."""

    monthly: pd.DataFrame
    card: pd.DataFrame | None
    steer_on: str | None
    chart: pd.DataFrame | None
    alerts: pd.DataFrame
    report: PeriodReport | None
    problems: dict[str, str]

    def explain(self, part: str) -> str:
        return self.problems.get(part, "")

    @property
    def summary(self) -> pd.DataFrame:
        """The scorecard (empty, with its columns, when there is none: `explain('card')`)."""
        if self.card is not None:
            return self.card
        return pd.DataFrame(columns=["kpi", "period", "value", "ci_low", "ci_high", "n", "target",
                                     "status", "status_code", "trend"])

    def plot(self, ax: Any = None, **options: Any) -> Any:
        """The scorecard: ``toolkit.present.plotting.plot_scorecard`` with the monthly KPIs' labels
        (a DataError naming why when there is no scorecard)."""
        if self.card is None:
            raise DataError(f"no scorecard to draw: {self.explain('card')}",
                            fix="collect more history or agree targets in step 3")
        return draw("plot_scorecard", self.card, kpis=self.monthly, ax=ax, **options)


def steering_view(engagement, *, steer_on: str | None = None, benchmarks=None, seed: int = 0,
                  sizing: pd.DataFrame | None = None) -> SteeringView:
    """Compute step 7. `steer_on` is the conversion KPI to chart (default: the top bottleneck of
    step 5, `conversion_<from>_<to>`, from `sizing` when step 5's bottleneck sizing is passed,
    else sized here with `benchmarks` and `seed`). Alerts and the period report only judge months
    that are mature and hold at least ``MIN_N`` records; the chart shows every month."""
    engagement.require_dates("Steering (control charts and the scorecard by month)")
    seed = check_seed(seed)
    problems: dict[str, str] = {}
    monthly = monthly_kpis(engagement)
    card = chart = report = None
    alerts = pd.DataFrame(columns=["period", "rule", "description", "rate", "center", "z",
                                   "direction", "severity"])
    if monthly.empty:
        problems["card"] = problems["chart"] = problems["report"] = Reason(
            "no month has mature records yet: too few records to conclude", "no_mature_month")
        return SteeringView(monthly, None, None, None, alerts, None, problems)
    try:
        card = scorecard(monthly)
    except ToolkitError as exc:
        problems["card"] = reason_of(exc)
    if steer_on is None:
        try:
            if sizing is None:
                sizing = bottleneck_sizing(engagement, benchmarks=benchmarks, seed=seed)
            usable = sizing.dropna(subset=["rate", "reference_rate"])
            if len(usable):
                top = usable.iloc[0]
                steer_on = f"conversion_{top['from_phase']}_{top['to_phase']}"
            else:
                problems["chart"] = Reason(
                    "too few mature records to choose a conversion to steer on (no transition "
                    "could be compared with a reference)", "no_steering_step")
        except ToolkitError as exc:
            problems["chart"] = f"no bottleneck to steer on: {exc}"
    if steer_on is not None:
        series = monthly[monthly["kpi"] == steer_on]
        step_kpi = [k for k in default_kpis(engagement) if k.name == steer_on]
        if series.empty and step_kpi:
            # a declared KPI set that replaced the defaults lacks the step's conversion: the
            # chart measures it all the same (the scorecard and `monthly` keep to the declared
            # KPIs)
            series = monthly_kpis(engagement, kpis=step_kpi)
        judged = series[_judgeable(_prepare_kpis(series, higher_is_better=True, argument="kpis"),
                                   MIN_N)] if len(series) else series
        try:
            chart = control_chart(series)
            # an alert only on a month that can be judged (mature, at least MIN_N records)
            alerts = run_rules(chart)
            alerts = alerts[alerts["period"].isin(judged["period"])].reset_index(drop=True)
        except ToolkitError as exc:
            problems["chart"] = f"{steer_on}: {exc}"
        try:
            period = judged["period"].max() if len(judged) else None
            if period is None:
                problems["report"] = Reason(
                    f"no month of {steer_on} can be judged yet: each is immature or has fewer "
                    f"than {MIN_N} records", "no_judgeable_month", {"kpi": steer_on, "n": MIN_N})
            else:
                report = period_report(monthly, alerts, period_label=period, card=card)
        except ToolkitError as exc:
            problems["report"] = reason_of(exc)
    else:
        # the period report is written around the steering conversion: without one, say why
        why = problems.get("chart", "none was chosen")
        problems["report"] = Reason("no period report without a conversion to steer on: " + why,
                                    "no_period_report", {"why": why})
    return SteeringView(monthly, card, steer_on, chart, alerts, report, problems)
