"""Step 7, steer and safeguard: the scorecard against targets with a status that takes the interval
into account, the control chart of the steering conversion with its run-rule alerts, and the
period report."""

from __future__ import annotations

import pandas as pd

from toolkit.analysis.steering import SteeringView, steering_view
from toolkit.base.docstrings import shared_docs
from toolkit.base.vocabulary import Reason
from toolkit.io.engagement import Engagement
from toolkit.present import narrative
from toolkit.present import plotting as tp
from toolkit.steps.parts import Parts, figure, in_languages, sentences, sizing_from
from toolkit.steps.result import StepResult, summary_frame
from toolkit.steps.store import shared_step

__all__ = ["steering", "labelled_scorecard"]


def labelled_scorecard(card: pd.DataFrame, monthly: pd.DataFrame) -> pd.DataFrame:
    """The scorecard with each KPI's `label` and `unit` beside its name (first three columns).

    Parameters
    ----------
    card : DataFrame
        The scorecard (``toolkit.analysis.steering.scorecard``).
    monthly : DataFrame
        The monthly KPI frame holding each KPI's ``label`` and ``unit``.

    Returns
    -------
    DataFrame
        ``kpi, label, unit`` and then the scorecard's other columns.
    """
    labels = monthly.drop_duplicates("kpi").set_index("kpi")[["label", "unit"]]
    card = card.join(labels, on="kpi")
    first = ["kpi", "label", "unit"]
    return card[first + [c for c in card.columns if c not in first]]


def _no_scorecard(why: str) -> pd.DataFrame:
    """The workbook's Scorecard sheet when there is none: one note saying why (with its code, so
    the workbook can say it in its language)."""
    note = Reason(f"No scorecard: {why}", "no_scorecard", {"why": why})
    return pd.DataFrame({"note": pd.Series([note], dtype=object)})


@shared_step(7)
@shared_docs
def steering(engagement: Engagement, *, seed: int = 0, diagnosis: StepResult | None = None) -> StepResult:
    """Step 7: `steering_view` charting the conversion step 5 ranked first.

    The scorecard judges each rate KPI on its latest month that is mature and holds enough
    records; the control chart is a p-chart (Laney's p' when the months vary more than chance).

    Parameters
    ----------
    {shared.engagement}
    {shared.seed}
        Here: the sizing when `diagnosis` is not given.
    diagnosis : StepResult, optional
        Step 5's result, whose bottleneck sizing chooses the conversion to steer on (sized here
        without it, with the same seed).

    Returns
    -------
    {shared.step_result}
        Tables: `monthly`, `scorecard` (with labels), `control chart`, `alerts`, `what
        changed`. Figures: `scorecard`, `control chart`. Results: `view` (the SteeringView).
        Sheets: `Scorecard` (the scorecard, or a note saying why there is none).

    Raises
    ------
    TypeError
        `diagnosis` is not step 5's StepResult.
    """
    sizing, market = sizing_from(engagement, diagnosis)
    parts = Parts()
    view = parts.attempt("view", lambda: steering_view(
        engagement, benchmarks=market, seed=seed,
        sizing=sizing))
    if view is None:  # nothing to steer on can be computed (a lead list without dates)
        return StepResult(step=7, key="steering", problems=parts.problems,
                          headline="No steering view: " + parts.problems["view"],
                          sheets={"Scorecard": _no_scorecard(parts.problems["view"])},
                          conclusions_by_language=parts.in_languages())
    tables = {"monthly": view.monthly}
    figures = {}
    card = None
    if view.card is not None:
        card = labelled_scorecard(view.card, view.monthly)
        tables["scorecard"] = card
        figures["scorecard"] = figure(tp.plot_scorecard, view.card, kpis=view.monthly)
    if view.chart is not None:
        tables["control chart"] = view.chart
        tables["alerts"] = view.alerts
        figures["control chart"] = figure(tp.plot_control_chart, view.chart, alerts=view.alerts)
    if view.report is not None:
        tables["what changed"] = view.report.what_changed
    sheet = card if card is not None else _no_scorecard(view.explain("card"))
    return StepResult(
        step=7, key="steering", tables=tables, results={"view": view}, figures=figures,
        problems=view.problems, summary=_summary(card), headline=_headline(view),
        sheets={"Scorecard": sheet},
        conclusions_by_language=in_languages(lambda language: sentences(
            narrative.steering(view, language, engagement.phase_model))))


def _summary(card: pd.DataFrame | None) -> pd.DataFrame:
    if card is None:
        return summary_frame()
    return summary_frame([{"measure": f"{row.label} ({row.period})", "value": row.value,
                           "ci_low": row.ci_low, "ci_high": row.ci_high, "n": row.n,
                           "status": row.status} for row in card.itertuples(index=False)])


def _headline(view: SteeringView) -> str:
    if view.report is not None and view.report.headline:
        return view.report.headline[0]
    if view.card is None:
        return "No scorecard: " + view.explain("card")
    return "No period report: " + view.explain("report")
