"""Since the last report: what the next run knows of the last one.

:func:`since_last_report` compares two run states (:mod:`toolkit.analysis.run_state`) and
returns a step-like :class:`SinceReport` (a ``summary`` frame and ``tables``):

``actions``
    Each started action of the plan (status ``started`` or ``done`` with a start date), evaluated
    like a declared change of step 6 (:func:`toolkit.analysis.simulation.evaluate_change`, mix
    aware): before = records entering the action's step before its start, after = entering on or
    after it, mature records only. A segment's action is evaluated on that segment's records.
    Records whose history was restated are left out (``restated_left_out`` says how many).
    ``verdict``: ``too_early`` while the mature records after the start (``n_after``) are fewer
    than the plan's ``records_needed`` and its judgement date has not passed (``expected_by``:
    the start plus the months the needed records take at the plan's inflow plus the window);
    once either is there ``worked`` (the evaluation reads ``raised``) or ``did_not_work``
    (``none`` or ``lowered``);
    ``not_evaluable`` with its ``reason`` (a volume action, a step without records).
    :func:`evaluate_actions` makes these rows at run time (they need the export); the run state
    keeps them, so two states alone give the page.
``kpis``
    Each scorecard KPI: the last report's value and month, this one's, and whether the difference
    is real (``real``: two-rate score test p < 0.05 on successes/trials, or this month outside
    the control limits); ``n/a`` with a ``reason`` code where it cannot be measured.
``findings``
    Step 5's findings by stable key: ``new``, ``gone`` or ``still``.
``data changes`` and ``records changed``
    Records ``added`` and ``removed``, and ``restated``: present in both exports while the part
    of the history the old export could see (up to its as-of date) differs: an earlier stage, a
    date or the outcome edited after the fact. Counted, and listed by record code (never a value).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from toolkit.analysis.history import read_history, trend_with
from toolkit.analysis.run_state import cutoff_minute, fingerprint_at, record_chains, record_codes
from toolkit.analysis.simulation import evaluate_change
from toolkit.base.docstrings import shared_docs
from toolkit.base.exceptions import DATA_ERRORS, ConfigError, OptionError
from toolkit.io.engagement import Engagement
from toolkit.stats import two_rate_test

T = TypeVar("T")

__all__ = ["VERDICTS", "SinceReport", "since_last_report", "evaluate_actions", "record_changes",
           "compare_kpis", "compare_findings"]

#: The verdicts of a started action.
VERDICTS = ("worked", "did_not_work", "too_early", "not_evaluable")

#: The summary's columns: those of every step result's summary (toolkit.steps.result).
SUMMARY_COLUMNS = ("measure", "value", "ci_low", "ci_high", "n", "status")

#: Whether an action's before side is restricted to the calendar months of its after side. No:
#: the plan's power calculation counts on a before side at least as large as the after side,
#: which every mature cohort before the start gives and the same calendar months often do not
#: (benchmarks/calibrate_loop.py: 82% of working actions judged worked by their date with the
#: restriction, 90% without). A step whose rate follows the season is judged with a declared
#: change of step 6 instead, which compares the same calendar months.
SEASONAL_ADJUST = False

_ALPHA = 0.05
_DAYS_PER_MONTH = 365.25 / 12
_STARTED = ("started", "done")

ACTION_COLUMNS = ["action_id", "what_code", "status", "start", "from_phase", "to_phase", "attribute",
                  "segment", "kpi", "verdict", "reason", "effect", "estimate", "ci_low",
                  "ci_high", "p_value", "rate_before", "rate_after", "n_before", "n_after",
                  "records_needed", "expected_by", "restated_left_out", "mix_shift"]
KPI_COLUMNS = ["kpi", "label", "unit", "previous_period", "previous", "period", "current",
               "difference", "p_value", "outside_limits", "real", "reason"]


@dataclass(frozen=True)
class SinceReport:
    """The comparison of a run with the one before: ``tables`` (``actions``, ``kpis``,
    ``findings``, ``data changes``, ``records changed``), the two as-of dates, and ``problems``
    (part -> reason code) for a part that could not be made."""

    tables: dict[str, pd.DataFrame]
    previous_as_of: pd.Timestamp | None
    as_of: pd.Timestamp | None
    problems: dict[str, str] = field(default_factory=dict)

    @property
    def summary(self) -> pd.DataFrame:
        """The counts: actions per verdict, KPIs with a real difference, findings new/gone,
        records added/removed/restated."""
        rows = []
        actions = self.tables["actions"]
        for verdict in VERDICTS:
            rows.append({"measure": f"actions {verdict}",
                         "value": int((actions["verdict"] == verdict).sum()) if len(actions) else 0})
        kpis = self.tables["kpis"]
        rows.append({"measure": "KPIs with a real difference",
                     "value": int((kpis["real"] == True).sum()) if len(kpis) else 0,  # noqa: E712
                     "n": len(kpis)})
        findings = self.tables["findings"]
        for status in ("new", "gone", "still"):
            rows.append({"measure": f"findings {status}",
                         "value": int((findings["status"] == status).sum()) if len(findings)
                         else 0})
        for row in self.tables["data changes"].itertuples(index=False):
            rows.append({"measure": f"records {row.change}", "value": int(row.records)})
        return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))

    def _repr_html_(self) -> str:
        return self.summary.to_html(index=False)


# ---------------------------------------------------------------------------- data changes
@shared_docs
def record_changes(previous: dict, current: dict) -> pd.DataFrame:
    """Per record code that changed: ``added``, ``removed`` or ``restated``.

    Restated: in both states while their histories cut at the previous as-of moment differ:
    only what the old export could have seen is compared, so a record that merely moved on is
    not restated (both sides are cut alike, so an as-of date taken from the data's latest event
    cannot make that event look edited).

    Parameters
    ----------
    {shared.run_states}

    Returns
    -------
    DataFrame
        ``record, change``: the restated first, then the added and the removed.
    """
    old, new = previous.get("records", {}), current.get("records", {})
    cutoff = cutoff_minute(previous)
    rows = [{"record": code, "change": "removed"} for code in old if code not in new]
    for code, chain in new.items():
        before = old.get(code)
        if before is None:
            rows.append({"record": code, "change": "added"})
        elif fingerprint_at(chain, cutoff) != fingerprint_at(before, cutoff):
            rows.append({"record": code, "change": "restated"})
    order = {"restated": 0, "added": 1, "removed": 2}
    frame = pd.DataFrame(rows, columns=["record", "change"])
    return frame.sort_values(["change", "record"], key=lambda s: s.map(order).fillna(s)
                             if s.name == "change" else s, kind="stable").reset_index(drop=True)


def _change_counts(changes: pd.DataFrame, previous: dict, current: dict) -> pd.DataFrame:
    both = len(set(previous.get("records", {})) & set(current.get("records", {})))
    counts = changes["change"].value_counts()
    return pd.DataFrame([
        {"change": "added", "records": int(counts.get("added", 0))},
        {"change": "removed", "records": int(counts.get("removed", 0))},
        {"change": "restated", "records": int(counts.get("restated", 0))},
        {"change": "in both", "records": both},
    ])


# ------------------------------------------------------------------------------------ KPIs
@shared_docs
def compare_kpis(previous: dict, current: dict) -> pd.DataFrame:
    """Each scorecard KPI of either run: previous and current value with their months, and
    whether the difference is real.

    Real: a two-rate score test p < 0.05 on successes/trials, or this month outside the
    control limits; ``n/a`` with a ``reason`` code where it cannot be measured.

    Parameters
    ----------
    {shared.run_states}

    Returns
    -------
    DataFrame
        ``kpi, label, unit, previous_period, previous, period, current, difference, p_value,
        outside_limits, real, reason``.
    """
    old = {row["kpi"]: row for row in previous.get("scorecard", [])}
    new = {row["kpi"]: row for row in current.get("scorecard", [])}
    rows = []
    for kpi in list(new) + [k for k in old if k not in new]:
        a, b = old.get(kpi), new.get(kpi)
        either = new[kpi] if kpi in new else old[kpi]  # the current row, else the previous one
        row = {"kpi": kpi, "label": either.get("label"), "unit": either.get("unit"),
               "previous_period": None if a is None else a.get("period"),
               "previous": None if a is None else a.get("value"),
               "period": None if b is None else b.get("period"),
               "current": None if b is None else b.get("value"),
               "difference": None, "p_value": None, "outside_limits": None, "real": None,
               "reason": None}
        if a is None or a.get("value") is None:
            row["reason"] = "not_on_previous_scorecard"
        elif b is None or b.get("value") is None:
            row["reason"] = "not_on_this_scorecard"
        else:
            row["difference"] = b["value"] - a["value"]
            if a.get("period") == b.get("period"):
                row["reason"] = "same_month"
            elif None in (a.get("successes"), a.get("trials"), b.get("successes"),
                          b.get("trials")) or not a["trials"] or not b["trials"]:
                row["reason"] = "no_counts"
            else:
                test = _quiet(two_rate_test, int(b["successes"]), int(b["trials"]),
                              int(a["successes"]), int(a["trials"]))
                row["p_value"] = float(test.p_value)
                limits = (b.get("lcl"), b.get("ucl"))
                if None not in limits:
                    row["outside_limits"] = bool(b["value"] < limits[0] or b["value"] > limits[1])
                row["real"] = bool(row["p_value"] < _ALPHA or row["outside_limits"] is True)
        rows.append(row)
    return pd.DataFrame(rows, columns=KPI_COLUMNS)


def _quiet(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`function` without its warnings (small counts switch the test to an exact one, which
    the table's p-value already reflects)."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


# -------------------------------------------------------------------------------- findings
@shared_docs
def compare_findings(previous: dict, current: dict) -> pd.DataFrame:
    """Step 5's findings by stable key: ``new``, ``gone`` or ``still``.

    Parameters
    ----------
    {shared.run_states}

    Returns
    -------
    DataFrame
        ``key, area, from_phase, to_phase, attribute, segment, rank, status``.
    """
    old = {f["key"]: f for f in previous.get("findings", [])}
    new = {f["key"]: f for f in current.get("findings", [])}
    rows = []
    for key, f in new.items():
        rows.append({**f, "status": "still" if key in old else "new"})
    for key, f in old.items():
        if key not in new:
            rows.append({**f, "status": "gone"})
    columns = ["key", "area", "from_phase", "to_phase", "attribute", "segment", "rank", "status"]
    return pd.DataFrame(rows, columns=columns)


# --------------------------------------------------------------------------------- actions
def _date(value: Any) -> pd.Timestamp | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    return pd.Timestamp(value)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _left_out(engagement: Engagement, attribute: str | None, segment: Any, leave_out: set[str]) -> int:
    """The records of the action's segment (all without one) left out as restated."""
    records = engagement.records
    mine = records["record_id"].astype(str).isin(leave_out)
    if attribute and attribute in records:
        mine &= records[attribute].astype(str) == str(segment)
    return int(mine.sum())


def _expected_by(start: pd.Timestamp, needed: Any, inflow: Any, window: Any) -> dt.date | None:
    if needed is None or not inflow or (isinstance(inflow, float) and math.isnan(inflow)):
        return None
    days = float(needed) / float(inflow) * _DAYS_PER_MONTH + float(window or 0)
    return (start + pd.Timedelta(days=math.ceil(days))).date()


def _subset(engagement: Engagement, attribute: str | None, segment: Any,
            leave_out: set[str]) -> Engagement:
    """The engagement's records of one segment (all without one), the left-out ones removed."""
    records = engagement.records
    keep = pd.Series(True, index=records.index)
    if attribute and attribute in records:
        keep &= records[attribute].astype(str) == str(segment)
    if leave_out:
        keep &= ~records["record_id"].astype(str).isin(leave_out)
    if keep.all():
        return engagement
    ids = set(records.loc[keep, "record_id"])
    events = engagement.events[engagement.events["record_id"].isin(ids)]
    return Engagement.from_tables(
        events.assign(phase=events["phase"].astype(str)), records[keep],
        phases=list(engagement.phase_model.phases), name=engagement.name,
        as_of=engagement.as_of, cohort_window_days=engagement.config.cohort_window_days,
        segments=[s for s in engagement.segments if s in records.columns])


@shared_docs
def evaluate_actions(engagement: Engagement, actions: pd.DataFrame | list[dict], *,
                     leave_out: set[str] | frozenset[str] = frozenset(),
                     predicted: dict[str, dict] | None = None) -> pd.DataFrame:
    """Each started action of the plan evaluated on this engagement, like a declared change of
    step 6 (the rules: the module docstring, ``actions``).

    Parameters
    ----------
    {shared.engagement}
    actions : DataFrame or list of dict
        The plan's rows (the step 6 table or a run state's ``actions``).
    leave_out : set of str
        Record keys (``record_id``) whose history was restated, left out of before and after.
    predicted : dict of str to dict, optional
        Action id -> the plan row of the run that agreed the action, whose
        ``records_needed``, ``inflow_per_month`` and ``window_days`` give the expected date
        (default the row itself).

    Returns
    -------
    DataFrame
        One row per started action (``ACTION_COLUMNS``): its ``verdict`` (``worked``,
        ``did_not_work``, ``too_early``, ``not_evaluable``) with the reason, estimate,
        interval, p-value, rates and counts before and after, the records needed and the
        expected date.
    """
    rows = actions.to_dict("records") if isinstance(actions, pd.DataFrame) else list(actions)
    out = []
    for action in rows:
        start = _date(action.get("start"))
        if str(action.get("status")) not in _STARTED or start is None:
            continue
        plan = (predicted or {}).get(action["action_id"], action)
        row = {name: action.get(name) for name in ("action_id", "what_code", "status",
                                                   "from_phase", "to_phase", "attribute",
                                                   "segment", "kpi")}
        row.update(start=start.date(), records_needed=plan.get("records_needed"),
                   restated_left_out=0, reason=None, mix_shift="")
        row["expected_by"] = _expected_by(start, plan.get("records_needed"),
                                          plan.get("inflow_per_month"), plan.get("window_days"))
        if _missing(action.get("to_phase")):
            row.update(verdict="not_evaluable", reason="volume_action")
            out.append(row)
            continue
        attribute = action.get("attribute") if isinstance(action.get("attribute"), str) else None
        try:
            subset = _subset(engagement, attribute, action.get("segment"), set(leave_out))
            row["restated_left_out"] = _left_out(engagement, attribute, action.get("segment"),
                                                 set(leave_out))
            result = _quiet(evaluate_change, subset, change_date=start,
                            from_phase=action["from_phase"], to_phase=action["to_phase"],
                            seasonal_adjust=SEASONAL_ADJUST)
        except DATA_ERRORS:  # too few mature records on a side: not yet
            row.update(verdict="too_early", n_after=0, effect=None)
            needed = row["records_needed"]
            if needed is None:
                row.update(verdict="not_evaluable", reason="no_mature_records")
            out.append(row)
            continue
        except OptionError:  # a wrong argument (a ValueError) is no failed fit: it raises
            raise
        except (ValueError, ArithmeticError, np.linalg.LinAlgError):
            # a fit that cannot be made on these records is no verdict, and no reason to lose
            # the report: said on the page
            row.update(verdict="not_evaluable", reason="evaluation_failed")
            out.append(row)
            continue
        read = result.comparisons.set_index("method")
        method = result.method if result.method in read.index else "before_after"
        pooled = read.loc["before_after"]
        row.update(effect=result.effect, estimate=read.loc[method, "estimate"],
                   ci_low=read.loc[method, "ci_low"], ci_high=read.loc[method, "ci_high"],
                   p_value=read.loc[method, "p_value"], n_before=int(pooled["n_before"]),
                   n_after=int(pooled["n_after"]), mix_shift=", ".join(result.mix_shift))
        after = result.monthly[result.monthly["side"] == "after"]
        before = result.monthly[(result.monthly["side"] == "before")]
        row["rate_after"] = (after["successes"].sum() / after["n"].sum()
                             if after["n"].sum() else None)
        row["rate_before"] = (before["successes"].sum() / before["n"].sum()
                              if before["n"].sum() else None)
        needed, due = row["records_needed"], row["expected_by"]
        passed = due is not None and pd.Timestamp(engagement.as_of) >= pd.Timestamp(due)
        if needed is not None and row["n_after"] < needed and not passed:
            row["verdict"] = "too_early"
        else:
            row["verdict"] = "worked" if result.effect == "raised" else "did_not_work"
        out.append(row)
    return pd.DataFrame(out, columns=ACTION_COLUMNS)


# ---------------------------------------------------------------------------- the report
@shared_docs
def since_last_report(previous: dict, current: dict, *,
                      history: str | Path | None = None) -> SinceReport:
    """The page "Since the last report" from two run states.

    The started actions' evaluations are the current state's (made at run time, see
    :func:`evaluate_actions`).

    Parameters
    ----------
    {shared.run_states}
    history : str, Path or None
        The engagement's report history (``report-history.csv``,
        :func:`toolkit.analysis.history.history_path`): the table ``trend`` is the scorecard over
        its runs up to this one's as-of date, the two compared runs included. A history that
        cannot be read leaves the two runs, and ``problems["trend"]`` says so.

    Returns
    -------
    SinceReport
        ``tables`` (``actions``, ``kpis``, ``findings``, ``data changes``, ``records
        changed``, ``trend``: the module docstring describes each), the two as-of dates, a
        ``summary`` and ``problems`` for a part that could not be made.
    """
    changes = record_changes(previous, current)
    actions = pd.DataFrame(current.get("evaluations", []), columns=ACTION_COLUMNS)
    problems = {}
    if not len(actions):
        problems["actions"] = "no_started_action"
    earlier = pd.DataFrame(columns=["as_of", "run_at", "report"])
    if history is not None:
        try:
            earlier = read_history(history)
        except ConfigError:
            problems["trend"] = "history_unreadable"
    if current.get("as_of") is not None and len(earlier):
        # the reports up to this one (`funnel compare` may compare two runs of long ago)
        earlier = earlier[earlier["as_of"].astype(str) <= str(current["as_of"])]
    tables = {"actions": actions, "kpis": compare_kpis(previous, current),
              "findings": compare_findings(previous, current),
              "data changes": _change_counts(changes, previous, current),
              "records changed": changes,
              # without the run time: this run's is the moment its state was made, which a
              # notebook's recomputation of the same run does not share
              "trend": trend_with(earlier, [(previous, ""), (current, "")]).drop(
                  columns="run_at")}
    return SinceReport(tables=tables, previous_as_of=_date(previous.get("as_of")),
                       as_of=_date(current.get("as_of")), problems=problems)


def restated_ids(engagement: Engagement, previous: dict) -> set[str]:
    """The record keys of this engagement whose history the previous run saw otherwise (its
    ``records`` cut at the previous as-of date), to leave out of before/after."""
    chains = record_chains(engagement)
    changed = record_changes(previous, {"records": chains})
    restated = set(changed.loc[changed["change"] == "restated", "record"])
    if not restated:
        return set()
    ids = engagement.records["record_id"]
    codes = record_codes(engagement, ids)
    return set(ids[codes.isin(restated).to_numpy()].astype(str))
