"""Step 6, improve and redesign: what raising the top bottleneck to its reference is worth, the
volume the order target needs, how big and how long a test must be, and the before/after
evaluation of each change the engagement declares."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import pandas as pd

from toolkit.analysis.action_plan import ActionPlan, action_plan, merge_plan, read_plan_file
from toolkit.analysis.diagnosis import LowHangingFruit
from toolkit.analysis.simulation import ChangeEvaluation, ImprovementPlan, plan_improvement
from toolkit.base.docstrings import shared_docs
from toolkit.base.findings import Finding
from toolkit.base.vocabulary import Reason
from toolkit.io.engagement import Engagement
from toolkit.present import narrative
from toolkit.steps.parts import Parts, earlier, in_languages, sentences, sizing_from
from toolkit.steps.result import StepResult, summary_frame
from toolkit.steps.store import shared_step

__all__ = ["improvement"]


@shared_step(6)
@shared_docs
def improvement(engagement: Engagement, *, seed: int = 0, diagnosis: StepResult | None = None,
                uplift: float | str = "+2pp") -> StepResult:
    """Step 6: `plan_improvement` on the top-ranked bottleneck of step 5, with the changes
    declared under `changes:` in the YAML (never a default date).

    Parameters
    ----------
    {shared.engagement}
    {shared.seed}
        Here: the Monte Carlo ranges.
    diagnosis : StepResult, optional
        Step 5's result, whose bottleneck sizing and benchmarks are used (sized here without
        it, with the same seed).
    uplift : float or str, default "+2pp"
        The improvement the test must be able to show (e.g. ``"+2pp"``).

    Returns
    -------
    {shared.step_result}
        Tables: `bottleneck`, `scenario`, `scenario by phase`, `required volume`, `experiment`,
        `mde`, `change verdicts` (one row per evaluated change), `changes` (every method's
        row), `action plan` (every demonstrated gap of step 5 as an action, with the
        consultant's status and start from ``plan.yaml`` beside the engagement YAML:
        `toolkit.analysis.action_plan`). Results: `plan` (the ImprovementPlan), `action_plan`
        (the ActionPlan). Sheets: `Action plan`. A part the data cannot carry is in `problems`
        (always `change` when no change is declared, saying how to declare one; `action plan`
        without step 5's ranked list).

    Raises
    ------
    TypeError
        `diagnosis` is not step 5's StepResult.
    """
    sizing, market = sizing_from(engagement, diagnosis)
    parts = Parts()
    actions = _action_plan(engagement, diagnosis, parts)
    plan = parts.attempt("plan", lambda: plan_improvement(
        engagement, benchmarks=market, seed=seed, uplift=uplift,
        sizing=sizing))
    if plan is None:  # nothing of the plan can be computed (a lead list without dates)
        return StepResult(step=6, key="improvement", problems=parts.problems,
                          tables=({} if actions is None else {"action plan": actions.table}),
                          results={"action_plan": actions},
                          sheets=({} if actions is None else {"Action plan": actions.table}),
                          headline="No improvement plan: " + parts.problems["plan"],
                          conclusions_by_language=parts.in_languages())
    tables: dict[str, pd.DataFrame] = {}
    if plan.bottleneck is not None:
        tables["bottleneck"] = plan.bottleneck.to_frame().T.reset_index(drop=True)
    if plan.scenario is not None:
        tables["scenario"] = plan.scenario.outcomes
        tables["scenario by phase"] = plan.scenario.table
    if plan.required is not None:
        tables["required volume"] = plan.required
    if plan.experiment is not None:
        tables["experiment"] = plan.experiment.summary
    if plan.mde is not None:
        tables["mde"] = plan.mde
    if plan.changes:
        tables["change verdicts"] = _verdicts(plan.changes)
        tables["changes"] = pd.concat(
            [change.comparisons.assign(change_date=change.change_date,
                                       description=change.description,
                                       headline=change.headline)
             for change in plan.changes], ignore_index=True)
    sheets = {}
    if actions is not None:
        tables["action plan"] = sheets["Action plan"] = actions.table
    return StepResult(
        step=6, key="improvement", tables=tables, results={"plan": plan, "action_plan": actions},
        problems={**plan.problems, **parts.problems}, summary=_summary(plan),
        headline=_headline(plan), sheets=sheets,
        conclusions_by_language=in_languages(lambda language: sentences(
            narrative.improvement(plan, language, engagement.phase_model))))


def _action_plan(engagement: Engagement, diagnosis: StepResult | None, parts: Parts
                 ) -> ActionPlan | None:
    """The action plan of step 5's ranked list with the plan file's statuses (a plan file naming
    what the engagement no longer has is refused: ConfigError), or None with the reason."""
    step5 = earlier(diagnosis, "diagnosis")
    fruit = cast("LowHangingFruit | None", None if step5 is None else step5.results.get("fruit"))
    if fruit is None:
        parts.note("action plan", Reason(
            "the action plan is written from step 5's ranked list (pass diagnosis=)",
            "action_plan_needs_fruit"))
        return None
    plan = action_plan(engagement, fruit)
    if plan.table.empty:  # said on the page, instead of a section left out without a word
        parts.note("action plan", Reason(
            "step 5 demonstrated no gap (no range of extra orders above zero), so there is no "
            "action to plan", "no_demonstrated_gap"))
        return None
    return merge_plan(plan, read_plan_file(engagement))


def _verdicts(changes: Sequence[ChangeEvaluation]) -> pd.DataFrame:
    """One row per evaluated change: what, when, which step, its effect code and the estimate of
    the method its answer reads (difference in probability, 95% interval, p-value)."""
    rows = []
    for change in changes:
        read = change.comparisons.set_index("method")
        row = read.loc[change.method] if change.method in read.index else None
        rows.append({"description": change.description, "change_date": change.change_date,
                     "from_phase": change.from_phase, "to_phase": change.to_phase,
                     "effect": change.effect, "method": change.method,
                     "estimate": None if row is None else row["estimate"],
                     "ci_low": None if row is None else row["ci_low"],
                     "ci_high": None if row is None else row["ci_high"],
                     "p_value": None if row is None else row["p_value"]})
    return pd.DataFrame(rows)


def _summary(plan: ImprovementPlan) -> pd.DataFrame:
    rows = []
    if plan.scenario is not None:
        for row in plan.scenario.outcomes.itertuples(index=False):
            rows.append({"measure": f"{row.measure} per {row.period}, now",
                         "value": row.baseline, "ci_low": row.baseline_ci_low,
                         "ci_high": row.baseline_ci_high})
            rows.append({"measure": f"{row.measure} per {row.period}, bottleneck at reference",
                         "value": row.scenario, "ci_low": row.ci_low, "ci_high": row.ci_high})
    if plan.experiment is not None:
        rows.append({"measure": "records a test needs", "value": plan.experiment.total_records,
                     "n": plan.experiment.total_records})
        rows.append({"measure": "weeks until a test can be read",
                     "value": plan.experiment.weeks_until_readable})
    for change in plan.changes:
        rows.append({"measure": f"change of {change.change_date:%Y-%m-%d} ({change.description})",
                     "status": change.headline})
    return summary_frame(rows)


def _headline(plan: ImprovementPlan) -> str:
    if plan.scenario is None:
        return "No scenario: " + plan.explain("scenario")
    orders = plan.scenario.outcomes.set_index("measure").loc["orders"]
    top = plan.bottleneck
    assert top is not None  # the scenario raises the top bottleneck: made only with one
    return Finding("raising_bottleneck", {
        "from_phase": top["from_phase"], "to_phase": top["to_phase"], "rate": float(top["rate"]),
        "reference_rate": float(top["reference_rate"]), "baseline": float(orders["baseline"]),
        "scenario": float(orders["scenario"]), "period": orders["period"]})
