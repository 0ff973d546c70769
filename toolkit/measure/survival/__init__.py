"""Time to convert between phases, with open records censored and lost as a competing outcome.

A "time to convert" is only honest when the records still open at the as-of date count as
*censored* (we know they have not converted yet, not that they never will) and lost records count
as a *competing outcome* (they can no longer convert). The mean of closed records only does
neither: it drops the slow records that are still open and so is biased short. This module:

- `transition_durations`: per record, the time from reaching one phase to reaching a later one,
  and how that spell ended (`converted`, `lost` or `censored`);
- `kaplan_meier`: the Kaplan-Meier curve, median and percentiles with intervals;
- `cumulative_incidence`: the Aalen-Johansen cumulative incidence of converted vs lost;
- `time_to_convert_summary`: the per-segment table a consultant reports;
- `logrank_test`: whether time to convert differs between segments.

One module a job: `checks` (argument checks), `durations` (the spells), `kaplan_meier`,
`incidence` (Aalen-Johansen), `summary` (the report table), `logrank`. Import the names from the
package.

The parameters the functions share (``durations``, ``observed``, ``event``, ``confidence``) are
described once, in ``toolkit.base.docstrings``, and read the same in each function's docstring.
"""


from toolkit.measure.survival.checks import EVENTS
from toolkit.measure.survival.durations import transition_durations
from toolkit.measure.survival.incidence import cumulative_incidence
from toolkit.measure.survival.kaplan_meier import KaplanMeierResult, kaplan_meier
from toolkit.measure.survival.logrank import LogrankResult, logrank_test
from toolkit.measure.survival.summary import converter_quantile, time_to_convert_summary

__all__ = [
    "EVENTS",
    "transition_durations",
    "kaplan_meier",
    "KaplanMeierResult",
    "cumulative_incidence",
    "time_to_convert_summary",
    "converter_quantile",
    "logrank_test",
    "LogrankResult",
]
