"""The workbook's words in the engagement's language: sheet names, column headers and the `About`
sheet's descriptions.

The frames keep the library's column names (``rows_in``, ``ci_low`` ...): the workbook is formatted
by them (percent, count and p-value columns) and an English workbook shows them as they are, for
the analysts who read it back by name. In another language only the header cells and the sheet
names are written in that language; every value below the header stays the number it was.
"""

from __future__ import annotations

from toolkit.present.format import Formatter
from toolkit.present.tables import COLUMNS, N_

__all__ = ["SHEET_NAMES", "ABOUT", "PASSED_IN", "sheet_name", "header"]

#: The workbook's own sheets (English name -> msgid; the English name is the msgid).
SHEET_NAMES = {
    "Scorecard": N_("Scorecard"), "KPIs": N_("KPIs"), "Funnel": N_("Funnel"),
    "Low-hanging fruit": N_("Low-hanging fruit"), "Segment scan": N_("Segment scan"),
    "Notes": N_("Notes"), "Quarantine": N_("Quarantine"), "Reconciliation": N_("Reconciliation"),
    "About": N_("About"),
}

#: What each of the workbook's own sheets holds (the `About` sheet).
ABOUT = {
    "Scorecard": N_("Step 7's scorecard: per rate KPI (conversions, cumulative conversion, win "
                    "rate) its latest month that is mature and holds enough records, with value, "
                    "95% interval, target, status (exact binomial test) and trend over six "
                    "months."),
    "KPIs": N_("Every KPI over all mature data, with n, 95% interval, target and status."),
    "Funnel": N_("Records that reached each phase; step and cumulative conversion with 95% "
                 "Wilson intervals (all-time view: open records still counted as not "
                 "converted)."),
    "Low-hanging fruit": N_("Step 5's ranked list: sized gains in orders and revenue with a "
                            "range, then the unsized findings. The gains overlap: do not add "
                            "them up."),
    "Segment scan": N_("Step 5's segments against the typical segment of their attribute, "
                       "adjusted across the scan."),
    "Notes": N_("What the diagnosis noted about the data (left out of the scan, caveats)."),
    "Quarantine": N_("Every source row that was not used, with the reason."),
    "Reconciliation": N_("Per source file: rows_in = rows_used + rows_quarantined."),
}

#: What the `About` sheet says of a sheet the caller passed in.
PASSED_IN = N_("Passed in by the run.")

# Headers of the workbook's columns that the report's tables (toolkit.present.tables.COLUMNS)
# do not name one to one, or name alike (`reason` and `reason_code` are both "Reason" there).
_HEADERS = {
    "action_hint": N_("Action hint"), "adjust": N_("Multiple-testing adjustment"),
    "attribute_p_value": N_("p-value of the attribute"),
    "ci_low": N_("95% interval, low"), "ci_high": N_("95% interval, high"),
    "column": N_("Column"), "cumulative_rate": N_("From the first phase"),
    "cumulative_ci_low": N_("From the first phase, 95% interval low"),
    "cumulative_ci_high": N_("From the first phase, 95% interval high"),
    "diff": N_("Difference with the rest"), "diff_ci_low": N_("Difference, 95% interval low"),
    "diff_ci_high": N_("Difference, 95% interval high"), "direction": N_("Direction"),
    "evidence": N_("Evidence"), "extra_orders": N_("Extra orders per year"),
    "extra_orders_low": N_("Extra orders per year, low"),
    "extra_orders_high": N_("Extra orders per year, high"), "flagged": N_("Flagged"),
    "from_phase": N_("From phase"), "to_phase": N_("To phase"),
    "higher_is_better": N_("Higher is better"), "kind": N_("Kind"), "kpi": N_("KPI key"),
    "label": N_("Name"), "note": N_("Note"), "odds_ratio": N_("Odds ratio"),
    "or_ci_low": N_("Odds ratio, 95% interval low"),
    "or_ci_high": N_("Odds ratio, 95% interval high"), "open_n": N_("Open records"),
    "previous_value": N_("Previous value"), "reference": N_("Reference kind"),
    "reference_rate": N_("Reference rate"), "rest_n": N_("Records in the rest"),
    "rest_successes": N_("Converted in the rest"), "rest_rate": N_("Conversion in the rest"),
    "segment": N_("Segment"), "source_row": N_("Row in the source"),
    "status_code": N_("Status code"), "test_method": N_("Test"),
    "trend_p_value": N_("p-value of the trend"), "typical_n": N_("Records in the typical segment"),
    "typical_successes": N_("Converted in the typical segment"), "unit": N_("Unit"),
    "reason_code": N_("Reason code"), "item": N_("Item"), "description": N_("Description"),
}


def sheet_name(name: str, fmt: Formatter) -> str:
    """A sheet's name in the formatter's language (a sheet the caller named stays as named)."""
    return fmt.gettext(SHEET_NAMES[name]) if name in SHEET_NAMES else name


def header(column: object, fmt: Formatter) -> str:
    """A column's header: its library name in English, its name in words in another language (a
    column the toolkit does not know stays as named)."""
    name = str(column)
    if fmt.language == "en":
        return name
    if name in _HEADERS:
        return fmt.gettext(_HEADERS[name])
    if name in COLUMNS and COLUMNS[name].needs == (name,):
        return fmt.gettext(COLUMNS[name].header)
    return name
