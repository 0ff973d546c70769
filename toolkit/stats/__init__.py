"""Statistics for conversion rates: intervals, tests, power and a Bayesian comparison.

Every KPI of the commercial process that is a share (conversion from one phase to the next, win
rate, the share of leads that qualifies) is a binomial rate: ``successes`` out of ``n`` trials.
This package holds the pure functions the rest of the toolkit uses to put a number of that kind in
context:

- :func:`rate_ci`: the interval for one rate (Wilson by default), vectorised over arrays;
- :func:`diff_ci`: the interval for the difference of two rates (Newcombe by default);
- :func:`two_rate_test`, :func:`k_rate_test`, :func:`pairwise_rate_tests`, :func:`adjust_p`:
  are rates different between two or more segments, with multiple-testing control;
- :func:`cmh_test`: is there a difference between two groups within strata (e.g. per region)?
- :func:`trend_test`: does a rate drift over ordered periods?
- :func:`power_two_rates`, :func:`minimum_detectable_effect`: how many leads an experiment needs;
- :func:`prob_b_beats_a`: the Bayesian probability that variant B converts better than A.

Parameters used throughout
--------------------------
successes, x1, x2, x_a, x_b
    Number of records that made the step (converted, were won, ...). Non-negative, at most the
    matching number of trials.
trials, n, n1, n2, n_a, n_b
    Number of records that could make the step (the denominator of the rate). The intervals
    accept non-whole counts (e.g. weighted); the exact tests require whole numbers.
confidence
    Two-sided confidence level of an interval, strictly between 0 and 1 (default 0.95).
method
    Always passed explicitly in the toolkit's own calls, so a reader sees which method is used.

Errors
------
Impossible counts (negative, more successes than trials, not finite) raise a
:class:`~toolkit.base.exceptions.DataError`; an unknown option raises an
:class:`~toolkit.base.exceptions.OptionError` (a ConfigError). Both are also ``ValueError`` so
generic code can catch them the usual way. Counts too small for an asymptotic test give a
:class:`~toolkit.base.exceptions.SmallSampleWarning`.

Modules
-------
``intervals`` (one rate, a difference), ``rate_tests`` (two, k and pairwise tests, adjustment),
``stratified`` (Cochran-Mantel-Haenszel, trend), ``power``, ``bayes``, all on ``checks`` (the
checks of counts and options). Import the names from this package.
"""

from __future__ import annotations

from toolkit.stats.bayes import (
    BayesComparison,
    prob_b_beats_a,
)
from toolkit.stats.checks import (
    FloatOrArray,
)
from toolkit.stats.intervals import (
    DIFF_CI_METHODS,
    RATE_CI_METHODS,
    diff_ci,
    rate_ci,
)
from toolkit.stats.power import (
    minimum_detectable_effect,
    power_two_rates,
)
from toolkit.stats.rate_tests import (
    ADJUST_METHODS,
    MIN_EXPECTED,
    TWO_RATE_TEST_METHODS,
    RateTestResult,
    adjust_p,
    k_rate_test,
    pairwise_rate_tests,
    two_rate_test,
)
from toolkit.stats.stratified import (
    cmh_test,
    trend_test,
)

__all__ = [
    "rate_ci",
    "diff_ci",
    "two_rate_test",
    "k_rate_test",
    "pairwise_rate_tests",
    "adjust_p",
    "cmh_test",
    "trend_test",
    "power_two_rates",
    "minimum_detectable_effect",
    "prob_b_beats_a",
    "RateTestResult",
    "BayesComparison",
    "RATE_CI_METHODS",
    "DIFF_CI_METHODS",
    "TWO_RATE_TEST_METHODS",
    "ADJUST_METHODS",
    "MIN_EXPECTED",
]

# Also importable from here, as they were before the module became a package:
__all__ += [
    "FloatOrArray",
]
