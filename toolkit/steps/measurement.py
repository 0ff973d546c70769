"""Step 4, the KPIs measured right: cohort conversions with intervals and immature records
excluded, the period-conversion pitfall beside them, time to convert with lost records competing
and open deals censored, and seasonality (volume against the rate of the same cohorts)."""

from __future__ import annotations

import pandas as pd

from toolkit.base.docstrings import shared_docs
from toolkit.base.vocabulary import (
    STATUS_NOT_SIGNIFICANT,
    STATUS_ON_TARGET,
    STATUS_SIGNIFICANT,
    STATUSES,
    stream,
)
from toolkit.io.engagement import Engagement
from toolkit.measure.funnel import cohort_conversion, period_conversion, reached_conversion
from toolkit.measure.kpis import NO_WINDOW, compute_kpis, default_kpis, step_incidence, time_to_convert
from toolkit.measure.seasonality import SeasonalityResult, seasonality
from toolkit.present import narrative
from toolkit.present import plotting as tp
from toolkit.steps.parts import Parts, earlier, figure, in_languages, sentences
from toolkit.steps.result import StepResult, summary_frame
from toolkit.steps.store import shared_step

__all__ = ["measurement"]

# The headline counts the measured conversions per group of status, in this order.
_GROUPS = ((STATUS_SIGNIFICANT, STATUSES["off_target"]),
           (STATUS_NOT_SIGNIFICANT, STATUSES["off_target_not_significant"]),
           (STATUS_ON_TARGET, STATUSES["on_target"]))


@shared_step(4)
@shared_docs
def measurement(engagement: Engagement, *, seed: int = 0, kpis: StepResult | None = None) -> StepResult:
    """Step 4: the KPI table with n, 95% intervals and immature counts, cohort conversion per
    month for every step, period conversion per quarter (the labelled pitfall), time to convert
    per transition with the curves of the last step, and the seasonality view.

    Parameters
    ----------
    {shared.engagement}
    {shared.seed}
        Here: the Monte Carlo interval of sales velocity.
    kpis : StepResult, optional
        Step 3's result, whose KPI values this step shows (computed here without it).

    Returns
    -------
    {shared.step_result}
        Tables: `kpis`, `cohorts`, `period conversion`, `time to convert`, `incidence`,
        `seasonality tests`, `seasonality by month`, `year over year`. Figures: `cohort
        conversion` (the first step), `cohort heatmap`, `time to convert`, `seasonality`.
        Sheets: `KPIs`.

    Raises
    ------
    TypeError
        `kpis` is not step 3's StepResult.
    """
    parts = Parts()
    model = engagement.phase_model
    step3 = earlier(kpis, "kpis")
    values = (step3.results["values"] if step3 is not None
              else compute_kpis(engagement, seed=stream(seed, "kpis")))
    values = _with_every_step(engagement, values, seed)
    cohorts = parts.attempt("cohorts", lambda: cohort_conversion(engagement, period="month"))
    period_view = parts.attempt("period conversion",
                                lambda: period_conversion(engagement, period="quarter"))
    ttc = parts.attempt("time to convert", lambda: time_to_convert(engagement))
    curves = parts.attempt("incidence", lambda: step_incidence(engagement))
    seasonal = parts.attempt("seasonality", lambda: seasonality(engagement))

    tables = {"kpis": _with_ever_converted(engagement, values)}
    figures = {}
    if cohorts is not None:
        tables["cohorts"] = cohorts
        first = cohorts[cohorts["from_phase"] == model.keys[0]]
        figures["cohort conversion"] = figure(tp.plot_cohort_conversion, first, phase_model=model)
        figures["cohort heatmap"] = figure(tp.plot_cohort_heatmap, cohorts, phase_model=model)
    if period_view is not None:
        tables["period conversion"] = period_view
    if ttc is not None:
        tables["time to convert"] = ttc
    if curves is not None:
        tables["incidence"] = curves
        figures["time to convert"] = figure(tp.plot_time_to_convert, curves)
    if seasonal is not None:
        tables["seasonality tests"] = seasonal.tests
        tables["seasonality by month"] = seasonal.monthly
        tables["year over year"] = seasonal.year_over_year
        figures["seasonality"] = figure(tp.plot_seasonality, seasonal.monthly)

    lines = in_languages(lambda language: sentences(
        narrative.measurement(values, seasonal, ttc, language, model))
        + parts.sentences(language))
    conversions = values[values["kind"] == "conversion"]
    return StepResult(
        step=4, key="measurement", tables=tables,
        results={"kpis": values, "cohorts": cohorts, "time_to_convert": ttc,
                 "seasonality": seasonal},
        figures=figures, problems=parts.problems, summary=_summary(conversions),
        headline=_headline(conversions, seasonal), sheets={"KPIs": values},
        conclusions_by_language=lines)


def _with_every_step(engagement: Engagement, values: pd.DataFrame, seed: int) -> pd.DataFrame:
    """`values` with the cohort conversion of each step the KPI set does not measure (a declared
    set that replaced the defaults): making the KPIs measurable measures every step."""
    conversions = values[values["kind"] == "conversion"]
    have = set(zip(conversions["from_phase"], conversions["to_phase"], strict=True))
    lacking = [k for k in default_kpis(engagement)
               if k.kind == "conversion" and (k.from_phase, k.to_phase) not in have]
    if not lacking:
        return values
    return pd.concat([values, compute_kpis(engagement, kpis=lacking, seed=stream(seed, "kpis"))],
                     ignore_index=True)


def _with_ever_converted(engagement: Engagement, values: pd.DataFrame) -> pd.DataFrame:
    """`values` with `ever_rate` beside each windowed conversion: the share of the records that
    reached its from-phase that reached its to-phase at any time (open ones not converted, no
    window), so a reader sees what the window leaves out (8.6% within 90 days, 10.5% ever)."""
    windowed = values["kind"].isin(["conversion", "cumulative_conversion"]) & (
        values["period"].astype(str) != NO_WINDOW)
    if not engagement.dated or not windowed.any():
        return values
    pairs = values.loc[windowed, ["from_phase", "to_phase"]].drop_duplicates()
    ever = {}
    for a, b in pairs.itertuples(index=False):
        shares = reached_conversion(engagement, from_phase=a, to_phase=b)
        ever[(a, b)] = float(shares["rate"].iloc[0]) if len(shares) else float("nan")
    out = values.copy()
    out["ever_rate"] = [ever.get((a, b), float("nan")) if flag else float("nan")
                        for a, b, flag in zip(values["from_phase"], values["to_phase"], windowed,
                                              strict=True)]
    return out


def _summary(conversions: pd.DataFrame) -> pd.DataFrame:
    return summary_frame([{"measure": row.label, "value": row.value, "ci_low": row.ci_low,
                           "ci_high": row.ci_high, "n": row.n, "status": row.status_vs_target}
                          for row in conversions.itertuples(index=False)])


def _headline(conversions: pd.DataFrame, seasonal: SeasonalityResult | None) -> str:
    measured = conversions[conversions["value"].notna()]
    if measured.empty:
        return "No conversion can be measured yet: too few mature records."
    codes = measured["status_code"]
    counts = [f"{int(codes.isin(group).sum())} {prose}" for group, prose in _GROUPS
              if codes.isin(group).any()]
    text = (f"{len(measured)} of {len(conversions)} conversions measured on mature cohorts"
            + (": " + "; ".join(counts) if counts else "") + ".")
    return text + (f" {seasonal.headline}" if seasonal is not None else "")
