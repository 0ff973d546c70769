"""Step 6 of the method, *Verbeteren en herinrichten*: what an improvement is worth and how to test it.

Four questions, one function each:

- :func:`what_if` (forward): "if lead -> opportunity rose to 40% and we had 20% more targets, how
  many orders and how much revenue would that give per month?", with intervals from a seeded
  Monte Carlo over the posteriors of the baseline rates and volume.
- :func:`required_volume` (backward): "we want 30 orders a month; how many entries does each
  phase need, per calendar month?", at current or planned conversion.
- :func:`experiment_size`, :func:`mde_table`, :func:`entries_per_week` (sizing): "how many leads,
  and how many weeks, to see a 2-point improvement?", including the wait for the last cohort's
  conversion window to close.
- :func:`evaluate_change` (evaluation): "did the change we made on 1 March work?", comparing like
  with like: mature cohorts only, cohorts that straddle the change left out, the same calendar
  months, a segmented regression and, with a control group, difference-in-differences.

The parameters the functions share (``engagement``, ``window_days``, ``rates``, ``volumes``,
``draws``, ``seed``) are described once, in ``toolkit.base.docstrings``, and read the same in
each function's docstring.

The baseline
------------
Volume: entries into each phase per calendar month, over the baseline's **complete** months (a
month counts when the data cover it from its first to its last day; the as-of month counts only
when the as-of date is its last day). Conversion: the step cohort conversions with the window,
pooled over all mature cohorts (``cohort_conversion(period="all")``). Value: the mean ``value`` of
won records. The method's point that *percentages are stable and volume is seasonal* is built in:
rates are one number per step, volume has a profile by calendar month.

One module a job: ``baseline`` (argument checks and the measured baseline), ``scenarios`` (rate
and volume changes, the Monte Carlo core), ``what_if``, ``volume`` (required volume),
``experiments`` (experiment size, detectable effects, entries per week), ``changes`` (evaluating a
change), ``plan`` (the improvement plan and declared changes). Import the names from the package.
"""

from __future__ import annotations

from toolkit.analysis.simulation.changes import ChangeEvaluation, evaluate_change
from toolkit.analysis.simulation.experiments import (
    ExperimentSize,
    entries_per_week,
    experiment_size,
    mde_table,
)
from toolkit.analysis.simulation.plan import (
    HOW_TO_DECLARE_A_CHANGE,
    ImprovementPlan,
    evaluate_declared_changes,
    plan_improvement,
)
from toolkit.analysis.simulation.volume import required_volume
from toolkit.analysis.simulation.what_if import WhatIfResult, what_if

__all__ = [
    "what_if",
    "WhatIfResult",
    "required_volume",
    "experiment_size",
    "ExperimentSize",
    "mde_table",
    "entries_per_week",
    "evaluate_change",
    "evaluate_declared_changes",
    "ChangeEvaluation",
    "plan_improvement",
    "ImprovementPlan",
    "HOW_TO_DECLARE_A_CHANGE",
]
