"""The workbook's words in the engagement's language: sheet names, column headers, the `About`
sheet's descriptions and the text in the cells.

The frames keep the library's column names (``rows_in``, ``ci_low`` ...) while the workbook is
written, because the cells are formatted by them (percent, count and p-value columns); the header
row then names each column in words of the workbook's language (:func:`header`), in English as in
Dutch. Every sentence in a cell is written in that language from its code or its fields
(:func:`in_language`): a status, a trend, a finding, its evidence and action hint, a quarantine
reason, a scorecard note, never the library's own English sentence with its keys and e-notation.
Numbers stay the numbers they were; codes (``kpi``, ``kind``, ``status_code``, ``reason_code``,
phase keys) stay codes, for the analyst who filters on them; an attribute is named by its label,
as on the pages.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from toolkit.base.docstrings import shared_docs
from toolkit.base.findings import Finding
from toolkit.base.vocabulary import Reason
from toolkit.measure.funnel import NEEDS_DATES, NO_WINDOW
from toolkit.present.findings import render
from toolkit.present.format import MISSING, Formatter, is_missing
from toolkit.present.problems import problem_text
from toolkit.present.tables import (
    COLUMNS,
    N_,
    NOT_MEASURED,
    REFERENCE_WORDS,
    attribute_label,
    code_text,
    display_table,
)

__all__ = ["SHEET_NAMES", "ABOUT", "PASSED_IN", "sheet_name", "header", "known_header",
           "in_language"]

#: The workbook's own sheets (English name -> msgid; the English name is the msgid).
SHEET_NAMES = {
    "Scorecard": N_("Scorecard"), "KPIs": N_("KPIs"), "Funnel": N_("Funnel"),
    "Low-hanging fruit": N_("Low-hanging fruit"), "Segment scan": N_("Segment scan"),
    "Notes": N_("Notes"), "Action plan": N_("Action plan"), "Quarantine": N_("Quarantine"),
    "Reconciliation": N_("Reconciliation"),
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
    "Action plan": N_("Step 6's action plan: each demonstrated gap of the low-hanging fruit as "
                      "an action from the process model, its expected effect, the KPI that will "
                      "show it and when it can be judged; status and start are kept in "
                      "plan.yaml beside the engagement YAML."),
    "Notes": N_("What the diagnosis noted about the data (left out of the scan, caveats)."),
    "Quarantine": N_("Every source row that was not used, with the reason."),
    "Reconciliation": N_("Per source file: rows in = rows used + rows set aside."),
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
    "side": N_("Side of the funnel"),
    "reference_rate": N_("Reference rate"), "rest_n": N_("Records in the rest"),
    "rest_successes": N_("Converted in the rest"), "rest_rate": N_("Conversion in the rest"),
    "segment": N_("Segment"), "source_row": N_("Row in the source"),
    "status_code": N_("Status code"), "test_method": N_("Test"),
    "trend_p_value": N_("p-value of the trend"), "typical_n": N_("Records in the typical segment"),
    "typical_successes": N_("Converted in the typical segment"), "unit": N_("Unit"),
    "reason_code": N_("Reason code"), "item": N_("Item"), "description": N_("Description"),
    "threshold_days": N_("Stalled after (days)"), "stalled_value": N_("Value of the stalled records"),
    "entries_ci_low": N_("Entries per month, 95% interval low"),
    "entries_ci_high": N_("Entries per month, 95% interval high"),
    "orders_target": N_("Orders per month in the target"),
    "order_rate": N_("Conversion to order now"), "rate_effect": N_("Rate effect"),
    "mix_effect": N_("Mix effect"), "p_pooled": N_("p-value, pooled"),
    "p_within": N_("p-value within the segments"),
    "period_a": N_("First period"), "period_b": N_("Second period"),
    "rate_a": N_("Conversion in the first period"),
    "rate_b": N_("Conversion in the second period"),
    "share_a": N_("Segment's share in the first period"),
    "share_b": N_("Segment's share in the second period"),
    "stall_quantile": N_("Percentile of the stall threshold"),
    "moved_n": N_("Records that moved on"),
    "missing_reason": N_("Not measured because"),
    "judgement": N_("Judgement"), "held_fixed": N_("Held fixed in its model"),
    "year_held": N_("Cohort year held fixed"),
    "action_id": N_("Action id"), "what": N_("Action"), "what_code": N_("Kind of action"),
    "what_items": N_("Tasks or actions of the phase"),
    "extra_revenue_low": N_("Extra revenue per year, low"),
    "extra_revenue_high": N_("Extra revenue per year, high"),
    "expected_rate": N_("Expected rate"), "inflow_per_month": N_("Inflow per month"),
    "needed_inflow_per_month": N_("Inflow per month needed"),
    "window_days": N_("Window (days)"), "start": N_("Start"),
}


#: The multiple-testing adjustments of the segment scan (``toolkit.stats.ADJUST_METHODS``) by the
#: names of their authors: the statsmodels key (``fdr_bh``) is no word of the workbook.
_ADJUST_WORDS = {
    "holm": N_("Holm"), "fdr_bh": N_("Benjamini-Hochberg (false discovery rate)"),
    "bonferroni": N_("Bonferroni"), "hommel": N_("Hommel"),
    "fdr_by": N_("Benjamini-Yekutieli (false discovery rate)"),
    "holm-sidak": N_("Holm-Šidák"), "sidak": N_("Šidák"),
}


@shared_docs
def sheet_name(name: str, fmt: Formatter) -> str:
    """A sheet's name in the formatter's language (a sheet the caller named stays as named).

    Parameters
    ----------
    name : str
        The sheet's English name.
    {shared.fmt}

    Returns
    -------
    str
    """
    return fmt.gettext(SHEET_NAMES[name]) if name in SHEET_NAMES else name


def known_header(column: object) -> str | None:
    """The msgid naming a workbook column in words.

    Parameters
    ----------
    column : object
        The column's name.

    Returns
    -------
    str or None
        The msgid; None for a column the toolkit does not know (a test holds every column of
        the workbook's own sheets to having one).
    """
    name = str(column)
    if name in _HEADERS:
        return _HEADERS[name]
    if name in COLUMNS and COLUMNS[name].needs == (name,):
        return COLUMNS[name].header
    return None


@shared_docs
def header(column: object, fmt: Formatter) -> str:
    """A column's header in words of the formatter's language (a column the toolkit does not know
    stays as named).

    Parameters
    ----------
    column : object
        The column's name.
    {shared.fmt}

    Returns
    -------
    str
    """
    msgid = known_header(column)
    return str(column) if msgid is None else fmt.gettext(msgid)


_AS_OF = re.compile(r"^as of (\d{4}-\d{2}-\d{2})$")

#: The periods of a KPI measured without dates (``toolkit.measure``), in words.
_UNDATED_PERIODS = {NO_WINDOW: N_("all (no dates, so no cohort window)"),
                    NEEDS_DATES: N_("n/a: needs dates"), "at export": N_("at the export")}


def _words(values: pd.Series, write: Callable[[Any], Any]) -> pd.Series:
    """`write` once per distinct value (a quarantine of 100,000 rows holds a dozen reasons)."""
    seen = {value: write(value) for value in pd.unique(values.astype(object))}
    return values.astype(object).map(seen)


def _shown(frame: pd.DataFrame, column: str, fmt: Formatter, **context: Any) -> list[str]:
    """One report column (``toolkit.present.tables.COLUMNS``) over every row of `frame`."""
    table = display_table(frame, [column], fmt=fmt, **context)
    if not table.headers:
        return list(frame.get(column, pd.Series([MISSING] * len(frame))))
    return [row[0].text for row in table.rows]


def in_language(frame: pd.DataFrame, fmt: Formatter, *, phases: Any = None,
                attributes: Mapping[str, str] | None = None,
                kpi_fields: pd.DataFrame | None = None) -> pd.DataFrame:
    """A sheet's text cells in the formatter's language, written from their codes and fields.

    Parameters
    ----------
    frame
        A workbook sheet with the library's column names.
    fmt
        The one formatter (``toolkit.present.format``) in the report's language.
    phases, attributes
        The engagement's phase model and attribute headers, which name phases and attributes.
    kpi_fields
        Per KPI its ``kind`` and phases (the KPI tables of steps 3 and 4), so a KPI named by the
        toolkit is named in the language when the sheet itself lacks them (the scorecard).

    Returns
    -------
    DataFrame
        The sheet with its text cells in the language.
    """
    if frame.empty:
        return frame
    out = frame.copy()
    context = {"phases": phases, "attributes": attributes}

    def code_words(value: object) -> str:
        return "" if is_missing(value) or value == "" else code_text(value, fmt)

    if "attribute" in out:
        out["attribute"] = _words(out["attribute"], lambda v: v if is_missing(v) else
                                  attribute_label(v, fmt, attributes))
    for column in ("status", "status_vs_target"):
        if column in out and "status_code" in out:
            out[column] = _words(out["status_code"], code_words)
    for column in ("trend", "area", "direction", "test_method", "unit", "judgement"):
        if column in out:
            out[column] = _words(out[column], code_words)
    if "held_fixed" in out:  # the segment scan: the attributes its model held, by their labels
        out["held_fixed"] = _words(out["held_fixed"], lambda v: v if is_missing(v) else ", ".join(
            attribute_label(a, fmt, attributes) for a in str(v).split(";") if a))
    if "adjust" in out:
        out["adjust"] = _words(out["adjust"], lambda v: v if is_missing(v) else (
            fmt.gettext(_ADJUST_WORDS[v]) if v in _ADJUST_WORDS else str(v)))
    if "reference" in out:
        out["reference"] = _words(out["reference"], lambda v: "" if is_missing(v) else (
            fmt.gettext(REFERENCE_WORDS[v]) if v in REFERENCE_WORDS else str(v)))
    if "period" in out:
        def period(value: object) -> object:
            if is_missing(value):
                return value
            match = _AS_OF.match(str(value))
            if match:
                return fmt.gettext("on {date}").format(date=fmt.date(match.group(1)))
            if str(value) in _UNDATED_PERIODS:
                return fmt.gettext(_UNDATED_PERIODS[str(value)])
            return code_words(value) if str(value) in ("all", "all (per month)") else value
        out["period"] = _words(out["period"], period)
    if "label" in out and "kpi" in out:
        source = out
        if "kind" not in out and kpi_fields is not None and len(kpi_fields):
            source = out.merge(kpi_fields.drop(columns=["label"], errors="ignore"), on="kpi",
                               how="left")
        out["label"] = _shown(source, "kpi_label", fmt, **context)
    if "finding" in out:
        if "area" in frame:  # the low-hanging fruit
            out["finding"] = _shown(frame, "finding_text", fmt, **context)
        elif "typical_rate" in frame:  # the segment scan: each segment against the typical one
            out["finding"] = _shown(frame, "scan_finding_text", fmt, **context)
    if "what_code" in frame:  # the action plan: its action, horizon and status in words
        out["what"] = _shown(frame, "plan_what", fmt, **context)
        for column in ("horizon", "status"):
            out[column] = _words(out[column], code_words)
    if "action_hint" in out and "area" in frame:
        out["action_hint"] = _shown(frame, "action_hint_text", fmt, **context)
    if "evidence" in out and "area" in frame:
        out["evidence"] = _shown(frame, "evidence_text", fmt, **context)
    if "note" in out:
        # a scorecard's note carries its code; the run's notes are written in the language, and
        # so is a finding (an estimate's or a test's note: toolkit.present.findings)
        out["note"] = _words(out["note"], lambda v: problem_text(v, fmt, phases=phases,
                                                                 from_code=True,
                                                                 attributes=attributes)
                             if isinstance(v, Reason) else render(v, fmt=fmt)
                             if isinstance(v, Finding) else v)
    if "detail" in out:  # the references a step is tested against (step 5's tests)
        out["detail"] = _words(out["detail"], lambda v: render(v, fmt=fmt)
                               if isinstance(v, Finding) else v)
    if "missing_reason" in out:  # a value the data cannot measure: n/a and why, in words
        out["missing_reason"] = _words(out["missing_reason"], lambda v: "" if is_missing(v) else (
            fmt.gettext(NOT_MEASURED[v]) if v in NOT_MEASURED else str(v)))
    if "reason" in out and "reason_code" in out:
        where = out["column"] if "column" in out else pd.Series("", index=out.index)
        pairs = pd.Series(list(zip(out["reason_code"].astype(object), where.astype(object),
                                   strict=True)), index=out.index)
        out["reason"] = _words(pairs, lambda pair: _reason(pair[0], pair[1], fmt))
    return out


def _reason(code: object, column: object, fmt: Formatter) -> str:
    """A quarantine reason from its code and the column it concerns: no value from the row (it
    may be personal; the row's own `value` cell shows what was read)."""
    words = code_text(code, fmt)
    if is_missing(column) or not str(column):
        return words
    return fmt.gettext("{reason} (column {column})").format(reason=words, column=column)
