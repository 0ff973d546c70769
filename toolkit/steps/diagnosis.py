"""Step 5, analyse and prioritise: the ranked low-hanging fruit (the shortage-or-leak verdict,
bottlenecks sized in orders and revenue, segments against the typical segment, mix versus rate,
lost and stalled deals) and the yield and cost of each action."""

from __future__ import annotations

import warnings

import pandas as pd

from toolkit.analysis.diagnosis import LowHangingFruit, low_hanging_fruit, segment_scan
from toolkit.base.docstrings import shared_docs
from toolkit.base.exceptions import NoteWarning
from toolkit.base.vocabulary import Reason, stream
from toolkit.io.engagement import Engagement
from toolkit.measure.actions import action_yield
from toolkit.measure.benchmarks import benchmarks_for
from toolkit.present import narrative
from toolkit.present import plotting as tp
from toolkit.present.tables import attribute_headers
from toolkit.steps.parts import Parts, figure, in_languages, sentences
from toolkit.steps.result import StepResult, summary_frame
from toolkit.steps.store import shared_step

__all__ = ["diagnosis"]

#: The level of the segment scan, as in the ranked list (`low_hanging_fruit`'s default).
SCAN_ALPHA = 0.01


@shared_step(5)
@shared_docs
def diagnosis(engagement: Engagement, *, seed: int = 0, benchmarks: pd.DataFrame | None = None
              ) -> StepResult:
    """Step 5: `low_hanging_fruit` with the market benchmarks the engagement maps, and the action
    yield when the records have an `action` attribute.

    The diagnosis's Python warnings (a snapshot's caveat, an attribute left out of the scan) are
    kept as the `notes` table and the workbook's `Notes` sheet instead of being printed.

    Parameters
    ----------
    {shared.engagement}
    {shared.seed}
        Here: the Monte Carlo ranges of the sizing.
    benchmarks : DataFrame, optional
        The published rates to compare with (default ``benchmarks_for(engagement)``, possibly
        empty).

    Returns
    -------
    {shared.step_result}
        Tables: `fruit`, `step tests`, `verdict evidence`, `sizing`, `segment scan`, `flagged
        segments`, `action yield`, `mix`, `lost by phase`, `stalled`, `notes`. Figures:
        `bottlenecks`, `segment scan`, `mix vs rate` (when a mix shift made the list). Results:
        `fruit` (the LowHangingFruit), `benchmarks`. Sheets: `Low-hanging fruit`, `Segment
        scan`, `Notes`. A lead list without dates has no ranked list, but its `segment scan`
        (on every lead), `flagged segments`, figure and sheet.
    """
    parts = Parts()
    model = engagement.phase_model
    market = benchmarks_for(engagement) if benchmarks is None else benchmarks
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fruit = parts.attempt("fruit", lambda: low_hanging_fruit(engagement, benchmarks=market,
                                                                 seed=stream(seed, "sizing")))
    # a note with a code (NoteWarning) keeps it, so the workbook writes it in its language
    notes = list(dict.fromkeys(
        Reason(" ".join(str(w.message).split()), w.message.code, w.message.values)
        if isinstance(w.message, NoteWarning) else " ".join(str(w.message).split())
        for w in caught))
    if "action" in engagement.records.columns:
        yields = parts.attempt("action yield", lambda: action_yield(engagement))
    else:
        yields = None
        parts.note("action yield", Reason("the records have no `action` attribute (declare the "
                                          "action/channel column under the source's "
                                          "`attributes`)", "no_action_attribute"))

    tables: dict[str, pd.DataFrame] = {}
    figures = {}
    sheets: dict[str, pd.DataFrame] = {}
    if fruit is not None:
        tables.update({
            "fruit": fruit.table, "step tests": fruit.steps, "verdict evidence":
            fruit.verdict.evidence, "sizing": fruit.sizing, "segment scan": fruit.scan,
            "flagged segments": fruit.scan[fruit.scan["flagged"]]})
    if yields is not None:
        tables["action yield"] = yields
    if fruit is not None:
        # the bottlenecks the ranked list holds, with the values and references it shows (the
        # full sizing against every reference is the `sizing` table); none: no figure
        ranked = fruit.table[fruit.table["area"] == "bottleneck"]
        if len(ranked):
            figures["bottlenecks"] = figure(tp.plot_bottlenecks,
                                            ranked.assign(horizon=fruit.horizon),
                                            phase_model=model)
        figures["segment scan"] = figure(tp.plot_segment_scan, fruit.scan, phase_model=model,
                                         attributes=attribute_headers(engagement))
        if fruit.mixes:
            tables["mix"] = fruit.mixes[0].by_segment
            figures["mix vs rate"] = figure(tp.plot_mix_vs_rate, fruit.mixes[0].by_segment)
        tables["lost by phase"] = fruit.leaks.lost_by_phase
        tables["stalled"] = fruit.leaks.stalled
        sheets = {"Low-hanging fruit": fruit.table, "Segment scan": fruit.scan}
        lines = in_languages(lambda language: sentences(
            narrative.diagnosis(fruit, language, model, attribute_headers(engagement),
                                engagement.config.currency)))
    elif not engagement.dated:
        # A lead list without dates has no ranked list (sized per month), but its segments
        # compare on every lead: the scan the ranked list would have used (same level)
        scan = parts.attempt("segment scan", lambda: segment_scan(engagement, alpha=SCAN_ALPHA))
        lines = parts.in_languages()
        if scan is not None:
            tables.update({"segment scan": scan, "flagged segments": scan[scan["flagged"]]})
            figures["segment scan"] = figure(tp.plot_segment_scan, scan, phase_model=model,
                                             attributes=attribute_headers(engagement))
            sheets = {"Segment scan": scan}
            said = in_languages(lambda language: sentences(narrative.segment_scan(
                scan, language, model, attribute_headers(engagement))))
            lines = {language: lines[language] + said[language] for language in lines}
    else:
        lines = parts.in_languages()
    if notes:
        tables["notes"] = sheets["Notes"] = pd.DataFrame({"note": pd.Series(notes, dtype=object)})
    return StepResult(
        step=5, key="diagnosis", tables=tables,
        results={"fruit": fruit, "benchmarks": market, "action_yield": yields},
        figures=figures, problems=parts.problems, summary=_summary(fruit),
        headline=fruit.headline if fruit is not None else "No diagnosis could be made.",
        sheets=sheets, conclusions_by_language=lines)


def _summary(fruit: LowHangingFruit | None) -> pd.DataFrame:
    """The verdict, then each sized item of the ranked list with its range."""
    if fruit is None:
        return summary_frame()
    rows = [{"measure": "verdict", "status": fruit.verdict.case}]
    sized = fruit.table[fruit.table["extra_orders"].notna()]
    rows += [{"measure": f"{row.rank}. {row.finding} (extra orders per {fruit.horizon})",
              "value": row.extra_orders, "ci_low": row.extra_orders_low,
              "ci_high": row.extra_orders_high, "status": row.area}
             for row in sized.itertuples(index=False)]
    return summary_frame(rows)
