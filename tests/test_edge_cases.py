"""Edge engagements through the whole pipeline: no records, one record, all open, all lost, a phase
nobody entered, one segment only, a cohort month with one record.

Each stage must run without an error and say what it cannot know ("no data", "too few records to
conclude") instead of printing NaN or claiming a conclusion. The expected numbers are worked out
by hand from the small CSVs of tests/edge.py (comments there give the arithmetic).
"""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from conftest import PHASES  # noqa: E402
from edge import CASES, empty_tables, write_case  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from toolkit import Engagement  # noqa: E402
from toolkit.analysis.diagnosis import (  # noqa: E402
    bottleneck_sizing,
    leak_detail,
    low_hanging_fruit,
    mix_vs_rate,
    segment_scan,
    shortage_or_leak,
)
from toolkit.analysis.planning import FACTORS, estimate_duration  # noqa: E402
from toolkit.analysis.simulation import plan_improvement  # noqa: E402
from toolkit.analysis.steering import steering_view  # noqa: E402
from toolkit.base.exceptions import DataError  # noqa: E402
from toolkit.cli.kpis import format_kpis as _format_kpis  # noqa: E402
from toolkit.measure.audit import audit as run_audit  # noqa: E402
from toolkit.measure.funnel import cohort_conversion, funnel, win_rate  # noqa: E402
from toolkit.measure.kpis import compute_kpis, default_kpis, kpi_tree, step_incidence, time_to_convert  # noqa: E402
from toolkit.measure.seasonality import seasonality  # noqa: E402
from toolkit.present import narrative  # noqa: E402
from toolkit.present import plotting as tp  # noqa: E402


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    root = tmp_path_factory.mktemp("edge")
    return {case: write_case(root / case, case) for case in CASES}


@pytest.fixture(scope="module")
def engagements(paths):
    out = {case: Engagement.from_yaml(path, use_cache=False) for case, path in paths.items()}
    out["empty_tables"] = empty_tables()
    return out


ALL = CASES + ["empty_tables"]
EMPTY = ("quarantined", "empty_tables")


# ----------------------------------------------------------------------------- loading, funnel
def test_every_quarantined_row_leaves_an_empty_but_usable_engagement(engagements):
    e = engagements["quarantined"]
    assert len(e.records) == 0 and len(e.events) == 0
    rec = e.reconciliation.iloc[0]
    assert (rec["rows_in"], rec["rows_used"], rec["rows_quarantined"]) == (3, 0, 3)


@pytest.mark.parametrize("case", ALL)
def test_funnel_table_reads_zero_over_zero_as_no_rate(engagements, case):
    f = funnel(engagements[case])
    assert f["phase"].tolist() == [p["key"] for p in PHASES]
    assert f["reached"].tolist() == sorted(f["reached"], reverse=True)
    empty_step = f["n"].eq(0)
    # 0 of 0 is not 0%: the rate and its interval are missing, never a number
    assert f.loc[empty_step, ["rate", "ci_low", "ci_high"]].isna().all().all()
    assert f.loc[f["n"].gt(0), "rate"].between(0, 1).all()


def test_funnel_counts_of_the_small_cases(engagements):
    reached = {case: funnel(engagements[case])["reached"].tolist() for case in ALL}
    assert reached["quarantined"] == reached["empty_tables"] == [0, 0, 0, 0, 0]
    assert reached["one_record"] == [1, 0, 0, 0, 0]
    assert reached["all_lost"] == reached["all_open"] == [8, 6, 4, 2, 0]
    # empty_phase: deal i reaches 1 + i % 3 phases -> 12 target, 8 lead, 4 opportunity
    assert reached["empty_phase"] == [12, 8, 4, 0, 0]


def test_all_lost_win_rate_is_zero_with_every_record_counted_and_none_open(engagements):
    w = win_rate(engagements["all_lost"])
    assert w[["n", "successes", "open"]].iloc[0].tolist() == [8, 0, 0]  # 8 lost, 0 won, 0 open
    assert w["rate"].iloc[0] == 0.0
    # Wilson upper bound for 0 of 8: z^2 / (n + z^2) = 3.8415 / 11.8415
    assert w["ci_high"].iloc[0] == pytest.approx(0.3244, abs=1e-4)


def test_all_open_win_rate_has_no_closed_deal_to_judge(engagements):
    w = win_rate(engagements["all_open"])
    assert w[["n", "open"]].iloc[0].tolist() == [0, 8]
    assert np.isnan(w["rate"].iloc[0])


def test_a_month_with_one_record_is_its_own_cohort(engagements):
    c = cohort_conversion(engagements["one_record_month"], from_phase="target", period="month")
    july = c[c["period"] == "2025-07"].iloc[0]
    assert (july["n"], july["successes"], july["rate"]) == (1, 1, 1.0)
    # Wilson interval for 1 of 1: [1 / (1 + z^2), 1] = [0.2065, 1]
    assert july["ci_low"] == pytest.approx(0.2065, abs=1e-4)


# --------------------------------------------------------------------------------------- KPIs
@pytest.fixture(scope="module")
def kpi_frames(engagements):
    return {case: compute_kpis(e) for case, e in engagements.items()}


@pytest.mark.parametrize("case", ALL)
def test_every_kpi_keeps_its_row_and_an_empty_one_says_no_data(engagements, kpi_frames, case):
    k = kpi_frames[case]
    assert set(k["kpi"]) == {kpi.name for kpi in default_kpis(engagements[case])}
    assert k["n"].notna().all()
    none = k["n"].eq(0) & k["value"].isna()
    assert (k.loc[none, "status_vs_target"] == "no data").all()
    assert (k.loc[k["value"].isna(), "status_vs_target"] == "no data").all()


@pytest.mark.parametrize("case", ALL)
def test_the_cli_table_shows_whole_counts_and_words_never_nan(kpi_frames, case):
    table = _format_kpis(kpi_frames[case])
    text = table.to_string(index=False)
    assert "nan" not in text.lower() and "<NA>" not in text
    assert table["n"].str.fullmatch(r"[\d,]+").all()  # whole numbers, no "1.0"
    assert table["immature_n"].str.fullmatch(r"[\d,]*").all()
    assert list(table.columns[-5:]) == ["n", "value (95% CI)", "immature_n", "open_n",
                                        "status_vs_target"]


@pytest.mark.parametrize("case", EMPTY)
def test_no_records_every_kpi_is_no_data(kpi_frames, case):
    k = kpi_frames[case]
    assert k["n"].eq(0).all() and k["value"].isna().all()
    assert set(k["status_vs_target"]) == {"no data"}
    assert set(_format_kpis(k)["value (95% CI)"]) == {"no data"}


def test_empty_phase_kpi_row_says_n_zero_and_no_data(kpi_frames):
    k = kpi_frames["empty_phase"].set_index("kpi")
    row = k.loc["conversion_proposal_order"]
    assert row["n"] == 0 and row["immature_n"] == 0 and np.isnan(row["value"])
    assert row["status_vs_target"] == "no data"
    table = _format_kpis(kpi_frames["empty_phase"]).set_index("label")
    # every conversion says its window (issue 21, item 11)
    assert table.loc["Conversion Offerte → Order within 90 days", "value (95% CI)"] == "no data"
    assert table.loc["Conversion Offerte → Order within 90 days", "n"] == "0"


def test_one_record_kpis_have_a_row_for_each_later_conversion(kpi_frames):
    k = kpi_frames["one_record"].set_index("kpi")
    assert k.loc["conversion_target_lead", ["n", "successes"]].tolist() == [1, 0]
    assert k.loc["conversion_lead_opportunity", "n"] == 0
    table = _format_kpis(kpi_frames["one_record"]).set_index("label")
    # one open record, never converted: the median is not reached, said in words
    assert table.loc["Median days Target → Lead", "value (95% CI)"] == "no conversions yet"
    assert table.loc["Open pipeline value", "value (95% CI)"] == "100.0"


def test_all_lost_kpis(kpi_frames):
    k = kpi_frames["all_lost"].set_index("kpi")
    win = k.loc["win_rate"]  # over every closed record: the 8 deals, all lost
    assert (win["n"], win["successes"], win["value"], win["open_n"]) == (8, 0, 0.0, 0)
    assert k.loc["won_value", "value"] == 0.0 and k.loc["pipeline_value", "value"] == 0.0
    assert k.loc["average_deal_size", "status_vs_target"] == "no data"
    table = _format_kpis(kpi_frames["all_lost"]).set_index("label")
    assert table.loc["Sales velocity from Potentieel", "value (95% CI)"] == "no won deals yet"
    # the 6 conversions all took exactly 10 days: the converters' share G steps from 0 to 1 at
    # day 10, with no spread on either side, so the Brookmeyer-Crowley interval is 10 to 10
    assert table.loc["Median days Target → Lead", "value (95% CI)"] == "10.0 (10.0–10.0)"


def test_all_open_win_rate_kpi_says_no_deal_is_closed(kpi_frames):
    win = kpi_frames["all_open"].set_index("kpi").loc["win_rate"]
    # over every record (8, all open), not those that reached Potentieel (4)
    assert (win["n"], win["open_n"], win["status_vs_target"]) == (0, 8, "no data")
    table = _format_kpis(kpi_frames["all_open"]).set_index("label")
    row = table.loc["Win rate (won / closed)"]
    assert (row["value (95% CI)"], row["open_n"]) == ("no closed deals yet", "8")


def test_kpis_by_a_single_segment_and_by_month(engagements):
    k = compute_kpis(engagements["one_segment"], by="region", period="month")
    assert set(k["region"].dropna()) <= {"Noord", "(none)"}
    assert "nan" not in _format_kpis(k).to_string(index=False).lower()
    empty = compute_kpis(engagements["quarantined"], by="region", period="month")
    assert empty["n"].eq(0).all()


@pytest.mark.parametrize("case", ALL)
def test_kpi_tree_leaves_what_it_cannot_imply_empty_and_says_so(engagements, kpi_frames, case):
    tree = kpi_tree(engagements[case], kpi_frames[case])
    assert tree["parent"].isna().sum() == 1
    text = narrative.kpi_tree(tree)
    assert "nan" not in text
    revenue = tree.set_index("node").loc["revenue", "value"]
    if case in ("one_segment", "one_record_month"):  # 8 won deals, every step measured
        assert np.isfinite(revenue)
        return
    # no won deal, or a step nobody reached: orders and revenue cannot be implied
    assert np.isnan(revenue)
    assert "Too few mature records to fill the tree" in text


# ---------------------------------------------------------------------------------- narrative
@pytest.mark.parametrize("case", ALL)
def test_measurement_text_names_its_limits(engagements, kpi_frames, case):
    e = engagements[case]
    text = narrative.measurement(kpi_frames[case], seasonality(e), time_to_convert(e))
    assert "too few" in text.lower() and "nan" not in text.lower()
    assert "significant" not in text


def test_measurement_text_names_the_phase_nobody_reached(engagements, kpi_frames):
    text = narrative.measurement(kpi_frames["empty_phase"], None)
    assert "No data for Conversion Offerte → Order" in text


def test_measurement_text_with_enough_records_still_flags_the_small_steps(kpi_frames):
    text = narrative.measurement(kpi_frames["one_segment"], None)
    # target -> lead has 40 mature records, offerte -> order only 16
    assert "Conversion Target → Lead within 90 days: 80% (n = 40" in text
    assert "Conversion Offerte → Order within 90 days: 50% (n = 16" in text
    assert "too few records to conclude (fewer than 30)" in text


def test_seasonality_does_not_judge_the_rate_from_a_one_record_month(engagements):
    s = seasonality(engagements["one_record_month"])
    # January to July 2025, June (nobody entered) included as a month with volume 0
    assert s.monthly["period"].tolist() == [f"2025-0{m}" for m in range(1, 8)]
    june = s.monthly.set_index("period").loc["2025-06"]
    assert (june["volume"], june["n"]) == (0, 0) and np.isnan(june["rate"])
    assert s.headline.startswith("Only 7 complete months of history: too short to judge")
    assert "steer on percentages" not in s.headline
    for case in ("one_record", "all_lost", "quarantined"):
        assert seasonality(engagements[case]).headline.startswith("Too few")


# The five factors as a consultant scored them: the edge cases are about the data, and without
# scores there is no duration to draw (steps.baseline says so).
_SCORED = {factor: 3 for factor in FACTORS}


@pytest.mark.parametrize("case", ALL)
def test_baseline_text(engagements, case):
    e = engagements[case]
    text = narrative.baseline(e, funnel(e), run_audit(e), estimate_duration(_SCORED))
    assert "nan" not in text.lower()
    if case in EMPTY or case in ("one_record", "all_open", "all_lost", "empty_phase"):
        assert "Too few records to conclude" in text
    if case == "quarantined":
        assert "No record could be used" in text


# ---------------------------------------------------------------------------------- diagnosis
@pytest.fixture(scope="module")
def fruits(engagements):
    return {case: low_hanging_fruit(e, seed=0) for case, e in engagements.items()}


@pytest.mark.parametrize("case", ALL)
def test_diagnosis_says_insufficient_data_and_has_no_empty_rows(fruits, case):
    fruit = fruits[case]
    assert fruit.verdict.case == "insufficient data"
    assert fruit.verdict.headline.startswith("Too few records to conclude")
    assert fruit.table[["area", "finding"]].notna().all().all()
    assert not fruit.scan["flagged"].any()
    text = narrative.diagnosis(fruit)
    assert "Too few records to conclude" in text and "nan" not in text.lower()


@pytest.mark.parametrize("case", ALL)
def test_diagnosis_parts_run_quietly_on_edge_data(engagements, case):
    e = engagements[case]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sizing = bottleneck_sizing(e, seed=0)
        verdict = shortage_or_leak(e)
        scan = segment_scan(e)
        leaks = leak_detail(e)
    assert not (sizing["rate"].notna() & sizing["reference_rate"].notna()).any()
    assert verdict.case == "insufficient data"
    assert scan["p_adjusted"].isna().all()
    assert int(leaks.lost_by_phase["lost"].sum()) == int((e.records["outcome"] == "lost").sum())
    if case in ("quarantined", "one_record"):
        with pytest.raises(DataError, match="nothing to compare"):
            mix_vs_rate(e, attribute="region", from_phase="target", to_phase="lead",
                        period_a="2025-01", period_b="2025-02")


def test_segment_scan_with_one_segment_says_there_is_nothing_to_compare(fruits):
    scan = fruits["one_segment"].scan
    region = scan[scan["attribute"] == "region"]
    assert len(region) == 4 and region["rest_n"].eq(0).all() and region["p_value"].isna().all()
    assert region["finding"].str.contains("no other segment to compare it with").all()
    text = narrative.diagnosis(fruits["one_segment"])
    assert "every record has region = Noord, so there is no other region to compare" in text  # label


def test_leak_headline_does_not_pick_a_phase_out_of_a_tie(fruits):
    # all_lost: 2 deals lost at each of the four open phases
    headline = fruits["all_lost"].leaks.headline
    assert headline.startswith("8 lost records, spread evenly: 2 each at")
    assert "Most lost" not in headline
    # fewer than 10 moves per phase: no stall threshold, so no claim about stalled deals
    assert "too few records moved on" in headline
    one = fruits["one_segment"].leaks.headline  # 6 of 21 lost at opportunity: not "most"
    assert one.startswith("The largest share of lost records (28.6%) was lost at opportunity")


# ------------------------------------------------------------------- simulation and steering
@pytest.mark.parametrize("case", ALL)
def test_improvement_and_steering_degrade_to_reasons(engagements, case):
    e = engagements[case]
    first, second = e.phase_model.keys[:2]
    plan = plan_improvement(e, changes=[{"date": "2025-06-01", "description": "new script",
                                         "step": f"{first} -> {second}"}], seed=0)
    assert plan.bottleneck is None and plan.scenario is None
    assert "too few records to conclude" in plan.explain("scenario")
    text = narrative.improvement(plan)
    assert text.startswith("- No scenario:") and "nan" not in text.lower()
    if case in EMPTY:
        assert "too few records to conclude" in plan.explain("change")
    view = steering_view(e, seed=0)
    assert view.chart is None and view.steer_on is None
    assert view.report is None and "too few" in view.explain("report")
    text = narrative.steering(view)
    assert "nan" not in text.lower()
    assert ("No scorecard" in text) or ("No KPI can be judged against a target yet" in text)


# ------------------------------------------------------------------------------------ figures
def _figures(e, kpis) -> list:
    """The figures the notebooks draw, in their order."""
    base = funnel(e)
    fruit = low_hanging_fruit(e, seed=0)
    view = steering_view(e, seed=0)
    cohorts = cohort_conversion(e, period="month")
    out = [
        tp.plot_funnel(base, phase_model=e.phase_model),
        tp.plot_engagement_timeline(estimate_duration(_SCORED).by_step),
        tp.plot_process_schema(e.phase_model, funnel_frame=base),
        tp.plot_kpi_tree(kpi_tree(e, kpis)),
        tp.plot_cohort_conversion(cohorts[cohorts["from_phase"] == e.phase_model.keys[0]]),
        tp.plot_cohort_heatmap(cohorts, phase_model=e.phase_model),
        tp.plot_time_to_convert(step_incidence(e)),
        tp.plot_seasonality(seasonality(e).monthly),
        tp.plot_bottlenecks(fruit.sizing, phase_model=e.phase_model),
        tp.plot_segment_scan(fruit.scan, phase_model=e.phase_model),
    ]
    if view.card is not None:
        out.append(tp.plot_scorecard(view.card, kpis=view.monthly))
    return out


@pytest.mark.parametrize("case", ALL)
def test_every_notebook_figure_renders_without_a_warning(engagements, kpi_frames, case):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        figures = _figures(engagements[case], kpi_frames[case])
        for fig in figures:
            (fig if hasattr(fig, "savefig") else fig.figure).canvas.draw()
    # every plot returns its Axes (plot_seasonality its pair of panels)
    assert all(isinstance(f, Axes | tp.AxesPair) for f in figures), figures
    texts = [t.get_text() for f in figures
             for ax in (f if isinstance(f, tp.AxesPair) else [f]) for t in ax.texts]
    if case in EMPTY:  # nothing to draw is said on the figure, not raised
        assert any(t.startswith("Nothing to show yet") for t in texts)
    plt.close("all")


def test_an_empty_frame_draws_a_panel_that_says_why():
    ax = tp.plot_segment_scan(pd.DataFrame(columns=[
        "attribute", "segment", "from_phase", "to_phase", "n", "rate", "ci_low", "ci_high",
        "rest_rate", "p_adjusted", "flagged", "direction", "diff"]))
    assert [t.get_text() for t in ax.texts] == [
        "Nothing to show yet: there is no segment to compare (one segment only, or too few "
        "records)."]
    # the two-panel plot with nothing to draw returns the one Axes that says why
    ax = tp.plot_seasonality(pd.DataFrame(columns=["period", "volume", "n", "successes", "rate",
                                                   "ci_low", "ci_high"]))
    assert ax.texts[0].get_text().startswith("Nothing to show yet: no month")
    plt.close("all")


# The seven steps on each edge engagement, every figure drawn, run in-process in
# tests/test_steps.py (test_every_step_on_an_edge_engagement_states_what_it_cannot_compute); the
# notebooks only show those step results, and nbval runs them on the demo.


def test_seasonality_with_a_year_of_small_months_does_not_judge_the_rate():
    # 14 months x 6 leads, every other one an order 5 days later: volume is perfectly even
    # (chi-square p = 1), but 6 records a month give expected counts of 3 (< 5) in the rate test
    rows, records = [], []
    for m, month in enumerate(pd.period_range("2024-01", "2025-02", freq="M")):
        for i in range(6):
            rid, start = f"R{m}-{i}", month.start_time + pd.Timedelta(days=2 * i)
            rows.append((rid, "lead", start))
            if i % 2:
                rows.append((rid, "order", start + pd.Timedelta(days=5)))
            records.append((rid, "won" if i % 2 else "lost", start + pd.Timedelta(days=5)))
    ev = pd.DataFrame(rows, columns=["record_id", "phase", "entered_at"])
    ev["source_stage"], ev["source_row"] = ev["phase"], range(2, len(ev) + 2)
    rec = pd.DataFrame(records, columns=["record_id", "outcome", "closed_at"])
    rec["created_at"] = rec["record_id"].map(ev.groupby("record_id")["entered_at"].min())
    rec["lost_at_phase"], rec["value"] = None, 1.0
    e = Engagement.from_tables(ev, rec, phases=[{"key": "lead", "label": "Lead"},
                                                {"key": "order", "label": "Order"}],
                               as_of=pd.Timestamp("2025-06-30"), cohort_window_days=30)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = seasonality(e)
    assert s.headline == ("Volume shows no clear seasonal pattern; too few mature records per "
                          "calendar month to judge whether the conversion rate is seasonal (an "
                          "expected count is below 5).")
    assert s.tests["p_value"].iloc[0] == pytest.approx(1.0)
