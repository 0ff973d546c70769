"""A result table as a reader sees it: the named columns (COLUMNS) and display_table, which
picks them, translates the headers and formats every cell."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from toolkit.base.docstrings import shared_docs
from toolkit.base.phases import PhaseModel
from toolkit.present.format import MISSING, Formatter, is_missing
from toolkit.present.tables.cells import (
    Cell,
    CellContext,
    Column,
    DisplayTable,
    code_cell,
    file_cell,
    has_column,
    interval_cell,
    listed_cell,
    measure_interval_cell,
    phase_cell,
    plain_cell,
    status_cell,
    step_cell,
    step_name_cell,
    unit_interval_cell,
    unit_value_cell,
    value_in_cell,
    weeks_range_cell,
    yes_no_cell,
)
from toolkit.present.tables.findings import (
    SEASON_MEASURES,
    evidence_cell,
    finding_cell,
    hint_cell,
    kpi_label_cell,
    month_text,
    node_label_cell,
    plan_what_cell,
    points_cell,
    points_interval_text,
    scan_finding_cell,
    split_segment_text,
)
from toolkit.present.tables.words import N_, DeclaredLabel, code_text

__all__ = [
    "COLUMNS",
    "display_table",
]


# Interval bounds under their vocabulary names, or the names they had before it (`a|b`).
_BL, _BH = "baseline_ci_low|baseline_low", "baseline_ci_high|baseline_high"
_SL, _SH = "ci_low|low", "ci_high|high"
_CL, _CH = "change_ci_low|change_low", "change_ci_high|change_high"
_OL, _OH = "extra_orders_ci_low|extra_orders_low", "extra_orders_ci_high|extra_orders_high"
_RL, _RH = "extra_revenue_ci_low|extra_revenue_low", "extra_revenue_ci_high|extra_revenue_high"

#: Every column a report table can show: name -> header (English msgid), the frame's columns it
#: needs, how a cell is written.
COLUMNS: dict[str, Column] = {
    # data inventory
    "source": Column(N_("Source"), ("source",), plain_cell("source", "text")),
    "file": Column(N_("File"), ("file",), file_cell("file")),
    "rows_in": Column(N_("Rows in"), ("rows_in",), plain_cell("rows_in", "count")),
    "rows_used": Column(N_("Rows used"), ("rows_used",), plain_cell("rows_used", "count")),
    "rows_quarantined": Column(N_("Rows set aside"), ("rows_quarantined",),
                                plain_cell("rows_quarantined", "count")),
    "balanced": Column(N_("Reconciles"), ("balanced",), yes_no_cell("balanced")),
    "reason": Column(N_("Reason"), ("reason",), plain_cell("reason", "text")),
    "reason_code": Column(N_("Reason"), ("reason_code",), code_cell("reason_code")),
    "rows": Column(N_("Rows"), ("rows",), plain_cell("rows", "count")),
    # a check's words begin with a capital, as a row heading (won_reversed is also a reason)
    "check": Column(N_("Check"), ("check",), lambda row, c: Cell(
        (lambda words: words[:1].upper() + words[1:])(code_text(row["check"], c.fmt)))),
    "records": Column(N_("Records"), ("records",), plain_cell("records", "count")),
    "share": Column(N_("Share"), ("share",), plain_cell("share", "percent")),
    # funnel
    "phase": Column(N_("Phase"), ("phase",), phase_cell("phase")),
    "phase_label": Column(N_("Phase"), ("label",), plain_cell("label", "text")),
    "reached": Column(N_("Reached"), ("reached",), plain_cell("reached", "count")),
    "n": Column(N_("Records"), ("n",), plain_cell("n", "count")),
    "successes": Column(N_("Converted"), ("successes",), plain_cell("successes", "count")),
    "open": Column(N_("Open"), ("open",), plain_cell("open", "count")),
    "lost": Column(N_("Lost"), ("lost",), plain_cell("lost", "count")),
    "step": Column(N_("Step"), ("from_phase", "to_phase"), step_cell),
    "rate": Column(N_("Conversion"), ("rate",), plain_cell("rate", "percent")),
    "ever_rate": Column(N_("Ever converted, no window"), ("ever_rate",),
                         plain_cell("ever_rate", "percent")),
    "rate_ci": Column(N_("Conversion (95% interval)"), ("rate", "ci_low", "ci_high"),
                       interval_cell("rate", "ci_low", "ci_high", "percent")),
    "lost_rate_ci": Column(N_("Lost (95% interval)"), ("rate", "ci_low", "ci_high"),
                            interval_cell("rate", "ci_low", "ci_high", "percent")),
    "cumulative_ci": Column(N_("From the first phase (95% interval)"),
                             ("cumulative_rate", "cumulative_ci_low", "cumulative_ci_high"),
                             interval_cell("cumulative_rate", "cumulative_ci_low",
                                       "cumulative_ci_high", "percent")),
    "immature_n": Column(N_("Too recent to count"), ("immature_n",),
                          plain_cell("immature_n", "count")),
    "period": Column(N_("Period"), ("period",), plain_cell("period", "period")),
    "month": Column(N_("Month"), ("month",), lambda row, c: Cell(month_text(row["month"], c.fmt))),
    # readiness and duration
    "factor": Column(N_("Factor"), ("factor",), code_cell("factor")),
    "score": Column(N_("Score (1-5)"), ("score",), plain_cell("score", "count")),
    "basis": Column(N_("Basis"), ("basis",), code_cell("basis")),
    "advice": Column(N_("Advice"), ("advice_code",), code_cell("advice_code")),
    "effect_weeks": Column(N_("Effect (weeks)"), ("effect_weeks",),
                            plain_cell("effect_weeks", "number")),
    "step_name": Column(N_("Step"), ("step_name_nl", "step_name_en"), step_name_cell),
    "weeks_range": Column(N_("Weeks (range)"), ("weeks", "weeks_low", "weeks_high"),
                           weeks_range_cell),
    # process model
    "functions": Column(N_("Functions (roles)"), ("functions",), listed_cell("functions")),
    "tasks": Column(N_("Tasks"), ("tasks",), listed_cell("tasks")),
    "actions": Column(N_("Actions"), ("actions",), listed_cell("actions")),
    "output": Column(N_("Output"), ("output",), listed_cell("output")),
    "entry_criteria": Column(N_("Entry criteria"), ("entry_criteria",),
                              listed_cell("entry_criteria")),
    "crm_stages": Column(N_("CRM stages"), ("crm_stages",), listed_cell("crm_stages")),
    "source_stage": Column(N_("CRM stage"), ("source_stage",), plain_cell("source_stage", "text")),
    # KPIs
    "kpi_label": Column(N_("KPI"), ("label",), kpi_label_cell),
    "node_label": Column(N_("KPI"), ("node", "label"), node_label_cell),
    "value_ci": Column(N_("Value (95% interval)"), ("value", "ci_low", "ci_high"),
                        unit_interval_cell("value", "ci_low", "ci_high")),
    "value": Column(N_("Value"), ("value",), unit_value_cell("value")),
    "target": Column(N_("Target"), ("target",), unit_value_cell("target")),
    "status_vs_target": Column(N_("Status"), ("status_vs_target",),
                                status_cell("status_vs_target")),
    "status": Column(N_("Status"), ("status",), status_cell("status")),
    "trend": Column(N_("Trend"), ("trend",), code_cell("trend")),
    "change": Column(N_("Change on the month before"), ("change",), points_cell("change")),
    "owner": Column(N_("Owner"), ("owner",), plain_cell("owner", "text")),
    # time to convert
    "converted": Column(N_("Converted"), ("converted",), plain_cell("converted", "count")),
    "median_days_ci": Column(N_("Median days to convert (95% interval)"),
                              ("median_days", "median_ci_low", "median_ci_high"),
                              interval_cell("median_days", "median_ci_low", "median_ci_high",
                                        "days")),
    "cif_30d": Column(N_("Converted by day 30"), ("cif_30d",), plain_cell("cif_30d", "percent")),
    "cif_90d": Column(N_("Converted by day 90"), ("cif_90d",), plain_cell("cif_90d", "percent")),
    "cif_180d": Column(N_("Converted by day 180"), ("cif_180d",),
                        plain_cell("cif_180d", "percent")),
    # seasonality
    "p_value": Column(N_("p-value"), ("p_value",), plain_cell("p_value", "p_value")),
    "p_adjusted": Column(N_("p-value (adjusted)"), ("p_adjusted",),
                          plain_cell("p_adjusted", "p_value")),
    "variation": Column(N_("Month-to-month variation"), ("coefficient_of_variation",),
                         plain_cell("coefficient_of_variation", "percent")),
    "months": Column(N_("Months"), ("months",), plain_cell("months", "count")),
    "volume": Column(N_("Volume"), ("volume",), plain_cell("volume", "count")),
    # diagnosis
    "rank": Column(N_("#"), ("rank",), plain_cell("rank", "count")),
    "area": Column(N_("Area"), ("area",), code_cell("area")),
    "finding": Column(N_("Finding"), ("finding",), plain_cell("finding", "text")),
    "finding_text": Column(N_("Finding"), ("area",), finding_cell),
    "action_hint_text": Column(N_("Action hint"), ("area",), hint_cell),
    "scan_finding_text": Column(N_("Finding"), ("attribute", "segment", "from_phase", "to_phase"),
                                 scan_finding_cell),
    "evidence_text": Column(N_("Evidence"), ("area",), evidence_cell),
    "measure_text": Column(N_("Measure"), ("measure_index",), lambda row, c: Cell(
        c.fmt.gettext(SEASON_MEASURES[int(row["measure_index"])]))),
    "kpi_key": Column(N_("KPI"), ("kpi",), phase_cell("kpi")),
    # the action plan (step 6)
    "plan_what": Column(N_("Action"), ("what_code", "phase", "what_items"), plan_what_cell),
    "who": Column(N_("Who"), ("who",), plain_cell("who", "text")),
    "horizon": Column(N_("Horizon"), ("horizon",), code_cell("horizon")),
    "records_needed": Column(N_("Records needed after the start"), ("records_needed",),
                              plain_cell("records_needed", "count")),
    "judge_by": Column(N_("Can be judged by"), ("judge_by",), plain_cell("judge_by", "date")),
    "plan_status": Column(N_("Status"), ("status",), code_cell("status")),
    "extra_orders_ci": Column(N_("Extra orders per year (range)"), ("extra_orders", _OL, _OH),
                               interval_cell("extra_orders", _OL, _OH, "count")),
    "extra_revenue": Column(N_("Extra revenue per year"), ("extra_revenue",),
                             plain_cell("extra_revenue", "amount")),
    "extra_revenue_ci": Column(N_("Extra revenue per year (range)"),
                                ("extra_revenue", _RL, _RH),
                                interval_cell("extra_revenue", _RL, _RH, "amount")),
    "reference_rate": Column(N_("Reference"), ("reference_rate",),
                              plain_cell("reference_rate", "percent")),
    "attribute": Column(N_("Attribute"), ("attribute",),
                         lambda row, c: Cell(c.attribute(row["attribute"]))),
    # a KPI split by segment names it "action=network": shown "Actie: network"
    "segment_value": Column(N_("Segment"), ("segment",), lambda row, c: Cell(
        split_segment_text(row["segment"], c))),
    "typical_rate": Column(N_("Typical segment"), ("typical_rate",),
                            plain_cell("typical_rate", "percent")),
    "share_of_lost": Column(N_("Share of all lost"), ("share_of_lost",),
                             plain_cell("share_of_lost", "percent")),
    "median_days": Column(N_("Median days"), ("median_days",), plain_cell("median_days", "days")),
    "record_id": Column(N_("Record"), ("record_id",), plain_cell("record_id", "text")),
    "days_in_phase": Column(N_("Days in phase"), ("days_in_phase",),
                             plain_cell("days_in_phase", "days")),
    "amount": Column(N_("Amount"), ("value",), plain_cell("value", "amount")),
    "action": Column(N_("Action"), ("action",), plain_cell("action", "text")),
    "cost_per_lead": Column(N_("Cost per lead"), ("cost_per_lead",),
                             plain_cell("cost_per_lead", "amount")),
    "cost_per_order": Column(N_("Cost per order"), ("cost_per_order",),
                              plain_cell("cost_per_order", "amount")),
    # improvement
    "measure": Column(N_("Measure"), ("measure",), code_cell("measure")),
    # the what-if's orders are simulated from the inflow of complete months: another quantity
    # than step 3's implied orders or the orders counted per month, and labelled as such
    "measure_per": Column(N_("Measure"), ("measure", "period"), lambda row, c: Cell(
        c.fmt.gettext("{measure} per {period} (simulated)").format(
            measure=code_text(row["measure"], c.fmt), period=code_text(row["period"], c.fmt)))),
    "baseline_ci": Column(N_("Now (range)"), ("baseline", _BL, _BH),
                           measure_interval_cell("baseline", _BL, _BH)),
    "scenario_ci": Column(N_("With the improvement (range)"), ("scenario", _SL, _SH),
                           measure_interval_cell("scenario", _SL, _SH)),
    "change_ci": Column(N_("Change (range)"), ("change", _CL, _CH),
                         measure_interval_cell("change", _CL, _CH)),
    "prob_increase": Column(N_("Chance of an increase"), ("prob_increase",),
                             plain_cell("prob_increase", "percent")),
    "required_entries": Column(N_("Entries needed"), ("required_entries",),
                                plain_cell("required_entries", "number")),
    "current_entries": Column(N_("Entries now"), ("current_entries",),
                               plain_cell("current_entries", "number")),
    "total_records": Column(N_("Records a test needs"), ("total_records",),
                             plain_cell("total_records", "count")),
    "weeks_until_readable": Column(N_("Weeks until readable"), ("weeks_until_readable",),
                                    plain_cell("weeks_until_readable", "weeks")),
    # before and after a declared change
    "description": Column(N_("Process change"), ("description",),
                           plain_cell("description", "text")),
    "change_date": Column(N_("Date"), ("change_date",), plain_cell("change_date", "date")),
    "effect": Column(N_("Effect"), ("effect",), code_cell("effect")),
    "estimate_ci": Column(N_("Estimate (95% interval)"), ("estimate", "ci_low", "ci_high"),
                           lambda row, c: Cell(points_interval_text(row, c), "num")),
    # steering
    "previous": Column(N_("Month before"), ("previous",), plain_cell("previous", "percent")),
    "current": Column(N_("Latest month"), ("current",), plain_cell("current", "percent")),
    # the months compared are named in the cell: the scorecard's judged month and the
    # judgeable month before it, a rate as a percentage and any other KPI as a number
    "previous_in": Column(N_("Month before"), ("previous", "previous_period"),
                           lambda row, c: value_in_cell(row, "previous", "previous_period", c)),
    "current_in": Column(N_("Judged month"), ("current", "period"),
                          lambda row, c: value_in_cell(row, "current", "period", c)),
    "change_points": Column(N_("Change"), ("change",), points_cell("change")),
    "significant": Column(N_("Significant"), ("significant",), yes_no_cell("significant")),
    "rule": Column(N_("Rule"), ("rule",), plain_cell("rule", "text")),
}

#: Most columns a table shows side by side; a wider spec is cut here (the workbook has them all).
MAX_COLUMNS = 7


@shared_docs
def display_table(frame: pd.DataFrame, columns: Sequence[str], *, fmt: Formatter,
                  phases: PhaseModel | None = None, labels: Mapping[str, str] | None = None,
                  max_rows: int | None = None, headers: Mapping[str, str] | None = None,
                  attributes: Mapping[str, str] | None = None) -> DisplayTable:
    """`frame` as a reader sees it.

    Parameters
    ----------
    frame
        A result table with the library's column names.
    columns
        Names from :data:`COLUMNS`, in the order shown; one whose columns the frame lacks is left
        out, and at most :data:`MAX_COLUMNS` are shown.
    {shared.fmt}
    phases, labels
        How phase keys become labels: the engagement's phase model, and extra key -> label pairs
        (e.g. KPI keys).
    max_rows
        Show the first rows only, with a note saying how many there are (all are in the workbook).
    headers
        Column name -> English msgid replacing the default header (e.g. "KPI" for `kpi_label`).
    attributes
        Segment attribute -> the column header it is read from (:func:`attribute_headers`), so
        an attribute is named by its label (:func:`attribute_label`), not its YAML key; a column
        holding an attribute (`action`, `owner`) is headed by the label the YAML declares for it.

    Returns
    -------
    DisplayTable
        The headers, the rows of cells, which columns are numeric (set right-aligned), a
        note (on rows left out) and whether the table is wide.

    Raises
    ------
    KeyError
        A name in `columns` is not in :data:`COLUMNS`.
    """
    unknown = [c for c in columns if c not in COLUMNS]
    if unknown:
        raise KeyError(f"display_table: no column {unknown} in the report's vocabulary; "
                       f"add it to toolkit.present.tables.COLUMNS")
    shown = [c for c in columns if all(has_column(frame.columns, need) for need in COLUMNS[c].needs)]
    shown = shown[:MAX_COLUMNS]
    context = CellContext(fmt=fmt, phases=phases, labels=dict(labels or {}),
                       attributes=dict(attributes or {}))
    part = frame if max_rows is None else frame.head(max_rows)
    rows = [[COLUMNS[c].render(row, context) for c in shown]
            for _, row in part.iterrows()]
    numeric = [bool(rows) and all(r[i].kind == "num" for r in rows) for i in range(len(shown))]
    note = ""
    if max_rows is not None and len(frame) > max_rows:
        note = fmt.gettext("The first {shown} of {total} rows; the workbook has them all.").format(
            shown=fmt.count(max_rows), total=fmt.count(len(frame)))
    names = dict(headers or {})

    def header(column: str) -> str:
        # a column that holds an attribute (`action`, `owner`) under the label the YAML declares
        declared = context.attributes.get(column)
        if column not in names and isinstance(declared, DeclaredLabel):
            return str(declared)
        return fmt.gettext(names.get(column, COLUMNS[column].header))

    return DisplayTable(headers=[header(c) for c in shown], rows=rows, numeric=numeric, note=note,
                        wide=len(shown) > 5)


@shared_docs
def cell_text(value: Any, fmt: Formatter) -> str:
    """A lone value of unknown kind as a cell's text.

    Parameters
    ----------
    value : object
        A number, a truth value, a code or text.
    {shared.fmt}

    Returns
    -------
    str
        Numbers by the formatter (by their size), yes/no in the formatter's language, codes as
        words, text as it is, a missing value as "n/a".
    """
    if is_missing(value):
        return MISSING
    if isinstance(value, bool):
        return fmt.gettext("yes") if value else fmt.gettext("no")
    if isinstance(value, int | float):
        return fmt.number(value)
    return code_text(value, fmt)
