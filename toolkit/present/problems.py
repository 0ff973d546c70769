"""Why a part of a step could not be computed, in the report's language.

A step's `problems` hold the library's English sentences; those that are a
:class:`~toolkit.base.vocabulary.Reason` carry a code and the values the sentence names. In another
language the reason is written from that code through the message catalogue, with every value
through the formatter (a phase by its label, a date in the language), never by translating the
English sentence. A reason without a code reads as a plain "could not be computed with this data"
pointing to the workbook, so no English sentence reaches a Dutch page.

::

    problem_text(plan.explain("scenario"), formatter("nl"), phases=engagement.phase_model)
    # 'er kon geen knelpunt worden bepaald: geen enkele stap heeft genoeg volgroeide ...'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from toolkit.base.docstrings import shared_docs
from toolkit.base.vocabulary import Reason
from toolkit.present.format import Formatter, is_missing
from toolkit.present.tables import N_, attribute_label, code_text

__all__ = ["PROBLEM_WORDS", "UNCODED", "problem_text", "is_coded"]

#: Each problem code's sentence (English msgid; its placeholders are the Reason's values); a pair
#: is the singular and plural of a sentence about the value ``count``.
PROBLEM_WORDS: dict[str, str | tuple[str, str]] = {
    "needs_dates": N_("it needs dates, and the records of this engagement have none (a lead list "
                      "without dates)"),
    "no_usable_records": N_("no record could be used: see why rows were set aside, and correct the "
                            "export or the engagement YAML"),
    "action_plan_needs_fruit": N_("the action plan is written from step 5's ranked list, "
                                  "which could not be made"),
    "no_demonstrated_gap": N_("step 5 demonstrated no gap whose range of extra orders stays above "
                              "zero, so there is no action to plan yet"),
    "no_action_attribute": N_("the records have no action attribute (declare the action or "
                              "channel column under the source's `attributes`)"),
    "no_comparable_step": N_("no transition has enough mature records to compare with a "
                             "reference: too few records to conclude"),
    "no_bottleneck": N_("no bottleneck could be sized: {why}"),
    "factors_not_scored": (N_("{count} duration factor is not scored, so no duration is "
                              "estimated: score it with the client under `duration_factors:` in "
                              "the engagement YAML"),
                           N_("{count} duration factors are not scored, so no duration is "
                              "estimated: score them with the client under `duration_factors:` "
                              "in the engagement YAML")),
    "no_order_target": N_("no order target is set (`orders_per_month` under `targets` in the "
                          "engagement YAML)"),
    "no_change_declared": N_("No process change is declared, so no before/after evaluation is "
                             "made. To evaluate one, add an entry under `changes:` in the "
                             "engagement YAML with `date:`, `description:` and `step:`, and run "
                             "the step again."),
    "change_no_records": N_("The change of {date} ({description}, step {start} → {end}) cannot be "
                            "evaluated yet: too few records to conclude, as no record has reached "
                            "{start}."),
    "change_not_mature": N_("The change of {date} ({description}, step {start} → {end}) cannot be "
                            "evaluated yet: there are not yet mature records on both sides of the "
                            "date (a record counts once its {window}-day window has closed before "
                            "the measurement date {as_of}). Evaluate it again later."),
    "no_mature_month": N_("no month has mature records yet: too few records to conclude"),
    "no_steering_step": N_("too few mature records to choose a conversion to steer on (no "
                           "transition could be compared with a reference)"),
    "no_period_report": N_("no period report without a conversion to steer on: {why}"),
    "no_judgeable_month": N_("no month of {kpi} can be judged yet: each is immature or has fewer "
                             "than {n} records"),
    "kpi_not_judged": N_("{period} is not judged ({why}); the last month that can be judged is "
                         "{last}"),
    "no_period_judged": N_("no month can be judged yet: each is immature or has fewer than {n} "
                           "records"),
    "no_value_yet": N_("no value yet"),
    "no_scorecard": N_("No scorecard: {why}"),
    "snapshot_timing": N_("A source of this engagement is a snapshot, so the dates on which "
                          "records entered each phase are not in the data; cohort windows, "
                          "periods and stall times rest on creation and close dates only. Treat "
                          "the diagnosis as indicative, or load a stage history."),
    "attribute_left_out": (N_("Attribute {attribute} has {count} distinct value (more than {n}), "
                              "so it looks like an identifier or free text and was left out of "
                              "the scan."),
                           N_("Attribute {attribute} has {count} distinct values (more than {n}), "
                              "so it looks like an identifier or free text and was left out of "
                              "the scan.")),
    "filled_at_outcome": N_("filled in for {share} of the {outcome} records but at most {others} "
                            "of the others: entered at the outcome, so it would look like a "
                            "perfect segment"),
    "derived_from_outcome": N_("its values decide won or lost (each value belongs to one "
                               "outcome): derived from the outcome, such as a close reason or "
                               "the current stage"),
    "close_value": N_("the deal value is 0 or blank for {lost_share} of lost deals but for "
                      "{won_share} of won deals: a close value, derived from the outcome"),
    "benchmarks_ignored": (N_("{count} benchmark row is not a transition of this engagement's "
                              "phase model and was ignored: {rows}."),
                           N_("{count} benchmark rows are not transitions of this engagement's "
                              "phase model and were ignored: {rows}.")),
    "inside_window": (N_("{count} record is still inside its window"),
                      N_("{count} records are still inside their window")),
    "too_few_to_judge": (N_("{count} record, fewer than the {n} needed to judge"),
                         N_("{count} records, fewer than the {n} needed to judge")),
    "no_amounts": N_("the records have no amounts: map a value column under the source's "
                     "`columns` to measure values"),
    "no_lost_records": N_("the data hold no lost record where this counts (the export holds "
                          "none, or a snapshot does not say where deals were lost: add a "
                          "`lost_at_stage` column, or `created_phase`)"),
    "no_distinct_times": N_("every transition of this step carries one timestamp, so its "
                            "duration cannot be measured"),
    "no_time_of_day": N_("the timestamps are dates without a time of day"),
    "scan_everyone_converts": N_("every one of the {n} records that reached {start} reached "
                                 "{end}, so no segment can convert differently there"),
    "scan_nobody_converts": N_("none of the {n} records that reached {start} reached {end}, so "
                               "no segment can convert differently there"),
    "test_everyone_converts": N_("every record that reached {start} reached {end} (a rate of "
                                 "100%), so no test can show it rising"),
    "test_nobody_converts": N_("no record that reached {start} reached {end} (a rate of 0%), so "
                               "no test can be sized from it"),
    "test_uplift_too_large": N_("{start} → {end} converts {share}: the improvement the test must "
                                "show would take it past 100% (or below 0%), so no test is "
                                "sized; pass a smaller `uplift`"),
    "change_no_control": N_("The change of {date} ({description}, step {start} → {end}) cannot "
                            "be compared with untouched records: its comparison group under "
                            "`changes:` in the engagement YAML ({attribute}: {segments}) holds "
                            "no record."),
}

#: What a reason without a code reads as outside English (the workbook's Notes sheet keeps the
#: library's sentence).
UNCODED = N_("it could not be computed with this data (the reason is in the workbook, sheet "
             "Notes)")


def is_coded(reason: object) -> bool:
    """Whether `reason` carries a problem code a report can write in any language.

    Parameters
    ----------
    reason : object
        A Reason or a plain sentence.

    Returns
    -------
    bool
    """
    return isinstance(reason, Reason) and (reason.code in PROBLEM_WORDS
                                           or reason.code == "changes_not_evaluated")


@shared_docs
def problem_text(reason: object, fmt: Formatter, *, phases: Any = None,
                 labels: Mapping[str, str] | None = None, from_code: bool = False,
                 attributes: Mapping[str, str] | None = None) -> str:
    """`reason` in the formatter's language: the library's sentence in English; otherwise written
    from its code and values (a reason without a code: :data:`UNCODED`).

    Parameters
    ----------
    reason : object
        A Reason (a problem code with values) or a plain sentence.
    {shared.fmt}
    phases : PhaseModel, optional
        The engagement's phase model, naming the phases a reason mentions.
    labels : mapping of str to str, optional
        Key -> label (e.g. KPI keys) for the KPIs a reason mentions.
    from_code : bool, default False
        Write a coded reason from its code in English too (the workbook, whose cells read alike
        in both languages: labels, not keys); a reason without a code then keeps the
        library's English sentence.
    attributes : mapping of str to str, optional
        Attribute -> its label (:func:`toolkit.present.tables.attribute_headers`).

    Returns
    -------
    str
        The sentence.
    """
    if fmt.language == "en" and not (from_code and is_coded(reason)):
        return str(reason)
    if not isinstance(reason, Reason) or not is_coded(reason):
        return fmt.gettext(UNCODED)
    name = _namer(phases, labels or {})
    if reason.code == "changes_not_evaluated":
        return " ".join(problem_text(inner, fmt, phases=phases, labels=labels,
                                     from_code=from_code, attributes=attributes)
                        for inner in reason.values.get("reasons", []))
    values = reason.values
    shown: dict[str, str] = {}
    if "why" in values:
        shown["why"] = problem_text(values["why"], fmt, phases=phases, labels=labels,
                                    from_code=from_code, attributes=attributes)
    if "date" in values:
        shown["date"] = fmt.date(values["date"], length="long")
    if "as_of" in values:
        shown["as_of"] = fmt.date(values["as_of"], length="long")
    if "description" in values:
        shown["description"] = str(values["description"])
    if "from_phase" in values:
        shown["start"] = name(values["from_phase"])
    if "to_phase" in values:
        shown["end"] = name(values["to_phase"])
    if "window_days" in values:
        shown["window"] = fmt.count(values["window_days"])
    if "kpi" in values:
        shown["kpi"] = name(values["kpi"])
    if "n" in values:
        shown["n"] = fmt.count(values["n"])
    if "count" in values:
        shown["count"] = fmt.count(values["count"])
    if "attribute" in values:
        shown["attribute"] = attribute_label(values["attribute"], fmt, attributes)
    if "rows" in values:
        shown["rows"] = str(values["rows"])
    if "segments" in values:
        shown["segments"] = str(values["segments"])
    for key in ("share", "others", "lost_share", "won_share"):
        if key in values:
            shown[key] = fmt.percent(values[key], 0)
    if "outcome" in values:
        shown["outcome"] = code_text(values["outcome"], fmt)
    for key in ("period", "last"):
        if key in values:
            shown[key] = fmt.period(values[key])
    words = PROBLEM_WORDS[reason.code]
    if isinstance(words, tuple):
        return fmt.ngettext(*words, int(values.get("count", 0))).format(**shown)
    return fmt.gettext(words).format(**shown)


def _namer(phases: Any, labels: Mapping[str, str]) -> Callable[[object], str]:
    def name(key: object) -> str:
        if is_missing(key):
            return "–"
        key = str(key)
        if key in labels:
            return labels[key]
        if phases is not None and key in phases.keys:
            return phases.label(key)
        if phases is not None and key.startswith("conversion_"):
            for a, b in phases.transitions():
                if key == f"conversion_{a}_{b}":
                    return f"{phases.label(a)} → {phases.label(b)}"
        return key
    return name

