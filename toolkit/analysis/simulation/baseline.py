"""The baseline a scenario starts from: argument checks, and the measured conversion of every step
and the monthly entries, from complete months."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

# not statsmodels.api, which imports all of statsmodels (about 0.3 s)
from toolkit.base.exceptions import DataError, OptionError
from toolkit.base.vocabulary import check_option
from toolkit.io.engagement import Engagement
from toolkit.measure.funnel import cohort_conversion, reached_at

# A data start in a month's first days (New Year's Day, a weekend before the first record) still
# covers the month: without this grace the first month of almost every export would be dropped.
_START_GRACE_DAYS = 3
MONTHS_PER = {"month": 1, "year": 12}
SEASON_FREQ = {"month": "M", "quarter": "Q", "week": "W"}
DEFAULT_N_VALUES = (100, 250, 500, 1000, 2500, 5000, 10_000, 25_000, 50_000)


def check_draws(draws: object) -> int:
    if isinstance(draws, bool) or not isinstance(draws, int | np.integer) or draws < 100:
        raise OptionError(f"The value for `draws` must be a whole number >= 100, but {draws!r} was "
                          "passed. Fix: use e.g. draws=4000.")
    return int(draws)


def check_level(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise OptionError(f"The value for `{name}` must be a number strictly between 0 and 1, but "
                          f"{value!r} was passed.")
    return float(value)


def check_phase(engagement: Engagement, name: str, phase: object) -> str:
    return check_option(name, phase, engagement.phase_model.keys,
                        fix="use one of the phase keys of the engagement's `phases`")


def window_of(engagement: Engagement, window_days: object) -> int:
    if window_days is None:
        return int(engagement.config.cohort_window_days)
    if isinstance(window_days, bool) or not isinstance(window_days, int | np.integer) \
            or window_days < 0:
        raise OptionError(f"The value for `window_days` must be a whole number of days >= 0, but "
                          f"{window_days!r} was passed.")
    return int(window_days)


@dataclass(frozen=True)
class Baseline:
    phases: list[str]
    labels: list[str]
    months: pd.PeriodIndex
    entries: pd.DataFrame  # complete months x phases: entries counted when the phase was reached
    rates: pd.DataFrame  # one row per consecutive step, cohort conversion pooled over cohorts
    value_mean: float
    value_sd: float
    value_n: int
    window_days: int

    @property
    def steps(self) -> list[tuple[str, str]]:
        return list(zip(self.phases[:-1], self.phases[1:], strict=True))

    @property
    def rate_hat(self) -> np.ndarray:
        return (self.rates["successes"] / self.rates["n"]).to_numpy(float)

    def calendar(self) -> pd.DataFrame:
        """Mean entries per calendar month (rows 1-12) and phase; NaN for a calendar month that
        is never complete in the baseline."""
        by_month = self.entries.groupby(self.entries.index.month).mean()
        by_month.index.name = "month"
        return by_month.reindex(pd.RangeIndex(1, 13, name="month"))

    def shares(self) -> tuple[pd.DataFrame, str | None]:
        """Share of the annual volume per calendar month and phase (columns sum to 1)."""
        cal = self.calendar()
        missing = [int(m) for m in cal.index[cal.isna().any(axis=1)]]
        flat = pd.DataFrame(1.0 / 12, index=cal.index, columns=cal.columns)
        if missing:
            return flat, (f"calendar month(s) {missing} are not complete in the baseline, so the "
                          "seasonal profile is flat (1/12 per month); a year of history fixes this")
        totals = cal.sum()
        shares = cal.div(totals.where(totals > 0), axis=1)
        return shares.fillna(flat), None


def complete_months(first_entries: pd.Series, as_of: pd.Timestamp) -> pd.PeriodIndex:
    stamps = first_entries.dropna()
    if stamps.empty:
        raise DataError("no record reached any phase, so there is no baseline volume",
                        fix="check the events table (and the quarantine) of the engagement")
    start = stamps.min().normalize()
    first = start.to_period("M")
    if start.day > _START_GRACE_DAYS:
        first += 1
    as_of = pd.Timestamp(as_of)
    last = as_of.to_period("M")
    if as_of.normalize() < last.end_time.normalize():
        last -= 1
    if last < first:
        raise DataError(
            f"the data ({start.date()} to {as_of.date()}) do not cover one complete calendar "
            "month, so a monthly baseline cannot be measured",
            fix="load at least one full month of history (ideally two years for seasonality)")
    return pd.period_range(first, last, freq="M")


def baseline_of(engagement: Engagement, *, window_days: int | None) -> Baseline:
    """The measured baseline, computed once per engagement, window and as-of date (step 6 asks
    for it in `what_if` and in `required_volume`); read-only."""
    window = window_of(engagement, window_days)
    derived = getattr(engagement, "derived", {})
    key = f"simulation baseline, {window}-day window, as of {engagement.as_of}"
    if key not in derived:
        derived[key] = _measure_baseline(engagement, window)
    return derived[key]


def _measure_baseline(engagement: Engagement, window: int) -> Baseline:
    model = engagement.phase_model
    keys = model.keys
    reached = reached_at(engagement)
    months = complete_months(reached[keys[0]], engagement.as_of)
    counts = {}
    for phase in keys:
        periods = reached[phase].dropna().dt.to_period("M")
        counts[phase] = periods.value_counts().reindex(months, fill_value=0).to_numpy()
    entries = pd.DataFrame(counts, index=months).astype("int64")
    rates = cohort_conversion(engagement, period="all", window_days=window, reached=reached,
                              method="wilson")
    rates = rates[["from_phase", "to_phase", "n", "successes", "rate", "ci_low", "ci_high",
                   "immature_n"]].reset_index(drop=True)
    empty = rates[rates["n"] == 0]
    if len(empty):
        step = f"{empty['from_phase'].iloc[0]}->{empty['to_phase'].iloc[0]}"
        raise DataError(f"step {step} has no mature cohort with a {window}-day window, so its "
                        "conversion is unknown",
                        fix="use a shorter `window_days` or wait for more history")
    won = reached.index[reached[keys[-1]].notna()]
    values = pd.to_numeric(engagement.records.set_index("record_id")["value"], errors="coerce")
    values = values.reindex(won).dropna()
    value_n = len(values)
    return Baseline(
        phases=keys, labels=[model.label(k) for k in keys], months=months, entries=entries,
        rates=rates,
        value_mean=float(values.mean()) if value_n else math.nan,
        value_sd=float(values.std(ddof=1)) if value_n > 1 else 0.0,
        value_n=value_n, window_days=window)


