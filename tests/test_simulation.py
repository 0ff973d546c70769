"""Step 6 (Verbeteren en herinrichten): what-if, required volume, experiment sizing and
before/after evaluation.

The what-if and required-volume tests use a hand-made engagement whose answers follow from its
construction (the arithmetic is in the comments); the evaluation tests plant a known step change
in a seeded synthetic engagement and check that it is found, and that a placebo date is not.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from toolkit import Engagement
from toolkit.analysis.diagnosis import low_hanging_fruit
from toolkit.analysis.simulation import (
    ChangeEvaluation,
    ExperimentSize,
    WhatIfResult,
    entries_per_week,
    evaluate_change,
    experiment_size,
    mde_table,
    required_volume,
    what_if,
)
from toolkit.base.exceptions import ConfigError, DataError
from toolkit.measure.kpis import compute_kpis

T = pd.Timestamp
DAY = pd.Timedelta(days=1)

# --------------------------------------------------------------------------------- hand-made
# Three phases. In 2024, month m has COUNTS[m] targets entering on days 1-8; the first half of
# them become leads two days later and the first two leads of every month become orders three
# days after that. Hence, over the 12 complete months:
#   targets 120 (10 a month on average), leads 60 (half), orders 24 (2 a month)
#   target -> lead = 60 / 120 = 0.5, lead -> order = 24 / 60 = 0.4
#   won values alternate 500 / 1500: mean 1000
# With as_of 31 Dec and a 20-day window every record is mature (last lead on 10 Dec).
PHASES = [{"key": "target", "label": "Target"}, {"key": "lead", "label": "Lead"},
          {"key": "order", "label": "Order"}]
COUNTS = [10, 10, 10, 10, 10, 10, 6, 6, 10, 10, 10, 18]


@pytest.fixture(scope="module")
def hand():
    events, records = [], []
    for month, count in enumerate(COUNTS, start=1):
        for i in range(count):
            rid = f"R{month:02d}{i:02d}"
            entered = T(2024, month, 1 + i % 8)
            events.append((rid, "target", entered))
            outcome, closed, value = "lost", entered + DAY, np.nan
            if i < count // 2:
                events.append((rid, "lead", entered + 2 * DAY))
                closed = entered + 4 * DAY
                if i < 2:
                    events.append((rid, "order", entered + 5 * DAY))
                    outcome, closed = "won", entered + 5 * DAY
                    value = 500.0 if (month + i) % 2 else 1500.0
            records.append((rid, entered, outcome, closed, value))
    ev = pd.DataFrame(events, columns=["record_id", "phase", "entered_at"])
    ev["source_stage"], ev["source_row"] = ev["phase"], range(2, len(ev) + 2)
    rec = pd.DataFrame(records, columns=["record_id", "created_at", "outcome", "closed_at", "value"])
    rec["lost_at_phase"] = None
    return Engagement.from_tables(ev, rec, phases=PHASES, as_of=T("2024-12-31"),
                                  cohort_window_days=20)


def test_what_if_arithmetic(hand):
    r = what_if(hand, rates={"lead->order": "+10pp"}, volumes={"target": 1.2})
    table = r.table.set_index("phase")
    # baseline: 10 targets, 10 x 0.5 = 5 leads, 5 x 0.4 = 2 orders a month
    assert table["baseline_entries"].tolist() == pytest.approx([10, 5, 2])
    # scenario: 12 targets, 6 leads, 6 x (0.4 + 0.10) = 3 orders
    assert table["scenario_entries"].tolist() == pytest.approx([12, 6, 3])
    assert table.loc["order", "baseline_rate"] == pytest.approx(0.4)
    assert table.loc["order", "scenario_rate"] == pytest.approx(0.5)
    out = r.outcomes.set_index("measure")
    assert (out.loc["orders", "baseline"], out.loc["orders", "scenario"]) == pytest.approx((2, 3))
    # revenue = orders x mean won value 1000
    assert out.loc["revenue", "scenario"] == pytest.approx(3000)
    assert out.loc["revenue", "change"] == pytest.approx(1000)
    for col in ("ci_low", "ci_high", "baseline_ci_low", "baseline_ci_high"):
        assert out[col].notna().all()
    assert out.loc["orders", "ci_low"] < 3 < out.loc["orders", "ci_high"]
    # baseline and scenario share their draws: the improvement is positive in every draw
    assert out.loc["orders", "prob_increase"] == 1.0 and out.loc["orders", "change_ci_low"] > 0
    yearly = what_if(hand, rates={"lead->order": "+10pp"}, volumes={"target": 1.2},
                     period="year").outcomes.set_index("measure")
    assert (yearly.loc["orders", "baseline"], yearly.loc["orders", "scenario"]) == \
        pytest.approx((24, 36))
    assert isinstance(r, WhatIfResult) and "3.0 orders per month" in r._repr_html_()
    assert r.summary.equals(r.outcomes)


def test_what_if_monte_carlo_median_is_near_the_analytic_value_and_reproducible(hand):
    first = what_if(hand, rates={"lead->order": "+10pp"}, volumes={"target": 1.2}, seed=7)
    again = what_if(hand, rates={"lead->order": "+10pp"}, volumes={"target": 1.2}, seed=7)
    other = what_if(hand, rates={"lead->order": "+10pp"}, volumes={"target": 1.2}, seed=8)
    # Posterior medians of Gamma(120.5, rate 12) x Beta(60.5, 60.5) x (Beta(24.5, 36.5) + 0.1)
    # lie within about 1% of the plug-in 12 x 0.5 x 0.5 = 3; Monte Carlo error ~0.4%.
    assert first.samples["scenario_orders"].median() == pytest.approx(3.0, rel=0.03)
    assert first.samples["baseline_orders"].median() == pytest.approx(2.0, rel=0.03)
    pd.testing.assert_frame_equal(first.outcomes, again.outcomes)
    assert not first.samples.equals(other.samples)
    predicted = what_if(hand, rates={"lead->order": "+10pp"}, interval="predicted", seed=7)
    out = predicted.outcomes.set_index("measure")
    # a single month (Poisson arrivals, binomial steps) varies more than its expected value
    expected = first.outcomes.set_index("measure")
    assert out.loc["orders", "ci_high"] - out.loc["orders", "ci_low"] > \
        expected.loc["orders", "ci_high"] - expected.loc["orders", "ci_low"]


def test_rate_conventions_and_their_errors(hand):
    def scenario_rate(value, key="lead->order"):
        table = what_if(hand, rates={key: value}, draws=200).table.set_index("phase")
        return table.loc["order", "scenario_rate"]
    assert scenario_rate(0.45) == pytest.approx(0.45)            # absolute
    assert scenario_rate("45%") == pytest.approx(0.45)           # absolute, as a percentage
    assert scenario_rate("-5pp") == pytest.approx(0.35)          # 0.40 - 5 points
    assert scenario_rate("+10%") == pytest.approx(0.44)          # 0.40 x 1.10
    assert scenario_rate("+10%", key=("lead", "order")) == pytest.approx(0.44)
    with pytest.raises(ConfigError, match=r"steps of the phase model \['target->lead'"):
        what_if(hand, rates={"target->order": 0.5})
    with pytest.raises(ConfigError, match="between 0 and 1.*'\\+5pp'"):
        what_if(hand, rates={"lead->order": 40})
    with pytest.raises(ConfigError, match="must be a float between 0 and 1"):
        what_if(hand, rates={"lead->order": "+5"})
    with pytest.raises(ConfigError, match=r"`period` must be one of \['month', 'year'\]"):
        what_if(hand, period="quarter")
    with pytest.raises(ConfigError, match="`volumes` must be phases"):
        what_if(hand, volumes={"leads": 1.2})


def test_by_month_follows_the_seasonal_profile(hand):
    r = what_if(hand, volumes={"target": 1.2}).by_month.set_index("month")
    # December had 18 of the 120 targets: share 0.15; July 6 / 120 = 0.05
    assert r.loc[12, "share"] == pytest.approx(0.15) and r.loc[7, "share"] == pytest.approx(0.05)
    # 24 orders a year, December's cohorts bring 0.15 x 24 = 3.6
    assert r["baseline_orders"].sum() == pytest.approx(24)
    assert r.loc[12, "baseline_orders"] == pytest.approx(3.6)
    assert r.loc[12, "scenario_entries"] == pytest.approx(18 * 1.2)


def test_required_volume_backward_arithmetic(hand):
    r = required_volume(hand, orders=30, period="year", seasonal=False).set_index("phase")
    # 30 orders / 0.4 = 75 leads; 75 / 0.5 = 150 targets a year
    assert r["required_entries"].tolist() == pytest.approx([150, 75, 30])
    assert r["conversion_to_order"].tolist() == pytest.approx([0.2, 0.4, 1.0])
    assert r["current_entries"].tolist() == pytest.approx([120, 60, 24])
    assert r["gap"].tolist() == pytest.approx([30, 15, 6])
    assert (r["month"] == "year").all()
    monthly = required_volume(hand, orders=2.5, period="month", seasonal=False).set_index("phase")
    assert monthly["required_entries"].tolist() == pytest.approx([12.5, 6.25, 2.5])
    assert monthly["gap"].tolist() == pytest.approx([2.5, 1.25, 0.5])
    # 30 000 revenue / mean value 1000 = 30 orders
    revenue = required_volume(hand, revenue=30_000, period="year", seasonal=False).set_index("phase")
    assert revenue.loc["target", "required_entries"] == pytest.approx(150)
    # with a planned target -> lead of 0.6: 30 / (0.6 x 0.4) = 125 targets
    planned = required_volume(hand, orders=30, period="year", seasonal=False,
                              rates={"target->lead": 0.6}).set_index("phase")
    assert planned.loc["target", "required_entries"] == pytest.approx(125)
    assert planned.loc["lead", "required_entries"] == pytest.approx(75)
    with pytest.raises(ConfigError, match="exactly one of `orders` and `revenue`"):
        required_volume(hand, orders=30, revenue=1000)


def test_required_volume_seasonal_split_sums_to_the_annual_requirement(hand):
    r = required_volume(hand, orders=2.5, period="month")  # 2.5 a month = 30 a year
    sums = r.groupby("phase", sort=False)[["required_entries", "required_p50", "required_p80"]].sum()
    assert sums["required_entries"].tolist() == pytest.approx([150, 75, 30])
    cell = r.set_index(["phase", "month"])
    # December: 150 targets x 18/120 = 22.5 against 18 now; July leads: 75 x 3/60 = 3.75
    assert cell.loc[("target", 12), "required_entries"] == pytest.approx(22.5)
    assert cell.loc[("target", 12), "gap"] == pytest.approx(4.5)
    assert cell.loc[("lead", 7), "required_entries"] == pytest.approx(3.75)
    assert cell.loc[("lead", 7), "current_entries"] == pytest.approx(3)
    # orders came 2 a month: a flat profile, 30 / 12 = 2.5 each month
    assert cell.loc["order", "required_entries"].tolist() == pytest.approx([2.5] * 12)
    assert sums.loc["order", "required_p80"] == pytest.approx(30)  # nothing left to convert
    target = r[r["phase"] == "target"]
    assert (target["required_ci_low"] < target["required_entries"]).all()
    assert (target["required_entries"] < target["required_ci_high"]).all()
    assert (target["required_p80"] > target["required_p50"]).all()
    assert r["month"].tolist()[:12] == list(range(1, 13))


def test_required_p80_meets_the_target_with_80_percent_probability(hand):
    r = required_volume(hand, orders=30, period="year", seasonal=False, seed=3).set_index("phase")
    entries = r.loc["target", "required_p80"]
    # Independent check: with fresh posterior draws of target -> lead (Beta(60.5, 60.5)) and
    # lead -> order (Beta(24.5, 36.5)), P(Binomial(E, p1 p2) >= 30) averaged over the draws.
    rng = np.random.default_rng(99)
    chain = rng.beta(60.5, 60.5, 200_000) * rng.beta(24.5, 36.5, 200_000)
    assert np.mean(stats.binom.sf(29, entries, chain)) == pytest.approx(0.80, abs=0.01)
    assert np.mean(stats.binom.sf(29, entries - 3, chain)) < 0.80


def test_entries_per_week(hand):
    # 120 targets in the 366 days of 2024: 120 / (366 / 7) = 2.2951 a week
    assert entries_per_week(hand, "target") == pytest.approx(120 / (366 / 7), abs=1e-4)
    # last 2 months: 28 targets in 61 days
    assert entries_per_week(hand, "target", last_months=2) == pytest.approx(28 / (61 / 7))
    with pytest.raises(ConfigError, match=r"`phase` must be one of \["):
        entries_per_week(hand, "leads")


# -------------------------------------------------------------------------------- sizing
def test_experiment_size_matches_r_power_prop_test():
    result = experiment_size(0.20, uplift=0.02)
    # R: power.prop.test(p1 = 0.20, p2 = 0.22, power = 0.8) uses (src/library/stats/R/power.R)
    # sqrt(n)|p1-p2| = z_.975 sqrt((p1+p2)(1-(p1+p2)/2)) + z_.8 sqrt(p1 q1 + p2 q2)
    # = 1.959964 x 0.5760208 + 0.8416212 x 0.5758472 -> n = 6509.4667 per group
    assert result.n_control == pytest.approx(6509.4667, abs=1e-3)
    assert (result.records_control, result.records_treatment) == (6510, 6510)
    # R documentation example: power.prop.test(p1 = .50, p2 = .75, power = .90) # => n = 76.7
    assert experiment_size(0.5, uplift=0.25, power=0.9).n_control == pytest.approx(76.7, abs=0.05)
    # relative and point strings give the same target
    assert experiment_size(0.20, uplift="+10%").target_rate == pytest.approx(0.22)
    assert experiment_size(0.20, uplift="+2pp").n_control == pytest.approx(result.n_control)
    assert isinstance(result, ExperimentSize) and "6,510" in result._repr_html_()


def test_weeks_include_the_wait_for_the_last_cohort_window():
    result = experiment_size(0.20, uplift=0.02, entries_per_week=500, window_days=30)
    # 2 x 6510 = 13 020 records at 500 a week = 26.04 weeks; the last record needs its 30-day
    # window: + 30 / 7 = 4.2857 weeks -> readable after 30.3257 weeks
    assert result.total_records == 13_020
    assert result.weeks_to_enrol == pytest.approx(26.04)
    assert result.wait_weeks == pytest.approx(30 / 7)
    assert result.weeks_until_readable == pytest.approx(26.04 + 30 / 7)
    uneven = experiment_size(0.20, uplift=0.02, ratio=2.0, entries_per_week=500, window_days=30)
    assert uneven.records_treatment == 2 * uneven.records_control
    no_window = experiment_size(0.20, uplift=0.02, entries_per_week=500)
    assert math.isnan(no_window.weeks_until_readable) and "window_days" in no_window.notes[0]
    with pytest.raises(ConfigError, match="`uplift` must move the baseline"):
        experiment_size(0.95, uplift=0.10)


def test_mde_table_is_the_inverse_of_the_sample_size():
    table = mde_table(0.20, n_values=[2, 1000, 6509.466678513719, 20_000],
                      entries_per_week=500, window_days=30)
    # at the n of the previous test the detectable effect is the 2 points it was sized for
    assert table.loc[2, "mde"] == pytest.approx(0.02, abs=1e-6)
    assert table.loc[2, "target_rate"] == pytest.approx(0.22, abs=1e-6)
    assert table.loc[1, "mde"] > table.loc[2, "mde"] > table.loc[3, "mde"]
    # with 2 records a group even 20% -> 100% is not detected with 80% power
    assert math.isnan(table.loc[0, "mde"])
    assert table.loc[1, "weeks_until_readable"] == pytest.approx(2000 / 500 + 30 / 7)


# ------------------------------------------------------------------------- change evaluation
LEAD_PHASES = [{"key": k, "label": k.title()} for k in ("lead", "opportunity", "order")]


def synthetic(seed: int, *, start: str, end: str = "2025-01-31", change: str = "2024-01-01",
              effect: float = 0.10, common_shift: float = 0.0, groups=("all",),
              per_month: int = 300, window_days: int = 30) -> Engagement:
    """Leads enter on random days; lead -> opportunity within 1-25 days with probability
    0.30 + 0.05 sin(2 pi month / 12) (a season), plus `effect` for the treated and
    `common_shift` for everyone from `change` on. Events after `end` are not yet observed."""
    rng = np.random.default_rng(seed)
    events, records = [], []
    for group in groups:
        for month in pd.period_range(start, end, freq="M"):
            day = rng.integers(0, month.days_in_month, per_month)
            entered = month.start_time + pd.to_timedelta(day, unit="D")
            after = np.asarray(entered >= T(change))
            lift = effect if group != "control" else 0.0
            rate = 0.30 + 0.05 * np.sin(2 * np.pi * month.month / 12) + after * (lift + common_shift)
            converted = rng.random(per_month) < rate
            delay = pd.to_timedelta(rng.integers(1, 26, per_month), unit="D")
            ids = np.array([f"{group}-{month}-{i}" for i in range(per_month)])
            events.append(pd.DataFrame({"record_id": ids, "phase": "lead", "entered_at": entered}))
            events.append(pd.DataFrame({"record_id": ids[converted], "phase": "opportunity",
                                        "entered_at": (entered + delay)[converted]}))
            records.append(pd.DataFrame({"record_id": ids, "created_at": entered,
                                         "outcome": "open", "closed_at": pd.NaT, "value": np.nan,
                                         "region": group}))
    ev = pd.concat(events, ignore_index=True)
    ev = ev[ev["entered_at"] <= T(end)].reset_index(drop=True)
    ev["source_stage"], ev["source_row"] = ev["phase"], np.arange(2, len(ev) + 2)
    rec = pd.concat(records, ignore_index=True)
    rec["lost_at_phase"] = None
    return Engagement.from_tables(ev, rec, phases=LEAD_PHASES, as_of=T(end),
                                  cohort_window_days=window_days)


@pytest.fixture(scope="module")
def stepped():
    return synthetic(11, start="2021-01-01")


def _row(result: ChangeEvaluation, method: str) -> pd.Series:
    return result.comparisons.set_index("method").loc[method]


def test_before_after_and_time_series_find_a_planted_step(stepped):
    r = evaluate_change(stepped, change_date="2024-01-01", from_phase="lead")
    assert list(r.comparisons["method"]) == ["before_after", "its_level", "its_slope"]
    for method in ("before_after", "its_level"):
        row = _row(r, method)
        assert row["ci_low"] < 0.10 < row["ci_high"], method
        assert row["ci_low"] > 0 and row["p_value"] < 0.001, method
    slope = _row(r, "its_slope")  # a step, not a trend: no slope change
    assert slope["ci_low"] < 0 < slope["ci_high"]
    # the answer as a code with its values; the sentence is written from them
    assert r.headline.code == "change_raised" and r.headline.values["method"] == "before_after"
    assert r.headline.values["estimate"] == _row(r, "before_after")["estimate"]
    assert r.headline.startswith("The change raised the conversion lead → opportunity by")
    assert r.effect == "raised"  # the answer as a code, for code that decides on it
    # no trend before the change (the series is a flat season plus the step): the verdict reads
    # the more powerful before/after comparison, and says why
    assert "before/after comparison" in r.headline
    assert any(n.startswith("The verdict reads the before/after comparison: the cohorts before "
                            "the change show no trend") for n in r.notes)
    assert any("month-of-year effects" in n for n in r.notes)
    assert "<b>Change of lead -> opportunity" in r._repr_html_()


def test_immature_and_straddling_cohorts_are_counted_not_used(stepped):
    r = evaluate_change(stepped, change_date="2024-01-01", from_phase="lead")
    created = stepped.records["created_at"]
    # mature when entered on or before as_of - 30 days = 1 Jan 2025
    assert r.immature_n == int((created > T("2025-01-01")).sum()) > 0
    monthly = r.monthly.set_index("period")
    assert monthly["n"].sum() + r.immature_n == len(stepped.records)
    # December 2023 cohorts were still inside their 30-day window on 1 January 2024
    assert monthly.loc["2023-12", "side"] == "straddles change"
    assert r.straddling_n == monthly.loc["2023-12", "n"] == 300
    assert monthly.loc["2023-11", "side"] == "before" and monthly.loc["2024-01", "side"] == "after"
    used = monthly[monthly["in_before_after"]]
    assert _row(r, "before_after")["n_before"] + _row(r, "before_after")["n_after"] == \
        used["n"].sum()
    # with `straddle="period"` only a period containing the change date is set aside
    by_period = evaluate_change(stepped, change_date="2024-01-01", from_phase="lead",
                                straddle="period")
    assert by_period.straddling_n == 0
    assert by_period.monthly.set_index("period").loc["2023-12", "side"] == "before"


def test_a_placebo_change_date_finds_nothing(stepped):
    # Only the history before the real change: entries up to November 2023, as of 31 December.
    events = stepped.events[stepped.events["entered_at"] < T("2023-12-01")]
    records = stepped.records[stepped.records["created_at"] < T("2023-12-01")]
    before = Engagement.from_tables(events, records, phases=LEAD_PHASES, as_of=T("2023-12-31"),
                                    cohort_window_days=30)
    r = evaluate_change(before, change_date="2023-01-01", from_phase="lead")
    for method in ("before_after", "its_level"):
        row = _row(r, method)
        assert row["ci_low"] < 0 < row["ci_high"], method
    assert r.headline.startswith("No detectable change in the conversion lead → opportunity")
    assert r.effect == "none" and r.headline.code == "change_none"
    assert r.headline.values["mde"] == r.mde
    assert "an effect smaller than" in r.headline and "cannot be seen" in r.headline


def test_difference_in_differences_removes_a_shift_common_to_both_groups():
    # From the change date on, both regions gain 5 points (the market, the season); only the
    # treated region also gets the planted +10 points.
    data = synthetic(5, start="2022-01-01", common_shift=0.05, groups=("control", "treated"))
    r = evaluate_change(data, change_date="2024-01-01", from_phase="lead", control="control",
                        segment_attribute="region")
    did = _row(r, "did")
    assert did["ci_low"] < 0.10 < did["ci_high"]
    simple = _row(r, "before_after")  # treated only: takes the common shift for the change
    assert simple["ci_low"] > 0.10
    assert abs(did["estimate"] - 0.10) < abs(simple["estimate"] - 0.10)
    assert did["n_after"] == simple["n_after"]
    assert "difference-in-differences against region = 'control'" in r.headline
    assert set(r.monthly["group"]) == {"control", "treated"}
    assert "did" in r.models


def test_evaluate_change_errors_name_the_fix(stepped):
    with pytest.raises(ConfigError, match="both `control` and `segment_attribute`"):
        evaluate_change(stepped, change_date="2024-01-01", from_phase="lead", control="x")
    with pytest.raises(ConfigError, match="`control` must be a value of `region`"):
        evaluate_change(stepped, change_date="2024-01-01", from_phase="lead", control="north",
                        segment_attribute="region")
    with pytest.raises(ConfigError, match=r"`from_phase` must be one of \["):
        evaluate_change(stepped, change_date="2024-01-01", from_phase="leads")
    with pytest.raises(DataError, match="mature cohorts only on side"):
        evaluate_change(stepped, change_date="2025-01-15", from_phase="lead")


def test_what_if_forward_then_backward_returns_the_input(hand):
    """Forward: a scenario's orders from planned rates and volume. Backward: the volume those
    orders require at the same rates. The round trip gives back the volume put in."""
    planned = {"target->lead": 0.6, "lead->order": 0.5}
    forward = what_if(hand, rates=planned, volumes={"target": 1.5})
    table = forward.table.set_index("phase")
    orders = forward.outcomes.set_index("measure").loc["orders", "scenario"]
    # 15 targets x 0.6 x 0.5 = 4.5 orders a month
    assert orders == pytest.approx(4.5)
    back = required_volume(hand, orders=orders, period="month", seasonal=False,
                           rates={("target", "lead"): 0.6, ("lead", "order"): 0.5})
    need = back.groupby("phase")["required_entries"].sum()
    assert need["target"] == pytest.approx(table.loc["target", "scenario_entries"])
    assert need["lead"] == pytest.approx(table.loc["lead", "scenario_entries"])


# ------------------------------------------------------------------- declared changes (step 6)
def test_step_6_judges_no_change_unless_one_is_declared():
    # What was seen: a demo default change date was used for every client, and 3 of 31 null
    # companies got "The change raised suspect -> lead conversion by 6.4 points". Here nothing
    # changed (effect 0) and nothing is declared: no evaluation, and the reader learns how to
    # declare one, in words (no Python list, no library arguments).
    from toolkit.analysis.simulation import HOW_TO_DECLARE_A_CHANGE, plan_improvement
    null = synthetic(5, start="2022-01-01", effect=0.0)
    plan = plan_improvement(null, seed=0)
    assert plan.change is None and plan.changes == []
    text = plan.explain("change")
    assert text == HOW_TO_DECLARE_A_CHANGE and "`changes:`" in text
    assert "[" not in text and "=" not in text and "change_date" not in text


def test_a_declared_change_is_evaluated_at_its_own_step_and_date(stepped):
    from toolkit.analysis.simulation import plan_improvement
    plan = plan_improvement(stepped, changes=[{"date": "2024-01-01", "step": "lead",
                                               "description": "call within a day"}], seed=0)
    assert len(plan.changes) == 1 and plan.change is plan.changes[0]
    assert plan.change.from_phase == "lead" and plan.change.to_phase == "opportunity"
    assert plan.change.description == "call within a day"
    assert plan.change.headline.startswith("The change raised the conversion lead → opportunity")


def test_a_change_too_recent_to_evaluate_is_explained_without_code(stepped):
    # What was seen: "On 2017 data it printed a Python list and library arguments to the reader"
    # (the error behind it: "side(s) ['before'] ... `straddle='period'`").
    from toolkit.analysis.simulation import plan_improvement
    plan = plan_improvement(stepped, changes=[{"date": "2025-01-15", "step": "lead -> opportunity",
                                               "description": "new CRM"}], seed=0)
    assert plan.change is None
    text = plan.explain("change")
    assert text.startswith("The change of 15-01-2025 (new CRM, step lead -> opportunity) cannot "
                           "be evaluated yet")
    for code in ("[", "]", "straddle", "window_days", "'"):
        assert code not in text


def test_a_trend_before_the_change_makes_the_verdict_read_the_time_series():
    # The rate climbs 1 point a month for three years and nothing happens at the "change": a
    # before/after difference would carry the climb (about +18 points), the time series not.
    rng = np.random.default_rng(3)
    events, records = [], []
    for k, month in enumerate(pd.period_range("2021-01", "2023-12", freq="M")):
        entered = month.start_time + pd.to_timedelta(rng.integers(0, 28, 300), unit="D")
        converted = rng.random(300) < 0.20 + 0.01 * k
        ids = np.array([f"T{month}-{i}" for i in range(300)])
        events.append(pd.DataFrame({"record_id": ids, "phase": "lead", "entered_at": entered}))
        events.append(pd.DataFrame({"record_id": ids[converted], "phase": "opportunity",
                                    "entered_at": (entered + pd.Timedelta(days=5))[converted]}))
        records.append(pd.DataFrame({"record_id": ids, "created_at": entered, "outcome": "open",
                                     "closed_at": pd.NaT, "value": np.nan}))
    ev = pd.concat(events, ignore_index=True)
    ev["source_stage"], ev["source_row"] = ev["phase"], np.arange(2, len(ev) + 2)
    rec = pd.concat(records, ignore_index=True)
    rec["lost_at_phase"] = None
    e = Engagement.from_tables(ev, rec, phases=LEAD_PHASES, as_of=T("2024-03-31"),
                               cohort_window_days=30)
    r = evaluate_change(e, change_date="2022-07-01", from_phase="lead")
    assert _row(r, "before_after")["ci_low"] > 0.05          # the trend, not a change
    assert "interrupted time series" in r.headline
    assert r.headline.startswith("No detectable change")


@pytest.mark.parametrize("seed", [None, -1, 1.5])
def test_every_seeded_call_follows_the_one_seed_rule(hand, seed):
    # One rule everywhere: a whole number >= 0; None (and anything else) is refused alike.
    calls = [lambda: what_if(hand, seed=seed),
             lambda: required_volume(hand, orders=30, period="year", seed=seed),
             lambda: low_hanging_fruit(hand, seed=seed),
             lambda: compute_kpis(hand, seed=seed)]
    for call in calls:
        with pytest.raises(ConfigError, match=r"`seed` must be a whole number >= 0"):
            call()


def test_a_change_evaluations_notes_are_findings_and_its_dutch_names_the_control_by_label():
    # issue 22: the evaluation returns codes and values (its notes, each method's note, the
    # verdict); toolkit.present writes them, in Dutch from the catalogue, the control group named
    # by its attribute's label and the value as typed (no Python quotes)
    from toolkit.base.findings import Finding
    from toolkit.present import narrative
    from toolkit.present.findings import render
    data = synthetic(5, start="2022-01-01", groups=("control", "treated"))
    r = evaluate_change(data, change_date="2024-01-01", from_phase="lead", control="control",
                        segment_attribute="region")
    assert r.notes and all(isinstance(note, Finding) for note in r.notes)
    assert all(isinstance(note, Finding) for note in r.comparisons["note"])
    for note in [*r.notes, *r.comparisons["note"]]:
        assert render(note, "en") == note and render(note, "nl") != note, note.code
    # the English verdict as before; the Dutch one names the attribute by its label
    assert "difference-in-differences against region = 'control'" in r.headline
    assert (r.headline.values["control_attribute"], r.headline.values["control_value"]) == (
        "region", "control")
    words = narrative._Words("nl")
    dutch = narrative._change_verdict(r, words)
    assert words.attribute("region") == "Regio"  # the catalogue's label of a known attribute
    assert "tegen Regio = control)" in dutch and "'control'" not in dutch and "region" not in dutch
    # the YAML's `comparison: {region: [Noord, Zuid]}` passes a list: its items, as typed
    r.headline = type(r.headline)(r.headline.code, {**r.headline.values,
                                                    "control_value": ["Noord", "Zuid"]})
    assert "tegen Regio = Noord, Zuid)" in narrative._change_verdict(r, words)
