"""Step 6 of the method, *Verbeteren en herinrichten*: what an improvement is worth and how to test it.

Four questions, one function each:

- :func:`what_if` (forward): "if lead -> opportunity rose to 40% and we had 20% more targets, how
  many orders and how much revenue would that give per month?", with intervals from a seeded
  Monte Carlo over the posteriors of the baseline rates and volume.
- :func:`required_volume` (backward): "we want 30 orders a month; how many entries does each
  phase need, per calendar month?", at current or planned conversion.
- :func:`experiment_size`, :func:`mde_table`, :func:`entries_per_week` (sizing): "how many leads,
  and how many weeks, to see a 2-point improvement?", including the wait for the last cohort's
  conversion window to close.
- :func:`evaluate_change` (evaluation): "did the change we made on 1 March work?", comparing like
  with like: mature cohorts only, cohorts that straddle the change left out, the same calendar
  months, a segmented regression and, with a control group, difference-in-differences.

Parameters used throughout
--------------------------
engagement
    An :class:`~toolkit.io.engagement.Engagement` (or one built with ``Engagement.from_tables``).
window_days
    The cohort conversion window (DESIGN.md, "Funnel semantics"); default the engagement's
    ``cohort_window_days``.
rates
    Planned step conversions, a mapping from a step to a new rate. A step is written
    ``"lead->opportunity"`` or ``("lead", "opportunity")`` and must be two consecutive phases. The
    value is one of

    - a float between 0 and 1: the **absolute** planned rate (``0.40`` = 40%), taken as given;
    - ``"40%"``: the same, written as a percentage;
    - ``"+5pp"`` / ``"-2pp"``: a change in **percentage points** on the baseline rate;
    - ``"+10%"`` / ``"-10%"``: a **relative** change of the baseline rate (0.30 -> 0.33).

    A change relative to the baseline (points or percent) inherits the baseline's uncertainty in
    the Monte Carlo; an absolute planned rate is a target and carries none.
volumes
    Multipliers of the entries into a phase, e.g. ``{"target": 1.2}`` for 20% more targets. A
    multiplier on a later phase means extra (or fewer) entries straight into that phase, e.g.
    more referrals entering at ``lead``; every phase after it scales along.
draws, seed
    Monte Carlo draws and the seed of ``numpy.random.default_rng``, a whole number >= 0 (None
    is refused: the toolkit's one seed rule, ``toolkit.base.vocabulary.check_seed``); the same
    seed gives the same numbers.

The baseline
------------
Volume: entries into each phase per calendar month, over the baseline's **complete** months (a
month counts when the data cover it from its first to its last day; the as-of month counts only
when the as-of date is its last day). Conversion: the step cohort conversions with the window,
pooled over all mature cohorts (``cohort_conversion(period="all")``). Value: the mean ``value`` of
won records. The method's point that *percentages are stable and volume is seasonal* is built in:
rates are one number per step, volume has a profile by calendar month.
"""

from __future__ import annotations

import html
import math
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats

# not statsmodels.api, which imports all of statsmodels (about 0.3 s)
from statsmodels.genmod.families import Binomial
from statsmodels.genmod.generalized_linear_model import GLM

from toolkit.analysis.diagnosis import bottleneck_sizing
from toolkit.base.exceptions import ConfigError, DataError, OptionError, SmallSampleWarning, ToolkitError
from toolkit.base.findings import Finding
from toolkit.base.vocabulary import Reason, check_option, check_seed, reason_of
from toolkit.io.config import change_step
from toolkit.measure.funnel import cohort_conversion, reached_at
from toolkit.stats import minimum_detectable_effect, power_two_rates, rate_ci, two_rate_test

__all__ = [
    "what_if",
    "WhatIfResult",
    "required_volume",
    "experiment_size",
    "ExperimentSize",
    "mde_table",
    "entries_per_week",
    "evaluate_change",
    "evaluate_declared_changes",
    "ChangeEvaluation",
    "plan_improvement",
    "ImprovementPlan",
]

# A data start in a month's first days (New Year's Day, a weekend before the first record) still
# covers the month: without this grace the first month of almost every export would be dropped.
_START_GRACE_DAYS = 3
_MONTHS_PER = {"month": 1, "year": 12}
_SEASON_FREQ = {"month": "M", "quarter": "Q", "week": "W"}
_DEFAULT_N_VALUES = (100, 250, 500, 1000, 2500, 5000, 10_000, 25_000, 50_000)


# ------------------------------------------------------------------------------------ validation
def _check_draws(draws: object) -> int:
    if isinstance(draws, bool) or not isinstance(draws, int | np.integer) or draws < 100:
        raise OptionError(f"The value for `draws` must be a whole number >= 100, but {draws!r} was "
                          "passed. Fix: use e.g. draws=4000.")
    return int(draws)


def _check_level(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise OptionError(f"The value for `{name}` must be a number strictly between 0 and 1, but "
                          f"{value!r} was passed.")
    return float(value)


def _check_phase(engagement, name: str, phase: object) -> str:
    return check_option(name, phase, engagement.phase_model.keys,
                        fix="use one of the phase keys of the engagement's `phases`")


def _window(engagement, window_days: object) -> int:
    if window_days is None:
        return int(engagement.config.cohort_window_days)
    if isinstance(window_days, bool) or not isinstance(window_days, int | np.integer) \
            or window_days < 0:
        raise OptionError(f"The value for `window_days` must be a whole number of days >= 0, but "
                          f"{window_days!r} was passed.")
    return int(window_days)


# -------------------------------------------------------------------------------------- baseline
@dataclass(frozen=True)
class _Baseline:
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


def _complete_months(first_entries: pd.Series, as_of: pd.Timestamp) -> pd.PeriodIndex:
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


def _baseline(engagement, *, window_days: int | None) -> _Baseline:
    """The measured baseline, computed once per engagement, window and as-of date (step 6 asks
    for it in `what_if` and in `required_volume`); read-only."""
    window = _window(engagement, window_days)
    derived = getattr(engagement, "derived", {})
    key = f"simulation baseline, {window}-day window, as of {engagement.as_of}"
    if key not in derived:
        derived[key] = _measure_baseline(engagement, window)
    return derived[key]


def _measure_baseline(engagement, window: int) -> _Baseline:
    model = engagement.phase_model
    keys = model.keys
    reached = reached_at(engagement)
    months = _complete_months(reached[keys[0]], engagement.as_of)
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
    return _Baseline(
        phases=keys, labels=[model.label(k) for k in keys], months=months, entries=entries,
        rates=rates,
        value_mean=float(values.mean()) if value_n else math.nan,
        value_sd=float(values.std(ddof=1)) if value_n > 1 else 0.0,
        value_n=value_n, window_days=window)


# ---------------------------------------------------------------------------------- rate changes
_SIGNED = re.compile(r"^([+-])\s*(\d+(?:[.,]\d+)?)\s*(pp|%)$")
_PERCENT = re.compile(r"^(\d+(?:[.,]\d+)?)\s*%$")
_RATES_HELP = ("a float between 0 and 1 (the new rate), '40%' (the same), '+5pp' (percentage "
               "points) or '+10%' (relative to the baseline)")
_UPLIFT_HELP = ("a float (the absolute difference, 0.02 = 2 points), '+2pp' (percentage points) "
                "or '+10%' (relative to the baseline)")


@dataclass(frozen=True)
class _Change:
    kind: str  # "absolute" | "points" | "relative"
    amount: float
    text: str

    def apply(self, rate: np.ndarray | float) -> np.ndarray:
        rate = np.asarray(rate, dtype=float)
        if self.kind == "absolute":
            return np.full_like(rate, self.amount)
        if self.kind == "points":
            return np.clip(rate + self.amount, 0.0, 1.0)
        return np.clip(rate * (1.0 + self.amount), 0.0, 1.0)


def _parse_change(name: str, key: object, value: object, *, signed_only: bool = False) -> _Change:
    where = name if signed_only else f"{name}[{key!r}]"
    bad = ConfigError(f"The value for `{where}` must be {_UPLIFT_HELP if signed_only else _RATES_HELP}"
                      f", but {value!r} was passed.")
    if isinstance(value, bool):
        raise bad
    if isinstance(value, int | float | np.floating | np.integer):
        number = float(value)
        if signed_only:
            return _Change("points", number, f"{number * 100:+.1f}pp")
        if not 0.0 <= number <= 1.0:
            raise OptionError(f"The value for `{name}[{key!r}]` must be a rate between 0 and 1, but "
                              f"{value!r} was passed. Fix: write 0.40 for 40%, or '+5pp' for a "
                              "change in percentage points.")
        return _Change("absolute", number, Finding("share", {"share": number}))
    if not isinstance(value, str):
        raise bad
    text = value.strip().lower().replace(" ", "")
    signed = _SIGNED.match(text)
    if signed:
        size = float(signed.group(2).replace(",", ".")) / 100.0
        size = -size if signed.group(1) == "-" else size
        kind = "points" if signed.group(3) == "pp" else "relative"
        return _Change(kind, size, value.strip())
    plain = _PERCENT.match(text)
    if plain and not signed_only:
        number = float(plain.group(1).replace(",", ".")) / 100.0
        if number > 1.0:
            raise bad
        return _Change("absolute", number, value.strip())
    raise bad


def _step_key(key: object, steps: list[tuple[str, str]]) -> tuple[str, str]:
    allowed = [f"{a}->{b}" for a, b in steps]
    if isinstance(key, tuple) and len(key) == 2:
        pair = (str(key[0]), str(key[1]))
    elif isinstance(key, str) and "->" in key:
        left, right = key.split("->", 1)
        pair = (left.strip(), right.strip())
    else:
        pair = None
    if pair not in steps:
        raise ConfigError(f"The keys of `rates` must be steps of the phase model {allowed} (or "
                          f"(from, to) tuples), but {key!r} was passed.")
    return pair


def _parse_rates(rates: Mapping | None, base: _Baseline) -> dict[tuple[str, str], _Change]:
    if rates is None:
        return {}
    if not isinstance(rates, Mapping):
        raise OptionError(f"The value for `rates` must be a mapping such as "
                          f"{{'lead->opportunity': 0.40}}, but {rates!r} was passed.")
    return {_step_key(k, base.steps): _parse_change("rates", k, v) for k, v in rates.items()}


def _parse_volumes(volumes: Mapping | None, base: _Baseline) -> np.ndarray:
    multipliers = np.ones(len(base.phases))
    if volumes is None:
        return multipliers
    if not isinstance(volumes, Mapping):
        raise OptionError(f"The value for `volumes` must be a mapping such as {{'target': 1.2}}, "
                          f"but {volumes!r} was passed.")
    for phase, factor in volumes.items():
        if phase not in base.phases:
            raise ConfigError(f"The keys of `volumes` must be phases {base.phases}, but {phase!r} "
                              "was passed.")
        if isinstance(factor, bool) or not isinstance(factor, int | float) or not factor >= 0 \
                or not math.isfinite(factor):
            raise OptionError(f"The value for `volumes[{phase!r}]` must be a multiplier >= 0 (1.2 "
                              f"= 20% more entries), but {factor!r} was passed.")
        multipliers[base.phases.index(phase)] = float(factor)
    return multipliers


def _scenario_rates(base_rates: np.ndarray, changes: dict, base: _Baseline) -> np.ndarray:
    out = np.array(base_rates, dtype=float, copy=True)
    for j, step in enumerate(base.steps):
        if step in changes:
            out[..., j] = changes[step].apply(out[..., j])
    return out


# ------------------------------------------------------------------------------- Monte Carlo core
def _posterior_draws(base: _Baseline, rng: np.random.Generator, draws: int
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Monthly first-phase volume, step rates and mean won value, drawn from their posteriors."""
    total = float(base.entries[base.phases[0]].sum())
    months = len(base.months)
    volume = rng.gamma(total + 0.5, 1.0 / months, size=draws)
    x = base.rates["successes"].to_numpy(float)
    n = base.rates["n"].to_numpy(float)
    rates = rng.beta(x + 0.5, n - x + 0.5, size=(draws, len(x)))
    if base.value_n >= 2 and base.value_sd > 0:
        value = np.maximum(rng.normal(base.value_mean, base.value_sd / math.sqrt(base.value_n),
                                      size=draws), 0.0)
    else:
        value = np.full(draws, base.value_mean)
    return volume, rates, value


def _flows(first: np.ndarray, rates: np.ndarray, multipliers: np.ndarray) -> np.ndarray:
    """Expected entries per phase: first-phase volume times the cumulative product of the steps."""
    steps = np.clip(rates * multipliers[1:], 0.0, None)
    first = np.asarray(first, dtype=float) * multipliers[0]
    cumulative = np.cumprod(steps, axis=-1)
    return np.concatenate([first[..., None], first[..., None] * cumulative], axis=-1)


def _simulate_counts(first: np.ndarray, rates: np.ndarray, multipliers: np.ndarray,
                     rng: np.random.Generator) -> np.ndarray:
    """Realised entries per phase in one period: Poisson arrivals, binomial steps."""
    counts = [rng.poisson(first * multipliers[0])]
    for j in range(rates.shape[1]):
        prev, p, m = counts[-1], rates[:, j], multipliers[j + 1]
        if m <= 1.0:
            counts.append(rng.binomial(prev, np.clip(p * m, 0.0, 1.0)))
        else:  # the extra entries straight into this phase arrive as a Poisson stream
            counts.append(rng.binomial(prev, p) + rng.poisson(prev * p * (m - 1.0)))
    return np.stack(counts, axis=1).astype(float)


def _interval(values: np.ndarray, level: float, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail], axis=axis)
    return low, high


# ----------------------------------------------------------------------------------------- what-if
@dataclass(eq=False, repr=False)
class WhatIfResult:
    """A forward what-if: the baseline and the scenario, per phase and in orders and revenue.

    Attributes
    ----------
    table
        One row per phase: ``phase, label, period, baseline_rate, scenario_rate,
        baseline_entries, baseline_ci_low, baseline_ci_high, scenario_entries, ci_low, ci_high,
        change, change_ci_low, change_ci_high``. Entries are per ``period`` (an average month or a
        year); ``*_rate`` is the step conversion into the phase; ``ci_low``/``ci_high`` bound the
        scenario.
    outcomes
        ``measure`` (orders, revenue), ``period, baseline, baseline_ci_low, baseline_ci_high,
        scenario, ci_low, ci_high, change, change_ci_low, change_ci_high, prob_increase``.
    by_month
        Expected entries into the first phase, orders and revenue per calendar month (1-12),
        baseline and scenario, from the seasonal profile of the first phase; orders are
        attributed to the month their cohort entered.
    inputs
        The baseline inputs and their scenario values: volume, each step rate (with n and
        interval) and the mean won value.
    samples
        The Monte Carlo draws of orders and revenue per period (baseline and scenario).
    notes
        Plain-language remarks (flat season profile, missing values, ...).
    """

    table: pd.DataFrame
    outcomes: pd.DataFrame
    by_month: pd.DataFrame
    inputs: pd.DataFrame
    samples: pd.DataFrame
    period: str
    interval: str
    draws: int
    seed: Any
    confidence: float
    scenario: dict[str, str]
    notes: tuple[str, ...] = ()

    @property
    def summary(self) -> pd.DataFrame:
        """Orders and revenue per period, baseline versus scenario (``outcomes``)."""
        return self.outcomes

    @property
    def headline(self) -> str:
        """The scenario's orders against today's, in one sentence."""
        row = self.outcomes.set_index("measure").loc["orders"]
        what = ", ".join(f"{k} {v}" for k, v in self.scenario.items()) or "no change"
        return Finding("what_if", {
            "scenario": what, "period": self.period, "confidence": self.confidence,
            "orders": float(row["scenario"]),
            **{k: float(row[k]) for k in ("ci_low", "ci_high", "baseline", "change",
                                          "change_ci_low", "change_ci_high")}})

    def _repr_html_(self) -> str:
        fmt = lambda v: f"{v:,.4g}"  # noqa: E731
        parts = [f"<p><b>What-if</b>: {html.escape(self.headline)}</p>",
                 self.outcomes.to_html(index=False, float_format=fmt, na_rep=""),
                 self.table.to_html(index=False, float_format=fmt, na_rep="")]
        parts += [f"<p><i>{html.escape(n)}</i></p>" for n in self.notes]
        return "\n".join(parts)

    def __repr__(self) -> str:
        return f"<WhatIfResult {self.headline}>"


def what_if(engagement, *, rates: Mapping | None = None, volumes: Mapping | None = None,
            window_days: int | None = None, period: str = "month", interval: str = "expected",
            draws: int = 4000, seed: int = 0,
            confidence: float = 0.95) -> WhatIfResult:
    """What a planned improvement is worth: orders and revenue per month or year, with intervals.

    Parameters
    ----------
    engagement, rates, volumes, window_days, draws, seed
        See the module docstring (``rates``: ``0.40``, ``"40%"``, ``"+5pp"`` or ``"+10%"``;
        ``volumes``: multipliers per phase).
    period : {'month', 'year'}
        Report per average month or per year (12 months).
    interval : {'expected', 'predicted'}
        ``'expected'`` (default): uncertainty about the *average* outcome, from the posteriors
        of the rates, the volume and the deal value; baseline and scenario share their draws, so
        the change interval shows what the improvement is worth. ``'predicted'``: the range of
        what a single period will actually show, adding Poisson arrivals and binomial steps
        (wider; for "how many orders will next month bring").
    confidence
        Level of the intervals (equal-tailed Monte Carlo quantiles).

    Returns
    -------
    WhatIfResult

    Notes
    -----
    Point values are analytic: entries into the first phase per month
    :math:`\\hat\\lambda = C/T` (C entries in the T complete baseline months), entries into phase
    k :math:`\\hat\\lambda\\, m_1 \\prod_{j<k} p_j m_{j+1}` with step cohort rates :math:`p_j` and
    volume multipliers :math:`m`; orders are the entries into the last phase, revenue is orders
    times the mean won value. The Monte Carlo draws :math:`\\lambda \\sim
    \\mathrm{Gamma}(C + 1/2,\\ \\mathrm{rate}=T)`, :math:`p_j \\sim \\mathrm{Beta}(x_j + 1/2,
    n_j - x_j + 1/2)` (Jeffreys) and the mean value from a normal with its standard error.

    Orders are those within the cohort windows of each step, so they slightly understate the
    eventual total when conversions take longer than ``window_days``. The volume posterior is
    Poisson: months that vary more than Poisson (beyond the season) make the true interval
    wider. Steps are treated as independent; an improvement that brings in weaker leads lowers
    later steps too, which a what-if cannot know: plan a test (:func:`experiment_size`).
    """
    engagement.require_dates("The what-if (orders per month)")
    base = _baseline(engagement, window_days=window_days)
    changes = _parse_rates(rates, base)
    multipliers = _parse_volumes(volumes, base)
    check_option("period", period, tuple(_MONTHS_PER))
    check_option("interval", interval, ("expected", "predicted"))
    draws = _check_draws(draws)
    seed = check_seed(seed)
    level = _check_level("confidence", confidence)
    factor = _MONTHS_PER[period]
    notes: list[str] = []

    lam_hat = float(base.entries[base.phases[0]].mean())
    rate_hat = base.rate_hat
    scen_rate_hat = _scenario_rates(rate_hat, changes, base)
    ones = np.ones(len(base.phases))
    base_flow = _flows(lam_hat * factor, rate_hat, ones)
    scen_flow = _flows(lam_hat * factor, scen_rate_hat, multipliers)

    rng = np.random.default_rng(seed)
    volume_d, rates_d, value_d = _posterior_draws(base, rng, draws)
    scen_rates_d = _scenario_rates(rates_d, changes, base)
    exp_base = _flows(volume_d * factor, rates_d, ones)
    exp_scen = _flows(volume_d * factor, scen_rates_d, multipliers)
    if interval == "expected":
        sim_base, sim_scen = exp_base, exp_scen
        base_rev = sim_base[:, -1] * value_d
        scen_rev = sim_scen[:, -1] * value_d
    else:
        sim_base = _simulate_counts(volume_d * factor, rates_d, ones, rng)
        sim_scen = _simulate_counts(volume_d * factor, scen_rates_d, multipliers, rng)
        spread = base.value_sd if base.value_n > 1 else 0.0
        base_rev = sim_base[:, -1] * value_d + rng.normal(0, 1, draws) * spread * np.sqrt(
            sim_base[:, -1])
        scen_rev = sim_scen[:, -1] * value_d + rng.normal(0, 1, draws) * spread * np.sqrt(
            sim_scen[:, -1])
    if base.value_n == 0:
        notes.append("No won record has a value, so revenue is unknown (NaN).")
    elif base.value_n == 1:
        notes.append("Only one won record has a value: revenue uses it without uncertainty.")

    b_low, b_high = _interval(sim_base, level)
    s_low, s_high = _interval(sim_scen, level)
    c_low, c_high = _interval(sim_scen - sim_base, level)
    table = pd.DataFrame({
        "phase": base.phases, "label": base.labels, "period": period,
        "baseline_rate": np.concatenate([[np.nan], rate_hat]),
        "scenario_rate": np.concatenate([[np.nan], scen_rate_hat]),
        "baseline_entries": base_flow, "baseline_ci_low": b_low, "baseline_ci_high": b_high,
        "scenario_entries": scen_flow, "ci_low": s_low, "ci_high": s_high,
        "change": scen_flow - base_flow, "change_ci_low": c_low, "change_ci_high": c_high,
    })

    value_hat = base.value_mean
    rows = []
    for measure, b_hat, s_hat, b_d, s_d in (
            ("orders", base_flow[-1], scen_flow[-1], sim_base[:, -1], sim_scen[:, -1]),
            ("revenue", base_flow[-1] * value_hat, scen_flow[-1] * value_hat, base_rev, scen_rev)):
        lo_b, hi_b = _interval(b_d, level)
        lo_s, hi_s = _interval(s_d, level)
        lo_c, hi_c = _interval(s_d - b_d, level)
        rows.append({"measure": measure, "period": period, "baseline": b_hat,
                     "baseline_ci_low": lo_b, "baseline_ci_high": hi_b, "scenario": s_hat,
                     "ci_low": lo_s, "ci_high": hi_s, "change": s_hat - b_hat,
                     "change_ci_low": lo_c, "change_ci_high": hi_c,
                     # no deal value, no revenue: its chance of rising is n/a, not 0%
                     "prob_increase": (float(np.mean(s_d > b_d)) if np.isfinite(b_hat)
                                       else np.nan),
                     "missing_reason": None if np.isfinite(b_hat) else "no_amounts"})
    outcomes = pd.DataFrame(rows)

    shares, note = base.shares()
    if note:
        notes.append(note)
    share = shares[base.phases[0]].to_numpy()
    annual = 12.0 / factor
    q = [(1 - level) / 2, 1 - (1 - level) / 2]
    scen_orders_month = np.outer(exp_scen[:, -1] * annual, share)
    low_m, high_m = np.quantile(scen_orders_month, q, axis=0)
    by_month = pd.DataFrame({
        "month": np.arange(1, 13),
        "share": share,
        "baseline_entries": base_flow[0] * annual * share,
        "scenario_entries": scen_flow[0] * annual * share,
        "baseline_orders": base_flow[-1] * annual * share,
        "scenario_orders": scen_flow[-1] * annual * share,
        "ci_low": low_m, "ci_high": high_m,
        "baseline_revenue": base_flow[-1] * annual * share * value_hat,
        "scenario_revenue": scen_flow[-1] * annual * share * value_hat,
    })

    first_total = int(base.entries[base.phases[0]].sum())
    inputs = [{"quantity": "entries per month", "from_phase": None, "to_phase": base.phases[0],
               "n": np.nan, "successes": np.nan, "baseline": lam_hat,
               "scenario": lam_hat * multipliers[0], "ci_low": np.nan, "ci_high": np.nan,
               "note": f"{first_total} entries in {len(base.months)} complete months "
                       f"({base.months[0]} to {base.months[-1]})"}]
    for j, (a, b) in enumerate(base.steps):
        row = base.rates.iloc[j]
        inputs.append({"quantity": "step rate", "from_phase": a, "to_phase": b,
                       "n": int(row["n"]), "successes": int(row["successes"]),
                       "baseline": rate_hat[j], "scenario": scen_rate_hat[j],
                       "ci_low": row["ci_low"], "ci_high": row["ci_high"],
                       "note": f"cohort conversion, {base.window_days}-day window, "
                               f"{int(row['immature_n'])} immature records not counted"
                               + (f"; volume x{multipliers[j + 1]:g} into {b}"
                                  if multipliers[j + 1] != 1.0 else "")})
    inputs.append({"quantity": "mean won value", "from_phase": None, "to_phase": base.phases[-1],
                   "n": base.value_n, "successes": np.nan, "baseline": value_hat,
                   "scenario": value_hat, "ci_low": np.nan, "ci_high": np.nan,
                   "note": "mean value of won records with a value"})
    scenario = {f"{a}->{b}": c.text for (a, b), c in changes.items()}
    scenario.update({f"volume {p}": f"x{m:g}" for p, m in zip(base.phases, multipliers, strict=True)
                     if m != 1.0})
    samples = pd.DataFrame({"baseline_orders": sim_base[:, -1], "scenario_orders": sim_scen[:, -1],
                            "baseline_revenue": base_rev, "scenario_revenue": scen_rev})
    return WhatIfResult(table=table, outcomes=outcomes, by_month=by_month,
                        inputs=pd.DataFrame(inputs), samples=samples, period=period,
                        interval=interval, draws=draws, seed=seed, confidence=level,
                        scenario=scenario, notes=tuple(notes))


# --------------------------------------------------------------------------------- required volume
def _entries_for_probability(target: np.ndarray, chain: np.ndarray, probability: float) -> float:
    """Smallest whole number of entries E with mean_d P(Binomial(E, chain_d) >= target_d) >= q."""
    need = np.ceil(target - 1e-9)

    def meets(entries: int) -> float:
        return float(np.mean(stats.binom.sf(need - 1, entries, chain)))

    ceiling = 1e10  # beyond this the target is out of reach (e.g. a planned rate of 0)
    guess = float(np.quantile(need / np.maximum(chain, 1e-300), 0.999))
    low, high = 0, int(min(max(2.0 * guess, 1.0), ceiling))
    while meets(high) < probability:
        if high >= ceiling:
            return math.nan
        high = int(min(high * 2, ceiling))
    while high - low > 1:  # meets(low) < q <= meets(high)
        middle = (low + high) // 2
        if meets(middle) >= probability:
            high = middle
        else:
            low = middle
    return float(high)


def required_volume(engagement, *, orders: float | None = None, revenue: float | None = None,
                    period: str = "month", rates: Mapping | None = None, seasonal: bool = True,
                    window_days: int | None = None, probabilities: Sequence[float] = (0.5, 0.8),
                    draws: int = 4000, seed: int = 0,
                    confidence: float = 0.95) -> pd.DataFrame:
    """The entries each phase needs to reach an order or revenue target.

    Parameters
    ----------
    engagement, rates, window_days, draws, seed
        See the module docstring; ``rates`` are planned conversions (default: the current ones).
    orders, revenue
        The target, per ``period``; pass exactly one. A revenue target is turned into orders with
        the mean won value.
    period : {'month', 'year'}
        The target is per (average) month or per year.
    seasonal
        True (default): split the annual requirement over the calendar months with each phase's
        share of annual volume in the baseline. False: one row per phase, per ``period``.
    probabilities
        For each q, a column ``required_p{100q}``: the entries needed so that the target is met
        with probability q (rates, value and the chance of each record converting all uncertain).
    confidence
        Level of ``required_ci_low``/``required_ci_high``.

    Returns
    -------
    DataFrame
        ``month`` (the calendar month 1-12 when seasonal, else ``period``), ``phase, label,
        conversion_to_order, required_entries, required_ci_low, required_ci_high, required_p50,
        required_p80, ...,
        current_entries, gap``. ``gap = required_entries - current_entries``: positive means too
        few entries; ``current_entries`` is the baseline mean for that calendar month (or per
        month / year).

    Notes
    -----
    With target T orders and planned step rates, phase k needs
    :math:`E_k = T / \\prod_{j \\ge k} p_j`, the product running over the steps from k to the
    last phase. The interval is that of :math:`T / \\prod p_j` over the Beta posteriors;
    ``required_p{q}`` is the smallest E with
    :math:`\\mathrm{E}_{p}[P(\\mathrm{Bin}(E, \\prod p_j) \\ge T)] \\ge q`.

    Conversion percentages are stable through the year, volume is seasonal (the method's point):
    the annual requirement is split over the calendar months with the baseline's share of annual
    volume per calendar month, so July asks for fewer leads than October when July always was
    quieter. The probability columns refer to the whole horizon (the year when seasonal) and
    are split like the requirement; they do not promise each month on its own.
    """
    engagement.require_dates("The volume per month an order target needs")
    if (orders is None) == (revenue is None):
        raise ConfigError(f"Pass exactly one of `orders` and `revenue` (the target), but "
                          f"orders={orders!r} and revenue={revenue!r} were passed.")
    name, target = ("orders", orders) if orders is not None else ("revenue", revenue)
    if isinstance(target, bool) or not isinstance(target, int | float) or not target > 0 \
            or not math.isfinite(target):
        raise OptionError(f"The value for `{name}` must be a positive number, but {target!r} was "
                          "passed.")
    check_option("period", period, tuple(_MONTHS_PER))
    probabilities = [_check_level("probabilities", q) for q in probabilities]
    draws = _check_draws(draws)
    seed = check_seed(seed)
    level = _check_level("confidence", confidence)
    base = _baseline(engagement, window_days=window_days)
    changes = _parse_rates(rates, base)
    if name == "revenue" and not base.value_mean > 0:
        raise DataError("no won record has a positive value, so a revenue target cannot be "
                        "turned into orders", column="value",
                        fix="load the deal amounts, or set the target in `orders`")

    rng = np.random.default_rng(seed)
    _, rates_d, value_d = _posterior_draws(base, rng, draws)
    rate_hat = _scenario_rates(base.rate_hat, changes, base)
    rates_d = _scenario_rates(rates_d, changes, base)
    horizon = float(target) * (12.0 if seasonal and period == "month" else 1.0)
    if name == "orders":
        need_hat, need_d = horizon, np.full(draws, horizon)
    else:
        need_hat, need_d = horizon / base.value_mean, horizon / np.maximum(value_d, 1e-12)

    if seasonal:
        shares, note = base.shares()
        if note:
            warnings.warn(note, UserWarning, stacklevel=2)
        current = base.calendar()
        months = list(range(1, 13))
    else:
        months = [period]
    rows = []
    for k, phase in enumerate(base.phases):
        chain_hat = float(np.prod(rate_hat[k:]))
        chain_d = np.prod(rates_d[:, k:], axis=1)
        if chain_hat <= 0:
            raise DataError(f"the conversion from {phase} to {base.phases[-1]} is 0, so no volume "
                            "reaches the target", fix="check the planned `rates`")
        with np.errstate(divide="ignore"):
            required_d = need_d / chain_d
        point = need_hat / chain_hat
        low, high = _interval(required_d, level)
        by_probability = {f"required_p{round(q * 100):d}":
                          float(_entries_for_probability(need_d, chain_d, q))
                          for q in probabilities}
        for month in months:
            if seasonal:
                share = float(shares.loc[month, phase])
                now = float(current.loc[month, phase]) if not np.isnan(
                    current.loc[month, phase]) else np.nan
            else:
                share = 1.0
                now = float(base.entries[phase].mean()) * _MONTHS_PER[period]
            row = {"month": month, "phase": phase, "label": base.labels[k],
                   "conversion_to_order": chain_hat, "required_entries": point * share,
                   "required_ci_low": low * share, "required_ci_high": high * share}
            row.update({key: value * share for key, value in by_probability.items()})
            row["current_entries"] = now
            row["gap"] = point * share - now
            rows.append(row)
    out = pd.DataFrame(rows)
    if seasonal:
        out["month"] = out["month"].astype("int64")
    return out


# ------------------------------------------------------------------------------ experiment sizing
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


def _uplift(baseline_rate: float, uplift: object) -> tuple[float, float]:
    if isinstance(uplift, str) and uplift.strip()[:1] not in "+-":
        uplift = "+" + uplift.strip()  # an uplift is a change: '2pp' means '+2pp'
    change = _parse_change("uplift", "uplift", uplift, signed_only=True)
    raw = baseline_rate + change.amount if change.kind == "points" else \
        baseline_rate * (1.0 + change.amount)
    if not 0.0 < raw < 1.0 or raw == baseline_rate:
        raise OptionError(f"The value for `uplift` must move the baseline {baseline_rate:g} to a "
                          f"different rate strictly between 0 and 1, but {uplift!r} gives "
                          f"{raw:g}. Fix: pass e.g. uplift=0.02 (2 points) or '+10%'.")
    return raw, raw - baseline_rate


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
    window_days
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
    if window_days is not None and (isinstance(window_days, bool) or not isinstance(
            window_days, int | np.integer) or window_days < 0):
        raise OptionError(f"The value for `window_days` must be a whole number of days >= 0 (or "
                          f"None), but {window_days!r} was passed.")
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
    values = list(_DEFAULT_N_VALUES if n_values is None else n_values)
    rows = []
    for n in values:
        _check_positive_or_none("n_values", n)
        try:
            mde = minimum_detectable_effect(p0, n, alpha=alpha, power=power, ratio=ratio,
                                            alternative=alternative)
        except ConfigError:
            if not math.isfinite(power_two_rates(p0, 1.0 - 1e-12, n=n, alpha=alpha, ratio=ratio,
                                                 alternative=alternative)):
                raise
            mde = math.nan  # even a rise to 100% is not detected with this n
        total = math.ceil(n - 1e-9) + math.ceil(ratio * math.ceil(n - 1e-9) - 1e-9)
        enrol, _, readable = _weeks(total, per_week, window_days)
        rows.append({"n": n, "total_records": total, "mde": mde, "target_rate": p0 + mde,
                     "relative_mde": mde / p0, "weeks_to_enrol": enrol,
                     "weeks_until_readable": readable})
    return pd.DataFrame(rows)


def entries_per_week(engagement, phase: str, *, last_months: int | None = None) -> float:
    """Average entries into ``phase`` per week over the baseline's complete months.

    Parameters
    ----------
    engagement
    phase
        The phase whose records would enter an experiment (the ``from_phase`` of the step).
    last_months
        Use only the latest complete months (e.g. 12); default all complete months.

    Notes
    -----
    Entries in the complete months / (days in those months / 7). Volume is seasonal: an
    experiment run in a quiet season enrols more slowly than this average.
    """
    engagement.require_dates("Entries per week")
    _check_phase(engagement, "phase", phase)
    reached = reached_at(engagement)
    months = _complete_months(reached[engagement.phase_model.first_phase], engagement.as_of)
    if last_months is not None:
        if isinstance(last_months, bool) or not isinstance(last_months, int) or last_months < 1:
            raise OptionError(f"The value for `last_months` must be a whole number >= 1, but "
                              f"{last_months!r} was passed.")
        months = months[-last_months:]
    days = float(sum(p.days_in_month for p in months))
    entered = reached[phase].dropna().dt.to_period("M")
    return float(entered.isin(months).sum()) / (days / 7.0)


# ------------------------------------------------------------------------------ change evaluation
@dataclass(eq=False, repr=False)
class ChangeEvaluation:
    """Did a change of the process move a conversion? Before/after, compared like with like.

    Attributes
    ----------
    comparisons
        One row per method: ``method`` (``before_after``, ``its_level``, ``its_slope``,
        ``did``), ``estimate`` (difference in probability, 0.041 = 4.1 points; for
        ``its_slope`` per period), ``ci_low, ci_high, p_value, n_before, n_after, note``.
    monthly
        The cohort series used: ``group, period, period_start, n, successes, rate, ci_low,
        ci_high, immature_n, side, in_before_after``. ``side`` is ``before``, ``after``,
        ``straddles change`` (left out) or ``immature`` (no mature record yet).
    headline
        The answer in one sentence.
    effect
        The answer as a code: ``raised`` or ``lowered`` (the interval of the method the headline
        reads excludes 0) or ``none`` (no detectable change).
    method
        The method the headline reads (a ``method`` of `comparisons`), so the answer can be
        written again from its row in another language.
    mde
        With ``effect`` ``none``: the smallest effect (difference in probability) this design
        detects with 80% power at the 5% level; NaN otherwise.
    mix_shift
        The segment attributes whose mix moved between before and after (the ``standardised``
        comparison is made within their segments); empty when none moved.
    immature_n
        Records left out because their conversion window had not closed at the as-of date.
    straddling_n
        Mature records left out because their cohort straddles the change date.
    models
        The fitted statsmodels GLM results (``its``, ``did``) for inspection.
    notes
        What was done and why (season matching, dispersion, methods skipped).
    """

    comparisons: pd.DataFrame
    monthly: pd.DataFrame
    headline: str
    change_date: pd.Timestamp
    from_phase: str
    to_phase: str
    window_days: int
    immature_n: int
    straddling_n: int
    models: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    description: str = ""
    effect: str = "none"
    method: str = ""
    mde: float = math.nan
    mix_shift: tuple[str, ...] = ()

    @property
    def summary(self) -> pd.DataFrame:
        """The comparisons table."""
        return self.comparisons

    def _repr_html_(self) -> str:
        fmt = lambda v: f"{v:.4g}"  # noqa: E731
        parts = [f"<p><b>Change of {html.escape(self.from_phase)} -> "
                 f"{html.escape(self.to_phase)} on {self.change_date.date()}</b>: "
                 f"{html.escape(self.headline)}</p>",
                 self.comparisons.to_html(index=False, float_format=fmt, na_rep="")]
        parts += [f"<p><i>{html.escape(n)}</i></p>" for n in self.notes]
        return "\n".join(parts)

    def __repr__(self) -> str:
        return f"<ChangeEvaluation {self.from_phase}->{self.to_phase}: {self.headline}>"


def _season_key(periods: pd.Series, period: str) -> pd.Series | None:
    if period == "month":
        return periods.map(lambda p: p.month)
    if period == "quarter":
        return periods.map(lambda p: p.quarter)
    return None


def _cohort_cells(engagement, *, a: str, b: str, window: int, freq: str, groups: pd.Series
                  ) -> pd.DataFrame:
    reached = reached_at(engagement)
    start = reached[a]
    keep = start.notna() & groups.reindex(reached.index).notna()
    start = start[keep]
    window_td = pd.Timedelta(days=window)
    frame = pd.DataFrame({
        "group": groups.reindex(start.index).to_numpy(),
        "period": start.dt.to_period(freq).to_numpy(),
        "mature": (start <= pd.Timestamp(engagement.as_of) - window_td).to_numpy(),
        "converted": ((reached.loc[start.index, b] - start) <= window_td).fillna(False).to_numpy(),
    })
    frame["success"] = frame["mature"] & frame["converted"]
    cells = frame.groupby(["group", "period"], observed=True).agg(
        n=("mature", "sum"), successes=("success", "sum"), total=("mature", "size")).reset_index()
    cells["immature_n"] = cells["total"] - cells["n"]
    return cells.drop(columns="total")


def _delta_effect(result, rows: np.ndarray, weights: np.ndarray, column: int
                  ) -> tuple[float, float]:
    """Weighted mean of expit(x b) - expit(x b - b_c) over rows that have x_c = 1, and its
    delta-method standard error."""
    beta = np.asarray(result.params, dtype=float)
    cov = np.asarray(result.cov_params(), dtype=float)
    off = rows.copy()
    off[:, column] = 0.0
    p1 = special.expit(rows @ beta)
    p0 = special.expit(off @ beta)
    w = weights / weights.sum()
    effect = float(np.sum(w * (p1 - p0)))
    gradient = (w * p1 * (1 - p1)) @ rows - (w * p0 * (1 - p0)) @ off
    return effect, float(math.sqrt(max(gradient @ cov @ gradient, 0.0)))


def _fit_binomial(successes: np.ndarray, trials: np.ndarray, design: pd.DataFrame,
                  notes: list[str], what: str):
    """Binomial GLM on counts; quasi-binomial (Pearson scale) when the cells are overdispersed."""
    endog = np.column_stack([successes, trials - successes]).astype(float)
    model = GLM(endog, design.astype(float), family=Binomial())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = model.fit()
        dispersion = result.pearson_chi2 / result.df_resid if result.df_resid > 0 else 1.0
        if dispersion > 1.0:
            # statsmodels' own scale="X2" is computed on the proportions of a two-column
            # endog (unweighted), far below the Pearson dispersion of the counts: pass it in.
            result = model.fit(scale=float(dispersion))
            notes.append(f"{what}: the periods vary more than binomial chance (dispersion "
                         f"{dispersion:.2f}), so the standard errors are scaled up "
                         "(quasi-binomial).")
    return result


def _season_dummies(seasons: pd.Series, prefix: str) -> pd.DataFrame:
    dummies = pd.get_dummies(seasons.astype(int), prefix=prefix, drop_first=True, dtype=float)
    return dummies.reset_index(drop=True)


def _its(series: pd.DataFrame, *, period: str, seasonal_adjust: bool, change_period,
         notes: list[str]) -> tuple[list[dict], Any]:
    used = series[series["side"].isin(["before", "after"]) & (series["n"] > 0)]
    used = used.sort_values("period").reset_index(drop=True)
    n_before_periods = int((used["side"] == "before").sum())
    n_after_periods = int((used["side"] == "after").sum())
    if n_before_periods < 3 or n_after_periods < 2:
        notes.append(f"Interrupted time series skipped: it needs at least 3 cohort periods "
                     f"before and 2 after the change, and has {n_before_periods} and "
                     f"{n_after_periods}.")
        return [], None
    t = np.array([(p - change_period).n for p in used["period"]], dtype=float)
    post = (used["side"] == "after").to_numpy(float)
    design = pd.DataFrame({"const": 1.0, "time": t, "level_change": post,
                           "slope_change": post * t})
    seasons = _season_key(used["period"], period)
    per_year = {"month": 12, "quarter": 4}.get(period)
    span = (used["period"].iloc[-1] - used["period"].iloc[0]).n + 1
    with_season = (seasonal_adjust and per_year is not None and span >= 2 * per_year)
    if with_season:
        dummies = _season_dummies(seasons, "season")
        trial = pd.concat([design, dummies], axis=1)
        if np.linalg.matrix_rank(trial.to_numpy(float)) == trial.shape[1] \
                and trial.shape[1] < len(used):
            design = trial
            notes.append(f"Interrupted time series with {period}-of-year effects "
                         f"({span} periods of history).")
        else:
            with_season = False
    if seasonal_adjust and not with_season:
        notes.append("Interrupted time series without season effects (needs two years of "
                     "cohort periods).")
    x = used["successes"].to_numpy(float)
    n = used["n"].to_numpy(float)
    result = _fit_binomial(x, n, design, notes, "Interrupted time series")
    after = (post == 1.0)
    rows_after = design.to_numpy(float)[after].copy()
    rows_after[:, design.columns.get_loc("slope_change")] = 0.0  # the jump alone
    effect, se = _delta_effect(result, rows_after, n[after], design.columns.get_loc("level_change"))
    z = stats.norm.ppf(0.975)
    n_before, n_after = int(n[~after].sum()), int(n[after].sum())
    p_level = float(2 * stats.norm.sf(abs(effect / se))) if se > 0 else math.nan
    out = [{"method": "its_level", "estimate": effect, "ci_low": effect - z * se,
            "ci_high": effect + z * se, "p_value": p_level, "n_before": n_before,
            "n_after": n_after,
            "note": "segmented binomial regression on cohort periods: level change at the "
                    "change date, on the probability scale (averaged over the after periods)"}]
    fitted = np.asarray(result.mu, dtype=float)[after]
    scale = float(np.average(fitted * (1 - fitted), weights=n[after]))
    slope = float(result.params["slope_change"])
    slope_se = float(result.bse["slope_change"])
    out.append({"method": "its_slope", "estimate": scale * slope,
                "ci_low": scale * (slope - z * slope_se), "ci_high": scale * (slope + z * slope_se),
                "p_value": float(result.pvalues["slope_change"]), "n_before": n_before,
                "n_after": n_after,
                "note": f"change in trend per {period} after the change (probability scale, "
                        "approximate)"})
    return out, result


def _did(cells: pd.DataFrame, *, notes: list[str]) -> tuple[list[dict], Any]:
    used = cells[cells["side"].isin(["before", "after"]) & (cells["n"] > 0)]
    used = used.sort_values(["period", "group"]).reset_index(drop=True)
    have = used.groupby(["group", "side"]).size()
    needed = [(g, s) for g in ("treated", "control") for s in ("before", "after")]
    missing = [f"{g} {s}" for g, s in needed if (g, s) not in have.index]
    if missing:
        notes.append(f"Difference-in-differences skipped: no mature cohorts for {missing}.")
        return [], None
    treated = (used["group"] == "treated").to_numpy(float)
    post = (used["side"] == "after").to_numpy(float)
    period_fe = pd.get_dummies(used["period"].astype(str), prefix="period", drop_first=True,
                               dtype=float)
    design = pd.concat([pd.DataFrame({"const": 1.0, "treated": treated,
                                      "treated_after": treated * post}), period_fe], axis=1)
    x = used["successes"].to_numpy(float)
    n = used["n"].to_numpy(float)
    result = _fit_binomial(x, n, design, notes, "Difference-in-differences")
    cell = (treated == 1.0) & (post == 1.0)
    effect, se = _delta_effect(result, design.to_numpy(float)[cell], n[cell],
                               design.columns.get_loc("treated_after"))
    z = stats.norm.ppf(0.975)
    p_value = float(2 * stats.norm.sf(abs(effect / se))) if se > 0 else math.nan
    is_t = treated == 1.0
    control_n = (int(n[~is_t & (post == 0)].sum()), int(n[~is_t & (post == 1)].sum()))
    return [{"method": "did", "estimate": effect, "ci_low": effect - z * se,
             "ci_high": effect + z * se, "p_value": p_value,
             "n_before": int(n[is_t & (post == 0)].sum()), "n_after": int(n[cell].sum()),
             "note": f"binomial GLM with period effects and group x after interaction; effect "
                     f"on the treated in probability points (control: {control_n[0]} before, "
                     f"{control_n[1]} after)"}], result


# A segment attribute whose shares moved between before and after: chi-square p under 1% and
# at least 5% of the records in other segments (total variation distance of the shares). Smaller
# shifts move a before/after difference by less than its interval.
_MIX_ALPHA = 0.01
_MIX_MIN_SHIFT = 0.05


def _mix_records(engagement, *, a: str, b: str, window: int, freq: str, groups: pd.Series,
                 sides: pd.DataFrame) -> pd.DataFrame:
    """The mature treated records of the before/after comparison, one row each: ``side``
    (before/after) and ``converted``, indexed by record id. `sides`: the compared cohort periods
    (``period``, ``side``)."""
    reached = reached_at(engagement)
    start = reached[a]
    treated = groups.reindex(reached.index).eq("treated")
    keep = start.notna() & treated & (start <= pd.Timestamp(engagement.as_of)
                                      - pd.Timedelta(days=window))
    start = start[keep]
    side_of = dict(zip(sides["period"], sides["side"], strict=True))
    side = start.dt.to_period(freq).map(side_of)
    converted = ((reached.loc[start.index, b] - start) <= pd.Timedelta(days=window)).fillna(False)
    frame = pd.DataFrame({"side": side, "converted": converted.astype(bool)})
    return frame[frame["side"].notna()]


def _shifted_attributes(records: pd.DataFrame, compared: pd.DataFrame,
                        attributes: Sequence[str]) -> list[dict]:
    """The attributes whose shares moved between the compared before and after records."""
    out = []
    for name in attributes:
        if name not in records.columns:
            continue
        values = records[name].reindex(compared.index).astype(object).fillna("(missing)")
        table = pd.crosstab(values, compared["side"])
        if table.shape[0] < 2 or set(table.columns) != {"before", "after"}:
            continue
        p = float(stats.chi2_contingency(table.to_numpy(float), correction=False)[1])
        shares = table / table.sum()
        shift = float(0.5 * (shares["after"] - shares["before"]).abs().sum())
        if p < _MIX_ALPHA and shift >= _MIX_MIN_SHIFT:
            out.append({"attribute": name, "shift": shift, "p_value": p})
    return out


def _standardised(records: pd.DataFrame, compared: pd.DataFrame, names: list[str]) -> dict | None:
    """After minus before within the strata of `names` (every combination of their values),
    weighted by each stratum's share of all compared records: the before/after difference at
    one mix. Strata present on one side only are left out (they hold no within-change)."""
    keys = records[names].reindex(compared.index).astype(object).fillna("(missing)")
    stratum = keys.astype(str).agg(" | ".join, axis=1)
    cells = compared.assign(stratum=stratum).groupby(["stratum", "side"])["converted"].agg(
        ["size", "sum"]).unstack("side")
    cells = cells.dropna()
    if cells.empty:
        return None
    n_b, x_b = cells[("size", "before")].to_numpy(float), cells[("sum", "before")].to_numpy(float)
    n_a, x_a = cells[("size", "after")].to_numpy(float), cells[("sum", "after")].to_numpy(float)
    weight = (n_b + n_a) / (n_b + n_a).sum()
    p_b, p_a = x_b / n_b, x_a / n_a
    estimate = float(np.sum(weight * (p_a - p_b)))
    se = float(np.sqrt(np.sum(weight ** 2 * (p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b))))
    z = stats.norm.ppf(0.975)
    p_value = float(2 * stats.norm.sf(abs(estimate / se))) if se > 0 else math.nan
    left_out = int(len(compared) - n_b.sum() - n_a.sum())
    return {"method": "standardised", "estimate": estimate, "ci_low": estimate - z * se,
            "ci_high": estimate + z * se, "p_value": p_value, "n_before": int(n_b.sum()),
            "n_after": int(n_a.sum()),
            "note": (f"after minus before within each {' x '.join(names)} segment, weighted by "
                     f"the segment's share of both sides (direct standardisation, Wald "
                     f"interval); {len(cells)} segments"
                     + (f", {left_out} records in segments seen on one side only left out"
                        if left_out else ""))}


def evaluate_change(engagement, *, change_date: Any, from_phase: str, to_phase: str | None = None,
                    window_days: int | None = None, control: Any = None,
                    segment_attribute: str | None = None, period: str = "month",
                    seasonal_adjust: bool = True, straddle: str = "window",
                    mix_attributes: Sequence[str] | None = None) -> ChangeEvaluation:
    """Did a change of the process raise the conversion from ``from_phase`` to ``to_phase``?

    Parameters
    ----------
    engagement, window_days
        See the module docstring.
    change_date
        The day the change took effect; cohorts entering ``from_phase`` on or after it are
        "after".
    from_phase, to_phase
        The step evaluated (``to_phase`` defaults to the next phase).
    control, segment_attribute
        For difference-in-differences: records whose ``segment_attribute`` equals ``control``
        (or is one of ``control`` when it is a list) did *not* get the change; every other
        (non-missing) value did. Without them only the before/after comparison and the time
        series are made, on all records.
    period : {'month', 'quarter', 'week'}
        Cohort periods of the series.
    seasonal_adjust
        Compare the same calendar months (quarters) year over year in the simple comparison and
        add month-of-year effects to the time series when it spans two years.
    straddle : {'window', 'period'}
        Which cohorts count as straddling the change (left out): ``'window'`` (default) every
        cohort period whose records' conversion windows were still open on the change date, so
        that "before" records were never exposed to the change; ``'period'`` only the period
        that contains the change date (for a change that only affects new entries).
    mix_attributes
        The segment attributes whose mix is checked between before and after (default every
        segment attribute of the engagement); see Notes.

    Returns
    -------
    ChangeEvaluation

    Notes
    -----
    Like with like: every side uses cohort conversion with the same window and only mature
    records (``reached_at[from] <= as_of - window``); immature and straddling records are
    counted, not used.

    (a) ``before_after``: pooled after minus pooled before with the Newcombe interval and the
    score test (:func:`toolkit.stats.two_rate_test`); with ``seasonal_adjust`` both sides are
    restricted to the calendar months they have in common. (b) ``its_level``/``its_slope``:
    binomial GLM on the cohort-period counts, :math:`\\mathrm{logit}\\,p_t = \\beta_0 +
    \\beta_1 t + \\beta_2 \\mathrm{after}_t + \\beta_3 \\mathrm{after}_t (t - t_0)` (+ month of
    year after two years); the level change is
    :math:`\\overline{\\mathrm{expit}(\\eta_t + \\beta_2) - \\mathrm{expit}(\\eta_t)}` over the
    after periods (n-weighted), with a delta-method interval. (c) ``did``: binomial GLM with
    group and period effects and the group x after interaction; the effect on the treated on
    the probability scale (average marginal effect, delta method). Period effects absorb any
    shift common to both groups (season, market), which (a) and (b) cannot tell from the
    change. Overdispersed series get quasi-binomial standard errors.

    Without a mix shift, a trend before the change (the time series' ``time`` coefficient,
    p < 0.05) would be carried by a before/after difference, so ``its_level`` is read. When
    its interval covers 0 it names the smallest effect the design would have detected with 80%
    power at the 5% level, :math:`(z_{0.975} + z_{0.8})\\,\\mathrm{se} \\approx 2.8\\,\\mathrm{se}`,
    with se read back from the interval: "no detectable change" is not "no change".

    (d) ``standardised``: when the shares of a segment attribute moved between the compared
    before and after records (chi-square p < 0.01 and at least 5% of the records in other
    segments), after minus before within each segment of those attributes, weighted by the
    segment's share of both sides (direct standardisation; Wald interval from the within-segment
    binomial variances). A change that raised the step in every region while the mix moved to
    the weakest region reads as raised here, where the pooled comparison reads a fall.

    The verdict reads ``did`` when a control group was given; else ``standardised`` when a mix
    moved (the notes name the attributes); else ``before_after``, unless the cohorts before the
    change show a trend of their own, when ``its_level`` is read.

    Not for: changes rolled out gradually (no date), or a control group that was affected too.
    A before/after comparison without control attributes everything else that
    changed at the same time to the change.
    """
    engagement.require_dates("Before/after evaluation of a change")
    model = engagement.phase_model
    a = _check_phase(engagement, "from_phase", from_phase)
    keys = model.keys
    if to_phase is None:
        if keys.index(a) == len(keys) - 1:
            raise ConfigError(f"`from_phase` {a!r} is the last phase; pass a phase before it.")
        b = keys[keys.index(a) + 1]
    else:
        b = _check_phase(engagement, "to_phase", to_phase)
        if keys.index(b) <= keys.index(a):
            raise ConfigError(f"`to_phase` must come after `from_phase` in the phase model {keys}, "
                              f"but {from_phase!r} -> {to_phase!r} was passed.")
    window = _window(engagement, window_days)
    check_option("period", period, tuple(_SEASON_FREQ))
    check_option("straddle", straddle, ("window", "period"))
    try:
        change = pd.Timestamp(change_date)
    except (TypeError, ValueError) as error:
        raise OptionError(f"The value for `change_date` must be a date such as '2025-03-01', but "
                          f"{change_date!r} was passed.") from error
    if (control is None) != (segment_attribute is None):
        raise ConfigError("Pass both `control` and `segment_attribute` (the attribute and its "
                          "value for the records that did not get the change), or neither; got "
                          f"control={control!r}, segment_attribute={segment_attribute!r}.")
    notes: list[str] = []
    records = engagement.records.set_index("record_id")
    if segment_attribute is None:
        groups = pd.Series("treated", index=records.index, dtype="object")
    else:
        if segment_attribute not in records.columns:
            raise OptionError(f"The value for `segment_attribute` must be a record attribute "
                              f"{engagement.segments}, but {segment_attribute!r} was passed.")
        attribute = records[segment_attribute]
        untouched = attribute.isin(list(control) if isinstance(control, list | tuple)
                                   else [control])
        if not untouched.any():
            values = sorted(map(str, attribute.dropna().unique()))[:10]
            raise OptionError(f"The value for `control` must be a value of "
                              f"`{segment_attribute}` (e.g. {values}), but {control!r} was "
                              "passed: no record has it.")
        groups = pd.Series(np.where(untouched, "control", "treated"),
                           index=records.index, dtype="object").where(attribute.notna())
        missing = int(attribute.isna().sum())
        if missing:
            notes.append(f"{missing} records without `{segment_attribute}` are left out.")

    freq = _SEASON_FREQ[period]
    cells = _cohort_cells(engagement, a=a, b=b, window=window, freq=freq, groups=groups)
    if cells.empty:
        raise DataError(f"no record has reached {a!r}, so there is nothing before or after the "
                        f"change to compare: too few records to conclude",
                        fix="evaluate the change once records have entered the phase")
    window_td = pd.Timedelta(days=window)
    starts = cells["period"].map(lambda p: p.start_time)
    ends = cells["period"].map(lambda p: p.end_time)
    before_end = ends + window_td if straddle == "window" else ends
    side = np.where(starts >= change, "after", np.where(before_end < change, "before",
                                                          "straddles change"))
    side = np.where((cells["n"] == 0) & (cells["immature_n"] > 0), "immature", side)
    cells["side"] = side
    cells["period_start"] = starts.to_numpy()
    x, n = cells["successes"].to_numpy(float), cells["n"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        cells["rate"] = np.where(n > 0, x / np.where(n > 0, n, 1), np.nan)
    low, high = rate_ci(x, n, method="wilson")
    cells["ci_low"], cells["ci_high"] = low, high
    immature_n = int(cells["immature_n"].sum())
    straddling_n = int(cells.loc[cells["side"] == "straddles change", "n"].sum())
    if immature_n:
        notes.append(f"{immature_n} records entered {a} less than {window} days before the "
                     "as-of date: their window is still open, so they are not counted.")
    if straddling_n:
        notes.append(f"{straddling_n} mature records in cohorts that straddle the change date "
                     "are left out.")

    treated = cells[cells["group"] == "treated"].copy()
    simple = treated[treated["side"].isin(["before", "after"]) & (treated["n"] > 0)].copy()
    simple["in_before_after"] = True
    seasons = _season_key(simple["period"], period)
    if seasonal_adjust and seasons is not None and len(simple):
        common = (set(seasons[simple["side"] == "before"])
                  & set(seasons[simple["side"] == "after"]))
        if common:
            simple["in_before_after"] = seasons.isin(common).to_numpy()
            if not simple["in_before_after"].all():
                notes.append(f"Before/after compares the same calendar {period}s "
                             f"{sorted(int(c) for c in common)} on both sides.")
        else:
            notes.append(f"Before/after could not match calendar {period}s (no {period} of "
                         "the year on both sides); all periods are compared.")
    chosen = simple[simple["in_before_after"]]
    sums = chosen.groupby("side")[["successes", "n"]].sum()
    if "before" not in sums.index or "after" not in sums.index:
        have = sorted(sums.index)
        raise DataError(
            f"the step {a}->{b} has mature cohorts only on side(s) {have} of "
            f"{change.date()} with a {window}-day window",
            fix="evaluate later (after cohorts mature), use a shorter `window_days`, or "
                "`straddle='period'` when the change only affects new entries")
    xb, nb = (int(v) for v in sums.loc["before", ["successes", "n"]])
    xa, na = (int(v) for v in sums.loc["after", ["successes", "n"]])
    # two_rate_test switches to Fisher's exact test when an expected count is below 5 and says
    # so in a warning; here the comparison's `method` column already tells the reader, so the
    # warning would only be noise in the notebook.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallSampleWarning)
        test = two_rate_test(xa, na, xb, nb, method="score")
    comparisons = [{"method": "before_after", "estimate": test.estimate, "ci_low": test.ci_low,
                    "ci_high": test.ci_high, "p_value": test.p_value, "n_before": nb,
                    "n_after": na,
                    "note": f"pooled cohort rates {xa}/{na} after vs {xb}/{nb} before; Newcombe "
                            f"interval, {test.method} test"}]
    models: dict[str, Any] = {}

    change_period = pd.Period(change, freq=freq)
    if change_period.start_time < change:
        change_period += 1
    its_rows, its_model = _its(treated, period=period, seasonal_adjust=seasonal_adjust,
                               change_period=change_period, notes=notes)
    comparisons += its_rows
    if its_model is not None:
        models["its"] = its_model
    if control is not None:
        did_rows, did_model = _did(cells, notes=notes)
        comparisons += did_rows
        if did_model is not None:
            models["did"] = did_model
    compared = _mix_records(engagement, a=a, b=b, window=window, freq=freq, groups=groups,
                            sides=chosen[["period", "side"]])
    names = [m for m in (engagement.segments if mix_attributes is None else mix_attributes)
             if m != segment_attribute]
    shifted = _shifted_attributes(records, compared, names)
    mix_shift = tuple(m["attribute"] for m in shifted)
    if shifted:
        row = _standardised(records, compared, [m["attribute"] for m in shifted])
        if row is not None:
            comparisons.append(row)
            notes.append(Finding("change_mix_moved", {"shifted": [
                (str(m["attribute"]), float(m["shift"]), float(m["p_value"])) for m in shifted]}))
    table = pd.DataFrame(comparisons, columns=["method", "estimate", "ci_low", "ci_high",
                                               "p_value", "n_before", "n_after", "note"])

    monthly = cells.merge(simple[["group", "period", "in_before_after"]],
                          on=["group", "period"], how="left")
    monthly["in_before_after"] = monthly["in_before_after"].astype("boolean").fillna(False)
    monthly["period"] = monthly["period"].astype(str)
    monthly = monthly[["group", "period", "period_start", "n", "successes", "rate", "ci_low",
                       "ci_high", "immature_n", "side", "in_before_after"]]
    if control is None:
        monthly = monthly.drop(columns="group")
    # Before/after is the more powerful comparison, the time series the one robust to a trend
    # that was there already: the verdict reads the time series only when the cohorts before
    # the change show such a trend (its `time` coefficient, p < 0.05).
    trend_p = (float(models["its"].pvalues["time"]) if "its" in models else math.nan)
    trend = trend_p < 0.05
    if "its" in models and not (table["method"] == "standardised").any():
        notes.append(Finding("change_reads_trend" if trend else "change_reads_before_after",
                             {"p_value": trend_p}))
    effect, verdict, method, mde = _verdict(table, a=a, b=b,
                                            control=(segment_attribute, control)
                                            if control is not None else None, trend=trend,
                                            mix_shift=mix_shift)
    return ChangeEvaluation(comparisons=table, monthly=monthly.reset_index(drop=True),
                            headline=verdict, change_date=change, from_phase=a, to_phase=b,
                            window_days=window, immature_n=immature_n, straddling_n=straddling_n,
                            models=models, notes=tuple(notes), effect=effect, method=method,
                            mde=mde, mix_shift=mix_shift)



def _verdict(table: pd.DataFrame, *, a: str, b: str, control: tuple[str, Any] | None,
             trend: bool = True, mix_shift: tuple[str, ...] = ()) -> tuple[str, str, str, float]:
    """(effect code, sentence, the method it reads, the smallest detectable effect or NaN) of
    the method the evaluation reads."""
    rows = table.set_index("method")
    order = (("did", "standardised", "its_level", "before_after") if trend
             else ("did", "standardised", "before_after", "its_level"))
    method = next(m for m in order if m in rows.index)
    row = rows.loc[method]
    values = {"from_phase": a, "to_phase": b, "method": method,
              "control": f"{control[0]} = {control[1]!r}" if control else "",
              "mix": " x ".join(mix_shift), "estimate": float(row["estimate"]),
              "ci_low": float(row["ci_low"]), "ci_high": float(row["ci_high"]),
              "p_value": float(row["p_value"])}
    if row["ci_low"] > 0 or row["ci_high"] < 0:
        verb = "raised" if row["estimate"] > 0 else "lowered"
        return verb, Finding(f"change_{verb}", values), method, math.nan
    # The effect this design detects with 80% power at the 5% level: (z_0.975 + z_0.8) x se,
    # with the standard error read back from the method's own interval.
    se = (row["ci_high"] - row["ci_low"]) / (2 * stats.norm.ppf(0.975))
    mde = (stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) * se
    return "none", Finding("change_none", {**values, "mde": float(mde)}), method, float(mde)


@dataclass
class ImprovementPlan:
    """Step 6 in one object: the top bottleneck, what raising it is worth, the volume the order
    target needs, the test that would show it, and the evaluation of a past change.

    A part the data cannot carry is None, and `problems[part]` says why (e.g. less than a month
    of history): the notebook shows the reason instead of failing.
    """

    bottleneck: pd.Series | None
    scenario: WhatIfResult | None
    required: pd.DataFrame | None
    experiment: ExperimentSize | None
    mde: pd.DataFrame | None
    change: ChangeEvaluation | None
    problems: dict[str, str]
    changes: list[ChangeEvaluation] = field(default_factory=list)

    def explain(self, part: str) -> str:
        return self.problems.get(part, "")

    @property
    def summary(self) -> pd.DataFrame:
        parts = ["bottleneck", "scenario", "required", "experiment", "mde", "change"]
        return pd.DataFrame([{"part": p, "computed": getattr(self, p) is not None,
                              "why_not": self.problems.get(p, "")} for p in parts])

    def _repr_html_(self) -> str:
        return self.summary.to_html(index=False)


def plan_improvement(engagement, *, changes: Sequence[Any] | None = None,
                     uplift: float | str = "+2pp", benchmarks: pd.DataFrame | None = None,
                     seed: int = 0, sizing: pd.DataFrame | None = None) -> ImprovementPlan:
    """Everything step 6 computes, each part guarded so that small or short data degrade to a
    stated reason rather than an error. See `what_if`, `required_volume`, `experiment_size`,
    `mde_table` and `evaluate_change` for the parts.

    ``changes``: the process changes to evaluate before/after, each with ``date``,
    ``description`` and ``step`` (as under ``changes:`` in the engagement YAML, the default).
    Only declared changes are evaluated, never a default date: with none, ``explain('change')``
    says how to declare one.

    ``sizing``: the bottleneck sizing already made with the same ``benchmarks`` and ``seed`` (step
    5's ``LowHangingFruit.sizing``), so it is not computed again; default computed here."""
    engagement.require_dates("The improvement plan (orders per month)")
    seed = check_seed(seed)

    problems: dict[str, str] = {}

    def attempt(part: str, func):
        try:
            return func()
        except ToolkitError as exc:
            problems[part] = reason_of(exc)
            return None

    if sizing is None:
        sizing = attempt("bottleneck", lambda: bottleneck_sizing(
            engagement, benchmarks=benchmarks, seed=seed))
    top = None
    if sizing is not None:
        usable = sizing[sizing["reference_rate"].notna() & sizing["rate"].notna()]
        if len(usable):
            top = usable.iloc[0]
        else:
            problems["bottleneck"] = Reason(
                "no transition has enough mature records to compare with a reference: too few "
                "records to conclude", "no_comparable_step")
    scenario = experiment = mde = None
    if top is not None:
        step = (top["from_phase"], top["to_phase"])
        scenario = attempt("scenario", lambda: what_if(
            engagement, rates={step: top["reference_rate"]}, seed=seed))
        experiment = attempt("experiment", lambda: experiment_size(
            top["rate"], uplift=uplift,
            entries_per_week=entries_per_week(engagement, top["from_phase"]),
            window_days=engagement.config.cohort_window_days))
        mde = attempt("mde", lambda: mde_table(top["rate"]))
    else:
        for part in ("scenario", "experiment", "mde"):
            why = problems.get("bottleneck", "")
            problems[part] = Reason("no bottleneck could be sized: " + why, "no_bottleneck",
                                    {"why": why})
    target = engagement.config.targets.get("orders_per_month")
    required = None
    if target is None:
        problems["required"] = Reason(
            "no `orders_per_month` under `targets` in the engagement YAML", "no_order_target")
    else:
        required = attempt("required", lambda: required_volume(engagement, orders=target,
                                                               period="month", seed=seed))
    evaluations, change_problems = evaluate_declared_changes(engagement, changes)
    change = evaluations[0] if evaluations else None
    if len(change_problems) == 1:
        problems["change"] = change_problems[0]
    elif change_problems:
        problems["change"] = Reason(" ".join(change_problems), "changes_not_evaluated",
                                    {"reasons": list(change_problems)})
    return ImprovementPlan(bottleneck=top, scenario=scenario, required=required,
                           experiment=experiment, mde=mde, change=change, problems=problems,
                           changes=evaluations)


#: What step 6 says when the engagement declares no change (no default date is ever assumed).
HOW_TO_DECLARE_A_CHANGE = (
    "No process change is declared, so no before/after evaluation is made (a default date would "
    "judge a change nobody made). To evaluate one, add an entry under `changes:` in the "
    "engagement YAML with `date:` (the day it took effect, e.g. 2025-03-01), `description:` "
    "(what was changed, e.g. a new qualification call) and `step:` (the step it was meant to "
    "improve, e.g. lead -> opportunity), and run the step again.")


def _declared(engagement, changes: Sequence[Any] | None) -> list[dict[str, Any]]:
    source = getattr(engagement.config, "changes", None) if changes is None else changes
    out = []
    for change in source or []:
        item = change.model_dump() if hasattr(change, "model_dump") else dict(change)
        out.append(item)
    return out


def evaluate_declared_changes(engagement, changes: Sequence[Any] | None
                       ) -> tuple[list[ChangeEvaluation], list[str]]:
    """Each declared change evaluated at its own step; plain reasons for those that could not be."""
    declared = _declared(engagement, changes)
    if not declared:
        return [], [Reason(HOW_TO_DECLARE_A_CHANGE, "no_change_declared")]
    keys = engagement.phase_model.keys
    evaluations, problems = [], []
    for item in declared:
        when = pd.Timestamp(item["date"])
        what = str(item.get("description", "")).strip() or "a change"
        try:
            a, b = change_step(item["step"], keys)
        except ValueError as exc:
            raise ConfigError(f"changes: {str(exc).split(' || ')[0]}",
                              key="changes", fix=str(exc).split(" || ")[-1]) from None
        comparison = item.get("comparison") or {}
        attribute, untouched = next(iter(comparison.items()), (None, None))
        try:
            result = evaluate_change(engagement, change_date=when, from_phase=a, to_phase=b,
                                     control=untouched, segment_attribute=attribute)
        except ToolkitError as exc:
            problems.append(_plain_change_problem(exc, when, what, a, b, engagement))
            continue
        result.description = what
        evaluations.append(result)
    return evaluations, problems


def _plain_change_problem(exc: ToolkitError, when: pd.Timestamp, what: str, a: str, b: str,
                          engagement) -> Reason:
    """Why a declared change could not be evaluated, in words for the client (no code)."""
    window = engagement.config.cohort_window_days
    head = f"The change of {when:%d-%m-%Y} ({what}, step {a} -> {b}) cannot be evaluated yet:"
    values = {"date": when, "description": what, "from_phase": a, "to_phase": b,
              "window_days": window, "as_of": pd.Timestamp(engagement.as_of)}
    text = str(exc)
    if "nothing before or after" in text:
        return Reason(f"{head} too few records to conclude: no record has reached {a}.",
                      "change_no_records", values)
    return Reason(f"{head} there are not yet mature records on both sides of the date (a record "
                  f"counts once its {window}-day window has closed before the as-of date "
                  f"{values['as_of']:%d-%m-%Y}). Evaluate it again later.", "change_not_mature",
                  values)
