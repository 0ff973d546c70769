"""Tests for toolkit.analysis.planning: duration factors, the duration model and the readiness scan."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from toolkit.analysis.planning import (
    FACTORS,
    DurationEstimate,
    DurationFactors,
    anchors,
    estimate_duration,
    factors_from_yaml,
    load_duration_model,
    readiness_scan,
    score_number_of_kpis,
    strengths_weaknesses_score,
)
from toolkit.base.exceptions import ConfigError, DataError

AVERAGE = {factor: 3 for factor in FACTORS}


def _factors(**scores):
    return DurationFactors(**{**AVERAGE, **scores})


# --------------------------------------------------------------------------------------------
# DurationFactors and its validation
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [0, 6, -1, 2.5, "3", True])  # None: not scored
def test_score_outside_1_to_5_names_factor_allowed_values_value_and_fix(bad):
    with pytest.raises(ConfigError) as caught:
        _factors(staff_level=bad)
    message = str(caught.value)
    assert "`staff_level`" in message
    assert "must be one of [1, 2, 3, 4, 5]" in message
    assert f"but {bad!r} was passed" in message
    assert "Fix: score `staff_level`" in message and "anchors()" in message


def test_score_error_matches_for_pytest_raises():
    with pytest.raises(ConfigError, match=r"`number_of_kpis` must be one of \[1, 2, 3, 4, 5\], "
                                          r"but 7 was passed"):
        _factors(number_of_kpis=7)


def test_whole_floats_are_accepted_as_scores():
    factors = _factors(staff_level=4.0)
    assert factors.staff_level == 4 and isinstance(factors.staff_level, int)


def test_notes_for_unknown_factors_are_rejected():
    with pytest.raises(ConfigError, match=r"did you mean 'staff_level'"):
        DurationFactors(**AVERAGE, notes={"staff_levl": "typo"})


def test_factors_from_yaml_file_with_scores_and_notes(tmp_path):
    path = tmp_path / "engagement.yaml"
    path.write_text(yaml.safe_dump({"client": "Demo BV", "duration_factors": {
        "starting_situation": {"score": 2, "note": "CRM used by half the team"},
        "staff_level": 3, "number_of_kpis": 4, "organisation_support": 3,
        "strengths_weaknesses": 1}}), encoding="utf-8")
    factors = factors_from_yaml(path)
    assert factors.scores() == {"starting_situation": 2, "staff_level": 3, "number_of_kpis": 4,
                                "organisation_support": 3, "strengths_weaknesses": 1}
    assert factors.notes == {"starting_situation": "CRM used by half the team"}


def test_factors_from_yaml_errors_name_the_file_and_key(tmp_path):
    path = tmp_path / "engagement.yaml"
    path.write_text(yaml.safe_dump({"duration_factors": {**AVERAGE, "staff_level": 9}}),
                    encoding="utf-8")
    with pytest.raises(ConfigError, match=r"engagement\.yaml, key `duration_factors\.staff_level`"
                                          r": The score for `staff_level` must be one of"):
        factors_from_yaml(path)
    # a factor left out is not scored (None), never an assumed average 3
    partial = factors_from_yaml({k: v for k, v in AVERAGE.items() if k != "strengths_weaknesses"})
    assert partial.strengths_weaknesses is None and partial.unscored() == ["strengths_weaknesses"]
    assert partial.basis["strengths_weaknesses"] == "not_scored"
    with pytest.raises(ConfigError, match=r"'staff' is not a duration factor.*did you mean "
                                          r"'staff_level'"):
        factors_from_yaml({**AVERAGE, "staff": 3})
    with pytest.raises(ConfigError, match=r"does not exist"):
        factors_from_yaml(tmp_path / "missing.yaml")


def test_anchors_cover_every_score_of_every_factor_with_dutch_terms():
    table = anchors()
    assert list(table.columns) == ["factor", "score", "description"]
    assert len(table) == 25
    assert table.groupby("factor")["score"].apply(list).to_dict() == {
        factor: [1, 2, 3, 4, 5] for factor in FACTORS}
    assert table["description"].str.contains(r"\(.+\)$").all()  # Dutch term in brackets
    assert table["description"].is_unique


@pytest.mark.parametrize(("count", "score"), [(1, 5), (4, 5), (5, 4), (8, 4), (9, 3), (15, 3),
                                               (16, 2), (25, 2), (26, 1), (60, 1)])
def test_score_number_of_kpis_bands(count, score):
    assert score_number_of_kpis(count) == score


# --------------------------------------------------------------------------------------------
# The duration model
# --------------------------------------------------------------------------------------------

def test_average_client_takes_the_base_weeks():
    estimate = estimate_duration(_factors())
    assert isinstance(estimate, DurationEstimate)
    # base weeks in duration_model.yaml: 2 + 2 + 1.5 + 3 + 2 + 6 + 4 = 20.5; every multiplier 1.0
    assert estimate.by_step["weeks"].tolist() == [2.0, 2.0, 1.5, 3.0, 2.0, 6.0, 4.0]
    assert estimate.total_weeks == pytest.approx(20.5)
    # range 0.85 and 1.35: 17.425 and 27.675
    assert estimate.total_weeks_low == pytest.approx(17.425)
    assert estimate.total_weeks_high == pytest.approx(27.675)
    assert (estimate.by_step["drivers"] == "").all()
    assert list(estimate.by_step.columns) == ["step", "step_name_nl", "step_name_en",
                                              "base_weeks", "weeks", "weeks_low", "weeks_high",
                                              "drivers"]
    assert estimate.by_step["step_name_nl"].iloc[0] == "Nulmeting en startsituatie"


def test_poor_starting_situation_by_hand():
    estimate = estimate_duration(_factors(starting_situation=1))
    # starting_situation at score 1: step 1 strong 1.60, step 2 weak 1.15, step 4 strong 1.60,
    # step 7 moderate 1.30:
    # 2*1.60 = 3.2, 2*1.15 = 2.3, 1.5, 3*1.60 = 4.8, 2, 6, 4*1.30 = 5.2 -> total 25.0
    assert estimate.by_step["weeks"].tolist() == pytest.approx([3.2, 2.3, 1.5, 4.8, 2.0, 6.0, 5.2])
    assert estimate.total_weeks == pytest.approx(25.0)
    assert estimate.total_weeks_high == pytest.approx(25.0 * 1.35)
    assert estimate.by_step["drivers"].iloc[0] == "starting_situation ×1.60 (score 1)"


def test_mixed_scores_by_hand():
    estimate = estimate_duration(DurationFactors(
        starting_situation=1, staff_level=2, number_of_kpis=4, organisation_support=5,
        strengths_weaknesses=3))
    # multipliers from duration_model.yaml (scores 1, 2, 4, 5, 3):
    # step 1: 2.0 * 1.60 (start, strong) * 0.85 (support 5, moderate)              = 2.72
    # step 2: 2.0 * 1.15 (start, weak) * 1.06 (staff 2, weak) * 0.85 (support)      = 2.0723
    # step 3: 1.5 * 0.92 (kpis 4, moderate) * 0.85 (support)                        = 1.173
    # step 4: 3.0 * 1.60 (start) * 0.85 (kpis 4, strong) * 0.85 (support)           = 3.468
    # step 5: 2.0 * 0.85 (support)                                                  = 1.70
    # step 6: 6.0 * 1.25 (staff 2, strong) * 0.85 (support)                         = 6.375
    # step 7: 4.0 * 1.30 (start, moderate) * 1.25 (staff 2, strong) * 0.92 (kpis 4,
    #         moderate) * 0.85 (support)                                             = 5.083
    expected = [2.72, 2.0723, 1.173, 3.468, 1.70, 6.375, 5.083]
    assert estimate.by_step["weeks"].tolist() == pytest.approx(expected, abs=1e-4)
    assert estimate.total_weeks == pytest.approx(22.5913, abs=1e-4)
    # the strongest driver first
    assert estimate.by_step["drivers"].iloc[6].startswith("starting_situation ×1.30 (score 1); "
                                                          "staff_level ×1.25 (score 2)")


def test_summary_and_html_show_the_total():
    estimate = estimate_duration(_factors(staff_level=1))
    summary = estimate.summary
    assert len(summary) == 8
    assert summary["step"].isna().iloc[-1]
    assert summary["weeks"].iloc[-1] == pytest.approx(estimate.total_weeks)
    assert "steps in sequence" in summary["step_name_en"].iloc[-1]
    assert "Estimated duration" in estimate._repr_html_()


def test_calibrated_model_from_a_mapping_and_a_file(tmp_path):
    content = yaml.safe_load(_default_model_path().read_text(encoding="utf-8"))
    content["steps"][5]["base_weeks"] = 8.0  # step 6 takes two weeks longer at this firm
    content["range"] = {"low": 1.0, "high": 1.0}
    estimate = estimate_duration(_factors(), model=content)
    assert estimate.total_weeks == pytest.approx(22.5)
    assert estimate.total_weeks_low == estimate.total_weeks_high == pytest.approx(22.5)
    path = tmp_path / "calibrated.yaml"
    path.write_text(yaml.safe_dump(content), encoding="utf-8")
    assert estimate_duration(_factors(), model=path).total_weeks == pytest.approx(22.5)


def _default_model_path():
    from importlib import resources
    return resources.files("toolkit").joinpath("data", "duration_model.yaml")


@pytest.mark.parametrize(("change", "match"), [
    (lambda m: m["factors"]["staff_level"].__setitem__(6, [1.6, 1.2, 1.0]),
     r"key `factors\.staff_level\.6`: give five positive multipliers"),
    (lambda m: m["steps"].pop(), r"`steps` must hold the steps 1 to 7"),
    (lambda m: m["factors"].__setitem__("budget", {1: [1, 1, 1, 1, 1]}),
     r"'budget' is not a duration factor"),
    (lambda m: m["range"].__setitem__("low", 1.2), r"`range\.low` must be a number in \(0, 1\]"),
    (lambda m: m["steps"][0].__setitem__("base_weeks", 0), r"`base_weeks` must be a positive"),
])
def test_model_validation_names_the_key(change, match):
    content = yaml.safe_load(_default_model_path().read_text(encoding="utf-8"))
    change(content)
    with pytest.raises(ConfigError, match=match):
        load_duration_model(content)


def test_every_score_3_multiplier_in_the_packaged_model_is_one():
    model = load_duration_model()
    for factor in FACTORS:
        for values in model.multipliers[factor].values():
            assert values[2] == 1.0
            assert list(values) == sorted(values, reverse=True)  # better score, fewer weeks


# --------------------------------------------------------------------------------------------
# Readiness scan
# --------------------------------------------------------------------------------------------

def test_readiness_scan_effects_by_hand():
    scan = readiness_scan(_factors(starting_situation=1, strengths_weaknesses=5))
    assert list(scan.columns) == ["factor", "label", "score", "basis", "anchor", "effect_weeks",
                                  "effect_on_duration", "advice", "advice_code", "note"]
    row = scan.set_index("factor")
    # starting situation 1 vs 3, with strengths_weaknesses at 5 (step 5 x0.85, step 6 x0.70):
    # steps 1, 2, 4, 7 change: (3.2-2) + (2.3-2) + (4.8-3) + (5.2-4) = 4.5 weeks
    assert row.loc["starting_situation", "effect_weeks"] == pytest.approx(4.5)
    assert row.loc["starting_situation", "effect_on_duration"] == "+4.5 weeks (steps 1, 2, 4, 7)"
    # strengths_weaknesses 5 vs 3: step 5 2*0.85 - 2 = -0.3, step 6 6*0.70 - 6 = -1.8 -> -2.1
    assert row.loc["strengths_weaknesses", "effect_weeks"] == pytest.approx(-2.1)
    assert row.loc["staff_level", "effect_on_duration"] == "neutral (average)"
    assert row.loc["starting_situation", "anchor"].startswith("No CRM")
    assert "data inventory" in row.loc["starting_situation", "advice"]


# --------------------------------------------------------------------------------------------
# Factor 5 from the diagnosis
# --------------------------------------------------------------------------------------------

def _conversions(rates):
    phases = ["suspect", "lead", "qualified", "proposal", "order", "repeat"]
    return pd.DataFrame({"from_phase": phases[:len(rates)], "to_phase": phases[1:len(rates) + 1],
                         "rate": rates})


@pytest.mark.parametrize(("lows", "score"), [
    ([0.1, 0.2, 0.3, 0.2], 5),  # none weak
    ([0.5, 0.2, 0.3, 0.2], 4),  # 1 of 4 weak: 1/4
    ([0.5, 0.5, 0.3, 0.2], 3),  # 2 of 4: 1/2
    ([0.5, 0.5, 0.5, 0.2], 2),  # 3 of 4: 3/4
    ([0.5, 0.5, 0.5, 0.5], 1),  # 4 of 4
])
def test_strengths_weaknesses_score_against_benchmarks(lows, score):
    data = _conversions([0.4, 0.3, 0.4, 0.25]).assign(benchmark_low=lows)
    result = strengths_weaknesses_score(data)
    assert result.score == score and int(result) == score


def test_strengths_weaknesses_marks_strong_and_uses_a_separate_benchmark_frame():
    data = _conversions([0.4, 0.3, 0.7])
    benchmarks = pd.DataFrame({"from_phase": ["suspect", "lead"], "to_phase": ["lead", "qualified"],
                               "benchmark_low": [0.45, 0.2], "benchmark_high": [0.6, 0.25]})
    result = strengths_weaknesses_score(data, benchmarks)
    # suspect->lead below 0.45: weak; lead->qualified above 0.25: strong; qualified->proposal
    # has no benchmark: 0.7 is the best rate, not below half of it: ok. 1 of 3 weak -> score 3
    assert result.transitions["assessment"].tolist() == ["weak", "strong", "ok"]
    assert result.transitions["basis"].tolist() == ["benchmark", "benchmark",
                                                    "relative to best transition"]
    assert result.weak_share == pytest.approx(1 / 3)
    assert result.score == 3
    assert list(data.columns) == ["from_phase", "to_phase", "rate"]  # not mutated


def test_strengths_weaknesses_without_benchmarks_uses_half_the_best():
    # best 0.6 -> weak below 0.3: only 0.2 -> 1 of 5 weak = 0.2 -> score 4
    assert strengths_weaknesses_score(_conversions([0.6, 0.2, 0.5, 0.35, 0.3])).score == 4
    assert strengths_weaknesses_score(_conversions([0.6, 0.2, 0.5, 0.35, 0.3]),
                                      far_below=0.7).score == 2  # below 0.42: 0.2, 0.35, 0.3


def test_strengths_weaknesses_rejects_bad_rates():
    with pytest.raises(DataError, match=r"row 2, column 'rate'.*proportion between 0 and 1"):
        strengths_weaknesses_score(_conversions([0.4, 35.0]))
    with pytest.raises(DataError, match=r"lacks the column\(s\) \['rate'\]"):
        strengths_weaknesses_score(pd.DataFrame({"from_phase": ["a"], "to_phase": ["b"]}))


# --------------------------------------------------------------------------------------------
# Measured, scored, not scored (issue 24)
# --------------------------------------------------------------------------------------------

def test_a_factor_not_scored_gives_no_duration_and_says_how_many():
    from toolkit.analysis.planning import FactorsNotScored
    from toolkit.base.vocabulary import reason_of
    factors = DurationFactors(**{**AVERAGE, "staff_level": None, "organisation_support": None})
    assert factors.unscored() == ["staff_level", "organisation_support"]
    with pytest.raises(FactorsNotScored) as caught:
        estimate_duration(factors)
    reason = reason_of(caught.value)
    assert reason.code == "factors_not_scored" and reason.values == {"count": 2}
    scan = readiness_scan(factors)
    assert scan.set_index("factor")["basis"].to_dict() == {
        "starting_situation": "scored", "staff_level": "not_scored", "number_of_kpis": "scored",
        "organisation_support": "not_scored", "strengths_weaknesses": "scored"}
    # no estimate, so no effect: never a number computed from an assumed score
    assert scan["effect_weeks"].isna().all() and scan["score"].isna().sum() == 2
    assert set(scan.loc[scan["basis"] == "not_scored", "advice_code"]) == {
        "staff_level/not_scored", "organisation_support/not_scored"}


class _Audit:
    def __init__(self, shares):
        self.findings = pd.DataFrame({"check": [f"c{i}" for i in range(len(shares))],
                                      "share": shares})


@pytest.mark.parametrize(("shares", "dated", "history", "score"), [
    ([0.0, 0.02, 0.10], True, True, 4),     # worst check touches 10%: a few gaps
    ([0.0, 0.11], True, True, 3),           # worst check 11%: the history is incomplete
    ([float("nan")], True, True, 4),        # nothing to count: no gap seen
    ([0.0], True, False, 2),                # a snapshot: no stage history at all
    ([0.0], False, False, 1),               # a lead list without dates
])
def test_the_starting_situation_is_read_from_the_audit(shares, dated, history, score):
    from toolkit.analysis.planning import score_starting_situation
    assert score_starting_situation(_Audit(shares), dated=dated, history=history) == score


@pytest.fixture(scope="module")
def demo_without_scores(tmp_path_factory):
    """The demo with no `duration_factors` at all, and the demo as it is (two factors scored)."""
    import warnings

    from conftest import DEMO

    from toolkit import Engagement
    folder = tmp_path_factory.mktemp("unscored")
    doc = yaml.safe_load((DEMO / "engagement.yaml").read_text(encoding="utf-8"))
    for source in doc["sources"]:
        source["path"] = str(DEMO / source["path"])
    doc.pop("duration_factors")
    (folder / "engagement.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True),
                                            encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return (Engagement.from_yaml(folder / "engagement.yaml"),
                Engagement.from_yaml(DEMO / "engagement.yaml"))


def test_step_1_measures_three_factors_and_gives_no_duration_without_the_other_two(
        demo_without_scores):
    from toolkit.steps import baseline
    unscored, demo = demo_without_scores
    result = baseline(unscored)
    scan = result.tables["readiness scan"].set_index("factor")
    # the demo's KPI set has 18 KPIs: 16-25 is score 2 (the anchors), measured, not typed
    assert scan.loc["number_of_kpis", ["score", "basis"]].tolist() == [2, "measured_kpi_set"]
    # the audit's worst check is 2.3% of the records (created in a later phase): score 4
    assert scan.loc["starting_situation", ["score", "basis"]].tolist() == [4, "measured_audit"]
    # the raw funnel against the benchmark's low end: 1 of 4 steps weak -> score 4
    assert scan.loc["strengths_weaknesses", ["score", "basis"]].tolist() == [4, "measured_funnel"]
    assert scan.loc[["staff_level", "organisation_support"], "basis"].eq("not_scored").all()
    # no duration, no estimate row in the summary, and the reason in both languages
    assert "duration" not in result.tables and result.results["estimate"] is None
    assert result.problems["duration"].code == "factors_not_scored"
    assert not any("duration" in m for m in result.summary["measure"])
    assert ("2 duration factor(s) not scored (staff level, organisation support), so no "
            "duration is estimated" in " ".join(result.conclusions("en")))
    assert ("2 factoren voor de duur zijn niet gescoord, dus er is geen duur geschat"
            in " ".join(result.conclusions("nl")))
    # the demo scores the two factors only the client can tell: then there is a duration
    scored = baseline(demo)
    assert scored.results["estimate"] is not None
    assert scored.tables["readiness scan"]["basis"].tolist() == [
        "measured_audit", "scored", "measured_kpi_set", "scored", "measured_funnel"]


def test_a_typed_score_for_a_measured_factor_is_not_used(demo_without_scores):
    from toolkit.analysis.planning import factors_for
    unscored, _ = demo_without_scores
    unscored.config.duration_factors = {"number_of_kpis": 5}
    try:
        factors = factors_for(unscored)
    finally:
        unscored.config.duration_factors = None
    assert factors.number_of_kpis == 2 and factors.basis["number_of_kpis"] == "measured_kpi_set"
    assert factors.notes["number_of_kpis"] == "measured 2; the YAML's 5 is not used"


# --------------------------------------------------------------------------------------------
# Calibration on a firm's finished engagements
# --------------------------------------------------------------------------------------------

def _finished(noise=None):
    """Twelve engagements whose weeks follow 20 x 0.9^(starting_situation-3) x
    0.8^(staff_level-3) exactly (the other factors have no effect), times `noise`."""
    rng = np.random.default_rng(7)
    rows = []
    for i in range(12):
        scores = {f: int(rng.integers(1, 6)) for f in FACTORS}
        weeks = 20 * 0.9 ** (scores["starting_situation"] - 3) * 0.8 ** (scores["staff_level"] - 3)
        rows.append({**scores, "actual_weeks": weeks * (noise[i] if noise is not None else 1)})
    return pd.DataFrame(rows)


def test_calibration_recovers_known_coefficients_with_an_interval(tmp_path):
    from toolkit.analysis.planning import calibrate_duration_model
    path = tmp_path / "finished.csv"
    _finished().to_csv(path, index=False)
    fit = calibrate_duration_model(path).set_index("term")
    assert list(fit.index) == ["average_client_weeks", *FACTORS]
    assert fit.loc["average_client_weeks", "multiplier"] == pytest.approx(20)
    assert fit.loc["starting_situation", "multiplier"] == pytest.approx(0.9)
    assert fit.loc["staff_level", "multiplier"] == pytest.approx(0.8)
    assert fit.loc["number_of_kpis", "multiplier"] == pytest.approx(1.0)
    assert (fit["n"] == 12).all()
    # with noise the interval is real and holds the truth; it is the OLS t-interval, exponentiated
    noisy = _finished(noise=np.exp(np.random.default_rng(3).normal(0, 0.05, 12)))
    fit = calibrate_duration_model(noisy).set_index("term")
    assert (fit["ci_low"] < fit["multiplier"]).all() and (fit["multiplier"] < fit["ci_high"]).all()
    assert fit.loc["staff_level", "ci_low"] < 0.8 < fit.loc["staff_level", "ci_high"]
    import statsmodels.api as sm
    design = sm.add_constant(noisy[list(FACTORS)].to_numpy(float) - 3)
    ols = sm.OLS(np.log(noisy["actual_weeks"].to_numpy()), design).fit()
    assert fit["ci_low"].to_numpy() == pytest.approx(np.exp(ols.conf_int()[:, 0]))


def test_calibration_names_the_file_row_column_value_and_fix(tmp_path):
    from toolkit.analysis.planning import calibrate_duration_model
    frame = _finished()
    frame.loc[4, "staff_level"] = 7
    path = tmp_path / "finished.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"finished\.csv, row 6, column 'staff_level': a factor score must be "
                                         r"a whole number from 1 to 5 \(value 7\)"):
        calibrate_duration_model(path)
    with pytest.raises(DataError, match=r"lack the column\(s\) \['actual_weeks'\]"):
        calibrate_duration_model(_finished().drop(columns="actual_weeks"))
    with pytest.raises(DataError, match=r"6 finished engagement\(s\) cannot fit six"):
        calibrate_duration_model(_finished().head(6))


@pytest.mark.parametrize(("language", "advice", "assumption"), [
    ("en", "Budget training and coaching in steps 6 and 7", "A planning assumption, not a quote"),
    ("nl", "Trek tijd uit voor training en coaching in stap 6 en 7",
     "Een planningsaanname, geen offerte"),
])
def test_the_step_1_page_gives_the_advice_per_factor_and_calls_the_estimate_an_assumption(
        demo_without_scores, tmp_path, language, advice, assumption):
    import warnings

    from report_text import read_page

    from toolkit.report.render import render_report
    from toolkit.steps import baseline
    _, demo = demo_without_scores
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        render_report(demo, {1: baseline(demo)}, out_dir=tmp_path, language=language,
                      edition="client", pages=[1], date=pd.Timestamp("2026-11-30").date())
    page = read_page((tmp_path / "01_baseline.html").read_text(encoding="utf-8"))
    assert any(piece.startswith(assumption) for piece in page.pieces)
    # one advice per factor: staff level is scored 2 (weak) in the demo
    table = next(rows for rows, head in zip(page.tables, page.headers, strict=True)
                 if len(head) == 5 and head[0] == "Factor")
    assert len(table) == 5 and table[1][4][1].startswith(advice)
