"""Where the lost records were lost, and which open records have stalled."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from toolkit.analysis.diagnosis.common import check_count, check_fraction, html_of
from toolkit.base.docstrings import shared_docs
from toolkit.base.findings import Finding
from toolkit.io.engagement import Engagement
from toolkit.measure.cohorts import NAT, NS_DAY, Cohorts
from toolkit.stats import rate_ci


@dataclass(frozen=True, eq=False)
class LeakDetail:
    """Where the lost records were lost, and which open records have stalled.

    Attributes
    ----------
    lost_by_phase : per phase ``phase, n`` (records that reached it), ``lost`` (lost there),
        ``rate`` (lost / n) with ``ci_low, ci_high``, ``share_of_lost``, ``median_days`` (median
        time from reaching the phase to the loss).
    stalled : open records sitting in their phase longer than the phase's threshold:
        ``record_id, phase, days_in_phase, threshold_days, value`` (+ ``owner`` when recorded),
        largest value first.
    thresholds : per phase ``phase, moved, threshold_days, open, stalled, stalled_value``.
    headline : one sentence.
    """

    lost_by_phase: pd.DataFrame
    stalled: pd.DataFrame
    thresholds: pd.DataFrame
    headline: str
    stall_quantile: float
    notes: tuple[str, ...] = ()

    @property
    def summary(self) -> pd.DataFrame:
        """Per phase: reached, lost, loss rate, open, stalled, threshold and stalled value."""
        return self.lost_by_phase.merge(self.thresholds, on="phase", how="left")

    def _repr_html_(self) -> str:
        return html_of("Leak detail", [self.headline, *self.notes],
                     [self.summary, self.stalled.head(20)])

    def __repr__(self) -> str:
        return f"<LeakDetail {self.headline}>"


def leak_of(fun: Cohorts, stall_quantile: float, min_moves: int) -> LeakDetail:
    stall_quantile = check_fraction("stall_quantile", stall_quantile)
    min_moves = check_count("min_moves", min_moves, minimum=1)
    rec = fun.records
    reached = fun.reached
    keys = fun.keys
    known = reached != NAT
    highest = np.where(known.any(axis=1), known.shape[1] - 1 - np.argmax(known[:, ::-1], axis=1),
                       -1)
    outcome = rec["outcome"].astype(str)
    lost = (outcome == "lost").to_numpy(dtype=bool)
    if "lost_at_phase" in rec.columns:
        lost_at = pd.Categorical(rec["lost_at_phase"].astype(object).where(
            rec["lost_at_phase"].notna()), categories=keys).codes.astype(np.int64)
    else:
        lost_at = np.full(len(rec), -1, dtype=np.int64)
    # DESIGN: the phase where a record was lost = the highest phase reached before
    lost_at = np.where(lost & (lost_at < 0), highest, lost_at)
    closed = rec["closed_at"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    assert fun.as_of is not None  # dated records: fun.reached above exists only with dates
    as_of = fun.as_of.value
    value = (pd.to_numeric(rec["value"], errors="coerce").to_numpy(dtype=float)
             if "value" in rec.columns else np.full(len(rec), np.nan))

    rows, thresholds, stalled_parts = [], [], []
    total_lost = int((lost & (lost_at >= 0)).sum())
    is_open = (outcome == "open").to_numpy(dtype=bool)
    for k, phase in enumerate(keys[:-1]):
        n = int(known[:, k].sum())
        here = lost & (lost_at == k)
        start = reached[here, k]
        end = closed[here]
        ok = (start != NAT) & (end != NAT)
        days = (end[ok] - start[ok]) / NS_DAY
        # every loss at the instant the phase was entered (one bulk stamp): no days to tell
        instant = len(days) > 0 and not (days > 0).any()
        rows.append({"phase": phase, "n": n, "lost": int(here.sum()),
                     "share_of_lost": here.sum() / total_lost if total_lost else np.nan,
                     "median_days": (float(np.median(days)) if len(days) and not instant
                                     else np.nan),
                     "missing_reason": "no_distinct_times" if instant else None})
        moved = known[:, k] & known[:, k + 1]
        gaps = (reached[moved, k + 1] - reached[moved, k]) / NS_DAY
        gaps = gaps[gaps > 0]  # entering at a later phase "passes" k in zero time
        threshold = float(np.quantile(gaps, stall_quantile)) if len(gaps) >= min_moves else np.nan
        sitting = is_open & (highest == k)
        in_phase = (as_of - reached[sitting, k]) / NS_DAY
        flag = in_phase > threshold if np.isfinite(threshold) else np.zeros(len(in_phase), bool)
        idx = np.flatnonzero(sitting)[flag]
        # the few stalled rows, not the whole column, leave the Arrow strings
        part = pd.DataFrame({"record_id": rec["record_id"].iloc[idx].to_numpy(), "phase": phase,
                             "days_in_phase": in_phase[flag], "threshold_days": threshold,
                             "value": value[idx]})
        if "owner" in rec.columns:
            part["owner"] = rec["owner"].iloc[idx].to_numpy()
        stalled_parts.append(part)
        thresholds.append({"phase": phase, "moved": len(gaps), "threshold_days": threshold,
                           "open": int(sitting.sum()), "stalled": int(flag.sum()),
                           "stalled_value": float(np.nansum(value[idx]))})
    lost_by = pd.DataFrame(rows)
    lost_by["rate"] = lost_by["lost"] / lost_by["n"].where(lost_by["n"] > 0)
    lost_by["ci_low"], lost_by["ci_high"] = rate_ci(lost_by["lost"].to_numpy(float),
                                                    lost_by["n"].to_numpy(float), method="wilson")
    lost_by = lost_by[["phase", "n", "lost", "rate", "ci_low", "ci_high", "share_of_lost",
                       "median_days", "missing_reason"]]
    stalled = pd.concat(stalled_parts, ignore_index=True)
    stalled = stalled.sort_values(["value", "days_in_phase"], ascending=False, kind="stable",
                                  na_position="last").reset_index(drop=True)
    thresholds_frame = pd.DataFrame(thresholds)
    notes = []
    unplaced = int((lost & (lost_at < 0)).sum())
    if unplaced:
        notes.append(Finding("leak_unplaced", {"count": unplaced}))
    short = thresholds_frame.loc[thresholds_frame["threshold_days"].isna(), "phase"].tolist()
    if short:
        notes.append(Finding("leak_no_threshold", {"phases": ", ".join(map(str, short)),
                                                   "min_moves": int(min_moves)}))
    # the headline as a finding: where the lost records were lost, and the stalled open records
    # (None: no phase has a threshold, so nothing can be called stalled)
    values: dict = {"total_lost": int(total_lost), "min_moves": int(min_moves),
                    "quantile": round(100 * stall_quantile),
                    "stalled": None if thresholds_frame.empty
                    or thresholds_frame["threshold_days"].isna().all() else len(stalled)}
    most = lost_by["lost"].max() if len(lost_by) else 0
    if total_lost and (lost_by["lost"] == most).sum() > 1:
        values.update(tied=lost_by.loc[lost_by["lost"] == most, "phase"].astype(str).tolist(),
                      each=int(most))
    elif total_lost:
        top = lost_by.loc[lost_by["lost"].idxmax()]
        values.update(phase=str(top["phase"]), lost=int(top["lost"]), n=int(top["n"]),
                      rate=float(top["rate"]), median_days=float(top["median_days"]),
                      share=float(top["lost"] / total_lost))
    headline = Finding("leak_detail", values)
    return LeakDetail(lost_by, stalled, thresholds_frame, headline, stall_quantile, tuple(notes))


@shared_docs
def leak_detail(engagement: Engagement, *, stall_quantile: float = 0.9, min_moves: int = 10) -> LeakDetail:
    """Where lost records were lost, and which open records have stalled.

    Parameters
    ----------
    {shared.engagement}
    stall_quantile
        The quantile of the time to the next phase (among records that moved on) beyond which an
        open record counts as stalled (default 0.9).
    min_moves
        Fewest records that moved on from a phase for its threshold to be set.

    Returns
    -------
    LeakDetail

    Notes
    -----
    A lost record's phase is ``lost_at_phase``, or else the highest phase it reached. Its time
    there = ``closed_at - reached_at[phase]`` in days. A phase's stall threshold is the
    ``stall_quantile`` of ``reached_at[k+1] - reached_at[k]`` over records that reached both
    (zero gaps, from records that entered at a later phase, left out; numpy's linear quantile).
    An open record whose highest phase is k is stalled when ``as_of - reached_at[k]`` exceeds
    it. The threshold is conditional on moving on: slow converters beyond it exist, but they
    are the exception worth a phone call. Not for phases with very few movers (no threshold).
    """
    engagement.require_dates("The leak detail (stall times)")
    return leak_of(Cohorts(engagement, None), stall_quantile, min_moves)


