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

Parameters used throughout
--------------------------
engagement
    An :class:`~toolkit.io.engagement.Engagement` (or one built with ``Engagement.from_tables``).
window_days
    The cohort conversion window (DESIGN.md, "Funnel semantics"); default the engagement's
    ``cohort_window_days``.
rates
    Planned step conversions, a mapping from a step to a new rate. A step is written
    ``"lead->opportunity"`` or ``("lead", "opportunity")`` and must be two consecutive phases. The
    value is one of

    - a float between 0 and 1: the **absolute** planned rate (``0.40`` = 40%), taken as given;
    - ``"40%"``: the same, written as a percentage;
    - ``"+5pp"`` / ``"-2pp"``: a change in **percentage points** on the baseline rate;
    - ``"+10%"`` / ``"-10%"``: a **relative** change of the baseline rate (0.30 -> 0.33).

    A change relative to the baseline (points or percent) inherits the baseline's uncertainty in
    the Monte Carlo; an absolute planned rate is a target and carries none.
volumes
    Multipliers of the entries into a phase, e.g. ``{"target": 1.2}`` for 20% more targets. A
    multiplier on a later phase means extra (or fewer) entries straight into that phase, e.g.
    more referrals entering at ``lead``; every phase after it scales along.
draws, seed
    Monte Carlo draws and their seed: a whole number >= 0, a ``SeedSequence`` or a ``Generator``
    (None is refused: the toolkit's one seed rule, ``toolkit.base.vocabulary.seed_sequence``); the
    same seed gives the same numbers.

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
