"""Seasonality: why the method steers on percentages, not absolute numbers.

Volumes move with the seasons (summer holidays, December); conversion rates of the same cohorts
usually do not. This module shows both side by side per cohort month, year over year, with a test
for each: is volume seasonal, and does the rate differ between calendar months?
"""

from __future__ import annotations

import html
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from toolkit.base.docstrings import shared_docs
from toolkit.base.drawing import draw
from toolkit.base.exceptions import SmallSampleWarning
from toolkit.base.findings import Finding
from toolkit.io.engagement import Engagement
from toolkit.measure.funnel import cohort_conversion, reached_at
from toolkit.stats import MIN_EXPECTED, k_rate_test
from toolkit.stats.checks import check_probability

__all__ = ["seasonality", "SeasonalityResult"]


@dataclass
class SeasonalityResult:
    """`monthly`: one row per cohort month; `year_over_year`: calendar month x year rates;
    `tests`: volume seasonality vs rate seasonality; `headline`: the plain conclusion; `case`:
    which conclusion it is (`volume_only`, `rate`, `none`, `short_history` ...), and `facts` the
    numbers it names, so that the report can write the same conclusion in another language."""

    monthly: pd.DataFrame
    year_over_year: pd.DataFrame
    tests: pd.DataFrame
    headline: str
    case: str = ""
    facts: dict = field(default_factory=dict)

    @property
    def summary(self) -> pd.DataFrame:
        return self.tests

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self.headline)}</p>" + self.tests.to_html(index=False)

    def plot(self, ax: Any = None, **options: Any) -> Any:
        """Volume and conversion per month: ``toolkit.present.plotting.plot_seasonality``."""
        return draw("plot_seasonality", self.monthly, ax=ax, **options)


@shared_docs
def seasonality(engagement: Engagement, *, from_phase: str | None = None, to_phase: str | None = None,
                window_days: int | None = None, alpha: float = 0.05) -> SeasonalityResult:
    """Volume and cohort conversion per cohort month, year over year.

    Parameters
    ----------
    {shared.engagement}
    from_phase, to_phase : str, optional
        The transition; default the first one of the phase model (where the method's "too few
        leads" question lives).
    {shared.window_days}
    {shared.alpha}
        Of the volume and rate tests.

    Returns
    -------
    SeasonalityResult with `monthly` columns `period, year, month, volume, n, successes, rate,
    ci_low, ci_high, immature_n` (volume = entries into `from_phase`; n = its mature records).

    Notes
    -----
    Volume test: chi-square goodness of fit of the monthly entry counts against an even spread over
    the observed complete months, after scaling by working days is *not* done — a holiday month
    having fewer working days is part of the seasonality a manager sees. Rate test: Pearson
    chi-square across calendar months on mature cohorts (`toolkit.stats.k_rate_test`). A seasonal
    volume with a non-significant rate test is the textbook reason to steer on percentages.
    """
    engagement.require_dates("Seasonality (figures by month of the year)")
    alpha = check_probability("alpha", alpha)
    model = engagement.phase_model
    a = from_phase or model.keys[0]
    b = to_phase or model.keys[model.index(a) + 1]
    reached = reached_at(engagement)
    conv = cohort_conversion(engagement, from_phase=a, to_phase=b, window_days=window_days,
                             period="month", reached=reached)
    stamps = reached[a].dropna()
    volume = stamps.dt.to_period("M").astype(str).value_counts().rename("volume")
    monthly = conv.drop(columns=["from_phase", "to_phase", "method"]).merge(
        volume, left_on="period", right_index=True, how="left")
    if len(monthly):
        # A month nobody entered is a month with volume 0, not a missing month: leaving it out
        # would hide exactly the dip a seasonality view is for.
        months = pd.period_range(min(monthly["period"]), max(monthly["period"]), freq="M")
        monthly = monthly.set_index("period").reindex(months.astype(str))
        monthly[["volume", "n", "successes", "immature_n"]] = (
            monthly[["volume", "n", "successes", "immature_n"]].fillna(0).astype("int64"))
        monthly = monthly.rename_axis("period").reset_index()
    per = pd.PeriodIndex(monthly["period"], freq="M")
    monthly.insert(1, "year", per.year)
    monthly.insert(2, "month", per.month)
    # the as-of month is incomplete: it would show as a false dip
    complete = per < pd.Period(engagement.as_of, freq="M")
    monthly = monthly[complete].reset_index(drop=True)
    monthly = monthly[["period", "year", "month", "volume", "n", "successes", "rate", "ci_low",
                       "ci_high", "immature_n"]]

    yoy = monthly.pivot_table(index="month", columns="year", values="rate")
    yoy.columns = [f"rate_{c}" for c in yoy.columns]
    vol = monthly.pivot_table(index="month", columns="year", values="volume")
    vol.columns = [f"volume_{c}" for c in vol.columns]
    year_over_year = pd.concat([vol, yoy], axis=1).reset_index()

    counts = monthly["volume"].to_numpy(float)
    chi_v = sps.chisquare(counts) if len(counts) > 1 else None
    mature = monthly[monthly["n"] > 0]
    by_month = mature.groupby("month")[["successes", "n"]].sum()
    rate_test, caught = None, []
    if len(by_month) > 1:
        # Small expected counts make the chi-square unreliable: the headline then says the rate
        # cannot be judged, so the warning is recorded here rather than shown as noise.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SmallSampleWarning)
            rate_test = k_rate_test(by_month["successes"].to_numpy(), by_month["n"].to_numpy())
    rate_unreliable = rate_test is None or any(issubclass(w.category, SmallSampleWarning)
                                               for w in caught)
    # Goodness of fit needs an expected count of at least 5 per month (Cochran's rule).
    volume_unreliable = len(counts) < 2 or counts.mean() < MIN_EXPECTED
    cv_volume = float(np.std(counts) / np.mean(counts)) if len(counts) else np.nan
    rates = mature["rate"].to_numpy()
    cv_rate = float(np.std(rates) / np.mean(rates)) if len(rates) and np.mean(rates) else np.nan
    tests = pd.DataFrame([
        {"measure": f"volume: entries into {a}", "test": "chi-square, even spread over months",
         "statistic": getattr(chi_v, "statistic", np.nan),
         "p_value": getattr(chi_v, "pvalue", np.nan), "coefficient_of_variation": cv_volume,
         "months": len(counts)},
        {"measure": f"rate: {a} -> {b} (cohort)", "test": "chi-square across calendar months",
         "statistic": getattr(rate_test, "statistic", np.nan),
         "p_value": getattr(rate_test, "p_value", np.nan), "coefficient_of_variation": cv_rate,
         "months": len(mature)},
    ])
    seasonal_volume = bool(tests.loc[0, "p_value"] < alpha)
    seasonal_rate = bool(tests.loc[1, "p_value"] < alpha)
    facts = {"mature_months": len(mature), "months": len(monthly), "cv_volume": cv_volume,
             "cv_rate": cv_rate, "p_volume": tests.loc[0, "p_value"],
             "p_rate": tests.loc[1, "p_value"], "seasonal_volume": seasonal_volume}
    if len(mature) < 6:
        case = "few_mature_months"
    elif len(monthly) < 12:
        case = "short_history"
    elif volume_unreliable:
        case, facts["mean_entries"] = "few_per_month", float(counts.mean())
    elif rate_unreliable:
        case = "rate_unjudged"
    elif seasonal_volume and not seasonal_rate:
        case = "volume_only"
    elif seasonal_rate:
        case = "rate"
    else:
        case = "none"
    # the sentence is written from the case and the facts (toolkit.present.findings)
    headline = Finding("seasonality", {"case": case, **facts})
    return SeasonalityResult(monthly=monthly, year_over_year=year_over_year, tests=tests,
                             headline=headline, case=case, facts=facts)
