"""One report tells one story: the contradictions a board would catch between the pages.

The check reads the step results every page, figure and workbook cell renders (their stored
values, not the prose), so a contradiction is found where it is made, in either language:

- ``two_values``: one KPI for one month shows two values (the monthly KPIs, the scorecard, "what
  changed since the month before");
- ``month_not_judged``: "what changed" compares a month the scorecard did not judge;
- ``trend_against_change``: the scorecard's trend word points one way while the significant
  change of the same KPI in the same month points the other, or a change's better/worse
  disagrees with its own sign and direction;
- ``no_fruit_beside_actions``: a "no clear low-hanging fruit" verdict beside sized actions or a
  bottleneck figure;
- ``range_includes_zero``: a sized action whose range includes zero (not a fruit);
- ``figure_against_table``: the bottleneck figure draws other values (or references) than the
  ranked list;
- ``plenty_of_leads_beside_shortfall``: a verdict that says "plenty of leads" beside a lead
  volume demonstrably short of the order target;
- ``weakest_not_lowest``: step 1 names a weakest step while a step with enough records
  converts lower;
- ``two_values`` on the page "Since the last report" (``since=``): a KPI's value for this
  report's month differs from the one step 7 states for that month, or the page's counts of
  records added, removed and restated differ from its list of them.

:func:`check_consistency` returns them as rows (``code, step, where, detail``); an empty frame
is a report that tells one story.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from toolkit.base.vocabulary import MIN_N
from toolkit.present.format import formatter
from toolkit.present.narrative import verdict as written

__all__ = ["CONTRADICTIONS", "check_consistency"]

#: The contradiction codes :func:`check_consistency` can return.
CONTRADICTIONS = ("two_values", "month_not_judged", "trend_against_change",
                  "no_fruit_beside_actions", "range_includes_zero", "figure_against_table",
                  "plenty_of_leads_beside_shortfall", "weakest_not_lowest")

_COLUMNS = ["code", "step", "where", "detail"]
_SAME = 1e-9  # two renderings of one stored value are equal; a recomputation is not


def _found(code: str, step: int, where: str, detail: str) -> dict[str, Any]:
    return {"code": code, "step": step, "where": where, "detail": detail}


def _step(results: Mapping[int, Any], number: int) -> Any:
    return results.get(number) if hasattr(results, "get") else None


def _values_per_month(result: Any) -> list[tuple[str, Any, float, str]]:
    """(kpi, month, value, where) of every KPI value step 7 states."""
    out = []
    monthly = result.tables.get("monthly")
    if monthly is not None and len(monthly):
        for row in monthly.itertuples(index=False):
            out.append((str(row.kpi), str(row.period), float(row.value), "monthly KPIs"))
    card = result.tables.get("scorecard")
    if card is not None and len(card):
        for row in card.itertuples(index=False):
            out.append((str(row.kpi), str(row.period), float(row.value), "scorecard"))
    changed = result.tables.get("what changed")
    if changed is not None and len(changed) and "period" in changed:
        for row in changed.itertuples(index=False):
            out.append((str(row.kpi), str(row.period), float(row.current), "what changed"))
            if row.previous_period is not None and not pd.isna(row.previous_period):
                out.append((str(row.kpi), str(row.previous_period), float(row.previous),
                            "what changed (month before)"))
    return out


def _steering(result: Any) -> list[dict[str, Any]]:
    found = []
    seen: dict[tuple[str, str], tuple[float, str]] = {}
    for kpi, month, value, where in _values_per_month(result):
        if not math.isfinite(value):
            continue
        first = seen.setdefault((kpi, month), (value, where))
        if abs(first[0] - value) > _SAME:
            found.append(_found("two_values", 7, where,
                                f"{kpi} in {month}: {first[0]:.6g} ({first[1]}) and {value:.6g}"))
    card = result.tables.get("scorecard")
    changed = result.tables.get("what changed")
    if card is None or changed is None or not len(card) or not len(changed):
        return found
    if "period" not in changed:
        return found + [_found("month_not_judged", 7, "what changed",
                               "the comparison names no month, so it cannot be tied to the "
                               "scorecard's")]
    judged = card.set_index("kpi")
    for row in changed.itertuples(index=False):
        kpi = row.kpi
        if kpi not in judged.index:
            continue
        month = judged.loc[kpi, "period"]
        if str(row.period) != str(month):
            found.append(_found("month_not_judged", 7, "what changed",
                                f"{kpi}: compares {row.period}, the scorecard judged {month}"))
            continue
        if pd.isna(row.significant) or not bool(row.significant):
            continue
        better = (row.current > row.previous) == bool(row.higher_is_better)
        trend = str(judged.loc[kpi, "trend"])
        if (trend == "worsening" and better) or (trend == "improving" and not better):
            found.append(_found("trend_against_change", 7, "scorecard",
                                f"{kpi} in {month}: trend {trend!r} beside a significant "
                                f"{'better' if better else 'worse'} change from {row.previous:.4g} "
                                f"to {row.current:.4g}"))
    return found


def _sized(table: pd.DataFrame) -> pd.DataFrame:
    return table[pd.to_numeric(table["extra_orders"], errors="coerce").notna()]


def _diagnosis(result: Any) -> list[dict[str, Any]]:
    fruit = result.results.get("fruit")
    if fruit is None:
        return []
    found = []
    table = fruit.table
    sized = _sized(table)
    for row in sized.itertuples(index=False):
        low, high = float(row.extra_orders_low), float(row.extra_orders_high)
        if not (math.isfinite(low) and math.isfinite(high)) or low <= 0 <= high:
            found.append(_found("range_includes_zero", 5, "low-hanging fruit",
                                f"#{row.rank} {row.area}: {low:.3g} to {high:.3g}"))
    verdict = fruit.verdict
    no_fruit = (verdict.case == "no clear low-hanging fruit"
                and not getattr(verdict, "gains_in_segments", False))
    if no_fruit and len(sized):
        found.append(_found("no_fruit_beside_actions", 5, "verdict",
                            f"'no clear low-hanging fruit' beside {len(sized)} sized actions"))
    drawn = result.figures.get("bottlenecks")
    if drawn is not None:
        data = drawn.args[0] if getattr(drawn, "args", None) else None
        if no_fruit:
            found.append(_found("no_fruit_beside_actions", 5, "bottleneck figure",
                                "'no clear low-hanging fruit' beside a bottleneck figure"))
        if isinstance(data, pd.DataFrame):
            found += _figure_against_table(data, table)
    evidence = verdict.evidence
    volume = evidence[evidence["rule"] == "volume vs order target"] if len(evidence) else evidence
    short = len(volume) and str(volume["points_to"].iloc[0]) == "short"
    if short and verdict.case == "leak" and not getattr(verdict, "both_sides", False):
        sentence = written(fruit, formatter("en"), None)["sentence"]
        if "plenty of leads" in sentence.lower():
            found.append(_found("plenty_of_leads_beside_shortfall", 5, "verdict", sentence))
    return found


def _figure_against_table(data: pd.DataFrame, table: pd.DataFrame) -> list[dict[str, Any]]:
    """Each bar of the bottleneck figure is a bottleneck row of the ranked list, same value and
    reference."""
    ranked = table[table["area"] == "bottleneck"]
    found = []
    for row in data.itertuples(index=False):
        same = ranked[(ranked["from_phase"] == row.from_phase)
                      & (ranked["to_phase"] == row.to_phase)]
        if not len(same):
            found.append(_found("figure_against_table", 5, "bottleneck figure",
                                f"{row.from_phase} -> {row.to_phase} is drawn but not ranked"))
            continue
        first = same.iloc[0]
        if (abs(float(first["extra_orders"]) - float(row.extra_orders)) > _SAME
                or str(first["reference"]) != str(row.reference)):
            found.append(_found("figure_against_table", 5, "bottleneck figure",
                                f"{row.from_phase} -> {row.to_phase}: figure {row.extra_orders:.4g} "
                                f"against the {row.reference}, table {first['extra_orders']:.4g} "
                                f"against the {first['reference']}"))
    return found


def _baseline(result: Any) -> list[dict[str, Any]]:
    funnel = result.tables.get("funnel") if result is not None else None
    summary = result.summary if result is not None else None
    if funnel is None or summary is None or not len(summary) or "rate" not in funnel:
        return []
    named = summary[summary["measure"].astype(str).str.startswith("weakest step")]
    if not len(named):
        return []
    steps = funnel.dropna(subset=["rate"])
    steps = steps[steps["n"] >= MIN_N]
    lowest = float(steps["rate"].min()) if len(steps) else np.nan
    value = float(named["value"].iloc[0])
    if math.isfinite(lowest) and lowest < value - _SAME:
        return [_found("weakest_not_lowest", 1, "baseline",
                       f"{named['measure'].iloc[0]} at {value:.4g} while a step with at least "
                       f"{MIN_N} records converts {lowest:.4g}")]
    return []


def _since(since: Any, seven: Any) -> list[dict[str, Any]]:
    """The page "Since the last report" against step 7 (this report's KPI values) and against
    itself (its counts against its list of records)."""
    found = []
    stated = {} if seven is None else {(kpi, month): (value, where) for kpi, month, value, where
                                       in _values_per_month(seven) if math.isfinite(value)}
    kpis = since.tables.get("kpis")
    for row in ([] if kpis is None else kpis.to_dict("records")):
        value = row.get("current")
        if value is None or pd.isna(value):
            continue
        first = stated.get((str(row["kpi"]), str(row.get("period"))))
        if first is not None and abs(first[0] - float(value)) > _SAME:
            found.append(_found("two_values", 7, "since the last report",
                                f"{row['kpi']} in {row.get('period')}: {first[0]:.6g} "
                                f"({first[1]}) and {float(value):.6g}"))
    counts = since.tables.get("data changes")
    listed = since.tables.get("records changed")
    if counts is not None and listed is not None:
        told = listed["change"].value_counts()
        for row in counts.itertuples(index=False):
            if row.change != "in both" and int(row.records) != int(told.get(row.change, 0)):
                found.append(_found("two_values", 7, "since the last report",
                                    f"records {row.change}: counted {int(row.records)}, listed "
                                    f"{int(told.get(row.change, 0))}"))
    return found


def check_consistency(results: Mapping[int, Any], *, since: Any = None) -> pd.DataFrame:
    """The contradictions between the pages of one run.

    Parameters
    ----------
    results : mapping of int to StepResult
        The step results of one run (step number -> StepResult), as
        :func:`toolkit.steps.run_all` returns them and every page, figure and workbook cell
        renders.
    since : SinceReport, optional
        The run's :class:`toolkit.analysis.since.SinceReport` when its report has the page
        "Since the last report".

    Returns
    -------
    DataFrame
        ``code`` (:data:`CONTRADICTIONS`), ``step``, ``where`` and ``detail``; empty when the
        report tells one story.
    """
    found: list[dict[str, Any]] = []
    found += _baseline(_step(results, 1))
    five = _step(results, 5)
    if five is not None:
        found += _diagnosis(five)
    seven = _step(results, 7)
    if seven is not None:
        found += _steering(seven)
    if since is not None:
        found += _since(since, seven)
    return pd.DataFrame(found, columns=_COLUMNS)
