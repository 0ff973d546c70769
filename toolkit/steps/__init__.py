"""One call per method step, each returning a StepResult (see toolkit/steps/result.py);
`open_engagement` opens an engagement for them.

    e = steps.open_engagement("engagement.yaml")
    result = steps.diagnosis(e, seed=0)          # one step
    results = steps.run_all(e, seed=0)           # {1: StepResult, ..., 7: StepResult}

A step computes its parts with the library (measure, analysis) and collects what it found, what it
could not compute and why, its figures, its workbook sheets and its conclusions. The notebooks,
the report, the workbook and the CLI show these results and compute nothing again.
"""

from collections.abc import Iterable, Iterator

from toolkit.base.docstrings import shared_docs
from toolkit.base.exceptions import OptionError
from toolkit.base.vocabulary import check_option, check_seed
from toolkit.io.engagement import Engagement
from toolkit.steps.baseline import baseline
from toolkit.steps.checks import check_engagement, open_engagement
from toolkit.steps.diagnosis import diagnosis
from toolkit.steps.improvement import improvement
from toolkit.steps.kpis import kpis
from toolkit.steps.measurement import measurement
from toolkit.steps.process_model import process_model
from toolkit.steps.result import STEP_KEYS, SUMMARY_COLUMNS, NotComputed, StepResult, summary_frame
from toolkit.steps.since import since_previous
from toolkit.steps.steering import steering

__all__ = ["STEP_KEYS", "SUMMARY_COLUMNS", "NotComputed", "StepResult", "summary_frame", "check_engagement",
           "open_engagement", "baseline", "process_model", "kpis", "measurement", "diagnosis",
           "improvement", "steering", "since_previous", "STEPS", "run_all", "run_each"]

#: The step functions by number.
STEPS = {1: baseline, 2: process_model, 3: kpis, 4: measurement, 5: diagnosis, 6: improvement,
         7: steering}

# Which earlier step's result each step takes as an option (option name = that step's key).
USES = {2: (1,), 4: (3,), 6: (5,), 7: (5,)}


@shared_docs
def run_all(engagement: Engagement, *, seed: int = 0, steps: Iterable[int] | None = None
            ) -> dict[int, StepResult]:
    """Run the method's steps in order (default all seven).

    The engagement's settings are checked first (``check_engagement``). Each step gets the
    results of the earlier steps it builds on (step 2 the funnel of step 1, step 4 the KPI
    values of step 3, steps 6 and 7 the sizing of step 5), so nothing is computed twice in one
    run.

    Parameters
    ----------
    {shared.engagement}
    {shared.seed}
    steps : iterable of int, optional
        The step numbers to run (1-7); None: all seven.

    Returns
    -------
    dict of int to StepResult
        ``{step: StepResult}`` in step order.

    Raises
    ------
    ConfigError
        The engagement's YAML is wrong (``check_engagement``).
    OptionError
        `steps` names no step or a number outside 1-7, or `seed` is no whole number >= 0.
    """
    return dict(run_each(engagement, seed=seed, steps=steps))


@shared_docs
def run_each(engagement: Engagement, *, seed: int = 0, steps: Iterable[int] | None = None
             ) -> Iterator[tuple[int, StepResult]]:
    """As `run_all`, one ``(step, StepResult)`` at a time as each step is done, so a caller can
    start on a result (draw its figures) while the later steps compute.

    Parameters
    ----------
    {shared.engagement}
    {shared.seed}
    steps : iterable of int, optional
        The step numbers to run (1-7); None: all seven.

    Returns
    -------
    iterator of (int, StepResult)
        Each chosen step's number and result, in step order.

    Raises
    ------
    ConfigError
        The engagement's YAML is wrong: checked before the first step.
    OptionError
        `steps` names no step or a number outside 1-7, or `seed` is no whole number >= 0.
    """
    seed = check_seed(seed)
    chosen = sorted({check_option("steps", step, list(STEPS)) for step in (
        STEPS if steps is None else steps)})
    if not chosen:
        raise OptionError("The value for `steps` must name at least one step, but none was passed",
                          fix=f"pass step numbers among {list(STEPS)}, or None for all")
    check_engagement(engagement)
    return _each(engagement, seed, chosen)


def _each(engagement: Engagement, seed: int, chosen: list[int]) -> Iterator[tuple[int, StepResult]]:
    results: dict[int, StepResult] = {}
    for step in chosen:
        given = {STEP_KEYS[used]: results[used] for used in USES.get(step, ()) if used in results}
        results[step] = STEPS[step](engagement, seed=seed, **given)
        yield step, results[step]
