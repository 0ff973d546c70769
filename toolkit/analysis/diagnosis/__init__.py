"""Step 5 of the method, *Analyse en prioriteren*: where the low-hanging fruit of the funnel is.

Phases are rarely at the same level. The method starts with the low-hanging fruit: "too few
qualified leads -> build the early phases first; plenty of leads but low conversion to orders ->
stop opportunities from dropping out". This module sizes and ranks those opportunities:

- :func:`bottleneck_sizing`: extra orders and revenue per transition if its conversion rose to a
  reference (a target, a benchmark, the client's own best period or best segment), with a seeded
  Monte Carlo range;
- :func:`shortage_or_leak`: the method's two cases decided by tests against stated references
  (target, benchmark, the step's own earlier level, lead volume against the order target), or
  "no clear low-hanging fruit", as a :class:`Verdict`;
- :func:`segment_scan`: every segment against the typical segment of its attribute, per
  transition, in a penalised logistic model with the other attributes and the cohort year
  (never with an attribute it is nested with), adjusted across the scan; what it cannot judge
  says why;
- :func:`action_yield`: which actions (channels) produce qualified leads, and at what cost;
- :func:`mix_vs_rate`: a change in conversion between two periods (by period of reaching the phase
  or by creation cohort) split into a rate effect and a mix effect, with Simpson's paradox flagged;
- :func:`leak_detail`: where lost records were lost and which open records have stalled;
- :func:`low_hanging_fruit`: all of the above as the ranked list a consultant presents.

Shared vocabulary of the docstrings
-----------------------------------
engagement
    A loaded :class:`~toolkit.io.engagement.Engagement`. Every rate here is the cohort conversion of
    :func:`toolkit.measure.funnel.cohort_conversion` (skip = passed, a window of ``window_days``, immature
    records left out), pooled over all mature cohorts unless a period is named.
window_days
    The cohort window; default the engagement's ``cohort_window_days``.
seed, draws
    Randomness only through ``seed``, a whole number >= 0, a ``SeedSequence`` or a ``Generator``
    (``toolkit.base.vocabulary.seed_sequence``; None is refused, as everywhere in the toolkit);
    ``draws`` Monte Carlo draws.

Targets naming convention
-------------------------
``engagement.config.targets`` is a dict of name -> number. This module reads:

- ``conversion_<from>_<to>``: the target rate (0-1) of one consecutive transition, e.g.
  ``conversion_lead_opportunity`` or ``conversion_opportunity_proposal``;
- ``orders_per_month``: the order target, used by :func:`shortage_or_leak` to work out how many
  qualified leads are needed;
- ``revenue_per_year``: the revenue target, set against today's revenue in the headline of
  :func:`low_hanging_fruit`.

Other names are left alone (other modules may use them).

Benchmarks
----------
A benchmark table is a DataFrame with columns ``from_phase, to_phase, low, typical, high, source``
(rates 0-1; ``low``, ``high`` and ``source`` may be missing). ``typical`` is the reference rate.
Rows whose phases are not a consecutive transition of the engagement are ignored with a warning.

One module a job: ``common`` (checks, the funnel arrays, targets, benchmarks and references),
``sizing`` (bottleneck sizing), ``verdict`` (shortage or leak), ``segments`` (the segment scan),
``mix`` (mix against rate), ``leaks`` (where records are lost or stall), ``fruit`` (the ranked
low-hanging fruit). Import the names from the package.
"""

from __future__ import annotations

from toolkit.analysis.diagnosis.common import CASES, REFERENCE_KINDS
from toolkit.analysis.diagnosis.fruit import LowHangingFruit, low_hanging_fruit
from toolkit.analysis.diagnosis.leaks import LeakDetail, leak_detail
from toolkit.analysis.diagnosis.mix import MixRateResult, mix_vs_rate
from toolkit.analysis.diagnosis.segments import segment_scan
from toolkit.analysis.diagnosis.sizing import bottleneck_sizing
from toolkit.analysis.diagnosis.verdict import Verdict, shortage_or_leak

__all__ = [
    "bottleneck_sizing",
    "shortage_or_leak",
    "segment_scan",
    "mix_vs_rate",
    "leak_detail",
    "low_hanging_fruit",
    "Verdict",
    "MixRateResult",
    "LeakDetail",
    "LowHangingFruit",
    "REFERENCE_KINDS",
    "CASES",
]
