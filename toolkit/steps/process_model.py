"""Step 2, the process model: the phases with their roles, tasks, actions and output, which CRM
stages feed which phase, and the process schema with the conversion on each arrow."""

from __future__ import annotations

import pandas as pd

from toolkit.base.docstrings import shared_docs
from toolkit.io.engagement import Engagement
from toolkit.measure.funnel import funnel
from toolkit.present import narrative
from toolkit.present import plotting as tp
from toolkit.steps.parts import Parts, earlier, figure, in_languages, sentences
from toolkit.steps.result import StepResult, summary_frame
from toolkit.steps.store import shared_step

__all__ = ["process_model", "stage_use"]


@shared_docs
def stage_use(engagement: Engagement) -> pd.DataFrame:
    """Rows per CRM stage in the data and the phase each went to.

    Parameters
    ----------
    {shared.engagement}

    Returns
    -------
    DataFrame
        ``source_stage, phase, rows``: one row per CRM stage and the phase it was mapped to.
    """
    return (engagement.events.groupby(["source_stage", "phase"], observed=True).size()
            .rename("rows").reset_index())


@shared_step(2)
@shared_docs
def process_model(engagement: Engagement, *, seed: int = 0, baseline: StepResult | None = None) -> StepResult:
    """Step 2: the phase model as the client described it, the stage mapping in use and the
    process schema.

    Parameters
    ----------
    {shared.engagement}
    {shared.seed}
        Step 2 draws no random numbers; the seed is accepted like every step's.
    baseline : StepResult, optional
        Step 1's result, whose funnel labels the schema's arrows (computed here without it).

    Returns
    -------
    {shared.step_result}
        Tables: `phases`, `stage mapping`. Figures: `process schema`.

    Raises
    ------
    TypeError
        `baseline` is not step 1's StepResult.
    """
    parts = Parts()
    model = engagement.phase_model
    before = earlier(baseline, "baseline")
    frame = (before.results.get("funnel") if before is not None
             else parts.attempt("funnel", lambda: funnel(engagement)))
    tables = {"phases": model.to_frame(), "stage mapping": stage_use(engagement)}
    figures = {"process schema": figure(tp.plot_process_schema, model, funnel_frame=frame)}
    lines = in_languages(lambda language: sentences(
        narrative.process_model(engagement, frame, language)))
    rows = [{"measure": "phases", "value": len(model.phases)},
            {"measure": "CRM stages in the data", "value": tables["stage mapping"]["source_stage"]
             .nunique(), "n": int(tables["stage mapping"]["rows"].sum())}]
    return StepResult(
        step=2, key="process_model", tables=tables, results={"phase_model": model},
        figures=figures, problems=parts.problems, summary=summary_frame(rows),
        headline=(f"The process has {len(model.phases)} phases: "
                  + " → ".join(p.label for p in model.phases) + "."),
        conclusions_by_language=lines)
