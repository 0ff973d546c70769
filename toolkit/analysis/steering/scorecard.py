"""The scorecard: each KPI's latest judgeable period against its target and its own history, with
its trend."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from toolkit.analysis.steering.checks import check_alpha, prepare_kpis
from toolkit.analysis.steering.control import SHORT_OF
from toolkit.base.docstrings import shared_docs
from toolkit.base.exceptions import OptionError
from toolkit.base.vocabulary import (
    MIN_N,
    STATUSES,
    Reason,
    status_codes,
)

# Scorecard

@shared_docs
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
    {shared.kpi_frame}
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
    frame = prepare_kpis(kpis, higher_is_better=higher_is_better, argument="kpis")
    check_alpha(alpha)
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
            ok = np.flatnonzero(judgeable_of(history, min_n).to_numpy())
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
        judgeable = judgeable[judgeable_of(judgeable, min_n) | (judgeable.index == position)]
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


def judgeable_of(frame: pd.DataFrame, min_n: int) -> pd.Series:
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
    short = SHORT_OF[hib]
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


