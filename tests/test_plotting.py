"""Tests for toolkit.present.plotting: every figure drawn (Agg) from a small result frame.

The frames are built by hand, or by the real toolkit functions on a ten-record engagement whose
funnel was worked out by hand: 10 records reach Target, 6 Lead, 3 Offerte, 2 Order, so the step
conversions are 6/10 = 60%, 3/6 = 50% and 2/3 = 67% and the cumulative ones 60%, 30% and 20%.
Every warning is an error here: a figure must draw and save without layout or glyph warnings.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from pathlib import Path  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.patches import FancyBboxPatch, Rectangle  # noqa: E402

from toolkit.analysis.planning import (  # noqa: E402
    DurationFactors,
    estimate_duration,
    factors_for,
)
from toolkit.analysis.steering import control_chart, run_rules, scorecard  # noqa: E402
from toolkit.base.exceptions import ConfigError, DataError, OptionError, ToolkitError  # noqa: E402
from toolkit.base.phases import Phase, PhaseModel  # noqa: E402
from toolkit.io.engagement import Engagement  # noqa: E402
from toolkit.measure.audit import audit  # noqa: E402
from toolkit.measure.funnel import cohort_conversion, funnel  # noqa: E402
from toolkit.measure.survival import cumulative_incidence, kaplan_meier  # noqa: E402
from toolkit.present import plotting  # noqa: E402
from toolkit.present.plotting import (  # noqa: E402
    PALETTE,
    AxesPair,
    plot_bottlenecks,
    plot_cohort_conversion,
    plot_cohort_heatmap,
    plot_control_chart,
    plot_engagement_timeline,
    plot_funnel,
    plot_kpi_tree,
    plot_mix_vs_rate,
    plot_process_schema,
    plot_scorecard,
    plot_seasonality,
    plot_segment_scan,
    plot_time_to_convert,
    save_figure,
)
from toolkit.present.plotting import labels as figure_labels  # noqa: E402

# The issue asks that every figure renders to PNG without warnings.
pytestmark = pytest.mark.filterwarnings("error")

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo" / "engagement.yaml"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def _hex(color) -> str:
    return to_hex(color).lower()


# --------------------------------------------------------------------------------------------
# Small frames
# --------------------------------------------------------------------------------------------

PHASES = [{"key": "target", "label": "Target (suspects)"}, {"key": "lead", "label": "Lead"},
          {"key": "proposal", "label": "Offerte uitgebracht"}, {"key": "order", "label": "Order"}]


@pytest.fixture(scope="module")
def engagement() -> Engagement:
    """Ten records: all reach target, r1-r6 lead, r1-r3 proposal, r1-r2 order (won)."""
    start = pd.Timestamp("2025-01-06")
    events, records = [], []
    for i in range(1, 11):
        rid = f"r{i}"
        reached = 1 + (i <= 6) + (i <= 3) + (i <= 2)
        created = start + pd.Timedelta(days=3 * i)
        for k in range(reached):
            events.append({"record_id": rid, "phase": PHASES[k]["key"],
                           "entered_at": created + pd.Timedelta(days=10 * k),
                           "source_stage": PHASES[k]["label"], "source_row": len(events) + 1})
        outcome = "won" if reached == 4 else ("lost" if i % 2 else "open")
        closed = created + pd.Timedelta(days=10 * reached) if outcome != "open" else pd.NaT
        records.append({"record_id": rid, "created_at": created, "outcome": outcome,
                        "closed_at": closed,
                        "lost_at_phase": PHASES[reached - 1]["key"] if outcome == "lost" else None,
                        "value": 1000.0 * i, "channel": "event" if i % 2 else "mailing"})
    return Engagement.from_tables(pd.DataFrame(events), pd.DataFrame(records), phases=PHASES,
                                  as_of=pd.Timestamp("2025-12-31"), cohort_window_days=60)


@pytest.fixture(scope="module")
def demo() -> Engagement:
    """The demo engagement of the README (about 34 months of cohorts, five phases)."""
    return Engagement.from_yaml(DEMO)


def funnel_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "phase": ["target", "lead", "proposal", "order"],
        "label": ["Target", "Lead", "Offerte", "Order"],
        "reached": [1000, 620, 155, 40],
        "from_phase": [None, "target", "lead", "proposal"],
        "n": [np.nan, 1000, 620, 155],
        "successes": [np.nan, 620, 155, 40],
        "rate": [np.nan, 0.62, 0.25, 0.258],
        "ci_low": [np.nan, 0.58, 0.22, 0.196],
        "ci_high": [np.nan, 0.66, 0.284, 0.332],
        "cumulative_rate": [1.0, 0.62, 0.155, 0.04],
    })


def phase_model(n: int = 4, *, long: bool = False) -> PhaseModel:
    names = ["target", "lead", "afspraak", "proposal", "negotiation", "order", "aftercare"]
    keys = names[:n - 1] + ["order"] if n <= 6 else names[:n]
    long_labels = {"target": "Suspects selecteren uit het doelgroepbestand",
                   "lead": "Leadkwalificatie door de binnendienst",
                   "afspraak": "Eerste afspraak en kennismakingsgesprek",
                   "proposal": "Offerte uitgebracht", "negotiation": "Onderhandeling",
                   "order": "Order / Klant", "aftercare": "Nazorg en herhaalopdracht"}
    phases = []
    for key in keys:
        phases.append(Phase(
            key=key, label=long_labels[key] if long else key.capitalize(),
            functions=("Binnendienstmedewerker verkoop", "Accountmanager") if long else ("Sales",),
            actions=("Kwalificatiegesprek met de beslisser", "Informatiepakket toesturen")
            if long else ("call",),
            output="Gekwalificeerde leads met behoefte, budget en beslisser" if long else "leads"))
    return PhaseModel(phases=tuple(phases))


def kpi_arrows(model: PhaseModel) -> pd.DataFrame:
    rows = []
    for i, (a, b) in enumerate(model.transitions()):
        rate = 0.30 + 0.05 * i
        rows.append({"kpi": f"c{i}", "from_phase": a, "to_phase": b, "value": rate,
                     "ci_low": rate - 0.04, "ci_high": rate + 0.04, "n": 1000 + i, "unit": "%"})
    return pd.DataFrame(rows)


def cohort_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "from_phase": "target", "to_phase": "lead",
        "period": ["2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06"],
        "n": [200, 180, 210, 120, 0, 0],
        "successes": [70, 60, 75, 40, 0, 0],
        "rate": [0.35, 1 / 3, 75 / 210, 1 / 3, np.nan, np.nan],
        "ci_low": [0.29, 0.27, 0.29, 0.26, np.nan, np.nan],
        "ci_high": [0.42, 0.41, 0.42, 0.42, np.nan, np.nan],
        "immature_n": [0, 0, 0, 60, 190, 205],
        "window_days": 90, "method": "cohort",
    })


def seasonality_frame() -> pd.DataFrame:
    volume = [200, 190, 210, 205, 180, 150, 80, 90, 200, 210, 195, 120]
    n = [v - 5 for v in volume]
    successes = [round(0.3 * v) for v in n]
    return pd.DataFrame({
        "period": [f"2025-{m:02d}" for m in range(1, 13)], "volume": volume, "n": n,
        "successes": successes, "rate": np.divide(successes, n),
        "ci_low": np.divide(successes, n) - 0.05, "ci_high": np.divide(successes, n) + 0.05})


# Durations worked by hand: KM events at t = 1, 2, 3, 8 (survival 6/7, 5/7, 15/28, 15/56);
# censored at 2, 5 and 9 - each lies in the flat stretch starting at 2, 3 and 8.
DURATIONS = [1, 2, 2, 3, 5, 8, 9]
EVENTS = ["converted", "censored", "lost", "converted", "censored", "lost", "censored"]
OBSERVED = [1, 0, 1, 1, 0, 1, 0]


def bottleneck_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "from_phase": ["target", "lead", "proposal"], "to_phase": ["lead", "proposal", "order"],
        "extra_orders": [18.0, 41.0, 6.5], "extra_orders_low": [9.0, 28.0, -2.0],
        "extra_orders_high": [27.0, 55.0, 15.0], "reference": [0.40, 0.32, "best quarter"]})


def scan_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "attribute": ["owner", "owner", "action"], "segment": ["Ruud", "Sanne", "event"],
        "from_phase": ["proposal", "proposal", "target"], "to_phase": ["order", "order", "lead"],
        "n": [94, 107, 1234], "rate": [0.21, 0.48, 0.59], "ci_low": [0.14, 0.39, 0.56],
        "ci_high": [0.31, 0.57, 0.62], "rest_rate": [0.47, 0.41, 0.29],
        "p_adjusted": [0.0004, 1.0, 0.00001], "flagged": [True, False, True]})


def chart_frame() -> pd.DataFrame:
    # ten months at 30% of 200, then one month at 45%: far above any 3-sigma limit
    successes = [60, 58, 62, 61, 59, 60, 63, 57, 60, 61, 90]
    data = pd.DataFrame({"period": [f"2025-{m:02d}" for m in range(1, 12)], "n": 200,
                         "successes": successes})
    return control_chart(data, chart="p", baseline_periods=10)


def kpis_frame() -> pd.DataFrame:
    rows = []
    for m in range(1, 7):
        rows.append({"kpi": "conv", "period": f"2025-{m:02d}", "n": 400, "successes": 200,
                     "value": 0.5, "ci_low": 0.45, "ci_high": 0.55, "target": 0.4,
                     "higher_is_better": True})
        rows.append({"kpi": "days", "period": f"2025-{m:02d}", "n": np.nan, "successes": np.nan,
                     "value": 40.0 + m, "ci_low": 35.0 + m, "ci_high": 44.0 + m, "target": 30.0,
                     "higher_is_better": False})
    return pd.DataFrame(rows)


def tree_frame() -> pd.DataFrame:
    return pd.DataFrame([
        ("revenue", None, "Omzet nieuwe klanten", 3.1e6, "EUR", 3.6e6),
        ("orders", "revenue", "Orders", 242, "orders", 280),
        ("deal", "revenue", "Gemiddelde orderwaarde", 12800, "EUR", 13000),
        ("conv", "orders", "Conversie Target → Order", 0.0202, "%", 0.024),
        ("volume", "orders", "Nieuwe suspects", 12000, "records", 12500),
    ], columns=["node", "parent", "label", "value", "unit", "target"])


def mix_frame(*, total: bool = True) -> pd.DataFrame:
    frame = pd.DataFrame({"segment": ["cold calling", "event", "network", "total"],
                          "rate_effect": [-0.004, 0.006, 0.009, 0.011],
                          "mix_effect": [-0.009, 0.003, 0.010, 0.004]})
    return frame if total else frame.iloc[:3]


def heatmap_frame() -> pd.DataFrame:
    """Two transitions over six months, lead -> proposal first (the plot sorts by phase): the
    cohorts of 2025-04 are partly immature, those of 2025-05 and 2025-06 wholly."""
    second = pd.DataFrame({
        "from_phase": "lead", "to_phase": "proposal", "period": cohort_frame()["period"],
        "n": [100, 90, 105, 60, 0, 0], "successes": [25, 30, 21, 30, 0, 0],
        "rate": [0.25, 1 / 3, 0.2, 0.5, np.nan, np.nan],
        "ci_low": [0.17, 0.24, 0.13, 0.37, np.nan, np.nan],
        "ci_high": [0.34, 0.44, 0.29, 0.63, np.nan, np.nan],
        "immature_n": [0, 0, 0, 30, 95, 100], "window_days": 90, "method": "cohort"})
    return pd.concat([second, cohort_frame()], ignore_index=True)


STEP_WEEKS = [2.0, 2.0, 1.5, 3.0, 2.5, 6.5, 4.5]  # 22 weeks in all


def duration_frame() -> pd.DataFrame:
    """The seven steps with a range of 0.85x to 1.3x, totals 22.0 (18.7-28.6) weeks."""
    names = [("Nulmeting en startsituatie", "Baseline and starting situation"),
             ("Procesmodel vastleggen", "Record the process model"),
             ("KPI's bepalen", "Determine the KPIs"),
             ("KPI's meetbaar maken", "Make the KPIs measurable"),
             ("Analyse en prioriteren", "Analyse and prioritise"),
             ("Verbeteren en herinrichten", "Improve and redesign"),
             ("Sturen en borgen", "Steer and embed")]
    weeks = np.array(STEP_WEEKS)
    return pd.DataFrame({"step": range(1, 8), "step_name_nl": [nl for nl, _ in names],
                         "step_name_en": [en for _, en in names], "base_weeks": weeks,
                         "weeks": weeks, "weeks_low": weeks * 0.85, "weeks_high": weeks * 1.3,
                         "drivers": ""})


# One entry per plot: (function, frame builder, keyword options, a required column, the producer
# named in the error). Used for the checks every plot function must pass.
CASES = {
    "funnel": (plot_funnel, funnel_frame, {}, "reached", "toolkit.measure.funnel.funnel"),
    "cohort": (plot_cohort_conversion, cohort_frame, {}, "ci_low",
               "toolkit.measure.funnel.cohort_conversion"),
    "time_to_convert": (plot_time_to_convert,
                        lambda: cumulative_incidence(DURATIONS, EVENTS), {}, "at_risk",
                        "toolkit.measure.survival.cumulative_incidence"),
    "bottlenecks": (plot_bottlenecks, bottleneck_frame, {}, "extra_orders_high",
                    "toolkit.analysis.diagnosis.bottleneck_sizing"),
    "segment_scan": (plot_segment_scan, scan_frame, {}, "rest_rate",
                     "toolkit.analysis.diagnosis.segment_scan"),
    "control_chart": (plot_control_chart, chart_frame, {}, "ucl",
                      "toolkit.analysis.steering.control_chart"),
    "scorecard": (plot_scorecard, lambda: scorecard(kpis_frame()), {}, "status",
                  "toolkit.analysis.steering.scorecard"),
    "kpi_tree": (plot_kpi_tree, tree_frame, {}, "parent", "toolkit.measure.kpis.kpi_tree"),
    "mix_vs_rate": (plot_mix_vs_rate, mix_frame, {}, "mix_effect",
                    "toolkit.analysis.diagnosis.mix_vs_rate"),
    "seasonality": (plot_seasonality, seasonality_frame, {}, "volume",
                    "toolkit.measure.seasonality.seasonality"),
    "cohort_heatmap": (plot_cohort_heatmap, heatmap_frame, {}, "immature_n",
                       "toolkit.measure.funnel.cohort_conversion"),
    "engagement_timeline": (plot_engagement_timeline, duration_frame, {}, "weeks_high",
                            "toolkit.analysis.planning.estimate_duration"),
}


# --------------------------------------------------------------------------------------------
# Checks every plot function must pass
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(CASES))
def test_does_not_mutate_the_frame(name):
    function, build, options, _, _ = CASES[name]
    frame = build()
    before = frame.copy(deep=True)
    function(frame, **options)
    pd.testing.assert_frame_equal(frame, before)


@pytest.mark.parametrize("name", sorted(set(CASES) - {"seasonality"}))
def test_draws_into_the_given_axes(name):
    function, build, options, _, _ = CASES[name]
    fig, ax = plt.subplots(figsize=(9, 5))
    assert function(build(), ax=ax, **options) is ax
    assert len(fig.axes) >= 1 and fig.axes[0] is ax
    assert ax.get_title(loc="left")  # every figure says what to see


@pytest.mark.parametrize("name", sorted(CASES))
def test_missing_column_names_it_and_the_producer(name):
    function, build, options, column, producer = CASES[name]
    frame = build().drop(columns=[column])
    with pytest.raises(ToolkitError) as info:
        function(frame, **options)
    message = str(info.value)
    assert repr(column) in message
    assert producer in message
    assert function.__name__ in message


@pytest.mark.parametrize("name", sorted(set(CASES) - {"seasonality"}))
def test_wrong_ax_type_is_refused(name):
    function, build, options, _, _ = CASES[name]
    with pytest.raises(TypeError, match="`ax` must be a matplotlib Axes"):
        function(build(), ax="left", **options)


def test_not_a_dataframe_is_refused():
    with pytest.raises(DataError, match="must be a pandas DataFrame"):
        plot_funnel([{"phase": "lead"}])


def test_every_figure_saves_as_a_non_empty_png(tmp_path):
    model = phase_model(5, long=True)
    drawn = {name: case[0](case[1](), **case[2]) for name, case in CASES.items()}
    drawn["process_schema"] = plot_process_schema(model, kpis=kpi_arrows(model))
    for name, figure in drawn.items():
        path = save_figure(figure, tmp_path / name, dpi=40)
        assert path.suffix == ".png"
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", name
        assert len(data) > 2000, name


def test_save_figure_refuses_other_objects(tmp_path):
    with pytest.raises(TypeError, match="Figure or Axes"):
        save_figure("figure", tmp_path / "x.png")
    _, ax = plt.subplots()
    with pytest.raises(ToolkitError, match="`dpi`"):
        save_figure(ax, tmp_path / "x.png", dpi=0)


def test_theme_sets_the_house_style():
    with matplotlib.rc_context():
        plotting.theme()
        assert matplotlib.rcParams["axes.spines.top"] is False
        assert _hex(matplotlib.rcParams["axes.prop_cycle"].by_key()["color"][0]) == "#0072b2"


def test_status_colors_follow_the_codes():
    assert plotting.status_color("below_target") == PALETTE["below"]
    assert plotting.status_color("off_target") == PALETTE["below"]
    assert plotting.status_color("below_target_not_significant") == PALETTE["not_significant"]
    assert plotting.status_color("on_target") == PALETTE["on_target"]
    assert plotting.status_color("on_target_too_few") == PALETTE["neutral"]
    assert plotting.status_color("below_target_too_few") == PALETTE["neutral"]
    assert plotting.status_color("off_target_unknown") == PALETTE["neutral"]
    assert plotting.status_color(None) == PALETTE["neutral"]
    # a sentence is not a code: the colour never depends on the wording
    assert plotting.status_color("significantly below target") == PALETTE["neutral"]


def test_phase_palette_runs_from_light_to_dark():
    colors = plotting.phase_palette(5)
    lightness = [sum(c) for c in colors]
    assert len(colors) == 5 and lightness == sorted(lightness, reverse=True)
    with pytest.raises(ToolkitError, match="`n`"):
        plotting.phase_palette(0)


def test_percent_formatting():
    assert figure_labels.pct_ci_text(0.62, 0.58, 0.66) == "62% (58–66%)"
    # below 10% one decimal, for all three numbers alike
    assert figure_labels.pct_ci_text(0.025, 0.021, 0.030) == "2.5% (2.1–3.0%)"
    assert figure_labels.pct_text(0.2) == "20%"
    assert figure_labels.pct_text(float("nan")) == "n/a"
    assert figure_labels.fmt_value(3.1e6, "EUR") == "€3.1m"
    assert figure_labels.fmt_value(12_800, "EUR") == "€12.8k"
    assert figure_labels.fmt_value(44, "days") == "44 days"
    assert figure_labels.fmt_range(39, 50, "days") == "(39–50 days)"


# --------------------------------------------------------------------------------------------
# 1. Funnel
# --------------------------------------------------------------------------------------------

def test_funnel_bars_step_labels_and_cumulative_column():
    ax = plot_funnel(funnel_frame())
    assert len(ax.patches) == 4
    widths = [p.get_width() for p in ax.patches]
    assert widths == [1000, 620, 155, 40]
    texts = _texts(ax)
    assert "▼ 62% (58–66%) of 1,000" in texts
    assert "▼ 25% (22–28%) of 620" in texts
    assert "1,000" in texts and "40" in texts
    right = ax.child_axes[0]
    assert [t.get_text() for t in right.get_yticklabels()] == ["100%", "62%", "16%", "4.0%"]
    assert ax.get_title(loc="left") == "1,000 Target → 40 Order: 4.0% overall"


def test_funnel_uses_phase_model_labels(engagement):
    ax = plot_funnel(funnel(engagement), phase_model=engagement.phase_model)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["Target (suspects)", "Lead", "Offerte uitgebracht", "Order"]
    texts = _texts(ax)
    # 6/10, 3/6, 2/3 by hand
    assert any(t.startswith("▼ 60% (") and t.endswith("of 10") for t in texts)
    assert any(t.startswith("▼ 50% (") and t.endswith("of 6") for t in texts)
    assert any(t.startswith("▼ 67% (") and t.endswith("of 3") for t in texts)
    right = ax.child_axes[0]
    assert [t.get_text() for t in right.get_yticklabels()] == ["100%", "60%", "30%", "20%"]


def test_funnel_with_segments_asks_for_one_segment(engagement):
    with pytest.raises(DataError, match="more than one row for phase 'target'"):
        plot_funnel(funnel(engagement, by="channel"))


# --------------------------------------------------------------------------------------------
# 2. Process schema
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("phases", [4, 7])
def test_process_schema_boxes_arrows_and_kpis(phases):
    model = phase_model(phases, long=True)
    ax = plot_process_schema(model, kpis=kpi_arrows(model))
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    assert len(boxes) == 2 * phases  # a header and a body per phase
    texts = _texts(ax)
    assert "30%" in texts and f"{30 + 5 * (phases - 2)}%" in texts
    assert "(26–34%)\nn=1,000" in texts
    assert sum(t.startswith("PHASE ") for t in texts) == phases
    assert texts.count("ROLES") == phases and texts.count("OUTPUT") == phases
    assert ax.get_title(loc="left").startswith(f"Commercial process in {phases} phases")


@pytest.mark.parametrize("phases", [4, 7])
def test_process_schema_wraps_long_dutch_text_inside_its_boxes(phases):
    model = phase_model(phases, long=True)
    ax = plot_process_schema(model, kpis=kpi_arrows(model))
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [p.get_window_extent(renderer) for p in ax.patches if isinstance(p, FancyBboxPatch)]
    checked = 0
    for text in ax.texts:
        extent = text.get_window_extent(renderer)
        home = [b for b in boxes if b.x0 <= (extent.x0 + extent.x1) / 2 <= b.x1
                and b.y0 <= (extent.y0 + extent.y1) / 2 <= b.y1]
        if not home:
            continue  # the KPI labels between the boxes
        checked += 1
        assert home[0].x0 - 0.5 <= extent.x0 and extent.x1 <= home[0].x1 + 0.5, text.get_text()
        assert home[0].y0 - 0.5 <= extent.y0 and extent.y1 <= home[0].y1 + 0.5, text.get_text()
    assert checked > 10 * phases


def test_process_schema_from_the_funnel_and_with_a_span(engagement):
    model = engagement.phase_model
    ax = plot_process_schema(model, funnel_frame=funnel(engagement))
    assert {"60%", "50%", "67%"} <= set(_texts(ax))
    spans = kpi_arrows(model)
    spans.loc[len(spans)] = {"kpi": "all", "from_phase": "target", "to_phase": "order",
                             "value": 0.2, "ci_low": 0.06, "ci_high": 0.51, "n": 10, "unit": "%"}
    ax = plot_process_schema(model, kpis=spans)
    assert any(t.startswith("Target (suspects) → Order: 20% (6–51%)") for t in _texts(ax))


def test_process_schema_draws_into_the_given_axes():
    model = phase_model(5)
    fig, ax = plt.subplots(figsize=(12, 6))
    assert plot_process_schema(model, ax=ax) is ax
    assert fig.axes == [ax] and ax.get_title(loc="left").startswith("Commercial process in 5")
    assert ax.get_xlim() == (0, 5)


def test_process_schema_errors():
    model = phase_model(4)
    arrows = kpi_arrows(model)
    with pytest.raises(ConfigError, match="either `kpis` or `funnel_frame`"):
        plot_process_schema(model, kpis=arrows, funnel_frame=funnel_frame())
    with pytest.raises(DataError, match="more than one row for target → lead"):
        plot_process_schema(model, kpis=pd.concat([arrows, arrows.iloc[:1]]))
    with pytest.raises(DataError, match="'nowhere', which is not in the phase model"):
        plot_process_schema(model, kpis=arrows.assign(to_phase="nowhere"))
    with pytest.raises(DataError, match=r"lacks the column\(s\) \['value'\].*compute_kpis"):
        plot_process_schema(model, kpis=arrows.drop(columns="value"))
    with pytest.raises(TypeError, match="must be a PhaseModel"):
        plot_process_schema(funnel_frame())


# --------------------------------------------------------------------------------------------
# 3. Cohort conversion
# --------------------------------------------------------------------------------------------

def test_cohort_conversion_marks_immature_and_shows_n():
    ax = plot_cohort_conversion(cohort_frame(), target=0.35)
    series = [ln for ln in ax.lines if ln.get_label().startswith("cohort conversion")]
    assert len(series) == 1 and list(series[0].get_xdata()) == [0, 1, 2, 3]
    assert series[0].get_label() == "cohort conversion (n=710)"
    hollow = [ln for ln in ax.lines if ln.get_label() == "_partly immature"]
    assert list(hollow[0].get_xdata()) == [3]  # 2025-04 still has 60 immature records
    spans = [p for p in ax.patches if abs(p.get_width() - 1.0) < 1e-9]
    assert sorted(p.get_x() for p in spans) == [3.5, 4.5]  # 2025-05 and 2025-06 are immature
    assert "immature" in _texts(ax)
    target = [ln for ln in ax.lines if ln.get_label() == "target 35%"]
    assert list(target[0].get_ydata()) == [0.35, 0.35]
    twin = [a for a in ax.figure.axes if a is not ax][0]
    assert [p.get_height() for p in twin.patches] == [200, 180, 210, 120, 0, 0]
    ticks = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert ticks and all(t.endswith("%") for t in ticks)
    # without a phase model the keys are shown
    assert "target → lead within 90 days" in ax.get_title(loc="left")


def test_cohort_conversion_with_hue_from_the_real_function(engagement):
    frame = cohort_conversion(engagement, from_phase="target", period="quarter", by="channel",
                              as_of=pd.Timestamp("2025-12-31"))
    ax = plot_cohort_conversion(frame, hue="channel", phase_model=engagement.phase_model)
    labels = sorted(ln.get_label() for ln in ax.lines if not ln.get_label().startswith("_"))
    # r1-r10 split 5/5; event = odd records r1, r3, r5 reach lead, mailing = r2, r4, r6
    assert labels == ["event (n=5)", "mailing (n=5)"]
    assert "Target (suspects) → Lead" in ax.get_title(loc="left")
    with pytest.raises(OptionError, match="`hue` must be a column"):
        plot_cohort_conversion(frame, hue="region")
    with pytest.raises(OptionError, match="`target` must be a share"):
        plot_cohort_conversion(frame, target=35)


# --------------------------------------------------------------------------------------------
# 4. Seasonality
# --------------------------------------------------------------------------------------------

def test_seasonality_two_panels():
    frame = seasonality_frame()
    pair = plot_seasonality(frame, volume_label="new suspects")
    volume_ax, rate_ax = pair  # every plot returns its Axes: this one its two panels
    assert isinstance(pair, AxesPair) and (pair.volume, pair.rate) == (volume_ax, rate_ax)
    fig = pair.figure
    assert fig.axes[:2] == [volume_ax, rate_ax]
    assert [p.get_height() for p in volume_ax.patches] == frame["volume"].tolist()
    assert volume_ax.get_ylabel() == "new suspects"
    line = [ln for ln in rate_ax.lines if ln.get_label() == "conversion rate"][0]
    np.testing.assert_allclose(line.get_ydata(), frame["rate"])
    title = volume_ax.get_title(loc="left")
    assert title.startswith("Volume swings from 80 to 210 a month; conversion ranges")
    assert len(fig.axes) == 3  # plus the n bars behind the rates


def test_seasonality_greys_immature_months():
    frame = seasonality_frame()
    frame.loc[10:, ["n", "successes"]] = 0
    frame.loc[10:, ["rate", "ci_low", "ci_high"]] = np.nan
    rate_ax = plot_seasonality(frame).rate
    spans = [p for p in rate_ax.patches if abs(p.get_width() - 1.0) < 1e-9]
    assert sorted(p.get_x() for p in spans) == [9.5, 10.5]
    assert "immature" in _texts(rate_ax)
    line = [ln for ln in rate_ax.lines if ln.get_label() == "conversion rate"][0]
    assert len(line.get_xdata()) == 10


def test_seasonality_draws_into_a_pair_of_axes():
    fig, pair = plt.subplots(2, 1)
    drawn = plot_seasonality(seasonality_frame(), ax=pair)
    assert tuple(drawn) == tuple(pair) and drawn.figure is fig
    assert len(pair[0].patches) == 12
    with pytest.raises(TypeError, match="pair of Axes"):
        plot_seasonality(seasonality_frame(), ax=pair[0])


# --------------------------------------------------------------------------------------------
# 5. Time to convert
# --------------------------------------------------------------------------------------------

def test_kaplan_meier_curve_is_one_minus_survival_with_censoring_ticks():
    km = kaplan_meier(DURATIONS, OBSERVED)
    ax = plot_time_to_convert(km)  # the result object is accepted as well as its frame
    curve = [ln for ln in ax.lines if ln.get_label().startswith("share converted")][0]
    assert curve.get_label() == "share converted (n=7)"
    np.testing.assert_allclose(curve.get_xdata(), [0, 1, 2, 3, 8])
    # 1 - S: 0, 1/7, 2/7, 13/28, 41/56
    np.testing.assert_allclose(curve.get_ydata(), [0, 1 / 7, 2 / 7, 13 / 28, 41 / 56])
    ticks = [ln for ln in ax.lines if ln.get_label() == "_censored"][0]
    assert list(ticks.get_xdata()) == [2, 3, 8]
    assert "73% converted" in _texts(ax)
    row = ax.child_axes[0]
    assert [t.get_text() for t in row.get_xticklabels()][0] == "7"  # at risk at the start


def test_cumulative_incidence_converted_vs_lost():
    ax = plot_time_to_convert(cumulative_incidence(DURATIONS, EVENTS))
    labels = [ln.get_label() for ln in ax.lines if not ln.get_label().startswith("_")]
    assert labels == ["converted", "lost"]
    texts = _texts(ax)
    # Aalen-Johansen by hand: converted 1/7 (t=1) + 5/7 * 1/4 (t=3) = 9/28 = 32%;
    # lost 6/7 * 1/6 (t=2) + 15/28 * 1/2 (t=8) = 23/56 = 41%
    assert "32% converted" in texts and "41% lost" in texts
    assert "cumulative incidence" == ax.get_ylabel()


def test_time_to_convert_by_segment():
    parts = [kaplan_meier(DURATIONS, OBSERVED).survival_.assign(owner="A"),
             kaplan_meier(DURATIONS[:5], OBSERVED[:5]).survival_.assign(owner="B")]
    ax = plot_time_to_convert(pd.concat(parts), hue="owner")
    labels = [ln.get_label() for ln in ax.lines if not ln.get_label().startswith("_")]
    assert labels[:2] == ["A (n=7)", "B (n=5)"]
    with pytest.raises(OptionError, match="`hue` must be a column"):
        plot_time_to_convert(kaplan_meier(DURATIONS, OBSERVED).survival_, hue="owner")


def test_time_to_convert_wrong_frame_names_both_producers():
    with pytest.raises(DataError, match="'survival'.*'cif'") as info:
        plot_time_to_convert(pd.DataFrame({"time": [1.0]}))
    assert "kaplan_meier" in str(info.value) and "cumulative_incidence" in str(info.value)


# --------------------------------------------------------------------------------------------
# 6-7. Diagnosis figures
# --------------------------------------------------------------------------------------------

def test_bottlenecks_ranked_with_intervals():
    model = PhaseModel(phases=tuple(Phase(**p) for p in PHASES))
    ax = plot_bottlenecks(bottleneck_frame(), phase_model=model)
    assert [p.get_width() for p in ax.patches] == [41.0, 18.0, 6.5]
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "Lead → Offerte uitgebracht", "Target (suspects) → Lead", "Offerte uitgebracht → Order"]
    texts = _texts(ax)
    assert "+41 (28 to 55)" in texts and "+6 (-2 to 15)" in texts
    assert "reference 32%" in texts and "reference: best quarter" in texts
    assert ax.get_title(loc="left") == "Largest gain: Lead → Offerte uitgebracht, +41 orders"


def test_bottlenecks_with_several_reference_kinds_side_by_side():
    # the full bottleneck_sizing table: one row per transition and reference kind
    frame = pd.DataFrame({
        "from_phase": ["target", "lead", "target", "lead"], "to_phase": ["lead", "proposal"] * 2,
        "reference": ["target", "target", "best_period", "best_period"],
        "reference_rate": [0.4, 0.5, 0.38, 0.53],
        "extra_orders": [8.8, -5.2, 6.2, 0.0], "extra_orders_low": [6.8, -7.2, 3.8, 0.0],
        "extra_orders_high": [10.8, -3.1, 9.1, 0.0], "horizon": "year"})
    ax = plot_bottlenecks(frame)
    assert len(ax.patches) == 4
    assert [t.get_text() for t in ax.get_yticklabels()] == ["target → lead", "lead → proposal"]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["target", "best period"]
    colors = {_hex(p.get_facecolor()) for p in ax.patches}
    assert len(colors) == 2  # one colour per reference kind
    assert "-5 (-7 to -3)" in _texts(ax)
    assert ax.get_title(loc="left") == "Largest gain: target → lead, +9 orders per year (vs target)"
    assert ax.get_xlabel() == "extra orders per year if the step reached its reference"


def test_segment_scan_highlights_flagged_segments():
    ax = plot_segment_scan(scan_frame())
    points = [ln for ln in ax.lines if ln.get_marker() == "o" and len(ln.get_xdata()) == 1]
    colors = {float(ln.get_xdata()[0]): _hex(ln.get_color()) for ln in points}
    assert colors == {0.21: _hex(PALETTE["below"]), 0.48: _hex(PALETTE["neutral"]),
                      0.59: _hex(PALETTE["on_target"])}
    rest = sorted(float(ln.get_xdata()[0]) for ln in ax.lines if ln.get_marker() == "|"
                  and len(ln.get_xdata()) == 1)
    assert rest == [0.29, 0.41, 0.47]
    right = [t.get_text() for t in ax.child_axes[0].get_yticklabels()]
    assert right[0] == "21% vs 47%   n=94   p_adj < 0.001"
    assert right[1] == "48% vs 41%   n=107   p_adj > 0.999"
    assert ax.get_title(loc="left").startswith("2 of 3 segments convert significantly")
    assert {"proposal → order", "target → lead"} <= set(_texts(ax))  # group headers


def test_segment_scan_shows_the_first_rows_and_counts_all():
    frame = pd.concat([scan_frame()] * 4, ignore_index=True)
    frame.loc[11, "p_adjusted"] = np.nan  # left out of the adjustment: too small
    ax = plot_segment_scan(frame, max_rows=12)
    assert len(ax.child_axes[0].get_yticklabels()) == 12
    assert ax.child_axes[0].get_yticklabels()[-1].get_text().endswith("too small to test")
    assert ax.get_title(loc="left").startswith("8 of 12 segments")
    with pytest.raises(OptionError, match="`max_rows`"):
        plot_segment_scan(frame, max_rows=0)
    with pytest.raises(TypeError, match="`max_rows`"):
        plot_segment_scan(frame, max_rows=2.5)


# --------------------------------------------------------------------------------------------
# 8-9. Steering figures
# --------------------------------------------------------------------------------------------

def test_control_chart_points_outside_in_red_and_alert_tracks():
    chart = chart_frame()
    alerts = run_rules(chart)
    assert alerts["period"].tolist() == ["2025-11"]  # the 45% month, beyond the upper limit
    ax = plot_control_chart(chart, alerts=alerts)
    red = [ln for ln in ax.lines if ln.get_label() == "outside the limits"][0]
    assert list(red.get_xdata()) == [10] and _hex(red.get_color()) == _hex(PALETTE["below"])
    rings = [ln for ln in ax.lines if ln.get_label() == "alert (run rules)"][0]
    assert list(rings.get_xdata()) == [10]
    assert "L" in _texts(ax)  # the beyond-limits track
    assert ax.get_title(loc="left") == ("p chart: 1 of 11 periods outside the limits; run-rule "
                                        "alerts in 1 period")
    assert {"baseline ", " monitoring"} <= set(_texts(ax))


def test_control_chart_without_alerts_and_laney_name():
    chart = chart_frame().assign(chart="laney", sigma_z=1.8)
    ax = plot_control_chart(chart)
    assert ax.get_title(loc="left").startswith("Laney p′ chart (σz = 1.80)")
    with pytest.raises(DataError, match="run_rules"):
        plot_control_chart(chart_frame(), alerts=pd.DataFrame({"period": ["2025-11"]}))


def test_scorecard_rows_status_and_trend():
    card = scorecard(kpis_frame())
    ax = plot_scorecard(card.assign(unit=["%", "days"]))
    texts = _texts(ax)
    assert "50%" in texts and "(45–55%)" in texts and "40%" in texts
    assert "46 days" in texts and "(41–50 days)" in texts and "30 days" in texts
    status = {t.get_text(): _hex(t.get_bbox_patch().get_facecolor()) for t in ax.texts
              if t.get_bbox_patch() is not None}
    assert status["on target"] == _hex(PALETTE["on_target"])
    assert status["significantly off target"] == _hex(PALETTE["below"])
    # days rise every month with lower-is-better: worsening, drawn as an upward red arrow
    assert card["trend"].tolist() == ["stable", "worsening"]
    arrows = {t.get_text(): _hex(t.get_color()) for t in ax.texts if t.get_text() in ("↑", "↓", "→")}
    assert arrows == {"→": _hex(PALETTE["muted"]), "↑": _hex(PALETTE["below"])}
    assert ax.get_title(loc="left") == "Scorecard June 2025: 1 of 2 KPIs on target"


def test_scorecard_takes_labels_and_units_from_the_kpi_frame():
    kpis = kpis_frame().assign(label=lambda f: f["kpi"].map({"conv": "Conversie Lead → Offerte",
                                                              "days": "Doorlooptijd"}),
                               unit=lambda f: f["kpi"].map({"conv": "%", "days": "days"}))
    ax = plot_scorecard(scorecard(kpis_frame()), kpis=kpis)
    texts = _texts(ax)
    assert "Conversie Lead → Offerte" in texts and "Doorlooptijd" in texts
    assert "46 days" in texts


# --------------------------------------------------------------------------------------------
# 10-11. KPI tree and mix versus rate
# --------------------------------------------------------------------------------------------

def test_kpi_tree_boxes_values_and_layout():
    ax = plot_kpi_tree(tree_frame())
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    assert len(boxes) == 5
    texts = _texts(ax)
    assert {"€3.1m", "target €3.6m", "2.0%", "target 2.4%", "12,000 records"} <= set(texts)
    # left to right by depth: root at x=0, orders and deal at 1, the phase KPIs at 2
    assert sorted(round(b.get_x()) for b in boxes) == [0, 1, 1, 2, 2]
    # the parent sits midway between its first and last child
    y = {b.get_x(): [] for b in boxes}
    for b in boxes:
        y[b.get_x()].append(b.get_y() + b.get_height() / 2)
    assert y[0][0] == pytest.approx(np.mean([min(y[1]), max(y[1])]))


def test_kpi_tree_status_colours_the_edges():
    frame = tree_frame().assign(status_code=["off_target", "on_target", "on_target",
                                             "off_target_not_significant", "on_target"])
    ax = plot_kpi_tree(frame)
    edges = [_hex(p.get_edgecolor()) for p in ax.patches if isinstance(p, FancyBboxPatch)]
    assert edges[0] == _hex(PALETTE["below"]) and edges[3] == _hex(PALETTE["not_significant"])


@pytest.mark.parametrize("change, message", [
    ({"parent": [None, None, "revenue", "orders", "orders"]}, "exactly one root"),
    ({"parent": [None, "revenue", "revenue", "nowhere", "orders"]}, r"\['nowhere'\]"),
    ({"parent": [None, "volume", "revenue", "orders", "orders"]}, "cycle"),
    ({"node": ["revenue", "orders", "orders", "conv", "volume"]}, "'orders' appears more"),
])
def test_kpi_tree_rejects_broken_trees(change, message):
    with pytest.raises(DataError, match=message):
        plot_kpi_tree(tree_frame().assign(**change))


def test_mix_vs_rate_waterfall():
    ax = plot_mix_vs_rate(mix_frame())
    bars = ax.patches
    assert len(bars) == 7  # 3 rate steps, 3 mix steps, the total
    # each step starts where the previous one ended
    ends = np.cumsum([-0.004, 0.006, 0.009, -0.009, 0.003, 0.010])
    np.testing.assert_allclose([b.get_x() for b in bars[1:6]], ends[:5], atol=1e-12)
    assert bars[-1].get_x() == 0 and bars[-1].get_width() == pytest.approx(0.015)
    texts = _texts(ax)
    assert "-0.4 pp" in texts and "+1.5 pp" in texts
    assert ax.get_title(loc="left") == ("Overall conversion +1.5 pp: +1.1 pp from rates, +0.4 pp "
                                        "from mix")


def test_mix_vs_rate_without_total_row_ends_at_the_sum():
    ax = plot_mix_vs_rate(mix_frame(total=False))
    assert ax.patches[-1].get_width() == pytest.approx(0.015)
    assert [t.get_text() for t in ax.get_yticklabels()][-1] == "total change"


# --------------------------------------------------------------------------------------------
# 12. Cohort heat map
# --------------------------------------------------------------------------------------------

def _cell_texts(ax) -> dict[tuple[int, int], list[str]]:
    """The texts drawn in each cell, keyed by (row, column) of the heat map."""
    cells: dict[tuple[int, int], list[str]] = {}
    for t in ax.texts:
        x, y = t.xy if hasattr(t, "xy") else t.get_position()
        if getattr(t, "xycoords", "data") != "data":
            continue  # the column headers sit above the axes
        cells.setdefault((int(y), int(x)), []).append(t.get_text())
    return cells


def _hatched(ax) -> list[Rectangle]:
    return [p for p in ax.patches if isinstance(p, Rectangle) and p.get_hatch()]


def test_cohort_heatmap_cells_immature_and_phase_order():
    model = PhaseModel(phases=tuple(Phase(**p) for p in PHASES))
    ax = plot_cohort_heatmap(heatmap_frame(), phase_model=model)
    # columns in phase order although the frame lists lead -> proposal first
    headers = [t for t in ax.texts if getattr(t, "xycoords", None) == ("data", "axes fraction")]
    assert [h.get_text() for h in sorted(headers, key=lambda h: h.xy[0])] == [
        "Target (suspects)\n→ Lead", "Lead\n→ Offerte uitgebracht"]
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "Jan 2025", "Feb 2025", "Mar 2025", "Apr 2025", "May 2025", "Jun 2025"]
    cells = _cell_texts(ax)
    assert cells[(0, 0)] == ["35%", "n=200"] and cells[(0, 1)] == ["25%", "n=100"]
    assert cells[(2, 1)] == ["20%", "n=105"]
    # 2025-04: 40/120 and 30/60 of the mature records, part of each cohort still immature
    assert cells[(3, 0)] == ["33%*", "n=120"] and cells[(3, 1)] == ["50%*", "n=60"]
    # 2025-05 and 2025-06: nothing mature in either transition, four hatched grey cells
    hatched = _hatched(ax)
    assert sorted((p.get_x(), p.get_y()) for p in hatched) == [(0, 4), (0, 5), (1, 4), (1, 5)]
    assert all(_hex(p.get_facecolor()) == _hex(PALETTE["immature"]) for p in hatched)
    assert [cells[(r, c)] for r in (4, 5) for c in (0, 1)] == [["immature"]] * 4
    mesh = ax.collections[0].get_array()
    np.testing.assert_allclose(mesh[0], [0.35, 0.25])
    assert mesh.mask[4:].all() and not mesh.mask[:4].any()
    assert ax.get_title(loc="left") == ("Cohort conversion within 90 days per transition, cohorts "
                                        "Jan 2025 to Jun 2025")


def test_cohort_heatmap_colours_follow_the_rate():
    ax = plot_cohort_heatmap(heatmap_frame())
    mesh = ax.collections[0]
    # without a phase model the frame order stands: lead -> proposal is the first column
    np.testing.assert_allclose(mesh.get_array()[0], [0.25, 0.35])
    assert (mesh.norm.vmin, mesh.norm.vmax) == (0.2, 0.5)  # the lowest and highest rate shown
    rgba = mesh.to_rgba(np.array([0.2, 0.5]))
    lightness = rgba[:, :3].sum(axis=1)
    assert lightness[0] > lightness[1] + 1.0  # higher rate, clearly darker cell
    # dark text on the palest cell, white on the darkest
    colors = {t.get_text(): t.get_color() for t in ax.texts}
    assert colors["20%"] == PALETTE["ink"] and colors["50%*"] == "white"
    bar = ax.child_axes[0]
    assert bar.get_ylabel() == "conversion rate"
    assert all(t.get_text().endswith("%") for t in bar.get_yticklabels() if t.get_text())


def test_cohort_heatmap_small_cohorts_do_not_stretch_the_scale():
    frame = heatmap_frame()
    frame.loc[len(frame)] = {"from_phase": "target", "to_phase": "lead", "period": "2024-12",
                             "n": 2, "successes": 2, "rate": 1.0, "ci_low": 0.34,
                             "ci_high": 1.0, "immature_n": 0, "window_days": 90,
                             "method": "cohort"}
    ax = plot_cohort_heatmap(frame)
    mesh = ax.collections[0]
    assert mesh.norm.vmax == 0.5  # the 2-record 100% takes the end colour
    assert ax.child_axes[0].collections  # the colour bar is still drawn
    assert "100%" in _texts(ax)


def test_cohort_heatmap_from_the_real_function(engagement):
    # Hand-worked with a 60-day window: target cohorts Jan 6/8 (r1-r6 of r1-r8 reach lead),
    # Feb 0/2; lead Jan 3/5, Feb 0/1; proposal Jan 1/1, Feb 1/2.
    ax = plot_cohort_heatmap(cohort_conversion(engagement, period="month"),
                             phase_model=engagement.phase_model)
    cells = _cell_texts(ax)
    assert [cells[(0, c)][0] for c in range(3)] == ["75%", "60%", "100%"]
    assert [cells[(1, c)] for c in range(3)] == [["0.0%", "n=2"], ["0.0%", "n=1"], ["50%", "n=2"]]
    assert not _hatched(ax)
    # as of 15 March only records that reached a phase by 14 January are mature: r1 and r2
    # entered Target in time (both reached Lead), every other cohort is immature
    frame = cohort_conversion(engagement, period="month", as_of=pd.Timestamp("2025-03-15"))
    ax = plot_cohort_heatmap(frame, phase_model=engagement.phase_model)
    cells = _cell_texts(ax)
    assert cells[(0, 0)] == ["100%*", "n=2"]
    assert len(_hatched(ax)) == 5 == int(((frame["n"] == 0) & (frame["immature_n"] > 0)).sum())
    assert _texts(ax).count("immature") == 5


def test_cohort_heatmap_asks_for_one_segment(engagement):
    frame = cohort_conversion(engagement, period="month", by="channel")
    with pytest.raises(ToolkitError, match="filter one segment first") as info:
        plot_cohort_heatmap(frame)
    assert "['channel']" in str(info.value) and "plot_cohort_heatmap" in str(info.value)
    one = frame[frame["channel"] == "event"]
    ax = plot_cohort_heatmap(one)
    # event = odd records: r1, r3, r5, r7 in January, of whom r1, r3, r5 reach lead
    assert _cell_texts(ax)[(0, 0)] == ["75%", "n=4"]


def test_cohort_heatmap_marks_a_missing_cell():
    frame = heatmap_frame()
    frame = frame[~((frame["from_phase"] == "lead") & (frame["period"] == "2025-02"))]
    ax = plot_cohort_heatmap(frame)
    assert _cell_texts(ax)[(1, 0)] == ["–"]
    assert ax.collections[0].get_array().mask[1, 0]


def test_cohort_heatmap_demo_fits_its_texts_and_saves(demo, tmp_path):
    frame = cohort_conversion(demo, period="month")
    ax = plot_cohort_heatmap(frame, phase_model=demo.phase_model)
    fig = ax.figure
    periods = frame["period"].nunique()
    assert len(ax.get_yticklabels()) == periods
    assert fig.get_figheight() >= 0.36 * periods  # sized to the rows
    path = save_figure(ax, tmp_path / "heatmap", dpi=50)  # draws: warnings would fail here
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    immature = int(((frame["n"] == 0) & (frame["immature_n"] > 0)).sum())
    assert immature > 0 and len(_hatched(ax)) == immature
    renderer = fig.canvas.get_renderer()
    area = ax.get_window_extent(renderer)
    cell_w, cell_h = area.width / 4, area.height / periods
    headers = [t for t in ax.texts if getattr(t, "xycoords", None) == ("data", "axes fraction")]
    in_cells = [t for t in ax.texts if getattr(t, "xycoords", None) == "data"]
    assert len(headers) == 4 and len(in_cells) > 2 * periods
    for text in headers + in_cells:
        box = text.get_window_extent(renderer)
        assert box.width <= cell_w, text.get_text()  # every text fits its column
    for text in in_cells:
        assert text.get_window_extent(renderer).height <= cell_h / 2, text.get_text()
    title = ax._left_title.get_window_extent(renderer)
    assert title.y0 > max(h.get_window_extent(renderer).y1 for h in headers)


# --------------------------------------------------------------------------------------------
# 13. Engagement timeline
# --------------------------------------------------------------------------------------------

def test_engagement_timeline_bars_run_one_after_another():
    ax = plot_engagement_timeline(duration_frame())
    bars = ax.patches
    assert len(bars) == 7
    np.testing.assert_allclose([b.get_x() for b in bars], [0, 2, 4, 5.5, 8.5, 11, 17.5])
    np.testing.assert_allclose([b.get_width() for b in bars], STEP_WEEKS)
    low = [ln for ln in ax.lines if ln.get_label() == "_low"][0]
    np.testing.assert_allclose(low.get_xdata(), np.array([0, 2, 4, 5.5, 8.5, 11, 17.5])
                               + 0.85 * np.array(STEP_WEEKS))
    # the light extension of step 6 runs from its end (17.5) to start + high (11 + 8.45)
    ends = [(p.get_paths()[0].vertices[:, 0].min(), p.get_paths()[0].vertices[:, 0].max())
            for p in ax.collections]
    assert any(np.allclose(e, (17.5, 19.45)) for e in ends)
    texts = _texts(ax)
    assert "1 Nulmeting en startsituatie / Baseline and starting situation — 2.0 wk" in texts
    assert "7 Sturen en borgen / Steer and embed — 4.5 wk" in texts
    assert "Total, steps in sequence — 22.0 wk (18.7-28.6)" in texts
    assert ax.get_title(loc="left") == "Engagement of about 22 weeks (19-29)"
    assert ax.get_xlabel() == "weeks from the start of the engagement"


def test_engagement_timeline_skips_the_total_row_and_sorts_steps():
    estimate = estimate_duration(DurationFactors(3, 2, 3, 3, 3))
    shuffled = estimate.summary.iloc[[6, 7, 0, 3, 1, 2, 4, 5]]  # total row in the middle
    ax = plot_engagement_timeline(shuffled)
    starts = np.r_[0, np.cumsum(estimate.by_step["weeks"])[:-1]]
    np.testing.assert_allclose([b.get_x() for b in ax.patches], starts)
    assert ax.get_title(loc="left") == (
        f"Engagement of about {estimate.total_weeks:.0f} weeks "
        f"({estimate.total_weeks_low:.0f}-{estimate.total_weeks_high:.0f})")
    # the estimate object itself is accepted too
    again = plot_engagement_timeline(estimate)
    assert [b.get_width() for b in again.patches] == [b.get_width() for b in ax.patches]


def test_engagement_timeline_demo_labels_stay_inside_and_save(tmp_path):
    # the demo's factors as step 1 has them: three measured, two scored in its YAML
    demo = Engagement.from_yaml(DEMO)
    estimate = estimate_duration(factors_for(demo, audit=audit(demo), funnel_frame=funnel(demo)))
    ax = plot_engagement_timeline(estimate.by_step)
    path = save_figure(ax, tmp_path / "timeline", dpi=50)  # draws: warnings would fail here
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    renderer = ax.figure.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    labels = [t for t in ax.texts if " wk" in t.get_text()]
    assert len(labels) == 8  # seven steps and the total
    for text in labels:
        box = text.get_window_extent(renderer)
        assert frame.x0 - 0.5 <= box.x0 and box.x1 <= frame.x1 + 0.5, text.get_text()
    # each label sits above its own bar, clear of it
    for bar, text in zip(ax.patches, labels[:7], strict=True):
        assert text.get_window_extent(renderer).y0 >= bar.get_window_extent(renderer).y1 - 0.5


@pytest.mark.parametrize("change, message", [
    ({"step": [1, 2, 3, 3, 5, 6, 7]}, "its own step number"),
    ({"weeks": [2.0, -1.0, 1.5, 3.0, 2.5, 6.5, 4.5]}, "`weeks` must be a number of weeks"),
])
def test_engagement_timeline_rejects_broken_steps(change, message):
    with pytest.raises(DataError, match=message):
        plot_engagement_timeline(duration_frame().assign(**change))


def test_engagement_timeline_without_steps_is_refused():
    frame = duration_frame().assign(step=pd.NA)
    with pytest.raises(DataError, match="no row with a step number"):
        plot_engagement_timeline(frame)


def test_results_draw_themselves_with_their_plot_function():
    # result.plot(ax=None) is the plot function on the result's own table: the same marks
    km = kaplan_meier(DURATIONS, OBSERVED)
    mine, theirs = km.plot(), plot_time_to_convert(km)
    assert [line.get_xydata().tolist() for line in mine.lines] == \
        [line.get_xydata().tolist() for line in theirs.lines]
    fig, ax = plt.subplots()
    assert km.plot(ax=ax) is ax
    estimate = estimate_duration(DurationFactors(3, 2, 3, 3, 3))
    assert len(estimate.plot().patches) == len(plot_engagement_timeline(estimate.by_step).patches)
    plt.close("all")


# --------------------------------------------------------------------------------------------
# Language of the figures
# --------------------------------------------------------------------------------------------

def test_funnel_in_dutch_words_and_number_format_english_by_default():
    from toolkit.present.plotting import drawing_language
    ax = plot_funnel(funnel_frame(), language="nl")
    texts = _texts(ax)
    # the same numbers as the English test above, worked by hand into Dutch format
    assert "▼ 62% (58–66%) van 1.000" in texts and "1.000" in texts
    right = ax.child_axes[0]
    assert [t.get_text() for t in right.get_yticklabels()] == ["100%", "62%", "16%", "4,0%"]
    assert ax.get_title(loc="left") == "1.000 Target → 40 Order: 4,0% in totaal"
    with drawing_language("nl"):  # the report's way: every figure drawn inside speaks Dutch
        assert plot_funnel(funnel_frame()).get_title(loc="left").endswith("4,0% in totaal")
    assert plot_funnel(funnel_frame()).get_title(loc="left") == \
        "1,000 Target → 40 Order: 4.0% overall"


def test_steering_figures_and_the_cohort_heatmap_speak_dutch():
    from report_text import english_words

    def english(ax) -> list[str]:
        pieces = _texts(ax) + [ax.get_title(loc="left")] + [
            t.get_text() for t in ax.get_yticklabels()]
        return [p for p in pieces if len(set(english_words(p))) >= 2]

    chart = chart_frame()
    ax = plot_control_chart(chart, alerts=run_rules(chart), language="nl")
    assert not english(ax), english(ax)
    # the subtitle names the run rule that fired in words (an annotation, so among the texts)
    assert any("L = buiten de grenzen" in text for text in _texts(ax)), _texts(ax)
    card = scorecard(kpis_frame())
    ax = plot_scorecard(card.assign(unit=["%", "days"]), language="nl")
    texts = _texts(ax)
    assert "doel gehaald" in texts and "mist het doel significant" in texts and "on target" not in texts
    assert ax.get_title(loc="left") == "Scorekaart juni 2025: 1 van 2 KPI's halen hun doel"
    assert not english(ax), english(ax)
    model = PhaseModel(phases=tuple(Phase(**p) for p in PHASES))
    ax = plot_cohort_heatmap(heatmap_frame(), phase_model=model, language="nl")
    assert ax.get_title(loc="left").startswith("Conversie per cohort")
    assert [t.get_text() for t in ax.get_yticklabels()][:2] == ["jan 2025", "feb 2025"]
    assert not english(ax), english(ax)


def test_a_figure_refuses_an_unknown_language():
    with pytest.raises(ToolkitError, match=r"one of \['nl', 'en'\], but 'de' was passed"):
        plot_funnel(funnel_frame(), language="de")


def test_money_in_a_figure_is_in_the_kpis_own_currency():
    """The KPI tree of a USD engagement wrote '110.677 USD' where a EUR one wrote '€117k'."""
    from toolkit.present.plotting import drawing_language
    from toolkit.present.plotting.labels import fmt_value
    with drawing_language("nl"):
        assert fmt_value(110677, "USD") == "US$\xa0110,7K"
        assert fmt_value(2500, "EUR/month") == "€\xa02,5K/maand"
        assert fmt_value(12, "days") == "12 dagen"  # a unit that is no currency stays a unit
    with drawing_language("en"):
        assert fmt_value(3.2e6, "GBP") == "£3.2m"
        assert fmt_value(90, "€") == "€90"
