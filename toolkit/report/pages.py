"""What each page of the report shows: per step, its sections (a table with its columns, figures),
in the order a board reads them. The content is the step results'; this module only chooses.

Titles and explanations are English msgids (the catalogue translates them). A section whose table
the step did not produce is left out, and the reason the step gives (its `problems`) is shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from toolkit.present.tables import N_

__all__ = ["Section", "STEP_TITLES", "STEP_PURPOSE", "PAGES"]

#: The method's step names: English msgids whose Dutch translations are the method's own names.
STEP_TITLES: dict[int, str] = {
    1: N_("Baseline and starting situation"),
    2: N_("Record the process model"),
    3: N_("Determine the KPIs"),
    4: N_("Make the KPIs measurable"),
    5: N_("Analyse and prioritise"),
    6: N_("Improve and redesign"),
    7: N_("Steer and embed"),
}

#: What each step produces, one line (the index and the top of each step page).
STEP_PURPOSE: dict[int, str] = {
    1: N_("What the exports hold, how clean they are, the raw funnel and how long the engagement "
          "will take."),
    2: N_("The phases of the commercial process with their roles, tasks, actions and output, and "
          "which CRM stages feed them."),
    3: N_("The KPIs, from the management goal down to the conversion between phases."),
    4: N_("The KPIs measured right: conversion per cohort with intervals, time to convert and the "
          "seasons."),
    5: N_("Shortage of leads or leaking opportunities, and the low-hanging fruit sized in orders "
          "and revenue."),
    6: N_("What the main improvement is worth, the volume the targets need and how to test a "
          "change."),
    7: N_("The scorecard against the targets and the signals to steer on."),
}


@dataclass(frozen=True)
class Section:
    """One part of a step page.

    title : English msgid of the heading
    table : the step's table to show (a name in `StepResult.tables`), or None
    columns : the columns shown (names in ``toolkit.present.tables.COLUMNS``)
    figures : the step's figures to show under it (names in `StepResult.figures`)
    lead : one sentence under the heading (English msgid), both editions
    max_rows : rows shown (the workbook has them all)
    headers : column -> msgid replacing the default header
    problem : the `problems` key whose reason is shown when the table is missing
    rows : a filter on the table, column -> values kept (e.g. only conversions)
    """

    title: str
    table: str | None = None
    columns: tuple[str, ...] = ()
    figures: tuple[str, ...] = ()
    lead: str = ""
    max_rows: int | None = 12
    headers: Mapping[str, str] = field(default_factory=dict)
    problem: str | None = None
    rows: Mapping[str, tuple] = field(default_factory=dict)


PAGES: dict[int, tuple[Section, ...]] = {
    1: (
        Section(N_("Data inventory"), "reconciliation",
                ("source", "file", "rows_in", "rows_used", "rows_quarantined", "balanced"),
                lead=N_("Every row of every export is used or set aside with a reason; the counts "
                        "reconcile.")),
        Section(N_("Why rows were set aside"), "quarantine by reason",
                ("source", "reason_code", "rows")),
        Section(N_("Quality of the stage history"), "audit", ("check", "records", "share"),
                problem="audit",
                lead=N_("Skipped phases, moves back, re-opened deals and bulk imports each distort "
                        "a naive funnel; the measurements in step 4 handle them.")),
        Section(N_("The raw funnel"), "funnel",
                ("phase", "reached", "rate_ci", "cumulative_ci", "open", "lost"),
                figures=("funnel",), problem="funnel",
                headers={"rate_ci": N_("Step conversion (95% interval)")},
                lead=N_("Records that reached each phase, all periods together; records still "
                        "open count as not converted, so read it as a first impression.")),
        Section(N_("Readiness and engagement duration"), "duration",
                ("step_name", "weeks_range"), figures=("timeline",), problem="duration", max_rows=None,
                lead=N_("A planning assumption, not a quote: the weeks follow from the five factors "
                        "and coefficients set by judgement, until the firm calibrates them on its "
                        "own finished engagements.")),
        Section(N_("The five duration factors"), "readiness scan",
                ("factor", "score", "basis", "effect_weeks", "advice"), problem="duration",
                lead=N_("Measured where the data shows it (the number of KPIs from the KPI set, the "
                        "starting situation from the data audit, the strengths and weaknesses from "
                        "the raw funnel against the published benchmark), scored with the client "
                        "otherwise. Without all five scores no duration is estimated.")),
    ),
    2: (
        Section(N_("The process schema"), None, figures=("process schema",)),
        Section(N_("Phases"), "phases",
                ("phase_label", "functions", "tasks", "actions", "output", "entry_criteria",
                 "crm_stages"), max_rows=None),
        Section(N_("CRM stages per phase"), "stage mapping", ("source_stage", "phase", "rows"),
                max_rows=20),
    ),
    3: (
        Section(N_("The KPI tree"), "kpi tree", ("node_label", "value", "target"),
                figures=("kpi tree",), problem="tree", max_rows=None,
                lead=N_("Revenue is orders times deal size; orders are entries times each "
                        "conversion.")),
        Section(N_("The KPIs"), "kpi values",
                ("kpi_label", "segment_value", "value_ci", "target", "status_vs_target", "n"),
                problem="values", max_rows=None),
    ),
    4: (
        Section(N_("Conversion per cohort"), "kpis",
                ("kpi_label", "n", "value_ci", "ever_rate", "target", "status_vs_target",
                 "immature_n"),
                figures=("cohort conversion",), problem="kpis",
                rows={"kind": ("conversion",)}, max_rows=None,
                lead=N_("Records that reached a phase in a month, followed for the conversion "
                        "window; records too recent to have had their window are not counted.")),
        Section(N_("Time to convert"), "time to convert",
                ("step", "n", "converted", "median_days_ci", "cif_30d", "cif_90d", "cif_180d"),
                figures=("time to convert",), problem="time to convert",
                lead=N_("The median among records that convert, with lost records competing and "
                        "open records counted until today.")),
        Section(N_("Seasons"), "seasonality tests", ("measure_text", "p_value", "variation"),
                figures=("seasonality",), problem="seasonality"),
    ),
    5: (
        Section(N_("The low-hanging fruit"), "fruit",
                ("rank", "area", "finding_text", "extra_orders_ci", "extra_revenue"),
                problem="fruit", max_rows=10,
                lead=N_("Sized in orders and revenue per year, with a range; the gains overlap, "
                        "so do not add them up.")),
        Section(N_("Bottlenecks"), None, figures=("bottlenecks",)),
        Section(N_("Segments that differ from the typical segment"), "flagged segments",
                ("attribute", "segment_value", "step", "rate_ci", "typical_rate", "p_adjusted"),
                figures=("segment scan",)),
        Section(N_("Mix versus rate"), None, figures=("mix vs rate",)),
        Section(N_("Where records are lost"), "lost by phase",
                ("phase", "n", "lost", "lost_rate_ci", "share_of_lost", "median_days")),
        Section(N_("What each action yields"), "action yield",
                ("action", "n", "rate_ci", "cost_per_lead", "cost_per_order"),
                problem="action yield", headers={"rate_ci": N_("Became a lead (95% interval)")}),
        Section(N_("Stalled records"), "stalled",
                ("record_id", "phase", "days_in_phase", "amount", "owner"), max_rows=10),
    ),
    6: (
        Section(N_("What the main improvement is worth"), "scenario",
                ("measure_per", "baseline_ci", "scenario_ci", "change_ci", "prob_increase"),
                problem="scenario"),
        Section(N_("Entries the order target needs"), "required volume first phase",
                ("month", "required_entries", "current_entries"), problem="required",
                max_rows=12),
        Section(N_("Testing a change"), "experiment", ("total_records", "weeks_until_readable"),
                problem="experiment"),
        Section(N_("Before and after a change"), "change verdicts",
                ("description", "change_date", "step", "effect", "estimate_ci", "p_value"),
                problem="change", max_rows=None,
                lead=N_("Each change the engagement declares, its step's conversion compared "
                        "before and after with mature cohorts only.")),
        Section(N_("Action plan"), "action plan",
                ("plan_what", "who", "horizon", "extra_orders_ci", "kpi_label", "records_needed",
                 "judge_by"), problem="action plan", max_rows=None,
                lead=N_("Each demonstrated gap of the low-hanging fruit as an action from the "
                        "process model, with the records its step needs after the start before "
                        "its effect can be judged (80% power, 5% two-sided) and the date that "
                        "takes at today's inflow.")),
    ),
    7: (
        Section(N_("Scorecard"), "scorecard",
                ("kpi_label", "period", "value_ci", "target", "status", "trend"),
                problem="card", max_rows=None,
                lead=N_("Each KPI on its latest month that is mature and holds enough records to "
                        "judge.")),
        Section(N_("Control chart"), None, figures=("control chart",), problem="chart"),
        Section(N_("What changed since the month before"), "what changed",
                ("kpi_label", "previous_in", "current_in", "change_points", "significant",
                 "p_value"),
                lead=N_("Each KPI on the month the scorecard judged, against the judgeable month "
                        "before it.")),
    ),
}
