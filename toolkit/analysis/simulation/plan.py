"""The improvement plan of step 6: the sized bottlenecks and the declared changes evaluated."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pandas as pd
from pydantic_core import PydanticCustomError

# not statsmodels.api, which imports all of statsmodels (about 0.3 s)
from toolkit.analysis.diagnosis import bottleneck_sizing
from toolkit.analysis.simulation.changes import ChangeEvaluation, evaluate_change
from toolkit.analysis.simulation.experiments import (
    ExperimentSize,
    entries_per_week,
    experiment_size,
    mde_table,
    uplift_target,
)
from toolkit.analysis.simulation.volume import required_volume
from toolkit.analysis.simulation.what_if import WhatIfResult, what_if
from toolkit.base.docstrings import shared_docs
from toolkit.base.exceptions import DATA_ERRORS, ConfigError, DataError, NeedsDates
from toolkit.base.vocabulary import Reason, Seed, reason_of, seed_sequence, stream
from toolkit.io.config import change_step
from toolkit.io.engagement import Engagement

T = TypeVar("T")


@dataclass
class ImprovementPlan:
    """Step 6 in one object: the top bottleneck, what raising it is worth, the volume the order
    target needs, the test that would show it, and the evaluation of a past change.

    A part the data cannot carry is None, and `problems[part]` says why (e.g. less than a month
    of history): the notebook shows the reason instead of failing.
    """

    bottleneck: pd.Series | None
    scenario: WhatIfResult | None
    required: pd.DataFrame | None
    experiment: ExperimentSize | None
    mde: pd.DataFrame | None
    change: ChangeEvaluation | None
    problems: dict[str, str]
    changes: list[ChangeEvaluation] = field(default_factory=list)

    def explain(self, part: str) -> str:
        return self.problems.get(part, "")

    @property
    def summary(self) -> pd.DataFrame:
        parts = ["bottleneck", "scenario", "required", "experiment", "mde", "change"]
        return pd.DataFrame([{"part": p, "computed": getattr(self, p) is not None,
                              "why_not": self.problems.get(p, "")} for p in parts])

    def _repr_html_(self) -> str:
        return self.summary.to_html(index=False)


@shared_docs
def plan_improvement(engagement: Engagement, *, changes: Sequence[Any] | None = None,
                     uplift: float | str = "+2pp", benchmarks: pd.DataFrame | None = None,
                     seed: Seed = 0, sizing: pd.DataFrame | None = None) -> ImprovementPlan:
    """Everything step 6 computes, each part guarded so that small or short data degrade to a
    stated reason rather than an error. See `what_if`, `required_volume`, `experiment_size`,
    `mde_table` and `evaluate_change` for the parts.

    Parameters
    ----------
    {shared.engagement}
    changes : sequence, optional
        The process changes to evaluate before/after, each with ``date``, ``description`` and
        ``step`` (as under ``changes:`` in the engagement YAML, the default). Only declared
        changes are evaluated, never a default date: with none, ``explain('change')`` says how
        to declare one.
    uplift : float or str, default "+2pp"
        The improvement the test must be able to show: a float is an absolute difference (0.02
        = 2 points); ``"+2pp"`` (points) or ``"+10%"`` (relative).
    {shared.benchmarks}
    {shared.seed}
    sizing : DataFrame, optional
        The bottleneck sizing already made with the same ``benchmarks`` and ``seed`` (step 5's
        ``LowHangingFruit.sizing``), so it is not computed again; default computed here.

    Returns
    -------
    ImprovementPlan
        The top bottleneck, what raising it is worth, the volume the order target needs, the
        test that would show it and the evaluation of each declared change; a part the data
        cannot carry is None with the reason in ``problems``.
    """
    engagement.require_dates("The improvement plan (orders per month)")
    seed = seed_sequence(seed)
    uplift_target(0.5, uplift)  # a malformed `uplift` is the caller's error, whatever the data

    problems: dict[str, str] = {}

    def attempt(part: str, func: Callable[[], T]) -> T | None:
        try:
            return func()
        except DATA_ERRORS as exc:  # what the records cannot carry; a wrong argument raises
            problems[part] = reason_of(exc)
            return None

    if sizing is None:
        sizing = attempt("bottleneck", lambda: bottleneck_sizing(
            engagement, benchmarks=benchmarks, seed=stream(seed, "sizing")))
    top = None
    if sizing is not None:
        usable = sizing[sizing["reference_rate"].notna() & sizing["rate"].notna()]
        if len(usable):
            top = usable.iloc[0]
        else:
            problems["bottleneck"] = Reason(
                "no transition has enough mature records to compare with a reference: too few "
                "records to conclude", "no_comparable_step")
    scenario = experiment = mde = None
    if top is not None:
        step = (top["from_phase"], top["to_phase"])
        scenario = attempt("scenario", lambda: what_if(
            engagement, rates={step: top["reference_rate"]}, seed=stream(seed, "scenario")))
        untestable = _untestable(top, uplift)
        if untestable is not None:
            problems["experiment"] = problems["mde"] = untestable
        else:
            per_week = entries_per_week(engagement, top["from_phase"])
            experiment = attempt("experiment", lambda: experiment_size(
                top["rate"], uplift=uplift,
                # no entries in the complete months: the weeks are unknown, not an error
                entries_per_week=per_week if per_week > 0 else None,
                window_days=engagement.config.cohort_window_days))
            mde = attempt("mde", lambda: mde_table(top["rate"]))
    else:
        for part in ("scenario", "experiment", "mde"):
            why = problems.get("bottleneck", "")
            problems[part] = Reason("no bottleneck could be sized: " + why, "no_bottleneck",
                                    {"why": why})
    target = engagement.config.targets.get("orders_per_month")
    required = None
    if target is None:
        problems["required"] = Reason(
            "no `orders_per_month` under `targets` in the engagement YAML", "no_order_target")
    else:
        required = attempt("required", lambda: required_volume(engagement, orders=target,
                                                               period="month",
                                                               seed=stream(seed, "required")))
    evaluations, change_problems = evaluate_declared_changes(engagement, changes)
    change = evaluations[0] if evaluations else None
    if len(change_problems) == 1:
        problems["change"] = change_problems[0]
    elif change_problems:
        problems["change"] = Reason(" ".join(change_problems), "changes_not_evaluated",
                                    {"reasons": list(change_problems)})
    return ImprovementPlan(bottleneck=top, scenario=scenario, required=required,
                           experiment=experiment, mde=mde, change=change, problems=problems,
                           changes=evaluations)


def _untestable(top: pd.Series, uplift: float | str) -> Reason | None:
    """Why no test can be sized for the bottleneck step `top` (its rate from the records), or
    None: a step that converts every record or none, or whose rate `uplift` would move past 0% or
    100%, gives the power calculation no rate to start from (issue 22: data never reaches an
    argument check)."""
    rate = float(top["rate"])
    values = {"from_phase": top["from_phase"], "to_phase": top["to_phase"], "share": rate}
    if rate >= 1.0:
        return Reason.of("test_everyone_converts", values)
    if rate <= 0.0:
        return Reason.of("test_nobody_converts", values)
    if not 0.0 < uplift_target(rate, uplift) < 1.0:
        return Reason.of("test_uplift_too_large", values)
    return None


#: What step 6 says when the engagement declares no change (no default date is ever assumed).
HOW_TO_DECLARE_A_CHANGE = (
    "No process change is declared, so no before/after evaluation is made (a default date would "
    "judge a change nobody made). To evaluate one, add an entry under `changes:` in the "
    "engagement YAML with `date:` (the day it took effect, e.g. 2025-03-01), `description:` "
    "(what was changed, e.g. a new qualification call) and `step:` (the step it was meant to "
    "improve, e.g. lead -> opportunity), and run the step again.")


def _declared(engagement: Engagement, changes: Sequence[Any] | None) -> list[dict[str, Any]]:
    source = getattr(engagement.config, "changes", None) if changes is None else changes
    out = []
    for change in source or []:
        item = change.model_dump() if hasattr(change, "model_dump") else dict(change)
        out.append(item)
    return out


@shared_docs
def evaluate_declared_changes(engagement: Engagement, changes: Sequence[Any] | None
                       ) -> tuple[list[ChangeEvaluation], list[Reason]]:
    """Each declared change evaluated at its own step.

    Parameters
    ----------
    {shared.engagement}
    changes : sequence or None
        The changes (each with ``date``, ``description`` and ``step``); None: those under
        ``changes:`` in the engagement YAML.

    Returns
    -------
    evaluations : list of ChangeEvaluation
        One per change that could be evaluated (:func:`evaluate_change`).
    reasons : list of Reason
        Why each of the others could not be.
    """
    declared = _declared(engagement, changes)
    if not declared:
        return [], [Reason(HOW_TO_DECLARE_A_CHANGE, "no_change_declared")]
    keys = engagement.phase_model.keys
    evaluations, problems = [], []
    for item in declared:
        when = pd.Timestamp(item["date"])
        what = str(item.get("description", "")).strip() or "a change"
        try:
            a, b = change_step(item["step"], keys)
        except PydanticCustomError as exc:  # its context carries the fix (see change_step)
            raise ConfigError(f"changes: {exc.message()}", key="changes",
                              fix=(exc.context or {}).get("fix")) from None
        comparison = item.get("comparison") or {}
        attribute, untouched = next(iter(comparison.items()), (None, None))
        if attribute is not None and not _has_segment(engagement, attribute, untouched):
            # the YAML's comparison group holds no record (yet): the data's, not a wrong YAML
            problems.append(Reason.of("change_no_control", {
                "date": when, "description": what, "from_phase": a, "to_phase": b,
                "attribute": attribute, "segments": ", ".join(map(str, untouched or []))}))
            continue
        try:
            result = evaluate_change(engagement, change_date=when, from_phase=a, to_phase=b,
                                     control=untouched, segment_attribute=attribute)
        except DATA_ERRORS as exc:
            problems.append(_plain_change_problem(exc, when, what, a, b, engagement))
            continue
        result.description = what
        evaluations.append(result)
    return evaluations, problems


def _has_segment(engagement: Engagement, attribute: str, segments: Any) -> bool:
    """Whether a record has one of `segments` of `attribute`.

    Raises
    ------
    ConfigError
        The records have no attribute `attribute`: the YAML names one the sources do not
        declare.
    """
    records = engagement.records
    if attribute not in records.columns:
        raise ConfigError(f"the comparison group of a change names the attribute {attribute!r}, "
                          "which the records do not have", key="changes",
                          fix=f"use one of the record attributes {engagement.segments}, or "
                              "declare it under the source's `attributes`")
    wanted = list(segments) if isinstance(segments, list | tuple) else [segments]
    return bool(records[attribute].isin(wanted).any())


def _plain_change_problem(exc: DataError | NeedsDates, when: pd.Timestamp, what: str, a: str, b: str,
                          engagement: Engagement) -> Reason:
    """Why a declared change could not be evaluated, in words for the client (no code)."""
    window = engagement.config.cohort_window_days
    head = f"The change of {when:%d-%m-%Y} ({what}, step {a} -> {b}) cannot be evaluated yet:"
    values = {"date": when, "description": what, "from_phase": a, "to_phase": b,
              "window_days": window, "as_of": pd.Timestamp(engagement.as_of)}
    text = str(exc)
    if "nothing before or after" in text:
        return Reason(f"{head} too few records to conclude: no record has reached {a}.",
                      "change_no_records", values)
    return Reason(f"{head} there are not yet mature records on both sides of the date (a record "
                  f"counts once its {window}-day window has closed before the as-of date "
                  f"{values['as_of']:%d-%m-%Y}). Evaluate it again later.", "change_not_mature",
                  values)
