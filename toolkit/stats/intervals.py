"""Intervals for a conversion rate and for the difference of two rates."""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import ArrayLike, NDArray
from statsmodels.stats.proportion import proportion_confint

from toolkit.base.docstrings import shared_docs
from toolkit.base.vocabulary import check_option
from toolkit.stats.checks import CountError, FloatOrArray, check_counts, interval_out, z_value

__all__ = [
    "rate_ci",
    "diff_ci",
    "RATE_CI_METHODS",
    "DIFF_CI_METHODS",
]


RATE_CI_METHODS = ("wilson", "jeffreys", "clopper-pearson", "agresti-coull", "wald")
DIFF_CI_METHODS = ("newcombe", "miettinen-nurminen", "agresti-caffo", "wald")


# A bracket of width <= 2 halved 53 times is narrower than the spacing of doubles near 1.
_BISECTION_STEPS = 53


# ------------------------------------------------------------------------ one rate: intervals
# Our method names -> statsmodels' `proportion_confint` methods. Its intervals are these formulas
# (equal to the hand-written ones this module had to 7e-16 on 100,000 random counts); what we add
# on purpose is the boundary rule below, which statsmodels leaves to the method.
_RATE_CI = {
    "wilson": "wilson",
    "jeffreys": "jeffreys",
    "clopper-pearson": "beta",
    "agresti-coull": "agresti_coull",
    "wald": "normal",
}


def _rate_ci_arrays(x: NDArray[np.float64], n: NDArray[np.float64], method: str,
                    confidence: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        # n = 0 divides by zero inside statsmodels; those rows are set to NaN below
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = proportion_confint(x, n, alpha=1.0 - confidence, method=_RATE_CI[method])
    low, high = np.clip(low, 0.0, 1.0), np.clip(high, 0.0, 1.0)
    observed = n > 0
    # Exact boundaries: 0 successes leave no evidence against p = 0, all successes none against
    # p = 1 (the convention of R's binom.test and Brown, Cai & DasGupta 2001 for Jeffreys).
    low = np.where(observed & (x == 0), 0.0, low)
    high = np.where(observed & (x == n), 1.0, high)
    low = np.where(observed, low, np.nan)
    high = np.where(observed, high, np.nan)
    return low, high


@shared_docs
def rate_ci(successes: ArrayLike, trials: ArrayLike, *, method: str = "wilson",
            confidence: float = 0.95) -> tuple[FloatOrArray, FloatOrArray]:
    """Confidence interval for a rate ``successes / trials``.

    Parameters
    ----------
    successes, trials
        Counts; scalars or arrays of the same shape (one of them may be a scalar).
    method
        ``"wilson"`` (default), ``"jeffreys"``, ``"clopper-pearson"``, ``"agresti-coull"`` or
        ``"wald"``.
    {shared.confidence}

    Returns
    -------
    (low, high)
        Two floats for scalar input, two numpy arrays for array input. ``trials == 0`` gives
        ``(nan, nan)``; NaN counts give NaN limits.

    Raises
    ------
    DataError
        Negative counts, infinite counts or ``successes > trials``.
    OptionError
        Unknown ``method`` or ``confidence`` outside (0, 1).

    Notes
    -----
    With :math:`\\hat p = x/n` and :math:`z = \\Phi^{-1}(1 - \\alpha/2)`:

    - **wilson** (score interval, Wilson 1927):
      :math:`\\frac{\\hat p + z^2/2n \\pm z\\sqrt{\\hat p(1-\\hat p)/n + z^2/4n^2}}{1 + z^2/n}`.
      The default: coverage close to nominal for every n and p (Brown, Cai & DasGupta 2001;
      Agresti & Coull 1998) and equal to R's ``prop.test(x, n, correct = FALSE)$conf.int``.
    - **jeffreys**: equal-tailed quantiles of Beta(x + 1/2, n - x + 1/2); lower limit 0 when
      x = 0 and upper limit 1 when x = n (Brown, Cai & DasGupta 2001).
    - **clopper-pearson** ("exact"): Beta(x, n - x + 1) and Beta(x + 1, n - x) quantiles, as R's
      ``binom.test``. Guarantees at least nominal coverage and is therefore wider than needed;
      use it when a guarantee is demanded, not as a default.
    - **agresti-coull**: the Wald interval around :math:`\\tilde p = (x + z^2/2)/(n + z^2)` with
      :math:`\\tilde n = n + z^2`; clipped to [0, 1].
    - **wald**: :math:`\\hat p \\pm z\\sqrt{\\hat p(1-\\hat p)/n}`, clipped to [0, 1]. Do not use
      it for reporting: it collapses to zero width at 0 or n successes and under-covers badly
      for small n or rates near 0 or 1. It is offered to reproduce legacy reports.

    The intervals are statsmodels' ``proportion_confint`` (methods ``wilson``, ``jeffreys``,
    ``beta``, ``agresti_coull``, ``normal``); this function adds the boundary rule (0 successes:
    lower limit 0; all successes: upper limit 1) and the clipping to [0, 1]. All methods are
    vectorised (no Python loop), so a 100 000-row frame takes milliseconds.
    No interval rescues a rate from a handful of trials: report n beside every rate.
    """
    check_option("method", method, RATE_CI_METHODS)
    z_value(confidence)  # refuses a confidence outside (0, 1)
    x, n, scalar = check_counts(successes, trials, ("successes", "trials"))
    low, high = _rate_ci_arrays(x, n, method, float(confidence))
    return interval_out(low, high, scalar)


# ----------------------------------------------------------------- two rates: the difference
_Floats = NDArray[np.float64]  # one value per row of the vectorised interval


def _mn_restricted_mle(p1: _Floats, p2: _Floats, n1: _Floats, n2: _Floats, delta: _Floats | float
                       ) -> tuple[_Floats, _Floats]:
    """Maximum likelihood (p1, p2) under p1 - p2 = delta: the closed-form root of the cubic
    (Miettinen & Nurminen 1985, Appendix; Farrington & Manning 1990, eq. 15)."""
    theta = n2 / n1
    a = 1.0 + theta
    b = -(1.0 + theta + p1 + theta * p2 + delta * (theta + 2.0))
    c = delta * delta + delta * (2.0 * p1 + theta + 1.0) + p1 + theta * p2
    d = -p1 * delta * (1.0 + delta)
    v = b ** 3 / (27.0 * a ** 3) - b * c / (6.0 * a * a) + d / (2.0 * a)
    u = np.sign(v) * np.sqrt(np.maximum(b * b / (9.0 * a * a) - c / (3.0 * a), 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(u == 0.0, 0.0, v / u ** 3)
    w = (np.pi + np.arccos(np.clip(ratio, -1.0, 1.0))) / 3.0
    q1 = np.clip(2.0 * u * np.cos(w) - b / (3.0 * a), 0.0, 1.0)
    q2 = np.clip(q1 - delta, 0.0, 1.0)
    return q1, q2


def _mn_score(p1: _Floats, p2: _Floats, n1: _Floats, n2: _Floats, delta: _Floats | float
              ) -> _Floats:
    q1, q2 = _mn_restricted_mle(p1, p2, n1, n2, delta)
    total = n1 + n2
    variance = (q1 * (1.0 - q1) / n1 + q2 * (1.0 - q2) / n2) * total / (total - 1.0)
    numerator = p1 - p2 - delta
    with np.errstate(divide="ignore", invalid="ignore"):
        score = numerator / np.sqrt(variance)
    degenerate = ~(variance > 0.0)
    infinite = np.where(numerator > 0.0, np.inf, np.where(numerator < 0.0, -np.inf, 0.0))
    return np.where(degenerate, infinite, score)


def _mn_interval(x1: _Floats, n1: _Floats, x2: _Floats, n2: _Floats, z: float
                 ) -> tuple[_Floats, _Floats]:
    p1, p2 = x1 / n1, x2 / n2
    estimate = p1 - p2
    # The score statistic falls as delta rises, so each limit is found by bisection, all rows
    # at once (vectorised) instead of one root-finder call per row.
    lo, hi = np.full_like(estimate, -1.0), estimate.copy()
    for _ in range(_BISECTION_STEPS):
        mid = (lo + hi) / 2.0
        above = _mn_score(p1, p2, n1, n2, mid) > z
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    lower = (lo + hi) / 2.0
    lo, hi = estimate.copy(), np.full_like(estimate, 1.0)
    for _ in range(_BISECTION_STEPS):
        mid = (lo + hi) / 2.0
        below = _mn_score(p1, p2, n1, n2, mid) < -z
        lo, hi = np.where(below, lo, mid), np.where(below, mid, hi)
    upper = (lo + hi) / 2.0
    return lower, upper


@shared_docs
def diff_ci(x1: ArrayLike, n1: ArrayLike, x2: ArrayLike, n2: ArrayLike, *,
            method: str = "newcombe", confidence: float = 0.95
            ) -> tuple[FloatOrArray, FloatOrArray]:
    """Confidence interval for the difference of two independent rates, ``x1/n1 - x2/n2``.

    Parameters
    ----------
    x1, n1, x2, n2
        Successes and trials of group 1 and group 2; scalars or arrays (broadcast together).
    method
        ``"newcombe"`` (default), ``"miettinen-nurminen"``, ``"agresti-caffo"`` or ``"wald"``.
    {shared.confidence}

    Returns
    -------
    (low, high)
        Floats for scalar input, numpy arrays otherwise; within [-1, 1]. A group with zero
        trials gives ``(nan, nan)``.

    Notes
    -----
    With :math:`\\hat p_i = x_i/n_i`, :math:`\\hat d = \\hat p_1 - \\hat p_2` and
    :math:`(l_i, u_i)` the Wilson interval of group i:

    - **newcombe** (hybrid score, Newcombe 1998 method 10):
      :math:`\\hat d - \\sqrt{(\\hat p_1 - l_1)^2 + (u_2 - \\hat p_2)^2}` to
      :math:`\\hat d + \\sqrt{(u_1 - \\hat p_1)^2 + (\\hat p_2 - l_2)^2}`. Closed form, good
      coverage, never overshoots [-1, 1]: the default.
    - **miettinen-nurminen** (Newcombe 1998 method 6): the set of :math:`\\delta` with
      :math:`|\\hat d - \\delta| / \\sqrt{V(\\delta)} \\le z`, where
      :math:`V(\\delta) = [\\tilde p_1(1-\\tilde p_1)/n_1 + \\tilde p_2(1-\\tilde p_2)/n_2]
      \\cdot N/(N-1)`, :math:`\\tilde p_i` the maximum likelihood rates under
      :math:`p_1 - p_2 = \\delta` and :math:`N = n_1 + n_2`. The limits are found by vectorised
      bisection. The interval that matches the score test; slightly wider than Newcombe's.
      (statsmodels' ``confint_proportions_2indep(method="score")`` does not reproduce the
      published values, e.g. upper limit 0.3440 instead of 0.3382 for 56/70 - 48/80, so it is
      implemented here.)
    - **agresti-caffo**: add one success and one failure to each group, then Wald:
      :math:`\\tilde d \\pm z\\sqrt{\\sum \\tilde p_i(1-\\tilde p_i)/(n_i+2)}` with
      :math:`\\tilde p_i = (x_i+1)/(n_i+2)`. Simple and decent; clipped to [-1, 1].
    - **wald**: :math:`\\hat d \\pm z\\sqrt{\\sum \\hat p_i(1-\\hat p_i)/n_i}`. Not for
      reporting: zero width when both rates are 0 or 1 (10/10 vs 0/20 gives [1, 1]) and poor
      coverage for small groups.

    Do not use any of these for paired data (the same records measured twice) or for groups
    that share records; they assume two independent binomial samples.
    """
    check_option("method", method, DIFF_CI_METHODS)
    z = z_value(confidence)
    a1, m1, scalar1 = check_counts(x1, n1, ("x1", "n1"))
    a2, m2, scalar2 = check_counts(x2, n2, ("x2", "n2"))
    try:
        a1, m1, a2, m2 = np.broadcast_arrays(a1, m1, a2, m2)
    except ValueError as error:
        raise CountError(
            f"Group 1 and group 2 counts must have the same length (or be single numbers), but "
            f"their shapes are {np.shape(a1)} and {np.shape(a2)}."
        ) from error
    observed = (m1 > 0) & (m2 > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p2 = a1 / m1, a2 / m2
        estimate = p1 - p2
        if method == "newcombe":
            l1, u1 = _rate_ci_arrays(a1, m1, "wilson", float(confidence))
            l2, u2 = _rate_ci_arrays(a2, m2, "wilson", float(confidence))
            low = estimate - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
            high = estimate + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
        elif method == "miettinen-nurminen":
            low, high = _mn_interval(a1, m1, a2, m2, z)
        elif method == "agresti-caffo":
            t1, t2 = (a1 + 1.0) / (m1 + 2.0), (a2 + 1.0) / (m2 + 2.0)
            half = z * np.sqrt(t1 * (1 - t1) / (m1 + 2.0) + t2 * (1 - t2) / (m2 + 2.0))
            low, high = t1 - t2 - half, t1 - t2 + half
        else:
            half = z * np.sqrt(p1 * (1 - p1) / m1 + p2 * (1 - p2) / m2)
            low, high = estimate - half, estimate + half
    low = np.where(observed, np.clip(low, -1.0, 1.0), np.nan)
    high = np.where(observed, np.clip(high, -1.0, 1.0), np.nan)
    return interval_out(low, high, scalar1 and scalar2)
