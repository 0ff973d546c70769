"""The Kaplan-Meier curve of one outcome, its median and percentiles with intervals."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from statsmodels.duration.survfunc import SurvfuncRight

from toolkit.base.docstrings import shared_docs
from toolkit.base.drawing import draw
from toolkit.base.exceptions import OptionError
from toolkit.measure.survival.checks import LEVEL_TOL, as_durations, as_observed, z_value


def _first_at_or_below(times: np.ndarray, curve: np.ndarray, level: float) -> float:
    hit = np.flatnonzero(curve <= level + LEVEL_TOL)
    return float(times[hit[0]]) if hit.size else np.nan


class KaplanMeierResult:
    """A fitted Kaplan-Meier curve. Build it with `kaplan_meier`.

    Attributes
    ----------
    survival_ : DataFrame `time, at_risk, events, survival, ci_low, ci_high`, one row per distinct
        event time (as R's `summary(survfit(...))`); `at_risk` counts records with duration >= time.
    median_ : float, the time by which half have had the event; NaN if not reached.
    median_ci_ : (low, high); NaN where the interval's limit is not reached (R prints NA).
    n_, events_, censored_ : counts. max_time_ : the largest duration (end of follow-up).
    confidence : the interval level.
    """

    def __init__(self, survival: pd.DataFrame, *, n: int, events: int, max_time: float,
                 confidence: float) -> None:
        self.survival_ = survival
        self.n_ = n
        self.events_ = events
        self.censored_ = n - events
        self.max_time_ = max_time
        self.confidence = confidence
        time, low, high = self.percentile(0.5)
        self.median_ = time
        self.median_ci_ = (low, high)

    def percentile(self, q: float) -> tuple[float, float, float]:
        """The time by which a share `q` has had the event, with its interval.

        Returns (time, ci_low, ci_high) where time is the smallest event time t with
        1 - S(t) >= q, i.e. S(t) <= 1 - q (q = 0.5 is the median, q = 0.9 the time by which 90%
        have converted). NaN where not reached within follow-up.

        Notes
        -----
        The interval inverts the pointwise log-transformed interval of S (Brookmeyer-Crowley, as
        R's `quantile.survfit`): ci_low is the first time the lower band reaches 1 - q, ci_high
        the first time the upper band does. Where S(t) equals 1 - q exactly on a flat stretch, R
        reports the midpoint of the stretch and SAS/statsmodels the next event time; this function
        reports the start of the stretch, the definition 1 - S(t) >= q read literally.
        """
        if not isinstance(q, int | float) or not 0 < q < 1:
            raise OptionError(
                f"The value for `q` must be a share strictly between 0 and 1 (0.5 = median), but "
                f"{q!r} was passed."
            )
        s = self.survival_
        times = s["time"].to_numpy()
        level = 1.0 - q
        return (
            _first_at_or_below(times, s["survival"].to_numpy(), level),
            _first_at_or_below(times, s["ci_low"].to_numpy(), level),
            _first_at_or_below(times, s["ci_high"].to_numpy(), level),
        )

    def survival_at(self, times: Any) -> np.ndarray:
        """S(t) at the given times (a right-continuous step function).

        NaN beyond the end of follow-up while S > 0: nothing is known there.
        """
        t = np.atleast_1d(np.asarray(times, dtype=np.float64))
        event_times = self.survival_["time"].to_numpy()
        surv = self.survival_["survival"].to_numpy()
        idx = np.searchsorted(event_times, t, side="right") - 1
        out = np.where(idx >= 0, surv[np.clip(idx, 0, None)] if surv.size else 1.0, 1.0)
        return np.where((t > self.max_time_) & (out > 0), np.nan, out)

    @property
    def summary(self) -> pd.DataFrame:
        """One row: n, events, censored, median, ci_low, ci_high, confidence."""
        return pd.DataFrame([{
            "n": self.n_, "events": self.events_, "censored": self.censored_,
            "median": self.median_, "ci_low": self.median_ci_[0], "ci_high": self.median_ci_[1],
            "confidence": self.confidence,
        }])

    def __repr__(self) -> str:
        low, high = self.median_ci_
        return (f"KaplanMeierResult(n={self.n_}, events={self.events_}, median={self.median_:g}, "
                f"confidence={self.confidence:g}, CI=({low:g}, {high:g}))")

    def _repr_html_(self) -> str:
        return ("<p><b>Kaplan-Meier estimate</b> (NaN = not reached within follow-up)</p>"
                + self.summary.to_html(index=False)
                + self.survival_.head(20).to_html(index=False, float_format="{:.4f}".format))

    def plot(self, ax: Any = None, **options: Any) -> Any:
        """The share converted over time: ``toolkit.present.plotting.plot_time_to_convert``."""
        return draw("plot_time_to_convert", self, ax=ax, **options)


@shared_docs
def kaplan_meier(durations: Any, observed: Any, *, confidence: float = 0.95) -> KaplanMeierResult:
    """Kaplan-Meier estimate of the share still without the event after t, with its median.

    Built on `statsmodels.duration.survfunc.SurvfuncRight` (Greenwood standard errors).

    Parameters
    ----------
    {shared.durations}
    {shared.observed}
        Lost and open records are then both censored.
    {shared.confidence}

    Returns
    -------
    KaplanMeierResult with `survival_`, `median_`, `median_ci_`, `percentile(q)`, `summary`.

    Notes
    -----
    S(t) = prod_{t_j <= t} (1 - d_j / n_j), n_j = records with duration >= t_j (a record censored
    at t_j still counts as at risk for the events at t_j), d_j = events at t_j.
    Greenwood: Var S(t) = S(t)^2 sum_{t_j <= t} d_j / (n_j (n_j - d_j)). The interval is
    log-transformed, R's default `conf.type = "log"`: S exp(+-z se(S)/S), the upper limit capped
    at 1; undefined where S = 0.

    When not to use it for time to convert: KM treats lost records as censored, i.e. as if they
    could still convert later. Its "median time to convert" is then the median in a hypothetical
    world where nobody is lost. When losing is common, that number is far more optimistic than
    anything the client will see; report the cumulative incidence of conversion
    (`cumulative_incidence`) instead and keep KM for comparing speed between segments.
    KM also assumes censoring is unrelated to the outcome (an open deal is as likely to convert as
    a closed one of the same age), which CRM hygiene (stale deals never closed) can violate.
    """
    time = as_durations(durations)
    status = as_observed(observed, time.size)
    z = z_value(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        fit = SurvfuncRight(time, status.astype(np.float64))
        surv = np.asarray(fit.surv_prob, dtype=np.float64)
        se = np.asarray(fit.surv_prob_se, dtype=np.float64)
        half = z * se / surv
        positive = surv > 0
        ci_low = np.where(positive, surv * np.exp(-half), np.nan)
        ci_high = np.where(positive, np.minimum(1.0, surv * np.exp(half)), np.nan)
    table = pd.DataFrame({
        "time": np.asarray(fit.surv_times, dtype=np.float64),
        "at_risk": np.asarray(fit.n_risk, dtype=np.int64),
        "events": np.asarray(fit.n_events, dtype=np.int64),
        "survival": surv,
        "ci_low": ci_low,
        "ci_high": ci_high,
    })
    return KaplanMeierResult(table, n=int(time.size), events=int(status.sum()),
                             max_time=float(time.max()), confidence=confidence)


