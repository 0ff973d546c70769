"""Tests for toolkit.analysis.steering: control charts, run rules, scorecard and the period report."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from toolkit.analysis.steering import (
    LANEY_THRESHOLD,
    PeriodReport,
    control_chart,
    period_report,
    run_rules,
    scorecard,
)
from toolkit.analysis.steering.period import _two_rate_p
from toolkit.analysis.steering.scorecard import _trend_p
from toolkit.base.exceptions import ConfigError, DataError

# Montgomery, Introduction to Statistical Quality Control (6th ed.), Example 7.1 (orange juice
# cans): nonconforming cans in 30 samples of n = 50.
MONTGOMERY_7_1 = [12, 15, 8, 10, 4, 7, 16, 9, 14, 10, 5, 6, 17, 12, 22,
                  8, 10, 5, 13, 11, 20, 18, 24, 15, 9, 12, 7, 13, 9, 6]


def _chart(z, *, kpi=None):
    """A chart frame with a given z sequence (rules only look at z)."""
    frame = pd.DataFrame({"period": range(1, len(z) + 1), "rate": 0.3, "center": 0.3,
                          "z": np.asarray(z, dtype=float)})
    if kpi is not None:
        frame.insert(0, "kpi", kpi)
    return frame


def _fired(alerts, rule):
    return alerts.loc[alerts["rule"] == rule, "period"].tolist()


# --------------------------------------------------------------------------------------------
# control_chart
# --------------------------------------------------------------------------------------------

def test_p_chart_limits_by_hand_for_three_periods():
    data = pd.DataFrame({"period": ["2024-03", "2024-01", "2024-02"],
                         "n": [200, 50, 100], "successes": [40, 10, 30]})
    chart = control_chart(data, chart="p")
    # sorted by period; p-bar = (10 + 30 + 40) / (50 + 100 + 200) = 80/350 = 0.228571
    assert chart["period"].tolist() == ["2024-01", "2024-02", "2024-03"]
    assert chart["center"].iloc[0] == pytest.approx(0.2286, abs=1e-4)
    # sigma_i = sqrt(0.228571 * 0.771429 / n_i) = sqrt(0.176327 / n_i):
    # n=50: 0.059384 -> 0.228571 -/+ 3 * 0.059384 = 0.0504 / 0.4067
    # n=100: 0.041991 -> 0.1026 / 0.3545;  n=200: 0.029692 -> 0.1395 / 0.3176
    assert chart["lcl"].round(4).tolist() == [0.0504, 0.1026, 0.1395]
    assert chart["ucl"].round(4).tolist() == [0.4067, 0.3545, 0.3176]
    # z = (p_i - p-bar) / sigma_i: (0.2 - 0.228571) / 0.059384 = -0.4811,
    # (0.3 - 0.228571) / 0.041991 = 1.7010, (0.2 - 0.228571) / 0.029692 = -0.9623
    assert chart["z"].round(4).tolist() == [-0.4811, 1.701, -0.9623]
    assert chart["rate"].tolist() == [0.2, 0.3, 0.2]
    assert (chart["chart"] == "p").all()
    assert chart["n"].dtype == "int64"


def test_p_chart_reproduces_montgomery_example_7_1():
    data = pd.DataFrame({"period": range(1, 31), "n": 50, "successes": MONTGOMERY_7_1})
    chart = control_chart(data, chart="p")
    # Montgomery Example 7.1: p-bar = 347/1500 = 0.2313, UCL = 0.4102, LCL = 0.0524
    assert chart["center"].iloc[0] == pytest.approx(0.2313, abs=1e-4)
    assert chart["ucl"].iloc[0] == pytest.approx(0.4102, abs=1e-4)
    assert chart["lcl"].iloc[0] == pytest.approx(0.0524, abs=1e-4)
    # ... and samples 15 and 23 plot above the UCL (Montgomery investigates exactly these two)
    alerts = run_rules(chart, rules=["beyond_limits"])
    assert _fired(alerts, "beyond_limits") == [15, 23]
    assert set(alerts["direction"]) == {"up"}


def test_laney_chart_by_hand():
    data = pd.DataFrame({"period": [1, 2, 3, 4], "n": 100, "successes": [40, 60, 45, 55]})
    chart = control_chart(data, chart="laney")
    # p-bar = 200/400 = 0.5, sigma_i = sqrt(0.25/100) = 0.05
    # z_i = (p_i - 0.5)/0.05 = -2, 2, -1, 1; moving ranges 4, 3, 2 -> mean 3
    # sigma_z = 3 / 1.128 = 2.659574
    assert chart["sigma_z"].iloc[0] == pytest.approx(2.6596, abs=1e-4)
    # limits 0.5 -/+ 3 * 0.05 * 2.659574 = 0.5 -/+ 0.398936
    assert chart["lcl"].iloc[0] == pytest.approx(0.1011, abs=1e-4)
    assert chart["ucl"].iloc[0] == pytest.approx(0.8989, abs=1e-4)
    # the chart's z is in units of the Laney sigma: -2/2.659574 = -0.7520
    assert chart["z"].round(4).tolist() == [-0.752, 0.752, -0.376, 0.376]
    # the same data on a p chart: 0.5 -/+ 0.15
    p_chart = control_chart(data, chart="p")
    assert (p_chart["lcl"].iloc[0], p_chart["ucl"].iloc[0]) == pytest.approx((0.35, 0.65))
    assert p_chart["z"].tolist() == pytest.approx([-2, 2, -1, 1])


def test_laney_chart_with_unequal_n_by_hand():
    data = pd.DataFrame({"period": [1, 2, 3], "n": [100, 400, 100],
                         "successes": [30, 80, 30]})
    chart = control_chart(data, chart="laney")
    # p-bar = 140/600 = 0.233333, p(1-p) = 0.178889
    # sigma_i: n=100 0.042295, n=400 0.021148
    # z = (0.3-0.233333)/0.042295 = 1.5762, (0.2-0.233333)/0.021148 = -1.5762, 1.5762
    # MR = 3.1524, 3.1524 -> sigma_z = 3.1524/1.128 = 2.7947
    assert chart["sigma_z"].iloc[0] == pytest.approx(2.7947, abs=1e-4)
    # UCL for n=400: 0.233333 + 3 * 0.021148 * 2.7947 = 0.4106
    assert chart["ucl"].iloc[1] == pytest.approx(0.4106, abs=1e-4)
    # LCL for n=100: 0.233333 - 3 * 0.042295 * 2.7947 = -0.1213 -> clipped to 0
    assert chart["lcl"].iloc[0] == 0.0


def test_auto_picks_laney_only_when_over_dispersed():
    over = pd.DataFrame({"period": [1, 2, 3, 4], "n": 100, "successes": [40, 60, 45, 55]})
    assert control_chart(over)["chart"].iloc[0] == "laney"  # sigma_z = 2.66 > 1.2
    calm = pd.DataFrame({"period": [1, 2, 3, 4], "n": 100, "successes": [50, 51, 50, 51]})
    chart = control_chart(calm)
    # z = -/+0.1, MR = 0.2, sigma_z = 0.177 < 1.2: binomial limits kept
    assert chart["sigma_z"].iloc[0] < LANEY_THRESHOLD
    assert chart["chart"].iloc[0] == "p"


def test_baseline_periods_fix_center_and_sigma_on_the_first_periods():
    data = pd.DataFrame({"period": [1, 2, 3, 4, 5], "n": 100,
                         "successes": [40, 60, 45, 55, 90]})
    chart = control_chart(data, chart="laney", baseline_periods=4)
    # the baseline is the four periods of test_laney_chart_by_hand; period 5 is judged against it
    assert chart["center"].iloc[0] == pytest.approx(0.5)
    assert chart["sigma_z"].iloc[0] == pytest.approx(3 / 1.128)
    assert chart["baseline"].tolist() == [True, True, True, True, False]
    # (0.9 - 0.5) / (0.05 * 2.659574) = 3.008 > 3: the new period is out of control
    assert chart["z"].iloc[4] == pytest.approx(0.4 / (0.05 * 3 / 1.128))
    assert _fired(run_rules(chart), "beyond_limits") == [5]


def test_control_chart_custom_columns_and_no_mutation():
    data = pd.DataFrame({"month": [2, 1], "leads": [100, 100], "won": [30, 20]})
    before = data.copy()
    chart = control_chart(data, successes="won", trials="leads", period_column="month",
                          chart="p")
    pd.testing.assert_frame_equal(data, before)
    assert chart["period"].tolist() == [1, 2]
    assert chart["center"].iloc[0] == pytest.approx(0.25)


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"chart": "np"}, ConfigError, r"`chart` must be one of \['auto', 'p', 'laney'\], but 'np'"),
    ({"sigma": 0}, ConfigError, r"`sigma` must be a positive number, but 0 was passed"),
    ({"baseline_periods": 9}, ConfigError, r"`baseline_periods` must be a whole number from 1 "
                                           r"to 3"),
    ({"chart": "laney", "baseline_periods": 1}, ConfigError, r"at least 2 baseline periods"),
    ({"trials": "leads"}, DataError, r"lacks the column\(s\) \['leads'\]"),
])
def test_control_chart_rejects_bad_options(kwargs, error, match):
    data = pd.DataFrame({"period": [1, 2, 3], "n": 100, "successes": [40, 50, 60]})
    with pytest.raises(error, match=match):
        control_chart(data, **kwargs)


@pytest.mark.parametrize(("n", "successes", "match"), [
    ([100, 0, 100], [40, 0, 60], r"row 2, column 'n'.*trials must be positive"),
    ([100, 100, 100], [40, 120, 60], r"row 2, column 'successes'.*more successes than trials"),
    ([100, 100, 100], [0, 0, 0], r"baseline periods hold no success"),
])
def test_control_chart_rejects_bad_counts(n, successes, match):
    data = pd.DataFrame({"period": [1, 2, 3], "n": n, "successes": successes})
    with pytest.raises(DataError, match=match):
        control_chart(data, chart="p")


def test_control_chart_rejects_duplicate_periods():
    data = pd.DataFrame({"period": [1, 1], "n": 100, "successes": [40, 50]})
    with pytest.raises(DataError, match=r"more than one row for \{'period': 1\}"):
        control_chart(data)


# --------------------------------------------------------------------------------------------
# run_rules
# --------------------------------------------------------------------------------------------

def test_beyond_limits_fires_outside_three_sigma_only():
    alerts = run_rules(_chart([0.0, 3.1, -3.2, 2.9, -2.99]), rules=["beyond_limits"])
    assert _fired(alerts, "beyond_limits") == [2, 3]
    assert alerts["direction"].tolist() == ["up", "down"]
    assert alerts["severity"].unique().tolist() == ["high"]
    assert "upper control limit" in alerts["description"].iloc[0]


def test_beyond_limits_follows_the_limit_option():
    alerts = run_rules(_chart([0.0, 2.6]), rules=["beyond_limits"], limit=2.5)
    assert _fired(alerts, "beyond_limits") == [2]


def test_run_of_8_fires_on_the_eighth_point_on_one_side():
    alerts = run_rules(_chart([-0.5] + [0.5] * 9), rules=["run_of_8"])
    # points 2..9 are the first eight above; point 10 extends the run
    assert _fired(alerts, "run_of_8") == [9, 10]
    assert set(alerts["direction"]) == {"up"}
    assert alerts["description"].iloc[0] == "8 or more points in a row above the center line"


def test_run_of_8_not_fired_by_seven_or_a_broken_run():
    assert run_rules(_chart([0.5] * 7 + [-0.5]), rules=["run_of_8"]).empty
    # a point exactly on the center line breaks the run
    assert run_rules(_chart([-0.5] * 4 + [0.0] + [-0.5] * 4), rules=["run_of_8"]).empty
    # a missing z breaks it as well
    assert run_rules(_chart([-0.5] * 4 + [np.nan] + [-0.5] * 4), rules=["run_of_8"]).empty


def test_run_length_is_configurable_by_name():
    z = [-0.2] * 8
    assert _fired(run_rules(_chart(z), rules=["run_of_8"]), "run_of_8") == [8]
    assert run_rules(_chart(z), rules=["run_of_9"]).empty
    assert _fired(run_rules(_chart(z + [-0.1]), rules=["run_of_9"]), "run_of_9") == [9]


def test_trend_of_6_fires_on_six_steadily_rising_points():
    alerts = run_rules(_chart([-1.0, -0.5, 0.0, 0.5, 1.0, 1.5]), rules=["trend_of_6"])
    assert _fired(alerts, "trend_of_6") == [6]
    assert alerts["direction"].tolist() == ["up"]
    assert alerts["severity"].tolist() == ["low"]
    down = run_rules(_chart([2.0, 1.5, 1.0, 0.5, 0.0, -0.5, -1.0]), rules=["trend_of_6"])
    assert _fired(down, "trend_of_6") == [6, 7]
    assert set(down["direction"]) == {"down"}


def test_trend_of_6_not_fired_by_five_points_or_a_tie():
    assert run_rules(_chart([-1.0, -0.5, 0.0, 0.5, 1.0]), rules=["trend_of_6"]).empty
    assert run_rules(_chart([-1.0, -0.5, -0.5, 0.0, 0.5, 1.0]), rules=["trend_of_6"]).empty
    assert run_rules(_chart([-1.0, -0.5, 0.0, -0.2, 0.5, 1.0]), rules=["trend_of_6"]).empty


def test_two_of_three_beyond_2sigma():
    rule = ["two_of_three_beyond_2sigma"]
    assert _fired(run_rules(_chart([2.5, 0.0, 2.1]), rules=rule), rule[0]) == [3]
    # the point between may be on the other side
    assert _fired(run_rules(_chart([-2.5, 2.5, -2.1]), rules=rule), rule[0]) == [3]
    # two adjacent points fire at the second; the third (inside) does not; at the start of the
    # chart 2 of the first 2 counts
    assert _fired(run_rules(_chart([0.0, 2.5, 2.5, 0.0]), rules=rule), rule[0]) == [3]
    assert _fired(run_rules(_chart([2.5, 2.5, 0.0]), rules=rule), rule[0]) == [2]
    down = run_rules(_chart([0.0, -2.2, -2.4]), rules=rule)
    assert down["direction"].tolist() == ["down"]
    assert "below the center line" in down["description"].iloc[0]


def test_two_of_three_not_fired_inside_2sigma_or_on_opposite_sides():
    rule = ["two_of_three_beyond_2sigma"]
    assert run_rules(_chart([2.5, 0.0, 1.9]), rules=rule).empty
    assert run_rules(_chart([2.5, -2.1, 0.0]), rules=rule).empty
    assert run_rules(_chart([2.5, 0.0, 0.0, 2.5]), rules=rule).empty  # 4 apart


def test_four_of_five_beyond_1sigma():
    rule = ["four_of_five_beyond_1sigma"]
    assert _fired(run_rules(_chart([1.5, 1.5, 0.0, 1.5, 1.5]), rules=rule), rule[0]) == [5]
    assert run_rules(_chart([1.5, 0.0, 0.0, 1.5, 1.5]), rules=rule).empty
    assert run_rules(_chart([1.5, 1.5, -1.5, -1.5, 1.5]), rules=rule).empty


def test_default_rules_and_columns():
    z = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 3.5]
    alerts = run_rules(_chart(z))
    assert list(alerts.columns) == ["period", "rule", "description", "rate", "center", "z",
                                    "direction", "severity"]
    # point 6 completes the trend; point 8 is beyond 3 sigma, completes the run of 8 and
    # extends the trend (ordered by period, then rule order)
    assert list(zip(alerts["period"], alerts["rule"], strict=True)) == [
        (6, "trend_of_6"), (7, "trend_of_6"), (8, "beyond_limits"), (8, "run_of_8"),
        (8, "trend_of_6")]


def test_run_rules_per_kpi_and_empty_result():
    stacked = pd.concat([_chart([0.0, 3.5], kpi="a"), _chart([0.0, 0.0], kpi="b")])
    alerts = run_rules(stacked)
    assert alerts["kpi"].tolist() == ["a"]
    assert alerts.columns[0] == "kpi"
    quiet = run_rules(_chart([0.0, 0.1]))
    assert quiet.empty and "severity" in quiet.columns


@pytest.mark.parametrize(("rules", "match"), [
    (["run_of_eight"], r"`rules` must hold names from \['beyond_limits', 'run_of_8'"),
    (["trend_of_2"], r"too short: `trend_of_<k>` needs k >= 3"),
])
def test_run_rules_rejects_unknown_rules(rules, match):
    with pytest.raises(ConfigError, match=match):
        run_rules(_chart([0.0]), rules=rules)


# --------------------------------------------------------------------------------------------
# scorecard
# --------------------------------------------------------------------------------------------

def _rate_kpi(name, counts, *, target=0.40, hib=True):
    """Rows of a rate KPI for successive periods from [(successes, n), ...]."""
    rows = []
    for index, (successes, n) in enumerate(counts, start=1):
        low, high = stats.binomtest(successes, n).proportion_ci(method="wilson")
        rows.append({"kpi": name, "period": f"2024-{index:02d}", "n": n,
                     "successes": successes, "value": successes / n, "ci_low": low,
                     "ci_high": high, "target": target, "higher_is_better": hib})
    return rows


def _value_kpi(name, values, *, target, hib, halfwidth=4.0):
    return [{"kpi": name, "period": f"2024-{index:02d}", "n": np.nan, "successes": np.nan,
             "value": value, "ci_low": value - halfwidth, "ci_high": value + halfwidth,
             "target": target, "higher_is_better": hib}
            for index, value in enumerate(values, start=1)]


def _status(rows, **kwargs):
    return scorecard(pd.DataFrame(rows), **kwargs).set_index("kpi")["status"]


def _exact_lower_tail(successes, n, p):
    """P(X <= successes) for X ~ Binomial(n, p), summed term by term."""
    return sum(math.comb(n, k) * p ** k * (1 - p) ** (n - k) for k in range(successes + 1))


def test_scorecard_status_for_rates():
    rows = (_rate_kpi("on", [(45, 100)]) + _rate_kpi("short", [(37, 100)])
            + _rate_kpi("far", [(60, 200)]) + _rate_kpi("free", [(30, 100)], target=np.nan))
    card = scorecard(pd.DataFrame(rows)).set_index("kpi")
    assert card.loc["on", "status"] == "on target"
    # 37/100 vs 0.40: P(X <= 37 | n=100, p=0.4) = 0.3068 -> not significant
    assert card.loc["short", "status"] == "below target, not significant"
    assert card.loc["on", "status_code"] == "on_target"
    assert card.loc["short", "status_code"] == "below_target_not_significant"
    assert card.loc["free", "status_code"] == "no_target"
    assert isinstance(card["status_code"].dtype, pd.CategoricalDtype)
    assert card.loc["short", "p_value"] == pytest.approx(_exact_lower_tail(37, 100, 0.4))
    assert card.loc["short", "p_value"] == pytest.approx(0.3068, abs=1e-4)
    # 60/200 vs 0.40: P(X <= 60 | n=200, p=0.4) = 0.0021 -> significant
    assert card.loc["far", "status"] == "significantly below target"
    assert card.loc["far", "p_value"] == pytest.approx(_exact_lower_tail(60, 200, 0.4))
    assert card.loc["free", "status"] == "no target"
    assert math.isnan(card.loc["free", "p_value"])


def test_scorecard_status_for_lower_is_better_kpis():
    rows = (_value_kpi("days_ok", [40.0], target=45.0, hib=False)
            + _value_kpi("days_unsure", [50.0], target=45.0, hib=False, halfwidth=8.0)
            + _value_kpi("days_late", [50.0], target=45.0, hib=False, halfwidth=3.0)
            # lost rate: lower is better, 60/100 vs target 0.5 -> P(X >= 60) = 0.0284
            + _rate_kpi("lost_rate", [(60, 100)], target=0.5, hib=False))
    status = _status(rows)
    assert status["days_ok"] == "on target"
    assert status["days_unsure"] == "off target, not significant"  # CI [42, 58] holds 45
    assert status["days_late"] == "significantly off target"  # CI [47, 53] above 45
    assert status["lost_rate"] == "significantly off target"
    p_value = scorecard(pd.DataFrame(rows)).set_index("kpi").loc["lost_rate", "p_value"]
    assert p_value == pytest.approx(1 - _exact_lower_tail(59, 100, 0.5))
    assert p_value == pytest.approx(0.0284, abs=1e-4)


def test_scorecard_status_for_higher_is_better_values_uses_the_interval():
    rows = (_value_kpi("value_unsure", [100.0], target=120.0, hib=True, halfwidth=25.0)
            + _value_kpi("value_short", [100.0], target=120.0, hib=True, halfwidth=15.0))
    status = _status(rows)
    assert status["value_unsure"] == "below target, not significant"  # [75, 125]
    assert status["value_short"] == "significantly below target"  # [85, 115]


def test_scorecard_small_n_makes_no_claim():
    # 3/20 vs 0.40: P(X <= 3 | n=20, p=0.4) = 0.0160 would be significant with enough records
    rows = _rate_kpi("few_short", [(3, 20)]) + _rate_kpi("few_ok", [(10, 20)])
    status = _status(rows)
    assert status["few_short"] == "below target (too few records to conclude)"
    assert status["few_ok"] == "on target (too few records to conclude)"
    # the guard follows min_n
    assert _status(rows, min_n=10)["few_short"] == "significantly below target"


def test_scorecard_latest_period_previous_value_and_change():
    rows = _rate_kpi("conv", [(40, 100), (45, 100), (35, 100)])
    card = scorecard(pd.DataFrame(rows))
    assert card["period"].tolist() == ["2024-03"]
    assert card["value"].iloc[0] == pytest.approx(0.35)
    assert card["previous_value"].iloc[0] == pytest.approx(0.45)
    assert card["change"].iloc[0] == pytest.approx(-0.10)
    earlier = scorecard(pd.DataFrame(rows), period_label="2024-02")
    assert earlier["value"].iloc[0] == pytest.approx(0.45)
    assert earlier["status"].iloc[0] == "on target"


def test_scorecard_trend_for_rates_and_values():
    rising = _rate_kpi("rising", [(300, 1000), (330, 1000), (360, 1000), (390, 1000)])
    falling = _rate_kpi("falling", [(390, 1000), (360, 1000), (330, 1000), (300, 1000)])
    flat = _rate_kpi("flat", [(400, 1000), (405, 1000), (398, 1000), (402, 1000)])
    faster = _value_kpi("days", [60.0, 55.0, 50.0, 45.0, 40.0], target=45.0, hib=False)
    short = _rate_kpi("short", [(40, 100), (45, 100)])
    trend = scorecard(pd.DataFrame(rising + falling + flat + faster + short)).set_index("kpi")
    assert trend.loc["rising", "trend"] == "improving"
    assert trend.loc["falling", "trend"] == "worsening"
    assert trend.loc["flat", "trend"] == "stable"
    assert trend.loc["days", "trend"] == "improving"  # falling duration, lower is better
    assert trend.loc["short", "trend"] == "too few periods"
    # the trend p-value is the Cochran-Armitage test over the periods
    _, p_value = _trend_p(np.array([300, 330, 360, 390]), np.array([1000] * 4))
    assert trend.loc["rising", "trend_p_value"] == pytest.approx(p_value)


def test_trend_test_matches_r_prop_trend_test():
    # R: prop.trend.test(c(83, 90, 129, 70), c(86, 93, 136, 82))
    #    X-squared = 8.2249, df = 1, p-value = 0.004132  (example of ?prop.trend.test)
    z, p_value = _trend_p(np.array([83, 90, 129, 70]), np.array([86, 93, 136, 82]))
    assert z ** 2 == pytest.approx(8.2249, abs=1e-4)
    assert p_value == pytest.approx(0.004132, abs=1e-6)
    assert z < 0  # the proportions fall


def test_scorecard_higher_is_better_argument_and_column():
    rows = _value_kpi("days", [50.0], target=45.0, hib=False, halfwidth=3.0)
    frame = pd.DataFrame(rows).drop(columns="higher_is_better")
    with pytest.raises(DataError, match=r"`higher_is_better` is missing or empty for KPIs "
                                        r"\['days'\]"):
        scorecard(frame)
    assert scorecard(frame, higher_is_better=False)["status"].iloc[0] == (
        "significantly off target")
    assert scorecard(frame, higher_is_better={"days": True})["status"].iloc[0] == "on target"
    with pytest.raises(ConfigError, match=r"names KPIs that are not in `kpis`: \['dayz'\]"):
        scorecard(frame, higher_is_better={"dayz": False})


def test_scorecard_rejects_percent_targets_and_does_not_mutate():
    frame = pd.DataFrame(_rate_kpi("conv", [(40, 100)], target=40))
    before = frame.copy()
    with pytest.raises(DataError, match=r"must be a proportion between 0 and 1.*write 0.4 for "
                                        r"40%"):
        scorecard(frame)
    pd.testing.assert_frame_equal(frame, before)
    ok = pd.DataFrame(_rate_kpi("conv", [(40, 100)]))
    before = ok.copy()
    scorecard(ok)
    pd.testing.assert_frame_equal(ok, before)


# --------------------------------------------------------------------------------------------
# period_report
# --------------------------------------------------------------------------------------------

def _report_kpis():
    conversion = _rate_kpi("Conversion Lead → Opportunity", [(205, 500), (165, 500)])
    win_rate = _rate_kpi("Win rate", [(60, 200), (62, 200)], target=0.25)
    days = _value_kpi("Days to order", [40.0, 50.0], target=45.0, hib=False)
    return pd.DataFrame(conversion + win_rate + days)


def test_two_rate_test_by_hand():
    # 205/500 vs 165/500: pooled p = 0.37, se = sqrt(0.37 * 0.63 * (2/500)) = 0.030535,
    # z = -0.08 / 0.030535 = -2.6199, two-sided p = 0.0088 (= R prop.test(correct = FALSE))
    assert _two_rate_p(205, 500, 165, 500) == pytest.approx(2 * stats.norm.sf(2.6199), abs=1e-4)
    assert _two_rate_p(205, 500, 165, 500) == pytest.approx(0.0088, abs=1e-4)
    # small counts use Fisher's exact test
    assert _two_rate_p(1, 10, 6, 10) == pytest.approx(
        stats.fisher_exact([[1, 9], [6, 4]]).pvalue)


def test_period_report_what_changed_and_headline():
    report = period_report(_report_kpis(), None)
    assert isinstance(report, PeriodReport)
    assert report.period == "2024-02"
    assert report.previous_period == "2024-01"
    changed = report.what_changed.set_index("kpi")
    assert list(report.what_changed.columns) == ["kpi", "previous_period", "previous", "period",
                                                 "current", "change", "significant", "p_value",
                                                 "is_rate", "higher_is_better"]
    assert changed.loc["Conversion Lead → Opportunity", "change"] == pytest.approx(-0.08)
    assert bool(changed.loc["Conversion Lead → Opportunity", "significant"])
    assert not bool(changed.loc["Win rate", "significant"])
    # Days: 40 [36, 44] -> 50 [46, 54]; se = 4/1.96 each, z = 10 / 2.8862 = 3.4648, p = 0.00053
    assert changed.loc["Days to order", "p_value"] == pytest.approx(0.00053, abs=1e-5)
    assert report.headline[0] == ("In 2024-02, 1 of 3 KPIs with a target is on target. "
                                  "Clearly short of target: Conversion Lead → Opportunity, "
                                  "Days to order.")
    assert ("Conversion Lead → Opportunity fell from 41% to 33% (significant, p = 0.009; worse)."
            in report.headline)
    assert "Days to order rose from 40 to 50 (significant, p < 0.001; worse)." in report.headline
    assert report.headline[-1] == ("1 other KPI changed no more than chance would explain "
                                   "(not significant at the 5% level).")


def test_period_report_keeps_only_alerts_of_the_period():
    alerts = pd.DataFrame({
        "kpi": ["Win rate", "Win rate"], "period": ["2024-01", "2024-02"],
        "rule": ["beyond_limits", "run_of_8"],
        "description": ["point beyond the upper control limit (3 sigma)",
                        "8 or more points in a row below the center line"],
        "direction": ["up", "down"], "severity": ["high", "medium"]})
    report = period_report(_report_kpis(), alerts, period_label="2024-02")
    assert report.alerts["rule"].tolist() == ["run_of_8"]
    assert ("Alert (medium) Win rate: 8 or more points in a row below the center line."
            in report.headline)
    summary = report.summary.set_index("kpi")
    assert summary.loc["Win rate", "alerts"] == 1
    assert summary.loc["Days to order", "alerts"] == 0
    assert summary.loc["Win rate", "status"] == "on target"
    html = report._repr_html_()
    assert "Period report: 2024-02" in html and "run_of_8" in html


def test_period_report_without_direction_skips_the_scorecard():
    kpis = _report_kpis().drop(columns="higher_is_better")
    report = period_report(kpis, None, period_label="2024-02")
    assert report.scorecard is None
    assert not report.headline[0].startswith("In 2024-02")
    with pytest.raises(ConfigError, match=r"`period_label` must be one of the periods in `kpis`"):
        period_report(kpis, None, period_label="2023-12")


def test_period_report_formats_amounts_plainly():
    kpis = pd.DataFrame(_value_kpi("Order value", [12500.0, 15000.0], target=10000.0, hib=True,
                                   halfwidth=500.0))
    report = period_report(kpis, None)
    # 12,500 [12,000, 13,000] -> 15,000 [14,500, 15,500]: z = 2500 / 360.8 = 6.9, p < 0.001
    assert "Order value rose from 12,500 to 15,000 (significant, p < 0.001; better)." in (
        report.headline)
    assert report.headline[0] == "In 2024-02, 1 of 1 KPIs with a target is on target."


def test_a_month_of_one_deal_is_not_judged_and_no_fall_is_claimed_from_it():
    # What was seen: the scorecard's "latest judgeable month" was 0.000 (0.000-0.793), n = 1,
    # and the period report flagged a fall from it. 2026-06 (40 of 100), 2026-07 (30 of 100),
    # 2026-08 (0 of 1): August is not judged; July is, against June: 30/100 vs 40/100, pooled
    # z = -1.48, p = 0.14: not a significant fall either.
    kpis = pd.DataFrame({"kpi": "conversion_a_b", "period": ["2026-06", "2026-07", "2026-08"],
                         "value": [0.40, 0.30, 0.0], "n": [100, 100, 1],
                         "successes": [40, 30, 0], "ci_low": [0.31, 0.22, 0.0],
                         "ci_high": [0.50, 0.40, 0.793], "target": 0.35, "immature_n": 0,
                         "higher_is_better": True})
    card = scorecard(kpis, min_n=30).iloc[0]
    assert card["period"] == "2026-07" and card["n"] == 100
    assert "2026-08 is not judged (n = 1, fewer than the 30 needed" in card["note"]
    report = period_report(kpis, None, period_label="2026-08")
    assert report.what_changed["significant"].isna().all()   # nothing claimed about August
    # a month still inside its window is not judged either, whatever its n
    young = kpis.assign(n=[100, 100, 80], successes=[40, 30, 10], immature_n=[0, 0, 25])
    assert scorecard(young).iloc[0]["period"] == "2026-07"


def test_the_scorecard_lists_the_kpis_in_the_process_order_not_the_alphabet(tmp_path):
    # HubSpot sample: alphabetically "discovery -> qualified" comes before "lead engaged ->
    # discovery"; a board reads the scorecard in the order of the process (the KPI set's)
    from samples import write_sample_engagement

    from toolkit import Engagement
    from toolkit.analysis.steering import steering_view
    from toolkit.measure.kpis import kpis_from_config
    e = Engagement.from_yaml(write_sample_engagement(tmp_path, "hubspot_accredible"))
    card = steering_view(e).card
    order = [k.name for k in kpis_from_config(e)]
    shown = list(card["kpi"])
    assert shown[:2] == ["conversion_lead_engaged_discovery", "conversion_discovery_qualified"]
    assert shown == sorted(shown, key=order.index)
