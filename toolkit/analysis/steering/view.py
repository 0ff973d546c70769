"""Step 7 in one object: monthly KPIs, the scorecard, the control chart of the KPI steered on, and
the period report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from toolkit.analysis.diagnosis import bottleneck_sizing
from toolkit.analysis.steering.checks import prepare_kpis
from toolkit.analysis.steering.control import control_chart, run_rules
from toolkit.analysis.steering.period import PeriodReport, period_report
from toolkit.analysis.steering.scorecard import judgeable_of, scorecard
from toolkit.base.docstrings import shared_docs
from toolkit.base.drawing import draw
from toolkit.base.exceptions import DATA_ERRORS, DataError
from toolkit.base.vocabulary import (
    MIN_N,
    Reason,
    Seed,
    check_option,
    reason_of,
    seed_sequence,
    stream,
)
from toolkit.io.engagement import Engagement
from toolkit.measure.kpis import KPI, compute_kpis, default_kpis, kpis_from_config


@shared_docs
def monthly_kpis(engagement: Engagement, *, kpis: Sequence[KPI] | None = None) -> pd.DataFrame:
    """The KPI frame management steers on: every rate KPI per cohort month, mature months only.

    Conversion KPIs of the last months are still inside their window; a month with no mature
    record carries no rate yet and is left out, so the scorecard's "latest period" is the latest
    one that can be judged (its `immature_n` says how many records are still waiting).

    Parameters
    ----------
    {shared.engagement}
    kpis : sequence of KPI, optional
        The KPIs to take the rate KPIs from; default the engagement's KPI set.

    Returns
    -------
    DataFrame
        The tidy KPI frame of ``compute_kpis`` (by month), the KPIs in the KPI set's order (the
        process order), each by period.

    Raises
    ------
    NeedsDates
        A lead list without dates has no months.
    """
    engagement.require_dates("KPIs by month (control charts, scorecard)")
    chosen = [k for k in (kpis or kpis_from_config(engagement))
              if k.kind in ("conversion", "cumulative_conversion", "win_rate")]
    frame = compute_kpis(engagement, kpis=chosen, period="month")
    frame = frame[frame["n"].fillna(0) > 0]
    # the KPI set's order (the process order: target -> lead before lead -> opportunity), not the
    # alphabet of the KPI names, which put "discovery -> qualified" before "lead -> discovery"
    place = {kpi.name: i for i, kpi in enumerate(chosen)}
    order = frame["kpi"].map(place).fillna(len(place))
    return (frame.assign(_place=order).sort_values(["_place", "period"], kind="stable")
            .drop(columns="_place").reset_index(drop=True))


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


@shared_docs
def steering_view(engagement: Engagement, *, steer_on: str | None = None,
                  benchmarks: pd.DataFrame | None = None, seed: Seed = 0,
                  sizing: pd.DataFrame | None = None) -> SteeringView:
    """Compute step 7.

    Alerts and the period report only judge months that are mature and hold at least
    ``MIN_N`` records; the chart shows every month.

    Parameters
    ----------
    {shared.engagement}
    steer_on : str, optional
        The conversion KPI to chart; default the top bottleneck of step 5
        (``conversion_<from>_<to>``) among the steps some records pass and some do not, from
        `sizing` when step 5's bottleneck sizing is passed, else sized here with `benchmarks`
        and `seed`. A name that is no KPI of the engagement raises OptionError.
    {shared.benchmarks}
    {shared.seed}
    sizing : DataFrame, optional
        Step 5's bottleneck sizing (``LowHangingFruit.sizing``).

    Returns
    -------
    SteeringView
        The monthly KPIs, the scorecard, the control chart of the steering conversion with its
        alerts, and the period report; a part the data cannot carry is None with the reason in
        ``problems``.
    """
    engagement.require_dates("Steering (control charts and the scorecard by month)")
    seed = seed_sequence(seed)
    if steer_on is not None:  # a KPI name the engagement has not is the caller's, not the data's
        steer_on = check_option("steer_on", steer_on, sorted(
            {k.name for k in default_kpis(engagement)} | {k.name for k in kpis_from_config(engagement)}),
            fix="name a conversion KPI such as conversion_lead_opportunity, or None for step 5's "
                "top bottleneck")
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
    except DATA_ERRORS as exc:
        problems["card"] = reason_of(exc)
    if steer_on is None:
        try:
            if sizing is None:
                sizing = bottleneck_sizing(engagement, benchmarks=benchmarks,
                                           seed=stream(seed, "sizing"))
            usable = sizing.dropna(subset=["rate", "reference_rate"])
            # a step every record passes (or none does) has no failure to chart: nothing to steer
            usable = usable[(usable["rate"] > 0) & (usable["rate"] < 1)]
            if len(usable):
                top = usable.iloc[0]
                steer_on = f"conversion_{top['from_phase']}_{top['to_phase']}"
            else:
                problems["chart"] = Reason(
                    "too few mature records to choose a conversion to steer on (no transition "
                    "could be compared with a reference)", "no_steering_step")
        except DATA_ERRORS as exc:
            problems["chart"] = f"no bottleneck to steer on: {exc}"
    if steer_on is not None:
        series = monthly[monthly["kpi"] == steer_on]
        step_kpi = [k for k in default_kpis(engagement) if k.name == steer_on]
        if series.empty and step_kpi:
            # a declared KPI set that replaced the defaults lacks the step's conversion: the
            # chart measures it all the same (the scorecard and `monthly` keep to the declared
            # KPIs)
            series = monthly_kpis(engagement, kpis=step_kpi)
        judged = series[judgeable_of(prepare_kpis(series, higher_is_better=True, argument="kpis"),
                                   MIN_N)] if len(series) else series
        try:
            chart = control_chart(series)
            # an alert only on a month that can be judged (mature, at least MIN_N records)
            alerts = run_rules(chart)
            alerts = alerts[alerts["period"].isin(judged["period"])].reset_index(drop=True)
        except DATA_ERRORS as exc:
            problems["chart"] = f"{steer_on}: {exc}"
        try:
            period = judged["period"].max() if len(judged) else None
            if period is None:
                problems["report"] = Reason(
                    f"no month of {steer_on} can be judged yet: each is immature or has fewer "
                    f"than {MIN_N} records", "no_judgeable_month", {"kpi": steer_on, "n": MIN_N})
            else:
                report = period_report(monthly, alerts, period_label=period, card=card)
        except DATA_ERRORS as exc:
            problems["report"] = reason_of(exc)
    else:
        # the period report is written around the steering conversion: without one, say why
        why = problems.get("chart", "none was chosen")
        problems["report"] = Reason("no period report without a conversion to steer on: " + why,
                                    "no_period_report", {"why": why})
    return SteeringView(monthly, card, steer_on, chart, alerts, report, problems)
