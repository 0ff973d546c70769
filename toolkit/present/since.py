"""The page "Since the last report" written from a :class:`toolkit.analysis.since.SinceReport`:
its sentences through the message catalogue, every number through the one formatter.

:func:`since_page` returns what the template shows: ``lead`` (sentences), and ``sections`` (a
title, a lead and a :class:`DisplayTable` each). :func:`since_sheet` is the workbook's sheet of
the same rows in the report's language. Nothing is computed here: the verdicts, p-values and
counts are the SinceReport's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from toolkit.base.docstrings import shared_docs
from toolkit.present.format import MISSING, Formatter, is_missing
from toolkit.present.tables import N_, attribute_label
from toolkit.present.tables.cells import Cell, CellContext, DisplayTable
from toolkit.present.tables.findings import kpi_label_cell

if TYPE_CHECKING:
    from toolkit.analysis.since import SinceReport

__all__ = ["SinceSection", "since_page", "since_sheet", "PAGE_TITLE"]

#: The page's title (English msgid; Dutch "Sinds het vorige rapport").
PAGE_TITLE = N_("Since the last report")

_WHAT = {
    "leak": N_("Tighten the tasks at {phase}"),
    "raise": N_("Improve the actions at {phase}"),
    "volume": N_("More volume into {phase}"),
    "coach": N_("Coach {segment} at {phase}"),
    "shift": N_("Shift effort at {phase} away from {segment}"),
    "segment": N_("Find out why {segment} converts worse at {phase}"),
}
_VERDICT = {"worked": N_("worked"), "did_not_work": N_("did not work")}
_REASON = {
    "volume_action": N_("not evaluated: a volume action is judged on the entries per month"),
    "no_mature_records": N_("not evaluated: no mature record on both sides of the start"),
    "evaluation_failed": N_("not evaluated: the comparison cannot be fitted on these records"),
    "not_on_previous_scorecard": N_("n/a: not on the last report's scorecard"),
    "not_on_this_scorecard": N_("n/a: not on this report's scorecard"),
    "same_month": N_("n/a: both reports judge the same month"),
    "no_counts": N_("n/a: no counts to test"),
}
_FINDING = {"new": N_("new"), "gone": N_("gone"), "still": N_("still there")}
_CHANGE = {"added": N_("added"), "removed": N_("removed"), "restated": N_("history restated"),
           "in both": N_("in both exports")}
_AREA = {"bottleneck": N_("bottleneck"), "segment": N_("segment"), "volume": N_("volume"),
         "mix": N_("mix"), "stalled": N_("stalled records")}


@dataclass
class SinceSection:
    """One part of the page: its title and lead (translated) and its table."""

    title: str
    lead: str = ""
    table: DisplayTable | None = None
    problem: str = ""
    rows: list[list[str]] = field(default_factory=list)


def _table(headers: list[str], rows: list[list[Cell]], numeric: list[bool],
           note: str = "") -> DisplayTable:
    return DisplayTable(headers=headers, rows=rows, numeric=numeric, note=note)


def _phase(key: Any, labels: Mapping[str, str]) -> str:
    return MISSING if is_missing(key) else str(labels.get(str(key), key))


def _step(row: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    if is_missing(row.get("to_phase")):
        return _phase(row.get("from_phase"), labels)
    return f"{_phase(row.get('from_phase'), labels)} → {_phase(row.get('to_phase'), labels)}"


def action_words(row: Mapping[str, Any], fmt: Formatter, labels: Mapping[str, str]) -> str:
    """An action in words from its code: what, at which phase, for which segment."""
    code = row.get("what_code")
    template = _WHAT.get(str(code)) if not is_missing(code) else None
    if template is None:
        return str(row.get("action_id"))
    return fmt.gettext(template).format(
        phase=_phase(row.get("from_phase"), labels),
        segment=MISSING if is_missing(row.get("segment")) else str(row.get("segment")))


def verdict_words(row: Mapping[str, Any], fmt: Formatter) -> str:
    """A started action's verdict: worked, did not work, too early (N of M records, expected
    by a date) or why it was not evaluated."""
    verdict = str(row.get("verdict"))
    if verdict == "too_early":
        n_after = 0 if is_missing(row.get("n_after")) else row.get("n_after")
        return fmt.gettext("too early to judge: {n} of {m} records, expected by {date}").format(
            n=fmt.count(n_after), m=fmt.count(row.get("records_needed")),
            date=fmt.date(row.get("expected_by"), length="long"))
    if verdict in _VERDICT:
        return fmt.gettext(_VERDICT[verdict])
    return fmt.gettext(_REASON.get(str(row.get("reason")), N_("not evaluated")))


def _tone(verdict: str) -> str:
    return {"worked": "good", "did_not_work": "bad", "too_early": "warn"}.get(verdict, "none")


def _actions(actions: pd.DataFrame, fmt: Formatter, labels: Mapping[str, str]) -> SinceSection:
    section = SinceSection(
        title=fmt.gettext(N_("The actions that were started")),
        lead=fmt.gettext(N_("Each started action's step compared before and after its start, "
                            "like a declared change (mature records only, mix aware); judged "
                            "once the records its plan needs have passed the step. Records "
                            "whose history was restated are left out.")))
    if not len(actions):
        section.problem = fmt.gettext(N_("No action of the plan has the status started or done "
                                         "with a start date: set them in plan.yaml."))
        return section
    headers = [fmt.gettext(h) for h in (N_("Action"), N_("Step"), N_("Start"), N_("Verdict"),
                                        N_("Before"), N_("After"),
                                        N_("Difference (95% interval)"), N_("p-value"),
                                        N_("Restated, left out"))]
    rows = []
    for row in actions.to_dict("records"):
        estimate = row.get("estimate")
        # the bounds as bare signed numbers: the unit once, after the estimate (a table cell)
        interval = MISSING if is_missing(estimate) else fmt.gettext(
            "{value} ({low} to {high})").format(value=fmt.points(estimate),
                                                low=_bound(row.get("ci_low"), fmt),
                                                high=_bound(row.get("ci_high"), fmt))
        rows.append([Cell(action_words(row, fmt, labels)), Cell(_step(row, labels)),
                     Cell(fmt.date(row.get("start"))),
                     Cell(verdict_words(row, fmt), _tone(str(row.get("verdict")))),
                     Cell(fmt.percent(row.get("rate_before")), "num"),
                     Cell(fmt.percent(row.get("rate_after")), "num"),
                     Cell(interval), Cell(fmt.p_value(row.get("p_value")), "num"),
                     Cell(fmt.count(row.get("restated_left_out")), "num")])
    # the difference with its interval wraps like text: kept on one line (a number cell) it
    # pushed the table's last column off the page
    section.table = _table(headers, rows, [False, False, False, False, True, True, False, True,
                                           True])
    return section


def _bound(difference: Any, fmt: Formatter) -> str:
    """A bound of a difference of rates in points, without the unit: '+10,0'."""
    return MISSING if is_missing(difference) else fmt.number(float(difference) * 100, 1,
                                                             signed=True)


def _kpi_words(row: Mapping[str, Any], fmt: Formatter, labels: Mapping[str, str]) -> str:
    """A scorecard KPI in the page's language. The run state keeps the label the toolkit wrote
    (English for its own KPIs, the client's words for a declared one); a label of the toolkit's
    is written again through the KPI table's words (toolkit.present.tables.kpi_label_cell)."""
    label = str(row.get("label") or row.get("kpi"))
    by_label = {str(text): key for key, text in labels.items()}
    shown = re.fullmatch(r"(Conversion|Median days) (.+) → (.+?)(?: within \d+ days)?", label)
    kind = {"Conversion": "conversion", "Median days": "duration"}.get(shown[1]) if shown else None
    kpi = pd.Series({"label": label, "kind": kind,
                     "from_phase": by_label.get(shown[2]) if shown else None,
                     "to_phase": by_label.get(shown[3]) if shown else None})
    return kpi_label_cell(kpi, CellContext(fmt, None, labels)).text


def _real_words(row: Mapping[str, Any], fmt: Formatter) -> str:
    real = row.get("real")
    if real is None or is_missing(real):
        return fmt.gettext(_REASON.get(str(row.get("reason")), N_("n/a")))
    if bool(real) and row.get("outside_limits") is True:
        return fmt.gettext("yes: outside the control limits ({p})").format(
            p=fmt.p_phrase(row.get("p_value")))
    if bool(real):
        return fmt.gettext("yes ({p})").format(p=fmt.p_phrase(row.get("p_value")))
    return fmt.gettext("no, within chance ({p})").format(p=fmt.p_phrase(row.get("p_value")))


def _kpis(kpis: pd.DataFrame, fmt: Formatter, kpi_labels: Mapping[str, str],
          labels: Mapping[str, str]) -> SinceSection:
    section = SinceSection(
        title=fmt.gettext(N_("The scorecard then and now")),
        lead=fmt.gettext(N_("Each KPI of the scorecard in the last report and in this one, with "
                            "the month each refers to; a difference is real when a two-rate "
                            "test finds it (5%, two-sided) or this month falls outside the "
                            "control limits.")))
    if not len(kpis):
        section.problem = fmt.gettext(N_("Neither report has a scorecard."))
        return section
    headers = [fmt.gettext(h) for h in (N_("KPI"), N_("Last report: month"),
                                        N_("Last report"), N_("This report: month"),
                                        N_("This report"), N_("Difference"), N_("Real?"))]
    rows = []
    for row in kpis.to_dict("records"):
        percent = row.get("unit") == "%"
        value = fmt.percent if percent else fmt.number
        difference = (fmt.points(row.get("difference")) if percent
                      else fmt.number(row.get("difference"), signed=True))
        tone = "none" if row.get("real") is None else ("warn" if row.get("real") else "text")
        rows.append([Cell(_kpi_words({**row, "label": kpi_labels.get(row["kpi"]) or row.get("label")},
                                     fmt, labels)),
                     Cell(fmt.period(row.get("previous_period"))),
                     Cell(value(row.get("previous")), "num"),
                     Cell(fmt.period(row.get("period"))),
                     Cell(value(row.get("current")), "num"),
                     Cell(difference, "num"), Cell(_real_words(row, fmt), tone)])
    section.table = _table(headers, rows, [False, False, True, False, True, True, False])
    return section


#: How many reports the trend shows per KPI (the workbook's sheet has the same rows).
TREND_REPORTS = 6


def _trend(trend: pd.DataFrame, kpis: pd.DataFrame, fmt: Formatter,
           kpi_labels: Mapping[str, str], labels: Mapping[str, str],
           problem: str | None) -> SinceSection:
    section = SinceSection(
        title=fmt.gettext(N_("The scorecard over the reports")),
        lead=fmt.gettext(N_("Each KPI of the scorecard in the reports of this engagement up to "
                            "this one (the last six), from the report history beside the report "
                            "folders: its month, its value with the 95% interval and the records "
                            "it counts, and the change from the report before.")))
    if problem == "history_unreadable":
        section.lead += " " + fmt.gettext(N_("The report history cannot be read: only the two "
                                             "compared reports are shown."))
    units = {str(row["kpi"]): row for row in kpis.to_dict("records")}
    shown = trend[trend["kpi"].astype(str).isin(units)] if len(trend) else trend
    if not len(shown):
        section.problem = fmt.gettext(N_("Neither report has a scorecard."))
        return section
    headers = [fmt.gettext(h) for h in (N_("KPI"), N_("Report as of"), N_("Month"),
                                        N_("Value (95% interval)"), N_("Records"),
                                        N_("Change from the report before"))]
    rows = []
    groups = dict(tuple(shown.groupby(shown["kpi"].astype(str), sort=False)))
    for kpi in [k for k in units if k in groups]:  # the scorecard's order, the process order
        part = groups[kpi]
        about = units[str(kpi)]
        percent = about.get("unit") == "%"
        words = _kpi_words({**about, "label": kpi_labels.get(str(kpi)) or about.get("label")},
                           fmt, labels)
        for row in part.tail(TREND_REPORTS).to_dict("records"):
            change = row.get("change")
            rows.append([
                Cell(words), Cell(fmt.date(row.get("as_of"))), Cell(fmt.period(row.get("period"))),
                Cell(fmt.interval(row.get("value"), row.get("ci_low"), row.get("ci_high"),
                                  "percent" if percent else "number"), "num"),
                Cell(fmt.count(row.get("trials")), "num"),
                Cell(fmt.points(change) if percent else fmt.number(change, signed=True), "num")])
    section.table = _table(headers, rows, [False, False, False, True, True, True])
    return section


def _findings(findings: pd.DataFrame, fmt: Formatter, labels: Mapping[str, str]) -> SinceSection:
    section = SinceSection(title=fmt.gettext(N_("Findings new, gone or still there")),
                           lead=fmt.gettext(N_("Step 5's findings compared by what they are "
                                               "about (area, step, segment), not by their "
                                               "wording.")))
    if not len(findings):
        section.problem = fmt.gettext(N_("Neither report has findings."))
        return section
    headers = [fmt.gettext(h) for h in (N_("Finding"), N_("Step"), N_("Segment"), N_("Status"))]
    rows = []
    order = {"new": 0, "gone": 1, "still": 2}
    for row in sorted(findings.to_dict("records"), key=lambda r: order.get(r["status"], 3)):
        segment = (MISSING if is_missing(row.get("segment")) else
                   f"{attribute_label(row.get('attribute'), fmt, {})} = {row.get('segment')}")
        rows.append([Cell(fmt.gettext(_AREA.get(str(row.get("area")), N_("finding")))),
                     Cell(_step(row, labels)), Cell(segment),
                     Cell(fmt.gettext(_FINDING[row["status"]]),
                          "warn" if row["status"] == "new" else "text")])
    section.table = _table(headers, rows, [False, False, False, False])
    return section


def _data(counts: pd.DataFrame, changed: pd.DataFrame, fmt: Formatter,
          max_rows: int = 20) -> list[SinceSection]:
    section = SinceSection(
        title=fmt.gettext(N_("What changed in the data itself")),
        lead=fmt.gettext(N_("A CRM's history is edited after the fact. A record is restated when "
                            "the part of its history the last export could see (up to its as-of "
                            "date) differs now: an earlier stage, a date or the outcome. Restated "
                            "records are counted here and not read as change.")))
    headers = [fmt.gettext(N_("Records")), fmt.gettext(N_("Count"))]
    rows = [[Cell(fmt.gettext(_CHANGE[row.change])), Cell(fmt.count(row.records), "num")]
            for row in counts.itertuples(index=False)]
    section.table = _table(headers, rows, [False, True])
    listed = SinceSection(title=fmt.gettext(N_("Records restated, added or removed")),
                          lead=fmt.gettext(N_("By record code (a keyed hash of the record's "
                                              "key, never a name); the workbook lists them "
                                              "all.")))
    if len(changed):
        shown = changed.head(max_rows)
        note = "" if len(changed) <= max_rows else fmt.gettext(
            "{shown} of {total} records shown.").format(shown=fmt.count(len(shown)),
                                                         total=fmt.count(len(changed)))
        listed.table = _table([fmt.gettext(N_("Record")), fmt.gettext(N_("Change in the data"))],
                              [[Cell(str(r.record)), Cell(fmt.gettext(_CHANGE[r.change]))]
                               for r in shown.itertuples(index=False)], [False, False], note)
    else:
        listed.problem = fmt.gettext(N_("No record was added, removed or restated."))
    return [section, listed]


@shared_docs
def since_page(report: SinceReport, fmt: Formatter, *, phase_labels: Mapping[str, str],
               kpi_labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """What the page "Since the last report" shows.

    Parameters
    ----------
    report : SinceReport
        The comparison (``toolkit.analysis.since.since_last_report``).
    {shared.fmt}
    phase_labels : mapping of str to str
        Phase key -> label.
    kpi_labels : mapping of str to str, optional
        KPI key -> label.

    Returns
    -------
    dict
        ``title``, ``lead`` (sentences) and ``sections`` (one :class:`SinceSection` per part).
    """
    counts = dict(zip(report.tables["data changes"]["change"],
                      report.tables["data changes"]["records"], strict=True))
    actions = report.tables["actions"]
    verdicts = actions["verdict"].value_counts() if len(actions) else pd.Series(dtype=int)
    lead = [
        fmt.gettext("This report measures up to {as_of}; the last one up to {previous}.").format(
            as_of=fmt.date(report.as_of, length="long"),
            previous=fmt.date(report.previous_as_of, length="long")),
        fmt.gettext("Started actions that worked: {worked}; that did not work: {not_worked}; "
                    "too early to judge: {early}.").format(worked=fmt.count(int(verdicts.get("worked", 0))),
                                              not_worked=fmt.count(
                                                  int(verdicts.get("did_not_work", 0))),
                                              early=fmt.count(int(verdicts.get("too_early", 0)))),
        fmt.gettext("Records: {added} added, {removed} removed, {restated} with their history "
                    "restated.").format(added=fmt.count(counts.get("added", 0)),
                                        removed=fmt.count(counts.get("removed", 0)),
                                        restated=fmt.count(counts.get("restated", 0))),
    ]
    sections = [_actions(actions, fmt, phase_labels),
                _kpis(report.tables["kpis"], fmt, kpi_labels or {}, phase_labels),
                _trend(report.tables.get("trend", pd.DataFrame(columns=["kpi"])),
                       report.tables["kpis"], fmt, kpi_labels or {}, phase_labels,
                       report.problems.get("trend")),
                _findings(report.tables["findings"], fmt, phase_labels),
                *_data(report.tables["data changes"], report.tables["records changed"], fmt)]
    return {"title": fmt.gettext(PAGE_TITLE), "lead": lead, "sections": sections}


@shared_docs
def since_sheet(report: SinceReport, fmt: Formatter, *, phase_labels: Mapping[str, str],
                kpi_labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The workbook's sheet "Since last report": every table of the page in one column block
    each, every row (the page shows the first records only), in the report's language.

    Parameters
    ----------
    report : SinceReport
        The comparison (``toolkit.analysis.since.since_last_report``).
    {shared.fmt}
    phase_labels : mapping of str to str
        Phase key -> label.
    kpi_labels : mapping of str to str, optional
        KPI key -> label.

    Returns
    -------
    DataFrame
        The sheet.
    """
    page = since_page(report, fmt, phase_labels=phase_labels, kpi_labels=kpi_labels)
    blocks = []
    for section in page["sections"]:
        if section.table is None:
            continue
        frame = section.table.to_frame()
        frame.insert(0, fmt.gettext(N_("Part")), section.title)
        blocks.append(frame)
    changed = report.tables["records changed"]
    if len(changed) > 20:  # the sheet lists them all
        blocks[-1] = pd.DataFrame({fmt.gettext(N_("Part")): blocks[-1].iloc[0, 0],
                                   fmt.gettext(N_("Record")): changed["record"],
                                   fmt.gettext(N_("Change in the data")): [fmt.gettext(_CHANGE[c])
                                                               for c in changed["change"]]})
    return pd.concat(blocks, ignore_index=True) if blocks else pd.DataFrame()
