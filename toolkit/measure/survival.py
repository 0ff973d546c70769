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

Shared vocabulary of the docstrings
-----------------------------------
durations : 1-D array of non-negative floats, the time from the start of the spell to its end
    (the event or, for a censored record, the as-of date), usually in days.
observed : 1-D array of bools, same length: True where the spell ended in the event of interest,
    False where it is censored at that time.
event : 1-D array of labels, same length: which outcome ended the spell, or the censoring label.
confidence : the two-sided confidence level of every interval, 0 < confidence < 1 (0.95 default).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import is_datetime64_any_dtype
from scipy.stats import chi2, norm
from statsmodels.duration.survfunc import SurvfuncRight, survdiff

from toolkit.base.drawing import draw
from toolkit.base.exceptions import DataError, OptionError
from toolkit.base.findings import Finding
from toolkit.base.vocabulary import check_option

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

EVENTS: tuple[str, str, str] = ("converted", "lost", "censored")
"""How a spell between two phases ends, the categories of the `event` column."""

_OUTCOMES = ("won", "lost", "open")
# Record columns consumed by `transition_durations`; every other column is carried along.
_BOOKKEEPING = ("record_id", "created_at", "outcome", "closed_at", "lost_at_phase")
_DATA_ISSUES = ("to_phase_before_start", "closed_before_start", "won_without_to_phase")
# Float step levels such as 0.5 come out of products like (1 - 1/2) as 0.5000000000000001;
# a quantile must still find the step that lands exactly on its level.
_LEVEL_TOL = 1e-10


# --- argument checks -----------------------------------------------------------------------------

def _z_value(confidence: float) -> float:
    if not isinstance(confidence, int | float) or not 0 < confidence < 1:
        raise OptionError(
            f"The value for `confidence` must be a number strictly between 0 and 1 (e.g. 0.95), "
            f"but {confidence!r} was passed."
        )
    return float(norm.ppf(0.5 + confidence / 2))


def _as_durations(durations: Any) -> np.ndarray:
    try:
        time = np.asarray(durations, dtype=np.float64)
    except (TypeError, ValueError):
        raise OptionError(
            "The value for `durations` must be numbers (e.g. the `duration_days` column of "
            "`transition_durations`), but values that are not numbers were passed."
        ) from None
    if time.ndim != 1:
        raise OptionError(
            f"The value for `durations` must be one-dimensional, but an array of shape "
            f"{time.shape} was passed."
        )
    if time.size == 0:
        raise DataError(
            "`durations` is empty: there is nothing to estimate",
            fix="check the filter that selected the records (did any reach the start phase?)",
        )
    bad = ~np.isfinite(time) | (time < 0)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{int(bad.sum())} duration(s) are missing, infinite or negative; the first is at "
            f"position {first}",
            column="durations", value=float(time[first]),
            fix="compute durations with `transition_durations`, which clips bad orderings to 0 "
                "and flags them in `data_issue`",
        )
    return time


def _as_observed(observed: Any, n: int) -> np.ndarray:
    raw = np.asarray(observed)
    if raw.shape != (n,):
        raise OptionError(
            f"The value for `observed` must have one entry per duration ({n}), but an array of "
            f"shape {raw.shape} was passed."
        )
    if raw.dtype == bool:
        return raw
    if raw.dtype.kind in "iuf" and np.isin(raw, (0, 1)).all():
        return raw.astype(bool)
    raise OptionError(
        "The value for `observed` must be booleans (or 0/1): True where the event happened, "
        "False where the record is censored, e.g. `durations.event == 'converted'`, but other "
        "values were passed."
    )


def _as_labels(event: Any, n: int, outcomes: Sequence[str], censored: str) -> np.ndarray:
    """Integer codes 0..k-1 for the outcomes, -1 for censored; rejects any other label."""
    labels = [*outcomes, censored]
    # factorize first: a million labels have only a handful of distinct values (and a
    # categorical `event` column factorizes without touching the strings).
    inverse, uniques = pd.factorize(pd.Series(event) if not isinstance(event, pd.Series)
                                    else event)
    if inverse.size != n:
        raise OptionError(
            f"The value for `event` must have one entry per duration ({n}), but {inverse.size} "
            f"entries were passed."
        )
    lookup = pd.Index(labels).get_indexer(pd.Index(uniques))
    unknown_values = [u for u, code in zip(uniques, lookup, strict=True) if code < 0]
    n_missing = int((inverse < 0).sum())
    if unknown_values or n_missing:
        listing = ", ".join(repr(v) for v in unknown_values[:10])
        if n_missing:
            listing += f"{', ' if listing else ''}{n_missing} missing"
        raise DataError(
            f"`event` holds labels that are neither an outcome nor the censoring label: {listing}",
            column="event",
            fix=f"pass `outcomes=` and `censored=` that cover every label; now {labels}",
        )
    codes = lookup[inverse].astype(np.int64)
    codes[codes == len(outcomes)] = -1
    return codes


# --- durations from the funnel -------------------------------------------------------------------


def _datetimes(values: pd.Series, where: str) -> np.ndarray:
    if not is_datetime64_any_dtype(values.dtype):
        raise DataError(
            f"{where} must hold datetimes, but its dtype is {values.dtype}",
            fix="convert it with pd.to_datetime before computing durations",
        )
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        raise DataError(
            f"{where} is time-zone aware ({values.dtype}); the toolkit works in tz-naive "
            "local time",
            fix="use .dt.tz_convert(<engagement time zone>).dt.tz_localize(None)",
        )
    return values.to_numpy(dtype="datetime64[ns]")


def _some(ids: Sequence[object], k: int = 5) -> str:
    shown = ", ".join(repr(i) for i in list(ids)[:k])
    return shown + (", ..." if len(ids) > k else "")


def transition_durations(
    reached_at: pd.DataFrame,
    records: pd.DataFrame,
    *,
    from_phase: str,
    to_phase: str,
    as_of: pd.Timestamp | str,
) -> pd.DataFrame:
    """How long each record took from reaching `from_phase` to reaching `to_phase`, or how long it
    has been waiting.

    Parameters
    ----------
    reached_at : DataFrame indexed by `record_id`, one datetime column per phase key in phase
        order, NaT where the record never reached that phase. The caller has already applied the
        funnel's "a skipped phase counts as passed" rule; this function only reads the columns.
    records : DataFrame with `record_id, outcome ('won'|'lost'|'open'), closed_at` (NaT while
        open) and any segment columns (`created_at` and `lost_at_phase` are accepted and not used).
    from_phase, to_phase : phase keys, `from_phase` earlier in the phase order than `to_phase`.
    as_of : the as-of date of the analysis. Anything dated after it is treated as not yet known.

    Returns
    -------
    DataFrame, one row per record that reached `from_phase` on or before `as_of`:
    `record_id, start, duration_days, event, data_issue` followed by every other column of
    `records` except `created_at, outcome, closed_at, lost_at_phase` (the segment attributes and
    `value`), so callers can group by segment.

    - `event` is categorical with categories `EVENTS = ('converted', 'lost', 'censored')`:
      `converted` when `reached_at[to_phase] <= as_of` (duration up to it); `lost` when the record
      was closed as lost on or before `as_of` without reaching `to_phase` (duration up to
      `closed_at`); otherwise `censored` at `as_of` (the record is open, or closed after `as_of`).
    - `data_issue` (categorical, NA when clean) flags records whose dates contradict each other:
      `to_phase_before_start` / `closed_before_start` (end earlier than start: the duration is
      set to 0), `won_without_to_phase` (won but `reached_at[to_phase]` is NaT, which the skip rule
      forbids: counted as converted at `closed_at`).

    Notes
    -----
    duration_days = (end - reached_at[from_phase]) / 1 day, as a float. Censoring at `as_of` is
    what makes the later estimators honest: an open record tells us "not converted in the first
    d days", which is information, not a missing value. Records that reached `from_phase` after
    `as_of` are left out, which makes `as_of` usable for back-testing on an older snapshot.

    Raises
    ------
    DataError when a selected record has no row in `records`, when `record_id` repeats, when an
    outcome is not one of won/lost/open, or when a won/lost record needed for the spell has no
    `closed_at`.
    """
    phases = list(reached_at.columns)
    check_option("from_phase", from_phase, phases)
    check_option("to_phase", to_phase, phases)
    if phases.index(to_phase) <= phases.index(from_phase):
        raise OptionError(
            f"The value for `to_phase` must come after `from_phase` ({from_phase!r}) in the phase "
            f"order {phases}, but {to_phase!r} was passed."
        )
    missing_cols = [c for c in ("record_id", "outcome", "closed_at") if c not in records.columns]
    if missing_cols:
        raise DataError(
            f"`records` lacks the column(s) {missing_cols}",
            fix="pass the `records` table of the loaded engagement",
        )
    as_of_ts = pd.Timestamp(as_of)
    if as_of_ts is pd.NaT or as_of_ts.tzinfo is not None:
        raise OptionError(
            f"The value for `as_of` must be a tz-naive date such as '2024-06-30', but {as_of!r} "
            f"was passed."
        )
    as_of64 = np.datetime64(as_of_ts.as_unit("ns").to_datetime64(), "ns")
    if reached_at.index.has_duplicates:
        dup = reached_at.index[reached_at.index.duplicated()].unique()
        raise DataError(
            f"`reached_at` has {len(dup)} repeated record_id(s): {_some(dup)}",
            fix="compute reached_at with one row per record",
        )

    start_all = _datetimes(reached_at[from_phase], f"reached_at[{from_phase!r}]")
    keep = ~np.isnat(start_all) & (start_all <= as_of64)
    start = start_all[keep]
    to_at = _datetimes(reached_at[to_phase], f"reached_at[{to_phase!r}]")[keep]
    ids = reached_at.index[keep]

    record_ids = pd.Index(records["record_id"])
    # Same order as `records` (as `toolkit.measure.funnel.reached_at` gives it): positions without a
    # million string lookups, and `reached_at` was already checked for repeats above.
    aligned = len(reached_at) == len(record_ids) and reached_at.index.equals(record_ids)
    if not aligned and record_ids.has_duplicates:
        dup = record_ids[record_ids.duplicated()].unique()
        raise DataError(
            f"`records` has {len(dup)} repeated record_id(s): {_some(dup)}",
            column="record_id", fix="keep one row per record in `records`",
        )
    if aligned:
        pos = np.flatnonzero(keep)
    else:
        pos = record_ids.get_indexer(ids)
    if (pos < 0).any():
        absent = ids[pos < 0]
        raise DataError(
            f"{len(absent)} record(s) in `reached_at` have no row in `records`: {_some(absent)}",
            column="record_id",
            fix="pass `records` from the same engagement; record_id must be str in both tables",
        )
    # Comparisons stay in the column's own (often Arrow string) dtype: converting a million
    # strings to Python objects costs more than the whole computation.
    outcome = records["outcome"].take(pos)
    bad_outcome = ~outcome.isin(_OUTCOMES).to_numpy(dtype=bool)
    if bad_outcome.any():
        raise DataError(
            f"`outcome` must be one of {list(_OUTCOMES)}, but {int(bad_outcome.sum())} record(s) "
            f"have other values, e.g. {_some(outcome[bad_outcome].unique())}",
            column="outcome", fix="map CRM close reasons to won/lost/open when loading",
        )
    closed = _datetimes(records["closed_at"], "records['closed_at']")[pos]

    converted = ~np.isnat(to_at) & (to_at <= as_of64)
    closed_known = ~np.isnat(closed) & (closed <= as_of64)
    is_lost = outcome.eq("lost").to_numpy(dtype=bool)
    is_won = outcome.eq("won").to_numpy(dtype=bool)
    undated = ~converted & (is_lost | (is_won & np.isnat(to_at))) & np.isnat(closed)
    if undated.any():
        raise DataError(
            f"{int(undated.sum())} won/lost record(s) have no `closed_at`, so the end of their "
            f"spell is unknown: {_some(ids[undated])}",
            column="closed_at",
            fix="give closed records a close date (or quarantine them when loading)",
        )
    lost = ~converted & is_lost & closed_known
    won_fallback = ~converted & is_won & np.isnat(to_at) & closed_known

    end = np.where(converted, to_at, np.where(lost | won_fallback, closed, as_of64))
    duration = (end - start) / np.timedelta64(1, "D")
    negative = duration < 0
    duration[negative] = 0.0

    event_codes = np.select([converted | won_fallback, lost], [0, 1], 2)
    issue_codes = np.select(
        [converted & negative, (lost | won_fallback) & negative, won_fallback],
        [0, 1, 2], -1,
    )
    out = pd.DataFrame({
        "record_id": ids.array,
        "start": start,
        "duration_days": duration,
        "event": pd.Categorical.from_codes(event_codes, categories=list(EVENTS)),
        "data_issue": pd.Categorical.from_codes(issue_codes, categories=list(_DATA_ISSUES)),
    })
    carry = [c for c in records.columns if c not in _BOOKKEEPING]
    clash = [c for c in carry if c in out.columns]
    if clash:
        raise DataError(
            f"`records` has column(s) {clash} whose names the output already uses",
            fix="rename those segment columns before calling transition_durations",
        )
    if carry:
        carried = records[carry].iloc[pos].reset_index(drop=True)
        out = pd.concat([out, carried], axis=1)
    return out


# --- Kaplan-Meier --------------------------------------------------------------------------------


def _first_at_or_below(times: np.ndarray, curve: np.ndarray, level: float) -> float:
    hit = np.flatnonzero(curve <= level + _LEVEL_TOL)
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


def kaplan_meier(durations: Any, observed: Any, *, confidence: float = 0.95) -> KaplanMeierResult:
    """Kaplan-Meier estimate of the share still without the event after t, with its median.

    Built on `statsmodels.duration.survfunc.SurvfuncRight` (Greenwood standard errors).

    Parameters
    ----------
    durations : time from start to event or censoring (see the module docstring).
    observed : True where the event happened. For time to convert: `event == 'converted'`; lost
        and open records are then both censored.
    confidence : interval level.

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
    time = _as_durations(durations)
    status = _as_observed(observed, time.size)
    z = _z_value(confidence)
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


# --- competing outcomes: Aalen-Johansen ----------------------------------------------------------


class _Incidence:
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


def _loglog_interval(cif: np.ndarray, var: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
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
    durations : time from start to outcome or censoring.
    event : per record one of `outcomes`, or `censored`.
    outcomes : the competing outcome labels, in the order the output lists them.
    censored : the label of records still open at the as-of date.
    times : where to evaluate the curves; default every distinct outcome time.
    confidence : interval level.

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
    time = _as_durations(durations)
    codes = _as_labels(event, time.size, outs, censored)
    z = _z_value(confidence)
    inc = _Incidence(time, codes, len(outs))
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
    low, high = _loglog_interval(cif, var, z)
    k, m = cif.shape
    return pd.DataFrame({
        "time": np.tile(grid, k),
        "outcome": np.repeat(np.asarray(outs, dtype=object), m),
        "cif": cif.ravel(),
        "ci_low": low.ravel(),
        "ci_high": high.ravel(),
        "at_risk": np.tile(np.asarray(at_risk, dtype=np.int64), k),
    })


# --- the report table ----------------------------------------------------------------------------


def _converter_quantile(inc: _Incidence, q: float, z: float) -> tuple[float, float, float, float]:
    """(days, ci_low, ci_high, plateau) of the q-quantile among records that convert."""
    if inc.times.size == 0 or inc.events[0].sum() == 0:
        return np.nan, np.nan, np.nan, 0.0
    conv = inc.cif[0]
    plateau = float(conv[-1])
    share, se = _normalised_incidence(inc)

    def first(curve: np.ndarray) -> float:
        hit = np.flatnonzero(curve >= q - _LEVEL_TOL)
        return float(inc.times[hit[0]]) if hit.size else np.nan

    # Brookmeyer-Crowley: the days t whose share G(t) the data cannot tell from q,
    # |G(t) - q| <= z se(G(t)); G steps up, so the set runs from the first t with
    # G + z se >= q to the first with G - z se >= q.
    return first(share), first(share + z * se), first(share - z * se), plateau


def _normalised_incidence(inc: _Incidence) -> tuple[np.ndarray, np.ndarray]:
    """G(t) = F(t) / F(tau), the converters' distribution (F the conversion CIF, tau the last
    event time), and its standard error by the delta method with the covariance of F(t) and
    F(tau): the plateau is estimated too, so it is not taken as known."""
    f = inc.cif[0]
    n = inc.at_risk.astype(np.float64)
    d_k = inc.events
    d = d_k.sum(axis=0)
    d1 = d_k[0]
    s_prev = np.concatenate(([1.0], inc.surv[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(n > d, d / (n * (n - d)), 0.0)
    a = s_prev * d1 / n**2
    b = s_prev**2 * d1 * (n - d1) / n**3
    # cov(F(t_i), F(tau)) = sum_{j<=i} (F_i - F_j)(F_m - F_j) r_j + b_j
    #                        - a_j ((F_i - F_j) + (F_m - F_j)), the variance's formula with
    # one of its two F(t) at tau (at t_i = tau it is the variance), as running sums.
    fm = f[-1]
    cum_r, cum_fr, cum_f2r = np.cumsum(r), np.cumsum(f * r), np.cumsum(f**2 * r)
    cum_a, cum_fa, cum_b = np.cumsum(a), np.cumsum(f * a), np.cumsum(b)
    cov = (f * fm * cum_r - (f + fm) * cum_fr + cum_f2r + cum_b
           - (f + fm) * cum_a + 2 * cum_fa)
    var_f, var_m = inc.variance[0], inc.variance[0][-1]
    share = f / fm
    var = (var_f - 2 * share * cov + share**2 * var_m) / fm**2
    return share, np.sqrt(np.clip(var, 0.0, None))


def converter_quantile(durations: Any, event: Any, *, q: float = 0.5,
                       confidence: float = 0.95) -> tuple[float, float, float]:
    """Days by which a share ``q`` of the eventual conversions have happened, with an interval.

    Parameters
    ----------
    durations, event : as in :func:`cumulative_incidence` (``event`` in ``EVENTS``).
    q : the quantile among converters (0.5: the median days to convert).
    confidence : interval level.

    Returns
    -------
    (days, ci_low, ci_high); NaN days when nothing converted (``ci_high`` NaN when the band never
    reaches the level).

    Notes
    -----
    With :math:`F(t)` the Aalen-Johansen cumulative incidence of converting (lost competing, open
    censored) and :math:`F_\\infty` its last value (the plateau: the share that eventually
    converts), the converters' distribution is :math:`F(t)/F_\\infty` and its q-quantile is the
    first t with :math:`F(t) \\ge q F_\\infty`. This is "how long do the records that convert
    take": the Kaplan-Meier median with lost records censored answers "how long if nobody were
    ever lost" and overstates it several-fold when losing is common. The interval is of the
    Brookmeyer-Crowley type: the days t at which the converters' share
    :math:`G(t) = F(t)/F_\\infty` is not distinguishable from q, :math:`|G(t) - q| \\le z\\,
    se(G(t))`, with se by the delta method from the Aalen-Johansen variance of F(t), of the
    plateau and their covariance (the plateau is estimated, not taken as known). Records still
    open at the end of follow-up that will convert later make the plateau and the quantile a
    little low; with a follow-up long beside the durations this is negligible.
    """
    if isinstance(q, bool) or not isinstance(q, int | float) or not 0 < q < 1:
        raise OptionError(f"The value for `q` must be a number strictly between 0 and 1, but "
                           f"{q!r} was passed.")
    if len(np.atleast_1d(np.asarray(durations, dtype=object))) == 0:
        return np.nan, np.nan, np.nan
    time = _as_durations(durations)
    codes = _as_labels(event, time.size, EVENTS[:2], EVENTS[2])
    days, low, high, _ = _converter_quantile(_Incidence(time, codes, 2), float(q),
                                             _z_value(confidence))
    return days, low, high


def _cif_median(inc: _Incidence) -> tuple[float, str | None]:
    """Median time to conversion read off the conversion CIF, or NaN with the reason."""
    if inc.times.size == 0 or inc.events[0].sum() == 0:
        return np.nan, "no conversions observed"
    conv = inc.cif[0]
    hit = np.flatnonzero(conv >= 0.5 - _LEVEL_TOL)
    if hit.size:
        return float(inc.times[hit[0]]), None
    conv_end, lost_end, open_end = conv[-1], inc.cif[1, -1], inc.surv[-1]
    if conv_end + open_end < 0.5:
        return np.nan, Finding("median_unreachable", {
            "lost": float(lost_end), "converted": float(conv_end), "open": float(open_end)})
    return np.nan, Finding("median_not_reached", {
        "converted": float(conv_end), "day": float(inc.times[-1]), "open": float(open_end)})


def time_to_convert_summary(
    data: pd.DataFrame,
    *,
    by: Hashable | Sequence[Hashable] | None = None,
    horizons: Sequence[float] = (30, 60, 90, 180),
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Per segment: how many converted, were lost or are still open, and how fast they convert.

    Parameters
    ----------
    data : the output of `transition_durations` (columns `duration_days`, `event` and the
        segment columns).
    by : segment column(s) to group by; None for one overall row. Missing segment values form
        their own group.
    horizons : days at which to report the cumulative incidence of conversion.
    confidence : interval level.

    Returns
    -------
    DataFrame, one row per group: the `by` columns, `n, converted, lost, censored`,
    `median_days, median_ci_low, median_ci_high` (the headline: median days among records that
    convert, see :func:`converter_quantile`), `converted_share` (the plateau of the conversion
    CIF: the share that converts), `km_median_days, km_median_ci_low, km_median_ci_high` (KM
    with lost and open censored: a hypothetical no-loss speed, never "time to convert"),
    for each horizon h `cif_{h}d, cif_{h}d_ci_low, cif_{h}d_ci_high` (share converted within h
    days, Aalen-Johansen with lost competing), and `cif_median_days` (first time the conversion
    CIF reaches 0.5) with `cif_median_reason` saying why it is NaN (NA when it is not).

    Notes
    -----
    Report `median_days` beside `cif_*` (the share of records that actually converted within h
    days). The KM median answers "how fast do those that convert convert, had nobody been lost"; it is a
    hypothetical quantity, kept because it compares speed between segments regardless of their
    loss rates. The CIF median exists only when at least half of all records convert, which in
    a funnel with many losses it often does not; the reason column says whether losses or too
    short a follow-up are the cause. Never use the mean of the closed records: it leaves out the
    slow ones that are still open. `cif_{h}d` is NaN when h is past the end of follow-up while
    records are still open.
    """
    missing = [c for c in ("duration_days", "event") if c not in data.columns]
    if missing:
        raise DataError(
            f"`data` lacks the column(s) {missing}",
            fix="pass the output of `transition_durations`",
        )
    keys = [] if by is None else ([by] if isinstance(by, str) or not isinstance(by, Sequence)
                                  else list(by))
    for key in keys:
        check_option("by", key, [c for c in data.columns if c not in ("duration_days", "event")])
    grid = np.asarray(horizons, dtype=np.float64)
    if grid.ndim != 1 or grid.size == 0 or not np.isfinite(grid).all() or (grid <= 0).any():
        raise OptionError(
            f"The value for `horizons` must be positive numbers of days, e.g. (30, 60, 90, 180), "
            f"but {horizons!r} was passed."
        )
    z = _z_value(confidence)
    groups = [((), data)] if not keys else data.groupby(keys, dropna=False, observed=True,
                                                         sort=True)
    rows = []
    for key, part in groups:
        time = _as_durations(part["duration_days"])
        codes = _as_labels(part["event"], time.size, EVENTS[:2], EVENTS[2])
        converted = codes == 0
        km = kaplan_meier(time, converted, confidence=confidence)
        inc = _Incidence(time, codes, 2)
        cif, var, _, _ = inc.at(grid)
        low, high = _loglog_interval(cif[:1], var[:1], z)
        median, reason = _cif_median(inc)
        conv_median, conv_low, conv_high, plateau = _converter_quantile(inc, 0.5, z)
        row: dict[str, Any] = dict(zip(keys, key if isinstance(key, tuple) else (key,),
                                       strict=True))
        row.update({
            "n": int(time.size), "converted": int(converted.sum()),
            "lost": int((codes == 1).sum()), "censored": int((codes < 0).sum()),
            "median_days": conv_median, "median_ci_low": conv_low, "median_ci_high": conv_high,
            "converted_share": plateau,
            "km_median_days": km.median_, "km_median_ci_low": km.median_ci_[0],
            "km_median_ci_high": km.median_ci_[1],
        })
        for i, h in enumerate(grid):
            name = f"cif_{h:g}d"
            row[name] = cif[0, i]
            row[f"{name}_ci_low"] = low[0, i]
            row[f"{name}_ci_high"] = high[0, i]
        row["cif_median_days"] = median
        row["cif_median_reason"] = reason
        rows.append(row)
    return pd.DataFrame(rows)


# --- comparing segments --------------------------------------------------------------------------


class LogrankResult:
    """Log-rank test of equal time-to-event curves across groups. Build it with `logrank_test`.

    Attributes: `statistic` (chi-square), `dof`, `p_value`, `groups_` (tidy: segment, n,
    observed, expected events), `summary` (one row).
    """

    def __init__(self, statistic: float, dof: int, p_value: float, groups: pd.DataFrame) -> None:
        self.statistic = statistic
        self.dof = dof
        self.p_value = p_value
        self.groups_ = groups

    @property
    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([{"test": "log-rank", "statistic": self.statistic, "dof": self.dof,
                              "p_value": self.p_value}])

    def __repr__(self) -> str:
        return (f"LogrankResult(statistic={self.statistic:.4f}, dof={self.dof}, "
                f"p_value={self.p_value:.4g})")

    def _repr_html_(self) -> str:
        return ("<p><b>Log-rank test</b></p>" + self.summary.to_html(index=False)
                + self.groups_.to_html(index=False))


def logrank_test(durations: Any, observed: Any, groups: Any) -> LogrankResult:
    """Log-rank (Mantel-Cox) test that the time-to-event curves of all groups are equal.

    Parameters
    ----------
    durations, observed : as for `kaplan_meier`.
    groups : per record its segment label; at least two distinct labels, no missing values.

    Returns
    -------
    LogrankResult with `statistic`, `dof` (= groups - 1), `p_value`, `groups_` and `summary`.

    Notes
    -----
    At each event time t_j, group g expects E_gj = d_j n_gj / n_j of the d_j events;
    U = sum_j (O_gj - E_gj) over groups 2..G, statistic = U' V^-1 U ~ chi2(G - 1), V the
    hypergeometric covariance (statsmodels' `survdiff`, the same test as R's
    `survival::survdiff` with rho = 0). It weighs all times equally and has little power when
    the curves cross (one segment converts faster early, the other catches up); look at the
    curves before reading the p-value. With lost records censored it compares conversion
    hazards, not final conversion rates.
    """
    time = _as_durations(durations)
    status = _as_observed(observed, time.size)
    labels = pd.Series(np.asarray(groups, dtype=object))
    if labels.size != time.size:
        raise OptionError(
            f"The value for `groups` must have one entry per duration ({time.size}), but "
            f"{labels.size} entries were passed."
        )
    if labels.isna().any():
        raise DataError(
            f"`groups` has {int(labels.isna().sum())} missing label(s)",
            fix="fill them (e.g. 'unknown') or drop those records first",
        )
    codes, uniques = pd.factorize(labels, sort=True)
    if uniques.size < 2:
        raise DataError(
            f"the log-rank test needs at least two groups, but only {list(uniques)} is present",
            fix="pass a segment column with two or more values",
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic, _ = survdiff(time, status.astype(np.float64), codes)
    dof = int(uniques.size - 1)
    statistic = float(statistic)

    utime, inverse = np.unique(time, return_inverse=True)
    m = utime.size
    d = np.bincount(inverse, weights=status, minlength=m)
    n_all = np.cumsum(np.bincount(inverse, minlength=m)[::-1])[::-1]
    rows = []
    for g, label in enumerate(uniques):
        mine = codes == g
        n_g = np.cumsum(np.bincount(inverse[mine], minlength=m)[::-1])[::-1]
        rows.append({"segment": label, "n": int(mine.sum()),
                     "observed": int(status[mine].sum()),
                     "expected": float(np.sum(d * n_g / n_all))})
    return LogrankResult(statistic, dof, float(chi2.sf(statistic, dof)), pd.DataFrame(rows))
