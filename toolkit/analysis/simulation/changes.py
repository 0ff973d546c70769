"""Evaluating a change: before against after, by cohort, within the segments whose mix moved, with
a comparison group or an interrupted time series where the data allow it."""

from __future__ import annotations

import html
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats

# not statsmodels.api, which imports all of statsmodels (about 0.3 s)
from statsmodels.genmod.families import Binomial
from statsmodels.genmod.generalized_linear_model import GLM

from toolkit.analysis.simulation.baseline import SEASON_FREQ, check_phase, window_of
from toolkit.base.docstrings import shared_docs
from toolkit.base.exceptions import DataError, OptionError, SmallSampleWarning
from toolkit.base.findings import Finding
from toolkit.base.vocabulary import check_option
from toolkit.io.engagement import Engagement
from toolkit.measure.funnel import reached_at
from toolkit.stats import rate_ci, two_rate_test


@dataclass(eq=False, repr=False)
class ChangeEvaluation:
    """Did a change of the process move a conversion? Before/after, compared like with like.

    Attributes
    ----------
    comparisons
        One row per method: ``method`` (``before_after``, ``its_level``, ``its_slope``,
        ``did``), ``estimate`` (difference in probability, 0.041 = 4.1 points; for
        ``its_slope`` per period), ``ci_low, ci_high, p_value, n_before, n_after, note``.
    monthly
        The cohort series used: ``group, period, period_start, n, successes, rate, ci_low,
        ci_high, immature_n, side, in_before_after``. ``side`` is ``before``, ``after``,
        ``straddles change`` (left out) or ``immature`` (no mature record yet).
    headline
        The answer in one sentence.
    effect
        The answer as a code: ``raised`` or ``lowered`` (the interval of the method the headline
        reads excludes 0) or ``none`` (no detectable change).
    method
        The method the headline reads (a ``method`` of `comparisons`), so the answer can be
        written again from its row in another language.
    mde
        With ``effect`` ``none``: the smallest effect (difference in probability) this design
        detects with 80% power at the 5% level; NaN otherwise.
    mix_shift
        The segment attributes whose mix moved between before and after (the ``standardised``
        comparison is made within their segments); empty when none moved.
    immature_n
        Records left out because their conversion window had not closed at the as-of date.
    straddling_n
        Mature records left out because their cohort straddles the change date.
    models
        The fitted statsmodels GLM results (``its``, ``did``) for inspection.
    notes
        What was done and why (season matching, dispersion, methods skipped).
    """

    comparisons: pd.DataFrame
    monthly: pd.DataFrame
    headline: str
    change_date: pd.Timestamp
    from_phase: str
    to_phase: str
    window_days: int
    immature_n: int
    straddling_n: int
    models: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    description: str = ""
    effect: str = "none"
    method: str = ""
    mde: float = math.nan
    mix_shift: tuple[str, ...] = ()

    @property
    def summary(self) -> pd.DataFrame:
        """The comparisons table."""
        return self.comparisons

    def _repr_html_(self) -> str:
        fmt = lambda v: f"{v:.4g}"  # noqa: E731
        parts = [f"<p><b>Change of {html.escape(self.from_phase)} -> "
                 f"{html.escape(self.to_phase)} on {self.change_date.date()}</b>: "
                 f"{html.escape(self.headline)}</p>",
                 self.comparisons.to_html(index=False, float_format=fmt, na_rep="")]
        parts += [f"<p><i>{html.escape(n)}</i></p>" for n in self.notes]
        return "\n".join(parts)

    def __repr__(self) -> str:
        return f"<ChangeEvaluation {self.from_phase}->{self.to_phase}: {self.headline}>"


def _season_key(periods: pd.Series, period: str) -> pd.Series | None:
    if period == "month":
        return periods.map(lambda p: p.month)
    if period == "quarter":
        return periods.map(lambda p: p.quarter)
    return None


def _cohort_cells(engagement: Engagement, *, a: str, b: str, window: int, freq: str, groups: pd.Series
                  ) -> pd.DataFrame:
    reached = reached_at(engagement)
    start = reached[a]
    keep = start.notna() & groups.reindex(reached.index).notna()
    start = start[keep]
    window_td = pd.Timedelta(days=window)
    frame = pd.DataFrame({
        "group": groups.reindex(start.index).to_numpy(),
        "period": start.dt.to_period(freq).to_numpy(),
        "mature": (start <= pd.Timestamp(engagement.as_of) - window_td).to_numpy(),
        "converted": ((reached.loc[start.index, b] - start) <= window_td).fillna(False).to_numpy(),
    })
    frame["success"] = frame["mature"] & frame["converted"]
    cells = frame.groupby(["group", "period"], observed=True).agg(
        n=("mature", "sum"), successes=("success", "sum"), total=("mature", "size")).reset_index()
    cells["immature_n"] = cells["total"] - cells["n"]
    return cells.drop(columns="total")


def _delta_effect(result: Any, rows: np.ndarray, weights: np.ndarray, column: int
                  ) -> tuple[float, float]:
    """Weighted mean of expit(x b) - expit(x b - b_c) over rows that have x_c = 1, and its
    delta-method standard error."""
    beta = np.asarray(result.params, dtype=float)
    cov = np.asarray(result.cov_params(), dtype=float)
    off = rows.copy()
    off[:, column] = 0.0
    p1 = special.expit(rows @ beta)
    p0 = special.expit(off @ beta)
    w = weights / weights.sum()
    effect = float(np.sum(w * (p1 - p0)))
    gradient = (w * p1 * (1 - p1)) @ rows - (w * p0 * (1 - p0)) @ off
    return effect, float(math.sqrt(max(gradient @ cov @ gradient, 0.0)))


def _fit_binomial(successes: np.ndarray, trials: np.ndarray, design: pd.DataFrame,
                  notes: list[str], what: str) -> Any:  # statsmodels' GLM results
    """Binomial GLM on counts; quasi-binomial (Pearson scale) when the cells are overdispersed."""
    endog = np.column_stack([successes, trials - successes]).astype(float)
    model = GLM(endog, design.astype(float), family=Binomial())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = model.fit()
        dispersion = result.pearson_chi2 / result.df_resid if result.df_resid > 0 else 1.0
        if dispersion > 1.0:
            # statsmodels' own scale="X2" is computed on the proportions of a two-column
            # endog (unweighted), far below the Pearson dispersion of the counts: pass it in.
            result = model.fit(scale=float(dispersion))
            notes.append(Finding("change_overdispersed", {"what": what,
                                                          "dispersion": float(dispersion)}))
    return result


def _season_dummies(seasons: pd.Series, prefix: str) -> pd.DataFrame:
    dummies = pd.get_dummies(seasons.astype(int), prefix=prefix, drop_first=True, dtype=float)
    return dummies.reset_index(drop=True)


def _its(series: pd.DataFrame, *, period: str, seasonal_adjust: bool, change_period: pd.Period,
         notes: list[str]) -> tuple[list[dict], Any]:
    used = series[series["side"].isin(["before", "after"]) & (series["n"] > 0)]
    used = used.sort_values("period").reset_index(drop=True)
    n_before_periods = int((used["side"] == "before").sum())
    n_after_periods = int((used["side"] == "after").sum())
    if n_before_periods < 3 or n_after_periods < 2:
        notes.append(Finding("change_its_skipped", {"n_before": n_before_periods,
                                                    "n_after": n_after_periods}))
        return [], None
    t = np.array([(p - change_period).n for p in used["period"]], dtype=float)
    post = (used["side"] == "after").to_numpy(float)
    design = pd.DataFrame({"const": 1.0, "time": t, "level_change": post,
                           "slope_change": post * t})
    seasons = _season_key(used["period"], period)
    per_year = {"month": 12, "quarter": 4}.get(period)
    span = (used["period"].iloc[-1] - used["period"].iloc[0]).n + 1
    with_season = (seasonal_adjust and per_year is not None and span >= 2 * per_year)
    if with_season:
        dummies = _season_dummies(seasons, "season")
        trial = pd.concat([design, dummies], axis=1)
        if np.linalg.matrix_rank(trial.to_numpy(float)) == trial.shape[1] \
                and trial.shape[1] < len(used):
            design = trial
            notes.append(Finding("change_its_seasonal", {"period": period, "span": int(span)}))
        else:
            with_season = False
    if seasonal_adjust and not with_season:
        notes.append(Finding("change_its_no_season"))
    x = used["successes"].to_numpy(float)
    n = used["n"].to_numpy(float)
    result = _fit_binomial(x, n, design, notes, "its")
    after = (post == 1.0)
    rows_after = design.to_numpy(float)[after].copy()
    rows_after[:, design.columns.get_loc("slope_change")] = 0.0  # the jump alone
    effect, se = _delta_effect(result, rows_after, n[after], design.columns.get_loc("level_change"))
    z = stats.norm.ppf(0.975)
    n_before, n_after = int(n[~after].sum()), int(n[after].sum())
    p_level = float(2 * stats.norm.sf(abs(effect / se))) if se > 0 else math.nan
    out = [{"method": "its_level", "estimate": effect, "ci_low": effect - z * se,
            "ci_high": effect + z * se, "p_value": p_level, "n_before": n_before,
            "n_after": n_after,
            "note": Finding("change_note_its_level")}]
    fitted = np.asarray(result.mu, dtype=float)[after]
    scale = float(np.average(fitted * (1 - fitted), weights=n[after]))
    slope = float(result.params["slope_change"])
    slope_se = float(result.bse["slope_change"])
    out.append({"method": "its_slope", "estimate": scale * slope,
                "ci_low": scale * (slope - z * slope_se), "ci_high": scale * (slope + z * slope_se),
                "p_value": float(result.pvalues["slope_change"]), "n_before": n_before,
                "n_after": n_after,
                "note": Finding("change_note_its_slope", {"period": period})})
    return out, result


def _did(cells: pd.DataFrame, *, notes: list[str]) -> tuple[list[dict], Any]:
    used = cells[cells["side"].isin(["before", "after"]) & (cells["n"] > 0)]
    used = used.sort_values(["period", "group"]).reset_index(drop=True)
    have = used.groupby(["group", "side"]).size()
    needed = [(g, s) for g in ("treated", "control") for s in ("before", "after")]
    missing = [(g, s) for g, s in needed if (g, s) not in have.index]
    if missing:
        notes.append(Finding("change_did_skipped", {"missing": missing}))
        return [], None
    treated = (used["group"] == "treated").to_numpy(float)
    post = (used["side"] == "after").to_numpy(float)
    period_fe = pd.get_dummies(used["period"].astype(str), prefix="period", drop_first=True,
                               dtype=float)
    design = pd.concat([pd.DataFrame({"const": 1.0, "treated": treated,
                                      "treated_after": treated * post}), period_fe], axis=1)
    x = used["successes"].to_numpy(float)
    n = used["n"].to_numpy(float)
    result = _fit_binomial(x, n, design, notes, "did")
    cell = (treated == 1.0) & (post == 1.0)
    effect, se = _delta_effect(result, design.to_numpy(float)[cell], n[cell],
                               design.columns.get_loc("treated_after"))
    z = stats.norm.ppf(0.975)
    p_value = float(2 * stats.norm.sf(abs(effect / se))) if se > 0 else math.nan
    is_t = treated == 1.0
    control_n = (int(n[~is_t & (post == 0)].sum()), int(n[~is_t & (post == 1)].sum()))
    return [{"method": "did", "estimate": effect, "ci_low": effect - z * se,
             "ci_high": effect + z * se, "p_value": p_value,
             "n_before": int(n[is_t & (post == 0)].sum()), "n_after": int(n[cell].sum()),
             "note": Finding("change_note_did", {"control_before": control_n[0],
                                                 "control_after": control_n[1]})}], result


# A segment attribute whose shares moved between before and after: chi-square p under 1% and
# at least 5% of the records in other segments (total variation distance of the shares). Smaller
# shifts move a before/after difference by less than its interval.
_MIX_ALPHA = 0.01
_MIX_MIN_SHIFT = 0.05


def _mix_records(engagement: Engagement, *, a: str, b: str, window: int, freq: str, groups: pd.Series,
                 sides: pd.DataFrame) -> pd.DataFrame:
    """The mature treated records of the before/after comparison, one row each: ``side``
    (before/after) and ``converted``, indexed by record id. `sides`: the compared cohort periods
    (``period``, ``side``)."""
    reached = reached_at(engagement)
    start = reached[a]
    treated = groups.reindex(reached.index).eq("treated")
    keep = start.notna() & treated & (start <= pd.Timestamp(engagement.as_of)
                                      - pd.Timedelta(days=window))
    start = start[keep]
    side_of = dict(zip(sides["period"], sides["side"], strict=True))
    side = start.dt.to_period(freq).map(side_of)
    converted = ((reached.loc[start.index, b] - start) <= pd.Timedelta(days=window)).fillna(False)
    frame = pd.DataFrame({"side": side, "converted": converted.astype(bool)})
    return frame[frame["side"].notna()]


def _shifted_attributes(records: pd.DataFrame, compared: pd.DataFrame,
                        attributes: Sequence[str]) -> list[dict]:
    """The attributes whose shares moved between the compared before and after records."""
    out = []
    for name in attributes:
        if name not in records.columns:
            continue
        values = records[name].reindex(compared.index).astype(object).fillna("(missing)")
        table = pd.crosstab(values, compared["side"])
        if table.shape[0] < 2 or set(table.columns) != {"before", "after"}:
            continue
        p = float(stats.chi2_contingency(table.to_numpy(float), correction=False)[1])
        shares = table / table.sum()
        shift = float(0.5 * (shares["after"] - shares["before"]).abs().sum())
        if p < _MIX_ALPHA and shift >= _MIX_MIN_SHIFT:
            out.append({"attribute": name, "shift": shift, "p_value": p})
    return out


def _standardised(records: pd.DataFrame, compared: pd.DataFrame, names: list[str]) -> dict | None:
    """After minus before within the strata of `names` (every combination of their values),
    weighted by each stratum's share of all compared records: the before/after difference at
    one mix. Strata present on one side only are left out (they hold no within-change)."""
    keys = records[names].reindex(compared.index).astype(object).fillna("(missing)")
    stratum = keys.astype(str).agg(" | ".join, axis=1)
    cells = compared.assign(stratum=stratum).groupby(["stratum", "side"])["converted"].agg(
        ["size", "sum"]).unstack("side")
    cells = cells.dropna()
    if cells.empty:
        return None
    n_b, x_b = cells[("size", "before")].to_numpy(float), cells[("sum", "before")].to_numpy(float)
    n_a, x_a = cells[("size", "after")].to_numpy(float), cells[("sum", "after")].to_numpy(float)
    weight = (n_b + n_a) / (n_b + n_a).sum()
    p_b, p_a = x_b / n_b, x_a / n_a
    estimate = float(np.sum(weight * (p_a - p_b)))
    se = float(np.sqrt(np.sum(weight ** 2 * (p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b))))
    z = stats.norm.ppf(0.975)
    p_value = float(2 * stats.norm.sf(abs(estimate / se))) if se > 0 else math.nan
    left_out = int(len(compared) - n_b.sum() - n_a.sum())
    return {"method": "standardised", "estimate": estimate, "ci_low": estimate - z * se,
            "ci_high": estimate + z * se, "p_value": p_value, "n_before": int(n_b.sum()),
            "n_after": int(n_a.sum()),
            "note": Finding("change_note_standardised", {"names": list(names),
                                                         "cells": len(cells),
                                                         "left_out": left_out})}


@shared_docs
def evaluate_change(engagement: Engagement, *, change_date: Any, from_phase: str, to_phase: str | None = None,
                    window_days: int | None = None, control: Any = None,
                    segment_attribute: str | None = None, period: str = "month",
                    seasonal_adjust: bool = True, straddle: str = "window",
                    mix_attributes: Sequence[str] | None = None) -> ChangeEvaluation:
    """Did a change of the process raise the conversion from ``from_phase`` to ``to_phase``?

    Parameters
    ----------
    {shared.engagement}
    {shared.window_days}
    change_date
        The day the change took effect; cohorts entering ``from_phase`` on or after it are
        "after".
    from_phase, to_phase
        The step evaluated (``to_phase`` defaults to the next phase).
    control, segment_attribute
        For difference-in-differences: records whose ``segment_attribute`` equals ``control``
        (or is one of ``control`` when it is a list) did *not* get the change; every other
        (non-missing) value did. Without them only the before/after comparison and the time
        series are made, on all records.
    period : {'month', 'quarter', 'week'}
        Cohort periods of the series.
    seasonal_adjust
        Compare the same calendar months (quarters) year over year in the simple comparison and
        add month-of-year effects to the time series when it spans two years.
    straddle : {'window', 'period'}
        Which cohorts count as straddling the change (left out): ``'window'`` (default) every
        cohort period whose records' conversion windows were still open on the change date, so
        that "before" records were never exposed to the change; ``'period'`` only the period
        that contains the change date (for a change that only affects new entries).
    mix_attributes
        The segment attributes whose mix is checked between before and after (default every
        segment attribute of the engagement); see Notes.

    Returns
    -------
    ChangeEvaluation

    Notes
    -----
    Like with like: every side uses cohort conversion with the same window and only mature
    records (``reached_at[from] <= as_of - window``); immature and straddling records are
    counted, not used.

    (a) ``before_after``: pooled after minus pooled before with the Newcombe interval and the
    score test (:func:`toolkit.stats.two_rate_test`); with ``seasonal_adjust`` both sides are
    restricted to the calendar months they have in common. (b) ``its_level``/``its_slope``:
    binomial GLM on the cohort-period counts, :math:`\\mathrm{logit}\\,p_t = \\beta_0 +
    \\beta_1 t + \\beta_2 \\mathrm{after}_t + \\beta_3 \\mathrm{after}_t (t - t_0)` (+ month of
    year after two years); the level change is
    :math:`\\overline{\\mathrm{expit}(\\eta_t + \\beta_2) - \\mathrm{expit}(\\eta_t)}` over the
    after periods (n-weighted), with a delta-method interval. (c) ``did``: binomial GLM with
    group and period effects and the group x after interaction; the effect on the treated on
    the probability scale (average marginal effect, delta method). Period effects absorb any
    shift common to both groups (season, market), which (a) and (b) cannot tell from the
    change. Overdispersed series get quasi-binomial standard errors.

    Without a mix shift, a trend before the change (the time series' ``time`` coefficient,
    p < 0.05) would be carried by a before/after difference, so ``its_level`` is read. When
    its interval covers 0 it names the smallest effect the design would have detected with 80%
    power at the 5% level, :math:`(z_{0.975} + z_{0.8})\\,\\mathrm{se} \\approx 2.8\\,\\mathrm{se}`,
    with se read back from the interval: "no detectable change" is not "no change".

    (d) ``standardised``: when the shares of a segment attribute moved between the compared
    before and after records (chi-square p < 0.01 and at least 5% of the records in other
    segments), after minus before within each segment of those attributes, weighted by the
    segment's share of both sides (direct standardisation; Wald interval from the within-segment
    binomial variances). A change that raised the step in every region while the mix moved to
    the weakest region reads as raised here, where the pooled comparison reads a fall.

    The verdict reads ``did`` when a control group was given; else ``standardised`` when a mix
    moved (the notes name the attributes); else ``before_after``, unless the cohorts before the
    change show a trend of their own, when ``its_level`` is read.

    Not for: changes rolled out gradually (no date), or a control group that was affected too.
    A before/after comparison without control attributes everything else that
    changed at the same time to the change.
    """
    engagement.require_dates("Before/after evaluation of a change")
    model = engagement.phase_model
    a = check_phase(engagement, "from_phase", from_phase)
    keys = model.keys
    if to_phase is None:
        if keys.index(a) == len(keys) - 1:
            raise OptionError(f"`from_phase` {a!r} is the last phase; pass a phase before it.")
        b = keys[keys.index(a) + 1]
    else:
        b = check_phase(engagement, "to_phase", to_phase)
        if keys.index(b) <= keys.index(a):
            raise OptionError(f"`to_phase` must come after `from_phase` in the phase model {keys}, "
                              f"but {from_phase!r} -> {to_phase!r} was passed.")
    window = window_of(engagement, window_days)
    check_option("period", period, tuple(SEASON_FREQ))
    check_option("straddle", straddle, ("window", "period"))
    try:
        change = pd.Timestamp(change_date)
    except (TypeError, ValueError) as error:
        raise OptionError(f"The value for `change_date` must be a date such as '2025-03-01', but "
                          f"{change_date!r} was passed.") from error
    if (control is None) != (segment_attribute is None):
        raise OptionError("Pass both `control` and `segment_attribute` (the attribute and its "
                          "value for the records that did not get the change), or neither; got "
                          f"control={control!r}, segment_attribute={segment_attribute!r}.")
    notes: list[str] = []
    records = engagement.records.set_index("record_id")
    if segment_attribute is None:
        groups = pd.Series("treated", index=records.index, dtype="object")
    else:
        if segment_attribute not in records.columns:
            raise OptionError(f"The value for `segment_attribute` must be a record attribute "
                              f"{engagement.segments}, but {segment_attribute!r} was passed.")
        attribute = records[segment_attribute]
        untouched = attribute.isin(list(control) if isinstance(control, list | tuple)
                                   else [control])
        if not untouched.any():
            values = sorted(map(str, attribute.dropna().unique()))[:10]
            raise OptionError(f"The value for `control` must be a value of "
                              f"`{segment_attribute}` (e.g. {values}), but {control!r} was "
                              "passed: no record has it.")
        groups = pd.Series(np.where(untouched, "control", "treated"),
                           index=records.index, dtype="object").where(attribute.notna())
        missing = int(attribute.isna().sum())
        if missing:
            notes.append(Finding("change_attribute_missing", {"n": missing,
                                                              "attribute": segment_attribute}))

    freq = SEASON_FREQ[period]
    cells = _cohort_cells(engagement, a=a, b=b, window=window, freq=freq, groups=groups)
    if cells.empty:
        raise DataError(f"no record has reached {a!r}, so there is nothing before or after the "
                        f"change to compare: too few records to conclude",
                        fix="evaluate the change once records have entered the phase")
    window_td = pd.Timedelta(days=window)
    starts = cells["period"].map(lambda p: p.start_time)
    ends = cells["period"].map(lambda p: p.end_time)
    before_end = ends + window_td if straddle == "window" else ends
    side = np.where(starts >= change, "after", np.where(before_end < change, "before",
                                                          "straddles change"))
    side = np.where((cells["n"] == 0) & (cells["immature_n"] > 0), "immature", side)
    cells["side"] = side
    cells["period_start"] = starts.to_numpy()
    x, n = cells["successes"].to_numpy(float), cells["n"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        cells["rate"] = np.where(n > 0, x / np.where(n > 0, n, 1), np.nan)
    low, high = rate_ci(x, n, method="wilson")
    cells["ci_low"], cells["ci_high"] = low, high
    immature_n = int(cells["immature_n"].sum())
    straddling_n = int(cells.loc[cells["side"] == "straddles change", "n"].sum())
    if immature_n:
        notes.append(Finding("change_immature", {"n": immature_n, "phase": a,
                                                 "window": window}))
    if straddling_n:
        notes.append(Finding("change_straddling", {"n": straddling_n}))

    treated = cells[cells["group"] == "treated"].copy()
    simple = treated[treated["side"].isin(["before", "after"]) & (treated["n"] > 0)].copy()
    simple["in_before_after"] = True
    seasons = _season_key(simple["period"], period)
    if seasonal_adjust and seasons is not None and len(simple):
        common = (set(seasons[simple["side"] == "before"])
                  & set(seasons[simple["side"] == "after"]))
        if common:
            simple["in_before_after"] = seasons.isin(common).to_numpy()
            if not simple["in_before_after"].all():
                notes.append(Finding("change_same_seasons", {
                    "period": period, "seasons": sorted(int(c) for c in common)}))
        else:
            notes.append(Finding("change_seasons_unmatched", {"period": period}))
    chosen = simple[simple["in_before_after"]]
    sums = chosen.groupby("side")[["successes", "n"]].sum()
    if "before" not in sums.index or "after" not in sums.index:
        have = sorted(sums.index)
        raise DataError(
            f"the step {a}->{b} has mature cohorts only on side(s) {have} of "
            f"{change.date()} with a {window}-day window",
            fix="evaluate later (after cohorts mature), use a shorter `window_days`, or "
                "`straddle='period'` when the change only affects new entries")
    xb, nb = (int(v) for v in sums.loc["before", ["successes", "n"]])
    xa, na = (int(v) for v in sums.loc["after", ["successes", "n"]])
    # two_rate_test switches to Fisher's exact test when an expected count is below 5 and says
    # so in a warning; here the comparison's `method` column already tells the reader, so the
    # warning would only be noise in the notebook.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallSampleWarning)
        test = two_rate_test(xa, na, xb, nb, method="score")
    comparisons = [{"method": "before_after", "estimate": test.estimate, "ci_low": test.ci_low,
                    "ci_high": test.ci_high, "p_value": test.p_value, "n_before": nb,
                    "n_after": na,
                    "note": Finding("change_note_before_after", {
                        "x_after": xa, "n_after": na, "x_before": xb, "n_before": nb,
                        "test": test.method})}]
    models: dict[str, Any] = {}

    change_period = pd.Period(change, freq=freq)
    if change_period.start_time < change:
        change_period += 1
    its_rows, its_model = _its(treated, period=period, seasonal_adjust=seasonal_adjust,
                               change_period=change_period, notes=notes)
    comparisons += its_rows
    if its_model is not None:
        models["its"] = its_model
    if control is not None:
        did_rows, did_model = _did(cells, notes=notes)
        comparisons += did_rows
        if did_model is not None:
            models["did"] = did_model
    compared = _mix_records(engagement, a=a, b=b, window=window, freq=freq, groups=groups,
                            sides=chosen[["period", "side"]])
    names = [m for m in (engagement.segments if mix_attributes is None else mix_attributes)
             if m != segment_attribute]
    shifted = _shifted_attributes(records, compared, names)
    mix_shift = tuple(m["attribute"] for m in shifted)
    if shifted:
        row = _standardised(records, compared, [m["attribute"] for m in shifted])
        if row is not None:
            comparisons.append(row)
            notes.append(Finding("change_mix_moved", {"shifted": [
                (str(m["attribute"]), float(m["shift"]), float(m["p_value"])) for m in shifted]}))
    table = pd.DataFrame(comparisons, columns=["method", "estimate", "ci_low", "ci_high",
                                               "p_value", "n_before", "n_after", "note"])
    # the notes as findings, codes kept (a column of strings would keep only their English)
    table["note"] = pd.Series([row["note"] for row in comparisons], index=table.index,
                              dtype=object)

    monthly = cells.merge(simple[["group", "period", "in_before_after"]],
                          on=["group", "period"], how="left")
    monthly["in_before_after"] = monthly["in_before_after"].astype("boolean").fillna(False)
    monthly["period"] = monthly["period"].astype(str)
    monthly = monthly[["group", "period", "period_start", "n", "successes", "rate", "ci_low",
                       "ci_high", "immature_n", "side", "in_before_after"]]
    if control is None:
        monthly = monthly.drop(columns="group")
    # Before/after is the more powerful comparison, the time series the one robust to a trend
    # that was there already: the verdict reads the time series only when the cohorts before
    # the change show such a trend (its `time` coefficient, p < 0.05).
    trend_p = (float(models["its"].pvalues["time"]) if "its" in models else math.nan)
    trend = trend_p < 0.05
    if "its" in models and not (table["method"] == "standardised").any():
        notes.append(Finding("change_reads_trend" if trend else "change_reads_before_after",
                             {"p_value": trend_p}))
    effect, verdict, method, mde = _verdict(table, a=a, b=b,
                                            control=(segment_attribute, control)
                                            if control is not None and segment_attribute is not None
                                            else None, trend=trend,
                                            mix_shift=mix_shift)
    return ChangeEvaluation(comparisons=table, monthly=monthly.reset_index(drop=True),
                            headline=verdict, change_date=change, from_phase=a, to_phase=b,
                            window_days=window, immature_n=immature_n, straddling_n=straddling_n,
                            models=models, notes=tuple(notes), effect=effect, method=method,
                            mde=mde, mix_shift=mix_shift)


def _verdict(table: pd.DataFrame, *, a: str, b: str, control: tuple[str, Any] | None,
             trend: bool = True, mix_shift: tuple[str, ...] = ()) -> tuple[str, str, str, float]:
    """(effect code, sentence, the method it reads, the smallest detectable effect or NaN) of
    the method the evaluation reads."""
    rows = table.set_index("method")
    order = (("did", "standardised", "its_level", "before_after") if trend
             else ("did", "standardised", "before_after", "its_level"))
    method = next(m for m in order if m in rows.index)
    row = rows.loc[method]
    values = {"from_phase": a, "to_phase": b, "method": method,
              "control": f"{control[0]} = {control[1]!r}" if control else "",
              # the control group's attribute and value, for a page that names it by its label
              "control_attribute": control[0] if control else None,
              "control_value": control[1] if control else None,
              "mix": " x ".join(mix_shift), "estimate": float(row["estimate"]),
              "ci_low": float(row["ci_low"]), "ci_high": float(row["ci_high"]),
              "p_value": float(row["p_value"])}
    if row["ci_low"] > 0 or row["ci_high"] < 0:
        verb = "raised" if row["estimate"] > 0 else "lowered"
        return verb, Finding(f"change_{verb}", values), method, math.nan
    # The effect this design detects with 80% power at the 5% level: (z_0.975 + z_0.8) x se,
    # with the standard error read back from the method's own interval.
    se = (row["ci_high"] - row["ci_low"]) / (2 * stats.norm.ppf(0.975))
    mde = (stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) * se
    return "none", Finding("change_none", {**values, "mde": float(mde)}), method, float(mde)


