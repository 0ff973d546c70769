"""The "what we concluded" text of each step, written from the results, never hard-coded.

Each function takes the step's results and returns Markdown bullets. When the data cannot carry a
conclusion (too few records, immature cohorts) it says so instead of claiming one.
"""

from __future__ import annotations

import math

import pandas as pd

__all__ = ["MIN_N", "bullets", "baseline", "process_model", "kpi_tree", "measurement"]

#: Fewest records behind a rate before the text draws a conclusion from it.
MIN_N = 30


def bullets(lines: list[str]) -> str:
    return "\n".join(f"- {line}" for line in lines if line)


def _pct(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.0%}"


def _ci(row) -> str:
    if pd.isna(row["ci_low"]):
        return ""
    return f" (95% interval {row['ci_low']:.0%}–{row['ci_high']:.0%})"


def baseline(engagement, funnel_frame: pd.DataFrame, audit, estimate) -> str:
    """Step 1: what the data holds, how clean it is, the raw funnel and the duration estimate."""
    rec = engagement.reconciliation
    rows_in, rows_q = int(rec["rows_in"].sum()), int(rec["rows_quarantined"].sum())
    lines = [
        f"The exports hold {rows_in:,} rows; {rows_q:,} ({rows_q / max(rows_in, 1):.1%}) were set "
        f"aside with a reason, the rest give {len(engagement.records):,} records up to "
        f"{engagement.as_of:%d-%m-%Y}.",
        audit.summary,
    ]
    steps = funnel_frame.dropna(subset=["rate"])
    if steps.empty or steps["n"].max() < MIN_N:
        lines.append("Too few records to conclude anything about conversion yet.")
    else:
        weakest = steps.loc[steps["rate"].idxmin()]
        lines.append(
            f"Raw funnel: {int(funnel_frame['reached'].iloc[0]):,} records entered, "
            f"{int(funnel_frame['reached'].iloc[-1]):,} became an order. The weakest step so far "
            f"is {weakest['from_phase']} → {weakest['phase']} at {_pct(weakest['rate'])}"
            f"{_ci(weakest)}; step 4 measures it per cohort.")
    lines.append(f"Estimated engagement duration: {estimate.total_weeks:.0f} weeks (range "
                 f"{estimate.total_weeks_low:.0f}–{estimate.total_weeks_high:.0f}).")
    return bullets(lines)


def process_model(engagement, funnel_frame: pd.DataFrame) -> str:
    """Step 2: the phases and which CRM stages feed them."""
    model = engagement.phase_model
    unmapped_phases = [p.key for p in model.phases
                       if not any(t in (p.key,) or (t == "won" and p.key == model.won_phase)
                                  for t in model.stage_mapping.values())]
    lines = [f"The process has {len(model.phases)} phases: "
             + " → ".join(p.label for p in model.phases) + "."]
    if unmapped_phases:
        lines.append(f"No CRM stage maps to {unmapped_phases}: records pass these phases only by "
                     f"the skip rule, so their entry dates are not measured.")
    no_roles = [p.label for p in model.phases if not p.functions]
    if no_roles:
        lines.append(f"Phases without an owning function: {no_roles}. Agree who owns them before "
                     f"KPIs get owners in step 3.")
    return bullets(lines)


def kpi_tree(tree: pd.DataFrame) -> str:
    """Step 3: where the goal is missed, traced down the tree."""
    lines = []
    root = tree.iloc[0]
    if pd.notna(root["target"]) and pd.notna(root["value"]):
        gap = root["value"] / root["target"] - 1
        lines.append(f"{root['label']}: {root['value']:,.0f} against a target of "
                     f"{root['target']:,.0f} ({gap:+.0%}).")
    rates = tree[(tree["unit"] == "%") & tree["target"].notna() & tree["value"].notna()]
    if len(rates):
        short = rates.assign(ratio=rates["value"] / rates["target"]).sort_values("ratio")
        worst = short.iloc[0]
        lines.append(f"Furthest below its target: {worst['label']} at {_pct(worst['value'])} "
                     f"against {_pct(worst['target'])}.")
    elif tree["value"].isna().all():
        lines.append("Too few mature records to fill the tree yet.")
    return bullets(lines)


def measurement(kpis: pd.DataFrame, seasonal, ttc: pd.DataFrame | None = None) -> str:
    """Step 4: the measured conversions, what is immature, and seasonality."""
    conv = kpis[kpis["kind"] == "conversion"]
    lines = []
    if conv["n"].fillna(0).max() < MIN_N:
        lines.append(f"Too few mature records to conclude (largest cohort n = "
                     f"{int(conv['n'].fillna(0).max())}; {int(conv['immature_n'].fillna(0).sum())} "
                     f"records are still inside their window).")
    else:
        for row in conv.itertuples():
            lines.append(f"{row.label}: {_pct(row.value)} (n = {int(row.n):,}, 95% interval "
                         f"{_pct(row.ci_low)}–{_pct(row.ci_high)}; {int(row.immature_n or 0):,} "
                         f"too recent to count) — {row.status_vs_target}.")
    if seasonal is not None:
        lines.append(seasonal.headline)
    if ttc is not None and len(ttc):
        slow = ttc.sort_values("km_median_days", ascending=False).iloc[0]
        if pd.notna(slow["km_median_days"]):
            lines.append(f"Slowest transition: {slow['transition']} with a median of "
                         f"{slow['km_median_days']:.0f} days among records that convert (open "
                         f"records censored, not dropped).")
    return bullets(lines)
