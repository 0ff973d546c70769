"""The Aalen-Johansen cumulative incidence of competing outcomes (converted against lost)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from toolkit.base.docstrings import shared_docs
from toolkit.base.exceptions import OptionError
from toolkit.measure.survival.checks import as_durations, as_labels, z_value


class Incidence:
    """Aalen-Johansen cumulative incidence at the distinct event times, all outcomes at once."""

    def __init__(self, time: np.ndarray, codes: np.ndarray, k: int) -> None:
        utime, inverse = np.unique(time, return_inverse=True)
        m = utime.size
        # Risk set just before each time: every record whose duration is >= that time, so
        # censorings tied with events are still at risk for them (censor after events).
        at_risk = np.cumsum(np.bincount(inverse, minlength=m)[::-1])[::-1]
        is_event = codes >= 0
        d_k = np.zeros((k, m))
        if is_event.any():
            np.add.at(d_k, (codes[is_event], inverse[is_event]), 1.0)
        d = d_k.sum(axis=0)
        keep = d > 0
        self.times = utime[keep]
        n = at_risk[keep].astype(np.float64)
        d = d[keep]
        d_k = d_k[:, keep]
        self.at_risk = at_risk[keep]
        self.events = d_k
        # All events at a tied time are processed together: S steps once by d/n.
        self.surv = np.cumprod(1.0 - d / n)
        s_prev = np.concatenate(([1.0], self.surv[:-1]))
        hazard_k = d_k / n
        self.cif = np.cumsum(s_prev * hazard_k, axis=1)
        self.variance = self._delta_method_variance(n, d, d_k, s_prev)
        self.sorted_time = np.sort(time)
        self.max_time = float(time.max())

    def _delta_method_variance(self, n: np.ndarray, d: np.ndarray, d_k: np.ndarray,
                               s_prev: np.ndarray) -> np.ndarray:
        # The (F(t) - F(t_j)) factors are expanded into running sums so that the whole curve
        # costs O(m): sum (F - F_j)^2 r_j = F^2 sum r_j - 2 F sum F_j r_j + sum F_j^2 r_j.
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(n > d, d / (n * (n - d)), 0.0)  # n == d only at the last time: no later F
        var = np.empty_like(self.cif)
        for j, (f, dj) in enumerate(zip(self.cif, d_k, strict=True)):
            term1 = f**2 * np.cumsum(r) - 2 * f * np.cumsum(f * r) + np.cumsum(f**2 * r)
            term2 = np.cumsum(s_prev**2 * dj * (n - dj) / n**3)
            a = s_prev * dj / n**2
            term3 = -2 * (f * np.cumsum(a) - np.cumsum(f * a))
            var[j] = np.clip(term1 + term2 + term3, 0.0, None)
        return var

    def at(self, times: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(cif, variance, surv, at_risk) at arbitrary times; NaN beyond follow-up while S > 0."""
        idx = np.searchsorted(self.times, times, side="right") - 1
        inside = idx >= 0
        safe = np.clip(idx, 0, None)
        k = self.cif.shape[0]
        if self.times.size:
            cif = np.where(inside, self.cif[:, safe], 0.0)
            var = np.where(inside, self.variance[:, safe], 0.0)
            surv = np.where(inside, self.surv[safe], 1.0)
        else:
            cif = np.zeros((k, times.size))
            var = np.zeros((k, times.size))
            surv = np.ones(times.size)
        unknown = (times > self.max_time) & (surv > 0)
        cif = np.where(unknown, np.nan, cif)
        var = np.where(unknown, np.nan, var)
        surv = np.where(unknown, np.nan, surv)
        at_risk = self.sorted_time.size - np.searchsorted(self.sorted_time, times, side="left")
        return cif, var, surv, at_risk


def loglog_interval(cif: np.ndarray, var: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(divide="ignore", invalid="ignore"):
        inner = (cif > 0) & (cif < 1)
        log_f = np.log(np.where(inner, cif, 0.5))
        # Delta method on log(-log F): se = se(F) / |F log F|.
        half = z * np.sqrt(var) / np.abs(np.where(inner, cif, 0.5) * log_f)
        low = np.where(inner, cif ** np.exp(half), np.nan)
        high = np.where(inner, cif ** np.exp(-half), np.nan)
    return low, high


def _check_outcomes(outcomes: Sequence[str], censored: str) -> tuple[str, ...]:
    outs = tuple(outcomes) if not isinstance(outcomes, str) else (outcomes,)
    if not outs or len(set(outs)) != len(outs) or censored in outs:
        raise OptionError(
            f"The value for `outcomes` must be distinct labels other than the censoring label "
            f"{censored!r}, e.g. ('converted', 'lost'), but {outcomes!r} was passed."
        )
    return outs


@shared_docs
def cumulative_incidence(
    durations: Any,
    event: Any,
    *,
    outcomes: Sequence[str] = ("converted", "lost"),
    censored: str = "censored",
    times: Any = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Cumulative incidence of competing outcomes (converted vs lost, or won vs lost).

    Parameters
    ----------
    {shared.durations}
    {shared.event}
        Each label one of `outcomes`, or `censored`.
    outcomes : the competing outcome labels, in the order the output lists them.
    censored : the label of records still open at the as-of date.
    times : where to evaluate the curves; default every distinct outcome time.
    {shared.confidence}

    Returns
    -------
    Tidy DataFrame `time, outcome, cif, ci_low, ci_high, at_risk`, sorted by outcome (in the order
    of `outcomes`) then time. `at_risk` = records with duration >= time. `cif` is NaN at times
    beyond the end of follow-up while records are still unresolved (nothing is known there).

    Notes
    -----
    Aalen-Johansen: with S(t) the Kaplan-Meier curve of "any outcome",
    F_k(t) = sum_{t_j <= t} S(t_{j-1}) d_kj / n_j. At a tied time all outcomes are processed
    together (one step of S by d_j / n_j, each F_k by its own d_kj), and records censored at t_j
    count as at risk for the events at t_j (censor after events), as in R's
    `cmprsk::cuminc` and `survival::survfit` with a multi-state status. Hence
    sum_k F_k(t) + S(t) = 1 at every t, and with a single outcome F = 1 - KM.

    Why not statsmodels' `CumIncidenceRight` itself: it gives the same curve and variance (tests
    pin the equality) except once every record still at risk has an outcome (n_j = d_j, the last
    time of a cohort that fully resolved, common in a closed funnel): it divides by n_j - d_j = 0
    and its variance is NaN from then on, so the interval would vanish; here that term, which
    multiplies F_k(t) - F_k(t_j) = 0, is left out. It also counts only as many outcomes as the
    highest code present, so an outcome nobody reached would go missing instead of reading 0.

    Variance: the delta-method (Greenwood-type) estimator of Marubini & Valsecchi (1995),
    the one Stata's `stcompet` and statsmodels' `CumIncidenceRight` use, not Aalen's (1978)
    estimator of R's `cmprsk`:
    Var F_k(t) = sum [F_k(t) - F_k(t_j)]^2 d_j / (n_j (n_j - d_j))
               + sum S(t_{j-1})^2 d_kj (n_j - d_kj) / n_j^3
               - 2 sum [F_k(t) - F_k(t_j)] S(t_{j-1}) d_kj / n_j^2   (sums over t_j <= t).
    The interval uses the log(-log) transform, F^exp(+-z se / (F log F)), which stays inside
    (0, 1); it is NaN where F is 0 or 1.

    Why this and not 1 - KM for time to convert: 1 - KM of conversion (lost censored) answers
    "what share would have converted if nobody could be lost", which overstates conversion
    whenever losing is common. F_converted(t) is the share of records that actually converted
    within t; F_converted(inf) is the ultimate conversion rate. Both assume censoring (still open)
    is unrelated to the outcome.
    """
    outs = _check_outcomes(outcomes, censored)
    time = as_durations(durations)
    codes = as_labels(event, time.size, outs, censored)
    z = z_value(confidence)
    inc = Incidence(time, codes, len(outs))
    if times is None:
        grid = inc.times
        cif, var, at_risk = inc.cif, inc.variance, inc.at_risk
    else:
        grid = np.atleast_1d(np.asarray(times, dtype=np.float64))
        if grid.ndim != 1 or not np.isfinite(grid).all() or (grid < 0).any():
            raise OptionError(
                f"The value for `times` must be non-negative finite numbers (e.g. [30, 60, 90]), "
                f"but {times!r} was passed."
            )
        cif, var, _, at_risk = inc.at(grid)
    low, high = loglog_interval(cif, var, z)
    k, m = cif.shape
    return pd.DataFrame({
        "time": np.tile(grid, k),
        "outcome": np.repeat(np.asarray(outs, dtype=object), m),
        "cif": cif.ravel(),
        "ci_low": low.ravel(),
        "ci_high": high.ravel(),
        "at_risk": np.tile(np.asarray(at_risk, dtype=np.int64), k),
    })


