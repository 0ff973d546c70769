"""Experiment sizing: how many records and how many weeks to see an improvement, the detectable
effect per sample size, and the entries per week a phase gets."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

# not statsmodels.api, which imports all of statsmodels (about 0.3 s)
from toolkit.analysis.simulation.baseline import DEFAULT_N_VALUES, check_phase, complete_months
from toolkit.analysis.simulation.scenarios import parse_change
from toolkit.base.docstrings import shared_docs
from toolkit.base.exceptions import OptionError
from toolkit.base.findings import Finding
from toolkit.io.engagement import Engagement
from toolkit.measure.funnel import reached_at
from toolkit.stats import minimum_detectable_effect, power_two_rates
from toolkit.stats.checks import check_probability


@dataclass(eq=False, repr=False)
class ExperimentSize:
    """How many records an A/B test needs, and how long until it can be read.

    Attributes
    ----------
    baseline_rate, target_rate, uplift
        Control rate, the rate the change should reach, their difference.
    alpha, power, ratio, alternative
        The test's settings (``ratio`` = treatment / control records).
    n_control, n_treatment
        Exact (fractional) group sizes from the power equation.
    records_control, records_treatment, total_records
        Whole records to enrol.
    entries_per_week
        Entries into the tested phase per week (both arms together), if known.
    weeks_to_enrol
        ``total_records / entries_per_week``.
    window_days, wait_weeks
        The conversion window and the wait it causes (``window_days / 7``).
    weeks_until_readable
        ``weeks_to_enrol + wait_weeks``: the last record needs its full window before the
        cohort conversion can be read.
    """

    baseline_rate: float
    target_rate: float
    uplift: float
    alpha: float
    power: float
    ratio: float
    alternative: str
    n_control: float
    n_treatment: float
    records_control: int
    records_treatment: int
    total_records: int
    entries_per_week: float | None
    weeks_to_enrol: float
    window_days: int | None
    wait_weeks: float
    weeks_until_readable: float
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "notes"}

    @property
    def summary(self) -> pd.DataFrame:
        """One-row frame of the sizing."""
        return pd.DataFrame([self.as_dict()])

    def sentence(self) -> str:
        """The sizing in one sentence (written from its values: ``toolkit.present.findings``)."""
        return Finding("experiment_size", self.as_dict())

    def _repr_html_(self) -> str:
        notes = "".join(f"<p><i>{html.escape(n)}</i></p>" for n in self.notes)
        return (f"<p><b>Experiment size</b>: {html.escape(self.sentence())}</p>"
                + self.summary.to_html(index=False, float_format=lambda v: f"{v:,.4g}",
                                       na_rep="") + notes)

    def __repr__(self) -> str:
        return f"<ExperimentSize {self.sentence()}>"


def uplift_target(baseline_rate: float, uplift: object) -> float:
    """The rate `uplift` moves `baseline_rate` to, not checked to lie between 0 and 1 (a rate of
    the client's data may leave no room for it: the caller says so).

    Parameters
    ----------
    baseline_rate : float
        The current rate of the step.
    uplift : float or str
        As in :func:`experiment_size`.

    Returns
    -------
    float
        The rate the test must be able to show.

    Raises
    ------
    OptionError
        `uplift` is no change (a non-zero float, ``"+2pp"`` or ``"+10%"``): the caller's,
        whatever the data.
    """
    if isinstance(uplift, str) and uplift.strip()[:1] not in "+-":
        uplift = "+" + uplift.strip()  # an uplift is a change: '2pp' means '+2pp'
    change = parse_change("uplift", "uplift", uplift, signed_only=True)
    if change.amount == 0:
        raise OptionError(f"The value for `uplift` must move the baseline to a different rate, but "
                          f"{uplift!r} is no change. Fix: pass e.g. uplift=0.02 (2 points) or "
                          "'+10%'.")
    return baseline_rate + change.amount if change.kind == "points" else \
        baseline_rate * (1.0 + change.amount)


def _uplift(baseline_rate: float, uplift: object) -> tuple[float, float]:
    raw = uplift_target(baseline_rate, uplift)
    if not 0.0 < raw < 1.0 or raw == baseline_rate:
        raise OptionError(f"The value for `uplift` must move the baseline {baseline_rate:g} to a "
                          f"different rate strictly between 0 and 1, but {uplift!r} gives "
                          f"{raw:g}. Fix: pass e.g. uplift=0.02 (2 points) or '+10%'.")
    return raw, raw - baseline_rate


def _check_window(window_days: object) -> None:
    if window_days is not None and (isinstance(window_days, bool) or not isinstance(
            window_days, int | np.integer) or window_days < 0):
        raise OptionError(f"The value for `window_days` must be a whole number of days >= 0 (or "
                          f"None), but {window_days!r} was passed.")


def _weeks(total: float, entries_per_week: float | None, window_days: int | None
           ) -> tuple[float, float, float]:
    wait = window_days / 7.0 if window_days is not None else math.nan
    if entries_per_week is None:
        return math.nan, wait, math.nan
    enrol = total / entries_per_week
    return enrol, wait, enrol + wait if window_days is not None else math.nan


def _check_rate_input(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise OptionError(f"The value for `{name}` must be a rate strictly between 0 and 1, but "
                          f"{value!r} was passed.")
    return float(value)


def _check_positive_or_none(name: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0 \
            or not math.isfinite(value):
        raise OptionError(f"The value for `{name}` must be a positive number (or None), but "
                          f"{value!r} was passed.")
    return float(value)


def experiment_size(baseline_rate: float, *, uplift: float | str, alpha: float = 0.05,
                    power: float = 0.8, ratio: float = 1.0, alternative: str = "two-sided",
                    entries_per_week: float | None = None, window_days: int | None = None
                    ) -> ExperimentSize:
    """Records per arm and weeks needed to detect an improvement of a step conversion.

    Parameters
    ----------
    baseline_rate
        The current rate of the step (e.g. 0.20 from ``cohort_conversion``).
    uplift
        The improvement to detect: a float is an absolute difference (0.02 = 2 points); strings
        ``"+2pp"`` (points) or ``"+10%"`` (relative) as for ``rates``.
    alpha, power, ratio, alternative
        As in :func:`toolkit.stats.power_two_rates` (``ratio`` = treatment / control).
    entries_per_week
        Entries into the tested phase per week, both arms together (see
        :func:`entries_per_week`).
    window_days : int
        The conversion window of the step. A cohort conversion with a W-day window can only be
        read W days after the last record entered; the wait is added to the weeks.

    Returns
    -------
    ExperimentSize

    Notes
    -----
    Group sizes from :func:`toolkit.stats.power_two_rates` (normal approximation, pooled
    variance under H0, as R ``power.prop.test``), rounded up to whole records. Weeks to enrol
    = (control + treatment records) / entries per week; readable after that plus
    ``window_days / 7`` weeks. The common pitfall is to stop when enough records have entered:
    their conversions are not in yet, and reading early counts the slow converters as failures.
    Decide n before the test and do not peek; a change that also shifts *which* records enter
    the phase is not an A/B test of the step alone.
    """
    p0 = _check_rate_input("baseline_rate", baseline_rate)
    target, difference = _uplift(p0, uplift)
    per_week = _check_positive_or_none("entries_per_week", entries_per_week)
    _check_window(window_days)
    n1 = power_two_rates(p0, target, alpha=alpha, power=power, ratio=ratio,
                         alternative=alternative)
    records_control = math.ceil(n1 - 1e-9)
    records_treatment = math.ceil(ratio * records_control - 1e-9)
    total = records_control + records_treatment
    enrol, wait, readable = _weeks(total, per_week, window_days)
    notes = []
    if per_week is not None and window_days is None:
        notes.append("Pass `window_days`: the last cohort can only be read when its conversion "
                     "window has closed, which adds window_days / 7 weeks.")
    return ExperimentSize(
        baseline_rate=p0, target_rate=target, uplift=difference, alpha=float(alpha),
        power=float(power), ratio=float(ratio), alternative=alternative, n_control=n1,
        n_treatment=n1 * ratio, records_control=records_control,
        records_treatment=records_treatment, total_records=total, entries_per_week=per_week,
        weeks_to_enrol=enrol, window_days=None if window_days is None else int(window_days),
        wait_weeks=wait, weeks_until_readable=readable, notes=tuple(notes))


def mde_table(baseline_rate: float, *, n_values: Sequence[float] | None = None,
              alpha: float = 0.05, power: float = 0.8, ratio: float = 1.0,
              alternative: str = "two-sided", entries_per_week: float | None = None,
              window_days: int | None = None) -> pd.DataFrame:
    """The minimum detectable effect for a range of group sizes.

    Parameters
    ----------
    baseline_rate
        The current rate of the step.
    n_values
        Control-group sizes to tabulate (default 100 to 50 000).
    alpha, power, ratio, alternative, entries_per_week, window_days
        As in :func:`experiment_size`.

    Returns
    -------
    DataFrame
        ``n`` (control records), ``total_records``, ``mde`` (absolute, 0.02 = 2 points),
        ``target_rate``, ``relative_mde``, ``weeks_to_enrol``, ``weeks_until_readable``; ``mde``
        is NaN where even a rise to 100% would not be detected.

    Notes
    -----
    ``mde`` from :func:`toolkit.stats.minimum_detectable_effect`: the increase d with
    ``power_two_rates(p, p + d, n=n) == power``. Read it as "with n leads per arm we can see an
    improvement of at least this size"; smaller real effects will usually be missed.
    """
    p0 = _check_rate_input("baseline_rate", baseline_rate)
    per_week = _check_positive_or_none("entries_per_week", entries_per_week)
    _check_window(window_days)
    check_probability("alpha", alpha)
    check_probability("power", power)  # a wrong power is the caller's, not "not detected"
    values = list(DEFAULT_N_VALUES if n_values is None else n_values)
    rows = []
    for n in values:
        _check_positive_or_none("n_values", n)
        # the power of a rise to (almost) 100%, checking `ratio` and `alternative` as it goes: below
        # `power`, no rise is detected with this n (minimum_detectable_effect would refuse it)
        if power_two_rates(p0, 1.0 - 1e-12, n=n, alpha=alpha, ratio=ratio,
                           alternative=alternative) < power:
            mde = math.nan
        else:
            mde = minimum_detectable_effect(p0, n, alpha=alpha, power=power, ratio=ratio,
                                            alternative=alternative)
        total = math.ceil(n - 1e-9) + math.ceil(ratio * math.ceil(n - 1e-9) - 1e-9)
        enrol, _, readable = _weeks(total, per_week, window_days)
        rows.append({"n": n, "total_records": total, "mde": mde, "target_rate": p0 + mde,
                     "relative_mde": mde / p0, "weeks_to_enrol": enrol,
                     "weeks_until_readable": readable})
    return pd.DataFrame(rows)


@shared_docs
def entries_per_week(engagement: Engagement, phase: str, *, last_months: int | None = None) -> float:
    """Average entries into ``phase`` per week over the baseline's complete months.

    Parameters
    ----------
    {shared.engagement}
    phase : str
        The phase whose records would enter an experiment (the ``from_phase`` of the step).
    last_months : int, optional
        Use only the latest complete months (e.g. 12); default all complete months.

    Returns
    -------
    float
        Entries per week.

    Notes
    -----
    Entries in the complete months / (days in those months / 7). Volume is seasonal: an
    experiment run in a quiet season enrols more slowly than this average.
    """
    engagement.require_dates("Entries per week")
    check_phase(engagement, "phase", phase)
    reached = reached_at(engagement)
    months = complete_months(reached[engagement.phase_model.first_phase], engagement.as_of)
    if last_months is not None:
        if isinstance(last_months, bool) or not isinstance(last_months, int) or last_months < 1:
            raise OptionError(f"The value for `last_months` must be a whole number >= 1, but "
                              f"{last_months!r} was passed.")
        months = months[-last_months:]
    days = float(sum(p.days_in_month for p in months))
    entered = reached[phase].dropna().dt.to_period("M")
    return float(entered.isin(months).sum()) / (days / 7.0)


