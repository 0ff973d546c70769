"""Result tables as a reader sees them: chosen columns under translated headers, every cell through
the one formatter, keys shown as labels, no index column.

::

    shown = display_table(fruit.table, ["rank", "area", "finding", "extra_orders_ci"],
                          fmt=formatter("nl"), phases=engagement.phase_model)
    shown.headers      # ['#', 'Gebied', 'Bevinding', 'Extra orders (bereik)']
    shown.rows[0]      # [Cell('1', 'num'), Cell('Knelpunt', 'text'), ...]

A column is named by the library's own column name (``n``, ``rate``, ``p_adjusted`` ...) or by a
derived column that joins several: ``step`` (``from_phase`` → ``to_phase`` as labels), ``rate_ci``
(the rate with its 95% interval), ``value_ci`` (a KPI value in its unit with its interval),
``extra_orders_ci`` and so on (:data:`COLUMNS` lists them all). A column the frame lacks is left
out, so one spec serves a table with or without, say, an ``owner`` column.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from babel.lists import format_list

from toolkit.analysis.planning import advice_texts
from toolkit.base.phases import PhaseModel
from toolkit.base.vocabulary import MIN_N
from toolkit.base.vocabulary import MISSING as MISSING_SEGMENT
from toolkit.present.format import MISSING, Formatter, is_missing

__all__ = ["Cell", "DisplayTable", "COLUMNS", "CODES", "NOT_MEASURED", "not_measured",
           "display_table", "code_text",
           "status_tone", "attribute_name", "attribute_label", "attribute_headers", "DeclaredLabel",
           "ATTRIBUTE_WORDS", "segment_value", "in_sentence", "N_", "REFERENCE_WORDS"]


def N_(message: str) -> str:
    """Marks a message for the catalogue where it is written; it is translated where it is shown
    (``fmt.gettext(message)``)."""
    return message


@dataclass(frozen=True)
class Cell:
    """One shown cell: its text and its kind (``num`` right-aligned, ``text``, or a status tone
    ``good``/``bad``/``warn``/``none`` that colours it)."""

    text: str
    kind: str = "text"


@dataclass
class DisplayTable:
    """A table ready to show: translated headers, formatted cells, and a note (rows left out)."""

    headers: list[str]
    rows: list[list[Cell]]
    numeric: list[bool]
    note: str = ""
    wide: bool = field(default=False)

    def to_frame(self) -> pd.DataFrame:
        """The shown table as a DataFrame of strings (headers as columns, no meaningful index)."""
        return pd.DataFrame([[c.text for c in row] for row in self.rows], columns=self.headers)

    def _repr_html_(self) -> str:
        return self.to_frame().to_html(index=False, escape=True)


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
# the readiness scan's advice per factor and band (its text is marked for the catalogue there)
CODES.update(advice_texts())
# the action plan: the horizon of an action and the consultant's status of it
CODES.update({
    "short_term": N_("short term"), "structural": N_("structural (redesign)"),
    "proposed": N_("proposed"), "agreed": N_("agreed"), "started": N_("started"),
    "done": N_("done"), "dropped": N_("dropped"),
})

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


def not_measured(row: pd.Series, fmt: Formatter) -> str | None:
    """"n/a" with the reason when the row's value is one its data cannot measure, else None."""
    code = row.get("missing_reason")
    return None if is_missing(code) or str(code) not in NOT_MEASURED else fmt.gettext(
        NOT_MEASURED[str(code)])


_GOOD = {"on_target", "improving"}
_BAD = {"below_target", "off_target", "worsening"}
_WARN = {"below_target_not_significant", "off_target_not_significant", "below_target_unknown",
         "off_target_unknown", "below_target_too_few", "off_target_too_few", "on_target_too_few"}


def status_tone(status: object) -> str:
    """The colour of a status code (``status_code``): ``good`` (on target), ``bad`` (significantly
    off), ``warn`` (off but not demonstrably, or too few records), ``none`` (no target, no data)."""
    key = "" if is_missing(status) else str(status)
    if key in _GOOD:
        return "good"
    if key in _BAD:
        return "bad"
    if key in _WARN:
        return "warn"
    return "none"


def code_text(value: object, fmt: Formatter) -> str:
    """A code (or the library's status prose) in words of the formatter's language; a value that is
    no code is shown as it is."""
    if is_missing(value):
        return MISSING
    key = str(value)
    return fmt.gettext(CODES[key]) if key in CODES else key


# ------------------------------------------------------------------------------ the columns
@dataclass(frozen=True)
class _Context:
    fmt: Formatter
    phases: PhaseModel | None
    labels: Mapping[str, str]
    attributes: Mapping[str, str] = field(default_factory=dict)  # attribute -> column header

    def attribute(self, name: object) -> str:
        return attribute_label(name, self.fmt, self.attributes)

    def phase(self, key: object) -> str:
        if is_missing(key):
            return MISSING
        key = str(key)
        if key in self.labels:
            return self.labels[key]
        if self.phases is not None and key in self.phases.keys:
            return self.phases.label(key)
        return key


_Render = Callable[[pd.Series, _Context], Cell]


@dataclass(frozen=True)
class _Column:
    header: str                 # English msgid
    needs: tuple[str, ...]      # the frame's columns it reads (all must be there; "a|b": either)
    render: _Render


def _has(columns, need: str) -> bool:
    return any(name in columns for name in need.split("|"))


def _get(row: pd.Series, names: str) -> Any:
    """The value of the first of "a|b" the row has (a column's current or earlier name)."""
    for name in names.split("|"):
        if name in row.index:
            return row[name]
    return None


def _value_in(row: pd.Series, value: str, period: str, c: _Context) -> Cell:
    """'54,4% (juni 2026)': a KPI value with the month it was measured in."""
    if is_missing(row.get(value)):
        return Cell(MISSING, "num")
    kind = "percent" if bool(row.get("is_rate", True)) else "number"
    return Cell(f"{c.fmt.value(row[value], kind)} ({c.fmt.period(row.get(period))})", "num")


def _plain(column: str, kind: str) -> _Render:
    numeric = kind not in ("text", "date", "month", "period")

    measured = column not in _NOT_MEASURES  # a count or target beside it is no measurement

    def render(row: pd.Series, c: _Context) -> Cell:
        absent = (not_measured(row, c.fmt) if measured and is_missing(row[column]) else None)
        return Cell(absent or c.fmt.value(row[column], kind), "num" if numeric else "text")
    return render


#: Columns that carry no measurement of their own: they stay blank where the value is n/a.
_NOT_MEASURES = frozenset({"n", "target", "immature_n", "open_n", "successes"})


def _interval(value: str, low: str, high: str, kind: str) -> _Render:
    def render(row: pd.Series, c: _Context) -> Cell:
        absent = not_measured(row, c.fmt) if is_missing(row[value]) else None
        return Cell(absent or c.fmt.interval(row[value], _get(row, low), _get(row, high), kind),
                    "num")
    return render


def _kind_of_unit(unit: object) -> str:
    unit = "" if is_missing(unit) else str(unit)
    if unit == "%":
        return "percent"
    if unit == "days":
        return "days"
    money = unit.split("/", 1)[0]
    if len(money) == 3 and money.isupper():  # a currency code: the engagement's amounts
        return "amount"
    return "number"


#: What a value in a unit per period is followed by ("EUR/month": "€ 121.563 per maand").
_PER_UNIT = {"month": N_("per month"), "year": N_("per year"), "week": N_("per week")}


def _unit_suffix(unit: object, fmt: Formatter) -> str:
    unit = "" if is_missing(unit) else str(unit)
    if unit == "x":  # a ratio: pipeline coverage
        return "×"
    per = unit.split("/", 1)[1] if "/" in unit else ""
    return " " + fmt.gettext(_PER_UNIT[per]) if per in _PER_UNIT else ""


def _unit_value(column: str) -> _Render:
    def render(row: pd.Series, c: _Context) -> Cell:
        text = c.fmt.value(row[column], _kind_of_unit(row.get("unit")))
        if text == MISSING:
            measured = column not in _NOT_MEASURES
            return Cell((measured and not_measured(row, c.fmt)) or text, "num")
        return Cell(text + _unit_suffix(row.get("unit"), c.fmt), "num")
    return render


def _unit_interval(value: str, low: str, high: str) -> _Render:
    def render(row: pd.Series, c: _Context) -> Cell:
        kind = _kind_of_unit(row.get("unit"))
        shown = c.fmt.value(row[value], kind)
        if shown == MISSING:
            return Cell(not_measured(row, c.fmt) or shown, "num")
        text = shown + _unit_suffix(row.get("unit"), c.fmt)
        if not (is_missing(row[low]) and is_missing(row[high])):
            text += f" ({c.fmt.range(row[low], row[high], kind)})"
        return Cell(text, "num")
    return render


def _measure_interval(value: str, low: str, high: str) -> _Render:
    """Step 6's scenario rows: `measure` says orders (a number) or revenue (an amount)."""
    def render(row: pd.Series, c: _Context) -> Cell:
        kind = "amount" if str(row.get("measure")) == "revenue" else "number"
        bounds = _get(row, low), _get(row, high)
        if kind == "number":
            return Cell(c.fmt.interval(row[value], *bounds, "number", decimals=1), "num")
        return Cell(c.fmt.interval(row[value], *bounds, kind), "num")
    return render


def _step(row: pd.Series, c: _Context) -> Cell:
    return Cell(f"{c.phase(row['from_phase'])} → {c.phase(row['to_phase'])}")


def _phase(column: str) -> _Render:
    return lambda row, c: Cell(c.phase(row[column]))


def _code(column: str) -> _Render:
    return lambda row, c: Cell(code_text(row[column], c.fmt))


def _status(column: str) -> _Render:
    # the code decides the words and the colour; a frame without codes shows its prose uncoloured
    def render(row: pd.Series, c: _Context) -> Cell:
        code = row.get("status_code")
        if is_missing(code):
            return Cell(code_text(row[column], c.fmt), "none")
        return Cell(code_text(code, c.fmt), status_tone(code))
    return render


def _file(column: str) -> _Render:
    # a file by its name only: a machine's folders are no business of the reader
    return lambda row, c: Cell(MISSING if is_missing(row[column])
                               else os.path.basename(str(row[column])))


def _listed(column: str) -> _Render:
    def render(row: pd.Series, c: _Context) -> Cell:
        value = row[column]
        if isinstance(value, list | tuple):
            return Cell(", ".join(str(v) for v in value) or MISSING)
        return Cell(MISSING if is_missing(value) or str(value) == "" else str(value))
    return render


def _yes_no(column: str) -> _Render:
    def render(row: pd.Series, c: _Context) -> Cell:
        value = row[column]
        if is_missing(value):
            return Cell(MISSING)
        return Cell(c.fmt.gettext("yes") if bool(value) else c.fmt.gettext("no"))
    return render


def _weeks_range(row: pd.Series, c: _Context) -> Cell:
    return Cell(f"{c.fmt.number(row['weeks'], 1)} ({c.fmt.range(row['weeks_low'], row['weeks_high'], 'number', decimals=1)})",  # noqa: E501
                "num")


def _step_name(row: pd.Series, c: _Context) -> Cell:
    column = "step_name_nl" if c.fmt.language == "nl" else "step_name_en"
    return Cell(str(row[column]))


REFERENCE_WORDS = {
    "target": N_("the target"), "benchmark": N_("the market benchmark"),
    "history": N_("its own earlier level"), "best_period": N_("its own best periods"),
    "best_segment": N_("its best segment"), "typical segment": N_("the typical segment"),
    "order target": N_("the order target"),
}


def _finding(row: pd.Series, c: _Context) -> Cell:
    """A finding of the low-hanging fruit written from its fields in the report's language (the
    library's English sentence when the fields are not there)."""
    area, fmt = str(row.get("area")), c.fmt

    def has(*names: str) -> bool:
        return all(not is_missing(row.get(n)) for n in names)

    if area == "bottleneck" and has("from_phase", "to_phase", "rate", "reference_rate"):
        reference = str(row.get("reference"))
        words = fmt.gettext(REFERENCE_WORDS[reference]) if reference in REFERENCE_WORDS \
            else reference
        return Cell(fmt.gettext("{step} converts {rate} against {reference_rate} for {reference}")
                    .format(step=_step(row, c).text, rate=fmt.percent(row["rate"]),
                            reference_rate=fmt.percent(row["reference_rate"]), reference=words))
    if area == "volume" and has("from_phase", "rate", "reference_rate"):
        return Cell(fmt.gettext("{volume} entries per month into {phase} against {needed} needed "
                                "for the order target").format(
            volume=fmt.number(row["rate"], 1), phase=c.phase(row["from_phase"]),
            needed=fmt.number(row["reference_rate"], 1)))
    if area == "segment" and has("attribute", "segment", "from_phase", "to_phase", "rate",
                                 "reference_rate"):
        label = c.attribute(row["attribute"])
        return Cell(fmt.gettext("{attribute} {segment} converts {rate} at {step} against "
                                "{reference_rate} for the typical {attribute_in_sentence}").format(
            attribute=label, attribute_in_sentence=in_sentence(label),
            segment=segment_value(row["segment"]), rate=fmt.percent(row["rate"]),
            step=_step(row, c).text, reference_rate=fmt.percent(row["reference_rate"])))
    if area == "stalled" and has("from_phase", "n", "threshold_days"):
        n = int(row["n"])
        text = fmt.ngettext("{n} open record at {phase} has not moved for longer than {days}",
                            "{n} open records at {phase} have not moved for longer than {days}",
                            n).format(n=fmt.count(n), phase=c.phase(row["from_phase"]),
                                      days=fmt.days(row["threshold_days"]))
        if has("stalled_value") and float(row["stalled_value"]) > 0:
            text += fmt.gettext(", together {value} in value").format(
                value=fmt.amount(row["stalled_value"]))
        return Cell(text)
    if area == "stalled" and has("from_phase"):
        return Cell(fmt.gettext("Open records at {phase} that have not moved for longer than "
                                "most records take").format(phase=c.phase(row["from_phase"])))
    if area == "mix" and has("from_phase", "to_phase", "attribute", "period_a", "period_b",
                             "rate_a", "rate_b"):
        return Cell(fmt.gettext("The overall conversion {step} went from {rate_a} in {period_a} "
                                "to {rate_b} in {period_b} through the mix of the {attribute} "
                                "segments, not through their own conversion (Simpson's paradox)")
                    .format(step=_step(row, c).text, rate_a=fmt.percent(row["rate_a"]),
                            period_a=fmt.period(row["period_a"]),
                            rate_b=fmt.percent(row["rate_b"]),
                            period_b=fmt.period(row["period_b"]),
                            attribute=in_sentence(c.attribute(row["attribute"]))))
    if area == "mix":
        return Cell(fmt.gettext("The overall conversion changed through the mix of segments, not "
                                "through their own conversion (Simpson's paradox)"))
    return Cell(MISSING if is_missing(row.get("finding")) else str(row["finding"]))


def _scan_finding(row: pd.Series, c: _Context) -> Cell:
    """A row of the segment scan in words, from its fields, in the report's language (the cases
    the library's own `finding` tells apart, in the same order)."""
    fmt = c.fmt
    who = f"{c.attribute(row['attribute'])} {segment_value(row['segment'])}"
    step = _step(row, c).text

    def number(name: str) -> float:
        value = row.get(name)
        return float("nan") if is_missing(value) else float(value)

    if number("rest_n") == 0:
        return Cell(fmt.gettext("{who}: every record at {step} has this value, so there is no "
                                "other segment to compare it with.").format(who=who, step=step))
    if str(row["segment"]) == MISSING_SEGMENT:
        return Cell(fmt.ngettext(
            "{attribute}: {n} record at {step} has no value; a data-quality finding (fill the "
            "field in the CRM), not a fruit.",
            "{attribute}: {n} records at {step} have no value; a data-quality finding (fill the "
            "field in the CRM), not a fruit.", int(row["n"])).format(
            attribute=c.attribute(row["attribute"]), n=fmt.count(row["n"]), step=step))
    if number("n") < MIN_N:
        return Cell(fmt.gettext("{who}: too few records to judge at {step} (only {n}; at least "
                                "{min_n} needed).").format(who=who, step=step,
                                                           n=fmt.count(row["n"]),
                                                           min_n=fmt.count(MIN_N)))
    if str(row.get("judgement", "")) == "model_not_converged":
        return Cell(fmt.gettext("{who}: not judged at {step}: the model did not converge, so it "
                                "gives no p-value.").format(who=who, step=step))
    if not np.isfinite(number("p_value")):
        if bool(row.get("is_typical", False)) or number("diff") == 0:
            return Cell(fmt.gettext("{who} is the typical segment at {step} ({rate}).").format(
                who=who, step=step, rate=fmt.percent(row["rate"])))
        return Cell(fmt.gettext("{who}: no other segment with at least {min_n} records at {step} "
                                "to compare it with.").format(who=who, step=step,
                                                              min_n=fmt.count(MIN_N)))
    base = fmt.gettext("{who} converts {rate} at {step} ({n}) against {typical} for the typical "
                       "segment").format(who=who, rate=fmt.percent(row["rate"]), step=step,
                                         n=_evidence(row[["n"]], c).text,
                                         typical=fmt.percent(row["typical_rate"]))
    p = _p_words(row["p_adjusted"], fmt)
    held = _held_words(row, c)
    if bool(row.get("flagged", False)):
        values = {"base": base, "direction": code_text(row.get("direction"), fmt),
                  "odds": fmt.number(row["odds_ratio"], 2), "p": p,
                  "range": fmt.range(row["or_ci_low"], row["or_ci_high"], "number", decimals=2)}
        if held is None:
            return Cell(fmt.gettext("{base}: {direction}, also with the other attributes and the "
                                    "cohort year held fixed (odds ratio {odds} (95% interval "
                                    "{range}); adjusted p {p}).").format(**values))
        if held:
            return Cell(fmt.gettext("{base}: {direction}, also with {held} held fixed (odds ratio "
                                    "{odds} (95% interval {range}); adjusted p {p}).").format(
                held=held, **values))
        return Cell(fmt.gettext("{base}: {direction}, judged on its own (odds ratio {odds} (95% "
                                "interval {range}); adjusted p {p}).").format(**values))
    if held is None:
        return Cell(fmt.gettext("{base}: no clear difference once the other attributes are held "
                                "fixed and the scan is adjusted for multiple testing (adjusted p "
                                "{p}).").format(base=base, p=p))
    if held:
        return Cell(fmt.gettext("{base}: no clear difference with {held} held fixed, once the scan "
                                "is adjusted for multiple testing (adjusted p {p}).").format(
            base=base, held=held, p=p))
    return Cell(fmt.gettext("{base}: no clear difference once the scan is adjusted for multiple "
                            "testing (adjusted p {p}).").format(base=base, p=p))


def _held_words(row: pd.Series, c: _Context) -> str | None:
    """What a scan row's model held fixed, in words ("Product, Regio en het cohortjaar"); None
    for a row from before the scan named it (the general wording then)."""
    if "held_fixed" not in row.index or is_missing(row["held_fixed"]):
        return None
    names = [c.attribute(a) for a in str(row["held_fixed"]).split(";") if a]
    if bool(row.get("year_held", False)):
        names.append(c.fmt.gettext("the cohort year"))
    return format_list(names, locale=c.fmt.locale) if names else ""


def _plan_what(row: pd.Series, c: _Context) -> Cell:
    """An action of the action plan in the report's language, the phase model's own words in it
    (its tasks or actions, its segment) as the engagement wrote them."""
    fmt, code = c.fmt, str(row.get("what_code"))
    phase = c.phase(row["phase"])
    items = MISSING if is_missing(row.get("what_items")) or not str(row["what_items"]) \
        else str(row["what_items"])
    segment = "" if is_missing(row.get("segment")) else segment_value(row["segment"])
    if code == "leak":
        text = fmt.gettext("Tighten the tasks at {phase}: {items}")
    elif code == "raise":
        text = fmt.gettext("Improve the actions at {phase}: {items}")
    elif code == "volume":
        text = fmt.gettext("More volume from the actions at {phase}: {items}")
    elif code == "coach":
        text = fmt.gettext("Coach {segment} on the tasks at {phase}: {items}")
    elif code == "shift":
        text = fmt.gettext("Shift effort at {phase} away from {segment} towards: {items}")
    else:
        text = fmt.gettext("Find out why {attribute} {segment} converts worse at {phase}: "
                           "{items}")
    return Cell(text.format(phase=phase, items=items, segment=segment,
                            attribute=in_sentence(c.attribute(row.get("attribute")))))


def _hint(row: pd.Series, c: _Context) -> Cell:
    """What to do about a finding of the low-hanging fruit, written from its fields in the
    report's language (the library's English hint when the fields are not there)."""
    area, fmt = str(row.get("area")), c.fmt

    def has(*names: str) -> bool:
        return all(not is_missing(row.get(n)) for n in names)

    if area == "bottleneck" and has("from_phase", "to_phase") and c.phases is not None:
        early = row.get("side") == "early"  # decided once, at the lead phase (step 5)
        step = _step(row, c).text
        return Cell(fmt.gettext("Build the early phases: raise {step} (better targeting and "
                                "qualification of leads)").format(step=step) if early else
                    fmt.gettext("Stop records dropping out at {step} (qualify earlier, follow up "
                                "faster)").format(step=step))
    if area == "volume":
        return Cell(fmt.gettext("Build the early phases: more qualified leads (targeting, "
                                "actions)"))
    if area == "segment" and has("attribute", "segment", "rate", "reference_rate"):
        better = float(row["rate"]) > float(row["reference_rate"])
        segment, attribute = segment_value(row["segment"]), str(row["attribute"])
        if attribute == "action":
            return Cell(fmt.gettext("Move effort towards {segment}").format(segment=segment)
                        if better else fmt.gettext("Move effort away from {segment}, or improve "
                                                   "how its leads are qualified")
                        .format(segment=segment))
        if attribute == "owner":
            return Cell(fmt.gettext("Learn from {segment}'s way of working").format(
                segment=segment) if better else
                fmt.gettext("Coach {segment} on this step").format(segment=segment))
        return Cell(fmt.gettext("Find out what makes {attribute} {segment} convert differently")
                    .format(attribute=c.attribute(attribute), segment=segment))
    if area == "stalled":
        return Cell(fmt.gettext("Follow up each stalled record or close it as lost"))
    if area == "mix" and has("attribute", "segment", "share_a", "share_b"):
        return Cell(fmt.gettext("Judge each {attribute} segment by its own conversion, not by the "
                                "total: the share of {segment} moved from {share_a} to {share_b}")
                    .format(attribute=in_sentence(c.attribute(row["attribute"])),
                            segment=segment_value(row["segment"]),
                            share_a=fmt.percent(row["share_a"]), share_b=fmt.percent(row["share_b"])))
    if area == "mix":
        return Cell(fmt.gettext("Judge each segment by its own conversion, not by the total"))
    return Cell(MISSING if is_missing(row.get("action_hint")) else str(row["action_hint"]))


def _p_words(p: object, fmt: Formatter) -> str:
    """A p-value after its name: '< 0.001' or '= 0.012'."""
    shown = fmt.p_value(p)
    return shown if shown.startswith("<") else "= " + shown


def _area_evidence(row: pd.Series, c: _Context) -> str | None:
    """The evidence of a lead-volume, mix or stalled finding from the fields the library gives it
    (``toolkit.analysis.diagnosis._FRUIT_FIELDS``); None when the row lacks them."""
    area, fmt = str(row.get("area")), c.fmt

    def has(*names: str) -> bool:
        return all(not is_missing(row.get(n)) for n in names)

    if area == "volume" and has("from_phase", "entries_ci_low", "entries_ci_high",
                                "orders_target", "order_rate"):
        return fmt.gettext("95% interval {range} entries per month; {orders} orders per month "
                           "wanted, at today's conversion of {rate} from {phase}").format(
            range=fmt.range(row["entries_ci_low"], row["entries_ci_high"], "number", decimals=1),
            orders=fmt.number(row["orders_target"], 1), rate=fmt.percent(row["order_rate"]),
            phase=c.phase(row["from_phase"]))
    if area == "mix" and has("rate_effect", "mix_effect", "p_pooled"):
        text = fmt.gettext("rate effect {rate_effect}, mix effect {mix_effect}; pooled p {p}").format(
            rate_effect=fmt.points(row["rate_effect"]), mix_effect=fmt.points(row["mix_effect"]),
            p=_p_words(row["p_pooled"], fmt))
        if has("p_within"):
            text += fmt.gettext(", within the segments (Cochran-Mantel-Haenszel) p {p}").format(
                p=_p_words(row["p_within"], fmt))
        return text
    if area == "stalled" and has("from_phase", "stall_quantile", "moved_n", "open_n"):
        moved, still = int(row["moved_n"]), int(row["open_n"])
        threshold = fmt.ngettext(
            "threshold: percentile {quantile} of the time to the next phase among {n} record that "
            "moved on",
            "threshold: percentile {quantile} of the time to the next phase among {n} records that "
            "moved on", moved).format(quantile=fmt.number(float(row["stall_quantile"]) * 100, 0),
                                      n=fmt.count(moved))
        open_now = fmt.ngettext("{n} open record at {phase}", "{n} open records at {phase}",
                                still).format(n=fmt.count(still), phase=c.phase(row["from_phase"]))
        return f"{threshold}; {open_now}"
    return None


def _evidence(row: pd.Series, c: _Context) -> Cell:
    """The evidence of a finding from its fields: for a lead-volume, mix or stalled finding what
    the library measured for it (:func:`_area_evidence`); otherwise records, the rate's 95%
    interval and the adjusted p-value (a dash where the finding has none of them)."""
    fmt = c.fmt
    written = _area_evidence(row, c)
    if written is not None:
        return Cell(written)
    parts = []
    if not is_missing(row.get("n")):
        parts.append(fmt.ngettext("{n} record", "{n} records", int(row["n"])).format(
            n=fmt.count(row["n"])))
    if not is_missing(row.get("ci_low")) and not is_missing(row.get("ci_high")):
        parts.append(fmt.gettext("95% interval {range}").format(
            range=fmt.range(row["ci_low"], row["ci_high"])))
    if not is_missing(row.get("p_adjusted")):
        parts.append(fmt.gettext("adjusted p {p}").format(p=_p_words(row["p_adjusted"], fmt)))
    return Cell("; ".join(parts) if parts else MISSING)


def _month(value: object, fmt: Formatter) -> str:
    """A calendar month as a number 1-12 (a seasonal profile) by its name; a period as a period."""
    if isinstance(value, int | np.integer) or (isinstance(value, float) and float(value).is_integer()):
        number = int(value)
        if 1 <= number <= 12:
            return fmt.month_name(number)
    return fmt.period(value)


def _kpi_label(row: pd.Series, c: _Context) -> Cell:
    """A KPI's label in the report's language when it is the name the toolkit gave it (a label
    the engagement YAML declares is the client's own word, and stays as written)."""
    label = row.get("label")
    label = "" if is_missing(label) else str(label)
    kind, fmt = row.get("kind"), c.fmt

    def phase(name: str) -> str:
        return c.phase(row.get(name))

    default = {
        "conversion": (f"Conversion {phase('from_phase')} → {phase('to_phase')}",
                       N_("Conversion {start} → {end}")),
        "cumulative_conversion": (f"Conversion {phase('from_phase')} → {phase('to_phase')}",
                                  N_("Conversion {start} → {end}")),
        "volume": ("", N_("Entries into {start}")),
        "duration": (f"Median days {phase('from_phase')} → {phase('to_phase')}",
                     N_("Median days {start} → {end}")),
        "win_rate": (f"Win rate from {phase('from_phase')} (won / closed)",
                     N_("Win rate from {start} (won / closed)")),
        "sales_velocity": ("", N_("Sales velocity from {start}")),
        "cost_per": ("", N_("Cost per {start}")),
    }
    named = {"Won value": N_("Won value"), "Average deal size (won)": N_("Average deal size (won)"),
             "Win rate (won / closed)": N_("Win rate (won / closed)"),
             "Open pipeline value": N_("Open pipeline value"),
             "Pipeline coverage": N_("Pipeline coverage")}
    if kind in default and default[kind][0] and label == default[kind][0]:
        start = phase("from_phase")
        return Cell(fmt.gettext(default[kind][1]).format(start=start, end=phase("to_phase")))
    if kind in ("conversion", "cumulative_conversion"):
        # "Conversion A → B within 90 days": the window is part of what the rate means
        windowed = re.fullmatch(r"Conversion (.+) → (.+) within (\d+) days", label)
        if windowed and (windowed[1], windowed[2]) == (
                _english_phase(row, c, "from_phase"), _english_phase(row, c, "to_phase")):
            return Cell(fmt.gettext(N_("Conversion {start} → {end} within {days} days")).format(
                start=phase("from_phase"), end=phase("to_phase"), days=windowed[3]))
    single = {"volume": "Entries into {}", "sales_velocity": "Sales velocity from {}",
              "cost_per": "Cost per {}"}
    if kind in single and c.phases is not None:
        # these KPIs name one phase, which the KPI table does not carry in a column
        for key in c.phases.keys:
            if label == single[kind].format(c.phase(key)):
                return Cell(fmt.gettext(default[kind][1]).format(start=c.phase(key)))
    if label in named:
        return Cell(fmt.gettext(named[label]))
    return Cell(label or MISSING)


def _english_phase(row: pd.Series, c: _Context, column: str) -> str:
    """The phase label as the library wrote it into an English KPI label."""
    key = row.get(column)
    if c.phases is not None and not is_missing(key) and str(key) in c.phases.keys:
        return c.phases.label(str(key))
    return c.phase(key)


def _node_label(row: pd.Series, c: _Context) -> Cell:
    """A node of the KPI tree (``kpi_tree``) by its code, in the report's language."""
    node, fmt = str(row.get("node")), c.fmt
    fixed = {"revenue": N_("Revenue per month (implied)"),
             "orders": N_("Orders per month (implied)"),
             "average_deal_size": N_("Average deal size")}
    if node in fixed:
        return Cell(fmt.gettext(fixed[node]))
    phases = c.phases
    if node.startswith("volume_") and phases is not None and node[7:] in phases.keys:
        return Cell(fmt.gettext("Entries into {start} per month").format(start=c.phase(node[7:])))
    if node.startswith("conversion_") and phases is not None:
        for a, b in phases.transitions():
            if node == f"conversion_{a}_{b}":
                return Cell(f"{c.phase(a)} → {c.phase(b)}")
    return Cell(MISSING if is_missing(row.get("label")) else str(row["label"]))


_SEASON_MEASURES = (N_("Volume: entries per month"), N_("Conversion per cohort month"))


def attribute_name(name: object) -> str:
    """A segment attribute's name as a reader reads it: `lead_source` -> `lead source` (the YAML
    names attributes as identifiers)."""
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
    """Each attribute of the engagement's sources with the column header it is read from (the
    client's own word for it, `owner: Eigenaar`), from the YAML's `attributes:` mappings; an
    attribute the YAML labels under `report.attribute_labels` with that label (a
    :class:`DeclaredLabel`)."""
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


def attribute_label(name: object, fmt: Formatter, headers: Mapping[str, str] | None = None) -> str:
    """A segment attribute as a reader names it: the label the YAML declares for it
    (`report.attribute_labels`, a :class:`DeclaredLabel` in `headers`); otherwise an attribute the
    method knows by its role in the report's language (`owner` -> "Eigenaar"); otherwise the
    client's column header when it reads as words (`attributes: {vestiging: Vestiging}`);
    otherwise the name in words (`deal_source_type` -> "Deal source type")."""
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
    """A label inside a sentence: "Eigenaar" -> "eigenaar"; an acronym ("BU") stays."""
    return label[:1].lower() + label[1:] if label[1:2].islower() else label


def segment_value(value: object) -> str:
    """A segment's value as shown: the value in quotes, so it reads as the client's own word
    ("‘cold calling’"); the missing segment as the library names it."""
    return MISSING if is_missing(value) else f"‘{value}’"


def _split_segment(value: object, c: _Context) -> str:
    """A KPI's segment `attribute=value` as "Label: value" (a plain value as it is)."""
    if is_missing(value):
        return MISSING
    text = str(value)
    if "=" not in text:
        return text
    attribute, _, shown = text.partition("=")
    return f"{c.attribute(attribute.strip())}: {shown.strip()}"


def _points_interval(row: pd.Series, c: _Context) -> str:
    """A difference of two shares in points with its interval: '-0,8 procentpunt (-6,2 tot
    +4,9)'."""
    if is_missing(row["estimate"]):
        return MISSING
    bounds = [None if is_missing(row[b]) else float(row[b]) * 100 for b in ("ci_low", "ci_high")]
    return f"{c.fmt.points(row['estimate'])} ({c.fmt.range(*bounds, 'number', decimals=1)})"


def _points(column: str) -> _Render:
    return lambda row, c: Cell(c.fmt.points(row[column]), "num")


# Interval bounds under their vocabulary names, or the names they had before it (`a|b`).
_BL, _BH = "baseline_ci_low|baseline_low", "baseline_ci_high|baseline_high"
_SL, _SH = "ci_low|low", "ci_high|high"
_CL, _CH = "change_ci_low|change_low", "change_ci_high|change_high"
_OL, _OH = "extra_orders_ci_low|extra_orders_low", "extra_orders_ci_high|extra_orders_high"
_RL, _RH = "extra_revenue_ci_low|extra_revenue_low", "extra_revenue_ci_high|extra_revenue_high"

#: Every column a report table can show: name -> header (English msgid), the frame's columns it
#: needs, how a cell is written.
COLUMNS: dict[str, _Column] = {
    # data inventory
    "source": _Column(N_("Source"), ("source",), _plain("source", "text")),
    "file": _Column(N_("File"), ("file",), _file("file")),
    "rows_in": _Column(N_("Rows in"), ("rows_in",), _plain("rows_in", "count")),
    "rows_used": _Column(N_("Rows used"), ("rows_used",), _plain("rows_used", "count")),
    "rows_quarantined": _Column(N_("Rows set aside"), ("rows_quarantined",),
                                _plain("rows_quarantined", "count")),
    "balanced": _Column(N_("Reconciles"), ("balanced",), _yes_no("balanced")),
    "reason": _Column(N_("Reason"), ("reason",), _plain("reason", "text")),
    "reason_code": _Column(N_("Reason"), ("reason_code",), _code("reason_code")),
    "rows": _Column(N_("Rows"), ("rows",), _plain("rows", "count")),
    # a check's words begin with a capital, as a row heading (won_reversed is also a reason)
    "check": _Column(N_("Check"), ("check",), lambda row, c: Cell(
        (lambda words: words[:1].upper() + words[1:])(code_text(row["check"], c.fmt)))),
    "records": _Column(N_("Records"), ("records",), _plain("records", "count")),
    "share": _Column(N_("Share"), ("share",), _plain("share", "percent")),
    # funnel
    "phase": _Column(N_("Phase"), ("phase",), _phase("phase")),
    "phase_label": _Column(N_("Phase"), ("label",), _plain("label", "text")),
    "reached": _Column(N_("Reached"), ("reached",), _plain("reached", "count")),
    "n": _Column(N_("Records"), ("n",), _plain("n", "count")),
    "successes": _Column(N_("Converted"), ("successes",), _plain("successes", "count")),
    "open": _Column(N_("Open"), ("open",), _plain("open", "count")),
    "lost": _Column(N_("Lost"), ("lost",), _plain("lost", "count")),
    "step": _Column(N_("Step"), ("from_phase", "to_phase"), _step),
    "rate": _Column(N_("Conversion"), ("rate",), _plain("rate", "percent")),
    "ever_rate": _Column(N_("Ever converted, no window"), ("ever_rate",),
                         _plain("ever_rate", "percent")),
    "rate_ci": _Column(N_("Conversion (95% interval)"), ("rate", "ci_low", "ci_high"),
                       _interval("rate", "ci_low", "ci_high", "percent")),
    "lost_rate_ci": _Column(N_("Lost (95% interval)"), ("rate", "ci_low", "ci_high"),
                            _interval("rate", "ci_low", "ci_high", "percent")),
    "cumulative_ci": _Column(N_("From the first phase (95% interval)"),
                             ("cumulative_rate", "cumulative_ci_low", "cumulative_ci_high"),
                             _interval("cumulative_rate", "cumulative_ci_low",
                                       "cumulative_ci_high", "percent")),
    "immature_n": _Column(N_("Too recent to count"), ("immature_n",),
                          _plain("immature_n", "count")),
    "period": _Column(N_("Period"), ("period",), _plain("period", "period")),
    "month": _Column(N_("Month"), ("month",), lambda row, c: Cell(_month(row["month"], c.fmt))),
    # readiness and duration
    "factor": _Column(N_("Factor"), ("factor",), _code("factor")),
    "score": _Column(N_("Score (1-5)"), ("score",), _plain("score", "count")),
    "basis": _Column(N_("Basis"), ("basis",), _code("basis")),
    "advice": _Column(N_("Advice"), ("advice_code",), _code("advice_code")),
    "effect_weeks": _Column(N_("Effect (weeks)"), ("effect_weeks",),
                            _plain("effect_weeks", "number")),
    "step_name": _Column(N_("Step"), ("step_name_nl", "step_name_en"), _step_name),
    "weeks_range": _Column(N_("Weeks (range)"), ("weeks", "weeks_low", "weeks_high"),
                           _weeks_range),
    # process model
    "functions": _Column(N_("Functions (roles)"), ("functions",), _listed("functions")),
    "tasks": _Column(N_("Tasks"), ("tasks",), _listed("tasks")),
    "actions": _Column(N_("Actions"), ("actions",), _listed("actions")),
    "output": _Column(N_("Output"), ("output",), _listed("output")),
    "entry_criteria": _Column(N_("Entry criteria"), ("entry_criteria",),
                              _listed("entry_criteria")),
    "crm_stages": _Column(N_("CRM stages"), ("crm_stages",), _listed("crm_stages")),
    "source_stage": _Column(N_("CRM stage"), ("source_stage",), _plain("source_stage", "text")),
    # KPIs
    "kpi_label": _Column(N_("KPI"), ("label",), _kpi_label),
    "node_label": _Column(N_("KPI"), ("node", "label"), _node_label),
    "value_ci": _Column(N_("Value (95% interval)"), ("value", "ci_low", "ci_high"),
                        _unit_interval("value", "ci_low", "ci_high")),
    "value": _Column(N_("Value"), ("value",), _unit_value("value")),
    "target": _Column(N_("Target"), ("target",), _unit_value("target")),
    "status_vs_target": _Column(N_("Status"), ("status_vs_target",),
                                _status("status_vs_target")),
    "status": _Column(N_("Status"), ("status",), _status("status")),
    "trend": _Column(N_("Trend"), ("trend",), _code("trend")),
    "change": _Column(N_("Change on the month before"), ("change",), _points("change")),
    "owner": _Column(N_("Owner"), ("owner",), _plain("owner", "text")),
    # time to convert
    "converted": _Column(N_("Converted"), ("converted",), _plain("converted", "count")),
    "median_days_ci": _Column(N_("Median days to convert (95% interval)"),
                              ("median_days", "median_ci_low", "median_ci_high"),
                              _interval("median_days", "median_ci_low", "median_ci_high",
                                        "days")),
    "cif_30d": _Column(N_("Converted by day 30"), ("cif_30d",), _plain("cif_30d", "percent")),
    "cif_90d": _Column(N_("Converted by day 90"), ("cif_90d",), _plain("cif_90d", "percent")),
    "cif_180d": _Column(N_("Converted by day 180"), ("cif_180d",),
                        _plain("cif_180d", "percent")),
    # seasonality
    "p_value": _Column(N_("p-value"), ("p_value",), _plain("p_value", "p_value")),
    "p_adjusted": _Column(N_("p-value (adjusted)"), ("p_adjusted",),
                          _plain("p_adjusted", "p_value")),
    "variation": _Column(N_("Month-to-month variation"), ("coefficient_of_variation",),
                         _plain("coefficient_of_variation", "percent")),
    "months": _Column(N_("Months"), ("months",), _plain("months", "count")),
    "volume": _Column(N_("Volume"), ("volume",), _plain("volume", "count")),
    # diagnosis
    "rank": _Column(N_("#"), ("rank",), _plain("rank", "count")),
    "area": _Column(N_("Area"), ("area",), _code("area")),
    "finding": _Column(N_("Finding"), ("finding",), _plain("finding", "text")),
    "finding_text": _Column(N_("Finding"), ("area",), _finding),
    "action_hint_text": _Column(N_("Action hint"), ("area",), _hint),
    "scan_finding_text": _Column(N_("Finding"), ("attribute", "segment", "from_phase", "to_phase"),
                                 _scan_finding),
    "evidence_text": _Column(N_("Evidence"), ("area",), _evidence),
    "measure_text": _Column(N_("Measure"), ("measure_index",), lambda row, c: Cell(
        c.fmt.gettext(_SEASON_MEASURES[int(row["measure_index"])]))),
    "kpi_key": _Column(N_("KPI"), ("kpi",), _phase("kpi")),
    # the action plan (step 6)
    "plan_what": _Column(N_("Action"), ("what_code", "phase", "what_items"), _plan_what),
    "who": _Column(N_("Who"), ("who",), _plain("who", "text")),
    "horizon": _Column(N_("Horizon"), ("horizon",), _code("horizon")),
    "records_needed": _Column(N_("Records needed after the start"), ("records_needed",),
                              _plain("records_needed", "count")),
    "judge_by": _Column(N_("Can be judged by"), ("judge_by",), _plain("judge_by", "date")),
    "plan_status": _Column(N_("Status"), ("status",), _code("status")),
    "extra_orders_ci": _Column(N_("Extra orders per year (range)"), ("extra_orders", _OL, _OH),
                               _interval("extra_orders", _OL, _OH, "count")),
    "extra_revenue": _Column(N_("Extra revenue per year"), ("extra_revenue",),
                             _plain("extra_revenue", "amount")),
    "extra_revenue_ci": _Column(N_("Extra revenue per year (range)"),
                                ("extra_revenue", _RL, _RH),
                                _interval("extra_revenue", _RL, _RH, "amount")),
    "reference_rate": _Column(N_("Reference"), ("reference_rate",),
                              _plain("reference_rate", "percent")),
    "attribute": _Column(N_("Attribute"), ("attribute",),
                         lambda row, c: Cell(c.attribute(row["attribute"]))),
    # a KPI split by segment names it "action=network": shown "Actie: network"
    "segment_value": _Column(N_("Segment"), ("segment",), lambda row, c: Cell(
        _split_segment(row["segment"], c))),
    "typical_rate": _Column(N_("Typical segment"), ("typical_rate",),
                            _plain("typical_rate", "percent")),
    "share_of_lost": _Column(N_("Share of all lost"), ("share_of_lost",),
                             _plain("share_of_lost", "percent")),
    "median_days": _Column(N_("Median days"), ("median_days",), _plain("median_days", "days")),
    "record_id": _Column(N_("Record"), ("record_id",), _plain("record_id", "text")),
    "days_in_phase": _Column(N_("Days in phase"), ("days_in_phase",),
                             _plain("days_in_phase", "days")),
    "amount": _Column(N_("Amount"), ("value",), _plain("value", "amount")),
    "action": _Column(N_("Action"), ("action",), _plain("action", "text")),
    "cost_per_lead": _Column(N_("Cost per lead"), ("cost_per_lead",),
                             _plain("cost_per_lead", "amount")),
    "cost_per_order": _Column(N_("Cost per order"), ("cost_per_order",),
                              _plain("cost_per_order", "amount")),
    # improvement
    "measure": _Column(N_("Measure"), ("measure",), _code("measure")),
    # the what-if's orders are simulated from the inflow of complete months: another quantity
    # than step 3's implied orders or the orders counted per month, and labelled as such
    "measure_per": _Column(N_("Measure"), ("measure", "period"), lambda row, c: Cell(
        c.fmt.gettext("{measure} per {period} (simulated)").format(
            measure=code_text(row["measure"], c.fmt), period=code_text(row["period"], c.fmt)))),
    "baseline_ci": _Column(N_("Now (range)"), ("baseline", _BL, _BH),
                           _measure_interval("baseline", _BL, _BH)),
    "scenario_ci": _Column(N_("With the improvement (range)"), ("scenario", _SL, _SH),
                           _measure_interval("scenario", _SL, _SH)),
    "change_ci": _Column(N_("Change (range)"), ("change", _CL, _CH),
                         _measure_interval("change", _CL, _CH)),
    "prob_increase": _Column(N_("Chance of an increase"), ("prob_increase",),
                             _plain("prob_increase", "percent")),
    "required_entries": _Column(N_("Entries needed"), ("required_entries",),
                                _plain("required_entries", "number")),
    "current_entries": _Column(N_("Entries now"), ("current_entries",),
                               _plain("current_entries", "number")),
    "total_records": _Column(N_("Records a test needs"), ("total_records",),
                             _plain("total_records", "count")),
    "weeks_until_readable": _Column(N_("Weeks until readable"), ("weeks_until_readable",),
                                    _plain("weeks_until_readable", "weeks")),
    # before and after a declared change
    "description": _Column(N_("Process change"), ("description",),
                           _plain("description", "text")),
    "change_date": _Column(N_("Date"), ("change_date",), _plain("change_date", "date")),
    "effect": _Column(N_("Effect"), ("effect",), _code("effect")),
    "estimate_ci": _Column(N_("Estimate (95% interval)"), ("estimate", "ci_low", "ci_high"),
                           lambda row, c: Cell(_points_interval(row, c), "num")),
    # steering
    "previous": _Column(N_("Month before"), ("previous",), _plain("previous", "percent")),
    "current": _Column(N_("Latest month"), ("current",), _plain("current", "percent")),
    # the months compared are named in the cell: the scorecard's judged month and the
    # judgeable month before it, a rate as a percentage and any other KPI as a number
    "previous_in": _Column(N_("Month before"), ("previous", "previous_period"),
                           lambda row, c: _value_in(row, "previous", "previous_period", c)),
    "current_in": _Column(N_("Judged month"), ("current", "period"),
                          lambda row, c: _value_in(row, "current", "period", c)),
    "change_points": _Column(N_("Change"), ("change",), _points("change")),
    "significant": _Column(N_("Significant"), ("significant",), _yes_no("significant")),
    "rule": _Column(N_("Rule"), ("rule",), _plain("rule", "text")),
}

#: Most columns a table shows side by side; a wider spec is cut here (the workbook has them all).
MAX_COLUMNS = 7


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
    fmt
        The formatter of the report's language and currency.
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
    """
    unknown = [c for c in columns if c not in COLUMNS]
    if unknown:
        raise KeyError(f"display_table: no column {unknown} in the report's vocabulary; "
                       f"add it to toolkit.present.tables.COLUMNS")
    shown = [c for c in columns if all(_has(frame.columns, need) for need in COLUMNS[c].needs)]
    shown = shown[:MAX_COLUMNS]
    context = _Context(fmt=fmt, phases=phases, labels=dict(labels or {}),
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


def cell_text(value: Any, fmt: Formatter) -> str:
    """A lone value of unknown kind: numbers by size, codes as words, text as it is."""
    if is_missing(value):
        return MISSING
    if isinstance(value, bool):
        return fmt.gettext("yes") if value else fmt.gettext("no")
    if isinstance(value, int | float):
        return fmt.number(value)
    return code_text(value, fmt)
