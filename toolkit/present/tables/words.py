"""The words for the library's codes, statuses and a client's attributes: code -> label
through the catalogue, the tone of a status, attribute and segment labels."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from toolkit.base.docstrings import shared_docs
from toolkit.present.format import MISSING, Formatter, is_missing

__all__ = [
    "CODES",
    "NOT_MEASURED",
    "not_measured",
    "code_text",
    "status_tone",
    "attribute_name",
    "attribute_label",
    "attribute_headers",
    "DeclaredLabel",
    "ATTRIBUTE_WORDS",
    "segment_value",
    "in_sentence",
    "N_",
]


def N_(message: str) -> str:
    """Mark a message for the catalogue where it is written; it is translated where it is shown
    (``fmt.gettext(message)``).

    Parameters
    ----------
    message : str
        The English message (the catalogue's msgid).

    Returns
    -------
    str
        `message` unchanged.
    """
    return message


# ------------------------------------------------------------------------------- code -> words
#: Codes the library writes in result columns, with the words a reader sees (English msgids; the
#: catalogue translates them). Status prose is matched as the library writes it until every
#: result carries a status code.
CODES: dict[str, str] = {
    # areas of the low-hanging fruit
    "bottleneck": N_("Bottleneck"), "volume": N_("Lead volume"), "segment": N_("Segment"),
    "mix": N_("Mix shift"), "stalled": N_("Stalled deals"),
    # KPI status against target (toolkit.base.vocabulary.STATUSES)
    "on_target": N_("on target"),
    "on_target_too_few": N_("on target (too few records to conclude)"),
    "below_target": N_("significantly below target"),
    "below_target_not_significant": N_("below target, not significant"),
    "below_target_unknown": N_("below target, significance unknown"),
    "below_target_too_few": N_("below target (too few records to conclude)"),
    "off_target": N_("significantly off target"),
    "off_target_not_significant": N_("off target, not significant"),
    "off_target_unknown": N_("off target, significance unknown"),
    "off_target_too_few": N_("off target (too few records to conclude)"),
    "no_target": N_("no target"),
    "no_data": N_("no data"),
    # why a source row was set aside (toolkit.base.vocabulary.REASONS)
    "blank_row": N_("blank row"),
    "deleted": N_("deleted in the CRM"),
    "missing_record_id": N_("missing record id"),
    "duplicate_record": N_("duplicate record id (the first row is kept)"),
    "duplicate_row": N_("duplicate of an earlier row (same record, stage and date)"),
    "missing_stage": N_("missing stage"),
    "unknown_stage": N_("unknown stage (not in the stage mapping)"),
    "ignored_stage": N_("stage declared to be ignored"),
    "ignored_record": N_("all of this record's stage rows are declared to be ignored"),
    "won_reversed": N_("won stage reversed: the record's final state is not won"),
    "missing_date": N_("missing date"),
    "unparseable_date": N_("unreadable date"),
    "implausible_year": N_("date with a year no CRM date has (e.g. 9999)"),
    "date_before_1990": N_("date before 1 January 1990"),
    "date_after_as_of": N_("date after the measurement date (or today)"),
    "no_stage_date": N_("no date in any stage column"),
    "unparseable_number": N_("unreadable number"),
    "unknown_status": N_("status not won, lost or open"),
    "closed_before_created": N_("closed date before the created date"),
    "unknown_lost_stage": N_("lost-at stage not in the stage mapping"),
    "orphan_record": N_("record id not in the source this source adds phases to"),
    "missing_key": N_("missing lookup key"),
    "duplicate_key": N_("repeated lookup key (the first row is kept)"),
    "implied": N_("implied"),
    # trends
    "stable": N_("stable"), "improving": N_("improving"), "worsening": N_("worsening"),
    "too few periods": N_("too few months"),
    # audit checks of the stage history
    "skipped_phases": N_("Skipped phases"), "regressions": N_("Moves back to an earlier phase"),
    "reopened_after_lost": N_("Re-opened after lost"),
    "created_in_late_phase": N_("Created in a later phase"),
    "bulk_timestamp": N_("Bulk timestamps (imports)"),
    "events_after_close": N_("Stage changes after closing"),
    "events_before_created": N_("Stage changes before creation"),
    "won_before_first_date": N_("Won before the first date"),
    "missing_dates": N_("Missing dates"), "outcome_mismatch": N_("Outcome contradicts the stages"),
    # segment scan: direction against the typical segment, the test
    "better": N_("better"), "worse": N_("worse"), "same": N_("same"),
    "joint logistic model (Wald)": N_("joint logistic model (Wald)"),
    "joint logistic model, penalised (Wald)": N_("joint logistic model, penalised (Wald)"),
    "logistic model of the attribute alone, penalised (Wald)": N_(
        "logistic model of the attribute alone, penalised (Wald)"),
    # how the segment scan judged a segment (toolkit.base.vocabulary.JUDGEMENTS)
    "flagged": N_("differs from the typical segment"),
    "no_clear_difference": N_("no clear difference"),
    "typical": N_("the typical segment"),
    "data_quality": N_("no value: data quality"),
    "too_few_records": N_("not judged: too few records"),
    "only_segment": N_("not judged: the only segment"),
    "no_comparison": N_("not judged: nothing to compare with"),
    "model_not_converged": N_("not judged: the model did not converge"),
    # KPI units and periods
    "days": N_("days"), "records": N_("records"), "all": N_("all periods"),
    "all (per month)": N_("all periods (per month)"),
    # outcomes and measures
    "won": N_("won"), "lost": N_("lost"), "open": N_("open"),
    # the effect of a declared change (ChangeEvaluation.effect)
    "raised": N_("raised the conversion"), "lowered": N_("lowered the conversion"),
    "none": N_("no detectable change"),
    "orders": N_("Orders"), "revenue": N_("Revenue"),
    "week": N_("week"), "month": N_("month"), "quarter": N_("quarter"), "year": N_("year"),
    # readiness factors
    "starting_situation": N_("Starting situation: systems, process, how easily KPIs can be "
                              "reported"),
    "staff_level": N_("Staff's starting level in working in a commercial process, also where that is "
                       "not their core task"),
    "number_of_kpis": N_("Number of KPIs to report"),
    "organisation_support": N_("Organisation's support: number of FTE, specialisms ICT, Sales, "
                                "Marketing, Board"),
    "strengths_weaknesses": N_("Existing strengths and weaknesses of the process"),
    # how a factor's score came about (toolkit.analysis.planning.BASES)
    "measured_kpi_set": N_("measured: the KPI set"),
    "measured_audit": N_("measured: the data audit"),
    "measured_funnel": N_("measured: the raw funnel against the benchmark"),
    "scored": N_("scored with the client"),
    "not_scored": N_("not scored"),
}


#: A cell the data cannot measure, by the problem code of what they lack (``missing_reason``, see
#: ``toolkit.measure.kpis.NEEDS``): "n/a" and the reason, never 0, 100% or "0 days".
NOT_MEASURED: dict[str, str] = {
    "no_amounts": N_("n/a: no amounts in the data"),
    "no_lost_records": N_("n/a: no lost records in the data"),
    "no_distinct_times": N_("n/a: no distinct timestamps"),
    "no_time_of_day": N_("n/a: dates without a time of day"),
    "needs_dates": N_("n/a: needs dates"),
    "snapshot_timing": N_("n/a: a snapshot has no phase dates"),
}


@shared_docs
def not_measured(row: pd.Series, fmt: Formatter) -> str | None:
    """"n/a" with the reason when the row's value is one its data cannot measure.

    Parameters
    ----------
    row : Series
        A row of a result table (its ``missing_reason`` code is read).
    {shared.fmt}

    Returns
    -------
    str or None
        "n/a: ..." in the formatter's language, or None when the row has no such reason.
    """
    code = row.get("missing_reason")
    return None if is_missing(code) or str(code) not in NOT_MEASURED else fmt.gettext(
        NOT_MEASURED[str(code)])


_GOOD = {"on_target", "improving"}
_BAD = {"below_target", "off_target", "worsening"}
_WARN = {"below_target_not_significant", "off_target_not_significant", "below_target_unknown",
         "off_target_unknown", "below_target_too_few", "off_target_too_few", "on_target_too_few"}


def status_tone(status: object) -> str:
    """The tone of a status code, for its colour on a page.

    Parameters
    ----------
    status : str or None
        A ``status_code`` of the scorecard or the KPI table.

    Returns
    -------
    str
        ``good`` (on target), ``bad`` (significantly off), ``warn`` (off but not
        demonstrably, or too few records) or ``none`` (no target, no data, no code).
    """
    key = "" if is_missing(status) else str(status)
    if key in _GOOD:
        return "good"
    if key in _BAD:
        return "bad"
    if key in _WARN:
        return "warn"
    return "none"


#: What each check of the stage-history audit means for the funnel (``toolkit.measure.audit.
#: CHECKS``, the same English, here marked for the catalogue): `funnel validate` shows it beside
#: the counts in the engagement's language.
AUDIT_MEANINGS: dict[str, str] = {
    "skipped_phases": N_("moved past a phase without a stage row for it; counted as passed"),
    "regressions": N_("moved back to an earlier phase; never un-reaches a phase"),
    "reopened_after_lost": N_("lost, then active again; the final state counts"),
    "won_reversed": N_("marked won, later lost or reopened; not counted as an order"),
    "created_in_late_phase": N_("first seen in a late phase (entered mid-funnel or migrated)"),
    "bulk_timestamp": N_("stage rows share one timestamp with many others (import or mass "
                         "update); durations from them are not real"),
    "events_after_close": N_("a phase entered after the record's close date"),
    "events_before_created": N_("a phase entered before the record's creation date"),
    "won_before_first_date": N_("won (or closed) before the record's first date (creation or "
                                "first phase); counted as the file says, its dates need checking"),
    "missing_dates": N_("stage rows without a usable date (quarantined)"),
    "outcome_mismatch": N_("the per-record file's won/closed flags differ from the stage "
                           "history's final state; the flags count"),
}


@shared_docs
def code_text(value: object, fmt: Formatter) -> str:
    """A code (or the library's status prose) in words of the formatter's language.

    Parameters
    ----------
    value : str or None
        A code of `CODES`, or any other value.
    {shared.fmt}

    Returns
    -------
    str
        The code's words; a value that is no code as it is; a missing value as "n/a".
    """
    if is_missing(value):
        return MISSING
    key = str(value)
    return fmt.gettext(CODES[key]) if key in CODES else key


def attribute_name(name: object) -> str:
    """A segment attribute's name as a reader reads it (the YAML names attributes as
    identifiers).

    Parameters
    ----------
    name : str or None
        The attribute's name (``lead_source``).

    Returns
    -------
    str
        The name in words (``lead source``); a missing name as "n/a".
    """
    return MISSING if is_missing(name) else str(name).replace("_", " ")


#: Attributes the method knows by their role, with their name in the reader's language (English
#: msgids): a key of the YAML (`owner`, `action`) is no word of the report.
ATTRIBUTE_WORDS: dict[str, str] = {
    "owner": N_("Owner"), "action": N_("Action"), "source": N_("Source"),
    "lead_source": N_("Lead source"), "deal_source": N_("Deal source"), "channel": N_("Channel"),
    "campaign": N_("Campaign"), "region": N_("Region"), "country": N_("Country"),
    "product": N_("Product"), "segment": N_("Segment"), "industry": N_("Industry"),
    "sector": N_("Sector"), "team": N_("Team"), "pipeline": N_("Pipeline"),
    "deal_type": N_("Deal type"), "event_type": N_("Event type"), "value_band": N_("Deal size"),
}


class DeclaredLabel(str):
    """An attribute's label as the engagement YAML declares it (`report.attribute_labels`): the
    client's own word, which wins over the method's word for a role and over the column header."""

    __slots__ = ()


def attribute_headers(engagement: Any) -> dict[str, str]:
    """Each attribute of the engagement's sources with the client's own word for it.

    Parameters
    ----------
    engagement : Engagement
        The engagement (its ``config`` is read; an object without one gives no headers).

    Returns
    -------
    dict of str to str
        Each attribute with the column header it is read from (``owner: Eigenaar``), from the
        YAML's ``attributes:`` mappings; an attribute the YAML labels under
        ``report.attribute_labels`` with that label, as a :class:`DeclaredLabel`.
    """
    config = getattr(engagement, "config", None)
    found: dict[str, str] = {}
    sources = list(getattr(config, "sources", None) or [])
    readings = [*sources, *(getattr(config, "lookups", None) or [])]
    readings += [source.records for source in sources
                 if getattr(source, "records", None) is not None]
    for reading in readings:
        for name, column in (getattr(reading, "attributes", None) or {}).items():
            found.setdefault(str(name), str(column))
    report = getattr(config, "report", None)
    for name, label in (getattr(report, "attribute_labels", None) or {}).items():
        found[str(name)] = DeclaredLabel(label)
    return found


def _reads_as_words(header: str) -> bool:
    # "Eigenaar", "Lead source": words; "DEAL_SOURCE_TYPE", "hs_owner_id": a system's field name
    return bool(header.strip()) and "_" not in header and not header.isupper() and len(header) <= 40


@shared_docs
def attribute_label(name: object, fmt: Formatter, headers: Mapping[str, str] | None = None) -> str:
    """A segment attribute as a reader names it.

    Parameters
    ----------
    name : str or None
        The attribute's name.
    {shared.fmt}
    headers : mapping of str to str, optional
        The attributes' column headers and declared labels (:func:`attribute_headers`).

    Returns
    -------
    str
        The label the YAML declares for it (``report.attribute_labels``, a
        :class:`DeclaredLabel` in `headers`); otherwise an attribute the method knows by its
        role in the formatter's language (``owner`` -> "Eigenaar"); otherwise the client's
        column header when it reads as words (``attributes: {vestiging: Vestiging}``);
        otherwise the name in words (``deal_source_type`` -> "Deal source type").
    """
    if is_missing(name):
        return MISSING
    key = str(name)
    declared = (headers or {}).get(key)
    if isinstance(declared, DeclaredLabel):
        return str(declared)
    if key in ATTRIBUTE_WORDS:
        return fmt.gettext(ATTRIBUTE_WORDS[key])
    header = (headers or {}).get(key, "")
    if _reads_as_words(header):
        return header.strip()
    words = attribute_name(key)
    return words[:1].upper() + words[1:]


def in_sentence(label: str) -> str:
    """A label as written inside a sentence.

    Parameters
    ----------
    label : str
        A label that starts a line ("Eigenaar").

    Returns
    -------
    str
        Its first letter in lower case ("eigenaar"); an acronym ("BU") stays as it is.
    """
    return label[:1].lower() + label[1:] if label[1:2].islower() else label


def segment_value(value: object) -> str:
    """A segment's value as shown in a sentence.

    Parameters
    ----------
    value : object
        The segment's value.

    Returns
    -------
    str
        The value in quotes, so it reads as the client's own word ("‘cold calling’"); the
        missing segment as the library names it.
    """
    return MISSING if is_missing(value) else f"‘{value}’"
