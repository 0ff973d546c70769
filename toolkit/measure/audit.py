"""The stage-history audit: what in the CRM's history would distort a naive funnel."""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
import pandas as pd

from toolkit.base.phases import LOST

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
        caveat = "" if self.history_known else (
            " A snapshot has no stage history: skips, regressions, late entries and bulk "
            "timestamps cannot be audited.")
        records = "record" if self.n_records == 1 else "records"  # "1 record", "2 records"
        if hit.empty:
            return f"Audit of {self.n_records} {records}: no findings." + caveat
        parts = [f"{r.records} {r.check.replace('_', ' ')} ({r.share:.0%})" for r in hit.itertuples()]
        return f"Audit of {self.n_records} {records}: " + "; ".join(parts) + "." + caveat

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self.headline)}</p>" + self.findings.to_html(index=False)


def audit(engagement, *, bulk_threshold: int = 20, late_phase: str | None = None) -> AuditResult:
    """Audit an engagement's stage history.

    Parameters
    ----------
    engagement : Engagement
        A loaded engagement.
    bulk_threshold : int
        A timestamp shared (to the second) by at least this many stage rows of one source is a bulk
        timestamp.
    late_phase : str, optional
        Records first seen at this phase or later are "created in a late phase". Default: the middle
        phase of the model (the third of five).
    """
    model = engagement.phase_model
    events = engagement.events
    records = engagement.records
    log = engagement.stage_log
    ids = records["record_id"]
    flags = pd.DataFrame(index=pd.Index(ids, name="record_id"))
    if ids.empty:  # nothing loaded: every check is zero, and the quarantine says why
        findings = pd.DataFrame([{"check": c, "records": 0, "rows": 0, "share": np.nan,
                                  "meaning": m} for c, m in CHECKS.items()])
        return AuditResult(by_record=flags.assign(**{c: 0 for c in CHECKS}).reset_index(),
                           findings=findings, n_records=0,
                           history_known=engagement.timing_known)

    # The full sequence of stage rows (every move, back and forth) lives in the stage log; the
    # events table keeps only each phase's first entry. Tables built in memory have no log.
    phase_rows = log[log["target"].isin(model.keys)] if len(log) else None
    if phase_rows is not None and len(phase_rows):
        sequence = pd.DataFrame({
            "record_id": phase_rows["record_id"],
            "phase": pd.Categorical(phase_rows["target"], dtype=model.dtype),
            "entered_at": phase_rows["at"], "source_row": phase_rows["source_row"]})
    else:
        sequence = events
    ev = sequence.assign(code=sequence["phase"].cat.codes.astype(int)).sort_values(
        ["record_id", "entered_at", "source_row"], kind="stable")
    prev = ev.groupby("record_id", sort=False)["code"].shift()
    step = ev["code"] - prev
    ev = ev.assign(skipped=(step - 1).clip(lower=0).fillna(0), regressed=(step < 0))
    flags["skipped_phases"] = ev.groupby("record_id")["skipped"].sum().reindex(ids).fillna(0)
    flags["regressions"] = ev.groupby("record_id")["regressed"].sum().reindex(ids).fillna(0)

    late = model.index(late_phase) if late_phase else len(model.keys) // 2
    first_code = ev.groupby("record_id")["code"].first()
    flags["created_in_late_phase"] = (first_code >= late).reindex(ids).fillna(False)

    # re-opened: a lost row followed by any later row of the same record
    lg = log.sort_values(["record_id", "at", "source_row"], kind="stable")
    is_lost = lg["target"] == LOST
    later_rows = lg.groupby("record_id", sort=False).cumcount(ascending=False) > 0
    flags["reopened_after_lost"] = (is_lost & later_rows).groupby(lg["record_id"]).sum().reindex(
        ids).fillna(0)

    q = engagement.quarantine
    reversed_ids = q.loc[q["reason_code"].eq("won_reversed"), "record_id"]
    flags["won_reversed"] = pd.Index(ids).isin(reversed_ids.dropna())

    if len(log):
        size = log.groupby(["source", log["at"].dt.floor("s")])["record_id"].transform("size")
        bulk = log.assign(bulk=size >= bulk_threshold).groupby("record_id")["bulk"].sum()
    else:
        bulk = pd.Series(dtype=float)
    flags["bulk_timestamp"] = bulk.reindex(ids).fillna(0)

    rec = records.set_index("record_id")
    closed = ev["record_id"].map(rec["closed_at"])
    created = ev["record_id"].map(rec["created_at"])
    flags["events_after_close"] = (ev["entered_at"] > closed).groupby(ev["record_id"]).sum().reindex(
        ids).fillna(0)
    # CRMs often export the creation date without a time: compare calendar days only
    flags["events_before_created"] = (ev["entered_at"].dt.normalize() < created.dt.normalize()
                                      ).groupby(ev["record_id"]).sum().reindex(ids).fillna(0)
    # Won or closed before the record's first date: a typo in a year or a back-dated close. The
    # record keeps the outcome the file gives it; the durations it feeds are suspect.
    last_code = len(model.keys) - 1
    first_phase_at = ev[ev["code"] < last_code].groupby("record_id")["entered_at"].min()
    created_at = rec["created_at"].reindex(ids)
    won_at = ev[ev["code"] == last_code].groupby("record_id")["entered_at"].min()
    end = rec["closed_at"].reindex(ids).where(lambda c: c.notna(), won_at.reindex(ids)).dt.normalize()
    flags["won_before_first_date"] = ((end < created_at.dt.normalize())
                                      | (end < first_phase_at.reindex(ids).dt.normalize())
                                      ).to_numpy()
    missing = q["reason_code"].isin(["missing_date", "unparseable_date"])
    flags["missing_dates"] = q[missing].groupby("record_id").size().reindex(ids).fillna(0)
    mism = engagement.outcome_mismatches
    flags["outcome_mismatch"] = pd.Index(ids).isin(mism["record_id"]) if len(mism) else False

    if not engagement.timing_known:
        # A snapshot has one synthetic event per record: there is no history to audit.
        for check in _HISTORY_CHECKS:
            flags[check] = 0
    flags = flags.astype({c: "int64" for c in flags.columns})
    n = len(flags)
    rows = []
    for check, meaning in CHECKS.items():
        col = flags[check]
        rows.append({"check": check, "records": int((col > 0).sum()),
                     "rows": int(col.sum()),
                     "share": float((col > 0).mean()) if n else np.nan, "meaning": meaning})
    # missing dates of rows whose record never loaded still count in the totals
    orphan = int(missing.sum() - flags["missing_dates"].sum())
    findings = pd.DataFrame(rows)
    if orphan > 0:
        findings.loc[findings["check"] == "missing_dates", "rows"] += orphan
    return AuditResult(by_record=flags.reset_index(), findings=findings, n_records=n,
                       history_known=engagement.timing_known)
