"""What an improvement is worth (forward): orders and revenue per month under changed rates and
volumes, with seeded Monte Carlo intervals."""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

# not statsmodels.api, which imports all of statsmodels (about 0.3 s)
from toolkit.analysis.simulation.baseline import MONTHS_PER, baseline_of, check_draws, check_level
from toolkit.analysis.simulation.scenarios import (
    flows,
    interval_of,
    parse_rates,
    parse_volumes,
    posterior_draws,
    scenario_rates,
    simulate_counts,
)
from toolkit.base.docstrings import shared_docs
from toolkit.base.findings import Finding
from toolkit.base.vocabulary import Seed, check_option, random_generator
from toolkit.io.engagement import Engagement


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


@shared_docs
def what_if(engagement: Engagement, *, rates: Mapping | None = None, volumes: Mapping | None = None,
            window_days: int | None = None, period: str = "month", interval: str = "expected",
            draws: int = 4000, seed: Seed = 0,
            confidence: float = 0.95) -> WhatIfResult:
    """What a planned improvement is worth: orders and revenue per month or year, with intervals.

    Parameters
    ----------
    {shared.engagement}
    {shared.rates}
    {shared.volumes}
    {shared.window_days}
    {shared.draws}
    {shared.seed}
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
    base = baseline_of(engagement, window_days=window_days)
    changes = parse_rates(rates, base)
    multipliers = parse_volumes(volumes, base)
    check_option("period", period, tuple(MONTHS_PER))
    check_option("interval", interval, ("expected", "predicted"))
    draws = check_draws(draws)
    rng = random_generator(seed)
    level = check_level("confidence", confidence)
    factor = MONTHS_PER[period]
    notes: list[str] = []

    lam_hat = float(base.entries[base.phases[0]].mean())
    rate_hat = base.rate_hat
    scen_rate_hat = scenario_rates(rate_hat, changes, base)
    ones = np.ones(len(base.phases))
    base_flow = flows(lam_hat * factor, rate_hat, ones)
    scen_flow = flows(lam_hat * factor, scen_rate_hat, multipliers)

    volume_d, rates_d, value_d = posterior_draws(base, rng, draws)
    scen_rates_d = scenario_rates(rates_d, changes, base)
    exp_base = flows(volume_d * factor, rates_d, ones)
    exp_scen = flows(volume_d * factor, scen_rates_d, multipliers)
    if interval == "expected":
        sim_base, sim_scen = exp_base, exp_scen
        base_rev = sim_base[:, -1] * value_d
        scen_rev = sim_scen[:, -1] * value_d
    else:
        sim_base = simulate_counts(volume_d * factor, rates_d, ones, rng)
        sim_scen = simulate_counts(volume_d * factor, scen_rates_d, multipliers, rng)
        spread = base.value_sd if base.value_n > 1 else 0.0
        base_rev = sim_base[:, -1] * value_d + rng.normal(0, 1, draws) * spread * np.sqrt(
            sim_base[:, -1])
        scen_rev = sim_scen[:, -1] * value_d + rng.normal(0, 1, draws) * spread * np.sqrt(
            sim_scen[:, -1])
    if base.value_n == 0:
        notes.append("No won record has a value, so revenue is unknown (NaN).")
    elif base.value_n == 1:
        notes.append("Only one won record has a value: revenue uses it without uncertainty.")

    b_low, b_high = interval_of(sim_base, level)
    s_low, s_high = interval_of(sim_scen, level)
    c_low, c_high = interval_of(sim_scen - sim_base, level)
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
        lo_b, hi_b = interval_of(b_d, level)
        lo_s, hi_s = interval_of(s_d, level)
        lo_c, hi_c = interval_of(s_d - b_d, level)
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
               "note": Finding("what_if_entries", {
                   "entries": first_total, "months": len(base.months),
                   "first": str(base.months[0]), "last": str(base.months[-1])})}]
    for j, (a, b) in enumerate(base.steps):
        row = base.rates.iloc[j]
        inputs.append({"quantity": "step rate", "from_phase": a, "to_phase": b,
                       "n": int(row["n"]), "successes": int(row["successes"]),
                       "baseline": rate_hat[j], "scenario": scen_rate_hat[j],
                       "ci_low": row["ci_low"], "ci_high": row["ci_high"],
                       "note": Finding("what_if_rate", {
                           "window_days": int(base.window_days),
                           "immature": int(row["immature_n"]),
                           "multiplier": float(multipliers[j + 1]), "phase": b})})
    inputs.append({"quantity": "mean won value", "from_phase": None, "to_phase": base.phases[-1],
                   "n": base.value_n, "successes": np.nan, "baseline": value_hat,
                   "scenario": value_hat, "ci_low": np.nan, "ci_high": np.nan,
                   "note": Finding("what_if_value")})
    scenario = {f"{a}->{b}": c.text for (a, b), c in changes.items()}
    scenario.update({f"volume {p}": f"x{m:g}" for p, m in zip(base.phases, multipliers, strict=True)
                     if m != 1.0})
    samples = pd.DataFrame({"baseline_orders": sim_base[:, -1], "scenario_orders": sim_scen[:, -1],
                            "baseline_revenue": base_rev, "scenario_revenue": scen_rev})
    return WhatIfResult(table=table, outcomes=outcomes, by_month=by_month,
                        inputs=pd.DataFrame(inputs).assign(  # the notes as findings, codes kept
                            note=pd.Series([row["note"] for row in inputs], dtype=object)),
                        samples=samples, period=period,
                        interval=interval, draws=draws, seed=seed, confidence=level,
                        scenario=scenario, notes=tuple(notes))


