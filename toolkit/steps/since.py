"""Step 7's comparison with the previous report, for its notebook: the page "Since the last
report" of `funnel run` as a step result.

The previous run is found by the rule `funnel run` uses
(:func:`toolkit.analysis.previous.find_previous`, with the folder `funnel run` writes without
``--out``); this run's state is built from the step results as the report builds it
(:func:`toolkit.analysis.previous.loop_state`). No previous report: a result that says so, never
an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from toolkit.analysis.history import history_path
from toolkit.analysis.previous import find_previous, loop_state
from toolkit.base.docstrings import shared_docs
from toolkit.base.paths import report_folder
from toolkit.base.vocabulary import check_seed
from toolkit.io.engagement import Engagement
from toolkit.steps.diagnosis import diagnosis
from toolkit.steps.improvement import improvement
from toolkit.steps.result import StepResult, summary_frame
from toolkit.steps.steering import steering
from toolkit.steps.store import shared_result

__all__ = ["FIRST_RUN", "since_previous"]

#: The reason shown when there is no previous report to compare with.
FIRST_RUN = ("no previous report: this is the first run of this engagement (no report folder "
             "in {folder}/ holds a run state of it measured up to this export's as-of date). "
             "Run `funnel run` on this export and again on the next one: the next run compares "
             "with this one.")

#: The comparison's reason codes (toolkit.analysis.since) in words.
_REASONS = {"no_started_action": "no action of the plan is started yet (status started or done "
                                 "with a start date in plan.yaml): there is nothing to evaluate.",
            "history_unreadable": "the report history beside the report folders cannot be read; "
                                  "the trend shows the two compared reports only. Fix: repair "
                                  "report-history.csv or move it away (the next run starts a new "
                                  "one)."}

def _results(engagement: Engagement, seed: int) -> dict[int, StepResult]:
    """Steps 5-7 as the notebook's other cells have them: the run's results when the engagement
    was opened with a run's file, else computed once (steps 6 and 7 on step 5's sizing)."""
    found = diagnosis(engagement, seed=seed)
    return {5: found,
            6: shared_result(engagement, 6, seed) or improvement(engagement, seed=seed,
                                                                 diagnosis=found),
            7: shared_result(engagement, 7, seed) or steering(engagement, seed=seed,
                                                              diagnosis=found)}


@shared_docs
def since_previous(engagement: Engagement, *, previous: str | Path | None = None,
                   results: Mapping[int, StepResult] | None = None, seed: int = 0,
                   out: str | Path | None = None) -> StepResult:
    """This run compared with the previous report (the page "Since the last report") as step 7's
    result.

    Parameters
    ----------
    {shared.engagement}
    previous : str or Path, optional
        The previous report's folder (as ``funnel run --since``); default: found by the rule of
        `funnel run` among the report folders beside `out`.
    results : mapping of int to StepResult, optional
        This run's step results (at least steps 5, 6 and 7); default: the run's results when the
        engagement was opened with one, else computed with `seed`.
    {shared.seed}
    out : str or Path, optional
        The folder this run's report goes to; default ``reports/<engagement>/<today>/``.

    Returns
    -------
    {shared.step_result}
        Tables ``actions``, ``kpis``, ``findings``, ``data changes``, ``records changed``
        (:class:`toolkit.analysis.since.SinceReport`, under ``results["since"]``), its counts
        as the summary. No previous report: no tables, and ``problems["since"]`` says why (a
        first run).
    """
    seed = check_seed(seed)
    out = Path(out) if out is not None else report_folder(engagement.name)
    found = find_previous(out, engagement.name, since=previous,
                          as_of=engagement.as_of if getattr(engagement, "dated", True) else None)
    if found is None:
        return StepResult(step=7, key="steering",
                          problems={"since": FIRST_RUN.format(folder=out.parent.name)},
                          headline="No previous report: this is the first run.")
    state, folder = found
    steps = dict(results) if results is not None else _results(engagement, seed)
    _, since = loop_state(engagement, steps, state, history=history_path(out))
    assert since is not None  # a previous state always gives a comparison
    problems = {f"since: {part}": _REASONS.get(code, code) for part, code in since.problems.items()}
    headline = (f"Compared with the previous report ({folder.name}, as of "
                f"{_day(since.previous_as_of)}); this export as of {_day(since.as_of)}.")
    return StepResult(step=7, key="steering", tables=since.tables, results={"since": since},
                      problems=problems, summary=summary_frame(since.summary.to_dict("records")),
                      headline=headline)


def _day(value: Any) -> str:
    return "n/a" if value is None else value.strftime("%Y-%m-%d")
