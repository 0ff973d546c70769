"""Step 1, baseline and starting situation: what the exports hold, how clean the stage history is,
the raw funnel, the readiness scan of the five duration factors and the engagement's duration."""

from __future__ import annotations

from typing import Any

import pandas as pd

from toolkit.analysis.planning import estimate_duration, factors_for, readiness_scan
from toolkit.base.docstrings import shared_docs
from toolkit.base.findings import Finding
from toolkit.base.vocabulary import MIN_N, Reason
from toolkit.io.engagement import Engagement
from toolkit.io.loading import quarantine_summary
from toolkit.measure.audit import audit as audit_history
from toolkit.measure.funnel import funnel, weakest_step
from toolkit.present import narrative
from toolkit.present import plotting as tp
from toolkit.steps.parts import Parts, figure, in_languages, sentences
from toolkit.steps.result import StepResult, summary_frame
from toolkit.steps.store import shared_step

__all__ = ["baseline", "reconciliation"]


@shared_docs
def reconciliation(engagement: Engagement) -> pd.DataFrame:
    """Rows in, used and quarantined per source file, with a `balanced` check of the three.

    Parameters
    ----------
    {shared.engagement}

    Returns
    -------
    DataFrame
        The engagement's reconciliation (one row per source file: ``rows_in``, ``rows_used``,
        ``rows_quarantined``, ...) with a bool column ``balanced``: ``rows_in == rows_used +
        rows_quarantined``.
    """
    frame = engagement.reconciliation.copy()
    if len(frame):
        frame["balanced"] = frame["rows_in"] == frame["rows_used"] + frame["rows_quarantined"]
    return frame


@shared_step(1)
@shared_docs
def baseline(engagement: Engagement, *, seed: int = 0) -> StepResult:
    """Step 1: the data inventory and reconciliation, the quarantine reasons, the stage-history
    audit, the raw funnel with 95% intervals, the readiness scan and the estimated duration.

    Parameters
    ----------
    {shared.engagement}
    {shared.seed}
        Step 1 draws no random numbers; the seed is accepted like every step's.

    Returns
    -------
    {shared.step_result}
        Tables: `reconciliation`, `quarantine reasons`, `audit`, `funnel`, `readiness scan`,
        `duration`. Figures: `funnel`, `timeline`. Sheets: `Funnel`, `Quarantine`,
        `Reconciliation`.
    """
    parts = Parts()
    model = engagement.phase_model
    balance = reconciliation(engagement)
    reasons = quarantine_summary(engagement.quarantine)
    audit = parts.attempt("audit", lambda: audit_history(engagement))
    frame = parts.attempt("funnel", lambda: funnel(engagement))
    # measured where the data shows them (KPI set, audit, raw funnel), the rest as scored
    factors = parts.attempt("duration", lambda: factors_for(engagement, audit=audit,
                                                            funnel_frame=frame))
    # no duration while a factor is not scored (FactorsNotScored says which): never a default
    estimate = parts.attempt("duration", lambda: estimate_duration(factors)) if factors else None
    if len(engagement.records) == 0:
        parts.note("funnel", Reason("no record could be used: see the quarantine reasons and "
                                    "correct the export or the engagement YAML",
                                    "no_usable_records"))

    tables = {"reconciliation": balance, "quarantine reasons": reasons}
    figures = {}
    if audit is not None:
        tables["audit"] = audit.findings
    if frame is not None:
        tables["funnel"] = frame
        figures["funnel"] = figure(tp.plot_funnel, frame, phase_model=model)
    if factors is not None:
        tables["readiness scan"] = readiness_scan(factors)
    if estimate is not None:
        tables["duration"] = estimate.summary
        figures["timeline"] = figure(tp.plot_engagement_timeline, estimate.by_step)

    if audit is not None and frame is not None:
        lines = in_languages(lambda language: sentences(
            narrative.baseline(engagement, frame, audit, estimate, language))
            + (parts.sentences(language) if estimate is None else []))
    else:
        lines = parts.in_languages()
    rows_in, rows_q = int(balance["rows_in"].sum()), int(balance["rows_quarantined"].sum())
    rows: list[dict[str, Any]] = [{"measure": "rows in the exports", "value": rows_in, "n": rows_in},
            {"measure": "share of rows quarantined", "value": rows_q / rows_in if rows_in else None,
             "n": rows_in},
            {"measure": "records", "value": len(engagement.records), "n": len(engagement.records)}]
    weakest = (weakest_step(frame, min_n=MIN_N) if frame is not None
               else None)
    if weakest is not None:
        rows.append({"measure": f"weakest step {weakest['from_phase']} → {weakest['phase']}",
                     "value": weakest["rate"], "ci_low": weakest["ci_low"],
                     "ci_high": weakest["ci_high"], "n": weakest["n"]})
    if estimate is not None:
        rows.append({"measure": "engagement duration (weeks)", "value": estimate.total_weeks,
                     "ci_low": estimate.total_weeks_low, "ci_high": estimate.total_weeks_high})
    return StepResult(
        step=1, key="baseline", tables=tables,
        results={"audit": audit, "funnel": frame, "factors": factors, "estimate": estimate},
        figures=figures, problems=parts.problems, summary=summary_frame(rows),
        headline=_headline(engagement, frame, weakest),
        sheets={"Funnel": frame if frame is not None else pd.DataFrame(),
                "Quarantine": engagement.quarantine, "Reconciliation": balance},
        conclusions_by_language=lines)


def _headline(engagement: Engagement, frame: pd.DataFrame | None, weakest: pd.Series | None) -> str:
    if len(engagement.records) == 0:
        return "No record could be used: see the quarantine reasons."
    if frame is None or weakest is None:
        return (f"{len(engagement.records):,} records; too few to conclude anything about "
                f"conversion yet.")
    return Finding("funnel_headline", {
        "entered": int(frame["reached"].iloc[0]), "orders": int(frame["reached"].iloc[-1]),
        "from_phase": weakest["from_phase"], "to_phase": weakest["phase"],
        "rate": float(weakest["rate"])})
