"""KPI definitions and compute_kpis, on a hand-made engagement whose answers were worked out by hand."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import DEMO as DEMO_FOLDER
from test_funnel import make

from toolkit import Engagement
from toolkit.base.exceptions import ConfigError
from toolkit.cli import main
from toolkit.measure.kpis import KPI, compute_kpis, default_kpis, kpis_from_config, status_vs_target


@pytest.fixture
def eng():
    # as_of 31 Mar 2025; a -> b with a 30-day window (same log as test_funnel.cohorts)
    return make(
        [("R1", "a", "2025-01-01"), ("R1", "b", "2025-01-20"),
         ("R2", "a", "2025-01-05"), ("R2", "b", "2025-02-20"),
         ("R3", "a", "2025-01-10"),
         ("R7", "a", "2025-01-25"), ("R7", "b", "2025-02-05"),
         ("R6", "a", "2025-02-10"),
         ("R5", "a", "2025-03-01"),
         ("R4", "a", "2025-03-15")],
        [("R1", "open", None, "x"), ("R2", "open", None, "x"), ("R3", "lost", "2025-01-30", "x"),
         ("R7", "open", None, "y"), ("R6", "open", None, "y"), ("R5", "open", None, "y"),
         ("R4", "open", None, "y")], as_of="2025-03-31", cohort_window_days=30,
        targets={"conversion_a_b": 0.9})


def one(frame, kpi):
    rows = frame[frame["kpi"] == kpi]
    assert len(rows) == 1
    return rows.iloc[0]


def test_conversion_kpi_counts_mature_cohorts_only(eng):
    k = compute_kpis(eng)
    row = one(k, "conversion_a_b")
    # mature (reached a by 1 Mar): R1 R2 R3 R7 R6 R5 -> converted within 30 d: R1, R7 -> 2 / 6
    assert (row["n"], row["successes"], row["immature_n"]) == (6, 2, 1)
    assert row["value"] == pytest.approx(2 / 6)
    # target 0.9 from the YAML targets; the Wilson interval for 2/6 tops out near 0.70
    assert row["target"] == 0.9 and row["status_vs_target"] == "significantly off target"


def test_duration_kpi_is_the_converters_median_with_lost_competing_and_open_censored(eng):
    row = one(compute_kpis(eng), "duration_a_b")
    # spells a -> b in days: 11 conv, 16 open, 19 conv, 20 lost, 30 open, 46 conv, 49 open.
    # Aalen-Johansen F of converting: F(11) = 1/7 = 0.143 (S = 6/7); F(19) = 0.143 + 6/7 * 1/5
    # = 0.314 (S = 0.686); the loss at 20: S = 0.686 * 3/4 = 0.514; F(46) = 0.314 + 0.514 * 1/2
    # = 0.571, the plateau. Half of it (0.286) is first reached on day 19: the median among
    # records that convert. (The Kaplan-Meier median with lost censored said 46 days: the
    # "nobody is ever lost" world; the mean of the converted alone says 25.3 days.)
    assert row["value"] == pytest.approx(19.0)
    assert (row["n"], row["successes"], row["open_n"]) == (7, 3, 3)
    assert not row["higher_is_better"]


def test_volume_kpi_has_an_exact_poisson_interval(eng):
    k = compute_kpis(eng, kpis=[KPI(name="v", kind="volume", phase="b")], period="month")
    jan = k.set_index("period").loc["2025-01"]
    # entries into b in January: R1 (20 Jan) -> but R7 reached b on 5 Feb: January = 1
    assert jan["value"] == 1
    feb = k.set_index("period").loc["2025-02"]
    assert feb["value"] == 2  # R2 and R7
    # R: poisson.test(2)$conf.int -> 0.2422093 7.2246877
    assert feb["ci_low"] == pytest.approx(0.2422093, abs=1e-6)
    assert feb["ci_high"] == pytest.approx(7.2246877, abs=1e-6)


def test_win_rate_kpi_and_censoring_aware_version(eng):
    k = compute_kpis(eng, kpis=[KPI(name="w", kind="win_rate")])
    row = one(k, "w")
    assert (row["successes"], row["n"], row["open_n"]) == (0, 1, 6)  # no wins, 1 lost, 6 open
    assert row["from_phase"] is None


def test_compute_kpis_by_segment_and_period(eng):
    k = compute_kpis(eng, kpis=[KPI(name="c", kind="conversion", from_phase="a", to_phase="b",
                                    window_days=30)], by="segment", period="month")
    x_jan = k[(k["segment"] == "x") & (k["period"] == "2025-01")].iloc[0]
    # segment x in January: R1 yes, R2 no, R3 no -> 1 / 3
    assert (x_jan["n"], x_jan["successes"]) == (3, 1)
    assert list(k.columns[:5]) == ["kpi", "label", "kind", "unit", "segment"]


def test_status_vs_target_takes_the_interval_into_account():
    status = status_vs_target([0.5, 0.5, 0.5, 0.5, 30.0, 30.0], [0.3, 0.3, 0.45, 0.3, 25, 25],
                              [0.7, 0.7, 0.55, 0.7, 35, 35], [0.4, 0.6, 0.6, float("nan"), 28, 40],
                              [True, True, True, True, False, False])
    assert list(status) == ["on target", "off target, not significant", "significantly off target",
                            "no target", "off target, not significant", "on target"]


def test_default_kpis_follow_the_phase_model(eng):
    names = [k.name for k in default_kpis(eng)]
    assert names[:3] == ["conversion_a_b", "conversion_b_c", "conversion_c_d"]
    assert {"cumulative_conversion", "volume_a", "win_rate", "sales_velocity"} <= set(names)


def test_declared_kpi_with_an_unknown_phase_names_the_key(eng):
    eng.config.kpis = [{"name": "x", "kind": "conversion", "from_phase": "lead", "to_phase": "b"}]
    with pytest.raises(ConfigError, match=r"key `kpis\[0\].from_phase`.*'lead'"):
        kpis_from_config(eng)
    eng.config.kpis = [{"name": "x", "kind": "conversie"}]
    with pytest.raises(ConfigError, match=r"kpis\[0\].kind"):
        kpis_from_config(eng)


def test_demo_kpis_show_the_planted_bottleneck():
    from conftest import DEMO

    from toolkit import Engagement
    k = compute_kpis(Engagement.from_yaml(DEMO / "engagement.yaml"))
    conv = k[k["kind"] == "conversion"].set_index("kpi")["value"]
    assert conv.idxmin() == "conversion_opportunity_proposal"
    assert (k["n"].notna() & (k["kind"] == "conversion")).sum() == 4
    assert pd.notna(one(k, "sales_velocity")["value"])


def test_duration_kpi_has_a_value_wherever_a_record_converted():
    # What was seen: duration KPIs read "no data" where there was data. One record converted
    # after 5 days, two are still open after 10 and 12: the Kaplan-Meier curve with the open
    # ones censored only falls to 2/3, so its median "does not exist"; the converters' median is
    # plainly 5 days.
    e = make([("R1", "a", "2025-03-01"), ("R1", "b", "2025-03-06"),
              ("R2", "a", "2025-03-21"), ("R3", "a", "2025-03-19")],
             [("R1", "open", None, "x"), ("R2", "open", None, "x"), ("R3", "open", None, "x")],
             as_of="2025-03-31", cohort_window_days=30)
    row = one(compute_kpis(e), "duration_a_b")
    assert row["value"] == pytest.approx(5.0)
    assert row["status_vs_target"] != "no data" or pd.isna(row["target"])
    assert pd.notna(row["value"])


DEMO = DEMO_FOLDER / "engagement.yaml"


def test_the_published_kpi_file_keeps_its_columns_while_the_table_is_long(tmp_path):
    # The library's KPI table is long (attribute, segment) with a status code; the file of
    # `funnel kpis --out` keeps the columns it was published with (segment 'action=network').
    demo = Engagement.from_yaml(DEMO)
    frame = compute_kpis(demo)
    cost = frame[frame["kind"] == "cost_per"]
    assert len(cost) and set(cost["attribute"]) == {"action"}
    assert not cost["segment"].str.contains("=").any()
    assert main(["kpis", str(DEMO), "--out", str(tmp_path / "k.csv")]) == 0
    written = pd.read_csv(tmp_path / "k.csv")
    assert "status_code" not in written and "attribute" not in written
    cost_rows = written[written["kind"] == "cost_per"]
    assert sorted(cost_rows["segment"]) == sorted("action=" + cost["segment"])
    assert list(written["status_vs_target"]) == list(frame["status_vs_target"])


def test_a_young_creation_month_of_the_win_rate_is_not_judged():
    """By creation month the quick losses close first: the demo's last month read 0.0% won of its
    closed deals on the board's scorecard. A month with open records younger than the cohort window
    is immature (`immature_n`), and the scorecard takes the last month without any, as it does for
    the conversions."""
    from toolkit import steps
    e = Engagement.from_yaml(DEMO)
    monthly = compute_kpis(e, period="month")
    win = monthly[monthly["kpi"] == "win_rate"].set_index("period")
    window = pd.Timedelta(days=e.config.cohort_window_days)
    records = e.records
    young = records[(records["outcome"] == "open") & (records["created_at"] > e.as_of - window)]
    expected = young["created_at"].dt.to_period("M").astype(str).value_counts()
    assert (win["immature_n"].reindex(expected.index) == expected).all()
    assert win.loc[win.index.max(), "immature_n"] > 0
    old = win[win["immature_n"] == 0]
    assert len(old) and old.index.max() <= (e.as_of - window).strftime("%Y-%m")
    card = steps.steering(e).tables["scorecard"].set_index("kpi")
    assert card.loc["win_rate", "period"] == old.index.max()  # juli 2026, as the conversions
