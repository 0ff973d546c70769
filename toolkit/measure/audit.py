"""The stage-history audit: what in the CRM's history would distort a naive funnel."""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
import pandas as pd

from toolkit.base.docstrings import shared_docs
from toolkit.base.findings import Finding
from toolkit.base.phases import LOST
from toolkit.io.engagement import Engagement
from toolkit.measure.cohorts import NAT, positions

__all__ = ["audit", "AuditResult", "CHECKS"]

# check -> what it means for the funnel (shown beside the counts)
CHECKS: dict[str, str] = {
    "skipped_phases": "moved past a phase without a stage row for it; counted as passed",
    "regressions": "moved back to an earlier phase; never un-reaches a phase",
    "reopened_after_lost": "lost, then active again; the final state counts",
    "won_reversed": "marked won, later lost or reopened; not counted as an order",
    "created_in_late_phase": "first seen in a late phase (entered mid-funnel or migrated)",
    "bulk_timestamp": "stage rows share one timestamp with many others (import or mass update); "
                      "durations from them are not real",
    "events_after_close": "a phase entered after the record's close date",
    "events_before_created": "a phase entered before the record's creation date",
    "won_before_first_date": "won (or closed) before the record's first date (creation or first "
                             "phase); counted as the file says, its dates need checking",
    "missing_dates": "stage rows without a usable date (quarantined)",
    "outcome_mismatch": "the per-record file's won/closed flags differ from the stage history's "
                        "final state; the flags count",
}


# Checks that need a stage history; a snapshot source cannot show them.
_HISTORY_CHECKS = ("skipped_phases", "regressions", "created_in_late_phase", "bulk_timestamp")


@dataclass
class AuditResult:
    """Per-record flags (`by_record`), the totals per check (`findings`, also `summary`) and the
    finding in one sentence (`headline`)."""

    by_record: pd.DataFrame
    findings: pd.DataFrame
    n_records: int
    history_known: bool = True

    @property
    def summary(self) -> pd.DataFrame:
        """The totals per check: ``check, records, rows, share``."""
        return self.findings

    @property
    def headline(self) -> str:
        """The audit in one sentence: the checks that found records, with their counts."""
        hit = self.findings[self.findings["records"] > 0]
        # written from the checks' codes and counts (toolkit.present.findings)
        return Finding("audit", {"n_records": int(self.n_records),
                                 "checks": [(str(r.check), int(r.records), float(r.share))
                                            for r in hit.itertuples()],
                                 "history_known": bool(self.history_known)})

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self.headline)}</p>" + self.findings.to_html(index=False)


def _in_order(record: pd.Series, time: pd.Series, row: pd.Series) -> np.ndarray:
    """The row order of a stable sort by record position, time (NaT last) and source row, as
    `sort_values([...], kind="stable")` gives it, from one NumPy lexsort of the integers."""
    when = time.to_numpy(dtype="datetime64[ns]").view(np.int64)
    keys = (np.asarray(record), when == NAT, when, np.asarray(row))  # the first key sorts first
    # The loader writes the stage log in this order already: check in one pass before sorting.
    before, tied = np.zeros(max(len(when) - 1, 0), bool), np.ones(max(len(when) - 1, 0), bool)
    for key in keys:
        before |= tied & (key[:-1] < key[1:])
        tied &= key[:-1] == key[1:]
    if (before | tied).all():
        return np.arange(len(when))
    return np.lexsort(keys[::-1])


def _as_phases(target: pd.Series, dtype: pd.CategoricalDtype) -> pd.Categorical:
    """`pd.Categorical(target, dtype=dtype)`, looking each distinct value up once."""
    codes, uniques = pd.factorize(target)
    lookup = np.append(pd.Index(dtype.categories).get_indexer(uniques), -1)  # [-1]: missing
    return pd.Categorical.from_codes(lookup[codes], dtype=dtype)


def _rows_per_second(log: pd.DataFrame) -> np.ndarray:
    """For each stage row, how many rows of its source share its time to the second (0 for a
    row without a source or a time): a groupby-size of (source, second) by integer codes."""
    source = pd.factorize(log["source"])[0]
    second = log["at"].dt.floor("s").to_numpy(dtype="datetime64[ns]").view(np.int64)
    valid = (source >= 0) & (second != NAT)
    second_code = pd.factorize(second[valid])[0]
    group = pd.factorize(second_code * (int(source.max(initial=0)) + 1) + source[valid])[0]
    size = np.zeros(len(log), dtype=np.int64)
    size[valid] = np.bincount(group)[group]
    return size


def _timed_sources(log: pd.DataFrame) -> np.ndarray:
    """For each stage row, whether its source's stamps carry a time of day (some stamp is not at
    midnight). A date-only source puts a day's moves on one stamp: that is no bulk import."""
    at = log["at"]
    timed = (at.notna() & (at != at.dt.normalize())).to_numpy()
    source = pd.factorize(log["source"])[0]
    has_time = np.bincount(source[source >= 0], weights=timed[source >= 0],
                           minlength=int(source.max(initial=-1)) + 1) > 0
    return np.where(source >= 0, has_time[np.clip(source, 0, None)], False)


@shared_docs
def audit(engagement: Engagement, *, bulk_threshold: int = 20, late_phase: str | None = None) -> AuditResult:
    """Audit an engagement's stage history.

    Parameters
    ----------
    {shared.engagement}
    bulk_threshold : int
        A timestamp shared (to the second) by at least this many stage rows of one source is a bulk
        timestamp.
    late_phase : str, optional
        Records first seen at this phase or later are "created in a late phase". Default: the middle
        phase of the model (the third of five).

    Returns
    -------
    AuditResult
        Per-record flags (``by_record``), the totals per check (``findings``, also ``summary``:
        ``check, records, rows, share, meaning, missing_reason``) and the finding in one
        sentence (``headline``).
    """
    model = engagement.phase_model
    events = engagement.events
    records = engagement.records
    log = engagement.stage_log
    ids = records["record_id"]
    flags = pd.DataFrame(index=pd.Index(ids, name="record_id"))
    if ids.empty:  # nothing loaded: every check is zero, and the quarantine says why
        findings = pd.DataFrame([{"check": c, "records": 0, "rows": 0, "share": np.nan,
                                  "meaning": m, "missing_reason": None}
                                 for c, m in CHECKS.items()])
        return AuditResult(by_record=flags.assign(**{c: 0 for c in CHECKS}).reset_index(),
                           findings=findings, n_records=0,
                           history_known=engagement.timing_known)

    # Every table is grouped by the record's position in `records` (an integer), not by its text
    # id: at a million records, hashing the ids in each groupby took most of the audit's time.
    position = pd.Index(ids)
    n_ids = len(ids)

    def per_record(values: pd.Series, at: np.ndarray, how: str) -> pd.Series:
        """`values` reduced (`how`: first, min) per record position `at`, indexed by position;
        rows of records that did not load (position -1) are left out; a record without rows gets
        NaN/NaT."""
        keep = at >= 0
        return getattr(values[keep].groupby(at[keep]), how)().reindex(range(n_ids))

    def count(values: pd.Series, at: np.ndarray) -> np.ndarray:
        """The flag column: `values` (bools or counts) summed per record, in `records` order."""
        keep = at >= 0
        return np.bincount(at[keep], weights=np.asarray(values, dtype=float)[keep],
                           minlength=n_ids)

    # The full sequence of stage rows (every move, back and forth) lives in the stage log; the
    # events table keeps only each phase's first entry. Tables built in memory have no log.
    log_at = positions(position, log["record_id"]) if len(log) else np.empty(0, dtype=np.intp)
    in_phase = log["target"].isin(model.keys).to_numpy() if len(log) else None
    if in_phase is not None and in_phase.any():
        phase_rows = log[["target", "at", "source_row"]][in_phase]  # not every column's text
        sequence = pd.DataFrame({
            "at_record": log_at[in_phase],
            "phase": _as_phases(phase_rows["target"], model.dtype),
            "entered_at": phase_rows["at"], "source_row": phase_rows["source_row"]})
    else:
        sequence = pd.DataFrame({"at_record": positions(position, events["record_id"]),
                                 "phase": events["phase"], "entered_at": events["entered_at"],
                                 "source_row": events["source_row"]})
    ev = sequence.assign(code=sequence["phase"].cat.codes.astype(int))
    ev = ev.take(_in_order(ev["at_record"], ev["entered_at"], ev["source_row"]))
    ev_at = ev["at_record"].to_numpy()
    prev = ev.groupby("at_record", sort=False)["code"].shift()
    step = ev["code"] - prev
    skipped = (step - 1).clip(lower=0).fillna(0)
    flags["skipped_phases"] = count(skipped, ev_at)
    flags["regressions"] = count(step < 0, ev_at)

    late = model.index(late_phase) if late_phase else len(model.keys) // 2
    first_code = per_record(ev["code"], ev_at, "first")
    flags["created_in_late_phase"] = (first_code >= late).to_numpy()

    # re-opened: a lost row followed by any later row of the same record
    if len(log):
        lg = pd.DataFrame({"at_record": log_at, "time": log["at"].reset_index(drop=True),
                           "source_row": log["source_row"].reset_index(drop=True),
                           "lost": (log["target"] == LOST).to_numpy()})
        lg = lg.take(_in_order(lg["at_record"], lg["time"], lg["source_row"]))
        # the rows of a record are consecutive now: a row has a later one when the next row
        # belongs to the same record
        at_sorted = lg["at_record"].to_numpy()
        later_rows = pd.Series(np.append(at_sorted[:-1] == at_sorted[1:], False), index=lg.index)
        flags["reopened_after_lost"] = count(lg["lost"] & later_rows, lg["at_record"].to_numpy())
    else:
        flags["reopened_after_lost"] = 0

    q = engagement.quarantine
    reversed_ids = q.loc[q["reason_code"].eq("won_reversed"), "record_id"]
    flags["won_reversed"] = position.isin(reversed_ids.dropna())

    timed = _timed_sources(log) if len(log) else np.zeros(0, dtype=bool)
    if len(log):
        flags["bulk_timestamp"] = count((_rows_per_second(log) >= bulk_threshold) & timed, log_at)
    else:
        flags["bulk_timestamp"] = 0

    def of_record(column: str) -> pd.Series:
        """The records' `column` on each row of `ev` (NaT for a record that did not load)."""
        return records[column].reset_index(drop=True).reindex(ev_at).set_axis(ev.index)

    closed, created = of_record("closed_at"), of_record("created_at")
    flags["events_after_close"] = count(ev["entered_at"] > closed, ev_at)
    # CRMs often export the creation date without a time: compare calendar days only
    flags["events_before_created"] = count(
        ev["entered_at"].dt.normalize() < created.dt.normalize(), ev_at)
    # Won or closed before the record's first date: a typo in a year or a back-dated close. The
    # record keeps the outcome the file gives it; the durations it feeds are suspect.
    last_code = len(model.keys) - 1
    before_last, is_last = (ev["code"] < last_code).to_numpy(), (ev["code"] == last_code).to_numpy()
    first_phase_at = per_record(ev.loc[before_last, "entered_at"], ev_at[before_last], "min")
    won_at = per_record(ev.loc[is_last, "entered_at"], ev_at[is_last], "min")
    created_at = records["created_at"].reset_index(drop=True)
    end = records["closed_at"].reset_index(drop=True)
    end = end.where(end.notna(), won_at).dt.normalize()
    flags["won_before_first_date"] = ((end < created_at.dt.normalize())
                                      | (end < first_phase_at.dt.normalize())).to_numpy()
    missing = q["reason_code"].isin(["missing_date", "unparseable_date"])
    missing_ids = q.loc[missing, "record_id"]
    flags["missing_dates"] = count(pd.Series(1, index=missing_ids.index),
                                   position.get_indexer(missing_ids))
    mism = engagement.outcome_mismatches
    flags["outcome_mismatch"] = position.isin(mism["record_id"]) if len(mism) else False

    if not engagement.timing_known:
        # A snapshot has one synthetic event per record: there is no history to audit.
        for check in _HISTORY_CHECKS:
            flags[check] = 0
    flags = flags.astype({c: "int64" for c in flags.columns})
    n = len(flags)
    rows = []
    # Date-only stamps cannot show a bulk import (a day's moves share the date): n/a, not a count.
    untimed = engagement.timing_known and len(log) > 0 and not timed.any()
    for check, meaning in CHECKS.items():
        col = flags[check]
        if check == "bulk_timestamp" and untimed:
            rows.append({"check": check, "records": np.nan, "rows": np.nan, "share": np.nan,
                         "meaning": meaning, "missing_reason": "no_time_of_day"})
            continue
        if check in _HISTORY_CHECKS and not engagement.timing_known:
            # a snapshot cannot show a skipped phase or a bulk import: n/a, not "0 records"
            rows.append({"check": check, "records": np.nan, "rows": np.nan, "share": np.nan,
                         "meaning": meaning, "missing_reason": "snapshot_timing"})
            continue
        rows.append({"check": check, "records": int((col > 0).sum()),
                     "rows": int(col.sum()),
                     "share": float((col > 0).mean()) if n else np.nan, "meaning": meaning})
    # missing dates of rows whose record never loaded still count in the totals
    orphan = int(missing.sum() - flags["missing_dates"].sum())
    findings = pd.DataFrame(rows)
    if "missing_reason" not in findings:
        findings["missing_reason"] = None
    if orphan > 0:
        findings.loc[findings["check"] == "missing_dates", "rows"] += orphan
    return AuditResult(by_record=flags.reset_index(), findings=findings, n_records=n,
                       history_known=engagement.timing_known)
